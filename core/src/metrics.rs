//! The text every role serves at `/metrics`: its one registry in the OpenMetrics format,
//! which Prometheus scrapes.

use prometheus_client::registry::Registry;

/// The content type of [`render`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The OpenMetrics text exposition of `registry`.
pub fn render(registry: &Registry) -> String {
    let mut text = String::new();
    if let Err(error) = prometheus_client::encoding::text::encode(&mut text, registry) {
        tracing::error!(%error, "encoding the metrics failed");
    }
    text
}
