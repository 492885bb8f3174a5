//! sluicebox-repair: stages that repair damaged text.
//!
//! * `mojibake` ([`mojibake`]): encoding accidents, entities, control characters.
//! * `spinner` ([`spinner`]): text rewritten by article spinners, and spintax.

pub mod mojibake;
pub mod spinner;
