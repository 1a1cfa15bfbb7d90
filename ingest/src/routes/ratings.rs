//! `POST /v1/ratings`: a rating or its update, answered 202 once durable.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use satisfy_core::StoredRating;
use satisfy_core::log_throttle::{LogThrottle, WARN_EVERY};
use satisfy_core::{Comment, Origin, RatingSubmission, WireRating};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tower::ServiceBuilder;
use tower_governor::GovernorLayer;
use tower_governor::governor::GovernorConfigBuilder;

use super::widget::CompressedBodies;
use crate::IngestState;
use crate::client_ip::ClientIp;
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::sinks::{Delivery, SinkError};

/// Largest accepted body.
pub const MAX_BODY_BYTES: usize = 4096;

/// Seconds a client is told to wait when storage is saturated or down.
pub(crate) const RETRY_AFTER_UNAVAILABLE: u64 = 2;

/// Ratings the sink could not take: every request fails alike while it lasts (each is
/// counted in the metrics).
static NOT_STORED: LogThrottle = LogThrottle::new(
    WARN_EVERY,
    |error, occurrences| tracing::warn!(error = %error, occurrences, "rating not stored, asking the client to retry"),
);

/// How often the rate limiter forgets clients it would treat as new anyway.
const LIMITER_CLEANUP_EVERY: Duration = Duration::from_secs(10);

/// The intake routes, ratings and platform events, with their rate limit and body
/// limits; `bodies` serves the widget configurations.
pub fn router(
    state: &IngestState,
    bodies: Extension<Arc<CompressedBodies>>,
) -> Router<IngestState> {
    let limits = GovernorConfigBuilder::default()
        .key_extractor(ClientIp {
            trust_forwarded_for: state.config.trust_forwarded_for,
        })
        // A zero period or burst would make the builder refuse: both are at least 1.
        .period(state.config.rate_limit_period.max(Duration::from_nanos(1)))
        .burst_size(state.config.rate_limit_burst.max(1))
        .finish()
        .unwrap_or_else(|| unreachable!("period and burst are at least 1"));
    spawn_limiter_cleanup(&limits, Arc::clone(&state.metrics));
    let metrics = Arc::clone(&state.metrics);
    let governor = GovernorLayer::new(limits).error_handler(move |error| {
        let wait = match error {
            tower_governor::GovernorError::TooManyRequests { wait_time, .. } => wait_time,
            _ => 1,
        };
        metrics.rejected("rate_limited");
        // The limiter answers before the route sees the request's origin. Any page may
        // read this answer: it says only when to retry, and the widget sends no
        // credentials. Without it the browser hides the 429 and its Retry-After, and
        // the widget retries blindly.
        let mut response = ApiError::RateLimited(wait.max(1)).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("Retry-After"),
        );
        response
    });
    // Platform events and widget configurations share the per-client rate limit; event
    // bodies may be larger.
    Router::new()
        .route("/v1/ratings", post(accept).options(preflight))
        .route(
            "/v1/events",
            post(super::events::accept).layer(DefaultBodyLimit::max(super::events::MAX_BODY_BYTES)),
        )
        .route(
            "/v1/entrypoints/{id}/widget-config",
            get(super::widget::widget_config).layer(bodies),
        )
        // One layer of both: each `Router::layer` boxes every route once more, and axum
        // clones a route's boxes for every request.
        .layer(
            ServiceBuilder::new()
                .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
                .layer(governor),
        )
}

/// Forgets idle clients and gives their memory back, so that the limiter holds at most
/// the clients of the last [`LIMITER_CLEANUP_EVERY`] (a flood of new addresses included).
/// The task holds the limiter weakly, as the routes' services do strongly: the layer and
/// its configuration are dropped once the routes are built, the limiter lives on with them.
fn spawn_limiter_cleanup<K, M>(
    config: &tower_governor::governor::GovernorConfig<K, M>,
    metrics: Arc<Metrics>,
) where
    K: tower_governor::key_extractor::KeyExtractor + Send + Sync + 'static,
    K::Key: Send + Sync,
    M: governor::middleware::RateLimitingMiddleware<governor::clock::QuantaInstant>
        + Send
        + Sync
        + 'static,
{
    let limiter = Arc::downgrade(config.limiter());
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(LIMITER_CLEANUP_EVERY);
        loop {
            tick.tick().await;
            let Some(limiter) = limiter.upgrade() else {
                break;
            };
            limiter.retain_recent();
            limiter.shrink_to_fit();
            metrics.limited_clients(limiter.len());
        }
    });
}

fn request_origin(headers: &HeaderMap) -> Option<Result<Origin, ()>> {
    let raw = headers.get(header::ORIGIN)?;
    Some(raw.to_str().ok().and_then(Origin::parse).ok_or(()))
}

/// Adds the CORS headers for a browser origin that some entrypoint accepts: `origin` is
/// the request's own `Origin` header, which a browser compares byte for byte.
fn with_cors(mut response: Response, origin: Option<HeaderValue>) -> Response {
    if let Some(origin) = origin {
        let headers = response.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        // So that the widget can wait as long as a 503 asks.
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("Retry-After"),
        );
        headers.insert(header::VARY, HeaderValue::from_static("Origin"));
    }
    response
}

/// The request's `Origin` header, to be echoed, when some entrypoint accepts `origin`.
fn cors_origin(state: &IngestState, headers: &HeaderMap, origin: &Origin) -> Option<HeaderValue> {
    headers
        .get(header::ORIGIN)
        .filter(|_| state.directory.knows_origin(origin))
        .cloned()
}

/// Answers CORS preflights for `application/json` posts (the widget itself posts
/// `text/plain`, which needs none).
async fn preflight(State(state): State<IngestState>, headers: HeaderMap) -> Response {
    match request_origin(&headers) {
        Some(Ok(origin)) if state.directory.knows_origin(&origin) => {
            let mut response = StatusCode::NO_CONTENT.into_response();
            let h = response.headers_mut();
            h.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("POST"),
            );
            h.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static("content-type"),
            );
            h.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static("86400"),
            );
            with_cors(response, headers.get(header::ORIGIN).cloned())
        }
        _ => ApiError::OriginNotAllowed.into_response(),
    }
}

fn is_accepted_content_type(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim();
    // text/plain is what navigator.sendBeacon and CORS "simple" requests send.
    essence.eq_ignore_ascii_case("application/json") || essence.eq_ignore_ascii_case("text/plain")
}

/// The answer to an accepted rating.
#[derive(serde::Serialize)]
struct Accepted {
    id: uuid::Uuid,
    status: &'static str,
}

#[tracing::instrument(name = "post_rating", skip_all, fields(entrypoint, code))]
async fn accept(State(state): State<IngestState>, mut request: Request) -> Response {
    let started = Instant::now();
    // Moved out, where the `HeaderMap` extractor would copy them; the body still finds
    // its size limit in the request's extensions.
    let headers = std::mem::take(request.headers_mut());
    let origin = match request_origin(&headers) {
        Some(Ok(origin)) => origin,
        refused => {
            let error = match refused {
                None => ApiError::OriginRequired,
                Some(_) => ApiError::OriginNotAllowed,
            };
            state.metrics.rejected(error.code());
            return error.into_response();
        }
    };
    let echoed_origin = cors_origin(&state, &headers, &origin);
    let body = Bytes::from_request(request, &state).await;
    let response = match store_rating(&state, &origin, &headers, body).await {
        Ok((id, delivery)) => {
            state.metrics.accepted(delivery, started.elapsed());
            (
                StatusCode::ACCEPTED,
                Json(Accepted {
                    id,
                    status: "accepted",
                }),
            )
                .into_response()
        }
        Err(error) => {
            tracing::Span::current().record("code", error.code());
            state.metrics.rejected(error.code());
            error.into_response()
        }
    };
    with_cors(response, echoed_origin)
}

async fn store_rating(
    state: &IngestState,
    origin: &Origin,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(uuid::Uuid, Delivery), ApiError> {
    if !is_accepted_content_type(headers) {
        return Err(ApiError::UnsupportedMediaType);
    }
    let body = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge(MAX_BODY_BYTES),
        _ => ApiError::MalformedJson,
    })?;
    let wire = WireRating::from_slice(&body).map_err(|_| ApiError::MalformedJson)?;
    let mut submission = RatingSubmission::parse(&wire).map_err(ApiError::InvalidRating)?;
    // Before anything leaves this handler, for every sink: personal data never rests.
    submission.comment = submission.comment.map(Comment::redacted);
    tracing::Span::current().record("entrypoint", submission.entrypoint.as_str());

    let entrypoint = state
        .directory
        .get(&submission.entrypoint)
        .filter(|e| e.is_active())
        .ok_or(ApiError::UnknownEntrypoint)?;
    if !entrypoint.allows_origin(origin) {
        return Err(ApiError::OriginNotAllowed);
    }
    if !entrypoint.allows_page(&submission.page) {
        return Err(ApiError::PageNotAllowed);
    }
    let rating = submission
        .into_rating_for(&entrypoint)
        .map_err(ApiError::InvalidRating)?;
    let id = rating.id;
    let stored = StoredRating {
        rating,
        tenant: entrypoint.tenant.clone(),
        received_at_ms: chrono::Utc::now().timestamp_millis(),
    };
    match state.sink.send(stored).await {
        Ok(Delivery::Conflict) => Err(ApiError::IdConflict),
        Ok(delivery) => Ok((id, delivery)),
        Err(error @ (SinkError::Overloaded | SinkError::Unavailable)) => {
            NOT_STORED.warn_kind(error.as_str());
            Err(ApiError::Unavailable(RETRY_AFTER_UNAVAILABLE))
        }
    }
}
