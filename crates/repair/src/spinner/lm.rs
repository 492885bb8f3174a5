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
//! * [`CountTable`]: n-gram counts learned from the corpus in the profile
//!   pass, a fixed-size table of 16-bit fingerprints and saturating 16-bit
//!   counts (a profile of a terabyte dump takes the same memory as one of a
//!   megabyte; when full, rare n-grams give way to frequent ones). Merging
//!   partials in batch order is deterministic for any thread count.
//! * [`SparseCounts`]: the compact default model shipped with the crate
//!   (exact counts of the n-grams that touch lexicon words, see
//!   `examples/build_spinner_model.rs`), so small inputs work too; read
//!   through [`DefaultCounts`], a cache-line-bucketed copy for lookups.
//!
//! Scoring is "stupid backoff" (Brants et al. 2007): cheap, needs no
//! normalisation, and good enough to rank a handful of candidates that
//! share the same context.

use rayon::prelude::*;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::OnceLock;
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
///
/// Walks bytes, decoding a character only where a byte is not ASCII: the
/// profile pass tokenizes the whole corpus, and an iterator of chars with a
/// cloned look-ahead per apostrophe was most of its cost. Same tokens as
/// the definition above for any text (tested against a char-by-char
/// reference).
pub fn tokenize_while(text: &str, mut f: impl FnMut(u64) -> bool) {
    tokenize_spans_while(text, |h, _, _| f(h));
}

/// Like [`tokenize_while`], with each token's byte span `start..end` in
/// `text` (the profile pass checks lexicon gates at token positions).
#[inline]
pub fn tokenize_spans_while(text: &str, mut f: impl FnMut(u64, usize, usize) -> bool) {
    // A stack buffer: callers tokenize a two-token context per lexicon
    // hit, and a heap buffer per call was a malloc/free per hit.
    let mut buf = TokBuf::new();
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        // Fast path for ASCII (most text): spaces, punctuation, and word
        // runs that end in a space or plain punctuation are finished here
        // without decoding characters or copying the word (unless it has
        // capitals). Anything else goes to the general code below.
        let x = b[i];
        if x < 0x80 {
            if x == b' ' || (b'\t'..=b'\r').contains(&x) {
                i += 1;
                continue;
            }
            if !x.is_ascii_alphanumeric() {
                i += 1;
                if !f(ascii_hash(x), i - 1, i) {
                    return;
                }
                continue;
            }
            let start = i;
            // Classes from a table: one load per byte instead of three
            // range tests.
            let (mut all, mut any) = (DIGIT, 0);
            while let Some(&y) = b.get(i) {
                let c = CLASS[usize::from(y)];
                if c & ALNUM == 0 {
                    break;
                }
                all &= c;
                any |= c;
                i += 1;
            }
            let (digits, upper) = (all & DIGIT != 0, any & UPPER != 0);
            let ends = match b.get(i) {
                None => true,
                Some(&n) => {
                    n < 0x80 && n != b'\'' && n != b'-' && !(digits && (n == b',' || n == b'.'))
                }
            };
            if ends {
                let h = if digits {
                    num_hash()
                } else if upper {
                    buf.clear();
                    for &y in &b[start..i] {
                        buf.push(y.to_ascii_lowercase());
                    }
                    token_hash(buf.as_slice())
                } else {
                    token_hash(&b[start..i])
                };
                if !f(h, start, i) {
                    return;
                }
                continue;
            }
            // A joiner or a non-ASCII letter may follow: start over with
            // the general code.
            i = start;
        }
        let (c, len) = char_at(text, i);
        let start = i;
        i += len;
        if c.is_whitespace() {
            continue;
        }
        if is_alnum(c) {
            buf.clear();
            let mut all_digits = c.is_ascii_digit();
            push_lower(&mut buf, c);
            loop {
                // ASCII letters and digits: the common case, byte by byte.
                while let Some(&x) = b.get(i) {
                    if !x.is_ascii_alphanumeric() {
                        break;
                    }
                    all_digits &= x.is_ascii_digit();
                    buf.push(x.to_ascii_lowercase());
                    i += 1;
                }
                if i >= b.len() {
                    break;
                }
                let (n, nlen) = char_at(text, i);
                if is_alnum(n) {
                    all_digits = false;
                    push_lower(&mut buf, n);
                    i += nlen;
                } else if n == '\''
                    || n == '\u{2019}'
                    || n == '-'
                    || (all_digits && (n == ',' || n == '.'))
                {
                    // Keep an inner apostrophe/hyphen only if a letter follows.
                    if i + nlen < b.len() && is_alnum(char_at(text, i + nlen).0) {
                        if n != ',' && n != '.' {
                            all_digits = false;
                            buf.push(if n == '-' { b'-' } else { b'\'' });
                        }
                        i += nlen;
                    } else {
                        break;
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
            if !f(h, start, i) {
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
            if !f(token_hash(c.encode_utf8(&mut tmp).as_bytes()), start, i) {
                return;
            }
        }
    }
}

/// Byte classes of the tokenizer's ASCII path ([`CLASS`]).
const ALNUM: u8 = 1;
const DIGIT: u8 = 2;
const UPPER: u8 = 4;
/// ASCII letters and digits: `ALNUM`, plus `DIGIT` or `UPPER`.
static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        if b.is_ascii_digit() {
            t[i] = ALNUM | DIGIT;
        } else if b.is_ascii_uppercase() {
            t[i] = ALNUM | UPPER;
        } else if b.is_ascii_lowercase() {
            t[i] = ALNUM;
        }
        i += 1;
    }
    t
};

/// Hash of the `<num>` token, computed once.
#[inline]
fn num_hash() -> u64 {
    static H: OnceLock<u64> = OnceLock::new();
    *H.get_or_init(|| token_hash(NUM_TOKEN))
}

/// Hash of a one-character ASCII token, from a table computed once.
#[inline]
fn ascii_hash(x: u8) -> u64 {
    static T: OnceLock<[u64; 128]> = OnceLock::new();
    T.get_or_init(|| std::array::from_fn(|i| token_hash(&[i as u8])))[usize::from(x & 0x7f)]
}

/// The character starting at byte `i` (a char boundary) and its length.
#[inline]
fn char_at(text: &str, i: usize) -> (char, usize) {
    let b = text.as_bytes()[i];
    if b < 0x80 {
        (char::from(b), 1)
    } else {
        let c = text[i..].chars().next().unwrap_or('\u{fffd}');
        (c, c.len_utf8())
    }
}

/// `char::is_alphanumeric`, answering the commonest non-ASCII characters of
/// web text (typographic quotes and dashes, accented Latin letters) without
/// the Unicode tables' binary search (tested equal for every character).
#[inline]
fn is_alnum(c: char) -> bool {
    match c as u32 {
        0..=0x7f => c.is_ascii_alphanumeric(),
        // Latin-1 letters, Latin Extended-A and -B: all letters but × ÷.
        0xc0..=0x24f => c != '\u{d7}' && c != '\u{f7}',
        // Cyrillic letters (not the signs and combining marks between).
        0x400..=0x481 | 0x48a..=0x4ff => true,
        // General Punctuation: spaces, dashes, quotes, bullets.
        0x2000..=0x206f => false,
        _ => c.is_alphanumeric(),
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
    } else if ('\u{c0}'..='\u{ff}').contains(&c) {
        // Latin-1: capitals À..Þ (but ×) are their small letter less 0x20;
        // the rest is lower case already (tested equal to `to_lowercase`).
        let l = if c <= '\u{de}' && c != '\u{d7}' {
            char::from_u32(c as u32 + 0x20).unwrap_or(c)
        } else {
            c
        };
        buf.extend_from_slice(l.encode_utf8(&mut tmp).as_bytes());
    } else if ('\u{400}'..='\u{45f}').contains(&c) {
        // Basic Cyrillic: Ѐ..Џ less 0x50, А..Я less 0x20, the rest small.
        let l = match c as u32 {
            0x400..=0x40f => char::from_u32(c as u32 + 0x50),
            0x410..=0x42f => char::from_u32(c as u32 + 0x20),
            _ => Some(c),
        };
        buf.extend_from_slice(l.unwrap_or(c).encode_utf8(&mut tmp).as_bytes());
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

/// Words too common to mark an n-gram as worth keeping (they occur in
/// lexicon phrases, "center for", but say nothing about a swap).
pub const FUNCTION_WORDS: &[&str] = &[
    "the", "a", "an", "of", "to", "in", "for", "and", "or", "with", "on", "at", "by", "is", "it",
    "that", "this", "as", "be", "was", "are", "from", "there", "have", "has", "had", "its", "no",
    "all", "any", "so", "up", "out", "'", ",", ".",
];

/// Token hashes of the lexicon's content words ("triggers").
pub type Triggers = std::collections::HashSet<u64, BuildHasherDefault<IdHasher>>;

/// Calls `f(key)` for the n-grams of `toks` that scoring can ask the
/// corpus table about. Scoring only looks at a window of two tokens either
/// side of a lexicon phrase, so an n-gram is kept when a trigger (a content
/// word of the lexicon) is near: a 3-gram holding one, a 2-gram holding one
/// or right before or after one (a history or a right context), a unigram
/// within two tokens of one. Text far from any lexicon word is never
/// stored, which keeps the table small and the profile pass cheap.
pub fn for_each_model_ngram(toks: &[u64], triggers: &Triggers, f: impl FnMut(u64)) {
    let flags: Vec<bool> = toks.iter().map(|t| triggers.contains(t)).collect();
    for_each_model_ngram_flagged(toks, &flags, f);
}

/// [`for_each_model_ngram`] with the trigger flag of each token given.
pub fn for_each_model_ngram_flagged(toks: &[u64], flags: &[bool], mut f: impl FnMut(u64)) {
    let n = toks.len().min(flags.len());
    let trig = |i: usize| i < n && flags[i];
    // Trigger flags of positions i-2 ..= i+2, rolled along.
    let mut w = [false, false, trig(0), trig(1), trig(2)];
    for i in 0..n {
        if w.iter().any(|&t| t) {
            f(ngram_key(&toks[i..i + 1]));
            if i + 1 < n && (w[1] || w[2] || w[3] || w[4]) {
                f(ngram_key(&toks[i..i + 2]));
            }
            if i + 2 < n && (w[2] || w[3] || w[4]) {
                f(ngram_key(&toks[i..i + 3]));
            }
        }
        w = [w[1], w[2], w[3], w[4], trig(i + 3)];
    }
}

/// Exact n-gram counts of a profile partial not yet in a [`CountTable`],
/// handed out in key order.
///
/// Open addressing, probed linearly from the key's top bits: the slots are
/// then nearly in key order already, so sorting them at the end is cheap,
/// and a batch's ~80k distinct n-grams cost one probe each (a `HashMap`
/// plus a sort of its entries was a fifth of the profile pass). The slot
/// memory is recycled across partials (the runner makes one per batch),
/// so that each batch does not fault in freshly zeroed pages.
#[derive(Debug, Default)]
pub struct PendingCounts {
    /// (key, count); key 0 marks an empty slot (key 0 is counted in `zero`).
    slots: Vec<(u64, u32)>,
    zero: u32,
    len: usize,
    /// Keys whose slots are being fetched into cache, counted when the
    /// queue is full: a batch's table is megabytes, and counting each key
    /// as it came waited for memory every time.
    queue: [u64; QUEUE],
    queued: usize,
}

/// Keys fetched ahead by [`PendingCounts::add`].
const QUEUE: usize = 16;

/// Slot tables given back by dropped [`PendingCounts`], emptied.
static PENDING_POOL: std::sync::Mutex<Vec<Vec<(u64, u32)>>> = std::sync::Mutex::new(Vec::new());
/// Tables kept in the pool at most (one per worker in flight, roughly).
const POOL_MAX: usize = 16;
/// Slots of a new table.
const PENDING_MIN: usize = 1 << 14;

impl PendingCounts {
    /// Add one to the count of `key` (counted a few keys later, see
    /// `queue`; every reader flushes the queue first).
    #[inline]
    pub fn add(&mut self, key: u64) {
        if self.queued == QUEUE {
            self.flush_queue();
        }
        if let Some(s) = self.slots.get(self.home(key)) {
            prefetch(s);
        }
        self.queue[self.queued] = key;
        self.queued += 1;
    }

    #[inline]
    fn home(&self, key: u64) -> usize {
        // An empty table: slot 0 (then not fetched: there is none).
        key.checked_shr(64 - self.slots.len().trailing_zeros())
            .unwrap_or(0) as usize
    }

    /// Count the queued keys.
    fn flush_queue(&mut self) {
        let n = std::mem::take(&mut self.queued);
        for i in 0..n {
            self.count(self.queue[i]);
        }
    }

    #[inline]
    fn count(&mut self, key: u64) {
        if key == 0 {
            self.zero = self.zero.saturating_add(1);
            return;
        }
        // At most three quarters full: the table is the profile pass's
        // main use of cache.
        if self.len * 4 >= self.slots.len() * 3 {
            self.grow();
        }
        let mask = self.slots.len() - 1;
        let mut i = self.home(key);
        loop {
            let s = &mut self.slots[i];
            if s.0 == key {
                s.1 = s.1.saturating_add(1);
                return;
            }
            if s.0 == 0 {
                *s = (key, 1);
                self.len += 1;
                return;
            }
            i = (i + 1) & mask;
        }
    }

    /// Double the table (or take the first one, from the pool if it can).
    #[cold]
    fn grow(&mut self) {
        if self.slots.is_empty() {
            let pooled = PENDING_POOL.lock().ok().and_then(|mut p| p.pop());
            self.slots = pooled.unwrap_or_else(|| vec![(0, 0); PENDING_MIN]);
            return;
        }
        let size = self.slots.len() * 2;
        let old = std::mem::replace(&mut self.slots, vec![(0, 0); size]);
        let (zero, len) = (self.zero, self.len);
        self.len = 0;
        for &(k, n) in old.iter().filter(|s| s.0 != 0) {
            let mask = self.slots.len() - 1;
            let mut i = self.home(k);
            while self.slots[i].0 != 0 {
                i = (i + 1) & mask;
            }
            self.slots[i] = (k, n);
            self.len += 1;
        }
        debug_assert_eq!(self.len, len);
        self.zero = zero;
    }

    /// Distinct keys counted.
    pub fn len(&mut self) -> usize {
        self.flush_queue();
        self.len + usize::from(self.zero > 0)
    }

    pub fn is_empty(&mut self) -> bool {
        self.len() == 0
    }

    /// Every (key, count) in increasing key order, into `out` (cleared).
    pub fn sorted_into(&mut self, out: &mut Vec<(u64, u32)>) {
        self.flush_queue();
        out.clear();
        if self.len == 0 && self.zero == 0 {
            // Nothing to find (a sealed partial's table is kept, empty).
            return;
        }
        out.reserve(self.len());
        if self.zero > 0 {
            out.push((0, self.zero));
        }
        // Slots follow the keys' top bits, so the keys come nearly in
        // order: out of place only within a run of taken slots, and for
        // the run that wrapped past the table's end to its start (whose
        // keys belong at the end). Put those last, then an insertion sort
        // finishes in about one pass; a sort if it would not.
        let wrapped = self
            .slots
            .iter()
            .enumerate()
            .take_while(|&(i, s)| s.0 != 0 && self.home(s.0) > i)
            .count();
        let first = out.len();
        out.extend(self.slots[wrapped..].iter().filter(|s| s.0 != 0).copied());
        out.extend_from_slice(&self.slots[..wrapped]);
        let body = &mut out[first..];
        let mut moves = 0usize;
        for i in 1..body.len() {
            let mut j = i;
            while j > 0 && body[j - 1].0 > body[j].0 {
                body.swap(j - 1, j);
                j -= 1;
            }
            moves += i - j;
            if moves > 8 * body.len() {
                body.sort_unstable();
                break;
            }
        }
    }

    /// [`PendingCounts::sorted_into`], emptying the counts (the table
    /// memory is kept for more).
    pub fn drain_sorted_into(&mut self, out: &mut Vec<(u64, u32)>) {
        self.sorted_into(out);
        if out.is_empty() {
            return;
        }
        self.slots.fill((0, 0));
        self.zero = 0;
        self.len = 0;
    }
}

impl Drop for PendingCounts {
    fn drop(&mut self) {
        if self.slots.len() < PENDING_MIN {
            return;
        }
        let mut slots = std::mem::take(&mut self.slots);
        if self.len > 0 {
            slots.fill((0, 0));
        }
        if let Ok(mut pool) = PENDING_POOL.lock() {
            if pool.len() < POOL_MAX {
                pool.push(slots);
            }
        }
    }
}

/// The model n-grams of one document, for leaving it out of the corpus
/// counts while it is scored (see [`Model::count`]). Only whether the
/// document holds an n-gram matters (one sighting is left out), so this is
/// a set: open addressing over the keys (already hashes), probed linearly.
/// Built once per scored document and read for every count the model
/// asks for; a `HashMap` of counts was a third of the scoring time.
#[derive(Debug, Clone, Default)]
pub struct OwnNgrams {
    /// Keys; 0 marks an empty slot (key 0 itself is kept in `zero`).
    slots: Vec<u64>,
    zero: bool,
}

impl OwnNgrams {
    /// The set of `keys` (duplicates allowed).
    pub fn from_keys(keys: &[u64]) -> Self {
        let size = (keys.len() * 2).next_power_of_two().max(16);
        let mut set = OwnNgrams {
            slots: vec![0; size],
            zero: false,
        };
        let mask = size - 1;
        for &k in keys {
            if k == 0 {
                set.zero = true;
                continue;
            }
            let mut i = k as usize & mask;
            loop {
                let s = set.slots[i];
                if s == k {
                    break;
                }
                if s == 0 {
                    set.slots[i] = k;
                    break;
                }
                i = (i + 1) & mask;
            }
        }
        set
    }

    /// Does the document hold `key`?
    #[inline]
    pub fn contains(&self, key: u64) -> bool {
        if key == 0 {
            return self.zero;
        }
        if self.slots.is_empty() {
            return false;
        }
        let mask = self.slots.len() - 1;
        let mut i = key as usize & mask;
        loop {
            let s = self.slots[i];
            if s == key {
                return true;
            }
            if s == 0 {
                return false;
            }
            i = (i + 1) & mask;
        }
    }
}

/// The n-grams [`for_each_model_ngram`] would count for `text`.
pub fn own_ngrams(text: &str, triggers: &Triggers) -> OwnNgrams {
    let toks = tokens(text);
    let mut keys = Vec::with_capacity(toks.len());
    for_each_model_ngram(&toks, triggers, |k| keys.push(k));
    OwnNgrams::from_keys(&keys)
}

/// Corpus n-gram counts learned in the profile pass: a bucketed hash table
/// of 16-bit fingerprints and 16-bit saturating counts (4 bytes a cell,
/// 8 cells a bucket, half a cache line).
///
/// Why not a count-min sketch (the first version): at a few million
/// distinct n-grams the sketch's cells all held collision noise, so unseen
/// phrases ("liaison workplace") read as seen and the backoff the model
/// relies on was lost. Here an unseen n-gram reads as seen only if its
/// fingerprint matches one of at most 8 others (about 1 in 8,000).
/// Memory is fixed: when a bucket is full, a new n-gram replaces the
/// bucket's rarest one only if it is more frequent (rare n-grams barely
/// move the model), otherwise it is not kept.
///
/// Merging adds counts cell by cell (bucket and fingerprint are positions,
/// so equal-sized tables need no keys); the runner merges in batch order, so
/// the result is the same for any thread count.
#[derive(Debug, Clone, PartialEq)]
pub struct CountTable {
    log2: u32,
    cells: Vec<u32>,
    /// Tokens observed (the denominator of unigram probabilities).
    pub tokens: u64,
}

const TABLE_MAGIC: &[u8; 8] = b"SLBXSPN2";
/// Cells per bucket.
const BUCKET: usize = 8;

impl CountTable {
    /// An empty table of `2^log2` cells (four bytes each). The cells of a
    /// [`CountTable::recycle`]d table are reused if there is one of this
    /// size: clearing it costs less than faulting in freshly zeroed pages
    /// (the profile pass makes one table per input file).
    pub fn new(log2: u32) -> Self {
        let log2 = log2.clamp(10, 30);
        CountTable {
            log2,
            cells: sluicebox_core::mem::table(1usize << log2),
            tokens: 0,
        }
    }

    /// Give the table's memory back for a later [`CountTable::new`].
    pub fn recycle(self) {
        sluicebox_core::mem::recycle(self.cells);
    }

    /// The table has `2^log2` cells.
    pub fn log2(&self) -> u32 {
        self.log2
    }

    /// First cell of the key's bucket, and its fingerprint (never 0, which
    /// marks an empty cell).
    #[inline]
    fn locate(&self, key: u64) -> (usize, u32) {
        locate_in(self.log2, key)
    }

    /// Add `n` to the count of `key`.
    pub fn add(&mut self, key: u64, n: u32) {
        let (b, fp) = self.locate(key);
        self.add_at(b, fp, n);
    }

    fn add_at(&mut self, b: usize, fp: u32, n: u32) {
        add_to_bucket(&mut self.cells[b..b + BUCKET], fp, n);
    }

    /// Add key-ordered counts (strictly increasing keys), leaving the table
    /// as [`CountTable::add`] of each in that order would. A key's bucket is
    /// its top bits, so keys in order are buckets in order: the table
    /// splits into stretches of buckets, each with its own run of the
    /// counts, and the stretches fill on the current rayon pool's threads.
    /// Every bucket sees the same adds in the same order, so the cells do
    /// not depend on how many threads there are.
    pub fn add_sorted(&mut self, counts: &[(u64, u32)]) {
        self.add_sorted_runs(&[counts]);
    }

    /// [`CountTable::add_sorted`] of each run in turn, in one pass: each
    /// stretch of buckets takes its part of every run, runs in order.
    pub fn add_sorted_runs(&mut self, runs: &[&[(u64, u32)]]) {
        debug_assert!(runs.iter().all(|r| r.windows(2).all(|w| w[0].0 < w[1].0)));
        let total = runs.iter().map(|r| r.len()).sum();
        let Some(stretch_log2) = self.stretch_log2(total) else {
            for &(k, n) in runs.iter().copied().flatten() {
                self.add(k, n);
            }
            return;
        };
        let per = self.cells.len() >> stretch_log2;
        let log2 = self.log2;
        // One pass: each stretch finds its own run of the counts.
        self.cells
            .par_chunks_mut(per)
            .enumerate()
            .for_each(|(i, cells)| {
                for counts in runs {
                    for &(k, n) in stretch_part(counts, stretch_log2, i) {
                        let (b, fp) = locate_in(log2, k);
                        let b = b - i * per;
                        add_to_bucket(&mut cells[b..b + BUCKET], fp, n);
                    }
                }
            });
    }

    /// How many stretches (log2) to split work of `n` items over, or None
    /// to stay on this thread (one thread, or too little work to share).
    fn stretch_log2(&self, n: usize) -> Option<u32> {
        let threads = rayon::current_num_threads();
        if threads < 2 || n < PAR_MIN_ADDS {
            return None;
        }
        // Four stretches a thread evens out uneven runs.
        let want = (threads * 4).next_power_of_two().trailing_zeros();
        Some(want.min(self.log2 - 3))
    }
}

/// Cells a table is copied to or from bytes at a time by one thread.
const COPY_PIECE: usize = sluicebox_core::mem::PIECE;

/// Below this many counts, [`CountTable::add_sorted`] adds on the calling
/// thread: sharing out the work would cost more than it saves.
const PAR_MIN_ADDS: usize = 1 << 14;

/// The part of key-ordered `counts` in stretch `i` of `2^stretch_log2`
/// equal stretches of the key space. Buckets and joint-table lines are the
/// keys' top bits, so a stretch of them is a stretch of keys.
fn stretch_part(counts: &[(u64, u32)], stretch_log2: u32, i: usize) -> &[(u64, u32)] {
    // (One stretch: a shift of 64, every key in stretch 0.)
    let of = |k: u64| k.checked_shr(64 - stretch_log2).unwrap_or(0) as usize;
    let lo = counts.partition_point(|&(k, _)| of(k) < i);
    let hi = counts.partition_point(|&(k, _)| of(k) <= i);
    &counts[lo..hi]
}

/// First cell of the key's bucket in a table of `2^log2` cells, and its
/// fingerprint (never 0, which marks an empty cell).
#[inline]
fn locate_in(log2: u32, key: u64) -> (usize, u32) {
    let b = (key >> (64 - (log2 - 3))) as usize * BUCKET;
    let fp = ((key.wrapping_mul(MIX) >> 48) as u32).max(1);
    (b, fp)
}

/// Add `n` to fingerprint `fp` in one bucket's cells (see [`CountTable`]:
/// cells fill in order; a full bucket swaps its rarest out for a more
/// frequent newcomer).
fn add_to_bucket(bucket: &mut [u32], fp: u32, n: u32) {
    let n = n.min(0xffff);
    let mut rarest = (u32::MAX, 0);
    for (i, c) in bucket.iter_mut().enumerate() {
        if *c == 0 {
            // Cells fill in order and are never emptied.
            *c = fp << 16 | n;
            return;
        }
        if *c >> 16 == fp {
            let sum = ((*c & 0xffff) + n).min(0xffff);
            *c = fp << 16 | sum;
            return;
        }
        if *c & 0xffff < rarest.0 {
            rarest = (*c & 0xffff, i);
        }
    }
    if rarest.0 < n {
        bucket[rarest.1] = fp << 16 | n;
    }
}

/// Fold one stretch of another table's buckets into the same stretch of
/// ours (see [`CountTable::merge`]).
fn merge_buckets(mine: &mut [u32], theirs: &[u32]) {
    for (mine, bucket) in mine
        .chunks_exact_mut(BUCKET)
        .zip(theirs.chunks_exact(BUCKET))
    {
        if bucket[0] == 0 {
            continue;
        }
        if mine[0] == 0 {
            // Adding a bucket's cells in order to an empty bucket puts
            // them where they are (fingerprints differ within a
            // bucket): copy it.
            mine.copy_from_slice(bucket);
            continue;
        }
        for &c in bucket.iter().take_while(|&&c| c != 0) {
            add_to_bucket(mine, c >> 16, c & 0xffff);
        }
    }
}

impl CountTable {
    /// Count of `key` (0 if unseen or not kept).
    pub fn get(&self, key: u64) -> u32 {
        let (b, fp) = self.locate(key);
        for &c in &self.cells[b..b + BUCKET] {
            if c == 0 {
                return 0;
            }
            if c >> 16 == fp {
                return c & 0xffff;
            }
        }
        0
    }

    /// Learn every n-gram of one text (tests and tools; the stage learns
    /// only the model's n-grams, see `for_each_model_ngram`).
    pub fn observe(&mut self, text: &str) {
        let toks = tokens(text);
        self.tokens += toks.len() as u64;
        for_each_ngram(&toks, |k| self.add(k, 1));
    }

    /// Fold `other` in; tables of different sizes cannot merge.
    pub fn merge(&mut self, other: &CountTable) -> Result<(), String> {
        if other.log2 != self.log2 {
            return Err(format!(
                "profile tables differ in size ({} vs {})",
                self.log2, other.log2
            ));
        }
        // Buckets fold independently: stretches of them on rayon's threads.
        match self.stretch_log2(self.cells.len()) {
            Some(s) => {
                let per = self.cells.len() >> s;
                self.cells
                    .par_chunks_mut(per)
                    .zip(other.cells.par_chunks(per))
                    .for_each(|(mine, theirs)| merge_buckets(mine, theirs));
            }
            None => merge_buckets(&mut self.cells, &other.cells),
        }
        self.tokens += other.tokens;
        Ok(())
    }

    /// Cells in use (for reports: how full the table is).
    pub fn used(&self) -> usize {
        self.cells.iter().filter(|&&c| c != 0).count()
    }

    /// Serialise: magic, log2 (u32 LE), tokens (u64 LE), cells (u32 LE).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(20 + self.cells.len() * 4);
        out.extend_from_slice(TABLE_MAGIC);
        out.extend_from_slice(&self.log2.to_le_bytes());
        out.extend_from_slice(&self.tokens.to_le_bytes());
        let start = out.len();
        out.resize(start + self.cells.len() * 4, 0);
        out[start..]
            .par_chunks_mut(4 * COPY_PIECE)
            .zip(self.cells.par_chunks(COPY_PIECE))
            .for_each(|(bytes, cells)| {
                for (b, c) in bytes.chunks_exact_mut(4).zip(cells) {
                    b.copy_from_slice(&c.to_le_bytes());
                }
            });
        out
    }

    /// Append a compact form for saved partials: log2 (u32 LE), tokens
    /// (u64 LE), then per bucket its used-cell count (u8) and those cells
    /// (u32 LE). Cells fill in order and are never emptied, so this keeps
    /// the table exactly; a mostly empty 16 MiB table takes ~2 MB.
    pub fn write_compact(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.log2.to_le_bytes());
        out.extend_from_slice(&self.tokens.to_le_bytes());
        for bucket in self.cells.chunks_exact(BUCKET) {
            let used = bucket.iter().take_while(|&&c| c != 0).count();
            out.push(used as u8);
            for c in &bucket[..used] {
                out.extend_from_slice(&c.to_le_bytes());
            }
        }
    }

    /// Fold in a table written by [`CountTable::write_compact`] (the whole
    /// of `bytes`), exactly as [`CountTable::merge`] of that table would.
    /// The bytes are checked completely before anything changes, so an
    /// error leaves `self` as it was.
    pub fn merge_compact(&mut self, bytes: &[u8]) -> Result<(), String> {
        let tokens = Self::check_compact(bytes, self.log2)?;
        let mut pos = 12;
        for mine in self.cells.chunks_exact_mut(BUCKET) {
            let used = usize::from(bytes[pos]);
            pos += 1;
            let mut theirs = [0u32; BUCKET];
            for (t, c) in theirs
                .iter_mut()
                .zip(bytes[pos..pos + 4 * used].chunks_exact(4))
            {
                *t = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
            }
            merge_buckets(mine, &theirs);
            pos += 4 * used;
        }
        self.tokens += tokens;
        Ok(())
    }

    /// Validate a compact table for merging into a table of `2^log2`
    /// cells; returns its tokens.
    pub fn check_compact(bytes: &[u8], log2: u32) -> Result<u64, String> {
        if bytes.len() < 12 {
            return Err("table truncated".into());
        }
        let saved = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        if saved != log2 {
            return Err(format!(
                "table of 2^{saved} cells, this run uses 2^{log2} (profile_log2_cells differs)"
            ));
        }
        let mut t = [0u8; 8];
        t.copy_from_slice(&bytes[4..12]);
        let mut pos = 12;
        for _ in 0..(1usize << log2) / BUCKET {
            let Some(&used) = bytes.get(pos) else {
                return Err("table truncated".into());
            };
            let used = usize::from(used);
            if used > BUCKET {
                return Err(format!("corrupt table ({used} cells in a bucket)"));
            }
            let Some(cells) = bytes.get(pos + 1..pos + 1 + 4 * used) else {
                return Err("table truncated".into());
            };
            if cells.chunks_exact(4).any(|c| c == [0; 4]) {
                return Err("corrupt table (empty cell)".into());
            }
            pos += 1 + 4 * used;
        }
        if pos != bytes.len() {
            return Err("trailing bytes after the table".into());
        }
        Ok(u64::from_le_bytes(t))
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
        if body.len() != 4usize << log2 {
            return Err("spinner profile: truncated".into());
        }
        // A pooled or huge-page table, filled in place.
        let mut cells = sluicebox_core::mem::table(1usize << log2);
        cells
            .par_chunks_mut(COPY_PIECE)
            .zip(body.par_chunks(4 * COPY_PIECE))
            .for_each(|(cells, bytes)| {
                for (cell, b) in cells.iter_mut().zip(bytes.chunks_exact(4)) {
                    *cell = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                }
            });
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

/// The default model laid out for lookups: a bucket per cache line of
/// eight (32-bit fingerprint, count) cells, so a lookup reads one line
/// (a `HashMap` read two, its control bytes and its slot), and the line can
/// be fetched ahead (see [`Model::score`]). Fingerprints are 32 bits: two
/// keys of one bucket clash about once in 500 million lookups. Buckets
/// average two entries; the rare one with more than eight spills into
/// `overflow`.
#[derive(Debug, Default)]
pub struct DefaultCounts {
    buckets: Vec<Bucket>,
    shift: u32,
    /// Every (key, count), in key order (to lay out [`JointCounts`]).
    entries: Vec<(u64, u32)>,
    overflow: HashMap<u64, u32, BuildHasherDefault<IdHasher>>,
    /// Tokens of the text the counts came from.
    pub tokens: u64,
}

#[derive(Debug, Clone, Copy, Default)]
#[repr(C, align(64))]
struct Bucket {
    fp: [u32; 8],
    n: [u32; 8],
}

/// Put (`fp`, `n`) in the first free slot (fingerprint 0) of a bucket's
/// fingerprints and counts; false when the bucket is full (the caller keeps
/// the entry in its overflow map).
fn place(fps: &mut [u32], ns: &mut [u32], fp: u32, n: u32) -> bool {
    match fps.iter().position(|&f| f == 0) {
        Some(i) => {
            fps[i] = fp;
            ns[i] = n;
            true
        }
        None => false,
    }
}

impl DefaultCounts {
    #[inline]
    fn locate(&self, key: u64) -> (usize, u32) {
        let b = (key >> self.shift) as usize;
        let fp = ((key.wrapping_mul(MIX) >> 32) as u32).max(1);
        (b, fp)
    }

    /// Count of `key` (0 if absent).
    #[inline]
    pub fn get(&self, key: u64) -> u32 {
        if self.buckets.is_empty() {
            return 0;
        }
        let (b, fp) = self.locate(key);
        let bucket = &self.buckets[b];
        for i in 0..8 {
            if bucket.fp[i] == fp {
                return bucket.n[i];
            }
        }
        if bucket.fp[7] != 0 && !self.overflow.is_empty() {
            return self.overflow.get(&key).copied().unwrap_or(0);
        }
        0
    }

    /// Ask for the key's bucket to be brought into cache.
    #[inline]
    fn prefetch(&self, key: u64) {
        if let Some(b) = self.buckets.get(self.locate(key).0) {
            prefetch(&b.fp[0]);
        }
    }
}

impl From<&SparseCounts> for DefaultCounts {
    fn from(s: &SparseCounts) -> Self {
        let nb = (s.map.len() / 2).next_power_of_two().max(1);
        let shift = 64 - nb.trailing_zeros();
        let mut d = DefaultCounts {
            buckets: vec![Bucket::default(); nb],
            // A shift of 64 would overflow: one bucket takes every key.
            shift: shift.min(63),
            entries: Vec::new(),
            overflow: HashMap::default(),
            tokens: s.tokens,
        };
        if nb == 1 {
            d.shift = 63;
            d.buckets.push(Bucket::default());
        }
        // Key order, so the layout does not depend on map iteration order.
        let mut entries: Vec<(u64, u32)> = s.map.iter().map(|(&k, &v)| (k, v)).collect();
        entries.sort_unstable();
        for &(k, v) in &entries {
            let (b, fp) = d.locate(k);
            let bucket = &mut d.buckets[b];
            if !place(&mut bucket.fp, &mut bucket.n, fp, v) {
                d.overflow.insert(k, v);
            }
        }
        d.entries = entries;
        d
    }
}

/// Line of the key in a joint table over a corpus table of `2^log2` cells
/// (its corpus bucket), and its default-model fingerprint.
#[inline]
fn joint_locate(log2: u32, key: u64) -> (usize, u32) {
    let b = (key >> (64 - (log2 - 3))) as usize;
    (b, ((key.wrapping_mul(MIX) >> 32) as u32).max(1))
}

/// Default and corpus counts in one table, so that a count reads one cache
/// line instead of one in each (the stage's scoring is mostly waiting for
/// these lines). Each 64-byte line holds a bucket of the corpus table
/// (unchanged: the same cells, found the same way) and up to four default
/// entries whose keys fall in that bucket (32-bit fingerprints, as in
/// [`DefaultCounts`]; a line rarely has more, those spill into a map).
/// Twice the corpus table's memory; built once when the stage is.
#[derive(Debug)]
pub struct JointCounts {
    lines: Vec<Line>,
    /// One bit per line: does it hold any count? A profile of a small or
    /// medium corpus leaves most lines empty, and most n-grams scoring asks
    /// about (the spun phrases above all) are in none; this 64 KiB map
    /// (at the default size) stays in cache and answers for them without
    /// reading a line of the 32 MiB table.
    used: Vec<u64>,
    log2: u32,
    /// Tokens the corpus counts came from.
    tokens: u64,
    spill: HashMap<u64, u32, BuildHasherDefault<IdHasher>>,
}

#[derive(Debug, Clone, Copy, Default)]
#[repr(C, align(64))]
struct Line {
    cells: [u32; BUCKET],
    dfp: [u32; 4],
    dn: [u32; 4],
}

impl JointCounts {
    /// Built on the current rayon pool: the table is 32 MiB at the default
    /// size, and building it is start-up time that every run waits for.
    pub fn new(corpus: &CountTable, default: &DefaultCounts) -> Self {
        let log2 = corpus.log2;
        let mut lines: Vec<Line> = Vec::new();
        corpus
            .cells
            .par_chunks_exact(BUCKET)
            .map(|c| Line {
                cells: c.try_into().unwrap_or_default(),
                ..Line::default()
            })
            .collect_into_vec(&mut lines);
        // Stretches of lines, each with the run of default entries (in key
        // order, so in line order) that falls in it.
        let stretch_log2 = corpus.stretch_log2(default.entries.len()).unwrap_or(0);
        let per = lines.len() >> stretch_log2;
        let spilled: Vec<Vec<(u64, u32)>> = lines
            .par_chunks_mut(per)
            .enumerate()
            .map(|(i, lines)| {
                let mut spill = Vec::new();
                for &(k, v) in stretch_part(&default.entries, stretch_log2, i) {
                    let (b, fp) = joint_locate(log2, k);
                    let line = &mut lines[b - i * per];
                    if !place(&mut line.dfp, &mut line.dn, fp, v) {
                        spill.push((k, v));
                    }
                }
                spill
            })
            .collect();
        let used = lines
            .par_chunks(64)
            .map(|ls| {
                ls.iter().enumerate().fold(0u64, |w, (i, l)| {
                    w | u64::from(l.cells[0] != 0 || l.dfp[0] != 0) << i
                })
            })
            .collect();
        JointCounts {
            lines,
            used,
            log2,
            tokens: corpus.tokens,
            spill: spilled.into_iter().flatten().collect(),
        }
    }

    /// Does line `b` hold any count? (Cells and default entries fill in
    /// order, so the first of each tells.)
    #[inline]
    fn used(&self, b: usize) -> bool {
        self.used
            .get(b / 64)
            .is_some_and(|w| w >> (b % 64) & 1 == 1)
    }

    #[inline]
    fn locate(&self, key: u64) -> (usize, u32) {
        joint_locate(self.log2, key)
    }

    /// (default count, corpus count) of `key`.
    #[inline]
    pub fn get(&self, key: u64) -> (u32, u32) {
        let (b, dfp) = self.locate(key);
        if !self.used(b) {
            return (0, 0);
        }
        let line = &self.lines[b];
        let fp = locate_in(self.log2, key).1;
        let mut corpus = 0;
        for &c in &line.cells {
            if c == 0 {
                break;
            }
            if c >> 16 == fp {
                corpus = c & 0xffff;
                break;
            }
        }
        let mut default = 0;
        match line.dfp.iter().position(|&f| f == dfp) {
            Some(i) => default = line.dn[i],
            None => {
                if line.dfp[3] != 0 && !self.spill.is_empty() {
                    default = self.spill.get(&key).copied().unwrap_or(0);
                }
            }
        }
        (default, corpus)
    }

    #[inline]
    fn prefetch(&self, key: u64) {
        let b = self.locate(key).0;
        if self.used(b) {
            if let Some(l) = self.lines.get(b) {
                prefetch(l);
            }
        }
    }
}

/// The model the stage scores with: default counts plus corpus counts.
#[derive(Debug, Default)]
pub struct Model {
    pub default: std::sync::Arc<DefaultCounts>,
    /// Default and corpus counts in one table, when there is a corpus
    /// profile (the corpus table itself is not kept: it would be 16 MiB
    /// more for nothing).
    joint: Option<JointCounts>,
}

/// Hint the CPU to bring the cache line of `r` into cache (a no-op where
/// there is no such instruction). Scoring looks up a handful of n-grams per
/// word in tables of megabytes; fetched one after another, each lookup
/// waited for memory.
#[inline]
fn prefetch<T>(r: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch only hints the cache; it never faults and reads
    // nothing into the program (and `r` is a valid reference anyway).
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
            (r as *const T).cast::<i8>(),
        );
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = r;
}

/// Keys of the n-grams that scoring word `w` after `u v` may look up.
#[derive(Debug, Clone, Copy, Default)]
struct NgramKeys {
    w: u64,
    vw: u64,
    v: u64,
    uvw: u64,
    uv: u64,
}

/// Stupid-backoff penalty per level.
#[cfg(test)]
const BACKOFF: f64 = 0.4;
/// `BACKOFF.ln()`, written out: the compiler does not fold `ln`, which was
/// a libm call per backed-off term (tested equal).
const LN_BACKOFF: f64 = -0.916290731874155;

impl Model {
    pub fn new(default: std::sync::Arc<DefaultCounts>, corpus: Option<CountTable>) -> Self {
        let joint = corpus.as_ref().map(|c| JointCounts::new(c, &default));
        Model { default, joint }
    }

    /// Are there corpus counts (a profile)?
    pub fn has_corpus(&self) -> bool {
        self.joint.is_some()
    }

    /// Default plus corpus count of `key`, less one if the document itself
    /// holds it (`own`): the profile learned from this very document, and
    /// a spun phrase seen only there must not vouch for itself. A document
    /// the profile skipped as spun loses a count it never added, which errs
    /// towards "spun".
    fn count(&self, key: u64, own: &OwnNgrams) -> f64 {
        let Some(j) = &self.joint else {
            return f64::from(self.default.get(key));
        };
        let (d, n) = j.get(key);
        // One sighting out: what a document repeats is its topic ("police
        // officers" five times in a police report), and taking all of it
        // out made clean reports on a topic rare in the corpus look spun.
        let mine = if n > 0 {
            u32::from(own.contains(key))
        } else {
            0
        };
        f64::from(d) + f64::from(n - mine)
    }

    fn total(&self) -> f64 {
        let mut n = self.default.tokens as f64;
        if let Some(j) = &self.joint {
            n += j.tokens as f64;
        }
        n.max(1.0)
    }

    /// log P(w | u, v) with stupid backoff, from the keys of its n-grams
    /// (`NgramKeys`) and the history length (0 to 2).
    fn logp(&self, hist: usize, k: &NgramKeys, own: &OwnNgrams) -> f64 {
        let mut penalty = 0.0;
        if hist >= 2 {
            let c3 = self.count(k.uvw, own);
            if c3 > 0.0 {
                let c2 = self.count(k.uv, own).max(c3);
                return (c3 / c2).ln();
            }
            penalty += LN_BACKOFF;
        }
        if hist >= 1 {
            let c2 = self.count(k.vw, own);
            if c2 > 0.0 {
                let c1 = self.count(k.v, own).max(c2);
                return penalty + (c2 / c1).ln();
            }
            penalty += LN_BACKOFF;
        }
        let c1 = self.count(k.w, own);
        penalty + ((c1 + 0.1) / self.total()).ln()
    }

    /// Log score of `cand` between `left` (up to two tokens, nearest last)
    /// and `right` (up to two tokens): the terms of the window's log
    /// probability that depend on the candidate. `own`: the document's
    /// own counts, left out of the corpus counts (empty: none).
    pub fn score(&self, left: &[u64], cand: &[u64], right: &[u64], own: &OwnNgrams) -> f64 {
        self.score_above(left, cand, right, own, f64::NEG_INFINITY)
            .unwrap_or(f64::NEG_INFINITY)
    }

    /// [`Model::score`], or `None` as soon as the score is sure to be at
    /// most `floor` (the caller only wants candidates above it). Each term
    /// is a log probability, at most 0 but for the unigram term of a word
    /// with no history, at most ln(1 + 0.1 / tokens) < 0.1; so once the sum
    /// so far plus 0.1 per term left is at most `floor`, it stays there.
    pub fn score_above(
        &self,
        left: &[u64],
        cand: &[u64],
        right: &[u64],
        own: &OwnNgrams,
        floor: f64,
    ) -> Option<f64> {
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
        // The keys each position may ask for, computed once, and every
        // line the scoring may read prefetched first: the fetches overlap,
        // where the scoring's own lookups wait on each other's branches
        // (the tables are megabytes, and most lookups missed the cache).
        let positions = seq.len() - left.len();
        let mut kstack = [NgramKeys::default(); 12];
        let mut kheap = Vec::new();
        let keys: &mut [NgramKeys] = if positions <= kstack.len() {
            &mut kstack[..positions]
        } else {
            kheap.resize(positions, NgramKeys::default());
            &mut kheap
        };
        for (k, i) in keys.iter_mut().zip(left.len()..) {
            k.w = ngram_key(&seq[i..=i]);
            if i >= 1 {
                k.vw = ngram_key(&seq[i - 1..=i]);
                k.v = ngram_key(&seq[i - 1..i]);
            }
            if i >= 2 {
                k.uvw = ngram_key(&seq[i - 2..=i]);
                k.uv = ngram_key(&seq[i - 2..i]);
            }
            // `v` and `u v` of a later position are the previous one's
            // `w` and `v w`: fetched already.
            let first = i == left.len();
            for key in [k.uvw, k.vw, k.w]
                .into_iter()
                .chain(first.then_some([k.uv, k.v]).into_iter().flatten())
            {
                match &self.joint {
                    Some(j) => j.prefetch(key),
                    None => self.default.prefetch(key),
                }
            }
        }
        let mut s = 0.0;
        let mut left_terms = keys.len();
        for (k, i) in keys.iter().zip(left.len()..) {
            s += self.logp(i.min(2), k, own);
            left_terms -= 1;
            if s + 0.1 * left_terms as f64 <= floor {
                return None;
            }
        }
        Some(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_log_is_exact() {
        assert_eq!(LN_BACKOFF.to_bits(), BACKOFF.ln().to_bits());
    }

    #[test]
    fn pending_counts_are_exact_and_in_key_order() {
        // Keys of real n-grams, plus keys that land at the table's end (so
        // that a run of slots wraps) and key 0.
        let toks = tokens(&"The quick brown fox jumps over the lazy dog. ".repeat(50));
        let mut keys: Vec<u64> = Vec::new();
        for_each_ngram(&toks, |k| keys.push(k));
        keys.extend((0..200u64).map(|i| u64::MAX - i % 7));
        keys.extend((0..5000u64).map(|i| i.wrapping_mul(MIX)));
        keys.push(0);
        let mut p = PendingCounts::default();
        let mut want: std::collections::BTreeMap<u64, u32> = Default::default();
        for &k in &keys {
            p.add(k);
            *want.entry(k).or_default() += 1;
        }
        let mut got = Vec::new();
        p.sorted_into(&mut got);
        assert_eq!(got, want.into_iter().collect::<Vec<_>>());
        assert_eq!(p.len(), got.len());
        let mut again = Vec::new();
        p.drain_sorted_into(&mut again);
        assert_eq!(again, got);
        assert!(p.is_empty());
    }

    #[test]
    fn fast_character_classes_match_the_unicode_tables() {
        for c in (0..=0x10ffff).filter_map(char::from_u32) {
            assert_eq!(is_alnum(c), c.is_alphanumeric(), "{c:?}");
        }
        for c in (0..=0x4ff).filter_map(char::from_u32) {
            let mut fast = TokBuf::new();
            push_lower(&mut fast, c);
            let slow: String = c.to_lowercase().collect();
            assert_eq!(fast.as_slice(), slow.as_bytes(), "{c:?}");
        }
    }

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
    fn default_table_reads_like_the_shipped_counts() {
        let sparse = SparseCounts::from_bytes(crate::spinner::DEFAULT_MODEL).unwrap();
        let table = DefaultCounts::from(&sparse);
        assert_eq!(table.tokens, sparse.tokens);
        assert!(sparse.len() > 10_000);
        for (&k, &v) in &sparse.map {
            assert_eq!(table.get(k), v);
        }
        // Keys not in the model read 0.
        let absent = (0..100_000u64)
            .map(|i| ngram_key(&[i, i + 1]))
            .filter(|k| !sparse.map.contains_key(k))
            .filter(|&k| table.get(k) != 0)
            .count();
        assert_eq!(absent, 0);
        assert_eq!(DefaultCounts::default().get(42), 0);
        // Tiny models (one bucket) and spilled buckets work too.
        let mut small = SparseCounts::default();
        for i in 0..40u64 {
            small.insert(i << 60 | i, i as u32 + 1);
        }
        let t = DefaultCounts::from(&small);
        for i in 0..40u64 {
            assert_eq!(t.get(i << 60 | i), i as u32 + 1);
        }
    }

    #[test]
    fn work_split_over_threads_gives_the_same_tables() {
        // Every n-gram of real pages, counted exactly, in key order.
        let mut exact = std::collections::BTreeMap::<u64, u32>::new();
        for text in [
            include_str!("../../../../tests/fixtures/spinner/000_e7f6ed2af000063c.txt"),
            include_str!("../../../../tests/fixtures/spinner/002_31699701fbb39e56.txt"),
            include_str!("../../../../tests/fixtures/spinner/003_240feac35cea67fe.txt"),
            include_str!("../../../../tests/fixtures/spinner/003_restored.txt"),
            // Real pages as JSON lines (more distinct n-grams).
            include_str!("../../../../tests/fixtures/cluster/shard-a.jsonl"),
        ] {
            for_each_ngram(&tokens(text), |k| *exact.entry(k).or_default() += 1);
        }
        let counts: Vec<(u64, u32)> = exact.into_iter().collect();
        assert!(counts.len() > PAR_MIN_ADDS, "{}", counts.len());
        let on = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
        };
        // A small table already holding a page, so that buckets are full
        // and which n-grams they keep depends on the order of the adds.
        let base = || {
            let mut t = CountTable::new(12);
            t.observe(include_str!(
                "../../../../tests/fixtures/spinner/002_31699701fbb39e56.txt"
            ));
            t
        };
        let one_by_one = {
            let mut t = base();
            for &(k, n) in &counts {
                t.add(k, n);
            }
            t
        };
        assert!(counts.iter().any(|&(k, _)| one_by_one.get(k) == 0));
        for threads in [1, 4] {
            let mut t = base();
            on(threads).install(|| t.add_sorted(&counts));
            assert!(t == one_by_one, "add_sorted on {threads} threads");
        }
        // Several runs (batches) in one pass: each bucket takes them in turn.
        let runs: Vec<Vec<(u64, u32)>> = (0..3)
            .map(|r| counts.iter().skip(r).step_by(3).copied().collect())
            .collect();
        let runs: Vec<&[(u64, u32)]> = runs.iter().map(Vec::as_slice).collect();
        let run_by_run = {
            let mut t = base();
            for &(k, n) in runs.iter().copied().flatten() {
                t.add(k, n);
            }
            t
        };
        assert!(run_by_run != one_by_one, "the order of adds matters here");
        for threads in [1, 4] {
            let mut t = base();
            on(threads).install(|| t.add_sorted_runs(&runs));
            assert!(t == run_by_run, "add_sorted_runs on {threads} threads");
        }
        // Table into table, and the joint table, on one and four threads.
        let merged = |threads: usize| {
            let mut t = base();
            on(threads).install(|| t.merge(&one_by_one)).unwrap();
            t
        };
        let on_one = merged(1);
        assert!(merged(4) == on_one);
        assert_eq!(on_one.tokens, 2 * base().tokens);
        let sparse = SparseCounts::from_bytes(crate::spinner::DEFAULT_MODEL).unwrap();
        let default = DefaultCounts::from(&sparse);
        let joint1 = on(1).install(|| JointCounts::new(&on_one, &default));
        let joint4 = on(4).install(|| JointCounts::new(&on_one, &default));
        assert!(joint4
            .lines
            .iter()
            .zip(&joint1.lines)
            .all(|(a, b)| { a.cells == b.cells && a.dfp == b.dfp && a.dn == b.dn }));
        assert_eq!((joint4.used, joint4.spill), (joint1.used, joint1.spill));
    }

    #[test]
    fn joint_table_reads_like_its_two_sources() {
        let sparse = SparseCounts::from_bytes(crate::spinner::DEFAULT_MODEL).unwrap();
        let default = DefaultCounts::from(&sparse);
        // A small corpus table, so its buckets fill and evict.
        let mut corpus = CountTable::new(12);
        for t in [
            include_str!("../../../../tests/fixtures/spinner/000_e7f6ed2af000063c.txt"),
            include_str!("../../../../tests/fixtures/spinner/003_restored.txt"),
        ] {
            corpus.observe(t);
        }
        let joint = JointCounts::new(&corpus, &default);
        let keys = sparse
            .map
            .keys()
            .copied()
            .chain((0..50_000u64).map(|i| ngram_key(&[i])));
        let mut both = 0;
        for k in keys {
            let (d, c) = joint.get(k);
            assert_eq!((d, c), (default.get(k), corpus.get(k)), "{k}");
            both += usize::from(d > 0 && c > 0);
        }
        assert!(both > 100, "{both}");
    }

    #[test]
    fn model_prefers_seen_context() {
        let mut t = CountTable::new(14);
        for _ in 0..5 {
            t.observe("the military alliance said on monday");
        }
        t.observe("the navy ship sailed");
        let m = Model::new(Default::default(), Some(t));
        let left = tokens("the");
        let right = tokens("alliance said");
        let none = OwnNgrams::default();
        let good = m.score(&left, &tokens("military"), &right, &none);
        let bad = m.score(&left, &tokens("navy"), &right, &none);
        assert!(good > bad + 2.0, "{good} {bad}");
        // A document that holds a phrase is left out once: a phrase seen
        // only there scores as unseen, one it repeats keeps the rest.
        let mut t = CountTable::new(14);
        t.observe("the military alliance said on monday");
        t.observe("the navy ship sailed");
        let once = Model::new(Default::default(), Some(t));
        let mut keys = Vec::new();
        for_each_ngram(&tokens("the military alliance said"), |k| keys.push(k));
        let own = OwnNgrams::from_keys(&keys);
        let seen = once.score(&left, &tokens("military"), &right, &none);
        let alone = once.score(&left, &tokens("military"), &right, &own);
        assert!(alone < seen - 2.0, "{alone} {seen}");
        let text = "the military alliance said on monday ".repeat(5);
        let mut keys = Vec::new();
        for_each_ngram(&tokens(&text), |k| keys.push(k));
        let five = OwnNgrams::from_keys(&keys);
        let kept = m.score(&left, &tokens("military"), &right, &five);
        assert!(kept > bad + 2.0, "{kept} {bad}");
    }

    /// The char-by-char definition the byte-level tokenizer must match.
    fn reference_tokens(text: &str) -> Vec<u64> {
        let mut out = Vec::new();
        let mut chars = text.char_indices().peekable();
        while let Some((_, c)) = chars.next() {
            if c.is_whitespace() {
                continue;
            }
            if c.is_alphanumeric() {
                let mut buf = String::new();
                let mut all_digits = c.is_ascii_digit();
                buf.extend(c.to_lowercase());
                while let Some(&(_, n)) = chars.peek() {
                    if n.is_alphanumeric() {
                        all_digits &= n.is_ascii_digit();
                        buf.extend(n.to_lowercase());
                        chars.next();
                    } else if n == '\''
                        || n == '\u{2019}'
                        || n == '-'
                        || (all_digits && (n == ',' || n == '.'))
                    {
                        let mut ahead = chars.clone();
                        ahead.next();
                        match ahead.peek() {
                            Some(&(_, m)) if m.is_alphanumeric() => {
                                if n != ',' && n != '.' {
                                    all_digits = false;
                                    buf.push(if n == '-' { '-' } else { '\'' });
                                }
                                chars.next();
                            }
                            _ => break,
                        }
                    } else {
                        break;
                    }
                }
                out.push(if all_digits {
                    token_hash(NUM_TOKEN)
                } else {
                    token_hash(buf.as_bytes())
                });
            } else {
                let c = match c {
                    '\u{2019}' | '\u{2018}' => '\'',
                    '\u{201c}' | '\u{201d}' => '"',
                    c => c,
                };
                out.push(token_hash(c.to_string().as_bytes()));
            }
        }
        out
    }

    #[test]
    fn byte_tokenizer_matches_reference_on_real_text() {
        let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/");
        let mut texts: Vec<String> = [
            "spinner/000_e7f6ed2af000063c.txt",
            "spinner/002_31699701fbb39e56.txt",
            "spinner/003_240feac35cea67fe.txt",
            "spinner/003_restored.txt",
        ]
        .iter()
        .map(|f| std::fs::read_to_string(format!("{fixtures}{f}")).unwrap())
        .collect();
        texts.extend(
            [
                "Ünïcödé ÀB ΣΊΣΥΦΟΣ straße İstanbul ǅemal don’t rock-’n’-roll 3,000.50 1.2.3. x-",
                "tab\tvt\u{b}nbsp\u{a0}em\u{2003}ideo\u{3000}end 12a 3’ a’b ‘q’ “dq” ٣٤ x٣",
                "trailing apostrophe' hyphen- 7, 8. -9 1,a a,1 e\u{301}cole Ⅻ ½ 𝔘𝔫𝔦",
            ]
            .map(String::from),
        );
        for t in &texts {
            assert_eq!(tokens(t), reference_tokens(t), "{}", &t[..t.len().min(80)]);
        }
    }

    #[test]
    fn table_keeps_model_ngrams_near_triggers_only() {
        let triggers: Triggers = tokens("minister").into_iter().collect();
        let toks = tokens("a b c d the foreign minister said on monday x y z");
        let mut kept = std::collections::HashSet::new();
        for_each_model_ngram(&toks, &triggers, |k| {
            kept.insert(k);
        });
        let has = |s: &str| kept.contains(&ngram_key(&tokens(s)));
        for want in [
            "the foreign",
            "foreign minister",
            "minister said",
            "said on",
            "on",
            "the",
            "foreign minister said",
            "the foreign minister",
        ] {
            assert!(has(want), "{want}");
        }
        for not in [
            "a",
            "b c",
            "a b c",
            "monday",
            "on monday",
            "said on monday",
            "x y",
        ] {
            assert!(!has(not), "{not}");
        }
    }

    #[test]
    fn full_buckets_keep_the_frequent() {
        let mut t = CountTable::new(10);
        // Many more keys than cells, one of them frequent.
        let hot = ngram_key(&tokens("foreign minister"));
        for i in 0..20_000u64 {
            t.add(ngram_key(&[i]), 1);
            if i % 10 == 0 {
                t.add(hot, 1);
            }
        }
        assert_eq!(t.get(hot), 2000);
        assert!(t.used() <= 1024);
        // Unseen keys read 0 but for rare fingerprint clashes.
        let clashes = (50_000..60_000u64)
            .filter(|&i| t.get(ngram_key(&[i])) > 0)
            .count();
        assert!(clashes < 10, "{clashes}");
    }
}
