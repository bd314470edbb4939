//! Flow keys, the OpenFlow 1.3 classifier and pipeline, and the megaflow fast path.
#![deny(clippy::unwrap_used, clippy::panic)]

pub mod hash;
pub mod key;

pub use key::{extract, match_to_key, FlowKey, FlowMask, KEY_WORDS};
pub mod cache;
pub mod classifier;
pub mod pipeline;
mod trie;
mod tss;
