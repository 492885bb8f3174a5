//! JSON string escaping for the output hot path.
//!
//! Output is dominated by writing document text as JSON strings. serde_json
//! looks every byte up in a table; here eight bytes are checked at once and
//! clean runs copied whole. The escapes are exactly serde_json's (`\"`,
//! `\\`, `\b \f \n \r \t`, `\u00XX` for other control bytes), so output is
//! byte-identical to `serde_json::to_writer`.

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// Whether any of the 8 bytes is `"`, `\` or below 0x20.
#[inline]
fn word_needs_escape(w: u64) -> bool {
    let has_zero = |x: u64| x.wrapping_sub(LO) & !x & HI;
    let below_space = w.wrapping_sub(LO * 0x20) & !w & HI;
    (below_space | has_zero(w ^ (LO * b'"' as u64)) | has_zero(w ^ (LO * b'\\' as u64))) != 0
}

#[inline]
fn escape_of(b: u8) -> Option<&'static [u8]> {
    Some(match b {
        b'"' => b"\\\"",
        b'\\' => b"\\\\",
        b'\n' => b"\\n",
        b'\r' => b"\\r",
        b'\t' => b"\\t",
        0x08 => b"\\b",
        0x0c => b"\\f",
        0x00..=0x1f => return Some(&[]),
        _ => return None,
    })
}

/// Append `s` as a JSON string literal.
pub fn push_json_str(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        if i + 8 <= bytes.len() {
            let mut w = [0u8; 8];
            w.copy_from_slice(&bytes[i..i + 8]);
            if !word_needs_escape(u64::from_le_bytes(w)) {
                i += 8;
                continue;
            }
        }
        let b = bytes[i];
        if let Some(esc) = escape_of(b) {
            out.extend_from_slice(&bytes[start..i]);
            if esc.is_empty() {
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(b >> 4) as usize]);
                out.push(HEX[(b & 0xf) as usize]);
            } else {
                out.extend_from_slice(esc);
            }
            start = i + 1;
        }
        i += 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_bytes_as_serde_json() {
        let cases = [
            "",
            "plain ascii text that is long enough for several words",
            "quote \" and backslash \\ inside",
            "line\nbreak\r\ttab \u{8}\u{c} and \u{1} \u{1f} \u{7f}",
            "Café “quoted” — 中文 ✓ 😀 and a tail\"",
            "\"\"\"\"\"\"\"\"\"\\\\\\\\\\\\\\\\\\",
            "abcdefg\u{0}hijklmn\u{1b}",
        ];
        for c in cases {
            let mut ours = Vec::new();
            push_json_str(&mut ours, c);
            assert_eq!(
                String::from_utf8(ours).unwrap(),
                serde_json::to_string(c).unwrap(),
                "{c:?}"
            );
        }
        // Every single byte value in every position of a word.
        for b in 0u8..128 {
            for pos in 0..9 {
                let mut s = "x".repeat(9);
                s.replace_range(pos..pos + 1, &(b as char).to_string());
                let mut ours = Vec::new();
                push_json_str(&mut ours, &s);
                assert_eq!(
                    String::from_utf8(ours).unwrap(),
                    serde_json::to_string(&s).unwrap()
                );
            }
        }
    }
}
