//! The runtime half of a stage, in three placements.
//!
//! * [`ParallelStage`]: stateless per document; runs on the worker pool.
//! * [`OrderedStage`]: needs state across documents; the runner calls it on
//!   one thread in input order (first seen wins, whatever the thread count).
//! * Split ([`Prepare`] + [`Decide`]): the heavy per-document part (a MinHash
//!   signature) runs in parallel, the cheap decision after it in input order.
//!
//! A stage never counts documents, times itself, catches panics or writes
//! rejects: it returns a [`Verdict`] and the runner does the rest.

use crate::{Document, StageError};
use std::any::Any;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What a stage did to one document.
#[derive(Debug)]
pub enum Verdict {
    /// Left the document as it was.
    Unchanged,
    /// Rewrote the text or annotated it.
    Changed,
    /// Remove the document; `reason` is one of the stage's declared reason
    /// codes (see [`crate::StagePlugin::REASONS`]).
    Drop {
        reason: &'static str,
        detail: String,
    },
    /// Replace the document with these parts (each made with
    /// [`Document::part`]); later stages see each part. An empty vector is
    /// not allowed: drop instead.
    Split(Vec<Document>),
}

impl Verdict {
    pub fn drop(reason: &'static str, detail: impl Into<String>) -> Self {
        Verdict::Drop {
            reason,
            detail: detail.into(),
        }
    }
    /// `Changed` if `changed`, else `Unchanged`.
    pub fn changed_if(changed: bool) -> Self {
        if changed {
            Verdict::Changed
        } else {
            Verdict::Unchanged
        }
    }
}

/// Per-call context: counters a stage adds to its stats (`boilerplate_lines`,
/// `mojibake_fixes` ...). Sums, so they merge the same for any thread count.
#[derive(Debug, Default)]
pub struct Cx {
    pub counters: BTreeMap<&'static str, u64>,
}

impl Cx {
    pub fn count(&mut self, name: &'static str, n: u64) {
        if n > 0 {
            *self.counters.entry(name).or_insert(0) += n;
        }
    }
}

/// A stage that looks at one document at a time.
pub trait ParallelStage: Send + Sync {
    fn process(&self, doc: &mut Document, cx: &mut Cx) -> Result<Verdict, StageError>;
}

/// A stage with state across documents, called in input order on one thread.
/// It may rewrite or drop a document but not split it.
pub trait OrderedStage: Send {
    fn process(&mut self, doc: &mut Document, cx: &mut Cx) -> Result<Verdict, StageError>;
    /// Called once after the last document (save an index, flush state).
    fn finish(&mut self) -> Result<(), StageError> {
        Ok(())
    }
    /// `run --resume`: save the state reached so far as checkpoint number
    /// `generation` at [`checkpoint_path`], and any files it shares between
    /// generations under names starting with `base` (a stage may
    /// share files between generations, e.g. an append-only log), so that
    /// [`OrderedStage::restore`] continues exactly from here. Generations
    /// before the newest restored one are never read again. Stages that
    /// cannot checkpoint say `Err`, and resume refuses to start.
    fn checkpoint(&mut self, base: &Path, generation: u64) -> Result<(), StageError> {
        let _ = generation;
        Err(no_resume(base))
    }
    /// Load checkpoint `generation` saved by [`OrderedStage::checkpoint`].
    fn restore(&mut self, base: &Path, generation: u64) -> Result<(), StageError> {
        let _ = generation;
        Err(no_resume(base))
    }
}

/// Where checkpoint `generation` of a stage lives: `<base>.<generation>`.
/// Stages write it there; the runner removes it once a newer generation is
/// committed.
pub fn checkpoint_path(base: &Path, generation: u64) -> PathBuf {
    let mut name = base.as_os_str().to_owned();
    name.push(format!(".{generation}"));
    PathBuf::from(name)
}

fn no_resume(path: &Path) -> StageError {
    StageError::file(
        path.display().to_string(),
        "this stage keeps state across documents and cannot checkpoint it; run without --resume",
    )
}

/// Whatever the parallel half of a split stage hands to its ordered half.
pub type Prepared = Box<dyn Any + Send>;

/// Parallel half of a split stage.
pub trait Prepare: Send + Sync {
    fn prepare(&self, doc: &Document) -> Result<Prepared, StageError>;
}

/// Ordered half of a split stage: gets each document with what
/// [`Prepare::prepare`] computed for it, in input order.
pub trait Decide: Send {
    fn decide(
        &mut self,
        doc: &mut Document,
        prepared: Prepared,
        cx: &mut Cx,
    ) -> Result<Verdict, StageError>;
    fn finish(&mut self) -> Result<(), StageError> {
        Ok(())
    }
    /// As [`OrderedStage::checkpoint`].
    fn checkpoint(&mut self, base: &Path, generation: u64) -> Result<(), StageError> {
        let _ = generation;
        Err(no_resume(base))
    }
    /// As [`OrderedStage::restore`].
    fn restore(&mut self, base: &Path, generation: u64) -> Result<(), StageError> {
        let _ = generation;
        Err(no_resume(base))
    }
}

/// A built stage, ready for the runner.
pub enum Built {
    Parallel(Arc<dyn ParallelStage>),
    Ordered(Box<dyn OrderedStage>),
    Split {
        prepare: Arc<dyn Prepare>,
        decide: Box<dyn Decide>,
    },
}

impl Built {
    pub fn placement(&self) -> &'static str {
        match self {
            Built::Parallel(_) => "parallel",
            Built::Ordered(_) => "ordered",
            Built::Split { .. } => "split",
        }
    }
}
