//! The widget's static files and its per-entrypoint configuration.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use satisfy_core::{EntrypointId, Lang};
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};

use crate::IngestState;
use crate::error::ApiError;

/// `/widget/v1/{file}`: the widget's files, precompressed at build time.
pub fn router() -> Router<IngestState> {
    Router::new().route("/widget/v1/{file}", get(asset))
}

/// The most configurations kept compressed; past it the cache starts over, so a flood of
/// entrypoint and language pairs cannot grow memory.
const MAX_CACHED_CONFIGS: usize = 4096;

/// Entrypoint configurations as served, compressed once per entrypoint, language and
/// content: the same bytes are served until the entrypoint or the widget changes, so a
/// page view costs a lookup, not a compression.
#[derive(Default)]
pub(crate) struct CompressedConfigs(Mutex<HashMap<(EntrypointId, Lang), Arc<Encoded>>>);

/// One body in each encoding the widget's browsers accept.
struct Encoded {
    identity: Bytes,
    gzip: Bytes,
    brotli: Bytes,
}

impl Encoded {
    fn of(body: Bytes) -> std::io::Result<Encoded> {
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gzip.write_all(&body)?;
        let gzip = gzip.finish()?;
        let mut brotli = Vec::new();
        {
            let mut writer = brotli::CompressorWriter::new(&mut brotli, 4096, 11, 22);
            writer.write_all(&body)?;
        }
        Ok(Encoded {
            identity: body,
            gzip: gzip.into(),
            brotli: brotli.into(),
        })
    }
}

impl CompressedConfigs {
    fn get(&self, key: (EntrypointId, Lang), body: Vec<u8>) -> std::io::Result<Arc<Encoded>> {
        let cached = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&key)
            .filter(|encoded| encoded.identity == body.as_slice())
            .cloned();
        if let Some(encoded) = cached {
            return Ok(encoded);
        }
        let encoded = Arc::new(Encoded::of(body.into())?);
        let mut cache = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if cache.len() >= MAX_CACHED_CONFIGS {
            cache.clear();
        }
        cache.insert(key, Arc::clone(&encoded));
        Ok(encoded)
    }
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
    // Hashed names never change content; the loader's stable URL is revalidated often so a
    // new release reaches every page within minutes.
    let cache = if asset.immutable {
        "public, max-age=31536000, immutable"
    } else {
        "public, max-age=300"
    };
    let bodies = [asset.identity, asset.gzip, asset.brotli];
    negotiated(&headers, asset.content_type, bodies, cache)
}

/// A public response of `content_type` in the best encoding the client accepts, from
/// bodies prepared once: identity, gzip and brotli.
fn negotiated<B: Into<axum::body::Body>>(
    headers: &HeaderMap,
    content_type: &'static str,
    [identity, gzip, brotli]: [B; 3],
    cache_control: &'static str,
) -> Response {
    let encoding = preferred_encoding(headers);
    let body = match encoding {
        Some("br") => brotli,
        Some(_) => gzip,
        None => identity,
    };
    let mut response = (
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
        body.into(),
    )
        .into_response();
    let response_headers = response.headers_mut();
    response_headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    if let Some(encoding) = encoding {
        response_headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
    }
    public(response, cache_control)
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
pub(crate) struct ConfigQuery {
    lang: Option<String>,
}

/// `/v1/entrypoints/{id}/widget-config`, rate-limited with the ratings.
pub(crate) async fn widget_config(
    State(state): State<IngestState>,
    Extension(configs): Extension<Arc<CompressedConfigs>>,
    Path(id): Path<String>,
    Query(query): Query<ConfigQuery>,
    headers: HeaderMap,
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
    let encoded = serde_json::to_vec(&body).and_then(|body| {
        configs
            .get((entrypoint.id.clone(), lang), body)
            .map_err(serde_json::Error::io)
    });
    let encoded = match encoded {
        Ok(encoded) => encoded,
        Err(error) => {
            tracing::error!(%error, "encoding a widget configuration failed");
            return ApiError::Unavailable(crate::routes::ratings::RETRY_AFTER_UNAVAILABLE)
                .into_response();
        }
    };
    let bodies = [
        encoded.identity.clone(),
        encoded.gzip.clone(),
        encoded.brotli.clone(),
    ];
    negotiated(&headers, "application/json", bodies, "public, max-age=60")
}
