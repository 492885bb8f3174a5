//! sluicebox-pipeline
