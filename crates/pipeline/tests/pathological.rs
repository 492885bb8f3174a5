//! Pathological inputs through the whole default pipeline, at small sizes:
//! nothing panics, nothing is lost (the accounting identity holds), the
//! output is valid JSONL. The same inputs at full size (100 MB of one word, a
//! 10 MB line, a million tiny documents ...) are timed in
//! `benches/pathological.rs`, which shows the cost stays linear; no timing
//! here.
//!
//! Regression tests for fuzzing findings (`fuzz/README.md`) that cross stage
//! boundaries live at the bottom, named after the finding.

use sluicebox_io::expand_inputs;
use sluicebox_pipeline::config::Config;
use sluicebox_pipeline::plan::{Plan, ProfileSet};
use sluicebox_pipeline::profile;
use sluicebox_pipeline::registry::Registry;
use sluicebox_pipeline::runner::{RunOptions, RunSummary};
use std::path::Path;
use std::sync::Arc;

#[path = "common/inputs.rs"]
mod inputs;
use inputs::*;

// --- running ---------------------------------------------------------------

fn write_jsonl(dir: &Path, texts: &[String]) -> String {
    let mut out = String::new();
    for (i, t) in texts.iter().enumerate() {
        out.push_str(&serde_json::json!({"id": format!("d{i}"), "text": t}).to_string());
        out.push('\n');
    }
    let p = dir.join("in.jsonl");
    std::fs::write(&p, out).unwrap();
    p.to_string_lossy().to_string()
}

/// The default pipeline with its profile pass, as `sluicebox run` does.
fn run_default(input: &str, out: &Path) -> RunSummary {
    let reg = Arc::new(Registry::builtin());
    let config = Config::parse(sluicebox_pipeline::DEFAULT_CONFIG, Path::new("."), &reg).unwrap();
    let (inputs, errors) = expand_inputs(&[input.to_string()], None);
    let mut opts = RunOptions::from_config(&config, inputs.clone());
    opts.input_errors = errors;
    opts.threads = 2;
    opts.out_dir = Some(out.to_path_buf());
    opts.print_errors = false;
    let mut popts = RunOptions::from_config(&config, inputs);
    popts.threads = 2;
    popts.print_errors = false;
    let profiles = if Plan::learns(&config, &reg) {
        profile::build_profiles(&config, &reg, popts).unwrap()
    } else {
        ProfileSet::new()
    };
    let plan = Plan::build(&config, &reg, &profiles, false).unwrap();
    sluicebox_pipeline::run(&config, plan, opts)
}

/// Run `texts` as documents; check nothing failed or was lost, and every
/// output line is a JSON object with a text. Returns the written texts.
fn survives(texts: Vec<String>) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let input = write_jsonl(dir.path(), &texts);
    let out = dir.path().join("out");
    let s = run_default(&input, &out);
    assert_eq!(s.fatal, None);
    let t = &s.stats.totals;
    assert_eq!(t.errors, 0, "{:?}", s.stats.errors);
    assert_eq!(t.read, texts.len() as u64);
    assert_eq!(t.read + t.parts_added, t.written + t.rejected);
    let panics: u64 = s
        .stats
        .stages
        .iter()
        .map(|(_, st)| st.dropped.get("panic").copied().unwrap_or(0))
        .sum();
    assert_eq!(panics, 0, "a stage panicked");
    let docs = std::fs::read_to_string(out.join("docs.jsonl")).unwrap();
    let mut written = Vec::new();
    for line in docs.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        written.push(v["text"].as_str().unwrap().to_string());
    }
    assert_eq!(written.len() as u64, t.written);
    written
}

const SMALL: usize = 64 << 10;

#[test]
fn one_repeated_word() {
    let out = survives(vec![repeated_word(SMALL)]);
    // One word repeated is no article, but it is not lost silently either:
    // written or rejected with a reason (checked by the identity above).
    for t in out {
        assert!(t.split_whitespace().all(|w| w == "lorem"));
    }
}

#[test]
fn long_line_without_newline() {
    let text = long_line(SMALL);
    let out = survives(vec![text.clone()]);
    // The article survives as text (deboilerplate keeps prose).
    assert!(
        out.iter().map(String::len).sum::<usize>() > SMALL / 2,
        "long line mostly removed"
    );
}

#[test]
fn many_tiny_documents() {
    let texts: Vec<String> = (0..1000).map(|i| format!("doc {i}")).collect();
    survives(texts);
}

#[test]
fn deeply_nested_spintax() {
    let out = survives(vec![nested_spintax(SMALL)]);
    for t in out {
        assert!(t.starts_with("The"), "{}", &t[..t.len().min(80)]);
    }
}

#[test]
fn all_combining_marks() {
    survives(vec![combining_marks(SMALL)]);
}

#[test]
fn all_emoji() {
    survives(vec![emoji(SMALL)]);
}

#[test]
fn all_rtl() {
    let out = survives(vec![rtl(SMALL)]);
    assert!(!out.is_empty(), "RTL prose dropped");
}

#[test]
fn all_whitespace() {
    survives(vec![
        whitespace(SMALL),
        " ".into(),
        "\n".into(),
        "\u{a0}".into(),
    ]);
}

#[test]
fn empty_and_one_character_documents() {
    survives(vec![
        String::new(),
        "a".into(),
        ".".into(),
        "{".into(),
        "}|{".into(),
    ]);
}

// --- regression tests for fuzzing findings -----------------------------------

/// Clean one JSONL record made of a long real text and `fields` (raw JSON
/// members after the text) with the default pipeline; it must be read
/// without error and kept. Returns the docs.jsonl line.
fn clean_one_record(fields: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("in.jsonl");
    let text = serde_json::to_string(&long_line(2000)).unwrap();
    std::fs::write(&p, format!("{{\"id\":\"r\",\"text\":{text},{fields}}}\n")).unwrap();
    let out = dir.path().join("out");
    let s = run_default(&p.to_string_lossy(), &out);
    assert_eq!(s.stats.totals.errors, 0);
    let docs = std::fs::read_to_string(out.join("docs.jsonl")).unwrap();
    assert_eq!(docs.lines().count(), 1);
    docs
}

/// Fuzz finding `record-lone-surrogate-in-passthrough-field` (target
/// `record`, crash-62b00738): a lone UTF-16 surrogate escape (`\udfff`) in a
/// field other than the text is passed through verbatim, so the output line
/// is rejected by strict JSON parsers (serde_json: "lone leading surrogate
/// in hex escape"). The text field already got U+FFFD in its place; now
/// `parse_record` does the same in every passthrough field.
#[test]
fn record_lone_surrogate_in_passthrough_field() {
    let docs = clean_one_record(r#""note":"x\udfffy","url":"https://example.org/\ud83d""#);
    for line in docs.lines() {
        serde_json::from_str::<serde_json::Value>(line)
            .unwrap_or_else(|e| panic!("output is not valid JSON ({e}): {line}"));
    }
}

/// Fuzz finding `record-number-out-of-range-passthrough` (target `record`):
/// a passthrough number beyond f64 (`5.5e5005000002`) is valid JSON that
/// serde_json cannot hold as a value. Passthrough fields are copied as they
/// came, so the record is kept and the number written back unchanged.
#[test]
fn record_number_out_of_range_passthrough() {
    let docs = clean_one_record(r#""meta":{"a":[55555555.50000e5005000002,{}]}"#);
    assert!(
        docs.contains("\"meta\":{\"a\":[55555555.50000e5005000002,{}]}"),
        "{docs}"
    );
}

/// Fuzz finding `record-number-out-of-range-behind-surrogate-key` (target
/// `record`): a lone surrogate in a field *name* makes the first parse fail,
/// the line is repaired (U+FFFD) and parsed again; the out-of-range number
/// in that field must still come through unchanged.
#[test]
fn record_number_out_of_range_behind_surrogate_key() {
    let docs = clean_one_record(r#""m W\udd2eta":{"a":[5500e1615,{}]}"#);
    assert!(
        docs.contains("\"m W\u{fffd}ta\":{\"a\":[5500e1615,{}]}"),
        "{docs}"
    );
    assert!(docs.contains("\"lone_surrogates\":1"), "{docs}");
}
