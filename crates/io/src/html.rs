//! HTML pages to text lines, keeping the page's bytes undecoded.
//!
//! WARC responses arrive as bytes in whatever charset the server used, and
//! the `decode` stage is the one place that decides charsets. So the
//! extracted text stays in the page's own encoding here:
//!
//! * UTF-8 pages (most of the web) are converted directly.
//! * Other pages have each byte >= 0x80 mapped to a private-use character
//!   (U+F780 + byte) before parsing; HTML syntax is ASCII, so the structure
//!   survives, and the text is mapped back to the same bytes afterwards.
//!   Characters that entities produce (`&eacute;`, `&#8217;`) are written
//!   in the page's declared charset (HTTP header, else `<meta charset>`)
//!   when it can hold them, else as UTF-8 (decode's `mixed` rule copes).
//!
//! Text extraction is html2text's (html5ever parser, the WHATWG tree
//! builder): block elements (`p`, `div`, `li`, `h1`, table cells in raw
//! mode ...) start new lines, so line-based stages (`deboilerplate`) see the
//! page as lines, as they do with WET text. Script, style and head content
//! are not rendered. Lines are not wrapped.
//!
//! Complexity: linear in the page size (parse, tree walk, render).

use html2text::render::TrivialDecorator;

/// Widest line before html2text wraps; paragraphs are far shorter.
const WIDTH: usize = 1 << 16;

const PUA: u32 = 0xF780;

/// Is a `files` document an HTML page, to be turned into text lines like a
/// WARC response's? By its name (`.html`, `.htm`, `.xhtml`, `.shtml`,
/// before any `.gz`/`.zst`), else by how it starts: `<!doctype html` or
/// `<html` after a byte-order mark and blank space. A text file that only
/// mentions tags stays text.
pub fn is_html_file(name: &str, bytes: &[u8]) -> bool {
    let lower = name.to_ascii_lowercase();
    let stem = crate::input::uncompressed_name(&lower);
    if [".html", ".htm", ".xhtml", ".shtml"]
        .iter()
        .any(|e| stem.ends_with(e))
    {
        return true;
    }
    let head = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let start = head
        .iter()
        .take(1024)
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(head.len());
    let head = &head[start..];
    [&b"<!doctype html"[..], b"<html"].iter().any(|tag| {
        head.get(..tag.len())
            .is_some_and(|h| h.eq_ignore_ascii_case(tag))
    })
}

/// The charset a page declares in a `<meta>` tag within its first 1024
/// bytes (`<meta charset=...>` or `content="text/html; charset=..."`).
pub fn meta_charset(html: &[u8]) -> Option<String> {
    let head = &html[..html.len().min(1024)];
    let lower: Vec<u8> = head.iter().map(|b| b.to_ascii_lowercase()).collect();
    let finder = memchr::memmem::Finder::new(b"charset");
    for i in finder.find_iter(&lower) {
        // Only inside a meta tag: the last '<' before must open `<meta`.
        let Some(open) = lower[..i].iter().rposition(|&b| b == b'<') else {
            continue;
        };
        if !lower[open..].starts_with(b"<meta") || lower[open..i].contains(&b'>') {
            continue;
        }
        let rest = &lower[i + 7..];
        let rest = rest.strip_prefix(b" ".as_slice()).unwrap_or(rest);
        let Some(rest) = rest.strip_prefix(b"=".as_slice()) else {
            continue;
        };
        let rest: &[u8] = {
            let t = rest
                .iter()
                .position(|b| !matches!(b, b' ' | b'"' | b'\''))
                .unwrap_or(rest.len());
            &rest[t..]
        };
        let end = rest
            .iter()
            .position(|b| matches!(b, b'"' | b'\'' | b' ' | b';' | b'>' | b'/'))
            .unwrap_or(rest.len());
        let name = String::from_utf8_lossy(&rest[..end]).into_owned();
        if !name.is_empty() {
            return Some(name);
        }
    }
    None
}

/// Deepest element nesting (as [`nesting_depth`] counts it) html2text is
/// given. html5ever's tree building is quadratic in nesting depth (1 000
/// nested `<div><b>` take 0.1 s, 10 000 take 4.5 s), so deeper pages go
/// through [`strip_tags`] instead. Of 1 473 real pages (trafilatura,
/// readability and article-extraction test sets) the median counts 36 and
/// the deepest 1 513 (unclosed inline tags), all below this.
pub const MAX_DEPTH: usize = 3000;

/// Elements without end tags (they do not nest).
const VOID: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
    "track", "wbr", "!doctype",
];

/// Elements whose end tag may be left out (they are not counted as
/// nesting, or every unclosed `<p>` of a long page would count).
const OPTIONAL_END: &[&str] = &[
    "p", "li", "dt", "dd", "tr", "td", "th", "option", "optgroup", "thead", "tbody", "tfoot",
    "colgroup", "caption", "rb", "rt", "rp",
];

/// Elements whose content is not text.
const RAW: &[&str] = &["script", "style", "noscript", "template", "title", "head"];

/// Elements that start a new line.
const BLOCK: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "br",
    "dd",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "li",
    "main",
    "nav",
    "ol",
    "p",
    "pre",
    "section",
    "table",
    "td",
    "th",
    "tr",
    "ul",
];

/// One tag at `s[i] == '<'`: (name lowercased, is end tag, index after `>`).
fn tag_at(s: &[u8], i: usize) -> Option<(String, bool, usize)> {
    let mut j = i + 1;
    let end = s.get(j) == Some(&b'/');
    if end {
        j += 1;
    }
    let start = j;
    while j < s.len() && (s[j].is_ascii_alphanumeric() || s[j] == b'!' || s[j] == b'-') {
        j += 1;
    }
    if j == start || !(s[start].is_ascii_alphabetic() || s[start] == b'!') {
        return None;
    }
    let name = String::from_utf8_lossy(&s[start..j]).to_ascii_lowercase();
    let close = memchr::memchr(b'>', &s[j..])
        .map(|k| j + k + 1)
        .unwrap_or(s.len());
    Some((name, end, close))
}

/// Maximum element nesting, roughly (elements with optional end tags are
/// not counted).
fn nesting_depth(s: &[u8]) -> usize {
    let (mut depth, mut max) = (0usize, 0usize);
    for i in memchr::memchr_iter(b'<', s) {
        if let Some((name, end, _)) = tag_at(s, i) {
            if OPTIONAL_END.contains(&name.as_str()) {
                continue;
            }
            if end {
                depth = depth.saturating_sub(1);
            } else if !VOID.contains(&name.as_str()) {
                depth += 1;
                max = max.max(depth);
            }
        }
    }
    max
}

/// A plain linear tag stripper for pathological pages: block tags become
/// line breaks, raw-text elements and comments vanish, the common entities
/// are decoded.
pub fn strip_tags(html: &str) -> String {
    let s = html.as_bytes();
    let mut out = String::with_capacity(html.len() / 2);
    let mut i = 0;
    while i < s.len() {
        let Some(k) = memchr::memchr(b'<', &s[i..]) else {
            push_text(&mut out, &html[i..]);
            break;
        };
        push_text(&mut out, &html[i..i + k]);
        i += k;
        if s[i..].starts_with(b"<!--") {
            i = memchr::memmem::find(&s[i..], b"-->").map_or(s.len(), |e| i + e + 3);
            continue;
        }
        match tag_at(s, i) {
            Some((name, end, after)) => {
                if BLOCK.contains(&name.as_str()) {
                    out.push('\n');
                }
                i = after;
                if !end && RAW.contains(&name.as_str()) {
                    let close = format!("</{name}");
                    let lower_find = s[i..]
                        .windows(close.len())
                        .position(|w| w.eq_ignore_ascii_case(close.as_bytes()));
                    i = match lower_find {
                        Some(e) => {
                            let e = i + e;
                            memchr::memchr(b'>', &s[e..]).map_or(s.len(), |g| e + g + 1)
                        }
                        None => s.len(),
                    };
                }
            }
            None => {
                out.push('<');
                i += 1;
            }
        }
    }
    out
}

fn push_text(out: &mut String, text: &str) {
    let mut rest = text;
    while let Some(a) = rest.find('&') {
        out.push_str(&rest[..a]);
        rest = &rest[a..];
        let semi = rest.as_bytes().iter().take(12).position(|&b| b == b';');
        let decoded = semi.and_then(|e| {
            let name = &rest[1..e];
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some('\u{a0}'),
                // The typographic ones news pages are full of.
                "rsquo" => Some('\u{2019}'),
                "lsquo" => Some('\u{2018}'),
                "ldquo" => Some('\u{201c}'),
                "rdquo" => Some('\u{201d}'),
                "mdash" => Some('\u{2014}'),
                "ndash" => Some('\u{2013}'),
                "hellip" => Some('\u{2026}'),
                _ => {
                    let num = name.strip_prefix('#')?;
                    let v = match num.strip_prefix(['x', 'X']) {
                        Some(h) => u32::from_str_radix(h, 16).ok()?,
                        None => num.parse().ok()?,
                    };
                    char::from_u32(v)
                }
            }?;
            Some((c, e + 1))
        });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
}

fn render(html: &str) -> String {
    if nesting_depth(html.as_bytes()) > MAX_DEPTH {
        return strip_tags(html);
    }
    let config = html2text::config::with_decorator(TrivialDecorator::new())
        .raw_mode(true)
        .allow_width_overflow()
        .no_link_wrapping();
    // html2text reports only impossible layouts; an empty document is
    // better than markup then.
    config
        .string_from_read(html.as_bytes(), WIDTH)
        .unwrap_or_default()
}

/// Lines without trailing spaces and at most one blank line in a row;
/// html2text pads some blocks.
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = true;
    for line in text.lines() {
        let line = line.trim_end();
        if line.is_empty() {
            if !blank {
                out.push('\n');
            }
            blank = true;
            continue;
        }
        out.push_str(line);
        out.push('\n');
        blank = false;
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

/// The text of an HTML page as bytes in the page's own encoding (see the
/// module docs). `declared` is the HTTP charset, if any.
pub fn html_to_text(html: &[u8], declared: Option<&str>) -> Vec<u8> {
    if let Ok(s) = std::str::from_utf8(html) {
        return tidy(&render(s)).into_bytes();
    }
    let mapped: String = html
        .iter()
        .map(|&b| {
            if b < 0x80 {
                b as char
            } else {
                char::from_u32(PUA + b as u32).unwrap_or('\u{fffd}')
            }
        })
        .collect();
    let text = tidy(&render(&mapped));
    let label = declared
        .map(str::to_string)
        .or_else(|| meta_charset(html))
        .and_then(|l| encoding_rs::Encoding::for_label(l.as_bytes()))
        .filter(|e| *e != encoding_rs::UTF_8);
    let mut out = Vec::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut Vec<u8>| {
        if run.is_empty() {
            return;
        }
        match label {
            Some(enc) => {
                let (bytes, _, unmappable) = enc.encode(run);
                if unmappable {
                    out.extend_from_slice(run.as_bytes());
                } else {
                    out.extend_from_slice(&bytes);
                }
            }
            None => out.extend_from_slice(run.as_bytes()),
        }
        run.clear();
    };
    for c in text.chars() {
        let u = c as u32;
        if u < 0x80 {
            flush(&mut run, &mut out);
            out.push(u as u8);
        } else if (PUA + 0x80..=PUA + 0xFF).contains(&u) {
            flush(&mut run, &mut out);
            out.push((u - PUA) as u8);
        } else {
            run.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_become_lines_and_scripts_vanish() {
        let page = br#"<!DOCTYPE html><html><head><title>Tea</title>
<style>p { color: red }</style><script>var x = "<p>no</p>";</script></head>
<body><nav><a href="/">Home</a> | <a href="/shop">Shop</a></nav>
<h1>Green tea</h1><p>Steep green tea at 80&nbsp;&deg;C for two minutes.</p>
<ul><li>Sencha</li><li>Gyokuro</li></ul>
<table><tr><td>Price</td><td>4 &euro;</td></tr></table></body></html>"#;
        let text = String::from_utf8(html_to_text(page, None)).unwrap();
        let lines: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
        assert!(lines.contains(&"Green tea"), "{text}");
        assert!(
            lines.contains(&"Steep green tea at 80\u{a0}°C for two minutes."),
            "{text}"
        );
        assert!(lines.iter().any(|l| l.ends_with("Sencha")), "{text}");
        assert!(lines.iter().any(|l| l.ends_with("Gyokuro")), "{text}");
        assert!(lines.iter().any(|l| l.contains("4 €")), "{text}");
        assert!(!text.contains("var x"), "{text}");
        assert!(!text.contains("color"), "{text}");
        assert!(!text.contains('<'), "{text}");
    }

    #[test]
    fn legacy_bytes_survive_and_entities_use_the_declared_charset() {
        // windows-1251 page: "Привет, мир" with an entity for an em dash
        // and one for a Latin letter.
        let mut page = b"<html><head><meta charset=\"windows-1251\"></head><body><p>".to_vec();
        page.extend_from_slice(&[0xCF, 0xF0, 0xE8, 0xE2, 0xE5, 0xF2]);
        page.extend_from_slice(b" &mdash; caf&eacute;</p></body></html>");
        let bytes = html_to_text(&page, None);
        let (text, _, bad) = encoding_rs::WINDOWS_1251.decode(&bytes);
        assert!(!bad);
        // U+00E9 does not exist in windows-1251, so it stays UTF-8.
        let mut want = vec![0xCF, 0xF0, 0xE8, 0xE2, 0xE5, 0xF2, b' ', 0x97, b' '];
        want.extend_from_slice(b"caf\xc3\xa9\n");
        assert_eq!(bytes, want, "{text}");
        assert_eq!(meta_charset(&page).as_deref(), Some("windows-1251"));
    }

    #[test]
    fn pathologically_deep_pages_are_stripped_in_linear_time() {
        let mut page = "<p>Intro &amp; more</p><script>var a = '<div>';</script>".to_string();
        for _ in 0..20_000 {
            page.push_str("<div><b>");
        }
        page.push_str("deep text &#8212; end<!-- <p>hidden</p> -->");
        assert!(nesting_depth(page.as_bytes()) > MAX_DEPTH);
        let text = String::from_utf8(html_to_text(page.as_bytes(), None)).unwrap();
        assert_eq!(text, "Intro & more\n\ndeep text \u{2014} end\n");
        // The page went to the one-pass stripper (html2text would take
        // minutes on it; timings belong in the benches, not here).
        assert_eq!(text, tidy(&strip_tags(&page)));
        assert_eq!(
            strip_tags("<p>&ldquo;Yes&rdquo; &mdash; it&rsquo;s 3&ndash;4&hellip;</p>"),
            "\n\u{201c}Yes\u{201d} \u{2014} it\u{2019}s 3\u{2013}4\u{2026}\n"
        );
        // Ordinary pages stay far below the limit.
        assert_eq!(
            nesting_depth(b"<html><body><div><p>a<br>b<img src=x></p><ul><li>x<li>y</ul></div>"),
            4
        );
    }

    #[test]
    fn html_files_are_known_by_name_or_by_their_first_tag() {
        assert!(is_html_file("site/a.HTML.gz", b"no tags at all"));
        assert!(is_html_file("b.htm", b""));
        assert!(is_html_file(
            "c.txt",
            b"\xef\xbb\xbf\n  <!DOCTYPE html><p>x"
        ));
        assert!(is_html_file("d", b"<html lang=en>"));
        assert!(!is_html_file("e.txt", b"if a <html> tag shows up later"));
        assert!(!is_html_file("f.txt", b"<p>a fragment is text</p>"));
        assert!(!is_html_file("g.html.txt", b"plain"));
    }

    #[test]
    fn meta_charset_forms() {
        for (html, want) in [
            (
                &b"<meta http-equiv=\"Content-Type\" content=\"text/html; charset=ISO-8859-1\">"[..],
                Some("iso-8859-1"),
            ),
            (b"<META CHARSET='Shift_JIS'>", Some("shift_jis")),
            (b"<p>charset=utf-8 is text, not a tag</p>", None),
            (b"", None),
        ] {
            assert_eq!(meta_charset(html).as_deref(), want);
        }
    }
}
