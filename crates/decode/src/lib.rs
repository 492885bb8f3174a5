//! sluicebox-decode: the `decode` stage turns raw bytes into clean UTF-8.
//!
//! Every later stage assumes `doc.text` is UTF-8 with LF line ends, NFC, no
//! control characters and no trailing whitespace; this stage makes that true.
//!
//! * Documents with `raw` bytes (`files`/`lines` input) are decoded by
//!   [`decode_vec`]: BOM, then valid UTF-8, then "UTF-8 with stray
//!   windows-1252 bytes", then chardetng weighed against the declared charset
//!   (`doc.charset_hint`, a hint only). See [`detect`] for the reasoning.
//! * Documents that arrived as text (JSONL) are only normalised
//!   ([`normalize()`]) and recorded as `encoding = "utf-8"`, rule `input`.
//!
//! Attributes: `encoding` (lower-case WHATWG name), `encoding_rule`
//! (`bom`/`utf8`/`mixed`/`declared`/`detected`/`input`), `encoding_confidence`
//! (`high`/`low`, only when chardetng was consulted), `replacement_chars`
//! (U+FFFD in the result). Counters: one per rule, `normalized` (documents
//! whose text normalisation changed), `replacement_chars`.
//!
//! Complexity: linear in the document size (see [`detect`] and
//! [`mod@normalize`] for the passes); chardetng looks at most at the first
//! [`detect::DETECT_PREFIX`] bytes.

pub mod detect;
pub mod normalize;

pub use detect::{
    decode_bytes, decode_bytes_with, decode_vec, tld_of_url, Confidence, Declared, DecodeOptions,
    Decoded, Rule,
};
pub use normalize::normalize;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sluicebox_core::{
    BuildContext, Built, Cx, Document, ParallelStage, Reason, StageError, StagePlugin, Verdict,
};
use std::sync::Arc;

/// Options of the `decode` stage.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct DecodeConfig {
    /// Drop a document (reason `undecodable`) when more than this share of
    /// its characters are U+FFFD replacement characters. 0.01 = one in a
    /// hundred, i.e. about one damaged character per sentence: beyond that
    /// the text is visibly broken for a reader or a model, while a few stray
    /// replacement characters (common in scraped UTF-8) keep the document.
    /// The count is always in `attributes.replacement_chars` for finer
    /// filtering later. 1.0 never drops.
    pub max_replacement_ratio: f64,
    /// How to use a declared charset (`[input] charset_field` or per-source
    /// `encoding`): `hint` (default) uses it only for bytes that are not
    /// UTF-8, decode without errors under it, and where detection is unsure
    /// or agrees; `trust` uses it whenever the bytes decode without errors
    /// under it (for sources known to declare correctly); `ignore`.
    pub declared: Declared,
    /// Give the top-level domain of the document's `url` to the charset
    /// detector (a `.ru` page is more likely windows-1251 than latin-1).
    pub use_url_tld: bool,
}

impl Default for DecodeConfig {
    fn default() -> Self {
        DecodeConfig {
            max_replacement_ratio: 0.01,
            declared: Declared::Hint,
            use_url_tld: true,
        }
    }
}

/// The `decode` stage plugin.
pub struct DecodePlugin;

impl StagePlugin for DecodePlugin {
    type Config = DecodeConfig;
    const TYPE: &'static str = "decode";
    const SUMMARY: &'static str =
        "decode raw bytes to UTF-8 (BOM, UTF-8, mixed, declared, detected) and normalise text";
    const REASONS: &'static [Reason] = &[Reason {
        code: "undecodable",
        doc: "more than max_replacement_ratio of the characters are U+FFFD after decoding",
    }];

    fn validate(c: &DecodeConfig) -> Result<(), String> {
        if !(0.0..=1.0).contains(&c.max_replacement_ratio) {
            return Err(format!(
                "max_replacement_ratio must be between 0 and 1, got {}",
                c.max_replacement_ratio
            ));
        }
        Ok(())
    }

    fn build(c: &DecodeConfig, _cx: &BuildContext) -> Result<Built, StageError> {
        Ok(Built::Parallel(Arc::new(DecodeStage { config: c.clone() })))
    }
}

/// The registry entry for the pipeline.
pub fn factory() -> Box<dyn sluicebox_core::StageFactory> {
    sluicebox_core::plugin::factory::<DecodePlugin>()
}

/// The runtime half.
pub struct DecodeStage {
    config: DecodeConfig,
}

impl DecodeStage {
    pub fn new(config: DecodeConfig) -> Self {
        DecodeStage { config }
    }
}

impl ParallelStage for DecodeStage {
    fn process(&self, doc: &mut Document, cx: &mut Cx) -> Result<Verdict, StageError> {
        let (encoding, rule, confidence, replacements) = match doc.raw.take() {
            Some(raw) => {
                let tld = if self.config.use_url_tld && !doc.fields.is_empty() {
                    doc.url().and_then(|u| tld_of_url(&u))
                } else {
                    None
                };
                let opts = DecodeOptions {
                    declared: doc.charset_hint.as_deref(),
                    declared_policy: self.config.declared,
                    tld: tld.as_deref(),
                    ..DecodeOptions::default()
                };
                let d = decode_vec(raw, &opts);
                if d.normalized {
                    cx.count("normalized", 1);
                }
                doc.text = d.text;
                (d.encoding, d.rule, d.confidence, d.replacement_chars)
            }
            None => {
                let text = std::mem::take(&mut doc.text);
                let before = text.len();
                let ptr = text.as_ptr();
                doc.text = normalize::normalize_string(text);
                if doc.text.as_ptr() != ptr || doc.text.len() != before {
                    cx.count("normalized", 1);
                }
                let n = detect::count_replacements(&doc.text);
                ("utf-8", Rule::Input, None, n)
            }
        };
        cx.count(rule.as_str(), 1);
        cx.count("replacement_chars", replacements as u64);
        doc.set_attr("encoding", encoding);
        doc.set_attr("encoding_rule", rule.as_str());
        if let Some(c) = confidence {
            doc.set_attr("encoding_confidence", c.as_str());
        }
        doc.set_attr("replacement_chars", replacements as u64);
        if replacements > 0 {
            let chars = doc.text.chars().count().max(1);
            let ratio = replacements as f64 / chars as f64;
            if ratio > self.config.max_replacement_ratio {
                return Ok(Verdict::drop(
                    "undecodable",
                    format!(
                        "{replacements} of {chars} characters are U+FFFD ({:.1}%) after decoding as {encoding}",
                        ratio * 100.0
                    ),
                ));
            }
        }
        Ok(Verdict::Changed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(toml_src: &str) -> Arc<dyn ParallelStage> {
        let table: toml::Table = toml::from_str(toml_src).unwrap();
        match factory().build(&table, &BuildContext::default()).unwrap() {
            Built::Parallel(s) => s,
            _ => panic!("decode must be a parallel stage"),
        }
    }

    fn run(s: &Arc<dyn ParallelStage>, doc: &mut Document) -> (Verdict, Cx) {
        let mut cx = Cx::default();
        let v = s.process(doc, &mut cx).unwrap();
        (v, cx)
    }

    #[test]
    fn raw_legacy_bytes_become_text_with_attributes() {
        let s = stage("");
        let text = "Все люди рождаются свободными и равными в своем достоинстве и правах.";
        let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode(text);
        let mut doc = Document::from_bytes("a", bytes.into_owned());
        doc.charset_hint = Some("iso-8859-1".into());
        let (v, cx) = run(&s, &mut doc);
        assert!(matches!(v, Verdict::Changed));
        assert_eq!(doc.text, text);
        assert!(doc.raw.is_none());
        assert_eq!(doc.attributes["encoding"], "windows-1251");
        assert_eq!(doc.attributes["encoding_rule"], "detected");
        assert_eq!(doc.attributes["encoding_confidence"], "high");
        assert_eq!(doc.attributes["replacement_chars"], 0);
        assert_eq!(cx.counters.get("detected"), Some(&1));
    }

    #[test]
    fn seed_bytes_decode_as_utf8_and_normalise() {
        let s = stage("");
        let seed = include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/seeds/000_e7f6ed2af000063c.txt"
        ));
        let mut doc = Document::from_bytes("seed", seed.to_vec());
        let (_, cx) = run(&s, &mut doc);
        assert_eq!(doc.attributes["encoding"], "utf-8");
        assert_eq!(doc.attributes["encoding_rule"], "utf8");
        // The line ends in U+00A0 in the seed; the one inside the line stays.
        assert!(doc
            .text
            .contains("Brexit Britain laid bare\u{a0}[REVEAL]\n"));
        assert!(!doc.text.contains("\u{a0}\n"));
        assert_eq!(cx.counters.get("normalized"), Some(&1));
    }

    #[test]
    fn jsonl_text_is_only_normalised() {
        let s = stage("");
        let mut doc = Document::from_text("j", "Line one \r\nline two\u{a0}");
        let (v, cx) = run(&s, &mut doc);
        assert!(matches!(v, Verdict::Changed));
        assert_eq!(doc.text, "Line one\nline two");
        assert_eq!(doc.attributes["encoding_rule"], "input");
        assert_eq!(doc.attributes["encoding"], "utf-8");
        assert!(doc.attributes.get("encoding_confidence").is_none());
        assert_eq!(cx.counters.get("input"), Some(&1));
        assert_eq!(cx.counters.get("normalized"), Some(&1));

        let mut clean = Document::from_text("k", "Already clean.");
        let (_, cx) = run(&s, &mut clean);
        assert_eq!(cx.counters.get("normalized"), None);
    }

    #[test]
    fn invalid_utf8_noise_is_dropped_as_undecodable() {
        let s = stage("");
        // A UTF-8 BOM in front of Shift_JIS bytes (a broken export): the
        // BOM is believed, most characters become U+FFFD, the doc is dropped.
        let (sjis, _, _) =
            encoding_rs::SHIFT_JIS.encode("すべての人間は、生まれながらにして自由である。");
        let mut bytes = vec![0xEF, 0xBB, 0xBF];
        bytes.extend_from_slice(&sjis);
        let mut doc = Document::from_bytes("bom-sjis", bytes);
        let (v, _) = run(&s, &mut doc);
        assert!(
            matches!(
                v,
                Verdict::Drop {
                    reason: "undecodable",
                    ..
                }
            ),
            "{v:?}"
        );
        assert_eq!(doc.attributes["encoding_rule"], "bom");
        assert!(doc.attributes["replacement_chars"].as_u64().unwrap() > 10);
        let mut doc = Document::from_text("t", "ab\u{FFFD}\u{FFFD}cd efgh ijkl mnop");
        let (v, _) = run(&s, &mut doc);
        assert!(
            matches!(
                v,
                Verdict::Drop {
                    reason: "undecodable",
                    ..
                }
            ),
            "{v:?}"
        );
        assert_eq!(doc.attributes["replacement_chars"], 2);
        // The ratio is configurable.
        let lenient = stage("max_replacement_ratio = 0.5");
        let mut doc = Document::from_text("t", "ab\u{FFFD}\u{FFFD}cd efgh ijkl mnop");
        assert!(matches!(run(&lenient, &mut doc).0, Verdict::Changed));
    }

    #[test]
    fn truncated_raw_utf8_sequences_count_as_replacements() {
        let s = stage("");
        // Shift_JIS declared as UTF-8 and chopped: mostly-UTF-8 fails, the
        // decoder detects Shift_JIS, no replacement characters.
        let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode(
            "すべての人間は、生まれながらにして自由であり、かつ、尊厳と権利とについて平等である。",
        );
        let mut doc = Document::from_bytes("sjis", sjis.into_owned());
        doc.charset_hint = Some("utf-8".into());
        let (v, _) = run(&s, &mut doc);
        assert!(matches!(v, Verdict::Changed));
        assert_eq!(doc.attributes["encoding"], "shift_jis");
        // Many invalid sequences in short UTF-8 text: dropped.
        let mut bytes = "日本語".as_bytes().to_vec();
        bytes.extend_from_slice(&[0xE6, 0x97]);
        let mut doc = Document::from_bytes("cut", bytes);
        let (v, _) = run(&s, &mut doc);
        assert_eq!(doc.text, "日本語\u{FFFD}");
        assert!(matches!(
            v,
            Verdict::Drop {
                reason: "undecodable",
                ..
            }
        ));
    }

    #[test]
    fn config_is_validated_and_documented() {
        let f = factory();
        let bad: toml::Table = toml::from_str("max_replacement_ratio = 2.0").unwrap();
        assert!(f.check(&bad).unwrap_err().contains("between 0 and 1"));
        let typo: toml::Table = toml::from_str("declard = \"trust\"").unwrap();
        assert!(f.check(&typo).unwrap_err().contains("unknown field"));
        let ok: toml::Table = toml::from_str("declared = \"trust\"").unwrap();
        f.check(&ok).unwrap();
        let opts = f.options();
        assert_eq!(opts.len(), 3);
        assert!(opts.iter().all(|o| !o.doc.is_empty()));
        assert_eq!(f.reasons()[0].code, "undecodable");
    }

    #[test]
    fn empty_input() {
        let s = stage("");
        let mut doc = Document::from_bytes("e", Vec::new());
        let (v, _) = run(&s, &mut doc);
        assert!(matches!(v, Verdict::Changed));
        assert_eq!(doc.text, "");
        assert_eq!(doc.attributes["replacement_chars"], 0);
    }
}
