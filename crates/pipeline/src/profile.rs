//! The profile pass and the profile file.
//!
//! Documents go through the parallel stages before each learning stage;
//! a learning stage observes the document where it stands in the chain
//! (and is not applied, having no profile yet); ordered and split stages
//! are skipped (their state belongs to the cleaning pass), and so is
//! everything after the last learning stage. Each batch
//! builds its own partials; the collector merges them in batch order.

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

const MAGIC: &[u8; 8] = b"SLBXPRF1";

/// Write a profile set to `path` (atomically).
pub fn save(path: &Path, set: &ProfileSet) -> Result<(), String> {
    use std::io::Write;
    let entries: Vec<(String, Vec<u8>)> = set.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let body = postcard::to_stdvec(&entries).map_err(|e| format!("cannot encode profile: {e}"))?;
    let err = |e: std::io::Error| {
        format!(
            "{}: write failed: {}",
            path.display(),
            sluicebox_io::input::describe(&e)
        )
    };
    let mut f = sluicebox_io::AtomicFile::create(path).map_err(err)?;
    f.write_all(MAGIC).map_err(err)?;
    f.write_all(&body).map_err(err)?;
    f.commit().map_err(err)
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

/// Run the profile pass over `opts.inputs`; returns the merged profiles of
/// every learning stage, by stage id.
pub fn build_profiles(
    config: &Config,
    registry: &Arc<Registry>,
    opts: RunOptions,
) -> Result<ProfileSet, String> {
    let plan =
        Plan::build(config, registry, &ProfileSet::new(), true).map_err(|e| e.to_string())?;
    let n_sources = config.sources.len() + 1;
    let learners: Vec<Learner> = config
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
        .collect();
    if learners.is_empty() {
        return Ok(ProfileSet::new());
    }
    let type_names: Vec<String> = config.stages.iter().map(|e| e.type_name.clone()).collect();
    let n_stages = type_names.len();
    let shared = Arc::new(Shared::new(
        config,
        plan.stages.iter().map(|s| s.id.clone()).collect(),
        plan.decodes.clone(),
    ));
    // Parallel stages in chain order, by position.
    let (pars, _) = phases_of(plan);
    let mut by_pos: ParByPos = vec![None; n_stages];
    for part in pars {
        for (pos, m) in part.stages {
            by_pos[pos] = Some(m);
        }
    }
    let make_partials = {
        let registry = registry.clone();
        let base = config.base_dir.clone();
        let learners: Vec<(String, String, toml::Table)> = learners
            .iter()
            .map(|l| (l.id.clone(), type_names[l.pos].clone(), l.table.clone()))
            .collect();
        move || -> Result<Partials, String> {
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
        }
    };
    // Check once up front so a broken builder is a clear error.
    make_partials()?;
    let learner_pos: Vec<(usize, Vec<bool>)> = learners
        .iter()
        .map(|l| (l.pos, l.enabled.clone()))
        .collect();
    let sh = shared.clone();
    let parallel: ParallelFn<Batch> = Arc::new(move |b: &mut Batch| {
        let mut partials = match make_partials() {
            Ok(p) => p,
            Err(e) => {
                sh.fail(e);
                return;
            }
        };
        let slots = std::mem::take(&mut b.slots);
        for slot in slots {
            if let Slot::Raw(seq, raw) = slot {
                if let Slot::Live(doc, _) = sh.parse(seq, raw, &mut b.stats) {
                    observe(doc, 0, &by_pos, &learner_pos, &mut partials);
                }
            }
        }
        b.partials = partials;
    });
    let merged: Arc<Mutex<Partials>> = Arc::new(Mutex::new(Vec::new()));
    let m2 = merged.clone();
    let progress = opts.progress.clone();
    let mut records = 0u64;
    let mut bytes = 0u64;
    let phases = vec![Phase {
        parallel,
        ordered: None,
    }];
    drive(
        config,
        opts,
        &shared,
        n_stages,
        phases,
        ReadFrom::default(),
        move |b: Batch| {
            records += b.stats.totals.records;
            bytes += b.input_bytes;
            if let Some(p) = &progress {
                p(records, bytes);
            }
            if let Ok(mut acc) = m2.lock() {
                if acc.is_empty() {
                    *acc = b.partials;
                } else {
                    for (a, p) in acc.iter_mut().zip(b.partials) {
                        match (a.as_mut(), p) {
                            (Some(a), Some(p)) => a.merge(p),
                            (None, Some(p)) => *a = Some(p),
                            _ => {}
                        }
                    }
                }
            }
        },
    )?;
    if let Some(f) = shared.fatal.lock().ok().and_then(|f| f.clone()) {
        return Err(f);
    }
    let partials = merged
        .lock()
        .map(|mut m| std::mem::take(&mut *m))
        .map_err(|_| "internal: profile merge failed".to_string())?;
    let mut set = ProfileSet::new();
    for (l, p) in learners.iter().zip(partials) {
        if let Some(p) = p {
            let bytes = p.finish().map_err(|e| format!("stage `{}`: {e}", l.id))?;
            set.insert(l.id.clone(), bytes);
        }
    }
    // A corpus with no documents still yields empty profiles from fresh builders.
    for l in &learners {
        if !set.contains_key(&l.id) {
            let f = registry.get(&type_names[l.pos]);
            let cx = BuildContext {
                stage_id: l.id.clone(),
                source: "default".into(),
                base_dir: config.base_dir.clone(),
                profile: None,
            };
            if let Some(Ok(Some(b))) = f.map(|f| f.profile_builder(&l.table, &cx)) {
                let bytes = b.finish().map_err(|e| format!("stage `{}`: {e}", l.id))?;
                set.insert(l.id.clone(), bytes);
            }
        }
    }
    Ok(set)
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
                    p.observe(&doc);
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
        match guarded(|| stage.process(&mut doc, &mut cx)) {
            Ok(Verdict::Unchanged) | Ok(Verdict::Changed) => {}
            Ok(Verdict::Split(parts)) => {
                for p in parts {
                    observe(p, pos + 1, by_pos, learners, partials);
                }
                return;
            }
            Ok(Verdict::Drop { .. }) | Err(_) => return,
        }
    }
}
