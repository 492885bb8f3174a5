//! Evaluation of the `spinner` stage (prints a report; not a timing bench).
//!
//! Run: `cargo bench -p sluicebox-repair --bench spinner_eval`
//!
//! 1. Seed 003 (a real spun article) against our hand restoration
//!    (`tests/fixtures/spinner/003_restored.txt`): WER before/after repair.
//! 2. Generated spun text: the gold article texts of the article extraction
//!    benchmark (MIT) and Mozilla readability tests (Apache-2.0), English
//!    only, spun with `benches/spinner_subs.tsv` (a list kept apart from the
//!    repair lexicon). Swaps the lexicon does not know are "held out"; the
//!    report gives error reduction for all swaps, held-in only, held-out only.
//! 3. Detection precision/recall/F1 over the even-indexed documents spun and
//!    the odd-indexed ones clean.
//! 4. Clean text: every page text (boilerplate included) of both sets and
//!    seeds 000/002 through the stage: documents flagged, words changed.
//!
//! Each part runs twice: default model only, and default model plus a
//! corpus profile learned from the evaluation mix itself (the profile pass).
//! The default model was built from other text (see the stage docs).
use sluicebox_core::{BuildContext, Document, StagePlugin};
use sluicebox_repair::spinner::{Spinner, SpinnerConfig, SpinnerStage, BUILTIN_LEXICON};
use std::collections::HashSet;
use std::io::BufRead;

const CORPORA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/corpora");
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/spinner");
const SUBS: &str = include_str!("spinner_subs.tsv");

struct Sub {
    original: Vec<String>,
    spun: String,
    held_in: bool,
}

fn load_subs() -> Vec<Sub> {
    let mut lex: HashSet<(String, String)> = HashSet::new();
    for line in BUILTIN_LEXICON.lines().filter(|l| !l.starts_with('#')) {
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() >= 2 {
            for o in cols[1].split('|') {
                lex.insert((cols[0].to_lowercase(), o.to_lowercase()));
            }
        }
    }
    let mut subs: Vec<Sub> = SUBS
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (o, s) = l.split_once('\t')?;
            Some(Sub {
                original: o.split(' ').map(str::to_lowercase).collect(),
                spun: s.to_string(),
                held_in: lex.contains(&(s.to_lowercase(), o.to_lowercase())),
            })
        })
        .collect();
    // Longest original first, so "the most" wins over "most".
    subs.sort_by_key(|s| std::cmp::Reverse(s.original.len()));
    subs
}

/// xorshift: deterministic, no dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn norm(w: &str) -> String {
    w.trim_matches(|c: char| !c.is_alphanumeric() && c != '\'' && c != '’')
        .replace('’', "'")
        .to_lowercase()
}

/// Spin `text`: each occurrence of a listed original (whole words, case
/// kept on the first letter) becomes the spun form with probability `p`.
/// Only swaps with `held_in` in `which` are used.
fn spin(text: &str, subs: &[Sub], which: &[bool], p: f64, rng: &mut Rng) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    for line in text.split_inclusive('\n') {
        let words: Vec<&str> = line.split(' ').collect();
        let mut i = 0;
        while i < words.len() {
            let mut done = false;
            for s in subs.iter().filter(|s| which.contains(&s.held_in)) {
                let n = s.original.len();
                if i + n > words.len() {
                    continue;
                }
                // Inner words must be bare; punctuation only around the span.
                let ok = (0..n).all(|k| {
                    let w = words[i + k];
                    let bare = norm(w) == s.original[k];
                    let lead_ok = k == 0 || w.starts_with(|c: char| c.is_alphanumeric());
                    let trail_ok = k == n - 1 || w.ends_with(|c: char| c.is_alphanumeric());
                    bare && lead_ok && trail_ok
                });
                if !ok || rng.next() >= p {
                    continue;
                }
                let first = words[i];
                let last = words[i + n - 1];
                let lead: String = first.chars().take_while(|c| !c.is_alphanumeric()).collect();
                let core_start = lead.len();
                let trail_len = last
                    .chars()
                    .rev()
                    .take_while(|c| !c.is_alphanumeric())
                    .map(char::len_utf8)
                    .sum::<usize>();
                let trail = &last[last.len() - trail_len..];
                let cap = first[core_start..].starts_with(|c: char| c.is_uppercase());
                let mut spun = s.spun.clone();
                if cap {
                    let mut cs = spun.chars();
                    if let Some(f) = cs.next() {
                        spun = f.to_uppercase().collect::<String>() + cs.as_str();
                    }
                }
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(&lead);
                out.push_str(&spun);
                out.push_str(trail);
                i += n;
                done = true;
                break;
            }
            if !done {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(words[i]);
                i += 1;
            }
        }
    }
    out
}

fn edits(a: &[&str], b: &[&str]) -> usize {
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, x) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, y) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(x != y))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

fn words(s: &str) -> Vec<&str> {
    s.split_whitespace().collect()
}

fn read_jsonl(name: &str) -> Option<Vec<serde_json::Value>> {
    let path = format!("{CORPORA}/web/{name}.jsonl.gz");
    let file = std::fs::File::open(&path).ok()?;
    let reader = std::io::BufReader::new(flate2::read::GzDecoder::new(file));
    Some(
        reader
            .lines()
            .map_while(Result::ok)
            .filter_map(|l| serde_json::from_str(&l).ok())
            .collect(),
    )
}

fn is_english(text: &str) -> bool {
    let mut n = 0usize;
    let mut f = 0usize;
    for w in text.split_whitespace().take(3000) {
        n += 1;
        if matches!(
            norm(w).as_str(),
            "the" | "and" | "of" | "to" | "is" | "in" | "that"
        ) {
            f += 1;
        }
    }
    n >= 100 && f * 100 >= n * 8
}

/// The configuration evaluated: the default, or the options given as TOML
/// in `SPINNER_EVAL_CONFIG` (for tuning on this evaluation's own data).
fn base_config() -> SpinnerConfig {
    match std::env::var("SPINNER_EVAL_CONFIG") {
        Ok(t) => toml::from_str(&t).expect("SPINNER_EVAL_CONFIG is a spinner config"),
        Err(_) => SpinnerConfig::default(),
    }
}

fn stage(profile: Option<Vec<u8>>, tortured: bool) -> SpinnerStage {
    let cx = BuildContext {
        profile,
        ..Default::default()
    };
    let cfg = SpinnerConfig {
        tortured_phrases: tortured.then(|| format!("{CORPORA}/spinner/tortured_phrases_pps.csv")),
        ..base_config()
    };
    SpinnerStage::new(&cfg, &cx).expect("stage builds")
}

struct Wer {
    before: usize,
    after: usize,
    total: usize,
}
impl Wer {
    fn line(&self, name: &str) -> String {
        let t = self.total.max(1) as f64;
        let (b, a) = (self.before as f64 / t, self.after as f64 / t);
        let red = if self.before > 0 {
            1.0 - self.after as f64 / self.before as f64
        } else {
            0.0
        };
        format!("{name:<34} WER before {b:.4}  after {a:.4}  error reduction {red:.3}")
    }
}

fn main() {
    // `cargo bench` passes `--bench`; nothing to parse.
    let seed = std::fs::read_to_string(format!("{FIXTURES}/003_240feac35cea67fe.txt"));
    let restored = std::fs::read_to_string(format!("{FIXTURES}/003_restored.txt"));
    let (Ok(seed), Ok(restored)) = (seed, restored) else {
        println!("spinner_eval: fixtures not found under {FIXTURES}");
        return;
    };
    let (Some(aeb), Some(rdb)) = (
        read_jsonl("article_extraction_benchmark"),
        read_jsonl("readability"),
    ) else {
        println!("spinner_eval: corpora not found under {CORPORA}; skipping");
        return;
    };
    let verbose = std::env::var_os("SPINNER_EVAL_VERBOSE").is_some();
    let fast = std::env::var_os("SPINNER_EVAL_FAST").is_some();
    let subs = load_subs();
    let held_in = subs.iter().filter(|s| s.held_in).count();
    println!(
        "substitution list: {} swaps, {held_in} known to the lexicon (held in), {} held out",
        subs.len(),
        subs.len() - held_in
    );

    // Gold article bodies for spinning, page texts for the clean check.
    let mut gold: Vec<String> = Vec::new();
    let mut pages: Vec<String> = Vec::new();
    for r in aeb.iter().chain(rdb.iter()) {
        if let Some(g) = r.get("gold_text").and_then(|v| v.as_str()) {
            if is_english(g) {
                gold.push(g.to_string());
            }
        }
        if let Some(t) = r.get("text").and_then(|v| v.as_str()) {
            pages.push(t.to_string());
        }
    }
    for f in ["000_e7f6ed2af000063c.txt", "002_31699701fbb39e56.txt"] {
        if let Ok(t) = std::fs::read_to_string(format!("{FIXTURES}/{f}")) {
            pages.push(t);
        }
    }
    let mut rng = Rng(0x5eed_5eed_1234_5678);
    let spun_all: Vec<(usize, String)> = gold
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 2 == 0)
        .map(|(i, g)| (i, spin(g, &subs, &[true, false], 0.8, &mut rng)))
        .collect();
    let spun_in: Vec<(usize, String)> = spun_all
        .iter()
        .map(|(i, _)| (*i, spin(&gold[*i], &subs, &[true], 0.8, &mut rng)))
        .collect();
    let spun_out: Vec<(usize, String)> = spun_all
        .iter()
        .map(|(i, _)| (*i, spin(&gold[*i], &subs, &[false], 0.8, &mut rng)))
        .collect();
    let spun_bytes: usize = spun_all.iter().map(|(_, s)| s.len()).sum();
    println!(
        "generated: {} English gold articles ({} spun, {} clean), {:.1} MB spun; clean check: {} pages + seeds 000/002",
        gold.len(),
        spun_all.len(),
        gold.len() - spun_all.len(),
        spun_bytes as f64 / 1e6,
        pages.len() - 2
    );

    // The profile pass over the evaluation mix (spun + clean + pages).
    let cfg = base_config();
    let mut pb = Spinner::profile_builder(&cfg, &BuildContext::default())
        .expect("profile builder")
        .expect("spinner learns");
    for (_, s) in &spun_all {
        pb.observe(&Document::from_text("s", s.as_str()));
    }
    for (i, g) in gold.iter().enumerate() {
        if i % 2 == 1 {
            pb.observe(&Document::from_text("g", g.as_str()));
        }
    }
    for p in &pages {
        pb.observe(&Document::from_text("p", p.as_str()));
    }
    let profile = pb.finish().expect("profile");

    for (label, st) in [
        ("default model only", stage(None, false)),
        (
            "default model + corpus profile",
            stage(Some(profile.clone()), false),
        ),
        (
            "default model + corpus profile + PPS tortured phrases",
            stage(Some(profile), true),
        ),
    ] {
        if fast && label.contains("PPS") {
            continue;
        }
        println!("\n== {label} ==");
        // 1. Seed 003.
        let (fixed, a, n) = st.repair_text(&seed);
        let (o, b, f) = (words(&restored), words(&seed), words(&fixed));
        let w = Wer {
            before: edits(&b, &o),
            after: edits(&f, &o),
            total: o.len(),
        };
        println!(
            "{}   (spin_score {:.3}, {} repairs)",
            w.line("seed 003 vs hand restoration"),
            a.score,
            n
        );
        if let Some(dir) = std::env::var_os("SPINNER_EVAL_DUMP") {
            let path = std::path::Path::new(&dir).join(format!("003_repaired_{}.txt", label.len()));
            if let Err(e) = std::fs::write(&path, &fixed) {
                println!("    {}: {e}", path.display());
            }
        }
        // 2. Generated spun text.
        for (name, set) in [
            ("generated, all swaps", &spun_all),
            ("generated, held-in swaps only", &spun_in),
            ("generated, held-out swaps only", &spun_out),
        ] {
            let mut w = Wer {
                before: 0,
                after: 0,
                total: 0,
            };
            let mut flagged = 0;
            for (i, s) in set.iter() {
                let (fixed, a, _) = st.repair_text(s);
                flagged += usize::from(a.spun);
                let o = words(&gold[*i]);
                w.before += edits(&words(s), &o);
                w.after += edits(&words(&fixed), &o);
                w.total += o.len();
            }
            println!("{}   flagged {flagged}/{}", w.line(name), set.len());
        }
        // 3. Detection on the mix: spun (all swaps) + clean gold.
        let tp = spun_all.iter().filter(|(_, s)| st.assess(s).spun).count();
        if verbose {
            for (_, s) in &spun_all {
                let a = st.assess(s);
                if !a.spun {
                    println!(
                        "    missed spun doc ({} words, evidence {}, score {:.3}): {:?}",
                        a.words,
                        a.evidence,
                        a.score,
                        &s[..s.len().min(50)]
                    );
                    for (m, o, d, e) in st.explain(s) {
                        println!("        {m} -> {o} ({d:.2}){}", if e { " *" } else { "" });
                    }
                }
            }
        }
        let fneg = spun_all.len() - tp;
        let fp = gold
            .iter()
            .enumerate()
            .filter(|(i, g)| i % 2 == 1 && st.assess(g).spun)
            .count();
        let p = tp as f64 / (tp + fp).max(1) as f64;
        let r = tp as f64 / (tp + fneg).max(1) as f64;
        let f1 = if p + r > 0.0 {
            2.0 * p * r / (p + r)
        } else {
            0.0
        };
        println!("detection: TP {tp} FP {fp} FN {fneg}  precision {p:.3} recall {r:.3} F1 {f1:.3}");
        // 4. Clean text: every gold article and page.
        let mut flagged = 0;
        let mut changed = 0;
        let mut total = 0;
        let mut max_score: f64 = 0.0;
        for t in gold.iter().chain(pages.iter()) {
            let (fixed, a, _) = st.repair_text(t);
            max_score = max_score.max(a.score);
            if a.spun {
                flagged += 1;
                if verbose {
                    println!("    flagged clean doc: {:?}", &t[..t.len().min(60)]);
                    for (m, o, d, e) in st.explain(t) {
                        if e {
                            println!("        {m} -> {o} ({d:.2})");
                        }
                    }
                }
            }
            let o = words(t);
            if fixed != *t {
                changed += edits(&words(&fixed), &o);
            }
            total += o.len();
        }
        println!(
            "clean text: {} docs, {total} words: flagged {flagged}, words changed {changed} ({:.3} per 1000), max spin_score {max_score:.3}",
            gold.len() + pages.len(),
            1000.0 * changed as f64 / total.max(1) as f64
        );
    }
}
