//! `sluicebox bench`: the pipeline's throughput, per stage, for one or more
//! thread counts. It calls the same profile pass and runner as `run`, with
//! the output discarded, so the figures are the product's own.

use serde_json::{json, Value};
use sluicebox_pipeline::config::Config;
use sluicebox_pipeline::plan::{Plan, ProfileSet};
use sluicebox_pipeline::profile::PassTimes;
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
    /// Where the profile pass spent its time, per stage.
    pub profile_times: PassTimes,
    /// Seconds building the cleaning pass's stages with the profiles
    /// (loading tables, laying out the spinner's joint counts): start-up
    /// that every run waits for.
    pub build_seconds: f64,
    pub summary: RunSummary,
    /// Peak resident memory of this run, in bytes (Linux; None elsewhere).
    pub peak_rss: Option<u64>,
}

impl Measured {
    pub fn wall(&self) -> f64 {
        self.profile_seconds + self.build_seconds + self.summary.wall_seconds
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
    let mut profile_times = PassTimes::default();
    let profiles = match given {
        Some(p) => p.clone(),
        None if Plan::learns(config, registry) => {
            let mut opts = make_opts()?;
            opts.threads = threads;
            opts.print_errors = false;
            let t = Instant::now();
            let (p, times) =
                sluicebox_pipeline::profile::build_profiles_timed(config, registry, opts)
                    .map_err(anyhow::Error::msg)?;
            profile_seconds = t.elapsed().as_secs_f64();
            profile_times = times;
            p
        }
        None => ProfileSet::new(),
    };
    let t = Instant::now();
    let plan =
        Plan::build_on(threads, config, registry, &profiles, false).map_err(anyhow::Error::msg)?;
    let build_seconds = t.elapsed().as_secs_f64();
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
        profile_times,
        build_seconds,
        summary,
        peak_rss: peak_rss_bytes(),
    })
}

fn mbs(bytes: u64, secs: f64) -> f64 {
    bytes as f64 / 1e6 / secs.max(1e-9)
}

/// One row of the per-stage table: (pass, stage, docs in, bytes in, busy s).
type Row = (&'static str, String, u64, u64, f64);

/// The table's rows: the profile pass's stages (a learning stage as
/// "id (learn)", observing on the workers, and "id (merge)", folding
/// partials in batch order, the pass's ordered path), then the cleaning
/// pass's.
/// Shares are of the busy time of both passes together.
fn rows(m: &Measured) -> Vec<Row> {
    let mut rows: Vec<Row> = Vec::new();
    for st in &m.profile_times.stages {
        let id = if st.learns {
            format!("{} (learn)", st.id)
        } else {
            st.id.clone()
        };
        rows.push(("profile", id, st.docs_in, st.bytes_in, st.busy_seconds));
        if st.learns {
            let merge = format!("{} (merge)", st.id);
            rows.push(("profile", merge, 0, 0, st.merge_seconds));
        }
    }
    let s = &m.summary;
    for (id, st) in &s.stats.stages {
        rows.push(("clean", id.clone(), st.docs_in, st.bytes_in, busy_of(s, id)));
    }
    rows
}

/// The per-stage table of one run, and its total line.
pub fn table(m: &Measured, base: Option<&Measured>) -> String {
    let s = &m.summary;
    let mut out = String::new();
    let rows = rows(m);
    let busy_total: f64 = rows.iter().map(|r| r.4).sum();
    let _ = writeln!(
        out,
        "{:<8} {:<22} {:>10} {:>10} {:>9} {:>8} {:>7}",
        "pass", "stage", "docs/s", "MB/s", "busy s", "share", "MB in"
    );
    for (pass, id, docs, bytes, busy) in &rows {
        let rate = |v: String| if *docs > 0 { v } else { "-".into() };
        let _ = writeln!(
            out,
            "{:<8} {:<22} {:>10} {:>10} {:>9.3} {:>7.1}% {:>7}",
            pass,
            id,
            rate(format!("{:.0}", *docs as f64 / busy.max(1e-9))),
            rate(format!("{:.1}", mbs(*bytes, *busy))),
            busy,
            100.0 * busy / busy_total.max(1e-9),
            rate(format!("{:.1}", *bytes as f64 / 1e6))
        );
    }
    let t = &s.stats.totals;
    let threads = m.threads.max(1);
    let _ = writeln!(
        out,
        "input {:.1} MB, {} docs; {} threads; {}, stage build {:.2}s, \
         cleaning pass {:.2}s ({:.1} MB/s); total {:.2}s = {:.1} MB/s, {:.1} MB/s per thread, {:.0} docs/s; peak RSS {}{}",
        t.bytes_in as f64 / 1e6,
        t.read,
        threads,
        if m.profile_seconds > 0.0 {
            format!(
                "profile pass {:.2}s ({:.1} MB/s)",
                m.profile_seconds,
                mbs(t.bytes_in, m.profile_seconds)
            )
        } else {
            // A profile was given, or the config learns nothing.
            "no profile pass".to_string()
        },
        m.build_seconds,
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
    let stages: Vec<Value> = rows(m)
        .into_iter()
        .map(|(pass, id, docs, bytes, busy)| {
            json!({
                "pass": pass,
                "stage": id,
                "docs_in": docs,
                "bytes_in": bytes,
                "busy_seconds": busy,
                "docs_per_second": docs as f64 / busy.max(1e-9),
                "mb_per_second": mbs(bytes, busy),
            })
        })
        .collect();
    json!({
        "threads": m.threads,
        "input_bytes": t.bytes_in,
        "input_docs": t.read,
        "profile_seconds": m.profile_seconds,
        "build_seconds": m.build_seconds,
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
