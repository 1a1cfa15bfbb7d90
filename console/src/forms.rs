//! Validation of entrypoint input, shared by the HTML forms and the REST API.

use satisfy_core::event::MAX_ID_CHARS;
use satisfy_core::{CustomQuestion, CustomSurvey, EntrypointKind, Origin};

/// Longest entrypoint name.
const MAX_NAME_CHARS: usize = 120;

/// A trimmed name of 1 to 120 characters.
pub fn parse_name(raw: &str) -> Result<String, String> {
    let name = raw.trim();
    let count = name.chars().count();
    if count == 0 || count > MAX_NAME_CHARS {
        return Err(format!("name must have 1 to {MAX_NAME_CHARS} characters"));
    }
    Ok(name.to_owned())
}

/// The service an entrypoint rates: empty for none; only kinds that rate a service may
/// name one.
pub fn parse_service(kind: EntrypointKind, raw: &str) -> Result<Option<String>, String> {
    let service = raw.trim();
    if service.is_empty() {
        return Ok(None);
    }
    if !kind.rates_a_service() {
        return Err(
            "only scheda servizio and valutazione servizio entrypoints name a service".into(),
        );
    }
    if service.chars().count() > MAX_ID_CHARS || service.contains(char::is_control) {
        return Err(format!(
            "service must be an id of 1 to {MAX_ID_CHARS} characters"
        ));
    }
    Ok(Some(service.to_owned()))
}

/// Origins, deduplicated, from any list of strings.
pub fn parse_origins<'a>(raw: impl IntoIterator<Item = &'a str>) -> Result<Vec<Origin>, String> {
    let mut origins: Vec<Origin> = Vec::new();
    for line in raw.into_iter().map(str::trim).filter(|l| !l.is_empty()) {
        let origin = Origin::parse(line).ok_or_else(|| {
            format!("`{line}` is not an origin like https://www.comune.example.it")
        })?;
        if !origins.contains(&origin) {
            origins.push(origin);
        }
    }
    if origins.is_empty() {
        return Err(
            "at least one site is needed, like https://www.comune.example.it: ratings are \
             accepted only from the sites listed, for their own pages"
                .into(),
        );
    }
    Ok(origins)
}

/// A custom survey from the edit form: the star question and up to three questions, each
/// with its answers one per line; questions left empty are skipped.
pub fn parse_custom_form(
    question: &str,
    follow_ups: &[(String, String)],
) -> Result<CustomSurvey, String> {
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
    .map_err(|e| e.to_string())
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
