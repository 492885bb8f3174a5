//! Stage `segment`: split multi-article pages into one document per article, and find
//! sentence boundaries.
//!
//! * `articles = true`: a page with at least `min_articles` article starts (a title line
//!   confirmed by a dateline, byline, comment counter or repeated title; see [`articles`])
//!   becomes `Verdict::Split` with parts `<id>#1 … <id>#k` carrying `attributes.title` and
//!   `attributes.parent`. Page-header lines before the first article that hold no sentence
//!   ("Home Blog Page 191") are dropped and counted (`preamble_lines_dropped`); a preamble
//!   with sentences stays at the head of the first article.
//! * `sentences = true`: `attributes.sentences` = `[[start, end], …]` byte offsets into the
//!   final text; with `sentence_per_line = true` the text is rewritten one sentence a line,
//!   paragraphs separated by a blank line (offsets then refer to the rewritten text).
//!
//! The language comes from `attributes.lang` (set by deboilerplate when it detects one) or the
//! `lang` option; languages without an abbreviation list use the universal rules.
//!
//! Cost: both jobs are single passes, O(n) in the text length (see the module docs).
//! Placement: parallel (no state across documents).

pub mod articles;
pub mod lang;
pub mod sentences;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sluicebox_core::plugin::{BuildContext, Reason, StagePlugin};
use sluicebox_core::{Built, Cx, Document, ParallelStage, StageError, Verdict};
use std::sync::Arc;

pub use sentences::Segmenter;

/// Options of the `segment` stage.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct SegmentConfig {
    /// Split pages holding several articles (blog index pages, news digests) into one
    /// document per article, each with `attributes.title` and `attributes.parent`.
    pub articles: bool,
    /// Fewest article starts a page needs before it is split (at least 2).
    pub min_articles: usize,
    /// Record sentence boundaries as `attributes.sentences`: `[start, end)` byte offsets
    /// into the final text.
    pub sentences: bool,
    /// Rewrite the text one sentence a line, paragraphs separated by a blank line
    /// (implies `sentences`).
    pub sentence_per_line: bool,
    /// Language (ISO 639-1) for documents without a `lang` attribute; an unknown or empty
    /// code uses the universal rules without an abbreviation list.
    pub lang: String,
}

impl Default for SegmentConfig {
    fn default() -> Self {
        SegmentConfig {
            articles: true,
            min_articles: 2,
            sentences: false,
            sentence_per_line: false,
            lang: "en".to_string(),
        }
    }
}

/// The stage plugin (registry entry: [`factory`]).
pub struct Segment;

impl StagePlugin for Segment {
    type Config = SegmentConfig;
    const TYPE: &'static str = "segment";
    const SUMMARY: &'static str =
        "split multi-article pages into articles and mark sentence boundaries";
    const REASONS: &'static [Reason] = &[];

    fn validate(c: &SegmentConfig) -> Result<(), String> {
        if c.min_articles < 2 {
            return Err("min_articles must be at least 2".into());
        }
        if c.lang.len() > 16 {
            return Err("lang must be an ISO 639-1 code such as \"en\"".into());
        }
        Ok(())
    }

    fn build(c: &SegmentConfig, _cx: &BuildContext) -> Result<Built, StageError> {
        Ok(Built::Parallel(Arc::new(SegmentStage {
            config: c.clone(),
        })))
    }
}

/// The registry entry for `type = "segment"`.
pub fn factory() -> Box<dyn sluicebox_core::StageFactory> {
    sluicebox_core::plugin::factory::<Segment>()
}

/// The runtime half.
pub struct SegmentStage {
    config: SegmentConfig,
}

impl SegmentStage {
    pub fn new(config: SegmentConfig) -> Self {
        SegmentStage { config }
    }

    fn segmenter(&self, doc: &Document) -> Segmenter {
        let lang = doc
            .attributes
            .get("lang")
            .and_then(Value::as_str)
            .unwrap_or(&self.config.lang);
        Segmenter::for_lang(lang)
    }

    /// Sentence work on one document (or part); returns whether it changed anything.
    fn sentences(&self, doc: &mut Document, cx: &mut Cx) -> bool {
        if !(self.config.sentences || self.config.sentence_per_line) {
            return false;
        }
        let seg = self.segmenter(doc);
        let spans = seg.split(&doc.text);
        let spans = if self.config.sentence_per_line {
            let (text, spans) = one_per_line(&doc.text, &spans);
            doc.text = text;
            spans
        } else {
            spans
        };
        cx.count("sentences", spans.len() as u64);
        let value: Vec<Value> = spans
            .iter()
            .map(|&(s, e)| Value::Array(vec![Value::from(s), Value::from(e)]))
            .collect();
        doc.set_attr("sentences", Value::Array(value));
        true
    }
}

/// Rewrite `text` one sentence a line; a line break between two sentences in the source
/// becomes a blank line (paragraph), and line breaks inside a sentence become spaces.
/// Returns the new text and the sentences' spans in it.
pub fn one_per_line(text: &str, spans: &[(usize, usize)]) -> (String, Vec<(usize, usize)>) {
    let mut out = String::with_capacity(text.len() + spans.len());
    let mut new_spans = Vec::with_capacity(spans.len());
    let mut prev_end = None;
    for &(s, e) in spans {
        if let Some(pe) = prev_end {
            let gap: &str = &text[pe..s];
            out.push_str(if gap.contains('\n') { "\n\n" } else { "\n" });
        }
        let start = out.len();
        let sentence = &text[s..e];
        if sentence.contains('\n') {
            let mut first = true;
            for line in sentence.split('\n') {
                let line = line.trim();
                if line.is_empty() {
                    continue;
                }
                if !first {
                    out.push(' ');
                }
                out.push_str(line);
                first = false;
            }
        } else {
            out.push_str(sentence);
        }
        new_spans.push((start, out.len()));
        prev_end = Some(e);
    }
    (out, new_spans)
}

impl ParallelStage for SegmentStage {
    fn process(&self, doc: &mut Document, cx: &mut Cx) -> Result<Verdict, StageError> {
        if self.config.articles {
            if let Some(found) = articles::find(&doc.text, self.config.min_articles) {
                if let Some((s, e)) = found.dropped_preamble {
                    let lines = doc.text[s..e].lines().filter(|l| !l.trim().is_empty());
                    cx.count("preamble_lines_dropped", lines.count() as u64);
                }
                cx.count("pages_split", 1);
                cx.count("articles", found.parts.len() as u64);
                let mut parts = Vec::with_capacity(found.parts.len());
                for (k, (s, e, title)) in found.parts.into_iter().enumerate() {
                    let text = doc.text[s..e].trim_end().to_string();
                    let mut part = doc.part(k + 1, text);
                    part.set_attr("title", title);
                    self.sentences(&mut part, cx);
                    parts.push(part);
                }
                return Ok(Verdict::Split(parts));
            }
        }
        Ok(Verdict::changed_if(self.sentences(doc, cx)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A segment fixture, or one of the shared seed pages.
    fn fixture(name: &str) -> String {
        let dir = if name.len() == 24 && name.ends_with(".txt") && !name.contains("article") {
            "seeds"
        } else {
            "segment"
        };
        let path = format!(
            "{}/../../tests/fixtures/{dir}/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn run(config: SegmentConfig, doc: &mut Document) -> Verdict {
        let stage = SegmentStage::new(config);
        stage.process(doc, &mut Cx::default()).unwrap()
    }

    const SEED_002_TITLES: [&str; 10] = [
        "Blinken meets China’s Wang Yi, warns China against helping Russia, first meeting after balloon controversy too",
        "In the British Government they remain Equivocal about giving ‘air power’ to Ukraine",
        "Somalia-Frontline States Summit 2023 concluded in Mogadishu",
        "President of the EC, Ursula von der Leyen, travelled to Kyiv today, support amounts to €50 billion",
        "US Secretary of State Antony Blinken met NSA Ajit Doval, Cooperation with India to address global challenges",
        "Deputy Secretary of Defense Dr. Kathleen Hicks’ Meeting With Indian NSA Ajit Doval, discusses bilateral ties",
        "NSA Ajit Doval and US NSA Jake Sullivan launch India-US initiative on iCET",
        "South Korea President Yoon hosts New Year’s luncheon for Diplomats in Korea",
        "Will NATO Secretary’s Visit to South Korea be able to put pressure on North Korea",
        "Japan, other democracies to defend against China’s threat on international order : NATO",
    ];

    #[test]
    fn seed_002_splits_into_its_ten_articles_raw_and_cleaned() {
        for name in [
            "002_31699701fbb39e56.txt",
            "002_cleaned.txt",
            "002_cleaned_no_counters.txt",
        ] {
            let text = fixture(name);
            let mut doc = Document::from_text("page", text.clone());
            let Verdict::Split(parts) = run(SegmentConfig::default(), &mut doc) else {
                panic!("{name}: not split");
            };
            let titles: Vec<&str> = parts
                .iter()
                .map(|p| p.attributes["title"].as_str().unwrap())
                .collect();
            assert_eq!(titles, SEED_002_TITLES, "{name}");
            for (k, part) in parts.iter().enumerate() {
                assert_eq!(part.id, format!("page#{}", k + 1));
                assert_eq!(part.attributes["parent"], "page");
                assert!(part.text.starts_with(SEED_002_TITLES[k]), "{name} #{k}");
            }
            // Nothing but the page header is lost, and the order is kept.
            let squash = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
            let joined: String = parts.iter().map(|p| squash(&p.text)).collect();
            let body = text.strip_prefix("Home Blog Page 191").unwrap_or(&text);
            assert_eq!(joined, squash(body), "{name}");
            assert!(parts[6].text.contains("standing mechanism under iCET"));
            assert!(parts[2].text.contains("History of Frontline States"));
            assert!(parts[4].text.contains("Who is Anthony J. Blinken"));
        }
    }

    #[test]
    fn split_counts_articles_and_the_dropped_header() {
        let stage = SegmentStage::new(SegmentConfig {
            sentences: true,
            ..SegmentConfig::default()
        });
        let mut cx = Cx::default();
        let mut doc = Document::from_text("page", fixture("002_31699701fbb39e56.txt"));
        let Verdict::Split(parts) = stage.process(&mut doc, &mut cx).unwrap() else {
            panic!("not split");
        };
        assert_eq!(cx.counters["pages_split"], 1);
        assert_eq!(cx.counters["articles"], 10);
        assert_eq!(cx.counters["preamble_lines_dropped"], 1); // `Home Blog Page 191`
                                                              // Each part carries sentence offsets into its own text.
        for part in &parts {
            let spans = part.attributes["sentences"].as_array().unwrap();
            let first = &spans[0];
            let (s, e) = (
                first[0].as_u64().unwrap() as usize,
                first[1].as_u64().unwrap() as usize,
            );
            assert_eq!(&part.text[s..e], part.attributes["title"].as_str().unwrap());
        }
    }

    #[test]
    fn single_articles_stay_whole() {
        for name in [
            "000_e7f6ed2af000063c.txt",
            "003_240feac35cea67fe.txt",
            "002_article_with_subheadings.txt",
            "002_article_somalia.txt",
            "002_article_eu.txt",
        ] {
            let mut doc = Document::from_text("page", fixture(name));
            let verdict = run(SegmentConfig::default(), &mut doc);
            assert!(matches!(verdict, Verdict::Unchanged), "{name}: {verdict:?}");
        }
    }

    #[test]
    fn sentences_attribute_and_one_per_line() {
        let text = "Mr. Sunak also hopes the UK may encourage other allies. But some remain sceptical.\nOne Cabinet minister told: “We haven’t got any jets to give!”";
        let mut doc = Document::from_text("d", text);
        let config = SegmentConfig {
            articles: false,
            sentences: true,
            ..SegmentConfig::default()
        };
        assert!(matches!(run(config.clone(), &mut doc), Verdict::Changed));
        let spans: Vec<(usize, usize)> = doc.attributes["sentences"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                (
                    v[0].as_u64().unwrap() as usize,
                    v[1].as_u64().unwrap() as usize,
                )
            })
            .collect();
        let got: Vec<&str> = spans.iter().map(|&(s, e)| &text[s..e]).collect();
        assert_eq!(
            got,
            [
                "Mr. Sunak also hopes the UK may encourage other allies.",
                "But some remain sceptical.",
                "One Cabinet minister told: “We haven’t got any jets to give!”"
            ]
        );

        let mut doc = Document::from_text("d", text);
        let config = SegmentConfig {
            sentence_per_line: true,
            ..config
        };
        run(config, &mut doc);
        assert_eq!(
            doc.text,
            "Mr. Sunak also hopes the UK may encourage other allies.\nBut some remain sceptical.\n\nOne Cabinet minister told: “We haven’t got any jets to give!”"
        );
        let spans = doc.attributes["sentences"].as_array().unwrap();
        assert_eq!(spans.len(), 3);
        let (s, e) = (
            spans[1][0].as_u64().unwrap() as usize,
            spans[1][1].as_u64().unwrap() as usize,
        );
        assert_eq!(&doc.text[s..e], "But some remain sceptical.");
    }

    #[test]
    fn config_rejects_bad_values() {
        let f = factory();
        let table: toml::Table = toml::from_str("min_articles = 1").unwrap();
        assert!(f.check(&table).is_err());
        let table: toml::Table = toml::from_str("sentence = true").unwrap();
        assert!(f.check(&table).unwrap_err().contains("unknown field"));
    }
}
