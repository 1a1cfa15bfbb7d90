//! `satisfy demo-data --ratings N`: many plausible ratings, for demonstrations and for
//! measuring the dashboards at scale.
//!
//! Ratings go to the demo ente's website entrypoints (created with the ente if missing),
//! or to one existing entrypoint (`--entrypoint`), in the same store `serve` reads (the
//! data directory's SQLite) or in ClickHouse (`--clickhouse-url`, distributed mode). They
//! spread over the last `--days` days with the weekly rhythm of a comune's site (busy on
//! weekdays and office hours), over realistic pages of uneven popularity and quality,
//! with the official follow-up answers and a few comments in Italian, English and German.
//! One page gets worse over the last month, so the overview has something to show.

use std::sync::Arc;

use anyhow::Context;
use chrono::{Datelike, TimeZone, Timelike};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use satisfy_aggregator::{
    ClickHouseAccess, ClickHouseStore, RatingStore, SqliteStore, StoredRating, WriteOutcome,
};
use satisfy_console::store::new_entrypoint;
use satisfy_core::{
    Entrypoint, EntrypointId, EntrypointKind, Origin, RatingSubmission, RawRating, Survey,
};

use crate::configuration::{DatabaseSettings, parse_http_url, parse_secret};
use crate::demo_data::{DEMO_SITE as SITE, ensure_demo_tenant, time_ordered_uuid};
use secrecy::SecretString;

/// `satisfy demo-data`.
#[derive(Debug, Args)]
pub struct DemoDataArgs {
    /// The console's configuration database (and, without ClickHouse, the ratings' SQLite
    /// in the same data directory), as given to `serve`.
    #[command(flatten)]
    pub database: DatabaseSettings,

    /// ClickHouse HTTP interface of a distributed deployment: ratings go there.
    #[arg(long = "clickhouse-url", env = "SATISFY_CLICKHOUSE_URL", value_parser = parse_http_url)]
    pub clickhouse_url: Option<String>,

    /// ClickHouse database.
    #[arg(
        long = "clickhouse-database",
        env = "SATISFY_CLICKHOUSE_DATABASE",
        default_value = "satisfy"
    )]
    pub clickhouse_database: String,

    /// ClickHouse user.
    #[arg(long = "clickhouse-user", env = "SATISFY_CLICKHOUSE_USER")]
    pub clickhouse_user: Option<String>,

    /// The ClickHouse user's password.
    #[arg(long = "clickhouse-password", env = "SATISFY_CLICKHOUSE_PASSWORD", hide_env_values = true, value_parser = parse_secret)]
    pub clickhouse_password: Option<SecretString>,

    /// How many ratings to write.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    pub ratings: u64,

    /// Rate this existing entrypoint instead of the demo ente's website.
    #[arg(long)]
    pub entrypoint: Option<String>,

    /// Spread the ratings over this many days up to now.
    #[arg(long, default_value_t = 365, value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub days: u32,

    /// Seed of the generator: the same seed gives the same ratings (a second run then
    /// updates them instead of adding more); random by default.
    #[arg(long)]
    pub seed: Option<u64>,
}

/// Ratings per write: one transaction (SQLite) or insert (ClickHouse) each.
const BATCH: usize = 20_000;
const DAY_MS: i64 = 86_400_000;

/// The demo website's pages: path, relative popularity, and its star weights 1-5.
const PAGES: [(&str, u32, [u32; 5]); 16] = [
    ("/", 40, [4, 5, 12, 35, 44]),
    ("/servizi", 25, [5, 6, 14, 35, 40]),
    (
        "/servizi/carta-identita-elettronica",
        22,
        [3, 4, 10, 33, 50],
    ),
    ("/servizi/cambio-di-residenza", 14, [10, 12, 20, 30, 28]),
    ("/servizi/tari", 12, [16, 17, 24, 24, 19]),
    ("/servizi/mensa-scolastica", 9, [5, 8, 17, 35, 35]),
    ("/servizi/permesso-ztl", 8, [12, 14, 22, 28, 24]),
    ("/amministrazione", 7, [6, 8, 20, 36, 30]),
    (
        "/amministrazione/uffici/ufficio-anagrafe",
        6,
        [7, 9, 18, 34, 32],
    ),
    ("/novita", 10, [3, 5, 15, 37, 40]),
    (
        "/novita/avvisi/chiusura-uffici-festivita",
        4,
        [4, 6, 14, 36, 40],
    ),
    ("/vivere-il-comune", 6, [3, 5, 14, 36, 42]),
    (
        "/vivere-il-comune/luoghi/biblioteca-comunale",
        4,
        [2, 4, 12, 34, 48],
    ),
    ("/documenti-e-dati", 3, [10, 12, 24, 30, 24]),
    ("/prenota-appuntamento", 9, [9, 10, 18, 31, 32]),
    ("/segnalazione-disservizio", 5, [14, 15, 22, 26, 23]),
];

/// The page whose ratings fall over the last 30 days.
const WORSENING_PAGE: &str = "/servizi/tari";

/// Relative traffic per weekday, Monday first.
const WEEKDAYS: [u32; 7] = [120, 115, 110, 105, 95, 50, 40];

const COMMENTS_NEGATIVE: [(&str, &str); 9] = [
    ("it", "Non si capisce quali documenti servono."),
    ("it", "Il modulo non si apre dal telefono."),
    ("it", "Mancano gli orari dello sportello."),
    ("it", "Ho dovuto chiamare l'ufficio per capire come fare."),
    ("it", "La pagina rimanda a un link che non funziona."),
    ("en", "I could not find the opening hours."),
    ("en", "The form does not load on my phone."),
    ("de", "Die Öffnungszeiten fehlen."),
    ("de", "Das Formular lässt sich nicht öffnen."),
];

const COMMENTS_POSITIVE: [(&str, &str); 7] = [
    ("it", "Tutto chiaro, grazie."),
    ("it", "Ho trovato subito quello che cercavo."),
    ("it", "Finalmente si fa tutto online."),
    ("it", "Informazioni complete e aggiornate."),
    ("en", "Clear and quick, thank you."),
    ("de", "Alles klar und schnell erledigt."),
    ("de", "Sehr übersichtlich, danke."),
];

/// Picks an index by integer weights.
fn weighted(rng: &mut StdRng, weights: &[u32]) -> usize {
    let total: u32 = weights.iter().sum();
    let mut draw = rng.gen_range(0..total.max(1));
    for (index, weight) in weights.iter().enumerate() {
        if draw < *weight {
            return index;
        }
        draw -= weight;
    }
    weights.len() - 1
}

/// Generates ratings for entrypoints, deterministically from a seed, oldest first.
///
/// Ratings come in the order intake would have received them over the period, with ids
/// that grow with their reception time (version 7 UUIDs): SQLite then appends to the end
/// of its indexes and rollups instead of rewriting pages all over them, which is what
/// made a million ratings take minutes.
struct Generator {
    rng: StdRng,
    tz: chrono_tz::Tz,
    now_ms: i64,
    days: i64,
    /// How many ratings each of the last `days` days receives (oldest first).
    day_counts: Vec<u64>,
    /// The next day whose ratings are still to be generated.
    next_day: usize,
    /// The current day's reception times still to be used, latest first.
    pending: Vec<i64>,
    /// The ids' random bits: a stream of their own, so that the n-th rating of a seed
    /// has the same id whatever day it is generated on and whatever else was drawn.
    ids: StdRng,
    /// Ratings generated so far: the ids' time-ordered part, so that ids sort in the
    /// order of reception and each write appends to the indexes.
    generated: i64,
}

/// Where the ids' time-ordered part starts (2026-01-01 UTC), counting one millisecond a
/// rating.
const IDS_FROM_MS: i64 = 1_767_225_600_000;

impl Generator {
    /// The ratings of `entrypoint` (whose id salts the ratings' ids, so that two
    /// entrypoints rated with one seed never share an id).
    fn new(
        seed: u64,
        entrypoint: &str,
        tz: chrono_tz::Tz,
        now_ms: i64,
        days: u32,
        total: u64,
    ) -> Generator {
        let days = i64::from(days);
        let day_weights: Vec<u32> = (0..days)
            .map(|back| {
                let date = tz
                    .timestamp_millis_opt(now_ms - (days - 1 - back) * DAY_MS)
                    .single()
                    .map(|t| t.weekday().num_days_from_monday())
                    .unwrap_or(0);
                WEEKDAYS[date as usize]
            })
            .collect();
        Generator {
            rng: StdRng::seed_from_u64(seed),
            tz,
            now_ms,
            days,
            day_counts: shares(total, &day_weights),
            next_day: 0,
            pending: Vec::new(),
            ids: StdRng::seed_from_u64(seed ^ fnv1a(entrypoint)),
            generated: 0,
        }
    }

    /// When the next rating is received, or `None` once every rating of the period was:
    /// within a day, by the office's hours, never in the future.
    fn received(&mut self) -> Option<i64> {
        while self.pending.is_empty() {
            let day = self.next_day;
            let count = *self.day_counts.get(day)?;
            self.next_day += 1;
            let start_of_day = self.now_ms - (self.days - 1 - day as i64) * DAY_MS;
            let local = self
                .tz
                .timestamp_millis_opt(start_of_day)
                .single()
                .map(|t| i64::from(t.num_seconds_from_midnight()) * 1000)
                .unwrap_or(0);
            let midnight = start_of_day - local;
            for _ in 0..count {
                // Office hours mostly: 8:00-20:00, a tail until 23:00.
                let minute = if self.rng.gen_bool(0.85) {
                    self.rng.gen_range(8 * 60..20 * 60)
                } else {
                    self.rng.gen_range(20 * 60..23 * 60)
                };
                let at = midnight + minute * 60_000 + self.rng.gen_range(0..60_000);
                self.pending.push(at.min(self.now_ms));
            }
            self.pending.sort_unstable_by(|a, b| b.cmp(a));
        }
        self.pending.pop()
    }

    /// The next rating, or `None` once the period has all its ratings.
    fn rating(
        &mut self,
        entrypoint: &Entrypoint,
        survey: &Survey,
        site: &str,
    ) -> anyhow::Result<Option<StoredRating>> {
        let Some(received) = self.received() else {
            return Ok(None);
        };
        let page_weights: Vec<u32> = PAGES.iter().map(|(_, weight, _)| *weight).collect();
        let (path, _, stars_weights) = PAGES[weighted(&mut self.rng, &page_weights)];
        let worse = path == WORSENING_PAGE && received > self.now_ms - 30 * DAY_MS;
        let stars = if worse {
            weighted(&mut self.rng, &[40, 25, 18, 10, 7]) + 1
        } else {
            weighted(&mut self.rng, &stars_weights) + 1
        };
        let negative = stars <= 3;
        // Each follow-up shown for these stars is answered seven times in ten; on the
        // worsening page, mostly with its fourth option (technical problems, officially).
        let mut answers = Vec::new();
        for follow_up in survey
            .follow_ups
            .iter()
            .filter(|f| f.is_shown_for(stars as u8))
        {
            if !self.rng.gen_bool(0.7) {
                continue;
            }
            let weights: Vec<u32> = match (follow_up.options.len(), worse) {
                (5, true) => vec![10, 10, 10, 60, 10],
                (5, false) => vec![30, 25, 20, 10, 15],
                (n, _) => vec![1; n],
            };
            if let Some(option) = follow_up.options.get(weighted(&mut self.rng, &weights)) {
                answers.push(option.id.clone());
            }
        }
        let lang = ["it", "en", "de"][weighted(&mut self.rng, &[90, 6, 4])];
        let comment = if self.rng.gen_bool(0.08) {
            let pool: Vec<&str> = if negative {
                COMMENTS_NEGATIVE.iter()
            } else {
                COMMENTS_POSITIVE.iter()
            }
            .filter(|(l, _)| *l == lang)
            .map(|(_, text)| *text)
            .collect();
            pool.get(self.rng.gen_range(0..pool.len().max(1))).copied()
        } else {
            None
        };
        let id = time_ordered_uuid(IDS_FROM_MS + self.generated, self.ids.r#gen()).to_string();
        self.generated += 1;
        let page = format!("{site}{path}");
        let raw = RawRating {
            id: &id,
            entrypoint: entrypoint.id.as_str(),
            page: &page,
            rating: stars as i64,
            answers: answers.iter().map(String::as_str).collect(),
            comment,
            lang,
            widget: None,
        };
        let rating = RatingSubmission::from_raw(raw)
            .and_then(|submission| submission.into_rating(survey))
            .map_err(|error| anyhow::anyhow!("generated rating refused: {error}"))?;
        Ok(Some(StoredRating {
            rating,
            tenant: entrypoint.tenant.clone(),
            received_at_ms: received,
        }))
    }
}

/// `total` split in proportion to `weights`, each share rounded so that they add up to
/// `total` exactly.
fn shares(total: u64, weights: &[u32]) -> Vec<u64> {
    let sum: u128 = weights.iter().map(|w| u128::from(*w)).sum::<u128>().max(1);
    let mut cumulative = 0u128;
    let mut given = 0u64;
    weights
        .iter()
        .map(|weight| {
            cumulative += u128::from(*weight);
            // At most `total`, since `cumulative` is at most `sum`.
            let upto = u64::try_from(u128::from(total) * cumulative / sum).unwrap_or(total);
            let share = upto - given;
            given = upto;
            share
        })
        .collect()
}

/// The demo ente and its website entrypoint, created if missing.
async fn demo_entrypoints(
    config: &dyn satisfy_console::ConfigStore,
) -> anyhow::Result<Vec<Entrypoint>> {
    const NAME: &str = "Sito istituzionale";
    let tenant = ensure_demo_tenant(config).await?;
    let existing: Vec<Entrypoint> = config
        .entrypoints(&tenant)
        .await?
        .into_iter()
        .filter(|e| e.name == NAME)
        .collect();
    if !existing.is_empty() {
        return Ok(existing);
    }
    let entrypoint = new_entrypoint(
        tenant,
        NAME.into(),
        EntrypointKind::PaginaWeb,
        Origin::parse(SITE).into_iter().collect(),
        None,
    );
    config.create_entrypoint(&entrypoint).await?;
    Ok(vec![entrypoint])
}

/// Runs `satisfy demo-data`.
pub async fn run(args: DemoDataArgs) -> anyhow::Result<()> {
    let config = args.database.open().await?;
    let store: Arc<dyn RatingStore> = match &args.clickhouse_url {
        Some(url) => Arc::new(
            ClickHouseStore::connect(&ClickHouseAccess {
                url: url.clone(),
                database: args.clickhouse_database.clone(),
                user: args.clickhouse_user.clone(),
                password: args.clickhouse_password.clone(),
            })
            .await
            .context("connecting to ClickHouse")?,
        ),
        None => {
            std::fs::create_dir_all(&args.database.data_dir)?;
            let path = args.database.data_dir.join("ratings.db");
            Arc::new(
                SqliteStore::open(&path).with_context(|| format!("opening {}", path.display()))?,
            )
        }
    };
    let entrypoint = match &args.entrypoint {
        Some(raw) => {
            let id = EntrypointId::parse(raw).context("--entrypoint is not an entrypoint id")?;
            config
                .intake_entrypoints()
                .await?
                .into_iter()
                .find(|e| e.id == id)
                .with_context(|| format!("no active entrypoint {raw}"))?
        }
        None => demo_entrypoints(config.as_ref())
            .await?
            .into_iter()
            .next()
            .context("the demo entrypoint")?,
    };
    let site = entrypoint
        .allowed_origins
        .first()
        .map(|o| o.as_str().to_owned())
        .unwrap_or_else(|| SITE.to_owned());
    let tz = match config.tenant(&entrypoint.tenant).await? {
        Some(tenant) => tenant.time_zone.parse().unwrap_or(chrono_tz::Europe::Rome),
        None => chrono_tz::Europe::Rome,
    };
    let mut generator = Generator::new(
        args.seed.unwrap_or_else(rand::random),
        entrypoint.id.as_str(),
        tz,
        chrono::Utc::now().timestamp_millis(),
        args.days,
        args.ratings,
    );
    let progress = ProgressBar::new(args.ratings).with_style(
        ProgressStyle::with_template(
            "{msg} [{bar:40}] {human_pos}/{human_len} ({per_sec}, {eta} left)",
        )
        .context("progress template")?
        .progress_chars("=> "),
    );
    progress.set_message(format!("rating {}", entrypoint.name));
    let survey = entrypoint.survey(satisfy_core::Lang::It);
    let started = std::time::Instant::now();
    let mut written = 0u64;
    let mut refused = 0usize;
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        let next = generator.rating(&entrypoint, &survey, &site)?;
        let done = next.is_none();
        batch.extend(next);
        if batch.len() == BATCH || (done && !batch.is_empty()) {
            let outcomes = store
                .write_batch(&batch)
                .await
                .context("writing demo ratings")?;
            refused += outcomes
                .iter()
                .filter(|o| **o == WriteOutcome::Conflict)
                .count();
            written += batch.len() as u64;
            progress.set_position(written);
            batch.clear();
        }
        if done {
            break;
        }
    }
    progress.finish();
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{written} ratings of «{}» ({}) in {seconds:.1} s ({:.0}/s)",
        entrypoint.name,
        entrypoint.id.as_str(),
        written as f64 / seconds.max(f64::EPSILON)
    );
    if refused > 0 {
        println!("{refused} of them not stored: their ids belong to another entrypoint's ratings");
    }
    Ok(())
}

/// FNV-1a of `text`: a hash that stays the same across builds and platforms.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ratings_are_valid_plausible_and_repeatable() {
        let entrypoint = new_entrypoint(
            satisfy_core::TenantId::parse("demo").unwrap(),
            "Sito".into(),
            EntrypointKind::PaginaWeb,
            vec![],
            None,
        );
        let now = 1_795_000_000_000;
        let survey = entrypoint.survey(satisfy_core::Lang::It);
        let generate_on = |now| {
            let mut generator = Generator::new(
                7,
                entrypoint.id.as_str(),
                chrono_tz::Europe::Rome,
                now,
                365,
                5_000,
            );
            std::iter::from_fn(|| generator.rating(&entrypoint, &survey, SITE).unwrap())
                .collect::<Vec<_>>()
        };
        let generate = || generate_on(now);
        let ratings = generate();
        assert_eq!(ratings.len(), 5_000);
        assert_eq!(ratings, generate(), "same seed, same ratings");
        // Another day (here a Wednesday after a Sunday), the same ids: a second run
        // updates the ratings of the first instead of adding as many.
        let ids = |ratings: &[StoredRating]| -> Vec<uuid::Uuid> {
            ratings.iter().map(|r| r.rating.id).collect()
        };
        assert_eq!(ids(&generate_on(now + 3 * DAY_MS)), ids(&ratings));
        // Another entrypoint rated with the same seed shares none of them.
        let mut other = Generator::new(
            7,
            "ep_AAAAAAAAAAAAAAAA",
            chrono_tz::Europe::Rome,
            now,
            365,
            10,
        );
        let theirs: Vec<uuid::Uuid> =
            std::iter::from_fn(|| other.rating(&entrypoint, &survey, SITE).unwrap())
                .map(|r| r.rating.id)
                .collect();
        assert!(theirs.iter().all(|id| !ids(&ratings).contains(id)));
        // Oldest first, with ids in the same order: each write appends to the indexes.
        assert!(
            ratings
                .windows(2)
                .all(|pair| pair[0].received_at_ms < pair[1].received_at_ms
                    && pair[0].rating.id < pair[1].rating.id
                    || pair[0].received_at_ms == pair[1].received_at_ms)
        );
        assert!(ratings.iter().all(|r| r.rating.id.get_version_num() == 7));
        assert!(ratings.iter().all(|r| r.received_at_ms <= now));
        assert!(
            ratings
                .iter()
                .all(|r| r.received_at_ms > now - 366 * DAY_MS)
        );
        let weekend = ratings
            .iter()
            .filter(|r| {
                let day = chrono_tz::Europe::Rome
                    .timestamp_millis_opt(r.received_at_ms)
                    .unwrap()
                    .weekday();
                matches!(day, chrono::Weekday::Sat | chrono::Weekday::Sun)
            })
            .count();
        // Weekends weigh 90 of 635: about 14%, well under 2/7.
        assert!((400..1_000).contains(&weekend), "{weekend}");
        let commented = ratings
            .iter()
            .filter(|r| r.rating.comment.is_some())
            .count();
        assert!((200..700).contains(&commented), "{commented}");
        let languages: std::collections::HashSet<&str> =
            ratings.iter().map(|r| r.rating.lang.code()).collect();
        assert_eq!(languages.len(), 3);
        let answered = ratings
            .iter()
            .filter(|r| !r.rating.answers.is_empty())
            .count();
        assert!((3_000..4_000).contains(&answered), "{answered}");
    }

    #[test]
    fn shares_add_up_to_the_total_in_proportion() {
        assert_eq!(shares(10, &[1, 1, 2]), vec![2, 3, 5]);
        assert_eq!(shares(0, &[3, 4]), vec![0, 0]);
        let days = shares(1_000_000, &WEEKDAYS);
        assert_eq!(days.iter().sum::<u64>(), 1_000_000);
        assert_eq!(days[0], 1_000_000 * 120 / 635);
    }
}
