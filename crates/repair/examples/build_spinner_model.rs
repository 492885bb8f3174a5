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
//!   (CC0 packaging);
//!
//! and of
//! * `web_raw/dolma_sample-0000.warc.gz`, `dolma_sample-0001.warc.gz`
//!   (Apache-2.0; the HTML responses: 32 English personal/academic pages,
//!   reduced to text here by dropping scripts, styles and tags),
//! * `sbd/pysbd_tests_all_languages.json`, the `text` of the `lang` `en`
//!   records (MIT; pySBD's English sentence-segmentation test texts).
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
use std::io::{BufRead, Read};

/// The stage's own list, so that the default model and the corpus profile
/// agree on which lexicon words are content words ("triggers").
const FUNCTION_WORDS: &[&str] = lm::FUNCTION_WORDS;

/// The JSONL corpora read (path under `../shared/corpora` without
/// `.jsonl.gz`, and the prefix the record's `lang` must have, if the set is
/// multilingual).
const JSONL_SOURCES: [(&str, Option<&str>); 5] = [
    ("web/grover_realnews_samples", None),
    ("web/dolma_tests_cc", None),
    ("web/hf_dummy_samples", None),
    ("multilingual/udhr2_unicode", Some("eng")),
    ("multilingual/oscar2019_samples", Some("en")),
];
/// WARC files whose HTML responses are read.
const WARC_SOURCES: [&str; 2] = [
    "web_raw/dolma_sample-0000.warc.gz",
    "web_raw/dolma_sample-0001.warc.gz",
];
/// pySBD's test texts (JSON list; English records only).
const PYSBD: &str = "sbd/pysbd_tests_all_languages.json";

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

fn fail(path: &str, e: impl std::fmt::Display) -> ! {
    eprintln!("{path}: {e} (is ../shared/corpora present?)");
    std::process::exit(2);
}

/// Every English training document, with the name of its set.
fn load(corpora: &str) -> Vec<(&'static str, String)> {
    let mut docs = Vec::new();
    for (f, lang) in JSONL_SOURCES {
        let path = format!("{corpora}/{f}.jsonl.gz");
        let file = std::fs::File::open(&path).unwrap_or_else(|e| fail(&path, e));
        let reader = std::io::BufReader::new(flate2::read::GzDecoder::new(file));
        for line in reader.lines() {
            let Ok(line) = line else { break };
            let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            let Some(text) = v.get("text").and_then(|t| t.as_str()) else {
                continue;
            };
            if lang_ok(&v, lang) && is_english(text) {
                docs.push((f, text.to_string()));
            }
        }
    }
    for f in WARC_SOURCES {
        let path = format!("{corpora}/{f}");
        let file = std::fs::File::open(&path).unwrap_or_else(|e| fail(&path, e));
        let mut raw = Vec::new();
        if let Err(e) = flate2::read::MultiGzDecoder::new(file).read_to_end(&mut raw) {
            fail(&path, e);
        }
        for html in warc_html(&raw) {
            let text = html_text(&html);
            if is_english(&text) {
                docs.push((f, text));
            }
        }
    }
    let path = format!("{corpora}/{PYSBD}");
    let json = std::fs::read_to_string(&path).unwrap_or_else(|e| fail(&path, e));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap_or_else(|e| fail(&path, e));
    for r in v.as_array().into_iter().flatten() {
        if lang_ok(r, Some("en")) {
            if let Some(t) = r.get("text").and_then(|t| t.as_str()) {
                docs.push((PYSBD, t.to_string()));
            }
        }
    }
    docs
}

/// The HTML bodies of the `response` records of a WARC file.
fn warc_html(raw: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut pos = 0;
    while let Some(off) = find(&raw[pos..], b"WARC/1.") {
        let start = pos + off;
        let Some(hend) = find(&raw[start..], b"\r\n\r\n") else {
            break;
        };
        let header = String::from_utf8_lossy(&raw[start..start + hend]);
        let body_start = start + hend + 4;
        let len = header
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length:"))
            .and_then(|n| n.trim().parse::<usize>().ok())
            .unwrap_or(0);
        let body_end = (body_start + len).min(raw.len());
        let block = &raw[body_start..body_end];
        if header.contains("WARC-Type: response") {
            if let Some(h) = find(block, b"\r\n\r\n") {
                let http = String::from_utf8_lossy(&block[..h]).to_ascii_lowercase();
                if http.contains("content-type: text/html") {
                    out.push(String::from_utf8_lossy(&block[h + 4..]).into_owned());
                }
            }
        }
        pos = body_end.max(start + 1);
    }
    out
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Visible text of an HTML page, roughly: scripts, styles and tags dropped,
/// common entities decoded.
fn html_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    let lower = html.to_ascii_lowercase();
    let mut i = 0;
    while i < html.len() {
        let Some(lt) = html[i..].find('<') else {
            out.push_str(&html[i..]);
            break;
        };
        out.push_str(&html[i..i + lt]);
        let tag = i + lt;
        let mut skip_to = None;
        for name in ["script", "style", "noscript"] {
            if lower[tag + 1..].starts_with(name) {
                skip_to = lower[tag..]
                    .find(&format!("</{name}"))
                    .map(|e| tag + e + 2 + name.len());
            }
        }
        let from = skip_to.unwrap_or(tag);
        match html[from..].find('>') {
            Some(gt) => i = from + gt + 1,
            None => break,
        }
        out.push(' ');
    }
    decode_entities(&out)
}

fn decode_entities(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let semi = rest[..rest.len().min(10)].find(';');
        let decoded = semi.and_then(|e| {
            let name = &rest[1..e];
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some(' '),
                "rsquo" => Some('\u{2019}'),
                "lsquo" => Some('\u{2018}'),
                "ldquo" => Some('\u{201c}'),
                "rdquo" => Some('\u{201d}'),
                "mdash" => Some('\u{2014}'),
                "ndash" => Some('\u{2013}'),
                _ => {
                    let n = name.strip_prefix('#')?;
                    let v = match n.strip_prefix(['x', 'X']) {
                        Some(h) => u32::from_str_radix(h, 16).ok()?,
                        None => n.parse().ok()?,
                    };
                    char::from_u32(v)
                }
            }?;
            Some((c, e + 1))
        });
        match decoded {
            Some((c, n)) => {
                out.push(c);
                rest = &rest[n..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn main() {
    let corpora = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/corpora");
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
    let docs = load(corpora);
    let mut per_set: Vec<(&str, usize, u64)> = Vec::new();
    let mut counts: HashMap<u64, u32> = HashMap::new();
    let mut total = 0u64;
    for (set, text) in &docs {
        let toks = lm::tokens(text);
        total += toks.len() as u64;
        match per_set.iter_mut().find(|(s, _, _)| s == set) {
            Some(e) => {
                e.1 += 1;
                e.2 += toks.len() as u64;
            }
            None => per_set.push((set, 1, toks.len() as u64)),
        }
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
    // Histories of kept 3-grams were inserted with 0 if they hold no
    // trigger: count every bigram that is such a history.
    let histories: HashSet<u64> = counts
        .iter()
        .filter(|(_, c)| **c == 0)
        .map(|(k, _)| *k)
        .collect();
    for (_, text) in &docs {
        let toks = lm::tokens(text);
        for w in toks.windows(2) {
            let k = lm::ngram_key(w);
            if histories.contains(&k) {
                *counts.entry(k).or_insert(0) += 1;
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
    for (set, n, t) in per_set {
        println!("{set}: {n} documents, {t} tokens");
    }
    println!(
        "{} English documents, {total} tokens, {} n-grams kept, {} bytes -> {out}",
        docs.len(),
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
