//! The rating's wire JSON read in one pass, without building a tree of values.
//!
//! Every accepted rating is parsed twice on its way (by ingest, and by the reader of the
//! log it was written to: the intake log or Kafka), so the body is read straight into
//! [`WireRating`]: each known field kept as found, its text borrowed from the body where
//! it holds no escape. Unknown fields are read as [`Loose`] and dropped, not skipped
//! unread: a body is JSON exactly where a parsed tree would say so (numbers in range,
//! strings valid UTF-8 without lone surrogates, at most 128 levels deep). Validation
//! ([`RatingSubmission::parse`](crate::RatingSubmission::parse)) then names the field at
//! fault exactly as it would on a parsed tree: a field's JSON type is kept, not judged,
//! while reading.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

/// One field of a JSON object, kept as found.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Loose<'a> {
    /// Absent or `null`.
    #[default]
    Absent,
    /// A string.
    Text(Cow<'a, str>),
    /// A number: `Some` for an integer that fits `i64`, `None` for any other number.
    Number(Option<i64>),
    /// An array: `Some` when every item is a string.
    Texts(Option<Vec<Cow<'a, str>>>),
    /// A boolean or an object.
    Other,
}

impl<'a> Loose<'a> {
    /// The text, if this is a string.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Loose::Text(text) => Some(text),
            _ => None,
        }
    }
}

struct LooseVisitor;

impl<'de> Visitor<'de> for LooseVisitor {
    type Value = Loose<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Loose<'de>, E> {
        Ok(Loose::Text(Cow::Borrowed(text)))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Loose<'de>, E> {
        Ok(Loose::Text(Cow::Owned(text.to_owned())))
    }

    fn visit_string<E: de::Error>(self, text: String) -> Result<Loose<'de>, E> {
        Ok(Loose::Text(Cow::Owned(text)))
    }

    fn visit_i64<E: de::Error>(self, number: i64) -> Result<Loose<'de>, E> {
        Ok(Loose::Number(Some(number)))
    }

    fn visit_u64<E: de::Error>(self, number: u64) -> Result<Loose<'de>, E> {
        Ok(Loose::Number(i64::try_from(number).ok()))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Loose<'de>, E> {
        Ok(Loose::Number(None))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Loose<'de>, E> {
        Ok(Loose::Other)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Loose<'de>, E> {
        Ok(Loose::Absent)
    }

    fn visit_none<E: de::Error>(self) -> Result<Loose<'de>, E> {
        Ok(Loose::Absent)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<Loose<'de>, A::Error> {
        let mut texts = Some(Vec::new());
        while let Some(item) = items.next_element::<Loose<'de>>()? {
            match (item, texts.as_mut()) {
                (Loose::Text(text), Some(texts)) => texts.push(text),
                _ => texts = None,
            }
        }
        Ok(Loose::Texts(texts))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut entries: A) -> Result<Loose<'de>, A::Error> {
        while entries.next_entry::<Key<'de>, Loose<'de>>()?.is_some() {}
        Ok(Loose::Other)
    }
}

impl<'de> Deserialize<'de> for Loose<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(LooseVisitor)
    }
}

/// An object's key, unescaped: borrowed from the body where it holds no escape.
pub(crate) struct Key<'de>(pub(crate) Cow<'de, str>);

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_borrowed_str<E: de::Error>(self, key: &'de str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Borrowed(key)))
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(key.to_owned())))
    }
}

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// A JSON object read field by field, by [`ObjectOrNot`].
pub(crate) trait ObjectReader<'de>: Sized {
    /// Reads the object's entries.
    fn read<A: MapAccess<'de>>(entries: A) -> Result<Self, A::Error>;
}

/// A JSON value read as `T` if it is an object, or `None` (consumed) if it is any other
/// value: validation decides what a value of the wrong type means.
pub(crate) struct ObjectOrNot<T>(pub(crate) Option<T>);

impl<'de, T: ObjectReader<'de>> Deserialize<'de> for ObjectOrNot<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ObjectOrNotVisitor(PhantomData))
    }
}

struct ObjectOrNotVisitor<T>(PhantomData<T>);

impl<'de, T: ObjectReader<'de>> Visitor<'de> for ObjectOrNotVisitor<T> {
    type Value = ObjectOrNot<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, entries: A) -> Result<ObjectOrNot<T>, A::Error> {
        T::read(entries).map(|object| ObjectOrNot(Some(object)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<ObjectOrNot<T>, A::Error> {
        while items.next_element::<Loose<'de>>()?.is_some() {}
        Ok(ObjectOrNot(None))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<ObjectOrNot<T>, E> {
        Ok(ObjectOrNot(None))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<ObjectOrNot<T>, E> {
        Ok(ObjectOrNot(None))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<ObjectOrNot<T>, E> {
        Ok(ObjectOrNot(None))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<ObjectOrNot<T>, E> {
        Ok(ObjectOrNot(None))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<ObjectOrNot<T>, E> {
        Ok(ObjectOrNot(None))
    }

    fn visit_unit<E: de::Error>(self) -> Result<ObjectOrNot<T>, E> {
        Ok(ObjectOrNot(None))
    }

    fn visit_none<E: de::Error>(self) -> Result<ObjectOrNot<T>, E> {
        Ok(ObjectOrNot(None))
    }
}

/// A rating's wire JSON as read, before validation: each field as found. `object` is
/// false when the JSON was not an object at all.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WireRating<'a> {
    /// Whether the JSON was an object.
    pub object: bool,
    /// `id`.
    pub id: Loose<'a>,
    /// `entrypoint`.
    pub entrypoint: Loose<'a>,
    /// `page`.
    pub page: Loose<'a>,
    /// `rating`.
    pub rating: Loose<'a>,
    /// `answers`.
    pub answers: Loose<'a>,
    /// `comment`.
    pub comment: Loose<'a>,
    /// `lang`.
    pub lang: Loose<'a>,
    /// `widget`.
    pub widget: Loose<'a>,
}

impl<'a> WireRating<'a> {
    /// Reads a body; fails when it is not JSON (one value, nothing after it), wherever in
    /// it the fault is.
    pub fn from_slice(body: &'a [u8]) -> Result<WireRating<'a>, serde_json::Error> {
        serde_json::from_slice(body)
    }
}

impl<'de> ObjectReader<'de> for WireRating<'de> {
    fn read<A: MapAccess<'de>>(mut entries: A) -> Result<WireRating<'de>, A::Error> {
        let mut wire = WireRating {
            object: true,
            ..WireRating::default()
        };
        while let Some(Key(key)) = entries.next_key::<Key<'de>>()? {
            let slot = match key.as_ref() {
                "id" => &mut wire.id,
                "entrypoint" => &mut wire.entrypoint,
                "page" => &mut wire.page,
                "rating" => &mut wire.rating,
                "answers" => &mut wire.answers,
                "comment" => &mut wire.comment,
                "lang" => &mut wire.lang,
                "widget" => &mut wire.widget,
                _ => {
                    entries.next_value::<Loose<'de>>()?;
                    continue;
                }
            };
            *slot = entries.next_value()?;
        }
        Ok(wire)
    }
}

impl<'de> Deserialize<'de> for WireRating<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let ObjectOrNot(wire) = ObjectOrNot::deserialize(deserializer)?;
        Ok(wire.unwrap_or_default())
    }
}
