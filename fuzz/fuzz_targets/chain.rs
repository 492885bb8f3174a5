//! Arbitrary bytes (up to 8 documents split at NUL) through the whole
//! default chain: decode, mojibake, deboilerplate, spinner (repair), dedupe,
//! segment (articles). Stateless stages are built once; dedupe per input so
//! a crash reproduces from its input alone.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sluicebox_core::{Built, Document};
use sluicebox_fuzz::{build, run_chain};
use std::sync::{Mutex, OnceLock};

static FRONT: OnceLock<Mutex<Vec<Built>>> = OnceLock::new();
static BACK: OnceLock<Mutex<Vec<Built>>> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let front = FRONT.get_or_init(|| {
        Mutex::new(vec![
            build("decode", ""),
            build("mojibake", ""),
            build("deboilerplate", ""),
            build("spinner", "action = \"repair\""),
        ])
    });
    let back = BACK.get_or_init(|| Mutex::new(vec![build("segment", "sentences = true")]));
    let docs: Vec<Document> = data
        .split(|&b| b == 0)
        .take(8)
        .enumerate()
        .map(|(i, b)| Document::from_bytes(format!("d{i}"), b.to_vec()))
        .collect();
    let docs = {
        let mut front = front.lock().unwrap_or_else(|e| e.into_inner());
        run_chain(&mut front, docs)
    };
    let mut dedupe = vec![build("dedupe", "")];
    let docs = run_chain(&mut dedupe, docs);
    let mut back = back.lock().unwrap_or_else(|e| e.into_inner());
    for d in run_chain(&mut back, docs) {
        sluicebox_fuzz::check_sentences(&d);
    }
});
