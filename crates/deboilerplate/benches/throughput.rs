//! Single-thread throughput of the cleaning (apply) and profile passes,
//! and of the apply pass in `mode = "c4"`:
//! `cargo bench -p sluicebox-deboilerplate --bench throughput`.
//!
//! Input: the page texts of the readability and cleaneval_dev sets (real
//! extracted pages, ~2.7 MB), or the seed fixtures when the corpora are
//! absent. Baseline in the same run: a memchr newline count over the same
//! bytes (the least any line-based stage must do).

mod common;

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use sluicebox_core::{Cx, Document, ParallelStage, ProfileBuilder};
use sluicebox_deboilerplate::profile::SiteProfileBuilder;
use sluicebox_deboilerplate::{Cleaner, DeboilerplateConfig};

fn docs() -> Vec<Document> {
    let mut out = Vec::new();
    // DEBOILERPLATE_BENCH_TXT=dir: benchmark on the .txt files there instead
    // (for machines without the corpora).
    if let Ok(dir) = std::env::var("DEBOILERPLATE_BENCH_TXT") {
        if let Ok(rd) = std::fs::read_dir(&dir) {
            let mut paths: Vec<_> = rd.flatten().map(|e| e.path()).collect();
            paths.sort();
            for p in paths
                .iter()
                .filter(|p| p.extension().is_some_and(|e| e == "txt"))
            {
                if let Ok(t) = std::fs::read_to_string(p) {
                    out.push(Document::from_text(p.display().to_string(), t));
                }
            }
        }
        return out;
    }
    for set in ["readability", "cleaneval_dev"] {
        match common::load(set) {
            Ok(recs) => out.extend(recs.iter().map(|r| common::document(set, r))),
            Err(e) => eprintln!("{e}"),
        }
    }
    if out.is_empty() {
        eprintln!("corpora absent: benchmarking on the seed fixtures");
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/seeds");
        for name in [
            "000_e7f6ed2af000063c.txt",
            "002_31699701fbb39e56.txt",
            "003_240feac35cea67fe.txt",
        ] {
            if let Ok(t) = std::fs::read_to_string(format!("{dir}/{name}")) {
                out.push(Document::from_text(name, t));
            }
        }
    }
    out
}

fn bench(c: &mut Criterion) {
    let docs = docs();
    let bytes: usize = docs.iter().map(|d| d.text.len()).sum();
    eprintln!("{} documents, {:.1} MB", docs.len(), bytes as f64 / 1e6);
    let mut g = c.benchmark_group("deboilerplate");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.sample_size(10);

    g.bench_function("baseline_memchr_lines", |b| {
        b.iter(|| {
            docs.iter()
                .map(|d| memchr::memchr_iter(b'\n', d.text.as_bytes()).count())
                .sum::<usize>()
        })
    });

    let cleaner = Cleaner::new(DeboilerplateConfig::default()).expect("default config");
    // Profile first so the apply pass also does the learned-line lookups.
    let mut builder = SiteProfileBuilder::new(cleaner.params());
    for d in &docs {
        builder.observe(d);
    }
    let mut cleaner = cleaner;
    cleaner.sketch = Some(builder.into_sketch());

    g.bench_function("profile_observe", |b| {
        b.iter_batched(
            || SiteProfileBuilder::new(cleaner.params()),
            |mut builder| {
                for d in &docs {
                    builder.observe(d);
                }
                builder
            },
            BatchSize::LargeInput,
        )
    });

    // The C4 line filter (`mode = "c4"`), the comparison baseline of the
    // quality bench, on the same documents.
    let c4 = Cleaner::new(DeboilerplateConfig {
        mode: sluicebox_deboilerplate::Mode::C4,
        ..DeboilerplateConfig::default()
    })
    .expect("c4 config");
    for (name, stage) in [("apply_process", &cleaner), ("apply_process_c4", &c4)] {
        g.bench_function(name, |b| {
            b.iter_batched_ref(
                || docs.clone(),
                |docs| {
                    let mut cx = Cx::default();
                    for d in docs.iter_mut() {
                        let _ = black_box(stage.process(d, &mut cx));
                    }
                    cx.counters.get("boilerplate_lines").copied()
                },
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
