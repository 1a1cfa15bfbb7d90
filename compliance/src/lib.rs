//! Checks the feedback component on every page the AgID validator (pa-website-validator-ng
//! 1.1.38) could sample for criteria C.SI.2.5 and C.SI.2.6, the way the validator checks
//! it, so that a comune knows before an audit that whatever sample the auditor draws
//! passes.
//!
//! The validator samples 5 first-level, 5 second-level and 5 service pages at random; this
//! crate discovers all of them with the validator's own rules ([`discover`]), in headless
//! Chromium over the DevTools protocol, and runs the validator's component check on each
//! ([`check`]), politely: robots.txt honoured, at most a few page loads per second and a few
//! pages at once ([`Settings`]).

mod browser;
pub mod check;
pub mod discover;
mod report;
mod robots;

pub use browser::{Chromium, find_browser};
pub use report::{CriterionReport, CriterionVerdict, PageKind, PageReport, Report, Verdict};

use futures::StreamExt;
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;
use url::Url;

/// How a site is crawled and checked.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The Chromium (or Chrome) executable; `None` looks for one on the PATH.
    pub browser: Option<PathBuf>,
    /// Most page loads started per second (robots.txt's Crawl-delay can only lower it).
    pub requests_per_second: f64,
    /// Most pages open at once.
    pub concurrency: usize,
    /// Longest a page may take to load and settle.
    pub page_timeout: Duration,
    /// Most candidate pages checked; beyond it the report says the site was cut short.
    pub max_pages: usize,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            browser: None,
            requests_per_second: 2.0,
            concurrency: 2,
            page_timeout: Duration::from_secs(30),
            max_pages: 2000,
        }
    }
}

/// Why a site could not be checked at all (a page that fails is a row of the report).
#[derive(Debug, thiserror::Error)]
pub enum ComplianceError {
    /// No browser to run the check in.
    #[error(
        "the page check needs Chromium: {0}; install it (Debian: apt install chromium) or set its path (SATISFY_COMPLIANCE_BROWSER, or --browser)"
    )]
    NoBrowser(String),
    /// The browser did not start or stopped answering.
    #[error("Chromium: {0}")]
    Browser(String),
    /// The site URL is not an http(s) URL.
    #[error("the site must be an http:// or https:// URL: {0}")]
    Site(String),
}

/// `raw` as an http(s) URL with a host.
fn web_url(raw: &str) -> Result<Url, ComplianceError> {
    Url::parse(raw)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
        .ok_or_else(|| ComplianceError::Site(raw.to_owned()))
}

/// Crawls `site` as the validator would and checks every candidate page.
pub async fn run(site: &str, settings: &Settings) -> Result<Report, ComplianceError> {
    let site = web_url(site)?;
    let chromium = Chromium::launch(settings).await?;
    let report = check_site(&chromium, &site, settings).await;
    chromium.close().await;
    Ok(report)
}

/// Checks the component on one page (a webmaster's self-test), as the validator checks
/// each page it samples.
pub async fn check_page(
    page: &str,
    settings: &Settings,
) -> Result<check::PageCheck, ComplianceError> {
    let url = web_url(page)?;
    let chromium = Chromium::launch(settings).await?;
    let result = check::check(&chromium, &url, &url).await;
    chromium.close().await;
    Ok(result)
}

async fn check_site(chromium: &Chromium, site: &Url, settings: &Settings) -> Report {
    let robots = robots::Robots::fetch(chromium, site).await;
    if let Some(delay) = robots.crawl_delay() {
        chromium.slow_down(delay);
    }
    let discovery = discover::discover(chromium, site, &robots, settings.max_pages).await;
    let mut urls: Vec<Url> = discovery.candidates.iter().map(|c| c.url.clone()).collect();
    urls.sort();
    urls.dedup();
    tracing::info!(site = %site, pages = urls.len(), "checking the feedback component");
    let robots = &robots;
    let checks: HashMap<Url, check::PageCheck> = futures::stream::iter(urls)
        .map(|url| async move {
            let result = if robots.allows(&url) {
                check::check(chromium, site, &url).await
            } else {
                check::PageCheck::Failed(robots::EXCLUDED.to_owned())
            };
            (url, result)
        })
        .buffer_unordered(settings.concurrency.max(1))
        .collect()
        .await;
    Report::new(site, &discovery, &checks)
}
