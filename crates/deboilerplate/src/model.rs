//! The two-stage logistic model: stage 1 scores a line from its own
//! features, stage 2 rescores it from its own score and its neighbours'
//! (jusText's insight: a short line between good lines is good, between bad
//! lines bad). Weights are data (`data/model.txt`, written by
//! `cargo bench -p sluicebox-deboilerplate --bench train`), so the model is
//! readable: one named weight per feature.

use crate::features::{NAMES1, NAMES2, NF1, NF2};

const MODEL: &str = include_str!("../data/model.txt");

/// Indices of the stage-1 features that depend on the other lines kept.
const POSITION: usize = 14;
const COMMENT_ZONE: usize = 17;

// `Model::partial1` relies on this layout: `dot`'s four lanes are the
// indices mod 4, `position` and `comment_zone` sit in lanes 2 and 1, and
// each lane has exactly one more feature after them.
const _: () = assert!(
    POSITION % 4 == 2
        && COMMENT_ZONE % 4 == 1
        && POSITION + 8 >= NF1
        && POSITION + 4 < NF1
        && COMMENT_ZONE + 8 >= NF1
        && COMMENT_ZONE + 4 < NF1
);

/// A line's stage-1 score with `position` and `comment_zone` open
/// ([`Model::partial1`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct Partial1 {
    /// `dot`'s four running sums: lanes 0 and 3 whole, lane 1 up to
    /// `comment_zone`, lane 2 up to `position`.
    lanes: [f32; 4],
    /// The product of the one feature after each of them in its lane.
    after_comment: f32,
    after_position: f32,
}

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

    /// [`Self::score1`] of a line with the two features that change from
    /// one decision round to the next (`position`, `comment_zone`) left
    /// open: the running sums of `dot` up to where those features enter.
    /// [`Self::finish1`] then adds the same terms in the same order, so its
    /// result is bit-identical to `score1` (f32 addition is not
    /// associative: any other order could move a line across the
    /// threshold), at a few additions a line and round instead of 22
    /// products.
    pub fn partial1(&self, f: &[f32; NF1]) -> Partial1 {
        let w = &self.w1;
        let lane = |k: usize, upto: usize| {
            let mut acc = 0f32;
            for i in (k..upto).step_by(4) {
                acc += w[i] * f[i];
            }
            acc
        };
        Partial1 {
            lanes: [
                lane(0, NF1),
                lane(COMMENT_ZONE % 4, COMMENT_ZONE),
                lane(POSITION % 4, POSITION),
                lane(3, NF1),
            ],
            after_comment: w[COMMENT_ZONE + 4] * f[COMMENT_ZONE + 4],
            after_position: w[POSITION + 4] * f[POSITION + 4],
        }
    }

    /// The stage-1 score of the line of `p` at `position` with
    /// `comment_zone` (see [`Self::partial1`]).
    #[inline]
    pub fn finish1(&self, p: &Partial1, position: f32, comment_zone: f32) -> f32 {
        let [a0, a1, a2, a3] = p.lanes;
        let a1 = (a1 + self.w1[COMMENT_ZONE] * comment_zone) + p.after_comment;
        let a2 = (a2 + self.w1[POSITION] * position) + p.after_position;
        (a0 + a1) + (a2 + a3)
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
    fn finish1_is_score1_to_the_bit() {
        assert_eq!(NAMES1[POSITION], "position");
        assert_eq!(NAMES1[COMMENT_ZONE], "comment_zone");
        let m = Model::builtin().unwrap();
        let sw = crate::lang::Stopwords::load();
        let lexicon = crate::lexicon::Lexicon::new(&[], &[]).unwrap();
        let mut scratch = crate::features::Scratch::default();
        let lines = crate::seed_lines(&[], false);
        let n = lines.len();
        for (k, line) in lines.iter().enumerate() {
            let stop = sw.for_lang(Some("en"));
            let lf = crate::features::line_features(
                line,
                k,
                n,
                0,
                Some("en"),
                stop,
                &lexicon,
                &mut scratch,
            );
            let p = m.partial1(&lf.f);
            for (pos, count, markers) in [(k, n, 0), (0, 1, 0), (3, 7, 2), (k / 2, n / 2 + 1, 9)] {
                let mut f = lf.f;
                f[POSITION] = crate::features::position(pos, count);
                f[COMMENT_ZONE] = crate::features::comment_zone(markers);
                let got = m.finish1(&p, f[POSITION], f[COMMENT_ZONE]);
                assert_eq!(got.to_bits(), m.score1(&f).to_bits(), "{line}");
            }
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
