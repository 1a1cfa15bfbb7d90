//! Warnings about a fault that repeats on every request (a broker down, a flood of
//! connections) let through at most once per interval, each with the count of occurrences
//! since the line before (those held back included): the first says what happened at once,
//! and the rest cannot fill an operator's logs or take the CPU that answering needs. Each
//! kind of occurrence (an error's text) is throttled apart, so that a lasting fault of one
//! kind shows in every interval beside transient ones of another. What was held back after
//! a kind's last line is logged once its interval has passed, by [`log_held_back`], which
//! the server calls every second: a fault's last moments are counted when it ends, not in
//! the line of its next occurrence, which may come days later.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How often a repeated warning is logged at most.
pub const WARN_EVERY: Duration = Duration::from_secs(10);

/// Most kinds of occurrence one throttle tells apart at once; a new kind takes the slot of
/// one that has gone quiet, and while none has, it shares the last one's count (an error
/// whose text varies with each occurrence cannot grow memory).
const KINDS: usize = 8;

/// The kind of the slot that kinds beyond [`KINDS`] share, in its held-back lines.
const SEVERAL_KINDS: &str = "(errors of several kinds)";

/// Writes a throttle's line: the kind (an error's text, or empty) and the occurrences it
/// counts.
pub type Line = fn(kind: &str, occurrences: u64);

/// Every throttle that has counted an occurrence, for [`log_held_back`].
static IN_USE: Mutex<Vec<&'static LogThrottle>> = Mutex::new(Vec::new());

/// One repeated warning's throttle: a `static` beside the code that warns, with its line.
pub struct LogThrottle {
    every: Duration,
    line: Line,
    kinds: Mutex<Vec<Occurrences>>,
    in_use: AtomicBool,
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
    /// A throttle that writes `line` for one occurrence of each kind every `every`, and
    /// for those it held back once their interval has passed.
    pub const fn new(every: Duration, line: Line) -> LogThrottle {
        LogThrottle {
            every,
            line,
            kinds: Mutex::new(Vec::new()),
            in_use: AtomicBool::new(false),
        }
    }

    /// Counts an occurrence and writes the throttle's line for it unless it is held back.
    pub fn warn(&'static self) {
        self.warn_kind("");
    }

    /// As [`LogThrottle::warn`], for each `kind` apart (see [`LogThrottle::admit_kind`]).
    pub fn warn_kind(&'static self, kind: &str) {
        if let Some(occurrences) = self.admit_kind(kind, Instant::now()) {
            (self.line)(kind, occurrences);
        }
    }

    /// Counts an occurrence at `now`, for code that writes its own line with more than the
    /// kind. `Some(n)` when it is to be logged, `n` being the occurrences since the last
    /// line, this one included; `None` when it is held back.
    pub fn admit(&'static self, now: Instant) -> Option<u64> {
        self.admit_kind("", now)
    }

    /// As [`LogThrottle::admit`], for each `kind` apart (an error's text): occurrences of
    /// another kind neither hold this one back nor are counted with it.
    pub fn admit_kind(&'static self, kind: &str, now: Instant) -> Option<u64> {
        if !self.in_use.swap(true, Ordering::Relaxed) {
            IN_USE
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(self);
        }
        self.count(kind, now)
    }

    fn count(&self, kind: &str, now: Instant) -> Option<u64> {
        let mut kinds = self.kinds();
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
                None => {
                    // What it counts from now on is no longer of its first kind alone.
                    let shared = &mut kinds[KINDS - 1];
                    if shared.kind != SEVERAL_KINDS {
                        SEVERAL_KINDS.clone_into(&mut shared.kind);
                    }
                    KINDS - 1
                }
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

    /// The kinds whose occurrences were held back and whose interval has passed at `now`
    /// (every one, with `None`), with their counts; each counts as logged at `now`.
    fn held_back(&self, now: Option<Instant>) -> Vec<(String, u64)> {
        let mut due = Vec::new();
        for occurrences in self.kinds().iter_mut() {
            let passed = match (now, occurrences.logged_at) {
                (Some(now), Some(at)) => now.saturating_duration_since(at) >= self.every,
                _ => true,
            };
            if occurrences.held_back > 0 && passed {
                occurrences.logged_at = now;
                due.push((
                    occurrences.kind.clone(),
                    std::mem::take(&mut occurrences.held_back),
                ));
            }
        }
        due
    }

    fn kinds(&self) -> std::sync::MutexGuard<'_, Vec<Occurrences>> {
        // A panic elsewhere while holding the lock leaves counts that are still counts.
        self.kinds.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Writes the line of every kind whose occurrences were held back and whose interval has
/// passed, with their count. The server calls it every second.
pub fn log_held_back(now: Instant) {
    log_held_back_of(&in_use(), Some(now));
}

/// Writes the line of every kind whose occurrences were held back, whatever their
/// interval: at exit, so that a restart during a fault loses no count.
pub fn log_all_held_back() {
    log_held_back_of(&in_use(), None);
}

fn in_use() -> Vec<&'static LogThrottle> {
    IN_USE
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
}

fn log_held_back_of(throttles: &[&LogThrottle], now: Option<Instant>) {
    for throttle in throttles {
        for (kind, occurrences) in throttle.held_back(now) {
            (throttle.line)(&kind, occurrences);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A throttle of its own for each test, kept out of the registry (which the last test
    /// flushes) by counting through `count`, what `admit_kind` does once registered.
    fn throttle() -> LogThrottle {
        LogThrottle::new(Duration::from_secs(10), |_, _| {})
    }

    #[test]
    fn lets_one_occurrence_through_per_interval_with_the_count_held_back() {
        let throttle = throttle();
        let start = Instant::now();
        let at = |seconds: u64| start + Duration::from_secs(seconds);
        assert_eq!(throttle.count("", at(0)), Some(1));
        assert_eq!(throttle.count("", at(1)), None);
        assert_eq!(throttle.count("", at(9)), None);
        assert_eq!(throttle.count("", at(10)), Some(3));
        assert_eq!(throttle.count("", at(19)), None);
        assert_eq!(throttle.count("", at(45)), Some(2));
        // A clock read before the last one logged (another thread's) is within the interval.
        assert_eq!(throttle.count("", at(44)), None);
        assert_eq!(throttle.count("", at(55)), Some(2));
    }

    #[test]
    fn each_kind_is_let_through_apart_and_a_flood_of_kinds_shares_a_slot() {
        let throttle = throttle();
        let start = Instant::now();
        let at = |seconds: u64| start + Duration::from_secs(seconds);
        assert_eq!(throttle.count("broker down", at(0)), Some(1));
        assert_eq!(throttle.count("message too large", at(1)), Some(1));
        assert_eq!(throttle.count("broker down", at(2)), None);
        assert_eq!(throttle.count("message too large", at(3)), None);
        assert_eq!(throttle.count("broker down", at(10)), Some(2));
        assert_eq!(throttle.count("message too large", at(11)), Some(2));
        // Texts that differ every time: the first few apart, the rest sharing the last
        // slot while no kind has gone quiet.
        for n in 0..KINDS as u64 - 2 {
            assert_eq!(throttle.count(&format!("error {n}"), at(12)), Some(1));
        }
        assert_eq!(throttle.count("error 6", at(12)), None);
        assert_eq!(throttle.count("error 7", at(13)), None);
        assert_eq!(throttle.kinds.lock().unwrap().len(), KINDS);
        // The kinds kept apart are still apart.
        assert_eq!(throttle.count("broker down", at(14)), None);
        assert_eq!(throttle.count("broker down", at(20)), Some(2));
        // A kind gone quiet (logged at 11, nothing since) gives its slot to a new one.
        assert_eq!(throttle.count("a new error", at(21)), Some(1));
        assert_eq!(throttle.kinds.lock().unwrap().len(), KINDS);
        assert_eq!(throttle.count("a new error", at(22)), None);
        // What the shared slot held back is of several kinds, and its line says so.
        assert_eq!(
            throttle.held_back(Some(at(23))),
            [(SEVERAL_KINDS.to_owned(), 2)]
        );
    }

    #[test]
    fn what_was_held_back_is_due_once_its_interval_has_passed() {
        let throttle = throttle();
        let start = Instant::now();
        let at = |seconds: u64| start + Duration::from_secs(seconds);
        assert_eq!(throttle.count("broker down", at(0)), Some(1));
        assert_eq!(throttle.count("broker down", at(3)), None);
        assert_eq!(throttle.count("broker down", at(4)), None);
        assert_eq!(throttle.count("timeout", at(5)), Some(1));
        assert!(throttle.held_back(Some(at(9))).is_empty());
        assert_eq!(
            throttle.held_back(Some(at(10))),
            [("broker down".to_owned(), 2)]
        );
        assert!(throttle.held_back(Some(at(11))).is_empty());
        // That line counts as one: the next occurrence within its interval waits for the next.
        assert_eq!(throttle.count("broker down", at(12)), None);
        assert!(throttle.held_back(Some(at(19))).is_empty());
        assert_eq!(
            throttle.held_back(Some(at(20))),
            [("broker down".to_owned(), 1)]
        );
        // After a quiet interval the next occurrence counts itself alone, at once.
        assert_eq!(throttle.count("broker down", at(40)), Some(1));
    }

    #[test]
    fn the_held_back_lines_of_every_throttle_in_use_are_written() {
        static LINES: Mutex<Vec<(String, u64)>> = Mutex::new(Vec::new());
        static THROTTLE: LogThrottle = LogThrottle::new(WARN_EVERY, |kind, occurrences| {
            LINES.lock().unwrap().push((kind.to_owned(), occurrences));
        });
        let now = Instant::now();
        assert_eq!(THROTTLE.admit_kind("broker down", now), Some(1));
        assert_eq!(THROTTLE.admit_kind("broker down", now), None);
        assert_eq!(THROTTLE.admit_kind("broker down", now), None);
        log_held_back(now);
        assert!(LINES.lock().unwrap().is_empty());
        log_held_back(now + WARN_EVERY);
        assert_eq!(*LINES.lock().unwrap(), [("broker down".to_owned(), 2)]);
        log_held_back(now + WARN_EVERY * 3);
        assert_eq!(LINES.lock().unwrap().len(), 1);
        // At exit, whatever was held back, its interval passed or not.
        THROTTLE.admit_kind("broker down", now + WARN_EVERY * 3);
        THROTTLE.admit_kind("broker down", now + WARN_EVERY * 3);
        log_all_held_back();
        assert_eq!(LINES.lock().unwrap()[1..], [("broker down".to_owned(), 1)]);
    }
}
