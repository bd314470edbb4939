//! Command-line definitions and their conversion into [`rvs_api::Request`]s.
//!
//! Everything here is pure: parsing is done by clap, and [`to_request`] checks values
//! (VLAN IDs, trunk lists, interface names, bridge settings) and builds the request the
//! daemon expects. The daemon validates again; checking here gives the user a precise
//! message without a round trip and keeps obviously wrong requests off the socket.

use clap::{Args, Parser, Subcommand, ValueEnum};
use rvs_api::{
    parse_trunks, validate_vid, BridgeSettings, PortKind, PortVlanChange, Request, VlanMode,
    VlanSpec, VID_MAX, VID_MIN,
};
use std::path::PathBuf;

/// Longest Linux interface name in bytes (IFNAMSIZ - 1).
pub const IFNAME_MAX: usize = 15;
/// Smallest accepted `--mac-aging`, in seconds.
pub const MAC_AGING_MIN: u32 = 10;
/// Largest accepted `--mac-aging`, in seconds.
pub const MAC_AGING_MAX: u32 = 1_000_000;
/// Smallest accepted `--mac-table-size`.
pub const MAC_TABLE_SIZE_MIN: u32 = 1;
/// Largest accepted `--mac-table-size`.
pub const MAC_TABLE_SIZE_MAX: u32 = 1_000_000;
/// Default socket timeout in seconds.
pub const DEFAULT_TIMEOUT_SECS: u64 = 10;

/// `rvs`: control the rvs virtual switch daemon (rvsd).
#[derive(Debug, Clone, Parser)]
#[command(
    name = "rvs",
    version,
    about = "Control the rvs virtual switch daemon (rvsd)",
    long_about = "Control the rvs virtual switch daemon (rvsd). Verbs follow ovs-vsctl: \
                  add-br, add-port, show, ... Exit codes: 0 ok, 1 rvsd refused the request, \
                  2 usage error, 3 rvsd not reachable or its answer unusable."
)]
pub struct Cli {
    /// Run directory of rvsd; its control socket is DIR/rvsd.sock.
    #[arg(
        long,
        value_name = "DIR",
        env = "RVS_RUN_DIR",
        default_value = rvs_api::DEFAULT_RUN_DIR,
        global = true
    )]
    pub run_dir: PathBuf,

    /// Output format of read commands.
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = OutputFormat::Text, global = true)]
    pub format: OutputFormat,

    /// Socket read/write timeout in seconds (1-3600).
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = DEFAULT_TIMEOUT_SECS,
        value_parser = clap::value_parser!(u64).range(1..=3600),
        global = true
    )]
    pub timeout: u64,

    #[command(subcommand)]
    pub command: Command,
}

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Human-readable text.
    Text,
    /// Pretty-printed JSON.
    Json,
}

/// The verbs.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum Command {
    /// Create a bridge.
    AddBr(AddBrArgs),
    /// Delete a bridge and all its ports.
    DelBr(DelBrArgs),
    /// Change a bridge's settings.
    SetBr(SetBrArgs),
    /// List bridge names, one per line.
    ListBr,
    /// Add a port to a bridge.
    AddPort(AddPortArgs),
    /// Change a port's VLAN settings while it runs.
    SetPort(SetPortArgs),
    /// Remove a port from a bridge.
    DelPort(DelPortArgs),
    /// List the ports of a bridge, one per line.
    ListPorts(BridgeArg),
    /// Show all bridges and their ports.
    Show,
    /// Show a bridge's learned MAC addresses.
    FdbShow(BridgeArg),
    /// Forget a bridge's learned MAC addresses.
    FdbFlush(BridgeArg),
    /// Show per-port packet, byte and drop counters of a bridge.
    PortStats(BridgeArg),
    /// Show the datapath threads: poll mode, bridges and receive queues served, wakeups,
    /// CPU time.
    DpThreads,
    /// Print the version of rvs and, when it answers, of rvsd.
    Version,
    /// Whole virtual networks (bridges, hosts in namespaces, VLANs, links) from one
    /// topology file: up, down, status, exec, ping-matrix, graph.
    Lab(crate::lab::LabArgs),
    /// Add a flow (ovs-ofctl syntax): rvs add-flow br0 'priority=10,ip,actions=output:2'.
    AddFlow(FlowArgs),
    /// Add the flows of a file, one per line ('-' = stdin; '#' comments).
    AddFlows(FlowsFileArgs),
    /// Change the actions of matching flows (in table 0 unless table=N).
    ModFlows(ModFlowsArgs),
    /// Delete matching flows (all flows without MATCH).
    DelFlows(DelFlowsArgs),
    /// Print flows, or those matching MATCH.
    DumpFlows(DumpFlowsArgs),
    /// Add a group: rvs add-group br0 'group_id=1,type=select,bucket=output:1,bucket=output:2'.
    AddGroup(GroupArgs),
    /// Replace a group's type and buckets.
    ModGroup(GroupArgs),
    /// Delete one group (group_id=N) or all.
    DelGroups(DelSpecArgs),
    /// Print the groups.
    DumpGroups(BridgeArg),
    /// Print group counters.
    DumpGroupStats(BridgeArg),
    /// Add a meter: rvs add-meter br0 'meter=1,kbps,bands=type=drop,rate=1000'.
    AddMeter(MeterArgs),
    /// Replace a meter's flags and bands.
    ModMeter(MeterArgs),
    /// Delete one meter (meter=N) or all.
    DelMeters(DelSpecArgs),
    /// Print the meters.
    DumpMeters(BridgeArg),
    /// Print meter counters.
    MeterStats(BridgeArg),
    /// Print OpenFlow port counters (of one port with PORT).
    DumpPorts(DumpPortsArgs),
    /// Print the OpenFlow ports (number, name, address, state, speed).
    DumpPortsDesc(BridgeArg),
    /// Print flow table counters (tables in use; all with --all).
    DumpTables(DumpTablesArgs),
    /// Connect the bridge to OpenFlow controllers: tcp:IP:PORT, ptcp:PORT[:IP].
    SetController(SetControllerArgs),
    /// Disconnect the bridge from its controllers.
    DelController(BridgeArg),
    /// Print the bridge's controller targets.
    GetController(BridgeArg),
    /// What the bridge does without a controller: standalone (learning switch) or secure.
    SetFailMode(SetFailModeArgs),
    /// Print the bridge's fail mode.
    GetFailMode(BridgeArg),
    /// Set the bridge's datapath id (1-16 hex digits).
    SetDpid(SetDpidArgs),
    /// OpenFlow view of a bridge: datapath id, fail mode, controllers, ports.
    OfShow(BridgeArg),
    /// Explain what the bridge does with a packet (a flow or a whole frame).
    Trace(TraceArgs),
}

#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct FlowArgs {
    /// Bridge name.
    #[arg(value_name = "BR")]
    pub bridge: String,
    /// The flow, e.g. 'table=0,priority=10,in_port=1,actions=output:2'.
    #[arg(value_name = "FLOW", allow_hyphen_values = true)]
    pub flow: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct FlowsFileArgs {
    /// Bridge name.
    #[arg(value_name = "BR")]
    pub bridge: String,
    /// File with one flow per line; '-' reads stdin.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct ModFlowsArgs {
    /// Bridge name.
    #[arg(value_name = "BR")]
    pub bridge: String,
    /// Match and new actions, e.g. 'in_port=1,actions=output:3'.
    #[arg(value_name = "FLOW", allow_hyphen_values = true)]
    pub flow: String,
    /// Change only the flow with exactly this match and priority.
    #[arg(long)]
    pub strict: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct DelFlowsArgs {
    /// Bridge name.
    #[arg(value_name = "BR")]
    pub bridge: String,
    /// Flows to delete, e.g. 'in_port=1' or 'table=2,cookie=0x10/0xff'; all without it.
    #[arg(value_name = "MATCH", allow_hyphen_values = true)]
    pub flow: Option<String>,
    /// Delete only the flow with exactly this match and priority.
    #[arg(long)]
    pub strict: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct DumpFlowsArgs {
    /// Bridge name.
    #[arg(value_name = "BR")]
    pub bridge: String,
    /// Only flows matching this (and table=, cookie=V/M, out_port=).
    #[arg(value_name = "MATCH", allow_hyphen_values = true)]
    pub flow: Option<String>,
    /// Only this table (0-254).
    #[arg(long, value_name = "N")]
    pub table: Option<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct GroupArgs {
    /// Bridge name.
    #[arg(value_name = "BR")]
    pub bridge: String,
    /// The group, e.g. 'group_id=1,type=select,bucket=weight:50,actions=output:1'.
    #[arg(value_name = "GROUP", allow_hyphen_values = true)]
    pub spec: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct MeterArgs {
    /// Bridge name.
    #[arg(value_name = "BR")]
    pub bridge: String,
    /// The meter, e.g. 'meter=1,kbps,burst,bands=type=drop,rate=1000,burst_size=100'.
    #[arg(value_name = "METER", allow_hyphen_values = true)]
    pub spec: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct DelSpecArgs {
    /// Bridge name.
    #[arg(value_name = "BR")]
    pub bridge: String,
    /// group_id=N (del-groups) or meter=N (del-meters); all without it.
    #[arg(value_name = "ID")]
    pub spec: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct DumpPortsArgs {
    /// Bridge name.
    #[arg(value_name = "BR")]
    pub bridge: String,
    /// OpenFlow port number (or LOCAL); all ports without it.
    #[arg(value_name = "PORT")]
    pub port: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct DumpTablesArgs {
    /// Bridge name.
    #[arg(value_name = "BR")]
    pub bridge: String,
    /// Also tables without flows or lookups.
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct SetControllerArgs {
    /// Bridge name.
    #[arg(value_name = "BR")]
    pub bridge: String,
    /// Targets: tcp:IP:PORT (connect) or ptcp:PORT[:IP] (listen).
    #[arg(value_name = "TARGET", required = true)]
    pub targets: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct SetFailModeArgs {
    /// Bridge name.
    #[arg(value_name = "BR")]
    pub bridge: String,
    /// standalone or secure.
    #[arg(value_name = "MODE", value_parser = ["standalone", "secure"])]
    pub mode: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct SetDpidArgs {
    /// Bridge name.
    #[arg(value_name = "BR")]
    pub bridge: String,
    /// Datapath id: 1-16 hex digits, not all zero.
    #[arg(value_name = "HEX")]
    pub dpid: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct TraceArgs {
    /// Bridge name.
    #[arg(value_name = "BR")]
    pub bridge: String,
    /// The packet as a match, e.g. 'in_port=1,tcp,nw_dst=10.0.0.2,tp_dst=80'.
    #[arg(value_name = "FLOW", allow_hyphen_values = true)]
    pub flow: Option<String>,
    /// A whole Ethernet frame in hex instead of FLOW.
    #[arg(long, value_name = "HEX")]
    pub packet: Option<String>,
    /// Ingress port (name or OpenFlow number) of --packet.
    #[arg(long, value_name = "PORT")]
    pub in_port: Option<String>,
}

/// A verb whose only argument is a bridge.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct BridgeArg {
    /// Bridge name.
    #[arg(value_name = "BR")]
    pub bridge: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct AddBrArgs {
    /// Bridge name (a Linux interface name: 1-15 bytes).
    #[arg(value_name = "BR")]
    pub bridge: String,
    /// Succeed without change when the bridge already exists.
    #[arg(long)]
    pub may_exist: bool,
    /// Seconds a learned MAC address lives unseen (10-1000000; daemon default 300).
    #[arg(long, value_name = "SECS")]
    pub mac_aging: Option<String>,
    /// Maximum learned MAC addresses (1-1000000; daemon default 8192).
    #[arg(long, value_name = "N")]
    pub mac_table_size: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct DelBrArgs {
    /// Bridge name.
    #[arg(value_name = "BR")]
    pub bridge: String,
    /// Succeed when the bridge does not exist.
    #[arg(long)]
    pub if_exists: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct SetBrArgs {
    /// Bridge name.
    #[arg(value_name = "BR")]
    pub bridge: String,
    /// Seconds a learned MAC address lives unseen (10-1000000).
    #[arg(long, value_name = "SECS")]
    pub mac_aging: Option<String>,
    /// Maximum learned MAC addresses (1-1000000).
    #[arg(long, value_name = "N")]
    pub mac_table_size: Option<String>,
}

/// `--type` of `add-port`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PortType {
    /// An existing interface (veth end, NIC, tap held by QEMU).
    System,
    /// A persistent TAP device created and held by rvsd.
    Tap,
    /// A TAP device giving the host a port on the bridge.
    Internal,
    /// One end of a pair linking two bridges inside rvs (needs --peer).
    Patch,
    /// An existing interface through AF_XDP (XDP program native, else generic; copy mode).
    Afxdp,
}

impl From<PortType> for PortKind {
    fn from(t: PortType) -> PortKind {
        match t {
            PortType::System => PortKind::System,
            PortType::Tap => PortKind::Tap,
            PortType::Internal => PortKind::Internal,
            PortType::Patch => PortKind::Patch,
            PortType::Afxdp => PortKind::Afxdp,
        }
    }
}

/// `--vlan-mode` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum VlanModeArg {
    /// Untagged frames only, in VLAN --tag.
    Access,
    /// Tagged frames of the trunked VLANs.
    Trunk,
    /// Trunk; untagged ingress goes to VLAN --tag, which egresses tagged.
    NativeTagged,
    /// Trunk; untagged ingress goes to VLAN --tag, which egresses untagged.
    NativeUntagged,
}

impl From<VlanModeArg> for VlanMode {
    fn from(m: VlanModeArg) -> VlanMode {
        match m {
            VlanModeArg::Access => VlanMode::Access,
            VlanModeArg::Trunk => VlanMode::Trunk,
            VlanModeArg::NativeTagged => VlanMode::NativeTagged,
            VlanModeArg::NativeUntagged => VlanMode::NativeUntagged,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct AddPortArgs {
    /// Bridge name.
    #[arg(value_name = "BR")]
    pub bridge: String,
    /// Interface name (also the port name).
    #[arg(value_name = "IFACE")]
    pub iface: String,
    /// Kind of port.
    #[arg(long = "type", value_enum, value_name = "TYPE", default_value_t = PortType::System)]
    pub kind: PortType,
    /// Access VLAN (access mode) or native VLAN (native modes), 1-4094.
    #[arg(long, value_name = "VID")]
    pub tag: Option<String>,
    /// Trunked VLANs, e.g. 10,20-30 (default: all).
    #[arg(long, value_name = "VID,VID-VID")]
    pub trunks: Option<String>,
    /// VLAN mode (default: access with --tag, trunk without).
    #[arg(long, value_enum, value_name = "MODE")]
    pub vlan_mode: Option<VlanModeArg>,
    /// Succeed without change when the port already exists.
    #[arg(long)]
    pub may_exist: bool,
    /// The other end of a patch port (a port of type patch on another bridge).
    #[arg(long, value_name = "PORT")]
    pub peer: Option<String>,
    /// OpenFlow port number to request (1-65279), as ofport_request in Open vSwitch.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=0xfeff))]
    pub ofport: Option<u32>,
    /// Receive queues (1-16, default 1), each served by its own datapath thread where
    /// there are enough: a tap or internal port opens that many device queues (picked
    /// per flow on transmit), a system port that many sockets in one PACKET_FANOUT group
    /// (at most one per thread).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=i64::from(rvs_api::MAX_TAP_QUEUES)))]
    pub queues: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct SetPortArgs {
    /// Bridge name.
    #[arg(value_name = "BR")]
    pub bridge: String,
    /// Port name.
    #[arg(value_name = "PORT")]
    pub port: String,
    /// New access/native VLAN, 1-4094.
    #[arg(long, value_name = "VID", conflicts_with = "no_tag")]
    pub tag: Option<String>,
    /// Remove the access/native VLAN.
    #[arg(long)]
    pub no_tag: bool,
    /// New trunk list, e.g. 10,20-30.
    #[arg(long, value_name = "VID,VID-VID", conflicts_with = "no_trunks")]
    pub trunks: Option<String>,
    /// Clear the trunk list (trunk all VLANs).
    #[arg(long)]
    pub no_trunks: bool,
    /// New VLAN mode.
    #[arg(long, value_enum, value_name = "MODE", conflicts_with = "no_vlan_mode")]
    pub vlan_mode: Option<VlanModeArg>,
    /// Return to the default mode (access if tagged, else trunk).
    #[arg(long)]
    pub no_vlan_mode: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct DelPortArgs {
    /// Bridge name.
    #[arg(value_name = "BR")]
    pub bridge: String,
    /// Port name.
    #[arg(value_name = "PORT")]
    pub port: String,
    /// Succeed when the port does not exist.
    #[arg(long)]
    pub if_exists: bool,
}

/// Quotes a user-supplied string for a one-line message (escapes control characters).
pub fn quoted(s: &str) -> String {
    format!("'{}'", s.escape_debug())
}

/// Checks that `name` is a valid Linux interface name, as the kernel's `dev_valid_name`:
/// 1-15 bytes, not `.` or `..`, and no `/`, `:` or whitespace. `what` names the
/// argument in the message ("bridge", "port").
pub fn validate_ifname(what: &str, name: &str) -> Result<(), String> {
    let why = if name.is_empty() {
        "it is empty".to_string()
    } else if name.len() > IFNAME_MAX {
        format!("it is {} bytes long", name.len())
    } else if name == "." || name == ".." {
        "'.' and '..' are reserved".to_string()
    } else if let Some(c) = name
        .chars()
        .find(|&c| c == '/' || c == ':' || c.is_whitespace())
    {
        let c = match c {
            '/' => "'/'".to_string(),
            ':' => "':'".to_string(),
            c => format!("whitespace ({})", c.escape_debug()),
        };
        format!("it contains {c}")
    } else if name.chars().any(char::is_control) {
        "it contains a control character".to_string()
    } else {
        return Ok(());
    };
    Err(format!(
        "invalid {what} name {}: {why} (Linux interface names are 1-{IFNAME_MAX} bytes without '/', ':' or whitespace)",
        quoted(name)
    ))
}

/// Parses one VLAN ID and checks it is in 1-4094.
pub fn parse_vid(text: &str) -> Result<u16, String> {
    let t = text.trim();
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("invalid VLAN {}: not a number", quoted(text)));
    }
    let outside = || format!("invalid VLAN {t}: outside {VID_MIN}-{VID_MAX}");
    let v: u16 = t.parse().map_err(|_| outside())?;
    validate_vid(v).map_err(|_| outside())
}

/// Parses a `--trunks` list (`10,20-30`). An empty list is refused: omit the option
/// (add-port) or use `--no-trunks` (set-port) to trunk every VLAN.
pub fn parse_trunk_list(text: &str) -> Result<Vec<u16>, String> {
    let vids = parse_trunks(text).map_err(|e| format!("invalid --trunks {}: {e}", quoted(text)))?;
    if vids.is_empty() {
        return Err(
            "invalid --trunks '': empty list (omit --trunks, or use set-port --no-trunks, to trunk all VLANs)"
                .to_string(),
        );
    }
    Ok(vids)
}

fn parse_bounded(option: &str, text: &str, min: u32, max: u32, unit: &str) -> Result<u32, String> {
    let t = text.trim();
    let bad = || {
        format!(
            "invalid {option} {}: must be a whole number {min}-{max}{unit}",
            quoted(text)
        )
    };
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    match t.parse::<u32>() {
        Ok(v) if (min..=max).contains(&v) => Ok(v),
        _ => Err(bad()),
    }
}

/// Parses `--mac-aging` (seconds, [`MAC_AGING_MIN`]..=[`MAC_AGING_MAX`]).
pub fn parse_mac_aging(text: &str) -> Result<u32, String> {
    parse_bounded(
        "--mac-aging",
        text,
        MAC_AGING_MIN,
        MAC_AGING_MAX,
        " seconds",
    )
}

/// Parses `--mac-table-size` ([`MAC_TABLE_SIZE_MIN`]..=[`MAC_TABLE_SIZE_MAX`]).
pub fn parse_mac_table_size(text: &str) -> Result<u32, String> {
    parse_bounded(
        "--mac-table-size",
        text,
        MAC_TABLE_SIZE_MIN,
        MAC_TABLE_SIZE_MAX,
        "",
    )
}

fn bridge_settings(aging: Option<&str>, size: Option<&str>) -> Result<BridgeSettings, String> {
    Ok(BridgeSettings {
        mac_aging_secs: aging.map(parse_mac_aging).transpose()?,
        mac_table_size: size.map(parse_mac_table_size).transpose()?,
    })
}

fn bridge_name(name: &str) -> Result<String, String> {
    validate_ifname("bridge", name)?;
    Ok(name.to_string())
}

fn port_name(name: &str) -> Result<String, String> {
    validate_ifname("port", name)?;
    Ok(name.to_string())
}

/// Checks that a port change survives the JSON encoding unchanged. With plain serde
/// derives, `Some(None)` ("clear": `--no-tag`, `--no-vlan-mode`) and `None` ("leave as
/// is") both encode as `null`, so rvsd would silently ignore the option. Refusing here
/// beats reporting success for a change that is never made; once the protocol crate
/// encodes the difference this check passes by itself.
pub fn check_change_encodes(change: &PortVlanChange) -> Result<(), String> {
    let back = serde_json::to_string(change)
        .ok()
        .and_then(|s| serde_json::from_str::<PortVlanChange>(&s).ok());
    let Some(back) = back else {
        return Err("the port change cannot be encoded for rvsd; nothing was sent".to_string());
    };
    let mut lost = Vec::new();
    if back.tag != change.tag {
        lost.push(if change.tag == Some(None) {
            "--no-tag"
        } else {
            "--tag"
        });
    }
    if back.trunks != change.trunks {
        lost.push(if change.trunks.as_deref() == Some(&[]) {
            "--no-trunks"
        } else {
            "--trunks"
        });
    }
    if back.vlan_mode != change.vlan_mode {
        lost.push(if change.vlan_mode == Some(None) {
            "--no-vlan-mode"
        } else {
            "--vlan-mode"
        });
    }
    if lost.is_empty() {
        return Ok(());
    }
    Err(format!(
        "{} cannot be sent: the rvsd control protocol (version {}) cannot tell clearing a \
         setting from leaving it unchanged; nothing was sent",
        lost.join(" and "),
        rvs_api::PROTOCOL_VERSION
    ))
}

/// Converts a parsed verb into the request to send, validating every value.
/// `version` becomes [`Request::Ping`]. An error is a usage error (exit code 2).
pub fn to_request(command: &Command) -> Result<Request, String> {
    Ok(match command {
        Command::AddBr(a) => Request::AddBridge {
            name: bridge_name(&a.bridge)?,
            settings: bridge_settings(a.mac_aging.as_deref(), a.mac_table_size.as_deref())?,
            may_exist: a.may_exist,
        },
        Command::DelBr(a) => Request::DelBridge {
            name: bridge_name(&a.bridge)?,
            if_exists: a.if_exists,
        },
        Command::SetBr(a) => {
            let name = bridge_name(&a.bridge)?;
            if a.mac_aging.is_none() && a.mac_table_size.is_none() {
                return Err(
                    "set-br needs at least one of --mac-aging, --mac-table-size".to_string()
                );
            }
            let settings = bridge_settings(a.mac_aging.as_deref(), a.mac_table_size.as_deref())?;
            Request::SetBridge { name, settings }
        }
        Command::ListBr => Request::ListBridges,
        Command::AddPort(a) => {
            let bridge = bridge_name(&a.bridge)?;
            let name = port_name(&a.iface)?;
            let spec = VlanSpec {
                tag: a.tag.as_deref().map(parse_vid).transpose()?,
                trunks: a
                    .trunks
                    .as_deref()
                    .map(parse_trunk_list)
                    .transpose()?
                    .unwrap_or_default(),
                mode: a.vlan_mode.map(VlanMode::from),
            };
            let vlan = spec.validated()?;
            let peer = match (a.kind, &a.peer) {
                (PortType::Patch, Some(p)) => Some(port_name(p)?),
                (PortType::Patch, None) => {
                    return Err("--type patch needs --peer PORT (the other end)".to_string())
                }
                (_, Some(_)) => return Err("--peer applies only to --type patch".to_string()),
                (_, None) => None,
            };
            if a.queues.is_some()
                && !matches!(
                    a.kind,
                    PortType::Tap | PortType::Internal | PortType::System
                )
            {
                return Err("--queues applies only to --type tap, internal and system".to_string());
            }
            Request::AddPort {
                bridge,
                name,
                kind: a.kind.into(),
                vlan,
                may_exist: a.may_exist,
                peer,
                ofport: a.ofport,
                queues: a.queues,
            }
        }
        Command::SetPort(a) => {
            let bridge = bridge_name(&a.bridge)?;
            let name = port_name(&a.port)?;
            let tag = match (&a.tag, a.no_tag) {
                (Some(t), _) => Some(Some(parse_vid(t)?)),
                (None, true) => Some(None),
                (None, false) => None,
            };
            let trunks = match (&a.trunks, a.no_trunks) {
                (Some(t), _) => Some(parse_trunk_list(t)?),
                (None, true) => Some(Vec::new()),
                (None, false) => None,
            };
            let vlan_mode = match (a.vlan_mode, a.no_vlan_mode) {
                (Some(m), _) => Some(Some(m.into())),
                (None, true) => Some(None),
                (None, false) => None,
            };
            if tag.is_none() && trunks.is_none() && vlan_mode.is_none() {
                return Err(
                    "set-port needs at least one of --tag, --no-tag, --trunks, --no-trunks, \
                            --vlan-mode, --no-vlan-mode"
                        .to_string(),
                );
            }
            let change = PortVlanChange {
                tag,
                trunks,
                vlan_mode,
            };
            check_change_encodes(&change)?;
            Request::SetPort {
                bridge,
                name,
                change,
            }
        }
        Command::DelPort(a) => Request::DelPort {
            bridge: bridge_name(&a.bridge)?,
            name: port_name(&a.port)?,
            if_exists: a.if_exists,
        },
        Command::ListPorts(a) => Request::ListPorts {
            bridge: bridge_name(&a.bridge)?,
        },
        Command::Show => Request::Show,
        Command::DpThreads => Request::DpThreads,
        Command::FdbShow(a) => Request::FdbShow {
            bridge: bridge_name(&a.bridge)?,
        },
        Command::FdbFlush(a) => Request::FdbFlush {
            bridge: bridge_name(&a.bridge)?,
        },
        Command::PortStats(a) => Request::PortStats {
            bridge: bridge_name(&a.bridge)?,
        },
        Command::Version => Request::Ping,
        Command::Lab(_) => {
            return Err(
                "`rvs lab` is not a single rvsd request; run it through rvs::execute".to_string(),
            )
        }
        other => match crate::openflow::plan(other)? {
            Some(plan) => plan.request,
            None => return Err("this verb is not a single rvsd request".to_string()),
        },
    })
}

/// True for verbs that change state (they print nothing on success in text mode).
pub fn is_change(command: &Command) -> bool {
    matches!(
        command,
        Command::AddBr(_)
            | Command::DelBr(_)
            | Command::SetBr(_)
            | Command::AddPort(_)
            | Command::SetPort(_)
            | Command::DelPort(_)
            | Command::FdbFlush(_)
            | Command::AddFlow(_)
            | Command::AddFlows(_)
            | Command::ModFlows(_)
            | Command::DelFlows(_)
            | Command::AddGroup(_)
            | Command::ModGroup(_)
            | Command::DelGroups(_)
            | Command::AddMeter(_)
            | Command::ModMeter(_)
            | Command::DelMeters(_)
            | Command::SetController(_)
            | Command::DelController(_)
            | Command::SetFailMode(_)
            | Command::SetDpid(_)
    )
}

/// Condenses a clap error into one line (without the `rvs: ` prefix): the message
/// paragraph with its lines joined, plus a pointer to `--help`. `verb` names the verb
/// the user typed, when known, to point at its own help.
pub fn clap_error_line(err: &clap::Error, verb: Option<&str>) -> String {
    let text = err.render().to_string();
    let first = text.split("\n\n").next().unwrap_or("");
    let first = first.trim().strip_prefix("error:").unwrap_or(first);
    let msg = first.split_whitespace().collect::<Vec<_>>().join(" ");
    match verb {
        Some(v) => format!("{msg} (see 'rvs {v} --help')"),
        None => format!("{msg} (see 'rvs --help')"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("rvs").chain(args.iter().copied()))
    }

    fn req(args: &[&str]) -> Result<Request, String> {
        let cli = parse(args).unwrap_or_else(|e| panic!("{args:?} should parse: {e}"));
        to_request(&cli.command)
    }

    fn req_ok(args: &[&str]) -> Request {
        req(args).unwrap_or_else(|e| panic!("{args:?} should be valid: {e}"))
    }

    fn req_err(args: &[&str]) -> String {
        match req(args) {
            Ok(r) => panic!("{args:?} should be refused, got {r:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_options_and_defaults() {
        let cli = parse(&["show"]).unwrap();
        assert_eq!(cli.format, OutputFormat::Text);
        assert_eq!(cli.timeout, DEFAULT_TIMEOUT_SECS);
        // RVS_RUN_DIR may be set in the test environment; only check when it is not.
        if std::env::var_os("RVS_RUN_DIR").is_none() {
            assert_eq!(cli.run_dir, PathBuf::from("/run/rvs"));
        }
        let cli = parse(&[
            "--run-dir",
            "/tmp/x",
            "--format",
            "json",
            "--timeout",
            "3",
            "list-br",
        ])
        .unwrap();
        assert_eq!(cli.run_dir, PathBuf::from("/tmp/x"));
        assert_eq!(cli.format, OutputFormat::Json);
        assert_eq!(cli.timeout, 3);
        assert_eq!(cli.command, Command::ListBr);
        assert!(parse(&["--timeout", "0", "show"]).is_err());
        assert!(parse(&["--format", "yaml", "show"]).is_err());
    }

    #[test]
    fn bridge_verbs_map_to_requests() {
        assert_eq!(
            req_ok(&["add-br", "br0"]),
            Request::AddBridge {
                name: "br0".into(),
                settings: BridgeSettings::default(),
                may_exist: false,
            }
        );
        assert_eq!(
            req_ok(&[
                "add-br",
                "br0",
                "--may-exist",
                "--mac-aging",
                "60",
                "--mac-table-size",
                "100"
            ]),
            Request::AddBridge {
                name: "br0".into(),
                settings: BridgeSettings {
                    mac_aging_secs: Some(60),
                    mac_table_size: Some(100)
                },
                may_exist: true,
            }
        );
        assert_eq!(
            req_ok(&["del-br", "br0"]),
            Request::DelBridge {
                name: "br0".into(),
                if_exists: false
            }
        );
        assert_eq!(
            req_ok(&["del-br", "--if-exists", "br0"]),
            Request::DelBridge {
                name: "br0".into(),
                if_exists: true
            }
        );
        assert_eq!(
            req_ok(&["set-br", "br0", "--mac-aging", "900"]),
            Request::SetBridge {
                name: "br0".into(),
                settings: BridgeSettings {
                    mac_aging_secs: Some(900),
                    mac_table_size: None
                }
            }
        );
        assert_eq!(
            req_ok(&["set-br", "br0", "--mac-table-size", "1"]),
            Request::SetBridge {
                name: "br0".into(),
                settings: BridgeSettings {
                    mac_aging_secs: None,
                    mac_table_size: Some(1)
                }
            }
        );
        assert_eq!(req_ok(&["list-br"]), Request::ListBridges);
        assert_eq!(req_ok(&["show"]), Request::Show);
        assert_eq!(req_ok(&["version"]), Request::Ping);
        assert_eq!(
            req_ok(&["list-ports", "br0"]),
            Request::ListPorts {
                bridge: "br0".into()
            }
        );
        assert_eq!(
            req_ok(&["fdb-show", "br0"]),
            Request::FdbShow {
                bridge: "br0".into()
            }
        );
        assert_eq!(
            req_ok(&["fdb-flush", "br0"]),
            Request::FdbFlush {
                bridge: "br0".into()
            }
        );
        assert_eq!(
            req_ok(&["port-stats", "br0"]),
            Request::PortStats {
                bridge: "br0".into()
            }
        );
    }

    #[test]
    fn add_port_maps_to_request() {
        assert_eq!(
            req_ok(&["add-port", "br0", "veth-a"]),
            Request::AddPort {
                bridge: "br0".into(),
                name: "veth-a".into(),
                kind: PortKind::System,
                vlan: VlanSpec::default(),
                may_exist: false,
                peer: None,
                ofport: None,
                queues: None,
            }
        );
        assert_eq!(
            req_ok(&[
                "add-port",
                "br0",
                "tap1",
                "--type",
                "tap",
                "--tag",
                "10",
                "--may-exist"
            ]),
            Request::AddPort {
                bridge: "br0".into(),
                name: "tap1".into(),
                kind: PortKind::Tap,
                vlan: VlanSpec {
                    tag: Some(10),
                    trunks: vec![],
                    mode: None
                },
                may_exist: true,
                peer: None,
                ofport: None,
                queues: None,
            }
        );
        assert_eq!(
            req_ok(&[
                "add-port",
                "br0",
                "up0",
                "--type",
                "internal",
                "--tag",
                "5",
                "--trunks",
                "30,10-12,11",
                "--vlan-mode",
                "native-untagged"
            ]),
            Request::AddPort {
                bridge: "br0".into(),
                name: "up0".into(),
                kind: PortKind::Internal,
                vlan: VlanSpec {
                    tag: Some(5),
                    trunks: vec![10, 11, 12, 30],
                    mode: Some(VlanMode::NativeUntagged)
                },
                may_exist: false,
                peer: None,
                ofport: None,
                queues: None,
            }
        );
        assert_eq!(
            req_ok(&[
                "add-port",
                "br0",
                "t",
                "--trunks",
                "20",
                "--vlan-mode",
                "trunk"
            ]),
            Request::AddPort {
                bridge: "br0".into(),
                name: "t".into(),
                kind: PortKind::System,
                vlan: VlanSpec {
                    tag: None,
                    trunks: vec![20],
                    mode: Some(VlanMode::Trunk)
                },
                may_exist: false,
                peer: None,
                ofport: None,
                queues: None,
            }
        );
    }

    #[test]
    fn set_port_and_del_port_map_to_requests() {
        let set = |change| Request::SetPort {
            bridge: "br0".into(),
            name: "p1".into(),
            change,
        };
        assert_eq!(
            req_ok(&["set-port", "br0", "p1", "--tag", "20"]),
            set(PortVlanChange {
                tag: Some(Some(20)),
                trunks: None,
                vlan_mode: None
            })
        );
        assert_eq!(
            req_ok(&["set-port", "br0", "p1", "--no-trunks"]),
            set(PortVlanChange {
                tag: None,
                trunks: Some(vec![]),
                vlan_mode: None
            })
        );
        assert_eq!(
            req_ok(&[
                "set-port",
                "br0",
                "p1",
                "--trunks",
                "1-3",
                "--vlan-mode",
                "native-tagged"
            ]),
            set(PortVlanChange {
                tag: None,
                trunks: Some(vec![1, 2, 3]),
                vlan_mode: Some(Some(VlanMode::NativeTagged))
            })
        );
        assert_eq!(
            req_ok(&["del-port", "br0", "p1"]),
            Request::DelPort {
                bridge: "br0".into(),
                name: "p1".into(),
                if_exists: false
            }
        );
        assert_eq!(
            req_ok(&["del-port", "br0", "p1", "--if-exists"]),
            Request::DelPort {
                bridge: "br0".into(),
                name: "p1".into(),
                if_exists: true
            }
        );
    }

    /// Whether `change` comes back from JSON as it went in.
    fn survives_json(change: &PortVlanChange) -> bool {
        let s = serde_json::to_string(change).unwrap();
        serde_json::from_str::<PortVlanChange>(&s).unwrap() == *change
    }

    #[test]
    fn clearing_options_are_sent_exactly_or_refused() {
        // `--no-tag` / `--no-vlan-mode` must reach rvsd as "clear", never as "leave as is".
        let set = |change| Request::SetPort {
            bridge: "br0".into(),
            name: "p1".into(),
            change,
        };
        let no_tag = PortVlanChange {
            tag: Some(None),
            trunks: None,
            vlan_mode: None,
        };
        match req(&["set-port", "br0", "p1", "--no-tag"]) {
            Ok(r) => {
                assert!(
                    survives_json(&no_tag),
                    "sent a change the wire format loses"
                );
                assert_eq!(r, set(no_tag));
            }
            Err(e) => {
                assert!(
                    !survives_json(&no_tag),
                    "refused a change the wire format keeps: {e}"
                );
                assert!(e.starts_with("--no-tag cannot be sent: "), "{e}");
            }
        }
        let no_mode = PortVlanChange {
            tag: None,
            trunks: None,
            vlan_mode: Some(None),
        };
        match req(&["set-port", "br0", "p1", "--no-vlan-mode", "--trunks", "5"]) {
            Ok(r) => {
                assert!(survives_json(&no_mode));
                assert_eq!(
                    r,
                    set(PortVlanChange {
                        trunks: Some(vec![5]),
                        ..no_mode
                    })
                );
            }
            Err(e) => {
                assert!(!survives_json(&no_mode), "{e}");
                assert!(e.starts_with("--no-vlan-mode cannot be sent: "), "{e}");
            }
        }
        // Values and --no-trunks always survive.
        let full = PortVlanChange {
            tag: Some(Some(7)),
            trunks: Some(vec![]),
            vlan_mode: Some(Some(VlanMode::Trunk)),
        };
        assert_eq!(check_change_encodes(&full), Ok(()));
    }

    #[test]
    fn vlan_ids_are_checked() {
        assert_eq!(
            req_err(&["add-port", "br0", "p", "--tag", "0"]),
            "invalid VLAN 0: outside 1-4094"
        );
        assert_eq!(
            req_err(&["add-port", "br0", "p", "--tag", "4095"]),
            "invalid VLAN 4095: outside 1-4094"
        );
        assert_eq!(
            req_err(&["set-port", "br0", "p", "--tag", "5000"]),
            "invalid VLAN 5000: outside 1-4094"
        );
        assert_eq!(
            req_err(&["set-port", "br0", "p", "--tag", "99999"]),
            "invalid VLAN 99999: outside 1-4094"
        );
        assert_eq!(
            req_err(&["add-port", "br0", "p", "--tag", "abc"]),
            "invalid VLAN 'abc': not a number"
        );
        assert_eq!(parse_vid("1"), Ok(1));
        assert_eq!(parse_vid("4094"), Ok(4094));
        assert_eq!(parse_vid(" 7 "), Ok(7));
        assert!(parse_vid("-1").is_err());
        assert!(parse_vid("").is_err());
    }

    #[test]
    fn trunk_lists_are_checked() {
        assert_eq!(
            req_err(&["add-port", "br0", "p", "--trunks", "20-10"]),
            "invalid --trunks '20-10': range '20-10' runs backwards"
        );
        assert_eq!(
            req_err(&["set-port", "br0", "p", "--trunks", "10,4095"]),
            "invalid --trunks '10,4095': VLAN 4095 is outside 1-4094"
        );
        assert_eq!(
            req_err(&["add-port", "br0", "p", "--trunks", "10,x"]),
            "invalid --trunks '10,x': 'x' in '10,x' is not a VLAN number"
        );
        assert!(req_err(&["set-port", "br0", "p", "--trunks", ""]).contains("empty list"));
    }

    #[test]
    fn vlan_combinations_are_checked_for_add_port() {
        assert_eq!(
            req_err(&["add-port", "br0", "p", "--vlan-mode", "access"]),
            "vlan mode access needs a VLAN: give --tag VID"
        );
        assert_eq!(
            req_err(&["add-port", "br0", "p", "--tag", "5", "--trunks", "6"]),
            "--trunks cannot be used with vlan mode access"
        );
        assert!(
            req_err(&["add-port", "br0", "p", "--tag", "5", "--vlan-mode", "trunk"])
                .starts_with("--tag cannot be used with vlan mode trunk")
        );
        assert_eq!(
            req_err(&["add-port", "br0", "p", "--vlan-mode", "native-tagged"]),
            "vlan mode native-tagged needs a native VLAN: give --tag VID"
        );
    }

    #[test]
    fn names_are_checked() {
        let too_long = req_err(&["add-br", "bridge-name-too-long"]);
        assert_eq!(
            too_long,
            "invalid bridge name 'bridge-name-too-long': it is 20 bytes long \
             (Linux interface names are 1-15 bytes without '/', ':' or whitespace)"
        );
        assert!(req_err(&["add-br", ""]).starts_with("invalid bridge name '': it is empty"));
        assert!(
            req_err(&["del-br", "a/b"]).starts_with("invalid bridge name 'a/b': it contains '/'")
        );
        assert!(req_err(&["add-port", "br0", "a b"])
            .starts_with("invalid port name 'a b': it contains whitespace"));
        assert!(req_err(&["add-port", "br0", "eth0:1"])
            .starts_with("invalid port name 'eth0:1': it contains ':'"));
        assert!(req_err(&["add-port", "br0", ".."])
            .starts_with("invalid port name '..': '.' and '..' are reserved"));
        assert!(req_err(&["list-ports", "."]).starts_with("invalid bridge name '.'"));
        let nl = req_err(&["add-port", "br0", "a\nb"]);
        assert!(!nl.contains('\n'), "message must stay one line: {nl:?}");
        assert_eq!(validate_ifname("port", "123456789012345"), Ok(()));
        assert!(validate_ifname("port", "1234567890123456").is_err());
        // 15 bytes, but multi-byte characters count in bytes.
        assert!(validate_ifname("port", "ééééééééé").is_err());
    }

    #[test]
    fn bridge_settings_are_checked() {
        assert_eq!(
            req_err(&["add-br", "br0", "--mac-aging", "5"]),
            "invalid --mac-aging '5': must be a whole number 10-1000000 seconds"
        );
        assert!(req_err(&["add-br", "br0", "--mac-aging", "1000001"])
            .starts_with("invalid --mac-aging"));
        assert!(req_err(&["set-br", "br0", "--mac-aging", "abc"])
            .starts_with("invalid --mac-aging 'abc'"));
        assert_eq!(
            req_err(&["set-br", "br0", "--mac-table-size", "0"]),
            "invalid --mac-table-size '0': must be a whole number 1-1000000"
        );
        assert!(
            req_err(&["add-br", "br0", "--mac-table-size", "99999999999"])
                .starts_with("invalid --mac-table-size")
        );
        assert_eq!(parse_mac_aging("10"), Ok(10));
        assert_eq!(parse_mac_aging("1000000"), Ok(1_000_000));
        assert_eq!(parse_mac_table_size("1000000"), Ok(1_000_000));
    }

    #[test]
    fn set_commands_need_an_option() {
        assert_eq!(
            req_err(&["set-br", "br0"]),
            "set-br needs at least one of --mac-aging, --mac-table-size"
        );
        assert_eq!(
            req_err(&["set-port", "br0", "p1"]),
            "set-port needs at least one of --tag, --no-tag, --trunks, --no-trunks, --vlan-mode, --no-vlan-mode"
        );
    }

    #[test]
    fn conflicting_and_unknown_options_are_clap_errors() {
        for args in [
            &["set-port", "br0", "p1", "--tag", "10", "--no-tag"][..],
            &["set-port", "br0", "p1", "--trunks", "10", "--no-trunks"],
            &[
                "set-port",
                "br0",
                "p1",
                "--vlan-mode",
                "trunk",
                "--no-vlan-mode",
            ],
        ] {
            let err = parse(args).expect_err("conflict must be refused");
            assert_eq!(
                err.kind(),
                clap::error::ErrorKind::ArgumentConflict,
                "{args:?}"
            );
            assert_eq!(err.exit_code(), 2);
        }
        let err = parse(&["set-port", "br0", "p1", "--tag", "10", "--no-tag"]).unwrap_err();
        assert_eq!(
            clap_error_line(&err, Some("set-port")),
            "the argument '--tag <VID>' cannot be used with '--no-tag' (see 'rvs set-port --help')"
        );
        let err = parse(&["add-port", "br0", "p", "--type", "vxlan"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::InvalidValue);
        let line = clap_error_line(&err, Some("add-port"));
        assert!(!line.contains('\n'));
        assert!(
            line.starts_with("invalid value 'vxlan' for '--type <TYPE>'"),
            "{line}"
        );
        let err = parse(&["add-port", "br0"]).unwrap_err();
        let line = clap_error_line(&err, None);
        assert_eq!(
            line,
            "the following required arguments were not provided: <IFACE> (see 'rvs --help')"
        );
        assert!(parse(&["add-port", "br0", "p", "--vlan-mode", "bogus"]).is_err());
        assert!(parse(&["frobnicate"]).is_err());
    }

    #[test]
    fn change_verbs_are_classified() {
        assert!(is_change(&parse(&["add-br", "b"]).unwrap().command));
        assert!(is_change(&parse(&["fdb-flush", "b"]).unwrap().command));
        assert!(!is_change(&parse(&["fdb-show", "b"]).unwrap().command));
        assert!(!is_change(&parse(&["version"]).unwrap().command));
    }

    #[test]
    fn add_port_queues() {
        match req_ok(&["add-port", "br0", "t0", "--type", "tap", "--queues", "4"]) {
            Request::AddPort { kind, queues, .. } => {
                assert_eq!((kind, queues), (PortKind::Tap, Some(4)))
            }
            other => panic!("unexpected request {other:?}"),
        }
        match req_ok(&[
            "add-port", "br0", "i0", "--type", "internal", "--queues", "16",
        ]) {
            Request::AddPort { queues, .. } => assert_eq!(queues, Some(16)),
            other => panic!("unexpected request {other:?}"),
        }
        for bad in ["0", "17", "-1", "x"] {
            assert!(
                parse(&["add-port", "br0", "t0", "--type", "tap", "--queues", bad]).is_err(),
                "--queues {bad} must be refused"
            );
        }
        match req_ok(&["add-port", "br0", "veth0", "--queues", "2"]) {
            Request::AddPort { kind, queues, .. } => {
                assert_eq!((kind, queues), (PortKind::System, Some(2)))
            }
            other => panic!("{other:?}"),
        }
        for kind in ["afxdp", "patch"] {
            let mut args = vec!["add-port", "br0", "p0", "--type", kind, "--queues", "2"];
            if kind == "patch" {
                args.extend(["--peer", "p1"]);
            }
            let err = req_err(&args);
            assert!(err.contains("--queues applies only"), "{kind}: {err}");
        }
    }

    #[test]
    fn add_port_type_afxdp() {
        match req_ok(&["add-port", "br0", "veth0", "--type", "afxdp"]) {
            Request::AddPort { kind, .. } => assert_eq!(kind, PortKind::Afxdp),
            other => panic!("unexpected request {other:?}"),
        }
    }
}
