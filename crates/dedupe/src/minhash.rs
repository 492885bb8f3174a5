//! Word n-gram shingles and MinHash signatures by one-permutation hashing.
//!
//! One-permutation hashing (OPH) hashes each shingle once and splits the hash
//! range into `num_perm` bins, keeping the smallest hash per bin; empty bins
//! are filled by "optimal densification" (an empty bin copies the value of a
//! non-empty bin chosen by a per-bin hash chain). This gives the accuracy of
//! `num_perm` independent permutations at the cost of one hash per shingle
//! instead of `num_perm`.
//!
//! From the bins we keep two things: band keys (a hash of `rows` consecutive
//! bins, for LSH candidate lookup) and a 1-bit-per-bin signature (b-bit
//! minwise hashing with b = 1) for verification, from which the Jaccard
//! similarity is estimated as `2 * matching_bits / num_perm - 1`.
//!
//! Cost: O(text length) for the shingles, O(num_perm) for the bins (plus the
//! densification, O(num_perm^2 / shingles) expected for tiny documents).

/// A strong 64-bit finaliser (MurmurHash3's fmix64); spreads combined hashes.
#[inline]
pub fn fmix64(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^= x >> 33;
    x
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x100_0000_01b3;

/// ASCII bytes by class: 0 for a separator, the lowercased byte for a
/// letter or digit; [`NON_ASCII`] for every byte from 0x80 up.
static ASCII_WORD: [u8; 256] = {
    let mut t = [NON_ASCII; 256];
    let mut b = 0;
    while b < 0x80 {
        let c = b as u8;
        t[b] = if c.is_ascii_alphanumeric() {
            c.to_ascii_lowercase()
        } else {
            0
        };
        b += 1;
    }
    t
};
const NON_ASCII: u8 = 0x80;

/// Calls `f` with the hash of each word of `text`: a word is a maximal run
/// of alphanumeric characters, lowercased, so punctuation, spacing and case
/// never change a shingle. The hash is FNV-1a over the lowercased UTF-8
/// bytes, finished with [`fmix64`]; one pass, no buffer. ASCII goes through
/// a byte table, one branch a byte; only non-ASCII characters are decoded.
pub fn for_each_word_hash(text: &str, mut f: impl FnMut(u64)) {
    let bytes = text.as_bytes();
    let n = bytes.len();
    let mut i = 0;
    let mut h = FNV_OFFSET;
    let mut in_word = false;
    while i < n {
        // A run of ASCII letters and digits: the common case, no decoding.
        let mut l = ASCII_WORD[bytes[i] as usize];
        while l != 0 && l != NON_ASCII {
            h = (h ^ l as u64).wrapping_mul(FNV_PRIME);
            in_word = true;
            i += 1;
            if i == n {
                break;
            }
            l = ASCII_WORD[bytes[i] as usize];
        }
        if i == n {
            break;
        }
        let alnum = if l == 0 {
            i += 1;
            false
        } else {
            // Non-ASCII: i is on a char boundary (only whole chars were
            // stepped over). General punctuation (U+2000-U+206F: curly
            // quotes, dashes, ellipsis, spaces) is frequent in web text and
            // never alphanumeric, so it skips the Unicode tables.
            let c = text[i..].chars().next().unwrap_or(' ');
            i += c.len_utf8();
            if ('\u{2000}'..='\u{206f}').contains(&c) || !c.is_alphanumeric() {
                false
            } else {
                let mut enc = [0u8; 4];
                for lc in c.to_lowercase() {
                    for &x in lc.encode_utf8(&mut enc).as_bytes() {
                        h = (h ^ x as u64).wrapping_mul(FNV_PRIME);
                    }
                }
                in_word = true;
                true
            }
        };
        if !alnum && in_word {
            f(fmix64(h));
            h = FNV_OFFSET;
            in_word = false;
        }
    }
    if in_word {
        f(fmix64(h));
    }
}

/// Hashes of the word `ngram`-shingles of `text` into `out` (cleared first;
/// may contain repeats). A text with fewer than `ngram` words gives one
/// shingle of all its words; a text without words gives none.
pub fn shingles(text: &str, ngram: usize, out: &mut Vec<u64>) {
    let mut words: Vec<u64> = Vec::with_capacity(text.len() / 5 + 1);
    for_each_word_hash(text, |h| words.push(h));
    shingles_of_words(&words, ngram, out);
}

/// [`shingles`] from word hashes already computed.
pub fn shingles_of_words(words: &[u64], ngram: usize, out: &mut Vec<u64>) {
    let n = ngram.max(1);
    out.clear();
    if words.is_empty() {
        return;
    }
    let combine = |window: &[u64]| {
        let mut h: u64 = window.len() as u64;
        for &w in window {
            h = (h.rotate_left(23) ^ w).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
        fmix64(h)
    };
    if words.len() < n {
        out.push(combine(words));
        return;
    }
    out.extend(words.windows(n).map(combine));
}

/// A hash of the whole word sequence: equal for texts that differ only in
/// case, spacing and punctuation (the exact level with every folding on).
pub fn sequence_hash(words: &[u64]) -> u64 {
    let mut h = 0x6a09_e667_f3bc_c908u64 ^ words.len() as u64;
    for &w in words {
        h = fmix64(h ^ w).wrapping_add(0x9e37_79b9_7f4a_7c15);
    }
    fmix64(h)
}

/// Near-duplicate parameters shared by signature making and the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SigParams {
    pub ngram: usize,
    pub num_perm: usize,
    pub bands: usize,
    pub rows: usize,
}

/// What the index needs of one document for the near-duplicate level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NearSig {
    /// One LSH key per band.
    pub bands: Vec<u64>,
    /// `num_perm` bits, one per bin, packed into words: the in-memory
    /// prefilter.
    pub bits: Vec<u64>,
    /// The verification set: the [`SET_K`] smallest distinct 32-bit
    /// shingle hashes, ascending (the whole set for shorter documents).
    pub set: Vec<u32>,
}

/// Shingles kept per document for verification (bottom-k). Documents with
/// at most this many distinct shingles (about 25 KB of text) are compared
/// exactly; longer ones by a bottom-k estimate (standard deviation about
/// sqrt(J(1-J)/k), 0.006 at J = 0.8). 1024 left 0.984 precision on the
/// evaluation set (11 KB documents); the cost is disk, 4 bytes a shingle.
pub const SET_K: usize = 4096;

/// The `k` smallest distinct low-32-bit halves of the shingle hashes,
/// ascending. O(n) expected: the hashes are uniform, so one counting-sort
/// pass on their top log2(n) bits leaves about one value per bucket and an
/// insertion-sort pass finishes (a general sort made the prepare step a
/// quarter slower). Beyond 2^16 shingles buckets would grow, so a plain
/// O(n log n) sort is used.
pub fn bottom_k(shingles: &[u64], k: usize) -> Vec<u32> {
    let n = shingles.len();
    if n > 1 << 16 {
        let mut v: Vec<u32> = shingles.iter().map(|&s| s as u32).collect();
        v.sort_unstable();
        v.dedup();
        v.truncate(k);
        return v;
    }
    let bits = (usize::BITS - n.leading_zeros()).clamp(1, 17);
    let shift = 32 - bits;
    let mut starts = vec![0usize; (1 << bits) + 1];
    for &s in shingles {
        starts[((s as u32) >> shift) as usize + 1] += 1;
    }
    for i in 1..starts.len() {
        starts[i] += starts[i - 1];
    }
    let mut v = vec![0u32; n];
    for &s in shingles {
        let b = ((s as u32) >> shift) as usize;
        v[starts[b]] = s as u32;
        starts[b] += 1;
    }
    // Values are ordered across buckets; sort inside each (tiny) bucket.
    for i in 1..n {
        let x = v[i];
        let mut j = i;
        while j > 0 && v[j - 1] > x {
            v[j] = v[j - 1];
            j -= 1;
        }
        v[j] = x;
    }
    v.dedup();
    v.truncate(k);
    v
}

/// Jaccard similarity of two documents from their bottom-k sets (ascending,
/// distinct): the share of the `k` smallest hashes of the union that are in
/// both. Exact when both sets are whole (at most `k` shingles each).
pub fn set_jaccard(a: &[u32], b: &[u32], k: usize) -> f64 {
    let (mut i, mut j, mut union, mut inter) = (0, 0, 0usize, 0usize);
    while union < k && (i < a.len() || j < b.len()) {
        match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) if x == y => {
                inter += 1;
                i += 1;
                j += 1;
            }
            (Some(x), Some(y)) if x < y => i += 1,
            (Some(_), Some(_)) | (None, _) => j += 1,
            (Some(_), None) => i += 1,
        }
        union += 1;
    }
    if union == 0 {
        return 1.0;
    }
    inter as f64 / union as f64
}

/// Steps of each bin's densification chain kept in a per-thread table.
const CHAIN_STEPS: usize = 32;

thread_local! {
    /// For the `num_perm` last used on this thread: the first
    /// [`CHAIN_STEPS`] bins of every bin's densification chain.
    static CHAINS: std::cell::RefCell<(usize, Vec<u16>)> =
        const { std::cell::RefCell::new((0, Vec::new())) };
}

/// Step `attempt` of bin `i`'s densification chain: a pseudo-random bin.
#[inline]
fn chain_step(i: usize, attempt: u64, k: u128) -> usize {
    let h = fmix64(((i as u64) << 32) ^ attempt ^ 0x5bd1_e995_0000_0000);
    ((h as u128 * k) >> 64) as usize
}

/// Densified OPH bins of a shingle set; `None` when there are no shingles.
pub fn oph_bins(shingles: &[u64], num_perm: usize) -> Option<Vec<u64>> {
    if shingles.is_empty() || num_perm == 0 {
        return None;
    }
    let k = num_perm as u128;
    // u64::MAX marks an empty bin (a shingle hashing to exactly u64::MAX
    // would look empty: harmless, it is then filled by densification).
    let mut bins = vec![u64::MAX; num_perm];
    for &s in shingles {
        // Fast range reduction: the bin is taken from the high bits of s.
        let b = ((s as u128 * k) >> 64) as usize;
        // Branch-free: whether s is smaller is a coin toss early on.
        bins[b] = bins[b].min(s);
    }
    if bins.iter().all(|&b| b == u64::MAX) {
        return None;
    }
    if num_perm <= 1 << 16 {
        CHAINS.with_borrow_mut(|(n, table)| {
            if *n != num_perm {
                table.clear();
                for i in 0..num_perm {
                    table.extend((0..CHAIN_STEPS as u64).map(|a| chain_step(i, a, k) as u16));
                }
                *n = num_perm;
            }
            densify(&mut bins, table);
        });
    } else {
        densify(&mut bins, &[]);
    }
    Some(bins)
}

/// Optimal densification: an empty bin takes the value of the first
/// originally filled bin on its chain (a pseudo-random walk seeded by the
/// bin number; it ends because at least one bin is filled). `table` holds
/// the first [`CHAIN_STEPS`] steps of every chain, or is empty; short
/// documents leave most bins empty and walk long chains, and a table look-up
/// is a fraction of a hash.
fn densify(bins: &mut [u64], table: &[u16]) {
    let original = bins.to_vec();
    let k = bins.len() as u128;
    for i in 0..bins.len() {
        if original[i] != u64::MAX {
            continue;
        }
        let steps = table.get(i * CHAIN_STEPS..(i + 1) * CHAIN_STEPS);
        let from_table = steps
            .into_iter()
            .flatten()
            .map(|&j| j as usize)
            .find(|&j| original[j] != u64::MAX);
        let j = from_table.unwrap_or_else(|| {
            let mut attempt = steps.map_or(0, |_| CHAIN_STEPS as u64);
            loop {
                let j = chain_step(i, attempt, k);
                if original[j] != u64::MAX {
                    break j;
                }
                attempt += 1;
            }
        });
        bins[i] = original[j];
    }
}

/// Band keys and verification bits of a text; `None` when it has no words.
pub fn near_signature(text: &str, p: &SigParams, scratch: &mut Vec<u64>) -> Option<NearSig> {
    shingles(text, p.ngram, scratch);
    let bins = oph_bins(scratch, p.num_perm)?;
    let mut sig = sig_from_bins(&bins, p);
    sig.set = bottom_k(scratch, SET_K);
    Some(sig)
}

/// [`near_signature`] from word hashes already computed.
pub fn near_signature_of_words(
    words: &[u64],
    p: &SigParams,
    scratch: &mut Vec<u64>,
) -> Option<NearSig> {
    shingles_of_words(words, p.ngram, scratch);
    let bins = oph_bins(scratch, p.num_perm)?;
    let mut sig = sig_from_bins(&bins, p);
    sig.set = bottom_k(scratch, SET_K);
    Some(sig)
}

/// Band keys and bits from densified bins (the verification set is left
/// empty: it needs the shingles).
pub fn sig_from_bins(bins: &[u64], p: &SigParams) -> NearSig {
    let mut bands = Vec::with_capacity(p.bands);
    for b in 0..p.bands {
        let mut h = 0x243f_6a88_85a3_08d3u64 ^ (b as u64);
        for &v in &bins[b * p.rows..(b + 1) * p.rows] {
            h = fmix64(h ^ v).wrapping_add(0x9e37_79b9_7f4a_7c15);
        }
        bands.push(fmix64(h));
    }
    let mut bits = vec![0u64; bins.len().div_ceil(64)];
    for (i, &v) in bins.iter().enumerate() {
        bits[i / 64] |= (fmix64(v) & 1) << (i % 64);
    }
    NearSig {
        bands,
        bits,
        set: Vec::new(),
    }
}

/// Estimated Jaccard similarity of two 1-bit signatures of `num_perm` bits:
/// each bit agrees with probability (1 + J) / 2.
pub fn estimate(a: &[u64], b: &[u64], num_perm: usize) -> f64 {
    let diff: u32 = a.iter().zip(b).map(|(x, y)| (x ^ y).count_ones()).sum();
    let agree = num_perm as f64 - diff as f64;
    (2.0 * agree / num_perm as f64 - 1.0).max(0.0)
}

/// Exact Jaccard similarity of two shingle-hash lists (repeats ignored); used
/// by tests and the evaluation as ground truth.
pub fn exact_jaccard(a: &[u64], b: &[u64]) -> f64 {
    let sa: std::collections::HashSet<u64> = a.iter().copied().collect();
    let sb: std::collections::HashSet<u64> = b.iter().copied().collect();
    if sa.is_empty() && sb.is_empty() {
        return 1.0;
    }
    let inter = sa.intersection(&sb).count();
    inter as f64 / (sa.len() + sb.len() - inter) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: SigParams = SigParams {
        ngram: 5,
        num_perm: 256,
        bands: 3,
        rows: 2,
    };

    /// The plain char-by-char definition the table-driven scan must match.
    fn word_hashes_reference(text: &str) -> Vec<u64> {
        let mut out = Vec::new();
        let mut h = FNV_OFFSET;
        let mut in_word = false;
        for c in text.chars() {
            if c.is_alphanumeric() {
                let mut enc = [0u8; 4];
                for lc in c.to_lowercase() {
                    for &x in lc.encode_utf8(&mut enc).as_bytes() {
                        h = (h ^ x as u64).wrapping_mul(FNV_PRIME);
                    }
                }
                in_word = true;
            } else if in_word {
                out.push(fmix64(h));
                h = FNV_OFFSET;
                in_word = false;
            }
        }
        if in_word {
            out.push(fmix64(h));
        }
        out
    }

    #[test]
    fn word_hashes_match_the_char_by_char_definition() {
        let seeds = [
            include_str!("../../../tests/fixtures/seeds/000_e7f6ed2af000063c.txt"),
            include_str!("../../../tests/fixtures/seeds/002_31699701fbb39e56.txt"),
            include_str!("../../../tests/fixtures/seeds/003_240feac35cea67fe.txt"),
        ];
        let odd = [
            "",
            "a",
            "É",
            "ÉCOLE—Ärger…“Zürich”",
            "İstanbul ΣΊΣΥΦΟΣ",
            "x\u{2060}y",
            "数据 清洗 2023年",
            "ﬁnance ǅ ẞ",
            "end.",
            "  ",
            "a\u{300}b",
            "٣٤ ١٢",
        ];
        for t in seeds.iter().chain(odd.iter()) {
            let mut got = Vec::new();
            for_each_word_hash(t, |h| got.push(h));
            assert_eq!(got, word_hashes_reference(t), "{t:?}");
        }
        // The shortcut for general punctuation holds for the whole block.
        for c in '\u{2000}'..='\u{206f}' {
            assert!(!c.is_alphanumeric(), "U+{:04X}", c as u32);
        }
    }

    /// Densification as first written: a hash per chain step.
    fn oph_bins_reference(shingles: &[u64], num_perm: usize) -> Option<Vec<u64>> {
        let k = num_perm as u128;
        let mut bins = vec![u64::MAX; num_perm];
        for &s in shingles {
            let b = ((s as u128 * k) >> 64) as usize;
            bins[b] = bins[b].min(s);
        }
        if shingles.is_empty() || bins.iter().all(|&b| b == u64::MAX) {
            return None;
        }
        let original = bins.clone();
        for i in (0..num_perm).filter(|&i| original[i] == u64::MAX) {
            for attempt in 0.. {
                let h = fmix64(((i as u64) << 32) ^ attempt ^ 0x5bd1_e995_0000_0000);
                let j = ((h as u128 * k) >> 64) as usize;
                if original[j] != u64::MAX {
                    bins[i] = original[j];
                    break;
                }
            }
        }
        Some(bins)
    }

    #[test]
    fn densified_bins_match_the_hash_per_step_definition() {
        let text = include_str!("../../../tests/fixtures/seeds/002_31699701fbb39e56.txt");
        let mut all = Vec::new();
        shingles(text, 5, &mut all);
        // From one shingle (every chain long, past the table) to the whole
        // page, and sizes with and without a table, alternating so the
        // per-thread table is rebuilt.
        let check = |n: usize, num_perm: usize| {
            let part = &all[..n.min(all.len())];
            assert_eq!(
                oph_bins(part, num_perm),
                oph_bins_reference(part, num_perm),
                "{n} shingles, {num_perm} bins"
            );
        };
        for n in [1, 2, 3, 7, 20, 64, 200, 1000, all.len()] {
            for num_perm in [256, 64, 256] {
                check(n, num_perm);
            }
        }
        // Too many bins for a table (chains are then hashed step by step).
        check(all.len(), 1 << 17);
    }

    #[test]
    fn words_ignore_case_and_punctuation() {
        let hashes = |t: &str| {
            let mut v = Vec::new();
            for_each_word_hash(t, |h| v.push(h));
            v
        };
        let got = hashes("Blinken’s “Wang Yi”, SÃO-Paulo 2023!");
        assert_eq!(got, hashes("blinken s wang yi são paulo 2023"));
        assert_eq!(got.len(), 7);
        assert_ne!(hashes("wang"), hashes("wan"));
    }

    #[test]
    fn short_and_empty_texts() {
        let mut s = Vec::new();
        shingles("", 5, &mut s);
        assert!(s.is_empty());
        shingles("only three words", 5, &mut s);
        assert_eq!(s.len(), 1);
        shingles("one two three four five six", 5, &mut s);
        assert_eq!(s.len(), 2);
        assert!(near_signature("  ,,, ", &P, &mut s).is_none());
        assert!(near_signature("word", &P, &mut s).is_some());
    }

    #[test]
    fn estimate_tracks_exact_jaccard() {
        let text = include_str!("../../../tests/fixtures/seeds/002_31699701fbb39e56.txt");
        let words: Vec<&str> = text.split_whitespace().collect();
        let mut sa = Vec::new();
        let mut sb = Vec::new();
        // Prefixes of the same text: known overlap.
        for keep in [1.0, 0.95, 0.9, 0.8, 0.6, 0.3] {
            let cut = (words.len() as f64 * keep) as usize;
            let a = words.join(" ");
            let b = words[..cut].join(" ");
            shingles(&a, 5, &mut sa);
            shingles(&b, 5, &mut sb);
            let truth = exact_jaccard(&sa, &sb);
            let x = near_signature(&a, &P, &mut sa).unwrap();
            let y = near_signature(&b, &P, &mut sb).unwrap();
            let est = estimate(&x.bits, &y.bits, P.num_perm);
            assert!(
                (est - truth).abs() < 0.15,
                "keep {keep}: est {est} truth {truth}"
            );
        }
    }

    #[test]
    fn set_jaccard_is_exact_for_small_sets_and_close_for_large() {
        let text = include_str!("../../../tests/fixtures/seeds/002_31699701fbb39e56.txt");
        let words: Vec<&str> = text.split_whitespace().collect();
        let (mut sa, mut sb) = (Vec::new(), Vec::new());
        for (keep, k) in [(0.9, 1 << 20), (0.8, 1 << 20), (0.9, 256), (0.5, 256)] {
            let cut = (words.len() as f64 * keep) as usize;
            shingles(&words.join(" "), 5, &mut sa);
            shingles(&words[..cut].join(" "), 5, &mut sb);
            let truth = exact_jaccard(&sa, &sb);
            let got = set_jaccard(&bottom_k(&sa, k), &bottom_k(&sb, k), k);
            let tol = if k >= sa.len() { 1e-9 } else { 0.1 };
            assert!(
                (got - truth).abs() < tol,
                "keep {keep} k {k}: {got} vs {truth}"
            );
        }
        // bottom_k sorts, dedups and keeps the k smallest.
        let mut all: Vec<u32> = sa.iter().map(|&x| x as u32).collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(bottom_k(&sa, usize::MAX), all);
        assert_eq!(bottom_k(&sa, 100), all[..100]);
        assert_eq!(bottom_k(&[7, 7, 3, u64::MAX], 8), vec![3, 7, u32::MAX]);
        assert!(bottom_k(&[], 8).is_empty());
        assert_eq!(set_jaccard(&[], &[], 8), 1.0);
        assert_eq!(set_jaccard(&[1, 2], &[3], 8), 0.0);
    }

    #[test]
    fn identical_texts_share_every_band() {
        let mut s = Vec::new();
        let a = near_signature("The quick brown fox jumps over the lazy dog", &P, &mut s).unwrap();
        let b =
            near_signature("the quick, brown fox jumps over the LAZY dog.", &P, &mut s).unwrap();
        assert_eq!(a, b);
        assert_eq!(estimate(&a.bits, &b.bits, P.num_perm), 1.0);
    }
}
