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

/// The text field's value: a string, or what it was instead (for the error).
enum TextValue {
    Str(String),
    Other(&'static str),
}

impl<'de> serde::Deserialize<'de> for TextValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = TextValue;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_str<E>(self, v: &str) -> Result<TextValue, E> {
                Ok(TextValue::Str(v.to_owned()))
            }
            fn visit_string<E>(self, v: String) -> Result<TextValue, E> {
                Ok(TextValue::Str(v))
            }
            fn visit_bool<E>(self, _: bool) -> Result<TextValue, E> {
                Ok(TextValue::Other("a boolean"))
            }
            fn visit_i64<E>(self, _: i64) -> Result<TextValue, E> {
                Ok(TextValue::Other("a number"))
            }
            fn visit_u64<E>(self, _: u64) -> Result<TextValue, E> {
                Ok(TextValue::Other("a number"))
            }
            fn visit_f64<E>(self, _: f64) -> Result<TextValue, E> {
                Ok(TextValue::Other("a number"))
            }
            fn visit_unit<E>(self) -> Result<TextValue, E> {
                Ok(TextValue::Other("null"))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<TextValue, A::Error> {
                while a.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(TextValue::Other("an array"))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<TextValue, A::Error> {
                while a
                    .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(TextValue::Other("an object"))
            }
        }
        d.deserialize_any(V)
    }
}

/// Top-level fields in input order: the text field parsed (once), the
/// others left as raw JSON.
struct Fields<'a> {
    text: Option<TextValue>,
    duplicate_text: bool,
    others: Vec<(std::borrow::Cow<'a, str>, &'a RawValue)>,
}

struct FieldsSeed<'s> {
    text_field: &'s str,
}

impl<'de> serde::de::DeserializeSeed<'de> for FieldsSeed<'_> {
    type Value = Fields<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Fields<'de>, D::Error> {
        struct V<'s>(&'s str);
        impl<'de> Visitor<'de> for V<'_> {
            type Value = Fields<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields<'de>, A::Error> {
                let mut out = Fields {
                    text: None,
                    duplicate_text: false,
                    others: Vec::with_capacity(8),
                };
                while let Some(k) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    if k == self.0 {
                        let v = map.next_value::<TextValue>()?;
                        out.duplicate_text |= out.text.is_some();
                        out.text = Some(v);
                    } else {
                        out.others.push((k, map.next_value::<&'de RawValue>()?));
                    }
                }
                Ok(out)
            }
        }
        d.deserialize_map(V(self.text_field))
    }
}

/// Parsed fields that no longer borrow from the line.
struct OwnedFields {
    text: Option<TextValue>,
    duplicate_text: bool,
    others: Vec<(String, Box<RawValue>)>,
}

fn fields_to_owned(f: Fields<'_>) -> OwnedFields {
    OwnedFields {
        text: f.text,
        duplicate_text: f.duplicate_text,
        others: f
            .others
            .into_iter()
            .map(|(k, v)| (k.into_owned(), v.to_owned()))
            .collect(),
    }
}

/// Replace `\uXXXX` escapes of unpaired UTF-16 surrogates with `\ufffd`;
/// returns the new line and how many were replaced.
fn replace_lone_surrogates(line: &str) -> (String, usize) {
    fn unit(b: &[u8], i: usize) -> Option<u16> {
        // b[i] == '\\', b[i + 1] == 'u', four hex digits follow.
        if b.get(i + 1) != Some(&b'u') {
            return None;
        }
        let hex = std::str::from_utf8(b.get(i + 2..i + 6)?).ok()?;
        u16::from_str_radix(hex, 16).ok()
    }
    let b = line.as_bytes();
    let mut out = String::with_capacity(line.len());
    let mut n = 0;
    let mut last = 0;
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            i += 1;
            continue;
        }
        match unit(b, i) {
            Some(0xD800..=0xDBFF) => match unit(b, i + 6) {
                Some(0xDC00..=0xDFFF) if b.get(i + 6) == Some(&b'\\') => i += 12,
                _ => {
                    out.push_str(&line[last..i]);
                    out.push_str("\\ufffd");
                    n += 1;
                    i += 6;
                    last = i;
                }
            },
            Some(0xDC00..=0xDFFF) => {
                out.push_str(&line[last..i]);
                out.push_str("\\ufffd");
                n += 1;
                i += 6;
                last = i;
            }
            // Any other escape (including `\\`): skip both characters.
            _ => i += 2,
        }
    }
    out.push_str(&line[last..]);
    (out, n)
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
        RawKind::Web(w) => Ok(web_document(*w, origin)),
        RawKind::Json(line) => {
            use serde::de::DeserializeSeed;
            // Validate UTF-8 once for the whole line; parsing from &str then
            // skips serde_json's per-string validation.
            let line = std::str::from_utf8(&line).map_err(|u| {
                format!(
                    "invalid UTF-8 at byte {} of the record (JSONL must be UTF-8)",
                    u.valid_up_to()
                )
            })?;
            let parse = |line: &str| {
                let seed = FieldsSeed {
                    text_field: &opts.text_field,
                };
                let mut de = serde_json::Deserializer::from_str(line);
                seed.deserialize(&mut de)
                    .and_then(|f| de.end().map(|_| f))
                    .map(|f| fields_to_owned(f))
            };
            let mut lone_surrogates = 0;
            let fields = match parse(line) {
                Ok(f) => f,
                Err(e) => {
                    // Bad JSON encoders write lone UTF-16 surrogates
                    // (`\ud83d` without its pair); keep the record with
                    // U+FFFD in their place rather than lose it.
                    let (fixed, n) = replace_lone_surrogates(line);
                    match (n > 0).then(|| parse(&fixed)) {
                        Some(Ok(f)) => {
                            lone_surrogates = n;
                            f
                        }
                        _ => return Err(format!("invalid JSON: {e}")),
                    }
                }
            };
            if fields.duplicate_text {
                return Err(format!("field `{}` appears twice", opts.text_field));
            }
            let text = match fields.text {
                Some(TextValue::Str(s)) => Some(s),
                Some(TextValue::Other(kind)) => {
                    return Err(format!(
                        "field `{}` is {kind}, expected a string",
                        opts.text_field
                    ))
                }
                None => None,
            };
            let mut id = None;
            let mut source = None;
            let mut charset = None;
            let mut passthrough = Vec::with_capacity(fields.others.len());
            for (k, v) in fields.others {
                let k: &str = &k;
                // Other fields are kept as raw JSON, unchecked: a lone
                // surrogate there would make the output line invalid JSON.
                let v = if v.get().contains("\\u") {
                    let (fixed, n) = replace_lone_surrogates(v.get());
                    if n > 0 {
                        lone_surrogates += n;
                        RawValue::from_string(fixed).unwrap_or(v)
                    } else {
                        v
                    }
                } else {
                    v
                };
                if k == opts.id_field && id.is_none() {
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
                    if opts.charset_field.as_deref() == Some(k) {
                        charset = serde_json::from_str::<String>(v.get()).ok();
                    }
                    passthrough.push((k.to_string(), v));
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
            if lone_surrogates > 0 {
                doc.set_attr("lone_surrogates", lone_surrogates);
            }
            Ok(doc)
        }
    }
}

/// A WET/WARC record's document. HTML is turned into text lines here (on
/// the workers) but stays in the page's bytes, so `decode` still decides
/// the charset, as for `files` input; WET text (UTF-8 by definition) is
/// taken as text when it is valid UTF-8.
fn web_document(w: crate::warc::WebRecord, origin: Origin) -> Document {
    let id = if w.id.is_empty() {
        origin.to_string()
    } else {
        w.id
    };
    let mut doc = if w.html {
        let hint = w
            .charset
            .clone()
            .or_else(|| crate::html::meta_charset(&w.bytes));
        let mut d = Document::from_bytes(id, crate::html::html_to_text(&w.bytes, hint.as_deref()));
        d.charset_hint = hint;
        d
    } else {
        match String::from_utf8(w.bytes) {
            Ok(text) if w.charset.is_none() => Document::from_text(id, text),
            Ok(text) => {
                let mut d = Document::from_bytes(id, text.into_bytes());
                d.charset_hint = w.charset;
                d
            }
            Err(e) => {
                let mut d = Document::from_bytes(id, e.into_bytes());
                d.charset_hint = w.charset.or_else(|| Some("utf-8".to_string()));
                d
            }
        }
    };
    doc.origin = origin;
    doc.fields = w.fields;
    if let Some(note) = w.note {
        doc.set_attr("warc_warning", note);
    }
    doc
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
    fn lone_surrogate_escapes_become_replacement_characters() {
        let d = json(r#"{"id":"s","text":"broken \ud83d escape, pair \ud83d\ude00, low \udc00, path C:\\ud83d"}"#)
            .unwrap();
        assert_eq!(
            d.text,
            "broken \u{fffd} escape, pair 😀, low \u{fffd}, path C:\\ud83d"
        );
        assert_eq!(d.attributes["lone_surrogates"], 2);
        // A record that is broken otherwise is still an error.
        assert!(json(r#"{"text":"\ud83d" "#)
            .unwrap_err()
            .starts_with("invalid JSON"));
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
