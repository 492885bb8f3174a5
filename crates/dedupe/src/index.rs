//! The cross-document memory of the stage: which documents were kept, their
//! exact hashes, LSH band tables and verification signatures, and (optional)
//! counts of long paragraphs.
//!
//! Layout, per kept document (see the crate README for measured figures):
//! * ids: the id bytes in one arena plus a 4-byte end offset;
//! * exact level: one `u64 -> u32` hash-map entry;
//! * near level: `num_perm / 8` bytes of 1-bit signature, plus one `u32`
//!   slot per band in keyless open-addressing tables (linear probing, load
//!   at most 0.7). The slot holds the document number and a 4-bit
//!   fingerprint of the band key, never the key: every candidate is
//!   verified against its signature anyway (after checking that its bits on
//!   the band's rows agree), which rejects documents that share a slot
//!   cluster without sharing the key. Keyless tables cannot be rehashed, so a full
//!   table is frozen and a new one of twice the size is started
//!   (generations); a lookup probes every generation (log2 of the document
//!   count, bounded probe length each). Bytes per band entry are between
//!   4 / 0.7 (a generation just filled) and 8 / 0.7 (one just started).
//!
//! Lookups and inserts are O(bands * generations) expected; the index is
//! saved with postcard behind a magic/version header.

use crate::minhash::{NearSig, SigParams};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Keys are already hashes: pass them through.
#[derive(Default)]
pub struct IdentityHasher(u64);
impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | b as u64;
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}
pub type HashMapU64<V> = HashMap<u64, V, BuildHasherDefault<IdentityHasher>>;

const FIRST_GEN_SLOTS: usize = 1 << 14;
const MAX_LOAD_NUM: usize = 7;
const MAX_LOAD_DEN: usize = 10;
/// Probe at most this many slots per generation, so a key shared by many
/// kept documents cannot make lookups quadratic.
const MAX_PROBE: usize = 64;
/// A slot is `fingerprint << 28 | (doc + 1)`: 4 bits of the band key (its
/// top bits; the position uses the low bits) reject 15 of 16 slot
/// neighbours that do not share the key, before any signature is read.
const DOC_BITS: u32 = 28;
const DOC_MASK: u32 = (1 << DOC_BITS) - 1;
/// Most kept documents one index holds (2^28 - 2, about 268 million).
pub const MAX_DOCS: usize = DOC_MASK as usize - 1;

fn fingerprint(key: u64) -> u32 {
    ((key >> 60) as u32) << DOC_BITS
}

/// Documents per signature chunk.
const SIG_CHUNK: usize = 1 << 12;

fn bit(words: &[u64], i: usize) -> u64 {
    words.get(i / 64).map_or(0, |w| (w >> (i % 64)) & 1)
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Generation {
    /// 0 = empty, else fingerprint | (document number + 1).
    slots: Vec<u32>,
    len: usize,
}

/// One band's keyless table set.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BandTable {
    gens: Vec<Generation>,
}

impl BandTable {
    fn insert(&mut self, key: u64, doc: u32) {
        let need_new = match self.gens.last() {
            None => true,
            Some(g) => (g.len + 1) * MAX_LOAD_DEN > g.slots.len() * MAX_LOAD_NUM,
        };
        if need_new {
            let size = self
                .gens
                .last()
                .map_or(FIRST_GEN_SLOTS, |g| g.slots.len() * 2);
            self.gens.push(Generation {
                slots: vec![0; size],
                len: 0,
            });
        }
        let Some(g) = self.gens.last_mut() else {
            return;
        };
        let mask = g.slots.len() - 1;
        let mut pos = key as usize & mask;
        while g.slots[pos] != 0 {
            pos = (pos + 1) & mask;
        }
        g.slots[pos] = fingerprint(key) | (doc + 1);
        g.len += 1;
    }

    /// Documents in the probe runs of `key` whose slot fingerprint matches.
    fn candidates(&self, key: u64, mut f: impl FnMut(u32)) {
        let fp = fingerprint(key);
        for g in &self.gens {
            let mask = g.slots.len() - 1;
            let mut pos = key as usize & mask;
            for _ in 0..MAX_PROBE {
                let s = g.slots[pos];
                if s == 0 {
                    break;
                }
                if s & !DOC_MASK == fp {
                    f((s & DOC_MASK) - 1);
                }
                pos = (pos + 1) & mask;
            }
        }
    }

    fn bytes(&self) -> usize {
        self.gens.iter().map(|g| g.slots.len() * 4).sum()
    }
}

/// Settings an index was built with; a saved index only loads with the same.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct IndexParams {
    pub sig: SigParams,
    pub fold_case: bool,
    pub fold_whitespace: bool,
    pub fold_punctuation: bool,
}

/// Memory of the index by level, in bytes (allocated, not just used).
#[derive(Debug, Clone, Copy, Default)]
pub struct IndexBytes {
    pub ids: usize,
    pub exact: usize,
    pub near_bands: usize,
    pub near_sigs: usize,
    pub paragraphs: usize,
}
impl IndexBytes {
    pub fn total(&self) -> usize {
        self.ids + self.exact + self.near_bands + self.near_sigs + self.paragraphs
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Index {
    pub params: Option<IndexParams>,
    id_bytes: Vec<u8>,
    id_ends: Vec<u32>,
    #[serde(with = "exact_serde")]
    exact: HashMapU64<u32>,
    sig_words: usize,
    /// Signatures in chunks of SIG_CHUNK documents, allocated whole, so the
    /// memory per document stays num_perm / 8 bytes (a growing Vec would
    /// over-allocate by up to 2x).
    sigs: Vec<Vec<u64>>,
    bands: Vec<BandTable>,
    #[serde(with = "exact_serde")]
    paragraphs: HashMapU64<u32>,
}

/// Hash maps are saved as sorted pairs so the file is deterministic.
mod exact_serde {
    use super::HashMapU64;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    pub fn serialize<S: Serializer>(m: &HashMapU64<u32>, s: S) -> Result<S::Ok, S::Error> {
        let mut v: Vec<(u64, u32)> = m.iter().map(|(k, v)| (*k, *v)).collect();
        v.sort_unstable();
        v.serialize(s)
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<HashMapU64<u32>, D::Error> {
        let v: Vec<(u64, u32)> = Vec::deserialize(d)?;
        Ok(v.into_iter().collect())
    }
}

const MAGIC: &[u8; 8] = b"SBDEDUP\0";
const VERSION: u32 = 1;

impl Index {
    pub fn new(params: IndexParams) -> Self {
        Index {
            params: Some(params),
            sig_words: params.sig.num_perm.div_ceil(64),
            bands: vec![BandTable::default(); params.sig.bands],
            ..Default::default()
        }
    }

    /// Number of kept documents remembered.
    pub fn docs(&self) -> usize {
        self.id_ends.len()
    }

    pub fn id(&self, doc: u32) -> &str {
        let i = doc as usize;
        let start = if i == 0 {
            0
        } else {
            self.id_ends[i - 1] as usize
        };
        let end = self.id_ends.get(i).map_or(start, |&e| e as usize);
        std::str::from_utf8(self.id_bytes.get(start..end).unwrap_or(&[])).unwrap_or("?")
    }

    pub fn exact(&self, hash: u64) -> Option<u32> {
        self.exact.get(&hash).copied()
    }

    /// The most similar kept document among the LSH candidates whose
    /// estimated Jaccard is at least `threshold` (ties: the earliest).
    pub fn best_near(&self, sig: &NearSig, threshold: f64) -> Option<(u32, f64)> {
        let mut best: Option<(u32, f64)> = None;
        self.for_each_match(sig, threshold, |doc, est| {
            if best.is_none_or(|(d, s)| est > s || (est == s && doc < d)) {
                best = Some((doc, est));
            }
        });
        best
    }

    /// Calls `f(doc, estimate)` for every verified candidate (a document
    /// found under several bands is reported once per band).
    pub fn for_each_match(&self, sig: &NearSig, threshold: f64, mut f: impl FnMut(u32, f64)) {
        let Some(p) = self.params else { return };
        for (b, &key) in sig.bands.iter().enumerate() {
            let Some(table) = self.bands.get(b) else {
                break;
            };
            let rows = b * p.sig.rows..(b + 1) * p.sig.rows;
            table.candidates(key, |doc| {
                let Some(other) = self.sig(doc) else { return };
                // A true band match has equal bits on the band's rows.
                if rows.clone().any(|i| bit(&sig.bits, i) != bit(other, i)) {
                    return;
                }
                let est = crate::minhash::estimate(&sig.bits, other, p.sig.num_perm);
                if est >= threshold {
                    f(doc, est);
                }
            });
        }
    }

    /// Remember a kept document; returns its number.
    pub fn add(
        &mut self,
        id: &str,
        exact: Option<u64>,
        near: Option<&NearSig>,
    ) -> Result<u32, String> {
        let doc = u32::try_from(self.id_ends.len())
            .ok()
            .filter(|&d| (d as usize) < MAX_DOCS)
            .ok_or(
                "dedupe index is full (2^28 - 2 kept documents); deduplicate the input in parts",
            )?;
        self.id_bytes.extend_from_slice(id.as_bytes());
        let end = u32::try_from(self.id_bytes.len())
            .map_err(|_| "dedupe index: ids exceed 4 GiB".to_string())?;
        self.id_ends.push(end);
        if let Some(h) = exact {
            self.exact.entry(h).or_insert(doc);
        }
        if (doc as usize).is_multiple_of(SIG_CHUNK) {
            self.sigs
                .push(Vec::with_capacity(SIG_CHUNK * self.sig_words));
        }
        let Some(chunk) = self.sigs.last_mut() else {
            return Err("dedupe index: no signature chunk".into());
        };
        let start = chunk.len();
        if let Some(sig) = near {
            chunk.extend(sig.bits.iter().take(self.sig_words));
            for (table, &key) in self.bands.iter_mut().zip(&sig.bands) {
                table.insert(key, doc);
            }
        }
        chunk.resize(start + self.sig_words, 0);
        Ok(doc)
    }

    fn sig(&self, doc: u32) -> Option<&[u64]> {
        let d = doc as usize;
        let start = (d % SIG_CHUNK) * self.sig_words;
        self.sigs
            .get(d / SIG_CHUNK)?
            .get(start..start + self.sig_words)
    }

    /// How many earlier kept documents held this paragraph.
    pub fn paragraph_count(&self, hash: u64) -> u32 {
        self.paragraphs.get(&hash).copied().unwrap_or(0)
    }

    pub fn count_paragraph(&mut self, hash: u64) {
        let c = self.paragraphs.entry(hash).or_insert(0);
        *c = c.saturating_add(1);
    }

    pub fn bytes(&self) -> IndexBytes {
        let entry = std::mem::size_of::<(u64, u32)>() + 1;
        IndexBytes {
            ids: self.id_bytes.capacity() + self.id_ends.capacity() * 4,
            exact: self.exact.capacity() * entry,
            near_bands: self.bands.iter().map(BandTable::bytes).sum(),
            // O(1): every chunk is allocated whole (loaded ones may be
            // smaller, so this is an upper bound); decide calls this per doc.
            near_sigs: self.sigs.len() * SIG_CHUNK * self.sig_words * 8,
            paragraphs: self.paragraphs.capacity() * entry,
        }
    }

    pub fn save(&self, path: &std::path::Path) -> Result<(), String> {
        let body = postcard::to_stdvec(self).map_err(|e| e.to_string())?;
        let mut out = Vec::with_capacity(body.len() + 12);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&body);
        // Write then rename, so a crash never leaves a truncated index.
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, &out).map_err(|e| e.to_string())?;
        std::fs::rename(&tmp, path).map_err(|e| e.to_string())
    }

    pub fn load(path: &std::path::Path, expect: IndexParams) -> Result<Self, String> {
        let data = std::fs::read(path).map_err(|e| e.to_string())?;
        if data.len() < 12 || &data[..8] != MAGIC {
            return Err("not a sluicebox dedupe index".into());
        }
        let version = u32::from_le_bytes([data[8], data[9], data[10], data[11]]);
        if version != VERSION {
            return Err(format!(
                "index format version {version}, this build reads {VERSION}"
            ));
        }
        let index: Index =
            postcard::from_bytes(&data[12..]).map_err(|e| format!("corrupt index: {e}"))?;
        match index.params {
            Some(p) if p == expect => {}
            Some(p) => {
                return Err(format!(
                    "index was built with different settings ({p:?}); this stage uses {expect:?}"
                ))
            }
            None => return Err("index has no settings".into()),
        }
        if index.bands.len() != expect.sig.bands
            || index.sigs.iter().map(Vec::len).sum::<usize>()
                != index.id_ends.len() * index.sig_words
            || index
                .sigs
                .iter()
                .any(|c| c.len() > SIG_CHUNK * index.sig_words)
            || index
                .bands
                .iter()
                .flat_map(|b| &b.gens)
                .any(|g| !g.slots.len().is_power_of_two())
        {
            return Err("corrupt index: table sizes disagree".into());
        }
        Ok(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::minhash::fmix64;

    fn params() -> IndexParams {
        IndexParams {
            sig: SigParams {
                ngram: 5,
                num_perm: 128,
                bands: 3,
                rows: 2,
            },
            fold_case: true,
            fold_whitespace: true,
            fold_punctuation: true,
        }
    }

    /// A pseudo-random signature per document number.
    fn sig(d: u64) -> NearSig {
        NearSig {
            bands: (0..3).map(|b| fmix64(d * 8 + b)).collect(),
            bits: (0..2).map(|w| fmix64(d * 8 + 100 + w)).collect(),
        }
    }

    #[test]
    fn many_documents_across_chunks_and_generations_roundtrip() {
        let mut index = Index::new(params());
        let n = 40_000u64; // > 16384 * 0.7 + 32768 * 0.7: three generations, ten chunks
        for d in 0..n {
            index
                .add(&format!("doc-{d}"), Some(fmix64(d)), Some(&sig(d)))
                .unwrap();
        }
        assert_eq!(index.docs(), n as usize);
        assert!(index.bands[0].gens.len() >= 3, "tables should have grown");
        for d in [0, 1, SIG_CHUNK as u64 - 1, SIG_CHUNK as u64, n - 1] {
            assert_eq!(index.best_near(&sig(d), 0.9), Some((d as u32, 1.0)));
            assert_eq!(index.exact(fmix64(d)), Some(d as u32));
            assert_eq!(index.id(d as u32), format!("doc-{d}"));
        }
        // Unrelated signatures match nothing at a high threshold.
        assert_eq!(index.best_near(&sig(n + 7), 0.8), None);

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("i.idx");
        index.save(&path).unwrap();
        let back = Index::load(&path, params()).unwrap();
        assert_eq!(back.docs(), index.docs());
        assert_eq!(
            back.best_near(&sig(n - 1), 0.9),
            Some(((n - 1) as u32, 1.0))
        );
        let mut other = params();
        other.fold_case = false;
        assert!(Index::load(&path, other)
            .unwrap_err()
            .contains("different settings"));
    }
}
