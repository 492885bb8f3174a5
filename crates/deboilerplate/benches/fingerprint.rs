//! Behaviour fingerprint and a fixed-work timing loop, for optimising the
//! stage without changing what it does:
//!
//! `cargo bench -p sluicebox-deboilerplate --bench fingerprint > before.txt`
//! prints one line per document of the dev sets (and the unlabelled web
//! sets): verdict, language, and a hash of the output text and of every
//! removed line with its rule (profile pass first, as in the quality
//! bench). Diff two runs to see which documents changed.
//!
//! `DEBOILERPLATE_APPLY=N` times the apply pass alone (best and median of
//! N, CPU time) beside a memchr baseline.
//!
//! `DEBOILERPLATE_LOOPS=N` instead runs the profile and apply passes N times
//! over readability + cleaneval_dev and prints the time of each (a steady
//! workload for `perf stat` / `perf record`).

mod common;

use common::{document, load, DEV_SETS};
use sluicebox_core::{Cx, Document, ParallelStage, ProfileBuilder, Verdict};
use sluicebox_deboilerplate::profile::SiteProfileBuilder;
use sluicebox_deboilerplate::{Cleaner, DeboilerplateConfig};
use std::time::Instant;
use xxhash_rust::xxh3::xxh3_64;

/// Unlabelled web sets (not held out): more pages to compare behaviour on.
const EXTRA_SETS: &[&str] = &[
    "dolma_tests_cc",
    "nltk_webtext",
    "grover_realnews_samples",
    "hf_dummy_samples",
    "ag_news_test",
];

fn docs_of(set: &str) -> Vec<Document> {
    match load(set) {
        Ok(recs) => recs.iter().map(|r| document(set, r)).collect(),
        Err(e) => {
            eprintln!("skipping {set}: {e}");
            Vec::new()
        }
    }
}

fn cleaner_for(config: &DeboilerplateConfig, docs: &[Document]) -> Cleaner {
    let mut cleaner = Cleaner::new(config.clone()).expect("config");
    let mut b = SiteProfileBuilder::new(cleaner.params());
    for d in docs {
        b.observe(d);
    }
    cleaner.sketch = Some(b.into_sketch());
    cleaner
}

/// Nanoseconds this thread has run on a CPU (Linux schedstat), so timings
/// on a machine shared with other builds count only our own CPU time.
fn cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

fn timing(loops: usize) {
    let mut docs = docs_of("readability");
    docs.extend(docs_of("cleaneval_dev"));
    let bytes: usize = docs.iter().map(|d| d.text.len()).sum();
    let config = DeboilerplateConfig::default();
    let t = Instant::now();
    let cleaner = cleaner_for(&config, &docs);
    eprintln!("build + first profile: {:?}", t.elapsed());
    for _ in 0..loops {
        let c0 = cpu_ns();
        let t = Instant::now();
        let mut b = SiteProfileBuilder::new(cleaner.params());
        for d in &docs {
            b.observe(d);
        }
        let prof = t.elapsed();
        let c1 = cpu_ns();
        drop(b);
        let mut work = docs.clone();
        let mut cx = Cx::default();
        let c2 = cpu_ns();
        let t = Instant::now();
        for d in work.iter_mut() {
            let _ = std::hint::black_box(cleaner.process(d, &mut cx));
        }
        let apply = t.elapsed();
        let c3 = cpu_ns();
        let mbs = |ns: u64| bytes as f64 / ns as f64 * 1e3;
        let cpu = |a: Option<u64>, b: Option<u64>| match (a, b) {
            (Some(a), Some(b)) if b > a => mbs(b - a),
            _ => f64::NAN,
        };
        eprintln!(
            "wall: profile {:7.1} MB/s apply {:7.1} MB/s | cpu: profile {:7.1} MB/s apply {:7.1} MB/s",
            mbs(prof.as_nanos() as u64),
            mbs(apply.as_nanos() as u64),
            cpu(c0, c1),
            cpu(c2, c3),
        );
    }
}

/// CPU MB/s of the apply pass under a few configurations, interleaved
/// (`DEBOILERPLATE_PARTS=N`): what each part of the stage costs.
fn parts(loops: usize) {
    let mut docs = docs_of("readability");
    docs.extend(docs_of("cleaneval_dev"));
    let bytes: usize = docs.iter().map(|d| d.text.len()).sum();
    let full = cleaner_for(&DeboilerplateConfig::default(), &docs);
    let nolang = cleaner_for(
        &DeboilerplateConfig {
            detect_lang: false,
            ..DeboilerplateConfig::default()
        },
        &docs,
    );
    let noprofile = Cleaner::new(DeboilerplateConfig::default()).expect("config");
    let variants: [(&str, &Cleaner); 3] = [
        ("full", &full),
        ("no lang detection", &nolang),
        ("no profile", &noprofile),
    ];
    let mut best = [f64::MAX; 3];
    for _ in 0..loops {
        for (v, (_, cleaner)) in variants.iter().enumerate() {
            let mut work = docs.clone();
            let mut cx = Cx::default();
            let c0 = cpu_ns().unwrap_or(0);
            for d in work.iter_mut() {
                let _ = std::hint::black_box(cleaner.process(d, &mut cx));
            }
            let ns = cpu_ns().unwrap_or(0).saturating_sub(c0) as f64;
            best[v] = best[v].min(ns);
        }
    }
    for (v, (name, _)) in variants.iter().enumerate() {
        eprintln!(
            "{name:<20} {:7.1} MB/s (best cpu)",
            bytes as f64 / best[v] * 1e3
        );
    }
}

/// Language detection against OSCAR's labels (`DEBOILERPLATE_LANGCHECK=1`):
/// the stage's detector beside whatlang alone on the same sample.
fn langcheck() {
    let path = common::corpora_dir().join("../multilingual/oscar2019_samples.jsonl.gz");
    let Ok(file) = std::fs::File::open(&path) else {
        eprintln!("{}: not available", path.display());
        return;
    };
    use std::io::BufRead;
    let cleaner = Cleaner::new(DeboilerplateConfig::default()).expect("config");
    let (mut n, mut stage_ok, mut whatlang_ok) = (0, 0, 0);
    let reader = std::io::BufReader::new(flate2::read::GzDecoder::new(file));
    for line in reader.lines().map_while(Result::ok) {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        let (Some(text), Some(want)) = (v["text"].as_str(), v["lang"].as_str()) else {
            continue;
        };
        let doc = Document::from_text("x", text);
        let got = cleaner.language(&doc);
        let wl = sluicebox_deboilerplate::lang::detect(text);
        n += 1;
        stage_ok += (got.as_deref() == Some(want)) as u32;
        whatlang_ok += (wl == Some(want)) as u32;
    }
    eprintln!("{n} documents: stage detector {stage_ok} right, whatlang alone {whatlang_ok} right");
}

/// Apply pass alone, `DEBOILERPLATE_APPLY=N` times over readability +
/// cleaneval_dev (profile built once): best and median MB/s (wall time; the
/// best run is the one least disturbed by other work on the machine),
/// beside a memchr newline count of the same bytes (best of N, ten scans a
/// run) as the baseline.
fn apply_only(loops: usize) {
    let mut docs = docs_of("readability");
    docs.extend(docs_of("cleaneval_dev"));
    let bytes: usize = docs.iter().map(|d| d.text.len()).sum();
    let cleaner = cleaner_for(&DeboilerplateConfig::default(), &docs);
    let mut apply = Vec::new();
    let mut base = f64::MAX;
    for _ in 0..loops.max(1) {
        let t = Instant::now();
        for _ in 0..10 {
            let lines: usize = std::hint::black_box(&docs)
                .iter()
                .map(|d| memchr::memchr_iter(b'\n', d.text.as_bytes()).count())
                .sum();
            std::hint::black_box(lines);
        }
        base = base.min(t.elapsed().as_nanos() as f64 / 10.0);
        let mut work = docs.clone();
        let mut cx = Cx::default();
        let t = Instant::now();
        for d in work.iter_mut() {
            let _ = std::hint::black_box(cleaner.process(d, &mut cx));
        }
        apply.push(t.elapsed().as_nanos() as f64);
    }
    apply.sort_by(f64::total_cmp);
    let mbs = |ns: f64| bytes as f64 / ns * 1e3;
    eprintln!(
        "{} docs, {:.2} MB: apply best {:.1} MB/s, median {:.1} MB/s; memchr baseline best {:.0} MB/s",
        docs.len(),
        bytes as f64 / 1e6,
        mbs(apply[0]),
        mbs(apply[apply.len() / 2]),
        mbs(base)
    );
}

fn main() {
    if let Some(n) = std::env::var("DEBOILERPLATE_APPLY")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        apply_only(n);
        return;
    }
    if std::env::var("DEBOILERPLATE_LANGCHECK").is_ok() {
        langcheck();
        return;
    }
    if let Some(n) = std::env::var("DEBOILERPLATE_PARTS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        parts(n);
        return;
    }
    if let Some(n) = std::env::var("DEBOILERPLATE_LOOPS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        timing(n);
        return;
    }
    let config = DeboilerplateConfig {
        explain: true,
        ..DeboilerplateConfig::default()
    };
    for set in DEV_SETS.iter().chain(EXTRA_SETS) {
        let docs = docs_of(set);
        let cleaner = cleaner_for(&config, &docs);
        for (i, d) in docs.iter().enumerate() {
            let mut d = d.clone();
            let v = cleaner.process(&mut d, &mut Cx::default());
            let verdict = match v {
                Ok(Verdict::Drop { reason, .. }) => reason.to_string(),
                Ok(_) => "ok".into(),
                Err(e) => format!("err {e}"),
            };
            let removed = d
                .attributes
                .get("boilerplate_removed")
                .map(|v| v.to_string())
                .unwrap_or_default();
            let lang = d
                .attributes
                .get("lang")
                .map(|v| v.to_string())
                .unwrap_or_default();
            println!(
                "{set} {i} {verdict} {lang} {:016x} {:016x}",
                xxh3_64(d.text.as_bytes()),
                xxh3_64(removed.as_bytes())
            );
        }
    }
}
