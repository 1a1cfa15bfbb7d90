//! The distributed backend: ClickHouse over its HTTP interface.
//!
//! One row per version of a rating in a `ReplacingMergeTree(version_ms)`, so that
//! redeliveries and updates count once, in their latest version, dated by when the rating
//! was first received. Every version carries the first one's `created_ms` and entrypoint, so
//! the sorting key `(tenant, entrypoint, created_ms, id)` identifies a rating and lets a
//! query read only its entrypoint's time range, in order.
//!
//! A writer knows each version's predecessor without asking ClickHouse ([`Memory`]): it
//! loads every stored id once, remembers the latest version of what it wrote recently, and
//! looks up (a bloom-filter index on `id`) only the versions of ids that are stored but not
//! remembered. So an id owned by another entrypoint is refused exactly as in SQLite, and
//! each version is written to `rating_changes` together with the contribution of the
//! version it replaces. Views turn that into the version in `ratings` and +1/-1 in the
//! rollups (ratings and answers per 15-minute slot, pages and negative answers per UTC
//! day), so that the rollups stay exact under updates and redeliveries and dashboards sum
//! a few rows per period. Listings read the newest versions as they lie and merge versions
//! (`FINAL`) only from there on.
use async_trait::async_trait;
use clickhouse::query::Query;
use clickhouse::{Client, Compression, Row};
use rustc_hash::{FxHashMap, FxHashSet};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use uuid::Uuid;

use crate::buckets::{DAY_MS, DaySplit, Granularity, SLOT_MS, bucketize, bucketize_answers};
use crate::kpi::{
    Application, ApplicationStep, Appointment, AppointmentChange, AppointmentStep, Booking,
    KpiInput, KpiScope,
};
use crate::model::like_pattern;
use crate::model::{
    AnswerBucket, AnswerCount, Bucket, Filter, PageChange, PageCount, PageEvidence, PageRanking,
    PageStats, RatingCursor, RatingQuery, RatingRow, StoredEvent, StoredRating, Tally,
};
use crate::sqlite::decode_stored_event;
use crate::store::{
    AnalyticsQuery, Erasure, EventStore, Expired, RatingStore, StoreError, WriteOutcome, service_of,
};
use satisfy_core::event::{ApplicationState, EventKind, ServiceEvent, Slot};
use satisfy_core::{TenantId, answer_of_key};

/// Ordered, idempotent schema migrations; each is recorded in `satisfy_migrations`.
const MIGRATIONS: &[&str] = &[
    r#"
    CREATE TABLE IF NOT EXISTS ratings (
        tenant      LowCardinality(String),
        id          UUID,
        entrypoint  LowCardinality(String),
        page        String,
        stars       UInt8,
        answers     Array(LowCardinality(String)),
        comment     Nullable(String),
        lang        LowCardinality(String),
        widget      Nullable(String),
        created_ms  Int64,
        version_ms  Int64,
        INDEX id_bloom id TYPE bloom_filter GRANULARITY 4
    ) ENGINE = ReplacingMergeTree(version_ms)
    PARTITION BY toYYYYMM(fromUnixTimestamp64Milli(created_ms))
    ORDER BY (tenant, entrypoint, created_ms, id)
"#,
    r#"
    CREATE TABLE IF NOT EXISTS events (
        tenant          LowCardinality(String),
        source          String,
        id              String,
        type            LowCardinality(String),
        subject         String,
        time_ms         Int64,
        received_at_ms  Int64,
        first_seen      UInt64,
        body            String
    ) ENGINE = ReplacingMergeTree(first_seen)
    ORDER BY (tenant, source, id)
"#,
    r#"
    ALTER TABLE events
        ADD COLUMN IF NOT EXISTS service String DEFAULT JSONExtractString(body, 'data', 'service'),
        ADD COLUMN IF NOT EXISTS service_name String DEFAULT JSONExtractString(body, 'data', 'service_name')
"#,
    // What the KPI queries read, typed, so that they never parse bodies; rows written
    // before these columns existed get them from the body.
    r#"
    ALTER TABLE events
        ADD COLUMN IF NOT EXISTS state LowCardinality(String) DEFAULT JSONExtractString(body, 'data', 'state'),
        ADD COLUMN IF NOT EXISTS office String DEFAULT JSONExtractString(body, 'data', 'office'),
        ADD COLUMN IF NOT EXISTS calendar String DEFAULT JSONExtractString(body, 'data', 'calendar'),
        ADD COLUMN IF NOT EXISTS legal_deadline_days Nullable(UInt32)
            DEFAULT JSONExtract(body, 'data', 'legal_deadline_days', 'Nullable(UInt32)'),
        ADD COLUMN IF NOT EXISTS slot_start_ms Nullable(Int64) DEFAULT toUnixTimestamp64Milli(
            parseDateTime64BestEffortOrNull(JSONExtractString(body, 'data', 'slot_start'), 3)),
        ADD COLUMN IF NOT EXISTS slot_minutes UInt32 DEFAULT JSONExtractUInt(body, 'data', 'slot_minutes'),
        ADD COLUMN IF NOT EXISTS first_available_ms Nullable(Int64) DEFAULT toUnixTimestamp64Milli(
            parseDateTime64BestEffortOrNull(JSONExtractString(body, 'data', 'first_available_slot'), 3))
"#,
    // Each application's and appointment's events, grouped by a materialized view as
    // they are inserted, so that a KPI page reads one key range of a service instead of
    // scanning and grouping the events. Every stored copy is kept (with its first_seen):
    // the reader keeps the first received of each id. States and changes are numbered
    // as ApplicationState::ALL and AppointmentChange::ALL (a test checks it).
    r#"
    CREATE TABLE IF NOT EXISTS application_steps (
        tenant  LowCardinality(String),
        service String,
        source  String,
        subject String,
        steps   AggregateFunction(groupArray,
                    Tuple(Int64, String, UInt64, Enum8('bozza' = 1, 'in_attesa_pagamento' = 2, 'inviata' = 3, 'acquisita' = 4, 'protocollata' = 5, 'presa_in_carico' = 6, 'richiesta_integrazione' = 7, 'integrazione_ricevuta' = 8, 'accettata' = 9, 'rifiutata' = 10, 'ritirata' = 11, 'completata' = 12), String, Nullable(UInt32)))
    ) ENGINE = AggregatingMergeTree
    ORDER BY (tenant, service, source, subject)
"#,
    r#"
    CREATE MATERIALIZED VIEW IF NOT EXISTS application_steps_mv TO application_steps AS
    SELECT tenant, service, source, subject,
        groupArrayState((time_ms, id, first_seen, CAST(state AS Enum8('bozza' = 1, 'in_attesa_pagamento' = 2, 'inviata' = 3, 'acquisita' = 4, 'protocollata' = 5, 'presa_in_carico' = 6, 'richiesta_integrazione' = 7, 'integrazione_ricevuta' = 8, 'accettata' = 9, 'rifiutata' = 10, 'ritirata' = 11, 'completata' = 12)),
            office, legal_deadline_days)) AS steps
    FROM events WHERE type = 'it.satisfy.application.status'
    GROUP BY tenant, service, source, subject
"#,
    // Events stored before the view existed; a copy inserted twice meanwhile is read once.
    r#"
    INSERT INTO application_steps
    SELECT tenant, service, source, subject,
        groupArrayState((time_ms, id, first_seen, CAST(state AS Enum8('bozza' = 1, 'in_attesa_pagamento' = 2, 'inviata' = 3, 'acquisita' = 4, 'protocollata' = 5, 'presa_in_carico' = 6, 'richiesta_integrazione' = 7, 'integrazione_ricevuta' = 8, 'accettata' = 9, 'rifiutata' = 10, 'ritirata' = 11, 'completata' = 12)),
            office, legal_deadline_days)) AS steps
    FROM events WHERE type = 'it.satisfy.application.status'
    GROUP BY tenant, service, source, subject
"#,
    r#"
    CREATE TABLE IF NOT EXISTS appointment_steps (
        tenant  LowCardinality(String),
        source  String,
        subject String,
        steps   AggregateFunction(groupArray, Tuple(Int64, String, UInt64,
                    Enum8('it.satisfy.appointment.booked' = 1, 'it.satisfy.appointment.rescheduled' = 2, 'it.satisfy.appointment.cancelled' = 3, 'it.satisfy.appointment.attended' = 4, 'it.satisfy.appointment.no_show' = 5),
                    Nullable(Int64), UInt32, String, String, String, Nullable(Int64)))
    ) ENGINE = AggregatingMergeTree
    ORDER BY (tenant, source, subject)
"#,
    r#"
    CREATE MATERIALIZED VIEW IF NOT EXISTS appointment_steps_mv TO appointment_steps AS
    SELECT tenant, source, subject,
        groupArrayState((time_ms, id, first_seen, CAST(type AS Enum8('it.satisfy.appointment.booked' = 1, 'it.satisfy.appointment.rescheduled' = 2, 'it.satisfy.appointment.cancelled' = 3, 'it.satisfy.appointment.attended' = 4, 'it.satisfy.appointment.no_show' = 5)), slot_start_ms,
            slot_minutes, calendar, service, office, first_available_ms)) AS steps
    FROM events WHERE type LIKE 'it.satisfy.appointment.%'
    GROUP BY tenant, source, subject
"#,
    r#"
    INSERT INTO appointment_steps
    SELECT tenant, source, subject,
        groupArrayState((time_ms, id, first_seen, CAST(type AS Enum8('it.satisfy.appointment.booked' = 1, 'it.satisfy.appointment.rescheduled' = 2, 'it.satisfy.appointment.cancelled' = 3, 'it.satisfy.appointment.attended' = 4, 'it.satisfy.appointment.no_show' = 5)), slot_start_ms,
            slot_minutes, calendar, service, office, first_available_ms)) AS steps
    FROM events WHERE type LIKE 'it.satisfy.appointment.%'
    GROUP BY tenant, source, subject
"#,
    // Calendar days by service, every stored copy (the reader keeps the first received).
    r#"
    CREATE TABLE IF NOT EXISTS calendar_days (
        tenant     LowCardinality(String),
        service    String,
        first_seen UInt64,
        body       String
    ) ENGINE = MergeTree
    ORDER BY (tenant, service)
"#,
    r#"
    CREATE MATERIALIZED VIEW IF NOT EXISTS calendar_days_mv TO calendar_days AS
    SELECT tenant, service, first_seen, body FROM events WHERE type = 'it.satisfy.calendar.day'
"#,
    r#"
    INSERT INTO calendar_days
    SELECT tenant, service, first_seen, body FROM events WHERE type = 'it.satisfy.calendar.day'
"#,
    // Each tenant's services with the latest name given, kept as events arrive.
    r#"
    CREATE TABLE IF NOT EXISTS service_names (
        tenant  LowCardinality(String),
        service String,
        name    AggregateFunction(argMaxIf, String, Int64, UInt8)
    ) ENGINE = AggregatingMergeTree
    ORDER BY (tenant, service)
"#,
    r#"
    CREATE MATERIALIZED VIEW IF NOT EXISTS service_names_mv TO service_names AS
    SELECT tenant, service, argMaxIfState(service_name, time_ms, toUInt8(service_name != '')) AS name
    FROM events WHERE service != '' GROUP BY tenant, service
"#,
    r#"
    INSERT INTO service_names
    SELECT tenant, service, argMaxIfState(service_name, time_ms, toUInt8(service_name != '')) AS name
    FROM events WHERE service != '' GROUP BY tenant, service
"#,
    // Rollups kept exact under updates, so that dashboards sum a few rows per period
    // instead of merging every rating's versions:
    //   rating_slots        ratings per entrypoint, 15-minute UTC slot and stars (buckets
    //                       of any time zone: every offset in use is a multiple of 15 min);
    //   answer_slots        follow-up answers per entrypoint, slot and option;
    //   page_days           ratings per entrypoint, UTC day, page and stars;
    //   negative_page_days  answers chosen with 1-3 stars per entrypoint, UTC day and page.
    // Ratings are written to `rating_changes`, which stores nothing itself: each row is a
    // version together with the contribution it replaces (`prev_stars` 0 for none), and
    // its views write the version to `ratings` and +1 for it, -1 for the replaced one, to
    // the rollups, whose SummingMergeTree adds them up (rows summing to 0 disappear).
    r#"
    CREATE TABLE IF NOT EXISTS rating_changes (
        tenant        LowCardinality(String),
        id            UUID,
        entrypoint    LowCardinality(String),
        page          String,
        stars         UInt8,
        answers       Array(LowCardinality(String)),
        comment       Nullable(String),
        lang          LowCardinality(String),
        widget        Nullable(String),
        created_ms    Int64,
        version_ms    Int64,
        prev_page     String,
        prev_stars    UInt8,
        prev_answers  Array(LowCardinality(String))
    ) ENGINE = Null
"#,
    r#"
    CREATE MATERIALIZED VIEW IF NOT EXISTS ratings_from_changes TO ratings AS
    SELECT tenant, id, entrypoint, page, stars, answers, comment, lang, widget, created_ms, version_ms
    FROM rating_changes
"#,
    r#"
    CREATE TABLE IF NOT EXISTS rating_slots (
        tenant      LowCardinality(String),
        entrypoint  LowCardinality(String),
        slot        Int64,
        stars       UInt8,
        n           Int64
    ) ENGINE = SummingMergeTree
    ORDER BY (tenant, entrypoint, slot, stars)
"#,
    r#"
    CREATE MATERIALIZED VIEW IF NOT EXISTS rating_slots_mv TO rating_slots AS
    SELECT tenant, entrypoint, slot, s AS stars, sum(d) AS n FROM (
        SELECT tenant, entrypoint, intDiv(created_ms, 900000) AS slot, c.1 AS s, c.2 AS d
        FROM rating_changes ARRAY JOIN [(stars, toInt64(1)), (prev_stars, toInt64(-1))] AS c)
    WHERE s > 0 GROUP BY tenant, entrypoint, slot, s
"#,
    r#"
    CREATE TABLE IF NOT EXISTS answer_slots (
        tenant      LowCardinality(String),
        entrypoint  LowCardinality(String),
        slot        Int64,
        option      LowCardinality(String),
        n           Int64
    ) ENGINE = SummingMergeTree
    ORDER BY (tenant, entrypoint, slot, option)
"#,
    r#"
    CREATE MATERIALIZED VIEW IF NOT EXISTS answer_slots_mv TO answer_slots AS
    SELECT tenant, entrypoint, slot, o AS option, sum(d) AS n FROM (
        SELECT tenant, entrypoint, intDiv(created_ms, 900000) AS slot, c.1 AS o, c.2 AS d
        FROM rating_changes ARRAY JOIN arrayConcat(
            arrayMap(a -> (toString(a), toInt64(1)), answers),
            arrayMap(a -> (toString(a), toInt64(-1)), prev_answers)) AS c)
    GROUP BY tenant, entrypoint, slot, o
"#,
    r#"
    CREATE TABLE IF NOT EXISTS page_days (
        tenant      LowCardinality(String),
        entrypoint  LowCardinality(String),
        day         Int64,
        page        String,
        stars       UInt8,
        n           Int64
    ) ENGINE = SummingMergeTree
    ORDER BY (tenant, entrypoint, day, page, stars)
"#,
    r#"
    CREATE MATERIALIZED VIEW IF NOT EXISTS page_days_mv TO page_days AS
    SELECT tenant, entrypoint, day, p AS page, s AS stars, sum(d) AS n FROM (
        SELECT tenant, entrypoint, intDiv(created_ms, 86400000) AS day, c.1 AS p, c.2 AS s,
               c.3 AS d
        FROM rating_changes
        ARRAY JOIN [(page, stars, toInt64(1)), (prev_page, prev_stars, toInt64(-1))] AS c)
    WHERE s > 0 GROUP BY tenant, entrypoint, day, p, s
"#,
    r#"
    CREATE TABLE IF NOT EXISTS negative_page_days (
        tenant      LowCardinality(String),
        entrypoint  LowCardinality(String),
        day         Int64,
        page        String,
        n           Int64
    ) ENGINE = SummingMergeTree
    ORDER BY (tenant, entrypoint, day, page)
"#,
    r#"
    CREATE MATERIALIZED VIEW IF NOT EXISTS negative_page_days_mv TO negative_page_days AS
    SELECT tenant, entrypoint, day, p AS page, sum(d) AS n FROM (
        SELECT tenant, entrypoint, intDiv(created_ms, 86400000) AS day, c.1 AS p, c.2 AS d
        FROM rating_changes ARRAY JOIN [
            (page, if(stars <= 3, toInt64(length(answers)), 0)),
            (prev_page, if(prev_stars BETWEEN 1 AND 3, -toInt64(length(prev_answers)), 0))] AS c)
    WHERE d != 0 GROUP BY tenant, entrypoint, day, p
"#,
    // Ratings stored before the rollups existed (the views count what comes after).
    r#"
    INSERT INTO rating_slots
    SELECT tenant, entrypoint, intDiv(created_ms, 900000) AS slot, stars, toInt64(count()) AS n
    FROM ratings FINAL GROUP BY tenant, entrypoint, slot, stars
"#,
    r#"
    INSERT INTO answer_slots
    SELECT tenant, entrypoint, intDiv(created_ms, 900000) AS slot, toString(arrayJoin(answers)) AS option,
           toInt64(count()) AS n
    FROM ratings FINAL GROUP BY tenant, entrypoint, slot, option
"#,
    r#"
    INSERT INTO page_days
    SELECT tenant, entrypoint, intDiv(created_ms, 86400000) AS day, page, stars, toInt64(count()) AS n
    FROM ratings FINAL GROUP BY tenant, entrypoint, day, page, stars
"#,
    r#"
    INSERT INTO negative_page_days
    SELECT tenant, entrypoint, intDiv(created_ms, 86400000) AS day, page,
           toInt64(sum(length(answers))) AS n
    FROM ratings FINAL WHERE stars <= 3 GROUP BY tenant, entrypoint, day, page HAVING n > 0
"#,
    // What tenants erased stays erased (store.rs, Erasure): the ratings deleted on request
    // and each tenant's retention cutoffs. Writers load both ([`Erasures`]).
    r#"
    CREATE TABLE IF NOT EXISTS erased_ratings (
        tenant      LowCardinality(String),
        id          UUID,
        erased_ms   Int64
    ) ENGINE = ReplacingMergeTree(erased_ms) ORDER BY (tenant, id)
"#,
    r#"
    CREATE TABLE IF NOT EXISTS retention_cutoffs (
        tenant      LowCardinality(String),
        before_ms   Int64
    ) ENGINE = ReplacingMergeTree(before_ms) ORDER BY tenant
"#,
    // When ClickHouse stored each version, so that a writer told that others wrote
    // (`forget`) adds the ids stored since it last knew them all instead of loading every
    // id again. Rows stored before this migration read as stored now until the column is
    // materialized: more ids than needed, never fewer.
    r#"
    ALTER TABLE ratings ADD COLUMN IF NOT EXISTS
        inserted_ms Int64 DEFAULT toUnixTimestamp64Milli(now64(3))
"#,
    r#"
    ALTER TABLE ratings ADD INDEX IF NOT EXISTS inserted_ms_minmax inserted_ms TYPE minmax GRANULARITY 1
"#,
    r#"
    ALTER TABLE ratings MATERIALIZE COLUMN inserted_ms
"#,
    r#"
    ALTER TABLE ratings MATERIALIZE INDEX inserted_ms_minmax
"#,
    // The official questions share the option id `other`: "Other" chosen after 4 or 5
    // stars is counted apart, as `other_positive` (satisfy_core::answer_key). The view
    // changes without stopping inserts; the ratings still stored then move their count,
    // those deleted (retention, requests) stay in `other`. A version that a process still
    // running the previous release stores between the two statements is moved twice (a
    // rolling upgrade's milliseconds): its slot may be one off, and reads ignore a sum
    // below zero. Stopping the aggregators for the upgrade avoids it.
    r#"
    ALTER TABLE answer_slots_mv MODIFY QUERY
    SELECT tenant, entrypoint, slot, o AS option, sum(d) AS n FROM (
        SELECT tenant, entrypoint, intDiv(created_ms, 900000) AS slot, c.1 AS o, c.2 AS d
        FROM rating_changes ARRAY JOIN arrayConcat(
            arrayMap(a -> (if(a = 'other' AND stars > 3, 'other_positive', toString(a)), toInt64(1)), answers),
            arrayMap(a -> (if(a = 'other' AND prev_stars > 3, 'other_positive', toString(a)), toInt64(-1)), prev_answers)) AS c)
    GROUP BY tenant, entrypoint, slot, o
"#,
    r#"
    INSERT INTO answer_slots
    SELECT tenant, entrypoint, intDiv(created_ms, 900000) AS slot, c.1 AS option,
           toInt64(sum(c.2)) AS n
    FROM ratings FINAL ARRAY JOIN [('other', -1), ('other_positive', 1)] AS c
    WHERE stars > 3 AND has(answers, 'other')
    GROUP BY tenant, entrypoint, slot, option
"#,
];

/// The table whose creation claims the right to migrate (see [`ClickHouseStore::migrate`]).
const MIGRATION_LOCK: &str = "satisfy_migration_lock";

/// How often a process waiting for another one's migration looks again.
const MIGRATION_POLL: Duration = Duration::from_millis(200);

/// How often a writer reloads what tenants erased through other processes (a console
/// deleting a rating on request, its retention sweep). Erasures through the same store
/// reach its writes at once.
const ERASURES_REFRESH: Duration = Duration::from_secs(1);

/// How often a process waiting for another one's migration says so in the log.
const MIGRATION_WAIT_NOTICE: Duration = Duration::from_secs(30);

/// The time a listing first looks back from its cursor for the newest matching versions
/// (see the `ratings` query), and how much at least each look widens it when too few are
/// found: a day, then 4, 16, 64, 256 days and more, or faster (see [`widened`]).
const LISTING_WINDOW_MS: i64 = DAY_MS;
const LISTING_WINDOW_GROWTH: i64 = 4;

/// The most a listing's look-back widens in one step: a quiet day next to the cursor must
/// not make the next look open every part of a long range.
const LISTING_WINDOW_MAX_GROWTH: i64 = 16;

/// The next window of a listing's look-back after `window` held `found` of the `wanted`
/// newest matching versions: at least [`LISTING_WINDOW_GROWTH`] times wider, and as many
/// times wider as it held too few, as if they lay evenly (an empty window counts as
/// holding one), up to [`LISTING_WINDOW_MAX_GROWTH`]. Each look costs ClickHouse a query:
/// on sparse data a month's listing took four looks at fourfold growth.
fn widened(window: i64, found: u64, wanted: u64) -> i64 {
    let shortfall = wanted.div_ceil(found.max(1));
    let growth = i64::try_from(shortfall)
        .unwrap_or(i64::MAX)
        .clamp(LISTING_WINDOW_GROWTH, LISTING_WINDOW_MAX_GROWTH);
    window.saturating_mul(growth)
}

/// Ids per look-up query of a batch's existing ratings.
const LOOKUP_CHUNK: usize = 2000;

/// A version of a rating as written to `rating_changes`: the version itself, borrowed
/// from the batch (a drain writes tens of thousands a second: no copies of its strings),
/// and the counted contribution it replaces, which the rollup views take off.
#[derive(Debug, Row, Serialize)]
struct RatingChangeRow<'a> {
    tenant: &'a str,
    #[serde(with = "clickhouse::serde::uuid")]
    id: Uuid,
    entrypoint: &'a str,
    page: &'a str,
    stars: u8,
    answers: &'a [String],
    comment: Option<&'a str>,
    lang: &'static str,
    widget: Option<&'a str>,
    created_ms: i64,
    version_ms: i64,
    /// Empty, as `prev_answers`, when the version replaces nothing.
    prev_page: String,
    /// 0 when the version replaces nothing.
    prev_stars: u8,
    prev_answers: Vec<String>,
}

/// The latest stored version of a rating, as far as the rollups and the first reception go.
#[derive(Debug, Clone)]
struct Latest {
    tenant: String,
    entrypoint: String,
    created_ms: i64,
    version_ms: i64,
    page: String,
    stars: u8,
    answers: Vec<String>,
}

/// The SQL of an array of the rating counts per star, 1 to 5, of the rows meeting
/// `condition`; read back with [`tally_of`].
fn distribution_sql(condition: &str) -> String {
    let counts: Vec<String> = (1..=5)
        .map(|stars| format!("toUInt64(sumIf(n, {condition} AND stars = {stars}))"))
        .collect();
    format!("[{}]", counts.join(", "))
}

/// The tally of counts per star, 1 to 5, as [`distribution_sql`] writes them.
fn tally_of(counts: &[u64]) -> Tally {
    let mut tally = Tally::default();
    for (stars, count) in (1..=5u8).zip(counts) {
        tally.add(stars, *count);
    }
    tally
}

/// The error with its causes (a refused certificate is only named by the innermost one).
/// Most of the crate's errors already print their first cause: a cause whose text is in
/// the message is not repeated.
fn error(context: &'static str) -> impl Fn(clickhouse::error::Error) -> StoreError {
    move |e| {
        let mut message = format!("clickhouse {context}: {e}");
        let mut cause = std::error::Error::source(&e);
        while let Some(inner) = cause {
            let text = inner.to_string();
            if !message.contains(&text) {
                message.push_str(": ");
                message.push_str(&text);
            }
            cause = inner.source();
        }
        StoreError(message)
    }
}

/// Ratings in ClickHouse.
#[derive(Clone)]
pub struct ClickHouseStore {
    client: Client,
    /// What this writer knows of stored ratings; held for a whole batch, so that batches
    /// written through one store never race each other.
    memory: Arc<tokio::sync::Mutex<Memory>>,
    /// Set by [`RatingStore::forget`]: the memory forgets before the next write.
    stale: Arc<AtomicBool>,
    /// Rating versions whose predecessor was asked of ClickHouse, since the start.
    looked_up: Arc<AtomicU64>,
    /// Stored ids read from ClickHouse into the writer's memory, since the start.
    ids_loaded: Arc<AtomicU64>,
    /// What tenants erased, as writes must refuse it.
    erasures: Arc<tokio::sync::Mutex<Erasures>>,
}

/// What tenants erased, loaded from ClickHouse at most [`ERASURES_REFRESH`] ago.
#[derive(Default)]
struct Erasures {
    /// Ratings deleted on request: each id with the tenants that deleted it.
    deleted: FxHashMap<Uuid, Vec<String>>,
    /// Each tenant's latest retention cutoff.
    cutoffs: FxHashMap<String, i64>,
    /// When these were loaded; `None` to load them before the next write.
    loaded_at: Option<Instant>,
}

impl Erasures {
    /// Whether `tenant`'s rating `id`, in the version received at `received_at_ms`, was
    /// erased: deleted on request, or received before the retention cutoff.
    fn refuses_rating(&self, tenant: &str, id: Uuid, received_at_ms: i64) -> bool {
        self.before_cutoff(tenant, received_at_ms)
            || self
                .deleted
                .get(&id)
                .is_some_and(|tenants| tenants.iter().any(|t| t == tenant))
    }

    /// Whether what `tenant` received at `received_at_ms` is before its retention cutoff.
    fn before_cutoff(&self, tenant: &str, received_at_ms: i64) -> bool {
        self.cutoffs
            .get(tenant)
            .is_some_and(|cutoff| received_at_ms < *cutoff)
    }
}

/// Versions a writer remembers in each of its two generations, about 460,000 in all: the
/// most a hash table of 2^18 slots holds before it doubles (7/8 full), so that a
/// generation never pays for a table twice its size.
const GENERATION: usize = (1 << 18) / 8 * 7;

/// How far before the time a writer last knew every stored id it reads the ids stored
/// since, when told that others wrote: a version's `inserted_ms` is the time its insert
/// started, which may be stored after the writer read. Ten minutes outlast any insert
/// (ClickHouse stops waiting for an insert's data after 5, `receive_timeout`), and the
/// minmax index on `inserted_ms` keeps reading them cheap.
const INSERTED_MARGIN_MS: i64 = 600_000;

/// What a writer knows of stored ratings, so that a batch needs no query before its insert.
///
/// Exact while this writer is the only one writing the ids it is handed: the Kafka topic is
/// keyed by rating id, so each partition's consumer is, and a reassignment of partitions
/// makes the consumer [`forget`](RatingStore::forget). A failed write forgets too, since
/// its insert may have been stored after all. Forgetting drops the versions remembered;
/// the stored ids are kept, and topped up with those stored since they were last complete.
struct Memory {
    /// Every stored id (and maybe more), loaded at the first write, kept up to date by
    /// the writes and topped up after a `forget`.
    stored: Option<StoredIds>,
    /// The latest version of the ratings written most recently, by id (random, so the
    /// fast hash is safe), each with its tenant.
    recent: FxHashMap<Uuid, Latest>,
    /// The generation before `recent`, forgotten when `recent` fills.
    older: FxHashMap<Uuid, Latest>,
}

/// The ids of stored ratings, as of a time on ClickHouse's clock.
struct StoredIds {
    ids: IdSet,
    /// When (ms, ClickHouse's clock) `ids` last held every stored id, but for what was
    /// being stored then: a top-up reads from [`INSERTED_MARGIN_MS`] before it.
    complete_as_of_ms: i64,
    /// Whether others may have stored ids since: top up before the next write.
    outdated: bool,
}

impl Default for Memory {
    /// Tables allocated once at their full size: memory is touched only as they fill, and
    /// no growth copies a table while it is written to.
    fn default() -> Self {
        let generation = || FxHashMap::with_capacity_and_hasher(GENERATION, Default::default());
        Memory {
            stored: None,
            recent: generation(),
            older: generation(),
        }
    }
}

impl Memory {
    /// The latest version of `tenant`'s rating `id`, if remembered.
    fn latest(&self, tenant: &str, id: Uuid) -> Option<&Latest> {
        self.recent
            .get(&id)
            .or_else(|| self.older.get(&id))
            .filter(|latest| latest.tenant == tenant)
    }

    /// Whether `tenant`'s rating `id` may be stored without being remembered.
    fn must_ask(&self, tenant: &str, id: Uuid) -> bool {
        self.latest(tenant, id).is_none()
            && self
                .stored
                .as_ref()
                .is_some_and(|stored| stored.ids.contains(IdSet::fold(id)))
    }

    fn remember(&mut self, id: Uuid, latest: Latest) {
        if let Some(stored) = &mut self.stored {
            stored.ids.insert(IdSet::fold(id));
        }
        if self.recent.len() >= GENERATION {
            // The older generation's table becomes the next one, emptied.
            std::mem::swap(&mut self.recent, &mut self.older);
            self.recent.clear();
        }
        self.recent.insert(id, latest);
    }

    /// Forgets the versions remembered, and marks the stored ids outdated: another writer
    /// may have stored versions of the ids this one is handed next.
    fn forget(&mut self) {
        self.recent.clear();
        self.older.clear();
        if let Some(stored) = &mut self.stored {
            stored.outdated = true;
        }
    }
}

/// A set of rating ids, each folded to 64 bits. Two ids folding alike only cost a look-up:
/// membership means "maybe stored", absence means "never stored".
struct IdSet {
    /// About 8 bytes an id.
    sorted: Vec<u64>,
    /// Where the ids of each value of the top [`ID_BUCKET_BITS`] bits start in `sorted`,
    /// and (one further) end: a look-up searches a few dozen ids of millions, in a slice
    /// of cache lines, instead of halving all of them.
    starts: Vec<u32>,
    /// Added since `sorted` was last rebuilt; some may be in `sorted` too.
    fresh: FxHashSet<u64>,
}

/// The bits of a folded id that choose its bucket in [`IdSet::starts`]: 2^16 buckets,
/// 256 KiB of offsets.
const ID_BUCKET_BITS: u32 = 16;

impl IdSet {
    fn of(mut folded: Vec<u64>) -> IdSet {
        folded.sort_unstable();
        folded.dedup();
        IdSet {
            starts: Self::starts_of(&folded),
            sorted: folded,
            fresh: FxHashSet::default(),
        }
    }

    fn fold(id: Uuid) -> u64 {
        let (high, low) = id.as_u64_pair();
        high ^ low
    }

    fn bucket(folded: u64) -> usize {
        (folded >> (64 - ID_BUCKET_BITS)) as usize
    }

    fn starts_of(sorted: &[u64]) -> Vec<u32> {
        let mut starts = vec![0u32; (1 << ID_BUCKET_BITS) + 1];
        for &folded in sorted {
            starts[Self::bucket(folded) + 1] += 1;
        }
        for bucket in 1..starts.len() {
            starts[bucket] += starts[bucket - 1];
        }
        starts
    }

    fn contains(&self, folded: u64) -> bool {
        let bucket = Self::bucket(folded);
        let (start, end) = (self.starts[bucket], self.starts[bucket + 1]);
        self.fresh.contains(&folded)
            || self.sorted[start as usize..end as usize]
                .binary_search(&folded)
                .is_ok()
    }

    fn insert(&mut self, folded: u64) {
        self.fresh.insert(folded);
        // Merging in batches keeps the set at about 8 bytes an id, each merge a pass over
        // the set rather than a sort of it.
        if self.fresh.len() > (self.sorted.len() / 8).max(65_536) {
            let mut fresh: Vec<u64> = self.fresh.drain().collect();
            fresh.sort_unstable();
            let mut merged = Vec::with_capacity(self.sorted.len() + fresh.len());
            let (mut old, mut new) = (self.sorted.iter().peekable(), fresh.iter().peekable());
            while let (Some(&&a), Some(&&b)) = (old.peek(), new.peek()) {
                merged.push(a.min(b));
                if a <= b {
                    old.next();
                }
                if b <= a {
                    new.next();
                }
            }
            merged.extend(old);
            merged.extend(new);
            self.starts = Self::starts_of(&merged);
            self.sorted = merged;
        }
    }
}

/// Where ClickHouse is and who Satisfy is there. `Debug` never shows the password.
#[derive(Debug, Clone)]
pub struct ClickHouseAccess {
    /// The HTTP interface, `http://host:8123` or `https://host:8443` (certificates checked
    /// against the system's authorities).
    pub url: String,
    /// The database, created if missing.
    pub database: String,
    /// The user; ClickHouse's `default` when unset.
    pub user: Option<String>,
    /// The user's password.
    pub password: Option<SecretString>,
}

impl ClickHouseAccess {
    /// `database` at `url` as ClickHouse's default user.
    pub fn new(url: impl Into<String>, database: impl Into<String>) -> ClickHouseAccess {
        ClickHouseAccess {
            url: url.into(),
            database: database.into(),
            user: None,
            password: None,
        }
    }
}

impl ClickHouseStore {
    /// Connects as `access` says, creates the database if needed and applies pending
    /// migrations.
    pub async fn connect(access: &ClickHouseAccess) -> Result<ClickHouseStore, StoreError> {
        let database = access.database.as_str();
        let valid_name = !database.is_empty()
            && database
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !valid_name {
            return Err(StoreError(format!(
                "invalid ClickHouse database name `{database}`"
            )));
        }
        // Fetching is several times faster without LZ4 on loopback and in a cluster LAN.
        let mut server = Client::default()
            .with_url(&access.url)
            .with_compression(Compression::None);
        if let Some(user) = &access.user {
            server = server.with_user(user);
        }
        if let Some(password) = &access.password {
            server = server.with_password(password.expose_secret());
        }
        server
            .query(&format!("CREATE DATABASE IF NOT EXISTS {database}"))
            .execute()
            .await
            .map_err(error("creating the database"))?;
        let client = server.with_database(database);
        let store = ClickHouseStore {
            client,
            memory: Arc::default(),
            stale: Arc::default(),
            looked_up: Arc::default(),
            ids_loaded: Arc::default(),
            erasures: Arc::default(),
        };
        store.migrate().await?;
        Ok(store)
    }

    /// Applies pending migrations, one process at a time: consoles and aggregators
    /// starting together would otherwise each run a backfill (`INSERT … SELECT`) and
    /// count what it copies twice. The process that creates [`MIGRATION_LOCK`] (ClickHouse
    /// creates a table once) migrates; the others wait until every migration is recorded.
    async fn migrate(&self) -> Result<(), StoreError> {
        self.client
            .query(
                "CREATE TABLE IF NOT EXISTS satisfy_migrations (version UInt32, applied_at DateTime DEFAULT now())
                 ENGINE = MergeTree ORDER BY version",
            )
            .execute()
            .await
            .map_err(error("creating the migrations table"))?;
        let waiting_since = Instant::now();
        let mut told: Option<Instant> = None;
        loop {
            if self.applied_migrations().await? as usize >= MIGRATIONS.len() {
                return Ok(());
            }
            let claimed = self
                .client
                .query(&format!(
                    "CREATE TABLE {MIGRATION_LOCK} ENGINE = MergeTree ORDER BY tuple()
                     AS SELECT ? AS holder, now() AS since"
                ))
                .bind(format!("process {}", std::process::id()))
                .execute()
                .await;
            match claimed {
                Ok(()) => {
                    let migrated = self.apply_pending_migrations().await;
                    let released = self
                        .client
                        .query(&format!("DROP TABLE IF EXISTS {MIGRATION_LOCK}"))
                        .execute()
                        .await
                        .map_err(error("releasing the migration lock"));
                    return migrated.and(released);
                }
                Err(claim_error) => {
                    let held: u8 = self
                        .client
                        .query(&format!("EXISTS TABLE {MIGRATION_LOCK}"))
                        .fetch_one()
                        .await
                        .map_err(error("reading the migration lock"))?;
                    if held == 0 {
                        // Released since the claim failed: its holder is done, unless the
                        // claim failed for a reason of its own.
                        if self.applied_migrations().await? as usize >= MIGRATIONS.len() {
                            return Ok(());
                        }
                        return Err(error("claiming the migration lock")(claim_error));
                    }
                }
            }
            if told.is_none_or(|at| at.elapsed() >= MIGRATION_WAIT_NOTICE) {
                told = Some(Instant::now());
                tracing::warn!(
                    waited_s = waiting_since.elapsed().as_secs(),
                    lock = MIGRATION_LOCK,
                    "waiting for another process to migrate ClickHouse; if none is running \
                     (one died while migrating), drop the lock table"
                );
            }
            tokio::time::sleep(MIGRATION_POLL).await;
        }
    }

    /// The latest migration recorded.
    async fn applied_migrations(&self) -> Result<u32, StoreError> {
        self.client
            .query("SELECT toUInt32(max(version)) FROM satisfy_migrations")
            .fetch_one()
            .await
            .map_err(error("reading migrations"))
    }

    /// Applies and records each migration after the latest recorded one, in order; the
    /// caller holds [`MIGRATION_LOCK`].
    async fn apply_pending_migrations(&self) -> Result<(), StoreError> {
        let applied = self.applied_migrations().await?;
        for (index, sql) in MIGRATIONS.iter().enumerate() {
            let version = index as u32 + 1;
            if version > applied {
                self.client
                    .query(sql)
                    .execute()
                    .await
                    .map_err(error("migrating"))?;
                self.client
                    .query("INSERT INTO satisfy_migrations (version) VALUES (?)")
                    .bind(version)
                    .execute()
                    .await
                    .map_err(error("recording a migration"))?;
                tracing::info!(version, "applied ClickHouse migration");
            }
        }
        Ok(())
    }

    /// Checks that ClickHouse answers (for readiness probes).
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.client
            .query("SELECT 1")
            .execute()
            .await
            .map_err(error("ping"))
    }

    /// How many rating versions had their predecessor looked up in ClickHouse since the
    /// store was connected: versions of ids stored but not remembered by this writer.
    pub fn looked_up(&self) -> u64 {
        self.looked_up.load(Ordering::Relaxed)
    }

    /// How many stored ids this writer read from ClickHouse since it was connected: every
    /// one at its first write, then those stored since it last knew them all, each time it
    /// was told that others wrote.
    pub fn ids_loaded(&self) -> u64 {
        self.ids_loaded.load(Ordering::Relaxed)
    }

    /// What tenants erased, reloaded when loaded more than [`ERASURES_REFRESH`] ago.
    async fn erasures(&self) -> Result<tokio::sync::MutexGuard<'_, Erasures>, StoreError> {
        let mut erasures = self.erasures.lock().await;
        if erasures
            .loaded_at
            .is_none_or(|at| at.elapsed() >= ERASURES_REFRESH)
        {
            *erasures = self.load_erasures().await?;
        }
        Ok(erasures)
    }

    async fn load_erasures(&self) -> Result<Erasures, StoreError> {
        #[derive(Row, Deserialize)]
        struct Deleted {
            tenant: String,
            #[serde(with = "clickhouse::serde::uuid")]
            id: Uuid,
        }
        let loaded_at = Instant::now();
        let rows: Vec<Deleted> = self
            .client
            .query("SELECT DISTINCT tenant, id FROM erased_ratings")
            .fetch_all()
            .await
            .map_err(error("loading the ratings deleted on request"))?;
        let mut deleted: FxHashMap<Uuid, Vec<String>> = FxHashMap::default();
        for row in rows {
            deleted.entry(row.id).or_default().push(row.tenant);
        }
        let cutoffs: Vec<(String, i64)> = self
            .client
            .query("SELECT tenant, max(before_ms) FROM retention_cutoffs GROUP BY tenant")
            .fetch_all()
            .await
            .map_err(error("loading the retention cutoffs"))?;
        Ok(Erasures {
            deleted,
            cutoffs: cutoffs.into_iter().collect(),
            loaded_at: Some(loaded_at),
        })
    }

    /// ClickHouse's clock, in ms.
    async fn clickhouse_now_ms(&self) -> Result<i64, StoreError> {
        self.client
            .query("SELECT toUnixTimestamp64Milli(now64(3))")
            .fetch_one()
            .await
            .map_err(error("reading ClickHouse's clock"))
    }

    /// The ids of stored ratings, folded: every one, or those stored from `since_ms` on
    /// (ClickHouse's clock), streamed in one query. ClickHouse folds them as
    /// [`IdSet::fold`] does (the xor of a UUID's halves, whichever order it keeps them
    /// in): 8 bytes an id to send and read, instead of 16 and a UUID's decoding.
    async fn stored_ids(&self, since_ms: Option<i64>) -> Result<Vec<u64>, StoreError> {
        const FOLDED: &str = "SELECT bitXor(toUInt64(bitShiftRight(n, 64)),
                                     toUInt64(bitAnd(n, toUInt128('18446744073709551615'))))
                              FROM (SELECT reinterpretAsUInt128(id) AS n FROM ratings";
        let query = match since_ms {
            None => self.client.query(&format!("{FOLDED})")),
            Some(since_ms) => self
                .client
                .query(&format!("{FOLDED} WHERE inserted_ms >= ?)"))
                .bind(since_ms),
        };
        let mut cursor = query
            .fetch::<u64>()
            .map_err(error("loading the stored ids"))?;
        let mut folded = Vec::new();
        while let Some(id) = cursor
            .next()
            .await
            .map_err(error("loading the stored ids"))?
        {
            folded.push(id);
        }
        self.ids_loaded
            .fetch_add(folded.len() as u64, Ordering::Relaxed);
        Ok(folded)
    }

    /// Makes `stored` hold every stored id: loads them all the first time, and after a
    /// [`Memory::forget`] adds those stored since they were last complete.
    async fn complete(&self, stored: &mut Option<StoredIds>) -> Result<(), StoreError> {
        let since_ms = match stored {
            None => None,
            Some(known) if known.outdated => Some(known.complete_as_of_ms - INSERTED_MARGIN_MS),
            Some(_) => return Ok(()),
        };
        // The clock first: what is stored while the ids are read is read again next time.
        let as_of_ms = self.clickhouse_now_ms().await?;
        let ids = self.stored_ids(since_ms).await?;
        tracing::info!(ids = ids.len(), since_ms, "read the stored rating ids");
        match stored {
            Some(known) => {
                for folded in ids {
                    known.ids.insert(folded);
                }
                known.complete_as_of_ms = as_of_ms;
                known.outdated = false;
            }
            None => {
                *stored = Some(StoredIds {
                    ids: IdSet::of(ids),
                    complete_as_of_ms: as_of_ms,
                    outdated: false,
                });
            }
        }
        Ok(())
    }

    /// The latest stored version of each of these ratings' ids that exists.
    async fn existing<'a>(
        &self,
        batch: &[&'a StoredRating],
    ) -> Result<FxHashMap<(&'a str, Uuid), Latest>, StoreError> {
        #[derive(Row, Deserialize)]
        struct Existing {
            tenant: String,
            #[serde(with = "clickhouse::serde::uuid")]
            id: Uuid,
            entrypoint: String,
            created_ms: i64,
            version_ms: i64,
            page: String,
            stars: u8,
            answers: Vec<String>,
        }
        let mut by_tenant: HashMap<&str, Vec<String>> = HashMap::new();
        for stored in batch {
            by_tenant
                .entry(stored.tenant.as_str())
                .or_default()
                .push(format!("'{}'", stored.rating.id.hyphenated()));
        }
        let mut found = FxHashMap::default();
        // Chunks keep each query well under ClickHouse's max_query_size (256 KiB).
        for (tenant, ids) in by_tenant {
            for chunk in ids.chunks(LOOKUP_CHUNK) {
                // Ids are formatted from parsed UUIDs (hex and dashes only), never raw input.
                let sql = format!(
                    "SELECT tenant, id, entrypoint, min(r.created_ms) AS created_ms,
                            max(r.version_ms) AS version_ms, argMax(r.page, r.version_ms) AS page,
                            argMax(r.stars, r.version_ms) AS stars,
                            arrayMap(a -> toString(a), argMax(r.answers, r.version_ms)) AS answers
                     FROM ratings AS r
                     WHERE tenant = ? AND id IN ({}) GROUP BY tenant, id, entrypoint",
                    chunk.join(",")
                );
                let rows: Vec<Existing> = self
                    .client
                    .query(&sql)
                    .bind(tenant)
                    .fetch_all()
                    .await
                    .map_err(error("looking up ids"))?;
                for row in rows {
                    let latest = Latest {
                        tenant: row.tenant,
                        entrypoint: row.entrypoint,
                        created_ms: row.created_ms,
                        version_ms: row.version_ms,
                        page: row.page,
                        stars: row.stars,
                        answers: row.answers,
                    };
                    found.insert((tenant, row.id), latest);
                }
            }
        }
        Ok(found)
    }
}

#[async_trait]
impl RatingStore for ClickHouseStore {
    async fn write_batch(&self, batch: &[StoredRating]) -> Result<Vec<WriteOutcome>, StoreError> {
        let mut memory = self.memory.lock().await;
        if self.stale.swap(false, Ordering::SeqCst) {
            memory.forget();
        }
        let written = self.write_remembering(&mut memory, batch).await;
        if written.is_err() {
            // The insert may have been stored after all: ask ClickHouse again next time.
            memory.forget();
        }
        written
    }

    fn forget(&self) {
        self.stale.store(true, Ordering::SeqCst);
    }
}

impl ClickHouseStore {
    /// Writes a batch, taking each version's predecessor from `memory` and asking
    /// ClickHouse only for ids stored but not remembered; remembers what it wrote.
    async fn write_remembering(
        &self,
        memory: &mut Memory,
        batch: &[StoredRating],
    ) -> Result<Vec<WriteOutcome>, StoreError> {
        self.complete(&mut memory.stored).await?;
        let erasures = self.erasures().await?;
        let unremembered: Vec<&StoredRating> = batch
            .iter()
            .filter(|stored| memory.must_ask(stored.tenant.as_str(), stored.rating.id))
            .collect();
        // This batch's versions, each replacing the latest of its id in order.
        let mut known = if unremembered.is_empty() {
            FxHashMap::default()
        } else {
            self.looked_up
                .fetch_add(unremembered.len() as u64, Ordering::Relaxed);
            self.existing(&unremembered).await?
        };
        let mut outcomes = Vec::with_capacity(batch.len());
        let mut rows = Vec::with_capacity(batch.len());
        for stored in batch {
            let rating = &stored.rating;
            let tenant = stored.tenant.as_str();
            let key = (tenant, rating.id);
            if erasures.refuses_rating(tenant, rating.id, stored.received_at_ms) {
                outcomes.push(WriteOutcome::Erased);
                continue;
            }
            // A version first received before the cutoff was deleted by retention: what
            // follows it is a new rating, as in SQLite.
            let previous = known
                .get(&key)
                .or_else(|| memory.latest(tenant, rating.id))
                .filter(|latest| !erasures.before_cutoff(tenant, latest.created_ms));
            let (outcome, created_ms) = match previous {
                Some(latest) if latest.entrypoint != rating.entrypoint.as_str() => {
                    outcomes.push(WriteOutcome::Conflict);
                    continue;
                }
                // An older version redelivered after a newer one: the newer one stays.
                Some(latest) if stored.received_at_ms < latest.version_ms => {
                    outcomes.push(WriteOutcome::Updated);
                    continue;
                }
                Some(latest) => (WriteOutcome::Updated, latest.created_ms),
                None => (WriteOutcome::Inserted, stored.received_at_ms),
            };
            outcomes.push(outcome);
            let (prev_page, prev_stars, prev_answers) = match previous {
                Some(latest) => (latest.page.clone(), latest.stars, latest.answers.clone()),
                None => (String::new(), 0, Vec::new()),
            };
            let row = RatingChangeRow {
                tenant,
                id: rating.id,
                entrypoint: rating.entrypoint.as_str(),
                page: rating.page.as_str(),
                stars: rating.rating.get(),
                answers: &rating.answers,
                comment: rating.comment.as_ref().map(|c| c.as_str()),
                lang: rating.lang.code(),
                widget: rating.widget.as_deref(),
                created_ms,
                version_ms: stored.received_at_ms,
                prev_page,
                prev_stars,
                prev_answers,
            };
            // Later versions in the same batch replace this one.
            known.insert(
                key,
                Latest {
                    tenant: tenant.to_owned(),
                    entrypoint: row.entrypoint.to_owned(),
                    created_ms,
                    version_ms: row.version_ms,
                    page: row.page.to_owned(),
                    stars: row.stars,
                    answers: rating.answers.clone(),
                },
            );
            rows.push(row);
        }
        drop(erasures);
        if !rows.is_empty() {
            // The five views are fed side by side (5-11% more rows/s here). Each inserted
            // block stays collapsed (`optimize_on_insert`, on by default): two versions of
            // one id received in the same millisecond are told apart by their order there.
            let mut insert = self
                .client
                .insert::<RatingChangeRow<'_>>("rating_changes")
                .await
                .map_err(error("insert"))?
                .with_setting("parallel_view_processing", "1");
            for row in &rows {
                insert.write(row).await.map_err(error("insert"))?;
            }
            // The insert is synchronous: when end() returns, the version and the rollups'
            // changes are stored, all from one block.
            insert.end().await.map_err(error("insert"))?;
        }
        for ((_, id), latest) in known {
            memory.remember(id, latest);
        }
        Ok(outcomes)
    }
}

/// A platform event row. `first_seen` grows as `received_at_ms` shrinks, so the
/// `ReplacingMergeTree` keeps the copy received first, as SQLite does: no look-up before
/// writing, duplicates merge in storage and reads use `FINAL`.
#[derive(Debug, Row, Serialize, Deserialize)]
struct EventRow {
    tenant: String,
    source: String,
    id: String,
    #[serde(rename = "type")]
    kind: String,
    subject: String,
    time_ms: i64,
    received_at_ms: i64,
    first_seen: u64,
    body: String,
    /// The service the event names, empty for appointment changes.
    service: String,
    /// The display name it gives, empty for none.
    service_name: String,
    /// An application's state, empty for other events.
    state: String,
    /// The office named, empty for none.
    office: String,
    /// The calendar named, empty for none.
    calendar: String,
    legal_deadline_days: Option<u32>,
    /// The slot a booking or rescheduling names.
    slot_start_ms: Option<i64>,
    slot_minutes: u32,
    first_available_ms: Option<i64>,
}

impl EventRow {
    fn of(stored: &StoredEvent) -> EventRow {
        let event = &stored.event;
        let (service, service_name) = service_of(event);
        let mut row = EventRow {
            tenant: stored.tenant.as_str().to_owned(),
            source: event.source.clone(),
            id: event.id.clone(),
            kind: event.kind.type_name().to_owned(),
            subject: event.subject.clone(),
            time_ms: event.time_ms,
            received_at_ms: stored.received_at_ms,
            first_seen: i64::MAX.abs_diff(stored.received_at_ms),
            // The typed columns hold every other event whole.
            body: match event.kind {
                EventKind::CalendarDay { .. } => event.to_cloudevent().to_string(),
                _ => String::new(),
            },
            service: service.unwrap_or_default().to_owned(),
            service_name: service_name.unwrap_or_default().to_owned(),
            state: String::new(),
            office: String::new(),
            calendar: String::new(),
            legal_deadline_days: None,
            slot_start_ms: None,
            slot_minutes: 0,
            first_available_ms: None,
        };
        let mut slot = |slot: &Slot| {
            row.slot_start_ms = Some(slot.start_ms);
            row.slot_minutes = slot.minutes;
        };
        match &event.kind {
            EventKind::ApplicationStatus {
                office,
                state,
                legal_deadline_days,
                ..
            } => {
                row.state = state.code().to_owned();
                row.office = office.clone().unwrap_or_default();
                row.legal_deadline_days = *legal_deadline_days;
            }
            EventKind::AppointmentBooked {
                calendar,
                office,
                slot: booked,
                first_available_slot_ms,
                ..
            } => {
                slot(booked);
                row.calendar = calendar.clone();
                row.office = office.clone().unwrap_or_default();
                row.first_available_ms = *first_available_slot_ms;
            }
            EventKind::AppointmentRescheduled {
                calendar,
                slot: moved,
            } => {
                slot(moved);
                row.calendar = calendar.clone();
            }
            EventKind::AppointmentCancelled { calendar }
            | EventKind::AppointmentAttended { calendar }
            | EventKind::AppointmentNoShow { calendar } => row.calendar = calendar.clone(),
            EventKind::CalendarDay {
                calendar, office, ..
            } => {
                row.calendar = calendar.clone();
                row.office = office.clone().unwrap_or_default();
            }
        }
        row
    }

    /// The event a row holds: a calendar day from its body, the others from the typed
    /// columns (rows written before those existed get them from their body).
    fn into_event(self) -> Result<ServiceEvent, StoreError> {
        if self.kind == "it.satisfy.calendar.day" {
            return decode_stored_event(&self.body);
        }
        let unknown = || StoreError(format!("stored event {} unreadable", self.id));
        let slot = self.slot_start_ms.map(|start_ms| Slot {
            start_ms,
            minutes: self.slot_minutes,
        });
        let calendar = self.calendar.clone();
        let kind = match self.kind.as_str() {
            "it.satisfy.application.status" => EventKind::ApplicationStatus {
                service: self.service,
                service_name: some(self.service_name),
                office: some(self.office),
                state: ApplicationState::parse(&self.state).ok_or_else(unknown)?,
                legal_deadline_days: self.legal_deadline_days,
            },
            "it.satisfy.appointment.booked" => EventKind::AppointmentBooked {
                calendar,
                service: self.service,
                service_name: some(self.service_name),
                office: some(self.office),
                slot: slot.ok_or_else(unknown)?,
                first_available_slot_ms: self.first_available_ms,
            },
            "it.satisfy.appointment.rescheduled" => EventKind::AppointmentRescheduled {
                calendar,
                slot: slot.ok_or_else(unknown)?,
            },
            "it.satisfy.appointment.cancelled" => EventKind::AppointmentCancelled { calendar },
            "it.satisfy.appointment.attended" => EventKind::AppointmentAttended { calendar },
            "it.satisfy.appointment.no_show" => EventKind::AppointmentNoShow { calendar },
            _ => return Err(unknown()),
        };
        Ok(ServiceEvent {
            source: self.source,
            id: self.id,
            time_ms: self.time_ms,
            subject: self.subject,
            kind,
        })
    }
}

/// An application step as `application_steps` keeps it: (time, id, first_seen, state,
/// office, legal deadline days).
type ApplicationStepRow<'a> = (i64, &'a str, u64, i8, &'a str, Option<u32>);

/// An appointment step as `appointment_steps` keeps it: (time, id, first_seen, change,
/// slot start, slot minutes, calendar, service, office, first available slot).
type AppointmentStepRow<'a> = (
    i64,
    &'a str,
    u64,
    i8,
    Option<i64>,
    u32,
    &'a str,
    &'a str,
    &'a str,
    Option<i64>,
);

/// Every stored copy of one application's events, as `application_steps` merges them;
/// strings borrow from the response, a million steps allocate no string.
#[derive(Debug, Row, Deserialize)]
struct ApplicationSteps<'a> {
    #[serde(borrow)]
    steps: Vec<ApplicationStepRow<'a>>,
}

/// Every stored copy of one appointment's events.
#[derive(Debug, Row, Deserialize)]
struct AppointmentSteps<'a> {
    #[serde(borrow)]
    steps: Vec<AppointmentStepRow<'a>>,
}

/// One service's applications: the steps of each (`source`, `subject`), read from the
/// service's key range of `application_steps` (FINAL merges the states of each key). Binds tenant, service.
const APPLICATIONS: &str = "
    SELECT finalizeAggregation(steps) AS steps FROM application_steps FINAL
    WHERE tenant = ? AND service = ?";

/// The appointments booked for one service: the steps of each. Binds tenant, tenant,
/// service.
const APPOINTMENTS: &str = "
    SELECT finalizeAggregation(steps) AS steps FROM appointment_steps FINAL
    WHERE tenant = ? AND (source, subject) IN (
        SELECT source, subject FROM events
        WHERE tenant = ? AND service = ? AND type = 'it.satisfy.appointment.booked')";

fn some(text: String) -> Option<String> {
    Some(text).filter(|t| !t.is_empty())
}

/// Keeps the first received copy of each event id (the greatest `first_seen`), in time
/// order with ties by id, as [`KpiInput::from_events`] orders them.
fn first_copies<T>(mut steps: Vec<T>, key: impl Fn(&T) -> (i64, &str, u64)) -> Vec<T> {
    let order = |a: &T, b: &T| {
        let ((a_time, a_id, a_seen), (b_time, b_id, b_seen)) = (key(a), key(b));
        (a_time, a_id)
            .cmp(&(b_time, b_id))
            .then(b_seen.cmp(&a_seen))
    };
    steps.sort_unstable_by(order);
    let repeated = steps.iter().enumerate().any(|(i, step)| {
        steps[..i]
            .iter()
            .any(|earlier| key(earlier).1 == key(step).1)
    });
    if repeated {
        // Copies of an id with different times are not neighbours: group them by id.
        steps.sort_unstable_by(|a, b| {
            let ((_, a_id, a_seen), (_, b_id, b_seen)) = (key(a), key(b));
            a_id.cmp(b_id).then(b_seen.cmp(&a_seen))
        });
        steps.dedup_by(|later, first| key(later).1 == key(first).1);
        steps.sort_unstable_by(order);
    }
    steps
}

/// The variant numbered `code` (from 1) of a stored Enum8.
fn variant<T: Copy>(all: &[T], code: i8) -> Result<T, StoreError> {
    usize::try_from(code)
        .ok()
        .and_then(|code| code.checked_sub(1))
        .and_then(|index| all.get(index))
        .copied()
        .ok_or_else(|| StoreError(format!("stored step kind {code} unknown")))
}

fn application(service: &str, steps: Vec<ApplicationStepRow>) -> Result<Application, StoreError> {
    let steps = first_copies(steps, |s| (s.0, s.1, s.2));
    Ok(Application {
        service: service.to_owned(),
        office: steps.last().and_then(|s| some(s.4.to_owned())),
        legal_deadline_days: steps.iter().rev().find_map(|s| s.5),
        steps: steps
            .iter()
            .map(|s| {
                Ok(ApplicationStep {
                    time_ms: s.0,
                    state: variant(&ApplicationState::ALL, s.3)?,
                })
            })
            .collect::<Result<_, StoreError>>()?,
    })
}

fn appointment(service: &str, steps: Vec<AppointmentStepRow>) -> Result<Appointment, StoreError> {
    let mut steps = first_copies(steps, |s| (s.0, s.1, s.2));
    // As the other stores read them: events naming this service or none.
    steps.retain(|s| s.7.is_empty() || s.7 == service);
    let changes: Vec<AppointmentChange> = steps
        .iter()
        .map(|s| variant(&AppointmentChange::ALL, s.3))
        .collect::<Result<_, _>>()?;
    let booked = |s: &(&AppointmentStepRow, &AppointmentChange)| *s.1 == AppointmentChange::Booked;
    let mut bookings = steps.iter().zip(&changes).filter(booked);
    let first_booking = bookings.next();
    let latest_booking = bookings.next_back().or(first_booking);
    Ok(Appointment {
        calendar: steps.last().map(|s| s.6.to_owned()).unwrap_or_default(),
        service: latest_booking.map(|(s, _)| s.7.to_owned()),
        office: latest_booking.and_then(|(s, _)| some(s.8.to_owned())),
        booking: first_booking.map(|(s, _)| Booking {
            time_ms: s.0,
            first_available_ms: s.9,
        }),
        steps: steps
            .iter()
            .zip(changes)
            .map(|(s, change)| AppointmentStep {
                time_ms: s.0,
                change,
                slot: s.4.map(|start_ms| Slot {
                    start_ms,
                    minutes: s.5,
                }),
            })
            .collect(),
    })
}

#[async_trait]
impl EventStore for ClickHouseStore {
    async fn write_events(&self, batch: &[StoredEvent]) -> Result<(), StoreError> {
        let erasures = self.erasures().await?;
        // Copies of events retention deleted (Kafka redeliveries) are not stored again.
        let kept: Vec<&StoredEvent> = batch
            .iter()
            .filter(|stored| !erasures.before_cutoff(stored.tenant.as_str(), stored.received_at_ms))
            .collect();
        drop(erasures);
        if kept.is_empty() {
            return Ok(());
        }
        let mut insert = self
            .client
            .insert::<EventRow>("events")
            .await
            .map_err(error("event insert"))?;
        for stored in kept {
            insert
                .write(&EventRow::of(stored))
                .await
                .map_err(error("event insert"))?;
        }
        insert.end().await.map_err(error("event insert"))
    }

    async fn tenant_events(&self, tenant: &TenantId) -> Result<Vec<ServiceEvent>, StoreError> {
        self.client
            .query("SELECT ?fields FROM events FINAL WHERE tenant = ?")
            .bind(tenant.as_str())
            .fetch_all::<EventRow>()
            .await
            .map_err(error("reading events"))?
            .into_iter()
            .map(EventRow::into_event)
            .collect()
    }

    async fn service_activity(
        &self,
        tenant: &TenantId,
        service: &str,
    ) -> Result<KpiInput, StoreError> {
        // The step tables' types are fixed by the migrations above; checking them on every
        // one of a million rows costs a third of the page.
        let steps = self.client.clone().with_validation(false);
        let mut input = KpiInput::default();
        let mut cursor = steps
            .query(APPLICATIONS)
            .bind(tenant.as_str())
            .bind(service)
            .fetch::<ApplicationSteps<'_>>()
            .map_err(error("reading a service's applications"))?;
        while let Some(row) = cursor
            .next()
            .await
            .map_err(error("reading a service's applications"))?
        {
            input.applications.push(application(service, row.steps)?);
        }
        let mut cursor = steps
            .query(APPOINTMENTS)
            .bind(tenant.as_str())
            .bind(tenant.as_str())
            .bind(service)
            .fetch::<AppointmentSteps<'_>>()
            .map_err(error("reading a service's appointments"))?;
        while let Some(row) = cursor
            .next()
            .await
            .map_err(error("reading a service's appointments"))?
        {
            input.appointments.push(appointment(service, row.steps)?);
        }
        // Calendar days are few (one per calendar and date): read whole, first received
        // first, as KpiInput::from_events keeps the first copy of each event.
        let days: Vec<String> = self
            .client
            .query(
                "SELECT body FROM calendar_days WHERE tenant = ? AND service = ?
                 ORDER BY first_seen DESC",
            )
            .bind(tenant.as_str())
            .bind(service)
            .fetch_all()
            .await
            .map_err(error("reading a service's calendar days"))?;
        let days = days
            .iter()
            .map(|body| decode_stored_event(body))
            .collect::<Result<Vec<_>, _>>()?;
        let scope = KpiScope {
            service: Some(service.to_owned()),
            ..KpiScope::default()
        };
        input.calendar_days = KpiInput::from_events(days, &scope).calendar_days;
        Ok(input.narrowed(&scope))
    }

    async fn services(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<(String, Option<String>)>, StoreError> {
        let rows: Vec<(String, String)> = self
            .client
            .query(
                "SELECT service, argMaxIfMerge(name) FROM service_names WHERE tenant = ?
                 GROUP BY service ORDER BY service",
            )
            .bind(tenant.as_str())
            .fetch_all()
            .await
            .map_err(error("listing services"))?;
        Ok(rows
            .into_iter()
            .map(|(service, name)| (service, Some(name).filter(|n| !n.is_empty())))
            .collect())
    }
}

/// The filter's tenant and, when it names one, entrypoint: only the conditions asked for
/// are written, so that ClickHouse reads one entrypoint's key range in sorting-key order.
/// [`bind_scope`] binds them.
fn scope(filter: &Filter) -> &'static str {
    match filter.entrypoint {
        Some(_) => "tenant = ? AND entrypoint = ?",
        None => "tenant = ?",
    }
}

/// Binds the filter's tenant and entrypoint to the next [`scope`] of `query`.
fn bind_scope(query: Query, filter: &Filter) -> Query {
    let query = query.bind(filter.tenant.as_str());
    match &filter.entrypoint {
        Some(entrypoint) => query.bind(entrypoint.as_str()),
        None => query,
    }
}

impl ClickHouseStore {
    /// `sql` with the filter's scope bound, for a leading [`scope`].
    fn scoped(&self, sql: &str, filter: &Filter) -> Query {
        bind_scope(self.client.query(sql), filter)
    }
}

/// The filter's range in 15-minute slots of a rollup `r`, exact: local midnights are whole
/// slots in every time zone in use. Numbers computed here, never input, so they are written
/// in the SQL.
fn slot_range(filter: &Filter) -> String {
    let (start, end) = filter.utc_range_ms();
    format!(
        "r.slot >= {} AND r.slot < {}",
        start.div_euclid(SLOT_MS),
        end.div_euclid(SLOT_MS)
    )
}

/// The local day of a rollup row's slot, in the time zone bound: a series needs no finer
/// unit, and a year of days is 96 times fewer rows than of slots. Each day is returned as
/// its first slot with rows, which `bucketize` puts in the same day.
fn local_day() -> String {
    format!("toDate(toDateTime(r.slot * {}, ?))", SLOT_MS / 1000)
}

/// Rows of a range from a daily rollup for its whole UTC days and from the ratings
/// themselves for the edges, `UNION ALL`. Each part is read only when the range has some
/// (a local day has no whole UTC day, a UTC tenant's range no edges): every part costs
/// ClickHouse its planning, even over nothing.
struct SplitRows {
    sql: String,
    /// How many times the filter's [`scope`] is to be bound, once per part.
    scopes: usize,
}

impl SplitRows {
    /// `rollup` and `ratings` select the same columns and end in a `WHERE` clause with the
    /// filter's [`scope`], which the day range and the edges are added to.
    fn of(split: &DaySplit, rollup: &str, ratings: &str) -> SplitRows {
        let mut parts = Vec::with_capacity(2);
        if split.first_day < split.end_day {
            parts.push(format!(
                "{rollup} AND day >= {} AND day < {}",
                split.first_day, split.end_day
            ));
        }
        let has_edges = split.start < split.inner_start || split.inner_end < split.end;
        // An empty range still needs a query: its edges are empty.
        if has_edges || parts.is_empty() {
            parts.push(format!("{ratings} AND {}", edges(split)));
        }
        SplitRows {
            scopes: parts.len(),
            sql: parts.join(" UNION ALL "),
        }
    }

    /// `query` with the filter's scope bound for each part.
    fn bind(&self, query: Query, filter: &Filter) -> Query {
        (0..self.scopes).fold(query, |query, _| bind_scope(query, filter))
    }
}

/// `SELECT page, stars, n` over a range (see [`SplitRows`]).
fn page_rows(filter: &Filter, split: &DaySplit) -> SplitRows {
    let scope = scope(filter);
    SplitRows::of(
        split,
        &format!("SELECT page, stars, n FROM page_days WHERE {scope}"),
        &format!("SELECT page, stars, toInt64(1) AS n FROM ratings FINAL WHERE {scope}"),
    )
}

/// The parts of a range outside its whole UTC days.
fn edges(split: &DaySplit) -> String {
    format!(
        "((created_ms >= {} AND created_ms < {}) OR (created_ms >= {} AND created_ms < {}))",
        split.start, split.inner_start, split.inner_end, split.end
    )
}

#[derive(Row, Deserialize)]
struct StarsCount {
    stars: u8,
    n: u64,
}

#[derive(Row, Deserialize)]
struct SlotCount {
    slot: i64,
    stars: u8,
    n: u64,
}

/// Deletions run as ClickHouse mutations, each waited for: when a request returns, the
/// rows are gone from every query. The rollups are other tables, fed only by inserts, so
/// deleted ratings stay counted there.
///
/// What is erased is recorded first, so that writers refuse copies from then on: this
/// store's at once, other processes' within [`ERASURES_REFRESH`]. A batch another process
/// was writing at that moment may still store a copy; each retention sweep (hourly)
/// deletes again the ratings deleted on request.
#[async_trait]
impl Erasure for ClickHouseStore {
    async fn expire(&self, tenant: &TenantId, before_ms: i64) -> Result<Expired, StoreError> {
        self.client
            .query("INSERT INTO retention_cutoffs (tenant, before_ms) VALUES (?, ?)")
            .bind(tenant.as_str())
            .bind(before_ms)
            .execute()
            .await
            .map_err(error("recording the retention cutoff"))?;
        self.erasures.lock().await.loaded_at = None;
        let bind = |query: Query| query.bind(tenant.as_str()).bind(before_ms);
        let returned = self
            .count_then_mutate(
                "deleting again the ratings deleted on request",
                "SELECT count() FROM ratings WHERE tenant = ?
                 AND id IN (SELECT id FROM erased_ratings WHERE tenant = ?)",
                "DELETE FROM ratings WHERE tenant = ?
                 AND id IN (SELECT id FROM erased_ratings WHERE tenant = ?)",
                |query| query.bind(tenant.as_str()).bind(tenant.as_str()),
            )
            .await?;
        if returned > 0 {
            tracing::warn!(
                versions = returned,
                "deleted again ratings deleted on request that a writer had stored meanwhile"
            );
        }
        // Copies received before the cutoff are refused by it.
        self.count_then_mutate(
            "forgetting ratings deleted before the cutoff",
            "SELECT count() FROM erased_ratings WHERE tenant = ? AND erased_ms < ?",
            "DELETE FROM erased_ratings WHERE tenant = ? AND erased_ms < ?",
            bind,
        )
        .await?;
        let ratings = self
            .count_then_mutate(
                "expiring ratings",
                "SELECT uniqExact(id) FROM ratings WHERE tenant = ? AND created_ms < ?",
                "DELETE FROM ratings WHERE tenant = ? AND created_ms < ?",
                bind,
            )
            .await?;
        let events = self
            .count_then_mutate(
                "expiring events",
                "SELECT uniqExact(source, id) FROM events WHERE tenant = ? AND received_at_ms < ?",
                "DELETE FROM events WHERE tenant = ? AND received_at_ms < ?",
                bind,
            )
            .await?;
        Ok(Expired { ratings, events })
    }

    async fn delete_rating(&self, tenant: &TenantId, id: Uuid) -> Result<bool, StoreError> {
        let id = id.hyphenated().to_string();
        let bind = |query: Query| query.bind(tenant.as_str()).bind(&id);
        let found: u64 = bind(
            self.client
                .query("SELECT count() FROM ratings WHERE tenant = ? AND id = toUUID(?)"),
        )
        .fetch_one()
        .await
        .map_err(error("deleting a rating"))?;
        if found == 0 {
            return Ok(false);
        }
        bind(
            self.client.query(
                "INSERT INTO erased_ratings (tenant, id, erased_ms) VALUES (?, toUUID(?), ?)",
            ),
        )
        .bind(chrono::Utc::now().timestamp_millis())
        .execute()
        .await
        .map_err(error("recording a deleted rating"))?;
        self.erasures.lock().await.loaded_at = None;
        self.mutate(
            "deleting a rating",
            "DELETE FROM ratings WHERE tenant = ? AND id = toUUID(?)",
            bind,
        )
        .await?;
        Ok(true)
    }

    async fn erase_comments(&self, tenant: &TenantId, text: &str) -> Result<u64, StoreError> {
        let pattern = like_pattern(text);
        self.count_then_mutate(
            "erasing comments",
            "SELECT uniqExact(id) FROM ratings WHERE tenant = ? AND comment ILIKE ?",
            "ALTER TABLE ratings UPDATE comment = NULL WHERE tenant = ? AND comment ILIKE ?",
            |query| query.bind(tenant.as_str()).bind(&pattern),
        )
        .await
    }
}

impl ClickHouseStore {
    /// Counts what `count_sql` selects and, when it found anything, runs `mutation_sql`
    /// (a deletion or an update of the same rows), returning once the mutation is done.
    /// Both statements take the parameters `bind` gives. Returns the count.
    async fn count_then_mutate(
        &self,
        context: &'static str,
        count_sql: &str,
        mutation_sql: &str,
        bind: impl Fn(Query) -> Query,
    ) -> Result<u64, StoreError> {
        let found: u64 = bind(self.client.query(count_sql))
            .fetch_one()
            .await
            .map_err(error(context))?;
        if found > 0 {
            self.mutate(context, mutation_sql, bind).await?;
        }
        Ok(found)
    }

    /// Runs `mutation_sql` (a deletion or an update) with the parameters `bind` gives,
    /// returning once the mutation is done.
    async fn mutate(
        &self,
        context: &'static str,
        mutation_sql: &str,
        bind: impl Fn(Query) -> Query,
    ) -> Result<(), StoreError> {
        let mutation = self
            .client
            .query(mutation_sql)
            .with_setting("mutations_sync", "2")
            .with_setting("lightweight_deletes_sync", "2");
        bind(mutation).execute().await.map_err(error(context))
    }
}

#[async_trait]
impl AnalyticsQuery for ClickHouseStore {
    async fn summary(&self, filter: &Filter) -> Result<Tally, StoreError> {
        let sql = format!(
            "SELECT stars, toUInt64(sum(r.n)) AS n FROM rating_slots AS r WHERE {} AND {}
             GROUP BY stars HAVING sum(r.n) > 0",
            scope(filter),
            slot_range(filter)
        );
        let rows: Vec<StarsCount> = self
            .scoped(&sql, filter)
            .fetch_all()
            .await
            .map_err(error("summary"))?;
        let mut tally = Tally::default();
        for row in rows {
            tally.add(row.stars, row.n);
        }
        Ok(tally)
    }

    async fn buckets(
        &self,
        filter: &Filter,
        granularity: Granularity,
    ) -> Result<Vec<Bucket>, StoreError> {
        let sql = format!(
            "SELECT min(r.slot) AS slot, stars, toUInt64(sum(r.n)) AS n FROM rating_slots AS r
             WHERE {} AND {} GROUP BY {}, stars HAVING sum(r.n) > 0",
            scope(filter),
            slot_range(filter),
            local_day()
        );
        let rows: Vec<SlotCount> = self
            .scoped(&sql, filter)
            .bind(filter.tz.name())
            .fetch_all()
            .await
            .map_err(error("buckets"))?;
        Ok(bucketize(
            filter,
            granularity,
            rows.into_iter().map(|r| (r.slot, r.stars, r.n)),
        ))
    }

    async fn answer_counts(&self, filter: &Filter) -> Result<Vec<AnswerCount>, StoreError> {
        #[derive(Row, Deserialize)]
        struct Row_ {
            option: String,
            n: u64,
        }
        let sql = format!(
            "SELECT toString(r.option) AS option, toUInt64(sum(r.n)) AS n FROM answer_slots AS r
             WHERE {} AND {} GROUP BY option HAVING sum(r.n) > 0 ORDER BY n DESC, option",
            scope(filter),
            slot_range(filter)
        );
        let rows: Vec<Row_> = self
            .scoped(&sql, filter)
            .fetch_all()
            .await
            .map_err(error("answers"))?;
        Ok(rows
            .into_iter()
            .map(|r| AnswerCount {
                option: r.option,
                count: r.n,
            })
            .collect())
    }

    async fn answer_buckets(
        &self,
        filter: &Filter,
        granularity: Granularity,
    ) -> Result<Vec<AnswerBucket>, StoreError> {
        #[derive(Row, Deserialize)]
        struct Row_ {
            slot: i64,
            option: String,
            n: u64,
        }
        let sql = format!(
            "SELECT min(r.slot) AS slot, toString(r.option) AS option, toUInt64(sum(r.n)) AS n
             FROM answer_slots AS r
             WHERE {} AND {} GROUP BY {}, option HAVING sum(r.n) > 0",
            scope(filter),
            slot_range(filter),
            local_day()
        );
        let rows: Vec<Row_> = self
            .scoped(&sql, filter)
            .bind(filter.tz.name())
            .fetch_all()
            .await
            .map_err(error("answer buckets"))?;
        Ok(bucketize_answers(
            filter,
            granularity,
            rows.into_iter().map(|r| (r.slot, r.option, r.n)),
        ))
    }

    async fn ratings(
        &self,
        query: &RatingQuery,
        after: Option<&RatingCursor>,
        limit: usize,
    ) -> Result<Vec<RatingRow>, StoreError> {
        #[derive(Row, Deserialize)]
        struct Row_ {
            #[serde(with = "clickhouse::serde::uuid")]
            id: uuid::Uuid,
            created_ms: i64,
            entrypoint: String,
            page: String,
            stars: u8,
            answers: Vec<String>,
            text: Option<String>,
            language: String,
        }
        // The first page starts before the end of time.
        let (after_ms, after_id) = match after {
            Some(cursor) => (cursor.created_at_ms, cursor.id.hyphenated().to_string()),
            None => (i64::MAX, Uuid::nil().hyphenated().to_string()),
        };
        // Ratings newest first in the sorting key's order (ties in ClickHouse's UUID order),
        // so that ClickHouse reads an entrypoint's key range backwards and stops early.
        // Aliases are visible in WHERE in ClickHouse: never alias over a filtered column.
        let matching = format!(
            "{} AND created_ms >= ? AND created_ms < ?
               AND bitTest(?, stars)
               AND (? = '' OR (has(answers, ?) AND multiIf(? = 1, stars > 3, ? = 2, stars <= 3, 1)))
               AND (? = '' OR page = ?)
               AND (? = '' OR lang = ?)
               AND (? = '' OR comment ILIKE ?)
               AND (NOT ? OR comment IS NOT NULL)
               AND (created_ms, id) < (?, toUUID(?))",
            scope(&query.filter)
        );
        let answer = query.answer.as_deref().unwrap_or("");
        // The key names the option, and for the official "other" the stars it came with.
        let (option, positive) = answer_of_key(answer);
        let stars_side: u8 = match positive {
            None => 0,
            Some(true) => 1,
            Some(false) => 2,
        };
        let page = query.page.as_deref().unwrap_or("");
        let lang = query.lang.map(|l| l.code()).unwrap_or("");
        let pattern = query.text_pattern().unwrap_or_default();
        let (start, end) = query.filter.utc_range_ms();
        let bind_matching = |sql: &str| {
            bind_scope(self.client.query(sql), &query.filter)
                .bind(start)
                .bind(end)
                .bind(query.stars_mask())
                .bind(answer)
                .bind(option)
                .bind(stars_side)
                .bind(stars_side)
                .bind(page)
                .bind(page)
                .bind(lang)
                .bind(lang)
                .bind(&pattern)
                .bind(&pattern)
                .bind(query.with_comment)
                .bind(after_ms)
                .bind(&after_id)
        };
        // Merging versions (FINAL) over the whole range would read every rating of it.
        // First the newest matching versions are read as they lie, without merging: the
        // page's ratings, whose latest versions match, are among them or older than all
        // of them. Versions merged from the earliest of them on give the page, unless too
        // many were outdated versions or copies: then more are read.
        // Reading newest first in key order still opens every part of the range (a month
        // each at least), so the newest versions are looked for in a window ending at the
        // cursor, widened until it holds enough of them or covers the range: the first
        // page of a year took 130 ms over 10M ratings searched, 11 ms over a week.
        #[derive(Row, Deserialize)]
        struct Newest {
            read: u64,
            earliest: i64,
        }
        let candidates_sql = format!(
            "SELECT count() AS read, min(created_ms) AS earliest FROM (
                 SELECT created_ms FROM ratings WHERE {matching} AND created_ms >= ?
                 ORDER BY created_ms DESC, id DESC LIMIT ?)"
        );
        let page_sql = format!(
            "SELECT id, created_ms, toString(entrypoint) AS entrypoint, page, stars,
                    arraySort(arrayMap(a -> toString(a), answers)) AS answers, comment AS text,
                    toString(lang) AS language
             FROM ratings FINAL WHERE {matching} AND created_ms >= ?
             ORDER BY created_ms DESC, id DESC LIMIT ?"
        );
        let window_end = end.min(after_ms.saturating_add(1));
        let mut window = LISTING_WINDOW_MS;
        let mut candidates = limit.max(1);
        let rows = loop {
            let window_start = window_end.saturating_sub(window).max(start);
            let newest: Newest = bind_matching(&candidates_sql)
                .bind(window_start)
                .bind(candidates as u64)
                .fetch_one()
                .await
                .map_err(error("ratings"))?;
            let window_read = newest.read < candidates as u64;
            if window_read && window_start > start {
                window = widened(window, newest.read, candidates as u64);
                continue;
            }
            // No version in the whole range matches, so no rating's latest one does.
            if newest.read == 0 {
                break Vec::new();
            }
            let earliest = if window_read { start } else { newest.earliest };
            let rows: Vec<Row_> = bind_matching(&page_sql)
                .bind(earliest)
                .bind(limit as u64)
                .fetch_all()
                .await
                .map_err(error("ratings"))?;
            if window_read || rows.len() == limit {
                break rows;
            }
            candidates = candidates.saturating_mul(4);
        };
        Ok(rows
            .into_iter()
            .map(|r| RatingRow {
                id: r.id,
                created_at_ms: r.created_ms,
                entrypoint: r.entrypoint,
                page: r.page,
                rating: r.stars,
                answers: r.answers,
                comment: r.text,
                lang: r.language,
            })
            .collect())
    }

    async fn pages(
        &self,
        filter: &Filter,
        ranking: &PageRanking,
    ) -> Result<Vec<PageStats>, StoreError> {
        #[derive(Row, Deserialize)]
        struct Row_ {
            page: String,
            distribution: Vec<u64>,
        }
        let (prior_ratings, prior_sum) = (
            PageRanking::PRIOR_RATINGS,
            PageRanking::PRIOR_RATINGS * PageRanking::PRIOR_STARS,
        );
        let (start, end) = filter.utc_range_ms();
        let rows = page_rows(filter, &DaySplit::of(start, end));
        let sql = format!(
            "SELECT page, {} AS distribution FROM ({})
             GROUP BY page HAVING sum(n) >= ?
             ORDER BY (sum(n * stars) + {prior_sum}) / (sum(n) + {prior_ratings}), sum(n) DESC, page
             LIMIT ?",
            distribution_sql("1"),
            rows.sql
        );
        let rows: Vec<Row_> = rows
            .bind(self.client.query(&sql), filter)
            .bind(ranking.min_ratings)
            .bind(ranking.limit as u64)
            .fetch_all()
            .await
            .map_err(error("pages"))?;
        Ok(rows
            .into_iter()
            .map(|r| PageStats {
                tally: tally_of(&r.distribution),
                page: r.page,
            })
            .collect())
    }

    async fn page_changes(
        &self,
        previous: &Filter,
        current: &Filter,
        ranking: &PageRanking,
    ) -> Result<Vec<PageChange>, StoreError> {
        #[derive(Row, Deserialize)]
        struct Row_ {
            page: String,
            was: Vec<u64>,
            now: Vec<u64>,
        }
        let (was_start, was_end) = previous.utc_range_ms();
        let (now_start, now_end) = current.utc_range_ms();
        let was = page_rows(previous, &DaySplit::of(was_start, was_end));
        let now = page_rows(current, &DaySplit::of(now_start, now_end));
        let sql = format!(
            "SELECT page, {} AS was, {} AS now FROM (
                 SELECT 0 AS period, page, stars, n FROM ({})
                 UNION ALL
                 SELECT 1 AS period, page, stars, n FROM ({}))
             GROUP BY page
             HAVING sumIf(n, period = 0) >= ? AND sumIf(n, period = 1) >= ?
             ORDER BY sumIf(n * stars, period = 0) / sumIf(n, period = 0)
                    - sumIf(n * stars, period = 1) / sumIf(n, period = 1) DESC, page
             LIMIT ?",
            distribution_sql("period = 0"),
            distribution_sql("period = 1"),
            was.sql,
            now.sql
        );
        let query = was.bind(self.client.query(&sql), previous);
        let rows: Vec<Row_> = now
            .bind(query, current)
            .bind(ranking.min_ratings)
            .bind(ranking.min_ratings)
            .bind(ranking.limit as u64)
            .fetch_all()
            .await
            .map_err(error("page changes"))?;
        Ok(rows
            .into_iter()
            .map(|r| PageChange {
                previous: tally_of(&r.was),
                current: tally_of(&r.now),
                page: r.page,
            })
            .collect())
    }

    async fn negative_answer_pages(
        &self,
        filter: &Filter,
        limit: usize,
    ) -> Result<Vec<PageCount>, StoreError> {
        #[derive(Row, Deserialize)]
        struct Row_ {
            page: String,
            n: u64,
        }
        let (start, end) = filter.utc_range_ms();
        let scope = scope(filter);
        let rows = SplitRows::of(
            &DaySplit::of(start, end),
            &format!("SELECT page, n AS c FROM negative_page_days WHERE {scope}"),
            &format!(
                "SELECT page, toInt64(length(answers)) AS c FROM ratings FINAL
                 WHERE {scope} AND stars <= 3"
            ),
        );
        let sql = format!(
            "SELECT page, toUInt64(sum(c)) AS n FROM ({})
             GROUP BY page HAVING n > 0 ORDER BY n DESC, page LIMIT ?",
            rows.sql
        );
        let rows: Vec<Row_> = rows
            .bind(self.client.query(&sql), filter)
            .bind(limit as u64)
            .fetch_all()
            .await
            .map_err(error("negative answer pages"))?;
        Ok(rows
            .into_iter()
            .map(|r| PageCount {
                page: r.page,
                count: r.n,
            })
            .collect())
    }

    async fn page_evidence(
        &self,
        tenant: &TenantId,
        pages: &[String],
        now_ms: i64,
    ) -> Result<Vec<PageEvidence>, StoreError> {
        #[derive(Row, Deserialize)]
        struct Row_ {
            page: String,
            last_30: u64,
            last_90: u64,
            latest: i64,
        }
        if pages.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<Row_> = self
            .client
            .query(
                "SELECT page, countIf(created_ms >= ?) AS last_30, countIf(created_ms >= ?) AS last_90,
                        max(created_ms) AS latest
                 FROM ratings FINAL WHERE tenant = ? AND has(?, page) GROUP BY page",
            )
            .bind(now_ms - 30 * DAY_MS)
            .bind(now_ms - 90 * DAY_MS)
            .bind(tenant.as_str())
            .bind(pages)
            .fetch_all()
            .await
            .map_err(error("page evidence"))?;
        Ok(rows
            .into_iter()
            .map(|r| PageEvidence {
                page: r.page,
                last_30_days: r.last_30,
                last_90_days: r.last_90,
                latest_ms: Some(r.latest),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_set_holds_what_it_was_given_and_added_through_its_merges() {
        // A fixed pseudo-random sequence of folded ids, with repeats and the extremes.
        let mut state = 0x1D5E7_u64;
        let mut next = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            state
        };
        let loaded: Vec<u64> = (0..100_000).map(|_| next()).chain([0, u64::MAX]).collect();
        let mut set = IdSet::of(loaded.clone());
        let mut added = Vec::new();
        // Enough to merge several times, each add also repeating an id already held.
        for n in 0..400_000 {
            let folded = next();
            set.insert(folded);
            set.insert(if n % 2 == 0 {
                loaded[n % loaded.len()]
            } else {
                folded
            });
            added.push(folded);
        }
        assert!(set.sorted.len() > 400_000, "merged along the way");
        assert!(
            set.sorted.windows(2).all(|w| w[0] < w[1]),
            "sorted, each id once"
        );
        assert_eq!(set.starts.last().copied(), Some(set.sorted.len() as u32));
        assert!(
            loaded
                .iter()
                .chain(&added)
                .all(|&folded| set.contains(folded))
        );
        let held: FxHashSet<u64> = loaded.iter().chain(&added).copied().collect();
        let absent: Vec<u64> = (0..100_000)
            .map(|_| next())
            .filter(|f| !held.contains(f))
            .collect();
        assert!(absent.len() > 99_000);
        assert!(absent.iter().all(|&folded| !set.contains(folded)));
    }

    #[test]
    fn a_listing_window_widens_fourfold_or_by_its_shortfall_up_to_sixteenfold() {
        assert_eq!(widened(DAY_MS, 10, 20), 4 * DAY_MS);
        assert_eq!(widened(DAY_MS, 19, 20), 4 * DAY_MS);
        assert_eq!(widened(DAY_MS, 2, 20), 10 * DAY_MS);
        assert_eq!(widened(DAY_MS, 3, 20), 7 * DAY_MS);
        assert_eq!(widened(DAY_MS, 0, 20), 16 * DAY_MS);
        assert_eq!(widened(DAY_MS, 1, 2000), 16 * DAY_MS);
        assert_eq!(widened(i64::MAX / 2, 0, 20), i64::MAX);
    }

    #[test]
    fn step_tables_number_states_and_changes_as_the_kpi_engine() {
        let numbered = |names: &[&str]| {
            let variants: Vec<String> = names
                .iter()
                .enumerate()
                .map(|(index, name)| format!("'{name}' = {}", index + 1))
                .collect();
            format!("Enum8({})", variants.join(", "))
        };
        let states = ApplicationState::ALL.map(|s| s.code());
        let changes = AppointmentChange::ALL.map(|c| c.type_name());
        let sql = MIGRATIONS.concat();
        assert_eq!(sql.matches(&numbered(&states)).count(), 3);
        assert_eq!(sql.matches(&numbered(&changes)).count(), 3);
    }

    #[test]
    fn a_writer_remembers_the_latest_two_generations_in_tables_that_never_grow() {
        let mut memory = Memory::default();
        let capacity = (memory.recent.capacity(), memory.older.capacity());
        assert!(capacity.0 >= GENERATION && capacity.0 < 2 * GENERATION);
        let latest = |n: u128| Latest {
            tenant: "comune".into(),
            entrypoint: "ep_AAAAAAAAAAAAAAAA".into(),
            created_ms: n as i64,
            version_ms: n as i64,
            page: "https://www.comune.example.it/".into(),
            stars: 3,
            answers: Vec::new(),
        };
        let ids = 0..(3 * GENERATION as u128);
        for n in ids.clone() {
            memory.remember(Uuid::from_u128(n), latest(n));
        }
        assert_eq!(
            (memory.recent.capacity(), memory.older.capacity()),
            capacity
        );
        // The last two generations are remembered, the first is not.
        let remembered = |n: u128| memory.latest("comune", Uuid::from_u128(n)).is_some();
        assert!(ids.clone().skip(GENERATION).all(remembered));
        assert!(!ids.take(GENERATION).any(remembered));
        // Each remembered version is another tenant's unknown rating.
        let last = Uuid::from_u128(3 * GENERATION as u128 - 1);
        assert!(memory.latest("other", last).is_none());
    }
}
