//! The overview and the comments pages over real SQLite stores: what got worse is found
//! by the documented rules, and comments are searched and paged as a dirigente does.

mod support;

use satisfy_aggregator::{RatingStore, StoredRating};
use satisfy_core::{EntrypointKind, Lang, RatingSubmission, Survey, TenantId, WireRating};
use serde::Deserialize;
use serde_json::{Value, json};
use support::*;

/// 12:00 UTC on `day` of `month` 2026.
fn at(month: u32, day: u32) -> i64 {
    chrono::NaiveDate::from_ymd_opt(2026, month, day)
        .unwrap()
        .and_hms_opt(12, 0, 0)
        .unwrap()
        .and_utc()
        .timestamp_millis()
}

struct Batch<'a> {
    entrypoint: &'a str,
    page: &'a str,
    stars: u8,
    answers: &'a [&'a str],
    comment: Option<&'a str>,
    count: usize,
    received: i64,
}

async fn write(console: &Console, batches: &[Batch<'_>]) {
    let survey = Survey::for_kind(EntrypointKind::PaginaWeb, None, Lang::It);
    let mut rows = Vec::new();
    for batch in batches {
        for n in 0..batch.count {
            let body = json!({
                "id": uuid::Uuid::from_u128(rand::random()).to_string(), "entrypoint": batch.entrypoint,
                "page": format!("https://www.comune.bugliano.it{}", batch.page),
                "rating": batch.stars, "answers": batch.answers, "comment": batch.comment,
                "lang": "it"
            });
            rows.push(StoredRating {
                rating: RatingSubmission::parse(&WireRating::deserialize(&body).unwrap())
                    .unwrap()
                    .into_rating(&survey)
                    .unwrap(),
                tenant: TenantId::parse("bugliano").unwrap(),
                received_at_ms: batch.received + n as i64 * 1000,
            });
        }
    }
    console.ratings.write_batch(&rows).await.unwrap();
}

async fn entrypoint(console: &Console, name: &str) -> String {
    created_entrypoint(
        console,
        json!({"name": name, "kind": "pagina_web", "allowed_origins": ["https://www.comune.bugliano.it"]}),
    )
    .await
}

#[tokio::test]
async fn the_overview_finds_what_got_worse_by_the_documented_rules() {
    let console = spawn().await;
    let anagrafe = entrypoint(&console, "Anagrafe").await;
    let tributi = entrypoint(&console, "Tributi").await;
    let (before, now) = (at(2, 10), at(3, 10));
    let batch = |entrypoint, page, stars, answers, count, received| Batch {
        entrypoint,
        page,
        stars,
        answers,
        comment: None,
        count,
        received,
    };
    write(
        &console,
        &[
            // Anagrafe: /certificati falls from 4.5 to 2 on 40 ratings each; technical
            // problems go from none to a third of the ratings.
            batch(&anagrafe, "/certificati", 5, &["clear"], 20, before),
            batch(&anagrafe, "/certificati", 4, &["complete"], 20, before),
            batch(
                &anagrafe,
                "/certificati",
                1,
                &["technical_problems"],
                20,
                now,
            ),
            batch(&anagrafe, "/certificati", 3, &["unclear"], 20, now),
            // Tributi: steady, 35 ratings of 4 stars and 5 of 1 star in each period; the
            // latter's answers are negative answers all the same.
            batch(&tributi, "/imu", 4, &[], 35, before),
            batch(&tributi, "/imu", 4, &[], 35, now),
            batch(&tributi, "/tari", 1, &["incomplete"], 5, before),
            batch(&tributi, "/tari", 1, &["incomplete"], 5, now),
        ],
    )
    .await;

    let overview: Value = reqwest::Client::new()
        .get(format!(
            "{}/api/v1/overview?period=custom&from=2026-03-01&to=2026-03-31",
            console.base
        ))
        .bearer_auth(&console.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(overview["previous_from"], "2026-02-01");
    assert_eq!(overview["previous_to"], "2026-02-28");
    assert_eq!(overview["current"]["count"], 80);
    assert_eq!(overview["previous"]["count"], 80);
    let names: Vec<&str> = overview["entrypoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Anagrafe", "Tributi"]);
    assert_eq!(
        overview["entrypoints"][0]["series"]
            .as_array()
            .unwrap()
            .len(),
        31
    );
    let watch: Vec<(String, String, String)> = overview["watch"]
        .as_array()
        .unwrap()
        .iter()
        .map(|alert| {
            (
                alert["kind"].as_str().unwrap().to_owned(),
                alert["name"].as_str().unwrap().to_owned(),
                alert["page"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    let page = |path: &str| format!("https://www.comune.bugliano.it{path}");
    assert_eq!(
        watch,
        [
            ("average_fell".into(), "Anagrafe".into(), String::new()),
            (
                "average_fell".into(),
                "Anagrafe".into(),
                page("/certificati")
            ),
            (
                "technical_problems".into(),
                "Anagrafe".into(),
                String::new()
            ),
            (
                "negative_answers".into(),
                "Anagrafe".into(),
                page("/certificati")
            ),
            ("negative_answers".into(), "Tributi".into(), page("/tari")),
        ]
    );
    assert_eq!(overview["watch"][3]["count"], 40);

    // The same on the page a dirigente lands on, with links to the details.
    let client = browser();
    log_in(&console, &client, PASSWORD).await;
    let html = client
        .get(format!(
            "{}/console/overview?period=custom&from=2026-03-01&to=2026-03-31",
            console.base
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("La media di «Anagrafe» è scesa da 4,50 a 2,00 (40 valutazioni)."),
        "{html}"
    );
    assert!(html.contains("dal 0,0% al 50,0%"), "{html}");
    assert!(html.contains(&format!(
        "href=\"/console/entrypoints/{anagrafe}/comments?period=custom&#38;from=2026-03-01&#38;to=2026-03-31&#38;page=https%3A%2F%2Fwww.comune.bugliano.it%2Fcertificati\""
    )));
    // An auditor, who may not read comments, is led to the statistics instead.
    let auditor = invited(
        &console,
        "bugliano",
        "revisore-conti",
        satisfy_console::roles::Role::Auditor,
    )
    .await;
    let audited = auditor
        .get(format!(
            "{}/console/overview?period=custom&from=2026-03-01&to=2026-03-31",
            console.base
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!audited.contains("/comments?"), "{audited}");
    assert!(audited.contains(&format!(
        "href=\"/console/entrypoints/{anagrafe}/stats?period=custom&#38;from=2026-03-01&#38;to=2026-03-31\""
    )));
    assert!(html.contains("−2,50"), "the average's change");
    assert!(html.contains("±0%"), "80 ratings against 80");
    assert!(html.contains("class=\"sparkline\""));

    // Signing in lands there; the default period is the last 30 days.
    let landing = client
        .get(format!("{}/console", console.base))
        .send()
        .await
        .unwrap();
    assert_eq!(landing.headers()["location"], "/console/overview");
    let default = client
        .get(format!("{}/console/overview", console.base))
        .send()
        .await
        .unwrap();
    assert_eq!(default.status(), 200);
    assert!(
        default
            .text()
            .await
            .unwrap()
            .contains("value=\"30d\" selected")
    );
}

#[tokio::test]
async fn comments_are_searched_filtered_and_paged() {
    let console = spawn().await;
    let id = entrypoint(&console, "Sito").await;
    let comment = |page, stars, answers, comment, count, received| Batch {
        entrypoint: &id,
        page,
        stars,
        answers,
        comment: Some(comment),
        count,
        received,
    };
    write(
        &console,
        &[
            comment(
                "/orari",
                2,
                &["incomplete"],
                "Manca l'orario del sabato",
                60,
                at(3, 2),
            ),
            comment("/tari", 5, &["clear"], "Tutto chiaro, grazie", 3, at(3, 5)),
        ],
    )
    .await;
    let client = browser();
    log_in(&console, &client, PASSWORD).await;
    let page = |query: String| {
        let client = client.clone();
        let url = format!("{}/console/entrypoints/{id}/comments?{query}", console.base);
        async move { client.get(url).send().await.unwrap().text().await.unwrap() }
    };
    let range = "period=custom&from=2026-03-01&to=2026-03-31";
    let first = page(range.to_owned()).await;
    assert_eq!(first.matches("Tutto chiaro, grazie").count(), 3);
    assert_eq!(first.matches("del sabato").count(), 47, "50 a page");
    let next = first
        .split("rel=\"next\"")
        .next()
        .and_then(|head| head.rsplit("href=\"").next())
        .map(|href| href.trim_end_matches("\" ").replace("&#38;", "&"))
        .unwrap();
    let second = page(next.trim_start_matches('?').to_owned()).await;
    assert_eq!(second.matches("del sabato").count(), 13);
    assert!(!second.contains("rel=\"next\""));

    let searched = page(format!("{range}&q=SABATO&stars=2")).await;
    assert_eq!(searched.matches("del sabato").count(), 50);
    assert!(!searched.contains("Tutto chiaro"));
    let by_answer = page(format!("{range}&answer=clear")).await;
    assert_eq!(by_answer.matches("Tutto chiaro").count(), 3);
    assert!(
        by_answer.contains("Le indicazioni erano chiare"),
        "answers by label"
    );
    let by_page = page(format!(
        "{range}&page=https%3A%2F%2Fwww.comune.bugliano.it%2Ftari"
    ))
    .await;
    assert_eq!(by_page.matches("Tutto chiaro").count(), 3);
    assert!(!by_page.contains("Manca l"));
    let invalid = page(format!("{range}&stars=9")).await;
    assert!(invalid.contains("role=\"alert\""));
    assert!(first.contains("data-export"), "the selection's exports");

    let auditor = invited(
        &console,
        "bugliano",
        "revisore",
        satisfy_console::roles::Role::Auditor,
    )
    .await;
    let refused = auditor
        .get(format!(
            "{}/console/entrypoints/{id}/comments",
            console.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
}

#[tokio::test]
async fn the_two_official_others_are_shown_and_filtered_apart() {
    let console = spawn().await;
    let sito = entrypoint(&console, "Sito").await;
    let batch = |stars, count| Batch {
        entrypoint: &sito,
        page: "/albo",
        stars,
        answers: &["other"],
        comment: Some("Altro ancora"),
        count,
        received: at(3, 10),
    };
    write(&console, &[batch(2, 3), batch(5, 2)]).await;
    let client = browser();
    log_in(&console, &client, PASSWORD).await;
    let range = "period=custom&from=2026-03-01&to=2026-03-31";
    let base = &console.base;
    let get = |path: String| {
        let client = client.clone();
        async move {
            client
                .get(format!("{base}{path}"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        }
    };
    let stats = get(format!("/console/entrypoints/{sito}/stats?{range}")).await;
    assert!(
        stats.contains("Altro (Dove hai incontrato le maggiori difficoltà?)"),
        "{stats}"
    );
    assert!(
        stats.contains("Altro (Quali sono stati gli aspetti che hai preferito?)"),
        "{stats}"
    );
    let positive = get(format!(
        "/console/entrypoints/{sito}/comments?{range}&answer=other_positive"
    ))
    .await;
    assert_eq!(positive.matches("Altro ancora").count(), 2, "{positive}");
    let negative = get(format!(
        "/console/entrypoints/{sito}/comments?{range}&answer=other"
    ))
    .await;
    assert_eq!(negative.matches("Altro ancora").count(), 3, "{negative}");
}
