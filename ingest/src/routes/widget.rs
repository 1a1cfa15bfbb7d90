//! The widget's static files, its per-entrypoint configuration and each entrypoint's own
//! loader.
//!
//! A loader that carries its entrypoint's survey lets the stars render as soon as it runs;
//! one that must ask for it first waits a round trip (two seconds on a slow mobile
//! network). The console's snippet loads the entrypoint's own loader. Snippets pasted
//! before it load the shared `satisfy.js`, which cannot name its entrypoint in its URL:
//! that one carries the surveys of the entrypoints of the page's site, found from the
//! request's `Referer` (browsers send a page's origin with the requests for its scripts),
//! and asks only when there is none, or too many.

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use quick_cache::Weighter;
use quick_cache::sync::Cache;
use satisfy_core::{Entrypoint, EntrypointId, Lang, Origin, PageUrl, Survey};
use serde_json::json;
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use crate::IngestState;
use crate::error::ApiError;

/// `/widget/v1/{file}`: the widget's files, precompressed at build time, and each
/// entrypoint's loader, `/widget/v1/{entrypoint}.js`.
///
/// Neither is rate-limited: the loader is what every page view fetches, as the files are.
pub fn router(bodies: Extension<Arc<CompressedBodies>>) -> Router<IngestState> {
    Router::new().route("/widget/v1/{file}", get(file).layer(bodies))
}

/// The most memory the compressed bodies may take. An entrypoint's loader weighs about
/// 12 KB (its survey, then the shared loader in gzip and in brotli), so this holds some
/// 2,700 of them: every entrypoint of 400 comuni in a language or two. A site's shared
/// loader weighs about 1.5 KB more for each survey it carries (their text, uncompressed,
/// is part of the key). Past the bound the least used go first, so a flood of entrypoint
/// and language pairs or of sites cannot grow memory.
const CACHE_BYTES: u64 = 32 << 20;

/// How long browsers and proxies keep what depends on an entrypoint's settings: a paused
/// entrypoint or a changed survey reaches pages within a minute.
const ENTRYPOINT_CACHE: &str = "public, max-age=60";

/// Most surveys the shared loader carries for one site (a comune may rate each of its
/// services apart). Beyond them, or beyond [`SITE_SURVEYS_BROTLI`], it asks for its
/// entrypoint's, as it always did.
const MAX_SURVEYS_PER_SITE: usize = 32;

/// Most bytes of brotli a site's surveys may add to the shared loader. Surveys of the
/// official kinds repeat each other's texts: 32 of them add about 1.1 KB (measured
/// 2026-12-06), one 30 bytes more. Custom surveys of long texts add up faster; past the
/// budget the loader asks for the one widget-config it needs (about 0.6 KB, and a round
/// trip: two seconds on a slow mobile network).
const SITE_SURVEYS_BROTLI: usize = 1536;

/// What a cached body is.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Served {
    /// `/v1/entrypoints/{id}/widget-config`: the head is the whole body.
    Config,
    /// A loader, `/widget/v1/{id}.js` or the shared one for a site: the head goes before
    /// the shared loader.
    Loader,
}

impl Served {
    /// What follows the head.
    fn tail(self) -> &'static [u8] {
        match self {
            Served::Config => &[],
            Served::Loader => shared_loader().identity,
        }
    }
}

/// Entrypoint configurations and loaders as served, compressed once per content: the
/// same bytes are served until the entrypoint or the widget changes, so a page view costs
/// a lookup, not a compression.
pub struct CompressedBodies {
    cache: Arc<Cache<BodyKey, Arc<Encoded>, BodyWeight>>,
    /// One loader at a time is compressed (see [`CompressedBodies::loader`]).
    compressing_loader: Arc<tokio::sync::Semaphore>,
    /// What goes before the shared loader in each entrypoint's loader and each site's,
    /// and each widget-config, written out once while the entrypoints stay as they are
    /// (see [`CompressedBodies::head`]).
    heads: Cache<Boot, Arc<Head>, HeadWeight>,
}

/// Whose surveys are written out, and for what.
#[derive(Clone, PartialEq, Eq, Hash)]
enum Boot {
    /// An entrypoint's own loader, in one language: its survey.
    Entrypoint(EntrypointId, Lang),
    /// The shared loader as asked by a page of this site: the Italian surveys of the
    /// site's active entrypoints, keyed by id.
    Site(Origin),
    /// An entrypoint's widget-config in one language: the whole body.
    Config(EntrypointId, Lang),
}

/// The script that goes before the shared loader (or a widget-config's body), and what
/// it was written from.
struct Head {
    /// The entrypoints it was written from. The directory keeps an unchanged
    /// entrypoint's copy across reloads, so the same copies mean the same surveys; held
    /// here, no other entrypoint can take a copy's place in memory.
    entrypoints: Vec<Arc<Entrypoint>>,
    /// The script, which sets the script element's `satisfyBoot` (or the JSON of a
    /// widget-config).
    script: Bytes,
    /// Whether it was found to add more than its budget to the loader: pages then get
    /// the shared loader alone, and that body is not kept.
    over_budget: AtomicBool,
}

impl Head {
    /// Whether it was written from `entrypoints`, the very same copies.
    fn written_from(&self, entrypoints: &[Arc<Entrypoint>]) -> bool {
        self.entrypoints.len() == entrypoints.len()
            && self
                .entrypoints
                .iter()
                .zip(entrypoints)
                .all(|(ours, theirs)| Arc::ptr_eq(ours, theirs))
    }
}

/// A head's weight: its script, the entry's own, and the entrypoints it holds (which may
/// be changed or deleted ones the directory no longer holds).
#[derive(Clone)]
struct HeadWeight;

impl Weighter<Boot, Arc<Head>> for HeadWeight {
    fn weight(&self, _: &Boot, head: &Arc<Head>) -> u64 {
        (ENTRY_OVERHEAD + head.script.len() + head.entrypoints.len() * ENTRYPOINT_WEIGHT) as u64
    }
}

/// What an entrypoint held by a head may take: its name, origins and custom texts.
const ENTRYPOINT_WEIGHT: usize = 2048;

/// The most memory the heads may take. An entrypoint's head weighs about 3.5 KB (a survey
/// of the official kinds, 1.4 KB, and the entrypoint), a site's 3.5 KB a survey (110 KB
/// with 32): room for every entrypoint of 400 comuni with a few each, in a language or two,
/// and their sites. Widget-configs (as much again an entrypoint, asked for by pages in
/// another language than their loader's) share the room. Past the bound the least used go
/// first. Only active entrypoints and sites that have some get a head, so made-up ids and
/// spoofed `Referer`s add nothing.
const HEADS_BYTES: u64 = 16 << 20;

/// What a body is made of: the part that depends on the entrypoints' settings is in the
/// key, so a changed survey is a new body and the old one ages out of the cache.
#[derive(Clone, PartialEq, Eq, Hash)]
struct BodyKey {
    served: Served,
    head: Bytes,
}

/// A cached body's weight: its bytes in memory.
#[derive(Clone)]
struct BodyWeight;

/// What an entry takes beside its bodies: the key's id, the ETag, the cache's own record.
const ENTRY_OVERHEAD: usize = 256;

impl Weighter<BodyKey, Arc<Encoded>> for BodyWeight {
    fn weight(&self, key: &BodyKey, encoded: &Arc<Encoded>) -> u64 {
        (ENTRY_OVERHEAD + key.head.len() + encoded.gzip.len() + encoded.brotli.len()) as u64
    }
}

impl Default for CompressedBodies {
    fn default() -> Self {
        CompressedBodies::bounded(CACHE_BYTES)
    }
}

/// One body in each encoding the widget's browsers accept, and its validator. Its plain
/// form is the key's head and a tail built into the binary (the shared loader, or
/// nothing): browsers all ask for gzip or brotli, so it is put together only when asked.
struct Encoded {
    head: Bytes,
    tail: &'static [u8],
    gzip: Bytes,
    brotli: Bytes,
    etag: HeaderValue,
}

impl Encoded {
    fn of(head: Bytes, tail: &'static [u8]) -> std::io::Result<Encoded> {
        let body = [&head[..], tail].concat();
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gzip.write_all(&body)?;
        let gzip = gzip.finish()?;
        let mut brotli = Vec::new();
        {
            let mut writer = brotli::CompressorWriter::new(&mut brotli, 4096, 11, 22);
            writer.write_all(&body)?;
        }
        Ok(Encoded {
            etag: etag_of(&body),
            head,
            tail,
            gzip: exact(gzip),
            brotli: exact(brotli),
        })
    }
}

/// `bytes` without the spare capacity a growing vector keeps, which a cached body would
/// otherwise hold on to unweighed.
fn exact(bytes: Vec<u8>) -> Bytes {
    bytes.into_boxed_slice().into()
}

/// A body as sent in each encoding the server offers.
trait Encodings {
    /// The body in `encoding` (`br`, `gzip`), or plain for `None`.
    fn body(&self, encoding: Option<&str>) -> Body;
}

impl Encodings for Encoded {
    fn body(&self, encoding: Option<&str>) -> Body {
        match encoding {
            Some("br") => self.brotli.clone().into(),
            Some(_) => self.gzip.clone().into(),
            None => [&self.head[..], self.tail].concat().into(),
        }
    }
}

impl Encodings for satisfy_widget::Asset {
    fn body(&self, encoding: Option<&str>) -> Body {
        match encoding {
            Some("br") => self.brotli.into(),
            Some(_) => self.gzip.into(),
            None => self.identity.into(),
        }
    }
}

impl CompressedBodies {
    /// A cache of at most `bytes`.
    fn bounded(bytes: u64) -> CompressedBodies {
        CompressedBodies {
            cache: Arc::new(Cache::with_weighter(1024, bytes, BodyWeight)),
            compressing_loader: Arc::new(tokio::sync::Semaphore::new(1)),
            heads: Cache::with_weighter(1024, HEADS_BYTES, HeadWeight),
        }
    }

    /// What goes before the shared loader for `boot`, written by `write` from
    /// `entrypoints` (the one entrypoint, or the site's active ones): once while they stay
    /// as they are, so that a page view costs a look-up, not writing out its surveys.
    fn head(
        &self,
        boot: Boot,
        entrypoints: Vec<Arc<Entrypoint>>,
        write: impl FnOnce(&[Arc<Entrypoint>]) -> serde_json::Result<String>,
    ) -> serde_json::Result<Arc<Head>> {
        if let Some(known) = self.heads.get(&boot)
            && known.written_from(&entrypoints)
        {
            return Ok(known);
        }
        let written = Arc::new(Head {
            script: exact(write(&entrypoints)?.into_bytes()),
            entrypoints,
            over_budget: AtomicBool::new(false),
        });
        self.heads.insert(boot, Arc::clone(&written));
        Ok(written)
    }

    /// Drops the loader with `head` in front from the cache.
    fn forget_loader(&self, head: Bytes) {
        self.cache.remove(&BodyKey {
            served: Served::Loader,
            head,
        });
    }

    /// A widget-config, compressed, from the cache when it holds it. Concurrent requests
    /// for one not yet cached wait for one compression rather than each making it.
    async fn config(&self, body: Bytes) -> std::io::Result<Arc<Encoded>> {
        let key = BodyKey {
            served: Served::Config,
            head: body,
        };
        compressed(&self.cache, key).await
    }

    /// The shared loader with `head` in front, compressed, from the cache when it holds it;
    /// `None` while another loader is being compressed, and the caller then serves the
    /// shared loader alone, which asks for its configuration. Compressing a loader takes
    /// a core for about 18 ms with one survey, 23 ms with a site's 32 (brotli at its best
    /// level on 15 and 57 KB, measured here with the brotli tool): page views naming
    /// entrypoints, languages or sites that the cache does not hold, a flood of them
    /// included, take at most one core's worth of compressions, and none waits for one.
    async fn loader(&self, head: Bytes) -> Option<std::io::Result<Arc<Encoded>>> {
        let key = BodyKey {
            served: Served::Loader,
            head,
        };
        if let Some(cached) = self.cache.get(&key) {
            return Some(Ok(cached));
        }
        let slot = Arc::clone(&self.compressing_loader)
            .try_acquire_owned()
            .ok()?;
        let cache = Arc::clone(&self.cache);
        // In a task of its own that holds the slot: a page view that goes away meanwhile
        // (its client closed the connection) neither frees the slot before the work is
        // done nor loses the body, which is cached all the same.
        let compressing = tokio::spawn(async move {
            let body = compressed(&cache, key).await;
            drop(slot);
            body
        });
        Some(
            compressing
                .await
                .map_err(std::io::Error::other)
                .and_then(|body| body),
        )
    }
}

/// The body of `key` from `cache`, compressed once.
async fn compressed(
    cache: &Cache<BodyKey, Arc<Encoded>, BodyWeight>,
    key: BodyKey,
) -> std::io::Result<Arc<Encoded>> {
    let (served, head) = (key.served, key.head.clone());
    cache
        .get_or_insert_async(&key, async move {
            // Brotli at its best level takes milliseconds on a loader: off the request
            // threads.
            let tail = served.tail();
            let encoded = tokio::task::spawn_blocking(move || Encoded::of(head, tail))
                .await
                .map_err(std::io::Error::other)??;
            Ok(Arc::new(encoded))
        })
        .await
}

/// A weak validator of `body`: the same for each of its encodings, which say the same.
fn etag_of(body: &[u8]) -> HeaderValue {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(body);
    let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    HeaderValue::try_from(format!("W/\"{hex}\""))
        .unwrap_or_else(|_| unreachable!("hex digits are a valid header value"))
}

/// Whether the client's `If-None-Match` names `etag` (weak comparison), so that its copy is
/// still the current one.
fn still_fresh(headers: &HeaderMap, etag: &HeaderValue) -> bool {
    let opaque = |tag: &str| tag.trim().trim_start_matches("W/").to_owned();
    let Ok(ours) = etag.to_str().map(opaque) else {
        return false;
    };
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|tag| tag.trim() == "*" || opaque(tag) == ours)
}

/// Any page may load the widget, so its public files and configuration allow any origin.
fn public(mut response: Response, cache_control: &'static str) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(cache_control),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// The best encoding the client accepts: brotli, then gzip, then none.
fn preferred_encoding(headers: &HeaderMap) -> Option<&'static str> {
    let accepted = headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|item| {
            let mut parts = item.split(';');
            let coding = parts.next()?.trim().to_ascii_lowercase();
            let refused = parts.any(|p| matches!(p.trim(), "q=0" | "q=0.0" | "q=0.00" | "q=0.000"));
            (!refused).then_some(coding)
        })
        .collect::<Vec<_>>();
    ["br", "gzip"]
        .into_iter()
        .find(|c| accepted.iter().any(|a| a == c))
}

/// The query string's pairs, read leniently: a page's snippet may carry any parameters.
type QueryPairs = Query<Vec<(String, String)>>;

/// The language asked for by the first `lang` of the query; Italian when none or an
/// unknown one is.
fn lang_of(pairs: &[(String, String)]) -> Lang {
    pairs
        .iter()
        .find(|(name, _)| name == "lang")
        .and_then(|(_, tag)| Lang::from_tag(tag))
        .unwrap_or_default()
}

async fn file(
    State(state): State<IngestState>,
    Extension(bodies): Extension<Arc<CompressedBodies>>,
    Path(file): Path<String>,
    Query(query): QueryPairs,
    headers: HeaderMap,
) -> Response {
    match satisfy_widget::asset(&file) {
        // Hashed names never change content.
        Some(asset) if asset.immutable => {
            built_in(asset, &headers, "public, max-age=31536000, immutable")
        }
        // The shared loader, at its stable URL.
        Some(_) => site_loader(&state, &bodies, &headers).await,
        None => match file.strip_suffix(".js").and_then(EntrypointId::parse) {
            Some(id) => entrypoint_loader(&state, &bodies, &id, lang_of(&query), &headers).await,
            None => ApiError::NotFound.into_response(),
        },
    }
}

/// A file built into the binary, as `asset` serves it with `cache_control`.
fn built_in(
    asset: &'static satisfy_widget::Asset,
    headers: &HeaderMap,
    cache_control: &'static str,
) -> Response {
    // The loader's stable URL is revalidated; hashed names never are.
    let etag = (asset.name == satisfy_widget::LOADER).then(shared_loader_etag);
    negotiated(headers, asset.content_type, asset, cache_control, etag)
}

/// The shared loader's validator, computed once.
fn shared_loader_etag() -> &'static HeaderValue {
    static ETAG: OnceLock<HeaderValue> = OnceLock::new();
    ETAG.get_or_init(|| etag_of(shared_loader().identity))
}

/// The shared loader, built into the binary.
fn shared_loader() -> &'static satisfy_widget::Asset {
    satisfy_widget::asset(satisfy_widget::LOADER)
        .unwrap_or_else(|| unreachable!("widget/build.sh always builds the loader"))
}

/// `value` as a JavaScript expression: JSON is JavaScript but for these two line
/// terminators, which old engines refuse inside string literals.
fn javascript_of(value: &impl serde::Serialize) -> serde_json::Result<String> {
    Ok(serde_json::to_string(value)?
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029"))
}

/// `/widget/v1/{id}.js`: the shared loader preceded by the survey of the entrypoint's
/// widget-config in `lang`, so that the stars render as soon as it runs. For an entrypoint
/// that is unknown or paused it is the shared loader alone, which asks for the
/// configuration and tells the webmaster why it stays away.
async fn entrypoint_loader(
    state: &IngestState,
    bodies: &CompressedBodies,
    id: &EntrypointId,
    lang: Lang,
    headers: &HeaderMap,
) -> Response {
    let Some(entrypoint) = active_entrypoint(state, id) else {
        return built_in(shared_loader(), headers, ENTRYPOINT_CACHE);
    };
    // Its one survey, however long, is what the loader would otherwise ask for.
    let boot = Boot::Entrypoint(entrypoint.id.clone(), lang);
    let write = |entrypoints: &[Arc<Entrypoint>]| boot_script(entrypoints, lang);
    let encoded = loader_with(
        bodies,
        boot,
        vec![Arc::clone(&entrypoint)],
        write,
        usize::MAX,
    )
    .await;
    serve_loader(headers, encoded)
}

/// What the shared loader starts with (widget/build.sh), and so any script with it: Chromium
/// compiles the functions of a script that starts so while it downloads, instead of one by
/// one as they are first called while the widget renders (traced under 4x CPU throttling:
/// the widget's work on the page's main thread 25 ms without, 3 ms with). It must come
/// first, so a head repeats it.
const COMPILE_HINT: &str = "//# allFunctionsCalledOnLoad\n";

/// The head of a loader carrying the surveys of `entrypoints` in `lang` (each as the
/// widget-config writes it), keyed by entrypoint id: it hands its script element the survey
/// its `data-entrypoint` names, and nothing for another id. So a snippet whose
/// `data-entrypoint` was changed without its `src` gets its own entrypoint's configuration,
/// asked for, instead of another one's title and answers.
fn boot_script(entrypoints: &[Arc<Entrypoint>], lang: Lang) -> serde_json::Result<String> {
    let surveys: BTreeMap<&str, Survey> = entrypoints
        .iter()
        .map(|entrypoint| (entrypoint.id.as_str(), entrypoint.survey(lang)))
        .collect();
    Ok(format!(
        "{COMPILE_HINT}(function(s,b){{s&&(s.satisfyBoot=b[s.getAttribute(\"data-entrypoint\")])}})(document.currentScript,{});\n",
        javascript_of(&surveys)?
    ))
}

/// The shared loader with the head for `boot` in front, written by `write` from
/// `entrypoints` (see [`CompressedBodies::head`]); `None` for the shared loader alone:
/// when the head adds more than `budget` bytes to its brotli, or while another loader is
/// being compressed.
async fn loader_with(
    bodies: &CompressedBodies,
    boot: Boot,
    entrypoints: Vec<Arc<Entrypoint>>,
    write: impl FnOnce(&[Arc<Entrypoint>]) -> serde_json::Result<String>,
    budget: usize,
) -> Option<std::io::Result<Arc<Encoded>>> {
    let head = match bodies.head(boot, entrypoints, write) {
        Ok(head) => head,
        Err(error) => return Some(Err(std::io::Error::other(error))),
    };
    if head.over_budget.load(Ordering::Relaxed) {
        return None;
    }
    let encoded = bodies.loader(head.script.clone()).await?;
    let added = |body: &Encoded| {
        body.brotli
            .len()
            .saturating_sub(shared_loader().brotli.len())
    };
    if let Ok(body) = &encoded
        && added(body) > budget
    {
        head.over_budget.store(true, Ordering::Relaxed);
        bodies.forget_loader(head.script.clone());
        return None;
    }
    Some(encoded)
}

/// The shared loader as compressed with something in front; or alone, which then asks
/// for its configuration, for `None` (see [`loader_with`] and [`site_loader_body`]).
fn serve_loader(headers: &HeaderMap, encoded: Option<std::io::Result<Arc<Encoded>>>) -> Response {
    match encoded {
        Some(encoded) => serve_encoded(headers, shared_loader().content_type, encoded),
        None => built_in(shared_loader(), headers, ENTRYPOINT_CACHE),
    }
}

/// The origin of the page that asks for a script, from its `Referer`.
fn page_origin(headers: &HeaderMap) -> Option<Origin> {
    let referer = headers.get(header::REFERER)?.to_str().ok()?;
    Origin::parse(PageUrl::parse(referer)?.origin())
}

/// `/widget/v1/satisfy.js`, the shared loader of earlier snippets: preceded, for a page of
/// a site with active entrypoints (up to a limit), by their Italian surveys keyed by id, of which
/// the script element is handed the one its `data-entrypoint` names, as the entrypoint's
/// own loader hands it its survey. Otherwise, or for a page in another language, the
/// loader asks for its configuration. The body depends on the `Referer`, and so does what
/// caches keep.
async fn site_loader(
    state: &IngestState,
    bodies: &CompressedBodies,
    headers: &HeaderMap,
) -> Response {
    let encoded = match page_origin(headers) {
        Some(origin) => site_loader_body(state, bodies, &origin).await,
        None => None,
    };
    let mut response = serve_loader(headers, encoded);
    response.headers_mut().insert(
        header::VARY,
        HeaderValue::from_static("Accept-Encoding, Referer"),
    );
    response
}

/// The shared loader with the surveys of the site at `origin` in front; `None` for the
/// shared loader alone: for a site without active entrypoints or with too many, whose
/// surveys add more than the budget, or while another loader is being compressed.
async fn site_loader_body(
    state: &IngestState,
    bodies: &CompressedBodies,
    origin: &Origin,
) -> Option<std::io::Result<Arc<Encoded>>> {
    let entrypoints = state.directory.active_for_origin(origin);
    if entrypoints.is_empty() || entrypoints.len() > MAX_SURVEYS_PER_SITE {
        return None;
    }
    let write = |entrypoints: &[Arc<Entrypoint>]| boot_script(entrypoints, Lang::default());
    let boot = Boot::Site(origin.clone());
    loader_with(bodies, boot, entrypoints, write, SITE_SURVEYS_BROTLI).await
}

/// A public response of `content_type` in the best encoding the client accepts, from
/// bodies prepared once: identity, gzip and brotli. With an `etag`, a client that already
/// holds the body gets 304 without it: pages revalidate the loader every minute.
fn negotiated(
    headers: &HeaderMap,
    content_type: &'static str,
    bodies: &impl Encodings,
    cache_control: &'static str,
    etag: Option<&HeaderValue>,
) -> Response {
    if let Some(etag) = etag.filter(|etag| still_fresh(headers, etag)) {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        let response_headers = response.headers_mut();
        response_headers.insert(header::ETAG, etag.clone());
        response_headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
        return public(response, cache_control);
    }
    let encoding = preferred_encoding(headers);
    let mut response = (
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
        bodies.body(encoding),
    )
        .into_response();
    let response_headers = response.headers_mut();
    response_headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    if let Some(etag) = etag {
        response_headers.insert(header::ETAG, etag.clone());
    }
    if let Some(encoding) = encoding {
        response_headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
    }
    public(response, cache_control)
}

/// The entrypoint `id` if it exists and collects ratings.
fn active_entrypoint(state: &IngestState, id: &EntrypointId) -> Option<Arc<Entrypoint>> {
    state
        .directory
        .get(id)
        .filter(|entrypoint| entrypoint.is_active())
}

/// A compressed body in the encoding the client accepts, or 503 when it could not be
/// encoded.
fn serve_encoded(
    headers: &HeaderMap,
    content_type: &'static str,
    encoded: std::io::Result<Arc<Encoded>>,
) -> Response {
    match encoded {
        Ok(encoded) => negotiated(
            headers,
            content_type,
            encoded.as_ref(),
            ENTRYPOINT_CACHE,
            Some(&encoded.etag),
        ),
        Err(error) => {
            tracing::error!(%error, content_type, "encoding an entrypoint's widget body failed");
            ApiError::Unavailable(crate::routes::ratings::RETRY_AFTER_UNAVAILABLE).into_response()
        }
    }
}

/// `/v1/entrypoints/{id}/widget-config`, rate-limited with the ratings.
pub(crate) async fn widget_config(
    State(state): State<IngestState>,
    Extension(bodies): Extension<Arc<CompressedBodies>>,
    Path(id): Path<String>,
    Query(query): QueryPairs,
    headers: HeaderMap,
) -> Response {
    let entrypoint = EntrypointId::parse(&id).and_then(|id| active_entrypoint(&state, &id));
    let Some(entrypoint) = entrypoint else {
        // Readable cross-origin, so the widget can tell the webmaster why it stays away.
        return public(
            ApiError::UnknownEntrypoint.into_response(),
            ENTRYPOINT_CACHE,
        );
    };
    let lang = lang_of(&query);
    // Written once while the entrypoint stays as it is: writing it out took half of what
    // answering costs (37,000 answers a second against 70,000 for the entrypoint's 5 KB
    // loader, 2026-12-07).
    let write = |_: &[Arc<Entrypoint>]| {
        serde_json::to_string(&json!({
            "entrypoint": entrypoint.id,
            "widget_version": satisfy_widget::VERSION,
            "ratings_endpoint": "/v1/ratings",
            "survey": entrypoint.survey(lang),
        }))
    };
    let written = bodies.head(
        Boot::Config(entrypoint.id.clone(), lang),
        vec![Arc::clone(&entrypoint)],
        write,
    );
    let encoded = match written {
        Ok(written) => bodies.config(written.script.clone()).await,
        Err(error) => Err(std::io::Error::other(error)),
    };
    serve_encoded(&headers, "application/json", encoded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::time::Duration;

    fn unpacked(encoded: &Encoded) -> [Vec<u8>; 2] {
        let mut gzip = Vec::new();
        flate2::read::GzDecoder::new(&encoded.gzip[..])
            .read_to_end(&mut gzip)
            .unwrap();
        let mut brotli = Vec::new();
        brotli::Decompressor::new(&encoded.brotli[..], 4096)
            .read_to_end(&mut brotli)
            .unwrap();
        [gzip, brotli]
    }

    #[tokio::test]
    async fn concurrent_requests_share_one_compression_and_a_changed_survey_is_a_new_body() {
        let bodies = CompressedBodies::default();
        let get = |body: &str| bodies.config(Bytes::copy_from_slice(body.as_bytes()));
        let (first, second) = tokio::join!(get("survey v1"), get("survey v1"));
        let (first, second) = (first.unwrap(), second.unwrap());
        assert!(Arc::ptr_eq(&first, &second), "compressed twice");
        assert_eq!(
            unpacked(&first),
            [b"survey v1".to_vec(), b"survey v1".to_vec()]
        );

        let edited = get("survey v2").await.unwrap();
        assert!(!Arc::ptr_eq(&first, &edited));
        assert_ne!(first.etag, edited.etag);
        assert_eq!(unpacked(&edited)[1], b"survey v2");
        assert!(Arc::ptr_eq(&first, &get("survey v1").await.unwrap()));
    }

    #[tokio::test]
    async fn loaders_are_compressed_one_at_a_time_and_page_views_never_wait_for_one() {
        let bodies = CompressedBodies::default();
        let loader = |head: &str| [head.as_bytes(), shared_loader().identity].concat();
        // The second page view finds the first one's compression under way: it is told to
        // serve the shared loader alone rather than wait or compress beside it.
        let (first, second) = tokio::join!(
            bodies.loader("survey v1;".into()),
            bodies.loader("survey v2;".into())
        );
        let first = first.unwrap().unwrap();
        assert!(second.is_none());
        assert_eq!(
            unpacked(&first),
            [loader("survey v1;"), loader("survey v1;")]
        );
        // The same head as a configuration is a body of its own, without the loader.
        let config = bodies.config("survey v1;".into()).await.unwrap();
        assert!(!Arc::ptr_eq(&first, &config));

        // While a loader is compressed, cached ones are still served.
        let busy = bodies.compressing_loader.try_acquire().unwrap();
        let cached = bodies.loader("survey v1;".into()).await.unwrap().unwrap();
        assert!(Arc::ptr_eq(&first, &cached));
        assert!(bodies.loader("survey v2;".into()).await.is_none());
        drop(busy);
        let second = bodies.loader("survey v2;".into()).await.unwrap().unwrap();
        assert_eq!(unpacked(&second)[1], loader("survey v2;"));

        // A page view that goes away while its loader is compressed: the work goes on and
        // holds the slot until done, and the body is cached all the same.
        let gone = tokio::time::timeout(Duration::ZERO, bodies.loader("survey v3;".into()));
        assert!(gone.await.is_err(), "compressed within no time");
        assert!(bodies.compressing_loader.try_acquire().is_err());
        let key = BodyKey {
            served: Served::Loader,
            head: Bytes::from_static(b"survey v3;"),
        };
        for _ in 0..500 {
            if bodies.cache.get(&key).is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(bodies.cache.get(&key).is_some(), "the body was not cached");
        tokio::task::yield_now().await;
        assert!(bodies.compressing_loader.try_acquire().is_ok());
    }

    #[test]
    fn a_head_starts_with_the_compile_hint_the_shared_loader_starts_with() {
        // widget/build.sh writes the loader's first line; the head must repeat it exactly.
        assert!(
            shared_loader()
                .identity
                .starts_with(COMPILE_HINT.as_bytes())
        );
        assert!(
            boot_script(&[], Lang::default())
                .unwrap()
                .starts_with(COMPILE_HINT)
        );
    }

    #[tokio::test]
    async fn a_head_is_written_once_while_its_entrypoints_stay_as_they_are() {
        use crate::directory::tests::{SITE, entrypoint_of};
        use crate::{EntrypointDirectory, EntrypointSnapshot};
        use satisfy_core::EntrypointKind::{PaginaWeb, ValutazioneServizio};
        let bodies = CompressedBodies::default();
        let directory = EntrypointSnapshot::default();
        let site = Origin::parse(SITE).unwrap();
        let writes = std::cell::Cell::new(0);
        let head = || {
            let write = |entrypoints: &[Arc<Entrypoint>]| {
                writes.set(writes.get() + 1);
                let titles: Vec<String> = entrypoints
                    .iter()
                    .map(|e| e.survey(Lang::It).title)
                    .collect();
                Ok(titles.join("|"))
            };
            let entrypoints = directory.active_for_origin(&site);
            bodies
                .head(Boot::Site(site.clone()), entrypoints, write)
                .unwrap()
        };
        directory.replace_all(vec![
            entrypoint_of(1, "pagine", PaginaWeb),
            entrypoint_of(2, "servizi", PaginaWeb),
        ]);
        let first = head();
        // Reloaded as they were (embedded, every 2 s): not written again.
        directory.replace_all(vec![
            entrypoint_of(1, "pagine", PaginaWeb),
            entrypoint_of(2, "servizi", PaginaWeb),
        ]);
        assert!(Arc::ptr_eq(&first, &head()));
        assert_eq!(writes.get(), 1);
        // One changed: written again, with its new survey.
        directory.replace_all(vec![
            entrypoint_of(1, "pagine", PaginaWeb),
            entrypoint_of(2, "servizi", ValutazioneServizio),
        ]);
        let changed = head();
        assert_eq!(writes.get(), 2);
        assert_eq!(
            changed.script,
            "Quanto sono chiare le informazioni su questa pagina?|Quanto è stato facile usare questo servizio?"
        );
        // One paused: written again without it.
        let mut paused = entrypoint_of(2, "servizi", ValutazioneServizio);
        paused.status = satisfy_core::EntrypointStatus::Paused;
        directory.replace_all(vec![entrypoint_of(1, "pagine", PaginaWeb), paused]);
        assert_eq!(
            head().script,
            "Quanto sono chiare le informazioni su questa pagina?"
        );
        // A loader found over its budget is not kept.
        let body = bodies
            .loader(changed.script.clone())
            .await
            .unwrap()
            .unwrap();
        bodies.forget_loader(changed.script.clone());
        let again = bodies
            .loader(changed.script.clone())
            .await
            .unwrap()
            .unwrap();
        assert!(!Arc::ptr_eq(&body, &again));
    }

    #[tokio::test]
    async fn a_head_over_its_budget_is_not_compressed_again_until_its_entrypoints_change() {
        use crate::directory::tests::entrypoint_of;
        use satisfy_core::EntrypointKind::PaginaWeb;
        let bodies = CompressedBodies::default();
        let site = Boot::Site(Origin::parse("https://www.comune.bugliano.pi.it").unwrap());
        let noise: String = (0..4096u32)
            .map(|n| char::from(b'a' + (n.wrapping_mul(2_654_435_761) >> 27) as u8 % 26))
            .collect();
        let wordy = vec![Arc::new(entrypoint_of(1, "wordy", PaginaWeb))];
        let served = |entrypoints: &Vec<Arc<Entrypoint>>, text: &str| {
            let text = text.to_owned();
            loader_with(
                &bodies,
                site.clone(),
                entrypoints.clone(),
                move |_| Ok(text),
                64,
            )
        };
        assert!(served(&wordy, &noise).await.is_none());
        let head = bodies.heads.get(&site).unwrap();
        assert!(head.over_budget.load(Ordering::Relaxed));
        assert_eq!(
            bodies.cache.len(),
            0,
            "the body over its budget is not kept"
        );
        // Asked again: answered from the flag, the cache not even looked at (a body put
        // back there stays, where a look-up would have found it over budget and dropped it).
        bodies.loader(head.script.clone()).await.unwrap().unwrap();
        assert!(served(&wordy, &noise).await.is_none());
        assert_eq!(bodies.cache.len(), 1);
        // Its entrypoints changed: a new head, within its budget this time.
        let terse = vec![Arc::new(entrypoint_of(1, "terse", PaginaWeb))];
        let body = served(&terse, "x;").await.unwrap().unwrap();
        assert_eq!(
            unpacked(&body)[1],
            [&b"x;"[..], shared_loader().identity].concat()
        );
        assert!(
            !bodies
                .heads
                .get(&site)
                .unwrap()
                .over_budget
                .load(Ordering::Relaxed)
        );
    }

    #[tokio::test]
    async fn a_flood_of_bodies_keeps_to_the_bound_and_leaves_the_one_pages_ask_for() {
        const BOUND: u64 = 1 << 20;
        let bodies = CompressedBodies::bounded(BOUND);
        let asked = || async { bodies.loader("survey;".into()).await.unwrap() };
        let kept = asked().await.unwrap();
        // Bodies that do not compress, each weighing about three times its 16 KB head, for
        // twice the bound: entrypoints and languages nobody asks for twice.
        let mut rng = 0x9e37_79b9_7f4a_7c15_u64;
        let mut noise = || -> Vec<u8> {
            (0..16 * 1024)
                .map(|_| {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    rng as u8
                })
                .collect()
        };
        let flood = (BOUND / (3 * 16 * 1024)) as usize * 2;
        for n in 1..=flood {
            let head = noise();
            bodies.config(head.into()).await.unwrap();
            // Meanwhile pages keep asking for the one body.
            assert!(
                Arc::ptr_eq(&kept, &asked().await.unwrap()),
                "compressed again after {n}"
            );
            assert!(
                bodies.cache.weight() <= BOUND,
                "{} bytes",
                bodies.cache.weight()
            );
        }
        assert!(bodies.cache.len() < flood);
    }

    #[test]
    fn picks_brotli_then_gzip_and_honours_q_zero() {
        let headers = |value: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::ACCEPT_ENCODING, value.parse().unwrap());
            h
        };
        assert_eq!(
            preferred_encoding(&headers("gzip, deflate, br, zstd")),
            Some("br")
        );
        assert_eq!(preferred_encoding(&headers("gzip")), Some("gzip"));
        assert_eq!(
            preferred_encoding(&headers("br;q=0, gzip;q=0.5")),
            Some("gzip")
        );
        assert_eq!(preferred_encoding(&headers("identity")), None);
        assert_eq!(preferred_encoding(&HeaderMap::new()), None);
    }
}
