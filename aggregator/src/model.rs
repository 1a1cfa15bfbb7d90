//! Rows and results of the analytics API.

use chrono::NaiveDate;
use chrono_tz::Tz;
pub use satisfy_core::StoredRating;
pub use satisfy_core::event::StoredEvent;
use satisfy_core::{EntrypointId, TenantId};
use serde::Serialize;

/// What a query covers: one tenant, optionally one entrypoint, a range of local dates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// Tenant whose ratings are read.
    pub tenant: TenantId,
    /// Restricts to one entrypoint.
    pub entrypoint: Option<EntrypointId>,
    /// First local date included.
    pub from: NaiveDate,
    /// Last local date included.
    pub to: NaiveDate,
    /// Time zone that defines days, weeks and months.
    pub tz: Tz,
}

/// Count, sum and distribution of star ratings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tally {
    /// Number of ratings.
    pub count: u64,
    /// Sum of their stars.
    pub sum: u64,
    /// Ratings with 1..=5 stars at index 0..=4.
    pub distribution: [u64; 5],
}

impl Tally {
    /// Adds `count` ratings of `stars` stars; stars outside 1..=5 are ignored.
    pub fn add(&mut self, stars: u8, count: u64) {
        if let Some(slot) = self
            .distribution
            .get_mut(usize::from(stars).wrapping_sub(1))
        {
            *slot += count;
            self.count += count;
            self.sum += u64::from(stars) * count;
        }
    }

    /// The average rounded half up to two decimals, computed in integers so every backend
    /// agrees to the last digit; 0 when empty.
    pub fn average(&self) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        let hundredths = (self.sum * 200 + self.count) / (2 * self.count);
        hundredths as f64 / 100.0
    }
}

impl Serialize for Tally {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("Tally", 3)?;
        s.serialize_field("count", &self.count)?;
        s.serialize_field("average", &self.average())?;
        s.serialize_field("distribution", &self.distribution)?;
        s.end()
    }
}

impl utoipa::PartialSchema for Tally {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
        ObjectBuilder::new()
            .description(Some("Count, average stars (2 decimals, 0 when empty) and the ratings with 1 to 5 stars."))
            .property("count", ObjectBuilder::new().schema_type(Type::Integer))
            .property("average", ObjectBuilder::new().schema_type(Type::Number))
            .property(
                "distribution",
                ArrayBuilder::new()
                    .items(ObjectBuilder::new().schema_type(Type::Integer))
                    .min_items(Some(5))
                    .max_items(Some(5)),
            )
            .required("count")
            .required("average")
            .required("distribution")
            .into()
    }
}

impl utoipa::ToSchema for Tally {}

/// One period of a time series.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Bucket {
    /// First local date of the period (a Monday for weeks, the 1st for months).
    pub start: NaiveDate,
    /// Ratings given in the period.
    #[serde(flatten)]
    pub tally: Tally,
}

/// How often a follow-up answer was chosen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AnswerCount {
    /// The option id.
    pub option: String,
    /// How many ratings chose it.
    pub count: u64,
}

/// A free-text comment with its context.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct CommentRow {
    /// When the rating was first received, milliseconds since the Unix epoch.
    pub created_at_ms: i64,
    /// Entrypoint rated.
    pub entrypoint: String,
    /// Page rated.
    pub page: String,
    /// Stars given.
    pub rating: u8,
    /// The comment.
    pub comment: String,
}

/// Ratings of one page.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PageStats {
    /// The page URL.
    pub page: String,
    /// Its ratings.
    #[serde(flatten)]
    pub tally: Tally,
}

/// What citizens did with one page's component lately: the evidence beside a compliance
/// report that the component is there and used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PageEvidence {
    /// The page URL, as ratings store it.
    pub page: String,
    /// Ratings received in the 30 days before the query.
    pub last_30_days: u64,
    /// Ratings received in the 90 days before the query.
    pub last_90_days: u64,
    /// When the latest rating was received, Unix milliseconds.
    pub latest_ms: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn averages_round_half_up_to_two_decimals() {
        let tally = |pairs: &[(u8, u64)]| {
            let mut t = Tally::default();
            for &(stars, n) in pairs {
                t.add(stars, n);
            }
            t
        };
        assert_eq!(tally(&[]).average(), 0.0);
        assert_eq!(tally(&[(1, 1), (2, 1), (4, 1)]).average(), 2.33);
        assert_eq!(tally(&[(2, 2), (3, 1)]).average(), 2.33);
        assert_eq!(tally(&[(5, 2), (4, 1)]).average(), 4.67);
        // 1.125 → 1.13 (half up), which float rounding of 1.125 * 100 would not guarantee.
        assert_eq!(tally(&[(1, 7), (2, 1)]).average(), 1.13);
        assert_eq!(tally(&[(1, 1), (9, 1)]).count, 1);
    }
}
