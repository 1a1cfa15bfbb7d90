//! "Conformità PNRR": the verdict per criterion as the AgID validator would give it, the
//! risk spelled out, every candidate page with the validator's messages and the ratings
//! citizens left there, the history of runs (weekly and on demand), printable, with CSV and
//! JSON exports. Tenant administrators and auditors see it; administrators start runs.

use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use satisfy_aggregator::model::PageEvidence;
use satisfy_compliance::{CriterionVerdict, PageKind, Verdict};
use satisfy_core::Lang;
use serde::Deserialize;
use std::collections::HashMap;

use super::pages::{CsrfForm, Layout, allowed, check_csrf, local_time, render};
use crate::ConsoleState;
use crate::auth::{Authenticated, PageUser};
use crate::error::PageError;
use crate::i18n::{UiLang, ui};
use crate::roles::Capability;
use crate::store::{AuditEntry, ComplianceRun, ComplianceStatus};

/// Runs listed in the history.
const HISTORY: u32 = 20;

pub fn router() -> Router<ConsoleState> {
    Router::new()
        .route("/compliance", get(page))
        .route("/compliance/run", post(run_now))
        .route("/compliance/runs/{id}/report.json", get(report_json))
        .route("/compliance/runs/{id}/report.csv", get(report_csv))
}

/// The page's words in one language; the validator's own messages stay in Italian, as the
/// auditor's report shows them.
struct Texts {
    title: &'static str,
    intro: &'static str,
    site: &'static str,
    no_site: &'static str,
    run_now: &'static str,
    in_progress: &'static str,
    no_runs: &'static str,
    failed: &'static str,
    checked_on: &'static str,
    pass: &'static str,
    tolerance: &'static str,
    fail: &'static str,
    /// "{n} pages would fail {code} if the validator drew them"
    risk_one: &'static str,
    risk_many: &'static str,
    no_risk: &'static str,
    truncated: &'static str,
    page: &'static str,
    kind: &'static str,
    verdict: &'static str,
    findings: &'static str,
    stricter: &'static str,
    ratings_30: &'static str,
    ratings_90: &'static str,
    latest: &'static str,
    kinds: [&'static str; 4],
    verdicts: [&'static str; 5],
    history: &'static str,
    requested_by: &'static str,
    weekly: &'static str,
    status: &'static str,
    statuses: [&'static str; 4],
    pages: &'static str,
    show: &'static str,
    print: &'static str,
    download_csv: &'static str,
    download_json: &'static str,
}

const IT: Texts = Texts {
    title: "Conformità PNRR",
    intro: "Per l'asseverazione della misura 1.4.1 il validatore AgID controlla il componente di valutazione sulla homepage e su un campione casuale di pagine di primo e secondo livello (C.SI.2.5) e di schede servizio (C.SI.2.6). Qui sono controllate tutte le pagine che il validatore potrebbe estrarre, nello stesso modo.",
    site: "Sito",
    no_site: "L'ente non ha ancora l'indirizzo del sito: un amministratore della piattaforma lo imposta (Enti, oppure satisfy admin tenants update --site-url).",
    run_now: "Avvia un controllo",
    in_progress: "Controllo in corso o in coda: la pagina mostra il risultato quando è pronto.",
    no_runs: "Nessun controllo ancora: il primo parte entro un'ora dall'impostazione del sito, poi ogni settimana.",
    failed: "Il controllo non è riuscito",
    checked_on: "Controllo del",
    pass: "superato",
    tolerance: "superato con riserva",
    fail: "non superato",
    risk_one: "1 pagina farebbe fallire {code} se il validatore la estraesse.",
    risk_many: "{n} pagine farebbero fallire {code} se il validatore ne estraesse una.",
    no_risk: "Nessuna pagina farebbe fallire {code}, qualunque sia il campione.",
    truncated: "Raggiunto il limite di pagine: il sito non è stato controllato per intero.",
    page: "Pagina",
    kind: "Tipo",
    verdict: "Esito",
    findings: "Elementi errati o non trovati (validatore)",
    stricter: "Controlli aggiuntivi",
    ratings_30: "Valutazioni 30 gg",
    ratings_90: "Valutazioni 90 gg",
    latest: "Ultima valutazione",
    kinds: [
        "homepage",
        "primo livello",
        "secondo livello",
        "scheda servizio",
    ],
    verdicts: [
        "conforme",
        "tolleranza",
        "errato",
        "assente",
        "non controllata",
    ],
    history: "Storico dei controlli",
    requested_by: "Richiesto da",
    weekly: "controllo settimanale",
    status: "Stato",
    statuses: ["in coda", "in corso", "completato", "non riuscito"],
    pages: "Pagine",
    show: "Mostra",
    print: "Stampa",
    download_csv: "Scarica CSV",
    download_json: "Scarica JSON",
};

const EN: Texts = Texts {
    title: "PNRR compliance",
    intro: "For the certification of measure 1.4.1 the AgID validator checks the rating component on the homepage and on a random sample of first- and second-level pages (C.SI.2.5) and of service pages (C.SI.2.6). Here every page the validator could draw is checked, the same way.",
    site: "Site",
    no_site: "The ente has no site address yet: a platform administrator sets it (Tenants, or satisfy admin tenants update --site-url).",
    run_now: "Run a check",
    in_progress: "A check is running or queued: this page shows its result when ready.",
    no_runs: "No check yet: the first starts within an hour of the site being set, then every week.",
    failed: "The check could not run",
    checked_on: "Check of",
    pass: "passed",
    tolerance: "passed with reservations",
    fail: "failed",
    risk_one: "1 page would fail {code} if the validator drew it.",
    risk_many: "{n} pages would fail {code} if the validator drew any of them.",
    no_risk: "No page would fail {code}, whatever the sample.",
    truncated: "Page limit reached: the site was not checked in full.",
    page: "Page",
    kind: "Kind",
    verdict: "Verdict",
    findings: "Wrong or missing elements (validator)",
    stricter: "Further checks",
    ratings_30: "Ratings 30 d",
    ratings_90: "Ratings 90 d",
    latest: "Latest rating",
    kinds: ["homepage", "first level", "second level", "service page"],
    verdicts: ["conforming", "tolerance", "wrong", "missing", "not checked"],
    history: "Check history",
    requested_by: "Requested by",
    weekly: "weekly check",
    status: "Status",
    statuses: ["queued", "running", "done", "failed"],
    pages: "Pages",
    show: "Show",
    print: "Print",
    download_csv: "Download CSV",
    download_json: "Download JSON",
};

const DE: Texts = Texts {
    title: "PNRR-Konformität",
    intro: "Für die Bestätigung der Maßnahme 1.4.1 prüft der AgID-Validator die Bewertungskomponente auf der Startseite und auf einer Zufallsstichprobe von Seiten erster und zweiter Ebene (C.SI.2.5) sowie von Dienstseiten (C.SI.2.6). Hier wird jede Seite, die der Validator ziehen könnte, auf dieselbe Weise geprüft.",
    site: "Website",
    no_site: "Die Körperschaft hat noch keine Website-Adresse: Ein Plattformadministrator legt sie fest (Körperschaften oder satisfy admin tenants update --site-url).",
    run_now: "Prüfung starten",
    in_progress: "Eine Prüfung läuft oder wartet: Diese Seite zeigt das Ergebnis, sobald es vorliegt.",
    no_runs: "Noch keine Prüfung: Die erste beginnt binnen einer Stunde nach dem Festlegen der Website, dann jede Woche.",
    failed: "Die Prüfung konnte nicht laufen",
    checked_on: "Prüfung vom",
    pass: "bestanden",
    tolerance: "mit Vorbehalt bestanden",
    fail: "nicht bestanden",
    risk_one: "1 Seite ließe {code} scheitern, wenn der Validator sie zöge.",
    risk_many: "{n} Seiten ließen {code} scheitern, wenn der Validator eine davon zöge.",
    no_risk: "Keine Seite ließe {code} scheitern, wie auch immer die Stichprobe ausfällt.",
    truncated: "Seitenlimit erreicht: Die Website wurde nicht vollständig geprüft.",
    page: "Seite",
    kind: "Art",
    verdict: "Ergebnis",
    findings: "Fehlerhafte oder fehlende Elemente (Validator)",
    stricter: "Weitere Prüfungen",
    ratings_30: "Bewertungen 30 T.",
    ratings_90: "Bewertungen 90 T.",
    latest: "Letzte Bewertung",
    kinds: ["Startseite", "erste Ebene", "zweite Ebene", "Dienstseite"],
    verdicts: [
        "konform",
        "Toleranz",
        "fehlerhaft",
        "fehlt",
        "nicht geprüft",
    ],
    history: "Prüfverlauf",
    requested_by: "Angefordert von",
    weekly: "wöchentliche Prüfung",
    status: "Status",
    statuses: ["wartet", "läuft", "fertig", "fehlgeschlagen"],
    pages: "Seiten",
    show: "Anzeigen",
    print: "Drucken",
    download_csv: "CSV herunterladen",
    download_json: "JSON herunterladen",
};

fn texts(lang: Lang) -> &'static Texts {
    match lang {
        Lang::It => &IT,
        Lang::En => &EN,
        Lang::De => &DE,
    }
}

/// A stored report, as `satisfy compliance --json` writes it.
#[derive(Debug, Deserialize)]
struct StoredReport {
    criteria: Vec<StoredCriterion>,
    pages: Vec<StoredPage>,
    #[serde(default)]
    truncated: bool,
}

#[derive(Debug, Deserialize)]
struct StoredCriterion {
    code: String,
    verdict: CriterionVerdict,
}

#[derive(Debug, Deserialize)]
struct StoredPage {
    url: String,
    kind: PageKind,
    criteria: Vec<String>,
    verdict: Verdict,
    errors: Vec<String>,
    #[serde(default)]
    stricter: Vec<String>,
}

fn parse_report(run: &ComplianceRun) -> Option<StoredReport> {
    serde_json::from_str(run.report.as_deref()?).ok()
}

fn kind_word(t: &Texts, kind: PageKind) -> &'static str {
    match kind {
        PageKind::Homepage => t.kinds[0],
        PageKind::FirstLevel => t.kinds[1],
        PageKind::SecondLevel => t.kinds[2],
        PageKind::Service => t.kinds[3],
    }
}

/// A page verdict in `lang`.
pub(crate) fn verdict_word(lang: Lang, verdict: Verdict) -> &'static str {
    let words = &texts(lang).verdicts;
    match verdict {
        Verdict::Conforming => words[0],
        Verdict::Tolerance => words[1],
        Verdict::Wrong => words[2],
        Verdict::Missing => words[3],
        Verdict::Error => words[4],
    }
}

/// The CSS class colouring a page verdict (a secondary cue beside the word).
pub(crate) fn verdict_class(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Conforming => "good",
        Verdict::Tolerance => "warn",
        _ => "bad",
    }
}

fn criterion_word(t: &Texts, verdict: CriterionVerdict) -> &'static str {
    match verdict {
        CriterionVerdict::Pass => t.pass,
        CriterionVerdict::Tolerance => t.tolerance,
        CriterionVerdict::Fail => t.fail,
    }
}

fn status_word(t: &Texts, status: ComplianceStatus) -> &'static str {
    let index = match status {
        ComplianceStatus::Queued => 0,
        ComplianceStatus::Running => 1,
        ComplianceStatus::Done => 2,
        ComplianceStatus::Failed => 3,
    };
    t.statuses[index]
}

/// One criterion as the page shows it.
struct CriterionView {
    code: String,
    verdict: &'static str,
    class: &'static str,
    risk: String,
}

/// One candidate page as the page shows it.
struct PageView {
    url: String,
    kind: &'static str,
    verdict: &'static str,
    class: &'static str,
    errors: Vec<String>,
    stricter: Vec<String>,
    last_30: u64,
    last_90: u64,
    latest: String,
}

/// A run as the history shows it.
struct RunView {
    id: i64,
    queued: String,
    by: String,
    status: &'static str,
    verdicts: String,
    pages: usize,
    selected: bool,
}

#[derive(Template)]
#[template(path = "compliance.html")]
struct CompliancePage {
    layout: Layout,
    t: &'static Texts,
    site: Option<String>,
    can_run: bool,
    busy: bool,
    shown: Option<(i64, String)>,
    failure: Option<String>,
    criteria: Vec<CriterionView>,
    rows: Vec<PageView>,
    truncated: bool,
    history: Vec<RunView>,
}

#[derive(Deserialize)]
struct ShowRun {
    run: Option<i64>,
}

async fn page(
    State(state): State<ConsoleState>,
    PageUser(auth): PageUser,
    UiLang(lang): UiLang,
    Query(query): Query<ShowRun>,
) -> Result<Response, PageError> {
    allowed(&auth, Capability::ReadCompliance)?;
    let t = texts(lang);
    let tenant = state.store.tenant(&auth.tenant).await?;
    let runs = state.store.compliance_runs(&auth.tenant, HISTORY).await?;
    let finished =
        |r: &&ComplianceRun| matches!(r.status, ComplianceStatus::Done | ComplianceStatus::Failed);
    let shown = match query.run {
        Some(id) => Some(
            runs.iter()
                .find(|r| r.id == id)
                .ok_or(PageError::NotFound)?,
        ),
        None => runs.iter().find(finished),
    };
    let when = |ms: i64| local_time(&state, ms.div_euclid(1000), ui(lang).date_time_format);
    let mut criteria = Vec::new();
    let mut rows = Vec::new();
    let mut truncated = false;
    if let Some(report) = shown.and_then(parse_report) {
        truncated = report.truncated;
        for criterion in &report.criteria {
            let failing = report
                .pages
                .iter()
                .filter(|p| p.criteria.contains(&criterion.code))
                .filter(|p| p.verdict.fails())
                .count();
            let risk = match failing {
                0 => t.no_risk.to_owned(),
                1 => t.risk_one.to_owned(),
                n => t.risk_many.replace("{n}", &n.to_string()),
            }
            .replace("{code}", &criterion.code);
            criteria.push(CriterionView {
                code: criterion.code.clone(),
                verdict: criterion_word(t, criterion.verdict),
                class: if criterion.verdict == CriterionVerdict::Fail {
                    "bad"
                } else {
                    "good"
                },
                risk,
            });
        }
        let urls: Vec<String> = report.pages.iter().map(|p| p.url.clone()).collect();
        let evidence: HashMap<String, PageEvidence> = state
            .analytics
            .page_evidence(&auth.tenant, &urls, chrono::Utc::now().timestamp_millis())
            .await?
            .into_iter()
            .map(|e| (e.page.clone(), e))
            .collect();
        for page in report.pages {
            let seen = evidence.get(&page.url);
            rows.push(PageView {
                kind: kind_word(t, page.kind),
                verdict: verdict_word(lang, page.verdict),
                class: verdict_class(page.verdict),
                last_30: seen.map_or(0, |e| e.last_30_days),
                last_90: seen.map_or(0, |e| e.last_90_days),
                latest: seen.and_then(|e| e.latest_ms).map(when).unwrap_or_default(),
                url: page.url,
                errors: page.errors,
                stricter: page.stricter,
            });
        }
    }
    let history = runs
        .iter()
        .map(|run| {
            let report = parse_report(run);
            RunView {
                id: run.id,
                queued: when(run.queued_ms),
                by: run
                    .requested_by
                    .clone()
                    .unwrap_or_else(|| t.weekly.to_owned()),
                status: status_word(t, run.status),
                verdicts: report
                    .as_ref()
                    .map(|r| {
                        r.criteria
                            .iter()
                            .map(|c| format!("{} {}", c.code, criterion_word(t, c.verdict)))
                            .collect::<Vec<_>>()
                            .join(" · ")
                    })
                    .unwrap_or_default(),
                pages: report.map_or(0, |r| r.pages.len()),
                selected: shown.is_some_and(|s| s.id == run.id),
            }
        })
        .collect();
    let view = CompliancePage {
        layout: Layout::for_user(lang, &auth, "/console/compliance"),
        t,
        site: tenant.and_then(|t| t.site_url),
        can_run: auth.can(Capability::RunCompliance),
        busy: runs.iter().any(|r| {
            matches!(
                r.status,
                ComplianceStatus::Queued | ComplianceStatus::Running
            )
        }),
        shown: shown.map(|r| (r.id, when(r.finished_ms.unwrap_or(r.queued_ms)))),
        failure: shown.and_then(|r| r.error.clone()),
        criteria,
        rows,
        truncated,
        history,
    };
    Ok(render(&view, StatusCode::OK))
}

/// Queues a run now (unless one is queued or running) and wakes this replica's runner.
async fn run_now(
    State(state): State<ConsoleState>,
    PageUser(auth): PageUser,
    Form(form): Form<CsrfForm>,
) -> Result<Response, PageError> {
    check_csrf(&auth, &form.csrf)?;
    allowed(&auth, Capability::RunCompliance)?;
    let site = state
        .store
        .tenant(&auth.tenant)
        .await?
        .and_then(|t| t.site_url)
        .ok_or(PageError::Invalid)?;
    let now = chrono::Utc::now().timestamp_millis();
    if let Some(id) = state
        .store
        .queue_compliance_run(&auth.tenant, &site, Some(&auth.actor), now, None)
        .await?
    {
        let entry = AuditEntry::now(
            Some(&auth.tenant),
            &auth.actor,
            "compliance_run_requested",
            Some(&id.to_string()),
        );
        state.store.record(entry).await?;
        state.compliance_bell.ring();
    }
    Ok(Redirect::to("/console/compliance").into_response())
}

async fn stored_report(
    state: &ConsoleState,
    auth: &Authenticated,
    id: i64,
) -> Result<(ComplianceRun, StoredReport), PageError> {
    allowed(auth, Capability::ReadCompliance)?;
    let run = state
        .store
        .compliance_runs(&auth.tenant, HISTORY)
        .await?
        .into_iter()
        .find(|r| r.id == id)
        .ok_or(PageError::NotFound)?;
    let report = parse_report(&run).ok_or(PageError::NotFound)?;
    Ok((run, report))
}

fn attachment(name: String, content_type: &str, body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        body,
    )
        .into_response()
}

/// The report as `satisfy compliance --json` writes it.
async fn report_json(
    State(state): State<ConsoleState>,
    PageUser(auth): PageUser,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let (run, _) = stored_report(&state, &auth, id).await?;
    Ok(attachment(
        format!("conformita-{}-{id}.json", auth.tenant),
        "application/json",
        run.report.unwrap_or_default(),
    ))
}

/// A spreadsheet cell that cannot be read as a formula.
fn cell(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

/// One row per page (UTF-8 with a BOM, `;`-separated for Italian spreadsheets).
async fn report_csv(
    State(state): State<ConsoleState>,
    PageUser(auth): PageUser,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let (_, report) = stored_report(&state, &auth, id).await?;
    let mut out = csv::WriterBuilder::new()
        .delimiter(b';')
        .from_writer(Vec::new());
    let write = |out: &mut csv::Writer<Vec<u8>>, row: &[String]| {
        out.write_record(row).map_err(|_| PageError::Unavailable)
    };
    write(
        &mut out,
        &["url", "kind", "criteria", "verdict", "errors", "stricter"].map(str::to_owned),
    )?;
    for page in &report.pages {
        write(
            &mut out,
            &[
                cell(&page.url),
                page.kind.code().to_owned(),
                page.criteria.join(","),
                page.verdict.code().to_owned(),
                cell(&page.errors.join("; ")),
                cell(&page.stricter.join("; ")),
            ],
        )?;
    }
    let bytes = out.into_inner().map_err(|_| PageError::Unavailable)?;
    let mut body = "\u{feff}".to_owned();
    body.push_str(&String::from_utf8_lossy(&bytes));
    Ok(attachment(
        format!("conformita-{}-{id}.csv", auth.tenant),
        "text/csv; charset=utf-8",
        body,
    ))
}
