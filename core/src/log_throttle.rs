//! Warnings about a fault that repeats on every request (a broker down, a flood of
//! connections) let through at most once per interval, each with the count of occurrences
//! since the line before (those held back included): the first says what happened at once,
//! and the rest cannot fill an operator's logs or take the CPU that answering needs. What
//! was held back after the last line is counted in the next one, whenever it comes. Each
//! kind of occurrence (an error's text) is throttled apart, so that a lasting fault of one
//! kind shows in every interval beside transient ones of another.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How often a repeated warning is logged at most.
pub const WARN_EVERY: Duration = Duration::from_secs(10);

/// Most kinds of occurrence one throttle tells apart at once; a new kind takes the slot of
/// one that has gone quiet, and while none has, it shares the last one's count (an error
/// whose text varies with each occurrence cannot grow memory).
const KINDS: usize = 8;

/// One repeated warning's throttle: a `static` beside the line that logs it.
pub struct LogThrottle {
    every: Duration,
    kinds: Mutex<Vec<Occurrences>>,
}

struct Occurrences {
    /// The kind: an error's text, or none.
    kind: String,
    /// Occurrences since the last one logged.
    held_back: u64,
    /// When the last one logged was.
    logged_at: Option<Instant>,
}

impl LogThrottle {
    /// A throttle that lets one occurrence of each kind through every `every`.
    pub const fn new(every: Duration) -> LogThrottle {
        LogThrottle {
            every,
            kinds: Mutex::new(Vec::new()),
        }
    }

    /// Counts an occurrence at `now`. `Some(n)` when it is to be logged, `n` being the
    /// occurrences since the last one logged, this one included; `None` when it is held
    /// back.
    pub fn admit(&self, now: Instant) -> Option<u64> {
        self.admit_kind("", now)
    }

    /// As [`LogThrottle::admit`], for each `kind` apart (an error's text): occurrences of
    /// another kind neither hold this one back nor are counted with it.
    pub fn admit_kind(&self, kind: &str, now: Instant) -> Option<u64> {
        // A panic elsewhere while holding the lock leaves counts that are still counts.
        let mut kinds = self.kinds.lock().unwrap_or_else(PoisonError::into_inner);
        let fresh = || Occurrences {
            kind: kind.to_owned(),
            held_back: 0,
            logged_at: None,
        };
        // A kind that has nothing held back and was last logged an interval ago or more
        // has nothing left to say: its slot can go to a new kind.
        let spent = |known: &Occurrences| {
            known.held_back == 0
                && known
                    .logged_at
                    .is_none_or(|at| now.saturating_duration_since(at) >= self.every)
        };
        let index = match kinds.iter().position(|known| known.kind == kind) {
            Some(index) => index,
            None if kinds.len() < KINDS => {
                kinds.push(fresh());
                kinds.len() - 1
            }
            None => match kinds.iter().position(spent) {
                Some(index) => {
                    kinds[index] = fresh();
                    index
                }
                None => KINDS - 1,
            },
        };
        let occurrences = &mut kinds[index];
        occurrences.held_back += 1;
        if occurrences
            .logged_at
            .is_some_and(|at| now.saturating_duration_since(at) < self.every)
        {
            return None;
        }
        occurrences.logged_at = Some(now);
        Some(std::mem::take(&mut occurrences.held_back))
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

    #[test]
    fn each_kind_is_let_through_apart_and_a_flood_of_kinds_shares_a_slot() {
        let throttle = LogThrottle::new(Duration::from_secs(10));
        let start = Instant::now();
        let at = |seconds: u64| start + Duration::from_secs(seconds);
        assert_eq!(throttle.admit_kind("broker down", at(0)), Some(1));
        assert_eq!(throttle.admit_kind("message too large", at(1)), Some(1));
        assert_eq!(throttle.admit_kind("broker down", at(2)), None);
        assert_eq!(throttle.admit_kind("message too large", at(3)), None);
        assert_eq!(throttle.admit_kind("broker down", at(10)), Some(2));
        assert_eq!(throttle.admit_kind("message too large", at(11)), Some(2));
        // Texts that differ every time: the first few apart, the rest sharing the last
        // slot while no kind has gone quiet.
        for n in 0..KINDS as u64 - 2 {
            assert_eq!(throttle.admit_kind(&format!("error {n}"), at(12)), Some(1));
        }
        assert_eq!(throttle.admit_kind("error 6", at(12)), None);
        assert_eq!(throttle.admit_kind("error 7", at(13)), None);
        assert_eq!(throttle.kinds.lock().unwrap().len(), KINDS);
        // The kinds kept apart are still apart.
        assert_eq!(throttle.admit_kind("broker down", at(14)), None);
        assert_eq!(throttle.admit_kind("broker down", at(20)), Some(2));
        // A kind gone quiet (logged at 11, nothing since) gives its slot to a new one.
        assert_eq!(throttle.admit_kind("a new error", at(21)), Some(1));
        assert_eq!(throttle.kinds.lock().unwrap().len(), KINDS);
        assert_eq!(throttle.admit_kind("a new error", at(22)), None);
        // The shared slot's next line counts what it held back of the other texts.
        assert_eq!(throttle.admit_kind("error 5", at(22)), Some(3));
    }
}
