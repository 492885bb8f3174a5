//! `sluicebox report`: one self-contained HTML page from a run's output
//! directory.
//!
//! The page is made from `stats.json` (exact counts: the funnel, the sources
//! table, the length histogram when the run recorded one) and a bounded
//! sample of `docs*.jsonl[.gz|.zst]` and `rejects*.jsonl[.gz|.zst]` (the
//! first [`input::SAMPLE_BYTES`] of each, decompressed: sample histograms,
//! rejected documents per reason, removed boilerplate lines per source).
//!
//! Self-contained: inline CSS, inline SVG charts drawn here, one small
//! inline script (table sorting), and a Content-Security-Policy that lets
//! nothing else load or run, so the page works offline and document text,
//! which is untrusted web content, can only ever show as text.
//!
//! Cost: linear in the size of `stats.json` plus the sample (at most
//! 2 × 32 MiB read), whatever the size of the run.

pub mod html;
pub mod input;
pub mod page;
pub mod svg;

use std::hash::{BuildHasher, Hasher};
use std::io::Write;
use std::path::Path;

/// Renders the report of the run in `run_dir` (stats.json, rejects, docs) to `output`.
pub fn render(run_dir: &Path, output: &Path) -> anyhow::Result<()> {
    let data = input::load(run_dir)?;
    let html = page::page(&data, &nonce());
    write_atomic(output, html.as_bytes())
        .map_err(|e| anyhow::anyhow!("{}: cannot write the report: {e}", output.display()))
}

/// A fresh value for the page's CSP nonce. Document text is fixed before
/// rendering, so it cannot know this value; std's randomly seeded hasher is
/// enough for that (no cryptographic strength is needed offline).
fn nonce() -> String {
    let mut s = String::new();
    for i in 0..2u64 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(i);
        if let Ok(t) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            h.write_u128(t.as_nanos());
        }
        s.push_str(&format!("{:016x}", h.finish()));
    }
    s
}

/// Writes through a temporary file beside `path`, so a reader never sees a
/// half-written page and a failed render leaves the old one.
fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "report.html".into());
    let tmp = dir.join(format!(".{name}.tmp"));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_differ_and_are_hex() {
        let a = nonce();
        let b = nonce();
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn missing_stats_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = render(dir.path(), &dir.path().join("r.html")).unwrap_err();
        assert!(err.to_string().contains("stats.json"), "{err}");
        assert!(!dir.path().join("r.html").exists());
    }
}
