//! The page itself: one HTML file with its CSS, images and charts inline, so it opens
//! offline and needs no other file. Images are PNG bytes in `data:` URLs (base64), charts are
//! inline SVG, and a small inline script checks, once the page has loaded, that every image
//! decoded and every chart has its series, and writes what it found into the page
//! (`#self-check`), where a person or a headless browser can read it.

use std::fmt::Write;

use crate::viz::png::Image;

/// Text safe inside HTML content and attribute values.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Standard base64 (RFC 4648, with `=` padding): every 3 bytes become 4 of the 64
/// characters below, 6 bits each, high bits first.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// An `<img>` of `image` as an inline PNG, drawn at `scale` times its pixel size with
/// crisp pixels, with `alt` text.
pub fn img(image: &Image, scale: usize, alt: &str) -> String {
    format!(
        r#"<img src="data:image/png;base64,{}" width="{}" height="{}" alt="{}">"#,
        base64(&image.to_png()),
        image.width * scale,
        image.height * scale,
        escape(alt)
    )
}

/// An SVG chart as an inline figure with a caption. The `xmlns` attribute (a URL, which
/// inline SVG in HTML does not need) is dropped, so the page names no address at all.
pub fn chart(svg: &str, caption: &str) -> String {
    let svg = svg.replace(r#" xmlns="http://www.w3.org/2000/svg""#, "");
    format!(
        "<figure class=\"chart\" role=\"img\" aria-label=\"{}\">\n{svg}<figcaption>{}</figcaption></figure>\n",
        escape(caption),
        escape(caption)
    )
}

const CSS: &str = r#"
body { font-family: Helvetica, Arial, sans-serif; max-width: 1100px; margin: 1.5em auto; padding: 0 1em; color: #222; line-height: 1.4; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.25em; border-bottom: 1px solid #ccc; margin-top: 2em; }
table { border-collapse: collapse; margin: 0.5em 0; }
td, th { padding: 2px 8px; border-bottom: 1px solid #eee; text-align: left; vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { display: inline-block; margin: 0.5em 1em 0.5em 0; vertical-align: top; }
figcaption { font-size: 0.85em; color: #555; max-width: 640px; }
svg { max-width: 100%; height: auto; }
img { image-rendering: pixelated; image-rendering: crisp-edges; }
pre { font-size: 0.8em; overflow-x: auto; background: #f7f7f7; padding: 0.6em; }
.note { color: #666; font-style: italic; }
.small { font-size: 0.85em; }
#self-check { font-size: 0.8em; color: #666; }
@media print { body { max-width: none; } h2 { page-break-after: avoid; } figure { page-break-inside: avoid; } }
"#;

/// Runs when the page has loaded: counts images that did not decode and charts without a
/// series, and writes the verdict into `#self-check` (`data-ok="true"` when both are zero).
const SELF_CHECK: &str = r#"
window.addEventListener('load', function () {
  var imgs = document.images, bad = 0;
  for (var i = 0; i < imgs.length; i++) {
    if (!(imgs[i].complete && imgs[i].naturalWidth > 0)) bad++;
  }
  var charts = document.querySelectorAll('figure.chart'), empty = 0;
  for (var j = 0; j < charts.length; j++) {
    if (charts[j].querySelectorAll('g.series').length === 0) empty++;
  }
  var out = document.getElementById('self-check');
  out.setAttribute('data-images', imgs.length);
  out.setAttribute('data-images-bad', bad);
  out.setAttribute('data-charts', charts.length);
  out.setAttribute('data-charts-empty', empty);
  out.setAttribute('data-ok', bad === 0 && empty === 0 ? 'true' : 'false');
  out.textContent = 'page self-check: ' + (imgs.length - bad) + ' of ' + imgs.length +
    ' images decoded, ' + (charts.length - empty) + ' of ' + charts.length + ' charts have data';
});
"#;

/// A page being written: sections in order, then [`Page::finish`].
pub struct Page {
    body: String,
    title: String,
}

impl Page {
    /// An empty page with this title.
    pub fn new(title: &str) -> Page {
        Page {
            body: String::new(),
            title: title.to_string(),
        }
    }

    /// A section: a heading with an id (for links and tests) and its HTML content.
    pub fn section(&mut self, id: &str, heading: &str, content: &str) {
        let _ = writeln!(
            self.body,
            "<section id=\"{id}\">\n<h2>{}</h2>\n{content}</section>",
            escape(heading)
        );
    }

    /// Raw HTML at the current place (the page's header).
    pub fn push(&mut self, html: &str) {
        self.body.push_str(html);
    }

    /// The whole document.
    pub fn finish(self) -> String {
        format!(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n{}<p id=\"self-check\" data-ok=\"pending\">page self-check: not run (scripts are off)</p>\n<script>{SELF_CHECK}</script>\n</body>\n</html>\n",
            escape(&self.title),
            self.body
        )
    }
}

/// An HTML table: a header row, then rows; columns listed in `numeric` are right-aligned.
pub fn table(header: &[&str], rows: &[Vec<String>], numeric: &[usize]) -> String {
    let class = |i: usize| {
        if numeric.contains(&i) {
            " class=\"num\""
        } else {
            ""
        }
    };
    let mut s = String::from("<table>\n<tr>");
    for (i, h) in header.iter().enumerate() {
        let _ = write!(s, "<th{}>{}</th>", class(i), escape(h));
    }
    s.push_str("</tr>\n");
    for r in rows {
        s.push_str("<tr>");
        for (i, cell) in r.iter().enumerate() {
            let _ = write!(s, "<td{}>{}</td>", class(i), escape(cell));
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</table>\n");
    s
}
