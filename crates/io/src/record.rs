//! Raw records to documents. Runs on the worker threads.

use crate::reader::{RawKind, RawRecord};
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use sluicebox_core::{Document, Origin};
use std::fmt;

/// How JSONL records map onto documents.
#[derive(Debug, Clone)]
pub struct RecordOptions {
    /// Field holding the document text.
    pub text_field: String,
    /// Field holding the document id (else `<file>:<line>`).
    pub id_field: String,
    /// Field holding a declared charset, passed to decode as a hint.
    pub charset_field: Option<String>,
}

impl Default for RecordOptions {
    fn default() -> Self {
        RecordOptions {
            text_field: "text".into(),
            id_field: "id".into(),
            charset_field: None,
        }
    }
}

/// Top-level JSON object fields in input order, values left unparsed.
struct Fields<'a>(Vec<(std::borrow::Cow<'a, str>, &'a RawValue)>);

impl<'de> serde::Deserialize<'de> for Fields<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Fields<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields<'de>, A::Error> {
                let mut out = Vec::with_capacity(8);
                while let Some((k, v)) =
                    map.next_entry::<std::borrow::Cow<'de, str>, &'de RawValue>()?
                {
                    out.push((k, v));
                }
                Ok(Fields(out))
            }
        }
        d.deserialize_map(V)
    }
}

fn json_kind(raw: &RawValue) -> &'static str {
    match raw.get().as_bytes().first() {
        Some(b'"') => "a string",
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b't') | Some(b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    }
}

/// Parse one raw record into a document (seq and source are set by the
/// caller). The error is the message to report after `file:line: `.
pub fn parse_record(raw: RawRecord, opts: &RecordOptions) -> Result<Document, String> {
    let origin = Origin {
        file: raw.file,
        line: raw.line,
    };
    match raw.kind {
        RawKind::Error(msg) => Err(msg),
        RawKind::Bytes { id, bytes } => {
            let mut doc = Document::from_bytes(id, bytes);
            doc.origin = origin;
            Ok(doc)
        }
        RawKind::Json(line) => {
            let fields: Fields = match serde_json::from_slice(&line) {
                Ok(f) => f,
                Err(e) => {
                    return Err(match std::str::from_utf8(&line) {
                        Err(u) => format!(
                            "invalid UTF-8 at byte {} of the record (JSONL must be UTF-8)",
                            u.valid_up_to()
                        ),
                        Ok(_) => format!("invalid JSON: {e}"),
                    })
                }
            };
            let mut text = None;
            let mut id = None;
            let mut source = None;
            let mut charset = None;
            let mut passthrough = Vec::with_capacity(fields.0.len());
            for (k, v) in fields.0 {
                if k == opts.text_field {
                    if text.is_some() {
                        return Err(format!("field `{k}` appears twice"));
                    }
                    text = Some(serde_json::from_str::<String>(v.get()).map_err(|_| {
                        format!("field `{k}` is {}, expected a string", json_kind(v))
                    })?);
                } else if k == opts.id_field && id.is_none() {
                    id = Some(match serde_json::from_str::<String>(v.get()) {
                        Ok(s) => s,
                        Err(_) => v.get().to_string(),
                    });
                } else {
                    if k == "source" {
                        source = serde_json::from_str::<String>(v.get()).ok();
                        if source.is_some() {
                            continue;
                        }
                    }
                    if opts.charset_field.as_deref() == Some(&k) {
                        charset = serde_json::from_str::<String>(v.get()).ok();
                    }
                    passthrough.push((k.into_owned(), v.to_owned()));
                }
            }
            let Some(text) = text else {
                return Err(format!("missing field `{}`", opts.text_field));
            };
            let id = id.unwrap_or_else(|| origin.to_string());
            let mut doc = Document::from_text(id, text);
            doc.origin = origin;
            doc.fields = passthrough;
            doc.charset_hint = charset.filter(|c| !c.is_empty());
            if let Some(s) = source {
                doc.source = s;
            }
            Ok(doc)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn json(line: &str) -> Result<Document, String> {
        let raw = RawRecord {
            file: Arc::from("dump.jsonl"),
            line: 7,
            kind: RawKind::Json(line.as_bytes().to_vec()),
        };
        parse_record(
            raw,
            &RecordOptions {
                charset_field: Some("declared_charset".into()),
                ..Default::default()
            },
        )
    }

    #[test]
    fn fields_pass_through_in_order_and_untouched() {
        let d = json(r#"{"url":"https://x.org/a","id":"r1","text":"Caf\u00e9\nok","meta":{"b":[1,2.50]},"declared_charset":"iso-8859-1","source":"cc"}"#).unwrap();
        assert_eq!(d.id, "r1");
        assert_eq!(d.text, "Café\nok");
        assert_eq!(d.source, "cc");
        assert_eq!(d.charset_hint.as_deref(), Some("iso-8859-1"));
        let names: Vec<_> = d.fields.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["url", "meta", "declared_charset"]);
        assert_eq!(d.fields[1].1.get(), r#"{"b":[1,2.50]}"#);
        assert_eq!(d.url().as_deref(), Some("https://x.org/a"));
    }

    #[test]
    fn missing_id_falls_back_to_file_and_line() {
        let d = json(r#"{"text":"hello"}"#).unwrap();
        assert_eq!(d.id, "dump.jsonl:7");
        let d = json(r#"{"id":42,"text":"hello"}"#).unwrap();
        assert_eq!(d.id, "42");
    }

    #[test]
    fn bad_records_say_what_is_wrong() {
        assert_eq!(json(r#"{"id":"a"}"#).unwrap_err(), "missing field `text`");
        assert_eq!(
            json(r#"{"text":12}"#).unwrap_err(),
            "field `text` is a number, expected a string"
        );
        assert_eq!(
            json(r#"{"text":null}"#).unwrap_err(),
            "field `text` is null, expected a string"
        );
        assert!(json(r#"{"text":"a""#)
            .unwrap_err()
            .starts_with("invalid JSON: EOF while parsing"));
        assert!(json("[1,2]")
            .unwrap_err()
            .starts_with("invalid JSON: invalid type"));
        let raw = RawRecord {
            file: Arc::from("d"),
            line: 1,
            kind: RawKind::Json(b"{\"text\":\"caf\xe9\"}".to_vec()),
        };
        assert_eq!(
            parse_record(raw, &RecordOptions::default()).unwrap_err(),
            "invalid UTF-8 at byte 12 of the record (JSONL must be UTF-8)"
        );
    }
}
