//! Personal data in citizens' comments, replaced by placeholders before anything is stored
//! or sent to the event log.
//!
//! A comment asks how clear a page was; a citizen who writes an e-mail address, a phone
//! number, a codice fiscale, an IBAN or a card number into it did not mean to hand them to
//! the comune's analytics. Each kind is matched by its written shape and, where the format
//! carries one, its checksum (IBAN mod 97, card Luhn), so an ordinary number in a sentence
//! (a date, a protocol number, an amount) is left alone.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::{Captures, Regex};

/// Replaces e-mail addresses.
pub const EMAIL: &str = "[email]";
/// Replaces phone numbers.
pub const PHONE: &str = "[telefono]";
/// Replaces codici fiscali.
pub const TAX_CODE: &str = "[codice fiscale]";
/// Replaces IBANs.
pub const IBAN: &str = "[iban]";
/// Replaces payment card numbers.
pub const CARD: &str = "[carta]";

static EMAIL_PATTERN: LazyLock<Regex> = LazyLock::new(|| {
    compiled(r"(?i)[a-z0-9](?:[a-z0-9._%+-]*[a-z0-9_%+-])?@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}")
});

/// Two letters, two check digits, then 11 to 30 letters or digits, grouped any way by
/// single spaces or dashes (by fours on statements, CIN ABI CAB account in Italy). A match
/// may run into the words after it: [`iban_prefix`] finds the IBAN in it.
static IBAN_PATTERN: LazyLock<Regex> =
    LazyLock::new(|| compiled(r"(?i)\b[a-z]{2}[0-9]{2}(?:[ -]?[a-z0-9]){11,30}\b"));

/// 13 to 19 digits, optionally grouped by single spaces or dashes.
static CARD_PATTERN: LazyLock<Regex> =
    LazyLock::new(|| compiled(r"\b[0-9](?:[ -]?[0-9]){12,18}\b"));

/// Six letters of name, two digits of year, a month letter, two digits of day, a place
/// code, a check letter; digits may be replaced by the letters LMNPQRSTUV (omocodia).
static TAX_CODE_PATTERN: LazyLock<Regex> = LazyLock::new(|| {
    compiled(
        r"(?i)\b[a-z]{6}[0-9lmnpqrstuv]{2}[abcdehlmprst][0-9lmnpqrstuv]{2}[a-z][0-9lmnpqrstuv]{3}[a-z]\b",
    )
});

/// An international prefix (`+39`, `0039`) and a separator, or an Italian number
/// starting as landlines (0) or mobiles (3) do, then groups of digits separated by spaces,
/// dots or dashes, a slash only after the first (`06/1234567`); the digit count is
/// checked apart.
static PHONE_PATTERN: LazyLock<Regex> = LazyLock::new(|| {
    compiled(
        r"(?:(?:\+|\b00)[1-9][0-9]{0,2}[ .-]\(?[0-9]+\)?(?:[ .-]?[0-9]+)+|\+[1-9][0-9]{7,14}|\(?\b[03][0-9]*\)?(?:/[0-9]+(?:[ .-]?[0-9]+)*|(?:[ .-]?[0-9]+)+))\b",
    )
});

fn compiled(pattern: &str) -> Regex {
    match Regex::new(pattern) {
        Ok(regex) => regex,
        // The patterns are constants checked by the tests below.
        Err(error) => panic!("invalid redaction pattern {pattern}: {error}"),
    }
}

/// `text` with every e-mail address, IBAN, card number, codice fiscale and phone number
/// replaced by its placeholder; borrowed when there was nothing to replace.
pub fn redact(text: &str) -> Cow<'_, str> {
    let mut text = Cow::Borrowed(text);
    replace(&mut text, &EMAIL_PATTERN, |_| Some(EMAIL.to_owned()));
    replace(&mut text, &IBAN_PATTERN, |m| {
        iban_prefix(m).map(|rest| format!("{IBAN}{rest}"))
    });
    replace(&mut text, &CARD_PATTERN, |m| {
        valid_card(m).then(|| CARD.to_owned())
    });
    replace(&mut text, &TAX_CODE_PATTERN, |_| Some(TAX_CODE.to_owned()));
    replace(&mut text, &PHONE_PATTERN, |m| {
        phone(m).then(|| PHONE.to_owned())
    });
    text
}

/// Replaces the matches of `pattern` in `text` that `placeholder` accepts.
fn replace(text: &mut Cow<'_, str>, pattern: &Regex, placeholder: impl Fn(&str) -> Option<String>) {
    let mut changed = false;
    let replaced = pattern.replace_all(text, |captures: &Captures<'_>| {
        let found = &captures[0];
        match placeholder(found) {
            Some(placeholder) => {
                changed = true;
                placeholder
            }
            None => found.to_owned(),
        }
    });
    if changed {
        *text = Cow::Owned(replaced.into_owned());
    }
}

/// The rest of `candidate` after the longest IBAN it starts with, cut at a separator
/// (the match may have run into the next words), or `None`.
fn iban_prefix(candidate: &str) -> Option<&str> {
    let mut end = candidate.len();
    loop {
        if valid_iban(&candidate[..end]) {
            return Some(&candidate[end..]);
        }
        end = candidate[..end].rfind([' ', '-'])?;
    }
}

/// An IBAN whose check digits are right (ISO 13616: the rearranged number mod 97 is 1).
fn valid_iban(candidate: &str) -> bool {
    let compact: Vec<u8> = candidate
        .bytes()
        .filter(|b| *b != b' ' && *b != b'-')
        .map(|b| b.to_ascii_uppercase())
        .collect();
    if !(15..=34).contains(&compact.len()) {
        return false;
    }
    let (head, tail) = compact.split_at(4);
    let mut remainder = 0u32;
    for byte in tail.iter().chain(head) {
        let value = match byte {
            b'0'..=b'9' => u32::from(byte - b'0'),
            b'A'..=b'Z' => u32::from(byte - b'A') + 10,
            _ => return false,
        };
        let shift = if value >= 10 { 100 } else { 10 };
        remainder = (remainder * shift + value) % 97;
    }
    remainder == 1
}

/// A card number passing the Luhn check.
fn valid_card(candidate: &str) -> bool {
    let digits: Vec<u32> = candidate.chars().filter_map(|c| c.to_digit(10)).collect();
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(position, &digit)| match position % 2 {
            0 => digit,
            _ if digit * 2 > 9 => digit * 2 - 9,
            _ => digit * 2,
        })
        .sum();
    (13..=19).contains(&digits.len()) && sum.is_multiple_of(10)
}

/// A phone number: 9 to 13 digits in all, or 8 to 15 after an international prefix
/// (dates such as 12/03/2024 have 8 and no prefix).
fn phone(candidate: &str) -> bool {
    // A number ending in a slash and a year is a protocol number (`0012345/2024`).
    let year = candidate
        .rsplit_once('/')
        .is_some_and(|(_, y)| y.len() == 4 && (y.starts_with("19") || y.starts_with("20")));
    if year {
        return false;
    }
    let digits = candidate.chars().filter(char::is_ascii_digit).count();
    let international = candidate.starts_with('+') || candidate.starts_with("00");
    if international {
        (8..=15).contains(&digits)
    } else {
        (9..=13).contains(&digits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redacted(text: &str) -> String {
        redact(text).into_owned()
    }

    #[test]
    fn email_addresses() {
        assert_eq!(
            redacted("scrivetemi a mario.rossi@comune.roma.it grazie"),
            "scrivetemi a [email] grazie"
        );
        assert_eq!(redacted("PEC: Studio-Bianchi+x@pec.it."), "PEC: [email].");
        assert_eq!(
            redacted("la chiocciola @ da sola"),
            "la chiocciola @ da sola"
        );
    }

    #[test]
    fn italian_phone_numbers() {
        for phone in [
            "333 1234567",
            "3331234567",
            "333-123-4567",
            "+39 333 123 4567",
            "+39 06 1234 5678",
            "0039 02 12345678",
            "06/12345678",
            "06.1234.5678",
            "(06) 1234 5678",
            "0471 123456",
            "+39 (0)6 12345678",
        ] {
            assert_eq!(
                redacted(&format!("chiamatemi al {phone} dopo le 18")),
                "chiamatemi al [telefono] dopo le 18",
                "{phone}"
            );
        }
    }

    #[test]
    fn numbers_that_are_not_phones_stay() {
        for text in [
            "il 12/03/2024 alle 10:30",
            "pratica n. 2024/12345",
            "ho pagato 1.250,00 euro",
            "CAP 00184 Roma",
            "protocollo 12345678",
            "dal 2019 al 2024",
            "Prot. n. 0012345/2024",
            "il 03/12/2024 10:30",
        ] {
            assert_eq!(redacted(text), text);
        }
    }

    #[test]
    fn codici_fiscali() {
        assert_eq!(
            redacted("il mio CF è RSSMRA85T10A562S, sbagliato"),
            "il mio CF è [codice fiscale], sbagliato"
        );
        // Lower case, and omocodia (digits replaced by letters).
        assert_eq!(redacted("cf rssmra85t10a562s"), "cf [codice fiscale]");
        assert_eq!(redacted("RSSMRALRTMLA562V"), "[codice fiscale]");
        assert_eq!(redacted("AMMINISTRAZIONE"), "AMMINISTRAZIONE");
    }

    #[test]
    fn ibans_with_valid_check_digits() {
        assert_eq!(
            redacted("rimborso su IT60 X054 2811 1010 0000 0123 456 per favore"),
            "rimborso su [iban] per favore"
        );
        assert_eq!(redacted("IT60X0542811101000000123456"), "[iban]");
        assert_eq!(redacted("DE89370400440532013000"), "[iban]");
        // The Italian layout (CIN, ABI, CAB, account) and dashes.
        assert_eq!(
            redacted("IBAN IT60 X 05428 11101 000000123456 grazie"),
            "IBAN [iban] grazie"
        );
        assert_eq!(redacted("IT60-X054-2811-1010-0000-0123-456"), "[iban]");
        // A length multiple of four, then a short word.
        assert_eq!(redacted("BE68 5390 0754 7034 e grazie"), "[iban] e grazie");
        // A wrong check digit: not an IBAN, and too short for anything else.
        assert_eq!(
            redacted("IT61X0542811101000000123456"),
            "IT61X0542811101000000123456"
        );
    }

    #[test]
    fn card_numbers_passing_luhn() {
        assert_eq!(redacted("carta 4111 1111 1111 1111 ok"), "carta [carta] ok");
        assert_eq!(redacted("5500-0000-0000-0004"), "[carta]");
        assert_eq!(redacted("4111111111111111"), "[carta]");
        // Sixteen digits failing Luhn are no card.
        assert_eq!(redacted("4111111111111112"), "4111111111111112");
    }

    #[test]
    fn several_kinds_in_one_comment_and_nothing_to_do() {
        assert_eq!(
            redacted("Sono RSSMRA85T10A562S, mail a.b@c.it, tel. 347 765 4321"),
            "Sono [codice fiscale], mail [email], tel. [telefono]"
        );
        let plain = "Pagina chiara, ma il modulo non si apre.";
        assert!(matches!(redact(plain), Cow::Borrowed(_)));
    }
}
