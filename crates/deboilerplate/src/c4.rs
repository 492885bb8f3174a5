//! C4's line filter (Raffel et al. 2020, as in datatrove's C4 filter), kept
//! as the `mode = "c4"` baseline. Document-level C4 rules (drop pages with
//! `{` or fewer than 5 sentences) are left out: this stage judges lines.

use memchr::memmem::Finder;
use std::sync::LazyLock;

/// The phrases C4 looks for in the lowercased line, and the rule each
/// one triggers, in the order the rules are tried.
const PHRASES: &[(&str, &str)] = &[
    ("javascript", "c4_javascript"),
    ("lorem ipsum", "c4_lorem_ipsum"),
    ("terms of use", "c4_policy"),
    ("privacy policy", "c4_policy"),
    ("cookie policy", "c4_policy"),
    ("uses cookies", "c4_policy"),
    ("use of cookies", "c4_policy"),
    ("use cookies", "c4_policy"),
];

/// One vectorised substring searcher per phrase, built once.
static FINDERS: LazyLock<Vec<(Finder<'static>, &'static str)>> = LazyLock::new(|| {
    PHRASES
        .iter()
        .map(|&(p, rule)| (Finder::new(p.as_bytes()), rule))
        .collect()
});

/// The C4 rule that removes this trimmed line, if any.
pub fn line_rule(line: &str) -> Option<&'static str> {
    // The phrases are ASCII, and lowercasing turns no non-ASCII character
    // into ASCII but the Kelvin sign and the dotted capital I: without
    // those, lowercasing the ASCII bytes finds exactly what a Unicode
    // `to_lowercase` would, without its per-character walk.
    let lower: Vec<u8> = if !line.is_ascii() && line.contains(['\u{212A}', '\u{0130}']) {
        line.to_lowercase().into_bytes()
    } else {
        line.as_bytes().to_ascii_lowercase()
    };
    if let Some(&(_, rule)) = FINDERS.iter().find(|(f, _)| f.find(&lower).is_some()) {
        return Some(rule);
    }
    if line.ends_with("...") || line.ends_with('…') {
        return Some("c4_ellipsis");
    }
    if !line.ends_with(['.', '?', '!', '"', '\'']) {
        return Some("c4_no_terminal_punct");
    }
    if line.split_whitespace().nth(2).is_none() {
        return Some("c4_too_few_words");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::{line_rule, PHRASES};

    /// C4's rule as written: Unicode lowercase, then substring search.
    fn line_rule_reference(line: &str) -> Option<&'static str> {
        let lower = line.to_lowercase();
        if let Some(&(_, rule)) = PHRASES.iter().find(|(p, _)| lower.contains(p)) {
            return Some(rule);
        }
        if line.ends_with("...") || line.ends_with('…') {
            return Some("c4_ellipsis");
        }
        if !line.ends_with(['.', '?', '!', '"', '\'']) {
            return Some("c4_no_terminal_punct");
        }
        if line.split_whitespace().count() < 3 {
            return Some("c4_too_few_words");
        }
        None
    }

    #[test]
    fn the_fast_rule_agrees_with_the_plain_one() {
        let extra = [
            "Diese Website verwendet Cookies. Mehr in der PRIVACY POLICY.",
            "İstanbul'da JavaScript dersleri başladı.",
            "COO\u{212A}IE POLICY",
            "Ｊａｖａｓｃｒｉｐｔ is written in full-width letters here.",
            "ΣΟΦΙΑ ΚΑΙ LOREM IPSUM ΜΑΖΙ.",
        ];
        let lines = crate::seed_lines(&extra, false);
        assert!(lines.len() > 100);
        let mut removed = 0;
        for l in &lines {
            assert_eq!(line_rule(l), line_rule_reference(l), "{l}");
            removed += line_rule(l).is_some() as usize;
        }
        // Both kinds of outcome occur on the seeds.
        assert!(removed > 10 && removed < lines.len());
    }

    #[test]
    fn c4_rules_on_real_lines() {
        let cases: &[(&str, Option<&str>)] = &[
            (
                "The talks between the two countries will be held online.",
                None,
            ),
            ("Source link", Some("c4_no_terminal_punct")),
            ("Thanks!", Some("c4_too_few_words")),
            (
                "Please enable JavaScript to view the comments.",
                Some("c4_javascript"),
            ),
            (
                "By using this site you agree to our Privacy Policy.",
                Some("c4_policy"),
            ),
            ("Read more...", Some("c4_ellipsis")),
            // Case is folded for ASCII and non-ASCII lines alike.
            (
                "Diese Seite verwendet JAVASCRIPT für die Anzeige.",
                Some("c4_javascript"),
            ),
            (
                "LOREM IPSUM dolor sit amet, consectetur adipiscing elit.",
                Some("c4_lorem_ipsum"),
            ),
            ("Ärger über die neue Regelung wächst.", None),
            ("Zwei Wörter.", Some("c4_too_few_words")),
            // The Kelvin sign lowercases to an ASCII "k".
            (
                "Our COO\u{212A}IE POLICY changed on the first of May.",
                Some("c4_policy"),
            ),
        ];
        for (line, want) in cases {
            assert_eq!(line_rule(line), *want, "{line}");
        }
    }
}
