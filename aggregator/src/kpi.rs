//! Service KPIs from platform events, exactly as docs/KPIS.md defines them: appointment
//! figures (bookings, first availability, slots, capacity, saturation, cancellations,
//! reschedulings, no-shows) and application figures (submissions, backlog, time to take
//! charge and to an outcome net of suspensions, acceptance, legal deadlines, time per
//! state), per day, ISO week or month in the tenant's time zone, each with its variation
//! against the previous period and against the mean of the twelve before.
//!
//! Both storage backends hand this module a service's events digested per application,
//! appointment and calendar day ([`KpiInput`]): SQLite through [`KpiInput::from_events`],
//! ClickHouse from tables its materialized views keep grouped. The figures are computed
//! here alone, so the backends give the same numbers; the conformance suite checks what
//! the stores must get right (duplicates, late and out-of-order events, scopes) and that
//! each store's digest equals the one built from its stored events.
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
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

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

/// One step of an application: the moment it reached a state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApplicationStep {
    /// When, Unix milliseconds.
    pub time_ms: i64,
    /// The state reached.
    pub state: ApplicationState,
}

/// One application (`source`, `subject`), as the figures see it.
#[derive(Debug, Clone, PartialEq)]
pub struct Application {
    /// The service of its latest event.
    pub service: String,
    /// The office of its latest event.
    pub office: Option<String>,
    /// The latest legal deadline given, in days.
    pub legal_deadline_days: Option<u32>,
    /// Its steps in time order (ties by event `id`).
    pub steps: Vec<ApplicationStep>,
}

/// What an appointment event says happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppointmentChange {
    /// `it.satisfy.appointment.booked`.
    Booked,
    /// `it.satisfy.appointment.rescheduled`.
    Rescheduled,
    /// `it.satisfy.appointment.cancelled`.
    Cancelled,
    /// `it.satisfy.appointment.attended`.
    Attended,
    /// `it.satisfy.appointment.no_show`.
    NoShow,
}

impl AppointmentChange {
    /// Every change, in the order stores number them.
    pub const ALL: [AppointmentChange; 5] = [
        AppointmentChange::Booked,
        AppointmentChange::Rescheduled,
        AppointmentChange::Cancelled,
        AppointmentChange::Attended,
        AppointmentChange::NoShow,
    ];

    /// The CloudEvents `type` of the event carrying it.
    pub fn type_name(self) -> &'static str {
        match self {
            AppointmentChange::Booked => "it.satisfy.appointment.booked",
            AppointmentChange::Rescheduled => "it.satisfy.appointment.rescheduled",
            AppointmentChange::Cancelled => "it.satisfy.appointment.cancelled",
            AppointmentChange::Attended => "it.satisfy.appointment.attended",
            AppointmentChange::NoShow => "it.satisfy.appointment.no_show",
        }
    }
}

/// One step of an appointment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppointmentStep {
    /// When, Unix milliseconds.
    pub time_ms: i64,
    /// What happened.
    pub change: AppointmentChange,
    /// The slot a `booked` or `rescheduled` event names.
    pub slot: Option<Slot>,
}

/// An appointment's first `booked` event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Booking {
    /// When it was booked, Unix milliseconds.
    pub time_ms: i64,
    /// The earliest free slot offered then.
    pub first_available_ms: Option<i64>,
}

/// One appointment (`source`, `subject`), as the figures see it.
#[derive(Debug, Clone, PartialEq)]
pub struct Appointment {
    /// The calendar of its latest event.
    pub calendar: String,
    /// The service of its latest `booked` event.
    pub service: Option<String>,
    /// The office of its latest `booked` event.
    pub office: Option<String>,
    /// Its first `booked` event.
    pub booking: Option<Booking>,
    /// Its steps in time order (ties by event `id`).
    pub steps: Vec<AppointmentStep>,
}

impl Appointment {
    /// An appointment known so far only by its calendar.
    fn new(calendar: &str) -> Appointment {
        Appointment {
            calendar: calendar.to_owned(),
            service: None,
            office: None,
            booking: None,
            steps: Vec::new(),
        }
    }

    /// The slot of its latest `booked` or `rescheduled` event.
    fn current_slot(&self) -> Option<Slot> {
        self.steps.iter().rev().find_map(|step| step.slot)
    }

    /// Its latest change at or before `at_ms`.
    fn change_at(&self, at_ms: i64) -> Option<AppointmentChange> {
        self.steps
            .iter()
            .rev()
            .find(|step| step.time_ms <= at_ms)
            .map(|step| step.change)
    }

    fn change_now(&self) -> Option<AppointmentChange> {
        self.steps.last().map(|step| step.change)
    }
}

/// The slots a calendar offers on one date, from its latest `calendar.day` event.
#[derive(Debug, Clone, PartialEq)]
pub struct CalendarDay {
    /// The calendar.
    pub calendar: String,
    /// The service its slots are for.
    pub service: String,
    /// The office.
    pub office: Option<String>,
    /// The slots offered.
    pub slots: Vec<Slot>,
}

/// Events digested per application, appointment and calendar day: what the figures read.
/// Stores may build it in their own query language ([`crate::EventStore::service_activity`]);
/// [`KpiInput::from_events`] builds it from events.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KpiInput {
    /// Applications, in no particular order.
    pub applications: Vec<Application>,
    /// Appointments, in no particular order.
    pub appointments: Vec<Appointment>,
    /// Calendar days, in no particular order.
    pub calendar_days: Vec<CalendarDay>,
}

/// Offices and calendars named in a [`KpiInput`], for a page's filters.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Places {
    /// Offices, sorted.
    pub offices: Vec<String>,
    /// Calendars, sorted.
    pub calendars: Vec<String>,
}

impl KpiInput {
    /// Digests events (in any order, duplicates allowed: the first of each (`source`,
    /// `id`) counts) and keeps what `scope` covers.
    pub fn from_events(
        events: impl IntoIterator<Item = ServiceEvent>,
        scope: &KpiScope,
    ) -> KpiInput {
        let events: Vec<ServiceEvent> = events.into_iter().collect();
        let mut seen: HashSet<(&str, &str)> = HashSet::with_capacity(events.len());
        let firsts: Vec<bool> = events
            .iter()
            .map(|e| seen.insert((e.source.as_str(), e.id.as_str())))
            .collect();
        drop(seen);
        let mut events: Vec<ServiceEvent> = events
            .into_iter()
            .zip(firsts)
            .filter_map(|(event, first)| first.then_some(event))
            .collect();
        // Each application or appointment becomes one run, in time order; ties keep an
        // order by id, so every store digests alike.
        events.sort_unstable_by(|a, b| {
            (&a.source, &a.subject, a.time_ms, &a.id)
                .cmp(&(&b.source, &b.subject, b.time_ms, &b.id))
        });
        let mut input = KpiInput::default();
        // The latest version of each calendar day, by (time, source, id).
        type Version = (i64, String, String);
        let mut days: HashMap<(String, NaiveDate), (Version, CalendarDay)> = HashMap::new();
        let mut application: Option<Application> = None;
        let mut appointment: Option<Appointment> = None;
        let mut entity: Option<(String, String)> = None;
        for event in events {
            if entity.as_ref().is_none_or(|(source, subject)| {
                *source != event.source || *subject != event.subject
            }) {
                input.applications.extend(application.take());
                input.appointments.extend(appointment.take());
                entity = Some((event.source.clone(), event.subject.clone()));
            }
            let time_ms = event.time_ms;
            let (calendar, change, slot) = match event.kind {
                EventKind::ApplicationStatus {
                    service,
                    office,
                    state,
                    legal_deadline_days,
                    ..
                } => {
                    let application = application.get_or_insert_with(|| Application {
                        service: String::new(),
                        office: None,
                        legal_deadline_days: None,
                        steps: Vec::new(),
                    });
                    application.service = service;
                    application.office = office;
                    if legal_deadline_days.is_some() {
                        application.legal_deadline_days = legal_deadline_days;
                    }
                    application.steps.push(ApplicationStep { time_ms, state });
                    continue;
                }
                EventKind::CalendarDay {
                    calendar,
                    service,
                    office,
                    date,
                    slots,
                    ..
                } => {
                    let version = (time_ms, event.source, event.id);
                    let day = CalendarDay {
                        calendar: calendar.clone(),
                        service,
                        office,
                        slots,
                    };
                    match days.entry((calendar, date)) {
                        Entry::Occupied(mut latest) if latest.get().0 < version => {
                            latest.insert((version, day));
                        }
                        Entry::Occupied(_) => {}
                        Entry::Vacant(first) => {
                            first.insert((version, day));
                        }
                    }
                    continue;
                }
                EventKind::AppointmentBooked {
                    calendar,
                    service,
                    office,
                    slot,
                    first_available_slot_ms,
                    ..
                } => {
                    let booked = appointment.get_or_insert_with(|| Appointment::new(&calendar));
                    booked.service = Some(service);
                    booked.office = office;
                    booked.booking.get_or_insert(Booking {
                        time_ms,
                        first_available_ms: first_available_slot_ms,
                    });
                    (calendar, AppointmentChange::Booked, Some(slot))
                }
                EventKind::AppointmentRescheduled { calendar, slot } => {
                    (calendar, AppointmentChange::Rescheduled, Some(slot))
                }
                EventKind::AppointmentCancelled { calendar } => {
                    (calendar, AppointmentChange::Cancelled, None)
                }
                EventKind::AppointmentAttended { calendar } => {
                    (calendar, AppointmentChange::Attended, None)
                }
                EventKind::AppointmentNoShow { calendar } => {
                    (calendar, AppointmentChange::NoShow, None)
                }
            };
            let changed = appointment.get_or_insert_with(|| Appointment::new(&calendar));
            changed.calendar = calendar;
            changed.steps.push(AppointmentStep {
                time_ms,
                change,
                slot,
            });
        }
        input.applications.extend(application);
        input.appointments.extend(appointment);
        input.calendar_days = days.into_values().map(|(_, day)| day).collect();
        input.narrowed(scope)
    }

    /// Keeps what `scope` covers: `service` and `office` narrow everything, `calendar`
    /// appointments and calendar days only.
    pub fn narrowed(mut self, scope: &KpiScope) -> KpiInput {
        let covers = |service: Option<&str>, office: Option<&str>| {
            scope.service.as_deref().is_none_or(|s| service == Some(s))
                && scope.office.as_deref().is_none_or(|o| office == Some(o))
        };
        let on_calendar = |calendar: &str| scope.calendar.as_deref().is_none_or(|c| c == calendar);
        self.applications
            .retain(|a| covers(Some(&a.service), a.office.as_deref()));
        self.appointments.retain(|a| {
            on_calendar(&a.calendar) && covers(a.service.as_deref(), a.office.as_deref())
        });
        self.calendar_days
            .retain(|d| on_calendar(&d.calendar) && covers(Some(&d.service), d.office.as_deref()));
        self
    }

    /// The offices and calendars its applications, appointments and days name.
    pub fn places(&self) -> Places {
        let mut offices = BTreeSet::new();
        let mut calendars = BTreeSet::new();
        offices.extend(self.applications.iter().filter_map(|a| a.office.as_deref()));
        for appointment in &self.appointments {
            offices.extend(appointment.office.as_deref());
            calendars.insert(appointment.calendar.as_str());
        }
        for day in &self.calendar_days {
            offices.extend(day.office.as_deref());
            calendars.insert(day.calendar.as_str());
        }
        Places {
            offices: offices.into_iter().map(str::to_owned).collect(),
            calendars: calendars.into_iter().map(str::to_owned).collect(),
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

/// The moments of an application the figures use.
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

impl Application {
    fn digest(&self) -> ApplicationDigest {
        let first = |state: ApplicationState| {
            self.steps
                .iter()
                .find(|s| s.state == state)
                .map(|s| s.time_ms)
        };
        let submitted = first(ApplicationState::Inviata);
        let outcome = self.steps.iter().copied().find(|s| s.state.is_outcome());
        ApplicationDigest {
            submitted,
            taken: first(ApplicationState::PresaInCarico),
            outcome,
            outcome_days: submitted
                .zip(outcome)
                .and_then(|(submitted, outcome)| self.net_days(submitted, outcome.time_ms)),
        }
    }

    /// Days from `submitted` (its first `inviata`) to `until`, minus the time between each
    /// `richiesta_integrazione` and the next `integrazione_ricevuta` (an open one lasts
    /// until `until`).
    fn net_days(&self, submitted: i64, until: i64) -> Option<f64> {
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

/// Which of a list of periods (ascending, not overlapping) holds an instant.
struct Timeline<'a>(&'a [Period]);

impl Timeline<'_> {
    fn index(&self, ms: i64) -> Option<usize> {
        let index = self.0.partition_point(|p| p.end_ms <= ms);
        self.0
            .get(index)
            .is_some_and(|p| p.contains(ms))
            .then_some(index)
    }
}

/// What one period's appointment figures count.
#[derive(Default)]
struct AppointmentTally {
    booked: usize,
    waits: Vec<f64>,
    cancelled: usize,
    rescheduled: usize,
    slots: usize,
    offered_minutes: u64,
    booked_minutes: u64,
    concluded: usize,
    no_shows: usize,
}

/// What one period's application figures count.
#[derive(Default)]
struct ApplicationTally {
    submitted: usize,
    take_charge_hours: Vec<f64>,
    outcomes: usize,
    accepted: usize,
    outcome_days: Vec<f64>,
    with_deadline: usize,
    within_deadline: usize,
    backlog: [u64; ApplicationState::OPEN.len()],
    stays: [Vec<f64>; ApplicationState::ALL.len()],
}

/// The raw figures of every period of `periods` (ascending, not overlapping). Each
/// application and appointment is visited once, whatever the number of periods.
pub fn compute(input: &KpiInput, periods: &[Period]) -> Vec<RawFigures> {
    let timeline = Timeline(periods);
    let mut appointments: Vec<AppointmentTally> = Vec::new();
    appointments.resize_with(periods.len(), Default::default);
    let mut applications: Vec<ApplicationTally> = Vec::new();
    applications.resize_with(periods.len(), Default::default);
    tally_appointments(input, &timeline, &mut appointments);
    tally_applications(input, &timeline, &mut applications);
    appointments
        .iter()
        .zip(applications.iter_mut())
        .map(|(appointments, applications)| RawFigures {
            appointments: appointment_figures(appointments),
            applications: application_figures(applications),
            backlog: ApplicationState::OPEN
                .iter()
                .zip(applications.backlog)
                .map(|(state, count)| (state.code(), count))
                .collect(),
            state_hours: ApplicationState::ALL
                .iter()
                .zip(&applications.stays)
                .map(|(state, hours)| (state.code(), mean(hours).map(|h| round(h, 2))))
                .collect(),
        })
        .collect()
}

fn tally_appointments(input: &KpiInput, timeline: &Timeline, tallies: &mut [AppointmentTally]) {
    for appointment in &input.appointments {
        if let Some(booking) = appointment.booking
            && let Some(index) = timeline.index(booking.time_ms)
        {
            let tally = &mut tallies[index];
            tally.booked += 1;
            if let Some(first) = booking.first_available_ms {
                tally.waits.push((first - booking.time_ms) as f64 / DAY_MS);
            }
            if appointment.change_now() == Some(AppointmentChange::Cancelled) {
                tally.cancelled += 1;
            }
            if appointment
                .steps
                .iter()
                .any(|step| step.change == AppointmentChange::Rescheduled)
            {
                tally.rescheduled += 1;
            }
        }
        if let Some(slot) = appointment.current_slot()
            && let Some(index) = timeline.index(slot.start_ms)
        {
            let tally = &mut tallies[index];
            if appointment.change_at(timeline.0[index].end_ms) != Some(AppointmentChange::Cancelled)
            {
                tally.booked_minutes += u64::from(slot.minutes);
            }
            match appointment.change_now() {
                Some(AppointmentChange::Attended) => tally.concluded += 1,
                Some(AppointmentChange::NoShow) => {
                    tally.concluded += 1;
                    tally.no_shows += 1;
                }
                _ => {}
            }
        }
    }
    for slot in input.calendar_days.iter().flat_map(|d| &d.slots) {
        if let Some(index) = timeline.index(slot.start_ms) {
            tallies[index].slots += 1;
            tallies[index].offered_minutes += u64::from(slot.minutes);
        }
    }
}

fn tally_applications(input: &KpiInput, timeline: &Timeline, tallies: &mut [ApplicationTally]) {
    let state_index =
        |state: ApplicationState| ApplicationState::ALL.iter().position(|s| *s == state);
    for application in &input.applications {
        let digest = application.digest();
        if let Some(index) = digest.submitted.and_then(|t| timeline.index(t)) {
            tallies[index].submitted += 1;
        }
        if let (Some(taken), Some(sent)) = (digest.taken, digest.submitted)
            && sent <= taken
            && let Some(index) = timeline.index(taken)
        {
            tallies[index]
                .take_charge_hours
                .push((taken - sent) as f64 / HOUR_MS);
        }
        if let Some(outcome) = digest.outcome
            && let Some(index) = timeline.index(outcome.time_ms)
        {
            let tally = &mut tallies[index];
            tally.outcomes += 1;
            if outcome.state == ApplicationState::Accettata {
                tally.accepted += 1;
            }
            if let Some(days) = digest.outcome_days {
                tally.outcome_days.push(days);
                if let Some(deadline) = application.legal_deadline_days {
                    tally.with_deadline += 1;
                    if days <= f64::from(deadline) {
                        tally.within_deadline += 1;
                    }
                }
            }
        }
        // The state at each period's end: steps and periods are both in time order.
        let mut reached = 0;
        for (tally, period) in tallies.iter_mut().zip(timeline.0) {
            while application
                .steps
                .get(reached)
                .is_some_and(|step| step.time_ms <= period.end_ms)
            {
                reached += 1;
            }
            let state = reached.checked_sub(1).map(|i| application.steps[i].state);
            if let Some(open) =
                state.and_then(|state| ApplicationState::OPEN.iter().position(|s| *s == state))
            {
                tally.backlog[open] += 1;
            }
        }
        // A stay ends at the next step in another state; it counts where it ends.
        let mut entered: Option<ApplicationStep> = None;
        for step in &application.steps {
            match entered {
                Some(current) if current.state == step.state => {}
                Some(current) => {
                    if let Some(index) = timeline.index(step.time_ms)
                        && let Some(state) = state_index(current.state)
                    {
                        tallies[index].stays[state]
                            .push((step.time_ms - current.time_ms) as f64 / HOUR_MS);
                    }
                    entered = Some(*step);
                }
                None => entered = Some(*step),
            }
        }
    }
}

fn appointment_figures(tally: &AppointmentTally) -> NamedFigures {
    use FigureKind::{Amount, Share};
    vec![
        ("bookings", Amount, Some(tally.booked as f64)),
        (
            "first_availability_days",
            Amount,
            mean(&tally.waits).map(|d| round(d, 2)),
        ),
        ("slots", Amount, Some(tally.slots as f64)),
        (
            "capacity_hours",
            Amount,
            Some(round(tally.offered_minutes as f64 / 60.0, 2)),
        ),
        (
            "average_slot_minutes",
            Amount,
            (tally.slots > 0).then(|| round(tally.offered_minutes as f64 / tally.slots as f64, 2)),
        ),
        (
            "saturation",
            Share,
            (tally.offered_minutes > 0).then(|| {
                round(
                    tally.booked_minutes as f64 / tally.offered_minutes as f64,
                    4,
                )
            }),
        ),
        (
            "cancelled_share",
            Share,
            share(tally.cancelled, tally.booked),
        ),
        (
            "rescheduled_share",
            Share,
            share(tally.rescheduled, tally.booked),
        ),
        (
            "no_show_share",
            Share,
            share(tally.no_shows, tally.concluded),
        ),
    ]
}

fn application_figures(tally: &mut ApplicationTally) -> NamedFigures {
    let hours = |values: &mut Vec<f64>, p: f64| nearest_rank(values, p).map(|v| round(v, 2));
    use FigureKind::{Amount, Share};
    vec![
        ("submitted", Amount, Some(tally.submitted as f64)),
        (
            "take_charge_hours_median",
            Amount,
            hours(&mut tally.take_charge_hours, 0.5),
        ),
        (
            "take_charge_hours_p90",
            Amount,
            hours(&mut tally.take_charge_hours, 0.9),
        ),
        (
            "outcome_days_median",
            Amount,
            hours(&mut tally.outcome_days, 0.5),
        ),
        (
            "outcome_days_p90",
            Amount,
            hours(&mut tally.outcome_days, 0.9),
        ),
        (
            "acceptance_rate",
            Share,
            share(tally.accepted, tally.outcomes),
        ),
        (
            "within_deadline_share",
            Share,
            share(tally.within_deadline, tally.with_deadline),
        ),
    ]
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
