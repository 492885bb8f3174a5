//! Quality evaluation of the `mojibake` stage on real corpora (prints a
//! report; no timing). Run:
//!
//! ```text
//! CARGO_TARGET_DIR=/work/target-mojibake cargo bench -p sluicebox-repair --bench mojibake_eval
//! ```
//!
//! * clean text (`multilingual/*.jsonl.gz`, `/work/shared/seeds/*.txt`):
//!   documents changed, with every fix listed so each can be judged;
//! * web text (`web/*.jsonl.gz`): documents changed per file and a sample
//!   of 30 changed documents' fixes (evenly spaced) to judge by eye.

use serde_json::Value;
use sluicebox_repair::mojibake::{repair::Fix, MojibakeConfig, MojibakeStage};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

/// How a damaged decode reads one byte.
type ByteReader = Box<dyn Fn(u8) -> char>;

const CORPORA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/corpora");
const SEEDS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/seeds");

fn jsonl_gz(path: &Path) -> Vec<(String, String)> {
    let Ok(file) = std::fs::File::open(path) else {
        return Vec::new();
    };
    let reader = BufReader::new(flate2::read::GzDecoder::new(file));
    reader
        .lines()
        .map_while(Result::ok)
        .filter_map(|line| serde_json::from_str::<Value>(&line).ok())
        .filter_map(|v| {
            let id = v.get("id")?.as_str()?.to_string();
            let text = v.get("text")?.as_str()?.to_string();
            Some((id, text))
        })
        .collect()
}

fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    v.retain(|p| p.to_string_lossy().ends_with(ext));
    v.sort();
    v
}

/// A fix shown with a little of its surrounding text.
fn show(text: &str, f: &Fix) -> String {
    let ctx = match text.find(&f.from) {
        Some(i) if !f.from.is_empty() => {
            let a = text[..i]
                .char_indices()
                .rev()
                .nth(15)
                .map(|x| x.0)
                .unwrap_or(0);
            let end = i + f.from.len();
            let b = text[end..]
                .char_indices()
                .nth(15)
                .map(|x| end + x.0)
                .unwrap_or(text.len());
            format!("  …{}…", text[a..b].replace('\n', "⏎"))
        }
        _ => String::new(),
    };
    format!("{:?} → {:?} [{}]{}", f.from, f.to, f.codec, ctx)
}

struct Tally {
    docs: usize,
    changed: usize,
    encoding_changed: usize,
    fixes: usize,
}

fn eval(
    stage: &MojibakeStage,
    docs: &[(String, String)],
    list_all: bool,
    changed_out: &mut Vec<(String, String, Vec<Fix>)>,
) -> Tally {
    let mut t = Tally {
        docs: docs.len(),
        changed: 0,
        encoding_changed: 0,
        fixes: 0,
    };
    for (id, text) in docs {
        let (fixed, fixes) = stage.repair(text);
        if fixed.is_none() {
            continue;
        }
        t.changed += 1;
        t.fixes += fixes.len();
        let enc = fixes
            .iter()
            .any(|f| !f.codec.contains("entity") && !f.codec.starts_with("c1"));
        if enc {
            t.encoding_changed += 1;
        }
        if list_all {
            println!("    changed {id}:");
            for f in fixes.iter().take(8) {
                println!("      {}", show(text, f));
            }
        }
        changed_out.push((id.clone(), text.clone(), fixes));
    }
    t
}

fn main() {
    let corpora = Path::new(CORPORA);
    if !corpora.is_dir() {
        println!("mojibake_eval: {CORPORA} not found; nothing to evaluate");
        return;
    }
    let stage = MojibakeStage::new(MojibakeConfig::default());

    println!("== clean text (default config; every change listed) ==");
    let mut sink = Vec::new();
    for path in files(&corpora.join("multilingual"), ".jsonl.gz") {
        let docs = jsonl_gz(&path);
        let t = eval(&stage, &docs, true, &mut sink);
        println!(
            "{}: {} docs, {} changed ({} by mojibake repair, the rest by C1 controls/entities; {} fixes)",
            path.file_name().unwrap_or_default().to_string_lossy(),
            t.docs, t.changed, t.encoding_changed, t.fixes
        );
    }
    let seeds: Vec<(String, String)> = files(Path::new(SEEDS), ".txt")
        .into_iter()
        .filter_map(|p| {
            Some((
                p.file_name()?.to_string_lossy().to_string(),
                std::fs::read_to_string(&p).ok()?,
            ))
        })
        .collect();
    let t = eval(&stage, &seeds, true, &mut sink);
    println!("seeds: {} docs, {} changed", t.docs, t.changed);

    // Round trip: clean multilingual text damaged on purpose (UTF-8 bytes
    // read as latin-1, and as windows-1252 where it defines the byte), then
    // repaired: how many documents come back exactly?
    println!("\n== round trip: multilingual text damaged on purpose, then repaired ==");
    let multi: Vec<(String, String)> = files(&corpora.join("multilingual"), ".jsonl.gz")
        .iter()
        .flat_map(|p| jsonl_gz(p))
        .filter(|(_, t)| !t.is_ascii())
        .collect();
    let cp1252_high = "€\u{81}‚ƒ„…†‡ˆ‰Š‹Œ\u{8d}Ž\u{8f}\u{90}‘’“”•–—˜™š›œ\u{9d}žŸ";
    let high: Vec<char> = cp1252_high.chars().collect();
    let damages: [(&str, ByteReader); 2] = [
        ("latin-1", Box::new(char::from)),
        (
            "windows-1252",
            Box::new(move |b: u8| {
                if (0x80..0xA0).contains(&b) {
                    high[(b - 0x80) as usize]
                } else {
                    char::from(b)
                }
            }),
        ),
    ];
    for (name, read) in &damages {
        let mut exact = 0;
        let mut first_miss = None;
        let mut misses: Vec<(String, String, String)> = Vec::new();
        for (id, text) in &multi {
            let damaged: String = text.bytes().map(read).collect();
            let fixed = stage.repair(&damaged).0.unwrap_or(damaged);
            if &fixed == text {
                exact += 1;
            } else {
                if first_miss.is_none() {
                    first_miss = Some(id.clone());
                }
                misses.push((id.clone(), text.clone(), fixed));
            }
        }
        println!(
            "UTF-8 read as {name}: {exact} of {} non-ASCII documents restored exactly (first miss: {})",
            multi.len(),
            first_miss.unwrap_or_default()
        );
        // Where the first few misses differ (evenly spaced over the misses).
        for k in 0..misses.len().min(6) {
            let (id, want, got) = &misses[k * misses.len() / misses.len().min(6)];
            let at = want
                .chars()
                .zip(got.chars())
                .take_while(|(a, b)| a == b)
                .count();
            let want_s: String = want.chars().skip(at.saturating_sub(8)).take(24).collect();
            let got_s: String = got.chars().skip(at.saturating_sub(8)).take(24).collect();
            println!(
                "    {id}: want {want_s:?}\n    {:width$}  got  {got_s:?}",
                "",
                width = id.len()
            );
        }
    }

    println!("\n== web text (default config) ==");
    let mut changed = Vec::new();
    let (mut all_docs, mut all_changed, mut all_enc) = (0, 0, 0);
    for path in files(&corpora.join("web"), ".jsonl.gz") {
        let docs = jsonl_gz(&path);
        // MOJIBAKE_LIST_WEB=1 lists every changed web document's fixes.
        let list = std::env::var("MOJIBAKE_LIST_WEB").is_ok();
        let t = eval(&stage, &docs, list, &mut changed);
        all_docs += t.docs;
        all_changed += t.changed;
        all_enc += t.encoding_changed;
        println!(
            "{}: {} docs, {} changed ({} by mojibake repair; {} fixes)",
            path.file_name().unwrap_or_default().to_string_lossy(),
            t.docs,
            t.changed,
            t.encoding_changed,
            t.fixes
        );
    }
    println!(
        "web total: {all_docs} docs, {all_changed} changed, {all_enc} of them by mojibake repair"
    );

    // Sample: documents changed by encoding/C1 repair first (the hard
    // decisions), then entity-only ones, evenly spaced.
    let (enc, ent): (Vec<_>, Vec<_>) = changed
        .iter()
        .partition(|(_, _, f)| f.iter().any(|f| !f.codec.contains("entity")));
    // (encoding here includes C1-control fixes: both are judged by eye.)
    let want_enc = enc.len().min(25);
    let want_ent = (30 - want_enc).min(ent.len());
    let pick = |v: &Vec<&(String, String, Vec<Fix>)>, k: usize| -> Vec<usize> {
        (0..k).map(|i| i * v.len() / k.max(1)).collect()
    };
    println!("\n== sample of changed web docs ({want_enc} encoding/C1, {want_ent} entity-only) ==");
    let mut n = 0;
    for (v, k) in [(&enc, want_enc), (&ent, want_ent)] {
        for i in pick(v, k) {
            let (id, text, fixes) = v[i];
            n += 1;
            println!("{n:2}. {id} ({} fixes)", fixes.len());
            for f in fixes.iter().take(4) {
                println!("      {}", show(text, f));
            }
        }
    }
}
