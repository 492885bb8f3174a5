//! The reverse lexicon: spun phrase -> candidate original phrases.
//!
//! Loaded from tab-separated files (the shipped `data/spinner/en.tsv`, whose
//! header documents the format, plus user files) and optionally from the
//! Problematic Paper Screener "tortured phrases" CSV. All keys go into one
//! Aho-Corasick automaton (ASCII case-insensitive, leftmost-longest), so
//! finding every candidate span in a document is one linear scan.

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use std::collections::HashMap;

/// Where an entry may fire (column 3 of the lexicon file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Gate {
    Any,
    Lower,
    Cap,
    NameNext,
    NamePrev,
    Num,
}

impl Gate {
    fn parse(s: &str) -> Option<Gate> {
        Some(match s {
            "any" => Gate::Any,
            "lower" => Gate::Lower,
            "cap" => Gate::Cap,
            "name_next" => Gate::NameNext,
            "name_prev" => Gate::NamePrev,
            "num" => Gate::Num,
            _ => return None,
        })
    }
}

/// One way a spun phrase may be read back.
#[derive(Debug, Clone)]
pub struct Rule {
    pub gate: Gate,
    /// Prior for the original, in nats.
    pub bias: f64,
    /// Candidate originals (lower case unless the file says otherwise).
    pub originals: Vec<String>,
    /// Token hashes of each original, for the language model.
    pub original_tokens: Vec<Vec<u64>>,
    /// From the tortured-phrases list (strong evidence on its own).
    pub tortured: bool,
}

/// All rules, indexed by automaton pattern.
pub struct Lexicon {
    pub ac: Option<AhoCorasick>,
    /// Pattern index -> rules for that key (several gates may share a key).
    pub rules: Vec<Vec<Rule>>,
    /// Pattern index -> token hashes of the spun key.
    pub key_tokens: Vec<Vec<u64>>,
    /// Pattern index -> the spun key (lower case).
    pub keys: Vec<String>,
}

/// Entries before the automaton is built.
#[derive(Default)]
pub struct LexiconBuilder {
    keys: HashMap<String, usize>,
    rules: Vec<Vec<Rule>>,
    order: Vec<String>,
}

impl LexiconBuilder {
    fn add(&mut self, spun: &str, originals: Vec<String>, gate: Gate, bias: f64, tortured: bool) {
        let spun = spun.trim().to_ascii_lowercase();
        let originals: Vec<String> = originals
            .into_iter()
            .map(|o| o.trim().to_string())
            .filter(|o| !o.is_empty() && !o.eq_ignore_ascii_case(&spun))
            .collect();
        if spun.is_empty() || originals.is_empty() {
            return;
        }
        // The typographic apostrophe is matched as its own pattern variant.
        let mut variants = vec![spun.clone()];
        if spun.contains('\'') {
            variants.push(spun.replace('\'', "\u{2019}"));
        }
        for key in variants {
            let idx = match self.keys.get(&key) {
                Some(&i) => i,
                None => {
                    self.keys.insert(key.clone(), self.rules.len());
                    self.rules.push(Vec::new());
                    self.order.push(key.clone());
                    self.rules.len() - 1
                }
            };
            let list = &mut self.rules[idx];
            if let Some(r) = list.iter_mut().find(|r| r.gate == gate) {
                for o in &originals {
                    if !r.originals.contains(o) {
                        r.original_tokens.push(super::lm::tokens(o));
                        r.originals.push(o.clone());
                    }
                }
                r.bias = r.bias.max(bias);
                r.tortured |= tortured;
            } else {
                list.push(Rule {
                    gate,
                    bias,
                    original_tokens: originals.iter().map(|o| super::lm::tokens(o)).collect(),
                    originals: originals.clone(),
                    tortured,
                });
            }
        }
    }

    /// Parse a lexicon file (format in the header of `data/spinner/en.tsv`).
    /// Errors name the line.
    pub fn add_tsv(&mut self, text: &str) -> Result<(), String> {
        for (n, line) in text.lines().enumerate() {
            let line = line.trim_end();
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let cols: Vec<&str> = line.split('\t').collect();
            if cols.len() < 2 {
                return Err(format!("line {}: expected `spun<TAB>original`", n + 1));
            }
            let gate = match cols.get(2) {
                Some(g) => Gate::parse(g.trim())
                    .ok_or_else(|| format!("line {}: unknown gate `{}`", n + 1, g.trim()))?,
                None => Gate::Any,
            };
            let bias = match cols.get(3) {
                Some(b) => b
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|b| b.is_finite())
                    .ok_or_else(|| format!("line {}: bias is not a number", n + 1))?,
                None => 0.0,
            };
            let originals = cols[1].split('|').map(str::to_string).collect();
            self.add(cols[0], originals, gate, bias, false);
        }
        Ok(())
    }

    /// Parse the PPS tortured-phrases CSV (`tortured_phrase,expected_phrase,
    /// num_papers`). Only the first quoted phrase of a query is used; queries
    /// with proximity operators (`~N`) are skipped.
    pub fn add_tortured_csv(&mut self, text: &str, bias: f64) -> usize {
        let mut added = 0;
        for line in text.lines().skip(1) {
            let fields = split_csv(line);
            if fields.len() < 2 || fields[0].contains('~') {
                continue;
            }
            let query = &fields[0];
            let Some(start) = query.find('"') else {
                continue;
            };
            let Some(len) = query[start + 1..].find('"') else {
                continue;
            };
            let phrase = &query[start + 1..start + 1 + len];
            let expected = fields[1].trim();
            // A single word is too ambiguous to be evidence.
            if phrase.split_whitespace().count() < 2 || expected.is_empty() {
                continue;
            }
            self.add(phrase, vec![expected.to_string()], Gate::Any, bias, true);
            added += 1;
        }
        added
    }

    pub fn build(self) -> Result<Lexicon, String> {
        let key_tokens = self.order.iter().map(|k| super::lm::tokens(k)).collect();
        let ac = if self.order.is_empty() {
            None
        } else {
            Some(
                AhoCorasick::builder()
                    .ascii_case_insensitive(true)
                    .match_kind(MatchKind::LeftmostLongest)
                    // A full DFA: several times faster than the NFA on the
                    // many short, common keys; a few MB at most.
                    .kind(Some(AhoCorasickKind::DFA))
                    .build(&self.order)
                    .map_err(|e| format!("lexicon automaton: {e}"))?,
            )
        };
        Ok(Lexicon {
            ac,
            rules: self.rules,
            key_tokens,
            keys: self.order,
        })
    }
}

/// Split one CSV line with `"` quoting (`""` is a literal quote).
fn split_csv(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out
}

impl Lexicon {
    pub fn len(&self) -> usize {
        self.rules.len()
    }
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_shipped_lexicon() {
        let mut b = LexiconBuilder::default();
        b.add_tsv(include_str!("../../data/spinner/en.tsv"))
            .unwrap();
        let lex = b.build().unwrap();
        assert!(lex.len() > 400, "{}", lex.len());
    }

    #[test]
    fn reports_bad_lines() {
        let mut b = LexiconBuilder::default();
        assert_eq!(
            b.add_tsv("# c\nfoo\n").unwrap_err(),
            "line 2: expected `spun<TAB>original`"
        );
        assert!(b.add_tsv("a\tb\tsometimes\n").unwrap_err().contains("gate"));
        assert!(b.add_tsv("a\tb\tany\tx\n").unwrap_err().contains("bias"));
    }

    #[test]
    fn parses_tortured_csv() {
        let csv = "tortured_phrase,expected_phrase,num_papers\n\
            \"\"\"surface region\"\" AND \"\"surface area\"\"\",surface area,\"42,682\"\n\
            \"\"\"counterfeit consciousness\"\"\",artificial intelligence,\"9\"\n\
            \"\"\"a ~2 b\"\"\",x,1\n";
        let mut b = LexiconBuilder::default();
        assert_eq!(b.add_tortured_csv(csv, 3.0), 2);
        let lex = b.build().unwrap();
        assert_eq!(lex.len(), 2);
        assert!(lex.rules[1][0].tortured);
        assert_eq!(lex.rules[1][0].originals, vec!["artificial intelligence"]);
    }
}
