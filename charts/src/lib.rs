//! Chart rendering for the console: pure functions from series to SVG documents.
//!
//! Output depends only on the input (no fonts are measured from the system, no clock), so
//! the same series always gives the same bytes, which the snapshot tests check.

use plotters::prelude::*;

/// One period of the weekly chart.
#[derive(Debug, Clone, PartialEq)]
pub struct PeriodPoint {
    /// Axis label of the period, e.g. `23/03`.
    pub label: String,
    /// Ratings given in the period.
    pub count: u64,
    /// Average stars, `None` for a period without ratings (drawn as a gap).
    pub average: Option<f64>,
}

/// The texts of a chart, in the reader's language.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartTexts {
    /// Caption above the plot.
    pub title: String,
    /// Left axis: number of ratings.
    pub count_axis: String,
    /// Right axis: average stars.
    pub average_axis: String,
    /// Whether decimals are written with a comma (Italian, German).
    pub decimal_comma: bool,
}

/// The most periods whose averages are written above their points; beyond, the labels
/// would overlap and the data table gives the values.
const LABELLED_PERIODS: usize = 26;
/// Shade of a period without ratings, so an empty period reads as empty, not as missing.
const EMPTY: RGBColor = RGBColor(0xee, 0xf0, 0xf4);

/// Why a chart could not be drawn.
#[derive(Debug, thiserror::Error)]
#[error("chart rendering failed: {0}")]
pub struct ChartError(String);

const WIDTH: u32 = 860;
const HEIGHT: u32 = 360;
/// Accessible blue of the Italian PA design system (contrast ≥ 4.5:1 on white).
const BAR: RGBColor = RGBColor(0x00, 0x66, 0xcc);
/// Dark orange for the average line, distinguishable from the bars for colour-blind readers.
const LINE: RGBColor = RGBColor(0xb3, 0x4a, 0x00);
const AXIS: RGBColor = RGBColor(0x33, 0x33, 0x33);

/// The x-axis labels of the periods: at most about 13 shown, so that they never overlap
/// whatever the range.
fn period_labels(labels: &[String]) -> impl Fn(&SegmentValue<usize>) -> String + '_ {
    let label_every = labels.len().max(1).div_ceil(13);
    move |value| match value {
        SegmentValue::CenterOf(i) if i % label_every == 0 => {
            labels.get(*i).cloned().unwrap_or_default()
        }
        _ => String::new(),
    }
}

/// The smallest "nice" axis maximum (1, 2 or 5 times a power of ten) holding `value`.
fn nice_ceiling(value: u64) -> u64 {
    let mut step = 1u64;
    loop {
        for factor in [1, 2, 5] {
            if step.saturating_mul(factor) >= value {
                return step.saturating_mul(factor);
            }
        }
        step = step.saturating_mul(10);
    }
}

/// Bars for the number of ratings per period on the left axis, a line for the average on a
/// fixed 0–5 right axis; periods without ratings have no bar and break the line.
pub fn rating_chart_svg(points: &[PeriodPoint], texts: &ChartTexts) -> Result<String, ChartError> {
    let mut svg = String::new();
    draw(&mut svg, points, texts).map_err(|e| ChartError(e.to_string()))?;
    Ok(svg)
}

fn draw(
    svg: &mut String,
    points: &[PeriodPoint],
    texts: &ChartTexts,
) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::with_string(svg, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE)?;
    let periods = points.len().max(1);
    let max_count = nice_ceiling(points.iter().map(|p| p.count).max().unwrap_or(0).max(1));
    let label_font = ("sans-serif", 13).into_font().color(&AXIS);

    let mut chart = ChartBuilder::on(&root)
        .caption(&texts.title, ("sans-serif", 18).into_font().color(&AXIS))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .right_y_label_area_size(56)
        .build_cartesian_2d((0..periods).into_segmented(), 0u64..max_count)?
        .set_secondary_coord((0..periods).into_segmented(), 0f64..5f64);

    let labels: Vec<String> = points.iter().map(|p| p.label.clone()).collect();
    let x_formatter = period_labels(&labels);
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(periods)
        .x_label_formatter(&x_formatter)
        .y_labels(6)
        .y_label_formatter(&|v| v.to_string())
        .y_desc(texts.count_axis.as_str())
        .axis_desc_style(label_font.clone())
        .label_style(label_font.clone())
        .max_light_lines(1)
        .light_line_style(RGBColor(0xe6, 0xe9, 0xf2))
        .draw()?;
    chart
        .configure_secondary_axes()
        .y_labels(6)
        .y_label_formatter(&|v| format!("{v:.0}"))
        .y_desc(texts.average_axis.as_str())
        .axis_desc_style(label_font.clone())
        .label_style(label_font)
        .draw()?;

    let empty = points
        .iter()
        .enumerate()
        .filter(|(_, p)| p.count == 0)
        .map(|(i, _)| {
            Rectangle::new(
                [
                    (SegmentValue::Exact(i), 0),
                    (SegmentValue::Exact(i + 1), max_count),
                ],
                EMPTY.filled(),
            )
        });
    chart.draw_series(empty)?;

    // Plain rectangles in input order: plotters' Histogram iterates a HashMap, which would
    // make the SVG's element order (and so its bytes) vary between runs.
    let bars = points
        .iter()
        .enumerate()
        .filter(|(_, p)| p.count > 0)
        .map(|(i, p)| {
            let mut bar = Rectangle::new(
                [
                    (SegmentValue::Exact(i), 0),
                    (SegmentValue::Exact(i + 1), p.count),
                ],
                BAR.filled(),
            );
            bar.set_margin(0, 0, 6, 6);
            bar
        });
    chart.draw_series(bars)?;

    for run in average_runs(points) {
        chart.draw_secondary_series(LineSeries::new(
            run.iter().map(|&(i, avg)| (SegmentValue::CenterOf(i), avg)),
            LINE.stroke_width(3),
        ))?;
        chart.draw_secondary_series(PointSeries::of_element(
            run.iter().map(|&(i, avg)| (SegmentValue::CenterOf(i), avg)),
            4,
            LINE.filled(),
            &|coord, size, style| EmptyElement::at(coord) + Circle::new((0, 0), size, style),
        ))?;
        if points.len() <= LABELLED_PERIODS {
            let value_font = ("sans-serif", 12).into_font().color(&LINE);
            chart.draw_secondary_series(run.iter().map(|&(i, avg)| {
                let mut text = format!("{avg:.2}");
                if texts.decimal_comma {
                    text = text.replace('.', ",");
                }
                // On a white plate: the label stays readable over a bar.
                EmptyElement::at((SegmentValue::CenterOf(i), avg))
                    + Rectangle::new([(-16, -22), (16, -8)], WHITE.filled())
                    + Text::new(text, (-13, -20), value_font.clone())
            }))?;
        }
    }
    root.present()?;
    Ok(())
}

/// Width of a stacked chart's legend column.
const LEGEND_WIDTH: u32 = 230;

/// A legend entry short enough for its column.
fn legend_name(name: &str) -> String {
    const MAX: usize = 32;
    if name.chars().count() <= MAX {
        name.to_owned()
    } else {
        let cut: String = name.chars().take(MAX - 1).collect();
        format!("{}…", cut.trim_end())
    }
}

/// Colours of stacked series: stars 1 to 5 use the first five (red to blue, told apart
/// by colour-blind readers too); more series continue the list.
const SERIES: [RGBColor; 10] = [
    RGBColor(0xa6, 0x1c, 0x1c),
    RGBColor(0xd9, 0x82, 0x2b),
    RGBColor(0x8a, 0x8f, 0x99),
    RGBColor(0x4b, 0x9c, 0xd3),
    RGBColor(0x0b, 0x4f, 0x8a),
    RGBColor(0x00, 0x80, 0x4d),
    RGBColor(0x7a, 0x3e, 0xa1),
    RGBColor(0x2e, 0x8b, 0x99),
    RGBColor(0x8a, 0x6d, 0x00),
    RGBColor(0x4b, 0x4b, 0x4b),
];

/// One stacked bar per period: each series (name, one count per period) a layer in its
/// colour, bottom up, with a legend; used for the stars over time and the follow-up
/// answers over time.
pub fn stacked_chart_svg(
    labels: &[String],
    series: &[(String, Vec<u64>)],
    title: &str,
    axis: &str,
) -> Result<String, ChartError> {
    let mut svg = String::new();
    draw_stacked(&mut svg, labels, series, title, axis).map_err(|e| ChartError(e.to_string()))?;
    Ok(svg)
}

fn draw_stacked(
    svg: &mut String,
    labels: &[String],
    series: &[(String, Vec<u64>)],
    title: &str,
    axis: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::with_string(svg, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE)?;
    // The legend gets its own column, so it never hides a bar.
    let (plot, legend) = root.split_horizontally(WIDTH - LEGEND_WIDTH);
    let periods = labels.len().max(1);
    let totals: Vec<u64> = (0..labels.len())
        .map(|i| {
            series
                .iter()
                .map(|(_, counts)| counts.get(i).copied().unwrap_or(0))
                .sum()
        })
        .collect();
    let max = nice_ceiling(totals.iter().copied().max().unwrap_or(0).max(1));
    let label_font = ("sans-serif", 13).into_font().color(&AXIS);
    let mut chart = ChartBuilder::on(&plot)
        .caption(title, ("sans-serif", 18).into_font().color(&AXIS))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d((0..periods).into_segmented(), 0u64..max)?;
    let x_formatter = period_labels(labels);
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(periods)
        .x_label_formatter(&x_formatter)
        .y_labels(6)
        .y_label_formatter(&|v| v.to_string())
        .y_desc(axis)
        .axis_desc_style(label_font.clone())
        .label_style(label_font.clone())
        .max_light_lines(1)
        .light_line_style(RGBColor(0xe6, 0xe9, 0xf2))
        .draw()?;
    let periods_drawn = labels.len();
    let mut base = vec![0u64; periods_drawn];
    for (index, (name, counts)) in series.iter().enumerate() {
        let colour = SERIES[index % SERIES.len()];
        let layer: Vec<Rectangle<(SegmentValue<usize>, u64)>> = counts
            .iter()
            .enumerate()
            .filter(|(i, count)| **count > 0 && *i < periods_drawn)
            .map(|(i, count)| {
                let bottom = base[i];
                base[i] += count;
                let mut bar = Rectangle::new(
                    [
                        (SegmentValue::Exact(i), bottom),
                        (SegmentValue::Exact(i + 1), bottom + count),
                    ],
                    colour.filled(),
                );
                bar.set_margin(0, 0, 6, 6);
                bar
            })
            .collect();
        chart.draw_series(layer)?;
        let top = 48 + 22 * index as i32;
        legend.draw(&Rectangle::new([(4, top), (16, top + 12)], colour.filled()))?;
        legend.draw(&Text::new(legend_name(name), (22, top), label_font.clone()))?;
    }
    root.present()?;
    Ok(())
}

/// One figure per period: bars on a 0-based axis, no bar where the figure has no value.
pub fn figure_chart_svg(
    labels: &[String],
    values: &[Option<f64>],
    title: &str,
    axis: &str,
) -> Result<String, ChartError> {
    let mut svg = String::new();
    draw_figure(&mut svg, labels, values, title, axis).map_err(|e| ChartError(e.to_string()))?;
    Ok(svg)
}

fn draw_figure(
    svg: &mut String,
    labels: &[String],
    values: &[Option<f64>],
    title: &str,
    axis: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::with_string(svg, (WIDTH, HEIGHT / 4 * 3)).into_drawing_area();
    root.fill(&WHITE)?;
    let periods = values.len().max(1);
    let top = values.iter().flatten().fold(0f64, |a, b| a.max(*b));
    // Fractions (shares) get a 0–1 axis; the rest a nice ceiling of their maximum.
    let max = if top <= 1.0
        && values
            .iter()
            .flatten()
            .all(|v| *v <= 1.0 && v.fract() != 0.0)
    {
        1.0
    } else {
        nice_ceiling(top.ceil().max(1.0) as u64) as f64
    };
    let label_font = ("sans-serif", 13).into_font().color(&AXIS);
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 16).into_font().color(&AXIS))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(64)
        .build_cartesian_2d((0..periods).into_segmented(), 0f64..max)?;
    let x_formatter = period_labels(labels);
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(periods)
        .x_label_formatter(&x_formatter)
        .y_labels(6)
        .y_label_formatter(&|v| {
            if max <= 1.0 {
                format!("{:.0}%", v * 100.0)
            } else {
                format!("{v:.0}")
            }
        })
        .y_desc(axis)
        .axis_desc_style(label_font.clone())
        .label_style(label_font)
        .max_light_lines(1)
        .light_line_style(RGBColor(0xe6, 0xe9, 0xf2))
        .draw()?;
    let bars = values.iter().enumerate().filter_map(|(i, value)| {
        let value = (*value)?;
        let mut bar = Rectangle::new(
            [
                (SegmentValue::Exact(i), 0.0),
                (SegmentValue::Exact(i + 1), value),
            ],
            BAR.filled(),
        );
        bar.set_margin(0, 0, 6, 6);
        Some(bar)
    });
    chart.draw_series(bars)?;
    root.present()?;
    Ok(())
}

/// Consecutive periods that have an average; each becomes one unbroken line.
fn average_runs(points: &[PeriodPoint]) -> Vec<Vec<(usize, f64)>> {
    let mut runs: Vec<Vec<(usize, f64)>> = Vec::new();
    let mut current = Vec::new();
    for (i, point) in points.iter().enumerate() {
        match point.average {
            Some(avg) => current.push((i, avg)),
            None if !current.is_empty() => runs.push(std::mem::take(&mut current)),
            None => {}
        }
    }
    if !current.is_empty() {
        runs.push(current);
    }
    runs
}

/// A small line of the average stars per period (1 at the bottom, 5 at the top), broken
/// where a period has no ratings, each rated period marked with a dot; `label` is read
/// to screen readers in place of the drawing.
pub fn sparkline_svg(averages: &[Option<f64>], label: &str) -> String {
    const W: f64 = 120.0;
    const H: f64 = 28.0;
    const PAD: f64 = 3.0;
    let step = if averages.len() > 1 {
        (W - 2.0 * PAD) / (averages.len() - 1) as f64
    } else {
        0.0
    };
    let y = |average: f64| PAD + (5.0 - average.clamp(1.0, 5.0)) / 4.0 * (H - 2.0 * PAD);
    let mut path = String::new();
    let mut dots = String::new();
    let mut pen_down = false;
    for (index, average) in averages.iter().enumerate() {
        let x = PAD + step * index as f64;
        match average {
            Some(average) => {
                let command = if pen_down { 'L' } else { 'M' };
                path.push_str(&format!("{command}{x:.1} {:.1}", y(*average)));
                dots.push_str(&format!(
                    "<circle cx=\"{x:.1}\" cy=\"{:.1}\" r=\"1.6\"/>",
                    y(*average)
                ));
                pen_down = true;
            }
            None => pen_down = false,
        }
    }
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"sparkline\" viewBox=\"0 0 {W} {H}\" \
         width=\"{W}\" height=\"{H}\" role=\"img\" aria-label=\"{}\">\
         <path d=\"{path}\" fill=\"none\" stroke=\"#0066cc\" stroke-width=\"1.5\"/>\
         <g fill=\"#0066cc\">{dots}</g></svg>",
        escape_attribute(label)
    )
}

fn escape_attribute(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_ceilings() {
        assert_eq!(nice_ceiling(1), 1);
        assert_eq!(nice_ceiling(3), 5);
        assert_eq!(nice_ceiling(11), 20);
        assert_eq!(nice_ceiling(500), 500);
        assert_eq!(nice_ceiling(501), 1000);
    }

    #[test]
    fn figure_charts_draw_a_bar_per_valued_period_and_are_reproducible() {
        let labels: Vec<String> = ["02/11", "09/11", "16/11"].map(String::from).to_vec();
        let values = [Some(3.0), None, Some(12.0)];
        let svg = figure_chart_svg(&labels, &values, "Prenotazioni", "n.").unwrap();
        assert_eq!(
            svg,
            figure_chart_svg(&labels, &values, "Prenotazioni", "n.").unwrap()
        );
        assert!(svg.contains("Prenotazioni") && svg.contains("16/11"));
        let shares =
            figure_chart_svg(&labels, &[Some(0.25), Some(0.5), None], "Saturazione", "%").unwrap();
        assert!(shares.contains("100%"), "shares get a 0–100% axis");
    }

    #[test]
    fn gaps_split_the_average_line() {
        let p = |avg| PeriodPoint {
            label: String::new(),
            count: 1,
            average: avg,
        };
        let runs = average_runs(&[p(Some(1.0)), p(Some(2.0)), p(None), p(Some(3.0))]);
        assert_eq!(runs, vec![vec![(0, 1.0), (1, 2.0)], vec![(3, 3.0)]]);
    }

    #[test]
    fn sparklines_break_on_empty_periods_and_carry_their_label() {
        let svg = sparkline_svg(&[Some(5.0), Some(1.0), None, Some(3.0)], "Media \"4\" & co");
        assert!(svg.contains("d=\"M3.0 3.0L41.0 25.0M117.0 14.0\""), "{svg}");
        assert_eq!(svg.matches("<circle").count(), 3);
        assert!(svg.contains("aria-label=\"Media &quot;4&quot; &amp; co\""));
        assert!(sparkline_svg(&[], "vuoto").contains("d=\"\""));
    }

    #[test]
    fn rating_charts_label_averages_and_shade_empty_periods() {
        let point = |label: &str, count, average| PeriodPoint {
            label: label.into(),
            count,
            average,
        };
        let texts = ChartTexts {
            title: "Andamento".into(),
            count_axis: "Valutazioni".into(),
            average_axis: "Media".into(),
            decimal_comma: true,
        };
        let svg = rating_chart_svg(
            &[
                point("02/11", 3, Some(4.25)),
                point("09/11", 0, None),
                point("16/11", 1, Some(2.0)),
            ],
            &texts,
        )
        .unwrap();
        assert!(
            svg.contains("\n4,25\n") && svg.contains("\n2,00\n"),
            "{svg}"
        );
        assert_eq!(
            svg.matches("fill=\"#EEF0F4\"").count(),
            1,
            "one empty period"
        );
    }

    #[test]
    fn stacked_charts_layer_each_series_with_a_legend_and_are_reproducible() {
        let labels: Vec<String> = ["02/11", "09/11"].map(String::from).to_vec();
        let series = vec![
            ("1 ★".to_owned(), vec![2, 0]),
            ("5 ★".to_owned(), vec![3, 4]),
        ];
        let svg = stacked_chart_svg(&labels, &series, "Stelle nel tempo", "Valutazioni").unwrap();
        assert_eq!(
            svg,
            stacked_chart_svg(&labels, &series, "Stelle nel tempo", "Valutazioni").unwrap()
        );
        assert!(svg.contains("1 ★") && svg.contains("5 ★") && svg.contains("Stelle nel tempo"));
        // Three bars (the empty count draws nothing) plus the two legend swatches.
        assert_eq!(svg.matches("fill=\"#A61C1C\"").count(), 2);
        assert_eq!(svg.matches("fill=\"#D9822B\"").count(), 3);
    }
}
