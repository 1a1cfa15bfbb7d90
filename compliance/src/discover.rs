//! Which pages the validator could sample, found with its own rules (pa-website-validator-ng
//! 1.1.38 gatherers `first_level_pages`, `second_level_pages`, `services_page`, `services`):
//! all of them, where the validator draws 5 of each kind at random.

use serde::Deserialize;
use url::Url;

use crate::browser::{Chromium, OpenPage, SETTLE};
use crate::report::PageKind;
use crate::robots::{EXCLUDED, Robots};

/// The homepage menu elements pointing to first-level pages, with the elements those pages
/// use for their second-level links; `live` pages use the two Vivere buttons instead.
const MENU: [(&str, &str, bool); 5] = [
    ("management", "management-category-link", true),
    ("news", "news-category-link", true),
    ("all-services", "service-category-link", true),
    ("live", "", true),
    ("custom-submenu", "custom-category-link", false),
];

/// Reads the homepage menu: every element of each menu `data-element`, its raw `href`
/// attribute ("" and "#" skipped), and the `href` property of the first `all-services`.
const READ_MENU: &str = "(() => {
    const raw = (element) => [...document.querySelectorAll(`[data-element=\"${element}\"]`)]
        .map((e) => e.getAttribute('href'))
        .filter((href) => href !== null && href !== '' && href !== '#');
    const menu = {};
    for (const element of ['management', 'news', 'all-services', 'live', 'custom-submenu']) {
        menu[element] = raw(element);
    }
    return { menu, services: document.querySelector('[data-element=\"all-services\"]')?.href || null };
})()";

/// Reads a first-level page's second-level links: every element of `element`, or for
/// Vivere pages the first of each button, from `onclick` when it sets location.href.
const READ_SECOND_LEVEL: &str = "((element) => {
    if (element) {
        return [...document.querySelectorAll(`[data-element=\"${element}\"]`)]
            .map((e) => e.getAttribute('href'))
            .filter((href) => href !== null && href !== '' && href !== '#');
    }
    return ['live-button-locations', 'live-button-events'].map((name) => {
        const button = document.querySelector(`[data-element=\"${name}\"]`);
        if (!button) return null;
        const onclick = button.getAttribute('onclick') ?? '';
        if (onclick.includes('location.href')) {
            return onclick.slice(onclick.indexOf(\"'\") + 1, onclick.lastIndexOf(\"'\"));
        }
        return button.getAttribute('href');
    }).filter((href) => href);
})";

/// Opens every card of a services listing (clicking \"load other cards\" while the count
/// grows) and reads the cards' `href` properties and the first pager link.
const READ_SERVICES: &str = "(async (settle) => {
    const count = () => document.querySelectorAll('[data-element=\"service-link\"]').length;
    let seen = count();
    while (seen > 0) {
        const more = document.querySelector('[data-element=\"load-other-cards\"]');
        if (!more) break;
        more.click();
        await settle(10000);
        const now = count();
        if (now <= seen) break;
        seen = now;
    }
    const links = [...document.querySelectorAll('[data-element=\"service-link\"]')]
        .map((e) => e.href).filter((href) => href);
    const pager = document.querySelector('[data-element=\"pager-link\"]');
    return { links, pager: pager ? pager.href || null : null };
})";

/// A page the validator could sample, and as what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// Its address.
    pub url: Url,
    /// The kind of page the validator would audit it as.
    pub kind: PageKind,
}

/// A gatherer the validator would fail: every audit of its kind scores 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Where discovery stopped.
    pub url: Url,
    /// The kind of pages it should have found.
    pub kind: PageKind,
    /// The validator's message.
    pub error: String,
}

/// Every candidate page of a site, in discovery order, each (url, kind) once.
#[derive(Debug, Default)]
pub struct Discovery {
    /// The pages to check.
    pub candidates: Vec<Candidate>,
    /// Gatherers that failed.
    pub failures: Vec<Failure>,
    /// Whether discovery stopped at the page limit.
    pub truncated: bool,
}

impl Discovery {
    fn add(&mut self, url: Url, kind: PageKind, max_pages: usize) {
        let candidate = Candidate { url, kind };
        if self.candidates.contains(&candidate) {
            return;
        }
        if self.candidates.len() >= max_pages {
            self.truncated = true;
            return;
        }
        self.candidates.push(candidate);
    }

    fn fail(&mut self, url: &Url, kind: PageKind, error: impl Into<String>) {
        self.failures.push(Failure {
            url: url.clone(),
            kind,
            error: error.into(),
        });
    }
}

/// The validator's URL rule: a link whose text has neither "www" nor "http" is relative to
/// `base`; any other is taken as written.
pub fn resolve(base: &Url, href: &str) -> Option<Url> {
    if href.contains("www") || href.contains("http") {
        Url::parse(href).ok()
    } else {
        base.join(href).ok()
    }
}

/// The host without a leading "www.", as the validator compares hosts.
fn bare_host(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    host.strip_prefix("www.").unwrap_or(host).to_owned()
}

/// Whether `url` belongs to `site` by the validator's rule (its bare host contains the
/// site's); other pages are neither loaded nor reported.
pub fn same_site(site: &Url, url: &Url) -> bool {
    matches!(url.scheme(), "http" | "https") && bare_host(url).contains(&bare_host(site))
}

#[derive(Deserialize)]
struct Menu {
    menu: std::collections::BTreeMap<String, Vec<String>>,
    services: Option<String>,
}

#[derive(Deserialize)]
struct Services {
    links: Vec<String>,
    pager: Option<String>,
}

/// Opens `url` if robots.txt allows it, and if it stayed on the site.
async fn open(
    chromium: &Chromium,
    site: &Url,
    robots: &Robots,
    url: &Url,
) -> Result<OpenPage, String> {
    if !robots.allows(url) {
        return Err(EXCLUDED.to_owned());
    }
    let page = chromium.open(url).await?;
    if !same_site(site, &page.final_url) {
        let to = page.final_url.to_string();
        page.close().await;
        return Err(format!("la pagina rimanda fuori dal sito ({to})"));
    }
    Ok(page)
}

/// Finds every page of `site` the validator could audit for C.SI.2.5 and C.SI.2.6.
pub async fn discover(
    chromium: &Chromium,
    site: &Url,
    robots: &Robots,
    max_pages: usize,
) -> Discovery {
    let mut found = Discovery::default();
    found.add(site.clone(), PageKind::Homepage, max_pages);
    let menu = match open(chromium, site, robots, site).await {
        Ok(page) => {
            let menu: Result<Menu, String> = page.eval(READ_MENU).await;
            page.close().await;
            menu
        }
        Err(error) => Err(error),
    };
    let menu = match menu {
        Ok(menu) => menu,
        Err(error) => {
            for kind in [
                PageKind::FirstLevel,
                PageKind::SecondLevel,
                PageKind::Service,
            ] {
                found.fail(site, kind, error.clone());
            }
            return found;
        }
    };
    let links = |element: &str| -> Vec<Url> {
        menu.menu
            .get(element)
            .into_iter()
            .flatten()
            .filter_map(|href| resolve(site, href))
            .collect()
    };

    // First level: every menu element, mandatory ones first missing → the gatherer fails.
    let mut first_level: Vec<(Url, &str, bool)> = Vec::new();
    let mut first_level_failed = false;
    for (element, second, mandatory) in MENU {
        let urls = links(element);
        if urls.is_empty() && mandatory && !first_level_failed {
            first_level_failed = true;
            found.fail(
                site,
                PageKind::FirstLevel,
                format!("Non è stato possibile trovare l'attributo [data-element=\"{element}\"]"),
            );
        }
        for url in urls {
            first_level.push((url, second, element == "custom-submenu"));
        }
    }
    if !first_level_failed {
        for (url, _, _) in &first_level {
            if same_site(site, url) {
                found.add(url.clone(), PageKind::FirstLevel, max_pages);
            }
        }
    }

    // Second level: the category links (or Vivere buttons) of each first-level page.
    if first_level.is_empty() {
        found.fail(
            site,
            PageKind::SecondLevel,
            "First level page not available",
        );
    }
    let mut visited: Vec<&Url> = Vec::new();
    for (url, second, custom) in &first_level {
        if visited.contains(&url) || !same_site(site, url) {
            continue;
        }
        visited.push(url);
        let hrefs: Result<Vec<String>, String> = match open(chromium, site, robots, url).await {
            Ok(page) => {
                let hrefs = page
                    .call(READ_SECOND_LEVEL, &serde_json::json!(second))
                    .await;
                page.close().await;
                hrefs
            }
            Err(error) => Err(error),
        };
        match hrefs {
            Ok(hrefs) if hrefs.is_empty() && !custom => {
                let element = if second.is_empty() {
                    "live-button-locations"
                } else {
                    second
                };
                found.fail(
                    url,
                    PageKind::SecondLevel,
                    format!(
                        "Non è stato possibile trovare l'attributo [data-element=\"{element}\"]"
                    ),
                );
            }
            Ok(hrefs) => {
                for link in hrefs.iter().filter_map(|href| resolve(url, href)) {
                    if same_site(site, &link) {
                        found.add(link, PageKind::SecondLevel, max_pages);
                    }
                }
            }
            Err(error) => found.fail(url, PageKind::SecondLevel, error),
        }
    }

    // Services: every card of the listing the first "all-services" element points to.
    let services_page = menu
        .services
        .as_deref()
        .and_then(|href| Url::parse(href).ok());
    let Some(listing) = services_page.filter(|url| same_site(site, url)) else {
        found.fail(
            site,
            PageKind::Service,
            "Non è stato possibile trovare l'attributo [data-element=\"all-services\"]",
        );
        return found;
    };
    match read_services(chromium, site, robots, &listing).await {
        Ok(links) if links.is_empty() => found.fail(
            &listing,
            PageKind::Service,
            "Non è stato possibile trovare l'attributo [data-element=\"service-link\"]",
        ),
        Ok(links) => {
            for link in links.iter().filter_map(|href| Url::parse(href).ok()) {
                if same_site(site, &link) {
                    found.add(link, PageKind::Service, max_pages);
                }
            }
        }
        Err(error) => found.fail(&listing, PageKind::Service, error),
    }
    found
}

/// The service links of a listing; with a pager, those of its first pager page instead.
async fn read_services(
    chromium: &Chromium,
    site: &Url,
    robots: &Robots,
    listing: &Url,
) -> Result<Vec<String>, String> {
    let page = open(chromium, site, robots, listing).await?;
    let services: Result<Services, String> = page.eval(&format!("{READ_SERVICES}({SETTLE})")).await;
    page.close().await;
    let services = services?;
    let Some(pager) = services.pager.and_then(|href| Url::parse(&href).ok()) else {
        return Ok(services.links);
    };
    let page = open(chromium, site, robots, &pager).await?;
    let links: Result<Vec<String>, String> = page
        .eval("[...document.querySelectorAll('[data-element=\"service-link\"]')].map((e) => e.href).filter((href) => href)")
        .await;
    page.close().await;
    links
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_resolve_as_the_validator_resolves_them() {
        let base = Url::parse("https://www.comune.example.it/servizi/").unwrap();
        assert_eq!(
            resolve(&base, "anagrafe").unwrap().as_str(),
            "https://www.comune.example.it/servizi/anagrafe"
        );
        assert_eq!(
            resolve(&base, "/novita").unwrap().as_str(),
            "https://www.comune.example.it/novita"
        );
        assert_eq!(
            resolve(&base, "https://altro.example.it/x")
                .unwrap()
                .as_str(),
            "https://altro.example.it/x"
        );
        // Neither "www" nor "http": relative, even when it looks like a host.
        assert_eq!(
            resolve(&base, "comune.example.it/a").unwrap().as_str(),
            "https://www.comune.example.it/servizi/comune.example.it/a"
        );
    }

    #[test]
    fn the_site_is_its_host_without_www_and_its_subdomains() {
        let site = Url::parse("https://www.comune.example.it/").unwrap();
        let on = |u: &str| same_site(&site, &Url::parse(u).unwrap());
        assert!(on("https://comune.example.it/a"));
        assert!(on("http://www.comune.example.it/b"));
        assert!(on("https://servizi.comune.example.it/c"));
        assert!(!on("https://www.example.it/"));
        assert!(!on("mailto:urp@comune.example.it"));
    }
}
