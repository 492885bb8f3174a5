//! Shared by the quality and train benches: the dev sets and the scorer.
//!
//! Scorer: word-level bag-of-words precision/recall/F1 of the output against
//! `gold_text`, micro-averaged over the documents of a set (sums of overlaps
//! over sums of counts). Words are maximal runs of Unicode alphanumerics or
//! `_`, lowercased (Python's `\w+`), the tokenisation that reproduces the
//! issue's reference figures.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;

/// The dev sets we may tune on. The held-out sets (cleaneval_final,
/// l3s_gn1, trafilatura_eval) are never read.
pub const DEV_SETS: &[&str] = &[
    "cleaneval_dev",
    "dragnet",
    "readability",
    "article_extraction_benchmark",
    "cleanportaleval",
];

pub struct Record {
    pub id: String,
    pub url: Option<String>,
    pub text: String,
    pub gold: Option<String>,
}

pub fn corpora_dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpora/web"
    ))
}

/// Records of one set, or an error message when the corpus is absent.
pub fn load(set: &str) -> Result<Vec<Record>, String> {
    let path = corpora_dir().join(format!("{set}.jsonl.gz"));
    let file = std::fs::File::open(&path)
        .map_err(|e| format!("{}: {e} (corpora not available here)", path.display()))?;
    let reader = BufReader::new(flate2::read::GzDecoder::new(file));
    let mut out = Vec::new();
    for line in reader.lines() {
        let line = line.map_err(|e| format!("{}: {e}", path.display()))?;
        let v: serde_json::Value =
            serde_json::from_str(&line).map_err(|e| format!("{}: {e}", path.display()))?;
        let s = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
        out.push(Record {
            id: s("id").unwrap_or_default(),
            url: s("url"),
            text: s("text").unwrap_or_default(),
            gold: s("gold_text").filter(|g| !g.is_empty()),
        });
    }
    Ok(out)
}

/// Lowercased `\w+` tokens.
pub fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in text.chars() {
        if c.is_alphanumeric() || c == '_' {
            cur.extend(c.to_lowercase());
        } else if !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

pub fn bag(text: &str) -> HashMap<String, u32> {
    let mut m = HashMap::new();
    for t in tokens(text) {
        *m.entry(t).or_insert(0) += 1;
    }
    m
}

/// Running sums for micro-averaged P/R/F1.
#[derive(Default, Clone, Copy, Debug)]
pub struct Prf {
    pub overlap: u64,
    pub predicted: u64,
    pub gold: u64,
}

impl Prf {
    pub fn add(&mut self, output: &str, gold: &HashMap<String, u32>) {
        let out = bag(output);
        self.add_bags(&out, gold);
    }
    pub fn add_bags(&mut self, out: &HashMap<String, u32>, gold: &HashMap<String, u32>) {
        for (t, &n) in out {
            self.overlap += u64::from(n.min(*gold.get(t).unwrap_or(&0)));
            self.predicted += u64::from(n);
        }
        self.gold += gold.values().map(|&n| u64::from(n)).sum::<u64>();
    }
    pub fn p(&self) -> f64 {
        self.overlap as f64 / self.predicted.max(1) as f64
    }
    pub fn r(&self) -> f64 {
        self.overlap as f64 / self.gold.max(1) as f64
    }
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.p(), self.r());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
}

/// A Document as the pipeline would build it from a record.
pub fn document(set: &str, r: &Record) -> sluicebox_core::Document {
    let mut doc = sluicebox_core::Document::from_text(r.id.clone(), r.text.clone());
    doc.source = set.to_string();
    if let Some(url) = &r.url {
        if let Ok(raw) =
            serde_json::value::RawValue::from_string(serde_json::to_string(url).unwrap_or_default())
        {
            doc.fields.push(("url".to_string(), raw));
        }
    }
    doc
}
