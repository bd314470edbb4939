//! [`OfSwitch`]: one bridge's OpenFlow 1.3 state machine.
//!
//! Synchronous and free of I/O apart from the optional [`FlowLog`]: the owner feeds it
//! decoded messages ([`OfSwitch::handle`]), datapath events ([`OfSwitch::packet_in`],
//! port changes) and clock ticks ([`OfSwitch::tick`]), and sends the [`Outgoing`]
//! messages it returns. Time is milliseconds on a monotonic clock the owner chooses,
//! so tests drive it with a synthetic clock.
//!
//! # Publishing to the datapath
//!
//! Every change marks the switch dirty; [`OfSwitch::flush`] hands the datapath a new
//! immutable [`OfSnapshot`] through [`DpControl::publish`]. Publishing is lazy (a burst
//! of flow-mods costs one snapshot) but `handle` flushes before answering a barrier,
//! before a packet-out and before every statistics reply. When `publish` returns only
//! once the datapath uses the snapshot, a barrier reply therefore means every earlier
//! change is in effect for packets arriving afterwards.
//!
//! # Connections and roles
//!
//! Each controller connection ([`ConnId`]) has a role (equal, master, slave) and an
//! asynchronous configuration. A new master demotes the previous one to slave;
//! generation ids older than the last one seen are refused with `OFPRRFC_STALE`. Slaves
//! get `OFPBRC_IS_SLAVE` for anything that changes state and, by default, no packet-ins
//! or flow-removed messages. Messages from a connection the switch was not told about
//! (for example the management API) are handled as from an equal connection.
//!
//! # Fail mode
//!
//! In `standalone` mode a new bridge gets `priority=0 actions=NORMAL` in table 0, and
//! the snapshot says `fail_open` when controllers are configured but none has been
//! connected for three probe intervals: the datapath then switches like a learning
//! bridge. In `secure` mode misses are dropped and flows are kept, whatever the
//! controllers do.
//!
//! # Persistence
//!
//! With a log attached ([`OfSwitch::with_log`]), every accepted flow-mod, group-mod and
//! meter-mod, every expiry and every port number is appended before the replies that
//! follow it are returned; see [`crate::persist`].

use crate::flowext::{actions_to_dp, GroupTable, MeterTable};
use crate::persist::{FlowLog, Record};
use rvs_api::FailMode;
use rvs_flow::classifier::{Credit, FlowTables, Millis, Removed};
use rvs_flow::pipeline::DpAction;
use rvs_openflow::action::Action;
use rvs_openflow::error::{
    BadActionCode, BadRequestCode, MeterModFailedCode, OfError, PortModFailedCode,
    QueueOpFailedCode, RoleRequestFailedCode, TableFeaturesFailedCode, TableModFailedCode,
};
use rvs_openflow::group::{GroupMod, OFPG_ANY};
use rvs_openflow::instruction::{instruction_type, OFPTT_ALL};
use rvs_openflow::message::{
    capabilities, AsyncConfig, ControllerRole, FlowRemovedReason, PacketIn, PacketInReason,
    PacketOut, Role, SwitchConfig, SwitchFeatures, TableMod, OFP_NO_BUFFER,
};
use rvs_openflow::meter::{MeterMod, MeterModCommand, OFPM_ALL};
use rvs_openflow::multipart::{
    Desc, MultipartReply, MultipartReplyBody, MultipartRequest, MultipartRequestBody, PortStats,
    TableFeatureProp, TableFeatures, DESC_STR_LEN, OFP_MAX_TABLE_NAME_LEN, SERIAL_NUM_LEN,
};
use rvs_openflow::oxm::{OxmFieldId, OxmId};
use rvs_openflow::port::{
    port_config, port_state, Port, PortMod, PortReason, PortStatus, OFP_MAX_PORT_NAME_LEN,
};
use rvs_openflow::{
    ActionId, FixedStr, FlowMod, FlowModCommand, Instruction, InstructionId, Match, Message,
    OxmField, PortNo,
};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Identifies one controller connection of a bridge.
pub type ConnId = u64;

/// A message for one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub to: ConnId,
    pub xid: u32,
    pub msg: Message,
}

/// A packet the datapath sends to the controllers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketInEvent {
    pub in_port: u32,
    pub reason: PacketInReason,
    pub table_id: u8,
    pub cookie: u64,
    /// Already truncated to the `max_len` of the action (or `miss_send_len`).
    pub frame: Vec<u8>,
    pub total_len: u16,
    pub metadata: u64,
    pub tunnel_id: u64,
}

/// What the datapath sees of the OpenFlow state: immutable, shared.
pub struct OfSnapshot {
    pub flows: Arc<FlowTables>,
    pub groups: Arc<GroupTable>,
    pub meters: Arc<MeterTable>,
    /// `(ofport, name, ofp_port_config bits)` of every port.
    pub ports: Vec<(u32, String, u32)>,
    /// Act as a learning switch (standalone mode, controllers unreachable).
    pub fail_open: bool,
    pub miss_send_len: u16,
    /// Increases with every publish.
    pub version: u64,
}

/// The datapath side, as the switch needs it.
pub trait DpControl {
    /// Makes `snap` the state packets are processed with. Should return once it is in
    /// effect (see the module docs on barriers).
    fn publish(&mut self, snap: Arc<OfSnapshot>);
    /// Runs `actions` on `frame` as if it had arrived on `in_port`.
    fn packet_out(
        &mut self,
        in_port: u32,
        actions: Vec<DpAction>,
        frame: Vec<u8>,
    ) -> Result<(), OfError>;
    /// Counters the fast paths gathered since the last call.
    fn collect(&mut self) -> Vec<Credit>;
    /// Counters of every port, by OpenFlow port number.
    fn port_stats(&mut self) -> Vec<PortStats>;
    /// Whether a port can forward (liveness for fast-failover groups).
    fn port_live(&self, ofport: u32) -> bool;
}

/// Description of a port as the datapath knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PortDesc {
    pub hw_addr: [u8; 6],
    pub link_up: bool,
    /// Current and maximum bit rate in kbps (0 when unknown).
    pub curr_speed: u32,
    pub max_speed: u32,
}

#[derive(Debug, Clone)]
struct PortEntry {
    name: String,
    desc: PortDesc,
    config: u32,
}

/// Why a port could not be added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortError {
    /// The name is already a port of this bridge.
    Exists(String),
    /// No OpenFlow port number is left.
    Exhausted,
}

impl std::fmt::Display for PortError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PortError::Exists(n) => write!(f, "port {n} already has an OpenFlow number"),
            PortError::Exhausted => f.write_str("no OpenFlow port number left"),
        }
    }
}

impl std::error::Error for PortError {}

/// Per-connection state.
#[derive(Debug, Clone)]
struct Conn {
    role: ControllerRole,
    async_cfg: AsyncConfig,
}

/// The async configuration a connection starts with (OpenFlow 1.3 defaults): masters
/// and equals get packet-ins for misses and actions, every port status and every
/// flow-removed; slaves get port status only.
pub const DEFAULT_ASYNC: AsyncConfig = AsyncConfig {
    packet_in_mask: [0b011, 0],
    port_status_mask: [0b111, 0b111],
    flow_removed_mask: [0b1111, 0],
};

/// Settings of a switch.
#[derive(Debug, Clone)]
pub struct OfSwitchOptions {
    /// Bridge name, shown as `dp_desc`.
    pub name: String,
    pub datapath_id: u64,
    pub fail_mode: FailMode,
    /// Inactivity probe interval of the controller connections; fail-open starts after
    /// three of them without a connection.
    pub probe_interval_ms: u64,
    /// Packet-ins per second for the whole bridge (token bucket), and the burst.
    pub packet_in_rate: u32,
    pub packet_in_burst: u32,
}

impl OfSwitchOptions {
    pub fn new(name: &str, datapath_id: u64) -> Self {
        OfSwitchOptions {
            name: name.to_string(),
            datapath_id,
            fail_mode: FailMode::Standalone,
            probe_interval_ms: 5000,
            packet_in_rate: 1000,
            packet_in_burst: 1000,
        }
    }
}

/// Counters for display.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SwitchCounters {
    pub packet_in_sent: u64,
    /// Packet-ins dropped by the rate limit.
    pub packet_in_dropped: u64,
    pub publishes: u64,
    /// Log writes that failed (the change was applied but may not survive a restart).
    pub log_errors: u64,
}

/// What replaying a log did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayReport {
    pub records: usize,
    /// Records that failed to apply (should be 0), with the error.
    pub failed: Vec<String>,
    /// Whether the log ended in a torn or corrupt record that was dropped.
    pub dropped_tail: bool,
}

/// Number of flow tables.
pub const N_TABLES: u8 = 254;
/// Most entries per flow table (`max_entries` in table features).
pub const MAX_FLOWS_PER_TABLE: u32 = 1_000_000;
/// Log size beyond which it is compacted: twice the live state plus this.
const COMPACT_SLACK: u64 = 1 << 20;
/// Stats replies cover ports by `ANY`.
const SUPPORTED_PORT_CONFIG: u32 =
    port_config::PORT_DOWN | port_config::NO_RECV | port_config::NO_FWD | port_config::NO_PACKET_IN;

/// One bridge's OpenFlow state machine.
pub struct OfSwitch {
    opts: OfSwitchOptions,
    flows: FlowTables,
    groups: GroupTable,
    meters: MeterTable,
    ports: BTreeMap<u32, PortEntry>,
    /// Persisted name → number map (ports present or remembered from a restart).
    numbers: HashMap<String, u32>,
    config: SwitchConfig,
    conns: BTreeMap<ConnId, Conn>,
    generation_id: Option<u64>,
    dirty: bool,
    version: u64,
    controllers_configured: bool,
    /// When a controller was last connected (or controllers were configured).
    last_connected_ms: Millis,
    fail_open: bool,
    tokens: f64,
    tokens_at: Millis,
    counters: SwitchCounters,
    log: Option<FlowLog>,
    /// Record size estimate for compaction (bytes per live object).
    avg_record: u64,
    now_ms: Millis,
}

fn err(code: impl Into<rvs_openflow::ErrorCode>, detail: &'static str) -> OfError {
    OfError::new(code, detail)
}

fn slave_err() -> OfError {
    err(BadRequestCode::IsSlave, "connection is a slave")
}

impl OfSwitch {
    /// A new bridge without persistence. In standalone mode table 0 gets
    /// `priority=0 actions=NORMAL`.
    pub fn new(opts: OfSwitchOptions, now_ms: Millis) -> Self {
        let mut s = Self::empty(opts, now_ms);
        s.install_default_flow(now_ms);
        s
    }

    fn empty(opts: OfSwitchOptions, now_ms: Millis) -> Self {
        let tokens = f64::from(opts.packet_in_burst);
        let mut flows = FlowTables::with_tables(usize::from(N_TABLES));
        flows.set_max_flows_per_table(MAX_FLOWS_PER_TABLE as usize);
        OfSwitch {
            flows,
            groups: GroupTable::new(),
            meters: MeterTable::new(),
            ports: BTreeMap::new(),
            numbers: HashMap::new(),
            config: SwitchConfig::default(),
            conns: BTreeMap::new(),
            generation_id: None,
            dirty: true,
            version: 0,
            controllers_configured: false,
            last_connected_ms: now_ms,
            fail_open: false,
            tokens,
            tokens_at: now_ms,
            counters: SwitchCounters::default(),
            log: None,
            avg_record: 128,
            now_ms,
            opts,
        }
    }

    fn install_default_flow(&mut self, now_ms: Millis) {
        if self.opts.fail_mode != FailMode::Standalone {
            return;
        }
        let fm = FlowMod::add(
            0,
            Match::new(),
            vec![Instruction::ApplyActions(vec![Action::output(
                PortNo::NORMAL,
            )])],
        );
        if self.flows.apply(&fm, now_ms).is_ok() {
            self.log_record(Record::FlowMod(fm));
            self.dirty = true;
        }
    }

    /// A bridge restored from `log` (or created, when the log is empty: then the
    /// standalone default flow is added and logged).
    pub fn with_log(
        opts: OfSwitchOptions,
        mut log: FlowLog,
        now_ms: Millis,
    ) -> (Self, ReplayReport) {
        let records = log.take_replay();
        let mut report = ReplayReport {
            records: records.len(),
            failed: Vec::new(),
            dropped_tail: log.dropped_tail().is_some(),
        };
        let fresh = log.is_empty();
        let mut s = Self::empty(opts, now_ms);
        for r in records {
            if let Err(e) = s.replay_one(r, now_ms) {
                report.failed.push(e);
            }
        }
        s.log = Some(log);
        if fresh {
            s.install_default_flow(now_ms);
            s.write_log(now_ms, true);
        }
        s.dirty = true;
        (s, report)
    }

    fn replay_one(&mut self, r: Record, now_ms: Millis) -> Result<(), String> {
        match r {
            Record::FlowMod(fm) => self
                .flows
                .apply(&fm, now_ms)
                .map(|_| ())
                .map_err(|e| format!("flow-mod: {e}")),
            Record::GroupMod(gm) => self
                .apply_group_mod(&gm, now_ms)
                .map(|_| ())
                .map_err(|e| format!("group-mod: {e}")),
            Record::MeterMod(mm) => self
                .apply_meter_mod(&mm, now_ms)
                .map(|_| ())
                .map_err(|e| format!("meter-mod: {e}")),
            Record::PortNumber { name, ofport } => {
                self.numbers.insert(name, ofport);
                Ok(())
            }
            Record::PortForget { name } => {
                self.numbers.remove(&name);
                Ok(())
            }
        }
    }

    // ---------------------------------------------------------------------------------
    // Accessors

    pub fn flows(&self) -> &FlowTables {
        &self.flows
    }
    pub fn groups(&self) -> &GroupTable {
        &self.groups
    }
    pub fn meters(&self) -> &MeterTable {
        &self.meters
    }
    pub fn datapath_id(&self) -> u64 {
        self.opts.datapath_id
    }
    pub fn set_datapath_id(&mut self, dpid: u64) {
        self.opts.datapath_id = dpid;
    }
    pub fn fail_mode(&self) -> FailMode {
        self.opts.fail_mode
    }
    pub fn set_fail_mode(&mut self, mode: FailMode) {
        self.opts.fail_mode = mode;
        self.update_fail_open(self.now_ms);
    }
    pub fn counters(&self) -> SwitchCounters {
        self.counters
    }
    pub fn switch_config(&self) -> SwitchConfig {
        self.config
    }
    pub fn fail_open(&self) -> bool {
        self.fail_open
    }
    pub fn log(&self) -> Option<&FlowLog> {
        self.log.as_ref()
    }
    /// `(ofport, name)` of the ports present.
    pub fn ports(&self) -> Vec<(u32, String)> {
        self.ports
            .iter()
            .map(|(n, p)| (*n, p.name.clone()))
            .collect()
    }
    /// The persisted name → OpenFlow number map, including remembered ports not
    /// currently present.
    pub fn port_numbers(&self) -> Vec<(String, u32)> {
        let mut v: Vec<_> = self.numbers.iter().map(|(k, v)| (k.clone(), *v)).collect();
        v.sort_by_key(|(_, n)| *n);
        v
    }
    pub fn ofport(&self, name: &str) -> Option<u32> {
        self.ports
            .iter()
            .find(|(_, p)| p.name == name)
            .map(|(n, _)| *n)
    }
    /// `ofp_port_config` bits of a port (PORT_DOWN, NO_RECV, NO_FWD, NO_PACKET_IN).
    pub fn port_config(&self, ofport: u32) -> Option<u32> {
        self.ports.get(&ofport).map(|p| p.config)
    }
    /// The role of a connection, `None` if unknown.
    pub fn role(&self, conn: ConnId) -> Option<ControllerRole> {
        self.conns.get(&conn).map(|c| c.role)
    }

    // ---------------------------------------------------------------------------------
    // Connections

    /// Registers a connection (after the hello exchange): role equal, default async
    /// configuration.
    pub fn conn_up(&mut self, conn: ConnId, now_ms: Millis) {
        self.conns.insert(
            conn,
            Conn {
                role: ControllerRole::Equal,
                async_cfg: DEFAULT_ASYNC,
            },
        );
        self.last_connected_ms = now_ms;
        self.update_fail_open(now_ms);
    }

    pub fn conn_down(&mut self, conn: ConnId, now_ms: Millis) {
        if self.conns.remove(&conn).is_some() {
            self.last_connected_ms = now_ms;
        }
        self.update_fail_open(now_ms);
    }

    /// Tells the switch whether controllers are configured (fail-open applies only
    /// then).
    pub fn set_controllers_configured(&mut self, yes: bool, now_ms: Millis) {
        if yes && !self.controllers_configured {
            self.last_connected_ms = now_ms;
        }
        self.controllers_configured = yes;
        self.update_fail_open(now_ms);
    }

    fn update_fail_open(&mut self, now_ms: Millis) {
        let open = self.opts.fail_mode == FailMode::Standalone
            && self.controllers_configured
            && self.conns.is_empty()
            && now_ms.saturating_sub(self.last_connected_ms)
                >= self.opts.probe_interval_ms.saturating_mul(3);
        if open != self.fail_open {
            self.fail_open = open;
            self.dirty = true;
        }
    }

    fn is_slave(&self, conn: ConnId) -> bool {
        self.conns
            .get(&conn)
            .is_some_and(|c| c.role == ControllerRole::Slave)
    }

    // ---------------------------------------------------------------------------------
    // Publishing and the log

    /// Publishes a snapshot if anything changed since the last one.
    pub fn flush(&mut self, dp: &mut dyn DpControl) {
        if !self.dirty {
            return;
        }
        self.dirty = false;
        self.version += 1;
        self.counters.publishes += 1;
        let snap = OfSnapshot {
            flows: self.flows.snapshot(),
            groups: Arc::new(self.groups.clone()),
            meters: Arc::new(self.meters.clone()),
            ports: self
                .ports
                .iter()
                .map(|(n, p)| (*n, p.name.clone(), p.config))
                .collect(),
            fail_open: self.fail_open,
            miss_send_len: self.config.miss_send_len,
            version: self.version,
        };
        dp.publish(Arc::new(snap));
    }

    fn log_message(&mut self, m: &Message) {
        if let Some(log) = &mut self.log {
            log.append_message(m);
        }
    }

    fn log_record(&mut self, r: Record) {
        if let Some(log) = &mut self.log {
            log.append(&r);
        }
    }

    /// Writes queued log records (one `write(2)`), syncing when `sync` or when due.
    fn write_log(&mut self, now_ms: Millis, sync: bool) {
        let Some(log) = &mut self.log else { return };
        let res = if sync {
            log.sync(now_ms)
        } else {
            log.sync_if_due(now_ms)
        };
        if let Err(e) = res {
            self.counters.log_errors += 1;
            tracing::error!("flow log {}: {e}", log.path().display());
        }
    }

    /// Ends a batch of messages: writes the log (one `write(2)`), syncs it when due and
    /// compacts it when it has grown too much. Call after handling the messages that
    /// were ready together.
    pub fn end_batch(&mut self, now_ms: Millis) {
        self.write_log(now_ms, false);
        self.compact_if_needed(now_ms);
    }

    fn live_objects(&self) -> u64 {
        (self.flows.len() + self.groups.len() + self.meters.len() + self.numbers.len()) as u64
    }

    fn compact_if_needed(&mut self, now_ms: Millis) {
        let Some(log) = &self.log else { return };
        let live = self.live_objects() * self.avg_record;
        if log.len() > 2 * live + COMPACT_SLACK {
            self.compact(now_ms);
        }
    }

    /// The current state as log records, in an order that replays.
    pub fn snapshot_records(&self) -> Vec<Record> {
        let mut out = Vec::with_capacity(self.live_objects() as usize);
        out.extend(self.meters.to_mods().into_iter().map(Record::MeterMod));
        out.extend(self.groups.to_mods().into_iter().map(Record::GroupMod));
        for t in 0..N_TABLES {
            let Some(table) = self.flows.table(t) else {
                continue;
            };
            let mut rules: Vec<_> = table.rules().collect();
            rules.sort_by_key(|r| r.seq());
            for r in rules {
                out.push(Record::FlowMod(FlowMod {
                    cookie: r.cookie,
                    cookie_mask: 0,
                    table_id: t,
                    command: FlowModCommand::Add,
                    idle_timeout: r.idle_timeout,
                    hard_timeout: r.hard_timeout,
                    priority: r.priority,
                    buffer_id: OFP_NO_BUFFER,
                    out_port: PortNo::ANY,
                    out_group: OFPG_ANY,
                    flags: r.flags,
                    match_: r.match_.clone(),
                    instructions: r.instructions.to_vec(),
                }));
            }
        }
        let mut numbers: Vec<_> = self.numbers.iter().collect();
        numbers.sort_by_key(|(_, n)| **n);
        out.extend(numbers.into_iter().map(|(name, n)| Record::PortNumber {
            name: name.clone(),
            ofport: *n,
        }));
        out
    }

    /// Rewrites the log as a snapshot of the current state.
    pub fn compact(&mut self, now_ms: Millis) {
        if self.log.is_none() {
            return;
        }
        let recs = self.snapshot_records();
        let Some(log) = &mut self.log else { return };
        let before = log.len();
        match log.rewrite(&recs) {
            Ok(()) => {
                let n = recs.len().max(1) as u64;
                self.avg_record = (log.len() / n).max(16);
                tracing::info!(
                    "flow log {}: compacted {} -> {} bytes",
                    log.path().display(),
                    before,
                    log.len()
                );
            }
            Err(e) => {
                self.counters.log_errors += 1;
                tracing::error!("flow log {}: compaction failed: {e}", log.path().display());
            }
        }
        let _ = now_ms;
    }

    // ---------------------------------------------------------------------------------
    // Ports

    /// Adds a port, giving it `ofport_request` when that number is free, else the
    /// number it had before (remembered across restarts), else the lowest free one.
    /// Returns the number and the port-status messages.
    pub fn port_added(
        &mut self,
        name: &str,
        ofport_request: Option<u32>,
        desc: PortDesc,
        now_ms: Millis,
    ) -> Result<(u32, Vec<Outgoing>), PortError> {
        if self.ports.values().any(|p| p.name == name) {
            return Err(PortError::Exists(name.to_string()));
        }
        let taken_by_other = |s: &Self, n: u32| {
            s.ports.contains_key(&n) || s.numbers.iter().any(|(k, v)| *v == n && k != name)
        };
        let valid = |n: u32| PortNo(n).is_standard();
        let ofport = match ofport_request {
            Some(n) if valid(n) && !self.ports.contains_key(&n) => n,
            _ => match self.numbers.get(name) {
                Some(&n) if valid(n) && !self.ports.contains_key(&n) => n,
                _ => {
                    let mut n = 1u32;
                    loop {
                        if !taken_by_other(self, n) {
                            break n;
                        }
                        if n >= PortNo::MAX.0 {
                            return Err(PortError::Exhausted);
                        }
                        n += 1;
                    }
                }
            },
        };
        // A request may take a number remembered for another (absent) port.
        self.numbers.retain(|k, v| *v != ofport || k == name);
        if self.numbers.get(name) != Some(&ofport) {
            self.numbers.insert(name.to_string(), ofport);
            self.log_record(Record::PortNumber {
                name: name.to_string(),
                ofport,
            });
        }
        self.ports.insert(
            ofport,
            PortEntry {
                name: name.to_string(),
                desc,
                config: 0,
            },
        );
        self.dirty = true;
        self.write_log(now_ms, false);
        let out = self.port_status(ofport, PortReason::Add);
        Ok((ofport, out))
    }

    /// Removes a port; its number becomes free.
    pub fn port_removed(&mut self, name: &str, now_ms: Millis) -> Vec<Outgoing> {
        let Some(n) = self.ofport(name) else {
            return Vec::new();
        };
        let out = self.port_status(n, PortReason::Delete);
        self.ports.remove(&n);
        if self.numbers.remove(name).is_some() {
            self.log_record(Record::PortForget {
                name: name.to_string(),
            });
        }
        self.dirty = true;
        self.write_log(now_ms, false);
        out
    }

    /// The datapath's view of a port changed (link, address, speed).
    pub fn port_changed(&mut self, name: &str, desc: PortDesc) -> Vec<Outgoing> {
        let Some(n) = self.ofport(name) else {
            return Vec::new();
        };
        if let Some(p) = self.ports.get_mut(&n) {
            if p.desc == desc {
                return Vec::new();
            }
            p.desc = desc;
        }
        self.port_status(n, PortReason::Modify)
    }

    fn port_struct(&self, n: u32, p: &PortEntry) -> Port {
        let mut state = 0;
        if !p.desc.link_up {
            state |= port_state::LINK_DOWN;
        } else if p.config & port_config::PORT_DOWN == 0 {
            state |= port_state::LIVE;
        }
        Port {
            port_no: PortNo(n),
            hw_addr: p.desc.hw_addr,
            name: FixedStr::new(&p.name, OFP_MAX_PORT_NAME_LEN),
            config: p.config,
            state,
            curr: 0,
            advertised: 0,
            supported: 0,
            peer: 0,
            curr_speed: p.desc.curr_speed,
            max_speed: p.desc.max_speed,
        }
    }

    fn port_status(&self, n: u32, reason: PortReason) -> Vec<Outgoing> {
        let Some(p) = self.ports.get(&n) else {
            return Vec::new();
        };
        let msg = Message::PortStatus(PortStatus {
            reason,
            desc: self.port_struct(n, p),
        });
        let bit = 1u32 << reason.to_u8();
        self.conns
            .iter()
            .filter(|(_, c)| c.async_cfg.port_status_mask[slave_idx(c.role)] & bit != 0)
            .map(|(id, _)| Outgoing {
                to: *id,
                xid: 0,
                msg: msg.clone(),
            })
            .collect()
    }

    // ---------------------------------------------------------------------------------
    // Asynchronous events

    /// A packet for the controllers: rate-limited, filtered by role and async config.
    pub fn packet_in(&mut self, ev: PacketInEvent, now_ms: Millis) -> Vec<Outgoing> {
        if self
            .ports
            .get(&ev.in_port)
            .is_some_and(|p| p.config & port_config::NO_PACKET_IN != 0)
        {
            return Vec::new();
        }
        let bit = 1u32 << ev.reason.to_u8().min(31);
        let targets: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| c.async_cfg.packet_in_mask[slave_idx(c.role)] & bit != 0)
            .map(|(id, _)| *id)
            .collect();
        if targets.is_empty() {
            return Vec::new();
        }
        if !self.take_token(now_ms) {
            self.counters.packet_in_dropped += 1;
            return Vec::new();
        }
        self.counters.packet_in_sent += 1;
        let mut m = Match::new().with(OxmField::InPort(PortNo(ev.in_port)));
        if ev.metadata != 0 {
            m = m.with(OxmField::Metadata(rvs_openflow::Masked::exact(ev.metadata)));
        }
        if ev.tunnel_id != 0 {
            m = m.with(OxmField::TunnelId(rvs_openflow::Masked::exact(
                ev.tunnel_id,
            )));
        }
        let msg = Message::PacketIn(PacketIn {
            buffer_id: OFP_NO_BUFFER,
            total_len: ev.total_len,
            reason: ev.reason,
            table_id: ev.table_id,
            cookie: ev.cookie,
            match_: m,
            data: ev.frame,
        });
        targets
            .into_iter()
            .map(|to| Outgoing {
                to,
                xid: 0,
                msg: msg.clone(),
            })
            .collect()
    }

    fn take_token(&mut self, now_ms: Millis) -> bool {
        let elapsed = now_ms.saturating_sub(self.tokens_at) as f64 / 1000.0;
        self.tokens_at = self.tokens_at.max(now_ms);
        self.tokens = (self.tokens + elapsed * f64::from(self.opts.packet_in_rate))
            .min(f64::from(self.opts.packet_in_burst.max(1)));
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Periodic work: collects counters, expires flows (flow-removed messages), updates
    /// fail-open, syncs and compacts the log, publishes when something changed.
    pub fn tick(&mut self, now_ms: Millis, dp: &mut dyn DpControl) -> Vec<Outgoing> {
        self.now_ms = now_ms;
        let credits = dp.collect();
        self.flows.apply_credits(&credits);
        let removed = self.flows.expire(now_ms);
        let mut out = Vec::new();
        if !removed.is_empty() {
            self.dirty = true;
        }
        for r in removed {
            self.log_record(Record::FlowMod(strict_delete_of(&r)));
            self.flow_removed(r, &mut out);
        }
        self.update_fail_open(now_ms);
        self.write_log(now_ms, false);
        self.compact_if_needed(now_ms);
        self.flush(dp);
        out
    }

    fn flow_removed(&self, r: Removed, out: &mut Vec<Outgoing>) {
        if !r.notify {
            return;
        }
        let bit = 1u32 << r.msg.reason.to_u8().min(31);
        let msg = Message::FlowRemoved(r.msg);
        for (id, c) in &self.conns {
            if c.async_cfg.flow_removed_mask[slave_idx(c.role)] & bit != 0 {
                out.push(Outgoing {
                    to: *id,
                    xid: 0,
                    msg: msg.clone(),
                });
            }
        }
    }

    // ---------------------------------------------------------------------------------
    // Messages

    /// Handles one message from `conn`. Errors are answered with `OFPT_ERROR` carrying
    /// the start of the request.
    pub fn handle(
        &mut self,
        conn: ConnId,
        xid: u32,
        msg: Message,
        now_ms: Millis,
        dp: &mut dyn DpControl,
    ) -> Vec<Outgoing> {
        self.now_ms = now_ms;
        let mut out = Vec::new();
        if let Err(e) = self.dispatch(conn, xid, &msg, now_ms, dp, &mut out) {
            tracing::debug!("conn {conn}: {} refused: {e}", msg_name(&msg));
            let offending = msg.encode(xid).unwrap_or_default();
            out.push(Outgoing {
                to: conn,
                xid,
                msg: Message::Error(e.to_error_msg(&offending)),
            });
        }
        if !out.is_empty() {
            // Replies must not overtake the changes they follow.
            self.write_log(now_ms, false);
        }
        out
    }

    fn reply(out: &mut Vec<Outgoing>, to: ConnId, xid: u32, msg: Message) {
        out.push(Outgoing { to, xid, msg });
    }

    fn dispatch(
        &mut self,
        conn: ConnId,
        xid: u32,
        msg: &Message,
        now_ms: Millis,
        dp: &mut dyn DpControl,
        out: &mut Vec<Outgoing>,
    ) -> Result<(), OfError> {
        let changes_state = matches!(
            msg,
            Message::SetConfig(_)
                | Message::FlowMod(_)
                | Message::GroupMod(_)
                | Message::PortMod(_)
                | Message::TableMod(_)
                | Message::PacketOut(_)
                | Message::MeterMod(_)
        );
        if changes_state && self.is_slave(conn) {
            return Err(slave_err());
        }
        match msg {
            Message::Hello(_) | Message::EchoReply(_) => {}
            Message::Error(e) => {
                tracing::info!("conn {conn}: controller sent error {}", e.code);
            }
            Message::EchoRequest(d) => Self::reply(out, conn, xid, Message::EchoReply(d.clone())),
            Message::Experimenter(_) => {
                return Err(err(
                    BadRequestCode::BadExperimenter,
                    "no experimenter messages",
                ))
            }
            Message::FeaturesRequest => Self::reply(
                out,
                conn,
                xid,
                Message::FeaturesReply(SwitchFeatures {
                    datapath_id: self.opts.datapath_id,
                    n_buffers: 0,
                    n_tables: N_TABLES,
                    auxiliary_id: 0,
                    capabilities: capabilities::FLOW_STATS
                        | capabilities::TABLE_STATS
                        | capabilities::PORT_STATS
                        | capabilities::GROUP_STATS,
                    reserved: 0,
                }),
            ),
            Message::GetConfigRequest => {
                Self::reply(out, conn, xid, Message::GetConfigReply(self.config))
            }
            Message::SetConfig(c) => {
                if self.config.miss_send_len != c.miss_send_len {
                    self.dirty = true;
                }
                self.config = *c;
            }
            Message::FlowMod(fm) => {
                if self.flow_mod(fm, now_ms, out)? {
                    self.log_message(msg);
                }
            }
            Message::GroupMod(gm) => {
                let removed = self.apply_group_mod(gm, now_ms)?;
                self.log_message(msg);
                for r in removed {
                    self.flow_removed(r, out);
                }
            }
            Message::MeterMod(mm) => {
                let removed = self.apply_meter_mod(mm, now_ms)?;
                self.log_message(msg);
                for r in removed {
                    self.flow_removed(r, out);
                }
            }
            Message::PortMod(pm) => {
                let st = self.port_mod(pm)?;
                out.extend(st);
            }
            Message::TableMod(tm) => self.table_mod(tm)?,
            Message::PacketOut(po) => self.packet_out(po, dp)?,
            Message::MultipartRequest(req) => self.multipart(conn, xid, req, now_ms, dp, out)?,
            Message::BarrierRequest => {
                self.write_log(now_ms, true);
                self.flush(dp);
                Self::reply(out, conn, xid, Message::BarrierReply);
            }
            Message::QueueGetConfigRequest(port) => {
                if *port != PortNo::ANY && !self.ports.contains_key(&port.0) {
                    return Err(err(QueueOpFailedCode::BadPort, "no such port"));
                }
                Self::reply(
                    out,
                    conn,
                    xid,
                    Message::QueueGetConfigReply(rvs_openflow::message::QueueGetConfigReply {
                        port: *port,
                        queues: Vec::new(),
                    }),
                );
            }
            Message::RoleRequest(r) => {
                let role = self.role_request(conn, r)?;
                Self::reply(out, conn, xid, Message::RoleReply(role));
            }
            Message::GetAsyncRequest => {
                let cfg = self.conns.get(&conn).map_or(DEFAULT_ASYNC, |c| c.async_cfg);
                Self::reply(out, conn, xid, Message::GetAsyncReply(cfg));
            }
            Message::SetAsync(cfg) => {
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.async_cfg = *cfg;
                }
            }
            Message::FeaturesReply(_)
            | Message::GetConfigReply(_)
            | Message::PacketIn(_)
            | Message::FlowRemoved(_)
            | Message::PortStatus(_)
            | Message::MultipartReply(_)
            | Message::BarrierReply
            | Message::QueueGetConfigReply(_)
            | Message::RoleReply(_)
            | Message::GetAsyncReply(_) => {
                return Err(err(BadRequestCode::BadType, "switch-to-controller message"))
            }
        }
        Ok(())
    }

    fn role_request(&mut self, conn: ConnId, r: &Role) -> Result<Role, OfError> {
        if r.role != ControllerRole::NoChange && !self.conns.contains_key(&conn) {
            return Err(err(
                RoleRequestFailedCode::Unsup,
                "roles need a controller connection",
            ));
        }
        if matches!(r.role, ControllerRole::Master | ControllerRole::Slave) {
            if let Some(cached) = self.generation_id {
                if (r.generation_id.wrapping_sub(cached) as i64) < 0 {
                    return Err(err(RoleRequestFailedCode::Stale, "stale generation_id"));
                }
            }
            self.generation_id = Some(r.generation_id);
        }
        let current = self
            .conns
            .get(&conn)
            .map_or(ControllerRole::Equal, |c| c.role);
        let new = if r.role == ControllerRole::NoChange {
            current
        } else {
            r.role
        };
        if r.role != ControllerRole::NoChange {
            if new == ControllerRole::Master {
                for (id, c) in self.conns.iter_mut() {
                    if *id != conn && c.role == ControllerRole::Master {
                        c.role = ControllerRole::Slave;
                    }
                }
            }
            if let Some(c) = self.conns.get_mut(&conn) {
                c.role = new;
            }
        }
        Ok(Role {
            role: new,
            generation_id: self.generation_id.unwrap_or(u64::MAX),
        })
    }

    /// Checks the switch state a flow's instructions refer to.
    fn check_refs(&self, insts: &[Instruction]) -> Result<(), OfError> {
        for i in insts {
            match i {
                Instruction::Meter(m) if self.meters.get(*m).is_none() => {
                    return Err(err(MeterModFailedCode::UnknownMeter, "no such meter"));
                }
                Instruction::ApplyActions(a) | Instruction::WriteActions(a) => {
                    self.check_actions(a)?
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn check_actions(&self, acts: &[Action]) -> Result<(), OfError> {
        for a in acts {
            if let Action::Group(g) = a {
                if self.groups.get(*g).is_none() {
                    return Err(err(BadActionCode::BadOutGroup, "no such group"));
                }
            }
        }
        Ok(())
    }

    /// Applies a flow-mod; `true` when it changed something (and must be logged).
    fn flow_mod(
        &mut self,
        fm: &FlowMod,
        now_ms: Millis,
        out: &mut Vec<Outgoing>,
    ) -> Result<bool, OfError> {
        if !fm.command.is_delete() {
            if fm.buffer_id != OFP_NO_BUFFER {
                return Err(err(
                    BadRequestCode::BufferUnknown,
                    "rvs does not buffer packets",
                ));
            }
            self.check_refs(&fm.instructions)?;
        }
        let applied = self.flows.apply(fm, now_ms)?;
        let changed = applied.count > 0 || fm.command == FlowModCommand::Add;
        if changed {
            self.dirty = true;
        }
        for r in applied.removed {
            self.flow_removed(r, out);
        }
        Ok(changed)
    }

    /// Deletes flows matching `pred` (over their instructions), with `reason`.
    fn delete_flows_where(
        &mut self,
        pred: impl Fn(&[Instruction]) -> bool,
        reason: FlowRemovedReason,
        now_ms: Millis,
    ) -> Vec<Removed> {
        let mut victims = Vec::new();
        for t in 0..N_TABLES {
            let Some(table) = self.flows.table(t) else {
                continue;
            };
            for r in table.rules() {
                if pred(&r.instructions) {
                    victims.push(FlowMod {
                        command: FlowModCommand::DeleteStrict,
                        table_id: t,
                        ..FlowMod::add(r.priority, r.match_.clone(), Vec::new())
                    });
                }
            }
        }
        let mut removed = Vec::new();
        for fm in victims {
            if let Ok(a) = self.flows.apply(&fm, now_ms) {
                removed.extend(a.removed.into_iter().map(|mut r| {
                    r.msg.reason = reason;
                    r
                }));
            }
        }
        if !removed.is_empty() {
            self.dirty = true;
        }
        removed
    }

    /// Applies a group-mod; deleted groups take the flows using them along.
    fn apply_group_mod(&mut self, gm: &GroupMod, now_ms: Millis) -> Result<Vec<Removed>, OfError> {
        let change = self.groups.apply(gm)?;
        self.dirty = true;
        if change.removed.is_empty() {
            return Ok(Vec::new());
        }
        let gone = change.removed;
        Ok(self.delete_flows_where(
            |insts| {
                insts.iter().any(|i| match i {
                    Instruction::ApplyActions(a) | Instruction::WriteActions(a) => a
                        .iter()
                        .any(|a| matches!(a, Action::Group(g) if gone.contains(g))),
                    _ => false,
                })
            },
            FlowRemovedReason::GroupDelete,
            now_ms,
        ))
    }

    /// Applies a meter-mod; a deleted meter takes the flows using it along.
    fn apply_meter_mod(&mut self, mm: &MeterMod, now_ms: Millis) -> Result<Vec<Removed>, OfError> {
        let gone: Vec<u32> = if mm.command == MeterModCommand::Delete {
            if mm.meter_id == OFPM_ALL {
                self.meters
                    .config(OFPM_ALL)
                    .iter()
                    .map(|c| c.meter_id)
                    .collect()
            } else {
                vec![mm.meter_id]
            }
        } else {
            Vec::new()
        };
        self.meters.apply(mm, now_ms.saturating_mul(1_000_000))?;
        self.dirty = true;
        if gone.is_empty() {
            return Ok(Vec::new());
        }
        Ok(self.delete_flows_where(
            |insts| {
                insts
                    .iter()
                    .any(|i| matches!(i, Instruction::Meter(m) if gone.contains(m)))
            },
            FlowRemovedReason::Delete,
            now_ms,
        ))
    }

    fn port_mod(&mut self, pm: &PortMod) -> Result<Vec<Outgoing>, OfError> {
        let n = pm.port_no.0;
        let Some(p) = self.ports.get_mut(&n) else {
            return Err(err(PortModFailedCode::BadPort, "no such port"));
        };
        if pm.hw_addr != p.desc.hw_addr {
            return Err(err(PortModFailedCode::BadHwAddr, "hw_addr differs"));
        }
        if pm.mask & !SUPPORTED_PORT_CONFIG != 0 {
            return Err(err(PortModFailedCode::BadConfig, "unsupported config bit"));
        }
        if pm.advertise != 0 {
            return Err(err(
                PortModFailedCode::BadAdvertise,
                "port features are not configurable",
            ));
        }
        let new = (p.config & !pm.mask) | (pm.config & pm.mask);
        if new == p.config {
            return Ok(Vec::new());
        }
        p.config = new;
        self.dirty = true;
        Ok(self.port_status(n, PortReason::Modify))
    }

    fn table_mod(&mut self, tm: &TableMod) -> Result<(), OfError> {
        if tm.table_id != OFPTT_ALL && tm.table_id >= N_TABLES {
            return Err(err(TableModFailedCode::BadTable, "no such table"));
        }
        // OpenFlow 1.3 defines no table configuration beyond the deprecated bits.
        if tm.config & !3 != 0 {
            return Err(err(TableModFailedCode::BadConfig, "unknown table config"));
        }
        Ok(())
    }

    fn packet_out(&mut self, po: &PacketOut, dp: &mut dyn DpControl) -> Result<(), OfError> {
        if po.buffer_id != OFP_NO_BUFFER {
            return Err(err(
                BadRequestCode::BufferUnknown,
                "rvs does not buffer packets",
            ));
        }
        if po.data.is_empty() {
            return Err(err(BadRequestCode::BadPacket, "packet-out without data"));
        }
        if po.in_port.is_standard() && !self.ports.contains_key(&po.in_port.0) {
            return Err(err(BadRequestCode::BadPort, "packet-out in_port"));
        }
        self.check_actions(&po.actions)?;
        for a in &po.actions {
            if let Action::Output { port, .. } = a {
                if *port == PortNo::IN_PORT && !po.in_port.is_standard() {
                    return Err(err(BadActionCode::BadOutPort, "IN_PORT without an in_port"));
                }
            }
        }
        self.flush(dp);
        let in_port = if po.in_port == PortNo::ANY {
            PortNo::CONTROLLER.0
        } else {
            po.in_port.0
        };
        dp.packet_out(in_port, actions_to_dp(&po.actions), po.data.clone())
    }

    // ---------------------------------------------------------------------------------
    // Multipart

    fn multipart(
        &mut self,
        conn: ConnId,
        xid: u32,
        req: &MultipartRequest,
        now_ms: Millis,
        dp: &mut dyn DpControl,
        out: &mut Vec<Outgoing>,
    ) -> Result<(), OfError> {
        use MultipartReplyBody as B;
        use MultipartRequestBody as Q;
        if matches!(&req.body, Q::Flow(_) | Q::Aggregate(_) | Q::Table) {
            let credits = dp.collect();
            self.flows.apply_credits(&credits);
        }
        self.flush(dp);
        let body = match &req.body {
            Q::Desc => B::Desc(Desc {
                mfr_desc: FixedStr::new("rvs", DESC_STR_LEN),
                hw_desc: FixedStr::new("rvs virtual switch", DESC_STR_LEN),
                sw_desc: FixedStr::new(concat!("rvs ", env!("CARGO_PKG_VERSION")), DESC_STR_LEN),
                serial_num: FixedStr::new("None", SERIAL_NUM_LEN),
                dp_desc: FixedStr::new(&self.opts.name, DESC_STR_LEN),
            }),
            Q::Flow(r) => B::Flow(self.flows.flow_stats(r, now_ms)?),
            Q::Aggregate(r) => B::Aggregate(self.flows.aggregate_stats(r, now_ms)?),
            Q::Table => B::Table(self.flows.table_stats()),
            Q::PortStats(p) => {
                if *p != PortNo::ANY && !self.ports.contains_key(&p.0) {
                    return Err(err(BadRequestCode::BadPort, "no such port"));
                }
                let mut stats = dp.port_stats();
                stats.retain(|s| {
                    self.ports.contains_key(&s.port_no.0) && (*p == PortNo::ANY || s.port_no == *p)
                });
                stats.sort_by_key(|s| s.port_no);
                B::PortStats(stats)
            }
            Q::Queue { port_no, queue_id } => {
                if *port_no != PortNo::ANY && !self.ports.contains_key(&port_no.0) {
                    return Err(err(QueueOpFailedCode::BadPort, "no such port"));
                }
                if *queue_id != rvs_openflow::multipart::OFPQ_ALL {
                    return Err(err(QueueOpFailedCode::BadQueue, "rvs has no queues"));
                }
                B::Queue(Vec::new())
            }
            Q::Group(id) => {
                let refs = self.ref_counts_groups();
                B::Group(
                    self.groups
                        .stats(*id, &|g| refs.get(&g).copied().unwrap_or(0)),
                )
            }
            Q::GroupDesc => B::GroupDesc(self.groups.desc()),
            Q::GroupFeatures => B::GroupFeatures(GroupTable::features()),
            Q::Meter(id) => {
                let refs = self.ref_counts_meters();
                B::Meter(self.meters.stats(
                    *id,
                    &|m| refs.get(&m).copied().unwrap_or(0),
                    now_ms.saturating_mul(1_000_000),
                ))
            }
            Q::MeterConfig(id) => B::MeterConfig(self.meters.config(*id)),
            Q::MeterFeatures => B::MeterFeatures(MeterTable::features()),
            Q::TableFeatures(set) => {
                if !set.is_empty() {
                    if self.is_slave(conn) {
                        return Err(slave_err());
                    }
                    return Err(err(
                        TableFeaturesFailedCode::Eperm,
                        "the rvs pipeline is fixed",
                    ));
                }
                B::TableFeatures(table_features())
            }
            Q::PortDesc => B::PortDesc(
                self.ports
                    .iter()
                    .map(|(n, p)| self.port_struct(*n, p))
                    .collect(),
            ),
            Q::Experimenter { .. } => {
                return Err(err(
                    BadRequestCode::BadExperimenter,
                    "no experimenter multipart",
                ))
            }
        };
        for msg in split_reply(MultipartReply::new(body), xid) {
            Self::reply(out, conn, xid, msg);
        }
        Ok(())
    }

    fn ref_counts_groups(&self) -> HashMap<u32, u32> {
        let mut m = HashMap::new();
        self.for_each_instruction(|i| {
            if let Instruction::ApplyActions(a) | Instruction::WriteActions(a) = i {
                for a in a {
                    if let Action::Group(g) = a {
                        *m.entry(*g).or_insert(0) += 1;
                    }
                }
            }
        });
        m
    }

    fn ref_counts_meters(&self) -> HashMap<u32, u32> {
        let mut m = HashMap::new();
        self.for_each_instruction(|i| {
            if let Instruction::Meter(id) = i {
                *m.entry(*id).or_insert(0) += 1;
            }
        });
        m
    }

    fn for_each_instruction(&self, mut f: impl FnMut(&Instruction)) {
        for t in 0..N_TABLES {
            if let Some(table) = self.flows.table(t) {
                for r in table.rules() {
                    r.instructions.iter().for_each(&mut f);
                }
            }
        }
    }
}

fn slave_idx(role: ControllerRole) -> usize {
    usize::from(role == ControllerRole::Slave)
}

fn msg_name(m: &Message) -> &'static str {
    rvs_openflow::header::msg_type::name(m.msg_type())
}

/// The strict delete that removes exactly the flow `r` describes (for the log).
fn strict_delete_of(r: &Removed) -> FlowMod {
    FlowMod {
        command: FlowModCommand::DeleteStrict,
        table_id: r.msg.table_id,
        ..FlowMod::add(r.msg.priority, r.msg.match_.clone(), Vec::new())
    }
}

/// Splits a reply into messages of at most 64 KiB, all but the last flagged
/// `OFPMPF_REPLY_MORE`.
pub fn split_reply(reply: MultipartReply, xid: u32) -> Vec<Message> {
    match reply.encode_split(xid) {
        Ok(parts) if parts.len() == 1 => vec![Message::MultipartReply(reply)],
        Ok(parts) => parts
            .iter()
            .filter_map(|p| Message::decode(p).ok().map(|(_, m)| m))
            .collect(),
        Err(e) => {
            tracing::error!("multipart reply cannot be encoded: {e}");
            vec![Message::Error(
                OfError::new(BadRequestCode::BadLen, "reply too long").to_error_msg(&[]),
            )]
        }
    }
}

use rvs_flow::group::SUPPORTED_ACTIONS;

fn matchable(id: OxmFieldId) -> bool {
    !matches!(
        id,
        OxmFieldId::InPhyPort | OxmFieldId::PbbIsid | OxmFieldId::Ipv6Exthdr
    )
}

/// What every table can do: the real capabilities of the classifier and pipeline.
pub fn table_features() -> Vec<TableFeatures> {
    let fields: Vec<OxmFieldId> = (0..=u8::MAX)
        .filter_map(OxmFieldId::from_u8)
        .filter(|f| matchable(*f))
        .collect();
    let match_ids: Vec<OxmId> = fields.iter().map(|f| OxmId::basic(*f)).collect();
    let wild_ids = match_ids.clone();
    let set_ids: Vec<OxmId> = fields
        .iter()
        .filter(|f| **f != OxmFieldId::InPort)
        .map(|f| OxmId::basic(*f))
        .collect();
    let actions: Vec<ActionId> = SUPPORTED_ACTIONS
        .iter()
        .map(|t| ActionId::new(*t))
        .collect();
    let insts_all: Vec<InstructionId> = [
        instruction_type::GOTO_TABLE,
        instruction_type::WRITE_METADATA,
        instruction_type::WRITE_ACTIONS,
        instruction_type::APPLY_ACTIONS,
        instruction_type::CLEAR_ACTIONS,
        instruction_type::METER,
    ]
    .iter()
    .map(|t| InstructionId::new(*t))
    .collect();
    (0..N_TABLES)
        .map(|t| {
            let last = t + 1 == N_TABLES;
            let insts: Vec<InstructionId> = insts_all
                .iter()
                .filter(|i| !(last && i.instruction_type == instruction_type::GOTO_TABLE))
                .cloned()
                .collect();
            let next: Vec<u8> = (t + 1..N_TABLES).collect();
            let mut props = Vec::new();
            for miss in [false, true] {
                props.push(TableFeatureProp::Instructions {
                    miss,
                    ids: insts.clone(),
                });
                props.push(TableFeatureProp::NextTables {
                    miss,
                    tables: next.clone(),
                });
                props.push(TableFeatureProp::WriteActions {
                    miss,
                    ids: actions.clone(),
                });
                props.push(TableFeatureProp::ApplyActions {
                    miss,
                    ids: actions.clone(),
                });
            }
            props.push(TableFeatureProp::Match(match_ids.clone()));
            props.push(TableFeatureProp::Wildcards(wild_ids.clone()));
            for miss in [false, true] {
                props.push(TableFeatureProp::WriteSetfield {
                    miss,
                    ids: set_ids.clone(),
                });
                props.push(TableFeatureProp::ApplySetfield {
                    miss,
                    ids: set_ids.clone(),
                });
            }
            TableFeatures {
                table_id: t,
                name: FixedStr::new(&format!("table{t}"), OFP_MAX_TABLE_NAME_LEN),
                metadata_match: u64::MAX,
                metadata_write: u64::MAX,
                config: 0,
                max_entries: MAX_FLOWS_PER_TABLE,
                properties: props,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
