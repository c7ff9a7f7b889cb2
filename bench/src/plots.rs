//! SVG plots for the report, drawn with `plotters`' SVG backend (no system libraries, no font
//! files: text is left to the viewer's sans-serif font).
//!
//! - [`percentile_curves`]: HDR percentile curves, latency against 1/(1−percentile), log-log;
//! - [`latency_vs_load`]: p50/p99/p99.9 against offered load, one colour per mode, log-log;
//! - [`ratio_bars`]: how many times better Peregrine is than each peer, one bar per figure.
//!
//! # Invariants
//! - Values plotted on a log axis are clamped to be positive; an empty series is skipped.

use std::path::Path;

use plotters::prelude::*;

pub type PlotResult = Result<(), Box<dyn std::error::Error>>;

const COLOURS: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

fn colour(index: usize) -> RGBColor {
    COLOURS[index % COLOURS.len()]
}

/// A named series of (x, y) points.
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

fn bounds(series: &[Series], pick: impl Fn(&(f64, f64)) -> f64) -> (f64, f64) {
    let values = series.iter().flat_map(|s| s.points.iter().map(&pick));
    let (low, high) = values.fold((f64::MAX, f64::MIN), |(low, high), v| {
        (low.min(v), high.max(v))
    });
    if low > high {
        (1.0, 10.0)
    } else {
        ((low.max(1e-3) / 1.5), (high.max(1e-3) * 1.5))
    }
}

/// Log-log line chart of `series`.
pub fn log_log(
    path: &Path,
    title: &str,
    x_desc: &str,
    y_desc: &str,
    series: &[Series],
) -> PlotResult {
    let root = SVGBackend::new(path, (860, 520)).into_drawing_area();
    root.fill(&WHITE)?;
    let (x_low, x_high) = bounds(series, |p| p.0);
    let (y_low, y_high) = bounds(series, |p| p.1);
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(70)
        .build_cartesian_2d((x_low..x_high).log_scale(), (y_low..y_high).log_scale())?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .x_label_formatter(&|x| format_number(*x))
        .y_label_formatter(&|y| format_number(*y))
        .draw()?;
    for (index, one) in series.iter().enumerate() {
        if one.points.is_empty() {
            continue;
        }
        let style = colour(index);
        let points = one.points.iter().map(|&(x, y)| (x.max(1e-3), y.max(1e-3)));
        chart
            .draw_series(LineSeries::new(points.clone(), style.stroke_width(2)))?
            .label(one.name.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], style.stroke_width(2))
            });
        chart.draw_series(points.map(|p| Circle::new(p, 3, style.filled())))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

/// Numbers for axis labels: 1.5k, 20M, 0.5.
pub fn format_number(value: f64) -> String {
    let magnitude = value.abs();
    if magnitude >= 1e9 {
        format!("{:.3}G", value / 1e9)
    } else if magnitude >= 1e6 {
        format!("{:.3}M", value / 1e6)
    } else if magnitude >= 1e3 {
        format!("{:.3}k", value / 1e3)
    } else {
        format!("{value:.3}")
    }
    .replace(".000", "")
}

/// HDR percentile curves: each series holds (percentile 0..1, latency) points.
pub fn percentile_curves(path: &Path, title: &str, unit: &str, curves: &[Series]) -> PlotResult {
    let converted: Vec<Series> = curves
        .iter()
        .map(|curve| Series {
            name: curve.name.clone(),
            points: curve
                .points
                .iter()
                .filter(|(percentile, _)| *percentile < 0.999_999)
                .map(|&(percentile, value)| (1.0 / (1.0 - percentile), value))
                .collect(),
        })
        .collect();
    log_log(
        path,
        title,
        "1 / (1 - percentile)   (10 = p90, 100 = p99, 1000 = p99.9)",
        &format!("latency ({unit})"),
        &converted,
    )
}

/// Latency against offered load: each series holds (orders/s, µs) points.
pub fn latency_vs_load(path: &Path, title: &str, series: &[Series]) -> PlotResult {
    log_log(
        path,
        title,
        "offered load (orders/s)",
        "latency (µs)",
        series,
    )
}

/// One bar per (label, advantage), drawn from parity (1×) on a log axis: right of the line
/// Peregrine is better, left of it the peer is.
pub fn ratio_bars(path: &Path, title: &str, bars: &[(String, f64)]) -> PlotResult {
    let height = 120 + 34 * bars.len() as u32;
    let root = SVGBackend::new(path, (860, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let positive = bars.iter().map(|b| b.1.max(1e-3));
    let low = positive.clone().fold(1.0f64, f64::min) / 2.0;
    let high = positive.fold(1.0f64, f64::max) * 60.0;
    let count = bars.len().max(1) as f64;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(10)
        .build_cartesian_2d((low..high).log_scale(), 0.0..count)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(0)
        .x_label_formatter(&|x| format_number(*x))
        .x_desc("times better than the peer (log scale; 1 = parity)")
        .draw()?;
    chart.draw_series(bars.iter().enumerate().map(|(index, (_, value))| {
        let top = count - index as f64 - 0.15;
        let style = if *value >= 1.0 { colour(2) } else { colour(3) };
        Rectangle::new([(1.0, top - 0.7), (value.max(1e-3), top)], style.filled())
    }))?;
    chart.draw_series(bars.iter().enumerate().map(|(index, (label, value))| {
        let top = count - index as f64 - 0.15;
        let at = (value.max(1.0) * 1.08, top - 0.2);
        Text::new(format!("{value:.2}x  {label}"), at, ("sans-serif", 13))
    }))?;
    chart.draw_series(LineSeries::new(
        vec![(1.0, 0.0), (1.0, count)],
        BLACK.stroke_width(1),
    ))?;
    root.present()?;
    Ok(())
}
