//! The distributed roles: `satisfy ingest`, `satisfy aggregator`, `satisfy console`, each
//! stateless (the console keeps only its own configuration) and horizontally scalable.

use anyhow::Context;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use satisfy_aggregator::ClickHouseStore;
use satisfy_aggregator::kafka::{self, ConsumerConfig};
use satisfy_aggregator::metrics::AggregatorMetrics;
use satisfy_console::ConsoleState;
use satisfy_ingest::event_tokens::ConsoleTokens;
use satisfy_ingest::sinks::kafka::{KafkaSink, KafkaSinkConfig};
use satisfy_ingest::{EntrypointSnapshot, IngestState, Metrics};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::configuration::{AggregatorSettings, ConsoleSettings, IngestSettings};
use crate::http_server::{self, HttpLimits};

async fn serve(
    listen: SocketAddr,
    router: Router,
    limits: HttpLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    http_server::bind_and_serve(listen, router, limits, shutdown)
        .await
        .context("serving HTTP")
}

/// Runs the public intake with the Kafka sink.
pub async fn ingest(
    settings: IngestSettings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let sink = KafkaSink::connect(&KafkaSinkConfig {
        access: settings.kafka.access(),
        topic: settings.kafka.topic.clone(),
        events_topic: settings.kafka.events_topic.clone(),
        partitions: settings.kafka_partitions,
        replication: settings.kafka.replication,
        delivery_timeout: Duration::from_secs(5),
    })
    .await
    .context("connecting to Kafka")?;
    let directory = EntrypointSnapshot::default();
    directory.follow_console(
        settings.console_url.clone(),
        settings.internal_token.clone(),
        Duration::from_secs(2),
    );
    let event_tokens = ConsoleTokens::new(&settings.console_url, settings.internal_token.clone());
    let router = satisfy_ingest::router(IngestState {
        directory: Arc::new(directory),
        sink: Arc::new(sink),
        event_tokens: Arc::new(event_tokens),
        metrics: Arc::new(Metrics::default()),
        config: settings.intake.ingest_config(),
    });
    serve(settings.listen, router, settings.http, shutdown).await
}

#[derive(Clone)]
struct AggregatorState {
    metrics: Arc<AggregatorMetrics>,
    store: ClickHouseStore,
}

/// Runs the consumer group writing to ClickHouse, with /healthz, /readyz and /metrics.
pub async fn aggregator(
    settings: AggregatorSettings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let store = ClickHouseStore::connect(&settings.clickhouse.access())
        .await
        .context("connecting to ClickHouse")?;
    let metrics = Arc::new(AggregatorMetrics::default());
    let state = AggregatorState {
        metrics: Arc::clone(&metrics),
        store: store.clone(),
    };
    let router = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(|State(state): State<AggregatorState>| async move {
                match state.store.ping().await {
                    Ok(()) => (StatusCode::OK, "ready").into_response(),
                    Err(_) => {
                        (StatusCode::SERVICE_UNAVAILABLE, "ClickHouse unreachable").into_response()
                    }
                }
            }),
        )
        .route(
            "/metrics",
            get(|State(state): State<AggregatorState>| async move {
                (
                    [(
                        header::CONTENT_TYPE,
                        satisfy_aggregator::metrics::CONTENT_TYPE,
                    )],
                    state.metrics.render(),
                )
            }),
        )
        .with_state(state);
    let (stop_http, http_stopped) = tokio::sync::oneshot::channel::<()>();
    let http = tokio::spawn(serve(settings.listen, router, settings.http, async {
        let _ = http_stopped.await;
    }));
    let config = ConsumerConfig {
        access: settings.kafka.access(),
        group: settings.kafka_group.clone(),
        topic: settings.kafka.topic.clone(),
        events_topic: settings.kafka.events_topic.clone(),
        platform_topics: settings.platform_topics.0.clone(),
        dead_letter_topic: settings.dead_letter_topic.clone(),
        max_batch: settings.batch_size as usize,
        max_wait: Duration::from_millis(settings.batch_wait_ms),
        replication: settings.kafka.replication,
    };
    kafka::run(config, Arc::new(store), metrics, shutdown)
        .await
        .context("consuming ratings and events")?;
    let _ = stop_http.send(());
    http.await.context("metrics server")??;
    Ok(())
}

/// Runs the console reading analytics from ClickHouse.
pub async fn console(
    settings: ConsoleSettings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let store = settings.database.open().await?;
    if let Some(password) = satisfy_console::ensure_admin(
        store.as_ref(),
        &settings.basics.tenant,
        settings.basics.admin_password.as_ref(),
    )
    .await?
    {
        println!(
            "First start: the admin password is {password}  (set SATISFY_ADMIN_PASSWORD to choose one)"
        );
    }
    let analytics = ClickHouseStore::connect(&settings.clickhouse.access())
        .await
        .context("connecting to ClickHouse")?;
    let state = ConsoleState::new(
        store,
        Arc::new(analytics.clone()),
        Arc::new(analytics.clone()),
        Arc::new(analytics),
        settings.basics.console_config(
            settings.public_url.clone(),
            Some(settings.internal_token.clone()),
            settings.trust_forwarded_for,
        ),
    )
    .context("preparing the console")?;
    satisfy_console::compliance::spawn_runner(state.clone());
    satisfy_console::retention::spawn_sweeper(state.clone());
    let router = satisfy_console::router(state)
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(|| async { "ready" }));
    serve(settings.listen, router, settings.http, shutdown).await
}
