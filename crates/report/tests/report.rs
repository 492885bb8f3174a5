//! The report of a real run: the sample dump (`examples/sample.jsonl.gz`)
//! plus hostile documents, cleaned by the built-in pipeline with
//! `explain = true`, then rendered and checked for structure, escaping and
//! (where Chromium is installed) how a browser loads it.

use flate2::read::MultiGzDecoder;
use sluicebox_pipeline::config::Config;
use sluicebox_pipeline::plan::{Plan, ProfileSet};
use sluicebox_pipeline::registry::Registry;
use sluicebox_pipeline::runner::RunOptions;
use sluicebox_pipeline::{profile, DEFAULT_CONFIG};
use sluicebox_report::input;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

const SAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../examples/sample.jsonl.gz"
);

/// Sets a DOM marker if any of it is ever parsed as markup or run.
const PAYLOAD: &str = concat!(
    "<script>document.documentElement.setAttribute('data-pwned','script')</script>",
    "<img src=x onerror=\"document.documentElement.setAttribute('data-pwned','img')\">",
    "</svg></title></pre><b id=\"pwned-marker\">bold</b>"
);
const EVIL_SOURCE: &str =
    "evil<img src=x onerror=\"document.documentElement.setAttribute('data-pwned','source')\">";

/// Hostile records: the same page twice (the copy is rejected as a
/// duplicate, so its text is shown), a page that is only furniture carrying
/// the payload (a rejected, all-boilerplate document), under a source and
/// ids that are markup themselves.
fn hostile_records() -> Vec<String> {
    let article = format!(
        "Local council approves new riverside park\n\n\
         The city council voted on Tuesday to turn the disused riverside warehouses into a public park, \
         ending a decade of debate about the site. {PAYLOAD} Work is expected to start next spring and \
         to take two years, the council said in a statement.\n\n\
         Residents who spoke at the meeting welcomed the plan but asked for more lighting along the \
         footpath and for the old crane to be kept as a landmark. The council agreed to study both \
         requests before the final design is published in the autumn.\n\n\
         Share this article {PAYLOAD}\nSubscribe to our newsletter"
    );
    let nav = format!("Home\nNews\nSport\nWeather\n{PAYLOAD}\nContact us\nPrivacy policy");
    [
        ("evil</svg>-1", article.as_str()),
        ("evil</svg>-2", article.as_str()),
        ("evil-nav<script>", nav.as_str()),
    ]
    .iter()
    .map(|(id, text)| {
        serde_json::json!({"id": id, "source": EVIL_SOURCE, "url": "https://evil.example/<x>", "text": text})
            .to_string()
    })
    .collect()
}

struct SampleRun {
    dir: PathBuf,
    report: PathBuf,
    html: String,
}

/// Runs the pipeline once per test binary (the tests share its output).
fn sample_run() -> &'static SampleRun {
    static RUN: OnceLock<SampleRun> = OnceLock::new();
    RUN.get_or_init(|| {
        let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("report-sample-run");
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        // The hostile records first: the report shows the first 20
        // documents of each reason, and the sample has more than 20
        // duplicates of its own.
        let mut text = String::new();
        for r in hostile_records() {
            text.push_str(&r);
            text.push('\n');
        }
        let mut sample = String::new();
        MultiGzDecoder::new(std::fs::File::open(SAMPLE).unwrap())
            .read_to_string(&mut sample)
            .unwrap();
        text.push_str(&sample);
        let input = root.join("input.jsonl");
        std::fs::write(&input, text).unwrap();
        let out = root.join("out");
        run_pipeline(&input, &out);
        let report = out.join("report.html");
        sluicebox_report::render(&out, &report).unwrap();
        let html = std::fs::read_to_string(&report).unwrap();
        SampleRun {
            dir: out,
            report,
            html,
        }
    })
}

/// The built-in pipeline with `explain = true`, as `sluicebox run` does it.
fn run_pipeline(input: &Path, out: &Path) {
    let registry = Arc::new(Registry::builtin());
    let text = DEFAULT_CONFIG.replacen(
        "type = \"deboilerplate\"\n",
        "type = \"deboilerplate\"\nexplain = true\n",
        1,
    );
    assert_ne!(
        text, DEFAULT_CONFIG,
        "the default config has a deboilerplate stage"
    );
    let config = Config::parse(&text, Path::new("."), &registry).unwrap();
    let options = || {
        let (inputs, errors) = sluicebox_io::expand_inputs(&[input.display().to_string()], None);
        assert!(errors.is_empty());
        let mut o = RunOptions::from_config(&config, inputs);
        o.out_dir = Some(out.to_path_buf());
        o.print_errors = false;
        o.command = format!("sluicebox run {} -o {}", input.display(), out.display());
        o
    };
    let profiles = if Plan::learns(&config, &registry) {
        profile::build_profiles(&config, &registry, options()).unwrap()
    } else {
        ProfileSet::new()
    };
    let plan = Plan::build(&config, &registry, &profiles, false).unwrap();
    let summary = sluicebox_pipeline::run(&config, plan, options());
    assert!(summary.fatal.is_none(), "{:?}", summary.fatal);
}

fn stats(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("stats.json")).unwrap()).unwrap()
}

/// The HTML between `<section id="ID"` and the next `</section>`.
fn section<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html
        .find(&format!("<section id=\"{id}\""))
        .unwrap_or_else(|| panic!("no section {id}"));
    let end = html[start..].find("</section>").unwrap() + start;
    &html[start..end]
}

#[test]
fn report_of_the_sample_run_has_every_part() {
    let run = sample_run();
    let html = &run.html;
    let st = stats(&run.dir);
    for id in [
        "summary",
        "funnel",
        "sources",
        "histograms",
        "rejects",
        "boilerplate",
        "config",
    ] {
        section(html, id);
    }
    // Funnel: one table row per stage, three charts (docs, drops, bytes).
    let stages = st["stages"].as_array().unwrap();
    let funnel = section(html, "funnel");
    assert_eq!(funnel.matches("<tr>").count(), stages.len() + 1);
    for s in stages {
        let id = s["id"].as_str().unwrap();
        assert!(funnel.contains(&format!("<td>{id}</td>")), "stage {id}");
    }
    assert_eq!(funnel.matches("<svg class=\"chart\"").count(), 3);
    assert!(funnel.contains("documents dropped"));
    // Sources: one row per source in stats.json, sortable.
    let sources = st["sources"].as_object().unwrap();
    assert!(sources.len() >= 5, "the sample has several sources");
    let table = section(html, "sources");
    assert!(table.contains("class=\"sortable\""));
    assert_eq!(table.matches("<tr>").count(), sources.len() + 1);
    // Histograms: lengths, spin score, boilerplate share, languages.
    let hist = section(html, "histograms");
    assert_eq!(hist.matches("<svg class=\"chart\"").count(), 4, "{hist}");
    for label in [
        "document length (UTF-8 bytes",
        "spin score (0 = none",
        "lines removed as boilerplate",
    ] {
        assert!(hist.contains(label), "{label}");
    }
    // Every chart is closed, every chart has a title.
    assert_eq!(html.matches("<svg").count(), html.matches("</svg>").count());
    assert_eq!(
        html.matches("<svg class=\"chart\"").count(),
        html.matches("role=\"img\"").count()
    );
    // Rejected samples: every reason of the run, at most 20 documents each.
    let rejects = section(html, "rejects");
    let mut reasons = std::collections::BTreeMap::new();
    for s in sources.values() {
        for (r, n) in s["rejected_by"].as_object().unwrap() {
            *reasons.entry(r.clone()).or_insert(0) += n.as_u64().unwrap();
        }
    }
    assert!(!reasons.is_empty());
    assert_eq!(rejects.matches("<details").count(), reasons.len());
    let shown = rejects.matches("<div class=\"doc\">").count() as u64;
    let want: u64 = reasons.values().map(|n| (*n).min(20)).sum();
    assert_eq!(shown, want, "20 per reason (or all there are)");
    // Removed boilerplate lines (explain is on), with their rule.
    let bp = section(html, "boilerplate");
    assert!(bp.contains("<th>rule</th>"));
    let lines = bp.matches("<td class=\"line\">").count();
    assert!(lines >= 20, "{lines} removed lines shown");
    for block in bp.split("<details").skip(1) {
        assert!(block.matches("<td class=\"line\">").count() <= 20);
    }
    // Config and command.
    let cfg = section(html, "config");
    assert!(cfg.contains("explain = true"));
    assert!(cfg.contains("[[stages]]"));
    assert!(cfg.contains("sluicebox run "));
}

#[test]
fn hostile_text_is_escaped_everywhere() {
    let html = &sample_run().html;
    // The payload reached the page: as a rejected duplicate's text, as a
    // removed line, as a source name and a document id.
    let escaped = "&lt;script&gt;document.documentElement.setAttribute(&#39;data-pwned&#39;,&#39;script&#39;)&lt;/script&gt;";
    assert!(section(html, "rejects").contains(escaped));
    assert!(section(html, "boilerplate").contains(escaped));
    assert!(section(html, "sources").contains("evil&lt;img src=x onerror="));
    assert!(html.contains("evil&lt;/svg&gt;-2"));
    // ... and never as markup.
    for raw in [
        "<script>document",
        "<img src=x",
        "<b id=\"pwned-marker\">",
        "evil</svg>",
        "onerror=\"document",
    ] {
        assert!(!html.contains(raw), "{raw} in the page");
    }
    // Only the page's own two scripts and no external resource of any kind.
    assert_eq!(html.matches("<script").count(), 2);
    assert_eq!(html.matches("<script nonce=\"").count(), 2);
    // No element that loads anything (the only <svg> are the page's own charts).
    for tag in [
        "<img",
        "<link",
        "<iframe",
        "<object",
        "<embed",
        "<audio",
        "<video",
        "<source",
        "<base",
        "<form",
        "<meta http-equiv=\"refresh",
    ] {
        assert!(!html.contains(tag), "{tag}");
    }
    for css in ["url(", "@import"] {
        assert!(!html.contains(css), "{css}");
    }
}

#[test]
fn sort_script_never_writes_markup() {
    let html = &sample_run().html;
    let script = &html[html.rfind("<script").unwrap()..];
    for sink in [
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
    ] {
        assert!(!script.contains(sink), "{sink}");
        assert!(!html.contains(sink), "{sink} anywhere in the page");
    }
}

/// Gzip- and zstd-compressed, sharded outputs give the same sample as plain.
#[test]
fn compressed_and_sharded_outputs_are_read() {
    let run = sample_run();
    let plain = input::load(&run.dir).unwrap();
    let docs = std::fs::read(run.dir.join("docs.jsonl")).unwrap();
    let rejects = std::fs::read(run.dir.join("rejects.jsonl")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(run.dir.join("stats.json"), dir.path().join("stats.json")).unwrap();
    // Split docs at a line boundary into a gzip shard and a zstd shard.
    let half = docs[..docs.len() / 2]
        .iter()
        .rposition(|&b| b == b'\n')
        .unwrap()
        + 1;
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(dir.path().join("docs-00000.jsonl.gz")).unwrap(),
        flate2::Compression::fast(),
    );
    gz.write_all(&docs[..half]).unwrap();
    gz.finish().unwrap();
    std::fs::write(
        dir.path().join("docs-00001.jsonl.zst"),
        zstd::encode_all(&docs[half..], 1).unwrap(),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("rejects.jsonl.zst"),
        zstd::encode_all(&rejects[..], 1).unwrap(),
    )
    .unwrap();
    // A temporary file of an unfinished shard is not an output.
    std::fs::write(dir.path().join(".docs-00002.jsonl.zst.tmp"), b"junk").unwrap();
    let packed = input::load(dir.path()).unwrap();
    assert_eq!(packed.sample.docs.files.len(), 2);
    assert_eq!(packed.sample.docs.records, plain.sample.docs.records);
    assert_eq!(packed.sample.rejects.records, plain.sample.rejects.records);
    assert_eq!(packed.sample.doc_lengths, plain.sample.doc_lengths);
    assert_eq!(packed.sample.removed_lines, plain.sample.removed_lines);
    assert!(packed.sample.notes.is_empty(), "{:?}", packed.sample.notes);
    sluicebox_report::render(dir.path(), &dir.path().join("r.html")).unwrap();
}

/// A cut gzip file costs its tail, with a note on the page, not the report.
#[test]
fn truncated_output_is_noted_not_fatal() {
    let run = sample_run();
    let docs = std::fs::read(run.dir.join("docs.jsonl")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(run.dir.join("stats.json"), dir.path().join("stats.json")).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&docs).unwrap();
    let gz = gz.finish().unwrap();
    std::fs::write(dir.path().join("docs.jsonl.gz"), &gz[..gz.len() / 2]).unwrap();
    let data = input::load(dir.path()).unwrap();
    assert!(data.sample.docs.records > 0);
    assert!(data.sample.docs.records < input::load(&run.dir).unwrap().sample.docs.records);
    assert_eq!(data.sample.notes.len(), 1, "{:?}", data.sample.notes);
    let out = dir.path().join("r.html");
    sluicebox_report::render(dir.path(), &out).unwrap();
    let html = std::fs::read_to_string(out).unwrap();
    assert!(html.contains("Reading notes"));
    assert!(html.contains("docs.jsonl.gz: read stopped"));
}

/// With the run's exact length histogram the page uses it; without one
/// (older runs) it falls back to the sample, and says so.
#[test]
fn length_histogram_from_stats_or_from_the_sample() {
    let run = sample_run();
    let render_with = |hist: Option<serde_json::Value>| {
        let dir = tempfile::tempdir().unwrap();
        let mut st = stats(&run.dir);
        let obj = st.as_object_mut().unwrap();
        obj.remove("length_histogram");
        if let Some(h) = hist {
            obj.insert("length_histogram".into(), h);
        }
        std::fs::write(dir.path().join("stats.json"), st.to_string()).unwrap();
        std::fs::copy(run.dir.join("docs.jsonl"), dir.path().join("docs.jsonl")).unwrap();
        let out = dir.path().join("r.html");
        sluicebox_report::render(dir.path(), &out).unwrap();
        let html = std::fs::read_to_string(out).unwrap();
        section(&html, "histograms").to_string()
    };
    let exact = render_with(Some(serde_json::json!({
        "edges": [0, 64, 128, 256, 512, 1024],
        "input": [0, 5, 7, 11, 13, 17],
        "output": [0, 0, 6, 10, 12, 15]
    })));
    assert!(exact.contains("input records"));
    assert!(exact.contains("1K+"), "open-ended last bucket");
    assert!(exact.contains("<title>input records: 64–128: 5 documents</title>"));
    assert!(
        !exact.contains(">0–64</text>"),
        "empty leading bucket not drawn"
    );
    let sampled = render_with(None);
    assert!(sampled.contains("written (sample)"));
    assert!(sampled.contains("has no length_histogram"));
    assert!(!sampled.contains("input records"));
}

fn chromium() -> Option<PathBuf> {
    let found = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists());
    if found.is_none() {
        if std::env::var("SLUICEBOX_REQUIRE_BROWSER").is_ok_and(|v| v == "1") {
            panic!("SLUICEBOX_REQUIRE_BROWSER=1 but /usr/bin/chromium is not installed");
        }
        eprintln!("skipped: /usr/bin/chromium not installed");
    }
    found
}

/// Runs headless Chromium on `page`; returns (stdout, stderr). Output goes
/// to files (a DOM dump overflows a pipe) and a hung browser is killed.
fn headless(
    browser: &Path,
    work: &Path,
    name: &str,
    extra: &[&str],
    page: &Path,
) -> (String, String) {
    let out_path = work.join(format!("{name}.out"));
    let err_path = work.join(format!("{name}.err"));
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", work.join(name).display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish in 120 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let read =
        |p: &Path| String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).into_owned();
    (read(&out_path), read(&err_path))
}

/// Chromium loads the page from the file, takes a screenshot, logs no
/// console message (script error, blocked load), runs the page's script,
/// and never the hostile document's.
#[test]
fn browser_loads_the_page_without_console_errors() {
    let Some(browser) = chromium() else {
        return;
    };
    let run = sample_run();
    let tmp = tempfile::tempdir().unwrap();
    let png = tmp.path().join("report.png");
    let (_, log) = headless(
        &browser,
        tmp.path(),
        "shot",
        &[
            &format!("--screenshot={}", png.display()),
            "--window-size=1280,2000",
        ],
        &run.report,
    );
    let console: Vec<&str> = log.lines().filter(|l| l.contains(":CONSOLE")).collect();
    assert!(
        console.is_empty(),
        "console messages:\n{}",
        console.join("\n")
    );
    let png_bytes = std::fs::read(&png).unwrap_or_default();
    assert!(
        png_bytes.starts_with(b"\x89PNG") && png_bytes.len() > 10_000,
        "no screenshot; chromium said:\n{log}"
    );

    let (dom, log) = headless(&browser, tmp.path(), "dump", &["--dump-dom"], &run.report);
    let console: Vec<&str> = log.lines().filter(|l| l.contains(":CONSOLE")).collect();
    assert!(
        console.is_empty(),
        "console messages:\n{}",
        console.join("\n")
    );
    let root = &dom[dom.find("<html").expect("a DOM dump")..];
    let root_tag = &root[..root.find('>').unwrap()];
    assert!(
        root_tag.contains("data-report-ready=\"1\""),
        "the page's script ran: {root_tag}"
    );
    for marker in ["data-js-error", "data-csp-violation", "data-pwned"] {
        assert!(!root_tag.contains(marker), "{marker}: {root_tag}");
    }
    assert!(
        !dom.contains("data-pwned=\""),
        "a hostile script or handler ran"
    );
    assert!(
        !dom.contains("<b id=\"pwned-marker\">"),
        "hostile markup was parsed"
    );
    assert!(
        dom.contains("&lt;b id=\"pwned-marker\"&gt;bold&lt;/b&gt;"),
        "shown as text"
    );
}
