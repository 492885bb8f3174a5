//! Cluster plans end to end without a cluster: `sluicebox plan` then
//! `sluicebox run-plan` (the same task commands Ray and Slurm run) must give
//! `sluicebox run`'s output, skip finished tasks on a rerun, and redo a task
//! killed halfway. The fixture (tests/fixtures/cluster) has an exact and a
//! near duplicate across its two shards, and a site footer frequent enough
//! to learn only from both shards together.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sluicebox"))
}

fn shards() -> Vec<String> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cluster");
    ["shard-a.jsonl", "shard-b.jsonl"]
        .iter()
        .map(|f| dir.join(f).display().to_string())
        .collect()
}

fn ok(o: Output) -> Output {
    assert!(
        o.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// Every line of the files starting with `prefix`, sorted.
fn sorted_lines(dir: &Path, prefix: &str) -> Vec<String> {
    let mut lines = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if name.starts_with(prefix) && name.ends_with(".jsonl") {
            let text = std::fs::read_to_string(&p).unwrap();
            lines.extend(text.lines().map(str::to_string));
        }
    }
    lines.sort();
    lines
}

/// stats.json without what differs by design (timings, command line).
fn stable_stats(dir: &Path) -> Value {
    let mut v: Value =
        serde_json::from_slice(&std::fs::read(dir.join("stats.json")).unwrap()).unwrap();
    let o = v.as_object_mut().unwrap();
    o.remove("timings");
    o.remove("command");
    v
}

fn plan(work: &Path, out: &Path, extra: &[&str]) {
    let mut cmd = bin();
    cmd.arg("plan").arg("--work").arg(work).arg("-o").arg(out);
    // Two shards (the default would make one of this small input).
    cmd.args(["--partitions", "3", "--shards", "2"])
        .args(extra)
        .args(shards());
    ok(cmd.output().unwrap());
}

fn run_plan(work: &Path, fault: Option<&str>) -> Output {
    let mut cmd = bin();
    cmd.arg("run-plan").arg(work.join("plan.json"));
    cmd.args(["--workers", "2"]);
    match fault {
        Some(f) => cmd.env("SLUICEBOX_FAULT_ABORT_TASK", f),
        None => cmd.env_remove("SLUICEBOX_FAULT_ABORT_TASK"),
    };
    cmd.output().unwrap()
}

const FOOTER: &str = "Harbour Gazette is published every weekday";

#[test]
fn a_plan_gives_the_output_of_run_skips_done_tasks_and_redoes_killed_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let single = tmp.path().join("single");
    let mut cmd = bin();
    cmd.args(["run", "-q", "-o"]).arg(&single).args(shards());
    ok(cmd.output().unwrap());
    let docs = sorted_lines(&single, "docs");
    let rejects = sorted_lines(&single, "rejects");
    // The fixture does what it is for: duplicates across shards are found,
    // and the footer learned from both shards together is gone.
    let reasons: Vec<&str> = ["\"reason\":\"duplicate\"", "\"reason\":\"near_duplicate\""]
        .into_iter()
        .filter(|r| rejects.iter().any(|l| l.contains(r)))
        .collect();
    assert_eq!(reasons.len(), 2, "rejects: {rejects:?}");
    assert!(rejects
        .iter()
        .any(|l| l.contains("\"id\":\"nytimes-recrawl\"")));
    assert!(rejects
        .iter()
        .any(|l| l.contains("\"id\":\"nbc-syndicated\"")));
    assert!(!docs.iter().any(|l| l.contains(FOOTER)));

    // (a) the plan's output equals run's, byte for byte after sorting.
    let work = tmp.path().join("work");
    let out = tmp.path().join("out");
    plan(&work, &out, &[]);
    let o = ok(run_plan(&work, None));
    let said = String::from_utf8_lossy(&o.stderr);
    assert!(said.contains("tasks: 12 ran, 0 skipped"), "{said}");
    assert_eq!(sorted_lines(&out, "docs"), docs);
    assert_eq!(sorted_lines(&out, "rejects"), rejects);
    assert_eq!(stable_stats(&out), stable_stats(&single));

    // (b) a second run skips every task.
    let o = ok(run_plan(&work, None));
    let said = String::from_utf8_lossy(&o.stderr);
    assert!(said.contains("tasks: 0 ran, 12 skipped"), "{said}");

    // (c) a task killed halfway (after some of its files were renamed into
    // place) fails the run; the rerun redoes it and the output is the same.
    let work2 = tmp.path().join("work2");
    let out2 = tmp.path().join("out2");
    plan(&work2, &out2, &[]);
    for fault in ["clean:1", "write:0"] {
        let o = run_plan(&work2, Some(fault));
        assert!(!o.status.success(), "fault {fault} did not fail the run");
        let said = String::from_utf8_lossy(&o.stderr);
        assert!(said.contains("run the plan again"), "{said}");
    }
    ok(run_plan(&work2, None));
    assert_eq!(sorted_lines(&out2, "docs"), docs);
    assert_eq!(sorted_lines(&out2, "rejects"), rejects);
}

#[test]
fn one_shard_alone_keeps_the_footer_so_the_profile_really_is_merged() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("a");
    let mut cmd = bin();
    cmd.args(["run", "-q", "-o"]).arg(&out).arg(&shards()[0]);
    ok(cmd.output().unwrap());
    assert!(sorted_lines(&out, "docs")
        .iter()
        .any(|l| l.contains(FOOTER)));
}

#[test]
fn a_config_without_a_cluster_form_is_refused_with_the_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("c.toml");
    std::fs::write(
        &config,
        "[[stages]]\nid = \"dedupe\"\ntype = \"dedupe\"\ncross_doc_paragraphs = true\n",
    )
    .unwrap();
    let mut cmd = bin();
    cmd.arg("plan").arg("-c").arg(&config);
    cmd.arg("--work").arg(tmp.path().join("w"));
    cmd.arg("-o").arg(tmp.path().join("o")).args(shards());
    let o = cmd.output().unwrap();
    assert!(!o.status.success());
    let said = String::from_utf8_lossy(&o.stderr);
    assert!(
        said.contains("cross_doc_paragraphs") && said.contains("sluicebox run"),
        "{said}"
    );
}

#[test]
fn a_plan_without_dedupe_writes_its_output_from_the_clean_tasks() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("c.toml");
    std::fs::write(
        &config,
        "[[stages]]\nid = \"decode\"\ntype = \"decode\"\n\n\
         [[stages]]\nid = \"segment\"\ntype = \"segment\"\n",
    )
    .unwrap();
    let single = tmp.path().join("single");
    let mut cmd = bin();
    cmd.arg("run")
        .arg("-q")
        .arg("-c")
        .arg(&config)
        .arg("-o")
        .arg(&single);
    ok(cmd.args(shards()).output().unwrap());
    let work = tmp.path().join("w");
    let out = tmp.path().join("o");
    let mut cmd = bin();
    cmd.arg("plan")
        .arg("-c")
        .arg(&config)
        .arg("--work")
        .arg(&work)
        .args(["--shards", "2"]);
    ok(cmd.arg("-o").arg(&out).args(shards()).output().unwrap());
    let o = ok(run_plan(&work, None));
    let said = String::from_utf8_lossy(&o.stderr);
    assert!(
        said.contains("stage clean: 2 ran") && !said.contains("stage pairs"),
        "{said}"
    );
    assert_eq!(sorted_lines(&out, "docs"), sorted_lines(&single, "docs"));
    assert_eq!(stable_stats(&out), stable_stats(&single));
}

#[test]
fn a_work_dir_keeps_one_plan_and_the_output_dir_must_start_empty() {
    let tmp = tempfile::tempdir().unwrap();
    let (work, out) = (tmp.path().join("w"), tmp.path().join("o"));
    plan(&work, &out, &[]);
    // The same plan again is fine (nothing changes) ...
    plan(&work, &out, &[]);
    // ... another one would find the first one's markers: refused.
    let mut cmd = bin();
    cmd.arg("plan").arg("--work").arg(&work).arg("-o").arg(&out);
    let o = cmd
        .args(["--partitions", "5"])
        .args(shards())
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("holds another plan"));
    // Old shard files in the output directory would mix in: refused.
    let out2 = tmp.path().join("o2");
    std::fs::create_dir_all(&out2).unwrap();
    std::fs::write(out2.join("docs-00007.jsonl"), "{}\n").unwrap();
    let mut cmd = bin();
    cmd.arg("plan")
        .arg("--work")
        .arg(tmp.path().join("w2"))
        .arg("-o")
        .arg(&out2);
    let o = cmd.args(shards()).output().unwrap();
    assert!(!o.status.success());
    let said = String::from_utf8_lossy(&o.stderr);
    assert!(
        said.contains("not empty") && said.contains("docs-00007.jsonl"),
        "{said}"
    );
}

/// `plan --emit sbatch` against a stand-in for Slurm's `sbatch` that runs
/// each array job at once (every index, in order) and logs its arguments:
/// the script submits one array job per stage, each after the previous one,
/// and the tasks it runs give `run`'s output.
#[cfg(unix)]
#[test]
fn the_sbatch_script_chains_one_array_job_per_stage() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let shim_dir = tmp.path().join("bin");
    std::fs::create_dir_all(&shim_dir).unwrap();
    let log = tmp.path().join("sbatch.log");
    let shim = shim_dir.join("sbatch");
    std::fs::write(
        &shim,
        format!(
            "#!/usr/bin/env bash\n\
             echo \"$*\" >> '{log}'\n\
             array=''; wrap=''\n\
             for a in \"$@\"; do case \"$a\" in --array=*) array=${{a#--array=}};; \
             --wrap=*) wrap=${{a#--wrap=}};; esac; done\n\
             n=$(wc -l < '{log}')\n\
             for ((i=${{array%-*}}; i<=${{array#*-}}; i++)); do \
             SLURM_ARRAY_TASK_ID=$i bash -c \"$wrap\" || exit 1; done\n\
             echo \"job$n\"\n",
            log = log.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).unwrap();

    let single = tmp.path().join("single");
    let mut cmd = bin();
    ok(cmd
        .args(["run", "-q", "-o"])
        .arg(&single)
        .args(shards())
        .output()
        .unwrap());
    let (work, out) = (tmp.path().join("w"), tmp.path().join("o"));
    plan(&work, &out, &["--emit", "sbatch"]);
    let path = format!(
        "{}:{}",
        shim_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let o = Command::new("bash")
        .arg(work.join("plan.sbatch"))
        .env("PATH", path)
        .output()
        .unwrap();
    ok(o);
    let calls = std::fs::read_to_string(&log).unwrap();
    let calls: Vec<&str> = calls.lines().collect();
    assert_eq!(calls.len(), 7, "{calls:?}");
    assert!(!calls[0].contains("--dependency"));
    for (k, call) in calls.iter().enumerate().skip(1) {
        assert!(
            call.contains(&format!("--dependency=afterok:job{k}")),
            "{call}"
        );
    }
    assert!(calls[2].contains("--job-name=sluicebox-clean") && calls[2].contains("--array=0-1"));
    assert_eq!(sorted_lines(&out, "docs"), sorted_lines(&single, "docs"));
    assert_eq!(
        sorted_lines(&out, "rejects"),
        sorted_lines(&single, "rejects")
    );
}

#[test]
fn a_damaged_intermediate_file_is_named_in_the_error() {
    let tmp = tempfile::tempdir().unwrap();
    let (work, out) = (tmp.path().join("w"), tmp.path().join("o"));
    plan(&work, &out, &[]);
    ok(run_plan(&work, None));
    let damaged = work.join("clean/00001.docs.parquet");
    let bytes = std::fs::read(&damaged).unwrap();
    std::fs::write(&damaged, &bytes[..bytes.len() / 2]).unwrap();
    std::fs::remove_file(work.join("done/write-1")).unwrap();
    let mut cmd = bin();
    cmd.arg("task").arg("--plan").arg(work.join("plan.json"));
    let o = cmd
        .args(["--stage", "write", "--task", "1"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    let said = String::from_utf8_lossy(&o.stderr);
    assert!(
        said.contains("task write-1") && said.contains("00001.docs.parquet"),
        "{said}"
    );
    assert!(
        !work.join("done/write-1").exists(),
        "a failed task leaves no marker"
    );
    // A task that does not exist is a clear error too.
    let mut cmd = bin();
    cmd.arg("task").arg("--plan").arg(work.join("plan.json"));
    let o = cmd
        .args(["--stage", "pairs", "--task", "9"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&o.stderr).contains("stage `pairs` has no task 9"));
}
