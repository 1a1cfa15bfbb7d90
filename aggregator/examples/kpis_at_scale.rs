//! Benchmark (tests/bench/run.sh): how fast platform events drain into a store and how fast
//! a service's KPI page is computed over them, through the real store and KPI code.
//! Usage: cargo run --release -p satisfy-aggregator --example kpis_at_scale -- STORE EVENTS
//! where STORE is `sqlite:PATH` or a ClickHouse URL `http://host:port`.

use chrono::{Days, NaiveDate};
use satisfy_aggregator::kpi::{KpiScope, kpis, periods_with_history};
use satisfy_aggregator::{
    ClickHouseAccess, ClickHouseStore, EventStore, Granularity, SqliteStore, StoredEvent,
};
use satisfy_core::TenantId;
use satisfy_core::event::{ApplicationState, EventKind, ServiceEvent};
use std::time::Instant;

/// Events per write, as the aggregator's default batch.
const BATCH: usize = 20_000;

/// `count` status events of applications of 10 services over one year, five per application.
fn events(count: usize, tenant: &TenantId) -> impl Iterator<Item = StoredEvent> + '_ {
    const STATES: [ApplicationState; 5] = [
        ApplicationState::Inviata,
        ApplicationState::Protocollata,
        ApplicationState::PresaInCarico,
        ApplicationState::RichiestaIntegrazione,
        ApplicationState::Accettata,
    ];
    let start_ms = 1_767_225_600_000_i64; // 2026-01-01
    (0..count).map(move |n| {
        let application = n / STATES.len();
        let step = n % STATES.len();
        let submitted = start_ms + (application as i64 * 7_919 % 31_536_000) * 1000;
        StoredEvent {
            event: ServiceEvent {
                source: "urn:bench".into(),
                id: format!("e{n}"),
                time_ms: submitted + step as i64 * 86_400_000,
                subject: format!("a{application}"),
                kind: EventKind::ApplicationStatus {
                    service: format!("s{}", application % 10),
                    service_name: None,
                    office: None,
                    state: STATES[step],
                    legal_deadline_days: (step == 0).then_some(30),
                },
            },
            tenant: tenant.clone(),
            received_at_ms: start_ms,
        }
    })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let target = args.next().unwrap_or_else(|| "sqlite:/tmp/kpis.db".into());
    let count: usize = args
        .next()
        .map(|r| r.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let store: Box<dyn EventStore> = match target.strip_prefix("sqlite:") {
        Some(path) => Box::new(SqliteStore::open(std::path::Path::new(path))?),
        None => Box::new(
            ClickHouseStore::connect(&ClickHouseAccess::new(
                &target,
                format!("satisfy_kpis_{count}"),
            ))
            .await?,
        ),
    };
    let backend = if target.starts_with("sqlite:") {
        "SQLite"
    } else {
        "ClickHouse"
    };
    let tenant = TenantId::parse("comune").ok_or("tenant")?;

    // A store already holding the tenant's events (a second run) is measured as it is.
    if store.services(&tenant).await?.is_empty() {
        let all: Vec<StoredEvent> = events(count, &tenant).collect();
        let started = Instant::now();
        for batch in all.chunks(BATCH) {
            store.write_events(batch).await?;
        }
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "{backend}: drained {} events in batches of {BATCH} in {seconds:.1} s: {:.0} events/s",
            all.len(),
            all.len() as f64 / seconds
        );
    }

    let started = Instant::now();
    let services = store.services(&tenant).await?;
    let right_after = started.elapsed().as_secs_f64() * 1000.0;

    let day = NaiveDate::from_ymd_opt(2026, 6, 10).ok_or("date")?;
    let from = day.checked_sub_days(Days::new(7 * 11)).ok_or("date")?;
    let periods = periods_with_history(Granularity::Week, chrono_tz::Europe::Rome, from, day)
        .ok_or("periods")?;
    let scope = KpiScope {
        service: Some("s3".into()),
        ..KpiScope::default()
    };
    let mut timings = Vec::new();
    let mut loading = Vec::new();
    let mut submitted = 0.0;
    for _ in 0..3 {
        let started = Instant::now();
        let activity = store.service_activity(&tenant, "s3").await?;
        loading.push(started.elapsed().as_secs_f64() * 1000.0);
        let input = activity.narrowed(&scope);
        let weeks = kpis(&input, &periods);
        timings.push(started.elapsed().as_secs_f64() * 1000.0);
        submitted = weeks
            .iter()
            .filter_map(|w| w.applications.figures["submitted"].value)
            .sum();
    }
    // Right after a bulk drain ClickHouse still holds a part per insert; a few seconds later
    // its background merges have joined them.
    let started = Instant::now();
    store.services(&tenant).await?;
    println!(
        "{backend}: service list over {count} events: {right_after:.0} ms right after the drain, {:.0} ms after the page runs ({} services)",
        started.elapsed().as_secs_f64() * 1000.0,
        services.len()
    );
    timings.sort_by(f64::total_cmp);
    loading.sort_by(f64::total_cmp);
    println!(
        "{backend}: KPI page of one service (a tenth of the events), 12 weeks, over {count} events: median {:.0} ms, best {:.0} ms, of which reading and digesting its events {:.0} ms ({submitted} submissions in range)",
        timings[1], timings[0], loading[1]
    );
    Ok(())
}
