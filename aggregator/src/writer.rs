//! Group commit: concurrent writers share one transaction, for ratings and for platform
//! events alike.
//!
//! Requests queue on a bounded channel; one task takes whatever has queued (up to
//! `max_batch`), writes it in one transaction and answers each request after the commit.
//! While a transaction is in flight new requests pile up and form the next batch, so the
//! batch size adapts to load without a timer adding latency when the system is idle.

use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::model::{StoredEvent, StoredRating};
use crate::store::{EventStore, RatingStore, WriteOutcome};

/// Tuning of the writer.
#[derive(Debug, Clone, Copy)]
pub struct WriterConfig {
    /// Most ratings in one transaction.
    pub max_batch: usize,
    /// Ratings waiting beyond the one in flight before callers are turned away.
    pub queue_capacity: usize,
}

impl Default for WriterConfig {
    fn default() -> Self {
        WriterConfig {
            max_batch: 512,
            queue_capacity: 8192,
        }
    }
}

/// Why a rating was not written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The queue is full: the caller should retry later.
    #[error("the write queue is full")]
    Overloaded,
    /// The store failed or the writer stopped; nothing is known to be durable.
    #[error("the analytics store is unavailable")]
    Unavailable,
}

/// What one caller waits for.
enum Job {
    Rating {
        rating: StoredRating,
        done: oneshot::Sender<Result<WriteOutcome, WriteError>>,
    },
    Events {
        events: Vec<StoredEvent>,
        done: oneshot::Sender<Result<(), WriteError>>,
    },
}

/// Handle to the group-commit writer of ratings and platform events; cheap to clone.
#[derive(Clone)]
pub struct GroupWriter {
    jobs: mpsc::Sender<Job>,
}

impl GroupWriter {
    /// Starts the writer task, writing ratings to `ratings` and platform events to
    /// `events` (one store, or embedded mode's intake log and its store). It runs until
    /// every `GroupWriter` clone is dropped, then writes what is still queued and ends:
    /// await the handle to flush on shutdown.
    pub fn spawn(
        ratings: Arc<dyn RatingStore>,
        events: Arc<dyn EventStore>,
        config: WriterConfig,
    ) -> (GroupWriter, JoinHandle<()>) {
        let (jobs, receiver) = mpsc::channel(config.queue_capacity.max(1));
        let task = tokio::spawn(run(ratings, events, receiver, config.max_batch.max(1)));
        (GroupWriter { jobs }, task)
    }

    /// Whether the writer task still takes work.
    pub fn is_running(&self) -> bool {
        !self.jobs.is_closed()
    }

    fn enqueue(&self, job: Job) -> Result<(), WriteError> {
        self.jobs.try_send(job).map_err(|error| match error {
            mpsc::error::TrySendError::Full(_) => WriteError::Overloaded,
            mpsc::error::TrySendError::Closed(_) => WriteError::Unavailable,
        })
    }

    /// Writes one rating; returns once it is durable.
    pub async fn write(&self, rating: StoredRating) -> Result<WriteOutcome, WriteError> {
        let (done, outcome) = oneshot::channel();
        self.enqueue(Job::Rating { rating, done })?;
        outcome.await.unwrap_or(Err(WriteError::Unavailable))
    }

    /// Writes platform events (one request's batch); returns once all are durable.
    pub async fn write_events(&self, events: Vec<StoredEvent>) -> Result<(), WriteError> {
        let (done, outcome) = oneshot::channel();
        self.enqueue(Job::Events { events, done })?;
        outcome.await.unwrap_or(Err(WriteError::Unavailable))
    }
}

/// Takes whatever queued (up to `max_batch` jobs) and writes its ratings in one
/// transaction and its events in another, answering each caller after its commit.
async fn run(
    ratings_store: Arc<dyn RatingStore>,
    events_store: Arc<dyn EventStore>,
    mut receiver: mpsc::Receiver<Job>,
    max_batch: usize,
) {
    let mut jobs = Vec::with_capacity(max_batch);
    while receiver.recv_many(&mut jobs, max_batch).await > 0 {
        let mut ratings = Vec::new();
        let mut rating_waiters = Vec::new();
        let mut events = Vec::new();
        let mut event_waiters = Vec::new();
        for job in jobs.drain(..) {
            match job {
                Job::Rating { rating, done } => {
                    ratings.push(rating);
                    rating_waiters.push(done);
                }
                Job::Events {
                    events: batch,
                    done,
                } => {
                    events.extend(batch);
                    event_waiters.push(done);
                }
            }
        }
        if !ratings.is_empty() {
            write_ratings(ratings_store.as_ref(), &ratings, rating_waiters).await;
        }
        if !event_waiters.is_empty() {
            let span = tracing::info_span!("write_events", size = events.len());
            let result = events_store.write_events(&events).instrument(span).await;
            if let Err(error) = &result {
                tracing::error!(%error, size = events.len(), "event batch write failed");
            }
            for done in event_waiters {
                // A caller that went away still had its events written; nothing to do.
                let _ = done.send(
                    result
                        .as_ref()
                        .map(|_| ())
                        .map_err(|_| WriteError::Unavailable),
                );
            }
        }
    }
    tracing::info!("writer stopped after flushing its queue");
}

async fn write_ratings(
    store: &dyn RatingStore,
    batch: &[StoredRating],
    waiters: Vec<oneshot::Sender<Result<WriteOutcome, WriteError>>>,
) {
    let span = tracing::info_span!("write_batch", size = batch.len());
    match store.write_batch(batch).instrument(span).await {
        Ok(outcomes) if outcomes.len() == waiters.len() => {
            for (done, outcome) in waiters.into_iter().zip(outcomes) {
                let _ = done.send(Ok(outcome));
            }
        }
        Ok(outcomes) => {
            tracing::error!(
                expected = waiters.len(),
                got = outcomes.len(),
                "store answered a batch partially"
            );
            for done in waiters {
                let _ = done.send(Err(WriteError::Unavailable));
            }
        }
        Err(error) => {
            tracing::error!(%error, size = batch.len(), "batch write failed");
            for done in waiters {
                let _ = done.send(Err(WriteError::Unavailable));
            }
        }
    }
}
