//! The conformance scenarios against the SQLite backend, plus group commit.

mod conformance;

use satisfy_aggregator::{
    AnalyticsQuery, GroupWriter, IntakeLog, RatingStore, SqliteStore, WriteOutcome, WriterConfig,
};
use std::sync::Arc;

fn open() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("ratings.db")).unwrap();
    (dir, store)
}

#[tokio::test]
async fn spring_scenario_gives_exact_numbers() {
    let (_dir, store) = open();
    conformance::load_spring(&store).await;
    conformance::check_spring(&store).await;
}

#[tokio::test]
async fn autumn_dst_days_are_exact() {
    let (_dir, store) = open();
    conformance::autumn(&store, &store).await;
}

#[tokio::test]
async fn data_survives_reopening_and_migrations_are_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ratings.db");
    conformance::load_spring(&SqliteStore::open(&path).unwrap()).await;
    conformance::check_spring(&SqliteStore::open(&path).unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_share_transactions_and_each_is_stored_once() {
    let (_dir, store) = open();
    let store = Arc::new(store);
    let (writer, task) = GroupWriter::spawn(store.clone(), store.clone(), WriterConfig::default());
    let mut handles = Vec::new();
    for n in 0..1000u32 {
        let writer = writer.clone();
        handles.push(tokio::spawn(async move {
            let id = format!("2c6e8c38-0c4f-4d8e-9a6e-{n:012}");
            let r = conformance::rating(
                &id,
                conformance::EP_A,
                "/p",
                3,
                &[],
                None,
                "2026-05-05T10:00:00Z",
            );
            writer.write(r).await
        }));
    }
    for handle in handles {
        assert_eq!(handle.await.unwrap().unwrap(), WriteOutcome::Inserted);
    }
    drop(writer);
    task.await.unwrap();
    let f = conformance::filter(
        conformance::date(2026, 5, 1),
        conformance::date(2026, 5, 31),
        None,
    );
    assert_eq!(store.summary(&f).await.unwrap().count, 1000);
}

/// Embedded mode's intake log in front of the store: versions are acknowledged as
/// logged; applied in order, they give the scenario's exact numbers, also when a run
/// stopped before applying what it acknowledged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_the_intake_log_the_spring_scenario_is_exact_across_a_stop() {
    let dir = tempfile::tempdir().unwrap();
    let (log_path, store) = (
        dir.path().join("intake.db"),
        SqliteStore::open(&dir.path().join("ratings.db")).unwrap(),
    );
    let [first, later] = conformance::spring_batches();

    // A run that acknowledges the first delivery and stops before storing it.
    let (log, applier) = IntakeLog::open(&log_path, store.clone()).unwrap();
    applier.stop().await;
    let outcomes = log.write_batch(&first).await.unwrap();
    assert!(outcomes.iter().all(|o| *o == WriteOutcome::Logged));
    assert_eq!(store.applied_position().unwrap(), 0);
    drop(log);

    // The next run stores it first, then the later delivery in order.
    let (log, applier) = IntakeLog::open(&log_path, store.clone()).unwrap();
    let outcomes = log.write_batch(&later).await.unwrap();
    assert_eq!(outcomes, vec![WriteOutcome::Logged; 3]);
    // Reads wait for what was acknowledged before them.
    let reading = store.clone().behind_log(applier.progress());
    conformance::check_spring(&reading).await;
    assert_eq!(applier.progress().backlog(), 0);
    let entries = (first.len() + later.len()) as i64;
    assert_eq!(store.applied_position().unwrap(), entries);
    applier.stop().await;

    // Reopened with nothing left to apply, nothing is applied twice.
    let (_log, applier) = IntakeLog::open(&log_path, store.clone()).unwrap();
    conformance::check_spring(&store.clone().behind_log(applier.progress())).await;
    applier.stop().await;
}

#[tokio::test]
async fn platform_events_count_once_and_give_exact_kpis() {
    let (_dir, store) = open();
    conformance::events(&store).await;
}

#[tokio::test]
async fn appointments_digest_in_the_store_as_in_the_kpi_engine() {
    let (_dir, store) = open();
    conformance::appointments(&store).await;
}

#[tokio::test]
async fn page_evidence_counts_each_rating_once_per_window() {
    let (_dir, store) = open();
    conformance::page_evidence(&store, &store).await;
}

#[tokio::test]
async fn deleted_ratings_leave_listings_but_stay_counted() {
    let (_dir, store) = open();
    conformance::erasure(&store).await;
}

#[tokio::test]
async fn the_two_official_others_are_counted_apart() {
    let (_dir, store) = open();
    conformance::the_two_others(&store).await;
}

/// A database whose rollups counted both official "other"s together (before the
/// migration that tells them apart) has them apart once reopened, for the ratings it
/// still holds.
#[tokio::test]
async fn reopening_tells_apart_the_others_counted_together_before() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ratings.db");
    conformance::the_two_others(&SqliteStore::open(&path).unwrap()).await;
    {
        // As the rollups were before: one `other` for both questions.
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "UPDATE answer_slots SET n = n + (SELECT SUM(n) FROM answer_slots
                 WHERE option_id = 'other_positive') WHERE option_id = 'other';
             DELETE FROM answer_slots WHERE option_id = 'other_positive';
             DELETE FROM schema_migrations
                 WHERE version = (SELECT MAX(version) FROM schema_migrations);",
        )
        .unwrap();
    }
    conformance::check_the_two_others_counted(&SqliteStore::open(&path).unwrap()).await;
}
