//! Validation of entrypoint input, shared by the HTML forms and the REST API.

use satisfy_core::entrypoint::{
    CustomSurveyError, MAX_CUSTOM_OPTIONS, MAX_CUSTOM_QUESTIONS, MAX_CUSTOM_TEXT_CHARS,
};
use satisfy_core::event::MAX_ID_CHARS;
use satisfy_core::{CustomQuestion, CustomSurvey, EntrypointKind, Origin};

use crate::i18n::{Ui, fill};

/// Longest entrypoint name.
const MAX_NAME_CHARS: usize = 120;

/// Why an entrypoint's input was refused: in English for the API (and the admin
/// command), in the user's language on the console's pages ([`InputError::text`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    /// The name is empty or too long.
    #[error("name must have 1 to {MAX_NAME_CHARS} characters")]
    Name,
    /// A service named by a kind that rates none.
    #[error("only scheda servizio and valutazione servizio entrypoints name a service")]
    ServiceNotRated,
    /// The service id is too long or has control characters.
    #[error("service must be an id of 1 to {MAX_ID_CHARS} characters")]
    Service,
    /// A line that is not an origin.
    #[error("`{0}` is not an origin like https://www.comune.example.it")]
    Origin(String),
    /// No origin at all.
    #[error(
        "at least one site is needed, like https://www.comune.example.it: ratings are \
         accepted only from the sites listed, for their own pages"
    )]
    NoOrigin,
    /// A custom survey out of its limits.
    #[error("{0}")]
    Custom(CustomSurveyError),
}

impl InputError {
    /// The reason in the language of `texts`.
    pub fn text(&self, texts: &Ui) -> String {
        let max = |n: usize| n.to_string();
        match self {
            InputError::Name => fill(texts.input_name, &[("max", &max(MAX_NAME_CHARS))]),
            InputError::ServiceNotRated => texts.input_service_not_rated.to_owned(),
            InputError::Service => fill(texts.input_service, &[("max", &max(MAX_ID_CHARS))]),
            InputError::Origin(line) => fill(texts.input_origin, &[("line", line)]),
            InputError::NoOrigin => texts.input_no_origin.to_owned(),
            InputError::Custom(CustomSurveyError::InvalidQuestion) => fill(
                texts.input_custom_question,
                &[("max", &max(MAX_CUSTOM_TEXT_CHARS))],
            ),
            InputError::Custom(CustomSurveyError::TooManyQuestions) => fill(
                texts.input_custom_too_many,
                &[("max", &max(MAX_CUSTOM_QUESTIONS))],
            ),
            InputError::Custom(CustomSurveyError::InvalidFollowUp(n)) => fill(
                texts.input_custom_follow_up,
                &[("n", &n.to_string()), ("max", &max(MAX_CUSTOM_OPTIONS))],
            ),
        }
    }
}

/// A trimmed name of 1 to 120 characters.
pub fn parse_name(raw: &str) -> Result<String, InputError> {
    let name = raw.trim();
    let count = name.chars().count();
    if count == 0 || count > MAX_NAME_CHARS {
        return Err(InputError::Name);
    }
    Ok(name.to_owned())
}

/// The service an entrypoint rates: empty for none; only kinds that rate a service may
/// name one.
pub fn parse_service(kind: EntrypointKind, raw: &str) -> Result<Option<String>, InputError> {
    let service = raw.trim();
    if service.is_empty() {
        return Ok(None);
    }
    if !kind.rates_a_service() {
        return Err(InputError::ServiceNotRated);
    }
    if service.chars().count() > MAX_ID_CHARS || service.contains(char::is_control) {
        return Err(InputError::Service);
    }
    Ok(Some(service.to_owned()))
}

/// Origins, deduplicated, from any list of strings.
pub fn parse_origins<'a>(
    raw: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<Origin>, InputError> {
    let mut origins: Vec<Origin> = Vec::new();
    for line in raw.into_iter().map(str::trim).filter(|l| !l.is_empty()) {
        let origin = Origin::parse(line).ok_or_else(|| InputError::Origin(line.to_owned()))?;
        if !origins.contains(&origin) {
            origins.push(origin);
        }
    }
    if origins.is_empty() {
        return Err(InputError::NoOrigin);
    }
    Ok(origins)
}

/// A custom survey from the edit form: the star question and up to three questions, each
/// with its answers one per line; questions left empty are skipped.
pub fn parse_custom_form(
    question: &str,
    follow_ups: &[(String, String)],
) -> Result<CustomSurvey, InputError> {
    let follow_ups = follow_ups
        .iter()
        .filter(|(q, options)| !q.trim().is_empty() || !options.trim().is_empty())
        .map(|(q, options)| CustomQuestion {
            question: q.clone(),
            options: options
                .lines()
                .map(str::trim)
                .filter(|o| !o.is_empty())
                .map(str::to_owned)
                .collect(),
        })
        .collect();
    CustomSurvey::parse(CustomSurvey {
        question: question.to_owned(),
        follow_ups,
    })
    .map_err(InputError::Custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_origins_and_custom_forms() {
        assert_eq!(parse_name("  Servizi  ").unwrap(), "Servizi");
        assert!(parse_name("   ").is_err());
        let origins =
            parse_origins("https://a.it\n\nHTTPS://A.it/\nhttp://b.it:8080".lines()).unwrap();
        assert_eq!(origins.len(), 2);
        assert!(parse_origins(["nope"]).is_err());
        let custom = parse_custom_form(
            "Come valuti?",
            &[
                ("Attesa?".into(), "Breve\n\nLunga\n".into()),
                (String::new(), String::new()),
            ],
        )
        .unwrap();
        assert_eq!(custom.follow_ups.len(), 1);
        assert_eq!(custom.follow_ups[0].options, vec!["Breve", "Lunga"]);
        assert!(parse_custom_form("", &[]).is_err());
    }
}
