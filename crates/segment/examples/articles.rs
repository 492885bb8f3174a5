//! Show which pages of a JSONL(.gz) file the article splitter would split, with the titles
//! (`cargo run -p sluicebox-segment --example articles -- file.jsonl.gz`).

use flate2::read::GzDecoder;
use std::io::{BufRead, BufReader, Read};

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: articles FILE.jsonl[.gz]");
        std::process::exit(2);
    };
    let file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(2);
        }
    };
    let reader: Box<dyn Read> = if path.ends_with(".gz") {
        Box::new(GzDecoder::new(file))
    } else {
        Box::new(file)
    };
    let (mut pages, mut split) = (0, 0);
    for line in BufReader::new(reader).lines().map_while(Result::ok) {
        let Ok(record) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        let Some(text) = record["text"].as_str() else {
            continue;
        };
        pages += 1;
        if let Some(found) = sluicebox_segment::articles::find(text, 2) {
            split += 1;
            println!("== {} ({} articles)", record["id"], found.parts.len());
            for (s, e, title) in &found.parts {
                let cue = text[*s..*e]
                    .lines()
                    .skip(1)
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("");
                let cue: String = cue.chars().take(90).collect();
                println!("   {title}\n      | {cue}");
            }
        }
    }
    println!("{split} of {pages} pages split");
}
