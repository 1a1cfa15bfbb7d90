//! Backend conformance scenarios: every backend must give exactly these answers.

use chrono::{DateTime, NaiveDate};
use satisfy_aggregator::buckets::{answer_counts_of, summary_of};
use satisfy_aggregator::kpi::{KpiInput, KpiScope, PeriodKpis, kpis, periods_with_history};
use satisfy_aggregator::{
    AnalyticsQuery, Erasure, EventStore, Expired, Filter, Granularity, PageChange, PageCount,
    PageRanking, PageStats, RatingCursor, RatingQuery, RatingRow, RatingStore, StoredEvent,
    StoredRating, WriteOutcome,
};
use satisfy_core::event::ServiceEvent;
use satisfy_core::{EntrypointId, Lang, Rating, RatingSubmission, Survey, TenantId, WireRating};
use serde::Deserialize;
use serde_json::json;

pub const EP_A: &str = "ep_AAAAAAAAAAAAAAAA";
pub const EP_B: &str = "ep_BBBBBBBBBBBBBBBB";

fn ms(rfc3339: &str) -> i64 {
    DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .timestamp_millis()
}

pub fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

#[allow(clippy::too_many_arguments)]
pub fn rating(
    id: &str,
    ep: &str,
    page: &str,
    stars: u8,
    answers: &[&str],
    comment: Option<&str>,
    at: &str,
) -> StoredRating {
    let body = json!({
        "id": id, "entrypoint": ep, "page": format!("https://www.comune.bugliano.it{page}"),
        "rating": stars, "answers": answers, "comment": comment, "lang": "it"
    });
    let survey = Survey::for_kind(
        satisfy_core::EntrypointKind::PaginaWeb,
        None,
        satisfy_core::Lang::It,
    );
    let rating: Rating = RatingSubmission::parse(&WireRating::deserialize(&body).unwrap())
        .unwrap()
        .into_rating(&survey)
        .unwrap();
    StoredRating {
        rating,
        tenant: TenantId::parse("bugliano").unwrap(),
        received_at_ms: ms(at),
    }
}

pub fn filter(from: NaiveDate, to: NaiveDate, ep: Option<&str>) -> Filter {
    Filter {
        tenant: TenantId::parse("bugliano").unwrap(),
        entrypoint: ep.map(|e| EntrypointId::parse(e).unwrap()),
        from,
        to,
        tz: chrono_tz::Europe::Rome,
    }
}

const R1: &str = "0a6e8c38-0c4f-4d8e-9a6e-1f1f0f4a0001";
const R2: &str = "0a6e8c38-0c4f-4d8e-9a6e-1f1f0f4a0002";
const R3: &str = "0a6e8c38-0c4f-4d8e-9a6e-1f1f0f4a0003";
const R4: &str = "0a6e8c38-0c4f-4d8e-9a6e-1f1f0f4a0004";
const R7: &str = "0a6e8c38-0c4f-4d8e-9a6e-1f1f0f4a0007";
const R8: &str = "0a6e8c38-0c4f-4d8e-9a6e-1f1f0f4a0008";

/// Writes the March 2026 data set (spring DST change on Sunday 29 March in Rome).
/// The spring scenario's two deliveries: first versions, then an update, a redelivery
/// and an id reused by another entrypoint.
pub fn spring_batches() -> [Vec<StoredRating>; 2] {
    let first = vec![
        rating(
            R1,
            EP_A,
            "/a",
            5,
            &["clear"],
            Some("Ottimo"),
            "2026-03-23T10:00:00Z",
        ),
        // 23:30 on Sunday 29 March in Rome (UTC+2 since 01:00 UTC): still week 23 March.
        rating(
            R2,
            EP_A,
            "/a",
            2,
            &["incomplete"],
            None,
            "2026-03-29T21:30:00Z",
        ),
        // 00:30 on Monday 30 March in Rome: the next ISO week.
        rating(
            R3,
            EP_A,
            "/b",
            1,
            &["unclear"],
            Some("Non trovo l'orario"),
            "2026-03-29T22:30:00Z",
        ),
        // 01:30 on Sunday 29 March in Rome, before the change (UTC+1).
        rating(R4, EP_B, "/c", 4, &[], None, "2026-03-29T00:30:00Z"),
        rating(R7, EP_A, "/b", 4, &[], None, "2026-03-08T12:00:00Z"),
    ];
    // The widget's update of R2 with follow-up answer and comment, a redelivery of R1, and
    // R1's id reused by another entrypoint: none may add a rating.
    let later = vec![
        rating(
            R2,
            EP_A,
            "/a",
            3,
            &["other"],
            Some("Aggiornato"),
            "2026-03-30T08:00:00Z",
        ),
        rating(
            R1,
            EP_A,
            "/a",
            5,
            &["clear"],
            Some("Ottimo"),
            "2026-03-23T10:00:05Z",
        ),
        rating(R1, EP_B, "/x", 1, &[], None, "2026-03-24T10:00:00Z"),
    ];
    [first, later]
}

pub async fn load_spring(store: &dyn RatingStore) {
    let [first, later] = spring_batches();
    let outcomes = store.write_batch(&first).await.unwrap();
    assert!(
        outcomes.iter().all(|o| *o == WriteOutcome::Inserted),
        "{outcomes:?}"
    );
    let outcomes = store.write_batch(&later).await.unwrap();
    assert_eq!(
        outcomes,
        vec![
            WriteOutcome::Updated,
            WriteOutcome::Updated,
            WriteOutcome::Conflict
        ]
    );
}

/// Ranked pages as (page, ratings, average).
fn page_scores(pages: Vec<PageStats>) -> Vec<(String, u64, f64)> {
    pages
        .into_iter()
        .map(|p| (p.page, p.tally.count, p.tally.average()))
        .collect()
}

/// Pages as (page, count).
fn page_counts(pages: Vec<PageCount>) -> Vec<(String, u64)> {
    pages.into_iter().map(|p| (p.page, p.count)).collect()
}

/// Page changes as (page, stars before, stars after).
fn distributions(changes: Vec<PageChange>) -> Vec<(String, [u64; 5], [u64; 5])> {
    changes
        .into_iter()
        .map(|c| (c.page, c.previous.distribution, c.current.distribution))
        .collect()
}

/// The console's reports total a range from its buckets: the totals must be exactly what
/// the store answers for the range itself.
async fn check_totals_are_buckets(
    query: &dyn AnalyticsQuery,
    range: &Filter,
    granularity: Granularity,
) {
    let buckets = query.buckets(range, granularity).await.unwrap();
    assert_eq!(
        summary_of(&buckets),
        query.summary(range).await.unwrap(),
        "{granularity:?}"
    );
    let answer_buckets = query.answer_buckets(range, granularity).await.unwrap();
    assert_eq!(
        answer_counts_of(&answer_buckets),
        query.answer_counts(range).await.unwrap(),
        "{granularity:?}"
    );
}

pub async fn check_spring(query: &dyn AnalyticsQuery) {
    let march = filter(date(2026, 3, 1), date(2026, 4, 12), None);

    let summary = query.summary(&march).await.unwrap();
    assert_eq!((summary.count, summary.sum), (5, 17));
    assert_eq!(summary.average(), 3.4);
    assert_eq!(summary.distribution, [1, 0, 1, 2, 1]);

    let weeks = query.buckets(&march, Granularity::Week).await.unwrap();
    let got: Vec<(NaiveDate, u64, f64, [u64; 5])> = weeks
        .iter()
        .map(|b| {
            (
                b.start,
                b.tally.count,
                b.tally.average(),
                b.tally.distribution,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (date(2026, 2, 23), 0, 0.0, [0; 5]),
            (date(2026, 3, 2), 1, 4.0, [0, 0, 0, 1, 0]),
            (date(2026, 3, 9), 0, 0.0, [0; 5]),
            (date(2026, 3, 16), 0, 0.0, [0; 5]),
            (date(2026, 3, 23), 3, 4.0, [0, 0, 1, 1, 1]),
            (date(2026, 3, 30), 1, 1.0, [1, 0, 0, 0, 0]),
            (date(2026, 4, 6), 0, 0.0, [0; 5]),
        ]
    );

    let dst_days = filter(date(2026, 3, 28), date(2026, 3, 30), None);
    let days = query.buckets(&dst_days, Granularity::Day).await.unwrap();
    let counts: Vec<(NaiveDate, u64, f64)> = days
        .iter()
        .map(|b| (b.start, b.tally.count, b.tally.average()))
        .collect();
    assert_eq!(
        counts,
        vec![
            (date(2026, 3, 28), 0, 0.0),
            (date(2026, 3, 29), 2, 3.5),
            (date(2026, 3, 30), 1, 1.0),
        ]
    );

    let months = query.buckets(&march, Granularity::Month).await.unwrap();
    let counts: Vec<(NaiveDate, u64)> = months.iter().map(|b| (b.start, b.tally.count)).collect();
    assert_eq!(counts, vec![(date(2026, 3, 1), 5), (date(2026, 4, 1), 0)]);

    let answers = query.answer_counts(&march).await.unwrap();
    let answers: Vec<(&str, u64)> = answers
        .iter()
        .map(|a| (a.option.as_str(), a.count))
        .collect();
    assert_eq!(answers, vec![("clear", 1), ("other", 1), ("unclear", 1)]);

    // Per week: R1's "clear" (week of 23 March, with R2's "other", 29 March 23:30 local),
    // R3's "unclear" (30 March, the next week).
    let weekly = query
        .answer_buckets(&march, Granularity::Week)
        .await
        .unwrap();
    let weekly: Vec<(NaiveDate, Vec<(&str, u64)>)> = weekly
        .iter()
        .map(|b| {
            (
                b.start,
                b.answers
                    .iter()
                    .map(|a| (a.option.as_str(), a.count))
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        weekly,
        vec![
            (date(2026, 2, 23), vec![]),
            (date(2026, 3, 2), vec![]),
            (date(2026, 3, 9), vec![]),
            (date(2026, 3, 16), vec![]),
            (date(2026, 3, 23), vec![("clear", 1), ("other", 1)]),
            (date(2026, 3, 30), vec![("unclear", 1)]),
            (date(2026, 4, 6), vec![]),
        ]
    );

    // Statistics are read for one entrypoint or for the whole tenant.
    let march_a = filter(date(2026, 3, 1), date(2026, 4, 12), Some(EP_A));
    for (range, granularities) in [
        (
            &march,
            &[Granularity::Day, Granularity::Week, Granularity::Month][..],
        ),
        (&march_a, &[Granularity::Week][..]),
        (&dst_days, &[Granularity::Day][..]),
    ] {
        for granularity in granularities {
            check_totals_are_buckets(query, range, *granularity).await;
        }
    }

    check_listings(query, &march).await;

    let ranked = |min_ratings, limit| {
        let march = march.clone();
        async move {
            page_scores(
                query
                    .pages(&march, &PageRanking { min_ratings, limit })
                    .await
                    .unwrap(),
            )
        }
    };
    let url = |path: &str| format!("https://www.comune.bugliano.it{path}");
    // Scores (sum + 30) / (count + 10): /b 35/12, /c 34/11, /a 38/12.
    assert_eq!(
        ranked(1, 10).await,
        vec![
            (url("/b"), 2, 2.5),
            (url("/c"), 1, 4.0),
            (url("/a"), 2, 4.0)
        ]
    );
    assert_eq!(
        ranked(2, 10).await,
        vec![(url("/b"), 2, 2.5), (url("/a"), 2, 4.0)]
    );
    assert_eq!(ranked(1, 1).await, vec![(url("/b"), 2, 2.5)]);

    // /b went from R7's 4 stars (8 March) to R3's single star (30 March, local time);
    // /a and /c have no ratings in the first half.
    let first_half = filter(date(2026, 3, 1), date(2026, 3, 15), None);
    let second_half = filter(date(2026, 3, 16), date(2026, 4, 12), None);
    let any_page = PageRanking {
        min_ratings: 1,
        limit: 10,
    };
    let changes = query
        .page_changes(&first_half, &second_half, &any_page)
        .await
        .unwrap();
    assert_eq!(
        distributions(changes),
        vec![(url("/b"), [0, 0, 0, 1, 0], [1, 0, 0, 0, 0])]
    );
    let strict = PageRanking {
        min_ratings: 2,
        limit: 10,
    };
    assert!(
        query
            .page_changes(&first_half, &second_half, &strict)
            .await
            .unwrap()
            .is_empty()
    );

    // Answers chosen with 1 to 3 stars: R2's "other" on /a, R3's "unclear" on /b.
    let negative = query.negative_answer_pages(&march, 10).await.unwrap();
    assert_eq!(page_counts(negative), vec![(url("/a"), 1), (url("/b"), 1)]);

    // Pages over one local day, which holds no whole UTC day (read from the ratings alone),
    // and over ranges of whole UTC days (from the daily rollups alone).
    let sunday = filter(date(2026, 3, 29), date(2026, 3, 29), None);
    assert_eq!(
        page_scores(query.pages(&sunday, &any_page).await.unwrap()),
        vec![(url("/a"), 1, 3.0), (url("/c"), 1, 4.0)]
    );
    let negative_sunday = query.negative_answer_pages(&sunday, 10).await.unwrap();
    assert_eq!(page_counts(negative_sunday), vec![(url("/a"), 1)]);
    let utc = |range: Filter| Filter {
        tz: chrono_tz::UTC,
        ..range
    };
    assert_eq!(
        page_scores(query.pages(&utc(march.clone()), &any_page).await.unwrap()),
        ranked(1, 10).await
    );
    let utc_changes = query
        .page_changes(&utc(first_half), &utc(second_half), &any_page)
        .await
        .unwrap();
    assert_eq!(
        distributions(utc_changes),
        vec![(url("/b"), [0, 0, 0, 1, 0], [1, 0, 0, 0, 0])]
    );

    let only_b = filter(date(2026, 3, 1), date(2026, 4, 12), Some(EP_B));
    let summary = query.summary(&only_b).await.unwrap();
    assert_eq!((summary.count, summary.average()), (1, 4.0));

    let other_tenant = Filter {
        tenant: TenantId::parse("altro").unwrap(),
        ..march
    };
    assert_eq!(query.summary(&other_tenant).await.unwrap().count, 0);
}

/// Listings and their filters, newest first reception first, paged by cursor.
async fn check_listings(query: &dyn AnalyticsQuery, march: &Filter) {
    let list = |q: RatingQuery, after: Option<RatingCursor>, limit: usize| async move {
        query.ratings(&q, after.as_ref(), limit).await.unwrap()
    };
    let ids = |rows: &[RatingRow]| rows.iter().map(|r| r.id.to_string()).collect::<Vec<_>>();
    let all = RatingQuery::all(march.clone());
    let rows = list(all.clone(), None, 10).await;
    assert_eq!(ids(&rows), [R3, R2, R4, R1, R7]);
    let r2 = &rows[1];
    assert_eq!(
        (r2.rating, r2.answers.as_slice(), r2.comment.as_deref()),
        (3, &["other".to_owned()][..], Some("Aggiornato")),
        "the latest version, dated by the first"
    );
    assert_eq!(r2.created_at_ms, ms("2026-03-29T21:30:00Z"));
    assert_eq!((r2.entrypoint.as_str(), r2.lang.as_str()), (EP_A, "it"));

    // Pages of two, each resuming after the last row of the one before.
    let mut paged = Vec::new();
    let mut after = None;
    loop {
        let page = list(all.clone(), after, 2).await;
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 2);
        after = page.last().map(RatingCursor::after);
        paged.extend(page);
    }
    assert_eq!(ids(&paged), [R3, R2, R4, R1, R7]);

    let narrowed = |change: fn(&mut RatingQuery)| {
        let mut q = all.clone();
        change(&mut q);
        q
    };
    type Narrowing = fn(&mut RatingQuery);
    let cases: [(Narrowing, Vec<&str>); 9] = [
        (|q| q.with_comment = true, vec![R3, R2, R1]),
        (|q| q.stars = vec![4, 5], vec![R4, R1, R7]),
        (|q| q.answer = Some("other".into()), vec![R2]),
        (
            |q| q.page = Some("https://www.comune.bugliano.it/b".into()),
            vec![R3, R7],
        ),
        (|q| q.text = Some("ORARIO".into()), vec![R3]),
        (|q| q.text = Some("%".into()), vec![]),
        (|q| q.lang = Some(Lang::En), vec![]),
        (
            |q| q.filter.entrypoint = Some(EntrypointId::parse(EP_B).unwrap()),
            vec![R4],
        ),
        (
            |q| {
                q.with_comment = true;
                q.stars = vec![1, 5];
            },
            vec![R3, R1],
        ),
    ];
    for (change, expected) in cases {
        let q = narrowed(change);
        assert_eq!(ids(&list(q.clone(), None, 10).await), expected, "{q:?}");
    }
    let other_tenant = RatingQuery::all(Filter {
        tenant: TenantId::parse("altro").unwrap(),
        ..march.clone()
    });
    assert!(list(other_tenant, None, 10).await.is_empty());
}

/// The autumn change (Sunday 25 October 2026, 25-hour day in Rome).
pub async fn autumn(store: &dyn RatingStore, query: &dyn AnalyticsQuery) {
    let rows = [
        rating(
            "1b6e8c38-0c4f-4d8e-9a6e-1f1f0f4a0001",
            EP_A,
            "/a",
            5,
            &[],
            None,
            "2026-10-24T22:30:00Z",
        ),
        rating(
            "1b6e8c38-0c4f-4d8e-9a6e-1f1f0f4a0002",
            EP_A,
            "/a",
            4,
            &[],
            None,
            "2026-10-25T22:30:00Z",
        ),
        rating(
            "1b6e8c38-0c4f-4d8e-9a6e-1f1f0f4a0003",
            EP_A,
            "/a",
            2,
            &[],
            None,
            "2026-10-25T23:30:00Z",
        ),
    ];
    store.write_batch(&rows).await.unwrap();
    let days = query
        .buckets(
            &filter(date(2026, 10, 24), date(2026, 10, 26), None),
            Granularity::Day,
        )
        .await
        .unwrap();
    let counts: Vec<(NaiveDate, u64, f64)> = days
        .iter()
        .map(|b| (b.start, b.tally.count, b.tally.average()))
        .collect();
    assert_eq!(
        counts,
        vec![
            (date(2026, 10, 24), 0, 0.0),
            (date(2026, 10, 25), 2, 4.5),
            (date(2026, 10, 26), 1, 2.0),
        ]
    );
}

/// A platform event of `tenant`, received at `received`.
pub fn service_event(
    tenant: &str,
    id: &str,
    subject: &str,
    state: &str,
    time: &str,
    deadline: Option<u32>,
    received: &str,
) -> StoredEvent {
    let mut data = json!({"service": "residenza", "office": "anagrafe", "state": state});
    if let Some(days) = deadline {
        data["legal_deadline_days"] = json!(days);
    }
    let raw = json!({
        "specversion": "1.0", "id": id, "source": "urn:opencity:bugliano",
        "type": "it.satisfy.application.status", "time": time, "subject": subject,
        "data": data,
    });
    StoredEvent {
        event: ServiceEvent::parse(&raw, i64::MAX).unwrap(),
        tenant: TenantId::parse(tenant).unwrap(),
        received_at_ms: ms(received),
    }
}

/// The KPIs of the week holding `day` for one service of `tenant`, from the store's own
/// digest ([`EventStore::service_activity`]), after checking that they equal those the
/// KPI engine computes from the tenant's stored events.
async fn week_of(
    store: &dyn EventStore,
    tenant: &str,
    service: &str,
    day: NaiveDate,
) -> PeriodKpis {
    let tenant = TenantId::parse(tenant).unwrap();
    let periods =
        periods_with_history(Granularity::Week, chrono_tz::Europe::Rome, day, day).unwrap();
    let activity = store.service_activity(&tenant, service).await.unwrap();
    let week = kpis(&activity, &periods).remove(0);
    let scope = KpiScope {
        service: Some(service.to_owned()),
        ..KpiScope::default()
    };
    let events = store.tenant_events(&tenant).await.unwrap();
    let from_events = kpis(&KpiInput::from_events(events, &scope), &periods).remove(0);
    assert_eq!(
        week, from_events,
        "the store digests as the KPI engine does"
    );
    week
}

/// The week of 19 October 2026 (the DST week) of `tenant`'s `residenza` service.
async fn week_of_19_october(store: &dyn EventStore, tenant: &str) -> PeriodKpis {
    week_of(store, tenant, "residenza", date(2026, 10, 21)).await
}

/// Platform events arriving out of order, late, twice (once with other content) and
/// for two tenants sharing a `source` and an `id`: each (tenant, source, id) counts once,
/// as first received, and the figures are exact.
pub async fn events(store: &dyn EventStore) {
    let at = |received: &str| format!("2026-10-2{received}");
    let first_batch = [
        // P1's outcome arrives before its submission.
        service_event(
            "bugliano",
            "p1-3",
            "P1",
            "accettata",
            "2026-10-22T09:00:00+02:00",
            None,
            &at("2T10:00:00Z"),
        ),
        service_event(
            "bugliano",
            "p1-1",
            "P1",
            "inviata",
            "2026-10-19T09:00:00+02:00",
            Some(5),
            &at("2T10:00:00Z"),
        ),
        service_event(
            "bugliano",
            "p1-2",
            "P1",
            "presa_in_carico",
            "2026-10-20T09:00:00+02:00",
            None,
            &at("2T10:00:00Z"),
        ),
        service_event(
            "bugliano",
            "p2-1",
            "P2",
            "inviata",
            "2026-10-20T10:00:00+02:00",
            Some(3),
            &at("2T10:00:00Z"),
        ),
        service_event(
            "bugliano",
            "p2-2",
            "P2",
            "rifiutata",
            "2026-10-24T10:00:00+02:00",
            None,
            &at("4T10:00:00Z"),
        ),
        // Another tenant's platform uses the same ids.
        service_event(
            "altrove",
            "p1-1",
            "P1",
            "inviata",
            "2026-10-19T12:00:00+02:00",
            None,
            &at("2T10:00:00Z"),
        ),
    ];
    store.write_events(&first_batch).await.unwrap();
    let second_batch = [
        // A redelivery of P2's outcome with another state is the same event: ignored.
        service_event(
            "bugliano",
            "p2-2",
            "P2",
            "accettata",
            "2026-10-24T10:00:00+02:00",
            None,
            &at("6T10:00:00Z"),
        ),
        // Late: submitted on the 21st, received a week later.
        service_event(
            "bugliano",
            "p5-1",
            "P5",
            "inviata",
            "2026-10-21T10:00:00+02:00",
            None,
            &at("8T10:00:00Z"),
        ),
        // The same batch twice.
        service_event(
            "bugliano",
            "p5-1",
            "P5",
            "inviata",
            "2026-10-21T10:00:00+02:00",
            None,
            &at("8T10:00:00Z"),
        ),
    ];
    store.write_events(&second_batch).await.unwrap();
    store.write_events(&second_batch).await.unwrap();

    let bugliano = TenantId::parse("bugliano").unwrap();
    let stored = store.tenant_events(&bugliano).await.unwrap();
    assert_eq!(stored.len(), 6, "each (source, id) once");
    // An appointment of another service: its cancellation names only the calendar, and
    // still belongs to the service that was booked.
    let appointment = |id: &str, kind: &str, data: serde_json::Value| StoredEvent {
        event: ServiceEvent::parse(
            &json!({"specversion": "1.0", "id": id, "source": "urn:opencity:bugliano",
                    "type": format!("it.satisfy.appointment.{kind}"), "subject": "A1",
                    "time": "2026-10-20T09:00:00+02:00", "data": data}),
            i64::MAX,
        )
        .unwrap(),
        tenant: bugliano.clone(),
        received_at_ms: ms("2026-10-20T10:00:00Z"),
    };
    store
        .write_events(&[
            appointment(
                "a1-1",
                "booked",
                json!({"calendar": "anagrafe", "service": "cie",
                "service_name": "Carta d'identità", "slot_start": "2026-10-23T09:00:00+02:00",
                "slot_minutes": 30}),
            ),
            appointment("a1-2", "cancelled", json!({"calendar": "anagrafe"})),
        ])
        .await
        .unwrap();
    assert_eq!(
        store.services(&bugliano).await.unwrap(),
        [
            ("cie".to_owned(), Some("Carta d'identità".to_owned())),
            ("residenza".to_owned(), None)
        ]
    );
    let cie = store.service_activity(&bugliano, "cie").await.unwrap();
    assert_eq!(cie.appointments.len(), 1);
    assert_eq!(
        cie.appointments[0].steps.len(),
        2,
        "the cancellation follows its booking"
    );
    assert!(cie.applications.is_empty());
    let residenza = store
        .service_activity(&bugliano, "residenza")
        .await
        .unwrap();
    assert_eq!(residenza.applications.len(), 3, "P1, P2, P5");
    assert!(residenza.appointments.is_empty());
    assert_eq!(
        store.service_activity(&bugliano, "tari").await.unwrap(),
        KpiInput::default()
    );
    let week = week_of_19_october(store, "bugliano").await;
    let figure = |name: &str| week.applications.figures[name].value;
    assert_eq!(figure("submitted"), Some(3.0), "P1, P2 and the late P5");
    assert_eq!(figure("acceptance_rate"), Some(0.5), "P2 stays refused");
    // P1: 3 days against 5; P2: 4 days against 3.
    assert_eq!(figure("within_deadline_share"), Some(0.5));
    assert_eq!(figure("outcome_days_median"), Some(3.0));
    assert_eq!(figure("take_charge_hours_median"), Some(24.0));
    assert_eq!(week.applications.backlog["inviata"], 1, "P5");
    let theirs = week_of_19_october(store, "altrove").await;
    assert_eq!(theirs.applications.figures["submitted"].value, Some(1.0));
    // An empty tenant: counts are 0, the rest null.
    let empty = week_of_19_october(store, "nessuno").await;
    assert_eq!(empty.applications.figures["submitted"].value, Some(0.0));
    assert_eq!(empty.applications.figures["acceptance_rate"].value, None);
}

/// An appointment event of `tenant` as stored; `data` carries the rest.
fn appointment_event(
    id: &str,
    kind: &str,
    subject: &str,
    time: &str,
    data: serde_json::Value,
    received: &str,
) -> StoredEvent {
    let mut raw = json!({"specversion": "1.0", "id": id, "source": "urn:opencity:bugliano",
                         "type": format!("it.satisfy.{kind}"), "time": time, "data": data});
    if !subject.is_empty() {
        raw["subject"] = json!(subject);
    }
    StoredEvent {
        event: ServiceEvent::parse(&raw, i64::MAX).unwrap(),
        tenant: TenantId::parse("bugliano").unwrap(),
        received_at_ms: ms(received),
    }
}

/// A week of appointments and calendar offers, in three batches: out of order, with
/// another service on another calendar, a redelivery carrying another change and a day's
/// offer replaced by a later version. The store's digest gives the exact figures of
/// docs/KPIS.md and the same as the KPI engine's over the stored events.
pub async fn appointments(store: &dyn EventStore) {
    let slots = |n: usize| -> serde_json::Value {
        (0..n)
            .map(|i| {
                json!({"start": format!("2026-11-05T{:02}:{:02}:00+01:00", 9 + i / 2, (i % 2) * 30),
                       "minutes": 30})
            })
            .collect()
    };
    let day = |id: &str, time: &str, calendar: &str, service: &str, n: usize| {
        appointment_event(
            id,
            "calendar.day",
            "",
            time,
            json!({"calendar": calendar, "service": service, "office": "centro",
                   "date": "2026-11-05", "slots": slots(n)}),
            "2026-11-06T10:00:00Z",
        )
    };
    let booked = |id: &str, subject: &str, time: &str, slot: &str, first: Option<&str>| {
        let mut data = json!({"calendar": "anagrafe", "service": "cie", "office": "centro",
                              "slot_start": slot, "slot_minutes": 30});
        if let Some(first) = first {
            data["first_available_slot"] = json!(first);
        }
        appointment_event(
            id,
            "appointment.booked",
            subject,
            time,
            data,
            "2026-11-06T10:00:00Z",
        )
    };
    let change = |id: &str, kind: &str, subject: &str, time: &str, received: &str| {
        appointment_event(
            id,
            &format!("appointment.{kind}"),
            subject,
            time,
            json!({"calendar": "anagrafe"}),
            received,
        )
    };
    // B's cancellation and A's no-show arrive before the bookings.
    store
        .write_events(&[
            change(
                "b2",
                "cancelled",
                "B",
                "2026-11-04T08:00:00+01:00",
                "2026-11-05T10:00:00Z",
            ),
            change(
                "a2",
                "no_show",
                "A",
                "2026-11-05T09:40:00+01:00",
                "2026-11-05T10:00:00Z",
            ),
            day("d2", "2026-10-27T08:00:00+01:00", "anagrafe", "cie", 6),
        ])
        .await
        .unwrap();
    store
        .write_events(&[
            day("d1", "2026-10-20T08:00:00+02:00", "anagrafe", "cie", 4),
            day("t1", "2026-10-20T08:00:00+02:00", "tributi", "tari", 2),
            booked(
                "a1",
                "A",
                "2026-11-02T10:00:00+01:00",
                "2026-11-05T09:00:00+01:00",
                Some("2026-11-04T10:00:00+01:00"),
            ),
            booked(
                "b1",
                "B",
                "2026-11-03T10:00:00+01:00",
                "2026-11-05T09:30:00+01:00",
                Some("2026-11-04T22:00:00+01:00"),
            ),
            booked("c1", "C", "2026-11-03T12:00:00+01:00", "2026-11-05T10:00:00+01:00", None),
            appointment_event(
                "c2",
                "appointment.rescheduled",
                "C",
                "2026-11-04T12:00:00+01:00",
                json!({"calendar": "anagrafe", "slot_start": "2026-11-12T09:00:00+01:00",
                       "slot_minutes": 30}),
                "2026-11-06T10:00:00Z",
            ),
            booked("d-1", "D", "2026-10-28T10:00:00+01:00", "2026-11-05T10:30:00+01:00", None),
            change("d-2", "attended", "D", "2026-11-05T10:45:00+01:00", "2026-11-06T10:00:00Z"),
            appointment_event(
                "e1",
                "appointment.booked",
                "E",
                "2026-11-03T09:00:00+01:00",
                json!({"calendar": "tributi", "service": "tari", "slot_start": "2026-11-05T09:00:00+01:00",
                       "slot_minutes": 30}),
                "2026-11-06T10:00:00Z",
            ),
        ])
        .await
        .unwrap();
    // A redelivery of A's no-show claiming attendance: the first copy stands.
    store
        .write_events(&[change(
            "a2",
            "attended",
            "A",
            "2026-11-05T09:40:00+01:00",
            "2026-11-07T10:00:00Z",
        )])
        .await
        .unwrap();

    let week = week_of(store, "bugliano", "cie", date(2026, 11, 4)).await;
    assert_eq!(
        (week.start, week.end),
        (date(2026, 11, 2), date(2026, 11, 9))
    );
    let figure = |name: &str| week.appointments[name].value;
    assert_eq!(
        figure("bookings"),
        Some(3.0),
        "A, B, C; D was booked before, E is TARI"
    );
    assert_eq!(
        figure("first_availability_days"),
        Some(1.75),
        "mean of 2 and 1.5"
    );
    assert_eq!(
        figure("slots"),
        Some(6.0),
        "the latest offer replaces the first"
    );
    assert_eq!(figure("capacity_hours"), Some(3.0));
    assert_eq!(figure("average_slot_minutes"), Some(30.0));
    // A (no-show) and D (attended) hold 60 of 180 offered minutes; B is cancelled and C
    // moved to the next week.
    assert_eq!(figure("saturation"), Some(0.3333));
    assert_eq!(figure("cancelled_share"), Some(0.3333));
    assert_eq!(figure("rescheduled_share"), Some(0.3333));
    assert_eq!(
        figure("no_show_share"),
        Some(0.5),
        "A's redelivery changes nothing"
    );
    assert_eq!(week.appointments["bookings"].delta_previous, Some(2.0));

    let bugliano = TenantId::parse("bugliano").unwrap();
    let activity = store.service_activity(&bugliano, "cie").await.unwrap();
    let places = activity.places();
    assert_eq!(places.offices, ["centro"]);
    assert_eq!(places.calendars, ["anagrafe"]);
    let elsewhere = activity.narrowed(&KpiScope {
        office: Some("periferia".into()),
        ..KpiScope::default()
    });
    assert!(elsewhere.appointments.is_empty() && elsewhere.calendar_days.is_empty());
    let tari = week_of(store, "bugliano", "tari", date(2026, 11, 4)).await;
    assert_eq!(tari.appointments["bookings"].value, Some(1.0));
    assert_eq!(tari.appointments["slots"].value, Some(2.0));
}

/// Evidence beside a compliance report: per page, the ratings of the last 30 and 90 days
/// and the latest's time; an update of a rating counts it once, other tenants' ratings and
/// pages never rated are left out.
pub async fn page_evidence(store: &dyn RatingStore, query: &dyn AnalyticsQuery) {
    let now = ms("2026-11-24T12:00:00Z");
    let first = rating(
        "00000000-0000-4000-8000-00000000e001",
        EP_A,
        "/servizi",
        5,
        &[],
        None,
        "2026-11-20T08:00:00Z",
    );
    let updated = rating(
        "00000000-0000-4000-8000-00000000e001",
        EP_A,
        "/servizi",
        2,
        &[],
        None,
        "2026-11-20T08:05:00Z",
    );
    let batch = [
        first,
        rating(
            "00000000-0000-4000-8000-00000000e002",
            EP_A,
            "/servizi",
            4,
            &[],
            None,
            "2026-10-01T08:00:00Z",
        ),
        rating(
            "00000000-0000-4000-8000-00000000e003",
            EP_B,
            "/servizi",
            3,
            &[],
            None,
            "2026-06-01T08:00:00Z",
        ),
        rating(
            "00000000-0000-4000-8000-00000000e004",
            EP_A,
            "/novita",
            1,
            &[],
            None,
            "2026-09-10T08:00:00Z",
        ),
    ];
    store.write_batch(&batch).await.unwrap();
    store.write_batch(&[updated]).await.unwrap();
    let mut elsewhere = rating(
        "00000000-0000-4000-8000-00000000e005",
        EP_A,
        "/servizi",
        5,
        &[],
        None,
        "2026-11-21T08:00:00Z",
    );
    elsewhere.tenant = TenantId::parse("altrove").unwrap();
    store.write_batch(&[elsewhere]).await.unwrap();

    let page = |path: &str| format!("https://www.comune.bugliano.it{path}");
    let mut evidence = query
        .page_evidence(
            &TenantId::parse("bugliano").unwrap(),
            &[page("/servizi"), page("/novita"), page("/mai-valutata")],
            now,
        )
        .await
        .unwrap();
    evidence.sort_by(|a, b| a.page.cmp(&b.page));
    let rows: Vec<(String, u64, u64, Option<i64>)> = evidence
        .into_iter()
        .map(|e| (e.page, e.last_30_days, e.last_90_days, e.latest_ms))
        .collect();
    assert_eq!(
        rows,
        [
            (page("/novita"), 0, 1, Some(ms("2026-09-10T08:00:00Z"))),
            (page("/servizi"), 1, 2, Some(ms("2026-11-20T08:00:00Z"))),
        ]
    );
}

/// Retention and data subjects' requests: deleted ratings leave listings but stay counted
/// in every aggregate; erased comments leave their ratings; nothing of another tenant is
/// touched.
pub async fn erasure<S>(store: &S)
where
    S: RatingStore + AnalyticsQuery + EventStore + Erasure,
{
    let bugliano = TenantId::parse("bugliano").unwrap();
    let altrove = TenantId::parse("altrove").unwrap();
    load_spring(store).await;
    let mut theirs = rating(
        "00000000-0000-4000-8000-0000000a1001",
        EP_A,
        "/a",
        5,
        &[],
        Some("Ottimo anche qui"),
        "2026-03-01T10:00:00Z",
    );
    theirs.tenant = altrove.clone();
    store.write_batch(&[theirs]).await.unwrap();
    let events = [
        service_event(
            "bugliano",
            "old",
            "p1",
            "inviata",
            "2026-03-02T10:00:00Z",
            None,
            "2026-03-02T10:00:01Z",
        ),
        service_event(
            "bugliano",
            "new",
            "p1",
            "accettata",
            "2026-03-30T10:00:00Z",
            None,
            "2026-03-30T10:00:01Z",
        ),
        service_event(
            "altrove",
            "old",
            "p9",
            "inviata",
            "2026-03-02T10:00:00Z",
            None,
            "2026-03-02T10:00:01Z",
        ),
    ];
    store.write_events(&events).await.unwrap();

    let march = filter(date(2026, 3, 1), date(2026, 4, 12), None);
    let ranking = PageRanking {
        min_ratings: 1,
        limit: 10,
    };
    let figures = || async {
        (
            store.summary(&march).await.unwrap(),
            store.buckets(&march, Granularity::Week).await.unwrap(),
            store.answer_counts(&march).await.unwrap(),
            store.pages(&march, &ranking).await.unwrap(),
            store.negative_answer_pages(&march, 10).await.unwrap(),
        )
    };
    let listed = |tenant: TenantId| {
        let query = RatingQuery::all(Filter {
            tenant,
            ..march.clone()
        });
        async move {
            let rows = store.ratings(&query, None, 100).await.unwrap();
            rows.into_iter()
                .map(|r| (r.id.to_string(), r.comment))
                .collect::<Vec<_>>()
        }
    };
    let before = figures().await;
    assert_eq!(before.0.count, 5);

    // Every comment containing "OTTIMO" (any case), of this tenant only.
    assert_eq!(store.erase_comments(&bugliano, "OTTIMO").await.unwrap(), 1);
    assert_eq!(store.erase_comments(&bugliano, "ottimo").await.unwrap(), 0);
    // A LIKE wildcard is a character like any other.
    assert_eq!(store.erase_comments(&bugliano, "%").await.unwrap(), 0);
    let rows = listed(bugliano.clone()).await;
    assert_eq!(
        rows,
        [
            (R3.to_owned(), Some("Non trovo l'orario".to_owned())),
            (R2.to_owned(), Some("Aggiornato".to_owned())),
            (R4.to_owned(), None),
            (R1.to_owned(), None),
            (R7.to_owned(), None),
        ]
    );

    // One rating, by id; another tenant cannot delete it.
    let r3 = uuid::Uuid::parse_str(R3).unwrap();
    assert!(!store.delete_rating(&altrove, r3).await.unwrap());
    assert!(store.delete_rating(&bugliano, r3).await.unwrap());
    assert!(!store.delete_rating(&bugliano, r3).await.unwrap());

    // Retention: everything first received before 24 March goes (R7 on 8 March, R1 on
    // the 23rd), and the events received before it.
    let expired = store
        .expire(&bugliano, ms("2026-03-24T00:00:00Z"))
        .await
        .unwrap();
    assert_eq!(
        expired,
        Expired {
            ratings: 2,
            events: 1
        }
    );
    let listed_ids = || async {
        let rows = listed(bugliano.clone()).await;
        rows.into_iter().map(|(id, _)| id).collect::<Vec<String>>()
    };
    assert_eq!(listed_ids().await, [R2, R4]);
    assert_eq!(
        figures().await,
        before,
        "aggregates keep every deleted rating"
    );

    let kept_events = || async {
        let events = store.tenant_events(&bugliano).await.unwrap();
        events.into_iter().map(|e| e.id).collect::<Vec<String>>()
    };
    assert_eq!(kept_events().await, ["new"]);
    assert_eq!(store.tenant_events(&altrove).await.unwrap().len(), 1);
    assert_eq!(
        listed(altrove.clone()).await,
        [(
            "00000000-0000-4000-8000-0000000a1001".to_owned(),
            Some("Ottimo anche qui".to_owned())
        )]
    );

    // What was erased stays erased. Copies written again (a Kafka redelivery, a replayed
    // topic) are refused: R1 and R7, received before the cutoff, and R3, deleted on
    // request, even in a version sent after its deletion. A new rating is stored.
    let [first, later] = spring_batches();
    let again = vec![
        first[0].clone(),
        first[2].clone(),
        first[4].clone(),
        later[1].clone(),
        rating(
            R3,
            EP_A,
            "/b",
            2,
            &[],
            Some("Ancora io"),
            "2026-04-20T10:00:00Z",
        ),
        rating(R8, EP_A, "/b", 4, &[], None, "2026-04-20T10:00:00Z"),
    ];
    assert_eq!(
        store.write_batch(&again).await.unwrap(),
        [
            WriteOutcome::Erased,
            WriteOutcome::Erased,
            WriteOutcome::Erased,
            WriteOutcome::Erased,
            WriteOutcome::Erased,
            WriteOutcome::Inserted
        ]
    );
    store.write_events(&events).await.unwrap();
    assert_eq!(listed_ids().await, [R2, R4]);
    assert_eq!(figures().await, before, "nothing erased is counted again");
    assert_eq!(
        kept_events().await,
        ["new"],
        "an expired event written again is refused"
    );
    assert_eq!(store.tenant_events(&altrove).await.unwrap().len(), 1);

    // A second sweep finds nothing more.
    assert_eq!(
        store
            .expire(&bugliano, ms("2026-03-24T00:00:00Z"))
            .await
            .unwrap(),
        Expired::default()
    );
}

/// The official questions share the option `other`: chosen after 4 or 5 stars it is
/// counted and filtered apart (`other_positive`), also when an update moves a rating from
/// one side to the other.
pub async fn the_two_others<S>(store: &S)
where
    S: RatingStore + AnalyticsQuery,
{
    const NEGATIVE: &str = "00000000-0000-4000-8000-0000000b0001";
    const POSITIVE: &str = "00000000-0000-4000-8000-0000000b0002";
    const MOVED: &str = "00000000-0000-4000-8000-0000000b0003";
    let at = "2026-05-04T10:00:00Z";
    let other = |id, stars, at| rating(id, EP_A, "/a", stars, &["other"], None, at);
    store
        .write_batch(&[
            other(NEGATIVE, 2, at),
            other(POSITIVE, 5, at),
            other(MOVED, 4, at),
        ])
        .await
        .unwrap();
    store
        .write_batch(&[other(MOVED, 1, "2026-05-04T10:05:00Z")])
        .await
        .unwrap();
    check_the_two_others_counted(store).await;
    let may = filter(date(2026, 5, 1), date(2026, 5, 31), None);
    let listed = |key: &str| {
        let query = RatingQuery {
            answer: Some(key.to_owned()),
            ..RatingQuery::all(may.clone())
        };
        async move {
            let mut ids: Vec<String> = store
                .ratings(&query, None, 10)
                .await
                .unwrap()
                .iter()
                .map(|r| r.id.to_string())
                .collect();
            ids.sort();
            ids
        }
    };
    assert_eq!(listed("other").await, [NEGATIVE, MOVED]);
    assert_eq!(listed("other_positive").await, [POSITIVE]);
}

/// The answers [`the_two_others`] wrote: two `other` (one moved there by an update), one
/// `other_positive`.
pub async fn check_the_two_others_counted(query: &dyn AnalyticsQuery) {
    let may = filter(date(2026, 5, 1), date(2026, 5, 31), None);
    let answers: Vec<(String, u64)> = query
        .answer_counts(&may)
        .await
        .unwrap()
        .into_iter()
        .map(|a| (a.option, a.count))
        .collect();
    assert_eq!(
        answers,
        [("other".to_owned(), 2), ("other_positive".to_owned(), 1)]
    );
}
