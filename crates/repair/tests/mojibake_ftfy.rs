//! ftfy's own test cases run through the `mojibake` stage (see
//! tests/fixtures/ftfy/SOURCES.md): at least 98 % of the `expect: pass`
//! cases must give ftfy's `fixed-encoding`, and every case of
//! `negative.json` must come back unchanged.

use serde_json::Value;
use sluicebox_repair::mojibake::{MojibakeConfig, MojibakeStage};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/ftfy/");

fn load(name: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(format!("{DIR}{name}")).unwrap();
    serde_json::from_str::<Vec<Value>>(&text).unwrap()
}

/// ftfy's `fix_encoding` does no HTML-entity decoding; compare like with like.
fn stage() -> MojibakeStage {
    MojibakeStage::new(MojibakeConfig {
        html_entities: false,
        damaged_entities: false,
        ..Default::default()
    })
}

fn expected(case: &Value) -> &str {
    case.get("fixed-encoding")
        .or_else(|| case.get("fixed"))
        .and_then(Value::as_str)
        .unwrap()
}

#[test]
fn ftfy_cases() {
    let stage = stage();
    let (mut pass_total, mut pass_ok) = (0, 0);
    let mut failures = Vec::new();
    let mut negative_failures = Vec::new();
    for file in [
        "negative.json",
        "synthetic.json",
        "in-the-wild.json",
        "language-names.json",
        "known-failures.json",
    ] {
        for case in load(file) {
            let original = case["original"].as_str().unwrap();
            let want = expected(&case);
            let got = stage
                .repair(original)
                .0
                .unwrap_or_else(|| original.to_string());
            let ok = got == want;
            let is_pass = case["expect"] == "pass";
            // Negative cases must come back as written, except for the
            // processing ftfy always does (one case expects its C1 `\x85`
            // read as windows-1252 `…`): i.e. exactly their expected text.
            if file == "negative.json" && got != want {
                negative_failures.push(format!("{original:?}\n    got  {got:?}"));
            }
            if is_pass {
                pass_total += 1;
                if ok {
                    pass_ok += 1;
                } else {
                    failures.push(format!(
                        "[{file}] {original:?}\n    want {want:?}\n    got  {got:?}"
                    ));
                }
            } else if ok {
                println!("known failure now passes: {original:?}");
            }
        }
    }
    for f in &failures {
        println!("FAIL {f}");
    }
    let rate = pass_ok as f64 / pass_total as f64;
    println!(
        "ftfy cases: {pass_ok}/{pass_total} pass ({:.1} %), {} negatives changed",
        rate * 100.0,
        negative_failures.len()
    );
    assert!(
        negative_failures.is_empty(),
        "negative cases changed:\n{}",
        negative_failures.join("\n")
    );
    assert!(rate >= 0.98, "{pass_ok}/{pass_total} below 98 %");
}
