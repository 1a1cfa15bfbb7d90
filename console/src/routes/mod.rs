//! The console's routes: HTML pages and the REST API.

pub mod api;
pub mod pages;
pub mod team;
pub mod tenants;
