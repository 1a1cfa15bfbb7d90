//! The Satisfy console: an HTML admin app under `/console` and a REST API under `/api/v1`.
//!
//! Configuration (users, sessions, entrypoints) lives in the console's own [`ConfigStore`];
//! analytics are read through the aggregator's [`AnalyticsQuery`] API, whatever the backend.

pub mod auth;
pub mod error;
pub mod forms;
pub mod i18n;
pub mod routes;
pub mod stats;
pub mod store;

use axum::Router;
use chrono_tz::Tz;
use satisfy_aggregator::AnalyticsQuery;
use satisfy_core::TenantId;
use std::sync::Arc;

pub use store::ConfigStore;

/// Console settings.
#[derive(Debug, Clone)]
pub struct ConsoleConfig {
    /// Base URL citizens' browsers reach ingest at, used in snippets (no trailing slash).
    pub public_url: String,
    /// Time zone of days, weeks and months in statistics.
    pub time_zone: Tz,
    /// Mark cookies `Secure` (serve the console over HTTPS when enabled).
    pub secure_cookies: bool,
    /// Bearer token ingest nodes present to read every entrypoint
    /// (`/api/v1/internal/entrypoints`); the route is off without one.
    pub internal_token: Option<String>,
}

/// What the console's handlers share.
#[derive(Clone)]
pub struct ConsoleState {
    /// Users, sessions, entrypoints.
    pub store: ConfigStore,
    /// Ratings analytics.
    pub analytics: Arc<dyn AnalyticsQuery>,
    /// Settings.
    pub config: Arc<ConsoleConfig>,
}

/// `/console/…` and `/api/v1/…`.
pub fn router(state: ConsoleState) -> Router {
    Router::new()
        .nest("/console", routes::pages::router())
        .nest("/api/v1", routes::api::router())
        .with_state(state)
}

/// Creates the `admin` user on first start. Returns the generated password when none was
/// given, so the caller can print it once.
pub async fn ensure_admin(
    store: &ConfigStore,
    tenant: &TenantId,
    password: Option<String>,
) -> Result<Option<String>, store::ConfigError> {
    if store.user_count().await? > 0 {
        return Ok(None);
    }
    let generated = password.is_none();
    let password = password.unwrap_or_else(|| auth::random_token()[..16].to_owned());
    let hash = {
        let password = password.clone();
        tokio::task::spawn_blocking(move || auth::hash_password(&password))
            .await
            .map_err(|e| store::ConfigError::from_message(e.to_string()))??
    };
    store
        .create_user(store::User {
            username: "admin".into(),
            tenant: tenant.clone(),
            password_hash: hash,
        })
        .await?;
    Ok(generated.then_some(password))
}
