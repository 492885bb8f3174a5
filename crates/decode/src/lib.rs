//! sluicebox-decode (in progress)
