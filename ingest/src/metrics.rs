//! Counters exported in the Prometheus text format at `/metrics`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds (seconds) of the rating latency histogram.
const LATENCY_BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0];

#[derive(Default)]
struct Counters {
    accepted: BTreeMap<&'static str, u64>,
    events_accepted: u64,
    rejected: BTreeMap<&'static str, u64>,
    latency_buckets: [u64; LATENCY_BUCKETS.len()],
    latency_sum: f64,
    latency_count: u64,
}

/// Ingest's metrics.
#[derive(Default)]
pub struct Metrics {
    counters: Mutex<Counters>,
}

impl Metrics {
    fn update(&self, change: impl FnOnce(&mut Counters)) {
        match self.counters.lock() {
            Ok(mut counters) => change(&mut counters),
            Err(poisoned) => change(&mut poisoned.into_inner()),
        }
    }

    /// Counts an accepted rating; `outcome` is `inserted`, `updated` or `logged`.
    pub fn accepted(&self, outcome: &'static str, took: Duration) {
        self.update(|c| {
            *c.accepted.entry(outcome).or_default() += 1;
            let seconds = took.as_secs_f64();
            for (bound, count) in LATENCY_BUCKETS.iter().zip(c.latency_buckets.iter_mut()) {
                if seconds <= *bound {
                    *count += 1;
                }
            }
            c.latency_sum += seconds;
            c.latency_count += 1;
        });
    }

    /// Counts platform events durably accepted by one request.
    pub fn events_accepted(&self, count: usize) {
        self.update(|c| c.events_accepted += count as u64);
    }

    /// Counts a refused request by its error code.
    pub fn rejected(&self, code: &'static str) {
        self.update(|c| *c.rejected.entry(code).or_default() += 1);
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.update(|c| {
            out.push_str("# HELP satisfy_ratings_accepted_total Ratings durably accepted.\n");
            out.push_str("# TYPE satisfy_ratings_accepted_total counter\n");
            for (outcome, n) in &c.accepted {
                let _ = writeln!(
                    out,
                    "satisfy_ratings_accepted_total{{outcome=\"{outcome}\"}} {n}"
                );
            }
            out.push_str(
                "# HELP satisfy_events_accepted_total Platform events durably accepted.\n",
            );
            out.push_str("# TYPE satisfy_events_accepted_total counter\n");
            let _ = writeln!(out, "satisfy_events_accepted_total {}", c.events_accepted);
            out.push_str(
                "# HELP satisfy_requests_rejected_total Requests refused, by error code.\n",
            );
            out.push_str("# TYPE satisfy_requests_rejected_total counter\n");
            for (code, n) in &c.rejected {
                let _ = writeln!(
                    out,
                    "satisfy_requests_rejected_total{{code=\"{code}\"}} {n}"
                );
            }
            out.push_str(
                "# HELP satisfy_rating_accept_seconds Time from request to durable acceptance.\n",
            );
            out.push_str("# TYPE satisfy_rating_accept_seconds histogram\n");
            for (bound, n) in LATENCY_BUCKETS.iter().zip(c.latency_buckets) {
                let _ = writeln!(
                    out,
                    "satisfy_rating_accept_seconds_bucket{{le=\"{bound}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "satisfy_rating_accept_seconds_bucket{{le=\"+Inf\"}} {}",
                c.latency_count
            );
            let _ = writeln!(out, "satisfy_rating_accept_seconds_sum {}", c.latency_sum);
            let _ = writeln!(
                out,
                "satisfy_rating_accept_seconds_count {}",
                c.latency_count
            );
        });
        out
    }
}
