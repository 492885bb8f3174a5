//! The built-in boilerplate lexicon (`data/lexicon.txt`) and the user's
//! `extra_patterns` / `keep_patterns`, compiled to one [`Matcher`] so a
//! line is matched against every pattern in one linear scan.

use crate::lang::QuickHasher;
use std::collections::{HashMap, HashSet};
use std::hash::BuildHasherDefault;
use std::sync::OnceLock;

const LEXICON: &str = include_str!("../data/lexicon.txt");

/// What the lexicon says about one line.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Hits {
    pub strong: bool,
    pub weak: bool,
    pub comment: bool,
    pub extra: bool,
    pub keep: bool,
}

/// Compiled patterns.
#[derive(Debug, Clone)]
pub struct Lexicon {
    /// Strong, weak, comment and extra/keep patterns in one matcher (one
    /// scan per line); `class[pattern id]` says which list each came from.
    all: Matcher,
    class: Vec<u8>,
    /// Whole lines (normalised by [`crate::features::normalise`]) that are
    /// boilerplate by themselves: "share", "read more", "source link" ...
    lines: HashSet<Vec<u8>, BuildHasherDefault<QuickHasher>>,
    /// Bit `n` set: some line of `lines` is `n` bytes long (bit 255: 255
    /// or more). Most lines asked about have a length no listed line has,
    /// and are answered without hashing them.
    line_lens: [u64; 4],
}

const STRONG: u8 = 1;
const WEAK: u8 = 2;
const COMMENT: u8 = 4;
const EXTRA: u8 = 8;
const KEEP: u8 = 16;
/// The link markers of [`has_link`], matched last so that they never take
/// a phrase's place (see [`Lexicon::scan`]).
const URL: u8 = 32;
const URL_MARKERS: [&str; 3] = ["http", "www.", ".com/"];

/// Patterns match ASCII case-insensitively; for patterns that start with a
/// non-ASCII letter we also add the capitalised form ("Поделиться").
/// ASCII case is folded on both sides (patterns here, lines by the caller),
/// so the [`Matcher`] compares bytes as they are.
fn variants(patterns: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(patterns.len() * 2);
    for p in patterns {
        let lower = p.to_lowercase();
        let mut chars = lower.chars();
        if let Some(first) = chars.next() {
            if !first.is_ascii() {
                let mut cap: String = first.to_uppercase().chain(chars).collect();
                cap.make_ascii_lowercase();
                if cap != lower {
                    out.push(cap);
                }
            }
        }
        out.push(lower);
    }
    out
}

impl Lexicon {
    /// Built-in lexicon plus the user's additions and exceptions (literal,
    /// case-insensitive substrings).
    pub fn new(extra: &[String], keep: &[String]) -> Result<Self, String> {
        // The built-in matcher is compiled once per process: every pass
        // builds the stage anew.
        static BUILTIN: OnceLock<Result<Lexicon, String>> = OnceLock::new();
        let nonempty = |v: &[String]| v.iter().any(|p| !p.trim().is_empty());
        if !nonempty(extra) && !nonempty(keep) {
            return BUILTIN.get_or_init(|| Self::compile(&[], &[])).clone();
        }
        Self::compile(extra, keep)
    }

    fn compile(extra: &[String], keep: &[String]) -> Result<Self, String> {
        let mut sections: [Vec<String>; 4] = Default::default();
        let mut current: Option<usize> = None;
        for line in LEXICON.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            current = match line {
                "[strong]" => Some(0),
                "[weak]" => Some(1),
                "[line]" => Some(2),
                "[comment]" => Some(3),
                _ => {
                    if let Some(i) = current {
                        sections[i].push(line.to_string());
                    }
                    continue;
                }
            };
        }
        let [strong, weak, lines, comment] = sections;
        let mut set: HashSet<Vec<u8>, BuildHasherDefault<QuickHasher>> = HashSet::default();
        for l in &lines {
            set.insert(crate::features::normalise(l, false).into_bytes());
        }
        let nonempty = |v: &[String]| -> Vec<String> {
            v.iter().filter(|p| !p.trim().is_empty()).cloned().collect()
        };
        let extra = nonempty(extra);
        let keep = nonempty(keep);
        let mut patterns = Vec::new();
        let mut class = Vec::new();
        // Priority order for leftmost-first matching at one position.
        for (list, bit) in [
            (&keep, KEEP),
            (&extra, EXTRA),
            (&strong, STRONG),
            (&comment, COMMENT),
            (&weak, WEAK),
        ] {
            for p in variants(list) {
                patterns.push(p);
                class.push(bit);
            }
        }
        for p in URL_MARKERS {
            patterns.push(p.to_string());
            class.push(URL);
        }
        let all = Matcher::new(&patterns)?;
        Ok(Lexicon {
            all,
            class,
            line_lens: set.iter().fold([0u64; 4], |mut bits, l| {
                let n = l.len().min(255);
                bits[n / 64] |= 1 << (n % 64);
                bits
            }),
            lines: set,
        })
    }

    /// Match one (trimmed) line.
    pub fn hits(&self, line: &str) -> Hits {
        self.hits_ascii_lower(&line.to_ascii_lowercase().into_bytes())
    }

    /// Match one (trimmed) line whose ASCII letters are already lowercased.
    pub fn hits_ascii_lower(&self, line: &[u8]) -> Hits {
        self.scan(line, line).0
    }

    /// Match one (trimmed) line, given as it is (`line`) and with its ASCII
    /// letters lowercased (`lower`): the lexicon's hits, and whether the
    /// line has a link ([`has_link`]) — one pass of the matcher for both.
    ///
    /// The link markers are the matcher's last patterns, so at any
    /// position a phrase wins over them; a marker can only hide a phrase
    /// that starts inside it ("http" then "rivacy policy"), which no real
    /// line holds. A marker counts only where the line itself (not its
    /// lowercase) holds it, as in [`has_link`].
    pub fn scan(&self, line: &[u8], lower: &[u8]) -> (Hits, bool) {
        self.scan_padded(line, lower)
    }

    /// [`Self::scan`] where `lower` may be followed by zero bytes (16 make
    /// the scan faster): `lower_padded[..line.len()]` is the lowercase line.
    pub fn scan_padded(&self, line: &[u8], lower_padded: &[u8]) -> (Hits, bool) {
        let lower = lower_padded.get(..line.len()).unwrap_or(lower_padded);
        let mut bits = 0u8;
        let mut url = false;
        // Non-overlapping leftmost-first matches: user and strong patterns
        // are listed first, so "cookie policy" is strong, not weak "cookie".
        self.all.matches_in(lower_padded, lower.len(), |id, range| {
            let class = self.class.get(id).copied().unwrap_or(0);
            if class == URL {
                url |= line.get(range.clone()) == lower.get(range);
            } else {
                bits |= class;
            }
        });
        let hits = Hits {
            strong: bits & STRONG != 0,
            weak: bits & WEAK != 0,
            comment: bits & COMMENT != 0,
            extra: bits & EXTRA != 0,
            keep: bits & KEEP != 0,
        };
        let email = || memchr::memchr(b'@', line).is_some() && memchr::memchr(b'.', line).is_some();
        (hits, url || email())
    }

    /// Whether the bytes hold "http", "www." or ".com/", or both an `@`
    /// and a `.` (an e-mail address): the line has a link.
    pub fn has_url_marker(&self, b: &[u8]) -> bool {
        has_link(b)
    }

    /// Whether a normalised line is boilerplate on its own.
    pub fn is_boilerplate_line(&self, normalised: &[u8]) -> bool {
        let n = normalised.len().min(255);
        let listed = self
            .line_lens
            .get(n / 64)
            .is_some_and(|b| (b >> (n % 64)) & 1 != 0);
        listed && self.lines.contains(normalised)
    }
}

/// Literal byte patterns found leftmost-first and without overlaps, as
/// `aho_corasick` with `MatchKind::LeftmostFirst` finds them: the match
/// that starts first, of those starting there the pattern listed first,
/// then the next search from its end.
///
/// Why not an Aho-Corasick DFA: it walks every byte through a transition
/// that depends on the one before (a chain of dependent loads), and with
/// this lexicon's byte classes its table is 1.3 MB, more than L2. Here
/// eight positions at a time are filtered without a branch: every second
/// one against an 8 KiB bitset of a hash of four bytes that holds each
/// pattern's bytes 0..4 and 1..5 (a pattern starting at an odd offset shows
/// its bytes 1..5 at the next even one), and only in eight-byte blocks
/// holding the first byte of a pattern shorter than four bytes, every
/// position against an 8 KiB bitset of the next two bytes. The positions
/// that pass are tested exactly in order: an 8 KiB bitset of the hash of
/// the next four bytes, then the patterns that begin with those bytes.
/// O(line length × patterns sharing a four-byte prefix).
#[derive(Debug, Clone)]
pub struct Matcher {
    /// In priority order: a pattern's id is its index.
    patterns: Vec<Box<[u8]>>,
    /// Bit [`hash4`] of the first four bytes of every pattern of ≥ 4 bytes.
    long_bits: Box<[u64; FILTER_BITS / 64]>,
    /// The filter of the stride-2 scan (see [`Matcher::matches_in`]): bit
    /// [`hash4`] of the first four bytes of every pattern of ≥ 4 bytes and
    /// of its bytes 1..5 (for a 4-byte pattern: its last three bytes
    /// followed by any byte). About twice the bits of `long_bits` and 256
    /// for each 4-byte pattern: still sparse.
    stride_bits: Box<[u64; FILTER_BITS / 64]>,
    /// Bit (first two bytes, little-endian) of every pattern of 2–3 bytes,
    /// and every bit `b + 256 x` of a one-byte pattern `b`.
    short_bits: Box<[u64; FILTER_BITS / 64]>,
    /// First four bytes → ids of the patterns of ≥ 4 bytes starting so, ascending.
    long: HashMap<u32, Vec<usize>, BuildHasherDefault<QuickHasher>>,
    /// First two bytes → ids of the patterns of 1–3 bytes matching there, ascending.
    short: HashMap<u16, Vec<usize>, BuildHasherDefault<QuickHasher>>,
    /// The first bytes of the patterns of 1–3 bytes: eight positions
    /// without any of them skip the `short_bits` test (the built-in
    /// lexicon's only short pattern is "©"). Compared with whole words when
    /// there are at most two.
    short_firsts: Vec<u8>,
}

/// Bits in each of [`Matcher`]'s bitsets (8 KiB each: they stay in L1).
const FILTER_BITS: usize = 1 << 16;

#[inline(always)]
fn hash4(w: u32) -> usize {
    (w.wrapping_mul(0x9E37_79B1) >> 16) as usize
}

#[inline(always)]
fn test_bit(bits: &[u64], i: usize) -> bool {
    bits.get(i >> 6).is_some_and(|w| (w >> (i & 63)) & 1 != 0)
}

impl Matcher {
    /// Compile non-empty patterns (an empty one is an error).
    pub fn new<P: AsRef<[u8]>>(patterns: &[P]) -> Result<Self, String> {
        let mut m = Matcher {
            patterns: Vec::with_capacity(patterns.len()),
            long_bits: Box::new([0u64; FILTER_BITS / 64]),
            stride_bits: Box::new([0u64; FILTER_BITS / 64]),
            short_bits: Box::new([0u64; FILTER_BITS / 64]),
            long: HashMap::default(),
            short: HashMap::default(),
            short_firsts: Vec::new(),
        };
        let mut short_first = [false; 256];
        let set = |bits: &mut [u64], i: usize| {
            if let Some(w) = bits.get_mut(i >> 6) {
                *w |= 1 << (i & 63);
            }
        };
        for (id, p) in patterns.iter().enumerate() {
            let p = p.as_ref();
            match *p {
                [] => return Err(format!("cannot compile patterns: pattern {id} is empty")),
                [a] => {
                    short_first[usize::from(a)] = true;
                    for b in 0..=255u8 {
                        let key = u16::from_le_bytes([a, b]);
                        set(&mut m.short_bits[..], usize::from(key));
                        m.short.entry(key).or_default().push(id);
                    }
                }
                [a, b] | [a, b, _] => {
                    short_first[usize::from(a)] = true;
                    let key = u16::from_le_bytes([a, b]);
                    set(&mut m.short_bits[..], usize::from(key));
                    m.short.entry(key).or_default().push(id);
                }
                [a, b, c, d, ..] => {
                    let key = u32::from_le_bytes([a, b, c, d]);
                    set(&mut m.long_bits[..], hash4(key));
                    m.long.entry(key).or_default().push(id);
                    set(&mut m.stride_bits[..], hash4(key));
                    match p.get(4) {
                        Some(&e) => set(
                            &mut m.stride_bits[..],
                            hash4(u32::from_le_bytes([b, c, d, e])),
                        ),
                        None => {
                            for e in 0..=255u8 {
                                let w = u32::from_le_bytes([b, c, d, e]);
                                set(&mut m.stride_bits[..], hash4(w));
                            }
                        }
                    }
                }
            }
            m.patterns.push(p.into());
        }
        m.short_firsts = (0..=255u8)
            .filter(|&b| short_first[usize::from(b)])
            .collect();
        Ok(m)
    }

    /// The pattern of highest priority (lowest id) that starts at `hay[i..]`,
    /// whose next four bytes (zero padded) are `w`.
    #[inline]
    fn at(&self, hay: &[u8], i: usize, w: u32) -> Option<usize> {
        let rest = hay.get(i..).unwrap_or_default();
        let first = |ids: Option<&Vec<usize>>| {
            ids.and_then(|ids| {
                ids.iter()
                    .copied()
                    .find(|&id| self.patterns.get(id).is_some_and(|p| rest.starts_with(p)))
            })
        };
        let long = if test_bit(&self.long_bits[..], hash4(w)) {
            first(self.long.get(&w))
        } else {
            None
        };
        let short = if test_bit(&self.short_bits[..], usize::from(w as u16)) {
            first(self.short.get(&(w as u16)))
        } else {
            None
        };
        match (long, short) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Whether a pattern may start where the next four bytes are `w`
    /// (1 or 0, without a branch); `SHORT`: test the patterns of 1–3 bytes
    /// too.
    #[inline(always)]
    fn maybe<const SHORT: bool>(&self, w: u32) -> u32 {
        let h = hash4(w);
        let long = self.long_bits[h >> 6] >> (h & 63);
        if SHORT {
            let s = usize::from(w as u16);
            let short = self.short_bits[s >> 6] >> (s & 63);
            ((long | short) & 1) as u32
        } else {
            (long & 1) as u32
        }
    }

    /// Whether the four bytes `w` may be the first four of a pattern of
    /// ≥ 4 bytes or its bytes 1..5 (1 or 0, without a branch).
    #[inline(always)]
    fn maybe_stride(&self, w: u32) -> u32 {
        let h = hash4(w);
        ((self.stride_bits[h >> 6] >> (h & 63)) & 1) as u32
    }

    /// Whether any of the eight bytes of `block` may start a pattern of 1–3
    /// bytes (a few SWAR compares: the built-in lexicon has one such first
    /// byte, that of "©").
    #[inline(always)]
    fn short_in(&self, block: u64) -> bool {
        const LO: u64 = 0x0101_0101_0101_0101;
        const HI: u64 = 0x8080_8080_8080_8080;
        let has = |c: u8| {
            let z = block ^ (u64::from(c) * LO);
            z.wrapping_sub(LO) & !z & HI != 0
        };
        match *self.short_firsts {
            [] => false,
            [a] => has(a),
            [a, b] => has(a) | has(b),
            _ => true,
        }
    }

    /// Call `f(pattern id, range)` for each match in `hay`, leftmost-first
    /// and non-overlapping.
    pub fn for_each_match(&self, hay: &[u8], f: impl FnMut(usize, std::ops::Range<usize>)) {
        self.matches_in(hay, hay.len(), f);
    }

    /// [`Self::for_each_match`] in `buf[..n]`, where the bytes of `buf` past
    /// `n` (if any) are zero: with 16 of them, every position is tested in
    /// the fast loop.
    #[inline]
    fn matches_in(&self, buf: &[u8], n: usize, mut f: impl FnMut(usize, std::ops::Range<usize>)) {
        let hay = buf.get(..n).unwrap_or(buf);
        let n = hay.len();
        let mut i = 0;
        while i < n {
            // Eight positions at a time from one 16-byte load: no branch
            // until one of them may start a pattern.
            if let Some(x) = buf
                .get(i..i + 16)
                .and_then(|b| <[u8; 16]>::try_from(b).ok())
            {
                let x = u128::from_le_bytes(x);
                let mut m = 0u32;
                if self.short_in(x as u64) {
                    for k in 0..8 {
                        m |= self.maybe::<true>((x >> (8 * k)) as u32) << k;
                    }
                } else {
                    // Every second position: a pattern of ≥ 4 bytes
                    // starting at an even offset k shows its first four
                    // bytes at k, one at an odd offset its bytes 1..5 at
                    // k + 1, so the windows at 0, 2, 4, 6 and 8 flag each
                    // start (k, or the one before it) with five tests
                    // instead of eight.
                    let t = |k: u32| self.maybe_stride((x >> (8 * k)) as u32);
                    m = t(0) | (t(2) * 3) << 1 | (t(4) * 3) << 3 | (t(6) * 3) << 5 | t(8) << 7;
                }
                // Only positions inside the haystack.
                if n - i < 8 {
                    m &= (1 << (n - i)) - 1;
                }
                // The flagged positions, in order, exactly: the first that
                // starts a pattern is the leftmost match.
                let base = i;
                i += 8;
                while m != 0 {
                    let k = m.trailing_zeros() as usize;
                    let w = (x >> (8 * k)) as u32;
                    if self.maybe::<true>(w) != 0 {
                        if let Some(id) = self.at(hay, base + k, w) {
                            let len = self.patterns.get(id).map_or(1, |p| p.len());
                            f(id, base + k..base + k + len);
                            i = base + k + len;
                            break;
                        }
                    }
                    m &= m - 1;
                }
                continue;
            }
            let w = match buf.get(i..i + 4) {
                Some(&[a, b, c, d]) => u32::from_le_bytes([a, b, c, d]),
                _ => {
                    let mut t = [0u8; 4];
                    let rest = buf.get(i..).unwrap_or_default();
                    for (x, &y) in t.iter_mut().zip(rest) {
                        *x = y;
                    }
                    u32::from_le_bytes(t)
                }
            };
            if self.maybe::<true>(w) != 0 {
                if let Some(id) = self.at(hay, i, w) {
                    let len = self.patterns.get(id).map_or(1, |p| p.len());
                    f(id, i..i + len);
                    i += len;
                    continue;
                }
            }
            i += 1;
        }
    }
}

/// See [`Lexicon::has_url_marker`]. On a short line, one pass stopping
/// only at `h`, `.` and `@` (three substring searches cost more there); on
/// a long one (only lines past [`crate::features::MAX_LEXICON_LINE`] get
/// here from the stage), where `h` and `.` stop that pass every few dozen
/// bytes, vectorised substring searches.
pub fn has_link(b: &[u8]) -> bool {
    if b.len() < 256 {
        return has_link_short(b);
    }
    static FINDERS: OnceLock<[memchr::memmem::Finder<'static>; 3]> = OnceLock::new();
    let finders = FINDERS.get_or_init(|| URL_MARKERS.map(memchr::memmem::Finder::new));
    finders.iter().any(|f| f.find(b).is_some())
        || (memchr::memchr(b'@', b).is_some() && memchr::memchr(b'.', b).is_some())
}

/// [`has_link`] in one pass, for short lines.
fn has_link_short(b: &[u8]) -> bool {
    let (mut dot, mut at) = (false, false);
    for i in memchr::memchr3_iter(b'h', b'.', b'@', b) {
        let rest = b.get(i..).unwrap_or_default();
        match rest.first() {
            Some(b'h') => {
                if rest.starts_with(b"http") {
                    return true;
                }
            }
            Some(b'.') => {
                if rest.starts_with(b".com/") || (i >= 3 && b.get(i - 3..i) == Some(b"www")) {
                    return true;
                }
                dot = true;
            }
            _ => at = true,
        }
        if dot && at {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_lines_hit_the_right_sections() {
        let lx = Lexicon::new(&[], &[]).unwrap();
        let cases: &[(&str, bool, bool)] = &[
            // (line, strong, whole-line)
            ("We use your sign-up to provide content in ways you’ve consented to and to improve our understanding of you.", true, false),
            ("[ad_1]", true, false),
            ("Diese Website verwendet Cookies, um die Nutzung zu analysieren.", true, false),
            ("Мы используем файлы cookie", true, false),
            ("The talks between the two countries will be held online.", false, false),
            ("Source link", false, true),
            ("Read more »", false, true),
            ("Поделиться", false, true),
        ];
        for (line, strong, whole) in cases {
            assert_eq!(lx.hits(line).strong, *strong, "{line}");
            let norm = crate::features::normalise(line, false);
            assert_eq!(
                lx.is_boilerplate_line(norm.as_bytes()),
                *whole,
                "{line} -> {norm}"
            );
        }
    }

    #[test]
    fn links_are_found_as_by_substring_search() {
        let reference = |b: &[u8]| {
            let has = |n: &[u8]| b.windows(n.len()).any(|w| w == n);
            has(b"http") || has(b"www.") || has(b".com/") || (has(b"@") && has(b"."))
        };
        let mut lines = crate::seed_lines(
            &[
            "for more diplomat news/breaking news follow our twitter https://twitter.com/diplomattimes",
            "Source : Wikipedia, https://www.state.gov/,\u{a0} Blinken Twitter.",
            "write to editor@example.org today",
            "write to editor at example dot org",
            "the whole thing. And then @someone said",
            "visit www.example.org or example.com/news",
            "www", "ww.", "http", "htt", ".com", ".com/", "h", "@", "@.", "", "ahttp", "xwww.y",
            ],
            true,
        );
        // Long lines (the vectorised path), with a marker at either end
        // or none.
        let prose = crate::seed_lines(&[], false).concat();
        for marker in ["", "http", "www.", ".com/", "@x", "www"] {
            for cut in [256, 300, 1000] {
                let body: String = prose
                    .chars()
                    .filter(|c| !"h.@".contains(*c))
                    .take(cut)
                    .collect();
                lines.push(format!("{marker}{body}"));
                lines.push(format!("{body}{marker}"));
                lines.push(format!("{body}.{marker}"));
            }
        }
        lines.extend(
            [
                "HTTP://EXAMPLE.COM/",
                "Visit Www.Example.Com/ now",
                "mail ME@X",
                "Privacy Policy http://x",
            ]
            .map(str::to_string),
        );
        let lx = Lexicon::new(&[], &[]).unwrap();
        let mut found = 0;
        for l in &lines {
            let b = l.as_bytes();
            assert_eq!(has_link(b), reference(b), "{l}");
            // The matcher's pass finds the same links.
            let (_, url) = lx.scan(b, &b.to_ascii_lowercase());
            assert_eq!(url, has_link(b), "{l}");
            found += has_link(b) as usize;
        }
        assert!(found >= 6, "{found}");
    }

    /// The matcher against `aho_corasick` (leftmost-first, non-overlapping)
    /// on the same patterns: the same matches, in order, on the lines of
    /// the seeds and on text stitched from pieces of the patterns (where
    /// overlaps, shared prefixes and line ends are dense).
    #[test]
    fn matcher_finds_what_aho_corasick_finds() {
        use aho_corasick::{AhoCorasickBuilder, MatchKind};
        let extra: Vec<String> = ["x", "ad", "coo", "© ", "read"].map(String::from).to_vec();
        let keep: Vec<String> = ["cookie jar", "é", "ok"].map(String::from).to_vec();
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/seeds");
        let mut hays: Vec<Vec<u8>> = Vec::new();
        for name in [
            "000_e7f6ed2af000063c.txt",
            "002_31699701fbb39e56.txt",
            "003_240feac35cea67fe.txt",
        ] {
            let text = std::fs::read_to_string(format!("{dir}/{name}")).unwrap();
            hays.extend(text.lines().map(|l| l.as_bytes().to_ascii_lowercase()));
        }
        // One, two and more first bytes of short patterns ("©" among
        // them): each way of looking for them.
        let x: Vec<String> = vec!["x".into()];
        let ad_x: Vec<String> = vec!["ad".into(), "x".into()];
        for (ex, kp) in [
            (&[][..], &[][..]),
            (&x[..], &[][..]),
            (&ad_x[..], &[][..]),
            (&extra[..], &keep[..]),
        ] {
            let lx = Lexicon::new(ex, kp).unwrap();
            let pats = &lx.all.patterns;
            assert!(pats.len() > 150);
            let ac = AhoCorasickBuilder::new()
                .match_kind(MatchKind::LeftmostFirst)
                .build(pats.iter().map(|p| &p[..]))
                .unwrap();
            // Pieces of patterns (prefixes, suffixes, whole), stitched
            // together by a fixed pseudo-random sequence.
            let mut pieces: Vec<Vec<u8>> = vec![b" ".to_vec(), b"e".to_vec(), vec![0xC2]];
            for p in pats.iter() {
                pieces.push(p.to_vec());
                pieces.push(p[..p.len() / 2].to_vec());
                pieces.push(p[p.len() / 3..].to_vec());
            }
            let mut state = 0x2545_F491_4F6C_DD1Du64;
            let mut next = |n: usize| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state % n as u64) as usize
            };
            let mut all = hays.clone();
            for _ in 0..3000 {
                let k = 1 + next(8);
                all.push(
                    (0..k)
                        .flat_map(|_| pieces[next(pieces.len())].clone())
                        .collect(),
                );
            }
            let mut total = 0;
            for h in &all {
                let want: Vec<(usize, std::ops::Range<usize>)> = ac
                    .find_iter(&h[..])
                    .map(|m| (m.pattern().as_usize(), m.range()))
                    .collect();
                let mut got = Vec::new();
                lx.all.for_each_match(h, |id, r| got.push((id, r)));
                assert_eq!(got, want, "{:?}", String::from_utf8_lossy(h));
                // And with the zero padding of the line-features scratch.
                let mut padded = h.clone();
                padded.extend_from_slice(&[0; 16]);
                got.clear();
                lx.all
                    .matches_in(&padded, h.len(), |id, r| got.push((id, r)));
                assert_eq!(got, want, "{:?}", String::from_utf8_lossy(h));
                total += got.len();
            }
            assert!(total > 3000, "{total}");
        }
    }

    #[test]
    fn user_patterns_are_case_insensitive() {
        let lx = Lexicon::new(&["For More Diplomat News".into()], &["cookie jar".into()]).unwrap();
        assert!(lx.hits("for more diplomat news").extra);
        assert!(lx.hits("The Cookie Jar recipe").keep);
        assert!(!lx.hits("The talks").extra);
    }
}
