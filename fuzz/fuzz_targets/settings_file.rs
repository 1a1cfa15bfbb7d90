//! Any `--config` file: read without panicking; every variable it sets is a known one.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../src/settings_file.rs"]
mod settings_file;

fuzz_target!(|text: &str| {
    let known: Vec<String> = [
        "SATISFY_LISTEN",
        "SATISFY_KAFKA_BROKERS",
        "SATISFY_BATCH_SIZE",
    ]
    .map(str::to_owned)
    .to_vec();
    if let Ok(variables) = settings_file::variables(text, &known) {
        assert!(variables.iter().all(|(name, _)| known.contains(name)));
    }
});
