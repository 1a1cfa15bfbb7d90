//! Warnings about a fault that repeats on every request (a broker down, a flood of
//! connections) let through at most once per interval, each with the count of occurrences
//! since the line before (those held back included): the first says what happened at once,
//! and the rest cannot fill an operator's logs or take the CPU that answering needs. What
//! was held back after the last line is counted in the next one, whenever it comes.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How often a repeated warning is logged at most.
pub const WARN_EVERY: Duration = Duration::from_secs(10);

/// One repeated warning's throttle: a `static` beside the line that logs it.
pub struct LogThrottle {
    every: Duration,
    state: Mutex<Occurrences>,
}

struct Occurrences {
    /// Occurrences since the last one logged.
    held_back: u64,
    /// When the last one logged was.
    logged_at: Option<Instant>,
}

impl LogThrottle {
    /// A throttle that lets one occurrence through every `every`.
    pub const fn new(every: Duration) -> LogThrottle {
        LogThrottle {
            every,
            state: Mutex::new(Occurrences {
                held_back: 0,
                logged_at: None,
            }),
        }
    }

    /// Counts an occurrence at `now`. `Some(n)` when it is to be logged, `n` being the
    /// occurrences since the last one logged, this one included; `None` when it is held
    /// back.
    pub fn admit(&self, now: Instant) -> Option<u64> {
        // A panic elsewhere while holding the lock leaves counts that are still counts.
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.held_back += 1;
        if state
            .logged_at
            .is_some_and(|at| now.saturating_duration_since(at) < self.every)
        {
            return None;
        }
        state.logged_at = Some(now);
        Some(std::mem::take(&mut state.held_back))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lets_one_occurrence_through_per_interval_with_the_count_held_back() {
        let throttle = LogThrottle::new(Duration::from_secs(10));
        let start = Instant::now();
        let at = |seconds: u64| start + Duration::from_secs(seconds);
        assert_eq!(throttle.admit(at(0)), Some(1));
        assert_eq!(throttle.admit(at(1)), None);
        assert_eq!(throttle.admit(at(9)), None);
        assert_eq!(throttle.admit(at(10)), Some(3));
        assert_eq!(throttle.admit(at(19)), None);
        assert_eq!(throttle.admit(at(45)), Some(2));
        // A clock read before the last one logged (another thread's) is within the interval.
        assert_eq!(throttle.admit(at(44)), None);
        assert_eq!(throttle.admit(at(55)), Some(2));
    }
}
