//! Rows and results of the analytics API.

use chrono::NaiveDate;
use chrono_tz::Tz;
pub use satisfy_core::StoredRating;
pub use satisfy_core::event::StoredEvent;
use satisfy_core::{EntrypointId, Lang, TenantId};
use serde::Serialize;
use uuid::Uuid;

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

impl Tally {
    /// Adds every rating of `other`.
    pub fn merge(&mut self, other: &Tally) {
        for (stars, count) in (1..=5u8).zip(other.distribution) {
            self.add(stars, count);
        }
    }

    /// The exact mean of the stars; `None` when empty.
    pub fn mean(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum as f64 / self.count as f64)
    }

    /// The sample variance of the stars (n − 1 in the denominator); `None` under two
    /// ratings.
    pub fn variance(&self) -> Option<f64> {
        let mean = self.mean()?;
        (self.count > 1).then(|| {
            let squares: f64 = (1..=5u8)
                .zip(self.distribution)
                .map(|(stars, n)| n as f64 * (f64::from(stars) - mean).powi(2))
                .sum();
            squares / (self.count - 1) as f64
        })
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
    /// The answer's key: its option id, `other_positive` for the official positive
    /// question's "other" (`satisfy_core::answer_key`).
    pub option: String,
    /// How many ratings chose it.
    pub count: u64,
}

/// The follow-up answers of one period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AnswerBucket {
    /// First local date of the period.
    pub start: NaiveDate,
    /// How often each answer was chosen in it, by option id.
    pub answers: Vec<AnswerCount>,
}

/// Which ratings a listing or an export reads: a filter's range, narrowed further.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RatingQuery {
    /// Tenant, entrypoint and dates.
    pub filter: Filter,
    /// Only ratings with one of these star counts; empty for any.
    pub stars: Vec<u8>,
    /// Only ratings that chose this follow-up answer (an option id).
    pub answer: Option<String>,
    /// Only ratings of this exact page URL.
    pub page: Option<String>,
    /// Only ratings given in this language.
    pub lang: Option<Lang>,
    /// Only ratings whose comment contains this text (ASCII letters in any case).
    pub text: Option<String>,
    /// Only ratings with a comment.
    pub with_comment: bool,
}

impl RatingQuery {
    /// Every rating of the filter.
    pub fn all(filter: Filter) -> RatingQuery {
        RatingQuery {
            filter,
            stars: Vec::new(),
            answer: None,
            page: None,
            lang: None,
            text: None,
            with_comment: false,
        }
    }

    /// The star counts asked for as a bit set (bit n for n stars), every one when none is.
    pub fn stars_mask(&self) -> u8 {
        match self.stars.iter().fold(0u8, |mask, s| {
            mask | 1u8.checked_shl(u32::from(*s)).unwrap_or(0)
        }) {
            0 => 0b11_1110,
            mask => mask,
        }
    }

    /// `text` as a LIKE pattern matching it anywhere (see [`like_pattern`]).
    pub fn text_pattern(&self) -> Option<String> {
        self.text.as_deref().map(like_pattern)
    }
}

/// `text` as a LIKE pattern matching it anywhere, its wildcards escaped with `\\`.
pub fn like_pattern(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// One rating as listings and exports show it: its latest version, dated by its first
/// reception.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RatingRow {
    /// The rating's id.
    #[schema(value_type = String, format = "uuid")]
    pub id: Uuid,
    /// When the rating was first received, milliseconds since the Unix epoch.
    pub created_at_ms: i64,
    /// Entrypoint rated.
    pub entrypoint: String,
    /// Page rated.
    pub page: String,
    /// Stars given.
    pub rating: u8,
    /// Follow-up answers chosen (option ids), in id order.
    pub answers: Vec<String>,
    /// The free-text comment, with personal data already redacted at intake.
    pub comment: Option<String>,
    /// Language the widget was shown in.
    pub lang: String,
}

/// Where the next page of a listing starts: after this rating in the listing's order
/// (newest first reception first, then id descending).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RatingCursor {
    /// The last listed rating's first reception.
    pub created_at_ms: i64,
    /// The last listed rating's id.
    pub id: Uuid,
}

impl RatingCursor {
    /// The cursor after `row`.
    pub fn after(row: &RatingRow) -> RatingCursor {
        RatingCursor {
            created_at_ms: row.created_at_ms,
            id: row.id,
        }
    }

    /// Parses the form [`RatingCursor::to_string`] gives.
    pub fn parse(raw: &str) -> Option<RatingCursor> {
        let (ms, id) = raw.split_once('_')?;
        Some(RatingCursor {
            created_at_ms: ms.parse().ok()?,
            id: Uuid::parse_str(id).ok()?,
        })
    }
}

impl std::fmt::Display for RatingCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}_{}", self.created_at_ms, self.id.hyphenated())
    }
}

/// How the per-page ranking picks and orders pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRanking {
    /// Pages with fewer ratings in the range are left out.
    pub min_ratings: u64,
    /// At most this many pages.
    pub limit: usize,
}

impl PageRanking {
    /// How many ratings of [`PageRanking::PRIOR_STARS`] a page's average is shrunk with.
    pub const PRIOR_RATINGS: u64 = 10;
    /// The scale's midpoint, where a page with few ratings is pulled.
    pub const PRIOR_STARS: u64 = 3;

    /// The order's key: the page's average as if it also had ten ratings of three stars
    /// (a Bayesian average), so that two ratings of one star rank after fifty ratings
    /// averaging 1.5 — the more ratings say a page is bad, the surer it is.
    pub fn score(tally: &Tally) -> f64 {
        (tally.sum + Self::PRIOR_RATINGS * Self::PRIOR_STARS) as f64
            / (tally.count + Self::PRIOR_RATINGS) as f64
    }
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

/// One page's ratings in two periods.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PageChange {
    /// The page URL.
    pub page: String,
    /// Its ratings in the earlier period.
    pub previous: Tally,
    /// Its ratings in the later period.
    pub current: Tally,
}

/// How many of something one page got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PageCount {
    /// The page URL.
    pub page: String,
    /// How many.
    pub count: u64,
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
        let mut both = tally(&[(1, 1), (5, 1)]);
        assert_eq!(both.variance(), Some(8.0), "(2² + 2²) / 1");
        assert_eq!(tally(&[(4, 1)]).variance(), None);
        both.merge(&tally(&[(3, 2)]));
        assert_eq!((both.count, both.sum, both.mean()), (4, 12, Some(3.0)));
    }

    #[test]
    fn queries_give_star_masks_patterns_and_cursors() {
        let filter = Filter {
            tenant: TenantId::parse("bugliano").unwrap(),
            entrypoint: None,
            from: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
            to: NaiveDate::from_ymd_opt(2026, 1, 31).unwrap(),
            tz: chrono_tz::Europe::Rome,
        };
        let mut query = RatingQuery::all(filter);
        assert_eq!(query.stars_mask(), 0b11_1110);
        query.stars = vec![1, 5, 200];
        assert_eq!(query.stars_mask(), 0b10_0010);
        query.text = Some("50% d_i \\".into());
        assert_eq!(query.text_pattern().unwrap(), "%50\\% d\\_i \\\\%");
        let cursor = RatingCursor {
            created_at_ms: 1_767_225_600_000,
            id: Uuid::from_u128(7),
        };
        assert_eq!(RatingCursor::parse(&cursor.to_string()), Some(cursor));
        assert_eq!(RatingCursor::parse("x_y"), None);
    }
}
