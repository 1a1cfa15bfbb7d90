//! Benchmark baseline (tests/bench/run.sh): a bare axum server that reads the body of
//! `POST /v1/ratings` and answers 202 without validating or storing anything, so the cost
//! of Satisfy's own work shows as a ratio against it.
//! Usage: cargo run --release -p satisfy-ingest --example bare_accept -- 127.0.0.1:18190

use axum::Router;
use axum::body::Bytes;
use axum::http::StatusCode;
use axum::routing::post;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let address = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:18190".into());
    let app = Router::new().route(
        "/v1/ratings",
        post(|_body: Bytes| async { StatusCode::ACCEPTED }),
    );
    let listener = tokio::net::TcpListener::bind(&address).await?;
    axum::serve(listener, app).await
}
