//! The statistics page's charts, each with the table of its data (for screen readers,
//! and for reading exact values) and its SVG and PNG downloads (console.js).

use satisfy_charts::{ChartError, ChartTexts, PeriodPoint, rating_chart_svg, stacked_chart_svg};
use satisfy_core::{Lang, Survey};

use crate::i18n::Ui;
use crate::kpi_texts::number;
use crate::stats::{Report, bucket_label};

/// One chart as the page shows it.
pub(crate) struct ChartView {
    /// Element id (`chart-{id}`) and download file name.
    pub(crate) id: &'static str,
    pub(crate) title: String,
    pub(crate) svg: String,
    /// The data table's column headings, after the period's.
    pub(crate) head: Vec<String>,
    /// One row per period: its label, then a cell per column.
    pub(crate) rows: Vec<(String, Vec<String>)>,
}

/// The ratings (count and average), the stars and the follow-up answers per period.
pub(crate) fn report_charts(
    lang: Lang,
    texts: &Ui,
    survey: &Survey,
    report: &Report,
) -> Result<Vec<ChartView>, ChartError> {
    let granularity = report.range.granularity;
    let labels: Vec<String> = report
        .buckets
        .iter()
        .map(|b| bucket_label(granularity, b.start))
        .collect();
    let title = match granularity {
        satisfy_aggregator::Granularity::Day => texts.chart_title_day,
        satisfy_aggregator::Granularity::Week => texts.chart_title_week,
        satisfy_aggregator::Granularity::Month => texts.chart_title_month,
    };
    let points: Vec<PeriodPoint> = report
        .buckets
        .iter()
        .zip(&labels)
        .map(|(b, label)| PeriodPoint {
            label: label.clone(),
            count: b.tally.count,
            average: (b.tally.count > 0).then(|| b.tally.average()),
        })
        .collect();
    let ratings = ChartView {
        id: "ratings",
        title: title.to_owned(),
        svg: rating_chart_svg(
            &points,
            &ChartTexts {
                title: title.to_owned(),
                count_axis: texts.ratings.to_owned(),
                average_axis: texts.average_axis.to_owned(),
                decimal_comma: lang != Lang::En,
            },
        )?,
        head: vec![texts.ratings.to_owned(), texts.average.to_owned()],
        rows: points
            .iter()
            .map(|p| {
                let average = p.average.map_or("–".to_owned(), |a| number(lang, a, 2));
                (p.label.clone(), vec![p.count.to_string(), average])
            })
            .collect(),
    };

    let star_names: Vec<String> = (1..=5).map(|s| format!("{s} ★")).collect();
    let star_series: Vec<(String, Vec<u64>)> = star_names
        .iter()
        .enumerate()
        .map(|(index, name)| {
            let counts = report
                .buckets
                .iter()
                .map(|b| b.tally.distribution[index])
                .collect();
            (name.clone(), counts)
        })
        .collect();
    let stars = ChartView {
        id: "stars",
        title: texts.chart_stars_title.to_owned(),
        svg: stacked_chart_svg(
            &labels,
            &star_series,
            texts.chart_stars_title,
            texts.ratings,
        )?,
        head: star_names,
        rows: table_rows(&labels, &star_series),
    };

    // Answers most chosen over the whole range first, each named as the survey shows it.
    let mut options: Vec<(&str, u64)> = Vec::new();
    for answer in report.answers_over_time.iter().flat_map(|b| &b.answers) {
        match options.iter_mut().find(|(id, _)| *id == answer.option) {
            Some((_, total)) => *total += answer.count,
            None => options.push((&answer.option, answer.count)),
        }
    }
    options.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let answer_series: Vec<(String, Vec<u64>)> = options
        .iter()
        .map(|(id, _)| {
            let counts = report
                .answers_over_time
                .iter()
                .map(|b| {
                    b.answers
                        .iter()
                        .find(|a| a.option == *id)
                        .map_or(0, |a| a.count)
                })
                .collect();
            (
                survey.answer_label(id).unwrap_or_else(|| (*id).to_owned()),
                counts,
            )
        })
        .collect();
    let answers = ChartView {
        id: "answers",
        title: texts.chart_answers_title.to_owned(),
        svg: stacked_chart_svg(
            &labels,
            &answer_series,
            texts.chart_answers_title,
            texts.answers_axis,
        )?,
        head: answer_series.iter().map(|(name, _)| name.clone()).collect(),
        rows: table_rows(&labels, &answer_series),
    };
    Ok(vec![ratings, stars, answers])
}

fn table_rows(labels: &[String], series: &[(String, Vec<u64>)]) -> Vec<(String, Vec<String>)> {
    labels
        .iter()
        .enumerate()
        .map(|(period, label)| {
            let cells = series
                .iter()
                .map(|(_, counts)| counts.get(period).copied().unwrap_or(0).to_string())
                .collect();
            (label.clone(), cells)
        })
        .collect()
}
