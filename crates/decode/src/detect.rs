//! Bytes to text: BOM, UTF-8, mixed UTF-8/windows-1252, declared charset,
//! detection.
//!
//! The order encodes what we trust most on real scraped pages:
//! 1. a byte order mark (UTF-8, UTF-16LE/BE) is unambiguous; UTF-16 without
//!    a BOM is sniffed from its NUL bytes (ASCII UTF-16 is valid UTF-8);
//! 2. bytes that are valid UTF-8 are UTF-8, whatever the page declares
//!    (many sets re-encoded pages to UTF-8 but kept `iso-8859-1` in the meta
//!    tag; valid multi-byte UTF-8 by accident is vanishingly rare in legacy
//!    text). The one exception: 7-bit ISO-2022-JP (escape sequences);
//! 3. UTF-8 with a few stray invalid bytes (a cp1252 comment pasted into a
//!    UTF-8 page) stays UTF-8; the stray bytes go through windows-1252;
//! 4. otherwise chardetng guesses, and a declared legacy charset wins when
//!    it decodes without errors and chardetng is not confident (or saw fewer
//!    than 16 non-ASCII bytes), or when chardetng agrees.
//!
//! Cost: one UTF-8 validation (the owned input becomes the text without a
//! copy); only for non-UTF-8 input, one pass to check "mostly UTF-8", one
//! pass condensing the bytes for chardetng (long ASCII runs shortened, at
//! most [`DETECT_PREFIX`] bytes, stopping early once the guess is stable),
//! one decoding pass. Linear in the input; chardetng (~10-25 MB/s on
//! non-Latin text) dominates the legacy path.

use crate::normalize::normalize_string;
use encoding_rs::{Encoding, UTF_16BE, UTF_16LE, UTF_8, WINDOWS_1252};
use serde::{Deserialize, Serialize};

/// chardetng sees at most this many (condensed, see [`detection_input`])
/// bytes. Its guess is stable long before that, and the bound keeps
/// detection cost flat for huge documents.
pub const DETECT_PREFIX: usize = 64 * 1024;

/// ASCII bytes kept on each side of a non-ASCII run for chardetng.
pub const ASCII_CONTEXT: usize = 8;

/// Which rule chose the encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Rule {
    /// A byte order mark.
    Bom,
    /// The bytes are valid UTF-8.
    Utf8,
    /// Mostly UTF-8; invalid bytes decoded as windows-1252.
    Mixed,
    /// The declared charset (hint) was used.
    Declared,
    /// chardetng's guess.
    Detected,
    /// The text arrived already decoded (JSONL); only normalised.
    Input,
}

impl Rule {
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::Bom => "bom",
            Rule::Utf8 => "utf8",
            Rule::Mixed => "mixed",
            Rule::Declared => "declared",
            Rule::Detected => "detected",
            Rule::Input => "input",
        }
    }
}

/// How sure chardetng was (it reports only whether its guess beat another
/// candidate, so this is two-valued, not a probability).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    High,
    Low,
}

impl Confidence {
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::High => "high",
            Confidence::Low => "low",
        }
    }
}

/// What to do with a declared charset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Declared {
    /// A hint: used when the bytes are not UTF-8, decode without errors
    /// under it, and detection is unsure or agrees.
    Hint,
    /// Used whenever the bytes decode without errors under it (no BOM
    /// present); for sources whose declarations are known to be right.
    Trust,
    /// Ignored.
    Ignore,
}

/// Options of [`decode_bytes_with`].
#[derive(Debug, Clone, Copy)]
pub struct DecodeOptions<'a> {
    /// Declared charset label (WHATWG label, any case), if any.
    pub declared: Option<&'a str>,
    /// How far to believe `declared`.
    pub declared_policy: Declared,
    /// Top-level domain the page came from (`ru`, `jp`, ...), lower-case
    /// ASCII; chardetng uses it to break ties. Anything else is ignored.
    pub tld: Option<&'a str>,
    /// Invalid sequences allowed per valid multi-byte UTF-8 character for
    /// the mixed rule (see [`looks_like_mixed_utf8`]).
    pub mixed_max_invalid_share: f64,
}

impl Default for DecodeOptions<'_> {
    fn default() -> Self {
        DecodeOptions {
            declared: None,
            declared_policy: Declared::Hint,
            tld: None,
            mixed_max_invalid_share: DEFAULT_MIXED_MAX_INVALID_SHARE,
        }
    }
}

/// Default for [`DecodeOptions::mixed_max_invalid_share`]: at most one
/// invalid sequence per two valid multi-byte characters.
pub const DEFAULT_MIXED_MAX_INVALID_SHARE: f64 = 0.5;

/// A decoded, normalised document.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// Normalised UTF-8 text (see [`mod@crate::normalize`]).
    pub text: String,
    /// Lower-case WHATWG name of the encoding (`utf-8`, `windows-1251`).
    pub encoding: &'static str,
    pub rule: Rule,
    /// chardetng's assessment when it chose or was consulted.
    pub confidence: Option<Confidence>,
    /// U+FFFD characters in `text`.
    pub replacement_chars: usize,
    /// Whether normalisation changed the decoded text.
    pub normalized: bool,
}

/// Decode `bytes` with `hint` as the declared charset (see module docs).
pub fn decode_bytes(bytes: &[u8], hint: Option<&str>) -> Decoded {
    decode_bytes_with(
        bytes,
        &DecodeOptions {
            declared: hint,
            ..DecodeOptions::default()
        },
    )
}

/// [`decode_bytes`] with every option.
pub fn decode_bytes_with(bytes: &[u8], opts: &DecodeOptions<'_>) -> Decoded {
    decode_impl(Input::Borrowed(bytes), opts)
}

/// Like [`decode_bytes_with`] but takes ownership, so valid UTF-8 becomes the
/// text without a copy (the common case).
pub fn decode_vec(bytes: Vec<u8>, opts: &DecodeOptions<'_>) -> Decoded {
    decode_impl(Input::Owned(bytes), opts)
}

enum Input<'a> {
    Borrowed(&'a [u8]),
    Owned(Vec<u8>),
}

impl Input<'_> {
    fn bytes(&self) -> &[u8] {
        match self {
            Input::Borrowed(b) => b,
            Input::Owned(v) => v,
        }
    }
}

/// The text if the input is valid UTF-8 (and not 7-bit ISO-2022-JP),
/// validated once; owned input becomes the text without a copy. Otherwise
/// the input back.
fn into_utf8(input: Input<'_>) -> Result<String, Input<'_>> {
    let iso_2022_jp = |b: &[u8]| b.contains(&0x1B) && is_iso_2022_jp(b);
    match input {
        Input::Owned(v) => match String::from_utf8(v) {
            Ok(s) if !iso_2022_jp(s.as_bytes()) => Ok(s),
            Ok(s) => Err(Input::Owned(s.into_bytes())),
            Err(e) => Err(Input::Owned(e.into_bytes())),
        },
        Input::Borrowed(b) => match std::str::from_utf8(b) {
            Ok(s) if !iso_2022_jp(b) => Ok(s.to_owned()),
            _ => Err(Input::Borrowed(b)),
        },
    }
}

fn finish(
    text: String,
    encoding: &'static Encoding,
    rule: Rule,
    confidence: Option<Confidence>,
) -> Decoded {
    let (ptr, len) = (text.as_ptr(), text.len());
    let text = normalize_string(text);
    let normalized = text.as_ptr() != ptr || text.len() != len;
    let replacement_chars = count_replacements(&text);
    Decoded {
        normalized,
        text,
        encoding: label(encoding),
        rule,
        confidence,
        replacement_chars,
    }
}

/// U+FFFD is EF BF BD in UTF-8; memchr for 0xEF is much faster than chars().
pub fn count_replacements(text: &str) -> usize {
    let b = text.as_bytes();
    memchr::memchr_iter(0xEF, b)
        .filter(|&at| b.get(at + 1) == Some(&0xBF) && b.get(at + 2) == Some(&0xBD))
        .count()
}

/// Lower-case WHATWG name (encoding_rs names are canonical mixed case).
pub fn label(encoding: &'static Encoding) -> &'static str {
    macro_rules! names {
        ($($e:ident => $s:literal),* $(,)?) => {
            $(if encoding == encoding_rs::$e { return $s; })*
        };
    }
    names!(
        UTF_8 => "utf-8", UTF_16LE => "utf-16le", UTF_16BE => "utf-16be",
        WINDOWS_1252 => "windows-1252", WINDOWS_1250 => "windows-1250",
        WINDOWS_1251 => "windows-1251", WINDOWS_1253 => "windows-1253",
        WINDOWS_1254 => "windows-1254", WINDOWS_1255 => "windows-1255",
        WINDOWS_1256 => "windows-1256", WINDOWS_1257 => "windows-1257",
        WINDOWS_1258 => "windows-1258", WINDOWS_874 => "windows-874",
        ISO_8859_2 => "iso-8859-2", ISO_8859_3 => "iso-8859-3", ISO_8859_4 => "iso-8859-4",
        ISO_8859_5 => "iso-8859-5", ISO_8859_6 => "iso-8859-6", ISO_8859_7 => "iso-8859-7",
        ISO_8859_8 => "iso-8859-8", ISO_8859_8_I => "iso-8859-8-i",
        ISO_8859_10 => "iso-8859-10", ISO_8859_13 => "iso-8859-13",
        ISO_8859_14 => "iso-8859-14", ISO_8859_15 => "iso-8859-15",
        ISO_8859_16 => "iso-8859-16", KOI8_R => "koi8-r", KOI8_U => "koi8-u",
        IBM866 => "ibm866", MACINTOSH => "macintosh", X_MAC_CYRILLIC => "x-mac-cyrillic",
        SHIFT_JIS => "shift_jis", EUC_JP => "euc-jp", ISO_2022_JP => "iso-2022-jp",
        EUC_KR => "euc-kr", GBK => "gbk", GB18030 => "gb18030", BIG5 => "big5",
        X_USER_DEFINED => "x-user-defined", REPLACEMENT => "replacement",
    );
    "unknown"
}

fn decode_impl(input: Input<'_>, opts: &DecodeOptions<'_>) -> Decoded {
    let bytes = input.bytes();
    let declared = match opts.declared_policy {
        Declared::Ignore => None,
        _ => opts
            .declared
            .and_then(|l| Encoding::for_label(l.trim().as_bytes())),
    };

    // 1. BOM.
    if let Some((enc, bom_len)) = Encoding::for_bom(bytes) {
        let (text, _) = enc.decode_without_bom_handling(&bytes[bom_len..]);
        return finish(text.into_owned(), enc, Rule::Bom, None);
    }
    // UTF-16 without a BOM (e.g. a stripped file): NUL bytes in one parity.
    // Checked first because ASCII UTF-16 is also valid UTF-8.
    if let Some(enc) = sniff_utf16(bytes, declared) {
        let (text, _) = enc.decode_without_bom_handling(bytes);
        return finish(text.into_owned(), enc, Rule::Detected, None);
    }

    // 2. Declared and trusted.
    if opts.declared_policy == Declared::Trust {
        if let Some(enc) = declared.filter(is_ascii_compatible_text_encoding) {
            if let Some(text) = enc.decode_without_bom_handling_and_without_replacement(bytes) {
                return finish(text.into_owned(), enc, Rule::Declared, None);
            }
        }
    }

    // 3. Valid UTF-8 (ASCII included), unless it is 7-bit ISO-2022-JP.
    let input = match into_utf8(input) {
        Ok(text) => return finish(text, UTF_8, Rule::Utf8, None),
        Err(input) => input,
    };
    let bytes = input.bytes();

    // 4. Mostly UTF-8 with stray legacy bytes.
    if looks_like_mixed_utf8(bytes, opts.mixed_max_invalid_share) {
        return finish(decode_mixed(bytes), UTF_8, Rule::Mixed, None);
    }

    // 5. Detection, weighed against the declared charset.
    let tld = opts.tld.filter(|t| is_clean_tld(t)).map(str::as_bytes);
    let (prefix, complete) = detection_input(bytes);
    let (guess, sure) = detect(&prefix, complete, tld);
    // A handful of non-ASCII bytes is too little evidence to overrule a
    // declaration (one stray 0xC8 in an English page "is" Big5 to chardetng).
    let sure = sure && prefix.iter().filter(|&&b| b >= 0x80).count() >= MIN_EVIDENCE;
    let confidence = Some(if sure {
        Confidence::High
    } else {
        Confidence::Low
    });

    if let Some(enc) = declared.filter(|e| is_ascii_compatible_text_encoding(e) && *e != UTF_8) {
        let agrees = same_family(enc, guess);
        if agrees || !sure {
            if let Some(text) = enc.decode_without_bom_handling_and_without_replacement(bytes) {
                return finish(text.into_owned(), enc, Rule::Declared, confidence);
            }
        }
    }
    let guess = hungarian_override(guess, &prefix);
    let (text, _) = guess.decode_without_bom_handling(bytes);
    finish(text.into_owned(), guess, Rule::Detected, confidence)
}

/// Run chardetng over `input` in [`DETECT_CHUNK`] pieces and stop early once
/// its guess has been confident and unchanged for [`DETECT_STABLE`] bytes
/// (chardetng is the costliest step by far, ~20 MB/s on non-Latin text,
/// and long documents settle within a few kilobytes).
fn detect(input: &[u8], complete: bool, tld: Option<&[u8]>) -> (&'static Encoding, bool) {
    let mut det = chardetng::EncodingDetector::new();
    let mut stable_since: Option<(&'static Encoding, usize)> = None;
    let mut fed = 0;
    for chunk in input.chunks(DETECT_CHUNK) {
        fed += chunk.len();
        let last = complete && fed == input.len();
        det.feed(chunk, last);
        if last {
            break;
        }
        let (guess, sure) = det.guess_assess(tld, false);
        match stable_since {
            Some((g, since)) if sure && g == guess => {
                if fed - since >= DETECT_STABLE {
                    return (guess, sure);
                }
            }
            _ => stable_since = sure.then_some((guess, fed)),
        }
    }
    if input.is_empty() {
        det.feed(input, complete);
    }
    det.guess_assess(tld, false)
}

/// Non-ASCII bytes chardetng must see before its guess can overrule a
/// declared charset that decodes the bytes without errors.
const MIN_EVIDENCE: usize = 16;

/// Detection input is fed in pieces of this size.
const DETECT_CHUNK: usize = 2048;
/// Stop once the confident guess held over this many further bytes.
const DETECT_STABLE: usize = 4096;

/// What chardetng sees: long ASCII runs shortened to their first and last
/// [`ASCII_CONTEXT`] bytes (joined by a space), at most [`DETECT_PREFIX`]
/// bytes. chardetng scores non-ASCII bytes and their immediate neighbours;
/// the middle of an ASCII run carries no evidence but costs as much per
/// byte (chardetng runs ~27 candidate decoders over every byte), so mostly
/// ASCII legacy text is detected several times faster. Returns whether the
/// whole input was seen (chardetng's `last`). Input with ESC (ISO-2022-JP
/// state) is passed as is.
pub fn detection_input(bytes: &[u8]) -> (std::borrow::Cow<'_, [u8]>, bool) {
    use std::borrow::Cow;
    if bytes.contains(&0x1B) {
        let end = bytes.len().min(DETECT_PREFIX);
        return (Cow::Borrowed(&bytes[..end]), end == bytes.len());
    }
    let n = bytes.len();
    let mut out = Vec::with_capacity(n.min(DETECT_PREFIX));
    let mut i = 0;
    while i < n && out.len() < DETECT_PREFIX {
        let j = bytes[i..]
            .iter()
            .position(|&b| b >= 0x80)
            .map_or(n, |p| i + p);
        let run = &bytes[i..j];
        if run.len() <= 2 * ASCII_CONTEXT + 1 {
            out.extend_from_slice(run);
        } else {
            if i > 0 {
                out.extend_from_slice(&run[..ASCII_CONTEXT]);
            }
            out.push(b' ');
            if j < n {
                out.extend_from_slice(&run[run.len() - ASCII_CONTEXT..]);
            }
        }
        let k = bytes[j..]
            .iter()
            .position(|&b| b < 0x80)
            .map_or(n, |p| j + p);
        out.extend_from_slice(&bytes[j..k]);
        i = k;
    }
    (Cow::Owned(out), i >= n)
}

/// chardetng reads Hungarian in windows-1250/ISO-8859-2 as windows-1252
/// when its only non-Latin-1 letters are ő and ű (0xF5/0xFB, read as õ/û).
/// Those two letters are frequent in Hungarian and rare elsewhere;
/// Portuguese has õ only beside ã (0xE3), Estonian has õ beside ä (0xE4)
/// and French has û beside è/à/ç. So: windows-1252 with ő/ű present, at
/// least as many á (0xE1) as ä, and no ã/è/à/ç reads as windows-1250 (same
/// letters as ISO-8859-2 for Hungarian).
fn hungarian_override(guess: &'static Encoding, bytes: &[u8]) -> &'static Encoding {
    if guess != WINDOWS_1252 {
        return guess;
    }
    let mut count = [0usize; 256];
    for &b in bytes {
        count[usize::from(b)] += 1;
    }
    let ou = count[0xF5] + count[0xFB] + count[0xD5] + count[0xDB];
    let foreign = count[0xE3] + count[0xE8] + count[0xE0] + count[0xE7];
    if ou >= 2 && foreign == 0 && count[0xE1] >= count[0xE4] && count[0xE1] > 0 {
        encoding_rs::WINDOWS_1250
    } else {
        guess
    }
}

/// Encodings a declared label may select: not UTF-16 (a `<meta>` claiming
/// UTF-16 in bytes we can read is always wrong), not `replacement`.
fn is_ascii_compatible_text_encoding(enc: &&'static Encoding) -> bool {
    enc.is_ascii_compatible() && *enc != encoding_rs::REPLACEMENT
}

/// The declared charset and the guess name the same text for our purposes
/// (iso-8859-8 vs -8-i differ only in direction; 1252 is the guess for any
/// Western label).
fn same_family(declared: &'static Encoding, guess: &'static Encoding) -> bool {
    if declared == guess {
        return true;
    }
    let pair = |a: &'static Encoding, b: &'static Encoding| {
        (declared == a && guess == b) || (declared == b && guess == a)
    };
    pair(encoding_rs::ISO_8859_8, encoding_rs::ISO_8859_8_I)
        || pair(encoding_rs::ISO_8859_8_I, encoding_rs::WINDOWS_1255)
        || pair(encoding_rs::ISO_8859_8, encoding_rs::WINDOWS_1255)
        || pair(encoding_rs::GBK, encoding_rs::GB18030)
        || pair(encoding_rs::ISO_8859_15, WINDOWS_1252)
        || pair(encoding_rs::ISO_8859_2, encoding_rs::WINDOWS_1250)
        || pair(encoding_rs::ISO_8859_7, encoding_rs::WINDOWS_1253)
        || pair(encoding_rs::ISO_8859_4, encoding_rs::WINDOWS_1257)
        || pair(encoding_rs::ISO_8859_13, encoding_rs::WINDOWS_1257)
        || pair(encoding_rs::KOI8_R, encoding_rs::KOI8_U)
}

/// chardetng asserts on a TLD with upper case, periods or non-ASCII; take
/// only what it accepts.
fn is_clean_tld(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= 63
        && t.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The rightmost DNS label of a URL's host, lower-cased (for chardetng).
pub fn tld_of_url(url: &str) -> Option<String> {
    let after_scheme = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = after_scheme.split(['/', '?', '#']).next()?;
    let host = authority.rsplit('@').next()?;
    let host = host.split(':').next()?.trim_end_matches('.');
    if host.starts_with('[') {
        return None; // IPv6 literal
    }
    let tld = host.rsplit('.').next()?.to_ascii_lowercase();
    (is_clean_tld(&tld) && !tld.bytes().all(|b| b.is_ascii_digit())).then_some(tld)
}

/// ESC followed by one of ISO-2022-JP's designations, and nothing above
/// 0x7F: the encoding WHATWG still supports that is also valid ASCII.
fn is_iso_2022_jp(bytes: &[u8]) -> bool {
    bytes.is_ascii()
        && bytes.windows(3).any(|w| {
            matches!(
                w,
                [0x1B, b'$', b'@' | b'B'] | [0x1B, b'(', b'B' | b'J' | b'I']
            )
        })
        && encoding_rs::ISO_2022_JP
            .decode_without_bom_handling_and_without_replacement(bytes)
            .is_some()
}

/// UTF-16 without BOM: at least a quarter of the code units have a NUL in
/// one byte position and almost none in the other. Cheap: only runs when the
/// input holds NUL bytes at all.
fn sniff_utf16(bytes: &[u8], declared: Option<&'static Encoding>) -> Option<&'static Encoding> {
    if bytes.len() < 4 || !bytes.contains(&0) {
        return None;
    }
    let units = bytes.len() / 2;
    let (mut even, mut odd) = (0usize, 0usize);
    for pair in bytes.chunks_exact(2) {
        even += usize::from(pair[0] == 0);
        odd += usize::from(pair[1] == 0);
    }
    let le = odd * 4 >= units && even * 20 <= units;
    let be = even * 4 >= units && odd * 20 <= units;
    match (le, be) {
        (true, false) => Some(UTF_16LE),
        (false, true) => Some(UTF_16BE),
        _ => declared.filter(|e| *e == UTF_16LE || *e == UTF_16BE),
    }
}

/// Mostly UTF-8: at least one valid multi-byte character, and invalid
/// sequences at most `max_share` of the valid multi-byte characters.
///
/// Why it is safe: legacy text forms valid multi-byte UTF-8 only by
/// accident (a lead byte 0xC2..0xF4 followed by the right number of
/// 0x80..0xBF bytes); in single-byte encodings such pairs are rare next to
/// the invalid bytes every accented letter makes, and in the CJK double-byte
/// encodings the accidental sequences are still outnumbered by invalid ones.
pub fn looks_like_mixed_utf8(bytes: &[u8], max_share: f64) -> bool {
    let mut valid_multibyte = 0usize;
    let mut invalid = 0usize;
    for chunk in bytes.utf8_chunks() {
        valid_multibyte += chunk
            .valid()
            .as_bytes()
            .iter()
            .filter(|&&b| b >= 0xC0)
            .count();
        if !chunk.invalid().is_empty() {
            invalid += 1;
        }
    }
    valid_multibyte > 0 && (invalid as f64) <= valid_multibyte as f64 * max_share
}

/// UTF-8 where valid; every byte of an invalid sequence through
/// windows-1252, except an incomplete sequence cut off at the very end
/// (a truncated document), which becomes one U+FFFD.
fn decode_mixed(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + bytes.len() / 8);
    let mut chunks = bytes.utf8_chunks().peekable();
    while let Some(chunk) = chunks.next() {
        out.push_str(chunk.valid());
        let bad = chunk.invalid();
        if bad.is_empty() {
            continue;
        }
        if chunks.peek().is_none() && is_truncated_sequence(bad) {
            out.push('\u{FFFD}');
            continue;
        }
        let mut decoder = WINDOWS_1252.new_decoder_without_bom_handling();
        let mut buf = String::with_capacity(bad.len() * 3);
        let _ = decoder.decode_to_string(bad, &mut buf, true);
        out.push_str(&buf);
    }
    out
}

/// A proper prefix of a valid UTF-8 sequence (lead byte plus fewer
/// continuation bytes than it needs).
fn is_truncated_sequence(bad: &[u8]) -> bool {
    let need = match bad[0] {
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF4 => 4,
        _ => return false,
    };
    bad.len() < need && bad[1..].iter().all(|&b| (0x80..=0xBF).contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use encoding_rs::*;

    /// Real sentences (UDHR article 1 and news-style lines) per encoding.
    const CASES: &[(&Encoding, &str)] = &[
        (WINDOWS_1252, "Tous les êtres humains naissent libres et égaux en dignité et en droits. Ils sont doués de raison et de conscience et doivent agir les uns envers les autres dans un esprit de fraternité. « Déjà vu », dit-il — l’été dernier à Besançon."),
        (WINDOWS_1252, "Alle Menschen sind frei und gleich an Würde und Rechten geboren. Sie sind mit Vernunft und Gewissen begabt und sollen einander im Geist der Brüderlichkeit begegnen. Die Straße in München ist schön, die Bürger äußern sich „ruhig“."),
        (WINDOWS_1252, "Todos los seres humanos nacen libres e iguales en dignidad y derechos y, dotados como están de razón y conciencia, deben comportarse fraternalmente los unos con los otros. ¿Qué pasó en España? ¡Mañana será otro día!"),
        (ISO_8859_2, "Wszyscy ludzie rodzą się wolni i równi pod względem swej godności i swych praw. Są oni obdarzeni rozumem i sumieniem i powinni postępować wobec innych w duchu braterstwa. Zażółć gęślą jaźń."),
        (WINDOWS_1250, "Všichni lidé rodí se svobodní a sobě rovní co do důstojnosti a práv. Jsou nadáni rozumem a svědomím a mají spolu jednat v duchu bratrství. Příliš žluťoučký kůň úpěl ďábelské ódy."),
        (WINDOWS_1251, "Все люди рождаются свободными и равными в своем достоинстве и правах. Они наделены разумом и совестью и должны поступать в отношении друг друга в духе братства. Москва, пятница: правительство объявило о новых мерах."),
        (KOI8_R, "Все люди рождаются свободными и равными в своем достоинстве и правах. Они наделены разумом и совестью и должны поступать в отношении друг друга в духе братства. Съешь же ещё этих мягких французских булок, да выпей чаю."),
        (WINDOWS_1253, "Όλοι οι άνθρωποι γεννιούνται ελεύθεροι και ίσοι στην αξιοπρέπεια και τα δικαιώματα. Είναι προικισμένοι με λογική και συνείδηση, και οφείλουν να συμπεριφέρονται μεταξύ τους με πνεύμα αδελφοσύνης."),
        (WINDOWS_1255, "כל בני האדם נולדו בני חורין ושווים בערכם ובזכויותיהם. כולם חוננו בתבונה ובמצפון, לפיכך חובה עליהם לנהוג איש ברעהו ברוח של אחווה."),
        (WINDOWS_1256, "يولد جميع الناس أحرارًا متساوين في الكرامة والحقوق. وقد وهبوا عقلاً وضميرًا وعليهم أن يعامل بعضهم بعضًا بروح الإخاء."),
        (WINDOWS_1254, "Bütün insanlar hür, haysiyet ve haklar bakımından eşit doğarlar. Akıl ve vicdana sahiptirler ve birbirlerine karşı kardeşlik zihniyeti ile hareket etmelidirler. Işık, ılık süt içtiğimizde ağır geliyor."),
        (SHIFT_JIS, "すべての人間は、生まれながらにして自由であり、かつ、尊厳と権利とについて平等である。人間は、理性と良心とを授けられており、互いに同胞の精神をもって行動しなければならない。"),
        (EUC_JP, "すべての人間は、生まれながらにして自由であり、かつ、尊厳と権利とについて平等である。人間は、理性と良心とを授けられており、互いに同胞の精神をもって行動しなければならない。"),
        (EUC_KR, "모든 인간은 태어날 때부터 자유로우며 그 존엄과 권리에 있어 동등하다. 인간은 천부적으로 이성과 양심을 부여받았으며 서로 형제애의 정신으로 행동하여야 한다."),
        (GBK, "人人生而自由，在尊严和权利上一律平等。他们赋有理性和良心，并应以兄弟关系的精神相对待。北京时间星期五，政府宣布了新的经济措施。"),
        (BIG5, "人人生而自由，在尊嚴和權利上一律平等。他們賦有理性和良心，並應以兄弟關係的精神相對待。臺北時間星期五，政府宣佈了新的經濟措施。"),
        (WINDOWS_874, "มนุษย์ทั้งหลายเกิดมามีอิสระและเสมอภาคกันในเกียรติศักดิ์และสิทธิ ต่างมีเหตุผลและมโนธรรม และควรปฏิบัติต่อกันด้วยเจตนารมณ์แห่งภราดรภาพ"),
    ];

    #[test]
    fn legacy_encodings_decode_to_the_true_text() {
        for (enc, text) in CASES {
            let (bytes, _, unmappable) = enc.encode(text);
            assert!(!unmappable, "{} cannot encode the sample", enc.name());
            assert!(std::str::from_utf8(&bytes).is_err(), "{}", enc.name());
            let d = decode_bytes(&bytes, None);
            assert_eq!(d.text, *text, "{} decoded as {}", enc.name(), d.encoding);
            assert_eq!(d.rule, Rule::Detected, "{}", enc.name());
            assert_eq!(d.replacement_chars, 0);
        }
    }

    #[test]
    fn byte_order_marks() {
        let text = "Ünïcödé — 日本語 and ASCII";
        let mut utf8 = vec![0xEF, 0xBB, 0xBF];
        utf8.extend_from_slice(text.as_bytes());
        let mut le = vec![0xFF, 0xFE];
        let mut be = vec![0xFE, 0xFF];
        for u in text.encode_utf16() {
            le.extend_from_slice(&u.to_le_bytes());
            be.extend_from_slice(&u.to_be_bytes());
        }
        for (bytes, label) in [(utf8, "utf-8"), (le, "utf-16le"), (be, "utf-16be")] {
            // A declared charset never beats a BOM.
            let d = decode_bytes(&bytes, Some("iso-8859-1"));
            assert_eq!(
                (d.text.as_str(), d.encoding, d.rule),
                (text, label, Rule::Bom)
            );
        }
    }

    #[test]
    fn utf16_without_bom_is_sniffed() {
        let text = "Plain English text in UTF-16 without a byte order mark.";
        let le: Vec<u8> = text.encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
        let d = decode_bytes(&le, None);
        assert_eq!((d.text.as_str(), d.encoding), (text, "utf-16le"));
    }

    #[test]
    fn valid_utf8_beats_declared_single_byte_charset() {
        // L3S pages: meta says iso-8859-1, bytes are UTF-8.
        let text = "Zürich – “Grüezi” says the café owner.";
        let d = decode_bytes(text.as_bytes(), Some("iso-8859-1"));
        assert_eq!(
            (d.text.as_str(), d.rule, d.encoding),
            (text, Rule::Utf8, "utf-8")
        );
    }

    #[test]
    fn declared_legacy_charset_wins_when_detection_is_unsure() {
        // A short Cyrillic string: KOI8-R and windows-1251 both decode it.
        // Declared koi8-r decodes without errors, so it is used unless
        // chardetng is confident of something else.
        let text = "Привет, мир";
        let (bytes, _, _) = KOI8_R.encode(text);
        let d = decode_bytes(&bytes, Some("koi8-r"));
        assert_eq!(d.text, text);
        assert_eq!(d.encoding, "koi8-r");
        assert!(matches!(d.rule, Rule::Declared | Rule::Detected));
        // A lying declaration (iso-8859-1 on a windows-1251 page) loses to a
        // confident detection.
        let long = CASES[5].1;
        let (bytes, _, _) = WINDOWS_1251.encode(long);
        let d = decode_bytes(&bytes, Some("iso-8859-1"));
        assert_eq!((d.text.as_str(), d.encoding), (long, "windows-1251"));
        assert_eq!(d.confidence, Some(Confidence::High));
        // A truthful declaration agrees with detection.
        let d = decode_bytes(&bytes, Some("cp1251"));
        assert_eq!((d.encoding, d.rule), ("windows-1251", Rule::Declared));
    }

    #[test]
    fn few_non_ascii_bytes_do_not_overrule_the_declaration() {
        // A real page (trafilatura eval, archive.org): English/French HTML
        // with a single 0xC8, declared iso-8859-1; chardetng alone says Big5.
        let bytes = b"<!-- eStat Javascript D\xc8but --><map name=\"barre\"><area shape=\"rect\">";
        let d = decode_bytes(bytes, Some("iso-8859-1"));
        assert_eq!((d.encoding, d.rule), ("windows-1252", Rule::Declared));
        assert!(d.text.contains("D\u{c8}but"));
        assert_eq!(d.confidence, Some(Confidence::Low));
    }

    #[test]
    fn trusted_declaration_is_used_when_it_decodes() {
        let text = "Grüße";
        let (bytes, _, _) = ISO_8859_15.encode(text);
        let opts = DecodeOptions {
            declared: Some("ISO-8859-15"),
            declared_policy: Declared::Trust,
            ..DecodeOptions::default()
        };
        let d = decode_bytes_with(&bytes, &opts);
        assert_eq!(
            (d.text.as_str(), d.encoding, d.rule),
            (text, "iso-8859-15", Rule::Declared)
        );
    }

    #[test]
    fn mixed_utf8_with_stray_cp1252_bytes() {
        // A UTF-8 page with a pasted cp1252 comment: an apostrophe and é.
        let mut bytes = "Der Bürgermeister sagte: „Wir prüfen das“ – mehr später. "
            .as_bytes()
            .to_vec();
        bytes.extend_from_slice(b"Comment: it\x92s a caf\xe9.");
        let d = decode_bytes(&bytes, None);
        assert_eq!(d.rule, Rule::Mixed);
        assert_eq!(d.encoding, "utf-8");
        assert_eq!(
            d.text,
            "Der Bürgermeister sagte: „Wir prüfen das“ – mehr später. Comment: it’s a café."
        );
        assert_eq!(d.replacement_chars, 0);
    }

    #[test]
    fn truncated_utf8_at_end_is_one_replacement() {
        let mut bytes = "Überschrift: 日本".as_bytes().to_vec();
        bytes.extend_from_slice(&"語".as_bytes()[..2]);
        let d = decode_bytes(&bytes, None);
        assert_eq!(d.rule, Rule::Mixed);
        assert_eq!(d.text, "Überschrift: 日本\u{FFFD}");
        assert_eq!(d.replacement_chars, 1);
    }

    #[test]
    fn iso_2022_jp_is_not_taken_for_ascii() {
        let text = "日本語のテキストです。";
        let (bytes, _, _) = ISO_2022_JP.encode(text);
        assert!(bytes.is_ascii());
        let d = decode_bytes(&bytes, None);
        assert_eq!((d.text.as_str(), d.encoding), (text, "iso-2022-jp"));
    }

    #[test]
    fn empty_and_ascii() {
        let d = decode_bytes(b"", None);
        assert_eq!(
            (d.text.as_str(), d.rule, d.replacement_chars),
            ("", Rule::Utf8, 0)
        );
        let d = decode_bytes(b"Hello\r\nworld  \r\n", Some("shift_jis"));
        assert_eq!((d.text.as_str(), d.encoding), ("Hello\nworld\n", "utf-8"));
    }

    #[test]
    fn declared_utf8_on_legacy_bytes_is_overridden() {
        let text = CASES[0].1;
        let (bytes, _, _) = WINDOWS_1252.encode(text);
        let d = decode_bytes(&bytes, Some("utf-8"));
        assert_eq!((d.text.as_str(), d.encoding), (text, "windows-1252"));
    }

    #[test]
    fn tld_extraction() {
        for (url, want) in [
            ("https://www.lenta.RU/news/1", Some("ru")),
            ("http://user@example.co.jp:8080/x?y", Some("jp")),
            ("https://example.com./", Some("com")),
            ("http://192.168.0.1/", None),
            ("http://[::1]/", None),
            ("not a url", None),
            ("https://bücher.de/", Some("de")),
        ] {
            assert_eq!(tld_of_url(url).as_deref(), want, "{url}");
        }
        // A bad TLD never reaches chardetng's assertion.
        let opts = DecodeOptions {
            tld: Some("Co.Uk"),
            ..DecodeOptions::default()
        };
        let (bytes, _, _) = WINDOWS_1251.encode(CASES[5].1);
        assert_eq!(decode_bytes_with(&bytes, &opts).encoding, "windows-1251");
    }

    #[test]
    fn replacement_count() {
        assert_eq!(count_replacements("a\u{FFFD}b\u{FFFD}\u{FFFD}"), 3);
        assert_eq!(count_replacements("﾿ no"), 0);
        assert_eq!(count_replacements(""), 0);
    }
}
