//! The L2 bridge pipeline: ingress checks, VLAN classification, MAC learning, forwarding
//! decision and egress VLAN edits, for one batch of frames from one port.
//!
//! The pipeline never touches frame bytes after receive. It appends a [`TxDesc`] (batch slot
//! plus a tag edit) to each chosen egress port's queue; the datapath then hands each queue to
//! its port in one call, building the frames from pieces of the receive buffer.
//!
//! GSO frames (offload metadata from a virtio-net header) are checked against their headers
//! at ingress and measured by their segments: a 64 KB TCP super-frame fits an MTU of 1500
//! when each of its segments does, on the ingress port (`oversized`) and on the egress port
//! (`tx_too_big`) alike, whether the egress port takes it whole or rvs segments it.

use crate::counters::{DropReason, PortCounters};
use crate::mac_table::{lock_mac, shared_mac, Learned, MacTable, Millis, SharedMac};
use crate::offload::{self, MAX_OFFLOAD_HEADER};
use crate::packet::{FrameRef, RxBatch, RxSlot, TxFrame, BATCH_SIZE};
use crate::vlan::PortVlan;
use crate::PortId;
use rvs_wire::vlan::{TAGGED_HEADER_LEN, TAG_OFFSET};
use rvs_wire::{EthernetAddress, EthernetFrame, ETHERNET_HEADER_LEN};
use std::sync::Arc;

/// The C-tag TPID; the only one that selects a VLAN.
const TPID_8021Q: u16 = 0x8100;

/// How a frame is changed on its way out of one port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagEdit {
    /// Sent exactly as received.
    AsIs,
    /// The received tag is removed.
    Strip,
    /// A tag is inserted after the MAC addresses.
    Push([u8; 4]),
    /// The received tag is replaced.
    Rewrite([u8; 4]),
}

/// One frame queued for transmission on a port.
#[derive(Debug, Clone, Copy)]
pub struct TxDesc {
    pub slot: u16,
    pub edit: TagEdit,
}

impl TxDesc {
    /// The frame to send, as pieces of the received frame, with its offload metadata
    /// adjusted to the tag edit (offsets move by the 4 bytes a tag takes).
    #[inline]
    pub fn frame<'a>(&self, slot: &'a RxSlot) -> TxFrame<'a> {
        self.frame_of(slot.as_frame())
    }

    /// As [`Self::frame`], for any frame.
    #[inline]
    pub fn frame_of<'a>(&self, src: FrameRef<'a>) -> TxFrame<'a> {
        let f = src.data;
        let vnet = src.vnet;
        let head = f.get(..TAG_OFFSET).unwrap_or(f);
        match self.edit {
            TagEdit::AsIs => TxFrame::with_vnet(f, vnet),
            TagEdit::Strip => TxFrame {
                head,
                tag: None,
                tail: f.get(TAG_OFFSET + 4..).unwrap_or(&[]),
                vnet: vnet.shifted(-4),
            },
            TagEdit::Push(t) => TxFrame {
                head,
                tag: Some(t),
                tail: f.get(TAG_OFFSET..).unwrap_or(&[]),
                vnet: vnet.shifted(4),
            },
            TagEdit::Rewrite(t) => TxFrame {
                head,
                tag: Some(t),
                tail: f.get(TAG_OFFSET + 4..).unwrap_or(&[]),
                vnet,
            },
        }
    }
}

/// Scratch bytes per port for headers the software offload fallback rebuilds: one full
/// header for every frame of a transmit call.
pub const TX_SCRATCH_LEN: usize = BATCH_SIZE * MAX_OFFLOAD_HEADER;

/// Per-port state the pipeline reads and writes, indexed by [`PortId`] in the datapath.
pub struct PortRuntime {
    pub counters: PortCounters,
    pub txq: Vec<TxDesc>,
    /// Where the software offload fallback writes headers for this port (allocated once).
    pub scratch: Box<[u8]>,
}

impl Default for PortRuntime {
    fn default() -> Self {
        Self::new()
    }
}

impl PortRuntime {
    pub fn new() -> Self {
        PortRuntime {
            counters: PortCounters::default(),
            txq: Vec::with_capacity(BATCH_SIZE),
            scratch: vec![0u8; TX_SCRATCH_LEN].into_boxed_slice(),
        }
    }
}

/// A port as its bridge sees it.
#[derive(Debug, Clone)]
pub struct Member {
    pub port: PortId,
    pub vlan: PortVlan,
    pub mtu: usize,
}

pub struct Bridge {
    name: String,
    members: Vec<Member>,
    /// PortId -> index in `members` (u32::MAX: not a member).
    index: Vec<u32>,
    /// MAC learning, shared with the replicas of this bridge on other threads.
    pub mac: SharedMac,
    /// OpenFlow state; `None` until the control plane publishes tables for the bridge.
    pub(crate) of: Option<crate::openflow::OfBridge>,
}

/// What the pipeline decided for one received frame (used by tests and tracing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Classified {
    vlan: u16,
    pcp: u8,
    dei: bool,
    tagged: bool,
    /// TCI of the received tag (when `tagged`).
    tci: u16,
    payload_len: usize,
}

impl Bridge {
    pub fn new(name: &str, mac_table_size: usize, mac_aging_secs: u32) -> Self {
        Self::with_mac(name, shared_mac(mac_table_size, mac_aging_secs))
    }

    /// A bridge (or one thread's replica of it) that learns into `mac`.
    pub fn with_mac(name: &str, mac: SharedMac) -> Self {
        Bridge {
            name: name.to_string(),
            members: Vec::new(),
            index: Vec::new(),
            mac,
            of: None,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn members(&self) -> &[Member] {
        &self.members
    }

    pub fn add_member(&mut self, m: Member) {
        let id = m.port as usize;
        if self.index.len() <= id {
            self.index.resize(id + 1, u32::MAX);
        }
        self.index[id] = self.members.len() as u32;
        self.members.push(m);
    }

    pub fn remove_member(&mut self, port: PortId) -> bool {
        let Some(i) = self.member_index(port) else {
            return false;
        };
        self.members.remove(i);
        self.rebuild_index();
        lock_mac(&self.mac).flush_port(port);
        true
    }

    pub fn member_mut(&mut self, port: PortId) -> Option<&mut Member> {
        let i = self.member_index(port)?;
        self.members.get_mut(i)
    }

    fn rebuild_index(&mut self) {
        self.index.iter_mut().for_each(|x| *x = u32::MAX);
        for (i, m) in self.members.iter().enumerate() {
            self.index[m.port as usize] = i as u32;
        }
    }

    #[inline]
    fn member_index(&self, port: PortId) -> Option<usize> {
        match self.index.get(port as usize) {
            Some(&i) if i != u32::MAX => Some(i as usize),
            _ => None,
        }
    }

    /// Runs the pipeline over every frame of `batch`, received on `in_port`.
    /// Egress ports with new queue entries are appended to `dirty` once.
    pub fn process_batch(
        &mut self,
        in_port: PortId,
        batch: &RxBatch,
        now: Millis,
        rt: &mut [PortRuntime],
        dirty: &mut Vec<PortId>,
    ) {
        let Some(in_idx) = self.member_index(in_port) else {
            return;
        };
        let shared = Arc::clone(&self.mac);
        let mut mac = lock_mac(&shared);
        for (slot_no, slot) in batch.iter().enumerate() {
            if let Some(rx) = rt.get_mut(in_port as usize) {
                rx.counters.rx_packets += 1;
                rx.counters.rx_bytes += slot.wire_len() as u64;
            }
            if let Err(reason) = self.process_one(
                &mut mac,
                in_idx,
                slot_no as u16,
                slot.as_frame(),
                now,
                rt,
                dirty,
            ) {
                if let Some(rx) = rt.get_mut(in_port as usize) {
                    rx.counters.drop(reason);
                }
            }
        }
    }

    fn classify(
        &self,
        in_idx: usize,
        slot: FrameRef<'_>,
    ) -> Result<(Classified, EthernetAddress, EthernetAddress), DropReason> {
        let f = slot.data;
        let eth = EthernetFrame::new_checked(f).map_err(|_| DropReason::Runt)?;
        let (src, dst) = (eth.src_addr(), eth.dst_addr());
        let tpid = u16::from(eth.ethertype());
        let (tagged, hdr_len) = if tpid == TPID_8021Q {
            if f.len() < TAGGED_HEADER_LEN {
                return Err(DropReason::TruncatedVlan);
            }
            (true, TAGGED_HEADER_LEN)
        } else {
            (false, ETHERNET_HEADER_LEN)
        };
        let wire_len = slot.wire_len;
        if wire_len <= hdr_len {
            return Err(DropReason::Runt);
        }
        let member = self.members.get(in_idx).ok_or(DropReason::NoOutput)?;
        if wire_len > f.len() {
            return Err(DropReason::Oversized);
        }
        // What must fit the MTU: the frame, or each segment of a GSO frame.
        let vnet = &slot.vnet;
        let on_wire = if vnet.needs_offload() {
            match offload::check_rx(f, vnet) {
                Ok(Some(gso)) => gso.segment_frame_len().min(wire_len),
                Ok(None) => wire_len,
                Err(_) => return Err(DropReason::BadOffload),
            }
        } else {
            wire_len
        };
        let payload_len = on_wire.saturating_sub(hdr_len);
        if payload_len > member.mtu {
            return Err(DropReason::Oversized);
        }
        if src.is_multicast() || src.is_zero() {
            return Err(DropReason::InvalidSrcMac);
        }
        if dst.is_link_local_reserved() {
            return Err(DropReason::ReservedMulticast);
        }
        let tci = if tagged {
            u16::from_be_bytes([f[TAG_OFFSET + 2], f[TAG_OFFSET + 3]])
        } else {
            0
        };
        let vid = tagged.then_some(tci & 0x0fff);
        let vlan = member.vlan.ingress(vid)?;
        let (pcp, dei) = ((tci >> 13) as u8, tci & 0x1000 != 0);
        Ok((
            Classified {
                vlan,
                pcp,
                dei,
                tagged,
                tci,
                payload_len,
            },
            src,
            dst,
        ))
    }

    /// The NORMAL action: the L2 switch for one frame received on `in_port`; `slot_no`
    /// identifies the frame in the transmit queues (a receive slot or an owned frame).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn normal(
        &mut self,
        mac: &mut MacTable,
        in_port: PortId,
        slot_no: u16,
        frame: FrameRef<'_>,
        now: Millis,
        rt: &mut [PortRuntime],
        dirty: &mut Vec<PortId>,
    ) -> Result<(), DropReason> {
        let in_idx = self.member_index(in_port).ok_or(DropReason::NoOutput)?;
        self.process_one(mac, in_idx, slot_no, frame, now, rt, dirty)
    }

    /// Index of a member port.
    #[inline]
    pub(crate) fn member_of(&self, port: PortId) -> Option<&Member> {
        self.member_index(port).and_then(|i| self.members.get(i))
    }

    #[allow(clippy::too_many_arguments)]
    fn process_one(
        &mut self,
        mac: &mut MacTable,
        in_idx: usize,
        slot_no: u16,
        slot: FrameRef<'_>,
        now: Millis,
        rt: &mut [PortRuntime],
        dirty: &mut Vec<PortId>,
    ) -> Result<(), DropReason> {
        let (c, src, dst) = self.classify(in_idx, slot)?;
        let in_port = self.members[in_idx].port;
        if let Learned::Moved { .. } = mac.learn(c.vlan, src, in_port, now) {
            tracing::debug!(bridge = %self.name, vlan = c.vlan, mac = %src, port = in_port, "station moved");
        }
        if dst.is_unicast() {
            if let Some(out) = mac.lookup(c.vlan, dst, now) {
                if out == in_port {
                    return Err(DropReason::DstIsIngressPort);
                }
                if let Some(idx) = self.member_index(out) {
                    if self.members[idx].vlan.carries(c.vlan) {
                        self.emit(idx, slot_no, &c, rt, dirty);
                        return Ok(());
                    }
                }
            }
        }
        // Broadcast, multicast and unknown unicast: flood within the VLAN.
        let mut sent = 0;
        for idx in 0..self.members.len() {
            if idx != in_idx && self.members[idx].vlan.carries(c.vlan) {
                self.emit(idx, slot_no, &c, rt, dirty);
                sent += 1;
            }
        }
        if sent == 0 {
            return Err(DropReason::NoOutput);
        }
        Ok(())
    }

    #[inline]
    fn emit(
        &self,
        out_idx: usize,
        slot_no: u16,
        c: &Classified,
        rt: &mut [PortRuntime],
        dirty: &mut Vec<PortId>,
    ) {
        let m = &self.members[out_idx];
        let Some(out) = rt.get_mut(m.port as usize) else {
            return;
        };
        if c.payload_len > m.mtu {
            out.counters.drop(DropReason::TxTooBig);
            return;
        }
        let edit = if m.vlan.egress_tagged(c.vlan) {
            let tci = (u16::from(c.pcp) << 13) | (u16::from(c.dei) << 12) | (c.vlan & 0x0fff);
            let t = TPID_8021Q.to_be_bytes();
            let tag = [t[0], t[1], (tci >> 8) as u8, tci as u8];
            if c.tagged && c.tci == tci {
                TagEdit::AsIs
            } else if c.tagged {
                TagEdit::Rewrite(tag)
            } else {
                TagEdit::Push(tag)
            }
        } else if c.tagged {
            TagEdit::Strip
        } else {
            TagEdit::AsIs
        };
        if out.txq.is_empty() {
            dirty.push(m.port);
        }
        out.txq.push(TxDesc {
            slot: slot_no,
            edit,
        });
    }
}
