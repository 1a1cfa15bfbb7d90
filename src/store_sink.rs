//! Embedded mode's sink: ratings and events go straight to the aggregator's group-commit
//! writer. It lives in the binary, which wires ingest to the aggregator; ingest itself knows
//! only its `Sink` trait.

use async_trait::async_trait;
use satisfy_aggregator::{GroupWriter, WriteError, WriteOutcome};
use satisfy_core::StoredRating;
use satisfy_core::event::StoredEvent;

use satisfy_ingest::sinks::{Delivery, Sink, SinkError};

/// Hands ratings and events to an in-process [`GroupWriter`].
pub struct StoreSink {
    writer: GroupWriter,
}

impl StoreSink {
    /// A sink writing through `writer`.
    pub fn new(writer: GroupWriter) -> StoreSink {
        StoreSink { writer }
    }
}

#[async_trait]
impl Sink for StoreSink {
    async fn send(&self, rating: StoredRating) -> Result<Delivery, SinkError> {
        match self.writer.write(rating).await {
            Ok(WriteOutcome::Inserted) => Ok(Delivery::Inserted),
            Ok(WriteOutcome::Updated) => Ok(Delivery::Updated),
            Ok(WriteOutcome::Conflict) => Ok(Delivery::Conflict),
            Ok(WriteOutcome::Logged) => Ok(Delivery::Logged),
            Ok(WriteOutcome::Erased) => Ok(Delivery::Erased),
            Err(WriteError::Overloaded) => Err(SinkError::Overloaded),
            Err(WriteError::Unavailable) => Err(SinkError::Unavailable),
        }
    }

    async fn send_events(&self, events: Vec<StoredEvent>) -> Result<(), SinkError> {
        self.writer
            .write_events(events)
            .await
            .map_err(|error| match error {
                WriteError::Overloaded => SinkError::Overloaded,
                WriteError::Unavailable => SinkError::Unavailable,
            })
    }

    fn is_ready(&self) -> bool {
        self.writer.is_running()
    }
}
