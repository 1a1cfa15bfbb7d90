//! `satisfy`: citizen-satisfaction analytics for Italian public administrations.

use clap::{Parser, Subcommand};
use satisfy::configuration::Settings;
use satisfy::startup::Application;
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(name = "satisfy", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: Settings,
}

#[derive(Subcommand)]
enum Command {
    /// Run ingest, console, widget and the demo page in one process (the default).
    Serve(Settings),
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

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let cli = Cli::parse();
    let settings = match cli.command {
        Some(Command::Serve(settings)) => settings,
        None => cli.serve,
    };
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
