//! Whole-run throughput of the runner: pass-through (no stages) and decode,
//! 1 and 2 threads, JSONL in and out, on a corpus built from the bundled
//! sample dump (real pages, see tests/fixtures/SOURCES.md) repeated to ~14 MB.
//! Baseline in the same run: reading the file and counting lines (the I/O
//! floor). Quote results as MB/s and as a ratio to that baseline.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sluicebox_io::expand_inputs;
use sluicebox_pipeline::config::Config;
use sluicebox_pipeline::plan::{Plan, ProfileSet};
use sluicebox_pipeline::registry::Registry;
use sluicebox_pipeline::runner::RunOptions;
use std::io::Read;
use std::path::{Path, PathBuf};

fn corpus(dir: &Path) -> (PathBuf, u64) {
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/sample.jsonl.gz");
    let out = std::process::Command::new("gzip")
        .arg("-dc")
        .arg(&sample)
        .output()
        .expect("gzip -dc examples/sample.jsonl.gz");
    let text = out.stdout;
    let mut data = Vec::new();
    for _ in 0..8 {
        data.extend_from_slice(&text);
    }
    let p = dir.join("corpus.jsonl");
    std::fs::write(&p, &data).expect("write corpus");
    (p, data.len() as u64)
}

fn run_once(config: &str, input: &Path, out: &Path, threads: usize) -> u64 {
    let registry = Registry::builtin();
    let config = Config::parse(config, Path::new("."), &registry).expect("config");
    let plan = Plan::build(&config, &registry, &ProfileSet::new(), false).expect("plan");
    let (inputs, _) = expand_inputs(&[input.display().to_string()], None);
    let mut opts = RunOptions::from_config(&config, inputs);
    opts.threads = threads;
    opts.out_dir = Some(out.to_path_buf());
    let s = sluicebox_pipeline::run(&config, plan, opts);
    assert!(s.fatal.is_none(), "{:?}", s.fatal);
    assert!(s.stats.balanced());
    s.stats.totals.written
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (input, bytes) = corpus(dir.path());
    let out = dir.path().join("out");
    let mut g = c.benchmark_group("pipeline");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(bytes));
    g.bench_function("baseline_read_count_lines", |b| {
        b.iter(|| {
            let mut f = std::fs::File::open(&input).expect("open");
            let mut buf = vec![0u8; 1 << 20];
            let mut n = 0usize;
            loop {
                let k = f.read(&mut buf).expect("read");
                if k == 0 {
                    break;
                }
                n += memchr_count(&buf[..k]);
            }
            assert_eq!(n, 177 * 8);
        })
    });
    for threads in [1, 2] {
        g.bench_function(format!("passthrough_t{threads}"), |b| {
            b.iter(|| assert_eq!(run_once("", &input, &out, threads), 177 * 8))
        });
        g.bench_function(format!("decode_t{threads}"), |b| {
            b.iter(|| run_once("[[stages]]\ntype = \"decode\"\n", &input, &out, threads))
        });
    }
    g.finish();
}

fn memchr_count(b: &[u8]) -> usize {
    b.iter().filter(|&&c| c == b'\n').count()
}

criterion_group!(benches, bench);
criterion_main!(benches);
