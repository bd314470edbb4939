//! The datapath core: bridges and ports, driven one batch at a time.
//!
//! [`Datapath`] holds no threads and no file descriptors of its own; the worker thread
//! (`crate::worker`) wraps it with epoll, and tests drive it directly with in-memory ports.
//! With several threads each has a `Datapath` with a replica of a bridge
//! ([`Datapath::add_bridge_with`], one shared MAC table) and every port of it under the
//! same id ([`Datapath::add_port_with_id`]): the ports it receives on, and transmit handles
//! ([`crate::Port::tx_handle`]) for the others.
//! Per receive batch: one `recv_batch` on the ingress port, the bridge pipeline over the
//! whole batch, then one `send_batch` per egress port that got frames. The receive buffers,
//! transmit queues and frame lists are allocated once and reused.
//!
//! Transmit honours each egress port's offloads ([`Port::offloads`]): frames it can take go
//! out as they are, with their virtio-net header; for the others the partial checksum is
//! completed or the GSO frame segmented in software ([`crate::offload`]), with the rebuilt
//! headers in the port's scratch area and the payload still in the receive buffer. A queue
//! that grows past one batch that way (a 64 KB frame becomes about 45 segments) is handed
//! to the port in several calls of at most [`BATCH_SIZE`] frames.

use crate::bridge::{Bridge, Member, PortRuntime, TxDesc};
use crate::counters::{DropReason, PortCounters};
use crate::mac_table::{lock_mac, shared_mac, Millis, SharedMac};
use crate::offload::{complete_checksum, OffloadCaps, Segmenter, MAX_OFFLOAD_HEADER};
use crate::openflow::{self, Exec, OfBridge, OfConfig, PacketInSink};
use crate::packet::{OwnedFrames, RxBatch, TxFrame, BATCH_SIZE, OWNED_BIT};
use crate::port::{Port, PortFault};
use crate::vlan::PortVlan;
use crate::PortId;
use arrayvec::ArrayVec;
use rvs_api::VlanSpec;
use rvs_wire::EthernetAddress;
use std::sync::Arc;

pub type BridgeId = u32;

struct PortSlot {
    io: Box<dyn Port>,
    bridge: BridgeId,
    /// What the port takes on transmit (read once: it does not change while open).
    caps: OffloadCaps,
}

/// One learned address, for display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FdbRow {
    pub port: String,
    pub vlan: u16,
    pub mac: EthernetAddress,
    pub age_ms: Millis,
}

/// Bridge-wide learning statistics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FdbStats {
    pub entries: usize,
    pub limit: usize,
    pub aging_secs: u32,
    pub moves: u64,
    pub evictions: u64,
}

#[derive(Default)]
pub struct Datapath {
    bridges: Vec<Option<Bridge>>,
    ports: Vec<Option<PortSlot>>,
    runtime: Vec<PortRuntime>,
    rx: RxBatch,
    dirty: Vec<PortId>,
    /// Frames rewritten by OpenFlow actions in the current batch.
    owned: OwnedFrames,
    /// Where packet-ins go.
    packet_in: Option<PacketInSink>,
    /// By PortId: attached (for fast-failover liveness).
    live: Vec<bool>,
    /// Scratch bucket lists for groups.
    buckets: Vec<Vec<usize>>,
}

impl Datapath {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add_bridge(
        &mut self,
        name: &str,
        mac_table_size: usize,
        mac_aging_secs: u32,
    ) -> BridgeId {
        let id = self
            .bridges
            .iter()
            .position(Option::is_none)
            .unwrap_or(self.bridges.len()) as BridgeId;
        self.add_bridge_with(id, name, shared_mac(mac_table_size, mac_aging_secs));
        id
    }

    /// Adds a bridge with a given id that learns into `mac` (a replica of a bridge served by
    /// several threads shares one table). False if the id is taken.
    pub fn add_bridge_with(&mut self, id: BridgeId, name: &str, mac: SharedMac) -> bool {
        let i = id as usize;
        if self.bridges.len() <= i {
            self.bridges.resize_with(i + 1, || None);
        }
        match self.bridges.get_mut(i) {
            Some(slot @ None) => {
                *slot = Some(Bridge::with_mac(name, mac));
                true
            }
            _ => false,
        }
    }

    /// Removes a bridge and returns its ports (the caller decides whether to destroy them).
    pub fn del_bridge(&mut self, id: BridgeId) -> Vec<Box<dyn Port>> {
        let members: Vec<PortId> = match self.bridge(id) {
            Some(b) => b.members().iter().map(|m| m.port).collect(),
            None => return Vec::new(),
        };
        let ports = members
            .into_iter()
            .filter_map(|p| self.del_port(p))
            .collect();
        if let Some(slot) = self.bridges.get_mut(id as usize) {
            *slot = None;
        }
        ports
    }

    pub fn bridge(&self, id: BridgeId) -> Option<&Bridge> {
        self.bridges.get(id as usize).and_then(Option::as_ref)
    }

    pub fn bridge_mut(&mut self, id: BridgeId) -> Option<&mut Bridge> {
        self.bridges.get_mut(id as usize).and_then(Option::as_mut)
    }

    pub fn set_bridge_params(
        &mut self,
        id: BridgeId,
        mac_table_size: Option<usize>,
        mac_aging_secs: Option<u32>,
    ) {
        if let Some(b) = self.bridge_mut(id) {
            let mut mac = lock_mac(&b.mac);
            if let Some(n) = mac_table_size {
                mac.set_limit(n);
            }
            if let Some(s) = mac_aging_secs {
                mac.set_aging_secs(s);
            }
        }
    }

    /// Adds a port to a bridge under the first free id. Returns `None` if the bridge does
    /// not exist.
    pub fn add_port(
        &mut self,
        bridge: BridgeId,
        io: Box<dyn Port>,
        vlan: &VlanSpec,
    ) -> Option<PortId> {
        self.add_port_with_id(bridge, self.free_port_id(), io, vlan)
    }

    /// The smallest port id this datapath does not use.
    pub fn free_port_id(&self) -> PortId {
        self.ports
            .iter()
            .position(Option::is_none)
            .unwrap_or(self.ports.len()) as PortId
    }

    /// Adds a port under a given id (ids chosen by the caller, the same on every thread
    /// for one port). `None` if the bridge does not exist or the id is taken.
    pub fn add_port_with_id(
        &mut self,
        bridge: BridgeId,
        id: PortId,
        io: Box<dyn Port>,
        vlan: &VlanSpec,
    ) -> Option<PortId> {
        self.bridge(bridge)?;
        let i = id as usize;
        if self.ports.get(i).is_some_and(Option::is_some) {
            return None;
        }
        if self.ports.len() <= i {
            self.ports.resize_with(i + 1, || None);
            self.runtime.resize_with(i + 1, PortRuntime::new);
        }
        let (mtu, caps) = (io.mtu(), io.offloads());
        self.ports[i] = Some(PortSlot { io, bridge, caps });
        self.runtime[i] = PortRuntime::new();
        if self.live.len() <= i {
            self.live.resize(i + 1, false);
        }
        self.live[i] = true;
        self.bridge_mut(bridge)?.add_member(Member {
            port: id,
            vlan: PortVlan::from_spec(vlan),
            mtu,
        });
        Some(id)
    }

    /// Removes a port and returns it.
    pub fn del_port(&mut self, id: PortId) -> Option<Box<dyn Port>> {
        let slot = self.ports.get_mut(id as usize)?.take()?;
        if let Some(l) = self.live.get_mut(id as usize) {
            *l = false;
        }
        if let Some(b) = self.bridge_mut(slot.bridge) {
            b.remove_member(id);
        }
        self.dirty.retain(|&p| p != id);
        if let Some(rt) = self.runtime.get_mut(id as usize) {
            rt.txq.clear();
        }
        Some(slot.io)
    }

    /// Changes a port's VLAN rules; forgets what was learned on it.
    pub fn set_port_vlan(&mut self, id: PortId, vlan: &VlanSpec) -> bool {
        let Some(bridge) = self.port_bridge(id) else {
            return false;
        };
        let Some(b) = self.bridge_mut(bridge) else {
            return false;
        };
        match b.member_mut(id) {
            Some(m) => m.vlan = PortVlan::from_spec(vlan),
            None => return false,
        }
        lock_mac(&b.mac).flush_port(id);
        true
    }

    pub fn port_bridge(&self, id: PortId) -> Option<BridgeId> {
        self.ports
            .get(id as usize)
            .and_then(Option::as_ref)
            .map(|s| s.bridge)
    }

    pub fn port(&self, id: PortId) -> Option<&dyn Port> {
        self.ports
            .get(id as usize)
            .and_then(Option::as_ref)
            .map(|s| s.io.as_ref())
    }

    /// Ids and poll fds of every port (for the worker's epoll set).
    pub fn port_fds(&self) -> Vec<(PortId, Option<std::os::fd::RawFd>)> {
        self.ports
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|s| (i as PortId, s.io.poll_fd())))
            .collect()
    }

    pub fn counters(&self, id: PortId) -> Option<PortCounters> {
        self.ports.get(id as usize)?.as_ref()?;
        self.runtime.get(id as usize).map(|r| r.counters.clone())
    }

    /// Frames this datapath received and transmitted, over all its ports and handles.
    pub fn totals(&self) -> (u64, u64) {
        self.ports
            .iter()
            .zip(&self.runtime)
            .filter(|(slot, _)| slot.is_some())
            .fold((0, 0), |(rx, tx), (_, rt)| {
                (rx + rt.counters.rx_packets, tx + rt.counters.tx_packets)
            })
    }

    /// Per-queue frame counts of a multi-queue port (empty otherwise).
    pub fn queue_counters(&self, id: PortId) -> Vec<crate::port::QueueCounters> {
        self.port(id).map(Port::queue_counters).unwrap_or_default()
    }

    /// Receives and forwards up to one batch from `port`. Returns the frames received.
    pub fn poll_port(&mut self, port: PortId, now: Millis) -> Result<usize, PortFault> {
        let Some(slot) = self.ports.get_mut(port as usize).and_then(Option::as_mut) else {
            return Ok(0);
        };
        let bridge = slot.bridge;
        self.rx.clear();
        let n = slot.io.recv_batch(&mut self.rx)?;
        if n == 0 {
            return Ok(0);
        }
        let (b, mut ex) = self.bridge_and_exec(bridge, now);
        if let Some(b) = b {
            if !openflow::process_batch(b, port, &mut ex) {
                b.process_batch(port, ex.rx, now, ex.rt, ex.dirty);
            }
        }
        self.flush();
        // Frames may be lent by the port (a receive ring): forget them now.
        self.rx.clear();
        Ok(n)
    }

    /// Publishes OpenFlow tables for a bridge (`None`: back to the plain L2 switch).
    /// Packets received after this returns see the new tables.
    pub fn set_openflow(&mut self, bridge: BridgeId, cfg: Option<Arc<OfConfig>>) {
        let Some(b) = self.bridge_mut(bridge) else {
            return;
        };
        match (cfg, b.of.as_mut()) {
            (None, _) => b.of = None,
            (Some(c), Some(of)) => of.publish(c),
            (Some(c), None) => b.of = Some(OfBridge::new(c)),
        }
    }

    /// The OpenFlow state of a bridge (tests, stats).
    pub fn openflow(&self, bridge: BridgeId) -> Option<&OfBridge> {
        self.bridge(bridge).and_then(|b| b.of.as_ref())
    }

    /// Flow counters gathered since the last call.
    pub fn of_collect(&mut self, bridge: BridgeId) -> Vec<rvs_flow::classifier::Credit> {
        self.bridge_mut(bridge)
            .and_then(|b| b.of.as_mut())
            .map(OfBridge::take_credits)
            .unwrap_or_default()
    }

    /// Where packet-ins of every bridge go.
    pub fn set_packet_in_sink(&mut self, sink: Option<PacketInSink>) {
        self.packet_in = sink;
    }

    /// Sends `frame` through `actions` on an OpenFlow bridge (packet-out), as received on
    /// OpenFlow port `in_ofport`.
    pub fn packet_out(
        &mut self,
        bridge: BridgeId,
        in_ofport: u32,
        actions: &[rvs_flow::pipeline::DpAction],
        frame: &[u8],
        now: Millis,
    ) -> Result<(), DropReason> {
        self.rx.clear();
        self.owned.clear();
        let Some(idx) = self.owned.push(crate::packet::FrameRef {
            data: frame,
            wire_len: frame.len(),
            vnet: Default::default(),
        }) else {
            return Err(DropReason::RewriteOverflow);
        };
        let (Some(b), mut ex) = self.bridge_and_exec(bridge, now) else {
            return Err(DropReason::NoOutput);
        };
        let r = openflow::packet_out(b, &mut ex, in_ofport, idx, actions);
        self.flush();
        r
    }

    /// A bridge and the OpenFlow executor over this datapath's queues and scratch space.
    fn bridge_and_exec(
        &mut self,
        bridge: BridgeId,
        now: Millis,
    ) -> (Option<&mut Bridge>, Exec<'_>) {
        let Datapath {
            bridges,
            runtime,
            rx,
            dirty,
            owned,
            packet_in,
            live,
            buckets,
            ..
        } = self;
        let b = bridges.get_mut(bridge as usize).and_then(Option::as_mut);
        let ex = Exec {
            bridge_id: bridge,
            rt: runtime,
            dirty,
            owned,
            rx,
            sink: packet_in,
            now,
            now_ns: openflow::mono_ns(),
            live,
            buckets,
        };
        (b, ex)
    }

    /// Hands every non-empty transmit queue to its port.
    fn flush(&mut self) {
        for &p in &self.dirty {
            let (Some(Some(slot)), Some(rt)) = (
                self.ports.get_mut(p as usize),
                self.runtime.get_mut(p as usize),
            ) else {
                continue;
            };
            transmit(slot.io.as_mut(), slot.caps, rt, &self.rx, &self.owned);
        }
        self.dirty.clear();
        self.owned.clear();
    }

    /// Adds what the kernel dropped before the ports' receive queues to their counters
    /// (`kernel_rx_queue`). Call before reading counters; the worker also calls it about
    /// once a second.
    pub fn collect_kernel_drops(&mut self) {
        for (slot, rt) in self.ports.iter_mut().zip(self.runtime.iter_mut()) {
            if let Some(slot) = slot {
                let n = slot.io.take_kernel_drops();
                if n > 0 {
                    rt.counters.drop_n(DropReason::KernelRxQueue, n);
                }
            }
        }
    }

    /// Ages out learned addresses in every bridge.
    pub fn expire(&mut self, now: Millis) {
        for b in self.bridges.iter_mut().flatten() {
            lock_mac(&b.mac).expire(now);
            if let Some(of) = b.of.as_mut() {
                of.fast.sweep(now);
            }
        }
    }

    /// Lets one port re-read its MTU and namespace now; returns the namespace.
    pub fn refresh_port(&mut self, id: PortId) -> Option<String> {
        let slot = self.ports.get_mut(id as usize)?.as_mut()?;
        slot.io.refresh();
        let (mtu, netns, bridge) = (slot.io.mtu(), slot.io.netns(), slot.bridge);
        if let Some(m) = self.bridge_mut(bridge).and_then(|b| b.member_mut(id)) {
            m.mtu = mtu;
        }
        netns
    }

    /// Lets every port re-read its MTU and the like.
    pub fn refresh_ports(&mut self) {
        for (i, slot) in self.ports.iter_mut().enumerate() {
            let Some(slot) = slot else { continue };
            slot.io.refresh();
            let mtu = slot.io.mtu();
            if let Some(m) = self
                .bridges
                .get_mut(slot.bridge as usize)
                .and_then(Option::as_mut)
                .and_then(|b| b.member_mut(i as PortId))
            {
                m.mtu = mtu;
            }
        }
    }

    pub fn fdb(&self, bridge: BridgeId, now: Millis) -> Vec<FdbRow> {
        let Some(b) = self.bridge(bridge) else {
            return Vec::new();
        };
        let entries = lock_mac(&b.mac).entries(now);
        entries
            .into_iter()
            .map(|(vlan, mac, e)| FdbRow {
                port: self
                    .port(e.port)
                    .map(|p| p.name().to_string())
                    .unwrap_or_default(),
                vlan,
                mac,
                age_ms: now.saturating_sub(e.last_seen),
            })
            .collect()
    }

    pub fn fdb_stats(&self, bridge: BridgeId, now: Millis) -> FdbStats {
        let Some(b) = self.bridge(bridge) else {
            return FdbStats::default();
        };
        let mac = lock_mac(&b.mac);
        FdbStats {
            entries: mac.entries(now).len(),
            limit: mac.limit(),
            aging_secs: mac.aging_secs(),
            moves: mac.moves(),
            evictions: mac.evictions(),
        }
    }

    pub fn fdb_flush(&mut self, bridge: BridgeId) {
        if let Some(b) = self.bridge_mut(bridge) {
            lock_mac(&b.mac).flush();
        }
    }
}

/// One frame of a transmit call: as queued, or rebuilt by the offload fallback.
#[derive(Clone, Copy)]
enum Out<'a> {
    /// Pieces of the receive buffer, with offload metadata the port takes.
    Queued(TxFrame<'a>),
    /// A header rebuilt in the port's scratch area (`at..at + len`), then unchanged bytes
    /// of the receive buffer.
    Rebuilt {
        at: usize,
        len: usize,
        rest: &'a [u8],
    },
}

/// Sends `outs` in one call and counts the outcome.
fn send_outs(io: &mut dyn Port, outs: &[Out<'_>], scratch: &[u8], counters: &mut PortCounters) {
    if outs.is_empty() {
        return;
    }
    let mut frames: ArrayVec<TxFrame<'_>, BATCH_SIZE> = ArrayVec::new();
    for o in outs {
        let f = match *o {
            Out::Queued(f) => f,
            Out::Rebuilt { at, len, rest } => TxFrame {
                head: scratch.get(at..at + len).unwrap_or(&[]),
                tag: None,
                tail: rest,
                vnet: Default::default(),
            },
        };
        if frames.try_push(f).is_err() {
            break;
        }
    }
    let out = io.send_batch(&frames);
    counters.tx_packets += out.sent as u64;
    counters.tx_bytes += out.bytes;
    for _ in out.sent..outs.len() {
        counters.drop(DropReason::TxFailed);
    }
}

/// Transmits a port's queue, doing in software the offloads the port does not take.
fn transmit(
    io: &mut dyn Port,
    caps: OffloadCaps,
    rt: &mut PortRuntime,
    rx: &RxBatch,
    owned: &OwnedFrames,
) {
    let PortRuntime {
        counters,
        txq,
        scratch,
    } = rt;
    let mut outs: ArrayVec<Out<'_>, BATCH_SIZE> = ArrayVec::new();
    // Scratch bytes in use by `outs`.
    let mut used = 0;
    for d in txq.iter() {
        let src = if d.slot & OWNED_BIT != 0 {
            owned.get(d.slot & !OWNED_BIT)
        } else {
            rx.get(usize::from(d.slot)).map(|s| s.as_frame())
        };
        let Some(src) = src else {
            continue;
        };
        let f = TxDesc::frame_of(d, src);
        if !f.vnet.needs_offload() || caps.accepts(&f.vnet) {
            if outs.is_full() {
                send_outs(io, &outs, scratch, counters);
                outs.clear();
                used = 0;
            }
            outs.push(Out::Queued(TxFrame {
                vnet: f.vnet.for_transmit(),
                ..f
            }));
        } else if f.vnet.is_gso() {
            let Ok(mut seg) = Segmenter::new(&f) else {
                counters.drop(DropReason::BadOffload);
                continue;
            };
            let hl = seg.header_len();
            while !seg.is_done() {
                if outs.is_full() || scratch.len() - used < hl {
                    send_outs(io, &outs, scratch, counters);
                    outs.clear();
                    used = 0;
                }
                let Some(payload) = scratch.get_mut(used..).and_then(|s| seg.next_into(s)) else {
                    // Only if the scratch area cannot hold one header: not with its size.
                    counters.drop(DropReason::BadOffload);
                    break;
                };
                outs.push(Out::Rebuilt {
                    at: used,
                    len: hl,
                    rest: payload,
                });
                used += hl;
                counters.sw_segments += 1;
            }
        } else {
            if outs.is_full() || scratch.len() - used < MAX_OFFLOAD_HEADER {
                send_outs(io, &outs, scratch, counters);
                outs.clear();
                used = 0;
            }
            match scratch.get_mut(used..).map(|s| complete_checksum(&f, s)) {
                Some(Ok((len, rest))) => {
                    outs.push(Out::Rebuilt {
                        at: used,
                        len,
                        rest,
                    });
                    used += len;
                    counters.sw_csum += 1;
                }
                _ => counters.drop(DropReason::BadOffload),
            }
        }
    }
    send_outs(io, &outs, scratch, counters);
    txq.clear();
}
