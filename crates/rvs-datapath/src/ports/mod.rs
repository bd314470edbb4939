//! Port implementations.

pub mod afpacket;
pub mod afxdp;
pub mod memory;
pub mod netns;
pub mod patch;
pub mod ring;
pub mod sys;
pub mod tap;
