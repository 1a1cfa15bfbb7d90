//! The weekly chart's SVG is deterministic and matches the reviewed snapshot.
//! Run with `UPDATE_SNAPSHOTS=1` to accept a deliberate change, then review the SVG.

use satisfy_charts::{ChartTexts, PeriodPoint, rating_chart_svg};

fn sample() -> Vec<PeriodPoint> {
    let weeks = [
        ("02/03", 2, 4.5),
        ("09/03", 0, 0.0),
        ("16/03", 7, 3.29),
        ("23/03", 12, 2.25),
        ("30/03", 0, 0.0),
        ("06/04", 5, 4.8),
    ];
    weeks
        .iter()
        .map(|&(label, count, average)| PeriodPoint {
            label: label.into(),
            count,
            average: (count > 0).then_some(average),
        })
        .collect()
}

fn texts() -> ChartTexts {
    ChartTexts {
        title: "Valutazioni per settimana".into(),
        count_axis: "Valutazioni".into(),
        average_axis: "Media (1–5)".into(),
        decimal_comma: true,
    }
}

#[test]
fn weekly_chart_matches_snapshot() {
    let svg = rating_chart_svg(&sample(), &texts()).unwrap();
    assert_eq!(
        svg,
        rating_chart_svg(&sample(), &texts()).unwrap(),
        "not deterministic"
    );
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/snapshots/weekly.svg");
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(path, &svg).unwrap();
    }
    let expected =
        std::fs::read_to_string(path).expect("snapshot missing: run with UPDATE_SNAPSHOTS=1");
    assert_eq!(
        svg, expected,
        "chart changed: review and run with UPDATE_SNAPSHOTS=1"
    );
}

#[test]
fn chart_shows_labels_bars_and_gaps() {
    let svg = rating_chart_svg(&sample(), &texts()).unwrap();
    for text in [
        "Valutazioni per settimana",
        "Valutazioni",
        "Media (1–5)",
        "02/03",
        "06/04",
    ] {
        assert!(svg.contains(text), "missing {text}");
    }
    // One bar per week with ratings, a shaded band for each empty week.
    assert_eq!(svg.matches("fill=\"#EEF0F4\"").count(), 2, "{svg}");
    for value in ["4,50", "3,29", "2,25", "4,80"] {
        assert!(
            svg.contains(&format!("\n{value}\n")),
            "the average {value} is written"
        );
    }
    assert_eq!(svg.matches("fill=\"#0066CC\"").count(), 4, "{svg}");
    // The average line is broken by the empty weeks into three runs.
    assert_eq!(
        svg.matches("<polyline fill=\"none\" opacity=\"1\" stroke=\"#B34A00\"")
            .count(),
        3
    );
}

#[test]
fn an_empty_series_still_renders() {
    let svg = rating_chart_svg(&[], &texts()).unwrap();
    assert!(svg.starts_with("<svg"));
}
