//! Patch ports: a pair of ports that connects two bridges inside rvs, with no kernel device.
//!
//! What one end transmits, the other end receives. Each end has an inbox (a bounded queue)
//! and an eventfd that makes it readable for the worker's epoll, so a patch port is serviced
//! like any other port. Frame buffers come from a pool shared by the pair: no allocation in
//! steady state. A full inbox refuses further frames (counted as `tx_failed` by the sender).
//!
//! Offload metadata crosses with the frame: a patch port takes every offload, so a GSO
//! frame stays one frame until it reaches a port on the other bridge that cannot take it.

use super::sys::{eventfd, eventfd_drain, eventfd_signal};
use crate::offload::OffloadCaps;
use crate::packet::{RxBatch, TxFrame};
use crate::port::{Port, PortFault, TxOutcome};
use rvs_wire::VirtioNetHdr;
use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::{Arc, Mutex, MutexGuard};

/// Frames an inbox holds before refusing more.
pub const PATCH_QUEUE_FRAMES: usize = 1024;
/// MTU of a patch port: it carries whatever the other bridge may send.
pub const PATCH_MTU: usize = 65535 - 18;

struct Inbox {
    frames: Mutex<VecDeque<(VirtioNetHdr, Vec<u8>)>>,
    ready: OwnedFd,
}

struct Pool(Mutex<Vec<Vec<u8>>>);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub struct PatchPort {
    name: String,
    /// `None` for a transmit handle ([`Port::tx_handle`]): it only sends.
    inbox: Option<Arc<Inbox>>,
    peer_inbox: Arc<Inbox>,
    pool: Arc<Pool>,
}

impl PatchPort {
    /// Creates both ends: frames sent on `a` arrive on `b` and the other way round.
    pub fn pair(a: &str, b: &str) -> io::Result<(PatchPort, PatchPort)> {
        let ia = Arc::new(Inbox {
            frames: Mutex::new(VecDeque::with_capacity(PATCH_QUEUE_FRAMES)),
            ready: eventfd()?,
        });
        let ib = Arc::new(Inbox {
            frames: Mutex::new(VecDeque::with_capacity(PATCH_QUEUE_FRAMES)),
            ready: eventfd()?,
        });
        let pool = Arc::new(Pool(Mutex::new(Vec::new())));
        Ok((
            PatchPort {
                name: a.to_string(),
                inbox: Some(ia.clone()),
                peer_inbox: ib.clone(),
                pool: pool.clone(),
            },
            PatchPort {
                name: b.to_string(),
                inbox: Some(ib),
                peer_inbox: ia,
                pool,
            },
        ))
    }
}

impl Port for PatchPort {
    fn name(&self) -> &str {
        &self.name
    }

    fn recv_batch(&mut self, batch: &mut RxBatch) -> Result<usize, PortFault> {
        let Some(inbox) = self.inbox.as_ref() else {
            return Ok(0);
        };
        eventfd_drain(inbox.ready.as_raw_fd());
        let mut frames = lock(&inbox.frames);
        let mut pool = lock(&self.pool.0);
        let mut n = 0;
        for slot in batch.free_slots() {
            let Some((vnet, mut f)) = frames.pop_front() else {
                break;
            };
            slot.fill_with(&f, vnet);
            f.clear();
            pool.push(f);
            n += 1;
        }
        // Level-triggered readiness: what is left must wake the worker again.
        if !frames.is_empty() {
            eventfd_signal(inbox.ready.as_raw_fd());
        }
        batch.commit(n);
        Ok(n)
    }

    fn send_batch(&mut self, frames: &[TxFrame<'_>]) -> TxOutcome {
        let mut out = TxOutcome::default();
        let mut inbox = lock(&self.peer_inbox.frames);
        let mut pool = lock(&self.pool.0);
        for f in frames {
            if inbox.len() >= PATCH_QUEUE_FRAMES {
                break;
            }
            let mut buf = pool.pop().unwrap_or_default();
            f.write_to(&mut buf);
            inbox.push_back((f.vnet, buf));
            out.sent += 1;
            out.bytes += f.len() as u64;
        }
        drop(pool);
        drop(inbox);
        if out.sent > 0 {
            eventfd_signal(self.peer_inbox.ready.as_raw_fd());
        }
        out
    }

    fn poll_fd(&self) -> Option<RawFd> {
        self.inbox.as_ref().map(|i| i.ready.as_raw_fd())
    }

    fn tx_handle(&self) -> io::Result<Box<dyn Port>> {
        Ok(Box::new(PatchPort {
            name: self.name.clone(),
            inbox: None,
            peer_inbox: self.peer_inbox.clone(),
            pool: self.pool.clone(),
        }))
    }

    fn mtu(&self) -> usize {
        PATCH_MTU
    }

    fn offloads(&self) -> OffloadCaps {
        OffloadCaps::ALL
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_cross_and_queue_is_bounded() {
        let (mut a, mut b) = PatchPort::pair("a", "b").expect("pair");
        let f = [1u8; 60];
        let frames: Vec<TxFrame<'_>> = (0..PATCH_QUEUE_FRAMES + 5)
            .map(|_| TxFrame::whole(&f))
            .collect();
        let out = a.send_batch(&frames);
        assert_eq!(
            out.sent, PATCH_QUEUE_FRAMES,
            "a full inbox refuses the rest"
        );
        let mut batch = RxBatch::new();
        let n = b.recv_batch(&mut batch).expect("recv");
        assert_eq!(n, batch.capacity());
        assert_eq!(batch.get(0).map(|s| s.frame().to_vec()), Some(f.to_vec()));
        assert_eq!(batch.get(0).map(|s| *s.vnet()), Some(VirtioNetHdr::NONE));
        // Nothing travels the other way.
        let mut batch2 = RxBatch::new();
        assert_eq!(a.recv_batch(&mut batch2).expect("recv"), 0);
    }

    #[test]
    fn a_tx_handle_sends_to_the_peer_and_receives_nothing() {
        let (a, mut b) = PatchPort::pair("a", "b").expect("pair");
        let mut h = a.tx_handle().expect("handle");
        assert!(h.poll_fd().is_none());
        assert_eq!(h.send_batch(&[TxFrame::whole(&[3u8; 60])]).sent, 1);
        let mut batch = RxBatch::new();
        assert_eq!(b.recv_batch(&mut batch).expect("recv"), 1);
        assert_eq!(b.send_batch(&[TxFrame::whole(&[4u8; 60])]).sent, 1);
        let mut none = RxBatch::new();
        assert_eq!(h.recv_batch(&mut none).expect("recv"), 0);
    }

    #[test]
    fn offload_metadata_crosses() {
        let (mut a, mut b) = PatchPort::pair("a", "b").expect("pair");
        let vnet = VirtioNetHdr {
            flags: 1,
            gso_type: 1,
            hdr_len: 66,
            gso_size: 1448,
            csum_start: 34,
            csum_offset: 16,
        };
        let f = vec![7u8; 3000];
        assert_eq!(a.send_batch(&[TxFrame::with_vnet(&f, vnet)]).sent, 1);
        let mut batch = RxBatch::new();
        assert_eq!(b.recv_batch(&mut batch).expect("recv"), 1);
        let s = batch.get(0).expect("frame");
        assert_eq!((s.frame(), *s.vnet()), (&f[..], vnet));
        assert_eq!(a.offloads(), OffloadCaps::ALL);
    }
}
