//! The plan: per source, which stage instance handles its documents.
//!
//! A stage is built once per distinct effective config: sources without
//! overrides share the base instance (and so share its state, e.g. one
//! dedupe index); a source that changes a stage's keys gets its own.

use crate::config::{Config, ConfigError};
use crate::registry::Registry;
use sluicebox_core::{BuildContext, Built, Decide, OrderedStage, ParallelStage, Prepare};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

/// Profiles by stage id, as produced by the profile pass.
pub type ProfileSet = BTreeMap<String, Vec<u8>>;

/// A built stage instance.
pub enum Runtime {
    Parallel(Arc<dyn ParallelStage>),
    Ordered(Box<dyn OrderedStage>),
    Split(Arc<dyn Prepare>, Box<dyn Decide>),
}

pub struct PlanStage {
    pub id: String,
    pub type_name: String,
    pub placement: &'static str,
    pub learns: bool,
    pub instances: Vec<Runtime>,
    /// Per source index (0 = no section matched): the instance, or `None`
    /// where the stage is disabled for that source.
    pub by_source: Vec<Option<usize>>,
}

pub struct Plan {
    /// Source names by index; index 0 is the base chain.
    pub source_names: Vec<String>,
    pub stages: Vec<PlanStage>,
    /// Per source index: whether some enabled decode stage turns raw bytes
    /// into text (if not, the runner decodes them as lossy UTF-8).
    pub decodes: Vec<bool>,
}

fn source_name(config: &Config, s: usize) -> String {
    if s == 0 {
        "default".to_string()
    } else {
        config.sources[s - 1].0.clone()
    }
}

impl Plan {
    /// Build every stage instance. `profiles` holds learned profiles by stage
    /// id; `learning` = true builds the chain for the profile pass, where
    /// stages that learn are not built (they have no profile yet).
    pub fn build(
        config: &Config,
        registry: &Registry,
        profiles: &ProfileSet,
        learning: bool,
    ) -> Result<Plan, ConfigError> {
        let n_sources = config.sources.len() + 1;
        let mut errors = Vec::new();
        let mut stages = Vec::new();
        let mut decodes = vec![false; n_sources];
        for (i, entry) in config.stages.iter().enumerate() {
            let Some(factory) = registry.get(&entry.type_name) else {
                errors.push(format!(
                    "stages[{i}]: unknown stage type `{}`",
                    entry.type_name
                ));
                continue;
            };
            let mut instances = Vec::new();
            let mut keys: Vec<String> = Vec::new();
            let mut by_source = Vec::with_capacity(n_sources);
            let mut placement = "";
            for (s, decoded) in decodes.iter_mut().enumerate() {
                let (enabled, table) = config.effective_stage(i, s.checked_sub(1));
                if !enabled {
                    by_source.push(None);
                    continue;
                }
                if entry.type_name == "decode" {
                    *decoded = true;
                }
                if learning && factory.learns() {
                    by_source.push(None);
                    continue;
                }
                let key = toml::to_string(&table).unwrap_or_default();
                if let Some(k) = keys.iter().position(|x| *x == key) {
                    by_source.push(Some(k));
                    continue;
                }
                let cx = BuildContext {
                    stage_id: entry.id.clone(),
                    source: source_name(config, s),
                    base_dir: config.base_dir.clone(),
                    profile: profiles.get(&entry.id).cloned(),
                };
                match factory.build(&table, &cx) {
                    Ok(built) => {
                        let p = built.placement();
                        if !placement.is_empty() && p != placement {
                            errors.push(format!(
                                "stages[{i}] (id = \"{}\"): builds as {p} for source `{}` but {placement} elsewhere",
                                entry.id, cx.source
                            ));
                        }
                        placement = p;
                        instances.push(match built {
                            Built::Parallel(p) => Runtime::Parallel(p),
                            Built::Ordered(o) => Runtime::Ordered(o),
                            Built::Split { prepare, decide } => Runtime::Split(prepare, decide),
                        });
                        keys.push(key);
                        by_source.push(Some(instances.len() - 1));
                    }
                    Err(e) => {
                        let at = if s == 0 {
                            format!("stages[{i}] (id = \"{}\")", entry.id)
                        } else {
                            format!("[sources.{}.stages.{}]", cx.source, entry.id)
                        };
                        errors.push(format!("{at}: {e}"));
                        by_source.push(None);
                    }
                }
            }
            stages.push(PlanStage {
                id: entry.id.clone(),
                type_name: entry.type_name.clone(),
                placement: if placement.is_empty() {
                    "parallel"
                } else {
                    placement
                },
                learns: factory.learns(),
                instances,
                by_source,
            });
        }
        if !errors.is_empty() {
            return Err(ConfigError { errors });
        }
        Ok(Plan {
            source_names: (0..n_sources).map(|s| source_name(config, s)).collect(),
            stages,
            decodes,
        })
    }

    /// [`Plan::build`] on a pool of `threads` workers (`0`: one per core):
    /// stages lay out their big tables in parallel, and on the run's thread
    /// count rather than every core of the machine.
    pub fn build_on(
        threads: usize,
        config: &Config,
        registry: &Registry,
        profiles: &ProfileSet,
        learning: bool,
    ) -> Result<Plan, String> {
        crate::runner::worker_pool(threads)?
            .install(|| Plan::build(config, registry, profiles, learning))
            .map_err(|e| e.to_string())
    }

    /// Whether any enabled stage learns from the corpus (needs a profile).
    pub fn learns(config: &Config, registry: &Registry) -> bool {
        config.stages.iter().enumerate().any(|(i, e)| {
            registry.get(&e.type_name).is_some_and(|f| f.learns())
                && (0..=config.sources.len()).any(|s| config.effective_stage(i, s.checked_sub(1)).0)
        })
    }
}

/// Each source's effective chain with every default filled in (for
/// `sluicebox check`).
pub fn describe(config: &Config, registry: &Registry) -> String {
    let mut out = String::new();
    for s in 0..=config.sources.len() {
        let name = source_name(config, s);
        if s == 0 {
            let _ = writeln!(
                out,
                "source `default` (documents no [sources] section selects):"
            );
        } else {
            let sec = &config.sources[s - 1].1;
            let mut sel = Vec::new();
            if !sec.paths.is_empty() {
                sel.push(format!("paths {:?}", sec.paths));
            }
            if !sec.hosts.is_empty() {
                sel.push(format!("hosts {:?}", sec.hosts));
            }
            if let Some(f) = &sec.field {
                sel.push(format!("field `{f}` in {:?}", sec.values));
            }
            let _ = writeln!(out, "source `{name}` ({}):", sel.join(", "));
        }
        let mut n = 0;
        for (i, entry) in config.stages.iter().enumerate() {
            let (enabled, table) = config.effective_stage(i, s.checked_sub(1));
            if !enabled {
                continue;
            }
            n += 1;
            let Some(f) = registry.get(&entry.type_name) else {
                continue;
            };
            let eff = f.effective(&table).unwrap_or(table);
            let keys: Vec<String> = eff
                .iter()
                .map(|(k, v)| format!("{k} = {}", inline(v)))
                .collect();
            let _ = writeln!(
                out,
                "  {n}. {} (type = \"{}\"): {}",
                entry.id,
                entry.type_name,
                if keys.is_empty() {
                    "(no options)".to_string()
                } else {
                    keys.join(", ")
                }
            );
        }
        if n == 0 {
            let _ = writeln!(out, "  (no stages: documents pass through unchanged)");
        }
    }
    out
}

fn inline(v: &toml::Value) -> String {
    match v {
        toml::Value::Table(t) => {
            let inner: Vec<String> = t
                .iter()
                .map(|(k, v)| format!("{k} = {}", inline(v)))
                .collect();
            format!("{{ {} }}", inner.join(", "))
        }
        toml::Value::Array(a) => {
            let inner: Vec<String> = a.iter().map(inline).collect();
            format!("[{}]", inner.join(", "))
        }
        other => other.to_string(),
    }
}
