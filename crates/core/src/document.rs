//! The unit of work: one document with its provenance, text and annotations.

use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::sync::Arc;

/// Where a document came from, for error messages and `<file>:<line>` ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// Input path as given (or `-` for stdin).
    pub file: Arc<str>,
    /// 1-based line (JSONL, lines) or record number; 0 for whole files.
    pub line: u64,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.file)
        } else {
            write!(f, "{}:{}", self.file, self.line)
        }
    }
}

/// One document moving through the pipeline.
///
/// Stages read and rewrite `text`, annotate `attributes`, and never touch
/// `seq`, `origin` or `fields`: those belong to the runner and the writer.
#[derive(Debug, Clone)]
pub struct Document {
    /// Position in the input (0-based over all inputs); restores order after
    /// parallel work. Parts produced by a split share their parent's `seq`.
    pub seq: u64,
    /// From the input record, else `<file>:<line>` or the relative path.
    pub id: String,
    /// Name of the `[sources.NAME]` section this document matched, or the
    /// input record's own `source` field, or `default`.
    pub source: String,
    /// Index of the source in the plan (which stage chain applies).
    pub source_index: usize,
    pub origin: Origin,
    /// Undecoded bytes (from `files`/`lines` input) until a decode stage
    /// turns them into `text`. `None` once text is authoritative.
    pub raw: Option<Vec<u8>>,
    /// A declared charset (HTTP header, `<meta>`, input field, per-source
    /// setting). A hint, never the truth.
    pub charset_hint: Option<String>,
    /// The document text, UTF-8.
    pub text: String,
    /// Input fields other than id/text, passed through to the output untouched
    /// (kept as raw JSON so they are never re-encoded).
    pub fields: Vec<(String, Box<RawValue>)>,
    /// What stages learned about the document (`encoding`, `lang`,
    /// `duplicate_of`, `sentences` ...). Written to the output as `attributes`.
    pub attributes: Map<String, Value>,
}

impl Document {
    /// A document with text only (tests, benches, stage unit tests).
    pub fn from_text(id: impl Into<String>, text: impl Into<String>) -> Self {
        Document {
            seq: 0,
            id: id.into(),
            source: "default".to_string(),
            source_index: 0,
            origin: Origin {
                file: Arc::from("-"),
                line: 0,
            },
            raw: None,
            charset_hint: None,
            text: text.into(),
            fields: Vec::new(),
            attributes: Map::new(),
        }
    }

    /// A document whose bytes still need decoding.
    pub fn from_bytes(id: impl Into<String>, raw: Vec<u8>) -> Self {
        let mut doc = Document::from_text(id, String::new());
        doc.raw = Some(raw);
        doc
    }

    /// Size used for byte accounting: raw bytes before decode, text after.
    pub fn byte_len(&self) -> usize {
        match &self.raw {
            Some(raw) => raw.len(),
            None => self.text.len(),
        }
    }

    /// A passthrough field by name (e.g. `url`), parsed.
    pub fn field(&self, name: &str) -> Option<Value> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| serde_json::from_str(v.get()).ok())
    }

    /// A passthrough string field by name without allocating a `Value`.
    pub fn field_str(&self, name: &str) -> Option<String> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| serde_json::from_str::<String>(v.get()).ok())
    }

    /// The document's URL, if the input carried one (`url` field).
    pub fn url(&self) -> Option<String> {
        self.field_str("url")
    }

    /// Part `k` (1-based) of a split of this document: id `<id>#<k>`,
    /// `attributes.parent` = this id, same seq, source and passthrough fields;
    /// attributes copied so earlier annotations survive.
    pub fn part(&self, k: usize, text: String) -> Document {
        let mut attributes = self.attributes.clone();
        attributes.insert("parent".to_string(), Value::String(self.id.clone()));
        Document {
            seq: self.seq,
            id: format!("{}#{}", self.id, k),
            source: self.source.clone(),
            source_index: self.source_index,
            origin: self.origin.clone(),
            raw: None,
            charset_hint: self.charset_hint.clone(),
            text,
            fields: self.fields.clone(),
            attributes,
        }
    }

    /// Set an attribute (shorthand used by every stage).
    pub fn set_attr(&mut self, key: &str, value: impl Into<Value>) {
        self.attributes.insert(key.to_string(), value.into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_keeps_provenance_and_names_parent() {
        let mut doc = Document::from_text("page-7", "a\n\nb");
        doc.seq = 41;
        doc.fields.push((
            "url".into(),
            RawValue::from_string("\"https://example.com/x\"".into()).unwrap(),
        ));
        doc.set_attr("lang", "en");
        let part = doc.part(2, "b".into());
        assert_eq!(part.id, "page-7#2");
        assert_eq!(part.seq, 41);
        assert_eq!(part.url().as_deref(), Some("https://example.com/x"));
        assert_eq!(part.attributes["parent"], "page-7");
        assert_eq!(part.attributes["lang"], "en");
        assert_eq!(part.text, "b");
    }

    #[test]
    fn byte_len_counts_raw_until_decoded() {
        let doc = Document::from_bytes("x", vec![0xe9, b'a']);
        assert_eq!(doc.byte_len(), 2);
        assert_eq!(Document::from_text("y", "héllo").byte_len(), 6);
    }
}
