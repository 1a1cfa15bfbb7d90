//! Ratings and aggregates as files an analyst opens in a spreadsheet or a script: CSV
//! (UTF-8 with BOM, comma or semicolon, formula-safe) and NDJSON, streamed page by page
//! so an export of millions of ratings never sits in memory.

use std::borrow::Cow;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use chrono::TimeZone;
use chrono_tz::Tz;
use satisfy_aggregator::{
    AnalyticsQuery, Bucket, RatingCursor, RatingQuery, RatingRow, StoreError, Tally,
};

/// How many ratings one store query reads while exporting.
const EXPORT_PAGE: usize = 2_000;

/// The byte-order mark that tells Excel a CSV file is UTF-8.
const BOM: &str = "\u{feff}";

/// The format of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Comma- or semicolon-separated values. With semicolons (what Excel expects where
    /// the decimal separator is a comma, as in Italy) decimals are written with a comma.
    Csv {
        /// `b','` or `b';'`.
        delimiter: u8,
    },
    /// One JSON object per line.
    Ndjson,
}

impl Format {
    /// Parses `format` (`csv` or `ndjson`) and `delimiter` (`comma`, the default, or
    /// `semicolon`).
    pub fn parse(format: &str, delimiter: Option<&str>) -> Result<Format, String> {
        let delimiter = match delimiter.filter(|d| !d.is_empty()) {
            None | Some("comma") => b',',
            Some("semicolon") => b';',
            Some(_) => return Err("delimiter must be comma or semicolon".into()),
        };
        match format {
            "csv" => Ok(Format::Csv { delimiter }),
            "ndjson" => Ok(Format::Ndjson),
            _ => Err("format must be json, csv or ndjson".into()),
        }
    }

    /// The response's Content-Type.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv { .. } => "text/csv; charset=utf-8",
            Format::Ndjson => "application/x-ndjson",
        }
    }

    /// The file name extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv { .. } => "csv",
            Format::Ndjson => "ndjson",
        }
    }

    fn decimal(self, value: f64) -> String {
        let text = format!("{value:.2}");
        match self {
            Format::Csv { delimiter: b';' } => text.replace('.', ","),
            _ => text,
        }
    }
}

/// A text cell a spreadsheet will not run: one starting with a formula character gets a
/// leading apostrophe (OWASP's advice against CSV injection).
pub fn safe_cell(text: &str) -> Cow<'_, str> {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => Cow::Owned(format!("'{text}")),
        _ => Cow::Borrowed(text),
    }
}

fn csv_writer(delimiter: u8) -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .delimiter(delimiter)
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new())
}

fn csv_bytes(writer: csv::Writer<Vec<u8>>) -> Result<Vec<u8>, StoreError> {
    writer
        .into_inner()
        .map_err(|error| StoreError(format!("export: {error}")))
}

fn csv_error(error: csv::Error) -> StoreError {
    StoreError(format!("export: {error}"))
}

/// Turns pages of ratings into the bytes of one file.
pub struct RatingsEncoder {
    format: Format,
    tz: Tz,
    /// Auditors export ratings without their comments.
    with_comment: bool,
    started: bool,
}

impl RatingsEncoder {
    /// An encoder writing times in `tz`.
    pub fn new(format: Format, tz: Tz, with_comment: bool) -> RatingsEncoder {
        RatingsEncoder {
            format,
            tz,
            with_comment,
            started: false,
        }
    }

    /// The bytes of `rows`, preceded by the BOM and header the first time.
    pub fn encode(&mut self, rows: &[RatingRow]) -> Result<Vec<u8>, StoreError> {
        let first = !std::mem::replace(&mut self.started, true);
        match self.format {
            Format::Ndjson => {
                let mut out = Vec::new();
                for row in rows {
                    let mut value = serde_json::json!({
                        "id": row.id,
                        "received_at": self.local_time(row.created_at_ms, "%Y-%m-%dT%H:%M:%S%:z"),
                        "entrypoint": row.entrypoint,
                        "page": row.page,
                        "stars": row.rating,
                        "answers": row.answers,
                        "lang": row.lang,
                    });
                    if self.with_comment {
                        value["comment"] = serde_json::json!(row.comment);
                    }
                    out.extend_from_slice(value.to_string().as_bytes());
                    out.push(b'\n');
                }
                Ok(out)
            }
            Format::Csv { delimiter } => {
                let mut writer = csv_writer(delimiter);
                if first {
                    let mut header = vec![
                        "id",
                        "received_at",
                        "entrypoint",
                        "page",
                        "stars",
                        "answers",
                    ];
                    if self.with_comment {
                        header.push("comment");
                    }
                    header.push("lang");
                    writer.write_record(&header).map_err(csv_error)?;
                }
                for row in rows {
                    let id = row.id.to_string();
                    let time = self.local_time(row.created_at_ms, "%Y-%m-%d %H:%M:%S");
                    let stars = row.rating.to_string();
                    let answers = row.answers.join("|");
                    let mut record = vec![
                        Cow::Borrowed(id.as_str()),
                        Cow::Borrowed(time.as_str()),
                        safe_cell(&row.entrypoint),
                        safe_cell(&row.page),
                        Cow::Borrowed(stars.as_str()),
                        safe_cell(&answers),
                    ];
                    if self.with_comment {
                        record.push(safe_cell(row.comment.as_deref().unwrap_or("")));
                    }
                    record.push(safe_cell(&row.lang));
                    writer
                        .write_record(record.iter().map(|cell| cell.as_bytes()))
                        .map_err(csv_error)?;
                }
                let mut out = csv_bytes(writer)?;
                if first {
                    out.splice(0..0, BOM.bytes());
                }
                Ok(out)
            }
        }
    }

    fn local_time(&self, ms: i64, pattern: &str) -> String {
        self.tz
            .timestamp_millis_opt(ms)
            .single()
            .map(|t| t.format(pattern).to_string())
            .unwrap_or_default()
    }
}

/// The body of an export of every rating `query` selects, newest first, read from the
/// store [`EXPORT_PAGE`] ratings at a time as the client takes them: memory stays one
/// page whatever the total, and a slow client slows the reads instead of piling up rows.
pub fn ratings_body(
    analytics: Arc<dyn AnalyticsQuery>,
    query: RatingQuery,
    encoder: RatingsEncoder,
) -> Body {
    struct Export {
        analytics: Arc<dyn AnalyticsQuery>,
        query: RatingQuery,
        encoder: RatingsEncoder,
        after: Option<RatingCursor>,
        rows: u64,
    }
    let export = Export {
        analytics,
        query,
        encoder,
        after: None,
        rows: 0,
    };
    let stream = futures_util::stream::unfold(Some(export), |export| async move {
        let mut export = export?;
        let page = export
            .analytics
            .ratings(&export.query, export.after.as_ref(), EXPORT_PAGE)
            .await;
        let chunk = page.and_then(|rows| {
            let bytes = export.encoder.encode(&rows)?;
            export.rows += rows.len() as u64;
            export.after = rows.last().map(RatingCursor::after);
            Ok((bytes, rows.len() == EXPORT_PAGE))
        });
        match chunk {
            Ok((bytes, more)) => {
                if !more {
                    tracing::info!(rows = export.rows, "ratings export finished");
                }
                Some((Ok(Bytes::from(bytes)), more.then_some(export)))
            }
            Err(error) => {
                // The status is sent already: cutting the body short is how the client
                // learns the file is incomplete.
                tracing::error!(%error, rows = export.rows, "ratings export failed");
                Some((Err(error), None))
            }
        }
    });
    Body::from_stream(stream)
}

/// The bytes of an export of `buckets`: one row per period, empty ones included.
pub fn aggregates_file(format: Format, buckets: &[Bucket]) -> Result<Vec<u8>, StoreError> {
    match format {
        Format::Ndjson => {
            let mut out = Vec::new();
            for bucket in buckets {
                let line = serde_json::to_string(bucket)
                    .map_err(|error| StoreError(format!("export: {error}")))?;
                out.extend_from_slice(line.as_bytes());
                out.push(b'\n');
            }
            Ok(out)
        }
        Format::Csv { delimiter } => {
            let mut writer = csv_writer(delimiter);
            writer
                .write_record([
                    "period_start",
                    "count",
                    "average",
                    "stars_1",
                    "stars_2",
                    "stars_3",
                    "stars_4",
                    "stars_5",
                ])
                .map_err(csv_error)?;
            for bucket in buckets {
                let tally: &Tally = &bucket.tally;
                let average = if tally.count == 0 {
                    String::new()
                } else {
                    format.decimal(tally.average())
                };
                let mut record = vec![bucket.start.to_string(), tally.count.to_string(), average];
                record.extend(tally.distribution.iter().map(u64::to_string));
                writer.write_record(&record).map_err(csv_error)?;
            }
            let mut out = csv_bytes(writer)?;
            out.splice(0..0, BOM.bytes());
            Ok(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use uuid::Uuid;

    fn row(comment: Option<&str>) -> RatingRow {
        RatingRow {
            id: Uuid::from_u128(1),
            // 2026-03-29 21:30 UTC: 23:30 in Rome, summer time.
            created_at_ms: 1_774_819_800_000,
            entrypoint: "ep_AAAAAAAAAAAAAAAA".into(),
            page: "https://www.comune.bugliano.it/a".into(),
            rating: 2,
            answers: vec!["incomplete".into(), "other".into()],
            comment: comment.map(Into::into),
            lang: "it".into(),
        }
    }

    #[test]
    fn csv_has_a_bom_a_header_once_and_neutralises_formulas() {
        let mut encoder = RatingsEncoder::new(
            Format::Csv { delimiter: b';' },
            chrono_tz::Europe::Rome,
            true,
        );
        let first = encoder
            .encode(&[row(Some("=HYPERLINK(\"http://x\"); ciao"))])
            .unwrap();
        let text = String::from_utf8(first).unwrap();
        assert_eq!(
            text,
            "\u{feff}id;received_at;entrypoint;page;stars;answers;comment;lang\r\n\
             00000000-0000-0000-0000-000000000001;2026-03-29 23:30:00;ep_AAAAAAAAAAAAAAAA;\
             https://www.comune.bugliano.it/a;2;incomplete|other;\
             \"'=HYPERLINK(\"\"http://x\"\"); ciao\";it\r\n"
        );
        let next = String::from_utf8(encoder.encode(&[row(None)]).unwrap()).unwrap();
        assert!(!next.starts_with('\u{feff}') && !next.contains("received_at"));
        assert!(next.contains(";incomplete|other;;it"), "{next}");
    }

    #[test]
    fn auditors_exports_have_no_comment_column() {
        let mut encoder =
            RatingsEncoder::new(Format::Csv { delimiter: b',' }, chrono_tz::UTC, false);
        let text = String::from_utf8(encoder.encode(&[row(Some("segreto"))]).unwrap()).unwrap();
        assert!(text.contains("stars,answers,lang\r\n"), "{text}");
        assert!(!text.contains("segreto"));
        let mut encoder = RatingsEncoder::new(Format::Ndjson, chrono_tz::UTC, false);
        let line = String::from_utf8(encoder.encode(&[row(Some("segreto"))]).unwrap()).unwrap();
        assert!(!line.contains("comment"));
    }

    #[test]
    fn ndjson_is_one_object_per_line_with_the_local_time() {
        let mut encoder = RatingsEncoder::new(Format::Ndjson, chrono_tz::Europe::Rome, true);
        let text = String::from_utf8(
            encoder
                .encode(&[row(Some("riga\nnuova")), row(None)])
                .unwrap(),
        )
        .unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["received_at"], "2026-03-29T23:30:00+02:00");
        assert_eq!(lines[0]["comment"], "riga\nnuova");
        assert_eq!(lines[1]["comment"], serde_json::Value::Null);
    }

    #[test]
    fn aggregates_use_comma_decimals_with_semicolons() {
        let mut tally = Tally::default();
        tally.add(4, 1);
        tally.add(5, 2);
        let buckets = [
            Bucket {
                start: NaiveDate::from_ymd_opt(2026, 3, 2).unwrap(),
                tally,
            },
            Bucket {
                start: NaiveDate::from_ymd_opt(2026, 3, 9).unwrap(),
                tally: Tally::default(),
            },
        ];
        let italian = aggregates_file(Format::Csv { delimiter: b';' }, &buckets).unwrap();
        assert_eq!(
            String::from_utf8(italian).unwrap(),
            "\u{feff}period_start;count;average;stars_1;stars_2;stars_3;stars_4;stars_5\r\n\
             2026-03-02;3;4,67;0;0;0;1;2\r\n2026-03-09;0;;0;0;0;0;0\r\n"
        );
        let json = aggregates_file(Format::Ndjson, &buckets).unwrap();
        let first: serde_json::Value =
            serde_json::from_str(String::from_utf8(json).unwrap().lines().next().unwrap()).unwrap();
        assert_eq!(first["average"], 4.67);
    }

    #[test]
    fn formats_and_delimiters_parse() {
        assert_eq!(
            Format::parse("csv", Some("semicolon")),
            Ok(Format::Csv { delimiter: b';' })
        );
        assert_eq!(
            Format::parse("csv", None),
            Ok(Format::Csv { delimiter: b',' })
        );
        assert_eq!(Format::parse("ndjson", None), Ok(Format::Ndjson));
        assert!(Format::parse("xlsx", None).is_err());
        assert!(Format::parse("csv", Some("tab")).is_err());
        assert_eq!(safe_cell("+39 333"), "'+39 333");
        assert_eq!(safe_cell("ok"), "ok");
    }
}
