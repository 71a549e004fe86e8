//! The report's own two drawings (the line and bar charts come from [`crate::viz::svg`]):
//! the confusion matrix as a heat map, and the model's output shapes as blocks drawn to
//! scale. Each drawn group is a `<g class="series">`, as in the other charts, so the page's
//! self-check can find it.

use std::fmt::Write;

use crate::data::CLASS_NAMES;
use crate::viz::svg::escape;

/// Viridis, sampled at nine points (matplotlib's values): perceptually uniform, readable in
/// grey and by the common forms of colour blindness.
const VIRIDIS: [(f64, f64, f64); 9] = [
    (68.0, 1.0, 84.0),
    (72.0, 40.0, 120.0),
    (62.0, 73.0, 137.0),
    (49.0, 104.0, 142.0),
    (38.0, 130.0, 142.0),
    (31.0, 158.0, 137.0),
    (53.0, 183.0, 121.0),
    (110.0, 206.0, 88.0),
    (253.0, 231.0, 37.0),
];

/// The viridis colour at `t` in [0, 1], linear between the samples.
pub fn viridis(t: f64) -> String {
    let t = t.clamp(0.0, 1.0) * (VIRIDIS.len() - 1) as f64;
    let i = (t.floor() as usize).min(VIRIDIS.len() - 2);
    let f = t - i as f64;
    let (a, b) = (VIRIDIS[i], VIRIDIS[i + 1]);
    let mix = |x: f64, y: f64| (x + (y - x) * f).round() as u8;
    format!(
        "#{:02x}{:02x}{:02x}",
        mix(a.0, b.0),
        mix(a.1, b.1),
        mix(a.2, b.2)
    )
}

/// The 10×10 confusion matrix (`m[true][predicted]`) as a heat map with the count in each
/// cell. A cell's colour is its share of the true class's images on a square-root scale
/// (so the few mistakes stay visible beside the diagonal); empty cells are white.
pub fn confusion_heat_map(m: &[[usize; 10]; 10]) -> String {
    let (cell, left, top) = (46.0, 110.0, 40.0);
    let (w, h) = (left + 10.0 * cell + 20.0, top + 10.0 * cell + 110.0);
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="Helvetica, Arial, sans-serif" font-size="12">"#
    );
    s.push('\n');
    let _ = writeln!(s, r#"<rect width="{w}" height="{h}" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{}" y="22" text-anchor="middle" font-size="15">confusion matrix (rows: true class, columns: predicted)</text>"#,
        left + 5.0 * cell
    );
    for (t, row) in m.iter().enumerate() {
        let total = row.iter().sum::<usize>().max(1) as f64;
        let y = top + t as f64 * cell;
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
            left - 6.0,
            y + cell / 2.0 + 4.0,
            escape(CLASS_NAMES[t])
        );
        let _ = writeln!(
            s,
            r#"<g class="series" data-name="true {}">"#,
            escape(CLASS_NAMES[t])
        );
        for (p, &n) in row.iter().enumerate() {
            let x = left + p as f64 * cell;
            let share = n as f64 / total;
            let (fill, ink) = if n == 0 {
                ("#ffffff".to_string(), "#999999")
            } else {
                let t = share.sqrt();
                (viridis(t), if t > 0.55 { "#000000" } else { "#ffffff" })
            };
            let _ = writeln!(
                s,
                r##"<rect x="{x}" y="{y}" width="{cell}" height="{cell}" fill="{fill}" stroke="#dddddd"><title>true {}, predicted {}: {n}</title></rect><text x="{:.1}" y="{:.1}" text-anchor="middle" fill="{ink}">{n}</text>"##,
                escape(CLASS_NAMES[t]),
                escape(CLASS_NAMES[p]),
                x + cell / 2.0,
                y + cell / 2.0 + 4.0
            );
        }
        s.push_str("</g>\n");
    }
    for (p, name) in CLASS_NAMES.iter().enumerate() {
        let x = left + p as f64 * cell + cell / 2.0;
        let y = top + 10.0 * cell + 10.0;
        let _ = writeln!(
            s,
            r#"<text x="{x:.1}" y="{y:.1}" text-anchor="end" transform="rotate(-45 {x:.1} {y:.1})">{}</text>"#,
            escape(name)
        );
    }
    s.push_str("</svg>\n");
    s
}

/// One block of the shape diagram: a label and an output shape of one image.
pub struct Block {
    /// What produced it ("input", a layer's path and kind).
    pub label: String,
    /// `[C, H, W]` or `[N]`.
    pub shape: Vec<usize>,
}

/// Pixels per row of a feature map, per channel, and per 16 values of a vector.
const PX_PER_ROW: f64 = 5.0;
const PX_PER_CHANNEL: f64 = 1.0;
const VALUES_PER_PX: f64 = 16.0;

/// The caption that says what the diagram's scale is.
pub fn block_diagram_scale() -> String {
    format!(
        "Drawn to scale: a feature map's height is {PX_PER_ROW} px per row of H, its width {PX_PER_CHANNEL} px per channel; a vector is a bar {VALUES_PER_PX} values per px tall (at least 4 px)."
    )
}

/// The blocks left to right, each drawn to the scale [`block_diagram_scale`] states, with
/// its shape and label below it.
pub fn block_diagram(blocks: &[Block]) -> String {
    let size = |b: &Block| -> (f64, f64) {
        match b.shape.as_slice() {
            [c, h, _] => (
                (*c as f64 * PX_PER_CHANNEL).max(2.0),
                *h as f64 * PX_PER_ROW,
            ),
            s => (
                10.0,
                (s.iter().product::<usize>() as f64 / VALUES_PER_PX).max(4.0),
            ),
        }
    };
    let slot = |b: &Block| size(b).0.max(110.0) + 16.0;
    let tallest = blocks.iter().map(|b| size(b).1).fold(40.0, f64::max);
    let (top, text) = (20.0, 46.0);
    let w = 20.0 + blocks.iter().map(slot).sum::<f64>();
    let h = top + tallest + text;
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="Helvetica, Arial, sans-serif" font-size="11">"#
    );
    s.push('\n');
    let _ = writeln!(s, r#"<rect width="{w}" height="{h}" fill="white"/>"#);
    let mut x = 10.0;
    for b in blocks {
        let (bw, bh) = size(b);
        let sw = slot(b);
        let cx = x + sw / 2.0;
        let fill = if b.shape.len() == 3 {
            "#31688e"
        } else {
            "#35b779"
        };
        let shape: Vec<String> = b.shape.iter().map(|d| d.to_string()).collect();
        let _ = writeln!(
            s,
            r##"<g class="series" data-name="{}"><rect x="{:.1}" y="{:.1}" width="{bw:.1}" height="{bh:.1}" fill="{fill}"/><text x="{cx:.1}" y="{:.1}" text-anchor="middle">{}</text><text x="{cx:.1}" y="{:.1}" text-anchor="middle" fill="#555">{}</text></g>"##,
            escape(&b.label),
            cx - bw / 2.0,
            top + tallest - bh,
            top + tallest + 16.0,
            shape.join("×"),
            top + tallest + 32.0,
            escape(&shorten(&b.label, 20))
        );
        x += sw;
    }
    s.push_str("</svg>\n");
    s
}

/// `s` cut to `n` characters with an ellipsis.
fn shorten(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}
