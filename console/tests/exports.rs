//! Ratings listed, searched and exported through the API, as an analyst's script and a
//! spreadsheet read them.

mod support;

use satisfy_aggregator::{RatingStore, StoredRating};
use satisfy_core::{EntrypointKind, Lang, RatingSubmission, Survey, TenantId, WireRating};
use serde::Deserialize;
use serde_json::{Value, json};
use support::*;

/// More than one export page (2,000), so the stream resumes from a cursor.
const RATINGS: usize = 4_500;

/// Midday UTC of 2026-03-02 plus `n` minutes.
fn received(n: usize) -> i64 {
    1_772_452_800_000 + n as i64 * 60_000
}

async fn rated_entrypoint(console: &Console) -> String {
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
    let id = created["id"].as_str().unwrap().to_owned();
    let survey = Survey::for_kind(EntrypointKind::PaginaWeb, None, Lang::It);
    let rows: Vec<StoredRating> = (0..RATINGS)
        .map(|n| {
            let (stars, answers, comment) = match n {
                0 => (1, vec!["unclear"], Some("=SOMMA(A1:A9) non trovo l'orario")),
                1 => (2, vec!["incomplete"], Some("Orario mancante; manca il PDF")),
                _ => (n % 5 + 1, vec![], None),
            };
            let stars = stars as u8;
            let answers = if n > 1 && stars < 4 {
                vec!["other"]
            } else {
                answers
            };
            let body = json!({
                "id": uuid::Uuid::from_u128(n as u128 + 1).to_string(), "entrypoint": id,
                "page": format!("https://www.comune.bugliano.it/pagina-{}", n % 7),
                "rating": stars, "answers": answers, "comment": comment,
                "lang": if n % 3 == 0 { "it" } else { "en" }
            });
            StoredRating {
                rating: RatingSubmission::parse(&WireRating::deserialize(&body).unwrap())
                    .unwrap()
                    .into_rating(&survey)
                    .unwrap(),
                tenant: TenantId::parse("bugliano").unwrap(),
                received_at_ms: received(n),
            }
        })
        .collect();
    console.ratings.write_batch(&rows).await.unwrap();
    id
}

async fn get(console: &Console, path: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(format!("{}/api/v1{path}", console.base))
        .bearer_auth(&console.token)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn ratings_are_listed_page_by_page_and_searched() {
    let console = spawn().await;
    let id = rated_entrypoint(&console).await;
    let range = "from=2026-03-01&to=2026-03-31";

    let page: Value = get(
        &console,
        &format!("/entrypoints/{id}/ratings?{range}&limit=3"),
    )
    .await
    .json()
    .await
    .unwrap();
    let ratings = page["ratings"].as_array().unwrap();
    assert_eq!(ratings.len(), 3);
    // Newest first: the last one written.
    assert_eq!(
        ratings[0]["id"],
        uuid::Uuid::from_u128(RATINGS as u128).to_string()
    );
    assert_eq!(ratings[0]["created_at_ms"], received(RATINGS - 1));
    let next = page["next"].as_str().unwrap();
    let second: Value = get(
        &console,
        &format!("/entrypoints/{id}/ratings?{range}&limit=3&after={next}"),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        second["ratings"][0]["id"],
        uuid::Uuid::from_u128(RATINGS as u128 - 3).to_string()
    );

    let found: Value = get(
        &console,
        &format!("/entrypoints/{id}/ratings?{range}&q=ORARIO&stars=1,2"),
    )
    .await
    .json()
    .await
    .unwrap();
    let comments: Vec<&str> = found["ratings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["comment"].as_str().unwrap())
        .collect();
    assert_eq!(
        comments,
        [
            "Orario mancante; manca il PDF",
            "=SOMMA(A1:A9) non trovo l'orario"
        ]
    );
    assert!(found.get("next").is_none(), "{found}");
    let only_first: Value = get(
        &console,
        &format!("/entrypoints/{id}/ratings?{range}&with_comment=true&answer=unclear"),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(only_first["ratings"].as_array().unwrap().len(), 1);
    assert_eq!(only_first["ratings"][0]["answers"], json!(["unclear"]));

    for bad in [
        "stars=6",
        "lang=fr",
        "limit=0",
        "after=nope",
        "format=xlsx",
        "format=csv&delimiter=tab",
        "with_comment=forse",
        "from=2026-02-30",
    ] {
        let answer = get(&console, &format!("/entrypoints/{id}/ratings?{bad}")).await;
        assert_eq!(answer.status(), 422, "{bad}");
        let body: Value = answer.json().await.unwrap();
        assert!(body["error"]["code"].as_str().is_some(), "{bad}: {body}");
    }
}

#[tokio::test]
async fn exports_stream_every_rating_as_csv_and_ndjson() {
    let console = spawn().await;
    let id = rated_entrypoint(&console).await;
    let range = "from=2026-03-01&to=2026-03-31";

    let csv = get(
        &console,
        &format!("/entrypoints/{id}/ratings?{range}&format=csv&delimiter=semicolon"),
    )
    .await;
    assert_eq!(csv.status(), 200);
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let disposition = csv.headers()["content-disposition"].to_str().unwrap();
    assert!(
        disposition.starts_with("attachment; filename=\"valutazioni-")
            && disposition.ends_with("-2026-03-01-2026-03-31.csv\""),
        "{disposition}"
    );
    // Streamed: no length known in advance.
    assert!(csv.headers().get("content-length").is_none());
    let text = csv.text().await.unwrap();
    let text = text.strip_prefix('\u{feff}').expect("a UTF-8 BOM");
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(
        header,
        [
            "id",
            "received_at",
            "entrypoint",
            "page",
            "stars",
            "answers",
            "comment",
            "lang"
        ]
    );
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), RATINGS);
    let ids: std::collections::HashSet<&str> = records.iter().map(|r| &r[0]).collect();
    assert_eq!(ids.len(), RATINGS, "each rating once across export pages");
    let first = records.last().unwrap();
    // 13:00 in Rome; the formula is neutralised, the semicolon kept inside its quotes.
    assert_eq!(&first[1], "2026-03-02 13:00:00");
    assert_eq!(&first[6], "'=SOMMA(A1:A9) non trovo l'orario");
    assert_eq!(&records[RATINGS - 2][6], "Orario mancante; manca il PDF");

    let ndjson = get(
        &console,
        &format!("/entrypoints/{id}/ratings?{range}&format=ndjson&lang=it"),
    )
    .await;
    assert_eq!(ndjson.headers()["content-type"], "application/x-ndjson");
    let lines: Vec<Value> = ndjson
        .text()
        .await
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), RATINGS.div_ceil(3));
    assert!(lines.iter().all(|l| l["lang"] == "it"));

    let weekly = get(
        &console,
        &format!(
            "/entrypoints/{id}/aggregates?{range}&granularity=week&format=csv&delimiter=semicolon"
        ),
    )
    .await
    .text()
    .await
    .unwrap();
    let mut rows = weekly.trim_start_matches('\u{feff}').lines();
    assert_eq!(
        rows.next(),
        Some("period_start;count;average;stars_1;stars_2;stars_3;stars_4;stars_5")
    );
    let weeks: Vec<&str> = rows.collect();
    assert_eq!(weeks.len(), 6, "{weeks:?}");
    // 4,500 minutes from Monday 2 March 13:00 end on Thursday 5 March: all in one week.
    assert!(
        weeks[1].starts_with(&format!("2026-03-02;{RATINGS};")),
        "{weeks:?}"
    );
    assert!(
        weeks[1].split(';').nth(2).unwrap().contains(','),
        "comma decimals"
    );
    let json: Value = get(
        &console,
        &format!("/entrypoints/{id}/aggregates?{range}&granularity=week"),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(json["granularity"], "week");
    assert_eq!(json["buckets"][1]["count"], RATINGS);
}

#[tokio::test]
async fn auditors_export_ratings_without_comments() {
    let console = spawn().await;
    let id = rated_entrypoint(&console).await;
    let client = invited(
        &console,
        "bugliano",
        "revisore",
        satisfy_console::roles::Role::Auditor,
    )
    .await;
    let url = format!(
        "{}/api/v1/entrypoints/{id}/ratings?from=2026-03-01&to=2026-03-31",
        console.base
    );
    let page: Value = client.get(&url).send().await.unwrap().json().await.unwrap();
    assert_eq!(page["ratings"].as_array().unwrap().len(), 50);
    assert!(
        page["ratings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["comment"].is_null())
    );
    let csv = client
        .get(format!("{url}&format=csv"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!csv.contains("comment") && !csv.contains("orario"));
    let search = client.get(format!("{url}&q=orario")).send().await.unwrap();
    assert_eq!(search.status(), 403);
}

#[tokio::test]
async fn dates_out_of_range_are_refused_on_every_view_and_never_crash_it() {
    let console = spawn().await;
    let id = rated_entrypoint(&console).await;
    let api = reqwest::Client::new();
    let pages = browser();
    log_in(&console, &pages, PASSWORD).await;
    let ranges = [
        // Beyond what date arithmetic can reach, either way.
        ("-262143-01-01", "2026-03-01"),
        ("2026-03-01", "+262142-12-31"),
        // Representable, but far wider than any report.
        ("0001-01-01", "9999-12-31"),
        // Backwards.
        ("2026-03-31", "2026-03-01"),
    ];
    for (from, to) in ranges {
        let query = format!("period=custom&from={from}&to={to}");
        for path in [
            format!("/api/v1/entrypoints/{id}/stats"),
            format!("/api/v1/entrypoints/{id}/ratings"),
            format!("/api/v1/entrypoints/{id}/ratings?format=csv"),
            format!("/api/v1/entrypoints/{id}/aggregates"),
            "/api/v1/overview".to_owned(),
        ] {
            let joiner = if path.contains('?') { '&' } else { '?' };
            let response = api
                .get(format!("{}{path}{joiner}{query}", console.base))
                .bearer_auth(&console.token)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 422, "{path} from {from} to {to}");
            let error: Value = response.json().await.unwrap();
            assert!(error["error"]["message"].is_string(), "{error}");
        }
        // Pages say what is wrong and show the default period instead.
        for path in [
            format!("/console/entrypoints/{id}/stats"),
            format!("/console/entrypoints/{id}/comments"),
            "/console/overview".to_owned(),
        ] {
            let response = pages
                .get(format!("{}{path}?{query}", console.base))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200, "{path} from {from} to {to}");
            let html = response.text().await.unwrap();
            assert!(
                html.contains("role=\"alert\""),
                "{path} from {from} to {to}"
            );
        }
    }
}
