//! Lexicon hits without the lexicon automaton: from a document's tokens
//! (the profile pass) and from its word starts (the stage).
//!
//! The profile pass tokenizes every document anyway (to count n-grams), and
//! its judge needs the document's lexicon hits. Scanning the text again
//! with the lexicon automaton cost as much as tokenizing it, and most clean
//! pages hold enough hits ("stated", "based on") that no cheap bound spares
//! the scan (about 80 % of the evaluation's clean page bytes pass the
//! fast path's bound). Instead, [`TokenIndex`] maps each token hash to the
//! lexicon keys that may start with it, and [`TokenIndex::hits`] compares
//! the key's bytes at that token, as the automaton would:
//!
//! * a hit starts where a token starts (the character before it is not
//!   part of a word; keys start with a word or punctuation) and that token
//!   is the key's first token, or, for a one-token key, that token with an
//!   English clitic ("Home's": the apostrophe ends the match);
//! * among the keys matching there the longest wins, and the next match
//!   starts after it (leftmost-longest, non-overlapping);
//! * the word-boundary and gate checks are the stage's own.
//!
//! The stage itself scans word starts ([`WordIndex`], below). Both find
//! the automaton's hits, plus those it hides by matching a key from inside
//! a word and then refusing it ("Panama brand new": "a brand new" matched
//! at the final "a" hides "brand new"). The token hits miss a key right
//! after a word joined to it by an apostrophe ("o'could 3": one token),
//! which the word-start scan finds; rare. The tests check all three agree
//! on real and odd text. Cost: one table probe per token, and per token
//! that may start a key a byte comparison of the few keys starting with it.

use super::lexicon::Lexicon;
use super::lm::{self, Triggers};
use std::collections::BTreeMap;

/// Both indexes: append the candidates of the keys `pats` that may start at
/// a token or word with hash or id `key`, longest key first (the
/// automaton's leftmost-longest match) then pattern order, and mark `key`
/// in the 64 Ki-bit prefilter. Returns the index of the first candidate.
fn add_candidates(
    cands: &mut Vec<Cand>,
    filter: &mut [u64; 1024],
    lexicon: &Lexicon,
    key: u64,
    pats: &mut [u32],
) -> u32 {
    pats.sort_by_key(|&p| (std::cmp::Reverse(lexicon.keys[p as usize].len()), p));
    let first = cands.len() as u32;
    cands.extend(
        pats.iter()
            .map(|&p| Cand::new(p, &lexicon.keys[p as usize])),
    );
    let f = (key & 0xffff) as usize;
    filter[f >> 6] |= 1 << (f & 63);
    first
}

/// English clitics that the tokenizer keeps inside a word ("home's"),
/// while the scan matches the key before them (the apostrophe ends it).
const CLITICS: [&str; 8] = ["", "'s", "'t", "'re", "'ve", "'ll", "'d", "'m"];

/// Per token hash: whether it is a trigger and which keys may start with it.
pub struct TokenIndex {
    /// Open addressing on the hash's top bits; key 0 marks an empty slot
    /// (a token hashing to 0 is simply not found: 1 in 2^64).
    slots: Vec<Slot>,
    shift: u32,
    /// One bit per value of a hash's low 16 bits: set if some slot's key
    /// has them. Most tokens are in no slot, and this 8 KiB filter (in L1
    /// cache) answers for them without a probe of the table, which the
    /// profile pass's big count tables keep evicting from cache.
    filter: Box<[u64; 1024]>,
    /// Patterns (keys) that may start at a token, longest key first per
    /// slot (`Slot::first..+n`).
    cands: Vec<Cand>,
    /// False if some key has no tokens or does not start a token; then
    /// there are no hits from tokens (the caller scans the text).
    sound: bool,
}

/// 16 bytes: four to a cache line.
#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    key: u64,
    first: u32,
    n: u16,
    trigger: bool,
}

/// A key that may start at a token.
#[derive(Debug, Clone, Copy)]
struct Cand {
    pattern: u32,
    /// A byte of the key past its first word and its offset (0, 0 for a
    /// one-word key): most keys sharing a first word ("a brand new", "a
    /// variety of") differ there, so one byte rejects them before the
    /// whole key is compared.
    probe_at: u32,
    probe: u8,
}

impl Cand {
    fn new(pattern: u32, key: &str) -> Self {
        let key = key.as_bytes();
        // The first byte after the first space, if any.
        let at = key
            .iter()
            .position(|&b| b == b' ')
            .map_or(0, |i| i + 1)
            .min(key.len().saturating_sub(1));
        Cand {
            pattern,
            probe_at: at as u32,
            probe: key.get(at).map_or(0, u8::to_ascii_lowercase),
        }
    }

    /// Does the key match `text` at byte `s`? Compares the probe byte
    /// first (most candidates fail there), then the whole key.
    #[inline]
    fn matches(&self, lexicon: &Lexicon, text: &[u8], s: usize) -> bool {
        let probe = text.get(s + self.probe_at as usize).copied();
        if probe.map(|b| b.to_ascii_lowercase()) != Some(self.probe) {
            return false;
        }
        let key = lexicon.keys[self.pattern as usize].as_bytes();
        text.get(s..s + key.len())
            .is_some_and(|t| t.eq_ignore_ascii_case(key))
    }
}

/// What a token is to the profile pass ([`TokenIndex::get`]).
#[derive(Debug, Clone, Copy)]
pub struct TokenInfo {
    /// A content word of the lexicon: n-grams near it are counted.
    pub trigger: bool,
    /// Slot of the keys that may start with it, if any.
    pub starts: Option<u32>,
}

impl TokenIndex {
    pub fn new(lexicon: &Lexicon, triggers: &Triggers) -> Self {
        // Hash -> (trigger, patterns), ordered so the layout is fixed.
        let mut entries: BTreeMap<u64, (bool, Vec<u32>)> = BTreeMap::new();
        for &t in triggers {
            entries.entry(t).or_default().0 = true;
        }
        let mut sound = true;
        for (p, (key, toks)) in lexicon.keys.iter().zip(&lexicon.key_tokens).enumerate() {
            let Some(&first) = toks.first() else {
                sound = false;
                continue;
            };
            // The scan's match starts a token only if the key starts with
            // a character that starts one (not a space).
            if key.starts_with(char::is_whitespace) {
                sound = false;
            }
            let mut forms = vec![first];
            if toks.len() == 1 {
                for c in &CLITICS[1..] {
                    if let Some(&h) = lm::tokens(&format!("{key}{c}")).first() {
                        if !forms.contains(&h) {
                            forms.push(h);
                        }
                    }
                }
            }
            for f in forms {
                entries.entry(f).or_default().1.push(p as u32);
            }
        }
        // At most half full. A slot's keys count fits 16 bits: a lexicon
        // with more keys starting with one token would not be sound.
        let size = (entries.len() * 2).next_power_of_two().max(16);
        if entries
            .values()
            .any(|(_, p)| p.len() > usize::from(u16::MAX))
        {
            sound = false;
        }
        let mut index = TokenIndex {
            slots: vec![Slot::default(); size],
            shift: 64 - size.trailing_zeros(),
            filter: Box::new([0; 1024]),
            cands: Vec::new(),
            sound,
        };
        for (k, (trigger, mut pats)) in entries {
            if k == 0 {
                continue;
            }
            let first = add_candidates(&mut index.cands, &mut index.filter, lexicon, k, &mut pats);
            let mask = size - 1;
            let mut i = index.home(k);
            while index.slots[i].key != 0 {
                i = (i + 1) & mask;
            }
            index.slots[i] = Slot {
                key: k,
                first,
                n: pats.len().min(usize::from(u16::MAX)) as u16,
                trigger,
            };
        }
        index
    }

    #[inline]
    fn home(&self, key: u64) -> usize {
        // `shift` < 64: the table has at least 16 slots.
        (key >> self.shift) as usize
    }

    /// What the token with hash `key` is.
    #[inline]
    pub fn get(&self, key: u64) -> TokenInfo {
        let f = (key & 0xffff) as usize;
        if self.filter[f >> 6] & (1 << (f & 63)) == 0 {
            return TokenInfo {
                trigger: false,
                starts: None,
            };
        }
        let mask = self.slots.len() - 1;
        let mut i = self.home(key);
        loop {
            let s = &self.slots[i];
            if s.key == key {
                return TokenInfo {
                    trigger: s.trigger,
                    starts: (s.n > 0).then_some(i as u32),
                };
            }
            if s.key == 0 {
                return TokenInfo {
                    trigger: false,
                    starts: None,
                };
            }
            i = (i + 1) & mask;
        }
    }

    /// Can [`TokenIndex::hits`] stand for the scan with this lexicon?
    pub fn sound(&self) -> bool {
        self.sound
    }

    /// The lexicon matches of `text`, as `(start, end, pattern)` in text
    /// order, from `starts`: (slot from [`TokenIndex::get`], byte offset)
    /// of each token that may start a key, in text order. `take` is the
    /// scan's check of a match (word boundaries and gates).
    pub fn hits<H>(
        &self,
        lexicon: &Lexicon,
        text: &str,
        starts: &[(u32, usize)],
        mut take: impl FnMut(usize, usize, usize) -> Option<H>,
        out: &mut Vec<H>,
    ) {
        let bytes = text.as_bytes();
        let mut consumed = 0;
        for &(slot, s) in starts {
            if s < consumed {
                continue;
            }
            let Some(slot) = self.slots.get(slot as usize) else {
                continue;
            };
            let Some(pats) = self
                .cands
                .get(slot.first as usize..slot.first as usize + usize::from(slot.n))
            else {
                continue;
            };
            for c in pats {
                if c.matches(lexicon, bytes, s) {
                    let p = c.pattern as usize;
                    consumed = s + lexicon.keys[p].len();
                    out.extend(take(s, consumed, p));
                    break;
                }
            }
        }
    }
}

/// The lexicon's keys by their first word, for [`WordIndex::scan`]: the
/// stage's scan of a document's text for lexicon hits.
///
/// The scan of every document is the stage's largest single cost on clean
/// text; the Aho-Corasick automaton (1.6 MB) walks every byte through a
/// table too big for the core's cache. A hit that counts is a whole word
/// (or words), so it starts where a run of ASCII letters and digits
/// starts, and that run is exactly the key's first word (the key goes on
/// with a space or punctuation, or ends where the word must end). So: walk
/// the runs, look each up by its first eight bytes and length in a
/// filtered table (most words are no key's first word), and compare the
/// bytes of the few keys that start with it, longest first. The hits are
/// the automaton's (leftmost-longest, non-overlapping), except that a key
/// the automaton matched from inside a word ("Panama brand new": "a brand
/// new" from the last "a") and then refused no longer hides a real hit
/// right after it ("brand new"); tested equal on real and odd text.
pub struct WordIndex {
    /// (word id, first candidate, candidates); id 0 marks an empty slot.
    slots: Vec<(u64, u32, u32)>,
    shift: u32,
    /// Bit per value of a word id's low 16 bits (see [`TokenIndex`]).
    filter: Box<[u64; 1024]>,
    /// Patterns, longest key first per word.
    cands: Vec<Cand>,
    /// False if a key does not start with an ASCII letter or digit: then
    /// the caller scans with the automaton.
    sound: bool,
}

/// Lower-cased ASCII letters and digits; 0 for every other byte.
static WORD_BYTE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        if b.is_ascii_alphanumeric() {
            t[i] = b.to_ascii_lowercase();
        }
        i += 1;
    }
    t
};

/// Id of a word from its first eight (lower-cased) bytes, packed little
/// endian, and its length; never 0.
#[inline]
fn word_id(packed: u64, len: usize) -> u64 {
    let h = (packed ^ (len as u64).rotate_right(8)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (h ^ (h >> 29)) | 1
}

impl WordIndex {
    pub fn new(lexicon: &Lexicon) -> Self {
        let mut entries: BTreeMap<u64, Vec<u32>> = BTreeMap::new();
        let mut sound = true;
        for (p, key) in lexicon.keys.iter().enumerate() {
            let kb = key.as_bytes();
            let len = kb
                .iter()
                .take_while(|&&b| WORD_BYTE[usize::from(b)] != 0)
                .count();
            if len == 0 {
                sound = false;
                continue;
            }
            let mut packed = 0u64;
            for (j, &b) in kb[..len.min(8)].iter().enumerate() {
                packed |= u64::from(WORD_BYTE[usize::from(b)]) << (8 * j);
            }
            entries
                .entry(word_id(packed, len))
                .or_default()
                .push(p as u32);
        }
        let size = (entries.len() * 2).next_power_of_two().max(16);
        let mut index = WordIndex {
            slots: vec![(0, 0, 0); size],
            shift: 64 - size.trailing_zeros(),
            filter: Box::new([0; 1024]),
            cands: Vec::new(),
            sound,
        };
        for (id, mut pats) in entries {
            let first = add_candidates(&mut index.cands, &mut index.filter, lexicon, id, &mut pats);
            let mask = size - 1;
            let mut i = (id >> index.shift) as usize;
            while index.slots[i].0 != 0 {
                i = (i + 1) & mask;
            }
            index.slots[i] = (id, first, pats.len() as u32);
        }
        index
    }

    /// Can [`WordIndex::scan`] stand for the automaton with this lexicon?
    pub fn sound(&self) -> bool {
        self.sound
    }

    /// Keys that may start with the word of this id.
    #[inline]
    fn cands(&self, id: u64) -> &[Cand] {
        let f = (id & 0xffff) as usize;
        if self.filter[f >> 6] & (1 << (f & 63)) == 0 {
            return &[];
        }
        let mask = self.slots.len() - 1;
        let mut i = (id >> self.shift) as usize;
        loop {
            let (k, first, n) = self.slots[i];
            if k == id {
                return self
                    .cands
                    .get(first as usize..(first + n) as usize)
                    .unwrap_or(&[]);
            }
            if k == 0 {
                return &[];
            }
            i = (i + 1) & mask;
        }
    }

    /// The lexicon matches of `text` that `take` (the scan's word-boundary
    /// and gate check) accepts, in text order. Linear: the bytes are
    /// classified 64 at a time into a bit mask of ASCII letters and digits
    /// (branch-free, vectorised), word starts are taken from the mask, and
    /// per word start there is a probe and a comparison of the few keys
    /// that share its first word. (A byte-by-byte walk over the words was
    /// no faster than the automaton: a mispredicted branch at each word's
    /// end.)
    ///
    /// Returns the number of words of `text` as the stage counts them for
    /// densities (runs of bytes other than ASCII whitespace, exactly
    /// `split_ascii_whitespace().count()`), from the same blocks.
    pub fn scan<H>(
        &self,
        lexicon: &Lexicon,
        text: &str,
        mut take: impl FnMut(usize, usize, usize) -> Option<H>,
        out: &mut Vec<H>,
    ) -> usize {
        let b = text.as_bytes();
        let n = b.len();
        let mut consumed = 0;
        // Is the byte before the block a letter or digit? not whitespace?
        let (mut carry, mut carry_nw) = (0u64, 0u64);
        let mut words = 0;
        let mut base = 0;
        while base < n {
            let (m, nw) = block_masks(&b[base..n.min(base + 64)]);
            words += (nw & !((nw << 1) | carry_nw)).count_ones() as usize;
            carry_nw = nw >> 63;
            let mut starts = m & !((m << 1) | carry);
            carry = m >> 63;
            while starts != 0 {
                let j = starts.trailing_zeros() as usize;
                starts &= starts - 1;
                let s = base + j;
                // The run's length; the mask is 0 past the text's end.
                let mut len = (!(m >> j)).trailing_zeros() as usize;
                if j + len >= 64 {
                    let e = b[base + 64..]
                        .iter()
                        .position(|&x| WORD_BYTE[usize::from(x)] == 0)
                        .map_or(n, |p| base + 64 + p);
                    len = e - s;
                }
                if s < consumed {
                    continue;
                }
                let packed = match b.get(s..s + 8) {
                    // Letters and digits lower-case by setting 0x20.
                    Some(w) => {
                        let mut a = [0u8; 8];
                        a.copy_from_slice(w);
                        let x = u64::from_le_bytes(a) | 0x2020_2020_2020_2020;
                        if len >= 8 {
                            x
                        } else {
                            x & ((1u64 << (8 * len)) - 1)
                        }
                    }
                    None => b[s..s + len.min(8)]
                        .iter()
                        .enumerate()
                        .fold(0, |p, (k, &x)| p | u64::from(x | 0x20) << (8 * k)),
                };
                for c in self.cands(word_id(packed, len)) {
                    if c.matches(lexicon, b, s) {
                        let p = c.pattern as usize;
                        consumed = s + lexicon.keys[p].len();
                        out.extend(take(s, consumed, p));
                        break;
                    }
                }
            }
            base += 64;
        }
        words
    }
}

/// Bit masks of a block of at most 64 bytes: bit `j` set if `block[j]` is
/// an ASCII letter or digit; and if it is not ASCII whitespace.
#[inline]
fn block_masks(block: &[u8]) -> (u64, u64) {
    #[inline]
    fn word(x: u8) -> u8 {
        u8::from(x.wrapping_sub(b'0') < 10) | u8::from((x | 0x20).wrapping_sub(b'a') < 26)
    }
    /// Not `u8::is_ascii_whitespace` (space, \t, \n, \x0C, \r).
    #[inline]
    fn not_ws(x: u8) -> u8 {
        u8::from(!((x == b' ') | ((x.wrapping_sub(b'\t') < 5) & (x != 0x0B))))
    }
    let (mut w, mut nw) = ([0u8; 64], [0u8; 64]);
    match <&[u8; 64]>::try_from(block) {
        Ok(full) => {
            for ((f, g), &x) in w.iter_mut().zip(nw.iter_mut()).zip(full) {
                *f = word(x);
                *g = not_ws(x);
            }
        }
        Err(_) => {
            for ((f, g), &x) in w.iter_mut().zip(nw.iter_mut()).zip(block) {
                *f = word(x);
                *g = not_ws(x);
            }
        }
    }
    (pack_bits(&w), pack_bits(&nw))
}

/// 64 bytes of 0 or 1 to 64 bits, eight with one multiply.
#[inline]
fn pack_bits(flags: &[u8; 64]) -> u64 {
    let mut m = 0u64;
    for (k, c) in flags.chunks_exact(8).enumerate() {
        let mut a = [0u8; 8];
        a.copy_from_slice(c);
        let v = u64::from_le_bytes(a);
        m |= (v.wrapping_mul(0x0102_0408_1020_4080) >> 56) << (8 * k);
    }
    m
}
