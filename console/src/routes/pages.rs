//! The HTML console under `/console`: the frame every page shares ([`Layout`]),
//! rendering, CSRF checks, static files and the language switch.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use chrono::TimeZone;
use satisfy_core::Lang;
use serde::Deserialize;

use crate::ConsoleState;
use crate::auth::{Authenticated, same_secret};
use crate::error::PageError;
use crate::i18n::{LANG_COOKIE, Ui, ui};
use crate::roles::Capability;

/// Routes under `/console`: the frame, static files and language here; the pages by
/// concern in their own modules.
pub fn router() -> Router<ConsoleState> {
    Router::new()
        .route("/lang/{code}", get(switch_language))
        .route("/static/{file}", get(static_file))
        .route("/static/bootstrap-italia/{file}", get(bootstrap_italia))
        .merge(super::overview::router())
        .merge(super::comments::router())
        .merge(super::session::router())
        .merge(super::account::router())
        .merge(super::entrypoints::router())
        .merge(super::services::router())
        .merge(super::team::router())
        .merge(super::privacy::router())
        .merge(super::compliance::router())
        .merge(super::tenants::router())
        .fallback(|| async { PageError::NotFound })
}

/// What every page's frame shows.
pub struct Layout {
    pub(crate) ui: &'static Ui,
    pub(crate) languages: Vec<(&'static str, &'static str)>,
    pub(crate) username: Option<String>,
    pub(crate) csrf: String,
    pub(crate) path: String,
    /// Links the user's role allows.
    pub(crate) can_manage: bool,
    pub(crate) can_read_stats: bool,
    pub(crate) can_manage_team: bool,
    pub(crate) can_read_compliance: bool,
    pub(crate) platform_admin: bool,
    /// The tenant the user works in, and those they may switch to (slug, name).
    pub(crate) tenant: String,
    pub(crate) tenants: Vec<(String, String)>,
}

impl Layout {
    pub(crate) fn new(
        lang: Lang,
        auth: Option<&Authenticated>,
        csrf: String,
        path: &str,
    ) -> Layout {
        Layout {
            ui: ui(lang),
            languages: Lang::ALL
                .iter()
                .map(|l| (l.code(), l.native_name()))
                .collect(),
            username: auth.map(|a| a.actor.clone()),
            csrf,
            path: path.to_owned(),
            can_manage: auth.is_some_and(|a| a.can(Capability::ManageEntrypoints)),
            can_read_stats: auth.is_some_and(|a| a.can(Capability::ReadStats)),
            can_manage_team: auth.is_some_and(|a| a.can(Capability::ManageTeam)),
            can_read_compliance: auth.is_some_and(|a| a.can(Capability::ReadCompliance)),
            platform_admin: auth.is_some_and(|a| a.platform_admin),
            tenant: auth
                .map(|a| a.tenant.as_str().to_owned())
                .unwrap_or_default(),
            tenants: auth.map(|a| a.tenants.clone()).unwrap_or_default(),
        }
    }

    pub(crate) fn for_user(lang: Lang, auth: &Authenticated, path: &str) -> Layout {
        Layout::new(
            lang,
            Some(auth),
            auth.csrf_token.clone().unwrap_or_default(),
            path,
        )
    }
}

/// Renders a page (the security headers come from [`crate::security`]).
pub(crate) fn render(template: &impl Template, status: StatusCode) -> Response {
    match template.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(error) => {
            tracing::error!(%error, "template rendering failed");
            PageError::Unavailable.into_response()
        }
    }
}

pub(crate) fn with_cookie(mut response: Response, cookie: String) -> Response {
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// Refuses the page (403) unless the user may do `capability`.
pub(crate) fn allowed(auth: &Authenticated, capability: Capability) -> Result<(), PageError> {
    if auth.can(capability) {
        Ok(())
    } else {
        Err(PageError::Forbidden)
    }
}

pub(crate) fn check_csrf(auth: &Authenticated, submitted: &str) -> Result<(), PageError> {
    match &auth.csrf_token {
        Some(expected) if same_secret(expected, submitted) => Ok(()),
        _ => Err(PageError::CsrfRejected),
    }
}

async fn static_file(Path(file): Path<String>) -> Response {
    let (body, content_type) = match file.as_str() {
        "console.css" => (
            include_str!("../../static/console.css"),
            "text/css; charset=utf-8",
        ),
        "console.js" => (
            include_str!("../../static/console.js"),
            "text/javascript; charset=utf-8",
        ),
        _ => return PageError::NotFound.into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

/// Bootstrap Italia's stylesheet and the Titillium Web fonts, vendored from npm
/// (console/static/bootstrap-italia/vendor.sh); their names carry no version, so they are
/// cached for a day, not forever.
async fn bootstrap_italia(Path(file): Path<String>) -> Response {
    let (body, content_type): (&'static [u8], &str) = match file.as_str() {
        "bootstrap-italia.min.css" => (
            include_bytes!("../../static/bootstrap-italia/bootstrap-italia.min.css"),
            "text/css; charset=utf-8",
        ),
        "titillium-web-regular.woff2" => (
            include_bytes!("../../static/bootstrap-italia/titillium-web-regular.woff2"),
            "font/woff2",
        ),
        "titillium-web-italic.woff2" => (
            include_bytes!("../../static/bootstrap-italia/titillium-web-italic.woff2"),
            "font/woff2",
        ),
        "titillium-web-600.woff2" => (
            include_bytes!("../../static/bootstrap-italia/titillium-web-600.woff2"),
            "font/woff2",
        ),
        "titillium-web-700.woff2" => (
            include_bytes!("../../static/bootstrap-italia/titillium-web-700.woff2"),
            "font/woff2",
        ),
        _ => return PageError::NotFound.into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        body,
    )
        .into_response()
}

#[derive(Deserialize)]
struct NextPage {
    next: Option<String>,
}

async fn switch_language(
    Path(code): Path<String>,
    Query(query): Query<NextPage>,
    headers: HeaderMap,
) -> Response {
    let next = query
        .next
        .filter(|n| is_console_path(n))
        .unwrap_or_else(|| "/console/entrypoints".into());
    let next = with_page_query(next, &headers);
    let redirect = Redirect::to(&next).into_response();
    match Lang::parse(&code) {
        Some(lang) => with_cookie(
            redirect,
            format!(
                "{LANG_COOKIE}={}; Path=/; SameSite=Lax; Max-Age=31536000",
                lang.code()
            ),
        ),
        None => redirect,
    }
}

/// Whether `next` is a console address to send a browser on to: only same-site console
/// paths, never an open redirect. Visible ASCII only (a browser drops tabs and line breaks
/// from an address, which could make `/console/..` and `//` of what looked safe), no dot
/// segments, and short enough for any proxy's header buffer.
pub(crate) fn is_console_path(next: &str) -> bool {
    const LONGEST: usize = 2048;
    let path = next.split(['?', '#']).next().unwrap_or_default();
    next.len() <= LONGEST
        && next.bytes().all(|b| b.is_ascii_graphic())
        && (path == "/console" || path.starts_with("/console/"))
        && !next.contains("//")
        && !next.contains('\\')
        && !path
            .split('/')
            .any(|segment| segment == "." || segment == "..")
}

/// `next` with the query of the page the switch was clicked on (its period, dates and
/// filters), which the browser names in `Referer` (the console's policy is
/// `same-origin`), when that page is `next` itself.
fn with_page_query(next: String, headers: &HeaderMap) -> String {
    let page = headers
        .get(header::REFERER)
        .and_then(|value| value.to_str().ok())
        .and_then(|referer| url::Url::parse(referer).ok());
    match page {
        Some(page) if page.path() == next => match page.query() {
            Some(query) if !query.is_empty() => format!("{next}?{query}"),
            _ => next,
        },
        _ => next,
    }
}

/// The period picker of the dashboards (`period_fields.html`): a named period or custom
/// dates, and the granularity.
pub(crate) struct PeriodForm {
    /// The chosen period's code (`custom` for dates).
    pub(crate) period: String,
    /// The granularity asked for; empty for the period's own.
    pub(crate) granularity: String,
    pub(crate) from: String,
    pub(crate) to: String,
    /// (code, label) of every named period.
    pub(crate) choices: Vec<(&'static str, &'static str)>,
}

impl PeriodForm {
    /// The form showing `params` back, with the dates `range` resolved to.
    pub(crate) fn new(
        ui: &Ui,
        params: &crate::stats::StatsParams,
        range: crate::stats::Range,
    ) -> PeriodForm {
        let labels = [
            ui.period_7d,
            ui.period_30d,
            ui.period_90d,
            ui.period_month,
            ui.period_last_month,
            ui.period_year,
            ui.period_custom,
        ];
        let period = params
            .period
            .clone()
            .filter(|p| crate::stats::PERIODS.contains(&p.as_str()))
            .unwrap_or_else(|| "custom".into());
        PeriodForm {
            period,
            granularity: params.granularity.clone().unwrap_or_default(),
            from: range.from.to_string(),
            to: range.to.to_string(),
            choices: crate::stats::PERIODS.into_iter().zip(labels).collect(),
        }
    }

    /// The query string selecting the same period, for links to other dashboards.
    pub(crate) fn query(&self) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query.append_pair("period", &self.period);
        if !self.granularity.is_empty() {
            query.append_pair("granularity", &self.granularity);
        }
        if self.period == "custom" {
            query.append_pair("from", &self.from);
            query.append_pair("to", &self.to);
        }
        query.finish()
    }
}

/// A form that carries only its CSRF token (sign-out, revoke and run buttons).
#[derive(Deserialize)]
pub(crate) struct CsrfForm {
    pub(crate) csrf: String,
}

/// Unix `seconds` in the console's time zone, written with `format`.
pub(crate) fn local_time(state: &ConsoleState, seconds: i64, format: &str) -> String {
    state
        .config
        .time_zone
        .timestamp_opt(seconds, 0)
        .single()
        .map(|t| t.format(format).to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_console_paths_are_followed() {
        for good in [
            "/console",
            "/console/overview?period=7d",
            "/console/entrypoints/ep_A/stats?from=2026-01-01&to=2026-03-31",
        ] {
            assert!(is_console_path(good), "{good}");
        }
        for bad in [
            "https://example.org/console",
            "//example.org",
            "/console//example.org",
            "/console\\@example.org",
            "/console/..\t/\t/example.org",
            "/console/\n",
            "/console/../x",
            "/console/./x",
            "/consolex",
            "/console/é",
            &format!("/console/{}", "a".repeat(3000)),
        ] {
            assert!(!is_console_path(bad), "{bad:?}");
        }
    }
}
