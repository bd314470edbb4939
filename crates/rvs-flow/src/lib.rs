//! Flow keys, the OpenFlow 1.3 classifier and pipeline, and the megaflow fast path.
//!
//! ```text
//!  frame ──key::extract──► FlowKey ──cache::FastPath::process──► &[DpAction]
//!                                        │ EMC → megaflows → pipeline (slow path)
//!                                        ▼
//!                          pipeline::translate ─► classifier::FlowTables (254 tables)
//!                                                   ▲ FlowTables::apply(FlowMod)
//! ```
//!
//! | module | contents |
//! |---|---|
//! | [`key`] | [`FlowKey`]/[`FlowMask`] (16 × u64), [`extract`], OXM ↔ key bits, set-field |
//! | [`classifier`] | [`classifier::FlowTables`]: tuple space search with priorities, pruning, prefix tries and un-wildcarding; flow-mods, overlap check, cookies, timeouts, counters, flow/table stats |
//! | [`pipeline`] | [`pipeline::translate`]: OpenFlow 1.3 instructions and action set over a key → datapath actions + consulted mask |
//! | [`cache`] | [`cache::FastPath`]: per-thread exact-match cache → megaflow cache → slow path, with generation-based lazy revalidation |
//! | [`hash`] | the word hash every table uses |
//!
//! Each module's documentation explains its design; the crate README has the figures.
//! Nothing here does I/O or spawns threads: the datapath owns one [`cache::FastPath`]
//! per worker thread and decides how the tables are shared with the control thread.
#![deny(clippy::unwrap_used, clippy::panic)]

pub mod cache;
pub mod classifier;
pub mod group;
pub mod hash;
pub mod key;
pub mod meter;
pub mod modify;
pub mod pipeline;
mod trie;
mod tss;

pub use key::{extract, key_from_match, key_to_match, match_to_key, FlowKey, FlowMask, KEY_WORDS};
