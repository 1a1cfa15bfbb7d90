//! The two small traits every analytics backend implements.

use async_trait::async_trait;

use crate::buckets::Granularity;
use crate::kpi::KpiInput;
use crate::model::{
    AnswerBucket, AnswerCount, Bucket, Filter, PageChange, PageCount, PageEvidence, PageRanking,
    PageStats, RatingCursor, RatingQuery, RatingRow, StoredEvent, StoredRating, Tally,
};
use satisfy_core::TenantId;
use satisfy_core::event::ServiceEvent;

/// A storage failure. Backends keep their own details in the message for logs; callers
/// only learn that storage is unavailable.
#[derive(Debug, thiserror::Error)]
#[error("analytics store: {0}")]
pub struct StoreError(pub String);

/// What writing one rating did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    /// A new rating id was stored.
    Inserted,
    /// An existing rating was replaced by this newer version.
    Updated,
    /// The id already belongs to a rating of another entrypoint; nothing was written.
    Conflict,
    /// Durable in embedded mode's intake log: the store applies it shortly, and only
    /// then is it known to be new, an update or a conflict.
    Logged,
    /// Refused because its tenant erased it: the rating was deleted on request, or this
    /// version was received before the tenant's last retention cutoff (a redelivery of
    /// what retention deleted). Nothing was written.
    Erased,
}

/// The write side: applies batches durably.
#[async_trait]
pub trait RatingStore: Send + Sync {
    /// Writes a batch in one transaction and returns one outcome per rating, in order.
    /// When this returns `Ok`, every rating of the batch is durable.
    async fn write_batch(&self, batch: &[StoredRating]) -> Result<Vec<WriteOutcome>, StoreError>;

    /// Drops what the store remembers of earlier writes, because another writer may have
    /// stored versions of the ratings it is handed next: the aggregator calls it when Kafka
    /// reassigns partitions. Stores that ask storage on every write remember nothing.
    fn forget(&self) {}
}

/// A store taking both ratings and platform events: what the aggregator writes to.
pub trait RecordStore: RatingStore + EventStore {}

impl<T: RatingStore + EventStore> RecordStore for T {}

/// Platform events: each (tenant, `source`, `id`) is one event, kept as first received;
/// a redelivery, whatever it carries, changes nothing.
#[async_trait]
pub trait EventStore: Send + Sync {
    /// Writes a batch; when this returns `Ok`, every event of it is durable. Backends do
    /// not look the batch up first: duplicates merge in storage.
    async fn write_events(&self, batch: &[StoredEvent]) -> Result<(), StoreError>;

    /// Every event of `tenant`, each once, in no particular order.
    async fn tenant_events(&self, tenant: &TenantId) -> Result<Vec<ServiceEvent>, StoreError>;

    /// One service's activity digested per application, appointment and calendar day, as
    /// [`KpiInput::from_events`] digests its events: the events naming it, and every event
    /// of the appointments booked for it (whose later events name only their calendar).
    /// Office and calendar scopes are left to [`KpiInput::narrowed`].
    async fn service_activity(
        &self,
        tenant: &TenantId,
        service: &str,
    ) -> Result<KpiInput, StoreError>;

    /// The services the tenant's events name, by id, each with the display name of the
    /// latest event that gave one.
    async fn services(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<(String, Option<String>)>, StoreError>;
}

/// The service an event names, and the display name it gives, for the stores' columns.
pub(crate) fn service_of(event: &ServiceEvent) -> (Option<&str>, Option<&str>) {
    use satisfy_core::event::EventKind;
    match &event.kind {
        EventKind::ApplicationStatus {
            service,
            service_name,
            ..
        }
        | EventKind::AppointmentBooked {
            service,
            service_name,
            ..
        }
        | EventKind::CalendarDay {
            service,
            service_name,
            ..
        } => (Some(service), service_name.as_deref()),
        _ => (None, None),
    }
}

/// The read side the console uses. Each rating id counts once, in its latest version,
/// dated by when it was first received.
#[async_trait]
pub trait AnalyticsQuery: Send + Sync {
    /// Totals over the filter's range.
    async fn summary(&self, filter: &Filter) -> Result<Tally, StoreError>;

    /// One bucket per period of the range, empty periods included.
    async fn buckets(
        &self,
        filter: &Filter,
        granularity: Granularity,
    ) -> Result<Vec<Bucket>, StoreError>;

    /// How often each follow-up answer was chosen, most chosen first, ties by option id.
    async fn answer_counts(&self, filter: &Filter) -> Result<Vec<AnswerCount>, StoreError>;

    /// How often each follow-up answer was chosen per period, empty periods included.
    async fn answer_buckets(
        &self,
        filter: &Filter,
        granularity: Granularity,
    ) -> Result<Vec<AnswerBucket>, StoreError>;

    /// The ratings `query` selects, newest first reception first (then id descending),
    /// those after `after` only, at most `limit`: one page of a listing or an export.
    async fn ratings(
        &self,
        query: &RatingQuery,
        after: Option<&RatingCursor>,
        limit: usize,
    ) -> Result<Vec<RatingRow>, StoreError>;

    /// The pages with at least `ranking.min_ratings` ratings, lowest [`PageRanking::score`]
    /// first, at most `ranking.limit`: chosen in the store, so a flood of distinct page
    /// URLs never reaches memory here.
    async fn pages(
        &self,
        filter: &Filter,
        ranking: &PageRanking,
    ) -> Result<Vec<PageStats>, StoreError>;

    /// Pages with at least `ranking.min_ratings` ratings in each of `previous` and
    /// `current` (same tenant and entrypoint, `previous` before `current`), those whose
    /// average fell most first, at most `ranking.limit`.
    async fn page_changes(
        &self,
        previous: &Filter,
        current: &Filter,
        ranking: &PageRanking,
    ) -> Result<Vec<PageChange>, StoreError>;

    /// The pages whose ratings of 1 to 3 stars chose the most follow-up answers (the
    /// official survey's "where did you have difficulties"), most first, at most `limit`.
    async fn negative_answer_pages(
        &self,
        filter: &Filter,
        limit: usize,
    ) -> Result<Vec<PageCount>, StoreError>;

    /// For each of `pages` (exact URLs) that ever got a rating of `tenant`: the ratings of
    /// the 30 and 90 days before `now_ms` and the latest's time, in no particular order.
    async fn page_evidence(
        &self,
        tenant: &TenantId,
        pages: &[String],
        now_ms: i64,
    ) -> Result<Vec<PageEvidence>, StoreError>;
}

/// What one retention sweep of a tenant deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Expired {
    /// Ratings deleted, each id once, with their comments and answers.
    pub ratings: u64,
    /// Platform events deleted.
    pub events: u64,
}

/// Deleting personal data: the retention period, and data subjects' requests (GDPR).
/// Ratings deleted here stay counted in every aggregate (the rollups hold no personal
/// data), so a dashboard of a period keeps its figures after the period's raw ratings
/// are gone; listings and exports no longer show them.
///
/// What is deleted stays deleted: a store remembers each rating deleted on request and
/// each tenant's latest retention cutoff, and its writers refuse a later copy of either
/// ([`WriteOutcome::Erased`]), such as a Kafka redelivery or an operator replaying the
/// topic. Platform events received before the cutoff are refused alike.
#[async_trait]
pub trait Erasure: Send + Sync {
    /// Deletes the tenant's ratings first received before `before_ms`, with their
    /// comments and answers, and its platform events received before it. Records
    /// `before_ms` as the tenant's cutoff (the latest of those given), and forgets the
    /// ratings deleted on request before it: copies received before it are refused anyway.
    async fn expire(&self, tenant: &TenantId, before_ms: i64) -> Result<Expired, StoreError>;

    /// Deletes one rating of the tenant, every version of it, and refuses its id from
    /// then on; whether there was one.
    async fn delete_rating(&self, tenant: &TenantId, id: uuid::Uuid) -> Result<bool, StoreError>;

    /// Removes the comment of every rating of the tenant whose comment contains `text`
    /// (ignoring case), keeping the ratings; how many ratings lost their comment.
    async fn erase_comments(&self, tenant: &TenantId, text: &str) -> Result<u64, StoreError>;
}
