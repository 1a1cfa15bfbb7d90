//! Liveness, readiness and metrics.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::IngestState;
use crate::error::ApiError;

/// `/healthz`, `/readyz`, `/metrics`.
pub fn router() -> Router<IngestState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

async fn readyz(State(state): State<IngestState>) -> Response {
    if state.sink.is_ready() && state.directory.is_loaded() {
        (StatusCode::OK, Json(json!({ "status": "ready" }))).into_response()
    } else {
        ApiError::Unavailable(5).into_response()
    }
}

async fn metrics(State(state): State<IngestState>) -> Response {
    (
        [(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
        state.metrics.render(),
    )
        .into_response()
}
