//! Packet formats for rvs, in the style of smoltcp's `wire` module.
//!
//! Each protocol has a zero-copy view (`Frame<T: AsRef<[u8]>>`) whose constructor
//! `new_checked` validates the length once; after that no accessor panics or allocates.
//! Fixed header layouts are declared once as `zerocopy` structs, so field offsets are
//! never written as magic numbers in the code that reads them. Unknown protocol numbers
//! are kept (`EtherType::Unknown`) so frames round-trip unchanged.
#![deny(clippy::unwrap_used, clippy::panic)]

pub mod ethernet;
pub mod vlan;

pub use ethernet::{EtherType, EthernetAddress, EthernetFrame, ETHERNET_HEADER_LEN};
pub use vlan::{VlanTag, VLAN_TAG_LEN};

/// Errors found while checking a buffer against a format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireError {
    /// The buffer is shorter than the header it must hold.
    Truncated,
}

impl core::fmt::Display for WireError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            WireError::Truncated => f.write_str("buffer too short for header"),
        }
    }
}

impl std::error::Error for WireError {}

pub type Result<T> = core::result::Result<T, WireError>;
