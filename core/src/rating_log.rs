//! A rating as stored and as written to the event log (Kafka topic `satisfy.ratings.v1`):
//! a JSON object carrying a schema version, the tenant, the acceptance time and the rating
//! in its wire format: `{"schema":1,"tenant":"…","received_at_ms":…,"rating":{…}}`.
//! Ingest writes it, the aggregator reads it; both take the format from here.

use serde_json::Value;
use std::fmt;

use crate::entrypoint::TenantId;
use crate::rating::{Rating, RatingSubmission};

/// A rating as stored: the validated rating plus what the server knows about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRating {
    /// The rating as the widget sent it.
    pub rating: Rating,
    /// Tenant of the rated entrypoint.
    pub tenant: TenantId,
    /// When the server accepted this version, milliseconds since the Unix epoch.
    pub received_at_ms: i64,
}

/// Version of the event format; readers refuse versions they do not know.
pub const SCHEMA_VERSION: u64 = 1;

/// Why a log record cannot be processed (it goes to the dead-letter topic with this
/// reason).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// Not JSON.
    NotJson(String),
    /// A schema version this reader does not know.
    UnknownSchema(String),
    /// A missing or invalid envelope field.
    InvalidField(&'static str),
    /// The rating inside fails validation.
    InvalidRating(String),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::NotJson(error) => write!(f, "not JSON: {error}"),
            DecodeError::UnknownSchema(version) => write!(f, "unknown schema version {version}"),
            DecodeError::InvalidField(field) => write!(f, "invalid field `{field}`"),
            DecodeError::InvalidRating(error) => write!(f, "invalid rating: {error}"),
        }
    }
}

impl std::error::Error for DecodeError {}

impl StoredRating {
    /// The record on the event log.
    pub fn to_log_record(&self) -> Vec<u8> {
        encode(self)
    }

    /// Reads a record of [`StoredRating::to_log_record`], validating the rating as ingest did.
    pub fn from_log_record(bytes: &[u8]) -> Result<StoredRating, DecodeError> {
        decode(bytes)
    }
}

fn encode(stored: &StoredRating) -> Vec<u8> {
    format!(
        "{{\"schema\":{SCHEMA_VERSION},\"tenant\":\"{}\",\"received_at_ms\":{},\"rating\":{}}}",
        stored.tenant.as_str(),
        stored.received_at_ms,
        stored.rating.to_wire_json()
    )
    .into_bytes()
}

fn decode(bytes: &[u8]) -> Result<StoredRating, DecodeError> {
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
