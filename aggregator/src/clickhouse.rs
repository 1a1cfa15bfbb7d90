//! The distributed backend: ClickHouse over its HTTP interface.
//!
//! One row per version of a rating in a `ReplacingMergeTree(version_ms)`; queries read
//! `FINAL`, so redeliveries and updates count once, in their latest version, dated by when
//! the rating was first received. Every version carries the first one's `created_ms` and
//! entrypoint, so the sorting key `(tenant, entrypoint, created_ms, id)` identifies a rating
//! and lets a dashboard read only its entrypoint's time range; monthly partitions let
//! `FINAL` work partition by partition (about 0.1 s for a quarter of one entrypoint out of
//! 10M ratings here). Writes look the batch's ids up first (a bloom-filter index on `id`) so
//! an id owned by another entrypoint is refused exactly as in SQLite.

use async_trait::async_trait;
use clickhouse::{Client, Compression, Row};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use uuid::Uuid;

use crate::buckets::{Granularity, SLOT_MS, bucketize};
use crate::model::{
    AnswerCount, Bucket, CommentRow, Filter, PageStats, StoredEvent, StoredRating, Tally,
};
use crate::sqlite::{decode_stored_event, rank_pages};
use crate::store::{AnalyticsQuery, EventStore, RatingStore, StoreError, WriteOutcome, service_of};
use satisfy_core::TenantId;
use satisfy_core::event::ServiceEvent;

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
];

/// Ids per look-up query of a batch's existing ratings.
const LOOKUP_CHUNK: usize = 2000;

#[derive(Debug, Row, Serialize, Deserialize)]
struct RatingRow {
    tenant: String,
    #[serde(with = "clickhouse::serde::uuid")]
    id: Uuid,
    entrypoint: String,
    page: String,
    stars: u8,
    answers: Vec<String>,
    comment: Option<String>,
    lang: String,
    widget: Option<String>,
    created_ms: i64,
    version_ms: i64,
}

fn error(context: &'static str) -> impl Fn(clickhouse::error::Error) -> StoreError {
    move |e| StoreError(format!("clickhouse {context}: {e}"))
}

/// Ratings in ClickHouse.
#[derive(Clone)]
pub struct ClickHouseStore {
    client: Client,
}

impl ClickHouseStore {
    /// Connects to `url` (e.g. `http://127.0.0.1:8123`), creates `database` if needed and
    /// applies pending migrations.
    pub async fn connect(url: &str, database: &str) -> Result<ClickHouseStore, StoreError> {
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
        let server = Client::default()
            .with_url(url)
            .with_compression(Compression::None);
        server
            .query(&format!("CREATE DATABASE IF NOT EXISTS {database}"))
            .execute()
            .await
            .map_err(error("creating the database"))?;
        let client = server.with_database(database);
        let store = ClickHouseStore { client };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        self.client
            .query(
                "CREATE TABLE IF NOT EXISTS satisfy_migrations (version UInt32, applied_at DateTime DEFAULT now())
                 ENGINE = MergeTree ORDER BY version",
            )
            .execute()
            .await
            .map_err(error("creating the migrations table"))?;
        let applied: u32 = self
            .client
            .query("SELECT toUInt32(max(version)) FROM satisfy_migrations")
            .fetch_one()
            .await
            .map_err(error("reading migrations"))?;
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

    /// Owner entrypoint and first-seen time of the ids of a batch that already exist.
    async fn existing(
        &self,
        batch: &[StoredRating],
    ) -> Result<HashMap<(String, Uuid), (String, i64)>, StoreError> {
        #[derive(Row, Deserialize)]
        struct Existing {
            tenant: String,
            #[serde(with = "clickhouse::serde::uuid")]
            id: Uuid,
            entrypoint: String,
            created_ms: i64,
        }
        let mut by_tenant: HashMap<&str, Vec<String>> = HashMap::new();
        for stored in batch {
            by_tenant
                .entry(stored.tenant.as_str())
                .or_default()
                .push(format!("'{}'", stored.rating.id.hyphenated()));
        }
        let mut found = HashMap::new();
        // Chunks keep each query well under ClickHouse's max_query_size (256 KiB).
        for (tenant, ids) in by_tenant {
            for chunk in ids.chunks(LOOKUP_CHUNK) {
                // Ids are formatted from parsed UUIDs (hex and dashes only), never raw input.
                let sql = format!(
                    "SELECT tenant, id, entrypoint, min(created_ms) AS created_ms FROM ratings
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
                    found.insert((row.tenant, row.id), (row.entrypoint, row.created_ms));
                }
            }
        }
        Ok(found)
    }
}

#[async_trait]
impl RatingStore for ClickHouseStore {
    async fn write_batch(&self, batch: &[StoredRating]) -> Result<Vec<WriteOutcome>, StoreError> {
        let mut known = self.existing(batch).await?;
        let mut outcomes = Vec::with_capacity(batch.len());
        let mut rows = Vec::with_capacity(batch.len());
        for stored in batch {
            let rating = &stored.rating;
            let key = (stored.tenant.as_str().to_owned(), rating.id);
            let created_ms = match known.get(&key) {
                Some((owner, _)) if owner != rating.entrypoint.as_str() => {
                    outcomes.push(WriteOutcome::Conflict);
                    continue;
                }
                Some((_, created_ms)) => {
                    outcomes.push(WriteOutcome::Updated);
                    *created_ms
                }
                None => {
                    outcomes.push(WriteOutcome::Inserted);
                    known.insert(
                        key,
                        (rating.entrypoint.as_str().to_owned(), stored.received_at_ms),
                    );
                    stored.received_at_ms
                }
            };
            rows.push(RatingRow {
                tenant: stored.tenant.as_str().to_owned(),
                id: rating.id,
                entrypoint: rating.entrypoint.as_str().to_owned(),
                page: rating.page.as_str().to_owned(),
                stars: rating.rating.get(),
                answers: rating.answers.clone(),
                comment: rating.comment.as_ref().map(|c| c.as_str().to_owned()),
                lang: rating.lang.code().to_owned(),
                widget: rating.widget.clone(),
                created_ms,
                version_ms: stored.received_at_ms,
            });
        }
        if !rows.is_empty() {
            let mut insert = self
                .client
                .insert::<RatingRow>("ratings")
                .await
                .map_err(error("insert"))?;
            for row in &rows {
                insert.write(row).await.map_err(error("insert"))?;
            }
            // The insert is synchronous: when end() returns, the rows are stored.
            insert.end().await.map_err(error("insert"))?;
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
}

#[async_trait]
impl EventStore for ClickHouseStore {
    async fn write_events(&self, batch: &[StoredEvent]) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut insert = self
            .client
            .insert::<EventRow>("events")
            .await
            .map_err(error("event insert"))?;
        for stored in batch {
            let event = &stored.event;
            let (service, service_name) = service_of(event);
            let row = EventRow {
                tenant: stored.tenant.as_str().to_owned(),
                source: event.source.clone(),
                id: event.id.clone(),
                kind: event.kind.type_name().to_owned(),
                subject: event.subject.clone(),
                time_ms: event.time_ms,
                received_at_ms: stored.received_at_ms,
                first_seen: i64::MAX.abs_diff(stored.received_at_ms),
                body: event.to_cloudevent().to_string(),
                service: service.unwrap_or_default().to_owned(),
                service_name: service_name.unwrap_or_default().to_owned(),
            };
            insert.write(&row).await.map_err(error("event insert"))?;
        }
        insert.end().await.map_err(error("event insert"))
    }

    async fn tenant_events(&self, tenant: &TenantId) -> Result<Vec<ServiceEvent>, StoreError> {
        let bodies: Vec<String> = self
            .client
            .query("SELECT body FROM events FINAL WHERE tenant = ?")
            .bind(tenant.as_str())
            .fetch_all()
            .await
            .map_err(error("reading events"))?;
        bodies
            .iter()
            .map(|body| decode_stored_event(body))
            .collect()
    }

    async fn service_events(
        &self,
        tenant: &TenantId,
        service: &str,
    ) -> Result<Vec<ServiceEvent>, StoreError> {
        let bodies: Vec<String> = self
            .client
            .query(
                "SELECT body FROM events FINAL WHERE tenant = ? AND (service = ? OR
                     (service = '' AND (source, subject) IN (
                         SELECT source, subject FROM events
                         WHERE tenant = ? AND service = ? AND type = 'it.satisfy.appointment.booked')))",
            )
            .bind(tenant.as_str())
            .bind(service)
            .bind(tenant.as_str())
            .bind(service)
            .fetch_all()
            .await
            .map_err(error("reading a service's events"))?;
        bodies
            .iter()
            .map(|body| decode_stored_event(body))
            .collect()
    }

    async fn services(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<(String, Option<String>)>, StoreError> {
        let rows: Vec<(String, String)> = self
            .client
            .query(
                "SELECT service, argMaxIf(service_name, time_ms, service_name != '')
                 FROM events WHERE tenant = ? AND service != ''
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

/// The WHERE clause shared by every query; binds tenant, entrypoint ('' for all), start, end.
const RANGE: &str =
    "tenant = ? AND (? = '' OR entrypoint = ?) AND created_ms >= ? AND created_ms < ?";

impl ClickHouseStore {
    fn ranged(&self, sql: &str, filter: &Filter) -> clickhouse::query::Query {
        let (start, end) = filter.utc_range_ms();
        let entrypoint = filter.entrypoint.as_ref().map(|e| e.as_str()).unwrap_or("");
        self.client
            .query(sql)
            .bind(filter.tenant.as_str())
            .bind(entrypoint)
            .bind(entrypoint)
            .bind(start)
            .bind(end)
    }
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

#[async_trait]
impl AnalyticsQuery for ClickHouseStore {
    async fn summary(&self, filter: &Filter) -> Result<Tally, StoreError> {
        let sql =
            format!("SELECT stars, count() AS n FROM ratings FINAL WHERE {RANGE} GROUP BY stars");
        let rows: Vec<StarsCount> = self
            .ranged(&sql, filter)
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
            "SELECT intDiv(created_ms, {SLOT_MS}) AS slot, stars, count() AS n FROM ratings FINAL
             WHERE {RANGE} GROUP BY slot, stars"
        );
        let rows: Vec<SlotCount> = self
            .ranged(&sql, filter)
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
            "SELECT toString(arrayJoin(answers)) AS option, count() AS n FROM ratings FINAL
             WHERE {RANGE} GROUP BY option ORDER BY n DESC, option"
        );
        let rows: Vec<Row_> = self
            .ranged(&sql, filter)
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

    async fn latest_comments(
        &self,
        filter: &Filter,
        limit: usize,
    ) -> Result<Vec<CommentRow>, StoreError> {
        #[derive(Row, Deserialize)]
        struct Row_ {
            created_ms: i64,
            entrypoint: String,
            page: String,
            stars: u8,
            text: String,
        }
        // Aliases are visible in WHERE in ClickHouse: never alias over a filtered column.
        let sql = format!(
            "SELECT created_ms, toString(entrypoint) AS entrypoint, page, stars, assumeNotNull(comment) AS text
             FROM ratings FINAL WHERE {RANGE} AND comment IS NOT NULL
             ORDER BY created_ms DESC, toString(id) LIMIT ?"
        );
        let rows: Vec<Row_> = self
            .ranged(&sql, filter)
            .bind(limit as u64)
            .fetch_all()
            .await
            .map_err(error("comments"))?;
        Ok(rows
            .into_iter()
            .map(|r| CommentRow {
                created_at_ms: r.created_ms,
                entrypoint: r.entrypoint,
                page: r.page,
                rating: r.stars,
                comment: r.text,
            })
            .collect())
    }

    async fn pages(&self, filter: &Filter, limit: usize) -> Result<Vec<PageStats>, StoreError> {
        #[derive(Row, Deserialize)]
        struct Row_ {
            page: String,
            stars: u8,
            n: u64,
        }
        let sql = format!(
            "SELECT page, stars, count() AS n FROM ratings FINAL WHERE {RANGE} GROUP BY page, stars"
        );
        let rows: Vec<Row_> = self
            .ranged(&sql, filter)
            .fetch_all()
            .await
            .map_err(error("pages"))?;
        Ok(rank_pages(
            rows.into_iter().map(|r| (r.page, r.stars, r.n)),
            limit,
        ))
    }
}
