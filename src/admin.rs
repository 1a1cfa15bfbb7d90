//! `satisfy admin …`: the operator's commands for first setup and automation. They work
//! on the console's configuration database directly, also while the server runs (SQLite
//! in WAL mode lets both write).

use chrono::TimeZone;
use clap::{Args, Subcommand};
use satisfy_console::ConfigStore;
use satisfy_console::roles::Role;
use satisfy_console::store::{AuditEntry, Tenant, TenantStatus};
use satisfy_core::{Scope, TenantId};

use crate::configuration::{
    DatabaseSettings, parse_http_url, parse_public_url, parse_tenant, parse_time_zone,
};

/// `satisfy admin`.
#[derive(Debug, Args)]
pub struct AdminSettings {
    /// The console's configuration database, as given to `serve` or `console`.
    #[command(flatten)]
    pub database: DatabaseSettings,

    #[command(subcommand)]
    pub command: AdminCommand,
}

/// What to manage.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Tenants (enti).
    #[command(subcommand)]
    Tenants(TenantCommand),
    /// Users of a tenant.
    #[command(subcommand)]
    Users(UserCommand),
    /// API tokens of a tenant.
    #[command(subcommand)]
    Tokens(TokenCommand),
    /// Prints the audit log, newest first, as CSV: time (UTC), tenant, actor, action, target.
    Audit {
        /// Only this tenant's entries (default: every tenant's and the platform's).
        #[arg(long, value_parser = parse_tenant)]
        tenant: Option<TenantId>,
        /// How many entries at most.
        #[arg(long, default_value_t = 1000)]
        limit: u32,
    },
}

/// `satisfy admin users …`.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Creates a user without a password and prints their one-time set-password link,
    /// valid 72 hours (send it to them yourself: no e-mail is involved).
    Create {
        /// The tenant they work in.
        #[arg(long, value_parser = parse_tenant)]
        tenant: TenantId,
        /// Login name: lowercase letters, digits, `.`, `_`, `-`, `@`.
        #[arg(long)]
        username: String,
        /// admin, editor, viewer or auditor.
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// Base URL users reach the console at, for the link.
        #[arg(long, env = "SATISFY_PUBLIC_URL", default_value = "http://127.0.0.1:8080", value_parser = parse_public_url)]
        public_url: String,
    },
    /// Gives an existing user a role in another tenant (or changes it there); the console
    /// header then lets them switch.
    Grant {
        /// The tenant.
        #[arg(long, value_parser = parse_tenant)]
        tenant: TenantId,
        /// The user.
        #[arg(long)]
        username: String,
        /// admin, editor, viewer or auditor.
        #[arg(long, value_parser = parse_role)]
        role: Role,
    },
}

/// `satisfy admin tenants …`.
#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Creates a tenant and prints its slug.
    Create {
        /// Identifier: lowercase letters, digits, `-` and `_` (e.g. `bugliano`).
        #[arg(long, value_parser = parse_tenant)]
        slug: TenantId,
        /// Display name, e.g. "Comune di Bugliano" (1-120 characters).
        #[arg(long, value_parser = satisfy_console::forms::parse_name)]
        name: String,
        /// IANA time zone of its days, weeks and months.
        #[arg(long, default_value = "Europe/Rome", value_parser = parse_time_zone)]
        time_zone: chrono_tz::Tz,
        /// Home page of its site (the compliance crawl starts there).
        #[arg(long, value_parser = parse_http_url)]
        site_url: Option<String>,
        /// Codice IPA.
        #[arg(long)]
        ipa_code: Option<String>,
        /// Languages of its site, comma-separated among it, en, de.
        #[arg(long, default_value = "it,en,de", value_parser = parse_languages)]
        languages: Languages,
        /// Months its comments, raw ratings and raw events are kept (1-120).
        #[arg(long, default_value_t = Tenant::DEFAULT_RETENTION_MONTHS, value_parser = parse_retention_months)]
        retention_months: u32,
    },
    /// Changes a tenant's settings; only the options given change (an empty --site-url or
    /// --ipa-code clears it).
    Update {
        /// The tenant.
        #[arg(long, value_parser = parse_tenant)]
        slug: TenantId,
        /// Display name (1-120 characters).
        #[arg(long, value_parser = satisfy_console::forms::parse_name)]
        name: Option<String>,
        /// IANA time zone of its days and weeks.
        #[arg(long, value_parser = parse_time_zone)]
        time_zone: Option<chrono_tz::Tz>,
        /// Home page of its site.
        #[arg(long, value_parser = parse_optional_url)]
        site_url: Option<String>,
        /// Codice IPA.
        #[arg(long)]
        ipa_code: Option<String>,
        /// Languages of its site, comma-separated among it, en, de.
        #[arg(long, value_parser = parse_languages)]
        languages: Option<Languages>,
        /// Months its comments, raw ratings and raw events are kept (1-120); a running
        /// console deletes what is older at its next hourly sweep.
        #[arg(long, value_parser = parse_retention_months)]
        retention_months: Option<u32>,
    },
    /// Lists the tenants: slug, status, name.
    List,
    /// Suspends a tenant: its entrypoints answer 404 at intake, its users and tokens are
    /// refused; its data is kept.
    Suspend {
        /// The tenant.
        #[arg(long, value_parser = parse_tenant)]
        slug: TenantId,
    },
    /// Reactivates a suspended tenant.
    Resume {
        /// The tenant.
        #[arg(long, value_parser = parse_tenant)]
        slug: TenantId,
    },
}

/// `satisfy admin tokens …`.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Issues a token and prints it, once, alone on stdout.
    Create {
        /// The tenant it acts for.
        #[arg(long, value_parser = parse_tenant)]
        tenant: TenantId,
        /// What it is for, e.g. "OpenCity" or "cruscotto regionale" (1-100 characters).
        #[arg(long, value_parser = satisfy_console::tokens::parse_name)]
        name: String,
        /// Comma-separated among read, write, events:write.
        #[arg(long, value_parser = parse_scopes)]
        scopes: Scopes,
        /// Refuse it after this many days, 1-3650 (default: until revoked).
        #[arg(long, value_parser = satisfy_console::tokens::parse_days)]
        expires_in_days: Option<u16>,
    },
    /// Lists a tenant's tokens: id, scopes, state, last use, name.
    List {
        /// The tenant.
        #[arg(long, value_parser = parse_tenant)]
        tenant: TenantId,
    },
    /// Revokes a token by id.
    Revoke {
        /// The tenant.
        #[arg(long, value_parser = parse_tenant)]
        tenant: TenantId,
        /// The token's id (the part after `sat_`, as `list` shows it).
        #[arg(long)]
        id: String,
    },
}

/// A retention period in months, within [`Tenant::RETENTION_MONTHS`].
fn parse_retention_months(raw: &str) -> Result<u32, String> {
    raw.parse().ok().and_then(Tenant::retention).ok_or_else(|| {
        let (min, max) = Tenant::RETENTION_MONTHS.into_inner();
        format!("a number of months between {min} and {max}")
    })
}

/// A comma-separated list of site languages.
#[derive(Debug, Clone)]
pub struct Languages(Vec<String>);

/// A comma-separated list of token scopes.
#[derive(Debug, Clone)]
pub struct Scopes(Vec<Scope>);

fn parse_languages(raw: &str) -> Result<Languages, String> {
    let languages: Vec<String> = raw.split(',').map(|l| l.trim().to_owned()).collect();
    if languages
        .iter()
        .all(|l| ["it", "en", "de"].contains(&l.as_str()))
    {
        Ok(Languages(languages))
    } else {
        Err("expected a comma-separated list among it, en, de".into())
    }
}

/// A URL, or nothing to clear it.
fn parse_optional_url(raw: &str) -> Result<String, String> {
    if raw.is_empty() {
        Ok(String::new())
    } else {
        parse_http_url(raw)
    }
}

fn parse_role(raw: &str) -> Result<Role, String> {
    Role::parse(raw).ok_or_else(|| "expected admin, editor, viewer or auditor".into())
}

fn parse_scopes(raw: &str) -> Result<Scopes, String> {
    Scope::parse_list(raw)
        .map(Scopes)
        .ok_or_else(|| "expected a comma-separated list among read, write, events:write".into())
}

fn date(seconds: i64) -> String {
    chrono::Utc
        .timestamp_opt(seconds, 0)
        .single()
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

/// Records an operator's action, done with `satisfy admin`.
async fn audit(
    store: &dyn ConfigStore,
    tenant: Option<&TenantId>,
    action: &str,
    target: Option<&str>,
) -> anyhow::Result<()> {
    store
        .record(AuditEntry::now(tenant, "cli", action, target))
        .await?;
    Ok(())
}

async fn set_status(
    store: &dyn ConfigStore,
    slug: &TenantId,
    status: TenantStatus,
) -> anyhow::Result<()> {
    if !store.set_tenant_status(slug, status).await? {
        anyhow::bail!("no tenant called `{slug}`");
    }
    Ok(())
}

/// Runs an admin command, printing its result on stdout.
pub async fn run(settings: AdminSettings) -> anyhow::Result<()> {
    let store = settings.database.open().await?;
    let store = store.as_ref();
    match settings.command {
        AdminCommand::Tenants(TenantCommand::Create {
            slug,
            name,
            time_zone,
            site_url,
            ipa_code,
            languages,
            retention_months,
        }) => {
            let tenant = Tenant {
                slug,
                name,
                ipa_code,
                site_url,
                time_zone: time_zone.name().to_owned(),
                languages: languages.0,
                status: TenantStatus::Active,
                created_at: chrono::Utc::now().timestamp(),
                retention_months,
            };
            store.create_tenant(&tenant).await?;
            audit(store, Some(&tenant.slug), "tenant_created", None).await?;
            println!("{}", tenant.slug);
        }
        AdminCommand::Tenants(TenantCommand::Update {
            slug,
            name,
            time_zone,
            site_url,
            ipa_code,
            languages,
            retention_months,
        }) => {
            let Some(mut tenant) = store.tenant(&slug).await? else {
                anyhow::bail!("no tenant called `{slug}`");
            };
            if let Some(name) = name {
                tenant.name = name;
            }
            if let Some(zone) = time_zone {
                tenant.time_zone = zone.name().to_owned();
            }
            if let Some(url) = site_url {
                tenant.site_url = Some(url).filter(|u| !u.is_empty());
            }
            if let Some(code) = ipa_code {
                tenant.ipa_code = Some(code).filter(|c| !c.is_empty());
            }
            if let Some(languages) = languages {
                tenant.languages = languages.0;
            }
            if let Some(months) = retention_months {
                tenant.retention_months = months;
            }
            store.update_tenant(&tenant).await?;
            audit(store, Some(&slug), "tenant_updated", None).await?;
            println!("updated {slug}");
        }
        AdminCommand::Tenants(TenantCommand::List) => {
            for tenant in store.tenants().await? {
                let status = match tenant.status {
                    TenantStatus::Active => "active",
                    TenantStatus::Suspended => "suspended",
                };
                println!("{}\t{status}\t{}", tenant.slug, tenant.name);
            }
        }
        AdminCommand::Tenants(TenantCommand::Suspend { slug }) => {
            set_status(store, &slug, TenantStatus::Suspended).await?;
            audit(store, Some(&slug), "tenant_suspended", None).await?;
            println!("suspended {slug}");
        }
        AdminCommand::Tenants(TenantCommand::Resume { slug }) => {
            set_status(store, &slug, TenantStatus::Active).await?;
            audit(store, Some(&slug), "tenant_resumed", None).await?;
            println!("resumed {slug}");
        }
        AdminCommand::Users(UserCommand::Create {
            tenant,
            username,
            role,
            public_url,
        }) => {
            let link = satisfy_console::invitations::invite(
                store,
                &public_url,
                tenant.clone(),
                &username,
                role,
            )
            .await?;
            let what = format!("{username} ({})", role.as_str());
            audit(store, Some(&tenant), "user_invited", Some(&what)).await?;
            println!("{link}");
        }
        AdminCommand::Users(UserCommand::Grant {
            tenant,
            username,
            role,
        }) => {
            store.grant(&username, &tenant, role).await?;
            let what = format!("{username} ({})", role.as_str());
            audit(store, Some(&tenant), "role_granted", Some(&what)).await?;
            println!("{username} is {} in {tenant}", role.as_str());
        }
        AdminCommand::Tokens(TokenCommand::Create {
            tenant,
            name,
            scopes,
            expires_in_days,
        }) => {
            let expires_at = expires_in_days.map(satisfy_console::tokens::expires_at);
            let issued =
                satisfy_console::tokens::issue(store, tenant, name, scopes.0, expires_at).await?;
            let id = issued.token.id.clone();
            audit(
                store,
                Some(&issued.token.tenant),
                "token_created",
                Some(&id),
            )
            .await?;
            println!("{}", issued.secret);
        }
        AdminCommand::Tokens(TokenCommand::List { tenant }) => {
            if store.tenant(&tenant).await?.is_none() {
                anyhow::bail!("no tenant called `{tenant}`");
            }
            let now = chrono::Utc::now().timestamp();
            for token in store.tokens(&tenant).await? {
                let state = match (token.revoked_at, token.expires_at) {
                    (Some(at), _) => format!("revoked {}", date(at)),
                    (None, Some(at)) if at <= now => format!("expired {}", date(at)),
                    (None, Some(at)) => format!("expires {}", date(at)),
                    (None, None) => "valid".to_owned(),
                };
                let used = token
                    .last_used_at
                    .map(date)
                    .unwrap_or_else(|| "never used".into());
                println!(
                    "{}\t{}\t{state}\t{used}\t{}",
                    token.id,
                    Scope::join(&token.scopes),
                    token.name
                );
            }
        }
        AdminCommand::Tokens(TokenCommand::Revoke { tenant, id }) => {
            if !store.revoke_token(&tenant, &id).await? {
                anyhow::bail!("tenant `{tenant}` has no valid token `{id}`");
            }
            audit(store, Some(&tenant), "token_revoked", Some(&id)).await?;
            println!("revoked {id}");
        }
        AdminCommand::Audit { tenant, limit } => {
            let entries = store.audit_log(tenant.as_ref(), limit).await?;
            let csv = satisfy_console::audit::to_csv(&entries, true)?;
            std::io::Write::write_all(&mut std::io::stdout().lock(), &csv)?;
        }
    }
    Ok(())
}
