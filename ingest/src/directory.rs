//! Entrypoint look-ups on the request path, answered from memory.

use satisfy_core::{Entrypoint, EntrypointId, Origin};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};

/// Where ingest finds entrypoints. Implementations answer from memory: a rating must never
/// wait on the configuration database.
pub trait EntrypointDirectory: Send + Sync {
    /// The entrypoint with this id, paused ones included.
    fn get(&self, id: &EntrypointId) -> Option<Entrypoint>;

    /// Whether some active entrypoint accepts ratings from `origin` (for CORS preflights,
    /// which carry no body and so no entrypoint).
    fn knows_origin(&self, origin: &Origin) -> bool;
}

#[derive(Default)]
struct Snapshot {
    by_id: HashMap<EntrypointId, Entrypoint>,
    origins: HashSet<Origin>,
    any_origin: bool,
}

/// An in-memory copy of every entrypoint, replaced whole whenever the configuration
/// changes; readers never block on a writer for longer than a pointer swap.
#[derive(Default, Clone)]
pub struct EntrypointSnapshot {
    current: Arc<RwLock<Arc<Snapshot>>>,
}

impl EntrypointSnapshot {
    /// Replaces the snapshot with `entrypoints`.
    pub fn replace_all(&self, entrypoints: Vec<Entrypoint>) {
        let mut snapshot = Snapshot::default();
        for entrypoint in entrypoints {
            if entrypoint.is_active() {
                snapshot.any_origin |= entrypoint.allowed_origins.is_empty();
                snapshot
                    .origins
                    .extend(entrypoint.allowed_origins.iter().cloned());
            }
            snapshot.by_id.insert(entrypoint.id.clone(), entrypoint);
        }
        let snapshot = Arc::new(snapshot);
        match self.current.write() {
            Ok(mut current) => *current = snapshot,
            Err(poisoned) => *poisoned.into_inner() = snapshot,
        }
    }

    fn load(&self) -> Arc<Snapshot> {
        match self.current.read() {
            Ok(current) => Arc::clone(&current),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }
}

impl EntrypointDirectory for EntrypointSnapshot {
    fn get(&self, id: &EntrypointId) -> Option<Entrypoint> {
        self.load().by_id.get(id).cloned()
    }

    fn knows_origin(&self, origin: &Origin) -> bool {
        let snapshot = self.load();
        snapshot.any_origin || snapshot.origins.contains(origin)
    }
}
