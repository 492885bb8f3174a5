//! The profile pass: stages that learn from the corpus before cleaning it.
//!
//! Map, merge, apply. Each worker feeds documents to its own partial
//! [`ProfileBuilder`]; the runner merges partials in batch order (so the
//! result is the same for any thread count even if a merge is not
//! commutative), serialises the merged profile to bytes, and the cleaning
//! pass hands those bytes to the stage's `build` as [`Profile`].

use crate::{Document, StageError};

/// A partial profile under construction.
pub trait ProfileBuilder: Send {
    /// Learn from one document (already through the stages before this one).
    fn observe(&mut self, doc: &Document);
    /// Fold another partial (built by the same stage) into this one.
    /// Merges run one at a time, in batch order, inside a rayon pool as
    /// large as the run's worker count: a merge may split its own work with
    /// rayon (by key range, say) and so use every core, as long as the
    /// result does not depend on how the work was split.
    fn merge(&mut self, other: Box<dyn ProfileBuilder>);
    /// Fold several partials in, in order: the same as `merge` of each in
    /// turn. The runner hands over consecutive batches' partials together
    /// so that a stage can do their work in one parallel pass (each piece
    /// of its table taking the partials' counts in order) instead of one
    /// pass per batch.
    fn merge_many(&mut self, others: Vec<Box<dyn ProfileBuilder>>) {
        for o in others {
            self.merge(o);
        }
    }
    /// Serialise. The same bytes are later given to the stage's `build`.
    fn finish(self: Box<Self>) -> Result<Vec<u8>, StageError>;
    /// Called on the worker thread once this partial has observed its last
    /// document, before it travels to the merge. Merges run one at a time,
    /// so work done here (sorting, folding pending counts) instead of in
    /// `merge` runs beside other batches' work rather than in the ordered
    /// path. Must not change what `merge`, `save_partial` or `finish`
    /// produce.
    fn seal(&mut self) {}
    /// For `merge`: downcast support.
    fn as_any(self: Box<Self>) -> Box<dyn std::any::Any>;
    /// Whether [`ProfileBuilder::merge`] gives the same result in any order
    /// and grouping (sums, say). A cluster plan then merges a shard's file
    /// partials before saving them, instead of saving one per file.
    fn merge_is_order_free(&self) -> bool {
        false
    }
    /// Cluster plans: this partial as bytes, so that another process can
    /// fold it in with [`ProfileBuilder::merge_saved`]. Stages that cannot
    /// say `Err`, and `sluicebox plan` refuses their configs.
    fn save_partial(&mut self) -> Result<Vec<u8>, StageError> {
        Err(StageError::config(
            "this stage cannot save a partial profile, so it cannot run as a cluster plan; use `sluicebox run`",
        ))
    }
    /// Fold in a partial written by [`ProfileBuilder::save_partial`]. Must
    /// leave `self` exactly as [`ProfileBuilder::merge`] of the original
    /// partial would, so a plan's profile equals `sluicebox run`'s.
    fn merge_saved(&mut self, bytes: &[u8]) -> Result<(), StageError> {
        let _ = bytes;
        Err(StageError::config(
            "this stage cannot load a partial profile, so it cannot run as a cluster plan; use `sluicebox run`",
        ))
    }
}

/// A finished profile, as bytes the stage itself wrote.
#[derive(Debug, Clone)]
pub struct Profile {
    pub bytes: Vec<u8>,
}
