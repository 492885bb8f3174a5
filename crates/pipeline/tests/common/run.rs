//! Run a config over one input the way `sluicebox run` does: a profile pass
//! first when a stage learns, then the cleaning pass. Shared by
//! `tests/runner.rs` and `tests/properties.rs`.

use sluicebox_io::expand_inputs;
use sluicebox_pipeline::config::Config;
use sluicebox_pipeline::plan::{Plan, ProfileSet};
use sluicebox_pipeline::registry::Registry;
use sluicebox_pipeline::{profile, RunOptions, RunSummary};
use std::path::Path;
use std::sync::Arc;

pub fn run_config(
    config_text: &str,
    reg: &Arc<Registry>,
    input: &str,
    out: &Path,
    threads: usize,
    batch: usize,
) -> RunSummary {
    let config = Config::parse(config_text, Path::new("."), reg).unwrap();
    let (inputs, errors) = expand_inputs(&[input.to_string()], None);
    let mut opts = RunOptions::from_config(&config, inputs.clone());
    opts.input_errors = errors;
    opts.threads = threads;
    opts.batch_size = batch;
    opts.out_dir = Some(out.to_path_buf());
    opts.print_errors = false;
    let mut profiles = ProfileSet::new();
    if Plan::learns(&config, reg) {
        let mut popts = RunOptions::from_config(&config, inputs);
        popts.threads = threads;
        popts.batch_size = batch;
        popts.print_errors = false;
        profiles = profile::build_profiles(&config, reg, popts).unwrap();
    }
    let plan = Plan::build(&config, reg, &profiles, false).unwrap();
    sluicebox_pipeline::run(&config, plan, opts)
}
