//! Arbitrary bytes through the decode stage (charset detection, NFC, line
//! ends, controls). The first byte picks a declared charset hint.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sluicebox_core::{Built, Document};
use sluicebox_fuzz::{apply, build};
use std::sync::{Mutex, OnceLock};

const HINTS: [&str; 8] = [
    "utf-8",
    "windows-1252",
    "shift_jis",
    "utf-16le",
    "iso-2022-jp",
    "gb18030",
    "x-user-defined",
    "bogus-charset",
];

static STAGE: OnceLock<Mutex<Built>> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let stage = STAGE.get_or_init(|| Mutex::new(build("decode", "")));
    let mut doc = Document::from_bytes("fuzz", data.to_vec());
    if let Some(&b) = data.first() {
        if b < 16 {
            doc.charset_hint = Some(HINTS[(b % 8) as usize].to_string());
        }
    }
    let mut stage = stage.lock().unwrap_or_else(|e| e.into_inner());
    for out in apply(&mut stage, doc) {
        assert!(out.raw.is_none(), "decode left raw bytes");
        assert!(!out.text.contains('\r'), "CR left after decode");
    }
});
