//! Errors of the REST API (JSON) and of the HTML pages.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use satisfy_aggregator::StoreError;
use satisfy_core::Scope;
use serde_json::json;
use std::time::Duration;

use crate::store::ConfigError;

/// An error answer of `/api/v1`, as `{"error":{"code":"…","message":"…"}}`.
#[derive(Debug)]
pub enum ApiError {
    /// No valid session or credentials.
    Unauthorized,
    /// A cookie-authenticated change without the session's CSRF token.
    CsrfRejected,
    /// An API token without the scope this request needs.
    InsufficientScope(Scope),
    /// The user's role or the token's scopes do not allow this.
    Forbidden,
    /// No such resource (entrypoint, service, route) for this tenant.
    NotFound,
    /// The request is malformed; code and message say which field.
    Invalid(&'static str, String),
    /// Too many failed sign-ins for this account or address: retry after this long.
    Throttled(Duration),
    /// A store failed; details are logged, never returned.
    Unavailable,
}

/// `Retry-After` in whole seconds, at least one.
pub fn retry_after(wait: Duration) -> HeaderValue {
    HeaderValue::from(wait.as_secs_f64().ceil().max(1.0) as u64)
}

impl From<ConfigError> for ApiError {
    fn from(error: ConfigError) -> Self {
        tracing::error!(%error, "configuration store failed");
        ApiError::Unavailable
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        tracing::error!(%error, "analytics store failed");
        ApiError::Unavailable
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message) = match self {
            ApiError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "sign in, or send an API token (Authorization: Bearer)".to_owned(),
            ),
            ApiError::CsrfRejected => (
                StatusCode::FORBIDDEN,
                "csrf_rejected",
                "send the session's X-CSRF-Token header".to_owned(),
            ),
            ApiError::InsufficientScope(scope) => (
                StatusCode::FORBIDDEN,
                "insufficient_scope",
                format!("this token lacks the `{scope}` scope"),
            ),
            ApiError::Forbidden => (
                StatusCode::FORBIDDEN,
                "forbidden",
                "your role in this tenant does not allow this".to_owned(),
            ),
            ApiError::NotFound => (
                StatusCode::NOT_FOUND,
                "not_found",
                "no such resource in this tenant".to_owned(),
            ),
            ApiError::Invalid(code, message) => (StatusCode::UNPROCESSABLE_ENTITY, code, message),
            ApiError::Throttled(wait) => {
                let mut response = (
                    StatusCode::TOO_MANY_REQUESTS,
                    Json(json!({ "error": {
                        "code": "too_many_attempts",
                        "message": "too many failed sign-ins: retry after the time in Retry-After",
                    } })),
                )
                    .into_response();
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, retry_after(wait));
                return response;
            }
            ApiError::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "storage is unavailable, retry later".to_owned(),
            ),
        };
        let mut response = (
            status,
            Json(json!({ "error": { "code": code, "message": message } })),
        )
            .into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"satisfy\""),
            );
        }
        response
    }
}

/// An error of an HTML page.
#[derive(Debug)]
pub enum PageError {
    /// Not logged in: go to the login form, and after it back to this page (a console
    /// path with its query) when there is one.
    LoginRequired(Option<String>),
    /// A form without the right CSRF token.
    CsrfRejected,
    /// The user's role does not allow this page.
    Forbidden,
    /// No such page or entrypoint.
    NotFound,
    /// A request no form of the console sends (an unknown choice).
    Invalid,
    /// A store failed.
    Unavailable,
}

impl From<ConfigError> for PageError {
    fn from(error: ConfigError) -> Self {
        tracing::error!(%error, "configuration store failed");
        PageError::Unavailable
    }
}

impl From<StoreError> for PageError {
    fn from(error: StoreError) -> Self {
        tracing::error!(%error, "analytics store failed");
        PageError::Unavailable
    }
}

/// A page in the three languages, each paragraph marked with its own, since the user's
/// choice may be what failed.
fn error_page(status: StatusCode, [it, en, de]: [&str; 3]) -> Response {
    let body = format!(
        "<!doctype html><html lang=\"it\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>Satisfy</title>\
         <link rel=\"stylesheet\" href=\"/console/static/console.css\"></head><body><main class=\"container\">\
         <h1>{}</h1><p>{it}</p><p lang=\"en\">{en}</p><p lang=\"de\">{de}</p>\
         <p><a href=\"/console/entrypoints\">Console</a></p></main></body></html>",
        status.as_u16()
    );
    (status, Html(body)).into_response()
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            PageError::LoginRequired(None) => Redirect::to("/console/login").into_response(),
            PageError::LoginRequired(Some(page)) => {
                let page: String = url::form_urlencoded::byte_serialize(page.as_bytes()).collect();
                Redirect::to(&format!("/console/login?next={page}")).into_response()
            }
            PageError::CsrfRejected => error_page(
                StatusCode::FORBIDDEN,
                [
                    "Modulo scaduto o non valido: ricarica la pagina.",
                    "Form expired or invalid: reload the page.",
                    "Formular abgelaufen: Seite neu laden.",
                ],
            ),
            PageError::Forbidden => error_page(
                StatusCode::FORBIDDEN,
                [
                    "Il tuo ruolo non consente questa pagina.",
                    "Your role does not allow this page.",
                    "Ihre Rolle erlaubt diese Seite nicht.",
                ],
            ),
            PageError::NotFound => error_page(
                StatusCode::NOT_FOUND,
                [
                    "Pagina non trovata.",
                    "Page not found.",
                    "Seite nicht gefunden.",
                ],
            ),
            PageError::Invalid => error_page(
                StatusCode::UNPROCESSABLE_ENTITY,
                [
                    "Richiesta non valida.",
                    "Invalid request.",
                    "Ungültige Anfrage.",
                ],
            ),
            PageError::Unavailable => error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                [
                    "Servizio temporaneamente non disponibile.",
                    "Service temporarily unavailable.",
                    "Dienst vorübergehend nicht verfügbar.",
                ],
            ),
        }
    }
}
