//! sluicebox-core: the small API every stage is written against.
//!
//! A stage author needs four things from here: [`Document`] (what flows
//! through the pipeline), [`Verdict`] (what a stage says it did to one
//! document), the stage traits in [`stage`] (one per placement: parallel,
//! ordered, split) and [`plugin::StagePlugin`] (the declarative half: a
//! config struct, a type name, drop reasons). Everything else — batching,
//! threads, ordering, counting, timing, panics, rejects — is the runner's job.

pub mod document;
pub mod error;
pub mod mem;
pub mod plugin;
pub mod profile;
pub mod stage;
pub mod stats;

pub use document::{Document, Origin};
pub use error::StageError;
pub use plugin::{BuildContext, Reason, StageFactory, StagePlugin};
pub use profile::{Profile, ProfileBuilder};
pub use stage::{Built, Cx, Decide, OrderedStage, ParallelStage, Prepare, Prepared, Verdict};
pub use stats::{StageStats, Stats};
