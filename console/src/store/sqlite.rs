//! [`ConfigStore`] in SQLite, for embedded mode: one connection behind a mutex, every
//! call on the blocking pool.

use super::{
    AUDIT_COLUMNS, ApiToken, AuditEntry, COMPLIANCE_COLUMNS, Columns, ComplianceRun,
    ComplianceStatus, ConfigError, ConfigStore, ENTRYPOINT_COLUMNS, EntrypointChanges, Member,
    NewSession, Session, TENANT_COLUMNS, TOKEN_COLUMNS, Tenant, TenantStatus, User, audit_from_row,
    compliance_from_row, entrypoint_from_row, json_text, member_from_row, now, qualified,
    tenant_from_row, token_from_row, user_from_row,
};
use crate::roles::Role;
use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Params, Row, params};
use satisfy_aggregator::sqlite::{migrate, open_connection};
use satisfy_core::{Entrypoint, EntrypointId, Scope, TenantId};
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
    r#"
    -- The service a scheda/valutazione servizio entrypoint rates.
    ALTER TABLE entrypoints ADD COLUMN service TEXT;
"#,
    r#"
    -- PNRR compliance runs of each tenant's site, with their reports.
    CREATE TABLE compliance_runs (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        tenant       TEXT NOT NULL REFERENCES tenants (slug),
        site         TEXT NOT NULL,
        requested_by TEXT,
        status       TEXT NOT NULL,
        queued_ms    INTEGER NOT NULL,
        started_ms   INTEGER,
        finished_ms  INTEGER,
        report       TEXT,
        error        TEXT
    );
    CREATE INDEX compliance_runs_tenant ON compliance_runs (tenant, queued_ms);
"#,
    r#"
    -- Months each tenant's comments, raw ratings and raw events are kept.
    ALTER TABLE tenants ADD COLUMN retention_months INTEGER NOT NULL DEFAULT 24;
"#,
];

impl From<rusqlite::Error> for ConfigError {
    fn from(error: rusqlite::Error) -> Self {
        ConfigError::Storage(error.to_string())
    }
}

impl Columns for Row<'_> {
    fn text(&self, index: usize) -> Result<String, ConfigError> {
        Ok(self.get(index)?)
    }
    fn optional_text(&self, index: usize) -> Result<Option<String>, ConfigError> {
        Ok(self.get(index)?)
    }
    fn integer(&self, index: usize) -> Result<i64, ConfigError> {
        Ok(self.get(index)?)
    }
    fn optional_integer(&self, index: usize) -> Result<Option<i64>, ConfigError> {
        Ok(self.get(index)?)
    }
    fn flag(&self, index: usize) -> Result<bool, ConfigError> {
        Ok(self.get(index)?)
    }
}

/// Every row of `sql`, decoded.
fn all<T>(
    c: &Connection,
    sql: &str,
    params: impl Params,
    decode: impl Fn(&dyn Columns) -> Result<T, ConfigError>,
) -> Result<Vec<T>, ConfigError> {
    let mut statement = c.prepare(sql)?;
    let mut rows = statement.query(params)?;
    let mut decoded = Vec::new();
    while let Some(row) = rows.next()? {
        decoded.push(decode(row)?);
    }
    Ok(decoded)
}

/// The first row of `sql`, decoded, if there is one.
fn first<T>(
    c: &Connection,
    sql: &str,
    params: impl Params,
    decode: impl Fn(&dyn Columns) -> Result<T, ConfigError>,
) -> Result<Option<T>, ConfigError> {
    let mut statement = c.prepare(sql)?;
    let mut rows = statement.query(params)?;
    rows.next()?.map(|row| decode(row)).transpose()
}

/// Users with their role in their tenant (platform admins are admins everywhere, and a
/// suspension of their own tenant never locks them out).
const USER_SELECT: &str = "SELECT u.username, u.password_hash, u.tenant, u.platform_admin, m.role
     FROM users u
     JOIN tenants t ON t.slug = u.tenant AND (t.status = 'active' OR u.platform_admin = 1)
     LEFT JOIN memberships m ON m.username = u.username AND m.tenant = u.tenant";

/// The user called `username`, as [`USER_SELECT`] finds them.
fn user_named(c: &Connection, username: &str) -> Result<Option<User>, ConfigError> {
    Ok(first(
        c,
        &format!("{USER_SELECT} WHERE u.username = ?1"),
        [username],
        user_from_row,
    )?
    .flatten())
}

/// `username` with their role in `tenant` (platform admins: admin everywhere), if they
/// have one there and the tenant is active.
fn user_in(c: &Connection, username: &str, tenant: &str) -> Result<Option<User>, ConfigError> {
    Ok(first(
        c,
        "SELECT u.username, u.password_hash, t.slug, u.platform_admin, m.role
         FROM users u
         JOIN tenants t ON t.slug = ?2 AND t.status = 'active'
         LEFT JOIN memberships m ON m.username = u.username AND m.tenant = t.slug
         WHERE u.username = ?1",
        [username, tenant],
        user_from_row,
    )?
    .flatten())
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
        Err(ConfigError::NotFound(format!(
            "no tenant called `{tenant}`"
        )))
    }
}

fn entrypoint_in(
    c: &Connection,
    tenant: &str,
    id: &str,
) -> Result<Option<Entrypoint>, ConfigError> {
    first(
        c,
        &format!("SELECT {ENTRYPOINT_COLUMNS} FROM entrypoints WHERE tenant = ?1 AND id = ?2"),
        [tenant, id],
        entrypoint_from_row,
    )
}

/// SQLite-backed configuration. Every change bumps a version that subscribers (such as
/// the ingest directory) watch to reload.
#[derive(Clone)]
pub struct SqliteConfigStore {
    conn: Arc<Mutex<Connection>>,
    version: Arc<watch::Sender<u64>>,
}

impl SqliteConfigStore {
    /// Opens (creating if needed) the configuration database and migrates it.
    pub fn open(path: &Path) -> Result<SqliteConfigStore, ConfigError> {
        let mut conn = open_connection(path)?;
        migrate(&mut conn, MIGRATIONS)?;
        Ok(SqliteConfigStore {
            conn: Arc::new(Mutex::new(conn)),
            version: Arc::new(watch::channel(0).0),
        })
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection) -> Result<T, ConfigError> + Send + 'static,
    ) -> Result<T, ConfigError> {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            let mut conn = conn
                .lock()
                .map_err(|_| ConfigError::Storage("connection lock poisoned".into()))?;
            work(&mut conn)
        })
        .await
        .map_err(|error| ConfigError::Storage(error.to_string()))?
    }

    fn changed(&self) {
        self.version.send_modify(|v| *v += 1);
    }
}

#[async_trait]
impl ConfigStore for SqliteConfigStore {
    fn subscribe(&self) -> watch::Receiver<u64> {
        self.version.subscribe()
    }

    async fn user_count(&self) -> Result<u64, ConfigError> {
        self.run(|c| Ok(c.query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))?))
            .await
    }

    async fn create_user(&self, user: User) -> Result<(), ConfigError> {
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
                return Err(ConfigError::Conflict(format!(
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

    async fn find_user(&self, username: &str) -> Result<Option<User>, ConfigError> {
        let username = username.to_owned();
        self.run(move |c| user_named(c, &username)).await
    }

    async fn users(&self, tenant: &TenantId) -> Result<Vec<Member>, ConfigError> {
        let tenant = tenant.as_str().to_owned();
        self.run(move |c| {
            all(
                c,
                "SELECT u.username, m.role, u.password_hash != '' FROM memberships m
                 JOIN users u ON u.username = m.username
                 WHERE m.tenant = ?1 ORDER BY u.username",
                [tenant],
                member_from_row,
            )
        })
        .await
    }

    async fn username_taken(&self, username: &str) -> Result<bool, ConfigError> {
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

    async fn grant(
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
                return Err(ConfigError::NotFound(format!(
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

    async fn tenants_of(&self, username: &str) -> Result<Vec<Tenant>, ConfigError> {
        let username = username.to_owned();
        self.run(move |c| {
            let columns = qualified(TENANT_COLUMNS, "t");
            all(
                c,
                &format!(
                    "SELECT {columns} FROM tenants t JOIN users u ON u.username = ?1
                     WHERE t.status = 'active' AND (u.platform_admin = 1 OR EXISTS (
                         SELECT 1 FROM memberships m WHERE m.username = u.username AND m.tenant = t.slug))
                     ORDER BY t.name, t.slug"
                ),
                [username],
                tenant_from_row,
            )
        })
        .await
    }

    async fn create_session(&self, session: NewSession) -> Result<(), ConfigError> {
        self.run(move |c| {
            c.execute("DELETE FROM sessions WHERE expires_at < ?1", [now()])?;
            c.execute(
                "INSERT INTO sessions (token_hash, username, csrf_token, expires_at) VALUES (?1, ?2, ?3, ?4)",
                params![session.token_hash, session.username, session.csrf_token, session.expires_at],
            )?;
            Ok(())
        })
        .await
    }

    async fn find_session(&self, token_hash: &str) -> Result<Option<Session>, ConfigError> {
        let token_hash = token_hash.to_owned();
        self.run(move |c| {
            let row = first(
                c,
                "SELECT s.csrf_token, s.username, s.tenant FROM sessions s
                 WHERE s.token_hash = ?1 AND s.expires_at > ?2",
                params![token_hash, now()],
                |r| Ok((r.text(0)?, r.text(1)?, r.optional_text(2)?)),
            )?;
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

    async fn switch_session(&self, token_hash: &str, tenant: &TenantId) -> Result<(), ConfigError> {
        let (token_hash, tenant) = (token_hash.to_owned(), tenant.as_str().to_owned());
        self.run(move |c| {
            c.execute(
                "UPDATE sessions SET tenant = ?2 WHERE token_hash = ?1",
                params![token_hash, tenant],
            )?;
            Ok(())
        })
        .await
    }

    async fn delete_session(&self, token_hash: &str) -> Result<(), ConfigError> {
        let token_hash = token_hash.to_owned();
        self.run(move |c| {
            c.execute("DELETE FROM sessions WHERE token_hash = ?1", [token_hash])?;
            Ok(())
        })
        .await
    }

    async fn delete_sessions(&self, username: &str) -> Result<(), ConfigError> {
        let username = username.to_owned();
        self.run(move |c| {
            c.execute("DELETE FROM sessions WHERE username = ?1", [username])?;
            Ok(())
        })
        .await
    }

    async fn change_password(
        &self,
        username: &str,
        password_hash: &str,
        keep_session: Option<&str>,
    ) -> Result<(), ConfigError> {
        let (username, password_hash) = (username.to_owned(), password_hash.to_owned());
        let keep_session = keep_session.map(str::to_owned);
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

    async fn create_invitation(
        &self,
        username: &str,
        token_hash: &str,
        expires_at: i64,
    ) -> Result<(), ConfigError> {
        let (username, token_hash) = (username.to_owned(), token_hash.to_owned());
        self.run(move |c| {
            c.execute(
                "INSERT INTO invitations (token_hash, username, expires_at) VALUES (?1, ?2, ?3)",
                params![token_hash, username, expires_at],
            )?;
            Ok(())
        })
        .await
    }

    async fn invitation(&self, token_hash: &str) -> Result<Option<User>, ConfigError> {
        let token_hash = token_hash.to_owned();
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

    async fn accept_invitation(
        &self,
        token_hash: &str,
        password_hash: &str,
    ) -> Result<bool, ConfigError> {
        let (token_hash, password_hash) = (token_hash.to_owned(), password_hash.to_owned());
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

    async fn create_entrypoint(&self, entrypoint: &Entrypoint) -> Result<(), ConfigError> {
        let row = entrypoint.clone();
        self.run(move |c| {
            require_tenant(c, &row.tenant)?;
            c.execute(
                &format!(
                    "INSERT INTO entrypoints ({ENTRYPOINT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
                ),
                params![
                    row.id.as_str(),
                    row.tenant.as_str(),
                    row.name,
                    row.kind.code(),
                    row.status.code(),
                    json_text(&row.allowed_origins)?,
                    row.custom.as_ref().map(json_text).transpose()?,
                    row.created_at,
                    row.service
                ],
            )?;
            Ok(())
        })
        .await?;
        self.changed();
        Ok(())
    }

    async fn entrypoint(
        &self,
        tenant: &TenantId,
        id: &EntrypointId,
    ) -> Result<Option<Entrypoint>, ConfigError> {
        let (tenant, id) = (tenant.as_str().to_owned(), id.as_str().to_owned());
        self.run(move |c| entrypoint_in(c, &tenant, &id)).await
    }

    async fn entrypoints(&self, tenant: &TenantId) -> Result<Vec<Entrypoint>, ConfigError> {
        let tenant = tenant.as_str().to_owned();
        self.run(move |c| {
            all(
                c,
                &format!(
                    "SELECT {ENTRYPOINT_COLUMNS} FROM entrypoints
                     WHERE tenant = ?1 ORDER BY created_at DESC, id"
                ),
                [tenant],
                entrypoint_from_row,
            )
        })
        .await
    }

    async fn intake_entrypoints(&self) -> Result<Vec<Entrypoint>, ConfigError> {
        self.run(move |c| {
            let columns = qualified(ENTRYPOINT_COLUMNS, "e");
            all(
                c,
                &format!(
                    "SELECT {columns} FROM entrypoints e JOIN tenants t ON t.slug = e.tenant
                     WHERE t.status = 'active' ORDER BY e.created_at DESC, e.id"
                ),
                [],
                entrypoint_from_row,
            )
        })
        .await
    }

    async fn update_entrypoint(
        &self,
        tenant: &TenantId,
        id: &EntrypointId,
        changes: EntrypointChanges,
    ) -> Result<Option<Entrypoint>, ConfigError> {
        let (tenant, id) = (tenant.as_str().to_owned(), id.as_str().to_owned());
        let updated = self
            .run(move |c| {
                let tx = c.transaction()?;
                let Some(current) = entrypoint_in(&tx, &tenant, &id)? else {
                    return Ok(None);
                };
                let row = changes.apply(current);
                tx.execute(
                    "UPDATE entrypoints SET name = ?3, status = ?4, allowed_origins = ?5, custom = ?6,
                         service = ?7
                     WHERE tenant = ?1 AND id = ?2",
                    params![
                        tenant,
                        id,
                        row.name,
                        row.status.code(),
                        json_text(&row.allowed_origins)?,
                        row.custom.as_ref().map(json_text).transpose()?,
                        row.service
                    ],
                )?;
                tx.commit()?;
                Ok(Some(row))
            })
            .await?;
        self.changed();
        Ok(updated)
    }

    async fn create_tenant(&self, tenant: &Tenant) -> Result<(), ConfigError> {
        let row = tenant.clone();
        self.run(move |c| {
            let inserted = c.execute(
                &format!(
                    "INSERT INTO tenants ({TENANT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
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
                    row.created_at,
                    row.retention_months
                ],
            )?;
            if inserted == 0 {
                return Err(ConfigError::Conflict(format!(
                    "a tenant called `{}` already exists",
                    row.slug
                )));
            }
            Ok(())
        })
        .await
    }

    async fn ensure_tenant(&self, slug: &TenantId) -> Result<(), ConfigError> {
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

    async fn tenant(&self, slug: &TenantId) -> Result<Option<Tenant>, ConfigError> {
        let slug = slug.as_str().to_owned();
        self.run(move |c| {
            first(
                c,
                &format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE slug = ?1"),
                [slug],
                tenant_from_row,
            )
        })
        .await
    }

    async fn tenants(&self) -> Result<Vec<Tenant>, ConfigError> {
        self.run(move |c| {
            all(
                c,
                &format!("SELECT {TENANT_COLUMNS} FROM tenants ORDER BY slug"),
                [],
                tenant_from_row,
            )
        })
        .await
    }

    async fn update_tenant(&self, tenant: &Tenant) -> Result<bool, ConfigError> {
        let row = tenant.clone();
        self.run(move |c| {
            let changed = c.execute(
                "UPDATE tenants SET name = ?2, ipa_code = ?3, site_url = ?4, time_zone = ?5,
                     languages = ?6, retention_months = ?7
                 WHERE slug = ?1",
                params![
                    row.slug.as_str(),
                    row.name,
                    row.ipa_code,
                    row.site_url,
                    row.time_zone,
                    row.languages.join(","),
                    row.retention_months
                ],
            )?;
            Ok(changed == 1)
        })
        .await
    }

    async fn set_tenant_status(
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

    async fn create_token(&self, token: &ApiToken, token_hash: &str) -> Result<(), ConfigError> {
        let (row, token_hash) = (token.clone(), token_hash.to_owned());
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
        .await
    }

    async fn use_token(&self, token_hash: &str) -> Result<Option<ApiToken>, ConfigError> {
        let token_hash = token_hash.to_owned();
        self.run(move |c| {
            let now = now();
            let token = first(
                c,
                &format!(
                    "SELECT {} FROM api_tokens t JOIN tenants n ON n.slug = t.tenant
                     WHERE t.token_hash = ?1 AND t.revoked_at IS NULL
                       AND (t.expires_at IS NULL OR t.expires_at > ?2) AND n.status = 'active'",
                    qualified(TOKEN_COLUMNS, "t")
                ),
                params![token_hash, now],
                token_from_row,
            )?;
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

    async fn tokens(&self, tenant: &TenantId) -> Result<Vec<ApiToken>, ConfigError> {
        let tenant = tenant.as_str().to_owned();
        self.run(move |c| {
            all(
                c,
                &format!(
                    "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE tenant = ?1
                     ORDER BY created_at DESC, id"
                ),
                [tenant],
                token_from_row,
            )
        })
        .await
    }

    async fn revoke_token(&self, tenant: &TenantId, id: &str) -> Result<bool, ConfigError> {
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

    async fn record(&self, entry: AuditEntry) -> Result<(), ConfigError> {
        self.run(move |c| {
            c.execute(
                &format!("INSERT INTO audit_log ({AUDIT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5)"),
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

    async fn audit_log(
        &self,
        tenant: Option<&TenantId>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, ConfigError> {
        let tenant = tenant.map(|t| t.as_str().to_owned());
        self.run(move |c| {
            all(
                c,
                &format!(
                    "SELECT {AUDIT_COLUMNS} FROM audit_log
                     WHERE ?1 IS NULL OR tenant = ?1 ORDER BY id DESC LIMIT ?2"
                ),
                params![tenant, limit],
                audit_from_row,
            )
        })
        .await
    }

    async fn setting(&self, key: &str) -> Result<Option<String>, ConfigError> {
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

    async fn set_setting(&self, key: &str, value: &str) -> Result<(), ConfigError> {
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

    async fn queue_compliance_run(
        &self,
        tenant: &TenantId,
        site: &str,
        requested_by: Option<&str>,
        at_ms: i64,
        unless_since_ms: Option<i64>,
    ) -> Result<Option<i64>, ConfigError> {
        let (tenant, site) = (tenant.as_str().to_owned(), site.to_owned());
        let requested_by = requested_by.map(str::to_owned);
        self.run(move |c| {
            first(
                c,
                "INSERT INTO compliance_runs (tenant, site, requested_by, status, queued_ms)
                 SELECT ?1, ?2, ?3, 'queued', ?4
                 WHERE NOT EXISTS (SELECT 1 FROM compliance_runs WHERE tenant = ?1
                     AND (status IN ('queued', 'running') OR (?5 IS NOT NULL AND queued_ms >= ?5)))
                 RETURNING id",
                params![tenant, site, requested_by, at_ms, unless_since_ms],
                |row| row.integer(0),
            )
        })
        .await
    }

    async fn claim_compliance_run(
        &self,
        at_ms: i64,
        stale_before_ms: i64,
    ) -> Result<Option<ComplianceRun>, ConfigError> {
        self.run(move |c| {
            first(
                c,
                &format!(
                    "UPDATE compliance_runs SET status = 'running', started_ms = ?1
                     WHERE id = (SELECT id FROM compliance_runs
                                 WHERE status = 'queued' OR (status = 'running' AND started_ms < ?2)
                                 ORDER BY queued_ms, id LIMIT 1)
                     RETURNING {COMPLIANCE_COLUMNS}"
                ),
                params![at_ms, stale_before_ms],
                compliance_from_row,
            )
        })
        .await
    }

    async fn finish_compliance_run(
        &self,
        id: i64,
        at_ms: i64,
        outcome: Result<String, String>,
    ) -> Result<(), ConfigError> {
        let (status, report, error) = match outcome {
            Ok(report) => (ComplianceStatus::Done, Some(report), None),
            Err(error) => (ComplianceStatus::Failed, None, Some(error)),
        };
        self.run(move |c| {
            c.execute(
                "UPDATE compliance_runs SET status = ?2, finished_ms = ?3, report = ?4, error = ?5
                 WHERE id = ?1",
                params![id, status.code(), at_ms, report, error],
            )?;
            Ok(())
        })
        .await
    }

    async fn compliance_runs(
        &self,
        tenant: &TenantId,
        limit: u32,
    ) -> Result<Vec<ComplianceRun>, ConfigError> {
        let tenant = tenant.as_str().to_owned();
        self.run(move |c| {
            all(
                c,
                &format!(
                    "SELECT {COMPLIANCE_COLUMNS} FROM compliance_runs WHERE tenant = ?1
                     ORDER BY queued_ms DESC, id DESC LIMIT ?2"
                ),
                params![tenant, limit],
                compliance_from_row,
            )
        })
        .await
    }
}
