//! Entrypoints: the collection points a webmaster places on pages.

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::lang::Lang;
use crate::survey::Survey;

/// The identifier of an entrypoint: `ep_` followed by 16 URL-safe characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EntrypointId(String);

const ID_PREFIX: &str = "ep_";
const ID_RANDOM_CHARS: usize = 16;
const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

impl EntrypointId {
    /// Builds an id from 12 random bytes supplied by the caller (core has no entropy source).
    pub fn from_random(bytes: [u8; 12]) -> EntrypointId {
        let mut id = String::with_capacity(ID_PREFIX.len() + ID_RANDOM_CHARS);
        id.push_str(ID_PREFIX);
        // 12 bytes = 96 bits = exactly 16 base64url characters, no padding.
        for chunk in bytes.chunks(3) {
            let n = (u32::from(chunk[0]) << 16) | (u32::from(chunk[1]) << 8) | u32::from(chunk[2]);
            for shift in [18, 12, 6, 0] {
                id.push(char::from(URL_SAFE[((n >> shift) & 63) as usize]));
            }
        }
        EntrypointId(id)
    }

    /// Parses an id as it appears on the wire and in URLs.
    pub fn parse(raw: &str) -> Option<EntrypointId> {
        let (prefix, random) = raw.as_bytes().split_at_checked(ID_PREFIX.len())?;
        let valid = prefix == ID_PREFIX.as_bytes()
            && random.len() == ID_RANDOM_CHARS
            && random
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        valid.then(|| EntrypointId(raw.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EntrypointId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for EntrypointId {
    type Error = String;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        EntrypointId::parse(&raw).ok_or_else(|| format!("invalid entrypoint id `{raw}`"))
    }
}

impl From<EntrypointId> for String {
    fn from(id: EntrypointId) -> String {
        id.0
    }
}

/// The tenant (ente) an entrypoint belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TenantId(String);

impl TenantId {
    /// Parses a tenant slug: 1 to 64 lowercase letters, digits, `-` or `_`.
    pub fn parse(raw: &str) -> Option<TenantId> {
        let valid = !raw.is_empty()
            && raw.len() <= 64
            && raw
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        valid.then(|| TenantId(raw.to_owned()))
    }

    /// The tenant slug.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What an entrypoint asks, following the Modello Comuni templates or a custom wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntrypointKind {
    /// "Modello comuni - pagina web": clarity of a web page.
    PaginaWeb,
    /// "Modello comuni - scheda servizio": clarity of a service card page.
    SchedaServizio,
    /// "Modello comuni - valutazione servizio": ease of use of an online service.
    ValutazioneServizio,
    /// "Personalizzato": a star question of its own wording plus up to 3 closed questions.
    Personalizzato,
}

impl EntrypointKind {
    /// Whether entrypoints of this kind rate one service (and may name it, so that its
    /// ratings appear beside the service's KPIs).
    pub fn rates_a_service(self) -> bool {
        matches!(
            self,
            EntrypointKind::SchedaServizio | EntrypointKind::ValutazioneServizio
        )
    }

    /// Every kind, in the order the console offers them.
    pub const ALL: [EntrypointKind; 4] = [
        EntrypointKind::PaginaWeb,
        EntrypointKind::SchedaServizio,
        EntrypointKind::ValutazioneServizio,
        EntrypointKind::Personalizzato,
    ];

    /// The stable code used in the API and the database.
    pub fn code(self) -> &'static str {
        match self {
            EntrypointKind::PaginaWeb => "pagina_web",
            EntrypointKind::SchedaServizio => "scheda_servizio",
            EntrypointKind::ValutazioneServizio => "valutazione_servizio",
            EntrypointKind::Personalizzato => "personalizzato",
        }
    }

    /// Parses a stable code.
    pub fn parse(code: &str) -> Option<EntrypointKind> {
        EntrypointKind::ALL
            .into_iter()
            .find(|kind| kind.code() == code)
    }

    /// The kind's name as the console shows it.
    pub fn label(self, lang: Lang) -> &'static str {
        match (self, lang) {
            (EntrypointKind::PaginaWeb, Lang::It) => "Modello comuni - pagina web",
            (EntrypointKind::PaginaWeb, Lang::En) => "Municipal template - web page",
            (EntrypointKind::PaginaWeb, Lang::De) => "Gemeindevorlage - Webseite",
            (EntrypointKind::SchedaServizio, Lang::It) => "Modello comuni - scheda servizio",
            (EntrypointKind::SchedaServizio, Lang::En) => "Municipal template - service card",
            (EntrypointKind::SchedaServizio, Lang::De) => "Gemeindevorlage - Dienstkarte",
            (EntrypointKind::ValutazioneServizio, Lang::It) => {
                "Modello comuni - valutazione servizio"
            }
            (EntrypointKind::ValutazioneServizio, Lang::En) => {
                "Municipal template - service evaluation"
            }
            (EntrypointKind::ValutazioneServizio, Lang::De) => "Gemeindevorlage - Dienstbewertung",
            (EntrypointKind::Personalizzato, Lang::It) => "Personalizzato",
            (EntrypointKind::Personalizzato, Lang::En) => "Custom",
            (EntrypointKind::Personalizzato, Lang::De) => "Benutzerdefiniert",
        }
    }
}

/// Whether an entrypoint currently collects ratings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum EntrypointStatus {
    /// Ratings are accepted.
    #[default]
    Active,
    /// Ratings are refused as if the entrypoint did not exist.
    Paused,
}

impl EntrypointStatus {
    /// The stable code.
    pub fn code(self) -> &'static str {
        match self {
            EntrypointStatus::Active => "active",
            EntrypointStatus::Paused => "paused",
        }
    }

    /// Parses a stable code.
    pub fn parse(code: &str) -> Option<EntrypointStatus> {
        match code {
            "active" => Some(EntrypointStatus::Active),
            "paused" => Some(EntrypointStatus::Paused),
            _ => None,
        }
    }
}

/// A web origin (`scheme://host[:port]`), normalised to lowercase without a trailing slash.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Origin(String);

impl Origin {
    /// Parses an origin as browsers send it in the `Origin` header.
    pub fn parse(raw: &str) -> Option<Origin> {
        let lower = raw.trim().trim_end_matches('/').to_ascii_lowercase();
        let host = lower
            .strip_prefix("https://")
            .or_else(|| lower.strip_prefix("http://"))?;
        let valid = !host.is_empty()
            && host.len() <= 253
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b));
        valid.then_some(Origin(lower))
    }

    /// The origin as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Origin {
    type Error = String;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Origin::parse(&raw).ok_or_else(|| format!("invalid origin `{raw}`"))
    }
}

impl From<Origin> for String {
    fn from(origin: Origin) -> String {
        origin.0
    }
}

/// The wording of a "Personalizzato" entrypoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct CustomSurvey {
    /// The star question, e.g. "Come valuti lo sportello online?".
    pub question: String,
    /// Up to three closed questions, shown after the stars whatever the rating.
    #[serde(default)]
    pub follow_ups: Vec<CustomQuestion>,
}

/// A closed (single choice) question of a custom survey.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomQuestion {
    /// The question text.
    pub question: String,
    /// Up to eight answer texts; their ids are derived from their position (`q1o2`).
    pub options: Vec<String>,
}

/// Why a custom survey was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CustomSurveyError {
    /// The star question is empty or longer than 200 characters.
    InvalidQuestion,
    /// More than three closed questions.
    TooManyQuestions,
    /// A closed question is empty, too long, or has no options / more than eight.
    InvalidFollowUp(usize),
}

impl fmt::Display for CustomSurveyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CustomSurveyError::InvalidQuestion => {
                write!(
                    f,
                    "the star question must have 1 to {MAX_CUSTOM_TEXT_CHARS} characters"
                )
            }
            CustomSurveyError::TooManyQuestions => {
                write!(f, "at most {MAX_CUSTOM_QUESTIONS} additional questions")
            }
            CustomSurveyError::InvalidFollowUp(n) => write!(
                f,
                "question {n} needs a text and 1 to {MAX_CUSTOM_OPTIONS} non-empty options"
            ),
        }
    }
}

/// Maximum number of closed questions in a custom survey.
pub const MAX_CUSTOM_QUESTIONS: usize = 3;
/// Maximum number of options of one closed question.
pub const MAX_CUSTOM_OPTIONS: usize = 8;
/// Longest text (question or option) of a custom survey, in characters.
pub const MAX_CUSTOM_TEXT_CHARS: usize = 200;

fn valid_text(text: &str) -> bool {
    let count = text.trim().chars().count();
    count > 0 && count <= MAX_CUSTOM_TEXT_CHARS
}

impl CustomSurvey {
    /// Checks the limits and trims every text.
    pub fn parse(raw: CustomSurvey) -> Result<CustomSurvey, CustomSurveyError> {
        if !valid_text(&raw.question) {
            return Err(CustomSurveyError::InvalidQuestion);
        }
        if raw.follow_ups.len() > MAX_CUSTOM_QUESTIONS {
            return Err(CustomSurveyError::TooManyQuestions);
        }
        let mut follow_ups = Vec::with_capacity(raw.follow_ups.len());
        for (index, follow_up) in raw.follow_ups.into_iter().enumerate() {
            let options_ok = !follow_up.options.is_empty()
                && follow_up.options.len() <= MAX_CUSTOM_OPTIONS
                && follow_up.options.iter().all(|o| valid_text(o));
            if !valid_text(&follow_up.question) || !options_ok {
                return Err(CustomSurveyError::InvalidFollowUp(index + 1));
            }
            follow_ups.push(CustomQuestion {
                question: follow_up.question.trim().to_owned(),
                options: follow_up
                    .options
                    .iter()
                    .map(|o| o.trim().to_owned())
                    .collect(),
            });
        }
        Ok(CustomSurvey {
            question: raw.question.trim().to_owned(),
            follow_ups,
        })
    }
}

/// A collection point: one kind of question placed on one or more pages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entrypoint {
    /// Public identifier, used in snippets.
    pub id: EntrypointId,
    /// Owning tenant.
    pub tenant: TenantId,
    /// Name shown in the console.
    pub name: String,
    /// Which questions it asks.
    pub kind: EntrypointKind,
    /// Whether it collects ratings.
    pub status: EntrypointStatus,
    /// Origins allowed to post ratings, and whose pages may be rated; at least one for an
    /// entrypoint to accept ratings.
    pub allowed_origins: Vec<Origin>,
    /// The wording of a "Personalizzato" entrypoint; `None` for the official kinds.
    pub custom: Option<CustomSurvey>,
    /// The service it rates (the `service` id of platform events), for kinds that
    /// [rate a service](EntrypointKind::rates_a_service).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// Creation time, seconds since the Unix epoch.
    pub created_at: i64,
}

impl Entrypoint {
    /// The questions this entrypoint asks, in one language.
    pub fn survey(&self, lang: Lang) -> Survey {
        Survey::for_kind(self.kind, self.custom.as_ref(), lang)
    }

    /// Whether a browser at `origin` may post ratings here: only one of the allowed
    /// origins may (an entrypoint without any accepts no rating).
    pub fn allows_origin(&self, origin: &Origin) -> bool {
        self.allowed_origins.contains(origin)
    }

    /// Whether `page` lies on one of the allowed origins: a rating names the page it was
    /// given on, which must be the ente's own site.
    pub fn allows_page(&self, page: &crate::rating::PageUrl) -> bool {
        // What `Origin::parse` would make of the page's origin, without its copy: allowed
        // origins are valid and lowercase, so only a valid origin can equal one.
        let origin = page.origin();
        self.allowed_origins
            .iter()
            .any(|allowed| allowed.as_str().eq_ignore_ascii_case(origin))
    }

    /// Whether the entrypoint accepts ratings.
    pub fn is_active(&self) -> bool {
        self.status == EntrypointStatus::Active
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_reject_garbage() {
        let id = EntrypointId::from_random([0xfb; 12]);
        assert_eq!(id.as_str().len(), 19);
        assert!(id.as_str().starts_with("ep_"));
        assert_eq!(EntrypointId::parse(id.as_str()), Some(id));
        assert_eq!(EntrypointId::parse("ep_short"), None);
        assert_eq!(EntrypointId::parse("xx_AAAAAAAAAAAAAAAA"), None);
        assert_eq!(EntrypointId::parse("ep_AAAAAAAAAAAAAAA!"), None);
    }

    #[test]
    fn origins_are_normalised() {
        let origin = Origin::parse("HTTPS://www.Comune.Example.it/").unwrap();
        assert_eq!(origin.as_str(), "https://www.comune.example.it");
        assert!(Origin::parse("ftp://x").is_none());
        assert!(Origin::parse("https://a/b").is_none());
        assert!(Origin::parse("http://127.0.0.1:8080").is_some());
    }

    #[test]
    fn only_allowed_origins_and_their_pages_are_accepted() {
        let site = Origin::parse("https://www.comune.bugliano.pi.it").unwrap();
        let mut entrypoint = Entrypoint {
            id: EntrypointId::from_random([1; 12]),
            tenant: TenantId::parse("bugliano").unwrap(),
            name: "Sito".into(),
            kind: EntrypointKind::PaginaWeb,
            status: EntrypointStatus::Active,
            allowed_origins: vec![site.clone()],
            custom: None,
            service: None,
            created_at: 0,
        };
        let page = |raw: &str| crate::rating::PageUrl::parse(raw).unwrap();
        assert!(entrypoint.allows_origin(&site));
        assert!(entrypoint.allows_page(&page("https://WWW.comune.bugliano.pi.it/servizi?q=1")));
        assert!(!entrypoint.allows_page(&page("https://www.comune.bugliano.pi.it.evil.example/")));
        assert!(!entrypoint.allows_page(&page("http://www.comune.bugliano.pi.it/")));
        assert!(!entrypoint.allows_origin(&Origin::parse("https://evil.example").unwrap()));
        // The same answers as parsing the page's origin and looking it up.
        entrypoint
            .allowed_origins
            .push(Origin::parse("http://127.0.0.1:8080").unwrap());
        for raw in [
            "https://www.comune.bugliano.pi.it",
            "HTTPS://WWW.COMUNE.BUGLIANO.PI.IT/a/b",
            "https://www.comune.bugliano.pi.it:443/",
            "https://www.comune.bugliano.pi.it./",
            "http://127.0.0.1:8080/x",
            "http://127.0.0.1:8081/x",
            "https://[::1]/",
        ] {
            let page = crate::rating::PageUrl::parse(raw).unwrap_or_else(|| panic!("{raw}"));
            let by_parsing = Origin::parse(page.origin())
                .is_some_and(|origin| entrypoint.allowed_origins.contains(&origin));
            assert_eq!(entrypoint.allows_page(&page), by_parsing, "{raw}");
        }
        entrypoint.allowed_origins.clear();
        assert!(
            !entrypoint.allows_origin(&site),
            "no origin allowed, none accepted"
        );
        assert!(!entrypoint.allows_page(&page("https://www.comune.bugliano.pi.it/")));
    }

    #[test]
    fn custom_surveys_respect_limits() {
        let question = |n: usize| CustomQuestion {
            question: "Q".into(),
            options: vec!["o".into(); n],
        };
        let survey = |follow_ups| CustomSurvey {
            question: " Come valuti? ".into(),
            follow_ups,
        };
        let parsed = CustomSurvey::parse(survey(vec![question(8)])).unwrap();
        assert_eq!(parsed.question, "Come valuti?");
        assert_eq!(
            CustomSurvey::parse(survey(vec![question(9)])),
            Err(CustomSurveyError::InvalidFollowUp(1))
        );
        assert_eq!(
            CustomSurvey::parse(survey(vec![question(1); 4])),
            Err(CustomSurveyError::TooManyQuestions)
        );
        assert_eq!(
            CustomSurvey::parse(CustomSurvey::default()),
            Err(CustomSurveyError::InvalidQuestion)
        );
    }
}
