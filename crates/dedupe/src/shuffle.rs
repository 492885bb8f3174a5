//! Dedupe as a cluster plan (`sluicebox plan`): the decisions of
//! [`crate::Decider`], computed from files that many machines write and
//! read, instead of from one in-memory index.
//!
//! * **Map** (per shard, in parallel): each document that reaches dedupe
//!   gets a global number `g` (shard, then position: input order) and
//!   yields a [`Member`] (its exact hash and near group) and, when it has a
//!   near signature, one [`BandRow`] per LSH band.
//! * **Reduce** (per partition of band keys, in parallel):
//!   [`pairs_in_bucket`] finds, among the documents sharing a band key, the
//!   pairs the index would verify, with the same prefilter
//!   ([`crate::index::band_prefilter`]) and the same Jaccard on the
//!   bottom-k sets. Pairs are between *near groups* (documents with the
//!   same signature), so a page crawled a thousand times costs one pair,
//!   not half a million.
//! * **Decide** (one task): [`Greedy`] walks the members in global order
//!   with every pair: a document is a duplicate of the earlier *kept*
//!   document with its exact hash, else a near-duplicate of the most
//!   similar earlier *kept* document it is paired with (ties: the
//!   earliest), else kept. This is exactly the rule the single-machine
//!   stage applies, so a plan's output equals `sluicebox run`'s.
//!
//! Cost: map O(bands) rows per document; reduce O(n²) set comparisons per
//! bucket of n distinct signatures sharing a band key (the index compares a
//! document only with *kept* ones, so very large buckets of distinct
//! near-duplicates cost more here); decide O(documents + pairs) time and
//! O(kept documents) memory, like the index.

use crate::index::band_prefilter;
use crate::minhash::{set_jaccard, NearSig, SigParams, SET_K};
use crate::{Judgement, Signature};
use std::collections::HashMap;

/// One document's key for one band, with what verification needs.
#[derive(Debug, Clone, PartialEq)]
pub struct BandRow {
    /// Which dedupe instance (per-source settings make several).
    pub inst: u32,
    pub band: u32,
    pub key: u64,
    /// Global document number (input order).
    pub g: u64,
    /// Near group: documents with identical signatures share it.
    pub group: u64,
    pub bits: Vec<u64>,
    pub set: Vec<u32>,
}

/// One document as the decide task sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub inst: u32,
    pub g: u64,
    pub id: String,
    /// Exact-level hash, when the exact level is on.
    pub exact: Option<u64>,
    /// Near group, when the document has a near signature.
    pub group: Option<u64>,
}

/// A verified near-duplicate pair of near groups (`a <= b`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pair {
    pub inst: u32,
    pub a: u64,
    pub b: u64,
    pub sim: f64,
}

/// The near group of a signature: a hash of all of it, so equal groups
/// mean equal signatures (and so equal candidates and similarities).
pub fn near_group(sig: &NearSig) -> u64 {
    let mut buf = Vec::with_capacity(8 * (sig.bands.len() + sig.bits.len()) + 4 * sig.set.len());
    for w in sig.bands.iter().chain(&sig.bits) {
        buf.extend_from_slice(&w.to_le_bytes());
    }
    for s in &sig.set {
        buf.extend_from_slice(&s.to_le_bytes());
    }
    xxhash_rust::xxh3::xxh3_64(&buf)
}

/// Map one document: its member row and its band rows.
pub fn map(inst: u32, g: u64, id: &str, sig: &Signature) -> (Member, Vec<BandRow>) {
    let group = sig.near.as_ref().map(near_group);
    let rows = match (&sig.near, group) {
        (Some(near), Some(group)) => near
            .bands
            .iter()
            .enumerate()
            .map(|(band, &key)| BandRow {
                inst,
                band: band as u32,
                key,
                g,
                group,
                bits: near.bits.clone(),
                set: near.set.clone(),
            })
            .collect(),
        _ => Vec::new(),
    };
    let member = Member {
        inst,
        g,
        id: id.to_string(),
        exact: sig.exact,
        group,
    };
    (member, rows)
}

/// The order reducers read rows in: by bucket, then input order.
pub fn row_order(a: &BandRow, b: &BandRow) -> std::cmp::Ordering {
    (a.inst, a.band, a.key, a.g).cmp(&(b.inst, b.band, b.key, b.g))
}

/// Verified pairs among the rows of one bucket (same instance, band and
/// key; sorted by `g`). `p` and `threshold` are the instance's settings.
pub fn pairs_in_bucket(bucket: &[BandRow], p: &SigParams, threshold: f64, out: &mut Vec<Pair>) {
    // The first row of each group stands for it; a group seen twice also
    // pairs with itself (a later copy is judged against a kept earlier one).
    let mut reps: Vec<&BandRow> = Vec::new();
    let mut repeated: Vec<u64> = Vec::new();
    for row in bucket {
        match reps.iter().find(|r| r.group == row.group) {
            Some(_) => repeated.push(row.group),
            None => reps.push(row),
        }
    }
    repeated.sort_unstable();
    repeated.dedup();
    let mut consider = |x: &BandRow, y: &BandRow| {
        if !band_prefilter(&x.bits, &y.bits, x.band as usize, p, threshold) {
            return;
        }
        let sim = set_jaccard(&x.set, &y.set, SET_K);
        if sim >= threshold {
            out.push(Pair {
                inst: x.inst,
                a: x.group.min(y.group),
                b: x.group.max(y.group),
                sim,
            });
        }
    };
    for (i, x) in reps.iter().enumerate() {
        if repeated.binary_search(&x.group).is_ok() {
            consider(x, x);
        }
        for y in &reps[i + 1..] {
            consider(x, y);
        }
    }
}

/// Reduce a partition held in memory: sort its rows into buckets and
/// collect their pairs, sorted and without repeats.
pub fn reduce(
    mut rows: Vec<BandRow>,
    settings: impl Fn(u32) -> Option<(SigParams, f64)>,
) -> Result<Vec<Pair>, String> {
    rows.sort_by(row_order);
    reduce_sorted(rows.into_iter().map(Ok), settings)
}

/// Reduce rows that arrive in [`row_order`] (a merge of sorted runs), one
/// bucket in memory at a time; pairs sorted and without repeats (a pair
/// may share several bands).
pub fn reduce_sorted(
    rows: impl Iterator<Item = Result<BandRow, String>>,
    settings: impl Fn(u32) -> Option<(SigParams, f64)>,
) -> Result<Vec<Pair>, String> {
    let mut out = Vec::new();
    let mut bucket: Vec<BandRow> = Vec::new();
    let flush = |bucket: &mut Vec<BandRow>, out: &mut Vec<Pair>| -> Result<(), String> {
        if let Some(head) = bucket.first() {
            let (p, threshold) = settings(head.inst)
                .ok_or_else(|| format!("band rows of unknown dedupe instance {}", head.inst))?;
            if bucket.len() > 1 {
                pairs_in_bucket(bucket, &p, threshold, out);
            }
        }
        bucket.clear();
        Ok(())
    };
    for row in rows {
        let row = row?;
        if let Some(head) = bucket.first() {
            if row_order(head, &row) == std::cmp::Ordering::Greater {
                return Err("band rows out of order: a key file was not written sorted".into());
            }
            if (head.inst, head.band, head.key) != (row.inst, row.band, row.key) {
                flush(&mut bucket, &mut out)?;
            }
        }
        bucket.push(row);
    }
    flush(&mut bucket, &mut out)?;
    sort_pairs(&mut out);
    Ok(out)
}

/// Sort pairs and drop repeats.
pub fn sort_pairs(pairs: &mut Vec<Pair>) {
    pairs.sort_by_key(|x| (x.inst, x.a, x.b));
    pairs.dedup_by(|x, y| (x.inst, x.a, x.b) == (y.inst, y.a, y.b));
}

#[derive(Default)]
struct Kept {
    exact: HashMap<u64, String>,
    /// Near group -> (g, id) of its kept document.
    near: HashMap<u64, (u64, String)>,
}

/// The decide task: members in global order, judged against the earlier
/// kept ones exactly as [`crate::Decider::judge`] does.
pub struct Greedy {
    pairs: HashMap<(u32, u64), Vec<(u64, f64)>>,
    kept: HashMap<u32, Kept>,
}

impl Greedy {
    pub fn new(pairs: impl IntoIterator<Item = Pair>) -> Self {
        let mut by_group: HashMap<(u32, u64), Vec<(u64, f64)>> = HashMap::new();
        for p in pairs {
            by_group
                .entry((p.inst, p.a))
                .or_default()
                .push((p.b, p.sim));
            if p.a != p.b {
                by_group
                    .entry((p.inst, p.b))
                    .or_default()
                    .push((p.a, p.sim));
            }
        }
        Greedy {
            pairs: by_group,
            kept: HashMap::new(),
        }
    }

    /// Judge the next member (call in increasing `g`).
    pub fn judge(&mut self, m: &Member) -> Judgement {
        let kept = self.kept.entry(m.inst).or_default();
        if let Some(of) = m.exact.and_then(|h| kept.exact.get(&h)) {
            return Judgement::Duplicate { of: of.clone() };
        }
        if let Some(group) = m.group {
            let mut best: Option<(f64, u64, &str)> = None;
            for &(other, sim) in self.pairs.get(&(m.inst, group)).into_iter().flatten() {
                let Some((g, id)) = kept.near.get(&other) else {
                    continue;
                };
                if best.is_none_or(|(s, bg, _)| sim > s || (sim == s && *g < bg)) {
                    best = Some((sim, *g, id));
                }
            }
            if let Some((similarity, _, of)) = best {
                return Judgement::NearDuplicate {
                    of: of.to_string(),
                    similarity,
                };
            }
        }
        if let Some(h) = m.exact {
            kept.exact.insert(h, m.id.clone());
        }
        if let Some(group) = m.group {
            kept.near.entry(group).or_insert((m.g, m.id.clone()));
        }
        Judgement::Keep
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Decider, DedupeConfig, Signer};

    const SEED: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/seeds/002_31699701fbb39e56.txt"
    ));

    /// Documents with exact copies, near copies (a line changed or added)
    /// and unrelated ones, from the seed's paragraphs.
    fn corpus() -> Vec<(String, String)> {
        let paras: Vec<&str> = SEED
            .split('\n')
            .filter(|l| l.split_whitespace().count() > 25)
            .collect();
        assert!(
            paras.len() >= 12,
            "seed has {} long paragraphs",
            paras.len()
        );
        let mut docs = Vec::new();
        for k in 0..6 {
            let base = paras[2 * k..2 * k + 4].join("\n");
            docs.push((format!("d{k}"), base.clone()));
            docs.push((format!("d{k}-copy"), base.clone()));
            docs.push((format!("d{k}-near"), format!("Syndicated copy.\n{base}")));
            let cut = base.replacen(" the ", " a ", 3);
            docs.push((format!("d{k}-edit"), cut));
        }
        // Interleave so duplicates are not adjacent.
        let n = docs.len();
        (0..n).map(|i| docs[(i * 7) % n].clone()).collect()
    }

    /// The plan's map/reduce/decide gives the single-machine judgements,
    /// however the rows are split into partitions.
    #[test]
    fn greedy_equals_decider() {
        let config = DedupeConfig::default();
        let signer = Signer::new(config.clone());
        let docs = corpus();
        let mut decider = Decider::new(config.clone());
        let expected: Vec<Judgement> = docs
            .iter()
            .map(|(id, text)| decider.judge(id, &signer.sign(text)).unwrap())
            .collect();
        assert!(expected
            .iter()
            .any(|j| matches!(j, Judgement::Duplicate { .. })));
        assert!(expected
            .iter()
            .any(|j| matches!(j, Judgement::NearDuplicate { .. })));
        let mut members = Vec::new();
        let mut rows = Vec::new();
        for (g, (id, text)) in docs.iter().enumerate() {
            let (m, r) = map(0, g as u64, id, &signer.sign(text));
            members.push(m);
            rows.extend(r);
        }
        let settings = |_| Some((config.sig_params(), config.threshold));
        for partitions in [1u64, 3] {
            let mut pairs = Vec::new();
            for part in 0..partitions {
                let mine: Vec<BandRow> = rows
                    .iter()
                    .filter(|r| r.key % partitions == part)
                    .cloned()
                    .collect();
                pairs.extend(reduce(mine, settings).unwrap());
            }
            sort_pairs(&mut pairs);
            let mut greedy = Greedy::new(pairs);
            let got: Vec<Judgement> = members.iter().map(|m| greedy.judge(m)).collect();
            assert_eq!(got, expected, "{partitions} partitions");
        }
    }

    #[test]
    fn copies_of_one_page_make_one_group() {
        let signer = Signer::new(DedupeConfig::default());
        let text = SEED.split('\n').take(40).collect::<Vec<_>>().join("\n");
        let a = map(0, 1, "a", &signer.sign(&text));
        let b = map(0, 2, "b", &signer.sign(&text));
        assert_eq!(a.0.group, b.0.group);
        assert_ne!(a.0.group, None);
        assert_eq!(a.1.len(), DedupeConfig::default().bands);
    }
}
