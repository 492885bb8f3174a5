//! Throughput and memory of the dedupe stage (harness = false):
//!
//! `cargo bench -p sluicebox-dedupe --bench dedup_scale [-- web|synthetic] [--threads 1,2]`
//!
//! * `web`: every record of `../shared/corpora/web/*.jsonl.gz` (about 50 MB).
//!   Baseline: a plain byte scan of the same texts. Then signatures only
//!   (the parallel half) on one thread, and the whole stage with N prepare
//!   threads (rayon, batches of 512 documents) and the decisions on the
//!   calling thread in input order. Writes the dropped ids to
//!   `$DEDUPE_DROPPED_OUT` (default `/tmp/sluicebox-dedupe-dropped.tsv`) for
//!   `benches/datatrove_compare.py`.
//! * `synthetic`: 1,000,000 documents generated from the web corpus lines
//!   (12-30 random lines each; 5% exact copies and 10% near copies with 3%
//!   of words replaced of an earlier document), generated in batches and
//!   never held whole, so the peak memory is the index plus a batch plus the
//!   web corpus. Generation time is not counted.
//!
//! Peak memory is VmHWM from /proc/self/status (whole process, including the
//! corpus held for generation).

#[path = "common/corpus.rs"]
mod corpus;

use corpus::Rng;
use rayon::prelude::*;
use sluicebox_dedupe::{Decider, DedupeConfig, Judgement, Signature, Signer};
use std::io::Write;
use std::time::{Duration, Instant};

const BATCH: usize = 512;

fn vm_hwm_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn mbps(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / 1e6 / d.as_secs_f64()
}

struct Totals {
    kept: usize,
    exact: usize,
    near: usize,
    prepare: Duration,
    decide: Duration,
}

/// The whole stage over `docs` with `threads` prepare threads.
fn run_stage(
    pool: &rayon::ThreadPool,
    signer: &Signer,
    decider: &mut Decider,
    docs: &[(String, String)],
    totals: &mut Totals,
    mut on_drop: impl FnMut(&str, &str, &str),
) {
    for chunk in docs.chunks(BATCH) {
        let t0 = Instant::now();
        let sigs: Vec<Signature> =
            pool.install(|| chunk.par_iter().map(|d| signer.sign(&d.1)).collect());
        let t1 = Instant::now();
        for (d, s) in chunk.iter().zip(&sigs) {
            match decider.judge(&d.0, s) {
                Ok(Judgement::Keep) => totals.kept += 1,
                Ok(Judgement::Duplicate { of }) => {
                    totals.exact += 1;
                    on_drop(&d.0, "duplicate", &of);
                }
                Ok(Judgement::NearDuplicate { of, .. }) => {
                    totals.near += 1;
                    on_drop(&d.0, "near_duplicate", &of);
                }
                Err(e) => {
                    println!("error: {e}");
                    return;
                }
            }
        }
        totals.prepare += t1 - t0;
        totals.decide += t1.elapsed();
    }
}

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap_or_else(|_| rayon::ThreadPoolBuilder::new().build().expect("rayon pool"))
}

fn index_line(decider: &Decider) -> String {
    let b = decider.index().bytes();
    let n = decider.index().docs().max(1) as f64;
    format!(
        "index: {} kept docs; near level in memory {:.1} B/doc (bands {:.1} + 1-bit signatures {:.1} + set offsets {:.1}), on disk {:.1} B/doc; exact level {:.1} B/doc; ids {:.1} B/doc; total in memory {:.1} MB",
        decider.index().docs(),
        b.near_memory() as f64 / n,
        b.near_bands as f64 / n,
        b.near_sigs as f64 / n,
        b.near_offsets as f64 / n,
        b.near_disk as f64 / n,
        b.exact as f64 / n,
        b.ids as f64 / n,
        b.total() as f64 / 1e6
    )
}

fn web(threads: &[usize]) {
    let Some(docs) = corpus::load_web() else {
        return;
    };
    let bytes: usize = docs.iter().map(|d| d.1.len()).sum();
    println!(
        "== web corpus: {} documents, {:.1} MB of text ==",
        docs.len(),
        bytes as f64 / 1e6
    );
    // Baseline: a plain byte scan (count newlines) of the same texts.
    let t = Instant::now();
    let mut newlines = 0usize;
    for d in &docs {
        newlines += d.1.bytes().filter(|&b| b == b'\n').count();
    }
    let scan = t.elapsed();
    println!(
        "baseline byte scan: {:.0} MB/s ({} newlines)",
        mbps(bytes, scan),
        newlines
    );
    let cfg = DedupeConfig::default();
    let signer = Signer::new(cfg.clone());
    let t = Instant::now();
    let mut near = 0;
    for d in &docs {
        near += signer.sign(&d.1).near.is_some() as usize;
    }
    let sig = t.elapsed();
    println!(
        "signatures only (paragraph scan + exact hash + MinHash), 1 thread: {:.1} MB/s, {:.0} docs/s ({:.3}x the byte scan; {} docs with words)",
        mbps(bytes, sig),
        docs.len() as f64 / sig.as_secs_f64(),
        scan.as_secs_f64() / sig.as_secs_f64(),
        near
    );
    for &n in threads {
        let p = pool(n);
        let mut decider = Decider::new(cfg.clone());
        let mut totals = Totals {
            kept: 0,
            exact: 0,
            near: 0,
            prepare: Duration::ZERO,
            decide: Duration::ZERO,
        };
        let out_path = std::env::var("DEDUPE_DROPPED_OUT")
            .unwrap_or_else(|_| "/tmp/sluicebox-dedupe-dropped.tsv".to_string());
        let mut dropped = Vec::new();
        let t = Instant::now();
        run_stage(
            &p,
            &signer,
            &mut decider,
            &docs,
            &mut totals,
            |id, r, of| dropped.push(format!("{id}\t{r}\t{of}")),
        );
        let all = t.elapsed();
        println!(
            "whole stage, {n} prepare thread(s): {:.2} s, {:.1} MB/s, {:.0} docs/s (prepare {:.2} s, decide {:.3} s); kept {}, duplicate {}, near_duplicate {}",
            all.as_secs_f64(),
            mbps(bytes, all),
            docs.len() as f64 / all.as_secs_f64(),
            totals.prepare.as_secs_f64(),
            totals.decide.as_secs_f64(),
            totals.kept,
            totals.exact,
            totals.near
        );
        if n == threads[0] {
            if let Ok(mut f) = std::fs::File::create(&out_path) {
                for l in &dropped {
                    let _ = writeln!(f, "{l}");
                }
                println!("dropped ids written to {out_path}");
            }
            println!("{}", index_line(&decider));
        }
    }
    println!(
        "peak memory (VmHWM, whole process incl. corpus): {:.0} MB",
        vm_hwm_mb()
    );
}

/// Synthetic document `k` (deterministic from `k`).
fn synth(k: u64, lines: &[&str]) -> String {
    let mut rng = Rng(k.wrapping_mul(0x2545_f491_4f6c_dd1d) ^ 0x1234_5678);
    let r = rng.unit();
    if k > 0 && r < 0.05 {
        // exact copy of an earlier document
        return synth(rng.below(k as usize) as u64, lines);
    }
    if k > 0 && r < 0.15 {
        // near copy: an earlier document with 3% of words replaced
        let base = synth(rng.below(k as usize) as u64, lines);
        return base
            .split(' ')
            .map(|w| {
                if rng.unit() < 0.03 {
                    lines[rng.below(lines.len())]
                        .split(' ')
                        .next()
                        .unwrap_or("x")
                } else {
                    w
                }
            })
            .collect::<Vec<_>>()
            .join(" ");
    }
    let n = 12 + rng.below(19);
    let mut out = String::new();
    for _ in 0..n {
        out.push_str(lines[rng.below(lines.len())]);
        out.push('\n');
    }
    out
}

fn synthetic(threads: &[usize]) {
    let Some(docs) = corpus::load_web() else {
        return;
    };
    let mut seen = std::collections::HashSet::new();
    let lines: Vec<&str> = docs
        .iter()
        .flat_map(|d| d.1.split('\n'))
        .map(str::trim)
        .filter(|l| l.split_whitespace().count() >= 8)
        .filter(|l| seen.insert(*l))
        .collect();
    const N: u64 = 1_000_000;
    const GEN_BATCH: u64 = 16_384;
    println!(
        "== synthetic corpus: {N} documents from {} distinct web lines ==",
        lines.len()
    );
    let cfg = DedupeConfig::default();
    let signer = Signer::new(cfg.clone());
    for &n in threads {
        let p = pool(n);
        let gen_pool = pool(2);
        let mut decider = Decider::new(cfg.clone());
        let mut totals = Totals {
            kept: 0,
            exact: 0,
            near: 0,
            prepare: Duration::ZERO,
            decide: Duration::ZERO,
        };
        let mut bytes = 0usize;
        let mut k = 0u64;
        while k < N {
            let end = (k + GEN_BATCH).min(N);
            let batch: Vec<(String, String)> = gen_pool.install(|| {
                (k..end)
                    .into_par_iter()
                    .map(|i| (format!("synth-{i}"), synth(i, &lines)))
                    .collect()
            });
            bytes += batch.iter().map(|d| d.1.len()).sum::<usize>();
            run_stage(&p, &signer, &mut decider, &batch, &mut totals, |_, _, _| {});
            k = end;
        }
        let all = totals.prepare + totals.decide;
        println!(
            "whole stage, {n} prepare thread(s): {:.1} s, {:.1} MB/s, {:.0} docs/s over {:.0} MB (prepare {:.1} s, decide {:.1} s); kept {}, duplicate {}, near_duplicate {}",
            all.as_secs_f64(),
            mbps(bytes, all),
            N as f64 / all.as_secs_f64(),
            bytes as f64 / 1e6,
            totals.prepare.as_secs_f64(),
            totals.decide.as_secs_f64(),
            totals.kept,
            totals.exact,
            totals.near
        );
        println!("{}", index_line(&decider));
        println!(
            "peak memory so far (VmHWM, whole process incl. corpus): {:.0} MB",
            vm_hwm_mb()
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let threads: Vec<usize> = args
        .iter()
        .position(|a| a == "--threads")
        .and_then(|i| args.get(i + 1))
        .map(|s| s.split(',').filter_map(|x| x.parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 2]);
    let want = |m: &str| {
        args.iter().any(|a| a == m) || !args.iter().any(|a| a == "web" || a == "synthetic")
    };
    if want("web") {
        web(&threads);
    }
    if want("synthetic") {
        synthetic(&threads);
    }
}
