//! The embedded sink: ratings go straight to the aggregator's group-commit writer.

use async_trait::async_trait;
use satisfy_aggregator::{RatingWriter, StoredRating, WriteError, WriteOutcome};

use super::{Delivery, RatingSink, SinkError};

/// Hands ratings to an in-process [`RatingWriter`].
pub struct StoreSink {
    writer: RatingWriter,
}

impl StoreSink {
    /// A sink writing through `writer`.
    pub fn new(writer: RatingWriter) -> StoreSink {
        StoreSink { writer }
    }
}

#[async_trait]
impl RatingSink for StoreSink {
    async fn send(&self, rating: StoredRating) -> Result<Delivery, SinkError> {
        match self.writer.write(rating).await {
            Ok(WriteOutcome::Inserted) => Ok(Delivery::Inserted),
            Ok(WriteOutcome::Updated) => Ok(Delivery::Updated),
            Ok(WriteOutcome::Conflict) => Ok(Delivery::Conflict),
            Err(WriteError::Overloaded) => Err(SinkError::Overloaded),
            Err(WriteError::Unavailable) => Err(SinkError::Unavailable),
        }
    }

    fn is_ready(&self) -> bool {
        self.writer.is_running()
    }
}
