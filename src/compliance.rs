//! `satisfy compliance`: crawls a comune's site as the AgID validator would, checks the
//! feedback component on every candidate page, prints the per-page table and exits 1 when
//! a page would fail if the auditor's sample drew it. Nothing is stored.

use anyhow::Context;
use clap::Args;
use satisfy_compliance::Settings;
use std::path::PathBuf;
use std::time::Duration;

/// `satisfy compliance` settings.
#[derive(Debug, Clone, Args)]
pub struct ComplianceArgs {
    /// The site's homepage, as given to the validator's --website.
    #[arg(long)]
    pub site: String,
    /// Also write the report as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// The Chromium or Chrome executable (default: the first on the PATH).
    #[arg(long, env = "SATISFY_COMPLIANCE_BROWSER")]
    pub browser: Option<PathBuf>,
    /// Most page loads started per second.
    #[arg(
        long,
        env = "SATISFY_COMPLIANCE_REQUESTS_PER_SECOND",
        default_value_t = 2.0
    )]
    pub requests_per_second: f64,
    /// Most pages open at once.
    #[arg(long, env = "SATISFY_COMPLIANCE_CONCURRENCY", default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=16))]
    pub concurrency: u16,
    /// Longest a page may take to load and settle, in seconds.
    #[arg(long, env = "SATISFY_COMPLIANCE_PAGE_TIMEOUT_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub page_timeout_secs: u64,
    /// Most candidate pages checked.
    #[arg(long, env = "SATISFY_COMPLIANCE_MAX_PAGES", default_value_t = 2000)]
    pub max_pages: usize,
}

/// Runs the check; `Ok(true)` when some page would fail.
pub async fn run(args: ComplianceArgs) -> anyhow::Result<bool> {
    if !(args.requests_per_second > 0.0 && args.requests_per_second <= 100.0) {
        anyhow::bail!("--requests-per-second must be above 0 and at most 100");
    }
    let settings = Settings {
        browser: args.browser,
        requests_per_second: args.requests_per_second,
        concurrency: usize::from(args.concurrency),
        page_timeout: Duration::from_secs(args.page_timeout_secs),
        max_pages: args.max_pages,
    };
    let report = satisfy_compliance::run(&args.site, &settings).await?;
    print!("{report}");
    if let Some(path) = &args.json {
        let json = serde_json::to_vec_pretty(&report).context("encoding the report")?;
        std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(report.would_fail())
}
