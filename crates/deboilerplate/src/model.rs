//! The two-stage logistic model: stage 1 scores a line from its own
//! features, stage 2 rescores it from its own score and its neighbours'
//! (jusText's insight: a short line between good lines is good, between bad
//! lines bad). Weights are data (`data/model.txt`, written by
//! `cargo bench -p sluicebox-deboilerplate --bench train`), so the model is
//! readable: one named weight per feature.

use crate::features::{NAMES1, NAMES2, NF1, NF2};

const MODEL: &str = include_str!("../data/model.txt");

/// Weights of both stages.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    pub w1: [f32; NF1],
    pub w2: [f32; NF2],
}

impl Model {
    /// The model shipped with the crate.
    pub fn builtin() -> Result<Self, String> {
        Self::parse(MODEL)
    }

    /// Parse `stageN name weight` lines; unknown names are errors.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut m = Model {
            w1: [0.0; NF1],
            w2: [0.0; NF2],
        };
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let parts: Vec<&str> = line.split_whitespace().collect();
            let [stage, name, value] = parts[..] else {
                return Err(format!(
                    "model line {}: expected `stage name weight`",
                    n + 1
                ));
            };
            let value: f32 = value
                .parse()
                .map_err(|_| format!("model line {}: bad weight `{value}`", n + 1))?;
            let slot = match stage {
                "stage1" => NAMES1.iter().position(|x| *x == name).map(|i| &mut m.w1[i]),
                "stage2" => NAMES2.iter().position(|x| *x == name).map(|i| &mut m.w2[i]),
                _ => None,
            };
            *slot.ok_or_else(|| {
                format!("model line {}: unknown feature `{stage} {name}`", n + 1)
            })? = value;
        }
        Ok(m)
    }

    /// Text form, as `parse` reads it.
    pub fn to_text(&self, header: &str) -> String {
        let mut out = String::new();
        for l in header.lines() {
            out.push_str("# ");
            out.push_str(l);
            out.push('\n');
        }
        for (n, w) in NAMES1.iter().zip(self.w1) {
            out.push_str(&format!("stage1 {n} {w:.4}\n"));
        }
        for (n, w) in NAMES2.iter().zip(self.w2) {
            out.push_str(&format!("stage2 {n} {w:.4}\n"));
        }
        out
    }

    pub fn score1(&self, f: &[f32; NF1]) -> f32 {
        dot(&self.w1, f)
    }

    pub fn score2(&self, f: &[f32; NF2]) -> f32 {
        dot(&self.w2, f)
    }
}

/// Four running sums rather than one: a single sum is a chain of dependent
/// additions (one per feature, each waiting for the last), and the scores
/// are taken for every line in every decision round.
fn dot<const N: usize>(w: &[f32; N], f: &[f32; N]) -> f32 {
    let mut acc = [0f32; 4];
    for (i, (a, b)) in w.iter().zip(f).enumerate() {
        acc[i % 4] += a * b;
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3])
}

/// Logistic function.
pub fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + (-z).exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_model_parses_and_round_trips() {
        let m = Model::builtin().unwrap();
        let again = Model::parse(&m.to_text("x")).unwrap();
        for (a, b) in m.w1.iter().zip(again.w1) {
            assert!((a - b).abs() < 1e-3);
        }
    }

    #[test]
    fn bad_model_lines_are_reported() {
        assert!(Model::parse("stage1 nope 1.0")
            .unwrap_err()
            .contains("unknown feature"));
        assert!(Model::parse("stage1 bias x")
            .unwrap_err()
            .contains("bad weight"));
        assert!(Model::parse("stage3").is_err());
    }
}
