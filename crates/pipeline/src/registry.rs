//! Name → stage factory, for every stage this build knows.

use sluicebox_core::StageFactory;

pub struct Registry {
    factories: Vec<Box<dyn StageFactory>>,
}

impl Registry {
    /// Every stage shipped with sluicebox.
    pub fn builtin() -> Registry {
        Registry {
            factories: vec![
                sluicebox_decode::factory(),
                sluicebox_repair::mojibake_factory(),
                sluicebox_deboilerplate::factory(),
                sluicebox_repair::spinner_factory(),
                sluicebox_dedupe::factory(),
                sluicebox_segment::factory(),
            ],
        }
    }

    /// A registry of the given factories (tests, embedders with own stages).
    pub fn with(factories: Vec<Box<dyn StageFactory>>) -> Registry {
        Registry { factories }
    }

    pub fn add(&mut self, f: Box<dyn StageFactory>) {
        self.factories.push(f);
    }

    pub fn get(&self, type_name: &str) -> Option<&dyn StageFactory> {
        self.factories
            .iter()
            .find(|f| f.type_name() == type_name)
            .map(|f| f.as_ref())
    }

    pub fn type_names(&self) -> Vec<&'static str> {
        self.factories.iter().map(|f| f.type_name()).collect()
    }

    pub fn iter(&self) -> impl Iterator<Item = &dyn StageFactory> {
        self.factories.iter().map(|f| f.as_ref())
    }
}
