//! Escaping and number formatting for the page.
//!
//! Everything from the run (document text, ids, URLs, source names, rule and
//! reason codes, config values) is untrusted: it goes into the markup only
//! through [`esc`], which is safe in element text, in quoted attribute
//! values and inside SVG `<title>`.

/// HTML-escapes `s` for text and double- or single-quoted attributes.
/// Control characters (other than tab and line feed) and noncharacters
/// become U+FFFD, so the page parses the same in every browser.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' => out.push(c),
            c if is_bad_char(c) => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

fn is_bad_char(c: char) -> bool {
    let u = c as u32;
    u < 0x20 || (0x7F..=0x9F).contains(&u) || (0xFDD0..=0xFDEF).contains(&u) || u & 0xFFFE == 0xFFFE
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A byte count in decimal units: `532 B`, `12.3 kB`, `4.56 MB`, `1.20 GB`.
pub fn bytes(n: f64) -> String {
    let (v, unit) = if n >= 1e9 {
        (n / 1e9, "GB")
    } else if n >= 1e6 {
        (n / 1e6, "MB")
    } else if n >= 1e3 {
        (n / 1e3, "kB")
    } else {
        return format!("{n:.0} B");
    };
    if v >= 100.0 {
        format!("{v:.0} {unit}")
    } else if v >= 10.0 {
        format!("{v:.1} {unit}")
    } else {
        format!("{v:.2} {unit}")
    }
}

/// The unit an axis of byte values up to `max` is drawn in: (divisor, name).
pub fn byte_unit(max: f64) -> (f64, &'static str) {
    if max >= 1e9 {
        (1e9, "GB")
    } else if max >= 1e6 {
        (1e6, "MB")
    } else if max >= 1e3 {
        (1e3, "kB")
    } else {
        (1.0, "bytes")
    }
}

/// `part / whole` as a percentage with one decimal, or `–` when `whole` is 0.
pub fn pct(part: f64, whole: f64) -> String {
    if whole > 0.0 {
        format!("{:.1}%", 100.0 * part / whole)
    } else {
        "–".into()
    }
}

/// A short byte length for axis buckets: `64`, `1K`, `16K`, `1M` (binary).
pub fn short_len(n: u64) -> String {
    if n >= 1 << 30 && n.is_multiple_of(1 << 30) {
        format!("{}G", n >> 30)
    } else if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{}M", n >> 20)
    } else if n >= 1 << 10 && n.is_multiple_of(1 << 10) {
        format!("{}K", n >> 10)
    } else {
        thousands(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_quotes_and_controls() {
        for (input, want) in [
            (
                "<script>alert(1)</script>",
                "&lt;script&gt;alert(1)&lt;/script&gt;",
            ),
            (
                r#"<img src=x onerror="alert('x')">"#,
                "&lt;img src=x onerror=&quot;alert(&#39;x&#39;)&quot;&gt;",
            ),
            ("</svg></title>", "&lt;/svg&gt;&lt;/title&gt;"),
            ("AT&T", "AT&amp;T"),
            ("tab\there\nline", "tab\there\nline"),
            (
                "nul\0bell\u{7}c1\u{85}",
                "nul\u{FFFD}bell\u{FFFD}c1\u{FFFD}",
            ),
            ("non\u{FFFF}char\u{FDD0}", "non\u{FFFD}char\u{FFFD}"),
            ("Ünïcödé — «ok» 日本語", "Ünïcödé — «ok» 日本語"),
        ] {
            assert_eq!(esc(input), want, "{input:?}");
        }
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(bytes(532.0), "532 B");
        assert_eq!(bytes(12_345.0), "12.3 kB");
        assert_eq!(bytes(4_560_000.0), "4.56 MB");
        assert_eq!(bytes(1.2e9), "1.20 GB");
        assert_eq!(pct(1.0, 3.0), "33.3%");
        assert_eq!(pct(1.0, 0.0), "–");
        assert_eq!(short_len(64), "64");
        assert_eq!(short_len(2048), "2K");
        assert_eq!(short_len(1 << 20), "1M");
        assert_eq!(short_len(1500), "1,500");
    }
}
