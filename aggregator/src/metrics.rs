//! The aggregator's metrics at `/metrics`, in the OpenMetrics text format (which
//! Prometheus scrapes), kept by `prometheus-client` in the process's one registry.

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::time::Duration;

pub use satisfy_core::metrics::CONTENT_TYPE;

/// What the store made of a consumed rating.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum RatingOutcome {
    /// A new rating.
    inserted,
    /// A new version of a rating, or a redelivered copy.
    updated,
    /// Refused: its id belongs to another entrypoint's rating.
    conflict,
    /// Refused: its tenant deleted it on request, or retention deleted what it copies.
    erased,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: RatingOutcome,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PartitionLabels {
    topic: String,
    partition: i32,
}

/// Counters of the consumer → store pipeline and the registry they are exported from.
pub struct AggregatorMetrics {
    registry: Registry,
    ratings: Family<OutcomeLabel, Counter>,
    events: Counter,
    batch_rows: Histogram,
    insert_seconds: Histogram,
    insert_errors: Counter,
    dead_letters: Counter,
    lag: Family<PartitionLabels, Gauge>,
}

impl Default for AggregatorMetrics {
    fn default() -> AggregatorMetrics {
        let mut registry = Registry::default();
        let ratings = Family::<OutcomeLabel, Counter>::default();
        registry.register(
            "satisfy_aggregator_ratings",
            "Ratings consumed and written to the store, by outcome (inserted, updated, conflict, erased)",
            ratings.clone(),
        );
        let events = Counter::default();
        registry.register(
            "satisfy_aggregator_events",
            "Platform events written to the store",
            events.clone(),
        );
        let batch_rows = Histogram::new(exponential_buckets(10.0, 4.0, 8));
        registry.register(
            "satisfy_aggregator_batch_rows",
            "Ratings and events per batch written",
            batch_rows.clone(),
        );
        let insert_seconds = Histogram::new(exponential_buckets(0.005, 2.0, 12));
        registry.register(
            "satisfy_aggregator_insert_seconds",
            "Time to write one batch to the store",
            insert_seconds.clone(),
        );
        let insert_errors = Counter::default();
        registry.register(
            "satisfy_aggregator_insert_errors",
            "Failed batch writes (each is retried)",
            insert_errors.clone(),
        );
        let dead_letters = Counter::default();
        registry.register(
            "satisfy_aggregator_dead_letters",
            "Messages sent to the dead-letter topic",
            dead_letters.clone(),
        );
        let lag = Family::<PartitionLabels, Gauge>::default();
        registry.register(
            "satisfy_aggregator_consumer_lag",
            "Messages not yet consumed, per topic and partition",
            lag.clone(),
        );
        AggregatorMetrics {
            registry,
            ratings,
            events,
            batch_rows,
            insert_seconds,
            insert_errors,
            dead_letters,
            lag,
        }
    }
}

impl AggregatorMetrics {
    /// A batch of `rows` was written in `took`: each rating counted under its outcome.
    pub fn batch_written(
        &self,
        rows: usize,
        outcomes: impl IntoIterator<Item = RatingOutcome>,
        took: Duration,
    ) {
        for outcome in outcomes {
            self.ratings.get_or_create(&OutcomeLabel { outcome }).inc();
        }
        self.batch_rows.observe(rows as f64);
        self.insert_seconds.observe(took.as_secs_f64());
    }

    /// `count` platform events were written to the store.
    pub fn events_written(&self, count: usize) {
        self.events.inc_by(count as u64);
    }

    /// A batch write failed and will be retried.
    pub fn insert_failed(&self) {
        self.insert_errors.inc();
    }

    /// A message went to the dead-letter topic.
    pub fn dead_lettered(&self) {
        self.dead_letters.inc();
    }

    /// Replaces the per-partition consumer lag.
    pub fn set_lag(&self, lag: Vec<(String, i32, i64)>) {
        self.lag.clear();
        for (topic, partition, messages) in lag {
            self.lag
                .get_or_create(&PartitionLabels { topic, partition })
                .set(messages);
        }
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
    fn ratings_are_counted_by_outcome_and_lag_replaced() {
        let metrics = AggregatorMetrics::default();
        metrics.batch_written(
            3,
            [
                RatingOutcome::inserted,
                RatingOutcome::updated,
                RatingOutcome::conflict,
            ],
            Duration::from_millis(20),
        );
        metrics.set_lag(vec![("satisfy.ratings.v1".into(), 3, 42)]);
        metrics.set_lag(vec![("satisfy.ratings.v1".into(), 4, 7)]);
        let text = metrics.render();
        for line in [
            "satisfy_aggregator_ratings_total{outcome=\"inserted\"} 1",
            "satisfy_aggregator_ratings_total{outcome=\"conflict\"} 1",
            "satisfy_aggregator_batch_rows_count 1",
            "satisfy_aggregator_consumer_lag{topic=\"satisfy.ratings.v1\",partition=\"4\"} 7",
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
        assert!(!text.contains("partition=\"3\""), "stale lag kept:\n{text}");
    }
}
