//! Near-duplicate quality evaluation (harness = false):
//!
//! `cargo bench -p sluicebox-dedupe --bench dedup_eval`
//!
//! Takes real documents from `../shared/corpora/web/*.jsonl.gz`, makes
//! near-duplicates of some of them with known edits (word substitutions,
//! insertions, deletions, reordered lines, changed header/footer, and a mix),
//! mixes them with the untouched distinct documents, and computes the EXACT
//! Jaccard similarity of every pair of documents that shares a shingle (same
//! word 5-gram shingles as the stage, via an inverted index). Then every
//! document is put through the stage's signature and LSH index and each pair
//! the index reports at `threshold` is checked against the ground truth.
//!
//! Reported: precision of reported pairs (true Jaccard >= 0.8, and with a
//! 0.05 tolerance), recall for pairs with true Jaccard >= 0.85 and >= 0.8,
//! the detection rate per true-Jaccard bin, and the stage's own drop
//! decisions (first seen wins) checked against the truth.

#[path = "common/corpus.rs"]
mod corpus;

use corpus::Rng;
use sluicebox_dedupe::index::{Index, IndexParams};
use sluicebox_dedupe::minhash::{self, SigParams};
use sluicebox_dedupe::{Decider, DedupeConfig, Judgement, Signer};
use std::collections::{HashMap, HashSet};

const BASE_DOCS: usize = 3000;
const MUTATED: usize = 1500;
const VARIANTS: usize = 2;

#[derive(Clone, Copy, Debug)]
enum Edit {
    Substitute,
    Insert,
    Delete,
    Reorder,
    HeaderFooter,
    Mix,
}
const EDITS: [Edit; 6] = [
    Edit::Substitute,
    Edit::Insert,
    Edit::Delete,
    Edit::Reorder,
    Edit::HeaderFooter,
    Edit::Mix,
];

fn substitute(text: &str, rate: f64, vocab: &[&str], rng: &mut Rng) -> String {
    text.split('\n')
        .map(|line| {
            line.split(' ')
                .map(|w| {
                    if !w.is_empty() && rng.unit() < rate {
                        vocab[rng.below(vocab.len())]
                    } else {
                        w
                    }
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn words_of(text: &str) -> usize {
    text.split_whitespace().count()
}

/// Insert lines from a donor text until about `rate * words` words are added.
fn insert(text: &str, rate: f64, donor: &str, rng: &mut Rng) -> String {
    let mut lines: Vec<String> = text.split('\n').map(str::to_string).collect();
    let donor_lines: Vec<&str> = donor.split('\n').filter(|l| !l.trim().is_empty()).collect();
    let target = (words_of(text) as f64 * rate) as usize;
    let mut added = 0;
    while added < target && !donor_lines.is_empty() {
        let l = donor_lines[rng.below(donor_lines.len())];
        let take: Vec<&str> = l.split_whitespace().take(target - added).collect();
        added += take.len().max(1);
        let at = rng.below(lines.len() + 1);
        lines.insert(at, take.join(" "));
    }
    lines.join("\n")
}

/// Delete random spans of 3-30 words until about `rate` of the words are gone.
fn delete(text: &str, rate: f64, rng: &mut Rng) -> String {
    let words: Vec<&str> = text.split(' ').collect();
    let mut keep = vec![true; words.len()];
    let target = (words.len() as f64 * rate) as usize;
    let mut gone = 0;
    let mut guard = 0;
    while gone < target && guard < 100_000 {
        guard += 1;
        let len = 3 + rng.below(28);
        let at = rng.below(words.len());
        for k in keep.iter_mut().skip(at).take(len) {
            if *k {
                *k = false;
                gone += 1;
            }
        }
    }
    words
        .iter()
        .zip(&keep)
        .filter(|(_, k)| **k)
        .map(|(w, _)| *w)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Move a fraction of the lines to random places.
fn reorder(text: &str, frac: f64, rng: &mut Rng) -> String {
    let mut lines: Vec<&str> = text.split('\n').collect();
    let moves = ((lines.len() as f64) * frac).ceil() as usize;
    for _ in 0..moves {
        let from = rng.below(lines.len());
        let l = lines.remove(from);
        let to = rng.below(lines.len() + 1);
        lines.insert(to, l);
    }
    lines.join("\n")
}

/// Replace leading and trailing lines (about `frac` of the words) with a
/// donor's first/last lines: another site's header and footer.
fn header_footer(text: &str, frac: f64, donor: &str, rng: &mut Rng) -> String {
    let lines: Vec<&str> = text.split('\n').collect();
    let total = words_of(text).max(1);
    let budget = (total as f64 * frac) as usize;
    let head_budget = (budget as f64 * rng.unit()) as usize;
    let (mut start, mut w) = (0, 0);
    while start < lines.len() && w + words_of(lines[start]) <= head_budget {
        w += words_of(lines[start]);
        start += 1;
    }
    let (mut end, mut w2) = (lines.len(), 0);
    while end > start && w2 + words_of(lines[end - 1]) <= budget - w.min(budget) {
        w2 += words_of(lines[end - 1]);
        end -= 1;
    }
    let dl: Vec<&str> = donor.split('\n').collect();
    let dh = dl.len().min(1 + start);
    let df = dl.len().min(1 + lines.len() - end);
    let mut out: Vec<&str> = dl[..dh].to_vec();
    out.extend(&lines[start..end]);
    out.extend(&dl[dl.len() - df..]);
    out.join("\n")
}

fn make_variant(
    base: &str,
    edit: Edit,
    x: f64,
    donor: &str,
    vocab: &[&str],
    rng: &mut Rng,
) -> String {
    match edit {
        Edit::Substitute => substitute(base, 0.12 * x, vocab, rng),
        Edit::Insert => insert(base, 0.8 * x, donor, rng),
        Edit::Delete => delete(base, 0.5 * x, rng),
        Edit::Reorder => reorder(base, x, rng),
        Edit::HeaderFooter => header_footer(base, 0.5 * x, donor, rng),
        Edit::Mix => {
            let t = header_footer(base, 0.2 * x, donor, rng);
            let t = substitute(&t, 0.04 * x, vocab, rng);
            let t = delete(&t, 0.1 * x, rng);
            reorder(&t, 0.3 * x, rng)
        }
    }
}

fn main() {
    let Some(all) = corpus::load_web() else {
        return;
    };
    let started = std::time::Instant::now();
    let cfg = DedupeConfig::default();
    let params = SigParams {
        ngram: cfg.ngram,
        num_perm: cfg.num_perm,
        bands: cfg.bands,
        rows: cfg.rows,
    };
    let threshold = cfg.threshold;

    // Distinct base documents of at least 60 words, spread over all files.
    let mut seen = HashSet::new();
    let pool: Vec<&(String, String)> = all
        .iter()
        .filter(|(_, t)| words_of(t) >= 60)
        .filter(|(_, t)| seen.insert(sluicebox_dedupe::exact_hash(t, true, true, true)))
        .collect();
    let stride = (pool.len() / BASE_DOCS).max(1);
    let base: Vec<&(String, String)> = pool
        .iter()
        .step_by(stride)
        .take(BASE_DOCS)
        .copied()
        .collect();
    let vocab: Vec<&str> = base
        .iter()
        .flat_map(|(_, t)| t.split_whitespace().take(200))
        .collect();

    let mut rng = Rng(0x5eed_0dd5_eed5_0001);
    let mut docs: Vec<(String, String, String)> = Vec::new(); // (id, text, kind)
    for (id, t) in &base {
        docs.push((id.clone(), t.clone(), "original".into()));
    }
    for k in 0..MUTATED.min(base.len()) {
        let b = k * base.len() / MUTATED.min(base.len());
        for v in 0..VARIANTS {
            let edit = EDITS[rng.below(EDITS.len())];
            let x = rng.unit();
            let donor = &base[rng.below(base.len())].1;
            let text = make_variant(&base[b].1, edit, x, donor, &vocab, &mut rng);
            docs.push((format!("{}~v{v}", base[b].0), text, format!("{edit:?}")));
        }
    }
    // Interleave: shuffle so variants may come before their original.
    for i in (1..docs.len()).rev() {
        let j = rng.below(i + 1);
        docs.swap(i, j);
    }
    let n = docs.len();
    let bytes: usize = docs.iter().map(|d| d.1.len()).sum();
    println!(
        "eval set: {} documents ({} distinct originals, {} near-duplicate variants), {:.1} MB, ngram {}, num_perm {}, bands {} x rows {}, threshold {}",
        n,
        base.len(),
        n - base.len(),
        bytes as f64 / 1e6,
        params.ngram,
        params.num_perm,
        params.bands,
        params.rows,
        threshold
    );

    // Ground truth: exact Jaccard of every pair sharing a shingle.
    let mut sets: Vec<Vec<u64>> = Vec::with_capacity(n);
    let mut scratch = Vec::new();
    for d in &docs {
        minhash::shingles(&d.1, params.ngram, &mut scratch);
        let mut s = scratch.clone();
        s.sort_unstable();
        s.dedup();
        sets.push(s);
    }
    let mut postings: HashMap<u64, Vec<u32>> = HashMap::new();
    let mut truth: HashMap<(u32, u32), f64> = HashMap::new();
    let mut counts = vec![0u32; n];
    let mut touched = Vec::new();
    for i in 0..n {
        for s in &sets[i] {
            let list = postings.entry(*s).or_default();
            for &j in list.iter() {
                if counts[j as usize] == 0 {
                    touched.push(j);
                }
                counts[j as usize] += 1;
            }
            list.push(i as u32);
        }
        for &j in &touched {
            let inter = counts[j as usize] as usize;
            let union = sets[i].len() + sets[j as usize].len() - inter;
            let jac = inter as f64 / union as f64;
            if jac >= 0.5 {
                truth.insert((j, i as u32), jac);
            }
            counts[j as usize] = 0;
        }
        touched.clear();
    }
    let jaccard = |a: u32, b: u32| -> f64 {
        let key = (a.min(b), a.max(b));
        truth
            .get(&key)
            .copied()
            .unwrap_or_else(|| minhash::exact_jaccard(&sets[a as usize], &sets[b as usize]))
    };
    let gt_time = started.elapsed();

    // Pairs the index reports, for the default settings, other thresholds
    // and a larger signature (beyond the 64 B/doc budget) for comparison.
    let mut idx_time = std::time::Duration::ZERO;
    let variants: [(usize, f64, &str); 4] = [
        (params.num_perm, threshold, "default"),
        (params.num_perm, 0.82, "verify at 0.82"),
        (params.num_perm, 0.85, "verify at 0.85"),
        (512, threshold, "num_perm 512 (64 B signature)"),
    ];
    for (num_perm, thr, label) in variants {
        let p = SigParams { num_perm, ..params };
        let t0 = std::time::Instant::now();
        let predicted = report_pairs(&docs, p, thr, &cfg, &mut scratch);
        if label == "default" {
            idx_time = t0.elapsed();
        }
        print_metrics(label, p, thr, &truth, &predicted, &jaccard);
    }

    // The stage itself: first seen wins, dropped documents are not indexed.
    let mut cfg_np = cfg.clone();
    cfg_np.paragraphs = false; // evaluate document-level decisions only
    let signer = Signer::new(cfg_np.clone());
    let mut decider = Decider::new(cfg_np);
    let pos_of: HashMap<&str, u32> = docs
        .iter()
        .enumerate()
        .map(|(i, d)| (d.0.as_str(), i as u32))
        .collect();
    let (mut kept, mut exact, mut near, mut wrong, mut missed) = (0, 0, 0, 0, 0);
    let mut kept_idx: Vec<u32> = Vec::new();
    for (i, d) in docs.iter().enumerate() {
        let sig = signer.sign(&d.1);
        match decider.judge(&d.0, &sig) {
            Ok(Judgement::Keep) => {
                kept += 1;
                // Missed: a kept document with true J >= 0.85 to an earlier kept one.
                if kept_idx
                    .iter()
                    .any(|&k| truth.get(&(k, i as u32)).is_some_and(|&j| j >= 0.85))
                {
                    missed += 1;
                }
                kept_idx.push(i as u32);
            }
            Ok(Judgement::Duplicate { .. }) => exact += 1,
            Ok(Judgement::NearDuplicate { of, .. }) => {
                near += 1;
                if jaccard(pos_of[of.as_str()], i as u32) < 0.8 {
                    wrong += 1;
                }
            }
            Err(e) => println!("error: {e}"),
        }
    }
    println!("\n== stage decisions (input order, first seen wins) ==");
    println!(
        "kept {kept}, exact duplicates {exact}, near duplicates {near}; near drops whose true J with duplicate_of < 0.8: {wrong}; kept documents with true J >= 0.85 to an earlier kept one: {missed}"
    );
    let ib = decider.index().bytes();
    println!(
        "timing: ground truth {:.2} s, signatures + index for {} docs {:.2} s",
        gt_time.as_secs_f64(),
        n,
        idx_time.as_secs_f64()
    );
    println!(
        "index after {} kept docs: near level {} bytes in memory ({:.1} B/doc) + {} bytes on disk ({:.1} B/doc), exact {} bytes, ids {} bytes",
        decider.index().docs(),
        ib.near_memory(),
        ib.near_memory() as f64 / decider.index().docs().max(1) as f64,
        ib.near_disk,
        ib.near_disk as f64 / decider.index().docs().max(1) as f64,
        ib.exact,
        ib.ids
    );
}

/// Every document against all earlier ones: the pairs the index verifies.
fn report_pairs(
    docs: &[(String, String, String)],
    params: SigParams,
    threshold: f64,
    cfg: &DedupeConfig,
    scratch: &mut Vec<u64>,
) -> HashMap<(u32, u32), f64> {
    let iparams = IndexParams {
        sig: params,
        fold_case: cfg.fold_case,
        fold_whitespace: cfg.fold_whitespace,
        fold_punctuation: cfg.fold_punctuation,
    };
    let mut index = Index::new(iparams);
    let mut predicted: HashMap<(u32, u32), f64> = HashMap::new();
    for (i, d) in docs.iter().enumerate() {
        let sig = minhash::near_signature(&d.1, &params, scratch);
        if let Some(sig) = &sig {
            let found = index.for_each_match(sig, threshold, |j, est| {
                predicted.insert((j, i as u32), est);
            });
            if let Err(e) = found {
                println!("error: {e}");
            }
        }
        let _ = index.add(&d.0, None, sig.as_ref());
    }
    predicted
}

fn print_metrics(
    label: &str,
    params: SigParams,
    threshold: f64,
    truth: &HashMap<(u32, u32), f64>,
    predicted: &HashMap<(u32, u32), f64>,
    jaccard: &dyn Fn(u32, u32) -> f64,
) {
    let bins = [0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0001];
    let mut bin_total = vec![0usize; bins.len() - 1];
    let mut bin_hit = vec![0usize; bins.len() - 1];
    let bin_of = |j: f64| bins.windows(2).position(|w| j >= w[0] && j < w[1]);
    for (&pair, &j) in truth {
        if let Some(b) = bin_of(j) {
            bin_total[b] += 1;
            if predicted.contains_key(&pair) {
                bin_hit[b] += 1;
            }
        }
    }
    let mut pred_low = 0; // reported, true J < 0.8
    let mut pred_low_tol = 0; // reported, true J < 0.75
    for &(a, b) in predicted.keys() {
        let j = jaccard(a, b);
        if j < 0.8 {
            pred_low += 1;
        }
        if j < 0.75 {
            pred_low_tol += 1;
        }
    }
    let np = predicted.len();
    let pos = |lo: f64| truth.iter().filter(|(_, &j)| j >= lo).count();
    let hit = |lo: f64| {
        truth
            .iter()
            .filter(|(p, &j)| j >= lo && predicted.contains_key(p))
            .count()
    };
    println!(
        "\n== pairs, {label}: num_perm {}, bands {} x rows {}, verify threshold {threshold} ==",
        params.num_perm, params.bands, params.rows
    );
    println!("true Jaccard bin   pairs   reported  rate");
    for b in 0..bin_total.len() {
        println!(
            "[{:.2}, {:.2})     {:6}   {:6}   {:.4}",
            bins[b],
            bins[b + 1].min(1.0),
            bin_total[b],
            bin_hit[b],
            bin_hit[b] as f64 / bin_total[b].max(1) as f64
        );
    }
    println!(
        "reported pairs: {np}; precision (true J >= 0.80): {:.4}; with 0.05 tolerance (true J >= 0.75): {:.4}",
        1.0 - pred_low as f64 / np.max(1) as f64,
        1.0 - pred_low_tol as f64 / np.max(1) as f64
    );
    println!(
        "recall, true J >= 0.85: {:.4} ({}/{}); true J >= 0.80: {:.4} ({}/{})",
        hit(0.85) as f64 / pos(0.85).max(1) as f64,
        hit(0.85),
        pos(0.85),
        hit(0.8) as f64 / pos(0.8).max(1) as f64,
        hit(0.8),
        pos(0.8)
    );
}
