//! Behaviour fingerprint and a fixed-work timing loop, for optimising the
//! stage without changing what it does:
//!
//! `cargo bench -p sluicebox-deboilerplate --bench fingerprint > before.txt`
//! prints one line per document of the dev sets (and the unlabelled web
//! sets): verdict, language, and a hash of the output text and of every
//! removed line with its rule (profile pass first, as in the quality
//! bench). Diff two runs to see which documents changed.
//!
//! `DEBOILERPLATE_APPLY=N` times the apply pass alone (best and median of
//! N, CPU time) beside a memchr baseline.
//!
//! `DEBOILERPLATE_LOOPS=N` instead runs the profile and apply passes N times
//! over readability + cleaneval_dev and prints the time of each (a steady
//! workload for `perf stat` / `perf record`).
//!
//! `DEBOILERPLATE_PERDOC=N`: apply time per document (best of N), the
//! costliest first. `DEBOILERPLATE_FOLD=N`: the profile pass with a
//! partial per batch merged in order (`DEBOILERPLATE_FOLD_AT` sets when
//! partials fold into a sketch), its time and a hash of the profile.
//! `DEBOILERPLATE_TRAINFP=1`: a hash per dev document of what the training
//! bench reads (first-round stage-1 scores and context features).

mod common;

use common::{document, load, DEV_SETS};
use sluicebox_core::{Cx, Document, ParallelStage, ProfileBuilder, Verdict};
use sluicebox_deboilerplate::profile::SiteProfileBuilder;
use sluicebox_deboilerplate::{Cleaner, DeboilerplateConfig};
use std::time::Instant;
use xxhash_rust::xxh3::xxh3_64;

/// Unlabelled web sets (not held out): more pages to compare behaviour on.
const EXTRA_SETS: &[&str] = &[
    "dolma_tests_cc",
    "nltk_webtext",
    "grover_realnews_samples",
    "hf_dummy_samples",
    "ag_news_test",
];

fn docs_of(set: &str) -> Vec<Document> {
    match load(set) {
        Ok(recs) => recs.iter().map(|r| document(set, r)).collect(),
        Err(e) => {
            eprintln!("skipping {set}: {e}");
            Vec::new()
        }
    }
}

fn cleaner_for(config: &DeboilerplateConfig, docs: &[Document]) -> Cleaner {
    let mut cleaner = Cleaner::new(config.clone()).expect("config");
    let mut b = SiteProfileBuilder::new(cleaner.params());
    for d in docs {
        b.observe(d);
    }
    cleaner.sketch = Some(b.into_sketch());
    cleaner
}

/// Nanoseconds this thread has run on a CPU (Linux schedstat), so timings
/// on a machine shared with other builds count only our own CPU time.
fn cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

fn timing(loops: usize) {
    let mut docs = docs_of("readability");
    docs.extend(docs_of("cleaneval_dev"));
    let bytes: usize = docs.iter().map(|d| d.text.len()).sum();
    let config = DeboilerplateConfig::default();
    let t = Instant::now();
    let cleaner = cleaner_for(&config, &docs);
    eprintln!("build + first profile: {:?}", t.elapsed());
    for _ in 0..loops {
        let c0 = cpu_ns();
        let t = Instant::now();
        let mut b = SiteProfileBuilder::new(cleaner.params());
        for d in &docs {
            b.observe(d);
        }
        let prof = t.elapsed();
        let c1 = cpu_ns();
        drop(b);
        let mut work = docs.clone();
        let mut cx = Cx::default();
        let c2 = cpu_ns();
        let t = Instant::now();
        for d in work.iter_mut() {
            let _ = std::hint::black_box(cleaner.process(d, &mut cx));
        }
        let apply = t.elapsed();
        let c3 = cpu_ns();
        let mbs = |ns: u64| bytes as f64 / ns as f64 * 1e3;
        let cpu = |a: Option<u64>, b: Option<u64>| match (a, b) {
            (Some(a), Some(b)) if b > a => mbs(b - a),
            _ => f64::NAN,
        };
        eprintln!(
            "wall: profile {:7.1} MB/s apply {:7.1} MB/s | cpu: profile {:7.1} MB/s apply {:7.1} MB/s",
            mbs(prof.as_nanos() as u64),
            mbs(apply.as_nanos() as u64),
            cpu(c0, c1),
            cpu(c2, c3),
        );
    }
}

/// CPU MB/s of the apply pass under a few configurations, interleaved
/// (`DEBOILERPLATE_PARTS=N`): what each part of the stage costs.
fn parts(loops: usize) {
    let mut docs = docs_of("readability");
    docs.extend(docs_of("cleaneval_dev"));
    let bytes: usize = docs.iter().map(|d| d.text.len()).sum();
    let full = cleaner_for(&DeboilerplateConfig::default(), &docs);
    let nolang = cleaner_for(
        &DeboilerplateConfig {
            detect_lang: false,
            ..DeboilerplateConfig::default()
        },
        &docs,
    );
    let noprofile = Cleaner::new(DeboilerplateConfig::default()).expect("config");
    let variants: [(&str, &Cleaner); 3] = [
        ("full", &full),
        ("no lang detection", &nolang),
        ("no profile", &noprofile),
    ];
    let mut best = [f64::MAX; 3];
    for _ in 0..loops {
        for (v, (_, cleaner)) in variants.iter().enumerate() {
            let mut work = docs.clone();
            let mut cx = Cx::default();
            let c0 = cpu_ns().unwrap_or(0);
            for d in work.iter_mut() {
                let _ = std::hint::black_box(cleaner.process(d, &mut cx));
            }
            let ns = cpu_ns().unwrap_or(0).saturating_sub(c0) as f64;
            best[v] = best[v].min(ns);
        }
    }
    for (v, (name, _)) in variants.iter().enumerate() {
        eprintln!(
            "{name:<20} {:7.1} MB/s (best cpu)",
            bytes as f64 / best[v] * 1e3
        );
    }
}

/// Language detection against OSCAR's labels (`DEBOILERPLATE_LANGCHECK=1`):
/// the stage's detector beside whatlang alone on the same sample.
fn langcheck() {
    let path = common::corpora_dir().join("../multilingual/oscar2019_samples.jsonl.gz");
    let Ok(file) = std::fs::File::open(&path) else {
        eprintln!("{}: not available", path.display());
        return;
    };
    use std::io::BufRead;
    let cleaner = Cleaner::new(DeboilerplateConfig::default()).expect("config");
    let (mut n, mut stage_ok, mut whatlang_ok) = (0, 0, 0);
    let reader = std::io::BufReader::new(flate2::read::GzDecoder::new(file));
    for line in reader.lines().map_while(Result::ok) {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        let (Some(text), Some(want)) = (v["text"].as_str(), v["lang"].as_str()) else {
            continue;
        };
        let doc = Document::from_text("x", text);
        let got = cleaner.language(&doc);
        let wl = sluicebox_deboilerplate::lang::detect(text);
        n += 1;
        stage_ok += (got.as_deref() == Some(want)) as u32;
        whatlang_ok += (wl == Some(want)) as u32;
    }
    eprintln!("{n} documents: stage detector {stage_ok} right, whatlang alone {whatlang_ok} right");
}

/// Apply pass alone, `DEBOILERPLATE_APPLY=N` times over readability +
/// cleaneval_dev (profile built once): best and median MB/s (wall time; the
/// best run is the one least disturbed by other work on the machine),
/// beside a memchr newline count of the same bytes (best of N, ten scans a
/// run) as the baseline.
fn apply_only(loops: usize) {
    let mut docs = docs_of("readability");
    docs.extend(docs_of("cleaneval_dev"));
    let bytes: usize = docs.iter().map(|d| d.text.len()).sum();
    let cleaner = cleaner_for(&DeboilerplateConfig::default(), &docs);
    let mut apply = Vec::new();
    let mut cpu = Vec::new();
    let mut base = f64::MAX;
    for _ in 0..loops.max(1) {
        let t = Instant::now();
        for _ in 0..10 {
            let lines: usize = std::hint::black_box(&docs)
                .iter()
                .map(|d| memchr::memchr_iter(b'\n', d.text.as_bytes()).count())
                .sum();
            std::hint::black_box(lines);
        }
        base = base.min(t.elapsed().as_nanos() as f64 / 10.0);
        let mut work = docs.clone();
        let mut cx = Cx::default();
        let c = cpu_ns();
        let t = Instant::now();
        for d in work.iter_mut() {
            let _ = std::hint::black_box(cleaner.process(d, &mut cx));
        }
        apply.push(t.elapsed().as_nanos() as f64);
        if let (Some(a), Some(b)) = (c, cpu_ns()) {
            cpu.push(b.saturating_sub(a) as f64);
        }
    }
    apply.sort_by(f64::total_cmp);
    cpu.sort_by(f64::total_cmp);
    let mbs = |ns: f64| bytes as f64 / ns * 1e3;
    eprintln!(
        "{} docs, {:.2} MB: apply best {:.1} MB/s, median {:.1} MB/s (cpu time: median {:.1} MB/s); memchr baseline best {:.0} MB/s",
        docs.len(),
        bytes as f64 / 1e6,
        mbs(apply[0]),
        mbs(apply[apply.len() / 2]),
        cpu.get(cpu.len() / 2).map_or(f64::NAN, |&ns| mbs(ns)),
        mbs(base)
    );
}

/// Apply time per document (`DEBOILERPLATE_PERDOC=N`: best of N), the
/// costliest first: which pages the pass spends its time on.
fn per_doc(loops: usize) {
    let mut docs = docs_of("readability");
    docs.extend(docs_of("cleaneval_dev"));
    let cleaner = cleaner_for(&DeboilerplateConfig::default(), &docs);
    let mut best = vec![f64::MAX; docs.len()];
    for _ in 0..loops.max(1) {
        for (i, d) in docs.iter().enumerate() {
            let mut w = d.clone();
            let mut cx = Cx::default();
            let t = Instant::now();
            let _ = std::hint::black_box(cleaner.process(&mut w, &mut cx));
            best[i] = best[i].min(t.elapsed().as_nanos() as f64);
        }
    }
    let total: f64 = best.iter().sum();
    let bytes: usize = docs.iter().map(|d| d.text.len()).sum();
    eprintln!(
        "sum of bests {:.2} ms, {:.1} MB/s",
        total / 1e6,
        bytes as f64 / total * 1e3
    );
    let mut order: Vec<usize> = (0..docs.len()).collect();
    order.sort_by(|&a, &b| best[b].total_cmp(&best[a]));
    for &i in order.iter().take(200) {
        let mut w = docs[i].clone();
        let _ = cleaner.process(&mut w, &mut Cx::default());
        let lang = w
            .attributes
            .get("lang")
            .map(|v| v.to_string())
            .unwrap_or_default();
        let n = docs[i].text.len();
        eprintln!(
            "{:>4} {:>8} B {:>8.0} us {:>6.1} MB/s {lang} {}",
            i,
            n,
            best[i] / 1e3,
            n as f64 / best[i] * 1e3,
            docs[i].id
        );
    }
}

/// The profile pass as the pipeline runs it (`DEBOILERPLATE_FOLD=N`, N
/// runs): a partial per batch of 500 documents of all the sets, each
/// merged in order into the first, then finished; prints the time of each
/// run and a hash of the profile (which must not change, whatever
/// `DEBOILERPLATE_FOLD_AT`).
fn fold_pass(loops: usize) {
    let mut docs = Vec::new();
    for set in DEV_SETS.iter().chain(EXTRA_SETS) {
        docs.extend(docs_of(set));
    }
    let bytes: usize = docs.iter().map(|d| d.text.len()).sum();
    let params = DeboilerplateConfig::default().params();
    // `DEBOILERPLATE_FOLD_AT=N`: partials fold into their own sketch past
    // N pairs (as the partials of large input files do at the default).
    let fold_at = std::env::var("DEBOILERPLATE_FOLD_AT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1 << 16);
    for _ in 0..loops.max(1) {
        let t = Instant::now();
        let mut acc: Option<Box<dyn ProfileBuilder>> = None;
        for batch in docs.chunks(500) {
            let mut b = SiteProfileBuilder::with_fold_at(params, fold_at);
            for d in batch {
                b.observe(d);
            }
            match acc.as_mut() {
                Some(a) => a.merge(Box::new(b)),
                None => acc = Some(Box::new(b)),
            }
        }
        let out = acc
            .map(|a| a.finish().unwrap_or_default())
            .unwrap_or_default();
        let ns = t.elapsed().as_nanos() as f64;
        eprintln!(
            "{} docs, {:.1} MB: profile pass {:.1} ms, {:.1} MB/s, profile {:016x} ({} bytes)",
            docs.len(),
            bytes as f64 / 1e6,
            ns / 1e6,
            bytes as f64 / ns * 1e3,
            xxh3_64(&out),
            out.len()
        );
    }
}

/// What the training bench reads of the first decision round
/// (`DEBOILERPLATE_TRAINFP=1`): per document of the dev sets, a hash of
/// the stage-1 scores and context features, bit for bit.
fn train_inputs() {
    let config = DeboilerplateConfig::default();
    for set in DEV_SETS {
        let docs = docs_of(set);
        let cleaner = cleaner_for(&config, &docs);
        for (i, d) in docs.iter().enumerate() {
            let lang = cleaner.language(d);
            let site = sluicebox_deboilerplate::profile::site_key(d, config.params().key);
            let a = cleaner.analyse(&d.text, lang.as_deref(), Some(site));
            let mut bits = Vec::new();
            for z in &a.z1 {
                bits.extend_from_slice(&z.to_bits().to_le_bytes());
            }
            for c in a.ctx.iter().flatten() {
                bits.extend_from_slice(&c.to_bits().to_le_bytes());
            }
            println!("{set} {i} {} {:016x}", a.z1.len(), xxh3_64(&bits));
        }
    }
}

fn main() {
    if std::env::var("DEBOILERPLATE_TRAINFP").is_ok() {
        train_inputs();
        return;
    }
    if let Some(n) = std::env::var("DEBOILERPLATE_FOLD")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        fold_pass(n);
        return;
    }
    if let Some(n) = std::env::var("DEBOILERPLATE_PERDOC")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        per_doc(n);
        return;
    }
    if let Some(n) = std::env::var("DEBOILERPLATE_APPLY")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        apply_only(n);
        return;
    }
    if std::env::var("DEBOILERPLATE_LANGCHECK").is_ok() {
        langcheck();
        return;
    }
    if let Some(n) = std::env::var("DEBOILERPLATE_PARTS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        parts(n);
        return;
    }
    if let Some(n) = std::env::var("DEBOILERPLATE_LOOPS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        timing(n);
        return;
    }
    let config = DeboilerplateConfig {
        explain: true,
        ..DeboilerplateConfig::default()
    };
    for set in DEV_SETS.iter().chain(EXTRA_SETS) {
        let docs = docs_of(set);
        let cleaner = cleaner_for(&config, &docs);
        for (i, d) in docs.iter().enumerate() {
            let mut d = d.clone();
            let v = cleaner.process(&mut d, &mut Cx::default());
            let verdict = match v {
                Ok(Verdict::Drop { reason, .. }) => reason.to_string(),
                Ok(_) => "ok".into(),
                Err(e) => format!("err {e}"),
            };
            let removed = d
                .attributes
                .get("boilerplate_removed")
                .map(|v| v.to_string())
                .unwrap_or_default();
            let lang = d
                .attributes
                .get("lang")
                .map(|v| v.to_string())
                .unwrap_or_default();
            println!(
                "{set} {i} {verdict} {lang} {:016x} {:016x}",
                xxh3_64(d.text.as_bytes()),
                xxh3_64(removed.as_bytes())
            );
        }
    }
}
