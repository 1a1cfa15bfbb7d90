//! The HTML console under `/console`.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use chrono::TimeZone;
use satisfy_core::{Entrypoint, EntrypointId, EntrypointKind, EntrypointStatus, Lang};
use serde::Deserialize;
use std::collections::HashMap;

use crate::ConsoleState;
use crate::auth::{
    self, Authenticated, ClientAddress, PageUser, SESSION_SECONDS, login_csrf_cookie, same_secret,
    session_cookie,
};
use crate::error::{PageError, retry_after};
use crate::forms::{parse_custom_form, parse_name, parse_origins};
use crate::i18n::{LANG_COOKIE, Ui, UiLang, ui};
use crate::invitations::{PolicyError, check_password_policy, valid_username};
use crate::roles::Capability;
use crate::sign_in::Refusal;
use crate::stats::{self, StatsParams, bucket_label};
use crate::store::{AuditEntry, EntrypointChanges, NewSession, User, new_entrypoint};

/// Routes under `/console`.
pub fn router() -> Router<ConsoleState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/console/entrypoints") }))
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
        .route("/set-password", get(set_password_form).post(set_password))
        .route("/account", get(account))
        .route("/tenant", post(switch_tenant))
        .route("/account/password", post(change_password))
        .route("/account/sign-out-everywhere", post(sign_out_everywhere))
        .route("/lang/{code}", get(switch_language))
        .route("/static/{file}", get(static_file))
        .route("/entrypoints", get(list).post(create))
        .route("/entrypoints/new", get(new_form))
        .route("/entrypoints/{id}", post(update))
        .route("/entrypoints/{id}/edit", get(edit_form))
        .route("/entrypoints/{id}/snippet", get(snippet))
        .route("/entrypoints/{id}/stats", get(statistics))
        .merge(super::team::router())
        .merge(super::tenants::router())
        .fallback(|| async { PageError::NotFound })
}

/// What every page's frame shows.
pub struct Layout {
    pub(crate) ui: &'static Ui,
    pub(crate) languages: Vec<(&'static str, &'static str)>,
    pub(crate) username: Option<String>,
    pub(crate) csrf: String,
    pub(crate) path: String,
    /// Links the user's role allows.
    pub(crate) can_manage: bool,
    pub(crate) can_read_stats: bool,
    pub(crate) can_manage_team: bool,
    pub(crate) platform_admin: bool,
    /// The tenant the user works in, and those they may switch to (slug, name).
    pub(crate) tenant: String,
    pub(crate) tenants: Vec<(String, String)>,
}

impl Layout {
    fn new(lang: Lang, auth: Option<&Authenticated>, csrf: String, path: &str) -> Layout {
        Layout {
            ui: ui(lang),
            languages: Lang::ALL
                .iter()
                .map(|l| (l.code(), l.native_name()))
                .collect(),
            username: auth.map(|a| a.actor.clone()),
            csrf,
            path: path.to_owned(),
            can_manage: auth.is_some_and(|a| a.can(Capability::ManageEntrypoints)),
            can_read_stats: auth.is_some_and(|a| a.can(Capability::ReadStats)),
            can_manage_team: auth.is_some_and(|a| a.can(Capability::ManageTeam)),
            platform_admin: auth.is_some_and(|a| a.platform_admin),
            tenant: auth
                .map(|a| a.tenant.as_str().to_owned())
                .unwrap_or_default(),
            tenants: auth.map(|a| a.tenants.clone()).unwrap_or_default(),
        }
    }

    pub(crate) fn for_user(lang: Lang, auth: &Authenticated, path: &str) -> Layout {
        Layout::new(
            lang,
            Some(auth),
            auth.csrf_token.clone().unwrap_or_default(),
            path,
        )
    }
}

/// Renders a page (the security headers come from [`crate::security`]).
pub(crate) fn render(template: &impl Template, status: StatusCode) -> Response {
    match template.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(error) => {
            tracing::error!(%error, "template rendering failed");
            PageError::Unavailable.into_response()
        }
    }
}

fn with_cookie(mut response: Response, cookie: String) -> Response {
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

pub(crate) fn check_csrf(auth: &Authenticated, submitted: &str) -> Result<(), PageError> {
    match &auth.csrf_token {
        Some(expected) if same_secret(expected, submitted) => Ok(()),
        _ => Err(PageError::CsrfRejected),
    }
}

async fn static_file(Path(file): Path<String>) -> Response {
    let (body, content_type) = match file.as_str() {
        "console.css" => (
            include_str!("../../static/console.css"),
            "text/css; charset=utf-8",
        ),
        "console.js" => (
            include_str!("../../static/console.js"),
            "text/javascript; charset=utf-8",
        ),
        _ => return PageError::NotFound.into_response(),
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

#[derive(Deserialize)]
struct NextPage {
    next: Option<String>,
}

async fn switch_language(Path(code): Path<String>, Query(query): Query<NextPage>) -> Response {
    // Only same-site console paths: never an open redirect.
    let next = query
        .next
        .filter(|n| n.starts_with("/console") && !n.contains("//") && !n.contains('\\'))
        .unwrap_or_else(|| "/console/entrypoints".into());
    let redirect = Redirect::to(&next).into_response();
    match Lang::parse(&code) {
        Some(lang) => with_cookie(
            redirect,
            format!(
                "{LANG_COOKIE}={}; Path=/; SameSite=Lax; Max-Age=31536000",
                lang.code()
            ),
        ),
        None => redirect,
    }
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    layout: Layout,
    failed: bool,
    throttled: bool,
    username: String,
}

/// What the login form tells about the previous attempt.
enum LoginOutcome {
    /// No attempt yet.
    Fresh,
    /// Wrong username or password.
    Failed,
    /// Too many failures: retry after this long.
    Throttled(std::time::Duration),
}

fn login_page(lang: Lang, outcome: LoginOutcome, username: String, secure: bool) -> Response {
    // Double-submit token: the form must echo the cookie a cross-site page cannot read.
    let token = auth::random_token();
    let page = LoginPage {
        layout: Layout::new(lang, None, token.clone(), "/console/login"),
        failed: matches!(outcome, LoginOutcome::Failed),
        throttled: matches!(outcome, LoginOutcome::Throttled(_)),
        username,
    };
    let status = match outcome {
        LoginOutcome::Fresh => StatusCode::OK,
        LoginOutcome::Failed => StatusCode::UNAUTHORIZED,
        LoginOutcome::Throttled(_) => StatusCode::TOO_MANY_REQUESTS,
    };
    let mut response = with_cookie(
        render(&page, status),
        auth::set_cookie(login_csrf_cookie(secure), &token, 3600, secure),
    );
    if let LoginOutcome::Throttled(wait) = outcome {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, retry_after(wait));
    }
    response
}

async fn login_form(State(state): State<ConsoleState>, UiLang(lang): UiLang) -> Response {
    login_page(
        lang,
        LoginOutcome::Fresh,
        String::new(),
        state.config.secure_cookies,
    )
}

#[derive(Deserialize)]
struct LoginForm {
    username: String,
    password: String,
    csrf: String,
}

async fn login(
    State(state): State<ConsoleState>,
    UiLang(lang): UiLang,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, PageError> {
    let secure = state.config.secure_cookies;
    let expected = auth::cookie(&headers, login_csrf_cookie(secure)).unwrap_or_default();
    if !same_secret(expected, &form.csrf) {
        return Err(PageError::CsrfRejected);
    }
    let username = form.username.trim();
    // A name no account can have fails at once: it costs no hash and is neither kept as a
    // throttle key nor written anywhere (it may be a password typed in the wrong field).
    if !valid_username(username) {
        return Ok(login_page(
            lang,
            LoginOutcome::Failed,
            String::new(),
            secure,
        ));
    }
    let user = state.store.find_user(username).await?;
    let stored_hash = user.as_ref().map(|u| u.password_hash.clone());
    let verified = match state
        .sign_in
        .check(username, address, form.password, stored_hash)
        .await
    {
        Ok(verified) => verified,
        Err(Refusal::Throttled(wait)) => {
            tracing::warn!(%address, "console login throttled");
            let outcome = LoginOutcome::Throttled(wait);
            return Ok(login_page(lang, outcome, form.username, secure));
        }
        Err(Refusal::Busy) => return Err(PageError::Unavailable),
    };
    let tenant = user.as_ref().map(|u| u.tenant.clone());
    // Only existing accounts are named: an unknown name may be a mistyped password.
    let actor = if user.is_some() { username } else { "unknown" };
    let Some(user) = user.filter(|_| verified) else {
        tracing::info!(username = %actor, "failed console login");
        let entry = AuditEntry::now(tenant.as_ref(), actor, "sign_in_failed", None);
        state.store.record(entry).await?;
        return Ok(login_page(
            lang,
            LoginOutcome::Failed,
            form.username,
            secure,
        ));
    };
    let token = auth::random_token();
    let expires_at = chrono::Utc::now().timestamp() + SESSION_SECONDS;
    state
        .store
        .create_session(NewSession {
            token_hash: auth::token_hash(&token),
            username: user.username.clone(),
            csrf_token: auth::random_token(),
            expires_at,
        })
        .await?;
    tracing::info!(username = %user.username, "console login");
    let entry = AuditEntry::now(Some(&user.tenant), &user.username, "sign_in", None);
    state.store.record(entry).await?;
    let response = Redirect::to("/console/entrypoints").into_response();
    Ok(with_cookie(
        response,
        auth::set_cookie(session_cookie(secure), &token, SESSION_SECONDS, secure),
    ))
}

/// Why the password policy refused a password, in the page's language.
fn policy_message(texts: &Ui, error: PolicyError) -> &'static str {
    match error {
        PolicyError::TooShort => texts.password_too_short,
        PolicyError::SameAsUsername => texts.password_is_username,
        PolicyError::TooCommon => texts.password_too_common,
    }
}

#[derive(Template)]
#[template(path = "set_password.html")]
struct SetPasswordPage {
    layout: Layout,
    valid: bool,
    token: String,
    username: String,
    error: Option<&'static str>,
}

/// The set-password form of an invitation, or why it cannot be used (410).
fn set_password_page(
    lang: Lang,
    secure: bool,
    token: String,
    user: Option<&User>,
    error: Option<&'static str>,
) -> Response {
    let csrf = auth::random_token();
    let texts = ui(lang);
    let (status, error) = match (user, error) {
        (None, _) => (StatusCode::GONE, Some(texts.invitation_invalid)),
        (Some(_), Some(error)) => (StatusCode::UNPROCESSABLE_ENTITY, Some(error)),
        (Some(_), None) => (StatusCode::OK, None),
    };
    let page = SetPasswordPage {
        layout: Layout::new(lang, None, csrf.clone(), "/console/set-password"),
        valid: user.is_some(),
        token,
        username: user.map(|u| u.username.clone()).unwrap_or_default(),
        error,
    };
    with_cookie(
        render(&page, status),
        auth::set_cookie(login_csrf_cookie(secure), &csrf, 3600, secure),
    )
}

#[derive(Deserialize)]
struct InvitationQuery {
    token: Option<String>,
}

async fn set_password_form(
    State(state): State<ConsoleState>,
    UiLang(lang): UiLang,
    Query(query): Query<InvitationQuery>,
) -> Result<Response, PageError> {
    let token = query.token.unwrap_or_default();
    let user = state.store.invitation(&auth::token_hash(&token)).await?;
    let secure = state.config.secure_cookies;
    Ok(set_password_page(lang, secure, token, user.as_ref(), None))
}

#[derive(Deserialize)]
struct SetPasswordForm {
    token: String,
    password: String,
    confirm: String,
    csrf: String,
}

async fn set_password(
    State(state): State<ConsoleState>,
    UiLang(lang): UiLang,
    headers: HeaderMap,
    Form(form): Form<SetPasswordForm>,
) -> Result<Response, PageError> {
    let secure = state.config.secure_cookies;
    let expected = auth::cookie(&headers, login_csrf_cookie(secure)).unwrap_or_default();
    if !same_secret(expected, &form.csrf) {
        return Err(PageError::CsrfRejected);
    }
    let hash_of_token = auth::token_hash(&form.token);
    let Some(user) = state.store.invitation(&hash_of_token).await? else {
        return Ok(set_password_page(lang, secure, form.token, None, None));
    };
    let texts = ui(lang);
    let refusal = if form.password != form.confirm {
        Some(texts.passwords_differ)
    } else {
        check_password_policy(&user.username, &form.password)
            .err()
            .map(|error| policy_message(texts, error))
    };
    if refusal.is_some() {
        return Ok(set_password_page(
            lang,
            secure,
            form.token,
            Some(&user),
            refusal,
        ));
    }
    let hash = auth::hash_password_off_thread(form.password).await?;
    if !state.store.accept_invitation(&hash_of_token, &hash).await? {
        return Ok(set_password_page(lang, secure, form.token, None, None));
    }
    tracing::info!(username = %user.username, "password set through an invitation");
    let entry = AuditEntry::now(Some(&user.tenant), &user.username, "password_set", None);
    state.store.record(entry).await?;
    Ok(Redirect::to("/console/login").into_response())
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    layout: Layout,
    notice: Option<&'static str>,
}

fn account_page(
    lang: Lang,
    auth: &Authenticated,
    notice: Option<&'static str>,
    status: StatusCode,
) -> Response {
    let layout = Layout::for_user(lang, auth, "/console/account");
    render(&AccountPage { layout, notice }, status)
}

async fn account(PageUser(auth): PageUser, UiLang(lang): UiLang) -> Response {
    account_page(lang, &auth, None, StatusCode::OK)
}

#[derive(Deserialize)]
struct ChangePasswordForm {
    csrf: String,
    current: String,
    password: String,
    confirm: String,
}

/// Changes the signed-in user's password, checked like a sign-in (throttled), and ends
/// their other sessions.
async fn change_password(
    State(state): State<ConsoleState>,
    PageUser(auth): PageUser,
    UiLang(lang): UiLang,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    Form(form): Form<ChangePasswordForm>,
) -> Result<Response, PageError> {
    check_csrf(&auth, &form.csrf)?;
    let texts = ui(lang);
    let refuse = |notice, status| Ok(account_page(lang, &auth, Some(notice), status));
    let user = state.store.find_user(&auth.actor).await?;
    let stored_hash = user.map(|u| u.password_hash);
    match state
        .sign_in
        .check(&auth.actor, address, form.current, stored_hash)
        .await
    {
        Ok(true) => {}
        Ok(false) => {
            return refuse(
                texts.current_password_wrong,
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
        Err(Refusal::Throttled(_)) => {
            return refuse(texts.login_throttled, StatusCode::TOO_MANY_REQUESTS);
        }
        Err(Refusal::Busy) => return Err(PageError::Unavailable),
    }
    if form.password != form.confirm {
        return refuse(texts.passwords_differ, StatusCode::UNPROCESSABLE_ENTITY);
    }
    if let Err(error) = check_password_policy(&auth.actor, &form.password) {
        return refuse(
            policy_message(texts, error),
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    let hash = auth::hash_password_off_thread(form.password).await?;
    let current =
        auth::cookie(&headers, session_cookie(state.config.secure_cookies)).map(auth::token_hash);
    state
        .store
        .change_password(&auth.actor, &hash, current.as_deref())
        .await?;
    let entry = AuditEntry::now(Some(&auth.tenant), &auth.actor, "password_changed", None);
    state.store.record(entry).await?;
    Ok(account_page(
        lang,
        &auth,
        Some(texts.password_changed),
        StatusCode::OK,
    ))
}

/// Ends every session of the signed-in user, this one included.
async fn sign_out_everywhere(
    State(state): State<ConsoleState>,
    PageUser(auth): PageUser,
    Form(form): Form<CsrfForm>,
) -> Result<Response, PageError> {
    check_csrf(&auth, &form.csrf)?;
    state.store.delete_sessions(&auth.actor).await?;
    let entry = AuditEntry::now(
        Some(&auth.tenant),
        &auth.actor,
        "signed_out_everywhere",
        None,
    );
    state.store.record(entry).await?;
    let secure = state.config.secure_cookies;
    Ok(with_cookie(
        Redirect::to("/console/login").into_response(),
        auth::set_cookie(session_cookie(secure), "", 0, secure),
    ))
}

#[derive(Deserialize)]
struct SwitchForm {
    csrf: String,
    tenant: String,
}

/// Makes the session work in another tenant where the user holds a role.
async fn switch_tenant(
    State(state): State<ConsoleState>,
    PageUser(auth): PageUser,
    headers: HeaderMap,
    Form(form): Form<SwitchForm>,
) -> Result<Response, PageError> {
    check_csrf(&auth, &form.csrf)?;
    let tenant = auth
        .tenants
        .iter()
        .find(|(slug, _)| *slug == form.tenant)
        .and_then(|(slug, _)| satisfy_core::TenantId::parse(slug))
        .ok_or(PageError::Forbidden)?;
    let secure = state.config.secure_cookies;
    let token = auth::cookie(&headers, session_cookie(secure)).ok_or(PageError::LoginRequired)?;
    state
        .store
        .switch_session(&auth::token_hash(token), &tenant)
        .await?;
    Ok(Redirect::to("/console/entrypoints").into_response())
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn logout(
    State(state): State<ConsoleState>,
    PageUser(auth): PageUser,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Result<Response, PageError> {
    check_csrf(&auth, &form.csrf)?;
    let secure = state.config.secure_cookies;
    if let Some(token) = auth::cookie(&headers, session_cookie(secure)) {
        state.store.delete_session(&auth::token_hash(token)).await?;
    }
    let entry = AuditEntry::now(Some(&auth.tenant), &auth.actor, "sign_out", None);
    state.store.record(entry).await?;
    Ok(with_cookie(
        Redirect::to("/console/login").into_response(),
        auth::set_cookie(session_cookie(secure), "", 0, secure),
    ))
}

struct Row {
    id: String,
    name: String,
    kind: &'static str,
    created: String,
    main_question: String,
    additional_questions: usize,
    status: &'static str,
}

#[derive(Template)]
#[template(path = "entrypoints.html")]
struct ListPage {
    layout: Layout,
    rows: Vec<Row>,
}

/// Unix `seconds` in the console's time zone, written with `format`.
pub(crate) fn local_time(state: &ConsoleState, seconds: i64, format: &str) -> String {
    state
        .config
        .time_zone
        .timestamp_opt(seconds, 0)
        .single()
        .map(|t| t.format(format).to_string())
        .unwrap_or_default()
}

fn local_date(state: &ConsoleState, seconds: i64) -> String {
    local_time(state, seconds, "%d/%m/%Y")
}

async fn list(
    State(state): State<ConsoleState>,
    PageUser(auth): PageUser,
    UiLang(lang): UiLang,
) -> Result<Response, PageError> {
    let entrypoints = state.store.entrypoints(&auth.tenant).await?;
    let texts = ui(lang);
    let rows = entrypoints
        .iter()
        .map(|e| {
            let survey = e.survey(lang);
            Row {
                id: e.id.to_string(),
                name: e.name.clone(),
                kind: e.kind.label(lang),
                created: local_date(&state, e.created_at),
                main_question: survey.title.clone(),
                additional_questions: survey.additional_questions(),
                status: if e.is_active() {
                    texts.active
                } else {
                    texts.paused
                },
            }
        })
        .collect();
    let page = ListPage {
        layout: Layout::for_user(lang, &auth, "/console/entrypoints"),
        rows,
    };
    Ok(render(&page, StatusCode::OK))
}

#[derive(Template)]
#[template(path = "entrypoint_form.html")]
struct FormPage {
    layout: Layout,
    heading: String,
    action: String,
    is_new: bool,
    error: Option<String>,
    name: String,
    kinds: Vec<(&'static str, &'static str)>,
    kind: &'static str,
    kind_label: &'static str,
    active: bool,
    origins: String,
    show_custom: bool,
    custom_question: String,
    custom_follow_ups: Vec<(usize, String, String)>,
}

impl FormPage {
    fn new(layout: Layout, lang: Lang, entrypoint: Option<&Entrypoint>) -> FormPage {
        let texts = layout.ui;
        let kind = entrypoint
            .map(|e| e.kind)
            .unwrap_or(EntrypointKind::PaginaWeb);
        let custom = entrypoint
            .and_then(|e| e.custom.clone())
            .unwrap_or_default();
        let custom_follow_ups = (0..satisfy_core::entrypoint::MAX_CUSTOM_QUESTIONS)
            .map(|i| match custom.follow_ups.get(i) {
                Some(q) => (i + 1, q.question.clone(), q.options.join("\n")),
                None => (i + 1, String::new(), String::new()),
            })
            .collect();
        FormPage {
            heading: match entrypoint {
                Some(e) => format!("{}: {}", texts.edit, e.name),
                None => texts.add_entrypoint.to_owned(),
            },
            action: match entrypoint {
                Some(e) => format!("/console/entrypoints/{}", e.id),
                None => "/console/entrypoints".to_owned(),
            },
            is_new: entrypoint.is_none(),
            error: None,
            name: entrypoint.map(|e| e.name.clone()).unwrap_or_default(),
            kinds: EntrypointKind::ALL
                .iter()
                .map(|k| (k.code(), k.label(lang)))
                .collect(),
            kind: kind.code(),
            kind_label: kind.label(lang),
            active: entrypoint.is_none_or(|e| e.is_active()),
            origins: entrypoint
                .map(|e| {
                    e.allowed_origins
                        .iter()
                        .map(|o| o.as_str())
                        .collect::<Vec<_>>()
                        .join("\n")
                })
                .unwrap_or_default(),
            show_custom: kind == EntrypointKind::Personalizzato,
            custom_question: custom.question,
            custom_follow_ups,
            layout,
        }
    }
}

async fn new_form(PageUser(auth): PageUser, UiLang(lang): UiLang) -> Result<Response, PageError> {
    allowed(&auth, Capability::ManageEntrypoints)?;
    let layout = Layout::for_user(lang, &auth, "/console/entrypoints/new");
    Ok(render(&FormPage::new(layout, lang, None), StatusCode::OK))
}

async fn create(
    State(state): State<ConsoleState>,
    PageUser(auth): PageUser,
    UiLang(lang): UiLang,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    check_csrf(&auth, field("csrf"))?;
    allowed(&auth, Capability::ManageEntrypoints)?;
    let kind = EntrypointKind::parse(field("kind")).unwrap_or(EntrypointKind::PaginaWeb);
    let parsed = parse_name(field("name"))
        .and_then(|name| Ok((name, parse_origins(field("origins").lines())?)));
    let (name, origins) = match parsed {
        Ok(values) => values,
        Err(error) => {
            let layout = Layout::for_user(lang, &auth, "/console/entrypoints/new");
            let mut page = FormPage::new(layout, lang, None);
            page.error = Some(error);
            page.name = field("name").to_owned();
            page.kind = kind.code();
            page.origins = field("origins").to_owned();
            return Ok(render(&page, StatusCode::UNPROCESSABLE_ENTITY));
        }
    };
    let entrypoint = new_entrypoint(auth.tenant.clone(), name, kind, origins, None);
    state.store.create_entrypoint(&entrypoint).await?;
    tracing::info!(id = %entrypoint.id, kind = kind.code(), "entrypoint created");
    let entry = AuditEntry::now(
        Some(&auth.tenant),
        &auth.actor,
        "entrypoint_created",
        Some(entrypoint.id.as_str()),
    );
    state.store.record(entry).await?;
    // A custom entrypoint needs its wording first; the others are ready to embed.
    let next = if kind == EntrypointKind::Personalizzato {
        "edit"
    } else {
        "snippet"
    };
    Ok(Redirect::to(&format!("/console/entrypoints/{}/{next}", entrypoint.id)).into_response())
}

/// Refuses the page (403) unless the user may do `capability`.
fn allowed(auth: &Authenticated, capability: Capability) -> Result<(), PageError> {
    if auth.can(capability) {
        Ok(())
    } else {
        Err(PageError::Forbidden)
    }
}

/// The entrypoint `id` of the user's tenant (404 for any other tenant's, whatever the
/// role), if the user may do `capability` with it (403 otherwise).
async fn owned(
    state: &ConsoleState,
    auth: &Authenticated,
    id: &str,
    capability: Capability,
) -> Result<Entrypoint, PageError> {
    let id = EntrypointId::parse(id).ok_or(PageError::NotFound)?;
    let entrypoint = state
        .store
        .entrypoint(&auth.tenant, &id)
        .await?
        .ok_or(PageError::NotFound)?;
    allowed(auth, capability)?;
    Ok(entrypoint)
}

async fn edit_form(
    State(state): State<ConsoleState>,
    PageUser(auth): PageUser,
    UiLang(lang): UiLang,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let entrypoint = owned(&state, &auth, &id, Capability::ManageEntrypoints).await?;
    let layout = Layout::for_user(lang, &auth, &format!("/console/entrypoints/{id}/edit"));
    Ok(render(
        &FormPage::new(layout, lang, Some(&entrypoint)),
        StatusCode::OK,
    ))
}

async fn update(
    State(state): State<ConsoleState>,
    PageUser(auth): PageUser,
    UiLang(lang): UiLang,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    check_csrf(&auth, field("csrf"))?;
    let entrypoint = owned(&state, &auth, &id, Capability::ManageEntrypoints).await?;
    let follow_ups: Vec<(String, String)> = (1..=satisfy_core::entrypoint::MAX_CUSTOM_QUESTIONS)
        .map(|n| {
            (
                field(&format!("q{n}")).to_owned(),
                field(&format!("q{n}_options")).to_owned(),
            )
        })
        .collect();
    let changes = (|| -> Result<EntrypointChanges, String> {
        Ok(EntrypointChanges {
            name: Some(parse_name(field("name"))?),
            status: Some(EntrypointStatus::parse(field("status")).unwrap_or(entrypoint.status)),
            allowed_origins: Some(parse_origins(field("origins").lines())?),
            custom: match entrypoint.kind {
                EntrypointKind::Personalizzato => {
                    Some(parse_custom_form(field("custom_question"), &follow_ups)?)
                }
                _ => None,
            },
        })
    })();
    match changes {
        Ok(changes) => {
            state
                .store
                .update_entrypoint(&auth.tenant, &entrypoint.id, changes)
                .await?;
            tracing::info!(id = %entrypoint.id, "entrypoint updated");
            let entry = AuditEntry::now(
                Some(&auth.tenant),
                &auth.actor,
                "entrypoint_updated",
                Some(entrypoint.id.as_str()),
            );
            state.store.record(entry).await?;
            Ok(Redirect::to("/console/entrypoints").into_response())
        }
        Err(error) => {
            let layout = Layout::for_user(lang, &auth, &format!("/console/entrypoints/{id}/edit"));
            let mut page = FormPage::new(layout, lang, Some(&entrypoint));
            page.error = Some(error);
            page.name = field("name").to_owned();
            page.origins = field("origins").to_owned();
            page.custom_question = field("custom_question").to_owned();
            page.custom_follow_ups = follow_ups
                .into_iter()
                .enumerate()
                .map(|(i, (q, o))| (i + 1, q, o))
                .collect();
            Ok(render(&page, StatusCode::UNPROCESSABLE_ENTITY))
        }
    }
}

#[derive(Template)]
#[template(path = "snippet.html")]
struct SnippetPage {
    layout: Layout,
    name: String,
    snippet: String,
    target: String,
}

/// The HTML a webmaster pastes: one async script tag, usable as is in a Google Tag
/// Manager "Custom HTML" tag or in a CMS template.
pub fn snippet_html(public_url: &str, id: &EntrypointId) -> String {
    format!(
        "<!-- Satisfy: valutazione della pagina -->\n<script async src=\"{public_url}/widget/v1/satisfy.js\" data-entrypoint=\"{id}\"></script>"
    )
}

/// The optional container that fixes where the widget renders.
pub fn target_html(id: &EntrypointId) -> String {
    format!("<div data-satisfy-entrypoint=\"{id}\"></div>")
}

async fn snippet(
    State(state): State<ConsoleState>,
    PageUser(auth): PageUser,
    UiLang(lang): UiLang,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let entrypoint = owned(&state, &auth, &id, Capability::ManageEntrypoints).await?;
    let page = SnippetPage {
        layout: Layout::for_user(lang, &auth, &format!("/console/entrypoints/{id}/snippet")),
        name: entrypoint.name.clone(),
        snippet: snippet_html(&state.config.public_url, &entrypoint.id),
        target: target_html(&entrypoint.id),
    };
    Ok(render(&page, StatusCode::OK))
}

#[derive(Template)]
#[template(path = "stats.html")]
struct StatsPage {
    layout: Layout,
    name: String,
    question: String,
    granularity: &'static str,
    from: String,
    to: String,
    error: Option<String>,
    total: u64,
    average: String,
    chart: String,
    distribution: Vec<(usize, u64)>,
    answers: Vec<(String, u64)>,
    pages: Vec<(String, u64, String)>,
    /// `None` for auditors, who never see free-text comments.
    comments: Option<Vec<(String, u8, String, String)>>,
}

fn format_average(lang: Lang, average: f64) -> String {
    let text = format!("{average:.2}");
    // Italian and German write decimals with a comma.
    if lang == Lang::En {
        text
    } else {
        text.replace('.', ",")
    }
}

async fn statistics(
    State(state): State<ConsoleState>,
    PageUser(auth): PageUser,
    UiLang(lang): UiLang,
    Path(id): Path<String>,
    Query(params): Query<StatsParams>,
) -> Result<Response, PageError> {
    let entrypoint = owned(&state, &auth, &id, Capability::ReadStats).await?;
    let today = chrono::Utc::now()
        .with_timezone(&state.config.time_zone)
        .date_naive();
    let (range, error) = match params.resolve(today) {
        Ok(range) => (range, None),
        Err(error) => (
            StatsParams::default()
                .resolve(today)
                .map_err(|_| PageError::NotFound)?,
            Some(error),
        ),
    };
    let with_comments = auth.can(Capability::ReadComments);
    let report = stats::report(&state, &entrypoint, range, with_comments).await?;
    let texts = ui(lang);
    let survey = entrypoint.survey(lang);
    let (title, granularity) = match range.granularity {
        satisfy_aggregator::Granularity::Day => (texts.chart_title_day, "day"),
        satisfy_aggregator::Granularity::Week => (texts.chart_title_week, "week"),
        satisfy_aggregator::Granularity::Month => (texts.chart_title_month, "month"),
    };
    let points: Vec<satisfy_charts::PeriodPoint> = report
        .buckets
        .iter()
        .map(|b| satisfy_charts::PeriodPoint {
            label: bucket_label(range.granularity, b.start),
            count: b.tally.count,
            average: (b.tally.count > 0).then(|| b.tally.average()),
        })
        .collect();
    let chart = satisfy_charts::rating_chart_svg(
        &points,
        &satisfy_charts::ChartTexts {
            title: title.to_owned(),
            count_axis: texts.ratings.to_owned(),
            average_axis: texts.average_axis.to_owned(),
        },
    )
    .map_err(|error| {
        tracing::error!(%error, "chart rendering failed");
        PageError::Unavailable
    })?;
    let page = StatsPage {
        layout: Layout::for_user(lang, &auth, &format!("/console/entrypoints/{id}/stats")),
        name: entrypoint.name.clone(),
        question: survey.title.clone(),
        granularity,
        from: range.from.to_string(),
        to: range.to.to_string(),
        error,
        total: report.summary.count,
        average: format_average(lang, report.summary.average()),
        chart,
        distribution: (1..=5)
            .rev()
            .map(|s| (s, report.summary.distribution[s - 1]))
            .collect(),
        answers: report
            .answers
            .iter()
            .map(|a| {
                (
                    survey
                        .option_label(&a.option)
                        .unwrap_or(&a.option)
                        .to_owned(),
                    a.count,
                )
            })
            .collect(),
        pages: report
            .pages
            .iter()
            .map(|p| {
                (
                    p.page.clone(),
                    p.tally.count,
                    format_average(lang, p.tally.average()),
                )
            })
            .collect(),
        comments: report.comments.as_ref().map(|comments| {
            comments
                .iter()
                .map(|c| {
                    let date = local_date(&state, c.created_at_ms / 1000);
                    (date, c.rating, c.page.clone(), c.comment.clone())
                })
                .collect()
        }),
    };
    Ok(render(&page, StatusCode::OK))
}
