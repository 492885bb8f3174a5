//! Large zeroed tables that are about to be counted into.

/// A zeroed `Vec<u32>` of `len` cells with every page already written.
///
/// `vec![0; len]` asks the kernel for untouched zero pages. A counting
/// table reads a cell before it writes it: the read maps the shared zero
/// page, the write then copies it, and that copy makes the kernel flush the
/// page from every other core's TLB (an interrupt to each). Writing one
/// cell per page first gives each page its own frame at once, with no copy
/// and no flush: on a 32 MiB table this was a few percent of the profile
/// pass, all of it on the collector thread.
pub fn zeroed_table(len: usize) -> Vec<u32> {
    let mut v = vec![0u32; len];
    // One write per 4 KiB page; black_box keeps the writes of a value the
    // optimiser could otherwise prove redundant.
    for cell in v.iter_mut().step_by(4096 / std::mem::size_of::<u32>()) {
        *cell = std::hint::black_box(0);
    }
    v
}

#[cfg(test)]
mod tests {
    #[test]
    fn tables_are_zero_and_sized() {
        for len in [0, 1, 1023, 1024, 1025, 1 << 20] {
            let t = super::zeroed_table(len);
            assert_eq!(t.len(), len);
            assert!(t.iter().all(|&c| c == 0));
        }
    }
}
