//! The `spinner` stage: detect and reverse article-spinner text, resolve
//! leftover spintax.
//!
//! Autoblogs copy news and run it through "spinners" that swap words for
//! thesaurus synonyms regardless of sense ("foreign minister" -> "overseas
//! minister", "May 3" -> "Could 3", "Bill Hayton" -> "Invoice Hayton"). The
//! result is fluent-looking and wrong, and it poisons a corpus.
//!
//! How it works, per document:
//! 1. Spintax groups `{a|b|c}` resolve to their first alternative
//!    ([`spintax`]; braces in code, JSON, LaTeX, templates are left alone).
//! 2. One scan finds every span that the reverse lexicon knows
//!    ([`lexicon`]): word starts are taken 64 bytes at a time from a bit
//!    mask and looked up by their first word (`keyscan::WordIndex`; the
//!    lexicon's Aho-Corasick automaton finds the same hits, slower, and is
//!    kept for lexicons with keys that do not start with a word); most
//!    clean documents stop here with few or no hits.
//! 3. Each hit whose gate holds (e.g. "Could" only before a number) is
//!    scored by an n-gram language model ([`lm`]) in its context: the spun
//!    phrase against each candidate original, plus the entry's prior. A hit
//!    where the original wins by `detect_margin` is evidence.
//!    Fast path: if the document could not be spun even if every hit were
//!    confirmed, the model is skipped and `spin_score` is 0.
//!    With a corpus profile, a document is first scored with the shipped
//!    model alone (small, mostly in cache); only if that gives
//!    `spin_score >= rescore_above` (or finds it spun) is it scored again
//!    with the corpus counts, which is the costly part. Otherwise the
//!    shipped model's figures are reported. Clean text rarely gets that
//!    far: of the evaluation's clean pages, 4 % of the bytes do at the
//!    default 0.3 (29 % at 0.2); the evaluation's figures are the same for
//!    0.2 to 0.3 (detection F1 0.969 at 0.35, 0.982 rescoring everything).
//! 4. `spin_score` = d / (d + `half_density`), d = evidence per 100 words
//!    (at most four per spun form; at least 100 words assumed);
//!    `spun` = score >= `threshold` and at least `min_hits` pieces of
//!    evidence.
//! 5. In spun documents with `action = "repair"`, a second left-to-right
//!    pass replaces each hit whose original wins by `repair_margin`, using
//!    the already-repaired text as left context. Clean documents are never
//!    rewritten (only spintax), which keeps false repairs out of clean text.
//!
//! The model adds the compact default counts shipped with the crate
//! (`data/spinner/default_model.bin`, 545 KB, built by
//! `examples/build_spinner_model.rs` from ~125k tokens of permissively
//! licensed English text only: the Grover RealNews samples, the dolma test
//! documents and WARC pages (Apache-2.0), the Hugging Face `dummy_data`
//! samples of C4/OpenWebText/Pile/CC-News (Apache-2.0 repository), the
//! English UDHR (public domain), the English OSCAR samples (CC0 packaging)
//! and pySBD's English test texts (MIT)) to the counts learned from the
//! corpus in the profile pass (the clean majority of a dump teaches what
//! "People's Republic" looks like). The default model is small, so on its
//! own it confirms fewer substitutions than with a profile; the project's
//! held-out judging sets and the spinner's evaluation sets are not in it.
//!
//! The profile pass learns only the n-grams scoring can ask about (those
//! near a content word of the lexicon, [`lm::for_each_model_ngram`]) from
//! documents its judge (this stage without a profile, built once per
//! process) does not find spun, into a fingerprint hash table
//! ([`lm::CountTable`]). When a document the judge would not flag is
//! rescored, each n-gram it holds counts one less in the corpus counts
//! (leave one sighting out): otherwise a spun article the judge missed
//! would vouch for its own phrases. A document the judge flags (the
//! screening above tells) was not learned from, so nothing is left out:
//! subtracting sightings it never added made its phrases look rarer than
//! they are (generated spun text: error reduction 0.758 with, 0.868
//! without).
//!
//! Cost: linear in the text. The scan is one pass over the bytes (words
//! counted on the way); each hit costs a bounded number of table lookups
//! (context of two tokens each side, phrases of bounded length),
//! prefetched together per window; a document
//! rescored with leave-one-out is tokenized once more for its own n-grams
//! (linear); spintax is linear with a bounded group size. Profile pass:
//! linear: one tokenization, from which the judge's lexicon hits are also
//! taken (`keyscan::TokenIndex`, no second scan of the text), and a
//! bounded number of counts per token, gathered per batch in an
//! open-addressing table (`lm::PendingCounts`) and added to the corpus
//! table in key order (n log n in a batch's distinct n-grams).

mod keyscan;
pub mod lexicon;
pub mod lm;
pub mod spintax;

use lexicon::{Gate, Lexicon, LexiconBuilder, Rule};
use lm::{CountTable, DefaultCounts, Model, OwnNgrams, PendingCounts, SparseCounts, Triggers};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sluicebox_core::{
    BuildContext, Built, Cx, Document, ParallelStage, ProfileBuilder, Reason, StageError,
    StagePlugin, Verdict,
};
use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::{Arc, Mutex, OnceLock};

/// Evidence counted per distinct spun form at most.
const MAX_PER_FORM: usize = 4;
/// Densities of shorter documents are taken over this many words, so that
/// two hits in a 30-word snippet do not make it "spun".
const MIN_WORDS: usize = 100;

/// The shipped English reverse lexicon.
pub const BUILTIN_LEXICON: &str = include_str!("../../data/spinner/en.tsv");
/// The shipped default model (see the module docs for its sources).
pub const DEFAULT_MODEL: &[u8] = include_bytes!("../../data/spinner/default_model.bin");

/// What to do with a document judged spun.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Rewrite the spun spans back to their likely originals (and tag).
    Repair,
    /// Only set `spin_score` / `spun`.
    Tag,
    /// Drop the document with reason `spun`.
    Drop,
}

/// Options of the `spinner` stage.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct SpinnerConfig {
    /// What to do with a spun document: "repair" (rewrite spun phrases back),
    /// "tag" (only annotate) or "drop" (reason `spun`).
    pub action: Action,
    /// `spin_score` at or above which a document is `spun`.
    pub threshold: f64,
    /// A document needs at least this many confirmed substitutions to be
    /// `spun`, however short it is (one odd phrase is not a spinner).
    pub min_hits: usize,
    /// Confirmed substitutions per 100 words that give `spin_score` 0.5.
    /// Spun news has 5-10; clean text rarely more than 0.2.
    pub half_density: f64,
    /// How much (in nats of language-model score, prior included) an
    /// original must beat its spun form for the hit to count as evidence.
    pub detect_margin: f64,
    /// How much an original must win by to be written back (spun documents
    /// only). Lower repairs more, and more wrongly.
    pub repair_margin: f64,
    /// Use the English reverse lexicon shipped with the crate.
    pub builtin_lexicon: bool,
    /// More lexicon files (same tab-separated format as the shipped
    /// `data/spinner/en.tsv`, whose header documents it); relative paths
    /// resolve against the config file's directory.
    pub lexicons: Vec<String>,
    /// Path to the Problematic Paper Screener tortured-phrases CSV
    /// (`tortured_phrase,expected_phrase,num_papers`), used for detection and
    /// as repair candidates. Not shipped: the list has no explicit licence.
    pub tortured_phrases: Option<String>,
    /// Prior (nats) for tortured-phrase entries: they are rarely natural.
    pub tortured_bias: f64,
    /// Use the compact default language model shipped with the crate (so
    /// that small inputs and runs without a profile pass work).
    pub default_model: bool,
    /// Resolve spintax `{a|b|c}` to its first alternative.
    pub spintax: bool,
    /// Size of the corpus n-gram table learned in the profile pass, as a
    /// power of two of four-byte cells (22 = 16 MiB, about 4 million
    /// n-grams near lexicon words; when full, the rarest give way). One
    /// table per run: the workers' partials hold only their batch's counts.
    pub profile_log2_cells: u32,
    /// With a corpus profile, documents are first scored with the shipped
    /// model alone (cheap); one whose `spin_score` there is below this is
    /// reported with that score and not rescored with the corpus counts
    /// (the costly part). 0 rescores every document that has enough
    /// lexicon hits; so does `default_model = false` (nothing to screen
    /// with).
    pub rescore_above: f64,
}

impl Default for SpinnerConfig {
    fn default() -> Self {
        SpinnerConfig {
            action: Action::Repair,
            threshold: 0.5,
            min_hits: 3,
            half_density: 1.0,
            detect_margin: 2.0,
            repair_margin: 0.5,
            builtin_lexicon: true,
            lexicons: Vec::new(),
            tortured_phrases: None,
            tortured_bias: 3.0,
            default_model: true,
            spintax: true,
            profile_log2_cells: 22,
            rescore_above: 0.3,
        }
    }
}

/// The shipped default model, parsed once per process (every profile
/// partial and stage instance shares it).
fn default_model() -> Result<Arc<DefaultCounts>, StageError> {
    static MODEL: OnceLock<Result<Arc<DefaultCounts>, String>> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            SparseCounts::from_bytes(DEFAULT_MODEL).map(|s| Arc::new(DefaultCounts::from(&s)))
        })
        .clone()
        .map_err(|e| StageError::file("builtin spinner model", e))
}

/// The stage without a corpus profile that judges, in the profile pass,
/// which documents are spun (and so not learned from). The runner asks for
/// a fresh profile partial per batch; building the lexicon automaton each
/// time cost more than observing the batch, so judges are built once per
/// (configuration, base directory) and shared.
fn shared_judge(c: &SpinnerConfig, cx: &BuildContext) -> Result<Arc<SpinnerStage>, StageError> {
    type Judges = Mutex<Vec<(String, Arc<SpinnerStage>)>>;
    static JUDGES: OnceLock<Judges> = OnceLock::new();
    let key = format!(
        "{}\u{0}{}",
        serde_json::to_string(c).unwrap_or_default(),
        cx.base_dir.display()
    );
    let judges = JUDGES.get_or_init(Judges::default);
    if let Ok(list) = judges.lock() {
        if let Some((_, j)) = list.iter().find(|(k, _)| *k == key) {
            return Ok(j.clone());
        }
    }
    let judge = Arc::new(SpinnerStage::new(
        c,
        &BuildContext {
            profile: None,
            ..cx.clone()
        },
    )?);
    if let Ok(mut list) = judges.lock() {
        // A handful of configurations per process at most; keep the
        // newest few so a long-lived process does not grow without bound.
        if list.len() >= 8 {
            list.remove(0);
        }
        list.push((key, judge.clone()));
    }
    Ok(judge)
}

/// The plugin (declarative half).
pub struct Spinner;

impl StagePlugin for Spinner {
    type Config = SpinnerConfig;
    const TYPE: &'static str = "spinner";
    const SUMMARY: &'static str =
        "detect and reverse article-spinner synonym swaps; resolve leftover spintax";
    const REASONS: &'static [Reason] = &[Reason {
        code: "spun",
        doc:
            "text rewritten by an article spinner (spin_score >= threshold), with action = \"drop\"",
    }];
    const LEARNS: bool = true;

    fn validate(c: &SpinnerConfig) -> Result<(), String> {
        if !(0.0..=1.0).contains(&c.threshold) {
            return Err("threshold must be between 0 and 1".into());
        }
        if !(c.half_density > 0.0 && c.half_density.is_finite()) {
            return Err("half_density must be a positive number".into());
        }
        if !c.detect_margin.is_finite() || !c.repair_margin.is_finite() {
            return Err("detect_margin and repair_margin must be numbers".into());
        }
        if !(0.0..=1.0).contains(&c.rescore_above) {
            return Err("rescore_above must be between 0 and 1".into());
        }
        if !(10..=30).contains(&c.profile_log2_cells) {
            return Err("profile_log2_cells must be between 10 and 30".into());
        }
        Ok(())
    }

    fn build(c: &SpinnerConfig, cx: &BuildContext) -> Result<Built, StageError> {
        Ok(Built::Parallel(Arc::new(SpinnerStage::new(c, cx)?)))
    }

    fn profile_builder(
        c: &SpinnerConfig,
        cx: &BuildContext,
    ) -> Result<Option<Box<dyn ProfileBuilder>>, StageError> {
        // The judge of what is spun while learning: the stage without a
        // corpus profile. Spun documents are not learned from, so that a
        // dump full of copies of one spun article does not teach the model
        // that "overseas minister" is normal.
        let judge = shared_judge(c, cx)?;
        Ok(Some(Box::new(NgramProfile::new(
            c.profile_log2_cells,
            judge.triggers.clone(),
            Some(judge),
        ))))
    }
}

/// The registry entry.
pub fn factory() -> Box<dyn sluicebox_core::StageFactory> {
    sluicebox_core::plugin::factory::<Spinner>()
}

/// Partial corpus profile: the model n-gram counts of the documents that
/// do not look spun.
///
/// The runner makes one partial per batch and merges them in batch order.
/// A partial counts its batch sparsely (memory in proportion to the batch);
/// only the partial the others are merged into allocates the fixed-size
/// table, so memory no longer grows with the thread count.
pub struct NgramProfile {
    log2: u32,
    /// Counts of this partial's own documents not yet in `table`.
    pending: PendingCounts,
    /// Pending counts in key order (a buffer reused by merges).
    sorted: Vec<(u64, u32)>,
    /// Counts [`ProfileBuilder::seal`] moved out of `pending`, in key
    /// order: sorted on the worker, so the ordered merge only adds.
    sealed: Vec<(u64, u32)>,
    /// The merged counts (allocated on the first merge or at finish).
    table: Option<CountTable>,
    tokens: u64,
    triggers: Arc<Triggers>,
    /// Decides which documents to skip (`None`: learn from all).
    judge: Option<Arc<SpinnerStage>>,
    /// Token and trigger-flag buffers reused across documents.
    toks: Vec<u64>,
    flags: Vec<bool>,
    /// Per document: (index slot, byte offset) of the tokens that may
    /// start a lexicon hit, and the hits found there.
    starts: Vec<(u32, usize)>,
    hits: Vec<Hit>,
}

impl NgramProfile {
    pub fn new(log2: u32, triggers: Arc<Triggers>, judge: Option<Arc<SpinnerStage>>) -> Self {
        NgramProfile {
            log2,
            pending: PendingCounts::default(),
            sorted: Vec::new(),
            sealed: Vec::new(),
            table: None,
            tokens: 0,
            triggers,
            judge,
            toks: Vec::new(),
            flags: Vec::new(),
            starts: Vec::new(),
            hits: Vec::new(),
        }
    }

    /// Move the pending counts into the table, allocating it if needed.
    fn flush(&mut self) -> &mut CountTable {
        let sorted = self.take_sorted();
        let log2 = self.log2;
        let table = self.table.get_or_insert_with(|| CountTable::new(log2));
        table.tokens += std::mem::take(&mut self.tokens);
        // Key order, so that which n-grams a full bucket keeps does not
        // depend on hash-table order.
        table.add_sorted(&sorted);
        self.sorted = sorted;
        table
    }

    /// The pending counts in key order, emptied (in the buffer `sorted`,
    /// which a caller done with it may put back).
    fn take_sorted(&mut self) -> Vec<(u64, u32)> {
        let mut out = std::mem::take(&mut self.sorted);
        self.drain_sorted(&mut out);
        out
    }

    /// The pending counts in key order into `out`, emptied: those `seal`
    /// sorted and any observed since, summed.
    fn drain_sorted(&mut self, out: &mut Vec<(u64, u32)>) {
        self.pending.drain_sorted_into(out);
        if !self.sealed.is_empty() {
            let sealed = std::mem::take(&mut self.sealed);
            if out.is_empty() {
                *out = sealed;
            } else {
                let late = std::mem::take(out);
                sum_sorted(&sealed, &late, out);
            }
        }
    }

    /// [`NgramProfile::drain_sorted`] without emptying anything.
    fn sorted_counts(&mut self) -> Vec<(u64, u32)> {
        let mut late = Vec::new();
        self.pending.sorted_into(&mut late);
        if self.sealed.is_empty() {
            return late;
        }
        let mut out = Vec::new();
        sum_sorted(&self.sealed, &late, &mut out);
        out
    }

    /// No counts waiting beside the table.
    fn nothing_pending(&mut self) -> bool {
        self.sealed.is_empty() && self.pending.is_empty()
    }

    /// What [`ProfileBuilder::merge`] does with another partial's tokens
    /// and pending counts (in key order): flush our own, then add theirs.
    fn fold_pending(&mut self, tokens: u64, pending: &[(u64, u32)]) -> &mut CountTable {
        let own = self.flush();
        own.tokens += tokens;
        own.add_sorted(pending);
        own
    }
}

impl Drop for NgramProfile {
    fn drop(&mut self) {
        if let Some(t) = self.table.take() {
            t.recycle();
        }
    }
}

/// Magic of a saved partial ([`ProfileBuilder::save_partial`]).
const PARTIAL_MAGIC: &[u8; 8] = b"SLBXSPP1";

/// A saved partial, parsed and checked (the table part is checked when
/// merged).
struct SavedPartial<'a> {
    tokens: u64,
    /// Pending counts, in key order.
    pending: Vec<(u64, u32)>,
    /// The compact table bytes, if the partial had a table.
    table: Option<&'a [u8]>,
}

impl<'a> SavedPartial<'a> {
    /// Layout: magic, log2 (u32 LE), pending tokens (u64 LE), number of
    /// pending counts (u64 LE), each as key (u64 LE) and count (u32 LE) in
    /// increasing key order, then 0 (no table) or 1 and the table
    /// ([`CountTable::write_compact`]) to the end.
    fn parse(bytes: &'a [u8], log2: u32) -> Result<Self, String> {
        let short = || "truncated".to_string();
        if bytes.len() < 8 || &bytes[..8] != PARTIAL_MAGIC {
            return Err("not a saved spinner partial (bad header)".into());
        }
        let u64_at = |p: usize| -> Option<u64> {
            Some(u64::from_le_bytes(bytes.get(p..p + 8)?.try_into().ok()?))
        };
        let saved_log2 = bytes
            .get(8..12)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .ok_or_else(short)?;
        if saved_log2 != log2 {
            return Err(format!(
                "saved with profile_log2_cells = {saved_log2}, this run uses {log2}"
            ));
        }
        let tokens = u64_at(12).ok_or_else(short)?;
        let n = u64_at(20).ok_or_else(short)?;
        let mut pos = 28usize;
        let body = usize::try_from(n)
            .ok()
            .and_then(|n| n.checked_mul(12))
            .filter(|&b| b <= bytes.len().saturating_sub(pos))
            .ok_or_else(short)?;
        let mut pending = Vec::with_capacity(body / 12);
        for e in bytes[pos..pos + body].chunks_exact(12) {
            let mut k = [0u8; 8];
            k.copy_from_slice(&e[..8]);
            let k = u64::from_le_bytes(k);
            let c = u32::from_le_bytes([e[8], e[9], e[10], e[11]]);
            if pending.last().is_some_and(|&(p, _)| p >= k) {
                return Err("corrupt (pending counts out of order)".into());
            }
            pending.push((k, c));
        }
        pos += body;
        let table = match bytes.get(pos) {
            Some(0) if pos + 1 == bytes.len() => None,
            Some(1) => Some(&bytes[pos + 1..]),
            Some(_) => return Err("corrupt (bad table marker or trailing bytes)".into()),
            None => return Err(short()),
        };
        Ok(SavedPartial {
            tokens,
            pending,
            table,
        })
    }
}

/// Two key-ordered count lists as one, counts of a key summed.
fn sum_sorted(a: &[(u64, u32)], b: &[(u64, u32)], out: &mut Vec<(u64, u32)>) {
    out.clear();
    out.reserve(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        let ((ka, na), (kb, nb)) = (a[i], b[j]);
        if ka == kb {
            out.push((ka, na.saturating_add(nb)));
            i += 1;
            j += 1;
        } else if ka < kb {
            out.push(a[i]);
            i += 1;
        } else {
            out.push(b[j]);
            j += 1;
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
}

impl ProfileBuilder for NgramProfile {
    fn seal(&mut self) {
        // Sorting the batch's counts is the costly half of a merge; here
        // it runs on the worker. Counts observed after a seal stay pending
        // and are summed in when read.
        if self.sealed.is_empty() {
            let mut sealed = std::mem::take(&mut self.sorted);
            self.pending.drain_sorted_into(&mut sealed);
            self.sealed = sealed;
        }
    }
    fn observe(&mut self, doc: &Document) {
        self.toks.clear();
        self.flags.clear();
        self.starts.clear();
        self.hits.clear();
        let text = doc.text.as_str();
        let (toks, flags) = (&mut self.toks, &mut self.flags);
        match &self.judge {
            Some(j) => {
                let starts = &mut self.starts;
                lm::tokenize_spans_while(text, |h, s, _| {
                    let info = j.index.get(h);
                    if let Some(slot) = info.starts {
                        starts.push((slot, s));
                    }
                    toks.push(h);
                    flags.push(info.trigger);
                    true
                });
            }
            None => lm::tokenize(text, |h| {
                toks.push(h);
                flags.push(self.triggers.contains(&h));
            }),
        }
        // The judge's lexicon hits come from the tokens (`keyscan`: the
        // scan's hits without scanning the text again).
        if let Some(j) = &self.judge {
            let spun = if j.index.sound() {
                j.index.hits(
                    &j.lexicon,
                    text,
                    &self.starts,
                    |s, e, p| j.hit_at(text, s, e, p),
                    &mut self.hits,
                );
                j.is_spun_hits(text, &self.hits)
            } else {
                j.is_spun(text)
            };
            if spun {
                return;
            }
        }
        self.tokens += self.toks.len() as u64;
        let pending = &mut self.pending;
        lm::for_each_model_ngram_flagged(&self.toks, &self.flags, |k| pending.add(k));
    }
    fn merge(&mut self, other: Box<dyn ProfileBuilder>) {
        if let Ok(mut o) = other.as_any().downcast::<NgramProfile>() {
            // Into a partial with no counts yet, a table with no pending
            // counts beside it would be copied cell by cell into a fresh
            // table, giving the same cells: take it instead (the run's
            // partial and each input file's first merge).
            if self.table.is_none()
                && self.nothing_pending()
                && o.nothing_pending()
                && o.table.as_ref().is_some_and(|t| t.log2() == self.log2)
            {
                if let Some(mut t) = o.table.take() {
                    t.tokens += std::mem::take(&mut self.tokens) + o.tokens;
                    self.table = Some(t);
                    return;
                }
            }
            let pending = o.take_sorted();
            let own = self.fold_pending(o.tokens, &pending);
            if let Some(t) = &o.table {
                // Partials of one stage share the configured size, so this
                // cannot fail; a mismatch would leave `self` as it was.
                let _ = own.merge(t);
            }
        }
    }
    fn merge_many(&mut self, others: Vec<Box<dyn ProfileBuilder>>) {
        let mut others: Vec<Box<NgramProfile>> = others
            .into_iter()
            .filter_map(|o| o.as_any().downcast::<NgramProfile>().ok())
            .collect();
        // Batch partials hold counts, not tables: their counts go in as
        // runs of one pass. (A partial with a table folds it in after its
        // counts, so those merge one by one.)
        if others.len() < 2 || others.iter().any(|o| o.table.is_some()) {
            for o in others {
                self.merge(o);
            }
            return;
        }
        let runs: Vec<Vec<(u64, u32)>> = others.iter_mut().map(|o| o.take_sorted()).collect();
        let tokens = others.iter().map(|o| o.tokens).sum();
        let own = self.fold_pending(tokens, &[]);
        let runs: Vec<&[(u64, u32)]> = runs.iter().map(Vec::as_slice).collect();
        own.add_sorted_runs(&runs);
    }
    fn save_partial(&mut self) -> Result<Vec<u8>, StageError> {
        // Tokens, pending counts and table apart (not flushed), so that
        // `merge_saved` repeats exactly the steps of `merge`: which
        // n-grams a full bucket keeps depends on the order of the adds.
        let pending = self.sorted_counts();
        let mut out = Vec::with_capacity(40 + pending.len() * 12);
        out.extend_from_slice(PARTIAL_MAGIC);
        out.extend_from_slice(&self.log2.to_le_bytes());
        out.extend_from_slice(&self.tokens.to_le_bytes());
        out.extend_from_slice(&(pending.len() as u64).to_le_bytes());
        for (k, n) in pending {
            out.extend_from_slice(&k.to_le_bytes());
            out.extend_from_slice(&n.to_le_bytes());
        }
        match &self.table {
            Some(t) => {
                out.push(1);
                t.write_compact(&mut out);
            }
            None => out.push(0),
        }
        Ok(out)
    }
    fn merge_saved(&mut self, bytes: &[u8]) -> Result<(), StageError> {
        let err = |m: String| StageError::config(format!("saved spinner partial: {m}"));
        let saved = SavedPartial::parse(bytes, self.log2).map_err(err)?;
        // Check the table before anything changes, so an error leaves
        // `self` as it was.
        if let Some(t) = saved.table {
            CountTable::check_compact(t, self.log2).map_err(err)?;
        }
        let own = self.fold_pending(saved.tokens, &saved.pending);
        if let Some(t) = saved.table {
            own.merge_compact(t).map_err(err)?;
        }
        Ok(())
    }
    fn finish(mut self: Box<Self>) -> Result<Vec<u8>, StageError> {
        Ok(self.flush().to_bytes())
    }
    fn as_any(self: Box<Self>) -> Box<dyn std::any::Any> {
        self
    }
}

/// One lexicon hit whose gate holds.
#[derive(Debug, Clone, Copy)]
struct Hit {
    start: usize,
    end: usize,
    pattern: usize,
    rule: usize,
}

/// What scoring a document found.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    pub score: f64,
    pub spun: bool,
    /// Confirmed substitutions (at most four per spun form).
    pub evidence: usize,
    pub words: usize,
}

/// The runtime half.
pub struct SpinnerStage {
    config: SpinnerConfig,
    lexicon: Lexicon,
    model: Model,
    /// [pattern][rule][original]: how much the original beats the spun form
    /// out of context (word frequency alone), fixed once the model is.
    bare: Vec<Vec<Vec<f64>>>,
    /// With a corpus profile: the shipped model alone and its `bare`
    /// margins, to screen documents cheaply (`rescore_above`).
    screen: Option<(Model, Vec<Vec<Vec<f64>>>)>,
    /// Content words of the lexicon: the corpus table keeps n-grams near them.
    triggers: Arc<Triggers>,
    /// Per token hash: a trigger? which lexicon keys start with it? (The
    /// profile pass bounds a document's lexicon hits from its tokens.)
    index: keyscan::TokenIndex,
    /// The lexicon's keys by first word: the scan for hits.
    words: keyscan::WordIndex,
}

impl SpinnerStage {
    pub fn new(c: &SpinnerConfig, cx: &BuildContext) -> Result<Self, StageError> {
        let mut b = LexiconBuilder::default();
        if c.builtin_lexicon {
            b.add_tsv(BUILTIN_LEXICON)
                .map_err(|e| StageError::file("builtin spinner lexicon", e))?;
        }
        for path in &c.lexicons {
            let p = cx.resolve(path);
            let text = std::fs::read_to_string(&p)
                .map_err(|e| StageError::file(p.display().to_string(), e))?;
            b.add_tsv(&text)
                .map_err(|e| StageError::file(p.display().to_string(), e))?;
        }
        if let Some(path) = &c.tortured_phrases {
            let p = cx.resolve(path);
            let text = std::fs::read_to_string(&p)
                .map_err(|e| StageError::file(p.display().to_string(), e))?;
            b.add_tortured_csv(&text, c.tortured_bias);
        }
        let lexicon = b.build().map_err(StageError::config)?;
        let default = if c.default_model {
            default_model()?
        } else {
            Arc::new(DefaultCounts::default())
        };
        let corpus = match &cx.profile {
            Some(bytes) => Some(
                CountTable::from_bytes(bytes)
                    .map_err(|e| StageError::file(format!("profile of {}", cx.stage_id), e))?,
            ),
            None => None,
        };
        // Screening needs the shipped model: without it every document
        // would screen clean and the profile would never be used.
        let screen_model =
            (corpus.is_some() && c.default_model).then(|| Model::new(default.clone(), None));
        let model = Model::new(default, corpus);
        let none = OwnNgrams::default();
        let function_words: Triggers = lm::FUNCTION_WORDS
            .iter()
            .map(|w| lm::token_hash(w.as_bytes()))
            .collect();
        let mut triggers = Triggers::default();
        for (rules, key) in lexicon.rules.iter().zip(&lexicon.key_tokens) {
            let originals = rules.iter().flat_map(|r| r.original_tokens.iter());
            for toks in std::iter::once(key).chain(originals) {
                triggers.extend(toks.iter().filter(|t| !function_words.contains(t)));
            }
        }
        let index = keyscan::TokenIndex::new(&lexicon, &triggers);
        let words = keyscan::WordIndex::new(&lexicon);
        let bare_of = |model: &Model| -> Vec<Vec<Vec<f64>>> {
            lexicon
                .rules
                .iter()
                .zip(&lexicon.key_tokens)
                .map(|(rules, key)| {
                    let spun = model.score(&[], key, &[], &none);
                    rules
                        .iter()
                        .map(|r| {
                            r.original_tokens
                                .iter()
                                .map(|o| model.score(&[], o, &[], &none) - spun)
                                .collect()
                        })
                        .collect()
                })
                .collect()
        };
        let bare = bare_of(&model);
        let screen = screen_model.map(|m| {
            let b = bare_of(&m);
            (m, b)
        });
        Ok(SpinnerStage {
            config: c.clone(),
            lexicon,
            model,
            bare,
            screen,
            triggers: Arc::new(triggers),
            index,
            words,
        })
    }

    /// Lexicon hits in `text` whose word boundaries and gates hold.
    fn scan(&self, text: &str) -> Vec<Hit> {
        self.scan_counting(text).0
    }

    /// [`SpinnerStage::scan`], and the text's word count ([`count_words`],
    /// which the word-start scan counts on the way).
    fn scan_counting(&self, text: &str) -> (Vec<Hit>, usize) {
        let mut hits = Vec::new();
        if self.words.sound() {
            let take = |s, e, p| self.hit_at(text, s, e, p);
            let words = self.words.scan(&self.lexicon, text, take, &mut hits);
            return (hits, words);
        }
        self.scan_automaton(text, &mut hits);
        (hits, count_words(text))
    }

    /// The automaton's hits in `text` that the scan misses, and the scan's
    /// that the automaton misses (hidden by a match from inside a word).
    /// For benches and evaluations that check the scan on corpora the
    /// tests cannot read.
    #[doc(hidden)]
    pub fn scan_vs_automaton(&self, text: &str) -> (usize, usize) {
        let mut automaton = Vec::new();
        self.scan_automaton(text, &mut automaton);
        let key = |h: &Hit| (h.start, h.end, h.pattern, h.rule);
        let a: std::collections::HashSet<_> = automaton.iter().map(key).collect();
        let s: std::collections::HashSet<_> = self.scan(text).iter().map(key).collect();
        (a.difference(&s).count(), s.difference(&a).count())
    }

    /// [`SpinnerStage::scan`] with the lexicon's Aho-Corasick automaton
    /// (for lexicons whose keys do not all start with a word).
    fn scan_automaton(&self, text: &str, hits: &mut Vec<Hit>) {
        if let Some(ac) = &self.lexicon.ac {
            for m in ac.find_iter(text) {
                hits.extend(self.hit_at(text, m.start(), m.end(), m.pattern().as_usize()));
            }
        }
    }

    /// The hit of a lexicon match `s..e` of `pattern`, if it is a whole
    /// word (or words) and a rule's gate holds.
    fn hit_at(&self, text: &str, s: usize, e: usize, pattern: usize) -> Option<Hit> {
        if s > 0 && is_word_byte_before(text, s) || e < text.len() && is_word_byte_after(text, e) {
            return None;
        }
        let rules = self.lexicon.rules.get(pattern)?;
        let rule = rules.iter().position(|r| gate_holds(r.gate, text, s, e))?;
        Some(Hit {
            start: s,
            end: e,
            pattern,
            rule,
        })
    }

    /// Best original for a hit and by how much (prior included) it beats
    /// the spun form, with `left` as left context. Returns (index of the
    /// original, margin in context, margin without context).
    fn judge(&self, hit: &Hit, left: &[u64], text: &str, own: &OwnNgrams) -> (usize, f64, f64) {
        self.judge_with(&self.model, &self.bare, hit, left, text, own, false)
    }

    /// [`SpinnerStage::judge`] with a given model and its `bare` margins.
    ///
    /// Unless `exact`, an original stops being scored once it can neither
    /// beat the best so far nor clear the lowest margin that could make it
    /// count (evidence or repair): scores only fall as terms are added. The
    /// result is then the same wherever it matters (which original is
    /// best, whether it is evidence, whether it is repaired); only when no
    /// original could count is the margin reported as minus infinity.
    #[allow(clippy::too_many_arguments)]
    fn judge_with(
        &self,
        model: &Model,
        bare: &[Vec<Vec<f64>>],
        hit: &Hit,
        left: &[u64],
        text: &str,
        own: &OwnNgrams,
        exact: bool,
    ) -> (usize, f64, f64) {
        let right = right_context(text, hit.end);
        let right = right.as_slice();
        let rule: &Rule = &self.lexicon.rules[hit.pattern][hit.rule];
        let key = &self.lexicon.key_tokens[hit.pattern];
        let spun = model.score(left, key, right, own);
        let bares = &bare[hit.pattern][hit.rule];
        let floor = if exact || rule.tortured {
            // Tortured phrases count whatever the margin.
            f64::NEG_INFINITY
        } else {
            let least_bare = bares.iter().fold(f64::INFINITY, |m, &b| m.min(b.max(0.0)));
            spun - rule.bias
                + self
                    .config
                    .repair_margin
                    .min(self.config.detect_margin + least_bare)
        };
        let mut best = (0, f64::NEG_INFINITY);
        for (i, toks) in rule.original_tokens.iter().enumerate() {
            if let Some(s) = model.score_above(left, toks, right, own, best.1.max(floor)) {
                if s > best.1 {
                    best = (i, s);
                }
            }
        }
        let bare = bares[best.0];
        (best.0, best.1 + rule.bias - spun, bare)
    }

    /// Is a hit evidence of spinning? Only what the context (and the
    /// entry's prior) says counts: that "internet" is a commoner word than
    /// "web" says nothing about whether "web" was swapped in.
    fn is_evidence(&self, hit: &Hit, delta: f64, bare: f64) -> bool {
        let rule = &self.lexicon.rules[hit.pattern][hit.rule];
        let gain = delta - bare.max(0.0);
        rule.tortured || gain > self.config.detect_margin
    }

    /// Every gated lexicon hit of `text` with its best original and margin
    /// (prior included) and whether it counts as evidence, for debugging
    /// lexicons and thresholds.
    pub fn explain(&self, text: &str) -> Vec<(String, String, f64, bool)> {
        let own = self.own_counts(text);
        self.scan(text)
            .iter()
            .map(|h| {
                let left = left_context(&text[..h.start]);
                let (best, delta, bare) = self.judge_with(
                    &self.model,
                    &self.bare,
                    h,
                    left.as_slice(),
                    text,
                    &own,
                    true,
                );
                let rule = &self.lexicon.rules[h.pattern][h.rule];
                let evidence = self.is_evidence(h, delta, bare);
                (
                    text[h.start..h.end].to_string(),
                    rule.originals[best].clone(),
                    delta,
                    evidence,
                )
            })
            .collect()
    }

    /// Could a document of `words` words with `bound` confirmed hits be
    /// spun? (False means it is not, whatever the model says.)
    fn could_be_spun(&self, bound: usize, words: usize) -> bool {
        let density = 100.0 * bound as f64 / words.max(MIN_WORDS) as f64;
        let score = density / (density + self.config.half_density);
        bound >= self.config.min_hits.max(1) && score >= self.config.threshold
    }

    /// Score a document without changing it.
    pub fn assess(&self, text: &str) -> Assessment {
        let (hits, words) = self.scan_counting(text);
        self.assess_hits(text, &hits, words).0
    }

    /// `assess(text).spun`, judging hits only until the answer is known:
    /// the profile pass's judge needs nothing else, and most documents
    /// settle long before their last hit (a spun one once it has enough
    /// evidence, a clean one once the hits left cannot bring enough).
    pub fn is_spun(&self, text: &str) -> bool {
        let hits = self.scan(text);
        self.is_spun_hits(text, &hits)
    }

    /// [`SpinnerStage::is_spun`] with the hits of `text` given.
    fn is_spun_hits(&self, text: &str, hits: &[Hit]) -> bool {
        if self.model.has_corpus() {
            return self.assess_hits(text, hits, count_words(text)).0.spun;
        }
        if hits.len() < self.config.min_hits.max(1) {
            // Too few hits whatever the length (words are not counted).
            return false;
        }
        let words = count_words(text);
        // Per form: evidence so far, hits not yet judged.
        let mut forms: HashMap<usize, (usize, usize), BuildHasherDefault<lm::IdHasher>> =
            HashMap::default();
        for h in hits {
            forms.entry(h.pattern).or_insert((0, 0)).1 += 1;
        }
        let mut possible: usize = forms.values().map(|&(_, u)| u.min(MAX_PER_FORM)).sum();
        if !self.could_be_spun(possible, words) {
            return false;
        }
        let needed = (0..=possible)
            .find(|&e| self.could_be_spun(e, words))
            .unwrap_or(possible + 1);
        let none = OwnNgrams::default();
        let mut evidence = 0;
        for h in hits {
            let Some(f) = forms.get_mut(&h.pattern) else {
                continue;
            };
            if f.0 >= MAX_PER_FORM {
                continue;
            }
            let before = (MAX_PER_FORM - f.0).min(f.1);
            f.1 -= 1;
            let left = left_context(&text[..h.start]);
            let (_, delta, bare) = self.judge(h, left.as_slice(), text, &none);
            let counts = self.is_evidence(h, delta, bare);
            if counts {
                f.0 += 1;
                evidence += 1;
                if evidence >= needed {
                    return true;
                }
            }
            // `possible` = evidence + what each form could still add.
            possible = possible - before + (MAX_PER_FORM - f.0).min(f.1) + usize::from(counts);
            if possible < needed {
                return false;
            }
        }
        false
    }

    /// The document's own model n-gram counts, to leave out of the corpus
    /// counts; empty (and free) without a corpus profile.
    fn own_counts(&self, text: &str) -> OwnNgrams {
        if self.model.has_corpus() {
            lm::own_ngrams(text, &self.triggers)
        } else {
            OwnNgrams::default()
        }
    }

    /// The assessment, for each hit the judgment made (`None` if the hit
    /// was not judged), and the document's own counts used.
    fn assess_hits(
        &self,
        text: &str,
        hits: &[Hit],
        words: usize,
    ) -> (Assessment, Vec<Option<(usize, f64)>>, OwnNgrams) {
        let score_of = |evidence: usize| {
            let density = 100.0 * evidence as f64 / words.max(MIN_WORDS) as f64;
            density / (density + self.config.half_density)
        };
        let mut judged = vec![None; hits.len()];
        // Fast path: if every hit (capped per form) were confirmed and the
        // document still could not be spun, skip the language model.
        let mut per_form: HashMap<usize, usize, BuildHasherDefault<lm::IdHasher>> =
            HashMap::default();
        let mut bound = 0;
        for h in hits {
            let n = per_form.entry(h.pattern).or_insert(0);
            if *n < MAX_PER_FORM {
                *n += 1;
                bound += 1;
            }
        }
        if !self.could_be_spun(bound, words) {
            let a = Assessment {
                score: 0.0,
                spun: false,
                evidence: 0,
                words,
            };
            return (a, judged, OwnNgrams::default());
        }
        // The least evidence that reaches a score.
        let needed = |score: f64| {
            (0..=bound)
                .find(|&e| score_of(e) >= score)
                .unwrap_or(bound + 1)
        };
        let spun_needs = needed(self.config.threshold).max(self.config.min_hits.max(1));
        let mut own = OwnNgrams::default();
        if let Some((model, bare)) = &self.screen {
            // Screen with the shipped model alone: what the profile pass's
            // judge saw. Stop once the document is spun by it.
            per_form.clear();
            let mut evidence = 0;
            for h in hits {
                let n = per_form.entry(h.pattern).or_insert(0);
                if *n >= MAX_PER_FORM {
                    continue;
                }
                let left = left_context(&text[..h.start]);
                let (_, delta, b) =
                    self.judge_with(model, bare, h, left.as_slice(), text, &own, false);
                if self.is_evidence(h, delta, b) {
                    *n += 1;
                    evidence += 1;
                    if evidence >= spun_needs {
                        break;
                    }
                }
            }
            let spun_alone = evidence >= spun_needs;
            if !spun_alone && evidence < needed(self.config.rescore_above) {
                let a = Assessment {
                    score: score_of(evidence),
                    spun: false,
                    evidence,
                    words,
                };
                return (a, judged, own);
            }
            // The profile pass learned from the documents its judge did not
            // find spun; leave those out of the corpus counts while they
            // are scored. One the judge found spun was not learned from:
            // its counts are the corpus's as they are.
            if !spun_alone {
                own = self.own_counts(text);
            }
        }
        // Occurrences, at most MAX_PER_FORM per spun form: a clean text
        // repeats its topic word ("kids"), a spinner swaps many words.
        per_form.clear();
        let mut evidence = 0;
        for (h, j) in hits.iter().zip(judged.iter_mut()) {
            let n = per_form.entry(h.pattern).or_insert(0);
            if *n >= MAX_PER_FORM {
                continue;
            }
            let left = left_context(&text[..h.start]);
            let (best, delta, bare) = self.judge(h, left.as_slice(), text, &own);
            *j = Some((best, delta));
            if self.is_evidence(h, delta, bare) {
                *n += 1;
                evidence += 1;
            }
        }
        let score = score_of(evidence);
        let a = Assessment {
            score,
            spun: score >= self.config.threshold && evidence >= self.config.min_hits.max(1),
            evidence,
            words,
        };
        (a, judged, own)
    }

    /// Rewrite the hits of a spun text; returns the text and the number of
    /// replacements. A judgment from the assessment is reused unless a
    /// replacement just before the hit changed its left context.
    fn repair_hits(
        &self,
        text: &str,
        hits: &[Hit],
        judged: &[Option<(usize, f64)>],
        own: &OwnNgrams,
    ) -> (String, usize) {
        let mut out = String::with_capacity(text.len() + text.len() / 16);
        let mut last = 0;
        let mut n = 0;
        let mut last_replaced_end = None;
        for (h, j) in hits.iter().zip(judged) {
            let gap = &text[last..h.start];
            out.push_str(gap);
            let near = last_replaced_end == Some(last) && gap.split_whitespace().count() < 2;
            let (best, delta) = match j {
                Some(j) if !near => *j,
                _ => {
                    let left = left_context(&out);
                    let (b, d, _) = self.judge(h, left.as_slice(), text, own);
                    (b, d)
                }
            };
            let matched = &text[h.start..h.end];
            if delta > self.config.repair_margin {
                let rule = &self.lexicon.rules[h.pattern][h.rule];
                out.push_str(&transfer_case(matched, &rule.originals[best]));
                n += 1;
                last_replaced_end = Some(h.end);
            } else {
                out.push_str(matched);
            }
            last = h.end;
        }
        out.push_str(&text[last..]);
        (out, n)
    }

    /// Repair `text` if it is spun (the whole stage minus spintax and
    /// attributes). For tests and evaluations.
    pub fn repair_text(&self, text: &str) -> (String, Assessment, usize) {
        let (hits, words) = self.scan_counting(text);
        let (a, judged, own) = self.assess_hits(text, &hits, words);
        if a.spun {
            let (t, n) = self.repair_hits(text, &hits, &judged, &own);
            (t, a, n)
        } else {
            (text.to_string(), a, 0)
        }
    }
}

impl ParallelStage for SpinnerStage {
    fn process(&self, doc: &mut Document, cx: &mut Cx) -> Result<Verdict, StageError> {
        let mut changed = false;
        if self.config.spintax {
            if let Some((text, n)) = spintax::resolve(&doc.text) {
                doc.text = text;
                doc.set_attr("spintax", n as u64);
                cx.count("spintax_groups", n as u64);
                changed = true;
            }
        }
        let (hits, words) = self.scan_counting(&doc.text);
        let (a, judged, own) = self.assess_hits(&doc.text, &hits, words);
        doc.set_attr("spin_score", (a.score * 1000.0).round() / 1000.0);
        doc.set_attr("spun", a.spun);
        if !a.spun {
            return Ok(Verdict::changed_if(changed));
        }
        cx.count("spun_docs", 1);
        doc.set_attr("spin_evidence", a.evidence as u64);
        match self.config.action {
            Action::Drop => Ok(Verdict::drop(
                "spun",
                format!(
                    "spin_score {:.2}: {} likely substitutions in {} words",
                    a.score, a.evidence, a.words
                ),
            )),
            Action::Tag => Ok(Verdict::Changed),
            Action::Repair => {
                let (text, n) = self.repair_hits(&doc.text, &hits, &judged, &own);
                doc.text = text;
                doc.set_attr("spin_repairs", n as u64);
                cx.count("spin_repairs", n as u64);
                Ok(Verdict::Changed)
            }
        }
    }
}

/// Is the character ending just before byte `i` part of a word?
fn is_word_byte_before(text: &str, i: usize) -> bool {
    text[..i]
        .chars()
        .next_back()
        .is_some_and(|c| c.is_alphanumeric() || c == '-')
}

/// Is the character starting at byte `i` part of a word?
fn is_word_byte_after(text: &str, i: usize) -> bool {
    text[i..]
        .chars()
        .next()
        .is_some_and(|c| c.is_alphanumeric() || c == '-')
}

/// Word starting after the spaces at byte `i` (same line), if any.
fn next_word(text: &str, i: usize) -> Option<&str> {
    let rest = &text[i..];
    let rest = rest.strip_prefix(' ')?;
    let end = rest
        .find(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '\u{2019}' || c == '-'))
        .unwrap_or(rest.len());
    (end > 0).then(|| &rest[..end])
}

/// Word ending before the space at byte `i` (same line), if any.
fn prev_word(text: &str, i: usize) -> Option<&str> {
    let head = text[..i].strip_suffix(' ')?;
    let start = head
        .rfind(|c: char| !(c.is_alphanumeric() || c == '-'))
        .map_or(0, |p| {
            p + head[p..].chars().next().map_or(1, char::len_utf8)
        });
    (start < head.len()).then(|| &head[start..])
}

fn starts_upper(s: &str) -> bool {
    s.chars().next().is_some_and(char::is_uppercase)
}

/// Does the text before byte `i` end a sentence (or is `i` a line start)?
fn sentence_start(text: &str, i: usize) -> bool {
    let head = text[..i].trim_end_matches(' ');
    matches!(
        head.chars().next_back(),
        None | Some(
            '\n' | '.' | '!' | '?' | ':' | '"' | '\u{201c}' | '(' | '[' | '\'' | '\u{2018}'
        )
    )
}

fn gate_holds(gate: Gate, text: &str, s: usize, e: usize) -> bool {
    let m = &text[s..e];
    match gate {
        Gate::Any => true,
        Gate::Lower => !m.chars().any(char::is_uppercase),
        Gate::Cap => starts_upper(m) && !sentence_start(text, s),
        Gate::NameNext => starts_upper(m) && next_word(text, e).is_some_and(starts_upper),
        Gate::NamePrev => {
            starts_upper(m)
                && prev_word(text, s)
                    .is_some_and(|w| starts_upper(w) && !sentence_start(text, s - 1 - w.len()))
        }
        Gate::Num => {
            starts_upper(m)
                && next_word(text, e).is_some_and(|w| w.starts_with(|c: char| c.is_ascii_digit()))
        }
    }
}

/// Up to two context tokens, kept on the stack (each hit needs one
/// context each side; a `Vec` each was two allocations per hit).
#[derive(Debug, Clone, Copy, Default)]
struct Ctx {
    toks: [u64; 2],
    len: usize,
}

impl Ctx {
    /// Append `h`, keeping only the last two tokens.
    fn push_last(&mut self, h: u64) {
        if self.len < 2 {
            self.toks[self.len] = h;
            self.len += 1;
        } else {
            self.toks = [self.toks[1], h];
        }
    }

    fn as_slice(&self) -> &[u64] {
        &self.toks[..self.len]
    }
}

/// The last two tokens before the end of `head`: walk back over two
/// tokens (a word run, or one other character), then tokenize only that.
fn left_context(head: &str) -> Ctx {
    let mut start = head.len();
    for _ in 0..2 {
        let rest = head[..start].trim_end();
        let mut it = rest.char_indices().rev().peekable();
        match it.next() {
            None => {
                start = 0;
                break;
            }
            Some((i, c)) if c.is_alphanumeric() => {
                start = i;
                for (j, d) in it {
                    if d.is_alphanumeric() || d == '\'' || d == '\u{2019}' || d == '-' {
                        start = j;
                    } else {
                        break;
                    }
                }
            }
            Some((i, _)) => start = i,
        }
    }
    let mut ctx = Ctx::default();
    lm::tokenize(&head[start..], |h| ctx.push_last(h));
    ctx
}

/// The first two tokens after byte `end`.
fn right_context(text: &str, end: usize) -> Ctx {
    let mut ctx = Ctx::default();
    lm::tokenize_while(&text[end..], |h| {
        ctx.push_last(h);
        ctx.len < 2
    });
    ctx
}

/// Whitespace-separated words (a cheap count for densities): the number
/// of non-whitespace bytes that start the text or follow ASCII whitespace,
/// exactly `split_ascii_whitespace().count()`. This is the one pass over
/// every document that the scan does not already make, so it is written to
/// vectorise: branch-free pairs summed in `u32` blocks (about 2 GB/s, where
/// `split_ascii_whitespace` ran at the speed of the whole automaton scan).
fn count_words(text: &str) -> usize {
    /// `u8::is_ascii_whitespace` without a branch or table.
    fn ws(b: u8) -> bool {
        (b == b' ') | ((b.wrapping_sub(b'\t') < 5) & (b != 0x0B))
    }
    let b = text.as_bytes();
    let Some(&first) = b.first() else {
        return 0;
    };
    let mut n = usize::from(!ws(first));
    let mut i = 0;
    while i + 1 < b.len() {
        let end = (i + 4097).min(b.len());
        let starts: u32 = b[i..end - 1]
            .iter()
            .zip(&b[i + 1..end])
            .map(|(&x, &y)| u32::from(ws(x) & !ws(y)))
            .sum();
        n += starts as usize;
        i = end - 1;
    }
    n
}

/// Write `original` with the case pattern of `matched`, word by word when
/// both have the same number of words; keep the apostrophe style.
fn transfer_case(matched: &str, original: &str) -> String {
    let mw: Vec<&str> = matched.split(' ').collect();
    let ow: Vec<&str> = original.split(' ').collect();
    let all_upper = matched.chars().any(char::is_alphabetic)
        && !matched.chars().any(char::is_lowercase)
        && matched.chars().filter(|c| c.is_alphabetic()).count() > 1;
    let all_title = mw.iter().all(|w| starts_upper(w));
    let mut out = String::with_capacity(original.len() + 2);
    for (i, w) in ow.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let cap = if all_upper {
            None
        } else if mw.len() == ow.len() {
            Some(starts_upper(mw[i]))
        } else {
            Some(if i == 0 {
                starts_upper(mw[0])
            } else {
                all_title
            })
        };
        match cap {
            None => out.push_str(&w.to_uppercase()),
            Some(true) => {
                let mut cs = w.chars();
                if let Some(f) = cs.next() {
                    out.extend(f.to_uppercase());
                    out.push_str(cs.as_str());
                }
            }
            Some(false) => out.push_str(w),
        }
    }
    if matched.contains('\u{2019}') {
        out = out.replace('\'', "\u{2019}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED_000: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/spinner/000_e7f6ed2af000063c.txt"
    ));
    const SEED_002: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/spinner/002_31699701fbb39e56.txt"
    ));
    const SEED_003: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/spinner/003_240feac35cea67fe.txt"
    ));
    const SEED_003_RESTORED: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/spinner/003_restored.txt"
    ));

    fn stage() -> SpinnerStage {
        SpinnerStage::new(&SpinnerConfig::default(), &BuildContext::default()).unwrap()
    }

    fn words(s: &str) -> Vec<&str> {
        s.split_whitespace().collect()
    }

    /// Word-level edit distance.
    fn edits(a: &[&str], b: &[&str]) -> usize {
        let mut prev: Vec<usize> = (0..=b.len()).collect();
        for (i, x) in a.iter().enumerate() {
            let mut cur = vec![i + 1; b.len() + 1];
            for (j, y) in b.iter().enumerate() {
                cur[j + 1] = (prev[j] + usize::from(x != y))
                    .min(prev[j + 1] + 1)
                    .min(cur[j] + 1);
            }
            prev = cur;
        }
        prev[b.len()]
    }

    #[test]
    fn case_transfer() {
        let cases = [
            ("Invoice", "bill", "Bill"),
            ("Folks’s Republic", "people's republic", "People’s Republic"),
            ("In accordance with", "according to", "According to"),
            ("international locations", "countries", "countries"),
            ("NAVY", "military", "MILITARY"),
            ("Treaty Group", "treaty organization", "Treaty Organization"),
        ];
        for (m, o, want) in cases {
            assert_eq!(transfer_case(m, o), want, "{m}");
        }
    }

    #[test]
    fn word_count_matches_split_ascii_whitespace() {
        let s = stage();
        for text in [
            SEED_000,
            SEED_002,
            SEED_003,
            "",
            " ",
            "word",
            " lead and trail\t\n",
            "tabs\tand\r\nnewlines \u{a0}nbsp\u{3000}ideographic",
            "vertical\x0btab\x0cform feed",
            &"word ".repeat(3000),
            &"x".repeat(130),
            &format!("{} y", "x".repeat(63)),
            &format!("{}\ty", " ".repeat(64)),
        ] {
            assert_eq!(
                count_words(text),
                text.split_ascii_whitespace().count(),
                "{text:?}"
            );
            // The word-start scan counts on the way, block by block.
            assert_eq!(
                s.scan_counting(text).1,
                text.split_ascii_whitespace().count(),
                "{text:?}"
            );
        }
    }

    #[test]
    fn contexts_are_the_nearest_two_tokens() {
        let text = "the People’s Republic of China said";
        let at = text.find("Republic").unwrap();
        assert_eq!(
            left_context(&text[..at]).as_slice(),
            &lm::tokens("the people's")[..]
        );
        assert_eq!(
            right_context(text, at + "Republic".len()).as_slice(),
            &lm::tokens("of china")[..]
        );
        assert!(left_context("").as_slice().is_empty());
        assert_eq!(right_context("x 3", 1).as_slice(), &lm::tokens("7")[..]);
    }

    #[test]
    fn gates() {
        let s = stage();
        let cases = [
            ("reported on Could 3, citing", "Could", true),
            ("It could be the first", "could", false),
            ("according to Invoice Hayton, a fellow", "Invoice", true),
            ("The Invoice was paid late", "Invoice", false),
            ("fellow at Chatham Home, said", "Home", true),
            ("Home is where the heart is", "Home", false),
        ];
        for (text, word, want) in cases {
            let found = s
                .scan(text)
                .iter()
                .any(|h| text[h.start..h.end].eq_ignore_ascii_case(word));
            assert_eq!(found, want, "{text}");
        }
    }

    #[test]
    fn seed_003_is_spun_and_repaired() {
        let s = stage();
        let (fixed, a, n) = s.repair_text(SEED_003);
        assert!(a.spun, "{a:?}");
        assert!(n > 40, "{n} repairs");
        for want in [
            "North Atlantic Treaty Organization",
            "foreign minister",
            "People’s Republic of China",
            "May 3",
            "Bill Hayton",
            "Chatham House",
            "Center for European Policy Analysis",
            "Asia-Pacific countries",
        ] {
            assert!(fixed.contains(want), "missing {want:?}");
        }
        let (o, b, f) = (words(SEED_003_RESTORED), words(SEED_003), words(&fixed));
        let before = edits(&b, &o);
        let after = edits(&f, &o);
        let reduction = 1.0 - after as f64 / before as f64;
        assert!(
            reduction >= 0.8,
            "error reduction {reduction:.3} ({before} -> {after})"
        );
    }

    #[test]
    fn clean_seeds_are_not_flagged_or_changed() {
        let s = stage();
        for (name, text) in [
            ("000", SEED_000),
            ("002", SEED_002),
            ("003 restored", SEED_003_RESTORED),
        ] {
            let (fixed, a, _) = s.repair_text(text);
            assert!(!a.spun, "{name}: {a:?}");
            assert_eq!(fixed, text, "{name}");
        }
    }

    #[test]
    fn process_sets_attributes_and_drops() {
        let s = stage();
        let mut doc = Document::from_text("d", SEED_003);
        let mut cx = Cx::default();
        assert!(matches!(
            s.process(&mut doc, &mut cx).unwrap(),
            Verdict::Changed
        ));
        assert_eq!(doc.attributes["spun"], true);
        assert!(doc.text.contains("Bill Hayton"));
        assert!(cx.counters["spin_repairs"] > 40);

        let mut clean = Document::from_text("c", SEED_000);
        assert!(matches!(
            s.process(&mut clean, &mut cx).unwrap(),
            Verdict::Unchanged
        ));
        assert_eq!(clean.attributes["spun"], false);

        let cfg = SpinnerConfig {
            action: Action::Drop,
            ..Default::default()
        };
        let dropper = SpinnerStage::new(&cfg, &BuildContext::default()).unwrap();
        let mut doc = Document::from_text("d", SEED_003);
        assert!(matches!(
            dropper.process(&mut doc, &mut cx).unwrap(),
            Verdict::Drop { reason: "spun", .. }
        ));

        let mut sp = Document::from_text("s", "{Hello|Hi} there, {friend|pal}.");
        assert!(matches!(
            s.process(&mut sp, &mut cx).unwrap(),
            Verdict::Changed
        ));
        assert_eq!(sp.text, "Hello there, friend.");
        assert_eq!(sp.attributes["spintax"], 2);
    }

    #[test]
    fn early_answer_agrees_with_the_assessment() {
        let s = stage();
        let strict = SpinnerStage::new(
            &SpinnerConfig {
                threshold: 0.9,
                min_hits: 20,
                ..Default::default()
            },
            &BuildContext::default(),
        )
        .unwrap();
        // Seed 003 cut at several lengths crosses both decisions.
        let mut texts: Vec<&str> = vec![SEED_000, SEED_002, SEED_003, SEED_003_RESTORED, ""];
        for cut in [300, 800, 1500, 3000, 6000] {
            let cut = (cut.min(SEED_003.len())..)
                .find(|&i| SEED_003.is_char_boundary(i))
                .unwrap();
            texts.push(&SEED_003[..cut]);
        }
        let mut both = [0, 0];
        for st in [&s, &strict] {
            for t in &texts {
                let spun = st.assess(t).spun;
                assert_eq!(st.is_spun(t), spun, "{}", &t[..t.len().min(60)]);
                both[usize::from(spun)] += 1;
            }
        }
        assert!(both[0] > 0 && both[1] > 0, "{both:?}");
    }

    /// The hits the profile pass finds from the tokens of `text`.
    fn token_hits(s: &SpinnerStage, text: &str) -> Vec<Hit> {
        let mut starts = Vec::new();
        lm::tokenize_spans_while(text, |h, b, _| {
            if let Some(slot) = s.index.get(h).starts {
                starts.push((slot, b));
            }
            true
        });
        let mut hits = Vec::new();
        s.index.hits(
            &s.lexicon,
            text,
            &starts,
            |a, b, p| s.hit_at(text, a, b, p),
            &mut hits,
        );
        hits
    }

    #[test]
    fn token_hits_are_the_scans() {
        // The profile pass's judge takes its lexicon hits from the tokens,
        // the stage from a scan of word starts, instead of the automaton:
        // they must be the automaton's.
        let s = stage();
        assert!(s.index.sound() && s.words.sound());
        let extra = "Home's value; the home’s; invoice-free; Could’ve; COULD 3; folks’s Republic; \
            Chatham  Home's garden. In addition to that, Invoice Hayton stated; Could 3rd; \
            p.c. per p.c's; the White Home’s lawn; Overseas Minister's; in\naddition to; \
            Could\n3; é Could 3; Coverage-free Coverage; İnvoice Hayton; a brand new, brand \
            newer; in addition tomorrow; --Home; Home--; \"Could 3\"; Could 3, Could 4";
        // Words across the scan's 64-byte blocks, keys at the very end.
        let blocks = [
            format!("{}stated", "é".repeat(31)),
            format!("{} in addition to", "a".repeat(63)),
            format!("{} Stated. Could 3; brand new", "x ".repeat(30)),
            format!("{}In keeping with", " ".repeat(64)),
        ];
        let mut n = 0;
        let texts = [SEED_000, SEED_002, SEED_003, SEED_003_RESTORED, extra];
        for text in texts.into_iter().chain(blocks.iter().map(String::as_str)) {
            let (scan, words) = s.scan_counting(text);
            assert_eq!(words, text.split_ascii_whitespace().count());
            let mut automaton = Vec::new();
            s.scan_automaton(text, &mut automaton);
            let key = |h: &Hit| (h.start, h.end, h.pattern, h.rule);
            assert_eq!(
                scan.iter().map(key).collect::<Vec<_>>(),
                automaton.iter().map(key).collect::<Vec<_>>()
            );
            let from_tokens: Vec<_> = token_hits(&s, text).iter().map(key).collect();
            assert_eq!(from_tokens, scan.iter().map(key).collect::<Vec<_>>());
            n += scan.len();
        }
        assert!(n > 250, "{n}");
        // Where they differ: a key the automaton matches from inside a
        // word ("a brand new" from Panama's last "a") and then refuses
        // hides the hit after it from the automaton only.
        let text = "The Panama brand new canal";
        let mut automaton = Vec::new();
        s.scan_automaton(text, &mut automaton);
        let spans = |hits: &[Hit]| {
            hits.iter()
                .map(|h| &text[h.start..h.end])
                .collect::<Vec<_>>()
        };
        assert_eq!(spans(&automaton), Vec::<&str>::new());
        assert_eq!(spans(&s.scan(text)), ["brand new"]);
        assert_eq!(spans(&token_hits(&s, text)), ["brand new"]);
    }

    #[test]
    fn profile_skips_spun_and_leaves_each_document_out() {
        let cfg = SpinnerConfig {
            profile_log2_cells: 16,
            ..Default::default()
        };
        let cx = BuildContext::default();
        let mut p = Spinner::profile_builder(&cfg, &cx).unwrap().unwrap();
        p.observe(&Document::from_text("s", SEED_003));
        let bytes = p.finish().unwrap();
        let table = CountTable::from_bytes(&bytes).unwrap();
        assert_eq!(table.tokens, 0, "the spun seed is not learned from");
        // A clean profile from the restored article, then scoring that same
        // article: its own counts are left out, so it is not changed.
        let mut p = Spinner::profile_builder(&cfg, &cx).unwrap().unwrap();
        for _ in 0..3 {
            p.observe(&Document::from_text("r", SEED_003_RESTORED));
        }
        let cx = BuildContext {
            profile: Some(p.finish().unwrap()),
            ..Default::default()
        };
        let s = SpinnerStage::new(&cfg, &cx).unwrap();
        let (fixed, a, _) = s.repair_text(SEED_003);
        assert!(a.spun);
        assert!(fixed.contains("Bill Hayton") && fixed.contains("foreign minister"));
        let (same, a, _) = s.repair_text(SEED_003_RESTORED);
        assert!(!a.spun);
        assert_eq!(same, SEED_003_RESTORED);
    }

    #[test]
    fn profile_rescores_only_what_the_shipped_model_finds_suspect() {
        let cfg = SpinnerConfig {
            profile_log2_cells: 16,
            ..Default::default()
        };
        let mut p = Spinner::profile_builder(&cfg, &BuildContext::default())
            .unwrap()
            .unwrap();
        for t in [SEED_000, SEED_002, SEED_003_RESTORED, SEED_003] {
            p.observe(&Document::from_text("p", t));
        }
        let profile = p.finish().unwrap();
        let alone = stage();
        let with = |rescore_above: f64| {
            let c = SpinnerConfig {
                rescore_above,
                ..cfg.clone()
            };
            let cx = BuildContext {
                profile: Some(profile.clone()),
                ..Default::default()
            };
            SpinnerStage::new(&c, &cx).unwrap()
        };
        let (never, always) = (with(1.0), with(0.0));
        let mut rescored_differs = 0;
        for text in [SEED_000, SEED_002, SEED_003_RESTORED] {
            // Not rescored: the shipped model's own figures.
            assert_eq!(never.assess(text), alone.assess(text));
            let a = always.assess(text);
            assert!(!a.spun);
            rescored_differs += usize::from(a != alone.assess(text));
        }
        assert!(rescored_differs > 0, "rescoring changes nothing here");
        // What the shipped model alone finds spun is always rescored.
        for s in [&never, &always] {
            let (fixed, a, n) = s.repair_text(SEED_003);
            assert!(a.spun && n > 40, "{a:?} {n}");
            assert!(fixed.contains("Bill Hayton"));
        }
        assert!(Spinner::validate(&SpinnerConfig {
            rescore_above: -0.1,
            ..Default::default()
        })
        .is_err());
    }

    #[test]
    fn profile_learns_and_round_trips() {
        let cfg = SpinnerConfig {
            profile_log2_cells: 12,
            ..Default::default()
        };
        let cx = BuildContext::default();
        let mut a = Spinner::profile_builder(&cfg, &cx).unwrap().unwrap();
        let mut b = Spinner::profile_builder(&cfg, &cx).unwrap().unwrap();
        a.observe(&Document::from_text("1", SEED_000));
        b.observe(&Document::from_text("2", SEED_002));
        a.merge(b);
        let bytes = a.finish().unwrap();
        let table = CountTable::from_bytes(&bytes).unwrap();
        assert!(table.tokens > 5000);
        let cx = BuildContext {
            profile: Some(bytes),
            ..Default::default()
        };
        assert!(SpinnerStage::new(&cfg, &cx).is_ok());
        let bad = BuildContext {
            profile: Some(b"nonsense".to_vec()),
            ..Default::default()
        };
        assert!(SpinnerStage::new(&cfg, &bad).is_err());
    }

    /// `a.merge_saved(&p.save_partial())` must give the same profile as
    /// `a.merge(p)`, for partials with and without a table, into a fresh
    /// builder or one with its own counts. A small table (2^10 cells)
    /// fills up, so the order of the adds matters and is checked too.
    #[test]
    fn saved_partials_merge_like_partials() {
        let cfg = SpinnerConfig {
            profile_log2_cells: 10,
            ..Default::default()
        };
        let cx = BuildContext::default();
        let half = SEED_003_RESTORED.len() / 2;
        let half = (half..)
            .find(|&i| SEED_003_RESTORED.is_char_boundary(i))
            .unwrap();
        let (r1, r2) = SEED_003_RESTORED.split_at(half);
        let make = |docs: &[&[&str]]| {
            // One partial per slice; the later ones merged in, so all but a
            // one-slice partial hold a table, and the last slice's documents
            // are observed after the merges (pending beside the table).
            let mut p = Spinner::profile_builder(&cfg, &cx).unwrap().unwrap();
            for (i, batch) in docs.iter().enumerate() {
                if i + 1 < docs.len() {
                    let mut q = Spinner::profile_builder(&cfg, &cx).unwrap().unwrap();
                    for d in *batch {
                        q.observe(&Document::from_text("q", *d));
                    }
                    p.merge(q);
                } else {
                    for d in *batch {
                        p.observe(&Document::from_text("p", *d));
                    }
                }
            }
            p
        };
        let partials: [&[&[&str]]; 4] = [
            &[&[SEED_002]],
            &[&[SEED_002, r1], &[r2]],
            &[&[r2], &[SEED_002], &[]],
            &[],
        ];
        let targets: [&[&[&str]]; 3] = [&[], &[&[SEED_000]], &[&[SEED_000], &[r1]]];
        let mut distinct = std::collections::HashSet::new();
        for t in targets {
            for p in partials {
                let mut by_merge = make(t);
                by_merge.merge(make(p));
                let mut by_saved = make(t);
                let saved = make(p).save_partial().unwrap();
                by_saved.merge_saved(&saved).unwrap();
                let (x, y) = (by_merge.finish().unwrap(), by_saved.finish().unwrap());
                assert!(
                    x == y,
                    "{} target slices, {} partial slices",
                    t.len(),
                    p.len()
                );
                distinct.insert(x);
            }
        }
        // The cases are not all the same profile (the test can fail).
        assert!(distinct.len() >= 8, "{}", distinct.len());
        // Several saved partials folded in order into a fresh builder, as a
        // cluster merge task does, equal the runner's in-memory fold.
        let mut run = make(&[]);
        let mut plan = make(&[]);
        for p in partials {
            run.merge(make(p));
            plan.merge_saved(&make(p).save_partial().unwrap()).unwrap();
        }
        assert_eq!(run.finish().unwrap(), plan.finish().unwrap());
    }

    /// `seal` (the runner calls it on the worker before a merge) changes
    /// no profile: sealed partials merge, save and finish as unsealed ones,
    /// also when documents are observed after the seal.
    #[test]
    fn sealed_partials_give_the_same_profiles() {
        let cfg = SpinnerConfig {
            profile_log2_cells: 10,
            ..Default::default()
        };
        let cx = BuildContext::default();
        let new = || Spinner::profile_builder(&cfg, &cx).unwrap().unwrap();
        let batch = |docs: &[&str], seal: bool, late: Option<&str>| {
            let mut p = new();
            for d in docs {
                p.observe(&Document::from_text("p", *d));
            }
            if seal {
                p.seal();
            }
            if let Some(d) = late {
                p.observe(&Document::from_text("p", d));
            }
            p
        };
        let fold = |seal: bool, late: Option<&str>| {
            let mut acc = new();
            acc.merge(batch(&[SEED_002], seal, None));
            acc.merge(batch(&[SEED_000, SEED_003_RESTORED], seal, late));
            acc.merge(batch(&[SEED_003_RESTORED], seal, None));
            acc.finish().unwrap()
        };
        let plain = fold(false, None);
        assert_eq!(fold(true, None), plain);
        let with_late = fold(false, Some(SEED_002));
        assert_ne!(with_late, plain, "the late document counts");
        assert_eq!(fold(true, Some(SEED_002)), with_late);
        let saved = |seal: bool, late: Option<&str>| {
            batch(&[SEED_000, SEED_002], seal, late)
                .save_partial()
                .unwrap()
        };
        assert_eq!(saved(true, None), saved(false, None));
        assert_eq!(saved(true, Some(SEED_000)), saved(false, Some(SEED_000)));
        let finish = |seal: bool| batch(&[SEED_000, SEED_002], seal, None).finish().unwrap();
        assert_eq!(finish(true), finish(false));
        // Batches handed over together fold as they would one by one
        // (the table is small, so full buckets choose by order of adds).
        for seal in [false, true] {
            let mut acc = new();
            acc.merge_many(vec![
                batch(&[SEED_002], seal, None),
                batch(&[SEED_000, SEED_003_RESTORED], seal, None),
                batch(&[SEED_003_RESTORED], seal, None),
            ]);
            assert_eq!(acc.finish().unwrap(), plain, "merge_many, seal {seal}");
        }
    }

    #[test]
    fn bad_saved_partials_are_errors() {
        let cfg = SpinnerConfig {
            profile_log2_cells: 10,
            ..Default::default()
        };
        let cx = BuildContext::default();
        let new = || Spinner::profile_builder(&cfg, &cx).unwrap().unwrap();
        let mut p = new();
        p.observe(&Document::from_text("p", SEED_000));
        let pending_only = p.save_partial().unwrap();
        let mut q = new();
        q.merge(p);
        q.observe(&Document::from_text("q", SEED_002));
        let with_table = q.save_partial().unwrap();
        let empty = new().finish().unwrap();
        for good in [&pending_only, &with_table] {
            let cuts = (0..good.len()).step_by(good.len() / 700 + 1);
            for cut in cuts.chain([good.len() - 1]) {
                let mut a = new();
                let e = a.merge_saved(&good[..cut]).unwrap_err().to_string();
                assert!(e.contains("saved spinner partial"), "{cut}: {e}");
                // A failed merge leaves the builder as it was.
                assert!(a.finish().unwrap() == empty, "{cut}");
            }
            let mut longer = good.clone();
            longer.push(0);
            assert!(new().merge_saved(&longer).is_err());
        }
        let mut bad_magic = pending_only.clone();
        bad_magic[0] ^= 1;
        let e = new().merge_saved(&bad_magic).unwrap_err().to_string();
        assert!(e.contains("bad header"), "{e}");
        assert!(new().merge_saved(b"").is_err());
        assert!(new().merge_saved(&empty).is_err(), "a finished profile");
        // A huge pending count must not allocate or panic.
        let mut huge = pending_only.clone();
        huge[20..28].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(new().merge_saved(&huge).is_err());
        // Another table size (another configuration) is refused by name.
        let other = SpinnerConfig {
            profile_log2_cells: 11,
            ..Default::default()
        };
        let mut b = Spinner::profile_builder(&other, &cx).unwrap().unwrap();
        let e = b.merge_saved(&pending_only).unwrap_err().to_string();
        assert!(e.contains("profile_log2_cells"), "{e}");
        // A bucket claiming more than 8 cells.
        let mut corrupt = with_table.clone();
        let marker = 28 + 12 * u64::from_le_bytes(with_table[20..28].try_into().unwrap()) as usize;
        assert_eq!(corrupt[marker], 1);
        corrupt[marker + 13] = 9;
        let e = new().merge_saved(&corrupt).unwrap_err().to_string();
        assert!(e.contains("corrupt"), "{e}");
    }

    #[test]
    fn never_panics_on_odd_input() {
        let s = stage();
        for text in [
            "",
            " ",
            "Could",
            "Could ",
            "’",
            "Invoice ",
            " Home",
            "\u{10ffff}Could 3",
            &"x".repeat(100_000),
            // Words across the scan's 64-byte blocks, keys at the very end.
            &format!("{}stated", "é".repeat(31)),
            &format!("{} in addition to", "a".repeat(63)),
            &format!("{}stated Could 3 Home's in addition", " ".repeat(60)),
            "brand new in keeping with",
        ] {
            let mut doc = Document::from_text("x", text);
            let _ = s.process(&mut doc, &mut Cx::default()).unwrap();
            // And the profile pass over it.
            let mut p =
                Spinner::profile_builder(&SpinnerConfig::default(), &BuildContext::default())
                    .unwrap()
                    .unwrap();
            p.observe(&Document::from_text("x", text));
        }
    }

    #[test]
    fn factory_documents_and_checks_options() {
        let f = factory();
        assert_eq!(f.type_name(), "spinner");
        assert!(f.learns());
        let opts = f.options();
        assert!(opts
            .iter()
            .any(|o| o.name == "action" && o.default == "\"repair\""));
        assert!(
            opts.iter().all(|o| !o.doc.is_empty()),
            "every option documented"
        );
        let bad: toml::Table = toml::from_str("treshold = 0.4").unwrap();
        assert!(f
            .check(&bad)
            .unwrap_err()
            .contains("unknown field `treshold`"));
        let good: toml::Table = toml::from_str("action = \"tag\"\nthreshold = 0.6").unwrap();
        assert!(f.check(&good).is_ok());
    }

    #[test]
    fn user_lexicon_resolves_against_config_dir() {
        let cfg = SpinnerConfig {
            lexicons: vec!["user_lexicon.tsv".into()],
            builtin_lexicon: false,
            ..Default::default()
        };
        let cx = BuildContext {
            base_dir: concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/spinner").into(),
            ..Default::default()
        };
        let s = SpinnerStage::new(&cfg, &cx).unwrap();
        let ex = s.explain("Long live the Superb Ruler of the land.");
        assert_eq!(ex.len(), 1);
        assert_eq!(ex[0].1, "good king");
        let missing = SpinnerConfig {
            lexicons: vec!["no_such_file.tsv".into()],
            ..Default::default()
        };
        assert!(SpinnerStage::new(&missing, &cx).is_err());
    }

    #[test]
    fn validates_options() {
        let bad = SpinnerConfig {
            threshold: 1.5,
            ..Default::default()
        };
        assert!(Spinner::validate(&bad).is_err());
        assert!(Spinner::validate(&SpinnerConfig::default()).is_ok());
    }
}
