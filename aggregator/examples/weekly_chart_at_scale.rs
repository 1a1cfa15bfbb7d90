//! Benchmark (tests/bench/run.sh): how fast the console's weekly chart query answers over
//! millions of ratings in ClickHouse, through the real query code.
//! Usage: cargo run --release -p satisfy-aggregator --example weekly_chart_at_scale -- URL ROWS

use chrono::NaiveDate;
use satisfy_aggregator::{AnalyticsQuery, ClickHouseAccess, ClickHouseStore, Filter, Granularity};
use satisfy_core::{EntrypointId, TenantId};
use std::time::Instant;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| "http://127.0.0.1:8123".into());
    let rows: u64 = args
        .next()
        .map(|r| r.parse())
        .transpose()?
        .unwrap_or(10_000_000);
    let database = format!("satisfy_scale_{rows}");
    let store = ClickHouseStore::connect(&ClickHouseAccess::new(&url, &database)).await?;

    // 20 entrypoints, 500 pages, one year of ratings; generated inside ClickHouse.
    let client = clickhouse::Client::default()
        .with_url(&url)
        .with_database(&database);
    let existing: u64 = client
        .query("SELECT count() FROM ratings")
        .fetch_one()
        .await?;
    if existing < rows {
        let started = Instant::now();
        client
            .query(
                // Through the change log, as the aggregator writes: its views fill the
                // ratings and the rollups the chart reads.
                "INSERT INTO rating_changes SELECT 'comune', generateUUIDv4(),
                 concat('ep_', leftPad(toString(number % 20), 16, 'A')), concat('https://www.comune.example.it/p', toString(number % 500)),
                 1 + (number % 5), ['clear'], NULL, 'it', '1.1.0',
                 1767225600000 + intDiv(number * 31536000000, ?) AS created, created, '', 0, []
                 FROM numbers(?)",
            )
            .bind(rows - existing)
            .bind(rows - existing)
            .execute()
            .await?;
        println!(
            "loaded {} ratings in {:.1} s",
            rows - existing,
            started.elapsed().as_secs_f64()
        );
    }

    let entrypoint = EntrypointId::parse("ep_AAAAAAAAAAAAAAA3").ok_or("entrypoint id")?;
    let date = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).ok_or("date");
    for (label, entrypoint) in [("one entrypoint", Some(entrypoint)), ("whole tenant", None)] {
        let filter = Filter {
            tenant: TenantId::parse("comune").ok_or("tenant")?,
            entrypoint,
            from: date(2026, 3, 2)?,
            to: date(2026, 5, 24)?,
            tz: chrono_tz::Europe::Rome,
        };
        let mut timings = Vec::new();
        let mut counted = 0;
        for _ in 0..7 {
            let started = Instant::now();
            let buckets = store.buckets(&filter, Granularity::Week).await?;
            timings.push(started.elapsed().as_secs_f64() * 1000.0);
            counted = buckets.iter().map(|b| b.tally.count).sum::<u64>();
        }
        timings.sort_by(f64::total_cmp);
        println!(
            "weekly chart, 12 weeks, {label}: median {:.0} ms, best {:.0} ms, worst {:.0} ms ({counted} ratings in range, {rows} in table)",
            timings[3], timings[0], timings[6]
        );
    }
    Ok(())
}
