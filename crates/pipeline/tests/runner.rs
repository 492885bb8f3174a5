//! Runner behaviour with small stages of every placement: order, determinism
//! for any thread count and batch size, accounting, panics, errors, aborts,
//! per-source overrides and the profile pass.

#[path = "common/run.rs"]
mod run;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sluicebox_core::plugin::factory;
use sluicebox_core::{
    BuildContext, Built, Cx, Decide, Document, OrderedStage, ParallelStage, Prepare, Prepared,
    ProfileBuilder, Reason, StageError, StagePlugin, Verdict,
};
use sluicebox_pipeline::config::Config;
use sluicebox_pipeline::registry::Registry;
use sluicebox_pipeline::runner::RunSummary;
use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::Arc;

// --- test stages -------------------------------------------------------

/// Splits a document at lines `---` (parallel).
struct Splitter;
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
struct NoConfig {}
struct SplitterStage;
impl ParallelStage for SplitterStage {
    fn process(&self, doc: &mut Document, _cx: &mut Cx) -> Result<Verdict, StageError> {
        let parts: Vec<&str> = doc.text.split("\n---\n").collect();
        if parts.len() < 2 {
            return Ok(Verdict::Unchanged);
        }
        Ok(Verdict::Split(
            parts
                .iter()
                .enumerate()
                .map(|(k, p)| doc.part(k + 1, p.to_string()))
                .collect(),
        ))
    }
}
impl StagePlugin for Splitter {
    type Config = NoConfig;
    const TYPE: &'static str = "test_split";
    const SUMMARY: &'static str = "split at ---";
    const REASONS: &'static [Reason] = &[];
    fn build(_: &NoConfig, _: &BuildContext) -> Result<Built, StageError> {
        Ok(Built::Parallel(Arc::new(SplitterStage)))
    }
}

/// Panics on text containing PANIC, errors on ERROR, drops short text.
struct Faulty;
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
struct FaultyConfig {
    /// Minimum characters.
    min_chars: usize,
}
impl Default for FaultyConfig {
    fn default() -> Self {
        FaultyConfig { min_chars: 3 }
    }
}
struct FaultyStage(usize);
impl ParallelStage for FaultyStage {
    fn process(&self, doc: &mut Document, cx: &mut Cx) -> Result<Verdict, StageError> {
        if doc.text.contains("PANIC") {
            panic!("boom on {}", doc.id);
        }
        if doc.text.contains("ERROR") {
            return Err(StageError::doc("cannot handle this"));
        }
        cx.count("seen", 1);
        if doc.text.chars().count() < self.0 {
            return Ok(Verdict::drop("short", "too short"));
        }
        doc.text = doc.text.to_uppercase();
        Ok(Verdict::Changed)
    }
}
impl StagePlugin for Faulty {
    type Config = FaultyConfig;
    const TYPE: &'static str = "test_faulty";
    const SUMMARY: &'static str = "panics, errors, drops";
    const REASONS: &'static [Reason] = &[Reason {
        code: "short",
        doc: "short",
    }];
    fn build(c: &FaultyConfig, _: &BuildContext) -> Result<Built, StageError> {
        Ok(Built::Parallel(Arc::new(FaultyStage(c.min_chars))))
    }
}

/// Exact dedupe as a split stage: hash in parallel, decide in order.
struct Dedup;
struct DedupPrep;
struct DedupDecide(HashSet<String>, BTreeMap<String, String>);
impl Prepare for DedupPrep {
    fn prepare(&self, doc: &Document) -> Result<Prepared, StageError> {
        Ok(Box::new(doc.text.to_lowercase()))
    }
}
impl Decide for DedupDecide {
    fn decide(
        &mut self,
        doc: &mut Document,
        p: Prepared,
        _: &mut Cx,
    ) -> Result<Verdict, StageError> {
        let key = *p
            .downcast::<String>()
            .map_err(|_| StageError::doc("bad prep"))?;
        if let Some(first) = self.1.get(&key) {
            doc.set_attr("duplicate_of", first.clone());
            return Ok(Verdict::drop("duplicate", ""));
        }
        self.0.insert(key.clone());
        self.1.insert(key, doc.id.clone());
        Ok(Verdict::Unchanged)
    }
}
impl StagePlugin for Dedup {
    type Config = NoConfig;
    const TYPE: &'static str = "test_dedup";
    const SUMMARY: &'static str = "exact dedupe";
    const REASONS: &'static [Reason] = &[Reason {
        code: "duplicate",
        doc: "seen before",
    }];
    fn build(_: &NoConfig, _: &BuildContext) -> Result<Built, StageError> {
        Ok(Built::Split {
            prepare: Arc::new(DedupPrep),
            decide: Box::new(DedupDecide(HashSet::new(), BTreeMap::new())),
        })
    }
}

/// Numbers documents in order (ordered): output must be 1, 2, 3 ...
struct Counter;
struct CounterStage(u64);
impl OrderedStage for CounterStage {
    fn process(&mut self, doc: &mut Document, _: &mut Cx) -> Result<Verdict, StageError> {
        self.0 += 1;
        doc.set_attr("n", self.0);
        Ok(Verdict::Changed)
    }
}
impl StagePlugin for Counter {
    type Config = NoConfig;
    const TYPE: &'static str = "test_counter";
    const SUMMARY: &'static str = "number documents";
    const REASONS: &'static [Reason] = &[];
    fn build(_: &NoConfig, _: &BuildContext) -> Result<Built, StageError> {
        Ok(Built::Ordered(Box::new(CounterStage(0))))
    }
}

/// Learns word document-frequencies; tags documents with their rarest word.
struct Learner;
#[derive(Default)]
struct Counts(BTreeMap<String, u64>);
impl ProfileBuilder for Counts {
    fn observe(&mut self, doc: &Document) {
        let words: std::collections::BTreeSet<&str> = doc.text.split_whitespace().collect();
        for w in words {
            *self.0.entry(w.to_string()).or_insert(0) += 1;
        }
    }
    fn merge(&mut self, other: Box<dyn ProfileBuilder>) {
        if let Ok(o) = other.as_any().downcast::<Counts>() {
            for (k, v) in o.0 {
                *self.0.entry(k).or_insert(0) += v;
            }
        }
    }
    fn finish(self: Box<Self>) -> Result<Vec<u8>, StageError> {
        Ok(serde_json::to_vec(&self.0).unwrap_or_default())
    }
    fn as_any(self: Box<Self>) -> Box<dyn std::any::Any> {
        self
    }
}
struct LearnerStage(BTreeMap<String, u64>);
impl ParallelStage for LearnerStage {
    fn process(&self, doc: &mut Document, _: &mut Cx) -> Result<Verdict, StageError> {
        let common: Vec<&str> = doc
            .text
            .split_whitespace()
            .filter(|w| self.0.get(*w).copied().unwrap_or(0) >= 3)
            .collect();
        doc.set_attr("common_words", common.len());
        Ok(Verdict::Changed)
    }
}
impl StagePlugin for Learner {
    type Config = NoConfig;
    const TYPE: &'static str = "test_learner";
    const SUMMARY: &'static str = "learns word frequencies";
    const REASONS: &'static [Reason] = &[];
    const LEARNS: bool = true;
    fn build(_: &NoConfig, cx: &BuildContext) -> Result<Built, StageError> {
        let bytes = cx
            .profile
            .clone()
            .ok_or_else(|| StageError::config("needs a profile"))?;
        let counts =
            serde_json::from_slice(&bytes).map_err(|e| StageError::config(e.to_string()))?;
        Ok(Built::Parallel(Arc::new(LearnerStage(counts))))
    }
    fn profile_builder(
        _: &NoConfig,
        _: &BuildContext,
    ) -> Result<Option<Box<dyn ProfileBuilder>>, StageError> {
        Ok(Some(Box::new(Counts::default())))
    }
}

fn registry() -> Arc<Registry> {
    let mut r = Registry::builtin();
    r.add(factory::<Splitter>());
    r.add(factory::<Faulty>());
    r.add(factory::<Dedup>());
    r.add(factory::<Counter>());
    r.add(factory::<Learner>());
    Arc::new(r)
}

// --- helpers -----------------------------------------------------------

fn write_input(dir: &Path) -> String {
    let mut lines = Vec::new();
    for i in 0..300 {
        let text = match i % 10 {
            0 => format!("page {i} first\n---\npage {i} second\n---\nshared part"),
            1 => "the same text every time".to_string(),
            2 => "The Same  TEXT every time".to_lowercase(),
            3 if i == 3 => "x PANIC".to_string(),
            4 if i == 4 => "ERROR here".to_string(),
            5 => "ab".to_string(),
            _ => format!("document {i} about the sea and the sky {}", i % 7),
        };
        lines.push(serde_json::json!({"id": format!("d{i}"), "text": text, "url": format!("https://site{}.example.org/p{i}", i % 3), "n": i}).to_string());
    }
    lines.insert(17, "{not json".to_string());
    lines.insert(40, r#"{"id":"nt","title":"no text"}"#.to_string());
    let p = dir.join("in.jsonl");
    std::fs::write(&p, lines.join("\n") + "\n").unwrap();
    p.to_string_lossy().to_string()
}

const CONFIG: &str = r#"
[[stages]]
id = "split"
type = "test_split"
[[stages]]
id = "faulty"
type = "test_faulty"
[[stages]]
id = "dedup"
type = "test_dedup"
[[stages]]
id = "count"
type = "test_counter"
[[stages]]
id = "learn"
type = "test_learner"
"#;

fn run_with(
    config_text: &str,
    input: &str,
    out: &Path,
    threads: usize,
    batch: usize,
) -> RunSummary {
    run::run_config(config_text, &registry(), input, out, threads, batch)
}

fn stats_without_timings(dir: &Path) -> serde_json::Value {
    let mut v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("stats.json")).unwrap()).unwrap();
    let o = v.as_object_mut().unwrap();
    o.remove("timings");
    o.remove("command");
    v
}

// --- tests -------------------------------------------------------------

#[test]
fn output_is_identical_for_any_threads_and_batch_size() {
    let dir = tempfile::tempdir().unwrap();
    let input = write_input(dir.path());
    let mut outs = Vec::new();
    for (threads, batch) in [(1, 512), (4, 1), (2, 7), (4, 512)] {
        let out = dir.path().join(format!("out-{threads}-{batch}"));
        let s = run_with(CONFIG, &input, &out, threads, batch);
        assert_eq!(s.fatal, None);
        outs.push((
            std::fs::read(out.join("docs.jsonl")).unwrap(),
            std::fs::read(out.join("rejects.jsonl")).unwrap(),
            stats_without_timings(&out),
        ));
    }
    for o in &outs[1..] {
        assert!(o.0 == outs[0].0, "docs.jsonl differs");
        assert!(o.1 == outs[0].1, "rejects.jsonl differs");
        assert_eq!(o.2, outs[0].2);
    }
}

#[test]
fn compressed_files_read_ahead_keep_their_order_and_report_a_broken_one_in_place() {
    // Six gzip files (more than the runner opens ahead of their turn), the
    // fourth cut short; documents are sentences of a real page.
    let page = include_str!("../../../tests/fixtures/seeds/000_e7f6ed2af000063c.txt");
    let sentences: Vec<&str> = page.split(". ").filter(|s| s.len() > 20).collect();
    let dir = tempfile::tempdir().unwrap();
    let inputs = dir.path().join("in");
    std::fs::create_dir(&inputs).unwrap();
    let mut expected = Vec::new();
    for f in 0..6 {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        for i in 0..300 {
            let text = format!("{} ({f}/{i})", sentences[(f * 300 + i) % sentences.len()]);
            let line = serde_json::json!({"id": format!("f{f}-{i}"), "text": text});
            std::io::Write::write_all(&mut gz, format!("{line}\n").as_bytes()).unwrap();
            expected.push(format!("f{f}-{i}"));
        }
        let mut bytes = gz.finish().unwrap();
        if f == 3 {
            bytes.truncate(bytes.len() / 2);
        }
        std::fs::write(inputs.join(format!("part-{f}.jsonl.gz")), bytes).unwrap();
    }
    let config = "[[stages]]\nid = \"count\"\ntype = \"test_counter\"\n";
    let out = dir.path().join("out");
    let s = run_with(config, inputs.to_str().unwrap(), &out, 2, 16);
    assert_eq!(s.fatal, None);
    let ids: Vec<String> = std::fs::read_to_string(out.join("docs.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["id"].to_string())
        .map(|id| id.trim_matches('"').to_string())
        .collect();
    // Files 0-2, 4 and 5 whole; of file 3 what came before the cut.
    let read_of_3 = ids.iter().filter(|id| id.starts_with("f3-")).count();
    assert!(read_of_3 > 0 && read_of_3 < 300, "{read_of_3}");
    let want: Vec<&String> = expected
        .iter()
        .filter(|id| !id.starts_with("f3-") || id[3..].parse::<usize>().unwrap() < read_of_3)
        .collect();
    assert!(ids.iter().eq(want.into_iter()), "documents out of order");
    let errors = &s.stats.errors;
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].location.contains("part-3.jsonl.gz"), "{errors:?}");
}

#[test]
fn every_document_is_accounted_for() {
    let dir = tempfile::tempdir().unwrap();
    let input = write_input(dir.path());
    let out = dir.path().join("out");
    let s = run_with(CONFIG, &input, &out, 2, 16);
    let t = &s.stats.totals;
    assert_eq!(t.records, 302);
    assert_eq!(t.errors, 2);
    assert_eq!(t.read, 300);
    // 30 pages split in 3 parts each.
    assert_eq!(t.parts_added, 60);
    let docs = std::fs::read_to_string(out.join("docs.jsonl")).unwrap();
    let rejects = std::fs::read_to_string(out.join("rejects.jsonl")).unwrap();
    assert_eq!(docs.lines().count() as u64, t.written);
    assert_eq!(rejects.lines().count() as u64, t.rejected);
    assert_eq!(t.read + t.parts_added, t.written + t.rejected);
    assert_eq!(s.exit_code(), 1, "record errors exit 1");
    let e: Vec<String> = s
        .stats
        .errors
        .iter()
        .map(|e| format!("{}: {}", e.location, e.message))
        .collect();
    assert!(
        e[0].ends_with("in.jsonl:18: invalid JSON: key must be a string at line 1 column 2"),
        "{e:?}"
    );
    assert!(e[1].ends_with("in.jsonl:41: missing field `text`"), "{e:?}");
}

#[test]
fn panics_errors_and_drops_become_rejects_with_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let input = write_input(dir.path());
    let out = dir.path().join("out");
    let s = run_with(CONFIG, &input, &out, 2, 8);
    let faulty = s.stats.stage("faulty").unwrap();
    assert_eq!(faulty.dropped["panic"], 1);
    assert_eq!(faulty.dropped["error"], 1);
    assert_eq!(faulty.dropped["short"], 30);
    let rejects: Vec<serde_json::Value> = std::fs::read_to_string(out.join("rejects.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let panic = rejects.iter().find(|r| r["reason"] == "panic").unwrap();
    assert_eq!(panic["id"], "d3");
    assert_eq!(panic["stage"], "faulty");
    assert_eq!(panic["detail"], "boom on d3");
    assert_eq!(panic["n"], 3, "passthrough fields kept in rejects");
    // d1, d11, d21 ... share one text; d2, d12 ... another (double space).
    let dup = rejects.iter().find(|r| r["id"] == "d11").unwrap();
    assert_eq!(dup["reason"], "duplicate");
    assert_eq!(dup["attributes"]["duplicate_of"], "d1");
    let dup = rejects.iter().find(|r| r["id"] == "d12").unwrap();
    assert_eq!(dup["attributes"]["duplicate_of"], "d2");
}

#[test]
fn ordered_stage_sees_input_order_and_splits_keep_order() {
    let dir = tempfile::tempdir().unwrap();
    let input = write_input(dir.path());
    let out = dir.path().join("out");
    run_with(CONFIG, &input, &out, 4, 3);
    let docs: Vec<serde_json::Value> = std::fs::read_to_string(out.join("docs.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for (k, d) in docs.iter().enumerate() {
        assert_eq!(d["attributes"]["n"], k as u64 + 1);
    }
    let ids: Vec<&str> = docs
        .iter()
        .take(4)
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["d0#1", "d0#2", "d0#3", "d1"]);
    // The shared third part of every page is a duplicate of the first page's.
    assert_eq!(docs[0]["attributes"]["parent"], "d0");
    assert_eq!(docs[0]["text"], "PAGE 0 FIRST");
}

#[test]
fn profile_pass_teaches_the_learning_stage() {
    let dir = tempfile::tempdir().unwrap();
    let input = write_input(dir.path());
    let out = dir.path().join("out");
    run_with(CONFIG, &input, &out, 2, 32);
    let docs = std::fs::read_to_string(out.join("docs.jsonl")).unwrap();
    let first: serde_json::Value = serde_json::from_str(docs.lines().next().unwrap()).unwrap();
    // Parallel stages before a learner run in the profile pass too, so it
    // learned the upper-cased words `faulty` makes: "PAGE" and "FIRST" are
    // in 30 documents, "0" in more than 3 ("... SKY 0"). Had it learned the
    // raw lower-case text, no word would count.
    assert_eq!(first["text"], "PAGE 0 FIRST");
    assert_eq!(first["attributes"]["common_words"], 3);
}

#[test]
fn abort_on_error_stops_and_commits_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let input = write_input(dir.path());
    let out = dir.path().join("out");
    let cfg = format!("[run]\non_error = \"abort\"\n{CONFIG}");
    let s = run_with(&cfg, &input, &out, 2, 4);
    assert_eq!(s.exit_code(), 2);
    let f = s.fatal.unwrap();
    assert!(
        f.contains("stage `faulty` failed on document `d4`: cannot handle this"),
        "{f}"
    );
    assert!(!out.join("docs.jsonl").exists());
    assert!(!out.join("stats.json").exists());
    let leftovers: Vec<_> = std::fs::read_dir(&out).unwrap().collect();
    assert!(leftovers.is_empty(), "temporary files removed");
}

#[test]
fn per_source_overrides_change_a_stage_for_that_source_only() {
    let dir = tempfile::tempdir().unwrap();
    let input = write_input(dir.path());
    let out = dir.path().join("out");
    let cfg = r#"
[[stages]]
id = "faulty"
type = "test_faulty"

[sources.site1]
hosts = ["*.site1.example.org"]
[sources.site1.stages.faulty]
min_chars = 1

[sources.site2]
hosts = ["site2.example.org"]
[sources.site2.stages.faulty]
enabled = false
"#;
    let s = run_with(cfg, &input, &out, 2, 10);
    // i % 10 == 5 → "ab" is short: i % 3 picks the site. site1 keeps them
    // (min_chars 1), site2 skips the stage, site0 (default) drops them.
    let dropped = s.stats.stage("faulty").unwrap().dropped["short"];
    let expected = (0..300).filter(|i| i % 10 == 5 && i % 3 == 0).count() as u64;
    assert_eq!(dropped, expected);
    let docs = std::fs::read_to_string(out.join("docs.jsonl")).unwrap();
    let d: Vec<serde_json::Value> = docs
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let site2 = d.iter().find(|x| x["id"] == "d8").unwrap();
    assert_eq!(site2["source"], "site2");
    assert_eq!(
        site2["text"], "document 8 about the sea and the sky 1",
        "stage skipped"
    );
    let site1 = d.iter().find(|x| x["id"] == "d7").unwrap();
    assert_eq!(site1["source"], "site1");
    assert_eq!(site1["text"], "DOCUMENT 7 ABOUT THE SEA AND THE SKY 0");
}

#[test]
fn config_errors_are_all_reported_with_locations() {
    let reg = registry();
    let cfg = r#"
[run]
thread = 2
[output]
compression = "lz4"
[[stages]]
id = "faulty"
type = "test_faulty"
min_char = 2
[[stages]]
type = "no_such_stage"
[sources.a]
hosts = ["x.org"]
[sources.a.stages.faulty]
min_chars = "three"
[sources.b]
"#;
    let err = Config::parse(cfg, Path::new("."), &reg).unwrap_err();
    assert!(reg.type_names().contains(&"test_faulty"));
    let msgs: Vec<String> = err
        .errors
        .iter()
        .map(|e| e.lines().next().unwrap_or("").to_string())
        .collect();
    assert_eq!(
        msgs,
        [
            "[run]: unknown field `thread`, expected one of `threads`, `batch_size`, `in_flight`, `on_error`, `profile`",
            "[output]: compression = \"lz4\": expected \"none\", \"gzip\" or \"zstd\"",
            "stages[0] (id = \"faulty\"): unknown field `min_char`, expected `min_chars`",
            &format!(
                "stages[1] (id = \"no_such_stage\"): unknown stage type `no_such_stage`; known types: {}",
                reg.type_names().join(", ")
            ),
            "[sources.a.stages.faulty]: invalid type: string \"three\", expected usize",
            "[sources.b]: selects nothing; give `paths`, `hosts` or `field` with `values`",
        ]
    );
}
