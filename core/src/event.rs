//! Platform events: the CloudEvents 1.0 structured-mode envelopes a service platform
//! (OpenCity, a booking system, a back office) posts to `POST /v1/events` or publishes on
//! its own Kafka topics, parsed into validated types. The event types and their `data`
//! are those of docs/KPIS.md; every figure of the service KPIs is computed from them.
//!
//! (`source`, `id`) identifies an event: the same pair again is the same event, counted
//! once. `time` is when it happened, and every figure uses it, never arrival time.

use chrono::{DateTime, NaiveDate};
use serde::Serialize;
use serde_json::{Map, Value, json};
use std::fmt;

use crate::entrypoint::TenantId;

/// Longest `source`, `id`, `subject` and identifier inside `data` (a service id among them).
pub const MAX_ID_CHARS: usize = 200;
/// Longest display name (`service_name`).
const MAX_NAME_CHARS: usize = 200;
/// Most slots one `calendar.day` event may offer.
const MAX_SLOTS_PER_DAY: usize = 2_000;
/// Longest slot, in minutes (a whole day).
const MAX_SLOT_MINUTES: u32 = 24 * 60;
/// Longest legal deadline, in calendar days (ten years).
const MAX_DEADLINE_DAYS: u32 = 3_650;
/// How far in the future an event's `time` may be (clock skew between platforms).
const MAX_FUTURE_MS: i64 = 24 * 3_600_000;

/// Why an event was refused: a stable code and the offending field, for the batch answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventError {
    /// Machine-readable reason (`missing_field`, `invalid_field`, `unknown_type`, …).
    pub code: &'static str,
    /// The field at fault, as a path (`data.state`), or empty for the whole event.
    pub field: String,
    /// A sentence for the integrator.
    pub message: String,
}

impl EventError {
    fn new(code: &'static str, field: &str, message: impl Into<String>) -> EventError {
        EventError {
            code,
            field: field.to_owned(),
            message: message.into(),
        }
    }

    fn missing(field: &str) -> EventError {
        EventError::new("missing_field", field, format!("`{field}` is required"))
    }

    fn invalid(field: &str, expected: &str) -> EventError {
        EventError::new(
            "invalid_field",
            field,
            format!("`{field}` must be {expected}"),
        )
    }
}

impl fmt::Display for EventError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for EventError {}

/// Where an application stands (docs/KPIS.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ApplicationState {
    /// Being filled in.
    Bozza,
    /// Waiting for a payment.
    InAttesaPagamento,
    /// Submitted.
    Inviata,
    /// Received by the back office.
    Acquisita,
    /// Registered in the protocol.
    Protocollata,
    /// Taken in charge by an officer.
    PresaInCarico,
    /// Waiting for the citizen to integrate it: the legal clock stops.
    RichiestaIntegrazione,
    /// Integration received: the legal clock restarts.
    IntegrazioneRicevuta,
    /// Outcome: accepted.
    Accettata,
    /// Outcome: refused.
    Rifiutata,
    /// Withdrawn by the citizen.
    Ritirata,
    /// The whole procedure is completed.
    Completata,
}

impl ApplicationState {
    /// Every state, in the order of the procedure.
    pub const ALL: [ApplicationState; 12] = [
        ApplicationState::Bozza,
        ApplicationState::InAttesaPagamento,
        ApplicationState::Inviata,
        ApplicationState::Acquisita,
        ApplicationState::Protocollata,
        ApplicationState::PresaInCarico,
        ApplicationState::RichiestaIntegrazione,
        ApplicationState::IntegrazioneRicevuta,
        ApplicationState::Accettata,
        ApplicationState::Rifiutata,
        ApplicationState::Ritirata,
        ApplicationState::Completata,
    ];

    /// The open (backlog) states: from `inviata` to `integrazione_ricevuta`.
    pub const OPEN: [ApplicationState; 6] = [
        ApplicationState::Inviata,
        ApplicationState::Acquisita,
        ApplicationState::Protocollata,
        ApplicationState::PresaInCarico,
        ApplicationState::RichiestaIntegrazione,
        ApplicationState::IntegrazioneRicevuta,
    ];

    /// The code in events and JSON.
    pub fn code(self) -> &'static str {
        match self {
            ApplicationState::Bozza => "bozza",
            ApplicationState::InAttesaPagamento => "in_attesa_pagamento",
            ApplicationState::Inviata => "inviata",
            ApplicationState::Acquisita => "acquisita",
            ApplicationState::Protocollata => "protocollata",
            ApplicationState::PresaInCarico => "presa_in_carico",
            ApplicationState::RichiestaIntegrazione => "richiesta_integrazione",
            ApplicationState::IntegrazioneRicevuta => "integrazione_ricevuta",
            ApplicationState::Accettata => "accettata",
            ApplicationState::Rifiutata => "rifiutata",
            ApplicationState::Ritirata => "ritirata",
            ApplicationState::Completata => "completata",
        }
    }

    /// The state with this code.
    pub fn parse(code: &str) -> Option<ApplicationState> {
        ApplicationState::ALL.into_iter().find(|s| s.code() == code)
    }

    /// Whether the application is still being processed (counted in the backlog).
    pub fn is_open(self) -> bool {
        ApplicationState::OPEN.contains(&self)
    }

    /// Whether this is an outcome (`accettata`, `rifiutata`).
    pub fn is_outcome(self) -> bool {
        matches!(
            self,
            ApplicationState::Accettata | ApplicationState::Rifiutata
        )
    }
}

/// One slot a calendar offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    /// Start, Unix milliseconds.
    pub start_ms: i64,
    /// Length in minutes.
    pub minutes: u32,
}

/// What happened, with the `data` its type carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    /// `it.satisfy.application.status`: an application reached `state`.
    ApplicationStatus {
        /// The service the application is for.
        service: String,
        /// The service's display name, when the platform sends it.
        service_name: Option<String>,
        /// The office handling it.
        office: Option<String>,
        /// The state reached.
        state: ApplicationState,
        /// Termine del procedimento, in calendar days.
        legal_deadline_days: Option<u32>,
    },
    /// `it.satisfy.appointment.booked`.
    AppointmentBooked {
        /// The calendar the slot belongs to.
        calendar: String,
        /// The service the appointment is for.
        service: String,
        /// The service's display name, when the platform sends it (an extension of
        /// docs/KPIS.md for services without applications).
        service_name: Option<String>,
        /// The office receiving the citizen.
        office: Option<String>,
        /// The booked slot.
        slot: Slot,
        /// The earliest free slot offered when the citizen booked, Unix milliseconds.
        first_available_slot_ms: Option<i64>,
    },
    /// `it.satisfy.appointment.rescheduled`: the appointment moved to `slot`.
    AppointmentRescheduled {
        /// The calendar.
        calendar: String,
        /// The new slot.
        slot: Slot,
    },
    /// `it.satisfy.appointment.cancelled`.
    AppointmentCancelled {
        /// The calendar.
        calendar: String,
    },
    /// `it.satisfy.appointment.attended`.
    AppointmentAttended {
        /// The calendar.
        calendar: String,
    },
    /// `it.satisfy.appointment.no_show`.
    AppointmentNoShow {
        /// The calendar.
        calendar: String,
    },
    /// `it.satisfy.calendar.day`: the slots a calendar offers on a local date; the latest
    /// by `time` replaces earlier ones.
    CalendarDay {
        /// The calendar.
        calendar: String,
        /// The service its slots are for.
        service: String,
        /// The service's display name, when the platform sends it.
        service_name: Option<String>,
        /// The office.
        office: Option<String>,
        /// The local date.
        date: NaiveDate,
        /// The slots offered.
        slots: Vec<Slot>,
    },
}

impl EventKind {
    /// The CloudEvents `type` of this kind.
    pub fn type_name(&self) -> &'static str {
        match self {
            EventKind::ApplicationStatus { .. } => "it.satisfy.application.status",
            EventKind::AppointmentBooked { .. } => "it.satisfy.appointment.booked",
            EventKind::AppointmentRescheduled { .. } => "it.satisfy.appointment.rescheduled",
            EventKind::AppointmentCancelled { .. } => "it.satisfy.appointment.cancelled",
            EventKind::AppointmentAttended { .. } => "it.satisfy.appointment.attended",
            EventKind::AppointmentNoShow { .. } => "it.satisfy.appointment.no_show",
            EventKind::CalendarDay { .. } => "it.satisfy.calendar.day",
        }
    }

    /// Whether events of this kind are about one application or appointment, named by
    /// the envelope's `subject`.
    fn needs_subject(&self) -> bool {
        !matches!(self, EventKind::CalendarDay { .. })
    }
}

/// A validated platform event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceEvent {
    /// The platform instance that emitted it (a URI).
    pub source: String,
    /// Its id within `source`.
    pub id: String,
    /// When it happened, Unix milliseconds.
    pub time_ms: i64,
    /// The application or appointment it is about (empty for calendar days).
    pub subject: String,
    /// What happened.
    pub kind: EventKind,
}

/// A platform event as stored and logged: the validated event, its tenant (from the
/// token that posted it) and when the server accepted it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    /// The event.
    pub event: ServiceEvent,
    /// The tenant whose platform sent it.
    pub tenant: TenantId,
    /// When the server accepted it, milliseconds since the Unix epoch.
    pub received_at_ms: i64,
}

/// Version of the event-log record; readers refuse versions they do not know.
pub const LOG_SCHEMA_VERSION: u64 = 1;

impl StoredEvent {
    /// The record on the event log (Kafka topic `satisfy.events.v1`):
    /// `{"schema":1,"tenant":"…","received_at_ms":…,"event":{CloudEvent}}`.
    pub fn to_log_record(&self) -> Vec<u8> {
        json!({
            "schema": LOG_SCHEMA_VERSION,
            "tenant": self.tenant.as_str(),
            "received_at_ms": self.received_at_ms,
            "event": self.event.to_cloudevent(),
        })
        .to_string()
        .into_bytes()
    }

    /// Reads a record of [`StoredEvent::to_log_record`], validating the event again.
    pub fn from_log_record(bytes: &[u8]) -> Result<StoredEvent, EventError> {
        let value: Value = serde_json::from_slice(bytes)
            .map_err(|_| EventError::new("not_json", "", "the record is not JSON"))?;
        if value.get("schema").and_then(Value::as_u64) != Some(LOG_SCHEMA_VERSION) {
            return Err(EventError::invalid("schema", "1"));
        }
        let tenant = value
            .get("tenant")
            .and_then(Value::as_str)
            .and_then(TenantId::parse)
            .ok_or_else(|| EventError::invalid("tenant", "a tenant slug"))?;
        let received_at_ms = value
            .get("received_at_ms")
            .and_then(Value::as_i64)
            .ok_or_else(|| EventError::invalid("received_at_ms", "an integer"))?;
        let event = value
            .get("event")
            .ok_or_else(|| EventError::missing("event"))?;
        Ok(StoredEvent {
            event: ServiceEvent::parse(event, i64::MAX)?,
            tenant,
            received_at_ms,
        })
    }
}

/// A JSON object's fields, read with errors that name the path.
struct Fields<'a> {
    object: &'a Map<String, Value>,
    prefix: &'static str,
}

impl<'a> Fields<'a> {
    fn path(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    fn value(&self, name: &str) -> Option<&'a Value> {
        self.object.get(name).filter(|v| !v.is_null())
    }

    fn optional_text(&self, name: &str, max: usize) -> Result<Option<String>, EventError> {
        let Some(value) = self.value(name) else {
            return Ok(None);
        };
        let path = self.path(name);
        let text = value
            .as_str()
            .map(str::trim)
            .filter(|t| !t.is_empty() && t.chars().count() <= max && !t.contains(char::is_control))
            .ok_or_else(|| {
                EventError::invalid(&path, &format!("a string of 1 to {max} characters"))
            })?;
        Ok(Some(text.to_owned()))
    }

    fn text(&self, name: &str, max: usize) -> Result<String, EventError> {
        self.optional_text(name, max)?
            .ok_or_else(|| EventError::missing(&self.path(name)))
    }

    fn optional_instant(&self, name: &str) -> Result<Option<i64>, EventError> {
        let Some(value) = self.value(name) else {
            return Ok(None);
        };
        let path = self.path(name);
        let instant = value
            .as_str()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .ok_or_else(|| EventError::invalid(&path, "an RFC 3339 date-time"))?;
        Ok(Some(instant.timestamp_millis()))
    }

    fn instant(&self, name: &str) -> Result<i64, EventError> {
        self.optional_instant(name)?
            .ok_or_else(|| EventError::missing(&self.path(name)))
    }

    fn optional_count(&self, name: &str, min: u32, max: u32) -> Result<Option<u32>, EventError> {
        let Some(value) = self.value(name) else {
            return Ok(None);
        };
        let path = self.path(name);
        let count = value
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| (min..=max).contains(n))
            .ok_or_else(|| {
                EventError::invalid(&path, &format!("an integer from {min} to {max}"))
            })?;
        Ok(Some(count))
    }

    fn count(&self, name: &str, min: u32, max: u32) -> Result<u32, EventError> {
        self.optional_count(name, min, max)?
            .ok_or_else(|| EventError::missing(&self.path(name)))
    }

    fn slot(&self, start: &str, minutes: &str) -> Result<Slot, EventError> {
        Ok(Slot {
            start_ms: self.instant(start)?,
            minutes: self.count(minutes, 1, MAX_SLOT_MINUTES)?,
        })
    }
}

fn object<'a>(
    value: &'a Value,
    path: &str,
    prefix: &'static str,
) -> Result<Fields<'a>, EventError> {
    let object = value
        .as_object()
        .ok_or_else(|| EventError::invalid(path, "a JSON object"))?;
    Ok(Fields { object, prefix })
}

impl ServiceEvent {
    /// Parses and validates one structured-mode CloudEvent. `now_ms` bounds how far in
    /// the future `time` may be.
    pub fn parse(value: &Value, now_ms: i64) -> Result<ServiceEvent, EventError> {
        let envelope = object(value, "", "")?;
        match envelope.value("specversion").and_then(Value::as_str) {
            Some("1.0") => {}
            Some(_) => {
                return Err(EventError::new(
                    "unsupported_specversion",
                    "specversion",
                    "only CloudEvents 1.0 is supported",
                ));
            }
            None => return Err(EventError::missing("specversion")),
        }
        if let Some(content_type) = envelope.value("datacontenttype")
            && content_type.as_str() != Some("application/json")
        {
            return Err(EventError::invalid("datacontenttype", "application/json"));
        }
        let source = envelope.text("source", MAX_ID_CHARS)?;
        let id = envelope.text("id", MAX_ID_CHARS)?;
        let time_ms = envelope.instant("time")?;
        if time_ms > now_ms.saturating_add(MAX_FUTURE_MS) {
            return Err(EventError::invalid(
                "time",
                "no more than a day in the future",
            ));
        }
        let type_name = envelope.text("type", MAX_ID_CHARS)?;
        let data = envelope
            .value("data")
            .ok_or_else(|| EventError::missing("data"))?;
        let data = object(data, "data", "data.")?;
        let kind = parse_kind(&type_name, &data)?;
        let subject = envelope
            .optional_text("subject", MAX_ID_CHARS)?
            .unwrap_or_default();
        if kind.needs_subject() && subject.is_empty() {
            return Err(EventError::missing("subject"));
        }
        Ok(ServiceEvent {
            source,
            id,
            time_ms,
            subject,
            kind,
        })
    }

    /// The event as a canonical structured-mode CloudEvent (what the event log and the
    /// store keep; [`ServiceEvent::parse`] reads it back unchanged).
    pub fn to_cloudevent(&self) -> Value {
        let instant = |ms: i64| {
            DateTime::from_timestamp_millis(ms)
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
                .unwrap_or_default()
        };
        let mut data = Map::new();
        let mut put = |name: &str, value: Value| {
            if !value.is_null() {
                data.insert(name.to_owned(), value);
            }
        };
        match &self.kind {
            EventKind::ApplicationStatus {
                service,
                service_name,
                office,
                state,
                legal_deadline_days,
            } => {
                put("service", json!(service));
                put("service_name", json!(service_name));
                put("office", json!(office));
                put("state", json!(state.code()));
                put("legal_deadline_days", json!(legal_deadline_days));
            }
            EventKind::AppointmentBooked {
                calendar,
                service,
                service_name,
                office,
                slot,
                first_available_slot_ms,
            } => {
                put("calendar", json!(calendar));
                put("service", json!(service));
                put("service_name", json!(service_name));
                put("office", json!(office));
                put("slot_start", json!(instant(slot.start_ms)));
                put("slot_minutes", json!(slot.minutes));
                put(
                    "first_available_slot",
                    json!(first_available_slot_ms.map(instant)),
                );
            }
            EventKind::AppointmentRescheduled { calendar, slot } => {
                put("calendar", json!(calendar));
                put("slot_start", json!(instant(slot.start_ms)));
                put("slot_minutes", json!(slot.minutes));
            }
            EventKind::AppointmentCancelled { calendar }
            | EventKind::AppointmentAttended { calendar }
            | EventKind::AppointmentNoShow { calendar } => put("calendar", json!(calendar)),
            EventKind::CalendarDay {
                calendar,
                service,
                service_name,
                office,
                date,
                slots,
            } => {
                put("calendar", json!(calendar));
                put("service", json!(service));
                put("service_name", json!(service_name));
                put("office", json!(office));
                put("date", json!(date.format("%Y-%m-%d").to_string()));
                put(
                    "slots",
                    Value::Array(
                        slots
                            .iter()
                            .map(|s| json!({"start": instant(s.start_ms), "minutes": s.minutes}))
                            .collect(),
                    ),
                );
            }
        }
        let mut envelope = json!({
            "specversion": "1.0",
            "id": self.id,
            "source": self.source,
            "type": self.kind.type_name(),
            "time": instant(self.time_ms),
            "datacontenttype": "application/json",
            "data": data,
        });
        if !self.subject.is_empty() {
            envelope["subject"] = json!(self.subject);
        }
        envelope
    }
}

/// The canonical form [`ServiceEvent::to_cloudevent`] writes, read back with typed
/// fields: what the stores keep was validated on the way in, and this path skips building a
/// generic JSON tree.
#[derive(serde::Deserialize)]
struct StoredEnvelope<'a> {
    id: String,
    source: String,
    #[serde(rename = "type", borrow)]
    type_name: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    time: std::borrow::Cow<'a, str>,
    #[serde(default)]
    subject: String,
    #[serde(borrow)]
    data: StoredData<'a>,
}

#[derive(serde::Deserialize)]
struct StoredData<'a> {
    service: Option<String>,
    service_name: Option<String>,
    office: Option<String>,
    #[serde(borrow)]
    state: Option<std::borrow::Cow<'a, str>>,
    legal_deadline_days: Option<u32>,
    calendar: Option<String>,
    #[serde(borrow)]
    slot_start: Option<std::borrow::Cow<'a, str>>,
    slot_minutes: Option<u32>,
    #[serde(borrow)]
    first_available_slot: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    date: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    slots: Option<Vec<StoredSlot<'a>>>,
}

#[derive(serde::Deserialize)]
struct StoredSlot<'a> {
    #[serde(borrow)]
    start: std::borrow::Cow<'a, str>,
    minutes: u32,
}

impl ServiceEvent {
    /// Reads an event the stores kept (the JSON of [`ServiceEvent::to_cloudevent`]); `None`
    /// for anything else, which [`ServiceEvent::parse`] then explains.
    pub fn from_stored(body: &str) -> Option<ServiceEvent> {
        let stored: StoredEnvelope<'_> = serde_json::from_str(body).ok()?;
        let instant = |raw: &str| {
            DateTime::parse_from_rfc3339(raw)
                .ok()
                .map(|t| t.timestamp_millis())
        };
        let data = stored.data;
        let slot = || -> Option<Slot> {
            Some(Slot {
                start_ms: instant(data.slot_start.as_deref()?)?,
                minutes: data.slot_minutes?,
            })
        };
        let calendar = || data.calendar.clone();
        let kind = match stored.type_name.as_ref() {
            "it.satisfy.application.status" => EventKind::ApplicationStatus {
                service: data.service.clone()?,
                service_name: data.service_name.clone(),
                office: data.office.clone(),
                state: ApplicationState::parse(data.state.as_deref()?)?,
                legal_deadline_days: data.legal_deadline_days,
            },
            "it.satisfy.appointment.booked" => EventKind::AppointmentBooked {
                calendar: calendar()?,
                service: data.service.clone()?,
                service_name: data.service_name.clone(),
                office: data.office.clone(),
                slot: slot()?,
                first_available_slot_ms: match data.first_available_slot.as_deref() {
                    Some(raw) => Some(instant(raw)?),
                    None => None,
                },
            },
            "it.satisfy.appointment.rescheduled" => EventKind::AppointmentRescheduled {
                calendar: calendar()?,
                slot: slot()?,
            },
            "it.satisfy.appointment.cancelled" => EventKind::AppointmentCancelled {
                calendar: calendar()?,
            },
            "it.satisfy.appointment.attended" => EventKind::AppointmentAttended {
                calendar: calendar()?,
            },
            "it.satisfy.appointment.no_show" => EventKind::AppointmentNoShow {
                calendar: calendar()?,
            },
            "it.satisfy.calendar.day" => EventKind::CalendarDay {
                calendar: calendar()?,
                service: data.service.clone()?,
                service_name: data.service_name.clone(),
                office: data.office.clone(),
                date: NaiveDate::parse_from_str(data.date.as_deref()?, "%Y-%m-%d").ok()?,
                slots: data
                    .slots
                    .as_ref()?
                    .iter()
                    .map(|s| {
                        Some(Slot {
                            start_ms: instant(&s.start)?,
                            minutes: s.minutes,
                        })
                    })
                    .collect::<Option<Vec<_>>>()?,
            },
            _ => return None,
        };
        Some(ServiceEvent {
            source: stored.source,
            id: stored.id,
            time_ms: instant(&stored.time)?,
            subject: stored.subject,
            kind,
        })
    }
}

fn parse_kind(type_name: &str, data: &Fields<'_>) -> Result<EventKind, EventError> {
    let calendar = || data.text("calendar", MAX_ID_CHARS);
    Ok(match type_name {
        "it.satisfy.application.status" => {
            let state = data.text("state", 40)?;
            EventKind::ApplicationStatus {
                service: data.text("service", MAX_ID_CHARS)?,
                service_name: data.optional_text("service_name", MAX_NAME_CHARS)?,
                office: data.optional_text("office", MAX_ID_CHARS)?,
                state: ApplicationState::parse(&state).ok_or_else(|| {
                    EventError::invalid("data.state", "an application state of docs/KPIS.md")
                })?,
                legal_deadline_days: data.optional_count(
                    "legal_deadline_days",
                    1,
                    MAX_DEADLINE_DAYS,
                )?,
            }
        }
        "it.satisfy.appointment.booked" => EventKind::AppointmentBooked {
            calendar: calendar()?,
            service: data.text("service", MAX_ID_CHARS)?,
            service_name: data.optional_text("service_name", MAX_NAME_CHARS)?,
            office: data.optional_text("office", MAX_ID_CHARS)?,
            slot: data.slot("slot_start", "slot_minutes")?,
            first_available_slot_ms: data.optional_instant("first_available_slot")?,
        },
        "it.satisfy.appointment.rescheduled" => EventKind::AppointmentRescheduled {
            calendar: calendar()?,
            slot: data.slot("slot_start", "slot_minutes")?,
        },
        "it.satisfy.appointment.cancelled" => EventKind::AppointmentCancelled {
            calendar: calendar()?,
        },
        "it.satisfy.appointment.attended" => EventKind::AppointmentAttended {
            calendar: calendar()?,
        },
        "it.satisfy.appointment.no_show" => EventKind::AppointmentNoShow {
            calendar: calendar()?,
        },
        "it.satisfy.calendar.day" => {
            let date = data.text("date", 10)?;
            let date = NaiveDate::parse_from_str(&date, "%Y-%m-%d")
                .map_err(|_| EventError::invalid("data.date", "a date YYYY-MM-DD"))?;
            let raw_slots = data
                .value("slots")
                .ok_or_else(|| EventError::missing("data.slots"))?
                .as_array()
                .filter(|s| s.len() <= MAX_SLOTS_PER_DAY)
                .ok_or_else(|| {
                    EventError::invalid(
                        "data.slots",
                        &format!("an array of at most {MAX_SLOTS_PER_DAY} slots"),
                    )
                })?;
            let mut slots = Vec::with_capacity(raw_slots.len());
            for (index, raw) in raw_slots.iter().enumerate() {
                let path = format!("data.slots[{index}]");
                let slot = object(raw, &path, "")
                    .and_then(|fields| fields.slot("start", "minutes"))
                    .map_err(|mut error| {
                        error.field = if error.field.is_empty() {
                            path.clone()
                        } else {
                            format!("{path}.{}", error.field)
                        };
                        error
                    })?;
                slots.push(slot);
            }
            EventKind::CalendarDay {
                calendar: calendar()?,
                service: data.text("service", MAX_ID_CHARS)?,
                service_name: data.optional_text("service_name", MAX_NAME_CHARS)?,
                office: data.optional_text("office", MAX_ID_CHARS)?,
                date,
                slots,
            }
        }
        other => {
            return Err(EventError::new(
                "unknown_type",
                "type",
                format!("unknown event type `{other}`"),
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_795_000_000_000;

    fn status(state: &str) -> Value {
        json!({
            "specversion": "1.0", "id": "e-1", "source": "https://opencity.example.it/bugliano",
            "type": "it.satisfy.application.status", "time": "2026-11-02T09:30:00+01:00",
            "subject": "pratica-42", "datacontenttype": "application/json",
            "data": {"service": "cie", "service_name": "Carta d'identità elettronica",
                     "state": state, "legal_deadline_days": 30}
        })
    }

    #[test]
    fn every_event_type_parses_and_round_trips_through_its_canonical_form() {
        let events = [
            status("inviata"),
            json!({"specversion": "1.0", "id": "b", "source": "urn:agenda", "subject": "app-1",
                   "type": "it.satisfy.appointment.booked", "time": "2026-11-02T08:00:00Z",
                   "data": {"calendar": "anagrafe", "service": "cie", "office": "centro",
                            "slot_start": "2026-11-05T09:00:00+01:00", "slot_minutes": 30,
                            "first_available_slot": "2026-11-04T15:30:00+01:00"}}),
            json!({"specversion": "1.0", "id": "r", "source": "urn:agenda", "subject": "app-1",
                   "type": "it.satisfy.appointment.rescheduled", "time": "2026-11-03T08:00:00Z",
                   "data": {"calendar": "anagrafe", "slot_start": "2026-11-06T09:00:00Z",
                            "slot_minutes": 20}}),
            json!({"specversion": "1.0", "id": "c", "source": "urn:agenda", "subject": "app-1",
                   "type": "it.satisfy.appointment.cancelled", "time": "2026-11-03T08:00:00Z",
                   "data": {"calendar": "anagrafe"}}),
            json!({"specversion": "1.0", "id": "d", "source": "urn:agenda",
                   "type": "it.satisfy.calendar.day", "time": "2026-11-01T00:00:00Z",
                   "data": {"calendar": "anagrafe", "service": "cie", "date": "2026-11-05",
                            "slots": [{"start": "2026-11-05T09:00:00+01:00", "minutes": 30},
                                      {"start": "2026-11-05T09:30:00+01:00", "minutes": 30}]}}),
        ];
        for raw in events {
            let event = ServiceEvent::parse(&raw, NOW).unwrap();
            let again = ServiceEvent::parse(&event.to_cloudevent(), NOW).unwrap();
            assert_eq!(again, event);
            let stored = event.to_cloudevent().to_string();
            assert_eq!(ServiceEvent::from_stored(&stored), Some(event));
        }
        assert_eq!(ServiceEvent::from_stored("{}"), None);
        assert_eq!(ServiceEvent::from_stored(r#"{"id":"x"}"#), None);
        let event = ServiceEvent::parse(&status("presa_in_carico"), NOW).unwrap();
        assert_eq!(event.time_ms, 1_793_608_200_000, "2026-11-02T08:30:00Z");
        assert_eq!(
            event.kind,
            EventKind::ApplicationStatus {
                service: "cie".into(),
                service_name: Some("Carta d'identità elettronica".into()),
                office: None,
                state: ApplicationState::PresaInCarico,
                legal_deadline_days: Some(30),
            }
        );
    }

    #[test]
    fn bad_events_name_their_code_and_field() {
        let cases = [
            (json!([]), "invalid_field", ""),
            (
                json!({"specversion": "0.3"}),
                "unsupported_specversion",
                "specversion",
            ),
            (status("chiusa"), "invalid_field", "data.state"),
        ];
        for (raw, code, field) in cases {
            let error = ServiceEvent::parse(&raw, NOW).unwrap_err();
            assert_eq!((error.code, error.field.as_str()), (code, field), "{raw}");
        }
        let mut no_subject = status("inviata");
        no_subject.as_object_mut().unwrap().remove("subject");
        let error = ServiceEvent::parse(&no_subject, NOW).unwrap_err();
        assert_eq!(
            (error.code, error.field.as_str()),
            ("missing_field", "subject")
        );
        let mut unknown = status("inviata");
        unknown["type"] = json!("it.satisfy.unknown");
        assert_eq!(
            ServiceEvent::parse(&unknown, NOW).unwrap_err().code,
            "unknown_type"
        );
        let mut future = status("inviata");
        future["time"] = json!("2030-01-01T00:00:00Z");
        assert_eq!(ServiceEvent::parse(&future, NOW).unwrap_err().field, "time");
        let mut deadline = status("inviata");
        deadline["data"]["legal_deadline_days"] = json!(0);
        assert_eq!(
            ServiceEvent::parse(&deadline, NOW).unwrap_err().field,
            "data.legal_deadline_days"
        );
        let day = json!({"specversion": "1.0", "id": "d", "source": "urn:agenda",
            "type": "it.satisfy.calendar.day", "time": "2026-11-01T00:00:00Z",
            "data": {"calendar": "a", "service": "cie", "date": "2026-11-05",
                     "slots": [{"start": "2026-11-05T09:00:00Z", "minutes": 30},
                               {"start": "domani", "minutes": 30}]}});
        assert_eq!(
            ServiceEvent::parse(&day, NOW).unwrap_err().field,
            "data.slots[1].start"
        );
    }

    #[test]
    fn log_records_round_trip_and_bad_ones_are_refused() {
        let stored = StoredEvent {
            event: ServiceEvent::parse(&status("inviata"), NOW).unwrap(),
            tenant: TenantId::parse("bugliano").unwrap(),
            received_at_ms: NOW,
        };
        let record = stored.to_log_record();
        assert_eq!(StoredEvent::from_log_record(&record).unwrap(), stored);
        assert_eq!(
            StoredEvent::from_log_record(b"{").unwrap_err().code,
            "not_json"
        );
        let other_schema = String::from_utf8(record)
            .unwrap()
            .replace("\"schema\":1", "\"schema\":2");
        assert_eq!(
            StoredEvent::from_log_record(other_schema.as_bytes())
                .unwrap_err()
                .field,
            "schema"
        );
    }

    #[test]
    fn open_states_and_outcomes_follow_the_definitions() {
        let open: Vec<&str> = ApplicationState::ALL
            .into_iter()
            .filter(|s| s.is_open())
            .map(ApplicationState::code)
            .collect();
        assert_eq!(
            open,
            [
                "inviata",
                "acquisita",
                "protocollata",
                "presa_in_carico",
                "richiesta_integrazione",
                "integrazione_ricevuta"
            ]
        );
        assert!(ApplicationState::Rifiutata.is_outcome());
        assert!(!ApplicationState::Completata.is_outcome());
    }
}
