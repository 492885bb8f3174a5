//! Charset accuracy of `decode_bytes` on real files with known encodings.
//!
//! `cargo bench -p sluicebox-decode --bench charset_eval`
//!
//! Reads `../shared/corpora/charset/` (chardet's test files, UDHR in native
//! encodings, charset_normalizer's samples; each with a manifest of the true
//! encoding). For every file: the reference is the strict decoding of the
//! bytes with the true encoding (BOM removed when it matches), our result is
//! `decode_bytes(bytes, None)` (no declared charset, no TLD); both are
//! normalised and compared as text. So iso-8859-1 vs windows-1252 or pure
//! ASCII count as correct whenever the text is the same.
//!
//! True labels are resolved as the WHATWG Encoding Standard does (latin-1 and
//! ascii are windows-1252, gb2312 is GBK, tis-620 is windows-874, cp949 is
//! EUC-KR, cp932 is Shift_JIS). "Web encodings" = every encoding of the
//! standard except the DOS/Mac code pages IBM866, x-mac-cyrillic and
//! macintosh (kept in the standard for legacy content, practically absent
//! from the web) and the `replacement` encoding (ISO-2022-KR and friends).
//! Files whose true encoding is outside the standard (IBM855, Johab, EUC-TW,
//! UTF-32, ISO-2022-KR) have no web decoder and are listed as excluded.

use encoding_rs::Encoding;
use sluicebox_decode::{decode_bytes, normalize};
use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};

struct Item {
    set: &'static str,
    file: String,
    label: String,
    bytes: Vec<u8>,
}

fn main() {
    // Ignore criterion-style arguments (`--bench`).
    let root = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpora/charset"
    ));
    if !root.is_dir() {
        println!(
            "charset_eval: corpus not found at {} (skipped)",
            root.display()
        );
        return;
    }
    let items = match load(&root) {
        Ok(items) => items,
        Err(e) => {
            println!("charset_eval: cannot read the corpus: {e}");
            return;
        }
    };
    evaluate(&items);
    let web_raw = root.join("../web_raw/trafilatura_eval_html.tar.gz");
    let records = root.join("../web/trafilatura_eval.jsonl.gz");
    if web_raw.is_file() && records.is_file() {
        if let Err(e) = real_pages(&web_raw, &records) {
            println!("real pages: {e}");
        }
    }
}

/// Real crawled pages (trafilatura's evaluation set, Apache-2.0): decode
/// each page's bytes with its declared charset as the hint and compare with
/// how the corpus builder decoded it (BOM, valid UTF-8, mixed, meta,
/// fallback; see corpora/SOURCES.md). No ground truth here: agreement and
/// the rule mix show how the stage behaves on real pages, including the
/// mixed UTF-8/cp1252 ones.
fn real_pages(tar_path: &Path, records: &Path) -> Result<(), String> {
    use std::io::BufRead;
    let file = std::fs::File::open(records).map_err(|e| e.to_string())?;
    let mut meta: HashMap<String, (Option<String>, String, String)> = HashMap::new();
    for line in std::io::BufReader::new(flate2::read::GzDecoder::new(file)).lines() {
        let line = line.map_err(|e| e.to_string())?;
        let r: serde_json::Value = serde_json::from_str(&line).map_err(|e| e.to_string())?;
        let id = r["id"].as_str().unwrap_or_default();
        let stem = id.trim_start_matches("trafilatura_eval/").to_string();
        meta.insert(
            stem,
            (
                r["declared_charset"].as_str().map(str::to_string),
                r["decoded_as"].as_str().unwrap_or_default().to_string(),
                r["decode_rule"].as_str().unwrap_or_default().to_string(),
            ),
        );
    }
    let pages = read_tar_gz(tar_path)?;
    let mut names: Vec<&String> = pages.keys().collect();
    names.sort();
    let (mut matched, mut agree) = (0, 0);
    let mut rules: BTreeMap<&str, usize> = BTreeMap::new();
    let mut notes = Vec::new();
    for name in names {
        let stem = name
            .rsplit('/')
            .next()
            .unwrap_or(name)
            .trim_end_matches(".html");
        let Some((declared, decoded_as, rule)) = meta.get(stem) else {
            continue;
        };
        matched += 1;
        let got = decode_bytes(&pages[name], declared.as_deref());
        *rules.entry(got.rule.as_str()).or_default() += 1;
        let theirs = Encoding::for_label(decoded_as.replace('_', "-").as_bytes())
            .map(sluicebox_decode::detect::label)
            .unwrap_or("?");
        if theirs == got.encoding {
            agree += 1;
        } else {
            notes.push(format!(
                "  {stem}: declared {declared:?}, corpus {decoded_as} ({rule}), ours {} ({})",
                got.encoding,
                got.rule.as_str()
            ));
        }
        if got.rule.as_str() == "mixed" || rule.starts_with("mixed") {
            notes.push(format!(
                "  {stem}: corpus rule {rule}, ours {} ({}), {} U+FFFD",
                got.encoding,
                got.rule.as_str(),
                got.replacement_chars
            ));
        }
    }
    println!("\n== real pages: trafilatura_eval_html ({matched} pages matched to records), declared charset as hint");
    println!("rules used: {rules:?}");
    println!("same encoding as the corpus builder: {agree}/{matched}");
    for n in notes {
        println!("{n}");
    }
    Ok(())
}

fn load(root: &Path) -> Result<Vec<Item>, String> {
    let mut items = Vec::new();
    for (set, tar_name, manifest, prefix, field) in [
        (
            "chardet",
            "chardet_tests.tar.gz",
            "chardet_tests.manifest.json",
            "chardet_tests/",
            "true_encoding",
        ),
        (
            "udhr",
            "udhr_native_encodings.tar.gz",
            "udhr_native_encodings.manifest.json",
            "udhr_native/",
            "true_encoding",
        ),
    ] {
        let files = read_tar_gz(&root.join(tar_name))?;
        let manifest: serde_json::Value = read_json(&root.join(manifest))?;
        for entry in manifest.as_array().ok_or("manifest is not a list")? {
            let file = entry["file"].as_str().unwrap_or_default().to_string();
            let label = entry[field].as_str().unwrap_or_default().to_string();
            match files.get(&format!("{prefix}{file}")) {
                Some(bytes) => items.push(Item {
                    set,
                    file,
                    label,
                    bytes: bytes.clone(),
                }),
                None => println!("missing in {tar_name}: {file}"),
            }
        }
    }
    let cn = root.join("charset_normalizer_samples");
    let expected: serde_json::Value = read_json(&cn.join("expected.json"))?;
    for entry in expected.as_array().ok_or("expected.json is not a list")? {
        let file = entry["file"].as_str().unwrap_or_default().to_string();
        let label = entry["expected_charset"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let bytes = std::fs::read(cn.join(&file)).map_err(|e| format!("{file}: {e}"))?;
        items.push(Item {
            set: "charset_normalizer",
            file,
            label,
            bytes,
        });
    }
    Ok(items)
}

fn read_json(path: &Path) -> Result<serde_json::Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

fn read_tar_gz(path: &Path) -> Result<HashMap<String, Vec<u8>>, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut out = HashMap::new();
    for entry in archive.entries().map_err(|e| e.to_string())? {
        let mut entry = entry.map_err(|e| e.to_string())?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let name = entry
            .path()
            .map_err(|e| e.to_string())?
            .to_string_lossy()
            .into_owned();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).map_err(|e| e.to_string())?;
        out.insert(name, bytes);
    }
    Ok(out)
}

/// The true encoding as the WHATWG standard names it, or None outside it.
fn resolve(label: &str) -> Option<&'static Encoding> {
    let l = label.trim().to_ascii_lowercase().replace('_', "-");
    let alias = match l.as_str() {
        "latin-1" => "latin1",
        "utf-8-sig" => "utf-8",
        "utf-16" => "utf-16le", // BOM decides below
        "cp949" => "euc-kr",
        "cp932" => "shift_jis",
        "mac-cyrillic" | "maccyrillic" => "x-mac-cyrillic",
        "macroman" => "macintosh",
        other => other,
    };
    Encoding::for_label(alias.as_bytes())
        .or_else(|| Encoding::for_label(alias.replace('-', "_").as_bytes()))
        .filter(|e| *e != encoding_rs::REPLACEMENT)
}

fn is_web(e: &'static Encoding) -> bool {
    e != encoding_rs::IBM866 && e != encoding_rs::X_MAC_CYRILLIC && e != encoding_rs::MACINTOSH
}

fn family(e: &'static Encoding) -> &'static str {
    use encoding_rs::*;
    match e {
        e if e == UTF_8 || e == UTF_16LE || e == UTF_16BE => "Unicode (UTF-8/16)",
        e if e == WINDOWS_1252 || e == ISO_8859_15 => "Western (latin-1/cp1252)",
        e if e == WINDOWS_1250 || e == ISO_8859_2 || e == ISO_8859_16 => "Central European",
        e if e == WINDOWS_1251 || e == ISO_8859_5 || e == KOI8_R || e == KOI8_U => "Cyrillic",
        e if e == IBM866 || e == X_MAC_CYRILLIC => "Cyrillic DOS/Mac (not web)",
        e if e == MACINTOSH => "Mac Roman (not web)",
        e if e == WINDOWS_1253 || e == ISO_8859_7 => "Greek",
        e if e == WINDOWS_1255 || e == ISO_8859_8 || e == ISO_8859_8_I => "Hebrew",
        e if e == WINDOWS_1256 || e == ISO_8859_6 => "Arabic",
        e if e == WINDOWS_1254 => "Turkish",
        e if e == WINDOWS_1257 || e == ISO_8859_4 || e == ISO_8859_13 => "Baltic",
        e if e == WINDOWS_874 => "Thai",
        e if e == SHIFT_JIS => "Japanese Shift_JIS",
        e if e == EUC_JP => "Japanese EUC-JP",
        e if e == ISO_2022_JP => "Japanese ISO-2022-JP",
        e if e == EUC_KR => "Korean EUC-KR",
        e if e == GBK || e == GB18030 => "Chinese GBK/GB18030",
        e if e == BIG5 => "Chinese Big5",
        _ => "other",
    }
}

/// Manifest labels that the text itself contradicts, and the encoding the
/// text really is in. Two checks, both mechanical:
/// * an ISO-8859-x label on bytes with 0x80..0x9F: those are C1 control
///   codes in ISO-8859, never text, so the file is in the Windows sibling
///   code page (NLTK's UDHR table calls several cp1250 files Latin2);
/// * an ISO-8859-5 label whose decoding's most frequent Cyrillic letter is
///   not one of о/а/е/и (the most frequent letter of every Cyrillic-script
///   language) while the windows-1251 decoding's is.
fn corrected(bytes: &[u8], enc: &'static Encoding) -> Option<&'static Encoding> {
    use encoding_rs::*;
    let sibling = match enc {
        e if e == ISO_8859_2 => WINDOWS_1250,
        e if e == ISO_8859_5 => WINDOWS_1251,
        e if e == ISO_8859_6 => WINDOWS_1256,
        e if e == ISO_8859_7 => WINDOWS_1253,
        e if e == ISO_8859_8 || e == ISO_8859_8_I => WINDOWS_1255,
        e if e == ISO_8859_4 || e == ISO_8859_13 => WINDOWS_1257,
        _ => return None,
    };
    if bytes.iter().any(|b| (0x80..0xA0).contains(b)) {
        return Some(sibling);
    }
    if enc == ISO_8859_5 {
        let top = |e: &'static Encoding| {
            let (text, _) = e.decode_without_bom_handling(bytes);
            let mut counts: HashMap<char, usize> = HashMap::new();
            for c in text.chars().filter(|c| ('\u{400}'..='\u{4ff}').contains(c)) {
                *counts.entry(c).or_default() += 1;
            }
            counts
                .into_iter()
                .max_by_key(|&(c, n)| (n, c))
                .map(|(c, _)| c)
        };
        let common = |c: Option<char>| matches!(c, Some('о' | 'а' | 'е' | 'и'));
        if !common(top(enc)) && common(top(sibling)) {
            return Some(sibling);
        }
    }
    None
}

/// Strict decoding with the true encoding; None if the bytes are malformed.
fn reference(bytes: &[u8], label: &str, enc: &'static Encoding) -> Option<String> {
    if let Some((bom_enc, len)) = Encoding::for_bom(bytes) {
        let generic_utf16 = label.eq_ignore_ascii_case("utf-16")
            && (bom_enc == encoding_rs::UTF_16LE || bom_enc == encoding_rs::UTF_16BE);
        if bom_enc == enc || generic_utf16 {
            return bom_enc
                .decode_without_bom_handling_and_without_replacement(&bytes[len..])
                .map(|c| c.into_owned());
        }
    }
    enc.decode_without_bom_handling_and_without_replacement(bytes)
        .map(|c| c.into_owned())
}

#[derive(Default)]
struct Tally {
    n: usize,
    ok: usize,
}

impl Tally {
    fn add(&mut self, ok: bool) {
        self.n += 1;
        self.ok += usize::from(ok);
    }
    fn pct(&self) -> f64 {
        if self.n == 0 {
            0.0
        } else {
            100.0 * self.ok as f64 / self.n as f64
        }
    }
}

fn evaluate(items: &[Item]) {
    let mut by_family: BTreeMap<&str, Tally> = BTreeMap::new();
    let mut by_set: BTreeMap<&str, Tally> = BTreeMap::new();
    let mut by_label: BTreeMap<String, Tally> = BTreeMap::new();
    let (mut web, mut whatwg, mut web_non_ascii) =
        (Tally::default(), Tally::default(), Tally::default());
    let mut web_corrected = Tally::default();
    let mut by_family_corrected: BTreeMap<&str, Tally> = BTreeMap::new();
    let mut relabelled = Vec::new();
    let mut excluded: BTreeMap<String, usize> = BTreeMap::new();
    let mut no_reference = Vec::new();
    let mut failures = Vec::new();
    let mut rules: BTreeMap<&str, usize> = BTreeMap::new();

    for item in items {
        let Some(enc) = resolve(&item.label) else {
            *excluded.entry(item.label.clone()).or_default() += 1;
            continue;
        };
        let Some(truth) = reference(&item.bytes, &item.label, enc) else {
            no_reference.push(format!("{}/{} ({})", item.set, item.file, item.label));
            continue;
        };
        let truth = normalize(&truth).into_owned();
        let got = decode_bytes(&item.bytes, None);
        let ok = got.text == truth;
        *rules.entry(got.rule.as_str()).or_default() += 1;
        by_family.entry(family(enc)).or_default().add(ok);
        by_set.entry(item.set).or_default().add(ok);
        by_label
            .entry(format!("{} -> {}", item.label, enc.name()))
            .or_default()
            .add(ok);
        whatwg.add(ok);
        if is_web(enc) {
            web.add(ok);
            if !item.bytes.is_ascii() {
                web_non_ascii.add(ok);
            }
        }
        let fixed = corrected(&item.bytes, enc);
        let ok_corrected = match fixed {
            Some(real) => {
                let truth = real
                    .decode_without_bom_handling_and_without_replacement(&item.bytes)
                    .map(|t| normalize(&t).into_owned());
                let ok = truth.as_deref() == Some(got.text.as_str());
                relabelled.push(format!(
                    "{}/{}: {} -> {} (decoded {})",
                    item.set,
                    item.file,
                    enc.name(),
                    real.name(),
                    if ok { "correctly" } else { "WRONG" }
                ));
                ok
            }
            None => ok,
        };
        let real = fixed.unwrap_or(enc);
        if is_web(real) {
            web_corrected.add(ok_corrected);
            by_family_corrected
                .entry(family(real))
                .or_default()
                .add(ok_corrected);
        }
        if !ok {
            failures.push(format!(
                "  {}/{}: true {} ({}), got {} via {} ({:?}){}",
                item.set,
                item.file,
                item.label,
                enc.name(),
                got.encoding,
                got.rule.as_str(),
                got.confidence.map(|c| c.as_str()),
                if is_web(enc) { "" } else { " [not web]" }
            ));
        }
    }

    println!(
        "== charset accuracy: decode_bytes(bytes, None) vs strict decoding with the true encoding"
    );
    println!("{} files read", items.len());
    println!("\n-- per family (true encoding)");
    println!("{:<30} {:>6} {:>6} {:>8}", "family", "files", "ok", "acc %");
    for (f, t) in &by_family {
        println!("{:<30} {:>6} {:>6} {:>8.1}", f, t.n, t.ok, t.pct());
    }
    println!("\n-- per family, web encodings, manifest corrected (see below)");
    for (f, t) in &by_family_corrected {
        println!("{:<30} {:>6} {:>6} {:>8.1}", f, t.n, t.ok, t.pct());
    }
    println!("\n-- per true label");
    for (l, t) in &by_label {
        println!("{:<40} {:>5} {:>5} {:>7.1}", l, t.n, t.ok, t.pct());
    }
    println!("\n-- per set");
    for (s, t) in &by_set {
        println!("{:<30} {:>6} {:>6} {:>8.1}", s, t.n, t.ok, t.pct());
    }
    println!("\n-- rules used: {rules:?}");
    println!(
        "\nWEB ENCODINGS (WHATWG minus IBM866/x-mac-cyrillic/macintosh): {}/{} = {:.2}%  (target >= 97%)",
        web.ok,
        web.n,
        web.pct()
    );
    println!(
        "  of which files with non-ASCII bytes: {}/{} = {:.2}%",
        web_non_ascii.ok,
        web_non_ascii.n,
        web_non_ascii.pct()
    );
    println!(
        "WEB ENCODINGS, MANIFEST CORRECTED ({} labels the text contradicts): {}/{} = {:.2}%",
        relabelled.len(),
        web_corrected.ok,
        web_corrected.n,
        web_corrected.pct()
    );
    for r in &relabelled {
        println!("  relabelled {r}");
    }
    println!(
        "ALL WHATWG ENCODINGS: {}/{} = {:.2}%",
        whatwg.ok,
        whatwg.n,
        whatwg.pct()
    );
    println!("\n-- excluded, true encoding outside the WHATWG standard: {excluded:?}");
    println!(
        "-- excluded, bytes not strictly decodable with the labelled encoding ({}): {:?}",
        no_reference.len(),
        no_reference
    );
    println!("\n-- failures ({})", failures.len());
    for f in &failures {
        println!("{f}");
    }
}
