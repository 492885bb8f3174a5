//! Cluster plans: the pipeline as file-based tasks that any engine can
//! schedule (Ray with `dist/ray_driver.py`, Slurm with `plan --emit
//! sbatch`, or `sluicebox run-plan` on one machine), with the same output
//! as `sluicebox run` on the same config and input.
//!
//! The work is split the way the single-machine runner already splits it:
//!
//! | stage | tasks | reads | writes |
//! |---|---|---|---|
//! | `profile` | one per shard | input files | per input file, each learning stage's partial profile |
//! | `profile-merge` | 1 | all partials, in file order | `profile.bin` (as `sluicebox profile`) |
//! | `clean` | one per shard | inputs, profile | documents as they reach dedupe; dedupe members and band keys by partition, in sorted runs |
//! | `pairs` | one per partition | band keys of every shard, merged run by run | verified near-duplicate pairs |
//! | `decide` | 1 | pairs, members in input order | per shard, which documents are duplicates of what |
//! | `write` | one per shard | documents, decisions | `docs-NNNNN`, `rejects-NNNNN` (NNNNN = shard) |
//! | `finish` | 1 | every task's stats | `stats.json` |
//!
//! Without a dedupe stage, `clean` runs the whole chain and writes the
//! output; `pairs`, `decide` and `write` are left out. Shards are runs of
//! whole input files in input order, so document order (shard, then
//! position) is input order, and the profile folds per-file partials in
//! file order exactly as [`crate::profile::build_profiles`] does.
//!
//! Intermediate files are Parquet ([`sluicebox_io::table`]). A clean task
//! buffers each partition's band rows and writes them as sorted runs (one
//! row group each), so a pairs task streams a k-way merge of every shard's
//! runs and holds one bucket at a time, plus a few rows per run.
//!
//! **Idempotent tasks.** A task writes each file under a temporary name and
//! renames it into place, and writes its marker (`WORK/done/STAGE-N`) last.
//! A task whose marker exists does nothing, so rerunning a plan after a
//! crash redoes only the unfinished tasks; a task killed halfway is redone
//! whole (its renamed files are rewritten with the same content).
//!
//! **Limits.** A chain may hold at most one stage that keeps state across
//! documents, and it must be dedupe without `index` or
//! `cross_doc_paragraphs`; `plan` says so otherwise. Learning stages must
//! save partial profiles (the built-in ones do).

use crate::config::Config;
use crate::engine::{self, OrderedFn, ParallelFn, Phase};
use crate::plan::{Plan, ProfileSet};
use crate::profile;
use crate::registry::Registry;
use crate::runner::Partials;
use crate::runner::{
    phases_of, stats_json, Batch, OrderedInstance, ReadFrom, RunOptions, Shared, Sink, Slot,
};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use sluicebox_core::{Document, Origin, Prepared, Stats};
use sluicebox_dedupe::shuffle::{self, BandRow, Member, Pair};
use sluicebox_dedupe::{DedupeConfig, Judgement, Replayed, Replayer, Signature};
use sluicebox_io::table::{read_table, Col, ColType, Columns, TableWriter};
use sluicebox_io::{Format, InputFile, OutputCompression, OutputFormat, OutputWriter};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Version of `plan.json`.
pub const PLAN_VERSION: u32 = 1;

/// The stages of a plan, in order.
pub const STAGES: [&str; 7] = [
    "profile",
    "profile-merge",
    "clean",
    "pairs",
    "decide",
    "write",
    "finish",
];

/// `plan.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClusterPlan {
    pub version: u32,
    /// Working directory: storage every node sees.
    pub work: PathBuf,
    /// Output directory (also shared).
    pub output: PathBuf,
    /// Config file as given (`(built-in default)` without `-c`).
    pub config: String,
    /// Its text when planned (tasks use this, not the file).
    pub config_text: String,
    /// Directory relative paths in the config resolve against.
    pub config_dir: PathBuf,
    pub inputs: Vec<PlannedInput>,
    /// Input indices per shard, in input order.
    pub shards: Vec<Vec<usize>>,
    pub partitions: u64,
    pub batch_size: usize,
    pub stages: Vec<PlanStageTasks>,
}

/// One input file as `sluicebox run` would see it (same names in ids).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlannedInput {
    pub path: PathBuf,
    pub display: String,
    pub relative: String,
    pub format: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlanStageTasks {
    pub name: String,
    pub tasks: Vec<TaskSpec>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TaskSpec {
    pub id: String,
    pub argv: Vec<String>,
    pub cpus: usize,
    pub memory_bytes: u64,
    pub marker: PathBuf,
}

/// What `sluicebox plan` was asked for.
pub struct PlanRequest {
    pub config_name: String,
    pub work: PathBuf,
    pub output: PathBuf,
    pub partitions: u64,
    /// Shards wanted (`None`: one per input file).
    pub shards: Option<usize>,
    pub inputs: Vec<InputFile>,
    /// The `sluicebox` binary tasks run.
    pub bin: PathBuf,
    pub cpus: usize,
    pub batch_size: usize,
}

/// How the chain splits: where dedupe is and its settings per instance.
struct Chain {
    dedupe: Option<usize>,
    dedupe_configs: Vec<DedupeConfig>,
    learns: bool,
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// Whether `config` has a cluster form: its only stage with state across
/// documents is one dedupe stage, and its learning stages save partial
/// profiles. Checked once, by `plan` (tasks trust the plan's config).
fn check_plannable(config: &Config, registry: &Arc<Registry>) -> Result<(), String> {
    let plan =
        Plan::build(config, registry, &ProfileSet::new(), true).map_err(|e| e.to_string())?;
    let mut dedupes = 0;
    for st in plan.stages.iter().filter(|st| st.placement != "parallel") {
        if st.type_name != "dedupe" {
            return Err(format!(
                "stage `{}` (type = \"{}\") keeps state across documents and has no cluster form; \
                 run this config with `sluicebox run`",
                st.id, st.type_name
            ));
        }
        dedupes += 1;
        if dedupes > 1 {
            return Err(format!(
                "stage `{}`: a cluster plan supports one dedupe stage; merge them or use `sluicebox run`",
                st.id
            ));
        }
    }
    for p in profile::partials_maker(config, registry)()?
        .iter_mut()
        .flatten()
    {
        p.save_partial().map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Where the chain is cut, from the config alone (no stage is built).
fn chain_of(config: &Config, registry: &Arc<Registry>) -> Result<Chain, String> {
    let enabled_somewhere = |pos: usize| {
        (0..=config.sources.len()).any(|s| config.effective_stage(pos, s.checked_sub(1)).0)
    };
    let dedupe = config
        .stages
        .iter()
        .enumerate()
        .position(|(pos, e)| e.type_name == "dedupe" && enabled_somewhere(pos));
    let mut dedupe_configs = Vec::new();
    if let Some(pos) = dedupe {
        // Instances in the order Plan::build makes them.
        let mut keys: Vec<String> = Vec::new();
        for s in 0..=config.sources.len() {
            let (enabled, table) = config.effective_stage(pos, s.checked_sub(1));
            if !enabled {
                continue;
            }
            let key = toml::to_string(&table).unwrap_or_default();
            if keys.contains(&key) {
                continue;
            }
            keys.push(key);
            let c: DedupeConfig = toml::Value::Table(table)
                .try_into()
                .map_err(|e: toml::de::Error| e.message().to_string())?;
            let id = &config.stages[pos].id;
            if c.cross_doc_paragraphs {
                return Err(format!(
                    "stage `{id}`: cross_doc_paragraphs has no cluster form yet; turn it off or use `sluicebox run`"
                ));
            }
            if c.index.is_some() {
                return Err(format!(
                    "stage `{id}`: a persistent `index` has no cluster form yet; remove it or use `sluicebox run`"
                ));
            }
            dedupe_configs.push(c);
        }
    }
    Ok(Chain {
        dedupe,
        dedupe_configs,
        learns: !profile::learner_ids(config, registry).is_empty(),
    })
}

fn format_name(f: Format) -> String {
    format!("{f:?}").to_ascii_lowercase()
}

/// Make a plan; the caller writes it with [`save_plan`].
pub fn make_plan(
    config: &Config,
    registry: &Arc<Registry>,
    req: PlanRequest,
) -> Result<ClusterPlan, String> {
    if req.partitions == 0 {
        return Err("--partitions must be at least 1".into());
    }
    check_plannable(config, registry)?;
    let chain = chain_of(config, registry)?;
    let mut inputs = Vec::new();
    for f in &req.inputs {
        let Some(path) = &f.path else {
            return Err("a cluster plan needs input files: standard input cannot be shared".into());
        };
        inputs.push(PlannedInput {
            path: absolute(path),
            display: f.display.to_string(),
            relative: f.relative.clone(),
            format: format_name(f.format),
        });
    }
    if inputs.is_empty() {
        return Err("no input files".into());
    }
    let sizes: Vec<u64> = req
        .inputs
        .iter()
        .map(|f| f.size.unwrap_or(0).max(1))
        .collect();
    let total: u64 = sizes.iter().sum();
    // Default: about SHARD_BYTES of input (on disk) per shard, so that a
    // task's fixed cost (start, loading the profile) stays small beside
    // its work.
    let n_shards = req
        .shards
        .unwrap_or(total.div_ceil(SHARD_BYTES) as usize)
        .clamp(1, inputs.len());
    let shards = balanced_runs(&sizes, n_shards);
    let work = absolute(&req.work);
    let output = absolute(&req.output);
    let plan_path = work.join("plan.json");
    let bin = req.bin.display().to_string();
    let task = |stage: &str, n: usize, cpus: usize, mib: u64| TaskSpec {
        id: format!("{stage}-{n}"),
        argv: vec![
            bin.clone(),
            "task".into(),
            "--plan".into(),
            plan_path.display().to_string(),
            "--stage".into(),
            stage.into(),
            "--task".into(),
            n.to_string(),
        ],
        cpus,
        memory_bytes: mib << 20,
        marker: work.join("done").join(format!("{stage}-{n}")),
    };
    let cpus = req.cpus.max(1);
    let mut stages = Vec::new();
    let mut add = |name: &str, n: usize, cpus: usize, mib: u64| {
        stages.push(PlanStageTasks {
            name: name.into(),
            tasks: (0..n).map(|k| task(name, k, cpus, mib)).collect(),
        })
    };
    if chain.learns {
        add("profile", n_shards, cpus, 1024);
        add("profile-merge", 1, 1, 1024);
    }
    add("clean", n_shards, cpus, 1024);
    if chain.dedupe.is_some() {
        add("pairs", req.partitions as usize, 1, 2048);
        add("decide", 1, 1, 2048);
        add("write", n_shards, cpus, 1024);
    }
    add("finish", 1, 1, 256);
    Ok(ClusterPlan {
        version: PLAN_VERSION,
        work,
        output,
        config: req.config_name,
        config_text: config.text.clone(),
        config_dir: absolute(&config.base_dir),
        inputs,
        shards,
        partitions: req.partitions,
        batch_size: req.batch_size,
        stages,
    })
}

/// Default input bytes (on disk) per shard.
pub const SHARD_BYTES: u64 = 256 << 20;

/// Split files (by size, in order) into `n` consecutive non-empty runs of
/// about equal bytes.
fn balanced_runs(sizes: &[u64], n: usize) -> Vec<Vec<usize>> {
    let n = n.clamp(1, sizes.len().max(1));
    let total: u64 = sizes.iter().sum();
    let mut runs: Vec<Vec<usize>> = Vec::with_capacity(n);
    let mut acc = 0u64;
    for (i, &size) in sizes.iter().enumerate() {
        let left = sizes.len() - i;
        let open = runs.len();
        // Start a new run when this one has its share, or when the files
        // left are just enough to give every remaining run one.
        let share = total * open as u64 / n as u64;
        if runs.is_empty() || (open < n && (acc >= share || left <= n - open)) {
            runs.push(Vec::new());
        }
        if let Some(r) = runs.last_mut() {
            r.push(i);
        }
        acc += size;
    }
    runs
}

/// Write `plan.json` into the work directory (and create the directory).
pub fn save_plan(plan: &ClusterPlan) -> Result<PathBuf, String> {
    std::fs::create_dir_all(plan.work.join("done"))
        .map_err(|e| format!("{}: cannot create: {e}", plan.work.display()))?;
    let path = plan.work.join("plan.json");
    let text = serde_json::to_string_pretty(plan).map_err(|e| e.to_string())?;
    // Markers of another plan would make its tasks look done.
    match std::fs::read_to_string(&path) {
        Ok(old) if old == text => return Ok(path),
        Ok(_) => {
            return Err(format!(
                "{}: the work directory holds another plan (other inputs, config or options); \
                 use a new --work directory, or delete this one to start over",
                plan.work.display()
            ))
        }
        Err(_) => {}
    }
    let stale = std::fs::read_dir(&plan.output)
        .ok()
        .and_then(|mut d| d.next());
    if let Some(Ok(entry)) = stale {
        return Err(format!(
            "{}: the output directory is not empty ({}); a plan writes docs-NNNNN files \
             per shard, and old ones would mix in: choose an empty -o directory",
            plan.output.display(),
            entry.file_name().to_string_lossy()
        ));
    }
    write_file(&path, text.as_bytes())?;
    Ok(path)
}

/// A Slurm script: one array job per stage, each after the previous one.
pub fn sbatch_script(plan: &ClusterPlan) -> String {
    let mut s = String::from(
        "#!/bin/bash\n# Written by `sluicebox plan --emit sbatch`: one array job per stage,\n\
         # each starting after the previous one succeeded (--dependency=afterok).\n\
         # WORK and OUTPUT must be on storage every node sees.\nset -euo pipefail\nprev=\"\"\n",
    );
    for st in &plan.stages {
        let Some(t) = st.tasks.first() else { continue };
        let mut argv: Vec<String> = t.argv.iter().map(|a| shell_quote(a)).collect();
        if let Some(last) = argv.last_mut() {
            *last = "$SLURM_ARRAY_TASK_ID".into();
        }
        s.push_str(&format!(
            "dep=\"\"; [ -n \"$prev\" ] && dep=\"--dependency=afterok:$prev\"\n\
             prev=$(sbatch --parsable $dep --job-name=sluicebox-{name} --array=0-{last} \
             --cpus-per-task={cpus} --mem={mem}M \
             --wrap=\"RAYON_NUM_THREADS={cpus} {cmd}\")\necho \"stage {name}: job $prev\"\n",
            name = st.name,
            last = st.tasks.len() - 1,
            cpus = t.cpus,
            mem = t.memory_bytes >> 20,
            cmd = argv.join(" ").replace('"', "\\\"").replace('$', "\\$"),
        ));
    }
    s
}

fn shell_quote(s: &str) -> String {
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-=:,+".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// Read `plan.json`.
pub fn load_plan(path: &Path) -> Result<ClusterPlan, String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "{}: cannot read plan: {e}; make one with `sluicebox plan`",
            path.display()
        )
    })?;
    let plan: ClusterPlan = serde_json::from_str(&text)
        .map_err(|e| format!("{}: not a sluicebox plan: {e}", path.display()))?;
    if plan.version != PLAN_VERSION {
        return Err(format!(
            "{}: plan version {} (this sluicebox reads {PLAN_VERSION}); plan again",
            path.display(),
            plan.version
        ));
    }
    Ok(plan)
}

/// How a task call ended.
#[derive(Debug, PartialEq, Eq)]
pub enum TaskOutcome {
    Ran,
    /// Its marker existed.
    Skipped,
}

/// Everything a task needs.
struct Ctx {
    plan: ClusterPlan,
    config: Config,
    registry: Arc<Registry>,
    chain: Chain,
    threads: usize,
    stage: String,
    task: usize,
}

impl Ctx {
    fn dir(&self, name: &str) -> Result<PathBuf, String> {
        let d = self.plan.work.join(name);
        std::fs::create_dir_all(&d).map_err(|e| format!("{}: cannot create: {e}", d.display()))?;
        Ok(d)
    }
    fn shard_inputs(&self, s: usize) -> Result<Vec<InputFile>, String> {
        let files = self
            .plan
            .shards
            .get(s)
            .ok_or_else(|| format!("the plan has no shard {s}"))?;
        files
            .iter()
            .map(|&i| {
                let p = self
                    .plan
                    .inputs
                    .get(i)
                    .ok_or_else(|| format!("the plan has no input {i}"))?;
                let format = Format::parse(&p.format)
                    .ok_or_else(|| format!("{}: unknown format `{}`", p.display, p.format))?;
                Ok(InputFile {
                    path: Some(p.path.clone()),
                    display: Arc::from(p.display.as_str()),
                    relative: p.relative.clone(),
                    format,
                    size: std::fs::metadata(&p.path).ok().map(|m| m.len()),
                })
            })
            .collect()
    }
    fn options(&self, inputs: Vec<InputFile>) -> RunOptions {
        let mut opts = RunOptions::from_config(&self.config, inputs);
        opts.threads = self.threads;
        opts.batch_size = self.plan.batch_size;
        opts.out_dir = None;
        opts
    }
    fn profiles(&self) -> Result<ProfileSet, String> {
        if self.chain.learns {
            profile::load(&self.plan.work.join("profile.bin"))
        } else {
            Ok(ProfileSet::new())
        }
    }
    fn shard_name(s: usize) -> String {
        format!("{s:05}")
    }
    /// Fault injection for the tests: die like a SIGKILL here.
    fn halfway(&self) {
        let want = format!("{}:{}", self.stage, self.task);
        if std::env::var("SLUICEBOX_FAULT_ABORT_TASK").ok() == Some(want) {
            eprintln!(
                "SLUICEBOX_FAULT_ABORT_TASK: aborting {}-{}",
                self.stage, self.task
            );
            std::process::abort();
        }
    }
}

/// Run task `task` of stage `stage` (`sluicebox task`). `threads` = 0: the
/// config's `[run] threads` (and `RAYON_NUM_THREADS` when set).
pub fn run_task(
    plan_path: &Path,
    stage: &str,
    task: usize,
    threads: usize,
    registry: Arc<Registry>,
) -> Result<TaskOutcome, String> {
    let plan = load_plan(plan_path)?;
    let spec = plan
        .stages
        .iter()
        .find(|s| s.name == stage)
        .ok_or_else(|| {
            let names: Vec<&str> = plan.stages.iter().map(|s| s.name.as_str()).collect();
            format!(
                "this plan has no stage `{stage}` (it has {})",
                names.join(", ")
            )
        })?
        .tasks
        .get(task)
        .ok_or_else(|| format!("stage `{stage}` has no task {task}"))?
        .clone();
    if spec.marker.exists() {
        return Ok(TaskOutcome::Skipped);
    }
    let config = Config::parse(&plan.config_text, &plan.config_dir, &registry)
        .map_err(|e| format!("{}: {e}", plan.config))?;
    let chain = chain_of(&config, &registry)?;
    let threads = if threads > 0 {
        threads
    } else {
        std::env::var("RAYON_NUM_THREADS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(config.run.threads)
    };
    let cx = Ctx {
        plan,
        config,
        registry,
        chain,
        threads,
        stage: stage.to_string(),
        task,
    };
    let started = Instant::now();
    match stage {
        "profile" => task_profile(&cx, task)?,
        "profile-merge" => task_profile_merge(&cx)?,
        "clean" => task_clean(&cx, task, started)?,
        "pairs" => task_pairs(&cx, task)?,
        "decide" => task_decide(&cx)?,
        "write" => task_write(&cx, task, started)?,
        "finish" => task_finish(&cx)?,
        other => return Err(format!("unknown stage `{other}`")),
    }
    if let Some(d) = spec.marker.parent() {
        std::fs::create_dir_all(d).map_err(|e| format!("{}: cannot create: {e}", d.display()))?;
    }
    write_file(
        &spec.marker,
        format!("{:.3}\n", started.elapsed().as_secs_f64()).as_bytes(),
    )?;
    Ok(TaskOutcome::Ran)
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), String> {
    sluicebox_io::write_file_atomic(path, &[bytes])
}

// ---- profile ----

fn task_profile(cx: &Ctx, s: usize) -> Result<(), String> {
    let inputs = cx.shard_inputs(s)?;
    let files: Vec<u64> = cx.plan.shards[s].iter().map(|&i| i as u64).collect();
    let ids = profile::learner_ids(&cx.config, &cx.registry);
    let path = cx
        .dir("profile")?
        .join(format!("{}.parquet", Ctx::shard_name(s)));
    let writer = TableWriter::create(
        &path,
        &[
            ("file", ColType::U64),
            ("stage", ColType::Str),
            ("partial", ColType::Bin),
        ],
    )?;
    let writer = Arc::new(Mutex::new(Some(writer)));
    let w2 = writer.clone();
    let mut opts = cx.options(inputs);
    opts.print_errors = false;
    // Order-free partials (sums) are merged here and saved once per shard;
    // the others are saved per file, for the merge task to fold in order.
    let held: Arc<Mutex<Partials>> = Arc::new(Mutex::new(Vec::new()));
    let h2 = held.clone();
    let save = move |file: u64, partials: &mut Partials| -> Result<(), String> {
        let (mut f, mut st, mut bytes) = (Vec::new(), Vec::new(), Vec::new());
        for (id, p) in ids.iter().zip(partials.iter_mut()) {
            if let Some(p) = p {
                bytes.push(p.save_partial().map_err(|e| format!("stage `{id}`: {e}"))?);
                f.push(file);
                st.push(id.clone());
            }
        }
        let mut w = w2.lock().map_err(|_| "internal: writer lost".to_string())?;
        match w.as_mut() {
            Some(w) => w.write(vec![Col::U64(f), Col::Str(st), Col::Bin(bytes)]),
            None => Err("internal: writer lost".into()),
        }
    };
    let save = Arc::new(save);
    let save2 = save.clone();
    let pool = crate::runner::merge_pool(opts.threads)?;
    profile::profile_files(
        &cx.config,
        &cx.registry,
        opts,
        pool,
        move |n, partials: Partials| {
            let file = files.get(n as usize).or(files.last()).copied().unwrap_or(0);
            let mut held = h2
                .lock()
                .map_err(|_| "internal: partials lost".to_string())?;
            if held.is_empty() {
                held.resize_with(partials.len(), || None);
            }
            let mut now: Partials = Vec::with_capacity(partials.len());
            for (k, p) in partials.into_iter().enumerate() {
                match p {
                    Some(p) if p.merge_is_order_free() => {
                        match held.get_mut(k) {
                            Some(Some(h)) => h.merge(p),
                            Some(slot) => *slot = Some(p),
                            None => return Err("internal: partials lost".into()),
                        }
                        now.push(None);
                    }
                    other => now.push(other),
                }
            }
            save2(file, &mut now)
        },
    )?;
    let mut rest = held
        .lock()
        .map(|mut h| std::mem::take(&mut *h))
        .map_err(|_| "internal: partials lost".to_string())?;
    let first = cx.plan.shards[s].first().copied().unwrap_or(0) as u64;
    save(first, &mut rest)?;
    let w = writer.lock().ok().and_then(|mut w| w.take());
    w.ok_or("internal: writer lost")?.commit()
}

fn task_profile_merge(cx: &Ctx) -> Result<(), String> {
    // Merges and finishing spread their work with rayon: the task's own
    // worker count, not every core of the machine.
    crate::runner::worker_pool(cx.threads)?.install(|| profile_merge_in_pool(cx))
}

fn profile_merge_in_pool(cx: &Ctx) -> Result<(), String> {
    let ids = profile::learner_ids(&cx.config, &cx.registry);
    let mut acc = profile::partials_maker(&cx.config, &cx.registry)()?;
    for s in 0..cx.plan.shards.len() {
        let path = cx
            .plan
            .work
            .join("profile")
            .join(format!("{}.parquet", Ctx::shard_name(s)));
        let what = path.display().to_string();
        read_table(&path, |cols| {
            let mut c = Columns::new(cols, &what);
            let _files = c.u64()?;
            let stages = c.str()?;
            let parts = c.bin()?;
            for (stage, bytes) in stages.into_iter().zip(parts) {
                let stage = stage.unwrap_or_default();
                let k = ids
                    .iter()
                    .position(|i| *i == stage)
                    .ok_or_else(|| format!("{what}: partial of unknown stage `{stage}`"))?;
                if let Some(Some(b)) = acc.get_mut(k) {
                    b.merge_saved(&bytes)
                        .map_err(|e| format!("{what}: stage `{stage}`: {e}"))?;
                }
            }
            Ok(())
        })?;
    }
    let set = profile::finish_partials(&ids, acc)?;
    profile::save(&cx.plan.work.join("profile.bin"), &set)
}

// ---- clean ----

/// One document as it reached dedupe, for the write task.
#[derive(Serialize, Deserialize)]
struct Spilled {
    seq: u64,
    id: String,
    source: String,
    source_index: usize,
    file: String,
    line: u64,
    charset_hint: Option<String>,
    text: String,
    fields: Vec<(String, Box<RawValue>)>,
    attributes: Map<String, Value>,
}

impl Spilled {
    fn of(doc: Document) -> Spilled {
        Spilled {
            seq: doc.seq,
            id: doc.id,
            source: doc.source,
            source_index: doc.source_index,
            file: doc.origin.file.to_string(),
            line: doc.origin.line,
            charset_hint: doc.charset_hint,
            text: doc.text,
            fields: doc.fields,
            attributes: doc.attributes,
        }
    }
    fn into_doc(self) -> Document {
        let mut doc = Document::from_text(self.id, self.text);
        doc.seq = self.seq;
        doc.source = self.source;
        doc.source_index = self.source_index;
        doc.origin = Origin {
            file: Arc::from(self.file.as_str()),
            line: self.line,
        };
        doc.charset_hint = self.charset_hint;
        doc.fields = self.fields;
        doc.attributes = self.attributes;
        doc
    }
}

const DOC_COLS: [(&str, ColType); 5] = [
    ("g", ColType::U64),
    ("dedupe", ColType::U64),
    ("repeated", ColType::U64),
    ("new_text", ColType::OptStr),
    ("doc", ColType::Str),
];
const MEMBER_COLS: [(&str, ColType); 7] = [
    ("inst", ColType::U64),
    ("g", ColType::U64),
    ("id", ColType::Str),
    ("has_exact", ColType::U64),
    ("exact", ColType::U64),
    ("has_group", ColType::U64),
    ("group", ColType::U64),
];
const KEY_COLS: [(&str, ColType); 7] = [
    ("inst", ColType::U64),
    ("band", ColType::U64),
    ("key", ColType::U64),
    ("g", ColType::U64),
    ("group", ColType::U64),
    ("bits", ColType::Bin),
    ("set", ColType::Bin),
];
/// Rows buffered before a row group is written.
const FLUSH_ROWS: usize = 4096;

/// Buffers and writers of one clean task's dedupe outputs.
struct Spiller {
    shard: u64,
    partitions: u64,
    /// Dedupe instance by source index.
    by_source: Vec<Option<usize>>,
    next: u64,
    docs: TableWriter,
    doc_rows: Vec<DocRow>,
    doc_bytes: usize,
    members: TableWriter,
    member_rows: Vec<Member>,
    keys: Vec<TableWriter>,
    key_rows: Vec<Vec<BandRow>>,
}

/// A row of the documents file.
struct DocRow {
    g: u64,
    json: String,
    dedupe: u64,
    new_text: Option<String>,
    repeated: u64,
}

fn partition_of(key: u64, partitions: u64) -> usize {
    (sluicebox_dedupe::minhash::fmix64(key) % partitions.max(1)) as usize
}

impl Spiller {
    fn spill(&mut self, doc: Document, prepared: Option<Prepared>) -> Result<(), String> {
        let g = (self.shard << 40) | self.next;
        self.next += 1;
        let (dedupe, new_text, repeated) = match prepared {
            Some(p) => {
                let sig = p
                    .downcast::<Signature>()
                    .map_err(|_| "internal: dedupe prepared something else".to_string())?;
                let inst = self
                    .by_source
                    .get(doc.source_index)
                    .copied()
                    .flatten()
                    .unwrap_or(0) as u32;
                let (member, rows) = shuffle::map(inst, g, &doc.id, &sig);
                self.member_rows.push(member);
                for r in rows {
                    let p = partition_of(r.key, self.partitions);
                    self.key_rows[p].push(r);
                }
                (1, sig.new_text, sig.repeated as u64)
            }
            None => (0, None, 0),
        };
        let json = serde_json::to_string(&Spilled::of(doc)).map_err(|e| e.to_string())?;
        self.doc_bytes += json.len();
        self.doc_rows.push(DocRow {
            g,
            json,
            dedupe,
            new_text,
            repeated,
        });
        self.flush(false)
    }

    fn flush(&mut self, all: bool) -> Result<(), String> {
        if all || self.doc_bytes > 8 << 20 || self.doc_rows.len() >= FLUSH_ROWS {
            let rows = std::mem::take(&mut self.doc_rows);
            self.docs.write(vec![
                Col::U64(rows.iter().map(|r| r.g).collect()),
                Col::U64(rows.iter().map(|r| r.dedupe).collect()),
                Col::U64(rows.iter().map(|r| r.repeated).collect()),
                Col::OptStr(rows.iter().map(|r| r.new_text.clone()).collect()),
                Col::Str(rows.into_iter().map(|r| r.json).collect()),
            ])?;
            self.doc_bytes = 0;
        }
        if all || self.member_rows.len() >= FLUSH_ROWS {
            let rows = std::mem::take(&mut self.member_rows);
            self.members.write(member_cols(rows))?;
        }
        for (p, rows) in self.key_rows.iter_mut().enumerate() {
            if all || rows.len() >= FLUSH_ROWS {
                // Each write is a sorted run; the pairs task merges them.
                let mut run = std::mem::take(rows);
                run.sort_by(shuffle::row_order);
                self.keys[p].write(key_cols(run))?;
            }
        }
        Ok(())
    }
}

fn member_cols(rows: Vec<Member>) -> Vec<Col> {
    let u = |f: &dyn Fn(&Member) -> u64| Col::U64(rows.iter().map(f).collect());
    vec![
        u(&|m| m.inst as u64),
        u(&|m| m.g),
        Col::Str(rows.iter().map(|m| m.id.clone()).collect()),
        u(&|m| m.exact.is_some() as u64),
        u(&|m| m.exact.unwrap_or(0)),
        u(&|m| m.group.is_some() as u64),
        u(&|m| m.group.unwrap_or(0)),
    ]
}

fn key_cols(rows: Vec<BandRow>) -> Vec<Col> {
    let u = |f: &dyn Fn(&BandRow) -> u64| Col::U64(rows.iter().map(f).collect());
    vec![
        u(&|r| r.inst as u64),
        u(&|r| r.band as u64),
        u(&|r| r.key),
        u(&|r| r.g),
        u(&|r| r.group),
        Col::Bin(
            rows.iter()
                .map(|r| r.bits.iter().flat_map(|w| w.to_le_bytes()).collect())
                .collect(),
        ),
        Col::Bin(
            rows.iter()
                .map(|r| r.set.iter().flat_map(|w| w.to_le_bytes()).collect())
                .collect(),
        ),
    ]
}

/// Per-task stats, as the finish task merges them.
#[derive(Serialize, Deserialize, Default)]
struct TaskStats {
    stats: Stats,
    busy_ns: Vec<u64>,
    wall_seconds: f64,
}

fn save_stats(path: &Path, t: &TaskStats) -> Result<(), String> {
    let text = serde_json::to_string(t).map_err(|e| e.to_string())?;
    write_file(path, text.as_bytes())
}

fn load_stats(path: &Path) -> Result<TaskStats, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: corrupt task stats: {e}", path.display()))
}

fn output_writers(cx: &Ctx, s: usize) -> Result<(OutputWriter, OutputWriter), String> {
    std::fs::create_dir_all(&cx.plan.output)
        .map_err(|e| format!("{}: cannot create: {e}", cx.plan.output.display()))?;
    let compression =
        OutputCompression::parse(&cx.config.output.compression).unwrap_or(OutputCompression::None);
    let format = OutputFormat::parse(&cx.config.output.format).unwrap_or_default();
    let name = Ctx::shard_name(s);
    Ok((
        OutputWriter::new(
            format,
            &cx.plan.output,
            &format!("docs-{name}"),
            compression,
            cx.config.output.max_docs_per_file,
        ),
        OutputWriter::new(
            OutputFormat::Jsonl,
            &cx.plan.output,
            &format!("rejects-{name}"),
            compression,
            0,
        ),
    ))
}

/// A task's chain: the built plan's phases, the stage ids and the state
/// the runner's workers share.
struct Runtime {
    pars: Vec<crate::runner::ParallelPart>,
    ords: Vec<Option<crate::runner::OrderedPart>>,
    stage_ids: Vec<String>,
    shared: Arc<Shared>,
}

impl Runtime {
    /// `learning`: leave the learning stages out (no profile needed).
    fn build(cx: &Ctx, learning: bool) -> Result<Runtime, String> {
        let profiles = if learning {
            ProfileSet::new()
        } else {
            cx.profiles()?
        };
        let plan = Plan::build_on(cx.threads, &cx.config, &cx.registry, &profiles, learning)?;
        let stage_ids: Vec<String> = plan.stages.iter().map(|st| st.id.clone()).collect();
        let shared = Arc::new(Shared::new(
            &cx.config,
            stage_ids.clone(),
            plan.decodes.clone(),
        ));
        let (pars, ords) = phases_of(plan);
        Ok(Runtime {
            pars,
            ords,
            stage_ids,
            shared,
        })
    }
}

/// A sink with empty stats for every stage, shared with the sink thread.
fn sink_of(
    stage_ids: &[String],
    docs: Option<OutputWriter>,
    rejects: Option<OutputWriter>,
) -> TaskSink {
    let mut stats = Stats::default();
    for id in stage_ids {
        stats.stage_mut(id);
    }
    let sink = Sink::new(docs, rejects, stats, stage_ids.len(), true);
    TaskSink(Arc::new(Mutex::new(Some(sink))))
}

/// The sink of a task's run, written on the sink thread, taken back after.
#[derive(Clone)]
struct TaskSink(Arc<Mutex<Option<Sink>>>);

impl TaskSink {
    /// The function the engine calls with each batch, in order.
    fn writer(&self, shared: &Arc<Shared>) -> impl FnMut(Batch) + Send + 'static {
        let (me, shared) = (self.clone(), shared.clone());
        move |b| {
            if let Ok(mut g) = me.0.lock() {
                if let Some(s) = g.as_mut() {
                    s.write(&shared, b);
                }
            }
        }
    }

    /// Set the spill of a cut chain.
    fn set_spill(&self, spill: crate::runner::Spill) {
        if let Ok(mut g) = self.0.lock() {
            if let Some(s) = g.as_mut() {
                s.spill = Some(spill);
            }
        }
    }

    /// The sink after the run, unless the run failed.
    fn take(&self, shared: &Shared) -> Result<Sink, String> {
        if let Some(f) = shared.fatal.lock().ok().and_then(|f| f.clone()) {
            return Err(f);
        }
        self.0
            .lock()
            .ok()
            .and_then(|mut g| g.take())
            .ok_or_else(|| "internal: output writer lost".to_string())
    }
}

fn task_clean(cx: &Ctx, s: usize, started: Instant) -> Result<(), String> {
    let Runtime {
        pars,
        ords,
        stage_ids,
        shared,
    } = Runtime::build(cx, false)?;
    let rt_ids = stage_ids.clone();
    let n_stages = stage_ids.len();
    let name = Ctx::shard_name(s);
    let clean_dir = cx.dir("clean")?;
    let cut = cx.chain.dedupe.is_some();
    let (sink, spiller) = if cut {
        let rejects = OutputWriter::new(
            OutputFormat::Jsonl,
            &clean_dir,
            &format!("{name}.rejects"),
            OutputCompression::None,
            0,
        );
        let sink = sink_of(&rt_ids, None, Some(rejects));
        let keys_dir = cx.dir("keys")?;
        let by_source = ords
            .first()
            .and_then(|o| o.as_ref())
            .map(|o| o.by_source.clone())
            .unwrap_or_default();
        let spiller = Spiller {
            shard: s as u64,
            partitions: cx.plan.partitions,
            by_source,
            next: 0,
            docs: TableWriter::create(&clean_dir.join(format!("{name}.docs.parquet")), &DOC_COLS)?,
            doc_rows: Vec::new(),
            doc_bytes: 0,
            members: TableWriter::create(
                &clean_dir.join(format!("{name}.members.parquet")),
                &MEMBER_COLS,
            )?,
            member_rows: Vec::new(),
            keys: (0..cx.plan.partitions)
                .map(|p| {
                    TableWriter::create(&keys_dir.join(format!("{name}-{p:05}.parquet")), &KEY_COLS)
                })
                .collect::<Result<_, _>>()?,
            key_rows: vec![Vec::new(); cx.plan.partitions as usize],
        };
        let spiller = Arc::new(Mutex::new(Some(spiller)));
        let sp = spiller.clone();
        sink.set_spill(Box::new(move |doc, prepared| match sp.lock() {
            Ok(mut g) => match g.as_mut() {
                Some(sp) => sp.spill(doc, prepared),
                None => Err("internal: spill lost".into()),
            },
            Err(_) => Err("internal: spill lost".into()),
        }));
        (sink, Some(spiller))
    } else {
        let (docs, rejects) = output_writers(cx, s)?;
        (sink_of(&rt_ids, Some(docs), Some(rejects)), None)
    };
    // Only the part before dedupe runs here (all of it without dedupe).
    let mut phases = Vec::new();
    for part in pars.into_iter().take(1) {
        let sh = shared.clone();
        let parallel: ParallelFn<Batch> = Arc::new(move |b: &mut Batch| part.process(&sh, b));
        phases.push(Phase {
            parallel,
            ordered: None,
        });
    }
    let inputs = cx.shard_inputs(s)?;
    let opts = cx.options(inputs);
    let pool = crate::runner::worker_pool(opts.threads)?;
    crate::runner::drive(
        &cx.config,
        opts,
        &shared,
        n_stages,
        phases,
        ReadFrom::default(),
        pool,
        sink.writer(&shared),
    )?;
    let Sink {
        docs,
        rejects,
        stats,
        busy_ns,
        ..
    } = sink.take(&shared)?;
    if let Some(sp) = spiller.and_then(|sp| sp.lock().ok().and_then(|mut g| g.take())) {
        let mut sp = sp;
        sp.flush(true)?;
        sp.docs.commit()?;
        cx.halfway();
        sp.members.commit()?;
        for k in sp.keys {
            k.commit()?;
        }
    }
    for w in [docs, rejects].into_iter().flatten() {
        w.finish()?;
    }
    if !cut {
        cx.halfway();
    }
    save_stats(
        &clean_dir.join(format!("{name}.stats.json")),
        &TaskStats {
            stats,
            busy_ns,
            wall_seconds: started.elapsed().as_secs_f64(),
        },
    )
}

// ---- pairs ----

fn settings(cx: &Ctx) -> impl Fn(u32) -> Option<(sluicebox_dedupe::minhash::SigParams, f64)> + '_ {
    |inst| {
        cx.chain
            .dedupe_configs
            .get(inst as usize)
            .map(|c| (c.sig_params(), c.threshold))
    }
}

fn words<const N: usize>(bytes: &[u8], what: &str) -> Result<Vec<[u8; N]>, String> {
    if !bytes.len().is_multiple_of(N) {
        return Err(format!("{what}: truncated signature"));
    }
    Ok(bytes
        .chunks_exact(N)
        .map(|c| {
            let mut a = [0u8; N];
            a.copy_from_slice(c);
            a
        })
        .collect())
}

/// Band rows of one batch of a key file.
fn band_rows(cols: Vec<Col>, what: &str) -> Result<Vec<BandRow>, String> {
    let mut c = Columns::new(cols, what);
    let inst = c.u64()?;
    let band = c.u64()?;
    let key = c.u64()?;
    let g = c.u64()?;
    let group = c.u64()?;
    let bits = c.bin()?;
    let sets = c.bin()?;
    (0..inst.len())
        .map(|i| {
            Ok(BandRow {
                inst: inst[i] as u32,
                band: band[i] as u32,
                key: key[i],
                g: g[i],
                group: group[i],
                bits: words::<8>(&bits[i], what)?
                    .into_iter()
                    .map(u64::from_le_bytes)
                    .collect(),
                set: words::<4>(&sets[i], what)?
                    .into_iter()
                    .map(u32::from_le_bytes)
                    .collect(),
            })
        })
        .collect()
}

/// One sorted run of a key file, read a few rows at a time.
struct Run {
    reader: sluicebox_io::table::RunReader,
    rows: std::collections::VecDeque<BandRow>,
    what: String,
}

impl Run {
    fn head(&mut self) -> Result<Option<&BandRow>, String> {
        if self.rows.is_empty() {
            if let Some(cols) = self.reader.next_rows()? {
                self.rows = band_rows(cols, &self.what)?.into();
            }
        }
        Ok(self.rows.front())
    }
}

/// A run's head in the merge heap: (inst, band, key, g) then the run.
type HeadKey = std::cmp::Reverse<(u32, u32, u64, u64, usize)>;

/// Rows of many sorted runs in [`shuffle::row_order`]: a k-way merge.
struct Merge {
    runs: Vec<Run>,
    heap: std::collections::BinaryHeap<HeadKey>,
}

impl Merge {
    fn new(mut runs: Vec<Run>) -> Result<Merge, String> {
        let mut heap = std::collections::BinaryHeap::new();
        for (i, run) in runs.iter_mut().enumerate() {
            if let Some(r) = run.head()? {
                heap.push(std::cmp::Reverse((r.inst, r.band, r.key, r.g, i)));
            }
        }
        Ok(Merge { runs, heap })
    }
}

impl Iterator for Merge {
    type Item = Result<BandRow, String>;
    fn next(&mut self) -> Option<Self::Item> {
        let std::cmp::Reverse((.., i)) = self.heap.pop()?;
        let run = self.runs.get_mut(i)?;
        let row = run.rows.pop_front()?;
        match run.head() {
            Ok(Some(r)) => self
                .heap
                .push(std::cmp::Reverse((r.inst, r.band, r.key, r.g, i))),
            Ok(None) => {}
            Err(e) => return Some(Err(e)),
        }
        Some(Ok(row))
    }
}

fn task_pairs(cx: &Ctx, p: usize) -> Result<(), String> {
    // Every shard's key file of this partition is a series of sorted runs;
    // merging them streams the buckets in order, one in memory at a time.
    let mut runs = Vec::new();
    for s in 0..cx.plan.shards.len() {
        let path = cx
            .plan
            .work
            .join("keys")
            .join(format!("{}-{p:05}.parquet", Ctx::shard_name(s)));
        for reader in sluicebox_io::table::read_runs(&path, 256)? {
            runs.push(Run {
                reader,
                rows: Default::default(),
                what: path.display().to_string(),
            });
        }
    }
    let pairs = shuffle::reduce_sorted(Merge::new(runs)?, settings(cx))?;
    let path = cx.dir("pairs")?.join(format!("{p:05}.parquet"));
    let mut w = TableWriter::create(
        &path,
        &[
            ("inst", ColType::U64),
            ("a", ColType::U64),
            ("b", ColType::U64),
            ("sim", ColType::F64),
        ],
    )?;
    w.write(vec![
        Col::U64(pairs.iter().map(|x| x.inst as u64).collect()),
        Col::U64(pairs.iter().map(|x| x.a).collect()),
        Col::U64(pairs.iter().map(|x| x.b).collect()),
        Col::F64(pairs.iter().map(|x| x.sim).collect()),
    ])?;
    w.commit()
}

// ---- decide ----

fn task_decide(cx: &Ctx) -> Result<(), String> {
    let mut pairs = Vec::new();
    for p in 0..cx.plan.partitions {
        let path = cx.plan.work.join("pairs").join(format!("{p:05}.parquet"));
        let what = path.display().to_string();
        read_table(&path, |cols| {
            let mut c = Columns::new(cols, &what);
            let inst = c.u64()?;
            let a = c.u64()?;
            let b = c.u64()?;
            let sim = c.f64()?;
            for i in 0..inst.len() {
                pairs.push(Pair {
                    inst: inst[i] as u32,
                    a: a[i],
                    b: b[i],
                    sim: sim[i],
                });
            }
            Ok(())
        })?;
    }
    let mut greedy = shuffle::Greedy::new(pairs);
    let dir = cx.dir("decisions")?;
    for s in 0..cx.plan.shards.len() {
        let name = Ctx::shard_name(s);
        let path = cx
            .plan
            .work
            .join("clean")
            .join(format!("{name}.members.parquet"));
        let what = path.display().to_string();
        let mut out = TableWriter::create(
            &dir.join(format!("{name}.parquet")),
            &[
                ("g", ColType::U64),
                ("kind", ColType::U64),
                ("of", ColType::Str),
                ("sim", ColType::F64),
            ],
        )?;
        read_table(&path, |cols| {
            let mut c = Columns::new(cols, &what);
            let inst = c.u64()?;
            let g = c.u64()?;
            let id = c.str()?;
            let has_exact = c.u64()?;
            let exact = c.u64()?;
            let has_group = c.u64()?;
            let group = c.u64()?;
            let mut rows: (Vec<u64>, Vec<u64>, Vec<String>, Vec<f64>) = Default::default();
            for i in 0..inst.len() {
                let m = Member {
                    inst: inst[i] as u32,
                    g: g[i],
                    id: id[i].clone().unwrap_or_default(),
                    exact: (has_exact[i] == 1).then_some(exact[i]),
                    group: (has_group[i] == 1).then_some(group[i]),
                };
                let (kind, of, sim) = match greedy.judge(&m) {
                    Judgement::Keep => continue,
                    Judgement::Duplicate { of } => (1, of, 1.0),
                    Judgement::NearDuplicate { of, similarity } => (2, of, similarity),
                };
                rows.0.push(m.g);
                rows.1.push(kind);
                rows.2.push(of);
                rows.3.push(sim);
            }
            out.write(vec![
                Col::U64(rows.0),
                Col::U64(rows.1),
                Col::Str(rows.2),
                Col::F64(rows.3),
            ])
        })?;
        out.commit()?;
        if s == 0 {
            cx.halfway();
        }
    }
    Ok(())
}

// ---- write ----

fn task_write(cx: &Ctx, s: usize, started: Instant) -> Result<(), String> {
    // The stages before dedupe ran in the clean task; build the learning
    // ones (and load the profile) only if one comes after dedupe.
    let learner_after = cx.chain.dedupe.is_some_and(|d| {
        cx.config
            .stages
            .iter()
            .skip(d + 1)
            .any(|e| cx.registry.get(&e.type_name).is_some_and(|f| f.learns()))
    });
    let Runtime {
        pars,
        ords,
        stage_ids,
        shared,
    } = Runtime::build(cx, !learner_after)?;
    let n_stages = stage_ids.len();
    let name = Ctx::shard_name(s);
    // Decisions of this shard, by document number.
    let mut decisions: Vec<(u64, Judgement)> = Vec::new();
    let dpath = cx
        .plan
        .work
        .join("decisions")
        .join(format!("{name}.parquet"));
    let what = dpath.display().to_string();
    read_table(&dpath, |cols| {
        let mut c = Columns::new(cols, &what);
        let g = c.u64()?;
        let kind = c.u64()?;
        let of = c.str()?;
        let sim = c.f64()?;
        for i in 0..g.len() {
            let of = of[i].clone().unwrap_or_default();
            decisions.push((
                g[i],
                if kind[i] == 1 {
                    Judgement::Duplicate { of }
                } else {
                    Judgement::NearDuplicate {
                        of,
                        similarity: sim[i],
                    }
                },
            ));
        }
        Ok(())
    })?;
    decisions.sort_by_key(|d| d.0);
    // The ordered step replays the decisions; the stages after it run as usual.
    let mut phases: Vec<Phase<Batch>> = Vec::new();
    let noop: ParallelFn<Batch> = Arc::new(|_b: &mut Batch| {});
    let mut ords = ords.into_iter();
    let mut first = ords
        .next()
        .flatten()
        .ok_or("internal: no dedupe step to replay")?;
    for inst in first.instances.iter_mut() {
        *inst = OrderedInstance::Decide(Box::new(Replayer));
    }
    let sh = shared.clone();
    phases.push(Phase {
        parallel: noop,
        ordered: Some(Box::new(move |b: &mut Batch| first.process(&sh, b)) as OrderedFn<Batch>),
    });
    for (part, ord) in pars.into_iter().skip(1).zip(ords) {
        if ord.is_some() {
            return Err("internal: a second ordered stage after dedupe".into());
        }
        let sh = shared.clone();
        phases.push(Phase {
            parallel: Arc::new(move |b: &mut Batch| part.process(&sh, b)),
            ordered: None,
        });
    }
    let (docs, mut rejects) = output_writers(cx, s)?;
    // Rejects of the clean task come first (they are earlier in the chain).
    let clean_rejects = cx
        .plan
        .work
        .join("clean")
        .join(format!("{name}.rejects.jsonl"));
    let text = std::fs::read(&clean_rejects)
        .map_err(|e| format!("{}: cannot read: {e}", clean_rejects.display()))?;
    for line in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        rejects.write_record(line)?;
    }
    let sink = sink_of(&stage_ids, Some(docs), Some(rejects));
    let docs_path = cx
        .plan
        .work
        .join("clean")
        .join(format!("{name}.docs.parquet"));
    let batch_size = cx.plan.batch_size.max(1);
    let source_err: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
    let src_err = source_err.clone();
    let sh_src = shared.clone();
    engine::run(
        crate::runner::worker_pool(cx.threads)?,
        (if cx.config.run.in_flight == 0 {
            4 * cx.threads.max(1)
        } else {
            cx.config.run.in_flight
        })
        .max(2),
        phases,
        move |send| {
            let mut index = 0u64;
            let mut decisions = decisions.into_iter().peekable();
            let what = docs_path.display().to_string();
            let new_batch = |index: u64| Batch {
                index,
                slots: Vec::new(),
                stats: Stats::default(),
                busy_ns: vec![0; n_stages],
                input_bytes: 0,
                partials: Vec::new(),
                file_done: None,
            };
            let mut batch = new_batch(0);
            let r = read_table(&docs_path, |cols| {
                let mut c = Columns::new(cols, &what);
                let g = c.u64()?;
                let dedupe = c.u64()?;
                let repeated = c.u64()?;
                let new_text = c.str()?;
                let doc = c.str()?;
                for (i, (json, new_text)) in doc.into_iter().zip(new_text).enumerate() {
                    let spilled: Spilled =
                        serde_json::from_str(json.as_deref().unwrap_or_default())
                            .map_err(|e| format!("{what}: row {i}: {e}"))?;
                    let prepared: Option<Prepared> = (dedupe[i] == 1).then(|| {
                        while decisions.peek().is_some_and(|d| d.0 < g[i]) {
                            decisions.next();
                        }
                        let judgement = match decisions.peek() {
                            Some(d) if d.0 == g[i] => {
                                decisions.next().map(|d| d.1).unwrap_or(Judgement::Keep)
                            }
                            _ => Judgement::Keep,
                        };
                        Box::new(Replayed {
                            judgement,
                            sig: Signature {
                                new_text,
                                repeated: repeated[i] as usize,
                                exact: None,
                                near: None,
                                paragraphs: Vec::new(),
                            },
                        }) as Prepared
                    });
                    batch.slots.push(Slot::Live(spilled.into_doc(), prepared));
                    if batch.slots.len() >= batch_size {
                        index += 1;
                        let full = std::mem::replace(&mut batch, new_batch(index));
                        if sh_src.cancel.load(Ordering::SeqCst) || !send(full) {
                            return Err("stopped".into());
                        }
                    }
                }
                Ok(())
            });
            match r {
                Ok(()) => {
                    if !batch.slots.is_empty() {
                        send(batch);
                    }
                }
                Err(e) if e == "stopped" => {}
                Err(e) => {
                    if let Ok(mut s) = src_err.lock() {
                        *s = Some(e);
                    }
                }
            }
        },
        sink.writer(&shared),
    );
    if let Some(e) = source_err.lock().ok().and_then(|mut e| e.take()) {
        return Err(e);
    }
    let Sink {
        docs,
        rejects,
        stats,
        busy_ns,
        ..
    } = sink.take(&shared)?;
    let mut first = true;
    for w in [docs, rejects].into_iter().flatten() {
        w.finish()?;
        if first {
            cx.halfway();
            first = false;
        }
    }
    save_stats(
        &cx.dir("write")?.join(format!("{name}.stats.json")),
        &TaskStats {
            stats,
            busy_ns,
            wall_seconds: started.elapsed().as_secs_f64(),
        },
    )
}

// ---- finish ----

fn task_finish(cx: &Ctx) -> Result<(), String> {
    let plan = Plan::build(&cx.config, &cx.registry, &ProfileSet::new(), true)
        .map_err(|e| e.to_string())?;
    let stage_meta: Vec<(String, String, &'static str)> = plan
        .stages
        .iter()
        .map(|s| (s.id.clone(), s.type_name.clone(), s.placement))
        .collect();
    let mut stats = Stats::default();
    for (id, _, _) in &stage_meta {
        stats.stage_mut(id);
    }
    let mut busy = vec![0u64; stage_meta.len()];
    let mut wall = 0.0;
    for s in 0..cx.plan.shards.len() {
        let name = Ctx::shard_name(s);
        let mut parts = vec![cx
            .plan
            .work
            .join("clean")
            .join(format!("{name}.stats.json"))];
        if cx.chain.dedupe.is_some() {
            parts.push(
                cx.plan
                    .work
                    .join("write")
                    .join(format!("{name}.stats.json")),
            );
        }
        for p in parts {
            let t = load_stats(&p)?;
            stats += &t.stats;
            for (a, b) in busy.iter_mut().zip(&t.busy_ns) {
                *a += b;
            }
            wall += t.wall_seconds;
        }
    }
    if !stats.balanced() {
        return Err(format!(
            "internal: accounting does not balance ({:?}); please report this",
            stats.totals
        ));
    }
    let busy: Vec<(String, f64)> = stage_meta
        .iter()
        .map(|m| m.0.clone())
        .zip(busy.iter().map(|ns| *ns as f64 / 1e9))
        .collect();
    let doc = stats_json(
        &stats,
        &stage_meta,
        &busy,
        wall,
        cx.threads,
        &cx.config,
        &format!(
            "sluicebox run-plan {}",
            cx.plan.work.join("plan.json").display()
        ),
    );
    let text = serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(&cx.plan.output)
        .map_err(|e| format!("{}: cannot create: {e}", cx.plan.output.display()))?;
    write_file(
        &cx.plan.output.join("stats.json"),
        format!("{text}\n").as_bytes(),
    )
}

// ---- run-plan ----

/// What `run-plan` did.
#[derive(Debug, Default)]
pub struct PlanRun {
    pub ran: usize,
    pub skipped: usize,
}

/// Run a plan on this machine (`sluicebox run-plan`): each stage's tasks as
/// processes of their own argv, `workers` CPUs shared among them, a
/// barrier between stages. `say` gets one line per stage.
pub fn run_plan(
    plan_path: &Path,
    workers: usize,
    say: &mut dyn FnMut(&str),
) -> Result<PlanRun, String> {
    let plan = load_plan(plan_path)?;
    let workers = workers.max(1);
    let mut total = PlanRun::default();
    for stage in &plan.stages {
        let t0 = Instant::now();
        let todo: Vec<&TaskSpec> = stage.tasks.iter().filter(|t| !t.marker.exists()).collect();
        let skipped = stage.tasks.len() - todo.len();
        let at_once = workers.min(todo.len()).max(1);
        let threads = (workers / at_once).max(1);
        let mut queue = todo.iter();
        let mut running: Vec<(&TaskSpec, std::process::Child)> = Vec::new();
        let mut failed: Option<String> = None;
        loop {
            while failed.is_none() && running.len() < at_once {
                let Some(t) = queue.next() else { break };
                let (prog, args) = t
                    .argv
                    .split_first()
                    .ok_or_else(|| format!("task {}: empty argv", t.id))?;
                let child = std::process::Command::new(prog)
                    .args(args)
                    .env("RAYON_NUM_THREADS", threads.to_string())
                    .spawn()
                    .map_err(|e| format!("task {}: cannot start {prog}: {e}", t.id))?;
                running.push((t, child));
            }
            if running.is_empty() {
                break;
            }
            let (t, mut child) = running.remove(0);
            let status = child.wait().map_err(|e| format!("task {}: {e}", t.id))?;
            if !status.success() && failed.is_none() {
                failed = Some(format!(
                    "task {} failed ({status}); fix the cause above and run the plan again: finished tasks are skipped",
                    t.id
                ));
            }
        }
        if let Some(f) = failed {
            return Err(f);
        }
        say(&format!(
            "stage {}: {} ran, {} skipped, {:.1} s",
            stage.name,
            todo.len(),
            skipped,
            t0.elapsed().as_secs_f64()
        ));
        total.ran += todo.len();
        total.skipped += skipped;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::balanced_runs;

    #[test]
    fn shards_are_consecutive_nonempty_and_balanced_by_size() {
        // The web corpus's file sizes (KB on disk): one big file among small.
        let sizes = [
            839, 709, 656, 4364, 168, 93, 6087, 21, 24, 1531, 647, 796, 4147,
        ];
        for n in 1..=sizes.len() {
            let runs = balanced_runs(&sizes, n);
            assert_eq!(runs.len(), n);
            let flat: Vec<usize> = runs.iter().flatten().copied().collect();
            assert_eq!(flat, (0..sizes.len()).collect::<Vec<_>>());
            assert!(runs.iter().all(|r| !r.is_empty()));
        }
        let two = balanced_runs(&sizes, 2);
        let bytes: Vec<u64> = two
            .iter()
            .map(|r| r.iter().map(|&i| sizes[i]).sum())
            .collect();
        assert!(bytes[0].abs_diff(bytes[1]) < 6087, "{bytes:?}");
        assert_eq!(balanced_runs(&[5, 5], 2), vec![vec![0], vec![1]]);
        assert_eq!(balanced_runs(&[1], 3), vec![vec![0]]);
    }
}
