//! Which files to read, in which order, in which format.

use crate::IoError;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How a file's bytes become records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One JSON object per line.
    Jsonl,
    /// The whole file is one document (raw bytes).
    Files,
    /// Every line of the file is one document (raw bytes).
    Lines,
    /// Common Crawl WET: WARC `conversion` records (extracted text).
    Wet,
    /// WARC: `response` records with HTML or text payloads.
    Warc,
    /// Parquet: one document per row, text from the text column.
    Parquet,
}

impl Format {
    pub fn parse(name: &str) -> Option<Format> {
        match name {
            "jsonl" | "json" | "ndjson" => Some(Format::Jsonl),
            "files" | "file" => Some(Format::Files),
            "lines" | "line" => Some(Format::Lines),
            "wet" => Some(Format::Wet),
            "warc" => Some(Format::Warc),
            "parquet" => Some(Format::Parquet),
            _ => None,
        }
    }

    /// The names [`Format::parse`] accepts, for messages.
    pub const NAMES: &'static str = "jsonl, files, lines, wet, warc or parquet";

    /// Format implied by a file name: `.jsonl`/`.json`/`.ndjson`, optionally
    /// followed by `.gz` or `.zst`, is JSONL; `.wet`/`.warc.wet` is WET,
    /// `.warc` is WARC (both also compressed); `.parquet` is Parquet;
    /// anything else is a document.
    pub fn from_name(name: &str) -> Format {
        let lower = name.to_ascii_lowercase();
        let stem = uncompressed_name(&lower);
        if stem.ends_with(".jsonl") || stem.ends_with(".json") || stem.ends_with(".ndjson") {
            Format::Jsonl
        } else if stem.ends_with(".wet") {
            Format::Wet
        } else if stem.ends_with(".warc") {
            Format::Warc
        } else if lower.ends_with(".parquet") {
            Format::Parquet
        } else {
            Format::Files
        }
    }
}

/// A lowercased file name without its compression suffix (`.gz`, `.zst`,
/// `.zstd`): the name its content goes by (`page.html.gz` is a page).
pub fn uncompressed_name(lower: &str) -> &str {
    [".gz", ".zst", ".zstd"]
        .iter()
        .find_map(|c| lower.strip_suffix(c))
        .unwrap_or(lower)
}

/// Compression of an input stream, detected from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    pub fn sniff(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }
}

/// One input to read.
#[derive(Debug, Clone)]
pub struct InputFile {
    /// `None` for standard input.
    pub path: Option<PathBuf>,
    /// How it is named in ids and messages (the path as given, or `-`).
    pub display: Arc<str>,
    /// Id for `files` documents: the path relative to the directory
    /// argument it was found under, or the path as given for a file
    /// argument.
    pub relative: String,
    pub format: Format,
    /// Size on disk (compressed), for progress; `None` for stdin.
    pub size: Option<u64>,
}

impl InputFile {
    pub fn stdin(format: Format) -> Self {
        InputFile {
            path: None,
            display: Arc::from("-"),
            relative: "-".to_string(),
            format,
            size: None,
        }
    }

    /// Open with transparent decompression (by magic bytes, so a `.jsonl`
    /// that is really gzip still reads).
    pub fn open(&self) -> Result<Box<dyn BufRead + Send>, IoError> {
        self.open_with_depth(crate::inflate::DEPTH)
    }

    /// Open before its turn, so that a compressed file's decoder starts
    /// while earlier files are read (and keeps up to
    /// [`crate::inflate::AHEAD_DEPTH`] chunks). None for inputs that are
    /// not read as one stream: standard input, Parquet, whole-file documents.
    pub fn open_ahead(&self) -> Option<Result<Box<dyn BufRead + Send>, IoError>> {
        if self.path.is_none() || matches!(self.format, Format::Parquet | Format::Files) {
            return None;
        }
        Some(self.open_with_depth(crate::inflate::AHEAD_DEPTH))
    }

    fn open_with_depth(&self, depth: usize) -> Result<Box<dyn BufRead + Send>, IoError> {
        let inner: Box<dyn Read + Send> = match &self.path {
            Some(p) => Box::new(
                File::open(p).map_err(|e| IoError::path(self.display.as_ref(), describe(&e)))?,
            ),
            None => Box::new(io::stdin()),
        };
        decompressed(inner, depth).map_err(|e| IoError::path(self.display.as_ref(), describe(&e)))
    }
}

/// Wrap a stream in the decompressor its first bytes call for.
pub fn open_decompressed(inner: Box<dyn Read + Send>) -> io::Result<Box<dyn BufRead + Send>> {
    decompressed(inner, crate::inflate::DEPTH)
}

fn decompressed(inner: Box<dyn Read + Send>, depth: usize) -> io::Result<Box<dyn BufRead + Send>> {
    use crate::inflate::ThreadedRead;
    let mut buffered = BufReader::with_capacity(1 << 20, inner);
    let head = buffered.fill_buf()?;
    Ok(match Compression::sniff(head) {
        Compression::None => Box::new(buffered),
        Compression::Gzip => Box::new(ThreadedRead::spawn_with_depth(
            Box::new(flate2::bufread::MultiGzDecoder::new(buffered)),
            depth,
        )?),
        Compression::Zstd => Box::new(ThreadedRead::spawn_with_depth(
            Box::new(zstd::stream::read::Decoder::with_buffer(buffered)?),
            depth,
        )?),
    })
}

/// An I/O error as a short lowercase phrase ("no such file or directory").
pub fn describe(e: &io::Error) -> String {
    let s = e.to_string();
    let s = match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    };
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().collect::<String>() + c.as_str(),
        None => s,
    }
}

fn is_hidden(name: &std::ffi::OsStr) -> bool {
    name.to_str()
        .is_some_and(|s| s.starts_with('.') && s != "." && s != "..")
}

/// Expand command-line inputs: files as given, directories walked
/// recursively in sorted order with hidden entries skipped, `-` for stdin.
/// `format` overrides detection by name. Paths that cannot be read are
/// returned as errors (the run reports them and goes on with the rest).
pub fn expand_inputs(args: &[String], format: Option<Format>) -> (Vec<InputFile>, Vec<IoError>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for arg in args {
        if arg == "-" {
            files.push(InputFile::stdin(format.unwrap_or(Format::Jsonl)));
            continue;
        }
        let path = Path::new(arg);
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) => {
                errors.push(IoError::path(arg.as_str(), describe(&e)));
                continue;
            }
        };
        if meta.is_dir() {
            // Links are followed: a link to a file is input like the file,
            // and a dangling one (a file that vanished) is reported, not
            // skipped without a word.
            let walker = walkdir::WalkDir::new(path)
                .follow_links(true)
                .sort_by_file_name()
                .into_iter()
                .filter_entry(|e| e.depth() == 0 || !is_hidden(e.file_name()));
            for entry in walker {
                match entry {
                    Ok(e) if e.file_type().is_file() => {
                        let p = e.path().to_path_buf();
                        let relative = p
                            .strip_prefix(path)
                            .unwrap_or(&p)
                            .to_string_lossy()
                            .replace('\\', "/");
                        let name = p.to_string_lossy().to_string();
                        files.push(InputFile {
                            format: format.unwrap_or_else(|| Format::from_name(&name)),
                            display: Arc::from(name.as_str()),
                            relative,
                            size: e.metadata().ok().map(|m| m.len()),
                            path: Some(p),
                        });
                    }
                    Ok(_) => {}
                    Err(e) => {
                        let at = e
                            .path()
                            .map(|p| p.to_string_lossy().to_string())
                            .unwrap_or_else(|| arg.clone());
                        let msg = e.io_error().map(describe).unwrap_or_else(|| e.to_string());
                        errors.push(IoError::path(at, msg));
                    }
                }
            }
        } else {
            // The path as given (less a leading "./"), not the file name:
            // `run pages/*/index.html` must not give every page one id.
            let relative = arg.strip_prefix("./").unwrap_or(arg).replace('\\', "/");
            files.push(InputFile {
                path: Some(path.to_path_buf()),
                display: Arc::from(arg.as_str()),
                relative,
                format: format.unwrap_or_else(|| Format::from_name(arg)),
                size: Some(meta.len()),
            });
        }
    }
    (files, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_by_name() {
        for (name, f) in [
            ("a.jsonl", Format::Jsonl),
            ("a.JSONL.GZ", Format::Jsonl),
            ("dump/b.ndjson.zst", Format::Jsonl),
            ("c.json", Format::Jsonl),
            ("page.txt", Format::Files),
            ("page.html.gz", Format::Files),
            ("jsonl", Format::Files),
            ("CC-MAIN-20190318-00064.warc.wet.gz", Format::Wet),
            ("x.wet.gz", Format::Wet),
            ("x.warc.wet", Format::Wet),
            ("x.WARC.GZ", Format::Warc),
            ("crawl/x.warc", Format::Warc),
            ("x.warc.zst", Format::Warc),
            ("train-00000-of-00010.parquet", Format::Parquet),
            ("notes.warc.txt", Format::Files),
        ] {
            assert_eq!(Format::from_name(name), f, "{name}");
        }
    }

    #[test]
    fn directories_are_walked_sorted_without_hidden_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("b/.git")).unwrap();
        std::fs::write(dir.path().join("b/z.txt"), "z").unwrap();
        std::fs::write(dir.path().join("b/.git/config"), "x").unwrap();
        std::fs::write(dir.path().join("a.jsonl"), "{}").unwrap();
        std::fs::write(dir.path().join(".hidden.txt"), "h").unwrap();
        std::fs::write(dir.path().join("c.txt"), "c").unwrap();
        let arg = dir.path().to_string_lossy().to_string();
        let (files, errors) = expand_inputs(&[arg, "/no/such/file".into()], None);
        let rel: Vec<_> = files.iter().map(|f| f.relative.as_str()).collect();
        assert_eq!(rel, ["a.jsonl", "b/z.txt", "c.txt"]);
        assert_eq!(files[0].format, Format::Jsonl);
        assert_eq!(files[1].format, Format::Files);
        assert_eq!(errors.len(), 1);
        assert_eq!(
            errors[0].to_string(),
            "/no/such/file: no such file or directory"
        );
    }

    #[test]
    fn a_file_argument_is_named_by_its_path_as_given() {
        // `run pages/*/index.html`: one id per page, not one for them all.
        let dir = tempfile::tempdir().unwrap();
        for sub in ["a", "b"] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
            std::fs::write(dir.path().join(sub).join("index.html"), "<p>x</p>").unwrap();
        }
        let a = dir
            .path()
            .join("a/index.html")
            .to_string_lossy()
            .to_string();
        let b = dir
            .path()
            .join("b/index.html")
            .to_string_lossy()
            .to_string();
        let (files, errors) = expand_inputs(&[a.clone(), b.clone()], None);
        assert!(errors.is_empty());
        let rel: Vec<_> = files.iter().map(|f| f.relative.as_str()).collect();
        assert_eq!(rel, [a.as_str(), b.as_str()]);
        // A leading "./" is not part of the id (tests run in the crate's
        // directory, which holds its Cargo.toml).
        let (files, errors) = expand_inputs(&["./Cargo.toml".into()], None);
        assert!(errors.is_empty());
        assert_eq!(files[0].relative, "Cargo.toml");
    }

    #[test]
    fn compression_is_sniffed_from_content() {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b"{\"text\":\"a\"}\n").unwrap();
        let bytes = gz.finish().unwrap();
        let mut r = open_decompressed(Box::new(std::io::Cursor::new(bytes))).unwrap();
        let mut s = String::new();
        r.read_to_string(&mut s).unwrap();
        assert_eq!(s, "{\"text\":\"a\"}\n");
        let z = zstd::encode_all(&b"hello"[..], 1).unwrap();
        let mut r = open_decompressed(Box::new(std::io::Cursor::new(z))).unwrap();
        let mut s = String::new();
        r.read_to_string(&mut s).unwrap();
        assert_eq!(s, "hello");
    }
}
