//! Pathological inputs through the whole default pipeline at two sizes, to
//! show each stage's cost stays linear: 100 MB of one repeated word, a 10 MB
//! line without a newline, a million tiny documents, deeply nested spintax,
//! and text that is all combining marks, all emoji, all right-to-left, all
//! whitespace.
//!
//! ```text
//! cargo bench -p sluicebox-pipeline --bench pathological            # full sizes
//! cargo bench -p sluicebox-pipeline --bench pathological -- --quick # a tenth
//! cargo bench -p sluicebox-pipeline --bench pathological -- emoji   # one case
//! PATHO_THREADS=4 cargo bench ...                                    # default 1
//! ```
//!
//! Each case runs at a tenth of its full size and at full size. Printed per
//! run: input MB, the profile pass and the run in seconds, MB/s, and the
//! seconds each stage was busy; then the ratio of times between the sizes
//! (10 for linear cost). A stage whose time grows more than 20× for 10× the
//! input (and takes at least 0.2 s) is flagged SUPER-LINEAR. The baseline is
//! a plain byte scan of the same JSONL (count of newlines and non-ASCII
//! bytes), measured in the same run.

use sluicebox_io::expand_inputs;
use sluicebox_pipeline::config::Config;
use sluicebox_pipeline::plan::{Plan, ProfileSet};
use sluicebox_pipeline::profile;
use sluicebox_pipeline::registry::Registry;
use sluicebox_pipeline::runner::RunOptions;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

#[path = "../tests/common/inputs.rs"]
mod inputs;
use inputs::*;

/// A case: name, full size in bytes (or documents for `tiny_docs`), and how
/// it becomes documents.
struct Case {
    name: &'static str,
    full: usize,
    make: fn(usize) -> Vec<String>,
}

const MB: usize = 1 << 20;

fn one(f: fn(usize) -> String) -> impl Fn(usize) -> Vec<String> {
    move |n| vec![f(n)]
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "repeated_word",
            full: 100 * MB,
            make: |n| one(repeated_word)(n),
        },
        Case {
            name: "long_line",
            full: 10 * MB,
            make: |n| one(long_line)(n),
        },
        Case {
            name: "tiny_docs",
            full: 1_000_000,
            make: |n| (0..n).map(|i| format!("doc {i}")).collect(),
        },
        Case {
            name: "nested_spintax",
            full: 10 * MB,
            make: |n| one(nested_spintax)(n),
        },
        Case {
            name: "combining_marks",
            full: 10 * MB,
            make: |n| one(combining_marks)(n),
        },
        Case {
            name: "emoji",
            full: 10 * MB,
            make: |n| one(emoji)(n),
        },
        Case {
            name: "rtl",
            full: 10 * MB,
            make: |n| one(rtl)(n),
        },
        Case {
            name: "whitespace",
            full: 10 * MB,
            make: |n| one(whitespace)(n),
        },
    ]
}

// --- running -----------------------------------------------------------------

struct Measure {
    mb: f64,
    docs: usize,
    baseline_s: f64,
    profile_s: f64,
    run_s: f64,
    stages: BTreeMap<String, f64>,
    written: u64,
    rejected: u64,
    errors: u64,
}

fn write_jsonl(path: &Path, texts: &[String]) -> usize {
    let mut out = Vec::with_capacity(texts.iter().map(|t| t.len() + 32).sum());
    for (i, t) in texts.iter().enumerate() {
        serde_json::to_writer(
            &mut out,
            &serde_json::json!({"id": format!("d{i}"), "text": t}),
        )
        .expect("serialise");
        out.push(b'\n');
    }
    std::fs::write(path, &out).expect("write input");
    out.len()
}

/// A plain scan of the file's bytes: the floor any pipeline pays.
fn baseline(path: &Path) -> f64 {
    let t = Instant::now();
    let bytes = std::fs::read(path).expect("read input");
    let n = bytes.iter().filter(|&&b| b == b'\n' || b >= 0x80).count();
    std::hint::black_box(n);
    t.elapsed().as_secs_f64()
}

fn measure(path: &Path, bytes: usize, docs: usize, threads: usize) -> Measure {
    let reg = Arc::new(Registry::builtin());
    let text = format!(
        "{}\n",
        sluicebox_pipeline::DEFAULT_CONFIG.replace(
            "text_field = \"text\"",
            "text_field = \"text\"\nmax_doc_bytes = 268435456"
        )
    );
    let config = Config::parse(&text, Path::new("."), &reg).expect("config");
    let (inputs, _) = expand_inputs(&[path.to_string_lossy().to_string()], None);
    let baseline_s = baseline(path);
    let t = Instant::now();
    let profiles = if Plan::learns(&config, &reg) {
        let mut popts = RunOptions::from_config(&config, inputs.clone());
        popts.threads = threads;
        popts.print_errors = false;
        profile::build_profiles(&config, &reg, popts).expect("profile pass")
    } else {
        ProfileSet::new()
    };
    let profile_s = t.elapsed().as_secs_f64();
    let plan = Plan::build(&config, &reg, &profiles, false).expect("plan");
    let mut opts = RunOptions::from_config(&config, inputs);
    opts.threads = threads;
    opts.out_dir = None;
    opts.print_errors = false;
    let t = Instant::now();
    let s = sluicebox_pipeline::run(&config, plan, opts);
    let run_s = t.elapsed().as_secs_f64();
    if let Some(f) = &s.fatal {
        println!("    FATAL: {f}");
    }
    Measure {
        mb: bytes as f64 / MB as f64,
        docs,
        baseline_s,
        profile_s,
        run_s,
        stages: s.busy_seconds.into_iter().collect(),
        written: s.stats.totals.written,
        rejected: s.stats.totals.rejected,
        errors: s.stats.totals.errors,
    }
}

fn print(m: &Measure, label: &str) {
    let stages: Vec<String> = m
        .stages
        .iter()
        .map(|(k, v)| format!("{k} {v:.2}"))
        .collect();
    println!(
        "  {label:5} {:8.1} MB {:>8} docs | scan {:6.3} s ({:7.0} MB/s) | profile {:7.2} s | run {:7.2} s ({:6.2} MB/s, {:5.1}x scan time) | written {} rejected {} errors {}",
        m.mb,
        m.docs,
        m.baseline_s,
        m.mb / m.baseline_s.max(1e-9),
        m.profile_s,
        m.run_s,
        m.mb / (m.profile_s + m.run_s).max(1e-9),
        (m.profile_s + m.run_s) / m.baseline_s.max(1e-9),
        m.written,
        m.rejected,
        m.errors,
    );
    println!("        stage busy seconds: {}", stages.join(", "));
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let quick = args.iter().any(|a| a == "--quick");
    let only: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let threads: usize = std::env::var("PATHO_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let dir = tempfile::tempdir().expect("temp dir");
    println!(
        "pathological inputs, default pipeline, {threads} thread(s){}",
        if quick {
            ", quick (a tenth of full size)"
        } else {
            ""
        }
    );
    for case in cases() {
        if !only.is_empty() && !only.iter().any(|o| case.name.contains(o.as_str())) {
            continue;
        }
        let full = if quick { case.full / 10 } else { case.full };
        println!("{}:", case.name);
        let mut ms = Vec::new();
        for (label, n) in [("1/10", full / 10), ("full", full)] {
            let texts = (case.make)(n);
            let path = dir
                .path()
                .join(format!("{}-{}.jsonl", case.name, label.replace('/', "_")));
            let bytes = write_jsonl(&path, &texts);
            let docs = texts.len();
            drop(texts);
            let m = measure(&path, bytes, docs, threads);
            print(&m, label);
            let _ = std::fs::remove_file(&path);
            ms.push(m);
        }
        let (a, b) = (&ms[0], &ms[1]);
        let size = b.mb / a.mb.max(1e-9);
        let total = (b.profile_s + b.run_s) / (a.profile_s + a.run_s).max(1e-9);
        let mut flags = Vec::new();
        let mut ratios = vec![
            format!("total {total:.1}"),
            format!("profile {:.1}", b.profile_s / a.profile_s.max(1e-9)),
        ];
        for (k, vb) in &b.stages {
            let va = a.stages.get(k).copied().unwrap_or(0.0);
            let r = vb / va.max(1e-9);
            ratios.push(format!("{k} {r:.1}"));
            if *vb >= 0.2 && r > 2.0 * size {
                flags.push(format!("{k} ({va:.2} s -> {vb:.2} s)"));
            }
        }
        if b.profile_s >= 0.2 && b.profile_s / a.profile_s.max(1e-9) > 2.0 * size {
            flags.push(format!(
                "profile pass ({:.2} s -> {:.2} s)",
                a.profile_s, b.profile_s
            ));
        }
        println!("  time ratio for {size:.1}x input: {}", ratios.join(", "));
        if flags.is_empty() {
            println!("  linear: yes");
        } else {
            println!("  SUPER-LINEAR: {}", flags.join("; "));
        }
    }
}
