//! Up to 16 documents (arbitrary UTF-8 split at NUL) through a fresh dedupe
//! stage (exact, near-duplicate and paragraph dedupe; cross-document
//! paragraphs when the first byte is odd).
#![no_main]
use libfuzzer_sys::fuzz_target;
use sluicebox_core::Document;
use sluicebox_fuzz::{build, run_chain, utf8_prefix};

fuzz_target!(|data: &[u8]| {
    let text = utf8_prefix(data);
    let table = if data.first().is_some_and(|b| b % 2 == 1) {
        "cross_doc_paragraphs = true\ncross_doc_min_chars = 10\nmin_paragraph_chars = 5"
    } else {
        ""
    };
    let mut stages = vec![build("dedupe", table)];
    let docs: Vec<Document> = text
        .split('\0')
        .take(16)
        .enumerate()
        .map(|(i, t)| Document::from_text(format!("d{i}"), t))
        .collect();
    let _ = run_chain(&mut stages, docs);
});
