//! The smaller repairs around mojibake: HTML character references left in
//! plain text (and the damaged forms dumps carry, ` quot;`, ` #39;`), C1
//! controls, escaped surrogate pairs, no-break space variants, curly quotes
//! and ligatures. Each is one linear scan.

use super::entities_table::ENTITIES;
use super::repair::Fix;

/// What windows-1252 means by bytes 0x80..=0x9F (`None`: undefined there).
fn c1_as_cp1252(c: char) -> Option<char> {
    let b = c as u32;
    if !(0x80..=0x9F).contains(&b) {
        return None;
    }
    let w = super::codecs::Codec::W1252.decode_high(b as u8);
    (w != c).then_some(w)
}

/// A numeric character reference's value, as browsers read it (C1 numbers
/// mean windows-1252, NUL/surrogates/out of range are refused).
fn numeric_ref(digits: &str, hex: bool) -> Option<char> {
    if digits.is_empty() || digits.len() > 7 {
        return None;
    }
    let v = u32::from_str_radix(digits, if hex { 16 } else { 10 }).ok()?;
    let c = char::from_u32(v)?;
    if v == 0 || (v < 0x20 && !matches!(v, 9 | 10)) || v == 0x7F {
        return None;
    }
    Some(c1_as_cp1252(c).unwrap_or(c))
}

fn lookup_entity(name: &str) -> Option<&'static str> {
    ENTITIES
        .binary_search_by(|(k, _)| k.as_bytes().cmp(name.as_bytes()))
        .ok()
        .map(|i| ENTITIES[i].1)
}

/// Names damaged dumps leave behind without their `&`.
const DAMAGED_NAMES: &[(&str, &str)] = &[
    ("quot", "\""),
    ("amp", "&"),
    ("lt", "<"),
    ("gt", ">"),
    ("apos", "'"),
    ("nbsp", "\u{A0}"),
];

/// Decode `&name;`, `&#N;`, `&#xH;` (when `named`), and the forms whose `&`
/// was turned into a space (` quot;`, ` #39;`, when `damaged`).
pub fn decode_entities(
    text: &str,
    named: bool,
    damaged: bool,
    fixes: &mut Vec<Fix>,
) -> Option<String> {
    let b = text.as_bytes();
    let mut out = String::new();
    let mut copied = 0usize;
    let mut i = 0usize;
    while i < b.len() {
        let c = b[i];
        let amp = c == b'&' && named;
        let space = c == b' '
            && damaged
            && i + 1 < b.len()
            && (b[i + 1] == b'#' || b[i + 1].is_ascii_lowercase());
        if !amp && !space {
            i += 1;
            continue;
        }
        // Name or number up to ';' (at most 32 bytes).
        let body_start = i + 1;
        let mut j = body_start;
        while j < b.len() && j - body_start <= 32 && (b[j].is_ascii_alphanumeric() || b[j] == b'#')
        {
            j += 1;
        }
        if j >= b.len() || b[j] != b';' || j == body_start {
            i += 1;
            continue;
        }
        let body = &text[body_start..j];
        let value: Option<String> = if let Some(num) = body.strip_prefix('#') {
            let (digits, hex) = match num.strip_prefix(['x', 'X']) {
                Some(h) if amp => (h, true),
                _ => (num, false),
            };
            if digits.bytes().all(|d| d.is_ascii_hexdigit()) {
                numeric_ref(digits, hex).map(String::from)
            } else {
                None
            }
        } else if amp {
            lookup_entity(body).map(String::from)
        } else {
            DAMAGED_NAMES
                .iter()
                .find(|(k, _)| *k == body)
                .map(|(_, v)| v.to_string())
        };
        // A damaged numeric form must be a plain number (` #39;`), not `#1a;`.
        let value = value.filter(|_| {
            amp || body[1..].bytes().all(|d| d.is_ascii_digit()) || !body.starts_with('#')
        });
        match value {
            Some(v) => {
                out.push_str(&text[copied..i]);
                out.push_str(&v);
                fixes.push(Fix {
                    from: text[i..=j].to_string(),
                    to: v,
                    codec: if amp {
                        "html-entity"
                    } else {
                        "damaged-html-entity"
                    },
                });
                copied = j + 1;
                i = j + 1;
            }
            None => i += 1,
        }
    }
    if copied == 0 {
        return None;
    }
    out.push_str(&text[copied..]);
    Some(out)
}

/// C1 controls that stand for windows-1252 characters (text decoded as
/// latin-1 when it was windows-1252): `\x93quoted\x94` → `“quoted”`.
pub fn fix_c1(text: &str, fixes: &mut Vec<Fix>) -> Option<String> {
    if !text.chars().any(|c| c1_as_cp1252(c).is_some()) {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c1_as_cp1252(c) {
            Some(w) => {
                out.push(w);
                fixes.push(Fix {
                    from: c.to_string(),
                    to: w.to_string(),
                    codec: "c1-as-windows-1252",
                });
            }
            None => out.push(c),
        }
    }
    Some(out)
}

/// `\ud83d\ude00` written out in plain text (a JSON escape decoded as text,
/// or a bad JSON encoder): decode valid surrogate pairs.
pub fn decode_surrogate_escapes(text: &str, fixes: &mut Vec<Fix>) -> Option<String> {
    fn hex4(s: &str) -> Option<u32> {
        let h = s.get(0..4)?;
        if h.bytes().all(|b| b.is_ascii_hexdigit()) {
            u32::from_str_radix(h, 16).ok()
        } else {
            None
        }
    }
    let mut out = String::new();
    let mut copied = 0;
    let mut search = 0;
    while let Some(off) = text[search..].find("\\u") {
        let i = search + off;
        let pair = (|| {
            let hi = hex4(text.get(i + 2..)?)?;
            if !(0xD800..0xDC00).contains(&hi) || text.get(i + 6..i + 8)? != "\\u" {
                return None;
            }
            let lo = hex4(text.get(i + 8..)?)?;
            if !(0xDC00..0xE000).contains(&lo) {
                return None;
            }
            char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))
        })();
        match pair {
            Some(c) => {
                out.push_str(&text[copied..i]);
                out.push(c);
                fixes.push(Fix {
                    from: text[i..i + 12].to_string(),
                    to: c.to_string(),
                    codec: "surrogate-escape",
                });
                copied = i + 12;
                search = i + 12;
            }
            None => search = i + 2,
        }
    }
    if copied == 0 {
        return None;
    }
    out.push_str(&text[copied..]);
    Some(out)
}

/// Map characters one to one (or one to several) with `f`; `None` if
/// nothing changed.
pub fn map_chars(text: &str, f: impl Fn(char) -> Option<&'static str>) -> Option<(String, u64)> {
    let mut n = 0u64;
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match f(c) {
            Some(r) => {
                out.push_str(r);
                n += 1;
            }
            None => out.push(c),
        }
    }
    (n > 0).then_some((out, n))
}

pub fn nbsp_variant(c: char) -> Option<&'static str> {
    matches!(c, '\u{A0}' | '\u{2007}' | '\u{202F}').then_some(" ")
}

pub fn ascii_quote(c: char) -> Option<&'static str> {
    match c {
        '‘' | '’' | '‚' | '‛' | 'ʼ' => Some("'"),
        '“' | '”' | '„' | '‟' => Some("\""),
        _ => None,
    }
}

pub fn ligature(c: char) -> Option<&'static str> {
    match c {
        'ﬀ' => Some("ff"),
        'ﬁ' => Some("fi"),
        'ﬂ' => Some("fl"),
        'ﬃ' => Some("ffi"),
        'ﬄ' => Some("ffl"),
        'ﬅ' | 'ﬆ' => Some("st"),
        'Ĳ' => Some("IJ"),
        'ĳ' => Some("ij"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ent(s: &str) -> String {
        decode_entities(s, true, true, &mut Vec::new()).unwrap_or_else(|| s.to_string())
    }

    #[test]
    fn entities_and_damaged_forms() {
        // Lines as they appear in the AG News test split.
        let cases = [
            (
                "the  #36;10 million Ansari X Prize",
                "the $10 million Ansari X Prize",
            ),
            ("the world #39;s biggest", "the world's biggest"),
            ("AT amp;T Wireless", "AT&T Wireless"),
            ("said  quot;we will quot; today", "said \"we will\" today"),
            (
                "caf&eacute; &amp; bar &#8217;s &#x2014; &#150;",
                "café & bar ’s — –",
            ),
            ("&lt;b&gt;bold&lt;/b&gt;", "<b>bold</b>"),
        ];
        for (input, want) in cases {
            assert_eq!(ent(input), want, "{input}");
        }
        for s in [
            "AT&T and R&D",
            "a &nosuchentity; here",
            "Item #12 is done",
            "&#0; &#xD800;",
        ] {
            assert_eq!(ent(s), s);
        }
    }

    #[test]
    fn c1_and_surrogates() {
        let mut f = Vec::new();
        assert_eq!(
            fix_c1("\u{84}Handwerk\u{93}", &mut f).as_deref(),
            Some("„Handwerk“")
        );
        assert_eq!(fix_c1("intentional \u{81}", &mut f), None);
        assert_eq!(
            decode_surrogate_escapes("smile \\ud83d\\ude00 \\ud83d alone", &mut f).as_deref(),
            Some("smile 😀 \\ud83d alone")
        );
    }
}
