//! Large zeroed tables that are about to be counted into, and their reuse.
//!
//! Stages that learn in the profile pass count into big fixed-size tables
//! (a 32 MiB sketch, a 16 MiB n-gram table), and the pass makes and drops
//! them per batch or per input file. Fresh memory costs a page fault per
//! 4 KiB, and unmapping it again interrupts every core to flush its TLB; a
//! dropped table kept for the next one costs a `memset` instead.

use rayon::prelude::*;
use std::sync::Mutex;

/// Tables given back by [`recycle`], not cleared yet.
static POOL: Mutex<Vec<Vec<u32>>> = Mutex::new(Vec::new());
/// Tables kept at most (the memory stays with the process).
const POOL_MAX: usize = 4;
/// Smaller tables are cheap to make and are not kept.
const POOL_MIN_CELLS: usize = 1 << 16;
/// Cells of a big table one thread works on at a time (1 MiB of `u32`):
/// tables are cleared, first written, copied and summed in such pieces on
/// the current rayon pool (a run waits for its tables at start-up, and
/// merges are the profile pass's ordered path).
pub const PIECE: usize = 1 << 18;

/// A zeroed table of `len` cells: a recycled one of that length, cleared,
/// or a new one from [`zeroed_table`].
pub fn table(len: usize) -> Vec<u32> {
    let pooled = POOL.lock().ok().and_then(|mut pool| {
        let i = pool.iter().position(|c| c.len() == len)?;
        Some(pool.swap_remove(i))
    });
    match pooled {
        Some(mut cells) => {
            cells.par_chunks_mut(PIECE).for_each(|c| c.fill(0));
            cells
        }
        None => zeroed_table(len),
    }
}

/// Give a table back for a later [`table`] of the same length.
pub fn recycle(cells: Vec<u32>) {
    if cells.len() < POOL_MIN_CELLS {
        return;
    }
    if let Ok(mut pool) = POOL.lock() {
        if pool.len() < POOL_MAX {
            pool.push(cells);
        }
    }
}

/// A zeroed `Vec<u32>` of `len` cells with every page already written.
///
/// `vec![0; len]` asks the kernel for untouched zero pages. A counting
/// table reads a cell before it writes it: the read maps the shared zero
/// page, the write then copies it, and that copy makes the kernel flush the
/// page from every other core's TLB (an interrupt to each). Writing one
/// cell per page first gives each page its own frame at once, with no copy
/// and no flush: on a 32 MiB table this was a few percent of the profile
/// pass, all of it on the ordered path of the merges.
pub fn zeroed_table(len: usize) -> Vec<u32> {
    let mut v = vec![0u32; len];
    // One write per 4 KiB page; black_box keeps the writes of a value the
    // optimiser could otherwise prove redundant. Pieces fault in on the
    // pool's threads at once.
    v.par_chunks_mut(PIECE).for_each(|piece| {
        for cell in piece.iter_mut().step_by(4096 / std::mem::size_of::<u32>()) {
            *cell = std::hint::black_box(0);
        }
    });
    v
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_recycled_table_comes_back_cleared() {
        let len = super::POOL_MIN_CELLS + 3;
        let mut t = super::table(len);
        t.iter_mut().for_each(|c| *c = 7);
        super::recycle(t);
        let again = super::table(len);
        assert_eq!(again.len(), len);
        assert!(again.iter().all(|&c| c == 0));
        // Another length never gets it.
        super::recycle(again);
        assert_eq!(super::table(len + 1).len(), len + 1);
    }

    #[test]
    fn tables_are_zero_and_sized() {
        for len in [0, 1, 1023, 1024, 1025, 1 << 20] {
            let t = super::zeroed_table(len);
            assert_eq!(t.len(), len);
            assert!(t.iter().all(|&c| c == 0));
        }
    }
}
