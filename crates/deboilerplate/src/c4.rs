//! C4's line filter (Raffel et al. 2020, as in datatrove's C4 filter), kept
//! as the `mode = "c4"` baseline. Document-level C4 rules (drop pages with
//! `{` or fewer than 5 sentences) are left out: this stage judges lines.

const POLICY: &[&str] = &[
    "terms of use",
    "privacy policy",
    "cookie policy",
    "uses cookies",
    "use of cookies",
    "use cookies",
];

/// The C4 rule that removes this trimmed line, if any.
pub fn line_rule(line: &str) -> Option<&'static str> {
    let lower = line.to_lowercase();
    if lower.contains("javascript") {
        return Some("c4_javascript");
    }
    if lower.contains("lorem ipsum") {
        return Some("c4_lorem_ipsum");
    }
    if POLICY.iter().any(|p| lower.contains(p)) {
        return Some("c4_policy");
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

#[cfg(test)]
mod tests {
    use super::line_rule;

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
        ];
        for (line, want) in cases {
            assert_eq!(line_rule(line), *want, "{line}");
        }
    }
}
