//! What the console's integration tests share: the console spawned on port 0 over a
//! configuration store, a browser-like client, sign-in and invitation as a person does
//! them, and the configuration backends to run on (SQLite always; PostgreSQL when
//! TEST_SATISFY_POSTGRES_URL names a server, as tests/run.sh starts one, and always
//! under CI).
// Each test binary uses part of this module.
#![allow(dead_code)]

use reqwest::StatusCode;
use reqwest::redirect::Policy;
use satisfy_aggregator::SqliteStore;
use satisfy_console::roles::Role;
use satisfy_console::sign_in::SignInGuard;
use satisfy_console::store::{PostgresConfigStore, SqliteConfigStore, Tenant, TenantStatus};
use satisfy_console::{ConsoleConfig, ConsoleState, SharedConfigStore};
use satisfy_console::{invitations, tokens};
use satisfy_core::{Scope, TenantId};
use std::net::SocketAddr;
use std::sync::Arc;

/// A fresh, empty PostgreSQL configuration store (its own database), or `None` when no
/// server is configured outside CI.
pub async fn postgres_store() -> Option<SharedConfigStore> {
    let Ok(url) = std::env::var("TEST_SATISFY_POSTGRES_URL") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must set TEST_SATISFY_POSTGRES_URL"
        );
        eprintln!("TEST_SATISFY_POSTGRES_URL is not set: skipping the PostgreSQL backend");
        return None;
    };
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("connecting to the test PostgreSQL");
    tokio::spawn(connection);
    let database = format!("satisfy_test_{:016x}", rand::random::<u64>());
    client
        .batch_execute(&format!("CREATE DATABASE {database}"))
        .await
        .expect("creating a test database");
    let (server, _) = url
        .rsplit_once('/')
        .expect("TEST_SATISFY_POSTGRES_URL ends with /database");
    let store = PostgresConfigStore::connect(&format!("{server}/{database}"))
        .await
        .expect("connecting the store");
    Some(Arc::new(store))
}

/// Every configuration backend to test, by name, each fresh and empty.
pub async fn backends(dir: &std::path::Path) -> Vec<(&'static str, SharedConfigStore)> {
    let sqlite: SharedConfigStore =
        Arc::new(SqliteConfigStore::open(&dir.join("console.db")).unwrap());
    let mut backends = vec![("sqlite", sqlite)];
    if let Some(postgres) = postgres_store().await {
        backends.push(("postgres", postgres));
    }
    backends
}

pub const PASSWORD: &str = "una-password-lunga";

pub struct Console {
    pub base: String,
    /// A read and write API token of `bugliano`, and its actor name in the audit log.
    pub token: String,
    pub token_actor: String,
    pub store: SharedConfigStore,
    pub ratings: SqliteStore,
    pub sign_in: Arc<SignInGuard>,
    /// The console's state, for the background jobs a test runs itself.
    pub state: ConsoleState,
    pub dir: tempfile::TempDir,
}

/// The console on SQLite, as embedded mode runs it.
pub async fn spawn() -> Console {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteConfigStore::open(&dir.path().join("console.db")).unwrap());
    spawn_on(store, dir).await
}

/// The console on `store`, with the first administrator and an API token of `bugliano`.
pub async fn spawn_on(store: SharedConfigStore, dir: tempfile::TempDir) -> Console {
    let ratings = SqliteStore::open(&dir.path().join("ratings.db")).unwrap();
    let tenant = TenantId::parse("bugliano").unwrap();
    let generated = satisfy_console::ensure_admin(store.as_ref(), &tenant, Some(&PASSWORD.into()))
        .await
        .unwrap();
    assert_eq!(generated, None);
    let state = ConsoleState::new(
        store.clone(),
        Arc::new(ratings.clone()),
        Arc::new(ratings.clone()),
        Arc::new(ratings.clone()),
        ConsoleConfig {
            public_url: "https://satisfy.example.it".into(),
            time_zone: chrono_tz::Europe::Rome,
            secure_cookies: false,
            internal_token: None,
            trust_forwarded_for: false,
            compliance: satisfy_console::compliance::ComplianceConfig::default(),
        },
    )
    .unwrap();
    satisfy_console::compliance::spawn_runner(state.clone());
    let sign_in = state.sign_in.clone();
    let issued = tokens::issue(
        store.as_ref(),
        tenant.clone(),
        "test".into(),
        vec![Scope::Read, Scope::Write],
        None,
    )
    .await
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app =
        satisfy_console::router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Console {
        base,
        token: issued.secret,
        token_actor: format!("token:{}", issued.token.id),
        store,
        ratings,
        sign_in,
        state,
        dir,
    }
}

pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .build()
        .unwrap()
}

/// The value of `name="csrf"` in a page.
pub fn csrf_of(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("no csrf field") + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

pub async fn log_in(
    console: &Console,
    client: &reqwest::Client,
    password: &str,
) -> reqwest::Response {
    log_in_as(console, client, "admin", password).await
}

pub async fn log_in_as(
    console: &Console,
    client: &reqwest::Client,
    username: &str,
    password: &str,
) -> reqwest::Response {
    let form = client
        .get(format!("{}/console/login", console.base))
        .send()
        .await
        .unwrap();
    let csrf = csrf_of(&form.text().await.unwrap());
    client
        .post(format!("{}/console/login", console.base))
        .form(&[
            ("username", username),
            ("password", password),
            ("csrf", &csrf),
        ])
        .send()
        .await
        .unwrap()
}

pub async fn token(
    console: &Console,
    tenant: &str,
    scopes: &[Scope],
    expires_at: Option<i64>,
) -> String {
    let tenant = TenantId::parse(tenant).unwrap();
    if console.store.tenant(&tenant).await.unwrap().is_none() {
        console
            .store
            .create_tenant(&Tenant {
                slug: tenant.clone(),
                name: "Comune di Altrove".into(),
                ipa_code: None,
                site_url: None,
                time_zone: "Europe/Rome".into(),
                languages: vec!["it".into()],
                status: TenantStatus::Active,
                created_at: 0,
                retention_months: Tenant::DEFAULT_RETENTION_MONTHS,
            })
            .await
            .unwrap();
    }
    tokens::issue(
        console.store.as_ref(),
        tenant,
        "prova".into(),
        scopes.to_vec(),
        expires_at,
    )
    .await
    .unwrap()
    .secret
}

/// Invites `username` and sets their password through the set-password page, as the
/// invited person would; returns a browser signed in as them.
pub async fn invited(
    console: &Console,
    tenant: &str,
    username: &str,
    role: Role,
) -> reqwest::Client {
    let tenant_id = TenantId::parse(tenant).unwrap();
    if console.store.tenant(&tenant_id).await.unwrap().is_none() {
        token(console, tenant, &[Scope::Read], None).await;
    }
    let link = invitations::invite(
        console.store.as_ref(),
        &console.base,
        tenant_id,
        username,
        role,
    )
    .await
    .unwrap();
    let client = browser();
    let form = client.get(&link).send().await.unwrap();
    assert_eq!(form.status(), StatusCode::OK);
    let csrf = csrf_of(&form.text().await.unwrap());
    let invitation = link.split("token=").nth(1).unwrap().to_owned();
    let password = format!("{username}-tramonto-sul-serchio");
    let set = client
        .post(format!("{}/console/set-password", console.base))
        .form(&[
            ("token", invitation.as_str()),
            ("password", &password),
            ("confirm", &password),
            ("csrf", &csrf),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), StatusCode::SEE_OTHER, "{username}");
    // The sign-in form says the password is saved, with the username filled in.
    let location = set.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(location, format!("/console/login?password_set={username}"));
    let login = client
        .get(format!("{}{location}", console.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(login.contains("role=\"status\""), "{login}");
    assert!(login.contains(&format!("value=\"{username}\"")), "{login}");
    let csrf = csrf_of(&login);
    let signed_in = client
        .post(format!("{}/console/login", console.base))
        .form(&[
            ("username", username),
            ("password", &password),
            ("csrf", &csrf),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        signed_in.status(),
        StatusCode::SEE_OTHER,
        "{username} signs in"
    );
    client
}

/// Creates an entrypoint of `bugliano` through the API from `body`; returns its id.
pub async fn created_entrypoint(console: &Console, body: serde_json::Value) -> String {
    let created: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/api/v1/entrypoints", console.base))
        .bearer_auth(&console.token)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    created["id"].as_str().unwrap().to_owned()
}
