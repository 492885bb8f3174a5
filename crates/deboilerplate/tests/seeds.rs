//! The seed pages: every line a reader would call boilerplate is removed,
//! every other line (article sentences, headings, the article titles of the
//! multi-article index page that the segment stage splits on) survives.

use sluicebox_core::{Cx, Document, ParallelStage, Verdict};
use sluicebox_deboilerplate::{Cleaner, DeboilerplateConfig};

fn seed(name: &str) -> String {
    let path = format!(
        "{}/../../tests/fixtures/seeds/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// (seed file, the exact boilerplate lines expected removed, in order).
/// Kept on purpose: "China, Russia, Pakistan and India' competing for
/// 'Taliban's favour'" (000; a related headline or a kicker, undecidable
/// without the site's other pages), the bullet summary lines and mid-article
/// headlines of 002 ("Russian President Vladimir Putin discusses ...": they
/// may be related links, but they read as subheadings and losing a heading
/// costs more than keeping a link).
const CASES: &[(&str, &[&str])] = &[
    (
        "000_e7f6ed2af000063c.txt",
        &[
            "We use your sign-up to provide content in ways you’ve consented to and to improve our understanding of you. This may include adverts from us and 3rd parties based on our understanding. You can unsubscribe at any time. More info",
            "Extinction Rebellion protester slammed in fiery climate change row\u{a0}[VIDEO]",
            "Joe Biden receives report on Covid origins after US probe Wuhan\u{a0}[REPORT]",
            "Mark Rutte’s scathing assessment of Brexit Britain laid bare\u{a0}[REVEAL]",
            "Source: Read Full Article",
        ],
    ),
    (
        "002_31699701fbb39e56.txt",
        &[
            "Home Blog Page 191",
            "0",
            "More About US Secretary Anthony Blinken",
            "0",
            "For More Diplomat News",
            "0",
            "For More Diplomat News",
            "0",
            "For More About US-INDIA",
            "Source : Wikipedia, https://www.state.gov/,\u{a0} Blinken Twitter.",
            "for more diplomat news/breaking news follow our twitter https://twitter.com/diplomattimes",
            "0",
            "0",
            "For More Diplomat News",
            "More About NATO News",
        ],
    ),
    (
        "003_240feac35cea67fe.txt",
        &["[ad_1]", "[ad_2]", "Source link"],
    ),
];

#[test]
fn seeds_lose_exactly_their_boilerplate() {
    let cleaner = Cleaner::new(DeboilerplateConfig {
        explain: true,
        ..DeboilerplateConfig::default()
    })
    .unwrap();
    for (name, expected) in CASES {
        let original = seed(name);
        let mut doc = Document::from_text(*name, original.clone());
        let verdict = cleaner.process(&mut doc, &mut Cx::default()).unwrap();
        assert!(matches!(verdict, Verdict::Changed), "{name}: {verdict:?}");
        let removed: Vec<String> = doc.attributes["boilerplate_removed"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["line"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(&removed, expected, "{name}: removed lines");
        assert_eq!(
            doc.attributes["boilerplate_lines"],
            expected.len(),
            "{name}"
        );
        assert_eq!(doc.attributes["lang"], "en", "{name}");
        // Every other line is still there, in order.
        let kept: Vec<&str> = doc
            .text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        let mut want: Vec<&str> = original
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        for r in *expected {
            let pos = want.iter().position(|l| l == r).unwrap();
            want.remove(pos);
        }
        assert_eq!(kept, want, "{name}: kept lines");
    }
}

#[test]
fn index_page_keeps_every_article_title_twice() {
    let cleaner = Cleaner::new(DeboilerplateConfig::default()).unwrap();
    let mut doc = Document::from_text("002", seed("002_31699701fbb39e56.txt"));
    cleaner.process(&mut doc, &mut Cx::default()).unwrap();
    for title in [
        "Blinken meets China’s Wang Yi, warns China against helping Russia, first meeting after balloon controversy too",
        "In the British Government they remain Equivocal about giving ‘air power’ to Ukraine",
        "South Korea President Yoon hosts New Year’s luncheon for Diplomats in Korea",
        "Deputy Secretary of Defense Dr. Kathleen Hicks’ Meeting With Indian NSA Ajit Doval, discusses bilateral ties",
    ] {
        assert_eq!(doc.text.lines().filter(|l| *l == title).count(), 2, "{title}");
    }
    // Paragraphs stay separated by one blank line, never more.
    assert!(!doc.text.contains("\n\n\n"));
    assert!(doc.text.contains(
        "talks with Beijing’s top diplomat, Wang Yi.\n\nThe meeting of the two senior officials"
    ));
}
