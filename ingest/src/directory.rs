//! Entrypoint look-ups on the request path, answered from memory.

use satisfy_core::{Entrypoint, EntrypointId, Origin};
use secrecy::{ExposeSecret, SecretString};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Where ingest finds entrypoints. Implementations answer from memory: a rating must never
/// wait on the configuration database.
pub trait EntrypointDirectory: Send + Sync {
    /// The entrypoint with this id, paused ones included, shared with the snapshot (every
    /// rating looks one up).
    fn get(&self, id: &EntrypointId) -> Option<Arc<Entrypoint>>;

    /// Whether some active entrypoint accepts ratings from `origin` (for CORS preflights,
    /// which carry no body and so no entrypoint).
    fn knows_origin(&self, origin: &Origin) -> bool;

    /// The active entrypoints that accept ratings from `origin`, in id order.
    fn active_for_origin(&self, origin: &Origin) -> Vec<Arc<Entrypoint>>;

    /// Whether the entrypoints were loaded at least once (for `/readyz`).
    fn is_loaded(&self) -> bool;
}

#[derive(Default)]
struct Snapshot {
    by_id: HashMap<EntrypointId, Arc<Entrypoint>>,
    /// The active entrypoints of each origin, in id order.
    by_origin: HashMap<Origin, Vec<Arc<Entrypoint>>>,
}

/// An in-memory copy of every entrypoint, replaced whole whenever the configuration
/// changes; readers never block on a writer for longer than a pointer swap.
#[derive(Default, Clone)]
pub struct EntrypointSnapshot {
    current: Arc<RwLock<Arc<Snapshot>>>,
    loaded: Arc<AtomicBool>,
}

impl EntrypointSnapshot {
    /// Replaces the snapshot with `entrypoints`.
    pub fn replace_all(&self, entrypoints: Vec<Entrypoint>) {
        let mut snapshot = Snapshot::default();
        for entrypoint in entrypoints {
            let entrypoint = Arc::new(entrypoint);
            if entrypoint.is_active() {
                for origin in &entrypoint.allowed_origins {
                    snapshot
                        .by_origin
                        .entry(origin.clone())
                        .or_default()
                        .push(Arc::clone(&entrypoint));
                }
            }
            snapshot.by_id.insert(entrypoint.id.clone(), entrypoint);
        }
        for entrypoints in snapshot.by_origin.values_mut() {
            entrypoints.sort_by(|a, b| a.id.cmp(&b.id));
            entrypoints.dedup_by(|a, b| a.id == b.id);
        }
        let snapshot = Arc::new(snapshot);
        match self.current.write() {
            Ok(mut current) => *current = snapshot,
            Err(poisoned) => *poisoned.into_inner() = snapshot,
        }
        self.loaded.store(true, Ordering::Relaxed);
    }

    /// Keeps the snapshot in step with the console's `/api/v1/internal/entrypoints`,
    /// polled every `interval` with `If-None-Match`, so a new entrypoint reaches every
    /// ingest node within one interval and an unchanged one costs a 304. On errors the
    /// previous entrypoints stay in force.
    pub fn follow_console(&self, console_url: String, token: SecretString, interval: Duration) {
        let snapshot = self.clone();
        tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap_or_default();
            let url = format!(
                "{}/api/v1/internal/entrypoints",
                console_url.trim_end_matches('/')
            );
            let mut etag: Option<String> = None;
            loop {
                let mut request = client.get(&url).bearer_auth(token.expose_secret());
                if let Some(etag) = &etag {
                    request = request.header(reqwest::header::IF_NONE_MATCH, etag);
                }
                match request.send().await {
                    Ok(response) if response.status() == reqwest::StatusCode::NOT_MODIFIED => {}
                    Ok(response) if response.status().is_success() => {
                        let new_etag = response
                            .headers()
                            .get(reqwest::header::ETAG)
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_owned);
                        match response.json::<Vec<Entrypoint>>().await {
                            Ok(entrypoints) => {
                                tracing::debug!(
                                    count = entrypoints.len(),
                                    "entrypoints reloaded from the console"
                                );
                                snapshot.replace_all(entrypoints);
                                etag = new_etag;
                            }
                            Err(error) => {
                                tracing::warn!(%error, "unreadable entrypoints from the console")
                            }
                        }
                    }
                    Ok(response) => {
                        tracing::warn!(status = %response.status(), "the console refused the entrypoints request")
                    }
                    Err(error) => {
                        tracing::warn!(%error, "cannot reach the console for entrypoints")
                    }
                }
                tokio::time::sleep(interval).await;
            }
        });
    }

    fn load(&self) -> Arc<Snapshot> {
        match self.current.read() {
            Ok(current) => Arc::clone(&current),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }
}

impl EntrypointDirectory for EntrypointSnapshot {
    fn get(&self, id: &EntrypointId) -> Option<Arc<Entrypoint>> {
        self.load().by_id.get(id).cloned()
    }

    fn knows_origin(&self, origin: &Origin) -> bool {
        self.load().by_origin.contains_key(origin)
    }

    fn active_for_origin(&self, origin: &Origin) -> Vec<Arc<Entrypoint>> {
        self.load()
            .by_origin
            .get(origin)
            .cloned()
            .unwrap_or_default()
    }

    fn is_loaded(&self) -> bool {
        self.loaded.load(Ordering::Relaxed)
    }
}
