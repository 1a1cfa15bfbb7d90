//! Service KPIs from platform events, exactly as docs/KPIS.md defines them: appointment
//! figures (bookings, first availability, slots, capacity, saturation, cancellations,
//! reschedulings, no-shows) and application figures (submissions, backlog, time to take
//! charge and to an outcome net of suspensions, acceptance, legal deadlines, time per
//! state), per day, ISO week or month in the tenant's time zone, each with its variation
//! against the previous period and against the mean of the twelve before.
//!
//! Both storage backends hand this module the same deduplicated events, so SQLite and
//! ClickHouse give the same numbers by construction; the conformance suite checks what the
//! stores must get right (duplicates, late and out-of-order events, scopes).
//!
//! Choices where docs/KPIS.md leaves room (also in docs/KPIS.md, "Choices"):
//! - an appointment's booking is its first `booked` event; its service and office are
//!   those of its latest `booked` event; its calendar that of its latest event;
//! - an application's service and office are those of its latest event, its legal
//!   deadline the latest one given;
//! - a suspension still open at the outcome lasts until the outcome;
//! - the `calendar` filter narrows appointment figures only (applications have no
//!   calendar); `office` and `service` narrow both;
//! - state_hours counts a stay from the event entering a state to the next event in a
//!   different state; repeated events in the same state extend the stay.

use chrono::{Days, Months, NaiveDate};
use chrono_tz::Tz;
use satisfy_core::event::{ApplicationState, EventKind, ServiceEvent, Slot};
use serde::Serialize;
use serde::ser::SerializeMap;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};

use crate::buckets::{Granularity, local_midnight_ms};

/// How many earlier periods `delta_average` averages over.
pub const AVERAGE_PERIODS: usize = 12;

const HOUR_MS: f64 = 3_600_000.0;
const DAY_MS: f64 = 86_400_000.0;

/// Which events a KPI page covers within a tenant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KpiScope {
    /// One service, or every service.
    pub service: Option<String>,
    /// One office.
    pub office: Option<String>,
    /// One calendar (appointment figures only).
    pub calendar: Option<String>,
}

/// One period `[start, end)` in local dates and in UTC milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    /// First local date.
    pub start: NaiveDate,
    /// First local date of the next period.
    pub end: NaiveDate,
    /// UTC instant of `start`'s local midnight.
    pub start_ms: i64,
    /// UTC instant of `end`'s local midnight.
    pub end_ms: i64,
}

impl Period {
    fn contains(&self, ms: i64) -> bool {
        self.start_ms <= ms && ms < self.end_ms
    }
}

/// The periods from the one containing `from` to the one containing `to`, preceded by
/// [`AVERAGE_PERIODS`] earlier ones (the base of the variations). `None` for dates out of
/// the calendar's range.
pub fn periods_with_history(
    granularity: Granularity,
    tz: Tz,
    from: NaiveDate,
    to: NaiveDate,
) -> Option<Vec<Period>> {
    let step_back = |date: NaiveDate| -> Option<NaiveDate> {
        match granularity {
            Granularity::Day => date.checked_sub_days(Days::new(1)),
            Granularity::Week => date.checked_sub_days(Days::new(7)),
            Granularity::Month => date.checked_sub_months(Months::new(1)),
        }
    };
    let step = |date: NaiveDate| -> Option<NaiveDate> {
        match granularity {
            Granularity::Day => date.checked_add_days(Days::new(1)),
            Granularity::Week => date.checked_add_days(Days::new(7)),
            Granularity::Month => date.checked_add_months(Months::new(1)),
        }
    };
    let mut start = granularity.start_of(from);
    for _ in 0..AVERAGE_PERIODS {
        start = step_back(start)?;
    }
    let last = granularity.start_of(to);
    let mut periods = Vec::new();
    while start <= last {
        let end = step(start)?;
        periods.push(Period {
            start,
            end,
            start_ms: local_midnight_ms(tz, start),
            end_ms: local_midnight_ms(tz, end),
        });
        start = end;
    }
    Some(periods)
}

/// One step of an application.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ApplicationStep {
    time_ms: i64,
    state: ApplicationState,
}

/// Everything known of one application, its steps in time order.
#[derive(Debug, Clone)]
struct Application {
    service: String,
    office: Option<String>,
    legal_deadline_days: Option<u32>,
    steps: Vec<ApplicationStep>,
    /// What every period asks of it, worked out once all its events are in.
    digest: ApplicationDigest,
}

/// The moments of an application the figures use.
#[derive(Debug, Clone, Copy, Default)]
struct ApplicationDigest {
    /// First `inviata`.
    submitted: Option<i64>,
    /// First `presa_in_carico`.
    taken: Option<i64>,
    /// First outcome.
    outcome: Option<ApplicationStep>,
    /// Net days from the first `inviata` to that outcome.
    outcome_days: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AppointmentChange {
    Booked,
    Rescheduled,
    Cancelled,
    Attended,
    NoShow,
}

/// Everything known of one appointment.
#[derive(Debug, Clone)]
struct Appointment {
    calendar: String,
    service: Option<String>,
    office: Option<String>,
    /// (time, change, slot of booked/rescheduled), in time order.
    steps: Vec<(i64, AppointmentChange, Option<Slot>)>,
    /// First `booked` event: (time, first available slot).
    booking: Option<(i64, Option<i64>)>,
    /// The slot of its latest `booked` or `rescheduled` event, once all events are in.
    current_slot: Option<Slot>,
}

impl Appointment {
    fn digested(mut self) -> Appointment {
        self.current_slot = self.steps.iter().rev().find_map(|(_, _, slot)| *slot);
        self
    }

    /// Its latest change at or before `at_ms`.
    fn change_at(&self, at_ms: i64) -> Option<AppointmentChange> {
        self.steps
            .iter()
            .rev()
            .find(|(time, _, _)| *time <= at_ms)
            .map(|(_, change, _)| *change)
    }

    fn change_now(&self) -> Option<AppointmentChange> {
        self.steps.last().map(|(_, change, _)| *change)
    }
}

/// The slots a calendar offers on one date, from its latest `calendar.day` event.
#[derive(Debug, Clone)]
struct CalendarDay {
    service: String,
    office: Option<String>,
    slots: Vec<Slot>,
}

/// A tenant's events digested per application, appointment and calendar day, within a
/// scope. Build it with [`KpiInput::from_events`].
#[derive(Debug, Clone, Default)]
pub struct KpiInput {
    applications: Vec<Application>,
    appointments: Vec<Appointment>,
    calendar_days: Vec<CalendarDay>,
}

impl KpiInput {
    /// Digests events (in any order, duplicates allowed: the first of each (`source`,
    /// `id`) counts) and keeps what `scope` covers.
    pub fn from_events(
        events: impl IntoIterator<Item = ServiceEvent>,
        scope: &KpiScope,
    ) -> KpiInput {
        let mut seen: HashSet<(String, String)> = HashSet::new();
        let mut applications: HashMap<(String, String), Application> = HashMap::new();
        let mut appointments: HashMap<(String, String), Appointment> = HashMap::new();
        let mut days: HashMap<(String, NaiveDate), CalendarDay> = HashMap::new();
        let mut sorted: Vec<ServiceEvent> = events
            .into_iter()
            .filter(|e| seen.insert((e.source.clone(), e.id.clone())))
            .collect();
        // Ties keep a stable order by source and id, so every backend digests alike.
        sorted.sort_by(|a, b| (a.time_ms, &a.source, &a.id).cmp(&(b.time_ms, &b.source, &b.id)));
        for event in sorted {
            let entity = (event.source.clone(), event.subject.clone());
            match event.kind {
                EventKind::ApplicationStatus {
                    service,
                    office,
                    state,
                    legal_deadline_days,
                    ..
                } => {
                    let application = applications.entry(entity).or_insert_with(|| Application {
                        service: service.clone(),
                        office: office.clone(),
                        legal_deadline_days: None,
                        steps: Vec::new(),
                        digest: ApplicationDigest::default(),
                    });
                    application.service = service;
                    application.office = office;
                    if legal_deadline_days.is_some() {
                        application.legal_deadline_days = legal_deadline_days;
                    }
                    application.steps.push(ApplicationStep {
                        time_ms: event.time_ms,
                        state,
                    });
                }
                EventKind::CalendarDay {
                    calendar,
                    service,
                    office,
                    date,
                    slots,
                    ..
                } => {
                    if scope.calendar.as_ref().is_some_and(|c| *c != calendar) {
                        continue;
                    }
                    days.insert(
                        (calendar, date),
                        // Events are in time order: the latest version replaces the others.
                        CalendarDay {
                            service,
                            office,
                            slots,
                        },
                    );
                }
                kind => {
                    let (calendar, change, slot, booked) = match kind {
                        EventKind::AppointmentBooked {
                            calendar,
                            service,
                            office,
                            slot,
                            first_available_slot_ms,
                            ..
                        } => (
                            calendar,
                            AppointmentChange::Booked,
                            Some(slot),
                            Some((service, office, first_available_slot_ms)),
                        ),
                        EventKind::AppointmentRescheduled { calendar, slot } => {
                            (calendar, AppointmentChange::Rescheduled, Some(slot), None)
                        }
                        EventKind::AppointmentCancelled { calendar } => {
                            (calendar, AppointmentChange::Cancelled, None, None)
                        }
                        EventKind::AppointmentAttended { calendar } => {
                            (calendar, AppointmentChange::Attended, None, None)
                        }
                        EventKind::AppointmentNoShow { calendar } => {
                            (calendar, AppointmentChange::NoShow, None, None)
                        }
                        EventKind::ApplicationStatus { .. } | EventKind::CalendarDay { .. } => {
                            continue;
                        }
                    };
                    let appointment = appointments.entry(entity).or_insert_with(|| Appointment {
                        calendar: calendar.clone(),
                        service: None,
                        office: None,
                        steps: Vec::new(),
                        booking: None,
                        current_slot: None,
                    });
                    appointment.calendar = calendar;
                    if let Some((service, office, first_available)) = booked {
                        appointment.service = Some(service);
                        appointment.office = office;
                        if appointment.booking.is_none() {
                            appointment.booking = Some((event.time_ms, first_available));
                        }
                    }
                    appointment.steps.push((event.time_ms, change, slot));
                }
            }
        }
        let covers = |service: Option<&str>, office: Option<&str>| {
            scope.service.as_deref().is_none_or(|s| service == Some(s))
                && scope.office.as_deref().is_none_or(|o| office == Some(o))
        };
        KpiInput {
            applications: applications
                .into_values()
                .filter(|a| covers(Some(&a.service), a.office.as_deref()))
                .map(Application::digested)
                .collect(),
            appointments: appointments
                .into_values()
                .map(Appointment::digested)
                .filter(|a| scope.calendar.as_ref().is_none_or(|c| *c == a.calendar))
                .filter(|a| covers(a.service.as_deref(), a.office.as_deref()))
                .collect(),
            calendar_days: days
                .into_values()
                .filter(|d| covers(Some(&d.service), d.office.as_deref()))
                .collect(),
        }
    }
}

/// Named figures of one period, in the order of docs/KPIS.md: name, kind, value.
pub type NamedFigures = Vec<(&'static str, FigureKind, Option<f64>)>;

/// The raw figures of one period, before variations.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RawFigures {
    /// Appointment figures.
    pub appointments: NamedFigures,
    /// Application figures.
    pub applications: NamedFigures,
    /// Applications in each open state at the period's end.
    pub backlog: Vec<(&'static str, u64)>,
    /// Mean hours in each state, for applications that left it in the period.
    pub state_hours: Vec<(&'static str, Option<f64>)>,
}

/// How a figure's variations are expressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FigureKind {
    /// A count or a duration: relative variations in `…_pct`.
    Amount,
    /// A share or rate (0–1): variations in percentage points in `…_pct`.
    Share,
}

fn round(value: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (value * scale).round() / scale
}

fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// The nearest-rank percentile: the value at rank ⌈p·n⌉ of the sorted values.
pub fn nearest_rank(values: &mut [f64], p: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let rank = (p * values.len() as f64).ceil() as usize;
    Some(values[rank.clamp(1, values.len()) - 1])
}

fn share(part: usize, whole: usize) -> Option<f64> {
    (whole > 0).then(|| round(part as f64 / whole as f64, 4))
}

impl Application {
    fn digested(mut self) -> Application {
        let outcome = self.first_outcome();
        self.digest = ApplicationDigest {
            submitted: self.first(ApplicationState::Inviata),
            taken: self.first(ApplicationState::PresaInCarico),
            outcome,
            outcome_days: outcome.and_then(|o| self.net_days(o.time_ms)),
        };
        self
    }

    fn first(&self, state: ApplicationState) -> Option<i64> {
        self.steps
            .iter()
            .find(|s| s.state == state)
            .map(|s| s.time_ms)
    }

    fn first_outcome(&self) -> Option<ApplicationStep> {
        self.steps.iter().copied().find(|s| s.state.is_outcome())
    }

    fn state_at(&self, at_ms: i64) -> Option<ApplicationState> {
        self.steps
            .iter()
            .rev()
            .find(|s| s.time_ms <= at_ms)
            .map(|s| s.state)
    }

    /// Days from the first `inviata` to `until`, minus the time between each
    /// `richiesta_integrazione` and the next `integrazione_ricevuta` (an open one lasts
    /// until `until`).
    fn net_days(&self, until: i64) -> Option<f64> {
        let submitted = self.first(ApplicationState::Inviata)?;
        if until < submitted {
            return None;
        }
        let mut suspended_ms = 0;
        let mut suspended_since: Option<i64> = None;
        for step in self
            .steps
            .iter()
            .filter(|s| submitted <= s.time_ms && s.time_ms <= until)
        {
            match step.state {
                ApplicationState::RichiestaIntegrazione => {
                    suspended_since.get_or_insert(step.time_ms);
                }
                ApplicationState::IntegrazioneRicevuta => {
                    if let Some(since) = suspended_since.take() {
                        suspended_ms += step.time_ms - since;
                    }
                }
                _ => {}
            }
        }
        if let Some(since) = suspended_since {
            suspended_ms += until - since;
        }
        Some((until - submitted - suspended_ms) as f64 / DAY_MS)
    }
}

/// The raw figures of every period.
pub fn compute(input: &KpiInput, periods: &[Period]) -> Vec<RawFigures> {
    periods
        .iter()
        .map(|period| RawFigures {
            appointments: appointment_figures(input, period),
            applications: application_figures(input, period),
            backlog: backlog(input, period),
            state_hours: state_hours(input, period),
        })
        .collect()
}

fn appointment_figures(input: &KpiInput, period: &Period) -> NamedFigures {
    let booked: Vec<&Appointment> = input
        .appointments
        .iter()
        .filter(|a| a.booking.is_some_and(|(time, _)| period.contains(time)))
        .collect();
    let waits: Vec<f64> = booked
        .iter()
        .filter_map(|a| a.booking)
        .filter_map(|(time, first)| first.map(|f| (f - time) as f64 / DAY_MS))
        .collect();
    let offered: Vec<u32> = input
        .calendar_days
        .iter()
        .flat_map(|d| d.slots.iter())
        .filter(|s| period.contains(s.start_ms))
        .map(|s| s.minutes)
        .collect();
    let offered_minutes: u64 = offered.iter().map(|m| u64::from(*m)).sum();
    let in_period: Vec<(&Appointment, Slot)> = input
        .appointments
        .iter()
        .filter_map(|a| a.current_slot.map(|slot| (a, slot)))
        .filter(|(_, slot)| period.contains(slot.start_ms))
        .collect();
    let booked_minutes: u64 = in_period
        .iter()
        .filter(|(a, _)| a.change_at(period.end_ms) != Some(AppointmentChange::Cancelled))
        .map(|(_, slot)| u64::from(slot.minutes))
        .sum();
    let concluded: Vec<AppointmentChange> = in_period
        .iter()
        .filter_map(|(a, _)| a.change_now())
        .filter(|c| matches!(c, AppointmentChange::Attended | AppointmentChange::NoShow))
        .collect();
    let cancelled = booked
        .iter()
        .filter(|a| a.change_now() == Some(AppointmentChange::Cancelled))
        .count();
    let rescheduled = booked
        .iter()
        .filter(|a| {
            a.steps
                .iter()
                .any(|(_, change, _)| *change == AppointmentChange::Rescheduled)
        })
        .count();
    let no_shows = concluded
        .iter()
        .filter(|c| **c == AppointmentChange::NoShow)
        .count();
    use FigureKind::{Amount, Share};
    vec![
        ("bookings", Amount, Some(booked.len() as f64)),
        (
            "first_availability_days",
            Amount,
            mean(&waits).map(|d| round(d, 2)),
        ),
        ("slots", Amount, Some(offered.len() as f64)),
        (
            "capacity_hours",
            Amount,
            Some(round(offered_minutes as f64 / 60.0, 2)),
        ),
        (
            "average_slot_minutes",
            Amount,
            (!offered.is_empty()).then(|| round(offered_minutes as f64 / offered.len() as f64, 2)),
        ),
        (
            "saturation",
            Share,
            (offered_minutes > 0).then(|| round(booked_minutes as f64 / offered_minutes as f64, 4)),
        ),
        ("cancelled_share", Share, share(cancelled, booked.len())),
        ("rescheduled_share", Share, share(rescheduled, booked.len())),
        ("no_show_share", Share, share(no_shows, concluded.len())),
    ]
}

fn application_figures(input: &KpiInput, period: &Period) -> NamedFigures {
    let digests = || input.applications.iter().map(|a| (a, &a.digest));
    let submitted = digests()
        .filter(|(_, d)| d.submitted.is_some_and(|t| period.contains(t)))
        .count();
    let mut take_charge: Vec<f64> = digests()
        .filter_map(|(_, d)| {
            let (taken, sent) = (d.taken?, d.submitted?);
            (period.contains(taken) && sent <= taken).then(|| (taken - sent) as f64 / HOUR_MS)
        })
        .collect();
    let outcomes: Vec<(&Application, ApplicationStep, Option<f64>)> = digests()
        .filter_map(|(a, d)| d.outcome.map(|o| (a, o, d.outcome_days)))
        .filter(|(_, outcome, _)| period.contains(outcome.time_ms))
        .collect();
    let mut outcome_days: Vec<f64> = outcomes.iter().filter_map(|(_, _, days)| *days).collect();
    let accepted = outcomes
        .iter()
        .filter(|(_, o, _)| o.state == ApplicationState::Accettata)
        .count();
    let with_deadline: Vec<bool> = outcomes
        .iter()
        .filter_map(|(a, _, days)| Some((*days)? <= f64::from(a.legal_deadline_days?)))
        .collect();
    let hours = |values: &mut Vec<f64>, p: f64| nearest_rank(values, p).map(|v| round(v, 2));
    use FigureKind::{Amount, Share};
    vec![
        ("submitted", Amount, Some(submitted as f64)),
        (
            "take_charge_hours_median",
            Amount,
            hours(&mut take_charge, 0.5),
        ),
        (
            "take_charge_hours_p90",
            Amount,
            hours(&mut take_charge, 0.9),
        ),
        ("outcome_days_median", Amount, hours(&mut outcome_days, 0.5)),
        ("outcome_days_p90", Amount, hours(&mut outcome_days, 0.9)),
        ("acceptance_rate", Share, share(accepted, outcomes.len())),
        (
            "within_deadline_share",
            Share,
            share(
                with_deadline.iter().filter(|w| **w).count(),
                with_deadline.len(),
            ),
        ),
    ]
}

fn backlog(input: &KpiInput, period: &Period) -> Vec<(&'static str, u64)> {
    ApplicationState::OPEN
        .into_iter()
        .map(|state| {
            let count = input
                .applications
                .iter()
                .filter(|a| a.state_at(period.end_ms) == Some(state))
                .count();
            (state.code(), count as u64)
        })
        .collect()
}

fn state_hours(input: &KpiInput, period: &Period) -> Vec<(&'static str, Option<f64>)> {
    let mut stays: HashMap<ApplicationState, Vec<f64>> = HashMap::new();
    for application in &input.applications {
        let mut entered: Option<ApplicationStep> = None;
        for step in &application.steps {
            match entered {
                Some(current) if current.state == step.state => {}
                Some(current) => {
                    if period.contains(step.time_ms) {
                        stays
                            .entry(current.state)
                            .or_default()
                            .push((step.time_ms - current.time_ms) as f64 / HOUR_MS);
                    }
                    entered = Some(*step);
                }
                None => entered = Some(*step),
            }
        }
    }
    ApplicationState::ALL
        .into_iter()
        .map(|state| {
            let hours = stays.get(&state).and_then(|h| mean(h)).map(|h| round(h, 2));
            (state.code(), hours)
        })
        .collect()
}

/// A figure with its variations (docs/KPIS.md, "Variations").
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Figure {
    /// The figure in the period; `None` without data (counts are 0, never `None`).
    pub value: Option<f64>,
    /// Minus the previous period's.
    pub delta_previous: Option<f64>,
    /// Relative to the previous period (amounts), or in percentage points (shares).
    pub delta_previous_pct: Option<f64>,
    /// Minus the mean of the up to twelve earlier periods with a value.
    pub delta_average: Option<f64>,
    /// Relative to that mean (amounts), or in percentage points (shares).
    pub delta_average_pct: Option<f64>,
}

/// A JSON number: integral values without a fraction.
fn number(value: Option<f64>) -> Value {
    match value {
        Some(v) if v.fract() == 0.0 && v.abs() < 9.0e15 => Value::from(v as i64),
        Some(v) => serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number),
        None => Value::Null,
    }
}

impl utoipa::PartialSchema for Figure {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
        let number = |description: &str| {
            ObjectBuilder::new()
                .schema_type(SchemaType::from_iter([Type::Number, Type::Null]))
                .description(Some(description))
        };
        ObjectBuilder::new()
            .description(Some("A figure of one period with its variations (docs/KPIS.md)."))
            .property("value", number("The figure; null without data (counts are 0)."))
            .property("delta_previous", number("Minus the previous period's value."))
            .property("delta_previous_pct", number("Relative change (amounts) or percentage points (shares) against the previous period."))
            .property("delta_average", number("Minus the mean of up to 12 earlier periods with a value."))
            .property("delta_average_pct", number("Relative change or percentage points against that mean."))
            .required("value")
            .required("delta_previous")
            .required("delta_previous_pct")
            .required("delta_average")
            .required("delta_average_pct")
            .into()
    }
}

impl utoipa::ToSchema for Figure {}

impl Serialize for Figure {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(5))?;
        map.serialize_entry("value", &number(self.value))?;
        map.serialize_entry("delta_previous", &number(self.delta_previous))?;
        map.serialize_entry("delta_previous_pct", &number(self.delta_previous_pct))?;
        map.serialize_entry("delta_average", &number(self.delta_average))?;
        map.serialize_entry("delta_average_pct", &number(self.delta_average_pct))?;
        map.end()
    }
}

/// `series[index]` with its variations against `series[index - 1]` and the mean of up to
/// [`AVERAGE_PERIODS`] values before it.
pub fn figure(series: &[Option<f64>], index: usize, kind: FigureKind) -> Figure {
    let value = series.get(index).copied().flatten();
    let previous = index
        .checked_sub(1)
        .and_then(|i| series.get(i).copied().flatten());
    let earlier: Vec<f64> = series[index.saturating_sub(AVERAGE_PERIODS)..index.min(series.len())]
        .iter()
        .flatten()
        .copied()
        .collect();
    let average = mean(&earlier);
    let delta = |base: Option<f64>| Some(value? - base?);
    let relative = |base: Option<f64>| -> Option<f64> {
        let base = base.filter(|b| *b != 0.0)?;
        match kind {
            FigureKind::Amount => Some(round((value? - base) / base, 4)),
            FigureKind::Share => Some(round((value? - base) * 100.0, 2)),
        }
    };
    let decimals = match kind {
        FigureKind::Amount => 2,
        FigureKind::Share => 4,
    };
    Figure {
        value,
        delta_previous: delta(previous).map(|d| round(d, decimals)),
        delta_previous_pct: relative(previous),
        delta_average: delta(average).map(|d| round(d, decimals)),
        delta_average_pct: relative(average),
    }
}

/// Appointment and application figures of one period, with variations.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PeriodKpis {
    /// First local date.
    pub start: NaiveDate,
    /// First local date after the period.
    pub end: NaiveDate,
    /// Appointment figures by name.
    pub appointments: BTreeMap<&'static str, Figure>,
    /// Application figures by name, with `backlog` (counts by open state) and
    /// `state_hours` (a figure per state).
    pub applications: ApplicationKpis,
}

/// The application half of a period.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ApplicationKpis {
    /// Figures by name.
    #[serde(flatten)]
    pub figures: BTreeMap<&'static str, Figure>,
    /// Applications in each open state at the period's end.
    pub backlog: BTreeMap<&'static str, u64>,
    /// Mean hours in each state, for applications that left it in the period.
    pub state_hours: BTreeMap<&'static str, Figure>,
}

/// The KPIs of the periods after the first [`AVERAGE_PERIODS`] of `periods` (the history
/// [`periods_with_history`] adds), each with its variations.
pub fn kpis(input: &KpiInput, periods: &[Period]) -> Vec<PeriodKpis> {
    let raw = compute(input, periods);
    let series = |pick: &dyn Fn(&RawFigures) -> Option<f64>| -> Vec<Option<f64>> {
        raw.iter().map(pick).collect()
    };
    let figures =
        |list: fn(&RawFigures) -> &NamedFigures, index: usize| -> BTreeMap<&'static str, Figure> {
            list(&raw[index])
                .iter()
                .enumerate()
                .map(|(position, (name, kind, _))| {
                    let values = series(&|r: &RawFigures| list(r)[position].2);
                    (*name, figure(&values, index, *kind))
                })
                .collect()
        };
    (AVERAGE_PERIODS.min(periods.len())..periods.len())
        .map(|index| PeriodKpis {
            start: periods[index].start,
            end: periods[index].end,
            appointments: figures(|r| &r.appointments, index),
            applications: ApplicationKpis {
                figures: figures(|r| &r.applications, index),
                backlog: raw[index].backlog.iter().copied().collect(),
                state_hours: raw[index]
                    .state_hours
                    .iter()
                    .enumerate()
                    .map(|(position, (state, _))| {
                        let values = series(&|r: &RawFigures| r.state_hours[position].1);
                        (*state, figure(&values, index, FigureKind::Amount))
                    })
                    .collect(),
            },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ROME: Tz = chrono_tz::Europe::Rome;
    const NOW: i64 = 1_900_000_000_000;

    fn event(id: &str, kind: &str, time: &str, subject: &str, data: Value) -> ServiceEvent {
        let mut raw = json!({
            "specversion": "1.0", "id": id, "source": "urn:opencity:bugliano",
            "type": format!("it.satisfy.{kind}"), "time": time, "data": data,
        });
        if !subject.is_empty() {
            raw["subject"] = json!(subject);
        }
        ServiceEvent::parse(&raw, NOW).unwrap()
    }

    fn date(raw: &str) -> NaiveDate {
        NaiveDate::parse_from_str(raw, "%Y-%m-%d").unwrap()
    }

    /// The KPIs of the one period containing `day`.
    fn week_of(events: Vec<ServiceEvent>, scope: &KpiScope, day: &str) -> PeriodKpis {
        let periods = periods_with_history(Granularity::Week, ROME, date(day), date(day)).unwrap();
        let input = KpiInput::from_events(events, scope);
        let mut weeks = kpis(&input, &periods);
        assert_eq!(weeks.len(), 1);
        weeks.remove(0)
    }

    fn value(figures: &BTreeMap<&'static str, Figure>, name: &str) -> Option<f64> {
        figures[name].value
    }

    fn appointment_events() -> Vec<ServiceEvent> {
        let slots = |n: usize| -> Value {
            (0..n)
                .map(|i| {
                    json!({"start": format!("2026-11-05T{:02}:{:02}:00+01:00", 9 + i / 2, (i % 2) * 30),
                           "minutes": 30})
                })
                .collect()
        };
        let booked = |id: &str, time: &str, subject: &str, slot: &str, first: Option<&str>| {
            let mut data = json!({"calendar": "anagrafe", "service": "cie", "office": "centro",
                                  "slot_start": slot, "slot_minutes": 30});
            if let Some(first) = first {
                data["first_available_slot"] = json!(first);
            }
            event(id, "appointment.booked", time, subject, data)
        };
        let change = |id: &str, kind: &str, time: &str, subject: &str| {
            event(id, kind, time, subject, json!({"calendar": "anagrafe"}))
        };
        vec![
            // The day's offer, then a later version replacing it: 6 slots of 30 minutes.
            event(
                "d1",
                "calendar.day",
                "2026-10-20T08:00:00+02:00",
                "",
                json!({"calendar": "anagrafe", "service": "cie", "office": "centro",
                         "date": "2026-11-05", "slots": slots(4)}),
            ),
            event(
                "d2",
                "calendar.day",
                "2026-10-27T08:00:00+01:00",
                "",
                json!({"calendar": "anagrafe", "service": "cie", "office": "centro",
                         "date": "2026-11-05", "slots": slots(6)}),
            ),
            booked(
                "a1",
                "2026-11-02T10:00:00+01:00",
                "A",
                "2026-11-05T09:00:00+01:00",
                Some("2026-11-04T10:00:00+01:00"),
            ),
            booked(
                "b1",
                "2026-11-03T10:00:00+01:00",
                "B",
                "2026-11-05T09:30:00+01:00",
                Some("2026-11-04T22:00:00+01:00"),
            ),
            change(
                "b2",
                "appointment.cancelled",
                "2026-11-04T08:00:00+01:00",
                "B",
            ),
            booked(
                "c1",
                "2026-11-03T12:00:00+01:00",
                "C",
                "2026-11-05T10:00:00+01:00",
                None,
            ),
            event(
                "c2",
                "appointment.rescheduled",
                "2026-11-04T12:00:00+01:00",
                "C",
                json!({"calendar": "anagrafe", "slot_start": "2026-11-12T09:00:00+01:00",
                         "slot_minutes": 30}),
            ),
            booked(
                "d-1",
                "2026-10-28T10:00:00+01:00",
                "D",
                "2026-11-05T10:30:00+01:00",
                None,
            ),
            change(
                "d-2",
                "appointment.attended",
                "2026-11-05T10:45:00+01:00",
                "D",
            ),
            change(
                "a2",
                "appointment.no_show",
                "2026-11-05T09:40:00+01:00",
                "A",
            ),
        ]
    }

    #[test]
    fn appointment_figures_follow_the_definitions_exactly() {
        let week = week_of(appointment_events(), &KpiScope::default(), "2026-11-04");
        let figures = &week.appointments;
        assert_eq!(
            (week.start, week.end),
            (date("2026-11-02"), date("2026-11-09"))
        );
        assert_eq!(
            value(figures, "bookings"),
            Some(3.0),
            "A, B, C; D was booked before"
        );
        assert_eq!(
            value(figures, "first_availability_days"),
            Some(1.75),
            "mean of 2 and 1.5"
        );
        assert_eq!(
            value(figures, "slots"),
            Some(6.0),
            "the latest offer replaces the first"
        );
        assert_eq!(value(figures, "capacity_hours"), Some(3.0));
        assert_eq!(value(figures, "average_slot_minutes"), Some(30.0));
        // A (no-show) and D (attended) hold 60 of 180 offered minutes; B is cancelled and
        // C moved to the next week.
        assert_eq!(value(figures, "saturation"), Some(0.3333));
        assert_eq!(value(figures, "cancelled_share"), Some(0.3333));
        assert_eq!(value(figures, "rescheduled_share"), Some(0.3333));
        assert_eq!(value(figures, "no_show_share"), Some(0.5));
        // The previous week had one booking (D) and nothing offered.
        assert_eq!(figures["bookings"].delta_previous, Some(2.0));
        assert_eq!(figures["bookings"].delta_previous_pct, Some(2.0));
        assert_eq!(figures["saturation"].delta_previous, None, "no base");
    }

    fn application_events() -> Vec<ServiceEvent> {
        let status = |id: &str, time: &str, subject: &str, state: &str, deadline: Option<u32>| {
            let mut data = json!({"service": "residenza", "service_name": "Cambio di residenza",
                                  "office": "anagrafe", "state": state});
            if let Some(days) = deadline {
                data["legal_deadline_days"] = json!(days);
            }
            event(id, "application.status", time, subject, data)
        };
        vec![
            status(
                "p1-1",
                "2026-10-19T09:00:00+02:00",
                "P1",
                "inviata",
                Some(5),
            ),
            status(
                "p1-2",
                "2026-10-20T09:00:00+02:00",
                "P1",
                "presa_in_carico",
                None,
            ),
            status(
                "p1-3",
                "2026-10-21T09:00:00+02:00",
                "P1",
                "richiesta_integrazione",
                None,
            ),
            status(
                "p1-4",
                "2026-10-23T09:00:00+02:00",
                "P1",
                "integrazione_ricevuta",
                None,
            ),
            // Sunday 25 October has 25 hours: 23:30 is still in the week of the 19th.
            status("p1-5", "2026-10-25T23:30:00+01:00", "P1", "accettata", None),
            status(
                "p2-1",
                "2026-10-20T10:00:00+02:00",
                "P2",
                "inviata",
                Some(3),
            ),
            status(
                "p2-2",
                "2026-10-22T10:00:00+02:00",
                "P2",
                "presa_in_carico",
                None,
            ),
            status("p2-3", "2026-10-24T10:00:00+02:00", "P2", "rifiutata", None),
            status("p3-1", "2026-10-21T10:00:00+02:00", "P3", "inviata", None),
            // Monday 00:30 local is Sunday 23:30 UTC: the next week.
            status(
                "p3-2",
                "2026-10-26T00:30:00+01:00",
                "P3",
                "presa_in_carico",
                None,
            ),
            status("p4-1", "2026-10-18T10:00:00+02:00", "P4", "bozza", None),
        ]
    }

    #[test]
    fn application_figures_follow_the_definitions_across_the_dst_week() {
        let week = week_of(application_events(), &KpiScope::default(), "2026-10-25");
        let figures = &week.applications.figures;
        assert_eq!(
            (week.start, week.end),
            (date("2026-10-19"), date("2026-10-26"))
        );
        assert_eq!(value(figures, "submitted"), Some(3.0));
        assert_eq!(value(figures, "take_charge_hours_median"), Some(24.0));
        assert_eq!(value(figures, "take_charge_hours_p90"), Some(48.0));
        // P1: 159.5 hours (the 25-hour Sunday included) minus 48 suspended = 4.6458 days;
        // P2: 4 days.
        assert_eq!(value(figures, "outcome_days_median"), Some(4.0));
        assert_eq!(value(figures, "outcome_days_p90"), Some(4.65));
        assert_eq!(value(figures, "acceptance_rate"), Some(0.5));
        assert_eq!(
            value(figures, "within_deadline_share"),
            Some(0.5),
            "P1 in 5 days, P2 late"
        );
        let backlog = &week.applications.backlog;
        assert_eq!(
            backlog["inviata"], 1,
            "P3, taken in charge only after the week"
        );
        assert_eq!(backlog.values().sum::<u64>(), 1);
        let hours = |state: &str| week.applications.state_hours[state].value;
        assert_eq!(hours("inviata"), Some(36.0));
        assert_eq!(hours("presa_in_carico"), Some(36.0));
        assert_eq!(hours("richiesta_integrazione"), Some(48.0));
        assert_eq!(hours("integrazione_ricevuta"), Some(63.5));
        assert_eq!(hours("bozza"), None, "P4 never left it");

        let next = week_of(application_events(), &KpiScope::default(), "2026-10-26");
        let figures = &next.applications.figures;
        assert_eq!(
            value(figures, "submitted"),
            Some(0.0),
            "counts are 0, not null"
        );
        assert_eq!(value(figures, "take_charge_hours_median"), Some(111.5));
        assert_eq!(value(figures, "acceptance_rate"), None, "no outcome: null");
        assert_eq!(figures["submitted"].delta_previous, Some(-3.0));
        assert_eq!(figures["submitted"].delta_previous_pct, Some(-1.0));
        assert_eq!(next.applications.backlog["presa_in_carico"], 1);
    }

    #[test]
    fn duplicates_late_and_shuffled_events_give_the_same_figures() {
        let events = application_events();
        let reference = week_of(events.clone(), &KpiScope::default(), "2026-10-21");
        let mut shuffled: Vec<ServiceEvent> = events.iter().rev().cloned().collect();
        // A redelivery of P2's outcome with another state is the same event: ignored.
        let mut duplicate = events[7].clone();
        if let EventKind::ApplicationStatus { state, .. } = &mut duplicate.kind {
            *state = ApplicationState::Accettata;
        }
        shuffled.insert(0, events[7].clone());
        shuffled.push(duplicate);
        shuffled.extend(events.iter().cloned());
        assert_eq!(
            week_of(shuffled, &KpiScope::default(), "2026-10-21"),
            reference
        );
    }

    #[test]
    fn scopes_narrow_by_service_office_and_calendar() {
        let mut events = appointment_events();
        events.extend(application_events());
        let scope =
            |service: Option<&str>, office: Option<&str>, calendar: Option<&str>| KpiScope {
                service: service.map(str::to_owned),
                office: office.map(str::to_owned),
                calendar: calendar.map(str::to_owned),
            };
        let bookings = |s: &KpiScope| {
            value(
                &week_of(events.clone(), s, "2026-11-04").appointments,
                "bookings",
            )
        };
        let submitted = |s: &KpiScope| {
            value(
                &week_of(events.clone(), s, "2026-10-21")
                    .applications
                    .figures,
                "submitted",
            )
        };
        assert_eq!(bookings(&scope(Some("cie"), None, None)), Some(3.0));
        assert_eq!(bookings(&scope(Some("residenza"), None, None)), Some(0.0));
        assert_eq!(
            bookings(&scope(None, Some("centro"), Some("anagrafe"))),
            Some(3.0)
        );
        assert_eq!(bookings(&scope(None, None, Some("tributi"))), Some(0.0));
        assert_eq!(
            submitted(&scope(Some("residenza"), Some("anagrafe"), None)),
            Some(3.0)
        );
        assert_eq!(submitted(&scope(Some("cie"), None, None)), Some(0.0));
        assert_eq!(
            submitted(&scope(None, None, Some("tributi"))),
            Some(3.0),
            "no calendar"
        );
    }

    #[test]
    fn variations_compare_with_the_previous_period_and_the_mean_of_twelve() {
        let counts: Vec<Option<f64>> = (0..14).map(|i| Some(f64::from(i))).collect();
        let f = figure(&counts, 13, FigureKind::Amount);
        assert_eq!(f.value, Some(13.0));
        assert_eq!(f.delta_previous, Some(1.0));
        assert_eq!(f.delta_previous_pct, Some(0.0833), "1 / 12");
        // Mean of periods 1..=12 is 6.5.
        assert_eq!(f.delta_average, Some(6.5));
        assert_eq!(f.delta_average_pct, Some(1.0));
        let shares = [Some(0.5), None, Some(0.25), Some(0.4)];
        let f = figure(&shares, 3, FigureKind::Share);
        assert_eq!(f.delta_previous, Some(0.15));
        assert_eq!(f.delta_previous_pct, Some(15.0), "percentage points");
        assert_eq!(
            f.delta_average,
            Some(0.025),
            "mean of the values present: 0.375"
        );
        assert_eq!(f.delta_average_pct, Some(2.5));
        let zero_base = [Some(0.0), Some(3.0)];
        assert_eq!(
            figure(&zero_base, 1, FigureKind::Amount).delta_previous_pct,
            None
        );
        let json = serde_json::to_value(figure(&zero_base, 1, FigureKind::Amount)).unwrap();
        assert_eq!(
            json,
            json!({"value": 3, "delta_previous": 3, "delta_previous_pct": null,
                   "delta_average": 3, "delta_average_pct": null})
        );
    }

    #[test]
    fn nearest_rank_percentiles() {
        let mut values = vec![15.0, 20.0, 35.0, 40.0, 50.0];
        assert_eq!(nearest_rank(&mut values, 0.5), Some(35.0));
        assert_eq!(nearest_rank(&mut values, 0.9), Some(50.0));
        assert_eq!(nearest_rank(&mut [7.0], 0.9), Some(7.0));
        assert_eq!(nearest_rank(&mut [], 0.5), None);
    }

    #[test]
    fn periods_reach_twelve_back_and_follow_local_midnights() {
        let periods = periods_with_history(
            Granularity::Month,
            ROME,
            date("2026-03-10"),
            date("2026-04-02"),
        )
        .unwrap();
        assert_eq!(periods.len(), AVERAGE_PERIODS + 2);
        assert_eq!(periods[0].start, date("2025-03-01"));
        let march = periods[AVERAGE_PERIODS];
        assert_eq!(
            (march.start, march.end),
            (date("2026-03-01"), date("2026-04-01"))
        );
        // March 2026 loses an hour to DST: 30 days and 23 hours.
        assert_eq!(march.end_ms - march.start_ms, (30 * 24 + 23) * 3_600_000);
    }
}
