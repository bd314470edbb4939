//! Blocking client for rvsd's control socket.
//!
//! The client lives in [`rvs_api::client`] so that `rvs-lab` (which builds labs for
//! `rvs lab` and the tests) talks to rvsd with the same code; this module re-exports it
//! under its historical path `rvs::client`.

pub use rvs_api::client::*;
