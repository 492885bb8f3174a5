//! Per-site learned boilerplate: how many documents of each site contain
//! each (normalised) short line.
//!
//! Memory is bounded by a **count-min sketch**: `4 × 2^width_log2` u32
//! counters hold the document frequency of every (site key, line) pair and,
//! under a reserved line, the number of documents per site. A partial built
//! by one worker keeps an exact hash map until it holds `FOLD_AT` pairs and
//! then folds it into the sketch. Because both a sketch and the map are sums
//! (saturating adds commute), merging partials in any order and with any
//! batch size gives byte-identical profiles. Collisions can only raise a
//! count, so an undersized sketch over-removes; size it at ≥ 4 × the number
//! of distinct short lines per run (the default holds ~2 M comfortably).
//!
//! Cost: observe is O(document bytes) plus O(lines · log lines) for the
//! per-document dedup; a query is 4 array reads.

use crate::features::{normalise_bytes_into, trim_bounds};
use sluicebox_core::{Document, ProfileBuilder, StageError};
use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use xxhash_rust::xxh3::{xxh3_64, xxh3_64_with_seed};

/// Rows of the sketch (independent hash functions).
pub const ROWS: usize = 4;
/// A partial folds its exact map into the sketch past this many pairs.
const FOLD_AT: usize = 1 << 18;
const MAGIC: &[u8; 4] = b"SBDP";
const VERSION: u8 = 1;
/// Line hash reserved for "documents of this site".
const DOCS_LINE: u64 = 0x9e37_79b9_7f4a_7c15;

/// What identifies a site.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyMode {
    /// URL host (without `www.`), falling back to the source name.
    Host,
    /// The document's source name only.
    Source,
}

/// The site key of a document.
pub fn site_key(doc: &Document, mode: KeyMode) -> u64 {
    if mode == KeyMode::Host {
        if let Some(url) = doc.url() {
            if let Some(host) = url_host(&url) {
                return xxh3_64(host.as_bytes());
            }
        }
    }
    xxh3_64_with_seed(doc.source.as_bytes(), 1)
}

/// `https://www.Example.com:8080/x` → `example.com`.
pub fn url_host(url: &str) -> Option<String> {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let mut host = &rest[..end];
    if let Some((_, h)) = host.rsplit_once('@') {
        host = h;
    }
    if let Some((h, _)) = host.split_once(':') {
        host = h;
    }
    let host = host.to_ascii_lowercase();
    let host = host.strip_prefix("www.").unwrap_or(&host).to_string();
    (!host.is_empty()).then_some(host)
}

/// Hash of one normalised line for a site.
pub fn line_hash(site: u64, normalised: impl AsRef<[u8]>) -> u64 {
    xxh3_64_with_seed(normalised.as_ref(), site)
}

/// Settings shared by the profile pass and the cleaning pass.
#[derive(Debug, Clone, Copy)]
pub struct ProfileParams {
    pub key: KeyMode,
    /// Lines longer than this (bytes) are not counted (article prose).
    pub max_line_bytes: usize,
    pub width_log2: u8,
}

/// A count-min sketch of u32 counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sketch {
    width_log2: u8,
    cells: Vec<u32>,
}

impl Sketch {
    pub fn new(width_log2: u8) -> Self {
        Sketch {
            width_log2,
            cells: vec![0; ROWS << width_log2],
        }
    }

    fn index(&self, h: u64, row: usize) -> usize {
        let mask = (1u64 << self.width_log2) - 1;
        let h1 = h;
        let h2 = h.rotate_left(32) | 1;
        let col = h1.wrapping_add((row as u64).wrapping_mul(h2)) & mask;
        (row << self.width_log2) + col as usize
    }

    pub fn add(&mut self, h: u64, n: u32) {
        for row in 0..ROWS {
            let i = self.index(h, row);
            self.cells[i] = self.cells[i].saturating_add(n);
        }
    }

    /// Whether the count of `h` is at least `need`. Stops at the first row
    /// below it: most lines of a page are unique, and each row read is a
    /// cache miss in a large sketch.
    #[inline]
    pub fn reaches(&self, h: u64, need: u32) -> bool {
        (0..ROWS).all(|row| {
            self.cells
                .get(self.index(h, row))
                .is_some_and(|&c| c >= need)
        })
    }

    /// Upper bound of the count of `h` (exact when nothing collided).
    pub fn get(&self, h: u64) -> u32 {
        (0..ROWS)
            .map(|row| self.cells[self.index(h, row)])
            .min()
            .unwrap_or(0)
    }

    fn add_sketch(&mut self, other: &Sketch) {
        for (a, b) in self.cells.iter_mut().zip(&other.cells) {
            *a = a.saturating_add(*b);
        }
    }

    /// Documents of a site.
    pub fn site_docs(&self, site: u64) -> u32 {
        self.get(site ^ DOCS_LINE)
    }

    /// Compact form: header, then (zero-run, value) varint pairs.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        out.extend_from_slice(MAGIC);
        out.push(VERSION);
        out.push(self.width_log2);
        out.push(ROWS as u8);
        let mut run = 0u64;
        for &c in &self.cells {
            if c == 0 {
                run += 1;
            } else {
                put_varint(&mut out, run);
                put_varint(&mut out, c as u64);
                run = 0;
            }
        }
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        if bytes.len() < 7 || &bytes[..4] != MAGIC {
            return Err("not a deboilerplate profile".into());
        }
        if bytes[4] != VERSION {
            return Err(format!("profile version {} (expected {VERSION})", bytes[4]));
        }
        let width_log2 = bytes[5];
        if !(8..=28).contains(&width_log2) || bytes[6] as usize != ROWS {
            return Err("profile has an unsupported sketch shape".into());
        }
        let mut sketch = Sketch::new(width_log2);
        let mut pos = 7;
        let mut i = 0usize;
        while pos < bytes.len() {
            let run = get_varint(bytes, &mut pos)?;
            let value = get_varint(bytes, &mut pos)?;
            i = i
                .checked_add(usize::try_from(run).map_err(|_| "profile is corrupt")?)
                .ok_or("profile is corrupt")?;
            let cell = sketch.cells.get_mut(i).ok_or("profile is corrupt")?;
            *cell = u32::try_from(value).map_err(|_| "profile is corrupt")?;
            i += 1;
        }
        Ok(sketch)
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn get_varint(bytes: &[u8], pos: &mut usize) -> Result<u64, String> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *bytes.get(*pos).ok_or("profile is truncated")?;
        *pos += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err("profile is corrupt".into())
}

type FastMap = HashMap<u64, u32, BuildHasherDefault<crate::lang::QuickHasher>>;

/// A partial profile.
pub struct SiteProfileBuilder {
    params: ProfileParams,
    exact: FastMap,
    sketch: Option<Sketch>,
    norm: Vec<u8>,
    hashes: Vec<u64>,
}

impl SiteProfileBuilder {
    pub fn new(params: ProfileParams) -> Self {
        SiteProfileBuilder {
            params,
            exact: FastMap::default(),
            sketch: None,
            norm: Vec::new(),
            hashes: Vec::new(),
        }
    }

    fn fold(&mut self) {
        let width = self.params.width_log2;
        let sketch = self.sketch.get_or_insert_with(|| Sketch::new(width));
        // Adding in any order gives the same cells (saturating sums commute).
        for (&h, &n) in &self.exact {
            sketch.add(h, n);
        }
        self.exact.clear();
    }

    /// Learn from one document's text under a site key.
    pub fn observe_text(&mut self, site: u64, text: &str) {
        self.hashes.clear();
        let mut pos = 0;
        let ends = memchr::memchr_iter(b'\n', text.as_bytes()).chain([text.len()]);
        for end in ends {
            let raw = text.get(pos..end).unwrap_or_default();
            pos = end + 1;
            let (s, e) = trim_bounds(raw);
            let line = raw.get(s..e).unwrap_or_default();
            if line.is_empty() || line.len() > self.params.max_line_bytes {
                continue;
            }
            normalise_bytes_into(line, true, &mut self.norm);
            if self.norm.is_empty() {
                continue;
            }
            self.hashes.push(line_hash(site, &self.norm));
        }
        self.hashes.sort_unstable();
        self.hashes.dedup();
        for &h in &self.hashes {
            *self.exact.entry(h).or_insert(0) += 1;
        }
        *self.exact.entry(site ^ DOCS_LINE).or_insert(0) += 1;
        if self.exact.len() > FOLD_AT {
            self.fold();
        }
    }

    /// The merged sketch.
    pub fn into_sketch(mut self) -> Sketch {
        self.fold();
        self.sketch
            .take()
            .unwrap_or_else(|| Sketch::new(self.params.width_log2))
    }
}

impl ProfileBuilder for SiteProfileBuilder {
    fn observe(&mut self, doc: &Document) {
        let site = site_key(doc, self.params.key);
        self.observe_text(site, &doc.text);
    }

    fn merge(&mut self, other: Box<dyn ProfileBuilder>) {
        let Ok(other) = other.as_any().downcast::<SiteProfileBuilder>() else {
            return;
        };
        let other = *other;
        for (h, n) in other.exact {
            let e = self.exact.entry(h).or_insert(0);
            *e = e.saturating_add(n);
        }
        if let Some(s) = other.sketch {
            match &mut self.sketch {
                Some(mine) if mine.width_log2 == s.width_log2 => mine.add_sketch(&s),
                Some(_) => {}
                None => self.sketch = Some(s),
            }
        }
        if self.exact.len() > FOLD_AT {
            self.fold();
        }
    }

    fn finish(self: Box<Self>) -> Result<Vec<u8>, StageError> {
        Ok(self.into_sketch().to_bytes())
    }

    fn as_any(self: Box<Self>) -> Box<dyn std::any::Any> {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> ProfileParams {
        ProfileParams {
            key: KeyMode::Host,
            max_line_bytes: 400,
            width_log2: 12,
        }
    }

    #[test]
    fn hosts_are_normalised() {
        assert_eq!(
            url_host("https://www.Express.co.uk/news/1").as_deref(),
            Some("express.co.uk")
        );
        assert_eq!(
            url_host("http://user@host.org:8080?q").as_deref(),
            Some("host.org")
        );
        assert_eq!(url_host("").as_deref(), None);
    }

    #[test]
    fn counts_documents_not_occurrences_and_merges_in_any_order() {
        let docs = [
            "Home Blog Page 191\n\nFor More Diplomat News\n\nFor More Diplomat News\n\nBody one.",
            "Home Blog Page 192\n\nFor More Diplomat News\n\nBody two.",
            "Home Blog Page 193\n\nBody three.",
        ];
        let site = 42;
        let mut whole = SiteProfileBuilder::new(params());
        for d in docs {
            whole.observe_text(site, d);
        }
        let mut a = SiteProfileBuilder::new(params());
        a.observe_text(site, docs[2]);
        let mut b = SiteProfileBuilder::new(params());
        b.observe_text(site, docs[0]);
        b.observe_text(site, docs[1]);
        b.merge(Box::new(a));
        let one = whole.into_sketch();
        let two = b.into_sketch();
        assert_eq!(one, two);
        assert_eq!(one.site_docs(site), 3);
        assert_eq!(one.get(line_hash(site, "for more diplomat news")), 2);
        // Digits are folded: the page counter is one line.
        assert_eq!(one.get(line_hash(site, "home blog page 000")), 3);
        assert_eq!(one.get(line_hash(site, "body one")), 1);
        let back = Sketch::from_bytes(&one.to_bytes()).unwrap();
        assert_eq!(back, one);
    }

    #[test]
    fn corrupt_profiles_are_errors_not_panics() {
        assert!(Sketch::from_bytes(b"").is_err());
        assert!(Sketch::from_bytes(b"SBDP\x01\x0c\x04\xff").is_err());
        assert!(Sketch::from_bytes(b"SBDP\x01\x0c\x04\xff\xff\xff\xff\x0f\x01").is_err());
    }
}
