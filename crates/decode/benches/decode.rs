//! Throughput of the decode stage on realistic text, beside a plain scan.
//!
//! `cargo bench -p sluicebox-decode --bench decode` (single thread).
//!
//! Input, built from `tests/fixtures/seeds/` (the seed news pages) and
//! `tests/fixtures/decode/`: four
//! UDHR translations (Russian, Czech, Greek, Japanese), 40 copies each as
//! separate documents (~4 MB). Cases:
//! * `clean_text/*`: already-normalised UTF-8 (the JSONL case): `normalize`
//!   and the whole stage on `Document::from_text`;
//! * `raw_utf8/*`: the original seed bytes (trailing U+00A0 to strip) and
//!   the UDHR texts as raw UTF-8 bytes through `decode_bytes` and the stage;
//! * `raw_legacy/*`: the same texts encoded with encoding_rs into
//!   windows-1252, windows-1251, windows-1250, windows-1253 and Shift_JIS:
//!   detection plus decoding;
//! * `baseline/*`: counting newlines with memchr over the same bytes, the
//!   floor any pass over the text costs.
//!
//! Criterion prints MiB/s; ratios to the baseline are in the crate report.

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use encoding_rs::{Encoding, SHIFT_JIS, WINDOWS_1250, WINDOWS_1251, WINDOWS_1252, WINDOWS_1253};
use sluicebox_core::{Cx, Document, ParallelStage};
use sluicebox_decode::{decode_bytes, normalize, DecodeConfig, DecodeStage};
use std::time::Duration;

const COPIES: usize = 40;

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/decode/",
            $name
        ))
    };
}

macro_rules! seed {
    ($name:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/seeds/",
            $name
        ))
    };
}

/// (text, the legacy encoding used for the raw_legacy case)
fn sources() -> Vec<(&'static str, &'static Encoding)> {
    vec![
        (seed!("000_e7f6ed2af000063c.txt"), WINDOWS_1252),
        (seed!("002_31699701fbb39e56.txt"), WINDOWS_1252),
        (seed!("003_240feac35cea67fe.txt"), WINDOWS_1252),
        (fixture!("udhr_rus.txt"), WINDOWS_1251),
        (fixture!("udhr_ces.txt"), WINDOWS_1250),
        (fixture!("udhr_ell.txt"), WINDOWS_1253),
        (fixture!("udhr_jpn.txt"), SHIFT_JIS),
    ]
}

/// The text without characters `enc` cannot represent (a legacy page would
/// not contain them either; encoding_rs would turn them into `&#NNNN;`).
fn encodable(text: &str, enc: &'static Encoding) -> String {
    let mut buf = [0u8; 4];
    text.chars()
        .filter(|c| !enc.encode(c.encode_utf8(&mut buf)).2)
        .collect()
}

fn total(docs: &[Vec<u8>]) -> u64 {
    docs.iter().map(|d| d.len() as u64).sum()
}

fn newline_scan(docs: &[Vec<u8>]) -> usize {
    docs.iter()
        .map(|d| memchr::memchr_iter(b'\n', d).count())
        .sum()
}

fn bench(c: &mut Criterion) {
    let sources = sources();
    let clean: Vec<String> = (0..COPIES)
        .flat_map(|_| sources.iter().map(|(t, _)| normalize(t).into_owned()))
        .collect();
    let clean_bytes: Vec<Vec<u8>> = clean.iter().map(|s| s.as_bytes().to_vec()).collect();
    let raw_utf8: Vec<Vec<u8>> = (0..COPIES)
        .flat_map(|_| sources.iter().map(|(t, _)| t.as_bytes().to_vec()))
        .collect();
    let legacy: Vec<Vec<u8>> = (0..COPIES)
        .flat_map(|_| {
            sources.iter().map(|(t, enc)| {
                let clean = encodable(&normalize(t), enc);
                let (bytes, _, unmappable) = enc.encode(&clean);
                assert!(!unmappable, "{} cannot encode a fixture", enc.name());
                bytes.into_owned()
            })
        })
        .collect();

    // The results the timings are about must be right.
    for (doc, (text, enc)) in legacy.iter().zip(&sources) {
        let d = decode_bytes(doc, None);
        assert_eq!(
            d.text,
            encodable(&normalize(text), enc),
            "legacy {}",
            enc.name()
        );
    }
    for (doc, want) in raw_utf8.iter().zip(&clean) {
        assert_eq!(&decode_bytes(doc, None).text, want);
    }
    let stage = DecodeStage::new(DecodeConfig::default());

    let mut g = c.benchmark_group("clean_text");
    g.throughput(Throughput::Bytes(total(&clean_bytes)));
    g.bench_function("baseline/memchr_newlines", |b| {
        b.iter(|| newline_scan(black_box(&clean_bytes)))
    });
    g.bench_function("normalize", |b| {
        b.iter(|| {
            clean
                .iter()
                .map(|t| normalize(black_box(t)).len())
                .sum::<usize>()
        })
    });
    g.bench_function("stage_text_input", |b| {
        b.iter_batched(
            || {
                clean
                    .iter()
                    .map(|t| Document::from_text("d", t.clone()))
                    .collect::<Vec<_>>()
            },
            |mut docs| {
                let mut cx = Cx::default();
                for d in &mut docs {
                    let _ = stage.process(d, &mut cx);
                }
                docs
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();

    let mut g = c.benchmark_group("raw_utf8");
    g.throughput(Throughput::Bytes(total(&raw_utf8)));
    g.bench_function("baseline/memchr_newlines", |b| {
        b.iter(|| newline_scan(black_box(&raw_utf8)))
    });
    g.bench_function("decode_bytes", |b| {
        b.iter(|| {
            raw_utf8
                .iter()
                .map(|d| decode_bytes(black_box(d), None).text.len())
                .sum::<usize>()
        })
    });
    g.bench_function("stage_raw_bytes", |b| {
        b.iter_batched(
            || {
                raw_utf8
                    .iter()
                    .map(|d| Document::from_bytes("d", d.clone()))
                    .collect::<Vec<_>>()
            },
            |mut docs| {
                let mut cx = Cx::default();
                for d in &mut docs {
                    let _ = stage.process(d, &mut cx);
                }
                docs
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();

    let mut g = c.benchmark_group("raw_legacy");
    g.throughput(Throughput::Bytes(total(&legacy)));
    g.bench_function("baseline/memchr_newlines", |b| {
        b.iter(|| newline_scan(black_box(&legacy)))
    });
    g.bench_function("decode_bytes_detect", |b| {
        b.iter(|| {
            legacy
                .iter()
                .map(|d| decode_bytes(black_box(d), None).text.len())
                .sum::<usize>()
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
