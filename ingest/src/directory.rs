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
    /// Replaces the snapshot with `entrypoints`. An entrypoint that did not change keeps
    /// its shared copy, so that what was made from it (the shared loader of its site, see
    /// the widget's routes) is known to still hold by the copy's identity.
    pub fn replace_all(&self, entrypoints: Vec<Entrypoint>) {
        let previous = self.load();
        let mut snapshot = Snapshot::default();
        for entrypoint in entrypoints {
            let entrypoint = match previous.by_id.get(&entrypoint.id) {
                Some(unchanged) if **unchanged == entrypoint => Arc::clone(unchanged),
                _ => Arc::new(entrypoint),
            };
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use satisfy_core::{EntrypointKind, EntrypointStatus, TenantId};

    /// The one site of these tests' entrypoints.
    pub(crate) const SITE: &str = "https://www.comune.bugliano.pi.it";

    /// An active entrypoint of `kind` on [`SITE`], its id made of `seed`.
    pub(crate) fn entrypoint_of(seed: u8, name: &str, kind: EntrypointKind) -> Entrypoint {
        Entrypoint {
            id: EntrypointId::from_random([seed; 12]),
            tenant: TenantId::parse("bugliano").unwrap(),
            name: name.to_owned(),
            kind,
            status: EntrypointStatus::Active,
            allowed_origins: vec![Origin::parse(SITE).unwrap()],
            custom: None,
            service: None,
            created_at: 0,
        }
    }

    fn entrypoint(seed: u8, name: &str) -> Entrypoint {
        entrypoint_of(seed, name, EntrypointKind::PaginaWeb)
    }

    #[test]
    fn a_reload_keeps_the_copies_of_unchanged_entrypoints_only() {
        let directory = EntrypointSnapshot::default();
        directory.replace_all(vec![entrypoint(1, "pagine"), entrypoint(2, "servizi")]);
        let site = Origin::parse(SITE).unwrap();
        let before = directory.active_for_origin(&site);
        directory.replace_all(vec![
            entrypoint(1, "pagine"),
            entrypoint(2, "servizi online"),
        ]);
        let after = directory.active_for_origin(&site);
        assert_eq!(after.len(), 2);
        assert!(
            Arc::ptr_eq(&before[0], &after[0]),
            "unchanged: the same copy"
        );
        assert!(!Arc::ptr_eq(&before[1], &after[1]), "renamed: a new copy");
        assert_eq!(after[1].name, "servizi online");
    }
}
