//! The languages Satisfy speaks.

use serde::{Deserialize, Serialize};

/// A language of the widget and the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// Italian, the default and the language of the official texts.
    #[default]
    It,
    /// English.
    En,
    /// German (South Tyrol).
    De,
}

impl Lang {
    /// Every supported language, Italian first.
    pub const ALL: [Lang; 3] = [Lang::It, Lang::En, Lang::De];

    /// Parses the exact wire code `it`, `en` or `de`.
    pub fn parse(code: &str) -> Option<Lang> {
        match code {
            "it" => Some(Lang::It),
            "en" => Some(Lang::En),
            "de" => Some(Lang::De),
            _ => None,
        }
    }

    /// Reads a BCP 47 tag such as `de-AT` or `it_IT` leniently, by its primary subtag.
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let primary = tag.trim().split(['-', '_']).next().unwrap_or_default();
        Lang::parse(&primary.to_ascii_lowercase())
    }

    /// The wire code.
    pub fn code(self) -> &'static str {
        match self {
            Lang::It => "it",
            Lang::En => "en",
            Lang::De => "de",
        }
    }

    /// The language's own name, for language switches.
    pub fn native_name(self) -> &'static str {
        match self {
            Lang::It => "Italiano",
            Lang::En => "English",
            Lang::De => "Deutsch",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exact_codes_and_lenient_tags() {
        assert_eq!(Lang::parse("de"), Some(Lang::De));
        assert_eq!(Lang::parse("IT"), None);
        assert_eq!(Lang::from_tag("it-IT"), Some(Lang::It));
        assert_eq!(Lang::from_tag("EN_gb"), Some(Lang::En));
        assert_eq!(Lang::from_tag("fr"), None);
    }
}
