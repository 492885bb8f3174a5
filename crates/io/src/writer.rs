//! Output: JSONL documents, optionally compressed and sharded, and the
//! atomic-rename discipline that keeps a killed run from leaving a file that
//! looks complete.

use crate::input::describe;
use sluicebox_core::Document;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// Compression of output files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputCompression {
    #[default]
    None,
    Gzip,
    Zstd,
}

impl OutputCompression {
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "none" => Some(Self::None),
            "gzip" | "gz" => Some(Self::Gzip),
            "zstd" | "zst" => Some(Self::Zstd),
            _ => None,
        }
    }
    pub fn extension(self) -> &'static str {
        match self {
            Self::None => "",
            Self::Gzip => ".gz",
            Self::Zstd => ".zst",
        }
    }
}

/// A file written under a temporary name in the same directory and renamed
/// to its final name by [`AtomicFile::commit`]; dropped uncommitted, the
/// temporary is removed.
pub struct AtomicFile {
    tmp: PathBuf,
    target: PathBuf,
    file: Option<BufWriter<File>>,
}

impl AtomicFile {
    pub fn create(target: &Path) -> io::Result<Self> {
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| "out".into());
        let tmp = target.with_file_name(format!(".{name}.tmp"));
        let file = File::create(&tmp)?;
        Ok(AtomicFile {
            tmp,
            target: target.to_path_buf(),
            file: Some(BufWriter::with_capacity(1 << 20, file)),
        })
    }

    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Flush and rename into place. The rename is atomic for readers and
    /// for a killed process; there is no fsync (it costs more than the rest
    /// of writing on some disks), so after a power loss a file may be
    /// incomplete.
    pub fn commit(mut self) -> io::Result<()> {
        if let Some(w) = self.file.take() {
            w.into_inner().map_err(|e| e.into_error())?;
        }
        std::fs::rename(&self.tmp, &self.target)
    }
}

/// Write `parts` (concatenated) to `path` through an [`AtomicFile`]: the
/// file appears whole or not at all. The error names the file.
pub fn write_file_atomic(path: &Path, parts: &[&[u8]]) -> Result<(), String> {
    let err = |e: io::Error| {
        format!(
            "{}: write failed: {}",
            path.display(),
            crate::input::describe(&e)
        )
    };
    let mut f = AtomicFile::create(path).map_err(err)?;
    for part in parts {
        f.write_all(part).map_err(err)?;
    }
    f.commit().map_err(err)
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.file.as_mut() {
            Some(f) => f.write(buf),
            None => Err(io::Error::other("file already committed")),
        }
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self.file.as_mut() {
            Some(f) => f.write_all(buf),
            None => Err(io::Error::other("file already committed")),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self.file.as_mut() {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.file.is_some() {
            self.file = None;
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

enum Encoder {
    Plain(AtomicFile),
    Gzip(flate2::write::GzEncoder<AtomicFile>),
    Zstd(zstd::stream::write::Encoder<'static, AtomicFile>),
}

impl Encoder {
    fn new(file: AtomicFile, c: OutputCompression) -> io::Result<Self> {
        Ok(match c {
            OutputCompression::None => Encoder::Plain(file),
            OutputCompression::Gzip => Encoder::Gzip(flate2::write::GzEncoder::new(
                file,
                flate2::Compression::new(6),
            )),
            OutputCompression::Zstd => {
                let mut e = zstd::stream::write::Encoder::new(file, 3)?;
                e.include_checksum(true)?;
                Encoder::Zstd(e)
            }
        })
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Encoder::Plain(f) => f.write_all(buf),
            Encoder::Gzip(f) => f.write_all(buf),
            Encoder::Zstd(f) => f.write_all(buf),
        }
    }
    fn finish(self) -> io::Result<()> {
        match self {
            Encoder::Plain(f) => f.commit(),
            Encoder::Gzip(f) => f.finish()?.commit(),
            Encoder::Zstd(f) => f.finish()?.commit(),
        }
    }
}

/// JSONL output named `<stem>.jsonl[.gz|.zst]`, or sharded as
/// `<stem>-00000.jsonl...` when `max_per_file > 0`. Each file appears under
/// its final name only once complete.
pub struct JsonlWriter {
    dir: PathBuf,
    stem: String,
    compression: OutputCompression,
    max_per_file: u64,
    current: Option<Encoder>,
    in_current: u64,
    shard: u64,
    /// Final paths written so far.
    pub files: Vec<PathBuf>,
}

impl JsonlWriter {
    pub fn new(dir: &Path, stem: &str, compression: OutputCompression, max_per_file: u64) -> Self {
        JsonlWriter {
            dir: dir.to_path_buf(),
            stem: stem.to_string(),
            compression,
            max_per_file,
            current: None,
            in_current: 0,
            shard: 0,
            files: Vec::new(),
        }
    }

    fn path_for(&self, shard: u64) -> PathBuf {
        let ext = self.compression.extension();
        if self.max_per_file == 0 {
            self.dir.join(format!("{}.jsonl{ext}", self.stem))
        } else {
            self.dir
                .join(format!("{}-{shard:05}.jsonl{ext}", self.stem))
        }
    }

    fn error(&self, e: io::Error) -> String {
        format!(
            "{}: write failed: {}",
            self.path_for(self.shard).display(),
            describe(&e)
        )
    }

    fn open(&mut self) -> Result<(), String> {
        let path = self.path_for(self.shard);
        let file = AtomicFile::create(&path).map_err(|e| self.error(e))?;
        self.current = Some(Encoder::new(file, self.compression).map_err(|e| self.error(e))?);
        self.in_current = 0;
        Ok(())
    }

    /// Write one record (a JSON object without the trailing newline).
    pub fn write_record(&mut self, json: &[u8]) -> Result<(), String> {
        if self.max_per_file > 0 && self.in_current >= self.max_per_file {
            self.close_current()?;
            self.shard += 1;
        }
        if self.current.is_none() {
            self.open()?;
        }
        let res = match self.current.as_mut() {
            Some(enc) => enc.write_all(json).and_then(|_| enc.write_all(b"\n")),
            None => Ok(()),
        };
        res.map_err(|e| self.error(e))?;
        self.in_current += 1;
        Ok(())
    }

    fn close_current(&mut self) -> Result<(), String> {
        if let Some(enc) = self.current.take() {
            let path = self.path_for(self.shard);
            enc.finish().map_err(|e| self.error(e))?;
            self.files.push(path);
        }
        Ok(())
    }

    /// Finish the last file. With no record written at all, an empty
    /// (unsharded) file is still created so consumers find the name.
    pub fn finish(mut self) -> Result<Vec<PathBuf>, String> {
        if self.current.is_none() && self.files.is_empty() {
            self.open()?;
        }
        self.close_current()?;
        Ok(self.files)
    }
}

/// File format of the `docs` output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputFormat {
    #[default]
    Jsonl,
    Parquet,
}

impl OutputFormat {
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "jsonl" => Some(Self::Jsonl),
            "parquet" => Some(Self::Parquet),
            _ => None,
        }
    }
}

/// The docs/rejects writer behind one type: JSONL (compressed as asked) or
/// Parquet (zstd inside the file). Both take the records serialised by
/// [`document_json`] and commit each file only when complete.
pub enum OutputWriter {
    Jsonl(JsonlWriter),
    Parquet(crate::parquet::ParquetWriter),
}

impl OutputWriter {
    pub fn new(
        format: OutputFormat,
        dir: &Path,
        stem: &str,
        compression: OutputCompression,
        max_per_file: u64,
    ) -> Self {
        match format {
            OutputFormat::Jsonl => {
                OutputWriter::Jsonl(JsonlWriter::new(dir, stem, compression, max_per_file))
            }
            OutputFormat::Parquet => {
                OutputWriter::Parquet(crate::parquet::ParquetWriter::new(dir, stem, max_per_file))
            }
        }
    }

    /// Write one record (a JSON object without the trailing newline).
    pub fn write_record(&mut self, json: &[u8]) -> Result<(), String> {
        match self {
            OutputWriter::Jsonl(w) => w.write_record(json),
            OutputWriter::Parquet(w) => w.write_record(json),
        }
    }

    /// Finish the last file; returns every file written.
    pub fn finish(self) -> Result<Vec<PathBuf>, String> {
        match self {
            OutputWriter::Jsonl(w) => w.finish(),
            OutputWriter::Parquet(w) => w.finish(),
        }
    }
}

use crate::json::push_json_str;

/// The output record of a document: `id`, `source`, `text`, `attributes`,
/// then the passthrough fields in input order. `extra` adds fields right
/// after `source` (rejects use it for `stage`, `reason`, `detail`).
pub fn document_json(doc: &Document, extra: &[(&str, &str)], with_text: bool, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"id\":");
    push_json_str(out, &doc.id);
    out.extend_from_slice(b",\"source\":");
    push_json_str(out, &doc.source);
    for (k, v) in extra {
        out.push(b',');
        push_json_str(out, k);
        out.push(b':');
        push_json_str(out, v);
    }
    if with_text {
        out.extend_from_slice(b",\"text\":");
        if doc.raw.is_some() && doc.text.is_empty() {
            let lossy = String::from_utf8_lossy(doc.raw.as_deref().unwrap_or_default());
            push_json_str(out, &lossy);
        } else {
            push_json_str(out, &doc.text);
        }
    }
    out.extend_from_slice(b",\"attributes\":");
    if doc.attributes.is_empty() {
        out.extend_from_slice(b"{}");
    } else {
        // A map with string keys always serialises; Vec never fails to write.
        let _ = serde_json::to_writer(&mut *out, &doc.attributes);
    }
    for (k, v) in &doc.fields {
        if matches!(k.as_str(), "id" | "source" | "text" | "attributes") {
            continue;
        }
        out.push(b',');
        push_json_str(out, k);
        out.push(b':');
        out.extend_from_slice(v.get().as_bytes());
    }
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn records_keep_passthrough_and_escape_text() {
        let mut d = Document::from_text("a\"1", "line one\n\"two\"");
        d.source = "news".into();
        d.set_attr("lang", "en");
        d.fields.push((
            "url".into(),
            serde_json::value::RawValue::from_string("\"https://x.org\"".into()).unwrap(),
        ));
        let mut out = Vec::new();
        document_json(&d, &[], true, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"id":"a\"1","source":"news","text":"line one\n\"two\"","attributes":{"lang":"en"},"url":"https://x.org"}"#
        );
    }

    #[test]
    fn sharded_compressed_output_appears_only_when_complete() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = JsonlWriter::new(dir.path(), "docs", OutputCompression::Zstd, 2);
        for i in 0..5 {
            w.write_record(format!("{{\"n\":{i}}}").as_bytes()).unwrap();
        }
        // Two shards are complete, the third is still being written.
        let mut names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                ".docs-00002.jsonl.zst.tmp",
                "docs-00000.jsonl.zst",
                "docs-00001.jsonl.zst"
            ]
        );
        let files = w.finish().unwrap();
        assert_eq!(files.len(), 3);
        let mut all = String::new();
        for f in files {
            let mut s = String::new();
            zstd::stream::read::Decoder::new(File::open(f).unwrap())
                .unwrap()
                .read_to_string(&mut s)
                .unwrap();
            all += &s;
        }
        assert_eq!(
            all,
            "{\"n\":0}\n{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n{\"n\":4}\n"
        );
    }

    #[test]
    fn dropped_writer_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = JsonlWriter::new(dir.path(), "docs", OutputCompression::Gzip, 0);
        w.write_record(b"{}").unwrap();
        drop(w);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
