//! Ratings as the widget sends them, parsed into validated types.
//!
//! Parsing happens in two steps: [`RatingSubmission::parse`] checks everything that does not
//! depend on the entrypoint, then [`RatingSubmission::into_rating`] checks the answers
//! against the survey the citizen was shown.

use serde::Serialize;
use std::fmt;
use uuid::Uuid;

use crate::COMMENT_MAX_CHARS;
use crate::entrypoint::{Entrypoint, EntrypointId};
use crate::lang::Lang;
use crate::survey::Survey;
use crate::wire::{Loose, WireRating};

/// Stable machine-readable error codes, part of the public API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The body is not a JSON object.
    NotAnObject,
    /// A required field is absent or null.
    MissingField,
    /// A field has the wrong JSON type.
    InvalidType,
    /// `id` is not a UUID in its hyphenated form.
    InvalidId,
    /// `entrypoint` is not an entrypoint id.
    InvalidEntrypoint,
    /// `page` is not an http(s) URL.
    InvalidPage,
    /// `rating` is not an integer from 1 to 5.
    InvalidRating,
    /// An answer is not an option of the follow-up shown for the rating.
    InvalidAnswer,
    /// The same answer, or two answers to one question, were sent.
    DuplicateAnswer,
    /// The comment exceeds 200 characters.
    CommentTooLong,
    /// `lang` is not `it`, `en` or `de`.
    InvalidLang,
    /// `widget` is not a version string.
    InvalidWidgetVersion,
}

impl ErrorCode {
    /// The code as it appears in error bodies.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::NotAnObject => "not_an_object",
            ErrorCode::MissingField => "missing_field",
            ErrorCode::InvalidType => "invalid_type",
            ErrorCode::InvalidId => "invalid_id",
            ErrorCode::InvalidEntrypoint => "invalid_entrypoint",
            ErrorCode::InvalidPage => "invalid_page",
            ErrorCode::InvalidRating => "invalid_rating",
            ErrorCode::InvalidAnswer => "invalid_answer",
            ErrorCode::DuplicateAnswer => "duplicate_answer",
            ErrorCode::CommentTooLong => "comment_too_long",
            ErrorCode::InvalidLang => "invalid_lang",
            ErrorCode::InvalidWidgetVersion => "invalid_widget_version",
        }
    }
}

/// A rating that failed validation, naming the failing field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RatingError {
    /// What went wrong.
    pub code: ErrorCode,
    /// The JSON field at fault (empty for the body as a whole).
    pub field: &'static str,
}

impl RatingError {
    fn new(code: ErrorCode, field: &'static str) -> RatingError {
        RatingError { code, field }
    }
}

impl fmt::Display for RatingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.code {
            ErrorCode::NotAnObject => "the body must be a JSON object",
            ErrorCode::MissingField => "is required",
            ErrorCode::InvalidType => "has the wrong type",
            ErrorCode::InvalidId => "must be a UUID",
            ErrorCode::InvalidEntrypoint => "must be an entrypoint id (ep_…)",
            ErrorCode::InvalidPage => "must be an http or https URL",
            ErrorCode::InvalidRating => "must be an integer from 1 to 5",
            ErrorCode::InvalidAnswer => "contains an answer not offered for this rating",
            ErrorCode::DuplicateAnswer => "answers a question more than once",
            ErrorCode::CommentTooLong => "must be at most 200 characters",
            ErrorCode::InvalidLang => "must be one of it, en, de",
            ErrorCode::InvalidWidgetVersion => "must be a short version string",
        };
        if self.field.is_empty() {
            f.write_str(what)
        } else {
            write!(f, "`{}` {what}", self.field)
        }
    }
}

impl std::error::Error for RatingError {}

/// A star rating from 1 to 5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Stars(u8);

impl Stars {
    /// Accepts 1..=5.
    pub fn parse(value: i64) -> Option<Stars> {
        (1..=5).contains(&value).then_some(Stars(value as u8))
    }

    /// The number of stars.
    pub fn get(self) -> u8 {
        self.0
    }
}

/// The page a rating was given on: an http(s) URL without query string or fragment.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct PageUrl(String);

const PAGE_MAX_BYTES: usize = 2048;

impl PageUrl {
    /// Parses a URL, lowercasing scheme and host and dropping `?query` and `#fragment`,
    /// which may carry personal data (search terms, tokens).
    pub fn parse(raw: &str) -> Option<PageUrl> {
        let raw = trim_white(raw);
        if raw.len() > PAGE_MAX_BYTES || raw.chars().any(|c| is_white(c) || c.is_control()) {
            return None;
        }
        let end = raw.bytes().position(|b| b == b'?' || b == b'#');
        let without_query = &raw[..end.unwrap_or(raw.len())];
        // Byte searches and comparisons: string patterns would pull large matching routines
        // into the widget's WebAssembly.
        let colon = without_query.bytes().position(|b| b == b':')?;
        let (scheme, rest) = without_query.split_at(colon);
        if !rest.as_bytes().starts_with(b"://") {
            return None;
        }
        let rest = &rest[3..];
        let (authority, path) = match rest.bytes().position(|b| b == b'/') {
            Some(slash) => rest.split_at(slash),
            None => (rest, "/"),
        };
        // Letters, digits and `.-:[]` only: no credentials (`user@`), which are never
        // wanted in analytics.
        let host_ok = !authority.is_empty()
            && authority.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']')
            });
        // Built by pushes rather than format!, which would pull the formatting machinery
        // into the widget's WebAssembly; the scheme is checked once lowercased with the host.
        let mut url = String::with_capacity(colon + 3 + authority.len() + path.len());
        url.push_str(scheme);
        url.push_str("://");
        url.push_str(authority);
        url.make_ascii_lowercase();
        url.push_str(path);
        let http = matches!(
            url.as_bytes(),
            [b'h', b't', b't', b'p', b':', ..] | [b'h', b't', b't', b'p', b's', b':', ..]
        );
        (host_ok && http).then_some(PageUrl(url))
    }

    /// The URL as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The page's origin, `scheme://host[:port]`, as browsers write it in `Origin`.
    pub fn origin(&self) -> &str {
        let path = self.0.find("://").map_or(0, |scheme| {
            let host = scheme + 3;
            self.0[host..]
                .find('/')
                .map_or(self.0.len(), |slash| host + slash)
        });
        &self.0[..path]
    }
}

/// A trimmed, non-empty comment of at most 200 Unicode scalar values.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Comment(String);

impl Comment {
    /// `Ok(None)` for an empty or blank comment.
    pub fn parse(raw: &str) -> Result<Option<Comment>, RatingError> {
        let trimmed = trim_white(raw);
        if char_count(trimmed) > COMMENT_MAX_CHARS {
            return Err(RatingError::new(ErrorCode::CommentTooLong, "comment"));
        }
        Ok((!trimmed.is_empty()).then(|| Comment(trimmed.to_owned())))
    }

    /// The comment text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// This comment with personal data replaced by placeholders ([`crate::redact`]), still
    /// at most [`COMMENT_MAX_CHARS`] long.
    #[cfg(feature = "redact")]
    pub fn redacted(self) -> Comment {
        match crate::redact::redact(&self.0) {
            std::borrow::Cow::Borrowed(_) => self,
            std::borrow::Cow::Owned(text) => {
                Comment(text.chars().take(COMMENT_MAX_CHARS).collect())
            }
        }
    }
}

/// A rating whose fields are valid on their own; answers are not yet checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RatingSubmission {
    /// Client-generated UUID; the same id again is an update.
    pub id: Uuid,
    /// The entrypoint rated.
    pub entrypoint: EntrypointId,
    /// The page rated.
    pub page: PageUrl,
    /// The stars.
    pub stars: Stars,
    /// Option ids, unchecked against the survey.
    pub answers: Vec<String>,
    /// Free text.
    pub comment: Option<Comment>,
    /// Language the widget was shown in.
    pub lang: Lang,
    /// Version of the widget that sent it.
    pub widget: Option<String>,
}

// Not in the widget's WebAssembly core, which writes only submissions: a second caller of
// the writer, even one dropped at link time, changes what the compiler inlines there and
// costs the module ~170 bytes.
#[cfg(not(target_arch = "wasm32"))]
impl Rating {
    /// The canonical wire JSON of this rating (see [`RatingSubmission::to_wire_json`]).
    pub fn to_wire_json(&self) -> String {
        let mut out = String::with_capacity(320);
        self.push_wire_json(&mut out);
        out
    }

    /// Appends [`Rating::to_wire_json`] to `out`, for records that embed it.
    pub fn push_wire_json(&self, out: &mut String) {
        WireFields {
            id: self.id,
            entrypoint: &self.entrypoint,
            page: &self.page,
            stars: self.rating,
            answers: &self.answers,
            comment: self.comment.as_ref(),
            lang: self.lang,
            widget: self.widget.as_deref(),
        }
        .push_to(out);
    }
}

/// The fields of the wire JSON, borrowed from a submission or a rating.
struct WireFields<'a> {
    id: Uuid,
    entrypoint: &'a EntrypointId,
    page: &'a PageUrl,
    stars: Stars,
    answers: &'a [String],
    comment: Option<&'a Comment>,
    lang: Lang,
    widget: Option<&'a str>,
}

impl WireFields<'_> {
    /// Written by hand: the widget's WebAssembly build carries no JSON library. Always
    /// inlined: called, it costs that module ~300 bytes.
    #[inline(always)]
    fn push_to(&self, out: &mut String) {
        out.push_str("{\"id\":\"");
        push_uuid(out, self.id);
        out.push_str("\",\"entrypoint\":");
        push_json_string(out, self.entrypoint.as_str());
        out.push_str(",\"page\":");
        push_json_string(out, self.page.as_str());
        out.push_str(",\"rating\":");
        out.push(char::from(b'0' + self.stars.get()));
        out.push_str(",\"answers\":[");
        for (index, answer) in self.answers.iter().enumerate() {
            if index > 0 {
                out.push(',');
            }
            push_json_string(out, answer);
        }
        out.push_str("],\"comment\":");
        match self.comment {
            Some(comment) => push_json_string(out, comment.as_str()),
            None => out.push_str("null"),
        }
        out.push_str(",\"lang\":");
        push_json_string(out, self.lang.code());
        out.push_str(",\"widget\":");
        match self.widget {
            Some(widget) => push_json_string(out, widget),
            None => out.push_str("null"),
        }
        out.push('}');
    }
}

/// A fully validated rating.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rating {
    /// Client-generated UUID; the same id again is an update.
    pub id: Uuid,
    /// The entrypoint rated.
    pub entrypoint: EntrypointId,
    /// The page rated.
    pub page: PageUrl,
    /// The stars.
    pub rating: Stars,
    /// Option ids of the follow-up questions shown for these stars.
    pub answers: Vec<String>,
    /// Free text.
    pub comment: Option<Comment>,
    /// Language the widget was shown in.
    pub lang: Lang,
    /// Version of the widget that sent it.
    pub widget: Option<String>,
}

const MAX_ANSWERS: usize = 16;

// The helpers below replace std and uuid routines that would weigh on the widget's
// WebAssembly, which carries this validation: each is written for size and checked against
// the routine it replaces in the tests.

/// `text` without leading and trailing white space, as `str::trim`.
fn trim_white(text: &str) -> &str {
    let mut chars = text.chars();
    let (mut start, mut end, mut at) = (None, 0, 0);
    while let Some(c) = chars.next() {
        let next = text.len() - chars.as_str().len();
        if !is_white(c) {
            start.get_or_insert(at);
            end = next;
        }
        at = next;
    }
    start.map_or("", |start| &text[start..end])
}

/// Whether `c` is white space, as `char::is_whitespace` (Unicode's White_Space).
fn is_white(c: char) -> bool {
    matches!(
        c,
        '\t'..='\r'
            | ' '
            | '\u{85}'
            | '\u{a0}'
            | '\u{1680}'
            | '\u{2000}'..='\u{200a}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{202f}'
            | '\u{205f}'
            | '\u{3000}'
    )
}

/// The number of characters in `text`, as `text.chars().count()`: the bytes that do not
/// continue a UTF-8 sequence.
fn char_count(text: &str) -> usize {
    text.bytes().filter(|b| b & 0xC0 != 0x80).count()
}

/// A UUID in its hyphenated form (8-4-4-4-12 hex digits, either case), the one browsers'
/// `crypto.randomUUID` and the wire JSON use.
fn parse_uuid(text: &str) -> Option<Uuid> {
    let mut bytes = [0u8; 16];
    let mut digits = 0;
    for (index, c) in text.bytes().enumerate() {
        if matches!(index, 8 | 13 | 18 | 23) {
            if c != b'-' {
                return None;
            }
            continue;
        }
        let digit = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => return None,
        };
        *bytes.get_mut(digits / 2)? |= digit << (4 * (1 - digits % 2));
        digits += 1;
    }
    (digits == 32 && text.len() == 36).then(|| Uuid::from_bytes(bytes))
}

/// Lowercase hex digits, by value.
const HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends `id` hyphenated, in lowercase.
fn push_uuid(out: &mut String, id: Uuid) {
    for (index, byte) in id.as_bytes().iter().enumerate() {
        if matches!(index, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 15)]));
    }
}

/// Appends `text` as a JSON string literal.
fn push_json_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                out.push_str("\\u00");
                out.push(char::from(HEX[(u32::from(c) >> 4) as usize]));
                out.push(char::from(HEX[(u32::from(c) & 15) as usize]));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// An optional string field.
fn optional_text<'w>(
    field: &'w Loose<'_>,
    name: &'static str,
) -> Result<Option<&'w str>, RatingError> {
    match field {
        Loose::Absent => Ok(None),
        Loose::Text(text) => Ok(Some(text)),
        _ => Err(RatingError::new(ErrorCode::InvalidType, name)),
    }
}

/// A required string field: an optional one that must be there.
fn text<'w>(field: &'w Loose<'_>, name: &'static str) -> Result<&'w str, RatingError> {
    optional_text(field, name)?.ok_or(RatingError::new(ErrorCode::MissingField, name))
}

/// The fields of a rating as text and numbers, before validation: what both the JSON
/// parser here and the widget's WebAssembly entry point hand to [`RatingSubmission::from_raw`].
#[derive(Debug, Clone, Default)]
pub struct RawRating<'a> {
    /// `id`.
    pub id: &'a str,
    /// `entrypoint`.
    pub entrypoint: &'a str,
    /// `page`.
    pub page: &'a str,
    /// `rating`; anything that is not an integer is passed as 0.
    pub rating: i64,
    /// `answers`.
    pub answers: Vec<&'a str>,
    /// `comment`.
    pub comment: Option<&'a str>,
    /// `lang`.
    pub lang: &'a str,
    /// `widget`.
    pub widget: Option<&'a str>,
}

impl RatingSubmission {
    /// Validates the wire JSON of a rating, read by [`WireRating::from_slice`] (or from a
    /// parsed tree). Unknown fields are ignored for forward compatibility.
    pub fn parse(wire: &WireRating<'_>) -> Result<RatingSubmission, RatingError> {
        if !wire.object {
            return Err(RatingError::new(ErrorCode::NotAnObject, ""));
        }
        let id = text(&wire.id, "id")?;
        let entrypoint = text(&wire.entrypoint, "entrypoint")?;
        let page = text(&wire.page, "page")?;
        let rating = match &wire.rating {
            Loose::Absent => return Err(RatingError::new(ErrorCode::MissingField, "rating")),
            Loose::Number(number) => number.unwrap_or(0),
            _ => return Err(RatingError::new(ErrorCode::InvalidType, "rating")),
        };
        let answers = match &wire.answers {
            Loose::Absent => Vec::new(),
            Loose::Texts(Some(items)) => items.iter().map(AsRef::as_ref).collect(),
            _ => return Err(RatingError::new(ErrorCode::InvalidType, "answers")),
        };
        RatingSubmission::from_raw(RawRating {
            id,
            entrypoint,
            page,
            rating,
            answers,
            comment: optional_text(&wire.comment, "comment")?,
            lang: text(&wire.lang, "lang")?,
            widget: optional_text(&wire.widget, "widget")?,
        })
    }

    /// Validates every field on its own (answers are checked later, against a survey).
    pub fn from_raw(raw: RawRating<'_>) -> Result<RatingSubmission, RatingError> {
        let id = parse_uuid(raw.id).ok_or(RatingError::new(ErrorCode::InvalidId, "id"))?;
        let entrypoint = EntrypointId::parse(raw.entrypoint)
            .ok_or(RatingError::new(ErrorCode::InvalidEntrypoint, "entrypoint"))?;
        let page =
            PageUrl::parse(raw.page).ok_or(RatingError::new(ErrorCode::InvalidPage, "page"))?;
        let stars =
            Stars::parse(raw.rating).ok_or(RatingError::new(ErrorCode::InvalidRating, "rating"))?;
        if raw.answers.len() > MAX_ANSWERS {
            return Err(RatingError::new(ErrorCode::InvalidAnswer, "answers"));
        }
        let comment = match raw.comment {
            Some(text) => Comment::parse(text)?,
            None => None,
        };
        let lang = Lang::parse(raw.lang).ok_or(RatingError::new(ErrorCode::InvalidLang, "lang"))?;
        let widget = match raw.widget {
            Some(version) => {
                let valid = !version.is_empty()
                    && version.len() <= 32
                    && version
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'+' | b'-'));
                if !valid {
                    return Err(RatingError::new(ErrorCode::InvalidWidgetVersion, "widget"));
                }
                Some(version.to_owned())
            }
            None => None,
        };
        Ok(RatingSubmission {
            id,
            entrypoint,
            page,
            stars,
            answers: raw.answers.into_iter().map(str::to_owned).collect(),
            comment,
            lang,
            widget,
        })
    }

    /// The canonical wire JSON of this rating, as the widget sends it and ingest parses it.
    pub fn to_wire_json(&self) -> String {
        let mut out = String::with_capacity(320);
        WireFields {
            id: self.id,
            entrypoint: &self.entrypoint,
            page: &self.page,
            stars: self.stars,
            answers: &self.answers,
            comment: self.comment.as_ref(),
            lang: self.lang,
            widget: self.widget.as_deref(),
        }
        .push_to(&mut out);
        out
    }

    /// The rating without checking answers against a survey: only for ratings read back
    /// from the event log, whose answers ingest checked before writing them.
    pub fn into_logged_rating(self) -> Rating {
        Rating {
            id: self.id,
            entrypoint: self.entrypoint,
            page: self.page,
            rating: self.stars,
            answers: self.answers,
            comment: self.comment,
            lang: self.lang,
            widget: self.widget,
        }
    }

    /// [`into_rating`](Self::into_rating) against `entrypoint`'s survey, which is built
    /// only when there are answers to check: most ratings (the widget's first submission
    /// of each) come without. Option ids are the same in every language; the language
    /// only picks texts.
    pub fn into_rating_for(self, entrypoint: &Entrypoint) -> Result<Rating, RatingError> {
        if self.answers.is_empty() {
            return Ok(self.into_logged_rating());
        }
        let survey = entrypoint.survey(self.lang);
        self.into_rating(&survey)
    }

    /// Checks the answers against the follow-up questions `survey` shows for these stars:
    /// every answer must be offered, and each question is answered at most once.
    pub fn into_rating(self, survey: &Survey) -> Result<Rating, RatingError> {
        let mut answered_questions: Vec<&str> = Vec::with_capacity(self.answers.len());
        for answer in &self.answers {
            let question = survey
                .follow_ups
                .iter()
                .find(|f| f.is_shown_for(self.stars.get()) && f.has_option(answer))
                .ok_or(RatingError::new(ErrorCode::InvalidAnswer, "answers"))?;
            if answered_questions.contains(&question.id.as_str()) {
                return Err(RatingError::new(ErrorCode::DuplicateAnswer, "answers"));
            }
            answered_questions.push(&question.id);
        }
        Ok(self.into_logged_rating())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entrypoint::EntrypointKind;
    use serde_json::{Value, json};

    /// Parses `body` as ingest does: from its bytes.
    fn parse(body: &Value) -> Result<RatingSubmission, RatingError> {
        let bytes = serde_json::to_vec(body).unwrap();
        RatingSubmission::parse(&WireRating::from_slice(&bytes).unwrap())
    }

    fn valid() -> Value {
        json!({
            "id": "6f1c3b9e-2f4a-4c1e-9a57-0d6f5c1b2a10",
            "entrypoint": "ep_AAAAAAAAAAAAAAAA",
            "page": "HTTPS://www.Comune.Example.it/servizi/?q=nome#top",
            "rating": 2,
            "answers": ["incomplete"],
            "comment": "  Manca l'orario  ",
            "lang": "it",
            "widget": "1.0.0"
        })
    }

    fn page_survey() -> Survey {
        Survey::for_kind(EntrypointKind::PaginaWeb, None, Lang::It)
    }

    fn error_of(body: Value) -> RatingError {
        parse(&body)
            .and_then(|s| s.into_rating(&page_survey()))
            .unwrap_err()
    }

    fn with(field: &str, value: Value) -> Value {
        let mut body = valid();
        body[field] = value;
        body
    }

    #[test]
    fn a_page_names_its_origin() {
        let page = |raw: &str| PageUrl::parse(raw).unwrap();
        assert_eq!(
            page("HTTPS://www.Comune.it/servizi/anagrafe?x=1").origin(),
            "https://www.comune.it"
        );
        assert_eq!(
            page("http://localhost:8080").origin(),
            "http://localhost:8080"
        );
        assert_eq!(
            page("https://[::1]:8443/a/b").origin(),
            "https://[::1]:8443"
        );
    }

    #[test]
    fn parses_a_valid_rating() {
        let rating = parse(&valid())
            .unwrap()
            .into_rating(&page_survey())
            .unwrap();
        assert_eq!(
            rating.page.as_str(),
            "https://www.comune.example.it/servizi/"
        );
        assert_eq!(rating.rating.get(), 2);
        assert_eq!(rating.comment.unwrap().as_str(), "Manca l'orario");
        assert_eq!(rating.lang, Lang::It);
    }

    #[test]
    fn every_error_code_names_its_field() {
        let cases = [
            (json!([1]), ErrorCode::NotAnObject, ""),
            (with("id", Value::Null), ErrorCode::MissingField, "id"),
            (with("id", json!(7)), ErrorCode::InvalidType, "id"),
            (with("id", json!("nope")), ErrorCode::InvalidId, "id"),
            (
                with("entrypoint", json!("ep_x")),
                ErrorCode::InvalidEntrypoint,
                "entrypoint",
            ),
            (
                with("page", json!("ftp://x/")),
                ErrorCode::InvalidPage,
                "page",
            ),
            (
                with("page", json!("https://a b/")),
                ErrorCode::InvalidPage,
                "page",
            ),
            (
                with("page", json!("https://u:p@x/")),
                ErrorCode::InvalidPage,
                "page",
            ),
            (with("rating", json!(6)), ErrorCode::InvalidRating, "rating"),
            (with("rating", json!(0)), ErrorCode::InvalidRating, "rating"),
            (
                with("rating", json!(2.5)),
                ErrorCode::InvalidRating,
                "rating",
            ),
            (with("rating", json!("2")), ErrorCode::InvalidType, "rating"),
            (
                with("answers", json!("clear")),
                ErrorCode::InvalidType,
                "answers",
            ),
            (
                with("answers", json!([1])),
                ErrorCode::InvalidType,
                "answers",
            ),
            (
                with("answers", json!(["clear"])),
                ErrorCode::InvalidAnswer,
                "answers",
            ),
            (
                with("answers", json!(["unclear", "unclear"])),
                ErrorCode::DuplicateAnswer,
                "answers",
            ),
            (
                with("answers", json!(["unclear", "incomplete"])),
                ErrorCode::DuplicateAnswer,
                "answers",
            ),
            (with("comment", json!(3)), ErrorCode::InvalidType, "comment"),
            (
                with("comment", json!("é".repeat(201))),
                ErrorCode::CommentTooLong,
                "comment",
            ),
            (with("lang", json!("fr")), ErrorCode::InvalidLang, "lang"),
            (
                with("widget", json!("1.0 beta")),
                ErrorCode::InvalidWidgetVersion,
                "widget",
            ),
        ];
        for (body, code, field) in cases {
            let error = error_of(body.clone());
            assert_eq!((error.code, error.field), (code, field), "{body}");
            assert!(!error.to_string().is_empty());
        }
    }

    #[test]
    fn wire_json_escapes_every_character_a_comment_may_hold() {
        let mut body = valid();
        body["comment"] = json!("\"quoted\" \\ new\nline\ttab \u{1} é 😀 </script>");
        let submission = parse(&body).unwrap();
        let wire: Value = serde_json::from_str(&submission.to_wire_json()).unwrap();
        assert_eq!(wire["comment"], body["comment"].as_str().unwrap().trim());
        assert_eq!(parse(&wire).unwrap(), submission);
    }

    #[test]
    fn bodies_read_as_a_parsed_tree_would_be() {
        let read = |body: &str| {
            WireRating::from_slice(body.as_bytes())
                .map_err(|_| "malformed")
                .map(|wire| RatingSubmission::parse(&wire).map_err(|e| (e.code, e.field)))
        };
        let expected = parse(&valid()).unwrap();
        let valid = valid().to_string();
        // Escaped keys and texts, unknown fields of every shape, a later duplicate winning.
        let escaped = valid
            .replacen("\"id\"", "\"i\\u0064\"", 1)
            .replacen("\"lang\":\"it\"", "\"lang\":\"\\u0069t\"", 1)
            .replacen('{', r#"{"x":{"y":[1,{"z":null}]},"rating":5,"#, 1);
        assert_eq!(read(&escaped), Ok(Ok(expected.clone())));
        for not_an_object in ["[1,{\"a\":2}]", "\"text\"", "3", "-1.5", "true", "null"] {
            assert_eq!(
                read(not_an_object),
                Ok(Err((ErrorCode::NotAnObject, ""))),
                "{not_an_object}"
            );
        }
        for malformed in [
            "",
            "{",
            "{} {}",
            "{\"id\":}",
            "[1,]",
            "{\"rating\":1e400}",
            "[1e400]",
        ] {
            assert_eq!(read(malformed), Err("malformed"), "{malformed}");
        }
        // Unknown fields are read in full: a fault inside one is a fault of the body.
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        for unknown in ["1e400", "\"\\ud800\"", "{\"a\":[\"\\udfff\"]}", &deep] {
            let body = valid.replacen('{', &format!("{{\"x\":{unknown},"), 1);
            assert_eq!(read(&body), Err("malformed"), "{unknown}");
        }
        // A byte that is not UTF-8 inside the string of `{"x":"",…`.
        let mut bytes = valid.replacen('{', "{\"x\":\"\",", 1).into_bytes();
        bytes.insert(6, 0xff);
        assert!(WireRating::from_slice(&bytes).is_err());
        // serde_json's private marker key of raw values is a key like any other here.
        let marker = valid.replacen('{', "{\"$serde_json::private::RawValue\":\"3\",", 1);
        assert_eq!(read(&marker), Ok(Ok(expected)));
        let huge = valid.replacen("\"rating\":2", "\"rating\":18446744073709551615", 1);
        assert_eq!(read(&huge), Ok(Err((ErrorCode::InvalidRating, "rating"))));
        let mixed = valid.replacen("[\"incomplete\"]", "[\"incomplete\",null]", 1);
        assert_eq!(read(&mixed), Ok(Err((ErrorCode::InvalidType, "answers"))));
    }

    #[test]
    fn wire_json_round_trips() {
        let submission = parse(&valid()).unwrap();
        let wire: Value = serde_json::from_str(&submission.to_wire_json()).unwrap();
        assert_eq!(wire["page"], "https://www.comune.example.it/servizi/");
        assert_eq!(wire["comment"], "Manca l'orario");
        assert_eq!(parse(&wire).unwrap(), submission);
    }

    #[test]
    fn comment_limit_counts_scalar_values_after_trimming() {
        let exactly = format!("  {}  ", "😀".repeat(200));
        assert!(Comment::parse(&exactly).unwrap().is_some());
        assert_eq!(Comment::parse("   ").unwrap(), None);
    }

    #[test]
    fn answers_follow_the_rating_shown() {
        let four_stars_negative = json!({"rating": 4, "answers": ["unclear"]});
        let mut body = valid();
        body["rating"] = four_stars_negative["rating"].clone();
        body["answers"] = four_stars_negative["answers"].clone();
        assert_eq!(error_of(body).code, ErrorCode::InvalidAnswer);
        let mut body = valid();
        body["rating"] = json!(5);
        body["answers"] = json!(["other"]);
        assert!(parse(&body).unwrap().into_rating(&page_survey()).is_ok());
    }

    #[test]
    fn an_entrypoint_checks_answers_only_when_there_are_some() {
        let entrypoint = Entrypoint {
            id: EntrypointId::parse("ep_AAAAAAAAAAAAAAAA").unwrap(),
            tenant: crate::entrypoint::TenantId::parse("bugliano").unwrap(),
            name: "Sito".into(),
            kind: EntrypointKind::PaginaWeb,
            status: crate::entrypoint::EntrypointStatus::Active,
            allowed_origins: Vec::new(),
            custom: None,
            service: None,
            created_at: 0,
        };
        let submit = |body: Value| parse(&body).unwrap();
        let valid_rating = submit(valid()).into_rating_for(&entrypoint).unwrap();
        assert_eq!(valid_rating.answers, ["incomplete"]);
        let offered_for_five_stars = with("answers", json!(["clear"]));
        assert_eq!(
            submit(offered_for_five_stars)
                .into_rating_for(&entrypoint)
                .unwrap_err()
                .code,
            ErrorCode::InvalidAnswer
        );
        let without_answers = submit(with("answers", json!([])))
            .into_rating_for(&entrypoint)
            .unwrap();
        assert!(without_answers.answers.is_empty());
    }

    #[test]
    fn pages_keep_path_and_drop_query() {
        let parse = |raw| PageUrl::parse(raw).map(|p| p.0);
        assert_eq!(parse("http://x.it"), Some("http://x.it/".into()));
        assert_eq!(
            parse("https://x.it:8443/a/b#c"),
            Some("https://x.it:8443/a/b".into())
        );
        assert_eq!(parse("javascript:alert(1)"), None);
        assert_eq!(
            parse(" HTTPS://X.it/A\u{3000}"),
            Some("https://x.it/A".into())
        );
        for refused in [
            "https:/x.it/",
            "https//x.it/",
            "httpx://x.it/",
            "htt://x.it/",
            "https://",
            "https:///a",
            "https://x.it/a\u{a0}b",
            "https://x.it/a\u{85}b",
            "https://x.it/a\u{9f}b",
            "https://x.it/a\u{7f}",
            "https://user@x.it/",
            "https://x_y.it/",
        ] {
            assert_eq!(parse(refused), None, "{refused:?}");
        }
        assert_eq!(
            parse("Http://X.IT/Città?q=1"),
            Some("http://x.it/Città".into())
        );
    }

    /// A few texts, then each white space character around, before and after others.
    fn texts_to_trim() -> Vec<String> {
        let whites: Vec<char> = (0..=u32::from(char::MAX))
            .filter_map(char::from_u32)
            .filter(|c| c.is_whitespace())
            .collect();
        let mut texts: Vec<String> = ["", "a", "città", "ß😀", "a b", "\u{85}\u{a0}"]
            .map(str::to_owned)
            .into();
        for white in &whites {
            for text in ["", "x", "é", "😀 😀"] {
                texts.push(format!("{white}{text}{white}"));
                texts.push(format!("{white}{white}{text}"));
                texts.push(format!("{text}{white}{white}"));
            }
        }
        texts
    }

    #[test]
    fn white_space_trimming_and_counting_agree_with_std() {
        for c in (0..=u32::from(char::MAX)).filter_map(char::from_u32) {
            assert_eq!(is_white(c), c.is_whitespace(), "{c:?}");
        }
        for text in texts_to_trim() {
            assert_eq!(trim_white(&text), text.trim(), "{text:?}");
            assert_eq!(char_count(&text), text.chars().count(), "{text:?}");
        }
    }

    #[test]
    fn ids_are_read_and_written_as_the_uuid_crate_does_in_hyphenated_form() {
        // A fixed sequence of 128-bit values (xorshift), to cover every digit in every place.
        let mut state = 0x2545_f491_4f6c_dd1d_u128;
        for _ in 0..10_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let id = Uuid::from_u128(state);
            let lower = id.hyphenated().to_string();
            assert_eq!(parse_uuid(&lower), Some(id));
            assert_eq!(parse_uuid(&lower.to_uppercase()), Some(id));
            let mut written = String::new();
            push_uuid(&mut written, id);
            assert_eq!(written, lower);
        }
        let id = "6f1c3b9e-2f4a-4c1e-9a57-0d6f5c1b2a10";
        for refused in [
            "6f1c3b9e2f4a4c1e9a570d6f5c1b2a10".to_owned(),
            format!("{{{id}}}"),
            format!("urn:uuid:{id}"),
            format!("{id}0"),
            id[1..].to_owned(),
            id.replace('-', "0"),
            id.replacen('-', "", 1) + "0",
            id.replace('f', "g"),
            id.replace('6', "é"),
            String::new(),
        ] {
            assert_eq!(parse_uuid(&refused), None, "{refused:?}");
        }
    }
}
