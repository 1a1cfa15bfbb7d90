//! `/api/v1/entrypoints/{id}/ratings` and `/aggregates`: the ratings themselves, listed,
//! searched and exported, and the series per period as a file.

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use satisfy_aggregator::{Bucket, Filter, RatingCursor, RatingQuery, RatingRow};
use satisfy_core::{Entrypoint, Lang};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::api::{ApiUser, owned};
use crate::ConsoleState;
use crate::error::ApiError;
use crate::export::{self, Format, RatingsEncoder};
use crate::roles::Capability;
use crate::stats::{self, Range, StatsParams};

/// The routes of this module, under `/api/v1`.
pub fn router() -> Router<ConsoleState> {
    Router::new()
        .route("/entrypoints/{id}/ratings", get(ratings))
        .route("/entrypoints/{id}/aggregates", get(aggregates))
}

/// Query string of a ratings listing or export; every field is optional.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RatingsParams {
    /// `json` (default): one page of ratings. `csv` or `ndjson`: every rating selected,
    /// streamed as a file.
    pub(crate) format: Option<String>,
    /// CSV only: `comma` (default) or `semicolon`, for Excel set to Italian.
    pub(crate) delimiter: Option<String>,
    /// A named period ending today: `7d`, `30d`, `90d`, `month`, `last-month`, `year`,
    /// or `custom` (the default: `from` and `to`).
    pub(crate) period: Option<String>,
    /// First date, `YYYY-MM-DD` (default: 12 weeks before `to`).
    pub(crate) from: Option<String>,
    /// Last date, `YYYY-MM-DD` (default: today).
    pub(crate) to: Option<String>,
    /// Only these star counts, comma-separated (`1,2`).
    pub(crate) stars: Option<String>,
    /// Only ratings that chose this follow-up answer: an option id, where the official
    /// questions' `other` means the one chosen after 1 to 3 stars and `other_positive` the
    /// one after 4 or 5 (as the statistics' answers name them).
    pub(crate) answer: Option<String>,
    /// Only ratings of this exact page URL.
    pub(crate) page: Option<String>,
    /// Only ratings given in this language: `it`, `en` or `de`.
    pub(crate) lang: Option<String>,
    /// Only ratings whose comment contains this text (ASCII letters in any case). Not
    /// for auditors, who never read comments.
    pub(crate) q: Option<String>,
    /// `true`: only ratings with a comment (not for auditors).
    pub(crate) with_comment: Option<String>,
    /// JSON only: the `next` of the previous page.
    pub(crate) after: Option<String>,
    /// JSON only: ratings per page, 1 to 500 (default 50).
    pub(crate) limit: Option<String>,
}

/// One page of ratings.
#[derive(Debug, Serialize, ToSchema)]
pub struct RatingPage {
    /// Newest first reception first. `comment` is null for auditors.
    ratings: Vec<RatingRow>,
    /// Pass as `after` for the next page; absent on the last one.
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<String>,
}

/// Query string of an aggregates export.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AggregatesParams {
    /// `json` (default), `csv` or `ndjson`.
    format: Option<String>,
    /// CSV only: `comma` (default) or `semicolon` (decimals then use a comma).
    delimiter: Option<String>,
    /// A named period ending today: `7d`, `30d`, `90d`, `month`, `last-month`, `year`,
    /// or `custom` (the default: `from` and `to`).
    period: Option<String>,
    /// `week` (default), `day` or `month`.
    granularity: Option<String>,
    /// First date, `YYYY-MM-DD`.
    from: Option<String>,
    /// Last date, `YYYY-MM-DD`.
    to: Option<String>,
}

/// The series of an entrypoint per period.
#[derive(Debug, Serialize, ToSchema)]
pub struct Aggregates {
    /// The entrypoint's id.
    entrypoint: String,
    /// The range covered.
    #[serde(flatten)]
    range: Range,
    /// IANA time zone of the periods.
    timezone: String,
    /// One bucket per period, empty ones included.
    buckets: Vec<Bucket>,
}

const DEFAULT_PAGE: usize = 50;
const MAX_PAGE: usize = 500;

fn invalid(code: &'static str) -> impl Fn(String) -> ApiError {
    move |message| ApiError::Invalid(code, message)
}

/// The entrypoint, its time zone and the validated range of a request.
async fn scope(
    state: &ConsoleState,
    user: &ApiUser,
    id: &str,
    params: StatsParams,
) -> Result<(Entrypoint, chrono_tz::Tz, Range), ApiError> {
    let entrypoint = owned(state, user, id, Capability::ReadStats).await?;
    let tz = stats::tenant_time_zone(state, &entrypoint.tenant).await?;
    let today = chrono::Utc::now().with_timezone(&tz).date_naive();
    let range = params
        .resolve(today)
        .map_err(|e| ApiError::Invalid("invalid_range", e.to_string()))?;
    Ok((entrypoint, tz, range))
}

fn filter(entrypoint: &Entrypoint, tz: chrono_tz::Tz, range: Range) -> Filter {
    Filter {
        tenant: entrypoint.tenant.clone(),
        entrypoint: Some(entrypoint.id.clone()),
        from: range.from,
        to: range.to,
        tz,
    }
}

fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|v| !v.is_empty())
}

impl RatingsParams {
    /// The ratings these parameters select within `filter`; `q` needs `reads_comments`.
    pub(crate) fn query(
        &self,
        filter: Filter,
        reads_comments: bool,
    ) -> Result<RatingQuery, ApiError> {
        let stars = match non_empty(&self.stars) {
            None => Vec::new(),
            Some(list) => list
                .split(',')
                .map(|s| s.trim().parse::<u8>().ok().filter(|s| (1..=5).contains(s)))
                .collect::<Option<Vec<u8>>>()
                .ok_or_else(|| {
                    ApiError::Invalid("invalid_stars", "stars must list numbers 1 to 5".into())
                })?,
        };
        let lang = match non_empty(&self.lang) {
            None => None,
            Some(code) => Some(Lang::parse(code).ok_or_else(|| {
                ApiError::Invalid("invalid_lang", "lang must be it, en or de".into())
            })?),
        };
        let with_comment = match non_empty(&self.with_comment) {
            None | Some("false") => false,
            Some("true") => true,
            Some(_) => {
                return Err(ApiError::Invalid(
                    "invalid_with_comment",
                    "with_comment must be true or false".into(),
                ));
            }
        };
        let text = non_empty(&self.q).map(str::to_owned);
        // Which ratings have a comment, or what one says, is not for auditors.
        if (text.is_some() || with_comment) && !reads_comments {
            return Err(ApiError::Forbidden);
        }
        Ok(RatingQuery {
            filter,
            stars,
            answer: non_empty(&self.answer).map(str::to_owned),
            page: non_empty(&self.page).map(str::to_owned),
            lang,
            text,
            with_comment,
        })
    }

    /// The period part.
    pub(crate) fn range(&self) -> StatsParams {
        StatsParams {
            period: self.period.clone(),
            granularity: None,
            from: self.from.clone(),
            to: self.to.clone(),
        }
    }
}

fn attachment(format: Format, name: String, body: axum::body::Body) -> Response {
    (
        [
            (header::CONTENT_TYPE, format.content_type().to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}.{}\"", format.extension()),
            ),
        ],
        body,
    )
        .into_response()
}

/// An entrypoint's ratings, each in its latest version, newest first reception first:
/// as JSON one page at a time, or every rating selected as a streamed CSV (UTF-8 with
/// BOM, formula-safe) or NDJSON file. Filters combine; comments (and `q`) are not for
/// auditors. CSV and NDJSON times are local to the tenant's time zone.
#[utoipa::path(get, path = "/entrypoints/{id}/ratings", tag = "entrypoints",
    params(("id" = String, Path, description = "Entrypoint id"), RatingsParams),
    responses(
        (status = 200, description = "A page of ratings (JSON), or the whole selection as a file", 
            content((RatingPage = "application/json"), (String = "text/csv"), (String = "application/x-ndjson"))),
        (status = 401, body = super::api::ErrorBody), (status = 403, body = super::api::ErrorBody),
        (status = 404, body = super::api::ErrorBody), (status = 422, body = super::api::ErrorBody),
    ))]
pub(super) async fn ratings(
    State(state): State<ConsoleState>,
    user: ApiUser,
    Path(id): Path<String>,
    Query(params): Query<RatingsParams>,
) -> Result<Response, ApiError> {
    let (entrypoint, tz, range) = scope(&state, &user, &id, params.range()).await?;
    let reads_comments = user.0.can(Capability::ReadComments);
    let query = params.query(filter(&entrypoint, tz, range), reads_comments)?;
    match non_empty(&params.format).unwrap_or("json") {
        "json" => {
            let limit = match non_empty(&params.limit) {
                None => DEFAULT_PAGE,
                Some(raw) => raw
                    .parse::<usize>()
                    .ok()
                    .filter(|l| (1..=MAX_PAGE).contains(l))
                    .ok_or_else(|| {
                        ApiError::Invalid("invalid_limit", format!("limit must be 1 to {MAX_PAGE}"))
                    })?,
            };
            let after = match non_empty(&params.after) {
                None => None,
                Some(raw) => Some(RatingCursor::parse(raw).ok_or_else(|| {
                    ApiError::Invalid("invalid_after", "after must be a page's next".into())
                })?),
            };
            let mut rows = state
                .analytics
                .ratings(&query, after.as_ref(), limit)
                .await?;
            if !reads_comments {
                rows.iter_mut().for_each(|row| row.comment = None);
            }
            let next = (rows.len() == limit)
                .then(|| rows.last().map(|row| RatingCursor::after(row).to_string()))
                .flatten();
            Ok(Json(RatingPage {
                ratings: rows,
                next,
            })
            .into_response())
        }
        other => {
            let format = Format::parse(other, non_empty(&params.delimiter))
                .map_err(invalid("invalid_format"))?;
            let encoder = RatingsEncoder::new(format, tz, reads_comments);
            let body = export::ratings_body(state.analytics.clone(), query, encoder);
            let name = format!(
                "valutazioni-{}-{}-{}",
                entrypoint.id.as_str(),
                range.from,
                range.to
            );
            Ok(attachment(format, name, body))
        }
    }
}

/// An entrypoint's ratings per day, week or month (count, average and each star
/// count, empty periods included), as JSON or as a CSV or NDJSON file.
#[utoipa::path(get, path = "/entrypoints/{id}/aggregates", tag = "entrypoints",
    params(("id" = String, Path, description = "Entrypoint id"), AggregatesParams),
    responses(
        (status = 200, description = "The series (JSON), or the same as a file", 
            content((Aggregates = "application/json"), (String = "text/csv"), (String = "application/x-ndjson"))),
        (status = 401, body = super::api::ErrorBody), (status = 403, body = super::api::ErrorBody),
        (status = 404, body = super::api::ErrorBody), (status = 422, body = super::api::ErrorBody),
    ))]
pub(super) async fn aggregates(
    State(state): State<ConsoleState>,
    user: ApiUser,
    Path(id): Path<String>,
    Query(params): Query<AggregatesParams>,
) -> Result<Response, ApiError> {
    let range_params = StatsParams {
        period: params.period.clone(),
        granularity: params.granularity.clone(),
        from: params.from.clone(),
        to: params.to.clone(),
    };
    let (entrypoint, tz, range) = scope(&state, &user, &id, range_params).await?;
    let format = match non_empty(&params.format).unwrap_or("json") {
        "json" => None,
        other => Some(
            Format::parse(other, non_empty(&params.delimiter))
                .map_err(invalid("invalid_format"))?,
        ),
    };
    let buckets = state
        .analytics
        .buckets(&filter(&entrypoint, tz, range), range.granularity)
        .await?;
    match format {
        None => Ok(Json(Aggregates {
            entrypoint: entrypoint.id.as_str().to_owned(),
            range,
            timezone: tz.name().to_owned(),
            buckets,
        })
        .into_response()),
        Some(format) => {
            let bytes = export::aggregates_file(format, &buckets)?;
            let name = format!(
                "andamento-{}-{}-{}-{}",
                entrypoint.id.as_str(),
                range.granularity.code(),
                range.from,
                range.to
            );
            Ok(attachment(format, name, bytes.into()))
        }
    }
}
