//! The retention period: each tenant's comments, raw ratings and raw events older than its
//! period ([`Tenant::retention_months`]) are deleted, aggregates kept. Every console
//! replica sweeps every hour. Two replicas sweeping at once delete each row once, but on
//! ClickHouse (which counts before deleting) both may record the same count in the audit log.

use chrono::{DateTime, Months, Utc};
use std::time::Duration;

use crate::ConsoleState;
use crate::store::{AuditEntry, Tenant};

/// How often expired data is deleted.
pub const SWEEP_EVERY: Duration = Duration::from_secs(3600);

/// The first instant a tenant keeping `months` months still keeps at `now`: the same
/// time of day, `months` calendar months before (the month's last day when shorter).
pub fn cutoff_ms(now: DateTime<Utc>, months: u32) -> i64 {
    now.checked_sub_months(Months::new(months))
        .map_or(i64::MIN, |cutoff| cutoff.timestamp_millis())
}

/// Deletes what every tenant keeps no longer at `now`, and records each deletion in the
/// tenant's audit log. A failing tenant is logged and the others are still swept.
pub async fn sweep(
    state: &ConsoleState,
    now: DateTime<Utc>,
) -> Result<(), crate::store::ConfigError> {
    for tenant in state.store.tenants().await? {
        sweep_tenant(state, &tenant, now).await;
    }
    Ok(())
}

#[tracing::instrument(skip_all, fields(tenant = %tenant.slug, months = tenant.retention_months))]
pub(crate) async fn sweep_tenant(state: &ConsoleState, tenant: &Tenant, now: DateTime<Utc>) {
    let cutoff = cutoff_ms(now, tenant.retention_months);
    let expired = match state.erasure.expire(&tenant.slug, cutoff).await {
        Ok(expired) => expired,
        Err(error) => {
            tracing::error!(%error, "deleting expired data failed; retrying at the next sweep");
            return;
        }
    };
    if expired.ratings == 0 && expired.events == 0 {
        return;
    }
    tracing::info!(
        ratings = expired.ratings,
        events = expired.events,
        "deleted data past the retention period"
    );
    let target = format!(
        "{} ratings, {} events, {} months",
        expired.ratings, expired.events, tenant.retention_months
    );
    let entry = AuditEntry::now(
        Some(&tenant.slug),
        "retention",
        "data_expired",
        Some(&target),
    );
    if let Err(error) = state.store.record(entry).await {
        tracing::error!(%error, "recording the retention sweep in the audit log failed");
    }
}

/// Sweeps now and then every [`SWEEP_EVERY`], for as long as the process runs.
pub fn spawn_sweeper(state: ConsoleState) {
    tokio::spawn(async move {
        loop {
            if let Err(error) = sweep(&state, Utc::now()).await {
                tracing::error!(%error, "listing tenants for the retention sweep failed");
            }
            tokio::time::sleep(SWEEP_EVERY).await;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(rfc3339: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(rfc3339).unwrap().to_utc()
    }

    #[test]
    fn keeps_whole_calendar_months() {
        let now = at("2026-11-24T18:30:00Z");
        assert_eq!(
            cutoff_ms(now, 24),
            at("2024-11-24T18:30:00Z").timestamp_millis()
        );
        assert_eq!(
            cutoff_ms(now, 1),
            at("2026-10-24T18:30:00Z").timestamp_millis()
        );
        // 31 March less one month is the last day of February.
        assert_eq!(
            cutoff_ms(at("2026-03-31T10:00:00Z"), 1),
            at("2026-02-28T10:00:00Z").timestamp_millis()
        );
        assert_eq!(
            cutoff_ms(now, Tenant::DEFAULT_RETENTION_MONTHS),
            at("2024-11-24T18:30:00Z").timestamp_millis()
        );
    }
}
