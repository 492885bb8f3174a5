//! Finding where articles start in a page that holds several (blog index pages, news digests,
//! "page 191" listings).
//!
//! An article start is a *title-like line* (short, no final period) that is confirmed by a
//! strong cue right after it:
//! * a **dateline** within the next few lines (`Diplomat Times (Seoul) –`, `LONDON (Reuters) -`,
//!   `WASHINGTON —`), possibly after a comment counter (`0`), bullets, a repeat of the title
//!   (`<title> by <site>`) and one short deck sentence;
//! * a **byline** (`By Jane Doe`) in the same place;
//! * a **comment counter** line (`0`, `12`) followed by a repeat of the title.
//!
//! A sub-heading inside one article ("History of Frontline States") is followed by body text
//! that continues the story, never by a dateline, byline, counter or repeat, so it is no start.
//! A page is split only when at least `min_articles` starts are found and each article has a
//! dense run of text; a single news article (one dateline) stays whole.
//!
//! Titles must have at least three real words and no tabs, and datelines must open a long
//! paragraph with a sentence, so dates, photo counts, table rows and ad labels do not count.
//! A title shown twice in a row (page header, then above the article) starts one article, and
//! a page of just two articles splits only when both share a cue kind (a listing template).
//! Page-header lines before the first article are dropped when they hold no sentence (the
//! caller counts them); otherwise they stay at the head of the first article.
//!
//! Checked on real pages (readability, article-extraction-benchmark, trafilatura, CleanEval,
//! L3S-GN1, dragnet: 4,043 pages, `examples/articles.rs`): 14 split. About 7 are real listings
//! (LWN and National Review front pages, a sports score digest, a newsletter, story lists);
//! about 7 are one article plus a teaser or comment block that has its own byline or dateline
//! (0.2% of pages wrongly split).
//!
//! Cost: one pass to classify lines, and a walk back of at most [`LOOKBACK`] lines from each
//! cue: O(n) in the text length.

use std::collections::HashMap;

/// How many non-blank lines before a dateline may belong to the article's header.
const LOOKBACK: usize = 8;
/// Longest title (characters).
const MAX_TITLE_CHARS: usize = 160;
/// Most words in a title.
const MAX_TITLE_WORDS: usize = 25;
/// Longest dateline prefix before its dash (characters).
const MAX_DATELINE_PREFIX: usize = 50;
/// Shortest text after a dateline's dash (characters).
const MIN_DATELINE_REST: usize = 60;
/// An article needs at least this many bytes of sentence text to count as one.
const MIN_ARTICLE_BODY: usize = 200;

/// One non-blank line: byte range of its trimmed text.
#[derive(Debug, Clone, Copy)]
struct Line {
    /// Offset of the line's first byte (before indentation).
    start: usize,
    /// Trimmed text range.
    text_start: usize,
    text_end: usize,
}

/// The result of looking for articles in a page.
#[derive(Debug, Clone, PartialEq)]
pub struct Articles {
    /// Each article's byte range `[start, end)` and title, in page order (the first may
    /// include a preamble that holds sentences).
    pub parts: Vec<(usize, usize, String)>,
    /// Lines before the first article that hold no sentence (page header, menu), dropped.
    pub dropped_preamble: Option<(usize, usize)>,
}

fn lines_of(text: &str) -> Vec<Line> {
    let mut out = Vec::new();
    let mut pos = 0;
    for raw in text.split_inclusive('\n') {
        let start = pos;
        pos += raw.len();
        let body = raw.trim_end_matches('\n');
        let t = body.trim_start();
        let lead = body.len() - t.len();
        let t = t.trim_end();
        if t.is_empty() {
            continue;
        }
        out.push(Line {
            start,
            text_start: start + lead,
            text_end: start + lead + t.len(),
        });
    }
    out
}

fn is_counter(s: &str) -> bool {
    (1..=5).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
}

fn is_bullet(s: &str) -> bool {
    s.starts_with(['•', '◦', '▪', '·', '*', '-', '–'])
}

/// A line that ends like a sentence.
fn ends_sentence(s: &str) -> bool {
    let t = s.trim_end_matches(['"', '”', '’', '\'', ')', '»']);
    t.ends_with(['.', '!', '?', '。', '…'])
}

/// Short, no final period, starts with a capital or digit: could head an article.
pub fn is_title_like(s: &str) -> bool {
    let chars = s.chars().count();
    if !(8..=MAX_TITLE_CHARS).contains(&chars) || is_counter(s) || is_bullet(s) {
        return false;
    }
    let words = s.split_whitespace().count();
    if !(2..=MAX_TITLE_WORDS).contains(&words) {
        return false;
    }
    // At least three real words: dates (`Fri Dec 28, 7:05 AM ET`, `Nov. 6, 2012`) and page
    // furniture (`Read more »`, `Recent Posts`, `Buy Photo`) are no titles.
    let real_words = s
        .split_whitespace()
        .filter(|w| w.chars().filter(|c| c.is_alphabetic()).count() >= 3)
        .count();
    if real_words < 3 {
        return false;
    }
    let Some(first) = s
        .chars()
        .find(|c| !matches!(c, '‘' | '“' | '"' | '\'' | '«' | '„'))
    else {
        return false;
    };
    if !(first.is_uppercase() || first.is_ascii_digit()) {
        return false;
    }
    // Tabs mark table rows, not headings.
    if s.ends_with(['.', ',', ';', ':', '…'])
        || s.contains("://")
        || s.contains('\t')
        || s.starts_with("By ")
        || s.starts_with("BY ")
        || is_dateline(s)
    {
        return false;
    }
    true
}

/// Which kind of cue confirmed a title (bit flags, a title may have several).
const CUE_PAREN_DATELINE: u8 = 1;
const CUE_CAPS_DATELINE: u8 = 2;
const CUE_BYLINE: u8 = 4;
const CUE_COUNTER_REPEAT: u8 = 8;

/// `Diplomat Times (Seoul) – …`, `LONDON, Feb 3 (Reuters) - …`, `WASHINGTON — …`.
pub fn is_dateline(s: &str) -> bool {
    dateline_cue(s).is_some()
}

/// The dateline's style ([`CUE_PAREN_DATELINE`] or [`CUE_CAPS_DATELINE`]), if `s` opens with one.
fn dateline_cue(s: &str) -> Option<u8> {
    // The first dash within the prefix limit.
    let mut dash = None;
    for (count, (i, c)) in s.char_indices().enumerate() {
        if count > MAX_DATELINE_PREFIX + 1 {
            break;
        }
        if matches!(c, '–' | '—' | '-') {
            dash = Some((i, c));
            break;
        }
    }
    let (d, dc) = dash?;
    let prefix = s[..d].trim_end();
    let rest = s[d + dc.len_utf8()..].trim_start();
    // The dateline opens the article's first paragraph: a long line with a sentence in it
    // (`COMERCIAL - Mobil 300x600` or `KFT - Kraftfahrzeugtechnik` are no datelines).
    let sentence_in_rest = ends_sentence(rest) || rest.contains(". ");
    if prefix.is_empty() || rest.chars().count() < MIN_DATELINE_REST || !sentence_in_rest {
        return None;
    }
    let spaced_before = s[..d].ends_with(' ');
    if let Some(inner) = prefix
        .strip_suffix(')')
        .and_then(|p| p.rfind('(').map(|o| (&p[..o], &p[o + 1..])))
    {
        // `Words (Place) –`
        let (head, place) = inner;
        let place_ok = (1..=30).contains(&place.chars().count())
            && place.chars().next().is_some_and(|c| c.is_uppercase());
        let head_words: Vec<&str> = head.split_whitespace().collect();
        let head_ok = head_words.len() <= 6
            && head_words.iter().all(|w| {
                w.chars()
                    .next()
                    .is_some_and(|c| c.is_uppercase() || c.is_ascii_digit())
            });
        return (place_ok && head_ok).then_some(CUE_PAREN_DATELINE);
    }
    // `CITY —`, `NEW YORK, March 3 —`: capitals before the first comma, dash set off.
    if dc == '-' && !spaced_before {
        return None;
    }
    let place = prefix.split(',').next().unwrap_or("");
    let letters: Vec<char> = place.chars().filter(|c| c.is_alphabetic()).collect();
    (letters.len() >= 3
        && place.split_whitespace().count() <= 4
        && letters.iter().all(|c| c.is_uppercase())
        && prefix.split_whitespace().count() <= 7)
        .then_some(CUE_CAPS_DATELINE)
}

/// `By Jane Doe`, `By JANE DOE and John Roe, Reuters`.
pub fn is_byline(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("By ").or_else(|| s.strip_prefix("BY ")) else {
        return false;
    };
    if s.chars().count() > 80 || ends_sentence(s) {
        return false;
    }
    let words: Vec<&str> = rest.split_whitespace().collect();
    // A full name (`By Jane Doe`), not a commenter's first name (`By James`).
    words.len() >= 2
        && words.len() <= 8
        && words[0].chars().next().is_some_and(|c| c.is_uppercase())
        && words.iter().all(|w| {
            matches!(*w, "and" | "&" | "in" | "for")
                || w.chars().next().is_some_and(|c| c.is_uppercase())
        })
}

/// A short sentence that may stand between a title and its dateline (a deck or standfirst).
fn is_deck(s: &str) -> bool {
    s.chars().count() <= 300 && ends_sentence(s)
}

/// Find the articles of a page; `None` when fewer than `min_articles` are found.
pub fn find(text: &str, min_articles: usize) -> Option<Articles> {
    let lines = lines_of(text);
    let t = |l: &Line| &text[l.text_start..l.text_end];
    let mut titles: Vec<usize> = Vec::new();
    let mut cues: HashMap<usize, u8> = HashMap::new();
    for (d, line) in lines.iter().enumerate() {
        let s = t(line);
        let cue = dateline_cue(s).or_else(|| is_byline(s).then_some(CUE_BYLINE));
        if let Some(cue) = cue {
            if let Some(title) = header_title(text, &lines, d) {
                titles.push(title);
                *cues.entry(title).or_insert(0) |= cue;
            }
            continue;
        }
        // A title, a comment counter, and the title again (`<title>` `0` `<title>`): a
        // counter or a repeat alone is too common in page furniture (photo counts, charts).
        if is_title_like(s)
            && lines.get(d + 1).is_some_and(|l| is_counter(t(l)))
            && lines.get(d + 2).is_some_and(|l| t(l).starts_with(s))
        {
            titles.push(d);
            *cues.entry(d).or_insert(0) |= CUE_COUNTER_REPEAT;
        }
    }
    titles.sort_unstable();
    titles.dedup();
    // A repeat or counter right after a title confirms the same article, not a new one.
    let mut merged: Vec<usize> = Vec::new();
    for &ti in &titles {
        if let Some(&prev) = merged.last() {
            let between = &lines[prev + 1..ti];
            if between.iter().all(|l| {
                let s = t(l);
                is_counter(s) || is_bullet(s) || t(&lines[prev]) == s
            }) && t(&lines[ti]).starts_with(t(&lines[prev]))
            {
                continue;
            }
        }
        merged.push(ti);
    }
    // A title shown twice (page header, then above the article) starts one article: the
    // later copy, which carries the cue.
    let merged: Vec<usize> = merged
        .iter()
        .enumerate()
        .filter(|&(k, &li)| {
            merged
                .get(k + 1)
                .is_none_or(|&next| t(&lines[li]) != t(&lines[next]))
        })
        .map(|(_, &li)| li)
        .collect();
    // Each article must hold a dense run of sentences.
    let mut starts: Vec<usize> = Vec::new();
    for (k, &ti) in merged.iter().enumerate() {
        let end = merged.get(k + 1).copied().unwrap_or(lines.len());
        let body: usize = lines[ti + 1..end]
            .iter()
            .map(t)
            .filter(|s| ends_sentence(s) || s.chars().count() > 120)
            .map(str::len)
            .sum();
        // Too thin to stand alone: it stays in the previous article.
        if body >= MIN_ARTICLE_BODY {
            starts.push(ti);
        }
    }
    if starts.len() < min_articles.max(2) {
        return None;
    }
    // Two articles must share a template (both `Site (City) –` datelines, both bylines): a
    // page with one article and a teaser or comment usually mixes cue kinds.
    if starts.len() == 2 {
        let kind = |li: &usize| cues.get(li).copied().unwrap_or(0);
        if kind(&starts[0]) & kind(&starts[1]) == 0 {
            return None;
        }
    }
    let first = lines[starts[0]].start;
    let preamble = &text[..first];
    let preamble_has_sentence = preamble.lines().any(|l| {
        let l = l.trim();
        ends_sentence(l) && l.split_whitespace().count() >= 6
    });
    let mut parts = Vec::with_capacity(starts.len());
    for (k, &li) in starts.iter().enumerate() {
        let begin = if k == 0 && preamble_has_sentence {
            0
        } else {
            lines[li].start
        };
        let end = starts
            .get(k + 1)
            .map_or(text.len(), |&next| lines[next].start);
        parts.push((begin, end, t(&lines[li]).to_string()));
    }
    let dropped_preamble =
        (!preamble_has_sentence && !preamble.trim().is_empty()).then_some((0, first));
    Some(Articles {
        parts,
        dropped_preamble,
    })
}

/// Walk back from the dateline/byline at line `d` to the article's title line.
fn header_title(text: &str, lines: &[Line], d: usize) -> Option<usize> {
    let t = |l: &Line| &text[l.text_start..l.text_end];
    let mut title: Option<usize> = None;
    let mut deck_used = false;
    let mut k = d;
    while k > 0 && d - k < LOOKBACK {
        k -= 1;
        let s = t(&lines[k]);
        if is_counter(s) || is_bullet(s) {
            continue;
        }
        if is_title_like(s) {
            match title {
                None => title = Some(k),
                // An earlier copy of the same title (`<title>` … `<title> by <site>`).
                Some(cur) if t(&lines[cur]).starts_with(s) => title = Some(k),
                Some(_) => break,
            }
            continue;
        }
        if title.is_none() && !deck_used && is_deck(s) {
            deck_used = true;
            continue;
        }
        break;
    }
    title
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datelines_from_real_pages() {
        let yes = [
            "Diplomat Times (Seoul) – At the presidential office, Senior Secretary Kim Eun-hye told a briefing.",
            "Diplomat Times (Washington)- Deputy Secretary of Defense Dr. Kathleen Hicks met with Indian National Security Advisor Ajit Doval in Washington, D.C., today.",
            "Diplomat Times (Seoul) –The Secretary General and President Yoon agreed on the need to keep pressure on North Korea.",
            "Agencies (Munich) – US Secretary of State Antony Blinken has warned China against providing “lethal support” for Russia’s invasion of Ukraine.",
            "LONDON, Feb 3 (Reuters) - Britain's economy will shrink this year, the central bank said.",
            "WASHINGTON — The Senate voted on Tuesday to approve the bill after a long debate.",
        ];
        for s in yes {
            assert!(is_dateline(s), "{s}");
        }
        let no = [
            "In April 1975, the Frontline States – then consisting of Botswana, Lesotho, Tanzania and Zambia – were formally recognized.",
            "Russian President Vladimir Putin discusses West’s oil price cap with Iraqi leader – Kremlin",
            "KFT - Kraftfahrzeugtechnik",
            "COMERCIAL - Mobil 300x600",
            "Chinese state-owned Xinhua News Agency reported the Blinken-Wang meeting was “requested by the U.S. side.”",
            "In an interview with CBS news, Blinken said China was “considering providing lethal support to Russia” – a red line for Washington.",
        ];
        for s in no {
            assert!(!is_dateline(s), "{s}");
        }
    }

    #[test]
    fn odd_pages_do_not_panic_or_split() {
        let pages = [
            String::new(),
            "\n\n\n".to_string(),
            "0\n0\n0".to_string(),
            "Title Line Here\n0\n".repeat(50),
            "A (B) – ".repeat(1000),
            "x".repeat(100_000),
        ];
        for page in &pages {
            assert!(find(page, 2).is_none());
        }
    }

    #[test]
    fn two_articles_with_the_same_template_split() {
        let page = include_str!("../../../tests/fixtures/seeds/002_31699701fbb39e56.txt");
        let end = page
            .find("Somalia-Frontline States Summit")
            .unwrap_or(page.len());
        let found = find(&page[..end], 2).unwrap();
        let titles: Vec<&str> = found.parts.iter().map(|p| p.2.as_str()).collect();
        assert_eq!(titles.len(), 2);
        assert!(titles[1].starts_with("In the British Government"));
        assert!(find(&page[..end], 3).is_none());
    }

    #[test]
    fn titles_and_bylines() {
        assert!(is_title_like(
            "Japan, other democracies to defend against China’s threat on international order : NATO"
        ));
        assert!(is_title_like("History of Frontline States"));
        assert!(!is_title_like(
            "Then-Senator Biden was the chair of that committee from 2001 to 2003 and 2007 to 2009."
        ));
        assert!(is_byline("By Jane Doe and John Roe"));
        assert!(!is_byline("By the way, this is not a byline"));
    }
}
