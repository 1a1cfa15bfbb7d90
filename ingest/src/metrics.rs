//! Ingest's metrics at `/metrics`, in the OpenMetrics text format (which Prometheus
//! scrapes), kept by `prometheus-client` in the process's one registry.

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::time::Duration;

use crate::sinks::Delivery;

pub use satisfy_core::metrics::CONTENT_TYPE;

/// Upper bounds (seconds) of the rating latency histogram.
const LATENCY_BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0];

/// What became of an accepted rating.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
enum Outcome {
    /// Stored as a new rating (embedded mode).
    inserted,
    /// Stored as a new version of a rating (embedded mode).
    updated,
    /// Appended to the event log, which the aggregator applies (distributed mode).
    logged,
    /// Not stored: its tenant deleted it on request (where intake writes to the store).
    erased,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: Outcome,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabel {
    code: &'static str,
}

/// Ingest's metrics and the registry they are exported from.
pub struct Metrics {
    registry: Registry,
    accepted: Family<OutcomeLabel, Counter>,
    events_accepted: Counter,
    rejected: Family<CodeLabel, Counter>,
    accept_seconds: Histogram,
    limited_clients: Gauge,
}

impl Default for Metrics {
    fn default() -> Metrics {
        let mut registry = Registry::default();
        let accepted = Family::<OutcomeLabel, Counter>::default();
        registry.register(
            "satisfy_ratings_accepted",
            "Ratings accepted, by outcome (inserted, updated, logged; erased: not stored, deleted on request)",
            accepted.clone(),
        );
        let events_accepted = Counter::default();
        registry.register(
            "satisfy_events_accepted",
            "Platform events durably accepted",
            events_accepted.clone(),
        );
        let rejected = Family::<CodeLabel, Counter>::default();
        registry.register(
            "satisfy_requests_rejected",
            "Requests refused, by error code",
            rejected.clone(),
        );
        let accept_seconds = Histogram::new(LATENCY_BUCKETS);
        registry.register(
            "satisfy_rating_accept_seconds",
            "Time from request to durable acceptance of a rating",
            accept_seconds.clone(),
        );
        let limited_clients = Gauge::default();
        registry.register(
            "satisfy_rate_limited_clients",
            "Clients (IPv4 addresses, IPv6 /64 networks) the rate limiter remembered after its last cleanup",
            limited_clients.clone(),
        );
        Metrics {
            registry,
            accepted,
            events_accepted,
            rejected,
            accept_seconds,
            limited_clients,
        }
    }
}

impl Metrics {
    /// Counts a durably accepted rating; a conflict is a refusal, counted by
    /// [`Metrics::rejected`].
    pub fn accepted(&self, delivery: Delivery, took: Duration) {
        let outcome = match delivery {
            Delivery::Inserted => Outcome::inserted,
            Delivery::Updated => Outcome::updated,
            Delivery::Logged => Outcome::logged,
            Delivery::Erased => Outcome::erased,
            Delivery::Conflict => return,
        };
        self.accepted.get_or_create(&OutcomeLabel { outcome }).inc();
        self.accept_seconds.observe(took.as_secs_f64());
    }

    /// Counts platform events durably accepted by one request.
    pub fn events_accepted(&self, count: usize) {
        self.events_accepted.inc_by(count as u64);
    }

    /// Counts a refused request by its error code.
    pub fn rejected(&self, code: &'static str) {
        self.rejected.get_or_create(&CodeLabel { code }).inc();
    }

    /// Records how many clients the rate limiter remembers.
    pub fn limited_clients(&self, clients: usize) {
        self.limited_clients
            .set(i64::try_from(clients).unwrap_or(i64::MAX));
    }

    /// The OpenMetrics text exposition of the registry.
    pub fn render(&self) -> String {
        satisfy_core::metrics::render(&self.registry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_delivery_is_counted_under_its_own_outcome() {
        let metrics = Metrics::default();
        metrics.accepted(Delivery::Logged, Duration::from_millis(3));
        metrics.accepted(Delivery::Inserted, Duration::from_millis(3));
        metrics.accepted(Delivery::Updated, Duration::from_millis(3));
        metrics.accepted(Delivery::Conflict, Duration::from_millis(3));
        metrics.rejected("id_conflict");
        metrics.limited_clients(3);
        let text = metrics.render();
        for line in [
            "satisfy_ratings_accepted_total{outcome=\"logged\"} 1",
            "satisfy_ratings_accepted_total{outcome=\"inserted\"} 1",
            "satisfy_ratings_accepted_total{outcome=\"updated\"} 1",
            "satisfy_requests_rejected_total{code=\"id_conflict\"} 1",
            "satisfy_rating_accept_seconds_count 3",
            "satisfy_rate_limited_clients 3",
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
        assert!(text.ends_with("# EOF\n"));
    }
}
