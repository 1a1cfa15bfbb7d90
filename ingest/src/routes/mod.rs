//! One module per group of routes.

pub mod events;
pub mod health;
pub mod ratings;
pub mod widget;
