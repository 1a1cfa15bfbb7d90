//! The service KPIs as a reader sees them: each figure's name, unit and definition in
//! Italian, English and German (the definitions of docs/KPIS.md in plain words), numbers
//! written the local way, and variations as arrows with words.

use satisfy_aggregator::kpi::Figure;
use satisfy_core::Lang;

use crate::i18n::{lang_index, words_for};

/// How a figure's value is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A whole number.
    Count,
    /// Days with 1 decimal ("3,5 gg").
    Days,
    /// Hours with 1 decimal.
    Hours,
    /// Minutes ("30 min").
    Minutes,
    /// A fraction shown as a percentage.
    Share,
    /// Average stars with 2 decimals.
    Stars,
}

/// A figure's texts in one language.
pub struct FigureText {
    /// The figure's name in the API.
    pub name: &'static str,
    /// How its value is written.
    pub unit: Unit,
    /// Its label on a card.
    pub label: &'static str,
    /// How it is computed.
    pub definition: &'static str,
}

type Entry = (&'static str, Unit, [(&'static str, &'static str); 3]);

/// Every figure: name, unit, then (label, definition) in it, en, de.
const FIGURES: &[Entry] = &[
    (
        "bookings",
        Unit::Count,
        [
            (
                "Prenotazioni",
                "Appuntamenti prenotati nel periodo (prima prenotazione).",
            ),
            (
                "Bookings",
                "Appointments booked in the period (first booking).",
            ),
            ("Buchungen", "Im Zeitraum gebuchte Termine (erste Buchung)."),
        ],
    ),
    (
        "first_availability_days",
        Unit::Days,
        [
            (
                "1ª disponibilità",
                "Media, sulle prenotazioni del periodo, dei giorni tra la prenotazione e il primo posto libero offerto.",
            ),
            (
                "First availability",
                "Mean, over the period's bookings, of the days between booking and the first free slot offered.",
            ),
            (
                "Erste Verfügbarkeit",
                "Mittel der Tage zwischen Buchung und erstem angebotenen freien Termin, über die Buchungen des Zeitraums.",
            ),
        ],
    ),
    (
        "slots",
        Unit::Count,
        [
            (
                "Numero slot",
                "Posti offerti dai calendari con inizio nel periodo.",
            ),
            (
                "Slots",
                "Slots offered by the calendars starting in the period.",
            ),
            (
                "Termine",
                "Von den Kalendern angebotene Termine, die im Zeitraum beginnen.",
            ),
        ],
    ),
    (
        "capacity_hours",
        Unit::Hours,
        [
            (
                "Capacità",
                "Ore offerte: la durata totale dei posti del periodo.",
            ),
            (
                "Capacity",
                "Hours offered: the total length of the period's slots.",
            ),
            (
                "Kapazität",
                "Angebotene Stunden: die Gesamtdauer der Termine des Zeitraums.",
            ),
        ],
    ),
    (
        "average_slot_minutes",
        Unit::Minutes,
        [
            (
                "Durata media slot",
                "Minuti offerti diviso il numero di posti.",
            ),
            (
                "Average slot length",
                "Minutes offered divided by the number of slots.",
            ),
            (
                "Mittlere Termindauer",
                "Angebotene Minuten geteilt durch die Zahl der Termine.",
            ),
        ],
    ),
    (
        "saturation",
        Unit::Share,
        [
            (
                "Saturazione",
                "Minuti degli appuntamenti del periodo non annullati, diviso i minuti offerti (oltre il 100% se in sovraprenotazione).",
            ),
            (
                "Saturation",
                "Minutes of the period's appointments not cancelled, divided by the minutes offered (above 100% when overbooked).",
            ),
            (
                "Auslastung",
                "Minuten der nicht abgesagten Termine des Zeitraums geteilt durch die angebotenen Minuten (über 100 % bei Überbuchung).",
            ),
        ],
    ),
    (
        "cancelled_share",
        Unit::Share,
        [
            (
                "Cancellati",
                "Quota delle prenotazioni del periodo oggi annullate.",
            ),
            ("Cancelled", "Share of the period's bookings cancelled now."),
            (
                "Abgesagt",
                "Anteil der Buchungen des Zeitraums, die heute abgesagt sind.",
            ),
        ],
    ),
    (
        "rescheduled_share",
        Unit::Share,
        [
            (
                "Riprogrammati",
                "Quota delle prenotazioni del periodo spostate almeno una volta.",
            ),
            (
                "Rescheduled",
                "Share of the period's bookings moved at least once.",
            ),
            (
                "Verschoben",
                "Anteil der Buchungen des Zeitraums, die mindestens einmal verschoben wurden.",
            ),
        ],
    ),
    (
        "no_show_share",
        Unit::Share,
        [
            (
                "Assenze",
                "Tra gli appuntamenti del periodo conclusi, la quota di cittadini non presentati.",
            ),
            (
                "No-shows",
                "Among the period's concluded appointments, the share whose citizen did not come.",
            ),
            (
                "Nichterscheinen",
                "Unter den abgeschlossenen Terminen des Zeitraums der Anteil ohne Erscheinen.",
            ),
        ],
    ),
    (
        "submitted",
        Unit::Count,
        [
            (
                "Pratiche inviate",
                "Pratiche inviate per la prima volta nel periodo.",
            ),
            (
                "Applications submitted",
                "Applications first submitted in the period.",
            ),
            (
                "Eingereichte Anträge",
                "Im Zeitraum erstmals eingereichte Anträge.",
            ),
        ],
    ),
    (
        "take_charge_hours_median",
        Unit::Hours,
        [
            (
                "Presa in carico (mediana)",
                "Ore dall'invio alla presa in carico, per le pratiche prese in carico nel periodo: valore mediano.",
            ),
            (
                "Taken in charge (median)",
                "Hours from submission to being taken in charge, for applications taken in charge in the period: median.",
            ),
            (
                "Übernahme (Median)",
                "Stunden von der Einreichung bis zur Übernahme, für im Zeitraum übernommene Anträge: Median.",
            ),
        ],
    ),
    (
        "take_charge_hours_p90",
        Unit::Hours,
        [
            (
                "Presa in carico (90%)",
                "Come sopra: il valore entro cui rientra il 90% delle pratiche.",
            ),
            (
                "Taken in charge (90%)",
                "As above: the value 90% of applications stay within.",
            ),
            (
                "Übernahme (90 %)",
                "Wie oben: der Wert, den 90 % der Anträge nicht überschreiten.",
            ),
        ],
    ),
    (
        "outcome_days_median",
        Unit::Days,
        [
            (
                "Esito (mediana)",
                "Giorni dall'invio all'esito, escluse le sospensioni in attesa di integrazione, per gli esiti del periodo: mediana.",
            ),
            (
                "Outcome (median)",
                "Days from submission to outcome, suspensions awaiting an integration excluded, for the period's outcomes: median.",
            ),
            (
                "Entscheidung (Median)",
                "Tage von der Einreichung bis zur Entscheidung ohne Aussetzungen für Nachreichungen, für die Entscheidungen des Zeitraums: Median.",
            ),
        ],
    ),
    (
        "outcome_days_p90",
        Unit::Days,
        [
            (
                "Esito (90%)",
                "Come sopra: il valore entro cui rientra il 90% degli esiti.",
            ),
            (
                "Outcome (90%)",
                "As above: the value 90% of outcomes stay within.",
            ),
            (
                "Entscheidung (90 %)",
                "Wie oben: der Wert, den 90 % der Entscheidungen nicht überschreiten.",
            ),
        ],
    ),
    (
        "acceptance_rate",
        Unit::Share,
        [
            (
                "Accolte",
                "Pratiche accolte sul totale degli esiti (accolte e respinte) del periodo.",
            ),
            (
                "Accepted",
                "Applications accepted out of the period's outcomes (accepted and refused).",
            ),
            (
                "Bewilligt",
                "Bewilligte Anträge an allen Entscheidungen (bewilligt und abgelehnt) des Zeitraums.",
            ),
        ],
    ),
    (
        "within_deadline_share",
        Unit::Share,
        [
            (
                "Entro i termini",
                "Tra gli esiti del periodo con un termine di legge, la quota decisa entro il termine (al netto delle sospensioni).",
            ),
            (
                "Within the legal deadline",
                "Among the period's outcomes with a legal deadline, the share decided within it (suspensions excluded).",
            ),
            (
                "Fristgerecht",
                "Unter den Entscheidungen des Zeitraums mit gesetzlicher Frist der fristgerecht entschiedene Anteil (ohne Aussetzungen).",
            ),
        ],
    ),
    (
        "count",
        Unit::Count,
        [
            (
                "Valutazioni",
                "Valutazioni ricevute nel periodo dalle pagine che valutano il servizio.",
            ),
            (
                "Ratings",
                "Ratings received in the period on the pages rating the service.",
            ),
            (
                "Bewertungen",
                "Im Zeitraum erhaltene Bewertungen der Seiten, die den Dienst bewerten.",
            ),
        ],
    ),
    (
        "average",
        Unit::Stars,
        [
            (
                "Soddisfazione media",
                "Media delle stelle (1–5) delle valutazioni del periodo.",
            ),
            (
                "Average satisfaction",
                "Mean stars (1–5) of the period's ratings.",
            ),
            (
                "Mittlere Zufriedenheit",
                "Mittlere Sterne (1–5) der Bewertungen des Zeitraums.",
            ),
        ],
    ),
];

/// The texts of figure `name` (`None` for a name no card shows).
pub fn figure_text(lang: Lang, name: &str) -> Option<FigureText> {
    let (name, unit, texts) = FIGURES.iter().find(|(n, _, _)| *n == name)?;
    let (label, definition) = texts[lang_index(lang)];
    Some(FigureText {
        name,
        unit: *unit,
        label,
        definition,
    })
}

/// An application state's name.
pub fn state_label(lang: Lang, code: &str) -> &'static str {
    const STATES: &[(&str, [&str; 3])] = &[
        ("bozza", ["Bozza", "Draft", "Entwurf"]),
        (
            "in_attesa_pagamento",
            [
                "In attesa di pagamento",
                "Awaiting payment",
                "Zahlung ausstehend",
            ],
        ),
        ("inviata", ["Inviata", "Submitted", "Eingereicht"]),
        ("acquisita", ["Acquisita", "Received", "Eingegangen"]),
        (
            "protocollata",
            ["Protocollata", "Registered", "Protokolliert"],
        ),
        (
            "presa_in_carico",
            ["Presa in carico", "Taken in charge", "In Bearbeitung"],
        ),
        (
            "richiesta_integrazione",
            [
                "In attesa di integrazione",
                "Awaiting integration",
                "Nachreichung angefordert",
            ],
        ),
        (
            "integrazione_ricevuta",
            [
                "Integrazione ricevuta",
                "Integration received",
                "Nachreichung erhalten",
            ],
        ),
        ("accettata", ["Accolta", "Accepted", "Bewilligt"]),
        ("rifiutata", ["Respinta", "Refused", "Abgelehnt"]),
        ("ritirata", ["Ritirata", "Withdrawn", "Zurückgezogen"]),
        ("completata", ["Completata", "Completed", "Abgeschlossen"]),
    ];
    words_for(STATES, lang, code).unwrap_or("?")
}

/// A number with `decimals` decimals, with the decimal comma in Italian and German.
pub fn number(lang: Lang, value: f64, decimals: usize) -> String {
    let text = format!("{value:.decimals$}");
    match lang {
        Lang::En => text,
        Lang::It | Lang::De => text.replace('.', ","),
    }
}

/// The per cent sign as each language writes it after a number: German sets it apart
/// (a space that does not break), as the console's German texts do ("95 %").
pub fn percent(lang: Lang) -> &'static str {
    match lang {
        Lang::De => "\u{a0}%",
        Lang::It | Lang::En => "%",
    }
}

/// A value in its unit; "–" without a value.
pub fn value(lang: Lang, unit: Unit, value: Option<f64>) -> String {
    let Some(v) = value else {
        return "–".into();
    };
    match unit {
        Unit::Count => number(lang, v, 0),
        Unit::Days => {
            let days = match lang {
                Lang::It => "gg",
                Lang::En => "days",
                Lang::De => "Tage",
            };
            format!("{} {days}", number(lang, v, 1))
        }
        Unit::Hours => format!("{} h", number(lang, v, 1)),
        Unit::Minutes => format!("{} min", number(lang, v, 0)),
        Unit::Share => format!("{}{}", number(lang, v * 100.0, 1), percent(lang)),
        Unit::Stars => number(lang, v, 2),
    }
}

/// A variation as an arrow and words, e.g. "▲ +5% rispetto al periodo precedente"; `None`
/// when there is no base to compare with.
pub fn variation(lang: Lang, unit: Unit, figure: &Figure, against_average: bool) -> Option<String> {
    let (delta, pct) = if against_average {
        (figure.delta_average?, figure.delta_average_pct)
    } else {
        (figure.delta_previous?, figure.delta_previous_pct)
    };
    let arrow = if delta > 0.0 {
        "▲"
    } else if delta < 0.0 {
        "▼"
    } else {
        "="
    };
    let amount = match (unit, pct) {
        (Unit::Share, Some(points)) => {
            let points_word = match lang {
                Lang::It => "punti",
                Lang::En => "points",
                Lang::De => "Punkte",
            };
            format!("{} {points_word}", signed(lang, points, 1))
        }
        (_, Some(relative)) => format!("{}{}", signed(lang, relative * 100.0, 0), percent(lang)),
        (_, None) => signed(lang, delta, 1),
    };
    let words = match (lang, against_average) {
        (Lang::It, false) => "rispetto al periodo precedente",
        (Lang::It, true) => "rispetto alla media dei 12 periodi precedenti",
        (Lang::En, false) => "against the previous period",
        (Lang::En, true) => "against the mean of the 12 previous periods",
        (Lang::De, false) => "gegenüber dem vorigen Zeitraum",
        (Lang::De, true) => "gegenüber dem Mittel der 12 vorigen Zeiträume",
    };
    Some(format!("{arrow} {amount} {words}"))
}

fn signed(lang: Lang, value: f64, decimals: usize) -> String {
    let sign = if value > 0.0 { "+" } else { "" };
    format!("{sign}{}", number(lang, value, decimals))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_and_variations_read_naturally_in_each_language() {
        assert_eq!(value(Lang::It, Unit::Days, Some(3.5)), "3,5 gg");
        assert_eq!(value(Lang::En, Unit::Share, Some(0.5)), "50.0%");
        assert_eq!(value(Lang::De, Unit::Minutes, Some(30.0)), "30 min");
        assert_eq!(value(Lang::De, Unit::Share, Some(0.588)), "58,8\u{a0}%");
        assert_eq!(value(Lang::De, Unit::Days, Some(4.1)), "4,1 Tage");
        assert_eq!(value(Lang::It, Unit::Count, None), "–");
        let figure = Figure {
            value: Some(336.0),
            delta_previous: Some(16.0),
            delta_previous_pct: Some(0.05),
            delta_average: Some(-10.0),
            delta_average_pct: Some(-0.0289),
        };
        assert_eq!(
            variation(Lang::It, Unit::Count, &figure, false).as_deref(),
            Some("▲ +5% rispetto al periodo precedente")
        );
        assert_eq!(
            variation(Lang::En, Unit::Count, &figure, true).as_deref(),
            Some("▼ -3% against the mean of the 12 previous periods")
        );
        let share = Figure {
            value: Some(0.5),
            delta_previous: Some(0.05),
            delta_previous_pct: Some(5.0),
            ..Figure::default()
        };
        assert_eq!(
            variation(Lang::De, Unit::Share, &share, false).as_deref(),
            Some("▲ +5,0 Punkte gegenüber dem vorigen Zeitraum")
        );
        assert_eq!(variation(Lang::It, Unit::Share, &share, true), None);
        for name in [
            "bookings",
            "saturation",
            "submitted",
            "within_deadline_share",
            "average",
        ] {
            for lang in Lang::ALL {
                assert!(figure_text(lang, name).is_some(), "{name}");
            }
        }
        assert_eq!(
            state_label(Lang::It, "richiesta_integrazione"),
            "In attesa di integrazione"
        );
    }
}
