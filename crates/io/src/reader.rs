//! Input files to raw records, with every problem located and none fatal.

use crate::input::{describe, Format, InputFile};
pub use crate::warc::ReadSummary;
use memchr::memchr;
use std::io::{self, BufRead, Read};
use std::sync::Arc;

/// A record as read, before parsing (parsing happens on the workers).
#[derive(Debug)]
pub struct RawRecord {
    pub file: Arc<str>,
    /// 1-based line for JSONL and lines input; 0 for a whole file.
    pub line: u64,
    pub kind: RawKind,
}

#[derive(Debug)]
pub enum RawKind {
    /// One JSONL line, to be parsed.
    Json(Vec<u8>),
    /// Undecoded document bytes (`files`, `lines`) with their id.
    Bytes { id: String, bytes: Vec<u8> },
    /// A WET or WARC record's document (text or HTML still to convert).
    Web(Box<crate::warc::WebRecord>),
    /// A record that could not be read; the message says why.
    Error(String),
}

impl RawRecord {
    /// Input bytes this record stands for (progress and throughput).
    pub fn byte_len(&self) -> usize {
        match &self.kind {
            RawKind::Json(b) => b.len() + 1,
            RawKind::Bytes { bytes, .. } => bytes.len(),
            RawKind::Web(w) => w.bytes.len(),
            RawKind::Error(_) => 0,
        }
    }
}

enum Line {
    Eof,
    Ok,
    /// Longer than the limit; holds the full length. Its bytes were skipped.
    TooLong(u64),
}

/// Read one `\n`-terminated line into `buf` (without the `\n`), never
/// buffering more than `max` bytes of it.
fn read_line_limited(r: &mut dyn BufRead, buf: &mut Vec<u8>, max: usize) -> io::Result<Line> {
    buf.clear();
    let mut total: u64 = 0;
    let mut started = false;
    loop {
        let avail = match r.fill_buf() {
            Ok(a) => a,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if avail.is_empty() {
            return Ok(if !started {
                Line::Eof
            } else if total > max as u64 {
                Line::TooLong(total)
            } else {
                Line::Ok
            });
        }
        started = true;
        let (chunk, done) = match memchr(b'\n', avail) {
            Some(i) => (&avail[..i], Some(i + 1)),
            None => (avail, None),
        };
        total += chunk.len() as u64;
        if total <= max as u64 {
            buf.extend_from_slice(chunk);
        } else if !buf.is_empty() {
            buf.clear();
            buf.shrink_to(1 << 16);
        }
        let used = done.unwrap_or(avail.len());
        r.consume(used);
        if done.is_some() {
            return Ok(if total > max as u64 {
                Line::TooLong(total)
            } else {
                Line::Ok
            });
        }
    }
}

/// Read every record of `input`, calling `emit` for each (in order). `emit`
/// returns `false` to stop early (the run was cancelled). Problems become
/// [`RawKind::Error`] records; reading goes on where it can (a bad JSON line,
/// an oversized record, a damaged WARC record) and stops the file where it
/// cannot (a truncated compressed stream). Records deliberately skipped
/// (WARC requests, metadata ...) are counted in the returned summary.
pub fn read_input(
    input: &InputFile,
    max_doc_bytes: usize,
    emit: &mut dyn FnMut(RawRecord) -> bool,
) -> ReadSummary {
    read_input_opened(input, None, max_doc_bytes, emit)
}

/// [`read_input`] of a file already opened (by [`InputFile::open_ahead`]);
/// `None` opens it here.
pub fn read_input_opened(
    input: &InputFile,
    opened: Option<Result<Box<dyn BufRead + Send>, crate::IoError>>,
    max_doc_bytes: usize,
    emit: &mut dyn FnMut(RawRecord) -> bool,
) -> ReadSummary {
    let file = input.display.clone();
    let error = |line: u64, msg: String| RawRecord {
        file: file.clone(),
        line,
        kind: RawKind::Error(msg),
    };
    if input.format == Format::Files {
        if let Some(size) = input.size {
            // Only trust the on-disk size for uncompressed files; the
            // limit is checked on the decompressed bytes below anyway.
            if size > (max_doc_bytes as u64).saturating_mul(64) {
                emit(error(
                    0,
                    format!("document of {size} bytes exceeds max_doc_bytes ({max_doc_bytes})"),
                ));
                return ReadSummary::default();
            }
        }
    }
    if input.format == Format::Parquet {
        crate::parquet::read_parquet(input, max_doc_bytes, emit);
        return ReadSummary::default();
    }
    let mut reader = match opened.unwrap_or_else(|| input.open()) {
        Ok(r) => r,
        Err(e) => {
            let msg = e.to_string();
            let msg = msg
                .strip_prefix(&format!("{file}: "))
                .unwrap_or(&msg)
                .to_string();
            emit(error(0, format!("cannot read: {msg}")));
            return ReadSummary::default();
        }
    };
    match input.format {
        Format::Wet | Format::Warc => {
            return crate::warc::read_warc(reader, &file, max_doc_bytes, emit);
        }
        Format::Parquet => {}
        Format::Files => {
            let mut bytes = Vec::new();
            let limit = max_doc_bytes as u64 + 1;
            match (&mut reader).take(limit).read_to_end(&mut bytes) {
                Ok(_) if bytes.len() as u64 >= limit => {
                    emit(error(
                        0,
                        format!("document exceeds max_doc_bytes ({max_doc_bytes})"),
                    ));
                }
                Ok(_) if bytes.is_empty() => {
                    emit(error(0, "empty file".to_string()));
                }
                Ok(_) => {
                    let id = input.relative.clone();
                    // An HTML page becomes text lines on the workers, as a
                    // WARC response's payload does.
                    let kind = if crate::html::is_html_file(&input.relative, &bytes) {
                        RawKind::Web(Box::new(crate::warc::WebRecord {
                            id,
                            bytes,
                            html: true,
                            charset: None,
                            fields: Vec::new(),
                            note: None,
                        }))
                    } else {
                        RawKind::Bytes { id, bytes }
                    };
                    emit(RawRecord {
                        file: file.clone(),
                        line: 0,
                        kind,
                    });
                }
                Err(e) => {
                    emit(error(0, format!("read failed: {}", describe(&e))));
                }
            }
        }
        Format::Jsonl | Format::Lines => {
            let mut line_no = 0u64;
            let mut buf = Vec::new();
            let mut any = false;
            let mut blank_lines = 0u64;
            loop {
                line_no += 1;
                let rec = match read_line_limited(&mut reader, &mut buf, max_doc_bytes) {
                    Ok(Line::Eof) => break,
                    Ok(Line::TooLong(n)) => error(
                        line_no,
                        format!("record of {n} bytes exceeds max_doc_bytes ({max_doc_bytes})"),
                    ),
                    Ok(Line::Ok) => {
                        if buf.last() == Some(&b'\r') {
                            buf.pop();
                        }
                        if buf.iter().all(|b| b.is_ascii_whitespace()) {
                            blank_lines += 1;
                            continue;
                        }
                        // A copy of exactly the record's size; `buf` keeps
                        // its room for the next line (taking it would regrow
                        // it from nothing, several reallocations a record).
                        let bytes = buf.clone();
                        RawRecord {
                            file: file.clone(),
                            line: line_no,
                            kind: if input.format == Format::Jsonl {
                                RawKind::Json(bytes)
                            } else {
                                RawKind::Bytes {
                                    id: format!("{file}:{line_no}"),
                                    bytes,
                                }
                            },
                        }
                    }
                    Err(e) => {
                        emit(error(
                            line_no,
                            format!(
                                "read failed (truncated or corrupt input?): {}; rest of file skipped",
                                describe(&e)
                            ),
                        ));
                        return ReadSummary::default();
                    }
                };
                any = true;
                if !emit(rec) {
                    return ReadSummary::default();
                }
            }
            if !any {
                // The file is still accounted for: one error record says why
                // nothing came out of it.
                let why = if blank_lines > 0 {
                    format!("no records: only {blank_lines} blank line(s)")
                } else {
                    "empty file".to_string()
                };
                emit(error(0, why));
            }
        }
    }
    ReadSummary::default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn read_all(path: &std::path::Path, format: Format, max: usize) -> Vec<RawRecord> {
        let input = InputFile {
            path: Some(path.to_path_buf()),
            display: Arc::from("in"),
            relative: "in".into(),
            format,
            size: std::fs::metadata(path).ok().map(|m| m.len()),
        };
        let mut out = Vec::new();
        read_input(&input, max, &mut |r| {
            out.push(r);
            true
        });
        out
    }

    fn kinds(records: &[RawRecord]) -> Vec<String> {
        records
            .iter()
            .map(|r| match &r.kind {
                RawKind::Json(b) => format!("{}:json:{}", r.line, String::from_utf8_lossy(b)),
                RawKind::Bytes { id, bytes } => {
                    format!("{}:{id}:{}", r.line, String::from_utf8_lossy(bytes))
                }
                RawKind::Error(m) => format!("{}:error:{m}", r.line),
                RawKind::Web(w) => format!("{}:{}:web", r.line, w.id),
            })
            .collect()
    }

    #[test]
    fn oversized_lines_are_errors_and_reading_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.jsonl");
        let long = format!("{{\"text\":\"{}\"}}", "x".repeat(5000));
        std::fs::write(
            &p,
            format!("{{\"text\":\"a\"}}\r\n\n{long}\n{{\"text\":\"b\"}}"),
        )
        .unwrap();
        let got = kinds(&read_all(&p, Format::Jsonl, 1000));
        assert_eq!(
            got,
            [
                "1:json:{\"text\":\"a\"}",
                "3:error:record of 5011 bytes exceeds max_doc_bytes (1000)",
                "4:json:{\"text\":\"b\"}",
            ]
        );
    }

    #[test]
    fn truncated_gzip_keeps_what_was_read_and_reports_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.jsonl.gz");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        for i in 0..2000 {
            writeln!(
                gz,
                "{{\"id\":\"{i}\",\"text\":\"document number {i} with some words\"}}"
            )
            .unwrap();
        }
        let bytes = gz.finish().unwrap();
        std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
        let recs = read_all(&p, Format::Jsonl, 1 << 20);
        let last = recs.last().unwrap();
        assert!(
            matches!(&last.kind, RawKind::Error(m) if m.contains("truncated")),
            "{:?}",
            last
        );
        assert!(recs.len() > 100 && recs.len() < 2000, "{}", recs.len());
        assert_eq!(last.line as usize, recs.len());
    }

    #[test]
    fn html_files_become_text_lines_and_other_files_stay_as_they_are() {
        let dir = tempfile::tempdir().unwrap();
        let page = "<!DOCTYPE html><html><head><title>Site</title>\
                    <script>var x = '<p>';</script></head><body>\
                    <p>First paragraph &mdash; here.</p><p>Second one.</p></body></html>";
        std::fs::write(dir.path().join("a.html"), page).unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(page.as_bytes()).unwrap();
        std::fs::write(dir.path().join("b.htm.gz"), gz.finish().unwrap()).unwrap();
        std::fs::write(dir.path().join("c.txt"), "<p>kept as text</p>\n").unwrap();
        // Bad pages are errors located at their file, as for any document.
        std::fs::write(dir.path().join("d.html"), "").unwrap();
        std::fs::write(dir.path().join("e.html"), page.repeat(40)).unwrap();
        let (inputs, errors) =
            crate::input::expand_inputs(&[dir.path().display().to_string()], None);
        assert!(errors.is_empty());
        let mut texts = Vec::new();
        for input in &inputs {
            read_input(input, 4096, &mut |r| {
                let file = r.file.to_string();
                match crate::record::parse_record(r, &Default::default()) {
                    Ok(doc) => {
                        let raw = doc.raw.clone().unwrap_or_default();
                        texts.push((doc.id, String::from_utf8(raw).unwrap()));
                    }
                    Err(e) => texts.push((file.rsplit('/').next().unwrap().to_string(), e)),
                }
                true
            });
        }
        let want = "First paragraph \u{2014} here.\n\nSecond one.\n";
        assert_eq!(
            texts,
            [
                ("a.html".to_string(), want.to_string()),
                ("b.htm.gz".to_string(), want.to_string()),
                ("c.txt".to_string(), "<p>kept as text</p>\n".to_string()),
                ("d.html".to_string(), "empty file".to_string()),
                (
                    "e.html".to_string(),
                    "document exceeds max_doc_bytes (4096)".to_string()
                ),
            ]
        );
    }

    #[test]
    fn lines_and_files_carry_ids() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.txt");
        std::fs::write(&p, "first line\n\nthird line\n").unwrap();
        assert_eq!(
            kinds(&read_all(&p, Format::Lines, 100)),
            ["1:in:1:first line", "3:in:3:third line"]
        );
        assert_eq!(
            kinds(&read_all(&p, Format::Files, 100)),
            ["0:in:first line\n\nthird line\n"]
        );
        assert_eq!(
            kinds(&read_all(&p, Format::Files, 10)),
            ["0:error:document exceeds max_doc_bytes (10)"]
        );
        let e = dir.path().join("empty.jsonl");
        std::fs::write(&e, "").unwrap();
        assert_eq!(
            kinds(&read_all(&e, Format::Jsonl, 10)),
            ["0:error:empty file"]
        );
        std::fs::write(&e, "  \n\r\n\t\n").unwrap();
        assert_eq!(
            kinds(&read_all(&e, Format::Jsonl, 10)),
            ["0:error:no records: only 3 blank line(s)"]
        );
    }
}
