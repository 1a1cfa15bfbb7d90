//! satisfy-widget
