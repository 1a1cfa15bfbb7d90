//! Public HTTP intake of Satisfy: widget assets and configuration, `POST /v1/ratings`,
//! `POST /v1/events` (platform events), health and metrics.
//!
//! Ratings pass validation, the entrypoint's origin rules and a per-client rate limit, and
//! are answered `202` only once a [`sinks::Sink`] reports them durable.

pub mod client_ip;
pub mod config;
pub mod directory;
pub mod error;
pub mod event_tokens;
pub mod metrics;
pub mod routes;
pub mod sinks;

use axum::{Extension, Router};
use std::sync::Arc;

pub use config::IngestConfig;
pub use directory::{EntrypointDirectory, EntrypointSnapshot};
pub use error::ApiError;
pub use metrics::Metrics;

/// Everything the ingest routes share.
#[derive(Clone)]
pub struct IngestState {
    /// Where entrypoints are looked up, without a database round-trip.
    pub directory: Arc<dyn EntrypointDirectory>,
    /// Where accepted ratings and events go.
    pub sink: Arc<dyn sinks::Sink>,
    /// Which tenant an API token posts platform events for.
    pub event_tokens: Arc<dyn event_tokens::EventTokens>,
    /// Counters exported at `/metrics`.
    pub metrics: Arc<Metrics>,
    /// Settings.
    pub config: IngestConfig,
}

/// The public routes: `/v1/…`, `/widget/v1/…`, `/healthz`, `/readyz`, `/metrics`.
///
/// Serve it with `into_make_service_with_connect_info::<SocketAddr>()` so the rate limiter
/// can tell clients apart.
pub fn router(state: IngestState) -> Router {
    // Only the two routes that serve widget bodies carry the cache: a layer on the whole
    // router would wrap every route, ratings included, in one more boxed service.
    let bodies = Extension(Arc::new(routes::widget::CompressedBodies::default()));
    Router::new()
        .merge(routes::ratings::router(&state, bodies.clone()))
        .merge(routes::widget::router(bodies))
        .merge(routes::health::router())
        .with_state(state)
}
