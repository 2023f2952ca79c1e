//! The two small charts of a transcript page, as inline SVG: answers per
//! question, and answers per minute of the debate. Drawn here from numbers
//! only (labels are `Q1`, `Q2`...), so nothing a participant wrote can get
//! into the markup; the colours come from the page's stylesheet.

use std::fmt::Write as _;

/// Horizontal bars, one per question: `(label, answers)`.
pub fn per_question(rows: &[(String, usize)]) -> String {
    let max = rows.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
    let row_h = 22;
    let height = rows.len().max(1) * row_h;
    let mut svg = format!(
        "<svg class=\"chart\" viewBox=\"0 0 320 {height}\" role=\"img\" \
         aria-label=\"Answers per question\"><title>Answers per question</title>"
    );
    for (i, (label, n)) in rows.iter().enumerate() {
        let y = i * row_h;
        let width = 240 * n / max;
        let _ = write!(
            svg,
            "<text x=\"0\" y=\"{}\" class=\"label\">{}</text>\
             <rect x=\"40\" y=\"{}\" width=\"{}\" height=\"14\" class=\"bar\"/>\
             <text x=\"{}\" y=\"{}\" class=\"value\">{n}</text>",
            y + 15,
            escape(label),
            y + 4,
            width.max(1),
            44 + width,
            y + 15,
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Vertical bars, one per minute from the start: answers sent in it.
pub fn per_minute(minutes: &[usize]) -> String {
    let max = minutes.iter().copied().max().unwrap_or(0).max(1);
    let n = minutes.len().max(1);
    let width = 320;
    let height = 100;
    let bar = (width as f64 / n as f64).max(1.0);
    let mut svg = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {width} {}\" role=\"img\" \
         aria-label=\"Answers per minute\"><title>Answers per minute</title>",
        height + 16
    );
    for (i, count) in minutes.iter().enumerate() {
        let h = (height * count / max) as f64;
        let _ = write!(
            svg,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\" class=\"bar\">\
             <title>minute {}: {count}</title></rect>",
            i as f64 * bar,
            height as f64 - h,
            (bar - 1.0).max(0.5),
            i + 1,
        );
    }
    let _ = write!(
        svg,
        "<text x=\"0\" y=\"{}\" class=\"label\">0</text>\
         <text x=\"{width}\" y=\"{}\" class=\"label end\">{} min</text></svg>",
        height + 14,
        height + 14,
        minutes.len()
    );
    svg
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_are_svg_with_one_bar_per_row() {
        let svg = per_question(&[("Q1".into(), 3), ("Q2".into(), 0)]);
        assert!(svg.starts_with("<svg ") && svg.ends_with("</svg>"));
        assert_eq!(svg.matches("<rect ").count(), 2);
        let svg = per_minute(&[1, 0, 4]);
        assert_eq!(svg.matches("<rect ").count(), 3);
        assert!(svg.contains("3 min"));
    }
}
