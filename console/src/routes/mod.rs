//! The console's routes: HTML pages and the REST API.

pub mod account;
pub mod api;
pub mod charts;
pub mod comments;
pub mod compliance;
pub mod entrypoints;
pub mod overview;
pub mod pages;
pub mod privacy;
pub mod ratings;
pub mod services;
pub mod session;
pub mod team;
pub mod tenants;
