//! The SVG kit of the HTML report: escaping, number formatting, round axis ticks, and a small
//! plot (axes, points, lines, bars) drawn as inline SVG — no chart library, nothing loaded.

use std::fmt::Write;

pub(super) fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// A number for display: 4 significant decimals, compact for large or tiny values.
pub(super) fn num(x: f64) -> String {
    if !x.is_finite() {
        return x.to_string();
    }
    let a = x.abs();
    if a != 0.0 && !(1e-3..1e6).contains(&a) {
        format!("{x:.3e}")
    } else if a >= 100.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.4}")
    }
}

/// About five round tick values covering `[lo, hi]`.
pub(super) fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    if hi.partial_cmp(&lo) != Some(std::cmp::Ordering::Greater) {
        return vec![lo];
    }
    let raw = (hi - lo) / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    // Multiples of the step, rounded to its decimals (0.83, not 0.8300000000000001).
    let scale = 10f64.powi((-step.log10().floor()).max(0.0) as i32 + 1);
    let (first, last) = (
        (lo / step - 1e-9).ceil() as i64,
        (hi / step + 1e-9).floor() as i64,
    );
    (first..=last)
        .take(12)
        .map(|k| (k as f64 * step * scale).round() / scale)
        .collect()
}

/// A tick value with as many decimals as its step needs (0.25 → "0.25", 5000 → "5000").
pub(super) fn tick_label(v: f64, step: f64) -> String {
    let a = v.abs().max(step.abs());
    if a != 0.0 && !(1e-4..1e7).contains(&a) {
        return format!("{v:.2e}");
    }
    let decimals = if step > 0.0 {
        (-step.log10().floor()).max(0.0) as usize
    } else {
        2
    };
    let decimals = if (step * 10f64.powi(decimals as i32)).fract().abs() > 1e-6 {
        decimals + 1
    } else {
        decimals
    };
    format!("{v:.decimals$}")
}

/// Data range padded by 4 %, never empty.
pub(super) fn range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-12 {
        let pad = if lo.abs() > 0.0 { lo.abs() * 0.05 } else { 0.5 };
        return (lo - pad, hi + pad);
    }
    let pad = (hi - lo) * 0.04;
    (lo - pad, hi + pad)
}

/// A scatter / line chart in SVG.
pub(super) struct Plot {
    w: f64,
    h: f64,
    /// The x range.
    pub(super) x: (f64, f64),
    y: (f64, f64),
    /// Whether x is drawn on a log scale.
    pub(super) log_x: bool,
    body: String,
    xlabel: String,
    ylabel: String,
    /// Dots already drawn (half-pixel cells and colour): a dot on top of an identical one adds
    /// bytes, not information.
    drawn: std::collections::HashSet<(i64, i64, &'static str)>,
}

pub(super) const ML: f64 = 62.0;
pub(super) const MR: f64 = 26.0;
pub(super) const MT: f64 = 12.0;
pub(super) const MB: f64 = 40.0;

impl Plot {
    pub(super) fn new(x: (f64, f64), y: (f64, f64), xlabel: &str, ylabel: &str) -> Plot {
        Plot {
            w: 460.0,
            h: 300.0,
            x,
            y,
            log_x: false,
            body: String::new(),
            xlabel: xlabel.into(),
            ylabel: ylabel.into(),
            drawn: std::collections::HashSet::new(),
        }
    }

    pub(super) fn tx(&self, v: f64) -> f64 {
        if self.log_x {
            v.max(1e-300).log10()
        } else {
            v
        }
    }

    pub(super) fn px(&self, v: f64) -> f64 {
        let (a, b) = (self.tx(self.x.0), self.tx(self.x.1));
        ML + (self.tx(v) - a) / (b - a).max(1e-300) * (self.w - ML - MR)
    }

    pub(super) fn py(&self, v: f64) -> f64 {
        self.h - MB - (v - self.y.0) / (self.y.1 - self.y.0).max(1e-300) * (self.h - MT - MB)
    }

    pub(super) fn point(&mut self, x: f64, y: f64, color: &'static str, hollow: bool, title: &str) {
        if !(x.is_finite() && y.is_finite()) {
            return;
        }
        let cell = (
            (self.px(x) * 2.0).round() as i64,
            (self.py(y) * 2.0).round() as i64,
            color,
        );
        if !self.drawn.insert(cell) {
            return;
        }
        let (fill, stroke) = if hollow { ("none", color) } else { (color, "none") };
        let _ = write!(
            self.body,
            r#"<circle cx="{:.1}" cy="{:.1}" r="3.2" fill="{fill}" stroke="{stroke}" fill-opacity="0.75"><title>{}</title></circle>"#,
            self.px(x),
            self.py(y),
            esc(title)
        );
    }

    pub(super) fn line(&mut self, pts: &[(f64, f64)], color: &str, dashed: bool, step: bool) {
        let mut d = String::new();
        let mut prev: Option<(f64, f64)> = None;
        for &(x, y) in pts.iter().filter(|(x, y)| x.is_finite() && y.is_finite()) {
            let (px, py) = (self.px(x), self.py(y));
            match prev {
                None => {
                    let _ = write!(d, "M{px:.1},{py:.1}");
                }
                Some((_, qy)) if step => {
                    let _ = write!(d, "L{px:.1},{qy:.1}L{px:.1},{py:.1}");
                }
                Some(_) => {
                    let _ = write!(d, "L{px:.1},{py:.1}");
                }
            }
            prev = Some((px, py));
        }
        let dash = if dashed { r#" stroke-dasharray="5,4""# } else { "" };
        let _ = write!(
            self.body,
            r#"<path d="{d}" fill="none" stroke="{color}" stroke-width="2"{dash}/>"#
        );
    }

    pub(super) fn rect(&mut self, x0: f64, x1: f64, y1: f64, color: &str, title: &str) {
        let (a, b) = (self.px(x0), self.px(x1));
        let (top, base) = (self.py(y1), self.py(self.y.0.max(0.0)));
        let _ = write!(
            self.body,
            r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{color}" fill-opacity="0.8"><title>{}</title></rect>"#,
            a + 0.5,
            top.min(base),
            (b - a - 1.0).max(0.5),
            (base - top).abs(),
            esc(title)
        );
    }

    pub(super) fn finish(self) -> String {
        let mut s = format!(
            r#"<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img">"#,
            w = self.w,
            h = self.h
        );
        let (x0, x1, y0, y1) = (ML, self.w - MR, MT, self.h - MB);
        let _ = write!(
            s,
            "<rect x=\"{x0}\" y=\"{y0}\" width=\"{}\" height=\"{}\" fill=\"#fafbfc\" stroke=\"#d0d4da\"/>",
            x1 - x0,
            y1 - y0
        );
        let ys = ticks(self.y.0, self.y.1);
        let ystep = ys.windows(2).map(|w| w[1] - w[0]).next().unwrap_or(1.0);
        for t in ys {
            let py = self.py(t);
            let _ = write!(
                s,
                "<line x1=\"{x0}\" x2=\"{x1}\" y1=\"{py:.1}\" y2=\"{py:.1}\" stroke=\"#e6e8eb\"/><text x=\"{}\" y=\"{:.1}\" class=\"tick\" text-anchor=\"end\">{}</text>",
                x0 - 5.0,
                py + 4.0,
                esc(&tick_label(t, ystep))
            );
        }
        let xt: Vec<f64> = if self.log_x {
            let (a, b) = (self.tx(self.x.0).ceil() as i32, self.tx(self.x.1).floor() as i32);
            (a..=b).map(|e| 10f64.powi(e)).collect()
        } else {
            ticks(self.x.0, self.x.1)
        };
        let xstep = xt.windows(2).map(|w| w[1] - w[0]).next().unwrap_or(1.0);
        for t in xt {
            let px = self.px(t);
            let _ = write!(
                s,
                "<line x1=\"{px:.1}\" x2=\"{px:.1}\" y1=\"{y0}\" y2=\"{y1}\" stroke=\"#e6e8eb\"/><text x=\"{px:.1}\" y=\"{}\" class=\"tick\" text-anchor=\"middle\">{}</text>",
                y1 + 15.0,
                esc(&if self.log_x { num(t) } else { tick_label(t, xstep) })
            );
        }
        s.push_str(&self.body);
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{}" class="axis" text-anchor="middle">{}</text><text transform="translate(13,{:.1}) rotate(-90)" class="axis" text-anchor="middle">{}</text></svg>"#,
            (x0 + x1) / 2.0,
            self.h - 6.0,
            esc(&self.xlabel),
            (y0 + y1) / 2.0,
            esc(&self.ylabel)
        );
        s
    }
}

/// Horizontal bars (HTML), longest = best; `values` already ordered.
pub(super) fn bars(values: &[(String, f64)], higher_is_better: bool, unit: &str) -> String {
    if values.is_empty() {
        return "<p class=\"muted\">Nothing to show.</p>".into();
    }
    let (lo, hi) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), (_, v)| {
            (a.min(*v), b.max(*v))
        });
    let mut s = String::from("<div class=\"bars\">");
    for (name, v) in values {
        let frac = if hi - lo < 1e-12 {
            1.0
        } else if higher_is_better {
            0.08 + 0.92 * (v - lo) / (hi - lo)
        } else {
            0.08 + 0.92 * (hi - v) / (hi - lo)
        };
        let _ = write!(
            s,
            r#"<div class="bar"><span class="label">{}</span><span class="track"><span class="fill" style="width:{:.1}%"></span></span><span class="value">{}{}</span></div>"#,
            esc(name),
            frac * 100.0,
            esc(&num(*v)),
            esc(unit)
        );
    }
    s.push_str("</div>");
    s
}
