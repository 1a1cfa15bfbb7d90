//! The widget's static files and its per-entrypoint configuration.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use satisfy_core::{EntrypointId, Lang};
use serde::Deserialize;
use serde_json::json;
use tower_http::CompressionLevel;
use tower_http::compression::CompressionLayer;

use crate::IngestState;
use crate::error::ApiError;

/// `/widget/v1/{file}` and `/v1/entrypoints/{id}/widget-config`.
pub fn router() -> Router<IngestState> {
    Router::new().route("/widget/v1/{file}", get(asset)).route(
        "/v1/entrypoints/{id}/widget-config",
        // The configuration is dynamic; the static files come precompressed.
        get(widget_config).layer(
            CompressionLayer::new()
                .gzip(true)
                .br(true)
                .quality(CompressionLevel::Best),
        ),
    )
}

/// Any page may load the widget, so its public files and configuration allow any origin.
fn public(mut response: Response, cache_control: &'static str) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(cache_control),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// The best encoding the client accepts: brotli, then gzip, then none.
fn preferred_encoding(headers: &HeaderMap) -> Option<&'static str> {
    let accepted = headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|item| {
            let mut parts = item.split(';');
            let coding = parts.next()?.trim().to_ascii_lowercase();
            let refused = parts.any(|p| matches!(p.trim(), "q=0" | "q=0.0" | "q=0.00" | "q=0.000"));
            (!refused).then_some(coding)
        })
        .collect::<Vec<_>>();
    ["br", "gzip"]
        .into_iter()
        .find(|c| accepted.iter().any(|a| a == c))
}

async fn asset(Path(file): Path<String>, headers: HeaderMap) -> Response {
    let Some(asset) = satisfy_widget::asset(&file) else {
        return ApiError::NotFound.into_response();
    };
    let encoding = preferred_encoding(&headers);
    let body = match encoding {
        Some("br") => asset.brotli,
        Some(_) => asset.gzip,
        None => asset.identity,
    };
    let mut response = ([(header::CONTENT_TYPE, asset.content_type)], body).into_response();
    let response_headers = response.headers_mut();
    response_headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    if let Some(encoding) = encoding {
        response_headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
    }
    // Hashed names never change content; the loader's stable URL is revalidated often so a
    // new release reaches every page within minutes.
    let cache = if asset.immutable {
        "public, max-age=31536000, immutable"
    } else {
        "public, max-age=300"
    };
    public(response, cache)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_brotli_then_gzip_and_honours_q_zero() {
        let headers = |value: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::ACCEPT_ENCODING, value.parse().unwrap());
            h
        };
        assert_eq!(
            preferred_encoding(&headers("gzip, deflate, br, zstd")),
            Some("br")
        );
        assert_eq!(preferred_encoding(&headers("gzip")), Some("gzip"));
        assert_eq!(
            preferred_encoding(&headers("br;q=0, gzip;q=0.5")),
            Some("gzip")
        );
        assert_eq!(preferred_encoding(&headers("identity")), None);
        assert_eq!(preferred_encoding(&HeaderMap::new()), None);
    }
}

#[derive(Deserialize)]
struct ConfigQuery {
    lang: Option<String>,
}

async fn widget_config(
    State(state): State<IngestState>,
    Path(id): Path<String>,
    Query(query): Query<ConfigQuery>,
) -> Response {
    let entrypoint = EntrypointId::parse(&id)
        .and_then(|id| state.directory.get(&id))
        .filter(|entrypoint| entrypoint.is_active());
    let Some(entrypoint) = entrypoint else {
        // Readable cross-origin, so the widget can tell the webmaster why it stays away.
        return public(
            ApiError::UnknownEntrypoint.into_response(),
            "public, max-age=60",
        );
    };
    let lang = query
        .lang
        .as_deref()
        .and_then(Lang::from_tag)
        .unwrap_or_default();
    let body = json!({
        "entrypoint": entrypoint.id,
        "widget_version": satisfy_widget::VERSION,
        "ratings_endpoint": "/v1/ratings",
        "survey": entrypoint.survey(lang),
    });
    public(Json(body).into_response(), "public, max-age=60")
}
