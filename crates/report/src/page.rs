//! The page: summary, funnel, sources, histograms, samples, config.
//!
//! Each section is a function from [`RunData`] to HTML. Untrusted strings
//! reach the markup only through [`esc`] (directly or inside the chart
//! builders); the page's only script is static and sorts tables by moving
//! row nodes, never by writing markup. Cost: linear in the sample size.

use crate::html::{byte_unit, bytes, esc, pct, short_len, thousands};
use crate::input::{RunData, StageEntry, PER_REASON, PER_SOURCE_LINES, SAMPLE_BYTES};
use crate::svg::{self, HBars, HRow, Histogram, Series, HALF, INPUT, KEPT, OUTPUT, PALETTE, WIDE};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write;

const CSS: &str = r#"
:root{--fg:#1b1f24;--muted:#5b6572;--line:#d8dee4;--bg:#fff;--soft:#f5f7f9;--accent:#2b6cb0}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:var(--fg);background:var(--bg)}
header{padding:18px 32px 10px;border-bottom:1px solid var(--line);background:var(--soft)}
header h1{margin:0 0 4px;font-size:22px}
header .sub{color:var(--muted);overflow-wrap:anywhere}
nav{margin-top:8px}
nav a{margin-right:14px;color:var(--accent);text-decoration:none}
main{padding:8px 32px 40px;max-width:1280px}
section{margin-top:26px}
h2{font-size:18px;margin:0 0 8px;border-bottom:1px solid var(--line);padding-bottom:4px}
h3{font-size:15px;margin:18px 0 6px}
p.note,.muted{color:var(--muted)}
.cards{display:flex;flex-wrap:wrap;gap:10px}
.card{border:1px solid var(--line);border-radius:6px;padding:8px 14px;min-width:150px;background:var(--soft)}
.card .v{font-size:20px;font-weight:600}
.card .k{color:var(--muted);font-size:12px}
table{border-collapse:collapse;margin:6px 0 10px;font-size:13px}
th{white-space:nowrap}
.scroll{overflow-x:auto}
td.counters{font-size:12px;min-width:150px;overflow-wrap:anywhere}
th,td{border-bottom:1px solid var(--line);padding:4px 8px;text-align:left;vertical-align:top}
th{background:var(--soft);font-weight:600}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
table.sortable th{cursor:pointer;user-select:none}
table.sortable th::after{content:" \2195";color:#9aa4ae}
table.sortable th[aria-sort=ascending]::after{content:" \25B2";color:var(--fg)}
table.sortable th[aria-sort=descending]::after{content:" \25BC";color:var(--fg)}
tbody tr:nth-child(even){background:#fafbfc}
.fig{margin:8px 0 16px}
svg.chart{max-width:100%;height:auto;display:block}
svg.chart text{font-family:inherit;font-size:12px;fill:var(--fg)}
svg.chart .tick{fill:var(--muted);font-size:11px}
svg.chart .axis-label{font-weight:600}
svg.chart .note{fill:var(--muted)}
svg.chart .grid{stroke:#e6eaee}
svg.chart .axis{stroke:#7d8792}
.legend{display:flex;flex-wrap:wrap;gap:4px 14px;font-size:12px;margin-top:2px}
.legend .key svg{vertical-align:-1px;margin-right:4px}
.grid2{display:grid;grid-template-columns:repeat(auto-fit,minmax(560px,1fr));gap:0 24px}
details{border:1px solid var(--line);border-radius:6px;margin:6px 0;padding:4px 10px}
details>summary{cursor:pointer;font-weight:600}
.doc{border-top:1px solid var(--line);padding:6px 0}
.doc .meta{font-size:12px;color:var(--muted);overflow-wrap:anywhere}
.doc .meta b{color:var(--fg)}
pre{white-space:pre-wrap;overflow-wrap:anywhere;background:var(--soft);border:1px solid var(--line);border-radius:4px;padding:6px 8px;margin:4px 0;font:12px/1.4 ui-monospace,"DejaVu Sans Mono",monospace;max-height:260px;overflow:auto}
td.id{font-size:12px;color:var(--muted);overflow-wrap:anywhere}
td.line{font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:12px;white-space:pre-wrap;overflow-wrap:anywhere;max-width:760px}
.chip{display:inline-block;border:1px solid var(--line);border-radius:10px;padding:0 8px;margin:2px 4px 2px 0;font-size:12px;background:var(--soft)}
footer{color:var(--muted);font-size:12px;padding:12px 32px;border-top:1px solid var(--line)}
"#;

/// Runs first: records script errors and blocked content on `<html>` so a
/// headless browser check (and a curious reader) can see them.
const TRAP_JS: &str = r#"(function(){var d=document.documentElement;window.addEventListener('error',function(e){d.setAttribute('data-js-error',String(e.message||'error'));});document.addEventListener('securitypolicyviolation',function(e){d.setAttribute('data-csp-violation',String(e.violatedDirective||'csp'));});})();"#;

/// Sortable tables: click (or Enter on) a header. Rows are reordered by
/// moving their nodes; cell text is only read, never written.
const SORT_JS: &str = r#"(function(){
function key(td,num){var v=td.getAttribute('data-v');if(v===null){v=td.textContent;}if(num){var f=parseFloat(v);return isNaN(f)?-Infinity:f;}return v.toLowerCase();}
function sortBy(t,i,th){var asc=th.getAttribute('aria-sort')!=='ascending';var hs=th.parentNode.cells;for(var j=0;j<hs.length;j++){hs[j].setAttribute('aria-sort','none');}th.setAttribute('aria-sort',asc?'ascending':'descending');var num=th.getAttribute('data-type')==='num';var body=t.tBodies[0];var rows=Array.prototype.slice.call(body.rows);rows.sort(function(a,b){var x=key(a.cells[i],num),y=key(b.cells[i],num);var c=x<y?-1:(x>y?1:0);return asc?c:-c;});rows.forEach(function(r){body.appendChild(r);});}
var ts=document.querySelectorAll('table.sortable');for(var k=0;k<ts.length;k++){(function(t){var hs=t.tHead.rows[0].cells;for(var i=0;i<hs.length;i++){(function(th,i){th.tabIndex=0;th.addEventListener('click',function(){sortBy(t,i,th);});th.addEventListener('keydown',function(e){if(e.key==='Enter'||e.key===' '){e.preventDefault();sortBy(t,i,th);}});})(hs[i],i);}})(ts[k]);}
document.documentElement.setAttribute('data-report-ready','1');
})();"#;

/// The whole page. `nonce` allows the page's own scripts and styles under
/// its Content-Security-Policy; nothing else may run or load.
pub fn page(data: &RunData, nonce: &str) -> String {
    let mut out = String::with_capacity(256 << 10);
    let dir = data.dir.display().to_string();
    let _ = write!(
        out,
        r##"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; img-src data:; base-uri 'none'; form-action 'none'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>sluicebox report: {}</title>
<script nonce="{nonce}">{TRAP_JS}</script>
<style nonce="{nonce}">{CSS}</style>
</head><body>
<header><h1>sluicebox run report</h1><div class="sub">{}</div>
<nav><a href="#summary">Summary</a><a href="#funnel">Funnel</a><a href="#sources">Sources</a><a href="#histograms">Histograms</a><a href="#rejects">Rejected samples</a><a href="#boilerplate">Boilerplate lines</a><a href="#config">Config &amp; command</a></nav></header>
<main>
"##,
        esc(&dir),
        esc(&dir)
    );
    summary(&mut out, data);
    funnel(&mut out, data);
    sources(&mut out, data);
    histograms(&mut out, data);
    rejects(&mut out, data);
    boilerplate(&mut out, data);
    errors(&mut out, data);
    config(&mut out, data);
    let s = &data.sample;
    let _ = write!(
        out,
        r#"</main><footer>Made by <code>sluicebox report</code> from stats.json (exact counts) and the first {} of the document and reject outputs (samples, histograms marked “sample”): {} documents from {}{}, {} rejects from {}{}.</footer>
<script nonce="{nonce}">{SORT_JS}</script>
</body></html>
"#,
        bytes(SAMPLE_BYTES as f64),
        thousands(s.docs.records),
        esc(&list_or_none(&s.docs.files)),
        if s.docs.truncated { " (cut)" } else { "" },
        thousands(s.rejects.records),
        esc(&list_or_none(&s.rejects.files)),
        if s.rejects.truncated { " (cut)" } else { "" },
    );
    out
}

fn list_or_none(files: &[String]) -> String {
    if files.is_empty() {
        "no file".into()
    } else {
        files.join(", ")
    }
}

fn card(out: &mut String, value: &str, key: &str) {
    let _ = write!(
        out,
        r#"<div class="card"><div class="v">{}</div><div class="k">{}</div></div>"#,
        esc(value),
        esc(key)
    );
}

fn summary(out: &mut String, data: &RunData) {
    let t = &data.stats.totals;
    let tm = &data.stats.timings;
    out.push_str(r#"<section id="summary"><h2>Summary</h2><div class="cards">"#);
    card(out, &thousands(t.records), "input records");
    card(
        out,
        &thousands(t.written),
        &format!(
            "documents written ({} of written + rejected)",
            pct(t.written as f64, (t.written + t.rejected) as f64)
        ),
    );
    card(out, &thousands(t.rejected), "documents rejected");
    card(out, &thousands(t.errors), "records in error");
    card(
        out,
        &format!(
            "{} → {}",
            bytes(t.bytes_in as f64),
            bytes(t.bytes_out as f64)
        ),
        &format!(
            "text in → out ({} removed)",
            pct(
                t.bytes_in.saturating_sub(t.bytes_out) as f64,
                t.bytes_in as f64
            )
        ),
    );
    if tm.wall_seconds > 0.0 {
        card(
            out,
            &format!("{:.2} s", tm.wall_seconds),
            &format!(
                "wall time, {} threads, {:.1} MB/s",
                tm.threads,
                t.bytes_in as f64 / 1e6 / tm.wall_seconds
            ),
        );
    }
    out.push_str("</div></section>\n");
}

/// Distinct drop reasons in pipeline order, with their colours.
fn reason_series(stages: &[StageEntry]) -> Vec<(String, String, Series)> {
    let mut out = Vec::new();
    for st in stages {
        for reason in st.dropped.keys() {
            let i = out.len();
            out.push((
                st.id.clone(),
                reason.clone(),
                Series {
                    name: format!("{}/{}", st.id, reason),
                    color: PALETTE[i % PALETTE.len()],
                },
            ));
        }
    }
    out
}

fn funnel(out: &mut String, data: &RunData) {
    let stages = &data.stats.stages;
    out.push_str(r#"<section id="funnel"><h2>Funnel: documents and text through the stages</h2>"#);
    if stages.is_empty() {
        out.push_str(r#"<p class="note">stats.json lists no stages.</p></section>"#);
        return;
    }
    let reasons = reason_series(stages);
    let docs_fmt = |v: f64| format!("{} documents", thousands(v as u64));

    // Documents: passed on, then each drop reason, stacked.
    let mut series = vec![Series {
        name: "passed on to the next stage".into(),
        color: KEPT,
    }];
    series.extend(reasons.iter().map(|r| r.2.clone()));
    let rows: Vec<HRow> = stages
        .iter()
        .map(|st| {
            let mut values = vec![st.docs_out() as f64];
            values.extend(reasons.iter().map(|(id, r, _)| {
                if *id == st.id {
                    st.dropped.get(r).copied().unwrap_or(0) as f64
                } else {
                    0.0
                }
            }));
            HRow {
                label: st.id.clone(),
                values,
                note: format!(
                    "{} in → {} out",
                    thousands(st.docs_in),
                    thousands(st.docs_out())
                ),
            }
        })
        .collect();
    out.push_str("<h3>Documents per stage (bar = passed on + dropped, by reason)</h3>");
    out.push_str(&svg::hbars(&HBars {
        title: "Documents per stage: passed on and dropped by reason".into(),
        rows,
        series,
        x_label: "documents".into(),
        scale: 1.0,
        grouped: false,
        fmt: &docs_fmt,
        width: WIDE,
    }));

    // Drops alone, on their own scale (they are often small next to the kept).
    let drop_rows: Vec<HRow> = stages
        .iter()
        .filter(|st| st.dropped_total() > 0)
        .map(|st| HRow {
            label: st.id.clone(),
            values: reasons
                .iter()
                .map(|(id, r, _)| {
                    if *id == st.id {
                        st.dropped.get(r).copied().unwrap_or(0) as f64
                    } else {
                        0.0
                    }
                })
                .collect(),
            note: format!(
                "{} dropped ({} of its input)",
                thousands(st.dropped_total()),
                pct(st.dropped_total() as f64, st.docs_in as f64)
            ),
        })
        .collect();
    if drop_rows.is_empty() {
        out.push_str(r#"<p class="note">No stage dropped a document.</p>"#);
    } else {
        out.push_str("<h3>Dropped documents by stage and reason</h3>");
        out.push_str(&svg::hbars(&HBars {
            title: "Dropped documents by stage and reason".into(),
            rows: drop_rows,
            series: reasons.iter().map(|r| r.2.clone()).collect(),
            x_label: "documents dropped".into(),
            scale: 1.0,
            grouped: false,
            fmt: &docs_fmt,
            width: WIDE,
        }));
    }

    // Bytes in and out.
    let max = stages
        .iter()
        .map(|s| s.bytes_in.max(s.bytes_out))
        .max()
        .unwrap_or(0) as f64;
    let (scale, unit) = byte_unit(max);
    let bytes_fmt = |v: f64| bytes(v);
    out.push_str("<h3>Text per stage (UTF-8 bytes in and out)</h3>");
    out.push_str(&svg::hbars(&HBars {
        title: "Bytes of text into and out of each stage".into(),
        rows: stages
            .iter()
            .map(|st| HRow {
                label: st.id.clone(),
                values: vec![st.bytes_in as f64, st.bytes_out as f64],
                note: format!(
                    "{} removed",
                    pct(
                        st.bytes_in.saturating_sub(st.bytes_out) as f64,
                        st.bytes_in as f64
                    )
                ),
            })
            .collect(),
        series: vec![
            Series {
                name: "bytes in".into(),
                color: INPUT,
            },
            Series {
                name: "bytes out".into(),
                color: OUTPUT,
            },
        ],
        x_label: format!("text ({unit})"),
        scale,
        grouped: true,
        fmt: &bytes_fmt,
        width: WIDE,
    }));

    // The same figures as a table.
    out.push_str(
        r#"<div class="scroll"><table class="sortable"><thead><tr><th data-type="num" class="n">#</th><th>stage</th><th>type</th><th data-type="num" class="n">docs in</th><th data-type="num" class="n">docs out</th><th data-type="num" class="n">dropped</th><th data-type="num" class="n">changed</th><th data-type="num" class="n">split</th><th data-type="num" class="n">bytes in</th><th data-type="num" class="n">bytes out</th><th data-type="num" class="n">removed</th><th data-type="num" class="n">busy s</th><th>counters</th></tr></thead><tbody>"#,
    );
    for (i, st) in stages.iter().enumerate() {
        let removed = st.bytes_in.saturating_sub(st.bytes_out) as f64;
        let busy = data.stats.timings.busy_seconds.get(&st.id).copied();
        let counters: Vec<String> = st
            .counters
            .iter()
            .map(|(k, v)| format!("{k} {}", thousands(*v)))
            .collect();
        let _ = write!(
            out,
            r#"<tr><td class="n">{}</td><td>{}</td><td>{}</td>{}{}{}{}{}<td class="n" data-v="{}">{}</td><td class="n" data-v="{}">{}</td><td class="n" data-v="{}">{}</td><td class="n" data-v="{}">{}</td><td class="counters">{}</td></tr>"#,
            i + 1,
            esc(&st.id),
            esc(&st.type_name),
            num_td(st.docs_in),
            num_td(st.docs_out()),
            num_td(st.dropped_total()),
            num_td(st.changed),
            num_td(st.split),
            st.bytes_in,
            bytes(st.bytes_in as f64),
            st.bytes_out,
            bytes(st.bytes_out as f64),
            ratio(removed, st.bytes_in as f64),
            pct(removed, st.bytes_in as f64),
            busy.unwrap_or(0.0),
            busy.map(|b| format!("{b:.2}"))
                .unwrap_or_else(|| "–".into()),
            counters
                .iter()
                .map(|c| esc(c))
                .collect::<Vec<_>>()
                .join("<br>")
        );
    }
    out.push_str("</tbody></table></div></section>\n");
}

fn num_td(n: u64) -> String {
    format!(r#"<td class="n" data-v="{n}">{}</td>"#, thousands(n))
}

fn ratio(part: f64, whole: f64) -> f64 {
    if whole > 0.0 {
        part / whole
    } else {
        0.0
    }
}

fn sources(out: &mut String, data: &RunData) {
    out.push_str(r#"<section id="sources"><h2>Sources</h2>"#);
    let src = &data.stats.sources;
    if src.is_empty() {
        out.push_str(r#"<p class="note">stats.json lists no sources.</p></section>"#);
        return;
    }
    out.push_str(r#"<p class="note">Click a column header to sort. Kept % is of the documents after splits (written + rejected); bytes removed % is of the source's input text.</p>"#);
    out.push_str(
        r#"<div class="scroll"><table class="sortable" id="sources-table"><thead><tr><th>source</th><th data-type="num" class="n">docs read</th><th data-type="num" class="n">written</th><th data-type="num" class="n">rejected</th><th data-type="num" class="n">kept %</th><th data-type="num" class="n">bytes in</th><th data-type="num" class="n">bytes removed %</th><th>top drop reason</th></tr></thead><tbody>"#,
    );
    let mut rows: Vec<_> = src.iter().collect();
    rows.sort_by(|a, b| b.1.read.cmp(&a.1.read).then(a.0.cmp(b.0)));
    for (name, s) in rows {
        let after = (s.written + s.rejected) as f64;
        let removed = s.bytes_in.saturating_sub(s.bytes_out) as f64;
        let top = s
            .rejected_by
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)));
        let (top_text, top_key) = match top {
            Some((r, n)) => (format!("{r} ({})", thousands(*n)), r.clone()),
            None => ("–".into(), String::new()),
        };
        let _ = write!(
            out,
            r#"<tr><td>{}</td>{}{}{}<td class="n" data-v="{}">{}</td><td class="n" data-v="{}">{}</td><td class="n" data-v="{}">{}</td><td data-v="{}">{}</td></tr>"#,
            esc(name),
            num_td(s.read),
            num_td(s.written),
            num_td(s.rejected),
            ratio(s.written as f64, after),
            pct(s.written as f64, after),
            s.bytes_in,
            bytes(s.bytes_in as f64),
            ratio(removed, s.bytes_in as f64),
            pct(removed, s.bytes_in as f64),
            esc(&top_key),
            esc(&top_text)
        );
    }
    out.push_str("</tbody></table></div></section>\n");
}

/// A histogram series and its value per bucket.
type SeriesValues = (Series, Vec<f64>);

/// Log-2 buckets `[0, 64, 128, ...]` wide enough for `max`.
fn pow2_edges(max: u64) -> Vec<u64> {
    let mut edges = vec![0, 64];
    while *edges.last().unwrap_or(&0) <= max && edges.len() < 40 {
        let last = *edges.last().unwrap_or(&64);
        edges.push(last * 2);
    }
    edges
}

fn bucket_counts(edges: &[u64], values: &[u64]) -> Vec<f64> {
    let mut counts = vec![0.0; edges.len()];
    for v in values {
        // The last edge at or below v: buckets are [edges[i], edges[i+1]).
        let i = edges.partition_point(|e| e <= v).saturating_sub(1);
        if let Some(c) = counts.get_mut(i) {
            *c += 1.0;
        }
    }
    counts
}

/// Bucket labels for byte-length edges; drops empty buckets at both ends.
fn length_chart(
    edges: &[u64],
    series: Vec<(Series, Vec<f64>)>,
) -> Option<(Vec<String>, Vec<SeriesValues>)> {
    let n = edges.len();
    let used = |i: usize| {
        series
            .iter()
            .any(|(_, v)| v.get(i).copied().unwrap_or(0.0) > 0.0)
    };
    let first = (0..n).find(|&i| used(i))?;
    let last = (0..n).rev().find(|&i| used(i))?;
    let labels = (first..=last)
        .map(|i| {
            if i + 1 == n {
                format!("{}+", short_len(edges[i]))
            } else {
                format!("{}–{}", short_len(edges[i]), short_len(edges[i + 1]))
            }
        })
        .collect();
    let series = series
        .into_iter()
        .map(|(s, v)| {
            (
                s,
                (first..=last)
                    .map(|i| v.get(i).copied().unwrap_or(0.0))
                    .collect(),
            )
        })
        .collect();
    Some((labels, series))
}

fn histograms(out: &mut String, data: &RunData) {
    let s = &data.sample;
    let doc_fmt = |v: f64| format!("{} documents", thousands(v as u64));
    out.push_str(r#"<section id="histograms"><h2>Histograms</h2><div class="grid2">"#);

    // Lengths before and after.
    out.push_str("<div><h3>Document length before and after</h3>");
    let exact = data.stats.length_histogram.as_ref().and_then(|h| {
        let n = h.edges.len().min(h.input.len()).min(h.output.len());
        (n > 0).then(|| {
            (
                h.edges[..n].to_vec(),
                vec![
                    (
                        Series {
                            name: "input records".into(),
                            color: INPUT,
                        },
                        h.input[..n].iter().map(|&c| c as f64).collect(),
                    ),
                    (
                        Series {
                            name: "written documents".into(),
                            color: OUTPUT,
                        },
                        h.output[..n].iter().map(|&c| c as f64).collect(),
                    ),
                ],
            )
        })
    });
    let (edges, series, y_label, note) = match exact {
        Some((edges, series)) => (
            edges,
            series,
            "documents",
            "Every input record and every written document (from stats.json).",
        ),
        None => {
            let max = s
                .doc_lengths
                .iter()
                .chain(&s.reject_lengths)
                .copied()
                .max()
                .unwrap_or(0);
            let edges = pow2_edges(max);
            let series = vec![
                (
                    Series {
                        name: "rejected (sample; text as it reached the rejecting stage)".into(),
                        color: PALETTE[0],
                    },
                    bucket_counts(&edges, &s.reject_lengths),
                ),
                (
                    Series {
                        name: "written (sample)".into(),
                        color: OUTPUT,
                    },
                    bucket_counts(&edges, &s.doc_lengths),
                ),
            ];
            (
                edges,
                series,
                "documents (sample)",
                "stats.json of this run has no length_histogram: lengths of the sampled rejects and written documents.",
            )
        }
    };
    match length_chart(&edges, series) {
        Some((labels, series)) => {
            let _ = write!(out, r#"<p class="note">{}</p>"#, esc(note));
            out.push_str(&svg::histogram(&Histogram {
                title: "Document length before and after cleaning".into(),
                buckets: labels,
                series,
                x_label: "document length (UTF-8 bytes; each bucket doubles)".into(),
                y_label: y_label.into(),
                fmt: &doc_fmt,
                width: HALF,
            }));
        }
        None => out.push_str(r#"<p class="note">No document lengths to show.</p>"#),
    }
    out.push_str("</div>");

    // Spin score.
    out.push_str("<div><h3>Spin score (sample of written documents)</h3>");
    if s.spin_scores.is_empty() {
        out.push_str(r#"<p class="note">No <code>spin_score</code> on the sampled documents: the spinner stage did not run.</p>"#);
    } else {
        let mut labels = vec!["0".to_string()];
        for i in 0..10 {
            labels.push(format!(
                "{:.1}–{:.1}",
                i as f64 / 10.0,
                (i + 1) as f64 / 10.0
            ));
        }
        let counts = tenths(&s.spin_scores);
        let zero = counts[0];
        let _ = write!(
            out,
            r#"<p class="note">{} documents, {} with score 0 (no sign of an article spinner).</p>"#,
            thousands(s.spin_scores.len() as u64),
            thousands(zero as u64)
        );
        out.push_str(&svg::histogram(&Histogram {
            title: "Spin score of sampled written documents".into(),
            buckets: labels,
            series: vec![(
                Series {
                    name: "written documents (sample)".into(),
                    color: OUTPUT,
                },
                counts,
            )],
            x_label: "spin score (0 = none, 1 = heavily spun)".into(),
            y_label: "documents (sample)".into(),
            fmt: &doc_fmt,
            width: HALF,
        }));
    }
    out.push_str("</div>");

    // Boilerplate share.
    out.push_str("<div><h3>Boilerplate share (sample of written documents)</h3>");
    if s.boilerplate_shares.is_empty() {
        out.push_str(r#"<p class="note">No <code>boilerplate_lines</code> on the sampled documents: the deboilerplate stage did not run.</p>"#);
    } else {
        let mut labels = vec!["0%".to_string()];
        for i in 0..10 {
            labels.push(format!("{}–{}%", i * 10, (i + 1) * 10));
        }
        let counts = tenths(&s.boilerplate_shares);
        out.push_str(r#"<p class="note">Removed lines ÷ (removed lines + non-blank lines of the written text), per page (a page split into articles counts once).</p>"#);
        out.push_str(&svg::histogram(&Histogram {
            title: "Share of each document's lines removed as boilerplate".into(),
            buckets: labels,
            series: vec![(
                Series {
                    name: "written documents (sample)".into(),
                    color: OUTPUT,
                },
                counts,
            )],
            x_label: "lines removed as boilerplate (% of the document's lines)".into(),
            y_label: "documents (sample)".into(),
            fmt: &doc_fmt,
            width: HALF,
        }));
    }
    out.push_str("</div>");

    // Languages.
    if !s.langs.is_empty() {
        out.push_str("<div><h3>Languages (sample of written documents)</h3>");
        let mut langs: Vec<_> = s.langs.iter().collect();
        langs.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let shown: Vec<_> = langs.iter().take(15).collect();
        let rows = shown
            .iter()
            .map(|(l, n)| HRow {
                label: (*l).clone(),
                values: vec![**n as f64],
                note: thousands(**n),
            })
            .collect();
        out.push_str(&svg::hbars(&HBars {
            title: "Detected language of sampled written documents".into(),
            rows,
            series: vec![Series {
                name: "written documents (sample)".into(),
                color: KEPT,
            }],
            x_label: "documents (sample)".into(),
            scale: 1.0,
            grouped: false,
            fmt: &doc_fmt,
            width: HALF,
        }));
        if langs.len() > shown.len() {
            let _ = write!(
                out,
                r#"<p class="note">{} more languages not shown.</p>"#,
                langs.len() - shown.len()
            );
        }
        out.push_str("</div>");
    }
    out.push_str("</div></section>\n");
}

fn rejects(out: &mut String, data: &RunData) {
    let _ = write!(
        out,
        r#"<section id="rejects"><h2>Rejected documents: up to {PER_REASON} per reason</h2>"#
    );
    // Exact counts per reason from the sources, most frequent first.
    let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
    for s in data.stats.sources.values() {
        for (r, n) in &s.rejected_by {
            *counts.entry(r.as_str()).or_insert(0) += n;
        }
    }
    for r in data.sample.rejects_by_reason.keys() {
        counts.entry(r.as_str()).or_insert(0);
    }
    if counts.is_empty() {
        out.push_str(r#"<p class="note">No document was rejected.</p></section>"#);
        return;
    }
    let mut order: Vec<_> = counts.into_iter().collect();
    order.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    for (reason, total) in order {
        let docs = data
            .sample
            .rejects_by_reason
            .get(reason)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let _ = write!(
            out,
            r#"<details class="reason"><summary>{} — {} rejected, {} shown</summary>"#,
            esc(reason),
            thousands(total),
            docs.len()
        );
        if docs.is_empty() {
            out.push_str(r#"<p class="note">None in the sampled part of rejects.jsonl.</p>"#);
        }
        for d in docs {
            let _ = write!(
                out,
                r#"<div class="doc"><div class="meta"><b>{}</b> · source {}{}{} · {}</div>{}</div>"#,
                esc(&d.id),
                esc(&d.source),
                if d.url.is_empty() {
                    String::new()
                } else {
                    format!(" · {}", esc(&d.url))
                },
                if d.detail.is_empty() {
                    String::new()
                } else {
                    format!(" · {}", esc(&d.detail))
                },
                bytes(d.text_bytes as f64),
                if d.text_bytes == 0 {
                    r#"<p class="note">(no text in rejects.jsonl)</p>"#.to_string()
                } else {
                    format!(
                        "<pre>{}{}</pre>",
                        esc(&d.excerpt),
                        if d.excerpt.len() < d.text_bytes {
                            "\n…"
                        } else {
                            ""
                        }
                    )
                }
            );
        }
        out.push_str("</details>");
    }
    out.push_str(r#"<p class="note">The text is as the document reached the stage that rejected it (rejects_text = false in [output] leaves it out).</p></section>"#);
    out.push('\n');
}

fn boilerplate(out: &mut String, data: &RunData) {
    let _ = write!(
        out,
        r#"<section id="boilerplate"><h2>Removed boilerplate lines: up to {PER_SOURCE_LINES} per source</h2>"#
    );
    let s = &data.sample;
    if s.removed_lines.is_empty() {
        out.push_str(r#"<p class="note">No removed lines recorded. Set <code>explain = true</code> in the deboilerplate stage of the config to record each removed line and the rule that removed it (attribute <code>boilerplate_removed</code>).</p></section>"#);
        out.push('\n');
        return;
    }
    for (source, lines) in &s.removed_lines {
        let rules = s.removed_rules.get(source);
        let total: u64 = rules.map(|r| r.values().sum()).unwrap_or(0);
        let _ = write!(
            out,
            r#"<details class="source" open><summary>{} — {} removed lines in the sample, {} shown</summary><div>"#,
            esc(source),
            thousands(total),
            lines.len()
        );
        if let Some(rules) = rules {
            let mut rs: Vec<_> = rules.iter().collect();
            rs.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            for (rule, n) in rs {
                let _ = write!(
                    out,
                    r#"<span class="chip">{} {}</span>"#,
                    esc(rule),
                    thousands(*n)
                );
            }
        }
        out.push_str(r#"</div><table><thead><tr><th>rule</th><th>line</th><th>document</th></tr></thead><tbody>"#);
        for l in lines {
            let _ = write!(
                out,
                r#"<tr><td>{}</td><td class="line">{}</td><td class="id">{}</td></tr>"#,
                esc(&l.rule),
                esc(&l.line),
                esc(&l.doc_id)
            );
        }
        out.push_str("</tbody></table></details>");
    }
    out.push_str("</section>\n");
}

fn errors(out: &mut String, data: &RunData) {
    let t = &data.stats.totals;
    let errs = &data.stats.errors;
    if t.errors == 0 && errs.is_empty() {
        return;
    }
    let _ = write!(
        out,
        r#"<section id="errors"><h2>Record errors</h2><p class="note">{} records could not become documents; the first {} are listed.</p><table><thead><tr><th>location</th><th>message</th></tr></thead><tbody>"#,
        thousands(t.errors),
        errs.len().min(100)
    );
    for e in errs.iter().take(100) {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td></tr>",
            esc(&e.location),
            esc(&e.message)
        );
    }
    out.push_str("</tbody></table></section>\n");
}

fn config(out: &mut String, data: &RunData) {
    let st = &data.stats;
    out.push_str(r#"<section id="config"><h2>Config and command</h2><h3>Command</h3>"#);
    let _ = write!(
        out,
        "<pre id=\"command\">{}</pre>",
        esc(if st.command.is_empty() {
            "(not recorded)"
        } else {
            &st.command
        })
    );
    if !data.sample.notes.is_empty() {
        out.push_str("<h3>Reading notes</h3><ul>");
        for n in &data.sample.notes {
            let _ = write!(out, "<li>{}</li>", esc(n));
        }
        out.push_str("</ul>");
    }
    out.push_str("<h3>Config (as TOML)</h3>");
    let _ = write!(
        out,
        "<pre id=\"config-toml\">{}</pre>",
        esc(&toml_text(&st.config))
    );
    out.push_str("</section>\n");
}

/// The config (kept in stats.json as JSON) written back as TOML for reading.
pub fn toml_text(v: &Value) -> String {
    let mut out = String::new();
    match v {
        Value::Object(map) => toml_table(&mut out, &[], map),
        Value::Null => out.push_str("# (no config recorded)\n"),
        other => out.push_str(&other.to_string()),
    }
    out
}

fn toml_key(k: &str) -> String {
    if !k.is_empty()
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        k.to_string()
    } else {
        Value::String(k.to_string()).to_string()
    }
}

fn is_table_array(v: &Value) -> bool {
    matches!(v, Value::Array(a) if !a.is_empty() && a.iter().all(Value::is_object))
}

fn toml_value(v: &Value) -> String {
    match v {
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(toml_value).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(m) => format!(
            "{{ {} }}",
            m.iter()
                .map(|(k, v)| format!("{} = {}", toml_key(k), toml_value(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::Null => "\"\"".into(),
        other => other.to_string(),
    }
}

fn toml_table(out: &mut String, path: &[String], map: &serde_json::Map<String, Value>) {
    for (k, v) in map {
        if v.is_object() || is_table_array(v) {
            continue;
        }
        if v.is_null() {
            let _ = writeln!(out, "# {} is not set", toml_key(k));
            continue;
        }
        let _ = writeln!(out, "{} = {}", toml_key(k), toml_value(v));
    }
    for (k, v) in map {
        let mut p = path.to_vec();
        p.push(toml_key(k));
        match v {
            Value::Object(m) => {
                let _ = writeln!(out, "\n[{}]", p.join("."));
                toml_table(out, &p, m);
            }
            Value::Array(items) if is_table_array(v) => {
                for item in items {
                    let _ = writeln!(out, "\n[[{}]]", p.join("."));
                    if let Value::Object(m) = item {
                        toml_table(out, &p, m);
                    }
                }
            }
            _ => {}
        }
    }
}

/// Counts of values in [0, 1] by bucket: exactly 0 (and below), then
/// (0, 0.1], (0.1, 0.2] ... (0.9, 1] (and above): 11 buckets.
fn tenths(values: &[f64]) -> Vec<f64> {
    let mut counts = vec![0.0; 11];
    for &v in values {
        let i = if v <= 0.0 {
            0
        } else {
            ((v * 10.0).ceil() as usize).clamp(1, 10)
        };
        counts[i] += 1.0;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_reads_back_as_toml() {
        let v: Value = serde_json::from_str(
            r#"{"run":{"threads":0,"on_error":"continue"},"output":{"dir":"out"},
                "stages":[{"id":"decode","type":"decode"},{"id":"deboilerplate","type":"deboilerplate","explain":true,"sources":{"news":{"enabled":false}}}],
                "odd key":[1,2]}"#,
        )
        .unwrap();
        let t = toml_text(&v);
        assert_eq!(
            t,
            "\"odd key\" = [1, 2]\n\n[run]\nthreads = 0\non_error = \"continue\"\n\n[output]\ndir = \"out\"\n\n[[stages]]\nid = \"decode\"\ntype = \"decode\"\n\n[[stages]]\nid = \"deboilerplate\"\ntype = \"deboilerplate\"\nexplain = true\n\n[stages.sources]\n\n[stages.sources.news]\nenabled = false\n"
        );
    }

    #[test]
    fn length_buckets_follow_the_edges() {
        let edges = pow2_edges(300);
        assert_eq!(edges, vec![0, 64, 128, 256, 512]);
        let c = bucket_counts(&edges, &[0, 63, 64, 200, 256, 5000]);
        assert_eq!(c, vec![2.0, 1.0, 1.0, 1.0, 1.0]);
        let (labels, series) = length_chart(
            &edges,
            vec![(
                Series {
                    name: "x".into(),
                    color: KEPT,
                },
                vec![0.0, 2.0, 0.0, 1.0, 0.0],
            )],
        )
        .unwrap();
        assert_eq!(labels, vec!["64–128", "128–256", "256–512"]);
        assert_eq!(series[0].1, vec![2.0, 0.0, 1.0]);
    }
}
