//! Tenant isolation and roles, proven on both configuration backends: two tenants, a user
//! of every role, and every console and API route (HTML and JSON, GET and every unsafe
//! method) walked with the other tenant's ids and by every role that must not reach it.
//! Another tenant's resource answers 404, a missing role or scope 403, and no answer
//! ever carries the other tenant's data.

mod support;

use reqwest::{Method, StatusCode};
use satisfy_console::roles::Role;
use satisfy_console::store::new_entrypoint;
use satisfy_core::{EntrypointKind, Scope, TenantId};
use serde_json::{Value, json};
use support::*;

/// The users of `bugliano` walking the routes, in the order of every expectation row:
/// the platform administrator, then one user per tenant role.
const USERS: [&str; 5] = ["admin", "capo", "editor", "viewer", "auditor"];

/// The other tenant's entrypoint name: no answer to a `bugliano` user may contain it.
const SECRET_NAME: &str = "Segreto di Altrove";

/// The other tenant's service: no answer to a `bugliano` user may name it.
const THEIR_SERVICE: &str = "tari-altrove";

const OK: u16 = 200;
const CREATED: u16 = 201;
const SEE_OTHER: u16 = 303;
const DENIED: u16 = 403;
const HIDDEN: u16 = 404;

/// What a request sends besides its session.
#[derive(Clone, Copy)]
enum Body {
    None,
    /// A form with these fields, `{who}` replaced by the user's name (the session's CSRF
    /// token is added).
    Form(&'static [(&'static str, &'static str)]),
    /// JSON (the session's CSRF token goes in `X-CSRF-Token`).
    Json,
}

/// One route to walk: method, path (`{ep}` an entrypoint id, `{token}` a token id,
/// `{tenant}` a tenant slug, all of `bugliano` unless walked with the other tenant's),
/// body, and the expected status per user of [`USERS`].
struct Route {
    method: Method,
    path: &'static str,
    body: Body,
    expected: [u16; 5],
}

fn route(method: Method, path: &'static str, body: Body, expected: [u16; 5]) -> Route {
    Route {
        method,
        path,
        body,
        expected,
    }
}

fn routes() -> Vec<Route> {
    const ENTRYPOINT_FORM: &[(&str, &str)] = &[
        ("name", "Sito rinominato"),
        ("kind", "pagina_web"),
        ("status", "active"),
        ("origins", "https://www.comune.bugliano.pi.it"),
    ];
    const INVITE_FORM: &[(&str, &str)] = &[("username", "nuovo-{who}"), ("role", "viewer")];
    const TOKEN_FORM: &[(&str, &str)] = &[("name", "Sito"), ("scope", "read")];
    const TENANT_FORM: &[(&str, &str)] = &[
        ("slug", "terzo"),
        ("name", "Comune Terzo"),
        ("time_zone", "Europe/Rome"),
        ("lang_it", "on"),
    ];
    const EDIT_TENANT_FORM: &[(&str, &str)] = &[
        ("name", "Comune rinominato"),
        ("time_zone", "Europe/Rome"),
        ("lang_it", "on"),
    ];
    const STATUS_FORM: &[(&str, &str)] = &[("status", "active")];
    use Body::{Form, Json};
    use Method as M;
    let none = Body::None;
    vec![
        // Entrypoints, console pages.
        route(M::GET, "/console/entrypoints", none, [OK; 5]),
        route(
            M::GET,
            "/console/entrypoints/new",
            none,
            [OK, OK, OK, DENIED, DENIED],
        ),
        route(
            M::POST,
            "/console/entrypoints",
            Form(ENTRYPOINT_FORM),
            [SEE_OTHER, SEE_OTHER, SEE_OTHER, DENIED, DENIED],
        ),
        route(
            M::GET,
            "/console/entrypoints/{ep}/edit",
            none,
            [OK, OK, OK, DENIED, DENIED],
        ),
        route(
            M::POST,
            "/console/entrypoints/{ep}",
            Form(ENTRYPOINT_FORM),
            [SEE_OTHER, SEE_OTHER, SEE_OTHER, DENIED, DENIED],
        ),
        route(
            M::GET,
            "/console/entrypoints/{ep}/snippet",
            none,
            [OK, OK, OK, DENIED, DENIED],
        ),
        route(
            M::GET,
            "/console/entrypoints/{ep}/stats",
            none,
            [OK, OK, DENIED, OK, OK],
        ),
        // Entrypoints, API with the session.
        route(M::GET, "/api/v1/entrypoints", none, [OK; 5]),
        route(
            M::POST,
            "/api/v1/entrypoints",
            Json,
            [CREATED, CREATED, CREATED, DENIED, DENIED],
        ),
        route(M::GET, "/api/v1/entrypoints/{ep}", none, [OK; 5]),
        route(
            M::PATCH,
            "/api/v1/entrypoints/{ep}",
            Json,
            [OK, OK, OK, DENIED, DENIED],
        ),
        route(
            M::PUT,
            "/api/v1/entrypoints/{ep}",
            Json,
            [OK, OK, OK, DENIED, DENIED],
        ),
        route(
            M::GET,
            "/api/v1/entrypoints/{ep}/stats",
            none,
            [OK, OK, DENIED, OK, OK],
        ),
        route(
            M::GET,
            "/api/v1/entrypoints/{ep}/ratings?format=csv",
            none,
            [OK, OK, DENIED, OK, OK],
        ),
        route(
            M::GET,
            "/api/v1/entrypoints/{ep}/ratings?q=orario",
            none,
            [OK, OK, DENIED, OK, DENIED],
        ),
        route(
            M::GET,
            "/api/v1/entrypoints/{ep}/aggregates?format=ndjson",
            none,
            [OK, OK, DENIED, OK, OK],
        ),
        route(M::GET, "/api/v1/overview", none, [OK, OK, DENIED, OK, OK]),
        route(M::GET, "/console/overview", none, [OK, OK, DENIED, OK, OK]),
        route(
            M::GET,
            "/console/entrypoints/{ep}/comments",
            none,
            [OK, OK, DENIED, OK, DENIED],
        ),
        // The team: tenant administrators only.
        route(
            M::GET,
            "/console/users",
            none,
            [OK, OK, DENIED, DENIED, DENIED],
        ),
        route(
            M::POST,
            "/console/users",
            Form(INVITE_FORM),
            [OK, OK, DENIED, DENIED, DENIED],
        ),
        route(
            M::GET,
            "/console/tokens",
            none,
            [OK, OK, DENIED, DENIED, DENIED],
        ),
        route(
            M::POST,
            "/console/tokens",
            Form(TOKEN_FORM),
            [OK, OK, DENIED, DENIED, DENIED],
        ),
        route(
            M::POST,
            "/console/tokens/{token}/revoke",
            Form(&[]),
            [SEE_OTHER, SEE_OTHER, DENIED, DENIED, DENIED],
        ),
        route(
            M::GET,
            "/console/audit",
            none,
            [OK, OK, DENIED, DENIED, DENIED],
        ),
        route(
            M::GET,
            "/console/audit.csv",
            none,
            [OK, OK, DENIED, DENIED, DENIED],
        ),
        // Personal data: tenant administrators only (deleting an unknown rating is 422).
        route(
            M::GET,
            "/console/privacy",
            none,
            [OK, OK, DENIED, DENIED, DENIED],
        ),
        route(
            M::POST,
            "/console/privacy/retention",
            Form(&[("months", "24")]),
            [OK, OK, DENIED, DENIED, DENIED],
        ),
        route(
            M::POST,
            "/console/privacy/ratings/delete",
            Form(&[("id", "00000000-0000-4000-8000-0000000000ff")]),
            [422, 422, DENIED, DENIED, DENIED],
        ),
        route(
            M::POST,
            "/console/privacy/comments/erase",
            Form(&[("text", "nessun commento dice questo")]),
            [OK, OK, DENIED, DENIED, DENIED],
        ),
        // PNRR compliance: administrators and auditors read it, administrators start runs
        // (refused here as 422: the test tenant has no site address).
        route(
            M::GET,
            "/console/compliance",
            none,
            [OK, OK, DENIED, DENIED, OK],
        ),
        route(
            M::POST,
            "/console/compliance/run",
            Form(&[]),
            [422, 422, DENIED, DENIED, DENIED],
        ),
        // Everyone's own account.
        route(M::GET, "/console/account", none, [OK; 5]),
        // Tenants: platform administrators only.
        route(
            M::GET,
            "/console/tenants",
            none,
            [OK, DENIED, DENIED, DENIED, DENIED],
        ),
        route(
            M::POST,
            "/console/tenants",
            Form(TENANT_FORM),
            [SEE_OTHER, DENIED, DENIED, DENIED, DENIED],
        ),
        route(
            M::GET,
            "/console/tenants/{tenant}/edit",
            none,
            [OK, DENIED, DENIED, DENIED, DENIED],
        ),
        route(
            M::POST,
            "/console/tenants/{tenant}",
            Form(EDIT_TENANT_FORM),
            [SEE_OTHER, DENIED, DENIED, DENIED, DENIED],
        ),
        route(
            M::POST,
            "/console/tenants/{tenant}/status",
            Form(STATUS_FORM),
            [SEE_OTHER, DENIED, DENIED, DENIED, DENIED],
        ),
    ]
}

/// The ids a walk fills paths with.
struct Ids {
    entrypoint: String,
    token: String,
    tenant: &'static str,
    service: &'static str,
}

impl Route {
    fn url(&self, base: &str, ids: &Ids) -> String {
        format!(
            "{base}{}",
            self.path
                .replace("{ep}", &ids.entrypoint)
                .replace("{token}", &ids.token)
                .replace("{tenant}", ids.tenant)
                .replace("{service}", ids.service)
        )
    }

    fn uses_ids(&self) -> bool {
        self.path.contains('{')
    }
}

/// The session's CSRF token, from a page every user may open.
async fn csrf(console: &Console, client: &reqwest::Client) -> String {
    let page = client
        .get(format!("{}/console/account", console.base))
        .send()
        .await
        .unwrap();
    csrf_of(&page.text().await.unwrap())
}

async fn send(
    client: &reqwest::Client,
    route: &Route,
    url: &str,
    csrf: &str,
    who: &str,
) -> (u16, String) {
    let request = client.request(route.method.clone(), url);
    let request = match route.body {
        Body::None => request.header("x-csrf-token", csrf),
        Body::Form(fields) => {
            let mut form: Vec<(&str, String)> = fields
                .iter()
                .map(|(name, value)| (*name, value.replace("{who}", who)))
                .collect();
            form.push(("csrf", csrf.to_owned()));
            request.form(&form)
        }
        Body::Json => {
            let mut body = json!({
                "name": format!("Sito di {who}"),
                "allowed_origins": ["https://www.comune.bugliano.pi.it"],
            });
            // The kind is chosen at creation only.
            if route.method == Method::POST {
                body["kind"] = json!("pagina_web");
            }
            request.header("x-csrf-token", csrf).json(&body)
        }
    };
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

/// A fresh live token of `tenant` and its id.
async fn token_id(console: &Console, tenant: &str) -> String {
    let secret = token(console, tenant, &[Scope::Read], None).await;
    let tenant = TenantId::parse(tenant).unwrap();
    let tokens = console.store.tokens(&tenant).await.unwrap();
    let token = tokens
        .iter()
        .find(|t| secret.starts_with(&format!("sat_{}_", t.id)))
        .expect("the issued token is listed");
    token.id.clone()
}

async fn walk(console: &Console, backend: &str) {
    let bugliano = TenantId::parse("bugliano").unwrap();
    let altrove = TenantId::parse("altrove").unwrap();
    // The other tenant: an admin, an entrypoint and a token.
    let stranger = invited(console, "altrove", "stranger", Role::Admin).await;
    let theirs = new_entrypoint(
        altrove.clone(),
        SECRET_NAME.into(),
        EntrypointKind::PaginaWeb,
        vec![],
        None,
    );
    console.store.create_entrypoint(&theirs).await.unwrap();
    let mut their_service = new_entrypoint(
        altrove.clone(),
        "Scheda TARI".into(),
        EntrypointKind::SchedaServizio,
        vec![],
        None,
    );
    their_service.service = Some(THEIR_SERVICE.into());
    console
        .store
        .create_entrypoint(&their_service)
        .await
        .unwrap();
    let their_ids = Ids {
        entrypoint: theirs.id.as_str().to_owned(),
        token: token_id(console, "altrove").await,
        tenant: "altrove",
        service: THEIR_SERVICE,
    };
    // `bugliano`: the platform administrator and one user of every tenant role.
    let ours = new_entrypoint(
        bugliano.clone(),
        "Sito di Bugliano".into(),
        EntrypointKind::PaginaWeb,
        vec![],
        None,
    );
    console.store.create_entrypoint(&ours).await.unwrap();
    let mut our_service = new_entrypoint(
        bugliano.clone(),
        "Scheda residenza".into(),
        EntrypointKind::SchedaServizio,
        vec![],
        None,
    );
    our_service.service = Some("residenza".into());
    console.store.create_entrypoint(&our_service).await.unwrap();
    let admin = browser();
    assert_eq!(
        log_in(console, &admin, PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
    let mut users = vec![admin];
    for (name, role) in [
        ("capo", Role::Admin),
        ("editor", Role::Editor),
        ("viewer", Role::Viewer),
        ("auditor", Role::Auditor),
    ] {
        users.push(invited(console, "bugliano", name, role).await);
    }

    for route in routes() {
        for (index, client) in users.iter().enumerate() {
            let who = USERS[index];
            let csrf = csrf(console, client).await;
            // Another tenant's resource: 404, or 403 where the role may not use the route
            // at all (an answer that does not depend on the id); nothing of it shown.
            if route.uses_ids() && !route.path.starts_with("/console/tenants") {
                let url = route.url(&console.base, &their_ids);
                let (status, body) = send(client, &route, &url, &csrf, who).await;
                let expected: &[u16] = if route.expected[index] == DENIED {
                    &[DENIED, HIDDEN]
                } else {
                    &[HIDDEN]
                };
                assert!(
                    expected.contains(&status),
                    "{backend}: {who} {} {url}: {status}",
                    route.method
                );
                assert!(!body.contains(SECRET_NAME), "{backend}: {who} {url}");
            }
            // The user's own tenant: what the role allows.
            let own = Ids {
                entrypoint: ours.id.as_str().to_owned(),
                token: token_id(console, "bugliano").await,
                tenant: "altrove",
                service: "residenza",
            };
            let url = route.url(&console.base, &own);
            let (status, body) = send(client, &route, &url, &csrf, who).await;
            assert_eq!(
                status, route.expected[index],
                "{backend}: {who} {} {}",
                route.method, route.path
            );
            if who != "admin" {
                assert!(
                    !body.contains(SECRET_NAME)
                        && !body.contains(theirs.id.as_str())
                        && !body.contains(THEIR_SERVICE),
                    "{backend}: {who} {} {} shows the other tenant's data",
                    route.method,
                    route.path
                );
            }
            // Free-text comments may hold personal data: never for auditors.
            if route.path.ends_with("/stats") && status == OK {
                let comments = if route.path.starts_with("/api") {
                    let stats: Value = serde_json::from_str(&body).unwrap();
                    stats.get("comments").is_some()
                } else {
                    body.contains("Ultimi commenti")
                };
                assert_eq!(
                    comments,
                    who != "auditor",
                    "{backend}: {who} {}",
                    route.path
                );
            }
        }
    }

    // Switching to a tenant where the user holds no role is refused.
    for (index, client) in users.iter().enumerate().skip(1) {
        let csrf = csrf(console, client).await;
        let switch = client
            .post(format!("{}/console/tenant", console.base))
            .form(&[("tenant", "altrove"), ("csrf", &csrf)])
            .send()
            .await
            .unwrap();
        assert_eq!(
            switch.status(),
            StatusCode::FORBIDDEN,
            "{backend}: {}",
            USERS[index]
        );
    }

    // The other tenant's administrator sees none of `bugliano`.
    let csrf = csrf(console, &stranger).await;
    let our_ids = Ids {
        entrypoint: ours.id.as_str().to_owned(),
        token: token_id(console, "bugliano").await,
        tenant: "bugliano",
        service: "residenza",
    };
    for route in routes().iter().filter(|r| r.uses_ids()) {
        let url = route.url(&console.base, &our_ids);
        let (status, body) = send(&stranger, route, &url, &csrf, "stranger").await;
        let expected = if route.path.starts_with("/console/tenants") {
            DENIED
        } else {
            HIDDEN
        };
        assert_eq!(
            status, expected,
            "{backend}: stranger {} {url}",
            route.method
        );
        assert!(
            !body.contains("Sito di Bugliano"),
            "{backend}: stranger {url}"
        );
    }

    // API tokens: their tenant only, within their scopes.
    let api = reqwest::Client::new();
    let reader = token(console, "bugliano", &[Scope::Read], None).await;
    let events_only = token(console, "bugliano", &[Scope::EventsWrite], None).await;
    let url = |id: &str| format!("{}/api/v1/entrypoints/{id}", console.base);
    for (token, id, method, expected) in [
        (&reader, ours.id.as_str(), Method::GET, OK),
        (&reader, ours.id.as_str(), Method::PATCH, DENIED),
        (&reader, ours.id.as_str(), Method::PUT, DENIED),
        (&reader, theirs.id.as_str(), Method::GET, HIDDEN),
        // A missing scope is refused before any lookup, whatever the id.
        (&reader, theirs.id.as_str(), Method::PATCH, DENIED),
        (&events_only, ours.id.as_str(), Method::GET, DENIED),
        (&events_only, theirs.id.as_str(), Method::GET, DENIED),
    ] {
        let response = api
            .request(method.clone(), url(id))
            .bearer_auth(token)
            .json(&json!({"name": "Cambiato"}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status().as_u16(),
            expected,
            "{backend}: token {method} {id}"
        );
        assert!(!response.text().await.unwrap().contains(SECRET_NAME));
    }
    let listed: Value = api
        .get(format!("{}/api/v1/entrypoints", console.base))
        .bearer_auth(&reader)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(!listed.to_string().contains(SECRET_NAME), "{backend}");
}

#[tokio::test]
async fn every_route_keeps_tenants_apart_and_roles_within_bounds_on_both_backends() {
    let dir = tempfile::tempdir().unwrap();
    for (backend, store) in backends(dir.path()).await {
        let console = spawn_on(store, tempfile::tempdir().unwrap()).await;
        walk(&console, backend).await;
    }
}
