//! The event-log consumer: reads ratings (`satisfy.ratings.v1`), platform events posted to
//! ingest (`satisfy.events.v1`) and platforms' own topics of CloudEvents from Kafka in a
//! consumer group, and writes them to the store in batches flushed by size and by time.
//!
//! Offsets are committed only after the write covering them succeeded, so a crash
//! replays at most the last batches, which the store absorbs (ids count once). While the
//! store is down the batch is retried with backoff and nothing is committed. Events that
//! can never be processed go to the dead-letter topic with the reason in a header.
//!
//! Reading and writing overlap: a writer task writes one batch while the consumer collects
//! the next, and a batch is flushed when full, when its oldest message has waited
//! `max_wait`, or once the consumer has caught up with the topic (no message for
//! [`CAUGHT_UP`]) and the previous batch that was not full was flushed at least `max_wait`
//! before: a backlog drains at full batches, a quiet stream is written at once, and a
//! steady stream is handed to the writer once per `max_wait`, not at every pause in it (see
//! [`caught_up_flush_at`]).

use rdkafka::ClientContext;
use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer,
};
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::util::Timeout;
use rdkafka::{Offset, TopicPartitionList};
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tracing::Instrument;

use crate::metrics::{AggregatorMetrics, RatingOutcome};
use crate::model::{StoredEvent, StoredRating};
use crate::store::{RecordStore, StoreError, WriteOutcome};
use satisfy_core::TenantId;
use satisfy_core::event::ServiceEvent;
use satisfy_core::kafka_access::KafkaAccess;

/// How the consumer reads and batches.
#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    /// Brokers and credentials.
    pub access: KafkaAccess,
    /// Consumer group shared by every aggregator.
    pub group: String,
    /// The ratings topic.
    pub topic: String,
    /// The platform events topic ingest writes.
    pub events_topic: String,
    /// Platforms' own topics of bare CloudEvents, each with the tenant it belongs to.
    pub platform_topics: Vec<(String, TenantId)>,
    /// Where unprocessable events go.
    pub dead_letter_topic: String,
    /// Most events in one write.
    pub max_batch: usize,
    /// Longest an event waits before its batch is written.
    pub max_wait: Duration,
    /// Replication factor of the dead-letter topic when the aggregator creates it.
    pub replication: i32,
}

/// No message for this long means the consumer has caught up: the batch is written.
const CAUGHT_UP: Duration = Duration::from_millis(20);

/// When the batch being collected is flushed if no further message comes: once the topic
/// is caught up, but not sooner than `max_wait` after the previous batch that was not full.
/// Each insert costs ClickHouse a new part in the table and in each of its views whatever
/// its size, so flushing at every pause of a steady stream (tens a second) would spend
/// ClickHouse's CPU on parts rather than rows. Full batches do not count: the end of a
/// backlog is written as soon as it is read.
fn caught_up_flush_at(
    now: tokio::time::Instant,
    previous_flush: Option<tokio::time::Instant>,
    max_wait: Duration,
) -> tokio::time::Instant {
    let caught_up = now + CAUGHT_UP;
    match previous_flush {
        Some(previous) => caught_up.max(previous + max_wait),
        None => caught_up,
    }
}

/// Longest a revocation waits for the batch being written (below `max.poll.interval.ms`).
const REVOCATION_WAIT: Duration = Duration::from_secs(10);

/// Coordinates the consumer, the writer task and the group's rebalances, which librdkafka
/// signals inside `recv`.
#[derive(Default)]
struct Rebalances {
    /// Set at each revocation, for the consumer to drop the batch it is collecting.
    revoked: AtomicBool,
    /// Bumped at each revocation: batches collected before it are not written.
    generation: AtomicU64,
    /// Whether the writer task is writing and committing a batch.
    writing: AtomicBool,
}

impl ClientContext for Rebalances {}

impl ConsumerContext for Rebalances {
    /// Before partitions are taken away, the batch being written is finished and committed
    /// (while they are still this member's), and batches not yet written are dropped: their
    /// partitions restart from the committed offset, read by their new owner. So no two
    /// members write the same rating at once, unless a write outlasts the wait (ClickHouse
    /// unreachable); that writer then gives its batch up before its next retry.
    fn pre_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if !matches!(rebalance, Rebalance::Revoke(_)) {
            return;
        }
        // The writer marks itself writing before checking the generation, this bumps the
        // generation before checking the mark: one of the two always sees the other.
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.revoked.store(true, Ordering::SeqCst);
        let started = Instant::now();
        let wait = || {
            while self.writing.load(Ordering::SeqCst) && started.elapsed() < REVOCATION_WAIT {
                std::thread::sleep(Duration::from_millis(5));
            }
        };
        // librdkafka calls this from inside `recv`, on a runtime worker.
        match tokio::runtime::Handle::try_current() {
            Ok(_) => tokio::task::block_in_place(wait),
            Err(_) => wait(),
        }
        if self.writing.load(Ordering::SeqCst) {
            tracing::warn!("partitions revoked while a batch is still being written");
        }
    }
}

/// What the consumer hands the writer task.
struct Collected {
    ratings: Vec<StoredRating>,
    events: Vec<StoredEvent>,
    /// Next offset to commit per (topic, partition).
    offsets: BTreeMap<(String, i32), i64>,
    /// The revocations before it was collected.
    generation: u64,
}

impl Collected {
    /// Ratings and events collected, which `max_batch` bounds.
    fn len(&self) -> usize {
        self.ratings.len() + self.events.len()
    }
}

/// Writes and commits what the consumer collects, one batch at a time, in order.
async fn write_collected(
    consumer: Arc<StreamConsumer<Rebalances>>,
    store: Arc<dyn RecordStore>,
    metrics: Arc<AggregatorMetrics>,
    mut collected: tokio::sync::mpsc::Receiver<Collected>,
) {
    let context = Arc::clone(consumer.context());
    while let Some(batch) = collected.recv().await {
        context.writing.store(true, Ordering::SeqCst);
        // Checked again before every retry and before the commit: a writer still retrying
        // when its partitions were taken away (ClickHouse down longer than a revocation
        // waits) gives the batch up to their new owner instead of writing it late.
        let still_ours = || batch.generation == context.generation.load(Ordering::SeqCst);
        if write_until_stored(&*store, &batch.ratings, &metrics, still_ours).await
            && write_events_until_stored(&*store, &batch.events, &metrics, still_ours).await
            && still_ours()
        {
            commit(&consumer, &batch.offsets);
        }
        context.writing.store(false, Ordering::SeqCst);
    }
}

/// Consumes until `shutdown` completes, then writes and commits what it holds.
pub async fn run(
    config: ConsumerConfig,
    store: Arc<dyn RecordStore>,
    metrics: Arc<AggregatorMetrics>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), KafkaError> {
    let platforms: BTreeMap<String, TenantId> = config.platform_topics.iter().cloned().collect();
    let consumer: Arc<StreamConsumer<Rebalances>> = Arc::new(
        config
            .access
            .client_config()
            .set("group.id", &config.group)
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest")
            .set("session.timeout.ms", "6000")
            .set("heartbeat.interval.ms", "1000")
            // Also the rebalance timeout: a member killed without leaving the group holds a
            // rebalance up for this long on some brokers, so keep it short.
            .set("max.poll.interval.ms", "15000")
            // Eager rebalancing: every revocation takes all partitions, and each one given
            // back restarts from its committed offset, which dropping uncommitted batches
            // at a revocation relies on (`Rebalances`). Cooperative assignors would not.
            .set("partition.assignment.strategy", "range,roundrobin")
            // Topics created after the aggregator started (ingest creates the events topic,
            // a platform its own) are picked up within seconds, not the default 5 minutes.
            .set("topic.metadata.refresh.interval.ms", "5000")
            .create_with_context(Rebalances::default())?,
    );
    let mut topics: Vec<&str> = vec![&config.topic, &config.events_topic];
    topics.extend(platforms.keys().map(String::as_str));
    consumer.subscribe(&topics)?;
    let dead_letters: FutureProducer = config
        .access
        .client_config()
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .create()?;
    config
        .access
        .create_topics(&[&config.dead_letter_topic], 1, config.replication)
        .await?;
    let lag_task = spawn_lag_watch(Arc::clone(&consumer), Arc::clone(&metrics));

    let context = Arc::clone(consumer.context());
    // One batch written while the next is collected: at most two batches held in memory.
    let (to_writer, collected) = tokio::sync::mpsc::channel::<Collected>(1);
    let writer = tokio::spawn(write_collected(
        Arc::clone(&consumer),
        Arc::clone(&store),
        Arc::clone(&metrics),
        collected,
    ));
    tokio::pin!(shutdown);
    let mut stopping = false;
    let mut previous_flush = None;
    while !stopping {
        let mut batch = Collected {
            ratings: Vec::with_capacity(config.max_batch),
            events: Vec::new(),
            offsets: BTreeMap::new(),
            generation: context.generation.load(Ordering::SeqCst),
        };
        let deadline = tokio::time::sleep(config.max_wait);
        tokio::pin!(deadline);
        let mut started = false;
        loop {
            tokio::select! {
                _ = &mut shutdown, if !stopping => { stopping = true; break; }
                _ = &mut deadline, if started => break,
                _ = tokio::time::sleep_until(caught_up_flush_at(tokio::time::Instant::now(), previous_flush, config.max_wait)), if started => break,
                message = consumer.recv() => {
                    let message = match message {
                        Ok(message) => message,
                        Err(error) => {
                            tracing::warn!(%error, "Kafka consumer error");
                            continue;
                        }
                    };
                    // Partitions were taken away (and given back or to another member)
                    // since this batch began: its messages are neither written nor
                    // committed (see `Rebalances`). Another member may have written to
                    // the partitions this one now holds, so the store forgets what it
                    // knows.
                    if context.revoked.swap(false, Ordering::SeqCst) {
                        batch.ratings.clear();
                        batch.events.clear();
                        batch.offsets.clear();
                        batch.generation = context.generation.load(Ordering::SeqCst);
                        store.forget();
                    }
                    if !started {
                        started = true;
                        deadline.as_mut().reset(tokio::time::Instant::now() + config.max_wait);
                    }
                    batch.offsets.insert((message.topic().to_owned(), message.partition()), message.offset() + 1);
                    let payload = message.payload().unwrap_or_default();
                    let decoded = if message.topic() == config.topic {
                        StoredRating::from_log_record(payload).map(Record::Rating).map_err(|e| e.to_string())
                    } else if message.topic() == config.events_topic {
                        StoredEvent::from_log_record(payload).map(Record::Event).map_err(|e| e.to_string())
                    } else {
                        platform_event(payload, &message, &platforms).map(Record::Event)
                    };
                    match decoded {
                        Ok(Record::Rating(rating)) => batch.ratings.push(rating),
                        Ok(Record::Event(event)) => batch.events.push(event),
                        Err(reason) => {
                            dead_letter(&dead_letters, &config.dead_letter_topic, &message, &reason).await;
                            metrics.dead_lettered();
                        }
                    }
                    if batch.len() >= config.max_batch {
                        break;
                    }
                }
            }
        }
        if batch.offsets.is_empty() {
            continue;
        }
        if batch.len() < config.max_batch {
            previous_flush = Some(tokio::time::Instant::now());
        }
        if to_writer.send(batch).await.is_err() {
            tracing::error!("the batch writer stopped");
            break;
        }
    }
    // The writer finishes what it holds, then stops.
    drop(to_writer);
    if let Err(error) = writer.await
        && error.is_panic()
    {
        std::panic::resume_unwind(error.into_panic());
    }
    lag_task.abort();
    Ok(())
}

/// What one message carries.
enum Record {
    Rating(StoredRating),
    Event(StoredEvent),
}

/// A bare CloudEvent from a platform's own topic, for the tenant that topic belongs to,
/// dated by the message's timestamp (else now).
fn platform_event(
    payload: &[u8],
    message: &impl Message,
    platforms: &BTreeMap<String, TenantId>,
) -> Result<StoredEvent, String> {
    let tenant = platforms
        .get(message.topic())
        .ok_or_else(|| format!("no tenant for topic {}", message.topic()))?;
    let value: serde_json::Value =
        serde_json::from_slice(payload).map_err(|_| "not JSON".to_owned())?;
    let now = chrono::Utc::now().timestamp_millis();
    let received_at_ms = message.timestamp().to_millis().unwrap_or(now);
    let event = ServiceEvent::parse(&value, now).map_err(|e| format!("{}: {e}", e.field))?;
    Ok(StoredEvent {
        event,
        tenant: tenant.clone(),
        received_at_ms,
    })
}

/// Writes a batch's events, as [`write_until_stored`] does its ratings.
async fn write_events_until_stored(
    store: &dyn RecordStore,
    events: &[StoredEvent],
    metrics: &AggregatorMetrics,
    still_ours: impl Fn() -> bool,
) -> bool {
    if events.is_empty() {
        return true;
    }
    let span = tracing::info_span!("aggregate_events", size = events.len());
    until_stored("event", metrics, still_ours, || async move {
        store.write_events(events).await?;
        metrics.events_written(events.len());
        Ok(())
    })
    .instrument(span)
    .await
}

/// Writes a batch's ratings, counting each under its outcome; see [`until_stored`].
async fn write_until_stored(
    store: &dyn RecordStore,
    batch: &[StoredRating],
    metrics: &AggregatorMetrics,
    still_ours: impl Fn() -> bool,
) -> bool {
    if batch.is_empty() {
        return true;
    }
    let span = tracing::info_span!("aggregate_batch", size = batch.len());
    until_stored("batch", metrics, still_ours, || async move {
        let started = Instant::now();
        let outcomes = store.write_batch(batch).await?;
        let outcomes = outcomes.iter().filter_map(|outcome| match outcome {
            WriteOutcome::Inserted => Some(RatingOutcome::inserted),
            WriteOutcome::Updated => Some(RatingOutcome::updated),
            WriteOutcome::Conflict => Some(RatingOutcome::conflict),
            WriteOutcome::Erased => Some(RatingOutcome::erased),
            // Only embedded mode puts a log in front of its store.
            WriteOutcome::Logged => None,
        });
        metrics.batch_written(batch.len(), outcomes, started.elapsed());
        Ok(())
    })
    .instrument(span)
    .await
}

/// Retries `write` with backoff until the store takes it: nothing is committed, and so
/// nothing lost, while the store is down. Gives up, returning false, once the batch's
/// partitions are no longer `still_ours`.
async fn until_stored<Written>(
    what: &'static str,
    metrics: &AggregatorMetrics,
    still_ours: impl Fn() -> bool,
    mut write: impl FnMut() -> Written,
) -> bool
where
    Written: Future<Output = Result<(), StoreError>>,
{
    let mut backoff = Duration::from_millis(100);
    loop {
        if !still_ours() {
            return false;
        }
        match write().await {
            Ok(()) => return true,
            Err(error) => {
                metrics.insert_failed();
                tracing::warn!(%error, retry_in_ms = backoff.as_millis() as u64, "{what} write failed; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

fn commit(consumer: &StreamConsumer<Rebalances>, offsets: &BTreeMap<(String, i32), i64>) {
    let mut list = TopicPartitionList::new();
    for ((topic, partition), offset) in offsets {
        if let Err(error) = list.add_partition_offset(topic, *partition, Offset::Offset(*offset)) {
            tracing::error!(%error, "building the offset list");
            return;
        }
    }
    // During a rebalance the commit is refused; the partition's new owner re-reads from
    // the last committed offset and the store absorbs the replay.
    if let Err(error) = consumer.commit(&list, CommitMode::Sync) {
        tracing::warn!(%error, "offset commit refused; the batch will be replayed idempotently");
    }
}

async fn dead_letter(producer: &FutureProducer, topic: &str, message: &impl Message, reason: &str) {
    tracing::warn!(
        partition = message.partition(),
        offset = message.offset(),
        reason,
        "sending an unprocessable event to the dead-letter topic"
    );
    let origin = format!(
        "{}/{}/{}",
        message.topic(),
        message.partition(),
        message.offset()
    );
    let payload = message.payload().unwrap_or_default();
    let record = || {
        let headers = OwnedHeaders::new()
            .insert(Header {
                key: "satisfy-error",
                value: Some(reason),
            })
            .insert(Header {
                key: "satisfy-origin",
                value: Some(&origin),
            });
        let record = FutureRecord::to(topic).payload(payload).headers(headers);
        match message.key() {
            Some(key) => record.key(key),
            None => record,
        }
    };
    // The partition only moves on once the dead letter is safely stored.
    let mut backoff = Duration::from_millis(100);
    loop {
        match producer
            .send(record(), Timeout::After(Duration::from_secs(5)))
            .await
        {
            Ok(_) => return,
            Err((error, _)) => {
                tracing::warn!(%error, "dead-letter write failed; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// Publishes consumer lag (high watermark minus committed offset) every 5 seconds.
fn spawn_lag_watch(
    consumer: Arc<StreamConsumer<Rebalances>>,
    metrics: Arc<AggregatorMetrics>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(5)).await;
            let consumer = Arc::clone(&consumer);
            let lag = tokio::task::spawn_blocking(move || {
                let timeout = Timeout::After(Duration::from_secs(2));
                let Ok(committed) = consumer.committed(timeout) else {
                    return Vec::new();
                };
                let mut lag = Vec::new();
                for element in committed.elements() {
                    let Ok((_, high)) =
                        consumer.fetch_watermarks(element.topic(), element.partition(), timeout)
                    else {
                        continue;
                    };
                    let position = match element.offset() {
                        Offset::Offset(offset) => offset,
                        _ => 0,
                    };
                    lag.push((
                        element.topic().to_owned(),
                        element.partition(),
                        (high - position).max(0),
                    ));
                }
                // Drop the list before the consumer (librdkafka can hang otherwise).
                drop(committed);
                lag
            })
            .await
            .unwrap_or_default();
            metrics.set_lag(lag);
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::time::Instant;

    const MAX_WAIT: Duration = Duration::from_millis(500);

    #[test]
    fn a_quiet_stream_is_flushed_once_caught_up() {
        let long_ago = Instant::now();
        let now = long_ago + Duration::from_secs(3);
        assert_eq!(caught_up_flush_at(now, None, MAX_WAIT), now + CAUGHT_UP);
        assert_eq!(
            caught_up_flush_at(now, Some(long_ago), MAX_WAIT),
            now + CAUGHT_UP
        );
    }

    #[test]
    fn a_steady_stream_is_flushed_at_most_once_per_max_wait() {
        let previous = Instant::now();
        let now = previous + Duration::from_millis(100);
        assert_eq!(
            caught_up_flush_at(now, Some(previous), MAX_WAIT),
            previous + MAX_WAIT
        );
        // Just before max_wait has passed: the pause still counts from now.
        let now = previous + Duration::from_millis(490);
        assert_eq!(
            caught_up_flush_at(now, Some(previous), MAX_WAIT),
            now + CAUGHT_UP
        );
    }
}
