//! Port implementations.

pub mod afpacket;
pub mod afxdp;
pub(crate) mod bpf;
pub mod memory;
pub mod netns;
pub mod patch;
pub mod ring;
pub mod steer;
pub mod sys;
pub mod tap;
