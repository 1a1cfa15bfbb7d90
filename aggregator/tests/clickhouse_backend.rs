//! The conformance scenarios against a real ClickHouse (26.9, started by
//! tests/engines/engines.sh). Set TEST_SATISFY_CLICKHOUSE_URL to run them; under CI they
//! are required.

mod conformance;

use satisfy_aggregator::{AnalyticsQuery, ClickHouseStore, RatingStore, WriteOutcome};

async fn store() -> Option<ClickHouseStore> {
    let Ok(url) = std::env::var("TEST_SATISFY_CLICKHOUSE_URL") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must set TEST_SATISFY_CLICKHOUSE_URL"
        );
        eprintln!("TEST_SATISFY_CLICKHOUSE_URL is not set: skipping the ClickHouse backend");
        return None;
    };
    // A database per test keeps the scenarios independent.
    let database = format!("satisfy_test_{}", uuid::Uuid::new_v4().simple());
    Some(
        ClickHouseStore::connect(&url, &database)
            .await
            .expect("connecting to ClickHouse"),
    )
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
    let Some(store) = store().await else { return };
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
    assert!(
        store
            .write_batch(&batch)
            .await
            .unwrap()
            .iter()
            .all(|o| *o == WriteOutcome::Updated)
    );
    let f = conformance::filter(
        conformance::date(2026, 6, 1),
        conformance::date(2026, 6, 30),
        None,
    );
    assert_eq!(store.summary(&f).await.unwrap().count, 12_000);
}

#[tokio::test]
async fn migrations_are_idempotent() {
    let Ok(url) = std::env::var("TEST_SATISFY_CLICKHOUSE_URL") else {
        return;
    };
    let database = format!("satisfy_test_{}", uuid::Uuid::new_v4().simple());
    ClickHouseStore::connect(&url, &database).await.unwrap();
    let again = ClickHouseStore::connect(&url, &database).await.unwrap();
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
