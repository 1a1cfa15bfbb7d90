//! The distributed sink: ratings go to the Kafka topic `satisfy.ratings.v1`, keyed by
//! rating id, and platform events to `satisfy.events.v1`, keyed by tenant, through an
//! idempotent producer with `acks=all`. Either is acknowledged only after the broker
//! confirmed it; an unreachable broker or a full producer queue
//! becomes a retryable error within `message.timeout.ms`, never a hang.

use async_trait::async_trait;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::util::Timeout;
use satisfy_core::StoredRating;
use satisfy_core::event::StoredEvent;
use satisfy_core::kafka_access::KafkaAccess;
use satisfy_core::log_throttle::{LogThrottle, WARN_EVERY};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::{Delivery, Sink, SinkError};

// While the broker is down every request fails the same way: one line every ten seconds
// says so, with the count (the metrics count each).
static RATING_UNACKNOWLEDGED: LogThrottle = LogThrottle::new(
    WARN_EVERY,
    |error, occurrences| tracing::warn!(error = %error, occurrences, "Kafka did not acknowledge a rating"),
);
static RATING_ACK_TIMEOUT: LogThrottle = LogThrottle::new(WARN_EVERY, |_, occurrences| {
    tracing::warn!(occurrences, "Kafka acknowledgement timed out")
});
static EVENT_REFUSED: LogThrottle = LogThrottle::new(
    WARN_EVERY,
    |error, occurrences| tracing::warn!(error = %error, occurrences, "Kafka refused an event"),
);
static EVENT_UNACKNOWLEDGED: LogThrottle = LogThrottle::new(
    WARN_EVERY,
    |error, occurrences| tracing::warn!(error = %error, occurrences, "Kafka did not acknowledge an event"),
);
static EVENT_ACK_TIMEOUT: LogThrottle = LogThrottle::new(WARN_EVERY, |_, occurrences| {
    tracing::warn!(occurrences, "Kafka acknowledgement of events timed out")
});

/// How the sink reaches Kafka.
#[derive(Debug, Clone)]
pub struct KafkaSinkConfig {
    /// Brokers and credentials.
    pub access: KafkaAccess,
    /// The ratings topic.
    pub topic: String,
    /// The platform events topic.
    pub events_topic: String,
    /// Partitions of the topic when ingest creates it.
    pub partitions: i32,
    /// Replication factor when ingest creates it (3 in production).
    pub replication: i32,
    /// Longest time a rating may wait for the broker's acknowledgement.
    pub delivery_timeout: Duration,
}

/// Produces rating events to Kafka.
pub struct KafkaSink {
    producer: FutureProducer,
    topic: String,
    events_topic: String,
    reachable: Arc<AtomicBool>,
    delivery_timeout: Duration,
}

impl KafkaSink {
    /// Creates the producer and the topic if missing, and starts watching the broker for
    /// `/readyz`.
    pub async fn connect(config: &KafkaSinkConfig) -> Result<KafkaSink, KafkaError> {
        let timeout_ms = config.delivery_timeout.as_millis().max(1000).to_string();
        let producer: FutureProducer = config
            .access
            .client_config()
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("message.timeout.ms", &timeout_ms)
            // Ratings wait at most 1 ms to share a request to the broker. Under 64
            // concurrent clients (tests/bench/run.sh) 2 ms took 5-13% fewer ratings a
            // second, 0 and 0.5 ms 5% fewer: each rating's client waits for its batch.
            .set("queue.buffering.max.ms", "1")
            .set("queue.buffering.max.messages", "100000")
            .set("compression.type", "lz4")
            .create()?;
        config
            .access
            .create_topics(
                &[&config.topic, &config.events_topic],
                config.partitions,
                config.replication,
            )
            .await?;
        let reachable = Arc::new(AtomicBool::new(true));
        spawn_broker_watch(producer.clone(), Arc::clone(&reachable));
        Ok(KafkaSink {
            producer,
            topic: config.topic.clone(),
            events_topic: config.events_topic.clone(),
            reachable,
            delivery_timeout: config.delivery_timeout,
        })
    }
}

fn spawn_broker_watch(producer: FutureProducer, reachable: Arc<AtomicBool>) {
    tokio::spawn(async move {
        loop {
            let client = producer.clone();
            let ok = tokio::task::spawn_blocking(move || {
                client
                    .client()
                    .fetch_metadata(None, Timeout::After(Duration::from_secs(2)))
                    .is_ok()
            })
            .await
            .unwrap_or(false);
            if reachable.swap(ok, Ordering::Relaxed) != ok {
                tracing::warn!(reachable = ok, "Kafka broker reachability changed");
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    });
}

#[async_trait]
impl Sink for KafkaSink {
    async fn send(&self, rating: StoredRating) -> Result<Delivery, SinkError> {
        let payload = rating.to_log_record();
        // Keyed by rating id: every version of a rating, whatever entrypoint it names,
        // lands on one partition, whose consumer alone writes it (see the aggregator's
        // ClickHouse store, which remembers what it wrote instead of asking).
        let record = FutureRecord::to(&self.topic)
            .key(rating.rating.id.as_bytes().as_slice())
            .payload(&payload);
        // Enqueueing never waits (a full queue is answered at once with 503), and neither
        // does the acknowledgement beyond the delivery timeout: librdkafka's own expiry can
        // take longer with the idempotent producer. A rating still delivered after a 503 is
        // harmless: the client retries the same id, which counts once.
        let delivery = self.producer.send(record, Timeout::After(Duration::ZERO));
        match tokio::time::timeout(self.delivery_timeout, delivery).await {
            Ok(Ok(_)) => Ok(Delivery::Logged),
            Ok(Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _))) => {
                Err(SinkError::Overloaded)
            }
            Ok(Err((error, _))) => {
                RATING_UNACKNOWLEDGED.warn_kind(&error.to_string());
                Err(SinkError::Unavailable)
            }
            Err(_) => {
                RATING_ACK_TIMEOUT.warn();
                Err(SinkError::Unavailable)
            }
        }
    }

    async fn send_events(&self, events: Vec<StoredEvent>) -> Result<(), SinkError> {
        // Every event is enqueued at once, then every acknowledgement awaited: a batch
        // costs one round trip, not one per event.
        let mut deliveries = Vec::with_capacity(events.len());
        for stored in &events {
            let payload = stored.to_log_record();
            let record = FutureRecord::to(&self.events_topic)
                .key(stored.tenant.as_str())
                .payload(&payload);
            match self.producer.send_result(record) {
                Ok(delivery) => deliveries.push(delivery),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    return Err(SinkError::Overloaded);
                }
                Err((error, _)) => {
                    EVENT_REFUSED.warn_kind(&error.to_string());
                    return Err(SinkError::Unavailable);
                }
            }
        }
        let acknowledged = async {
            for delivery in deliveries {
                match delivery.await {
                    Ok(Ok(_)) => {}
                    Ok(Err((error, _))) => {
                        EVENT_UNACKNOWLEDGED.warn_kind(&error.to_string());
                        return Err(SinkError::Unavailable);
                    }
                    Err(_) => return Err(SinkError::Unavailable),
                }
            }
            Ok(())
        };
        tokio::time::timeout(self.delivery_timeout, acknowledged)
            .await
            .unwrap_or_else(|_| {
                EVENT_ACK_TIMEOUT.warn();
                Err(SinkError::Unavailable)
            })
    }

    fn is_ready(&self) -> bool {
        self.reachable.load(Ordering::Relaxed)
    }
}
