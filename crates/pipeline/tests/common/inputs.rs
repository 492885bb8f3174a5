//! Generators of pathological inputs, shared by `tests/pathological.rs`
//! (small sizes, correctness) and `benches/pathological.rs` (full sizes,
//! linearity), so both measure exactly the same text.
#![allow(dead_code)]

/// `word word word …`, twelve words a line.
pub fn repeated_word(bytes: usize) -> String {
    let mut s = String::with_capacity(bytes + 8);
    let mut k = 0;
    while s.len() < bytes {
        s.push_str("lorem");
        k += 1;
        s.push(if k % 12 == 0 { '\n' } else { ' ' });
    }
    s
}

/// Real prose with every line break turned into a space: one long line.
pub fn long_line(bytes: usize) -> String {
    let src = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/segment/002_article_eu.txt"
    ))
    .replace('\n', " ");
    let mut s = String::with_capacity(bytes + src.len());
    while s.len() < bytes {
        s.push_str(&src);
        s.push(' ');
    }
    s
}

/// `{a|{b|{c|…}}}` nested as deep as the size allows, inside a sentence.
pub fn nested_spintax(bytes: usize) -> String {
    let depth = bytes / 4;
    let mut s = String::with_capacity(bytes + 32);
    s.push_str("The {quick|fast} fox ");
    for i in 0..depth {
        s.push('{');
        s.push(char::from(b'a' + (i % 26) as u8));
        s.push('|');
    }
    s.push('z');
    s.push_str(&"}".repeat(depth));
    s.push_str(" jumped.");
    s
}

/// Combining marks only (U+0300–U+036F cycled), no base character.
pub fn combining_marks(bytes: usize) -> String {
    (0x300u32..0x370)
        .cycle()
        .filter_map(char::from_u32)
        .take(bytes / 2)
        .collect()
}

/// Emoji only: plain, with skin tones, ZWJ families, flags, keycaps.
pub fn emoji(bytes: usize) -> String {
    const E: &[&str] = &["😀", "👍🏽", "👨‍👩‍👧‍👦", "🇫🇷", "🏳️‍🌈", "1️⃣", "🤷‍♀️", "🧑🏿‍🚀", "❤️", "🫠"];
    let mut s = String::with_capacity(bytes + 32);
    let mut i = 0;
    while s.len() < bytes {
        s.push_str(E[i % E.len()]);
        i += 1;
    }
    s
}

/// Right-to-left text only: Arabic and Hebrew sentences, with line breaks.
pub fn rtl(bytes: usize) -> String {
    const L: &[&str] = &[
        "قال المتحدث باسم الوزارة إن الاجتماع سيعقد يوم الأحد المقبل في العاصمة.",
        "وأضاف أن الحكومة تعمل على خطة جديدة لدعم القطاع الزراعي خلال العام.",
        "הממשלה הודיעה היום על תוכנית חדשה לשיפור התחבורה הציבורית בערים.",
        "לדברי השר, העבודות יחלו בחודש הבא ויימשכו כשנתיים.",
    ];
    let mut s = String::with_capacity(bytes + 256);
    let mut i = 0;
    while s.len() < bytes {
        s.push_str(L[i % L.len()]);
        s.push(if i % 3 == 2 { '\n' } else { ' ' });
        i += 1;
    }
    s
}

/// Whitespace only: spaces, tabs, line ends (LF, CRLF, CR), NBSP, em space,
/// ideographic space, line and paragraph separators.
pub fn whitespace(bytes: usize) -> String {
    const W: &[&str] = &[
        " ", "\t", "\n", "\r\n", "\r", "\u{a0}", "\u{2003}", "\u{3000}", "\u{2028}", "\u{2029}",
        "   ", "\n\n\n",
    ];
    let mut s = String::with_capacity(bytes + 8);
    let mut i = 0;
    while s.len() < bytes {
        s.push_str(W[(i * 7 + i / 5) % W.len()]);
        i += 1;
    }
    s
}
