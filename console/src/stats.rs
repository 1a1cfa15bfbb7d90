//! Statistics of an entrypoint, shared by the HTML page and the REST API.

use chrono::{Datelike, Days, Months, NaiveDate};
use chrono_tz::Tz;
use satisfy_aggregator::{
    AnswerCount, Bucket, Filter, Granularity, PageRanking, PageStats, RatingQuery, RatingRow,
    StoreError, Tally,
};
use satisfy_core::{Entrypoint, TenantId};
use serde::{Deserialize, Serialize};

use crate::ConsoleState;
use crate::store::ConfigError;

/// Query string of a statistics request; every field is optional.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatsParams {
    /// `week` (default), `day` or `month`.
    pub granularity: Option<String>,
    /// First date, `YYYY-MM-DD`.
    pub from: Option<String>,
    /// Last date, `YYYY-MM-DD`.
    pub to: Option<String>,
}

/// The longest range one request may cover, so a typo cannot ask for millions of buckets.
const MAX_RANGE_DAYS: i64 = 3 * 366;

/// A validated statistics range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Range {
    /// Bucket size.
    pub granularity: Granularity,
    /// First date.
    pub from: NaiveDate,
    /// Last date.
    pub to: NaiveDate,
}

impl StatsParams {
    /// Validates the parameters; missing dates default to the last 12 weeks, 31 days or
    /// 12 months before `today`, by granularity.
    pub fn resolve(&self, today: NaiveDate) -> Result<Range, String> {
        let granularity = match self.granularity.as_deref().filter(|g| !g.is_empty()) {
            None => Granularity::Week,
            Some(raw) => Granularity::parse(raw).ok_or("granularity must be week, day or month")?,
        };
        let date = |raw: &Option<String>, name: &str| -> Result<Option<NaiveDate>, String> {
            match raw.as_deref().filter(|d| !d.is_empty()) {
                None => Ok(None),
                Some(d) => NaiveDate::parse_from_str(d, "%Y-%m-%d")
                    .map(Some)
                    .map_err(|_| format!("{name} must be a date YYYY-MM-DD")),
            }
        };
        let to = date(&self.to, "to")?.unwrap_or(today);
        let from = match date(&self.from, "from")? {
            Some(from) => from,
            None => match granularity {
                Granularity::Week => granularity.start_of(to) - Days::new(7 * 11),
                Granularity::Day => to - Days::new(30),
                Granularity::Month => granularity
                    .start_of(to)
                    .checked_sub_months(Months::new(11))
                    .unwrap_or(to),
            },
        };
        if from > to {
            return Err("from must not be after to".into());
        }
        if (to - from).num_days() > MAX_RANGE_DAYS {
            return Err(format!("the range may span at most {MAX_RANGE_DAYS} days"));
        }
        Ok(Range {
            granularity,
            from,
            to,
        })
    }
}

/// Everything the statistics page shows.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Report {
    /// The range covered.
    #[serde(flatten)]
    pub range: Range,
    /// IANA time zone of the buckets.
    pub timezone: String,
    /// Totals.
    pub summary: Tally,
    /// One bucket per period, empty ones included.
    pub buckets: Vec<Bucket>,
    /// Follow-up answers, most chosen first.
    pub answers: Vec<AnswerCount>,
    /// Latest comments; absent for those who may not read them (auditors).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comments: Option<Vec<RatingRow>>,
    /// Pages with at least [`MIN_PAGE_RATINGS`] ratings, worst first by their average
    /// shrunk toward 3 stars as if they had ten more ratings of 3 (a Bayesian average).
    pub pages: Vec<PageStats>,
}

/// How many comments and pages a report lists.
const REPORT_ROWS: usize = 20;

/// The fewest ratings a page needs in the range to be ranked.
pub const MIN_PAGE_RATINGS: u64 = 5;

/// The time zone of `tenant`'s days, weeks and months: its own setting, else the
/// console's default.
pub async fn tenant_time_zone(state: &ConsoleState, tenant: &TenantId) -> Result<Tz, ConfigError> {
    let zone = state
        .store
        .tenant(tenant)
        .await?
        .and_then(|t| t.time_zone.parse::<Tz>().ok());
    Ok(zone.unwrap_or(state.config.time_zone))
}

/// Builds the report of `entrypoint` over `range` in the time zone `tz`; comments are
/// read only `with_comments`.
pub async fn report(
    state: &ConsoleState,
    entrypoint: &Entrypoint,
    range: Range,
    tz: Tz,
    with_comments: bool,
) -> Result<Report, StoreError> {
    let filter = Filter {
        tenant: entrypoint.tenant.clone(),
        entrypoint: Some(entrypoint.id.clone()),
        from: range.from,
        to: range.to,
        tz,
    };
    let analytics = &state.analytics;
    Ok(Report {
        range,
        timezone: tz.name().to_owned(),
        summary: analytics.summary(&filter).await?,
        buckets: analytics.buckets(&filter, range.granularity).await?,
        answers: analytics.answer_counts(&filter).await?,
        comments: if with_comments {
            let latest = RatingQuery {
                with_comment: true,
                ..RatingQuery::all(filter.clone())
            };
            Some(analytics.ratings(&latest, None, REPORT_ROWS).await?)
        } else {
            None
        },
        pages: analytics
            .pages(
                &filter,
                &PageRanking {
                    min_ratings: MIN_PAGE_RATINGS,
                    limit: REPORT_ROWS,
                },
            )
            .await?,
    })
}

/// The axis label of a bucket: `dd/mm` for days and weeks, `mm/yyyy` for months.
pub fn bucket_label(granularity: Granularity, start: NaiveDate) -> String {
    match granularity {
        Granularity::Month => format!("{:02}/{}", start.month(), start.year()),
        _ => format!("{:02}/{:02}", start.day(), start.month()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(g: Option<&str>, from: Option<&str>, to: Option<&str>) -> StatsParams {
        StatsParams {
            granularity: g.map(Into::into),
            from: from.map(Into::into),
            to: to.map(Into::into),
        }
    }

    #[test]
    fn defaults_and_validation() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        let range = params(None, None, None).resolve(today).unwrap();
        assert_eq!(range.granularity, Granularity::Week);
        assert_eq!(range.from, NaiveDate::from_ymd_opt(2026, 9, 7).unwrap());
        let month = params(Some("month"), None, None).resolve(today).unwrap();
        assert_eq!(month.from, NaiveDate::from_ymd_opt(2025, 12, 1).unwrap());
        assert!(params(Some("year"), None, None).resolve(today).is_err());
        assert!(
            params(None, Some("2026-13-01"), None)
                .resolve(today)
                .is_err()
        );
        assert!(
            params(None, Some("2026-11-26"), Some("2026-11-25"))
                .resolve(today)
                .is_err()
        );
        assert!(
            params(None, Some("2010-01-01"), None)
                .resolve(today)
                .is_err()
        );
        assert_eq!(bucket_label(Granularity::Month, month.from), "12/2025");
    }
}
