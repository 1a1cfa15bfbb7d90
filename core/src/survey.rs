//! The questions each kind of entrypoint asks, with the official Modello Comuni texts.
//!
//! The Italian texts are the ones the AgID validator compares character by character:
//! change them only together with the official component.

use serde::Serialize;

use crate::COMMENT_MAX_CHARS;
use crate::entrypoint::{CustomSurvey, EntrypointKind};
use crate::lang::Lang;

/// Everything the widget shows for one entrypoint in one language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Survey {
    /// The entrypoint kind.
    pub kind: EntrypointKind,
    /// The language of every text below.
    pub lang: Lang,
    /// The star question (`data-element="feedback-title"`).
    pub title: String,
    /// Legend of the star fieldset.
    pub stars_legend: String,
    /// Accessible label of star N at index N-1.
    pub star_labels: Vec<String>,
    /// Closed questions shown after the stars, each for some ratings only.
    pub follow_ups: Vec<FollowUp>,
    /// Question of the free-text step.
    pub details_question: String,
    /// Label of the free-text input.
    pub details_label: String,
    /// Maximum characters of the free-text input.
    pub details_max_chars: usize,
    /// "Back" button.
    pub back: String,
    /// "Next" button (it also sends on the last step).
    pub next: String,
    /// Text shown once the rating is sent.
    pub thanks: String,
}

/// A closed, single-choice question.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FollowUp {
    /// Stable id: `negative`, `positive` or `q1`..`q3` for custom questions.
    pub id: String,
    /// The star ratings (1..=5) after which it is shown.
    pub shown_for: Vec<u8>,
    /// The question text (a fieldset legend).
    pub question: String,
    /// The allowed answers.
    pub options: Vec<AnswerOption>,
}

/// One answer of a follow-up question.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AnswerOption {
    /// Stable id sent in `answers`.
    pub id: String,
    /// Text shown to the citizen.
    pub label: String,
}

impl FollowUp {
    /// Whether the question is shown after `stars`.
    pub fn is_shown_for(&self, stars: u8) -> bool {
        self.shown_for.contains(&stars)
    }

    /// Whether `option_id` is one of its answers.
    pub fn has_option(&self, option_id: &str) -> bool {
        self.options.iter().any(|option| option.id == option_id)
    }
}

/// Official option ids of the negative follow-up, in display order.
pub const NEGATIVE_OPTION_IDS: [&str; 5] = [
    "unclear",
    "incomplete",
    "unsure_progress",
    "technical_problems",
    "other",
];

/// Official option ids of the positive follow-up, in display order.
pub const POSITIVE_OPTION_IDS: [&str; 5] = [
    "clear",
    "complete",
    "sure_progress",
    "no_technical_problems",
    "other",
];

struct Texts {
    page_title: &'static str,
    service_title: &'static str,
    page_legend: &'static str,
    service_legend: &'static str,
    star_label: fn(u8) -> String,
    negative_question: &'static str,
    negative_options: [&'static str; 5],
    positive_question: &'static str,
    positive_options: [&'static str; 5],
    details_question: &'static str,
    details_label: &'static str,
    back: &'static str,
    next: &'static str,
    thanks: &'static str,
}

const IT: Texts = Texts {
    page_title: "Quanto sono chiare le informazioni su questa pagina?",
    service_title: "Quanto è stato facile usare questo servizio?",
    page_legend: "Valuta da 1 a 5 stelle la pagina",
    service_legend: "Valuta da 1 a 5 stelle il servizio",
    star_label: |n| format!("Valuta {n} stelle su 5"),
    negative_question: "Dove hai incontrato le maggiori difficoltà?",
    negative_options: [
        "A volte le indicazioni non erano chiare",
        "A volte le indicazioni non erano complete",
        "A volte non capivo se stavo procedendo correttamente",
        "Ho avuto problemi tecnici",
        "Altro",
    ],
    positive_question: "Quali sono stati gli aspetti che hai preferito?",
    positive_options: [
        "Le indicazioni erano chiare",
        "Le indicazioni erano complete",
        "Capivo sempre che stavo procedendo correttamente",
        "Non ho avuto problemi tecnici",
        "Altro",
    ],
    details_question: "Vuoi aggiungere altri dettagli?",
    details_label: "Dettaglio",
    back: "Indietro",
    next: "Avanti",
    thanks: "Grazie, il tuo parere ci aiuterà a migliorare il servizio!",
};

const EN: Texts = Texts {
    page_title: "How clear is the information on this page?",
    service_title: "How easy was it to use this service?",
    page_legend: "Rate the page from 1 to 5 stars",
    service_legend: "Rate the service from 1 to 5 stars",
    star_label: |n| format!("Rate {n} stars out of 5"),
    negative_question: "Where did you have the most difficulty?",
    negative_options: [
        "Sometimes the instructions were not clear",
        "Sometimes the instructions were not complete",
        "Sometimes I could not tell whether I was proceeding correctly",
        "I had technical problems",
        "Other",
    ],
    positive_question: "What did you like best?",
    positive_options: [
        "The instructions were clear",
        "The instructions were complete",
        "I always knew I was proceeding correctly",
        "I had no technical problems",
        "Other",
    ],
    details_question: "Would you like to add more details?",
    details_label: "Details",
    back: "Back",
    next: "Next",
    thanks: "Thank you, your feedback will help us improve the service!",
};

const DE: Texts = Texts {
    page_title: "Wie verständlich sind die Informationen auf dieser Seite?",
    service_title: "Wie einfach war die Nutzung dieses Dienstes?",
    page_legend: "Bewerten Sie die Seite mit 1 bis 5 Sternen",
    service_legend: "Bewerten Sie den Dienst mit 1 bis 5 Sternen",
    star_label: |n| format!("{n} von 5 Sternen vergeben"),
    negative_question: "Wo hatten Sie die größten Schwierigkeiten?",
    negative_options: [
        "Die Angaben waren manchmal nicht klar",
        "Die Angaben waren manchmal nicht vollständig",
        "Manchmal wusste ich nicht, ob ich richtig vorgehe",
        "Ich hatte technische Probleme",
        "Sonstiges",
    ],
    positive_question: "Was hat Ihnen am besten gefallen?",
    positive_options: [
        "Die Angaben waren klar",
        "Die Angaben waren vollständig",
        "Ich wusste immer, dass ich richtig vorgehe",
        "Ich hatte keine technischen Probleme",
        "Sonstiges",
    ],
    details_question: "Möchten Sie weitere Details hinzufügen?",
    details_label: "Details",
    back: "Zurück",
    next: "Weiter",
    thanks: "Danke, Ihre Meinung hilft uns, den Dienst zu verbessern!",
};

fn texts(lang: Lang) -> &'static Texts {
    match lang {
        Lang::It => &IT,
        Lang::En => &EN,
        Lang::De => &DE,
    }
}

fn official_follow_up(
    id: &str,
    shown_for: &[u8],
    question: &str,
    ids: [&str; 5],
    labels: [&str; 5],
) -> FollowUp {
    FollowUp {
        id: id.to_owned(),
        shown_for: shown_for.to_vec(),
        question: question.to_owned(),
        options: ids
            .iter()
            .zip(labels)
            .map(|(id, label)| AnswerOption {
                id: (*id).to_owned(),
                label: label.to_owned(),
            })
            .collect(),
    }
}

impl Survey {
    /// The survey of a kind; `custom` supplies the wording of a "Personalizzato" entrypoint.
    ///
    /// A custom entrypoint without wording falls back to the page question, so a half
    /// configured entrypoint still renders a conforming widget.
    pub fn for_kind(kind: EntrypointKind, custom: Option<&CustomSurvey>, lang: Lang) -> Survey {
        let t = texts(lang);
        let is_service = kind == EntrypointKind::ValutazioneServizio;
        let official_follow_ups = || {
            vec![
                official_follow_up(
                    "negative",
                    &[1, 2, 3],
                    t.negative_question,
                    NEGATIVE_OPTION_IDS,
                    t.negative_options,
                ),
                official_follow_up(
                    "positive",
                    &[4, 5],
                    t.positive_question,
                    POSITIVE_OPTION_IDS,
                    t.positive_options,
                ),
            ]
        };
        let (title, follow_ups) = match (kind, custom) {
            (EntrypointKind::Personalizzato, Some(custom)) => (
                custom.question.clone(),
                custom
                    .follow_ups
                    .iter()
                    .enumerate()
                    .map(|(q, question)| FollowUp {
                        id: format!("q{}", q + 1),
                        shown_for: vec![1, 2, 3, 4, 5],
                        question: question.question.clone(),
                        options: question
                            .options
                            .iter()
                            .enumerate()
                            .map(|(o, label)| AnswerOption {
                                id: format!("q{}o{}", q + 1, o + 1),
                                label: label.clone(),
                            })
                            .collect(),
                    })
                    .collect(),
            ),
            _ if is_service => (t.service_title.to_owned(), official_follow_ups()),
            _ => (t.page_title.to_owned(), official_follow_ups()),
        };
        Survey {
            kind,
            lang,
            title,
            stars_legend: if is_service {
                t.service_legend
            } else {
                t.page_legend
            }
            .to_owned(),
            star_labels: (1..=5).map(t.star_label).collect(),
            follow_ups,
            details_question: t.details_question.to_owned(),
            details_label: t.details_label.to_owned(),
            details_max_chars: COMMENT_MAX_CHARS,
            back: t.back.to_owned(),
            next: t.next.to_owned(),
            thanks: t.thanks.to_owned(),
        }
    }

    /// How many questions follow the stars (closed questions plus the free-text step).
    pub fn additional_questions(&self) -> usize {
        let distinct_steps = if self.kind == EntrypointKind::Personalizzato {
            self.follow_ups.len()
        } else {
            // The negative and positive questions are alternatives: a citizen sees one.
            1
        };
        distinct_steps + 1
    }

    /// Every answer as reports name it: its key ([`answer_key`]) and its label, in the
    /// order of the questions. An option that more than one question offers (the official
    /// "Altro") says which question it answers.
    pub fn answers(&self) -> Vec<(String, String)> {
        let mut answers = Vec::new();
        for follow_up in &self.follow_ups {
            let stars = follow_up.shown_for.iter().copied().max().unwrap_or(1);
            for option in &follow_up.options {
                let shared = self
                    .follow_ups
                    .iter()
                    .filter(|f| f.has_option(&option.id))
                    .count()
                    > 1;
                let label = if shared {
                    format!("{} ({})", option.label, follow_up.question)
                } else {
                    option.label.clone()
                };
                answers.push((answer_key(stars, &option.id).to_owned(), label));
            }
        }
        answers
    }

    /// The label of the answer reports name `key` ([`Survey::answers`]).
    pub fn answer_label(&self, key: &str) -> Option<String> {
        self.answers()
            .into_iter()
            .find(|(k, _)| k == key)
            .map(|(_, label)| label)
    }
}

/// How rollups, reports and filters name the positive question's "Other".
pub const OTHER_POSITIVE: &str = "other_positive";

/// The official questions' shared option id.
const OTHER: &str = "other";

/// Ratings of this many stars or fewer get the negative question.
const NEGATIVE_MAX_STARS: u8 = 3;

/// How rollups, reports and filters name an answer chosen after `stars` stars: its option
/// id, except the official questions' shared `other`, which is [`OTHER_POSITIVE`] after 4
/// or 5 stars, so that "Other" where things went wrong and "Other" where they went well
/// are counted apart.
pub fn answer_key(stars: u8, option: &str) -> &str {
    if option == OTHER && stars > NEGATIVE_MAX_STARS {
        OTHER_POSITIVE
    } else {
        option
    }
}

/// The option a filter's answer key ([`answer_key`]) looks for, and the stars it was
/// chosen with when the key says (`Some(true)`: 4 or 5, `Some(false)`: 1 to 3).
pub fn answer_of_key(key: &str) -> (&str, Option<bool>) {
    match key {
        OTHER_POSITIVE => (OTHER, Some(true)),
        OTHER => (OTHER, Some(false)),
        _ => (key, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entrypoint::CustomQuestion;

    #[test]
    fn official_italian_texts_are_exact() {
        let survey = Survey::for_kind(EntrypointKind::PaginaWeb, None, Lang::It);
        assert_eq!(
            survey.title,
            "Quanto sono chiare le informazioni su questa pagina?"
        );
        assert_eq!(survey.stars_legend, "Valuta da 1 a 5 stelle la pagina");
        assert_eq!(survey.star_labels[2], "Valuta 3 stelle su 5");
        assert_eq!(
            survey.follow_ups[0].question,
            "Dove hai incontrato le maggiori difficoltà?"
        );
        assert_eq!(survey.follow_ups[0].shown_for, vec![1, 2, 3]);
        assert_eq!(
            survey.follow_ups[1].options[2].label,
            "Capivo sempre che stavo procedendo correttamente"
        );
        let service = Survey::for_kind(EntrypointKind::ValutazioneServizio, None, Lang::It);
        assert_eq!(
            service.title,
            "Quanto è stato facile usare questo servizio?"
        );
        assert_eq!(survey.additional_questions(), 2);
    }

    #[test]
    fn no_text_contains_line_breaks_or_nbsp() {
        for lang in Lang::ALL {
            for kind in EntrypointKind::ALL {
                let s = Survey::for_kind(kind, None, lang);
                let mut all = vec![s.title, s.stars_legend, s.details_question, s.thanks];
                all.extend(s.star_labels);
                for f in s.follow_ups {
                    all.push(f.question);
                    all.extend(f.options.into_iter().map(|o| o.label));
                }
                for text in all {
                    assert!(!text.contains(['\n', '\u{a0}']), "{text:?}");
                }
            }
        }
    }

    #[test]
    fn custom_questions_get_positional_ids() {
        let custom = CustomSurvey {
            question: "Come valuti lo sportello?".into(),
            follow_ups: vec![CustomQuestion {
                question: "Tempi di attesa?".into(),
                options: vec!["Brevi".into(), "Lunghi".into()],
            }],
        };
        let survey = Survey::for_kind(EntrypointKind::Personalizzato, Some(&custom), Lang::De);
        assert_eq!(survey.title, "Come valuti lo sportello?");
        assert_eq!(survey.follow_ups[0].id, "q1");
        assert_eq!(survey.follow_ups[0].options[1].id, "q1o2");
        assert!(survey.follow_ups[0].is_shown_for(5));
        assert_eq!(survey.additional_questions(), 2);
        assert_eq!(survey.answer_label("q1o1").as_deref(), Some("Brevi"));
    }

    #[test]
    fn the_two_official_others_are_told_apart() {
        assert_eq!(answer_key(2, "other"), "other");
        assert_eq!(answer_key(4, "other"), OTHER_POSITIVE);
        assert_eq!(answer_key(5, "unclear"), "unclear");
        assert_eq!(answer_of_key(OTHER_POSITIVE), ("other", Some(true)));
        assert_eq!(answer_of_key("other"), ("other", Some(false)));
        assert_eq!(answer_of_key("q1o2"), ("q1o2", None));
        let survey = Survey::for_kind(EntrypointKind::PaginaWeb, None, Lang::It);
        assert_eq!(
            survey.answer_label("other").as_deref(),
            Some("Altro (Dove hai incontrato le maggiori difficoltà?)")
        );
        assert_eq!(
            survey.answer_label(OTHER_POSITIVE).as_deref(),
            Some("Altro (Quali sono stati gli aspetti che hai preferito?)")
        );
        assert_eq!(
            survey.answer_label("clear").as_deref(),
            Some("Le indicazioni erano chiare")
        );
        assert_eq!(survey.answers().len(), 10);
    }
}
