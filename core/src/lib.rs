//! Domain types shared by every Satisfy crate and by the widget.
//!
//! Nothing here performs I/O: randomness and clocks are passed in by callers, so the crate
//! compiles for `wasm32-unknown-unknown` and every rule lives in exactly one place.

pub mod entrypoint;
#[cfg(feature = "events")]
pub mod event;
#[cfg(feature = "kafka")]
pub mod kafka_access;
pub mod lang;
#[cfg(not(target_arch = "wasm32"))]
pub mod log_throttle;
#[cfg(feature = "metrics")]
pub mod metrics;
pub mod rating;
#[cfg(not(target_arch = "wasm32"))]
pub mod rating_log;
#[cfg(feature = "redact")]
pub mod redact;
pub mod scope;
pub mod survey;
pub mod wire;

pub use entrypoint::{
    CustomQuestion, CustomSurvey, CustomSurveyError, Entrypoint, EntrypointId, EntrypointKind,
    EntrypointStatus, Origin, TenantId,
};
pub use lang::Lang;
pub use rating::{
    Comment, ErrorCode, PageUrl, Rating, RatingError, RatingSubmission, RawRating, Stars,
};
#[cfg(not(target_arch = "wasm32"))]
pub use rating_log::StoredRating;
pub use scope::Scope;
pub use survey::{AnswerOption, FollowUp, OTHER_POSITIVE, Survey, answer_key, answer_of_key};
pub use wire::WireRating;

/// Maximum length of the free-text comment, in Unicode scalar values, after trimming.
pub const COMMENT_MAX_CHARS: usize = 200;
