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
        let mut set = WordSet {
            first: vec![0; 1 << bits],
            rest: vec![[0; 2]; 1 << bits],
            shift: 64 - bits,
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

    /// Whether the (already lowercased) word is in the set.
    pub fn contains(&self, word: &[u8]) -> bool {
        !word.contains(&0) && pack(word).is_some_and(|k| self.contains_packed(&k))
    }

    /// Whether the word packed as by `pack` (non-empty, at most
    /// [`WORD_BYTES`]) is in the set.
    #[inline]
    pub fn contains_packed(&self, k: &Packed) -> bool {
        let (k0, k1, k2) = (k[0], k[1], k[2]);
        if k0 == 0 {
            return false;
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
        for raw in text.split('\n') {
            let start = pos;
            pos += raw.len() + 1;
            let line = raw.trim();
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
    /// Word → bit set of the (alphabetic) lists that contain it, for the
    /// stopword vote in [`Stopwords::detect`].
    votes: HashMap<String, u32, BuildHasherDefault<QuickHasher>>,
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
        Stopwords {
            sets,
            votes,
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
            if let Some(&bits) = self.votes.get(token.as_str()) {
                for (i, c) in counts.iter_mut().enumerate() {
                    *c += (bits >> i) & 1;
                }
            }
            token.clear();
        };
        for c in sample.chars() {
            if c.is_alphanumeric() {
                token.extend(c.to_lowercase());
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
