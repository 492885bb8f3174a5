//! Line features: everything the classifier knows about one line, computed
//! in one pass over its characters (O(line length)).

use crate::lang::{is_cjk, FastSet};
use crate::lexicon::{Hits, Lexicon};

/// Number of per-line features (stage 1 of the model).
pub const NF1: usize = 22;
/// Number of context features (stage 2 of the model).
pub const NF2: usize = 10;

/// Names of the stage-1 features, in order (the weight file uses them).
pub const NAMES1: [&str; NF1] = [
    "bias",
    "words_le2",
    "words_3_6",
    "words_7_15",
    "words_16_40",
    "words_gt40",
    "log_chars",
    "stopword_density",
    "terminal_punct",
    "punct_density",
    "digit_fraction",
    "capitalised_fraction",
    "has_url",
    "bullet",
    "position",
    "lexicon_weak",
    "separators",
    "comment_zone",
    "commas_per_word",
    "avg_word_len",
    "starts_lowercase",
    "no_words",
];

/// Names of the stage-2 (context) features.
pub const NAMES2: [&str; NF2] = [
    "bias",
    "own",
    "prev",
    "next",
    "window3",
    "window10",
    "doc_mean",
    "blank_before",
    "blank_after",
    "edge",
];

/// Lines longer than this (bytes) are not matched against the lexicon.
pub const MAX_LEXICON_LINE: usize = 400;

/// Only the first this many bytes of a line are scanned; counts of longer
/// lines are extrapolated from them (a paragraph's stopword density or
/// punctuation rate does not change past its first sentences, and this
/// keeps the cost per line bounded).
pub const SCAN_BYTES: usize = 512;

/// Tokens longer than this (bytes) are never stopwords.
const MAX_STOPWORD_BYTES: usize = 24;

/// One line's measurements.
#[derive(Debug, Clone)]
pub struct LineFeatures {
    pub f: [f32; NF1],
    /// Word tokens (CJK characters count one each).
    pub words: u32,
    pub hits: Hits,
    /// A hard rule that removes the line whatever the model says.
    pub rule: Option<&'static str>,
}

fn is_cjk_char(c: char) -> bool {
    matches!(c as u32, 0x3040..=0x30FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF)
}

/// Lowercase, digits kept, every other run of non-alphanumerics turned into
/// one space; optionally digits folded to `0` (so "Page 191" and "Page 192"
/// count as the same line in the profile).
pub fn normalise(line: &str, fold_digits: bool) -> String {
    let mut out = String::with_capacity(line.len());
    normalise_into(line, fold_digits, &mut out);
    out
}

/// [`normalise`] into a reused buffer.
pub fn normalise_into(line: &str, fold_digits: bool, out: &mut String) {
    out.clear();
    let mut space = false;
    if line.is_ascii() {
        // Fast path: bytes, no Unicode tables.
        for &b in line.as_bytes() {
            if b.is_ascii_alphanumeric() {
                if space && !out.is_empty() {
                    out.push(' ');
                }
                space = false;
                let b = if fold_digits && b.is_ascii_digit() {
                    b'0'
                } else {
                    b.to_ascii_lowercase()
                };
                out.push(b as char);
            } else {
                space = true;
            }
        }
        return;
    }
    for c in line.chars() {
        if c.is_alphanumeric() {
            if space && !out.is_empty() {
                out.push(' ');
            }
            space = false;
            if c.is_ascii() {
                let b = c.to_ascii_lowercase();
                out.push(if fold_digits && b.is_ascii_digit() {
                    '0'
                } else {
                    b
                });
            } else if fold_digits && c.is_numeric() {
                out.push('0');
            } else {
                out.extend(c.to_lowercase());
            }
        } else {
            space = true;
        }
    }
}

const TERMINAL: &[char] = &[
    '.', '!', '?', '"', '\'', '”', '’', '»', '。', '！', '？', ':', ';', '…', ')',
];
const BULLETS: &[char] = &[
    '•', '·', '*', '-', '–', '—', '►', '▶', '»', '›', '◦', '▪', '■', '○', '●',
];
const SEPARATORS: &[char] = &['|', '»', '›', '·', '•', '/', '>'];

/// Ends with `[TAG]` where TAG is 2–12 capital letters: the "related story
/// [VIDEO]" links news sites interleave with the article.
fn ends_with_caps_tag(line: &str) -> bool {
    let Some(body) = line.strip_suffix(']') else {
        return false;
    };
    let Some(open) = body.rfind('[') else {
        return false;
    };
    let tag = &body[open + 1..];
    (2..=12).contains(&tag.len()) && tag.bytes().all(|b| b.is_ascii_uppercase())
}

/// Token counts of one line.
#[derive(Default)]
struct Counts {
    chars: u32,
    words: u32,
    stop_words: u32,
    capitalised: u32,
}

impl Counts {
    fn finish(&mut self, token: &mut String, first: Option<char>, stop: &FastSet) {
        if token.is_empty() {
            return;
        }
        self.words += 1;
        if token.len() <= MAX_STOPWORD_BYTES && stop.contains(token.as_str()) {
            self.stop_words += 1;
        }
        if first.is_some_and(|c| c.is_uppercase()) {
            self.capitalised += 1;
        }
        token.clear();
    }
}

/// Scratch space reused across lines (no allocation per line).
#[derive(Default)]
pub struct Scratch {
    token: String,
    /// The line normalised with digits folded, when `norm_ready`.
    pub norm: String,
    pub norm_ready: bool,
}

/// Measure one trimmed, non-empty line.
///
/// `index`/`count` place it among the document's non-blank lines;
/// `comment_markers` counts comment-framing lines seen before it.
#[allow(clippy::too_many_arguments)]
pub fn line_features(
    line: &str,
    index: usize,
    count: usize,
    comment_markers: u32,
    lang: Option<&str>,
    stop: &FastSet,
    lexicon: &Lexicon,
    scratch: &mut Scratch,
) -> LineFeatures {
    let cjk_lang = lang.is_some_and(is_cjk);
    let mut n = Counts::default();
    let mut punct = 0u32;
    let mut digits = 0u32;
    let mut commas = 0u32;
    let mut separators = 0u32;
    let mut word_chars = 0u32;
    let mut first_alpha: Option<char> = None;
    let token = &mut scratch.token;
    token.clear();
    let mut token_first: Option<char> = None;

    let mut cut = line.len().min(SCAN_BYTES);
    while !line.is_char_boundary(cut) {
        cut -= 1;
    }
    let scanned = &line[..cut];
    for c in scanned.chars() {
        n.chars += 1;
        let alnum = if c.is_ascii() {
            c.is_ascii_alphanumeric()
        } else {
            c.is_alphanumeric()
        };
        if alnum {
            if first_alpha.is_none() {
                first_alpha = Some(c);
            }
            if c.is_ascii_digit() || (!c.is_ascii() && c.is_numeric()) {
                digits += 1;
            }
            word_chars += 1;
            if !c.is_ascii() && is_cjk_char(c) {
                // Each ideograph or kana is a token of its own.
                n.finish(token, token_first, stop);
                token.push(c);
                n.finish(token, None, stop);
                token_first = None;
                continue;
            }
            if token.is_empty() {
                token_first = Some(c);
            }
            if c.is_ascii() {
                token.push(c.to_ascii_lowercase());
            } else {
                token.extend(c.to_lowercase());
            }
        } else {
            n.finish(token, token_first, stop);
            token_first = None;
            if !(c == ' ' || c.is_whitespace()) {
                punct += 1;
                if c == ',' || c == '،' || c == '，' || c == '、' {
                    commas += 1;
                }
                if SEPARATORS.contains(&c) {
                    separators += 1;
                }
            }
        }
    }
    n.finish(token, token_first, stop);
    let Counts {
        chars,
        words,
        stop_words,
        capitalised,
    } = n;
    // Extrapolate absolute counts of a long line from its scanned prefix.
    let scale = line.len() as f32 / cut.max(1) as f32;
    let words = (words as f32 * scale).round() as u32;
    let chars = (chars as f32 * scale).round() as u32;
    let stop_words = (stop_words as f32 * scale).round() as u32;
    let capitalised = (capitalised as f32 * scale).round() as u32;
    let punct = (punct as f32 * scale).round() as u32;
    let digits = (digits as f32 * scale).round() as u32;
    let commas = (commas as f32 * scale).round() as u32;
    let separators = (separators as f32 * scale).round() as u32;
    let word_chars = (word_chars as f32 * scale).round() as u32;

    // Lexicon phrases live in short lines; a long paragraph is prose.
    let hits = if line.len() <= MAX_LEXICON_LINE {
        lexicon.hits(line)
    } else {
        Hits::default()
    };
    let last = line.chars().next_back().unwrap_or(' ');
    let first = line.chars().next().unwrap_or(' ');
    let b = line.as_bytes();
    let has_url = memchr::memmem::find(b, b"http").is_some()
        || memchr::memmem::find(b, b"www.").is_some()
        || memchr::memmem::find(b, b".com/").is_some()
        || (memchr::memchr(b'@', b).is_some() && memchr::memchr(b'.', b).is_some());
    let w = words.max(1) as f32;
    let ch = chars.max(1) as f32;

    let mut f = [0f32; NF1];
    f[0] = 1.0;
    f[1] = (words <= 2) as u8 as f32;
    f[2] = (3..=6).contains(&words) as u8 as f32;
    f[3] = (7..=15).contains(&words) as u8 as f32;
    f[4] = (16..=40).contains(&words) as u8 as f32;
    f[5] = (words > 40) as u8 as f32;
    f[6] = (1.0 + chars as f32).ln() / 5.0;
    f[7] = if words == 0 {
        0.0
    } else {
        stop_words as f32 / w
    };
    f[8] = TERMINAL.contains(&last) as u8 as f32;
    f[9] = punct as f32 / ch;
    f[10] = digits as f32 / ch;
    f[11] = if cjk_lang {
        0.0
    } else {
        capitalised as f32 / w
    };
    f[12] = has_url as u8 as f32;
    f[13] = BULLETS.contains(&first) as u8 as f32;
    f[14] = if count <= 1 {
        0.5
    } else {
        index as f32 / (count - 1) as f32
    };
    f[15] = hits.weak as u8 as f32;
    f[16] = (1.0 + separators as f32).ln();
    f[17] = (1.0 + comment_markers as f32).ln() / 2.0;
    f[18] = (commas as f32 / w).min(1.0);
    f[19] = (word_chars as f32 / w / 10.0).min(2.0);
    f[20] = first_alpha.is_some_and(|c| c.is_lowercase()) as u8 as f32;
    f[21] = (words == 0) as u8 as f32;

    let rule = hard_rule(
        line,
        words,
        &hits,
        f[8] > 0.0,
        has_url,
        lexicon,
        &mut scratch.norm,
    );
    LineFeatures {
        f,
        words,
        hits,
        rule,
    }
}

/// Rules that need no model: lexicon lines and the few shapes that are
/// boilerplate on every site (ad markers, "[VIDEO]" links, breadcrumbs,
/// "For more ... news" promos, source footers, lone counters).
fn hard_rule(
    line: &str,
    words: u32,
    hits: &Hits,
    terminal: bool,
    has_url: bool,
    lexicon: &Lexicon,
    norm: &mut String,
) -> Option<&'static str> {
    if hits.keep {
        return None;
    }
    if hits.extra {
        return Some("extra_pattern");
    }
    if hits.strong && words <= 80 {
        return Some("lexicon");
    }
    if words > 14 {
        return None;
    }
    normalise_into(line, true, norm);
    if lexicon.is_boilerplate_line(norm) {
        return Some("lexicon_line");
    }
    if words <= 20 && ends_with_caps_tag(line) {
        return Some("related_link");
    }
    if words == 0 || norm.bytes().all(|b| b == b'0' || b == b' ') {
        return Some("no_words");
    }
    let promo = [
        "for more ",
        "more about ",
        "more from ",
        "see also ",
        "read more ",
    ]
    .iter()
    .any(|p| norm.starts_with(p));
    if promo && (words <= 8 || has_url) && !terminal {
        return Some("promo");
    }
    if promo && has_url {
        return Some("promo");
    }
    if norm.starts_with("home ") && words <= 8 && !terminal {
        return Some("breadcrumb");
    }
    let source_footer = line.starts_with("Source:") || line.starts_with("Source :");
    if source_footer && words <= 12 {
        return Some("source_footer");
    }
    None
}
