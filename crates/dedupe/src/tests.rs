//! Stage-level tests: the plugin as the runner sees it, on real seed text.

use super::*;

const SEED_000: &str = include_str!("../../../tests/fixtures/seeds/000_e7f6ed2af000063c.txt");
const SEED_002: &str = include_str!("../../../tests/fixtures/seeds/002_31699701fbb39e56.txt");
const SEED_003: &str = include_str!("../../../tests/fixtures/seeds/003_240feac35cea67fe.txt");

fn build(toml_src: &str, cx: &BuildContext) -> (Arc<dyn Prepare>, Box<dyn Decide>) {
    let table: toml::Table = toml::from_str(toml_src).unwrap();
    match factory().build(&table, cx).unwrap() {
        Built::Split { prepare, decide } => (prepare, decide),
        _ => panic!("dedupe must be a split stage"),
    }
}

/// Run documents through the stage; prepare in reverse order (as a thread
/// pool might), decide in input order. Returns (id, verdict code, doc).
fn run(
    prepare: &dyn Prepare,
    decide: &mut dyn Decide,
    docs: Vec<Document>,
) -> Vec<(String, &'static str, Document)> {
    let mut prepared: Vec<Option<Prepared>> = (0..docs.len()).map(|_| None).collect();
    for i in (0..docs.len()).rev() {
        prepared[i] = Some(prepare.prepare(&docs[i]).unwrap());
    }
    let mut out = Vec::new();
    for (mut doc, p) in docs.into_iter().zip(prepared) {
        let mut cx = Cx::default();
        let v = decide.decide(&mut doc, p.unwrap(), &mut cx).unwrap();
        let code = match v {
            Verdict::Drop { reason, .. } => reason,
            Verdict::Changed => "changed",
            Verdict::Unchanged => "unchanged",
            Verdict::Split(_) => "split",
        };
        out.push((doc.id.clone(), code, doc));
    }
    decide.finish().unwrap();
    out
}

/// Seed 000 with its first paragraph replaced and a footer added: a
/// syndicated copy with a different header/footer.
fn syndicated_000() -> String {
    let body: Vec<&str> = SEED_000.split("\n\n").collect();
    format!(
        "Republished with permission\n\n{}\n\nFollow us for more world news every day.",
        body[1..].join("\n\n")
    )
}

#[test]
fn verdicts_on_real_text() {
    let (p, mut d) = build("", &BuildContext::default());
    let shouty = SEED_000.to_uppercase().replace(", ", " ,  ");
    let docs = vec![
        Document::from_text("a", SEED_000),
        Document::from_text("b", SEED_003),
        Document::from_text("c", shouty),
        Document::from_text("d", syndicated_000()),
        Document::from_text("e", SEED_002),
        Document::from_text("f", ""),
        Document::from_text("g", ""),
    ];
    let out = run(&*p, &mut *d, docs);
    let codes: Vec<(&str, &str)> = out.iter().map(|(id, c, _)| (id.as_str(), *c)).collect();
    assert_eq!(
        codes,
        [
            ("a", "unchanged"),
            ("b", "unchanged"),
            ("c", "duplicate"),
            ("d", "near_duplicate"),
            ("e", "changed"),
            ("f", "unchanged"),
            ("g", "duplicate"),
        ]
    );
    assert_eq!(out[2].2.attributes["duplicate_of"], "a");
    assert_eq!(out[3].2.attributes["duplicate_of"], "a");
    let sim = out[3].2.attributes["similarity"].as_f64().unwrap();
    assert!((0.8..=1.0).contains(&sim), "{sim}");
    assert_eq!(out[4].2.attributes["repeated_paragraphs"], 10);
    assert_eq!(out[6].2.attributes["duplicate_of"], "f");
}

#[test]
fn folding_is_configurable() {
    let (p, mut d) = build("fold_case = false\nnear = false", &BuildContext::default());
    let docs = vec![
        Document::from_text("a", SEED_003),
        Document::from_text("b", SEED_003.to_uppercase()),
        Document::from_text("c", SEED_003.replace(". ", " ! ")),
    ];
    let out = run(&*p, &mut *d, docs);
    let codes: Vec<&str> = out.iter().map(|x| x.1).collect();
    assert_eq!(codes, ["unchanged", "unchanged", "duplicate"]);
}

#[test]
fn dissimilar_edits_are_kept() {
    // Keep only every other paragraph: Jaccard well under 0.8.
    let half: Vec<&str> = SEED_000.split("\n\n").step_by(2).collect();
    let (p, mut d) = build("", &BuildContext::default());
    let out = run(
        &*p,
        &mut *d,
        vec![
            Document::from_text("a", SEED_000),
            Document::from_text("b", half.join("\n\n")),
        ],
    );
    assert_eq!(out[1].1, "unchanged");
}

#[test]
fn persistent_index_dedupes_a_later_crawl() {
    let dir = tempfile::tempdir().unwrap();
    let cx = BuildContext {
        base_dir: dir.path().to_path_buf(),
        ..Default::default()
    };
    let (p, mut d) = build("index = \"seen.idx\"", &cx);
    run(&*p, &mut *d, vec![Document::from_text("old", SEED_000)]);
    assert!(dir.path().join("seen.idx").exists());
    // The verification sets live next to the index; the next run reads them.
    assert!(dir.path().join("seen.idx.sets").exists());

    let (p, mut d) = build("index = \"seen.idx\"", &cx);
    let out = run(
        &*p,
        &mut *d,
        vec![
            Document::from_text("new1", syndicated_000()),
            Document::from_text("new2", SEED_003),
        ],
    );
    assert_eq!(out[0].1, "near_duplicate");
    assert_eq!(out[0].2.attributes["duplicate_of"], "old");
    assert_eq!(out[1].1, "unchanged");

    // Different settings refuse the index with a clear message.
    let table: toml::Table = toml::from_str("index = \"seen.idx\"\nngram = 3").unwrap();
    let err = factory().build(&table, &cx).err().unwrap().to_string();
    assert!(
        err.contains("seen.idx") && err.contains("different settings"),
        "{err}"
    );
    // So does a file that is not an index.
    std::fs::write(dir.path().join("junk.idx"), b"hello").unwrap();
    let table: toml::Table = toml::from_str("index = \"junk.idx\"").unwrap();
    let err = factory().build(&table, &cx).err().unwrap().to_string();
    assert!(err.contains("not a sluicebox dedupe index"), "{err}");
}

#[test]
fn max_index_bytes_refuses_clearly() {
    let mut config = DedupeConfig {
        max_index_bytes: 1,
        ..Default::default()
    };
    config.paragraphs = false;
    let signer = Signer::new(config.clone());
    let mut decider = Decider::new(config);
    assert_eq!(
        decider.judge("a", &signer.sign(SEED_000)).unwrap(),
        Judgement::Keep
    );
    let err = decider
        .judge("b", &signer.sign(SEED_003))
        .unwrap_err()
        .to_string();
    assert!(err.contains("max_index_bytes = 1"), "{err}");
    // Duplicates are still recognised without growing the index.
    assert!(matches!(
        decider.judge("c", &signer.sign(SEED_000)).unwrap(),
        Judgement::Duplicate { .. }
    ));
}

#[test]
fn cross_doc_paragraphs_keep_max_repeats_copies() {
    let blurb = "Diplomat Times is an independent news magazine covering diplomacy, defence and world affairs from the capitals.";
    let (p, mut d) = build(
        "cross_doc_paragraphs = true\nmax_repeats = 2\nnear = false",
        &BuildContext::default(),
    );
    let bodies: Vec<&str> = SEED_002
        .split("\n\n")
        .filter(|s| s.len() > 200)
        .take(4)
        .collect();
    let docs: Vec<Document> = bodies
        .iter()
        .enumerate()
        .map(|(i, b)| Document::from_text(format!("d{i}"), format!("{b}\n\n{blurb}")))
        .collect();
    let out = run(&*p, &mut *d, docs);
    let has: Vec<bool> = out.iter().map(|x| x.2.text.contains(blurb)).collect();
    assert_eq!(has, [true, true, false, false]);
    assert_eq!(out[3].2.attributes["cross_doc_paragraphs"], 1);
    assert!(out[3].2.text.starts_with(bodies[3]));
}

#[test]
fn config_errors_are_collected() {
    let table: toml::Table = toml::from_str("num_perm = 100\nthreshold = 1.5").unwrap();
    let err = factory().check(&table).unwrap_err();
    assert!(err.contains("num_perm must be a multiple of 64"), "{err}");
    assert!(err.contains("threshold must be in (0, 1]"), "{err}");
    let table: toml::Table = toml::from_str("treshold = 0.9").unwrap();
    assert!(factory()
        .check(&table)
        .unwrap_err()
        .contains("unknown field `treshold`"));
    assert!(factory().options().iter().all(|o| !o.doc.is_empty()));
}

#[test]
fn exact_hash_folding() {
    let h = |t: &str| exact_hash(t, true, true, true);
    assert_eq!(h("Hello,  World!\n"), h("hello world"));
    assert_ne!(h("hello world"), h("hello worlds"));
    assert_ne!(
        exact_hash("A b", false, true, true),
        exact_hash("a b", false, true, true)
    );
    assert_ne!(
        exact_hash("a  b", true, false, true),
        exact_hash("a b", true, false, true)
    );
}

#[test]
fn same_decisions_for_any_thread_count() {
    use rayon::prelude::*;
    let mut texts: Vec<String> = vec![SEED_000.into(), SEED_002.into(), SEED_003.into()];
    texts.push(syndicated_000());
    texts.push(SEED_003.to_lowercase());
    let half: Vec<&str> = SEED_002.split("\n\n").take(40).collect();
    texts.push(half.join("\n\n"));
    let texts: Vec<String> = texts.iter().cycle().take(24).cloned().collect();
    let config = DedupeConfig::default();
    let decide_all = |sigs: Vec<Signature>| {
        let mut d = Decider::new(config.clone());
        sigs.iter()
            .enumerate()
            .map(|(i, s)| d.judge(&format!("d{i}"), s).unwrap())
            .collect::<Vec<_>>()
    };
    let signer = Signer::new(config.clone());
    let sequential = decide_all(texts.iter().map(|t| signer.sign(t)).collect());
    for threads in [2, 3] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let parallel = pool.install(|| texts.par_iter().map(|t| signer.sign(t)).collect());
        assert_eq!(decide_all(parallel), sequential);
    }
    // 000, 002, 003 and the first 40 blocks of 002; the rest are copies.
    assert_eq!(
        sequential.iter().filter(|j| **j == Judgement::Keep).count(),
        4
    );
}

#[test]
fn odd_inputs_never_panic() {
    let (p, mut d) = build("cross_doc_paragraphs = true", &BuildContext::default());
    let huge_line = "word ".repeat(200_000);
    let docs: Vec<Document> = [
        "",
        "\n\n\n",
        "!!! ??? ...",
        "a",
        "\u{0}\u{feff}\u{202e}",
        "日本語のテキスト。日本語のテキスト。",
        huge_line.as_str(),
        huge_line.as_str(),
    ]
    .iter()
    .enumerate()
    .map(|(i, t)| Document::from_text(format!("x{i}"), *t))
    .collect();
    let out = run(&*p, &mut *d, docs);
    assert_eq!(out[7].1, "duplicate");
}
