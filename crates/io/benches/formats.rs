//! Input/output format throughput, single thread, printed as a report.
//!
//! `cargo bench -p sluicebox-io --bench formats` (add `-- --quick` for one
//! pass over a smaller input).
//!
//! 1. WET reading: a WET stream synthesised from the web corpus texts
//!    (Common Crawl-style headers, one `conversion` record per text,
//!    repeated to ~256 MB), read from memory, uncompressed (gzip excluded),
//!    through the WARC record reader, then also through `parse_record`
//!    (UTF-8 check, document building). Baseline in the same run: a memchr
//!    line scan of the same bytes.
//! 2. HTML to text (WARC `response` payloads): the HTML pages of the web
//!    corpus records that hold HTML are not available here, so the WARC
//!    section times the dolma fixture WARC files (gzip included).
//! 3. Parquet round trip of the web corpus (read into memory first) beside
//!    JSONL (plain and zstd): write all records, then read and parse them
//!    all back; MB/s of serialised records, and file sizes. Baseline: memcpy.

use sluicebox_core::Document;
use sluicebox_io::{
    document_json, parse_record, read_input, Format, InputFile, JsonlWriter, OutputCompression,
    RawKind, RawRecord, RecordOptions,
};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

fn corpora() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpora"
    ))
}

/// Every record of the web corpus as a document (text and passthrough).
fn load_web() -> Vec<Document> {
    let dir = corpora().join("web");
    let mut names: Vec<_> = match std::fs::read_dir(&dir) {
        Ok(d) => d.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        Err(_) => return Vec::new(),
    };
    names.sort();
    let mut docs = Vec::new();
    for p in names {
        if !p.to_string_lossy().ends_with(".jsonl.gz") {
            continue;
        }
        let Ok(f) = std::fs::File::open(&p) else {
            continue;
        };
        let r = BufReader::new(flate2::read::MultiGzDecoder::new(f));
        for (i, line) in r.lines().map_while(Result::ok).enumerate() {
            let raw = RawRecord {
                file: Arc::from(p.to_string_lossy().as_ref()),
                line: i as u64 + 1,
                kind: RawKind::Json(line.into_bytes()),
            };
            if let Ok(d) = parse_record(raw, &RecordOptions::default()) {
                if !d.text.is_empty() {
                    docs.push(d);
                }
            }
        }
    }
    docs
}

fn wet_stream(docs: &[Document], target: usize) -> (Vec<u8>, usize) {
    let mut out = Vec::with_capacity(target + (1 << 20));
    out.extend_from_slice(b"WARC/1.0\r\nWARC-Type: warcinfo\r\nWARC-Date: 2024-03-01T00:00:00Z\r\nWARC-Record-ID: <urn:uuid:00000000-0000-0000-0000-000000000000>\r\nContent-Type: application/warc-fields\r\nContent-Length: 23\r\n\r\nsoftware: sluicebox-bench\r\n\r\n\r\n");
    let mut n = 0usize;
    'outer: loop {
        for d in docs {
            if out.len() >= target {
                break 'outer;
            }
            let url = d
                .url()
                .unwrap_or_else(|| format!("https://example.org/{n}"));
            let header = format!(
                "WARC/1.0\r\nWARC-Type: conversion\r\nWARC-Target-URI: {url}\r\nWARC-Date: 2024-03-01T00:00:00Z\r\nWARC-Record-ID: <urn:uuid:00000000-0000-0000-0000-{n:012}>\r\nWARC-Refers-To: <urn:uuid:10000000-0000-0000-0000-{n:012}>\r\nWARC-Block-Digest: sha1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\r\nWARC-Identified-Content-Language: eng\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n",
                d.text.len()
            );
            out.extend_from_slice(header.as_bytes());
            out.extend_from_slice(d.text.as_bytes());
            out.extend_from_slice(b"\r\n\r\n");
            n += 1;
        }
    }
    (out, n)
}

fn mbps(bytes: usize, secs: f64) -> f64 {
    bytes as f64 / 1e6 / secs.max(1e-9)
}

/// Best of `runs` timings of `f`.
fn best<T>(runs: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut best = f64::MAX;
    let mut last = None;
    for _ in 0..runs {
        let t = Instant::now();
        let v = f();
        best = best.min(t.elapsed().as_secs_f64());
        last = Some(v);
    }
    (best, last.unwrap_or_else(f))
}

fn input(path: &Path, format: Format) -> InputFile {
    InputFile {
        path: Some(path.to_path_buf()),
        display: Arc::from(path.to_string_lossy().as_ref()),
        relative: "x".into(),
        format,
        size: std::fs::metadata(path).ok().map(|m| m.len()),
    }
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let runs = if quick { 1 } else { 3 };
    let docs = load_web();
    if docs.is_empty() {
        println!(
            "formats bench: no web corpus at {} (shared/corpora/web/*.jsonl.gz); nothing to measure",
            corpora().display()
        );
        return;
    }
    let text_bytes: usize = docs.iter().map(|d| d.text.len()).sum();
    println!(
        "web corpus: {} documents, {:.1} MB of text (single thread throughout)",
        docs.len(),
        text_bytes as f64 / 1e6
    );

    // --- 1. WET reading -------------------------------------------------
    let target = if quick { 64 << 20 } else { 256 << 20 };
    let (wet, records) = wet_stream(&docs, target);
    println!(
        "\nWET: {:.1} MB uncompressed, {records} conversion records",
        wet.len() as f64 / 1e6
    );
    let (t_scan, lines) = best(runs, || memchr::memchr_iter(b'\n', &wet).count());
    let file: Arc<str> = Arc::from("bench.warc.wet");
    let (t_read, n) = best(runs, || {
        let mut n = 0usize;
        sluicebox_io::warc::read_warc(&wet[..], &file, 64 << 20, &mut |r| {
            n += r.byte_len();
            std::hint::black_box(&r);
            true
        });
        n
    });
    let (t_parse, docs_out) = best(runs, || {
        let mut n = 0usize;
        let opts = RecordOptions::default();
        sluicebox_io::warc::read_warc(&wet[..], &file, 64 << 20, &mut |r| {
            if let Ok(d) = parse_record(r, &opts) {
                n += 1;
                std::hint::black_box(&d);
            }
            true
        });
        n
    });
    assert_eq!(docs_out, records);
    let _ = n;
    println!(
        "  baseline memchr line scan ({lines} lines) {:>8.0} MB/s",
        mbps(wet.len(), t_scan)
    );
    println!(
        "  WET record reader (read_warc)         {:>8.0} MB/s  ({:.2}x baseline time)",
        mbps(wet.len(), t_read),
        t_read / t_scan
    );
    println!(
        "  reader + parse_record (documents)     {:>8.0} MB/s  ({:.2}x baseline time)",
        mbps(wet.len(), t_parse),
        t_parse / t_scan
    );
    drop(wet);

    // --- 2. WARC (gzip, HTML to text) on the dolma fixtures ---------------
    let fixtures = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/formats"
    ));
    let warcs: Vec<PathBuf> = ["dolma_sample-0000.warc.gz", "dolma_sample-0001.warc.gz"]
        .iter()
        .map(|n| fixtures.join(n))
        .filter(|p| p.exists())
        .collect();
    if !warcs.is_empty() {
        let (t, (pages, html_bytes)) = best(runs, || {
            let mut pages = 0usize;
            let mut bytes = 0usize;
            let opts = RecordOptions::default();
            for p in &warcs {
                read_input(&input(p, Format::Warc), 64 << 20, &mut |r| {
                    bytes += r.byte_len();
                    if parse_record(r, &opts).is_ok() {
                        pages += 1;
                    }
                    true
                });
            }
            (pages, bytes)
        });
        println!(
            "\nWARC (dolma fixtures, gzip + HTTP + html2text): {pages} pages, {:.1} MB of HTML, {:.1} MB/s of HTML",
            html_bytes as f64 / 1e6,
            mbps(html_bytes, t)
        );
    }

    // --- 3. Parquet round trip beside JSONL -------------------------------
    let records: Vec<Vec<u8>> = docs
        .iter()
        .map(|d| {
            let mut v = Vec::with_capacity(d.text.len() + 256);
            document_json(d, &[], true, &mut v);
            v
        })
        .collect();
    let rec_bytes: usize = records.iter().map(|r| r.len() + 1).sum();
    println!(
        "\nround trip of the web corpus: {} records, {:.1} MB as JSONL",
        records.len(),
        rec_bytes as f64 / 1e6
    );
    let (t_copy, _) = best(runs, || {
        let mut v = Vec::with_capacity(rec_bytes);
        for r in &records {
            v.extend_from_slice(r);
            v.push(b'\n');
        }
        std::hint::black_box(v.len())
    });
    println!(
        "  baseline memcpy                       {:>8.0} MB/s",
        mbps(rec_bytes, t_copy)
    );
    let tmp = match tempfile::tempdir() {
        Ok(t) => t,
        Err(e) => {
            println!("cannot create a temporary directory: {e}");
            return;
        }
    };
    for (name, kind) in [
        ("JSONL", Some(OutputCompression::None)),
        ("JSONL+zstd", Some(OutputCompression::Zstd)),
        ("Parquet", None),
    ] {
        let dir = tmp.path().join(name);
        let _ = std::fs::create_dir_all(&dir);
        let (t_w, files) = best(runs, || {
            let res = match kind {
                Some(c) => {
                    let mut w = JsonlWriter::new(&dir, "docs", c, 0);
                    for r in &records {
                        let _ = w.write_record(r);
                    }
                    w.finish()
                }
                None => {
                    let mut w = sluicebox_io::parquet::ParquetWriter::new(&dir, "docs", 0);
                    for r in &records {
                        let _ = w.write_record(r);
                    }
                    w.finish()
                }
            };
            res.unwrap_or_default()
        });
        let Some(path) = files.first() else {
            println!("  {name}: write failed");
            continue;
        };
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        let format = if kind.is_some() {
            Format::Jsonl
        } else {
            Format::Parquet
        };
        let (t_r, n) = best(runs, || {
            let opts = RecordOptions::default();
            let mut n = 0usize;
            read_input(&input(path, format), 64 << 20, &mut |r| {
                if let Ok(d) = parse_record(r, &opts) {
                    n += 1;
                    std::hint::black_box(&d);
                }
                true
            });
            n
        });
        println!(
            "  {name:<11} write {:>6.0} MB/s, read+parse {:>6.0} MB/s, file {:>6.1} MB, {n} docs back",
            mbps(rec_bytes, t_w),
            mbps(rec_bytes, t_r),
            size as f64 / 1e6
        );
    }
}
