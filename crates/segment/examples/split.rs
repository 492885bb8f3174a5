//! Print the sentences of stdin, one a line (`cargo run -p sluicebox-segment --example split -- en < page.txt`).

use std::io::Read;

fn main() {
    let lang = std::env::args().nth(1).unwrap_or_else(|| "en".to_string());
    let mut text = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut text) {
        eprintln!("stdin: {e}");
        std::process::exit(2);
    }
    let seg = sluicebox_segment::Segmenter::for_lang(&lang);
    for (s, e) in seg.split(&text) {
        println!("{}", text[s..e].replace('\n', "⏎"));
    }
}
