//! Settings of `satisfy serve`, from flags or `SATISFY_*` environment variables.

use chrono_tz::Tz;
use clap::Args;

pub use crate::http_server::HttpLimits;
use satisfy_aggregator::ClickHouseAccess;
use satisfy_core::TenantId;
use satisfy_core::kafka_access::{KafkaAccess, SASL_MECHANISMS, SECURITY_PROTOCOLS};
use secrecy::{ExposeSecret, SecretString};
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
    #[arg(long, env = "SATISFY_PUBLIC_URL", value_parser = parse_public_url)]
    pub public_url: Option<String>,

    #[command(flatten)]
    pub console: ConsoleBasics,

    #[command(flatten)]
    pub intake: IntakeLimits,

    #[command(flatten)]
    pub http: HttpLimits,

    /// Generate, once, a year of demo events and ratings in a separate `demo` tenant, so
    /// the Servizi pages have something to show; `false` to skip.
    #[arg(long, env = "SATISFY_DEMO_DATA", default_value_t = true, action = clap::ArgAction::Set)]
    pub demo_data: bool,
}

/// Settings of the console shared by `serve` and `console`.
#[derive(Debug, Clone, Args)]
pub struct ConsoleBasics {
    /// Password of the `admin` user created at first start (at least 12 characters);
    /// random and printed once if unset.
    #[arg(long, env = "SATISFY_ADMIN_PASSWORD", hide_env_values = true, value_parser = parse_admin_password)]
    pub admin_password: Option<SecretString>,

    /// Tenant (ente) of the first user (and of the demo entrypoint in `serve`).
    #[arg(long, env = "SATISFY_TENANT", default_value = "comune", value_parser = parse_tenant)]
    pub tenant: TenantId,

    /// IANA time zone of days, weeks and months in statistics.
    #[arg(long, env = "SATISFY_TIME_ZONE", default_value = "Europe/Rome", value_parser = parse_time_zone)]
    pub time_zone: Tz,

    /// Mark console cookies Secure (`__Host-` names) and send HSTS; implied when the
    /// public URL is https.
    #[arg(long, env = "SATISFY_SECURE_COOKIES", default_value_t = false)]
    pub secure_cookies: bool,

    /// Chromium (or Chrome) for the PNRR compliance runs (default: the first on the PATH).
    #[arg(long, env = "SATISFY_COMPLIANCE_BROWSER")]
    pub compliance_browser: Option<std::path::PathBuf>,

    /// Check every active ente's site (its site URL) each week.
    #[arg(long, env = "SATISFY_COMPLIANCE_WEEKLY", default_value_t = true, action = clap::ArgAction::Set)]
    pub compliance_weekly: bool,
}

impl ConsoleBasics {
    /// The console's configuration with these settings; `trust_forwarded_for` keys
    /// sign-in throttling by the address a proxy forwarded.
    pub fn console_config(
        &self,
        public_url: String,
        internal_token: Option<SecretString>,
        trust_forwarded_for: bool,
    ) -> satisfy_console::ConsoleConfig {
        satisfy_console::ConsoleConfig {
            secure_cookies: self.secure_cookies || public_url.starts_with("https://"),
            public_url,
            time_zone: self.time_zone,
            internal_token,
            trust_forwarded_for,
            compliance: satisfy_console::compliance::ComplianceConfig {
                browser: self.compliance_browser.clone(),
                weekly: self.compliance_weekly,
            },
        }
    }
}

fn parse_admin_password(raw: &str) -> Result<SecretString, String> {
    if raw.chars().count() < satisfy_console::MIN_PASSWORD_CHARS {
        return Err(format!(
            "the first administrator's password must have at least {} characters (unset it to get a random one printed once)",
            satisfy_console::MIN_PASSWORD_CHARS
        ));
    }
    Ok(SecretString::from(raw))
}

/// A secret given in a flag or variable: kept out of `Debug` output and logs.
pub(crate) fn parse_secret(raw: &str) -> Result<SecretString, String> {
    if raw.is_empty() {
        return Err("must not be empty".into());
    }
    Ok(SecretString::from(raw))
}

/// Settings of the public intake shared by `serve` and `ingest`.
#[derive(Debug, Clone, Args)]
pub struct IntakeLimits {
    /// Trust X-Forwarded-For for client addresses (only behind a reverse proxy that sets it).
    #[arg(long, env = "SATISFY_TRUST_FORWARDED_FOR", default_value_t = false)]
    pub trust_forwarded_for: bool,

    /// Requests a client may burst to POST /v1/ratings before it is rate limited.
    #[arg(long, env = "SATISFY_RATE_LIMIT_BURST", default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..))]
    pub rate_limit_burst: u32,

    /// Sustained requests per second per client once the burst is spent (at most a
    /// million: the limiter counts in nanoseconds).
    #[arg(long, env = "SATISFY_RATE_LIMIT_PER_SECOND", default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub rate_limit_per_second: u32,
}

impl IntakeLimits {
    /// Ingest's configuration with these settings.
    pub fn ingest_config(&self) -> satisfy_ingest::IngestConfig {
        satisfy_ingest::IngestConfig {
            trust_forwarded_for: self.trust_forwarded_for,
            rate_limit_burst: self.rate_limit_burst,
            rate_limit_period: std::time::Duration::from_secs(1)
                / self.rate_limit_per_second.max(1),
        }
    }
}

pub(crate) fn parse_tenant(raw: &str) -> Result<TenantId, String> {
    TenantId::parse(raw).ok_or_else(|| "a tenant is 1-64 lowercase letters, digits, - or _".into())
}

pub(crate) fn parse_time_zone(raw: &str) -> Result<Tz, String> {
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

/// Where Kafka is.
#[derive(Debug, Clone, Args)]
pub struct KafkaSettings {
    /// Kafka bootstrap servers, comma-separated host:port.
    #[arg(long = "kafka-brokers", env = "SATISFY_KAFKA_BROKERS", value_parser = parse_brokers)]
    pub brokers: String,

    /// How clients talk to the brokers: plaintext, ssl, sasl_plaintext or sasl_ssl (the
    /// SASL ones need a mechanism, a user name and a password).
    #[arg(long = "kafka-security-protocol", env = "SATISFY_KAFKA_SECURITY_PROTOCOL",
          value_parser = clap::builder::PossibleValuesParser::new(SECURITY_PROTOCOLS),
          requires_ifs = [("sasl_plaintext", "sasl_mechanism"), ("sasl_ssl", "sasl_mechanism")])]
    pub security_protocol: Option<String>,

    /// SASL mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.
    #[arg(long = "kafka-sasl-mechanism", env = "SATISFY_KAFKA_SASL_MECHANISM",
          value_parser = clap::builder::PossibleValuesParser::new(SASL_MECHANISMS),
          requires_all = ["sasl_username", "sasl_password"])]
    pub sasl_mechanism: Option<String>,

    /// SASL user name.
    #[arg(long = "kafka-sasl-username", env = "SATISFY_KAFKA_SASL_USERNAME")]
    pub sasl_username: Option<String>,

    /// SASL password.
    #[arg(long = "kafka-sasl-password", env = "SATISFY_KAFKA_SASL_PASSWORD", hide_env_values = true, value_parser = parse_secret)]
    pub sasl_password: Option<SecretString>,

    /// PEM file of the authorities the brokers' certificates are checked against (the
    /// system's when unset).
    #[arg(long = "kafka-ssl-ca-location", env = "SATISFY_KAFKA_SSL_CA_LOCATION")]
    pub ssl_ca_location: Option<PathBuf>,

    /// Topic of rating events.
    #[arg(
        long = "kafka-topic",
        env = "SATISFY_KAFKA_TOPIC",
        default_value = "satisfy.ratings.v1"
    )]
    pub topic: String,

    /// Topic of platform events (CloudEvents posted to /v1/events), keyed by tenant.
    #[arg(
        long = "kafka-events-topic",
        env = "SATISFY_KAFKA_EVENTS_TOPIC",
        default_value = "satisfy.events.v1"
    )]
    pub events_topic: String,

    /// Replication factor of topics Satisfy creates (3 on a production cluster).
    #[arg(
        long = "kafka-replication",
        env = "SATISFY_KAFKA_REPLICATION",
        default_value_t = 1
    )]
    pub replication: i32,
}

impl KafkaSettings {
    /// How every Kafka client of this process reaches the cluster.
    pub fn access(&self) -> KafkaAccess {
        KafkaAccess {
            brokers: self.brokers.clone(),
            security_protocol: self.security_protocol.clone(),
            sasl_mechanism: self.sasl_mechanism.clone(),
            sasl_username: self.sasl_username.clone(),
            sasl_password: self.sasl_password.clone(),
            ssl_ca_location: self.ssl_ca_location.clone(),
        }
    }
}

/// Where ClickHouse is.
#[derive(Debug, Clone, Args)]
pub struct ClickHouseSettings {
    /// ClickHouse HTTP interface, http://host:8123 or https://host:8443 (certificates
    /// checked against the system's authorities).
    #[arg(long = "clickhouse-url", env = "SATISFY_CLICKHOUSE_URL", value_parser = parse_http_url)]
    pub url: String,

    /// ClickHouse user (ClickHouse's `default` when unset).
    #[arg(long = "clickhouse-user", env = "SATISFY_CLICKHOUSE_USER")]
    pub user: Option<String>,

    /// The ClickHouse user's password.
    #[arg(long = "clickhouse-password", env = "SATISFY_CLICKHOUSE_PASSWORD", hide_env_values = true, value_parser = parse_secret)]
    pub password: Option<SecretString>,

    /// ClickHouse database (created if missing).
    #[arg(
        long = "clickhouse-database",
        env = "SATISFY_CLICKHOUSE_DATABASE",
        default_value = "satisfy"
    )]
    pub database: String,
}

impl ClickHouseSettings {
    /// How this process reaches ClickHouse.
    pub fn access(&self) -> ClickHouseAccess {
        ClickHouseAccess {
            url: self.url.clone(),
            database: self.database.clone(),
            user: self.user.clone(),
            password: self.password.clone(),
        }
    }
}

/// `satisfy ingest`: the public intake, writing to Kafka.
#[derive(Debug, Clone, Args)]
pub struct IngestSettings {
    /// Address to listen on.
    #[arg(long, env = "SATISFY_LISTEN", default_value = "127.0.0.1:8081")]
    pub listen: SocketAddr,

    #[command(flatten)]
    pub kafka: KafkaSettings,

    /// Partitions of the ratings topic when ingest creates it.
    #[arg(long, env = "SATISFY_KAFKA_PARTITIONS", default_value_t = 12)]
    pub kafka_partitions: i32,

    /// Console base URL ingest reads entrypoints from.
    #[arg(long, env = "SATISFY_CONSOLE_URL", value_parser = parse_http_url)]
    pub console_url: String,

    /// Shared secret between console and ingest for the entrypoints feed.
    #[arg(long, env = "SATISFY_INTERNAL_TOKEN", hide_env_values = true, value_parser = parse_secret)]
    pub internal_token: SecretString,

    #[command(flatten)]
    pub intake: IntakeLimits,

    #[command(flatten)]
    pub http: HttpLimits,
}

/// `satisfy aggregator`: Kafka consumer group writing to ClickHouse.
#[derive(Debug, Clone, Args)]
pub struct AggregatorSettings {
    /// Address of /healthz, /readyz and /metrics.
    #[arg(long, env = "SATISFY_LISTEN", default_value = "127.0.0.1:8082")]
    pub listen: SocketAddr,

    #[command(flatten)]
    pub kafka: KafkaSettings,

    #[command(flatten)]
    pub clickhouse: ClickHouseSettings,

    /// Consumer group shared by every aggregator.
    #[arg(
        long,
        env = "SATISFY_KAFKA_GROUP",
        default_value = "satisfy-aggregator"
    )]
    pub kafka_group: String,

    /// Platforms' own Kafka topics of CloudEvents to consume, each with its tenant:
    /// `topic=tenant,topic=tenant` (e.g. `opencity.bugliano.events=bugliano`).
    #[arg(long, env = "SATISFY_KAFKA_PLATFORM_TOPICS", value_parser = parse_platform_topics, default_value = "")]
    pub platform_topics: PlatformTopics,

    /// Topic of events that can never be processed.
    #[arg(
        long,
        env = "SATISFY_KAFKA_DEAD_LETTER_TOPIC",
        default_value = "satisfy.ratings.dlq.v1"
    )]
    pub dead_letter_topic: String,

    /// Most ratings and events in one ClickHouse insert. Each insert costs ClickHouse a
    /// new part whatever its size (about 25 ms here), so large inserts drain fastest; the
    /// wait below bounds the delay when traffic is light.
    #[arg(long, env = "SATISFY_BATCH_SIZE", default_value_t = 20000, value_parser = clap::value_parser!(u32).range(1..))]
    pub batch_size: u32,

    /// Longest an event waits before its batch is inserted, in milliseconds; batches that
    /// are not full are also handed to the writer at most once per this wait.
    #[arg(long, env = "SATISFY_BATCH_WAIT_MS", default_value_t = 500, value_parser = clap::value_parser!(u64).range(1..))]
    pub batch_wait_ms: u64,

    #[command(flatten)]
    pub http: HttpLimits,
}

/// `satisfy console`: the console reading analytics from ClickHouse.
#[derive(Debug, Clone, Args)]
pub struct ConsoleSettings {
    /// Address to listen on.
    #[arg(long, env = "SATISFY_LISTEN", default_value = "127.0.0.1:8083")]
    pub listen: SocketAddr,

    #[command(flatten)]
    pub database: DatabaseSettings,

    #[command(flatten)]
    pub clickhouse: ClickHouseSettings,

    /// Public URL of ingest, used in snippets.
    #[arg(long, env = "SATISFY_PUBLIC_URL", value_parser = parse_public_url)]
    pub public_url: String,

    /// Shared secret ingest nodes present to read entrypoints.
    #[arg(long, env = "SATISFY_INTERNAL_TOKEN", hide_env_values = true, value_parser = parse_secret)]
    pub internal_token: SecretString,

    /// Take the client address of sign-in throttling from `X-Forwarded-For` (only behind
    /// a proxy that sets it).
    #[arg(long, env = "SATISFY_TRUST_FORWARDED_FOR", default_value_t = false)]
    pub trust_forwarded_for: bool,

    #[command(flatten)]
    pub basics: ConsoleBasics,

    #[command(flatten)]
    pub http: HttpLimits,
}

/// Where the console's configuration (tenants, users, tokens, entrypoints) lives:
/// PostgreSQL when a URL is given (several console replicas share it), else SQLite in the
/// data directory.
#[derive(Debug, Clone, Args)]
pub struct DatabaseSettings {
    /// Directory of the console's SQLite database, used without --database-url.
    #[arg(long, env = "SATISFY_DATA_DIR", default_value = "data", global = true)]
    pub data_dir: PathBuf,

    /// PostgreSQL URL of the configuration database
    /// (`postgres://user:password@host:5432/satisfy`).
    #[arg(long, env = "SATISFY_DATABASE_URL", hide_env_values = true, value_parser = parse_postgres_url, global = true)]
    pub database_url: Option<SecretString>,
}

impl DatabaseSettings {
    /// Opens the configuration store these settings name.
    pub async fn open(&self) -> anyhow::Result<satisfy_console::SharedConfigStore> {
        use anyhow::Context;
        let what = if self.database_url.is_some() {
            "connecting to the PostgreSQL configuration database".to_owned()
        } else {
            format!("opening {}", self.data_dir.join("console.db").display())
        };
        let url = self.database_url.as_ref().map(|url| url.expose_secret());
        satisfy_console::store::open(url, &self.data_dir)
            .await
            .context(what)
    }
}

fn parse_postgres_url(raw: &str) -> Result<SecretString, String> {
    if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
        Ok(SecretString::from(raw))
    } else {
        Err("expected a postgres:// URL".into())
    }
}

/// Platforms' own topics, each with the tenant whose events it carries.
#[derive(Debug, Clone, Default)]
pub struct PlatformTopics(pub Vec<(String, TenantId)>);

fn parse_platform_topics(raw: &str) -> Result<PlatformTopics, String> {
    raw.split(',')
        .map(str::trim)
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (topic, tenant) = pair
                .split_once('=')
                .ok_or_else(|| format!("`{pair}`: expected topic=tenant"))?;
            let tenant = TenantId::parse(tenant.trim())
                .ok_or_else(|| format!("`{tenant}` is not a tenant slug"))?;
            let topic = topic.trim();
            if topic.is_empty() {
                return Err(format!("`{pair}`: the topic is empty"));
            }
            Ok((topic.to_owned(), tenant))
        })
        .collect::<Result<Vec<_>, String>>()
        .map(PlatformTopics)
}

fn parse_brokers(raw: &str) -> Result<String, String> {
    let valid = !raw.is_empty()
        && raw.split(',').all(|broker| {
            broker
                .trim()
                .rsplit_once(':')
                .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok())
        });
    if valid {
        Ok(raw.to_owned())
    } else {
        Err("expected comma-separated host:port pairs, e.g. kafka-1:9092,kafka-2:9092".into())
    }
}

pub(crate) fn parse_http_url(raw: &str) -> Result<String, String> {
    let rest = raw
        .strip_prefix("http://")
        .or_else(|| raw.strip_prefix("https://"));
    match rest {
        Some(host) if !host.is_empty() && !host.contains(char::is_whitespace) => {
            Ok(raw.trim_end_matches('/').to_owned())
        }
        _ => Err("expected an http:// or https:// URL".into()),
    }
}

/// A base URL that pages and messages embed as is, the snippet's HTML and JavaScript among
/// them, with paths appended: an http(s) URL of only the characters such a URL holds
/// unescaped (no quote, angle bracket, ampersand or space that would end or change the
/// attribute or string it is written into), without query or fragment.
pub(crate) fn parse_public_url(raw: &str) -> Result<String, String> {
    let url = parse_http_url(raw)?;
    let plain = |c: char| c.is_ascii_alphanumeric() || "-._~:/%[]".contains(c);
    if url.chars().all(plain) {
        Ok(url)
    } else {
        Err(
            "expected an http:// or https:// base URL of letters, digits and -._~:/%[] only \
             (percent-encode anything else), without query or fragment"
                .into(),
        )
    }
}

/// Applies a TOML configuration file: each key `some_setting` stands for the environment
/// variable `SATISFY_SOME_SETTING`, which keeps precedence when it is set. Unknown keys, and
/// unknown `SATISFY_*` variables, are refused so a typo never passes silently.
pub fn apply_config_file(
    path: Option<&std::path::Path>,
    known_env: &[String],
) -> Result<(), String> {
    if let Some(path) = path {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("reading {}: {e}", path.display()))?;
        let variables = crate::settings_file::variables(&text, known_env)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        for (env, value) in variables {
            if std::env::var_os(&env).is_none() {
                // SAFETY: called from main before the runtime or any other thread starts.
                unsafe { std::env::set_var(&env, value) };
            }
        }
    }
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("SATISFY_")
            && !known_env.iter().any(|k| k == &*name)
            && name != "SATISFY_CONFIG"
        {
            return Err(format!("unknown environment variable {name}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().expect("a temporary file");
        std::fs::write(file.path(), text).expect("writing it");
        file
    }

    #[test]
    fn a_configuration_file_with_an_unknown_or_malformed_setting_stops_the_start() {
        let known = vec!["SATISFY_LISTEN".to_owned()];
        let typo = file("listne = \"127.0.0.1:9000\"\n");
        let refused = apply_config_file(Some(typo.path()), &known).unwrap_err();
        assert!(refused.contains("unknown setting `listne`"), "{refused}");
        let table = file("listen = [\"127.0.0.1:9000\"]\n");
        let refused = apply_config_file(Some(table.path()), &known).unwrap_err();
        assert!(
            refused.contains("must be a string, number or boolean"),
            "{refused}"
        );
        let broken = file("listen = \n");
        assert!(apply_config_file(Some(broken.path()), &known).is_err());
    }

    #[test]
    fn a_public_url_is_one_that_snippets_can_embed_as_is() {
        for (raw, kept) in [
            (
                "https://satisfy.comune.bugliano.pi.it/",
                "https://satisfy.comune.bugliano.pi.it",
            ),
            ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
            (
                "https://[2001:db8::1]:8443/satisfy",
                "https://[2001:db8::1]:8443/satisfy",
            ),
            (
                "https://comune.example.it/valutazione%20pagine",
                "https://comune.example.it/valutazione%20pagine",
            ),
        ] {
            assert_eq!(parse_public_url(raw).as_deref(), Ok(kept), "{raw}");
        }
        // A scheme left out, and what would end the snippet's attribute or string or
        // change the paths appended to it.
        for raw in [
            "satisfy.comune.it",
            "https://satisfy.comune.it/\"><script>",
            "https://satisfy.comune.it/a b",
            "https://satisfy.comune.it/?tenant=a&b",
            "https://satisfy.comune.it/#widget",
            "https://satisfy.comune.it/\u{2028}",
            "https://satisfy.comune.it/pàgine",
        ] {
            assert!(parse_public_url(raw).is_err(), "{raw}");
        }
        // `satisfy serve` checks it before starting.
        #[derive(clap::Parser)]
        struct Serve {
            #[command(flatten)]
            settings: Settings,
        }
        use clap::Parser;
        let serve = |url: &str| Serve::try_parse_from(["serve", "--public-url", url]);
        let given = serve("https://satisfy.comune.it/").map(|serve| serve.settings.public_url);
        assert_eq!(
            given.ok().flatten().as_deref(),
            Some("https://satisfy.comune.it")
        );
        assert!(serve("satisfy.comune.it").is_err());
    }

    #[derive(clap::Parser, Debug)]
    enum Roles {
        Aggregator(AggregatorSettings),
        Console(ConsoleSettings),
        Ingest(IngestSettings),
    }

    /// Every secret of every role, given as flags, is in its clients' settings and in
    /// none of the `Debug` output (which is what a log line of settings would print).
    #[test]
    fn secrets_reach_their_clients_and_never_debug_output() {
        use clap::Parser;
        let kafka = [
            "--kafka-brokers=kafka-1:9093",
            "--kafka-security-protocol=sasl_ssl",
            "--kafka-sasl-mechanism=SCRAM-SHA-512",
            "--kafka-sasl-username=satisfy",
            "--kafka-sasl-password=kafka-segreto-1",
            "--kafka-ssl-ca-location=/etc/satisfy/ca.pem",
        ];
        let clickhouse = [
            "--clickhouse-url=https://clickhouse.example.it:8443",
            "--clickhouse-user=satisfy",
            "--clickhouse-password=clickhouse-segreto-2",
        ];
        let console_only = [
            "--database-url=postgres://satisfy:postgres-segreto-3@db:5432/satisfy",
            "--public-url=https://satisfy.example.it",
            "--internal-token=interno-segreto-4",
            "--admin-password=amministratore-segreto-5",
        ];
        let ingest_only = [
            "--console-url=https://console.example.it",
            "--internal-token=interno-segreto-4",
        ];
        let args = |role: &str, groups: &[&[&str]]| {
            std::iter::once("satisfy")
                .chain(std::iter::once(role))
                .chain(groups.iter().flat_map(|g| g.iter().copied()))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        };
        let secrets = [
            "kafka-segreto-1",
            "clickhouse-segreto-2",
            "postgres-segreto-3",
            "interno-segreto-4",
            "amministratore-segreto-5",
        ];
        for parsed in [
            Roles::try_parse_from(args("aggregator", &[&kafka, &clickhouse])),
            Roles::try_parse_from(args("console", &[&clickhouse, &console_only])),
            Roles::try_parse_from(args("ingest", &[&kafka, &ingest_only])),
        ] {
            let parsed = parsed.expect("valid flags");
            let debug = format!("{parsed:?} {parsed:#?}");
            for secret in secrets {
                assert!(!debug.contains(secret), "{secret} in {debug}");
            }
            match parsed {
                Roles::Aggregator(settings) => {
                    let properties = settings.kafka.access().properties();
                    assert!(properties.contains(&("sasl.password", "kafka-segreto-1".into())));
                    assert!(properties.contains(&("security.protocol", "sasl_ssl".into())));
                    let access = settings.clickhouse.access();
                    assert_eq!(access.user.as_deref(), Some("satisfy"));
                    assert_eq!(
                        access.password.as_ref().map(|p| p.expose_secret()),
                        Some("clickhouse-segreto-2")
                    );
                    assert!(!format!("{access:?}").contains("segreto"));
                }
                Roles::Console(settings) => {
                    let config = settings.basics.console_config(
                        settings.public_url.clone(),
                        Some(settings.internal_token.clone()),
                        false,
                    );
                    assert!(!format!("{config:?}").contains("segreto"));
                    assert_eq!(
                        settings
                            .database
                            .database_url
                            .as_ref()
                            .map(|u| u.expose_secret()),
                        Some("postgres://satisfy:postgres-segreto-3@db:5432/satisfy")
                    );
                }
                Roles::Ingest(settings) => {
                    assert_eq!(settings.internal_token.expose_secret(), "interno-segreto-4");
                }
            }
        }
        let unknown = Roles::try_parse_from(args(
            "ingest",
            &[
                &["--kafka-brokers=k:9092", "--kafka-security-protocol=tls"],
                &ingest_only,
            ],
        ));
        assert!(unknown.is_err(), "only librdkafka's protocols");
        for incomplete in [
            &["--kafka-security-protocol=sasl_ssl"][..],
            &[
                "--kafka-security-protocol=sasl_ssl",
                "--kafka-sasl-mechanism=PLAIN",
            ],
            &[
                "--kafka-security-protocol=sasl_plaintext",
                "--kafka-sasl-mechanism=PLAIN",
                "--kafka-sasl-username=satisfy",
            ],
        ] {
            let parsed = Roles::try_parse_from(args(
                "ingest",
                &[&["--kafka-brokers=k:9092"], incomplete, &ingest_only],
            ));
            assert!(parsed.is_err(), "SASL without all it needs: {incomplete:?}");
        }
    }
}
