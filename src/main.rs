//! `satisfy`: citizen-satisfaction analytics for Italian public administrations.

use clap::{CommandFactory, Parser, Subcommand};
use satisfy::admin::{self, AdminSettings};
use satisfy::compliance::{self, ComplianceArgs};
use satisfy::configuration::{
    AggregatorSettings, ConsoleSettings, IngestSettings, Settings, apply_config_file,
};
use satisfy::demo_ratings::{self, DemoDataArgs};
use satisfy::roles;
use satisfy::startup::Application;
use std::path::PathBuf;
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(name = "satisfy", version, about)]
struct Cli {
    /// TOML file of settings: `kafka_brokers = "…"` stands for SATISFY_KAFKA_BROKERS.
    #[arg(long, env = "SATISFY_CONFIG", global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: Settings,
}

#[derive(Subcommand)]
enum Command {
    /// Everything in one process with SQLite: ingest, console, widget, demo (the default).
    Serve(Settings),
    /// Distributed: the public intake, writing ratings to Kafka.
    Ingest(IngestSettings),
    /// Distributed: the Kafka consumer group writing ratings to ClickHouse.
    Aggregator(AggregatorSettings),
    /// Distributed: the console, reading analytics from ClickHouse.
    Console(ConsoleSettings),
    /// Operator commands: tenants and API tokens, on the console's database.
    Admin(AdminSettings),
    /// Writes N plausible ratings (the demo ente's website unless --entrypoint), on the
    /// same --data-dir as `serve`, or in ClickHouse with --clickhouse-url.
    DemoData(DemoDataArgs),
    /// Checks the feedback component on every page the AgID validator could sample
    /// (C.SI.2.5, C.SI.2.6) in headless Chromium; exits 1 when a page would fail.
    Compliance(ComplianceArgs),
}

/// Every SATISFY_* variable any role reads.
fn known_environment() -> Vec<String> {
    fn collect(command: &clap::Command, into: &mut Vec<String>) {
        for argument in command.get_arguments() {
            if let Some(env) = argument.get_env() {
                into.push(env.to_string_lossy().into_owned());
            }
        }
        for sub in command.get_subcommands() {
            collect(sub, into);
        }
    }
    let mut names = Vec::new();
    collect(&Cli::command(), &mut names);
    names
}

/// The `--config` file, read before clap so its values can fill in the environment.
fn config_path() -> Option<PathBuf> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == "--config")
        .and_then(|i| args.get(i + 1).map(PathBuf::from))
        .or_else(|| {
            args.iter()
                .find_map(|a| a.strip_prefix("--config=").map(PathBuf::from))
        })
        .or_else(|| std::env::var_os("SATISFY_CONFIG").map(PathBuf::from))
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {},
        _ = terminate => {},
    }
    tracing::info!("shutdown requested, finishing requests and flushing ratings");
}

fn main() -> anyhow::Result<()> {
    if let Err(message) = apply_config_file(config_path().as_deref(), &known_environment()) {
        eprintln!("satisfy: {message}");
        std::process::exit(2);
    }
    let cli = Cli::parse();
    // Logs go to stderr: stdout carries what commands print (an admin token, say).
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let ended = tokio::runtime::Runtime::new()?
        .block_on(run(cli.command.unwrap_or(Command::Serve(cli.serve))));
    // A restart during a fault loses none of the counts held back.
    satisfy_core::log_throttle::log_all_held_back();
    ended
}

async fn run(command: Command) -> anyhow::Result<()> {
    // Whatever a repeated warning's throttle held back is logged once its interval passed.
    tokio::spawn(async {
        let mut every_second = tokio::time::interval(std::time::Duration::from_secs(1));
        loop {
            every_second.tick().await;
            satisfy_core::log_throttle::log_held_back(std::time::Instant::now());
        }
    });
    match command {
        Command::Serve(settings) => {
            let app = Application::build(settings).await?;
            let url = app.public_url.clone();
            println!("Satisfy is running.");
            println!("  Demo page (rate it!): {url}/demo");
            println!("  Console:              {url}/console  (user: admin)");
            if let Some(password) = &app.generated_admin_password {
                println!(
                    "  First start: the admin password is {password}  (set SATISFY_ADMIN_PASSWORD to choose one)"
                );
            }
            app.run_until(shutdown_signal()).await
        }
        Command::Ingest(settings) => roles::ingest(settings, shutdown_signal()).await,
        Command::Aggregator(settings) => roles::aggregator(settings, shutdown_signal()).await,
        Command::Console(settings) => roles::console(settings, shutdown_signal()).await,
        Command::Admin(settings) => admin::run(settings).await,
        Command::DemoData(args) => demo_ratings::run(args).await,
        Command::Compliance(args) => {
            // 1 says "a page would fail"; anything that stops the check itself is 2.
            let code = match compliance::run(args).await {
                Ok(would_fail) => i32::from(would_fail),
                Err(error) => {
                    eprintln!("satisfy compliance: {error:#}");
                    2
                }
            };
            std::process::exit(code)
        }
    }
}
