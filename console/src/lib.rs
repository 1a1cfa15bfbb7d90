//! The Satisfy console: an HTML admin app under `/console` and a REST API under `/api/v1`.
//!
//! Configuration (users, sessions, entrypoints) lives in the console's own [`ConfigStore`];
//! analytics are read through the aggregator's [`AnalyticsQuery`] API, whatever the backend.

pub mod audit;
pub mod auth;
pub mod compliance;
pub mod error;
pub mod export;
pub mod forms;
pub mod i18n;
pub mod invitations;
pub mod kpi_texts;
pub mod kpis;
pub mod overview;
pub mod retention;
pub mod roles;
pub mod routes;
pub mod security;
pub mod sign_in;
pub mod stats;
pub mod store;
pub mod tokens;

use axum::Router;
use chrono_tz::Tz;
use satisfy_aggregator::{AnalyticsQuery, Erasure, EventStore};
use satisfy_core::TenantId;
use std::sync::Arc;

pub use store::{ConfigStore, SharedConfigStore};

/// Console settings.
#[derive(Debug, Clone)]
pub struct ConsoleConfig {
    /// Base URL citizens' browsers reach ingest at, used in snippets (no trailing slash).
    pub public_url: String,
    /// Time zone of days, weeks and months in statistics.
    pub time_zone: Tz,
    /// Served over HTTPS: cookies are `Secure` with the `__Host-` prefix, and HSTS is sent.
    pub secure_cookies: bool,
    /// Take the client address of sign-in throttling from `X-Forwarded-For` (behind a
    /// proxy only): otherwise every client would share the proxy's address.
    pub trust_forwarded_for: bool,
    /// Bearer token ingest nodes present to read every entrypoint
    /// (`/api/v1/internal/entrypoints`); the route is off without one.
    pub internal_token: Option<secrecy::SecretString>,
    /// PNRR compliance runs.
    pub compliance: compliance::ComplianceConfig,
}

/// What the console's handlers share.
#[derive(Clone)]
pub struct ConsoleState {
    /// Users, sessions, entrypoints.
    pub store: SharedConfigStore,
    /// Ratings analytics.
    pub analytics: Arc<dyn AnalyticsQuery>,
    /// Platform events, for service KPIs.
    pub events: Arc<dyn EventStore>,
    /// Deletes personal data: the retention period and data subjects' requests.
    pub erasure: Arc<dyn Erasure>,
    /// Settings.
    pub config: Arc<ConsoleConfig>,
    /// Throttles and bounds every password check.
    pub sign_in: Arc<sign_in::SignInGuard>,
    /// Wakes this replica's compliance runner.
    pub compliance_bell: Arc<compliance::RunnerBell>,
}

/// Argon2id checks run at once; each holds 19 MiB while it runs.
const CONCURRENT_PASSWORD_HASHES: usize = 2;

impl ConsoleState {
    /// The console's state over these stores and settings.
    pub fn new(
        store: SharedConfigStore,
        analytics: Arc<dyn AnalyticsQuery>,
        events: Arc<dyn EventStore>,
        erasure: Arc<dyn Erasure>,
        config: ConsoleConfig,
    ) -> Result<ConsoleState, store::ConfigError> {
        Ok(ConsoleState {
            store,
            analytics,
            events,
            erasure,
            config: Arc::new(config),
            sign_in: Arc::new(sign_in::SignInGuard::new(CONCURRENT_PASSWORD_HASHES)?),
            compliance_bell: Arc::default(),
        })
    }
}

/// `/console/…` and `/api/v1/…`, every response (errors included) with the console's
/// security headers.
pub fn router(state: ConsoleState) -> Router {
    let secure = state.config.secure_cookies;
    security::layer(
        Router::new()
            // A typed or bookmarked `/console/` is the console too.
            .route(
                "/console/",
                axum::routing::get(|| async { axum::response::Redirect::permanent("/console") }),
            )
            .nest("/console", routes::pages::router())
            .nest("/api/v1", routes::api::router())
            .with_state(state),
        secure,
    )
}

/// The shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// Creates the `admin` user, the first platform administrator, on first start. Returns the generated password when none was
/// given, so the caller can print it once. A given password must have at least
/// [`MIN_PASSWORD_CHARS`] characters.
pub async fn ensure_admin(
    store: &dyn ConfigStore,
    tenant: &TenantId,
    password: Option<&secrecy::SecretString>,
) -> Result<Option<String>, store::ConfigError> {
    use secrecy::ExposeSecret;
    store.ensure_tenant(tenant).await?;
    if store.user_count().await? > 0 {
        return Ok(None);
    }
    if let Some(given) = password
        && given.expose_secret().chars().count() < MIN_PASSWORD_CHARS
    {
        return Err(store::ConfigError::from_message(format!(
            "the first administrator's password (SATISFY_ADMIN_PASSWORD) must have at least {MIN_PASSWORD_CHARS} characters; leave it unset to get a random one printed once"
        )));
    }
    let generated = password.is_none();
    let password = password.map_or_else(
        || auth::random_token()[..16].to_owned(),
        |given| given.expose_secret().to_owned(),
    );
    let hash = auth::hash_password_off_thread(password.clone()).await?;
    let created = store
        .create_user(store::User {
            username: "admin".into(),
            tenant: tenant.clone(),
            password_hash: hash,
            role: roles::Role::Admin,
            platform_admin: true,
        })
        .await;
    match created {
        Ok(()) => Ok(generated.then_some(password)),
        // Another console replica starting at the same time created it first.
        Err(store::ConfigError::Conflict(_)) => Ok(None),
        Err(error) => Err(error),
    }
}
