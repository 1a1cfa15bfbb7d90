//! End to end in embedded mode: the whole `satisfy serve` application on port 0.

use satisfy::configuration::{ConsoleBasics, HttpLimits, IntakeLimits, Settings};
use satisfy::startup::Application;
use satisfy_console::ConfigStore;
use serde_json::{Value, json};
use std::path::Path;
use tokio::sync::oneshot;

const PASSWORD: &str = "password-di-prova";

struct Running {
    base: String,
    /// A read and write API token of the tenant, made with `satisfy admin`.
    token: String,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

async fn start(data_dir: &Path) -> Running {
    start_with(data_dir, HttpLimits::default()).await
}

async fn start_with(data_dir: &Path, http: HttpLimits) -> Running {
    let settings = Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: data_dir.to_owned(),
        public_url: None,
        console: ConsoleBasics {
            admin_password: Some(PASSWORD.into()),
            tenant: satisfy_core::TenantId::parse("bugliano").unwrap(),
            time_zone: chrono_tz::Europe::Rome,
            secure_cookies: false,
            compliance_browser: None,
            compliance_weekly: false,
        },
        intake: IntakeLimits {
            trust_forwarded_for: false,
            rate_limit_burst: 100_000,
            rate_limit_per_second: 100_000,
        },
        http,
        demo_data: false,
    };
    let app = Application::build(settings).await.unwrap();
    let base = app.public_url.clone();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    let token = admin(
        data_dir,
        &[
            "tokens",
            "create",
            "--tenant",
            "bugliano",
            "--name",
            "tests",
            "--scopes",
            "read,write",
        ],
    )
    .trim_end()
    .to_owned();
    Running {
        base,
        token,
        stop,
        task,
    }
}

impl Running {
    async fn shutdown(self) {
        self.stop.send(()).unwrap();
        self.task.await.unwrap().unwrap();
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

async fn api(app: &Running, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
    api_at(&app.base, &app.token, method, path, body).await
}

/// [`api`] against a server at `base` with `token`, such as one running as a child process.
async fn api_at(
    base: &str,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> Value {
    let mut request = client()
        .request(method, format!("{base}/api/v1{path}"))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
    response.json().await.unwrap()
}

async fn post_rating(base: &str, entrypoint: &str, id: &str, stars: u8) -> u16 {
    try_post_rating(base, entrypoint, id, stars).await.unwrap()
}

/// The status a rating was answered with, or the error of a request that got none.
async fn try_post_rating(
    base: &str,
    entrypoint: &str,
    id: &str,
    stars: u8,
) -> reqwest::Result<u16> {
    let body = json!({
        "id": id, "entrypoint": entrypoint, "page": format!("{base}/demo"),
        "rating": stars, "answers": [], "lang": "it"
    });
    let response = client()
        .post(format!("{base}/v1/ratings"))
        .header("content-type", "text/plain")
        .header("origin", base)
        .body(body.to_string())
        .send()
        .await?;
    Ok(response.status().as_u16())
}

async fn total(app: &Running, entrypoint: &str) -> u64 {
    let stats = api(
        app,
        reqwest::Method::GET,
        &format!("/entrypoints/{entrypoint}/stats"),
        None,
    )
    .await;
    stats["summary"]["count"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_page_embeds_the_snippet_of_an_accepting_entrypoint() {
    let dir = tempfile::tempdir().unwrap();
    let app = start(dir.path()).await;
    let demo = client()
        .get(format!("{}/demo", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(demo.contains("Comune di Bugliano"));
    let list = api(&app, reqwest::Method::GET, "/entrypoints", None).await;
    let id = list["entrypoints"][0]["id"].as_str().unwrap().to_owned();
    assert!(demo.contains(&format!("data-entrypoint=\"{id}\"")));
    assert!(demo.contains(&format!("{}/widget/v1/{id}.js", app.base)));
    assert_eq!(
        post_rating(&app.base, &id, &uuid::Uuid::new_v4().to_string(), 5).await,
        202
    );
    assert_eq!(total(&app, &id).await, 1);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_entrypoint_accepts_ratings_at_once_and_pausing_stops_them() {
    let dir = tempfile::tempdir().unwrap();
    let app = start(dir.path()).await;
    let created = api(
        &app,
        reqwest::Method::POST,
        "/entrypoints",
        Some(json!({"name": "Scheda servizio TARI", "kind": "scheda_servizio", "allowed_origins": [app.base]})),
    )
    .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let mut status = 0;
    for _ in 0..250 {
        status = post_rating(&app.base, &id, &uuid::Uuid::new_v4().to_string(), 3).await;
        if status == 202 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(status, 202);
    api(
        &app,
        reqwest::Method::PUT,
        &format!("/entrypoints/{id}"),
        Some(json!({"status": "paused"})),
    )
    .await;
    // Until the pause reaches ingest (a moment), ratings are still accepted and counted.
    let (mut paused_status, mut accepted) = (0, 1);
    for _ in 0..250 {
        paused_status = post_rating(&app.base, &id, &uuid::Uuid::new_v4().to_string(), 3).await;
        match paused_status {
            404 => break,
            202 => accepted += 1,
            _ => {}
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(paused_status, 404);
    assert_eq!(total(&app, &id).await, accepted);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_rating_survives_shutdown_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let app = start(dir.path()).await;
    let list = api(&app, reqwest::Method::GET, "/entrypoints", None).await;
    let id = list["entrypoints"][0]["id"].as_str().unwrap().to_owned();
    let mut tasks = Vec::new();
    for n in 0..300u32 {
        let (base, id) = (app.base.clone(), id.clone());
        tasks.push(tokio::spawn(async move {
            let rating_id = uuid::Uuid::new_v4().to_string();
            let first = post_rating(&base, &id, &rating_id, (n % 5 + 1) as u8).await;
            // The widget's follow-up update of the same id.
            let update = post_rating(&base, &id, &rating_id, (n % 5 + 1) as u8).await;
            (first, update)
        }));
    }
    let mut acknowledged = 0;
    for task in tasks {
        let (first, update) = task.await.unwrap();
        assert_eq!((first, update), (202, 202));
        acknowledged += 1;
    }
    app.shutdown().await;

    let restarted = start(dir.path()).await;
    assert_eq!(total(&restarted, &id).await, acknowledged);
    // The same demo entrypoint is reused, not created again.
    let list = api(&restarted, reqwest::Method::GET, "/entrypoints", None).await;
    assert_eq!(list["entrypoints"].as_array().unwrap().len(), 1);
    restarted.shutdown().await;
}

#[test]
fn a_short_or_empty_admin_password_is_refused_at_start() {
    for password in ["", "corta"] {
        let data = tempfile::tempdir().unwrap();
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_satisfy"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data.path())
            .env("SATISFY_ADMIN_PASSWORD", password)
            .output()
            .unwrap();
        assert!(!output.status.success(), "started with {password:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("at least 12 characters"), "{stderr}");
    }
}

/// Runs `satisfy admin …` on `data_dir` and returns its stdout.
fn admin(data_dir: &Path, args: &[&str]) -> String {
    let output = admin_run(data_dir, args);
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// What `satisfy admin` refused: its error output.
fn admin_refused(data_dir: &Path, args: &[&str]) -> String {
    let output = admin_run(data_dir, args);
    assert!(!output.status.success(), "{args:?} was accepted");
    String::from_utf8(output.stderr).unwrap()
}

fn admin_run(data_dir: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_satisfy"))
        .arg("admin")
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_data_fills_the_demo_ente_or_one_entrypoint_while_the_server_runs() {
    let data = tempfile::tempdir().unwrap();
    let running = start(data.path()).await;
    let demo_data = |args: &[&str]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_satisfy"))
            .arg("demo-data")
            .arg("--data-dir")
            .arg(data.path())
            .args(args)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };
    let printed = demo_data(&["--ratings", "3000", "--days", "90"]);
    assert!(
        printed.starts_with("3000 ratings of «Sito istituzionale»"),
        "{printed}"
    );
    let demo_token = admin(
        data.path(),
        &[
            "tokens", "create", "--tenant", "demo", "--name", "t", "--scopes", "read",
        ],
    );
    let read = |token: String, path: String| {
        let base = running.base.clone();
        async move {
            client()
                .get(format!("{base}/api/v1{path}"))
                .bearer_auth(token.trim())
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let listed = read(demo_token.clone(), "/entrypoints".into()).await;
    let site = listed["entrypoints"][0]["id"].as_str().unwrap().to_owned();
    let overview = read(demo_token.clone(), "/overview?period=90d".into()).await;
    assert_eq!(overview["current"]["count"], 3000, "{overview}");
    let pages = read(
        demo_token.clone(),
        format!("/entrypoints/{site}/ratings?period=90d&limit=500"),
    )
    .await;
    let distinct: std::collections::HashSet<&str> = pages["ratings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["page"].as_str().unwrap())
        .collect();
    assert!(distinct.len() > 5, "realistic pages: {distinct:?}");

    // Into one of the operator's own entrypoints, and again into the demo ente: the
    // entrypoint is reused, the ratings add up.
    let own = api(
        &running,
        reqwest::Method::POST,
        "/entrypoints",
        Some(json!({"name": "Portale", "kind": "pagina_web", "allowed_origins": ["https://www.comune.bugliano.pi.it"]})),
    )
    .await;
    let own_id = own["id"].as_str().unwrap();
    demo_data(&["--ratings", "700", "--days", "30", "--entrypoint", own_id]);
    assert_eq!(total(&running, own_id).await, 700);
    demo_data(&["--ratings", "1000", "--days", "90"]);
    let overview = read(demo_token, "/overview?period=90d".into()).await;
    assert_eq!(overview["current"]["count"], 4000);
    assert_eq!(overview["entrypoints"].as_array().unwrap().len(), 1);
    running.shutdown().await;
}

#[tokio::test]
async fn operator_cli_creates_a_tenant_and_a_token_the_running_server_accepts() {
    let data = tempfile::tempdir().unwrap();
    let running = start(data.path()).await;
    // While the server runs, on the same database.
    let slug = admin(
        data.path(),
        &[
            "tenants",
            "create",
            "--slug",
            "altrove",
            "--name",
            "Comune di Altrove",
        ],
    );
    assert_eq!(slug, "altrove\n");
    let listed = admin(data.path(), &["tenants", "list"]);
    assert!(
        listed.contains("altrove\tactive\tComune di Altrove"),
        "{listed}"
    );
    admin(
        data.path(),
        &[
            "tenants",
            "update",
            "--slug",
            "altrove",
            "--retention-months",
            "6",
        ],
    );
    let config =
        satisfy_console::store::SqliteConfigStore::open(&data.path().join("console.db")).unwrap();
    let altrove = satisfy_core::TenantId::parse("altrove").unwrap();
    let tenant = config.tenant(&altrove).await.unwrap().unwrap();
    assert_eq!(tenant.retention_months, 6);
    let token = admin(
        data.path(),
        &[
            "tokens",
            "create",
            "--tenant",
            "bugliano",
            "--name",
            "cruscotto",
            "--scopes",
            "read",
        ],
    );
    let token = token.trim_end();
    assert!(
        token.starts_with("sat_") && !token.contains('\n'),
        "only the token: {token}"
    );

    let response = client()
        .get(format!("{}/api/v1/entrypoints", running.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["entrypoints"][0]["name"]
            .as_str()
            .unwrap()
            .starts_with("Demo")
    );

    let link = admin(
        data.path(),
        &[
            "users",
            "create",
            "--tenant",
            "altrove",
            "--username",
            "lucia",
            "--role",
            "auditor",
            "--public-url",
            &running.base,
        ],
    );
    assert!(
        link.starts_with(&format!("{}/console/set-password?token=", running.base)),
        "{link}"
    );
    let form = client().get(link.trim_end()).send().await.unwrap();
    assert_eq!(form.status(), 200, "the link opens the set-password form");
    let granted = admin(
        data.path(),
        &[
            "users",
            "grant",
            "--tenant",
            "bugliano",
            "--username",
            "lucia",
            "--role",
            "viewer",
        ],
    );
    assert_eq!(granted, "lucia is viewer in bugliano\n");
    let audit = admin(data.path(), &["audit", "--tenant", "altrove"]);
    let mut lines = audit.lines();
    assert_eq!(lines.next(), Some("time,tenant,actor,action,target"));
    let actions: Vec<&str> = lines.map(|l| l.split(',').nth(3).unwrap()).collect();
    assert_eq!(
        actions,
        ["user_invited", "tenant_updated", "tenant_created"],
        "{audit}"
    );

    // What the console refuses, the command refuses too.
    let create = |name: &str, days: &str| {
        admin_refused(
            data.path(),
            &[
                "tokens",
                "create",
                "--tenant",
                "bugliano",
                "--name",
                name,
                "--scopes",
                "read",
                "--expires-in-days",
                days,
            ],
        )
    };
    assert!(create("", "30").contains("1 to 100 characters"));
    assert!(create("Gestionale", "0").contains("1 to 3650 days"));
    assert!(create("Gestionale", "99999").contains("1 to 3650 days"));
    assert!(
        admin_refused(
            data.path(),
            &["tenants", "update", "--slug", "bugliano", "--name", " "]
        )
        .contains("1 to 120 characters")
    );
    assert!(
        admin_refused(data.path(), &["tokens", "list", "--tenant", "nessuno"])
            .contains("no tenant called `nessuno`")
    );

    let id = &token["sat_".len().."sat_".len() + 12];
    let listed = admin(data.path(), &["tokens", "list", "--tenant", "bugliano"]);
    assert!(listed.lines().any(|line| line.starts_with(id)), "{listed}");
    admin(
        data.path(),
        &["tokens", "revoke", "--tenant", "bugliano", "--id", id],
    );
    let revoked = client()
        .get(format!("{}/api/v1/entrypoints", running.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 401);
    running.shutdown().await;
}

/// Posts ratings until one answers `status` (intake rereads entrypoints every 2 s);
/// returns how many were accepted on the way, this one included.
async fn wait_for_status(base: &str, entrypoint: &str, status: u16) -> u64 {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut accepted = 0;
    loop {
        let answer = post_rating(base, entrypoint, &uuid::Uuid::new_v4().to_string(), 4).await;
        accepted += u64::from(answer == 202);
        if answer == status {
            return accepted;
        }
        assert!(std::time::Instant::now() < deadline, "never got {status}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_suspended_tenant_is_refused_at_intake_and_sign_in_and_comes_back_intact() {
    let data = tempfile::tempdir().unwrap();
    let running = start(data.path()).await;
    let entrypoints = api(&running, reqwest::Method::GET, "/entrypoints", None).await;
    let demo = entrypoints["entrypoints"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let id = uuid::Uuid::new_v4().to_string();
    assert_eq!(post_rating(&running.base, &demo, &id, 5).await, 202);

    let link = admin(
        data.path(),
        &[
            "users",
            "create",
            "--tenant",
            "bugliano",
            "--username",
            "lucia",
            "--role",
            "viewer",
            "--public-url",
            &running.base,
        ],
    );
    let lucia = "lucia-tramonto-sul-serchio";
    accept_invitation(&running.base, link.trim(), lucia).await;
    assert_eq!(sign_in_status(&running.base, "lucia", lucia).await, 303);

    // From another process, while the server runs.
    admin(data.path(), &["tenants", "suspend", "--slug", "bugliano"]);
    let mut accepted = 1 + wait_for_status(&running.base, &demo, 404).await;
    assert_eq!(
        sign_in_status(&running.base, "lucia", lucia).await,
        401,
        "its users cannot sign in"
    );
    assert_eq!(
        sign_in_status(&running.base, "admin", PASSWORD).await,
        303,
        "a platform administrator is never locked out"
    );
    let token = client()
        .get(format!("{}/api/v1/entrypoints", running.base))
        .bearer_auth(&running.token)
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), 401, "its tokens are refused");

    admin(data.path(), &["tenants", "resume", "--slug", "bugliano"]);
    accepted += wait_for_status(&running.base, &demo, 202).await;
    assert_eq!(sign_in_status(&running.base, "lucia", lucia).await, 303);
    let stats = api(
        &running,
        reqwest::Method::GET,
        &format!("/entrypoints/{demo}/stats?granularity=day"),
        None,
    )
    .await;
    assert_eq!(stats["summary"]["count"], accepted, "its data was kept");
    running.shutdown().await;
}

/// A browser that keeps cookies and shows redirects, and the CSRF token of the form at
/// `url`.
async fn form_session(url: &str) -> (reqwest::Client, String) {
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let html = browser.get(url).send().await.unwrap().text().await.unwrap();
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).unwrap() + marker.len();
    let csrf = html[start..].split('"').next().unwrap().to_owned();
    (browser, csrf)
}

/// Signs in through the console's form; the status of the answer (303 when signed in).
async fn sign_in_status(base: &str, username: &str, password: &str) -> u16 {
    let (browser, csrf) = form_session(&format!("{base}/console/login")).await;
    browser
        .post(format!("{base}/console/login"))
        .form(&[
            ("username", username),
            ("password", password),
            ("csrf", &csrf),
        ])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Sets a password through an invitation link, as the invited person does.
async fn accept_invitation(base: &str, link: &str, password: &str) {
    let (browser, csrf) = form_session(link).await;
    let token = link.split("token=").nth(1).unwrap();
    let set = browser
        .post(format!("{base}/console/set-password"))
        .form(&[
            ("token", token),
            ("password", password),
            ("confirm", password),
            ("csrf", &csrf),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), 303, "the password is set");
}

/// A status event of the residence-change service, as a platform posts it.
fn residence(id: &str, subject: &str, state: &str, time: &str, deadline: Option<u32>) -> Value {
    let mut data = json!({"service": "residenza", "service_name": "Cambio di residenza",
                          "office": "anagrafe", "state": state});
    if let Some(days) = deadline {
        data["legal_deadline_days"] = json!(days);
    }
    json!({"specversion": "1.0", "id": id, "source": "urn:opencity:bugliano",
           "type": "it.satisfy.application.status", "time": time, "subject": subject,
           "data": data})
}

#[tokio::test]
async fn a_platform_posts_events_and_the_api_shows_the_service_kpis_beside_its_ratings() {
    let data = tempfile::tempdir().unwrap();
    let running = start(data.path()).await;
    let platform = admin(
        data.path(),
        &[
            "tokens",
            "create",
            "--tenant",
            "bugliano",
            "--name",
            "OpenCity",
            "--scopes",
            "events:write",
        ],
    );
    let batch = json!([
        residence(
            "p1-1",
            "P1",
            "inviata",
            "2026-10-19T09:00:00+02:00",
            Some(5)
        ),
        residence(
            "p1-2",
            "P1",
            "presa_in_carico",
            "2026-10-20T09:00:00+02:00",
            None
        ),
        residence("p1-3", "P1", "accettata", "2026-10-22T09:00:00+02:00", None),
        residence(
            "p2-1",
            "P2",
            "inviata",
            "2026-10-20T10:00:00+02:00",
            Some(3)
        ),
        residence("p2-2", "P2", "rifiutata", "2026-10-24T10:00:00+02:00", None),
        residence("p3-1", "P3", "inviata", "2026-10-12T10:00:00+02:00", None),
    ]);
    let posted = client()
        .post(format!("{}/v1/events", running.base))
        .bearer_auth(platform.trim())
        .header("content-type", "application/cloudevents-batch+json")
        .body(batch.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 202);
    // The read/write token of the tenant may not post events.
    let refused = client()
        .post(format!("{}/v1/events", running.base))
        .bearer_auth(&running.token)
        .header("content-type", "application/cloudevents+json")
        .body(residence("p9", "P9", "inviata", "2026-10-19T09:00:00+02:00", None).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);

    // An entrypoint rating the service, and two ratings on it today.
    let created = api(
        &running,
        reqwest::Method::POST,
        "/entrypoints",
        Some(
            json!({"name": "Scheda Cambio di residenza", "kind": "scheda_servizio",
                    "service": "residenza", "allowed_origins": [running.base]}),
        ),
    )
    .await;
    let entrypoint = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["service"], "residenza");
    // Intake learns of the entrypoint asynchronously; wait_for_status rates 4 stars.
    let early = wait_for_status(&running.base, &entrypoint, 202).await;
    for stars in [5, 3] {
        let id = uuid::Uuid::new_v4().to_string();
        assert_eq!(
            post_rating(&running.base, &entrypoint, &id, stars).await,
            202
        );
    }

    let services = api(&running, reqwest::Method::GET, "/services", None).await;
    assert_eq!(
        services["services"],
        json!([{"id": "residenza", "name": "Cambio di residenza", "entrypoints": [entrypoint]}])
    );
    let kpis = api(
        &running,
        reqwest::Method::GET,
        "/services/residenza/kpis?granularity=week&from=2026-10-19&to=2026-10-25",
        None,
    )
    .await;
    assert_eq!(kpis["service"], "residenza");
    assert_eq!(kpis["timezone"], "Europe/Rome");
    let week = &kpis["periods"][0];
    assert_eq!(
        (week["start"].as_str(), week["end"].as_str()),
        (Some("2026-10-19"), Some("2026-10-26"))
    );
    let applications = &week["applications"];
    assert_eq!(applications["submitted"]["value"], 2);
    // The week before had one submission (P3).
    assert_eq!(applications["submitted"]["delta_previous"], 1);
    assert_eq!(applications["submitted"]["delta_previous_pct"], 1.0);
    assert_eq!(applications["take_charge_hours_median"]["value"], 24);
    assert_eq!(applications["acceptance_rate"]["value"], 0.5);
    assert_eq!(applications["within_deadline_share"]["value"], 0.5);
    assert_eq!(applications["backlog"]["inviata"], 1, "P3");
    assert_eq!(week["appointments"]["bookings"]["value"], 0);
    assert_eq!(week["appointments"]["saturation"]["value"], Value::Null);

    // Today's week: the two ratings beside the figures.
    let today = api(
        &running,
        reqwest::Method::GET,
        "/services/residenza/kpis?granularity=week",
        None,
    )
    .await;
    let periods = today["periods"].as_array().unwrap();
    let current = &periods[periods.len() - 1]["satisfaction"];
    assert_eq!(current["count"]["value"], early + 2);
    assert_eq!(current["average"]["value"], 4);
    let tenant_wide = api(
        &running,
        reqwest::Method::GET,
        "/kpis?granularity=month",
        None,
    )
    .await;
    assert_eq!(tenant_wide["services"][0]["service"], "residenza");
    let unknown = client()
        .get(format!("{}/api/v1/services/tari/kpis", running.base))
        .bearer_auth(&running.token)
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    running.shutdown().await;
}

/// A comune's site (homepage menu, category pages, services listing, service pages) whose
/// every page carries the snippet of `entrypoint`, served on port 0.
async fn comune_site(satisfy: &str, entrypoint: &str) -> String {
    use axum::response::Html;
    let snippet = format!(
        "<script async src=\"{satisfy}/widget/v1/satisfy.js\" data-entrypoint=\"{entrypoint}\"></script>"
    );
    let page = move |links: &'static str| {
        let html = format!(
            "<!doctype html><html lang=\"it\"><head><meta charset=\"utf-8\"><title>Bugliano</title></head>\
             <body><main><h1>Comune di Bugliano</h1>{links}</main>{snippet}</body></html>"
        );
        axum::routing::get(move || async move { Html(html) })
    };
    let router = axum::Router::new()
        .route(
            "/",
            page(
                r#"<nav><a data-element="management" href="/amministrazione">Amministrazione</a>
                <a data-element="news" href="/novita">Novità</a>
                <a data-element="all-services" href="/servizi">Servizi</a>
                <a data-element="live" href="/vivere">Vivere Bugliano</a></nav>"#,
            ),
        )
        .route(
            "/amministrazione",
            page(r#"<a data-element="management-category-link" href="/amministrazione/uffici">Uffici</a>"#),
        )
        .route(
            "/novita",
            page(r#"<a data-element="news-category-link" href="/novita/notizie">Notizie</a>"#),
        )
        .route(
            "/servizi",
            page(
                r#"<a data-element="service-category-link" href="/servizi/anagrafe">Anagrafe</a>
                <a data-element="service-link" href="/servizi/cie">Carta d'identità elettronica</a>"#,
            ),
        )
        .route(
            "/vivere",
            page(
                r#"<a data-element="live-button-locations" href="/vivere/luoghi">Luoghi</a>
                <a data-element="live-button-events" href="/vivere/eventi">Eventi</a>"#,
            ),
        )
        .route("/amministrazione/uffici", page(""))
        .route("/novita/notizie", page(""))
        .route("/servizi/anagrafe", page(""))
        .route("/servizi/cie", page(""))
        .route("/vivere/luoghi", page(""))
        .route("/vivere/eventi", page(""));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{address}/")
}

/// `satisfy compliance` over a site carrying the live widget on every page: every candidate
/// page conforms as the validator checks it, the command exits 0, and the check's synthetic
/// star clicks store no rating.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_compliance_check_finds_the_live_widget_conforming_on_every_candidate_page() {
    if satisfy_compliance::find_browser(None).is_err() {
        assert!(std::env::var_os("CI").is_none(), "CI must install chromium");
        eprintln!("no chromium on the PATH: skipping");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let app = start(dir.path()).await;
    let created = api(
        &app,
        reqwest::Method::POST,
        "/entrypoints",
        Some(
            json!({"name": "Sito del comune", "kind": "pagina_web", "allowed_origins": [app.base]}),
        ),
    )
    .await;
    let entrypoint = created["id"].as_str().unwrap().to_owned();
    let site = comune_site(&app.base, &entrypoint).await;
    // Ratings come from the comune's own site, for its pages.
    api(
        &app,
        reqwest::Method::PATCH,
        &format!("/entrypoints/{entrypoint}"),
        Some(json!({"allowed_origins": [site]})),
    )
    .await;
    let json_path = dir.path().join("conformita.json");
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_satisfy"))
        .args([
            "compliance",
            "--site",
            &site,
            "--requests-per-second",
            "20",
            "--json",
        ])
        .arg(&json_path)
        .output()
        .await
        .unwrap();
    let table = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{table}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(table.contains("C.SI.2.5: superato"), "{table}");
    let report: Value = serde_json::from_slice(&std::fs::read(&json_path).unwrap()).unwrap();
    assert_eq!(
        report["criteria"],
        json!([{"code": "C.SI.2.5", "verdict": "pass"}, {"code": "C.SI.2.6", "verdict": "pass"}])
    );
    let pages = report["pages"].as_array().unwrap();
    let kinds: Vec<&str> = pages.iter().map(|p| p["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "homepage",
            "first-level",
            "first-level",
            "first-level",
            "first-level",
            "second-level",
            "second-level",
            "second-level",
            "second-level",
            "second-level",
            "service"
        ]
    );
    for page in pages {
        assert_eq!(page["verdict"], "conforming", "{page}");
        assert_eq!(page["errors"], json!([]), "{page}");
        assert_eq!(page["stricter"], json!([]), "{page}");
    }
    let stats = api(
        &app,
        reqwest::Method::GET,
        &format!("/entrypoints/{entrypoint}/stats"),
        None,
    )
    .await;
    assert_eq!(
        stats["summary"]["count"], 0,
        "the check's clicks are not ratings: {stats}"
    );
    app.shutdown().await;
}

/// Reads until the server closes the connection, for at most `within`; whatever was
/// received, or None if the connection is still open then.
async fn closed_within(
    stream: &mut tokio::net::TcpStream,
    within: std::time::Duration,
) -> Option<String> {
    use tokio::io::AsyncReadExt;
    let mut received = Vec::new();
    let read = tokio::time::timeout(within, async {
        let mut buffer = [0u8; 4096];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await;
    read.ok()
        .map(|()| String::from_utf8_lossy(&received).into_owned())
}

#[tokio::test]
async fn slow_idle_and_surplus_connections_are_closed_and_others_still_served() {
    use std::time::{Duration, Instant};
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpStream;
    let dir = tempfile::tempdir().unwrap();
    let app = start_with(
        dir.path(),
        HttpLimits {
            header_read_timeout_secs: 1,
            request_timeout_secs: 5,
            max_connections: 3,
        },
    )
    .await;
    let address = app.base.trim_start_matches("http://").to_owned();

    // A client sending half its headers and then nothing is cut off after a second.
    let started = Instant::now();
    let mut slow = TcpStream::connect(&address).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: satisfy\r\n")
        .await
        .unwrap();
    let answer = closed_within(&mut slow, Duration::from_secs(5)).await;
    assert!(answer.is_some(), "a slow client kept its connection");
    assert!(started.elapsed() >= Duration::from_millis(900));

    // A kept-alive connection is closed once idle for as long.
    let mut idle = TcpStream::connect(&address).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: satisfy\r\n\r\n")
        .await
        .unwrap();
    let answer = closed_within(&mut idle, Duration::from_secs(5)).await;
    assert!(
        answer
            .expect("closed when idle")
            .starts_with("HTTP/1.1 200")
    );

    // Three silent connections fill the cap: a fourth is closed unanswered, while the
    // three are open...
    let mut silent = Vec::new();
    for _ in 0..3 {
        silent.push(TcpStream::connect(&address).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut surplus = TcpStream::connect(&address).await.unwrap();
    let _ = surplus
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: satisfy\r\n\r\n")
        .await;
    let answer = closed_within(&mut surplus, Duration::from_millis(900)).await;
    assert_eq!(
        answer.as_deref(),
        Some(""),
        "a connection over the cap was served"
    );
    // ...and once the silent ones timed out, requests are served again.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let health = reqwest::get(format!("{}/healthz", app.base)).await.unwrap();
    assert_eq!(health.status(), 200);
    drop(silent);
    app.shutdown().await;
}

/// `satisfy serve` as a child process on a free port of `data_dir`, answering /healthz.
async fn serve_process(data_dir: &Path) -> (tokio::process::Child, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_satisfy"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(data_dir)
        .args([
            "--rate-limit-burst",
            "1000000",
            "--rate-limit-per-second",
            "1000000",
        ])
        .env("SATISFY_ADMIN_PASSWORD", PASSWORD)
        .env("SATISFY_DEMO_DATA", "false")
        .env("SATISFY_TENANT", "bugliano")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    for _ in 0..200 {
        if client()
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return (child, base);
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("satisfy serve did not start");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_under_load_the_server_loses_no_acknowledged_rating() {
    use std::collections::HashSet;
    use std::sync::{Arc, Mutex};
    let dir = tempfile::tempdir().unwrap();
    let (mut server, base) = serve_process(dir.path()).await;
    let token = admin(
        dir.path(),
        &[
            "tokens", "create", "--tenant", "bugliano", "--name", "t", "--scopes", "read",
        ],
    )
    .trim_end()
    .to_owned();
    let entrypoints = api_at(&base, &token, reqwest::Method::GET, "/entrypoints", None).await;
    let entrypoint = entrypoints["entrypoints"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Clients rate and update until the server dies under them; each keeps the ids it
    // was answered 202 for.
    let acknowledged = Arc::new(Mutex::new(HashSet::new()));
    let mut clients = Vec::new();
    for n in 0..16u8 {
        let (base, entrypoint, acknowledged) =
            (base.clone(), entrypoint.clone(), Arc::clone(&acknowledged));
        clients.push(tokio::spawn(async move {
            loop {
                let id = uuid::Uuid::new_v4().to_string();
                let first = try_post_rating(&base, &entrypoint, &id, n % 5 + 1).await;
                if first.ok() != Some(202) {
                    break;
                }
                acknowledged.lock().unwrap().insert(id.clone());
                let update = try_post_rating(&base, &entrypoint, &id, 5).await;
                if update.ok() != Some(202) {
                    break;
                }
            }
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(2_000)).await;
    server.start_kill().unwrap();
    server.wait().await.unwrap();
    for client in clients {
        client.await.unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() > 100,
        "{} acknowledged",
        acknowledged.len()
    );

    let (restarted, base) = serve_process(dir.path()).await;
    let today = chrono::Utc::now().date_naive();
    let (from, to) = (today - chrono::Days::new(1), today + chrono::Days::new(1));
    let export = client()
        .get(format!(
            "{base}/api/v1/entrypoints/{entrypoint}/ratings?format=ndjson&from={from}&to={to}"
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let stored: HashSet<String> = export
        .lines()
        .map(|line| {
            let rating: Value = serde_json::from_str(line).unwrap();
            rating["id"].as_str().expect(line).to_owned()
        })
        .collect();
    let lost: Vec<&String> = acknowledged.difference(&stored).collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged ratings lost",
        lost.len(),
        acknowledged.len()
    );
    drop(restarted);
}
