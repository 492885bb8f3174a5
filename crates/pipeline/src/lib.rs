//! sluicebox-pipeline: from a TOML file to documents written.
//!
//! * [`config`]: parse and validate the TOML, collecting every error with its
//!   location.
//! * [`registry`]: the stage types this build knows.
//! * [`plan`]: per source, the effective stage chain; stage instances built
//!   once per distinct effective config.
//! * [`runner`]: reader thread → rayon pool → ordered steps → writer, bounded
//!   by credits, deterministic for any thread count and batch size.
//! * [`profile`]: the learning pass and the profile file.
//! * [`resume`]: journal, parts and checkpoints of `run --resume`.
//! * [`cluster`]: the same pipeline as a plan of file-based tasks (Ray, Slurm).

pub mod cluster;
pub mod config;
pub mod engine;
pub mod plan;
pub mod profile;
pub mod registry;
pub mod resume;
pub mod runner;
pub mod sources;

pub use config::{Config, ConfigError};
pub use plan::Plan;
pub use runner::{run, RunOptions, RunSummary};

/// The built-in default pipeline (`config/default.toml`).
pub const DEFAULT_CONFIG: &str = include_str!("../../../config/default.toml");
