//! Arbitrary bytes as an input file (`read_input`; plain, gzip or zstd by
//! magic bytes), every record parsed. The first byte picks the format
//! (`byte % 6`: jsonl, lines, files, wet, warc, parquet) and the record size
//! limit (`byte / 6 % 4`: 16 B, 256 B, 4 KiB, 1 MiB; small, so oversized
//! records are exercised).
#![no_main]
use libfuzzer_sys::fuzz_target;
use sluicebox_io::{parse_record, read_input, Format, InputFile, RawKind, RecordOptions};
use std::sync::Arc;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, body)) = data.split_first() else {
        return;
    };
    // By name, so the target keeps building while formats are added.
    let names = ["jsonl", "lines", "files", "wet", "warc", "parquet"];
    let Some(format) = Format::parse(names[(sel % 6) as usize]) else {
        return;
    };
    let max_doc_bytes = [16usize, 256, 4096, 1 << 20][(sel / 6 % 4) as usize];
    let path = std::env::temp_dir().join(format!("sluicebox-fuzz-reader-{}", std::process::id()));
    std::fs::write(&path, body).expect("write temp input");
    let input = InputFile {
        path: Some(path.clone()),
        display: Arc::from("fuzz-input"),
        relative: "fuzz-input".to_string(),
        format,
        size: Some(body.len() as u64),
    };
    let opts = RecordOptions::default();
    let mut last_line = 0u64;
    let mut n = 0usize;
    read_input(&input, max_doc_bytes, &mut |raw| {
        n += 1;
        if matches!(format, Format::Jsonl | Format::Lines) {
            assert!(raw.line > last_line, "line numbers must increase");
            last_line = raw.line;
        }
        if let RawKind::Json(b) = &raw.kind {
            assert!(b.len() <= max_doc_bytes, "record over the limit passed on");
        }
        let _ = parse_record(raw, &opts);
        true
    });
    let _ = std::fs::remove_file(&path);
    std::hint::black_box(n);
});
