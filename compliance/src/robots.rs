//! robots.txt: what the crawl may load, and how slowly.

use std::time::Duration;
use texting_robots::Robot;
use url::Url;

use crate::browser::Chromium;

/// The product token robots.txt rules can name.
pub const AGENT: &str = "SatisfyCompliance";

/// The error of a page robots.txt keeps the crawl out of.
pub const EXCLUDED: &str = "Pagina esclusa da robots.txt: non controllata";

/// A site's robots.txt rules for [`AGENT`]; without a readable file everything is allowed.
pub struct Robots(Option<Robot>);

impl Robots {
    /// Loads `/robots.txt` of `site` in the browser (so that it goes through the same
    /// polite, proxied path as the pages).
    pub async fn fetch(chromium: &Chromium, site: &Url) -> Robots {
        let Ok(url) = site.join("/robots.txt") else {
            return Robots(None);
        };
        let text = match chromium.open(&url).await {
            Ok(page) => {
                let text: Result<String, String> = page
                    .eval("document.body ? document.body.textContent : ''")
                    .await;
                page.close().await;
                text.unwrap_or_default()
            }
            // No file (404) or none readable: nothing is excluded.
            Err(_) => String::new(),
        };
        Robots(Robot::new(AGENT, text.as_bytes()).ok())
    }

    /// Whether the rules let the crawl load `url`.
    pub fn allows(&self, url: &Url) -> bool {
        self.0
            .as_ref()
            .is_none_or(|robot| robot.allowed(url.as_str()))
    }

    /// The Crawl-delay asked of the crawl.
    pub fn crawl_delay(&self) -> Option<Duration> {
        let delay = self.0.as_ref()?.delay?;
        Duration::try_from_secs_f32(delay).ok()
    }
}
