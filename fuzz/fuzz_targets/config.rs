//! Arbitrary UTF-8 as a config file (`Config::parse`); when it parses, the
//! plan is described and (when it names no path) built with no profiles.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sluicebox_pipeline::plan::{describe, Plan, ProfileSet};
use sluicebox_pipeline::registry::Registry;
use sluicebox_pipeline::Config;
use std::path::Path;
use std::sync::OnceLock;

static REGISTRY: OnceLock<Registry> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let registry = REGISTRY.get_or_init(Registry::builtin);
    let Ok(config) = Config::parse(text, Path::new("/nonexistent-fuzz-dir"), registry) else {
        return;
    };
    let _ = describe(&config, registry);
    // Stage options may name files (dedupe index, lexicons): building could
    // read or create anything, so only build configs without path-like text.
    if !text.contains('/') && !text.contains('\\') && !text.contains("index") {
        let _ = Plan::build(&config, registry, &ProfileSet::new(), false);
        let _ = Plan::build(&config, registry, &ProfileSet::new(), true);
    }
});
