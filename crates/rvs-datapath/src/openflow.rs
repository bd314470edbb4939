//! OpenFlow bridges in the datapath: the fast path over each receive batch, then the
//! datapath actions executed on each packet.
//!
//! ```text
//!  RxBatch ─► extract FlowKey (in_port = OpenFlow port number)
//!          ─► FastPath::process_batch (EMC → megaflow → pipeline over the published tables)
//!          ─► per packet: run the DpAction list
//!               output/in_port/flood/all/local ─► transmit queues (zero copy: receive slot)
//!               normal ─► the bridge's L2 switch (VLANs, learning) for this frame
//!               set-field/push/pop/ttl ─► a rewritten copy (OwnedFrames), later outputs send it
//!               group ─► buckets chosen per packet (select: 5-tuple hash; ff: liveness)
//!               meter ─► token buckets shared by all threads (atomics)
//!               controller ─► packet-in queued to the control plane
//! ```
//!
//! The control plane owns the master flow tables, groups and meters and publishes a
//! read-only [`OfConfig`] snapshot; the worker swaps it in between batches, so a packet
//! sees either the old or the new tables, never a mix. The [`FastPath`] is kept across
//! snapshots: its megaflows carry the generation they were validated at and are
//! revalidated lazily (see `rvs_flow::cache`). Flow counters flow back as credits that the
//! control plane collects ([`crate::Datapath::of_collect`]).
//!
//! A header action never changes the receive buffer: the first one copies the frame into a
//! per-batch owned buffer (copy on write), so outputs queued before it still send the frame
//! as received. Frames already queued for output are never changed afterwards either.
//! Group buckets each start from the packet as it entered the group.

use crate::bridge::{Bridge, PortRuntime, TagEdit, TxDesc};
use crate::counters::DropReason;
use crate::datapath::BridgeId;
use crate::mac_table::{MacLock, Millis};
use crate::offload;
use crate::packet::{FrameRef, OwnedFrames, RxBatch, OWNED_BIT};
use crate::PortId;
use rvs_flow::cache::{Config as FastPathConfig, FastPath};
use rvs_flow::classifier::{Credit, FlowTables};
use rvs_flow::group::GroupTable;
use rvs_flow::meter::{MeterTable, MeterVerdict};
use rvs_flow::pipeline::DpAction;
use rvs_flow::{extract, FlowKey};
use rvs_openflow::message::PacketInReason;
use rvs_wire::vlan::TAGGED_HEADER_LEN;
use rvs_wire::ETHERNET_HEADER_LEN;
use std::sync::Arc;

/// `OFPPC_PORT_DOWN`, `OFPPC_NO_RECV`, `OFPPC_NO_FWD`, `OFPPC_NO_PACKET_IN`.
pub mod port_config {
    pub const PORT_DOWN: u32 = 1 << 0;
    pub const NO_RECV: u32 = 1 << 2;
    pub const NO_FWD: u32 = 1 << 5;
    pub const NO_PACKET_IN: u32 = 1 << 6;
}

/// `OFPP_TABLE` as an output port (packet-out only: run the packet through the tables).
pub const OFPP_TABLE: u32 = 0xffff_fff9;
/// `OFPP_CONTROLLER`: a packet-out's in_port when the packet comes from the controller.
pub const OFPP_CONTROLLER: u32 = 0xffff_fffd;
/// `OFPP_LOCAL`.
pub const OFPP_LOCAL: u32 = 0xffff_fffe;

/// Deepest chain of groups (a group whose bucket outputs to a group ...) executed.
const MAX_GROUP_DEPTH: u8 = 8;

/// One port as the OpenFlow tables see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OfPort {
    pub ofport: u32,
    pub port: PortId,
    /// `OFPPC_*` bits set by port-mod.
    pub config: u32,
}

/// What the control plane publishes for one bridge: read-only, swapped whole.
#[derive(Clone)]
pub struct OfConfig {
    pub flows: Arc<FlowTables>,
    pub groups: Arc<GroupTable>,
    pub meters: Arc<MeterTable>,
    pub ports: Vec<OfPort>,
    /// The port OFPP_LOCAL stands for (the bridge's internal port, if it has one).
    pub local: Option<PortId>,
    /// No controller has been reachable for a while in fail-mode standalone: act as a plain
    /// learning switch, ignoring the flow tables.
    pub fail_open: bool,
    /// Counts publications, for tests and `rvs of-show`.
    pub version: u64,
}

/// A packet for the controller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketIn {
    pub bridge: BridgeId,
    pub in_port: u32,
    pub reason: PacketInReason,
    pub table_id: u8,
    pub cookie: u64,
    /// The frame as it was when the action ran, cut to the action's `max_len`.
    pub frame: Vec<u8>,
    pub total_len: usize,
    pub metadata: u64,
    pub tunnel_id: u64,
}

/// Where packet-ins go; returns false when the packet-in was dropped (queue full).
pub type PacketInSink = Box<dyn FnMut(PacketIn) -> bool + Send>;

/// Datapath-side OpenFlow state of one bridge.
pub struct OfBridge {
    pub(crate) cfg: Arc<OfConfig>,
    pub(crate) fast: FastPath,
    maps: PortMaps,
}

/// PortId ↔ OpenFlow port number, built from each published [`OfConfig`].
#[derive(Default)]
struct PortMaps {
    /// By PortId: (ofport, config); ofport 0 = not an OpenFlow port.
    by_port: Vec<(u32, u32)>,
    /// Sorted by ofport.
    by_ofport: Vec<(u32, PortId)>,
    local: Option<PortId>,
}

impl PortMaps {
    fn build(cfg: &OfConfig) -> Self {
        let mut m = PortMaps {
            local: cfg.local,
            ..Default::default()
        };
        for p in &cfg.ports {
            let i = p.port as usize;
            if m.by_port.len() <= i {
                m.by_port.resize(i + 1, (0, 0));
            }
            m.by_port[i] = (p.ofport, p.config);
            m.by_ofport.push((p.ofport, p.port));
        }
        m.by_ofport.sort_unstable();
        m
    }

    #[inline]
    fn ofport(&self, p: PortId) -> u32 {
        self.by_port.get(p as usize).map_or(0, |x| x.0)
    }

    #[inline]
    fn config(&self, p: PortId) -> u32 {
        self.by_port.get(p as usize).map_or(0, |x| x.1)
    }

    #[inline]
    fn port(&self, ofport: u32) -> Option<PortId> {
        if ofport == OFPP_LOCAL {
            return self.local;
        }
        self.by_ofport
            .binary_search_by_key(&ofport, |x| x.0)
            .ok()
            .and_then(|i| self.by_ofport.get(i))
            .map(|x| x.1)
    }
}

impl OfBridge {
    pub fn new(cfg: Arc<OfConfig>) -> Self {
        let maps = PortMaps::build(&cfg);
        OfBridge {
            cfg,
            fast: FastPath::new(FastPathConfig::default()),
            maps,
        }
    }

    /// Swaps in newly published tables (the fast path keeps what is still valid).
    pub fn publish(&mut self, cfg: Arc<OfConfig>) {
        self.maps = PortMaps::build(&cfg);
        self.cfg = cfg;
    }

    pub fn config(&self) -> &Arc<OfConfig> {
        &self.cfg
    }

    pub fn fast_path(&self) -> &FastPath {
        &self.fast
    }

    /// Flow counters not yet reported.
    pub fn take_credits(&mut self) -> Vec<Credit> {
        self.fast.take_credits()
    }

    pub fn fail_open(&self) -> bool {
        self.cfg.fail_open
    }
}

/// Monotonic nanoseconds (the meters' clock; the control plane uses the same one).
pub fn mono_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the struct we pass.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64).saturating_mul(1_000_000_000) + ts.tv_nsec as u64
}

/// Monotonic milliseconds: the clock of flow timeouts, MAC aging and megaflow idle times,
/// shared by the worker and the control plane.
pub fn mono_ms() -> Millis {
    mono_ns() / 1_000_000
}

/// Everything the action executor writes to.
pub(crate) struct Exec<'a> {
    pub bridge_id: BridgeId,
    pub rt: &'a mut [PortRuntime],
    pub dirty: &'a mut Vec<PortId>,
    pub owned: &'a mut OwnedFrames,
    pub rx: &'a RxBatch,
    pub sink: &'a mut Option<PacketInSink>,
    pub now: Millis,
    pub now_ns: u64,
    /// Ports that are attached and up (for fast-failover liveness), by PortId.
    pub live: &'a [bool],
    /// Bucket lists for group execution, one per chaining depth (kept between batches).
    pub buckets: &'a mut Vec<Vec<usize>>,
}

/// The packet being worked on: a receive slot as received, or a rewritten copy.
#[derive(Clone, Copy)]
struct Cur {
    /// Slot number as the transmit queues know it (`OWNED_BIT` set for copies).
    id: u16,
    /// Whether this copy may still be changed in place (not yet queued anywhere).
    private: bool,
}

fn frame_of<'a>(rx: &'a RxBatch, owned: &'a OwnedFrames, cur: Cur) -> Option<FrameRef<'a>> {
    if cur.id & OWNED_BIT != 0 {
        owned.get(cur.id & !OWNED_BIT)
    } else {
        rx.get(usize::from(cur.id)).map(|s| s.as_frame())
    }
}

impl Exec<'_> {
    fn frame(&self, cur: Cur) -> Option<FrameRef<'_>> {
        frame_of(self.rx, self.owned, cur)
    }

    /// A copy of the current frame that may be changed.
    fn writable(&mut self, cur: &mut Cur) -> Result<(), DropReason> {
        if cur.private {
            return Ok(());
        }
        let idx = if cur.id & OWNED_BIT != 0 {
            self.owned.dup(cur.id & !OWNED_BIT)
        } else {
            match self.rx.get(usize::from(cur.id)) {
                Some(s) => self.owned.push(s.as_frame()),
                None => None,
            }
        };
        let idx = idx.ok_or(DropReason::RewriteOverflow)?;
        *cur = Cur {
            id: idx | OWNED_BIT,
            private: true,
        };
        Ok(())
    }

    fn count_drop(&mut self, port: PortId, reason: DropReason) {
        if let Some(rt) = self.rt.get_mut(port as usize) {
            rt.counters.drop(reason);
        }
    }

    /// Queues the current frame on `out` as it is.
    fn emit(&mut self, bridge: &Bridge, out: PortId, cur: &mut Cur, maps: &PortMaps) {
        if maps.config(out) & (port_config::NO_FWD | port_config::PORT_DOWN) != 0 {
            return;
        }
        let Some(m) = bridge.member_of(out) else {
            return;
        };
        let mtu = m.mtu;
        let too_big = match self.frame(*cur) {
            Some(f) => payload_len(f) > mtu,
            None => return,
        };
        let Some(rt) = self.rt.get_mut(out as usize) else {
            return;
        };
        if too_big {
            rt.counters.drop(DropReason::TxTooBig);
            return;
        }
        if rt.txq.is_empty() {
            self.dirty.push(out);
        }
        rt.txq.push(TxDesc {
            slot: cur.id,
            edit: TagEdit::AsIs,
        });
        cur.private = false;
    }
}

/// Bytes after the Ethernet (and VLAN) header that must fit the MTU: the frame's, or
/// each segment's for a GSO frame.
fn payload_len(f: FrameRef<'_>) -> usize {
    let hdr = match f.data.get(12..14) {
        Some([0x81, 0x00]) => TAGGED_HEADER_LEN,
        _ => ETHERNET_HEADER_LEN,
    };
    let on_wire = if f.vnet.needs_offload() {
        match offload::check_rx(f.data, &f.vnet) {
            Ok(Some(gso)) => gso.segment_frame_len().min(f.wire_len),
            _ => f.wire_len,
        }
    } else {
        f.wire_len
    };
    on_wire.saturating_sub(hdr)
}

/// Per-packet inputs of the executor.
pub(crate) struct Pkt<'k> {
    pub in_port: PortId,
    pub in_ofport: u32,
    pub key: &'k FlowKey,
}

/// Runs `actions` on one packet. Returns whether anything was sent or handed on.
#[allow(clippy::too_many_arguments)]
pub(crate) fn execute(
    ex: &mut Exec<'_>,
    bridge: &mut Bridge,
    mac: &mut MacLock<'_>,
    cfg: &OfConfig,
    maps_of: &OfBridgeMaps<'_>,
    pkt: &Pkt<'_>,
    slot: u16,
    actions: &[DpAction],
) -> Result<(), DropReason> {
    let mut cur = Cur {
        id: slot,
        private: false,
    };
    run(ex, bridge, mac, cfg, maps_of.0, pkt, &mut cur, actions, 0)
}

/// Borrowed port maps (keeps `PortMaps` private to this module).
pub(crate) struct OfBridgeMaps<'a>(&'a PortMaps);

#[allow(clippy::too_many_arguments)]
fn run(
    ex: &mut Exec<'_>,
    bridge: &mut Bridge,
    mac: &mut MacLock<'_>,
    cfg: &OfConfig,
    maps: &PortMaps,
    pkt: &Pkt<'_>,
    cur: &mut Cur,
    actions: &[DpAction],
    depth: u8,
) -> Result<(), DropReason> {
    for a in actions {
        match a {
            DpAction::Output(p) if *p == OFPP_TABLE => {
                // Only meaningful in packet-out; handled there.
            }
            DpAction::Output(p) => {
                if let Some(out) = maps.port(*p) {
                    if out != pkt.in_port {
                        ex.emit(bridge, out, cur, maps);
                    }
                }
            }
            DpAction::InPort => {
                if bridge.member_of(pkt.in_port).is_some() {
                    ex.emit(bridge, pkt.in_port, cur, maps);
                }
            }
            DpAction::Local => {
                if let Some(out) = maps.local {
                    if out != pkt.in_port {
                        ex.emit(bridge, out, cur, maps);
                    }
                }
            }
            DpAction::Flood | DpAction::All => {
                let n = bridge.members().len();
                for i in 0..n {
                    let Some(out) = bridge.members().get(i).map(|m| m.port) else {
                        break;
                    };
                    if out != pkt.in_port {
                        ex.emit(bridge, out, cur, maps);
                    }
                }
            }
            DpAction::Normal => {
                let Some(f) = frame_of(ex.rx, ex.owned, *cur) else {
                    return Err(DropReason::NoOutput);
                };
                // The L2 switch counts its own drops on the ingress port.
                let r = bridge.normal(mac.get(), pkt.in_port, cur.id, f, ex.now, ex.rt, ex.dirty);
                if let Err(reason) = r {
                    ex.count_drop(pkt.in_port, reason);
                }
                cur.private = false;
            }
            DpAction::Controller {
                max_len,
                reason,
                table_id,
                cookie,
            } => {
                if maps.config(pkt.in_port) & port_config::NO_PACKET_IN != 0
                    && pkt.in_ofport != OFPP_CONTROLLER
                {
                    continue;
                }
                let Some(f) = ex.frame(*cur) else { continue };
                let take = if *max_len == 0xffff {
                    f.data.len()
                } else {
                    f.data.len().min(usize::from(*max_len))
                };
                let ev = PacketIn {
                    bridge: ex.bridge_id,
                    in_port: pkt.in_ofport,
                    reason: *reason,
                    table_id: *table_id,
                    cookie: *cookie,
                    frame: f.data.get(..take).unwrap_or(&[]).to_vec(),
                    total_len: f.wire_len,
                    metadata: pkt.key.get(rvs_flow::key::loc::METADATA),
                    tunnel_id: pkt.key.get(rvs_flow::key::loc::TUNNEL_ID),
                };
                let queued = match ex.sink.as_mut() {
                    Some(sink) => sink(ev),
                    None => false,
                };
                if !queued {
                    ex.count_drop(pkt.in_port, DropReason::ControllerQueueFull);
                }
            }
            DpAction::Group(id) => {
                if depth >= MAX_GROUP_DEPTH {
                    return Err(DropReason::NoSuchGroup);
                }
                let Some(g) = cfg.groups.get(*id) else {
                    return Err(DropReason::NoSuchGroup);
                };
                let live = |ofport: u32| -> bool {
                    match maps.port(ofport) {
                        Some(p) => {
                            ex.live.get(p as usize).copied().unwrap_or(false)
                                && maps.config(p) & port_config::PORT_DOWN == 0
                        }
                        None => false,
                    }
                };
                let d = usize::from(depth);
                if ex.buckets.len() <= d {
                    ex.buckets.resize_with(d + 1, Vec::new);
                }
                let mut chosen = ex
                    .buckets
                    .get_mut(d)
                    .map(std::mem::take)
                    .unwrap_or_default();
                chosen.clear();
                g.choose(pkt.key.flow_hash(), &live, &cfg.groups, &mut chosen);
                let bytes = ex.frame(*cur).map_or(0, |f| f.wire_len as u64);
                // Each bucket starts from the packet as it entered the group.
                let entry = Cur {
                    id: cur.id,
                    private: false,
                };
                g.count_group(bytes);
                for &b in &chosen {
                    let Some(bucket) = g.buckets.get(b) else {
                        continue;
                    };
                    g.count_bucket(b, bytes);
                    let mut c = entry;
                    if let Err(reason) = run(
                        ex,
                        bridge,
                        mac,
                        cfg,
                        maps,
                        pkt,
                        &mut c,
                        &bucket.actions,
                        depth + 1,
                    ) {
                        ex.count_drop(pkt.in_port, reason);
                    }
                }
                if let Some(slot) = ex.buckets.get_mut(d) {
                    *slot = chosen;
                }
                // The action set ends with the group; apply-actions may go on.
                cur.private = false;
            }
            DpAction::Meter(id) => {
                let Some(m) = cfg.meters.get(*id) else {
                    continue;
                };
                let bytes = ex.frame(*cur).map_or(0, |f| f.wire_len as u32);
                match m.admit(ex.now_ns, bytes) {
                    MeterVerdict::Pass => {}
                    MeterVerdict::Drop => return Err(DropReason::Meter),
                    MeterVerdict::Remark { prec_level } => {
                        ex.writable(cur)?;
                        if let Some((buf, _)) = ex.owned.get_mut(cur.id & !OWNED_BIT) {
                            rvs_flow::modify::dscp_remark(buf, prec_level);
                        }
                    }
                }
            }
            DpAction::SetQueue(_) => {
                // rvs has no egress queues: set_queue does not change forwarding.
            }
            header => {
                ex.writable(cur)?;
                let Some((buf, vnet)) = ex.owned.get_mut(cur.id & !OWNED_BIT) else {
                    return Err(DropReason::RewriteOverflow);
                };
                let before = buf.len();
                match rvs_flow::modify::apply(buf, header, vnet.needs_csum()) {
                    Ok(()) => {
                        let delta = buf.len() as isize - before as isize;
                        if delta != 0 {
                            *vnet = vnet.shifted(delta as i16);
                        }
                    }
                    Err(rvs_flow::modify::ModifyError::TtlExpired) => {
                        return Err(DropReason::TtlExpired)
                    }
                    // A field the packet does not have: OpenFlow leaves such packets alone
                    // (the flow's prerequisites normally rule this out).
                    Err(_) => {}
                }
            }
        }
    }
    Ok(())
}

/// The OpenFlow pipeline over one receive batch of `in_port` on an OpenFlow bridge.
/// Returns false when the bridge is not (or no longer) an OpenFlow bridge in effect
/// (fail-open), so the caller runs the plain L2 switch instead.
pub(crate) fn process_batch(bridge: &mut Bridge, in_port: PortId, ex: &mut Exec<'_>) -> bool {
    let Some(mut of) = bridge.of.take() else {
        return false;
    };
    if of.cfg.fail_open {
        bridge.of = Some(of);
        return false;
    }
    let rx = ex.rx;
    let in_ofport = of.maps.ofport(in_port);
    if let Some(rt) = ex.rt.get_mut(in_port as usize) {
        for s in rx.iter() {
            rt.counters.rx_packets += 1;
            rt.counters.rx_bytes += s.wire_len() as u64;
        }
    }
    if of.maps.config(in_port) & (port_config::NO_RECV | port_config::PORT_DOWN) != 0 {
        for _ in 0..rx.len() {
            ex.count_drop(in_port, DropReason::PortNoRecv);
        }
        bridge.of = Some(of);
        return true;
    }
    // Keys of the frames worth looking up; runts are dropped here.
    let mut keys = [FlowKey::default(); crate::packet::BATCH_SIZE];
    let mut bytes = [0u32; crate::packet::BATCH_SIZE];
    let mut slots = [0u16; crate::packet::BATCH_SIZE];
    let mut n = 0;
    for (i, s) in rx.iter().enumerate() {
        let f = s.frame();
        if f.len() < ETHERNET_HEADER_LEN || s.wire_len() > f.len() {
            let reason = if f.len() < ETHERNET_HEADER_LEN {
                DropReason::Runt
            } else {
                DropReason::Oversized
            };
            ex.count_drop(in_port, reason);
            continue;
        }
        if s.vnet().needs_offload() && offload::check_rx(f, s.vnet()).is_err() {
            ex.count_drop(in_port, DropReason::BadOffload);
            continue;
        }
        let (Some(k), Some(b), Some(sl)) = (keys.get_mut(n), bytes.get_mut(n), slots.get_mut(n))
        else {
            break;
        };
        *k = extract(f, in_ofport);
        *b = u32::try_from(s.wire_len()).unwrap_or(u32::MAX);
        *sl = i as u16;
        n += 1;
    }
    let OfBridge { cfg, fast, maps } = &mut of;
    let cfg: &OfConfig = cfg;
    let shared_mac = Arc::clone(&bridge.mac);
    let mut mac = MacLock::new(&shared_mac);
    fast.set_now(ex.now);
    let maps_of = OfBridgeMaps(maps);
    fast.process_batch(&cfg.flows, &keys[..n], &bytes[..n], |j, lk| {
        let (Some(key), Some(&slot)) = (keys.get(j), slots.get(j)) else {
            return;
        };
        if lk.actions.is_empty() {
            ex.count_drop(in_port, DropReason::FlowDrop);
            return;
        }
        let pkt = Pkt {
            in_port,
            in_ofport,
            key,
        };
        if let Err(reason) = execute(ex, bridge, &mut mac, cfg, &maps_of, &pkt, slot, lk.actions) {
            ex.count_drop(in_port, reason);
        }
    });
    bridge.of = Some(of);
    true
}

/// Runs a packet-out: `frame` with `actions`, as if received on `in_ofport` (a port number,
/// `OFPP_CONTROLLER` or `OFPP_LOCAL`). An `output:TABLE` action runs the frame through the
/// flow tables. The frame must already be in `ex.owned` as copy `owned_idx`.
pub(crate) fn packet_out(
    bridge: &mut Bridge,
    ex: &mut Exec<'_>,
    in_ofport: u32,
    owned_idx: u16,
    actions: &[DpAction],
) -> Result<(), DropReason> {
    let Some(mut of) = bridge.of.take() else {
        return Err(DropReason::NoOutput);
    };
    let in_port = of.maps.port(in_ofport).unwrap_or(PortId::MAX);
    let key = match ex.owned.get(owned_idx) {
        Some(f) => extract(f.data, in_ofport),
        None => {
            bridge.of = Some(of);
            return Err(DropReason::RewriteOverflow);
        }
    };
    let pkt = Pkt {
        in_port,
        in_ofport,
        key: &key,
    };
    let mut result = Ok(());
    let OfBridge { cfg, fast, maps } = &mut of;
    let cfg: &OfConfig = cfg;
    let shared_mac = Arc::clone(&bridge.mac);
    let mut mac = MacLock::new(&shared_mac);
    let mut cur = Cur {
        id: owned_idx | OWNED_BIT,
        private: true,
    };
    for a in actions {
        if matches!(a, DpAction::Output(p) if *p == OFPP_TABLE) {
            // The packet as changed by the actions before: through the tables.
            let Some(f) = ex.frame(cur) else { break };
            let k = extract(f.data, in_ofport);
            let len = u32::try_from(f.wire_len).unwrap_or(u32::MAX);
            let acts = fast.process(&cfg.flows, &k, len).actions.to_vec();
            let p2 = Pkt {
                in_port,
                in_ofport,
                key: &k,
            };
            let mut c = Cur {
                id: cur.id,
                private: false,
            };
            if acts.is_empty() {
                result = Err(DropReason::FlowDrop);
            } else if let Err(r) = run(ex, bridge, &mut mac, cfg, maps, &p2, &mut c, &acts, 0) {
                result = Err(r);
            }
            cur.private = false;
            continue;
        }
        if let Err(r) = run(
            ex,
            bridge,
            &mut mac,
            cfg,
            maps,
            &pkt,
            &mut cur,
            std::slice::from_ref(a),
            0,
        ) {
            result = Err(r);
            break;
        }
    }
    bridge.of = Some(of);
    result
}
