//! Per-document language detection (whatlang) and the stopword lists.
//!
//! whatlang is a trigram model over 69 languages with no data files, fast
//! enough to run on a bounded sample of every document: we feed it at most
//! [`SAMPLE_BYTES`] of the document's longest-looking lines, so detection is
//! O(1) per document however long it is.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// Upper bound on the text given to the detector.
pub const SAMPLE_BYTES: usize = 320;

/// A multiply-rotate hasher for short keys (words, pre-hashed u64s): the
/// stopword and profile lookups are the hot path, and SipHash or a
/// streaming xxh3 state per lookup cost more than the rest of the scan.
#[derive(Default, Clone, Copy)]
pub struct QuickHasher(u64);

const K: u64 = 0x517c_c1b7_2722_0a95;

impl Hasher for QuickHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut b = [0u8; 8];
            b.copy_from_slice(c);
            self.write_u64(u64::from_le_bytes(b));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            // Short words end here: pack the tail into one word, one multiply.
            let mut b = [0u8; 8];
            b[..rest.len()].copy_from_slice(rest);
            self.write_u64(u64::from_le_bytes(b) ^ ((rest.len() as u64) << 59));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.0 = (self.0.rotate_left(5) ^ u64::from(i)).wrapping_mul(K);
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(K);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// Hash set with [`QuickHasher`].
pub type FastSet = HashSet<String, BuildHasherDefault<QuickHasher>>;

/// Longest word (bytes) a [`WordSet`] holds; longer tokens are never stopwords.
pub const WORD_BYTES: usize = 24;

/// A word packed into three little-endian u64, zero padded. Words hold no
/// NUL byte, so the padding also encodes the length.
pub type Packed = [u64; 3];

fn pack(word: &[u8]) -> Option<Packed> {
    if word.is_empty() || word.len() > WORD_BYTES {
        return None;
    }
    let mut b = [0u8; WORD_BYTES];
    b[..word.len()].copy_from_slice(word);
    let mut k = [0u64; 3];
    for (i, chunk) in b.chunks_exact(8).enumerate() {
        let mut c = [0u8; 8];
        c.copy_from_slice(chunk);
        k[i] = u64::from_le_bytes(c);
    }
    Some(k)
}

/// Open-addressing set of short words (the stopword lists). The stopword
/// test runs once per token of every line, and a `HashSet<String>` costs a
/// byte-wise hash, a probe and a `memcmp` each time; here a lookup is one
/// multiply and integer compares. The first key word of every slot is kept
/// apart (probes touch 8 bytes a slot; 0 marks an empty slot, as a
/// non-empty word never packs to 0).
#[derive(Debug, Clone)]
pub struct WordSet {
    first: Vec<u64>,
    rest: Vec<[u64; 2]>,
    shift: u32,
    /// The words of at most 8 bytes (most words, and most stopwords) again,
    /// as their one key word, in buckets of four: a short token is looked
    /// up in exactly one bucket (the multiplier is chosen so that no bucket
    /// overflows), with four compares and no branch.
    short: Vec<[u64; 4]>,
    short_shift: u32,
    short_mul: u64,
    /// Bytes of the longest word: longer tokens need no lookup.
    max_len: usize,
}

impl Default for WordSet {
    fn default() -> Self {
        WordSet::from_words(std::iter::empty::<&str>())
    }
}

impl WordSet {
    /// Words longer than [`WORD_BYTES`] (or empty, or holding NUL) are left out.
    pub fn from_words<S: AsRef<str>>(words: impl IntoIterator<Item = S>) -> Self {
        let keys: HashSet<Packed> = words
            .into_iter()
            .filter(|w| !w.as_ref().contains('\0'))
            .filter_map(|w| pack(w.as_ref().as_bytes()))
            .collect();
        // Load factor at most 1/4: most probes for a word that is not in
        // the set (most tokens) end at the first, empty slot.
        let bits = (keys.len() * 4)
            .max(16)
            .next_power_of_two()
            .trailing_zeros();
        let max_len = keys
            .iter()
            .map(|k| {
                k.iter()
                    .map(|w| 8 - w.leading_zeros() as usize / 8)
                    .sum::<usize>()
            })
            .max()
            .unwrap_or(0);
        let short_keys: Vec<u64> = keys
            .iter()
            .filter(|k| k[1] == 0 && k[2] == 0)
            .map(|k| k[0])
            .collect();
        let (short, short_bits, short_mul) = bucket_table(&short_keys);
        let mut set = WordSet {
            first: vec![0; 1 << bits],
            rest: vec![[0; 2]; 1 << bits],
            shift: 64 - bits,
            short,
            short_shift: 64 - short_bits,
            short_mul,
            max_len,
        };
        let mask = set.first.len() - 1;
        for k in keys {
            let mut i = set.slot(&k);
            while set.first[i] != 0 {
                i = (i + 1) & mask;
            }
            set.first[i] = k[0];
            set.rest[i] = [k[1], k[2]];
        }
        set
    }

    #[inline]
    fn slot(&self, k: &Packed) -> usize {
        let h = (k[0] ^ k[1].rotate_left(21) ^ k[2].rotate_left(42)).wrapping_mul(K);
        (h >> self.shift) as usize
    }

    /// Bytes of the longest word in the set.
    #[inline]
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// Whether the word of at most 8 bytes whose (non-zero) key word is
    /// `k0` is in the set. Probes end at the first empty slot: with a load
    /// factor of at most 1/4, almost always the first or second.
    #[inline(always)]
    pub fn contains_short(&self, k0: u64) -> bool {
        // No branch on the outcome: it is a coin toss in prose, where
        // about half the words are stopwords.
        let i = (k0.wrapping_mul(self.short_mul) >> self.short_shift) as usize;
        let b = self.short.get(i).copied().unwrap_or([0; 4]);
        (k0 != 0) & ((b[0] == k0) | (b[1] == k0) | (b[2] == k0) | (b[3] == k0))
    }

    /// The slot holding the word packed as by `pack`, if it is in the set:
    /// a dense index for a value stored beside the set.
    fn slot_of(&self, k: &Packed) -> Option<usize> {
        if k[0] == 0 {
            return None;
        }
        let mask = self.first.len() - 1;
        let mut i = self.slot(k);
        loop {
            let f = self.first.get(i).copied().unwrap_or(0);
            if f == 0 {
                return None;
            }
            if f == k[0] && self.rest.get(i) == Some(&[k[1], k[2]]) {
                return Some(i);
            }
            i = (i + 1) & mask;
        }
    }

    /// Whether the (already lowercased) word is in the set.
    pub fn contains(&self, word: &[u8]) -> bool {
        !word.contains(&0) && pack(word).is_some_and(|k| self.contains_packed(&k))
    }

    /// Whether the word packed as by `pack` (non-empty, at most
    /// [`WORD_BYTES`]) is in the set.
    #[inline(always)]
    pub fn contains_packed(&self, k: &Packed) -> bool {
        let (k0, k1, k2) = (k[0], k[1], k[2]);
        if k0 == 0 {
            return false;
        }
        if k1 == 0 && k2 == 0 {
            return self.contains_short(k0);
        }
        let mask = self.first.len() - 1;
        let mut i = self.slot(k);
        // The first slot settles almost every lookup (load factor ≤ 1/4):
        // compare it without branching on the outcome, which is a coin toss
        // in prose (about half the words are stopwords).
        let (f, r) = (
            self.first.get(i).copied().unwrap_or(0),
            self.rest.get(i).copied().unwrap_or([0; 2]),
        );
        let hit = (f == k0) & (r[0] == k1) & (r[1] == k2);
        if hit | (f == 0) {
            return hit;
        }
        loop {
            i = (i + 1) & mask;
            let f = self.first.get(i).copied().unwrap_or(0);
            if f == 0 {
                return false;
            }
            if f == k0 {
                if let Some(r) = self.rest.get(i) {
                    if r[0] == k1 && r[1] == k2 {
                        return true;
                    }
                }
            }
        }
    }
}

/// Bits of [`Stopwords`]' vote filter.
const VOTE_FILTER_BITS: usize = 1 << 13;

/// The bit of a packed word in the vote filter.
#[inline]
fn vote_filter_bit(k: &Packed) -> usize {
    let h = (k[0] ^ k[1].rotate_left(21) ^ k[2].rotate_left(42)).wrapping_mul(K);
    (h >> (64 - 13)) as usize
}

/// Buckets of four for `keys` (non-zero, distinct): a power-of-two count
/// of them (one for every one to two keys: the table of a language's
/// stopwords stays within 4 KiB of the L1 cache), the bits of a bucket index, and a
/// multiplier under which no bucket gets more than four keys (tried in
/// turn; the table doubles if none of a few dozen fits).
fn bucket_table(keys: &[u64]) -> (Vec<[u64; 4]>, u32, u64) {
    let mut bits = (keys.len() / 2).max(4).next_power_of_two().trailing_zeros();
    loop {
        for attempt in 0..64u64 {
            let mul = K.wrapping_add(attempt.wrapping_mul(0x9E37_79B9_7F4A_7C16)) | 1;
            let mut table = vec![[0u64; 4]; 1 << bits];
            let fits = keys.iter().all(|&k| {
                let i = (k.wrapping_mul(mul) >> (64 - bits)) as usize;
                match table[i].iter_mut().find(|s| **s == 0) {
                    Some(slot) => {
                        *slot = k;
                        true
                    }
                    None => false,
                }
            });
            if fits {
                return (table, bits, mul);
            }
        }
        bits += 1;
    }
}

/// ISO 639-1 for whatlang's ISO 639-3 codes (the 639-3 code if none exists).
pub fn iso639_1(code3: &'static str) -> &'static str {
    match code3 {
        "eng" => "en",
        "rus" => "ru",
        "cmn" => "zh",
        "spa" => "es",
        "por" => "pt",
        "ita" => "it",
        "ben" => "bn",
        "fra" => "fr",
        "deu" => "de",
        "ukr" => "uk",
        "kat" => "ka",
        "ara" => "ar",
        "hin" => "hi",
        "jpn" => "ja",
        "heb" => "he",
        "yid" => "yi",
        "pol" => "pl",
        "amh" => "am",
        "jav" => "jv",
        "kor" => "ko",
        "nob" => "nb",
        "dan" => "da",
        "swe" => "sv",
        "fin" => "fi",
        "tur" => "tr",
        "nld" => "nl",
        "hun" => "hu",
        "ces" => "cs",
        "ell" => "el",
        "bul" => "bg",
        "bel" => "be",
        "mar" => "mr",
        "kan" => "kn",
        "ron" => "ro",
        "slv" => "sl",
        "hrv" => "hr",
        "srp" => "sr",
        "mkd" => "mk",
        "lit" => "lt",
        "lav" => "lv",
        "est" => "et",
        "tam" => "ta",
        "vie" => "vi",
        "urd" => "ur",
        "tha" => "th",
        "guj" => "gu",
        "uzb" => "uz",
        "pan" => "pa",
        "aze" => "az",
        "ind" => "id",
        "tel" => "te",
        "pes" => "fa",
        "mal" => "ml",
        "ori" => "or",
        "mya" => "my",
        "nep" => "ne",
        "sin" => "si",
        "khm" => "km",
        "tuk" => "tk",
        "aka" => "ak",
        "zul" => "zu",
        "sna" => "sn",
        "afr" => "af",
        "lat" => "la",
        "slk" => "sk",
        "cat" => "ca",
        "tgl" => "tl",
        "hye" => "hy",
        "epo" => "eo",
        other => other,
    }
}

/// Detect the language of `text` with whatlang on a bounded sample; `None`
/// when whatlang is not confident (short or mixed text).
pub fn detect(text: &str) -> Option<&'static str> {
    whatlang_sample(&sample(text, SAMPLE_BYTES))
}

fn whatlang_sample(sample: &str) -> Option<&'static str> {
    let info = whatlang::detect(sample)?;
    if !info.is_reliable() && info.confidence() < 0.3 {
        return None;
    }
    Some(iso639_1(info.lang().code()))
}

/// Up to `limit` bytes of the document's longest lines (prose, not menus,
/// which would skew the detector toward English): the first line of at
/// least 200 bytes, else the longest lines in document order.
pub fn sample(text: &str, limit: usize) -> String {
    sample_tier(text, limit).0
}

/// Which lines a [`sample`] was taken from: lines of at least `min` bytes
/// (trimmed) up to byte `end` of the text, and whether they filled it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SampleSource {
    pub min: usize,
    pub end: usize,
    pub full: bool,
}

impl SampleSource {
    /// Whether removing a (trimmed) line of `len` bytes starting at byte
    /// `start` of the text leaves the sample as it is: a line too short to
    /// be sampled, or one after a full sample's last line.
    pub fn unaffected_by(&self, start: usize, len: usize) -> bool {
        len < self.min || (self.full && start >= self.end)
    }
}

/// [`sample`], and where it came from (see [`SampleSource`]).
pub fn sample_tier(text: &str, limit: usize) -> (String, SampleSource) {
    let mut out = String::with_capacity(limit + 64);
    for min in [200, 60, 0] {
        let mut pos = 0;
        let ends = memchr::memchr_iter(b'\n', text.as_bytes()).chain([text.len()]);
        for end in ends {
            let start = pos;
            let raw = text.get(start..end).unwrap_or_default();
            pos = end + 1;
            let (s, e) = crate::features::trim_bounds(raw);
            let line = raw.get(s..e).unwrap_or_default();
            if line.len() >= min && !line.is_empty() {
                push_bounded(&mut out, line, limit);
                if out.len() >= limit {
                    let end = start + raw.len();
                    return (
                        out,
                        SampleSource {
                            min,
                            end,
                            full: true,
                        },
                    );
                }
            }
        }
        if out.len() >= limit / 2 || min == 0 {
            let end = text.len();
            return (
                out,
                SampleSource {
                    min,
                    end,
                    full: false,
                },
            );
        }
        out.clear();
    }
    let end = text.len();
    (
        out,
        SampleSource {
            min: 0,
            end,
            full: false,
        },
    )
}

fn push_bounded(out: &mut String, line: &str, limit: usize) {
    let room = limit.saturating_sub(out.len());
    let mut end = line.len().min(room);
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    out.push_str(&line[..end]);
    out.push(' ');
}

/// The stopword lists shipped with the crate, by ISO 639-1 code.
const LISTS: &[(&str, &str)] = &[
    ("en", include_str!("../data/stopwords/en.txt")),
    ("de", include_str!("../data/stopwords/de.txt")),
    ("fr", include_str!("../data/stopwords/fr.txt")),
    ("es", include_str!("../data/stopwords/es.txt")),
    ("pt", include_str!("../data/stopwords/pt.txt")),
    ("it", include_str!("../data/stopwords/it.txt")),
    ("nl", include_str!("../data/stopwords/nl.txt")),
    ("ru", include_str!("../data/stopwords/ru.txt")),
    ("pl", include_str!("../data/stopwords/pl.txt")),
    ("tr", include_str!("../data/stopwords/tr.txt")),
    ("sv", include_str!("../data/stopwords/sv.txt")),
    ("id", include_str!("../data/stopwords/id.txt")),
    ("ja", include_str!("../data/stopwords/ja.txt")),
    ("zh", include_str!("../data/stopwords/zh.txt")),
];

/// Languages written without spaces: stopwords are matched per character.
pub fn is_cjk(lang: &str) -> bool {
    matches!(lang, "zh" | "ja")
}

/// All stopword sets, parsed once per built stage.
#[derive(Debug, Default)]
pub struct Stopwords {
    sets: Vec<(&'static str, WordSet)>,
    /// The words of the (alphabetic) lists, and per slot of that set the
    /// bit set of the lists that contain the word, for the stopword vote
    /// in [`Stopwords::detect`] (a packed-key lookup per token of the
    /// sample rather than a `String` hash and compare).
    vote_words: WordSet,
    vote_bits: Vec<u32>,
    /// Bit [`vote_filter_bit`] of every word of `vote_words`: most tokens
    /// that are no stopword are turned away by this 1 KiB, which stays in
    /// cache, rather than by a probe of the large set, which does not (it
    /// is read some fifty times a document, between whole pages of other
    /// work).
    vote_filter: Vec<u64>,
    /// Words the packed set cannot hold (longer than [`WORD_BYTES`]; none
    /// in the shipped lists), looked up the slow way.
    long_votes: HashMap<String, u32, BuildHasherDefault<QuickHasher>>,
    /// Union of every list: used when the language is unknown or unlisted, so
    /// stopword density stays meaningful (it only has to separate prose from
    /// menus, not identify the language).
    union: WordSet,
}

impl Stopwords {
    pub fn load() -> Self {
        let mut sets = Vec::new();
        let mut union = Vec::new();
        let mut votes: HashMap<String, u32, BuildHasherDefault<QuickHasher>> = HashMap::default();
        for (i, (code, text)) in LISTS.iter().enumerate() {
            let mut set = Vec::new();
            for line in text.lines().filter(|l| !l.starts_with('#')) {
                for w in line.split_whitespace() {
                    set.push(w.to_lowercase());
                    if !is_cjk(code) {
                        union.push(w.to_lowercase());
                        *votes.entry(w.to_lowercase()).or_insert(0) |= 1 << i;
                    }
                }
            }
            sets.push((*code, WordSet::from_words(set)));
        }
        let (short, long_votes): (HashMap<_, _, BuildHasherDefault<QuickHasher>>, _) = votes
            .into_iter()
            .partition(|(w, _)| pack(w.as_bytes()).is_some() && !w.contains('\0'));
        let vote_words = WordSet::from_words(short.keys());
        let mut vote_filter = vec![0u64; VOTE_FILTER_BITS / 64];
        for k in short.keys().filter_map(|w| pack(w.as_bytes())) {
            let b = vote_filter_bit(&k);
            if let Some(w) = vote_filter.get_mut(b / 64) {
                *w |= 1 << (b % 64);
            }
        }
        let mut vote_bits = vec![0u32; vote_words.first.len()];
        for (w, bits) in &short {
            let slot = pack(w.as_bytes()).and_then(|k| vote_words.slot_of(&k));
            if let Some(b) = slot.and_then(|i| vote_bits.get_mut(i)) {
                *b = *bits;
            }
        }
        Stopwords {
            sets,
            vote_words,
            vote_bits,
            vote_filter,
            long_votes,
            union: WordSet::from_words(union),
        }
    }

    /// The list for a language, or the union of the alphabetic lists.
    pub fn for_lang(&self, lang: Option<&str>) -> &WordSet {
        lang.and_then(|l| self.sets.iter().find(|(c, _)| *c == l))
            .map(|(_, s)| s)
            .unwrap_or(&self.union)
    }

    /// The document's language. Function words settle it cheaply for the
    /// alphabetic languages we ship lists for: when one list gets at least
    /// 8 hits in the sample (4 for English) and twice as many as any other,
    /// that language wins.
    /// Anything less clear-cut (related languages, other scripts, short
    /// text) goes to whatlang. whatlang alone costs ~0.25 µs per sample byte,
    /// more than the rest of the stage on a typical page.
    pub fn detect(&self, text: &str) -> Option<&'static str> {
        self.detect_sample(&sample(text, SAMPLE_BYTES))
    }

    /// [`Stopwords::detect`] on a sample already taken with [`sample`]
    /// (`SAMPLE_BYTES`): texts with the same sample get the same language.
    pub fn detect_sample(&self, short: &str) -> Option<&'static str> {
        if let Some(code) = self.vote(short) {
            return Some(code);
        }
        whatlang_sample(short)
    }

    /// The language whose stopwords dominate `sample`: at least 8 hits (4
    /// for English) and twice the runner-up. English needs fewer because on
    /// the dev and unlabelled web sets whatlang agreed with an English vote
    /// of 4-7 hits on almost every page (short English pages; where it did
    /// not, it was wrong), and whatlang costs ~0.2 ms a document, as much as
    /// cleaning an average page. Other languages keep 8: a weak vote there
    /// mislabels related unlisted languages (Catalan as Spanish...), which
    /// costs accuracy on OSCAR's 166-language sample.
    fn vote(&self, sample: &str) -> Option<&'static str> {
        let mut counts = [0u32; 32];
        let mut token = String::new();
        let mut tally = |token: &mut String| {
            let bits = match pack(token.as_bytes()) {
                Some(k) => {
                    let b = vote_filter_bit(&k);
                    let listed = self
                        .vote_filter
                        .get(b / 64)
                        .is_some_and(|w| (w >> (b % 64)) & 1 != 0);
                    listed
                        .then(|| self.vote_words.slot_of(&k))
                        .flatten()
                        .and_then(|i| self.vote_bits.get(i).copied())
                }
                None => self.long_votes.get(token.as_str()).copied(),
            };
            // One count per list holding the word (set bits only).
            let mut bits = bits.unwrap_or(0);
            while bits != 0 {
                if let Some(c) = counts.get_mut(bits.trailing_zeros() as usize) {
                    *c += 1;
                }
                bits &= bits - 1;
            }
            token.clear();
        };
        for c in sample.chars() {
            let alnum = if c.is_ascii() {
                c.is_ascii_alphanumeric()
            } else {
                crate::features::classify_non_ascii(c).0
            };
            if alnum {
                match crate::features::lower_fast(c) {
                    _ if c.is_ascii() => token.push(c.to_ascii_lowercase()),
                    Some(l) => token.push(l),
                    None => token.extend(c.to_lowercase()),
                }
            } else if !token.is_empty() {
                tally(&mut token);
            }
        }
        if !token.is_empty() {
            tally(&mut token);
        }
        let mut best = (0usize, 0u32);
        let mut second = 0u32;
        for (i, &c) in counts.iter().enumerate() {
            if c > best.1 {
                second = best.1;
                best = (i, c);
            } else if c > second {
                second = c;
            }
        }
        let code = self.sets.get(best.0).map(|(code, _)| *code)?;
        let needed = if code == "en" { 4 } else { 8 };
        (best.1 >= needed && best.1 >= 2 * second).then_some(code)
    }

    /// Languages that have a list.
    pub fn languages(&self) -> Vec<&'static str> {
        self.sets.iter().map(|(c, _)| *c).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sample_is_unaffected_by_the_lines_it_says() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/seeds");
        let mut texts: Vec<String> = [
            "000_e7f6ed2af000063c.txt",
            "002_31699701fbb39e56.txt",
            "003_240feac35cea67fe.txt",
        ]
        .iter()
        .map(|n| std::fs::read_to_string(format!("{dir}/{n}")).unwrap())
        .collect();
        // Short pages sample from shorter lines, or from all of them.
        let short: Vec<String> = texts
            .iter()
            .map(|t| {
                t.lines()
                    .filter(|l| l.len() < 200)
                    .take(12)
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .collect();
        texts.extend(short);
        let (mut unaffected, mut affected) = (0, 0);
        for text in &texts {
            let (s, src) = sample_tier(text, SAMPLE_BYTES);
            assert_eq!(s, sample(text, SAMPLE_BYTES));
            let mut pos = 0;
            let lines: Vec<&str> = text.split('\n').collect();
            for (i, raw) in lines.iter().enumerate() {
                let lead = raw.len() - raw.trim_start().len();
                let (start, len) = (pos + lead, raw.trim().len());
                pos += raw.len() + 1;
                if len == 0 {
                    continue;
                }
                let without: Vec<&str> = lines
                    .iter()
                    .enumerate()
                    .filter(|&(j, _)| j != i)
                    .map(|(_, l)| *l)
                    .collect();
                if src.unaffected_by(start, len) {
                    unaffected += 1;
                    assert_eq!(sample(&without.join("\n"), SAMPLE_BYTES), s, "{raw}");
                } else {
                    affected += 1;
                }
            }
        }
        assert!(unaffected > 50 && affected > 5, "{unaffected} {affected}");
    }

    /// The vote as it was first written: a `String` per token, looked up
    /// in a map from each word to the lists holding it.
    fn vote_reference(sw: &Stopwords, sample: &str) -> Option<&'static str> {
        let mut votes: HashMap<String, u32> = HashMap::new();
        for (i, (code, text)) in LISTS.iter().enumerate() {
            for w in text
                .lines()
                .filter(|l| !l.starts_with('#'))
                .flat_map(str::split_whitespace)
            {
                if !is_cjk(code) {
                    *votes.entry(w.to_lowercase()).or_insert(0) |= 1 << i;
                }
            }
        }
        let mut counts = [0u32; 32];
        let mut token = String::new();
        let mut tokens = Vec::new();
        for c in sample.chars() {
            if c.is_alphanumeric() {
                token.extend(c.to_lowercase());
            } else if !token.is_empty() {
                tokens.push(std::mem::take(&mut token));
            }
        }
        tokens.push(token);
        for t in tokens.iter().filter(|t| !t.is_empty()) {
            if let Some(&bits) = votes.get(t) {
                for (i, c) in counts.iter_mut().enumerate() {
                    *c += (bits >> i) & 1;
                }
            }
        }
        let mut order: Vec<usize> = (0..32).collect();
        order.sort_by_key(|&i| (std::cmp::Reverse(counts[i]), i));
        let (best, second) = (order[0], counts[order[1]]);
        let code = sw.sets.get(best).map(|(code, _)| *code)?;
        let needed = if code == "en" { 4 } else { 8 };
        (counts[best] >= needed && counts[best] >= 2 * second).then_some(code)
    }

    #[test]
    fn the_vote_matches_the_reference() {
        let sw = Stopwords::load();
        let mut samples: Vec<String> = crate::seed_lines(&[], false)
            .chunks(3)
            .map(|c| sample(&c.join("\n"), SAMPLE_BYTES))
            .collect();
        samples.extend(
            [
                "Die Bundesregierung hat am Mittwoch beschlossen, die Hilfen für die Ukraine auszuweiten, wie ein Sprecher in Berlin mitteilte, und sie will es auch weiter tun, wenn es nötig ist.",
                "Le gouvernement a annoncé mercredi qu'il allait prolonger les aides aux entreprises touchées par la crise de l'énergie et il ne veut pas que les prix de la vie montent.",
                "Rząd zapowiedział w środę, że przedłuży pomoc dla firm dotkniętych kryzysem energetycznym w przyszłym roku, ale nie wiadomo, jak to będzie i co z tego wyjdzie.",
                "Правительство объявило в среду, что продлит помощь компаниям, и это будет не так просто, как было бы в другой год, но они это сделают и для нас.",
                "THE And OF the Of tHe ÜBER Über über DER die DAS",
                "",
            ]
            .map(String::from),
        );
        let mut decided = 0;
        for s in &samples {
            let got = sw.vote(s);
            assert_eq!(got, vote_reference(&sw, s), "{s}");
            decided += got.is_some() as u32;
        }
        assert!(decided >= 8, "{decided}");
    }

    #[test]
    fn no_stopword_holds_a_digit() {
        // The fast line scan looks words up in the normalised line, where
        // digits are folded to 0: that is only the same lookup while no
        // stopword holds a numeric character.
        for (code, text) in LISTS {
            let words = text.lines().filter(|l| !l.starts_with('#'));
            for w in words.flat_map(str::split_whitespace) {
                assert!(!w.chars().any(char::is_numeric), "{code}: {w}");
            }
        }
    }

    #[test]
    fn word_set_finds_exactly_its_words() {
        let sw = Stopwords::load();
        let en = sw.for_lang(Some("en"));
        for w in ["the", "and", "of", "because", "themselves"] {
            assert!(en.contains(w.as_bytes()), "{w}");
        }
        for w in ["", "th", "thee", "cookie", "diplomat", "the the", "a\0"] {
            assert!(!en.contains(w.as_bytes()), "{w:?}");
        }
        let ru = sw.for_lang(Some("ru"));
        assert!(ru.contains("и".as_bytes()));
        // A word of exactly WORD_BYTES bytes is held; a longer one is not.
        let long = "abcdefghijklmnopqrstuvwx";
        let set = WordSet::from_words([long, "abcdefghijklmnopqrstuvwxy"]);
        assert!(set.contains(long.as_bytes()));
        assert!(!set.contains(b"abcdefghijklmnopqrstuvwxy"));
        assert!(!set.contains(b"abcdefghijklmnopqrstuvw"));
    }
}
