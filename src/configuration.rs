//! Settings of `satisfy serve`, from flags or `SATISFY_*` environment variables.

use chrono_tz::Tz;
use clap::Args;
use satisfy_core::TenantId;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Everything `satisfy serve` can be told. Invalid values stop the start with a message.
#[derive(Debug, Clone, Args)]
pub struct Settings {
    /// Address to listen on.
    #[arg(long, env = "SATISFY_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Directory of the SQLite databases.
    #[arg(long, env = "SATISFY_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,

    /// URL citizens' browsers reach this server at (used in snippets); defaults to
    /// `http://<listen address>`.
    #[arg(long, env = "SATISFY_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Password of the `admin` user created at first start; random and printed once if unset.
    #[arg(long, env = "SATISFY_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,

    /// Tenant (ente) of the first user and of the demo entrypoint.
    #[arg(long, env = "SATISFY_TENANT", default_value = "comune", value_parser = parse_tenant)]
    pub tenant: TenantId,

    /// IANA time zone of days, weeks and months in statistics.
    #[arg(long, env = "SATISFY_TIME_ZONE", default_value = "Europe/Rome", value_parser = parse_time_zone)]
    pub time_zone: Tz,

    /// Trust X-Forwarded-For for client addresses (only behind a reverse proxy that sets it).
    #[arg(long, env = "SATISFY_TRUST_FORWARDED_FOR", default_value_t = false)]
    pub trust_forwarded_for: bool,

    /// Requests a client may burst to POST /v1/ratings before it is rate limited.
    #[arg(long, env = "SATISFY_RATE_LIMIT_BURST", default_value_t = 60)]
    pub rate_limit_burst: u32,

    /// Sustained requests per second per client once the burst is spent.
    #[arg(long, env = "SATISFY_RATE_LIMIT_PER_SECOND", default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..))]
    pub rate_limit_per_second: u32,

    /// Mark console cookies Secure (when the console is served over HTTPS).
    #[arg(long, env = "SATISFY_SECURE_COOKIES", default_value_t = false)]
    pub secure_cookies: bool,
}

fn parse_tenant(raw: &str) -> Result<TenantId, String> {
    TenantId::parse(raw).ok_or_else(|| "a tenant is 1-64 lowercase letters, digits, - or _".into())
}

fn parse_time_zone(raw: &str) -> Result<Tz, String> {
    raw.parse::<Tz>()
        .map_err(|_| format!("`{raw}` is not an IANA time zone such as Europe/Rome"))
}

impl Settings {
    /// The public base URL without trailing slash.
    pub fn public_url(&self, bound: SocketAddr) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None if bound.ip().is_unspecified() => format!("http://127.0.0.1:{}", bound.port()),
            None => format!("http://{bound}"),
        }
    }
}
