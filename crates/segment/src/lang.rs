//! Per-language sentence rules: abbreviation lists (data files in `data/abbrev/`) and which
//! marks end a sentence.
//!
//! Languages without a list fall back to [`LangRules::universal`]: the structural rules of the
//! segmenter (initials, numbers, URLs, quotes, lists, non-Latin marks) with no word list.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::OnceLock;

/// FNV-1a: the word sets are looked up for every period, and the words are short, so a
/// simple hash beats the default SipHash by a wide margin (no untrusted keys are inserted).
#[derive(Default)]
pub struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

/// A set of words with the FNV hasher.
pub type WordSet = std::collections::HashSet<String, BuildHasherDefault<Fnv>>;

/// What one language changes in the segmenter.
#[derive(Debug, Default)]
pub struct LangRules {
    /// Abbreviations (lowercase, no final period) that may still end a sentence when a
    /// capitalised word follows.
    pub abbreviations: WordSet,
    /// Titles (`Mr`, `Dr`, `Gen`) that never end a sentence.
    pub prepositive: WordSet,
    /// Abbreviations that never end a sentence before a digit (`No. 10`, `p. 55`).
    pub number: WordSet,
    /// `.` ends sentences (false for Armenian, whose full stop is `։`/`:`).
    pub period_ends: bool,
    /// `:` followed by a space ends a sentence (Arabic, Persian, Armenian).
    pub colon_ends: bool,
    /// `،` followed by a space ends a sentence (Arabic, as pySBD's rules do).
    pub arabic_comma_ends: bool,
    /// `;` is the question mark (Greek; U+037E becomes `;` under NFC).
    pub semicolon_ends: bool,
    /// Lowercase month names: `12. Juni` is a date, not a sentence end (German ordinals).
    pub ordinal_months: WordSet,
    /// A period after a number is usually an ordinal (`3. Jahrhundert`, `7. Apríla`): it ends
    /// a sentence only before one of `starters`.
    pub ordinal_numbers: bool,
    /// English: an abbreviation followed by a capitalised word may end a sentence (`Co. It`).
    /// Elsewhere (German nouns are capitalised) a known abbreviation never ends one.
    pub abbreviation_may_end: bool,
    /// Words that open sentences (decides `U.S. How` vs `U.S. Government`, `12. Dort`).
    pub starters: WordSet,
}

const EN_STARTERS: &[&str] = &[
    "A",
    "After",
    "Also",
    "An",
    "And",
    "As",
    "At",
    "Because",
    "Being",
    "But",
    "Did",
    "Do",
    "Does",
    "For",
    "He",
    "Her",
    "Here",
    "His",
    "How",
    "However",
    "I",
    "If",
    "In",
    "It",
    "Its",
    "Many",
    "Meanwhile",
    "Millions",
    "More",
    "Most",
    "My",
    "No",
    "Now",
    "On",
    "Our",
    "She",
    "So",
    "Some",
    "That",
    "The",
    "Their",
    "There",
    "These",
    "They",
    "This",
    "Those",
    "Today",
    "We",
    "What",
    "When",
    "Where",
    "While",
    "Who",
    "Why",
    "Yet",
    "You",
    "Your",
];

const DE_STARTERS: &[&str] = &[
    "Aber", "Als", "Am", "Auch", "Auf", "Da", "Dann", "Das", "Dem", "Den", "Der", "Des", "Die",
    "Dies", "Diese", "Dieser", "Doch", "Dort", "Du", "Ein", "Eine", "Er", "Es", "Hier", "Ich",
    "Ihr", "Im", "In", "Man", "Mit", "Nach", "Nun", "Sie", "So", "Und", "Wann", "Warum", "Was",
    "Wenn", "Wie", "Wir", "Wo",
];

/// Abbreviation data per ISO 639-1 code, compiled into the binary.
const DATA: &[(&str, &str)] = &[
    ("en", include_str!("../data/abbrev/en.txt")),
    ("de", include_str!("../data/abbrev/de.txt")),
    ("fr", include_str!("../data/abbrev/fr.txt")),
    ("es", include_str!("../data/abbrev/es.txt")),
    ("it", include_str!("../data/abbrev/it.txt")),
    ("pt", include_str!("../data/abbrev/pt.txt")),
    ("nl", include_str!("../data/abbrev/nl.txt")),
    ("ru", include_str!("../data/abbrev/ru.txt")),
    ("pl", include_str!("../data/abbrev/pl.txt")),
    ("da", include_str!("../data/abbrev/da.txt")),
    ("kk", include_str!("../data/abbrev/kk.txt")),
    ("sk", include_str!("../data/abbrev/sk.txt")),
    ("bg", include_str!("../data/abbrev/bg.txt")),
    ("ar", include_str!("../data/abbrev/ar.txt")),
];

/// Abbreviations every language shares (number signs).
const UNIVERSAL_NUMBER: &[&str] = &["no", "n°", "nº", "nr"];

const DA_STARTERS: &[&str] = &[
    "De", "Dem", "Den", "Der", "Det", "Du", "Han", "Hun", "Hvad", "Hvem", "Hvor", "Hvordan",
    "Hvorfor", "I", "Jeg", "Men", "Og", "Så", "Vi",
];

const DE_MONTHS: &[&str] = &[
    "januar",
    "jänner",
    "februar",
    "märz",
    "april",
    "mai",
    "juni",
    "juli",
    "august",
    "september",
    "oktober",
    "november",
    "dezember",
];

impl LangRules {
    /// Rules with no word list: what an unknown language gets.
    pub fn universal() -> Self {
        LangRules {
            number: UNIVERSAL_NUMBER.iter().map(|s| s.to_string()).collect(),
            starters: EN_STARTERS.iter().map(|s| s.to_string()).collect(),
            abbreviation_may_end: true,
            period_ends: true,
            ..LangRules::default()
        }
    }

    fn from_data(code: &str, data: &str) -> Self {
        let mut rules = LangRules::universal();
        rules.starters.clear();
        let mut section = 0;
        for line in data.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            match line {
                "[abbreviations]" => section = 0,
                "[prepositive]" => section = 1,
                "[number]" => section = 2,
                word => {
                    let word = word.to_lowercase();
                    match section {
                        0 => rules.abbreviations.insert(word),
                        1 => rules.prepositive.insert(word),
                        _ => rules.number.insert(word),
                    };
                }
            }
        }
        if code == "de" {
            rules.ordinal_months = DE_MONTHS.iter().map(|s| s.to_string()).collect();
            rules.starters = DE_STARTERS.iter().map(|s| s.to_string()).collect();
        }
        if code == "da" {
            rules.starters = DA_STARTERS.iter().map(|s| s.to_string()).collect();
        }
        if code == "en" {
            rules.starters = EN_STARTERS.iter().map(|s| s.to_string()).collect();
        }
        rules.ordinal_numbers =
            matches!(code, "de" | "da" | "sk" | "cs" | "pl" | "fi" | "no" | "hu");
        rules.abbreviation_may_end = code == "en";
        rules.apply_marks(code);
        rules
    }

    fn apply_marks(&mut self, code: &str) {
        match code {
            "ar" => {
                self.colon_ends = true;
                self.arabic_comma_ends = true;
            }
            "fa" => self.colon_ends = true,
            "hy" => {
                self.colon_ends = true;
                self.period_ends = false;
            }
            "el" => self.semicolon_ends = true,
            _ => {}
        }
    }

    /// Rules for an ISO 639-1 code (case-insensitive; `en-US` counts as `en`).
    pub fn for_lang(code: &str) -> &'static LangRules {
        static CACHE: OnceLock<HashMap<String, LangRules>> = OnceLock::new();
        static UNIVERSAL: OnceLock<LangRules> = OnceLock::new();
        let map = CACHE.get_or_init(|| {
            let mut map: HashMap<String, LangRules> = DATA
                .iter()
                .map(|(code, data)| (code.to_string(), LangRules::from_data(code, data)))
                .collect();
            for code in ["fa", "hy", "el"] {
                let mut rules = LangRules::universal();
                rules.apply_marks(code);
                map.insert(code.to_string(), rules);
            }
            map
        });
        let base = code
            .split(['-', '_'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        map.get(&base)
            .unwrap_or_else(|| UNIVERSAL.get_or_init(LangRules::universal))
    }

    pub fn is_abbreviation(&self, lower: &str) -> bool {
        self.abbreviations.contains(lower)
            || self.prepositive.contains(lower)
            || self.number.contains(lower)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_required_language_has_a_list() {
        for code in ["en", "de", "fr", "es", "it", "pt", "nl", "ru", "pl"] {
            let rules = LangRules::for_lang(code);
            assert!(rules.abbreviations.len() > 40, "{code}");
        }
        assert!(LangRules::for_lang("en").prepositive.contains("mr"));
        assert!(LangRules::for_lang("en-GB").prepositive.contains("gen"));
        assert!(LangRules::for_lang("xx").abbreviations.is_empty());
        assert!(!LangRules::for_lang("hy").period_ends);
    }
}
