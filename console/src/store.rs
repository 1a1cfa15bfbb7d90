//! The console's own configuration store: users, sessions and entrypoints, in SQLite.

use rusqlite::{Connection, OptionalExtension, params};
use satisfy_aggregator::sqlite::{migrate, open_connection};
use satisfy_core::{
    CustomSurvey, Entrypoint, EntrypointId, EntrypointKind, EntrypointStatus, Origin, TenantId,
};
use std::path::Path;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

const MIGRATIONS: &[&str] = &[r#"
    CREATE TABLE users (
        username      TEXT PRIMARY KEY,
        password_hash TEXT NOT NULL,
        tenant        TEXT NOT NULL,
        created_at    INTEGER NOT NULL
    );
    CREATE TABLE sessions (
        token_hash  TEXT PRIMARY KEY,
        username    TEXT NOT NULL REFERENCES users (username) ON DELETE CASCADE,
        csrf_token  TEXT NOT NULL,
        expires_at  INTEGER NOT NULL
    );
    CREATE TABLE entrypoints (
        id              TEXT PRIMARY KEY,
        tenant          TEXT NOT NULL,
        name            TEXT NOT NULL,
        kind            TEXT NOT NULL,
        status          TEXT NOT NULL,
        allowed_origins TEXT NOT NULL,
        custom          TEXT,
        created_at      INTEGER NOT NULL
    );
    CREATE INDEX entrypoints_tenant ON entrypoints (tenant, created_at);
    CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"#];

/// A storage failure of the configuration database.
#[derive(Debug, thiserror::Error)]
#[error("configuration store: {0}")]
pub struct ConfigError(String);

impl ConfigError {
    /// An error with a message.
    pub fn from_message(message: String) -> ConfigError {
        ConfigError(message)
    }
}

impl From<rusqlite::Error> for ConfigError {
    fn from(error: rusqlite::Error) -> Self {
        ConfigError(error.to_string())
    }
}

/// A console user.
#[derive(Debug, Clone)]
pub struct User {
    /// Login name.
    pub username: String,
    /// The tenant whose data the user manages.
    pub tenant: TenantId,
    /// Argon2id PHC string.
    pub password_hash: String,
}

/// A live session.
#[derive(Debug, Clone)]
pub struct Session {
    /// The logged-in user.
    pub user: User,
    /// Token every form of this session must echo.
    pub csrf_token: String,
}

/// The editable fields of an entrypoint; `None` keeps the current value.
#[derive(Debug, Clone, Default)]
pub struct EntrypointChanges {
    /// New name.
    pub name: Option<String>,
    /// New status.
    pub status: Option<EntrypointStatus>,
    /// New list of allowed origins.
    pub allowed_origins: Option<Vec<Origin>>,
    /// New wording (custom entrypoints only).
    pub custom: Option<CustomSurvey>,
}

/// SQLite-backed configuration. Every change bumps a version that subscribers (such as
/// the ingest directory) watch to reload.
#[derive(Clone)]
pub struct ConfigStore {
    conn: Arc<Mutex<Connection>>,
    version: Arc<watch::Sender<u64>>,
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn entrypoint_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Entrypoint> {
    let invalid = |column: usize, what: &str| {
        rusqlite::Error::FromSqlConversionFailure(
            column,
            rusqlite::types::Type::Text,
            format!("invalid {what} in entrypoints table").into(),
        )
    };
    let id: String = row.get(0)?;
    let tenant: String = row.get(1)?;
    let kind: String = row.get(3)?;
    let status: String = row.get(4)?;
    let origins: String = row.get(5)?;
    let custom: Option<String> = row.get(6)?;
    Ok(Entrypoint {
        id: EntrypointId::parse(&id).ok_or_else(|| invalid(0, "id"))?,
        tenant: TenantId::parse(&tenant).ok_or_else(|| invalid(1, "tenant"))?,
        name: row.get(2)?,
        kind: EntrypointKind::parse(&kind).ok_or_else(|| invalid(3, "kind"))?,
        status: EntrypointStatus::parse(&status).ok_or_else(|| invalid(4, "status"))?,
        allowed_origins: serde_json::from_str(&origins).map_err(|_| invalid(5, "origins"))?,
        custom: custom
            .map(|c| serde_json::from_str(&c))
            .transpose()
            .map_err(|_| invalid(6, "custom survey"))?,
        created_at: row.get(7)?,
    })
}

const ENTRYPOINT_COLUMNS: &str =
    "id, tenant, name, kind, status, allowed_origins, custom, created_at";

impl ConfigStore {
    /// Opens (creating if needed) the configuration database and migrates it.
    pub fn open(path: &Path) -> Result<ConfigStore, ConfigError> {
        let mut conn = open_connection(path)?;
        migrate(&mut conn, MIGRATIONS)?;
        Ok(ConfigStore {
            conn: Arc::new(Mutex::new(conn)),
            version: Arc::new(watch::channel(0).0),
        })
    }

    /// A receiver that changes whenever an entrypoint is created or updated.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.version.subscribe()
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection) -> Result<T, ConfigError> + Send + 'static,
    ) -> Result<T, ConfigError> {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            let mut conn = conn
                .lock()
                .map_err(|_| ConfigError("connection lock poisoned".into()))?;
            work(&mut conn)
        })
        .await
        .map_err(|error| ConfigError(error.to_string()))?
    }

    fn changed(&self) {
        self.version.send_modify(|v| *v += 1);
    }

    /// Number of users.
    pub async fn user_count(&self) -> Result<u64, ConfigError> {
        self.run(|c| Ok(c.query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))?))
            .await
    }

    /// Creates a user with an already hashed password.
    pub async fn create_user(&self, user: User) -> Result<(), ConfigError> {
        self.run(move |c| {
            c.execute(
                "INSERT INTO users (username, password_hash, tenant, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![user.username, user.password_hash, user.tenant.as_str(), now()],
            )?;
            Ok(())
        })
        .await
    }

    /// The user called `username`.
    pub async fn find_user(&self, username: &str) -> Result<Option<User>, ConfigError> {
        let username = username.to_owned();
        self.run(move |c| {
            let row = c
                .query_row(
                    "SELECT username, password_hash, tenant FROM users WHERE username = ?1",
                    [&username],
                    |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, String>(2)?,
                        ))
                    },
                )
                .optional()?;
            Ok(row.and_then(|(username, password_hash, tenant)| {
                Some(User {
                    username,
                    password_hash,
                    tenant: TenantId::parse(&tenant)?,
                })
            }))
        })
        .await
    }

    /// Stores a session by the hash of its token.
    pub async fn create_session(
        &self,
        token_hash: String,
        username: String,
        csrf_token: String,
        expires_at: i64,
    ) -> Result<(), ConfigError> {
        self.run(move |c| {
            c.execute("DELETE FROM sessions WHERE expires_at < ?1", [now()])?;
            c.execute(
                "INSERT INTO sessions (token_hash, username, csrf_token, expires_at) VALUES (?1, ?2, ?3, ?4)",
                params![token_hash, username, csrf_token, expires_at],
            )?;
            Ok(())
        })
        .await
    }

    /// The unexpired session with this token hash.
    pub async fn find_session(&self, token_hash: String) -> Result<Option<Session>, ConfigError> {
        self.run(move |c| {
            let row = c
                .query_row(
                    "SELECT u.username, u.password_hash, u.tenant, s.csrf_token FROM sessions s
                     JOIN users u ON u.username = s.username
                     WHERE s.token_hash = ?1 AND s.expires_at > ?2",
                    params![token_hash, now()],
                    |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, String>(2)?,
                            r.get::<_, String>(3)?,
                        ))
                    },
                )
                .optional()?;
            Ok(
                row.and_then(|(username, password_hash, tenant, csrf_token)| {
                    Some(Session {
                        user: User {
                            username,
                            password_hash,
                            tenant: TenantId::parse(&tenant)?,
                        },
                        csrf_token,
                    })
                }),
            )
        })
        .await
    }

    /// Ends a session.
    pub async fn delete_session(&self, token_hash: String) -> Result<(), ConfigError> {
        self.run(move |c| {
            c.execute("DELETE FROM sessions WHERE token_hash = ?1", [token_hash])?;
            Ok(())
        })
        .await
    }

    /// Creates an entrypoint with a fresh random id.
    pub async fn create_entrypoint(
        &self,
        tenant: TenantId,
        name: String,
        kind: EntrypointKind,
        allowed_origins: Vec<Origin>,
        custom: Option<CustomSurvey>,
    ) -> Result<Entrypoint, ConfigError> {
        let entrypoint = Entrypoint {
            id: EntrypointId::from_random(rand::random()),
            tenant,
            name,
            kind,
            status: EntrypointStatus::Active,
            allowed_origins,
            custom,
            created_at: now(),
        };
        let row = entrypoint.clone();
        self.run(move |c| {
            c.execute(
                &format!("INSERT INTO entrypoints ({ENTRYPOINT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
                params![
                    row.id.as_str(),
                    row.tenant.as_str(),
                    row.name,
                    row.kind.code(),
                    row.status.code(),
                    serde_json::to_string(&row.allowed_origins).map_err(|e| ConfigError(e.to_string()))?,
                    row.custom.as_ref().map(serde_json::to_string).transpose().map_err(|e| ConfigError(e.to_string()))?,
                    row.created_at
                ],
            )?;
            Ok(())
        })
        .await?;
        self.changed();
        Ok(entrypoint)
    }

    /// The entrypoint with this id, whatever its tenant.
    pub async fn entrypoint(&self, id: &EntrypointId) -> Result<Option<Entrypoint>, ConfigError> {
        let id = id.as_str().to_owned();
        self.run(move |c| {
            Ok(c.query_row(
                &format!("SELECT {ENTRYPOINT_COLUMNS} FROM entrypoints WHERE id = ?1"),
                [id],
                entrypoint_from_row,
            )
            .optional()?)
        })
        .await
    }

    /// A tenant's entrypoints, newest first; all tenants' with `None`.
    pub async fn entrypoints(
        &self,
        tenant: Option<&TenantId>,
    ) -> Result<Vec<Entrypoint>, ConfigError> {
        let tenant = tenant.map(|t| t.as_str().to_owned());
        self.run(move |c| {
            let mut statement = c.prepare(&format!(
                "SELECT {ENTRYPOINT_COLUMNS} FROM entrypoints
                 WHERE ?1 IS NULL OR tenant = ?1 ORDER BY created_at DESC, id"
            ))?;
            let rows = statement.query_map([tenant], entrypoint_from_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    /// Applies `changes` to an entrypoint and returns it as stored.
    pub async fn update_entrypoint(
        &self,
        id: &EntrypointId,
        changes: EntrypointChanges,
    ) -> Result<Option<Entrypoint>, ConfigError> {
        let Some(mut entrypoint) = self.entrypoint(id).await? else {
            return Ok(None);
        };
        if let Some(name) = changes.name {
            entrypoint.name = name;
        }
        if let Some(status) = changes.status {
            entrypoint.status = status;
        }
        if let Some(origins) = changes.allowed_origins {
            entrypoint.allowed_origins = origins;
        }
        if changes.custom.is_some() {
            entrypoint.custom = changes.custom;
        }
        let row = entrypoint.clone();
        self.run(move |c| {
            c.execute(
                "UPDATE entrypoints SET name = ?2, status = ?3, allowed_origins = ?4, custom = ?5 WHERE id = ?1",
                params![
                    row.id.as_str(),
                    row.name,
                    row.status.code(),
                    serde_json::to_string(&row.allowed_origins).map_err(|e| ConfigError(e.to_string()))?,
                    row.custom.as_ref().map(serde_json::to_string).transpose().map_err(|e| ConfigError(e.to_string()))?
                ],
            )?;
            Ok(())
        })
        .await?;
        self.changed();
        Ok(Some(entrypoint))
    }

    /// A stored setting.
    pub async fn setting(&self, key: &str) -> Result<Option<String>, ConfigError> {
        let key = key.to_owned();
        self.run(move |c| {
            Ok(
                c.query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                    r.get(0)
                })
                .optional()?,
            )
        })
        .await
    }

    /// Stores a setting.
    pub async fn set_setting(&self, key: &str, value: &str) -> Result<(), ConfigError> {
        let (key, value) = (key.to_owned(), value.to_owned());
        self.run(move |c| {
            c.execute(
                "INSERT INTO settings (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [key, value],
            )?;
            Ok(())
        })
        .await
    }
}
