//! Group commit: concurrent writers share one transaction.
//!
//! Requests queue on a bounded channel; one task takes whatever has queued (up to
//! `max_batch`), writes it in one transaction and answers each request after the commit.
//! While a transaction is in flight new requests pile up and form the next batch, so the
//! batch size adapts to load without a timer adding latency when the system is idle.

use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::model::StoredRating;
use crate::store::{RatingStore, WriteOutcome};

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

struct Job {
    rating: StoredRating,
    done: oneshot::Sender<Result<WriteOutcome, WriteError>>,
}

/// Handle to the group-commit writer; cheap to clone.
#[derive(Clone)]
pub struct RatingWriter {
    jobs: mpsc::Sender<Job>,
}

impl RatingWriter {
    /// Starts the writer task. It runs until every `RatingWriter` clone is dropped, then
    /// writes what is still queued and ends: await the handle to flush on shutdown.
    pub fn spawn(
        store: Arc<dyn RatingStore>,
        config: WriterConfig,
    ) -> (RatingWriter, JoinHandle<()>) {
        let (jobs, receiver) = mpsc::channel(config.queue_capacity.max(1));
        let task = tokio::spawn(run(store, receiver, config.max_batch.max(1)));
        (RatingWriter { jobs }, task)
    }

    /// Whether the writer task still takes ratings.
    pub fn is_running(&self) -> bool {
        !self.jobs.is_closed()
    }

    /// Writes one rating; returns once it is durable.
    pub async fn write(&self, rating: StoredRating) -> Result<WriteOutcome, WriteError> {
        let (done, outcome) = oneshot::channel();
        self.jobs
            .try_send(Job { rating, done })
            .map_err(|error| match error {
                mpsc::error::TrySendError::Full(_) => WriteError::Overloaded,
                mpsc::error::TrySendError::Closed(_) => WriteError::Unavailable,
            })?;
        outcome.await.unwrap_or(Err(WriteError::Unavailable))
    }
}

async fn run(store: Arc<dyn RatingStore>, mut receiver: mpsc::Receiver<Job>, max_batch: usize) {
    let mut jobs = Vec::with_capacity(max_batch);
    while receiver.recv_many(&mut jobs, max_batch).await > 0 {
        let batch: Vec<StoredRating> = jobs.iter().map(|job| job.rating.clone()).collect();
        let span = tracing::info_span!("write_batch", size = batch.len());
        let result = store.write_batch(&batch).instrument(span).await;
        match result {
            Ok(outcomes) if outcomes.len() == jobs.len() => {
                for (job, outcome) in jobs.drain(..).zip(outcomes) {
                    // A caller that went away still had its rating written; nothing to do.
                    let _ = job.done.send(Ok(outcome));
                }
            }
            Ok(outcomes) => {
                tracing::error!(
                    expected = jobs.len(),
                    got = outcomes.len(),
                    "store answered a batch partially"
                );
                for job in jobs.drain(..) {
                    let _ = job.done.send(Err(WriteError::Unavailable));
                }
            }
            Err(error) => {
                tracing::error!(%error, size = jobs.len(), "batch write failed");
                for job in jobs.drain(..) {
                    let _ = job.done.send(Err(WriteError::Unavailable));
                }
            }
        }
    }
    tracing::info!("rating writer stopped after flushing its queue");
}
