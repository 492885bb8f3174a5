//! sluicebox-deboilerplate (in progress)
