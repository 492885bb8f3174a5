//! `sluicebox plan`, `task` and `run-plan`: thin glue over
//! `sluicebox_pipeline::cluster`.

use crate::{load_config, CommonArgs};
use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use sluicebox_io::{expand_inputs, Format};
use sluicebox_pipeline::cluster::{self, PlanRequest, TaskOutcome};
use sluicebox_pipeline::registry::Registry;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Args)]
pub struct PlanArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// Working directory for intermediate files and task markers: storage
    /// every node of the cluster sees.
    #[arg(long)]
    work: PathBuf,
    /// Output directory (shared too).
    #[arg(short, long)]
    output: PathBuf,
    /// Partitions of the dedupe keys (tasks of the `pairs` stage).
    #[arg(long, default_value_t = 4)]
    partitions: u64,
    /// Shards (runs of whole input files); default one per input file.
    #[arg(long)]
    shards: Option<usize>,
    /// CPUs each shard task asks for.
    #[arg(long, default_value_t = 2)]
    cpus_per_task: usize,
    /// Also write WORK/plan.sbatch, a Slurm script of chained array jobs.
    #[arg(long, value_parser = ["json", "sbatch"], default_value = "json")]
    emit: String,
    /// The sluicebox binary the tasks run (default: this one).
    #[arg(long)]
    bin: Option<PathBuf>,
}

pub fn cmd_plan(args: PlanArgs, registry: Arc<Registry>) -> Result<ExitCode> {
    let config = load_config(args.common.config.as_deref(), &registry)?;
    let format = match &args.common.format {
        Some(f) => Some(
            Format::parse(f)
                .with_context(|| format!("--format {f}: expected {}", Format::NAMES))?,
        ),
        None if config.input.format != "auto" => Format::parse(&config.input.format),
        None => None,
    };
    let (inputs, errors) = expand_inputs(&args.common.inputs, format);
    if let Some(e) = errors.first() {
        bail!("{e}; a plan needs every input readable when it is made");
    }
    let bin = match args.bin {
        Some(b) => b,
        None => std::env::current_exe().context("cannot find this sluicebox binary; pass --bin")?,
    };
    let req = PlanRequest {
        config_name: args
            .common
            .config
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "(built-in default)".into()),
        work: args.work,
        output: args.output,
        partitions: args.partitions,
        shards: args.shards,
        inputs,
        bin,
        cpus: args.cpus_per_task,
        batch_size: args.common.batch_size.unwrap_or(config.run.batch_size),
    };
    let plan = cluster::make_plan(&config, &registry, req).map_err(|e| anyhow!(e))?;
    let path = cluster::save_plan(&plan).map_err(|e| anyhow!(e))?;
    let tasks: usize = plan.stages.iter().map(|s| s.tasks.len()).sum();
    eprintln!(
        "wrote {}: {} shards, {} partitions, {} stages, {tasks} tasks",
        path.display(),
        plan.shards.len(),
        plan.partitions,
        plan.stages.len()
    );
    if args.emit == "sbatch" {
        let script = plan.work.join("plan.sbatch");
        std::fs::write(&script, cluster::sbatch_script(&plan))
            .with_context(|| format!("{}: cannot write", script.display()))?;
        eprintln!(
            "wrote {} (run it with bash on a Slurm login node)",
            script.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Args)]
pub struct TaskArgs {
    /// The plan (WORK/plan.json).
    #[arg(long)]
    plan: PathBuf,
    /// Stage name (profile, profile-merge, clean, pairs, decide, write, finish).
    #[arg(long)]
    stage: String,
    /// Task number within the stage.
    #[arg(long)]
    task: usize,
    /// Worker threads (default: RAYON_NUM_THREADS, else [run] threads).
    #[arg(long, default_value_t = 0)]
    threads: usize,
}

pub fn cmd_task(args: TaskArgs, registry: Arc<Registry>) -> Result<ExitCode> {
    match cluster::run_task(&args.plan, &args.stage, args.task, args.threads, registry) {
        Ok(TaskOutcome::Ran) => Ok(ExitCode::SUCCESS),
        Ok(TaskOutcome::Skipped) => {
            eprintln!("{}-{}: skipped: marker exists", args.stage, args.task);
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => bail!("task {}-{}: {e}", args.stage, args.task),
    }
}

#[derive(Args)]
pub struct RunPlanArgs {
    /// The plan (WORK/plan.json).
    plan: PathBuf,
    /// CPUs to use: tasks of a stage run side by side and share them.
    #[arg(long, default_value_t = 2)]
    workers: usize,
}

pub fn cmd_run_plan(args: RunPlanArgs) -> Result<ExitCode> {
    let done = cluster::run_plan(&args.plan, args.workers, &mut |line| eprintln!("{line}"))
        .map_err(|e| anyhow!(e))?;
    eprintln!("tasks: {} ran, {} skipped", done.ran, done.skipped);
    Ok(ExitCode::SUCCESS)
}
