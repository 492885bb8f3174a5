//! `sluicebox report`: one self-contained HTML page from a run's output directory.

use std::path::Path;

/// Renders the report of the run in `run_dir` (stats.json, rejects, docs) to `output`.
pub fn render(run_dir: &Path, output: &Path) -> anyhow::Result<()> {
    anyhow::bail!(
        "report of {} -> {}: not built yet",
        run_dir.display(),
        output.display()
    )
}
