//! sluicebox-io: getting records in and documents out.
//!
//! * [`input`]: expand paths (files, directories, `-`) into [`InputFile`]s with
//!   their format; open them with transparent gzip/zstd decompression
//!   ([`inflate`]: on a thread of its own, so it does not cap the reader).
//! * [`reader`]: turn an input file into [`RawRecord`]s (a JSONL line, a whole
//!   file, a text line) without ever holding an oversized record in memory.
//! * [`record`]: parse a raw record into a [`sluicebox_core::Document`] (runs on
//!   the workers, so JSON parsing scales with threads).
//! * [`writer`]: JSONL or Parquet output, optionally compressed and sharded,
//!   written to temporary names and renamed into place only when complete.
//! * [`warc`] (WET and WARC input), [`html`] (HTML pages to text lines) and
//!   [`parquet`] (Parquet input and output).

pub mod html;
pub mod inflate;
pub mod input;
pub mod json;
pub mod parquet;
pub mod reader;
pub mod record;
pub mod table;
pub mod warc;
pub mod writer;

pub use input::{expand_inputs, Compression, Format, InputFile};
pub use reader::{read_input, RawKind, RawRecord};
pub use record::{parse_record, RecordOptions};
pub use warc::ReadSummary;
pub use writer::{
    document_json, write_file_atomic, AtomicFile, JsonlWriter, OutputCompression, OutputFormat,
    OutputWriter,
};

use thiserror::Error;

/// An input problem that stops one file (not one record).
#[derive(Debug, Error)]
pub enum IoError {
    #[error("{path}: {message}")]
    Path { path: String, message: String },
}

impl IoError {
    pub fn path(path: impl Into<String>, message: impl std::fmt::Display) -> Self {
        IoError::Path {
            path: path.into(),
            message: message.to_string(),
        }
    }
}
