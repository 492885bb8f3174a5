//! Parquet input and output (how FineWeb, C4 derivatives and most Hugging
//! Face datasets ship).
//!
//! Input: every row becomes a JSONL-shaped record (column name to value), so
//! the usual `[input] text_field` / `id_field` / `charset_field` apply and
//! every other column passes through to the output. Strings, numbers,
//! booleans, binary (as lossy UTF-8), dates and timestamps (as their stored
//! integers), lists, structs and dictionary columns are supported; a column
//! of any other type passes through as `null`. A string column named
//! `extra_fields` holding a JSON object (written by [`ParquetWriter`]) is
//! expanded back into fields.
//!
//! Output: `docs.parquet` (or `docs-NNNNN.parquet` when sharded) with columns
//! `id`, `source`, `text`, `attributes` (JSON text), then the passthrough
//! fields in order of first appearance, typed from the first row group
//! (all strings: string; all integers: int64; all numbers: double; all
//! booleans: boolean; anything else: JSON text), then `extra_fields`: a
//! JSON object of fields first seen after the schema was fixed (null for
//! almost every row), so no field is ever lost. Row groups hold up to
//! [`ROW_GROUP_BYTES`] of text or [`ROW_GROUP_ROWS`] rows: large enough for
//! fast scans, small enough that readers (pandas, DuckDB, datasets) can
//! stream them. Columns are zstd-compressed at level 1 (the writer runs on
//! the single output thread, so its speed bounds the run's).
//!
//! Complexity: linear in the data; memory: one row group (input: one batch
//! of 1024 rows).

use crate::input::{describe, InputFile};
use crate::json::push_json_str;
use crate::reader::{RawKind, RawRecord};
use crate::writer::AtomicFile;
use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{
    Array, ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;
use serde_json::{Map, Value};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Rows read per Arrow batch.
const READ_BATCH: usize = 1024;
/// Text bytes that close a row group.
pub const ROW_GROUP_BYTES: usize = 64 << 20;
/// Rows that close a row group.
pub const ROW_GROUP_ROWS: usize = 100_000;
/// The column holding fields first seen after the schema was fixed.
pub const EXTRA_FIELDS: &str = "extra_fields";

/// Read a Parquet file into JSON records (one per row, `line` = 1-based row).
pub fn read_parquet(
    input: &InputFile,
    max_doc_bytes: usize,
    emit: &mut dyn FnMut(RawRecord) -> bool,
) {
    let file = input.display.clone();
    let error = |line: u64, msg: String| RawRecord {
        file: file.clone(),
        line,
        kind: RawKind::Error(msg),
    };
    let Some(path) = &input.path else {
        emit(error(
            0,
            "Parquet cannot be read from standard input (it needs a seekable file)".into(),
        ));
        return;
    };
    let f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) => {
            emit(error(0, format!("cannot read: {}", describe(&e))));
            return;
        }
    };
    let reader = match ParquetRecordBatchReaderBuilder::try_new(f)
        .and_then(|b| b.with_batch_size(READ_BATCH).build())
    {
        Ok(r) => r,
        Err(e) => {
            emit(error(0, format!("not a readable Parquet file: {e}")));
            return;
        }
    };
    let mut row = 0u64;
    let mut any = false;
    for batch in reader {
        let batch = match batch {
            Ok(b) => b,
            Err(e) => {
                emit(error(
                    row + 1,
                    format!("read failed after row {row}: {e}; rest of file skipped"),
                ));
                return;
            }
        };
        let schema = batch.schema();
        for i in 0..batch.num_rows() {
            row += 1;
            any = true;
            let mut out = Vec::with_capacity(256);
            out.push(b'{');
            let mut first = true;
            for (field, col) in schema.fields().iter().zip(batch.columns()) {
                if field.name() == EXTRA_FIELDS && matches!(col.data_type(), DataType::Utf8) {
                    if col.is_null(i) {
                        continue;
                    }
                    let s = col.as_string::<i32>().value(i);
                    if let Ok(Value::Object(m)) = serde_json::from_str::<Value>(s) {
                        for (k, v) in m {
                            if !first {
                                out.push(b',');
                            }
                            first = false;
                            push_json_str(&mut out, &k);
                            out.push(b':');
                            let _ = serde_json::to_writer(&mut out, &v);
                        }
                    }
                    continue;
                }
                if !first {
                    out.push(b',');
                }
                first = false;
                push_json_str(&mut out, field.name());
                out.push(b':');
                push_value(&mut out, col.as_ref(), i);
            }
            out.push(b'}');
            let rec = if out.len() > max_doc_bytes {
                error(
                    row,
                    format!(
                        "record of {} bytes exceeds max_doc_bytes ({max_doc_bytes})",
                        out.len()
                    ),
                )
            } else {
                RawRecord {
                    file: file.clone(),
                    line: row,
                    kind: RawKind::Json(out),
                }
            };
            if !emit(rec) {
                return;
            }
        }
    }
    if !any {
        emit(error(0, "empty file".to_string()));
    }
}

fn push_num(out: &mut Vec<u8>, v: impl std::fmt::Display) {
    let _ = write!(out, "{v}");
}

fn push_float(out: &mut Vec<u8>, v: f64) {
    if v.is_finite() {
        // serde_json writes the shortest round-trip form.
        let _ = serde_json::to_writer(&mut *out, &v);
    } else {
        out.extend_from_slice(b"null");
    }
}

/// Row `i` of `a` as JSON.
fn push_value(out: &mut Vec<u8>, a: &dyn Array, i: usize) {
    if a.is_null(i) {
        out.extend_from_slice(b"null");
        return;
    }
    match a.data_type() {
        DataType::Utf8 => push_json_str(out, a.as_string::<i32>().value(i)),
        DataType::LargeUtf8 => push_json_str(out, a.as_string::<i64>().value(i)),
        DataType::Utf8View => push_json_str(out, a.as_string_view().value(i)),
        DataType::Binary => {
            push_json_str(out, &String::from_utf8_lossy(a.as_binary::<i32>().value(i)))
        }
        DataType::LargeBinary => {
            push_json_str(out, &String::from_utf8_lossy(a.as_binary::<i64>().value(i)))
        }
        DataType::BinaryView => {
            push_json_str(out, &String::from_utf8_lossy(a.as_binary_view().value(i)))
        }
        DataType::Boolean => out.extend_from_slice(if a.as_boolean().value(i) {
            b"true"
        } else {
            b"false"
        }),
        DataType::Int8 => push_num(out, a.as_primitive::<Int8Type>().value(i)),
        DataType::Int16 => push_num(out, a.as_primitive::<Int16Type>().value(i)),
        DataType::Int32 => push_num(out, a.as_primitive::<Int32Type>().value(i)),
        DataType::Int64 => push_num(out, a.as_primitive::<Int64Type>().value(i)),
        DataType::UInt8 => push_num(out, a.as_primitive::<UInt8Type>().value(i)),
        DataType::UInt16 => push_num(out, a.as_primitive::<UInt16Type>().value(i)),
        DataType::UInt32 => push_num(out, a.as_primitive::<UInt32Type>().value(i)),
        DataType::UInt64 => push_num(out, a.as_primitive::<UInt64Type>().value(i)),
        DataType::Float32 => push_float(out, a.as_primitive::<Float32Type>().value(i) as f64),
        DataType::Float64 => push_float(out, a.as_primitive::<Float64Type>().value(i)),
        DataType::Date32 => push_num(out, a.as_primitive::<Date32Type>().value(i)),
        DataType::Date64 => push_num(out, a.as_primitive::<Date64Type>().value(i)),
        DataType::Timestamp(unit, _) => {
            let v = match unit {
                TimeUnit::Second => a.as_primitive::<TimestampSecondType>().value(i),
                TimeUnit::Millisecond => a.as_primitive::<TimestampMillisecondType>().value(i),
                TimeUnit::Microsecond => a.as_primitive::<TimestampMicrosecondType>().value(i),
                TimeUnit::Nanosecond => a.as_primitive::<TimestampNanosecondType>().value(i),
            };
            push_num(out, v)
        }
        DataType::List(_) => push_list(out, a.as_list::<i32>().value(i).as_ref()),
        DataType::LargeList(_) => push_list(out, a.as_list::<i64>().value(i).as_ref()),
        DataType::Struct(fields) => {
            let s = a.as_struct();
            out.push(b'{');
            for (k, (f, col)) in fields.iter().zip(s.columns()).enumerate() {
                if k > 0 {
                    out.push(b',');
                }
                push_json_str(out, f.name());
                out.push(b':');
                push_value(out, col.as_ref(), i);
            }
            out.push(b'}');
        }
        DataType::Dictionary(_, _) => match a.as_any_dictionary_opt() {
            Some(d) => {
                let key = d.normalized_keys().get(i).copied();
                match key {
                    Some(k) if k < d.values().len() => push_value(out, d.values().as_ref(), k),
                    _ => out.extend_from_slice(b"null"),
                }
            }
            None => out.extend_from_slice(b"null"),
        },
        _ => out.extend_from_slice(b"null"),
    }
}

fn push_list(out: &mut Vec<u8>, values: &dyn Array) {
    out.push(b'[');
    for j in 0..values.len() {
        if j > 0 {
            out.push(b',');
        }
        push_value(out, values, j);
    }
    out.push(b']');
}

/// Column types the writer infers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Str,
    Int,
    Float,
    Bool,
    /// Any JSON, written as its text.
    Json,
}

/// Documents as Parquet, one row group per [`ROW_GROUP_BYTES`] of text.
pub struct ParquetWriter {
    dir: PathBuf,
    stem: String,
    max_per_file: u64,
    /// Rows that close a row group ([`ROW_GROUP_ROWS`]; tests lower it).
    pub row_group_rows: usize,
    rows: Vec<Map<String, Value>>,
    buffered_bytes: usize,
    columns: Option<Vec<(String, Kind)>>,
    writer: Option<ArrowWriter<AtomicFile>>,
    in_current: u64,
    shard: u64,
    pub files: Vec<PathBuf>,
}

impl ParquetWriter {
    pub fn new(dir: &Path, stem: &str, max_per_file: u64) -> Self {
        ParquetWriter {
            dir: dir.to_path_buf(),
            stem: stem.to_string(),
            max_per_file,
            row_group_rows: ROW_GROUP_ROWS,
            rows: Vec::new(),
            buffered_bytes: 0,
            columns: None,
            writer: None,
            in_current: 0,
            shard: 0,
            files: Vec::new(),
        }
    }

    fn path_for(&self, shard: u64) -> PathBuf {
        if self.max_per_file == 0 {
            self.dir.join(format!("{}.parquet", self.stem))
        } else {
            self.dir.join(format!("{}-{shard:05}.parquet", self.stem))
        }
    }

    fn error(&self, e: impl std::fmt::Display) -> String {
        format!("{}: write failed: {e}", self.path_for(self.shard).display())
    }

    /// Write one record (a JSON object as [`crate::document_json`] makes).
    pub fn write_record(&mut self, json: &[u8]) -> Result<(), String> {
        let row: Map<String, Value> = serde_json::from_slice(json)
            .map_err(|e| self.error(format!("record is not a JSON object: {e}")))?;
        self.buffered_bytes += json.len();
        self.rows.push(row);
        self.in_current += 1;
        let shard_full = self.max_per_file > 0 && self.in_current >= self.max_per_file;
        if shard_full
            || self.buffered_bytes >= ROW_GROUP_BYTES
            || self.rows.len() >= self.row_group_rows
        {
            self.flush_group()?;
        }
        if shard_full {
            self.close_current()?;
            self.shard += 1;
            self.in_current = 0;
        }
        Ok(())
    }

    fn schema(&self) -> Arc<Schema> {
        let fields: Vec<Field> = self
            .columns
            .iter()
            .flatten()
            .map(|(name, kind)| {
                let dt = match kind {
                    Kind::Str | Kind::Json => DataType::Utf8,
                    Kind::Int => DataType::Int64,
                    Kind::Float => DataType::Float64,
                    Kind::Bool => DataType::Boolean,
                };
                Field::new(name, dt, true)
            })
            .chain(std::iter::once(Field::new(
                EXTRA_FIELDS,
                DataType::Utf8,
                true,
            )))
            .collect();
        Arc::new(Schema::new(fields))
    }

    fn infer_columns(rows: &[Map<String, Value>]) -> Vec<(String, Kind)> {
        let mut cols: Vec<(String, Kind)> = vec![
            ("id".into(), Kind::Str),
            ("source".into(), Kind::Str),
            ("text".into(), Kind::Str),
            ("attributes".into(), Kind::Json),
        ];
        let mut index: std::collections::HashMap<String, usize> = cols
            .iter()
            .enumerate()
            .map(|(i, (k, _))| (k.clone(), i))
            .collect();
        let mut kinds: Vec<Option<Kind>> = vec![Some(Kind::Str); cols.len()];
        kinds[3] = Some(Kind::Json);
        for row in rows {
            for (k, v) in row {
                if k == EXTRA_FIELDS {
                    continue;
                }
                let i = *index.entry(k.clone()).or_insert_with(|| {
                    cols.push((k.clone(), Kind::Json));
                    kinds.push(None);
                    cols.len() - 1
                });
                if i < 4 {
                    continue;
                }
                let this = match v {
                    Value::Null => continue,
                    Value::String(_) => Kind::Str,
                    Value::Bool(_) => Kind::Bool,
                    Value::Number(n) if n.is_i64() => Kind::Int,
                    Value::Number(_) => Kind::Float,
                    _ => Kind::Json,
                };
                kinds[i] = Some(match (kinds[i], this) {
                    (None, t) => t,
                    (Some(a), b) if a == b => a,
                    (Some(Kind::Int), Kind::Float) | (Some(Kind::Float), Kind::Int) => Kind::Float,
                    _ => Kind::Json,
                });
            }
        }
        for (c, k) in cols.iter_mut().zip(kinds) {
            // A column of nulls only: strings, the common case.
            c.1 = k.unwrap_or(Kind::Str);
        }
        cols
    }

    fn open(&mut self) -> Result<(), String> {
        let path = self.path_for(self.shard);
        let file = AtomicFile::create(&path).map_err(|e| self.error(describe(&e)))?;
        let level = ZstdLevel::try_new(1).map_err(|e| self.error(e))?;
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(level))
            .set_max_row_group_row_count(None)
            .set_column_dictionary_enabled(ColumnPath::from("text"), false)
            .set_column_dictionary_enabled(ColumnPath::from("id"), false)
            .build();
        let w =
            ArrowWriter::try_new(file, self.schema(), Some(props)).map_err(|e| self.error(e))?;
        self.writer = Some(w);
        Ok(())
    }

    /// Write the buffered rows as one row group.
    fn flush_group(&mut self) -> Result<(), String> {
        if self.rows.is_empty() {
            return Ok(());
        }
        if self.columns.is_none() {
            self.columns = Some(Self::infer_columns(&self.rows));
        }
        if self.writer.is_none() {
            self.open()?;
        }
        let rows = std::mem::take(&mut self.rows);
        self.buffered_bytes = 0;
        let columns = self.columns.clone().unwrap_or_default();
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(columns.len() + 1);
        for (name, kind) in &columns {
            let vals = rows.iter().map(|r| r.get(name).filter(|v| !v.is_null()));
            let a: ArrayRef = match kind {
                Kind::Str => Arc::new(
                    vals.map(|v| {
                        v.map(|v| match v {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        })
                    })
                    .collect::<StringArray>(),
                ),
                Kind::Json => Arc::new(
                    vals.map(|v| v.map(|v| v.to_string()))
                        .collect::<StringArray>(),
                ),
                // A value of another type than the column's first row
                // group goes to `extra_fields` (below) instead.
                Kind::Int => Arc::new(
                    vals.map(|v| v.and_then(Value::as_i64))
                        .collect::<Int64Array>(),
                ),
                Kind::Float => Arc::new(
                    vals.map(|v| v.and_then(Value::as_f64))
                        .collect::<Float64Array>(),
                ),
                Kind::Bool => Arc::new(
                    vals.map(|v| v.and_then(Value::as_bool))
                        .collect::<BooleanArray>(),
                ),
            };
            arrays.push(a);
        }
        let extra: StringArray = rows
            .iter()
            .map(|r| {
                let mut m = Map::new();
                for (k, v) in r {
                    let fits = match columns.iter().find(|(c, _)| c == k) {
                        None => true,
                        Some((_, Kind::Int)) => !(v.is_null() || v.is_i64()),
                        Some((_, Kind::Float)) => !(v.is_null() || v.is_number()),
                        Some((_, Kind::Bool)) => !(v.is_null() || v.is_boolean()),
                        Some(_) => false,
                    };
                    if fits {
                        m.insert(k.clone(), v.clone());
                    }
                }
                (!m.is_empty()).then(|| Value::Object(m).to_string())
            })
            .collect();
        arrays.push(Arc::new(extra));
        let batch = RecordBatch::try_new(self.schema(), arrays).map_err(|e| self.error(e))?;
        let Some(w) = self.writer.as_mut() else {
            return Ok(());
        };
        let res = w.write(&batch).and_then(|_| w.flush());
        res.map_err(|e| self.error(e))
    }

    fn close_current(&mut self) -> Result<(), String> {
        self.flush_group()?;
        if let Some(w) = self.writer.take() {
            let path = self.path_for(self.shard);
            let file = w.into_inner().map_err(|e| self.error(e))?;
            file.commit().map_err(|e| self.error(describe(&e)))?;
            self.files.push(path);
        }
        Ok(())
    }

    /// Finish the last file. With no record written at all, an empty file
    /// (schema `id`, `source`, `text`, `attributes`) is still created.
    pub fn finish(mut self) -> Result<Vec<PathBuf>, String> {
        self.flush_group()?;
        if self.writer.is_none() && self.files.is_empty() {
            self.columns = Some(Self::infer_columns(&[]));
            self.open()?;
        }
        self.close_current()?;
        Ok(self.files)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::Format;
    use crate::record::{parse_record, RecordOptions};
    use arrow_array::builder::{ListBuilder, StringBuilder};
    use sluicebox_core::Document;

    fn read_docs(path: &Path, opts: &RecordOptions) -> (Vec<Document>, Vec<String>) {
        let (files, errs) = crate::expand_inputs(&[path.to_string_lossy().to_string()], None);
        assert!(errs.is_empty());
        assert_eq!(files[0].format, Format::Parquet);
        let mut docs = Vec::new();
        let mut errors = Vec::new();
        crate::read_input(&files[0], 1 << 20, &mut |raw| {
            let line = raw.line;
            match parse_record(raw, opts) {
                Ok(d) => docs.push(d),
                Err(e) => errors.push(format!("{line}: {e}")),
            }
            true
        });
        (docs, errors)
    }

    #[test]
    fn documents_round_trip_with_typed_passthrough_columns() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = ParquetWriter::new(dir.path(), "docs", 0);
        w.row_group_rows = 2;
        let mut records = Vec::new();
        for i in 0..5 {
            let mut d = Document::from_text(
                format!("d{i}"),
                format!("Line one of {i}.\nLine two, \"quoted\"."),
            );
            d.source = if i % 2 == 0 { "news" } else { "web" }.into();
            d.set_attr("lang", "en");
            let mut fields = vec![
                ("url", format!("\"https://example.org/{i}\"")),
                ("n", i.to_string()),
                ("score", format!("{i}.5")),
                ("ok", (i % 2 == 0).to_string()),
                ("meta", format!("{{\"tags\":[\"a\",{i}]}}")),
            ];
            if i == 4 {
                // First seen after the first row group: kept in extra_fields.
                fields.push(("late", "\"yes\"".into()));
            }
            d.fields = fields
                .into_iter()
                .map(|(k, v)| {
                    (
                        k.to_string(),
                        serde_json::value::RawValue::from_string(v).unwrap(),
                    )
                })
                .collect();
            let mut json = Vec::new();
            crate::document_json(&d, &[], true, &mut json);
            w.write_record(&json).unwrap();
            records.push(serde_json::from_slice::<Value>(&json).unwrap());
        }
        // Nothing is visible under the final name before finish.
        assert!(!dir.path().join("docs.parquet").exists());
        let files = w.finish().unwrap();
        assert_eq!(files, [dir.path().join("docs.parquet")]);
        let f = std::fs::File::open(&files[0]).unwrap();
        let b = ParquetRecordBatchReaderBuilder::try_new(f).unwrap();
        assert_eq!(b.metadata().num_row_groups(), 3);
        let names: Vec<_> = b
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        assert_eq!(
            names,
            [
                "id",
                "source",
                "text",
                "attributes",
                "url",
                "n",
                "score",
                "ok",
                "meta",
                "extra_fields"
            ]
        );
        let types: Vec<_> = b
            .schema()
            .fields()
            .iter()
            .map(|f| f.data_type().clone())
            .collect();
        assert_eq!(types[5], DataType::Int64);
        assert_eq!(types[6], DataType::Float64);
        assert_eq!(types[7], DataType::Boolean);
        assert_eq!(types[8], DataType::Utf8);

        let (docs, errors) = read_docs(&files[0], &RecordOptions::default());
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(docs.len(), 5);
        for (d, want) in docs.iter().zip(&records) {
            assert_eq!(d.id, want["id"]);
            assert_eq!(d.source, want["source"]);
            assert_eq!(d.text, want["text"]);
            assert_eq!(d.url(), want["url"].as_str().map(String::from));
            assert_eq!(d.field("n").unwrap(), want["n"]);
            assert_eq!(d.field("score").unwrap(), want["score"]);
            assert_eq!(d.field("ok").unwrap(), want["ok"]);
            // Objects come back as their JSON text.
            assert_eq!(d.field_str("meta").unwrap(), want["meta"].to_string());
        }
        assert_eq!(docs[4].field_str("late").as_deref(), Some("yes"));
        assert!(docs[3].field("late").is_none());
    }

    #[test]
    fn text_column_is_configurable_and_other_columns_pass_through() {
        // A FineWeb-like file written by another tool.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("train-00000-of-00001.parquet");
        let item = Arc::new(Field::new("item", DataType::Utf8, true));
        let schema = Arc::new(Schema::new(vec![
            Field::new("content", DataType::Utf8, true),
            Field::new("url", DataType::LargeUtf8, true),
            Field::new("token_count", DataType::Int32, true),
            Field::new("language_score", DataType::Float32, true),
            Field::new("tags", DataType::List(item), true),
        ]));
        let mut tags = ListBuilder::new(StringBuilder::new());
        tags.values().append_value("news");
        tags.values().append_value("fr");
        tags.append(true);
        tags.append(false);
        tags.append(true);
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from(vec![
                    Some("Le chat dort.\nIl pleut."),
                    Some("Second"),
                    None,
                ])),
                Arc::new(arrow_array::LargeStringArray::from(vec![
                    Some("https://a.fr/1"),
                    None,
                    Some("https://a.fr/3"),
                ])),
                Arc::new(arrow_array::Int32Array::from(vec![7, 2, 0])),
                Arc::new(arrow_array::Float32Array::from(vec![0.5, 0.25, f32::NAN])),
                Arc::new(tags.finish()),
            ],
        )
        .unwrap();
        let file = std::fs::File::create(&p).unwrap();
        let mut w = ArrowWriter::try_new(file, schema, None).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        let opts = RecordOptions {
            text_field: "content".into(),
            ..RecordOptions::default()
        };
        let (docs, errors) = read_docs(&p, &opts);
        assert_eq!(errors, ["3: field `content` is null, expected a string"]);
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].text, "Le chat dort.\nIl pleut.");
        assert_eq!(docs[0].id, format!("{}:1", p.display()));
        let fields = |d: &Document| -> Vec<String> {
            d.fields
                .iter()
                .map(|(k, v)| format!("{k}={}", v.get()))
                .collect()
        };
        assert_eq!(
            fields(&docs[0]),
            [
                "url=\"https://a.fr/1\"",
                "token_count=7",
                "language_score=0.5",
                "tags=[\"news\",\"fr\"]"
            ]
        );
        assert_eq!(
            fields(&docs[1]),
            [
                "url=null",
                "token_count=2",
                "language_score=0.25",
                "tags=null"
            ]
        );
    }

    #[test]
    fn unreadable_parquet_is_one_located_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("broken.parquet");
        std::fs::write(&p, b"PAR1 this is not parquet").unwrap();
        let (docs, errors) = read_docs(&p, &RecordOptions::default());
        assert!(docs.is_empty());
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].starts_with("0: not a readable Parquet file"),
            "{errors:?}"
        );
    }

    #[test]
    fn sharded_output_and_empty_output() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = crate::OutputWriter::new(
            crate::OutputFormat::Parquet,
            dir.path(),
            "docs",
            crate::OutputCompression::None,
            2,
        );
        for i in 0..3 {
            let rec = format!(
                "{{\"id\":\"{i}\",\"source\":\"s\",\"text\":\"t{i}\",\"attributes\":{{}}}}"
            );
            w.write_record(rec.as_bytes()).unwrap();
        }
        let files = w.finish().unwrap();
        let names: Vec<_> = files
            .iter()
            .map(|f| f.file_name().unwrap().to_string_lossy().to_string())
            .collect();
        assert_eq!(names, ["docs-00000.parquet", "docs-00001.parquet"]);
        let (docs, _) = read_docs(&files[1], &RecordOptions::default());
        assert_eq!(docs.len(), 1);
        assert_eq!(docs[0].text, "t2");
        let empty = tempfile::tempdir().unwrap();
        let files = ParquetWriter::new(empty.path(), "docs", 0)
            .finish()
            .unwrap();
        let (docs, errors) = read_docs(&files[0], &RecordOptions::default());
        assert!(docs.is_empty());
        assert_eq!(errors, ["0: empty file"]);
    }
}
