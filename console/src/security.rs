//! The security headers of every console and API response, errors included, set once as
//! layers rather than by each handler.

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use tower_http::set_header::SetResponseHeaderLayer;

/// Pages load their own scripts, styles and images only and may not be framed. Fonts and
/// images may also be inline `data:` (Bootstrap Italia's style sheet carries one font so).
const CSP: &str = "default-src 'self'; img-src 'self' data:; font-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// Wraps `router` in the headers; `https` adds HSTS.
pub fn layer(router: Router, https: bool) -> Router {
    let always = |name: HeaderName, value: &'static str| {
        SetResponseHeaderLayer::overriding(name, HeaderValue::from_static(value))
    };
    // A page may set a policy of its own (the widget preview); every other response gets
    // the console's.
    let unless_set = |name: HeaderName, value: &'static str| {
        SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
    };
    let router = router
        .layer(unless_set(header::CONTENT_SECURITY_POLICY, CSP))
        .layer(unless_set(header::X_FRAME_OPTIONS, "DENY"))
        .layer(always(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(always(header::REFERRER_POLICY, "same-origin"))
        // Everything but the versioned static files is per user: never stored by caches.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ));
    if https {
        router.layer(always(
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=31536000; includeSubDomains",
        ))
    } else {
        router
    }
}
