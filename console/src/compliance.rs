//! PNRR compliance runs of each tenant's site: queued every week and on demand, run one at
//! a time by [`spawn_runner`] with `satisfy-compliance` (headless Chromium), kept with
//! their reports in the configuration store. With several console replicas each run goes
//! to one of them.

use satisfy_compliance::Settings;
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::Notify;
use tracing::Instrument;

use crate::ConsoleState;
use crate::store::TenantStatus;

/// How often each site is checked without anybody asking.
pub const WEEK_MS: i64 = 7 * 24 * 3_600_000;

/// A run started this long ago whose runner never finished it (the replica stopped) is
/// taken again.
const STALE_MS: i64 = 3 * 3_600_000;

/// How often the runner looks for work when nobody wakes it.
const POLL: Duration = Duration::from_secs(60);

/// How often the weekly runs are queued: each pass tries a write for every ente, too much
/// for every poll.
const SCHEDULE: Duration = Duration::from_secs(3600);

/// Settings of the compliance runs.
#[derive(Debug, Clone, Default)]
pub struct ComplianceConfig {
    /// The Chromium (or Chrome) executable; `None` looks on the PATH.
    pub browser: Option<PathBuf>,
    /// Queue a run of every active tenant's site each week.
    pub weekly: bool,
}

/// Wakes the runner of this replica when a run is queued here.
#[derive(Debug, Default)]
pub struct RunnerBell(Notify);

impl RunnerBell {
    /// Tells the runner a run is waiting.
    pub fn ring(&self) {
        self.0.notify_one();
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Queues the weekly run of every active tenant with a site whose last run is a week old.
async fn queue_weekly(state: &ConsoleState) -> Result<(), crate::store::ConfigError> {
    let now = now_ms();
    for tenant in state.store.tenants().await? {
        let Some(site) = tenant.site_url.as_deref() else {
            continue;
        };
        if tenant.status != TenantStatus::Active {
            continue;
        }
        if let Some(id) = state
            .store
            .queue_compliance_run(&tenant.slug, site, None, now, Some(now - WEEK_MS))
            .await?
        {
            tracing::info!(tenant = %tenant.slug, id, "weekly compliance run queued");
        }
    }
    Ok(())
}

/// Runs queued compliance checks one at a time until the process ends; with
/// `config.weekly`, queues each site's weekly run first.
pub fn spawn_runner(state: ConsoleState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let settings = Settings {
            browser: state.config.compliance.browser.clone(),
            ..Settings::default()
        };
        let mut scheduled: Option<tokio::time::Instant> = None;
        loop {
            if state.config.compliance.weekly && scheduled.is_none_or(|at| at.elapsed() >= SCHEDULE)
            {
                scheduled = Some(tokio::time::Instant::now());
                if let Err(error) = queue_weekly(&state).await {
                    tracing::warn!(%error, "queueing weekly compliance runs");
                }
            }
            let claimed = state
                .store
                .claim_compliance_run(now_ms(), now_ms() - STALE_MS)
                .await;
            match claimed {
                Ok(Some(run)) => {
                    let span = tracing::info_span!("compliance_run", id = run.id, tenant = %run.tenant, site = %run.site);
                    let outcome = match satisfy_compliance::run(&run.site, &settings)
                        .instrument(span)
                        .await
                    {
                        Ok(report) => serde_json::to_string(&report).map_err(|e| e.to_string()),
                        Err(error) => Err(error.to_string()),
                    };
                    if let Err(error) = &outcome {
                        tracing::warn!(%error, "compliance run failed");
                    }
                    if let Err(error) = state
                        .store
                        .finish_compliance_run(run.id, now_ms(), outcome)
                        .await
                    {
                        tracing::warn!(%error, "recording a compliance run");
                    }
                    continue;
                }
                Ok(None) => {}
                Err(error) => tracing::warn!(%error, "claiming a compliance run"),
            }
            let _ = tokio::time::timeout(POLL, state.compliance_bell.0.notified()).await;
        }
    })
}
