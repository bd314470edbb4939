//! An in-memory port for tests: frames are injected and collected through a handle.
//!
//! By default it declares no offloads, so the datapath hands it complete frames (software
//! checksums and segments where needed). [`MemoryPort::with_offloads`] makes one that
//! declares offloads and records the metadata of every frame it is given.

use crate::offload::OffloadCaps;
use crate::packet::{RxBatch, TxFrame};
use crate::port::{Port, PortFault, TxOutcome};
use rvs_wire::VirtioNetHdr;
use std::collections::VecDeque;
use std::os::fd::RawFd;
use std::sync::{Arc, Mutex, MutexGuard};

#[derive(Default)]
struct Queues {
    rx: VecDeque<(VirtioNetHdr, Vec<u8>)>,
    tx: Vec<(VirtioNetHdr, Vec<u8>)>,
    /// Refuse transmits after this many more frames (None: never).
    tx_budget: Option<usize>,
}

/// The port side, given to the datapath.
pub struct MemoryPort {
    name: String,
    mtu: usize,
    caps: OffloadCaps,
    q: Arc<Mutex<Queues>>,
    /// A transmit handle: sends into the same queue, receives nothing.
    tx_only: bool,
}

/// The test side: inject frames, read what the port transmitted.
#[derive(Clone)]
pub struct MemoryPortHandle {
    q: Arc<Mutex<Queues>>,
}

fn lock(q: &Mutex<Queues>) -> MutexGuard<'_, Queues> {
    q.lock().unwrap_or_else(|e| e.into_inner())
}

impl MemoryPort {
    pub fn new(name: &str) -> (MemoryPort, MemoryPortHandle) {
        Self::with_mtu(name, 1500)
    }

    pub fn with_mtu(name: &str, mtu: usize) -> (MemoryPort, MemoryPortHandle) {
        Self::with_offloads(name, mtu, OffloadCaps::NONE)
    }

    /// A port that takes the offloads `caps` on transmit (as a TAP or AF_PACKET port with
    /// virtio-net headers does).
    pub fn with_offloads(
        name: &str,
        mtu: usize,
        caps: OffloadCaps,
    ) -> (MemoryPort, MemoryPortHandle) {
        let q = Arc::new(Mutex::new(Queues::default()));
        (
            MemoryPort {
                name: name.to_string(),
                mtu,
                caps,
                q: q.clone(),
                tx_only: false,
            },
            MemoryPortHandle { q },
        )
    }
}

impl MemoryPortHandle {
    /// Queues a complete frame as if it arrived from the wire.
    pub fn inject(&self, frame: &[u8]) {
        self.inject_with(frame, VirtioNetHdr::NONE);
    }
    /// Queues a frame with offload metadata, as a port with virtio-net headers receives it.
    pub fn inject_with(&self, frame: &[u8], vnet: VirtioNetHdr) {
        lock(&self.q).rx.push_back((vnet, frame.to_vec()));
    }
    /// Takes every frame the port transmitted so far.
    pub fn take_sent(&self) -> Vec<Vec<u8>> {
        std::mem::take(&mut lock(&self.q).tx)
            .into_iter()
            .map(|(_, f)| f)
            .collect()
    }
    /// Takes every frame the port transmitted so far, with the metadata it was given.
    pub fn take_sent_with_vnet(&self) -> Vec<(VirtioNetHdr, Vec<u8>)> {
        std::mem::take(&mut lock(&self.q).tx)
    }
    /// Makes the port refuse transmits after `n` more frames.
    pub fn limit_tx(&self, n: Option<usize>) {
        lock(&self.q).tx_budget = n;
    }
    pub fn pending_rx(&self) -> usize {
        lock(&self.q).rx.len()
    }
}

impl Port for MemoryPort {
    fn name(&self) -> &str {
        &self.name
    }

    fn recv_batch(&mut self, batch: &mut RxBatch) -> Result<usize, PortFault> {
        if self.tx_only {
            return Ok(0);
        }
        let mut q = lock(&self.q);
        let mut n = 0;
        for slot in batch.free_slots() {
            let Some((vnet, frame)) = q.rx.pop_front() else {
                break;
            };
            slot.fill_with(&frame, vnet);
            n += 1;
        }
        drop(q);
        batch.commit(n);
        Ok(n)
    }

    fn send_batch(&mut self, frames: &[TxFrame<'_>]) -> TxOutcome {
        let mut q = lock(&self.q);
        let mut out = TxOutcome::default();
        for f in frames {
            if let Some(b) = q.tx_budget.as_mut() {
                if *b == 0 {
                    break;
                }
                *b -= 1;
            }
            q.tx.push((f.vnet, f.to_vec()));
            out.sent += 1;
            out.bytes += f.len() as u64;
        }
        out
    }

    fn poll_fd(&self) -> Option<RawFd> {
        None
    }

    fn offloads(&self) -> OffloadCaps {
        self.caps
    }

    fn tx_handle(&self) -> std::io::Result<Box<dyn Port>> {
        Ok(Box::new(MemoryPort {
            name: self.name.clone(),
            mtu: self.mtu,
            caps: self.caps,
            q: self.q.clone(),
            tx_only: true,
        }))
    }

    fn mtu(&self) -> usize {
        self.mtu
    }
}
