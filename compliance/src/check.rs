//! The validator's component check on one page (`checkFeedbackComponent`), run in the
//! browser by `check.js`, with the stricter checks Satisfy adds.

use serde::Deserialize;
use url::Url;

use crate::browser::Chromium;
use crate::discover::same_site;
use crate::report::Verdict;

/// The check itself, a JavaScript async function of `{ waitMs }`.
const CHECK: &str = include_str!("check.js");

/// How long the check lets each first star click settle; the validator waits for network
/// idle there, and the component answers a click without the network.
const CLICK_WAIT_MS: u64 = 300;

/// What the check found on one page.
#[derive(Debug, Clone, PartialEq)]
pub enum PageCheck {
    /// The page was checked.
    Checked {
        /// The validator's score: 1, 0.5 or 0.
        score: f64,
        /// The validator's messages.
        errors: Vec<String>,
        /// What Satisfy checks beyond the validator.
        stricter: Vec<String>,
    },
    /// The page could not be loaded or checked (the validator scores it 0).
    Failed(String),
    /// The page redirected off the site: the validator skips it.
    Skipped,
}

impl PageCheck {
    /// The page's verdict; `None` for a page the validator skips.
    pub fn verdict(&self) -> Option<Verdict> {
        match self {
            PageCheck::Checked { score, errors, .. } => Some(if *score >= 1.0 {
                Verdict::Conforming
            } else if *score >= 0.5 {
                Verdict::Tolerance
            } else if errors.iter().any(|e| e == MISSING) {
                Verdict::Missing
            } else {
                Verdict::Wrong
            }),
            PageCheck::Failed(_) => Some(Verdict::Error),
            PageCheck::Skipped => None,
        }
    }

    /// The validator's messages, or why the page was not checked.
    pub fn errors(&self) -> Vec<String> {
        match self {
            PageCheck::Checked { errors, .. } => errors.clone(),
            PageCheck::Failed(error) => vec![error.clone()],
            PageCheck::Skipped => Vec::new(),
        }
    }

    /// What Satisfy found beyond the validator.
    pub fn stricter(&self) -> Vec<String> {
        match self {
            PageCheck::Checked { stricter, .. } => stricter.clone(),
            _ => Vec::new(),
        }
    }
}

/// The validator's message for a page without the component.
const MISSING: &str = "Componente di valutazione non trovato";

#[derive(Deserialize)]
struct Outcome {
    score: f64,
    errors: Vec<String>,
    stricter: Vec<String>,
}

/// Loads `url` and checks its feedback component as the validator does: viewport 3840×2160,
/// scroll to the bottom, every star clicked; cookies the clicks leave are reported.
pub async fn check(chromium: &Chromium, site: &Url, url: &Url) -> PageCheck {
    let page = match chromium.open(url).await {
        Ok(page) => page,
        Err(error) => return PageCheck::Failed(error),
    };
    if !same_site(site, &page.final_url) {
        page.close().await;
        return PageCheck::Skipped;
    }
    let result = async {
        page.resize(3840, 2160).await?;
        let before = page.cookies().await?;
        let outcome: Outcome = page
            .call(CHECK, &serde_json::json!({ "waitMs": CLICK_WAIT_MS }))
            .await?;
        let after = page.cookies().await?;
        let mut stricter = outcome.stricter;
        let added: Vec<&String> = after.iter().filter(|c| !before.contains(c)).collect();
        if !added.is_empty() {
            let names: Vec<&str> = added.iter().map(|c| c.as_str()).collect();
            stricter.push(format!(
                "La valutazione ha impostato cookie: {}",
                names.join(", ")
            ));
        }
        Ok::<_, String>(PageCheck::Checked {
            score: outcome.score,
            errors: outcome.errors,
            stricter,
        })
    }
    .await;
    page.close().await;
    result.unwrap_or_else(PageCheck::Failed)
}
