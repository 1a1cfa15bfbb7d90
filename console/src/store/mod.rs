//! The console's own configuration: tenants, users, memberships, sessions, invitations,
//! API tokens, entrypoints, the audit log and settings, behind one [`ConfigStore`] trait
//! with two implementations: SQLite for embedded mode ([`SqliteConfigStore`]) and
//! PostgreSQL for distributed mode ([`PostgresConfigStore`]), where several console
//! replicas share one database. Both pass the same conformance suite
//! (console/tests/config_store.rs).
//!
//! Every method that reads or changes a tenant's resource takes the tenant: nothing is
//! read by id alone, so one tenant's id in another tenant's request finds nothing.

mod postgres;
mod sqlite;

pub use postgres::PostgresConfigStore;
pub use sqlite::SqliteConfigStore;

use crate::roles::Role;
use async_trait::async_trait;
use satisfy_core::{
    CustomSurvey, Entrypoint, EntrypointId, EntrypointKind, EntrypointStatus, Origin, Scope,
    TenantId,
};
use std::path::Path;
use std::sync::Arc;
use tokio::sync::watch;

/// The configuration store the console and `satisfy admin` share.
pub type SharedConfigStore = Arc<dyn ConfigStore>;

/// Where the configuration lives: a PostgreSQL URL when one is given, else `console.db`
/// in the data directory.
pub async fn open(
    database_url: Option<&str>,
    data_dir: &Path,
) -> Result<SharedConfigStore, ConfigError> {
    match database_url {
        Some(url) => Ok(Arc::new(PostgresConfigStore::connect(url).await?)),
        None => {
            std::fs::create_dir_all(data_dir).map_err(|error| {
                ConfigError::Storage(format!(
                    "creating data directory {}: {error}",
                    data_dir.display()
                ))
            })?;
            Ok(Arc::new(SqliteConfigStore::open(
                &data_dir.join("console.db"),
            )?))
        }
    }
}

/// The console's configuration, whatever holds it.
#[async_trait]
pub trait ConfigStore: Send + Sync {
    /// A receiver that changes whenever this process changes an entrypoint or a tenant's
    /// status (other processes' changes are seen by polling).
    fn subscribe(&self) -> watch::Receiver<u64>;

    /// Number of users.
    async fn user_count(&self) -> Result<u64, ConfigError>;
    /// Creates a user with an already hashed password (empty until an invitation sets
    /// it) and their role in their tenant; [`ConfigError::Conflict`] when the username
    /// is taken.
    async fn create_user(&self, user: User) -> Result<(), ConfigError>;
    /// The user called `username`, unless their tenant is suspended or they hold no role
    /// in it.
    async fn find_user(&self, username: &str) -> Result<Option<User>, ConfigError>;
    /// A tenant's users by username, with their role there and whether they have set a
    /// password.
    async fn users(&self, tenant: &TenantId) -> Result<Vec<Member>, ConfigError>;
    /// Whether an account called `username` exists, in any tenant.
    async fn username_taken(&self, username: &str) -> Result<bool, ConfigError>;
    /// Gives `username` a role in `tenant` (or changes it).
    async fn grant(&self, username: &str, tenant: &TenantId, role: Role)
    -> Result<(), ConfigError>;
    /// The active tenants `username` may work in, by name: every one for a platform
    /// administrator.
    async fn tenants_of(&self, username: &str) -> Result<Vec<Tenant>, ConfigError>;

    /// Stores a session by the hash of its token (and drops expired ones).
    async fn create_session(&self, session: NewSession) -> Result<(), ConfigError>;
    /// The unexpired session with this token hash, of a user
    /// [`find_user`](Self::find_user) would find, in the tenant it switched to if the user
    /// still holds a role there.
    async fn find_session(&self, token_hash: &str) -> Result<Option<Session>, ConfigError>;
    /// Makes a session work in `tenant` from now on.
    async fn switch_session(&self, token_hash: &str, tenant: &TenantId) -> Result<(), ConfigError>;
    /// Ends a session.
    async fn delete_session(&self, token_hash: &str) -> Result<(), ConfigError>;
    /// Ends every session of a user ("sign out everywhere").
    async fn delete_sessions(&self, username: &str) -> Result<(), ConfigError>;
    /// Replaces a user's password and ends their other sessions (all of them when
    /// `keep_session` is `None`).
    async fn change_password(
        &self,
        username: &str,
        password_hash: &str,
        keep_session: Option<&str>,
    ) -> Result<(), ConfigError>;

    /// Stores a one-time invitation for `username` under the hash of its token.
    async fn create_invitation(
        &self,
        username: &str,
        token_hash: &str,
        expires_at: i64,
    ) -> Result<(), ConfigError>;
    /// The user an unused, unexpired invitation is for.
    async fn invitation(&self, token_hash: &str) -> Result<Option<User>, ConfigError>;
    /// Sets a password through an invitation, which can then not be used again; the
    /// user's other invitations and sessions end. False when the invitation is no longer
    /// valid.
    async fn accept_invitation(
        &self,
        token_hash: &str,
        password_hash: &str,
    ) -> Result<bool, ConfigError>;

    /// Stores a new entrypoint (made by [`new_entrypoint`]).
    async fn create_entrypoint(&self, entrypoint: &Entrypoint) -> Result<(), ConfigError>;
    /// The tenant's entrypoint with this id.
    async fn entrypoint(
        &self,
        tenant: &TenantId,
        id: &EntrypointId,
    ) -> Result<Option<Entrypoint>, ConfigError>;
    /// A tenant's entrypoints, newest first.
    async fn entrypoints(&self, tenant: &TenantId) -> Result<Vec<Entrypoint>, ConfigError>;
    /// What intake serves: the entrypoints of every active tenant. A suspended tenant's
    /// entrypoints are left out, so they answer 404 while their data is kept.
    async fn intake_entrypoints(&self) -> Result<Vec<Entrypoint>, ConfigError>;
    /// Applies `changes` to the tenant's entrypoint and returns it as stored.
    async fn update_entrypoint(
        &self,
        tenant: &TenantId,
        id: &EntrypointId,
        changes: EntrypointChanges,
    ) -> Result<Option<Entrypoint>, ConfigError>;

    /// Creates a tenant; [`ConfigError::Conflict`] when the slug is taken.
    async fn create_tenant(&self, tenant: &Tenant) -> Result<(), ConfigError>;
    /// Creates the tenant `slug` with default settings unless it exists (the first
    /// user's tenant at first start).
    async fn ensure_tenant(&self, slug: &TenantId) -> Result<(), ConfigError>;
    /// The tenant with this slug.
    async fn tenant(&self, slug: &TenantId) -> Result<Option<Tenant>, ConfigError>;
    /// Every tenant, by slug.
    async fn tenants(&self) -> Result<Vec<Tenant>, ConfigError>;
    /// Replaces a tenant's name, codice IPA, site URL, time zone and languages (its slug,
    /// status and creation time stay); false when there is no such tenant.
    async fn update_tenant(&self, tenant: &Tenant) -> Result<bool, ConfigError>;
    /// Suspends or reactivates a tenant; false when there is no such tenant.
    async fn set_tenant_status(
        &self,
        slug: &TenantId,
        status: TenantStatus,
    ) -> Result<bool, ConfigError>;

    /// Stores a token of an existing tenant under the hash of its secret.
    async fn create_token(&self, token: &ApiToken, token_hash: &str) -> Result<(), ConfigError>;
    /// The usable token with this secret hash (not revoked, not expired, of an active
    /// tenant), marking it used now.
    async fn use_token(&self, token_hash: &str) -> Result<Option<ApiToken>, ConfigError>;
    /// A tenant's tokens, newest first.
    async fn tokens(&self, tenant: &TenantId) -> Result<Vec<ApiToken>, ConfigError>;
    /// Revokes a tenant's token; false when the tenant has no such live token.
    async fn revoke_token(&self, tenant: &TenantId, id: &str) -> Result<bool, ConfigError>;

    /// Appends to the audit log.
    async fn record(&self, entry: AuditEntry) -> Result<(), ConfigError>;
    /// The latest `limit` entries, newest first: one tenant's, or all with `None`.
    async fn audit_log(
        &self,
        tenant: Option<&TenantId>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, ConfigError>;

    /// A stored setting.
    async fn setting(&self, key: &str) -> Result<Option<String>, ConfigError>;
    /// Stores a setting.
    async fn set_setting(&self, key: &str, value: &str) -> Result<(), ConfigError>;

    /// Queues a PNRR compliance run of `tenant`'s `site`, unless one is queued or running,
    /// or (with `unless_since_ms`) one was queued since then; returns the new run's id.
    async fn queue_compliance_run(
        &self,
        tenant: &TenantId,
        site: &str,
        requested_by: Option<&str>,
        at_ms: i64,
        unless_since_ms: Option<i64>,
    ) -> Result<Option<i64>, ConfigError>;
    /// Claims the oldest queued run, or a run started before `stale_before_ms` whose runner
    /// stopped: it runs from `at_ms`. One replica gets each run.
    async fn claim_compliance_run(
        &self,
        at_ms: i64,
        stale_before_ms: i64,
    ) -> Result<Option<ComplianceRun>, ConfigError>;
    /// Records a run's end: its report (JSON), or why it could not run.
    async fn finish_compliance_run(
        &self,
        id: i64,
        at_ms: i64,
        outcome: Result<String, String>,
    ) -> Result<(), ConfigError>;
    /// The tenant's latest runs, newest first.
    async fn compliance_runs(
        &self,
        tenant: &TenantId,
        limit: u32,
    ) -> Result<Vec<ComplianceRun>, ConfigError>;
}

/// Where a compliance run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComplianceStatus {
    /// Waiting for a runner.
    Queued,
    /// Being crawled and checked.
    Running,
    /// Finished with a report.
    Done,
    /// Could not run (no browser, say); `error` says why.
    Failed,
}

impl ComplianceStatus {
    /// The stored code.
    pub fn code(self) -> &'static str {
        match self {
            ComplianceStatus::Queued => "queued",
            ComplianceStatus::Running => "running",
            ComplianceStatus::Done => "done",
            ComplianceStatus::Failed => "failed",
        }
    }

    fn parse(code: &str) -> Option<ComplianceStatus> {
        [
            ComplianceStatus::Queued,
            ComplianceStatus::Running,
            ComplianceStatus::Done,
            ComplianceStatus::Failed,
        ]
        .into_iter()
        .find(|s| s.code() == code)
    }
}

/// A PNRR compliance run of a tenant's site (`satisfy-compliance`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComplianceRun {
    /// Its number.
    pub id: i64,
    /// The tenant whose site it checks.
    pub tenant: TenantId,
    /// The site's homepage.
    pub site: String,
    /// Who asked for it; `None` for the weekly schedule.
    pub requested_by: Option<String>,
    /// Where it stands.
    pub status: ComplianceStatus,
    /// When it was queued, Unix milliseconds.
    pub queued_ms: i64,
    /// When a runner started it.
    pub started_ms: Option<i64>,
    /// When it ended.
    pub finished_ms: Option<i64>,
    /// The report, as `satisfy compliance --json` writes it.
    pub report: Option<String>,
    /// Why it could not run.
    pub error: Option<String>,
}

const COMPLIANCE_COLUMNS: &str =
    "id, tenant, site, requested_by, status, queued_ms, started_ms, finished_ms, report, error";

fn compliance_from_row(row: &dyn Columns) -> Result<ComplianceRun, ConfigError> {
    Ok(ComplianceRun {
        id: row.integer(0)?,
        tenant: TenantId::parse(&row.text(1)?)
            .ok_or_else(|| invalid("compliance_runs", "tenant"))?,
        site: row.text(2)?,
        requested_by: row.optional_text(3)?,
        status: ComplianceStatus::parse(&row.text(4)?)
            .ok_or_else(|| invalid("compliance_runs", "status"))?,
        queued_ms: row.integer(5)?,
        started_ms: row.optional_integer(6)?,
        finished_ms: row.optional_integer(7)?,
        report: row.optional_text(8)?,
        error: row.optional_text(9)?,
    })
}

/// A failure of the configuration store.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The thing to create exists already (a username, a tenant slug).
    #[error("{0}")]
    Conflict(String),
    /// Something named does not exist (a tenant, a user).
    #[error("{0}")]
    NotFound(String),
    /// The database failed or holds something that does not parse.
    #[error("configuration store: {0}")]
    Storage(String),
}

impl ConfigError {
    /// A storage error with a message.
    pub fn from_message(message: String) -> ConfigError {
        ConfigError::Storage(message)
    }
}

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

/// Whether a tenant may use Satisfy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TenantStatus {
    /// In use.
    Active,
    /// Its entrypoints and users are refused; its data is kept.
    Suspended,
}

impl TenantStatus {
    /// The stored code.
    pub fn code(self) -> &'static str {
        match self {
            TenantStatus::Active => "active",
            TenantStatus::Suspended => "suspended",
        }
    }

    fn parse(code: &str) -> Option<TenantStatus> {
        match code {
            "active" => Some(TenantStatus::Active),
            "suspended" => Some(TenantStatus::Suspended),
            _ => None,
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
    /// Months its comments, raw ratings and raw events are kept
    /// (within [`Tenant::RETENTION_MONTHS`]); aggregates are kept for good.
    pub retention_months: u32,
}

impl Tenant {
    /// Retention a tenant starts with, in months.
    pub const DEFAULT_RETENTION_MONTHS: u32 = 24;
    /// The retention periods a tenant may choose, in months.
    pub const RETENTION_MONTHS: std::ops::RangeInclusive<u32> = 1..=120;

    /// `months` as a retention period, if it is one of [`Tenant::RETENTION_MONTHS`].
    pub fn retention(months: i64) -> Option<u32> {
        u32::try_from(months)
            .ok()
            .filter(|months| Tenant::RETENTION_MONTHS.contains(months))
    }
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

/// A console user.
#[derive(Debug, Clone, PartialEq, Eq)]
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

/// A user as a tenant's team page lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Login name.
    pub username: String,
    /// Their role in the tenant.
    pub role: Role,
    /// False while their invitation is pending.
    pub has_password: bool,
}

/// A session to store.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// SHA-256 of the cookie's token.
    pub token_hash: String,
    /// Who signed in.
    pub username: String,
    /// Token every form of this session must echo.
    pub csrf_token: String,
    /// Unix seconds.
    pub expires_at: i64,
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
    /// New rated service: `Some(None)` clears it.
    pub service: Option<Option<String>>,
}

impl EntrypointChanges {
    /// `entrypoint` with these changes.
    fn apply(self, mut entrypoint: Entrypoint) -> Entrypoint {
        if let Some(name) = self.name {
            entrypoint.name = name;
        }
        if let Some(status) = self.status {
            entrypoint.status = status;
        }
        if let Some(origins) = self.allowed_origins {
            entrypoint.allowed_origins = origins;
        }
        if self.custom.is_some() {
            entrypoint.custom = self.custom;
        }
        if let Some(service) = self.service {
            entrypoint.service = service;
        }
        entrypoint
    }
}

/// A new active entrypoint with a fresh random id, created now.
pub fn new_entrypoint(
    tenant: TenantId,
    name: String,
    kind: EntrypointKind,
    allowed_origins: Vec<Origin>,
    custom: Option<CustomSurvey>,
) -> Entrypoint {
    Entrypoint {
        id: EntrypointId::from_random(rand::random()),
        tenant,
        name,
        kind,
        status: EntrypointStatus::Active,
        allowed_origins,
        custom,
        service: None,
        created_at: now(),
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Reads one column of a result row, whichever database it came from. The row decoders
/// below are written once against it.
trait Columns {
    fn text(&self, index: usize) -> Result<String, ConfigError>;
    fn optional_text(&self, index: usize) -> Result<Option<String>, ConfigError>;
    fn integer(&self, index: usize) -> Result<i64, ConfigError>;
    fn optional_integer(&self, index: usize) -> Result<Option<i64>, ConfigError>;
    fn flag(&self, index: usize) -> Result<bool, ConfigError>;
}

/// The error of a stored value that does not parse (a database edited by hand).
fn invalid(table: &str, what: &str) -> ConfigError {
    ConfigError::Storage(format!("invalid {what} in the {table} table"))
}

fn json_text<T: serde::Serialize>(value: &T) -> Result<String, ConfigError> {
    serde_json::to_string(value).map_err(|error| ConfigError::Storage(error.to_string()))
}

/// Columns: username, password_hash, tenant, platform_admin, role (of the membership in
/// that tenant, if any). `None` for a user without a role there.
fn user_from_row(row: &dyn Columns) -> Result<Option<User>, ConfigError> {
    let platform_admin = row.flag(3)?;
    let role = if platform_admin {
        Some(Role::Admin)
    } else {
        row.optional_text(4)?.as_deref().and_then(Role::parse)
    };
    let Some(role) = role else {
        return Ok(None);
    };
    Ok(Some(User {
        username: row.text(0)?,
        password_hash: row.text(1)?,
        tenant: TenantId::parse(&row.text(2)?).ok_or_else(|| invalid("users", "tenant"))?,
        role,
        platform_admin,
    }))
}

/// Columns: username, role, has_password.
fn member_from_row(row: &dyn Columns) -> Result<Member, ConfigError> {
    Ok(Member {
        username: row.text(0)?,
        role: Role::parse(&row.text(1)?).ok_or_else(|| invalid("memberships", "role"))?,
        has_password: row.flag(2)?,
    })
}

const TENANT_COLUMNS: &str =
    "slug, name, ipa_code, site_url, time_zone, languages, status, created_at, retention_months";

fn tenant_from_row(row: &dyn Columns) -> Result<Tenant, ConfigError> {
    Ok(Tenant {
        slug: TenantId::parse(&row.text(0)?).ok_or_else(|| invalid("tenants", "slug"))?,
        name: row.text(1)?,
        ipa_code: row.optional_text(2)?,
        site_url: row.optional_text(3)?,
        time_zone: row.text(4)?,
        languages: row.text(5)?.split(',').map(str::to_owned).collect(),
        status: TenantStatus::parse(&row.text(6)?).ok_or_else(|| invalid("tenants", "status"))?,
        created_at: row.integer(7)?,
        retention_months: Tenant::retention(row.integer(8)?)
            .ok_or_else(|| invalid("tenants", "retention_months"))?,
    })
}

const TOKEN_COLUMNS: &str =
    "id, tenant, name, scopes, created_at, expires_at, last_used_at, revoked_at";

fn token_from_row(row: &dyn Columns) -> Result<ApiToken, ConfigError> {
    Ok(ApiToken {
        id: row.text(0)?,
        tenant: TenantId::parse(&row.text(1)?).ok_or_else(|| invalid("api_tokens", "tenant"))?,
        name: row.text(2)?,
        scopes: Scope::parse_list(&row.text(3)?).ok_or_else(|| invalid("api_tokens", "scopes"))?,
        created_at: row.integer(4)?,
        expires_at: row.optional_integer(5)?,
        last_used_at: row.optional_integer(6)?,
        revoked_at: row.optional_integer(7)?,
    })
}

const ENTRYPOINT_COLUMNS: &str =
    "id, tenant, name, kind, status, allowed_origins, custom, created_at, service";

fn entrypoint_from_row(row: &dyn Columns) -> Result<Entrypoint, ConfigError> {
    let bad = |what: &str| invalid("entrypoints", what);
    Ok(Entrypoint {
        id: EntrypointId::parse(&row.text(0)?).ok_or_else(|| bad("id"))?,
        tenant: TenantId::parse(&row.text(1)?).ok_or_else(|| bad("tenant"))?,
        name: row.text(2)?,
        kind: EntrypointKind::parse(&row.text(3)?).ok_or_else(|| bad("kind"))?,
        status: EntrypointStatus::parse(&row.text(4)?).ok_or_else(|| bad("status"))?,
        allowed_origins: serde_json::from_str(&row.text(5)?).map_err(|_| bad("origins"))?,
        custom: row
            .optional_text(6)?
            .map(|c| serde_json::from_str(&c))
            .transpose()
            .map_err(|_| bad("custom survey"))?,
        created_at: row.integer(7)?,
        service: row.optional_text(8)?,
    })
}

const AUDIT_COLUMNS: &str = "at_ms, tenant, actor, action, target";

fn audit_from_row(row: &dyn Columns) -> Result<AuditEntry, ConfigError> {
    Ok(AuditEntry {
        at_ms: row.integer(0)?,
        tenant: row
            .optional_text(1)?
            .map(|t| TenantId::parse(&t).ok_or_else(|| invalid("audit_log", "tenant")))
            .transpose()?,
        actor: row.text(2)?,
        action: row.text(3)?,
        target: row.optional_text(4)?,
    })
}

/// `columns` ("a, b, c") qualified by a table alias ("t.a, t.b, t.c"), for joins.
fn qualified(columns: &str, alias: &str) -> String {
    columns
        .split(", ")
        .map(|column| format!("{alias}.{column}"))
        .collect::<Vec<_>>()
        .join(", ")
}
