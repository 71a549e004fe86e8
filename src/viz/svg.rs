//! Small SVG charts, written by hand: a line chart (training curves) and a bar chart (class
//! probabilities, the ladder's accuracies). Each series is one `<g class="series">` element
//! with a `data-name` attribute, so tests and scripts can find them.

use std::fmt::Write;

use crate::train::EpochMetrics;

/// One named series of (x, y) points.
#[derive(Clone, Debug)]
pub struct Series {
    /// The name.
    pub name: String,
    /// (x, y) points in order.
    pub points: Vec<(f64, f64)>,
}

const COLORS: [&str; 6] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
];
const W: f64 = 640.0;
const H: f64 = 400.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 160.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 60.0;

/// Text safe inside SVG (XML) content and attributes.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// About five round tick values covering [lo, hi].
fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    let span = (hi - lo).max(1e-12);
    let raw = span / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| span / s <= 6.0)
        .unwrap_or(10.0 * mag);
    let mut t = (lo / step).ceil() * step;
    let mut out = Vec::new();
    while t <= hi + step * 1e-9 {
        out.push(t);
        t += step;
    }
    out
}

fn header(s: &mut String, title: &str) {
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="Helvetica, Arial, sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{}" y="22" text-anchor="middle" font-size="15">{}</text>"#,
        (LEFT + W - RIGHT) / 2.0,
        escape(title)
    );
}

/// Horizontal grid lines with their values at the round ticks of [lo, hi]; `sy` maps a value
/// to its pixel row.
fn y_grid(s: &mut String, lo: f64, hi: f64, sy: &dyn Fn(f64) -> f64) {
    for t in ticks(lo, hi) {
        let y = sy(t);
        let _ = writeln!(
            s,
            r##"<line x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#e5e5e5"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
            W - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            fmt_tick(t)
        );
    }
}

fn axes(s: &mut String, x_label: &str, y_label: &str) {
    let (x0, y0, x1, y1) = (LEFT, H - BOTTOM, W - RIGHT, TOP);
    let _ = writeln!(
        s,
        r#"<path d="M{x0},{y1} L{x0},{y0} L{x1},{y0}" fill="none" stroke="black"/>"#
    );
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
        (x0 + x1) / 2.0,
        H - 20.0,
        escape(x_label)
    );
    let _ = writeln!(
        s,
        r#"<text x="18" y="{}" text-anchor="middle" transform="rotate(-90 18 {})">{}</text>"#,
        (y0 + y1) / 2.0,
        (y0 + y1) / 2.0,
        escape(y_label)
    );
}

/// A line chart of `series` with a legend on the right.
pub fn line_chart(title: &str, x_label: &str, y_label: &str, series: &[Series]) -> String {
    let pts = series.iter().flat_map(|s| s.points.iter());
    let (mut xlo, mut xhi, mut ylo, mut yhi) = (
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
    );
    for &(x, y) in pts.filter(|(x, y)| x.is_finite() && y.is_finite()) {
        (xlo, xhi, ylo, yhi) = (xlo.min(x), xhi.max(x), ylo.min(y), yhi.max(y));
    }
    if !xlo.is_finite() {
        (xlo, xhi, ylo, yhi) = (0.0, 1.0, 0.0, 1.0);
    }
    if xhi == xlo {
        xhi = xlo + 1.0;
    }
    let pad = ((yhi - ylo) * 0.05).max(1e-6);
    let (ylo, yhi) = (ylo - pad, yhi + pad);
    let sx = |x: f64| LEFT + (x - xlo) / (xhi - xlo) * (W - RIGHT - LEFT);
    let sy = |y: f64| H - BOTTOM - (y - ylo) / (yhi - ylo) * (H - BOTTOM - TOP);
    let mut s = String::new();
    header(&mut s, title);
    y_grid(&mut s, ylo, yhi, &sy);
    for t in ticks(xlo, xhi) {
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{}" text-anchor="middle">{}</text>"#,
            sx(t),
            H - BOTTOM + 18.0,
            fmt_tick(t)
        );
    }
    axes(&mut s, x_label, y_label);
    for (i, se) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let path: Vec<String> = se
            .points
            .iter()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .map(|&(x, y)| format!("{:.1},{:.1}", sx(x), sy(y)))
            .collect();
        let _ = writeln!(s, r#"<g class="series" data-name="{}">"#, escape(&se.name));
        let _ = writeln!(
            s,
            r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="2"/>"#,
            path.join(" ")
        );
        for p in &path {
            let (x, y) = p.split_once(',').expect("x,y");
            let _ = writeln!(s, r#"<circle cx="{x}" cy="{y}" r="3" fill="{color}"/>"#);
        }
        s.push_str("</g>\n");
        let ly = TOP + 10.0 + 20.0 * i as f64;
        let lx = W - RIGHT + 15.0;
        let _ = writeln!(
            s,
            r#"<line x1="{lx}" x2="{}" y1="{ly}" y2="{ly}" stroke="{color}" stroke-width="2"/><text x="{}" y="{}">{}</text>"#,
            lx + 20.0,
            lx + 26.0,
            ly + 4.0,
            escape(&se.name)
        );
    }
    s.push_str("</svg>\n");
    s
}

/// A bar chart: one group per label, one bar per series in each group, values from 0.
pub fn bar_chart(
    title: &str,
    y_label: &str,
    labels: &[String],
    series: &[(String, Vec<f64>)],
) -> String {
    let yhi = series
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max)
        .max(1e-9)
        * 1.08;
    let sy = |y: f64| H - BOTTOM - y / yhi * (H - BOTTOM - TOP);
    let group = (W - RIGHT - LEFT) / labels.len().max(1) as f64;
    let bar = group * 0.8 / series.len().max(1) as f64;
    let mut s = String::new();
    header(&mut s, title);
    y_grid(&mut s, 0.0, yhi, &sy);
    for (i, l) in labels.iter().enumerate() {
        let x = LEFT + group * (i as f64 + 0.5);
        let _ = writeln!(
            s,
            r#"<text x="{x:.1}" y="{}" text-anchor="end" transform="rotate(-30 {x:.1} {})">{}</text>"#,
            H - BOTTOM + 14.0,
            H - BOTTOM + 14.0,
            escape(l)
        );
    }
    axes(&mut s, "", y_label);
    for (k, (name, values)) in series.iter().enumerate() {
        let color = COLORS[k % COLORS.len()];
        let _ = writeln!(s, r#"<g class="series" data-name="{}">"#, escape(name));
        for (i, &v) in values.iter().enumerate() {
            if !v.is_finite() {
                continue;
            }
            let x = LEFT + group * i as f64 + group * 0.1 + bar * k as f64;
            let _ = writeln!(
                s,
                r#"<rect x="{x:.1}" y="{:.1}" width="{bar:.1}" height="{:.1}" fill="{color}"><title>{}: {v:.4}</title></rect>"#,
                sy(v),
                H - BOTTOM - sy(v),
                escape(&labels[i])
            );
        }
        s.push_str("</g>\n");
        let ly = TOP + 10.0 + 20.0 * k as f64;
        let lx = W - RIGHT + 15.0;
        let _ = writeln!(
            s,
            r#"<rect x="{lx}" y="{}" width="14" height="10" fill="{color}"/><text x="{}" y="{}">{}</text>"#,
            ly - 5.0,
            lx + 20.0,
            ly + 4.0,
            escape(name)
        );
    }
    s.push_str("</svg>\n");
    s
}

fn fmt_tick(v: f64) -> String {
    let r = (v * 1e6).round() / 1e6;
    if r == r.trunc() && r.abs() < 1e9 {
        format!("{}", r as i64)
    } else {
        format!("{r}")
    }
}

/// The `height` attribute of a document's root `<svg>` element.
fn height_of(svg: &str) -> f64 {
    svg.split_once("height=\"")
        .and_then(|(_, rest)| rest.split('"').next())
        .and_then(|h| h.parse().ok())
        .unwrap_or(H)
}

/// Several charts of this module (or stacks of them) one below the other in one document.
pub fn stack(charts: &[String]) -> String {
    let total: f64 = charts.iter().map(|c| height_of(c)).sum();
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{total}" viewBox="0 0 {W} {total}">"#
    );
    s.push('\n');
    let mut y = 0.0;
    for c in charts {
        // Each chart is a complete <svg>: nested, it becomes a viewport at its offset.
        s.push_str(&c.replacen("<svg ", &format!(r#"<svg y="{y}" "#), 1));
        y += height_of(c);
    }
    s.push_str("</svg>\n");
    s
}

/// The training curves of a run: loss and accuracy, train and test, per epoch.
/// `runs` are (name, per-epoch metrics); each run adds a train and a test series to both
/// charts.
pub fn training_curves(title: &str, runs: &[(String, Vec<EpochMetrics>)]) -> String {
    let series = |split: &str, f: fn(&EpochMetrics) -> f64| -> Vec<Series> {
        runs.iter()
            .map(|(name, ms)| Series {
                name: if runs.len() == 1 {
                    split.to_string()
                } else {
                    format!("{name} {split}")
                },
                points: ms.iter().map(|m| (m.epoch as f64, f(m))).collect(),
            })
            .collect()
    };
    let mut loss = series("train", |m| m.train_loss);
    loss.extend(series("test", |m| m.test_loss));
    let mut acc = series("train", |m| m.train_acc);
    acc.extend(series("test", |m| m.test_acc));
    stack(&[
        line_chart(
            &format!("{title}: loss"),
            "epoch",
            "cross-entropy loss",
            &loss,
        ),
        line_chart(&format!("{title}: accuracy"), "epoch", "accuracy (%)", &acc),
    ])
}
