//! The widget's WebAssembly core validates a rating's fields and writes its wire JSON by
//! hand (`RatingSubmission::from_raw`, `to_wire_json`): for any fields, it never panics,
//! and what it writes is JSON that ingest parses back to the same rating.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use satisfy_core::{RatingSubmission, RawRating, WireRating};

#[derive(Arbitrary, Debug)]
struct Fields<'a> {
    id: &'a str,
    entrypoint: &'a str,
    page: &'a str,
    rating: u32,
    answers: &'a str,
    comment: &'a str,
    lang: &'a str,
    widget: &'a str,
}

fuzz_target!(|fields: Fields<'_>| {
    // As the loader passes them: answers space-separated, every string present.
    let raw = RawRating {
        id: fields.id,
        entrypoint: fields.entrypoint,
        page: fields.page,
        rating: i64::from(fields.rating),
        answers: fields
            .answers
            .split(' ')
            .filter(|a| !a.is_empty())
            .collect(),
        comment: Some(fields.comment),
        lang: fields.lang,
        widget: Some(fields.widget),
    };
    if let Ok(rating) = RatingSubmission::from_raw(raw) {
        let wire = rating.to_wire_json();
        let read =
            WireRating::from_slice(wire.as_bytes()).unwrap_or_else(|e| panic!("{e}: {wire}"));
        let again = RatingSubmission::parse(&read).unwrap_or_else(|e| panic!("{e:?}: {wire}"));
        assert_eq!(again, rating);
    }
});
