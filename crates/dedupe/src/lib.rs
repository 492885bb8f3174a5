//! sluicebox-dedupe: exact, near-duplicate and repeated-paragraph removal in
//! one streaming stage (`type = "dedupe"`, placement *split*).
//!
//! **Semantics.** Documents are decided in input order, first seen wins:
//! * a document is dropped as `duplicate` when its normalised text (case,
//!   whitespace and punctuation folded as configured) hashes like an earlier
//!   *kept* document's;
//! * it is dropped as `near_duplicate` when it is a verified near-duplicate
//!   of any earlier kept document: the two share at least one LSH band and
//!   the Jaccard similarity of their word `ngram`-shingle sets is at least
//!   `threshold`. `num_perm` one-permutation MinHash bits in memory only
//!   prefilter the candidates; the Jaccard is computed on the shingle sets
//!   (bottom-4096 of 32-bit hashes, exact for shorter documents) kept in a
//!   sets file on disk (see [`index`]);
//! * a kept document loses the lines that repeat an earlier line of itself
//!   ([`paragraphs`]) and, with `cross_doc_paragraphs`, long lines already
//!   present in `max_repeats` earlier kept documents.
//!
//! Dropped documents are never remembered, so a chain A ~ B ~ C where C is
//! not similar enough to A keeps C. Signatures are computed on the text after
//! the in-document repeats are removed. Because decisions happen on one
//! thread in input order, the output is identical for any thread count.
//!
//! **Cost.** Prepare (parallel): O(text length) for normalising, shingling
//! and the paragraph scan, plus O(num_perm). Decide (ordered): O(bands x
//! index generations) expected hash probes and signature comparisons of
//! `num_perm / 64` words each, one positioned read and an O(4096) merge per
//! prefiltered candidate (about one per near-duplicate), plus O(paragraphs)
//! with `cross_doc_paragraphs`. Prepare also sorts the shingle hashes:
//! O(s log s) for s shingles.

pub mod index;
pub mod minhash;
pub mod paragraphs;
pub mod shuffle;

use index::{Index, IndexParams};
use minhash::{NearSig, SigParams};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sluicebox_core::{
    plugin, BuildContext, Built, Cx, Decide, Document, Prepare, Prepared, Reason, StageError,
    StageFactory, StagePlugin, Verdict,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Options of the dedupe stage.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct DedupeConfig {
    /// Drop documents whose normalised text equals an earlier kept document's
    /// (reason `duplicate`).
    pub exact: bool,
    /// Exact level: compare texts ignoring letter case.
    pub fold_case: bool,
    /// Exact level: treat any run of whitespace as one space and ignore
    /// leading/trailing whitespace.
    pub fold_whitespace: bool,
    /// Exact level: treat punctuation and symbols (anything neither a letter,
    /// digit nor whitespace) as spaces.
    pub fold_punctuation: bool,
    /// Drop verified near-duplicates of earlier kept documents (reason
    /// `near_duplicate`).
    pub near: bool,
    /// Words per shingle for MinHash (words are lowercased runs of letters
    /// and digits).
    pub ngram: usize,
    /// MinHash bins (one-permutation hashing); a multiple of 64. The index
    /// keeps one bit per bin per document in memory (num_perm / 8 bytes), a
    /// prefilter before the exact verification on disk.
    pub num_perm: usize,
    /// LSH bands; each kept document takes one 4-byte slot per band.
    pub bands: usize,
    /// MinHash bins per band. With the defaults (3 bands of 2 rows) a pair
    /// with Jaccard 0.85 shares a band with probability 0.98.
    pub rows: usize,
    /// Jaccard similarity at or above which a candidate counts as a
    /// near-duplicate (exact for documents of up to 4096 distinct shingles,
    /// a bottom-4096 estimate beyond).
    pub threshold: f64,
    /// Remove lines that repeat an earlier line of the same document exactly
    /// or as a prefix, and a title repeated as the first body line.
    pub paragraphs: bool,
    /// Lines shorter than this (characters, trimmed) are never repeated
    /// paragraphs (counters, "Share", "Read more" stay for deboilerplate).
    pub min_paragraph_chars: usize,
    /// Remove a long line already present in `max_repeats` earlier kept
    /// documents (syndicated blurbs, site-wide paragraphs).
    pub cross_doc_paragraphs: bool,
    /// With cross_doc_paragraphs: how many documents may carry the same line.
    pub max_repeats: u32,
    /// With cross_doc_paragraphs: only lines at least this long (characters)
    /// are counted across documents.
    pub cross_doc_min_chars: usize,
    /// Load the index from this file at start (if it exists) and save it at
    /// the end, so a new crawl is deduplicated against earlier ones. Relative
    /// to the config file.
    pub index: Option<String>,
    /// Refuse (error) when the in-memory index would grow beyond this many
    /// bytes; about 100 bytes plus the id length per kept document with the
    /// defaults (see the crate README). The verification sets on disk (up
    /// to 4 KiB per kept document) are not counted.
    pub max_index_bytes: u64,
}

impl Default for DedupeConfig {
    fn default() -> Self {
        DedupeConfig {
            exact: true,
            fold_case: true,
            fold_whitespace: true,
            fold_punctuation: true,
            near: true,
            ngram: 5,
            num_perm: 256,
            bands: 3,
            rows: 2,
            threshold: 0.8,
            paragraphs: true,
            min_paragraph_chars: 30,
            cross_doc_paragraphs: false,
            max_repeats: 3,
            cross_doc_min_chars: 100,
            index: None,
            max_index_bytes: 8 << 30,
        }
    }
}

impl DedupeConfig {
    pub fn sig_params(&self) -> SigParams {
        SigParams {
            ngram: self.ngram,
            num_perm: self.num_perm,
            bands: self.bands,
            rows: self.rows,
        }
    }
    fn index_params(&self) -> IndexParams {
        IndexParams {
            sig: self.sig_params(),
            fold_case: self.fold_case,
            fold_whitespace: self.fold_whitespace,
            fold_punctuation: self.fold_punctuation,
        }
    }
}

/// The dedupe stage plugin.
pub struct Dedupe;

impl StagePlugin for Dedupe {
    type Config = DedupeConfig;
    const TYPE: &'static str = "dedupe";
    const SUMMARY: &'static str =
        "drop exact and near-duplicate documents (MinHash LSH), remove repeated paragraphs";
    const REASONS: &'static [Reason] = &[
        Reason {
            code: "duplicate",
            doc: "normalised text equals an earlier kept document's (attributes.duplicate_of)",
        },
        Reason {
            code: "near_duplicate",
            doc: "Jaccard of word shingles with an earlier kept document >= threshold \
                  (attributes.duplicate_of, attributes.similarity)",
        },
    ];

    fn validate(c: &DedupeConfig) -> Result<(), String> {
        let mut errs = Vec::new();
        if c.ngram == 0 || c.ngram > 64 {
            errs.push("ngram must be between 1 and 64".to_string());
        }
        if c.num_perm == 0 || !c.num_perm.is_multiple_of(64) || c.num_perm > 4096 {
            errs.push("num_perm must be a multiple of 64 between 64 and 4096".to_string());
        }
        if c.bands == 0 || c.rows == 0 || c.bands.saturating_mul(c.rows) > c.num_perm {
            errs.push(format!(
                "bands * rows must be between 1 and num_perm ({}), got {} * {}",
                c.num_perm, c.bands, c.rows
            ));
        }
        if !(c.threshold > 0.0 && c.threshold <= 1.0) {
            errs.push("threshold must be in (0, 1]".to_string());
        }
        if c.cross_doc_paragraphs && c.max_repeats == 0 {
            errs.push("max_repeats must be at least 1".to_string());
        }
        if errs.is_empty() {
            Ok(())
        } else {
            Err(errs.join("; "))
        }
    }

    fn build(c: &DedupeConfig, cx: &BuildContext) -> Result<Built, StageError> {
        let path = c.index.as_deref().map(|p| cx.resolve(p));
        let index = match &path {
            Some(p) if p.exists() => {
                let len = std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
                if len > c.max_index_bytes {
                    return Err(StageError::file(
                        p.display().to_string(),
                        format!(
                            "index file is {len} bytes, more than max_index_bytes = {}",
                            c.max_index_bytes
                        ),
                    ));
                }
                Index::load(p, c.index_params())
                    .map_err(|e| StageError::file(p.display().to_string(), e))?
            }
            _ => Index::new(c.index_params()),
        };
        let mut index = index;
        if let Some(p) = &path {
            let sets = index::sets_path(p);
            index
                .persist_sets(&sets)
                .map_err(|e| StageError::file(sets.display().to_string(), e))?;
        }
        Ok(Built::Split {
            prepare: Arc::new(Signer { config: c.clone() }),
            decide: Box::new(Decider {
                config: c.clone(),
                index,
                path,
                full: false,
            }),
        })
    }
}

/// The registry entry for the dedupe stage.
pub fn factory() -> Box<dyn StageFactory> {
    plugin::factory::<Dedupe>()
}

/// Hash of the text with case, whitespace and punctuation folded as set
/// (folded punctuation counts as a space). With every folding on, the stage
/// uses the equivalent, faster [`minhash::sequence_hash`] of the words.
pub fn exact_hash(text: &str, fold_case: bool, fold_ws: bool, fold_punct: bool) -> u64 {
    let mut buf: Vec<u8> = Vec::with_capacity(text.len());
    let mut pending_space = false;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        // Classify one char: ASCII by byte, the rest by decoding it.
        let (c, len) = if b < 0x80 {
            (b as char, 1)
        } else {
            let c = text[i..].chars().next().unwrap_or(' ');
            (c, c.len_utf8())
        };
        i += len;
        // Folded punctuation separates words like a space does.
        let space = c.is_whitespace() || (fold_punct && !c.is_alphanumeric());
        if space {
            if fold_ws {
                pending_space = !buf.is_empty();
                continue;
            }
            buf.push(b' ');
            continue;
        }
        if pending_space {
            buf.push(b' ');
            pending_space = false;
        }
        if len == 1 {
            buf.push(if fold_case { b.to_ascii_lowercase() } else { b });
        } else {
            let mut enc = [0u8; 4];
            if fold_case {
                for lc in c.to_lowercase() {
                    buf.extend_from_slice(lc.encode_utf8(&mut enc).as_bytes());
                }
            } else {
                buf.extend_from_slice(c.encode_utf8(&mut enc).as_bytes());
            }
        }
    }
    xxhash_rust::xxh3::xxh3_64(&buf)
}

/// What the parallel half computes for one document.
#[derive(Debug)]
pub struct Signature {
    /// Text without in-document repeats, if any were removed.
    pub new_text: Option<String>,
    /// Number of lines removed as in-document repeats.
    pub repeated: usize,
    pub exact: Option<u64>,
    pub near: Option<NearSig>,
    /// (line number in the final text, hash) of long lines, distinct hashes.
    pub paragraphs: Vec<(usize, u64)>,
}

/// Parallel half: paragraph scan, exact hash, MinHash signature.
pub struct Signer {
    config: DedupeConfig,
}

impl Signer {
    pub fn new(config: DedupeConfig) -> Self {
        Signer { config }
    }

    pub fn sign(&self, text: &str) -> Signature {
        let c = &self.config;
        let (new_text, repeated) = if c.paragraphs {
            match paragraphs::remove_repeated(text, c.min_paragraph_chars) {
                Some((t, n)) => (Some(t), n),
                None => (None, 0),
            }
        } else {
            (None, 0)
        };
        let text = new_text.as_deref().unwrap_or(text);
        // One pass over the text gives the word hashes for both levels.
        let all_folds = c.fold_case && c.fold_whitespace && c.fold_punctuation;
        let mut words = Vec::new();
        if c.near || (c.exact && all_folds) {
            words.reserve(text.len() / 5 + 1);
            minhash::for_each_word_hash(text, |h| words.push(h));
        }
        let exact = c.exact.then(|| {
            if all_folds {
                minhash::sequence_hash(&words)
            } else {
                exact_hash(text, c.fold_case, c.fold_whitespace, c.fold_punctuation)
            }
        });
        let mut scratch = Vec::new();
        let near = if c.near {
            minhash::near_signature_of_words(&words, &c.sig_params(), &mut scratch)
        } else {
            None
        };
        let mut paragraphs = Vec::new();
        if c.cross_doc_paragraphs {
            let mut seen = index::HashMapU64::<()>::default();
            for (i, line) in text.split('\n').enumerate() {
                let t = line.trim();
                if t.chars().count() >= c.cross_doc_min_chars.max(1) {
                    let h = xxhash_rust::xxh3::xxh3_64(t.as_bytes());
                    if seen.insert(h, ()).is_none() {
                        paragraphs.push((i, h));
                    }
                }
            }
        }
        Signature {
            new_text,
            repeated,
            exact,
            near,
            paragraphs,
        }
    }
}

impl Prepare for Signer {
    fn prepare(&self, doc: &Document) -> Result<Prepared, StageError> {
        Ok(Box::new(self.sign(&doc.text)))
    }
}

/// What [`Decider::judge`] concluded about one document.
#[derive(Debug, Clone, PartialEq)]
pub enum Judgement {
    Keep,
    Duplicate { of: String },
    NearDuplicate { of: String, similarity: f64 },
}

/// Ordered half: the index and the decisions.
pub struct Decider {
    config: DedupeConfig,
    index: Index,
    path: Option<PathBuf>,
    /// Set once max_index_bytes is reached; every later document errors.
    full: bool,
}

impl Decider {
    /// A decider with an empty in-memory index (benches, tests).
    pub fn new(config: DedupeConfig) -> Self {
        let index = Index::new(config.index_params());
        Decider {
            config,
            index,
            path: None,
            full: false,
        }
    }

    pub fn index(&self) -> &Index {
        &self.index
    }

    /// Decide one document by id and signature; a kept document is added to
    /// the index.
    pub fn judge(&mut self, id: &str, sig: &Signature) -> Result<Judgement, StageError> {
        if let Some(doc) = sig.exact.and_then(|h| self.index.exact(h)) {
            return Ok(Judgement::Duplicate {
                of: self.index.id(doc).to_string(),
            });
        }
        if let Some(near) = &sig.near {
            let best = self
                .index
                .best_near(near, self.config.threshold)
                .map_err(StageError::config)?;
            if let Some((doc, sim)) = best {
                return Ok(Judgement::NearDuplicate {
                    of: self.index.id(doc).to_string(),
                    similarity: sim,
                });
            }
        }
        if self.full || self.index.bytes().total() as u64 > self.config.max_index_bytes {
            self.full = true;
            return Err(StageError::config(format!(
                "dedupe index reached max_index_bytes = {} after {} kept documents; raise \
                 max_index_bytes or deduplicate the input in parts",
                self.config.max_index_bytes,
                self.index.docs()
            )));
        }
        self.index
            .add(id, sig.exact, sig.near.as_ref())
            .map_err(StageError::doc)?;
        Ok(Judgement::Keep)
    }
}

impl Decide for Decider {
    fn decide(
        &mut self,
        doc: &mut Document,
        prepared: Prepared,
        cx: &mut Cx,
    ) -> Result<Verdict, StageError> {
        let mut sig = prepared
            .downcast::<Signature>()
            .map_err(|_| StageError::doc("dedupe: prepared value of the wrong type"))?;
        let judgement = self.judge(&doc.id, &sig)?;
        let paragraphs = std::mem::take(&mut sig.paragraphs);
        let verdict = apply(judgement, *sig, doc, cx);
        let mut changed = match verdict {
            Verdict::Changed => true,
            Verdict::Unchanged => false,
            other => return Ok(other),
        };
        if self.config.cross_doc_paragraphs && !paragraphs.is_empty() {
            let mut drop_lines = Vec::new();
            for &(line, h) in &paragraphs {
                if self.index.paragraph_count(h) >= self.config.max_repeats {
                    drop_lines.push(line);
                }
                self.index.count_paragraph(h);
            }
            if !drop_lines.is_empty() {
                let kept: Vec<&str> = doc
                    .text
                    .split('\n')
                    .enumerate()
                    .filter(|(i, _)| drop_lines.binary_search(i).is_err())
                    .map(|(_, l)| l)
                    .collect();
                doc.text = kept.join("\n");
                doc.set_attr("cross_doc_paragraphs", drop_lines.len());
                cx.count("cross_doc_paragraphs", drop_lines.len() as u64);
                changed = true;
            }
        }
        Ok(Verdict::changed_if(changed))
    }

    /// `run --resume`: the index to `base.<generation>`, its verification
    /// sets to `base.sets`, shared by all generations (appended to, never
    /// copied, so a checkpoint costs the in-memory index only).
    fn checkpoint(&mut self, base: &Path, generation: u64) -> Result<(), StageError> {
        let path = sluicebox_core::stage::checkpoint_path(base, generation);
        self.index
            .save_with_sets(&path, &index::sets_path(base))
            .map_err(|e| StageError::file(path.display().to_string(), e))
    }

    fn restore(&mut self, base: &Path, generation: u64) -> Result<(), StageError> {
        let path = sluicebox_core::stage::checkpoint_path(base, generation);
        self.index =
            Index::load_with_sets(&path, &index::sets_path(base), self.config.index_params())
                .map_err(|e| StageError::file(path.display().to_string(), e))?;
        Ok(())
    }

    fn finish(&mut self) -> Result<(), StageError> {
        if let Some(p) = &self.path {
            self.index
                .save(p)
                .map_err(|e| StageError::file(p.display().to_string(), e))?;
        }
        Ok(())
    }
}

/// Carry out a judgement on a document: a duplicate is dropped with its
/// reason and `duplicate_of` (and `similarity`); a kept document loses its
/// in-document repeats. Shared by [`Decider`] and by cluster plans, which
/// judge elsewhere ([`shuffle`]) and replay the judgement here.
pub fn apply(judgement: Judgement, sig: Signature, doc: &mut Document, cx: &mut Cx) -> Verdict {
    match judgement {
        Judgement::Duplicate { of } => {
            cx.count("duplicates", 1);
            let detail = format!("same normalised text as {of}");
            doc.set_attr("duplicate_of", of);
            Verdict::drop("duplicate", detail)
        }
        Judgement::NearDuplicate { of, similarity } => {
            cx.count("near_duplicates", 1);
            let sim = (similarity * 1000.0).round() / 1000.0;
            let detail = format!("Jaccard {sim} with {of}");
            doc.set_attr("duplicate_of", of);
            doc.set_attr("similarity", sim);
            Verdict::drop("near_duplicate", detail)
        }
        Judgement::Keep => match sig.new_text {
            Some(t) => {
                doc.text = t;
                doc.set_attr("repeated_paragraphs", sig.repeated);
                cx.count("repeated_paragraphs", sig.repeated as u64);
                Verdict::Changed
            }
            None => Verdict::Unchanged,
        },
    }
}

/// What a cluster plan's write task hands the dedupe step for one
/// document: the judgement made by the decide task, and the signature
/// (only `new_text` and `repeated` are used).
pub struct Replayed {
    pub judgement: Judgement,
    pub sig: Signature,
}

/// The ordered half of dedupe in a cluster plan: applies judgements made
/// elsewhere, so accounting and attributes match [`Decider`]'s exactly.
pub struct Replayer;

impl Decide for Replayer {
    fn decide(
        &mut self,
        doc: &mut Document,
        prepared: Prepared,
        cx: &mut Cx,
    ) -> Result<Verdict, StageError> {
        let r = prepared
            .downcast::<Replayed>()
            .map_err(|_| StageError::doc("dedupe: prepared value of the wrong type"))?;
        let Replayed { judgement, sig } = *r;
        Ok(apply(judgement, sig, doc, cx))
    }
}

#[cfg(test)]
mod tests;
