//! Who may post platform events: an API token of a tenant with the scope `events:write`,
//! presented as `Authorization: Bearer sat_…`. Embedded mode checks it against the
//! console's store in-process; ingest nodes ask the console ([`ConsoleTokens`]).

use async_trait::async_trait;
use satisfy_core::log_throttle::{LogThrottle, WARN_EVERY};
use satisfy_core::{Scope, TenantId};
use secrecy::{ExposeSecret, SecretString};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

// While the console is down or refusing, every events request fails alike.
static CONSOLE_UNREACHABLE: LogThrottle = LogThrottle::new(
    WARN_EVERY,
    |error, occurrences| tracing::warn!(error = %error, occurrences, "cannot reach the console to check an event token"),
);
static CONSOLE_REFUSED: LogThrottle = LogThrottle::new(
    WARN_EVERY,
    |status, occurrences| tracing::warn!(status = %status, occurrences, "the console refused an event token check"),
);

/// Why a token may not post events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRefusal {
    /// No live token has this secret (401).
    Unknown,
    /// The token lacks the scope `events:write` (403).
    MissingScope,
    /// The check could not be made now (503).
    Unavailable,
}

/// Decides which tenant a bearer token posts events for.
#[async_trait]
pub trait EventTokens: Send + Sync {
    /// The tenant of a live token with `events:write`.
    async fn tenant_of(&self, secret: &str) -> Result<TenantId, TokenRefusal>;
}

/// The tenant of a token with these scopes, or why it may not post events.
pub fn events_tenant(tenant: TenantId, scopes: &[Scope]) -> Result<TenantId, TokenRefusal> {
    if scopes.contains(&Scope::EventsWrite) {
        Ok(tenant)
    } else {
        Err(TokenRefusal::MissingScope)
    }
}

/// How long an answer of the console is reused: a revoked token stops working within it.
const CACHE_FOR: Duration = Duration::from_secs(10);
/// Most tokens remembered; beyond, the cache starts over (a flood of invalid secrets
/// costs console calls, never memory).
const CACHE_ENTRIES: usize = 10_000;

/// The console's answer about a token, and when it was given.
type CachedAnswer = (Instant, Result<TenantId, TokenRefusal>);

/// Asks the console (`POST /api/v1/internal/token`, with the internal token) and
/// remembers each answer for [`CACHE_FOR`].
pub struct ConsoleTokens {
    client: reqwest::Client,
    url: String,
    internal_token: SecretString,
    cache: Mutex<HashMap<String, CachedAnswer>>,
}

impl ConsoleTokens {
    /// Checks tokens against the console at `console_url`.
    pub fn new(console_url: &str, internal_token: SecretString) -> ConsoleTokens {
        ConsoleTokens {
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap_or_default(),
            url: format!(
                "{}/api/v1/internal/token",
                console_url.trim_end_matches('/')
            ),
            internal_token,
            cache: Mutex::new(HashMap::new()),
        }
    }

    fn cached(&self, secret: &str) -> Option<Result<TenantId, TokenRefusal>> {
        let cache = self.cache.lock().ok()?;
        let (at, answer) = cache.get(secret)?;
        (at.elapsed() < CACHE_FOR).then(|| answer.clone())
    }

    fn remember(&self, secret: &str, answer: &Result<TenantId, TokenRefusal>) {
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= CACHE_ENTRIES {
                cache.clear();
            }
            cache.insert(secret.to_owned(), (Instant::now(), answer.clone()));
        }
    }

    async fn ask(&self, secret: &str) -> Result<TenantId, TokenRefusal> {
        #[derive(serde::Deserialize)]
        struct Answer {
            tenant: String,
            scopes: Vec<String>,
        }
        let response = self
            .client
            .post(&self.url)
            .bearer_auth(self.internal_token.expose_secret())
            .json(&serde_json::json!({ "token": secret }))
            .send()
            .await
            .map_err(|error| {
                CONSOLE_UNREACHABLE.warn_kind(&error.to_string());
                TokenRefusal::Unavailable
            })?;
        match response.status() {
            reqwest::StatusCode::NOT_FOUND => return Err(TokenRefusal::Unknown),
            status if !status.is_success() => {
                CONSOLE_REFUSED.warn_kind(status.as_str());
                return Err(TokenRefusal::Unavailable);
            }
            _ => {}
        }
        let answer: Answer = response
            .json()
            .await
            .map_err(|_| TokenRefusal::Unavailable)?;
        let tenant = TenantId::parse(&answer.tenant).ok_or(TokenRefusal::Unavailable)?;
        let scopes: Vec<Scope> = answer
            .scopes
            .iter()
            .filter_map(|s| Scope::parse(s))
            .collect();
        events_tenant(tenant, &scopes)
    }
}

#[async_trait]
impl EventTokens for ConsoleTokens {
    async fn tenant_of(&self, secret: &str) -> Result<TenantId, TokenRefusal> {
        if let Some(answer) = self.cached(secret) {
            return answer;
        }
        let answer = self.ask(secret).await;
        // A failed check is not remembered: the next request asks again.
        if answer != Err(TokenRefusal::Unavailable) {
            self.remember(secret, &answer);
        }
        answer
    }
}
