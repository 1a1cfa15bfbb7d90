//! Headless Chromium over the DevTools protocol, loading pages politely: a few at once, a
//! few started per second, each given a deadline.

use chromiumoxide::browser::{Browser, BrowserConfig};
use chromiumoxide::cdp::browser_protocol::emulation::SetDeviceMetricsOverrideParams;
use chromiumoxide::cdp::browser_protocol::network::{BlockPattern, SetBlockedUrLsParams};
use chromiumoxide::cdp::js_protocol::runtime::EvaluateParams;
use chromiumoxide::page::Page;
use futures::StreamExt;
use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use url::Url;

use crate::{ComplianceError, Settings};

/// Executables tried, in order, when no path is given.
const CANDIDATES: [&str; 4] = [
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
];

/// Files a page load does not fetch (the validator aborts images, media and PDFs; SVG is
/// kept, since Bootstrap Italia draws its icons, stars included, from an SVG sprite).
const BLOCKED: [&str; 13] = [
    "png", "jpg", "jpeg", "gif", "webp", "avif", "ico", "bmp", "mp4", "webm", "mp3", "ogg", "pdf",
];

/// Waits until the page has loaded and its requests have stopped for about half a second
/// (the validator waits for network idle), or `maxMs` passed.
pub(crate) const SETTLE: &str = "async (maxMs) => {
    const started = Date.now();
    let last = -1, quiet = 0;
    while (Date.now() - started < maxMs) {
        const count = performance.getEntriesByType('resource').length;
        if (count === last && document.readyState === 'complete') {
            if (++quiet >= 3) return true;
        } else {
            quiet = 0;
        }
        last = count;
        await new Promise((resolve) => setTimeout(resolve, 150));
    }
    return false;
}";

/// Spaces the start of page loads.
struct Throttle {
    interval: Mutex<Duration>,
    next: Mutex<Instant>,
}

impl Throttle {
    async fn wait(&self) {
        let interval = *self.interval.lock().unwrap_or_else(|e| e.into_inner());
        let start = {
            let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
            let start = (*next).max(Instant::now());
            *next = start + interval;
            start
        };
        tokio::time::sleep_until(start).await;
    }
}

/// A running headless Chromium.
pub struct Chromium {
    browser: Browser,
    handler: JoinHandle<()>,
    profile: PathBuf,
    slots: Arc<Semaphore>,
    throttle: Throttle,
    timeout: Duration,
}

/// A loaded page, holding one of the browser's slots until closed.
pub struct OpenPage {
    page: Page,
    /// Where the page ended after redirects.
    pub final_url: Url,
    _slot: OwnedSemaphorePermit,
}

/// The browser to run: the one given, or the first of [`CANDIDATES`] on the PATH.
pub fn find_browser(explicit: Option<&Path>) -> Result<PathBuf, ComplianceError> {
    if let Some(path) = explicit {
        return if path.is_file() {
            Ok(path.to_owned())
        } else {
            Err(ComplianceError::NoBrowser(format!(
                "{} not found",
                path.display()
            )))
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    CANDIDATES
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| {
            ComplianceError::NoBrowser(format!("none on the PATH ({})", CANDIDATES.join(", ")))
        })
}

impl Chromium {
    /// Starts Chromium headless, without sandbox, GPU or background traffic, in a fresh
    /// profile, with the validator's Italian language and 800×600 viewport.
    pub async fn launch(settings: &Settings) -> Result<Chromium, ComplianceError> {
        let executable = find_browser(settings.browser.as_deref())?;
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        let profile =
            std::env::temp_dir().join(format!("satisfy-compliance-{}-{stamp}", std::process::id()));
        let config = BrowserConfig::builder()
            .chrome_executable(&executable)
            .user_data_dir(&profile)
            .no_sandbox()
            .window_size(800, 600)
            .args([
                "--disable-gpu",
                "--disable-background-networking",
                "--accept-lang=it",
                "--lang=it",
            ])
            .request_timeout(settings.page_timeout)
            .build()
            .map_err(ComplianceError::Browser)?;
        let (browser, mut events) = Browser::launch(config)
            .await
            .map_err(|e| ComplianceError::Browser(format!("{}: {e}", executable.display())))?;
        // The protocol's messages flow only while the handler is polled.
        let handler = tokio::spawn(async move { while events.next().await.is_some() {} });
        let interval = Duration::from_secs_f64(1.0 / settings.requests_per_second.max(0.01));
        Ok(Chromium {
            browser,
            handler,
            profile,
            slots: Arc::new(Semaphore::new(settings.concurrency.max(1))),
            throttle: Throttle {
                interval: Mutex::new(interval),
                next: Mutex::new(Instant::now()),
            },
            timeout: settings.page_timeout,
        })
    }

    /// Spaces page loads by at least `delay` (robots.txt's Crawl-delay).
    pub fn slow_down(&self, delay: Duration) {
        let mut interval = self
            .throttle
            .interval
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        *interval = (*interval).max(delay);
    }

    /// Loads `url` in a new tab and waits for it to settle.
    pub async fn open(&self, url: &Url) -> Result<OpenPage, String> {
        let slot = Arc::clone(&self.slots)
            .acquire_owned()
            .await
            .map_err(|e| e.to_string())?;
        self.throttle.wait().await;
        let started = Instant::now();
        let load = async {
            let page = self.browser.new_page("about:blank").await?;
            // As the validator does, images, media and PDFs are not fetched: fewer requests
            // to the comune's server, and nothing the check reads.
            let blocked = SetBlockedUrLsParams::builder()
                .url_patterns(
                    BLOCKED
                        .iter()
                        .map(|extension| BlockPattern::new(format!("*://*:*/*.{extension}"), true)),
                )
                .build();
            page.execute(blocked).await?;
            page.goto(url.as_str()).await?;
            Ok::<_, chromiumoxide::error::CdpError>(page)
        };
        let page = tokio::time::timeout(self.timeout, load)
            .await
            .map_err(|_| {
                format!(
                    "la pagina non si è caricata in {} s",
                    self.timeout.as_secs()
                )
            })?
            .map_err(|e| format!("caricamento non riuscito: {e}"))?;
        let open = OpenPage {
            page,
            final_url: url.clone(),
            _slot: slot,
        };
        let left = self.timeout.saturating_sub(started.elapsed());
        // Settled or not, the page is checked as it stands (the validator caps its wait too).
        let _settled: bool = open
            .call(SETTLE, &serde_json::json!(left.as_millis() as u64))
            .await?;
        let status: Option<u16> = open
            .eval("performance.getEntriesByType('navigation')[0]?.responseStatus ?? null")
            .await?;
        if let Some(status) = status.filter(|s| *s >= 400) {
            open.close().await;
            return Err(format!("la pagina risponde HTTP {status}"));
        }
        let here: String = open.eval("location.href").await?;
        if here.starts_with("chrome-error:") {
            open.close().await;
            return Err(
                "la pagina non si carica (server irraggiungibile o nome sconosciuto)".into(),
            );
        }
        let final_url =
            Url::parse(&here).map_err(|e| format!("indirizzo finale illeggibile: {e}"))?;
        Ok(OpenPage { final_url, ..open })
    }

    /// Closes the browser and removes its profile.
    pub async fn close(mut self) {
        if let Err(error) = self.browser.close().await {
            tracing::warn!(%error, "closing Chromium");
        }
        let _ = self.browser.wait().await;
        self.handler.abort();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

impl OpenPage {
    /// Evaluates a JavaScript expression (awaiting a promise) and returns its JSON value.
    pub async fn eval<T: DeserializeOwned>(&self, expression: &str) -> Result<T, String> {
        let params = EvaluateParams::builder()
            .expression(expression)
            .await_promise(true)
            .return_by_value(true)
            .build()
            .map_err(|e| e.to_string())?;
        self.page
            .evaluate_expression(params)
            .await
            .map_err(|e| format!("script non eseguito: {e}"))?
            .into_value()
            .map_err(|e| format!("risultato dello script illeggibile: {e}"))
    }

    /// Calls a JavaScript function expression with `argument`.
    pub async fn call<T: DeserializeOwned>(
        &self,
        function: &str,
        argument: &serde_json::Value,
    ) -> Result<T, String> {
        self.eval(&format!("({function})({argument})")).await
    }

    /// Sets the viewport's size in CSS pixels.
    pub async fn resize(&self, width: i64, height: i64) -> Result<(), String> {
        self.page
            .execute(SetDeviceMetricsOverrideParams::new(
                width, height, 1.0, false,
            ))
            .await
            .map(|_| ())
            .map_err(|e| format!("viewport non impostato: {e}"))
    }

    /// The cookies the page can see, as "name (domain)".
    pub async fn cookies(&self) -> Result<Vec<String>, String> {
        let cookies = self
            .page
            .get_cookies()
            .await
            .map_err(|e| format!("cookie illeggibili: {e}"))?;
        Ok(cookies
            .into_iter()
            .map(|c| format!("{} ({})", c.name, c.domain))
            .collect())
    }

    /// Closes the tab, freeing its slot.
    pub async fn close(self) {
        if let Err(error) = self.page.close().await {
            tracing::debug!(%error, "closing a tab");
        }
    }
}
