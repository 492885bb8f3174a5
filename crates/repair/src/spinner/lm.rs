//! The n-gram language model that picks between a spun phrase and its
//! candidate originals.
//!
//! Tokens are lower-cased words (digit runs become one `<num>` token so
//! "May 3" and "May 17" share statistics) and single punctuation
//! characters. N-grams of order 1 to 3 are hashed to 64-bit keys; we never
//! store the strings, so memory is bounded by the table size, not by the
//! vocabulary.
//!
//! Two count sources are added together:
//! * [`CountTable`]: a count-min sketch (two hashes, saturating `u16`
//!   cells) learned from the corpus in the profile pass. Fixed size, so a
//!   profile of a terabyte dump takes the same memory as one of a megabyte;
//!   merging partials is an element-wise saturating add (associative and
//!   commutative, hence deterministic for any thread count).
//! * [`SparseCounts`]: the compact default model shipped with the crate
//!   (exact counts of the n-grams that touch lexicon words, see
//!   `examples/build_spinner_model.rs`), so small inputs work too.
//!
//! Scoring is "stupid backoff" (Brants et al. 2007): cheap, needs no
//! normalisation, and good enough to rank a handful of candidates that
//! share the same context.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use xxhash_rust::xxh3::xxh3_64;

/// Key of the `<num>` token.
const NUM_TOKEN: &[u8] = b"<num>";
/// Mixing constant for n-gram keys (the golden ratio, odd).
const MIX: u64 = 0x9E37_79B9_7F4A_7C15;

/// Hash of one token (already lower-cased).
pub fn token_hash(tok: &[u8]) -> u64 {
    xxh3_64(tok)
}

/// Key of the n-gram `hashes` (order = length). Different orders of the
/// same words give unrelated keys.
pub fn ngram_key(hashes: &[u64]) -> u64 {
    let mut k = (hashes.len() as u64).wrapping_mul(MIX);
    for &h in hashes {
        k = (k.rotate_left(23) ^ h).wrapping_mul(MIX);
    }
    k ^ (k >> 29)
}

/// Calls `f` with the hash of each token of `text`, in order.
///
/// A token is a run of alphanumeric characters (with inner apostrophes,
/// typographic ones folded to `'`, and inner hyphens), lower-cased; a digit
/// run is `<num>`; any other non-space character is a token by itself.
/// Linear in the text; allocation-free except for the reused buffer.
pub fn tokenize(text: &str, mut f: impl FnMut(u64)) {
    tokenize_while(text, |h| {
        f(h);
        true
    });
}

/// Like [`tokenize`], but stops as soon as `f` returns false (so that a
/// caller who needs two tokens of context reads only those).
pub fn tokenize_while(text: &str, mut f: impl FnMut(u64) -> bool) {
    // A stack buffer: callers tokenize a two-token context per lexicon
    // hit, and a heap buffer per call was a malloc/free per hit.
    let mut buf = TokBuf::new();
    let mut chars = text.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        if c.is_whitespace() {
            continue;
        }
        if c.is_alphanumeric() {
            buf.clear();
            let mut all_digits = c.is_ascii_digit();
            push_lower(&mut buf, c);
            while let Some(&(_, n)) = chars.peek() {
                if n.is_alphanumeric() {
                    all_digits &= n.is_ascii_digit() || n == ',' || n == '.';
                    push_lower(&mut buf, n);
                    chars.next();
                } else if n == '\''
                    || n == '\u{2019}'
                    || n == '-'
                    || (all_digits && (n == ',' || n == '.'))
                {
                    // Keep an inner apostrophe/hyphen only if a letter follows.
                    let mut ahead = chars.clone();
                    ahead.next();
                    match ahead.peek() {
                        Some(&(_, m)) if m.is_alphanumeric() => {
                            if n != ',' && n != '.' {
                                all_digits = false;
                                buf.push(if n == '-' { b'-' } else { b'\'' });
                            }
                            chars.next();
                        }
                        _ => break,
                    }
                } else {
                    break;
                }
            }
            let h = if all_digits {
                token_hash(NUM_TOKEN)
            } else {
                token_hash(buf.as_slice())
            };
            if !f(h) {
                return;
            }
        } else {
            let mut tmp = [0u8; 4];
            let c = if c == '\u{2019}' || c == '\u{2018}' {
                '\''
            } else if c == '\u{201c}' || c == '\u{201d}' {
                '"'
            } else {
                c
            };
            if !f(token_hash(c.encode_utf8(&mut tmp).as_bytes())) {
                return;
            }
        }
    }
}

/// Bytes of the current token: on the stack, spilling to the heap only
/// for tokens longer than the stack part (rare: URLs, long digit runs).
struct TokBuf {
    stack: [u8; 64],
    len: usize,
    heap: Vec<u8>,
}

impl TokBuf {
    fn new() -> Self {
        TokBuf {
            stack: [0; 64],
            len: 0,
            heap: Vec::new(),
        }
    }

    fn clear(&mut self) {
        self.len = 0;
        self.heap.clear();
    }

    #[inline]
    fn push(&mut self, b: u8) {
        if self.heap.is_empty() && self.len < self.stack.len() {
            self.stack[self.len] = b;
            self.len += 1;
        } else {
            if self.heap.is_empty() {
                self.heap.extend_from_slice(&self.stack[..self.len]);
            }
            self.heap.push(b);
        }
    }

    fn extend_from_slice(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.push(b);
        }
    }

    fn as_slice(&self) -> &[u8] {
        if self.heap.is_empty() {
            &self.stack[..self.len]
        } else {
            &self.heap
        }
    }
}

fn push_lower(buf: &mut TokBuf, c: char) {
    let mut tmp = [0u8; 4];
    if c.is_ascii() {
        buf.push(c.to_ascii_lowercase() as u8);
    } else {
        for l in c.to_lowercase() {
            buf.extend_from_slice(l.encode_utf8(&mut tmp).as_bytes());
        }
    }
}

/// Token hashes of `text` as a vector.
pub fn tokens(text: &str) -> Vec<u64> {
    let mut v = Vec::new();
    tokenize(text, |h| v.push(h));
    v
}

/// Calls `f(key)` for every 1-, 2- and 3-gram of `toks`.
pub fn for_each_ngram(toks: &[u64], mut f: impl FnMut(u64)) {
    for i in 0..toks.len() {
        for n in 1..=3 {
            if i + n <= toks.len() {
                f(ngram_key(&toks[i..i + n]));
            }
        }
    }
}

/// A count-min sketch of n-gram counts with two hash functions.
#[derive(Debug, Clone, PartialEq)]
pub struct CountTable {
    log2: u32,
    cells: Vec<u16>,
    /// Tokens observed (the denominator of unigram probabilities).
    pub tokens: u64,
}

const TABLE_MAGIC: &[u8; 8] = b"SLBXSPN1";

impl CountTable {
    /// An empty table of `2^log2` cells (two bytes each).
    pub fn new(log2: u32) -> Self {
        let log2 = log2.clamp(10, 30);
        CountTable {
            log2,
            cells: vec![0; 1usize << log2],
            tokens: 0,
        }
    }

    fn slots(&self, key: u64) -> (usize, usize) {
        let mask = (1u64 << self.log2) - 1;
        let a = (key & mask) as usize;
        let b = (key.rotate_left(32).wrapping_mul(MIX) >> (64 - self.log2)) as usize;
        (a, b)
    }

    pub fn add(&mut self, key: u64) {
        let (a, b) = self.slots(key);
        self.cells[a] = self.cells[a].saturating_add(1);
        self.cells[b] = self.cells[b].saturating_add(1);
    }

    pub fn get(&self, key: u64) -> u32 {
        let (a, b) = self.slots(key);
        u32::from(self.cells[a].min(self.cells[b]))
    }

    /// Learn the n-grams of one text.
    pub fn observe(&mut self, text: &str) {
        let toks = tokens(text);
        self.tokens += toks.len() as u64;
        for_each_ngram(&toks, |k| self.add(k));
    }

    /// Fold `other` in; tables of different sizes cannot merge.
    pub fn merge(&mut self, other: &CountTable) -> Result<(), String> {
        if other.log2 != self.log2 {
            return Err(format!(
                "profile tables differ in size ({} vs {})",
                self.log2, other.log2
            ));
        }
        for (a, b) in self.cells.iter_mut().zip(&other.cells) {
            *a = a.saturating_add(*b);
        }
        self.tokens += other.tokens;
        Ok(())
    }

    /// Serialise: magic, log2 (u32 LE), tokens (u64 LE), cells (u16 LE).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(20 + self.cells.len() * 2);
        out.extend_from_slice(TABLE_MAGIC);
        out.extend_from_slice(&self.log2.to_le_bytes());
        out.extend_from_slice(&self.tokens.to_le_bytes());
        for c in &self.cells {
            out.extend_from_slice(&c.to_le_bytes());
        }
        out
    }

    /// Inverse of [`CountTable::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        if bytes.len() < 20 || &bytes[..8] != TABLE_MAGIC {
            return Err("not a spinner profile (bad header)".into());
        }
        let log2 = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
        if !(10..=30).contains(&log2) {
            return Err(format!("spinner profile: bad table size 2^{log2}"));
        }
        let mut t = [0u8; 8];
        t.copy_from_slice(&bytes[12..20]);
        let tokens = u64::from_le_bytes(t);
        let body = &bytes[20..];
        if body.len() != 2usize << log2 {
            return Err("spinner profile: truncated".into());
        }
        let cells = body
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        Ok(CountTable {
            log2,
            cells,
            tokens,
        })
    }
}

/// Keys are already hashes: use them as they are.
#[derive(Default)]
pub struct IdHasher(u64);
impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Exact counts of selected n-grams (the shipped default model).
#[derive(Debug, Default, Clone)]
pub struct SparseCounts {
    map: HashMap<u64, u32, BuildHasherDefault<IdHasher>>,
    /// Tokens of the text the counts came from.
    pub tokens: u64,
}

const SPARSE_MAGIC: &[u8; 8] = b"SLBXSPD1";

impl SparseCounts {
    pub fn insert(&mut self, key: u64, count: u32) {
        self.map.insert(key, count);
    }
    pub fn get(&self, key: u64) -> u32 {
        self.map.get(&key).copied().unwrap_or(0)
    }
    pub fn len(&self) -> usize {
        self.map.len()
    }
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Serialise: magic, tokens (u64 LE), then the keys sorted, each as a
    /// LEB128 delta from the previous key followed by a LEB128 count.
    /// Sorted deltas of uniform 64-bit keys take ~6 bytes instead of 8.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut keys: Vec<(u64, u32)> = self.map.iter().map(|(k, v)| (*k, *v)).collect();
        keys.sort_unstable();
        let mut out = Vec::with_capacity(16 + keys.len() * 8);
        out.extend_from_slice(SPARSE_MAGIC);
        out.extend_from_slice(&self.tokens.to_le_bytes());
        let mut prev = 0u64;
        for (k, c) in keys {
            leb(&mut out, k - prev);
            leb(&mut out, u64::from(c));
            prev = k;
        }
        out
    }

    /// Inverse of [`SparseCounts::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        if bytes.len() < 16 || &bytes[..8] != SPARSE_MAGIC {
            return Err("not a spinner default model (bad header)".into());
        }
        let mut t = [0u8; 8];
        t.copy_from_slice(&bytes[8..16]);
        let mut s = SparseCounts {
            tokens: u64::from_le_bytes(t),
            ..Default::default()
        };
        let mut pos = 16;
        let mut prev = 0u64;
        while pos < bytes.len() {
            let d = unleb(bytes, &mut pos).ok_or("default model: truncated")?;
            let c = unleb(bytes, &mut pos).ok_or("default model: truncated")?;
            prev = prev.wrapping_add(d);
            s.map.insert(prev, u32::try_from(c).unwrap_or(u32::MAX));
        }
        Ok(s)
    }
}

fn leb(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn unleb(bytes: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    let mut shift = 0;
    loop {
        let b = *bytes.get(*pos)?;
        *pos += 1;
        if shift > 63 {
            return None;
        }
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(v);
        }
        shift += 7;
    }
}

/// The model the stage scores with: default counts plus corpus counts.
#[derive(Debug, Default)]
pub struct Model {
    pub default: std::sync::Arc<SparseCounts>,
    pub corpus: Option<CountTable>,
}

/// Stupid-backoff penalty per level.
const BACKOFF: f64 = 0.4;

impl Model {
    fn count(&self, key: u64) -> f64 {
        let mut c = f64::from(self.default.get(key));
        if let Some(t) = &self.corpus {
            c += f64::from(t.get(key));
        }
        c
    }

    fn total(&self) -> f64 {
        let mut n = self.default.tokens as f64;
        if let Some(t) = &self.corpus {
            n += t.tokens as f64;
        }
        n.max(1.0)
    }

    /// log P(w | u, v) with stupid backoff; `hist` holds up to two tokens.
    fn logp(&self, hist: &[u64], w: u64) -> f64 {
        let mut penalty = 0.0;
        if hist.len() >= 2 {
            let h = &hist[hist.len() - 2..];
            let c3 = self.count(ngram_key(&[h[0], h[1], w]));
            if c3 > 0.0 {
                let c2 = self.count(ngram_key(h)).max(c3);
                return (c3 / c2).ln();
            }
            penalty += BACKOFF.ln();
        }
        if let Some(&v) = hist.last() {
            let c2 = self.count(ngram_key(&[v, w]));
            if c2 > 0.0 {
                let c1 = self.count(ngram_key(&[v])).max(c2);
                return penalty + (c2 / c1).ln();
            }
            penalty += BACKOFF.ln();
        }
        let c1 = self.count(ngram_key(&[w]));
        penalty + ((c1 + 0.1) / self.total()).ln()
    }

    /// Log score of `cand` between `left` (up to two tokens, nearest last)
    /// and `right` (up to two tokens): the terms of the window's log
    /// probability that depend on the candidate.
    pub fn score(&self, left: &[u64], cand: &[u64], right: &[u64]) -> f64 {
        // Windows are short: a stack buffer avoids an allocation per call.
        let n = left.len() + cand.len() + right.len();
        let mut stack = [0u64; 24];
        let mut heap = Vec::new();
        let seq: &mut [u64] = if n <= stack.len() {
            &mut stack[..n]
        } else {
            heap.resize(n, 0);
            &mut heap
        };
        seq[..left.len()].copy_from_slice(left);
        seq[left.len()..left.len() + cand.len()].copy_from_slice(cand);
        seq[left.len() + cand.len()..].copy_from_slice(right);
        let mut s = 0.0;
        for i in left.len()..seq.len() {
            let lo = i.saturating_sub(2);
            s += self.logp(&seq[lo..i], seq[i]);
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenizer_folds_case_numbers_and_apostrophes() {
        assert_eq!(tokens("May 3"), tokens("may 17"));
        assert_eq!(tokens("People’s Republic"), tokens("people's republic"));
        assert_eq!(tokens("co-operation").len(), 1);
        assert_eq!(tokens("“extra unstable.”").len(), 5);
        assert_eq!(tokens("1,000 votes"), tokens("7 votes"));
        assert!(tokens("").is_empty());
        // Tokens longer than the stack buffer hash the same as short ones.
        let long = "Ü".repeat(50);
        assert_eq!(
            tokens(&format!("{long} x")),
            vec![token_hash(long.to_lowercase().as_bytes()), token_hash(b"x")]
        );
    }

    #[test]
    fn table_merges_and_round_trips() {
        let mut a = CountTable::new(12);
        a.observe("the military alliance said");
        let mut b = CountTable::new(12);
        b.observe("the military alliance told");
        a.merge(&b).unwrap();
        let k = ngram_key(&tokens("military alliance"));
        assert_eq!(a.get(k), 2);
        assert_eq!(a.tokens, 8);
        let back = CountTable::from_bytes(&a.to_bytes()).unwrap();
        assert_eq!(back, a);
        assert!(CountTable::from_bytes(b"junk").is_err());
        assert!(a.merge(&CountTable::new(13)).is_err());
    }

    #[test]
    fn sparse_round_trips() {
        let mut s = SparseCounts {
            tokens: 99,
            ..Default::default()
        };
        s.insert(5, 3);
        s.insert(u64::MAX, 70000);
        // Cut inside an entry (the LEB128 of u64::MAX - 5).
        assert!(SparseCounts::from_bytes(&s.to_bytes()[..20]).is_err());
        s.insert(0, 8);
        // Many keys, one of them replaced.
        for k in 1..1000u64 {
            s.insert(ngram_key(&[k]), k as u32);
        }
        s.insert(ngram_key(&[7]), 77);
        assert_eq!(s.len(), 1002);
        assert_eq!(s.get(ngram_key(&[7])), 77);
        assert_eq!(s.get(ngram_key(&[999])), 999);
        assert_eq!(s.get(ngram_key(&[1000])), 0);
        let back = SparseCounts::from_bytes(&s.to_bytes()).unwrap();
        assert_eq!(back.get(5), 3);
        assert_eq!(back.get(u64::MAX), 70000);
        assert_eq!(back.tokens, 99);
        assert_eq!(back.get(0), 8);
        assert_eq!(back.len(), s.len());
        assert_eq!(back.to_bytes(), s.to_bytes());
        assert_eq!(SparseCounts::default().get(42), 0);
    }

    #[test]
    fn model_prefers_seen_context() {
        let mut t = CountTable::new(14);
        for _ in 0..5 {
            t.observe("the military alliance said on monday");
        }
        t.observe("the navy ship sailed");
        let m = Model {
            default: Default::default(),
            corpus: Some(t),
        };
        let left = tokens("the");
        let right = tokens("alliance said");
        let good = m.score(&left, &tokens("military"), &right);
        let bad = m.score(&left, &tokens("navy"), &right);
        assert!(good > bad + 2.0, "{good} {bad}");
    }
}
