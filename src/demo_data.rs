//! A year of plausible platform events and ratings for a demo ente, so that a newcomer's
//! first `cargo run --release` shows full service KPI pages within a minute.
//!
//! The data goes to its own tenant, `demo` ("Comune di Bugliano (demo)"), never to the
//! operator's: the first administrator switches to it in the console header. It is
//! generated once, in the background after the server started, with progress on the log;
//! the same seed gives the same data. `SATISFY_DEMO_DATA=false` turns it off.

use chrono::{Datelike, Days, NaiveDate, TimeZone, Weekday};
use chrono_tz::Tz;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use satisfy_aggregator::{EventStore, RatingStore, SqliteStore, StoredRating};
use satisfy_console::SharedConfigStore;
use satisfy_console::store::{Tenant, TenantStatus, new_entrypoint};
use satisfy_core::event::{ApplicationState, EventKind, ServiceEvent, Slot, StoredEvent};
use satisfy_core::{
    EntrypointId, EntrypointKind, Origin, RatingSubmission, RawRating, Survey, TenantId,
};

/// Setting recording that the demo data exists.
const DONE_SETTING: &str = "demo_data";
/// The demo tenant.
pub const DEMO_TENANT: &str = "demo";
/// Events per write, and per progress line.
const CHUNK: usize = 5_000;
const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// One demo service: id, name, and what it runs.
struct DemoService {
    id: &'static str,
    name: &'static str,
    /// Appointments booked per open day, on a calendar of this many 30-minute slots.
    appointments: Option<(u32, u32)>,
    /// Applications submitted per open day, with the legal deadline in days.
    applications: Option<(u32, u32)>,
    /// Ratings per open day and the probability of each star count 1–5.
    ratings: (u32, [f64; 5]),
}

const SERVICES: [DemoService; 4] = [
    DemoService {
        id: "cie",
        name: "Carta d'identità elettronica",
        appointments: Some((12, 16)),
        applications: None,
        ratings: (3, [0.03, 0.05, 0.12, 0.35, 0.45]),
    },
    DemoService {
        id: "residenza",
        name: "Cambio di residenza",
        appointments: None,
        applications: Some((4, 45)),
        ratings: (2, [0.08, 0.12, 0.2, 0.32, 0.28]),
    },
    DemoService {
        id: "tari",
        name: "TARI - Tassa sui rifiuti",
        appointments: Some((4, 8)),
        applications: Some((3, 30)),
        ratings: (2, [0.15, 0.17, 0.25, 0.25, 0.18]),
    },
    DemoService {
        id: "mensa",
        name: "Mensa scolastica",
        appointments: None,
        applications: Some((5, 30)),
        ratings: (2, [0.05, 0.08, 0.17, 0.35, 0.35]),
    },
];

/// Generates the demo ente's data unless it exists; logs progress.
pub async fn ensure(
    config: SharedConfigStore,
    store: SqliteStore,
    origins: Vec<Origin>,
) -> anyhow::Result<()> {
    if config.setting(DONE_SETTING).await?.is_some() {
        return Ok(());
    }
    let tenant = TenantId::parse(DEMO_TENANT).ok_or_else(|| anyhow::anyhow!("demo slug"))?;
    let tz: Tz = chrono_tz::Europe::Rome;
    let now_ms = chrono::Utc::now().timestamp_millis();
    let today = chrono::Utc::now().with_timezone(&tz).date_naive();
    let mut generator = Generator::new(tz, now_ms);
    let mut ratings = Vec::new();
    let mut entrypoints = Vec::new();
    for service in &SERVICES {
        let mut entrypoint = new_entrypoint(
            tenant.clone(),
            format!("Scheda servizio - {}", service.name),
            EntrypointKind::SchedaServizio,
            origins.clone(),
            None,
        );
        // From the seed, as the ratings' ids are: a start interrupted while writing them
        // and the next one agree on the entrypoint each rating belongs to.
        entrypoint.id = EntrypointId::from_random(generator.rng.r#gen());
        entrypoint.service = Some(service.id.into());
        ratings.extend(generator.ratings(service, &entrypoint.id, &tenant, today));
        generator.service(service, today);
        entrypoints.push(entrypoint);
    }
    let events: Vec<StoredEvent> = generator
        .events
        .into_iter()
        .map(|event| StoredEvent {
            event,
            tenant: tenant.clone(),
            received_at_ms: now_ms,
        })
        .collect();
    let total = events.len();
    tracing::info!(
        events = total,
        ratings = ratings.len(),
        "generating the demo ente's year of data"
    );
    for (index, chunk) in events.chunks(CHUNK).enumerate() {
        store.write_events(chunk).await?;
        let done = ((index + 1) * CHUNK).min(total);
        tracing::info!(
            done,
            total,
            "demo events written ({}%)",
            done * 100 / total.max(1)
        );
    }
    for chunk in ratings.chunks(CHUNK) {
        store.write_batch(chunk).await?;
    }
    // The tenant appears last, with everything in place.
    ensure_demo_tenant(config.as_ref()).await?;
    for entrypoint in &entrypoints {
        config.create_entrypoint(entrypoint).await?;
    }
    config.set_setting(DONE_SETTING, "done").await?;
    tracing::info!(
        "demo ente ready: switch to «Comune di Bugliano (demo)» in the console header, then Servizi"
    );
    Ok(())
}

/// The demo ente, created if missing: Rome's time zone, three languages, and no site
/// address (its ratings still name pages of [`DEMO_SITE`]).
pub(crate) async fn ensure_demo_tenant(
    config: &dyn satisfy_console::ConfigStore,
) -> anyhow::Result<TenantId> {
    let tenant = TenantId::parse(DEMO_TENANT).ok_or_else(|| anyhow::anyhow!("demo slug"))?;
    if config.tenant(&tenant).await?.is_none() {
        config
            .create_tenant(&Tenant {
                slug: tenant.clone(),
                name: "Comune di Bugliano (demo)".into(),
                ipa_code: None,
                // No site address: the weekly compliance check would crawl it, and
                // Bugliano's site is not this install's to visit.
                site_url: None,
                time_zone: "Europe/Rome".into(),
                languages: vec!["it".into(), "en".into(), "de".into()],
                status: TenantStatus::Active,
                created_at: chrono::Utc::now().timestamp(),
                retention_months: Tenant::DEFAULT_RETENTION_MONTHS,
            })
            .await?;
    }
    Ok(tenant)
}

/// The demo ente's website.
pub(crate) const DEMO_SITE: &str = "https://www.comune.bugliano.pi.it";

/// Deterministic event generation.
struct Generator {
    rng: StdRng,
    tz: Tz,
    now_ms: i64,
    events: Vec<ServiceEvent>,
    next_id: u64,
    next_subject: u64,
}

impl Generator {
    fn new(tz: Tz, now_ms: i64) -> Generator {
        Generator {
            rng: StdRng::seed_from_u64(20_261_124),
            tz,
            now_ms,
            events: Vec::new(),
            next_id: 0,
            next_subject: 0,
        }
    }

    /// Local `date` at `minutes` past midnight, in UTC milliseconds.
    fn at(&self, date: NaiveDate, minutes: u32) -> i64 {
        let naive = date
            .and_hms_opt(minutes / 60 % 24, minutes % 60, 0)
            .unwrap_or_default();
        self.tz
            .from_local_datetime(&naive)
            .earliest()
            .map_or(naive.and_utc().timestamp_millis(), |t| t.timestamp_millis())
    }

    /// A fresh application or appointment id.
    fn subject(&mut self, prefix: &str) -> String {
        self.next_subject += 1;
        format!("{prefix}-{}", self.next_subject)
    }

    /// Adds an event that has happened by now.
    fn push(&mut self, time_ms: i64, subject: &str, kind: EventKind) {
        if time_ms > self.now_ms {
            return;
        }
        self.next_id += 1;
        self.events.push(ServiceEvent {
            source: "urn:satisfy:demo".into(),
            id: format!("demo-{}", self.next_id),
            time_ms,
            subject: subject.into(),
            kind,
        });
    }

    /// The open days (Monday to Friday) of the last year, and two weeks ahead for
    /// calendars.
    fn open_days(today: NaiveDate, ahead: u64) -> impl Iterator<Item = NaiveDate> {
        let first = today - Days::new(365);
        (0..365 + ahead)
            .filter_map(move |offset| first.checked_add_days(Days::new(offset)))
            .filter(|d| !matches!(d.weekday(), Weekday::Sat | Weekday::Sun))
    }

    fn service(&mut self, service: &DemoService, today: NaiveDate) {
        if let Some((per_day, slots)) = service.appointments {
            self.appointments(service, per_day, slots, today);
        }
        if let Some((per_day, deadline)) = service.applications {
            self.applications(service, per_day, deadline, today);
        }
    }

    fn appointments(&mut self, service: &DemoService, per_day: u32, slots: u32, today: NaiveDate) {
        let calendar = format!("sportello-{}", service.id);
        let office = Some("Sportello al cittadino".to_owned());
        for date in Self::open_days(today, 14).collect::<Vec<_>>() {
            let offered: Vec<Slot> = (0..slots)
                .map(|n| Slot {
                    start_ms: self.at(date, 9 * 60 + n * 30),
                    minutes: 30,
                })
                .collect();
            // Calendars are published a month ahead.
            let published = self.at(date, 0) - 30 * DAY_MS;
            self.push(
                published,
                "",
                EventKind::CalendarDay {
                    calendar: calendar.clone(),
                    service: service.id.into(),
                    service_name: Some(service.name.into()),
                    office: office.clone(),
                    date,
                    slots: offered.clone(),
                },
            );
            // Busier in spring, quieter in August.
            let season = if date.month() == 8 { 0.4 } else { 1.0 };
            let booked =
                ((per_day as f64 * season) * self.rng.gen_range(0.7..1.2)).round() as usize;
            for slot in offered.iter().take(booked.min(offered.len())) {
                let subject = self.subject(&calendar);
                let lead_days = self.rng.gen_range(2..20);
                let booked_at =
                    slot.start_ms - lead_days * DAY_MS - self.rng.gen_range(0..8) * HOUR_MS;
                let first_available =
                    booked_at + self.rng.gen_range(24..(lead_days * 24).max(25)) * HOUR_MS;
                self.push(
                    booked_at,
                    &subject,
                    EventKind::AppointmentBooked {
                        calendar: calendar.clone(),
                        service: service.id.into(),
                        service_name: Some(service.name.into()),
                        office: office.clone(),
                        slot: *slot,
                        first_available_slot_ms: Some(first_available),
                    },
                );
                let roll: f64 = self.rng.gen_range(0.0..1.0);
                let change =
                    booked_at + self.rng.gen_range(1..(lead_days.max(2) * 24 - 1)) * HOUR_MS;
                if roll < 0.07 {
                    self.push(
                        change,
                        &subject,
                        EventKind::AppointmentCancelled {
                            calendar: calendar.clone(),
                        },
                    );
                    continue;
                }
                let mut at = *slot;
                if roll < 0.13 {
                    at.start_ms += 2 * DAY_MS;
                    self.push(
                        change,
                        &subject,
                        EventKind::AppointmentRescheduled {
                            calendar: calendar.clone(),
                            slot: at,
                        },
                    );
                }
                let kind = if self.rng.gen_bool(0.06) {
                    EventKind::AppointmentNoShow {
                        calendar: calendar.clone(),
                    }
                } else {
                    EventKind::AppointmentAttended {
                        calendar: calendar.clone(),
                    }
                };
                self.push(at.start_ms + 40 * 60_000, &subject, kind);
            }
        }
    }

    fn applications(
        &mut self,
        service: &DemoService,
        per_day: u32,
        deadline: u32,
        today: NaiveDate,
    ) {
        let office = Some(format!("Ufficio {}", service.name));
        for date in Self::open_days(today, 0).collect::<Vec<_>>() {
            let season = match (service.id, date.month()) {
                ("mensa", 8 | 9) => 3.0,
                ("mensa", 7) => 0.3,
                (_, 8) => 0.5,
                _ => 1.0,
            };
            let count = ((per_day as f64 * season) * self.rng.gen_range(0.6..1.3)).round() as u32;
            for _ in 0..count {
                let subject = self.subject(service.id);
                let minute = self.rng.gen_range(8 * 60..20 * 60);
                let mut t = self.at(date, minute);
                let step = |generator: &mut Generator,
                            t: i64,
                            state: ApplicationState,
                            deadline: Option<u32>| {
                    generator.push(
                        t,
                        &subject,
                        EventKind::ApplicationStatus {
                            service: service.id.into(),
                            service_name: Some(service.name.into()),
                            office: office.clone(),
                            state,
                            legal_deadline_days: deadline,
                        },
                    );
                };
                step(self, t, ApplicationState::Inviata, Some(deadline));
                t += self.rng.gen_range(1..6) * HOUR_MS;
                step(self, t, ApplicationState::Protocollata, None);
                t += self.rng.gen_range(4..96) * HOUR_MS;
                step(self, t, ApplicationState::PresaInCarico, None);
                if self.rng.gen_bool(0.2) {
                    t += self.rng.gen_range(1..5) * DAY_MS;
                    step(self, t, ApplicationState::RichiestaIntegrazione, None);
                    t += self.rng.gen_range(2..15) * DAY_MS;
                    step(self, t, ApplicationState::IntegrazioneRicevuta, None);
                }
                t += self.rng.gen_range(1..i64::from(deadline) + 10) * DAY_MS;
                let outcome = if self.rng.gen_bool(0.88) {
                    ApplicationState::Accettata
                } else {
                    ApplicationState::Rifiutata
                };
                step(self, t, outcome, None);
            }
        }
    }

    /// Ratings on the service's page, spread over the year.
    fn ratings(
        &mut self,
        service: &DemoService,
        entrypoint: &EntrypointId,
        tenant: &TenantId,
        today: NaiveDate,
    ) -> Vec<StoredRating> {
        let survey = Survey::for_kind(EntrypointKind::SchedaServizio, None, satisfy_core::Lang::It);
        let (per_day, weights) = service.ratings;
        let mut ratings = Vec::new();
        for date in Self::open_days(today, 0).collect::<Vec<_>>() {
            for _ in 0..self.rng.gen_range(0..=per_day * 2) {
                let draw: f64 = self.rng.gen_range(0.0..1.0);
                let mut cumulative = 0.0;
                let stars = weights
                    .iter()
                    .position(|w| {
                        cumulative += w;
                        draw < cumulative
                    })
                    .map_or(5, |i| i + 1);
                let id = uuid_from(self.rng.r#gen()).to_string();
                let page = format!("https://www.comune.bugliano.pi.it/servizi/{}", service.id);
                let raw = RawRating {
                    id: &id,
                    entrypoint: entrypoint.as_str(),
                    page: &page,
                    rating: stars as i64,
                    lang: "it",
                    ..RawRating::default()
                };
                let minute = self.rng.gen_range(8 * 60..22 * 60);
                let received = self.at(date, minute);
                let parsed = RatingSubmission::from_raw(raw).and_then(|r| r.into_rating(&survey));
                if let (Ok(rating), true) = (parsed, received <= self.now_ms) {
                    ratings.push(StoredRating {
                        rating,
                        tenant: tenant.clone(),
                        received_at_ms: received,
                    });
                }
            }
        }
        ratings
    }
}

/// A version-4-shaped UUID string from 128 random bits.
pub(crate) fn uuid_from(bits: u128) -> String {
    uuid_text(bits, 4)
}

/// A version-7-shaped UUID string: the milliseconds `at_ms` in its first 48 bits, so ids
/// sort by time, then random bits.
pub(crate) fn time_ordered_uuid(at_ms: i64, random: u128) -> String {
    let millis = u128::from(at_ms.max(0) as u64 & 0xffff_ffff_ffff);
    uuid_text(millis << 80 | random & ((1 << 80) - 1), 7)
}

/// `bits` as a UUID string with the given version and the RFC 9562 variant.
fn uuid_text(bits: u128, version: u128) -> String {
    let bits = (bits & !(0xf << 76) | (version << 76)) & !(0x3 << 62) | (0x2 << 62);
    let hex = format!("{bits:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use satisfy_console::store::SqliteConfigStore;
    use std::sync::Arc;

    /// The ids of the demo ente's entrypoints after a first start on fresh stores.
    async fn demo_entrypoints() -> Vec<String> {
        let dir = tempfile::tempdir().unwrap();
        let config: SharedConfigStore =
            Arc::new(SqliteConfigStore::open(&dir.path().join("console.db")).unwrap());
        let store = SqliteStore::open(&dir.path().join("ratings.db")).unwrap();
        ensure(Arc::clone(&config), store, Vec::new())
            .await
            .unwrap();
        let tenant = TenantId::parse(DEMO_TENANT).unwrap();
        let demo = config.tenant(&tenant).await.unwrap().unwrap();
        assert_eq!(demo.site_url, None, "no weekly crawl of a site not ours");
        let mut ids: Vec<String> = config
            .entrypoints(&tenant)
            .await
            .unwrap()
            .into_iter()
            .map(|entrypoint| entrypoint.id.as_str().to_owned())
            .collect();
        ids.sort();
        ids
    }

    /// A start interrupted while writing the ratings leaves them stored; the next start must
    /// give them the same entrypoints, or they would stay with ones that never exist.
    #[tokio::test]
    async fn every_start_gives_the_demo_ratings_the_same_entrypoints() {
        let first = demo_entrypoints().await;
        assert_eq!(first.len(), SERVICES.len());
        assert_eq!(first, demo_entrypoints().await);
    }
}
