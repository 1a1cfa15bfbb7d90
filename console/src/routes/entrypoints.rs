//! The tenant's entrypoints: list, creation and editing forms, the snippet to paste and
//! the statistics page.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use satisfy_core::{Entrypoint, EntrypointId, EntrypointKind, EntrypointStatus, Lang, Origin};
use serde::Deserialize;

use crate::ConsoleState;
use crate::auth::{Authenticated, PageUser};
use crate::error::PageError;
use crate::forms::{InputError, parse_custom_form, parse_name, parse_origins, parse_service};
use crate::i18n::{UiLang, ui};
use crate::roles::Capability;
use crate::routes::charts::{ChartView, report_charts};
use crate::routes::overview::compared_with;
use crate::routes::overview::{Change, average_change, count_change};
use crate::routes::pages::{Layout, PeriodForm, allowed, check_csrf, local_time, render};
use crate::stats::{self, PagePeriod, StatsParams};
use crate::store::{AuditEntry, EntrypointChanges, new_entrypoint};

/// `/console/entrypoints…`.
pub fn router() -> Router<ConsoleState> {
    Router::new()
        .route("/entrypoints", get(list).post(create))
        .route("/entrypoints/new", get(new_form))
        .route("/entrypoints/{id}", post(update))
        .route("/entrypoints/{id}/edit", get(edit_form))
        .route("/entrypoints/{id}/snippet", get(snippet))
        .route("/entrypoints/{id}/self-test", post(self_test))
        .route("/entrypoints/{id}/preview", get(preview))
        .route("/entrypoints/{id}/stats", get(statistics))
}

struct Row {
    id: String,
    name: String,
    kind: &'static str,
    created: String,
    main_question: String,
    additional_questions: usize,
    status: &'static str,
}

#[derive(Template)]
#[template(path = "entrypoints.html")]
struct ListPage {
    layout: Layout,
    rows: Vec<Row>,
}

fn local_date(state: &ConsoleState, lang: Lang, seconds: i64) -> String {
    local_time(state, seconds, ui(lang).date_format)
}
async fn list(
    State(state): State<ConsoleState>,
    PageUser(auth): PageUser,
    UiLang(lang): UiLang,
) -> Result<Response, PageError> {
    let entrypoints = state.store.entrypoints(&auth.tenant).await?;
    let texts = ui(lang);
    let rows = entrypoints
        .iter()
        .map(|e| {
            let survey = e.survey(lang);
            Row {
                id: e.id.to_string(),
                name: e.name.clone(),
                kind: e.kind.label(lang),
                created: local_date(&state, lang, e.created_at),
                main_question: survey.title.clone(),
                additional_questions: survey.additional_questions(),
                status: if e.is_active() {
                    texts.active
                } else {
                    texts.paused
                },
            }
        })
        .collect();
    let page = ListPage {
        layout: Layout::for_user(lang, &auth, "/console/entrypoints"),
        rows,
    };
    Ok(render(&page, StatusCode::OK))
}

#[derive(Template)]
#[template(path = "entrypoint_form.html")]
struct FormPage {
    layout: Layout,
    heading: String,
    action: String,
    is_new: bool,
    error: Option<String>,
    name: String,
    kinds: Vec<(&'static str, &'static str)>,
    kind: &'static str,
    kind_label: &'static str,
    active: bool,
    origins: String,
    /// The rated service; the field shows for new entrypoints and those rating a service.
    service: String,
    show_service: bool,
    show_custom: bool,
    custom_question: String,
    custom_follow_ups: Vec<(usize, String, String)>,
}

impl FormPage {
    fn new(layout: Layout, lang: Lang, entrypoint: Option<&Entrypoint>) -> FormPage {
        let texts = layout.ui;
        let kind = entrypoint
            .map(|e| e.kind)
            .unwrap_or(EntrypointKind::PaginaWeb);
        let custom = entrypoint
            .and_then(|e| e.custom.clone())
            .unwrap_or_default();
        let custom_follow_ups = (0..satisfy_core::entrypoint::MAX_CUSTOM_QUESTIONS)
            .map(|i| match custom.follow_ups.get(i) {
                Some(q) => (i + 1, q.question.clone(), q.options.join("\n")),
                None => (i + 1, String::new(), String::new()),
            })
            .collect();
        FormPage {
            heading: match entrypoint {
                Some(e) => format!("{}: {}", texts.edit, e.name),
                None => texts.add_entrypoint.to_owned(),
            },
            action: match entrypoint {
                Some(e) => format!("/console/entrypoints/{}", e.id),
                None => "/console/entrypoints".to_owned(),
            },
            is_new: entrypoint.is_none(),
            error: None,
            name: entrypoint.map(|e| e.name.clone()).unwrap_or_default(),
            kinds: EntrypointKind::ALL
                .iter()
                .map(|k| (k.code(), k.label(lang)))
                .collect(),
            kind: kind.code(),
            kind_label: kind.label(lang),
            active: entrypoint.is_none_or(|e| e.is_active()),
            origins: entrypoint
                .map(|e| {
                    e.allowed_origins
                        .iter()
                        .map(|o| o.as_str())
                        .collect::<Vec<_>>()
                        .join("\n")
                })
                .unwrap_or_default(),
            service: entrypoint
                .and_then(|e| e.service.clone())
                .unwrap_or_default(),
            show_service: entrypoint.is_none_or(|e| e.kind.rates_a_service()),
            show_custom: kind == EntrypointKind::Personalizzato,
            custom_question: custom.question,
            custom_follow_ups,
            layout,
        }
    }
}

async fn new_form(PageUser(auth): PageUser, UiLang(lang): UiLang) -> Result<Response, PageError> {
    allowed(&auth, Capability::ManageEntrypoints)?;
    let layout = Layout::for_user(lang, &auth, "/console/entrypoints/new");
    Ok(render(&FormPage::new(layout, lang, None), StatusCode::OK))
}

/// The entrypoint form as submitted: creation sends name, kind and origins; editing also
/// the status and, for a custom entrypoint, its wording (`q1`…`q3` with their answers).
#[derive(Debug, Deserialize)]
struct EntrypointForm {
    /// Missing, it is refused as a forged form (403), not as bad input.
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    origins: String,
    #[serde(default)]
    service: String,
    #[serde(default)]
    custom_question: String,
    #[serde(default)]
    q1: String,
    #[serde(default)]
    q1_options: String,
    #[serde(default)]
    q2: String,
    #[serde(default)]
    q2_options: String,
    #[serde(default)]
    q3: String,
    #[serde(default)]
    q3_options: String,
}

impl EntrypointForm {
    /// The additional questions with their answers, one per line, in order.
    fn follow_ups(&self) -> Vec<(String, String)> {
        [
            (&self.q1, &self.q1_options),
            (&self.q2, &self.q2_options),
            (&self.q3, &self.q3_options),
        ]
        .into_iter()
        .take(satisfy_core::entrypoint::MAX_CUSTOM_QUESTIONS)
        .map(|(question, options)| (question.clone(), options.clone()))
        .collect()
    }
}

async fn create(
    State(state): State<ConsoleState>,
    PageUser(auth): PageUser,
    UiLang(lang): UiLang,
    Form(form): Form<EntrypointForm>,
) -> Result<Response, PageError> {
    check_csrf(&auth, &form.csrf)?;
    allowed(&auth, Capability::ManageEntrypoints)?;
    let kind = EntrypointKind::parse(&form.kind).unwrap_or(EntrypointKind::PaginaWeb);
    let parsed = parse_name(&form.name).and_then(|name| {
        Ok((
            name,
            parse_origins(form.origins.lines())?,
            parse_service(kind, &form.service)?,
        ))
    });
    let (name, origins, service) = match parsed {
        Ok(values) => values,
        Err(error) => {
            let layout = Layout::for_user(lang, &auth, "/console/entrypoints/new");
            let mut page = FormPage::new(layout, lang, None);
            page.error = Some(error.text(ui(lang)));
            page.name = form.name;
            page.kind = kind.code();
            page.origins = form.origins;
            page.service = form.service;
            return Ok(render(&page, StatusCode::UNPROCESSABLE_ENTITY));
        }
    };
    let mut entrypoint = new_entrypoint(auth.tenant.clone(), name, kind, origins, None);
    entrypoint.service = service;
    state.store.create_entrypoint(&entrypoint).await?;
    tracing::info!(id = %entrypoint.id, kind = kind.code(), "entrypoint created");
    let entry = AuditEntry::now(
        Some(&auth.tenant),
        &auth.actor,
        "entrypoint_created",
        Some(entrypoint.id.as_str()),
    );
    state.store.record(entry).await?;
    // A custom entrypoint needs its wording first; the others are ready to embed.
    let next = if kind == EntrypointKind::Personalizzato {
        "edit"
    } else {
        "snippet"
    };
    Ok(Redirect::to(&format!("/console/entrypoints/{}/{next}", entrypoint.id)).into_response())
}

/// The entrypoint `id` of the user's tenant (404 for any other tenant's, whatever the
/// role), if the user may do `capability` with it (403 otherwise).
pub(crate) async fn owned(
    state: &ConsoleState,
    auth: &Authenticated,
    id: &str,
    capability: Capability,
) -> Result<Entrypoint, PageError> {
    let id = EntrypointId::parse(id).ok_or(PageError::NotFound)?;
    let entrypoint = state
        .store
        .entrypoint(&auth.tenant, &id)
        .await?
        .ok_or(PageError::NotFound)?;
    allowed(auth, capability)?;
    Ok(entrypoint)
}

async fn edit_form(
    State(state): State<ConsoleState>,
    PageUser(auth): PageUser,
    UiLang(lang): UiLang,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let entrypoint = owned(&state, &auth, &id, Capability::ManageEntrypoints).await?;
    let layout = Layout::for_user(lang, &auth, &format!("/console/entrypoints/{id}/edit"));
    Ok(render(
        &FormPage::new(layout, lang, Some(&entrypoint)),
        StatusCode::OK,
    ))
}

async fn update(
    State(state): State<ConsoleState>,
    PageUser(auth): PageUser,
    UiLang(lang): UiLang,
    Path(id): Path<String>,
    Form(form): Form<EntrypointForm>,
) -> Result<Response, PageError> {
    check_csrf(&auth, &form.csrf)?;
    let entrypoint = owned(&state, &auth, &id, Capability::ManageEntrypoints).await?;
    let follow_ups = form.follow_ups();
    let changes = (|| -> Result<EntrypointChanges, InputError> {
        Ok(EntrypointChanges {
            name: Some(parse_name(&form.name)?),
            status: Some(EntrypointStatus::parse(&form.status).unwrap_or(entrypoint.status)),
            allowed_origins: Some(parse_origins(form.origins.lines())?),
            custom: match entrypoint.kind {
                EntrypointKind::Personalizzato => {
                    Some(parse_custom_form(&form.custom_question, &follow_ups)?)
                }
                _ => None,
            },
            service: Some(parse_service(entrypoint.kind, &form.service)?),
        })
    })();
    match changes {
        Ok(changes) => {
            state
                .store
                .update_entrypoint(&auth.tenant, &entrypoint.id, changes)
                .await?;
            tracing::info!(id = %entrypoint.id, "entrypoint updated");
            let entry = AuditEntry::now(
                Some(&auth.tenant),
                &auth.actor,
                "entrypoint_updated",
                Some(entrypoint.id.as_str()),
            );
            state.store.record(entry).await?;
            Ok(Redirect::to("/console/entrypoints").into_response())
        }
        Err(error) => {
            let layout = Layout::for_user(lang, &auth, &format!("/console/entrypoints/{id}/edit"));
            let mut page = FormPage::new(layout, lang, Some(&entrypoint));
            page.error = Some(error.text(ui(lang)));
            page.name = form.name;
            if let Some(status) = EntrypointStatus::parse(&form.status) {
                page.active = status == EntrypointStatus::Active;
            }
            page.origins = form.origins;
            page.service = form.service;
            page.custom_question = form.custom_question;
            page.custom_follow_ups = follow_ups
                .into_iter()
                .enumerate()
                .map(|(i, (q, o))| (i + 1, q, o))
                .collect();
            Ok(render(&page, StatusCode::UNPROCESSABLE_ENTITY))
        }
    }
}

#[derive(Template)]
#[template(path = "snippet.html")]
struct SnippetPage {
    layout: Layout,
    id: String,
    name: String,
    snippet: String,
    /// The snippet for pages in several languages.
    snippet_multilingual: String,
    target: String,
    /// The page last self-tested, and what the check found.
    self_test: Option<SelfTest>,
}

/// A self-test's result as the snippet page shows it.
struct SelfTest {
    url: String,
    /// `None` when the address was refused before any check.
    verdict: Option<&'static str>,
    class: &'static str,
    errors: Vec<String>,
    stricter: Vec<String>,
}

/// The HTML a webmaster pastes: one async script tag, usable as is in a Google Tag
/// Manager "Custom HTML" tag or in a CMS template. It loads the entrypoint's own loader,
/// which carries its configuration, so the stars render without a second request; the
/// shared `satisfy.js` with the same attribute keeps working for snippets pasted before.
pub fn snippet_html(public_url: &str, id: &EntrypointId) -> String {
    format!(
        "<!-- Satisfy: valutazione della pagina -->\n<script async src=\"{}\" data-entrypoint=\"{id}\"></script>",
        loader_url(public_url, id)
    )
}

/// The entrypoint's own loader, as ingest serves it at `public_url`.
fn loader_url(public_url: &str, id: &EntrypointId) -> String {
    format!("{public_url}/widget/v1/{id}.js")
}

/// The snippet for sites whose pages are not all in Italian (the bilingual comuni of South
/// Tyrol, pages in English): a small inline script that loads the entrypoint's loader in
/// the language of the page (`<html lang>`), so that a page in German or English too gets
/// its texts with the loader and renders the stars with no request in between. Tag
/// Manager's Custom HTML tags run inline scripts; a template whose Content-Security-Policy
/// forbids them uses [`snippet_html`] with `?lang=de` or `?lang=en` after `.js` instead.
pub fn snippet_multilingual_html(public_url: &str, id: &EntrypointId) -> String {
    // A JavaScript string, with no `<` that could end the script element early.
    let loader = serde_json::Value::from(format!("{}?lang=", loader_url(public_url, id)))
        .to_string()
        .replace('<', "\\u003c");
    format!(
        "<!-- Satisfy: valutazione della pagina, nella lingua della pagina -->\n<script>(function(d){{var s=d.createElement(\"script\");s.async=true;s.src={loader}+encodeURIComponent(d.documentElement.lang);s.setAttribute(\"data-entrypoint\",\"{id}\");(d.body||d.head).appendChild(s)}})(document)</script>"
    )
}

/// The optional container that fixes where the widget renders.
pub fn target_html(id: &EntrypointId) -> String {
    format!("<div data-satisfy-entrypoint=\"{id}\"></div>")
}

async fn snippet(
    State(state): State<ConsoleState>,
    PageUser(auth): PageUser,
    UiLang(lang): UiLang,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let entrypoint = owned(&state, &auth, &id, Capability::ManageEntrypoints).await?;
    Ok(snippet_page(&state, &auth, lang, &entrypoint, None))
}

fn snippet_page(
    state: &ConsoleState,
    auth: &Authenticated,
    lang: Lang,
    entrypoint: &Entrypoint,
    self_test: Option<SelfTest>,
) -> Response {
    let id = entrypoint.id.as_str();
    let page = SnippetPage {
        layout: Layout::for_user(lang, auth, &format!("/console/entrypoints/{id}/snippet")),
        id: id.to_owned(),
        name: entrypoint.name.clone(),
        snippet: snippet_html(&state.config.public_url, &entrypoint.id),
        snippet_multilingual: snippet_multilingual_html(&state.config.public_url, &entrypoint.id),
        target: target_html(&entrypoint.id),
        self_test,
    };
    render(&page, StatusCode::OK)
}

#[derive(Deserialize)]
struct PreviewQuery {
    lang: Option<String>,
}

/// The live widget of an entrypoint in one language, for the snippet page's frames: the
/// real script and configuration from ingest, in preview mode (nothing is stored). Its own
/// policy lets it load the widget from ingest and be framed by the console only.
async fn preview(
    State(state): State<ConsoleState>,
    PageUser(auth): PageUser,
    Path(id): Path<String>,
    Query(query): Query<PreviewQuery>,
) -> Result<Response, PageError> {
    let entrypoint = owned(&state, &auth, &id, Capability::ManageEntrypoints).await?;
    let lang = query
        .lang
        .as_deref()
        .and_then(Lang::from_tag)
        .unwrap_or_default();
    let ingest = &state.config.public_url;
    let policy = format!(
        "default-src 'none'; script-src {ingest} 'wasm-unsafe-eval'; connect-src {ingest}; \
         style-src {ingest} 'unsafe-inline'; img-src {ingest} data:; font-src {ingest}; \
         base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
    );
    let html = format!(
        "<!doctype html><html lang=\"{code}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\"><title>{title}</title></head>\
         <body><main><h1>{title}</h1>\
         <script async src=\"{loader}?lang={code}\" data-entrypoint=\"{id}\" \
         data-lang=\"{code}\" data-preview></script></main></body></html>",
        code = lang.code(),
        title = ui(lang).preview_title,
        loader = loader_url(ingest, &entrypoint.id),
        id = entrypoint.id.as_str(),
    );
    Ok((
        [
            (header::CONTENT_SECURITY_POLICY, policy),
            (header::X_FRAME_OPTIONS, "SAMEORIGIN".to_owned()),
            (header::CONTENT_TYPE, "text/html; charset=utf-8".to_owned()),
        ],
        html,
    )
        .into_response())
}

#[derive(Deserialize)]
struct SelfTestForm {
    csrf: String,
    url: String,
}

/// Runs the validator's component check on one page of the entrypoint's sites (never
/// elsewhere: the console's browser must not become a way into other hosts).
async fn self_test(
    State(state): State<ConsoleState>,
    PageUser(auth): PageUser,
    UiLang(lang): UiLang,
    Path(id): Path<String>,
    Form(form): Form<SelfTestForm>,
) -> Result<Response, PageError> {
    check_csrf(&auth, &form.csrf)?;
    let entrypoint = owned(&state, &auth, &id, Capability::ManageEntrypoints).await?;
    let url = form.url.trim().to_owned();
    let site = state
        .store
        .tenant(&auth.tenant)
        .await?
        .and_then(|t| t.site_url);
    let origin = url::Url::parse(&url)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .map(|u| u.origin().ascii_serialization());
    let site_origin = site
        .as_deref()
        .and_then(|s| url::Url::parse(s).ok())
        .map(|u| u.origin().ascii_serialization());
    let allowed = origin.as_deref().is_some_and(|origin| {
        Origin::parse(origin).is_some_and(|o| entrypoint.allowed_origins.contains(&o))
            || site_origin.as_deref() == Some(origin)
    });
    if !allowed {
        let refused = SelfTest {
            url,
            verdict: None,
            class: "bad",
            errors: vec![ui(lang).self_test_not_allowed.to_owned()],
            stricter: Vec::new(),
        };
        return Ok(snippet_page(
            &state,
            &auth,
            lang,
            &entrypoint,
            Some(refused),
        ));
    }
    let settings = satisfy_compliance::Settings {
        browser: state.config.compliance.browser.clone(),
        ..satisfy_compliance::Settings::default()
    };
    let result = match satisfy_compliance::check_page(&url, &settings).await {
        Ok(check) => {
            let verdict = check
                .verdict()
                .unwrap_or(satisfy_compliance::Verdict::Error);
            SelfTest {
                url,
                verdict: Some(super::compliance::verdict_word(lang, verdict)),
                class: super::compliance::verdict_class(verdict),
                errors: check.errors(),
                stricter: check.stricter(),
            }
        }
        Err(error) => SelfTest {
            url,
            verdict: None,
            class: "bad",
            errors: vec![error.to_string()],
            stricter: Vec::new(),
        },
    };
    Ok(snippet_page(&state, &auth, lang, &entrypoint, Some(result)))
}

#[derive(Template)]
#[template(path = "stats.html")]
struct StatsPage {
    layout: Layout,
    id: String,
    name: String,
    question: String,
    periods: PeriodForm,
    error: Option<String>,
    compared: String,
    total: u64,
    total_change: Option<Change>,
    average: String,
    average_change: Option<Change>,
    /// The range's dates, for the export links.
    export_query: String,
    aggregates_query: String,
    /// The rows an export is expected to have, 0 when unknown.
    export_total: u64,
    charts: Vec<ChartView>,
    distribution: Vec<(usize, u64)>,
    answers: Vec<(String, u64)>,
    pages: Vec<(String, u64, String)>,
    /// `None` for auditors, who never see free-text comments.
    comments: Option<Vec<(String, u8, String, String)>>,
}

fn format_average(lang: Lang, average: f64) -> String {
    let text = format!("{average:.2}");
    // Italian and German write decimals with a comma.
    if lang == Lang::En {
        text
    } else {
        text.replace('.', ",")
    }
}

async fn statistics(
    State(state): State<ConsoleState>,
    PageUser(auth): PageUser,
    UiLang(lang): UiLang,
    Path(id): Path<String>,
    Query(params): Query<StatsParams>,
) -> Result<Response, PageError> {
    let entrypoint = owned(&state, &auth, &id, Capability::ReadStats).await?;
    let tz = stats::tenant_time_zone(&state, &entrypoint.tenant).await?;
    let today = chrono::Utc::now().with_timezone(&tz).date_naive();
    let PagePeriod {
        shown,
        range,
        error,
    } = PagePeriod::resolve(params, StatsParams::default(), today).ok_or(PageError::NotFound)?;
    let with_comments = auth.can(Capability::ReadComments);
    let report = stats::report(&state, &entrypoint, range, tz, with_comments).await?;
    let texts = ui(lang);
    let survey = entrypoint.survey(lang);
    let charts = report_charts(lang, texts, &survey, &report).map_err(|error| {
        tracing::error!(%error, "chart rendering failed");
        PageError::Unavailable
    })?;
    let previous = &report.previous;
    let page = StatsPage {
        layout: Layout::for_user(lang, &auth, &format!("/console/entrypoints/{id}/stats")),
        id: entrypoint.id.as_str().to_owned(),
        name: entrypoint.name.clone(),
        question: survey.title.clone(),
        periods: PeriodForm::new(texts, &shown, range),
        error: error.map(|e| e.text(texts)),
        compared: compared_with(texts, previous.from, previous.to),
        total: report.summary.count,
        total_change: count_change(lang, previous.summary.count, report.summary.count),
        average: format_average(lang, report.summary.average()),
        average_change: average_change(lang, &previous.summary, &report.summary),
        export_query: format!("from={}&to={}", range.from, range.to),
        aggregates_query: format!(
            "from={}&to={}&granularity={}",
            range.from,
            range.to,
            range.granularity.code()
        ),
        export_total: report.summary.count,
        charts,
        distribution: (1..=5)
            .rev()
            .map(|s| (s, report.summary.distribution[s - 1]))
            .collect(),
        answers: report
            .answers
            .iter()
            .map(|a| {
                (
                    survey
                        .answer_label(&a.option)
                        .unwrap_or_else(|| a.option.clone()),
                    a.count,
                )
            })
            .collect(),
        pages: report
            .pages
            .iter()
            .map(|p| {
                (
                    p.page.clone(),
                    p.tally.count,
                    format_average(lang, p.tally.average()),
                )
            })
            .collect(),
        comments: report.comments.as_ref().map(|comments| {
            comments
                .iter()
                .map(|c| {
                    let date = local_date(&state, lang, c.created_at_ms / 1000);
                    (
                        date,
                        c.rating,
                        c.page.clone(),
                        c.comment.clone().unwrap_or_default(),
                    )
                })
                .collect()
        }),
    };
    Ok(render(&page, StatusCode::OK))
}
