//! Control protocol between `rvsd` and its clients.
//!
//! Transport: a Unix stream socket (`RUN_DIR/rvsd.sock`). Each message is one line of JSON.
//! A client sends an [`Envelope`] holding a [`Request`]; the daemon answers with one
//! [`Reply`] line. Several requests may be sent on one connection, one at a time.
//!
//! The envelope carries [`PROTOCOL_VERSION`]; the daemon refuses requests of another
//! version with [`ErrorKind::Protocol`], so a stale CLI never misreads a newer daemon.

use serde::{Deserialize, Serialize};
use std::fmt;

pub mod client;
pub mod vlan;

pub use vlan::{format_trunks, parse_trunks, validate_vid, VlanMode, VlanSpec, VID_MAX, VID_MIN};

/// Version of the request/response schema below. Bumped on incompatible change.
pub const PROTOCOL_VERSION: u32 = 1;

/// File name of the control socket inside the run directory.
pub const SOCKET_NAME: &str = "rvsd.sock";
/// File name of the lock/pid file inside the run directory.
pub const LOCK_NAME: &str = "rvsd.pid";
/// Default run directory.
pub const DEFAULT_RUN_DIR: &str = "/run/rvs";
/// Default configuration database.
pub const DEFAULT_DB: &str = "/var/lib/rvs/conf.db";
/// Default MAC aging time in seconds.
pub const DEFAULT_MAC_AGING_SECS: u32 = 300;
/// Default MAC table size (entries per bridge).
pub const DEFAULT_MAC_TABLE_SIZE: u32 = 8192;

/// What a client sends: a request tagged with the protocol version.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Envelope {
    pub version: u32,
    pub request: Request,
}

impl Envelope {
    pub fn new(request: Request) -> Self {
        Envelope {
            version: PROTOCOL_VERSION,
            request,
        }
    }
}

/// Kind of port, as `add-port --type`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum PortKind {
    /// An existing interface (veth end, a QEMU tap held by QEMU, a NIC) through AF_PACKET.
    #[default]
    System,
    /// A persistent TAP device that rvsd creates and holds; its kernel side is a guest's NIC.
    Tap,
    /// A TAP device that gives the host itself a port on the bridge.
    Internal,
    /// One end of a pair that links two bridges inside rvs (no kernel device).
    Patch,
}

impl PortKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PortKind::System => "system",
            PortKind::Tap => "tap",
            PortKind::Internal => "internal",
            PortKind::Patch => "patch",
        }
    }
}

impl fmt::Display for PortKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for PortKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "system" => Ok(PortKind::System),
            "tap" => Ok(PortKind::Tap),
            "internal" => Ok(PortKind::Internal),
            other => Err(format!(
                "unknown port type '{other}' (expected system, tap or internal)"
            )),
        }
    }
}

/// Bridge-wide settings; `None` fields in a change request mean "leave as is".
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct BridgeSettings {
    /// Seconds a learned MAC entry lives without being seen again.
    pub mac_aging_secs: Option<u32>,
    /// Maximum learned entries; when full, the oldest entry is evicted.
    pub mac_table_size: Option<u32>,
}

/// A change to a port's VLAN settings; `None` means "leave as is".
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct PortVlanChange {
    /// New access/native VLAN. `Some(None)` clears it.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "double_option"
    )]
    pub tag: Option<Option<u16>>,
    /// New trunk list. `Some(vec![])` clears it (trunk all VLANs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trunks: Option<Vec<u16>>,
    /// New VLAN mode. `Some(None)` returns to the default (access if tagged, else trunk).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "double_option"
    )]
    pub vlan_mode: Option<Option<VlanMode>>,
}

/// Keeps "absent" (`None`) apart from "explicit null" (`Some(None)`).
fn double_option<'de, T, D>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// Everything a client can ask of rvsd.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum Request {
    /// Liveness and identity.
    Ping,
    AddBridge {
        name: String,
        settings: BridgeSettings,
        may_exist: bool,
    },
    DelBridge {
        name: String,
        if_exists: bool,
    },
    SetBridge {
        name: String,
        settings: BridgeSettings,
    },
    ListBridges,
    AddPort {
        bridge: String,
        name: String,
        kind: PortKind,
        vlan: VlanSpec,
        may_exist: bool,
        /// The other end, for patch ports.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        peer: Option<String>,
    },
    SetPort {
        bridge: String,
        name: String,
        change: PortVlanChange,
    },
    DelPort {
        bridge: String,
        name: String,
        if_exists: bool,
    },
    ListPorts {
        bridge: String,
    },
    Show,
    FdbShow {
        bridge: String,
    },
    FdbFlush {
        bridge: String,
    },
    PortStats {
        bridge: String,
    },
}

/// The daemon's answer to one request.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub enum Reply {
    Ok(Response),
    Error(ApiError),
}

/// Successful results.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Response {
    /// The change was applied and persisted.
    Done,
    Pong {
        daemon_version: String,
        protocol: u32,
        pid: u32,
    },
    Bridges {
        bridges: Vec<String>,
    },
    Ports {
        ports: Vec<String>,
    },
    Show {
        bridges: Vec<BridgeInfo>,
    },
    Fdb {
        entries: Vec<FdbEntry>,
        #[serde(default)]
        summary: FdbSummary,
    },
    PortStats {
        ports: Vec<PortStats>,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BridgeInfo {
    pub name: String,
    pub mac_aging_secs: u32,
    pub mac_table_size: u32,
    pub ports: Vec<PortInfo>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PortInfo {
    pub name: String,
    pub kind: PortKind,
    pub vlan: VlanSpec,
    /// Effective VLAN mode (resolving the default).
    pub vlan_mode: VlanMode,
    /// `up` when the datapath has the interface open, otherwise why not.
    pub status: String,
    /// Network namespace the interface was found in, when not rvsd's own.
    pub netns: Option<String>,
    /// The other end of a patch port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FdbEntry {
    pub port: String,
    pub vlan: u16,
    pub mac: String,
    pub age_secs: u64,
}

/// Learning-table statistics of one bridge.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct FdbSummary {
    pub entries: u64,
    pub limit: u64,
    pub aging_secs: u32,
    /// Stations seen moving from one port to another.
    pub moves: u64,
    /// Entries evicted because the table was full.
    pub evictions: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct PortStats {
    pub port: String,
    pub rx_packets: u64,
    pub rx_bytes: u64,
    pub tx_packets: u64,
    pub tx_bytes: u64,
    /// Frames whose partial checksum rvs completed in software before sending them on this
    /// port (it does not take checksum offload). Absent from older daemons: 0.
    #[serde(default)]
    pub sw_csum: u64,
    /// Segments rvs cut from GSO frames in software before sending them on this port (it
    /// does not take that GSO type). Absent from older daemons: 0.
    #[serde(default)]
    pub sw_segments: u64,
    /// Drops by reason name; only nonzero reasons are listed.
    pub drops: std::collections::BTreeMap<String, u64>,
}

impl PortStats {
    pub fn total_drops(&self) -> u64 {
        self.drops.values().sum()
    }
}

/// Categories of refusal. The CLI maps them to exit codes and messages.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    NoSuchBridge,
    NoSuchPort,
    AlreadyExists,
    InterfaceNotFound,
    InvalidArgument,
    Protocol,
    System,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub kind: ErrorKind,
    pub message: String,
}

impl ApiError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ApiError {
            kind,
            message: message.into(),
        }
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidArgument, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_roundtrips_as_one_json_line() {
        let env = Envelope::new(Request::AddPort {
            bridge: "br0".into(),
            name: "veth1".into(),
            kind: PortKind::Tap,
            vlan: VlanSpec {
                tag: Some(10),
                trunks: vec![],
                mode: Some(VlanMode::Access),
            },
            may_exist: false,
            peer: None,
        });
        let line = serde_json::to_string(&env).expect("serialize");
        assert!(!line.contains('\n'));
        let back: Envelope = serde_json::from_str(&line).expect("parse");
        assert_eq!(back, env);
    }

    #[test]
    fn clearing_a_setting_differs_from_leaving_it() {
        for change in [
            PortVlanChange {
                tag: Some(None),
                trunks: None,
                vlan_mode: Some(None),
            },
            PortVlanChange {
                tag: None,
                trunks: Some(vec![]),
                vlan_mode: None,
            },
            PortVlanChange {
                tag: Some(Some(7)),
                trunks: None,
                vlan_mode: Some(Some(VlanMode::NativeTagged)),
            },
            PortVlanChange::default(),
        ] {
            let s = serde_json::to_string(&change).expect("serialize");
            assert_eq!(
                serde_json::from_str::<PortVlanChange>(&s).expect("parse"),
                change,
                "{s}"
            );
        }
    }

    #[test]
    fn reply_error_roundtrips() {
        let r = Reply::Error(ApiError::new(
            ErrorKind::NoSuchBridge,
            "no bridge named 'x'",
        ));
        let s = serde_json::to_string(&r).expect("serialize");
        assert_eq!(serde_json::from_str::<Reply>(&s).expect("parse"), r);
    }

    #[test]
    fn port_kind_parses_only_known_names() {
        assert_eq!("tap".parse::<PortKind>(), Ok(PortKind::Tap));
        assert!("vxlan".parse::<PortKind>().is_err());
    }
}
