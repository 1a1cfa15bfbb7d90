//! The tenant's overview: every entrypoint against the previous period, and what got
//! worse ("Da guardare"), shared by the console's landing page and `GET /api/v1/overview`.
//!
//! The rules (docs/DASHBOARDS.md):
//! - an average *fell significantly* when both periods have at least [`MIN_SAMPLE`]
//!   ratings, it fell by at least [`MIN_DROP`] stars, and Welch's t statistic of the fall
//!   is at least [`Z_95`] (one chance in forty of a fall that large by chance alone, the
//!   stars of each period taken as independent samples);
//! - reports of technical problems *jumped* when both periods have at least
//!   [`MIN_SAMPLE`] ratings, the share of ratings choosing "Ho avuto problemi tecnici"
//!   rose by at least [`MIN_SHARE_RISE`], and the two-proportion z statistic is at least
//!   [`Z_95`].

use chrono::NaiveDate;
use futures_util::future::try_join_all;
use satisfy_aggregator::buckets::summary_of;
use satisfy_aggregator::{Bucket, Filter, PageRanking, StoreError, Tally};
use satisfy_core::{Entrypoint, TenantId};
use serde::Serialize;

use crate::ConsoleState;
use crate::stats::Range;

/// The fewest ratings each period needs before a change is judged.
pub const MIN_SAMPLE: u64 = 30;
/// The smallest fall of an average worth reporting, in stars.
pub const MIN_DROP: f64 = 0.2;
/// The smallest rise of the technical-problems share worth reporting (5 points).
pub const MIN_SHARE_RISE: f64 = 0.05;
/// The 97.5th percentile of the standard normal distribution.
pub const Z_95: f64 = 1.96;
/// The official option id of "Ho avuto problemi tecnici".
const TECHNICAL_PROBLEMS: &str = "technical_problems";
/// Pages judged per entrypoint, those whose average fell most.
const PAGE_CANDIDATES: usize = 20;
/// Pages listed for their negative answers.
const NEGATIVE_PAGES: usize = 5;

/// Whether the average fell significantly from `previous` to `current` (see the module).
pub fn fell_significantly(previous: &Tally, current: &Tally) -> bool {
    if previous.count < MIN_SAMPLE || current.count < MIN_SAMPLE {
        return false;
    }
    let (Some(before), Some(after), Some(v1), Some(v2)) = (
        previous.mean(),
        current.mean(),
        previous.variance(),
        current.variance(),
    ) else {
        return false;
    };
    let fall = before - after;
    if fall < MIN_DROP {
        return false;
    }
    let standard_error = (v1 / previous.count as f64 + v2 / current.count as f64).sqrt();
    // Identical stars within each period: the fall is certain.
    standard_error == 0.0 || fall / standard_error >= Z_95
}

/// Whether `current_hits` of `current` ratings is a significant rise of the share over
/// `previous_hits` of `previous` (see the module).
pub fn share_jumped(previous_hits: u64, previous: u64, current_hits: u64, current: u64) -> bool {
    if previous < MIN_SAMPLE || current < MIN_SAMPLE {
        return false;
    }
    let (p1, p2) = (
        previous_hits as f64 / previous as f64,
        current_hits as f64 / current as f64,
    );
    if p2 - p1 < MIN_SHARE_RISE {
        return false;
    }
    let pooled = (previous_hits + current_hits) as f64 / (previous + current) as f64;
    let standard_error =
        (pooled * (1.0 - pooled) * (1.0 / previous as f64 + 1.0 / current as f64)).sqrt();
    standard_error == 0.0 || (p2 - p1) / standard_error >= Z_95
}

/// One entrypoint in both periods.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EntrypointTrend {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Ratings in the period.
    pub current: Tally,
    /// Ratings in the previous period.
    pub previous: Tally,
    /// One bucket per period of the range's granularity.
    pub series: Vec<Bucket>,
}

/// Something that got worse, worth a look.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Alert {
    /// An entrypoint's average, or one page's (`page` set), fell significantly.
    AverageFell {
        /// The entrypoint's id.
        entrypoint: String,
        /// Its name.
        name: String,
        /// The page, when the fall is one page's.
        #[serde(skip_serializing_if = "Option::is_none")]
        page: Option<String>,
        /// Ratings before.
        previous: Tally,
        /// Ratings now.
        current: Tally,
    },
    /// A page whose 1-3 star ratings chose the most follow-up answers.
    NegativeAnswers {
        /// The entrypoint's id.
        entrypoint: String,
        /// Its name.
        name: String,
        /// The page.
        page: String,
        /// Answers chosen with 1 to 3 stars in the period.
        count: u64,
    },
    /// The share of an entrypoint's ratings reporting technical problems jumped.
    TechnicalProblems {
        /// The entrypoint's id.
        entrypoint: String,
        /// Its name.
        name: String,
        /// Ratings choosing "Ho avuto problemi tecnici" before, and all ratings before.
        previous_hits: u64,
        /// All ratings before.
        previous_count: u64,
        /// Ratings choosing it now.
        current_hits: u64,
        /// All ratings now.
        current_count: u64,
    },
}

/// The overview of a tenant over a range.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Overview {
    /// The range covered.
    #[serde(flatten)]
    pub range: Range,
    /// First date of the period compared with.
    pub previous_from: NaiveDate,
    /// Last date of the period compared with.
    pub previous_to: NaiveDate,
    /// IANA zone of the dates.
    pub timezone: String,
    /// Every entrypoint's ratings now.
    pub current: Tally,
    /// Every entrypoint's ratings before.
    pub previous: Tally,
    /// Each entrypoint, by name.
    pub entrypoints: Vec<EntrypointTrend>,
    /// What got worse: falls of averages first (entrypoints, then pages, largest fall
    /// first), then jumps of technical problems, then the pages with most negative
    /// answers.
    pub watch: Vec<Alert>,
}

/// What one entrypoint contributes.
struct Reading {
    trend: EntrypointTrend,
    falls: Vec<Alert>,
    technical: Option<Alert>,
    negative: Vec<Alert>,
}

async fn read_entrypoint(
    state: &ConsoleState,
    entrypoint: &Entrypoint,
    current: Filter,
    previous: Filter,
    range: Range,
) -> Result<Reading, StoreError> {
    let analytics = &state.analytics;
    let scoped = |filter: &Filter| Filter {
        entrypoint: Some(entrypoint.id.clone()),
        ..filter.clone()
    };
    let (current, previous) = (scoped(&current), scoped(&previous));
    let candidates = PageRanking {
        min_ratings: MIN_SAMPLE,
        limit: PAGE_CANDIDATES,
    };
    // Side by side: ClickHouse answers them in parallel.
    let (series, before, page_changes, answers_before, answers_now, negative_pages) = tokio::try_join!(
        analytics.buckets(&current, range.granularity),
        analytics.summary(&previous),
        analytics.page_changes(&previous, &current, &candidates),
        analytics.answer_counts(&previous),
        analytics.answer_counts(&current),
        analytics.negative_answer_pages(&current, NEGATIVE_PAGES),
    )?;
    let now = summary_of(&series);
    let id = entrypoint.id.as_str().to_owned();
    let name = entrypoint.name.clone();
    let fall = |page: Option<String>, previous: Tally, current: Tally| Alert::AverageFell {
        entrypoint: id.clone(),
        name: name.clone(),
        page,
        previous,
        current,
    };
    let mut falls = Vec::new();
    if fell_significantly(&before, &now) {
        falls.push(fall(None, before, now));
    }
    for change in page_changes {
        if fell_significantly(&change.previous, &change.current) {
            falls.push(fall(Some(change.page), change.previous, change.current));
        }
    }
    let hits = |answers: &[satisfy_aggregator::AnswerCount]| {
        answers
            .iter()
            .find(|a| a.option == TECHNICAL_PROBLEMS)
            .map_or(0, |a| a.count)
    };
    let (hits_before, hits_now) = (hits(&answers_before), hits(&answers_now));
    let technical = share_jumped(hits_before, before.count, hits_now, now.count).then(|| {
        Alert::TechnicalProblems {
            entrypoint: id.clone(),
            name: name.clone(),
            previous_hits: hits_before,
            previous_count: before.count,
            current_hits: hits_now,
            current_count: now.count,
        }
    });
    let negative = negative_pages
        .into_iter()
        .map(|page| Alert::NegativeAnswers {
            entrypoint: id.clone(),
            name: name.clone(),
            page: page.page,
            count: page.count,
        })
        .collect();
    Ok(Reading {
        trend: EntrypointTrend {
            id,
            name,
            current: now,
            previous: before,
            series,
        },
        falls,
        technical,
        negative,
    })
}

fn fall_size(alert: &Alert) -> f64 {
    match alert {
        Alert::AverageFell {
            previous, current, ..
        } => previous.mean().unwrap_or(0.0) - current.mean().unwrap_or(0.0),
        _ => 0.0,
    }
}

/// Builds the overview of `tenant` over `range` in `tz`.
pub async fn build(
    state: &ConsoleState,
    tenant: &TenantId,
    range: Range,
    tz: chrono_tz::Tz,
) -> Result<Overview, StoreError> {
    let (previous_from, previous_to) = range
        .previous()
        .ok_or_else(|| StoreError("no previous period before the calendar's start".into()))?;
    let current = Filter {
        tenant: tenant.clone(),
        entrypoint: None,
        from: range.from,
        to: range.to,
        tz,
    };
    let previous = Filter {
        from: previous_from,
        to: previous_to,
        ..current.clone()
    };
    let mut entrypoints = state
        .store
        .entrypoints(tenant)
        .await
        .map_err(|error| StoreError(format!("entrypoints: {error}")))?;
    entrypoints.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
    // Concurrent per entrypoint: ClickHouse answers them side by side.
    let readings = try_join_all(entrypoints.iter().map(|entrypoint| {
        read_entrypoint(state, entrypoint, current.clone(), previous.clone(), range)
    }))
    .await?;
    let (mut now, mut before) = (Tally::default(), Tally::default());
    let mut falls = Vec::new();
    let mut technical = Vec::new();
    let mut negative = Vec::new();
    let mut trends = Vec::new();
    for reading in readings {
        now.merge(&reading.trend.current);
        before.merge(&reading.trend.previous);
        falls.extend(reading.falls);
        technical.extend(reading.technical);
        negative.extend(reading.negative);
        trends.push(reading.trend);
    }
    // Entrypoint-wide falls before page falls, each largest first.
    falls.sort_by(|a, b| {
        let is_page = |alert: &Alert| matches!(alert, Alert::AverageFell { page: Some(_), .. });
        is_page(a)
            .cmp(&is_page(b))
            .then(fall_size(b).total_cmp(&fall_size(a)))
    });
    let count = |alert: &Alert| match alert {
        Alert::NegativeAnswers { count, .. } => *count,
        _ => 0,
    };
    negative.sort_by_key(|alert| std::cmp::Reverse(count(alert)));
    negative.truncate(NEGATIVE_PAGES);
    let mut watch = falls;
    watch.extend(technical);
    watch.extend(negative);
    Ok(Overview {
        range,
        previous_from,
        previous_to,
        timezone: tz.name().to_owned(),
        current: now,
        previous: before,
        entrypoints: trends,
        watch,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tally(distribution: [u64; 5]) -> Tally {
        let mut tally = Tally::default();
        for (stars, count) in (1..=5u8).zip(distribution) {
            tally.add(stars, count);
        }
        tally
    }

    #[test]
    fn a_fall_needs_a_sample_a_size_and_significance() {
        let good = tally([2, 3, 5, 20, 30]); // 60 ratings, mean 4.2
        let worse = tally([10, 10, 10, 15, 15]); // 60 ratings, mean 3.25
        assert!(fell_significantly(&good, &worse));
        assert!(!fell_significantly(&worse, &good), "a rise is no fall");
        // The same means on 10 ratings each: too few to judge.
        assert!(!fell_significantly(
            &tally([0, 0, 1, 4, 5]),
            &tally([2, 2, 2, 2, 2])
        ));
        // A fall of 0.1 stars on huge samples is significant but too small to matter.
        let big = tally([0, 0, 0, 90_000, 10_000]); // 4.1
        let slightly = tally([0, 0, 0, 100_000, 0]); // 4.0
        assert!(!fell_significantly(&big, &slightly));
        // A real fall drowned in noise: 4.0 → 3.7 on 30 widely spread ratings each.
        assert!(!fell_significantly(
            &tally([3, 3, 0, 3, 21]),
            &tally([4, 4, 0, 4, 18])
        ));
        // No spread at all: certain.
        assert!(fell_significantly(
            &tally([0, 0, 0, 0, 40]),
            &tally([0, 0, 0, 40, 0])
        ));
    }

    #[test]
    fn a_jump_in_technical_problems_needs_a_sample_a_size_and_significance() {
        assert!(share_jumped(5, 200, 40, 200), "2.5% → 20%");
        assert!(!share_jumped(40, 200, 5, 200), "a fall is no jump");
        assert!(!share_jumped(1, 20, 8, 20), "too few ratings");
        assert!(
            !share_jumped(100, 10_000, 130, 10_000),
            "1% → 1.3%: too small"
        );
        assert!(!share_jumped(3, 40, 6, 40), "7.5% → 15% on 40: chance");
    }
}
