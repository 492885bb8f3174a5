//! The profile pass and the profile file.
//!
//! Documents go through the parallel stages before each learning stage;
//! a learning stage observes the document where it stands in the chain
//! (and is not applied, having no profile yet); ordered and split stages
//! are skipped (their state belongs to the cleaning pass), and so is
//! everything after the last learning stage. Each batch
//! builds its own partials; they are merged in batch order, a group of
//! batches at a time, on a pool of merge threads.

use crate::config::Config;
use crate::engine::{ParallelFn, Phase};
use crate::plan::{Plan, ProfileSet};
use crate::registry::Registry;
use crate::runner::{
    drive, guarded, phases_of, Batch, BySource, Partials, ReadFrom, RunOptions, Shared, Slot,
};
use sluicebox_core::{BuildContext, Cx, Document, ProfileBuilder, Verdict};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

const MAGIC: &[u8; 8] = b"SLBXPRF1";

/// Write a profile set to `path` (atomically).
pub fn save(path: &Path, set: &ProfileSet) -> Result<(), String> {
    let entries: Vec<(String, Vec<u8>)> = set.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let body = postcard::to_stdvec(&entries).map_err(|e| format!("cannot encode profile: {e}"))?;
    sluicebox_io::write_file_atomic(path, &[MAGIC.as_slice(), &body])
}

/// Read a profile set written by [`save`].
pub fn load(path: &Path) -> Result<ProfileSet, String> {
    let bytes = std::fs::read(path).map_err(|e| {
        format!(
            "{}: cannot read profile: {}; build one with `sluicebox profile -c CONFIG INPUT... -o {}`",
            path.display(),
            sluicebox_io::input::describe(&e),
            path.display()
        )
    })?;
    let body = bytes
        .strip_prefix(MAGIC.as_slice())
        .ok_or_else(|| format!("{}: not a sluicebox profile (bad header)", path.display()))?;
    let entries: Vec<(String, Vec<u8>)> = postcard::from_bytes(body)
        .map_err(|e| format!("{}: corrupt profile: {e}", path.display()))?;
    Ok(entries.into_iter().collect())
}

struct Learner {
    pos: usize,
    id: String,
    table: toml::Table,
    /// Per source index: whether the stage is enabled there.
    enabled: Vec<bool>,
}

/// Where the profile pass spent its time (for `sluicebox bench`).
#[derive(Debug, Clone, Default)]
pub struct PassTimes {
    /// Per stage the pass ran, in chain order: parallel stages applied,
    /// learning stages observing.
    pub stages: Vec<PassStage>,
}

/// One stage's share of the profile pass.
#[derive(Debug, Clone, Default)]
pub struct PassStage {
    pub id: String,
    /// A learning stage (timed observing) rather than one applied.
    pub learns: bool,
    pub docs_in: u64,
    pub bytes_in: u64,
    pub busy_seconds: f64,
    /// Learning stages: wall seconds folding partials, in batch order (the
    /// ordered path of the pass: a merge may spread over the merge threads,
    /// but merges follow one another, so their sum bounds how far the pass
    /// scales).
    pub merge_seconds: f64,
}

/// The merged partials: the current file's (order-dependent learners)
/// or the whole run's so far (order-free ones).
struct FileFold {
    acc: Partials,
    /// Batches' partials not folded into `acc` yet, in batch order: they
    /// fold a group at a time, one parallel pass per group instead of one
    /// per batch.
    waiting: Vec<Partials>,
    /// Batches were folded in since the last end of a file.
    since_mark: bool,
}

impl FileFold {
    fn fold_waiting(&mut self, ns: Option<&mut [u64]>) {
        if !self.waiting.is_empty() {
            merge_group_into(&mut self.acc, std::mem::take(&mut self.waiting), ns);
        }
    }
}

/// Per stage position: documents, bytes and nanoseconds of one batch or run.
#[derive(Debug, Clone, Copy, Default)]
struct Tally {
    docs: u64,
    bytes: u64,
    ns: u64,
    merge_ns: u64,
}

impl Tally {
    fn add(&mut self, bytes: usize, since: Instant) {
        self.docs += 1;
        self.bytes += bytes as u64;
        self.ns += since.elapsed().as_nanos() as u64;
    }
}

/// Add merge nanoseconds, by learner (`learner_at`: their stage
/// positions), to the tallies by stage position.
fn add_merge_ns(tally: &mut [Tally], learner_at: &[usize], ns: Vec<u64>) {
    for (pos, ns) in learner_at.iter().zip(ns) {
        if let Some(t) = tally.get_mut(*pos) {
            t.merge_ns += ns;
        }
    }
}

/// Fresh partial profiles, one per learning stage (in chain order).
pub(crate) type MakePartials = Arc<dyn Fn() -> Result<Partials, String> + Send + Sync>;

fn learners_of(config: &Config, registry: &Registry) -> Vec<Learner> {
    let n_sources = config.sources.len() + 1;
    config
        .stages
        .iter()
        .enumerate()
        .filter(|(_, e)| registry.get(&e.type_name).is_some_and(|f| f.learns()))
        .map(|(pos, e)| Learner {
            pos,
            id: e.id.clone(),
            table: config.effective_stage(pos, None).1,
            enabled: (0..n_sources)
                .map(|s| config.effective_stage(pos, s.checked_sub(1)).0)
                .collect(),
        })
        .collect()
}

/// The ids of the learning stages, in chain order (empty: no profile pass).
pub fn learner_ids(config: &Config, registry: &Registry) -> Vec<String> {
    learners_of(config, registry)
        .into_iter()
        .map(|l| l.id)
        .collect()
}

/// A maker of fresh partials for the learning stages of `config`.
pub(crate) fn partials_maker(config: &Config, registry: &Arc<Registry>) -> MakePartials {
    let registry = registry.clone();
    let base = config.base_dir.clone();
    let learners: Vec<(String, String, toml::Table)> = learners_of(config, &registry)
        .into_iter()
        .map(|l| (l.id, config.stages[l.pos].type_name.clone(), l.table))
        .collect();
    Arc::new(move || -> Result<Partials, String> {
        learners
            .iter()
            .map(|(id, ty, table)| {
                let f = registry
                    .get(ty)
                    .ok_or_else(|| format!("unknown stage type `{ty}`"))?;
                let cx = BuildContext {
                    stage_id: id.clone(),
                    source: "default".into(),
                    base_dir: base.clone(),
                    profile: None,
                };
                f.profile_builder(table, &cx)
                    .map_err(|e| format!("stage `{id}`: {e}"))
            })
            .collect()
    })
}

/// Fold `partials` into `acc`, stage by stage; adds each stage's time to
/// `ns` (by learner index) when given. Different stages' folds share
/// nothing, so they run at once on the current rayon pool (the run's
/// merge threads, see [`profile_files`]), and each stage's merge may split
/// its own work over that pool too: the fold is the ordered part of the
/// pass, and done on one thread it would bound how many workers the pass
/// can keep busy.
pub(crate) fn merge_into(acc: &mut Partials, partials: Partials, ns: Option<&mut [u64]>) {
    merge_group_into(acc, vec![partials], ns);
}

/// [`merge_into`] of each of `group` (consecutive batches' partials) in
/// turn, handed to each stage at once ([`ProfileBuilder::merge_many`]).
pub(crate) fn merge_group_into(acc: &mut Partials, group: Vec<Partials>, ns: Option<&mut [u64]>) {
    use rayon::prelude::*;
    // Per stage, its partials in batch order.
    let mut by_stage: Vec<Vec<Box<dyn ProfileBuilder>>> = acc.iter().map(|_| Vec::new()).collect();
    for partials in group {
        for (list, p) in by_stage.iter_mut().zip(partials) {
            list.extend(p);
        }
    }
    let mut spent = vec![0u64; acc.len()];
    acc.par_iter_mut()
        .zip(by_stage.into_par_iter())
        .zip(spent.par_iter_mut())
        .for_each(|((a, list), spent)| {
            let t = Instant::now();
            let mut list = list.into_iter();
            if a.is_none() {
                *a = list.next();
            }
            let rest: Vec<_> = list.collect();
            if let (Some(a), false) = (a.as_mut(), rest.is_empty()) {
                a.merge_many(rest);
            }
            *spent += t.elapsed().as_nanos() as u64;
        });
    if let Some(ns) = ns {
        for (n, s) in ns.iter_mut().zip(spent) {
            *n += s;
        }
    }
}

/// Finish merged partials into the profile set.
pub(crate) fn finish_partials(ids: &[String], partials: Partials) -> Result<ProfileSet, String> {
    let mut set = ProfileSet::new();
    for (id, p) in ids.iter().zip(partials) {
        if let Some(p) = p {
            let bytes = p.finish().map_err(|e| format!("stage `{id}`: {e}"))?;
            set.insert(id.clone(), bytes);
        }
    }
    Ok(set)
}

/// Run the profile pass over `opts.inputs`; returns the merged profiles of
/// every learning stage, by stage id.
///
/// Merge order: each input file's batch partials fold, in order, into a
/// fresh partial of that file; the files' partials fold, in order, into a
/// fresh partial of the run. A cluster plan builds the same file partials
/// on many machines and folds them the same way, so both get the same
/// profile even for merges that are not associative. (Order-free merges,
/// sums, fold across files directly: any grouping gives the same result.)
pub fn build_profiles(
    config: &Config,
    registry: &Arc<Registry>,
    opts: RunOptions,
) -> Result<ProfileSet, String> {
    build_profiles_timed(config, registry, opts).map(|(set, _)| set)
}

/// [`build_profiles`], also saying where the pass spent its time.
pub fn build_profiles_timed(
    config: &Config,
    registry: &Arc<Registry>,
    opts: RunOptions,
) -> Result<(ProfileSet, PassTimes), String> {
    let ids = learner_ids(config, registry);
    if ids.is_empty() {
        return Ok((ProfileSet::new(), PassTimes::default()));
    }
    let make = partials_maker(config, registry);
    let acc = Arc::new(Mutex::new((make()?, vec![0u64; ids.len()])));
    let a2 = acc.clone();
    let pool = crate::runner::merge_pool(opts.threads)?;
    let mut times = profile_files(config, registry, opts, pool.clone(), move |_, partials| {
        let mut acc = a2
            .lock()
            .map_err(|_| "internal: profile merge failed".to_string())?;
        let (acc, ns) = &mut *acc;
        merge_into(acc, partials, Some(ns));
        Ok(())
    })?;
    let (partials, ns) = acc
        .lock()
        .map(|mut m| std::mem::take(&mut *m))
        .map_err(|_| "internal: profile merge failed".to_string())?;
    // The files' partials folded into the run's: merge time too.
    for (st, ns) in times.stages.iter_mut().filter(|s| s.learns).zip(ns) {
        st.merge_seconds += ns as f64 / 1e9;
    }
    Ok((pool.install(|| finish_partials(&ids, partials))?, times))
}

/// The profile pass over `opts.inputs`: calls `on_file(n, partials)` on the
/// sink thread with input file `n`'s partials (fresh partials that
/// merged the file's batch partials in order), in file order. Learners whose
/// merge is order-free are not cut at file ends: their partials (None in
/// the per-file calls) come whole in a last call with `n = u64::MAX`, which
/// folds to the same profile. Stages are built, and `on_file` and the
/// merges run, in `pool` (see [`crate::runner::merge_pool`]); batches are
/// worked on by a pool of workers of their own. Returns where the pass
/// spent its time.
pub(crate) fn profile_files(
    config: &Config,
    registry: &Arc<Registry>,
    opts: RunOptions,
    pool: Arc<rayon::ThreadPool>,
    on_file: impl FnMut(u64, Partials) -> Result<(), String> + Send + 'static,
) -> Result<PassTimes, String> {
    let plan = pool
        .install(|| Plan::build(config, registry, &ProfileSet::new(), true))
        .map_err(|e| e.to_string())?;
    let learners = learners_of(config, registry);
    let type_names: Vec<String> = config.stages.iter().map(|e| e.type_name.clone()).collect();
    let n_stages = type_names.len();
    let stage_ids: Vec<String> = plan.stages.iter().map(|s| s.id.clone()).collect();
    let shared = Arc::new(Shared::new(config, stage_ids.clone(), plan.decodes.clone()));
    // Parallel stages in chain order, by position.
    let (pars, _) = phases_of(plan);
    let mut by_pos: ParByPos = vec![None; n_stages];
    for part in pars {
        for (pos, m) in part.stages {
            by_pos[pos] = Some(m);
        }
    }
    let make_partials = partials_maker(config, registry);
    // Check once up front so a broken builder is a clear error.
    pool.install(|| make_partials())?;
    let learner_pos: Vec<(usize, Vec<bool>)> = learners
        .iter()
        .map(|l| (l.pos, l.enabled.clone()))
        .collect();
    let sh = shared.clone();
    let make = make_partials.clone();
    let ids = stage_ids.clone();
    let parallel: ParallelFn<Batch> = Arc::new(move |b: &mut Batch| {
        let mut partials = match make() {
            Ok(p) => p,
            Err(e) => {
                sh.fail(e);
                return;
            }
        };
        let slots = std::mem::take(&mut b.slots);
        let mut tally = vec![Tally::default(); n_stages];
        for slot in slots {
            if let Slot::Raw(seq, raw) = slot {
                if let Slot::Live(doc, _) = sh.parse(seq, raw, &mut b.stats) {
                    observe(doc, 0, &by_pos, &learner_pos, &mut partials, &mut tally);
                }
            }
        }
        for (p, (pos, _)) in partials.iter_mut().zip(learner_pos.iter()) {
            if let Some(p) = p {
                let t = Instant::now();
                p.seal();
                tally[*pos].ns += t.elapsed().as_nanos() as u64;
            }
        }
        for ((id, t), ns) in ids.iter().zip(&tally).zip(b.busy_ns.iter_mut()) {
            let st = b.stats.stage_mut(id);
            st.docs_in += t.docs;
            st.bytes_in += t.bytes;
            *ns += t.ns;
        }
        b.partials = partials;
    });
    let progress = opts.progress.clone();
    let mut records = 0u64;
    let mut bytes = 0u64;
    let phases = vec![Phase {
        parallel,
        ordered: None,
    }];
    // The partials of the file being read; batches arrive in order here.
    let file_acc: Arc<Mutex<Option<FileFold>>> = Arc::new(Mutex::new(None));
    let acc2 = file_acc.clone();
    let on_file = Arc::new(Mutex::new(on_file));
    let on_file2 = on_file.clone();
    let sh_sink = shared.clone();
    let times = Arc::new(Mutex::new(vec![Tally::default(); n_stages]));
    let learner_at: Vec<usize> = learners.iter().map(|l| l.pos).collect();
    let learns = learner_at.clone();
    let times2 = times.clone();
    let ids = stage_ids.clone();
    let pool_sink = pool.clone();
    let pool_rest = pool.clone();
    // Batches whose partials fold in one pass: as many as there are
    // threads to share the pass.
    let group = pool.current_num_threads().max(1);
    let workers = crate::runner::worker_pool(opts.threads)?;
    drive(
        config,
        opts,
        &shared,
        n_stages,
        phases,
        ReadFrom {
            mark_files: true,
            ..ReadFrom::default()
        },
        workers,
        move |b: Batch| {
            records += b.stats.totals.records;
            bytes += b.input_bytes;
            if let Some(p) = &progress {
                p(records, bytes);
            }
            let Ok(mut times) = times2.lock() else {
                return sh_sink.fail("internal: profile merge failed".into());
            };
            for ((t, id), ns) in times.iter_mut().zip(&ids).zip(&b.busy_ns) {
                if let Some(st) = b.stats.stage(id) {
                    t.docs += st.docs_in;
                    t.bytes += st.bytes_in;
                }
                t.ns += ns;
            }
            let mut merge_ns = vec![0u64; learner_at.len()];
            // Folding is ordered: batches come here one at a time, in
            // order, and each fold runs on the merge threads, so that a
            // merge can spread over cores instead of one thread.
            pool_sink.install(|| {
                let Ok(mut slot) = acc2.lock() else {
                    return sh_sink.fail("internal: profile merge failed".into());
                };
                let fold = match slot.as_mut() {
                    Some(a) => a,
                    None => match make_partials() {
                        Ok(p) => slot.insert(FileFold {
                            acc: p,
                            waiting: Vec::new(),
                            since_mark: false,
                        }),
                        Err(e) => return sh_sink.fail(e),
                    },
                };
                fold.waiting.push(b.partials);
                let Some(done) = b.file_done else {
                    fold.since_mark = true;
                    if fold.waiting.len() >= group {
                        fold.fold_waiting(Some(&mut merge_ns));
                    }
                    return;
                };
                fold.fold_waiting(Some(&mut merge_ns));
                // The file's order-dependent partials go; fresh ones start
                // the next file. Order-free ones (sums) run on across files:
                // a partial per file would only be folded again, and with
                // thousands of small files that fold is the pass's cost.
                let fresh = match make_partials() {
                    Ok(p) => p,
                    Err(e) => return sh_sink.fail(e),
                };
                let handed: Partials = fold
                    .acc
                    .iter_mut()
                    .zip(fresh)
                    .map(|(a, f)| {
                        if a.as_ref().is_some_and(|p| p.merge_is_order_free()) {
                            None
                        } else {
                            std::mem::replace(a, f)
                        }
                    })
                    .collect();
                fold.since_mark = false;
                let r = match on_file2.lock() {
                    Ok(mut f) => (*f)(done - 1, handed),
                    Err(_) => Err("internal: profile merge failed".to_string()),
                };
                if let Err(e) = r {
                    sh_sink.fail(e);
                }
            });
            add_merge_ns(&mut times, &learner_at, merge_ns);
        },
    )?;
    if let Some(f) = shared.fatal.lock().ok().and_then(|f| f.clone()) {
        return Err(f);
    }
    // The order-free partials, whole, and order-dependent ones of batches
    // after the last file mark (none unless reading stopped early).
    let lost = || "internal: profile merge failed".to_string();
    let mut rest = file_acc.lock().map_err(|_| lost())?.take();
    if let Some(fold) = rest.as_mut() {
        let mut ns = vec![0u64; learns.len()];
        pool_rest.install(|| fold.fold_waiting(Some(&mut ns)));
        add_merge_ns(&mut times.lock().map_err(|_| lost())?, &learns, ns);
    }
    if let Some(FileFold {
        acc, since_mark, ..
    }) = rest
    {
        let rest: Partials = acc
            .into_iter()
            .map(|p| p.filter(|p| since_mark || p.merge_is_order_free()))
            .collect();
        if rest.iter().any(Option::is_some) {
            let mut guard = on_file.lock().map_err(|_| lost())?;
            let f = &mut *guard;
            pool_rest.install(|| f(u64::MAX, rest))?;
        }
    }
    let tally = std::mem::take(&mut *times.lock().map_err(|_| lost())?);
    Ok(PassTimes {
        stages: stage_ids
            .into_iter()
            .zip(tally)
            .enumerate()
            .filter(|(_, (_, t))| t.docs > 0)
            .map(|(pos, (id, t))| PassStage {
                id,
                learns: learns.contains(&pos),
                docs_in: t.docs,
                bytes_in: t.bytes,
                busy_seconds: t.ns as f64 / 1e9,
                merge_seconds: t.merge_ns as f64 / 1e9,
            })
            .collect(),
    })
}

/// Per stage position: the parallel stage's instances by source, if it is one.
type ParByPos = Vec<Option<BySource<dyn sluicebox_core::ParallelStage>>>;

/// Walk one document down the chain from stage `from`.
fn observe(
    doc: Document,
    from: usize,
    by_pos: &ParByPos,
    learners: &[(usize, Vec<bool>)],
    partials: &mut [Option<Box<dyn ProfileBuilder>>],
    tally: &mut [Tally],
) {
    let mut doc = doc;
    for pos in from..by_pos.len() {
        if let Some(k) = learners.iter().position(|(p, _)| *p == pos) {
            if learners[k]
                .1
                .get(doc.source_index)
                .copied()
                .unwrap_or(false)
            {
                if let Some(Some(p)) = partials.get_mut(k) {
                    let t = Instant::now();
                    p.observe(&doc);
                    tally[pos].add(doc.text.len(), t);
                }
            }
            // Stages after the last learner cannot change any profile.
            if learners.iter().all(|(p, _)| *p <= pos) {
                return;
            }
            continue;
        }
        let Some(Some(Some(stage))) = by_pos.get(pos).map(|m| {
            m.as_ref()
                .map(|m| m.get(doc.source_index).cloned().flatten())
        }) else {
            continue;
        };
        let mut cx = Cx::default();
        let (t, len) = (Instant::now(), doc.text.len());
        let verdict = guarded(|| stage.process(&mut doc, &mut cx));
        tally[pos].add(len, t);
        match verdict {
            Ok(Verdict::Unchanged) | Ok(Verdict::Changed) => {}
            Ok(Verdict::Split(parts)) => {
                for p in parts {
                    observe(p, pos + 1, by_pos, learners, partials, tally);
                }
                return;
            }
            Ok(Verdict::Drop { .. }) | Err(_) => return,
        }
    }
}
