//! The crawl and the check on a local site built like the Modello Comuni templates, in a
//! real headless Chromium.

use axum::Router;
use axum::response::Html;
use axum::routing::get;
use satisfy_compliance::{CriterionVerdict, PageKind, Settings, Verdict};
use std::time::Duration;

/// Settings for tests: fast, or `None` (skip) when no Chromium is installed outside CI.
fn settings() -> Option<Settings> {
    let settings = Settings {
        requests_per_second: 50.0,
        page_timeout: Duration::from_secs(20),
        ..Settings::default()
    };
    let found = satisfy_compliance::find_browser(None).is_ok();
    if !found {
        assert!(std::env::var_os("CI").is_none(), "CI must install chromium");
        eprintln!("no Chromium on the PATH: skipping");
        return None;
    }
    Some(settings)
}

const POSITIVE: [&str; 5] = [
    "Le indicazioni erano chiare",
    "Le indicazioni erano complete",
    "Capivo sempre che stavo procedendo correttamente",
    "Non ho avuto problemi tecnici",
    "Altro",
];
const NEGATIVE: [&str; 5] = [
    "A volte le indicazioni non erano chiare",
    "A volte le indicazioni non erano complete",
    "A volte non capivo se stavo procedendo correttamente",
    "Ho avuto problemi tecnici",
    "Altro",
];

/// The template's static component, with its follow-ups shown by the stars.
fn component(title: &str, free_text: bool) -> String {
    let stars: String = (1..=5)
        .map(|n| {
            format!(
                r#"<input type="radio" id="star{n}" name="rating" value="{n}">
                   <label for="star{n}" data-element="feedback-rate-{n}">Valuta {n} stelle su 5</label>"#
            )
        })
        .collect();
    let answers = |list: [&str; 5]| -> String {
        list.iter()
            .map(|a| format!(r#"<label data-element="feedback-rating-answer"><input type="radio" name="a">{a}</label>"#))
            .collect()
    };
    let input = if free_text {
        r#"<input type="text" data-element="feedback-input-text">"#
    } else {
        ""
    };
    format!(
        r#"<div class="cmp-rating" data-element="feedback">
          <h2 data-element="feedback-title">{title}</h2>
          <fieldset><legend>Valuta da 1 a 5 stelle la pagina</legend>{stars}</fieldset>
          <fieldset data-element="feedback-rating-positive" hidden>
            <legend data-element="feedback-rating-question">Quali sono stati gli aspetti che hai preferito?</legend>{positive}</fieldset>
          <fieldset data-element="feedback-rating-negative" hidden>
            <legend data-element="feedback-rating-question">Dove hai incontrato le maggiori difficoltà?</legend>{negative}</fieldset>
          {input}
          <script>
            for (const star of document.querySelectorAll('input[name=rating]')) {{
              star.addEventListener('change', () => {{
                const low = Number(star.value) <= 3;
                document.querySelector('[data-element=feedback-rating-positive]').hidden = low;
                document.querySelector('[data-element=feedback-rating-negative]').hidden = !low;
              }});
            }}
          </script>
        </div>"#,
        positive = answers(POSITIVE),
        negative = answers(NEGATIVE),
    )
}

const TITLE: &str = "Quanto sono chiare le informazioni su questa pagina?";

fn page(body: String) -> Html<String> {
    Html(format!(
        r#"<!doctype html><html lang="it"><head><meta charset="utf-8"><title>Comune</title></head>
        <body><main><h1>Comune di Bugliano</h1>{body}</main></body></html>"#
    ))
}

fn with_component(links: &str) -> Html<String> {
    page(format!("{links}{}", component(TITLE, true)))
}

/// Requests for the homepage's image: the crawl must not make any.
static IMAGE_REQUESTS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A comune's site: menu, category pages, a services listing with "load more" and pages
/// conforming, wrong, missing, tolerated and excluded by robots.txt.
fn comune() -> Router {
    Router::new()
        .route(
            "/stemma.png",
            get(|| async {
                IMAGE_REQUESTS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                ""
            }),
        )
        .route("/robots.txt", get(|| async { "User-agent: *\nDisallow: /privato\n" }))
        .route(
            "/",
            get(|| async {
                with_component(
                    r##"<img src="/stemma.png" alt="Stemma"><nav><a data-element="management" href="/amministrazione">Amministrazione</a>
                    <a data-element="news" href="/novita">Novità</a>
                    <a data-element="all-services" href="/servizi">Servizi</a>
                    <a data-element="live" href="/vivere">Vivere il comune</a>
                    <a data-element="custom-submenu" href="/privato">Area riservata</a>
                    <a data-element="news" href="#">Novità (mobile)</a></nav>"##,
                )
            }),
        )
        .route(
            "/amministrazione",
            get(|| async {
                with_component(
                    r#"<a data-element="management-category-link" href="/amministrazione/uffici">Uffici</a>
                    <a data-element="management-category-link" href="https://www.altrove.example.org/x">Altrove</a>"#,
                )
            }),
        )
        .route("/amministrazione/uffici", get(|| async { page("<p>Uffici</p>".into()) }))
        .route(
            "/novita",
            get(|| async {
                with_component(r#"<a data-element="news-category-link" href="/novita/notizie">Notizie</a>"#)
            }),
        )
        .route(
            "/novita/notizie",
            get(|| async { page(component("Ti è stata utile questa pagina?", true)) }),
        )
        .route(
            "/servizi",
            get(|| async {
                with_component(
                    r#"<a data-element="service-category-link" href="/servizi/anagrafe">Anagrafe e stato civile</a>
                    <div id="cards"><a data-element="service-link" href="/servizi/cie">Carta d'identità</a></div>
                    <button data-element="load-other-cards" onclick="
                      document.getElementById('cards').insertAdjacentHTML('beforeend',
                        '<a data-element=&quot;service-link&quot; href=&quot;/servizi/residenza&quot;>Residenza</a>');
                      this.remove();">Carica altri</button>"#,
                )
            }),
        )
        .route("/servizi/anagrafe", get(|| async { with_component("") }))
        .route("/servizi/cie", get(|| async { with_component("") }))
        .route(
            "/servizi/residenza",
            get(|| async { page(component(TITLE, false)) }),
        )
        .route(
            "/vivere",
            get(|| async {
                with_component(
                    r#"<button data-element="live-button-locations" onclick="location.href='/vivere/luoghi'">Luoghi</button>
                    <a data-element="live-button-events" href="/vivere/eventi">Eventi</a>"#,
                )
            }),
        )
        .route("/vivere/luoghi", get(|| async { with_component("") }))
        .route("/vivere/eventi", get(|| async { with_component("") }))
        .route("/privato", get(|| async { with_component("") }))
}

async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{address}/")
}

#[tokio::test]
async fn every_candidate_page_is_found_and_checked_as_the_validator_would() {
    let Some(settings) = settings() else { return };
    let site = serve(comune()).await;
    let report = satisfy_compliance::run(&site, &settings).await.unwrap();
    let rows: Vec<(String, PageKind, Verdict, Vec<String>)> = report
        .pages
        .iter()
        .map(|p| {
            (
                p.url
                    .trim_start_matches(site.trim_end_matches('/'))
                    .to_owned(),
                p.kind,
                p.verdict,
                p.errors.clone(),
            )
        })
        .collect();
    let row = |url: &str, kind, verdict, errors: &[&str]| {
        (
            url.to_owned(),
            kind,
            verdict,
            errors.iter().map(|e| e.to_string()).collect::<Vec<_>>(),
        )
    };
    use PageKind::*;
    use Verdict::*;
    let excluded = "Pagina esclusa da robots.txt: non controllata";
    assert_eq!(
        rows,
        [
            row("/", Homepage, Conforming, &[]),
            row("/amministrazione", FirstLevel, Conforming, &[]),
            row("/novita", FirstLevel, Conforming, &[]),
            row("/servizi", FirstLevel, Conforming, &[]),
            row("/vivere", FirstLevel, Conforming, &[]),
            row("/privato", FirstLevel, Error, &[excluded]),
            row(
                "/amministrazione/uffici",
                SecondLevel,
                Missing,
                &["Componente di valutazione non trovato"]
            ),
            row(
                "/novita/notizie",
                SecondLevel,
                Wrong,
                &["Domanda iniziale errata"]
            ),
            row("/servizi/anagrafe", SecondLevel, Conforming, &[]),
            row("/vivere/luoghi", SecondLevel, Conforming, &[]),
            row("/vivere/eventi", SecondLevel, Conforming, &[]),
            row("/servizi/cie", Service, Conforming, &[]),
            row(
                "/servizi/residenza",
                Service,
                Tolerance,
                &["Campo di testo libero mancante"]
            ),
            row("/privato", SecondLevel, Error, &[excluded]),
        ]
    );
    let verdicts: Vec<(&str, CriterionVerdict)> = report
        .criteria
        .iter()
        .map(|c| (c.code, c.verdict))
        .collect();
    assert_eq!(
        verdicts,
        [
            ("C.SI.2.5", CriterionVerdict::Fail),
            ("C.SI.2.6", CriterionVerdict::Tolerance)
        ]
    );
    assert!(report.would_fail());
    assert_eq!(
        IMAGE_REQUESTS.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "images are not fetched, as the validator does not fetch them"
    );
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["pages"][7]["kind"], "second-level");
    assert_eq!(json["pages"][7]["verdict"], "wrong");
    assert_eq!(
        json["pages"][7]["criteria"],
        serde_json::json!(["C.SI.2.5"])
    );
    assert_eq!(json["criteria"][1]["verdict"], "tolerance");
    let table = report.to_string();
    assert!(
        table.contains("C.SI.2.5: non superato (4 pagine: ciascuna farebbe fallire il criterio"),
        "{table}"
    );
}

#[tokio::test]
async fn a_homepage_without_the_menu_fails_every_gatherer_as_the_validator_does() {
    let Some(settings) = settings() else { return };
    let site = serve(Router::new().route("/", get(|| async { with_component("") }))).await;
    let report = satisfy_compliance::run(&site, &settings).await.unwrap();
    let rows: Vec<(PageKind, Verdict, String)> = report
        .pages
        .iter()
        .map(|p| (p.kind, p.verdict, p.errors.join("; ")))
        .collect();
    assert_eq!(
        rows,
        [
            (PageKind::Homepage, Verdict::Conforming, String::new()),
            (
                PageKind::FirstLevel,
                Verdict::Error,
                "Non è stato possibile trovare l'attributo [data-element=\"management\"]".into()
            ),
            (
                PageKind::SecondLevel,
                Verdict::Error,
                "First level page not available".into()
            ),
            (
                PageKind::Service,
                Verdict::Error,
                "Non è stato possibile trovare l'attributo [data-element=\"all-services\"]".into()
            ),
        ]
    );
    assert!(
        report
            .criteria
            .iter()
            .all(|c| c.verdict == CriterionVerdict::Fail)
    );
}
