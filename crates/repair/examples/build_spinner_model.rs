//! Builds `data/spinner/default_model.bin`, the compact default language
//! model of the `spinner` stage.
//!
//! Sources: only permissively licensed English text from
//! `../shared/corpora` (licences per its `SOURCES.md`), the `text` field of:
//! * `web/grover_realnews_samples.jsonl.gz` (Apache-2.0; 13 news articles),
//! * `web/dolma_tests_cc.jsonl.gz` (Apache-2.0; Common Crawl documents),
//! * `web/hf_dummy_samples.jsonl.gz` (Apache-2.0 repository; C4 en,
//!   OpenWebText, The Pile and CC-News documents; the Afrikaans mC4 ones
//!   fail the English test),
//! * `multilingual/udhr2_unicode.jsonl.gz`, records with `lang` `eng*`
//!   (public domain),
//! * `multilingual/oscar2019_samples.jsonl.gz`, records with `lang` `en`
//!   (CC0 packaging).
//!
//! English documents only (share of common English function words).
//! Deliberately NOT used: the project's held-out judging sets
//! (trafilatura_eval, cleaneval_*, l3s_gn1), the spinner's own evaluation
//! material (article_extraction_benchmark, readability), and anything
//! research-only, AGPL or unlicensed (ag_news_test, dragnet, nltk_webtext).
//!
//! Kept: every unigram; every 2- and 3-gram that contains a content word of
//! the lexicon (a token of a spun key or of an original, minus function
//! words), and the 2-gram history of each kept 3-gram.
//!
//! Run: `cargo run --release -p sluicebox-repair --example build_spinner_model`
use sluicebox_repair::spinner::{lm, BUILTIN_LEXICON};
use std::collections::{HashMap, HashSet};
use std::io::BufRead;

const FUNCTION_WORDS: &[&str] = &[
    "the", "a", "an", "of", "to", "in", "for", "and", "or", "with", "on", "at", "by", "is", "it",
    "that", "this", "as", "be", "was", "are", "from", "there", "have", "has", "had", "its", "no",
    "all", "any", "so", "up", "out", "'", ",", ".",
];

/// The corpora read (path under `../shared/corpora` without `.jsonl.gz`,
/// and the prefix the record's `lang` must have, if the set is multilingual).
const SOURCES: [(&str, Option<&str>); 5] = [
    ("web/grover_realnews_samples", None),
    ("web/dolma_tests_cc", None),
    ("web/hf_dummy_samples", None),
    ("multilingual/udhr2_unicode", Some("eng")),
    ("multilingual/oscar2019_samples", Some("en")),
];

/// Does the record's `lang` field fit the set's language filter?
fn lang_ok(v: &serde_json::Value, want: Option<&str>) -> bool {
    match want {
        None => true,
        Some(p) => v
            .get("lang")
            .and_then(|l| l.as_str())
            .is_some_and(|l| l.starts_with(p)),
    }
}

fn main() {
    let corpora = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/corpora");
    let files = SOURCES;
    let fw: HashSet<u64> = FUNCTION_WORDS
        .iter()
        .map(|w| lm::token_hash(w.as_bytes()))
        .collect();
    let mut triggers: HashSet<u64> = HashSet::new();
    for line in BUILTIN_LEXICON.lines().filter(|l| !l.starts_with('#')) {
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() < 2 {
            continue;
        }
        for phrase in std::iter::once(cols[0]).chain(cols[1].split('|')) {
            for t in lm::tokens(phrase) {
                if !fw.contains(&t) {
                    triggers.insert(t);
                }
            }
        }
    }
    let mut counts: HashMap<u64, u32> = HashMap::new();
    let mut total = 0u64;
    let mut docs = 0;
    for (f, lang) in files {
        let path = format!("{corpora}/{f}.jsonl.gz");
        let Ok(file) = std::fs::File::open(&path) else {
            eprintln!("{path}: not found; is ../shared/corpora present?");
            std::process::exit(2);
        };
        let reader = std::io::BufReader::new(flate2::read::GzDecoder::new(file));
        for line in reader.lines() {
            let Ok(line) = line else { break };
            let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            let Some(text) = v.get("text").and_then(|t| t.as_str()) else {
                continue;
            };
            if !lang_ok(&v, lang) {
                continue;
            }
            if !is_english(text) {
                continue;
            }
            docs += 1;
            let toks = lm::tokens(text);
            total += toks.len() as u64;
            for i in 0..toks.len() {
                for n in 1..=3 {
                    if i + n > toks.len() {
                        continue;
                    }
                    let g = &toks[i..i + n];
                    if n == 1 || g.iter().any(|t| triggers.contains(t)) {
                        *counts.entry(lm::ngram_key(g)).or_insert(0) += 1;
                        if n == 3 {
                            *counts.entry(lm::ngram_key(&g[..2])).or_insert(0) += 0;
                        }
                    }
                }
            }
        }
    }
    // Histories were inserted with 0; give them their true count in a second
    // pass would need the text again, so count every bigram that is a history.
    let histories: HashSet<u64> = counts
        .iter()
        .filter(|(_, c)| **c == 0)
        .map(|(k, _)| *k)
        .collect();
    for (f, lang) in files {
        let path = format!("{corpora}/{f}.jsonl.gz");
        let Ok(file) = std::fs::File::open(&path) else {
            continue;
        };
        let reader = std::io::BufReader::new(flate2::read::GzDecoder::new(file));
        for line in reader.lines() {
            let Ok(line) = line else { break };
            let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            let Some(text) = v.get("text").and_then(|t| t.as_str()) else {
                continue;
            };
            if !lang_ok(&v, lang) {
                continue;
            }
            if !is_english(text) {
                continue;
            }
            let toks = lm::tokens(text);
            for w in toks.windows(2) {
                let k = lm::ngram_key(w);
                if histories.contains(&k) {
                    *counts.entry(k).or_insert(0) += 1;
                }
            }
        }
    }
    let mut model = lm::SparseCounts::default();
    model.tokens = total;
    for (k, c) in counts {
        if c >= 1 {
            model.insert(k, c);
        }
    }
    let bytes = model.to_bytes();
    let out = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/spinner/default_model.bin"
    );
    if let Err(e) = std::fs::write(out, &bytes) {
        eprintln!("{out}: {e}");
        std::process::exit(2);
    }
    println!(
        "{docs} English documents, {total} tokens, {} n-grams kept, {} bytes -> {out}",
        model.len(),
        bytes.len()
    );
}

/// English if common function words make up a news-like share of the words.
fn is_english(text: &str) -> bool {
    let mut n = 0usize;
    let mut f = 0usize;
    for w in text.split_whitespace().take(3000) {
        n += 1;
        let w = w
            .trim_matches(|c: char| !c.is_alphabetic())
            .to_ascii_lowercase();
        if matches!(
            w.as_str(),
            "the" | "and" | "of" | "to" | "is" | "in" | "that"
        ) {
            f += 1;
        }
    }
    n >= 50 && f * 100 >= n * 8
}
