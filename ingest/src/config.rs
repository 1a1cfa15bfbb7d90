//! Ingest settings.

use std::time::Duration;

/// How the public intake behaves.
#[derive(Debug, Clone)]
pub struct IngestConfig {
    /// Take the client address from `X-Forwarded-For` (the entry the nearest proxy added).
    /// Only enable behind a reverse proxy that sets it, or clients can pick their own key.
    pub trust_forwarded_for: bool,
    /// Requests a client may burst before being limited.
    pub rate_limit_burst: u32,
    /// Time to earn one more request after the burst is spent.
    pub rate_limit_period: Duration,
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            trust_forwarded_for: false,
            // A widget sends up to three requests per rating; a shared office NAT a few
            // dozen citizens at once.
            rate_limit_burst: 60,
            rate_limit_period: Duration::from_millis(500),
        }
    }
}
