//! Shared helpers for the fuzz targets: build stages through the registry
//! (the same path the pipeline takes) and push documents through them the
//! way the runner does (parallel, ordered or split placement; parts of a
//! split go on to the next stage).

use sluicebox_core::{BuildContext, Built, Cx, Document, Verdict};
use sluicebox_pipeline::registry::Registry;

/// Build stage `type_name` from a TOML table (empty = defaults), with no
/// learned profile. Panics if it does not build: a fuzz target with a broken
/// setup should fail loudly, not pass silently.
pub fn build(type_name: &str, table_src: &str) -> Built {
    let registry = Registry::builtin();
    let factory = registry
        .get(type_name)
        .unwrap_or_else(|| panic!("no stage type {type_name}"));
    let table: toml::Table = toml::from_str(table_src).expect("valid table");
    factory
        .build(&table, &BuildContext::default())
        .unwrap_or_else(|e| panic!("{type_name} does not build: {e}"))
}

/// Run one document through one built stage; returns the documents that
/// come out (none if dropped, several if split).
pub fn apply(stage: &mut Built, mut doc: Document) -> Vec<Document> {
    let mut cx = Cx::default();
    let verdict = match stage {
        Built::Parallel(s) => s.process(&mut doc, &mut cx),
        Built::Ordered(s) => s.process(&mut doc, &mut cx),
        Built::Split { prepare, decide } => match prepare.prepare(&doc) {
            Ok(p) => decide.decide(&mut doc, p, &mut cx),
            Err(e) => Err(e),
        },
    };
    match verdict {
        Ok(Verdict::Unchanged) | Ok(Verdict::Changed) => vec![doc],
        Ok(Verdict::Drop { .. }) | Err(_) => Vec::new(),
        Ok(Verdict::Split(parts)) => {
            assert!(!parts.is_empty(), "Split with no parts (must drop instead)");
            parts
        }
    }
}

/// Run documents through a chain of stages, in order.
pub fn run_chain(stages: &mut [Built], docs: Vec<Document>) -> Vec<Document> {
    let mut docs = docs;
    for stage in stages.iter_mut() {
        let mut next = Vec::with_capacity(docs.len());
        for d in docs {
            next.extend(apply(stage, d));
        }
        docs = next;
    }
    for stage in stages.iter_mut() {
        match stage {
            Built::Ordered(s) => {
                let _ = s.finish();
            }
            Built::Split { decide, .. } => {
                let _ = decide.finish();
            }
            Built::Parallel(_) => {}
        }
    }
    docs
}

/// The byte spans in `attributes.sentences`, checked: in bounds, on char
/// boundaries, non-empty, ordered and not overlapping.
pub fn check_sentences(doc: &Document) {
    let Some(spans) = doc.attributes.get("sentences") else {
        return;
    };
    let spans = spans.as_array().expect("sentences is an array");
    let mut last_end = 0usize;
    for s in spans {
        let pair = s.as_array().expect("span is a pair");
        let start = pair[0].as_u64().expect("start") as usize;
        let end = pair[1].as_u64().expect("end") as usize;
        assert!(start < end, "empty or reversed span {start}..{end}");
        assert!(end <= doc.text.len(), "span {start}..{end} out of bounds");
        assert!(start >= last_end, "span {start}..{end} overlaps previous");
        assert!(doc.text.is_char_boundary(start) && doc.text.is_char_boundary(end));
        last_end = end;
    }
}

/// Arbitrary bytes as text: the valid UTF-8 prefix, so libFuzzer's byte
/// mutations still reach the stage (most inputs are mostly valid).
pub fn utf8_prefix(data: &[u8]) -> &str {
    match std::str::from_utf8(data) {
        Ok(s) => s,
        Err(e) => std::str::from_utf8(&data[..e.valid_up_to()]).unwrap_or(""),
    }
}
