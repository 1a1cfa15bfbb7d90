//! Every error ingest answers, as `{"error":{"code":"…","message":"…"}}`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use satisfy_core::RatingError;
use satisfy_core::event::EventError;
use serde::Serialize;
use serde_json::json;

/// An event of a batch that was not stored, and why.
#[derive(Debug, Clone, Serialize)]
pub struct RejectedEvent {
    /// Its position in the batch, from 0.
    pub index: usize,
    /// Why: a stable code.
    pub code: &'static str,
    /// The field at fault.
    pub field: String,
    /// A sentence for the integrator.
    pub message: String,
}

/// An error answer of the public API. Messages never reveal internals.
#[derive(Debug)]
pub enum ApiError {
    /// The body exceeds the size limit, in bytes.
    PayloadTooLarge(usize),
    /// A batch holds more events than allowed.
    TooManyEvents(usize),
    /// No bearer token, or no live token with this secret.
    Unauthorized,
    /// The token lacks the scope `events:write`.
    InsufficientScope,
    /// The platform event is invalid.
    InvalidEvent(EventError),
    /// Every event of a batch is invalid: each with its index.
    InvalidEvents(Vec<RejectedEvent>),
    /// A rating whose content type is neither JSON nor plain text.
    UnsupportedMediaType,
    /// Platform events not sent as CloudEvents JSON (structured or batch).
    UnsupportedEventMediaType,
    /// The body is not JSON.
    MalformedJson,
    /// The rating is invalid.
    InvalidRating(RatingError),
    /// No active entrypoint has this id.
    UnknownEntrypoint,
    /// The browser's origin may not post to this entrypoint.
    OriginNotAllowed,
    /// The request has no `Origin` header, which browsers always send with a rating.
    OriginRequired,
    /// The rated page is not on one of the entrypoint's allowed origins.
    PageNotAllowed,
    /// The rating id already belongs to another entrypoint.
    IdConflict,
    /// The client sent too many requests; retry after this many seconds.
    RateLimited(u64),
    /// Storage cannot take the rating now; retry after this many seconds.
    Unavailable(u64),
    /// No such route or file.
    NotFound,
}

impl ApiError {
    fn parts(&self) -> (StatusCode, &'static str, String) {
        match self {
            ApiError::PayloadTooLarge(limit) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("the body exceeds {limit} bytes"),
            ),
            ApiError::TooManyEvents(limit) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_many_events",
                format!("a batch holds at most {limit} events"),
            ),
            ApiError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "send an API token of the tenant: Authorization: Bearer sat_…".into(),
            ),
            ApiError::InsufficientScope => (
                StatusCode::FORBIDDEN,
                "insufficient_scope",
                "the token lacks the scope events:write".into(),
            ),
            ApiError::InvalidEvent(error) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                error.code,
                error.message.clone(),
            ),
            ApiError::InvalidEvents(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_events",
                "no event of the batch is valid".into(),
            ),
            ApiError::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send application/json or text/plain".into(),
            ),
            ApiError::UnsupportedEventMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send application/cloudevents+json or application/cloudevents-batch+json".into(),
            ),
            ApiError::MalformedJson => (
                StatusCode::BAD_REQUEST,
                "malformed_json",
                "the body is not valid JSON".into(),
            ),
            ApiError::InvalidRating(error) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                error.code.as_str(),
                error.to_string(),
            ),
            ApiError::UnknownEntrypoint => (
                StatusCode::NOT_FOUND,
                "unknown_entrypoint",
                "no active entrypoint has this id".into(),
            ),
            ApiError::OriginNotAllowed => (
                StatusCode::FORBIDDEN,
                "origin_not_allowed",
                "this site may not send ratings to this entrypoint".into(),
            ),
            ApiError::OriginRequired => (
                StatusCode::FORBIDDEN,
                "origin_required",
                "ratings are accepted from browsers, which send an Origin header".into(),
            ),
            ApiError::PageNotAllowed => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "page_not_allowed",
                "`page` is not on a site allowed for this entrypoint".into(),
            ),
            ApiError::IdConflict => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "id_conflict",
                "`id` belongs to a rating of another entrypoint".into(),
            ),
            ApiError::RateLimited(seconds) => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("too many requests, retry in {seconds} s"),
            ),
            ApiError::Unavailable(seconds) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                format!("nothing can be stored right now, retry in {seconds} s"),
            ),
            ApiError::NotFound => (StatusCode::NOT_FOUND, "not_found", "not found".into()),
        }
    }

    /// The stable error code, as in the body.
    pub fn code(&self) -> &'static str {
        self.parts().1
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message) = self.parts();
        let mut body = json!({ "error": { "code": code, "message": message } });
        match &self {
            ApiError::InvalidRating(error) => body["error"]["field"] = json!(error.field),
            ApiError::InvalidEvent(error) => body["error"]["field"] = json!(error.field),
            ApiError::InvalidEvents(rejected) => body["rejected"] = json!(rejected),
            ApiError::PageNotAllowed => body["error"]["field"] = json!("page"),
            _ => {}
        }
        let mut response = (status, Json(body)).into_response();
        if let ApiError::RateLimited(seconds) | ApiError::Unavailable(seconds) = self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
        }
        response
    }
}
