//! `POST /v1/events`: platform events as CloudEvents 1.0 in structured mode, one
//! (`application/cloudevents+json`) or a batch (`application/cloudevents-batch+json`, up to
//! 1,000 events or 1 MiB), from a tenant's API token with the scope `events:write`.
//! Answered 202 once the valid events are durable; a batch's invalid events are listed
//! with their index, code and field, and the valid ones are stored.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use satisfy_core::event::{ServiceEvent, StoredEvent};
use satisfy_core::log_throttle::{LogThrottle, WARN_EVERY};
use serde_json::{Value, json};

use super::ratings::RETRY_AFTER_UNAVAILABLE;
use crate::IngestState;
use crate::error::{ApiError, RejectedEvent};
use crate::event_tokens::TokenRefusal;
use crate::sinks::SinkError;

/// Largest body: one MiB.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// Batches the sink could not take: every request fails alike while it lasts.
static NOT_STORED: LogThrottle = LogThrottle::new(
    WARN_EVERY,
    |error, occurrences| tracing::warn!(error = %error, occurrences, "events not stored, asking the platform to retry"),
);

/// Most events in one batch.
pub const MAX_BATCH_EVENTS: usize = 1000;

/// What the body holds, by its content type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Single,
    Batch,
}

fn mode(headers: &HeaderMap) -> Option<Mode> {
    let essence = headers
        .get(header::CONTENT_TYPE)?
        .to_str()
        .ok()?
        .split(';')
        .next()?
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "application/cloudevents+json" => Some(Mode::Single),
        "application/cloudevents-batch+json" => Some(Mode::Batch),
        _ => None,
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
        .filter(|secret| !secret.is_empty())
}

/// The handler.
#[tracing::instrument(
    name = "post_events",
    skip_all,
    fields(tenant, accepted, rejected, code)
)]
pub async fn accept(
    State(state): State<IngestState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match store_events(&state, &headers, body).await {
        Ok((accepted, rejected)) => {
            let span = tracing::Span::current();
            span.record("accepted", accepted);
            span.record("rejected", rejected.len());
            state.metrics.events_accepted(accepted);
            (
                StatusCode::ACCEPTED,
                Json(json!({ "accepted": accepted, "rejected": rejected })),
            )
                .into_response()
        }
        Err(error) => {
            tracing::Span::current().record("code", error.code());
            state.metrics.rejected(error.code());
            error.into_response()
        }
    }
}

/// Stores the valid events; returns how many, and the rejected ones.
async fn store_events(
    state: &IngestState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(usize, Vec<RejectedEvent>), ApiError> {
    let secret = bearer(headers).ok_or(ApiError::Unauthorized)?;
    let tenant = state
        .event_tokens
        .tenant_of(secret)
        .await
        .map_err(|refusal| match refusal {
            TokenRefusal::Unknown => ApiError::Unauthorized,
            TokenRefusal::MissingScope => ApiError::InsufficientScope,
            TokenRefusal::Unavailable => ApiError::Unavailable(RETRY_AFTER_UNAVAILABLE),
        })?;
    tracing::Span::current().record("tenant", tenant.as_str());
    let mode = mode(headers).ok_or(ApiError::UnsupportedEventMediaType)?;
    let body = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge(MAX_BODY_BYTES),
        _ => ApiError::MalformedJson,
    })?;
    let json: Value = serde_json::from_slice(&body).map_err(|_| ApiError::MalformedJson)?;
    let now_ms = chrono::Utc::now().timestamp_millis();
    let stored = |event: ServiceEvent| StoredEvent {
        event,
        tenant: tenant.clone(),
        received_at_ms: now_ms,
    };
    let (valid, rejected) = match mode {
        Mode::Single => {
            let event = ServiceEvent::parse(&json, now_ms).map_err(ApiError::InvalidEvent)?;
            (vec![stored(event)], Vec::new())
        }
        Mode::Batch => {
            let items = json.as_array().ok_or(ApiError::MalformedJson)?;
            if items.len() > MAX_BATCH_EVENTS {
                return Err(ApiError::TooManyEvents(MAX_BATCH_EVENTS));
            }
            let mut valid = Vec::with_capacity(items.len());
            let mut rejected = Vec::new();
            for (index, item) in items.iter().enumerate() {
                match ServiceEvent::parse(item, now_ms) {
                    Ok(event) => valid.push(stored(event)),
                    Err(error) => rejected.push(RejectedEvent {
                        index,
                        code: error.code,
                        field: error.field,
                        message: error.message,
                    }),
                }
            }
            if valid.is_empty() && !rejected.is_empty() {
                return Err(ApiError::InvalidEvents(rejected));
            }
            (valid, rejected)
        }
    };
    let accepted = valid.len();
    if accepted > 0 {
        state.sink.send_events(valid).await.map_err(
            |error @ (SinkError::Overloaded | SinkError::Unavailable)| {
                NOT_STORED.warn_kind(error.as_str());
                ApiError::Unavailable(RETRY_AFTER_UNAVAILABLE)
            },
        )?;
    }
    Ok((accepted, rejected))
}
