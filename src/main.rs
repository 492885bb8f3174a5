//! `sluicebox`: the command line. Thin glue: arguments, progress, exit codes,
//! the summary table. Everything else lives in the crates.

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use sluicebox_io::{expand_inputs, Format};
use sluicebox_pipeline::config::Config;
use sluicebox_pipeline::plan::{describe, Plan, ProfileSet};
use sluicebox_pipeline::registry::Registry;
use sluicebox_pipeline::runner::{install_quiet_panic_hook, RunOptions, RunSummary};
use sluicebox_pipeline::{profile, DEFAULT_CONFIG};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

mod bench;
mod cluster;

#[derive(Parser)]
#[command(
    name = "sluicebox",
    version,
    about = "Clean scraped text corpora: decode, remove boilerplate, repair, deduplicate, segment"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Clean INPUT files into OUTDIR (docs.jsonl, rejects.jsonl, stats.json).
    Run(RunArgs),
    /// Validate a config and print each source's effective stage chain.
    Check {
        /// Config file (default: the built-in pipeline).
        #[arg(short, long)]
        config: Option<PathBuf>,
    },
    /// List every stage type, its options with defaults, and its drop reasons.
    Stages,
    /// Learn the corpus profile (line frequencies, n-grams) for stages that learn.
    Profile {
        #[command(flatten)]
        common: CommonArgs,
        /// Where to write the profile.
        #[arg(short, long, default_value = "profile.bin")]
        output: PathBuf,
    },
    /// Measure throughput per stage (output discarded), optionally over a
    /// sweep of thread counts: `--threads 1,2,4,8`.
    Bench(BenchArgs),
    /// Render a self-contained HTML report of a finished run.
    Report {
        /// The run's output directory (holds stats.json).
        run_dir: PathBuf,
        /// Where to write the page (default: RUN_DIR/report.html).
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Split a run into file-based tasks for a cluster (Ray, Slurm):
    /// writes WORK/plan.json (see dist/ray_driver.py).
    Plan(cluster::PlanArgs),
    /// Run one task of a plan (what cluster drivers call).
    Task(cluster::TaskArgs),
    /// Run every task of a plan on this machine, stage by stage.
    RunPlan(cluster::RunPlanArgs),
}

#[derive(Args)]
pub(crate) struct CommonArgs {
    /// Config file (default: the built-in pipeline, config/default.toml).
    #[arg(short, long)]
    pub(crate) config: Option<PathBuf>,
    /// Worker threads (default: [run] threads, 0 = all cores).
    #[arg(long)]
    pub(crate) threads: Option<usize>,
    /// Documents per batch (default: [run] batch_size).
    #[arg(long)]
    pub(crate) batch_size: Option<usize>,
    /// Input format for every file: jsonl, wet, warc, parquet, files or lines
    /// (default: by file name).
    #[arg(long)]
    pub(crate) format: Option<String>,
    /// Files, directories (walked recursively) or `-` for standard input.
    #[arg(required = true)]
    pub(crate) inputs: Vec<String>,
}

#[derive(Args)]
struct RunArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// Output directory (default: [output] dir, `sluicebox-out`).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Profile file for learning stages (default: [run] profile, else a first pass).
    #[arg(long)]
    profile: Option<PathBuf>,
    /// No progress bar and no summary table.
    #[arg(short, long)]
    quiet: bool,
    /// Also write OUTDIR/report.html (see `sluicebox report`).
    #[arg(long)]
    report: bool,
    /// Make the run resumable, and continue an interrupted one in OUTDIR:
    /// input files already done are skipped, the output is the same as an
    /// uninterrupted run's.
    #[arg(long)]
    resume: bool,
}

#[derive(Args)]
struct BenchArgs {
    /// Config file (default: the built-in pipeline, config/default.toml).
    #[arg(short, long)]
    config: Option<PathBuf>,
    /// Thread counts to measure, comma-separated (default: [run] threads).
    #[arg(long, value_delimiter = ',')]
    threads: Vec<usize>,
    /// Documents per batch (default: [run] batch_size).
    #[arg(long)]
    batch_size: Option<usize>,
    /// Input format for every file (default: by file name).
    #[arg(long)]
    format: Option<String>,
    /// Use this profile instead of timing a profile pass per run.
    #[arg(long)]
    profile: Option<PathBuf>,
    /// Print one JSON object per run instead of tables.
    #[arg(long)]
    json: bool,
    /// Files or directories (standard input cannot be read twice).
    #[arg(required = true)]
    inputs: Vec<String>,
}

pub(crate) fn load_config(path: Option<&Path>, registry: &Registry) -> Result<Config> {
    match path {
        Some(p) => Config::load(p, registry).map_err(|e| anyhow::anyhow!("{e}")),
        None => Config::parse(DEFAULT_CONFIG, Path::new("."), registry)
            .map_err(|e| anyhow::anyhow!("built-in config/default.toml: {e}")),
    }
}

fn progress_bar(inputs: &[sluicebox_io::InputFile], label: &str) -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let compressed = inputs.iter().any(|f| {
        f.path.is_none() || {
            let n = f.display.to_ascii_lowercase();
            n.ends_with(".gz") || n.ends_with(".zst")
        }
    });
    let total: u64 = inputs.iter().filter_map(|f| f.size).sum();
    let bar = if compressed || total == 0 {
        let b = ProgressBar::new_spinner();
        b.set_style(
            ProgressStyle::with_template(&format!(
                "{{spinner}} {label} {{msg}} {{binary_bytes}} {{binary_bytes_per_sec}} {{elapsed}}"
            ))
            .ok()?,
        );
        b
    } else {
        let b = ProgressBar::new(total);
        b.set_style(
            ProgressStyle::with_template(&format!(
                "{label} {{msg}} [{{bar:30}}] {{binary_bytes}}/{{binary_total_bytes}} {{binary_bytes_per_sec}} ETA {{eta}}"
            ))
            .ok()?,
        );
        b
    };
    Some(bar)
}

fn run_options(config: &Config, common: &CommonArgs) -> Result<RunOptions> {
    let format = match &common.format {
        Some(f) => Some(
            Format::parse(f)
                .with_context(|| format!("--format {f}: expected {}", Format::NAMES))?,
        ),
        None if config.input.format != "auto" => Format::parse(&config.input.format),
        None => None,
    };
    let (inputs, input_errors) = expand_inputs(&common.inputs, format);
    let mut opts = RunOptions::from_config(config, inputs);
    opts.input_errors = input_errors;
    if let Some(t) = common.threads {
        opts.threads = t;
    }
    if let Some(b) = common.batch_size {
        if b == 0 {
            bail!("--batch-size must be at least 1");
        }
        opts.batch_size = b;
    }
    opts.command = std::env::args().collect::<Vec<_>>().join(" ");
    Ok(opts)
}

/// A progress bar (on a terminal, unless `quiet`) fed by the run's progress.
fn attach_progress(opts: &mut RunOptions, label: &str, quiet: bool) -> Option<ProgressBar> {
    let bar = if quiet {
        None
    } else {
        progress_bar(&opts.inputs, label)
    }?;
    let b = bar.clone();
    opts.progress = Some(Arc::new(move |docs, bytes| {
        b.set_message(format!("{docs} docs"));
        b.set_position(bytes);
    }));
    Some(bar)
}

fn cmd_run(args: RunArgs, registry: Arc<Registry>) -> Result<ExitCode> {
    let config = load_config(args.common.config.as_deref(), &registry)?;
    let profiles = if Plan::learns(&config, &registry) {
        learned_profiles(&config, &registry, &args)?
    } else {
        ProfileSet::new()
    };
    let mut opts = run_options(&config, &args.common)?;
    let plan = Plan::build_on(opts.threads, &config, &registry, &profiles, false)
        .map_err(anyhow::Error::msg)?;
    let bar = attach_progress(&mut opts, "clean", args.quiet);
    if let Some(o) = &args.output {
        opts.out_dir = Some(o.clone());
    }
    opts.resume = args.resume;
    let out_dir = opts.out_dir.clone();
    let summary = sluicebox_pipeline::run(&config, plan, opts);
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if !args.quiet {
        eprint!("{}", summary_table(&summary));
    }
    if let Some(f) = &summary.fatal {
        eprintln!("error: {f}");
        eprintln!("error: the run stopped; outputs were not committed");
    } else if args.report {
        match out_dir {
            Some(dir) => {
                let page = dir.join("report.html");
                sluicebox_report::render(&dir, &page)?;
                if !args.quiet {
                    eprintln!("report: {}", page.display());
                }
            }
            None => eprintln!("warning: --report needs an output directory; no report written"),
        }
    }
    Ok(ExitCode::from(summary.exit_code() as u8))
}

/// Profiles for stages that learn: from `--profile` / `[run] profile`, else
/// from a first pass over the input (when it can be read twice).
fn learned_profiles(
    config: &Config,
    registry: &Arc<Registry>,
    args: &RunArgs,
) -> Result<ProfileSet> {
    let path = args
        .profile
        .clone()
        .or_else(|| config.run.profile.as_ref().map(|p| config.base_dir.join(p)));
    if let Some(p) = path {
        return profile::load(&p).map_err(anyhow::Error::msg);
    }
    // A resumable run keeps its profile, so resuming skips the profile pass.
    let resume_dir = args.resume.then(|| {
        sluicebox_pipeline::resume::dir_of(
            &args
                .output
                .clone()
                .unwrap_or_else(|| PathBuf::from(&config.output.dir)),
        )
    });
    if let Some(dir) = &resume_dir {
        let saved = dir.join("profile.bin");
        if dir.join("journal.json").exists() && saved.exists() {
            return profile::load(&saved).map_err(anyhow::Error::msg);
        }
    }
    if args.common.inputs.iter().any(|i| i == "-") {
        eprintln!(
            "warning: standard input can be read only once, so stages that learn from the corpus \
             run without a profile; for per-site learning run `sluicebox profile -c CONFIG \
             INPUT... -o profile.bin` first, then `run --profile profile.bin`"
        );
        return Ok(ProfileSet::new());
    }
    let mut opts = run_options(config, &args.common)?;
    let bar = attach_progress(&mut opts, "profile", args.quiet);
    // Record errors are reported once, by the cleaning pass.
    opts.print_errors = false;
    let t = Instant::now();
    let profiles = profile::build_profiles(config, registry, opts).map_err(anyhow::Error::msg)?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if !args.quiet {
        eprintln!("profile pass: {:.1}s", t.elapsed().as_secs_f64());
    }
    if let Some(dir) = &resume_dir {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("{}: cannot create", dir.display()))?;
        profile::save(&dir.join("profile.bin"), &profiles).map_err(anyhow::Error::msg)?;
    }
    Ok(profiles)
}

fn mb(bytes: u64) -> String {
    format!("{:.1}", bytes as f64 / 1e6)
}

/// The per-stage summary printed at the end of every run.
fn summary_table(s: &RunSummary) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let t = &s.stats.totals;
    let _ = writeln!(
        out,
        "{:<16} {:>10} {:>10} {:>10} {:>10} {:>9} {:>9} {:>8}  drops",
        "stage", "in", "changed", "dropped", "split", "MB in", "MB out", "busy s"
    );
    for (id, st) in &s.stats.stages {
        let busy = s
            .busy_seconds
            .iter()
            .find(|(k, _)| k == id)
            .map(|(_, v)| *v)
            .unwrap_or(0.0);
        let reasons: Vec<String> = st.dropped.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let _ = writeln!(
            out,
            "{:<16} {:>10} {:>10} {:>10} {:>10} {:>9} {:>9} {:>8.2}  {}",
            id,
            st.docs_in,
            st.changed,
            st.dropped_total(),
            st.split,
            mb(st.bytes_in),
            mb(st.bytes_out),
            busy,
            reasons.join(" ")
        );
    }
    let secs = s.wall_seconds.max(1e-9);
    let _ = writeln!(
        out,
        "records {} = read {} + errors {}; written {} + rejected {} (split parts added {}); {} MB in, {} MB out; {:.2}s, {:.1} MB/s, {} threads, peak RSS {}",
        t.records,
        t.read,
        t.errors,
        t.written,
        t.rejected,
        t.parts_added,
        mb(t.bytes_in),
        mb(t.bytes_out),
        s.wall_seconds,
        t.bytes_in as f64 / 1e6 / secs,
        s.threads,
        peak_rss().map_or("n/a".to_string(), |kb| format!("{:.1} MB", kb as f64 / 1024.0))
    );
    out
}

/// Peak resident memory of this process in KiB (Linux), for the summary.
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn cmd_bench(args: BenchArgs, registry: Arc<Registry>) -> Result<ExitCode> {
    if args.inputs.iter().any(|i| i == "-") {
        bail!(
            "bench reads its input several times; standard input cannot be benchmarked, give files"
        );
    }
    let config = load_config(args.config.as_deref(), &registry)?;
    let common = CommonArgs {
        config: args.config.clone(),
        threads: None,
        batch_size: args.batch_size,
        format: args.format.clone(),
        inputs: args.inputs.clone(),
    };
    let given = match &args.profile {
        Some(p) => Some(profile::load(p).map_err(anyhow::Error::msg)?),
        None => None,
    };
    let sweep = if args.threads.is_empty() {
        vec![run_options(&config, &common)?.effective_threads()]
    } else {
        args.threads.clone()
    };
    if sweep.contains(&0) {
        bail!("--threads: every count must be at least 1");
    }
    let make_opts = || run_options(&config, &common);
    let mut first: Option<bench::Measured> = None;
    for &threads in &sweep {
        let m = bench::measure(&config, &registry, given.as_ref(), threads, &make_opts)?;
        if args.json {
            println!("{}", bench::to_json(&m, first.as_ref()));
        } else {
            println!("{}", bench::table(&m, first.as_ref()));
        }
        if first.is_none() {
            first = Some(m);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn cmd_profile(common: CommonArgs, output: PathBuf, registry: Arc<Registry>) -> Result<ExitCode> {
    let config = load_config(common.config.as_deref(), &registry)?;
    if !Plan::learns(&config, &registry) {
        bail!("no enabled stage in this config learns from the corpus; nothing to profile");
    }
    let mut opts = run_options(&config, &common)?;
    let bar = attach_progress(&mut opts, "profile", false);
    let set = profile::build_profiles(&config, &registry, opts).map_err(anyhow::Error::msg)?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    profile::save(&output, &set).map_err(anyhow::Error::msg)?;
    let sizes: Vec<String> = set
        .iter()
        .map(|(k, v)| format!("{k}: {} bytes", v.len()))
        .collect();
    eprintln!("wrote {} ({})", output.display(), sizes.join(", "));
    Ok(ExitCode::SUCCESS)
}

fn cmd_stages(registry: &Registry) {
    for f in registry.iter() {
        println!(
            "{}{}",
            f.type_name(),
            if f.learns() {
                " (learns: profile pass)"
            } else {
                ""
            }
        );
        println!("  {}", f.summary());
        let opts = f.options();
        if !opts.is_empty() {
            println!("  options:");
            for o in opts {
                println!("    {} = {}", o.name, o.default);
                if !o.doc.is_empty() {
                    println!("        {}", o.doc);
                }
            }
        }
        if !f.reasons().is_empty() {
            println!("  drop reasons:");
            for r in f.reasons() {
                println!("    {}: {}", r.code, r.doc);
            }
        }
        println!();
    }
    println!("every stage: panic (the stage panicked on the document), error (the stage returned an error)");
}

fn main() -> ExitCode {
    install_quiet_panic_hook();
    let cli = Cli::parse();
    let registry = Arc::new(Registry::builtin());
    let result = match cli.command {
        Command::Run(args) => cmd_run(args, registry),
        Command::Check { config } => load_config(config.as_deref(), &registry).map(|c| {
            print!("{}", describe(&c, &registry));
            ExitCode::SUCCESS
        }),
        Command::Stages => {
            cmd_stages(&registry);
            Ok(ExitCode::SUCCESS)
        }
        Command::Profile { common, output } => cmd_profile(common, output, registry),
        Command::Bench(args) => cmd_bench(args, registry),
        Command::Plan(args) => cluster::cmd_plan(args, registry),
        Command::Task(args) => cluster::cmd_task(args, registry),
        Command::RunPlan(args) => cluster::cmd_run_plan(args),
        Command::Report { run_dir, output } => {
            let page = output.unwrap_or_else(|| run_dir.join("report.html"));
            sluicebox_report::render(&run_dir, &page).map(|()| {
                eprintln!("wrote {}", page.display());
                ExitCode::SUCCESS
            })
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
