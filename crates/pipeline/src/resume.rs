//! `run --resume`: a run that can be killed and continued.
//!
//! A resumable run keeps its work in `OUTDIR/.resume/`. After the last
//! document of each input file has been written, it commits that file's
//! output part (`docs-NNNNNN.jsonl`, `rejects-NNNNNN.jsonl`, renamed into
//! place whole) and then the journal (`journal.json`: files done, records
//! read, stats so far). Stages that keep state across documents (dedupe)
//! save a checkpoint of it when they pass the end of each file, before the
//! journal names it. A rerun with `--resume` finds the journal, restores
//! the checkpoints, skips the files already done and goes on; at the end
//! the parts are joined into the usual outputs and `.resume/` is removed.
//! The output is the same as an uninterrupted run's: every step above is
//! deterministic, and nothing is read from a file the journal does not name.

use serde::{Deserialize, Serialize};
use sluicebox_core::Stats;
use std::io::BufRead;
use std::path::{Path, PathBuf};

const JOURNAL: &str = "journal.json";
pub const VERSION: u32 = 1;

/// What a resumable run has committed so far.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Journal {
    pub version: u32,
    /// The config text and the inputs, to refuse resuming a different run.
    pub config: String,
    pub inputs: Vec<String>,
    /// Input files whose output is committed.
    pub files_done: u64,
    /// Records read so far (the next record's sequence number).
    pub seq_next: u64,
    pub stats: Stats,
}

/// The `.resume` directory of an output directory.
pub fn dir_of(out_dir: &Path) -> PathBuf {
    out_dir.join(".resume")
}

pub fn part_stem(kind: &str, file: u64) -> String {
    format!("{kind}-{file:06}")
}

/// Where an ordered stage instance keeps its checkpoints.
pub fn checkpoint_base(dir: &Path, stage_id: &str, instance: usize) -> PathBuf {
    dir.join(format!("{stage_id}.{instance}.state"))
}

/// The journal of an interrupted run in `dir`, if there is one; an error
/// when it belongs to another config or other inputs.
pub fn load(dir: &Path, config: &str, inputs: &[String]) -> Result<Option<Journal>, String> {
    let path = dir.join(JOURNAL);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: cannot read: {e}", path.display())),
    };
    let j: Journal = serde_json::from_slice(&bytes).map_err(|e| {
        format!(
            "{}: corrupt journal ({e}); remove {} to start over",
            path.display(),
            dir.display()
        )
    })?;
    if j.version != VERSION {
        return Err(format!(
            "{}: journal version {} (this build writes {VERSION}); remove {} to start over",
            path.display(),
            j.version,
            dir.display()
        ));
    }
    if j.config != config || j.inputs != inputs {
        return Err(format!(
            "{} holds an interrupted run of another config or other inputs; \
             rerun that command with --resume, or remove {} to start over",
            dir.display(),
            dir.display()
        ));
    }
    Ok(Some(j))
}

/// Commit the journal (after the parts it names).
pub fn save(dir: &Path, journal: &Journal) -> Result<(), String> {
    use std::io::Write;
    let path = dir.join(JOURNAL);
    let err = |e: std::io::Error| format!("{}: write failed: {e}", path.display());
    let text = serde_json::to_vec(journal).map_err(|e| e.to_string())?;
    let mut f = sluicebox_io::AtomicFile::create(&path).map_err(err)?;
    f.write_all(&text).map_err(err)?;
    f.commit().map_err(err)
}

/// A new resumable run: an empty `.resume` (a profile saved there for
/// this run by the caller is kept).
pub fn start_fresh(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: cannot create: {e}", dir.display()))?;
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries.flatten() {
        if entry.file_name() != "profile.bin" {
            let p = entry.path();
            let r = if p.is_dir() {
                std::fs::remove_dir_all(&p)
            } else {
                std::fs::remove_file(&p)
            };
            r.map_err(|e| format!("{}: cannot remove: {e}", p.display()))?;
        }
    }
    Ok(())
}

/// Remove what a killed run left beyond its journal: parts of files not
/// committed and temporary files.
pub fn clear_uncommitted(dir: &Path, files_done: u64) -> Result<(), String> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(format!("{}: {e}", dir.display())),
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let part_no = ["docs-", "rejects-"]
            .iter()
            .find_map(|p| name.strip_prefix(p))
            .and_then(|rest| rest.get(..6))
            .and_then(|n| n.parse::<u64>().ok());
        let stale = match part_no {
            Some(n) => n >= files_done || !name.ends_with(".jsonl"),
            None => name.contains(".tmp") || name.starts_with('.'),
        };
        if stale {
            std::fs::remove_file(entry.path())
                .map_err(|e| format!("{}: cannot remove: {e}", entry.path().display()))?;
        }
    }
    Ok(())
}

/// Feed the committed parts of `kind` (in file order) to `write`.
pub fn replay_parts(
    dir: &Path,
    kind: &str,
    files: u64,
    write: &mut dyn FnMut(&[u8]) -> Result<(), String>,
) -> Result<(), String> {
    for n in 0..files {
        let path = dir.join(format!("{}.jsonl", part_stem(kind, n)));
        let f = match std::fs::File::open(&path) {
            Ok(f) => f,
            // A file that produced nothing of this kind has no part.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(format!("{}: cannot read: {e}", path.display())),
        };
        for line in std::io::BufReader::new(f).split(b'\n') {
            let line = line.map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
            if !line.is_empty() {
                write(&line)?;
            }
        }
    }
    Ok(())
}
