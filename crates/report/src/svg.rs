//! Charts as inline SVG: horizontal bars (stacked or grouped) and vertical
//! grouped histograms, each with labelled axes, ticks, a legend and a
//! tooltip (`<title>`) on every bar.
//!
//! Written by hand rather than with a plotting crate: two chart shapes in a
//! few hundred lines, no fonts or rasterising to bundle, and every string
//! that reaches the markup goes through [`esc`] here. Cost: linear in the
//! number of bars.

use crate::html::esc;
use std::fmt::Write;

/// One coloured series of a chart.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub color: &'static str,
}

/// A row of a horizontal bar chart: one value per series.
#[derive(Debug, Clone)]
pub struct HRow {
    pub label: String,
    pub values: Vec<f64>,
    /// Text right of the bar(s).
    pub note: String,
}

/// Horizontal bars, one row per item.
pub struct HBars<'a> {
    /// What the chart shows (accessible name).
    pub title: String,
    pub rows: Vec<HRow>,
    pub series: Vec<Series>,
    /// Axis label, with its unit.
    pub x_label: String,
    /// Tick and tooltip values are divided by this (1e6 for MB).
    pub scale: f64,
    /// Series side by side in each row instead of stacked.
    pub grouped: bool,
    /// Formats a raw value for tooltips.
    pub fmt: &'a dyn Fn(f64) -> String,
    /// Drawing width in CSS pixels ([`WIDE`] or [`HALF`]).
    pub width: f64,
}

/// Vertical grouped bars over labelled buckets.
pub struct Histogram<'a> {
    pub title: String,
    pub buckets: Vec<String>,
    /// One value per bucket for each series.
    pub series: Vec<(Series, Vec<f64>)>,
    pub x_label: String,
    pub y_label: String,
    pub fmt: &'a dyn Fn(f64) -> String,
    /// Drawing width in CSS pixels ([`WIDE`] or [`HALF`]).
    pub width: f64,
}

/// Qualitative colours for drop reasons (distinct from the kept/in/out blues).
pub const PALETTE: [&str; 10] = [
    "#d62728", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf", "#7f7f7f",
    "#e7ba52", "#843c39",
];
pub const KEPT: &str = "#4c78a8";
pub const INPUT: &str = "#9ecae9";
pub const OUTPUT: &str = "#2b6cb0";

/// Width of a chart across the page.
pub const WIDE: f64 = 1200.0;
/// Width of a chart in a two-column grid.
pub const HALF: f64 = 600.0;
const CHAR_W: f64 = 6.6;

/// A step of 1, 2 or 5 times a power of ten giving about `target` ticks.
fn nice_step(max: f64, target: f64, integer: bool) -> f64 {
    if max.is_nan() || max <= 0.0 || max.is_infinite() {
        return 1.0;
    }
    let raw = max / target;
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let s = if norm <= 1.0 {
        1.0
    } else if norm <= 2.0 {
        2.0
    } else if norm <= 5.0 {
        5.0
    } else {
        10.0
    };
    let step = s * mag;
    if integer {
        step.max(1.0)
    } else {
        step
    }
}

/// Tick values 0, step, ... up to the first one at or above `max`.
fn ticks(max: f64, integer: bool) -> Vec<f64> {
    let step = nice_step(max, 5.0, integer);
    let n = ((max / step).ceil() as usize).clamp(1, 50);
    (0..=n).map(|i| i as f64 * step).collect()
}

/// A tick label: short, without float noise.
pub fn tick_label(v: f64) -> String {
    let a = v.abs();
    if a >= 1e9 {
        format!("{}G", trim(v / 1e9))
    } else if a >= 1e6 {
        format!("{}M", trim(v / 1e6))
    } else if a >= 1e4 {
        format!("{}k", trim(v / 1e3))
    } else {
        trim(v)
    }
}

fn trim(v: f64) -> String {
    let s = format!("{v:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.to_string()
    }
}

fn text_width(s: &str) -> f64 {
    s.chars().count() as f64 * CHAR_W
}

/// `s` cut to about `width` pixels, with an ellipsis when cut.
fn fit(s: &str, width: f64) -> String {
    let max = (width / CHAR_W).floor().max(4.0) as usize;
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let cut: String = s.chars().take(max - 1).collect();
        format!("{cut}…")
    }
}

fn open_svg(out: &mut String, title: &str, width: f64, height: f64) {
    let _ = write!(
        out,
        r#"<svg class="chart" viewBox="0 0 {width:.0} {height:.0}" width="{width:.0}" height="{height:.0}" role="img" xmlns="http://www.w3.org/2000/svg"><title>{}</title>"#,
        esc(title)
    );
}

/// The legend under a chart, as HTML (it wraps like text).
fn legend(series: &[Series]) -> String {
    let mut out = String::from(r#"<div class="legend">"#);
    for s in series {
        let _ = write!(
            out,
            r#"<span class="key"><svg width="12" height="12" aria-hidden="true"><rect width="12" height="12" fill="{}"/></svg>{}</span>"#,
            s.color,
            esc(&s.name)
        );
    }
    out.push_str("</div>");
    out
}

/// Renders horizontal bars inside a `<figure>` with its legend.
pub fn hbars(c: &HBars<'_>) -> String {
    let label_w = c
        .rows
        .iter()
        .map(|r| text_width(&r.label))
        .fold(60.0, f64::max)
        .min(220.0)
        + 12.0;
    let note_w = c
        .rows
        .iter()
        .map(|r| text_width(&r.note))
        .fold(0.0, f64::max)
        .min(260.0)
        + 12.0;
    let plot_w = (c.width - label_w - note_w - 10.0).max(200.0);
    let n_series = c.series.len().max(1);
    let bar_h = 16.0;
    let row_h = if c.grouped {
        bar_h * n_series as f64 + 10.0
    } else {
        bar_h + 12.0
    };
    let top = 8.0;
    let plot_h = row_h * c.rows.len().max(1) as f64;
    let height = top + plot_h + 44.0;
    let max = c
        .rows
        .iter()
        .map(|r| {
            if c.grouped {
                r.values.iter().copied().fold(0.0, f64::max)
            } else {
                r.values.iter().sum()
            }
        })
        .fold(0.0, f64::max);
    let scaled_max = max / c.scale;
    let ts = ticks(scaled_max, c.scale == 1.0);
    let axis_max = ts.last().copied().unwrap_or(1.0).max(f64::MIN_POSITIVE);
    let x = |v: f64| label_w + (v / c.scale) / axis_max * plot_w;

    let mut out = String::from(r#"<figure class="fig">"#);
    open_svg(&mut out, &c.title, c.width, height);
    // Grid and ticks.
    for t in &ts {
        let tx = label_w + t / axis_max * plot_w;
        let _ = write!(
            out,
            r##"<line class="grid" x1="{tx:.1}" y1="{top}" x2="{tx:.1}" y2="{:.1}"/><text class="tick" x="{tx:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
            top + plot_h,
            top + plot_h + 16.0,
            esc(&tick_label(*t))
        );
    }
    let _ = write!(
        out,
        r#"<line class="axis" x1="{label_w:.1}" y1="{top}" x2="{label_w:.1}" y2="{:.1}"/><line class="axis" x1="{label_w:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}"/>"#,
        top + plot_h,
        top + plot_h,
        label_w + plot_w,
        top + plot_h
    );
    let _ = write!(
        out,
        r#"<text class="axis-label" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
        label_w + plot_w / 2.0,
        height - 6.0,
        esc(&c.x_label)
    );
    for (ri, row) in c.rows.iter().enumerate() {
        let y0 = top + ri as f64 * row_h + 5.0;
        let _ = write!(
            out,
            r#"<text class="row-label" x="{:.1}" y="{:.1}" text-anchor="end"><title>{}</title>{}</text>"#,
            label_w - 8.0,
            y0 + (row_h - 10.0) / 2.0 + 4.0,
            esc(&row.label),
            esc(&fit(&row.label, label_w - 12.0))
        );
        let mut acc = 0.0;
        let mut end = label_w;
        for (si, v) in row.values.iter().enumerate() {
            let (bx, by, bw) = if c.grouped {
                (label_w, y0 + si as f64 * bar_h, x(*v) - label_w)
            } else {
                let bx = x(acc);
                acc += v;
                (bx, y0, x(acc) - bx)
            };
            end = end.max(bx + bw);
            if *v <= 0.0 {
                continue;
            }
            let color = c.series.get(si).map(|s| s.color).unwrap_or(KEPT);
            let name = c.series.get(si).map(|s| s.name.as_str()).unwrap_or("");
            let _ = write!(
                out,
                r#"<rect x="{bx:.1}" y="{by:.1}" width="{:.1}" height="{:.1}" fill="{color}"><title>{}: {}: {}</title></rect>"#,
                bw.max(1.0),
                bar_h - 2.0,
                esc(&row.label),
                esc(name),
                esc(&(c.fmt)(*v))
            );
        }
        if !row.note.is_empty() {
            let _ = write!(
                out,
                r#"<text class="note" x="{:.1}" y="{:.1}">{}</text>"#,
                end + 6.0,
                y0 + (row_h - 10.0) / 2.0 + 4.0,
                esc(&fit(&row.note, note_w))
            );
        }
    }
    out.push_str("</svg>");
    out.push_str(&legend(&c.series));
    out.push_str("</figure>");
    out
}

/// Renders a vertical grouped histogram inside a `<figure>` with its legend.
pub fn histogram(h: &Histogram<'_>) -> String {
    let left = 70.0;
    let right = 16.0;
    let top = 12.0;
    let longest = h.buckets.iter().map(|b| text_width(b)).fold(0.0, f64::max);
    let plot_w = h.width - left - right;
    let n = h.buckets.len().max(1);
    let slot = plot_w / n as f64;
    let rotate = longest + 6.0 > slot;
    let label_h = if rotate {
        (longest * 0.7 + 14.0).min(110.0)
    } else {
        20.0
    };
    let plot_h = 240.0;
    let height = top + plot_h + label_h + 30.0;
    let max = h
        .series
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .fold(0.0, f64::max);
    let ts = ticks(max, true);
    let axis_max = ts.last().copied().unwrap_or(1.0).max(f64::MIN_POSITIVE);
    let y = |v: f64| top + plot_h - v / axis_max * plot_h;

    let mut out = String::from(r#"<figure class="fig">"#);
    open_svg(&mut out, &h.title, h.width, height);
    for t in &ts {
        let ty = y(*t);
        let _ = write!(
            out,
            r#"<line class="grid" x1="{left}" y1="{ty:.1}" x2="{:.1}" y2="{ty:.1}"/><text class="tick" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            left + plot_w,
            left - 6.0,
            ty + 4.0,
            esc(&tick_label(*t))
        );
    }
    let _ = write!(
        out,
        r#"<line class="axis" x1="{left}" y1="{top}" x2="{left}" y2="{:.1}"/><line class="axis" x1="{left}" y1="{:.1}" x2="{:.1}" y2="{:.1}"/>"#,
        top + plot_h,
        top + plot_h,
        left + plot_w,
        top + plot_h
    );
    let _ = write!(
        out,
        r#"<text class="axis-label" transform="translate(16 {:.1}) rotate(-90)" text-anchor="middle">{}</text>"#,
        top + plot_h / 2.0,
        esc(&h.y_label)
    );
    let _ = write!(
        out,
        r#"<text class="axis-label" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
        left + plot_w / 2.0,
        height - 6.0,
        esc(&h.x_label)
    );
    let ns = h.series.len().max(1) as f64;
    let bar_w = ((slot - 4.0) / ns).max(1.0);
    for (bi, bucket) in h.buckets.iter().enumerate() {
        let sx = left + bi as f64 * slot;
        for (si, (s, values)) in h.series.iter().enumerate() {
            let v = values.get(bi).copied().unwrap_or(0.0);
            if v <= 0.0 {
                continue;
            }
            let bx = sx + 2.0 + si as f64 * bar_w;
            let _ = write!(
                out,
                r#"<rect x="{bx:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{}"><title>{}: {}: {}</title></rect>"#,
                y(v),
                (bar_w - 1.0).max(1.0),
                (top + plot_h - y(v)).max(1.0),
                s.color,
                esc(&s.name),
                esc(bucket),
                esc(&(h.fmt)(v))
            );
        }
        let lx = sx + slot / 2.0;
        let ly = top + plot_h + 14.0;
        if rotate {
            let _ = write!(
                out,
                r#"<text class="tick" transform="translate({lx:.1} {ly:.1}) rotate(-40)" text-anchor="end">{}</text>"#,
                esc(bucket)
            );
        } else {
            let _ = write!(
                out,
                r#"<text class="tick" x="{lx:.1}" y="{ly:.1}" text-anchor="middle">{}</text>"#,
                esc(bucket)
            );
        }
    }
    out.push_str("</svg>");
    out.push_str(&legend(
        &h.series.iter().map(|(s, _)| s.clone()).collect::<Vec<_>>(),
    ));
    out.push_str("</figure>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_maximum() {
        for (max, integer, want) in [
            (0.0, true, vec![0.0, 1.0]),
            (7.0, true, vec![0.0, 2.0, 4.0, 6.0, 8.0]),
            (1234.0, true, vec![0.0, 500.0, 1000.0, 1500.0]),
            (0.42, false, vec![0.0, 0.1, 0.2, 0.3, 0.4, 0.5]),
        ] {
            let t = ticks(max, integer);
            assert_eq!(t.len(), want.len(), "{max}: {t:?}");
            for (a, b) in t.iter().zip(&want) {
                assert!((a - b).abs() < 1e-9, "{max}: {t:?}");
            }
        }
        assert_eq!(tick_label(1500.0), "1500");
        assert_eq!(tick_label(25000.0), "25k");
        assert_eq!(tick_label(2_500_000.0), "2.5M");
        assert_eq!(tick_label(0.30000000000000004), "0.3");
    }

    #[test]
    fn labels_and_names_are_escaped_in_titles_and_text() {
        let fmt = |v: f64| format!("{v}");
        let c = HBars {
            title: "t</svg><script>".into(),
            rows: vec![HRow {
                label: "<img src=x onerror=alert(1)>".into(),
                values: vec![3.0, 1.0],
                note: "a&b".into(),
            }],
            series: vec![
                Series {
                    name: "kept".into(),
                    color: KEPT,
                },
                Series {
                    name: "x/<b>".into(),
                    color: PALETTE[0],
                },
            ],
            x_label: "documents".into(),
            scale: 1.0,
            grouped: false,
            fmt: &fmt,
            width: WIDE,
        };
        let svg = hbars(&c);
        assert!(!svg.contains("<img"), "{svg}");
        assert!(!svg.contains("<script"), "{svg}");
        assert!(!svg.contains("<b>"), "{svg}");
        assert!(svg.contains("&lt;img src=x onerror=alert(1)&gt;"));
        assert!(svg.contains("a&amp;b"));
        assert_eq!(svg.matches("<svg").count(), 3, "chart and two legend keys");
        assert_eq!(svg.matches("</svg>").count(), 3);
    }

    #[test]
    fn histogram_draws_one_rect_per_nonzero_value() {
        let fmt = |v: f64| format!("{v}");
        let h = Histogram {
            title: "lengths".into(),
            buckets: vec!["0".into(), "64".into(), "128".into()],
            series: vec![
                (
                    Series {
                        name: "in".into(),
                        color: INPUT,
                    },
                    vec![1.0, 0.0, 5.0],
                ),
                (
                    Series {
                        name: "out".into(),
                        color: OUTPUT,
                    },
                    vec![2.0, 3.0, 0.0],
                ),
            ],
            x_label: "bytes".into(),
            y_label: "documents".into(),
            fmt: &fmt,
            width: HALF,
        };
        let svg = histogram(&h);
        // Two legend swatches plus four bars.
        assert_eq!(svg.matches("<rect").count(), 6, "{svg}");
    }
}
