//! Builds the embedded-mode application from [`Settings`] and runs it.

use anyhow::Context;
use axum::Router;
use satisfy_aggregator::{Applier, GroupWriter, IntakeLog, SqliteStore, WriterConfig};
use satisfy_console::store::SqliteConfigStore;
use satisfy_console::{ConsoleState, SharedConfigStore};
use satisfy_core::Origin;
use satisfy_core::TenantId;
use satisfy_ingest::event_tokens::{EventTokens, TokenRefusal, events_tenant};
use satisfy_ingest::{EntrypointSnapshot, IngestState, Metrics};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::configuration::Settings;
use crate::demo::{self, DemoState};
use crate::demo_data;
use crate::http_server::{self, HttpLimits};
use crate::store_sink::StoreSink;

/// A bound, ready-to-run embedded Satisfy.
pub struct Application {
    listener: TcpListener,
    router: Router,
    limits: HttpLimits,
    writer_task: JoinHandle<()>,
    applier: Applier,
    /// The demo ente's data being generated at first start, if it is.
    demo_data: Option<JoinHandle<()>>,
    /// The address actually bound (useful with port 0).
    pub address: SocketAddr,
    /// Base URL of the server.
    pub public_url: String,
    /// The admin password generated at first start, if any.
    pub generated_admin_password: Option<String>,
}

impl Application {
    /// Opens the stores, creates the first user and the demo entrypoint, binds the port.
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        std::fs::create_dir_all(&settings.data_dir)
            .with_context(|| format!("creating data directory {}", settings.data_dir.display()))?;
        let store = SqliteStore::open(&settings.data_dir.join("ratings.db"))
            .context("opening the ratings database")?;
        // Ratings are acknowledged once in the intake log; the applier stores them, first
        // those a previous run acknowledged and did not store.
        let (intake_log, applier) =
            IntakeLog::open(&settings.data_dir.join("intake.db"), store.clone())
                .context("opening the intake log")?;
        let ratings = store.behind_log(applier.progress());
        let config_store: SharedConfigStore = Arc::new(
            SqliteConfigStore::open(&settings.data_dir.join("console.db"))
                .context("opening the console database")?,
        );

        let generated_admin_password = satisfy_console::ensure_admin(
            config_store.as_ref(),
            &settings.console.tenant,
            settings.console.admin_password.as_ref(),
        )
        .await
        .context("creating the admin user")?;

        let listener = TcpListener::bind(settings.listen)
            .await
            .with_context(|| format!("listening on {}", settings.listen))?;
        let address = listener.local_addr()?;
        let public_url = settings.public_url(address);

        let own_origins: Vec<Origin> = [
            public_url.clone(),
            format!("http://localhost:{}", address.port()),
        ]
        .iter()
        .filter_map(|o| Origin::parse(o))
        .collect();
        let demo_id = demo::ensure_demo_entrypoint(
            config_store.as_ref(),
            &settings.console.tenant,
            own_origins.clone(),
        )
        .await
        .context("creating the demo entrypoint")?;
        let demo_data = settings.demo_data.then(|| {
            let (config, store) = (Arc::clone(&config_store), ratings.clone());
            tokio::spawn(async move {
                if let Err(error) = demo_data::ensure(config, store, own_origins).await {
                    tracing::error!(%error, "generating the demo data failed");
                }
            })
        });

        let directory = EntrypointSnapshot::default();
        directory.replace_all(config_store.intake_entrypoints().await?);
        spawn_directory_refresh(Arc::clone(&config_store), directory.clone());

        let (writer, writer_task) = GroupWriter::spawn(
            Arc::new(intake_log),
            Arc::new(ratings.clone()),
            WriterConfig::default(),
        );
        let ingest = satisfy_ingest::router(IngestState {
            directory: Arc::new(directory),
            sink: Arc::new(StoreSink::new(writer)),
            event_tokens: Arc::new(StoreEventTokens(Arc::clone(&config_store))),
            metrics: Arc::new(Metrics::default()),
            config: settings.intake.ingest_config(),
        });
        let console_state = ConsoleState::new(
            config_store,
            Arc::new(ratings.clone()),
            Arc::new(ratings.clone()),
            Arc::new(ratings),
            settings.console.console_config(
                public_url.clone(),
                None,
                settings.intake.trust_forwarded_for,
            ),
        )
        .context("preparing the console")?;
        satisfy_console::compliance::spawn_runner(console_state.clone());
        satisfy_console::retention::spawn_sweeper(console_state.clone());
        let console = satisfy_console::router(console_state);
        let demo = demo::router(DemoState {
            public_url: public_url.clone(),
            entrypoint: demo_id,
        });
        let router = Router::new().merge(ingest).merge(console).merge(demo);

        Ok(Application {
            listener,
            router,
            limits: settings.http,
            writer_task,
            applier,
            demo_data,
            address,
            public_url,
            generated_admin_password,
        })
    }

    /// Serves until `shutdown` completes, then finishes in-flight requests and flushes
    /// every queued rating to disk before returning.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        http_server::serve(self.listener, self.router, self.limits, shutdown)
            .await
            .context("serving HTTP")?;
        // Stopped between two of its writes rather than failing when the runtime ends
        // under it: the next start writes it again from the same seed, the same ratings
        // and, that same day, the same events, over what this one wrote.
        if let Some(demo_data) = self.demo_data.filter(|task| !task.is_finished()) {
            demo_data.abort();
            // Its result is the cancellation just asked for.
            let _ = demo_data.await;
            tracing::info!("demo data interrupted by the shutdown; the next start writes it again");
        }
        // The router, and with it every writer handle, is gone: the writer drains and stops.
        self.writer_task.await.context("flushing pending ratings")?;
        // Every acknowledged rating is in the log; what the applier has not stored yet
        // is stored at the next start.
        self.applier.stop().await;
        tracing::info!("shut down cleanly");
        Ok(())
    }
}

/// Embedded mode checks the tokens of platform events in the console's own store.
struct StoreEventTokens(SharedConfigStore);

#[async_trait::async_trait]
impl EventTokens for StoreEventTokens {
    async fn tenant_of(&self, secret: &str) -> Result<TenantId, TokenRefusal> {
        match satisfy_console::tokens::verify(self.0.as_ref(), secret).await {
            Ok(Some(token)) => events_tenant(token.tenant, &token.scopes),
            Ok(None) => Err(TokenRefusal::Unknown),
            Err(error) => {
                tracing::error!(%error, "checking an event token failed");
                Err(TokenRefusal::Unavailable)
            }
        }
    }
}

/// How often intake rereads entrypoints that another process (`satisfy admin`) changed.
const DIRECTORY_REFRESH: std::time::Duration = std::time::Duration::from_secs(2);

/// Keeps ingest's in-memory entrypoints in step with the console's changes at once, and
/// with other processes' changes to the same database every [`DIRECTORY_REFRESH`].
fn spawn_directory_refresh(store: SharedConfigStore, directory: EntrypointSnapshot) {
    let mut changes = store.subscribe();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                changed = changes.changed() => if changed.is_err() { return },
                _ = tokio::time::sleep(DIRECTORY_REFRESH) => {}
            }
            match store.intake_entrypoints().await {
                Ok(all) => directory.replace_all(all),
                Err(error) => {
                    tracing::error!(%error, "reloading entrypoints failed; keeping the previous set")
                }
            }
        }
    });
}
