//! Where accepted ratings and platform events go: one file per sink behind [`Sink`].

pub mod kafka;

use async_trait::async_trait;
use satisfy_core::StoredRating;
use satisfy_core::event::StoredEvent;

/// What the sink did with a rating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Durably stored as a new rating.
    Inserted,
    /// Durably stored as a new version of an existing rating.
    Updated,
    /// The id belongs to another entrypoint's rating; nothing was stored.
    Conflict,
    /// Durably appended to the event log; the aggregator applies it as insert or update.
    Logged,
    /// Not stored: the tenant deleted this rating on request. Answered as accepted, since
    /// the citizen's browser can do nothing about it.
    Erased,
}

/// Why a sink could not take a rating; both mean "retry later" (503), never a silent drop.
#[derive(Debug, thiserror::Error)]
#[error("{}", self.as_str())]
pub enum SinkError {
    /// The sink is saturated.
    Overloaded,
    /// The sink's backend is unreachable or failing.
    Unavailable,
}

impl SinkError {
    /// The error's text, without formatting it (it is counted on every refused request).
    pub fn as_str(&self) -> &'static str {
        match self {
            SinkError::Overloaded => "sink overloaded",
            SinkError::Unavailable => "sink unavailable",
        }
    }
}

/// A destination for ratings and platform events. Each call returns only once what it
/// was given is durable.
#[async_trait]
pub trait Sink: Send + Sync {
    /// Delivers one rating durably.
    async fn send(&self, rating: StoredRating) -> Result<Delivery, SinkError>;

    /// Delivers the valid events of one request durably, all or none (a retry resends
    /// them all; each (source, id) counts once).
    async fn send_events(&self, events: Vec<StoredEvent>) -> Result<(), SinkError>;

    /// Whether the sink can currently accept ratings (for `/readyz`).
    fn is_ready(&self) -> bool;
}
