//! Errors a stage can return for one document or at build time.

use thiserror::Error;

/// A stage failed on one document (the runner drops it with reason `error`,
/// or aborts with `[run] on_error = "abort"`), or could not be built.
#[derive(Debug, Error)]
pub enum StageError {
    /// Something about this document the stage cannot handle.
    #[error("{0}")]
    Document(String),
    /// The stage's configuration is invalid (reported with its location).
    #[error("{0}")]
    Config(String),
    /// A file the stage needs (profile, index, lexicon) could not be used.
    #[error("{path}: {message}")]
    File { path: String, message: String },
}

impl StageError {
    pub fn doc(msg: impl Into<String>) -> Self {
        StageError::Document(msg.into())
    }
    pub fn config(msg: impl Into<String>) -> Self {
        StageError::Config(msg.into())
    }
    pub fn file(path: impl Into<String>, message: impl std::fmt::Display) -> Self {
        StageError::File {
            path: path.into(),
            message: message.to_string(),
        }
    }
}
