//! The port abstraction: where frames enter and leave the datapath.
//!
//! A port is owned by one datapath thread. It never blocks: `recv_batch` returns what the
//! kernel has queued now and `send_batch` hands frames to the kernel or reports them unsent.
//! The thread waits for readiness on [`Port::poll_fd`] with epoll.

use crate::offload::OffloadCaps;
use crate::packet::{RxBatch, TxFrame};
use std::io;
use std::os::fd::RawFd;

/// Result of one transmit call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TxOutcome {
    /// Frames accepted by the kernel (or the peer, for in-memory ports).
    pub sent: usize,
    /// Bytes in the frames accepted.
    pub bytes: u64,
}

/// Frames one queue of a multi-queue port carried.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueCounters {
    pub rx_packets: u64,
    pub tx_packets: u64,
}

/// Why a port stopped working.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortFault {
    /// The interface was deleted; the port must be reopened.
    InterfaceGone,
    /// Any other persistent error.
    Io(String),
}

pub trait Port: Send {
    /// Interface name (also the port's name on its bridge).
    fn name(&self) -> &str;

    /// Receives frames into the free slots of `batch` and commits them. Returns how many
    /// frames were added; `Ok(0)` means nothing is queued. Frames carry their 802.1Q tag in
    /// band, exactly as on the wire, and their offload metadata in the slot (`RxSlot::vnet`;
    /// none for ports without virtio-net headers). Must not block.
    ///
    /// Frames may be lent from the port's own memory (a receive ring) instead of copied:
    /// they stay valid until the next `recv_batch` on this port into an *empty* batch, or
    /// until the port is dropped. Callers clear the batch before dropping the port.
    fn recv_batch(&mut self, batch: &mut RxBatch) -> Result<usize, PortFault>;

    /// Transmits frames in order, as far as the kernel accepts them. Frames after the first
    /// refused one are not sent; the caller counts them as drops. Must not block.
    /// A frame's offload metadata only asks for what [`Port::offloads`] declares; a port
    /// without offloads gets complete frames and ignores the metadata.
    fn send_batch(&mut self, frames: &[TxFrame<'_>]) -> TxOutcome;

    /// What the port takes on transmit: frames with a partial checksum or GSO frames, as
    /// far as declared here, are handed over as they are; for the others the datapath
    /// finishes the checksum or segments in software first.
    fn offloads(&self) -> OffloadCaps {
        OffloadCaps::NONE
    }

    /// File descriptor that becomes readable when frames are queued, if any.
    fn poll_fd(&self) -> Option<RawFd>;

    /// A handle through which another datapath thread transmits on this port while this
    /// one receives (a bridge whose ports are spread over threads): it sends like the port
    /// and receives nothing (`poll_fd` none). Frames sent through handles and through the
    /// port itself may interleave, but each sender keeps its own order.
    fn tx_handle(&self) -> io::Result<Box<dyn Port>> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!("port '{}' cannot transmit from another thread", self.name()),
        ))
    }

    /// Receive queues the port polls behind [`Port::poll_fd`] (for display).
    fn rx_queues(&self) -> usize {
        1
    }

    /// Numbers of the queues counted by [`Port::rx_queues`] (for display).
    fn rx_queue_ids(&self) -> Vec<usize> {
        (0..self.rx_queues()).collect()
    }

    /// Splits a port with several receive queues over up to `parts` threads: this port
    /// keeps the first share of the queues, and the ports returned (at most `parts - 1`)
    /// receive on the others; all of them transmit like the whole port. A port that
    /// cannot split returns nothing and keeps every queue.
    fn split_rx(&mut self, parts: usize) -> Vec<Box<dyn Port>> {
        let _ = parts;
        Vec::new()
    }

    /// Largest payload after the Ethernet header (and one VLAN tag) the port carries.
    fn mtu(&self) -> usize;

    /// Frames the kernel dropped on the way to this port's receive queue since the last call
    /// (the queue or ring was full). Counted as drop reason `kernel_rx_queue`.
    fn take_kernel_drops(&mut self) -> u64 {
        0
    }

    /// Per-queue frame counts of a port with several queues, queue 0 first; empty for a
    /// port with one queue.
    fn queue_counters(&self) -> Vec<QueueCounters> {
        Vec::new()
    }

    /// Re-reads slow-changing properties (MTU). Called about once a second.
    fn refresh(&mut self) {}

    /// The network namespace the port's device lives in, when it is not rvsd's own
    /// (as found by the last [`Port::refresh`]).
    fn netns(&self) -> Option<String> {
        None
    }

    /// Called when the port is removed from its bridge for good (not on daemon exit):
    /// a port that created its device deletes it here.
    fn destroy(self: Box<Self>) -> io::Result<()> {
        Ok(())
    }
}
