//! sluicebox-dedupe (in progress)
