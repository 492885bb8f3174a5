//! Reading a run directory: `stats.json` whole, `docs` and `rejects` as a
//! bounded sample.
//!
//! The output of a run can be gigabytes, so the page is built from the
//! exact counts in `stats.json` plus the first [`SAMPLE_BYTES`] (after
//! decompression) of each of the document and reject outputs. Every field is
//! read leniently: a missing key, a value of an unexpected type or a
//! malformed line costs that value, never the report. Cost: linear in the
//! sampled bytes.

use serde::Deserialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// How much of `docs` and of `rejects` (each, decompressed) is read.
pub const SAMPLE_BYTES: u64 = 32 << 20;
/// Rejected documents kept per `stage/reason`.
pub const PER_REASON: usize = 20;
/// Removed boilerplate lines kept per source.
pub const PER_SOURCE_LINES: usize = 20;
/// Candidate lines gathered per source before the shown ones are picked
/// (spread over rules, so one rule does not fill the sample).
const LINE_CANDIDATES: usize = 400;
/// Characters of a rejected document's text kept for the page.
pub const EXCERPT_CHARS: usize = 1500;
/// Characters of a removed line kept for the page.
const LINE_CHARS: usize = 300;

/// Run totals, as the runner writes them (`Totals` in sluicebox-core).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Totals {
    pub records: u64,
    pub read: u64,
    pub errors: u64,
    pub parts_added: u64,
    pub written: u64,
    pub rejected: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub files: u64,
}

/// One stage's entry in `stats.json`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct StageEntry {
    pub id: String,
    #[serde(rename = "type")]
    pub type_name: String,
    pub placement: String,
    pub docs_in: u64,
    pub unchanged: u64,
    pub changed: u64,
    pub dropped: BTreeMap<String, u64>,
    pub split: u64,
    pub parts_out: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub counters: BTreeMap<String, u64>,
}

impl StageEntry {
    pub fn dropped_total(&self) -> u64 {
        self.dropped.values().sum()
    }

    /// Documents leaving the stage: those that came in, less drops, plus the
    /// extra parts of split documents.
    pub fn docs_out(&self) -> u64 {
        (self.docs_in + self.parts_out.saturating_sub(self.split))
            .saturating_sub(self.dropped_total())
    }
}

/// One source's entry in `stats.json`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SourceEntry {
    pub read: u64,
    pub written: u64,
    pub rejected: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub rejected_by: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct RecordError {
    pub location: String,
    pub message: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Timings {
    pub threads: u64,
    pub wall_seconds: f64,
    pub busy_seconds: BTreeMap<String, f64>,
}

/// Document byte lengths of every input record and every written document:
/// bucket `i` is `[edges[i], edges[i+1])`, the last one open-ended.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct LengthHistogram {
    pub edges: Vec<u64>,
    pub input: Vec<u64>,
    pub output: Vec<u64>,
}

/// `stats.json`, the exact figures of the run.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Stats {
    pub totals: Totals,
    pub stages: Vec<StageEntry>,
    pub sources: BTreeMap<String, SourceEntry>,
    pub errors: Vec<RecordError>,
    pub timings: Timings,
    pub command: String,
    pub config: Value,
    pub length_histogram: Option<LengthHistogram>,
}

/// A rejected document, cut to an excerpt.
#[derive(Debug, Clone)]
pub struct RejectSample {
    pub id: String,
    pub source: String,
    pub url: String,
    pub detail: String,
    /// The first [`EXCERPT_CHARS`] characters of its text.
    pub excerpt: String,
    /// Bytes of the whole text.
    pub text_bytes: usize,
}

/// A line the boilerplate stage removed, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemovedLine {
    pub rule: String,
    pub line: String,
    pub doc_id: String,
}

/// What was sampled from one output (`docs` or `rejects`).
#[derive(Debug, Clone, Default)]
pub struct ReadInfo {
    pub files: Vec<String>,
    pub records: u64,
    pub bytes: u64,
    /// The byte budget ran out before the end of the output.
    pub truncated: bool,
}

/// The bounded sample of documents and rejects.
#[derive(Debug, Clone, Default)]
pub struct Sample {
    pub docs: ReadInfo,
    pub rejects: ReadInfo,
    /// Byte lengths of sampled written documents.
    pub doc_lengths: Vec<u64>,
    /// Byte lengths of sampled rejected documents (the text they had when
    /// they were rejected).
    pub reject_lengths: Vec<u64>,
    /// `spin_score` of sampled written documents that have one.
    pub spin_scores: Vec<f64>,
    /// Share of lines removed as boilerplate, per sampled written document
    /// that has `boilerplate_lines`.
    pub boilerplate_shares: Vec<f64>,
    /// Per source: removed lines picked for the page.
    pub removed_lines: BTreeMap<String, Vec<RemovedLine>>,
    /// Per source: removed lines by rule in the whole sample.
    pub removed_rules: BTreeMap<String, BTreeMap<String, u64>>,
    /// Per `stage/reason`: the first rejected documents.
    pub rejects_by_reason: BTreeMap<String, Vec<RejectSample>>,
    /// `lang` of sampled written documents.
    pub langs: BTreeMap<String, u64>,
    /// Problems met while reading (shown on the page).
    pub notes: Vec<String>,
}

/// Everything the page is made from.
#[derive(Debug, Clone, Default)]
pub struct RunData {
    pub dir: PathBuf,
    pub stats: Stats,
    pub sample: Sample,
}

/// Reads `stats.json` (required) and samples the outputs beside it.
pub fn load(dir: &Path) -> anyhow::Result<RunData> {
    let path = dir.join("stats.json");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        anyhow::anyhow!(
            "{}: cannot read ({e}); is {} the output directory of a finished run?",
            path.display(),
            dir.display()
        )
    })?;
    let stats: Stats = serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{}: not a sluicebox stats file: {e}", path.display()))?;
    let mut sample = Sample::default();
    let mut candidates: BTreeMap<String, Candidates> = BTreeMap::new();

    let mut notes = Vec::new();
    let docs = output_files(dir, "docs");
    let mut parts = sample_parts(&mut sample);
    let docs_info = read_records(&docs, SAMPLE_BYTES, &mut notes, |rec| {
        take_doc(rec, &mut parts, &mut candidates);
        true
    });
    parts.finish();
    sample.docs = docs_info;

    let wanted: BTreeSet<String> = stats
        .sources
        .values()
        .flat_map(|s| s.rejected_by.keys().cloned())
        .collect();
    let rejects = output_files(dir, "rejects");
    let mut by_reason: BTreeMap<String, Vec<RejectSample>> = BTreeMap::new();
    let mut reject_lengths = Vec::new();
    sample.rejects = read_records(&rejects, SAMPLE_BYTES, &mut notes, |rec| {
        take_reject(rec, &mut by_reason, &mut reject_lengths, &mut candidates);
        // Stop early once every reason in the stats has its samples.
        let full = !wanted.is_empty()
            && wanted
                .iter()
                .all(|r| by_reason.get(r).is_some_and(|v| v.len() >= PER_REASON));
        !full
    });
    sample.rejects_by_reason = by_reason;
    sample.reject_lengths = reject_lengths;
    sample.notes = notes;
    if docs.is_empty() {
        sample
            .notes
            .push("no docs.jsonl in the run directory: histograms from samples are empty".into());
    }
    for (source, c) in candidates {
        sample
            .removed_lines
            .insert(source, spread_over_rules(c.lines, PER_SOURCE_LINES));
    }
    Ok(RunData {
        dir: dir.to_path_buf(),
        stats,
        sample,
    })
}

/// The fields of [`Sample`] that written documents feed.
struct DocParts<'a> {
    lengths: &'a mut Vec<u64>,
    spin: &'a mut Vec<f64>,
    shares: &'a mut Vec<f64>,
    rules: &'a mut BTreeMap<String, BTreeMap<String, u64>>,
    langs: &'a mut BTreeMap<String, u64>,
    /// Pages split into parts (by `parent`): lines removed from the page
    /// (every part carries the page's count) and non-blank lines of the parts.
    pages: BTreeMap<String, (u64, u64)>,
}

impl DocParts<'_> {
    /// One boilerplate share per split page, over all its sampled parts.
    fn finish(&mut self) {
        for (removed, kept) in std::mem::take(&mut self.pages).into_values() {
            if removed + kept > 0 {
                self.shares.push(removed as f64 / (removed + kept) as f64);
            }
        }
    }
}

fn sample_parts(s: &mut Sample) -> DocParts<'_> {
    DocParts {
        lengths: &mut s.doc_lengths,
        spin: &mut s.spin_scores,
        shares: &mut s.boilerplate_shares,
        rules: &mut s.removed_rules,
        langs: &mut s.langs,
        pages: BTreeMap::new(),
    }
}

fn take_doc(rec: &Value, parts: &mut DocParts<'_>, candidates: &mut BTreeMap<String, Candidates>) {
    let text = str_field(rec, "text");
    parts.lengths.push(text.len() as u64);
    let attrs = rec.get("attributes");
    let attr = |k: &str| attrs.and_then(|a| a.get(k));
    if let Some(s) = attr("spin_score").and_then(Value::as_f64) {
        if s.is_finite() {
            parts.spin.push(s);
        }
    }
    // A part of a split page carries the page's boilerplate attributes.
    let parent = attr("parent").and_then(Value::as_str);
    let first_part = match parent {
        Some(p) => !parts.pages.contains_key(p),
        None => true,
    };
    if let Some(removed) = attr("boilerplate_lines").and_then(Value::as_u64) {
        let kept = text.lines().filter(|l| !l.trim().is_empty()).count() as u64;
        match parent {
            Some(p) => parts.pages.entry(p.to_string()).or_insert((removed, 0)).1 += kept,
            None if removed + kept > 0 => {
                parts.shares.push(removed as f64 / (removed + kept) as f64);
            }
            None => {}
        }
    } else if let Some(p) = parent {
        parts.pages.entry(p.to_string()).or_insert((0, 0));
    }
    if let Some(lang) = attr("lang").and_then(Value::as_str) {
        *parts.langs.entry(lang.to_string()).or_insert(0) += 1;
    }
    let source = str_field(rec, "source");
    if let Some(list) = attr("boilerplate_removed")
        .and_then(Value::as_array)
        .filter(|_| first_part)
    {
        let rules = parts.rules.entry(source.to_string()).or_default();
        for item in list {
            *rules.entry(rule_of(item)).or_insert(0) += 1;
        }
        gather_lines(rec, list, candidates);
    }
}

fn take_reject(
    rec: &Value,
    by_reason: &mut BTreeMap<String, Vec<RejectSample>>,
    lengths: &mut Vec<u64>,
    candidates: &mut BTreeMap<String, Candidates>,
) {
    let text = str_field(rec, "text");
    lengths.push(text.len() as u64);
    let key = format!("{}/{}", str_field(rec, "stage"), str_field(rec, "reason"));
    let list = by_reason.entry(key).or_default();
    if list.len() < PER_REASON {
        list.push(RejectSample {
            id: str_field(rec, "id").to_string(),
            source: str_field(rec, "source").to_string(),
            url: str_field(rec, "url").to_string(),
            detail: str_field(rec, "detail").to_string(),
            excerpt: prefix_chars(text, EXCERPT_CHARS).to_string(),
            text_bytes: text.len(),
        });
    }
    if let Some(list) = rec
        .get("attributes")
        .and_then(|a| a.get("boilerplate_removed"))
        .and_then(Value::as_array)
    {
        gather_lines(rec, list, candidates);
    }
}

/// Removed lines of one source, distinct, in order of first appearance.
#[derive(Default)]
struct Candidates {
    seen: HashSet<(String, String)>,
    lines: Vec<RemovedLine>,
}

fn gather_lines(rec: &Value, list: &[Value], candidates: &mut BTreeMap<String, Candidates>) {
    let c = candidates
        .entry(str_field(rec, "source").to_string())
        .or_default();
    for item in list {
        if c.lines.len() >= LINE_CANDIDATES {
            break;
        }
        let line = item.get("line").and_then(Value::as_str).unwrap_or("");
        if line.trim().is_empty() {
            continue;
        }
        let rule = rule_of(item);
        let line = prefix_chars(line, LINE_CHARS).to_string();
        if c.seen.insert((rule.clone(), line.clone())) {
            c.lines.push(RemovedLine {
                rule,
                line,
                doc_id: str_field(rec, "id").to_string(),
            });
        }
    }
}

/// Up to `n` lines, taken from each rule in turn (most frequent rule first)
/// so every rule seen shows; grouped by rule, in order of appearance.
fn spread_over_rules(lines: Vec<RemovedLine>, n: usize) -> Vec<RemovedLine> {
    let mut by_rule: BTreeMap<String, VecDeque<RemovedLine>> = BTreeMap::new();
    for l in lines {
        by_rule.entry(l.rule.clone()).or_default().push_back(l);
    }
    let mut queues: Vec<VecDeque<RemovedLine>> = by_rule.into_values().collect();
    queues.sort_by_key(|q| std::cmp::Reverse(q.len()));
    let mut out = Vec::new();
    while out.len() < n && queues.iter().any(|q| !q.is_empty()) {
        for q in queues.iter_mut() {
            if out.len() >= n {
                break;
            }
            if let Some(l) = q.pop_front() {
                out.push(l);
            }
        }
    }
    // Stable: lines of one rule stay in order of appearance.
    out.sort_by(|a, b| a.rule.cmp(&b.rule));
    out
}

fn rule_of(item: &Value) -> String {
    match item.get("rule") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => "unknown".into(),
        Some(other) => other.to_string(),
    }
}

fn str_field<'a>(rec: &'a Value, key: &str) -> &'a str {
    rec.get(key).and_then(Value::as_str).unwrap_or("")
}

/// The first `n` characters of `s` (whole characters, never a split one).
pub fn prefix_chars(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// The output files of `stem` in `dir`, in shard order: `stem.jsonl`,
/// `stem-00000.jsonl` ..., each optionally `.gz` or `.zst`.
pub fn output_files(dir: &Path, stem: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.is_file()
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| is_output_name(n, stem))
        })
        .collect();
    files.sort();
    files
}

fn is_output_name(name: &str, stem: &str) -> bool {
    let base = name
        .strip_suffix(".gz")
        .or_else(|| name.strip_suffix(".zst"))
        .unwrap_or(name);
    let Some(base) = base.strip_suffix(".jsonl") else {
        return false;
    };
    match base.strip_prefix(stem) {
        Some("") => true,
        Some(rest) => rest
            .strip_prefix('-')
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())),
        None => false,
    }
}

fn open(path: &Path) -> std::io::Result<Box<dyn Read>> {
    let f = File::open(path)?;
    let name = path.to_string_lossy();
    Ok(if name.ends_with(".gz") {
        Box::new(flate2::read::MultiGzDecoder::new(f))
    } else if name.ends_with(".zst") {
        Box::new(zstd::Decoder::new(f)?)
    } else {
        Box::new(f)
    })
}

/// Calls `each` on the JSON records of `files` in order until `budget`
/// decompressed bytes are read or `each` returns false. Lines that are not
/// JSON objects are skipped; read errors end that file with a note.
fn read_records(
    files: &[PathBuf],
    budget: u64,
    notes: &mut Vec<String>,
    mut each: impl FnMut(&Value) -> bool,
) -> ReadInfo {
    let mut info = ReadInfo::default();
    let mut line = Vec::new();
    'files: for path in files {
        let left = budget.saturating_sub(info.bytes);
        if left == 0 {
            info.truncated = true;
            break;
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        info.files.push(name.clone());
        let reader = match open(path) {
            Ok(r) => r,
            Err(e) => {
                notes.push(format!("{name}: cannot open: {e}"));
                continue;
            }
        };
        // One more byte than the budget tells a full budget from a file
        // that ends exactly there.
        let mut reader = BufReader::new(reader.take(left + 1));
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) => break,
                Ok(n) => {
                    if info.bytes + n as u64 > budget {
                        info.truncated = true;
                        break 'files;
                    }
                    info.bytes += n as u64;
                    let Ok(rec) = serde_json::from_slice::<Value>(&line) else {
                        continue;
                    };
                    if !rec.is_object() {
                        continue;
                    }
                    info.records += 1;
                    if !each(&rec) {
                        info.truncated = true;
                        break 'files;
                    }
                }
                Err(e) => {
                    notes.push(format!(
                        "{name}: read stopped after {} bytes: {e}",
                        info.bytes
                    ));
                    break;
                }
            }
        }
    }
    info
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_names_match_plain_sharded_and_compressed_only() {
        for (name, ok) in [
            ("docs.jsonl", true),
            ("docs.jsonl.gz", true),
            ("docs.jsonl.zst", true),
            ("docs-00003.jsonl.zst", true),
            ("docs-.jsonl", false),
            ("docs-x1.jsonl", false),
            (".docs.jsonl.tmp", false),
            ("docs.json", false),
            ("rejects.jsonl", false),
            ("docsx.jsonl", false),
        ] {
            assert_eq!(is_output_name(name, "docs"), ok, "{name}");
        }
    }

    #[test]
    fn prefix_never_splits_a_character() {
        assert_eq!(prefix_chars("Ünïcödé", 3), "Ünï");
        assert_eq!(prefix_chars("ab", 5), "ab");
        assert_eq!(prefix_chars("", 0), "");
    }

    #[test]
    fn lines_spread_over_rules_in_order_of_appearance() {
        let mut lines = Vec::new();
        for i in 0..30 {
            lines.push(RemovedLine {
                rule: "lexicon".into(),
                line: format!("Share this {i}"),
                doc_id: "a".into(),
            });
        }
        lines.push(RemovedLine {
            rule: "learned".into(),
            line: "Home | News | Sport".into(),
            doc_id: "b".into(),
        });
        let out = spread_over_rules(lines, 5);
        let got: Vec<&str> = out.iter().map(|l| l.line.as_str()).collect();
        assert_eq!(
            got,
            [
                "Home | News | Sport",
                "Share this 0",
                "Share this 1",
                "Share this 2",
                "Share this 3"
            ]
        );
    }

    #[test]
    fn split_pages_count_their_boilerplate_once() {
        let mut sample = Sample::default();
        let mut c = BTreeMap::new();
        let mut parts = sample_parts(&mut sample);
        for line in [
            // A page split in two: 6 lines removed from the page, 2 + 4 kept.
            r#"{"id":"p#1","source":"s","text":"a\nb","attributes":{"boilerplate_lines":6,"parent":"p","boilerplate_removed":[{"line":"Menu","rule":"lexicon"}]}}"#,
            r#"{"id":"p#2","source":"s","text":"c\n\nd\ne\nf","attributes":{"boilerplate_lines":6,"parent":"p","boilerplate_removed":[{"line":"Menu","rule":"lexicon"}]}}"#,
            // A whole page: 1 removed, 3 kept.
            r#"{"id":"q","source":"s","text":"x\ny\nz","attributes":{"boilerplate_lines":1}}"#,
        ] {
            take_doc(&serde_json::from_str(line).unwrap(), &mut parts, &mut c);
        }
        parts.finish();
        assert_eq!(sample.boilerplate_shares, vec![0.25, 0.5]);
        assert_eq!(sample.removed_rules["s"]["lexicon"], 1);
    }

    #[test]
    fn gathered_lines_are_distinct_and_skip_blanks() {
        let rec: Value = serde_json::from_str(
            r#"{"id":"d1","source":"news","attributes":{"boilerplate_removed":[
                {"line":"Share this","rule":"lexicon"},{"line":"  ","rule":"lexicon"},
                {"line":"Share this","rule":"lexicon"},{"line":"Share this","rule":"learned"},
                {"line":"Menu"}]}}"#,
        )
        .unwrap();
        let list = rec["attributes"]["boilerplate_removed"].as_array().unwrap();
        let mut c = BTreeMap::new();
        gather_lines(&rec, list, &mut c);
        let got: Vec<(&str, &str)> = c["news"]
            .lines
            .iter()
            .map(|l| (l.rule.as_str(), l.line.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("lexicon", "Share this"),
                ("learned", "Share this"),
                ("unknown", "Menu")
            ]
        );
    }
}
