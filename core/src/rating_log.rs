//! A rating as stored and as written to the event log (Kafka topic `satisfy.ratings.v1`):
//! a JSON object carrying a schema version, the tenant, the acceptance time and the rating
//! in its wire format: `{"schema":1,"tenant":"…","received_at_ms":…,"rating":{…}}`.
//! Ingest writes it, the aggregator reads it; both take the format from here.

use serde::de::MapAccess;
use std::fmt;
use std::fmt::Write as _;

use crate::entrypoint::TenantId;
use crate::rating::{Rating, RatingSubmission};
use crate::wire::{Key, Loose, ObjectOrNot, ObjectReader, WireRating};

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
    // One buffer for the whole record: this runs for every rating ingest accepts.
    let mut out = String::with_capacity(448);
    // Writing to a String cannot fail.
    let _ = write!(
        out,
        "{{\"schema\":{SCHEMA_VERSION},\"tenant\":\"{}\",\"received_at_ms\":{},\"rating\":",
        stored.tenant.as_str(),
        stored.received_at_ms,
    );
    stored.rating.push_wire_json(&mut out);
    out.push('}');
    out.into_bytes()
}

/// A record as read, before validation: each field as found.
#[derive(Default)]
struct Envelope<'a> {
    schema: Loose<'a>,
    tenant: Loose<'a>,
    received_at_ms: Loose<'a>,
    rating: Option<WireRating<'a>>,
}

impl<'de> ObjectReader<'de> for Envelope<'de> {
    fn read<A: MapAccess<'de>>(mut entries: A) -> Result<Envelope<'de>, A::Error> {
        let mut envelope = Envelope::default();
        while let Some(Key(key)) = entries.next_key::<Key<'de>>()? {
            match key.as_ref() {
                "schema" => envelope.schema = entries.next_value()?,
                "tenant" => envelope.tenant = entries.next_value()?,
                "received_at_ms" => envelope.received_at_ms = entries.next_value()?,
                "rating" => envelope.rating = Some(entries.next_value()?),
                _ => {
                    entries.next_value::<Loose<'de>>()?;
                }
            }
        }
        Ok(envelope)
    }
}

fn decode(bytes: &[u8]) -> Result<StoredRating, DecodeError> {
    let ObjectOrNot(envelope) = serde_json::from_slice::<ObjectOrNot<Envelope>>(bytes)
        .map_err(|e| DecodeError::NotJson(e.to_string()))?;
    let envelope = envelope.unwrap_or_default();
    match envelope.schema {
        Loose::Number(Some(version)) if u64::try_from(version) == Ok(SCHEMA_VERSION) => {}
        other => return Err(DecodeError::UnknownSchema(format!("{other:?}"))),
    }
    let tenant = envelope
        .tenant
        .as_text()
        .and_then(TenantId::parse)
        .ok_or(DecodeError::InvalidField("tenant"))?;
    let Loose::Number(Some(received_at_ms)) = envelope.received_at_ms else {
        return Err(DecodeError::InvalidField("received_at_ms"));
    };
    let rating = envelope.rating.ok_or(DecodeError::InvalidField("rating"))?;
    let submission =
        RatingSubmission::parse(&rating).map_err(|e| DecodeError::InvalidRating(e.to_string()))?;
    Ok(StoredRating {
        rating: submission.into_logged_rating(),
        tenant,
        received_at_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[test]
    fn events_round_trip_and_bad_ones_say_why() {
        let rating = json!({
            "id": "6f1c3b9e-2f4a-4c1e-9a57-0d6f5c1b2a10", "entrypoint": "ep_AAAAAAAAAAAAAAAA",
            "page": "https://x.it/a", "rating": 4, "answers": ["clear"], "comment": "ok \"bene\"",
            "lang": "it"
        });
        let stored = StoredRating {
            rating: RatingSubmission::parse(&WireRating::deserialize(&rating).unwrap())
                .unwrap()
                .into_logged_rating(),
            tenant: TenantId::parse("bugliano").unwrap(),
            received_at_ms: 1_790_000_000_123,
        };
        // Ingest writes and the aggregator reads these bytes over Kafka: byte for byte.
        assert_eq!(
            String::from_utf8(encode(&stored)).unwrap(),
            r#"{"schema":1,"tenant":"bugliano","received_at_ms":1790000000123,"rating":{"id":"6f1c3b9e-2f4a-4c1e-9a57-0d6f5c1b2a10","entrypoint":"ep_AAAAAAAAAAAAAAAA","page":"https://x.it/a","rating":4,"answers":["clear"],"comment":"ok \"bene\"","lang":"it","widget":null}}"#
        );
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
