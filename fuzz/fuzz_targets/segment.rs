//! Arbitrary UTF-8 through the segment stage (article splitting and
//! sentence spans, both layouts), checking every span it records.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sluicebox_core::{Built, Document};
use sluicebox_fuzz::{apply, build, check_sentences, utf8_prefix};
use std::sync::{Mutex, OnceLock};

static SPANS: OnceLock<Mutex<Built>> = OnceLock::new();
static PER_LINE: OnceLock<Mutex<Built>> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let text = utf8_prefix(data);
    let spans = SPANS.get_or_init(|| Mutex::new(build("segment", "sentences = true")));
    let per_line =
        PER_LINE.get_or_init(|| Mutex::new(build("segment", "sentence_per_line = true")));
    for stage in [spans, per_line] {
        let mut stage = stage.lock().unwrap_or_else(|e| e.into_inner());
        for out in apply(&mut stage, Document::from_text("fuzz", text)) {
            check_sentences(&out);
        }
    }
});
