//! The rating event as written to the event log (Kafka topic `satisfy.ratings.v1`).
//!
//! A JSON object carrying a schema version, the tenant, the acceptance time and the rating
//! in its wire format: `{"schema":1,"tenant":"…","received_at_ms":…,"rating":{…}}`.

use satisfy_core::{RatingSubmission, TenantId};
use serde_json::Value;

use crate::model::StoredRating;

/// Version of the event format; readers refuse versions they do not know.
pub const SCHEMA_VERSION: u64 = 1;

/// Why an event cannot be processed (it goes to the dead-letter topic with this reason).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Not JSON.
    #[error("not JSON: {0}")]
    NotJson(String),
    /// A schema version this aggregator does not know.
    #[error("unknown schema version {0}")]
    UnknownSchema(String),
    /// A missing or invalid envelope field.
    #[error("invalid field `{0}`")]
    InvalidField(&'static str),
    /// The rating inside fails validation.
    #[error("invalid rating: {0}")]
    InvalidRating(String),
}

/// Encodes a stored rating as an event.
pub fn encode(stored: &StoredRating) -> Vec<u8> {
    format!(
        "{{\"schema\":{SCHEMA_VERSION},\"tenant\":\"{}\",\"received_at_ms\":{},\"rating\":{}}}",
        stored.tenant.as_str(),
        stored.received_at_ms,
        stored.rating.to_wire_json()
    )
    .into_bytes()
}

/// Decodes an event, validating it as ingest did.
pub fn decode(bytes: &[u8]) -> Result<StoredRating, DecodeError> {
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| DecodeError::NotJson(e.to_string()))?;
    match value.get("schema").and_then(Value::as_u64) {
        Some(SCHEMA_VERSION) => {}
        other => return Err(DecodeError::UnknownSchema(format!("{other:?}"))),
    }
    let tenant = value
        .get("tenant")
        .and_then(Value::as_str)
        .and_then(TenantId::parse)
        .ok_or(DecodeError::InvalidField("tenant"))?;
    let received_at_ms = value
        .get("received_at_ms")
        .and_then(Value::as_i64)
        .ok_or(DecodeError::InvalidField("received_at_ms"))?;
    let rating = value
        .get("rating")
        .ok_or(DecodeError::InvalidField("rating"))?;
    let submission =
        RatingSubmission::parse(rating).map_err(|e| DecodeError::InvalidRating(e.to_string()))?;
    Ok(StoredRating {
        rating: submission.into_logged_rating(),
        tenant,
        received_at_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn events_round_trip_and_bad_ones_say_why() {
        let rating = json!({
            "id": "6f1c3b9e-2f4a-4c1e-9a57-0d6f5c1b2a10", "entrypoint": "ep_AAAAAAAAAAAAAAAA",
            "page": "https://x.it/a", "rating": 4, "answers": ["clear"], "comment": "ok \"bene\"",
            "lang": "it"
        });
        let stored = StoredRating {
            rating: RatingSubmission::parse(&rating)
                .unwrap()
                .into_logged_rating(),
            tenant: TenantId::parse("bugliano").unwrap(),
            received_at_ms: 1_790_000_000_123,
        };
        assert_eq!(decode(&encode(&stored)).unwrap(), stored);
        assert!(matches!(decode(b"{"), Err(DecodeError::NotJson(_))));
        assert!(matches!(
            decode(br#"{"schema":2}"#),
            Err(DecodeError::UnknownSchema(_))
        ));
        let bad =
            json!({"schema": 1, "tenant": "bugliano", "received_at_ms": 1, "rating": {"id": "x"}});
        assert!(matches!(
            decode(bad.to_string().as_bytes()),
            Err(DecodeError::InvalidRating(_))
        ));
    }
}
