//! Small typed tables in Parquet: the intermediate files of cluster plans
//! (band keys, pairs, decisions, documents between tasks).
//!
//! A table is a fixed list of named columns of a few plain types, written
//! in batches (each a row group, so memory stays one batch) and read back
//! batch by batch. Files are written to a temporary name and renamed into
//! place on [`TableWriter::commit`], so a reader never sees half a file.
//! Compression: zstd level 1 (these files are written once, read once).

use crate::input::describe;
use crate::writer::AtomicFile;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, UInt64Type};
use arrow_array::{ArrayRef, BinaryArray, Float64Array, RecordBatch, StringArray, UInt64Array};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Type of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColType {
    U64,
    F64,
    Str,
    /// A string or null.
    OptStr,
    Bin,
}

/// One column of a batch.
#[derive(Debug, Clone, PartialEq)]
pub enum Col {
    U64(Vec<u64>),
    F64(Vec<f64>),
    Str(Vec<String>),
    OptStr(Vec<Option<String>>),
    Bin(Vec<Vec<u8>>),
}

impl Col {
    pub fn len(&self) -> usize {
        match self {
            Col::U64(v) => v.len(),
            Col::F64(v) => v.len(),
            Col::Str(v) => v.len(),
            Col::OptStr(v) => v.len(),
            Col::Bin(v) => v.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    fn array(self) -> ArrayRef {
        match self {
            Col::U64(v) => Arc::new(UInt64Array::from(v)),
            Col::F64(v) => Arc::new(Float64Array::from(v)),
            Col::Str(v) => Arc::new(StringArray::from(v)),
            Col::OptStr(v) => Arc::new(StringArray::from(v)),
            Col::Bin(v) => Arc::new(BinaryArray::from_iter_values(v)),
        }
    }
    /// Take the column out as u64s (error names the file and column).
    pub fn into_u64(self, what: &str) -> Result<Vec<u64>, String> {
        match self {
            Col::U64(v) => Ok(v),
            _ => Err(format!("{what}: expected an unsigned integer column")),
        }
    }
    pub fn into_f64(self, what: &str) -> Result<Vec<f64>, String> {
        match self {
            Col::F64(v) => Ok(v),
            _ => Err(format!("{what}: expected a float column")),
        }
    }
    pub fn into_str(self, what: &str) -> Result<Vec<Option<String>>, String> {
        match self {
            Col::Str(v) => Ok(v.into_iter().map(Some).collect()),
            Col::OptStr(v) => Ok(v),
            _ => Err(format!("{what}: expected a string column")),
        }
    }
    pub fn into_bin(self, what: &str) -> Result<Vec<Vec<u8>>, String> {
        match self {
            Col::Bin(v) => Ok(v),
            _ => Err(format!("{what}: expected a binary column")),
        }
    }
}

/// The columns of one batch, taken in schema order; errors name the file
/// and say which type was expected.
pub struct Columns {
    it: std::vec::IntoIter<Col>,
    what: String,
}

impl Columns {
    /// `what` names the file in errors.
    pub fn new(cols: Vec<Col>, what: &str) -> Columns {
        Columns {
            it: cols.into_iter(),
            what: what.to_string(),
        }
    }
    fn next(&mut self) -> Result<Col, String> {
        self.it
            .next()
            .ok_or_else(|| format!("{}: missing column", self.what))
    }
    pub fn u64(&mut self) -> Result<Vec<u64>, String> {
        self.next()?.into_u64(&self.what)
    }
    pub fn f64(&mut self) -> Result<Vec<f64>, String> {
        self.next()?.into_f64(&self.what)
    }
    pub fn str(&mut self) -> Result<Vec<Option<String>>, String> {
        self.next()?.into_str(&self.what)
    }
    pub fn bin(&mut self) -> Result<Vec<Vec<u8>>, String> {
        self.next()?.into_bin(&self.what)
    }
}

/// Writes one table file.
pub struct TableWriter {
    writer: ArrowWriter<AtomicFile>,
    schema: Arc<Schema>,
    path: PathBuf,
}

impl TableWriter {
    pub fn create(path: &Path, columns: &[(&str, ColType)]) -> Result<Self, String> {
        let fields: Vec<Field> = columns
            .iter()
            .map(|(name, t)| {
                let (dt, nullable) = match t {
                    ColType::U64 => (DataType::UInt64, false),
                    ColType::F64 => (DataType::Float64, false),
                    ColType::Str => (DataType::Utf8, false),
                    ColType::OptStr => (DataType::Utf8, true),
                    ColType::Bin => (DataType::Binary, false),
                };
                Field::new(*name, dt, nullable)
            })
            .collect();
        let schema = Arc::new(Schema::new(fields));
        let err = |e: &dyn std::fmt::Display| format!("{}: cannot write: {e}", path.display());
        let file = AtomicFile::create(path).map_err(|e| err(&describe(&e)))?;
        let level = ZstdLevel::try_new(1).map_err(|e| err(&e))?;
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(level))
            .build();
        let writer =
            ArrowWriter::try_new(file, schema.clone(), Some(props)).map_err(|e| err(&e))?;
        Ok(TableWriter {
            writer,
            schema,
            path: path.to_path_buf(),
        })
    }

    /// Write one batch (one row group); columns in schema order.
    pub fn write(&mut self, columns: Vec<Col>) -> Result<(), String> {
        if columns.first().is_none_or(|c| c.is_empty()) {
            return Ok(());
        }
        let arrays: Vec<ArrayRef> = columns.into_iter().map(Col::array).collect();
        let batch = RecordBatch::try_new(self.schema.clone(), arrays)
            .map_err(|e| format!("{}: cannot write: {e}", self.path.display()))?;
        self.writer
            .write(&batch)
            .and_then(|()| self.writer.flush())
            .map_err(|e| format!("{}: cannot write: {e}", self.path.display()))
    }

    /// Finish the file and rename it into place.
    pub fn commit(self) -> Result<(), String> {
        let path = self.path;
        let file = self
            .writer
            .into_inner()
            .map_err(|e| format!("{}: cannot write: {e}", path.display()))?;
        file.commit()
            .map_err(|e| format!("{}: cannot write: {}", path.display(), describe(&e)))
    }
}

/// Read a table file batch by batch; `f` gets the columns in file order.
pub fn read_table(
    path: &Path,
    mut f: impl FnMut(Vec<Col>) -> Result<(), String>,
) -> Result<(), String> {
    let err = |e: &dyn std::fmt::Display| format!("{}: cannot read: {e}", path.display());
    let file = std::fs::File::open(path).map_err(|e| err(&describe(&e)))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| b.with_batch_size(8192).build())
        .map_err(|e| err(&e))?;
    for batch in reader {
        let batch = batch.map_err(|e| err(&e))?;
        f(columns(&batch, path)?)?;
    }
    Ok(())
}

/// One batch (one [`TableWriter::write`] call) of a file, read on demand:
/// writers that sort each batch make sorted runs that a reader merges.
pub struct RunReader {
    reader: ParquetRecordBatchReader,
    path: PathBuf,
}

impl RunReader {
    /// The next rows of the run (`None` at its end).
    pub fn next_rows(&mut self) -> Result<Option<Vec<Col>>, String> {
        match self.reader.next() {
            None => Ok(None),
            Some(Err(e)) => Err(format!("{}: cannot read: {e}", self.path.display())),
            Some(Ok(batch)) => columns(&batch, &self.path).map(Some),
        }
    }
}

/// A reader for each run (written batch) of a table file, each reading
/// `rows` rows at a time, so memory is runs x rows, not the file.
pub fn read_runs(path: &Path, rows: usize) -> Result<Vec<RunReader>, String> {
    let err = |e: &dyn std::fmt::Display| format!("{}: cannot read: {e}", path.display());
    let open = || std::fs::File::open(path).map_err(|e| err(&describe(&e)));
    let groups = ParquetRecordBatchReaderBuilder::try_new(open()?)
        .map_err(|e| err(&e))?
        .metadata()
        .num_row_groups();
    (0..groups)
        .map(|g| {
            let reader = ParquetRecordBatchReaderBuilder::try_new(open()?)
                .and_then(|b| {
                    b.with_row_groups(vec![g])
                        .with_batch_size(rows.max(1))
                        .build()
                })
                .map_err(|e| err(&e))?;
            Ok(RunReader {
                reader,
                path: path.to_path_buf(),
            })
        })
        .collect()
}

fn columns(batch: &RecordBatch, path: &Path) -> Result<Vec<Col>, String> {
    let mut cols = Vec::with_capacity(batch.num_columns());
    for (field, array) in batch.schema().fields().iter().zip(batch.columns()) {
        let col = match field.data_type() {
            DataType::UInt64 => Col::U64(
                array
                    .as_primitive::<UInt64Type>()
                    .values()
                    .iter()
                    .copied()
                    .collect(),
            ),
            DataType::Float64 => Col::F64(
                array
                    .as_primitive::<Float64Type>()
                    .values()
                    .iter()
                    .copied()
                    .collect(),
            ),
            DataType::Utf8 => Col::OptStr(
                array
                    .as_string::<i32>()
                    .iter()
                    .map(|s| s.map(str::to_string))
                    .collect(),
            ),
            DataType::Binary => Col::Bin(
                array
                    .as_binary::<i32>()
                    .iter()
                    .map(|b| b.unwrap_or_default().to_vec())
                    .collect(),
            ),
            other => {
                return Err(format!(
                    "{}: column `{}` has unexpected type {other}; was this file written by \
                     another sluicebox version? Delete the work directory and plan again",
                    path.display(),
                    field.name()
                ))
            }
        };
        cols.push(col);
    }
    Ok(cols)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_every_type_and_batch() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        let mut w = TableWriter::create(
            &path,
            &[
                ("g", ColType::U64),
                ("sim", ColType::F64),
                ("id", ColType::Str),
                ("of", ColType::OptStr),
                ("set", ColType::Bin),
            ],
        )
        .unwrap();
        let batch = |k: u64| {
            vec![
                Col::U64(vec![k, u64::MAX]),
                Col::F64(vec![0.8125, 1.0 / 3.0]),
                Col::Str(vec!["a".into(), "Ünïcode".into()]),
                Col::OptStr(vec![None, Some("x".into())]),
                Col::Bin(vec![vec![], vec![0, 255, 7]]),
            ]
        };
        w.write(batch(1)).unwrap();
        w.write(batch(2)).unwrap();
        assert!(!path.exists(), "visible only after commit");
        w.commit().unwrap();
        let mut got = Vec::new();
        read_table(&path, |cols| {
            got.push(cols);
            Ok(())
        })
        .unwrap();
        let flat: Vec<Col> = got.into_iter().next().unwrap();
        assert_eq!(flat[0], Col::U64(vec![1, u64::MAX, 2, u64::MAX]));
        assert_eq!(
            flat[1],
            Col::F64(vec![0.8125, 1.0 / 3.0, 0.8125, 1.0 / 3.0])
        );
        assert_eq!(
            flat[3],
            Col::OptStr(vec![None, Some("x".into()), None, Some("x".into())])
        );
        assert_eq!(
            flat[4],
            Col::Bin(vec![vec![], vec![0, 255, 7], vec![], vec![0, 255, 7]])
        );
    }

    #[test]
    fn each_written_batch_reads_back_as_its_own_run() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runs.parquet");
        let mut w = TableWriter::create(&path, &[("k", ColType::U64)]).unwrap();
        w.write(vec![Col::U64(vec![1, 5, 9])]).unwrap();
        w.write(vec![Col::U64(vec![2, 3])]).unwrap();
        w.commit().unwrap();
        let mut runs = read_runs(&path, 2).unwrap();
        assert_eq!(runs.len(), 2);
        let mut first = Vec::new();
        while let Some(cols) = runs[0].next_rows().unwrap() {
            assert!(cols[0].len() <= 2, "reads at most 2 rows at a time");
            first.push(cols);
        }
        assert_eq!(
            first,
            vec![vec![Col::U64(vec![1, 5])], vec![Col::U64(vec![9])]]
        );
        assert_eq!(
            runs[1].next_rows().unwrap(),
            Some(vec![Col::U64(vec![2, 3])])
        );
        assert_eq!(runs[1].next_rows().unwrap(), None);
    }

    #[test]
    fn a_missing_or_corrupt_file_is_a_located_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.parquet");
        std::fs::write(&path, b"not parquet at all").unwrap();
        let e = read_table(&path, |_| Ok(())).unwrap_err();
        assert!(e.contains("bad.parquet"), "{e}");
        let e = read_table(&dir.path().join("gone.parquet"), |_| Ok(())).unwrap_err();
        assert!(e.contains("gone.parquet"), "{e}");
    }
}
