//! [`ConfigStore`] in PostgreSQL, for distributed mode: every console replica and
//! `satisfy admin` share one database through a small connection pool. Schema changes are
//! versioned migrations applied at connect, under an advisory lock so that replicas
//! starting together apply each exactly once.

use super::{
    AUDIT_COLUMNS, ApiToken, AuditEntry, COMPLIANCE_COLUMNS, Columns, ComplianceRun,
    ComplianceStatus, ConfigError, ConfigStore, ENTRYPOINT_COLUMNS, EntrypointChanges, Member,
    NewSession, Session, TENANT_COLUMNS, TOKEN_COLUMNS, Tenant, TenantStatus, User, audit_from_row,
    compliance_from_row, entrypoint_from_row, json_text, member_from_row, now, qualified,
    tenant_from_row, token_from_row, user_from_row,
};
use crate::roles::Role;
use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use satisfy_core::{Entrypoint, EntrypointId, Scope, TenantId};
use std::time::Duration;
use tokio::sync::watch;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{GenericClient, NoTls, Row};

/// The schema, one entry per version; never edit a released entry, append a new one.
const MIGRATIONS: &[&str] = &[
    r#"
    CREATE TABLE tenants (
        slug        TEXT PRIMARY KEY,
        name        TEXT NOT NULL,
        ipa_code    TEXT,
        site_url    TEXT,
        time_zone   TEXT NOT NULL,
        languages   TEXT NOT NULL,
        status      TEXT NOT NULL,
        created_at  BIGINT NOT NULL
    );
    CREATE TABLE users (
        username       TEXT PRIMARY KEY,
        password_hash  TEXT NOT NULL,
        tenant         TEXT NOT NULL REFERENCES tenants (slug),
        created_at     BIGINT NOT NULL,
        platform_admin BOOLEAN NOT NULL DEFAULT FALSE
    );
    CREATE TABLE memberships (
        username TEXT NOT NULL REFERENCES users (username) ON DELETE CASCADE,
        tenant   TEXT NOT NULL REFERENCES tenants (slug),
        role     TEXT NOT NULL,
        PRIMARY KEY (username, tenant)
    );
    CREATE INDEX memberships_tenant ON memberships (tenant);
    CREATE TABLE sessions (
        token_hash TEXT PRIMARY KEY,
        username   TEXT NOT NULL REFERENCES users (username) ON DELETE CASCADE,
        csrf_token TEXT NOT NULL,
        expires_at BIGINT NOT NULL,
        tenant     TEXT
    );
    CREATE INDEX sessions_username ON sessions (username);
    CREATE INDEX sessions_expires_at ON sessions (expires_at);
    CREATE TABLE invitations (
        token_hash TEXT PRIMARY KEY,
        username   TEXT NOT NULL REFERENCES users (username) ON DELETE CASCADE,
        expires_at BIGINT NOT NULL,
        used_at    BIGINT
    );
    CREATE INDEX invitations_username ON invitations (username);
    CREATE TABLE entrypoints (
        id              TEXT PRIMARY KEY,
        tenant          TEXT NOT NULL REFERENCES tenants (slug),
        name            TEXT NOT NULL,
        kind            TEXT NOT NULL,
        status          TEXT NOT NULL,
        allowed_origins TEXT NOT NULL,
        custom          TEXT,
        created_at      BIGINT NOT NULL
    );
    CREATE INDEX entrypoints_tenant ON entrypoints (tenant, created_at);
    CREATE TABLE api_tokens (
        id           TEXT PRIMARY KEY,
        tenant       TEXT NOT NULL REFERENCES tenants (slug),
        name         TEXT NOT NULL,
        token_hash   TEXT NOT NULL UNIQUE,
        scopes       TEXT NOT NULL,
        created_at   BIGINT NOT NULL,
        expires_at   BIGINT,
        last_used_at BIGINT,
        revoked_at   BIGINT
    );
    CREATE INDEX api_tokens_tenant ON api_tokens (tenant, created_at);
    CREATE TABLE audit_log (
        id     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        at_ms  BIGINT NOT NULL,
        tenant TEXT,
        actor  TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT
    );
    CREATE INDEX audit_log_tenant ON audit_log (tenant, id);
    CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$;
    CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
        FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
    CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
        FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
    CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"#,
    r#"
    ALTER TABLE entrypoints ADD COLUMN service TEXT;
"#,
    r#"
    CREATE TABLE compliance_runs (
        id           BIGSERIAL PRIMARY KEY,
        tenant       TEXT NOT NULL REFERENCES tenants (slug),
        site         TEXT NOT NULL,
        requested_by TEXT,
        status       TEXT NOT NULL,
        queued_ms    BIGINT NOT NULL,
        started_ms   BIGINT,
        finished_ms  BIGINT,
        report       TEXT,
        error        TEXT
    );
    CREATE INDEX compliance_runs_tenant ON compliance_runs (tenant, queued_ms);
"#,
    r#"
    ALTER TABLE tenants ADD COLUMN retention_months BIGINT NOT NULL DEFAULT 24;
"#,
];

/// Any number that other users of the database are unlikely to lock: "satisfy" in ASCII.
const MIGRATION_LOCK: i64 = 0x73_61_74_69_73_66_79;

/// Connections per console process; each replica holds its own pool.
const POOL_SIZE: usize = 8;

/// How long a request waits for a connection or a new connection takes before failing.
const POOL_TIMEOUT: Duration = Duration::from_secs(5);

impl From<tokio_postgres::Error> for ConfigError {
    fn from(error: tokio_postgres::Error) -> Self {
        // The server's own message says what failed; the client's Display only "db error".
        match error.as_db_error() {
            Some(db) => ConfigError::Storage(format!("PostgreSQL: {}", db.message())),
            None => ConfigError::Storage(format!("PostgreSQL: {error}")),
        }
    }
}

impl From<deadpool_postgres::PoolError> for ConfigError {
    fn from(error: deadpool_postgres::PoolError) -> Self {
        ConfigError::Storage(format!("PostgreSQL connection pool: {error}"))
    }
}

impl Columns for Row {
    fn text(&self, index: usize) -> Result<String, ConfigError> {
        Ok(self.try_get(index)?)
    }
    fn optional_text(&self, index: usize) -> Result<Option<String>, ConfigError> {
        Ok(self.try_get(index)?)
    }
    fn integer(&self, index: usize) -> Result<i64, ConfigError> {
        Ok(self.try_get(index)?)
    }
    fn optional_integer(&self, index: usize) -> Result<Option<i64>, ConfigError> {
        Ok(self.try_get(index)?)
    }
    fn flag(&self, index: usize) -> Result<bool, ConfigError> {
        Ok(self.try_get(index)?)
    }
}

fn is_unique_violation(error: &tokio_postgres::Error) -> bool {
    error.code() == Some(&SqlState::UNIQUE_VIOLATION)
}

/// Every row of `sql`, decoded.
async fn all<T>(
    client: &impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
    decode: impl Fn(&dyn Columns) -> Result<T, ConfigError>,
) -> Result<Vec<T>, ConfigError> {
    client
        .query(sql, params)
        .await?
        .iter()
        .map(|row| decode(row))
        .collect()
}

/// The row of `sql`, decoded, if there is one.
async fn first<T>(
    client: &impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
    decode: impl Fn(&dyn Columns) -> Result<T, ConfigError>,
) -> Result<Option<T>, ConfigError> {
    client
        .query_opt(sql, params)
        .await?
        .as_ref()
        .map(|row| decode(row))
        .transpose()
}

/// Users with their role in their tenant (platform admins are admins everywhere, and a
/// suspension of their own tenant never locks them out).
const USER_SELECT: &str = "SELECT u.username, u.password_hash, u.tenant, u.platform_admin, m.role
     FROM users u
     JOIN tenants t ON t.slug = u.tenant AND (t.status = 'active' OR u.platform_admin)
     LEFT JOIN memberships m ON m.username = u.username AND m.tenant = u.tenant";

async fn user_named(
    client: &impl GenericClient,
    username: &str,
) -> Result<Option<User>, ConfigError> {
    Ok(first(
        client,
        &format!("{USER_SELECT} WHERE u.username = $1"),
        &[&username],
        user_from_row,
    )
    .await?
    .flatten())
}

async fn user_in(
    client: &impl GenericClient,
    username: &str,
    tenant: &str,
) -> Result<Option<User>, ConfigError> {
    Ok(first(
        client,
        "SELECT u.username, u.password_hash, t.slug, u.platform_admin, m.role
         FROM users u
         JOIN tenants t ON t.slug = $2 AND t.status = 'active'
         LEFT JOIN memberships m ON m.username = u.username AND m.tenant = t.slug
         WHERE u.username = $1",
        &[&username, &tenant],
        user_from_row,
    )
    .await?
    .flatten())
}

/// The configuration in PostgreSQL. Change notifications reach this process's
/// subscribers only; other replicas see changes when they next read.
#[derive(Clone)]
pub struct PostgresConfigStore {
    pool: Pool,
    version: std::sync::Arc<watch::Sender<u64>>,
}

impl PostgresConfigStore {
    /// Connects to `url` (`postgres://user:password@host:port/database`) and applies
    /// pending migrations.
    pub async fn connect(url: &str) -> Result<PostgresConfigStore, ConfigError> {
        let config: tokio_postgres::Config = url
            .parse()
            .map_err(|error| ConfigError::Storage(format!("invalid PostgreSQL URL: {error}")))?;
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(POOL_TIMEOUT))
            .create_timeout(Some(POOL_TIMEOUT))
            .build()
            .map_err(|error| ConfigError::Storage(format!("PostgreSQL pool: {error}")))?;
        let store = PostgresConfigStore {
            pool,
            version: std::sync::Arc::new(watch::channel(0).0),
        };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<(), ConfigError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)",
        )
        .await?;
        let applied: i32 = tx
            .query_one(
                "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                &[],
            )
            .await?
            .try_get(0)?;
        for (index, sql) in MIGRATIONS.iter().enumerate() {
            let version = i32::try_from(index + 1)
                .map_err(|_| ConfigError::Storage("too many migrations".into()))?;
            if version > applied {
                tx.batch_execute(sql).await?;
                tx.execute(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
                    &[&version, &now()],
                )
                .await?;
                tracing::info!(version, "applied PostgreSQL schema migration");
            }
        }
        tx.commit().await?;
        Ok(())
    }

    fn changed(&self) {
        self.version.send_modify(|v| *v += 1);
    }
}

async fn entrypoint_in(
    client: &impl GenericClient,
    tenant: &str,
    id: &str,
    lock: &str,
) -> Result<Option<Entrypoint>, ConfigError> {
    first(
        client,
        &format!(
            "SELECT {ENTRYPOINT_COLUMNS} FROM entrypoints WHERE tenant = $1 AND id = $2 {lock}"
        ),
        &[&tenant, &id],
        entrypoint_from_row,
    )
    .await
}

/// A foreign key naming a tenant that does not exist.
fn missing_tenant(error: tokio_postgres::Error, tenant: &TenantId) -> ConfigError {
    if error.code() == Some(&SqlState::FOREIGN_KEY_VIOLATION) {
        ConfigError::NotFound(format!("no tenant called `{tenant}`"))
    } else {
        error.into()
    }
}

#[async_trait]
impl ConfigStore for PostgresConfigStore {
    fn subscribe(&self) -> watch::Receiver<u64> {
        self.version.subscribe()
    }

    async fn user_count(&self) -> Result<u64, ConfigError> {
        let client = self.pool.get().await?;
        let count: i64 = client
            .query_one("SELECT COUNT(*) FROM users", &[])
            .await?
            .try_get(0)?;
        Ok(count.unsigned_abs())
    }

    async fn create_user(&self, user: User) -> Result<(), ConfigError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let inserted = tx
            .execute(
                "INSERT INTO users (username, password_hash, tenant, created_at, platform_admin)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (username) DO NOTHING",
                &[
                    &user.username,
                    &user.password_hash,
                    &user.tenant.as_str(),
                    &now(),
                    &user.platform_admin,
                ],
            )
            .await
            .map_err(|error| missing_tenant(error, &user.tenant))?;
        if inserted == 0 {
            return Err(ConfigError::Conflict(format!(
                "a user called `{}` already exists",
                user.username
            )));
        }
        tx.execute(
            "INSERT INTO memberships (username, tenant, role) VALUES ($1, $2, $3)",
            &[&user.username, &user.tenant.as_str(), &user.role.as_str()],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn find_user(&self, username: &str) -> Result<Option<User>, ConfigError> {
        let client = self.pool.get().await?;
        user_named(&**client, username).await
    }

    async fn users(&self, tenant: &TenantId) -> Result<Vec<Member>, ConfigError> {
        let client = self.pool.get().await?;
        all(
            &**client,
            "SELECT u.username, m.role, u.password_hash != '' FROM memberships m
             JOIN users u ON u.username = m.username
             WHERE m.tenant = $1 ORDER BY u.username",
            &[&tenant.as_str()],
            member_from_row,
        )
        .await
    }

    async fn username_taken(&self, username: &str) -> Result<bool, ConfigError> {
        let client = self.pool.get().await?;
        Ok(client
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM users WHERE username = $1)",
                &[&username],
            )
            .await?
            .try_get(0)?)
    }

    async fn grant(
        &self,
        username: &str,
        tenant: &TenantId,
        role: Role,
    ) -> Result<(), ConfigError> {
        let client = self.pool.get().await?;
        let changed = client
            .execute(
                "INSERT INTO memberships (username, tenant, role)
                 SELECT u.username, t.slug, $3 FROM users u, tenants t
                 WHERE u.username = $1 AND t.slug = $2
                 ON CONFLICT (username, tenant) DO UPDATE SET role = excluded.role",
                &[&username, &tenant.as_str(), &role.as_str()],
            )
            .await?;
        if changed == 0 {
            return Err(ConfigError::NotFound(format!(
                "no user `{username}` or no tenant `{tenant}`"
            )));
        }
        Ok(())
    }

    async fn tenants_of(&self, username: &str) -> Result<Vec<Tenant>, ConfigError> {
        let client = self.pool.get().await?;
        let columns = qualified(TENANT_COLUMNS, "t");
        all(
            &**client,
            &format!(
                "SELECT {columns} FROM tenants t JOIN users u ON u.username = $1
                 WHERE t.status = 'active' AND (u.platform_admin OR EXISTS (
                     SELECT 1 FROM memberships m WHERE m.username = u.username AND m.tenant = t.slug))
                 ORDER BY t.name, t.slug"
            ),
            &[&username],
            tenant_from_row,
        )
        .await
    }

    async fn create_session(&self, session: NewSession) -> Result<(), ConfigError> {
        let client = self.pool.get().await?;
        client
            .execute("DELETE FROM sessions WHERE expires_at < $1", &[&now()])
            .await?;
        client
            .execute(
                "INSERT INTO sessions (token_hash, username, csrf_token, expires_at)
                 VALUES ($1, $2, $3, $4)",
                &[
                    &session.token_hash,
                    &session.username,
                    &session.csrf_token,
                    &session.expires_at,
                ],
            )
            .await?;
        Ok(())
    }

    async fn find_session(&self, token_hash: &str) -> Result<Option<Session>, ConfigError> {
        let client = self.pool.get().await?;
        let row = first(
            &**client,
            "SELECT csrf_token, username, tenant FROM sessions
             WHERE token_hash = $1 AND expires_at > $2",
            &[&token_hash, &now()],
            |r| Ok((r.text(0)?, r.text(1)?, r.optional_text(2)?)),
        )
        .await?;
        let Some((csrf_token, username, tenant)) = row else {
            return Ok(None);
        };
        let Some(home) = user_named(&**client, &username).await? else {
            return Ok(None);
        };
        let user = match tenant {
            Some(tenant) => user_in(&**client, &username, &tenant)
                .await?
                .unwrap_or(home),
            None => home,
        };
        Ok(Some(Session { user, csrf_token }))
    }

    async fn switch_session(&self, token_hash: &str, tenant: &TenantId) -> Result<(), ConfigError> {
        let client = self.pool.get().await?;
        client
            .execute(
                "UPDATE sessions SET tenant = $2 WHERE token_hash = $1",
                &[&token_hash, &tenant.as_str()],
            )
            .await?;
        Ok(())
    }

    async fn delete_session(&self, token_hash: &str) -> Result<(), ConfigError> {
        let client = self.pool.get().await?;
        client
            .execute("DELETE FROM sessions WHERE token_hash = $1", &[&token_hash])
            .await?;
        Ok(())
    }

    async fn delete_sessions(&self, username: &str) -> Result<(), ConfigError> {
        let client = self.pool.get().await?;
        client
            .execute("DELETE FROM sessions WHERE username = $1", &[&username])
            .await?;
        Ok(())
    }

    async fn change_password(
        &self,
        username: &str,
        password_hash: &str,
        keep_session: Option<&str>,
    ) -> Result<(), ConfigError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        tx.execute(
            "UPDATE users SET password_hash = $2 WHERE username = $1",
            &[&username, &password_hash],
        )
        .await?;
        tx.execute(
            "DELETE FROM sessions WHERE username = $1 AND token_hash IS DISTINCT FROM $2",
            &[&username, &keep_session],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn create_invitation(
        &self,
        username: &str,
        token_hash: &str,
        expires_at: i64,
    ) -> Result<(), ConfigError> {
        let client = self.pool.get().await?;
        client
            .execute(
                "INSERT INTO invitations (token_hash, username, expires_at) VALUES ($1, $2, $3)",
                &[&token_hash, &username, &expires_at],
            )
            .await?;
        Ok(())
    }

    async fn invitation(&self, token_hash: &str) -> Result<Option<User>, ConfigError> {
        let client = self.pool.get().await?;
        let username = first(
            &**client,
            "SELECT username FROM invitations
             WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
            &[&token_hash, &now()],
            |r| r.text(0),
        )
        .await?;
        match username {
            Some(username) => user_named(&**client, &username).await,
            None => Ok(None),
        }
    }

    async fn accept_invitation(
        &self,
        token_hash: &str,
        password_hash: &str,
    ) -> Result<bool, ConfigError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let username = first(
            &*tx,
            "UPDATE invitations SET used_at = $2
             WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2
             RETURNING username",
            &[&token_hash, &now()],
            |r| r.text(0),
        )
        .await?;
        let Some(username) = username else {
            return Ok(false);
        };
        tx.execute(
            "UPDATE users SET password_hash = $2 WHERE username = $1",
            &[&username, &password_hash],
        )
        .await?;
        tx.execute(
            "DELETE FROM invitations WHERE username = $1 AND used_at IS NULL",
            &[&username],
        )
        .await?;
        tx.execute("DELETE FROM sessions WHERE username = $1", &[&username])
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn create_entrypoint(&self, entrypoint: &Entrypoint) -> Result<(), ConfigError> {
        let client = self.pool.get().await?;
        client
            .execute(
                &format!(
                    "INSERT INTO entrypoints ({ENTRYPOINT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
                ),
                &[
                    &entrypoint.id.as_str(),
                    &entrypoint.tenant.as_str(),
                    &entrypoint.name,
                    &entrypoint.kind.code(),
                    &entrypoint.status.code(),
                    &json_text(&entrypoint.allowed_origins)?,
                    &entrypoint.custom.as_ref().map(json_text).transpose()?,
                    &entrypoint.created_at,
                    &entrypoint.service,
                ],
            )
            .await
            .map_err(|error| missing_tenant(error, &entrypoint.tenant))?;
        self.changed();
        Ok(())
    }

    async fn entrypoint(
        &self,
        tenant: &TenantId,
        id: &EntrypointId,
    ) -> Result<Option<Entrypoint>, ConfigError> {
        let client = self.pool.get().await?;
        entrypoint_in(&**client, tenant.as_str(), id.as_str(), "").await
    }

    async fn entrypoints(&self, tenant: &TenantId) -> Result<Vec<Entrypoint>, ConfigError> {
        let client = self.pool.get().await?;
        all(
            &**client,
            &format!(
                "SELECT {ENTRYPOINT_COLUMNS} FROM entrypoints
                 WHERE tenant = $1 ORDER BY created_at DESC, id"
            ),
            &[&tenant.as_str()],
            entrypoint_from_row,
        )
        .await
    }

    async fn intake_entrypoints(&self) -> Result<Vec<Entrypoint>, ConfigError> {
        let client = self.pool.get().await?;
        let columns = qualified(ENTRYPOINT_COLUMNS, "e");
        all(
            &**client,
            &format!(
                "SELECT {columns} FROM entrypoints e JOIN tenants t ON t.slug = e.tenant
                 WHERE t.status = 'active' ORDER BY e.created_at DESC, e.id"
            ),
            &[],
            entrypoint_from_row,
        )
        .await
    }

    async fn update_entrypoint(
        &self,
        tenant: &TenantId,
        id: &EntrypointId,
        changes: EntrypointChanges,
    ) -> Result<Option<Entrypoint>, ConfigError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        // Two replicas editing one entrypoint apply their changes one after the other.
        let Some(current) = entrypoint_in(&*tx, tenant.as_str(), id.as_str(), "FOR UPDATE").await?
        else {
            return Ok(None);
        };
        let row = changes.apply(current);
        tx.execute(
            "UPDATE entrypoints SET name = $3, status = $4, allowed_origins = $5, custom = $6,
                 service = $7
             WHERE tenant = $1 AND id = $2",
            &[
                &tenant.as_str(),
                &id.as_str(),
                &row.name,
                &row.status.code(),
                &json_text(&row.allowed_origins)?,
                &row.custom.as_ref().map(json_text).transpose()?,
                &row.service,
            ],
        )
        .await?;
        tx.commit().await?;
        self.changed();
        Ok(Some(row))
    }

    async fn create_tenant(&self, tenant: &Tenant) -> Result<(), ConfigError> {
        let client = self.pool.get().await?;
        let inserted = client
            .execute(
                &format!(
                    "INSERT INTO tenants ({TENANT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                     ON CONFLICT (slug) DO NOTHING"
                ),
                &[
                    &tenant.slug.as_str(),
                    &tenant.name,
                    &tenant.ipa_code,
                    &tenant.site_url,
                    &tenant.time_zone,
                    &tenant.languages.join(","),
                    &tenant.status.code(),
                    &tenant.created_at,
                    &i64::from(tenant.retention_months),
                ],
            )
            .await?;
        if inserted == 0 {
            return Err(ConfigError::Conflict(format!(
                "a tenant called `{}` already exists",
                tenant.slug
            )));
        }
        Ok(())
    }

    async fn ensure_tenant(&self, slug: &TenantId) -> Result<(), ConfigError> {
        let client = self.pool.get().await?;
        client
            .execute(
                "INSERT INTO tenants (slug, name, time_zone, languages, status, created_at)
                 VALUES ($1, $1, 'Europe/Rome', 'it,en,de', 'active', $2)
                 ON CONFLICT (slug) DO NOTHING",
                &[&slug.as_str(), &now()],
            )
            .await?;
        Ok(())
    }

    async fn tenant(&self, slug: &TenantId) -> Result<Option<Tenant>, ConfigError> {
        let client = self.pool.get().await?;
        first(
            &**client,
            &format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE slug = $1"),
            &[&slug.as_str()],
            tenant_from_row,
        )
        .await
    }

    async fn tenants(&self) -> Result<Vec<Tenant>, ConfigError> {
        let client = self.pool.get().await?;
        all(
            &**client,
            &format!("SELECT {TENANT_COLUMNS} FROM tenants ORDER BY slug"),
            &[],
            tenant_from_row,
        )
        .await
    }

    async fn update_tenant(&self, tenant: &Tenant) -> Result<bool, ConfigError> {
        let client = self.pool.get().await?;
        let changed = client
            .execute(
                "UPDATE tenants SET name = $2, ipa_code = $3, site_url = $4, time_zone = $5,
                     languages = $6, retention_months = $7
                 WHERE slug = $1",
                &[
                    &tenant.slug.as_str(),
                    &tenant.name,
                    &tenant.ipa_code,
                    &tenant.site_url,
                    &tenant.time_zone,
                    &tenant.languages.join(","),
                    &i64::from(tenant.retention_months),
                ],
            )
            .await?;
        Ok(changed == 1)
    }

    async fn set_tenant_status(
        &self,
        slug: &TenantId,
        status: TenantStatus,
    ) -> Result<bool, ConfigError> {
        let client = self.pool.get().await?;
        let changed = client
            .execute(
                "UPDATE tenants SET status = $2 WHERE slug = $1",
                &[&slug.as_str(), &status.code()],
            )
            .await?;
        self.changed();
        Ok(changed == 1)
    }

    async fn create_token(&self, token: &ApiToken, token_hash: &str) -> Result<(), ConfigError> {
        let client = self.pool.get().await?;
        client
            .execute(
                "INSERT INTO api_tokens (id, tenant, name, token_hash, scopes, created_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[
                    &token.id,
                    &token.tenant.as_str(),
                    &token.name,
                    &token_hash,
                    &Scope::join(&token.scopes),
                    &token.created_at,
                    &token.expires_at,
                ],
            )
            .await
            .map_err(|error| {
                if is_unique_violation(&error) {
                    ConfigError::Conflict(format!("a token `{}` already exists", token.id))
                } else {
                    missing_tenant(error, &token.tenant)
                }
            })?;
        Ok(())
    }

    async fn use_token(&self, token_hash: &str) -> Result<Option<ApiToken>, ConfigError> {
        let client = self.pool.get().await?;
        // One statement finds and stamps the token, so concurrent uses never race.
        first(
            &**client,
            &format!(
                "UPDATE api_tokens t SET last_used_at = $2 FROM tenants n
                 WHERE n.slug = t.tenant AND t.token_hash = $1 AND t.revoked_at IS NULL
                   AND (t.expires_at IS NULL OR t.expires_at > $2) AND n.status = 'active'
                 RETURNING {}",
                qualified(TOKEN_COLUMNS, "t")
            ),
            &[&token_hash, &now()],
            token_from_row,
        )
        .await
    }

    async fn tokens(&self, tenant: &TenantId) -> Result<Vec<ApiToken>, ConfigError> {
        let client = self.pool.get().await?;
        all(
            &**client,
            &format!(
                "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE tenant = $1
                 ORDER BY created_at DESC, id"
            ),
            &[&tenant.as_str()],
            token_from_row,
        )
        .await
    }

    async fn revoke_token(&self, tenant: &TenantId, id: &str) -> Result<bool, ConfigError> {
        let client = self.pool.get().await?;
        let changed = client
            .execute(
                "UPDATE api_tokens SET revoked_at = $3
                 WHERE tenant = $1 AND id = $2 AND revoked_at IS NULL",
                &[&tenant.as_str(), &id, &now()],
            )
            .await?;
        Ok(changed == 1)
    }

    async fn record(&self, entry: AuditEntry) -> Result<(), ConfigError> {
        let client = self.pool.get().await?;
        client
            .execute(
                &format!("INSERT INTO audit_log ({AUDIT_COLUMNS}) VALUES ($1, $2, $3, $4, $5)"),
                &[
                    &entry.at_ms,
                    &entry.tenant.as_ref().map(TenantId::as_str),
                    &entry.actor,
                    &entry.action,
                    &entry.target,
                ],
            )
            .await?;
        Ok(())
    }

    async fn audit_log(
        &self,
        tenant: Option<&TenantId>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, ConfigError> {
        let client = self.pool.get().await?;
        all(
            &**client,
            &format!(
                "SELECT {AUDIT_COLUMNS} FROM audit_log
                 WHERE $1::TEXT IS NULL OR tenant = $1 ORDER BY id DESC LIMIT $2"
            ),
            &[&tenant.map(TenantId::as_str), &i64::from(limit)],
            audit_from_row,
        )
        .await
    }

    async fn setting(&self, key: &str) -> Result<Option<String>, ConfigError> {
        let client = self.pool.get().await?;
        first(
            &**client,
            "SELECT value FROM settings WHERE key = $1",
            &[&key],
            |r| r.text(0),
        )
        .await
    }

    async fn set_setting(&self, key: &str, value: &str) -> Result<(), ConfigError> {
        let client = self.pool.get().await?;
        client
            .execute(
                "INSERT INTO settings (key, value) VALUES ($1, $2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                &[&key, &value],
            )
            .await?;
        Ok(())
    }

    async fn queue_compliance_run(
        &self,
        tenant: &TenantId,
        site: &str,
        requested_by: Option<&str>,
        at_ms: i64,
        unless_since_ms: Option<i64>,
    ) -> Result<Option<i64>, ConfigError> {
        let mut client = self.pool.get().await?;
        let transaction = client.transaction().await?;
        // Replicas queueing the same tenant's run at once take turns.
        transaction
            .execute(
                "SELECT pg_advisory_xact_lock(hashtext('compliance:' || $1))",
                &[&tenant.as_str()],
            )
            .await?;
        let id = first(
            &*transaction,
            "INSERT INTO compliance_runs (tenant, site, requested_by, status, queued_ms)
             SELECT $1, $2, $3, 'queued', $4
             WHERE NOT EXISTS (SELECT 1 FROM compliance_runs WHERE tenant = $1
                 AND (status IN ('queued', 'running')
                      OR ($5::BIGINT IS NOT NULL AND queued_ms >= $5)))
             RETURNING id",
            &[
                &tenant.as_str(),
                &site,
                &requested_by,
                &at_ms,
                &unless_since_ms,
            ],
            |row| row.integer(0),
        )
        .await?;
        transaction.commit().await?;
        Ok(id)
    }

    async fn claim_compliance_run(
        &self,
        at_ms: i64,
        stale_before_ms: i64,
    ) -> Result<Option<ComplianceRun>, ConfigError> {
        let client = self.pool.get().await?;
        first(
            &**client,
            &format!(
                "UPDATE compliance_runs SET status = 'running', started_ms = $1
                 WHERE id = (SELECT id FROM compliance_runs
                             WHERE status = 'queued' OR (status = 'running' AND started_ms < $2)
                             ORDER BY queued_ms, id LIMIT 1 FOR UPDATE SKIP LOCKED)
                 RETURNING {COMPLIANCE_COLUMNS}"
            ),
            &[&at_ms, &stale_before_ms],
            compliance_from_row,
        )
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
        let client = self.pool.get().await?;
        client
            .execute(
                "UPDATE compliance_runs SET status = $2, finished_ms = $3, report = $4, error = $5
                 WHERE id = $1",
                &[&id, &status.code(), &at_ms, &report, &error],
            )
            .await?;
        Ok(())
    }

    async fn compliance_runs(
        &self,
        tenant: &TenantId,
        limit: u32,
    ) -> Result<Vec<ComplianceRun>, ConfigError> {
        let client = self.pool.get().await?;
        all(
            &**client,
            &format!(
                "SELECT {COMPLIANCE_COLUMNS} FROM compliance_runs WHERE tenant = $1
                 ORDER BY queued_ms DESC, id DESC LIMIT $2"
            ),
            &[&tenant.as_str(), &i64::from(limit)],
            compliance_from_row,
        )
        .await
    }
}
