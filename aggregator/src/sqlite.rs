//! The embedded backend: one SQLite database in WAL mode.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};
use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::buckets::{
    AnswerBuckets, DAY_MS, DaySplit, Granularity, OptionCounts, SLOT_MS, bucketize,
};
use crate::intake_log::LogProgress;
use crate::kpi::{Application, ApplicationStep, KpiInput, KpiScope};
use crate::model::like_pattern;
use crate::model::{
    AnswerBucket, AnswerCount, Bucket, Filter, PageChange, PageCount, PageEvidence, PageRanking,
    PageStats, RatingCursor, RatingQuery, RatingRow, StoredEvent, StoredRating, Tally,
};
use crate::store::{
    AnalyticsQuery, Erasure, EventStore, Expired, RatingStore, StoreError, WriteOutcome, service_of,
};
use satisfy_core::event::{ApplicationState, EventKind, ServiceEvent};
use satisfy_core::{OTHER_POSITIVE, TenantId, answer_key, answer_of_key};

/// Ordered schema migrations; each runs once, recorded in `schema_migrations`.
const MIGRATIONS: &[&str] = &[
    r#"
    CREATE TABLE ratings (
        id          TEXT PRIMARY KEY,
        tenant      TEXT NOT NULL,
        entrypoint  TEXT NOT NULL,
        page        TEXT NOT NULL,
        stars       INTEGER NOT NULL CHECK (stars BETWEEN 1 AND 5),
        comment     TEXT,
        lang        TEXT NOT NULL,
        widget      TEXT,
        created_at  INTEGER NOT NULL,
        updated_at  INTEGER NOT NULL,
        version     INTEGER NOT NULL
    );
    CREATE INDEX ratings_tenant_created ON ratings (tenant, created_at);
    CREATE INDEX ratings_entrypoint_created ON ratings (entrypoint, created_at);
    CREATE TABLE rating_answers (
        rating_id   TEXT NOT NULL REFERENCES ratings (id) ON DELETE CASCADE,
        option_id   TEXT NOT NULL,
        PRIMARY KEY (rating_id, option_id)
    );
"#,
    r#"
    -- Platform events (docs/KPIS.md), each (tenant, source, id) once, as first received.
    CREATE TABLE events (
        tenant          TEXT NOT NULL,
        source          TEXT NOT NULL,
        id              TEXT NOT NULL,
        type            TEXT NOT NULL,
        subject         TEXT NOT NULL,
        time_ms         INTEGER NOT NULL,
        received_at_ms  INTEGER NOT NULL,
        body            TEXT NOT NULL,
        PRIMARY KEY (tenant, source, id)
    ) WITHOUT ROWID;
"#,
    r#"
    -- A KPI page reads one service's events: the service each event names, and its name.
    ALTER TABLE events ADD COLUMN service TEXT;
    ALTER TABLE events ADD COLUMN service_name TEXT;
    UPDATE events SET service = json_extract(body, '$.data.service'),
                      service_name = json_extract(body, '$.data.service_name');
    CREATE INDEX events_service ON events (tenant, service, time_ms, service_name);
    CREATE INDEX events_subject ON events (tenant, source, subject);
"#,
    r#"
    -- What a KPI page reads of each application, typed and stored in the page's order
    -- (service, application, time), so that a page reads one range and parses no JSON.
    -- A row is written with its event's first copy only.
    CREATE TABLE application_steps (
        tenant              TEXT NOT NULL,
        service             TEXT NOT NULL,
        source              TEXT NOT NULL,
        subject             TEXT NOT NULL,
        time_ms             INTEGER NOT NULL,
        id                  TEXT NOT NULL,
        state               TEXT NOT NULL,
        office              TEXT,
        legal_deadline_days INTEGER,
        PRIMARY KEY (tenant, service, source, subject, time_ms, id)
    ) WITHOUT ROWID;
    INSERT INTO application_steps
        SELECT tenant, service, source, subject, time_ms, id, json_extract(body, '$.data.state'),
               json_extract(body, '$.data.office'), json_extract(body, '$.data.legal_deadline_days')
        FROM events WHERE type = 'it.satisfy.application.status';
    CREATE INDEX events_service_type ON events (tenant, service, type);
"#,
    r#"
    -- Listings and exports page newest first by (created_at, id): with id in the index,
    -- a page is one backward index walk stopping at its limit.
    DROP INDEX ratings_tenant_created;
    CREATE INDEX ratings_tenant_created ON ratings (tenant, created_at, id);
    DROP INDEX ratings_entrypoint_created;
    CREATE INDEX ratings_entrypoint_created ON ratings (entrypoint, created_at, id);
"#,
    r#"
    -- Rollups kept exact by triggers as ratings are inserted, changed and deleted, so that
    -- dashboards sum a few rows per period instead of scanning every rating:
    --   rating_slots        ratings per entrypoint, 15-minute UTC slot and stars (buckets
    --                       of any time zone: every offset in use is a multiple of 15 min);
    --   answer_slots        follow-up answers per entrypoint, slot and option;
    --   page_days           ratings per entrypoint, page, UTC day and stars;
    --   negative_page_days  answers chosen with 1-3 stars per entrypoint, page and UTC day.
    -- A rating's entrypoint and first reception never change; its page, stars and answers
    -- may (write_one deletes the old answers before updating the rating, so the answer
    -- triggers see the version the answers belong to).
    CREATE TABLE rating_slots (
        tenant TEXT NOT NULL, entrypoint TEXT NOT NULL, slot INTEGER NOT NULL,
        stars INTEGER NOT NULL, n INTEGER NOT NULL,
        PRIMARY KEY (entrypoint, slot, stars)
    ) WITHOUT ROWID;
    CREATE INDEX rating_slots_tenant ON rating_slots (tenant, slot);
    CREATE TABLE answer_slots (
        tenant TEXT NOT NULL, entrypoint TEXT NOT NULL, slot INTEGER NOT NULL,
        option_id TEXT NOT NULL, n INTEGER NOT NULL,
        PRIMARY KEY (entrypoint, slot, option_id)
    ) WITHOUT ROWID;
    CREATE INDEX answer_slots_tenant ON answer_slots (tenant, slot);
    CREATE TABLE page_days (
        tenant TEXT NOT NULL, entrypoint TEXT NOT NULL, page TEXT NOT NULL,
        day INTEGER NOT NULL, stars INTEGER NOT NULL, n INTEGER NOT NULL,
        PRIMARY KEY (entrypoint, day, page, stars)
    ) WITHOUT ROWID;
    CREATE INDEX page_days_tenant ON page_days (tenant, day);
    CREATE TABLE negative_page_days (
        tenant TEXT NOT NULL, entrypoint TEXT NOT NULL, page TEXT NOT NULL,
        day INTEGER NOT NULL, n INTEGER NOT NULL,
        PRIMARY KEY (entrypoint, day, page)
    ) WITHOUT ROWID;
    CREATE INDEX negative_page_days_tenant ON negative_page_days (tenant, day);

    INSERT INTO rating_slots
        SELECT tenant, entrypoint, created_at / 900000, stars, COUNT(*) FROM ratings
        GROUP BY entrypoint, created_at / 900000, stars;
    INSERT INTO answer_slots
        SELECT r.tenant, r.entrypoint, r.created_at / 900000, a.option_id, COUNT(*)
        FROM rating_answers a JOIN ratings r ON r.id = a.rating_id
        GROUP BY r.entrypoint, r.created_at / 900000, a.option_id;
    INSERT INTO page_days
        SELECT tenant, entrypoint, page, created_at / 86400000, stars, COUNT(*) FROM ratings
        GROUP BY entrypoint, created_at / 86400000, page, stars;
    INSERT INTO negative_page_days
        SELECT r.tenant, r.entrypoint, r.page, r.created_at / 86400000, COUNT(*)
        FROM rating_answers a JOIN ratings r ON r.id = a.rating_id WHERE r.stars <= 3
        GROUP BY r.entrypoint, r.created_at / 86400000, r.page;

    CREATE TRIGGER ratings_rollup_insert AFTER INSERT ON ratings BEGIN
        INSERT INTO rating_slots VALUES
            (NEW.tenant, NEW.entrypoint, NEW.created_at / 900000, NEW.stars, 1)
            ON CONFLICT (entrypoint, slot, stars) DO UPDATE SET n = n + 1;
        INSERT INTO page_days VALUES
            (NEW.tenant, NEW.entrypoint, NEW.page, NEW.created_at / 86400000, NEW.stars, 1)
            ON CONFLICT (entrypoint, day, page, stars) DO UPDATE SET n = n + 1;
    END;
    CREATE TRIGGER ratings_rollup_update AFTER UPDATE OF page, stars ON ratings
    WHEN OLD.page <> NEW.page OR OLD.stars <> NEW.stars BEGIN
        UPDATE rating_slots SET n = n - 1
            WHERE entrypoint = OLD.entrypoint AND slot = OLD.created_at / 900000 AND stars = OLD.stars;
        INSERT INTO rating_slots VALUES
            (NEW.tenant, NEW.entrypoint, NEW.created_at / 900000, NEW.stars, 1)
            ON CONFLICT (entrypoint, slot, stars) DO UPDATE SET n = n + 1;
        UPDATE page_days SET n = n - 1
            WHERE entrypoint = OLD.entrypoint AND day = OLD.created_at / 86400000
              AND page = OLD.page AND stars = OLD.stars;
        INSERT INTO page_days VALUES
            (NEW.tenant, NEW.entrypoint, NEW.page, NEW.created_at / 86400000, NEW.stars, 1)
            ON CONFLICT (entrypoint, day, page, stars) DO UPDATE SET n = n + 1;
    END;
    -- Before the delete: the rating's answers are still there to be counted off (their
    -- own delete trigger then finds no rating and does nothing).
    CREATE TRIGGER ratings_rollup_delete BEFORE DELETE ON ratings BEGIN
        UPDATE rating_slots SET n = n - 1
            WHERE entrypoint = OLD.entrypoint AND slot = OLD.created_at / 900000 AND stars = OLD.stars;
        UPDATE page_days SET n = n - 1
            WHERE entrypoint = OLD.entrypoint AND day = OLD.created_at / 86400000
              AND page = OLD.page AND stars = OLD.stars;
        UPDATE answer_slots SET n = n - 1
            WHERE entrypoint = OLD.entrypoint AND slot = OLD.created_at / 900000
              AND option_id IN (SELECT option_id FROM rating_answers WHERE rating_id = OLD.id);
        UPDATE negative_page_days
            SET n = n - (SELECT COUNT(*) FROM rating_answers WHERE rating_id = OLD.id)
            WHERE OLD.stars <= 3 AND entrypoint = OLD.entrypoint
              AND day = OLD.created_at / 86400000 AND page = OLD.page;
    END;
    CREATE TRIGGER rating_answers_rollup_insert AFTER INSERT ON rating_answers BEGIN
        INSERT INTO answer_slots
            SELECT tenant, entrypoint, created_at / 900000, NEW.option_id, 1
            FROM ratings WHERE id = NEW.rating_id
            ON CONFLICT (entrypoint, slot, option_id) DO UPDATE SET n = n + 1;
        INSERT INTO negative_page_days
            SELECT tenant, entrypoint, page, created_at / 86400000, 1
            FROM ratings WHERE id = NEW.rating_id AND stars <= 3
            ON CONFLICT (entrypoint, day, page) DO UPDATE SET n = n + 1;
    END;
    CREATE TRIGGER rating_answers_rollup_delete AFTER DELETE ON rating_answers BEGIN
        UPDATE answer_slots SET n = n - 1
            WHERE (entrypoint, slot, option_id) IN
                (SELECT entrypoint, created_at / 900000, OLD.option_id
                 FROM ratings WHERE id = OLD.rating_id);
        UPDATE negative_page_days SET n = n - 1
            WHERE (entrypoint, day, page) IN
                (SELECT entrypoint, created_at / 86400000, page
                 FROM ratings WHERE id = OLD.rating_id AND stars <= 3);
    END;
"#,
    r#"
    -- Retention and data subjects' requests delete ratings but keep them counted in the
    -- rollups (which hold no personal data): the deleting transaction holds a row in
    -- rollup_hold, and the delete triggers do nothing while there is one. No other
    -- connection ever sees the row.
    CREATE TABLE rollup_hold (held INTEGER NOT NULL);
    DROP TRIGGER ratings_rollup_delete;
    CREATE TRIGGER ratings_rollup_delete BEFORE DELETE ON ratings
    WHEN NOT EXISTS (SELECT 1 FROM rollup_hold) BEGIN
        UPDATE rating_slots SET n = n - 1
            WHERE entrypoint = OLD.entrypoint AND slot = OLD.created_at / 900000 AND stars = OLD.stars;
        UPDATE page_days SET n = n - 1
            WHERE entrypoint = OLD.entrypoint AND day = OLD.created_at / 86400000
              AND page = OLD.page AND stars = OLD.stars;
        UPDATE answer_slots SET n = n - 1
            WHERE entrypoint = OLD.entrypoint AND slot = OLD.created_at / 900000
              AND option_id IN (SELECT option_id FROM rating_answers WHERE rating_id = OLD.id);
        UPDATE negative_page_days
            SET n = n - (SELECT COUNT(*) FROM rating_answers WHERE rating_id = OLD.id)
            WHERE OLD.stars <= 3 AND entrypoint = OLD.entrypoint
              AND day = OLD.created_at / 86400000 AND page = OLD.page;
    END;
    DROP TRIGGER rating_answers_rollup_delete;
    CREATE TRIGGER rating_answers_rollup_delete AFTER DELETE ON rating_answers
    WHEN NOT EXISTS (SELECT 1 FROM rollup_hold) BEGIN
        UPDATE answer_slots SET n = n - 1
            WHERE (entrypoint, slot, option_id) IN
                (SELECT entrypoint, created_at / 900000, OLD.option_id
                 FROM ratings WHERE id = OLD.rating_id);
        UPDATE negative_page_days SET n = n - 1
            WHERE (entrypoint, day, page) IN
                (SELECT entrypoint, created_at / 86400000, page
                 FROM ratings WHERE id = OLD.rating_id AND stars <= 3);
    END;
"#,
    r#"
    -- Embedded mode's intake log (intake_log.rs): the last log entry applied here,
    -- written in the same transaction as the ratings it applied.
    CREATE TABLE intake_position (
        id       INTEGER PRIMARY KEY CHECK (id = 1),
        applied  INTEGER NOT NULL
    );
    INSERT INTO intake_position (id, applied) VALUES (1, 0);
"#,
    r#"
    -- What tenants erased stays erased (store.rs, Erasure): the ratings deleted on
    -- request, and each tenant's latest retention cutoff. Writes refuse later copies.
    CREATE TABLE erased_ratings (
        id          TEXT NOT NULL,
        tenant      TEXT NOT NULL,
        erased_at   INTEGER NOT NULL,
        PRIMARY KEY (id, tenant)
    ) WITHOUT ROWID;
    CREATE TABLE retention_cutoffs (
        tenant      TEXT PRIMARY KEY,
        before_ms   INTEGER NOT NULL
    ) WITHOUT ROWID;
"#,
    r#"
    -- A tenant's dashboards read its entrypoints' key ranges of the rollups (a lookup per
    -- row through a tenant index cost 5 times a range read): every entrypoint that ever
    -- had a rating, added as its first rollup row is.
    CREATE TABLE rollup_entrypoints (
        tenant      TEXT NOT NULL,
        entrypoint  TEXT NOT NULL,
        PRIMARY KEY (tenant, entrypoint)
    ) WITHOUT ROWID;
    INSERT INTO rollup_entrypoints SELECT DISTINCT tenant, entrypoint FROM rating_slots;
    CREATE TRIGGER rating_slots_entrypoint AFTER INSERT ON rating_slots BEGIN
        INSERT OR IGNORE INTO rollup_entrypoints VALUES (NEW.tenant, NEW.entrypoint);
    END;
    DROP INDEX rating_slots_tenant;
    DROP INDEX answer_slots_tenant;
    DROP INDEX page_days_tenant;
    DROP INDEX negative_page_days_tenant;
"#,
    r#"
    -- The writer keeps the rollups exact itself, adding each transaction's net changes
    -- once per row (RollupChanges): triggers firing for every rating cost the applier
    -- about half its time. Deletions (retention, data subjects' requests) keep ratings
    -- counted, so they need no trigger either, nor the hold that silenced them.
    DROP TRIGGER ratings_rollup_insert;
    DROP TRIGGER ratings_rollup_update;
    DROP TRIGGER ratings_rollup_delete;
    DROP TRIGGER rating_answers_rollup_insert;
    DROP TRIGGER rating_answers_rollup_delete;
    DROP TABLE rollup_hold;
"#,
    r#"
    -- The official questions share the option id `other`: "Other" chosen after 4 or 5
    -- stars is counted apart, as `other_positive` (satisfy_core::answer_key). The ratings
    -- still stored move their count; those deleted (retention, requests) stay in `other`.
    -- (tests/sqlite_backend.rs runs it again as the last migration.)
    CREATE TEMP TABLE moved_other AS
        SELECT r.tenant, r.entrypoint, r.created_at / 900000 AS slot, COUNT(*) AS n
        FROM rating_answers a JOIN ratings r ON r.id = a.rating_id
        WHERE a.option_id = 'other' AND r.stars > 3
        GROUP BY r.tenant, r.entrypoint, slot;
    UPDATE answer_slots SET n = n - (
        SELECT m.n FROM moved_other m
        WHERE m.entrypoint = answer_slots.entrypoint AND m.slot = answer_slots.slot)
    WHERE option_id = 'other' AND EXISTS (
        SELECT 1 FROM moved_other m
        WHERE m.entrypoint = answer_slots.entrypoint AND m.slot = answer_slots.slot);
    INSERT INTO answer_slots (tenant, entrypoint, slot, option_id, n)
        SELECT tenant, entrypoint, slot, 'other_positive', n FROM moved_other WHERE true
        ON CONFLICT (entrypoint, slot, option_id) DO UPDATE SET n = n + excluded.n;
    DELETE FROM answer_slots WHERE option_id = 'other' AND n = 0;
    DROP TABLE moved_other;
"#,
];

/// Applies pending migrations of `migrations` to `conn`; shared with the console's store.
pub fn migrate(conn: &mut Connection, migrations: &[&str]) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL DEFAULT (unixepoch()))",
    )?;
    let applied: i64 = conn.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
        [],
        |row| row.get(0),
    )?;
    for (index, sql) in migrations.iter().enumerate() {
        let version = index as i64 + 1;
        if version > applied {
            let tx = conn.transaction()?;
            tx.execute_batch(sql)?;
            tx.execute(
                "INSERT INTO schema_migrations (version) VALUES (?1)",
                [version],
            )?;
            tx.commit()?;
            tracing::info!(version, "applied schema migration");
        }
    }
    Ok(())
}

/// Opens a SQLite database with the settings every Satisfy database uses: WAL, full
/// fsync on commit (an acknowledged write survives power loss), foreign keys on.
pub fn open_connection(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;
         PRAGMA busy_timeout = 5000;",
    )?;
    Ok(conn)
}

/// Page cache of each ratings connection, in KiB.
const CACHE_KIB: u32 = 64 * 1024;

/// Ratings in SQLite: one connection writes, others read, so dashboards never wait on
/// inserts (WAL lets them run side by side).
#[derive(Clone)]
pub struct SqliteStore {
    writer: Arc<Mutex<Connection>>,
    /// A dashboard's queries run side by side, each on an idle reader (one per core,
    /// 2 to 4): a page waits for its slowest query, not for their sum.
    readers: Arc<[Mutex<Connection>]>,
    /// Where the next read starts looking for an idle reader.
    next_reader: Arc<AtomicUsize>,
    /// With an intake log in front: what reads and erasures wait for.
    log: Option<LogProgress>,
}

/// Longest a read or an erasure waits for the intake log's applier to store what was
/// acknowledged before it; past that it goes on with what is stored.
const LOG_WAIT: Duration = Duration::from_secs(1);

fn store_error(context: &str) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
    move |error| StoreError(format!("{context}: {error}"))
}

/// Locks a connection shared between tasks; `name` says which in the error.
pub(crate) fn locked<'a>(
    conn: &'a Mutex<Connection>,
    name: &str,
) -> Result<MutexGuard<'a, Connection>, StoreError> {
    conn.lock()
        .map_err(|_| StoreError(format!("{name} lock poisoned")))
}

/// The first idle reader from `start` on, or, when all are busy, the one at `start` once
/// it is free.
fn idle_reader(
    readers: &[Mutex<Connection>],
    start: usize,
) -> Result<MutexGuard<'_, Connection>, StoreError> {
    let count = readers.len();
    for offset in 0..count {
        if let Ok(conn) = readers[(start + offset) % count].try_lock() {
            return Ok(conn);
        }
    }
    locked(&readers[start % count], "ratings reader")
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and migrates it.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let mut writer = open_connection(path).map_err(store_error("opening ratings database"))?;
        migrate(&mut writer, MIGRATIONS).map_err(store_error("migrating ratings database"))?;
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        let readers = (0..cores.clamp(2, 4))
            .map(|_| open_connection(path).map_err(store_error("opening a ratings reader")))
            .collect::<Result<Vec<_>, _>>()?;
        // Ratings' ids are random, so every insert touches a random leaf of the id index:
        // with SQLite's default 2 MiB cache a large table spills a page out and reads one
        // back per index per insert (measured: 5 reads and 5 writes per rating at 1M).
        // The cache grows only as pages are used.
        for conn in std::iter::once(&writer).chain(&readers) {
            conn.execute_batch(&format!("PRAGMA cache_size = -{CACHE_KIB};"))
                .map_err(store_error("sizing the page cache"))?;
        }
        Ok(SqliteStore {
            writer: Arc::new(Mutex::new(writer)),
            readers: readers.into_iter().map(Mutex::new).collect(),
            next_reader: Arc::default(),
            log: None,
        })
    }

    /// This store behind an intake log: its reads and erasures first wait (up to a
    /// second) for the ratings acknowledged before them to be applied.
    pub fn behind_log(self, progress: LogProgress) -> SqliteStore {
        SqliteStore {
            log: Some(progress),
            ..self
        }
    }

    async fn wait_for_log(&self) {
        if let Some(progress) = &self.log {
            progress.wait_for_store(LOG_WAIT).await;
        }
    }

    /// The last intake log entry applied to this store (0 for none).
    pub fn applied_position(&self) -> Result<i64, StoreError> {
        let conn = locked(&self.writer, "ratings writer")?;
        conn.query_row("SELECT applied FROM intake_position", [], |row| row.get(0))
            .map_err(store_error("reading the intake log position"))
    }

    /// Writes ratings read from the intake log, through entry `through`, in one
    /// transaction that also records `through` as applied. Blocking: the applier calls it
    /// from its own thread.
    pub fn apply_logged(
        &self,
        batch: &[StoredRating],
        through: i64,
    ) -> Result<Vec<WriteOutcome>, StoreError> {
        write_ratings(&self.writer, batch, Some(through))
    }

    async fn read<T: Send + 'static>(
        &self,
        context: &'static str,
        query: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.wait_for_log().await;
        let readers = Arc::clone(&self.readers);
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
        tokio::task::spawn_blocking(move || {
            let conn = idle_reader(&readers, start)?;
            query(&conn).map_err(store_error(context))
        })
        .await
        .map_err(|error| StoreError(format!("{context}: {error}")))?
    }
}

fn write_one<'a>(
    tx: &rusqlite::Transaction<'_>,
    cutoffs: &mut Cutoffs<'_, '_>,
    rollups: &mut RollupChanges<'a>,
    stored: &'a StoredRating,
) -> rusqlite::Result<WriteOutcome> {
    let rating = &stored.rating;
    let id = rating.id.to_string();
    let previous: Option<(String, i64, String, u8)> = tx
        .prepare_cached("SELECT entrypoint, created_at, page, stars FROM ratings WHERE id = ?1")?
        .query_row([&id], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
        })
        .optional()?;
    let comment = rating.comment.as_ref().map(|c| c.as_str());
    let version = Counted {
        tenant: stored.tenant.as_str(),
        entrypoint: rating.entrypoint.as_str(),
        page: Cow::Borrowed(rating.page.as_str()),
        stars: rating.rating.get(),
        created_at: stored.received_at_ms,
    };
    let (outcome, version) = match previous {
        Some((owner, ..)) if owner != version.entrypoint => return Ok(WriteOutcome::Conflict),
        _ if erased(tx, cutoffs, stored, previous.is_some())? => return Ok(WriteOutcome::Erased),
        Some((_, created_at, page, stars)) => {
            let replaced = Counted {
                page: Cow::Owned(page),
                stars,
                created_at,
                ..version
            };
            let mut answers = tx.prepare_cached(
                "DELETE FROM rating_answers WHERE rating_id = ?1 RETURNING option_id",
            )?;
            let mut answers = answers.query([&id])?;
            while let Some(answer) = answers.next()? {
                rollups.count_answer(&replaced, Cow::Owned(answer.get(0)?), -1);
            }
            rollups.count_rating(&replaced, -1);
            tx.prepare_cached(
                "UPDATE ratings SET page = ?2, stars = ?3, comment = ?4, lang = ?5, widget = ?6,
                 updated_at = ?7, version = version + 1 WHERE id = ?1",
            )?
            .execute(params![
                id,
                rating.page.as_str(),
                rating.rating.get(),
                comment,
                rating.lang.code(),
                rating.widget,
                stored.received_at_ms
            ])?;
            // A rating keeps its first reception: its slot and day do not move.
            (
                WriteOutcome::Updated,
                Counted {
                    created_at,
                    ..version
                },
            )
        }
        None => {
            tx.prepare_cached(
                "INSERT INTO ratings (id, tenant, entrypoint, page, stars, comment, lang, widget,
                 created_at, updated_at, version) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, 1)",
            )?
            .execute(params![
                id,
                stored.tenant.as_str(),
                rating.entrypoint.as_str(),
                rating.page.as_str(),
                rating.rating.get(),
                comment,
                rating.lang.code(),
                rating.widget,
                stored.received_at_ms
            ])?;
            (WriteOutcome::Inserted, version)
        }
    };
    rollups.count_rating(&version, 1);
    let mut insert_answer = tx.prepare_cached(
        "INSERT OR IGNORE INTO rating_answers (rating_id, option_id) VALUES (?1, ?2)",
    )?;
    for answer in &rating.answers {
        if insert_answer.execute(params![id, answer])? == 1 {
            rollups.count_answer(&version, Cow::Borrowed(answer.as_str()), 1);
        }
    }
    Ok(outcome)
}

/// A version of a rating as the rollups count it.
struct Counted<'a> {
    tenant: &'a str,
    entrypoint: &'a str,
    page: Cow<'a, str>,
    stars: u8,
    /// First reception, in ms: it places the rating in its slot and day.
    created_at: i64,
}

/// What one write transaction changes in the rollups, each row's net change summed in
/// memory and added once at its end ([`RollupChanges::store`]). Triggers adding to a row
/// for every rating cost the applier about half its time: each trigger's upsert, and the
/// statement journal SQLite keeps for every statement that fires one.
#[derive(Default)]
struct RollupChanges<'a> {
    /// `rating_slots`: by tenant, entrypoint, slot and stars.
    slots: HashMap<(&'a str, &'a str, i64, u8), i64>,
    /// `page_days`: by tenant, entrypoint, page, day and stars.
    page_days: HashMap<(&'a str, &'a str, Cow<'a, str>, i64, u8), i64>,
    /// `answer_slots`: by tenant, entrypoint, slot and option.
    answer_slots: HashMap<(&'a str, &'a str, i64, Cow<'a, str>), i64>,
    /// `negative_page_days` (answers chosen with 1 to 3 stars): by tenant, entrypoint,
    /// page and day.
    negative_page_days: HashMap<(&'a str, &'a str, Cow<'a, str>, i64), i64>,
}

/// Ratings of this many stars or fewer are negative: their answers say what went wrong.
const NEGATIVE_STARS: u8 = 3;

impl Counted<'_> {
    fn slot(&self) -> i64 {
        self.created_at / SLOT_MS
    }

    fn day(&self) -> i64 {
        self.created_at / DAY_MS
    }
}

impl<'a> RollupChanges<'a> {
    /// Counts `version` in (`change` 1) or out (-1) of the rating rollups.
    fn count_rating(&mut self, version: &Counted<'a>, change: i64) {
        let (tenant, entrypoint, stars) = (version.tenant, version.entrypoint, version.stars);
        *self
            .slots
            .entry((tenant, entrypoint, version.slot(), stars))
            .or_default() += change;
        *self
            .page_days
            .entry((
                tenant,
                entrypoint,
                version.page.clone(),
                version.day(),
                stars,
            ))
            .or_default() += change;
    }

    /// Counts one of `version`'s answers in (`change` 1) or out (-1), under its key
    /// ([`answer_key`]).
    fn count_answer(&mut self, version: &Counted<'a>, option: Cow<'a, str>, change: i64) {
        let (tenant, entrypoint) = (version.tenant, version.entrypoint);
        let key = if answer_key(version.stars, &option) == OTHER_POSITIVE {
            Cow::Borrowed(OTHER_POSITIVE)
        } else {
            option
        };
        *self
            .answer_slots
            .entry((tenant, entrypoint, version.slot(), key))
            .or_default() += change;
        if version.stars <= NEGATIVE_STARS {
            *self
                .negative_page_days
                .entry((tenant, entrypoint, version.page.clone(), version.day()))
                .or_default() += change;
        }
    }

    /// Adds every row's net change to the rollups, in the transaction that wrote them.
    fn store(&self, tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<()> {
        add_changes(
            tx,
            "INSERT INTO rating_slots (tenant, entrypoint, slot, stars, n) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (entrypoint, slot, stars) DO UPDATE SET n = n + excluded.n",
            &self.slots,
            |(tenant, entrypoint, slot, stars), n| [tenant as &dyn rusqlite::ToSql, entrypoint, slot, stars, n],
        )?;
        add_changes(
            tx,
            "INSERT INTO page_days (tenant, entrypoint, page, day, stars, n)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (entrypoint, day, page, stars) DO UPDATE SET n = n + excluded.n",
            &self.page_days,
            |(tenant, entrypoint, page, day, stars), n| {
                [
                    tenant as &dyn rusqlite::ToSql,
                    entrypoint,
                    page,
                    day,
                    stars,
                    n,
                ]
            },
        )?;
        add_changes(
            tx,
            "INSERT INTO answer_slots (tenant, entrypoint, slot, option_id, n)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (entrypoint, slot, option_id) DO UPDATE SET n = n + excluded.n",
            &self.answer_slots,
            |(tenant, entrypoint, slot, option), n| {
                [tenant as &dyn rusqlite::ToSql, entrypoint, slot, option, n]
            },
        )?;
        add_changes(
            tx,
            "INSERT INTO negative_page_days (tenant, entrypoint, page, day, n)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (entrypoint, day, page) DO UPDATE SET n = n + excluded.n",
            &self.negative_page_days,
            |(tenant, entrypoint, page, day), n| {
                [tenant as &dyn rusqlite::ToSql, entrypoint, page, day, n]
            },
        )
    }
}

/// Runs `upsert` for each of a rollup's rows whose change is not nil, with the parameters
/// `row` makes of its key and change.
fn add_changes<K, const N: usize>(
    tx: &rusqlite::Transaction<'_>,
    upsert: &str,
    changes: &HashMap<K, i64>,
    row: impl for<'p> Fn(&'p K, &'p i64) -> [&'p dyn rusqlite::ToSql; N],
) -> rusqlite::Result<()> {
    let mut statement = tx.prepare_cached(upsert)?;
    for (key, n) in changes {
        if *n != 0 {
            statement.execute(&row(key, n)[..])?;
        }
    }
    Ok(())
}

/// The tenants' retention cutoffs as one write transaction sees them, each tenant's read
/// once: what was received before a tenant's latest cutoff is deleted and refused.
struct Cutoffs<'t, 'c> {
    tx: &'t rusqlite::Transaction<'c>,
    read: HashMap<String, Option<i64>>,
}

impl<'t, 'c> Cutoffs<'t, 'c> {
    fn of(tx: &'t rusqlite::Transaction<'c>) -> Self {
        Cutoffs {
            tx,
            read: HashMap::new(),
        }
    }

    /// Whether what `tenant` received at `received_at_ms` is before its latest cutoff.
    fn before_cutoff(&mut self, tenant: &str, received_at_ms: i64) -> rusqlite::Result<bool> {
        let cutoff = match self.read.get(tenant) {
            Some(cutoff) => *cutoff,
            None => {
                let cutoff = self
                    .tx
                    .prepare_cached("SELECT before_ms FROM retention_cutoffs WHERE tenant = ?1")?
                    .query_row([tenant], |row| row.get(0))
                    .optional()?;
                self.read.insert(tenant.to_owned(), cutoff);
                cutoff
            }
        };
        Ok(cutoff.is_some_and(|cutoff| received_at_ms < cutoff))
    }
}

/// Whether the tenant erased this version of a rating: received before its retention
/// cutoff, or, for a rating not stored (`stored_already` false), deleted on request.
fn erased(
    tx: &rusqlite::Transaction<'_>,
    cutoffs: &mut Cutoffs<'_, '_>,
    stored: &StoredRating,
    stored_already: bool,
) -> rusqlite::Result<bool> {
    let tenant = stored.tenant.as_str();
    if cutoffs.before_cutoff(tenant, stored.received_at_ms)? {
        return Ok(true);
    }
    if stored_already {
        return Ok(false);
    }
    tx.prepare_cached("SELECT EXISTS (SELECT 1 FROM erased_ratings WHERE id = ?1 AND tenant = ?2)")?
        .query_row(params![stored.rating.id.to_string(), tenant], |row| {
            row.get(0)
        })
}

/// Writes `batch` in one transaction which, for ratings from the intake log, also records
/// the last log entry applied.
fn write_ratings(
    writer: &Mutex<Connection>,
    batch: &[StoredRating],
    log_position: Option<i64>,
) -> Result<Vec<WriteOutcome>, StoreError> {
    let mut conn = locked(writer, "ratings writer")?;
    let tx = conn.transaction().map_err(store_error("begin"))?;
    let mut cutoffs = Cutoffs::of(&tx);
    let mut rollups = RollupChanges::default();
    let outcomes = batch
        .iter()
        .map(|stored| write_one(&tx, &mut cutoffs, &mut rollups, stored))
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(store_error("writing ratings"))?;
    rollups
        .store(&tx)
        .map_err(store_error("adding to the rollups"))?;
    if let Some(position) = log_position {
        tx.execute("UPDATE intake_position SET applied = ?1", [position])
            .map_err(store_error("recording the intake log position"))?;
    }
    tx.commit().map_err(store_error("commit"))?;
    Ok(outcomes)
}

#[async_trait]
impl RatingStore for SqliteStore {
    async fn write_batch(&self, batch: &[StoredRating]) -> Result<Vec<WriteOutcome>, StoreError> {
        let writer = Arc::clone(&self.writer);
        let batch = batch.to_vec();
        tokio::task::spawn_blocking(move || write_ratings(&writer, &batch, None))
            .await
            .map_err(|error| StoreError(format!("writer task: {error}")))?
    }
}

/// Rows one erasure transaction deletes at most, so that intake never waits long on the
/// writer between them.
const ERASURE_CHUNK: i64 = 5_000;

impl SqliteStore {
    /// Runs `work` with the writer once the intake log is applied: a rating still in the
    /// log would otherwise come back once applied.
    async fn after_log<T: Send + 'static>(
        &self,
        context: &'static str,
        work: impl FnOnce(&Mutex<Connection>) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.wait_for_log().await;
        let writer = Arc::clone(&self.writer);
        tokio::task::spawn_blocking(move || work(&writer))
            .await
            .map_err(|error| StoreError(format!("{context}: {error}")))?
    }

    /// Runs `erase` (which changes at most [`ERASURE_CHUNK`] rows) in transactions on the
    /// writer until it changes fewer: nothing is left then. The rollups keep what it
    /// deletes counted.
    /// Returns the rows changed in all.
    async fn erase_in_chunks(
        &self,
        context: &'static str,
        erase: impl Fn(&rusqlite::Transaction<'_>) -> rusqlite::Result<usize> + Send + 'static,
    ) -> Result<u64, StoreError> {
        self.after_log(context, move |writer| {
            let mut total = 0u64;
            loop {
                let mut conn = locked(writer, "ratings writer")?;
                let tx = conn.transaction().map_err(store_error("begin"))?;
                let changed = erase(&tx).map_err(store_error(context))?;
                tx.commit().map_err(store_error("commit"))?;
                total += changed as u64;
                if (changed as i64) < ERASURE_CHUNK {
                    return Ok(total);
                }
            }
        })
        .await
    }

    /// Records `before_ms` as the tenant's retention cutoff (the latest of those given),
    /// and forgets the ratings it deleted on request before it: copies received before the
    /// cutoff are refused by the cutoff itself.
    async fn record_cutoff(&self, tenant: &TenantId, before_ms: i64) -> Result<(), StoreError> {
        let owner = tenant.as_str().to_owned();
        self.after_log("recording the retention cutoff", move |writer| {
            let mut conn = locked(writer, "ratings writer")?;
            let tx = conn.transaction().map_err(store_error("begin"))?;
            (|| {
                tx.prepare_cached(
                    "INSERT INTO retention_cutoffs (tenant, before_ms) VALUES (?1, ?2)
                     ON CONFLICT (tenant) DO UPDATE SET before_ms = max(before_ms, excluded.before_ms)",
                )?
                .execute(params![owner, before_ms])?;
                tx.prepare_cached("DELETE FROM erased_ratings WHERE tenant = ?1 AND erased_at < ?2")?
                    .execute(params![owner, before_ms])
            })()
            .map_err(store_error("recording the retention cutoff"))?;
            tx.commit().map_err(store_error("commit"))
        })
        .await
    }
}

#[async_trait]
impl Erasure for SqliteStore {
    async fn expire(&self, tenant: &TenantId, before_ms: i64) -> Result<Expired, StoreError> {
        // The cutoff first, so that nothing received before it is written meanwhile.
        self.record_cutoff(tenant, before_ms).await?;
        let owner = tenant.as_str().to_owned();
        let ratings = self
            .erase_in_chunks("expiring ratings", move |tx| {
                tx.prepare_cached(
                    "DELETE FROM ratings WHERE rowid IN (SELECT rowid FROM ratings
                     INDEXED BY ratings_tenant_created
                     WHERE tenant = ?1 AND created_at < ?2 LIMIT ?3)",
                )?
                .execute(params![owner, before_ms, ERASURE_CHUNK])
            })
            .await?;
        let owner = tenant.as_str().to_owned();
        let events = self
            .erase_in_chunks("expiring events", move |tx| {
                tx.prepare_cached(
                    "DELETE FROM events WHERE (tenant, source, id) IN (SELECT tenant, source, id
                     FROM events WHERE tenant = ?1 AND received_at_ms < ?2 LIMIT ?3)",
                )?
                .execute(params![owner, before_ms, ERASURE_CHUNK])
            })
            .await?;
        Ok(Expired { ratings, events })
    }

    async fn delete_rating(&self, tenant: &TenantId, id: uuid::Uuid) -> Result<bool, StoreError> {
        let (owner, id) = (tenant.as_str().to_owned(), id.hyphenated().to_string());
        let erased_at = chrono::Utc::now().timestamp_millis();
        let deleted = self
            .erase_in_chunks("deleting a rating", move |tx| {
                let deleted = tx
                    .prepare_cached("DELETE FROM ratings WHERE id = ?1 AND tenant = ?2")?
                    .execute(params![id, owner])?;
                if deleted > 0 {
                    tx.prepare_cached(
                        "INSERT OR REPLACE INTO erased_ratings (id, tenant, erased_at)
                         VALUES (?1, ?2, ?3)",
                    )?
                    .execute(params![id, owner, erased_at])?;
                }
                Ok(deleted)
            })
            .await?;
        Ok(deleted > 0)
    }

    async fn erase_comments(&self, tenant: &TenantId, text: &str) -> Result<u64, StoreError> {
        let (owner, pattern) = (tenant.as_str().to_owned(), like_pattern(text));
        self.erase_in_chunks("erasing comments", move |tx| {
            tx.prepare_cached(
                "UPDATE ratings SET comment = NULL WHERE rowid IN (SELECT rowid FROM ratings
                 INDEXED BY ratings_tenant_created
                 WHERE tenant = ?1 AND comment LIKE ?2 ESCAPE '\\' LIMIT ?3)",
            )?
            .execute(params![owner, pattern, ERASURE_CHUNK])
        })
        .await
    }
}

#[async_trait]
impl EventStore for SqliteStore {
    async fn write_events(&self, batch: &[StoredEvent]) -> Result<(), StoreError> {
        let writer = Arc::clone(&self.writer);
        let rows: Vec<(StoredEvent, String)> = batch
            .iter()
            .map(|stored| (stored.clone(), stored.event.to_cloudevent().to_string()))
            .collect();
        tokio::task::spawn_blocking(move || {
            let mut conn = locked(&writer, "events writer")?;
            let tx = conn.transaction().map_err(store_error("begin"))?;
            {
                let mut insert = tx
                    .prepare_cached(
                        "INSERT INTO events (tenant, source, id, type, subject, time_ms,
                             received_at_ms, body, service, service_name)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                         ON CONFLICT (tenant, source, id) DO NOTHING",
                    )
                    .map_err(store_error("preparing the event insert"))?;
                let mut step = tx
                    .prepare_cached(
                        "INSERT INTO application_steps (tenant, service, source, subject,
                             time_ms, id, state, office, legal_deadline_days)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                    )
                    .map_err(store_error("preparing the application step insert"))?;
                let mut cutoffs = Cutoffs::of(&tx);
                for (stored, body) in &rows {
                    // A copy of an event retention deleted (a Kafka redelivery).
                    if cutoffs
                        .before_cutoff(stored.tenant.as_str(), stored.received_at_ms)
                        .map_err(store_error("reading the retention cutoff"))?
                    {
                        continue;
                    }
                    let event = &stored.event;
                    let (service, service_name) = service_of(event);
                    let inserted = insert
                        .execute(params![
                            stored.tenant.as_str(),
                            event.source,
                            event.id,
                            event.kind.type_name(),
                            event.subject,
                            event.time_ms,
                            stored.received_at_ms,
                            body,
                            service,
                            service_name
                        ])
                        .map_err(store_error("writing events"))?;
                    if let EventKind::ApplicationStatus {
                        service,
                        office,
                        state,
                        legal_deadline_days,
                        ..
                    } = &event.kind
                        && inserted == 1
                    {
                        step.execute(params![
                            stored.tenant.as_str(),
                            service,
                            event.source,
                            event.subject,
                            event.time_ms,
                            event.id,
                            state.code(),
                            office,
                            legal_deadline_days
                        ])
                        .map_err(store_error("writing application steps"))?;
                    }
                }
            }
            tx.commit().map_err(store_error("commit"))?;
            Ok(())
        })
        .await
        .map_err(|error| StoreError(format!("events writer task: {error}")))?
    }

    async fn tenant_events(&self, tenant: &TenantId) -> Result<Vec<ServiceEvent>, StoreError> {
        let tenant = tenant.as_str().to_owned();
        let bodies: Vec<String> = self
            .read("reading events", move |conn| {
                let mut statement =
                    conn.prepare_cached("SELECT body FROM events WHERE tenant = ?1")?;
                let rows = statement.query_map([tenant], |row| row.get(0))?;
                rows.collect()
            })
            .await?;
        bodies
            .iter()
            .map(|body| decode_stored_event(body))
            .collect()
    }

    async fn service_activity(
        &self,
        tenant: &TenantId,
        service: &str,
    ) -> Result<KpiInput, StoreError> {
        let scope = KpiScope {
            service: Some(service.to_owned()),
            ..KpiScope::default()
        };
        let (tenant, service) = (tenant.as_str().to_owned(), service.to_owned());
        let (applications, bodies) = self
            .read("reading a service's events", move |conn| {
                let mut statement = conn.prepare_cached(
                    "SELECT source, subject, time_ms, state, office, legal_deadline_days
                     FROM application_steps WHERE tenant = ?1 AND service = ?2
                     ORDER BY source, subject, time_ms, id",
                )?;
                let mut rows = statement.query(params![tenant, service])?;
                let mut applications = ApplicationRuns::new(&service);
                while let Some(row) = rows.next()? {
                    applications.push(row)?;
                }
                // Appointments and calendar days: the events naming the service, and the
                // later events of the appointments booked for it (naming no service).
                let mut statement = conn.prepare_cached(
                    // Without statistics the planner would scan the tenant's primary key.
                    "SELECT body FROM events INDEXED BY events_service_type
                     WHERE tenant = ?1 AND service = ?2
                       AND type IN ('it.satisfy.appointment.booked', 'it.satisfy.calendar.day')
                     UNION ALL
                     SELECT e.body FROM events e INDEXED BY events_service
                     WHERE e.tenant = ?1 AND e.service IS NULL AND (e.source, e.subject) IN (
                         SELECT source, subject FROM events INDEXED BY events_service_type
                         WHERE tenant = ?1 AND service = ?2
                           AND type = 'it.satisfy.appointment.booked')",
                )?;
                let bodies = statement
                    .query_map(params![tenant, service], |row| row.get::<_, String>(0))?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                Ok((applications.finish(), bodies))
            })
            .await?;
        let events = bodies
            .iter()
            .map(|body| decode_stored_event(body))
            .collect::<Result<Vec<_>, _>>()?;
        let mut input = KpiInput::from_events(events, &scope);
        input.applications = applications?;
        Ok(input)
    }

    async fn services(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<(String, Option<String>)>, StoreError> {
        let tenant = tenant.as_str().to_owned();
        self.read("listing services", move |conn| {
            // Hops from one service to the next along the (tenant, service, time_ms,
            // service_name) index: a few seeks per service, whatever the number of events.
            let mut statement = conn.prepare_cached(
                "WITH RECURSIVE s(service) AS (
                     SELECT MIN(service) FROM events INDEXED BY events_service
                     WHERE tenant = ?1 AND service IS NOT NULL
                     UNION ALL
                     SELECT (SELECT MIN(service) FROM events INDEXED BY events_service
                             WHERE tenant = ?1 AND service > s.service)
                     FROM s WHERE s.service IS NOT NULL)
                 SELECT s.service, (SELECT e.service_name FROM events e INDEXED BY events_service
                                    WHERE e.tenant = ?1 AND e.service = s.service
                                      AND e.service_name IS NOT NULL
                                    ORDER BY e.time_ms DESC LIMIT 1)
                 FROM s WHERE s.service IS NOT NULL
                 ORDER BY s.service",
            )?;
            let rows = statement.query_map([tenant], |row| Ok((row.get(0)?, row.get(1)?)))?;
            rows.collect()
        })
        .await
    }
}

/// Applications built from `application_steps` rows read in key order: each
/// (`source`, `subject`) is one run of steps in time order.
struct ApplicationRuns {
    service: String,
    entity: Option<(String, String)>,
    applications: Vec<Application>,
    unknown_state: Option<String>,
}

impl ApplicationRuns {
    fn new(service: &str) -> ApplicationRuns {
        ApplicationRuns {
            service: service.to_owned(),
            entity: None,
            applications: Vec::new(),
            unknown_state: None,
        }
    }

    /// Adds a row (source, subject, time_ms, state, office, legal_deadline_days).
    fn push(&mut self, row: &rusqlite::Row<'_>) -> rusqlite::Result<()> {
        let (source, subject) = (row.get_ref(0)?.as_str()?, row.get_ref(1)?.as_str()?);
        let same = self
            .entity
            .as_ref()
            .is_some_and(|(s, t)| s == source && t == subject);
        if !same {
            self.entity = Some((source.to_owned(), subject.to_owned()));
            self.applications.push(Application {
                service: self.service.clone(),
                office: None,
                legal_deadline_days: None,
                steps: Vec::new(),
            });
        }
        let code = row.get_ref(3)?.as_str()?;
        let Some(state) = ApplicationState::parse(code) else {
            self.unknown_state = Some(code.to_owned());
            return Ok(());
        };
        let office: Option<String> = row.get(4)?;
        let deadline: Option<u32> = row.get(5)?;
        if let Some(application) = self.applications.last_mut() {
            application.office = office;
            if deadline.is_some() {
                application.legal_deadline_days = deadline;
            }
            application.steps.push(ApplicationStep {
                time_ms: row.get(2)?,
                state,
            });
        }
        Ok(())
    }

    fn finish(self) -> Result<Vec<Application>, StoreError> {
        match self.unknown_state {
            Some(code) => Err(StoreError(format!(
                "stored application state `{code}` unknown"
            ))),
            None => Ok(self.applications),
        }
    }
}

/// An event as the stores keep it: its canonical CloudEvent, read with typed fields (types,
/// states, instants and required fields checked); anything else goes through the full
/// parser, which refuses it, so a hand-edited row cannot reach the figures.
pub(crate) fn decode_stored_event(body: &str) -> Result<ServiceEvent, StoreError> {
    if let Some(event) = ServiceEvent::from_stored(body) {
        return Ok(event);
    }
    // Not the canonical form: the full parser says what is wrong with it.
    let value: serde_json::Value = serde_json::from_str(body)
        .map_err(|error| StoreError(format!("stored event is not JSON: {error}")))?;
    ServiceEvent::parse(&value, i64::MAX)
        .map_err(|error| StoreError(format!("stored event is invalid: {error}")))
}

/// Named SQL parameters, built alongside the SQL text that uses them.
#[derive(Default)]
struct Params(Vec<(String, rusqlite::types::Value)>);

impl Params {
    /// Adds `value` as `:name` and returns the placeholder.
    fn bind(&mut self, name: &str, value: impl Into<rusqlite::types::Value>) -> String {
        let placeholder = format!(":{name}");
        self.0.push((placeholder.clone(), value.into()));
        placeholder
    }

    fn named(&self) -> Vec<(&str, &dyn rusqlite::ToSql)> {
        self.0
            .iter()
            .map(|(name, value)| (name.as_str(), value as &dyn rusqlite::ToSql))
            .collect()
    }
}

/// The filter's tenant and entrypoint as WHERE conditions, one per kind of table, each
/// letting SQLite read by the table's leading key (`+tenant` keeps the tenant check off
/// the index).
struct Scope {
    /// For `ratings`, which has an index per tenant and one per entrypoint.
    ratings: String,
    /// For the rollup tables, keyed by entrypoint first: a tenant's rows are its
    /// entrypoints' key ranges, listed in `rollup_entrypoints`.
    rollups: String,
}

fn scope(filter: &Filter, params: &mut Params) -> Scope {
    let tenant = params.bind("tenant", filter.tenant.as_str().to_owned());
    match &filter.entrypoint {
        Some(entrypoint) => {
            let entrypoint = params.bind("entrypoint", entrypoint.as_str().to_owned());
            let condition = format!("entrypoint = {entrypoint} AND +tenant = {tenant}");
            Scope {
                ratings: condition.clone(),
                rollups: condition,
            }
        }
        None => Scope {
            ratings: format!("tenant = {tenant}"),
            rollups: format!(
                "entrypoint IN (SELECT entrypoint FROM rollup_entrypoints WHERE tenant = {tenant})
                 AND +tenant = {tenant}"
            ),
        },
    }
}

/// The split rendered as SQLite queries.
impl DaySplit {
    /// `SELECT page, stars, n` over the range within `scoped`: daily rollup rows for the
    /// whole days, one row per rating for the edges. `tag` keeps parameter names apart.
    fn page_rows(&self, scoped: &Scope, tag: &str, params: &mut Params) -> String {
        let (first, end) = (
            params.bind(&format!("{tag}_first_day"), self.first_day),
            params.bind(&format!("{tag}_end_day"), self.end_day),
        );
        let edges = self.edges(tag, params);
        format!(
            "SELECT page, stars, n FROM page_days
             WHERE {} AND day >= {first} AND day < {end}
             UNION ALL
             SELECT page, stars, 1 FROM ratings WHERE {} AND ({edges})",
            scoped.rollups, scoped.ratings
        )
    }

    fn edges(&self, tag: &str, params: &mut Params) -> String {
        let start = params.bind(&format!("{tag}_start"), self.start);
        let inner_start = params.bind(&format!("{tag}_inner_start"), self.inner_start);
        let inner_end = params.bind(&format!("{tag}_inner_end"), self.inner_end);
        let end = params.bind(&format!("{tag}_end"), self.end);
        format!(
            "(created_at >= {start} AND created_at < {inner_start})
             OR (created_at >= {inner_end} AND created_at < {end})"
        )
    }
}

/// The filter's range in 15-minute slots, `[first, end)`: exact, local midnights being
/// whole slots in every time zone in use.
fn slot_range(filter: &Filter, params: &mut Params) -> String {
    let (start, end) = filter.utc_range_ms();
    let first = params.bind("first_slot", start.div_euclid(SLOT_MS));
    let end = params.bind("end_slot", end.div_euclid(SLOT_MS));
    format!("slot >= {first} AND slot < {end}")
}

#[async_trait]
impl AnalyticsQuery for SqliteStore {
    async fn summary(&self, filter: &Filter) -> Result<Tally, StoreError> {
        let mut params = Params::default();
        // One pass in key order: a GROUP BY stars would sort every row first.
        let sql = format!(
            "SELECT SUM(n * (stars = 1)), SUM(n * (stars = 2)), SUM(n * (stars = 3)),
                    SUM(n * (stars = 4)), SUM(n * (stars = 5))
             FROM rating_slots WHERE {} AND {}",
            scope(filter, &mut params).rollups,
            slot_range(filter, &mut params)
        );
        self.read("summary", move |conn| {
            let mut statement = conn.prepare_cached(&sql)?;
            statement.query_row(params.named().as_slice(), |row| {
                let mut tally = Tally::default();
                for stars in 1..=5u8 {
                    let count: Option<u64> = row.get(usize::from(stars) - 1)?;
                    tally.add(stars, count.unwrap_or(0));
                }
                Ok(tally)
            })
        })
        .await
    }

    async fn buckets(
        &self,
        filter: &Filter,
        granularity: Granularity,
    ) -> Result<Vec<Bucket>, StoreError> {
        let mut params = Params::default();
        // Rows as they lie: bucketize sums them per period, which a GROUP BY would only
        // make slower.
        let sql = format!(
            "SELECT slot, stars, n FROM rating_slots WHERE {} AND {}",
            scope(filter, &mut params).rollups,
            slot_range(filter, &mut params)
        );
        let slots = self
            .read("buckets", move |conn| {
                let mut statement = conn.prepare_cached(&sql)?;
                let rows = statement.query_map(params.named().as_slice(), |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get::<_, u8>(1)?,
                        row.get::<_, u64>(2)?,
                    ))
                })?;
                rows.collect::<rusqlite::Result<Vec<_>>>()
            })
            .await?;
        Ok(bucketize(filter, granularity, slots))
    }

    async fn answer_counts(&self, filter: &Filter) -> Result<Vec<AnswerCount>, StoreError> {
        let mut params = Params::default();
        // Summed here, options borrowed from each row: SQLite's GROUP BY on the option
        // would sort every row of the range first.
        let sql = format!(
            "SELECT option_id, n FROM answer_slots WHERE {} AND {}",
            scope(filter, &mut params).rollups,
            slot_range(filter, &mut params)
        );
        let answers = self
            .read("answer counts", move |conn| {
                let mut statement = conn.prepare_cached(&sql)?;
                let mut rows = statement.query(params.named().as_slice())?;
                let mut counts = OptionCounts::default();
                while let Some(row) = rows.next()? {
                    counts.add(row.get_ref(0)?.as_str()?, row.get(1)?);
                }
                Ok(counts)
            })
            .await?
            .into_ranked();
        Ok(answers)
    }

    async fn answer_buckets(
        &self,
        filter: &Filter,
        granularity: Granularity,
    ) -> Result<Vec<AnswerBucket>, StoreError> {
        let mut params = Params::default();
        let sql = format!(
            "SELECT slot, option_id, n FROM answer_slots WHERE {} AND {}",
            scope(filter, &mut params).rollups,
            slot_range(filter, &mut params)
        );
        let mut buckets = AnswerBuckets::new(filter, granularity);
        self.read("answer buckets", move |conn| {
            let mut statement = conn.prepare_cached(&sql)?;
            let mut rows = statement.query(params.named().as_slice())?;
            while let Some(row) = rows.next()? {
                buckets.add(row.get(0)?, row.get_ref(1)?.as_str()?, row.get(2)?);
            }
            Ok(buckets.finish())
        })
        .await
    }

    async fn ratings(
        &self,
        query: &RatingQuery,
        after: Option<&RatingCursor>,
        limit: usize,
    ) -> Result<Vec<RatingRow>, StoreError> {
        let (start, end) = query.filter.utc_range_ms();
        // Only the conditions asked for are written, so the planner walks one index
        // ((tenant or entrypoint), created_at, id) backwards and stops at the limit.
        let mut clauses = vec!["created_at >= :start AND created_at < :end"];
        let mut values: Vec<(&str, rusqlite::types::Value)> =
            vec![(":start", start.into()), (":end", end.into())];
        match &query.filter.entrypoint {
            Some(entrypoint) => {
                clauses.push("entrypoint = :entrypoint AND +tenant = :tenant");
                values.push((":entrypoint", entrypoint.as_str().to_owned().into()));
                values.push((":tenant", query.filter.tenant.as_str().to_owned().into()));
            }
            None => {
                clauses.push("tenant = :tenant");
                values.push((":tenant", query.filter.tenant.as_str().to_owned().into()));
            }
        }
        if !query.stars.is_empty() {
            clauses.push("(:stars >> stars) & 1");
            values.push((":stars", i64::from(query.stars_mask()).into()));
        }
        if let Some(answer) = &query.answer {
            let (option, positive) = answer_of_key(answer);
            clauses.push(
                "EXISTS (SELECT 1 FROM rating_answers a WHERE a.rating_id = ratings.id
                         AND a.option_id = :answer)",
            );
            values.push((":answer", option.to_owned().into()));
            match positive {
                Some(true) => clauses.push("stars > 3"),
                Some(false) => clauses.push("stars <= 3"),
                None => {}
            }
        }
        if let Some(page) = &query.page {
            clauses.push("page = :page");
            values.push((":page", page.clone().into()));
        }
        if let Some(lang) = query.lang {
            clauses.push("lang = :lang");
            values.push((":lang", lang.code().to_owned().into()));
        }
        if let Some(pattern) = query.text_pattern() {
            clauses.push("comment LIKE :text ESCAPE '\\'");
            values.push((":text", pattern.into()));
        }
        if query.with_comment {
            clauses.push("comment IS NOT NULL");
        }
        if let Some(after) = after {
            clauses.push("(created_at, id) < (:after_ms, :after_id)");
            values.push((":after_ms", after.created_at_ms.into()));
            values.push((":after_id", after.id.hyphenated().to_string().into()));
        }
        values.push((":limit", i64::try_from(limit).unwrap_or(i64::MAX).into()));
        let sql = format!(
            "SELECT id, created_at, entrypoint, page, stars, comment, lang,
                    (SELECT json_group_array(option_id) FROM
                       (SELECT option_id FROM rating_answers WHERE rating_id = ratings.id
                        ORDER BY option_id))
             FROM ratings WHERE {}
             ORDER BY created_at DESC, id DESC LIMIT :limit",
            clauses.join(" AND ")
        );
        self.read("ratings", move |conn| {
            let mut statement = conn.prepare_cached(&sql)?;
            let named: Vec<(&str, &dyn rusqlite::ToSql)> = values
                .iter()
                .map(|(name, value)| (*name, value as &dyn rusqlite::ToSql))
                .collect();
            let rows = statement.query_map(named.as_slice(), |row| {
                let id: String = row.get(0)?;
                let answers: String = row.get(7)?;
                Ok(RatingRow {
                    id: uuid::Uuid::parse_str(&id).map_err(|error| {
                        rusqlite::Error::FromSqlConversionFailure(
                            0,
                            rusqlite::types::Type::Text,
                            Box::new(error),
                        )
                    })?,
                    created_at_ms: row.get(1)?,
                    entrypoint: row.get(2)?,
                    page: row.get(3)?,
                    rating: row.get(4)?,
                    comment: row.get(5)?,
                    lang: row.get(6)?,
                    answers: serde_json::from_str(&answers).map_err(|error| {
                        rusqlite::Error::FromSqlConversionFailure(
                            7,
                            rusqlite::types::Type::Text,
                            Box::new(error),
                        )
                    })?,
                })
            })?;
            rows.collect()
        })
        .await
    }

    async fn pages(
        &self,
        filter: &Filter,
        ranking: &PageRanking,
    ) -> Result<Vec<PageStats>, StoreError> {
        let (start, end) = filter.utc_range_ms();
        let mut params = Params::default();
        let scoped = scope(filter, &mut params);
        let rows = DaySplit::of(start, end).page_rows(&scoped, "range", &mut params);
        let min = params.bind(
            "min",
            i64::try_from(ranking.min_ratings).unwrap_or(i64::MAX),
        );
        let limit = params.bind("limit", i64::try_from(ranking.limit).unwrap_or(i64::MAX));
        let (prior_ratings, prior_sum) = (
            PageRanking::PRIOR_RATINGS,
            PageRanking::PRIOR_RATINGS * PageRanking::PRIOR_STARS,
        );
        let sql = format!(
            "WITH counted(page, stars, n) AS ({rows})
             SELECT page, SUM(n * (stars = 1)), SUM(n * (stars = 2)), SUM(n * (stars = 3)),
                    SUM(n * (stars = 4)), SUM(n * (stars = 5)), SUM(n) AS total
             FROM counted GROUP BY page HAVING total >= {min}
             ORDER BY (SUM(n * stars) + {prior_sum}) * 1.0 / (total + {prior_ratings}),
                      total DESC, page
             LIMIT {limit}"
        );
        self.read("pages", move |conn| {
            let mut statement = conn.prepare_cached(&sql)?;
            let rows = statement.query_map(params.named().as_slice(), |row| {
                let mut tally = Tally::default();
                for stars in 1..=5u8 {
                    tally.add(stars, row.get(usize::from(stars))?);
                }
                Ok(PageStats {
                    page: row.get(0)?,
                    tally,
                })
            })?;
            rows.collect()
        })
        .await
    }

    async fn page_changes(
        &self,
        previous: &Filter,
        current: &Filter,
        ranking: &PageRanking,
    ) -> Result<Vec<PageChange>, StoreError> {
        let mut params = Params::default();
        let (was_start, was_end) = previous.utc_range_ms();
        let (now_start, now_end) = current.utc_range_ms();
        // The two periods differ only in dates: one scope serves both.
        let scoped = scope(current, &mut params);
        let was = DaySplit::of(was_start, was_end).page_rows(&scoped, "was", &mut params);
        let now = DaySplit::of(now_start, now_end).page_rows(&scoped, "now", &mut params);
        let min = params.bind(
            "min",
            i64::try_from(ranking.min_ratings).unwrap_or(i64::MAX),
        );
        let limit = params.bind("limit", i64::try_from(ranking.limit).unwrap_or(i64::MAX));
        let per_stars = |period: u8| {
            (1..=5)
                .map(|s| format!("SUM(n * (period = {period} AND stars = {s}))"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let sql = format!(
            "WITH counted(period, page, stars, n) AS (
                 SELECT 0, * FROM ({was}) UNION ALL SELECT 1, * FROM ({now}))
             SELECT page, {}, {} FROM counted GROUP BY page
             HAVING SUM(n * (period = 0)) >= {min} AND SUM(n * (period = 1)) >= {min}
             ORDER BY SUM(n * stars * (period = 0)) * 1.0 / SUM(n * (period = 0))
                    - SUM(n * stars * (period = 1)) * 1.0 / SUM(n * (period = 1)) DESC, page
             LIMIT {limit}",
            per_stars(0),
            per_stars(1)
        );
        self.read("page changes", move |conn| {
            let mut statement = conn.prepare_cached(&sql)?;
            let rows = statement.query_map(params.named().as_slice(), |row| {
                let mut previous = Tally::default();
                let mut current = Tally::default();
                for stars in 1..=5u8 {
                    previous.add(stars, row.get(usize::from(stars))?);
                    current.add(stars, row.get(usize::from(stars) + 5)?);
                }
                Ok(PageChange {
                    page: row.get(0)?,
                    previous,
                    current,
                })
            })?;
            rows.collect()
        })
        .await
    }

    async fn negative_answer_pages(
        &self,
        filter: &Filter,
        limit: usize,
    ) -> Result<Vec<PageCount>, StoreError> {
        let (start, end) = filter.utc_range_ms();
        let split = DaySplit::of(start, end);
        let mut params = Params::default();
        let scoped = scope(filter, &mut params);
        let first = params.bind("first_day", split.first_day);
        let end_day = params.bind("end_day", split.end_day);
        let edges = split.edges("range", &mut params);
        let limit = params.bind("limit", i64::try_from(limit).unwrap_or(i64::MAX));
        let sql = format!(
            "WITH counted(page, n) AS (
                 SELECT page, n FROM negative_page_days
                 WHERE {} AND day >= {first} AND day < {end_day}
                 UNION ALL
                 SELECT page, 1 FROM ratings JOIN rating_answers a ON a.rating_id = ratings.id
                 WHERE {} AND stars <= 3 AND ({edges}))
             SELECT page, SUM(n) AS total FROM counted GROUP BY page HAVING total > 0
             ORDER BY total DESC, page LIMIT {limit}",
            scoped.rollups, scoped.ratings
        );
        self.read("negative answer pages", move |conn| {
            let mut statement = conn.prepare_cached(&sql)?;
            let rows = statement.query_map(params.named().as_slice(), |row| {
                Ok(PageCount {
                    page: row.get(0)?,
                    count: row.get(1)?,
                })
            })?;
            rows.collect()
        })
        .await
    }

    async fn page_evidence(
        &self,
        tenant: &TenantId,
        pages: &[String],
        now_ms: i64,
    ) -> Result<Vec<PageEvidence>, StoreError> {
        let tenant = tenant.as_str().to_owned();
        let pages = serde_json::to_string(pages)
            .map_err(|error| StoreError(format!("page evidence: {error}")))?;
        self.read("page evidence", move |conn| {
            let mut statement = conn.prepare_cached(
                "SELECT page, SUM(created_at >= ?3), SUM(created_at >= ?4), MAX(created_at)
                 FROM ratings WHERE tenant = ?1 AND page IN (SELECT value FROM json_each(?2))
                 GROUP BY page",
            )?;
            let rows = statement.query_map(
                params![tenant, pages, now_ms - 30 * DAY_MS, now_ms - 90 * DAY_MS],
                |row| {
                    Ok(PageEvidence {
                        page: row.get(0)?,
                        last_30_days: row.get(1)?,
                        last_90_days: row.get(2)?,
                        latest_ms: row.get(3)?,
                    })
                },
            )?;
            rows.collect()
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use satisfy_core::{EntrypointKind, Lang, RatingSubmission, Survey, WireRating};
    use serde::Deserialize;

    /// What the rollups must hold, computed from the ratings themselves.
    const FROM_RATINGS: [(&str, &str); 5] = [
        (
            "SELECT tenant, entrypoint FROM rollup_entrypoints",
            "SELECT DISTINCT tenant, entrypoint FROM ratings",
        ),
        (
            "SELECT entrypoint, slot, stars, n FROM rating_slots WHERE n != 0",
            "SELECT entrypoint, created_at / 900000, stars, COUNT(*) FROM ratings
             GROUP BY 1, 2, 3",
        ),
        (
            "SELECT entrypoint, slot, option_id, n FROM answer_slots WHERE n != 0",
            // The positive question's "other" apart (satisfy_core::answer_key).
            "SELECT r.entrypoint, r.created_at / 900000,
                    CASE WHEN a.option_id = 'other' AND r.stars > 3 THEN 'other_positive'
                         ELSE a.option_id END,
                    COUNT(*)
             FROM rating_answers a JOIN ratings r ON r.id = a.rating_id GROUP BY 1, 2, 3",
        ),
        (
            "SELECT entrypoint, day, page, stars, n FROM page_days WHERE n != 0",
            "SELECT entrypoint, created_at / 86400000, page, stars, COUNT(*) FROM ratings
             GROUP BY 1, 2, 3, 4",
        ),
        (
            "SELECT entrypoint, day, page, n FROM negative_page_days WHERE n != 0",
            "SELECT r.entrypoint, r.created_at / 86400000, r.page, COUNT(*)
             FROM rating_answers a JOIN ratings r ON r.id = a.rating_id WHERE r.stars <= 3
             GROUP BY 1, 2, 3",
        ),
    ];

    fn rows(conn: &Connection, sql: &str) -> Vec<String> {
        let mut statement = conn.prepare(sql).unwrap();
        let columns = statement.column_count();
        let mut rows: Vec<String> = statement
            .query_map([], |row| {
                Ok((0..columns)
                    .map(|i| format!("{:?}", row.get::<_, rusqlite::types::Value>(i).unwrap()))
                    .collect::<Vec<_>>()
                    .join("|"))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        rows.sort();
        rows
    }

    #[test]
    fn a_read_takes_another_reader_while_its_first_choice_is_busy() {
        let readers: Vec<Mutex<Connection>> = (0..3)
            .map(|_| Mutex::new(Connection::open_in_memory().unwrap()))
            .collect();
        let first = idle_reader(&readers, 1).unwrap();
        assert!(readers[1].try_lock().is_err(), "the first choice is taken");
        let second = idle_reader(&readers, 1).unwrap();
        assert!(
            readers[2].try_lock().is_err(),
            "the next one goes to the next reader"
        );
        drop((first, second));
        assert!(readers.iter().all(|reader| reader.try_lock().is_ok()));
    }

    #[tokio::test]
    async fn rollups_stay_exact_through_inserts_and_updates() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ratings.db");
        let store = SqliteStore::open(&path).unwrap();
        let survey = Survey::for_kind(EntrypointKind::PaginaWeb, None, Lang::It);
        let options = [
            "unclear",
            "incomplete",
            "technical_problems",
            "clear",
            "complete",
            "other",
        ];
        // A deterministic mix: 600 ids written three times each, with changing stars,
        // pages and answers, over three days and two entrypoints; then a batch writing
        // each of them twice more, and 100 new ids twice each (an insert and its update
        // in one transaction).
        let mut state: u64 = 7;
        let mut next = move |n: u64| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            (state >> 33) % n
        };
        for round in 0..4 {
            let mut batch = Vec::new();
            let (ids, versions) = if round < 3 { (600u64, 1) } else { (700, 2) };
            for (id, version) in (0..ids).flat_map(|id| (0..versions).map(move |v| (id, v))) {
                let stars = next(5) + 1;
                let allowed: Vec<&str> = options
                    .iter()
                    .copied()
                    .filter(|o| {
                        survey
                            .follow_ups
                            .iter()
                            .any(|f| f.is_shown_for(stars as u8) && f.has_option(o))
                    })
                    .collect();
                let answers: Vec<&str> = allowed
                    .iter()
                    .copied()
                    .filter(|_| next(2) == 0)
                    .take(1)
                    .collect();
                let body = serde_json::json!({
                    "id": uuid::Uuid::from_u128(u128::from(id) + 1).to_string(),
                    "entrypoint": if id % 2 == 0 { "ep_AAAAAAAAAAAAAAAA" } else { "ep_BBBBBBBBBBBBBBBB" },
                    "page": format!("https://www.comune.bugliano.it/p{}", next(4)),
                    "rating": stars, "answers": answers, "lang": "it"
                });
                batch.push(StoredRating {
                    rating: RatingSubmission::parse(&WireRating::deserialize(&body).unwrap())
                        .unwrap()
                        .into_rating(&survey)
                        .unwrap(),
                    tenant: TenantId::parse("bugliano").unwrap(),
                    received_at_ms: 1_772_400_000_000 + (id as i64) * 400_000 + round * 2 + version,
                });
            }
            store.write_batch(&batch).await.unwrap();
            let conn = store.writer.lock().unwrap();
            for (rollup, raw) in FROM_RATINGS {
                assert_eq!(
                    rows(&conn, rollup),
                    rows(&conn, raw),
                    "{rollup}, round {round}"
                );
            }
        }
        // A fresh open applies nothing twice and the backfill of an existing database
        // gives the same rows: rebuild them from scratch and compare.
        drop(store);
        let reopened = SqliteStore::open(&path).unwrap();
        let conn = reopened.writer.lock().unwrap();
        for (rollup, raw) in FROM_RATINGS {
            assert_eq!(rows(&conn, rollup), rows(&conn, raw), "{rollup}");
        }
    }
}
