//! Properties of the shipped stages and of the runner, checked on generated
//! input (proptest): idempotence where a stage should be idempotent, sentence
//! spans, output size bounds, the runner's accounting identity, and identical
//! output for any thread count and batch size.
//!
//! Inputs mix real text (lines of the fixtures under `tests/fixtures/`),
//! mojibake and boilerplate-like lines, and arbitrary Unicode. Case counts are
//! kept small so the file runs in well under a minute in debug on 2 cores;
//! raise them with `PROPTEST_CASES=1000` for a longer local run.

#[path = "common/run.rs"]
mod run;
use proptest::prelude::*;
use proptest::test_runner::Config as PtConfig;
use sluicebox_core::{BuildContext, Built, Cx, Document, ParallelStage, Verdict};
use sluicebox_pipeline::registry::Registry;
use sluicebox_pipeline::runner::RunSummary;
use sluicebox_segment::Segmenter;
use std::path::Path;
use std::sync::{Arc, OnceLock};

// --- inputs --------------------------------------------------------------

const FIXTURES: &[&str] = &[
    include_str!("../../../tests/fixtures/seeds/000_e7f6ed2af000063c.txt"),
    include_str!("../../../tests/fixtures/seeds/003_240feac35cea67fe.txt"),
    include_str!("../../../tests/fixtures/segment/002_article_eu.txt"),
    include_str!("../../../tests/fixtures/segment/002_article_with_subheadings.txt"),
    include_str!("../../../tests/fixtures/spinner/003_restored.txt"),
];

/// Lines of real text from the fixtures (deduplicated, non-empty).
fn fixture_lines() -> &'static [&'static str] {
    static LINES: OnceLock<Vec<&'static str>> = OnceLock::new();
    LINES.get_or_init(|| {
        let mut v: Vec<&str> = FIXTURES
            .iter()
            .flat_map(|t| t.lines())
            .filter(|l| !l.trim().is_empty())
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    })
}

/// Short lines that stages treat specially: mojibake, entities, spintax,
/// boilerplate, odd whitespace and scripts.
const ODD_LINES: &[&str] = &[
    "The â€œquotedâ€\u{9d} word and cafÃ© au lait.",
    "Tom &amp; Jerry &lt;b&gt; &#8220;hi&#8221;",
    "Read Full Article",
    "Home | News | Sport | Contact us",
    "Sign up for our newsletter!",
    "{Hello|Hi|Hey} {world|there}, {this is {nested|deep}|plain}.",
    "Folks's Republic of China said on Could 3 that it would reply.",
    "Share this: Facebook Twitter Email",
    "Copyright © 2024 Example Media. All rights reserved.",
    "Mr. Smith went to Washington. He arrived at 5 p.m. on Jan. 3.",
    "مرحبا بالعالم. هذا نص عربي.",
    "これは日本語の文です。二つ目の文です。",
    "e\u{301}\u{301}\u{301} a\u{308} \u{1f600}\u{1f468}\u{200d}\u{1f469}",
    "\t  \u{a0} \u{2003} ",
    "",
];

/// A document text: 1..30 lines, each real, odd or arbitrary.
fn text_strategy() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        4 => prop::sample::select(fixture_lines()).prop_map(str::to_string),
        2 => prop::sample::select(ODD_LINES).prop_map(str::to_string),
        1 => any::<String>(),
        1 => "[a-z ]{0,40}",
    ];
    prop::collection::vec(line, 1..30).prop_map(|v| v.join("\n"))
}

// --- stages --------------------------------------------------------------

fn registry() -> &'static Arc<Registry> {
    static R: OnceLock<Arc<Registry>> = OnceLock::new();
    R.get_or_init(|| Arc::new(Registry::builtin()))
}

/// A parallel stage built through the registry (no learned profile).
fn parallel(type_name: &str, table: &str) -> Arc<dyn ParallelStage> {
    let table: toml::Table = toml::from_str(table).unwrap();
    match registry()
        .get(type_name)
        .unwrap()
        .build(&table, &BuildContext::default())
        .unwrap()
    {
        Built::Parallel(s) => s,
        other => panic!("{type_name} builds as {}", other.placement()),
    }
}

fn cached(
    slot: &'static OnceLock<Arc<dyn ParallelStage>>,
    t: &str,
    table: &str,
) -> Arc<dyn ParallelStage> {
    slot.get_or_init(|| parallel(t, table)).clone()
}

fn decode() -> Arc<dyn ParallelStage> {
    static S: OnceLock<Arc<dyn ParallelStage>> = OnceLock::new();
    cached(&S, "decode", "")
}
fn mojibake() -> Arc<dyn ParallelStage> {
    static S: OnceLock<Arc<dyn ParallelStage>> = OnceLock::new();
    cached(&S, "mojibake", "")
}
fn deboilerplate() -> Arc<dyn ParallelStage> {
    static S: OnceLock<Arc<dyn ParallelStage>> = OnceLock::new();
    cached(&S, "deboilerplate", "")
}
fn spinner() -> Arc<dyn ParallelStage> {
    static S: OnceLock<Arc<dyn ParallelStage>> = OnceLock::new();
    cached(&S, "spinner", "action = \"repair\"")
}
fn segment_spans() -> Arc<dyn ParallelStage> {
    static S: OnceLock<Arc<dyn ParallelStage>> = OnceLock::new();
    cached(&S, "segment", "articles = false\nsentences = true")
}
fn segment_per_line() -> Arc<dyn ParallelStage> {
    static S: OnceLock<Arc<dyn ParallelStage>> = OnceLock::new();
    cached(&S, "segment", "articles = true\nsentence_per_line = true")
}

/// Run a stage on a text document; the texts that come out (none if dropped).
fn apply(stage: &Arc<dyn ParallelStage>, doc: Document) -> Vec<Document> {
    let mut doc = doc;
    let mut cx = Cx::default();
    match stage.process(&mut doc, &mut cx).unwrap() {
        Verdict::Unchanged | Verdict::Changed => vec![doc],
        Verdict::Drop { .. } => vec![],
        Verdict::Split(parts) => {
            assert!(!parts.is_empty(), "Split with no parts");
            parts
        }
    }
}

fn apply_text(stage: &Arc<dyn ParallelStage>, text: &str) -> Vec<String> {
    apply(stage, Document::from_text("p", text))
        .into_iter()
        .map(|d| d.text)
        .collect()
}

/// Decode as the pipeline does before any other stage: the text every later
/// stage is promised (LF line ends, NFC, no trailing spaces).
fn decoded(text: &str) -> String {
    let out = apply(
        &decode(),
        Document::from_bytes("p", text.as_bytes().to_vec()),
    );
    out.into_iter().next().map(|d| d.text).unwrap_or_default()
}

/// `cases` by default; `PROPTEST_CASES` (when set) for longer local runs.
fn pt(cases: u32) -> PtConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(cases);
    PtConfig {
        cases,
        failure_persistence: None,
        ..PtConfig::default()
    }
}

// --- idempotence -----------------------------------------------------------

proptest! {
    #![proptest_config(pt(48))]

    /// Decoding text that decode produced gives it back unchanged: the
    /// normalisation (NFC, LF, controls, trailing spaces) is a fixed point.
    #[test]
    fn decode_of_its_own_output_is_unchanged(text in text_strategy()) {
        let once = decoded(&text);
        let twice = decoded(&once);
        prop_assert_eq!(&twice, &once);
    }

    /// Repairing repaired text changes nothing.
    #[test]
    fn mojibake_repair_is_idempotent(text in text_strategy()) {
        let text = decoded(&text);
        let once = apply_text(&mojibake(), &text);
        prop_assert_eq!(once.len(), 1, "mojibake never drops or splits");
        let twice = apply_text(&mojibake(), &once[0]);
        prop_assert_eq!(&twice[0], &once[0]);
    }

    /// Output size bounds (bytes): decode ≤ 3 × input + 3 (U+FFFD for a
    /// bad byte, NFC), mojibake ≤ input + 3 (a repair or an entity never
    /// grows text beyond the `…` a C1 byte stands for), deboilerplate ≤
    /// input (it only removes lines), segment one-sentence-a-line ≤ 2 ×
    /// input + 1 (a line break per sentence).
    #[test]
    fn stage_output_is_bounded_by_its_input(text in text_strategy()) {
        let n = text.len();
        let d = decoded(&text);
        prop_assert!(d.len() <= 3 * n + 3, "decode {} -> {}", n, d.len());
        let n = d.len();
        for out in apply_text(&mojibake(), &d) {
            prop_assert!(out.len() <= n + 3, "mojibake {} -> {}", n, out.len());
        }
        for out in apply_text(&deboilerplate(), &d) {
            prop_assert!(out.len() <= n, "deboilerplate {} -> {}", n, out.len());
        }
        let total: usize = apply_text(&segment_per_line(), &d).iter().map(String::len).sum();
        prop_assert!(total <= 2 * n + 1, "segment {} -> {}", n, total);
    }
}

proptest! {
    #![proptest_config(pt(24))]

    /// Spinner repair of repaired text changes nothing more.
    #[test]
    fn spinner_repair_is_idempotent(text in text_strategy()) {
        let text = decoded(&text);
        let once = apply_text(&spinner(), &text);
        prop_assert_eq!(once.len(), 1, "repair mode never drops");
        let twice = apply_text(&spinner(), &once[0]);
        prop_assert_eq!(&twice[0], &once[0]);
    }

    /// Deboilerplate (no learned profile) of its own output removes nothing
    /// more: the stage decides again on the lines it keeps until nothing
    /// changes, so a second pass sees the same context and agrees.
    #[test]
    fn deboilerplate_of_its_own_output_removes_nothing(text in text_strategy()) {
        let text = decoded(&text);
        let once = apply_text(&deboilerplate(), &text);
        if let Some(first) = once.first() {
            let twice = apply_text(&deboilerplate(), first);
            prop_assert_eq!(twice.len(), 1, "second pass dropped the document");
            prop_assert_eq!(&twice[0], first);
        }
    }
}

/// The minimal case proptest once found: a second pass removed the
/// "Newsweek has reached out" line that the first pass had kept.
#[test]
fn deboilerplate_second_pass_removes_no_kept_line() {
    let text = "A total of €7.8 billion in bilateral financial and humanitarian assistance mobilised by the EU, together with the Member States;\nNewsweek has reached out to NATO via email for comment.\n0\n    • The decision came ahead of the 24th EU-Ukraine summit which will take place on Friday in the Ukrainian capital Kyiv.\u{a0}";
    let once = apply_text(&deboilerplate(), &decoded(text));
    let twice = apply_text(&deboilerplate(), &once[0]);
    assert_eq!(twice, once);
}

// --- sentences -------------------------------------------------------------

/// Check spans: in bounds, on char boundaries, non-empty, ordered, not
/// overlapping, trimmed, and covering every non-whitespace character.
fn check_spans(text: &str, spans: &[(usize, usize)]) -> Result<(), TestCaseError> {
    let mut last = 0;
    for &(s, e) in spans {
        prop_assert!(
            s < e && e <= text.len(),
            "span {}..{} of {}",
            s,
            e,
            text.len()
        );
        prop_assert!(s >= last, "span {}..{} overlaps or is out of order", s, e);
        prop_assert!(text.is_char_boundary(s) && text.is_char_boundary(e));
        let sent = &text[s..e];
        prop_assert_eq!(sent.trim(), sent, "span {}..{} not trimmed", s, e);
        // Between sentences only whitespace.
        prop_assert!(
            text[last..s].trim().is_empty(),
            "non-space text {:?} outside every sentence",
            &text[last..s]
        );
        last = e;
    }
    prop_assert!(
        text[last..].trim().is_empty(),
        "text after the last sentence: {:?}",
        &text[last..]
    );
    Ok(())
}

proptest! {
    #![proptest_config(pt(64))]

    #[test]
    fn sentence_spans_are_ordered_and_cover_the_text(text in text_strategy(), lang in prop::sample::select(&["en", "de", "fr", "ja", "ar", "xx", ""][..])) {
        let spans = Segmenter::for_lang(lang).split(&text);
        check_spans(&text, &spans)?;
    }

    /// The stage's `attributes.sentences` (and, one sentence a line, the
    /// rewritten text) obey the same rules.
    #[test]
    fn segment_stage_sentence_attributes_are_valid(text in text_strategy()) {
        let text = decoded(&text);
        for stage in [segment_spans(), segment_per_line()] {
            for doc in apply(&stage, Document::from_text("p", text.as_str())) {
                let spans: Vec<(usize, usize)> = doc.attributes["sentences"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| (p[0].as_u64().unwrap() as usize, p[1].as_u64().unwrap() as usize))
                    .collect();
                check_spans(&doc.text, &spans)?;
            }
        }
    }
}

// --- runner ------------------------------------------------------------------

/// One input line of a JSONL file: a good record or one of the ways a record
/// goes bad.
#[derive(Debug, Clone)]
enum Line {
    Good(String),
    BadJson,
    MissingText,
    NumberText,
    InvalidUtf8,
    Blank,
    Duplicate,
}

fn line_strategy() -> impl Strategy<Value = Line> {
    prop_oneof![
        6 => text_strategy().prop_map(Line::Good),
        1 => Just(Line::BadJson),
        1 => Just(Line::MissingText),
        1 => Just(Line::NumberText),
        1 => Just(Line::InvalidUtf8),
        1 => Just(Line::Blank),
        2 => Just(Line::Duplicate),
    ]
}

/// Write the lines; returns the path and how many records are bad.
fn write_jsonl(dir: &Path, lines: &[Line]) -> (String, u64) {
    let mut out: Vec<u8> = Vec::new();
    let mut bad = 0;
    for (i, l) in lines.iter().enumerate() {
        let rec = match l {
            Line::Good(t) => serde_json::json!({"id": format!("r{i}"), "text": t, "url": format!("https://s{}.example.org/{i}", i % 3)}).to_string().into_bytes(),
            Line::Duplicate => serde_json::json!({"id": format!("r{i}"), "text": FIXTURES[0]}).to_string().into_bytes(),
            Line::BadJson => { bad += 1; b"{\"text\": \"unterminated".to_vec() }
            Line::MissingText => { bad += 1; format!("{{\"id\":\"r{i}\",\"title\":\"x\"}}").into_bytes() }
            Line::NumberText => { bad += 1; b"{\"text\": 42}".to_vec() }
            Line::InvalidUtf8 => { bad += 1; b"{\"text\": \"caf\xe9\"}".to_vec() }
            Line::Blank => b"   ".to_vec(),
        };
        out.extend_from_slice(&rec);
        out.push(b'\n');
    }
    let p = dir.join("in.jsonl");
    std::fs::write(&p, out).unwrap();
    (p.to_string_lossy().to_string(), bad)
}

/// Run the default pipeline (profile pass included) the way the CLI does.
fn run_default(input: &str, out: &Path, threads: usize, batch: usize) -> RunSummary {
    let text = sluicebox_pipeline::DEFAULT_CONFIG;
    run::run_config(text, registry(), input, out, threads, batch)
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_default()
}

proptest! {
    #![proptest_config(pt(6))]

    /// records = read + errors, and read + parts added = written + rejected,
    /// with the output files holding exactly `written` and `rejected` lines;
    /// and the same bytes out for any thread count and batch size.
    #[test]
    fn runner_accounts_for_every_record_and_is_deterministic(
        lines in prop::collection::vec(line_strategy(), 1..40),
        threads in 1usize..5,
        batch in 1usize..40,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let (input, bad) = write_jsonl(dir.path(), &lines);
        let blank = lines.iter().filter(|l| matches!(l, Line::Blank)).count() as u64;
        // A file of blank lines only is one error record ("no records").
        let all_blank = u64::from(blank == lines.len() as u64);
        let out_a = dir.path().join("a");
        let s = run_default(&input, &out_a, threads, batch);
        prop_assert_eq!(s.fatal.clone(), None);
        let t = &s.stats.totals;
        prop_assert_eq!(t.records, lines.len() as u64 - blank + all_blank);
        prop_assert_eq!(t.errors, bad + all_blank);
        prop_assert_eq!(t.records, t.read + t.errors);
        prop_assert_eq!(t.read + t.parts_added, t.written + t.rejected);
        let docs = read(&out_a.join("docs.jsonl"));
        let rejects = read(&out_a.join("rejects.jsonl"));
        prop_assert_eq!(docs.split(|&b| b == b'\n').filter(|l| !l.is_empty()).count() as u64, t.written);
        prop_assert_eq!(rejects.split(|&b| b == b'\n').filter(|l| !l.is_empty()).count() as u64, t.rejected);

        let out_b = dir.path().join("b");
        let s1 = run_default(&input, &out_b, 1, 256);
        prop_assert_eq!(s1.fatal.clone(), None);
        prop_assert!(read(&out_b.join("docs.jsonl")) == docs, "docs.jsonl differs between {} threads/batch {} and 1/256", threads, batch);
        prop_assert!(read(&out_b.join("rejects.jsonl")) == rejects, "rejects.jsonl differs");
    }
}

/// The case proptest found: a file of blank lines only is still accounted
/// for, as one error record, and nothing is written.
#[test]
fn a_file_of_blank_lines_is_one_error_record() {
    let dir = tempfile::tempdir().unwrap();
    let (input, bad) = write_jsonl(dir.path(), &[Line::Blank, Line::Blank]);
    assert_eq!(bad, 0);
    let s = run_default(&input, &dir.path().join("o"), 1, 1);
    assert_eq!(s.fatal, None);
    let t = &s.stats.totals;
    assert_eq!((t.records, t.read, t.errors, t.written), (1, 0, 1, 0));
}
