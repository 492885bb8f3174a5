//! The single-byte codecs whose misreading of UTF-8 the stage undoes, and
//! per-character facts derived from them (which byte a character stands for,
//! whether it can be the image of a UTF-8 lead or continuation byte).
//!
//! Everything here is built once from the generated tables in `tables.rs`.

use super::tables;
use std::sync::OnceLock;

/// A codec a UTF-8 text may have been wrongly decoded with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// windows-1252, also covering latin-1 (its C1 controls map to bytes
    /// 0x80..=0x9F) and the five bytes windows-1252 leaves undefined.
    W1252,
    W1251,
    W1250,
    Iso8859_2,
    W1257,
    W1253,
    MacRoman,
    Cp437,
}

/// In the order ties are broken: the most common accidents first.
pub const ALL: [Codec; 8] = [
    Codec::W1252,
    Codec::W1251,
    Codec::W1250,
    Codec::Iso8859_2,
    Codec::W1257,
    Codec::W1253,
    Codec::MacRoman,
    Codec::Cp437,
];

/// A byte stood in for by U+FFFD (a lossy earlier decode).
pub const LOSSY: u16 = 0x100;

impl Codec {
    pub fn name(self) -> &'static str {
        match self {
            Codec::W1252 => "windows-1252",
            Codec::W1251 => "windows-1251",
            Codec::W1250 => "windows-1250",
            Codec::Iso8859_2 => "iso-8859-2",
            Codec::W1257 => "windows-1257",
            Codec::W1253 => "windows-1253",
            Codec::MacRoman => "mac-roman",
            Codec::Cp437 => "cp437",
        }
    }

    fn table(self) -> &'static [char; 128] {
        match self {
            Codec::W1252 => &tables::W1252,
            Codec::W1251 => &tables::W1251,
            Codec::W1250 => &tables::W1250,
            Codec::Iso8859_2 => &tables::ISO8859_2,
            Codec::W1257 => &tables::W1257,
            Codec::W1253 => &tables::W1253,
            Codec::MacRoman => &tables::MAC_ROMAN,
            Codec::Cp437 => &tables::CP437,
        }
    }

    fn index(self) -> usize {
        ALL.iter().position(|&c| c == self).unwrap_or(0)
    }

    /// The byte `c` stands for in this codec: ASCII as itself, U+FFFD as
    /// [`LOSSY`], `None` when the codec cannot produce `c`.
    pub fn encode(self, c: char) -> Option<u16> {
        if c.is_ascii() {
            return Some(c as u16);
        }
        if c == '\u{FFFD}' {
            return Some(LOSSY);
        }
        let data = data();
        let ci = self.index();
        if let Some(&b) = data.low_bytes[ci].get(c as usize) {
            return (b != 0).then_some(b as u16);
        }
        let rev = &data.reverse[ci];
        rev.binary_search_by_key(&(c as u32), |&(k, _)| k)
            .ok()
            .map(|i| rev[i].1 as u16)
    }

    /// What byte `b` (0x80..=0xFF) means in this codec.
    pub fn decode_high(self, b: u8) -> char {
        self.table()[(b & 0x7F) as usize]
    }
}

/// Facts about one non-ASCII character, one bit per codec in [`ALL`] order.
#[derive(Debug, Clone, Copy, Default)]
pub struct CharInfo {
    /// The character is what some codec shows for a UTF-8 lead byte (0xC2..=0xF4).
    pub lead: u8,
    /// The character is what some codec shows for a continuation byte (0x80..=0xBF).
    pub cont: u8,
}

struct Data {
    /// Per codec: (char, byte) sorted by char.
    reverse: Vec<Vec<(u32, u8)>>,
    /// Per codec, the byte of each character below U+0800 (0: none), so
    /// the common case needs no search.
    low_bytes: Vec<Vec<u8>>,
    /// Every character with a non-empty [`CharInfo`], sorted by char.
    info: Vec<(u32, CharInfo)>,
    /// The same for U+0000..U+07FF (one- and two-byte UTF-8), by index: the
    /// fast scan meets these most.
    low: Vec<CharInfo>,
    /// First UTF-8 byte of every character with a non-zero `lead` mask.
    lead_first_byte: [bool; 256],
}

fn data() -> &'static Data {
    static DATA: OnceLock<Data> = OnceLock::new();
    DATA.get_or_init(build)
}

fn build() -> Data {
    let mut reverse = Vec::new();
    let mut info: Vec<(u32, CharInfo)> = Vec::new();
    for (ci, codec) in ALL.iter().enumerate() {
        let mut rev: Vec<(u32, u8)> = (0x80u16..=0xFF)
            .map(|b| (codec.decode_high(b as u8) as u32, b as u8))
            .collect();
        if *codec == Codec::W1252 {
            // Latin-1 reads 0x80..=0x9F as C1 controls.
            for b in 0x80u32..=0x9F {
                if !rev.iter().any(|&(c, _)| c == b) {
                    rev.push((b, b as u8));
                }
            }
        }
        rev.sort_unstable();
        rev.dedup_by_key(|e| e.0);
        for &(c, b) in &rev {
            let bit = 1u8 << ci;
            let entry = match info.iter().position(|e| e.0 == c) {
                Some(i) => &mut info[i].1,
                None => {
                    info.push((c, CharInfo::default()));
                    let last = info.len() - 1;
                    &mut info[last].1
                }
            };
            if (0xC2..=0xF4).contains(&b) && useful_lead(b) {
                entry.lead |= bit;
            }
            if (0x80..=0xBF).contains(&b) {
                entry.cont |= bit;
            }
        }
        reverse.push(rev);
    }
    info.sort_unstable_by_key(|e| e.0);
    let mut lead_first_byte = [false; 256];
    for &(c, ci) in &info {
        if ci.lead != 0 {
            if let Some(ch) = char::from_u32(c) {
                let mut buf = [0u8; 4];
                let first = ch.encode_utf8(&mut buf).as_bytes()[0];
                lead_first_byte[first as usize] = true;
            }
        }
    }
    let low_bytes = reverse
        .iter()
        .map(|rev| {
            let mut t = vec![0u8; 0x800];
            for &(c, b) in rev {
                if c < 0x800 {
                    t[c as usize] = b;
                }
            }
            t
        })
        .collect();
    let mut low = vec![CharInfo::default(); 0x800];
    for &(c, ci) in &info {
        if c < 0x800 {
            low[c as usize] = ci;
        }
    }
    Data {
        reverse,
        low_bytes,
        info,
        low,
        lead_first_byte,
    }
}

/// Whether a lead byte can start a sequence the repair may accept: two-byte
/// sequences from 0xD4..=0xD6 (rare Cyrillic, Armenian, Hebrew
/// points) and 0xDC..=0xDF (Syriac, Thaana, NKo) decode to characters the
/// repair never accepts, so the fast scan need not look at them.
fn useful_lead(b: u8) -> bool {
    !matches!(b, 0xD4..=0xD6 | 0xDC..=0xDF)
}

/// Lead/continuation masks of `c` (empty for ASCII and unrelated characters).
pub fn info(c: char) -> CharInfo {
    let data = data();
    if let Some(ci) = data.low.get(c as usize) {
        return *ci;
    }
    let d = &data.info;
    match d.binary_search_by_key(&(c as u32), |e| e.0) {
        Ok(i) => d[i].1,
        Err(_) => CharInfo::default(),
    }
}

/// Whether a UTF-8 byte can begin a character that some codec shows for a
/// lead byte: the fast scan looks closer only at such bytes.
pub fn lead_first_bytes() -> &'static [bool; 256] {
    &data().lead_first_byte
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_round_trip() {
        assert_eq!(Codec::W1252.encode('€'), Some(0x80));
        assert_eq!(Codec::W1252.encode('\u{0081}'), Some(0x81));
        assert_eq!(Codec::W1252.encode('\u{0085}'), Some(0x85));
        assert_eq!(Codec::W1251.encode('Р'), Some(0xD0));
        assert_eq!(Codec::Cp437.encode('╨'), Some(0xD0));
        assert_eq!(Codec::MacRoman.encode('√'), Some(0xC3));
        assert_eq!(Codec::W1252.encode('Ж'), None);
        assert!(info('Ã').lead & 1 != 0);
        assert!(info('©').cont & 1 != 0);
        assert!(info('Ђ').cont != 0 && info('╨').lead != 0);
        assert!(lead_first_bytes()[0xC3]);
        assert!(!lead_first_bytes()[b'a' as usize]);
    }
}
