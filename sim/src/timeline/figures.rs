//! The page's run summary: the same lines `run` prints (from the same `RunSummary`), and
//! a plot of producer latency over simulated time, drawn here as inline SVG so that it
//! needs no script and no external asset.

use super::esc;
use crate::summary::{LatencyPoint, RunSummary};
use std::fmt::Write as _;

/// The plot's drawing area in SVG units (it scales to the page's width).
const PLOT_W: u64 = 1000;
const PLOT_H: u64 = 160;
/// Room for the axis labels around the drawing area.
const MARGIN_LEFT: u64 = 56;
const MARGIN_BOTTOM: u64 = 18;
/// At most this many dots: beyond it, each horizontal unit shows its slowest send only.
const MAX_DOTS: usize = 4_000;

/// The section: the summary's lines, then the latency plot over `[0, end_ms]` with the
/// heal marked.
pub fn summary_section(summary: &RunSummary, end_ms: u64, heal_ms: Option<u64>) -> String {
    let lines: Vec<String> = summary.lines().iter().map(|l| esc(l)).collect();
    let mut out = format!(
        r#"<section id="summary"><h2>Run summary</h2><pre id="figures">{}</pre>"#,
        lines.join("\n")
    );
    out.push_str("<h2>Producer latency over time</h2>");
    out.push_str(&latency_plot(&summary.latency_points, end_ms, heal_ms));
    out + "</section>"
}

/// Each acknowledged send as a dot: x its acknowledgement's time, y its latency.
fn latency_plot(points: &[LatencyPoint], end_ms: u64, heal_ms: Option<u64>) -> String {
    let end_ms = end_ms.max(1);
    let max_ms = points
        .iter()
        .map(|p| p.latency_ms)
        .max()
        .unwrap_or(0)
        .max(1);
    let (width, height) = (MARGIN_LEFT + PLOT_W + 40, PLOT_H + MARGIN_BOTTOM + 6);
    let x = |ms: u64| MARGIN_LEFT as f64 + (ms.min(end_ms) as f64 / end_ms as f64) * PLOT_W as f64;
    let y = |ms: u64| 4.0 + PLOT_H as f64 * (1.0 - ms as f64 / max_ms as f64);
    let mut svg = format!(
        r#"<svg id="latency" class="latency" viewBox="0 0 {width} {height}" width="100%" data-points="{}" role="img" aria-label="producer latency over time">"#,
        points.len()
    );
    let (bottom, right) = (y(0), x(end_ms));
    let _ = write!(
        svg,
        r#"<line class="axt" x1="{MARGIN_LEFT}" y1="{bottom:.1}" x2="{right:.1}" y2="{bottom:.1}"/><line class="axt" x1="{MARGIN_LEFT}" y1="4" x2="{MARGIN_LEFT}" y2="{bottom:.1}"/>"#
    );
    for ms in [0, max_ms / 2, max_ms] {
        let _ = write!(
            svg,
            r#"<text class="axl" x="{}" y="{:.1}" text-anchor="end">{ms} ms</text>"#,
            MARGIN_LEFT - 4,
            y(ms) + 4.0
        );
    }
    for ms in [0, end_ms / 2, end_ms] {
        let _ = write!(
            svg,
            r#"<text class="axl" x="{:.1}" y="{}" text-anchor="middle">{ms} ms</text>"#,
            x(ms),
            height - 2
        );
    }
    if let Some(heal) = heal_ms.filter(|h| *h <= end_ms) {
        let _ = write!(
            svg,
            r#"<line class="heal" x1="{0:.1}" y1="4" x2="{0:.1}" y2="{bottom:.1}"><title>heal at {heal} ms</title></line>"#,
            x(heal)
        );
    }
    if points.is_empty() {
        let _ = write!(
            svg,
            r#"<text class="axl" x="{:.1}" y="{:.1}" text-anchor="middle">no acknowledged send</text>"#,
            x(end_ms / 2),
            y(max_ms / 2)
        );
    }
    for point in thinned(points, end_ms) {
        let _ = write!(
            svg,
            r#"<circle class="lat" cx="{:.1}" cy="{:.1}" r="1.6"><title>{} ms, acknowledged at {} ms</title></circle>"#,
            x(point.acked_ms),
            y(point.latency_ms),
            point.latency_ms,
            point.acked_ms
        );
    }
    svg + "</svg>"
}

/// The points to draw: all of them, or past `MAX_DOTS` the slowest of each horizontal unit
/// (the outliers are what a reader looks for).
fn thinned(points: &[LatencyPoint], end_ms: u64) -> Vec<LatencyPoint> {
    if points.len() <= MAX_DOTS {
        return points.to_vec();
    }
    let mut slowest: std::collections::BTreeMap<u64, LatencyPoint> = Default::default();
    for point in points {
        let unit = point.acked_ms.min(end_ms) * PLOT_W / end_ms;
        let entry = slowest.entry(unit).or_insert(*point);
        if point.latency_ms > entry.latency_ms {
            *entry = *point;
        }
    }
    slowest.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(acked_ms: u64, latency_ms: u64) -> LatencyPoint {
        LatencyPoint {
            acked_ms,
            latency_ms,
        }
    }

    #[test]
    fn the_slowest_send_is_at_the_top_and_the_latest_at_the_right() {
        let svg = latency_plot(
            &[point(0, 10), point(500, 40), point(1_000, 20)],
            1_000,
            None,
        );
        assert_eq!(svg.matches("<circle").count(), 3);
        // y = 4 + 160 * (1 - latency / 40): the 40 ms send at the top.
        assert!(svg.contains(r#"cx="556.0" cy="4.0""#), "{svg}");
        assert!(svg.contains(r#"cx="1056.0" cy="84.0""#), "{svg}");
        assert!(svg.contains(">40 ms</text>"));
    }

    #[test]
    fn many_points_keep_each_units_slowest() {
        let points: Vec<LatencyPoint> = (0..10_000).map(|i| point(i, i % 7)).collect();
        let kept = thinned(&points, 10_000);
        assert!(kept.len() <= PLOT_W as usize + 1);
        assert!(kept.iter().all(|p| p.latency_ms == 6));
    }
}
