//! Sentence segmentation throughput on real page text, single thread, with a memchr baseline
//! over the same bytes (`cargo bench -p sluicebox-segment --bench sentences`).
//!
//! Input: the three seed pages plus the `text` of every record in
//! `../shared/corpora/web/{readability,article_extraction_benchmark,trafilatura_eval}.jsonl.gz`
//! (Apache-2.0 / MIT). `benches/sentencex_bench.py` times sentencex on the same input.
//! Also prints how many of those pages the article splitter would split (false-positive check).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use flate2::read::GzDecoder;
use sluicebox_segment::{articles, Segmenter};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::time::Duration;

const SETS: &[&str] = &[
    "readability.jsonl.gz",
    "article_extraction_benchmark.jsonl.gz",
    "trafilatura_eval.jsonl.gz",
];

fn inputs() -> Option<Vec<String>> {
    // `SEGMENT_BENCH_ROOT` (repo root) and `SEGMENT_BENCH_CORPORA` (the `web` folder) let the
    // built bench run on another machine.
    let root = std::env::var_os("SEGMENT_BENCH_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../")));
    let corpora = std::env::var_os("SEGMENT_BENCH_CORPORA")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("../shared/corpora/web"));
    if !corpora.is_dir() {
        eprintln!(
            "segment bench: {} not found; nothing to measure",
            corpora.display()
        );
        return None;
    }
    let mut docs = Vec::new();
    for seed in [
        "000_e7f6ed2af000063c.txt",
        "002_31699701fbb39e56.txt",
        "003_240feac35cea67fe.txt",
    ] {
        let path = root.join("tests/fixtures/seeds").join(seed);
        docs.push(std::fs::read_to_string(path).ok()?);
    }
    for set in SETS {
        let file = std::fs::File::open(corpora.join(set)).ok()?;
        for line in BufReader::new(GzDecoder::new(file)).lines() {
            let line = line.ok()?;
            let record: serde_json::Value = serde_json::from_str(&line).ok()?;
            if let Some(text) = record["text"].as_str() {
                docs.push(text.to_string());
            }
        }
    }
    Some(docs)
}

fn bench(c: &mut Criterion) {
    let Some(docs) = inputs() else { return };
    let bytes: usize = docs.iter().map(String::len).sum();
    let seg = Segmenter::for_lang("en");
    let total: usize = docs.iter().map(|d| seg.split(d).len()).sum();
    assert!(total > bytes / 1000, "too few sentences: {total}");
    let split = docs
        .iter()
        .filter(|d| articles::find(d, 2).is_some())
        .count();
    println!(
        "segment bench input: {} docs, {:.1} MB, {total} sentences; article splitter splits {split} of {} pages",
        docs.len(),
        bytes as f64 / 1e6,
        docs.len()
    );
    let mut group = c.benchmark_group("segment");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(8));
    group.bench_function("memchr_period_baseline", |b| {
        b.iter(|| {
            docs.iter()
                .map(|d| memchr::memchr_iter(b'.', d.as_bytes()).count())
                .sum::<usize>()
        })
    });
    let mut out = Vec::new();
    group.bench_function("sentences_en", |b| {
        b.iter(|| {
            let mut n = 0;
            for d in &docs {
                out.clear();
                seg.split_into(d, &mut out);
                n += out.len();
            }
            assert_eq!(n, total);
            n
        })
    });
    group.bench_function("articles_find", |b| {
        b.iter(|| {
            docs.iter()
                .filter(|d| articles::find(d, 2).is_some())
                .count()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
