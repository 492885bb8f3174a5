//! Throughput of the `spinner` stage, single thread.
//!
//! Run: `cargo bench -p sluicebox-repair --bench spinner_throughput`
//!
//! * `clean`: every page text of the article extraction benchmark and the
//!   readability test pages (boilerplate included), ~3.4 MB, action repair.
//! * `spun`: seed 003 (a real spun article) as 200 documents, action repair
//!   (every document is flagged and rewritten).
//! * `baseline`: the same documents copied into a `Document` and their
//!   spaces counted (what any stage pays to touch the text), for the ratio.
//!
//! Each input runs with the default model only (`stage_repair_1_thread`)
//! and with a corpus profile learned first from clean + spun together
//! (`stage_repair_profile_1_thread`: the default pipeline, which runs the
//! profile pass). `spinner_profile_pass` times the spinner's share of the
//! profile pass on the clean pages: `observe_1_thread` judges, tokenizes
//! and counts each document into partials of ~1 MiB (dropped, not merged);
//! `observe_and_merge_1_thread` also merges them in order as the runner
//! does (the one-off serialisation of the table at the end is timed apart,
//! `finish_once`). `spinner_startup` times building the stage and, for
//! comparison with the stage's word-start scan, building and running the
//! lexicon's Aho-Corasick automaton as a DFA and as a contiguous NFA.
//!
//! Each benchmark asserts its result (clean: nothing flagged; spun: every
//! document repaired), and the setup checks that the stage's scan finds
//! every hit of the automaton on all inputs (printing how many more it
//! finds).
//!
//! Fixed-work modes (no criterion), for `perf` and for comparing builds on
//! a noisy machine: `SPINNER_PASSES=N SPINNER_ONLY=clean|spun` (add
//! `SPINNER_PROFILE=1` for the stage with a corpus profile) prints the MB/s
//! of N passes; `SPINNER_ONLY=profile` prints each pass's MB/s of the
//! profile pass (observe + merge, observe alone, and tokenizing alone as a
//! floor) and the best; `SPINNER_ONLY=tokenize` only tokenizes.
//! `SPINNER_DUMP_PROFILE=FILE` writes the profile learned from clean + spun
//! and exits (to compare two builds' profiles byte for byte).
use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sluicebox_core::{BuildContext, Cx, Document, ParallelStage, ProfileBuilder, StagePlugin};
use sluicebox_repair::spinner::{lm, Spinner, SpinnerConfig, SpinnerStage, BUILTIN_LEXICON};
use std::hint::black_box;
use std::io::BufRead;

const CORPORA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/corpora");
const SEED_003: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/spinner/003_240feac35cea67fe.txt"
));

fn pages() -> Option<Vec<String>> {
    let mut out = Vec::new();
    for name in ["article_extraction_benchmark", "readability"] {
        let file = std::fs::File::open(format!("{CORPORA}/web/{name}.jsonl.gz")).ok()?;
        let reader = std::io::BufReader::new(flate2::read::GzDecoder::new(file));
        for line in reader.lines().map_while(Result::ok) {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) {
                if let Some(t) = v.get("text").and_then(|t| t.as_str()) {
                    out.push(t.to_string());
                }
            }
        }
    }
    Some(out)
}

/// Run the stage over `docs`; returns (flagged, repairs).
fn run(stage: &SpinnerStage, docs: &[String]) -> (usize, u64) {
    let mut cx = Cx::default();
    let mut flagged = 0;
    for t in docs {
        let mut d = Document::from_text("b", t.clone());
        let _ = stage.process(&mut d, &mut cx);
        flagged += usize::from(d.attributes.get("spun") == Some(&true.into()));
        black_box(&d.text);
    }
    (
        flagged,
        cx.counters.get("spin_repairs").copied().unwrap_or(0),
    )
}

/// The spinner's share of the profile pass: one partial per ~1 MiB batch,
/// each merged into the first in order (what the runner does).
fn profile_partials(docs: &[String]) -> Box<dyn ProfileBuilder> {
    let cfg = SpinnerConfig::default();
    let cx = BuildContext::default();
    let new = || {
        Spinner::profile_builder(&cfg, &cx)
            .expect("profile builder")
            .expect("spinner learns")
    };
    let mut acc: Option<Box<dyn ProfileBuilder>> = None;
    let mut part = new();
    let mut in_batch = 0;
    for t in docs {
        part.observe(&Document::from_text("p", t.as_str()));
        in_batch += t.len();
        if in_batch >= 1 << 20 {
            match &mut acc {
                Some(a) => a.merge(std::mem::replace(&mut part, new())),
                None => acc = Some(std::mem::replace(&mut part, new())),
            }
            in_batch = 0;
        }
    }
    match acc {
        Some(mut a) => {
            a.merge(part);
            a
        }
        None => part,
    }
}

/// Observe alone: the documents judged, tokenized and counted into
/// partials of ~1 MiB each, which are then dropped (no merge).
fn observe_only(docs: &[String]) -> usize {
    let cfg = SpinnerConfig::default();
    let cx = BuildContext::default();
    let mut part = Spinner::profile_builder(&cfg, &cx)
        .expect("profile builder")
        .expect("spinner learns");
    let (mut in_batch, mut batches) = (0, 0);
    for t in docs {
        part.observe(&Document::from_text("p", t.as_str()));
        in_batch += t.len();
        if in_batch >= 1 << 20 {
            part = Spinner::profile_builder(&cfg, &cx)
                .expect("profile builder")
                .expect("spinner learns");
            in_batch = 0;
            batches += 1;
        }
    }
    black_box(part);
    batches
}

/// `SPINNER_PASSES=N SPINNER_ONLY=profile`: N passes of the spinner's
/// profile pass over `docs`, observe + merge and observe alone, each
/// pass's MB/s and the best.
fn profile_passes(docs: &[String], passes: usize) {
    let mb = docs.iter().map(String::len).sum::<usize>() as f64 / 1e6;
    let (mut best_merged, mut best_observed) = (0f64, 0f64);
    let mut best_tokenize = 0f64;
    for _ in 0..passes {
        let t = std::time::Instant::now();
        let mut n = 0u64;
        for d in docs {
            lm::tokenize(d, |h| n = n.wrapping_add(h));
        }
        black_box(n);
        best_tokenize = best_tokenize.max(mb / t.elapsed().as_secs_f64());
        let t = std::time::Instant::now();
        black_box(profile_partials(docs));
        let merged = mb / t.elapsed().as_secs_f64();
        let t = std::time::Instant::now();
        black_box(observe_only(docs));
        let observed = mb / t.elapsed().as_secs_f64();
        eprintln!("profile pass {merged:.1} MB/s, observe alone {observed:.1} MB/s");
        best_merged = best_merged.max(merged);
        best_observed = best_observed.max(observed);
    }
    eprintln!(
        "best: profile pass {best_merged:.1} MB/s, observe alone {best_observed:.1} MB/s \
         (tokenizing alone {best_tokenize:.1} MB/s)"
    );
}

fn baseline(docs: &[String]) -> usize {
    let mut n = 0;
    for t in docs {
        let d = Document::from_text("b", t.clone());
        n += memchr::memchr_iter(b' ', d.text.as_bytes()).count();
    }
    n
}

fn bench(c: &mut Criterion) {
    let Some(clean) = pages() else {
        eprintln!("spinner_throughput: corpora not found under {CORPORA}; skipping");
        return;
    };
    let passes = std::env::var("SPINNER_PASSES")
        .ok()
        .and_then(|v| v.parse::<usize>().ok());
    if let (Some(n), Ok("profile")) = (passes, std::env::var("SPINNER_ONLY").as_deref()) {
        profile_passes(&clean, n);
        return;
    }
    if let (Some(n), Ok("tokenize")) = (passes, std::env::var("SPINNER_ONLY").as_deref()) {
        let mut x = 0u64;
        for _ in 0..n {
            for d in &clean {
                lm::tokenize(d, |h| x = x.wrapping_add(h));
            }
        }
        black_box(x);
        return;
    }
    let spun: Vec<String> = (0..200).map(|_| SEED_003.to_string()).collect();
    let stage = SpinnerStage::new(&SpinnerConfig::default(), &BuildContext::default())
        .expect("stage builds");
    let both: Vec<String> = clean.iter().chain(&spun).cloned().collect();
    let profile = profile_partials(&both).finish().expect("profile");
    // `SPINNER_DUMP_PROFILE=FILE`: write the profile learned from clean +
    // spun (to compare builds byte for byte) and exit.
    if let Some(path) = std::env::var_os("SPINNER_DUMP_PROFILE") {
        std::fs::write(&path, &profile).expect("write profile");
        eprintln!("profile ({} bytes) written", profile.len());
        return;
    }
    let with_profile = SpinnerStage::new(
        &SpinnerConfig::default(),
        &BuildContext {
            profile: Some(profile),
            ..Default::default()
        },
    )
    .expect("stage builds");
    // The stage's word-start scan finds every hit of the lexicon
    // automaton (and those a match from inside a word hid from it).
    let (missed, extra) = clean
        .iter()
        .chain(&spun)
        .map(|t| stage.scan_vs_automaton(t))
        .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    assert_eq!(missed, 0, "automaton hits the scan misses");
    eprintln!("scan: {extra} hits more than the automaton's (hidden by matches inside words)");
    for st in [&stage, &with_profile] {
        let (flagged, _) = run(st, &clean);
        assert_eq!(flagged, 0, "clean pages flagged");
        let (flagged, repairs) = run(st, &spun);
        assert_eq!(flagged, spun.len(), "spun documents not flagged");
        assert!(repairs > 100 * spun.len() as u64);
    }

    // `SPINNER_PASSES=N SPINNER_ONLY=clean|spun`: run exactly N passes
    // and exit, so that `perf stat -e cycles:u` counts a fixed amount of
    // work (wall times on a shared machine are too noisy to compare);
    // each pass set prints its MB/s. `SPINNER_PROFILE=1`: the stage with
    // the corpus profile (the default pipeline) instead of without.
    if let Some(passes) = std::env::var("SPINNER_PASSES")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        let only = std::env::var("SPINNER_ONLY").unwrap_or_default();
        // `SPINNER_PROFILE=1`: the stage with the corpus profile.
        let st = if std::env::var_os("SPINNER_PROFILE").is_some() {
            &with_profile
        } else {
            &stage
        };
        for (name, docs) in [("clean", &clean), ("spun", &spun)] {
            if only.is_empty() || only == name {
                let t = std::time::Instant::now();
                for _ in 0..passes {
                    black_box(run(st, docs));
                }
                let mb = (passes * docs.iter().map(String::len).sum::<usize>()) as f64 / 1e6;
                eprintln!("{name}: {:.1} MB/s", mb / t.elapsed().as_secs_f64());
            }
        }
        if only.is_empty() {
            profile_passes(&clean, passes);
        }
        return;
    }

    for (name, docs) in [("clean", &clean), ("spun", &spun)] {
        let bytes: usize = docs.iter().map(String::len).sum();
        let mut g = c.benchmark_group(format!("spinner_{name}"));
        g.throughput(Throughput::Bytes(bytes as u64));
        g.sample_size(10);
        g.bench_function("baseline_copy_and_scan", |b| b.iter(|| baseline(docs)));
        g.bench_function("stage_repair_1_thread", |b| b.iter(|| run(&stage, docs)));
        g.bench_function("stage_repair_profile_1_thread", |b| {
            b.iter(|| run(&with_profile, docs))
        });
        g.finish();
    }
    let bytes: usize = clean.iter().map(String::len).sum();
    let mut g = c.benchmark_group("spinner_profile_pass");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.sample_size(10);
    g.bench_function("baseline_copy_and_scan", |b| b.iter(|| baseline(&clean)));
    g.bench_function("observe_1_thread", |b| b.iter(|| observe_only(&clean)));
    g.bench_function("observe_and_merge_1_thread", |b| {
        b.iter(|| profile_partials(&clean))
    });
    g.bench_function("finish_once", |b| {
        b.iter_batched(
            || profile_partials(&clean),
            |p| p.finish(),
            criterion::BatchSize::PerIteration,
        )
    });
    g.finish();

    let mut keys: Vec<String> = Vec::new();
    for line in BUILTIN_LEXICON.lines().filter(|l| !l.starts_with('#')) {
        if let Some((k, _)) = line.split_once('\t') {
            let k = k.trim().to_ascii_lowercase();
            if k.contains('\'') {
                keys.push(k.replace('\'', "\u{2019}"));
            }
            keys.push(k);
        }
    }
    keys.sort();
    keys.dedup();
    let build = |kind| {
        AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            .kind(Some(kind))
            .build(&keys)
            .expect("automaton")
    };
    let mut g = c.benchmark_group("spinner_startup");
    g.sample_size(10);
    g.bench_function("build_stage", |b| {
        b.iter(|| SpinnerStage::new(&SpinnerConfig::default(), &BuildContext::default()))
    });
    for (name, kind) in [
        ("dfa", AhoCorasickKind::DFA),
        ("contiguous_nfa", AhoCorasickKind::ContiguousNFA),
    ] {
        g.bench_function(format!("build_automaton_{name}"), |b| {
            b.iter(|| build(kind))
        });
    }
    g.finish();
    let mut g = c.benchmark_group("spinner_automaton_scan_clean");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.sample_size(10);
    for (name, kind) in [
        ("dfa", AhoCorasickKind::DFA),
        ("contiguous_nfa", AhoCorasickKind::ContiguousNFA),
    ] {
        let ac = build(kind);
        g.bench_function(name, |b| {
            b.iter(|| clean.iter().map(|t| ac.find_iter(t).count()).sum::<usize>())
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
