//! The WebAssembly core of the widget: the same parsing and wire encoding as ingest, from
//! `satisfy-core`, so a rating the widget sends is valid by construction.

use satisfy_core::RatingSubmission;
use wasm_bindgen::prelude::*;

/// Validates a rating and returns its canonical wire JSON, or throws the stable error code
/// (`comment_too_long`, `invalid_page`, …) of the first invalid field.
///
/// `answers` holds option ids separated by spaces; an empty `comment` means none.
#[wasm_bindgen]
#[allow(clippy::too_many_arguments)]
pub fn encode_rating(
    id: &str,
    entrypoint: &str,
    page: &str,
    rating: u8,
    answers: &str,
    comment: &str,
    lang: &str,
    widget: &str,
) -> Result<String, JsValue> {
    let answers: Vec<&str> = answers.split(' ').filter(|a| !a.is_empty()).collect();
    let body = serde_json::json!({
        "id": id,
        "entrypoint": entrypoint,
        "page": page,
        "rating": rating,
        "answers": answers,
        "comment": comment,
        "lang": lang,
        "widget": widget,
    });
    RatingSubmission::parse(&body)
        .map(|submission| submission.to_wire_json())
        .map_err(|error| JsValue::from_str(error.code.as_str()))
}
