//! The console's own configuration store: tenants, users, sessions, API tokens and
//! entrypoints, in SQLite.

use crate::roles::Role;
use rusqlite::{Connection, OptionalExtension, params};
use satisfy_aggregator::sqlite::{migrate, open_connection};
use satisfy_core::{
    CustomSurvey, Entrypoint, EntrypointId, EntrypointKind, EntrypointStatus, Origin, Scope,
    TenantId,
};
use std::path::Path;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

const MIGRATIONS: &[&str] = &[
    r#"
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
"#,
    r#"
    CREATE TABLE tenants (
        slug        TEXT PRIMARY KEY,
        name        TEXT NOT NULL,
        ipa_code    TEXT,
        site_url    TEXT,
        time_zone   TEXT NOT NULL,
        languages   TEXT NOT NULL,
        status      TEXT NOT NULL,
        created_at  INTEGER NOT NULL
    );
    -- The tenants that users and entrypoints already named.
    INSERT INTO tenants (slug, name, time_zone, languages, status, created_at)
        SELECT tenant, tenant, 'Europe/Rome', 'it,en,de', 'active', MIN(created_at)
        FROM (SELECT tenant, created_at FROM users UNION ALL SELECT tenant, created_at FROM entrypoints)
        GROUP BY tenant;
    CREATE TABLE api_tokens (
        id           TEXT PRIMARY KEY,
        tenant       TEXT NOT NULL REFERENCES tenants (slug),
        name         TEXT NOT NULL,
        token_hash   TEXT NOT NULL UNIQUE,
        scopes       TEXT NOT NULL,
        created_at   INTEGER NOT NULL,
        expires_at   INTEGER,
        last_used_at INTEGER,
        revoked_at   INTEGER
    );
    CREATE INDEX api_tokens_tenant ON api_tokens (tenant, created_at);
"#,
    r#"
    CREATE TABLE memberships (
        username TEXT NOT NULL REFERENCES users (username) ON DELETE CASCADE,
        tenant   TEXT NOT NULL REFERENCES tenants (slug),
        role     TEXT NOT NULL,
        PRIMARY KEY (username, tenant)
    );
    ALTER TABLE users ADD COLUMN platform_admin INTEGER NOT NULL DEFAULT 0;
    -- Before roles, every user was the administrator of everything.
    INSERT INTO memberships (username, tenant, role) SELECT username, tenant, 'admin' FROM users;
    UPDATE users SET platform_admin = 1;
    CREATE TABLE invitations (
        token_hash TEXT PRIMARY KEY,
        username   TEXT NOT NULL REFERENCES users (username) ON DELETE CASCADE,
        expires_at INTEGER NOT NULL,
        used_at    INTEGER
    );
"#,
    r#"
    CREATE TABLE audit_log (
        id     INTEGER PRIMARY KEY AUTOINCREMENT,
        at_ms  INTEGER NOT NULL,
        tenant TEXT,
        actor  TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT
    );
    CREATE INDEX audit_log_tenant ON audit_log (tenant, id);
    CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
        BEGIN SELECT RAISE (ABORT, 'the audit log is append-only'); END;
    CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
        BEGIN SELECT RAISE (ABORT, 'the audit log is append-only'); END;
"#,
    r#"
    -- The tenant a session works in, when the user switched from their own.
    ALTER TABLE sessions ADD COLUMN tenant TEXT;
"#,
];

/// One line of the audit log: who did what, when, in which tenant. Client addresses are
/// not recorded (no raw IP is ever stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// Unix milliseconds.
    pub at_ms: i64,
    /// The tenant concerned; `None` for platform-wide actions.
    pub tenant: Option<TenantId>,
    /// Who: a username, `token:<id>`, or `cli` for `satisfy admin`.
    pub actor: String,
    /// What: `sign_in`, `sign_in_failed`, `entrypoint_created`, `token_revoked`, …
    pub action: String,
    /// On what: an entrypoint id, a token id, a username.
    pub target: Option<String>,
}

impl AuditEntry {
    /// An entry stamped now.
    pub fn now(
        tenant: Option<&TenantId>,
        actor: &str,
        action: &str,
        target: Option<&str>,
    ) -> AuditEntry {
        AuditEntry {
            at_ms: chrono::Utc::now().timestamp_millis(),
            tenant: tenant.cloned(),
            actor: actor.to_owned(),
            action: action.to_owned(),
            target: target.map(str::to_owned),
        }
    }
}

/// Users with their role in their tenant (platform admins are admins everywhere).
const USER_SELECT: &str = "SELECT u.username, u.password_hash, u.tenant, u.platform_admin, m.role
     FROM users u
     JOIN tenants t ON t.slug = u.tenant AND t.status = 'active'
     LEFT JOIN memberships m ON m.username = u.username AND m.tenant = u.tenant";

/// The user called `username`, as [`USER_SELECT`] finds them.
fn user_named(c: &Connection, username: &str) -> Result<Option<User>, ConfigError> {
    Ok(c.query_row(
        &format!("{USER_SELECT} WHERE u.username = ?1"),
        [username],
        user_from_row,
    )
    .optional()?
    .flatten())
}

/// `username` with their role in `tenant` (platform admins: admin everywhere), if they
/// have one there and the tenant is active.
fn user_in(c: &Connection, username: &str, tenant: &str) -> Result<Option<User>, ConfigError> {
    Ok(c.query_row(
        "SELECT u.username, u.password_hash, t.slug, u.platform_admin, m.role
         FROM users u
         JOIN tenants t ON t.slug = ?2 AND t.status = 'active'
         LEFT JOIN memberships m ON m.username = u.username AND m.tenant = t.slug
         WHERE u.username = ?1",
        [username, tenant],
        user_from_row,
    )
    .optional()?
    .flatten())
}

/// A user row, or `None` for a user without a role in their tenant.
fn user_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Option<User>> {
    let tenant: String = row.get(2)?;
    let platform_admin: bool = row.get(3)?;
    let role: Option<String> = row.get(4)?;
    let role = if platform_admin {
        Some(Role::Admin)
    } else {
        role.as_deref().and_then(Role::parse)
    };
    let Some(role) = role else {
        return Ok(None);
    };
    Ok(Some(User {
        username: row.get(0)?,
        password_hash: row.get(1)?,
        tenant: TenantId::parse(&tenant).ok_or_else(|| invalid_column(2, "users", "tenant"))?,
        role,
        platform_admin,
    }))
}

/// Whether a tenant may use Satisfy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TenantStatus {
    /// In use.
    Active,
    /// Its entrypoints and users are refused; its data is kept.
    Suspended,
}

impl TenantStatus {
    fn code(self) -> &'static str {
        match self {
            TenantStatus::Active => "active",
            TenantStatus::Suspended => "suspended",
        }
    }
}

/// An ente using Satisfy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    /// Stable identifier, also in every entrypoint and user.
    pub slug: TenantId,
    /// Display name ("Comune di Bugliano").
    pub name: String,
    /// Codice IPA, if known.
    pub ipa_code: Option<String>,
    /// Home page of the ente's site.
    pub site_url: Option<String>,
    /// IANA zone of its days, weeks and months.
    pub time_zone: String,
    /// Languages of its site (`it`, `en`, `de`).
    pub languages: Vec<String>,
    /// Active or suspended.
    pub status: TenantStatus,
    /// Unix seconds.
    pub created_at: i64,
}

/// An API token as stored: its secret is kept only as a hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    /// Public identifier, the token's visible prefix.
    pub id: String,
    /// The tenant it acts for.
    pub tenant: TenantId,
    /// What it is for ("Sito WordPress", "OpenCity").
    pub name: String,
    /// What it may do.
    pub scopes: Vec<Scope>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds after which it is refused, if any.
    pub expires_at: Option<i64>,
    /// Unix seconds of its last accepted use.
    pub last_used_at: Option<i64>,
    /// Unix seconds of its revocation.
    pub revoked_at: Option<i64>,
}

const TOKEN_COLUMNS: &str =
    "id, tenant, name, scopes, created_at, expires_at, last_used_at, revoked_at";

fn token_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<ApiToken> {
    let invalid = |column: usize, what: &str| invalid_column(column, "api_tokens", what);
    let tenant: String = row.get(1)?;
    let scopes: String = row.get(3)?;
    Ok(ApiToken {
        id: row.get(0)?,
        tenant: TenantId::parse(&tenant).ok_or_else(|| invalid(1, "tenant"))?,
        name: row.get(2)?,
        scopes: Scope::parse_list(&scopes).ok_or_else(|| invalid(3, "scopes"))?,
        created_at: row.get(4)?,
        expires_at: row.get(5)?,
        last_used_at: row.get(6)?,
        revoked_at: row.get(7)?,
    })
}

const TENANT_COLUMNS: &str =
    "slug, name, ipa_code, site_url, time_zone, languages, status, created_at";

fn tenant_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Tenant> {
    let invalid = |column: usize, what: &str| invalid_column(column, "tenants", what);
    let slug: String = row.get(0)?;
    let languages: String = row.get(5)?;
    let status: String = row.get(6)?;
    Ok(Tenant {
        slug: TenantId::parse(&slug).ok_or_else(|| invalid(0, "slug"))?,
        name: row.get(1)?,
        ipa_code: row.get(2)?,
        site_url: row.get(3)?,
        time_zone: row.get(4)?,
        languages: languages.split(',').map(str::to_owned).collect(),
        status: match status.as_str() {
            "active" => TenantStatus::Active,
            "suspended" => TenantStatus::Suspended,
            _ => return Err(invalid(6, "status")),
        },
        created_at: row.get(7)?,
    })
}

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
    /// Argon2id PHC string; empty until the user sets a password through an invitation.
    pub password_hash: String,
    /// The user's role in the tenant.
    pub role: Role,
    /// Manages every tenant and the platform's administrators.
    pub platform_admin: bool,
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

/// `columns` ("a, b, c") qualified by a table alias ("t.a, t.b, t.c"), for joins.
fn qualified(columns: &str, alias: &str) -> String {
    columns
        .split(", ")
        .map(|column| format!("{alias}.{column}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Refuses to attach anything to a tenant that does not exist.
fn require_tenant(c: &Connection, tenant: &TenantId) -> Result<(), ConfigError> {
    let known: bool = c.query_row(
        "SELECT EXISTS (SELECT 1 FROM tenants WHERE slug = ?1)",
        [tenant.as_str()],
        |r| r.get(0),
    )?;
    if known {
        Ok(())
    } else {
        Err(ConfigError(format!("no tenant called `{tenant}`")))
    }
}

/// The error of a stored value that does not parse (a database edited by hand).
fn invalid_column(column: usize, table: &str, what: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        column,
        rusqlite::types::Type::Text,
        format!("invalid {what} in {table} table").into(),
    )
}

fn entrypoint_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Entrypoint> {
    let invalid = |column: usize, what: &str| invalid_column(column, "entrypoints", what);
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

    /// Creates a user with an already hashed password (empty until an invitation sets
    /// it) and their role in their tenant.
    pub async fn create_user(&self, user: User) -> Result<(), ConfigError> {
        self.run(move |c| {
            let tx = c.transaction()?;
            require_tenant(&tx, &user.tenant)?;
            let inserted = tx.execute(
                "INSERT INTO users (username, password_hash, tenant, created_at, platform_admin)
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (username) DO NOTHING",
                params![
                    user.username,
                    user.password_hash,
                    user.tenant.as_str(),
                    now(),
                    user.platform_admin
                ],
            )?;
            if inserted == 0 {
                return Err(ConfigError(format!(
                    "a user called `{}` already exists",
                    user.username
                )));
            }
            tx.execute(
                "INSERT INTO memberships (username, tenant, role) VALUES (?1, ?2, ?3)",
                params![user.username, user.tenant.as_str(), user.role.as_str()],
            )?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    /// The user called `username`, unless their tenant is suspended or they hold no role
    /// in it.
    pub async fn find_user(&self, username: &str) -> Result<Option<User>, ConfigError> {
        let username = username.to_owned();
        self.run(move |c| user_named(c, &username)).await
    }

    /// A tenant's users with their role there, by username; `true` beside those who have
    /// set a password.
    pub async fn users(&self, tenant: &TenantId) -> Result<Vec<(String, Role, bool)>, ConfigError> {
        let tenant = tenant.as_str().to_owned();
        self.run(move |c| {
            let mut statement = c.prepare(
                "SELECT u.username, m.role, u.password_hash != '' FROM memberships m
                 JOIN users u ON u.username = m.username
                 WHERE m.tenant = ?1 ORDER BY u.username",
            )?;
            let rows = statement.query_map([tenant], |r| {
                let role: String = r.get(1)?;
                Ok((
                    r.get(0)?,
                    Role::parse(&role).ok_or_else(|| invalid_column(1, "memberships", "role"))?,
                    r.get(2)?,
                ))
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
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

    /// The unexpired session with this token hash, of a user [`find_user`](Self::find_user)
    /// would find.
    pub async fn find_session(&self, token_hash: String) -> Result<Option<Session>, ConfigError> {
        self.run(move |c| {
            let row = c
                .query_row(
                    "SELECT s.csrf_token, u.username, s.tenant FROM sessions s JOIN users u ON u.username = s.username
                     WHERE s.token_hash = ?1 AND s.expires_at > ?2",
                    params![token_hash, now()],
                    |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, Option<String>>(2)?,
                        ))
                    },
                )
                .optional()?;
            let Some((csrf_token, username, tenant)) = row else {
                return Ok(None);
            };
            // Signed in at all (home tenant active, a role there), then in the tenant the
            // session switched to, if the user still holds a role there.
            let Some(home) = user_named(c, &username)? else {
                return Ok(None);
            };
            let user = match tenant {
                Some(tenant) => user_in(c, &username, &tenant)?.unwrap_or(home),
                None => home,
            };
            Ok(Some(Session { user, csrf_token }))
        })
        .await
    }

    /// The active tenants `username` may work in, by name: every one for a platform
    /// administrator.
    pub async fn tenants_of(&self, username: &str) -> Result<Vec<Tenant>, ConfigError> {
        let username = username.to_owned();
        self.run(move |c| {
            let columns = qualified(TENANT_COLUMNS, "t");
            let mut statement = c.prepare(&format!(
                "SELECT {columns} FROM tenants t JOIN users u ON u.username = ?1
                 WHERE t.status = 'active' AND (u.platform_admin = 1 OR EXISTS (
                     SELECT 1 FROM memberships m WHERE m.username = u.username AND m.tenant = t.slug))
                 ORDER BY t.name, t.slug"
            ))?;
            let rows = statement.query_map([username], tenant_from_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    /// Whether an account called `username` exists, in any tenant.
    pub async fn username_taken(&self, username: &str) -> Result<bool, ConfigError> {
        let username = username.to_owned();
        self.run(move |c| {
            Ok(c.query_row(
                "SELECT EXISTS (SELECT 1 FROM users WHERE username = ?1)",
                [username],
                |r| r.get(0),
            )?)
        })
        .await
    }

    /// Gives `username` a role in `tenant` (or changes it).
    pub async fn grant(
        &self,
        username: &str,
        tenant: &TenantId,
        role: Role,
    ) -> Result<(), ConfigError> {
        let (username, tenant) = (username.to_owned(), tenant.as_str().to_owned());
        self.run(move |c| {
            let known: bool = c.query_row(
                "SELECT EXISTS (SELECT 1 FROM users WHERE username = ?1)
                    AND EXISTS (SELECT 1 FROM tenants WHERE slug = ?2)",
                [&username, &tenant],
                |r| r.get(0),
            )?;
            if !known {
                return Err(ConfigError(format!(
                    "no user `{username}` or no tenant `{tenant}`"
                )));
            }
            c.execute(
                "INSERT INTO memberships (username, tenant, role) VALUES (?1, ?2, ?3)
                 ON CONFLICT (username, tenant) DO UPDATE SET role = excluded.role",
                params![username, tenant, role.as_str()],
            )?;
            Ok(())
        })
        .await
    }

    /// Makes a session work in `tenant` from now on.
    pub async fn switch_session(
        &self,
        token_hash: String,
        tenant: &TenantId,
    ) -> Result<(), ConfigError> {
        let tenant = tenant.as_str().to_owned();
        self.run(move |c| {
            c.execute(
                "UPDATE sessions SET tenant = ?2 WHERE token_hash = ?1",
                params![token_hash, tenant],
            )?;
            Ok(())
        })
        .await
    }

    /// Stores a one-time invitation for `username` under the hash of its token.
    pub async fn create_invitation(
        &self,
        username: &str,
        token_hash: String,
        expires_at: i64,
    ) -> Result<(), ConfigError> {
        let username = username.to_owned();
        self.run(move |c| {
            c.execute(
                "INSERT INTO invitations (token_hash, username, expires_at) VALUES (?1, ?2, ?3)",
                params![token_hash, username, expires_at],
            )?;
            Ok(())
        })
        .await
    }

    /// The user an unused, unexpired invitation is for.
    pub async fn invitation(&self, token_hash: String) -> Result<Option<User>, ConfigError> {
        self.run(move |c| {
            let username: Option<String> = c
                .query_row(
                    "SELECT username FROM invitations
                     WHERE token_hash = ?1 AND used_at IS NULL AND expires_at > ?2",
                    params![token_hash, now()],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(username) = username else {
                return Ok(None);
            };
            user_named(c, &username)
        })
        .await
    }

    /// Sets a password through an invitation, which can then not be used again; the
    /// user's other invitations and sessions end. False when the invitation is no longer
    /// valid.
    pub async fn accept_invitation(
        &self,
        token_hash: String,
        password_hash: String,
    ) -> Result<bool, ConfigError> {
        self.run(move |c| {
            let tx = c.transaction()?;
            let username: Option<String> = tx
                .query_row(
                    "UPDATE invitations SET used_at = ?2
                     WHERE token_hash = ?1 AND used_at IS NULL AND expires_at > ?2
                     RETURNING username",
                    params![token_hash, now()],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(username) = username else {
                return Ok(false);
            };
            tx.execute(
                "UPDATE users SET password_hash = ?2 WHERE username = ?1",
                params![username, password_hash],
            )?;
            tx.execute(
                "DELETE FROM invitations WHERE username = ?1 AND used_at IS NULL",
                [&username],
            )?;
            tx.execute("DELETE FROM sessions WHERE username = ?1", [&username])?;
            tx.commit()?;
            Ok(true)
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

    /// Replaces a user's password and ends their other sessions (all of them when
    /// `keep_session` is `None`).
    pub async fn change_password(
        &self,
        username: &str,
        password_hash: String,
        keep_session: Option<String>,
    ) -> Result<(), ConfigError> {
        let username = username.to_owned();
        self.run(move |c| {
            let tx = c.transaction()?;
            tx.execute(
                "UPDATE users SET password_hash = ?2 WHERE username = ?1",
                params![username, password_hash],
            )?;
            tx.execute(
                "DELETE FROM sessions WHERE username = ?1 AND token_hash IS NOT ?2",
                params![username, keep_session],
            )?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    /// Ends every session of a user ("sign out everywhere").
    pub async fn delete_sessions(&self, username: &str) -> Result<(), ConfigError> {
        let username = username.to_owned();
        self.run(move |c| {
            c.execute("DELETE FROM sessions WHERE username = ?1", [username])?;
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

    /// A tenant's entrypoints, newest first.
    pub async fn entrypoints(&self, tenant: &TenantId) -> Result<Vec<Entrypoint>, ConfigError> {
        let tenant = tenant.as_str().to_owned();
        self.run(move |c| {
            let mut statement = c.prepare(&format!(
                "SELECT {ENTRYPOINT_COLUMNS} FROM entrypoints
                 WHERE tenant = ?1 ORDER BY created_at DESC, id"
            ))?;
            let rows = statement.query_map([tenant], entrypoint_from_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    /// What intake serves: the entrypoints of every active tenant. A suspended tenant's
    /// entrypoints are left out, so they answer 404 while their data is kept.
    pub async fn intake_entrypoints(&self) -> Result<Vec<Entrypoint>, ConfigError> {
        self.run(move |c| {
            let columns = qualified(ENTRYPOINT_COLUMNS, "e");
            let mut statement = c.prepare(&format!(
                "SELECT {columns} FROM entrypoints e JOIN tenants t ON t.slug = e.tenant
                 WHERE t.status = 'active' ORDER BY e.created_at DESC, e.id"
            ))?;
            let rows = statement.query_map([], entrypoint_from_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    /// Suspends or reactivates a tenant; false when there is no such tenant.
    pub async fn set_tenant_status(
        &self,
        slug: &TenantId,
        status: TenantStatus,
    ) -> Result<bool, ConfigError> {
        let slug = slug.as_str().to_owned();
        let changed = self
            .run(move |c| {
                Ok(c.execute(
                    "UPDATE tenants SET status = ?2 WHERE slug = ?1",
                    params![slug, status.code()],
                )?)
            })
            .await?;
        self.changed();
        Ok(changed == 1)
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

    /// Creates a tenant; refused when the slug is taken.
    pub async fn create_tenant(&self, tenant: Tenant) -> Result<Tenant, ConfigError> {
        let row = tenant.clone();
        self.run(move |c| {
            let inserted = c.execute(
                &format!(
                    "INSERT INTO tenants ({TENANT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                     ON CONFLICT (slug) DO NOTHING"
                ),
                params![
                    row.slug.as_str(),
                    row.name,
                    row.ipa_code,
                    row.site_url,
                    row.time_zone,
                    row.languages.join(","),
                    row.status.code(),
                    row.created_at
                ],
            )?;
            if inserted == 0 {
                return Err(ConfigError(format!(
                    "a tenant called `{}` already exists",
                    row.slug
                )));
            }
            Ok(())
        })
        .await?;
        Ok(tenant)
    }

    /// Creates the tenant `slug` with default settings unless it exists (the first
    /// user's tenant at first start).
    pub async fn ensure_tenant(&self, slug: &TenantId) -> Result<(), ConfigError> {
        let slug = slug.as_str().to_owned();
        self.run(move |c| {
            c.execute(
                "INSERT INTO tenants (slug, name, time_zone, languages, status, created_at)
                 VALUES (?1, ?1, 'Europe/Rome', 'it,en,de', 'active', ?2)
                 ON CONFLICT (slug) DO NOTHING",
                params![slug, now()],
            )?;
            Ok(())
        })
        .await
    }

    /// The tenant with this slug.
    pub async fn tenant(&self, slug: &TenantId) -> Result<Option<Tenant>, ConfigError> {
        let slug = slug.as_str().to_owned();
        self.run(move |c| {
            Ok(c.query_row(
                &format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE slug = ?1"),
                [slug],
                tenant_from_row,
            )
            .optional()?)
        })
        .await
    }

    /// Every tenant, by slug.
    pub async fn tenants(&self) -> Result<Vec<Tenant>, ConfigError> {
        self.run(move |c| {
            let mut statement = c.prepare(&format!(
                "SELECT {TENANT_COLUMNS} FROM tenants ORDER BY slug"
            ))?;
            let rows = statement.query_map([], tenant_from_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    /// Stores a token of an existing tenant under the hash of its secret.
    pub async fn create_token(
        &self,
        token: ApiToken,
        token_hash: String,
    ) -> Result<ApiToken, ConfigError> {
        let row = token.clone();
        self.run(move |c| {
            require_tenant(c, &row.tenant)?;
            c.execute(
                "INSERT INTO api_tokens (id, tenant, name, token_hash, scopes, created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    row.id,
                    row.tenant.as_str(),
                    row.name,
                    token_hash,
                    Scope::join(&row.scopes),
                    row.created_at,
                    row.expires_at
                ],
            )?;
            Ok(())
        })
        .await?;
        Ok(token)
    }

    /// The usable token with this secret hash (not revoked, not expired, of an active
    /// tenant), marking it used now.
    pub async fn use_token(&self, token_hash: String) -> Result<Option<ApiToken>, ConfigError> {
        self.run(move |c| {
            let now = now();
            let token = c
                .query_row(
                    &format!(
                        "SELECT {} FROM api_tokens t JOIN tenants n ON n.slug = t.tenant
                         WHERE t.token_hash = ?1 AND t.revoked_at IS NULL
                           AND (t.expires_at IS NULL OR t.expires_at > ?2) AND n.status = 'active'",
                        qualified(TOKEN_COLUMNS, "t")
                    ),
                    params![token_hash, now],
                    token_from_row,
                )
                .optional()?;
            if let Some(token) = &token {
                c.execute(
                    "UPDATE api_tokens SET last_used_at = ?2 WHERE id = ?1",
                    params![token.id, now],
                )?;
            }
            Ok(token)
        })
        .await
    }

    /// A tenant's tokens, newest first.
    pub async fn tokens(&self, tenant: &TenantId) -> Result<Vec<ApiToken>, ConfigError> {
        let tenant = tenant.as_str().to_owned();
        self.run(move |c| {
            let mut statement = c.prepare(&format!(
                "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE tenant = ?1 ORDER BY created_at DESC, id"
            ))?;
            let rows = statement.query_map([tenant], token_from_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    /// Revokes a tenant's token; false when the tenant has no such live token.
    pub async fn revoke_token(&self, tenant: &TenantId, id: &str) -> Result<bool, ConfigError> {
        let (tenant, id) = (tenant.as_str().to_owned(), id.to_owned());
        self.run(move |c| {
            let changed = c.execute(
                "UPDATE api_tokens SET revoked_at = ?3
                 WHERE tenant = ?1 AND id = ?2 AND revoked_at IS NULL",
                params![tenant, id, now()],
            )?;
            Ok(changed == 1)
        })
        .await
    }

    /// Appends to the audit log.
    pub async fn record(&self, entry: AuditEntry) -> Result<(), ConfigError> {
        self.run(move |c| {
            c.execute(
                "INSERT INTO audit_log (at_ms, tenant, actor, action, target) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    entry.at_ms,
                    entry.tenant.as_ref().map(TenantId::as_str),
                    entry.actor,
                    entry.action,
                    entry.target
                ],
            )?;
            Ok(())
        })
        .await
    }

    /// The latest `limit` entries, newest first: one tenant's, or all with `None`.
    pub async fn audit_log(
        &self,
        tenant: Option<&TenantId>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, ConfigError> {
        let tenant = tenant.map(|t| t.as_str().to_owned());
        self.run(move |c| {
            let mut statement = c.prepare(
                "SELECT at_ms, tenant, actor, action, target FROM audit_log
                 WHERE ?1 IS NULL OR tenant = ?1 ORDER BY id DESC LIMIT ?2",
            )?;
            let rows = statement.query_map(params![tenant, limit], |r| {
                let tenant: Option<String> = r.get(1)?;
                Ok(AuditEntry {
                    at_ms: r.get(0)?,
                    tenant: match tenant {
                        Some(t) => Some(
                            TenantId::parse(&t)
                                .ok_or_else(|| invalid_column(1, "audit_log", "tenant"))?,
                        ),
                        None => None,
                    },
                    actor: r.get(2)?,
                    action: r.get(3)?,
                    target: r.get(4)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
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
