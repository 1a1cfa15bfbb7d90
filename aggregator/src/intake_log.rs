//! Embedded mode's durable intake log: a rating is acknowledged once it is appended to
//! the log and fsync'd, and applied to the ratings store in the background.
//!
//! Writing a rating into the ratings store costs far more than acknowledging it: an
//! update of the random id's index, the listings' indexes and the rollups. The log is
//! a SQLite table appended in id order (`entries`), in its own database file so that
//! appends never wait on the store's writer; the group-commit writer appends whatever
//! queued in one transaction, fsync'd before any caller is answered.
//!
//! The [`Applier`] then moves entries into the store in large transactions, each of
//! which also records the last entry it applied (`intake_position` in the store), so an
//! entry is applied exactly once even if the process dies between the two databases'
//! commits: on restart, the applier continues after the recorded position. Applied
//! entries are then deleted from the log. The applier runs on its own thread at a lower
//! scheduling priority: under a burst, answering citizens comes first and the store
//! catches up after.
//!
//! Readers of the store wait (briefly) for the applier to reach what was durable when
//! they started, so a rating acknowledged a moment ago shows in the next dashboard; see
//! [`LogProgress::wait_for_store`].

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rusqlite::{Connection, params};
use satisfy_core::log_throttle::{LogThrottle, WARN_EVERY};
use tokio::sync::watch;

use crate::model::StoredRating;
use crate::sqlite::{SqliteStore, locked, migrate, open_connection};
use crate::store::{RatingStore, StoreError, WriteOutcome};

/// Schema of the log database.
const MIGRATIONS: &[&str] = &[r#"
    -- AUTOINCREMENT: sequence numbers never go back, even once every entry was deleted,
    -- so they stay comparable with the position the store recorded.
    CREATE TABLE entries (
        seq     INTEGER PRIMARY KEY AUTOINCREMENT,
        record  BLOB NOT NULL
    );
"#];

/// Entries the applier moves in one store transaction.
const APPLY_BATCH: usize = 20_000;

/// Applied entries deleted from the log in one transaction at most: appends wait while
/// one runs (20,000 at once held them 21-32 ms, the slowest answers under load).
const DELETE_CHUNK: i64 = 1_000;

/// Entries durable but not yet applied beyond which new ratings are refused (the caller
/// answers 503 with Retry-After): the disk holds a bounded backlog.
const MAX_BACKLOG: i64 = 1_000_000;

/// Reads that went ahead of the applier; the first line of a burst gives the backlog.
static LATE_READS: LogThrottle = LogThrottle::new(WARN_EVERY, |_, reads| {
    tracing::warn!(
        reads,
        "reads went ahead of the intake log's applier: a dashboard may lack ratings acknowledged a moment ago"
    )
});

/// Nice value of the applier's thread: intake threads run at 0.
const APPLIER_NICENESS: i32 = 10;

/// While ratings keep arriving, the applier pauses this many times as long as it
/// worked after each batch: it then uses at most an eighth of a core, and applies about
/// 9,000 ratings a second. Measured 2026-12-06 under wrk -c64, once the store summed its
/// rollups per transaction (twice as fast): with a quarter of a core, intake's p99 rose
/// from 6-8 ms to 9-12 ms; with an eighth it stayed there and intake answered 14% more
/// ratings a second than before.
const BUSY_PAUSE_FACTOR: u32 = 7;

/// The log's appending side, handed to the group-commit writer as its rating store.
#[derive(Clone)]
pub struct IntakeLog {
    conn: Arc<Mutex<Connection>>,
    durable: Arc<watch::Sender<i64>>,
    progress: LogProgress,
}

/// How far the log was made durable and how far the store applied it.
#[derive(Clone)]
pub struct LogProgress {
    durable: watch::Receiver<i64>,
    applied: watch::Receiver<i64>,
    /// Reads that went ahead of the applier. During a burst's backlog every dashboard
    /// read would warn (35 lines in the benchmark's wait for one backlog).
    late_reads: &'static LogThrottle,
}

impl LogProgress {
    fn new(
        durable: watch::Receiver<i64>,
        applied: watch::Receiver<i64>,
        late_reads: &'static LogThrottle,
    ) -> LogProgress {
        LogProgress {
            durable,
            applied,
            late_reads,
        }
    }

    /// Waits until the store holds every entry that was durable when called, for at most
    /// `within`; returns whether it does. Entries arriving meanwhile are not waited for,
    /// so a reader waits at most for the backlog it found. A read that goes ahead anyway
    /// is warned about, at most once every ten seconds.
    pub async fn wait_for_store(&self, within: Duration) -> bool {
        let target = *self.durable.borrow();
        let mut applied = self.applied.clone();
        let caught_up =
            tokio::time::timeout(within, applied.wait_for(|position| *position >= target))
                .await
                .is_ok_and(|waited| waited.is_ok());
        if !caught_up && let Some(reads) = self.late_reads.admit(Instant::now()) {
            tracing::warn!(
                backlog = self.backlog(),
                reads,
                "reads went ahead of the intake log's applier: a dashboard may lack ratings acknowledged a moment ago"
            );
        }
        caught_up
    }

    /// Entries durable in the log and not yet applied to the store.
    pub fn backlog(&self) -> i64 {
        (*self.durable.borrow() - *self.applied.borrow()).max(0)
    }
}

fn log_error(context: &str) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
    move |error| StoreError(format!("intake log, {context}: {error}"))
}

impl IntakeLog {
    /// Opens (creating if needed) the log at `path` and starts the applier that moves its
    /// entries into `store`, beginning with those a previous run left unapplied.
    pub fn open(path: &Path, store: SqliteStore) -> Result<(IntakeLog, Applier), StoreError> {
        let mut conn = open_connection(path).map_err(log_error("opening"))?;
        migrate(&mut conn, MIGRATIONS).map_err(log_error("migrating"))?;
        let last: i64 = conn
            .query_row("SELECT COALESCE(MAX(seq), 0) FROM entries", [], |row| {
                row.get(0)
            })
            .map_err(log_error("reading the last entry"))?;
        let applied_at_start = store.applied_position()?;
        // Left by a run that stopped between the store's commit and the deletion.
        delete_applied(&conn, applied_at_start)?;
        // An empty log after an applied position: entries up to it were deleted.
        let durable_at_start = last.max(applied_at_start);
        let reader = open_connection(path).map_err(log_error("opening the reader"))?;
        let (durable, durable_rx) = watch::channel(durable_at_start);
        let (applied, applied_rx) = watch::channel(applied_at_start);
        let progress = LogProgress::new(durable_rx.clone(), applied_rx, &LATE_READS);
        let log = IntakeLog {
            conn: Arc::new(Mutex::new(conn)),
            durable: Arc::new(durable),
            progress: progress.clone(),
        };
        let (stop, stopped) = watch::channel(false);
        let applier = Applier::spawn(
            Applying {
                reader,
                log: Arc::clone(&log.conn),
                store,
                durable: durable_rx,
                applied,
                stopped,
                runtime: tokio::runtime::Handle::current(),
            },
            stop,
            progress,
        )?;
        Ok((log, applier))
    }

    fn append(&self, records: &[Vec<u8>]) -> Result<i64, StoreError> {
        let backlog = self.progress.backlog();
        if backlog >= MAX_BACKLOG {
            return Err(StoreError(format!(
                "intake log: {backlog} entries wait to be applied"
            )));
        }
        let mut conn = locked(&self.conn, "intake log")?;
        let tx = conn.transaction().map_err(log_error("begin"))?;
        {
            let mut insert = tx
                .prepare_cached("INSERT INTO entries (record) VALUES (?1)")
                .map_err(log_error("preparing the append"))?;
            for record in records {
                insert.execute([record]).map_err(log_error("appending"))?;
            }
        }
        let last = tx.last_insert_rowid();
        tx.commit().map_err(log_error("commit"))?;
        Ok(last)
    }
}

#[async_trait]
impl RatingStore for IntakeLog {
    /// Appends the batch in one fsync'd transaction: every rating is then durable, and
    /// its outcome (new, update, conflict) is decided when the store applies it.
    async fn write_batch(&self, batch: &[StoredRating]) -> Result<Vec<WriteOutcome>, StoreError> {
        let log = self.clone();
        let records: Vec<Vec<u8>> = batch.iter().map(StoredRating::to_log_record).collect();
        let size = records.len();
        let last = tokio::task::spawn_blocking(move || log.append(&records))
            .await
            .map_err(|error| StoreError(format!("intake log task: {error}")))??;
        self.durable.send_if_modified(|durable| {
            let moved = last > *durable;
            *durable = (*durable).max(last);
            moved
        });
        Ok(vec![WriteOutcome::Logged; size])
    }
}

/// The background thread applying the log to the store; stop it with [`Applier::stop`].
pub struct Applier {
    thread: JoinHandle<()>,
    stop: watch::Sender<bool>,
    progress: LogProgress,
}

impl Applier {
    fn spawn(
        mut applying: Applying,
        stop: watch::Sender<bool>,
        progress: LogProgress,
    ) -> Result<Applier, StoreError> {
        let thread = std::thread::Builder::new()
            .name("intake-log-applier".into())
            .spawn(move || {
                lower_priority();
                applying.run();
            })
            .map_err(|error| StoreError(format!("starting the intake log applier: {error}")))?;
        Ok(Applier {
            thread,
            stop,
            progress,
        })
    }

    /// What readers wait on to see acknowledged ratings.
    pub fn progress(&self) -> LogProgress {
        self.progress.clone()
    }

    /// Stops after the batch being applied; what is left is applied at the next start.
    pub async fn stop(self) {
        self.stop.send_replace(true);
        // The thread ends within one batch; joining it blocks, so off the runtime.
        let thread = self.thread;
        let _ = tokio::task::spawn_blocking(move || thread.join()).await;
    }
}

/// Lowers the calling thread's scheduling priority, so intake threads win the cores
/// under load. Best effort: where it is not allowed, the applier runs at normal priority.
fn lower_priority() {
    // SAFETY: gettid has no preconditions; setpriority with PRIO_PROCESS and a thread id
    // changes that thread's nice value on Linux and touches no memory.
    let result = unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, APPLIER_NICENESS)
    };
    if result != 0 {
        tracing::debug!("the intake log applier keeps the normal priority");
    }
}

/// The applier thread's state.
struct Applying {
    reader: Connection,
    log: Arc<Mutex<Connection>>,
    store: SqliteStore,
    durable: watch::Receiver<i64>,
    applied: watch::Sender<i64>,
    stopped: watch::Receiver<bool>,
    runtime: tokio::runtime::Handle,
}

impl Applying {
    fn run(&mut self) {
        let mut failures = 0u32;
        loop {
            let position = *self.applied.borrow();
            if *self.durable.borrow() <= position {
                if self.wait_for_entries(position) {
                    continue;
                }
                break;
            }
            if *self.stopped.borrow() {
                break;
            }
            let (started, appended_before) = (Instant::now(), *self.durable.borrow());
            match self.apply_after(position) {
                Ok(()) => {
                    failures = 0;
                    // While intake keeps appending, the applier takes at most a share of
                    // a core: citizens' answers come first, the store catches up after.
                    if *self.durable.borrow() > appended_before {
                        std::thread::sleep(started.elapsed() * BUSY_PAUSE_FACTOR);
                    }
                }
                Err(error) => {
                    failures += 1;
                    tracing::error!(%error, failures, "applying the intake log failed; retrying");
                    std::thread::sleep(Duration::from_millis(100 * u64::from(failures.min(50))));
                }
            }
        }
        tracing::info!(
            position = *self.applied.borrow(),
            "intake log applier stopped"
        );
    }

    /// Sleeps until entries after `position` are durable (true) or the applier is
    /// stopped or dropped (false).
    fn wait_for_entries(&mut self, position: i64) -> bool {
        let (mut durable, mut stopped) = (self.durable.clone(), self.stopped.clone());
        self.runtime.block_on(async move {
            tokio::select! {
                more = durable.wait_for(|durable| *durable > position) => more.is_ok(),
                _ = stopped.wait_for(|stop| *stop) => false,
            }
        })
    }

    /// Applies the entries after `position` (one batch), records the new position in
    /// the store's transaction, then deletes them from the log.
    fn apply_after(&mut self, position: i64) -> Result<(), StoreError> {
        let entries: Vec<(i64, Vec<u8>)> = {
            let mut select = self
                .reader
                .prepare_cached(
                    "SELECT seq, record FROM entries WHERE seq > ?1 ORDER BY seq LIMIT ?2",
                )
                .map_err(log_error("preparing the read"))?;
            select
                .query_map(params![position, APPLY_BATCH as i64], |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })
                .and_then(Iterator::collect)
                .map_err(log_error("reading entries"))?
        };
        let Some(&(last, _)) = entries.last() else {
            // Durable entries already deleted: a previous run applied them.
            self.applied.send_replace(*self.durable.borrow());
            return Ok(());
        };
        let span = tracing::info_span!("apply_intake_log", size = entries.len(), last);
        let _entered = span.enter();
        let mut ratings = Vec::with_capacity(entries.len());
        for (seq, record) in &entries {
            match StoredRating::from_log_record(record) {
                Ok(stored) => ratings.push(stored),
                // Written by this binary after validation: only a format change could
                // make one unreadable. It is skipped, loudly, rather than block the rest.
                Err(error) => tracing::error!(seq, %error, "unreadable intake log entry skipped"),
            }
        }
        let outcomes = self.store.apply_logged(&ratings, last)?;
        let count = |of: WriteOutcome| outcomes.iter().filter(|outcome| **outcome == of).count();
        let conflicts = count(WriteOutcome::Conflict);
        if conflicts > 0 {
            tracing::warn!(
                conflicts,
                "ratings whose id belongs to another entrypoint were not stored"
            );
        }
        let erased = count(WriteOutcome::Erased);
        if erased > 0 {
            tracing::info!(
                erased,
                "ratings their tenant erased (deleted on request) were not stored again"
            );
        }
        self.applied.send_replace(last);
        // In chunks, each a commit of its own that appends wait for; a chunk that failed
        // is deleted with the next batch's first.
        let mut through = position;
        while through < last {
            through = (through + DELETE_CHUNK).min(last);
            delete_applied(&*locked(&self.log, "intake log")?, through)?;
        }
        Ok(())
    }
}

/// Deletes the log's entries through `through`, applied to the store.
fn delete_applied(log: &Connection, through: i64) -> Result<(), StoreError> {
    log.prepare_cached("DELETE FROM entries WHERE seq <= ?1")
        .and_then(|mut delete| delete.execute([through]))
        .map_err(log_error("deleting applied entries"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_read_ahead_of_the_applier_goes_through_the_warnings_throttle() {
        // A throttle of its own for each, as each server has the one static.
        let throttle = || &*Box::leak(Box::new(LogThrottle::new(WARN_EVERY, |_, _| {})));
        let (_durable, durable_rx) = watch::channel(5);
        let (applied, applied_rx) = watch::channel(0);
        let progress = LogProgress::new(durable_rx, applied_rx, throttle());

        // Caught up: nothing to warn about.
        applied.send_replace(5);
        assert!(progress.wait_for_store(Duration::from_millis(20)).await);
        assert_eq!(progress.late_reads.admit(Instant::now()), Some(1));

        let ((_durable, durable_rx), (_applied, applied_rx)) =
            (watch::channel(5), watch::channel(0));
        let progress = LogProgress::new(durable_rx, applied_rx, throttle());
        assert!(!progress.wait_for_store(Duration::from_millis(20)).await);
        // The late read was warned about: the next occurrence is held back.
        assert_eq!(progress.late_reads.admit(Instant::now()), None);
    }
}
