//! sluicebox-io
