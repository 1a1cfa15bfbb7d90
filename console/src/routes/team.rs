//! The pages a tenant's administrator uses for the people and programs of the ente: users
//! and their invitations, API tokens, and the audit log (also as CSV).

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use axum_extra::extract::Form as RepeatedFieldsForm;
use satisfy_core::{Lang, Scope};
use serde::Deserialize;

use crate::ConsoleState;
use crate::auth::{Authenticated, PageUser};
use crate::error::PageError;
use crate::i18n::{Ui, UiLang, audit_action, ui};
use crate::invitations::{invite, valid_username};
use crate::roles::{Capability, Role};
use crate::routes::pages::{CsrfForm, Layout, allowed, check_csrf, local_time, render};
use crate::store::AuditEntry;
use crate::tokens;

/// `/console/users`, `/console/tokens`, `/console/audit`.
pub fn router() -> Router<ConsoleState> {
    Router::new()
        .route("/users", get(users).post(create_user))
        .route("/tokens", get(token_list).post(create_token))
        .route("/tokens/{id}/revoke", post(revoke_token))
        .route("/audit", get(audit))
        .route("/audit.csv", get(audit_csv))
}

fn role_name(texts: &Ui, role: Role) -> &'static str {
    match role {
        Role::Admin => texts.role_admin,
        Role::Editor => texts.role_editor,
        Role::Viewer => texts.role_viewer,
        Role::Auditor => texts.role_auditor,
    }
}

fn when(state: &ConsoleState, lang: Lang, seconds: i64) -> String {
    local_time(state, seconds, ui(lang).date_time_format)
}

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    layout: Layout,
    /// Username, role name, state.
    rows: Vec<(String, &'static str, &'static str)>,
    roles: Vec<(&'static str, &'static str)>,
    link: Option<String>,
    error: Option<&'static str>,
}

async fn users_page(
    state: &ConsoleState,
    auth: &Authenticated,
    lang: Lang,
    link: Option<String>,
    error: Option<&'static str>,
) -> Result<Response, PageError> {
    let texts = ui(lang);
    let rows = state
        .store
        .users(&auth.tenant)
        .await?
        .into_iter()
        .map(|member| {
            let status = if member.has_password {
                texts.user_active
            } else {
                texts.invited
            };
            (member.username, role_name(texts, member.role), status)
        })
        .collect();
    let page = UsersPage {
        layout: Layout::for_user(lang, auth, "/console/users"),
        rows,
        roles: Role::ALL
            .into_iter()
            .map(|r| (r.as_str(), role_name(texts, r)))
            .collect(),
        link,
        error,
    };
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok(render(&page, status))
}

async fn users(
    State(state): State<ConsoleState>,
    PageUser(auth): PageUser,
    UiLang(lang): UiLang,
) -> Result<Response, PageError> {
    allowed(&auth, Capability::ManageTeam)?;
    users_page(&state, &auth, lang, None, None).await
}

#[derive(Deserialize)]
struct InviteForm {
    csrf: String,
    username: String,
    role: String,
}

/// Creates the user and shows their set-password link, once. The link is built from the
/// address the administrator reached the console at.
async fn create_user(
    State(state): State<ConsoleState>,
    PageUser(auth): PageUser,
    UiLang(lang): UiLang,
    headers: HeaderMap,
    Form(form): Form<InviteForm>,
) -> Result<Response, PageError> {
    check_csrf(&auth, &form.csrf)?;
    allowed(&auth, Capability::ManageTeam)?;
    let username = form.username.trim();
    let role = Role::parse(&form.role).ok_or(PageError::NotFound)?;
    if !valid_username(username) {
        let error = Some(ui(lang).username_invalid);
        return users_page(&state, &auth, lang, None, error).await;
    }
    // Usernames are unique across tenants: the answer says no more than "taken".
    if state.store.username_taken(username).await? {
        let error = Some(ui(lang).username_unavailable);
        return users_page(&state, &auth, lang, None, error).await;
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let scheme = if state.config.secure_cookies {
        "https"
    } else {
        "http"
    };
    let base = format!("{scheme}://{host}");
    let link = invite(
        state.store.as_ref(),
        &base,
        auth.tenant.clone(),
        username,
        role,
    )
    .await?;
    let what = format!("{username} ({})", role.as_str());
    let entry = AuditEntry::now(Some(&auth.tenant), &auth.actor, "user_invited", Some(&what));
    state.store.record(entry).await?;
    users_page(&state, &auth, lang, Some(link), None).await
}

#[derive(Template)]
#[template(path = "tokens.html")]
struct TokensPage {
    layout: Layout,
    /// Id, name, scopes, state, last use, revocable.
    rows: Vec<(String, String, String, String, String, bool)>,
    /// Each scope, and whether the form has it ticked.
    scopes: Vec<(&'static str, bool)>,
    secret: Option<String>,
    /// Why the new token was not issued; the form then keeps what was typed.
    error: Option<&'static str>,
    form: TokenForm,
    max_days: u16,
}

/// What the new-token form shows: empty, or what a refused submission held.
enum TokenFormState {
    Empty,
    Refused(TokenForm, &'static str),
}

async fn tokens_page(
    state: &ConsoleState,
    auth: &Authenticated,
    lang: Lang,
    secret: Option<String>,
    form: TokenFormState,
) -> Result<Response, PageError> {
    let texts = ui(lang);
    let now = chrono::Utc::now().timestamp();
    let rows = state
        .store
        .tokens(&auth.tenant)
        .await?
        .into_iter()
        .map(|t| {
            let live = t.revoked_at.is_none();
            let status = match (t.revoked_at, t.expires_at) {
                (Some(_), _) => texts.revoked.to_owned(),
                (None, Some(at)) if at <= now => {
                    format!("{} → {}", texts.expired, when(state, lang, at))
                }
                (None, Some(at)) => format!("{} → {}", texts.valid, when(state, lang, at)),
                (None, None) => texts.valid.to_owned(),
            };
            let used = t
                .last_used_at
                .map(|at| when(state, lang, at))
                .unwrap_or_else(|| texts.never.to_owned());
            (t.id, t.name, Scope::join(&t.scopes), status, used, live)
        })
        .collect();
    let (form, error) = match form {
        TokenFormState::Empty => (TokenForm::default(), None),
        TokenFormState::Refused(form, error) => (form, Some(error)),
    };
    let page = TokensPage {
        layout: Layout::for_user(lang, auth, "/console/tokens"),
        rows,
        scopes: Scope::ALL
            .iter()
            .map(|s| (s.as_str(), form.scope.iter().any(|v| v == s.as_str())))
            .collect(),
        secret,
        error,
        form,
        max_days: tokens::MAX_DAYS,
    };
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok(render(&page, status))
}

async fn token_list(
    State(state): State<ConsoleState>,
    PageUser(auth): PageUser,
    UiLang(lang): UiLang,
) -> Result<Response, PageError> {
    allowed(&auth, Capability::ManageTeam)?;
    tokens_page(&state, &auth, lang, None, TokenFormState::Empty).await
}

/// The new-token form: one `scope` checkbox per scope, so the field repeats.
#[derive(Deserialize, Default)]
struct TokenForm {
    /// Missing, it is refused as a forged form (403), not as bad input.
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    scope: Vec<String>,
    #[serde(default)]
    expires_in_days: String,
}

/// Issues a token and shows it, once.
async fn create_token(
    State(state): State<ConsoleState>,
    PageUser(auth): PageUser,
    UiLang(lang): UiLang,
    RepeatedFieldsForm(form): RepeatedFieldsForm<TokenForm>,
) -> Result<Response, PageError> {
    check_csrf(&auth, &form.csrf)?;
    allowed(&auth, Capability::ManageTeam)?;
    let mut scopes: Vec<Scope> = form.scope.iter().filter_map(|v| Scope::parse(v)).collect();
    scopes.sort();
    scopes.dedup();
    let texts = ui(lang);
    let name = match tokens::parse_name(&form.name) {
        Ok(name) if !scopes.is_empty() => name,
        _ => {
            let refused = TokenFormState::Refused(form, texts.token_incomplete);
            return tokens_page(&state, &auth, lang, None, refused).await;
        }
    };
    let days = form.expires_in_days.trim();
    let expires_at = if days.is_empty() {
        None
    } else {
        match tokens::parse_days(days) {
            Ok(days) => Some(tokens::expires_at(days)),
            Err(_) => {
                let refused = TokenFormState::Refused(form, texts.token_days_invalid);
                return tokens_page(&state, &auth, lang, None, refused).await;
            }
        }
    };
    let issued = tokens::issue(
        state.store.as_ref(),
        auth.tenant.clone(),
        name,
        scopes,
        expires_at,
    )
    .await?;
    let entry = AuditEntry::now(
        Some(&auth.tenant),
        &auth.actor,
        "token_created",
        Some(&issued.token.id),
    );
    state.store.record(entry).await?;
    tokens_page(
        &state,
        &auth,
        lang,
        Some(issued.secret),
        TokenFormState::Empty,
    )
    .await
}

async fn revoke_token(
    State(state): State<ConsoleState>,
    PageUser(auth): PageUser,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, PageError> {
    check_csrf(&auth, &form.csrf)?;
    allowed(&auth, Capability::ManageTeam)?;
    if !state.store.revoke_token(&auth.tenant, &id).await? {
        return Err(PageError::NotFound);
    }
    let entry = AuditEntry::now(Some(&auth.tenant), &auth.actor, "token_revoked", Some(&id));
    state.store.record(entry).await?;
    Ok(Redirect::to("/console/tokens").into_response())
}

/// How many entries the audit page and its CSV show.
const AUDIT_ROWS: u32 = 1000;

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    layout: Layout,
    /// Time, actor, action in words, its code, target.
    rows: Vec<(String, String, String, String, String)>,
}

async fn audit(
    State(state): State<ConsoleState>,
    PageUser(auth): PageUser,
    UiLang(lang): UiLang,
) -> Result<Response, PageError> {
    allowed(&auth, Capability::ManageTeam)?;
    let rows = state
        .store
        .audit_log(Some(&auth.tenant), AUDIT_ROWS)
        .await?
        .into_iter()
        .map(|e| {
            let time = when(&state, lang, e.at_ms.div_euclid(1000));
            let words = audit_action(lang, &e.action).to_owned();
            (time, e.actor, words, e.action, e.target.unwrap_or_default())
        })
        .collect();
    let page = AuditPage {
        layout: Layout::for_user(lang, &auth, "/console/audit"),
        rows,
    };
    Ok(render(&page, StatusCode::OK))
}

/// The tenant's audit log as CSV (UTC times), for the auditor's file.
async fn audit_csv(
    State(state): State<ConsoleState>,
    PageUser(auth): PageUser,
) -> Result<Response, PageError> {
    allowed(&auth, Capability::ManageTeam)?;
    let entries = state
        .store
        .audit_log(Some(&auth.tenant), AUDIT_ROWS)
        .await?;
    let body = crate::audit::to_csv(&entries, false).map_err(|_| PageError::Unavailable)?;
    let disposition = format!("attachment; filename=\"audit-{}.csv\"", auth.tenant);
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}
