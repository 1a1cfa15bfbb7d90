//! Signing in and out, and setting a password through a one-time invitation link.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use satisfy_core::Lang;
use serde::Deserialize;

use crate::ConsoleState;
use crate::auth::{
    self, ClientAddress, PageUser, SESSION_SECONDS, login_csrf_cookie, same_secret, session_cookie,
};
use crate::error::{PageError, retry_after};
use crate::i18n::{Ui, UiLang, ui};
use crate::invitations::{PolicyError, check_password_policy, valid_username};
use crate::routes::pages::{CsrfForm, Layout, check_csrf, is_console_path, render, with_cookie};
use crate::sign_in::Refusal;
use crate::store::{AuditEntry, NewSession, User};

/// `/console/login`, `/console/logout`, `/console/set-password`.
pub fn router() -> Router<ConsoleState> {
    Router::new()
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
        .route("/set-password", get(set_password_form).post(set_password))
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    layout: Layout,
    failed: bool,
    throttled: bool,
    password_set: bool,
    username: String,
    /// The page to open once signed in (a console path), or empty.
    next: String,
}

/// What the login form tells about the previous attempt.
enum LoginOutcome {
    /// No attempt yet.
    Fresh,
    /// The user just chose their password through an invitation.
    PasswordSet,
    /// Wrong username or password.
    Failed,
    /// Too many failures: retry after this long.
    Throttled(std::time::Duration),
}

fn login_page(
    lang: Lang,
    outcome: LoginOutcome,
    username: String,
    next: Option<String>,
    secure: bool,
) -> Response {
    // Double-submit token: the form must echo the cookie a cross-site page cannot read.
    let token = auth::random_token();
    let page = LoginPage {
        layout: Layout::new(lang, None, token.clone(), "/console/login"),
        failed: matches!(outcome, LoginOutcome::Failed),
        throttled: matches!(outcome, LoginOutcome::Throttled(_)),
        password_set: matches!(outcome, LoginOutcome::PasswordSet),
        username,
        next: next.filter(|n| is_console_path(n)).unwrap_or_default(),
    };
    let status = match outcome {
        LoginOutcome::Fresh | LoginOutcome::PasswordSet => StatusCode::OK,
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

/// `?password_set=USERNAME`: where an invitation's password form leads; `?next=PATH`:
/// the page that asked for a sign-in.
#[derive(Deserialize)]
struct LoginQuery {
    password_set: Option<String>,
    next: Option<String>,
}

async fn login_form(
    State(state): State<ConsoleState>,
    UiLang(lang): UiLang,
    Query(query): Query<LoginQuery>,
) -> Response {
    let (outcome, username) = match query.password_set.filter(|u| valid_username(u)) {
        Some(username) => (LoginOutcome::PasswordSet, username),
        None => (LoginOutcome::Fresh, String::new()),
    };
    login_page(
        lang,
        outcome,
        username,
        query.next,
        state.config.secure_cookies,
    )
}

#[derive(Deserialize)]
struct LoginForm {
    username: String,
    password: String,
    csrf: String,
    /// The page to open once signed in.
    #[serde(default)]
    next: Option<String>,
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
            form.next,
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
            return Ok(login_page(lang, outcome, form.username, form.next, secure));
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
            form.next,
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
    let next = form.next.filter(|n| is_console_path(n));
    let response = Redirect::to(next.as_deref().unwrap_or("/console")).into_response();
    Ok(with_cookie(
        response,
        auth::set_cookie(session_cookie(secure), &token, SESSION_SECONDS, secure),
    ))
}

/// Why the password policy refused a password, in the page's language.
pub(crate) fn policy_message(texts: &Ui, error: PolicyError) -> &'static str {
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
    // The form says the password is saved and has the username filled in.
    let next = format!(
        "/console/login?password_set={}",
        url::form_urlencoded::byte_serialize(user.username.as_bytes()).collect::<String>()
    );
    Ok(Redirect::to(&next).into_response())
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
