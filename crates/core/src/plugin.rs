//! The declarative half of a stage and the registry entry made from it.
//!
//! A stage crate implements [`StagePlugin`] (its config struct, type name,
//! summary, drop reasons, how to build it) and exposes `factory()` returning
//! `plugin::factory::<TheStage>()`. The pipeline knows stages only through
//! the object-safe [`StageFactory`].

use crate::{Built, ProfileBuilder, StageError};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::marker::PhantomData;
use std::path::PathBuf;

/// A reason code a stage may drop documents with, and what it means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reason {
    pub code: &'static str,
    pub doc: &'static str,
}

/// What a stage gets besides its config when it is built.
#[derive(Debug, Clone, Default)]
pub struct BuildContext {
    /// The stage's `id` in the config.
    pub stage_id: String,
    /// The source this instance serves (`default` for the base chain).
    pub source: String,
    /// Directory of the config file; relative paths in stage options
    /// (profiles, indexes, lexicons) resolve against it.
    pub base_dir: PathBuf,
    /// The merged profile for this stage, if it learns and a profile pass ran.
    pub profile: Option<Vec<u8>>,
}

impl BuildContext {
    /// Resolve a path option against the config file's directory.
    pub fn resolve(&self, path: &str) -> PathBuf {
        let p = PathBuf::from(path);
        if p.is_absolute() {
            p
        } else {
            self.base_dir.join(p)
        }
    }
}

/// One option of a stage, for `sluicebox stages`.
#[derive(Debug, Clone)]
pub struct OptionDoc {
    pub name: String,
    pub default: String,
    pub doc: String,
}

/// The declarative half of a stage.
pub trait StagePlugin: Send + Sync + 'static {
    /// Options; `#[serde(deny_unknown_fields, default)]`, doc comments are
    /// the user documentation shown by `sluicebox stages`.
    type Config: DeserializeOwned + Serialize + JsonSchema + Default + Clone + Send + Sync;
    /// The `type = "..."` name in the config.
    const TYPE: &'static str;
    /// One line for `sluicebox stages`.
    const SUMMARY: &'static str;
    /// Every reason code the stage may drop with.
    const REASONS: &'static [Reason];
    /// Whether the stage learns from the corpus first (a profile pass).
    const LEARNS: bool = false;

    /// Check settings that serde cannot (ranges, combinations).
    fn validate(_config: &Self::Config) -> Result<(), String> {
        Ok(())
    }
    fn build(config: &Self::Config, cx: &BuildContext) -> Result<Built, StageError>;
    /// An empty partial profile; only called when `LEARNS` is true.
    fn profile_builder(
        _config: &Self::Config,
        _cx: &BuildContext,
    ) -> Result<Option<Box<dyn ProfileBuilder>>, StageError> {
        Ok(None)
    }
}

/// Object-safe registry entry for a stage type.
pub trait StageFactory: Send + Sync {
    fn type_name(&self) -> &'static str;
    fn summary(&self) -> &'static str;
    fn reasons(&self) -> &'static [Reason];
    fn learns(&self) -> bool;
    fn options(&self) -> Vec<OptionDoc>;
    /// Parse and validate a stage table (without `id`/`type`/`enabled`);
    /// the error is the message to show after the stage's location.
    fn check(&self, table: &toml::Table) -> Result<(), String>;
    /// The table with every default filled in (for `sluicebox check`).
    fn effective(&self, table: &toml::Table) -> Result<toml::Table, String>;
    fn build(&self, table: &toml::Table, cx: &BuildContext) -> Result<Built, StageError>;
    fn profile_builder(
        &self,
        table: &toml::Table,
        cx: &BuildContext,
    ) -> Result<Option<Box<dyn ProfileBuilder>>, StageError>;
}

/// The registry entry for plugin `P`.
pub fn factory<P: StagePlugin>() -> Box<dyn StageFactory> {
    Box::new(Adapter::<P>(PhantomData))
}

struct Adapter<P>(PhantomData<fn() -> P>);

impl<P: StagePlugin> Adapter<P> {
    fn parse(table: &toml::Table) -> Result<P::Config, String> {
        let config: P::Config = toml::Value::Table(table.clone())
            .try_into()
            .map_err(|e: toml::de::Error| e.message().trim().to_string())?;
        P::validate(&config)?;
        Ok(config)
    }
}

impl<P: StagePlugin> StageFactory for Adapter<P> {
    fn type_name(&self) -> &'static str {
        P::TYPE
    }
    fn summary(&self) -> &'static str {
        P::SUMMARY
    }
    fn reasons(&self) -> &'static [Reason] {
        P::REASONS
    }
    fn learns(&self) -> bool {
        P::LEARNS
    }
    fn options(&self) -> Vec<OptionDoc> {
        options_of::<P::Config>()
    }
    fn check(&self, table: &toml::Table) -> Result<(), String> {
        Self::parse(table).map(|_| ())
    }
    fn effective(&self, table: &toml::Table) -> Result<toml::Table, String> {
        let config = Self::parse(table)?;
        toml::Table::try_from(&config).map_err(|e| e.to_string())
    }
    fn build(&self, table: &toml::Table, cx: &BuildContext) -> Result<Built, StageError> {
        let config = Self::parse(table).map_err(StageError::Config)?;
        P::build(&config, cx)
    }
    fn profile_builder(
        &self,
        table: &toml::Table,
        cx: &BuildContext,
    ) -> Result<Option<Box<dyn ProfileBuilder>>, StageError> {
        if !P::LEARNS {
            return Ok(None);
        }
        let config = Self::parse(table).map_err(StageError::Config)?;
        P::profile_builder(&config, cx)
    }
}

/// Option docs from a config struct: names and doc comments from its JSON
/// schema, defaults from its `Default` value.
pub fn options_of<C: JsonSchema + Serialize + Default>() -> Vec<OptionDoc> {
    let schema = schemars::schema_for!(C);
    let defaults = serde_json::to_value(C::default()).unwrap_or_default();
    let mut out = Vec::new();
    if let Some(object) = schema.schema.object.as_ref() {
        for (name, prop) in &object.properties {
            let doc = match prop {
                schemars::schema::Schema::Object(o) => o
                    .metadata
                    .as_ref()
                    .and_then(|m| m.description.clone())
                    .unwrap_or_default(),
                _ => String::new(),
            };
            let default = defaults
                .get(name)
                .map(|v| v.to_string())
                .unwrap_or_else(|| "(none)".to_string());
            out.push(OptionDoc {
                name: name.clone(),
                default,
                doc: doc.split_whitespace().collect::<Vec<_>>().join(" "),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Cx, Document, ParallelStage, Verdict};
    use serde::Deserialize;
    use std::sync::Arc;

    /// Drops documents shorter than a bound (a stand-in stage for the tests).
    struct MinLen;

    #[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields, default)]
    struct MinLenConfig {
        /// Documents with fewer characters are dropped.
        min_chars: usize,
    }
    impl Default for MinLenConfig {
        fn default() -> Self {
            MinLenConfig { min_chars: 10 }
        }
    }

    struct MinLenStage(usize);
    impl ParallelStage for MinLenStage {
        fn process(&self, doc: &mut Document, _cx: &mut Cx) -> Result<Verdict, StageError> {
            if doc.text.chars().count() < self.0 {
                Ok(Verdict::drop("too_short", "below min_chars"))
            } else {
                Ok(Verdict::Unchanged)
            }
        }
    }

    impl StagePlugin for MinLen {
        type Config = MinLenConfig;
        const TYPE: &'static str = "min_len";
        const SUMMARY: &'static str = "drop short documents";
        const REASONS: &'static [Reason] = &[Reason {
            code: "too_short",
            doc: "shorter than min_chars",
        }];
        fn validate(c: &MinLenConfig) -> Result<(), String> {
            if c.min_chars > 1_000_000 {
                return Err("min_chars must be at most 1000000".into());
            }
            Ok(())
        }
        fn build(c: &MinLenConfig, _cx: &BuildContext) -> Result<Built, StageError> {
            Ok(Built::Parallel(Arc::new(MinLenStage(c.min_chars))))
        }
    }

    #[test]
    fn unknown_key_names_the_valid_keys() {
        let f = factory::<MinLen>();
        let table: toml::Table = toml::from_str("min_char = 3").unwrap();
        let err = f.check(&table).unwrap_err();
        assert!(err.contains("unknown field `min_char`"), "{err}");
        assert!(err.contains("min_chars"), "{err}");
    }

    #[test]
    fn validate_runs_after_parsing() {
        let f = factory::<MinLen>();
        let table: toml::Table = toml::from_str("min_chars = 5000000").unwrap();
        assert_eq!(
            f.check(&table).unwrap_err(),
            "min_chars must be at most 1000000"
        );
    }

    #[test]
    fn options_come_from_doc_comments_and_defaults() {
        let opts = factory::<MinLen>().options();
        assert_eq!(opts.len(), 1);
        assert_eq!(opts[0].name, "min_chars");
        assert_eq!(opts[0].default, "10");
        assert_eq!(opts[0].doc, "Documents with fewer characters are dropped.");
    }

    #[test]
    fn built_stage_applies_config() {
        let f = factory::<MinLen>();
        let table: toml::Table = toml::from_str("min_chars = 4").unwrap();
        let Built::Parallel(stage) = f.build(&table, &BuildContext::default()).unwrap() else {
            panic!("expected a parallel stage");
        };
        let mut cx = Cx::default();
        let mut short = Document::from_text("a", "abc");
        assert!(matches!(
            stage.process(&mut short, &mut cx).unwrap(),
            Verdict::Drop {
                reason: "too_short",
                ..
            }
        ));
        let mut long = Document::from_text("b", "abcd");
        assert!(matches!(
            stage.process(&mut long, &mut cx).unwrap(),
            Verdict::Unchanged
        ));
    }
}
