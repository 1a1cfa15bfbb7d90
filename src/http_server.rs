//! Serving HTTP with the limits every listener needs, whatever the role: a client has
//! `header_read_timeout` to send a request's headers, and a kept-alive connection is closed
//! once idle that long (hyper starts the same timer when a connection goes idle), so slow
//! clients cannot hold connections; at most `max_connections` are served at once, further
//! ones are closed as soon as accepted; a request (its body included) gets
//! `request_timeout` before it is answered 408; a panicking handler is answered with a
//! JSON 500 that reveals nothing, and the process goes on.

use anyhow::Context;
use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use axum::error_handling::HandleErrorLayer;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use satisfy_core::log_throttle::{LogThrottle, WARN_EVERY};
use serde_json::json;
use std::any::Any;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::{BoxError, Service, ServiceBuilder, ServiceExt};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

/// Default of [`HttpLimits::header_read_timeout_secs`].
const HEADER_READ_TIMEOUT_SECS: u64 = 10;
/// Default of [`HttpLimits::request_timeout_secs`].
const REQUEST_TIMEOUT_SECS: u64 = 30;
/// Default of [`HttpLimits::max_connections`].
const MAX_CONNECTIONS: u32 = 10_000;

// A flood of connections over the cap, or out of file descriptors, fails every accept
// alike: one line every ten seconds says so, with the count.
// The first line of a flood names a client and the cap; the ones after count.
static OVER_CAP: LogThrottle = LogThrottle::new(WARN_EVERY, |_, occurrences| {
    tracing::warn!(occurrences, "connection cap reached, closing")
});
static ACCEPT_FAILED: LogThrottle = LogThrottle::new(
    WARN_EVERY,
    |error, occurrences| tracing::warn!(error = %error, occurrences, "accepting a connection failed"),
);

/// The limits of a listener, from flags, `SATISFY_*` variables or the configuration file.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct HttpLimits {
    /// Seconds a client has to send a request's headers; a kept-alive connection idle
    /// that long is closed too.
    #[arg(long, env = "SATISFY_HEADER_READ_TIMEOUT_SECS", default_value_t = HEADER_READ_TIMEOUT_SECS,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub header_read_timeout_secs: u64,

    /// Seconds a request may take, its body included, before it is answered 408 (a
    /// streamed export counts only until its first byte).
    #[arg(long, env = "SATISFY_REQUEST_TIMEOUT_SECS", default_value_t = REQUEST_TIMEOUT_SECS,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub request_timeout_secs: u64,

    /// Connections served at once; further ones are closed as soon as accepted. Keep it
    /// below the process's open-file limit (`ulimit -n`).
    #[arg(long, env = "SATISFY_MAX_CONNECTIONS", default_value_t = MAX_CONNECTIONS,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,
}

impl Default for HttpLimits {
    fn default() -> HttpLimits {
        HttpLimits {
            header_read_timeout_secs: HEADER_READ_TIMEOUT_SECS,
            request_timeout_secs: REQUEST_TIMEOUT_SECS,
            max_connections: MAX_CONNECTIONS,
        }
    }
}

/// `router` inside the layers every request passes: a span per request, the request
/// timeout and the panic answer.
///
/// They wrap the router as one service instead of being added with `Router::layer`, which
/// wraps each route in a boxed service of its own: axum clones a route's whole stack of
/// boxes for every request, so layers added that way cost allocations on every rating.
pub fn with_limits(
    router: Router,
    limits: &HttpLimits,
) -> impl Service<
    Request<Body>,
    Response = Response<impl HttpBody<Data = Bytes, Error: Into<BoxError>> + Send + 'static>,
    Error = Infallible,
    Future: Send + 'static,
> + Clone
+ Send
+ 'static {
    let timeout = Duration::from_secs(limits.request_timeout_secs);
    ServiceBuilder::new()
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(HandleErrorLayer::new(|_: BoxError| async {
            error_response(
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                "the request took too long",
            )
        }))
        .layer(tower::timeout::TimeoutLayer::new(timeout))
        .layer(TraceLayer::new_for_http())
        .service(router)
}

fn error_response(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({ "error": { "code": code, "message": message } })),
    )
        .into_response()
}

/// What a panic is answered with: the details go to the log, never to the client.
fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)");
    tracing::error!(panic = detail, "a request handler panicked");
    error_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal_error",
        "something went wrong on our side",
    )
}

/// Serves `router` on `listener` within `limits` until `shutdown` completes, then lets
/// the requests in flight finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: HttpLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let app = with_limits(router, &limits);
    // HTTP/1.1 only: browsers speak HTTP/2 to the TLS proxy in front, and hyper-util's
    // version detection would wait for a silent client's first bytes without any timeout.
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(limits.header_read_timeout_secs));
    let connections = Arc::new(Semaphore::new(limits.max_connections as usize));
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, most often: breathe instead of spinning.
                    ACCEPT_FAILED.warn_kind(&error.to_string());
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(permit) = Arc::clone(&connections).try_acquire_owned() else {
            if let Some(occurrences) = OVER_CAP.admit(Instant::now()) {
                tracing::warn!(%remote, occurrences, max = limits.max_connections, "connection cap reached, closing");
            }
            drop(stream);
            continue;
        };
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut request: Request<_>| {
            request.extensions_mut().insert(ConnectInfo(remote));
            app.clone().oneshot(request.map(Body::new))
        });
        let connection = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%remote, error = %error, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// Binds `listen` and serves `router` on it, as [`serve`].
pub async fn bind_and_serve(
    listen: SocketAddr,
    router: Router,
    limits: HttpLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    tracing::info!(address = %listener.local_addr()?, "listening");
    serve(listener, router, limits, shutdown).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;

    async fn panicking() -> &'static str {
        let secret = "database password";
        panic!("failed with {secret}")
    }

    /// The answers to `paths`, one after the other, from one [`with_limits`] service
    /// around three routes.
    async fn answers(limits: &HttpLimits, paths: &[&str]) -> Vec<Response> {
        let router = Router::new()
            .route("/panic", get(panicking))
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    "late"
                }),
            )
            .route("/fine", get(|| async { "fine" }));
        let app = with_limits(router, limits);
        let mut responses = Vec::new();
        for path in paths {
            let request = Request::get(*path).body(Body::empty()).unwrap();
            let response = app.clone().oneshot(request).await.unwrap();
            responses.push(response.map(Body::new));
        }
        responses
    }

    async fn body(response: Response) -> serde_json::Value {
        let bytes = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .expect("reading the body");
        serde_json::from_slice(&bytes).expect("a JSON body")
    }

    #[tokio::test]
    async fn a_panic_is_answered_with_a_json_500_that_reveals_nothing() {
        let [panicked, fine] =
            <[Response; 2]>::try_from(answers(&HttpLimits::default(), &["/panic", "/fine"]).await)
                .unwrap();
        assert_eq!(panicked.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let json = body(panicked).await;
        assert_eq!(json["error"]["code"], "internal_error");
        assert!(!json.to_string().contains("password"));
        // The service goes on answering.
        assert_eq!(fine.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn a_request_over_its_time_is_answered_408() {
        let limits = HttpLimits {
            request_timeout_secs: 1,
            ..HttpLimits::default()
        };
        let [response] = <[Response; 1]>::try_from(answers(&limits, &["/slow"]).await).unwrap();
        assert_eq!(response.status(), StatusCode::REQUEST_TIMEOUT);
        assert_eq!(body(response).await["error"]["code"], "request_timeout");
    }
}
