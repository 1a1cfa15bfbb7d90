//! The "Servizi" section: the tenant's services ranked by satisfaction and by KPIs, and
//! each service's appointment, application and satisfaction cards laid out like a
//! platform's statistics card (figure, change against the previous period and against the
//! mean, the definition one click away), with charts, a data table and CSV/JSON exports.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::NaiveDate;
use satisfy_aggregator::Granularity;
use satisfy_aggregator::kpi::Figure;
use satisfy_core::Lang;

use crate::ConsoleState;
use crate::auth::{Authenticated, PageUser};
use crate::error::PageError;
use crate::i18n::{UiLang, ui};
use crate::kpi_texts::{self, Unit, figure_text, state_label};
use crate::kpis::{KpiError, KpiParams, KpiSource, ServiceInfo, ServiceKpis, ServicePeriod};
use crate::roles::Capability;
use crate::routes::pages::{Layout, allowed, render};
use crate::stats::bucket_label;

/// `/console/services…`.
pub fn router() -> Router<ConsoleState> {
    Router::new()
        .route("/services", get(list))
        .route("/services/{service}", get(detail))
        .route("/services/{service}/kpis.csv", get(export_csv))
}

impl From<KpiError> for PageError {
    fn from(error: KpiError) -> Self {
        match error {
            KpiError::Range(_) => PageError::Invalid,
            KpiError::Config(error) => error.into(),
            KpiError::Store(error) => error.into(),
        }
    }
}

/// The filters as the form shows them back.
struct Filters {
    granularity: String,
    from: String,
    to: String,
    office: String,
    calendar: String,
    /// The query string of these filters, for links and exports.
    query: String,
}

impl Filters {
    fn of(params: &KpiParams, source: &KpiSource) -> Filters {
        let range = source.range();
        let granularity = format!("{:?}", range.granularity).to_lowercase();
        let office = params.office.clone().unwrap_or_default();
        let calendar = params.calendar.clone().unwrap_or_default();
        let mut query = format!(
            "granularity={granularity}&from={}&to={}",
            range.from, range.to
        );
        for (name, value) in [("office", &office), ("calendar", &calendar)] {
            if !value.is_empty() {
                query.push_str(&format!("&{name}={}", urlencode(value)));
            }
        }
        Filters {
            granularity,
            from: range.from.to_string(),
            to: range.to.to_string(),
            office,
            calendar,
            query,
        }
    }
}

/// Percent-encodes a query value (ids are free text in events).
fn urlencode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// One figure on a card.
struct FigureCard {
    name: &'static str,
    label: &'static str,
    value: String,
    vs_previous: Option<String>,
    vs_average: Option<String>,
    /// `better`, `worse` or `flat`: a colour cue beside the arrow and the words, by
    /// which way the figure is good ([`higher_is_better`]).
    trend: &'static str,
    definition: &'static str,
}

fn card(lang: Lang, name: &str, figure: Option<&Figure>) -> Option<FigureCard> {
    let text = figure_text(lang, name)?;
    let figure = figure.copied().unwrap_or_default();
    let trend = match (figure.delta_previous, higher_is_better(name)) {
        (Some(d), Some(higher)) if d != 0.0 => {
            if (d > 0.0) == higher {
                "better"
            } else {
                "worse"
            }
        }
        _ => "flat",
    };
    Some(FigureCard {
        name: text.name,
        label: text.label,
        value: kpi_texts::value(lang, text.unit, figure.value),
        vs_previous: kpi_texts::variation(lang, text.unit, &figure, false),
        vs_average: kpi_texts::variation(lang, text.unit, &figure, true),
        trend,
        definition: text.definition,
    })
}

/// Which way a figure is good: `Some(true)` when a rise is good news (satisfaction,
/// applications decided in time), `Some(false)` when a fall is (waits, cancellations,
/// no-shows), `None` for volumes, whose change is neither.
fn higher_is_better(name: &str) -> Option<bool> {
    match name {
        "average" | "within_deadline_share" => Some(true),
        "first_availability_days"
        | "cancelled_share"
        | "rescheduled_share"
        | "no_show_share"
        | "take_charge_hours_median"
        | "take_charge_hours_p90"
        | "outcome_days_median"
        | "outcome_days_p90" => Some(false),
        _ => None,
    }
}

const APPOINTMENT_FIGURES: [&str; 9] = [
    "bookings",
    "first_availability_days",
    "saturation",
    "capacity_hours",
    "cancelled_share",
    "rescheduled_share",
    "no_show_share",
    "slots",
    "average_slot_minutes",
];

const APPLICATION_FIGURES: [&str; 7] = [
    "submitted",
    "take_charge_hours_median",
    "take_charge_hours_p90",
    "outcome_days_median",
    "outcome_days_p90",
    "acceptance_rate",
    "within_deadline_share",
];

/// A figure of a period by name, whichever card it belongs to.
fn figure_of<'a>(period: &'a ServicePeriod, name: &str) -> Option<&'a Figure> {
    match name {
        "count" => Some(&period.satisfaction.count),
        "average" => Some(&period.satisfaction.average),
        _ => period
            .kpis
            .appointments
            .get(name)
            .or_else(|| period.kpis.applications.figures.get(name)),
    }
}

/// One service in the ranking.
struct ServiceRow {
    id: String,
    name: String,
    /// (value, change against the previous period) of each ranked figure.
    cells: Vec<(String, String)>,
}

/// How the ranking orders services: by a figure, ascending or descending.
const SORTS: [(&str, bool); 5] = [
    ("average", false),
    ("bookings", true),
    ("submitted", true),
    ("saturation", true),
    ("within_deadline_share", false),
];

#[derive(Template)]
#[template(path = "services.html")]
struct ServicesPage {
    layout: Layout,
    filters: Filters,
    /// (figure, label, selected) of each ranking.
    sorts: Vec<(&'static str, &'static str, bool)>,
    /// Labels of the ranked figures, in column order.
    columns: Vec<&'static str>,
    rows: Vec<ServiceRow>,
    period: String,
    /// Why the dates asked for were not used.
    error: Option<String>,
}

fn display_name(service: &ServiceInfo) -> String {
    service.name.clone().unwrap_or_else(|| service.id.clone())
}

/// A period's first and last day, dd/mm/yyyy in every language.
fn period_label(lang: Lang, period: Option<&ServicePeriod>) -> String {
    let Some(period) = period else {
        return String::new();
    };
    let last = period.kpis.end.pred_opt().unwrap_or(period.kpis.end);
    format!(
        "{} – {}",
        period.kpis.start.format(ui(lang).date_format),
        last.format(ui(lang).date_format)
    )
}

#[derive(serde::Deserialize, Default)]
struct ListQuery {
    #[serde(flatten)]
    params: KpiParams,
    sort: Option<String>,
}

async fn list(
    State(state): State<ConsoleState>,
    PageUser(auth): PageUser,
    UiLang(lang): UiLang,
    Query(query): Query<ListQuery>,
) -> Result<Response, PageError> {
    allowed(&auth, Capability::ReadStats)?;
    let (source, params, error) = page_source(&state, &auth, lang, query.params).await?;
    let sort = query
        .sort
        .as_deref()
        .and_then(|s| SORTS.iter().find(|(name, _)| *name == s))
        .copied()
        .unwrap_or(SORTS[0]);
    let mut ranked: Vec<(Option<f64>, ServiceRow)> = Vec::new();
    let mut period = String::new();
    for service in source.services() {
        let kpis = source.service(&state, &service, &params).await?;
        let current = kpis.periods.last();
        period = period_label(lang, current);
        let cells = SORTS
            .iter()
            .map(|(name, _)| {
                let figure = current.and_then(|p| figure_of(p, name));
                let unit = figure_text(lang, name).map_or(Unit::Count, |t| t.unit);
                (
                    kpi_texts::value(lang, unit, figure.and_then(|f| f.value)),
                    figure
                        .and_then(|f| kpi_texts::variation(lang, unit, f, false))
                        .unwrap_or_default(),
                )
            })
            .collect();
        let key = current
            .and_then(|p| figure_of(p, sort.0))
            .and_then(|f| f.value);
        ranked.push((
            key,
            ServiceRow {
                id: service.id.clone(),
                name: display_name(&service),
                cells,
            },
        ));
    }
    // Services without the figure go last whatever the direction.
    ranked.sort_by(|(a, _), (b, _)| match (a, b) {
        (Some(a), Some(b)) if sort.1 => b.total_cmp(a),
        (Some(a), Some(b)) => a.total_cmp(b),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
    let label = |name: &str| figure_text(lang, name).map_or("", |t| t.label);
    let page = ServicesPage {
        layout: Layout::for_user(lang, &auth, "/console/services"),
        filters: Filters::of(&params, &source),
        sorts: SORTS
            .iter()
            .map(|(name, _)| (*name, label(name), *name == sort.0))
            .collect(),
        columns: SORTS.iter().map(|(name, _)| label(name)).collect(),
        rows: ranked.into_iter().map(|(_, row)| row).collect(),
        period,
        error,
    };
    Ok(render(&page, StatusCode::OK))
}

#[derive(Template)]
#[template(path = "service.html")]
struct ServicePage {
    layout: Layout,
    id: String,
    name: String,
    filters: Filters,
    offices: Vec<String>,
    calendars: Vec<String>,
    period: String,
    appointments: Vec<FigureCard>,
    applications: Vec<FigureCard>,
    satisfaction: Vec<FigureCard>,
    /// (state, count) at the end of the period.
    backlog: Vec<(&'static str, u64)>,
    /// (state, mean hours) of the states left in the period.
    state_hours: Vec<(&'static str, String)>,
    charts: Vec<String>,
    /// Column headings and one row per period, for the data table.
    table_head: Vec<&'static str>,
    table_rows: Vec<(String, Vec<String>)>,
    /// (id, name) of the entrypoints rating the service.
    entrypoints: Vec<(String, String)>,
    /// Why the dates asked for were not used.
    error: Option<String>,
}

/// Without dates, a page ends with the last complete period (week, day or month): one
/// still running, compared with a whole one, reads as a fall (Monday's bookings against
/// all of last week's).
fn complete_periods_by_default(mut params: KpiParams, today: NaiveDate) -> KpiParams {
    let given = |value: &Option<String>| value.as_deref().is_some_and(|v| !v.is_empty());
    if !given(&params.period) && !given(&params.from) && !given(&params.to) {
        let granularity = params
            .granularity
            .as_deref()
            .and_then(Granularity::parse)
            .unwrap_or(Granularity::Week);
        if let Some(end) = granularity.start_of(today).pred_opt() {
            params.to = Some(end.to_string());
        }
    }
    params
}

/// What a page shows: the filters asked for or, when their dates are invalid, the
/// default ones with the reason in the page's language, which the page shows above them
/// (as the other dashboards do).
async fn page_source(
    state: &ConsoleState,
    auth: &Authenticated,
    lang: Lang,
    params: KpiParams,
) -> Result<(KpiSource, KpiParams, Option<String>), PageError> {
    let tz = crate::stats::tenant_time_zone(state, &auth.tenant).await?;
    let today = chrono::Utc::now().with_timezone(&tz).date_naive();
    let asked = complete_periods_by_default(params, today);
    match KpiSource::load(state, &auth.tenant, &asked).await {
        Ok(source) => Ok((source, asked, None)),
        Err(KpiError::Range(reason)) => {
            let default = KpiParams {
                office: asked.office,
                calendar: asked.calendar,
                ..KpiParams::default()
            };
            let default = complete_periods_by_default(default, today);
            let source = KpiSource::load(state, &auth.tenant, &default).await?;
            Ok((source, default, Some(reason.text(ui(lang)))))
        }
        Err(error) => Err(error.into()),
    }
}

/// The service named `id` among the source's, with its KPIs.
async fn load_service(
    state: &ConsoleState,
    source: &KpiSource,
    id: &str,
    params: &KpiParams,
) -> Result<(ServiceInfo, ServiceKpis), PageError> {
    let service = source
        .services()
        .into_iter()
        .find(|s| s.id == id)
        .ok_or(PageError::NotFound)?;
    let kpis = source.service(state, &service, params).await?;
    Ok((service, kpis))
}

/// The figures of the data table and the CSV, in order.
const TABLE_FIGURES: [&str; 8] = [
    "bookings",
    "saturation",
    "cancelled_share",
    "submitted",
    "outcome_days_median",
    "acceptance_rate",
    "count",
    "average",
];

async fn detail(
    State(state): State<ConsoleState>,
    PageUser(auth): PageUser,
    UiLang(lang): UiLang,
    Path(id): Path<String>,
    Query(params): Query<KpiParams>,
) -> Result<Response, PageError> {
    allowed(&auth, Capability::ReadStats)?;
    let (source, params, error) = page_source(&state, &auth, lang, params).await?;
    let (service, kpis) = load_service(&state, &source, &id, &params).await?;
    let current = kpis.periods.last();
    let cards = |names: &[&str]| -> Vec<FigureCard> {
        names
            .iter()
            .filter_map(|name| card(lang, name, current.and_then(|p| figure_of(p, name))))
            .collect()
    };
    let labels: Vec<String> = kpis
        .periods
        .iter()
        .map(|p| bucket_label(kpis.granularity, p.kpis.start))
        .collect();
    let texts = ui(lang);
    let mut charts = Vec::new();
    for name in ["bookings", "submitted", "average"] {
        let Some(text) = figure_text(lang, name) else {
            continue;
        };
        let values: Vec<Option<f64>> = kpis
            .periods
            .iter()
            .map(|p| figure_of(p, name).and_then(|f| f.value))
            .collect();
        match satisfy_charts::figure_chart_svg(&labels, &values, text.label, text.label) {
            Ok(svg) => charts.push(svg),
            Err(error) => tracing::error!(%error, "KPI chart rendering failed"),
        }
    }
    let places = kpis.places.clone();
    let page = ServicePage {
        layout: Layout::for_user(
            lang,
            &auth,
            &format!("/console/services/{}", urlencode(&id)),
        ),
        id: service.id.clone(),
        name: display_name(&service),
        filters: Filters::of(&params, &source),
        offices: places.offices,
        calendars: places.calendars,
        period: period_label(lang, current),
        appointments: cards(&APPOINTMENT_FIGURES),
        applications: cards(&APPLICATION_FIGURES),
        satisfaction: cards(&["count", "average"]),
        backlog: current
            .map(|p| {
                p.kpis
                    .applications
                    .backlog
                    .iter()
                    .map(|(state, count)| (state_label(lang, state), *count))
                    .collect()
            })
            .unwrap_or_default(),
        state_hours: current
            .map(|p| {
                p.kpis
                    .applications
                    .state_hours
                    .iter()
                    .filter_map(|(state, figure)| {
                        figure.value.map(|hours| {
                            (
                                state_label(lang, state),
                                kpi_texts::value(lang, Unit::Hours, Some(hours)),
                            )
                        })
                    })
                    .collect()
            })
            .unwrap_or_default(),
        charts,
        table_head: std::iter::once(texts.period)
            .chain(
                TABLE_FIGURES
                    .iter()
                    .filter_map(|n| figure_text(lang, n).map(|t| t.label)),
            )
            .collect(),
        table_rows: kpis
            .periods
            .iter()
            .map(|p| {
                let cells = TABLE_FIGURES
                    .iter()
                    .map(|name| {
                        let unit = figure_text(lang, name).map_or(Unit::Count, |t| t.unit);
                        kpi_texts::value(lang, unit, figure_of(p, name).and_then(|f| f.value))
                    })
                    .collect();
                (period_label(lang, Some(p)), cells)
            })
            .collect(),
        entrypoints: service
            .entrypoints
            .iter()
            .map(|id| {
                let name = source
                    .entrypoints()
                    .iter()
                    .find(|e| e.id.as_str() == id)
                    .map_or_else(|| id.clone(), |e| e.name.clone());
                (id.clone(), name)
            })
            .collect(),
        error,
    };
    Ok(render(&page, StatusCode::OK))
}

/// Every figure of every period as CSV (UTF-8 with a BOM, so spreadsheets read accents).
async fn export_csv(
    State(state): State<ConsoleState>,
    PageUser(auth): PageUser,
    Path(id): Path<String>,
    Query(params): Query<KpiParams>,
) -> Result<Response, PageError> {
    allowed(&auth, Capability::ReadStats)?;
    let source = KpiSource::load(&state, &auth.tenant, &params).await?;
    let (service, kpis) = load_service(&state, &source, &id, &params).await?;
    let csv = kpis_csv(&kpis).map_err(|_| PageError::Unavailable)?;
    let mut body = "\u{feff}".to_owned();
    body.push_str(&csv);
    let file: String = service
        .id
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"kpi-{file}.csv\""),
            ),
        ],
        body,
    )
        .into_response())
}

/// One row per period: its dates, every figure's value, the backlog by state and the
/// satisfaction. Values are plain numbers (fractions for shares) with a decimal point.
pub fn kpis_csv(kpis: &ServiceKpis) -> Result<String, csv::Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let Some(first) = kpis.periods.first() else {
        return Ok(String::new());
    };
    let mut head = vec!["start".to_owned(), "end".to_owned()];
    head.extend(first.kpis.appointments.keys().map(|k| k.to_string()));
    head.extend(
        first
            .kpis
            .applications
            .figures
            .keys()
            .map(|k| k.to_string()),
    );
    head.extend(
        first
            .kpis
            .applications
            .backlog
            .keys()
            .map(|k| format!("backlog_{k}")),
    );
    head.extend([
        "satisfaction_count".to_owned(),
        "satisfaction_average".to_owned(),
    ]);
    writer.write_record(&head)?;
    let number = |f: &Figure| f.value.map(|v| v.to_string()).unwrap_or_default();
    for period in &kpis.periods {
        let mut row = vec![period.kpis.start.to_string(), period.kpis.end.to_string()];
        row.extend(period.kpis.appointments.values().map(number));
        row.extend(period.kpis.applications.figures.values().map(number));
        row.extend(
            period
                .kpis
                .applications
                .backlog
                .values()
                .map(u64::to_string),
        );
        row.push(number(&period.satisfaction.count));
        row.push(number(&period.satisfaction.average));
        writer.write_record(&row)?;
    }
    let bytes = writer.into_inner().map_err(|e| e.into_error())?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trend(name: &str, delta_previous: Option<f64>) -> &'static str {
        let figure = Figure {
            value: Some(1.0),
            delta_previous,
            ..Figure::default()
        };
        card(Lang::It, name, Some(&figure)).map_or("no card", |card| card.trend)
    }

    #[test]
    fn a_card_is_coloured_by_whether_its_change_is_good_news() {
        assert_eq!(trend("average", Some(0.4)), "better");
        assert_eq!(trend("average", Some(-0.4)), "worse");
        assert_eq!(trend("first_availability_days", Some(-2.0)), "better");
        assert_eq!(trend("no_show_share", Some(0.05)), "worse");
        assert_eq!(trend("bookings", Some(-10.0)), "flat");
        assert_eq!(trend("within_deadline_share", Some(0.0)), "flat");
        assert_eq!(trend("outcome_days_p90", None), "flat");
    }
}
