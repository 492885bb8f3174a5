//! The `mojibake` stage: repairs encoding accidents in decoded text.
//!
//! Scraped text often went through a wrong decode: UTF-8 read as
//! windows-1252 (`â€œ` for `“`, `Ã©` for `é`), sometimes twice
//! (`Ã¢â‚¬â„¢` for `’`), or as windows-1251 (`РџСЂРѕ`), mac-roman, cp437
//! ... This stage finds the damaged spans (also inside otherwise clean
//! text), re-encodes them in the codec that damaged them and decodes them as
//! UTF-8 when that reads better (see [`repair`] for how "better" is
//! decided). Around that: HTML character references left in plain text and
//! their damaged forms (` quot;`, ` #39;`), C1 controls that mean
//! windows-1252 punctuation, surrogate pairs written out as `\uD83D\uDE00`,
//! and optionally no-break spaces, curly quotes and ligatures.
//!
//! Fast path: one byte scan with a 256-entry table; a document without a
//! byte that could start a repair passes untouched (most documents).
//! Complexity: linear in the text length (the slow path is a constant number
//! of linear passes: at most four mojibake passes × eight codecs).

mod codecs;
mod entities_table;
pub mod repair;
mod tables;
pub mod text;

use repair::Fix;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sluicebox_core::plugin::{factory as plugin_factory, BuildContext, Reason, StagePlugin};
use sluicebox_core::{Built, Cx, Document, ParallelStage, StageError, StageFactory, Verdict};
use std::sync::Arc;

/// Options of the `mojibake` stage.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct MojibakeConfig {
    /// Repair UTF-8 misread as a single-byte codec (windows-1252, latin-1,
    /// windows-1251/1250/1253/1257, iso-8859-2, mac-roman, cp437), repeatedly
    /// for text damaged more than once.
    pub encoding: bool,
    /// Decode HTML character references (`&amp;`, `&#8217;`, `&eacute;`) left
    /// in plain text. Turn off when the text is HTML or markup on purpose.
    pub html_entities: bool,
    /// Decode references whose `&` was turned into a space by a broken
    /// export (` quot;`, ` #39;`, ` amp;`), consuming that space.
    pub damaged_entities: bool,
    /// Replace C1 control characters that stand for windows-1252 characters
    /// (`\x93` → `“`, `\x85` → `…`); undefined ones (`\x81`) stay.
    pub c1_controls: bool,
    /// Decode UTF-16 surrogate pairs written out as `\ud83d\ude00` (bad JSON
    /// escaping); lone surrogates are left as written.
    pub surrogate_escapes: bool,
    /// Turn no-break spaces (U+00A0, U+2007, U+202F) into plain spaces.
    pub nbsp_to_space: bool,
    /// Replace curly quotes with ASCII `'` and `"`. Off by default: training
    /// data usually wants the original characters.
    pub ascii_quotes: bool,
    /// Split typographic ligatures (`ﬁ` → `fi`).
    pub split_ligatures: bool,
    /// Record each fix in `attributes.mojibake_explain` as
    /// `{from, to, codec}` (what the span was, what it became, and the codec
    /// or rule that explains it).
    pub explain: bool,
}

impl Default for MojibakeConfig {
    fn default() -> Self {
        MojibakeConfig {
            encoding: true,
            html_entities: true,
            damaged_entities: true,
            c1_controls: true,
            surrogate_escapes: true,
            nbsp_to_space: false,
            ascii_quotes: false,
            split_ligatures: false,
            explain: false,
        }
    }
}

/// The plugin (declarative half).
pub struct Mojibake;

impl StagePlugin for Mojibake {
    type Config = MojibakeConfig;
    const TYPE: &'static str = "mojibake";
    const SUMMARY: &'static str =
        "repair mojibake (UTF-8 misread as windows-1252 etc.), HTML entities, C1 controls";
    const REASONS: &'static [Reason] = &[];

    fn build(config: &MojibakeConfig, _cx: &BuildContext) -> Result<Built, StageError> {
        Ok(Built::Parallel(Arc::new(MojibakeStage::new(
            config.clone(),
        ))))
    }
}

/// The registry entry.
pub fn factory() -> Box<dyn StageFactory> {
    plugin_factory::<Mojibake>()
}

// Bits of the scan table: which trigger a byte may start.
const T_HIGH: u8 = 1; // a non-ASCII character worth a closer look
const T_AMP: u8 = 2; // `&`
const T_SEMI: u8 = 4; // `;` of a damaged reference
const T_BSLASH: u8 = 8; // `\` of `\uD83D`

/// A one-character replacement rule (quotes, ligatures, no-break spaces).
type CharMap = fn(char) -> Option<&'static str>;

/// The runtime half; also usable directly (benches, other tools).
pub struct MojibakeStage {
    config: MojibakeConfig,
    table: [u8; 256],
    /// Every trigger bit the table can produce: the scan stops early once
    /// all have been seen.
    all: u8,
}

impl MojibakeStage {
    pub fn new(config: MojibakeConfig) -> Self {
        let mut table = [0u8; 256];
        let lead = codecs::lead_first_bytes();
        for b in 0x80..256 {
            let mut hit = false;
            if config.encoding && lead[b] {
                hit = true;
            }
            // C1 controls and no-break space start with 0xC2; U+FFFD,
            // ligatures with 0xEF; U+2007/U+202F and curly quotes with 0xE2.
            if (config.encoding || config.c1_controls || config.nbsp_to_space) && b == 0xC2 {
                hit = true;
            }
            if (config.encoding || config.split_ligatures) && b == 0xEF {
                hit = true;
            }
            if (config.nbsp_to_space || config.ascii_quotes) && b == 0xE2 {
                hit = true;
            }
            if config.split_ligatures && b == 0xC4 {
                hit = true;
            }
            if hit {
                table[b] = T_HIGH;
            }
        }
        if config.html_entities {
            table[b'&' as usize] |= T_AMP;
        }
        if config.damaged_entities {
            table[b';' as usize] |= T_SEMI;
        }
        if config.surrogate_escapes {
            table[b'\\' as usize] |= T_BSLASH;
        }
        let all = table.iter().fold(0, |a, &t| a | t);
        MojibakeStage { config, table, all }
    }

    /// The fast path: could any repair apply to `text`? One pass over the
    /// bytes; only flagged bytes get a closer look. Returns the trigger
    /// bits seen (0: nothing to do), so the slow path runs only the repairs
    /// that may apply.
    pub fn needs_work(&self, text: &str) -> u8 {
        let all = self.all;
        let mut seen = 0u8;
        for (i, &byte) in text.as_bytes().iter().enumerate() {
            let t = self.table[byte as usize];
            if t & !seen != 0 && self.closer_look(text, i, t) {
                seen |= t;
                if seen == all {
                    break;
                }
            }
        }
        seen
    }

    /// Byte offset and trigger bit of the first place the fast scan sends
    /// `text` to the slow path (for benches and debugging).
    pub fn first_trigger(&self, text: &str) -> Option<(usize, u8)> {
        text.as_bytes().iter().enumerate().find_map(|(i, &byte)| {
            let t = self.table[byte as usize];
            (t != 0 && self.closer_look(text, i, t)).then_some((i, t))
        })
    }

    fn closer_look(&self, text: &str, i: usize, t: u8) -> bool {
        let b = text.as_bytes();
        if t & T_AMP != 0 {
            // `&` + name or `#` + ... + `;` nearby.
            return b[i + 1..]
                .iter()
                .take(34)
                .position(|&c| c == b';')
                .is_some_and(|p| {
                    b[i + 1..i + 1 + p]
                        .iter()
                        .all(|&c| c.is_ascii_alphanumeric() || c == b'#')
                        && p > 0
                });
        }
        if t & T_SEMI != 0 {
            // ` quot;` / ` #39;`: a space a few bytes back, then `#` and
            // digits or one of the few names such dumps damage.
            let start = i.saturating_sub(7);
            return b[start..i]
                .iter()
                .rposition(|&c| c == b' ')
                .is_some_and(|p| {
                    let body = &b[start + p + 1..i];
                    match body.split_first() {
                        Some((b'#', digits)) => {
                            !digits.is_empty() && digits.iter().all(u8::is_ascii_digit)
                        }
                        _ => matches!(body, b"quot" | b"amp" | b"lt" | b"gt" | b"apos" | b"nbsp"),
                    }
                });
        }
        if t & T_BSLASH != 0 {
            return matches!(b.get(i + 1..i + 3), Some([b'u', b'd' | b'D']));
        }
        // A non-ASCII character: i is a char boundary (bytes before were
        // skipped whole or were ASCII), so decode it and its neighbour.
        let Some(rest) = text.get(i..) else {
            return false;
        };
        let mut it = rest.chars();
        let Some(c) = it.next() else {
            return false;
        };
        let next = it.next();
        let cfg = &self.config;
        if (cfg.c1_controls || cfg.encoding) && ('\u{80}'..='\u{9F}').contains(&c) {
            return true;
        }
        if cfg.nbsp_to_space && text::nbsp_variant(c).is_some() {
            return true;
        }
        if cfg.ascii_quotes && text::ascii_quote(c).is_some() {
            return true;
        }
        if cfg.split_ligatures && text::ligature(c).is_some() {
            return true;
        }
        if !cfg.encoding {
            return false;
        }
        if c == '\u{FFFD}' {
            return true;
        }
        let lead = codecs::info(c).lead;
        if lead == 0 {
            return false;
        }
        match next {
            // A space or `?` standing for a lost byte (`Ã ` for `à`).
            Some(' ') | Some('?') => {
                matches!(c, 'Â' | 'Ã' | 'Å' | 'Î' | 'Ð' | 'Ù' | 'Г' | 'Р' | 'â')
            }
            Some('\u{FFFD}') => true,
            Some(n) => {
                if lead & codecs::info(n).cont == 0 {
                    return false;
                }
                // Two lowercase letters (`ні;`, `ół`) start a multi-byte
                // sequence only in a 3/4-byte lead's codec; unless a symbol
                // continues it, the repair would reject it (a sequence made
                // of letters reads as a word), so skip the slow path.
                let letter = |x: char| x.is_alphabetic() && !matches!(x, 'µ' | 'ª' | 'º');
                if c.is_lowercase() && n.is_lowercase() && letter(n) {
                    return it
                        .next()
                        .is_some_and(|x| !letter(x) && lead & codecs::info(x).cont != 0);
                }
                true
            }
            None => false,
        }
    }

    /// Repair `text`; returns the new text (if changed) and the fixes.
    pub fn repair(&self, input: &str) -> (Option<String>, Vec<Fix>) {
        let mut fixes = Vec::new();
        let seen = self.needs_work(input);
        if seen == 0 {
            return (None, fixes);
        }
        let high = seen & T_HIGH != 0;
        let cfg = &self.config;
        let mut cur: Option<String> = None;
        let step = |f: &mut dyn FnMut(&str, &mut Vec<Fix>) -> Option<String>,
                    cur: &mut Option<String>,
                    fixes: &mut Vec<Fix>| {
            let src = cur.as_deref().unwrap_or(input);
            if let Some(next) = f(src, fixes) {
                *cur = Some(next);
            }
        };
        if cfg.surrogate_escapes && seen & T_BSLASH != 0 {
            step(&mut text::decode_surrogate_escapes, &mut cur, &mut fixes);
        }
        if (cfg.html_entities || cfg.damaged_entities) && seen & (T_AMP | T_SEMI) != 0 {
            let (named, damaged) = (cfg.html_entities, cfg.damaged_entities);
            step(
                &mut |s: &str, f: &mut Vec<Fix>| text::decode_entities(s, named, damaged, f),
                &mut cur,
                &mut fixes,
            );
        }
        // Entities may have produced mojibake (`â&#x20AC;&#x2122;`).
        let high = high
            || cur
                .as_deref()
                .is_some_and(|s| self.needs_work(s) & T_HIGH != 0);
        if cfg.encoding && high {
            step(&mut repair::fix_mojibake, &mut cur, &mut fixes);
        }
        if cfg.c1_controls && high {
            step(&mut text::fix_c1, &mut cur, &mut fixes);
        }
        let simple: [(bool, CharMap, &'static str); 3] = [
            (cfg.nbsp_to_space, text::nbsp_variant, "nbsp-to-space"),
            (cfg.ascii_quotes, text::ascii_quote, "ascii-quotes"),
            (cfg.split_ligatures, text::ligature, "split-ligatures"),
        ];
        for (on, f, name) in simple {
            if !on || !high {
                continue;
            }
            let src = cur.as_deref().unwrap_or(input);
            if let Some((next, n)) = text::map_chars(src, f) {
                for _ in 0..n {
                    fixes.push(Fix {
                        from: String::new(),
                        to: String::new(),
                        codec: name,
                    });
                }
                cur = Some(next);
            }
        }
        match cur {
            Some(s) if s != input => (Some(s), fixes),
            _ => (None, Vec::new()),
        }
    }
}

impl ParallelStage for MojibakeStage {
    fn process(&self, doc: &mut Document, cx: &mut Cx) -> Result<Verdict, StageError> {
        let (fixed, fixes) = self.repair(&doc.text);
        let Some(fixed) = fixed else {
            return Ok(Verdict::Unchanged);
        };
        let n = fixes.len() as u64;
        doc.text = fixed;
        doc.set_attr("mojibake_fixes", n);
        if self.config.explain {
            let list: Vec<Value> = fixes
                .iter()
                .map(|f| {
                    if f.from.is_empty() {
                        json!({ "codec": f.codec })
                    } else {
                        json!({ "from": f.from, "to": f.to, "codec": f.codec })
                    }
                })
                .collect();
            doc.set_attr("mojibake_explain", Value::Array(list));
        }
        cx.count("mojibake_fixes", n);
        Ok(Verdict::Changed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(cfg: MojibakeConfig, text: &str) -> (String, Document) {
        let stage = MojibakeStage::new(cfg);
        let mut doc = Document::from_text("t", text);
        let mut cx = Cx::default();
        stage.process(&mut doc, &mut cx).unwrap();
        (doc.text.clone(), doc)
    }

    #[test]
    fn stage_annotates_and_explains() {
        let cfg = MojibakeConfig {
            explain: true,
            ..Default::default()
        };
        let (text, doc) = run(cfg, "The Mona Lisa doesnâ€™t have eyebrows &amp; smiles.");
        assert_eq!(text, "The Mona Lisa doesn’t have eyebrows & smiles.");
        assert_eq!(doc.attributes["mojibake_fixes"], 2);
        let explain = doc.attributes["mojibake_explain"].as_array().unwrap();
        assert!(explain
            .iter()
            .any(|f| f["from"] == "â€™" && f["to"] == "’" && f["codec"] == "windows-1252"));
    }

    #[test]
    fn entities_that_hide_mojibake() {
        // nltk_webtext/overheard.txt: windows-1252 mojibake written as
        // numeric references.
        let (text, _) = run(
            MojibakeConfig::default(),
            "Shh, donâ&#x20AC;&#x2122;t say that!",
        );
        assert_eq!(text, "Shh, don’t say that!");
    }

    #[test]
    fn options_switch_repairs() {
        let off = MojibakeConfig {
            html_entities: false,
            ..Default::default()
        };
        assert_eq!(run(off, "R&amp;D").0, "R&amp;D");
        let on = MojibakeConfig {
            ascii_quotes: true,
            split_ligatures: true,
            nbsp_to_space: true,
            ..Default::default()
        };
        assert_eq!(run(on, "“ﬁne”\u{a0}day’s").0, "\"fine\" day's");
        assert_eq!(
            run(MojibakeConfig::default(), "“ﬁne”\u{a0}day’s").0,
            "“ﬁne”\u{a0}day’s"
        );
    }

    #[test]
    fn fast_path_passes_clean_text_after_one_scan() {
        let stage = MojibakeStage::new(MojibakeConfig::default());
        for clean in [
            "He said “it’s fine” – and left… ©2012; see p. 3",
            "Il est allé à la gare; voilà le travail à faire.",
            "вчиняти дії, спрямовані; чоловіків і жінок",
            "Tiếng Việt, Ελληνικά, 日本語, עברית, العربية",
            "",
        ] {
            assert_eq!(stage.needs_work(clean), 0, "{clean}");
        }
        // `Сі` (Ukrainian) looks like windows-1251 mojibake to the scan; the
        // slow path then leaves it alone.
        let ukr = "Ukraine’s Січень";
        assert_ne!(stage.needs_work(ukr), 0);
        assert_eq!(stage.repair(ukr).0, None);
        for damaged in [
            "cafÃ©",
            "the world #39;s",
            "R&amp;D",
            "\u{93}quoted\u{94}",
            "\\ud83d\\ude00",
        ] {
            assert_ne!(stage.needs_work(damaged), 0, "{damaged}");
        }
    }

    #[test]
    fn never_panics_on_odd_input() {
        let stage = MojibakeStage::new(MojibakeConfig::default());
        for s in [
            "", "&", "&#", "&#;", " #;", ";", "\\u", "\\ud83d", "Ã", "â€", "í\u{a0}", "\u{80}",
            "Ã ", "?Ã?",
        ] {
            let _ = stage.repair(s);
        }
    }

    /// Random strings over the characters that steer the repair (codec
    /// images, lost-byte stand-ins, entity and escape syntax): no panic, no
    /// text lost, the fix count matches the explain list.
    #[test]
    fn random_tricky_strings() {
        let pool: Vec<char> = "Ã©â€™Â\u{a0}\u{85}\u{9d}\u{81}РСЂѓґ╨┐├┤√∂ÄŒÅ¡í½¸ï¿�ð\u{9f}Ÿ˜™ \n?&#;amp quot39\\ud83de0x€‚ƒ„…†‡ˆ‰Š‹Œ‘’“”•–—ΗλαБВГДЕ日本aZ."
            .chars()
            .collect();
        let stage = MojibakeStage::new(MojibakeConfig {
            explain: true,
            ..Default::default()
        });
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..3000 {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let len = (state >> 59) as usize;
            let mut s = String::new();
            for _ in 0..len {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                s.push(pool[(state % pool.len() as u64) as usize]);
            }
            let mut doc = Document::from_text("r", s.clone());
            let mut cx = Cx::default();
            stage.process(&mut doc, &mut cx).unwrap();
            assert_eq!(doc.text.is_empty(), s.is_empty(), "{s:?}");
            if let Some(n) = doc.attributes.get("mojibake_fixes") {
                let listed = doc.attributes["mojibake_explain"]
                    .as_array()
                    .map_or(0, Vec::len);
                assert_eq!(n.as_u64(), Some(listed as u64), "{s:?}");
            }
        }
    }

    #[test]
    fn config_defaults_and_unknown_keys() {
        let f = factory();
        assert_eq!(f.type_name(), "mojibake");
        let bad: toml::Table = toml::from_str("explian = true").unwrap();
        assert!(f.check(&bad).unwrap_err().contains("unknown field"));
        assert!(f
            .options()
            .iter()
            .any(|o| o.name == "explain" && o.default == "false"));
    }
}
