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
//! profile pass on the clean pages: judging, tokenizing and counting each
//! document, in partials of ~1 MiB merged in order as the runner does (the
//! one-off serialisation of the table at the end is timed apart,
//! `finish_once`). `spinner_startup` times building the stage and, for the
//! choice of automaton, building and running the lexicon's Aho-Corasick
//! automaton as a DFA and as a contiguous NFA.
//!
//! Each benchmark asserts its result (clean: nothing flagged; spun: every
//! document repaired).
use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sluicebox_core::{BuildContext, Cx, Document, ParallelStage, ProfileBuilder, StagePlugin};
use sluicebox_repair::spinner::{Spinner, SpinnerConfig, SpinnerStage, BUILTIN_LEXICON};
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
    let spun: Vec<String> = (0..200).map(|_| SEED_003.to_string()).collect();
    let stage = SpinnerStage::new(&SpinnerConfig::default(), &BuildContext::default())
        .expect("stage builds");
    let both: Vec<String> = clean.iter().chain(&spun).cloned().collect();
    let profile = profile_partials(&both).finish().expect("profile");
    let with_profile = SpinnerStage::new(
        &SpinnerConfig::default(),
        &BuildContext {
            profile: Some(profile),
            ..Default::default()
        },
    )
    .expect("stage builds");
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
        if only.is_empty() || only == "profile" {
            for _ in 0..passes {
                let t = std::time::Instant::now();
                black_box(profile_partials(&clean));
                eprintln!("profile pass {:?}", t.elapsed());
            }
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
