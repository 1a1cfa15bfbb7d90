//! `/console/entrypoints/{id}/comments`: the citizens' comments of an entrypoint,
//! searched and filtered (stars, answer, page, language, period), a page at a time, with
//! the selection's exports.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use chrono::TimeZone;
use satisfy_aggregator::{Filter, RatingCursor};
use satisfy_core::{Lang, answer_key};

use crate::ConsoleState;
use crate::auth::PageUser;
use crate::error::{ApiError, PageError};
use crate::i18n::{UiLang, ui};
use crate::roles::Capability;
use crate::routes::entrypoints::owned;
use crate::routes::pages::{Layout, PeriodForm, render};
use crate::routes::ratings::RatingsParams;
use crate::stats::{self, PagePeriod, StatsParams};

/// Comments per page.
const PAGE_SIZE: usize = 50;

/// `/console/entrypoints/{id}/comments`.
pub fn router() -> Router<ConsoleState> {
    Router::new().route("/entrypoints/{id}/comments", get(comments))
}

struct CommentLine {
    id: String,
    date: String,
    stars: u8,
    page: String,
    answers: String,
    comment: String,
    lang: &'static str,
}

#[derive(Template)]
#[template(path = "comments.html")]
struct CommentsPage {
    layout: Layout,
    id: String,
    name: String,
    periods: PeriodForm,
    error: Option<String>,
    q: String,
    stars: String,
    answer: String,
    page: String,
    lang: String,
    answers: Vec<(String, String)>,
    languages: Vec<(&'static str, &'static str)>,
    lines: Vec<CommentLine>,
    /// The link to the next page, when there may be one.
    next: Option<String>,
    /// Whether this is a later page (a link back to the first is shown).
    later: bool,
    export_query: String,
    aggregates_query: String,
    /// The rows an export is expected to have, 0 when unknown.
    export_total: u64,
    /// Whether each comment has a button deleting its rating (a data subject's request).
    can_delete: bool,
}

/// Every answer of the entrypoint's survey, once each, by id.
fn form_query(pairs: &[(&str, &str)]) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs.iter().filter(|(_, v)| !v.is_empty()) {
        query.append_pair(name, value);
    }
    query.finish()
}

async fn comments(
    State(state): State<ConsoleState>,
    PageUser(auth): PageUser,
    UiLang(lang): UiLang,
    Path(id): Path<String>,
    Query(params): Query<RatingsParams>,
) -> Result<Response, PageError> {
    let entrypoint = owned(&state, &auth, &id, Capability::ReadComments).await?;
    let tz = stats::tenant_time_zone(&state, &entrypoint.tenant).await?;
    let today = chrono::Utc::now().with_timezone(&tz).date_naive();
    let texts = ui(lang);
    let asked = params.range();
    let PagePeriod {
        shown,
        range,
        error,
    } = PagePeriod::resolve(asked, StatsParams::default(), today).ok_or(PageError::NotFound)?;
    let mut error = error.map(|e| e.text(texts));
    let filter = Filter {
        tenant: entrypoint.tenant.clone(),
        entrypoint: Some(entrypoint.id.clone()),
        from: range.from,
        to: range.to,
        tz,
    };
    let mut selection = RatingsParams {
        with_comment: Some("true".into()),
        ..params.clone()
    };
    let query = match selection.query(filter.clone(), true) {
        Ok(query) => query,
        Err(ApiError::Invalid(_, message)) => {
            error = Some(message);
            selection = RatingsParams {
                with_comment: Some("true".into()),
                ..RatingsParams::default()
            };
            selection
                .query(filter, true)
                .map_err(|_| PageError::Invalid)?
        }
        Err(_) => return Err(PageError::Invalid),
    };
    let after = selection.after.as_deref().and_then(RatingCursor::parse);
    let rows = state
        .analytics
        .ratings(&query, after.as_ref(), PAGE_SIZE)
        .await?;
    let survey = entrypoint.survey(lang);
    let periods = PeriodForm::new(texts, &shown, range);
    let value = |v: &Option<String>| v.clone().unwrap_or_default();
    let (q, stars, answer, page, language) = (
        value(&selection.q),
        value(&selection.stars),
        value(&selection.answer),
        value(&selection.page),
        value(&selection.lang),
    );
    let filters = [
        ("q", q.as_str()),
        ("stars", stars.as_str()),
        ("answer", answer.as_str()),
        ("page", page.as_str()),
        ("lang", language.as_str()),
    ];
    let next = (rows.len() == PAGE_SIZE)
        .then(|| rows.last().map(RatingCursor::after))
        .flatten()
        .map(|cursor| {
            let mut pairs = filters.to_vec();
            let cursor = cursor.to_string();
            pairs.push(("after", &cursor));
            format!("?{}&{}", periods.query(), form_query(&pairs))
        });
    let dates = format!("from={}&to={}", range.from, range.to);
    let export_query = format!("{dates}&with_comment=true&{}", form_query(&filters));
    let lines = rows
        .iter()
        .map(|row| CommentLine {
            id: row.id.hyphenated().to_string(),
            date: tz
                .timestamp_millis_opt(row.created_at_ms)
                .single()
                .map(|t| t.format(ui(lang).date_time_format).to_string())
                .unwrap_or_default(),
            stars: row.rating,
            page: row.page.clone(),
            answers: row
                .answers
                .iter()
                .map(|a| {
                    survey
                        .answer_label(answer_key(row.rating, a))
                        .unwrap_or_else(|| a.clone())
                })
                .collect::<Vec<_>>()
                .join(" · "),
            comment: row.comment.clone().unwrap_or_default(),
            lang: Lang::parse(&row.lang).map_or("?", Lang::code),
        })
        .collect();
    let page_view = CommentsPage {
        layout: Layout::for_user(lang, &auth, &format!("/console/entrypoints/{id}/comments")),
        id: entrypoint.id.as_str().to_owned(),
        name: entrypoint.name.clone(),
        error,
        answers: survey.answers(),
        languages: vec![("it", "Italiano"), ("en", "English"), ("de", "Deutsch")],
        lines,
        next,
        later: after.is_some(),
        aggregates_query: format!("{dates}&granularity={}", range.granularity.code()),
        export_query,
        // A selection's count would cost a scan of the period: the progress shows rows.
        export_total: 0,
        can_delete: auth.can(Capability::ManageTeam),
        periods,
        q,
        stars,
        answer,
        page,
        lang: language,
    };
    Ok(render(&page_view, StatusCode::OK))
}
