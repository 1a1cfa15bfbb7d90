//! Ingest spawned on port 0 with the real SQLite store behind embedded mode's sink,
//! exercised over HTTP.

use satisfy::store_sink::StoreSink;
use satisfy_aggregator::{
    AnalyticsQuery, EventStore, Filter, GroupWriter, RatingQuery, SqliteStore, WriterConfig,
};
use satisfy_core::{
    CustomQuestion, CustomSurvey, Entrypoint, EntrypointId, EntrypointKind, EntrypointStatus,
    Origin, Scope, TenantId,
};
use satisfy_ingest::event_tokens::{EventTokens, TokenRefusal, events_tenant};
use satisfy_ingest::{EntrypointSnapshot, IngestConfig, IngestState, Metrics};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

const EP: &str = "ep_TESTtestTESTtest";
const PAUSED: &str = "ep_PAUSEDpausedPAUS";
/// A custom survey whose question holds a line separator (U+2028), which JSON allows raw
/// and older JavaScript engines do not.
const CUSTOM: &str = "ep_CUSTOMcustomCUST";
const CUSTOM_QUESTION: &str = "Come valuti lo sportello?\u{2028}Dicci la verità";
const SITE: &str = "https://www.comune.bugliano.it";

struct App {
    base: String,
    /// The entrypoints ingest knows, as the directory's reload replaces them.
    directory: Arc<EntrypointSnapshot>,
    store: SqliteStore,
    writer_task: tokio::task::JoinHandle<()>,
    client: reqwest::Client,
    _dir: tempfile::TempDir,
}

fn entrypoint(id: &str, status: EntrypointStatus) -> Entrypoint {
    Entrypoint {
        id: EntrypointId::parse(id).unwrap(),
        tenant: TenantId::parse("bugliano").unwrap(),
        name: "Pagine".into(),
        kind: EntrypointKind::PaginaWeb,
        status,
        allowed_origins: vec![Origin::parse(SITE).unwrap()],
        custom: None,
        service: None,
        created_at: 0,
    }
}

async fn spawn(config: IngestConfig) -> App {
    spawn_with(config, Vec::new()).await
}

/// The app with the test's entrypoints and `others`.
async fn spawn_with(config: IngestConfig, others: Vec<Entrypoint>) -> App {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("ratings.db")).unwrap();
    let (writer, writer_task) = GroupWriter::spawn(
        Arc::new(store.clone()),
        Arc::new(store.clone()),
        WriterConfig::default(),
    );
    let directory = EntrypointSnapshot::default();
    directory.replace_all(
        vec![
            entrypoint(EP, EntrypointStatus::Active),
            entrypoint(PAUSED, EntrypointStatus::Paused),
            Entrypoint {
                kind: EntrypointKind::Personalizzato,
                custom: Some(CustomSurvey {
                    question: CUSTOM_QUESTION.into(),
                    follow_ups: Vec::new(),
                }),
                ..entrypoint(CUSTOM, EntrypointStatus::Active)
            },
        ]
        .into_iter()
        .chain(others)
        .collect(),
    );
    let directory = Arc::new(directory);
    let state = IngestState {
        directory: directory.clone(),
        sink: Arc::new(StoreSink::new(writer)),
        event_tokens: Arc::new(KnownTokens),
        metrics: Arc::new(Metrics::default()),
        config,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = satisfy_ingest::router(state).into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    App {
        base: format!("http://{addr}"),
        directory,
        store,
        writer_task,
        client: reqwest::Client::new(),
        _dir: dir,
    }
}

/// The console's verdicts on the test's tokens (the real checks have their own tests:
/// the console store's in tests/embedded.rs, the console endpoint's in
/// tests/distributed.rs).
struct KnownTokens;

const EVENTS_TOKEN: &str = "sat_000000000001_events";
const READ_TOKEN: &str = "sat_000000000002_read";

#[async_trait::async_trait]
impl EventTokens for KnownTokens {
    async fn tenant_of(&self, secret: &str) -> Result<TenantId, TokenRefusal> {
        let tenant = TenantId::parse("bugliano").unwrap();
        match secret {
            EVENTS_TOKEN => events_tenant(tenant, &[Scope::EventsWrite]),
            READ_TOKEN => events_tenant(tenant, &[Scope::Read]),
            _ => Err(TokenRefusal::Unknown),
        }
    }
}

fn generous() -> IngestConfig {
    IngestConfig {
        rate_limit_burst: 100_000,
        rate_limit_period: Duration::from_micros(1),
        ..IngestConfig::default()
    }
}

fn rating(id: &str, stars: u8, answers: &[&str], comment: Option<&str>) -> Value {
    json!({
        "id": id, "entrypoint": EP, "page": format!("{SITE}/servizi/?utm=x"),
        "rating": stars, "answers": answers, "comment": comment, "lang": "it", "widget": "1.0.0"
    })
}

impl App {
    async fn post(&self, body: &Value) -> reqwest::Response {
        self.client
            .post(format!("{}/v1/ratings", self.base))
            .header("content-type", "application/json")
            .header("origin", SITE)
            .body(body.to_string())
            .send()
            .await
            .unwrap()
    }

    async fn post_raw(
        &self,
        content_type: Option<&str>,
        origin: Option<&str>,
        body: String,
    ) -> reqwest::Response {
        let mut request = self
            .client
            .post(format!("{}/v1/ratings", self.base))
            .body(body);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        request.send().await.unwrap()
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
    }

    /// The Italian survey of entrypoint `id`'s widget-config.
    async fn survey_of(&self, id: &str) -> Value {
        let config: Value = self
            .get(&format!("/v1/entrypoints/{id}/widget-config"))
            .await
            .json()
            .await
            .unwrap();
        config["survey"].clone()
    }

    /// `path` asked for by a page at `referer`, as a browser asks for a page's script.
    async fn get_from(&self, path: &str, referer: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .header("referer", referer)
            .send()
            .await
            .unwrap()
    }

    async fn count(&self) -> u64 {
        let today = chrono::Utc::now().date_naive();
        let filter = Filter {
            tenant: TenantId::parse("bugliano").unwrap(),
            entrypoint: None,
            from: today.pred_opt().unwrap(),
            to: today.succ_opt().unwrap(),
            tz: chrono_tz::Europe::Rome,
        };
        self.store.summary(&filter).await.unwrap().count
    }
}

async fn error_code(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    (status, body["error"]["code"].as_str().unwrap().to_owned())
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[tokio::test]
async fn accepts_a_rating_and_counts_updates_and_duplicates_once() {
    let app = spawn(generous()).await;
    let id = new_id();
    let first = app.post(&rating(&id, 2, &[], None)).await;
    assert_eq!(first.status(), 202);
    assert_eq!(first.headers()["access-control-allow-origin"], SITE);
    let update = rating(&id, 2, &["incomplete"], Some("Manca l'orario"));
    assert_eq!(app.post(&update).await.status(), 202);
    assert_eq!(app.post(&update).await.status(), 202);
    assert_eq!(app.count().await, 1);

    // navigator.sendBeacon posts text/plain, with the page's origin.
    let beacon = rating(&new_id(), 5, &["clear"], None).to_string();
    let response = app
        .post_raw(Some("text/plain;charset=UTF-8"), Some(SITE), beacon)
        .await;
    assert_eq!(response.status(), 202);
    assert_eq!(app.count().await, 2);
}

#[tokio::test]
async fn personal_data_in_comments_is_redacted_before_it_is_stored() {
    let app = spawn(generous()).await;
    let comment = "Sono RSSMRA85T10A562S, scrivete a mario.rossi@gmail.com o al 347 123 4567; \
                   rimborso su IT60 X054 2811 1010 0000 0123 456, carta 4111 1111 1111 1111";
    let response = app.post(&rating(&new_id(), 1, &[], Some(comment))).await;
    assert_eq!(response.status(), 202);
    let today = chrono::Utc::now().date_naive();
    let filter = Filter {
        tenant: TenantId::parse("bugliano").unwrap(),
        entrypoint: None,
        from: today.pred_opt().unwrap(),
        to: today.succ_opt().unwrap(),
        tz: chrono_tz::Europe::Rome,
    };
    let stored = app
        .store
        .ratings(&RatingQuery::all(filter), None, 10)
        .await
        .unwrap();
    assert_eq!(
        stored[0].comment.as_deref().unwrap(),
        "Sono [codice fiscale], scrivete a [email] o al [telefono]; \
         rimborso su [iban], carta [carta]"
    );
}

#[tokio::test]
async fn every_error_status_has_a_typed_json_body() {
    let app = spawn(generous()).await;
    let json_type = Some("application/json");
    let valid = rating(&new_id(), 4, &[], None);

    let malformed = app.post_raw(json_type, Some(SITE), "{".into()).await;
    assert_eq!(error_code(malformed).await, (400, "malformed_json".into()));

    let big = json!({ "pad": "x".repeat(5000) }).to_string();
    let too_large = app.post_raw(json_type, Some(SITE), big).await;
    assert_eq!(
        error_code(too_large).await,
        (413, "payload_too_large".into())
    );

    let form = app
        .post_raw(
            Some("application/x-www-form-urlencoded"),
            Some(SITE),
            valid.to_string(),
        )
        .await;
    assert_eq!(
        error_code(form).await,
        (415, "unsupported_media_type".into())
    );
    assert_eq!(
        app.post_raw(None, Some(SITE), valid.to_string())
            .await
            .status(),
        415
    );
    // Browsers send an Origin header with every rating: a request without one is no
    // browser's.
    assert_eq!(
        error_code(app.post_raw(json_type, None, valid.to_string()).await).await,
        (403, "origin_required".into())
    );
    // The page rated must lie on one of the entrypoint's sites.
    let mut elsewhere = valid.clone();
    elsewhere["page"] = json!("https://www.altro-comune.it/servizi");
    let refused = app.post(&elsewhere).await;
    assert_eq!(refused.status(), 422);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "page_not_allowed");
    assert_eq!(body["error"]["field"], "page");

    let mut bad = valid.clone();
    bad["rating"] = json!(7);
    let invalid = app.post(&bad).await;
    assert_eq!(invalid.status(), 422);
    let body: Value = invalid.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_rating");
    assert_eq!(body["error"]["field"], "rating");

    let mut wrong_answer = valid.clone();
    wrong_answer["answers"] = json!(["unclear"]);
    assert_eq!(
        error_code(app.post(&wrong_answer).await).await,
        (422, "invalid_answer".into())
    );

    let mut unknown = valid.clone();
    unknown["entrypoint"] = json!("ep_UNKNOWNunknownUU");
    assert_eq!(
        error_code(app.post(&unknown).await).await,
        (404, "unknown_entrypoint".into())
    );
    let mut paused = valid.clone();
    paused["entrypoint"] = json!(PAUSED);
    assert_eq!(
        error_code(app.post(&paused).await).await,
        (404, "unknown_entrypoint".into())
    );

    let foreign = app
        .post_raw(json_type, Some("https://evil.example"), valid.to_string())
        .await;
    assert_eq!(
        error_code(foreign).await,
        (403, "origin_not_allowed".into())
    );

    assert_eq!(app.count().await, 0);
    assert_eq!(app.get("/nope").await.status(), 404);
}

#[tokio::test]
async fn preflights_are_answered_for_known_origins_only() {
    let app = spawn(generous()).await;
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, format!("{}/v1/ratings", app.base))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
    };
    let ok = preflight(SITE).await.unwrap();
    assert_eq!(ok.status(), 204);
    assert_eq!(ok.headers()["access-control-allow-origin"], SITE);
    assert_eq!(
        preflight("https://evil.example").await.unwrap().status(),
        403
    );
}

#[tokio::test]
async fn too_many_requests_get_429_with_retry_after() {
    let app = spawn(IngestConfig {
        rate_limit_burst: 3,
        rate_limit_period: Duration::from_secs(30),
        ..IngestConfig::default()
    })
    .await;
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let response = app.post(&rating(&new_id(), 5, &[], None)).await;
        statuses.push(response.status().as_u16());
        if response.status() == 429 {
            let retry: u64 = response.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!(retry >= 1);
            // A page's widget must be able to read both the refusal and when to retry.
            assert_eq!(response.headers()["access-control-allow-origin"], "*");
            assert_eq!(
                response.headers()["access-control-expose-headers"],
                "Retry-After"
            );
            assert_eq!(error_code(response).await.1, "rate_limited");
        }
    }
    assert_eq!(statuses, vec![202, 202, 202, 429, 429]);
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("satisfy_requests_rejected_total{code=\"rate_limited\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("satisfy_ratings_accepted_total{outcome=\"inserted\"} 3"),
        "{metrics}"
    );
}

#[tokio::test]
async fn ipv6_clients_share_one_limit_per_64_network() {
    let app = spawn(IngestConfig {
        trust_forwarded_for: true,
        rate_limit_burst: 2,
        rate_limit_period: Duration::from_secs(30),
    })
    .await;
    let from = |address: &'static str| {
        app.client
            .post(format!("{}/v1/ratings", app.base))
            .header("content-type", "application/json")
            .header("origin", SITE)
            .header("x-forwarded-for", address)
            .body(rating(&new_id(), 4, &[], None).to_string())
            .send()
    };
    let mut statuses = Vec::new();
    // Three addresses of one /64: one client, whose burst of 2 is then spent.
    for address in [
        "2001:db8:1:2::1",
        "2001:db8:1:2::2",
        "2001:db8:1:2:ffff:ffff:ffff:3",
    ] {
        statuses.push(from(address).await.unwrap().status().as_u16());
    }
    // Another /64, and an IPv4 client, have their own.
    statuses.push(from("2001:db8:1:3::1").await.unwrap().status().as_u16());
    statuses.push(from("192.0.2.7").await.unwrap().status().as_u16());
    assert_eq!(statuses, [202, 202, 429, 202, 202]);
    // The limiter's cleanup, every 10 s, keeps the three clients (their buckets are not
    // full again for a minute) and says how many it remembers.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let metrics = app.get("/metrics").await.text().await.unwrap();
        if metrics.contains("satisfy_rate_limited_clients 3\n") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the limiter's cleanup never counted the three clients:\n{metrics}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn widget_configurations_are_compressed_once_and_rate_limited() {
    use std::io::Read;
    let app = spawn(IngestConfig {
        rate_limit_burst: 3,
        rate_limit_period: Duration::from_secs(30),
        ..IngestConfig::default()
    })
    .await;
    let fetch = |encoding: &'static str| {
        app.client
            .get(format!("{}/v1/entrypoints/{EP}/widget-config", app.base))
            .header("accept-encoding", encoding)
            .send()
    };
    let brotli = fetch("br").await.unwrap();
    assert_eq!(brotli.status(), 200);
    assert_eq!(brotli.headers()["content-encoding"], "br");
    assert_eq!(brotli.headers()["vary"], "Accept-Encoding");
    let brotli = brotli.bytes().await.unwrap();
    // The same bytes again, compressed once.
    assert_eq!(
        fetch("gzip, br").await.unwrap().bytes().await.unwrap(),
        brotli
    );
    let plain = fetch("identity").await.unwrap();
    assert!(plain.headers().get("content-encoding").is_none());
    let plain = plain.bytes().await.unwrap();
    let mut unpacked = Vec::new();
    brotli::Decompressor::new(&brotli[..], 4096)
        .read_to_end(&mut unpacked)
        .unwrap();
    assert_eq!(unpacked, plain);
    assert!(
        brotli.len() < plain.len() / 2,
        "{} of {}",
        brotli.len(),
        plain.len()
    );
    let config: Value = serde_json::from_slice(&plain).unwrap();
    assert_eq!(config["entrypoint"], EP);
    // The burst of 3 is spent: the configuration shares the client's rate limit.
    let limited = fetch("br").await.unwrap();
    assert_eq!(limited.status(), 429);
    assert_eq!(error_code(limited).await.1, "rate_limited");
}

#[tokio::test]
async fn an_edited_entrypoint_is_served_its_new_texts_at_once() {
    let app = spawn(generous()).await;
    let custom = |question: &str| Entrypoint {
        kind: EntrypointKind::Personalizzato,
        custom: Some(CustomSurvey {
            question: question.into(),
            follow_ups: Vec::new(),
        }),
        ..entrypoint(CUSTOM, EntrypointStatus::Active)
    };
    let title_in = |lang: &'static str| {
        let app = &app;
        async move {
            let config: Value = app
                .get(&format!(
                    "/v1/entrypoints/{CUSTOM}/widget-config?lang={lang}"
                ))
                .await
                .json()
                .await
                .unwrap();
            config["survey"]["title"].as_str().unwrap().to_owned()
        }
    };
    let loader_title = || async {
        let body = app.get(&format!("/widget/v1/{CUSTOM}.js")).await;
        split_loader(&body.text().await.unwrap(), CUSTOM).0["title"].clone()
    };
    assert_eq!(title_in("de").await, CUSTOM_QUESTION);
    assert_eq!(loader_title().await, CUSTOM_QUESTION);
    // As the directory's reload does after the console saved the edit.
    app.directory.replace_all(vec![
        entrypoint(EP, EntrypointStatus::Active),
        custom("Lo sportello ti ha aiutato?"),
    ]);
    assert_eq!(title_in("de").await, "Lo sportello ti ha aiutato?");
    assert_eq!(title_in("it").await, "Lo sportello ti ha aiutato?");
    assert_eq!(loader_title().await, "Lo sportello ti ha aiutato?");
}

#[tokio::test]
async fn storage_down_answers_503_never_202() {
    let app = spawn(generous()).await;
    app.writer_task.abort();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let response = app.post(&rating(&new_id(), 5, &[], None)).await;
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    assert_eq!(app.get("/readyz").await.status(), 503);
    assert_eq!(app.count().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_ratings_are_each_stored_once() {
    let app = Arc::new(spawn(generous()).await);
    let mut tasks = Vec::new();
    for n in 0..1000 {
        let app = Arc::clone(&app);
        tasks.push(tokio::spawn(async move {
            let id = new_id();
            let stars = (n % 5 + 1) as u8;
            let status = app.post(&rating(&id, stars, &[], None)).await.status();
            // Half of them are redelivered too: still one rating each.
            if n % 2 == 0 {
                assert_eq!(app.post(&rating(&id, stars, &[], None)).await.status(), 202);
            }
            status
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), 202);
    }
    assert_eq!(app.count().await, 1000);
}

/// The survey the loader of entrypoint `id` carries, and the code after it: the same head
/// as a site's loader, with that one survey.
fn split_loader<'a>(body: &'a str, id: &str) -> (Value, &'a str) {
    let (mut surveys, loader) = split_site_loader(body);
    let surveys = surveys.as_object_mut().unwrap();
    assert_eq!(surveys.keys().collect::<Vec<_>>(), [id]);
    (surveys.remove(id).unwrap(), loader)
}

/// An entrypoint id that looks random, the `n`th of a fixed sequence (splitmix64).
fn random_id(n: u64) -> String {
    const LETTERS: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
    let mut z = n.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    let id: String = (0..16)
        .map(|i| char::from(LETTERS[((z >> (i * 4)) as usize + i) % 64]))
        .collect();
    format!("ep_{id}")
}

/// The surveys the shared loader carries for a site, keyed by entrypoint, and the code
/// after them.
fn split_site_loader(body: &str) -> (Value, &str) {
    let rest = body
        .strip_prefix(
            "//# allFunctionsCalledOnLoad\n(function(s,b){s&&(s.satisfyBoot=b[s.getAttribute(\"data-entrypoint\")])})(document.currentScript,",
        )
        .expect("the loader starts by handing its script its entrypoint's configuration");
    let (surveys, loader) = rest.split_once(");\n").unwrap();
    (serde_json::from_str(surveys).unwrap(), loader)
}

#[tokio::test]
async fn the_shared_loader_carries_the_surveys_of_the_pages_site() {
    // A site with as many entrypoints as the loader carries surveys for, one with more, and
    // one whose custom survey's texts weigh more than the loader carries.
    let (full, crowded, wordy) = (
        "https://www.comune.pieno.it",
        "https://www.comune.affollato.it",
        "https://www.comune.prolisso.it",
    );
    // Ids as random as the console's, pages and services in turn: the surveys compress as
    // a real site's do.
    let site_of = |site: &'static str, first: u64, count: u64| {
        (first..first + count).map(move |n| Entrypoint {
            kind: if n % 2 == 0 {
                EntrypointKind::PaginaWeb
            } else {
                EntrypointKind::ValutazioneServizio
            },
            allowed_origins: vec![Origin::parse(site).unwrap()],
            ..entrypoint(&random_id(n), EntrypointStatus::Active)
        })
    };
    // Texts that hardly compress: letters from a simple generator.
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut text = |chars: usize| -> String {
        (0..chars)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                char::from(b'a' + (seed % 26) as u8)
            })
            .collect()
    };
    let long_custom = Entrypoint {
        kind: EntrypointKind::Personalizzato,
        custom: Some(CustomSurvey {
            question: text(200),
            follow_ups: (0..3)
                .map(|_| CustomQuestion {
                    question: text(200),
                    options: (0..8).map(|_| text(200)).collect(),
                })
                .collect(),
        }),
        allowed_origins: vec![Origin::parse(wordy).unwrap()],
        ..entrypoint("ep_WORDYwordyWORDYw", EntrypointStatus::Active)
    };
    let others = site_of(full, 0, 32)
        .chain(site_of(crowded, 100, 33))
        .chain([long_custom])
        .collect();
    let app = spawn_with(generous(), others).await;
    let plain = app.get("/widget/v1/satisfy.js").await;
    assert_eq!(plain.status(), 200);
    // Its body depends on the page asking, and on the entrypoints' settings.
    assert_eq!(plain.headers()["vary"], "Accept-Encoding, Referer");
    assert_eq!(plain.headers()["cache-control"], "public, max-age=60");
    let plain = plain.text().await.unwrap();
    let own = app.get(&format!("/widget/v1/{EP}.js")).await;
    assert_eq!(split_loader(&own.text().await.unwrap(), EP).1, plain);

    // A page of the site, as its browser names it (the origin alone, by default) or in full.
    for referer in [SITE.to_owned(), format!("{SITE}/servizi/anagrafe?q=1#top")] {
        let response = app.get_from("/widget/v1/satisfy.js", &referer).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["vary"], "Accept-Encoding, Referer");
        assert_eq!(response.headers()["cache-control"], "public, max-age=60");
        assert!(response.headers().contains_key("etag"));
        let body = response.text().await.unwrap();
        let (surveys, loader) = split_site_loader(&body);
        assert_eq!(loader, plain);
        // The site's active entrypoints; the paused one asks, and is told why it stays away.
        let ids: Vec<&String> = surveys.as_object().unwrap().keys().collect();
        assert_eq!(ids, [CUSTOM, EP], "{referer}");
        for id in [EP, CUSTOM] {
            assert_eq!(surveys[id], app.survey_of(id).await);
        }
        assert!(
            !body.contains('\u{2028}'),
            "a raw line separator in the script"
        );
    }
    let full_site = app.get_from("/widget/v1/satisfy.js", full).await;
    let full_site = full_site.text().await.unwrap();
    assert_eq!(
        split_site_loader(&full_site).0.as_object().unwrap().len(),
        32
    );

    // A page that holds its site's loader revalidates it: 304, as variable as the body. One
    // that holds the loader alone gets its site's.
    let site_loader = app.get_from("/widget/v1/satisfy.js", SITE).await;
    let etag = site_loader.headers()["etag"].clone();
    let site_body = site_loader.text().await.unwrap();
    let revalidate = |referer: &'static str, etag: reqwest::header::HeaderValue| {
        app.client
            .get(format!("{}/widget/v1/satisfy.js", app.base))
            .header("referer", referer)
            .header("if-none-match", etag)
            .send()
    };
    let fresh = revalidate(SITE, etag.clone()).await.unwrap();
    assert_eq!(fresh.status(), 304);
    assert_eq!(fresh.headers()["vary"], "Accept-Encoding, Referer");
    let other_site = revalidate("https://www.altro.example.it/", etag)
        .await
        .unwrap();
    assert_eq!(other_site.status(), 200);
    assert_eq!(other_site.text().await.unwrap(), plain);
    let plain_etag = app.get("/widget/v1/satisfy.js").await.headers()["etag"].clone();
    let stale = revalidate(SITE, plain_etag).await.unwrap();
    assert_eq!(stale.status(), 200);
    assert_eq!(stale.text().await.unwrap(), site_body);

    // Pages of another site, of a site with too many entrypoints or too long texts, or a
    // page whose address is not a site's: the loader alone, which asks.
    for referer in [
        "https://www.altro.example.it/",
        crowded,
        wordy,
        "ftp://www.comune.bugliano.it/",
        "not a url",
    ] {
        let response = app.get_from("/widget/v1/satisfy.js", referer).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["vary"], "Accept-Encoding, Referer");
        assert_eq!(response.text().await.unwrap(), plain, "{referer}");
    }
}

#[tokio::test]
async fn serves_each_entrypoint_a_loader_with_its_configuration() {
    let app = spawn(generous()).await;
    let shared = app.get("/widget/v1/satisfy.js").await.text().await.unwrap();

    let response = app.get(&format!("/widget/v1/{EP}.js")).await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    // As fresh as the widget-config it carries.
    assert_eq!(response.headers()["cache-control"], "public, max-age=60");
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    let body = response.text().await.unwrap();
    let (boot, loader) = split_loader(&body, EP);
    assert_eq!(boot, app.survey_of(EP).await);
    assert_eq!(boot["lang"], "it");
    assert_eq!(loader, shared);
    // Served again from the cache: the same bytes.
    let again = app.get(&format!("/widget/v1/{EP}.js")).await.text().await;
    assert_eq!(again.unwrap(), body);

    let german = app.get(&format!("/widget/v1/{EP}.js?lang=de")).await;
    let german = german.text().await.unwrap();
    assert_eq!(split_loader(&german, EP).0["lang"], "de");
    // Other parameters, or `lang` twice (a tag manager appending its own), keep the first.
    for query in ["?utm_source=gtm&lang=de", "?lang=de&lang=it", "?lang"] {
        let response = app.get(&format!("/widget/v1/{EP}.js{query}")).await;
        assert_eq!(response.status(), 200, "{query}");
        let expected = if query == "?lang" { &body } else { &german };
        assert_eq!(&response.text().await.unwrap(), expected, "{query}");
    }

    let custom = app.get(&format!("/widget/v1/{CUSTOM}.js")).await;
    let custom = custom.text().await.unwrap();
    assert!(
        !custom.contains('\u{2028}'),
        "a raw line separator in the script"
    );
    assert_eq!(split_loader(&custom, CUSTOM).0["title"], CUSTOM_QUESTION);

    // Paused or unknown: the shared loader, which asks for the configuration and tells the
    // webmaster why the widget stays away.
    for id in [PAUSED, "ep_UNKNOWNunknownUN"] {
        let response = app.get(&format!("/widget/v1/{id}.js")).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["cache-control"], "public, max-age=60");
        assert_eq!(response.text().await.unwrap(), shared);
    }
    assert_eq!(app.get("/widget/v1/ep_short.js").await.status(), 404);
}

#[tokio::test]
async fn a_page_revalidating_the_loader_or_its_configuration_gets_304_without_the_body() {
    let app = spawn(generous()).await;
    let revalidate = |path: String, etag: String| {
        let request = app
            .client
            .get(format!("{}{path}", app.base))
            .header("if-none-match", etag);
        async move { request.send().await.unwrap() }
    };
    let paths = [
        format!("/widget/v1/{EP}.js"),
        format!("/widget/v1/{EP}.js?lang=de"),
        format!("/widget/v1/{CUSTOM}.js"),
        format!("/v1/entrypoints/{EP}/widget-config"),
        "/widget/v1/satisfy.js".to_owned(),
        // Paused: the shared loader, with its own validator.
        format!("/widget/v1/{PAUSED}.js"),
    ];
    let mut etags = Vec::new();
    for path in &paths {
        let first = app.get(path).await;
        assert_eq!(first.status(), 200, "{path}");
        let etag = first.headers()["etag"].to_str().unwrap().to_owned();
        assert!(etag.starts_with("W/\""), "{path}: {etag}");
        // The same validator for every encoding of the same body.
        let brotli = app
            .client
            .get(format!("{}{path}", app.base))
            .header("accept-encoding", "br")
            .send()
            .await
            .unwrap();
        assert_eq!(brotli.headers()["content-encoding"], "br");
        assert_eq!(brotli.headers()["etag"].to_str().unwrap(), etag, "{path}");

        for matching in [
            etag.clone(),
            etag.trim_start_matches("W/").to_owned(),
            format!("\"other\", {etag}"),
            "*".to_owned(),
        ] {
            let again = revalidate(path.clone(), matching).await;
            assert_eq!(again.status(), 304, "{path}");
            assert_eq!(again.headers()["etag"].to_str().unwrap(), etag);
            assert_eq!(
                again.headers()["cache-control"],
                first.headers()["cache-control"]
            );
            assert_eq!(again.headers()["access-control-allow-origin"], "*");
            assert!(again.bytes().await.unwrap().is_empty());
        }
        let stale = revalidate(path.clone(), "W/\"000000000000000000000000\"".into()).await;
        assert_eq!(stale.status(), 200, "{path}");
        assert!(!stale.bytes().await.unwrap().is_empty());
        etags.push(etag);
    }
    // Each body its own validator; the paused entrypoint's loader is the shared one.
    assert_eq!(etags[4], etags[5]);
    etags.pop();
    let distinct: std::collections::HashSet<&String> = etags.iter().collect();
    assert_eq!(distinct.len(), etags.len(), "{etags:?}");
    // Hashed files never change: they are not revalidated.
    let shared = app.get("/widget/v1/satisfy.js").await.text().await.unwrap();
    let start = shared
        .find("satisfy-core.")
        .expect("the loader names its core");
    let end = start + shared[start..].find(".wasm").unwrap() + ".wasm".len();
    let wasm = &shared[start..end];
    let core = app.get(&format!("/widget/v1/{wasm}")).await;
    assert_eq!(core.status(), 200);
    assert!(core.headers().get("etag").is_none());
}

#[tokio::test]
async fn serves_widget_assets_config_and_health() {
    let app = spawn(generous()).await;
    let js = app.get("/widget/v1/satisfy.js").await;
    assert_eq!(js.status(), 200);
    assert!(
        js.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert!(
        js.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age")
    );
    assert_eq!(app.get("/widget/v1/nothing.js").await.status(), 404);

    let config: Value = app
        .get(&format!("/v1/entrypoints/{EP}/widget-config?lang=de"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(config["survey"]["lang"], "de");
    assert_eq!(
        config["survey"]["follow_ups"][0]["options"][1]["id"],
        "incomplete"
    );
    let it: Value = app
        .get(&format!("/v1/entrypoints/{EP}/widget-config"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        it["survey"]["title"],
        "Quanto sono chiare le informazioni su questa pagina?"
    );
    let paused = app
        .get(&format!("/v1/entrypoints/{PAUSED}/widget-config"))
        .await;
    assert_eq!(paused.status(), 404);
    // Readable by the widget on any page, so it can say why it does not render.
    assert_eq!(paused.headers()["access-control-allow-origin"], "*");
    assert_eq!(app.get("/healthz").await.status(), 200);
    assert_eq!(app.get("/readyz").await.status(), 200);
}

fn cloud_event(id: &str, state: &str) -> Value {
    json!({
        "specversion": "1.0", "id": id, "source": "urn:opencity:bugliano",
        "type": "it.satisfy.application.status", "time": "2026-11-02T09:00:00+01:00",
        "subject": format!("pratica-{id}"),
        "data": {"service": "residenza", "state": state}
    })
}

async fn post_events(
    app: &App,
    token: Option<&str>,
    content_type: &str,
    body: String,
) -> (u16, Value) {
    let mut request = app
        .client
        .post(format!("{}/v1/events", app.base))
        .header("content-type", content_type)
        .body(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn platform_events_are_stored_once_durable_and_bad_ones_say_why() {
    let app = spawn(generous()).await;
    const SINGLE: &str = "application/cloudevents+json";
    const BATCH: &str = "application/cloudevents-batch+json";
    let one = cloud_event("e1", "inviata").to_string();

    // Who may post.
    let (status, body) = post_events(&app, None, SINGLE, one.clone()).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("unauthorized"))
    );
    let (status, _) = post_events(&app, Some("sat_nope"), SINGLE, one.clone()).await;
    assert_eq!(status, 401);
    let (status, body) = post_events(&app, Some(READ_TOKEN), SINGLE, one.clone()).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("insufficient_scope"))
    );

    // What may be posted.
    let token = Some(EVENTS_TOKEN);
    let (status, body) = post_events(&app, token, "application/json", one.clone()).await;
    assert_eq!(status, 415);
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("application/cloudevents+json")),
        "{body}"
    );
    let (status, body) = post_events(&app, token, SINGLE, "{".into()).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("malformed_json"))
    );
    let (status, body) =
        post_events(&app, token, SINGLE, cloud_event("e0", "chiusa").to_string()).await;
    assert_eq!(status, 422);
    assert_eq!(body["error"]["field"], "data.state");

    let (status, body) = post_events(&app, token, SINGLE, one.clone()).await;
    assert_eq!((status, body["accepted"].as_u64()), (202, Some(1)));
    // A batch: the valid events are stored, each rejected one said with its index.
    let mut no_time = cloud_event("e3", "inviata");
    no_time.as_object_mut().unwrap().remove("time");
    let batch = json!([
        cloud_event("e1", "inviata"),
        cloud_event("e2", "presa_in_carico"),
        no_time,
        cloud_event("e4", "bozzetto"),
    ]);
    let (status, body) = post_events(&app, token, BATCH, batch.to_string()).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["accepted"], 2);
    assert_eq!(
        body["rejected"],
        json!([
            {"index": 2, "code": "missing_field", "field": "time", "message": "`time` is required"},
            {"index": 3, "code": "invalid_field", "field": "data.state",
             "message": "`data.state` must be an application state of docs/KPIS.md"},
        ])
    );
    let all_bad = json!([cloud_event("e5", "x")]).to_string();
    let (status, body) = post_events(&app, token, BATCH, all_bad).await;
    assert_eq!(
        (status, body["rejected"][0]["index"].as_u64()),
        (422, Some(0))
    );

    // Limits: 1,000 events, 1 MiB.
    let too_many = Value::Array(
        (0..1001)
            .map(|i| cloud_event(&format!("m{i}"), "inviata"))
            .collect(),
    );
    let (status, body) = post_events(&app, token, BATCH, too_many.to_string()).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (413, Some("too_many_events"))
    );
    let mut huge = cloud_event("h", "inviata");
    huge["data"]["service_name"] = json!("x".repeat(1 << 20));
    let (status, _) = post_events(&app, token, SINGLE, huge.to_string()).await;
    assert_eq!(status, 413);

    // e1 twice, e2: two events, each once.
    let events = app
        .store
        .tenant_events(&TenantId::parse("bugliano").unwrap())
        .await
        .unwrap();
    let mut ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
    ids.sort();
    assert_eq!(ids, ["e1", "e2"]);
}

/// Any JSON value, nested at most a few levels.
fn random_json(rng: &mut rand::rngs::StdRng, depth: u32) -> Value {
    use rand::Rng;
    let kinds = if depth > 3 { 5 } else { 7 };
    match rng.gen_range(0..kinds) {
        0 => Value::Null,
        1 => json!(rng.r#gen::<bool>()),
        2 => json!(rng.r#gen::<i64>()),
        3 => json!(rng.r#gen::<f64>() * 10f64.powi(rng.gen_range(-300..300))),
        4 => json!(random_text(rng)),
        5 => Value::Array(
            (0..rng.gen_range(0..6))
                .map(|_| random_json(rng, depth + 1))
                .collect(),
        ),
        _ => Value::Object(
            (0..rng.gen_range(0..6))
                .map(|_| (random_text(rng), random_json(rng, depth + 1)))
                .collect(),
        ),
    }
}

/// Text with what breaks parsers: controls, NUL, bidi overrides, astral characters.
fn random_text(rng: &mut rand::rngs::StdRng) -> String {
    use rand::Rng;
    const PIECES: [&str; 12] = [
        "a", "é", "🦀", "\u{0}", "\u{202e}", "\n", "\"", "\\", "https://", "ep_", "-", "9",
    ];
    (0..rng.gen_range(0..40))
        .map(|_| PIECES[rng.gen_range(0..PIECES.len())])
        .collect()
}

/// `valid` damaged a few times: fields changed to anything or dropped, unknown fields,
/// bytes cut, inserted (invalid UTF-8 too) or repeated.
fn mutated(rng: &mut rand::rngs::StdRng, valid: &Value) -> Vec<u8> {
    use rand::Rng;
    let mut value = valid.clone();
    if let Some(object) = value.as_object_mut() {
        let keys: Vec<String> = object.keys().cloned().collect();
        for _ in 0..rng.gen_range(0..3) {
            let key = &keys[rng.gen_range(0..keys.len())];
            match rng.gen_range(0..3) {
                0 => {
                    object.remove(key);
                }
                1 => {
                    object.insert(key.clone(), random_json(rng, 1));
                }
                _ => {
                    object.insert(random_text(rng), random_json(rng, 1));
                }
            }
        }
    }
    let mut bytes = value.to_string().into_bytes();
    for _ in 0..rng.gen_range(0..4) {
        let at = rng.gen_range(0..=bytes.len());
        match rng.gen_range(0..4) {
            0 => bytes.truncate(at),
            1 => {
                let noise: Vec<u8> = (0..rng.gen_range(1..8)).map(|_| rng.r#gen()).collect();
                bytes.splice(at..at, noise);
            }
            2 => {
                let end = rng.gen_range(at..=bytes.len());
                bytes.drain(at..end);
            }
            _ => {
                let copy = bytes.clone();
                bytes.extend_from_slice(&copy);
            }
        }
    }
    bytes
}

#[tokio::test]
async fn five_thousand_random_and_mutated_bodies_never_get_a_server_error() {
    use rand::{Rng, SeedableRng};
    let app = spawn(generous()).await;
    // A fixed seed, so a failure can be replayed.
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5A71_5F1E);
    let valid_rating = rating(&new_id(), 2, &["unclear"], Some("Manca l'orario"));
    let valid_event = cloud_event("fuzz", "inviata");
    let mut statuses = std::collections::BTreeMap::<u16, u32>::new();
    for n in 0..5_000 {
        let (path, valid) = if n % 2 == 0 {
            ("/v1/ratings", &valid_rating)
        } else {
            ("/v1/events", &valid_event)
        };
        let body = if rng.gen_range(0..2) == 0 {
            random_json(&mut rng, 0).to_string().into_bytes()
        } else {
            mutated(&mut rng, valid)
        };
        let content_type = match (path, rng.gen_range(0..3)) {
            ("/v1/ratings", 0) => "text/plain;charset=UTF-8",
            ("/v1/ratings", _) => "application/json",
            (_, 0) => "application/cloudevents-batch+json",
            _ => "application/cloudevents+json",
        };
        let response = app
            .client
            .post(format!("{}{path}", app.base))
            .header("content-type", content_type)
            .header("origin", SITE)
            .bearer_auth(EVENTS_TOKEN)
            .body(body.clone())
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        assert!(
            status < 500,
            "{path} answered {status} to {}",
            String::from_utf8_lossy(&body)
        );
        *statuses.entry(status).or_default() += 1;
    }
    eprintln!("statuses of 5,000 random and mutated bodies: {statuses:?}");
    // Mostly refusals of every kind, some acceptances: the bodies reached every check.
    assert!(statuses.len() >= 4, "{statuses:?}");
    assert!(statuses.contains_key(&202), "{statuses:?}");
    // The server is alive and still takes a good rating.
    assert_eq!(app.get("/healthz").await.status(), 200);
    assert_eq!(
        app.post(&rating(&new_id(), 5, &[], None)).await.status(),
        202
    );
}
