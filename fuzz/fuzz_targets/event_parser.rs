//! Any platform event ingest or the aggregator may receive: parsing never panics, and an
//! accepted event's canonical CloudEvent (what the log and the store keep) parses back to
//! the same event.
#![no_main]

use libfuzzer_sys::fuzz_target;
use satisfy_core::event::ServiceEvent;

/// 2026-11-24T12:00:00Z: events may not be dated after "now".
const NOW_MS: i64 = 1_795_521_600_000;

fuzz_target!(|body: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return;
    };
    if let Ok(event) = ServiceEvent::parse(&value, NOW_MS) {
        let again = ServiceEvent::parse(&event.to_cloudevent(), NOW_MS)
            .expect("the stored CloudEvent parses");
        assert_eq!(again, event);
    }
});
