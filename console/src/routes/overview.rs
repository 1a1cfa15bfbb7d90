//! `/console/overview`, the landing page of those who read statistics: every entrypoint
//! against the previous period, with a sparkline, and what got worse.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use satisfy_aggregator::Tally;
use satisfy_core::Lang;

use crate::ConsoleState;
use crate::auth::PageUser;
use crate::error::PageError;
use crate::i18n::{Ui, UiLang, fill, ui};
use crate::kpi_texts::number;
use crate::overview::{self, Alert, Overview};
use crate::roles::Capability;
use crate::routes::pages::{Layout, PeriodForm, allowed, render};
use crate::stats::{self, PagePeriod, StatsParams, bucket_label};

/// `/console/` and `/console/overview`.
pub fn router() -> Router<ConsoleState> {
    Router::new()
        .route("/", get(landing))
        .route("/overview", get(page))
}

/// The overview for those who read statistics; the entrypoints for editors.
async fn landing(PageUser(auth): PageUser) -> Redirect {
    if auth.can(Capability::ReadStats) {
        Redirect::to("/console/overview")
    } else {
        Redirect::to("/console/entrypoints")
    }
}

/// A figure and its change, as a card shows them.
pub(crate) struct Change {
    /// `up`, `down` or `flat`, for the colour.
    pub(crate) trend: &'static str,
    pub(crate) text: String,
}

/// The relative change of a count, e.g. "+12%"; `None` without a previous count.
pub(crate) fn count_change(lang: Lang, previous: u64, current: u64) -> Option<Change> {
    if previous == 0 {
        return None;
    }
    let relative = (current as f64 - previous as f64) / previous as f64 * 100.0;
    Some(change(lang, relative, 0, crate::kpi_texts::percent(lang)))
}

/// The change of an average in stars, e.g. "−0,40"; `None` unless both have ratings.
pub(crate) fn average_change(lang: Lang, previous: &Tally, current: &Tally) -> Option<Change> {
    if previous.count == 0 || current.count == 0 {
        return None;
    }
    Some(change(lang, current.average() - previous.average(), 2, ""))
}

fn change(lang: Lang, delta: f64, decimals: usize, unit: &str) -> Change {
    let shown = number(lang, delta.abs(), decimals);
    let zero = shown.chars().all(|c| matches!(c, '0' | ',' | '.'));
    let (trend, sign) = match (zero, delta > 0.0) {
        (true, _) => ("flat", "±"),
        (false, true) => ("up", "+"),
        (false, false) => ("down", "−"),
    };
    Change {
        trend,
        text: format!("{sign}{shown}{unit}"),
    }
}

struct Row {
    name: String,
    href: String,
    count: String,
    count_change: Option<Change>,
    average: String,
    average_change: Option<Change>,
    sparkline: String,
}

struct Line {
    kind: &'static str,
    href: String,
    text: String,
}

#[derive(Template)]
#[template(path = "overview.html")]
struct OverviewPage {
    layout: Layout,
    periods: PeriodForm,
    error: Option<String>,
    compared: String,
    total: String,
    total_change: Option<Change>,
    average: String,
    average_change: Option<Change>,
    alerts: Vec<Line>,
    rows: Vec<Row>,
}

fn average_text(lang: Lang, tally: &Tally) -> String {
    if tally.count == 0 {
        "–".into()
    } else {
        number(lang, tally.average(), 2)
    }
}

/// The line naming the period the figures are compared with.
pub(crate) fn compared_with(texts: &Ui, from: chrono::NaiveDate, to: chrono::NaiveDate) -> String {
    let date = |d: chrono::NaiveDate| d.format(texts.date_format).to_string();
    fill(
        texts.vs_previous,
        &[("from", &date(from)), ("to", &date(to))],
    )
}

/// One line of "to look at"; a page's line leads to its comments, or to the
/// entrypoint's statistics for a role that may not read comments (auditors).
fn line(lang: Lang, texts: &Ui, alert: &Alert, query: &str, reads_comments: bool) -> Line {
    let stats = |entrypoint: &str| format!("/console/entrypoints/{entrypoint}/stats?{query}");
    let comments = |entrypoint: &str, page: &str| {
        if !reads_comments {
            return stats(entrypoint);
        }
        let page: String = url::form_urlencoded::byte_serialize(page.as_bytes()).collect();
        format!("/console/entrypoints/{entrypoint}/comments?{query}&page={page}")
    };
    match alert {
        Alert::AverageFell {
            entrypoint,
            name,
            page,
            previous,
            current,
        } => {
            let values = [
                ("name", name.as_str()),
                ("page", page.as_deref().unwrap_or("")),
                ("before", &average_text(lang, previous)),
                ("after", &average_text(lang, current)),
                ("count", &current.count.to_string()),
            ];
            match page {
                None => Line {
                    kind: "average",
                    href: stats(entrypoint),
                    text: fill(texts.alert_average_fell, &values),
                },
                Some(page) => Line {
                    kind: "page",
                    href: comments(entrypoint, page),
                    text: fill(texts.alert_page_fell, &values),
                },
            }
        }
        Alert::TechnicalProblems {
            entrypoint,
            name,
            previous_hits,
            previous_count,
            current_hits,
            current_count,
        } => {
            let share = |hits: u64, count: u64| number(lang, hits as f64 / count as f64 * 100.0, 1);
            Line {
                kind: "technical",
                href: stats(entrypoint),
                text: fill(
                    texts.alert_technical,
                    &[
                        ("name", name),
                        ("before", &share(*previous_hits, *previous_count)),
                        ("after", &share(*current_hits, *current_count)),
                    ],
                ),
            }
        }
        Alert::NegativeAnswers {
            entrypoint,
            name,
            page,
            count,
        } => Line {
            kind: "negative",
            href: comments(entrypoint, page),
            text: fill(
                texts.alert_negative,
                &[
                    ("name", name),
                    ("page", page),
                    ("count", &count.to_string()),
                ],
            ),
        },
    }
}

fn view(
    lang: Lang,
    reads_comments: bool,
    layout: Layout,
    periods: PeriodForm,
    error: Option<String>,
    overview: &Overview,
) -> OverviewPage {
    let texts = ui(lang);
    let query = periods.query();
    let rows = overview
        .entrypoints
        .iter()
        .map(|trend| {
            let averages: Vec<Option<f64>> = trend
                .series
                .iter()
                .map(|b| (b.tally.count > 0).then(|| b.tally.average()))
                .collect();
            let values: Vec<String> = trend
                .series
                .iter()
                .map(|b| {
                    format!(
                        "{} {}",
                        bucket_label(overview.range.granularity, b.start),
                        average_text(lang, &b.tally)
                    )
                })
                .collect();
            let label = fill(texts.sparkline_label, &[("values", &values.join(", "))]);
            Row {
                name: trend.name.clone(),
                href: format!("/console/entrypoints/{}/stats?{query}", trend.id),
                count: trend.current.count.to_string(),
                count_change: count_change(lang, trend.previous.count, trend.current.count),
                average: average_text(lang, &trend.current),
                average_change: average_change(lang, &trend.previous, &trend.current),
                sparkline: satisfy_charts::sparkline_svg(&averages, &label),
            }
        })
        .collect();
    OverviewPage {
        layout,
        compared: compared_with(texts, overview.previous_from, overview.previous_to),
        total: overview.current.count.to_string(),
        total_change: count_change(lang, overview.previous.count, overview.current.count),
        average: average_text(lang, &overview.current),
        average_change: average_change(lang, &overview.previous, &overview.current),
        alerts: overview
            .watch
            .iter()
            .map(|alert| line(lang, texts, alert, &query, reads_comments))
            .collect(),
        rows,
        periods,
        error,
    }
}

async fn page(
    State(state): State<ConsoleState>,
    PageUser(auth): PageUser,
    UiLang(lang): UiLang,
    Query(params): Query<StatsParams>,
) -> Result<Response, PageError> {
    allowed(&auth, Capability::ReadStats)?;
    let tz = stats::tenant_time_zone(&state, &auth.tenant).await?;
    let today = chrono::Utc::now().with_timezone(&tz).date_naive();
    let default = StatsParams {
        period: Some("30d".into()),
        ..StatsParams::default()
    };
    let asked = if params.period.is_none() && params.from.is_none() && params.to.is_none() {
        StatsParams {
            granularity: params.granularity.clone(),
            ..default.clone()
        }
    } else {
        params
    };
    let PagePeriod {
        shown,
        range,
        error,
    } = PagePeriod::resolve(asked, default, today).ok_or(PageError::NotFound)?;
    let overview = overview::build(&state, &auth.tenant, range, tz).await?;
    let layout = Layout::for_user(lang, &auth, "/console/overview");
    let periods = PeriodForm::new(ui(lang), &shown, range);
    Ok(render(
        &view(
            lang,
            auth.can(Capability::ReadComments),
            layout,
            periods,
            error.map(|e| e.text(ui(lang))),
            &overview,
        ),
        StatusCode::OK,
    )
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_read_with_sign_and_decimal_comma() {
        let text = |c: Option<Change>| c.map(|c| (c.trend, c.text));
        assert_eq!(
            text(count_change(Lang::It, 100, 112)),
            Some(("up", "+12%".to_owned()))
        );
        assert_eq!(
            text(count_change(Lang::En, 200, 150)),
            Some(("down", "−25%".to_owned()))
        );
        assert_eq!(text(count_change(Lang::It, 0, 10)), None);
        let tally = |stars: u8, n: u64| {
            let mut t = Tally::default();
            t.add(stars, n);
            t
        };
        assert_eq!(
            text(average_change(Lang::It, &tally(4, 3), &tally(3, 1))),
            Some(("down", "−1,00".to_owned()))
        );
        assert_eq!(
            text(average_change(Lang::De, &tally(4, 3), &tally(4, 1))),
            Some(("flat", "±0,00".to_owned()))
        );
        assert_eq!(
            fill("{a} e {b}", &[("a", "uno"), ("b", "due")]),
            "uno e due"
        );
    }
}
