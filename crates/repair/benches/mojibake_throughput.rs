//! Throughput of the `mojibake` stage, single thread, against baselines
//! measured in the same run: a plain byte scan and a copy of the same
//! input, and Python ftfy's `fix_text` (if a venv with ftfy exists at
//! `/tmp/venv-ftfy`, or `FTFY_PYTHON` names a python that has it). Run:
//!
//! ```text
//! python3 -m venv /tmp/venv-ftfy && /tmp/venv-ftfy/bin/pip install ftfy
//! CARGO_TARGET_DIR=/work/target-mojibake cargo bench -p sluicebox-repair --bench mojibake_throughput
//! ```
//!
//! Inputs: all of `web/*.jsonl.gz` (mostly clean), `multilingual/*.jsonl.gz`
//! (clean, heavy in non-ASCII), and the first 2 MB of the multilingual text
//! damaged on purpose (UTF-8 bytes read as latin-1, a typical accident).

use serde_json::Value;
use sluicebox_repair::mojibake::{MojibakeConfig, MojibakeStage};
use std::hint::black_box;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::time::Instant;

const CORPORA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/corpora");
const FTFY_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/ftfy_throughput.py");

fn load(dir: &Path) -> Vec<String> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    paths.retain(|p: &std::path::PathBuf| p.to_string_lossy().ends_with(".jsonl.gz"));
    paths.sort();
    let mut out = Vec::new();
    for p in paths {
        let Ok(f) = std::fs::File::open(&p) else {
            continue;
        };
        for line in BufReader::new(flate2::read::GzDecoder::new(f))
            .lines()
            .map_while(Result::ok)
        {
            if let Some(t) = serde_json::from_str::<Value>(&line)
                .ok()
                .and_then(|v| v.get("text")?.as_str().map(String::from))
            {
                out.push(t);
            }
        }
    }
    out
}

/// UTF-8 bytes read as latin-1: `é` → `Ã©`, `“` → `â\u{80}\u{9c}`.
fn damage(text: &str) -> String {
    text.bytes().map(char::from).collect()
}

fn mb(docs: &[String]) -> f64 {
    docs.iter().map(|d| d.len()).sum::<usize>() as f64 / 1e6
}

/// Best of `reps` timed runs of `f` over the docs, in MB/s.
fn time(docs: &[String], reps: usize, mut f: impl FnMut(&str) -> usize) -> (f64, usize) {
    let mut best = f64::MAX;
    let mut result = 0;
    for _ in 0..reps {
        let t = Instant::now();
        let mut acc = 0;
        for d in docs {
            acc += f(black_box(d));
        }
        best = best.min(t.elapsed().as_secs_f64());
        result = black_box(acc);
    }
    (mb(docs) / best, result)
}

fn ftfy(name: &str, docs: &[String]) -> Option<f64> {
    let python =
        std::env::var("FTFY_PYTHON").unwrap_or_else(|_| "/tmp/venv-ftfy/bin/python".into());
    if !Path::new(&python).exists() {
        println!("  ftfy: {python} not found (see the bench's doc comment); skipped");
        return None;
    }
    let path = std::env::temp_dir().join(format!("mojibake_bench_{name}.jsonl"));
    let mut f = std::fs::File::create(&path).ok()?;
    for d in docs {
        writeln!(f, "{}", serde_json::json!({ "text": d })).ok()?;
    }
    drop(f);
    let out = std::process::Command::new(&python)
        .arg(FTFY_SCRIPT)
        .arg(&path)
        .output()
        .ok()?;
    let _ = std::fs::remove_file(&path);
    let line = String::from_utf8_lossy(&out.stdout).trim().to_string();
    println!("  {line}");
    if !out.status.success() {
        println!("  ftfy failed: {}", String::from_utf8_lossy(&out.stderr));
        return None;
    }
    let mbs = line.split(" = ").nth(1)?.split(' ').next()?.parse().ok()?;
    Some(mbs)
}

fn main() {
    let corpora = Path::new(CORPORA);
    if !corpora.is_dir() {
        println!("mojibake_throughput: {CORPORA} not found; nothing to measure");
        return;
    }
    let stage = MojibakeStage::new(MojibakeConfig::default());
    let web = load(&corpora.join("web"));
    let multi = load(&corpora.join("multilingual"));
    let mut damaged = Vec::new();
    let mut size = 0;
    for d in &multi {
        if size > 2_000_000 {
            break;
        }
        size += d.len();
        damaged.push(damage(d));
    }
    println!(
        "mojibake stage throughput, 1 thread (best of 5 runs; MB = 10^6 bytes of UTF-8 input)"
    );
    for (name, docs) in [
        ("web", &web),
        ("multilingual", &multi),
        ("damaged", &damaged),
    ] {
        let changed_check = docs.iter().filter(|d| stage.repair(d).0.is_some()).count();
        let slow: Vec<&String> = docs.iter().filter(|d| stage.needs_work(d) != 0).collect();
        let slow_mb = slow.iter().map(|d| d.len()).sum::<usize>() as f64 / 1e6;
        let by_bit = |bit: u8| {
            docs.iter()
                .filter(|d| stage.needs_work(d) & bit != 0)
                .count()
        };
        println!(
            "{name}: slow path for {} docs ({slow_mb:.1} MB): non-ASCII trigger {}, `&` {}, `;` {}, `\\u` {}",
            slow.len(),
            by_bit(1),
            by_bit(2),
            by_bit(4),
            by_bit(8)
        );
        if std::env::var("MOJIBAKE_TRIGGERS").is_ok() {
            for d in &slow {
                if let Some((i, 1)) = stage.first_trigger(d) {
                    let end = d[i..].char_indices().nth(3).map_or(d.len(), |x| i + x.0);
                    println!("    trigger {:?} ({} bytes)", &d[i..end], d.len());
                }
            }
        }
        let (stage_mbs, _) = time(docs, 5, |d| stage.repair(d).0.map_or(0, |s| s.len()));
        let (scan_mbs, _) = time(docs, 5, |d| d.bytes().filter(|&b| b >= 0x80).count());
        let (copy_mbs, _) = time(docs, 5, |d| black_box(d.as_bytes().to_vec()).len());
        println!(
            "{name}: {} docs, {:.1} MB, {changed_check} changed\n  stage {stage_mbs:.0} MB/s | byte scan {scan_mbs:.0} MB/s (stage = {:.2}x) | copy {copy_mbs:.0} MB/s",
            docs.len(),
            mb(docs),
            stage_mbs / scan_mbs
        );
        if let Some(f) = ftfy(name, docs) {
            println!("  stage / ftfy = {:.0}x", stage_mbs / f);
        }
    }
}
