//! The demo municipal site served at `/demo`: a plausible page of the "Comune di Bugliano"
//! that embeds the real snippet of a demo entrypoint.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use satisfy_console::ConfigStore;
use satisfy_console::routes::entrypoints::snippet_html;
use satisfy_console::store::{ConfigError, EntrypointChanges, new_entrypoint};
use satisfy_core::{EntrypointId, EntrypointKind, Origin, TenantId};
use serde::Deserialize;

const DEMO_SETTING: &str = "demo_entrypoint";

/// Returns the demo entrypoint, creating it on first start and making sure the server's
/// current origins may post to it (the port can change between starts).
pub async fn ensure_demo_entrypoint(
    store: &dyn ConfigStore,
    tenant: &TenantId,
    origins: Vec<Origin>,
) -> Result<EntrypointId, ConfigError> {
    if let Some(id) = store
        .setting(DEMO_SETTING)
        .await?
        .and_then(|raw| EntrypointId::parse(&raw))
        && let Some(existing) = store.entrypoint(tenant, &id).await?
    {
        let mut allowed = existing.allowed_origins.clone();
        let missing: Vec<Origin> = origins
            .into_iter()
            .filter(|o| !allowed.contains(o))
            .collect();
        if !missing.is_empty() && !allowed.is_empty() {
            allowed.extend(missing);
            let changes = EntrypointChanges {
                allowed_origins: Some(allowed),
                ..EntrypointChanges::default()
            };
            store.update_entrypoint(tenant, &id, changes).await?;
        }
        return Ok(id);
    }
    let entrypoint = new_entrypoint(
        tenant.clone(),
        "Demo - Comune di Bugliano".into(),
        EntrypointKind::PaginaWeb,
        origins,
        None,
    );
    store.create_entrypoint(&entrypoint).await?;
    store
        .set_setting(DEMO_SETTING, entrypoint.id.as_str())
        .await?;
    Ok(entrypoint.id)
}

/// What the demo page needs.
#[derive(Clone)]
pub struct DemoState {
    /// Base URL of this server, for the snippet.
    pub public_url: String,
    /// The entrypoint embedded by default.
    pub entrypoint: EntrypointId,
}

/// `/` (redirects to the demo), `/demo` and `/demo/strict-csp`.
pub fn router(state: DemoState) -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::to("/demo") }))
        .route("/demo", get(page))
        .route("/demo/strict-csp", get(strict_page))
        .with_state(state)
}

#[derive(Deserialize)]
struct DemoQuery {
    /// Preview another entrypoint on the demo page.
    entrypoint: Option<String>,
}

/// The policy the README recommends to webmasters: only the Satisfy origin (here the same
/// origin) for scripts, styles and requests, and WebAssembly compilation allowed.
const CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; connect-src 'self'; img-src 'self' data:";
/// A stricter policy without 'wasm-unsafe-eval': the widget must fall back to plain JS.
const STRICT_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'; img-src 'self' data:";

async fn page(State(state): State<DemoState>, Query(query): Query<DemoQuery>) -> Response {
    render(&state, query, CSP)
}

async fn strict_page(State(state): State<DemoState>, Query(query): Query<DemoQuery>) -> Response {
    render(&state, query, STRICT_CSP)
}

fn render(state: &DemoState, query: DemoQuery, csp: &'static str) -> Response {
    let entrypoint = query
        .entrypoint
        .as_deref()
        .and_then(EntrypointId::parse)
        .unwrap_or_else(|| state.entrypoint.clone());
    let snippet = snippet_html(&state.public_url, &entrypoint);
    let mut response = Html(DEMO_PAGE.replace("<!--SNIPPET-->", &snippet)).into_response();
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(csp),
    );
    response
}

const DEMO_PAGE: &str = r#"<!doctype html>
<html lang="it">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Carta d'identità elettronica - Comune di Bugliano</title>
<style>
body { margin: 0; font-family: "Titillium Web", system-ui, sans-serif; color: #1a1a1a; line-height: 1.6; }
.it-header { background: #0066cc; color: #fff; }
.it-header .wrap { max-width: 1000px; margin: 0 auto; padding: 1.25rem 1rem; }
.it-header small { display: block; opacity: .85; }
.it-header strong { font-size: 1.75rem; }
nav.menu { background: #004d99; }
nav.menu ul { max-width: 1000px; margin: 0 auto; padding: .5rem 1rem; display: flex; gap: 1.5rem; list-style: none; }
nav.menu a { color: #fff; text-decoration: none; font-weight: 600; }
main { max-width: 1000px; margin: 0 auto; padding: 1rem; }
.breadcrumb { font-size: .9rem; color: #5c6f82; }
.breadcrumb a { color: #0066cc; }
h1 { font-size: 2.25rem; margin: .5rem 0; }
.lead { font-size: 1.2rem; }
.box { border-left: 4px solid #0066cc; background: #f2f7fc; padding: .75rem 1rem; margin: 1rem 0; }
footer { background: #1a1a1a; color: #fff; margin-top: 2rem; }
footer .wrap { max-width: 1000px; margin: 0 auto; padding: 1.5rem 1rem; }
</style>
</head>
<body>
<header class="it-header"><div class="wrap"><small>Regione Toscana</small><strong>Comune di Bugliano</strong></div></header>
<nav class="menu" aria-label="Menu principale"><ul>
<li><a href="/demo">Amministrazione</a></li><li><a href="/demo">Novità</a></li><li><a href="/demo">Servizi</a></li><li><a href="/demo">Vivere il Comune</a></li>
</ul></nav>
<main id="main-container">
<p class="breadcrumb"><a href="/demo">Home</a> / <a href="/demo">Servizi</a> / Anagrafe e stato civile</p>
<h1>Carta d'identità elettronica (CIE)</h1>
<p class="lead">Richiedi la carta d'identità elettronica all'ufficio anagrafe del Comune di Bugliano: è il documento di riconoscimento personale e vale come documento di viaggio nei Paesi dell'Unione europea.</p>
<h2>A chi è rivolto</h2>
<p>A tutti i cittadini residenti nel Comune di Bugliano e, in alcuni casi, ai cittadini non residenti.</p>
<h2>Come fare</h2>
<p>Prenota un appuntamento online oppure telefonando allo 0587 000000. Presentati allo sportello con una fototessera recente, la vecchia carta d'identità e la tessera sanitaria.</p>
<div class="box"><strong>Costi:</strong> 22,21 euro, da pagare con PagoPA allo sportello.</div>
<h2>Tempi e scadenze</h2>
<p>La carta viene spedita dal Poligrafico dello Stato all'indirizzo indicato entro 6 giorni lavorativi.</p>
<!--SNIPPET-->
</main>
<footer><div class="wrap">Comune di Bugliano · Piazza del Municipio 1 · PEC comune.bugliano@pec.example.it</div></footer>
</body>
</html>
"#;
