//! Common Crawl WET/WARC input and Parquet output through the whole runner:
//! per-source `hosts` selection on WET documents, decode of WARC pages,
//! Parquet docs read back.

use sluicebox_io::{expand_inputs, read_input, RawKind};
use sluicebox_pipeline::config::Config;
use sluicebox_pipeline::plan::{Plan, ProfileSet};
use sluicebox_pipeline::registry::Registry;
use sluicebox_pipeline::runner::{RunOptions, RunSummary};
use std::path::Path;

fn fixture(name: &str) -> String {
    format!(
        "{}/../../tests/fixtures/formats/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn run(config_text: &str, inputs: &[String], out: &Path) -> RunSummary {
    let reg = Registry::builtin();
    let config = Config::parse(config_text, Path::new("."), &reg).unwrap();
    let (inputs, errors) = expand_inputs(inputs, None);
    assert!(errors.is_empty());
    let mut opts = RunOptions::from_config(&config, inputs);
    opts.threads = 2;
    opts.out_dir = Some(out.to_path_buf());
    opts.print_errors = false;
    let plan = Plan::build(&config, &reg, &ProfileSet::new(), false).unwrap();
    sluicebox_pipeline::run(&config, plan, opts)
}

#[test]
fn wet_documents_are_matched_to_sources_by_url_host() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let cfg = r#"
[[stages]]
id = "decode"
type = "decode"

[sources.twain]
hosts = ["sample_english.com"]

[sources.russian]
hosts = ["*.ru"]
"#;
    let s = run(cfg, &[fixture("ccnet_sample.warc.wet")], &out);
    assert!(s.fatal.is_none(), "{:?}", s.fatal);
    assert_eq!(s.stats.totals.read, 3);
    assert_eq!(s.stats.totals.errors, 0);
    let docs = std::fs::read_to_string(out.join("docs.jsonl")).unwrap();
    let docs: Vec<serde_json::Value> = docs
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let got: Vec<(&str, &str)> = docs
        .iter()
        .map(|d| (d["url"].as_str().unwrap(), d["source"].as_str().unwrap()))
        .collect();
    assert_eq!(
        got,
        [
            ("http://sample_english.com", "twain"),
            ("http://sample_chinese.zh", "default"),
            ("http://sample_russian.ru", "russian"),
        ]
    );
    assert_eq!(
        docs[0]["id"],
        "<urn:uuid:cd61b0b3-d9b0-466c-9a5e-99c191f8d2e1>"
    );
    assert!(docs[0]["text"]
        .as_str()
        .unwrap()
        .starts_with("Famous Mark Twain Quotes\n"));
    assert_eq!(docs[0]["date"], "2019-03-18T00:00:00Z");
}

#[test]
fn warc_pages_are_decoded_and_written_as_parquet() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let cfg = r#"
[output]
format = "parquet"

[[stages]]
id = "decode"
type = "decode"
"#;
    let inputs = [
        fixture("dolma_sample-0000.warc.gz"),
        fixture("dolma_sample-0001.warc.gz"),
    ];
    let s = run(cfg, &inputs, &out);
    assert!(s.fatal.is_none(), "{:?}", s.fatal);
    // 22 + 15 HTML responses; requests, metadata, resources are skipped.
    assert_eq!(s.stats.totals.read, 37);
    assert_eq!(s.stats.totals.errors, 0);
    assert_eq!(s.stats.totals.written, 37);
    let parquet = out.join("docs.parquet");
    assert!(!out.join("docs.jsonl").exists());
    let (files, _) = expand_inputs(&[parquet.to_string_lossy().to_string()], None);
    let mut rows = Vec::new();
    read_input(&files[0], 1 << 24, &mut |raw| {
        if let RawKind::Json(b) = raw.kind {
            rows.push(serde_json::from_slice::<serde_json::Value>(&b).unwrap());
        }
        true
    });
    assert_eq!(rows.len(), 37);
    for r in &rows {
        assert!(r["id"].as_str().unwrap().starts_with("<urn:uuid:"));
        assert!(r["url"].as_str().unwrap().starts_with("http"));
        let text = r["text"].as_str().unwrap();
        assert!(!text.is_empty() && !text.contains("<div"), "{text}");
        // decode ran on the page bytes (UTF-8 pages, declared or not).
        let attrs: serde_json::Value =
            serde_json::from_str(r["attributes"].as_str().unwrap()).unwrap();
        assert_eq!(attrs["encoding"], "utf-8", "{}", r["url"]);
    }
}
