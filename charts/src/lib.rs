//! satisfy-charts
