//! Any body ingest may receive: parsing never panics, and what it accepts encodes to the
//! canonical wire JSON, which parses back to the same rating.
#![no_main]

use libfuzzer_sys::fuzz_target;
use satisfy_core::RatingSubmission;

fuzz_target!(|body: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return;
    };
    if let Ok(rating) = RatingSubmission::parse(&value) {
        let wire: serde_json::Value =
            serde_json::from_str(&rating.to_wire_json()).expect("the wire JSON is JSON");
        let again = RatingSubmission::parse(&wire).expect("the wire JSON parses");
        assert_eq!(again, rating);
    }
});
