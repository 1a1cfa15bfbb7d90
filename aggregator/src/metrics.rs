//! The aggregator's metrics, in the Prometheus text format.

use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

#[derive(Default)]
struct Counters {
    consumed: u64,
    events: u64,
    batches: u64,
    batch_rows_sum: u64,
    insert_seconds_sum: f64,
    insert_errors: u64,
    dead_letters: u64,
    conflicts: u64,
    lag: Vec<(String, i32, i64)>,
}

/// Counters of the consumer → store pipeline.
#[derive(Default)]
pub struct AggregatorMetrics {
    counters: Mutex<Counters>,
}

impl AggregatorMetrics {
    fn update(&self, change: impl FnOnce(&mut Counters)) {
        match self.counters.lock() {
            Ok(mut c) => change(&mut c),
            Err(poisoned) => change(&mut poisoned.into_inner()),
        }
    }

    /// A batch of `rows` was written in `took`, `conflicts` of them refused as conflicts.
    pub fn batch_written(&self, rows: usize, conflicts: usize, took: Duration) {
        self.update(|c| {
            c.consumed += rows as u64;
            c.batches += 1;
            c.batch_rows_sum += rows as u64;
            c.insert_seconds_sum += took.as_secs_f64();
            c.conflicts += conflicts as u64;
        });
    }

    /// `count` platform events were written to the store.
    pub fn events_written(&self, count: usize) {
        self.update(|c| c.events += count as u64);
    }

    /// A batch write failed and will be retried.
    pub fn insert_failed(&self) {
        self.update(|c| c.insert_errors += 1);
    }

    /// A message went to the dead-letter topic.
    pub fn dead_lettered(&self) {
        self.update(|c| c.dead_letters += 1);
    }

    /// Replaces the per-partition consumer lag.
    pub fn set_lag(&self, lag: Vec<(String, i32, i64)>) {
        self.update(|c| c.lag = lag);
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.update(|c| {
            let mut counter = |name: &str, help: &str, value: String| {
                let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}");
            };
            counter("satisfy_aggregator_ratings_total", "Rating events written to the store.", c.consumed.to_string());
            counter("satisfy_aggregator_events_total", "Platform events written to the store.", c.events.to_string());
            counter("satisfy_aggregator_batches_total", "Batches written.", c.batches.to_string());
            counter("satisfy_aggregator_batch_rows_sum", "Rows over all batches (divide by batches for the mean size).", c.batch_rows_sum.to_string());
            counter("satisfy_aggregator_insert_seconds_sum", "Time spent writing batches.", c.insert_seconds_sum.to_string());
            counter("satisfy_aggregator_insert_errors_total", "Failed batch writes (retried).", c.insert_errors.to_string());
            counter("satisfy_aggregator_dead_letters_total", "Events sent to the dead-letter topic.", c.dead_letters.to_string());
            counter("satisfy_aggregator_conflicts_total", "Events refused because their id belongs to another entrypoint.", c.conflicts.to_string());
            let _ = writeln!(out, "# HELP satisfy_aggregator_consumer_lag Messages not yet consumed, per partition.");
            let _ = writeln!(out, "# TYPE satisfy_aggregator_consumer_lag gauge");
            for (topic, partition, lag) in &c.lag {
                let _ = writeln!(out, "satisfy_aggregator_consumer_lag{{topic=\"{topic}\",partition=\"{partition}\"}} {lag}");
            }
        });
        out
    }
}
