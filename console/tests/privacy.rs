//! A tenant administrator's personal-data duties: the retention period and data
//! subjects' requests, each in the audit log, deleted ratings still counted in totals.

mod support;

use chrono::{Duration, Utc};
use reqwest::StatusCode;
use satisfy_aggregator::{AnalyticsQuery, Filter, RatingQuery, RatingStore, StoredRating};
use satisfy_console::roles::Role;
use satisfy_core::{EntrypointKind, Lang, RatingSubmission, Survey, TenantId, WireRating};
use serde::Deserialize;
use serde_json::{Value, json};
use support::*;

const OLD: &str = "00000000-0000-4000-8000-00000000a001";
const FORTY_DAYS: &str = "00000000-0000-4000-8000-00000000a002";
const YESTERDAY: &str = "00000000-0000-4000-8000-00000000a003";
const UNCOMMENTED: &str = "00000000-0000-4000-8000-00000000a004";

fn bugliano() -> TenantId {
    TenantId::parse("bugliano").unwrap()
}

async fn rate(console: &Console) -> String {
    let created: Value = reqwest::Client::new()
        .post(format!("{}/api/v1/entrypoints", console.base))
        .bearer_auth(&console.token)
        .json(&json!({"name": "Sito", "kind": "pagina_web", "allowed_origins": ["https://www.comune.bugliano.it"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let entrypoint = created["id"].as_str().unwrap();
    let survey = Survey::for_kind(EntrypointKind::PaginaWeb, None, Lang::It);
    let now = Utc::now();
    let rows = [
        (OLD, Some("Un commento del 2024"), now - Duration::days(800)),
        (
            FORTY_DAYS,
            Some("Sono MARIO ROSSI, richiamatemi"),
            now - Duration::days(40),
        ),
        (YESTERDAY, Some("Tutto chiaro"), now - Duration::days(1)),
        (UNCOMMENTED, None, now - Duration::days(1)),
    ]
    .map(|(id, comment, at)| {
        let body = json!({
            "id": id, "entrypoint": entrypoint, "page": "https://www.comune.bugliano.it/servizi",
            "rating": 2, "answers": [], "comment": comment, "lang": "it"
        });
        StoredRating {
            rating: RatingSubmission::parse(&WireRating::deserialize(&body).unwrap())
                .unwrap()
                .into_rating(&survey)
                .unwrap(),
            tenant: bugliano(),
            received_at_ms: at.timestamp_millis(),
        }
    });
    console.ratings.write_batch(&rows).await.unwrap();
    entrypoint.to_owned()
}

fn everything() -> Filter {
    let today = Utc::now().date_naive();
    Filter {
        tenant: bugliano(),
        entrypoint: None,
        from: today - Duration::days(900),
        to: today,
        tz: chrono_tz::Europe::Rome,
    }
}

/// The ids and comments still listed, newest first.
async fn listed(console: &Console) -> Vec<(String, Option<String>)> {
    let rows = console
        .ratings
        .ratings(&RatingQuery::all(everything()), None, 100)
        .await
        .unwrap();
    rows.into_iter()
        .map(|r| (r.id.to_string(), r.comment))
        .collect()
}

async fn submit(
    console: &Console,
    client: &reqwest::Client,
    path: &str,
    fields: &[(&str, &str)],
) -> (StatusCode, String) {
    let page = client
        .get(format!("{}/console/privacy", console.base))
        .send()
        .await
        .unwrap();
    let csrf = csrf_of(&page.text().await.unwrap());
    let mut form = fields.to_vec();
    form.push(("csrf", &csrf));
    let response = client
        .post(format!("{}/console/privacy/{path}", console.base))
        .header("Accept-Language", "it")
        .form(&form)
        .send()
        .await
        .unwrap();
    (response.status(), response.text().await.unwrap())
}

#[tokio::test]
async fn retention_and_erasure_requests_delete_personal_data_and_keep_the_totals() {
    let console = spawn().await;
    let entrypoint = rate(&console).await;
    let admin = browser();
    assert_eq!(
        log_in(&console, &admin, PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
    let page = admin
        .get(format!("{}/console/privacy", console.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        page.text().await.unwrap().contains("value=\"24\""),
        "24 months by default"
    );

    // The hourly sweep: 24 months keep all but the rating of 800 days ago.
    satisfy_console::retention::sweep(&console.state, Utc::now())
        .await
        .unwrap();
    let ids = |rows: Vec<(String, Option<String>)>| {
        rows.into_iter().map(|(id, _)| id).collect::<Vec<_>>()
    };
    assert_eq!(
        ids(listed(&console).await),
        [UNCOMMENTED, YESTERDAY, FORTY_DAYS]
    );

    // Every comment naming Mario Rossi, whatever the case; the rating stays.
    let (status, html) = submit(
        &console,
        &admin,
        "comments/erase",
        &[("text", "mario rossi")],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("Commenti cancellati: 1."), "{html}");
    let rows = listed(&console).await;
    assert_eq!(rows[2], (FORTY_DAYS.to_owned(), None));
    assert_eq!(
        rows[1],
        (YESTERDAY.to_owned(), Some("Tutto chiaro".to_owned()))
    );
    let (status, _) = submit(&console, &admin, "comments/erase", &[("text", "ab")]).await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "too short: it would match nearly all"
    );

    // One rating, by id: the comments page offers it beside each comment.
    let comments_page = |client: reqwest::Client| {
        let url = format!(
            "{}/console/entrypoints/{entrypoint}/comments?period=90d",
            console.base
        );
        async move { client.get(url).send().await.unwrap().text().await.unwrap() }
    };
    let comments = comments_page(admin.clone()).await;
    assert!(
        comments.contains(&format!("name=\"id\" value=\"{YESTERDAY}\"")),
        "{comments}"
    );
    let viewer = invited(&console, "bugliano", "lettore", Role::Viewer).await;
    let comments = comments_page(viewer).await;
    assert!(comments.contains("Tutto chiaro"), "{comments}");
    assert!(
        !comments.contains("/console/privacy/ratings/delete"),
        "{comments}"
    );
    let (status, html) = submit(&console, &admin, "ratings/delete", &[("id", YESTERDAY)]).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(
        html.contains(&format!("Valutazione {YESTERDAY} cancellata.")),
        "{html}"
    );
    for id in [YESTERDAY, "not-an-id"] {
        let (status, _) = submit(&console, &admin, "ratings/delete", &[("id", id)]).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{id}");
    }

    // A shorter period applies at once.
    for months in ["0", "121", "due"] {
        let (status, _) = submit(&console, &admin, "retention", &[("months", months)]).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{months}");
    }
    let (status, html) = submit(&console, &admin, "retention", &[("months", "1")]).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("value=\"1\""), "{html}");
    let tenant = console.store.tenant(&bugliano()).await.unwrap().unwrap();
    assert_eq!(tenant.retention_months, 1);
    assert_eq!(ids(listed(&console).await), [UNCOMMENTED]);

    // Every rating is still counted in the totals: they hold no personal data.
    assert_eq!(
        console.ratings.summary(&everything()).await.unwrap().count,
        4
    );

    let audit = console
        .store
        .audit_log(Some(&bugliano()), 20)
        .await
        .unwrap();
    let entries: Vec<(String, String, String)> = audit
        .into_iter()
        .filter(|e| {
            [
                "data_expired",
                "retention_changed",
                "rating_deleted",
                "comments_erased",
            ]
            .contains(&e.action.as_str())
        })
        .map(|e| (e.actor, e.action, e.target.unwrap_or_default()))
        .collect();
    assert_eq!(
        entries,
        [
            (
                "retention".to_owned(),
                "data_expired".to_owned(),
                "1 ratings, 0 events, 1 months".to_owned()
            ),
            (
                "admin".to_owned(),
                "retention_changed".to_owned(),
                "1 months".to_owned()
            ),
            (
                "admin".to_owned(),
                "rating_deleted".to_owned(),
                YESTERDAY.to_owned()
            ),
            (
                "admin".to_owned(),
                "comments_erased".to_owned(),
                "1 comments".to_owned()
            ),
            (
                "retention".to_owned(),
                "data_expired".to_owned(),
                "1 ratings, 0 events, 24 months".to_owned()
            ),
        ],
        "newest first; the erased text is not kept"
    );

    // Only administrators handle personal data.
    for role in [Role::Editor, Role::Viewer, Role::Auditor] {
        let user = invited(&console, "bugliano", &format!("u{}", role.as_str()), role).await;
        let page = user
            .get(format!("{}/console/privacy", console.base))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), StatusCode::FORBIDDEN, "{role:?}");
    }
}
