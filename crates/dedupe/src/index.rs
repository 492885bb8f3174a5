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
//! The 1-bit signature is only a prefilter: a candidate whose 1-bit
//! estimate is within [`PREFILTER_MARGIN`] of the threshold is verified on
//! its bottom-k shingle set ([`SET_K`] 32-bit hashes at most), which lives
//! on disk in an append-only *sets file* (a temporary file, or
//! `<index>.sets` next to a persistent index) read with one positioned read
//! per verified candidate. Memory keeps a 4-byte record offset per document
//! (in 16-byte units, so the file may reach 64 GiB). Verified candidates
//! are near-duplicates in practice, so reads are rare (about one per
//! dropped document).
//!
//! Lookups and inserts are O(bands * generations) expected; the index is
//! saved with postcard behind a magic/version header.

use crate::minhash::{NearSig, SigParams, SET_K};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fs::File;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

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

/// A candidate is read from disk when its 1-bit estimate is at least
/// `threshold - PREFILTER_MARGIN`: four standard deviations of the 1-bit
/// estimate at J = 0.8 (0.0375 with 256 bits), so the prefilter loses
/// almost no true near-duplicate.
pub const PREFILTER_MARGIN: f64 = 0.15;

/// Offset of a document without a verification set.
const NO_SET: u32 = u32::MAX;
/// Sets-file records start on multiples of this, so a `u32` offset in these
/// units addresses 64 GiB.
const SET_ALIGN: u64 = 16;
const SETS_MAGIC: &[u8; 8] = b"SBDSETS\0";
/// The sets file starts with magic, version and padding to SET_ALIGN.
const SETS_HEADER: u64 = 16;
/// Appends are buffered up to this many bytes before a write.
const SETS_BUF: usize = 1 << 20;

/// The append-only sets file: records of `count: u32` then `count` u32
/// hashes (little endian), each padded to SET_ALIGN bytes.
#[derive(Debug)]
struct SetStore {
    file: File,
    /// Where the file lives when it is kept (None: an unnamed temp file).
    path: Option<PathBuf>,
    /// Bytes in the file plus the buffer.
    len: u64,
    /// Not yet written records, which start at `len - buf.len()`.
    buf: Vec<u8>,
}

impl SetStore {
    fn header() -> [u8; SETS_HEADER as usize] {
        let mut h = [0u8; SETS_HEADER as usize];
        h[..8].copy_from_slice(SETS_MAGIC);
        h[8..12].copy_from_slice(&VERSION.to_le_bytes());
        h
    }

    /// A fresh store: a temp file, or `path` truncated.
    fn create(path: Option<&Path>) -> Result<Self, String> {
        let file = match path {
            None => tempfile::tempfile().map_err(|e| format!("dedupe sets temp file: {e}"))?,
            Some(p) => File::options()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(p)
                .map_err(|e| format!("{}: {e}", p.display()))?,
        };
        let mut store = SetStore {
            file,
            path: path.map(Path::to_path_buf),
            len: 0,
            buf: Vec::new(),
        };
        store.buf.extend_from_slice(&Self::header());
        store.len = SETS_HEADER;
        Ok(store)
    }

    /// An existing sets file of which the index uses the first `len` bytes
    /// (anything after them was appended by a run that never saved).
    fn open(path: &Path, len: u64) -> Result<Self, String> {
        let name = path.display();
        let mut file = File::options()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| format!("sets file {name} of the index: {e}"))?;
        let mut head = [0u8; SETS_HEADER as usize];
        file.read_exact(&mut head)
            .map_err(|e| format!("sets file {name}: {e}"))?;
        if head != Self::header() {
            return Err(format!(
                "{name} is not a sets file of this index format (version {VERSION})"
            ));
        }
        let actual = file.metadata().map_err(|e| e.to_string())?.len();
        if actual < len {
            return Err(format!(
                "sets file {name} is {actual} bytes, the index expects {len}: truncated"
            ));
        }
        file.set_len(len).map_err(|e| format!("{name}: {e}"))?;
        Ok(SetStore {
            file,
            path: Some(path.to_path_buf()),
            len,
            buf: Vec::new(),
        })
    }

    /// Appends a set; returns its offset in SET_ALIGN units.
    fn append(&mut self, set: &[u32]) -> Result<u32, String> {
        let unit = u32::try_from(self.len / SET_ALIGN)
            .ok()
            .filter(|&u| u != NO_SET)
            .ok_or("dedupe sets file reached 64 GiB; deduplicate the input in parts")?;
        let start = self.buf.len();
        self.buf
            .extend_from_slice(&(set.len() as u32).to_le_bytes());
        for v in set {
            self.buf.extend_from_slice(&v.to_le_bytes());
        }
        let padded = (self.buf.len() - start).next_multiple_of(SET_ALIGN as usize);
        self.buf.resize(start + padded, 0);
        self.len += padded as u64;
        if self.buf.len() >= SETS_BUF {
            self.flush()?;
        }
        Ok(unit)
    }

    fn flush(&mut self) -> Result<(), String> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let at = self.len - self.buf.len() as u64;
        self.file
            .seek(SeekFrom::Start(at))
            .and_then(|_| self.file.write_all(&self.buf))
            .map_err(|e| format!("dedupe sets file: {e}"))?;
        self.buf.clear();
        Ok(())
    }

    /// Reads the set at `unit` into `out`.
    fn read(&self, unit: u32, out: &mut Vec<u32>) -> Result<(), String> {
        let at = unit as u64 * SET_ALIGN;
        let buf_start = self.len - self.buf.len() as u64;
        let corrupt = || format!("dedupe sets file: bad record at byte {at}");
        out.clear();
        if at >= buf_start {
            let rec = self
                .buf
                .get((at - buf_start) as usize..)
                .ok_or_else(corrupt)?;
            let n = rec
                .get(..4)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
                .filter(|&n| n <= SET_K)
                .ok_or_else(corrupt)?;
            let body = rec.get(4..4 + 4 * n).ok_or_else(corrupt)?;
            out.extend(
                body.chunks_exact(4)
                    .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            );
            return Ok(());
        }
        // One read of the largest record; the file may end sooner.
        let mut bytes = vec![0u8; 4 + 4 * SET_K];
        let mut f = &self.file;
        f.seek(SeekFrom::Start(at)).map_err(|e| e.to_string())?;
        let mut got = 0;
        while got < bytes.len() {
            match f.read(&mut bytes[got..]) {
                Ok(0) => break,
                Ok(k) => got += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("dedupe sets file: {e}")),
            }
        }
        let n = bytes
            .get(..4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
            .filter(|&n| n <= SET_K && 4 + 4 * n <= got)
            .ok_or_else(corrupt)?;
        out.extend(
            bytes[4..4 + 4 * n]
                .chunks_exact(4)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        );
        Ok(())
    }
}

/// The sets file kept next to a persistent index.
pub fn sets_path(index: &Path) -> PathBuf {
    let mut name = index.as_os_str().to_owned();
    name.push(".sets");
    PathBuf::from(name)
}

fn bit(words: &[u64], i: usize) -> u64 {
    words.get(i / 64).map_or(0, |w| (w >> (i % 64)) & 1)
}

/// Whether two documents whose band `band` keys are equal become a
/// candidate: a true band match has equal bits on the band's rows, and the
/// 1-bit estimate must be within [`PREFILTER_MARGIN`] of `threshold`. One
/// function for the index and for cluster plans ([`crate::shuffle`]), so
/// both find the same pairs.
pub fn band_prefilter(a: &[u64], b: &[u64], band: usize, p: &SigParams, threshold: f64) -> bool {
    let rows = band * p.rows..(band + 1) * p.rows;
    if rows.clone().any(|i| bit(a, i) != bit(b, i)) {
        return false;
    }
    crate::minhash::estimate(a, b, p.num_perm) >= threshold - PREFILTER_MARGIN
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
    /// Sets-file offsets (4 bytes per document).
    pub near_offsets: usize,
    /// On disk, not in memory: the sets file.
    pub near_disk: u64,
    pub paragraphs: usize,
}
impl IndexBytes {
    /// In-memory bytes (the sets file is not counted).
    pub fn total(&self) -> usize {
        self.ids + self.exact + self.near_memory() + self.paragraphs
    }
    /// In-memory bytes of the near-duplicate level.
    pub fn near_memory(&self) -> usize {
        self.near_bands + self.near_sigs + self.near_offsets
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
    /// Per document, the sets-file offset of its verification set in
    /// SET_ALIGN units (NO_SET: none), in chunks of SIG_CHUNK like `sigs`.
    set_offsets: Vec<Vec<u32>>,
    /// Bytes of the sets file this index refers to.
    sets_len: u64,
    #[serde(skip)]
    store: Option<SetStore>,
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
/// 2: verification sets in a separate sets file (version 1 kept 1-bit
/// signatures only).
const VERSION: u32 = 2;

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
    /// verified Jaccard is at least `threshold` (ties: the earliest).
    pub fn best_near(&self, sig: &NearSig, threshold: f64) -> Result<Option<(u32, f64)>, String> {
        let mut best: Option<(u32, f64)> = None;
        self.for_each_match(sig, threshold, |doc, sim| {
            if best.is_none_or(|(d, s)| sim > s || (sim == s && doc < d)) {
                best = Some((doc, sim));
            }
        })?;
        Ok(best)
    }

    /// Calls `f(doc, similarity)` once for every candidate whose Jaccard,
    /// verified on the bottom-k sets, is at least `threshold`, in document
    /// order. Errors only when the sets file cannot be read.
    pub fn for_each_match(
        &self,
        sig: &NearSig,
        threshold: f64,
        mut f: impl FnMut(u32, f64),
    ) -> Result<(), String> {
        let Some(p) = self.params else {
            return Ok(());
        };
        let mut cands: Vec<u32> = Vec::new();
        for (b, &key) in sig.bands.iter().enumerate() {
            let Some(table) = self.bands.get(b) else {
                break;
            };
            table.candidates(key, |doc| {
                let Some(other) = self.sig(doc) else { return };
                if band_prefilter(&sig.bits, other, b, &p.sig, threshold) {
                    cands.push(doc);
                }
            });
        }
        cands.sort_unstable();
        cands.dedup();
        let mut other = Vec::new();
        for doc in cands {
            let Some(unit) = self.set_offset(doc).filter(|&u| u != NO_SET) else {
                continue;
            };
            let Some(store) = &self.store else {
                return Err("dedupe index: sets file not open".into());
            };
            store.read(unit, &mut other)?;
            let sim = crate::minhash::set_jaccard(&sig.set, &other, SET_K);
            if sim >= threshold {
                f(doc, sim);
            }
        }
        Ok(())
    }

    fn set_offset(&self, doc: u32) -> Option<u32> {
        let d = doc as usize;
        self.set_offsets
            .get(d / SIG_CHUNK)?
            .get(d % SIG_CHUNK)
            .copied()
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
            self.set_offsets.push(Vec::with_capacity(SIG_CHUNK));
        }
        let unit = match near {
            Some(sig) => {
                if self.store.is_none() {
                    self.store = Some(SetStore::create(None)?);
                }
                let Some(store) = self.store.as_mut() else {
                    return Err("dedupe index: no sets file".into());
                };
                let unit = store.append(&sig.set)?;
                self.sets_len = store.len;
                unit
            }
            None => NO_SET,
        };
        if let Some(offsets) = self.set_offsets.last_mut() {
            offsets.push(unit);
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
            near_offsets: self.set_offsets.len() * SIG_CHUNK * 4,
            near_disk: self.sets_len,
            paragraphs: self.paragraphs.capacity() * entry,
        }
    }

    /// Keeps the verification sets in `path` (normally [`sets_path`] of the
    /// index file) from now on; sets already in a temp file are copied.
    pub fn persist_sets(&mut self, path: &Path) -> Result<(), String> {
        if self.store.as_ref().and_then(|s| s.path.as_deref()) == Some(path) {
            return Ok(());
        }
        let mut new = SetStore::create(Some(path))?;
        if let Some(old) = self.store.as_mut() {
            old.flush()?;
            let mut f = &old.file;
            f.seek(SeekFrom::Start(SETS_HEADER))
                .map_err(|e| e.to_string())?;
            new.flush()?;
            std::io::copy(&mut f.take(old.len - SETS_HEADER), &mut new.file)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            new.len = old.len;
        }
        self.store = Some(new);
        self.sets_len = self.store.as_ref().map_or(0, |s| s.len);
        Ok(())
    }

    /// Saves the index to `path` and its sets to [`sets_path`]`(path)`.
    pub fn save(&mut self, path: &Path) -> Result<(), String> {
        self.save_with_sets(path, &sets_path(path))
    }

    /// Saves the index to `path` and its sets to `sets`. Once the sets file
    /// is there, later saves only append to it, so saving again and again
    /// (checkpoints) costs the in-memory index, not the sets.
    pub fn save_with_sets(&mut self, path: &Path, sets: &Path) -> Result<(), String> {
        let sets = sets.to_path_buf();
        self.persist_sets(&sets)?;
        if let Some(store) = self.store.as_mut() {
            store.flush()?;
            store
                .file
                .sync_all()
                .map_err(|e| format!("{}: {e}", sets.display()))?;
            self.sets_len = store.len;
        }
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
        Self::load_with_sets(path, &sets_path(path), expect)
    }

    /// Loads an index saved with [`Index::save_with_sets`]; bytes the sets
    /// file gained after that save are cut off.
    pub fn load_with_sets(path: &Path, sets: &Path, expect: IndexParams) -> Result<Self, String> {
        let data = std::fs::read(path).map_err(|e| e.to_string())?;
        if data.len() < 12 || &data[..8] != MAGIC {
            return Err("not a sluicebox dedupe index".into());
        }
        let version = u32::from_le_bytes([data[8], data[9], data[10], data[11]]);
        if version != VERSION {
            return Err(format!(
                "index format version {version}, this build reads only version {VERSION}; \
                 delete the file (and any .sets file next to it) to build a new index"
            ));
        }
        let mut index: Index =
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
            || index.set_offsets.iter().map(Vec::len).sum::<usize>() != index.id_ends.len()
            || index
                .bands
                .iter()
                .flat_map(|b| &b.gens)
                .any(|g| !g.slots.len().is_power_of_two())
        {
            return Err("corrupt index: table sizes disagree".into());
        }
        if index.sets_len > 0 {
            index.store = Some(SetStore::open(sets, index.sets_len)?);
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
            set: {
                let mut v: Vec<u32> = (0..40).map(|i| fmix64(d * 64 + i) as u32).collect();
                v.sort_unstable();
                v.dedup();
                v
            },
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
            assert_eq!(
                index.best_near(&sig(d), 0.9).unwrap(),
                Some((d as u32, 1.0))
            );
            assert_eq!(index.exact(fmix64(d)), Some(d as u32));
            assert_eq!(index.id(d as u32), format!("doc-{d}"));
        }
        // Unrelated signatures match nothing at a high threshold.
        assert_eq!(index.best_near(&sig(n + 7), 0.8).unwrap(), None);

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("i.idx");
        index.save(&path).unwrap();
        let back = Index::load(&path, params()).unwrap();
        assert_eq!(back.docs(), index.docs());
        assert_eq!(
            back.best_near(&sig(n - 1), 0.9).unwrap(),
            Some(((n - 1) as u32, 1.0))
        );
        // The sets file sits next to the index; the loaded index reads it.
        assert!(sets_path(&path).exists());
        assert_eq!(back.bytes().near_disk, index.bytes().near_disk);
        let mut other = params();
        other.fold_case = false;
        assert!(Index::load(&path, other)
            .unwrap_err()
            .contains("different settings"));
    }

    /// A near-duplicate is decided on the verification set, not the 1-bit
    /// prefilter: same bits and bands, but sets sharing 1 of 3 hashes.
    #[test]
    fn verification_uses_the_sets_not_the_bits() {
        let mut index = Index::new(params());
        let mut a = sig(1);
        a.set = vec![10, 20, 30, 40, 50];
        index.add("a", None, Some(&a)).unwrap();
        let mut b = a.clone();
        b.set = vec![10, 20, 30, 40, 60]; // J = 4/6
        assert_eq!(index.best_near(&b, 0.8).unwrap(), None);
        let (doc, sim) = index.best_near(&b, 0.6).unwrap().unwrap();
        assert_eq!(doc, 0);
        assert!((sim - 4.0 / 6.0).abs() < 1e-12);
    }

    /// Old index files and stray sets files give a clear error, not garbage.
    #[test]
    fn old_versions_and_missing_sets_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.idx");
        let mut old = MAGIC.to_vec();
        old.extend_from_slice(&1u32.to_le_bytes());
        old.extend_from_slice(&[0; 32]);
        std::fs::write(&path, &old).unwrap();
        let err = Index::load(&path, params()).unwrap_err();
        assert!(err.contains("version 1") && err.contains("delete"), "{err}");

        let mut index = Index::new(params());
        index.add("a", None, Some(&sig(1))).unwrap();
        let path = dir.path().join("new.idx");
        index.save(&path).unwrap();
        std::fs::write(sets_path(&path), b"garbage garbage garbage").unwrap();
        let err = Index::load(&path, params()).unwrap_err();
        assert!(err.contains("not a sets file"), "{err}");
        std::fs::remove_file(sets_path(&path)).unwrap();
        assert!(Index::load(&path, params()).is_err());
    }
}
