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

/// Most queues a tap or internal port may have (`add-port --queues`).
pub const MAX_TAP_QUEUES: u16 = 16;

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
    /// An existing interface through AF_XDP sockets and an XDP redirect program.
    Afxdp,
}

impl PortKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PortKind::System => "system",
            PortKind::Tap => "tap",
            PortKind::Internal => "internal",
            PortKind::Patch => "patch",
            PortKind::Afxdp => "afxdp",
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
            "afxdp" => Ok(PortKind::Afxdp),
            other => Err(format!(
                "unknown port type '{other}' (expected system, tap, internal or afxdp)"
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
        /// Requested OpenFlow port number (`ofport_request`); rvsd picks one when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ofport: Option<u32>,
        /// Queues of a tap or internal port, 1 to [`MAX_TAP_QUEUES`] (absent: 1).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        queues: Option<u16>,
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
    /// Every datapath thread: how it waits, what it serves, what it cost.
    DpThreads,
    /// OpenFlow messages for a bridge, handled like those of a controller connection with
    /// role equal (the way `ovs-ofctl` talks to a bridge's management socket). Each element
    /// is one whole encoded message; the reply holds every message the switch answered,
    /// in order (errors included, as OFPT_ERROR messages).
    OpenFlow {
        bridge: String,
        messages: Vec<HexBytes>,
    },
    /// Controller targets (`tcp:IP:PORT`, `ptcp:PORT[:IP]`); an empty list is del-controller.
    SetController {
        bridge: String,
        targets: Vec<String>,
    },
    SetFailMode {
        bridge: String,
        mode: FailMode,
    },
    /// Sets the datapath id (16 hex digits at most, not all zero).
    SetDpid {
        bridge: String,
        dpid: u64,
    },
    /// Explains what the bridge does with a packet: `flow` is a match in ovs-ofctl syntax
    /// (`in_port=1,tcp,tp_dst=80`) or `packet` a whole frame.
    Trace {
        bridge: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        flow: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        packet: Option<HexBytes>,
        /// The ingress port by name or number when `packet` is given.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        in_port: Option<String>,
    },
    /// OpenFlow view of a bridge: datapath id, fail mode, controllers and their state,
    /// ports with their OpenFlow numbers.
    OfShow {
        bridge: String,
    },
}

/// Bytes carried as a lowercase hex string in JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HexBytes(pub Vec<u8>);

impl Serialize for HexBytes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut out = String::with_capacity(self.0.len() * 2);
        for b in &self.0 {
            out.push_str(&format!("{b:02x}"));
        }
        s.serialize_str(&out)
    }
}

impl<'de> Deserialize<'de> for HexBytes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_hex(&s)
            .map(HexBytes)
            .map_err(serde::de::Error::custom)
    }
}

/// Parses hex digits, ignoring whitespace and an optional `0x`.
pub fn parse_hex(s: &str) -> Result<Vec<u8>, String> {
    let s = s.trim();
    let s = s.strip_prefix("0x").unwrap_or(s);
    let digits: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if !digits.len().is_multiple_of(2) {
        return Err("odd number of hex digits".into());
    }
    digits
        .chunks(2)
        .map(|p| {
            let hi = (p[0] as char).to_digit(16);
            let lo = (p[1] as char).to_digit(16);
            match (hi, lo) {
                (Some(h), Some(l)) => Ok((h * 16 + l) as u8),
                _ => Err(format!(
                    "'{}' is not a hex byte",
                    String::from_utf8_lossy(p)
                )),
            }
        })
        .collect()
}

/// What a bridge does with packets no controller decided on.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum FailMode {
    /// No controller configured, or none connected: the bridge acts as a learning switch
    /// (`priority=0 actions=NORMAL` in table 0 on a new bridge).
    #[default]
    Standalone,
    /// Keep the installed flows, drop table misses; never fall back to NORMAL.
    Secure,
}

impl std::str::FromStr for FailMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "standalone" => Ok(FailMode::Standalone),
            "secure" => Ok(FailMode::Secure),
            o => Err(format!(
                "unknown fail mode '{o}' (expected standalone or secure)"
            )),
        }
    }
}

impl fmt::Display for FailMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FailMode::Standalone => "standalone",
            FailMode::Secure => "secure",
        })
    }
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
    /// Replies to [`Request::OpenFlow`], each one whole encoded message.
    OpenFlow {
        messages: Vec<HexBytes>,
    },
    /// Human-readable trace (one string, lines separated by newlines) plus the final
    /// datapath actions and megaflow mask for scripts.
    Trace {
        text: String,
        actions: String,
        megaflow: String,
    },
    OfShow {
        info: OfBridgeInfo,
    },
    DpThreads {
        threads: Vec<DpThreadInfo>,
    },
}

/// One datapath thread (`rvs dp-threads`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DpThreadInfo {
    /// Thread name, e.g. `rvs-dp0` (the `datapath thread: dp0` of `rvs show`).
    pub name: String,
    /// Kernel thread id, for `perf -t`, `taskset -p`, `top -H`.
    pub tid: u32,
    /// `adaptive (up to 100 us)`, `event-driven` or `busy`.
    pub poll_mode: String,
    /// Bridges served (with all their ports).
    pub bridges: Vec<String>,
    /// Receive queues the thread polls, as `BRIDGE/PORT` plus a queue number when the port
    /// has several (`br0/vm1 q2`).
    pub rx_queues: Vec<String>,
    /// Waits that slept in epoll.
    pub sleeps: u64,
    /// Waits that polled without sleeping, and of those, the ones that found frames.
    pub polls: u64,
    pub poll_hits: u64,
    /// CPU time the thread used since it started (user + system), in milliseconds.
    pub cpu_ms: u64,
    /// The CPU the thread is pinned to (`rvsd --dp-cpus`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<u32>,
    /// Frames the thread received, and transmitted (on any port), while the ports it
    /// counted were attached: how the load is shared.
    #[serde(default)]
    pub rx_packets: u64,
    #[serde(default)]
    pub tx_packets: u64,
}

/// OpenFlow view of one bridge.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OfBridgeInfo {
    pub bridge: String,
    /// 16 hex digits.
    pub dpid: String,
    pub fail_mode: FailMode,
    pub controllers: Vec<ControllerInfo>,
    /// (OpenFlow port number, port name).
    pub ports: Vec<(u32, String)>,
    pub n_flows: u64,
    pub n_groups: u64,
    pub n_meters: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ControllerInfo {
    pub target: String,
    /// Connected peers (several for a passive target), e.g. `127.0.0.1:40112 role=master`.
    pub connections: Vec<String>,
    /// `connected`, `listening`, `connecting`, `backoff 4s: <reason>`.
    pub state: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BridgeInfo {
    pub name: String,
    pub mac_aging_secs: u32,
    pub mac_table_size: u32,
    pub ports: Vec<PortInfo>,
    /// The one datapath thread that served the bridge and all its ports, from daemons
    /// before ports were spread over threads; now absent (see [`PortInfo::datapath_thread`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datapath_thread: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PortInfo {
    pub name: String,
    pub kind: PortKind,
    pub vlan: VlanSpec,
    /// Effective VLAN mode (resolving the default).
    pub vlan_mode: VlanMode,
    /// `up` when the datapath has the interface open, otherwise why not. afxdp ports add
    /// how they run: `up (afxdp native, copy, 1 queue)`.
    pub status: String,
    /// Network namespace the interface was found in, when not rvsd's own.
    pub netns: Option<String>,
    /// The other end of a patch port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<String>,
    /// The datapath thread that receives on the port (`rvsd --dp-threads`; the other
    /// threads transmit to it directly). Absent when the port is not attached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datapath_thread: Option<u32>,
    /// Every thread receiving on the port, when its queues are split over several
    /// (multi-queue taps); empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub datapath_threads: Vec<u32>,
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
    /// Frames per queue, queue 0 first, for ports with several queues (empty otherwise,
    /// and from older daemons).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub queues: Vec<QueueStats>,
}

/// Frames one queue of a multi-queue port received and sent.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct QueueStats {
    pub rx_packets: u64,
    pub tx_packets: u64,
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
            ofport: None,
            queues: Some(4),
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
        assert_eq!("afxdp".parse::<PortKind>(), Ok(PortKind::Afxdp));
        assert_eq!(PortKind::Afxdp.to_string(), "afxdp");
        assert_eq!(
            serde_json::to_string(&PortKind::Afxdp).expect("serialize"),
            "\"afxdp\""
        );
        assert_eq!(
            serde_json::from_str::<PortKind>("\"afxdp\"").expect("deserialize"),
            PortKind::Afxdp
        );
        assert!("vxlan".parse::<PortKind>().is_err());
    }

    #[test]
    fn hex_bytes_roundtrip_and_refuse_garbage() {
        let r = Response::OpenFlow {
            messages: vec![HexBytes(vec![4, 0, 0, 8, 0, 0, 0, 1])],
        };
        let s = serde_json::to_string(&r).expect("serialize");
        assert!(s.contains("\"0400000800000001\""), "{s}");
        assert_eq!(serde_json::from_str::<Response>(&s).expect("parse"), r);
        assert!(parse_hex("abc").is_err());
        assert!(parse_hex("zz").is_err());
        assert_eq!(parse_hex("0x0a 0b").expect("hex"), vec![10, 11]);
    }
}
