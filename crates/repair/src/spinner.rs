//! The `spinner` stage (in progress).
