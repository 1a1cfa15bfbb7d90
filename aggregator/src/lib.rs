//! The analytics data model of Satisfy.
//!
//! Ratings and platform events enter through a [`GroupWriter`] that batches concurrent writes into one
//! transaction (group commit) over a [`RatingStore`]; the console reads them through the
//! [`AnalyticsQuery`] API. Each storage backend implements both traits and must give the
//! same answers; time bucketing lives in [`buckets`] so every backend shares it.

pub mod buckets;
pub mod clickhouse;
pub mod intake_log;
pub mod kafka;
pub mod kpi;
pub mod metrics;
pub mod model;
pub mod sqlite;
pub mod store;
pub mod writer;

pub use crate::clickhouse::{ClickHouseAccess, ClickHouseStore};
pub use buckets::Granularity;
pub use intake_log::{Applier, IntakeLog, LogProgress};
pub use model::{
    AnswerBucket, AnswerCount, Bucket, Filter, PageChange, PageCount, PageEvidence, PageRanking,
    PageStats, RatingCursor, RatingQuery, RatingRow, StoredEvent, StoredRating, Tally,
};
pub use sqlite::SqliteStore;
pub use store::{
    AnalyticsQuery, Erasure, EventStore, Expired, RatingStore, RecordStore, StoreError,
    WriteOutcome,
};
pub use writer::{GroupWriter, WriteError, WriterConfig};
