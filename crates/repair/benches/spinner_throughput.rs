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
//! Each benchmark asserts its result (clean: nothing flagged; spun: every
//! document repaired).
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sluicebox_core::{BuildContext, Cx, Document, ParallelStage};
use sluicebox_repair::spinner::{SpinnerConfig, SpinnerStage};
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
    let (flagged, _) = run(&stage, &clean);
    assert_eq!(flagged, 0, "clean pages flagged");
    let (flagged, repairs) = run(&stage, &spun);
    assert_eq!(flagged, spun.len(), "spun documents not flagged");
    assert!(repairs > 100 * spun.len() as u64);

    // `SPINNER_PASSES=N SPINNER_ONLY=clean|spun`: run exactly N passes
    // and exit, so that `perf stat -e cycles:u` counts a fixed amount of
    // work (wall times on a shared machine are too noisy to compare).
    if let Some(passes) = std::env::var("SPINNER_PASSES")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        let only = std::env::var("SPINNER_ONLY").unwrap_or_default();
        for (name, docs) in [("clean", &clean), ("spun", &spun)] {
            if only.is_empty() || only == name {
                for _ in 0..passes {
                    black_box(run(&stage, docs));
                }
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
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
