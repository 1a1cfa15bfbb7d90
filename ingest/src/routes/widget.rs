//! The widget's static files and its per-entrypoint configuration.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use satisfy_core::{EntrypointId, Lang};
use serde::Deserialize;
use serde_json::json;

use crate::IngestState;
use crate::error::ApiError;

/// `/widget/v1/{file}` and `/v1/entrypoints/{id}/widget-config`.
pub fn router() -> Router<IngestState> {
    Router::new()
        .route("/widget/v1/{file}", get(asset))
        .route("/v1/entrypoints/{id}/widget-config", get(widget_config))
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

async fn asset(Path(file): Path<String>) -> Response {
    match satisfy_widget::asset(&file) {
        Some(asset) => public(
            ([(header::CONTENT_TYPE, asset.content_type)], asset.body).into_response(),
            "public, max-age=3600",
        ),
        None => ApiError::NotFound.into_response(),
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
        return ApiError::UnknownEntrypoint.into_response();
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
