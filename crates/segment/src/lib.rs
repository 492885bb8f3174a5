//! sluicebox-segment (in progress)
