//! The `sluicebox` binary end to end: the sample dump, bad input, config
//! errors, determinism, input formats, output options and golden cases.

use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sluicebox"))
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

fn stats(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("stats.json")).expect("stats.json")).unwrap()
}

/// stats.json minus what legitimately varies between runs.
fn stable_stats(dir: &Path) -> Value {
    let mut v = stats(dir);
    let o = v.as_object_mut().unwrap();
    o.remove("timings");
    o.remove("command");
    if let Some(c) = o.get_mut("config").and_then(|c| c.as_object_mut()) {
        c.remove("run");
    }
    v
}

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn assert_balanced(s: &Value) {
    let t = &s["totals"];
    let n = |k: &str| t[k].as_u64().unwrap();
    assert_eq!(n("records"), n("read") + n("errors"), "{t}");
    assert_eq!(
        n("read") + n("parts_added"),
        n("written") + n("rejected"),
        "{t}"
    );
}

#[test]
fn sample_dump_runs_with_the_default_pipeline() {
    let out = tempfile::tempdir().unwrap();
    let o = run(&[
        "run",
        "-o",
        out.path().to_str().unwrap(),
        root().join("examples/sample.jsonl.gz").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s = stats(out.path());
    assert_balanced(&s);
    assert_eq!(s["totals"]["records"], 177);
    let docs = lines(&out.path().join("docs.jsonl"));
    assert_eq!(docs.len() as u64, s["totals"]["written"].as_u64().unwrap());
    // Every output record carries id, source, text, attributes and the passthrough url.
    for d in &docs {
        assert!(d["id"].is_string() && d["source"].is_string() && d["text"].is_string());
        assert!(d["attributes"].is_object());
        assert!(d.get("url").is_some(), "url passed through: {}", d["id"]);
    }
    // The summary table is printed on stderr.
    let e = stderr(&o);
    assert!(
        e.contains("stage ") && e.contains("records 177 = read 177 + errors 0"),
        "{e}"
    );
}

#[test]
fn bench_with_a_given_profile_times_no_profile_pass() {
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("p.bin");
    let sample = root().join("examples/sample.jsonl.gz");
    let o = run(&[
        "profile",
        "-o",
        profile.to_str().unwrap(),
        sample.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let bench = |json: bool| {
        let mut args = vec!["bench", "--threads", "1", "--profile"];
        args.push(profile.to_str().unwrap());
        if json {
            args.push("--json");
        }
        args.push(sample.to_str().unwrap());
        let o = run(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        String::from_utf8_lossy(&o.stdout).to_string()
    };
    let r: Value = serde_json::from_str(bench(true).trim()).unwrap();
    assert_eq!(r["profile_seconds"], 0.0, "{r}");
    assert_eq!(r["input_docs"], 177);
    let stages = r["stages"].as_array().unwrap();
    assert!(stages.iter().all(|s| s["pass"] == "clean"), "{r}");
    assert!(stages.iter().any(|s| s["stage"] == "spinner"), "{r}");
    let table = bench(false);
    assert!(table.contains("no profile pass, stage build"), "{table}");
}

#[test]
fn bench_reports_both_passes_per_stage_for_each_thread_count() {
    let o = run(&[
        "bench",
        "--threads",
        "1,2",
        "--json",
        root().join("examples/sample.jsonl.gz").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let runs: Vec<Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(runs.len(), 2);
    for (r, threads) in runs.iter().zip([1, 2]) {
        assert_eq!(r["threads"], threads, "{r}");
        assert_eq!(r["input_docs"], 177);
        let total = r["total_seconds"].as_f64().unwrap();
        // Profile pass, building the cleaning pass's stages, cleaning pass.
        let parts = ["profile_seconds", "build_seconds", "clean_seconds"]
            .map(|k| r[k].as_f64().unwrap())
            .iter()
            .sum::<f64>();
        assert!((total - parts).abs() < 1e-9 && total > 0.0, "{r}");
        assert!(r["build_seconds"].as_f64().unwrap() > 0.0, "{r}");
        let stages = r["stages"].as_array().unwrap();
        let row = |pass: &str, stage: &str| {
            stages
                .iter()
                .find(|s| s["pass"] == pass && s["stage"] == stage)
                .unwrap_or_else(|| panic!("no {pass} row for {stage}: {r}"))
        };
        // The profile pass decodes every record and the learning stages
        // observe what decode kept; their merges are timed apart.
        assert_eq!(row("profile", "decode")["docs_in"], 177);
        for learner in ["deboilerplate", "spinner"] {
            let learn = row("profile", &format!("{learner} (learn)"));
            assert!(learn["docs_in"].as_u64().unwrap() > 100, "{learn}");
            assert!(learn["busy_seconds"].as_f64().unwrap() > 0.0, "{learn}");
            row("profile", &format!("{learner} (merge)"));
        }
        // The cleaning pass: every stage of the default chain, in order.
        let clean: Vec<&str> = stages
            .iter()
            .filter(|s| s["pass"] == "clean")
            .map(|s| s["stage"].as_str().unwrap())
            .collect();
        assert_eq!(
            clean,
            [
                "decode",
                "mojibake",
                "deboilerplate",
                "spinner",
                "dedupe",
                "segment"
            ]
        );
        assert_eq!(row("clean", "decode")["docs_in"], 177);
    }
    assert!(runs[0]["speedup"].is_null() && runs[1]["speedup"].as_f64().unwrap() > 0.0);
}

#[test]
fn output_is_identical_for_threads_and_batch_sizes() {
    let sample = root().join("examples/sample.jsonl.gz");
    let tmp = tempfile::tempdir().unwrap();
    let mut outs = Vec::new();
    for (threads, batch) in [("1", "512"), ("4", "1"), ("2", "512"), ("4", "7")] {
        let dir = tmp.path().join(format!("o{threads}-{batch}"));
        let o = run(&[
            "run",
            "-q",
            "--threads",
            threads,
            "--batch-size",
            batch,
            "-o",
            dir.to_str().unwrap(),
            sample.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        outs.push((
            std::fs::read(dir.join("docs.jsonl")).unwrap(),
            std::fs::read(dir.join("rejects.jsonl")).unwrap(),
            stable_stats(&dir),
        ));
    }
    for o in &outs[1..] {
        assert!(
            o.0 == outs[0].0,
            "docs.jsonl differs between thread/batch settings"
        );
        assert!(o.1 == outs[0].1, "rejects.jsonl differs");
        assert_eq!(o.2, outs[0].2);
    }
}

#[test]
fn bad_input_is_located_reported_and_accounted_for() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let good = r#"{"id":"ok1","text":"A perfectly good document about the harbour."}"#;
    let big = format!(r#"{{"id":"big","text":"{}"}}"#, "0123456789".repeat(15));
    std::fs::write(
        d.join("a.jsonl"),
        format!(
            "{good}\n{{\"id\":\"broken\",\"text\":\"unterminated\n{{\"id\":\"nt\",\"title\":\"x\"}}\n{{\"id\":\"num\",\"text\":42}}\n{big}\n"
        ),
    )
    .unwrap();
    let mut bad_utf8 = b"{\"id\":\"latin1\",\"text\":\"caf".to_vec();
    bad_utf8.extend_from_slice(b"\xe9\"}\n");
    bad_utf8.extend_from_slice(good.replace("ok1", "ok2").as_bytes());
    bad_utf8.push(b'\n');
    std::fs::write(d.join("b.jsonl"), bad_utf8).unwrap();
    std::fs::write(d.join("c.jsonl"), "").unwrap();
    // A gzip and a zstd stream, each cut in the middle (made with the
    // system's tools; zstd may be absent).
    let records = |tag: &str| -> String {
        (0..3000)
            .map(|i| format!("{{\"id\":\"{tag}{i}\",\"text\":\"record {i} of a long compressed file with words\"}}\n"))
            .collect()
    };
    let gz = compress("gzip", records("g").as_bytes()).expect("gzip is installed");
    std::fs::write(d.join("d.jsonl.gz"), &gz[..gz.len() * 2 / 3]).unwrap();
    let zst = compress("zstd", records("z").as_bytes());
    let have_zstd = zst.is_some();
    if let Some(z) = zst {
        std::fs::write(d.join("e.jsonl.zst"), &z[..z.len() / 2]).unwrap();
    }
    let cfg = d.join("cfg.toml");
    std::fs::write(
        &cfg,
        "[input]\nmax_doc_bytes = 120\n[[stages]]\ntype = \"decode\"\n",
    )
    .unwrap();
    let out = d.join("out");
    let missing = d.join("missing.jsonl");
    let o = run(&[
        "run",
        "-c",
        cfg.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        d.join("a.jsonl").to_str().unwrap(),
        d.join("b.jsonl").to_str().unwrap(),
        d.join("c.jsonl").to_str().unwrap(),
        d.join("d.jsonl.gz").to_str().unwrap(),
        missing.to_str().unwrap(),
        d.join("e.jsonl.zst").to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "document errors exit 1: {}",
        stderr(&o)
    );
    let e = stderr(&o);
    let a = d.join("a.jsonl").display().to_string();
    let b = d.join("b.jsonl").display().to_string();
    for want in [
        format!(
            "{}: cannot read: no such file or directory",
            missing.display()
        ),
        format!("{a}:2: invalid JSON: EOF while parsing a string at line 1 column 35"),
        format!("{a}:3: missing field `text`"),
        format!("{a}:4: field `text` is a number, expected a string"),
        format!("{a}:5: record of 172 bytes exceeds max_doc_bytes (120)"),
        format!("{b}:1: invalid UTF-8 at byte 26 of the record (JSONL must be UTF-8)"),
        format!("{}: empty file", d.join("c.jsonl").display()),
    ] {
        assert!(e.contains(&want), "missing `{want}` in:\n{e}");
    }
    assert!(
        e.contains("d.jsonl.gz:") && e.contains("truncated or corrupt input"),
        "{e}"
    );
    let s = stats(&out);
    assert_balanced(&s);
    let written = s["totals"]["written"].as_u64().unwrap();
    // 7 located errors above, the truncated gzip, and the truncated zstd (or,
    // on a machine without the zstd tool, e.jsonl.zst reported missing).
    if have_zstd {
        let ez = d.join("e.jsonl.zst").display().to_string();
        assert!(
            e.lines()
                .any(|l| l.starts_with(&format!("{ez}:"))
                    && l.contains("truncated or corrupt input")),
            "{e}"
        );
        assert!(written < 6000, "{written}");
    }
    assert!(
        written > 1000,
        "the readable part of the gzip stream is kept: {written}"
    );
    assert_eq!(s["totals"]["errors"], 9);
    assert_eq!(s["errors"].as_array().unwrap().len(), 9);
}

/// `data` compressed by the system tool (`gzip` or `zstd`), if it runs.
fn compress(tool: &str, data: &[u8]) -> Option<Vec<u8>> {
    let mut child = Command::new(tool)
        .args(["-q", "-c"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .ok()?;
    child.stdin.take()?.write_all(data).ok()?;
    let out = child.wait_with_output().ok()?;
    out.status.success().then_some(out.stdout)
}

#[test]
fn config_typos_are_located_with_the_valid_keys() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.toml");
    std::fs::write(
        &cfg,
        "[[stages]]\nid = \"dec\"\ntype = \"decode\"\nmax_replacment_ratio = 0.1\n\n[ouput]\ndir = \"x\"\n",
    )
    .unwrap();
    let o = run(&["check", "-c", cfg.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    let p = cfg.display();
    assert!(
        e.contains(&format!("{p}: unknown section `ouput`, expected one of `run`, `input`, `output`, `stages`, `sources`")),
        "{e}"
    );
    assert!(
        e.contains(&format!(
            "{p}: stages[0] (id = \"dec\"): unknown field `max_replacment_ratio`, expected one of"
        )),
        "{e}"
    );
    assert!(
        e.contains("`max_replacement_ratio`"),
        "valid keys listed: {e}"
    );
}

/// The spinner's `rescore_above`: set in a config it shows in the effective
/// chain; out of range it is a located error.
#[test]
fn spinner_rescore_above_is_a_checked_option() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    let write = |v: &str| {
        std::fs::write(
            &cfg,
            format!("[[stages]]\nid = \"spin\"\ntype = \"spinner\"\nrescore_above = {v}\n"),
        )
        .unwrap()
    };
    write("0.2");
    let o = run(&["check", "-c", cfg.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("rescore_above = 0.2"));
    write("1.5");
    let o = run(&["check", "-c", cfg.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("stages[0] (id = \"spin\")")
            && e.contains("rescore_above must be between 0 and 1"),
        "{e}"
    );
}

#[test]
fn every_config_file_loads() {
    let mut n = 0;
    for entry in std::fs::read_dir(root().join("config")).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        let o = run(&["check", "-c", p.to_str().unwrap()]);
        assert!(o.status.success(), "{}: {}", p.display(), stderr(&o));
        let chain = String::from_utf8_lossy(&o.stdout).to_string();
        assert!(chain.contains("source `default`"), "{chain}");
        n += 1;
    }
    assert!(n >= 2, "config/ holds the ready pipelines");
    // The built-in default is config/default.toml.
    let builtin = run(&["check"]);
    let file = run(&[
        "check",
        "-c",
        root().join("config/default.toml").to_str().unwrap(),
    ]);
    assert_eq!(builtin.stdout, file.stdout);
}

#[test]
fn stages_lists_options_and_reasons() {
    let o = run(&["stages"]);
    assert!(o.status.success());
    let s = String::from_utf8_lossy(&o.stdout);
    // Every stage of the default pipeline, one of its options with its
    // default, and the reasons it may drop with.
    for want in [
        "decode\n",
        "max_replacement_ratio = 0.01",
        "undecodable:",
        "mojibake\n",
        "html_entities = true",
        "deboilerplate (learns: profile pass)\n",
        "min_chars = 50",
        "no_content:",
        "spinner (learns: profile pass)\n",
        "action = \"repair\"",
        "rescore_above = 0.3",
        "spun:",
        "dedupe\n",
        "threshold = 0.8",
        "duplicate:",
        "near_duplicate:",
        "segment\n",
        "articles = true",
    ] {
        assert!(
            s.contains(want),
            "`{want}` missing from `sluicebox stages`:\n{s}"
        );
    }
}

#[test]
fn stdin_lines_and_files_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o");
    // Decode only: the default pipeline would (rightly) drop one-line documents.
    let cfg = dir.path().join("decode.toml");
    std::fs::write(&cfg, "[[stages]]\ntype = \"decode\"\n").unwrap();
    let mut child = bin()
        .args([
            "run",
            "-q",
            "-c",
            cfg.to_str().unwrap(),
            "--format",
            "lines",
            "-o",
            out.to_str().unwrap(),
            "-",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A windows-1252 line among UTF-8 ones.
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"First sentence here.\r\nCaf\xe9 cr\xe8me br\xfbl\xe9e au menu.\n\nLast one.\n")
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let docs = lines(&out.join("docs.jsonl"));
    let got: Vec<(&str, &str)> = docs
        .iter()
        .map(|d| (d["id"].as_str().unwrap(), d["text"].as_str().unwrap()))
        .collect();
    assert_eq!(
        got,
        [
            ("-:1", "First sentence here."),
            ("-:2", "Café crème brûlée au menu."),
            ("-:4", "Last one.")
        ]
    );
}

#[test]
fn compressed_sharded_output() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(
        &cfg,
        "[output]\ncompression = \"zstd\"\nmax_docs_per_file = 50\n[[stages]]\ntype = \"decode\"\n",
    )
    .unwrap();
    let out = dir.path().join("o");
    let o = run(&[
        "run",
        "-q",
        "-c",
        cfg.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        root().join("examples/sample.jsonl.gz").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "docs-00000.jsonl.zst",
            "docs-00001.jsonl.zst",
            "docs-00002.jsonl.zst",
            "docs-00003.jsonl.zst",
            "rejects.jsonl.zst",
            "stats.json"
        ]
    );
    // The shards read back as input give the same documents.
    let again = dir.path().join("again");
    let mut args = vec![
        "run".to_string(),
        "-q".into(),
        "-o".into(),
        again.display().to_string(),
    ];
    args.extend(
        names
            .iter()
            .filter(|n| n.starts_with("docs-"))
            .map(|n| out.join(n).display().to_string()),
    );
    let o = bin().args(&args).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stats(&again)["totals"]["read"], 177);
}

/// Golden cases: `tests/golden/<case>/` holds `config.toml`, an `input/`
/// directory and `expected/` (docs.jsonl, rejects.jsonl, stats.json without
/// timings). `UPDATE_GOLDEN=1 cargo test --test cli golden` rewrites them.
#[test]
fn golden_cases() {
    let update = std::env::var("UPDATE_GOLDEN").is_ok();
    let mut cases: Vec<PathBuf> = std::fs::read_dir(root().join("tests/golden"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(!cases.is_empty());
    for case in cases {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let o = bin()
            .current_dir(&case)
            .args([
                "run",
                "-q",
                "-c",
                "config.toml",
                "-o",
                out.to_str().unwrap(),
                "input",
            ])
            .output()
            .unwrap();
        assert!(
            o.status.code().unwrap_or(2) < 2,
            "{}: {}",
            case.display(),
            stderr(&o)
        );
        let expected = case.join("expected");
        let mut st = stable_stats(&out);
        st.as_object_mut().unwrap().remove("config");
        let st_text = serde_json::to_string_pretty(&st).unwrap() + "\n";
        if update {
            std::fs::create_dir_all(&expected).unwrap();
            std::fs::copy(out.join("docs.jsonl"), expected.join("docs.jsonl")).unwrap();
            std::fs::copy(out.join("rejects.jsonl"), expected.join("rejects.jsonl")).unwrap();
            std::fs::write(expected.join("stats.json"), &st_text).unwrap();
            continue;
        }
        for f in ["docs.jsonl", "rejects.jsonl"] {
            let got = std::fs::read_to_string(out.join(f)).unwrap();
            let want = std::fs::read_to_string(expected.join(f)).unwrap_or_default();
            assert!(
                got == want,
                "{}: {f} differs from the golden file (UPDATE_GOLDEN=1 to accept)\n--- got\n{got}\n--- want\n{want}",
                case.display()
            );
        }
        let want = std::fs::read_to_string(expected.join("stats.json")).unwrap_or_default();
        assert_eq!(st_text, want, "{}: stats.json differs", case.display());
    }
}

/// A full disk: writes fail (here with a file-size limit, so the test needs
/// no mount). The run must end with exit 2 and a clear error, and leave no
/// output file that looks complete.
#[test]
fn a_failing_disk_ends_the_run_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o");
    // `ulimit -f 64` caps files at 64 KiB; SIGXFSZ is ignored so the write
    // itself fails (EFBIG), as it would with ENOSPC on a full disk.
    let script = format!(
        "ulimit -f 64; trap '' XFSZ; exec '{}' run -q -c '{}' -o '{}' '{}'",
        env!("CARGO_BIN_EXE_sluicebox"),
        root().join("config/passthrough.toml").display(),
        out.display(),
        root().join("examples/sample.jsonl.gz").display()
    );
    let o = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("write failed"), "{err}");
    assert!(err.contains("docs"), "names the file: {err}");
    assert!(!err.contains("panicked"), "{err}");
    // Nothing committed: no docs.jsonl and no stats.json (a truncated file
    // under the final name would look like a finished run).
    let names: Vec<String> = std::fs::read_dir(&out)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().to_string())
                .collect()
        })
        .unwrap_or_default();
    assert!(
        !names.iter().any(|n| n == "docs.jsonl" || n == "stats.json"),
        "{names:?}"
    );
}

/// Input files that vanish between listing and reading (here a dangling
/// link inside an input directory) are reported by name and skipped; the
/// rest of the input is still cleaned.
#[test]
fn vanished_inputs_are_reported_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    std::fs::write(
        input.join("a.jsonl"),
        "{\"id\":\"a1\",\"text\":\"The council met on Tuesday to discuss the budget.\"}\n",
    )
    .unwrap();
    std::os::unix::fs::symlink(dir.path().join("gone.jsonl"), input.join("b.jsonl")).unwrap();
    let out = dir.path().join("o");
    let o = run(&[
        "run",
        "-q",
        "-c",
        root().join("config/passthrough.toml").to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        input.to_str().unwrap(),
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("b.jsonl"), "{err}");
    assert!(err.contains("no such file"), "{err}");
    let s = stats(&out);
    assert_eq!(s["totals"]["written"], 1);
    assert_eq!(s["totals"]["errors"], 1);
    assert_balanced(&s);
}

/// The sample dump as five input files (so a run has file boundaries to
/// resume from), in `dir`.
fn sample_in_parts(dir: &Path) -> Vec<String> {
    use std::io::Read;
    let mut text = String::new();
    flate2::read::GzDecoder::new(
        std::fs::File::open(root().join("examples/sample.jsonl.gz")).unwrap(),
    )
    .read_to_string(&mut text)
    .unwrap();
    let lines: Vec<&str> = text.lines().collect();
    (0..5)
        .map(|i| {
            let p = dir.join(format!("part{i}.jsonl"));
            let part: Vec<&str> = lines.iter().skip(i).step_by(5).copied().collect();
            std::fs::write(&p, part.join("\n") + "\n").unwrap();
            p.display().to_string()
        })
        .collect()
}

fn run_in(out: &Path, extra: &[&str], inputs: &[String], env: Option<(&str, &str)>) -> Output {
    let mut c = bin();
    c.args(["run", "-q", "-o", out.to_str().unwrap()])
        .args(extra)
        .args(inputs);
    if let Some((k, v)) = env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn assert_same_run(a: &Path, b: &Path) {
    for f in ["docs.jsonl", "rejects.jsonl"] {
        let (x, y) = (
            std::fs::read(a.join(f)).unwrap(),
            std::fs::read(b.join(f)).unwrap(),
        );
        assert!(x == y, "{f} differs");
    }
    assert_eq!(stable_stats(a), stable_stats(b));
    assert!(
        !b.join(".resume").exists(),
        "the resume state is removed at the end"
    );
}

/// A run that dies after committing two of five files continues with
/// `--resume` (restoring the dedupe index) and ends with exactly the output
/// of a run that never stopped.
#[test]
fn resume_after_a_crash_gives_the_uninterrupted_output() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = sample_in_parts(dir.path());
    let whole = dir.path().join("whole");
    let o = run_in(&whole, &[], &inputs, None);
    assert!(o.status.success(), "{}", stderr(&o));

    let out = dir.path().join("resumed");
    let o = run_in(
        &out,
        &["--resume"],
        &inputs,
        Some(("SLUICEBOX_FAULT_ABORT_AFTER_FILES", "2")),
    );
    assert!(!o.status.success(), "the injected crash happened");
    assert!(!out.join("docs.jsonl").exists() && !out.join("stats.json").exists());
    let journal: Value =
        serde_json::from_slice(&std::fs::read(out.join(".resume/journal.json")).unwrap()).unwrap();
    assert_eq!(journal["files_done"], 2);

    // A journal cut short (a full disk, a bad copy) is named with what to
    // do, and left in place: nothing is overwritten on a guess.
    let path = out.join(".resume/journal.json");
    let good = std::fs::read(&path).unwrap();
    std::fs::write(&path, &good[..good.len() / 2]).unwrap();
    let o = run_in(&out, &["--resume"], &inputs, None);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("journal.json") && err.contains("corrupt journal") && err.contains("remove"),
        "{err}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), &good[..good.len() / 2]);
    std::fs::write(&path, &good).unwrap();

    let o = run_in(&out, &["--resume"], &inputs, None);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_same_run(&whole, &out);
    // Only the last three files were read by the resumed run.
    assert_eq!(stats(&out)["totals"]["read"], 177);

    // Resuming another run's state is refused, not mixed in.
    let o = run_in(
        &out,
        &["--resume"],
        &inputs[..2],
        Some(("SLUICEBOX_FAULT_ABORT_AFTER_FILES", "1")),
    );
    assert!(!o.status.success());
    let o = run_in(&out, &["--resume"], &inputs[..3], None);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("another config or other inputs"),
        "{}",
        stderr(&o)
    );
}

/// SIGKILL at an arbitrary moment: no output that looks finished is left,
/// and `--resume` still ends with the uninterrupted output.
#[test]
fn a_killed_run_resumes_to_the_same_output() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = sample_in_parts(dir.path());
    // Decode and dedupe only (no profile pass), so the runs are short.
    let cfg = dir.path().join("c.toml");
    std::fs::write(
        &cfg,
        "[[stages]]\ntype = \"decode\"\n[[stages]]\ntype = \"dedupe\"\n",
    )
    .unwrap();
    let c = ["-c", cfg.to_str().unwrap()];
    let whole = dir.path().join("whole");
    assert!(run_in(&whole, &c, &inputs, None).status.success());
    let with_resume = ["-c", cfg.to_str().unwrap(), "--resume"];
    for delay_ms in [20u64, 100, 300] {
        let out = dir.path().join(format!("killed-{delay_ms}"));
        let mut child = bin()
            .args(["run", "-q", "-o", out.to_str().unwrap()])
            .args(with_resume)
            .args(&inputs)
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill(); // SIGKILL
        let status = child.wait().unwrap();
        if !status.success() {
            assert!(!out.join("stats.json").exists(), "killed at {delay_ms} ms");
        }
        let o = run_in(&out, &with_resume, &inputs, None);
        assert!(o.status.success(), "{}", stderr(&o));
        assert_same_run(&whole, &out);
    }
}
