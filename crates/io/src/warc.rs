//! WARC and WET input: records of a (decompressed) WARC stream to raw
//! records, with every damaged record located and the next one found again.
//!
//! One reader serves both kinds of file, since both are WARC/1.x streams:
//!
//! * `conversion` records (WET: the text Common Crawl extracted from a page)
//!   become documents with id = `WARC-Record-ID`, and passthrough fields
//!   `url` (`WARC-Target-URI`), `date` (`WARC-Date`), `content_type` and
//!   `language` (`WARC-Identified-Content-Language`) when present.
//! * `response` records (WARC) whose HTTP payload is HTML or plain text
//!   become documents whose text is extracted later, on a worker
//!   ([`crate::html`]), still as bytes so that `decode` chooses the charset
//!   with the HTTP `Content-Type` charset as its hint.
//! * Everything else (`warcinfo`, `request`, `metadata`, `revisit`,
//!   `resource`, responses that are not 2xx or not text) is skipped and
//!   counted by kind in the [`ReadSummary`].
//!
//! A damaged record (no `WARC/1.` header where one should be, a missing or
//! bad `Content-Length`, a block that does not end where `Content-Length`
//! says, a file that ends inside a record) becomes an error record naming
//! its byte offset in the decompressed stream; reading resumes at the next
//! line that starts with `WARC/1.`, searched from the end of the damaged
//! record's header (so a too-long `Content-Length` loses no later record).
//!
//! Gzip input (one member per record, as Common Crawl writes it) is read as
//! one stream by [`crate::input::open_decompressed`].
//!
//! Complexity: linear in the input; each byte is copied once into its
//! record, plus a `memchr`-speed search after a damaged record.

use crate::input::describe;
use crate::reader::{RawKind, RawRecord};
use memchr::memmem;
use serde_json::value::RawValue;
use std::collections::BTreeMap;
use std::io::{self, Read};
use std::sync::Arc;

/// What a reader saw besides the records it emitted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadSummary {
    /// Records deliberately not turned into documents, by kind
    /// (`warcinfo`, `request`, `response:non-text` ...).
    pub skipped: BTreeMap<String, u64>,
}

impl ReadSummary {
    pub fn skipped_total(&self) -> u64 {
        self.skipped.values().sum()
    }
    fn skip(&mut self, what: &str) {
        *self.skipped.entry(what.to_string()).or_insert(0) += 1;
    }
}

/// A buffered reader that knows the absolute offset of its next byte and
/// can look ahead and push bytes back (for resynchronisation).
struct Src<R: Read> {
    inner: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Offset in the stream of `buf[start]`.
    offset: u64,
    eof: bool,
}

const BUF: usize = 1 << 20;

impl<R: Read> Src<R> {
    fn new(inner: R) -> Self {
        Src {
            inner,
            buf: vec![0; BUF],
            start: 0,
            end: 0,
            offset: 0,
            eof: false,
        }
    }

    fn avail(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Make at least `n` bytes available (fewer only at end of input).
    fn fill(&mut self, n: usize) -> io::Result<()> {
        while self.end - self.start < n && !self.eof {
            if self.start > 0 && (self.buf.len() - self.start < n || self.start == self.end) {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            if self.buf.len() - self.end < BUF / 4 || self.buf.len() < n {
                let want = (self.buf.len() * 2).max(n);
                self.buf.resize(want, 0);
            }
            match self.inner.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(k) => self.end += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn consume(&mut self, n: usize) {
        let n = n.min(self.end - self.start);
        self.start += n;
        self.offset += n as u64;
    }

    /// One line without its `\n` (and `\r`), at most `max` bytes kept; `None`
    /// at end of input.
    fn line(&mut self, max: usize) -> io::Result<Option<Vec<u8>>> {
        let mut out = Vec::new();
        let mut any = false;
        loop {
            if self.start == self.end {
                self.fill(1)?;
                if self.start == self.end {
                    return Ok(any.then_some(out));
                }
            }
            any = true;
            let a = self.avail();
            let (take, done) = match memchr::memchr(b'\n', a) {
                Some(i) => (i, true),
                None => (a.len(), false),
            };
            if out.len() < max {
                let keep = take.min(max - out.len());
                out.extend_from_slice(&a[..keep]);
            }
            self.consume(take + usize::from(done));
            if done {
                if out.last() == Some(&b'\r') {
                    out.pop();
                }
                return Ok(Some(out));
            }
        }
    }

    /// Exactly `n` bytes into `out` (fewer at end of input).
    fn take_into(&mut self, n: usize, out: &mut Vec<u8>) -> io::Result<()> {
        out.reserve(n);
        let mut left = n;
        while left > 0 {
            if self.start == self.end {
                self.fill(1)?;
                if self.start == self.end {
                    return Ok(());
                }
            }
            let k = left.min(self.end - self.start);
            out.extend_from_slice(&self.buf[self.start..self.start + k]);
            self.consume(k);
            left -= k;
        }
        Ok(())
    }

    /// Skip `n` bytes; returns how many were there.
    fn skip(&mut self, n: u64) -> io::Result<u64> {
        let mut left = n;
        while left > 0 {
            if self.start == self.end {
                self.fill(1)?;
                if self.start == self.end {
                    break;
                }
            }
            let k = (left.min((self.end - self.start) as u64)) as usize;
            self.consume(k);
            left -= k as u64;
        }
        Ok(n - left)
    }

    /// Put `bytes` (which ended at the current offset) back in front.
    fn unread(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let mut v = Vec::with_capacity(bytes.len() + self.end - self.start + BUF);
        v.extend_from_slice(bytes);
        v.extend_from_slice(self.avail());
        let len = v.len();
        v.resize(len.max(BUF), 0);
        self.buf = v;
        self.start = 0;
        self.end = len;
        self.offset -= bytes.len() as u64;
    }

    /// Advance to the next line that starts with `WARC/1.` (at a line start:
    /// offset 0 or after `\n`). Returns the bytes skipped.
    fn resync(&mut self) -> io::Result<u64> {
        self.resync_keep(None).map(|(n, _)| n)
    }

    /// [`Src::resync`], appending the skipped bytes to `keep.0` unless that
    /// would pass `keep.1` bytes (then `true` is returned with the count).
    fn resync_keep(&mut self, mut keep: Option<(&mut Vec<u8>, usize)>) -> io::Result<(u64, bool)> {
        const MARK: &[u8] = b"\nWARC/1.";
        let mut skipped = 0u64;
        let mut overflow = false;
        self.fill(MARK.len())?;
        if self.avail().starts_with(&MARK[1..]) {
            return Ok((0, false));
        }
        loop {
            self.fill(MARK.len())?;
            let a = self.avail();
            if a.is_empty() {
                return Ok((skipped, overflow));
            }
            let (n, done) = match memmem::find(a, MARK) {
                Some(i) => (i + 1, true),
                None if self.eof => (a.len(), true),
                // Keep the last bytes: the mark may straddle the refill.
                None => (a.len() - (MARK.len() - 1), false),
            };
            if let Some((v, cap)) = keep.as_mut() {
                if v.len() + n <= *cap {
                    v.extend_from_slice(&a[..n]);
                } else {
                    overflow = true;
                    keep = None;
                }
            }
            self.consume(n);
            skipped += n as u64;
            if done {
                return Ok((skipped, overflow));
            }
            self.fill(BUF / 2)?;
        }
    }
}

/// The WARC header fields this reader uses.
#[derive(Debug, Default)]
struct Header {
    kind: String,
    id: String,
    uri: String,
    date: String,
    content_type: String,
    language: String,
    length: Option<u64>,
    bad_length: Option<String>,
}

fn parse_header_line(h: &mut Header, line: &[u8]) {
    let Some(colon) = memchr::memchr(b':', line) else {
        return;
    };
    let name = &line[..colon];
    let value = || {
        String::from_utf8_lossy(&line[colon + 1..])
            .trim()
            .to_string()
    };
    if name.eq_ignore_ascii_case(b"WARC-Type") {
        h.kind = value().to_ascii_lowercase();
    } else if name.eq_ignore_ascii_case(b"WARC-Record-ID") {
        h.id = value();
    } else if name.eq_ignore_ascii_case(b"WARC-Target-URI") {
        // WARC 1.0 writes the URI bare; some writers wrap it in <>.
        let v = value();
        h.uri = v
            .strip_prefix('<')
            .and_then(|v| v.strip_suffix('>'))
            .map(str::to_string)
            .unwrap_or(v);
    } else if name.eq_ignore_ascii_case(b"WARC-Date") {
        h.date = value();
    } else if name.eq_ignore_ascii_case(b"Content-Type") {
        h.content_type = value();
    } else if name.eq_ignore_ascii_case(b"WARC-Identified-Content-Language") {
        h.language = value();
    } else if name.eq_ignore_ascii_case(b"Content-Length") {
        let v = value();
        match v.parse::<u64>() {
            Ok(n) => h.length = Some(n),
            Err(_) => h.bad_length = Some(v),
        }
    }
}

fn json_str(s: &str) -> Box<RawValue> {
    let mut out = Vec::with_capacity(s.len() + 2);
    crate::json::push_json_str(&mut out, s);
    // push_json_str always writes a valid JSON string.
    RawValue::from_string(String::from_utf8_lossy(&out).into_owned())
        .unwrap_or_else(|_| Box::<RawValue>::default())
}

/// A document-to-be from a WARC record (text extraction and UTF-8 checks
/// happen on the workers, in [`crate::record::parse_record`]).
#[derive(Debug)]
pub struct WebRecord {
    pub id: String,
    /// The record's block: WET text, or the HTTP payload (body only).
    pub bytes: Vec<u8>,
    /// The payload is HTML, to be turned into text.
    pub html: bool,
    /// Declared charset (HTTP `Content-Type`), a hint for decode.
    pub charset: Option<String>,
    /// Passthrough fields (`url`, `date`, `content_type`, `language`).
    pub fields: Vec<(String, Box<RawValue>)>,
    /// A repaired problem (wrong `Content-Length`), for `attributes.warc_warning`.
    pub note: Option<String>,
}

/// `charset=` of a `Content-Type` value, lowercased, without quotes.
pub fn charset_of(content_type: &str) -> Option<String> {
    content_type
        .split(';')
        .skip(1)
        .find_map(|p| {
            let (k, v) = p.split_once('=')?;
            k.trim().eq_ignore_ascii_case("charset").then(|| {
                v.trim()
                    .trim_matches(|c| c == '"' || c == '\'')
                    .to_ascii_lowercase()
            })
        })
        .filter(|c| !c.is_empty())
}

/// An HTTP response split into what we need.
struct Http<'a> {
    status: u16,
    content_type: String,
    chunked: bool,
    gzip: bool,
    body: &'a [u8],
}

fn parse_http(block: &[u8]) -> Option<Http<'_>> {
    let end = memmem::find(block, b"\r\n\r\n")
        .map(|i| (i, i + 4))
        .or_else(|| memmem::find(block, b"\n\n").map(|i| (i, i + 2)))?;
    let head = std::str::from_utf8(&block[..end.0]).ok()?;
    let mut lines = head.lines();
    let status_line = lines.next()?;
    if !status_line.starts_with("HTTP/") {
        return None;
    }
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())?;
    let mut http = Http {
        status,
        content_type: String::new(),
        chunked: false,
        gzip: false,
        body: &block[end.1..],
    };
    for l in lines {
        let Some((k, v)) = l.split_once(':') else {
            continue;
        };
        let (k, v) = (k.trim(), v.trim());
        if k.eq_ignore_ascii_case("content-type") {
            http.content_type = v.to_string();
        } else if k.eq_ignore_ascii_case("transfer-encoding") {
            http.chunked = v.to_ascii_lowercase().contains("chunked");
        } else if k.eq_ignore_ascii_case("content-encoding") {
            let v = v.to_ascii_lowercase();
            http.gzip = v.contains("gzip") || v.contains("deflate");
        }
    }
    Some(http)
}

/// Undo `Transfer-Encoding: chunked`; `None` when the chunks are broken.
fn dechunk(mut b: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(b.len());
    loop {
        let nl = memchr::memchr(b'\n', b)?;
        let size_str = std::str::from_utf8(&b[..nl]).ok()?;
        let size_str = size_str.split(';').next()?.trim();
        let size = usize::from_str_radix(size_str, 16).ok()?;
        b = &b[nl + 1..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(b.get(..size)?);
        b = &b[size..];
        b = b
            .strip_prefix(b"\r\n".as_slice())
            .or_else(|| b.strip_prefix(b"\n".as_slice()))?;
    }
}

/// Read every WARC record of `input`, emitting documents and errors. The
/// caller has opened (and decompressed) the stream. Returns the skip counts.
pub fn read_warc(
    r: impl Read,
    file: &Arc<str>,
    max_doc_bytes: usize,
    emit: &mut dyn FnMut(RawRecord) -> bool,
) -> ReadSummary {
    let mut summary = ReadSummary::default();
    let mut src = Src::new(r);
    let mut recno = 0u64;
    let mut any = false;
    let error = |recno: u64, msg: String| RawRecord {
        file: file.clone(),
        line: recno,
        kind: RawKind::Error(msg),
    };
    let mut block = Vec::new();
    loop {
        // Skip blank lines between records.
        let at = src.offset;
        let first = match src.line(64) {
            Ok(None) => break,
            Ok(Some(l)) => l,
            Err(e) => {
                emit(error(recno + 1, read_failed(at, &e)));
                return summary;
            }
        };
        if first.is_empty() {
            continue;
        }
        recno += 1;
        any = true;
        if !first.starts_with(b"WARC/1.") {
            let skipped = match src.resync() {
                Ok(n) => n,
                Err(e) => {
                    emit(error(recno, read_failed(at, &e)));
                    return summary;
                }
            };
            let msg = format!(
                "no WARC/1.x header at byte {at}; skipped {} bytes to the next record",
                skipped + first.len() as u64 + 1
            );
            if !emit(error(recno, msg)) {
                return summary;
            }
            continue;
        }
        let mut h = Header::default();
        // Header lines up to the blank line.
        let mut header_ok = true;
        loop {
            match src.line(1 << 16) {
                Ok(Some(l)) if l.is_empty() => break,
                Ok(Some(l)) => parse_header_line(&mut h, &l),
                Ok(None) => {
                    header_ok = false;
                    break;
                }
                Err(e) => {
                    emit(error(recno, read_failed(at, &e)));
                    return summary;
                }
            }
        }
        if !header_ok {
            emit(error(
                recno,
                format!("truncated record at byte {at}: the file ends inside its header"),
            ));
            break;
        }
        let Some(len) = h.length else {
            let why = match &h.bad_length {
                Some(v) => format!("bad Content-Length `{v}`"),
                None => "no Content-Length".to_string(),
            };
            let go = resync_after(&mut src);
            if !emit(error(recno, format!("{why} in record at byte {at}; {go}"))) {
                return summary;
            }
            continue;
        };
        let wanted = matches!(h.kind.as_str(), "conversion" | "response");
        if len > max_doc_bytes as u64 {
            // Too large to keep: skip the block without buffering it.
            match src.skip(len) {
                Ok(n) if n < len => {
                    emit(error(
                        recno,
                        format!(
                            "truncated record at byte {at}: Content-Length is {len} but the file ends after {n} bytes"
                        ),
                    ));
                    break;
                }
                Ok(_) => {}
                Err(e) => {
                    emit(error(recno, read_failed(at, &e)));
                    return summary;
                }
            }
            let msg = match check_trailer(&mut src) {
                Ok(true) if !wanted => {
                    summary.skip(&h.kind);
                    continue;
                }
                Ok(true) => format!(
                    "record at byte {at} of {len} bytes exceeds max_doc_bytes ({max_doc_bytes})"
                ),
                Ok(false) => format!(
                    "record at byte {at} does not end where Content-Length ({len}) says; {}",
                    resync_after(&mut src)
                ),
                Err(e) => {
                    emit(error(recno, read_failed(at, &e)));
                    return summary;
                }
            };
            if !emit(error(recno, msg)) {
                return summary;
            }
            continue;
        }
        block.clear();
        if let Err(e) = src.take_into(len as usize, &mut block) {
            emit(error(recno, read_failed(at, &e)));
            return summary;
        }
        let complete = (block.len() as u64) == len;
        let trailer_ok = complete
            && match check_trailer(&mut src) {
                Ok(ok) => ok,
                Err(e) => {
                    emit(error(recno, read_failed(at, &e)));
                    return summary;
                }
            };
        let mut note = None;
        if !trailer_ok {
            // A wrong Content-Length. Too long: the next header is inside
            // the block; the record may be cut short, so it is reported
            // and dropped, and reading resumes at that header.
            let next = if block.starts_with(b"WARC/1.") {
                Some(0)
            } else {
                memmem::find(&block, b"\nWARC/1.").map(|i| i + 1)
            };
            if let Some(i) = next {
                src.unread(&block[i..]);
                if !wanted {
                    // Nothing to lose: the record was to be skipped.
                    summary.skip(&h.kind);
                    continue;
                }
                let msg = format!(
                    "Content-Length ({len}) of the record at byte {at} runs into the next record (at byte {}); record skipped",
                    src.offset
                );
                if !emit(error(recno, msg)) {
                    return summary;
                }
                continue;
            }
            if !complete {
                emit(error(
                    recno,
                    format!(
                        "truncated record at byte {at}: Content-Length is {len} but the file ends after {} bytes",
                        block.len()
                    ),
                ));
                break;
            }
            // Too short: nothing is missing, the record runs on to the next
            // header. Keep all of it, and say so on the document.
            let overflow =
                match src.resync_keep(Some((&mut block, max_doc_bytes.saturating_add(4)))) {
                    Ok((_, o)) => o,
                    Err(e) => {
                        emit(error(recno, read_failed(at, &e)));
                        return summary;
                    }
                };
            if overflow {
                let msg = format!(
                    "record at byte {at} runs past its Content-Length ({len}) and beyond max_doc_bytes ({max_doc_bytes}); record skipped"
                );
                if !emit(error(recno, msg)) {
                    return summary;
                }
                continue;
            }
            while matches!(block.last(), Some(b'\r' | b'\n')) && block.len() as u64 > len {
                block.pop();
            }
            note = Some(format!(
                "Content-Length {len} but the record holds {} bytes (kept all)",
                block.len()
            ));
        }
        if !wanted {
            summary.skip(if h.kind.is_empty() {
                "untyped"
            } else {
                &h.kind
            });
            continue;
        }
        let rec = match web_record(&h, std::mem::take(&mut block)) {
            Ok(mut w) => {
                w.note = note;
                w
            }
            Err(skip) => {
                summary.skip(skip);
                continue;
            }
        };
        if !emit(RawRecord {
            file: file.clone(),
            line: recno,
            kind: RawKind::Web(Box::new(rec)),
        }) {
            return summary;
        }
    }
    if !any {
        emit(error(0, "empty file".to_string()));
    }
    summary
}

fn read_failed(at: u64, e: &io::Error) -> String {
    format!(
        "read failed in the record at byte {at} (truncated or corrupt input?): {}; rest of file skipped",
        describe(e)
    )
}

/// Resynchronise and say where reading resumes.
fn resync_after<R: Read>(src: &mut Src<R>) -> String {
    match src.resync() {
        Ok(_) if src.avail().is_empty() => "no later record in the file".to_string(),
        Ok(_) => format!("resumed at the next record, byte {}", src.offset),
        Err(e) => format!(
            "read failed while looking for the next record: {}",
            describe(&e)
        ),
    }
}

/// After a block: CR/LF bytes, then `WARC/1.` or the end of input.
fn check_trailer<R: Read>(src: &mut Src<R>) -> io::Result<bool> {
    src.fill(16)?;
    let a = src.avail();
    let nl = a
        .iter()
        .take(8)
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .count();
    let rest = &a[nl..];
    if rest.is_empty() && src.eof {
        src.consume(nl);
        return Ok(true);
    }
    if rest.starts_with(b"WARC/1.") {
        src.consume(nl);
        return Ok(true);
    }
    Ok(false)
}

/// The document of a `conversion` or `response` record, or the skip kind.
fn web_record(h: &Header, block: Vec<u8>) -> Result<WebRecord, &'static str> {
    let mut fields = Vec::with_capacity(4);
    if !h.uri.is_empty() {
        fields.push(("url".to_string(), json_str(&h.uri)));
    }
    if !h.date.is_empty() {
        fields.push(("date".to_string(), json_str(&h.date)));
    }
    let id = h.id.clone();
    if h.kind == "conversion" {
        if !h.content_type.is_empty() {
            fields.push(("content_type".to_string(), json_str(&h.content_type)));
        }
        if !h.language.is_empty() {
            fields.push(("language".to_string(), json_str(&h.language)));
        }
        return Ok(WebRecord {
            id,
            bytes: block,
            html: false,
            charset: None,
            fields,
            note: None,
        });
    }
    // A response: HTTP status line, headers, payload.
    let Some(http) = parse_http(&block) else {
        return Err("response:not-http");
    };
    if !(200..300).contains(&http.status) {
        return Err("response:not-2xx");
    }
    let mime = http
        .content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let html = matches!(mime.as_str(), "text/html" | "application/xhtml+xml");
    if !html && mime != "text/plain" {
        return Err("response:not-text");
    }
    let mut body = if http.chunked {
        dechunk(http.body).ok_or("response:bad-chunks")?
    } else {
        http.body.to_vec()
    };
    if http.gzip {
        let mut out = Vec::new();
        let mut d = flate2::read::MultiGzDecoder::new(&body[..]);
        if d.read_to_end(&mut out).is_err() {
            // Deflate without the gzip wrapper, as some servers send.
            out.clear();
            let mut z = flate2::read::ZlibDecoder::new(&body[..]);
            if z.read_to_end(&mut out).is_err() {
                return Err("response:bad-content-encoding");
            }
        }
        body = out;
    }
    if !http.content_type.is_empty() {
        fields.push(("content_type".to_string(), json_str(&http.content_type)));
    }
    Ok(WebRecord {
        id,
        charset: charset_of(&http.content_type),
        bytes: body,
        html,
        fields,
        note: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::{Format, InputFile};
    use crate::record::{parse_record, RecordOptions};
    use sluicebox_core::Document;
    use std::io::Write;

    fn fixture(name: &str) -> String {
        format!(
            "{}/../../tests/fixtures/formats/{name}",
            env!("CARGO_MANIFEST_DIR")
        )
    }

    /// Read a file as its name says; documents (parsed) and error messages.
    fn read(path: &str, format: Option<Format>) -> (Vec<Document>, Vec<String>, ReadSummary) {
        let (files, errs) = crate::expand_inputs(&[path.to_string()], format);
        assert!(errs.is_empty());
        let mut docs = Vec::new();
        let mut errors = Vec::new();
        let summary = crate::read_input(&files[0], 1 << 20, &mut |raw| {
            let line = raw.line;
            match parse_record(raw, &RecordOptions::default()) {
                Ok(d) => docs.push(d),
                Err(e) => errors.push(format!("{line}: {e}")),
            }
            true
        });
        (docs, errors, summary)
    }

    fn text_of(d: &Document) -> String {
        match &d.raw {
            Some(r) => String::from_utf8_lossy(r).into_owned(),
            None => d.text.clone(),
        }
    }

    fn record(kind: &str, uri: &str, id: &str, extra: &str, block: &[u8]) -> Vec<u8> {
        let mut r = format!(
            "WARC/1.0\r\nWARC-Type: {kind}\r\nWARC-Target-URI: {uri}\r\nWARC-Date: 2024-03-01T10:00:00Z\r\nWARC-Record-ID: <urn:uuid:{id}>\r\n{extra}Content-Length: {}\r\n\r\n",
            block.len()
        )
        .into_bytes();
        r.extend_from_slice(block);
        r.extend_from_slice(b"\r\n\r\n");
        r
    }

    #[test]
    fn ccnet_wet_sample_reads_by_name() {
        let (docs, errors, summary) = read(&fixture("ccnet_sample.warc.wet"), None);
        assert!(errors.is_empty(), "{errors:?}");
        let urls: Vec<_> = docs.iter().map(|d| d.url().unwrap()).collect();
        assert_eq!(
            urls,
            [
                "http://sample_english.com",
                "http://sample_chinese.zh",
                "http://sample_russian.ru"
            ]
        );
        assert_eq!(
            docs[0].id,
            "<urn:uuid:cd61b0b3-d9b0-466c-9a5e-99c191f8d2e1>"
        );
        assert_eq!(
            docs[2].id,
            "<urn:uuid:27dccd48-27b2-4eb0-b10b-a43661cbf0bc>"
        );
        assert!(docs[0]
            .text
            .starts_with("Famous Mark Twain Quotes\nDon't part"));
        assert!(docs[0].text.ends_with("Truth isn't."), "{}", docs[0].text);
        // This hand-made sample counts characters, not bytes, in
        // Content-Length: every record runs on to the next header.
        assert_eq!(
            docs[1].attributes["warc_warning"],
            "Content-Length 109 but the record holds 311 bytes (kept all)"
        );
        assert!(docs[1].text.ends_with('。'), "{}", docs[1].text);
        assert_eq!(
            docs[0].field_str("date").as_deref(),
            Some("2019-03-18T00:00:00Z")
        );
        assert_eq!(
            docs[0].field_str("content_type").as_deref(),
            Some("text/plain")
        );
        assert!(docs[2].text.chars().any(|c| ('а'..='я').contains(&c)));
        assert_eq!(summary.skipped.get("warcinfo"), Some(&1));
        assert_eq!(summary.skipped_total(), 1);
        // Records are numbered in the file: warcinfo is 1.
        assert_eq!(docs[0].origin.line, 2);
    }

    #[test]
    fn dolma_warc_responses_become_html_text() {
        let mut total_docs = 0;
        for (name, responses, requests) in [
            ("dolma_sample-0000.warc.gz", 22, 22),
            ("dolma_sample-0001.warc.gz", 15, 15),
        ] {
            let (docs, errors, summary) = read(&fixture(name), None);
            assert!(errors.is_empty(), "{name}: {errors:?}");
            // Every response of these files is a 200 HTML page.
            assert_eq!(docs.len(), responses, "{name}");
            assert_eq!(summary.skipped.get("request"), Some(&requests));
            assert_eq!(summary.skipped.get("metadata"), Some(&1));
            assert_eq!(summary.skipped.get("resource"), Some(&2));
            assert_eq!(summary.skipped.get("warcinfo"), Some(&1));
            assert_eq!(summary.skipped_total(), requests + 4);
            for d in &docs {
                let url = d.url().unwrap();
                assert!(url.starts_with("http"), "{url}");
                assert!(d.id.starts_with("<urn:uuid:"), "{}", d.id);
                // From the HTTP header (or the page's <meta>), lowercased.
                assert!(
                    matches!(d.charset_hint.as_deref(), Some("utf-8") | None),
                    "{url}: {:?}",
                    d.charset_hint
                );
                let text = text_of(d);
                assert!(!text.contains("<div") && !text.contains("<script"), "{url}");
                assert!(text.lines().count() > 3, "{url}: {text}");
            }
            total_docs += docs.len();
        }
        assert_eq!(total_docs, 37);
    }

    fn damaged_wet() -> (Vec<u8>, Vec<u64>) {
        let mut out = Vec::new();
        let mut starts = Vec::new();
        let mut push = |out: &mut Vec<u8>, r: Vec<u8>| {
            starts.push(out.len() as u64);
            out.extend_from_slice(&r);
        };
        push(
            &mut out,
            record("warcinfo", "", "info", "", b"software: test\r\n"),
        );
        push(
            &mut out,
            record(
                "conversion",
                "https://one.example/",
                "1",
                "WARC-Identified-Content-Language: eng\r\n",
                "First page.\nSecond line.".as_bytes(),
            ),
        );
        // Content-Length too long by 40: the next record starts inside.
        let bad = record(
            "conversion",
            "https://two.example/",
            "2",
            "",
            b"Page two text.",
        );
        let bad = String::from_utf8(bad)
            .unwrap()
            .replace("Content-Length: 14", "Content-Length: 54");
        push(&mut out, bad.into_bytes());
        push(
            &mut out,
            record(
                "conversion",
                "https://three.example/",
                "3",
                "",
                b"Page three.",
            ),
        );
        // Content-Length too short.
        let bad = record(
            "conversion",
            "https://four.example/",
            "4",
            "",
            b"Page four is longer than it says.",
        );
        let bad = String::from_utf8(bad)
            .unwrap()
            .replace("Content-Length: 33", "Content-Length: 9");
        push(&mut out, bad.into_bytes());
        push(
            &mut out,
            record(
                "conversion",
                "https://five.example/",
                "5",
                "",
                b"Page five.",
            ),
        );
        // Truncated at the end of the file.
        let trunc = record(
            "conversion",
            "https://six.example/",
            "6",
            "",
            b"Page six never ends",
        );
        push(&mut out, trunc[..trunc.len() - 10].to_vec());
        (out, starts)
    }

    #[test]
    fn damaged_records_are_located_and_reading_resumes() {
        let dir = tempfile::tempdir().unwrap();
        let (bytes, starts) = damaged_wet();
        let p = dir.path().join("bad.warc.wet");
        std::fs::write(&p, &bytes).unwrap();
        let (docs, errors, summary) = read(p.to_str().unwrap(), None);
        let ids: Vec<_> = docs.iter().map(|d| d.id.as_str()).collect();
        // Record 2 swallowed the start of 3, which is found again; record 4
        // holds more than it declares and is kept whole.
        assert_eq!(
            ids,
            [
                "<urn:uuid:1>",
                "<urn:uuid:3>",
                "<urn:uuid:4>",
                "<urn:uuid:5>"
            ],
            "{errors:#?}"
        );
        assert_eq!(docs[0].text, "First page.\nSecond line.");
        assert_eq!(docs[0].field_str("language").as_deref(), Some("eng"));
        assert_eq!(docs[1].url().as_deref(), Some("https://three.example/"));
        assert_eq!(docs[2].text, "Page four is longer than it says.");
        assert_eq!(
            docs[2].attributes["warc_warning"],
            "Content-Length 9 but the record holds 33 bytes (kept all)"
        );
        assert!(docs[1].attributes.is_empty());
        assert_eq!(
            errors,
            [
                format!("3: Content-Length (54) of the record at byte {} runs into the next record (at byte {}); record skipped", starts[2], starts[3]),
                format!("7: truncated record at byte {}: Content-Length is 19 but the file ends after 13 bytes", starts[6]),
            ]
        );
        assert_eq!(summary.skipped_total(), 1);
    }

    #[test]
    fn multi_member_gzip_reads_as_one_stream() {
        let dir = tempfile::tempdir().unwrap();
        let (bytes, starts) = damaged_wet();
        // One gzip member per record, as Common Crawl writes them.
        let mut gz = Vec::new();
        let mut bounds = starts.clone();
        bounds.push(bytes.len() as u64);
        for w in bounds.windows(2) {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(&bytes[w[0] as usize..w[1] as usize]).unwrap();
            gz.extend_from_slice(&e.finish().unwrap());
        }
        let p = dir.path().join("CC-MAIN-x.warc.wet.gz");
        std::fs::write(&p, &gz).unwrap();
        let (docs, errors, _) = read(p.to_str().unwrap(), None);
        assert_eq!(docs.len(), 4);
        assert_eq!(errors.len(), 2);
        assert!(
            errors[1].contains(&format!("byte {}", starts[6])),
            "{errors:?}"
        );
    }

    #[test]
    fn non_utf8_page_keeps_its_bytes_and_charset_hint() {
        let dir = tempfile::tempdir().unwrap();
        let mut http = b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=ISO-8859-1\r\n\r\n<html><body><h1>Caf\xe9</h1><p>Cr\xe8me br\xfbl\xe9e &amp; th\xe9.</p></body></html>".to_vec();
        let mut out = record(
            "request",
            "http://cafe.example.fr/",
            "req",
            "",
            b"GET / HTTP/1.1\r\nHost: cafe.example.fr\r\n\r\n",
        );
        out.extend(record(
            "response",
            "http://cafe.example.fr/",
            "resp",
            "",
            &http,
        ));
        // A 404 and an image are skipped too.
        out.extend(record(
            "response",
            "http://cafe.example.fr/x",
            "404",
            "",
            b"HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\n\r\n<p>gone</p>",
        ));
        out.extend(record(
            "response",
            "http://cafe.example.fr/i.png",
            "png",
            "",
            b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\n\r\n\x89PNG",
        ));
        out.extend(record("revisit", "http://cafe.example.fr/", "rev", "", b""));
        // Chunked UTF-8 page.
        http = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/html\r\n\r\n7\r\n<p>Hall\r\n9\r\no Welt</p\r\n1\r\n>\r\n0\r\n\r\n".to_vec();
        out.extend(record(
            "response",
            "http://welt.example.de/",
            "chunked",
            "",
            &http,
        ));
        let p = dir.path().join("pages.warc");
        std::fs::write(&p, &out).unwrap();
        let (docs, errors, summary) = read(p.to_str().unwrap(), None);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(docs.len(), 2);
        let d = &docs[0];
        assert_eq!(d.id, "<urn:uuid:resp>");
        assert_eq!(d.charset_hint.as_deref(), Some("iso-8859-1"));
        assert_eq!(
            d.raw.as_deref(),
            Some(&b"Caf\xe9\n\nCr\xe8me br\xfbl\xe9e & th\xe9.\n"[..])
        );
        assert_eq!(
            d.field_str("content_type").as_deref(),
            Some("text/html; charset=ISO-8859-1")
        );
        assert_eq!(text_of(&docs[1]), "Hallo Welt\n");
        let skipped: Vec<_> = summary
            .skipped
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        assert_eq!(
            skipped,
            [
                "request=1",
                "response:not-2xx=1",
                "response:not-text=1",
                "revisit=1"
            ]
        );
    }

    #[test]
    fn format_can_be_forced_and_junk_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("dump.bin");
        let mut bytes = b"garbage before\n".to_vec();
        bytes.extend(record(
            "conversion",
            "https://a.example/",
            "a",
            "",
            b"Text A.",
        ));
        std::fs::write(&p, &bytes).unwrap();
        let (docs, errors, _) = read(p.to_str().unwrap(), Some(Format::Wet));
        assert_eq!(docs.len(), 1);
        assert_eq!(
            errors,
            ["1: no WARC/1.x header at byte 0; skipped 15 bytes to the next record"]
        );
        assert_eq!(docs[0].origin.line, 2);
        let _ = InputFile::stdin(Format::Wet);
    }
}
