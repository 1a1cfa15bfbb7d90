//! The report: a verdict per criterion as the validator would give it, and one row per
//! candidate page; as JSON for pipelines and as a table for people.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;
use url::Url;

use crate::check::PageCheck;
use crate::discover::Discovery;

/// The kind of page the validator audits a URL as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PageKind {
    /// The site's homepage (C.SI.2.5).
    Homepage,
    /// A page the homepage menu links to (C.SI.2.5).
    FirstLevel,
    /// A category page linked from a first-level page (C.SI.2.5).
    SecondLevel,
    /// A service card (C.SI.2.6).
    Service,
}

impl PageKind {
    /// Its code in reports ("first-level").
    pub fn code(self) -> &'static str {
        match self {
            PageKind::Homepage => "homepage",
            PageKind::FirstLevel => "first-level",
            PageKind::SecondLevel => "second-level",
            PageKind::Service => "service",
        }
    }

    /// The criterion auditing this kind of page.
    pub fn criterion(self) -> &'static str {
        match self {
            PageKind::Service => C_SI_2_6,
            _ => C_SI_2_5,
        }
    }

    fn label(self) -> &'static str {
        match self {
            PageKind::Homepage => "homepage",
            PageKind::FirstLevel => "primo livello",
            PageKind::SecondLevel => "secondo livello",
            PageKind::Service => "servizio",
        }
    }
}

/// Valutazione dell'esperienza d'uso, chiarezza delle pagine informative.
pub const C_SI_2_5: &str = "C.SI.2.5";
/// Valutazione dell'esperienza d'uso, chiarezza informativa della scheda di servizio.
pub const C_SI_2_6: &str = "C.SI.2.6";

/// One page's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Score 1: present and as required.
    Conforming,
    /// Score 0.5: present, but may not have everything required.
    Tolerance,
    /// Score 0: present but wrong.
    Wrong,
    /// Score 0: no component.
    Missing,
    /// Not checked: load failure, robots.txt or a failed discovery (the validator scores 0).
    Error,
}

impl Verdict {
    /// Its code in reports ("conforming").
    pub fn code(self) -> &'static str {
        match self {
            Verdict::Conforming => "conforming",
            Verdict::Tolerance => "tolerance",
            Verdict::Wrong => "wrong",
            Verdict::Missing => "missing",
            Verdict::Error => "error",
        }
    }

    /// Whether this page fails its criterion if the auditor's sample draws it.
    pub fn fails(self) -> bool {
        matches!(self, Verdict::Wrong | Verdict::Missing | Verdict::Error)
    }
}

/// A criterion's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CriterionVerdict {
    /// Passed.
    Pass,
    /// Passed with the "may not have everything required" message (C.SI.2.6 only: the
    /// validator turns any C.SI.2.5 score above 0 into a pass).
    Tolerance,
    /// Failed.
    Fail,
}

/// A criterion and its verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CriterionReport {
    /// "C.SI.2.5" or "C.SI.2.6".
    pub code: &'static str,
    /// What the validator would say whatever its sample.
    pub verdict: CriterionVerdict,
}

/// One candidate page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PageReport {
    /// Its address.
    pub url: String,
    /// What the validator audits it as.
    pub kind: PageKind,
    /// The criteria it counts for.
    pub criteria: Vec<&'static str>,
    /// Its verdict.
    pub verdict: Verdict,
    /// The validator's messages (or why it was not checked).
    pub errors: Vec<String>,
    /// What Satisfy checks beyond the validator: cookies set, keyboard, empty follow-ups.
    pub stricter: Vec<String>,
}

/// A site's compliance report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The site checked.
    pub site: String,
    /// C.SI.2.5 and C.SI.2.6.
    pub criteria: Vec<CriterionReport>,
    /// Every candidate page, in discovery order.
    pub pages: Vec<PageReport>,
    /// Whether the page limit cut discovery short.
    pub truncated: bool,
}

impl Report {
    /// Puts discovery and checks together.
    pub fn new(site: &Url, discovery: &Discovery, checks: &HashMap<Url, PageCheck>) -> Report {
        let mut pages = Vec::new();
        for candidate in &discovery.candidates {
            let row = |verdict, errors: Vec<String>, stricter: Vec<String>| PageReport {
                url: candidate.url.to_string(),
                kind: candidate.kind,
                criteria: vec![candidate.kind.criterion()],
                verdict,
                errors,
                stricter,
            };
            if let Some(check) = checks.get(&candidate.url)
                && let Some(verdict) = check.verdict()
            {
                pages.push(row(verdict, check.errors(), check.stricter()));
            }
        }
        for failure in &discovery.failures {
            pages.push(PageReport {
                url: failure.url.to_string(),
                kind: failure.kind,
                criteria: vec![failure.kind.criterion()],
                verdict: Verdict::Error,
                errors: vec![failure.error.clone()],
                stricter: Vec::new(),
            });
        }
        let verdicts =
            |code: &'static str| pages.iter().filter(move |p| p.criteria.contains(&code));
        let c_si_2_5 = if verdicts(C_SI_2_5).any(|p| p.verdict.fails()) {
            CriterionVerdict::Fail
        } else {
            CriterionVerdict::Pass
        };
        let c_si_2_6 = if verdicts(C_SI_2_6).any(|p| p.verdict.fails())
            || verdicts(C_SI_2_6).next().is_none()
        {
            CriterionVerdict::Fail
        } else if verdicts(C_SI_2_6).any(|p| p.verdict == Verdict::Tolerance) {
            CriterionVerdict::Tolerance
        } else {
            CriterionVerdict::Pass
        };
        Report {
            site: site.to_string(),
            criteria: vec![
                CriterionReport {
                    code: C_SI_2_5,
                    verdict: c_si_2_5,
                },
                CriterionReport {
                    code: C_SI_2_6,
                    verdict: c_si_2_6,
                },
            ],
            pages,
            truncated: discovery.truncated,
        }
    }

    /// Whether some page would fail its criterion if the auditor's sample drew it.
    pub fn would_fail(&self) -> bool {
        self.pages.iter().any(|p| p.verdict.fails())
    }
}

/// The per-page table, then per criterion the verdict and the risk in words.
impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Conformità PNRR di {}", self.site)?;
        writeln!(f)?;
        writeln!(f, "esito       tipo             criterio  pagina")?;
        for page in &self.pages {
            let verdict = page.verdict.code();
            writeln!(
                f,
                "{:<11} {:<16} {:<9} {}",
                verdict,
                page.kind.label(),
                page.criteria.join(","),
                page.url
            )?;
            for error in page.errors.iter().chain(&page.stricter) {
                writeln!(f, "{:<38}  - {error}", "")?;
            }
        }
        writeln!(f)?;
        for criterion in &self.criteria {
            let failing = self
                .pages
                .iter()
                .filter(|p| p.criteria.contains(&criterion.code) && p.verdict.fails())
                .count();
            let verdict = match criterion.verdict {
                CriterionVerdict::Pass => "superato",
                CriterionVerdict::Tolerance => "superato con riserva",
                CriterionVerdict::Fail => "non superato",
            };
            write!(f, "{}: {verdict}", criterion.code)?;
            if failing > 0 {
                write!(
                    f,
                    " ({failing} {} farebbe fallire il criterio se estratta dal validatore)",
                    if failing == 1 {
                        "pagina"
                    } else {
                        "pagine: ciascuna"
                    }
                )?;
            }
            writeln!(f)?;
        }
        if self.truncated {
            writeln!(
                f,
                "Attenzione: raggiunto il limite di pagine, il sito non è stato controllato per intero."
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_json_names() {
        for kind in [
            PageKind::Homepage,
            PageKind::FirstLevel,
            PageKind::SecondLevel,
            PageKind::Service,
        ] {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.code());
        }
        for verdict in [
            Verdict::Conforming,
            Verdict::Tolerance,
            Verdict::Wrong,
            Verdict::Missing,
            Verdict::Error,
        ] {
            assert_eq!(serde_json::to_value(verdict).unwrap(), verdict.code());
        }
    }
}
