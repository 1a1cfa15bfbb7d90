//! The console spawned on port 0 with real SQLite stores, driven over HTTP like a browser
//! and like an API client.

mod support;

use reqwest::StatusCode;
use satisfy_aggregator::{RatingStore, StoredRating};
use satisfy_console::invitations;
use satisfy_console::roles::Role;
use satisfy_console::sign_in::{self, FREE_FAILURES};
use satisfy_core::{RatingSubmission, Scope, TenantId, WireRating};
use serde::Deserialize;
use serde_json::{Value, json};
use support::*;

#[tokio::test]
async fn wrong_sign_ins_from_one_address_get_429_after_a_handful_without_hashing() {
    let console = spawn().await;
    let client = browser();
    let mut statuses = Vec::new();
    for _ in 0..40 {
        statuses.push(log_in(&console, &client, "sbagliata").await.status());
    }
    let allowed = FREE_FAILURES as usize;
    assert!(
        statuses[..allowed]
            .iter()
            .all(|s| *s == StatusCode::UNAUTHORIZED)
    );
    assert!(
        statuses[allowed..]
            .iter()
            .all(|s| *s == StatusCode::TOO_MANY_REQUESTS)
    );
    // Only the first attempts cost a password hash: the rest are refused before it.
    assert_eq!(console.sign_in.hashes(), allowed as u64);
    let throttled = log_in(&console, &client, PASSWORD).await;
    assert_eq!(throttled.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = throttled.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&wait));
    assert!(
        throttled
            .text()
            .await
            .unwrap()
            .contains("Troppi tentativi non riusciti")
    );

    // Unknown API tokens count against the address too; passwords are never accepted
    // on the API.
    let bad_token = || {
        reqwest::Client::new()
            .get(format!("{}/api/v1/entrypoints", console.base))
            .bearer_auth("sat_000000000000_sbagliato")
            .send()
    };
    let mut api = bad_token().await.unwrap();
    for _ in 0..sign_in::FREE_ADDRESS_FAILURES {
        if api.status() == StatusCode::TOO_MANY_REQUESTS {
            break;
        }
        assert_eq!(api.status(), StatusCode::UNAUTHORIZED);
        api = bad_token().await.unwrap();
    }
    assert_eq!(api.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(api.headers().contains_key("retry-after"));
    let body: Value = api.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too_many_attempts");
    let hashes = console.sign_in.hashes();
    let basic = reqwest::Client::new()
        .get(format!("{}/api/v1/entrypoints", console.base))
        .basic_auth("admin", Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        console.sign_in.hashes(),
        hashes,
        "no password is checked on the API"
    );
}

#[tokio::test]
async fn unknown_usernames_cost_a_password_hash_like_known_ones() {
    let console = spawn().await;
    let response = log_in_as(&console, &browser(), "nessuno", "qualsiasi-password").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(console.sign_in.hashes(), 1);
    // A name no account can have (a password typed in the wrong field, say) fails at once
    // and is recorded nowhere.
    let odd = log_in_as(&console, &browser(), "La Mia Password 2026!", "x").await;
    assert_eq!(odd.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(console.sign_in.hashes(), 1);
    let log = console.store.audit_log(None, 10).await.unwrap();
    assert!(log.iter().all(|e| !e.actor.contains("Password")));
    assert!(
        log.iter()
            .any(|e| e.actor == "unknown" && e.action == "sign_in_failed")
    );
}

#[tokio::test]
async fn every_response_carries_the_security_headers_errors_included() {
    let console = spawn().await;
    let client = reqwest::Client::new();
    for (path, status) in [
        ("/console/login", StatusCode::OK),
        ("/console/nowhere", StatusCode::NOT_FOUND),
        ("/api/v1/entrypoints", StatusCode::UNAUTHORIZED),
        ("/api/v1/nowhere", StatusCode::NOT_FOUND),
    ] {
        let response = client
            .get(format!("{}{path}", console.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{path}");
        let headers = response.headers();
        for (name, expected) in [
            ("x-content-type-options", "nosniff"),
            ("x-frame-options", "DENY"),
            ("referrer-policy", "same-origin"),
            ("cache-control", "no-store"),
        ] {
            assert_eq!(headers[name], expected, "{name} on {path}");
        }
        assert!(
            headers["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("frame-ancestors 'none'"),
            "{path}"
        );
        assert!(!headers.contains_key("strict-transport-security"));
    }
}

#[tokio::test]
async fn login_sets_a_strict_http_only_cookie_and_wrong_passwords_fail() {
    let console = spawn().await;
    let client = browser();
    assert_eq!(
        client
            .get(format!("{}/console/entrypoints", console.base))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::SEE_OTHER
    );
    let failed = log_in(&console, &client, "sbagliata").await;
    assert_eq!(failed.status(), StatusCode::UNAUTHORIZED);
    assert!(
        failed
            .text()
            .await
            .unwrap()
            .contains("Nome utente o password non validi.")
    );

    let ok = log_in(&console, &client, PASSWORD).await;
    assert_eq!(ok.status(), StatusCode::SEE_OTHER);
    let cookie = ok.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("satisfy_session="));
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let list = client
        .get(format!("{}/console/entrypoints", console.base))
        .send()
        .await
        .unwrap();
    assert_eq!(list.status(), StatusCode::OK);
    assert!(
        list.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'self'")
    );

    // Logging out ends the session server-side.
    let csrf = csrf_of(&list.text().await.unwrap());
    let out = client
        .post(format!("{}/console/logout", console.base))
        .form(&[("csrf", &csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    let after = client
        .get(format!("{}/console/entrypoints", console.base))
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn forms_without_the_csrf_token_are_rejected() {
    let console = spawn().await;
    let client = browser();
    // The login form itself is protected by a double-submit token.
    let forged_login = client
        .post(format!("{}/console/login", console.base))
        .form(&[
            ("username", "admin"),
            ("password", PASSWORD),
            ("csrf", "forged"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(forged_login.status(), StatusCode::FORBIDDEN);

    log_in(&console, &client, PASSWORD).await;
    let forged = client
        .post(format!("{}/console/entrypoints", console.base))
        .form(&[("name", "Pagine"), ("kind", "pagina_web"), ("csrf", "nope")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let missing = client
        .post(format!("{}/console/entrypoints", console.base))
        .form(&[("name", "Pagine"), ("kind", "pagina_web")])
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::FORBIDDEN);
    // Cookie-authenticated API changes need the header too.
    let api = client
        .post(format!("{}/api/v1/entrypoints", console.base))
        .json(&json!({"name": "x", "kind": "pagina_web", "allowed_origins": ["https://www.comune.bugliano.it"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), StatusCode::FORBIDDEN);
    let list: Value = client
        .get(format!("{}/api/v1/entrypoints", console.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["entrypoints"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn an_entrypoint_created_in_the_console_gets_a_snippet_and_appears_in_the_list() {
    let console = spawn().await;
    let client = browser();
    log_in(&console, &client, PASSWORD).await;
    let form = client
        .get(format!("{}/console/entrypoints/new", console.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(form.contains("Modello comuni - valutazione servizio"));
    let created = client
        .post(format!("{}/console/entrypoints", console.base))
        .form(&[
            ("name", "Servizi online"),
            ("kind", "valutazione_servizio"),
            ("origins", "https://www.comune.bugliano.it"),
            ("csrf", &csrf_of(&form)),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::SEE_OTHER);
    let snippet_url = created.headers()["location"].to_str().unwrap().to_owned();
    assert!(snippet_url.ends_with("/snippet"));
    let snippet = client
        .get(format!("{}{snippet_url}", console.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let id = snippet_url
        .trim_end_matches("/snippet")
        .rsplit('/')
        .next()
        .unwrap();
    assert!(snippet.contains(&format!("https://satisfy.example.it/widget/v1/{id}.js")));
    // For sites not all in Italian: the loader in each page's language, shown as text.
    assert!(snippet.contains("Pagine in più lingue"));
    assert!(snippet.contains(&format!(
        "s.src=&#34;https://satisfy.example.it/widget/v1/{id}.js?lang=&#34;+encodeURIComponent(d.documentElement.lang)"
    )));
    let api: Value = client
        .get(format!("{}/api/v1/entrypoints/{id}", console.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        api["snippet_multilingual"].as_str().unwrap(),
        format!(
            "<!-- Satisfy: valutazione della pagina, nella lingua della pagina -->\n<script>(function(d){{var s=d.createElement(\"script\");s.async=true;\
             s.src=\"https://satisfy.example.it/widget/v1/{id}.js?lang=\"+encodeURIComponent(d.documentElement.lang);\
             s.setAttribute(\"data-entrypoint\",\"{id}\");(d.body||d.head).appendChild(s)}})(document)</script>"
        )
    );

    let list = client
        .get(format!("{}/console/entrypoints", console.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(list.contains("Servizi online"));
    assert!(list.contains("Quanto è stato facile usare questo servizio?"));

    // Switching language re-renders the list in German.
    client
        .get(format!(
            "{}/console/lang/de?next=/console/entrypoints",
            console.base
        ))
        .send()
        .await
        .unwrap();
    let german = client
        .get(format!("{}/console/entrypoints", console.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(german.contains("Wie einfach war die Nutzung dieses Dienstes?"));
    assert!(german.contains("Entrypoint hinzufügen"));
    // Dates as German readers write them: 07.12.2026.
    let german_date = |text: &str| {
        text.as_bytes().windows(10).any(|w| {
            w.iter().enumerate().all(|(i, b)| match i {
                2 | 5 => *b == b'.',
                _ => b.is_ascii_digit(),
            })
        })
    };
    assert!(german_date(&german), "{german}");
    assert!(!german_date(&list), "{list}");
    // The page's own filters survive a switch made on it (the browser names the page in
    // Referer); another page's do not travel.
    let switched = |referer: String| {
        client
            .get(format!(
                "{}/console/lang/de?next=/console/overview",
                console.base
            ))
            .header("referer", referer)
            .send()
    };
    let kept = switched(format!("{}/console/overview?period=7d", console.base))
        .await
        .unwrap();
    assert_eq!(kept.headers()["location"], "/console/overview?period=7d");
    let elsewhere = switched(format!("{}/console/entrypoints?x=1", console.base))
        .await
        .unwrap();
    assert_eq!(elsewhere.headers()["location"], "/console/overview");
    let slash = client
        .get(format!("{}/console/", console.base))
        .send()
        .await
        .unwrap();
    assert_eq!(slash.headers()["location"], "/console");

    // An invalid origin re-renders the form with an error instead of saving.
    let bad = client
        .post(format!("{}/console/entrypoints", console.base))
        .form(&[
            ("name", "X"),
            ("kind", "pagina_web"),
            ("origins", "not a url"),
            ("csrf", &csrf_of(&german)),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // Said in the page's language (the API says it in English).
    let bad = bad.text().await.unwrap();
    assert!(
        bad.contains("Ungültige Eingabe: `not a url` ist keine Website-Adresse"),
        "{bad}"
    );

    // An edit refused for its origins keeps what was chosen, the pause included.
    let id = created_entrypoint(
        &console,
        json!({"name": "Albo", "kind": "pagina_web", "allowed_origins": ["https://www.comune.bugliano.it"]}),
    )
    .await;
    let refused = client
        .post(format!("{}/console/entrypoints/{id}", console.base))
        .form(&[
            ("name", "Albo pretorio"),
            ("status", "paused"),
            ("origins", "not a url"),
            ("csrf", &csrf_of(&german)),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let form = refused.text().await.unwrap();
    assert!(form.contains("value=\"paused\" checked"), "{form}");
    assert!(form.contains("Albo pretorio"), "{form}");
}

#[tokio::test]
async fn the_api_manages_entrypoints_and_returns_stats_with_an_api_token() {
    let console = spawn().await;
    let api = reqwest::Client::new();
    let url = |path: &str| format!("{}/api/v1{path}", console.base);
    assert_eq!(
        api.get(url("/entrypoints")).send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    let wrong = api
        .get(url("/entrypoints"))
        .bearer_auth("sat_000000000000_sbagliato")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);

    let created: Value = api
        .post(url("/entrypoints"))
        .bearer_auth(&console.token)
        .json(&json!({
            "name": "Sportello", "kind": "personalizzato",
            "allowed_origins": ["https://www.comune.bugliano.it"],
            "custom": {"question": "Come valuti lo sportello?", "follow_ups": [{"question": "Attesa?", "options": ["Breve", "Lunga"]}]}
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["main_question"], "Come valuti lo sportello?");
    assert_eq!(created["additional_questions"], 2);

    let invalid = api
        .post(url("/entrypoints"))
        .bearer_auth(&console.token)
        .json(&json!({"name": "x", "kind": "nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(invalid.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // An entrypoint without any allowed site would accept no rating: refused, on create
    // and on change.
    for (method, path, body) in [
        (
            reqwest::Method::POST,
            "/entrypoints".to_owned(),
            json!({"name": "x", "kind": "pagina_web"}),
        ),
        (
            reqwest::Method::POST,
            "/entrypoints".to_owned(),
            json!({"name": "x", "kind": "pagina_web", "allowed_origins": []}),
        ),
        (
            reqwest::Method::PATCH,
            format!("/entrypoints/{id}"),
            json!({"allowed_origins": []}),
        ),
    ] {
        let refused = api
            .request(method, url(&path))
            .bearer_auth(&console.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let error: Value = refused.json().await.unwrap();
        assert!(
            error["error"]["message"]
                .as_str()
                .unwrap()
                .contains("at least one site"),
            "{error}"
        );
    }

    let paused: Value = api
        .put(url(&format!("/entrypoints/{id}")))
        .bearer_auth(&console.token)
        .json(&json!({"status": "paused", "allowed_origins": ["https://www.comune.bugliano.it"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(paused["status"], "paused");
    assert_eq!(paused["name"], "Sportello");

    // Ratings on 2026-03-02 and 2026-03-10 (Rome) → two ISO weeks, one empty week between none.
    let survey_answers = [
        ("2026-03-02T09:00:00Z", 4, "q1o1"),
        ("2026-03-10T09:00:00Z", 1, "q1o2"),
        ("2026-03-10T10:00:00Z", 2, "q1o2"),
    ];
    let entrypoint = satisfy_core::EntrypointId::parse(&id).unwrap();
    let mut rows = Vec::new();
    for (n, (at, stars, answer)) in survey_answers.iter().enumerate() {
        let body = json!({
            "id": format!("5e0c6f4a-1111-4c1e-9a57-00000000000{n}"), "entrypoint": id,
            "page": "https://www.comune.bugliano.it/sportello", "rating": stars, "answers": [answer], "lang": "it"
        });
        let survey = satisfy_core::Survey::for_kind(
            satisfy_core::EntrypointKind::Personalizzato,
            serde_json::from_value(created["custom"].clone())
                .ok()
                .as_ref(),
            satisfy_core::Lang::It,
        );
        rows.push(StoredRating {
            rating: RatingSubmission::parse(&WireRating::deserialize(&body).unwrap())
                .unwrap()
                .into_rating(&survey)
                .unwrap(),
            tenant: TenantId::parse("bugliano").unwrap(),
            received_at_ms: chrono::DateTime::parse_from_rfc3339(at)
                .unwrap()
                .timestamp_millis(),
        });
    }
    assert_eq!(rows[0].rating.entrypoint, entrypoint);
    console.ratings.write_batch(&rows).await.unwrap();

    let stats: Value = api
        .get(url(&format!(
            "/entrypoints/{id}/stats?granularity=week&from=2026-03-01&to=2026-03-15"
        )))
        .bearer_auth(&console.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["timezone"], "Europe/Rome");
    assert_eq!(stats["summary"]["count"], 3);
    assert_eq!(stats["summary"]["average"], 2.33);
    let buckets: Vec<(String, u64)> = stats["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["start"].as_str().unwrap().to_owned(),
                b["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        buckets,
        vec![
            ("2026-02-23".into(), 0),
            ("2026-03-02".into(), 1),
            ("2026-03-09".into(), 2)
        ]
    );
    assert_eq!(stats["answers"][0], json!({"option": "q1o2", "count": 2}));
    assert_eq!(
        stats["answers_over_time"][1]["answers"],
        json!([{"option": "q1o1", "count": 1}])
    );
    assert_eq!(
        stats["answers_over_time"][2]["answers"],
        json!([{"option": "q1o2", "count": 2}])
    );

    let bad_range = api
        .get(url(&format!("/entrypoints/{id}/stats?granularity=year")))
        .bearer_auth(&console.token)
        .send()
        .await
        .unwrap();
    assert_eq!(bad_range.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let missing = api
        .get(url("/entrypoints/ep_AAAAAAAAAAAAAAAA"))
        .bearer_auth(&console.token)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let spec: Value = api
        .get(url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // Generated from the handlers: every public route, with its methods and schemas.
    assert!(spec["openapi"].as_str().unwrap().starts_with("3.1"));
    let methods = |path: &str| -> Vec<String> {
        let mut methods: Vec<String> = spec["paths"][path]
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default();
        methods.sort();
        methods
    };
    assert_eq!(methods("/entrypoints"), ["get", "post"]);
    assert_eq!(methods("/entrypoints/{id}"), ["get", "patch", "put"]);
    // Client generators need each operation's id to be unique.
    let mut ids: Vec<&str> = spec["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|methods| methods.as_object().unwrap().values())
        .filter_map(|operation| operation["operationId"].as_str())
        .collect();
    let operations = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), operations, "{ids:?}");
    for path in [
        "/entrypoints/{id}/stats",
        "/entrypoints/{id}/ratings",
        "/entrypoints/{id}/aggregates",
        "/overview",
        "/services",
        "/services/{service}/kpis",
        "/kpis",
    ] {
        assert_eq!(methods(path), ["get"], "{path}");
    }
    assert_eq!(
        spec["paths"].as_object().unwrap().len(),
        9,
        "no internal route"
    );
    let schemas = &spec["components"]["schemas"];
    for schema in [
        "ServiceKpis",
        "Figure",
        "PeriodKpis",
        "EntrypointView",
        "ErrorBody",
        "Tally",
    ] {
        assert!(schemas.get(schema).is_some(), "{schema}");
    }
    let kpi_params: Vec<&str> = spec["paths"]["/services/{service}/kpis"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(
        kpi_params,
        [
            "service",
            "period",
            "granularity",
            "from",
            "to",
            "office",
            "calendar"
        ]
    );
}

#[tokio::test]
async fn api_tokens_act_for_their_tenant_within_their_scopes() {
    let console = spawn().await;
    let api = reqwest::Client::new();
    let url = |path: &str| format!("{}/api/v1{path}", console.base);
    let reader = token(&console, "bugliano", &[Scope::Read], None).await;
    let writer = token(&console, "bugliano", &[Scope::Read, Scope::Write], None).await;
    let events_only = token(&console, "bugliano", &[Scope::EventsWrite], None).await;
    let other = token(&console, "altrove", &[Scope::Read, Scope::Write], None).await;
    let expired = token(&console, "bugliano", &[Scope::Read], Some(1)).await;
    let body = json!({"name": "Sito", "kind": "pagina_web", "allowed_origins": ["https://www.comune.bugliano.it"]});
    let get = |path: &str, token: &str| api.get(url(path)).bearer_auth(token.to_owned()).send();

    let created = api
        .post(url("/entrypoints"))
        .bearer_auth(&writer)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let id = created.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let listed: Value = get("/entrypoints", &reader)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["entrypoints"].as_array().unwrap().len(), 1);
    let refused = api
        .post(url("/entrypoints"))
        .bearer_auth(&reader)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        refused.json::<Value>().await.unwrap()["error"]["code"],
        "insufficient_scope"
    );
    let events = get("/entrypoints", &events_only).await.unwrap();
    assert_eq!(events.status(), StatusCode::FORBIDDEN);

    // Another tenant's token sees nothing of this one.
    let foreign = get(&format!("/entrypoints/{id}"), &other).await.unwrap();
    assert_eq!(foreign.status(), StatusCode::NOT_FOUND);
    let foreign_list: Value = get("/entrypoints", &other)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(foreign_list["entrypoints"], json!([]));

    for refused in [expired.as_str(), "sat_000000000000_nonesiste", ""] {
        let response = get("/entrypoints", refused).await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{refused}");
    }

    // Revoked tokens stop at once; listings show the last use.
    let bugliano = TenantId::parse("bugliano").unwrap();
    let listed = console.store.tokens(&bugliano).await.unwrap();
    let reader_id = &reader["sat_".len().."sat_".len() + 12];
    let reader_row = listed.iter().find(|t| t.id == reader_id).unwrap();
    assert!(reader_row.last_used_at.is_some());
    assert!(
        console
            .store
            .revoke_token(&bugliano, reader_id)
            .await
            .unwrap()
    );
    let revoked = get("/entrypoints", &reader).await.unwrap();
    assert_eq!(revoked.status(), StatusCode::UNAUTHORIZED);
    assert!(
        !console
            .store
            .revoke_token(&TenantId::parse("altrove").unwrap(), reader_id)
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn an_invitation_link_works_once_within_72_hours_and_enforces_the_policy() {
    let console = spawn().await;
    let bugliano = TenantId::parse("bugliano").unwrap();
    let link = invitations::invite(
        console.store.as_ref(),
        &console.base,
        bugliano,
        "mario",
        Role::Viewer,
    )
    .await
    .unwrap();
    let client = browser();
    let page = client
        .get(&link)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // Each answer carries a fresh form token, as a browser would use it.
    let mut csrf = csrf_of(&page);
    let token = link.split("token=").nth(1).unwrap().to_owned();
    let attempt = |password: &'static str, confirm: &'static str, csrf: String| {
        client
            .post(format!("{}/console/set-password", console.base))
            .form(&[
                ("token", token.clone()),
                ("password", password.into()),
                ("confirm", confirm.into()),
                ("csrf", csrf),
            ])
            .send()
    };
    for (password, confirm, message) in [
        ("corta", "corta", "almeno 12 caratteri"),
        ("password1234", "password1234", "tra le più comuni"),
        (
            "tramonto-sul-serchio",
            "tramonto-sul-arno",
            "non coincidono",
        ),
    ] {
        let refused = attempt(password, confirm, csrf.clone()).await.unwrap();
        let status = refused.status();
        let body = refused.text().await.unwrap();
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(body.contains(message), "{message}");
        csrf = csrf_of(&body);
    }
    // Before a password is set the account cannot sign in.
    let early = log_in_as(&console, &browser(), "mario", "").await;
    assert_eq!(early.status(), StatusCode::UNAUTHORIZED);
    let set = attempt("tramonto-sul-serchio", "tramonto-sul-serchio", csrf.clone())
        .await
        .unwrap();
    assert_eq!(set.status(), StatusCode::SEE_OTHER);
    let again = attempt("tramonto-sul-serchio", "tramonto-sul-serchio", csrf)
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::GONE, "the link works once");
    let used = client.get(&link).send().await.unwrap();
    assert_eq!(used.status(), StatusCode::GONE);
    let works = log_in_as(&console, &browser(), "mario", "tramonto-sul-serchio").await;
    assert_eq!(works.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn sign_ins_and_changes_reach_the_append_only_audit_log() {
    let console = spawn().await;
    let client = browser();
    assert_eq!(
        log_in(&console, &client, "sbagliata").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        log_in(&console, &client, PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
    let created = reqwest::Client::new()
        .post(format!("{}/api/v1/entrypoints", console.base))
        .bearer_auth(&console.token)
        .json(&json!({"name": "Sito", "kind": "pagina_web", "allowed_origins": ["https://www.comune.bugliano.it"]}))
        .send()
        .await
        .unwrap();
    let id = created.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let bugliano = TenantId::parse("bugliano").unwrap();
    let log = console.store.audit_log(Some(&bugliano), 10).await.unwrap();
    let lines: Vec<(&str, &str, Option<&str>)> = log
        .iter()
        .map(|e| (e.actor.as_str(), e.action.as_str(), e.target.as_deref()))
        .collect();
    assert_eq!(
        lines,
        [
            (
                console.token_actor.as_str(),
                "entrypoint_created",
                Some(id.as_str()),
            ),
            ("admin", "sign_in", None),
            ("admin", "sign_in_failed", None),
        ]
    );
    let db = rusqlite::Connection::open(console.dir.path().join("console.db")).unwrap();
    for tamper in ["DELETE FROM audit_log", "UPDATE audit_log SET actor = 'x'"] {
        let refused = db.execute(tamper, []).unwrap_err().to_string();
        assert!(refused.contains("append-only"), "{tamper}: {refused}");
    }
}

#[tokio::test]
async fn changing_the_password_ends_other_sessions_and_sign_out_everywhere_ends_all() {
    let console = spawn().await;
    let (here, elsewhere) = (browser(), browser());
    for client in [&here, &elsewhere] {
        assert_eq!(
            log_in(&console, client, PASSWORD).await.status(),
            StatusCode::SEE_OTHER
        );
    }
    let account = |client: &reqwest::Client| {
        client
            .get(format!("{}/console/account", console.base))
            .send()
    };
    let page = account(&here).await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let csrf = csrf_of(&page.text().await.unwrap());
    let change = |current: &'static str, new: &'static str| {
        here.post(format!("{}/console/account/password", console.base))
            .form(&[
                ("csrf", csrf.as_str()),
                ("current", current),
                ("password", new),
                ("confirm", new),
            ])
            .send()
    };
    let wrong = change("sbagliata-davvero", "tramonto-sul-serchio")
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let common = change(PASSWORD, "password1234").await.unwrap();
    assert_eq!(common.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let changed = change(PASSWORD, "tramonto-sul-serchio").await.unwrap();
    assert_eq!(changed.status(), StatusCode::OK);
    assert!(changed.text().await.unwrap().contains("Password cambiata"));

    // The other browser was signed out; this one was not.
    assert_eq!(
        account(&elsewhere).await.unwrap().status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(account(&here).await.unwrap().status(), StatusCode::OK);
    let old = log_in(&console, &browser(), PASSWORD).await;
    assert_eq!(old.status(), StatusCode::UNAUTHORIZED);
    let new = log_in(&console, &browser(), "tramonto-sul-serchio").await;
    assert_eq!(new.status(), StatusCode::SEE_OTHER);

    let out = here
        .post(format!(
            "{}/console/account/sign-out-everywhere",
            console.base
        ))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        account(&here).await.unwrap().status(),
        StatusCode::SEE_OTHER
    );
    let actions: Vec<String> = console
        .store
        .audit_log(Some(&TenantId::parse("bugliano").unwrap()), 10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .filter(|a| !a.starts_with("sign_in"))
        .collect();
    assert_eq!(actions, ["signed_out_everywhere", "password_changed"]);
}

#[tokio::test]
async fn a_tenant_admin_invites_users_issues_and_revokes_tokens_and_reads_the_audit_log() {
    let console = spawn().await;
    let admin = browser();
    assert_eq!(
        log_in(&console, &admin, PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
    let page = |path: &str| admin.get(format!("{}{path}", console.base)).send();
    let users = page("/console/users").await.unwrap();
    assert_eq!(users.status(), StatusCode::OK);
    let csrf = csrf_of(&users.text().await.unwrap());

    // Invite: the page shows the one-time link, and the link works.
    let invitation_page = admin
        .post(format!("{}/console/users", console.base))
        .form(&[
            ("csrf", csrf.as_str()),
            ("username", "lucia"),
            ("role", "auditor"),
        ])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let start = invitation_page
        .find("/console/set-password?token=")
        .unwrap();
    let path = invitation_page[start..].split('<').next().unwrap();
    let form = reqwest::get(format!("{}{path}", console.base))
        .await
        .unwrap();
    assert_eq!(form.status(), StatusCode::OK);
    assert!(
        page("/console/users")
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
            .contains("lucia")
    );
    let bad = admin
        .post(format!("{}/console/users", console.base))
        .form(&[
            ("csrf", csrf.as_str()),
            ("username", "Lucia Rossi"),
            ("role", "viewer"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let taken = admin
        .post(format!("{}/console/users", console.base))
        .form(&[
            ("csrf", csrf.as_str()),
            ("username", "lucia"),
            ("role", "viewer"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(taken.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(taken.text().await.unwrap().contains("non è disponibile"));

    // A refused token form says why and keeps what was typed; nothing is issued.
    for (days, scope, why) in [
        ("99999", "read", "La scadenza va da 1 a 3650 giorni"),
        ("0", "read", "La scadenza va da 1 a 3650 giorni"),
        ("", "", "scegli almeno un permesso"),
    ] {
        let refused = admin
            .post(format!("{}/console/tokens", console.base))
            .form(&[
                ("csrf", csrf.as_str()),
                ("name", "Gestionale"),
                ("scope", scope),
                ("expires_in_days", days),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY, "{days}");
        let html = refused.text().await.unwrap();
        assert!(html.contains(why), "{html}");
        assert!(html.contains("value=\"Gestionale\""), "{html}");
        assert!(!html.contains("sat_"), "{html}");
    }

    // A token, shown once, that works until revoked from the page.
    let issued = admin
        .post(format!("{}/console/tokens", console.base))
        .form(&[
            ("csrf", csrf.as_str()),
            ("name", "OpenCity"),
            ("scope", "read"),
            ("expires_in_days", ""),
        ])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let start = issued.find("sat_").unwrap();
    let secret = issued[start..].split('<').next().unwrap().to_owned();
    let api = || {
        reqwest::Client::new()
            .get(format!("{}/api/v1/entrypoints", console.base))
            .bearer_auth(&secret)
            .send()
    };
    assert_eq!(api().await.unwrap().status(), StatusCode::OK);
    let listing = page("/console/tokens").await.unwrap().text().await.unwrap();
    assert!(!listing.contains(&secret), "the secret is shown once");
    assert!(!listing.contains("scaduto"), "{listing}");
    token(&console, "bugliano", &[Scope::Read], Some(1_000_000_000)).await;
    let listing = page("/console/tokens").await.unwrap().text().await.unwrap();
    assert!(listing.contains("scaduto → "), "an expired token says so");
    let id = &secret["sat_".len().."sat_".len() + 12];
    let revoked = admin
        .post(format!("{}/console/tokens/{id}/revoke", console.base))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::SEE_OTHER);
    assert_eq!(api().await.unwrap().status(), StatusCode::UNAUTHORIZED);

    let audit = page("/console/audit").await.unwrap().text().await.unwrap();
    for action in ["user_invited", "token_created", "token_revoked", "sign_in"] {
        assert!(audit.contains(action), "{action}");
    }
    // Each action in words too.
    for words in [
        "Utente invitato",
        "Token creato",
        "Token revocato",
        "Accesso",
    ] {
        assert!(audit.contains(words), "{words}");
    }
    let csv = page("/console/audit.csv").await.unwrap();
    assert!(
        csv.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("audit-bugliano.csv")
    );
    let csv = csv.text().await.unwrap();
    assert!(csv.starts_with("time,actor,action,target\n"));
    assert!(csv.contains(&format!(",admin,token_revoked,{id}")));

    // Only administrators reach these pages.
    let viewer = invited(&console, "bugliano", "viewer", Role::Viewer).await;
    for path in [
        "/console/users",
        "/console/tokens",
        "/console/audit",
        "/console/audit.csv",
    ] {
        let status = viewer
            .get(format!("{}{path}", console.base))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
    }
}

#[tokio::test]
async fn a_user_with_roles_in_two_tenants_switches_between_them() {
    let console = spawn().await;
    let mario = invited(&console, "bugliano", "mario", Role::Viewer).await;
    let altrove = TenantId::parse("altrove").unwrap();
    let other = token(&console, "altrove", &[Scope::Read, Scope::Write], None).await;
    console
        .store
        .grant("mario", &altrove, Role::Admin)
        .await
        .unwrap();
    let created: Value = reqwest::Client::new()
        .post(format!("{}/api/v1/entrypoints", console.base))
        .bearer_auth(&other)
        .json(&json!({"name": "Sito di Altrove", "kind": "pagina_web", "allowed_origins": ["https://www.comune.bugliano.it"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let list = |client: &reqwest::Client| {
        client
            .get(format!("{}/console/entrypoints", console.base))
            .send()
    };
    let home = list(&mario).await.unwrap().text().await.unwrap();
    assert!(!home.contains("Sito di Altrove"));
    assert!(
        home.contains("Comune di Altrove"),
        "the switcher offers the other tenant"
    );
    let csrf = csrf_of(&home);
    let switch = |tenant: &'static str| {
        mario
            .post(format!("{}/console/tenant", console.base))
            .form(&[("csrf", csrf.as_str()), ("tenant", tenant)])
            .send()
    };
    assert_eq!(
        switch("altrove").await.unwrap().status(),
        StatusCode::SEE_OTHER
    );
    let away = list(&mario).await.unwrap().text().await.unwrap();
    assert!(away.contains("Sito di Altrove"));
    assert!(away.contains(created["id"].as_str().unwrap()));
    // Admin there, viewer at home.
    let users = mario
        .get(format!("{}/console/users", console.base))
        .send()
        .await
        .unwrap();
    assert_eq!(users.status(), StatusCode::OK);
    assert_eq!(
        switch("nessuno").await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        switch("bugliano").await.unwrap().status(),
        StatusCode::SEE_OTHER
    );
    let users = mario
        .get(format!("{}/console/users", console.base))
        .send()
        .await
        .unwrap();
    assert_eq!(users.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn statistics_follow_the_tenants_own_time_zone() {
    let console = spawn().await;
    let api = reqwest::Client::new();
    let created: Value = api
        .post(format!("{}/api/v1/entrypoints", console.base))
        .bearer_auth(&console.token)
        .json(&json!({"name": "Sito", "kind": "pagina_web", "allowed_origins": ["https://www.comune.bugliano.it"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap();
    let bugliano = TenantId::parse("bugliano").unwrap();
    let zone_of_stats = || async {
        let stats: Value = api
            .get(format!("{}/api/v1/entrypoints/{id}/stats", console.base))
            .bearer_auth(&console.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        stats["timezone"].as_str().unwrap().to_owned()
    };
    assert_eq!(zone_of_stats().await, "Europe/Rome");
    let mut tenant = console.store.tenant(&bugliano).await.unwrap().unwrap();
    tenant.time_zone = "Atlantic/Canary".into();
    console.store.update_tenant(&tenant).await.unwrap();
    assert_eq!(zone_of_stats().await, "Atlantic/Canary");
}

#[tokio::test]
async fn the_services_pages_show_each_figure_with_its_change_definition_and_exports() {
    use satisfy_aggregator::EventStore;
    use satisfy_core::event::{ServiceEvent, StoredEvent};
    let console = spawn().await;
    let status = |id: &str, subject: &str, state: &str, time: &str| {
        let raw = json!({
            "specversion": "1.0", "id": id, "source": "urn:opencity:bugliano",
            "type": "it.satisfy.application.status", "time": time, "subject": subject,
            "data": {"service": "residenza", "service_name": "Cambio di residenza",
                     "office": "anagrafe", "state": state}
        });
        StoredEvent {
            event: ServiceEvent::parse(&raw, i64::MAX).unwrap(),
            tenant: TenantId::parse("bugliano").unwrap(),
            received_at_ms: 0,
        }
    };
    console
        .ratings
        .write_events(&[
            status("a1", "A", "inviata", "2026-10-12T09:00:00+02:00"),
            status("b1", "B", "inviata", "2026-10-19T09:00:00+02:00"),
            status("c1", "C", "inviata", "2026-10-20T09:00:00+02:00"),
            status("c2", "C", "presa_in_carico", "2026-10-21T09:00:00+02:00"),
        ])
        .await
        .unwrap();
    // The service's own page rating it, named on the service's page.
    let rating_it = created_entrypoint(
        &console,
        json!({"name": "Scheda residenza", "kind": "scheda_servizio", "service": "residenza",
               "allowed_origins": ["https://www.comune.bugliano.it"]}),
    )
    .await;
    let client = browser();
    log_in(&console, &client, PASSWORD).await;
    let range = "granularity=week&from=2026-10-19&to=2026-10-25";
    let get = |path: &str| {
        let url = format!("{}/console/services{path}?{range}", console.base);
        let request = client.get(url).send();
        async move {
            let response = request.await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            response.text().await.unwrap()
        }
    };
    let list = get("").await;
    assert!(list.contains("Cambio di residenza"), "{list}");
    assert!(list.contains("19/10/2026 – 25/10/2026"), "{list}");

    let page = get("/residenza").await;
    // Two submissions against one the week before, the definition one click away.
    assert!(page.contains("Pratiche inviate"), "{page}");
    assert!(
        page.contains("▲ +100% rispetto al periodo precedente"),
        "{page}"
    );
    assert!(page.contains("Pratiche inviate per la prima volta nel periodo."));
    assert!(page.contains("<option value=\"anagrafe\""), "office filter");
    assert!(page.contains("<svg"), "charts");
    assert!(
        page.contains(&format!(
            "<a href=\"/console/entrypoints/{rating_it}/stats\">Scheda residenza</a>"
        )),
        "{page}"
    );

    let csv = get("/residenza/kpis.csv").await;
    let mut lines = csv.lines();
    let head = lines.next().unwrap();
    assert!(head.starts_with("\u{feff}start,end,"), "{head}");
    assert!(head.contains("submitted") && head.contains("backlog_inviata"));
    assert!(lines.next().unwrap().starts_with("2026-10-19,2026-10-26,"));

    // Without dates, the page ends with the last complete week; dates that cannot be
    // used are said on the page, over the default figures, not answered with a bare 422.
    let default = client
        .get(format!("{}/console/services/residenza", console.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Europe::Rome)
        .date_naive();
    let last_sunday = today
        - chrono::Days::new(u64::from(
            chrono::Datelike::weekday(&today).number_from_monday(),
        ));
    assert!(
        default.contains(&format!("name=\"to\" value=\"{last_sunday}\"")),
        "{default}"
    );
    let backwards = client
        .get(format!(
            "{}/console/services/residenza?from=2026-11-02&to=2026-10-01",
            console.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(backwards.status(), StatusCode::OK);
    let backwards = backwards.text().await.unwrap();
    assert!(backwards.contains("role=\"alert\""), "{backwards}");
    assert!(
        backwards.contains("la data d&#39;inizio viene dopo quella di fine"),
        "{backwards}"
    );

    let missing = client
        .get(format!("{}/console/services/tari", console.base))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let editor = invited(&console, "bugliano", "redattore", Role::Editor).await;
    let refused = editor
        .get(format!("{}/console/services", console.base))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    // An editor's menu has what an editor may open, the page shown marked.
    let editing = editor
        .get(format!("{}/console/entrypoints", console.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        editing.contains("<a href=\"/console/entrypoints\" aria-current=\"page\">Entrypoint</a>"),
        "{editing}"
    );
    assert!(!editing.contains("href=\"/console/services\""), "{editing}");
    assert!(!editing.contains("href=\"/console/overview\""), "{editing}");
}

#[tokio::test]
async fn the_snippet_page_frames_a_live_preview_of_the_widget_in_every_language() {
    let console = spawn().await;
    let created: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/api/v1/entrypoints", console.base))
        .bearer_auth(&console.token)
        .json(&json!({"name": "Sito", "kind": "scheda_servizio", "allowed_origins": ["https://www.comune.bugliano.it"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    let client = browser();
    assert_eq!(
        log_in(&console, &client, PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
    let snippet = client
        .get(format!("{}/console/entrypoints/{id}/snippet", console.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        snippet.contains("<title>Codice da incorporare · Satisfy</title>"),
        "the title holds only the page's name"
    );
    for lang in ["it", "en", "de"] {
        assert!(
            snippet.contains(&format!(
                "<iframe src=\"/console/entrypoints/{id}/preview?lang={lang}\""
            )),
            "{lang}"
        );
    }
    let preview = client
        .get(format!(
            "{}/console/entrypoints/{id}/preview?lang=de",
            console.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(preview.status(), StatusCode::OK);
    let policy = preview.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        policy.contains("script-src https://satisfy.example.it 'wasm-unsafe-eval'"),
        "{policy}"
    );
    assert!(policy.contains("frame-ancestors 'self'"), "{policy}");
    assert_eq!(preview.headers()["x-frame-options"], "SAMEORIGIN");
    let html = preview.text().await.unwrap();
    assert!(html.contains("<html lang=\"de\">"));
    assert!(html.contains(&format!(
        "src=\"https://satisfy.example.it/widget/v1/{id}.js?lang=de\" data-entrypoint=\"{id}\" data-lang=\"de\" data-preview"
    )));
    // Every other page keeps the console's own policy.
    let other = client
        .get(format!("{}/console/entrypoints", console.base))
        .send()
        .await
        .unwrap();
    assert_eq!(other.headers()["x-frame-options"], "DENY");
    assert!(
        other.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
}

#[tokio::test]
async fn a_page_asked_for_before_signing_in_opens_once_signed_in() {
    let console = spawn().await;
    let client = browser();
    let asked = client
        .get(format!("{}/console/overview?period=7d", console.base))
        .send()
        .await
        .unwrap();
    assert_eq!(asked.status(), StatusCode::SEE_OTHER);
    let login = asked.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(
        login,
        "/console/login?next=%2Fconsole%2Foverview%3Fperiod%3D7d"
    );
    let form = client
        .get(format!("{}{login}", console.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        form.contains("name=\"next\" value=\"/console/overview?period=7d\""),
        "{form}"
    );
    let sign_in = |next: &'static str| {
        let client = client.clone();
        let csrf = csrf_of(&form);
        let url = format!("{}/console/login", console.base);
        async move {
            let response = client
                .post(url)
                .form(&[
                    ("username", "admin"),
                    ("password", PASSWORD),
                    ("csrf", &csrf),
                    ("next", next),
                ])
                .send()
                .await
                .unwrap();
            response.headers()["location"].to_str().unwrap().to_owned()
        }
    };
    assert_eq!(
        sign_in("/console/overview?period=7d").await,
        "/console/overview?period=7d"
    );
    // Never elsewhere.
    assert_eq!(sign_in("https://example.org/").await, "/console");
    assert_eq!(sign_in("//example.org/console").await, "/console");
}
