//! The streaming engine, independent of what a batch holds.
//!
//! ```text
//! reader thread ──batch i──▶ pool: phase 0 parallel work
//!        ▲                      │
//!        │                      ▼
//!        │               sequencer 0: reorder by i, ordered step 0 ──▶ pool: phase 1 ...
//!        │                                                              │
//!        └──── credit ◀── sink thread: reorder by i, write ◀────────────┘
//! ```
//! At most `in_flight` batches exist at once (the reader takes a credit per
//! batch, the sink gives it back), so memory is bounded by batch size and
//! credits, never by input size. Every reorder point releases batches in
//! index order, so results do not depend on which worker finished first.

use crossbeam_channel::{bounded, Receiver, Sender};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::thread;

/// Anything with a batch index.
pub trait Indexed: Send + 'static {
    fn index(&self) -> u64;
}

/// Work on a batch in the pool.
pub type ParallelFn<B> = Arc<dyn Fn(&mut B) + Send + Sync>;
/// Work on batches one at a time, in index order.
pub type OrderedFn<B> = Box<dyn FnMut(&mut B) + Send>;

/// One phase: parallel work, then optionally an ordered step.
pub struct Phase<B> {
    pub parallel: ParallelFn<B>,
    pub ordered: Option<OrderedFn<B>>,
}

/// Releases items in index order however they arrive.
struct Reorder<B> {
    next: u64,
    waiting: BTreeMap<u64, B>,
}

impl<B: Indexed> Reorder<B> {
    fn new() -> Self {
        Reorder {
            next: 0,
            waiting: BTreeMap::new(),
        }
    }
    fn push(&mut self, b: B, out: &mut dyn FnMut(B)) {
        self.waiting.insert(b.index(), b);
        while let Some(b) = self.waiting.remove(&self.next) {
            self.next += 1;
            out(b);
        }
    }
}

fn dispatch<B: Indexed>(
    pool: &rayon::ThreadPool,
    work: ParallelFn<B>,
    mut batch: B,
    to: Sender<B>,
) {
    pool.spawn(move || {
        work(&mut batch);
        // The receiver only goes away when the run is being torn down.
        let _ = to.send(batch);
    });
}

/// Run batches from `source` through `phases` into `sink`.
///
/// `source` is called on the reader thread with a `send` function; it must
/// call it for each batch (indices 0, 1, 2 ... in order) and stop when it
/// returns `false`. `sink` is called on the sink thread, in index order.
pub fn run<B, S, K>(
    pool: Arc<rayon::ThreadPool>,
    in_flight: usize,
    phases: Vec<Phase<B>>,
    source: S,
    mut sink: K,
) where
    B: Indexed,
    S: FnOnce(&mut dyn FnMut(B) -> bool) + Send + 'static,
    K: FnMut(B) + Send + 'static,
{
    let in_flight = in_flight.max(1);
    let (credit_tx, credit_rx) = bounded::<()>(in_flight);
    for _ in 0..in_flight {
        let _ = credit_tx.send(());
    }

    // Channels: phase k's parallel output goes to stage k+1's receiver;
    // the last goes to the sink.
    let n = phases.len();
    let mut txs: Vec<Sender<B>> = Vec::with_capacity(n);
    let mut rxs: Vec<Receiver<B>> = Vec::with_capacity(n);
    for _ in 0..n.max(1) {
        let (tx, rx) = bounded::<B>(in_flight);
        txs.push(tx);
        rxs.push(rx);
    }
    let parallels: Vec<ParallelFn<B>> = phases.iter().map(|p| p.parallel.clone()).collect();

    let mut handles = Vec::new();
    // Sequencers for phases 0..n-1: receive phase k's output, run the
    // ordered step, dispatch phase k+1.
    let mut orders: Vec<Option<OrderedFn<B>>> = phases.into_iter().map(|p| p.ordered).collect();
    let last_rx = rxs.pop();
    for k in 0..n.saturating_sub(1) {
        let rx = rxs.remove(0);
        let mut ordered = orders[k].take();
        let next_work = parallels[k + 1].clone();
        let next_tx = txs[k + 1].clone();
        let pool = pool.clone();
        let spawned = thread::Builder::new()
            .name(format!("sluicebox-seq{k}"))
            .spawn(move || {
                let mut reorder = Reorder::new();
                for b in rx.iter() {
                    reorder.push(b, &mut |mut b: B| {
                        if let Some(f) = ordered.as_mut() {
                            f(&mut b);
                        }
                        dispatch(&pool, next_work.clone(), b, next_tx.clone());
                    });
                }
                drop(ordered);
            });
        match spawned {
            Ok(h) => handles.push(h),
            Err(e) => panic!("cannot start a sequencer thread: {e}"),
        }
    }
    let mut last_ordered = orders.pop().flatten();
    let sink_rx = last_rx;
    let credit_back = credit_tx.clone();
    let sink_handle = thread::Builder::new()
        .name("sluicebox-writer".into())
        .spawn(move || {
            let mut reorder = Reorder::new();
            if let Some(rx) = sink_rx {
                for b in rx.iter() {
                    reorder.push(b, &mut |mut b: B| {
                        if let Some(f) = last_ordered.as_mut() {
                            f(&mut b);
                        }
                        sink(b);
                        let _ = credit_back.send(());
                    });
                }
            }
            drop(last_ordered);
            drop(sink);
        });

    // The reader runs on this thread's child so the caller can join it.
    let first_work = parallels.first().cloned();
    let first_tx = txs.first().cloned();
    drop(txs);
    let reader_pool = pool.clone();
    let reader = thread::Builder::new()
        .name("sluicebox-reader".into())
        .spawn(move || {
            let mut send = |b: B| -> bool {
                if credit_rx.recv().is_err() {
                    return false;
                }
                match (&first_work, &first_tx) {
                    (Some(w), Some(tx)) => {
                        dispatch(&reader_pool, w.clone(), b, tx.clone());
                        true
                    }
                    _ => false,
                }
            };
            source(&mut send);
        });
    if let Ok(reader) = reader {
        let _ = reader.join();
    }
    for h in handles {
        let _ = h.join();
    }
    drop(credit_tx);
    if let Ok(sink_handle) = sink_handle {
        if let Err(e) = sink_handle.join() {
            std::panic::resume_unwind(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct B {
        i: u64,
        v: Vec<u64>,
    }
    impl Indexed for B {
        fn index(&self) -> u64 {
            self.i
        }
    }

    #[test]
    fn order_is_restored_and_in_flight_is_bounded() {
        let pool = Arc::new(
            rayon::ThreadPoolBuilder::new()
                .num_threads(4)
                .build()
                .unwrap(),
        );
        let live = Arc::new(AtomicUsize::new(0));
        let max_live = Arc::new(AtomicUsize::new(0));
        let got = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (l1, m1, l2, g2) = (live.clone(), max_live.clone(), live.clone(), got.clone());
        let phases = vec![
            Phase {
                parallel: Arc::new(|b: &mut B| {
                    // Uneven work so batches finish out of order.
                    std::thread::sleep(std::time::Duration::from_micros((b.i * 7919) % 500));
                    for x in &mut b.v {
                        *x *= 2;
                    }
                }),
                ordered: Some(Box::new({
                    let mut running = 0u64;
                    move |b: &mut B| {
                        for x in &mut b.v {
                            running += *x;
                            *x = running;
                        }
                    }
                })),
            },
            Phase {
                parallel: Arc::new(|b: &mut B| {
                    for x in &mut b.v {
                        *x += 1;
                    }
                }),
                ordered: None,
            },
        ];
        run(
            pool,
            3,
            phases,
            move |send| {
                for i in 0..200u64 {
                    let now = l1.fetch_add(1, Ordering::SeqCst) + 1;
                    m1.fetch_max(now, Ordering::SeqCst);
                    if !send(B {
                        i,
                        v: vec![i, i + 1],
                    }) {
                        return;
                    }
                }
            },
            move |b: B| {
                l2.fetch_sub(1, Ordering::SeqCst);
                g2.lock().unwrap().extend(b.v);
            },
        );
        // The same computation done sequentially.
        let mut running = 0u64;
        let mut want = Vec::new();
        for i in 0..200u64 {
            for x in [i, i + 1] {
                running += x * 2;
                want.push(running + 1);
            }
        }
        assert_eq!(*got.lock().unwrap(), want);
        // 3 credits: at most 3 batches exist, plus the one being made.
        assert!(max_live.load(Ordering::SeqCst) <= 4);
    }

    #[test]
    fn ordered_step_sees_batches_in_order() {
        let pool = Arc::new(
            rayon::ThreadPoolBuilder::new()
                .num_threads(3)
                .build()
                .unwrap(),
        );
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let s2 = seen.clone();
        let phases = vec![Phase {
            parallel: Arc::new(|b: &mut B| {
                std::thread::sleep(std::time::Duration::from_micros((b.i * 31) % 300));
            }),
            ordered: Some(Box::new(move |b: &mut B| {
                if let Ok(mut s) = s2.lock() {
                    s.push(b.i)
                }
            })),
        }];
        let total = Arc::new(AtomicUsize::new(0));
        let t2 = total.clone();
        run(
            pool,
            5,
            phases,
            |send| {
                for i in 0..100 {
                    send(B { i, v: vec![i] });
                }
            },
            move |b: B| {
                t2.fetch_add(b.v[0] as usize, Ordering::SeqCst);
            },
        );
        assert_eq!(total.load(Ordering::SeqCst), (0..100).sum::<usize>());
        let s = seen.lock().unwrap().clone();
        assert_eq!(s, (0..100).collect::<Vec<_>>());
    }
}
