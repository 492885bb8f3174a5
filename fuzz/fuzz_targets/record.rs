//! Arbitrary bytes as one JSONL record (`parse_record`), and the document
//! it gives written back as JSON (`document_json`), which must parse
//! (finding `record-number-out-of-range-passthrough`: a passthrough number
//! such as `5.5e5005000002` is valid JSON that serde_json cannot hold; it is
//! passed through as it came, by design).
#![no_main]
use libfuzzer_sys::fuzz_target;
use sluicebox_io::{document_json, parse_record, RawKind, RawRecord, RecordOptions};
use std::sync::Arc;

fuzz_target!(|data: &[u8]| {
    let mut opts = RecordOptions::default();
    if data.first().is_some_and(|b| b % 2 == 1) {
        opts.charset_field = Some("charset".into());
        opts.id_field = "url".into();
    }
    let raw = RawRecord {
        file: Arc::from("fuzz.jsonl"),
        line: 1,
        kind: RawKind::Json(data.to_vec()),
    };
    if let Ok(doc) = parse_record(raw, &opts) {
        let mut out = Vec::new();
        document_json(&doc, &[("reason", "fuzz")], true, &mut out);
        // Passthrough fields are copied untouched, so a number beyond f64
        // (valid JSON grammar, out of serde_json's range) stays one; only
        // then may the output fail where the input failed the same way.
        // (Surrogate escapes, which parse_record repairs, are neutralised
        // first so they do not mask the number error.)
        let input_out_of_range = serde_json::from_slice::<serde_json::Value>(&no_surrogates(data))
            .is_err_and(|e| e.to_string().contains("number out of range"));
        if let Err(e) = serde_json::from_slice::<serde_json::Value>(&out) {
            if input_out_of_range && e.to_string().contains("number out of range") {
                return;
            }
            panic!(
                "document_json wrote invalid JSON ({e}): {}",
                String::from_utf8_lossy(&out)
            );
        }
    }
});

/// `data` with every `\uD800`-`\uDFFF` escape replaced by `\uFFFD`.
fn no_surrogates(data: &[u8]) -> Vec<u8> {
    let mut out = data.to_vec();
    let mut i = 0;
    while i + 6 <= out.len() {
        let is_surrogate = out[i] == b'\\'
            && out[i + 1] == b'u'
            && out[i + 2].eq_ignore_ascii_case(&b'd')
            && matches!(out[i + 3].to_ascii_lowercase(), b'8'..=b'9' | b'a'..=b'f')
            && out[i + 4].is_ascii_hexdigit()
            && out[i + 5].is_ascii_hexdigit();
        if is_surrogate {
            out[i + 2..i + 6].copy_from_slice(b"fffd");
            i += 6;
        } else {
            i += if out[i] == b'\\' { 2 } else { 1 };
        }
    }
    out
}
