//! `sluicebox bench`: the pipeline's throughput, per stage, for one or more
//! thread counts. It calls the same profile pass and runner as `run`, with
//! the output discarded, so the figures are the product's own.

use serde_json::{json, Value};
use sluicebox_pipeline::config::Config;
use sluicebox_pipeline::plan::{Plan, ProfileSet};
use sluicebox_pipeline::registry::Registry;
use sluicebox_pipeline::runner::{RunOptions, RunSummary};
use std::fmt::Write;
use std::sync::Arc;
use std::time::Instant;

/// One measured run at one thread count.
pub struct Measured {
    pub threads: usize,
    /// Seconds of the profile pass (0 when the config learns nothing or a
    /// profile was given).
    pub profile_seconds: f64,
    pub summary: RunSummary,
    /// Peak resident memory of this run, in bytes (Linux; None elsewhere).
    pub peak_rss: Option<u64>,
}

impl Measured {
    pub fn wall(&self) -> f64 {
        self.profile_seconds + self.summary.wall_seconds
    }
}

/// Runs the profile pass (unless `given` holds profiles) and the cleaning
/// pass with `threads` workers; `make_opts` builds fresh options each time.
pub fn measure(
    config: &Config,
    registry: &Arc<Registry>,
    given: Option<&ProfileSet>,
    threads: usize,
    make_opts: &dyn Fn() -> anyhow::Result<RunOptions>,
) -> anyhow::Result<Measured> {
    reset_peak_rss();
    let mut profile_seconds = 0.0;
    let profiles = match given {
        Some(p) => p.clone(),
        None if Plan::learns(config, registry) => {
            let mut opts = make_opts()?;
            opts.threads = threads;
            opts.print_errors = false;
            let t = Instant::now();
            let p = sluicebox_pipeline::profile::build_profiles(config, registry, opts)
                .map_err(anyhow::Error::msg)?;
            profile_seconds = t.elapsed().as_secs_f64();
            p
        }
        None => ProfileSet::new(),
    };
    let plan =
        Plan::build(config, registry, &profiles, false).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut opts = make_opts()?;
    opts.threads = threads;
    opts.out_dir = None;
    opts.print_errors = false;
    let summary = sluicebox_pipeline::run(config, plan, opts);
    if let Some(f) = &summary.fatal {
        anyhow::bail!("the run stopped: {f}");
    }
    Ok(Measured {
        threads: summary.threads,
        profile_seconds,
        summary,
        peak_rss: peak_rss_bytes(),
    })
}

fn mbs(bytes: u64, secs: f64) -> f64 {
    bytes as f64 / 1e6 / secs.max(1e-9)
}

/// The per-stage table of one run, and its total line.
pub fn table(m: &Measured, base: Option<&Measured>) -> String {
    let s = &m.summary;
    let mut out = String::new();
    let busy_total: f64 = s.busy_seconds.iter().map(|(_, v)| v).sum();
    let _ = writeln!(
        out,
        "{:<16} {:>10} {:>10} {:>9} {:>8} {:>7}",
        "stage", "docs/s", "MB/s", "busy s", "share", "MB in"
    );
    for (id, st) in &s.stats.stages {
        let busy = busy_of(s, id);
        let _ = writeln!(
            out,
            "{:<16} {:>10.0} {:>10.1} {:>9.3} {:>7.1}% {:>7.1}",
            id,
            st.docs_in as f64 / busy.max(1e-9),
            mbs(st.bytes_in, busy),
            busy,
            100.0 * busy / busy_total.max(1e-9),
            st.bytes_in as f64 / 1e6
        );
    }
    let t = &s.stats.totals;
    let threads = m.threads.max(1);
    let _ = writeln!(
        out,
        "input {:.1} MB, {} docs; {} threads; profile pass {:.2}s ({:.1} MB/s), cleaning pass {:.2}s ({:.1} MB/s); \
         total {:.2}s = {:.1} MB/s, {:.1} MB/s per thread, {:.0} docs/s; peak RSS {}{}",
        t.bytes_in as f64 / 1e6,
        t.read,
        threads,
        m.profile_seconds,
        if m.profile_seconds > 0.0 { mbs(t.bytes_in, m.profile_seconds) } else { 0.0 },
        s.wall_seconds,
        mbs(t.bytes_in, s.wall_seconds),
        m.wall(),
        mbs(t.bytes_in, m.wall()),
        mbs(t.bytes_in, m.wall()) / threads as f64,
        t.read as f64 / m.wall().max(1e-9),
        m.peak_rss.map_or("n/a".into(), |b| format!("{:.1} MB", b as f64 / 1e6)),
        match base {
            Some(b) if b.threads != m.threads => format!(
                "; speedup {:.2}x over {} thread{}",
                b.wall() / m.wall().max(1e-9),
                b.threads,
                if b.threads == 1 { "" } else { "s" }
            ),
            _ => String::new(),
        }
    );
    out
}

fn busy_of(s: &RunSummary, id: &str) -> f64 {
    s.busy_seconds
        .iter()
        .find(|(k, _)| k == id)
        .map_or(0.0, |(_, v)| *v)
}

/// The run as JSON, for `--json`.
pub fn to_json(m: &Measured, base: Option<&Measured>) -> Value {
    let s = &m.summary;
    let t = &s.stats.totals;
    let stages: Vec<Value> = s
        .stats
        .stages
        .iter()
        .map(|(id, st)| {
            let busy = busy_of(s, id);
            json!({
                "stage": id,
                "docs_in": st.docs_in,
                "bytes_in": st.bytes_in,
                "busy_seconds": busy,
                "docs_per_second": st.docs_in as f64 / busy.max(1e-9),
                "mb_per_second": mbs(st.bytes_in, busy),
            })
        })
        .collect();
    json!({
        "threads": m.threads,
        "input_bytes": t.bytes_in,
        "input_docs": t.read,
        "profile_seconds": m.profile_seconds,
        "clean_seconds": s.wall_seconds,
        "total_seconds": m.wall(),
        "mb_per_second": mbs(t.bytes_in, m.wall()),
        "mb_per_second_per_thread": mbs(t.bytes_in, m.wall()) / m.threads.max(1) as f64,
        "clean_mb_per_second": mbs(t.bytes_in, s.wall_seconds),
        "peak_rss_bytes": m.peak_rss,
        "speedup": base.map(|b| b.wall() / m.wall().max(1e-9)),
        "stages": stages,
    })
}

/// Resets the kernel's peak-RSS mark for this process, so each run of a
/// sweep reports its own peak (Linux 4.0+; elsewhere a no-op).
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
