//! The platform administrator's pages for tenants (enti): the list with every tenant's
//! settings and state, creation, editing, suspension and reactivation. Tenant roles never
//! reach them (403).

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use satisfy_core::{Lang, TenantId};
use serde::Deserialize;

use crate::ConsoleState;
use crate::auth::{Authenticated, PageUser};
use crate::error::PageError;
use crate::i18n::{Ui, UiLang, ui};
use crate::routes::pages::{Layout, check_csrf, render};
use crate::store::{AuditEntry, ConfigError, Tenant, TenantStatus};

/// `/console/tenants…`.
pub fn router() -> Router<ConsoleState> {
    Router::new()
        .route("/tenants", get(list).post(create))
        .route("/tenants/{slug}", post(update))
        .route("/tenants/{slug}/edit", get(edit_form))
        .route("/tenants/{slug}/status", post(set_status))
}

fn platform_admin(auth: &Authenticated) -> Result<(), PageError> {
    if auth.platform_admin {
        Ok(())
    } else {
        Err(PageError::Forbidden)
    }
}

/// The languages a tenant's site may have.
const LANGUAGES: [&str; 3] = ["it", "en", "de"];

/// The tenant form as submitted: one checkbox per site language.
#[derive(Debug, Default, Deserialize)]
struct TenantForm {
    /// Missing, it is refused as a forged form (403), not as bad input.
    #[serde(default)]
    csrf: String,
    /// Only when creating: the slug never changes.
    #[serde(default)]
    slug: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    ipa_code: String,
    #[serde(default)]
    site_url: String,
    #[serde(default)]
    time_zone: String,
    lang_it: Option<String>,
    lang_en: Option<String>,
    lang_de: Option<String>,
}

/// A tenant's editable settings, checked.
struct TenantSettings {
    name: String,
    ipa_code: Option<String>,
    site_url: Option<String>,
    time_zone: String,
    languages: Vec<String>,
}

impl TenantForm {
    fn languages(&self) -> Vec<String> {
        [&self.lang_it, &self.lang_en, &self.lang_de]
            .iter()
            .zip(LANGUAGES)
            .filter(|(checked, _)| checked.is_some())
            .map(|(_, code)| code.to_owned())
            .collect()
    }

    /// The settings, or the message saying what to fix.
    fn settings(&self, texts: &Ui) -> Result<TenantSettings, &'static str> {
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 120 {
            return Err(texts.tenant_name_invalid);
        }
        let ipa_code = self.ipa_code.trim();
        let ipa_valid = ipa_code.len() <= 20
            && ipa_code
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !ipa_valid {
            return Err(texts.tenant_ipa_invalid);
        }
        let site_url = self.site_url.trim();
        let url_valid = site_url.is_empty()
            || (site_url.len() <= 300
                && !site_url.contains(char::is_whitespace)
                && ["https://", "http://"]
                    .iter()
                    .any(|scheme| site_url.len() > scheme.len() && site_url.starts_with(scheme)));
        if !url_valid {
            return Err(texts.tenant_url_invalid);
        }
        let time_zone: chrono_tz::Tz = self
            .time_zone
            .trim()
            .parse()
            .map_err(|_| texts.tenant_zone_invalid)?;
        let languages = self.languages();
        if languages.is_empty() {
            return Err(texts.tenant_languages_missing);
        }
        Ok(TenantSettings {
            name: name.to_owned(),
            ipa_code: Some(ipa_code.to_owned()).filter(|c| !c.is_empty()),
            site_url: Some(site_url.to_owned()).filter(|u| !u.is_empty()),
            time_zone: time_zone.name().to_owned(),
            languages,
        })
    }
}

/// What the tenant fields show: a tenant's settings, or what was submitted.
struct FieldValues {
    slug: String,
    name: String,
    ipa_code: String,
    site_url: String,
    time_zone: String,
    /// Code, native name, checked.
    languages: Vec<(&'static str, &'static str, bool)>,
}

impl FieldValues {
    fn with_languages(slug: String, name: String, chosen: &[String]) -> FieldValues {
        FieldValues {
            slug,
            name,
            ipa_code: String::new(),
            site_url: String::new(),
            time_zone: "Europe/Rome".into(),
            languages: Lang::ALL
                .iter()
                .map(|l| {
                    (
                        l.code(),
                        l.native_name(),
                        chosen.iter().any(|c| c == l.code()),
                    )
                })
                .collect(),
        }
    }

    fn blank() -> FieldValues {
        FieldValues::with_languages(String::new(), String::new(), &["it".to_owned()])
    }

    fn of(tenant: &Tenant) -> FieldValues {
        FieldValues {
            ipa_code: tenant.ipa_code.clone().unwrap_or_default(),
            site_url: tenant.site_url.clone().unwrap_or_default(),
            time_zone: tenant.time_zone.clone(),
            ..FieldValues::with_languages(
                tenant.slug.to_string(),
                tenant.name.clone(),
                &tenant.languages,
            )
        }
    }

    fn submitted(form: &TenantForm) -> FieldValues {
        FieldValues {
            ipa_code: form.ipa_code.clone(),
            site_url: form.site_url.clone(),
            time_zone: form.time_zone.clone(),
            ..FieldValues::with_languages(form.slug.clone(), form.name.clone(), &form.languages())
        }
    }
}

/// One row of the tenant list.
struct TenantRow {
    slug: String,
    name: String,
    ipa_code: String,
    site_url: String,
    time_zone: String,
    languages: String,
    active: bool,
    /// False for the tenant the administrator works in, which they cannot suspend.
    suspendable: bool,
}

#[derive(Template)]
#[template(path = "tenants.html")]
struct TenantsPage {
    layout: Layout,
    rows: Vec<TenantRow>,
    fields: FieldValues,
    error: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "tenant_edit.html")]
struct TenantEditPage {
    layout: Layout,
    fields: FieldValues,
    error: Option<&'static str>,
}

async fn list_page(
    state: &ConsoleState,
    auth: &Authenticated,
    lang: Lang,
    fields: FieldValues,
    error: Option<&'static str>,
) -> Result<Response, PageError> {
    let rows = state
        .store
        .tenants()
        .await?
        .into_iter()
        .map(|t| TenantRow {
            suspendable: t.slug != auth.tenant,
            slug: t.slug.to_string(),
            name: t.name,
            ipa_code: t.ipa_code.unwrap_or_default(),
            site_url: t.site_url.unwrap_or_default(),
            time_zone: t.time_zone,
            languages: t.languages.join(", "),
            active: t.status == TenantStatus::Active,
        })
        .collect();
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = TenantsPage {
        layout: Layout::for_user(lang, auth, "/console/tenants"),
        rows,
        fields,
        error,
    };
    Ok(render(&page, status))
}

async fn list(
    State(state): State<ConsoleState>,
    PageUser(auth): PageUser,
    UiLang(lang): UiLang,
) -> Result<Response, PageError> {
    platform_admin(&auth)?;
    list_page(&state, &auth, lang, FieldValues::blank(), None).await
}

async fn create(
    State(state): State<ConsoleState>,
    PageUser(auth): PageUser,
    UiLang(lang): UiLang,
    Form(form): Form<TenantForm>,
) -> Result<Response, PageError> {
    check_csrf(&auth, &form.csrf)?;
    platform_admin(&auth)?;
    let texts = ui(lang);
    let refuse = |error| {
        list_page(
            &state,
            &auth,
            lang,
            FieldValues::submitted(&form),
            Some(error),
        )
    };
    let Some(slug) = TenantId::parse(form.slug.trim()) else {
        return refuse(texts.tenant_slug_invalid).await;
    };
    let settings = match form.settings(texts) {
        Ok(settings) => settings,
        Err(error) => return refuse(error).await,
    };
    let tenant = Tenant {
        slug,
        name: settings.name,
        ipa_code: settings.ipa_code,
        site_url: settings.site_url,
        time_zone: settings.time_zone,
        languages: settings.languages,
        status: TenantStatus::Active,
        created_at: chrono::Utc::now().timestamp(),
        retention_months: Tenant::DEFAULT_RETENTION_MONTHS,
    };
    match state.store.create_tenant(&tenant).await {
        Ok(()) => {}
        Err(ConfigError::Conflict(_)) => return refuse(texts.tenant_slug_taken).await,
        Err(error) => return Err(error.into()),
    }
    let entry = AuditEntry::now(Some(&tenant.slug), &auth.actor, "tenant_created", None);
    state.store.record(entry).await?;
    Ok(Redirect::to("/console/tenants").into_response())
}

/// The tenant `slug`, 404 when there is none.
async fn existing(state: &ConsoleState, slug: &str) -> Result<Tenant, PageError> {
    let slug = TenantId::parse(slug).ok_or(PageError::NotFound)?;
    state.store.tenant(&slug).await?.ok_or(PageError::NotFound)
}

async fn edit_form(
    State(state): State<ConsoleState>,
    PageUser(auth): PageUser,
    UiLang(lang): UiLang,
    Path(slug): Path<String>,
) -> Result<Response, PageError> {
    platform_admin(&auth)?;
    let tenant = existing(&state, &slug).await?;
    let page = TenantEditPage {
        layout: Layout::for_user(lang, &auth, &format!("/console/tenants/{slug}/edit")),
        fields: FieldValues::of(&tenant),
        error: None,
    };
    Ok(render(&page, StatusCode::OK))
}

async fn update(
    State(state): State<ConsoleState>,
    PageUser(auth): PageUser,
    UiLang(lang): UiLang,
    Path(slug): Path<String>,
    Form(form): Form<TenantForm>,
) -> Result<Response, PageError> {
    check_csrf(&auth, &form.csrf)?;
    platform_admin(&auth)?;
    let mut tenant = existing(&state, &slug).await?;
    let settings = match form.settings(ui(lang)) {
        Ok(settings) => settings,
        Err(error) => {
            let page = TenantEditPage {
                layout: Layout::for_user(lang, &auth, &format!("/console/tenants/{slug}/edit")),
                fields: FieldValues {
                    slug: tenant.slug.to_string(),
                    ..FieldValues::submitted(&form)
                },
                error: Some(error),
            };
            return Ok(render(&page, StatusCode::UNPROCESSABLE_ENTITY));
        }
    };
    tenant.name = settings.name;
    tenant.ipa_code = settings.ipa_code;
    tenant.site_url = settings.site_url;
    tenant.time_zone = settings.time_zone;
    tenant.languages = settings.languages;
    if !state.store.update_tenant(&tenant).await? {
        return Err(PageError::NotFound);
    }
    let entry = AuditEntry::now(Some(&tenant.slug), &auth.actor, "tenant_updated", None);
    state.store.record(entry).await?;
    Ok(Redirect::to("/console/tenants").into_response())
}

#[derive(Deserialize)]
struct StatusForm {
    /// Missing, it is refused as a forged form (403), not as bad input.
    #[serde(default)]
    csrf: String,
    status: String,
}

async fn set_status(
    State(state): State<ConsoleState>,
    PageUser(auth): PageUser,
    Path(slug): Path<String>,
    Form(form): Form<StatusForm>,
) -> Result<Response, PageError> {
    check_csrf(&auth, &form.csrf)?;
    platform_admin(&auth)?;
    let tenant = existing(&state, &slug).await?;
    let (status, action) = match form.status.as_str() {
        "active" => (TenantStatus::Active, "tenant_resumed"),
        // The tenant one works in stays usable: suspend it from another one.
        "suspended" if tenant.slug != auth.tenant => (TenantStatus::Suspended, "tenant_suspended"),
        _ => return Err(PageError::Invalid),
    };
    state.store.set_tenant_status(&tenant.slug, status).await?;
    let entry = AuditEntry::now(Some(&tenant.slug), &auth.actor, action, None);
    state.store.record(entry).await?;
    Ok(Redirect::to("/console/tenants").into_response())
}
