//! satisfy-console
