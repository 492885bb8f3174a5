//! Counts the runner keeps per stage and per source; merged with `+=` so
//! partial stats from any number of workers add up to the same totals.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::ops::AddAssign;

/// What one stage did, summed over documents.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageStats {
    /// Documents that reached the stage.
    pub docs_in: u64,
    pub unchanged: u64,
    pub changed: u64,
    /// Dropped documents by reason code (including `panic` and `error`).
    pub dropped: BTreeMap<String, u64>,
    /// Documents split, and how many parts they became.
    pub split: u64,
    pub parts_out: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Stage-specific sums (`boilerplate_lines`, `mojibake_fixes` ...).
    pub counters: BTreeMap<String, u64>,
}

impl StageStats {
    pub fn dropped_total(&self) -> u64 {
        self.dropped.values().sum()
    }
}

impl AddAssign<&StageStats> for StageStats {
    fn add_assign(&mut self, o: &StageStats) {
        self.docs_in += o.docs_in;
        self.unchanged += o.unchanged;
        self.changed += o.changed;
        for (k, v) in &o.dropped {
            *self.dropped.entry(k.clone()).or_insert(0) += v;
        }
        self.split += o.split;
        self.parts_out += o.parts_out;
        self.bytes_in += o.bytes_in;
        self.bytes_out += o.bytes_out;
        for (k, v) in &o.counters {
            *self.counters.entry(k.clone()).or_insert(0) += v;
        }
    }
}

/// Per-source totals.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceStats {
    pub read: u64,
    pub written: u64,
    pub rejected: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Rejected documents by `stage/reason`.
    pub rejected_by: BTreeMap<String, u64>,
}

impl AddAssign<&SourceStats> for SourceStats {
    fn add_assign(&mut self, o: &SourceStats) {
        self.read += o.read;
        self.written += o.written;
        self.rejected += o.rejected;
        self.bytes_in += o.bytes_in;
        self.bytes_out += o.bytes_out;
        for (k, v) in &o.rejected_by {
            *self.rejected_by.entry(k.clone()).or_insert(0) += v;
        }
    }
}

/// Whole-run totals. Accounting identity, checked by the runner and tests:
/// `read + parts_added == written + rejected` and records that could not
/// become documents at all are `errors` (they are never `read`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// Input records seen (documents plus records in error).
    pub records: u64,
    /// Records that became documents.
    pub read: u64,
    /// Records that could not become documents (malformed JSON, too large ...).
    pub errors: u64,
    /// Extra documents created by splits (a page split in 10 adds 9).
    pub parts_added: u64,
    pub written: u64,
    pub rejected: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub files: u64,
    /// Input records that are not documents by design (WARC requests,
    /// metadata, revisits, non-text responses), by kind in `Stats::skipped`.
    /// Outside `records`: they never enter the pipeline.
    pub skipped: u64,
}

impl AddAssign<&Totals> for Totals {
    fn add_assign(&mut self, o: &Totals) {
        self.records += o.records;
        self.read += o.read;
        self.errors += o.errors;
        self.parts_added += o.parts_added;
        self.written += o.written;
        self.rejected += o.rejected;
        self.bytes_in += o.bytes_in;
        self.bytes_out += o.bytes_out;
        self.files += o.files;
        self.skipped += o.skipped;
    }
}

/// Document byte lengths in log2 buckets, before (as read) and after (as
/// written), so a report can show how lengths changed without rereading.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LengthHistogram {
    /// Lower bucket edges in bytes; bucket `i` is `[edges[i], edges[i+1])`,
    /// the last is open-ended.
    pub edges: Vec<u64>,
    pub input: Vec<u64>,
    pub output: Vec<u64>,
}

/// Buckets: `[0, 64)`, then one per power of two up to `[1 MiB, inf)`.
const LENGTH_BUCKETS: usize = 16;

impl Default for LengthHistogram {
    fn default() -> Self {
        let mut edges = vec![0u64];
        edges.extend((0..LENGTH_BUCKETS as u32 - 1).map(|k| 64u64 << k));
        LengthHistogram {
            edges,
            input: vec![0; LENGTH_BUCKETS],
            output: vec![0; LENGTH_BUCKETS],
        }
    }
}

impl LengthHistogram {
    fn bucket(len: u64) -> usize {
        if len < 64 {
            0
        } else {
            ((63 - len.leading_zeros()) as usize - 5).min(LENGTH_BUCKETS - 1)
        }
    }

    pub fn add_input(&mut self, len: u64) {
        if let Some(c) = self.input.get_mut(Self::bucket(len)) {
            *c += 1;
        }
    }

    pub fn add_output(&mut self, len: u64) {
        if let Some(c) = self.output.get_mut(Self::bucket(len)) {
            *c += 1;
        }
    }
}

impl AddAssign<&LengthHistogram> for LengthHistogram {
    fn add_assign(&mut self, o: &LengthHistogram) {
        for (a, b) in self.input.iter_mut().zip(&o.input) {
            *a += b;
        }
        for (a, b) in self.output.iter_mut().zip(&o.output) {
            *a += b;
        }
    }
}

/// A record-level error, located.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordError {
    /// `file:line` (or `file` for whole-file errors).
    pub location: String,
    pub message: String,
}

/// Everything `stats.json` holds except timings and the config.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    pub totals: Totals,
    /// Per stage, keyed by stage id, in pipeline order of first appearance.
    pub stages: Vec<(String, StageStats)>,
    pub sources: BTreeMap<String, SourceStats>,
    /// The first errors, in input order (all are counted in `totals.errors`).
    pub errors: Vec<RecordError>,
    pub length_histogram: LengthHistogram,
    /// Skipped input records by kind (see `Totals::skipped`).
    pub skipped: BTreeMap<String, u64>,
}

/// How many located errors `stats.json` keeps (the count is always exact).
pub const MAX_KEPT_ERRORS: usize = 1000;

impl Stats {
    pub fn stage_mut(&mut self, id: &str) -> &mut StageStats {
        if let Some(i) = self.stages.iter().position(|(k, _)| k == id) {
            &mut self.stages[i].1
        } else {
            self.stages.push((id.to_string(), StageStats::default()));
            let last = self.stages.len() - 1;
            &mut self.stages[last].1
        }
    }

    pub fn stage(&self, id: &str) -> Option<&StageStats> {
        self.stages.iter().find(|(k, _)| k == id).map(|(_, s)| s)
    }

    /// Whether every document is accounted for.
    pub fn balanced(&self) -> bool {
        let t = &self.totals;
        t.records == t.read + t.errors && t.read + t.parts_added == t.written + t.rejected
    }
}

impl AddAssign<&Stats> for Stats {
    fn add_assign(&mut self, o: &Stats) {
        self.totals += &o.totals;
        for (id, s) in &o.stages {
            *self.stage_mut(id) += s;
        }
        for (k, v) in &o.sources {
            *self.sources.entry(k.clone()).or_default() += v;
        }
        self.length_histogram += &o.length_histogram;
        for (k, v) in &o.skipped {
            *self.skipped.entry(k.clone()).or_insert(0) += v;
        }
        for e in &o.errors {
            if self.errors.len() < MAX_KEPT_ERRORS {
                self.errors.push(e.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_is_the_same_in_any_grouping() {
        let mut a = Stats::default();
        a.totals.read = 3;
        a.totals.records = 3;
        a.totals.written = 2;
        a.totals.rejected = 1;
        *a.stage_mut("boiler")
            .dropped
            .entry("no_content".into())
            .or_default() += 1;
        let mut b = Stats::default();
        b.totals.read = 2;
        b.totals.records = 3;
        b.totals.errors = 1;
        b.totals.written = 2;
        b.stage_mut("decode").docs_in = 2;
        b.stage_mut("boiler").docs_in = 2;

        let mut ab = a.clone();
        ab += &b;
        let mut ba = Stats::default();
        ba += &a;
        ba += &b;
        assert_eq!(ab, ba);
        assert!(ab.balanced());
        assert_eq!(ab.stage("boiler").unwrap().dropped["no_content"], 1);
        assert_eq!(ab.stage("boiler").unwrap().docs_in, 2);
    }

    #[test]
    fn lengths_fall_in_power_of_two_buckets() {
        let mut h = LengthHistogram::default();
        for len in [0, 63, 64, 127, 128, 5000, 1 << 20, u64::MAX] {
            h.add_input(len);
        }
        h.add_output(100);
        assert_eq!(h.edges[..4], [0, 64, 128, 256]);
        assert_eq!(*h.edges.last().unwrap(), 1 << 20);
        // [0,64): 0 and 63; [64,128): 64 and 127; [128,256): 128; [4096,8192): 5000; last: 1 MiB and max.
        assert_eq!(h.input[0], 2);
        assert_eq!(h.input[1], 2);
        assert_eq!(h.input[2], 1);
        assert_eq!(h.input[7], 1);
        assert_eq!(h.input[15], 2);
        assert_eq!(h.output[1], 1);
        let mut sum = LengthHistogram::default();
        sum += &h;
        sum += &h;
        assert_eq!(sum.input[15], 4);
    }

    #[test]
    fn unbalanced_totals_are_detected() {
        let mut s = Stats::default();
        s.totals.records = 2;
        s.totals.read = 2;
        s.totals.written = 1;
        assert!(!s.balanced());
    }
}
