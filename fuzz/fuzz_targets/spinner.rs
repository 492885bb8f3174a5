//! Arbitrary UTF-8 through the spinner scoring and repair (action = "repair", as in the default config).
#![no_main]
use libfuzzer_sys::fuzz_target;
use sluicebox_core::{Built, Document};
use sluicebox_fuzz::{apply, build, utf8_prefix};
use std::sync::{Mutex, OnceLock};

static STAGE: OnceLock<Mutex<Built>> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let stage = STAGE.get_or_init(|| Mutex::new(build("spinner", "action = \"repair\"")));
    let doc = Document::from_text("fuzz", utf8_prefix(data));
    let mut stage = stage.lock().unwrap_or_else(|e| e.into_inner());
    let _ = apply(&mut stage, doc);
});
