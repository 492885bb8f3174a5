//! Text normalisation shared by every document, whatever its origin.
//!
//! Rules, in order: CRLF and lone CR become LF; C0 controls other than tab
//! and newline, DEL and C1 controls (U+0080..U+009F) are removed; trailing
//! whitespace of every line is stripped (space, tab, U+00A0 and every other
//! Unicode `White_Space` character), so lines of only whitespace become
//! empty while leading indentation of other lines is kept; finally NFC.
//!
//! Cost: one scan over the bytes (8 bytes at a time while they are plain
//! printable ASCII). Text that already satisfies every rule comes back
//! borrowed, without allocating. Text containing characters at or above
//! U+0300 (where non-NFC sequences can start) gets one NFC quick check; only
//! text that fails it is recomposed. All steps are linear in the input.

use std::borrow::Cow;
use unicode_normalization::{is_nfc_quick, IsNormalized, UnicodeNormalization};

/// Normalise `text` (see the module docs). Borrowed when nothing changes.
pub fn normalize(text: &str) -> Cow<'_, str> {
    let scan = scan(text.as_bytes());
    let cleaned: Cow<'_, str> = if scan.dirty {
        Cow::Owned(clean_lines(text))
    } else {
        Cow::Borrowed(text)
    };
    if scan.maybe_denormal && is_nfc_quick(cleaned.chars()) != IsNormalized::Yes {
        // NFC composes across removed controls, so it runs after cleaning.
        // Composition never creates a control or turns a non-space character
        // into trailing whitespace, so one round is enough.
        return Cow::Owned(cleaned.nfc().collect());
    }
    cleaned
}

/// Owned variant that reuses the allocation when nothing changes.
pub fn normalize_string(text: String) -> String {
    match normalize(&text) {
        Cow::Borrowed(_) => text,
        Cow::Owned(s) => s,
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Scan {
    /// Some line ending, control character or trailing whitespace to fix.
    dirty: bool,
    /// A character >= U+0300 was seen: NFC needs a quick check.
    maybe_denormal: bool,
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// True if any byte of `w` is < 0x20, == 0x7F or >= 0x80.
#[inline(always)]
fn word_is_special(w: u64) -> bool {
    // Bytes >= 0x80 set their own high bit. For bytes < 0x80, adding 1 sets
    // the high bit exactly for 0x7F (no carry leaves the byte), and the
    // classic `hasless(w, 0x20)` test finds bytes < 0x20.
    let less_than_space = w.wrapping_sub(LO * 0x20) & !w;
    ((w | w.wrapping_add(LO) | less_than_space) & HI) != 0
}

fn scan(b: &[u8]) -> Scan {
    let mut s = Scan::default();
    let mut i = 0;
    let n = b.len();
    while i < n {
        // Fast path: skip 8 plain printable ASCII bytes at a time.
        while i + 8 <= n {
            let mut chunk = [0u8; 8];
            chunk.copy_from_slice(&b[i..i + 8]);
            if word_is_special(u64::from_le_bytes(chunk)) {
                break;
            }
            i += 8;
        }
        let Some(&c) = b.get(i) else { break };
        match c {
            b'\n' => {
                if ends_with_whitespace(&b[..i]) {
                    s.dirty = true;
                    return finish_scan(b, i, s);
                }
                i += 1;
            }
            b'\t' | 0x20..=0x7E => i += 1,
            0x00..=0x1F | 0x7F => {
                s.dirty = true;
                return finish_scan(b, i, s);
            }
            // A run of non-ASCII characters (the text is valid UTF-8): step
            // a whole character at a time. Leads >= 0xCC start characters
            // >= U+0300; below that (Latin-1, Latin Extended) all is NFC.
            _ => {
                let bitmap = nfc_safe_bitmap();
                while let Some(&c) = b.get(i) {
                    if c < 0x80 {
                        break;
                    }
                    if c >= 0xCC {
                        if !s.maybe_denormal && !is_safe(bitmap, code_point(&b[i..])) {
                            s.maybe_denormal = true;
                        }
                    } else if c == 0xC2 && matches!(b.get(i + 1), Some(0x80..=0x9F)) {
                        s.dirty = true;
                        return finish_scan(b, i, s);
                    }
                    i += utf8_len(c);
                }
            }
        }
    }
    if ends_with_whitespace(b) {
        s.dirty = true;
    }
    s
}

/// Length of the UTF-8 sequence a lead byte starts (1 for anything else,
/// so the scan always advances).
#[inline(always)]
fn utf8_len(lead: u8) -> usize {
    1 + usize::from(lead >= 0xC0) + usize::from(lead >= 0xE0) + usize::from(lead >= 0xF0)
}

/// Characters that can never make text non-NFC: quick-check Yes and
/// canonical combining class 0 (so no reordering either). A bitmap over all
/// code points, computed once (~1 ms per 64k code points, 136 KB): the
/// per-character test in the scan is then a bit lookup instead of the
/// quick-check's table search, which keeps Cyrillic, Greek or CJK text at
/// ASCII-like speed.
fn nfc_safe_bitmap() -> &'static [u64] {
    static BITMAP: std::sync::OnceLock<Vec<u64>> = std::sync::OnceLock::new();
    BITMAP.get_or_init(|| {
        let mut bits = vec![0u64; 0x11_0000 / 64];
        for cp in 0..0x11_0000u32 {
            let Some(c) = char::from_u32(cp) else {
                continue;
            };
            let safe = unicode_normalization::char::canonical_combining_class(c) == 0
                && is_nfc_quick(std::iter::once(c)) == IsNormalized::Yes;
            if safe {
                bits[(cp / 64) as usize] |= 1 << (cp % 64);
            }
        }
        bits
    })
}

/// Whether the character starting at `b[0]` (a UTF-8 lead byte) is NFC-safe.
#[inline]
fn starts_nfc_safe_char(b: &[u8]) -> bool {
    is_safe(nfc_safe_bitmap(), code_point(b))
}

#[inline(always)]
fn is_safe(bitmap: &[u64], cp: u32) -> bool {
    bitmap
        .get((cp / 64) as usize)
        .is_some_and(|w| w & (1 << (cp % 64)) != 0)
}

/// The code point of the UTF-8 sequence at `b[0]` (valid UTF-8 assumed;
/// anything else gives some value, never a panic).
#[inline(always)]
fn code_point(b: &[u8]) -> u32 {
    let cont = |k: usize| u32::from(b.get(k).copied().unwrap_or(0) & 0x3F);
    match b.first() {
        Some(&l @ 0xC0..=0xDF) => (u32::from(l & 0x1F) << 6) | cont(1),
        Some(&l @ 0xE0..=0xEF) => (u32::from(l & 0x0F) << 12) | (cont(1) << 6) | cont(2),
        Some(&l @ 0xF0..=0xF7) => {
            (u32::from(l & 0x07) << 18) | (cont(1) << 12) | (cont(2) << 6) | cont(3)
        }
        Some(&l) => u32::from(l),
        None => 0,
    }
}

/// Once the text is known to be dirty, only the NFC flag is still unknown.
fn finish_scan(b: &[u8], from: usize, mut s: Scan) -> Scan {
    if !s.maybe_denormal {
        s.maybe_denormal = b[from..]
            .iter()
            .enumerate()
            .any(|(k, &c)| c >= 0xCC && !starts_nfc_safe_char(&b[from + k..]));
    }
    s
}

/// Whether the text before a line end ends in whitespace (not a newline).
fn ends_with_whitespace(b: &[u8]) -> bool {
    match b.last() {
        None => false,
        Some(b' ' | b'\t') => true,
        Some(&c) if c < 0x80 => false,
        Some(_) => {
            // Decode the last character; at most 4 bytes back.
            let start = b.len().saturating_sub(4);
            let tail = &b[start..];
            (0..tail.len())
                .filter_map(|k| std::str::from_utf8(&tail[k..]).ok())
                .next()
                .and_then(|s| s.chars().next_back())
                .is_some_and(is_strippable_space)
        }
    }
}

/// Whitespace removed at line ends: Unicode `White_Space` minus line breaks.
fn is_strippable_space(c: char) -> bool {
    c.is_whitespace() && c != '\n'
}

fn is_removed_control(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{8}' | '\u{B}' | '\u{C}' | '\u{E}'..='\u{1F}' | '\u{7F}'..='\u{9F}')
}

/// Whether a line holds a character [`is_removed_control`] removes (tab
/// excluded; C1 controls are C2 80..C2 9F in UTF-8).
fn has_removable_control(b: &[u8]) -> bool {
    b.iter().enumerate().any(|(i, &c)| {
        (c < 0x20 && c != b'\t')
            || c == 0x7F
            || (c == 0xC2 && matches!(b.get(i + 1), Some(0x80..=0x9F)))
    })
}

/// The slow path: rebuild the text line by line.
fn clean_lines(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    loop {
        // Split at the next CR or LF; CRLF counts as one line end.
        let (line, sep_len) = match memchr::memchr2(b'\r', b'\n', rest.as_bytes()) {
            Some(p) => {
                let sep =
                    if rest.as_bytes()[p] == b'\r' && rest.as_bytes().get(p + 1) == Some(&b'\n') {
                        2
                    } else {
                        1
                    };
                (&rest[..p], Some((p, sep)))
            }
            None => (rest, None),
        };
        let start = out.len();
        if has_removable_control(line.as_bytes()) {
            out.extend(line.chars().filter(|&c| !is_removed_control(c)));
            let kept = out[start..].trim_end_matches(is_strippable_space).len();
            out.truncate(start + kept);
        } else {
            out.push_str(line.trim_end_matches(is_strippable_space));
        }
        match sep_len {
            Some((p, sep)) => {
                out.push('\n');
                rest = &rest[p + sep..];
            }
            None => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let cases: &[(&str, &str)] = &[
            ("", ""),
            ("Plain text.\nSecond line.", "Plain text.\nSecond line."),
            ("Windows\r\nline ends\r\n", "Windows\nline ends\n"),
            ("old Mac\rline\r\rends", "old Mac\nline\n\nends"),
            // Seed 000: menu lines ending in U+00A0.
            (
                "[VIDEO]\u{a0}\nJoe Biden receives report [REPORT]\u{a0}\n",
                "[VIDEO]\nJoe Biden receives report [REPORT]\n",
            ),
            // Seed 002: lines of only U+00A0 become empty.
            ("Blinken\n\n\u{a0}\n\nOn Feb. 2", "Blinken\n\n\n\nOn Feb. 2"),
            ("  indented stays\t \n", "  indented stays\n"),
            ("\t\tcode();", "\t\tcode();"),
            ("NUL\u{0}byte and bell\u{7}", "NULbyte and bell"),
            ("C1\u{85} and \u{92}quote\u{9f}", "C1 and quote"),
            ("form\u{c}feed\u{b}vt", "formfeedvt"),
            ("DEL\u{7f}", "DEL"),
            // NFD (as macOS file names and some CMSs produce) to NFC.
            (
                "Cafe\u{301} cre\u{300}me bru\u{302}le\u{301}e",
                "Café crème brûlée",
            ),
            ("Ha\u{308}user, Mu\u{308}nchen", "Häuser, München"),
            ("\u{1100}\u{1161}\u{11a8}", "\u{ac01}"),
            // A control between base and mark is removed before composing.
            ("e\u{0}\u{301}", "é"),
            // Ideographic space and em space at a line end.
            ("全角スペース\u{3000}\nem\u{2003}", "全角スペース\nem"),
            // Already NFC non-Latin text is untouched.
            (
                "Всеобщая декларация прав человека",
                "Всеобщая декларация прав человека",
            ),
            ("trailing at end   ", "trailing at end"),
            ("   ", ""),
            ("\r\n\r\n", "\n\n"),
        ];
        for (input, want) in cases {
            assert_eq!(normalize(input), *want, "input {input:?}");
        }
    }

    #[test]
    fn clean_text_is_borrowed() {
        for text in [
            "",
            "ASCII only, many words here.\n\nNext paragraph.",
            "Déjà vu — “quoted” – Ελληνικά, русский, 日本語, 한국어",
            "\ttab-indented\n",
            include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../tests/fixtures/seeds/003_240feac35cea67fe.txt"
            )),
        ] {
            assert!(
                matches!(normalize(text), Cow::Borrowed(_)),
                "should borrow {text:?}"
            );
        }
    }

    #[test]
    fn seeds_normalise_and_are_idempotent() {
        let seed000 = include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/seeds/000_e7f6ed2af000063c.txt"
        ));
        let seed002 = include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/seeds/002_31699701fbb39e56.txt"
        ));
        for seed in [seed000, seed002] {
            assert!(seed.contains("\u{a0}\n"), "seed should end lines in NBSP");
            let once = normalize(seed);
            assert!(matches!(once, Cow::Owned(_)));
            assert!(!once.contains("\u{a0}\n"));
            assert!(once.lines().all(|l| l.trim_end() == l));
            assert_eq!(once.lines().count(), seed.lines().count());
            assert!(matches!(normalize(&once), Cow::Borrowed(_)));
        }
    }

    #[test]
    fn word_test_matches_bytewise_definition() {
        for b in 0..=255u8 {
            for pos in 0..8 {
                let mut w = [b'a'; 8];
                w[pos] = b;
                let special = !(0x20..0x7F).contains(&b);
                assert_eq!(word_is_special(u64::from_le_bytes(w)), special, "{b:#x}");
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn idempotent_and_clean(s in "\\PC*|[ \\t\\r\\n\\u{a0}\\u{0}\\u{85}a\\u{301}e]*") {
            let once = normalize(&s).into_owned();
            let twice = normalize(&once);
            proptest::prop_assert_eq!(twice.as_ref(), once.as_str());
            proptest::prop_assert!(!once.contains('\r'));
            proptest::prop_assert!(once.split('\n').all(|l| l.trim_end() == l));
        }
    }
}
