//! sluicebox-repair: stages that repair damaged text.
//!
//! * `mojibake` ([`mojibake`]): encoding accidents, entities, control characters.
//! * `spinner` ([`spinner`]): text rewritten by article spinners, and spintax.

pub mod mojibake;
pub mod spinner;

/// Registry entry of the `spinner` stage.
pub fn spinner_factory() -> Box<dyn sluicebox_core::StageFactory> {
    spinner::factory()
}

/// Registry entry of the `mojibake` stage.
pub fn mojibake_factory() -> Box<dyn sluicebox_core::StageFactory> {
    mojibake::factory()
}
