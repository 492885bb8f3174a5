//! The `mojibake` stage (in progress).
