//! Shared by the dedupe benches: read `../shared/corpora/web/*.jsonl.gz`.

use std::io::BufRead;
use std::path::PathBuf;

/// `$DEDUPE_CORPUS_DIR` if set (benches run on another machine), else
/// `../shared/corpora/web` next to the repository.
pub fn corpus_dir() -> PathBuf {
    std::env::var_os("DEDUPE_CORPUS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../../shared/corpora/web"
            ))
        })
}

/// (id, text) of every record of every web corpus file, in file-name order;
/// `None` (with a message printed) when the corpus is absent.
pub fn load_web() -> Option<Vec<(String, String)>> {
    let dir = corpus_dir();
    let mut files: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.to_string_lossy().ends_with(".jsonl.gz"))
            .collect(),
        Err(_) => {
            println!(
                "corpus not found at {} — skipping (needs ../shared/corpora/web/*.jsonl.gz)",
                dir.display()
            );
            return None;
        }
    };
    files.sort();
    if files.is_empty() {
        println!("no *.jsonl.gz in {} — skipping", dir.display());
        return None;
    }
    let mut out = Vec::new();
    for f in files {
        let Ok(file) = std::fs::File::open(&f) else {
            println!("cannot open {} — skipped", f.display());
            continue;
        };
        let reader = std::io::BufReader::new(flate2::read::GzDecoder::new(file));
        for line in reader.lines() {
            let Ok(line) = line else { break };
            let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            let id = v["id"].as_str().unwrap_or("?").to_string();
            if let Some(t) = v["text"].as_str() {
                out.push((id, t.to_string()));
            }
        }
    }
    Some(out)
}

/// Deterministic generator (splitmix64): the evaluation must be repeatable.
pub struct Rng(pub u64);
impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}
