//! The conformance scenarios against a real ClickHouse (26.9, started by
//! tests/engines/engines.sh). Set TEST_SATISFY_CLICKHOUSE_URL to run them; under CI they
//! are required.

mod conformance;

use satisfy_aggregator::{
    AnalyticsQuery, ClickHouseAccess, ClickHouseStore, RatingStore, WriteOutcome,
};

/// A fresh database's access: a database per test keeps the scenarios independent.
fn database() -> Option<ClickHouseAccess> {
    let Ok(url) = std::env::var("TEST_SATISFY_CLICKHOUSE_URL") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must set TEST_SATISFY_CLICKHOUSE_URL"
        );
        eprintln!("TEST_SATISFY_CLICKHOUSE_URL is not set: skipping the ClickHouse backend");
        return None;
    };
    let database = format!("satisfy_test_{}", uuid::Uuid::new_v4().simple());
    Some(ClickHouseAccess::new(&url, &database))
}

async fn connect(access: &ClickHouseAccess) -> ClickHouseStore {
    ClickHouseStore::connect(access)
        .await
        .expect("connecting to ClickHouse")
}

async fn store() -> Option<ClickHouseStore> {
    Some(connect(&database()?).await)
}

/// A batch's outcomes as (ratings inserted, the others).
fn inserted_and_others(outcomes: Vec<WriteOutcome>) -> (usize, usize) {
    let inserted = outcomes
        .iter()
        .filter(|o| **o == WriteOutcome::Inserted)
        .count();
    (inserted, outcomes.len() - inserted)
}

/// The ratings of August 2026 and their distribution by stars, as the dashboards sum them.
async fn august_2026(store: &ClickHouseStore) -> (u64, [u64; 5]) {
    let f = conformance::filter(
        conformance::date(2026, 8, 1),
        conformance::date(2026, 8, 31),
        None,
    );
    let summary = store.summary(&f).await.unwrap();
    (summary.count, summary.distribution)
}

#[tokio::test]
async fn spring_scenario_gives_exact_numbers() {
    let Some(store) = store().await else { return };
    conformance::load_spring(&store).await;
    conformance::check_spring(&store).await;
}

#[tokio::test]
async fn autumn_dst_days_are_exact() {
    let Some(store) = store().await else { return };
    conformance::autumn(&store, &store).await;
}

#[tokio::test]
async fn redelivered_batches_never_count_twice() {
    let Some(store) = store().await else { return };
    let batch: Vec<_> = (0..50)
        .map(|n| {
            let id = format!("3c6e8c38-0c4f-4d8e-9a6e-{n:012}");
            conformance::rating(
                &id,
                conformance::EP_A,
                "/p",
                (n % 5 + 1) as u8,
                &[],
                None,
                "2026-05-05T10:00:00Z",
            )
        })
        .collect();
    let first = store.write_batch(&batch).await.unwrap();
    assert!(first.iter().all(|o| *o == WriteOutcome::Inserted));
    // The same batch again, as after an aggregator crash before its offset commit.
    let again = store.write_batch(&batch).await.unwrap();
    assert!(again.iter().all(|o| *o == WriteOutcome::Updated));
    let f = conformance::filter(
        conformance::date(2026, 5, 1),
        conformance::date(2026, 5, 31),
        None,
    );
    let summary = store.summary(&f).await.unwrap();
    assert_eq!((summary.count, summary.distribution), (50, [10; 5]));
}

#[tokio::test]
async fn large_batches_are_written_and_looked_up_in_chunks() {
    let Some(access) = database() else { return };
    let store = connect(&access).await;
    let batch: Vec<_> = (0..12_000)
        .map(|n| {
            let id = format!("4c6e8c38-0c4f-4d8e-9a6e-{n:012}");
            conformance::rating(
                &id,
                conformance::EP_B,
                "/q",
                4,
                &[],
                None,
                "2026-06-06T10:00:00Z",
            )
        })
        .collect();
    assert!(
        store
            .write_batch(&batch)
            .await
            .unwrap()
            .iter()
            .all(|o| *o == WriteOutcome::Inserted)
    );
    // Another writer remembers none of them: it looks them all up.
    let other = connect(&access).await;
    assert!(
        other
            .write_batch(&batch)
            .await
            .unwrap()
            .iter()
            .all(|o| *o == WriteOutcome::Updated)
    );
    assert_eq!(other.looked_up(), 12_000);
    let f = conformance::filter(
        conformance::date(2026, 6, 1),
        conformance::date(2026, 6, 30),
        None,
    );
    assert_eq!(store.summary(&f).await.unwrap().count, 12_000);
}

#[tokio::test]
async fn a_writer_asks_clickhouse_only_about_ratings_another_writer_stored() {
    let Some(access) = database() else { return };
    let first = connect(&access).await;
    let ratings = |from: usize, to: usize, stars: u8, at: &str| -> Vec<_> {
        (from..to)
            .map(|n| {
                let id = format!("7c6e8c38-0c4f-4d8e-9a6e-{n:012}");
                conformance::rating(&id, conformance::EP_A, "/w", stars, &[], None, at)
            })
            .collect()
    };
    // New ratings, their updates and a redelivery: nothing asked.
    let new = ratings(0, 2_000, 1, "2026-08-08T10:00:00Z");
    assert_eq!(
        inserted_and_others(first.write_batch(&new).await.unwrap()),
        (2_000, 0)
    );
    let updated = ratings(0, 2_000, 2, "2026-08-08T10:01:00Z");
    assert_eq!(
        inserted_and_others(first.write_batch(&updated).await.unwrap()),
        (0, 2_000)
    );
    assert_eq!(
        inserted_and_others(first.write_batch(&new).await.unwrap()),
        (0, 2_000)
    );
    assert_eq!(first.looked_up(), 0);
    // A second writer (a restart, or a partition's new owner) asks about the stored ids
    // it is handed, and only those.
    let second = connect(&access).await;
    let mixed = ratings(1_000, 3_000, 3, "2026-08-08T10:02:00Z");
    assert_eq!(
        inserted_and_others(second.write_batch(&mixed).await.unwrap()),
        (1_000, 1_000)
    );
    assert_eq!(second.looked_up(), 1_000);
    // The first writer, told that another one wrote (a reassignment), asks again.
    first.forget();
    let again = ratings(2_500, 2_510, 4, "2026-08-08T10:03:00Z");
    assert_eq!(
        inserted_and_others(first.write_batch(&again).await.unwrap()),
        (0, 10)
    );
    assert_eq!(first.looked_up(), 10);
    assert_eq!(august_2026(&first).await, (3_000, [0, 1_000, 1_990, 10, 0]));
}

#[tokio::test]
async fn a_writer_told_that_others_wrote_reads_only_the_ids_stored_since_it_knew_them_all() {
    let Some(access) = database() else { return };
    let client = clickhouse::Client::default()
        .with_url(&access.url)
        .with_database(&access.database);
    let first = connect(&access).await;
    // Ratings of August 2025 stored `minutes_ago` by another writer, straight into the
    // table as ClickHouse would have stored them.
    let stored_before = |prefix: &'static str, count: u32, minutes_ago: i64| {
        let client = client.clone();
        async move {
            client
                .query(&format!(
                    "INSERT INTO ratings (tenant, id, entrypoint, page, stars, answers, lang,
                                          created_ms, version_ms, inserted_ms)
                     SELECT 'bugliano', toUUID(concat('{prefix}', leftPad(toString(number), 12, '0'))),
                            '{}', '/old', 3, [], 'it', 1754640000000, 1754640000000,
                            toUnixTimestamp64Milli(now64(3)) - {minutes_ago} * 60000
                     FROM numbers({count})",
                    conformance::EP_A
                ))
                .execute()
                .await
                .unwrap();
        }
    };
    let ratings = |prefix: &str, ids: std::ops::Range<usize>, stars: u8, at: &str| -> Vec<_> {
        ids.map(|n| {
            let id = format!("{prefix}{n:012}");
            conformance::rating(&id, conformance::EP_A, "/w", stars, &[], None, at)
        })
        .collect()
    };
    let (new, old) = ("8d6e8c38-0c4f-4d8e-9a6e-", "9e6e8c38-0c4f-4d8e-9a6e-");
    stored_before("5a6e8c38-0c4f-4d8e-9a6e-", 5_000, 60).await;
    let day = "2026-08-08T10:00:00Z";
    first
        .write_batch(&ratings(new, 0..100, 1, day))
        .await
        .unwrap();
    assert_eq!(
        first.ids_loaded(),
        5_000,
        "every stored id, at the first write"
    );
    // An insert that started 5 minutes before the first writer read and was stored after.
    stored_before(old, 20, 5).await;
    let second = connect(&access).await;
    let later = "2026-08-08T10:01:00Z";
    second
        .write_batch(&ratings(new, 0..50, 5, later))
        .await
        .unwrap();
    second
        .write_batch(&ratings(new, 100..300, 2, later))
        .await
        .unwrap();
    // Told that another writer wrote: it reads the ids stored since it last knew them all,
    // less a margin (one row per version not merged yet), not the 5,000 of an hour ago;
    // it asks about the others' ratings instead of trusting what it remembered of them.
    first.forget();
    let last = "2026-08-08T10:02:00Z";
    let mut batch = ratings(new, 0..10, 2, last);
    batch.extend(ratings(new, 250..310, 4, last));
    batch.extend(ratings(old, 0..20, 4, last));
    let outcomes = first.write_batch(&batch).await.unwrap();
    let topped_up = first.ids_loaded() - 5_000;
    assert!((320..=370).contains(&topped_up), "{topped_up}");
    assert_eq!(first.looked_up(), 80);
    assert_eq!(inserted_and_others(outcomes), (10, 80));
    assert_eq!(august_2026(&first).await, (310, [50, 160, 0, 60, 40]));
}

#[tokio::test]
async fn migrations_are_idempotent() {
    let Ok(url) = std::env::var("TEST_SATISFY_CLICKHOUSE_URL") else {
        return;
    };
    let database = format!("satisfy_test_{}", uuid::Uuid::new_v4().simple());
    ClickHouseStore::connect(&ClickHouseAccess::new(&url, &database))
        .await
        .unwrap();
    let again = ClickHouseStore::connect(&ClickHouseAccess::new(&url, &database))
        .await
        .unwrap();
    conformance::load_spring(&again).await;
    conformance::check_spring(&again).await;
}

#[tokio::test]
async fn platform_events_count_once_and_give_exact_kpis() {
    let Some(store) = store().await else { return };
    conformance::events(&store).await;
}

#[tokio::test]
async fn appointments_digest_in_the_store_as_in_the_kpi_engine() {
    let Some(store) = store().await else { return };
    conformance::appointments(&store).await;
}

#[tokio::test]
async fn page_evidence_counts_each_rating_once_per_window() {
    let Some(store) = store().await else { return };
    conformance::page_evidence(&store, &store).await;
}

/// Each rollup and the same figures computed from the ratings themselves (`FINAL`), as
/// sorted text, for comparison.
const ROLLUPS_AND_RATINGS: [(&str, &str); 4] = [
    (
        "SELECT tenant, entrypoint, slot, stars, sum(r.n) AS n FROM rating_slots AS r
         GROUP BY tenant, entrypoint, slot, stars HAVING n != 0",
        "SELECT tenant, entrypoint, intDiv(created_ms, 900000) AS slot, stars, count() AS n
         FROM ratings FINAL GROUP BY tenant, entrypoint, slot, stars",
    ),
    (
        "SELECT tenant, entrypoint, slot, toString(r.option) AS option, sum(r.n) AS n
         FROM answer_slots AS r GROUP BY tenant, entrypoint, slot, option HAVING n != 0",
        // The positive question's "other" apart (satisfy_core::answer_key).
        "SELECT tenant, entrypoint, intDiv(created_ms, 900000) AS slot,
                if(a = 'other' AND stars > 3, 'other_positive', toString(a)) AS option,
                count() AS n
         FROM ratings FINAL ARRAY JOIN answers AS a GROUP BY tenant, entrypoint, slot, option",
    ),
    (
        "SELECT tenant, entrypoint, day, page, stars, sum(r.n) AS n FROM page_days AS r
         GROUP BY tenant, entrypoint, day, page, stars HAVING n != 0",
        "SELECT tenant, entrypoint, intDiv(created_ms, 86400000) AS day, page, stars, count() AS n
         FROM ratings FINAL GROUP BY tenant, entrypoint, day, page, stars",
    ),
    (
        "SELECT tenant, entrypoint, day, page, sum(r.n) AS n FROM negative_page_days AS r
         GROUP BY tenant, entrypoint, day, page HAVING n != 0",
        "SELECT tenant, entrypoint, intDiv(created_ms, 86400000) AS day, page,
                sum(length(answers)) AS n
         FROM ratings FINAL WHERE stars <= 3 GROUP BY tenant, entrypoint, day, page HAVING n > 0",
    ),
];

async fn sorted_rows(client: &clickhouse::Client, sql: &str) -> String {
    client
        .query(&format!(
            "SELECT toString(arraySort(groupArray(tuple(*)))) FROM ({sql})"
        ))
        .fetch_one::<String>()
        .await
        .unwrap()
}

#[tokio::test]
async fn rollups_match_the_ratings_through_updates_redeliveries_and_late_versions() {
    let Ok(url) = std::env::var("TEST_SATISFY_CLICKHOUSE_URL") else {
        return;
    };
    let database = format!("satisfy_test_{}", uuid::Uuid::new_v4().simple());
    // Two writers taking turns, as a partition's owners do across reassignments: each
    // remembers what it wrote, and forgets when the other one has written since.
    let writers = [
        connect(&ClickHouseAccess::new(&url, &database)).await,
        connect(&ClickHouseAccess::new(&url, &database)).await,
    ];
    let mut last_writer = 0;
    let client = clickhouse::Client::default()
        .with_url(&url)
        .with_database(&database);
    // A fixed pseudo-random sequence, so a failure can be replayed.
    let mut state = 0x5EED_u64;
    let mut next = move |n: u64| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) % n
    };
    // One question follows the stars: its answer or none.
    let answers_for = |stars: u64, pick: u64| -> Vec<&'static str> {
        let options = if stars <= 3 {
            satisfy_core::survey::NEGATIVE_OPTION_IDS
        } else {
            satisfy_core::survey::POSITIVE_OPTION_IDS
        };
        options.get(pick as usize).copied().into_iter().collect()
    };
    let mut written: Vec<Vec<satisfy_aggregator::StoredRating>> = Vec::new();
    for round in 0..12_i64 {
        let mut batch = Vec::new();
        for _ in 0..150 {
            let n = next(400);
            let stars = next(5) + 1;
            let answers = answers_for(stars, next(7));
            let id = format!("5c6e8c38-0c4f-4d8e-9a6e-{n:012}");
            // Ratings spread over three days, so whole days and their edges both count.
            let minute = (n * 11) % (3 * 24 * 60);
            let at = chrono::DateTime::from_timestamp_millis(
                1_777_593_600_000 + minute as i64 * 60_000 + round * 1_000,
            )
            .unwrap()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            let ep = if n % 3 == 0 {
                conformance::EP_A
            } else {
                conformance::EP_B
            };
            // Now and then the same id from the other entrypoint: a conflict.
            let ep = if next(40) == 0 {
                if ep == conformance::EP_A {
                    conformance::EP_B
                } else {
                    conformance::EP_A
                }
            } else {
                ep
            };
            let page = format!("/p{}", next(5));
            batch.push(conformance::rating(
                &id,
                ep,
                &page,
                stars as u8,
                &answers,
                None,
                &at,
            ));
        }
        // Now and then an older batch again (a redelivery: its versions are older than
        // what is stored by then) before the new one.
        let writer = next(2) as usize;
        if writer != last_writer {
            writers[writer].forget();
            last_writer = writer;
        }
        let store = &writers[writer];
        if round > 2 && next(2) == 0 {
            let old = written[next(written.len() as u64) as usize].clone();
            store.write_batch(&old).await.unwrap();
        }
        store.write_batch(&batch).await.unwrap();
        written.push(batch);
    }
    assert!(writers.iter().all(|w| w.looked_up() > 0));
    for (rollup, ratings) in ROLLUPS_AND_RATINGS {
        let from_rollup = sorted_rows(&client, rollup).await;
        assert!(from_rollup.len() > 100, "{from_rollup}");
        assert_eq!(from_rollup, sorted_rows(&client, ratings).await, "{rollup}");
    }
    // The backfill of ratings stored before the rollups existed gives the same rows.
    for table in [
        "rating_slots",
        "answer_slots",
        "page_days",
        "negative_page_days",
    ] {
        client
            .query(&format!("TRUNCATE TABLE {table}"))
            .execute()
            .await
            .unwrap();
    }
    client
        .query("DELETE FROM satisfy_migrations WHERE version > 11")
        .execute()
        .await
        .unwrap();
    // Processes starting together (consoles, aggregators) backfill once between them.
    let access = ClickHouseAccess::new(&url, &database);
    let (first, second, third) = tokio::join!(
        ClickHouseStore::connect(&access),
        ClickHouseStore::connect(&access),
        ClickHouseStore::connect(&access)
    );
    for reopened in [first, second, third] {
        reopened.expect("migrating together");
    }
    for (rollup, ratings) in ROLLUPS_AND_RATINGS {
        assert_eq!(
            sorted_rows(&client, rollup).await,
            sorted_rows(&client, ratings).await,
            "backfilled {rollup}"
        );
    }
    let lock_left: u8 = client
        .query("EXISTS TABLE satisfy_migration_lock")
        .fetch_one()
        .await
        .unwrap();
    assert_eq!(lock_left, 0, "the migration lock is released");
}

#[tokio::test]
async fn listings_skip_ratings_whose_older_versions_matched_and_page_through_ties() {
    use satisfy_aggregator::{RatingCursor, RatingQuery};
    let Some(store) = store().await else { return };
    // 60 ratings of one star, a second apart; the newest 40 then changed to five stars,
    // so the newest versions matching "one star" are mostly outdated ones.
    let id = |n: usize| format!("6c6e8c38-0c4f-4d8e-9a6e-{n:012}");
    let at = |n: usize, late: bool| {
        let minutes = if late { 600 } else { 0 };
        format!(
            "2026-07-07T{:02}:{:02}:{:02}Z",
            8 + minutes / 60,
            n / 60,
            n % 60
        )
    };
    let first: Vec<_> = (0..60)
        .map(|n| conformance::rating(&id(n), conformance::EP_A, "/l", 1, &[], None, &at(n, false)))
        .collect();
    store.write_batch(&first).await.unwrap();
    let changed: Vec<_> = (20..60)
        .map(|n| conformance::rating(&id(n), conformance::EP_A, "/l", 5, &[], None, &at(n, true)))
        .collect();
    store.write_batch(&changed).await.unwrap();
    // Five more received in the same millisecond: ties broken by id, each listed once.
    let ties: Vec<_> = (100..105)
        .map(|n| {
            conformance::rating(
                &id(n),
                conformance::EP_A,
                "/t",
                3,
                &[],
                None,
                "2026-07-07T07:00:00Z",
            )
        })
        .collect();
    store.write_batch(&ties).await.unwrap();
    // Six more days apart across the month, so that pages are found in windows of a day
    // or of weeks, on both sides of the busy day.
    let spread: Vec<_> = [2, 9, 16, 23, 30, 31]
        .into_iter()
        .map(|day| {
            conformance::rating(
                &id(200 + day),
                conformance::EP_A,
                "/s",
                4,
                &[],
                None,
                &format!("2026-07-{day:02}T12:00:00Z"),
            )
        })
        .collect();
    store.write_batch(&spread).await.unwrap();
    let july = conformance::filter(
        conformance::date(2026, 7, 1),
        conformance::date(2026, 7, 31),
        Some(conformance::EP_A),
    );
    let mut one_star = RatingQuery::all(july.clone());
    one_star.stars = vec![1];
    let page = store.ratings(&one_star, None, 5).await.unwrap();
    let listed: Vec<String> = page.iter().map(|r| r.id.to_string()).collect();
    assert_eq!(listed, (15..20).rev().map(id).collect::<Vec<_>>());
    assert!(page.iter().all(|r| r.rating == 1));

    // Every rating once, newest first, in pages of two.
    let mut after: Option<RatingCursor> = None;
    let mut paged = Vec::new();
    loop {
        let page = store
            .ratings(&RatingQuery::all(july.clone()), after.as_ref(), 2)
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        after = Some(RatingCursor::after(last));
        paged.extend(page);
    }
    assert_eq!(paged.len(), 71);
    let mut ids: Vec<String> = paged.iter().map(|r| r.id.to_string()).collect();
    assert!(
        paged
            .windows(2)
            .all(|w| w[0].created_at_ms >= w[1].created_at_ms)
    );
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 71);
    assert_eq!(paged.iter().filter(|r| r.rating == 5).count(), 40);
}

#[tokio::test]
async fn deleted_ratings_leave_listings_but_stay_counted() {
    let Some(store) = store().await else { return };
    conformance::erasure(&store).await;
}

/// A rating deleted through another process (the console) is refused by this writer once
/// it reloads what was erased; a copy stored before that is deleted again by the sweep.
#[tokio::test]
async fn ratings_deleted_by_another_process_stay_deleted() {
    use satisfy_aggregator::{Erasure, Filter, RatingQuery};
    use satisfy_core::TenantId;
    let Some(access) = database() else { return };
    let (aggregator, console) = (connect(&access).await, connect(&access).await);
    let tenant = TenantId::parse("bugliano").unwrap();
    let id = "00000000-0000-4000-8000-00000000de1e";
    let copy = || {
        conformance::rating(
            id,
            conformance::EP_A,
            "/d",
            2,
            &[],
            Some("Il mio nome è Mario"),
            "2026-09-01T10:00:00Z",
        )
    };
    let listed = || async {
        let query = RatingQuery::all(Filter {
            tenant: tenant.clone(),
            ..conformance::filter(
                conformance::date(2026, 9, 1),
                conformance::date(2026, 9, 30),
                None,
            )
        });
        aggregator.ratings(&query, None, 10).await.unwrap().len()
    };
    assert_eq!(
        aggregator.write_batch(&[copy()]).await.unwrap(),
        [WriteOutcome::Inserted]
    );
    assert!(
        console
            .delete_rating(&tenant, uuid::Uuid::parse_str(id).unwrap())
            .await
            .unwrap()
    );
    // Written again at once, the aggregator may not have reloaded the deletion yet (it
    // reloads every second): if the copy was stored, the sweep deletes it again.
    let outcome = aggregator.write_batch(&[copy()]).await.unwrap();
    eprintln!("a copy written at once after the deletion: {outcome:?}");
    console.expire(&tenant, 0).await.unwrap();
    assert_eq!(listed().await, 0, "the sweep deleted the copy again");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(
        aggregator.write_batch(&[copy()]).await.unwrap(),
        [WriteOutcome::Erased]
    );
    assert_eq!(listed().await, 0);
}

#[tokio::test]
async fn the_two_official_others_are_counted_apart() {
    let Some(store) = store().await else { return };
    conformance::the_two_others(&store).await;
}
