//! A signed-in user's own account: password change, "sign out everywhere", and the
//! tenant the session works in.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use satisfy_core::Lang;
use serde::Deserialize;

use crate::ConsoleState;
use crate::auth::{self, Authenticated, ClientAddress, PageUser, session_cookie};
use crate::error::PageError;
use crate::i18n::{UiLang, ui};
use crate::invitations::check_password_policy;
use crate::routes::pages::{CsrfForm, Layout, check_csrf, render, with_cookie};
use crate::routes::session::policy_message;
use crate::sign_in::Refusal;
use crate::store::AuditEntry;

/// `/console/account…` and `/console/tenant`.
pub fn router() -> Router<ConsoleState> {
    Router::new()
        .route("/account", get(account))
        .route("/account/password", post(change_password))
        .route("/account/sign-out-everywhere", post(sign_out_everywhere))
        .route("/tenant", post(switch_tenant))
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
    let token =
        auth::cookie(&headers, session_cookie(secure)).ok_or(PageError::LoginRequired(None))?;
    state
        .store
        .switch_session(&auth::token_hash(token), &tenant)
        .await?;
    Ok(Redirect::to("/console").into_response())
}
