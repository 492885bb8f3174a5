//! Word-level F1 of the stage on the dev sets, beside keep-everything and
//! the C4 line filter: `cargo bench -p sluicebox-deboilerplate --bench quality`.
//!
//! For each set the profile pass runs first over all its documents (sites by
//! URL host where the set has URLs, else the whole set is one source), then
//! the cleaning pass. A document the stage drops counts as empty output.

mod common;

use common::{bag, document, load, Prf, DEV_SETS};
use sluicebox_core::{Cx, ParallelStage, ProfileBuilder, Verdict};
use sluicebox_deboilerplate::profile::{SiteProfileBuilder, Sketch};
use sluicebox_deboilerplate::{Cleaner, DeboilerplateConfig, Mode};

fn run(cleaner: &Cleaner, set: &str, recs: &[common::Record]) -> Prf {
    let mut prf = Prf::default();
    for r in recs {
        let Some(gold) = &r.gold else { continue };
        let mut doc = document(set, r);
        let mut cx = Cx::default();
        let out = match cleaner.process(&mut doc, &mut cx) {
            Ok(Verdict::Drop { .. }) | Err(_) => String::new(),
            Ok(_) => doc.text,
        };
        prf.add(&out, &bag(gold));
    }
    prf
}

fn profile(config: &DeboilerplateConfig, set: &str, recs: &[common::Record]) -> Sketch {
    let params = Cleaner::new(config.clone()).map(|c| c.params());
    let Ok(params) = params else {
        return Sketch::new(config.sketch_width_log2);
    };
    let mut b = SiteProfileBuilder::new(params);
    for r in recs {
        b.observe(&document(set, r));
    }
    b.into_sketch()
}

fn main() {
    let default = DeboilerplateConfig::default();
    let c4 = DeboilerplateConfig {
        mode: Mode::C4,
        ..DeboilerplateConfig::default()
    };
    println!(
        "{:<30} {:>6} {:>6} {:>6} {:>6} {:>6} | {:>5} {:>5}",
        "set", "keep", "c4", "nolrn", "deflt", "", "P", "R"
    );
    let mut sums = [0f64; 4];
    let mut n = 0;
    for set in DEV_SETS {
        let recs = match load(set) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("skipping {set}: {e}");
                continue;
            }
        };
        let mut keep = Prf::default();
        for r in &recs {
            if let Some(g) = &r.gold {
                keep.add(&r.text, &bag(g));
            }
        }
        let c4c = Cleaner::new(c4.clone()).expect("c4 config");
        let c4f = run(&c4c, set, &recs);
        let mut cl = Cleaner::new(default.clone()).expect("default config");
        let nolearn = run(&cl, set, &recs);
        cl.sketch = Some(profile(&default, set, &recs));
        let full = run(&cl, set, &recs);
        println!(
            "{:<30} {:>6.3} {:>6.3} {:>6.3} {:>6.3} {:>6} | {:>5.3} {:>5.3}",
            set,
            keep.f1(),
            c4f.f1(),
            nolearn.f1(),
            full.f1(),
            if full.f1() > c4f.f1() {
                "> c4"
            } else {
                "<= c4"
            },
            full.p(),
            full.r()
        );
        for (s, v) in sums
            .iter_mut()
            .zip([keep.f1(), c4f.f1(), nolearn.f1(), full.f1()])
        {
            *s += v;
        }
        n += 1;
    }
    if n > 0 {
        let k = n as f64;
        println!(
            "{:<30} {:>6.3} {:>6.3} {:>6.3} {:>6.3}",
            "average",
            sums[0] / k,
            sums[1] / k,
            sums[2] / k,
            sums[3] / k
        );
        println!("(keep = keep everything; c4 = mode=\"c4\"; nolrn = default without profile; deflt = default with the profile pass)");
    }
}
