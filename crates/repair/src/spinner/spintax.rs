//! Leftover spintax: `{Hello|Hi|Hey} there` -> `Hello there` (nested too).
//!
//! Spintax is the template language of spinners; a copy that was published
//! without being "spun" still carries it. A brace group counts as spintax
//! only if it looks like prose alternatives, so braces in code, JSON, LaTeX
//! and templates are left alone:
//! * it has a `|` at its top level and stays on one line;
//! * no alternative is empty or starts/ends with a space (`{ a || b }` is code);
//! * no alternative contains `;`, `=`, `:`, `"`, `\`, `$`, `<`, `>`, `%`, `#`;
//! * every alternative contains a letter;
//! * the `{` does not follow a letter, digit, `\`, `$`, `^`, `_`, `{`, `%`, `#`
//!   (LaTeX `\cmd{..}`, `x^{..}`, `${..}`, `{{ .. }}`), and `}` is not
//!   followed by `}`.
//!
//! Linear: each byte is visited a bounded number of times (a failed group
//! is skipped as a whole, groups nest at most [`MAX_DEPTH`] deep).

const MAX_DEPTH: usize = 8;
const MAX_GROUP: usize = 2000;

/// Resolve every spintax group of `text` to its first alternative.
/// Returns the new text and the number of top-level groups resolved, or
/// `None` if there was nothing to do.
pub fn resolve(text: &str) -> Option<(String, usize)> {
    if !text.contains('{') || !text.contains('|') {
        return None;
    }
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut count = 0;
    let mut last = 0;
    let mut i = 0;
    while let Some(off) = memchr::memchr(b'{', &bytes[i..]) {
        let start = i + off;
        if start > 0 && bad_before(bytes[start - 1]) {
            i = start + 1;
            continue;
        }
        match parse_group(text, start, 0) {
            Some((first, end)) if end >= bytes.len() || bytes[end] != b'}' => {
                out.push_str(&text[last..start]);
                out.push_str(&first);
                count += 1;
                last = end;
                i = end;
            }
            _ => i = start + 1,
        }
    }
    if count == 0 {
        return None;
    }
    out.push_str(&text[last..]);
    Some((out, count))
}

fn bad_before(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"\\$^_{%#".contains(&b)
}

/// Parse a group starting at `start` (a `{`). Returns the resolved first
/// alternative and the index just past the closing `}`.
fn parse_group(text: &str, start: usize, depth: usize) -> Option<(String, usize)> {
    if depth >= MAX_DEPTH {
        return None;
    }
    let bytes = text.as_bytes();
    let mut alts: Vec<String> = vec![String::new()];
    let mut has_letter = vec![false];
    let mut i = start + 1;
    while i < bytes.len() {
        if i - start > MAX_GROUP {
            return None;
        }
        let b = bytes[i];
        match b {
            b'}' => {
                if alts.len() < 2 || has_letter.iter().any(|h| !h) {
                    return None;
                }
                if alts
                    .iter()
                    .any(|a| a.is_empty() || a.starts_with(' ') || a.ends_with(' '))
                {
                    return None;
                }
                let first = alts.swap_remove(0);
                return Some((first, i + 1));
            }
            b'|' => {
                alts.push(String::new());
                has_letter.push(false);
                i += 1;
            }
            b'{' => {
                let (inner, end) = parse_group(text, i, depth + 1)?;
                let n = alts.len() - 1;
                has_letter[n] |= inner.chars().any(char::is_alphabetic);
                alts[n].push_str(&inner);
                i = end;
            }
            b'\n' | b';' | b'=' | b':' | b'"' | b'\\' | b'$' | b'<' | b'>' | b'%' | b'#' => {
                return None
            }
            _ => {
                // Copy one whole character.
                let ch = text[i..].chars().next()?;
                let n = alts.len() - 1;
                has_letter[n] |= ch.is_alphabetic();
                alts[n].push(ch);
                i += ch.len_utf8();
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_spintax_and_spares_code() {
        let cases: &[(&str, Option<(&str, usize)>)] = &[
            ("{Hello|Hi|Hey} there", Some(("Hello there", 1))),
            (
                "We {{really|truly} love|adore} {this|that} product.",
                Some(("We really love this product.", 2)),
            ),
            ("The {quick|fast} fox.", Some(("The quick fox.", 1))),
            // Code, JSON, LaTeX, templates: untouched.
            ("if (a) { x = a | b; }", None),
            ("{\"a\": 1, \"b\": [1|2]}", None),
            ("$\\frac{a|b}{c}$ and \\text{x|y}", None),
            ("{{ name | upper }}", None),
            ("{% if a|length %}", None),
            ("match x { A | B => 1 }", None),
            ("flags {1|2}", None),
            ("a {b|} c", None),
            ("no braces | here", None),
            ("unclosed {a|b", None),
            ("", None),
        ];
        for (input, want) in cases {
            let got = resolve(input);
            let got = got.as_ref().map(|(s, n)| (s.as_str(), *n));
            assert_eq!(got, *want, "{input}");
        }
    }

    #[test]
    fn deep_nesting_does_not_overflow() {
        let s = "{".repeat(10_000) + "a|b" + &"}".repeat(10_000);
        assert!(resolve(&s).is_none());
    }
}
