//! Any body ingest may receive: parsing never panics, and what it accepts encodes to the
//! canonical wire JSON, which parses back to the same rating.
#![no_main]

use libfuzzer_sys::fuzz_target;
use satisfy_core::{RatingSubmission, WireRating};

fuzz_target!(|body: &[u8]| {
    let Ok(wire) = WireRating::from_slice(body) else {
        return;
    };
    if let Ok(rating) = RatingSubmission::parse(&wire) {
        let json = rating.to_wire_json();
        let again = WireRating::from_slice(json.as_bytes()).expect("the wire JSON is JSON");
        let again = RatingSubmission::parse(&again).expect("the wire JSON parses");
        assert_eq!(again, rating);
    }
});
