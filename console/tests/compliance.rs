//! "Conformità PNRR" end to end: an administrator starts a run, the console's runner checks
//! the ente's site in headless Chromium, the page shows the verdicts, the risk, every page
//! with the validator's messages and the ratings citizens left there; exports and roles.

mod support;

use reqwest::StatusCode;
use satisfy_aggregator::{RatingStore, StoredRating};
use satisfy_console::roles::Role;
use satisfy_core::{EntrypointKind, Lang, RatingSubmission, Survey, TenantId, WireRating};
use serde::Deserialize;
use serde_json::{Value, json};
use support::{PASSWORD, browser, csrf_of, invited, log_in, spawn};

/// A homepage with a conforming component and no menu: the validator would fail every
/// gatherer of the other kinds.
async fn bare_site() -> String {
    let component = r#"<div data-element="feedback"><h2 data-element="feedback-title">Quanto sono chiare le informazioni su questa pagina?</h2></div>"#;
    let html = format!(
        "<!doctype html><html lang=\"it\"><head><meta charset=\"utf-8\"><title>Bugliano</title></head><body><main><h1>Bugliano</h1>{component}</main></body></html>"
    );
    let router = axum::Router::new().route(
        "/",
        axum::routing::get(move || async move { axum::response::Html(html) }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{address}/")
}

fn chromium_installed() -> bool {
    let found = satisfy_compliance::find_browser(None).is_ok();
    if !found {
        assert!(std::env::var_os("CI").is_none(), "CI must install chromium");
        eprintln!("no chromium on the PATH: skipping");
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_runs_the_check_and_auditors_read_the_evidence() {
    if !chromium_installed() {
        return;
    }
    let console = spawn().await;
    let bugliano = TenantId::parse("bugliano").unwrap();
    let site = bare_site().await;
    let mut tenant = console.store.tenant(&bugliano).await.unwrap().unwrap();
    tenant.site_url = Some(site.clone());
    console.store.update_tenant(&tenant).await.unwrap();
    // A citizen rated the homepage yesterday.
    let survey = Survey::for_kind(EntrypointKind::PaginaWeb, None, Lang::It);
    let body = json!({
        "id": "00000000-0000-4000-8000-0000000c0001", "entrypoint": "ep_AAAAAAAAAAAAAAAA",
        "page": site, "rating": 4, "answers": [], "lang": "it"
    });
    let rating = RatingSubmission::parse(&WireRating::deserialize(&body).unwrap())
        .unwrap()
        .into_rating(&survey)
        .unwrap();
    console
        .ratings
        .write_batch(&[StoredRating {
            rating,
            tenant: bugliano.clone(),
            received_at_ms: chrono::Utc::now().timestamp_millis() - 86_400_000,
        }])
        .await
        .unwrap();

    let admin = browser();
    assert_eq!(
        log_in(&console, &admin, PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
    let page = admin
        .get(format!("{}/console/compliance", console.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("Nessun controllo ancora"), "{html}");
    let started = admin
        .post(format!("{}/console/compliance/run", console.base))
        .form(&[("csrf", csrf_of(&html))])
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), StatusCode::SEE_OTHER);

    // The runner of this console takes the run at once and checks the site.
    let mut html = String::new();
    for _ in 0..120 {
        html = admin
            .get(format!("{}/console/compliance", console.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if !html.contains("Controllo in corso o in coda") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    assert!(html.contains("C.SI.2.5: non superato"), "{html}");
    assert!(
        html.contains("2 pagine farebbero fallire C.SI.2.5 se il validatore ne estraesse una."),
        "{html}"
    );
    assert!(html.contains("1 pagina farebbe fallire C.SI.2.6"), "{html}");
    // The homepage: conforming as the validator counts it (no stars and no free text are
    // tolerated), with the validator's messages and yesterday's rating beside it.
    assert!(html.contains("Scala di valutazione non trovata"), "{html}");
    assert!(html.contains("Campo di testo libero mancante"), "{html}");
    assert!(
        html.contains(
            "Non è stato possibile trovare l&#x27;attributo [data-element=&quot;management&quot;]"
        ) || html.contains("Non è stato possibile trovare l&#39;attributo"),
        "{html}"
    );
    assert!(
        html.contains(r#"<td class="num">1</td><td class="num">1</td>"#),
        "{html}"
    );

    let runs = console.store.compliance_runs(&bugliano, 10).await.unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].requested_by.as_deref(), Some("admin"));
    let id = runs[0].id;
    let json: Value = admin
        .get(format!(
            "{}/console/compliance/runs/{id}/report.json",
            console.base
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        json["criteria"],
        json!([{"code": "C.SI.2.5", "verdict": "fail"}, {"code": "C.SI.2.6", "verdict": "fail"}])
    );
    assert_eq!(json["pages"][0]["kind"], "homepage");
    assert_eq!(json["pages"][0]["verdict"], "tolerance");
    let csv = admin
        .get(format!(
            "{}/console/compliance/runs/{id}/report.csv",
            console.base
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        csv.starts_with("\u{feff}url;kind;criteria;verdict;errors;stricter\n"),
        "{csv}"
    );
    assert!(
        csv.contains(&format!("{site};homepage;C.SI.2.5;tolerance;")),
        "{csv}"
    );
    let audit = console.store.audit_log(Some(&bugliano), 10).await.unwrap();
    assert!(audit.iter().any(|e| e.action == "compliance_run_requested"));

    // Auditors read it and cannot start runs; viewers do not see it.
    let auditor = invited(&console, "bugliano", "asseveratore", Role::Auditor).await;
    let seen = auditor
        .get(format!("{}/console/compliance", console.base))
        .send()
        .await
        .unwrap();
    assert_eq!(seen.status(), StatusCode::OK);
    let seen = seen.text().await.unwrap();
    assert!(seen.contains("C.SI.2.5: non superato"));
    assert!(
        !seen.contains("/console/compliance/run\""),
        "no run button for auditors"
    );
    let refused = auditor
        .post(format!("{}/console/compliance/run", console.base))
        .form(&[("csrf", csrf_of(&seen))])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let viewer = invited(&console, "bugliano", "lettore", Role::Viewer).await;
    for path in [
        "/console/compliance",
        &format!("/console/compliance/runs/{id}/report.json"),
    ] {
        let response = viewer
            .get(format!("{}{path}", console.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webmaster_self_tests_a_page_of_the_entrypoint_sites_only() {
    if !chromium_installed() {
        return;
    }
    let console = spawn().await;
    let site = bare_site().await;
    let origin = site.trim_end_matches('/').to_owned();
    let created: Value = reqwest::Client::new()
        .post(format!("{}/api/v1/entrypoints", console.base))
        .bearer_auth(&console.token)
        .json(&json!({"name": "Sito", "kind": "pagina_web", "allowed_origins": [origin]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    let admin = browser();
    assert_eq!(
        log_in(&console, &admin, PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
    let page = admin
        .get(format!("{}/console/entrypoints/{id}/snippet", console.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Verifica una pagina come il validatore AgID"));
    let csrf = csrf_of(&page);
    let test = |url: String| {
        let (admin, base, id, csrf) = (
            admin.clone(),
            console.base.clone(),
            id.clone(),
            csrf.clone(),
        );
        async move {
            admin
                .post(format!("{base}/console/entrypoints/{id}/self-test"))
                .form(&[("csrf", csrf), ("url", url)])
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        }
    };
    let checked = test(site.clone()).await;
    assert!(
        checked.contains(r#"<span class="verdict warn">tolleranza</span>"#),
        "{checked}"
    );
    assert!(
        checked.contains("<li>Scala di valutazione non trovata</li>"),
        "{checked}"
    );
    assert!(
        checked.contains("<li>Campo di testo libero mancante</li>"),
        "{checked}"
    );
    let refused = test("http://169.254.169.254/latest/meta-data/".into()).await;
    assert!(
        refused.contains("La pagina deve appartenere a uno dei siti dell&#x27;entrypoint")
            || refused.contains("La pagina deve appartenere a uno dei siti dell&#39;entrypoint"),
        "{refused}"
    );
    assert!(!refused.contains("class=\"verdict"), "nothing was loaded");
}
