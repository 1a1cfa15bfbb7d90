//! The `satisfy` binary's library: typed settings and the wiring of ingest, aggregator and
//! console into one application.

pub mod admin;
pub mod compliance;
pub mod configuration;
pub mod demo;
pub mod demo_data;
pub mod demo_ratings;
pub mod http_server;
pub mod roles;
pub mod settings_file;
pub mod startup;
pub mod store_sink;
