//! Statistics of an entrypoint, shared by the HTML page and the REST API.

use chrono::{Datelike, Days, Months, NaiveDate};
use chrono_tz::Tz;
use satisfy_aggregator::buckets::{answer_counts_of, summary_of};
use satisfy_aggregator::{
    AnswerBucket, AnswerCount, Bucket, Filter, Granularity, PageRanking, PageStats, RatingQuery,
    RatingRow, StoreError, Tally,
};
use satisfy_core::{Entrypoint, TenantId};
use serde::{Deserialize, Serialize};

use crate::ConsoleState;
use crate::i18n::{Ui, fill};
use crate::store::ConfigError;

/// Query string of a statistics request; every field is optional.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatsParams {
    /// A named period ending today: `7d`, `30d`, `90d`, `month` (this month so far),
    /// `last-month`, `year` (this year so far), or `custom` (the default: `from` and `to`).
    pub period: Option<String>,
    /// `week`, `day` or `month`; by default the period's own (days up to a month, weeks
    /// up to a quarter, months beyond).
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
    /// What the range is compared with.
    #[serde(skip)]
    pub comparison: Comparison,
}

/// How a range finds the period it is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// By its dates, as [`previous_range`] says (dates given, this month, last month).
    ByDates,
    /// The same dates a year before: the year so far, even in January, when its dates
    /// look like a month's.
    YearBefore,
    /// As many days just before: the last 7, 30 or 90 days, even when they start on the
    /// first of a month or of a year.
    DaysBefore,
}

impl Range {
    /// The period this one is compared with; `None` only at the calendar's edge.
    pub fn previous(&self) -> Option<(NaiveDate, NaiveDate)> {
        match self.comparison {
            Comparison::ByDates => previous_range(self.from, self.to),
            Comparison::YearBefore => {
                let year = Months::new(12);
                Some((
                    self.from.checked_sub_months(year)?,
                    self.to.checked_sub_months(year)?,
                ))
            }
            Comparison::DaysBefore => days_before(self.from, self.to),
        }
    }
}

/// As many days as `from..=to`, just before it.
fn days_before(from: NaiveDate, to: NaiveDate) -> Option<(NaiveDate, NaiveDate)> {
    let days = Days::new(u64::try_from((to - from).num_days()).ok()? + 1);
    Some((from.checked_sub_days(days)?, from.pred_opt()?))
}

/// Why a range was refused: in English for the API, in the user's language on pages
/// ([`RangeError::text`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    /// An unknown granularity.
    #[error("granularity must be week, day or month")]
    Granularity,
    /// An unknown named period.
    #[error("period must be one of 7d, 30d, 90d, month, last-month, year, custom")]
    Period,
    /// A date that is not `YYYY-MM-DD`: `from` or `to`.
    #[error("{0} must be a date YYYY-MM-DD")]
    Date(&'static str),
    /// `from` after `to`.
    #[error("from must not be after to")]
    FromAfterTo,
    /// A range longer than [`MAX_RANGE_DAYS`].
    #[error("the range may span at most {MAX_RANGE_DAYS} days")]
    TooLong,
    /// Dates beyond what the calendar holds.
    #[error("the dates are out of the calendar")]
    OutOfCalendar,
}

impl RangeError {
    /// The reason in the language of `texts`.
    pub fn text(&self, texts: &Ui) -> String {
        match self {
            RangeError::Granularity => texts.range_granularity.to_owned(),
            RangeError::Period => texts.range_period.to_owned(),
            RangeError::Date("from") => texts.range_from_date.to_owned(),
            RangeError::Date(_) => texts.range_to_date.to_owned(),
            RangeError::FromAfterTo => texts.range_from_after_to.to_owned(),
            RangeError::TooLong => fill(
                texts.range_too_long,
                &[("max", &MAX_RANGE_DAYS.to_string())],
            ),
            RangeError::OutOfCalendar => texts.range_out_of_calendar.to_owned(),
        }
    }
}

/// The named periods of [`StatsParams::period`], in the order the console offers them.
pub const PERIODS: [&str; 7] = ["7d", "30d", "90d", "month", "last-month", "year", "custom"];

/// The dates of a named period ending `today`, and its natural granularity.
fn named_period(
    name: &str,
    today: NaiveDate,
) -> Result<(NaiveDate, NaiveDate, Granularity), RangeError> {
    let days_back = |days: u64| today.checked_sub_days(Days::new(days - 1));
    let month_start = today.with_day(1);
    let dates = match name {
        "7d" => days_back(7).map(|from| (from, today, Granularity::Day)),
        "30d" => days_back(30).map(|from| (from, today, Granularity::Day)),
        "90d" => days_back(90).map(|from| (from, today, Granularity::Week)),
        "month" => month_start.map(|from| (from, today, Granularity::Day)),
        "last-month" => month_start.and_then(|start| {
            let from = start.checked_sub_months(Months::new(1))?;
            Some((from, start.pred_opt()?, Granularity::Day))
        }),
        "year" => today
            .with_ordinal(1)
            .map(|from| (from, today, Granularity::Month)),
        _ => return Err(RangeError::Period),
    };
    dates.ok_or(RangeError::OutOfCalendar)
}

/// The period a range is compared with: the same days of the previous month for a month
/// (or a month so far), of the previous year for a year so far, else the as many days
/// just before. `None` only at the calendar's edge.
pub fn previous_range(from: NaiveDate, to: NaiveDate) -> Option<(NaiveDate, NaiveDate)> {
    let same_month = from.day() == 1 && (from.year(), from.month()) == (to.year(), to.month());
    let same_year = from.ordinal() == 1 && from.year() == to.year() && !same_month;
    if same_month {
        let month = Months::new(1);
        let previous_from = from.checked_sub_months(month)?;
        // A whole month is compared with the whole month before, however long.
        let whole = to.succ_opt().is_none_or(|next| next.month() != to.month());
        let previous_to = if whole {
            from.pred_opt()?
        } else {
            to.checked_sub_months(month)?
        };
        Some((previous_from, previous_to))
    } else if same_year {
        let year = Months::new(12);
        Some((from.checked_sub_months(year)?, to.checked_sub_months(year)?))
    } else {
        days_before(from, to)
    }
}

impl StatsParams {
    /// Validates the parameters. A named period gives the dates (and, unless asked
    /// otherwise, the granularity); without one, missing dates default to the last 12
    /// weeks, 31 days or 12 months before `today`, by granularity.
    pub fn resolve(&self, today: NaiveDate) -> Result<Range, RangeError> {
        let given_granularity = match self.granularity.as_deref().filter(|g| !g.is_empty()) {
            None => None,
            Some(raw) => Some(Granularity::parse(raw).ok_or(RangeError::Granularity)?),
        };
        if let Some(name) = self
            .period
            .as_deref()
            .filter(|p| !p.is_empty() && *p != "custom")
        {
            let (from, to, natural) = named_period(name, today)?;
            return Ok(Range {
                granularity: given_granularity.unwrap_or(natural),
                from,
                to,
                comparison: match name {
                    "year" => Comparison::YearBefore,
                    "7d" | "30d" | "90d" => Comparison::DaysBefore,
                    _ => Comparison::ByDates,
                },
            });
        }
        let date =
            |raw: &Option<String>, name: &'static str| -> Result<Option<NaiveDate>, RangeError> {
                match raw.as_deref().filter(|d| !d.is_empty()) {
                    None => Ok(None),
                    Some(d) => NaiveDate::parse_from_str(d, "%Y-%m-%d")
                        .map(Some)
                        .map_err(|_| RangeError::Date(name)),
                }
            };
        let to = date(&self.to, "to")?.unwrap_or(today);
        let (from, granularity) = match date(&self.from, "from")? {
            // Chosen dates: days up to 31 of them, weeks up to 92, months beyond.
            Some(from) => (
                from,
                given_granularity.unwrap_or(match (to - from).num_days() + 1 {
                    ..=31 => Granularity::Day,
                    32..=92 => Granularity::Week,
                    _ => Granularity::Month,
                }),
            ),
            None => {
                let granularity = given_granularity.unwrap_or(Granularity::Week);
                let from = match granularity {
                    Granularity::Week => {
                        granularity.start_of(to).checked_sub_days(Days::new(7 * 11))
                    }
                    Granularity::Day => to.checked_sub_days(Days::new(30)),
                    Granularity::Month => {
                        granularity.start_of(to).checked_sub_months(Months::new(11))
                    }
                };
                (from.ok_or(RangeError::OutOfCalendar)?, granularity)
            }
        };
        if from > to {
            return Err(RangeError::FromAfterTo);
        }
        if (to - from).num_days() > MAX_RANGE_DAYS {
            return Err(RangeError::TooLong);
        }
        Ok(Range {
            granularity,
            from,
            to,
            comparison: Comparison::ByDates,
        })
    }
}

/// A page's period: what was asked when it is valid, else `default` with the reason,
/// which pages show above the default's figures instead of refusing the request.
#[derive(Debug, Clone)]
pub struct PagePeriod {
    /// The parameters the page's form shows back.
    pub shown: StatsParams,
    /// Their range.
    pub range: Range,
    /// Why the asked parameters were not used.
    pub error: Option<RangeError>,
}

impl PagePeriod {
    /// Resolves `asked`, falling back to `default`; `None` only if the default itself is
    /// out of the calendar.
    pub fn resolve(
        asked: StatsParams,
        default: StatsParams,
        today: NaiveDate,
    ) -> Option<PagePeriod> {
        match asked.resolve(today) {
            Ok(range) => Some(PagePeriod {
                shown: asked,
                range,
                error: None,
            }),
            Err(error) => Some(PagePeriod {
                range: default.resolve(today).ok()?,
                shown: default,
                error: Some(error),
            }),
        }
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
    /// The period compared with ([`previous_range`]) and its totals.
    pub previous: Previous,
    /// One bucket per period, empty ones included.
    pub buckets: Vec<Bucket>,
    /// Follow-up answers, most chosen first.
    pub answers: Vec<AnswerCount>,
    /// Follow-up answers per period, empty periods included.
    pub answers_over_time: Vec<AnswerBucket>,
    /// Latest comments; absent for those who may not read them (auditors).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comments: Option<Vec<RatingRow>>,
    /// Pages with at least [`MIN_PAGE_RATINGS`] ratings, worst first by their average
    /// shrunk toward 3 stars as if they had ten more ratings of 3 (a Bayesian average).
    pub pages: Vec<PageStats>,
}

/// The period a report is compared with.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Previous {
    /// Its first date.
    pub from: NaiveDate,
    /// Its last date.
    pub to: NaiveDate,
    /// Its totals.
    pub summary: Tally,
}

impl Previous {
    /// The totals of the period before `range` in `filter`'s scope.
    pub async fn read(
        state: &ConsoleState,
        filter: &Filter,
        range: Range,
    ) -> Result<Previous, StoreError> {
        let (from, to) = range
            .previous()
            .ok_or_else(|| StoreError("no previous period before the calendar's start".into()))?;
        let summary = state
            .analytics
            .summary(&Filter {
                from,
                to,
                ..filter.clone()
            })
            .await?;
        Ok(Previous { from, to, summary })
    }
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
    let comments = async {
        if !with_comments {
            return Ok(None);
        }
        let latest = RatingQuery {
            with_comment: true,
            ..RatingQuery::all(filter.clone())
        };
        analytics
            .ratings(&latest, None, REPORT_ROWS)
            .await
            .map(Some)
    };
    let ranking = PageRanking {
        min_ratings: MIN_PAGE_RATINGS,
        limit: REPORT_ROWS,
    };
    // Side by side: ClickHouse answers them in parallel. The range's totals are its
    // buckets' (each store query costs ClickHouse a few milliseconds of CPU, whatever it
    // reads).
    let (previous, buckets, answers_over_time, comments, pages) = tokio::try_join!(
        Previous::read(state, &filter, range),
        analytics.buckets(&filter, range.granularity),
        analytics.answer_buckets(&filter, range.granularity),
        comments,
        analytics.pages(&filter, &ranking),
    )?;
    Ok(Report {
        range,
        timezone: tz.name().to_owned(),
        summary: summary_of(&buckets),
        previous,
        answers: answer_counts_of(&answers_over_time),
        buckets,
        answers_over_time,
        comments,
        pages,
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
            period: None,
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
        // Chosen dates without a granularity get the span's own.
        let span = |from: &str| params(None, Some(from), Some("2026-11-25")).resolve(today);
        assert_eq!(span("2026-11-01").unwrap().granularity, Granularity::Day);
        assert_eq!(span("2026-09-01").unwrap().granularity, Granularity::Week);
        assert_eq!(span("2026-01-01").unwrap().granularity, Granularity::Month);
        // The edges as documented: days up to 31 of them, weeks up to 92.
        assert_eq!(span("2026-10-26").unwrap().granularity, Granularity::Day);
        assert_eq!(span("2026-10-25").unwrap().granularity, Granularity::Week);
        assert_eq!(span("2026-08-26").unwrap().granularity, Granularity::Week);
        assert_eq!(span("2026-08-25").unwrap().granularity, Granularity::Month);
        // The calendar's edge is an error, not a panic.
        assert!(
            params(None, None, Some("-262143-01-01"))
                .resolve(today)
                .is_err()
        );
        assert_eq!(bucket_label(Granularity::Month, month.from), "12/2025");
    }

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn named_periods_end_today_with_their_own_granularity() {
        let today = day(2026, 3, 31);
        let named = |name: &str, g: Option<&str>| {
            let range = StatsParams {
                period: Some(name.into()),
                granularity: g.map(Into::into),
                from: Some("2020-01-01".into()),
                to: None,
            }
            .resolve(today)
            .unwrap();
            (range.from, range.to, range.granularity)
        };
        assert_eq!(
            named("7d", None),
            (day(2026, 3, 25), today, Granularity::Day)
        );
        assert_eq!(
            named("30d", None),
            (day(2026, 3, 2), today, Granularity::Day)
        );
        assert_eq!(
            named("90d", None),
            (day(2026, 1, 1), today, Granularity::Week)
        );
        assert_eq!(
            named("month", Some("week")),
            (day(2026, 3, 1), today, Granularity::Week)
        );
        assert_eq!(
            named("last-month", None),
            (day(2026, 2, 1), day(2026, 2, 28), Granularity::Day)
        );
        assert_eq!(
            named("year", None),
            (day(2026, 1, 1), today, Granularity::Month)
        );
        let custom = StatsParams {
            period: Some("custom".into()),
            granularity: None,
            from: Some("2026-03-01".into()),
            to: Some("2026-03-10".into()),
        };
        assert_eq!(custom.resolve(today).unwrap().from, day(2026, 3, 1));
        // The year so far in January has a month's shape but is compared with last January.
        let january = StatsParams {
            period: Some("year".into()),
            granularity: None,
            from: None,
            to: None,
        }
        .resolve(day(2027, 1, 20))
        .unwrap();
        assert_eq!(
            january.previous(),
            Some((day(2026, 1, 1), day(2026, 1, 20)))
        );
        let month = StatsParams {
            period: Some("month".into()),
            ..StatsParams::default()
        }
        .resolve(day(2027, 1, 20))
        .unwrap();
        assert_eq!(
            month.previous(),
            Some((day(2026, 12, 1), day(2026, 12, 20)))
        );
        // The last 7 days from the 1st of a month, the last 90 from the 1st of January:
        // as many days just before, not the month or the year before.
        let week = StatsParams {
            period: Some("7d".into()),
            ..StatsParams::default()
        }
        .resolve(day(2026, 12, 7))
        .unwrap();
        assert_eq!(
            (week.from, week.previous()),
            (
                day(2026, 12, 1),
                Some((day(2026, 11, 24), day(2026, 11, 30)))
            )
        );
        let quarter = StatsParams {
            period: Some("90d".into()),
            ..StatsParams::default()
        }
        .resolve(day(2026, 3, 31))
        .unwrap();
        assert_eq!(
            (quarter.from, quarter.previous()),
            (day(2026, 1, 1), Some((day(2025, 10, 3), day(2025, 12, 31))))
        );
        let unknown = StatsParams {
            period: Some("decade".into()),
            ..custom
        };
        assert_eq!(unknown.resolve(today), Err(RangeError::Period));
        // The API's message lists the periods there are.
        assert_eq!(
            RangeError::Period.to_string(),
            format!("period must be one of {}", PERIODS.join(", "))
        );
    }

    #[test]
    fn periods_compare_with_the_same_days_before() {
        // Rolling windows: as many days just before.
        assert_eq!(
            previous_range(day(2026, 3, 25), day(2026, 3, 31)),
            Some((day(2026, 3, 18), day(2026, 3, 24)))
        );
        // A month so far: the same days of the month before, clamped to its end.
        assert_eq!(
            previous_range(day(2026, 3, 1), day(2026, 3, 31)),
            Some((day(2026, 2, 1), day(2026, 2, 28)))
        );
        // A whole month with the whole month before, longer or shorter.
        assert_eq!(
            previous_range(day(2026, 2, 1), day(2026, 2, 28)),
            Some((day(2026, 1, 1), day(2026, 1, 31)))
        );
        assert_eq!(
            previous_range(day(2026, 4, 1), day(2026, 4, 30)),
            Some((day(2026, 3, 1), day(2026, 3, 31)))
        );
        assert_eq!(
            previous_range(day(2026, 3, 1), day(2026, 3, 12)),
            Some((day(2026, 2, 1), day(2026, 2, 12)))
        );
        // A year so far: the same dates of the year before.
        assert_eq!(
            previous_range(day(2026, 1, 1), day(2026, 11, 24)),
            Some((day(2025, 1, 1), day(2025, 11, 24)))
        );
        assert_eq!(previous_range(NaiveDate::MIN, NaiveDate::MIN), None);
    }
}
