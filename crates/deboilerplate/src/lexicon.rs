//! The built-in boilerplate lexicon (`data/lexicon.txt`) and the user's
//! `extra_patterns` / `keep_patterns`, compiled to Aho-Corasick automata so
//! a line is matched against every pattern in one linear scan.

use crate::lang::QuickHasher;
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use std::collections::HashSet;
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
    /// Strong, weak, comment and extra/keep patterns in one automaton (one
    /// scan per line); `class[pattern id]` says which list each came from.
    all: AhoCorasick,
    class: Vec<u8>,
    /// Whole lines (normalised by [`crate::features::normalise`]) that are
    /// boilerplate by themselves: "share", "read more", "source link" ...
    lines: HashSet<Vec<u8>, BuildHasherDefault<QuickHasher>>,
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
/// ASCII case is folded on both sides (patterns here, lines by the caller)
/// rather than by the automaton: a case-insensitive DFA has twice the byte
/// classes, twice the memory and runs at half the speed.
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
        // The built-in automaton is compiled once per process: every pass
        // builds the stage anew, and the compile costs milliseconds.
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
        let all = AhoCorasickBuilder::new()
            .match_kind(MatchKind::LeftmostFirst)
            .kind(Some(AhoCorasickKind::DFA))
            .build(&patterns)
            .map_err(|e| format!("cannot compile patterns: {e}"))?;
        Ok(Lexicon {
            all,
            class,
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
    /// line has a link ([`has_link`]) — one pass of the automaton for both.
    ///
    /// The link markers are the automaton's last patterns, so at any
    /// position a phrase wins over them; a marker can only hide a phrase
    /// that starts inside it ("http" then "rivacy policy"), which no real
    /// line holds. A marker counts only where the line itself (not its
    /// lowercase) holds it, as in [`has_link`].
    pub fn scan(&self, line: &[u8], lower: &[u8]) -> (Hits, bool) {
        let mut bits = 0u8;
        let mut url = false;
        // Non-overlapping leftmost-first matches: user and strong patterns
        // are listed first, so "cookie policy" is strong, not weak "cookie".
        for m in self.all.find_iter(lower) {
            let class = self.class.get(m.pattern().as_usize()).copied().unwrap_or(0);
            if class == URL {
                url |= line.get(m.range()) == lower.get(m.range());
            } else {
                bits |= class;
            }
        }
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
        self.lines.contains(normalised)
    }
}

/// See [`Lexicon::has_url_marker`]. One pass over the line stopping only
/// at `h`, `.` and `@` (three substring searches cost more on short lines,
/// which is most of them).
pub fn has_link(b: &[u8]) -> bool {
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
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/seeds");
        let mut lines: Vec<String> = [
            "for more diplomat news/breaking news follow our twitter https://twitter.com/diplomattimes",
            "Source : Wikipedia, https://www.state.gov/,\u{a0} Blinken Twitter.",
            "write to editor@example.org today",
            "write to editor at example dot org",
            "the whole thing. And then @someone said",
            "visit www.example.org or example.com/news",
            "www", "ww.", "http", "htt", ".com", ".com/", "h", "@", "@.", "", "ahttp", "xwww.y",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for name in [
            "000_e7f6ed2af000063c.txt",
            "002_31699701fbb39e56.txt",
            "003_240feac35cea67fe.txt",
        ] {
            let text = std::fs::read_to_string(format!("{dir}/{name}")).unwrap();
            lines.extend(text.lines().map(str::to_string));
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
            // The automaton's pass finds the same links.
            let (_, url) = lx.scan(b, &b.to_ascii_lowercase());
            assert_eq!(url, has_link(b), "{l}");
            found += has_link(b) as usize;
        }
        assert!(found >= 6, "{found}");
    }

    #[test]
    fn user_patterns_are_case_insensitive() {
        let lx = Lexicon::new(&["For More Diplomat News".into()], &["cookie jar".into()]).unwrap();
        assert!(lx.hits("for more diplomat news").extra);
        assert!(lx.hits("The Cookie Jar recipe").keep);
        assert!(!lx.hits("The talks").extra);
    }
}
