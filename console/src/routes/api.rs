//! The REST API under `/api/v1`: entrypoints and their statistics, as JSON.
//! Authenticated by the console's session cookie (plus `X-CSRF-Token` for changes) or by
//! an API token of the tenant (`Authorization: Bearer`).

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use satisfy_core::{
    CustomSurvey, Entrypoint, EntrypointId, EntrypointKind, EntrypointStatus, Lang,
};
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::{OpenApi, ToSchema};

use crate::ConsoleState;
pub(super) use crate::auth::ApiUser;
use crate::error::ApiError;
use crate::forms::{parse_name, parse_origins, parse_service};
use crate::kpis::{KpiError, KpiParams, KpiSource, ServiceInfo, ServiceKpis};
use crate::overview::{self, Overview};
use crate::roles::Capability;
use crate::routes::entrypoints::{snippet_html, snippet_multilingual_html};
use crate::stats::{self, Report, StatsParams};
use crate::store::{AuditEntry, EntrypointChanges, new_entrypoint};

/// Routes under `/api/v1`.
pub fn router() -> Router<ConsoleState> {
    Router::new()
        .route("/openapi.json", get(openapi))
        .route("/docs", get(docs))
        .route("/docs/{file}", get(docs_asset))
        .route("/entrypoints", get(list).post(create))
        .route("/entrypoints/{id}", get(show).put(update_put).patch(update))
        .route("/entrypoints/{id}/stats", get(statistics))
        .route("/overview", get(tenant_overview))
        .route("/services", get(services))
        .route("/services/{service}/kpis", get(service_kpis))
        .route("/kpis", get(tenant_kpis))
        .merge(super::ratings::router())
        .route("/internal/entrypoints", get(internal_entrypoints))
        .route("/internal/token", post(internal_token))
        .fallback(|| async { ApiError::NotFound })
}

/// Refuses internal routes to anyone but ingest nodes presenting the internal token.
fn internal_caller(state: &ConsoleState, headers: &HeaderMap) -> Result<(), ApiError> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match (&state.config.internal_token, presented) {
        (Some(expected), Some(presented))
            if crate::auth::same_secret(expected.expose_secret(), presented) =>
        {
            Ok(())
        }
        _ => Err(ApiError::Unauthorized),
    }
}

/// What an ingest node asks about an API token presented to `POST /v1/events`.
#[derive(serde::Deserialize)]
struct TokenQuestion {
    token: String,
}

/// The tenant and scopes of a live API token, for ingest nodes checking the tokens of
/// platform events (404 for an unknown, revoked or expired one). The token's last use is
/// recorded as for any API call.
async fn internal_token(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Json(question): Json<TokenQuestion>,
) -> Result<Json<Value>, ApiError> {
    internal_caller(&state, &headers)?;
    let token = crate::tokens::verify(state.store.as_ref(), &question.token)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(json!({
        "tenant": token.tenant,
        "scopes": token.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
    })))
}

/// Every entrypoint of every active tenant, for ingest nodes, which poll it with `If-None-Match`
/// so an unchanged configuration costs a 304 and no body.
async fn internal_entrypoints(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    internal_caller(&state, &headers)?;
    let entrypoints = state.store.intake_entrypoints().await?;
    let body = serde_json::to_vec(&entrypoints).map_err(|_| ApiError::Unavailable)?;
    let etag = format!(
        "\"{}\"",
        crate::auth::token_hash(&String::from_utf8_lossy(&body))
    );
    let unchanged = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == etag);
    if unchanged {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response());
    }
    Ok((
        StatusCode::OK,
        [
            (header::ETAG, etag),
            (header::CONTENT_TYPE, "application/json".to_owned()),
        ],
        body,
    )
        .into_response())
}

fn kpi_error(error: KpiError) -> ApiError {
    match error {
        KpiError::Range(error) => ApiError::Invalid("invalid_range", error.to_string()),
        KpiError::Config(error) => error.into(),
        KpiError::Store(error) => error.into(),
    }
}

/// Every entrypoint of the tenant against the previous period, and what got worse:
/// averages that fell significantly (entrypoints and pages), jumps in reports of
/// technical problems, and the pages with most negative answers (docs/DASHBOARDS.md).
#[utoipa::path(get, path = "/overview", tag = "entrypoints", params(StatsParams),
    responses((status = 200, body = Overview), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn tenant_overview(
    State(state): State<ConsoleState>,
    user: ApiUser,
    Query(params): Query<StatsParams>,
) -> Result<Json<Overview>, ApiError> {
    allowed(&user, Capability::ReadStats)?;
    let tz = stats::tenant_time_zone(&state, &user.0.tenant).await?;
    let today = chrono::Utc::now().with_timezone(&tz).date_naive();
    let range = params
        .resolve(today)
        .map_err(|e| ApiError::Invalid("invalid_range", e.to_string()))?;
    Ok(Json(
        overview::build(&state, &user.0.tenant, range, tz).await?,
    ))
}

/// The tenant's services: those its platform events name and those its entrypoints rate.
#[utoipa::path(get, path = "/services", tag = "services",
    responses((status = 200, body = ServiceList), (status = 403, body = ErrorBody)))]
async fn services(
    State(state): State<ConsoleState>,
    user: ApiUser,
) -> Result<Json<ServiceList>, ApiError> {
    allowed(&user, Capability::ReadStats)?;
    let source = KpiSource::load(&state, &user.0.tenant, &KpiParams::default())
        .await
        .map_err(kpi_error)?;
    Ok(Json(ServiceList {
        services: source.services(),
    }))
}

/// One service's KPIs per period (docs/KPIS.md), with their variations and its
/// satisfaction.
#[utoipa::path(get, path = "/services/{service}/kpis", tag = "services",
    params(("service" = String, Path, description = "The service id of the events"), KpiParams),
    responses((status = 200, body = ServiceKpis), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn service_kpis(
    State(state): State<ConsoleState>,
    user: ApiUser,
    Path(service): Path<String>,
    Query(params): Query<KpiParams>,
) -> Result<Json<ServiceKpis>, ApiError> {
    allowed(&user, Capability::ReadStats)?;
    let source = KpiSource::load(&state, &user.0.tenant, &params)
        .await
        .map_err(kpi_error)?;
    let service = source
        .services()
        .into_iter()
        .find(|s| s.id == service)
        .ok_or(ApiError::NotFound)?;
    let kpis = source
        .service(&state, &service, &params)
        .await
        .map_err(kpi_error)?;
    Ok(Json(kpis))
}

/// Every service's KPIs, in the shape of one service's, one entry per service.
#[utoipa::path(get, path = "/kpis", tag = "services", params(KpiParams),
    responses((status = 200, body = TenantKpis), (status = 422, body = ErrorBody)))]
async fn tenant_kpis(
    State(state): State<ConsoleState>,
    user: ApiUser,
    Query(params): Query<KpiParams>,
) -> Result<Json<TenantKpis>, ApiError> {
    allowed(&user, Capability::ReadStats)?;
    let source = KpiSource::load(&state, &user.0.tenant, &params)
        .await
        .map_err(kpi_error)?;
    let mut services = Vec::new();
    for service in source.services() {
        services.push(
            source
                .service(&state, &service, &params)
                .await
                .map_err(kpi_error)?,
        );
    }
    Ok(Json(TenantKpis { services }))
}

async fn openapi() -> Response {
    match ApiDoc::openapi().to_json() {
        Ok(spec) => ([(header::CONTENT_TYPE, "application/json")], spec).into_response(),
        Err(error) => {
            tracing::error!(%error, "rendering the OpenAPI document failed");
            ApiError::Unavailable.into_response()
        }
    }
}

/// The API documentation page: Swagger UI (vendored from npm, see
/// console/static/swagger-ui/vendor.sh) over the generated OpenAPI document.
async fn docs() -> Response {
    let html = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
        <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
        <title>Satisfy API</title>\
        <link rel=\"stylesheet\" href=\"/api/v1/docs/swagger-ui.css\"></head>\
        <body><main id=\"swagger-ui\"></main>\
        <script src=\"/api/v1/docs/swagger-ui-bundle.js\"></script>\
        <script src=\"/api/v1/docs/init.js\"></script></body></html>";
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response()
}

async fn docs_asset(Path(file): Path<String>) -> Response {
    let (body, content_type): (&'static [u8], &str) = match file.as_str() {
        "swagger-ui-bundle.js" => (
            include_bytes!("../../static/swagger-ui/swagger-ui-bundle.js"),
            "text/javascript; charset=utf-8",
        ),
        "swagger-ui.css" => (
            include_bytes!("../../static/swagger-ui/swagger-ui.css"),
            "text/css; charset=utf-8",
        ),
        "init.js" => (
            include_bytes!("../../static/swagger-ui/init.js"),
            "text/javascript; charset=utf-8",
        ),
        _ => return ApiError::NotFound.into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

/// An entrypoint as the API shows it.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct EntrypointView {
    /// Public id, used in snippets (`ep_…`).
    id: String,
    /// The tenant owning it.
    tenant: String,
    /// Name shown in the console.
    name: String,
    /// `pagina_web`, `scheda_servizio`, `valutazione_servizio` or `personalizzato`.
    kind: String,
    /// `active` or `paused`.
    status: String,
    /// The sites (origins) whose pages may post ratings, at least one.
    allowed_origins: Vec<String>,
    /// The wording of a `personalizzato` entrypoint.
    #[schema(value_type = Option<Object>)]
    custom: Option<CustomSurvey>,
    /// The service it rates (scheda and valutazione servizio).
    service: Option<String>,
    /// Creation time, RFC 3339.
    created_at: Option<String>,
    /// The star question, in Italian.
    main_question: String,
    /// How many questions follow the stars.
    additional_questions: usize,
    /// The HTML snippet to paste in the site.
    snippet: String,
    /// The snippet for sites whose pages are not all in Italian: it loads the widget in
    /// the language of each page (`<html lang>`), as an inline script.
    snippet_multilingual: String,
}

fn to_json(state: &ConsoleState, entrypoint: &Entrypoint) -> EntrypointView {
    let survey = entrypoint.survey(Lang::It);
    EntrypointView {
        id: entrypoint.id.as_str().to_owned(),
        tenant: entrypoint.tenant.as_str().to_owned(),
        name: entrypoint.name.clone(),
        kind: entrypoint.kind.code().to_owned(),
        status: entrypoint.status.code().to_owned(),
        allowed_origins: entrypoint
            .allowed_origins
            .iter()
            .map(|o| o.as_str().to_owned())
            .collect(),
        custom: entrypoint.custom.clone(),
        service: entrypoint.service.clone(),
        created_at: chrono::DateTime::from_timestamp(entrypoint.created_at, 0)
            .map(|t| t.to_rfc3339()),
        main_question: survey.title.clone(),
        additional_questions: survey.additional_questions(),
        snippet: snippet_html(&state.config.public_url, &entrypoint.id),
        snippet_multilingual: snippet_multilingual_html(&state.config.public_url, &entrypoint.id),
    }
}

/// The tenant's entrypoints.
#[derive(serde::Serialize, ToSchema)]
struct EntrypointList {
    entrypoints: Vec<EntrypointView>,
}

/// An error answer.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(super) struct ErrorBody {
    error: ErrorDetail,
}

/// What went wrong: a stable code, a sentence, and the field at fault when there is one.
#[derive(ToSchema)]
#[allow(dead_code)]
struct ErrorDetail {
    code: String,
    message: String,
    field: Option<String>,
}

/// The statistics of one entrypoint.
#[derive(serde::Serialize, ToSchema)]
struct EntrypointStats {
    /// The entrypoint's id.
    entrypoint: String,
    #[serde(flatten)]
    report: Report,
}

/// The tenant's services.
#[derive(serde::Serialize, ToSchema)]
struct ServiceList {
    services: Vec<ServiceInfo>,
}

/// Every service's KPIs.
#[derive(serde::Serialize, ToSchema)]
struct TenantKpis {
    services: Vec<ServiceKpis>,
}

/// API tokens (`Authorization: Bearer sat_…`) and the console's session cookie.
struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme,
        };
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API token of the tenant: scope read for GET, write for changes.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "satisfy_session",
                "The console's session; changes also need the X-CSRF-Token header. Served over \
                 HTTPS (or with secure cookies), the cookie is `__Host-satisfy_session`.",
            ))),
        );
    }
}

/// The errors every route can answer, added to each operation that does not describe them
/// itself: no or a wrong credential (401), a role or scope that does not allow it (403),
/// too many failed credentials (429, with `Retry-After`), a store that is down (503); 404
/// where the path names a resource, 422 where the request carries parameters or a body.
struct CommonErrors;

impl utoipa::Modify for CommonErrors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{Ref, ResponseBuilder, content::ContentBuilder};
        let error = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorBody")))
                        .build(),
                )
                .build()
        };
        for (path, item) in openapi.paths.paths.iter_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                let takes_input = operation.parameters.as_ref().is_some_and(|p| !p.is_empty())
                    || operation.request_body.is_some();
                let mut statuses = vec![
                    ("401", "No valid token or session."),
                    ("403", "The role or the token's scopes do not allow this."),
                    (
                        "429",
                        "Too many failed credentials from this client: retry after `Retry-After` seconds.",
                    ),
                    ("503", "A store is unavailable: retry later."),
                ];
                if path.contains('{') {
                    statuses.push(("404", "No such resource in this tenant."));
                }
                if takes_input {
                    statuses.push(("422", "A parameter or the body is invalid: `error.code` names which (`invalid_origin`, `invalid_name`, …) and `error.message` says why."));
                }
                for (status, description) in statuses {
                    operation
                        .responses
                        .responses
                        .entry(status.to_owned())
                        .or_insert_with(|| error(description).into());
                }
            }
        }
    }
}

/// The OpenAPI description of this API, generated from the handlers and types below.
#[derive(OpenApi)]
#[openapi(
    info(title = "Satisfy API", description = "Entrypoints, their statistics, and service KPIs of the tenant. Every route answers only for the token's or session's tenant."),
    servers((url = "/api/v1")),
    paths(list, create, show, update, update_put, statistics, super::ratings::ratings, super::ratings::aggregates, tenant_overview, services, service_kpis, tenant_kpis),
    components(schemas(ErrorBody, ErrorDetail)),
    modifiers(&Security, &CommonErrors),
    security(("token" = []), ("session" = [])),
)]
struct ApiDoc;

fn body<T>(payload: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    payload
        .map(|Json(value)| value)
        .map_err(|rejection| ApiError::Invalid("invalid_body", rejection.body_text()))
}

/// Refuses the request (403) unless it may do `capability`.
fn allowed(user: &ApiUser, capability: Capability) -> Result<(), ApiError> {
    if user.0.can(capability) {
        Ok(())
    } else {
        Err(ApiError::Forbidden)
    }
}

/// The entrypoint `id` of the request's tenant (404 for any other tenant's, whatever the
/// role), if the request may do `capability` with it (403 otherwise).
pub(super) async fn owned(
    state: &ConsoleState,
    user: &ApiUser,
    id: &str,
    capability: Capability,
) -> Result<Entrypoint, ApiError> {
    let id = EntrypointId::parse(id).ok_or(ApiError::NotFound)?;
    let entrypoint = state
        .store
        .entrypoint(&user.0.tenant, &id)
        .await?
        .ok_or(ApiError::NotFound)?;
    allowed(user, capability)?;
    Ok(entrypoint)
}

/// The tenant's entrypoints, newest first.
#[utoipa::path(get, path = "/entrypoints", tag = "entrypoints", responses(
    (status = 200, body = EntrypointList),
    (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
))]
async fn list(
    State(state): State<ConsoleState>,
    user: ApiUser,
) -> Result<Json<EntrypointList>, ApiError> {
    allowed(&user, Capability::ListEntrypoints)?;
    let entrypoints = state.store.entrypoints(&user.0.tenant).await?;
    Ok(Json(EntrypointList {
        entrypoints: entrypoints.iter().map(|e| to_json(&state, e)).collect(),
    }))
}

/// A site allowed to post ratings, as its origin (`https://www.comune.example.it`): the
/// documented form of the strings `allowed_origins` holds.
/// Schema only: the strings are parsed as `satisfy_core::Origin`, which accepts at least
/// what the pattern allows.
struct SiteOrigin;

impl utoipa::PartialSchema for SiteOrigin {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some(r"^https?://[a-z0-9.-]{1,63}(:[0-9]{1,5})?$"))
            .examples(["https://www.comune.example.it"])
            .into()
    }
}

impl utoipa::ToSchema for SiteOrigin {}

/// A new entrypoint.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateEntrypoint {
    /// 1 to 120 characters.
    name: String,
    /// `pagina_web`, `scheda_servizio`, `valutazione_servizio` or `personalizzato`.
    kind: String,
    /// The sites (origins, `https://www.comune.example.it`) that may post ratings, for
    /// their own pages: at least one.
    #[serde(default)]
    #[schema(min_items = 1, value_type = Vec<SiteOrigin>)]
    allowed_origins: Vec<String>,
    /// The wording of a `personalizzato` entrypoint: `{"question", "follow_ups": [{"question", "options"}]}`.
    #[schema(value_type = Option<Object>)]
    custom: Option<CustomSurvey>,
    /// The service a scheda or valutazione servizio rates.
    service: Option<String>,
}

/// `Some(None)` for an explicit `null` (clear the field), `None` when absent (keep it).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

fn parse_custom(
    kind: EntrypointKind,
    custom: Option<CustomSurvey>,
) -> Result<Option<CustomSurvey>, ApiError> {
    match (kind, custom) {
        (EntrypointKind::Personalizzato, Some(custom)) => CustomSurvey::parse(custom)
            .map(Some)
            .map_err(|e| ApiError::Invalid("invalid_custom", e.to_string())),
        (EntrypointKind::Personalizzato, None) => Ok(None),
        (_, Some(_)) => Err(ApiError::Invalid(
            "invalid_custom",
            "only personalizzato entrypoints have custom questions".into(),
        )),
        (_, None) => Ok(None),
    }
}

/// Creates an entrypoint (scope `write`, or an editor's session).
#[utoipa::path(post, path = "/entrypoints", tag = "entrypoints", request_body = CreateEntrypoint, responses(
    (status = 201, body = EntrypointView),
    (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody),
))]
async fn create(
    State(state): State<ConsoleState>,
    user: ApiUser,
    payload: Result<Json<CreateEntrypoint>, JsonRejection>,
) -> Result<Response, ApiError> {
    allowed(&user, Capability::ManageEntrypoints)?;
    let input = body(payload)?;
    let name =
        parse_name(&input.name).map_err(|e| ApiError::Invalid("invalid_name", e.to_string()))?;
    let kind = EntrypointKind::parse(&input.kind).ok_or_else(|| {
        ApiError::Invalid(
            "invalid_kind",
            "kind must be pagina_web, scheda_servizio, valutazione_servizio or personalizzato"
                .into(),
        )
    })?;
    let origins = parse_origins(input.allowed_origins.iter().map(String::as_str))
        .map_err(|e| ApiError::Invalid("invalid_origin", e.to_string()))?;
    let custom = parse_custom(kind, input.custom)?;
    let service = parse_service(kind, input.service.as_deref().unwrap_or_default())
        .map_err(|e| ApiError::Invalid("invalid_service", e.to_string()))?;
    let mut entrypoint = new_entrypoint(user.0.tenant.clone(), name, kind, origins, custom);
    entrypoint.service = service;
    state.store.create_entrypoint(&entrypoint).await?;
    tracing::info!(id = %entrypoint.id, "entrypoint created through the API");
    let entry = AuditEntry::now(
        Some(&user.0.tenant),
        &user.0.actor,
        "entrypoint_created",
        Some(entrypoint.id.as_str()),
    );
    state.store.record(entry).await?;
    Ok((StatusCode::CREATED, Json(to_json(&state, &entrypoint))).into_response())
}

/// One entrypoint of the tenant (404 for any other tenant's).
#[utoipa::path(get, path = "/entrypoints/{id}", tag = "entrypoints",
    params(("id" = String, Path, description = "Entrypoint id")),
    responses((status = 200, body = EntrypointView), (status = 404, body = ErrorBody)))]
async fn show(
    State(state): State<ConsoleState>,
    user: ApiUser,
    Path(id): Path<String>,
) -> Result<Json<EntrypointView>, ApiError> {
    let entrypoint = owned(&state, &user, &id, Capability::ListEntrypoints).await?;
    Ok(Json(to_json(&state, &entrypoint)))
}

/// Changes to an entrypoint; absent fields stay as they are.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdateEntrypoint {
    name: Option<String>,
    /// `active` or `paused`.
    #[schema(value_type = Option<String>)]
    status: Option<EntrypointStatus>,
    /// The sites that may post ratings, replacing the list: at least one.
    #[schema(min_items = 1, value_type = Option<Vec<SiteOrigin>>)]
    allowed_origins: Option<Vec<String>>,
    #[schema(value_type = Option<Object>)]
    custom: Option<CustomSurvey>,
    /// The rated service; `null` clears it.
    #[serde(default, deserialize_with = "present")]
    service: Option<Option<String>>,
}

/// Changes an entrypoint (scope `write`); PUT does the same (see [`update_put`]).
#[utoipa::path(patch, path = "/entrypoints/{id}", tag = "entrypoints",
    params(("id" = String, Path, description = "Entrypoint id")),
    request_body = UpdateEntrypoint,
    responses((status = 200, body = EntrypointView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update(
    State(state): State<ConsoleState>,
    user: ApiUser,
    Path(id): Path<String>,
    payload: Result<Json<UpdateEntrypoint>, JsonRejection>,
) -> Result<Json<EntrypointView>, ApiError> {
    let entrypoint = owned(&state, &user, &id, Capability::ManageEntrypoints).await?;
    let input = body(payload)?;
    let changes = EntrypointChanges {
        name: input
            .name
            .map(|n| parse_name(&n))
            .transpose()
            .map_err(|e| ApiError::Invalid("invalid_name", e.to_string()))?,
        status: input.status,
        allowed_origins: input
            .allowed_origins
            .map(|o| parse_origins(o.iter().map(String::as_str)))
            .transpose()
            .map_err(|e| ApiError::Invalid("invalid_origin", e.to_string()))?,
        custom: parse_custom(entrypoint.kind, input.custom)?,
        service: input
            .service
            .map(|s| parse_service(entrypoint.kind, s.as_deref().unwrap_or_default()))
            .transpose()
            .map_err(|e| ApiError::Invalid("invalid_service", e.to_string()))?,
    };
    let updated = state
        .store
        .update_entrypoint(&user.0.tenant, &entrypoint.id, changes)
        .await?
        .ok_or(ApiError::NotFound)?;
    let entry = AuditEntry::now(
        Some(&user.0.tenant),
        &user.0.actor,
        "entrypoint_updated",
        Some(updated.id.as_str()),
    );
    state.store.record(entry).await?;
    Ok(Json(to_json(&state, &updated)))
}

/// Changes an entrypoint (scope `write`), as PATCH does: the fields given change, the
/// others stay. Its own operation, so that the document's operation ids stay unique.
#[utoipa::path(put, path = "/entrypoints/{id}", tag = "entrypoints",
    params(("id" = String, Path, description = "Entrypoint id")),
    request_body = UpdateEntrypoint,
    responses((status = 200, body = EntrypointView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_put(
    state: State<ConsoleState>,
    user: ApiUser,
    id: Path<String>,
    payload: Result<Json<UpdateEntrypoint>, JsonRejection>,
) -> Result<Json<EntrypointView>, ApiError> {
    update(state, user, id, payload).await
}

/// An entrypoint's statistics over a range: totals, a series per period, answers,
/// comments (not for auditors) and the worst pages.
#[utoipa::path(get, path = "/entrypoints/{id}/stats", tag = "entrypoints",
    params(("id" = String, Path, description = "Entrypoint id"), StatsParams),
    responses((status = 200, body = EntrypointStats), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn statistics(
    State(state): State<ConsoleState>,
    user: ApiUser,
    Path(id): Path<String>,
    Query(params): Query<StatsParams>,
) -> Result<Json<EntrypointStats>, ApiError> {
    let entrypoint = owned(&state, &user, &id, Capability::ReadStats).await?;
    let tz = stats::tenant_time_zone(&state, &entrypoint.tenant).await?;
    let today = chrono::Utc::now().with_timezone(&tz).date_naive();
    let range = params
        .resolve(today)
        .map_err(|e| ApiError::Invalid("invalid_range", e.to_string()))?;
    let with_comments = user.0.can(Capability::ReadComments);
    let report = stats::report(&state, &entrypoint, range, tz, with_comments).await?;
    Ok(Json(EntrypointStats {
        entrypoint: entrypoint.id.as_str().to_owned(),
        report,
    }))
}
