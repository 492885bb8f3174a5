//! The TOML configuration: `[run]`, `[input]`, `[output]`, `[[stages]]`,
//! `[sources.NAME]`. Validation collects every error before reporting, each
//! prefixed with its location.

use crate::registry::Registry;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Every problem found in a config, each already located.
#[derive(Debug, thiserror::Error)]
#[error("{}", .errors.join("\n"))]
pub struct ConfigError {
    pub errors: Vec<String>,
}

/// `[run]`: how the runner works; never changes the output.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunSection {
    /// Worker threads; 0 = one per core.
    pub threads: usize,
    /// Documents per batch (the unit of parallel work and of ordering).
    pub batch_size: usize,
    /// Batches in flight at once; 0 = 4 per thread. Bounds memory.
    pub in_flight: usize,
    /// `continue`: a stage error drops the document with reason `error`;
    /// `abort`: the run stops with exit code 2.
    pub on_error: String,
    /// Profile file for stages that learn (written by `sluicebox profile`).
    /// Without it, `run` builds the profile in a first pass over the input.
    pub profile: Option<String>,
}

impl Default for RunSection {
    fn default() -> Self {
        RunSection {
            threads: 0,
            batch_size: 256,
            in_flight: 0,
            on_error: "continue".into(),
            profile: None,
        }
    }
}

/// `[input]`: how records become documents.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InputSection {
    /// `auto` (by file name), `jsonl`, `files`, `lines`, `wet`, `warc` or
    /// `parquet`.
    pub format: String,
    /// JSONL field (Parquet column) holding the text.
    pub text_field: String,
    /// JSONL field holding the id.
    pub id_field: String,
    /// JSONL field holding a declared charset (a hint for decode).
    pub charset_field: Option<String>,
    /// Records larger than this are reported as errors and skipped.
    pub max_doc_bytes: usize,
}

impl Default for InputSection {
    fn default() -> Self {
        InputSection {
            format: "auto".into(),
            text_field: "text".into(),
            id_field: "id".into(),
            charset_field: None,
            max_doc_bytes: 64 << 20,
        }
    }
}

/// `[output]`: what is written to the output directory.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutputSection {
    /// Output directory (the command line's `-o` wins).
    pub dir: String,
    /// `none`, `gzip` or `zstd` for docs and rejects.
    pub compression: String,
    /// Start a new `docs-NNNNN.jsonl` file after this many documents; 0 = one file.
    pub max_docs_per_file: u64,
    /// Keep the text of rejected documents in `rejects.jsonl`.
    pub rejects_text: bool,
    /// `jsonl` or `parquet` for docs (rejects stay JSONL). Parquet files
    /// are zstd-compressed inside, whatever `compression` says.
    pub format: String,
}

impl Default for OutputSection {
    fn default() -> Self {
        OutputSection {
            dir: "sluicebox-out".into(),
            compression: "none".into(),
            max_docs_per_file: 0,
            rejects_text: true,
            format: "jsonl".into(),
        }
    }
}

/// `[sources.NAME]`: which documents belong to a source, and its overrides.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SourceSection {
    /// Globs over the input path (`news/**`, `*.jsonl.gz`).
    pub paths: Vec<String>,
    /// URL hosts (`example.com`, `*.example.org` for it and its subdomains).
    pub hosts: Vec<String>,
    /// A metadata field to match, with `values`.
    pub field: Option<String>,
    /// Accepted values of `field`.
    pub values: Vec<String>,
    /// Declared charset for this source's documents (a hint for decode).
    pub encoding: Option<String>,
    /// Per-stage overrides: `[sources.NAME.stages.ID]`, keys as in the stage.
    pub stages: toml::Table,
}

/// One `[[stages]]` entry: common keys plus the stage's own table.
#[derive(Debug, Clone)]
pub struct StageEntry {
    pub id: String,
    pub type_name: String,
    pub enabled: bool,
    /// The stage's own keys (without id/type/enabled).
    pub table: toml::Table,
}

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub run: RunSection,
    pub input: InputSection,
    pub output: OutputSection,
    pub stages: Vec<StageEntry>,
    pub sources: Vec<(String, SourceSection)>,
    /// Directory relative paths in the config resolve against.
    pub base_dir: PathBuf,
    /// The TOML as given (recorded in stats.json).
    pub text: String,
}

fn section<T: for<'de> Deserialize<'de> + Default>(
    root: &toml::Table,
    name: &str,
    errors: &mut Vec<String>,
) -> T {
    match root.get(name) {
        None => T::default(),
        Some(v) => match v.clone().try_into::<T>() {
            Ok(t) => t,
            Err(e) => {
                errors.push(format!("[{name}]: {}", e.message().trim()));
                T::default()
            }
        },
    }
}

impl Config {
    /// Load from a file; relative paths resolve against its directory.
    pub fn load(path: &Path, registry: &Registry) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            errors: vec![format!("{}: cannot read config: {e}", path.display())],
        })?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Config::parse(&text, &base, registry).map_err(|mut e| {
            for msg in &mut e.errors {
                *msg = format!("{}: {msg}", path.display());
            }
            e
        })
    }

    /// Parse and validate TOML text.
    pub fn parse(text: &str, base_dir: &Path, registry: &Registry) -> Result<Config, ConfigError> {
        let root: toml::Table = toml::from_str(text).map_err(|e| ConfigError {
            errors: vec![format!("invalid TOML: {}", e.to_string().trim())],
        })?;
        let mut errors = Vec::new();
        for key in root.keys() {
            if !matches!(
                key.as_str(),
                "run" | "input" | "output" | "stages" | "sources"
            ) {
                errors.push(format!(
                    "unknown section `{key}`, expected one of `run`, `input`, `output`, `stages`, `sources`"
                ));
            }
        }
        let run: RunSection = section(&root, "run", &mut errors);
        let input: InputSection = section(&root, "input", &mut errors);
        let output: OutputSection = section(&root, "output", &mut errors);
        if !matches!(run.on_error.as_str(), "continue" | "abort") {
            errors.push(format!(
                "[run]: on_error = \"{}\": expected \"continue\" or \"abort\"",
                run.on_error
            ));
        }
        if run.batch_size == 0 {
            errors.push("[run]: batch_size must be at least 1".into());
        }
        if input.format != "auto" && sluicebox_io::Format::parse(&input.format).is_none() {
            errors.push(format!(
                "[input]: format = \"{}\": expected auto, {}",
                input.format,
                sluicebox_io::Format::NAMES
            ));
        }
        if sluicebox_io::OutputFormat::parse(&output.format).is_none() {
            errors.push(format!(
                "[output]: format = \"{}\": expected \"jsonl\" or \"parquet\"",
                output.format
            ));
        }
        if sluicebox_io::OutputCompression::parse(&output.compression).is_none() {
            errors.push(format!(
                "[output]: compression = \"{}\": expected \"none\", \"gzip\" or \"zstd\"",
                output.compression
            ));
        }

        let stages = parse_stages(&root, registry, &mut errors);
        let sources = parse_sources(&root, &stages, registry, &mut errors);

        if errors.is_empty() {
            Ok(Config {
                run,
                input,
                output,
                stages,
                sources,
                base_dir: base_dir.to_path_buf(),
                text: text.to_string(),
            })
        } else {
            Err(ConfigError { errors })
        }
    }

    /// The effective table of stage `index` for `source` (None = base chain):
    /// the stage's keys with the source's overrides on top, and whether the
    /// stage is enabled there.
    pub fn effective_stage(&self, index: usize, source: Option<usize>) -> (bool, toml::Table) {
        let entry = &self.stages[index];
        let mut table = entry.table.clone();
        let mut enabled = entry.enabled;
        if let Some(s) = source {
            if let Some(toml::Value::Table(over)) = self.sources[s].1.stages.get(&entry.id) {
                for (k, v) in over {
                    if k == "enabled" {
                        enabled = v.as_bool().unwrap_or(enabled);
                    } else {
                        table.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (enabled, table)
    }
}

fn parse_stages(
    root: &toml::Table,
    registry: &Registry,
    errors: &mut Vec<String>,
) -> Vec<StageEntry> {
    let mut out = Vec::new();
    let list = match root.get("stages") {
        None => return out,
        Some(toml::Value::Array(a)) => a.clone(),
        Some(_) => {
            errors.push("`stages` must be an array of tables: write each as [[stages]]".into());
            return out;
        }
    };
    let mut seen = BTreeSet::new();
    for (i, v) in list.iter().enumerate() {
        let Some(t) = v.as_table() else {
            errors.push(format!("stages[{i}]: expected a table"));
            continue;
        };
        let mut table = t.clone();
        let type_name = match table.remove("type") {
            Some(toml::Value::String(s)) => s,
            Some(_) => {
                errors.push(format!("stages[{i}]: `type` must be a string"));
                continue;
            }
            None => {
                errors.push(format!(
                    "stages[{i}]: missing `type`; known types: {}",
                    registry.type_names().join(", ")
                ));
                continue;
            }
        };
        let id = match table.remove("id") {
            Some(toml::Value::String(s)) => s,
            Some(_) => {
                errors.push(format!("stages[{i}]: `id` must be a string"));
                continue;
            }
            None => type_name.clone(),
        };
        let enabled = match table.remove("enabled") {
            None => true,
            Some(toml::Value::Boolean(b)) => b,
            Some(_) => {
                errors.push(format!(
                    "stages[{i}] (id = \"{id}\"): `enabled` must be true or false"
                ));
                true
            }
        };
        let at = format!("stages[{i}] (id = \"{id}\")");
        if !seen.insert(id.clone()) {
            errors.push(format!(
                "{at}: duplicate stage id; give each stage a unique `id`"
            ));
        }
        match registry.get(&type_name) {
            None => errors.push(format!(
                "{at}: unknown stage type `{type_name}`; known types: {}",
                registry.type_names().join(", ")
            )),
            Some(f) => {
                if let Err(e) = f.check(&table) {
                    errors.push(format!("{at}: {e}"));
                }
            }
        }
        out.push(StageEntry {
            id,
            type_name,
            enabled,
            table,
        });
    }
    out
}

fn parse_sources(
    root: &toml::Table,
    stages: &[StageEntry],
    registry: &Registry,
    errors: &mut Vec<String>,
) -> Vec<(String, SourceSection)> {
    let mut out = Vec::new();
    let Some(v) = root.get("sources") else {
        return out;
    };
    let Some(table) = v.as_table() else {
        errors.push("`sources` must be a table of [sources.NAME] sections".into());
        return out;
    };
    for (name, v) in table {
        let at = format!("[sources.{name}]");
        let sec: SourceSection = match v.clone().try_into() {
            Ok(s) => s,
            Err(e) => {
                errors.push(format!("{at}: {}", e.message().trim()));
                continue;
            }
        };
        if sec.paths.is_empty() && sec.hosts.is_empty() && sec.field.is_none() {
            errors.push(format!(
                "{at}: selects nothing; give `paths`, `hosts` or `field` with `values`"
            ));
        }
        if sec.field.is_some() && sec.values.is_empty() {
            errors.push(format!("{at}: `field` needs `values`"));
        }
        for p in &sec.paths {
            if let Err(e) = globset::Glob::new(p) {
                errors.push(format!("{at}: paths: invalid glob `{p}`: {e}"));
            }
        }
        for (stage_id, over) in &sec.stages {
            let sat = format!("[sources.{name}.stages.{stage_id}]");
            let Some(entry) = stages.iter().find(|s| &s.id == stage_id) else {
                errors.push(format!(
                    "{sat}: no stage with id `{stage_id}`; stage ids: {}",
                    stages
                        .iter()
                        .map(|s| s.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
                continue;
            };
            let Some(over) = over.as_table() else {
                errors.push(format!("{sat}: expected a table of stage keys"));
                continue;
            };
            let mut merged = entry.table.clone();
            for (k, v) in over {
                if k == "enabled" {
                    if !v.is_bool() {
                        errors.push(format!("{sat}: `enabled` must be true or false"));
                    }
                } else if k == "id" || k == "type" {
                    errors.push(format!("{sat}: `{k}` cannot be changed per source"));
                } else {
                    merged.insert(k.clone(), v.clone());
                }
            }
            if let Some(f) = registry.get(&entry.type_name) {
                // When the base table is itself invalid (already reported),
                // check the override's own keys so its errors are not masked.
                let to_check = if f.check(&entry.table).is_ok() {
                    merged
                } else {
                    over.iter()
                        .filter(|(k, _)| k.as_str() != "enabled")
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect()
                };
                if let Err(e) = f.check(&to_check) {
                    errors.push(format!("{sat}: {e}"));
                }
            }
        }
        out.push((name.clone(), sec));
    }
    out
}
