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
    /// "http", "www.", ".com/": a line holding one has a link.
    url: [memchr::memmem::Finder<'static>; 3],
}

const STRONG: u8 = 1;
const WEAK: u8 = 2;
const COMMENT: u8 = 4;
const EXTRA: u8 = 8;
const KEEP: u8 = 16;

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
        let all = AhoCorasickBuilder::new()
            .match_kind(MatchKind::LeftmostFirst)
            .kind(Some(AhoCorasickKind::DFA))
            .build(&patterns)
            .map_err(|e| format!("cannot compile patterns: {e}"))?;
        Ok(Lexicon {
            all,
            class,
            lines: set,
            url: [
                memchr::memmem::Finder::new(b"http"),
                memchr::memmem::Finder::new(b"www."),
                memchr::memmem::Finder::new(b".com/"),
            ],
        })
    }

    /// Match one (trimmed) line.
    pub fn hits(&self, line: &str) -> Hits {
        self.hits_ascii_lower(&line.to_ascii_lowercase().into_bytes())
    }

    /// Match one (trimmed) line whose ASCII letters are already lowercased.
    pub fn hits_ascii_lower(&self, line: &[u8]) -> Hits {
        let mut bits = 0u8;
        // Non-overlapping leftmost-first matches: user and strong patterns
        // are listed first, so "cookie policy" is strong, not weak "cookie".
        for m in self.all.find_iter(line) {
            bits |= self.class.get(m.pattern().as_usize()).copied().unwrap_or(0);
        }
        Hits {
            strong: bits & STRONG != 0,
            weak: bits & WEAK != 0,
            comment: bits & COMMENT != 0,
            extra: bits & EXTRA != 0,
            keep: bits & KEEP != 0,
        }
    }

    /// Whether the bytes hold "http", "www." or ".com/" (searchers built
    /// once, not per line).
    pub fn has_url_marker(&self, b: &[u8]) -> bool {
        self.url.iter().any(|f| f.find(b).is_some())
    }

    /// Whether a normalised line is boilerplate on its own.
    pub fn is_boilerplate_line(&self, normalised: &[u8]) -> bool {
        self.lines.contains(normalised)
    }
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
    fn user_patterns_are_case_insensitive() {
        let lx = Lexicon::new(&["For More Diplomat News".into()], &["cookie jar".into()]).unwrap();
        assert!(lx.hits("for more diplomat news").extra);
        assert!(lx.hits("The Cookie Jar recipe").keep);
        assert!(!lx.hits("The talks").extra);
    }
}
