//! `/console/privacy`: what a tenant's administrator does with citizens' personal data:
//! how long comments and raw ratings are kept, and data subjects' requests (GDPR art. 17)
//! to delete one rating or every comment containing a text. Each change is in the audit
//! log; an erased text is not (the log would keep what was erased).

use askama::Template;
use axum::Form;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use satisfy_core::Lang;
use serde::Deserialize;

use crate::ConsoleState;
use crate::auth::{Authenticated, PageUser};
use crate::error::PageError;
use crate::i18n::{UiLang, ui};
use crate::roles::Capability;
use crate::routes::pages::{Layout, allowed, check_csrf, render};
use crate::store::{AuditEntry, Tenant};

/// The shortest text whose comments may be erased: shorter ones would match nearly all.
const MIN_ERASE_CHARS: usize = 3;

/// `/console/privacy` and its three forms.
pub fn router() -> Router<ConsoleState> {
    Router::new()
        .route("/privacy", get(privacy))
        .route("/privacy/retention", post(set_retention))
        .route("/privacy/ratings/delete", post(delete_rating))
        .route("/privacy/comments/erase", post(erase_comments))
}

#[derive(Template)]
#[template(path = "privacy.html")]
struct PrivacyPage {
    layout: Layout,
    months: u32,
    min_months: u32,
    max_months: u32,
    min_erase_chars: usize,
    /// What the last form did, or why it was refused.
    done: Option<String>,
    error: Option<String>,
}

async fn page(
    state: &ConsoleState,
    auth: &Authenticated,
    lang: Lang,
    outcome: Result<Option<String>, String>,
) -> Result<Response, PageError> {
    let tenant = state
        .store
        .tenant(&auth.tenant)
        .await?
        .ok_or(PageError::NotFound)?;
    let (status, done, error) = match outcome {
        Ok(done) => (StatusCode::OK, done, None),
        Err(error) => (StatusCode::UNPROCESSABLE_ENTITY, None, Some(error)),
    };
    let page = PrivacyPage {
        layout: Layout::for_user(lang, auth, "/console/privacy"),
        months: tenant.retention_months,
        min_months: *Tenant::RETENTION_MONTHS.start(),
        max_months: *Tenant::RETENTION_MONTHS.end(),
        min_erase_chars: MIN_ERASE_CHARS,
        done,
        error,
    };
    Ok(render(&page, status))
}

async fn privacy(
    State(state): State<ConsoleState>,
    PageUser(auth): PageUser,
    UiLang(lang): UiLang,
) -> Result<Response, PageError> {
    allowed(&auth, Capability::ManageTeam)?;
    page(&state, &auth, lang, Ok(None)).await
}

#[derive(Deserialize)]
struct RetentionForm {
    csrf: String,
    months: String,
}

async fn set_retention(
    State(state): State<ConsoleState>,
    PageUser(auth): PageUser,
    UiLang(lang): UiLang,
    Form(form): Form<RetentionForm>,
) -> Result<Response, PageError> {
    check_csrf(&auth, &form.csrf)?;
    allowed(&auth, Capability::ManageTeam)?;
    let texts = ui(lang);
    let months = form.months.trim().parse().ok().and_then(Tenant::retention);
    let Some(months) = months else {
        let error = texts
            .retention_invalid
            .replace("{min}", &Tenant::RETENTION_MONTHS.start().to_string())
            .replace("{max}", &Tenant::RETENTION_MONTHS.end().to_string());
        return page(&state, &auth, lang, Err(error)).await;
    };
    let mut tenant = state
        .store
        .tenant(&auth.tenant)
        .await?
        .ok_or(PageError::NotFound)?;
    tenant.retention_months = months;
    if !state.store.update_tenant(&tenant).await? {
        return Err(PageError::NotFound);
    }
    let target = format!("{months} months");
    let entry = AuditEntry::now(
        Some(&auth.tenant),
        &auth.actor,
        "retention_changed",
        Some(&target),
    );
    state.store.record(entry).await?;
    // Shortening the period applies now, not at the next hourly sweep.
    crate::retention::sweep_tenant(&state, &tenant, chrono::Utc::now()).await;
    let done = texts
        .retention_saved
        .replace("{months}", &months.to_string());
    page(&state, &auth, lang, Ok(Some(done))).await
}

#[derive(Deserialize)]
struct DeleteRatingForm {
    csrf: String,
    id: String,
}

async fn delete_rating(
    State(state): State<ConsoleState>,
    PageUser(auth): PageUser,
    UiLang(lang): UiLang,
    Form(form): Form<DeleteRatingForm>,
) -> Result<Response, PageError> {
    check_csrf(&auth, &form.csrf)?;
    allowed(&auth, Capability::ManageTeam)?;
    let texts = ui(lang);
    let Ok(id) = uuid::Uuid::parse_str(form.id.trim()) else {
        return page(&state, &auth, lang, Err(texts.rating_id_invalid.to_owned())).await;
    };
    if !state.erasure.delete_rating(&auth.tenant, id).await? {
        return page(&state, &auth, lang, Err(texts.rating_not_found.to_owned())).await;
    }
    let target = id.hyphenated().to_string();
    let entry = AuditEntry::now(
        Some(&auth.tenant),
        &auth.actor,
        "rating_deleted",
        Some(&target),
    );
    state.store.record(entry).await?;
    let done = texts.rating_deleted.replace("{id}", &target);
    page(&state, &auth, lang, Ok(Some(done))).await
}

#[derive(Deserialize)]
struct EraseCommentsForm {
    csrf: String,
    text: String,
}

async fn erase_comments(
    State(state): State<ConsoleState>,
    PageUser(auth): PageUser,
    UiLang(lang): UiLang,
    Form(form): Form<EraseCommentsForm>,
) -> Result<Response, PageError> {
    check_csrf(&auth, &form.csrf)?;
    allowed(&auth, Capability::ManageTeam)?;
    let texts = ui(lang);
    let text = form.text.trim();
    if text.chars().count() < MIN_ERASE_CHARS {
        let error = texts
            .erase_text_too_short
            .replace("{min}", &MIN_ERASE_CHARS.to_string());
        return page(&state, &auth, lang, Err(error)).await;
    }
    let erased = state.erasure.erase_comments(&auth.tenant, text).await?;
    let target = format!("{erased} comments");
    let entry = AuditEntry::now(
        Some(&auth.tenant),
        &auth.actor,
        "comments_erased",
        Some(&target),
    );
    state.store.record(entry).await?;
    let done = texts
        .comments_erased
        .replace("{count}", &erased.to_string());
    page(&state, &auth, lang, Ok(Some(done))).await
}
