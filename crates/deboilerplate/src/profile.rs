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
//! Cluster plans save a partial (`save_partial`: the exact map, sorted, and
//! the sketch, with the settings and a checksum) and fold it into another
//! builder (`merge_saved`), which does exactly what `merge` of the live
//! partial does, so the finished profile is byte-identical either way.
//!
//! Cost: observe is O(document bytes) plus O(lines · log lines) for the
//! per-document dedup; a query is 4 array reads.

use crate::features::{normalise_bytes_into, trim_bounds};
use rayon::prelude::*;
use sluicebox_core::mem::PIECE;
use sluicebox_core::{Document, ProfileBuilder, StageError};
use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use xxhash_rust::xxh3::{xxh3_64, xxh3_64_with_seed};

/// Rows of the sketch (independent hash functions).
pub const ROWS: usize = 4;
/// A partial folds its exact map into the sketch past this many pairs: the
/// map (~40 bytes a pair with the table's slack) then stays near 2 MiB
/// beside the 32 MiB default sketch. (It was 1 << 18: on the five dev sets,
/// 19.7 MB, the pass's peak memory above its input fell from +41.5 MB to
/// +37.2 MB at 1 << 16, the profile bytes identical, with no measurable
/// change in its speed.)
const FOLD_AT: usize = 1 << 16;
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

/// A dropped sketch's counters go back for the next sketch: the profile
/// pass makes one per batch partial that folds (32 MiB at the default
/// width), and reusing the memory is cheaper than mapping it afresh.
impl Drop for Sketch {
    fn drop(&mut self) {
        sluicebox_core::mem::recycle(std::mem::take(&mut self.cells));
    }
}

impl Sketch {
    pub fn new(width_log2: u8) -> Self {
        Sketch {
            width_log2,
            cells: sluicebox_core::mem::table(ROWS << width_log2),
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

    /// The counter of `h` in the first row (an upper bound of its count).
    #[inline]
    pub fn first_row(&self, h: u64) -> u32 {
        self.cells.get(self.index(h, 0)).copied().unwrap_or(0)
    }

    /// Upper bound of the count of `h` (exact when nothing collided).
    pub fn get(&self, h: u64) -> u32 {
        (0..ROWS)
            .map(|row| self.cells[self.index(h, row)])
            .min()
            .unwrap_or(0)
    }

    /// Cell by cell, in pieces on the current rayon pool (sums do not
    /// care how the cells are split).
    fn add_sketch(&mut self, other: &Sketch) {
        self.cells
            .par_chunks_mut(PIECE)
            .zip(other.cells.par_chunks(PIECE))
            .for_each(|(mine, theirs)| {
                for (a, b) in mine.iter_mut().zip(theirs) {
                    *a = a.saturating_add(*b);
                }
            });
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
        // Pieces encode on the current rayon pool; a zero run that crosses
        // pieces is joined when they are put together, so the bytes are
        // those of one pass over the cells.
        let pieces: Vec<EncodedPiece> = self.cells.par_chunks(PIECE).map(encode_piece).collect();
        let mut carry = 0u64;
        for p in pieces {
            match p.body {
                Some(body) => {
                    put_varint(&mut out, carry + p.lead);
                    out.extend_from_slice(&body);
                    carry = p.trail;
                }
                None => carry += p.lead,
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

/// A stretch of cells in the form of [`Sketch::to_bytes`], less the zero
/// run before its first count (which may go on from the stretch before).
struct EncodedPiece {
    /// Zero cells before the first count (all of them if none).
    lead: u64,
    /// The first count, then (zero run, count) pairs; None: all zero.
    body: Option<Vec<u8>>,
    /// Zero cells after the last count.
    trail: u64,
}

fn encode_piece(cells: &[u32]) -> EncodedPiece {
    let Some(first) = cells.iter().position(|&c| c != 0) else {
        return EncodedPiece {
            lead: cells.len() as u64,
            body: None,
            trail: 0,
        };
    };
    let mut body = Vec::new();
    put_varint(&mut body, u64::from(cells[first]));
    let mut run = 0u64;
    for &c in &cells[first + 1..] {
        if c == 0 {
            run += 1;
        } else {
            put_varint(&mut body, run);
            put_varint(&mut body, u64::from(c));
            run = 0;
        }
    }
    EncodedPiece {
        lead: first as u64,
        body: Some(body),
        trail: run,
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
    /// Fold the exact map into the sketch once it holds more pairs than this.
    fold_at: usize,
    norm: Vec<u8>,
    hashes: Vec<u64>,
}

impl SiteProfileBuilder {
    pub fn new(params: ProfileParams) -> Self {
        Self::with_fold_at(params, FOLD_AT)
    }

    /// A builder that folds its exact map past `fold_at` pairs (tests use a
    /// small value to exercise the sketch on little text). The profile is
    /// the same for any value: folding only moves counts into the sketch.
    pub fn with_fold_at(params: ProfileParams, fold_at: usize) -> Self {
        SiteProfileBuilder {
            params,
            exact: FastMap::default(),
            sketch: None,
            fold_at,
            norm: Vec::new(),
            hashes: Vec::new(),
        }
    }

    /// Pairs in the exact map and whether a sketch exists (for tests).
    pub fn state(&self) -> (usize, bool) {
        (self.exact.len(), self.sketch.is_some())
    }

    /// Add counts and an optional sketch of another partial: the one body of
    /// [`ProfileBuilder::merge`] and [`ProfileBuilder::merge_saved`], so the
    /// two cannot drift apart.
    fn absorb(&mut self, exact: impl IntoIterator<Item = (u64, u32)>, sketch: Option<Sketch>) {
        for (h, n) in exact {
            let e = self.exact.entry(h).or_insert(0);
            *e = e.saturating_add(n);
        }
        if let Some(s) = sketch {
            match &mut self.sketch {
                Some(mine) if mine.width_log2 == s.width_log2 => mine.add_sketch(&s),
                Some(_) => {}
                None => self.sketch = Some(s),
            }
        }
        if self.exact.len() > self.fold_at {
            self.fold();
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
        if self.exact.len() > self.fold_at {
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

/// Saved partials: `SBDQ`, version, the settings that shape the counts
/// (site key, `max_line_bytes`, sketch width), the exact map as sorted
/// (hash u64, count u32) pairs, the sketch (if any) in [`Sketch::to_bytes`]
/// form with its length, and an xxh3 checksum of all of it, so a truncated
/// or damaged file is an error and never a silently smaller profile.
const PARTIAL_MAGIC: &[u8; 4] = b"SBDQ";
const PARTIAL_VERSION: u8 = 1;
/// Magic, version, key, max_line_bytes, width, pair count.
const PARTIAL_HEADER: usize = 4 + 1 + 1 + 8 + 1 + 8;

/// Reads little-endian fields of a saved partial, failing on truncation.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or("saved partial profile is truncated")?;
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }
    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, String> {
        let mut b = [0; 4];
        b.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(b))
    }
    fn u64(&mut self) -> Result<u64, String> {
        let mut b = [0; 8];
        b.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(b))
    }
}

impl SiteProfileBuilder {
    fn key_byte(&self) -> u8 {
        match self.params.key {
            KeyMode::Host => 0,
            KeyMode::Source => 1,
        }
    }

    /// The exact map and the sketch as bytes; `self` is unchanged. Pairs are
    /// sorted so equal partials give equal bytes.
    pub fn save_partial_bytes(&self) -> Vec<u8> {
        let mut pairs: Vec<(u64, u32)> = self.exact.iter().map(|(&h, &n)| (h, n)).collect();
        pairs.sort_unstable();
        let sketch = self.sketch.as_ref().map(Sketch::to_bytes);
        let mut out = Vec::with_capacity(
            PARTIAL_HEADER + 12 * pairs.len() + 9 + sketch.as_ref().map_or(0, Vec::len) + 8,
        );
        out.extend_from_slice(PARTIAL_MAGIC);
        out.push(PARTIAL_VERSION);
        out.push(self.key_byte());
        out.extend_from_slice(&(self.params.max_line_bytes as u64).to_le_bytes());
        out.push(self.params.width_log2);
        out.extend_from_slice(&(pairs.len() as u64).to_le_bytes());
        for (h, n) in pairs {
            out.extend_from_slice(&h.to_le_bytes());
            out.extend_from_slice(&n.to_le_bytes());
        }
        match sketch {
            Some(s) => {
                out.push(1);
                out.extend_from_slice(&(s.len() as u64).to_le_bytes());
                out.extend_from_slice(&s);
            }
            None => out.push(0),
        }
        let sum = xxh3_64(&out);
        out.extend_from_slice(&sum.to_le_bytes());
        out
    }

    /// Parse a saved partial made with this builder's settings.
    fn load_partial(&self, bytes: &[u8]) -> Result<SavedPartial, String> {
        if bytes.len() < 4 || &bytes[..4] != PARTIAL_MAGIC {
            return Err("not a saved deboilerplate partial profile".into());
        }
        let Some(body_len) = bytes.len().checked_sub(8).filter(|&l| l >= PARTIAL_HEADER) else {
            return Err("saved partial profile is truncated".into());
        };
        let (body, sum) = bytes.split_at(body_len);
        let mut want = [0; 8];
        want.copy_from_slice(sum);
        if xxh3_64(body) != u64::from_le_bytes(want) {
            return Err("saved partial profile is truncated or corrupt (checksum mismatch)".into());
        }
        let mut r = Reader {
            bytes: body,
            pos: 4,
        };
        let version = r.u8()?;
        if version != PARTIAL_VERSION {
            return Err(format!(
                "saved partial profile version {version} (expected {PARTIAL_VERSION})"
            ));
        }
        let (key, max_line, width) = (r.u8()?, r.u64()?, r.u8()?);
        if key != self.key_byte()
            || max_line != self.params.max_line_bytes as u64
            || width != self.params.width_log2
        {
            return Err(format!(
                "saved partial profile was built with other settings (profile_key {}, max_line_bytes {max_line}, sketch_width_log2 {width}) than this stage's (profile_key {}, max_line_bytes {}, sketch_width_log2 {})",
                key_name(key),
                key_name(self.key_byte()),
                self.params.max_line_bytes,
                self.params.width_log2
            ));
        }
        let n = r.u64()?;
        // Bound the allocation by what the bytes can hold.
        let n = usize::try_from(n)
            .ok()
            .filter(|&n| n <= (body.len() - r.pos) / 12)
            .ok_or("saved partial profile is corrupt (pair count)")?;
        let mut pairs = Vec::with_capacity(n);
        for _ in 0..n {
            pairs.push((r.u64()?, r.u32()?));
        }
        let sketch = match r.u8()? {
            0 => None,
            1 => {
                let len = usize::try_from(r.u64()?)
                    .map_err(|_| "saved partial profile is corrupt (sketch length)")?;
                let s = Sketch::from_bytes(r.take(len)?)?;
                if s.width_log2 != width {
                    return Err("saved partial profile is corrupt (sketch width)".into());
                }
                Some(s)
            }
            _ => return Err("saved partial profile is corrupt (sketch flag)".into()),
        };
        if r.pos != body.len() {
            return Err("saved partial profile is corrupt (trailing bytes)".into());
        }
        Ok((pairs, sketch))
    }
}

/// A parsed saved partial: exact (line hash, documents) pairs and the sketch.
type SavedPartial = (Vec<(u64, u32)>, Option<Sketch>);

fn key_name(k: u8) -> &'static str {
    match k {
        0 => "host",
        1 => "source",
        _ => "unknown",
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
        self.absorb(other.exact, other.sketch);
    }

    /// See [`SiteProfileBuilder::save_partial_bytes`].
    /// Counts add up with saturation, which gives the same cells in any
    /// order and grouping.
    fn merge_is_order_free(&self) -> bool {
        true
    }

    fn save_partial(&mut self) -> Result<Vec<u8>, StageError> {
        Ok(self.save_partial_bytes())
    }

    fn merge_saved(&mut self, bytes: &[u8]) -> Result<(), StageError> {
        let (exact, sketch) = self
            .load_partial(bytes)
            .map_err(|e| StageError::file("saved deboilerplate partial profile", e))?;
        self.absorb(exact, sketch);
        Ok(())
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
    fn a_sketch_reusing_a_dropped_one_starts_empty() {
        // Large enough to be kept for reuse when dropped (64Ki cells).
        let mut s = Sketch::new(14);
        assert!(s.cells.len() >= 1 << 16);
        for h in 0..1000u64 {
            s.add(h.wrapping_mul(0x9e37_79b9_7f4a_7c15), 3);
        }
        assert!(s.cells.iter().any(|&c| c > 0));
        drop(s);
        let again = Sketch::new(14);
        assert_eq!(again.cells.len(), ROWS << 14);
        assert!(again.cells.iter().all(|&c| c == 0));
        assert_eq!(again.to_bytes(), Sketch::new(14).to_bytes());
    }

    #[test]
    fn a_sketch_encoded_in_pieces_is_one_pass_over_its_cells() {
        // Lines of a real page, counted into a sketch of four pieces; one
        // piece emptied and a zero run made to cross a piece's end, the
        // cases where the pieces' encodings have to be joined.
        let mut s = Sketch::new(18);
        assert_eq!(s.cells.len(), 4 * PIECE);
        let page = include_str!("../../../tests/fixtures/seeds/000_e7f6ed2af000063c.txt");
        for (i, line) in page.lines().enumerate() {
            s.add(line_hash(7, line.as_bytes()), 1 + i as u32 % 3);
        }
        s.cells[PIECE..2 * PIECE].fill(0);
        s.cells[3 * PIECE - 999..3 * PIECE + 999].fill(0);
        s.cells[3 * PIECE - 1000] = 5;
        s.cells[4 * PIECE - 1] = 0x1234_5678;
        let mut one_pass = Vec::new();
        one_pass.extend_from_slice(MAGIC);
        one_pass.extend_from_slice(&[VERSION, 18, ROWS as u8]);
        let mut run = 0u64;
        for &c in &s.cells {
            if c == 0 {
                run += 1;
            } else {
                put_varint(&mut one_pass, run);
                put_varint(&mut one_pass, u64::from(c));
                run = 0;
            }
        }
        let on = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| s.to_bytes())
        };
        assert!(on(1) == one_pass && on(4) == one_pass);
        let back = Sketch::from_bytes(&one_pass).unwrap();
        assert!(back.cells == s.cells);
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

    /// Seed pages cut into documents of a few paragraphs each, one source
    /// per page: real text in which some lines ("For More Diplomat News",
    /// "0", "[ad_1]") repeat across the documents of a site.
    fn seed_docs() -> Vec<Document> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/seeds");
        let mut out = Vec::new();
        for name in [
            "000_e7f6ed2af000063c.txt",
            "002_31699701fbb39e56.txt",
            "003_240feac35cea67fe.txt",
        ] {
            let text = std::fs::read_to_string(format!("{dir}/{name}")).unwrap();
            let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
            for (i, chunk) in lines.chunks(6).enumerate() {
                let mut d = Document::from_text(format!("{name}#{i}"), chunk.join("\n\n"));
                d.source = name.into();
                out.push(d);
            }
        }
        out
    }

    fn saved(b: &SiteProfileBuilder) -> Vec<u8> {
        b.save_partial_bytes()
    }

    #[test]
    fn merge_saved_equals_merge_for_folded_and_exact_partials() {
        let docs = seed_docs();
        assert!(docs.len() >= 12, "{}", docs.len());
        let third = docs.len() / 3;
        // p1 folded into its sketch (tiny fold threshold); p2 still exact;
        // p3 both: a sketch and, after it, a non-empty exact map.
        let mut p1 = SiteProfileBuilder::with_fold_at(params(), 16);
        for d in &docs[..third] {
            p1.observe(d);
        }
        assert!(p1.state().1 && p1.state().0 <= 16, "{:?}", p1.state());
        let mut p2 = SiteProfileBuilder::new(params());
        for d in &docs[third..2 * third] {
            p2.observe(d);
        }
        assert!(!p2.state().1 && p2.state().0 > 16, "{:?}", p2.state());
        let mut p3 = SiteProfileBuilder::with_fold_at(params(), 40);
        for d in &docs[2 * third..] {
            p3.observe(d);
        }
        assert!(p3.state().1 && p3.state().0 > 0, "{:?}", p3.state());

        // Fresh targets as in a plan's merge task, one folding early (as a
        // builder past its threshold would) and one that has seen documents.
        let targets = || {
            let mut seen = SiteProfileBuilder::new(params());
            seen.observe(&docs[0]);
            [
                SiteProfileBuilder::new(params()),
                SiteProfileBuilder::with_fold_at(params(), 30),
                seen,
            ]
        };
        let bytes: Vec<Vec<u8>> = [&mut p1, &mut p2, &mut p3]
            .into_iter()
            .map(|p| p.save_partial().unwrap())
            .collect();
        for (mut by_merge, mut by_saved) in targets().into_iter().zip(targets()) {
            let parts = [
                SiteProfileBuilder::with_fold_at(params(), 16),
                SiteProfileBuilder::new(params()),
                SiteProfileBuilder::with_fold_at(params(), 40),
            ];
            for (mut part, (range, b)) in parts.into_iter().zip(
                [0..third, third..2 * third, 2 * third..docs.len()]
                    .into_iter()
                    .zip(&bytes),
            ) {
                for d in &docs[range] {
                    part.observe(d);
                }
                by_merge.merge(Box::new(part));
                by_saved.merge_saved(b).unwrap();
                // Same state after every step: exact map and sketch alike.
                assert_eq!(saved(&by_merge), saved(&by_saved));
            }
            let one = Box::new(by_merge).finish().unwrap();
            let two = Box::new(by_saved).finish().unwrap();
            assert_eq!(one, two);
            // The profile learned the site's repeated line.
            let sketch = Sketch::from_bytes(&one).unwrap();
            let site = xxh3_64_with_seed(b"002_31699701fbb39e56.txt", 1);
            assert!(sketch.get(line_hash(site, "for more diplomat news")) >= 2);
            assert!(sketch.site_docs(site) >= 3);
        }
    }

    #[test]
    fn damaged_saved_partials_are_clear_errors() {
        let docs = seed_docs();
        let mut p = SiteProfileBuilder::with_fold_at(params(), 16);
        for d in &docs[..8] {
            p.observe(d);
        }
        p.observe(&docs[9]);
        let good = p.save_partial().unwrap();
        let mut target = SiteProfileBuilder::new(params());
        target.observe(&docs[10]);
        let before = saved(&target);
        let err = |b: &mut SiteProfileBuilder, bytes: &[u8]| {
            b.merge_saved(bytes).unwrap_err().to_string()
        };
        // Every truncation, and a flipped bit anywhere, is refused and
        // leaves the builder as it was.
        for cut in 0..good.len() {
            let e = err(&mut target, &good[..cut]);
            assert!(e.contains("partial profile"), "{cut}: {e}");
        }
        for i in (0..good.len()).step_by(7) {
            let mut bad = good.clone();
            bad[i] ^= 0x10;
            assert!(target.merge_saved(&bad).is_err(), "flip at {i}");
        }
        assert!(err(&mut target, b"").contains("not a saved"));
        assert!(err(&mut target, &Sketch::new(12).to_bytes()).contains("not a saved"));
        assert_eq!(saved(&target), before);
        // A partial from other settings is named as such.
        let mut other = SiteProfileBuilder::new(ProfileParams {
            width_log2: 13,
            ..params()
        });
        other.observe(&docs[0]);
        let e = err(&mut target, &other.save_partial().unwrap());
        assert!(e.contains("other settings") && e.contains("13"), "{e}");
        target.merge_saved(&good).unwrap();
        assert_ne!(saved(&target), before);
    }
}
