//! The audit log as CSV, for auditors' files: one writer for the console's download and
//! for `satisfy admin audit`.

use chrono::TimeZone;

use crate::store::AuditEntry;

/// Writes `entries` as CSV with a header: time (UTC, RFC 3339 with milliseconds), the
/// tenant when `with_tenant` (a platform-wide export), actor, action, target.
pub fn to_csv(entries: &[AuditEntry], with_tenant: bool) -> Result<Vec<u8>, csv::Error> {
    let mut out = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["time", "tenant", "actor", "action", "target"];
    if !with_tenant {
        header.remove(1);
    }
    out.write_record(&header)?;
    for entry in entries {
        let time = chrono::Utc
            .timestamp_millis_opt(entry.at_ms)
            .single()
            .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
            .unwrap_or_default();
        let tenant = entry.tenant.as_ref().map(|t| t.as_str()).unwrap_or("");
        let target = entry.target.as_deref().unwrap_or("");
        let mut row = vec![time.as_str(), tenant, &entry.actor, &entry.action, target];
        if !with_tenant {
            row.remove(1);
        }
        out.write_record(&row)?;
    }
    out.into_inner().map_err(|e| e.into_error().into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use satisfy_core::TenantId;

    #[test]
    fn quotes_what_needs_quoting_and_dates_in_utc() {
        let tenant = TenantId::parse("bugliano").unwrap();
        let entry = AuditEntry {
            at_ms: 1_764_000_000_123,
            tenant: Some(tenant),
            actor: "cli".into(),
            action: "user_invited".into(),
            target: Some("lucia, \"auditor\"".into()),
        };
        let csv = String::from_utf8(to_csv(std::slice::from_ref(&entry), true).unwrap()).unwrap();
        assert_eq!(
            csv,
            "time,tenant,actor,action,target\n2025-11-24T16:00:00.123Z,bugliano,cli,user_invited,\"lucia, \"\"auditor\"\"\"\n"
        );
        let csv = String::from_utf8(to_csv(&[entry], false).unwrap()).unwrap();
        assert!(csv.starts_with("time,actor,action,target\n2025-11-24T16:00:00.123Z,cli,"));
    }
}
