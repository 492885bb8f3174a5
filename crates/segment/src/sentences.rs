//! Rule-based sentence boundaries as byte spans.
//!
//! One left-to-right pass over the bytes. Only "interesting" bytes (`.?!`, line breaks, quotes,
//! brackets and the lead bytes of non-Latin marks) are looked at; each is decided from a few
//! characters around it, so the cost is O(n) in the text length. Quoted and bracketed spans
//! are searched for their closer at most [`MAX_SPAN`] bytes ahead on the same line, which keeps
//! the pass linear.
//!
//! The rules, in the order the code applies them:
//! * a blank line always ends a sentence; a single line break does too unless the next line
//!   starts in lowercase (a wrapped line);
//! * marks inside a short quoted or bracketed span never end a sentence (`(… engineer.) at`);
//!   a span whose content ends with a mark ends the sentence after the closer when a
//!   non-lowercase word follows (`"This is great." She held…`);
//! * `?` and `!` (and runs such as `?!`) end a sentence unless a lowercase word or a comma
//!   follows (`Yahoo! in`);
//! * a period after an abbreviation, an initial, a number or inside a URL / e-mail address is
//!   decided by [`Segmenter::period`];
//! * three dots are an ellipsis (no end); four dots, or a word-final period followed by a spaced
//!   ellipsis and more text, end the sentence;
//! * CJK, Devanagari, Arabic, Ethiopic, Burmese and Armenian full stops always end one;
//! * an inline list (`1) … 2) …`, `a. … b. …`, `• … • …`) breaks before each next item.

use crate::lang::LangRules;

/// Longest quoted/bracketed span (bytes) treated as one unit.
pub const MAX_SPAN: usize = 600;

/// How far ahead (bytes) the next item of an inline list is looked for.
const LIST_WINDOW: usize = 2000;

/// Prepositions that open a time phrase: `At 5 a.m. Mr. Smith` is one sentence.
const TIME_PREPOSITIONS: &[&str] = &[
    "at", "by", "until", "till", "from", "before", "after", "around", "since", "about", "on",
];

/// A sentence segmenter for one language's rules.
#[derive(Debug, Clone, Copy)]
pub struct Segmenter {
    rules: &'static LangRules,
}

/// Byte class: 0 = plain, 1 = look at it.
static INTERESTING: [bool; 256] = {
    let mut t = [false; 256];
    let ascii = b".?!\n\"'([{:;";
    let mut i = 0;
    while i < ascii.len() {
        t[ascii[i] as usize] = true;
        i += 1;
    }
    // Lead bytes of the multi-byte marks and quotes we handle: « » (C2), Armenian (D5, D6),
    // Arabic (D8, DB), Devanagari (E0), Ethiopic/Burmese (E1), general punctuation (E2),
    // CJK (E3), full-width forms (EF).
    let leads = [0xC2u8, 0xD5, 0xD6, 0xD8, 0xDB, 0xE0, 0xE1, 0xE2, 0xE3, 0xEF];
    let mut j = 0;
    while j < leads.len() {
        t[leads[j] as usize] = true;
        j += 1;
    }
    t
};

fn is_space_byte(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// Invisible format characters that may sit around a mark (bidi embeddings in Arabic text).
fn is_format(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}')
}

/// Marks that end a sentence in any language, wherever they stand.
fn is_hard_mark(c: char) -> bool {
    matches!(
        c,
        '。' | '！' | '？' | '｡' | '।' | '॥' | '۔' | '؟' | '።' | '፧' | '။' | '։' | '՜'
    )
}

fn is_closer(c: char) -> bool {
    matches!(
        c,
        '"' | '”' | '»' | '」' | '』' | ')' | ']' | '}' | '›' | '）' | '’' | '\''
    ) || is_format(c)
}

fn is_opening_punct(c: char) -> bool {
    matches!(
        c,
        '"' | '\''
            | '“'
            | '‘'
            | '«'
            | '„'
            | '¿'
            | '¡'
            | '('
            | '['
            | '{'
            | '「'
            | '『'
            | '（'
            | '‹'
            | '《'
            | '〈'
    )
}

/// How far around a mark the rules look (bytes).
const WINDOW: usize = 64;

fn floor_boundary(text: &str, mut i: usize) -> usize {
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_boundary(text: &str, mut i: usize) -> usize {
    while i < text.len() && !text.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// The text between a sentence start and a token, cut to the last [`WINDOW`] bytes.
fn recent(text: &str, start: usize, tok_start: usize) -> &str {
    let lo = floor_boundary(text, tok_start.saturating_sub(WINDOW).max(start));
    &text[lo..tok_start]
}

fn char_at(text: &str, i: usize) -> Option<char> {
    text.get(i..).and_then(|s| s.chars().next())
}

fn char_before(text: &str, i: usize) -> Option<char> {
    text.get(..i).and_then(|s| s.chars().next_back())
}

/// A byte span `[start, end)` with surrounding whitespace removed; `None` if empty.
fn trimmed(text: &str, start: usize, end: usize) -> Option<(usize, usize)> {
    let s = text.get(start..end)?;
    let t = s.trim_start();
    let st = start + (s.len() - t.len());
    let t = t.trim_end();
    if t.is_empty() {
        None
    } else {
        Some((st, st + t.len()))
    }
}

/// How a list item is numbered, to find the next one (`2.)` after `1.)`, `b.` after `a.`).
#[derive(Debug, Clone, PartialEq)]
struct ListMarker {
    /// Bullet character before the number, if any.
    bullet: Option<char>,
    /// Number or letter.
    value: Option<ListValue>,
    /// What follows the value: `.`, `)`, `.)`.
    suffix: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum ListValue {
    Number(u32),
    Letter(u8),
}

impl ListMarker {
    /// The marker text that would open the next item.
    fn next(&self) -> String {
        let mut s = String::new();
        if let Some(b) = self.bullet {
            s.push(b);
            return s;
        }
        match self.value {
            Some(ListValue::Number(n)) => s.push_str(&(n + 1).to_string()),
            Some(ListValue::Letter(l)) => s.push((l + 1) as char),
            None => {}
        }
        s.push_str(self.suffix);
        s
    }
}

/// A list marker at the start of `s` (after whitespace), and its length in bytes.
fn list_marker(s: &str) -> Option<(ListMarker, usize)> {
    let t = s.trim_start();
    let lead = s.len() - t.len();
    let mut chars = t.char_indices().peekable();
    let mut bullet = None;
    if let Some(&(_, c)) = chars.peek() {
        if matches!(c, '•' | '⁃' | '◦' | '▪' | '·') {
            bullet = Some(c);
            chars.next();
            while let Some(&(_, ' ')) = chars.peek() {
                chars.next();
            }
        }
    }
    let rest_start = chars.peek().map(|&(i, _)| i).unwrap_or(t.len());
    let rest = &t[rest_start..];
    let digits = rest.bytes().take_while(|b| b.is_ascii_digit()).count();
    let (value, after) = if (1..=2).contains(&digits) {
        let n: u32 = rest[..digits].parse().ok()?;
        (Some(ListValue::Number(n)), digits)
    } else if digits == 0
        && rest.len() >= 2
        && rest.as_bytes()[0].is_ascii_lowercase()
        && matches!(rest.as_bytes()[1], b'.' | b')')
    {
        (Some(ListValue::Letter(rest.as_bytes()[0])), 1)
    } else if bullet.is_some() {
        (None, 0)
    } else {
        return None;
    };
    let tail = &rest[after..];
    let suffix = if value.is_none() {
        ""
    } else if tail.starts_with(".)") {
        ".)"
    } else if tail.starts_with('.') {
        "."
    } else if tail.starts_with(')') {
        ")"
    } else {
        return None;
    };
    let end = after + suffix.len();
    // The marker must be followed by a space and a word.
    if value.is_some() && !rest[end..].starts_with(' ') {
        return None;
    }
    Some((
        ListMarker {
            bullet,
            value,
            suffix,
        },
        lead + rest_start + end,
    ))
}

/// `gap in a consultation.11 12 Take`, `(type 2).10 This`: footnote numbers right after a
/// sentence's period belong to it; the sentence ends after them.
fn footnote(text: &str, i: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let before = char_before(text, i)?;
    let word_before = text[..i]
        .bytes()
        .rev()
        .take(3)
        .take_while(|b| b.is_ascii_lowercase())
        .count();
    if !(before == ')' || word_before >= 3) {
        return None;
    }
    let mut k = i + 1;
    let mut groups = 0;
    loop {
        let digits = bytes[k..].iter().take_while(|b| b.is_ascii_digit()).count();
        if !(1..=3).contains(&digits) {
            break;
        }
        k += digits;
        groups += 1;
        if bytes.get(k) == Some(&b' ') && bytes.get(k + 1).is_some_and(u8::is_ascii_digit) {
            k += 1;
        } else {
            break;
        }
    }
    if groups == 0 || bytes.get(k) != Some(&b' ') {
        return None;
    }
    let next = char_at(text, k + 1)?;
    next.is_uppercase().then_some(k)
}

impl Segmenter {
    /// A segmenter for an ISO 639-1 code; unknown codes get the universal rules.
    pub fn for_lang(code: &str) -> Self {
        Segmenter {
            rules: crate::lang::LangRules::for_lang(code),
        }
    }

    /// Sentence spans `[start, end)` in byte offsets, trimmed, in order, non-overlapping.
    pub fn split(&self, text: &str) -> Vec<(usize, usize)> {
        let mut out = Vec::with_capacity(text.len() / 80 + 1);
        self.split_into(text, &mut out);
        out
    }

    /// Like [`Segmenter::split`], appending to `out`.
    pub fn split_into(&self, text: &str, out: &mut Vec<(usize, usize)>) {
        let bytes = text.as_bytes();
        let n = bytes.len();
        let mut start = 0usize;
        let mut list = self.list_at(text, 0);
        let mut i = 0usize;
        while i < n {
            if !INTERESTING[bytes[i] as usize] {
                i += 1;
                continue;
            }
            if let Some(p) = list {
                if p <= i {
                    self.emit(text, start, p, out);
                    start = p;
                    list = self.list_at(text, p);
                }
            }
            let b = bytes[i];
            let mut cut: Option<usize> = None;
            let mut next_i = i + 1;
            match b {
                b'\n' if self.line_ends(text, i) => cut = Some(i + 1),
                b'.' | b'?' | b'!' => {
                    let (c, resume) = self.mark(text, start, i);
                    cut = c;
                    next_i = resume;
                }
                b':' if self.rules.colon_ends
                    && bytes.get(i + 1).is_some_and(|&b| is_space_byte(b)) =>
                {
                    cut = Some(i + 1);
                }
                b';' if self.rules.semicolon_ends
                    && bytes.get(i + 1).is_none_or(|&b| is_space_byte(b)) =>
                {
                    cut = Some(i + 1);
                }
                b'"' | b'\'' | b'(' | b'[' | b'{' => {
                    if let Some((c, resume)) = self.span(text, i) {
                        cut = c;
                        next_i = resume;
                    }
                }
                _ if b >= 0x80 => {
                    let c = char_at(text, i).unwrap_or('\u{FFFD}');
                    next_i = i + c.len_utf8();
                    // `．` ends a sentence except between digits (`３．２９`).
                    if is_hard_mark(c)
                        || (c == '．' && !char_before(text, i).is_some_and(|c| c.is_numeric()))
                    {
                        let end = self.skip_marks_and_closers(text, next_i);
                        cut = Some(end);
                        next_i = end;
                    } else if c == '…' {
                        let (c, resume) = self.mark(text, start, i);
                        cut = c;
                        next_i = resume;
                    } else if c == '،' && self.rules.arabic_comma_ends {
                        if bytes.get(next_i).is_some_and(|&b| is_space_byte(b)) {
                            cut = Some(next_i);
                        }
                    } else if is_opening_punct(c) {
                        if let Some((c, resume)) = self.span(text, i) {
                            cut = c;
                            next_i = resume;
                        }
                    }
                }
                _ => {}
            }
            if let Some(end) = cut {
                // A list break inside the sentence just closed comes first.
                if let Some(p) = list {
                    if p < end && p > start {
                        self.emit(text, start, p, out);
                        start = p;
                    }
                }
                self.emit(text, start, end, out);
                start = end;
                list = self.list_at(text, end);
                next_i = next_i.max(end);
            }
            i = next_i;
        }
        while let Some(p) = list {
            if p <= start || p >= n {
                break;
            }
            self.emit(text, start, p, out);
            start = p;
            list = self.list_at(text, p);
        }
        self.emit(text, start, n, out);
    }

    fn emit(&self, text: &str, start: usize, end: usize, out: &mut Vec<(usize, usize)>) {
        if let Some(span) = trimmed(text, start, end) {
            out.push(span);
        }
    }

    /// If a sentence starting at `at` opens with a list marker, where the next item starts.
    fn list_at(&self, text: &str, at: usize) -> Option<usize> {
        let rest = text.get(at..)?;
        // Quick reject: a list item starts with a digit, a bullet, or `a.`/`a)`.
        let rb = rest.as_bytes();
        let lead = rb.iter().take(8).position(|&b| b != b' ' && b != b'\t')?;
        let b0 = rb[lead];
        let bullet = matches!(
            rb.get(lead..lead + 3),
            Some([0xE2, 0x80, 0xA2])
                | Some([0xE2, 0x81, 0x83])
                | Some([0xE2, 0x96, 0xAA])
                | Some([0xE2, 0x97, 0xA6])
                | Some([0xC2, 0xB7, _])
        );
        let plausible = b0.is_ascii_digit()
            || bullet
            || (b0.is_ascii_lowercase() && matches!(rb.get(lead + 1), Some(b'.') | Some(b')')));
        if !plausible {
            return None;
        }
        let head_len = rb.len().min(WINDOW);
        let head_len = rb[..head_len]
            .iter()
            .position(|&b| b == b'\n')
            .unwrap_or(head_len);
        let head = &rest[..ceil_boundary(rest, head_len)];
        let (marker, len) = list_marker(head)?;
        // Items are looked for within a bounded stretch of the line (linear cost).
        let window = &rb[..rb.len().min(LIST_WINDOW)];
        let line_len = window
            .iter()
            .position(|&b| b == b'\n')
            .unwrap_or(window.len());
        let line = &rest[..ceil_boundary(rest, line_len)];
        let next = marker.next();
        let first = next.as_bytes()[0];
        let mut from = len;
        while let Some(pos) = line.as_bytes()[from.min(line.len())..]
            .iter()
            .position(|&b| b == first)
        {
            let p = from + pos;
            if !line.is_char_boundary(p) || !line[p..].starts_with(next.as_str()) {
                from = p + 1;
                continue;
            }
            let before_ok = line[..p].ends_with(' ');
            if before_ok {
                if let Some((m, _)) = list_marker(&line[p..]) {
                    if m.bullet == marker.bullet && m.suffix == marker.suffix {
                        return Some(at + p);
                    }
                }
            }
            from = p + next.len();
        }
        None
    }

    /// Whether the line break at `i` ends the sentence.
    fn line_ends(&self, text: &str, i: usize) -> bool {
        let bytes = text.as_bytes();
        let mut k = i + 1;
        while k < bytes.len() && matches!(bytes[k], b' ' | b'\t' | b'\r') {
            k += 1;
        }
        match bytes.get(k) {
            None | Some(b'\n') => true,
            Some(b) if b.is_ascii() => !b.is_ascii_lowercase(),
            Some(_) => !char_at(text, k).is_some_and(char::is_lowercase),
        }
    }

    /// Skip further marks and closers after a mark; returns the end of the sentence.
    fn skip_marks_and_closers(&self, text: &str, mut k: usize) -> usize {
        while let Some(c) = char_at(text, k) {
            if is_hard_mark(c)
                || matches!(c, '.' | '?' | '!' | '」' | '』' | '）')
                || (is_closer(c) && !self.apostrophe_at(text, k))
            {
                k += c.len_utf8();
            } else if c == '[' {
                // A citation after the mark (`martyr.[1] The`) belongs to the sentence.
                // Also `[citation needed]`: a short bracket without marks inside.
                let inner = text[k + 1..]
                    .bytes()
                    .take(32)
                    .take_while(|&b| b != b']' && b != b'[' && b != b'.' && b != b'\n')
                    .count();
                if inner >= 1 && text.as_bytes().get(k + 1 + inner) == Some(&b']') {
                    k += inner + 2;
                } else {
                    break;
                }
            } else {
                break;
            }
        }
        k
    }

    /// `'`/`’` followed by a letter is an apostrophe (`Jr.'s`), not a closing quote.
    fn apostrophe_at(&self, text: &str, k: usize) -> bool {
        match char_at(text, k) {
            Some('\'') | Some('’') => char_at(text, k + 1).is_some_and(|c| c.is_alphabetic()),
            _ => false,
        }
    }

    /// After closers, does the text at `k` start a new sentence? `Some(true)` yes, `Some(false)`
    /// no, `None` when nothing follows (end of text).
    fn next_starts(&self, text: &str, k: usize) -> Option<bool> {
        let c = char_at(text, k)?;
        if !c.is_whitespace() {
            return Some(false);
        }
        let rest = text[k..].trim_start();
        let first = rest.chars().find(|c| !is_opening_punct(*c))?;
        if text[k..].trim_start_matches([' ', '\t']).starts_with('\n') {
            return Some(true);
        }
        // `voila! -- you have cake`, `бар? — деді`: a dash continues the sentence.
        if rest.starts_with(['-', '–', '—']) {
            let after = rest.trim_start_matches(['-', '–', '—', ' ']);
            return Some(!after.starts_with(char::is_lowercase));
        }
        Some(!first.is_lowercase() && first != ',' && first != ';')
    }

    /// A quote or bracket opening at `i`: find its closer and decide whether the sentence ends
    /// after it. Returns `(cut, resume)`; `None` if `i` opens no span.
    fn span(&self, text: &str, i: usize) -> Option<(Option<usize>, usize)> {
        let open = char_at(text, i)?;
        let before = char_before(text, i);
        let after = char_at(text, i + open.len_utf8())?;
        let start_ok =
            before.is_none_or(|c| c.is_whitespace() || is_opening_punct(c) || is_format(c));
        let (closers, nested): (&[char], Option<char>) = match open {
            '(' => (&[')'], Some('(')),
            '[' => (&[']'], Some('[')),
            '{' => (&['}'], Some('{')),
            '（' => (&['）'], Some('（')),
            '「' => (&['」'], None),
            '『' => (&['』'], None),
            '«' => (&['»'], None),
            '《' => (&['》'], None),
            '〈' => (&['〉'], None),
            '„' => (&['“', '”'], None),
            '“' => (&['”'], None),
            '"' if start_ok => (&['"'], None),
            '\'' | '‘' if start_ok && after.is_alphabetic() => (&['\'', '’'], None),
            _ => return None,
        };
        let body_start = i + open.len_utf8();
        let limit = (body_start + MAX_SPAN).min(text.len());
        let mut depth = 0usize;
        let mut k = body_start;
        let mut close_at = None;
        // Only bytes that can start the newline, the opener or a closer need decoding
        // (continuation bytes never equal a lead byte, so stepping byte-wise is safe).
        let mut leads = [b'\n'; 4];
        let mut buf = [0u8; 4];
        for (slot, c) in leads
            .iter_mut()
            .skip(1)
            .zip(nested.iter().chain(closers.iter()))
        {
            *slot = c.encode_utf8(&mut buf).as_bytes()[0];
        }
        let bytes = text.as_bytes();
        while k < limit {
            if !leads.contains(&bytes[k]) {
                k += 1;
                continue;
            }
            let Some(c) = char_at(text, k) else { break };
            if c == '\n' {
                break;
            }
            if Some(c) == nested {
                depth += 1;
            } else if closers.contains(&c) {
                let quote_like = matches!(c, '\'' | '’');
                if quote_like && char_at(text, k + 1).is_some_and(|c| c.is_alphabetic()) {
                    // An apostrophe inside the quote.
                } else if depth == 0 {
                    close_at = Some(k);
                    break;
                } else {
                    depth -= 1;
                }
            }
            k += c.len_utf8();
        }
        let close = close_at?;
        let close_len = char_at(text, close).map_or(1, char::len_utf8);
        let inner = text[body_start..close].trim_end();
        let ends_with_mark = inner
            .chars()
            .next_back()
            .is_some_and(|c| matches!(c, '.' | '?' | '!' | '…') || is_hard_mark(c));
        let after_close = close + close_len;
        if !ends_with_mark {
            return Some((None, after_close));
        }
        // A bracket closing a parenthetical sentence does not end the outer one
        // (`(… engineer.) at`), but a quote can (`"This is great." She`).
        if matches!(open, '(' | '[' | '{' | '（') {
            return Some((None, after_close));
        }
        let end = self.skip_marks_and_closers(text, after_close);
        // `…house!' (Which was very likely true.)`: a bracket after a quote continues it.
        if text[end..].trim_start_matches([' ', '\t']).starts_with('(') {
            return Some((None, end));
        }
        match self.next_starts(text, end) {
            Some(true) => Some((Some(end), end)),
            _ => Some((None, end)),
        }
    }

    /// A `.`, `?`, `!` or `…` at `i` in the sentence that began at `start`.
    /// Returns `(cut, resume)`.
    fn mark(&self, text: &str, start: usize, i: usize) -> (Option<usize>, usize) {
        let bytes = text.as_bytes();
        let n = bytes.len();
        // Fast paths for the two commonest shapes: `word. Next` and `word.` at a line end.
        if bytes[i] == b'.' && i > 0 && bytes[i - 1].is_ascii_lowercase() {
            match bytes.get(i + 1) {
                Some(b'\n') | None => return (Some(i + 1), i + 1),
                Some(b' ') => {
                    if let Some(answer) = self.period_fast(text, i, i + 1) {
                        return if answer {
                            (Some(i + 1), i + 1)
                        } else {
                            (None, i + 1)
                        };
                    }
                }
                _ => {}
            }
        }
        // The run of marks: `?!`, `...`, `. . .`, `…`.
        let mut j = i;
        let mut periods = 0usize;
        let mut strong = false;
        let mut spaced = false;
        loop {
            if j < n && matches!(bytes[j], b'.' | b'?' | b'!') {
                if bytes[j] == b'.' {
                    periods += 1;
                } else {
                    strong = true;
                }
                j += 1;
            } else if text[j..].starts_with('…') {
                periods += 3;
                j += '…'.len_utf8();
            } else if j + 1 < n
                && bytes[j] == b' '
                && bytes[j + 1] == b'.'
                && !strong
                && periods > 0
                && (periods > 1 || i + 1 == j)
            {
                spaced = true;
                j += 1;
            } else {
                break;
            }
        }
        if !self.rules.period_ends && !strong {
            return (None, j);
        }
        let word_attached = char_before(text, i).is_some_and(|c| !c.is_whitespace());
        if periods >= 4 && spaced && word_attached && bytes[i] == b'.' && !strong {
            // `compounds. . . . The practice`: the first period ends the sentence and the
            // ellipsis opens the next one, if more text follows.
            let end = self.skip_marks_and_closers(text, j);
            if self.next_starts(text, end).is_some() && !text[end..].trim().is_empty() {
                let rest = text[j..].trim_start();
                if !rest.is_empty() && !rest.starts_with(|c: char| is_closer(c)) {
                    return (Some(i + 1), i + 1);
                }
            }
            return (None, j);
        }
        let end = self.skip_marks_and_closers(text, j);
        if strong {
            return match self.next_starts(text, end) {
                Some(true) => (Some(end), end),
                Some(false) => {
                    // `Hello!Next` stays; a CJK sentence right after `!` ends it.
                    (None, end)
                }
                None => (Some(end), end),
            };
        }
        if periods >= 4 {
            return match self.next_starts(text, end) {
                Some(false) => (None, end),
                _ => (Some(end), end),
            };
        }
        if periods == 3 || periods == 2 {
            // An ellipsis ends a sentence only when it is attached to the word before and a
            // capitalised word follows after a space (`and then... The next day`).
            if spaced || !word_attached {
                return (None, end);
            }
            return match self.next_starts(text, end) {
                Some(true) => {
                    let next = text[end..].trim_start();
                    if next.starts_with(|c: char| c.is_uppercase()) && !next.starts_with("I ") {
                        (Some(end), end)
                    } else {
                        (None, end)
                    }
                }
                _ => (None, end),
            };
        }
        if let Some(cut) = footnote(text, i) {
            return (Some(cut), cut);
        }
        // A single period.
        match self.period(text, start, i, end) {
            true => (Some(end), end),
            false => (None, i + 1),
        }
    }

    /// Whether a single period at `i` ends the sentence (`end` = after closers).
    fn period(&self, text: &str, start: usize, i: usize, end: usize) -> bool {
        if let Some(answer) = self.period_fast(text, i, end) {
            return answer;
        }
        // The whitespace-delimited token around the period.
        // Tokens are looked at within a bounded window so that a huge run without spaces
        // stays linear.
        let lo = floor_boundary(text, i.saturating_sub(WINDOW).max(start));
        let hi = ceil_boundary(text, (i + WINDOW).min(text.len()));
        let tok_start = text[lo..i]
            .rfind(|c: char| c.is_whitespace())
            .map_or(lo, |p| {
                lo + p + text[lo + p..].chars().next().map_or(1, char::len_utf8)
            });
        let tok_end = text[i..hi]
            .find(|c: char| c.is_whitespace())
            .map_or(hi, |p| i + p);
        let token = &text[tok_start..tok_end];
        let web = token.contains('@')
            || token.as_bytes().windows(3).any(|w| w == b"://")
            || token.starts_with("www.");
        // The word before the period, without leading quotes/brackets or trailing closers.
        let word = text[tok_start..i]
            .trim_start_matches(is_opening_punct)
            .trim_end_matches(is_closer);
        let next_char = char_at(text, i + 1);
        if end == i + 1 && next_char.is_some_and(|c| !c.is_whitespace()) {
            // No space after the period: `world.Today` ends, `U.S.A`, `3.14`, `a.m` do not.
            if web {
                return false;
            }
            let letters: String = word
                .chars()
                .rev()
                .take_while(|c| c.is_alphanumeric())
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            let last_ok = letters
                .chars()
                .last()
                .is_some_and(|c| c.is_lowercase() || c.is_ascii_digit());
            let mut after = text[i + 1..].chars();
            let n1 = after.next();
            let n2 = after.next();
            return letters.chars().count() >= 2
                && last_ok
                && !letters.contains('.')
                && !word.contains('.')
                && !self.rules.is_abbreviation(&letters.to_lowercase())
                && n1.is_some_and(|c| c.is_uppercase())
                && n2.is_some_and(|c| c.is_lowercase() || (c == ' ' && n1 == Some('I')));
        }
        if end == i + 1 && next_char.is_none() {
            return true;
        }
        if end > i + 1 && char_at(text, end).is_some_and(|c| !c.is_whitespace()) {
            return false;
        }
        // Whitespace follows: look at the next word.
        let after = &text[end..];
        let trimmed_after = after.trim_start_matches([' ', '\t', '\r', '\u{a0}']);
        if trimmed_after.is_empty() || trimmed_after.starts_with('\n') {
            return true;
        }
        let next_word_full = trimmed_after
            .split(|c: char| c.is_whitespace())
            .next()
            .unwrap_or("");
        let next_word = next_word_full.trim_start_matches(is_opening_punct);
        let Some(first) = next_word.chars().next() else {
            return true;
        };
        let lower = first.is_lowercase();
        let upper = first.is_uppercase();
        let digit = first.is_ascii_digit();
        let bare_next: &str = next_word.trim_end_matches(|c: char| !c.is_alphanumeric());
        let starter = self.rules.starters.contains(bare_next);

        if web {
            return !lower;
        }
        let lw = word.to_lowercase();
        let word_chars = word.chars().count();
        let last = word.chars().last();
        let Some(last) = last else {
            // A lone period after a space (`period .`).
            return !lower;
        };
        // Numbers: `55.`, `$100.00.`, `1,000.`, `12.` (but `12. Juni`, and list markers).
        if last.is_ascii_digit() {
            if lower {
                return false;
            }
            let before = recent(text, start, tok_start).trim();
            let sentence_start = tok_start - start <= WINDOW
                && (before.is_empty()
                    || before
                        .chars()
                        .all(|c| matches!(c, '•' | '⁃' | '◦' | '▪' | '·' | '-' | '*')));
            let digits = word.trim_start_matches(['•', '⁃', '◦', '▪', '·', '-', '*', '(']);
            if sentence_start && digits.len() <= 2 && digits.chars().all(|c| c.is_ascii_digit()) {
                return false; // `1. The first item`
            }
            if (digit && self.rules.ordinal_numbers) || !(digit || upper || first.is_alphabetic()) {
                return false; // `1. -3. Jahrhundert`, `20. 10`
            }
            if self.rules.ordinal_numbers && word.len() <= 4 && !starter {
                return false; // `3. Jahrhundert`, `7. Apríla`
            }
            if !self.rules.ordinal_months.is_empty()
                && self
                    .rules
                    .ordinal_months
                    .contains(&bare_next.to_lowercase())
            {
                return false;
            }
            return true;
        }
        // Number signs before digits: `No. 10`, `p. 55`, `N°. 1026`.
        if digit && (self.rules.number.contains(&lw) || lw.ends_with('°') || lw.ends_with('º')) {
            return false;
        }
        if self.rules.prepositive.contains(&lw) {
            return false;
        }
        // Single letters: initials (`Jonas E. Smith`), list letters (`a. The first item`).
        if self.rules.is_abbreviation(&lw) && !upper && !lower && !digit {
            return false; // uncased script after a known abbreviation (Arabic `د.`)
        }
        if word_chars == 1 && last.is_alphabetic() {
            let at_start =
                tok_start - start <= WINDOW && recent(text, start, tok_start).trim().is_empty();
            // `J. R. R. Tolkien`, `А. И. Семенов`, `z. B.`: another initial follows.
            let mut nw = next_word.chars();
            if nw.next().is_some_and(char::is_alphabetic)
                && nw.next() == Some('.')
                && nw.next().is_none()
            {
                return false;
            }
            // `z. B.`, `Z. T.`: two letters that form a known abbreviation.
            let prev = recent(text, start, tok_start)
                .split_whitespace()
                .next_back()
                .unwrap_or("");
            let mut pc = prev.chars();
            if let (Some(p0), Some('.'), None) = (pc.next(), pc.next(), pc.next()) {
                let pair = format!("{}.{}", p0, last).to_lowercase();
                if self.rules.is_abbreviation(&pair) {
                    return false;
                }
            }
            if at_start {
                return false; // `a. The first item`, `Q. What is his name?`
            }
            if !self.rules.abbreviation_may_end {
                return false; // initials (`А. Фарахани`)
            }
            if last.is_lowercase() {
                return starter;
            }
            if !upper && !digit && !lower {
                return true;
            }
            if starter {
                return true;
            }
            if lower {
                return false;
            }
            let prev_cap = recent(text, start, tok_start)
                .split_whitespace()
                .next_back()
                .and_then(|w| w.trim_start_matches(is_opening_punct).chars().next())
                .is_some_and(|c| c.is_uppercase());
            return !prev_cap && upper;
        }
        // Dotted abbreviations: `U.S.`, `e.g.`, `a.m.`, `Ph.D.`.
        if word.contains('.') {
            let bare: String = lw.chars().filter(|c| *c != '.').collect();
            if bare == "am" || bare == "pm" {
                if !upper {
                    return false;
                }
                return !self.time_phrase(text, start, tok_start);
            }
            let acronym = word.split('.').all(|p| p.chars().count() <= 2);
            let has_starters = !self.rules.starters.is_empty();
            if acronym
                && !self.rules.abbreviation_may_end
                && !has_starters
                && word.chars().any(char::is_uppercase)
            {
                return false; // initials: `Л.Н. Толстой`
            }
            if !self.rules.abbreviation_may_end && self.rules.is_abbreviation(&lw) {
                return has_starters && starter;
            }
            if self.rules.is_abbreviation(&lw) || acronym {
                return starter;
            }
            return !lower;
        }
        if self.rules.is_abbreviation(&lw) {
            if !self.rules.abbreviation_may_end {
                return starter; // `co. De burde` (Danish), never `Dr. Meier` (German)
            }
            if lower || digit || next_word_full.starts_with(['(', '[']) {
                return false; // `Inc. (“Company A”)`
            }
            return upper || starter;
        }
        // An ordinary word: a new sentence follows, even in lowercase (`κανένας. το`), unless
        // the word is too short to be sure it is no abbreviation.
        !lower || (word_chars >= 4 && word.chars().all(char::is_alphabetic))
    }

    /// The common case decided without building tokens: a plain lowercase ASCII word, one
    /// space, a capitalised ASCII word (`the bank. He left`). `None`: use the full rules.
    fn period_fast(&self, text: &str, i: usize, end: usize) -> Option<bool> {
        let bytes = text.as_bytes();
        if end != i + 1 || bytes.get(i + 1) != Some(&b' ') {
            return None;
        }
        let n1 = *bytes.get(i + 2)?;
        let n2 = *bytes.get(i + 3)?;
        if !n1.is_ascii_uppercase() || !n2.is_ascii_lowercase() {
            return None;
        }
        let mut w = i;
        while w > 0 && i - w < 24 && bytes[w - 1].is_ascii_lowercase() {
            w -= 1;
        }
        if w > 0 && bytes[w - 1].is_ascii_uppercase() {
            w -= 1; // `Washington. The`
        }
        if i - w < 2 || i - w >= 24 || (w > 0 && bytes[w - 1] != b' ' && bytes[w - 1] != b'\n') {
            return None;
        }
        let mut buf = [0u8; 24];
        for (k, &b) in bytes[w..i].iter().enumerate() {
            buf[k] = b.to_ascii_lowercase();
        }
        let word = std::str::from_utf8(&buf[..i - w]).ok()?;
        if self.rules.is_abbreviation(word) {
            return None;
        }
        Some(true)
    }

    /// `At 5 a.m.`: a short phrase opened by a time preposition is no sentence on its own.
    fn time_phrase(&self, text: &str, start: usize, tok_start: usize) -> bool {
        if tok_start - start > WINDOW {
            return false;
        }
        let before = &text[start..tok_start];
        let mut words = before.split_whitespace();
        let first = words.next().unwrap_or("").to_lowercase();
        let count = before.split_whitespace().count();
        count <= 3 && TIME_PREPOSITIONS.contains(&first.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sents(lang: &str, text: &str) -> Vec<String> {
        Segmenter::for_lang(lang)
            .split(text)
            .into_iter()
            .map(|(s, e)| text[s..e].to_string())
            .collect()
    }

    #[test]
    fn real_news_sentences() {
        let cases: &[(&str, &str, &[&str])] = &[
            (
                "en",
                "On Feb. 2, U.S. officials confirmed a balloon they said belonged to China was spotted floating over Montana. While Chinese officials maintain that the balloon was intended for research, the Pentagon claims otherwise.",
                &[
                    "On Feb. 2, U.S. officials confirmed a balloon they said belonged to China was spotted floating over Montana.",
                    "While Chinese officials maintain that the balloon was intended for research, the Pentagon claims otherwise.",
                ],
            ),
            (
                "en",
                "Antony J. Blinken is the 71st U.S. Secretary of State.\nHe was nominated by President Biden on November 23, 2020.",
                &[
                    "Antony J. Blinken is the 71st U.S. Secretary of State.",
                    "He was nominated by President Biden on November 23, 2020.",
                ],
            ),
            (
                "en",
                "“This is dangerous,” he said. “China is watching closely.” Stoltenberg said at a news conference.",
                &[
                    "“This is dangerous,” he said.",
                    "“China is watching closely.”",
                    "Stoltenberg said at a news conference.",
                ],
            ),
            (
                "en",
                "Diplomat Times (Washington)- Deputy Secretary of Defense Dr. Kathleen Hicks met Ajit Doval in Washington, D.C., today.",
                &["Diplomat Times (Washington)- Deputy Secretary of Defense Dr. Kathleen Hicks met Ajit Doval in Washington, D.C., today."],
            ),
            ("ja", "これはペンです。それはマーカーです。", &["これはペンです。", "それはマーカーです。"]),
            (
                "hi",
                "सच्चाई यह है कि इसे कोई नहीं जानता। हो सकता है।",
                &["सच्चाई यह है कि इसे कोई नहीं जानता।", "हो सकता है।"],
            ),
        ];
        for (lang, text, want) in cases {
            assert_eq!(sents(lang, text), *want, "{text}");
        }
    }

    #[test]
    fn offsets_are_char_boundaries_on_odd_input() {
        let inputs = [
            "",
            ".",
            "...",
            "“",
            "(((",
            "a.\n\n\nb",
            "• 1. x • 2. y",
            "Ü. É. 。。！",
            "\u{202a}.\u{202c}",
            "'a",
        ];
        for text in inputs {
            for (s, e) in Segmenter::for_lang("en").split(text) {
                assert!(s < e && text.is_char_boundary(s) && text.is_char_boundary(e));
            }
        }
        // Pseudo-random strings over the characters the rules look at.
        let alphabet: Vec<char> = "a Z.?!\n\"'()[]«»„“”‘’…。！？।؟،:;•⁃1 2\u{202a}Ü "
            .chars()
            .collect();
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for lang in ["en", "de", "ar", "hy", "el", "xx"] {
            let seg = Segmenter::for_lang(lang);
            for _ in 0..300 {
                let len = (state % 40) as usize;
                let text: String = (0..len)
                    .map(|_| {
                        state ^= state << 13;
                        state ^= state >> 7;
                        state ^= state << 17;
                        alphabet[(state % alphabet.len() as u64) as usize]
                    })
                    .collect();
                let mut prev_end = 0;
                for (s, e) in seg.split(&text) {
                    assert!(s >= prev_end && s < e, "{text:?}");
                    assert!(text.is_char_boundary(s) && text.is_char_boundary(e));
                    prev_end = e;
                }
            }
        }
        let long = "word ".repeat(100_000) + ".";
        assert_eq!(Segmenter::for_lang("en").split(&long).len(), 1);
    }
}
