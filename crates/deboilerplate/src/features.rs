//! Line features: everything the classifier knows about one line, computed
//! in one pass over its characters (O(line length)).

use crate::lang::{is_cjk, Packed, WordSet, WORD_BYTES};
use crate::lexicon::{Hits, Lexicon};

/// Number of per-line features (stage 1 of the model).
pub const NF1: usize = 22;
/// Number of context features (stage 2 of the model).
pub const NF2: usize = 10;

/// Names of the stage-1 features, in order (the weight file uses them).
pub const NAMES1: [&str; NF1] = [
    "bias",
    "words_le2",
    "words_3_6",
    "words_7_15",
    "words_16_40",
    "words_gt40",
    "log_chars",
    "stopword_density",
    "terminal_punct",
    "punct_density",
    "digit_fraction",
    "capitalised_fraction",
    "has_url",
    "bullet",
    "position",
    "lexicon_weak",
    "separators",
    "comment_zone",
    "commas_per_word",
    "avg_word_len",
    "starts_lowercase",
    "no_words",
];

/// Names of the stage-2 (context) features.
pub const NAMES2: [&str; NF2] = [
    "bias",
    "own",
    "prev",
    "next",
    "window3",
    "window10",
    "doc_mean",
    "blank_before",
    "blank_after",
    "edge",
];

/// Lines longer than this (bytes) are not matched against the lexicon.
pub const MAX_LEXICON_LINE: usize = 400;

/// Only the first this many bytes of a line are scanned; counts of longer
/// lines are extrapolated from them (a paragraph's stopword density or
/// punctuation rate does not change past its first sentences, and this
/// keeps the cost per line bounded).
pub const SCAN_BYTES: usize = 512;

/// One line's measurements.
#[derive(Debug, Clone)]
pub struct LineFeatures {
    pub f: [f32; NF1],
    /// Word tokens (CJK characters count one each).
    pub words: u32,
    pub hits: Hits,
    /// A hard rule that removes the line whatever the model says.
    pub rule: Option<&'static str>,
}

fn is_cjk_char(c: char) -> bool {
    matches!(c as u32, 0x3040..=0x30FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF)
}

/// Lowercase, digits kept, every other run of non-alphanumerics turned into
/// one space; optionally digits folded to `0` (so "Page 191" and "Page 192"
/// count as the same line in the profile).
pub fn normalise(line: &str, fold_digits: bool) -> String {
    let mut out = String::with_capacity(line.len());
    normalise_into(line, fold_digits, &mut out);
    out
}

/// [`normalise`] into a reused buffer.
pub fn normalise_into(line: &str, fold_digits: bool, out: &mut String) {
    let mut v = std::mem::take(out).into_bytes();
    normalise_bytes_into(line, fold_digits, &mut v);
    // Only whole characters were written, so this never fails.
    *out = String::from_utf8(v).unwrap_or_default();
}

/// [`normalise`] as UTF-8 bytes into a reused buffer: the hot paths hash
/// and compare the bytes and never need a `String` (whose UTF-8 check
/// would be a second pass over the line).
pub fn normalise_bytes_into(line: &str, fold_digits: bool, v: &mut Vec<u8>) {
    // Up to eight ASCII bytes at a time as bit masks (as in `scan_fast`);
    // other characters are decoded one by one, with table-free answers for
    // the common scripts.
    let bytes = line.as_bytes();
    v.clear();
    v.resize(bytes.len() + 16, 0);
    // Output length; whether the last character was a separator (initially:
    // so that leading separators write nothing).
    let (mut j, mut last_sep) = (0usize, 1u64);
    let mut i = 0;
    while let Some(rest) = bytes.get(i..).filter(|r| !r.is_empty()) {
        let (w, p) = next_block(rest);
        if p > 0 {
            let valid = HI & low_bytes(p);
            let digit = ge(w, b'0') & !ge(w, b'9' + 1) & valid;
            let y = w | (0x20 * LO);
            let alpha = ge(y, b'a') & !ge(y, b'z' + 1) & valid;
            let sepm = !(digit | alpha) & valid;
            let full = |m: u64| (m >> 7).wrapping_mul(0xFF);
            let digits = if fold_digits { 0x30 * LO } else { w };
            let t = (y & full(alpha)) | (digits & full(digit)) | ((0x20 * LO) & full(sepm));
            let keep = !(sepm & ((sepm << 8) | (last_sep << 7))) & valid;
            if let Some(o) = v.get_mut(j..j + 8) {
                o.copy_from_slice(&compact(t, keep, valid).to_le_bytes());
            }
            j += byte_sum(keep >> 7) as usize;
            last_sep = (sepm >> (8 * p - 1)) & 1;
            i += p;
            continue;
        }
        let Some(c) = line.get(i..).and_then(|rest| rest.chars().next()) else {
            break;
        };
        i += c.len_utf8();
        // Room for the character's lowercase (≤ 3 chars) and a block.
        let need = j + 16 + (bytes.len() - i) + 16;
        if v.len() < need {
            v.resize(need, 0);
        }
        let (alnum, numeric) = classify_non_ascii(c);
        if !alnum {
            if let Some(o) = v.get_mut(j) {
                *o = b' ';
            }
            j += (1 - last_sep) as usize;
            last_sep = 1;
            continue;
        }
        let (tmp, len) = norm_char(c, numeric, fold_digits);
        if let (Some(o), Some(t)) = (v.get_mut(j..j + len), tmp.get(..len)) {
            o.copy_from_slice(t);
        }
        j += len;
        last_sep = 0;
    }
    if last_sep == 1 && j > 0 {
        j -= 1;
    }
    v.truncate(j);
}

/// `t` without its bytes that `keep` (high bits) does not mark, among the
/// `valid` ones: the kept bytes packed down in order, garbage above them.
#[inline(always)]
fn compact(mut t: u64, keep: u64, valid: u64) -> u64 {
    // Delete the dropped bytes, highest first (usually one or none).
    let mut drop = !keep & valid;
    while drop != 0 {
        let k = 63 - drop.leading_zeros() as u64;
        let low = (1u64 << (k - 7)) - 1;
        t = (t & low) | ((t >> 8) & !low);
        drop &= !(1u64 << k);
    }
    t
}

/// Append one non-ASCII alphanumeric character as [`normalise`] writes it.
#[inline]
fn push_norm_char(v: &mut Vec<u8>, c: char, numeric: bool, fold_digits: bool) {
    let mut tmp = [0u8; 4];
    if fold_digits && numeric {
        v.push(b'0');
    } else if let Some(l) = lower_fast(c) {
        v.extend_from_slice(l.encode_utf8(&mut tmp).as_bytes());
    } else {
        for l in c.to_lowercase() {
            v.extend_from_slice(l.encode_utf8(&mut tmp).as_bytes());
        }
    }
}

/// The next (up to) eight bytes of `rest` as a word (zero padded), and how
/// many of them come before the first non-ASCII byte.
#[inline]
fn next_block(rest: &[u8]) -> (u64, usize) {
    let n = rest.len().min(8);
    let w = load8(rest);
    let non_ascii = w & HI & low_bytes(n);
    let p = if non_ascii == 0 {
        n
    } else {
        (non_ascii.trailing_zeros() / 8) as usize
    };
    (w, p)
}

/// The first eight bytes of `rest` as a little-endian word, zero padded
/// when it is shorter (a whole-word load on all but a line's last bytes:
/// no `memcpy` call per block).
#[inline(always)]
fn load8(rest: &[u8]) -> u64 {
    match rest.first_chunk::<8>() {
        Some(w) => u64::from_le_bytes(*w),
        None => {
            let mut block = [0u8; 8];
            let n = rest.len().min(8);
            if let (Some(b), Some(r)) = (block.get_mut(..n), rest.get(..n)) {
                b.copy_from_slice(r);
            }
            u64::from_le_bytes(block)
        }
    }
}

/// One non-ASCII alphanumeric character as [`normalise`] writes it, in a
/// stack buffer (its lowercase is at most three characters): no allocation
/// per character.
#[inline]
fn norm_char(c: char, numeric: bool, fold_digits: bool) -> ([u8; 12], usize) {
    let mut buf = [0u8; 12];
    let mut n = 0;
    let mut put = |l: char| {
        let mut tmp = [0u8; 4];
        let e = l.encode_utf8(&mut tmp).as_bytes();
        if let Some(o) = buf.get_mut(n..n + e.len()) {
            o.copy_from_slice(e);
            n += e.len();
        }
    };
    if fold_digits && numeric {
        put('0');
    } else if let Some(l) = lower_fast(c) {
        put(l);
    } else {
        c.to_lowercase().for_each(put);
    }
    (buf, n)
}

/// Byte range of `s.trim()` in `s`, with the ASCII spaces of nearly every
/// line handled without Unicode tables.
pub fn trim_bounds(s: &str) -> (usize, usize) {
    let b = s.as_bytes();
    let ascii_ws = |x: u8| matches!(x, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r');
    let mut i = 0;
    while b.get(i).is_some_and(|&x| ascii_ws(x)) {
        i += 1;
    }
    if b.get(i).is_some_and(|&x| x >= 0x80) {
        i = s.len() - s.trim_start().len();
    }
    let mut j = b.len();
    while j > i && b.get(j - 1).is_some_and(|&x| ascii_ws(x)) {
        j -= 1;
    }
    if j > i && b.get(j - 1).is_some_and(|&x| x >= 0x80) {
        j = s.trim_end().len().max(i);
    }
    (i, j)
}

/// The lowercase of a letter of Latin-1 or basic Cyrillic without the
/// Unicode tables (`None` elsewhere: ask `char::to_lowercase`).
#[inline]
pub(crate) fn lower_fast(c: char) -> Option<char> {
    let u = c as u32;
    let l = match u {
        0xC0..=0xDE if u != 0xD7 => u + 0x20,
        0xDF..=0xFF => u,
        0x410..=0x42F => u + 0x20,
        0x430..=0x44F => u,
        _ => return None,
    };
    char::from_u32(l)
}

/// The characters [`is_terminal`] matches (the test checks the two agree).
#[cfg(test)]
const TERMINAL: &[char] = &[
    '.', '!', '?', '"', '\'', '”', '’', '»', '。', '！', '？', ':', ';', '…', ')',
];
/// The characters [`is_bullet`] matches.
#[cfg(test)]
const BULLETS: &[char] = &[
    '•', '·', '*', '-', '–', '—', '►', '▶', '»', '›', '◦', '▪', '■', '○', '●',
];
const SEPARATORS: &[char] = &['|', '»', '›', '·', '•', '/', '>'];

/// `TERMINAL.contains(&c)` as one `match` (a jump table or a few compares
/// rather than a walk over the list, once per line).
#[inline]
fn is_terminal(c: char) -> bool {
    matches!(
        c,
        '.' | '!' | '?' | '"' | '\'' | '”' | '’' | '»' | '。' | '！' | '？' | ':' | ';' | '…' | ')'
    )
}

/// `BULLETS.contains(&c)` as one `match`.
#[inline]
fn is_bullet(c: char) -> bool {
    matches!(
        c,
        '•' | '·'
            | '*'
            | '-'
            | '–'
            | '—'
            | '►'
            | '▶'
            | '»'
            | '›'
            | '◦'
            | '▪'
            | '■'
            | '○'
            | '●'
    )
}

/// Ends with `[TAG]` where TAG is 2–12 capital letters: the "related story
/// [VIDEO]" links news sites interleave with the article.
fn ends_with_caps_tag(line: &str) -> bool {
    let Some(body) = line.strip_suffix(']') else {
        return false;
    };
    let Some(open) = body.rfind('[') else {
        return false;
    };
    let tag = &body[open + 1..];
    (2..=12).contains(&tag.len()) && tag.bytes().all(|b| b.is_ascii_uppercase())
}

/// The current token, lowercased, packed straight into the key a
/// [`WordSet`] looks up (little-endian u64 words, zero padded): only tokens
/// of at most [`WORD_BYTES`] can be stopwords, longer ones just count bytes.
/// The word being filled stays in `cur` (a register), so short tokens never
/// touch memory.
struct Token {
    /// Completed 8-byte words of the key.
    key: Packed,
    /// The 8-byte word being filled.
    cur: u64,
    /// Bytes of the lowercased token so far (may exceed the key).
    len: usize,
}

impl Token {
    fn new() -> Self {
        Token {
            key: [0; 3],
            cur: 0,
            len: 0,
        }
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline]
    fn push_byte(&mut self, b: u8) {
        self.cur |= u64::from(b) << (8 * (self.len % 8));
        self.len += 1;
        if self.len.is_multiple_of(8) {
            if let Some(k) = self.key.get_mut(self.len / 8 - 1) {
                *k = self.cur;
            }
            self.cur = 0;
        }
    }

    fn push(&mut self, c: char) {
        let mut tmp = [0u8; 4];
        for &b in c.encode_utf8(&mut tmp).as_bytes() {
            self.push_byte(b);
        }
    }

    /// The lookup key; meaningful while `len <= WORD_BYTES`.
    #[inline]
    fn packed(&self) -> Packed {
        let mut k = self.key;
        if let Some(slot) = k.get_mut(self.len / 8) {
            *slot = self.cur;
        }
        k
    }

    fn clear(&mut self) {
        if self.len >= 8 {
            self.key = [0; 3];
        }
        self.cur = 0;
        self.len = 0;
    }
}

/// Token counts of one line.
#[derive(Default)]
struct Counts {
    chars: u32,
    words: u32,
    stop_words: u32,
    capitalised: u32,
}

impl Counts {
    #[inline]
    fn finish(&mut self, token: &mut Token, first: Option<char>, stop: &WordSet) {
        if token.is_empty() {
            return;
        }
        self.words += 1;
        if token.len <= stop.max_len() && stop.contains_packed(&token.packed()) {
            self.stop_words += 1;
        }
        if first.is_some_and(|c| c.is_uppercase()) {
            self.capitalised += 1;
        }
        token.clear();
    }

    /// Finish a token that is the ASCII run `lower[start..end]` (already
    /// lowercased; `lower` is zero padded by [`WORD_BYTES`]).
    #[inline(always)]
    fn finish_ascii(
        &mut self,
        lower: &[u8],
        start: usize,
        end: usize,
        upper: bool,
        stop: &WordSet,
    ) {
        self.words += 1;
        self.capitalised += upper as u32;
        let len = end - start;
        if len > stop.max_len() {
            return;
        }
        let k = packed_key(lower, start, len);
        self.stop_words += stop.contains_packed(&k) as u32;
    }
}

/// `ascii_start` when no ASCII-run token is in progress.
const NO_TOKEN: usize = usize::MAX;

/// `(is_alphanumeric, is_numeric)` of a non-ASCII character, with table-free
/// answers for the blocks most text is written in (Latin-1 and Latin
/// Extended letters, basic Cyrillic, CJK ideographs); the unit tests check
/// these ranges against the standard library exhaustively.
#[inline]
pub(crate) fn classify_non_ascii(c: char) -> (bool, bool) {
    match c as u32 {
        0xD7 | 0xF7 => (false, false),
        0xC0..=0x24F | 0x410..=0x44F | 0x4E00..=0x9FA5 => (true, false),
        // General punctuation: dashes, curly quotes, ellipsis.
        0x2000..=0x206F => (false, false),
        _ => {
            let numeric = c.is_numeric();
            (numeric || c.is_alphabetic(), numeric)
        }
    }
}

/// Scratch space reused across lines (no allocation per line).
#[derive(Default)]
pub struct Scratch {
    /// The line normalised with digits folded (UTF-8), when `norm_ready`.
    pub norm: Vec<u8>,
    pub norm_ready: bool,
    /// The line with ASCII letters lowercased, for the lexicon (zero
    /// padded by 16 bytes past the scanned text when [`scan_fast`] wrote
    /// it).
    lower: Vec<u8>,
    /// Offsets in `norm` where the words of the line start ([`scan_fast`]).
    starts: Vec<u32>,
}

const A_ALNUM: u8 = 1;
const A_DIGIT: u8 = 2;
const A_UPPER: u8 = 4;
/// `char::is_whitespace` (which, unlike `u8::is_ascii_whitespace`, includes
/// the vertical tab).
const A_SPACE: u8 = 8;
const A_COMMA: u8 = 16;
const A_SEP: u8 = 32;

/// Classes of the ASCII bytes, so the scan of an ASCII character is one
/// table load and a few bit tests.
const fn ascii_classes() -> [u8; 128] {
    let mut t = [0u8; 128];
    let mut i = 0;
    while i < 128 {
        let c = i as u8;
        let mut k = 0;
        if c.is_ascii_alphanumeric() {
            k |= A_ALNUM;
        }
        if c.is_ascii_digit() {
            k |= A_DIGIT;
        }
        if c.is_ascii_uppercase() {
            k |= A_UPPER;
        }
        if matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
            k |= A_SPACE;
        }
        if c == b',' {
            k |= A_COMMA;
        }
        if matches!(c, b'|' | b'/' | b'>') {
            k |= A_SEP;
        }
        t[i] = k;
        i += 1;
    }
    t
}

static ASCII_CLASS: [u8; 128] = ascii_classes();

/// `ln(1 + n)` for small counts, from a table: the same `f32::ln` values,
/// without a call per line and feature.
fn ln1p_count(n: u32) -> f32 {
    static TABLE: std::sync::OnceLock<Vec<f32>> = std::sync::OnceLock::new();
    let t = TABLE.get_or_init(|| (0..=1024u32).map(|i| (1.0 + i as f32).ln()).collect());
    match t.get(n as usize) {
        Some(&v) => v,
        None => (1.0 + n as f32).ln(),
    }
}

/// What the scan of one line counts.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct ScanCounts {
    chars: u32,
    words: u32,
    stop_words: u32,
    capitalised: u32,
    punct: u32,
    digits: u32,
    commas: u32,
    separators: u32,
    word_chars: u32,
    first_alpha: Option<char>,
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// High bit of each byte of `w` (all ASCII) that is at least `c` (1..=128).
#[inline(always)]
fn ge(w: u64, c: u8) -> u64 {
    w.wrapping_add(u64::from(0x80 - c) * LO) & HI
}

/// High bit of each byte of `w` (all ASCII) equal to `c`.
#[inline(always)]
fn eq(w: u64, c: u8) -> u64 {
    let z = w ^ (u64::from(c) * LO);
    !(((z & !HI).wrapping_add(!HI)) | z) & HI
}

/// The stopword key of the token `bytes[start..start + len]`: its bytes as
/// little-endian words, zero padded. Whole-word loads (the buffer is padded
/// past its text), the bytes past the token masked off.
#[inline]
fn packed_key(bytes: &[u8], start: usize, len: usize) -> Packed {
    let word = |j: usize| -> u64 {
        let off = start + 8 * j;
        let w = bytes
            .get(off..off + 8)
            .and_then(|w| <[u8; 8]>::try_from(w).ok())
            .map_or(0, u64::from_le_bytes);
        w & low_bytes(len.saturating_sub(8 * j).min(8))
    };
    if len <= 8 {
        [word(0), 0, 0]
    } else {
        [word(0), word(1), word(2)]
    }
}

/// Mask of the low `n` (≤ 8) bytes of a u64.
#[inline(always)]
fn low_bytes(n: usize) -> u64 {
    if n >= 8 {
        u64::MAX
    } else {
        (1u64 << (8 * n)) - 1
    }
}

/// Sum of the eight bytes of `v`.
#[inline]
fn byte_sum(v: u64) -> u32 {
    const M: u64 = 0x00FF_00FF_00FF_00FF;
    let pairs = (v & M) + ((v >> 8) & M);
    (pairs.wrapping_mul(0x0001_0001_0001_0001) >> 48) as u32
}

/// Add the per-byte counters of [`scan_fast`] to the counts and clear them.
fn flush(acc: &mut [u64; 7], c: &mut ScanCounts) {
    let [words, caps, alnums, digits, punct, commas, seps] = acc.map(byte_sum);
    c.words += words;
    c.capitalised += caps;
    c.word_chars += alnums;
    c.digits += digits;
    c.punct += punct;
    c.commas += commas;
    c.separators += seps;
    *acc = [0; 7];
}

/// The scan of [`scan_exact`] without its branches per character: an ASCII
/// byte updates every count and writes its normalised byte with table
/// loads and arithmetic, so the end of a word costs no mispredicted branch;
/// the words are then looked up as stopwords straight from the normalised
/// line (their start offsets recorded on the way). Non-ASCII characters
/// take a slower branch. Always writes the normalised scanned text to
/// `scratch.norm`. `None` (the caller uses [`scan_exact`]) on CJK letters,
/// which are words of one character each.
fn scan_fast(scanned: &str, stop: &WordSet, scratch: &mut Scratch) -> Option<ScanCounts> {
    let bytes = scanned.as_bytes();
    let out = &mut scratch.norm;
    out.clear();
    // One output byte per ASCII input byte at most, plus the zero padding
    // the stopword keys are loaded with; non-ASCII characters grow it.
    out.resize(bytes.len() + 2 * WORD_BYTES, 0);
    // The scanned text with ASCII letters lowercased, written in the same
    // pass (the lexicon's input), zero padded by 16.
    let lower = &mut scratch.lower;
    lower.clear();
    lower.resize(bytes.len() + 16, 0);
    let starts = &mut scratch.starts;
    // Only the first `nt` entries are read, each written first: grow the
    // buffer, never clear it (no memset per line).
    if starts.len() < bytes.len() + 1 {
        starts.resize(bytes.len() + 1, 0);
    }
    let mut st = BlockState {
        c: ScanCounts::default(),
        j: 0,
        nt: 0,
        last_sep: 1,
        prev_alnum: 0,
        first_pos: usize::MAX,
        acc: [0; 7],
        blocks_left: 255,
    };
    let mut i = 0;
    // Whole blocks of eight ASCII bytes (most of them): `valid` is a
    // constant there, and every mask and shift with it folds away.
    while let Some(&chunk) = bytes.get(i..).and_then(|r| r.first_chunk::<8>()) {
        let w = u64::from_le_bytes(chunk);
        if w & HI != 0 {
            break;
        }
        ascii_block(w, 8, HI, i, &mut st, starts, out, lower);
        i += 8;
    }
    while let Some(rest) = bytes.get(i..).filter(|r| !r.is_empty()) {
        // Up to eight ASCII bytes at a time: every class is a bit mask (the
        // high bit of each byte), every count a sum of those bits. The block
        // ends before the first non-ASCII byte (or the end of the line).
        let (w, p) = next_block(rest);
        if p == 8 {
            ascii_block(w, 8, HI, i, &mut st, starts, out, lower);
            i += 8;
            continue;
        }
        if p > 0 {
            // Bytes past `p` may be garbage in these masks (a non-ASCII
            // byte carries into the bytes above it): `valid` clears them.
            ascii_block(w, p, HI & low_bytes(p), i, &mut st, starts, out, lower);
            i += p;
            continue;
        }
        let ch = scanned.get(i..).and_then(|rest| rest.chars().next())?;
        let at = i;
        i += ch.len_utf8();
        // Not ASCII: as it is in the lowercased copy.
        if let (Some(o), Some(b)) = (lower.get_mut(at..i), bytes.get(at..i)) {
            o.copy_from_slice(b);
        }
        let c = &mut st.c;
        c.chars += 1;
        // Room for the character's lowercase (≤ 3 chars) and the padding.
        let need = st.j + 16 + (bytes.len() - at) + 2 * WORD_BYTES;
        if out.len() < need {
            out.resize(need, 0);
        }
        let (alnum, numeric) = classify_non_ascii(ch);
        if alnum {
            if is_cjk_char(ch) {
                return None;
            }
            st.first_pos = st.first_pos.min(at);
            if st.prev_alnum == 0 {
                c.words += 1;
                c.capitalised += u32::from(ch.is_uppercase());
                if let Some(s) = starts.get_mut(st.nt) {
                    *s = st.j as u32;
                }
                st.nt += 1;
            }
            c.word_chars += 1;
            c.digits += u32::from(numeric);
            let (tmp, len) = norm_char(ch, numeric, true);
            if let (Some(o), Some(t)) = (out.get_mut(st.j..st.j + len), tmp.get(..len)) {
                o.copy_from_slice(t);
            }
            st.j += len;
            st.last_sep = 0;
            st.prev_alnum = 1;
        } else {
            if !ch.is_whitespace() {
                c.punct += 1;
                c.commas += u32::from(matches!(ch, '،' | '，' | '、'));
                c.separators += u32::from(SEPARATORS.contains(&ch));
            }
            if let Some(o) = out.get_mut(st.j) {
                *o = b' ';
            }
            st.j += 1 - st.last_sep;
            st.last_sep = 1;
            st.prev_alnum = 0;
        }
    }
    let BlockState {
        mut c,
        mut j,
        nt,
        last_sep,
        first_pos,
        mut acc,
        ..
    } = st;
    if last_sep == 1 && j > 0 {
        j -= 1;
    }
    flush(&mut acc, &mut c);
    c.first_alpha = scanned.get(first_pos..).and_then(|r| r.chars().next());
    // Zero padding after the text: a key is three whole-word loads.
    if let Some(pad) = out.get_mut(j..j + 2 * WORD_BYTES) {
        pad.fill(0);
    }
    let max_len = stop.max_len();
    let starts = starts.get(..nt).unwrap_or_default();
    for (t, &s) in starts.iter().enumerate() {
        let s = s as usize;
        // Words are separated by exactly one space in the normalised text.
        let e = starts.get(t + 1).map_or(j, |&n| n as usize - 1);
        let len = e - s;
        // Words of up to 8 bytes (most) are one key word, looked up with no
        // branch on the length or the outcome; longer ones, up to the
        // longest stopword, the full way.
        let w0 = out
            .get(s..s + 8)
            .and_then(|w| <[u8; 8]>::try_from(w).ok())
            .map_or(0, u64::from_le_bytes)
            & low_bytes(len.min(8));
        let mut hit = stop.contains_short(w0) & (len <= 8);
        if len > 8 && len <= max_len {
            hit = stop.contains_packed(&packed_key(out, s, len));
        }
        c.stop_words += u32::from(hit);
    }
    out.truncate(j);
    Some(c)
}

/// The running state of [`scan_fast`].
struct BlockState {
    c: ScanCounts,
    /// Output length.
    j: usize,
    /// Words so far.
    nt: usize,
    /// Whether the last character was a separator (initially: so that
    /// leading separators write nothing).
    last_sep: usize,
    prev_alnum: u32,
    first_pos: usize,
    /// Per-byte counters, summed at the end (or every 255 blocks, before
    /// a byte can overflow): no popcount per block.
    acc: [u64; 7],
    /// Blocks until the next flush of `acc`.
    blocks_left: u32,
}

/// The first `p` (1..=8) bytes of `w`, all ASCII (`valid`: the high bits
/// of those bytes), at byte `i` of the line: every class is a bit mask (the
/// high bit of each byte), every count a sum of those bits; the normalised
/// bytes go to `out`, the word starts to `starts` and the bytes with their
/// capitals lowercased to `lower[i..i + 8]` (bytes past `p`, which this
/// block does not cover, as they are: the next block or character writes
/// them again).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn ascii_block(
    w: u64,
    p: usize,
    valid: u64,
    i: usize,
    st: &mut BlockState,
    starts: &mut [u32],
    out: &mut [u8],
    lower: &mut [u8],
) {
    let digit = ge(w, b'0') & !ge(w, b'9' + 1) & valid;
    let y = w | (0x20 * LO);
    let alpha = ge(y, b'a') & !ge(y, b'z' + 1) & valid;
    let alnum = digit | alpha;
    // A letter is a capital when its 0x20 bit is clear.
    let upper = alpha & !(w << 2);
    if let Some(o) = lower.get_mut(i..i + 8) {
        o.copy_from_slice(&(w | (upper >> 2)).to_le_bytes());
    }
    let space = (eq(w, b' ') | (ge(w, 9) & !ge(w, 14))) & valid;
    let sepm = !alnum & valid;
    let starts_m = alnum & !((alnum << 8) | (u64::from(st.prev_alnum) << 7));
    let acc = &mut st.acc;
    acc[0] += starts_m >> 7;
    acc[1] += (starts_m & upper) >> 7;
    acc[2] += alnum >> 7;
    acc[3] += digit >> 7;
    acc[4] += (sepm & !space) >> 7;
    acc[5] += (eq(w, b',') & valid) >> 7;
    acc[6] += ((eq(w, b'|') | eq(w, b'/') | eq(w, b'>')) & valid) >> 7;
    st.blocks_left -= 1;
    if st.blocks_left == 0 {
        flush(&mut st.acc, &mut st.c);
        st.blocks_left = 255;
    }
    if alnum != 0 {
        st.first_pos = st.first_pos.min(i + (alnum.trailing_zeros() / 8) as usize);
    }
    // Normalised bytes: letters lowercased, digits folded, others a
    // space; a separator right after a separator is dropped.
    let full = |m: u64| (m >> 7).wrapping_mul(0xFF);
    let t = (y & full(alpha)) | ((0x30 * LO) & full(digit)) | ((0x20 * LO) & full(sepm));
    let keep = !(sepm & ((sepm << 8) | ((st.last_sep as u64) << 7))) & valid;
    // Byte k of `kept`: how many of bytes 0..=k are kept.
    let kept = (keep >> 7).wrapping_mul(LO);
    let mut sm = starts_m;
    while sm != 0 {
        let k = sm.trailing_zeros() / 8;
        // A word start is kept: it lands at j + (kept before it).
        let at = st.j + ((kept >> (8 * k)) & 0xFF) as usize - 1;
        if let Some(s) = starts.get_mut(st.nt) {
            *s = at as u32;
        }
        st.nt += 1;
        sm &= sm - 1;
    }
    if let Some(o) = out.get_mut(st.j..st.j + 8) {
        o.copy_from_slice(&compact(t, keep, valid).to_le_bytes());
    }
    let last = 8 * p - 1;
    st.j += ((kept >> (last - 7)) & 0xFF) as usize;
    st.prev_alnum = ((alnum >> last) & 1) as u32;
    st.last_sep = ((sepm >> last) & 1) as usize;
    st.c.chars += p as u32;
}

/// The reference scan, one character at a time: counts of the (scanned
/// part of the) line and, when `whole`, its normalised form in
/// `scratch.norm`. [`scan_fast`] gives the same counts faster; this one
/// also handles CJK text (each ideograph or kana a word of its own).
fn scan_exact(scanned: &str, whole: bool, stop: &WordSet, scratch: &mut Scratch) -> ScanCounts {
    let mut n = Counts::default();
    let mut punct = 0u32;
    let mut digits = 0u32;
    let mut commas = 0u32;
    let mut separators = 0u32;
    let mut word_chars = 0u32;
    let mut first_alpha: Option<char> = None;
    let mut token = Token::new();
    let token = &mut token;
    let mut token_first: Option<char> = None;

    // The scanned bytes with ASCII letters lowercased, zero padded so that
    // a token's lookup key is three unaligned loads: most tokens are runs
    // of ASCII letters, taken whole from here instead of byte by byte.
    let lower = &mut scratch.lower;
    lower.clear();
    lower.extend_from_slice(scanned.as_bytes());
    lower.make_ascii_lowercase();
    lower.extend_from_slice(&[0u8; WORD_BYTES]);
    let lower = &lower[..];
    let norm = &mut scratch.norm;
    norm.clear();
    let mut space = false;
    let bytes = scanned.as_bytes();
    // The token in progress is either a pure ASCII run starting at
    // `ascii_start` (with `ascii_upper`: its first letter is a capital), or,
    // once it holds other characters, built in `token`.
    let mut ascii_start = NO_TOKEN;
    let mut ascii_upper = false;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b < 0x80 {
            let k = ASCII_CLASS[b as usize];
            if k & A_ALNUM != 0 {
                let start = i;
                let mut run_digits = 0u32;
                let mut kk = k;
                loop {
                    run_digits += u32::from((kk & A_DIGIT) >> 1);
                    i += 1;
                    match bytes.get(i) {
                        Some(&x) if x < 0x80 && ASCII_CLASS[x as usize] & A_ALNUM != 0 => {
                            kk = ASCII_CLASS[x as usize];
                        }
                        _ => break,
                    }
                }
                let run = (i - start) as u32;
                n.chars += run;
                word_chars += run;
                digits += run_digits;
                if first_alpha.is_none() {
                    first_alpha = Some(b as char);
                }
                let low = &lower[start..i];
                if !token.is_empty() {
                    for &x in low {
                        token.push_byte(x);
                    }
                } else if ascii_start == NO_TOKEN {
                    ascii_start = start;
                    ascii_upper = k & A_UPPER != 0;
                }
                if whole {
                    if space && !norm.is_empty() {
                        norm.push(b' ');
                    }
                    space = false;
                    if run_digits == 0 {
                        norm.extend_from_slice(low);
                    } else {
                        norm.extend(
                            low.iter()
                                .map(|&x| if x.is_ascii_digit() { b'0' } else { x }),
                        );
                    }
                }
                continue;
            }
            i += 1;
            n.chars += 1;
            if ascii_start != NO_TOKEN {
                n.finish_ascii(lower, ascii_start, i - 1, ascii_upper, stop);
                ascii_start = NO_TOKEN;
            } else {
                n.finish(token, token_first, stop);
            }
            token_first = None;
            space = true;
            if k & A_SPACE == 0 {
                punct += 1;
                commas += (k & A_COMMA != 0) as u32;
                separators += (k & A_SEP != 0) as u32;
            }
            continue;
        }
        let Some(c) = scanned.get(i..).and_then(|rest| rest.chars().next()) else {
            break;
        };
        let at = i;
        i += c.len_utf8();
        n.chars += 1;
        let (alnum, numeric) = classify_non_ascii(c);
        if alnum {
            if first_alpha.is_none() {
                first_alpha = Some(c);
            }
            if numeric {
                digits += 1;
            }
            word_chars += 1;
            if whole {
                if space && !norm.is_empty() {
                    norm.push(b' ');
                }
                space = false;
                push_norm_char(norm, c, numeric, true);
            }
            if is_cjk_char(c) {
                // Each ideograph or kana is a token of its own.
                if ascii_start != NO_TOKEN {
                    n.finish_ascii(lower, ascii_start, at, ascii_upper, stop);
                    ascii_start = NO_TOKEN;
                } else {
                    n.finish(token, token_first, stop);
                }
                token.push(c);
                n.finish(token, None, stop);
                token_first = None;
                continue;
            }
            if ascii_start != NO_TOKEN {
                // An ASCII run continues with another letter ("café"):
                // carry on byte by byte.
                for &x in &lower[ascii_start..at] {
                    token.push_byte(x);
                }
                token_first = bytes.get(ascii_start).map(|&x| x as char);
                ascii_start = NO_TOKEN;
            } else if token.is_empty() {
                token_first = Some(c);
            }
            if let Some(l) = lower_fast(c) {
                token.push(l);
            } else {
                for l in c.to_lowercase() {
                    token.push(l);
                }
            }
        } else {
            if ascii_start != NO_TOKEN {
                n.finish_ascii(lower, ascii_start, at, ascii_upper, stop);
                ascii_start = NO_TOKEN;
            } else {
                n.finish(token, token_first, stop);
            }
            token_first = None;
            space = true;
            if !c.is_whitespace() {
                punct += 1;
                if c == '،' || c == '，' || c == '、' {
                    commas += 1;
                }
                if SEPARATORS.contains(&c) {
                    separators += 1;
                }
            }
        }
    }
    if ascii_start != NO_TOKEN {
        n.finish_ascii(lower, ascii_start, bytes.len(), ascii_upper, stop);
    }
    n.finish(token, token_first, stop);
    let Counts {
        chars,
        words,
        stop_words,
        capitalised,
    } = n;
    ScanCounts {
        chars,
        words,
        stop_words,
        capitalised,
        punct,
        digits,
        commas,
        separators,
        word_chars,
        first_alpha,
    }
}

/// Feature `position`: where line `index` of `count` sits (0 first, 1 last).
pub fn position(index: usize, count: usize) -> f32 {
    if count <= 1 {
        0.5
    } else {
        index as f32 / (count - 1) as f32
    }
}

/// Feature `comment_zone`: how many comment-framing lines came before.
pub fn comment_zone(comment_markers: u32) -> f32 {
    ln1p_count(comment_markers) / 2.0
}

/// Measure one trimmed, non-empty line.
///
/// `index`/`count` place it among the document's non-blank lines;
/// `comment_markers` counts comment-framing lines seen before it.
#[allow(clippy::too_many_arguments)]
pub fn line_features(
    line: &str,
    index: usize,
    count: usize,
    comment_markers: u32,
    lang: Option<&str>,
    stop: &WordSet,
    lexicon: &Lexicon,
    scratch: &mut Scratch,
) -> LineFeatures {
    let cjk_lang = lang.is_some_and(is_cjk);
    let mut cut = line.len().min(SCAN_BYTES);
    while !line.is_char_boundary(cut) {
        cut -= 1;
    }
    let scanned = &line[..cut];
    // A line scanned whole is normalised in the same pass (the hard rules
    // and the profile lookup need it); a longer one later, if at all.
    let whole = cut == line.len();
    // Most lines of a Chinese or Japanese page hold CJK letters, where the
    // fast scan gives up part way: go straight to the exact one there (the
    // two agree on every line, so the choice only changes the speed).
    let fast = if cjk_lang {
        None
    } else {
        scan_fast(scanned, stop, scratch)
    };
    // The fast scan also wrote the lowercased line the lexicon needs.
    let lower_ready = fast.is_some() && whole;
    let counts = match fast {
        Some(c) => c,
        None => scan_exact(scanned, whole, stop, scratch),
    };
    scratch.norm_ready = whole;
    let ScanCounts { first_alpha, .. } = counts;
    // Extrapolate absolute counts of a long line from its scanned prefix
    // (most lines are scanned whole: scale 1 leaves every count as it is).
    let scale = line.len() as f32 / cut.max(1) as f32;
    let x = |v: u32| {
        if whole {
            v
        } else {
            (v as f32 * scale).round() as u32
        }
    };
    let (words, chars, stop_words, capitalised, punct, digits, commas, separators, word_chars) = (
        x(counts.words),
        x(counts.chars),
        x(counts.stop_words),
        x(counts.capitalised),
        x(counts.punct),
        x(counts.digits),
        x(counts.commas),
        x(counts.separators),
        x(counts.word_chars),
    );

    // Lexicon phrases live in short lines; a long paragraph is prose.
    let b = line.as_bytes();
    let (hits, has_url) = if line.len() <= MAX_LEXICON_LINE {
        let lower = &mut scratch.lower;
        if !lower_ready {
            lower.clear();
            lower.extend_from_slice(b);
            lower.make_ascii_lowercase();
            // Zero padding: the lexicon tests every position in its fast loop.
            lower.extend_from_slice(&[0; 16]);
        }
        lexicon.scan_padded(b, lower)
    } else {
        (Hits::default(), crate::lexicon::has_link(b))
    };
    let last = line.chars().next_back().unwrap_or(' ');
    let first = line.chars().next().unwrap_or(' ');
    let w = words.max(1) as f32;
    let ch = chars.max(1) as f32;

    let mut f = [0f32; NF1];
    f[0] = 1.0;
    f[1] = (words <= 2) as u8 as f32;
    f[2] = (3..=6).contains(&words) as u8 as f32;
    f[3] = (7..=15).contains(&words) as u8 as f32;
    f[4] = (16..=40).contains(&words) as u8 as f32;
    f[5] = (words > 40) as u8 as f32;
    f[6] = ln1p_count(chars) / 5.0;
    f[7] = if words == 0 {
        0.0
    } else {
        stop_words as f32 / w
    };
    f[8] = is_terminal(last) as u8 as f32;
    f[9] = punct as f32 / ch;
    f[10] = digits as f32 / ch;
    f[11] = if cjk_lang {
        0.0
    } else {
        capitalised as f32 / w
    };
    f[12] = has_url as u8 as f32;
    f[13] = is_bullet(first) as u8 as f32;
    f[14] = position(index, count);
    f[15] = hits.weak as u8 as f32;
    f[16] = ln1p_count(separators);
    f[17] = comment_zone(comment_markers);
    f[18] = (commas as f32 / w).min(1.0);
    f[19] = (word_chars as f32 / w / 10.0).min(2.0);
    f[20] = first_alpha.is_some_and(|c| c.is_lowercase()) as u8 as f32;
    f[21] = (words == 0) as u8 as f32;

    let rule = hard_rule(line, words, &hits, f[8] > 0.0, has_url, lexicon, scratch);
    LineFeatures {
        f,
        words,
        hits,
        rule,
    }
}

/// Rules that need no model: lexicon lines and the few shapes that are
/// boilerplate on every site (ad markers, "[VIDEO]" links, breadcrumbs,
/// "For more ... news" promos, source footers, lone counters).
fn hard_rule(
    line: &str,
    words: u32,
    hits: &Hits,
    terminal: bool,
    has_url: bool,
    lexicon: &Lexicon,
    scratch: &mut Scratch,
) -> Option<&'static str> {
    if hits.keep {
        return None;
    }
    if hits.extra {
        return Some("extra_pattern");
    }
    if hits.strong && words <= 80 {
        return Some("lexicon");
    }
    if words > 14 {
        return None;
    }
    if !scratch.norm_ready {
        normalise_bytes_into(line, true, &mut scratch.norm);
        scratch.norm_ready = true;
    }
    let norm = &scratch.norm[..];
    if lexicon.is_boilerplate_line(norm) {
        return Some("lexicon_line");
    }
    if words <= 20 && ends_with_caps_tag(line) {
        return Some("related_link");
    }
    if words == 0 || norm.iter().all(|&b| b == b'0' || b == b' ') {
        return Some("no_words");
    }
    let promo = [
        "for more ",
        "more about ",
        "more from ",
        "see also ",
        "read more ",
    ]
    .iter()
    .any(|p| norm.starts_with(p.as_bytes()));
    if promo && (words <= 8 || has_url) && !terminal {
        return Some("promo");
    }
    if promo && has_url {
        return Some("promo");
    }
    if norm.starts_with(b"home ") && words <= 8 && !terminal {
        return Some("breadcrumb");
    }
    let source_footer = line.starts_with("Source:") || line.starts_with("Source :");
    if source_footer && words <= 12 {
        return Some("source_footer");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference normalisation straight from the standard library.
    fn normalise_std(line: &str, fold_digits: bool) -> String {
        let mut out = String::new();
        let mut space = false;
        for c in line.chars() {
            if c.is_alphanumeric() {
                if space && !out.is_empty() {
                    out.push(' ');
                }
                space = false;
                if fold_digits && c.is_numeric() {
                    out.push('0');
                } else {
                    out.extend(c.to_lowercase());
                }
            } else {
                space = true;
            }
        }
        out
    }

    /// Reference word and stopword counts, one character at a time:
    /// maximal runs of alphanumerics, each CJK character a word of its own.
    fn counts_std(line: &str, stop: &WordSet) -> (u32, u32, u32) {
        let (mut words, mut stops, mut caps) = (0, 0, 0);
        let mut token = String::new();
        let mut first: Option<char> = None;
        let mut finish = |token: &mut String, first: Option<char>| {
            if token.is_empty() {
                return;
            }
            words += 1;
            stops += stop.contains(token.as_bytes()) as u32;
            caps += first.is_some_and(char::is_uppercase) as u32;
            token.clear();
        };
        for c in line.chars() {
            if c.is_alphanumeric() && is_cjk_char(c) {
                finish(&mut token, first);
                token.push(c);
                finish(&mut token, None);
                first = None;
            } else if c.is_alphanumeric() {
                if token.is_empty() {
                    first = Some(c);
                }
                token.extend(c.to_lowercase());
            } else {
                finish(&mut token, first);
                first = None;
            }
        }
        finish(&mut token, first);
        (words, stops, caps)
    }

    #[test]
    fn one_pass_scan_matches_the_reference_on_real_lines() {
        // Every line of the seed pages, plus lines that mix ASCII runs with
        // other letters, digits, CJK and capitals (the scan's slow paths).
        let lines = crate::seed_lines(
            &[
                "Café au lait, naïve Ünited crème brûlée — 2023 Élysée",
                "The THE tHe and AND of OF: http://www.example.com/x",
                "政府は水曜日、エネルギー危機の影響を受けた企業への支援を延長すると発表した。",
                "Мы используем файлы cookie и ДРУГИЕ технологии",
                "abc漢字def ½ ² x86_64 über-cool İstanbul",
                "Die Bundesregierung hat am Mittwoch beschlossen, die Hilfen auszuweiten.",
            ],
            false,
        );
        let sw = crate::lang::Stopwords::load();
        let lexicon = Lexicon::new(&[], &[]).unwrap();
        let mut scratch = Scratch::default();
        for lang in ["en", "de", "ru", "ja"] {
            let stop = sw.for_lang(Some(lang));
            for line in lines.iter().filter(|l| l.len() <= SCAN_BYTES) {
                let lf = line_features(line, 0, 1, 0, Some(lang), stop, &lexicon, &mut scratch);
                let (words, stops, caps) = counts_std(line, stop);
                assert_eq!(lf.words, words, "{line}");
                let w = words.max(1) as f32;
                let density = if words == 0 { 0.0 } else { stops as f32 / w };
                assert_eq!(lf.f[7], density, "{lang}: {line}");
                if lang != "ja" {
                    assert_eq!(lf.f[11], caps as f32 / w, "{line}");
                }
                assert!(scratch.norm_ready);
                assert_eq!(
                    scratch.norm,
                    normalise_std(line, true).into_bytes(),
                    "{line}"
                );
                if line.len() <= MAX_LEXICON_LINE {
                    assert_eq!(lf.hits, lexicon.hits(line), "{line}");
                }
            }
        }
    }

    #[test]
    fn fast_scan_agrees_with_the_exact_scan() {
        let lines = crate::seed_lines(
            &[
                "Café au lait, naïve Ünited crème brûlée — 2023 Élysée",
                "  ,,Leading | separators / and > trailing ones;; ",
                "“Quoted” ‘text’ – with\u{a0}no-break\u{a0}spaces… and ½ ² Ⅻ numbers 3rd",
                "ŞİMDİ İZLE: Ǆemal ÀÉÎÕÜ ÿ ß İstanbul'da",
                "Мы используем файлы cookie и ДРУГИЕ технологии, Поделиться",
                "Rząd zapowiedział w środę, że przedłuży pomoc dla firm.",
                "x",
                "«»",
                "a\u{301}b e\u{301}",
                "supercalifragilisticexpialidocious-and-more words the",
            ],
            false,
        );
        let sw = crate::lang::Stopwords::load();
        let (mut fast_scratch, mut exact_scratch) = (Scratch::default(), Scratch::default());
        let mut checked = 0;
        for lang in [None, Some("en"), Some("de"), Some("ru"), Some("pl")] {
            let stop = sw.for_lang(lang);
            for line in &lines {
                // Long lines are scanned up to a char boundary (not whole).
                let mut cut = line.len().min(SCAN_BYTES);
                while !line.is_char_boundary(cut) {
                    cut -= 1;
                }
                let scanned = &line[..cut];
                let fast = scan_fast(scanned, stop, &mut fast_scratch).unwrap();
                let exact = scan_exact(scanned, true, stop, &mut exact_scratch);
                assert_eq!(fast, exact, "{lang:?}: {scanned}");
                assert_eq!(fast_scratch.norm, exact_scratch.norm, "{scanned}");
                assert_eq!(
                    fast_scratch.norm,
                    normalise_std(scanned, true).into_bytes(),
                    "{scanned}"
                );
                for fold in [false, true] {
                    assert_eq!(normalise(line, fold), normalise_std(line, fold), "{line}");
                }
                checked += 1;
            }
        }
        assert!(checked > 500, "{checked}");
        // Lines spliced from pieces of real text and the characters where
        // the scan changes gear (separator runs across 8-byte blocks, digits,
        // capitals, non-ASCII letters and punctuation), pseudo-randomly.
        let pieces = [
            "The",
            " ",
            "  ",
            ", ",
            "talks",
            "é",
            "É",
            "Über",
            "’",
            "\u{a0}",
            "3rd",
            "2023",
            "|",
            " / ",
            ">",
            "--",
            "i",
            "OF",
            "and",
            "und",
            "Поделиться",
            "и",
            ".",
            "x86_64",
            "\t",
            "½",
            "http://www.example.com/a?b=1",
            "that",
            "de",
            "la",
        ];
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..3000 {
            let mut line = String::new();
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let n = 1 + (state % 40) as usize;
            for _ in 0..n {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                line.push_str(pieces[(state % pieces.len() as u64) as usize]);
            }
            let stop = sw.for_lang(if state & 1 == 0 { Some("en") } else { None });
            let fast = scan_fast(&line, stop, &mut fast_scratch).unwrap();
            let exact = scan_exact(&line, true, stop, &mut exact_scratch);
            assert_eq!(fast, exact, "{line:?}");
            assert_eq!(fast_scratch.norm, exact_scratch.norm, "{line:?}");
            for fold in [false, true] {
                assert_eq!(
                    normalise(&line, fold),
                    normalise_std(&line, fold),
                    "{line:?}"
                );
            }
        }

        // Longer than 255 blocks of 8 bytes: the per-byte counters are
        // flushed before they overflow.
        let long = lines[..10].join(" | ").repeat(40);
        assert!(long.len() > 255 * 8 * 2);
        let stop = sw.for_lang(Some("en"));
        let fast = scan_fast(&long, stop, &mut fast_scratch).unwrap();
        assert_eq!(fast, scan_exact(&long, true, stop, &mut exact_scratch));
        assert_eq!(fast_scratch.norm, exact_scratch.norm);
        // CJK words are one character each: left to the exact scan.
        let ja = "政府は水曜日、支援を延長すると発表した。";
        assert!(scan_fast(ja, sw.for_lang(Some("ja")), &mut fast_scratch).is_none());
    }

    #[test]
    fn character_matches_agree_with_their_lists() {
        for c in (0u32..0x1_0000).filter_map(char::from_u32) {
            assert_eq!(is_terminal(c), TERMINAL.contains(&c), "{c:?}");
            assert_eq!(is_bullet(c), BULLETS.contains(&c), "{c:?}");
        }
    }

    #[test]
    fn trim_bounds_agrees_with_str_trim() {
        for s in [
            "",
            "   ",
            "\u{a0}",
            " \t\u{a0}Source link\u{3000} \r",
            "\u{2003}Home\u{a0}\u{a0}",
            "plain",
            " é ",
            "\u{b}x\u{c}",
            "\u{85}\u{85}",
        ] {
            let (a, b) = trim_bounds(s);
            assert_eq!(&s[a..b], s.trim(), "{s:?}");
            assert_eq!(a, s.len() - s.trim_start().len(), "{s:?}");
        }
    }

    #[test]
    fn fast_character_classes_agree_with_the_standard_library() {
        for c in (0x80u32..0x11_0000).filter_map(char::from_u32) {
            let (alnum, numeric) = classify_non_ascii(c);
            assert_eq!(alnum, c.is_alphanumeric(), "{c:?}");
            assert_eq!(numeric, c.is_numeric(), "{c:?}");
            if let Some(l) = lower_fast(c) {
                assert_eq!(c.to_lowercase().collect::<String>(), l.to_string(), "{c:?}");
            }
        }
    }

    #[test]
    fn normalise_matches_the_reference_on_real_lines() {
        let lines = [
            "Home » News » Page 191",
            "Diese Website verwendet Cookies, um die Nutzung zu analysieren.",
            "Мы используем файлы cookie — Поделиться",
            "政府は水曜日、エネルギー危機の影響を受けた企業への支援を延長すると発表した。",
            "ŞİMDİ İZLE: Ⅻ ½ ² Ǆemal ÀÉÎÕÜ ÿ ß",
            "  Read more...  ",
            "",
        ];
        for line in lines {
            for fold in [false, true] {
                assert_eq!(normalise(line, fold), normalise_std(line, fold), "{line}");
            }
        }
    }
}
