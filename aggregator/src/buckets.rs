//! Calendar bucketing in a tenant's time zone, shared by every backend.
//!
//! Backends group ratings by 15-minute UTC slot and stars; this module turns those slots
//! into local days, ISO weeks (Monday start) and months. Every time zone in use today has
//! offsets that are whole multiples of 15 minutes, so all instants of a slot share one
//! local date, across DST changes too.

use chrono::{Datelike, Days, Months, NaiveDate, TimeZone};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

use crate::model::{AnswerBucket, AnswerCount, Bucket, Filter, Tally};

/// Width of the UTC slots backends group by, in milliseconds.
pub const SLOT_MS: i64 = 15 * 60 * 1000;

/// A UTC day in milliseconds: the daily rollups' unit.
pub(crate) const DAY_MS: i64 = 86_400_000;

/// The `[start, end)` range split for the daily rollups: the whole UTC days inside it
/// (`first_day..end_day`) and the rest before and after them, `[start, inner_start)` and
/// `[inner_end, end)`, read from the ratings themselves.
pub(crate) struct DaySplit {
    pub(crate) start: i64,
    pub(crate) end: i64,
    pub(crate) first_day: i64,
    pub(crate) end_day: i64,
    pub(crate) inner_start: i64,
    pub(crate) inner_end: i64,
}

impl DaySplit {
    pub(crate) fn of(start: i64, end: i64) -> DaySplit {
        let first_day = start.div_euclid(DAY_MS) + i64::from(start.rem_euclid(DAY_MS) != 0);
        let end_day = end.div_euclid(DAY_MS).max(first_day);
        let inner_start = (first_day.saturating_mul(DAY_MS)).clamp(start, end);
        let inner_end = (end_day.saturating_mul(DAY_MS)).clamp(inner_start, end);
        DaySplit {
            start,
            end,
            first_day,
            end_day,
            inner_start,
            inner_end,
        }
    }
}

/// The period of a time series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Granularity {
    /// Calendar days.
    Day,
    /// ISO weeks, Monday to Sunday.
    #[default]
    Week,
    /// Calendar months.
    Month,
}

impl Granularity {
    /// Parses `day`, `week` or `month`.
    pub fn parse(raw: &str) -> Option<Granularity> {
        match raw {
            "day" => Some(Granularity::Day),
            "week" => Some(Granularity::Week),
            "month" => Some(Granularity::Month),
            _ => None,
        }
    }

    /// `day`, `week` or `month`, as [`Granularity::parse`] reads it.
    pub fn code(self) -> &'static str {
        match self {
            Granularity::Day => "day",
            Granularity::Week => "week",
            Granularity::Month => "month",
        }
    }

    /// The first date of the period containing `date`.
    pub fn start_of(self, date: NaiveDate) -> NaiveDate {
        match self {
            Granularity::Day => date,
            // At the calendar's first week, its first date.
            Granularity::Week => date
                .checked_sub_days(Days::new(u64::from(date.weekday().num_days_from_monday())))
                .unwrap_or(date),
            Granularity::Month => date.with_day(1).unwrap_or(date),
        }
    }

    fn next(self, start: NaiveDate) -> Option<NaiveDate> {
        match self {
            Granularity::Day => start.checked_add_days(Days::new(1)),
            Granularity::Week => start.checked_add_days(Days::new(7)),
            Granularity::Month => start.checked_add_months(Months::new(1)),
        }
    }
}

/// The UTC instant (ms) at which local `date` begins in `tz`.
pub fn local_midnight_ms(tz: Tz, date: NaiveDate) -> i64 {
    let midnight = date.and_hms_opt(0, 0, 0).unwrap_or_default();
    // Where a DST gap swallows midnight, the day starts at the first instant that exists.
    let mut probe = midnight;
    for _ in 0..4 {
        if let Some(instant) = tz.from_local_datetime(&probe).earliest() {
            return instant.timestamp_millis();
        }
        probe += chrono::Duration::minutes(30);
    }
    midnight.and_utc().timestamp_millis()
}

impl Filter {
    /// The half-open UTC range `[start, end)` in milliseconds covering the filter's dates.
    pub fn utc_range_ms(&self) -> (i64, i64) {
        let end_date = self.to.succ_opt().unwrap_or(self.to);
        (
            local_midnight_ms(self.tz, self.from),
            local_midnight_ms(self.tz, end_date),
        )
    }

    /// The local date of an instant.
    pub fn local_date(&self, ms: i64) -> NaiveDate {
        self.tz
            .timestamp_millis_opt(ms)
            .single()
            .map(|t| t.date_naive())
            .unwrap_or_default()
    }
}

/// The periods of a filter's range and the UTC instant each begins at, so that a slot
/// finds its period by a binary search instead of a time-zone conversion per row.
struct Periods {
    starts: Vec<NaiveDate>,
    /// `starts_ms[i]` is when `starts[i]` begins; the last entry is where the last period
    /// ends.
    starts_ms: Vec<i64>,
}

impl Periods {
    /// Every period from the one containing `filter.from` to the one containing
    /// `filter.to`.
    fn of(filter: &Filter, granularity: Granularity) -> Periods {
        let mut starts = Vec::new();
        let mut start = granularity.start_of(filter.from);
        let mut after_last = None;
        while start <= filter.to {
            starts.push(start);
            after_last = granularity.next(start);
            match after_last {
                Some(next) => start = next,
                None => break,
            }
        }
        let mut starts_ms: Vec<i64> = starts
            .iter()
            .map(|date| local_midnight_ms(filter.tz, *date))
            .collect();
        starts_ms.push(after_last.map_or(i64::MAX, |date| local_midnight_ms(filter.tz, date)));
        Periods { starts, starts_ms }
    }

    /// How many periods there are.
    fn len(&self) -> usize {
        self.starts.len()
    }

    /// The index of the period holding `slot` (a UTC instant divided by [`SLOT_MS`]).
    fn of_slot(&self, slot: i64) -> Option<usize> {
        let ms = slot.saturating_mul(SLOT_MS);
        let after = self.starts_ms.partition_point(|start| *start <= ms);
        (after > 0 && after < self.starts_ms.len()).then(|| after - 1)
    }
}

/// Every bucket from the one containing `filter.from` to the one containing `filter.to`,
/// empty ones included, filled from `(slot, stars, count)` rows where `slot` is a UTC
/// instant divided by [`SLOT_MS`].
pub fn bucketize(
    filter: &Filter,
    granularity: Granularity,
    slots: impl IntoIterator<Item = (i64, u8, u64)>,
) -> Vec<Bucket> {
    let periods = Periods::of(filter, granularity);
    let mut tallies = vec![Tally::default(); periods.len()];
    for (slot, stars, count) in slots {
        if let Some(index) = periods.of_slot(slot) {
            tallies[index].add(stars, count);
        }
    }
    periods
        .starts
        .into_iter()
        .zip(tallies)
        .map(|(start, tally)| Bucket { start, tally })
        .collect()
}

/// How often each answer option was chosen, fed row by row: options are borrowed, so a
/// row allocates nothing unless its option is new here.
#[derive(Default, Clone)]
pub struct OptionCounts(HashMap<String, u64>);

impl OptionCounts {
    /// Counts `count` more choices of `option`.
    pub fn add(&mut self, option: &str, count: u64) {
        match self.0.get_mut(option) {
            Some(total) => *total += count,
            None => {
                self.0.insert(option.to_owned(), count);
            }
        }
    }

    /// The options chosen at least once, in no particular order.
    pub fn into_counts(self) -> Vec<AnswerCount> {
        self.0
            .into_iter()
            .filter(|(_, count)| *count > 0)
            .map(|(option, count)| AnswerCount { option, count })
            .collect()
    }

    /// The options chosen at least once, most chosen first, ties by option id: the order
    /// of [`AnalyticsQuery::answer_counts`](crate::AnalyticsQuery::answer_counts).
    pub fn into_ranked(self) -> Vec<AnswerCount> {
        let mut answers = self.into_counts();
        answers
            .sort_unstable_by(|a, b| b.count.cmp(&a.count).then_with(|| a.option.cmp(&b.option)));
        answers
    }
}

/// The ratings of every bucket together: the summary of the range they cover, since
/// buckets split a range without leaving any of it out.
pub fn summary_of(buckets: &[Bucket]) -> Tally {
    let mut total = Tally::default();
    buckets.iter().for_each(|bucket| total.merge(&bucket.tally));
    total
}

/// The answers of every bucket together, in the order of
/// [`AnalyticsQuery::answer_counts`](crate::AnalyticsQuery::answer_counts): what it
/// answers for the range the buckets cover.
pub fn answer_counts_of(buckets: &[AnswerBucket]) -> Vec<AnswerCount> {
    let mut totals = OptionCounts::default();
    for answer in buckets.iter().flat_map(|bucket| &bucket.answers) {
        totals.add(&answer.option, answer.count);
    }
    totals.into_ranked()
}

/// Answers counted per period of a filter's range, fed row by row.
pub struct AnswerBuckets {
    periods: Periods,
    counts: Vec<OptionCounts>,
}

impl AnswerBuckets {
    /// Empty counts for every period of the filter's range.
    pub fn new(filter: &Filter, granularity: Granularity) -> AnswerBuckets {
        let periods = Periods::of(filter, granularity);
        let counts = vec![OptionCounts::default(); periods.len()];
        AnswerBuckets { periods, counts }
    }

    /// Counts `count` choices of `option` in the slot's period.
    pub fn add(&mut self, slot: i64, option: &str, count: u64) {
        if let Some(index) = self.periods.of_slot(slot) {
            self.counts[index].add(option, count);
        }
    }

    /// One [`AnswerBucket`] per period, empty ones included, each period's answers by
    /// option id.
    pub fn finish(self) -> Vec<AnswerBucket> {
        self.periods
            .starts
            .into_iter()
            .zip(self.counts)
            .map(|(start, counts)| {
                let mut answers = counts.into_counts();
                answers.sort_unstable_by(|a, b| a.option.cmp(&b.option));
                AnswerBucket { start, answers }
            })
            .collect()
    }
}

/// Folds `(slot, option, count)` rows into one [`AnswerBucket`] per period of the
/// filter's range, empty periods included, each period's answers by option id.
pub fn bucketize_answers(
    filter: &Filter,
    granularity: Granularity,
    slots: impl IntoIterator<Item = (i64, String, u64)>,
) -> Vec<AnswerBucket> {
    let mut buckets = AnswerBuckets::new(filter, granularity);
    for (slot, option, count) in slots {
        buckets.add(slot, &option, count);
    }
    buckets.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use satisfy_core::TenantId;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn filter(from: NaiveDate, to: NaiveDate) -> Filter {
        Filter {
            tenant: TenantId::parse("t").unwrap(),
            entrypoint: None,
            from,
            to,
            tz: chrono_tz::Europe::Rome,
        }
    }

    #[test]
    fn weeks_start_on_monday() {
        assert_eq!(
            Granularity::Week.start_of(date(2026, 11, 29)),
            date(2026, 11, 23)
        );
        assert_eq!(
            Granularity::Week.start_of(date(2026, 11, 23)),
            date(2026, 11, 23)
        );
        assert_eq!(
            Granularity::Month.start_of(date(2026, 2, 28)),
            date(2026, 2, 1)
        );
    }

    #[test]
    fn local_days_follow_dst() {
        let rome = chrono_tz::Europe::Rome;
        // 29 March 2026: clocks go 02:00 → 03:00; the day is 23 hours long.
        let day = local_midnight_ms(rome, date(2026, 3, 29));
        let next = local_midnight_ms(rome, date(2026, 3, 30));
        assert_eq!(next - day, 23 * 3_600_000);
        // 25 October 2026: 03:00 → 02:00; 25 hours.
        let day = local_midnight_ms(rome, date(2026, 10, 25));
        let next = local_midnight_ms(rome, date(2026, 10, 26));
        assert_eq!(next - day, 25 * 3_600_000);
    }

    #[test]
    fn empty_buckets_are_present_and_slots_land_locally() {
        let f = filter(date(2026, 3, 1), date(2026, 3, 31));
        // 2026-03-29T22:30Z is 00:30 on Monday 30 March in Rome (UTC+2 after the change).
        let slot = chrono::DateTime::parse_from_rfc3339("2026-03-29T22:30:00Z")
            .unwrap()
            .timestamp_millis()
            / SLOT_MS;
        let weeks = bucketize(&f, Granularity::Week, [(slot, 4, 2)]);
        assert_eq!(weeks.first().unwrap().start, date(2026, 2, 23));
        assert_eq!(weeks.len(), 6);
        let filled: Vec<_> = weeks.iter().filter(|b| b.tally.count > 0).collect();
        assert_eq!(filled.len(), 1);
        assert_eq!(filled[0].start, date(2026, 3, 30));
        assert_eq!(filled[0].tally.distribution, [0, 0, 0, 2, 0]);
    }

    #[test]
    fn ranges_split_into_whole_utc_days_and_edges() {
        let day = DAY_MS;
        // Rome's 1-3 March: 23:00 UTC to 23:00 UTC.
        let split = DaySplit::of(20_000 * day - 3_600_000, 20_003 * day - 3_600_000);
        assert_eq!((split.first_day, split.end_day), (20_000, 20_002));
        assert_eq!(split.inner_start, 20_000 * day);
        assert_eq!(split.inner_end, 20_002 * day);
        // Shorter than a day: no whole day, the edges cover it all once.
        let short = DaySplit::of(10 * day + 5, 10 * day + 10);
        assert_eq!(short.first_day, short.end_day);
        assert_eq!(
            (short.inner_start, short.inner_end),
            (10 * day + 10, 10 * day + 10)
        );
        // Aligned: no edges.
        let aligned = DaySplit::of(5 * day, 7 * day);
        assert_eq!((aligned.first_day, aligned.end_day), (5, 7));
        assert_eq!((aligned.inner_start, aligned.inner_end), (5 * day, 7 * day));
    }

    /// Zones with what breaks calendars: DST at midnight (Santiago, Havana), half-hour
    /// DST (Lord Howe), offsets of 30 and 45 minutes (Kolkata, Kathmandu, Chatham),
    /// southern summers (São Paulo), no DST (UTC), and Rome.
    const ZONES: [Tz; 10] = [
        chrono_tz::Europe::Rome,
        chrono_tz::Europe::London,
        chrono_tz::America::New_York,
        chrono_tz::America::Santiago,
        chrono_tz::America::Havana,
        chrono_tz::America::Sao_Paulo,
        chrono_tz::Australia::Lord_Howe,
        chrono_tz::Asia::Kolkata,
        chrono_tz::Asia::Kathmandu,
        chrono_tz::Pacific::Chatham,
    ];

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(400))]

        /// Any range in any of these zones: its UTC range begins at the first instant of
        /// `from` and ends at the first of the day after `to`, on 15-minute slots; the
        /// buckets follow each other without gap from the one holding `from` to the one
        /// holding `to`; and every rating in the range lands in exactly the bucket of its
        /// local date.
        #[test]
        fn every_rating_lands_in_the_bucket_of_its_local_date(
            zone in 0..ZONES.len(),
            first_day in 0i64..40_000,
            span in 0u64..800,
            granularity in proptest::sample::select(vec![
                Granularity::Day, Granularity::Week, Granularity::Month,
            ]),
            fractions in proptest::collection::vec(0.0f64..1.0, 0..40),
        ) {
            let tz = ZONES[zone];
            let from = date(1995, 1, 1) + Days::new(first_day as u64);
            let to = from + Days::new(span);
            let filter = Filter { tz, ..filter(from, to) };
            let (start, end) = filter.utc_range_ms();
            proptest::prop_assert!(start < end);
            proptest::prop_assert_eq!(start.rem_euclid(SLOT_MS), 0);
            proptest::prop_assert_eq!(end.rem_euclid(SLOT_MS), 0);
            proptest::prop_assert_eq!(filter.local_date(start), from);
            proptest::prop_assert_eq!(filter.local_date(start - 1), from.pred_opt().unwrap());
            proptest::prop_assert_eq!(filter.local_date(end - 1), to);
            proptest::prop_assert_eq!(filter.local_date(end), to.succ_opt().unwrap());

            let slots: Vec<i64> = fractions
                .iter()
                .map(|f| {
                    let slots = (end - start) / SLOT_MS;
                    start / SLOT_MS + ((slots as f64 * f) as i64).min(slots - 1)
                })
                .collect();
            let buckets = bucketize(&filter, granularity, slots.iter().map(|s| (*s, 3, 1)));
            proptest::prop_assert_eq!(buckets[0].start, granularity.start_of(from));
            proptest::prop_assert_eq!(
                buckets.last().map(|b| b.start),
                Some(granularity.start_of(to))
            );
            for pair in buckets.windows(2) {
                proptest::prop_assert_eq!(granularity.next(pair[0].start), Some(pair[1].start));
            }
            let counted: u64 = buckets.iter().map(|b| b.tally.count).sum();
            proptest::prop_assert_eq!(counted, slots.len() as u64);
            for slot in slots {
                let local = filter.local_date(slot * SLOT_MS);
                let holder = buckets
                    .iter()
                    .rev()
                    .find(|b| b.start <= local)
                    .map(|b| b.start);
                proptest::prop_assert_eq!(holder, Some(granularity.start_of(local)));
            }
        }
    }
}
