//! `system` ports: an existing interface (veth end, a tap held by QEMU, a NIC) through an
//! AF_PACKET socket.
//!
//! - The socket is created with protocol 0 (it hears nothing) and only then bound to the
//!   interface with `ETH_P_ALL`, so no frame from another interface slips in between.
//! - `PACKET_IGNORE_OUTGOING` keeps our own transmissions out of the receive queue (and the
//!   packet type is checked too, for older kernels).
//! - Promiscuous mode is a socket membership: the kernel drops it when the socket closes.
//! - The kernel moves received 802.1Q tags into metadata; `PACKET_AUXDATA` returns them and
//!   the tag is put back in band using the buffer's headroom.
//! - Receive and transmit are batched with `recvmmsg`/`sendmmsg`: one system call per batch.
//!   The message headers are built on the stack per call, pointing into the batch's buffers.
//! - Offloads: `PACKET_VNET_HDR` puts a virtio-net header in front of every frame, both
//!   ways. Receive scatters it into a small array and the frame into the slot (two iovecs);
//!   transmit gathers header, MAC addresses, tag and rest (up to four iovecs). So TCP from a
//!   namespace arrives as 64 KB GSO frames with partial checksums and leaves the same way:
//!   the host-side veth keeps its default offloads. Kernels without `PACKET_VNET_HDR` get a
//!   port without offloads (and need `ethtool -K IF tx off` on the host side, as before).
//! - Receive ring (opt-in, `RVS_AFPACKET_RX=ring`): a `TPACKET_V3` ring ([`super::ring`]) replaces `recvmmsg`;
//!   frames are lent to the batch in place (no copy, no system call per batch). The kernel
//!   (6.18 verified; tpacket_rcv has had it since 4.x) writes the virtio-net header in front
//!   of each frame in the ring, so offloads work as with `recvmmsg`: 64 KB GSO frames come
//!   through whole (`e2e_rings`, `e2e_offload`). VLAN tags come from the frame header's
//!   TCI/TPID. Measured on a veth pair between two namespaces (benches/README.md): TCP
//!   +47% with offloads on, +31% off, small UDP delivered +41%; the price is latency: the
//!   kernel hands a block over when it is full or after the 1 ms retire timer, so a lone
//!   frame waits up to ~1 ms per ring crossing (ping RTT ~0.16 ms -> ~1.4 ms), and with
//!   host offloads on netbench's TCP was slower through the ring (4.88 vs 7.21 Gbit/s), so
//!   `recvmmsg` stays the default (see [`AfPacketOptions`]).
//! - Transmit stays `sendmmsg`: a `PACKET_TX_RING` still needs one copy per frame (ours
//!   into the ring instead of the kernel's into an skb) and has not been measured yet.
//!   `PACKET_QDISC_BYPASS` (`RVS_AFPACKET_QDISC_BYPASS=1`) gave no gain on veth (which has
//!   no qdisc) and more TCP retransmissions, so it is off.
//! - Kernel drops (`PACKET_STATISTICS`, reset by each read, so accumulated) are counted as
//!   `kernel_rx_queue`; with the ring they are frames that found every block full.

use super::ring::{self, RxRing};
use super::steer;
use super::sys::{self, cvt, PacketMreq, TpacketAuxdata};
use crate::offload::OffloadCaps;
use crate::packet::{RxBatch, TxFrame, BATCH_SIZE};
use crate::port::{Port, PortFault, TxOutcome};
use rvs_wire::{VirtioNetHdr, VIRTIO_NET_HDR_LEN};
use std::io;
use std::mem::{size_of, zeroed};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Arc;

/// Socket buffer sizes: large enough that a burst does not overflow the kernel queue.
const SOCKET_BUFFER_BYTES: libc::c_int = 8 << 20;
/// Control buffer per message: one cmsghdr + tpacket_auxdata, rounded up generously.
const CTRL_LEN: usize = 64;

/// How a `system` port talks to its socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AfPacketOptions {
    /// Virtio-net headers (`PACKET_VNET_HDR`), where the kernel has them.
    pub offloads: bool,
    /// Receive through a `TPACKET_V3` ring instead of `recvmmsg`. Off by default: the ring
    /// moves 31-47% more traffic (one copy less, fewer calls) but the kernel wakes the reader
    /// only when a block retires, so a lone frame waits up to the 1 ms retire timeout (ping
    /// RTT 1.40 ms instead of 0.19 ms, see benches/README.md). `RVS_AFPACKET_RX=ring` turns it on.
    pub rx_ring: bool,
    /// `PACKET_QDISC_BYPASS`: transmit straight to the driver, skipping the qdisc layer.
    pub qdisc_bypass: bool,
    /// Receive ring geometry: bytes per block (a multiple of the page size, larger than
    /// the largest frame) and blocks.
    pub ring_block_size: usize,
    pub ring_blocks: usize,
}

impl Default for AfPacketOptions {
    fn default() -> Self {
        AfPacketOptions {
            offloads: true,
            rx_ring: false,
            qdisc_bypass: false,
            ring_block_size: ring::BLOCK_SIZE,
            ring_blocks: ring::BLOCK_COUNT,
        }
    }
}

impl AfPacketOptions {
    /// The defaults, overridden by `RVS_AFPACKET_RX=ring|mmsg` and
    /// `RVS_AFPACKET_QDISC_BYPASS=0|1` in rvsd's environment (for measurements).
    pub fn from_env() -> Self {
        let mut o = Self::default();
        match std::env::var("RVS_AFPACKET_RX").as_deref() {
            Ok("mmsg") => o.rx_ring = false,
            Ok("ring") => o.rx_ring = true,
            _ => {}
        }
        match std::env::var("RVS_AFPACKET_QDISC_BYPASS").as_deref() {
            Ok("1") => o.qdisc_bypass = true,
            Ok("0") => o.qdisc_bypass = false,
            _ => {}
        }
        o
    }
}

pub struct AfPacketPort {
    name: String,
    /// Receive ring, when the port has one; declared before `fd` so it is unmapped first.
    rx_ring: Option<RxRing>,
    /// Shared with the port's transmit handles (no descriptor per handle).
    fd: Arc<OwnedFd>,
    ifindex: u32,
    mtu: usize,
    /// `PACKET_VNET_HDR` is on: every frame is preceded by a virtio-net header.
    vnet_hdr: bool,
    /// A transmit handle ([`Port::tx_handle`]): the socket is shared with the port that
    /// receives, which alone reads it.
    tx_only: bool,
    /// Receive queues asked for ([`AfPacketPort::set_queues`]): sockets in one
    /// `PACKET_FANOUT` group, one per thread, made by [`Port::split_rx`].
    queues: usize,
    /// This socket's number in its fanout group (0 without one).
    queue_id: usize,
    /// How the fanout group shares frames between the queues.
    steering: Steering,
    /// With CPU steering: the program's map, where this queue says how far it has read.
    steer_map: Option<Arc<steer::SteerMap>>,
}

/// How a system port with several receive queues shares its frames between them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Steering {
    /// By flow hash (`PACKET_FANOUT_HASH`): a flow always takes the same queue.
    #[default]
    Flow,
    /// By the CPU that produced the frame, a flow moving only once its old queue is read
    /// ([`crate::ports::steer`]): queue q's thread is pinned to `cpus[q]`.
    Cpu(Vec<usize>),
}

#[repr(C, align(8))]
#[derive(Clone, Copy)]
struct CtrlBuf([u8; CTRL_LEN]);

impl AfPacketPort {
    /// Opens interface `name` in rvsd's network namespace, with offloads (virtio-net
    /// headers) where the kernel has them.
    pub fn open(name: &str) -> io::Result<Self> {
        Self::open_with_options(name, AfPacketOptions::from_env())
    }

    /// Opens interface `name` without virtio-net headers: the port takes and gives complete
    /// frames only (rvs finishes checksums and segments for it; its host side needs
    /// `ethtool -K IF tx off`, as every port did before offloads).
    pub fn open_without_offloads(name: &str) -> io::Result<Self> {
        Self::open_with_options(
            name,
            AfPacketOptions {
                offloads: false,
                ..AfPacketOptions::from_env()
            },
        )
    }

    /// Opens interface `name` with the given options.
    pub fn open_with_options(name: &str, opts: AfPacketOptions) -> io::Result<Self> {
        Self::open_impl(name, opts, None)
    }

    /// `fanout`: the group id and fanout type (with flags) of a group to join.
    fn open_impl(
        name: &str,
        opts: AfPacketOptions,
        fanout: Option<(u32, u32)>,
    ) -> io::Result<Self> {
        let offloads = opts.offloads;
        let ifindex = sys::if_index(name).map_err(|e| {
            if e.raw_os_error() == Some(libc::ENODEV) {
                io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("interface '{name}' not found"),
                )
            } else {
                e
            }
        })?;
        let fd = packet_socket()?;
        let s = fd.as_raw_fd();
        let one: libc::c_int = 1;
        sys::setsockopt(s, sys::SOL_PACKET, sys::PACKET_AUXDATA, &one)?;
        // Before bind, so that no frame is queued without its header.
        let vnet_hdr = offloads
            && match sys::setsockopt(s, sys::SOL_PACKET, sys::PACKET_VNET_HDR, &one) {
                Ok(()) => true,
                Err(e) => {
                    tracing::warn!(port = name, error = %e, "PACKET_VNET_HDR refused; port runs without offloads");
                    false
                }
            };
        // Older kernels lack it; the packet-type check in recv covers them.
        let _ = sys::setsockopt(s, sys::SOL_PACKET, sys::PACKET_IGNORE_OUTGOING, &one);
        set_buffer(s, libc::SO_RCVBUFFORCE, libc::SO_RCVBUF)?;
        set_buffer(s, libc::SO_SNDBUFFORCE, libc::SO_SNDBUF)?;
        if opts.qdisc_bypass {
            sys::setsockopt(s, sys::SOL_PACKET, sys::PACKET_QDISC_BYPASS, &one)?;
        }
        // After PACKET_VNET_HDR (refused once a ring exists) and before bind.
        let rx_ring = if opts.rx_ring {
            Some(RxRing::setup_with(
                s,
                opts.ring_block_size,
                opts.ring_blocks,
                ring::RETIRE_TIMEOUT_MS,
            )?)
        } else {
            None
        };
        if fanout.is_some() {
            attach_drop_all(s)?;
        }
        bind_to(s, ifindex, sys::ETH_P_ALL)?;
        if let Some((group, kind)) = fanout {
            let arg = group | (kind << 16);
            sys::setsockopt(s, sys::SOL_PACKET, sys::PACKET_FANOUT, &arg)?;
            // The option's value is ignored.
            sys::setsockopt(
                s,
                libc::SOL_SOCKET,
                libc::SO_DETACH_FILTER,
                &0 as &libc::c_int,
            )?;
        }
        let mreq = PacketMreq {
            mr_ifindex: ifindex as libc::c_int,
            mr_type: sys::PACKET_MR_PROMISC,
            ..Default::default()
        };
        sys::setsockopt(s, sys::SOL_PACKET, sys::PACKET_ADD_MEMBERSHIP, &mreq)?;
        let mtu = sys::get_mtu(s, name).unwrap_or(1500);
        Ok(AfPacketPort {
            name: name.to_string(),
            rx_ring,
            fd: Arc::new(fd),
            ifindex,
            mtu,
            vnet_hdr,
            tx_only: false,
            queues: 1,
            queue_id: 0,
            steering: Steering::Flow,
            steer_map: None,
        })
    }

    /// Receive through up to `n` sockets, each served by its own thread once the port is
    /// split ([`Port::split_rx`]): the kernel spreads the interface's flows over them by
    /// hash (`PACKET_FANOUT_HASH`, fragments reassembled first), so each flow stays on one
    /// socket and in order. Not with a receive ring (the port then keeps one socket).
    pub fn set_queues(&mut self, n: usize) {
        self.queues = n.max(1);
    }

    /// Receive through one socket per CPU of `cpus`, each served by the thread pinned to
    /// that CPU (queue q on `cpus[q]`): frames go to the queue of the CPU that produced
    /// them, a flow moving only once its old queue is read ([`crate::ports::steer`]).
    /// Falls back to `PACKET_FANOUT_CPU` (queue = CPU modulo the queues) when the kernel
    /// refuses the program.
    pub fn steer_by_cpu(&mut self, cpus: Vec<usize>) {
        self.queues = cpus.len().max(1);
        self.steering = Steering::Cpu(cpus);
    }

    /// One more socket of the fanout group `group` on this port's interface. It is bound
    /// with a filter that drops everything until it has joined the group, so no frame
    /// reaches it (and is forwarded twice) before the group shares the interface's frames.
    fn open_fanout_part(&self, group: u32, kind: u32, queue_id: usize) -> io::Result<AfPacketPort> {
        let opts = AfPacketOptions {
            offloads: self.vnet_hdr,
            rx_ring: false,
            ..AfPacketOptions::from_env()
        };
        let mut part = Self::open_impl(&self.name, opts, Some((group, kind)))?;
        part.queues = self.queues;
        part.queue_id = queue_id;
        part.steering = self.steering.clone();
        part.steer_map = self.steer_map.clone();
        Ok(part)
    }

    /// A socket that only transmits on interface `name` (bound with protocol 0, so it
    /// hears nothing): the transmit handle of a port that receives some other way (afxdp).
    /// Frames go out whole (no virtio-net header).
    pub fn open_tx_only(name: &str) -> io::Result<Self> {
        let ifindex = sys::if_index(name)?;
        let fd = packet_socket()?;
        let s = fd.as_raw_fd();
        set_buffer(s, libc::SO_SNDBUFFORCE, libc::SO_SNDBUF)?;
        // Protocol 0: bound to the interface for sending, hearing nothing.
        bind_to(s, ifindex, 0)?;
        let mtu = sys::get_mtu(s, name).unwrap_or(1500);
        Ok(AfPacketPort {
            name: name.to_string(),
            rx_ring: None,
            fd: Arc::new(fd),
            ifindex,
            mtu,
            vnet_hdr: false,
            tx_only: true,
            queues: 1,
            queue_id: 0,
            steering: Steering::Flow,
            steer_map: None,
        })
    }

    /// After ENETDOWN: is our interface still there (merely down) or gone?
    fn interface_still_exists(&self) -> bool {
        sys::if_index(&self.name)
            .map(|i| i == self.ifindex)
            .unwrap_or(false)
    }

    /// Whether frames arrive through a receive ring.
    pub fn has_rx_ring(&self) -> bool {
        self.rx_ring.is_some()
    }

    /// Receives from the ring: frames are lent to the batch, not copied.
    fn recv_ring(&mut self, batch: &mut RxBatch) -> Result<usize, PortFault> {
        let Some(ring) = self.rx_ring.as_mut() else {
            return Ok(0);
        };
        if batch.is_empty() {
            ring.release_finished();
        }
        let slots = batch.free_slots();
        let mut n = 0;
        while n < slots.len() {
            let Some(f) = ring.next_frame() else { break };
            if f.pkttype == sys::PACKET_OUTGOING {
                continue;
            }
            let vnet = if self.vnet_hdr {
                // The kernel always leaves room for it; a frame without is skipped.
                match f.before_mac::<VIRTIO_NET_HDR_LEN>() {
                    Some(b) => Some(VirtioNetHdr::from_bytes(&b)),
                    None => continue,
                }
            } else {
                None
            };
            let slot = &mut slots[n];
            // SAFETY: the ring keeps the frame's block until the next receive into an empty
            // batch, and the datapath clears its batch once forwarded (see `ports::ring`).
            unsafe { f.lend_to(slot) };
            if let Some(v) = vnet {
                slot.set_vnet(v);
            }
            if let Some(tag) = f.tag {
                slot.insert_tag(tag);
            }
            n += 1;
        }
        batch.commit(n);
        if n == 0 {
            // No system call reports errors on the ring path: ask for a pending one (the
            // socket is flagged ENETDOWN when its interface goes down or away).
            let mut err: libc::c_int = 0;
            let mut len = size_of::<libc::c_int>() as libc::socklen_t;
            // SAFETY: SO_ERROR writes one int.
            let r = unsafe {
                libc::getsockopt(
                    self.fd.as_raw_fd(),
                    libc::SOL_SOCKET,
                    libc::SO_ERROR,
                    (&mut err as *mut libc::c_int).cast(),
                    &mut len,
                )
            };
            if r == 0 && err != 0 {
                return self.recv_error(io::Error::from_raw_os_error(err));
            }
        }
        Ok(n)
    }

    fn recv_error(&self, e: io::Error) -> Result<usize, PortFault> {
        match e.raw_os_error() {
            Some(libc::EAGAIN) | Some(libc::EINTR) => Ok(0),
            // The kernel could not describe a frame's offloads in a virtio-net header (a GSO
            // type virtio has no name for) and dropped that frame; the next ones are fine.
            Some(libc::EINVAL) if self.vnet_hdr => Ok(0),
            Some(libc::ENETDOWN) | Some(libc::ENXIO) | Some(libc::ENODEV) => {
                if self.interface_still_exists() {
                    Ok(0)
                } else {
                    Err(PortFault::InterfaceGone)
                }
            }
            _ => Err(PortFault::Io(e.to_string())),
        }
    }
}

/// The VLAN tag the kernel took out of a frame, from the PACKET_AUXDATA control message.
fn aux_vlan_tag(msg: &libc::msghdr) -> Option<[u8; 4]> {
    // SAFETY: msg's control buffer was filled by recvmmsg; CMSG_* walk within msg_controllen.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(msg);
        while !c.is_null() {
            if (*c).cmsg_level == sys::SOL_PACKET && (*c).cmsg_type == sys::PACKET_AUXDATA {
                let aux: TpacketAuxdata = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast());
                if aux.tp_status & sys::TP_STATUS_VLAN_VALID == 0 {
                    return None;
                }
                let tpid = if aux.tp_status & sys::TP_STATUS_VLAN_TPID_VALID != 0 {
                    aux.tp_vlan_tpid
                } else {
                    0x8100
                };
                let (t, c) = (tpid.to_be_bytes(), aux.tp_vlan_tci.to_be_bytes());
                return Some([t[0], t[1], c[0], c[1]]);
            }
            c = libc::CMSG_NXTHDR(msg, c);
        }
        None
    }
}

impl Port for AfPacketPort {
    fn name(&self) -> &str {
        &self.name
    }

    fn recv_batch(&mut self, batch: &mut RxBatch) -> Result<usize, PortFault> {
        if self.tx_only {
            return Ok(0);
        }
        if self.rx_ring.is_some() {
            return self.recv_ring(batch);
        }
        let slots = batch.free_slots();
        let want = slots.len().min(BATCH_SIZE);
        if want == 0 {
            return Ok(0);
        }
        // SAFETY: these are plain old data; every pointer is set below before use.
        let mut hdrs: [libc::mmsghdr; BATCH_SIZE] = unsafe { zeroed() };
        let mut iovs: [[libc::iovec; 2]; BATCH_SIZE] = unsafe { zeroed() };
        let mut addrs: [libc::sockaddr_ll; BATCH_SIZE] = unsafe { zeroed() };
        let mut ctrl = [CtrlBuf([0; CTRL_LEN]); BATCH_SIZE];
        let mut vnets = [[0u8; VIRTIO_NET_HDR_LEN]; BATCH_SIZE];
        let vnet_len = if self.vnet_hdr { VIRTIO_NET_HDR_LEN } else { 0 };
        for i in 0..want {
            let area = slots[i].recv_area();
            iovs[i] = [
                libc::iovec {
                    iov_base: vnets[i].as_mut_ptr().cast(),
                    iov_len: VIRTIO_NET_HDR_LEN,
                },
                libc::iovec {
                    iov_base: area.as_mut_ptr().cast(),
                    iov_len: area.len(),
                },
            ];
            let h = &mut hdrs[i].msg_hdr;
            h.msg_name = (&mut addrs[i] as *mut libc::sockaddr_ll).cast();
            h.msg_namelen = size_of::<libc::sockaddr_ll>() as libc::socklen_t;
            if self.vnet_hdr {
                h.msg_iov = iovs[i].as_mut_ptr();
                h.msg_iovlen = 2;
            } else {
                h.msg_iov = &mut iovs[i][1];
                h.msg_iovlen = 1;
            }
            h.msg_control = ctrl[i].0.as_mut_ptr().cast();
            h.msg_controllen = CTRL_LEN;
        }
        // CPU steering: what was steered here before this read; all of it is read once a
        // read leaves the socket empty.
        let steered = self.steer_map.as_ref().map(|m| m.steered(self.queue_id));
        // SAFETY: `want` headers are initialised and point into live buffers. MSG_TRUNC makes
        // msg_len the frame's full length (plus the virtio-net header) even when it did not fit.
        let r = unsafe {
            libc::recvmmsg(
                self.fd.as_raw_fd(),
                hdrs.as_mut_ptr(),
                want as libc::c_uint,
                libc::MSG_DONTWAIT | libc::MSG_TRUNC,
                std::ptr::null_mut(),
            )
        };
        let err = (r < 0).then(io::Error::last_os_error);
        let emptied = match &err {
            Some(e) => e.raw_os_error() == Some(libc::EAGAIN),
            None => usize::try_from(r).unwrap_or(0) < want,
        };
        if let (true, Some(n), Some(m)) = (emptied, steered, &self.steer_map) {
            m.read_up_to(self.queue_id, n);
        }
        if let Some(e) = err {
            return self.recv_error(e);
        }
        let got = usize::try_from(r).unwrap_or(0).min(want);
        let mut kept = 0;
        for i in 0..got {
            if addrs[i].sll_pkttype == sys::PACKET_OUTGOING {
                continue;
            }
            let Some(wire_len) = (hdrs[i].msg_len as usize).checked_sub(vnet_len) else {
                continue;
            };
            let tag = aux_vlan_tag(&hdrs[i].msg_hdr);
            let slot = &mut slots[i];
            let cap = slot.recv_area().len();
            slot.set_received(wire_len.min(cap), wire_len);
            if self.vnet_hdr {
                slot.set_vnet(VirtioNetHdr::from_bytes(&vnets[i]));
            }
            if let Some(tag) = tag {
                slot.insert_tag(tag);
            }
            if kept != i {
                slots.swap(kept, i);
            }
            kept += 1;
        }
        batch.commit(kept);
        Ok(kept)
    }

    fn send_batch(&mut self, frames: &[TxFrame<'_>]) -> TxOutcome {
        let n = frames.len().min(BATCH_SIZE);
        // SAFETY: plain old data; pointers are set below before use.
        let mut hdrs: [libc::mmsghdr; BATCH_SIZE] = unsafe { zeroed() };
        let mut iovs: [[libc::iovec; 4]; BATCH_SIZE] = unsafe { zeroed() };
        let mut tags = [[0u8; 4]; BATCH_SIZE];
        let mut vnets = [[0u8; VIRTIO_NET_HDR_LEN]; BATCH_SIZE];
        for (i, f) in frames.iter().take(n).enumerate() {
            let mut cnt = 0;
            if self.vnet_hdr {
                vnets[i] = f.vnet.for_transmit().to_bytes();
            }
            let pieces: [&[u8]; 4] = [
                if self.vnet_hdr { &vnets[i][..] } else { &[] },
                f.head,
                if let Some(t) = f.tag {
                    tags[i] = t;
                    &tags[i][..]
                } else {
                    &[]
                },
                f.tail,
            ];
            for p in pieces {
                if !p.is_empty() {
                    iovs[i][cnt] = libc::iovec {
                        iov_base: p.as_ptr() as *mut libc::c_void,
                        iov_len: p.len(),
                    };
                    cnt += 1;
                }
            }
            hdrs[i].msg_hdr.msg_iov = iovs[i].as_mut_ptr();
            hdrs[i].msg_hdr.msg_iovlen = cnt;
        }
        let mut out = TxOutcome::default();
        let mut next = 0;
        let mut attempts = 0;
        while next < n && attempts < BATCH_SIZE {
            attempts += 1;
            // SAFETY: headers next..n are initialised and point into live buffers.
            let r = unsafe {
                libc::sendmmsg(
                    self.fd.as_raw_fd(),
                    hdrs[next..].as_mut_ptr(),
                    (n - next) as libc::c_uint,
                    libc::MSG_DONTWAIT,
                )
            };
            if r > 0 {
                let sent = usize::try_from(r).unwrap_or(0);
                for f in &frames[next..next + sent] {
                    out.sent += 1;
                    out.bytes += f.len() as u64;
                }
                next += sent;
                continue;
            }
            match io::Error::last_os_error().raw_os_error() {
                Some(libc::EINTR) => continue,
                // This frame cannot go (too big, device down...); the rest may.
                Some(libc::EMSGSIZE) | Some(libc::ENETDOWN) | Some(libc::ENXIO)
                | Some(libc::EINVAL) => next += 1,
                // Queue full or anything else: the remaining frames are dropped.
                _ => break,
            }
        }
        out
    }

    fn poll_fd(&self) -> Option<RawFd> {
        (!self.tx_only).then_some(self.fd.as_raw_fd())
    }

    fn mtu(&self) -> usize {
        self.mtu
    }

    fn rx_queue_ids(&self) -> Vec<usize> {
        vec![self.queue_id]
    }

    /// Joins this socket to a new fanout group (the kernel picks a free group id) and
    /// opens one more socket in it per further part, up to the queues asked for.
    fn split_rx(&mut self, parts: usize) -> Vec<Box<dyn Port>> {
        let want = parts.min(self.queues);
        if want <= 1 || self.tx_only || self.rx_ring.is_some() {
            return Vec::new();
        }
        let s = self.fd.as_raw_fd();
        // CPU steering: load the program first, so a refusal still leaves a CPU fanout.
        let program = match &self.steering {
            Steering::Flow => None,
            Steering::Cpu(cpus) => match steer::SteerMap::load(cpus) {
                Ok((map, prog)) => {
                    self.steer_map = Some(Arc::new(map));
                    Some(prog)
                }
                Err(e) => {
                    tracing::warn!(port = %self.name, error = %e, "receive queues by plain CPU number instead");
                    None
                }
            },
        };
        let kind = match (&self.steering, &program) {
            (Steering::Flow, _) => sys::PACKET_FANOUT_HASH,
            (Steering::Cpu(_), Some(_)) => sys::PACKET_FANOUT_EBPF,
            (Steering::Cpu(_), None) => sys::PACKET_FANOUT_CPU,
        } | sys::PACKET_FANOUT_FLAG_DEFRAG
            // A group has its own packet hook, which ignores the sockets' own
            // PACKET_IGNORE_OUTGOING: without this, every frame rvs sends on the port would
            // come back to one of the sockets (and count in the steering).
            | sys::PACKET_FANOUT_FLAG_IGNORE_OUTGOING;
        let arg: u32 = (kind | sys::PACKET_FANOUT_FLAG_UNIQUEID) << 16;
        let group = match sys::setsockopt(s, sys::SOL_PACKET, sys::PACKET_FANOUT, &arg)
            .and_then(|()| sys::getsockopt_u32(s, sys::SOL_PACKET, sys::PACKET_FANOUT))
        {
            Ok(v) => v & 0xffff,
            Err(e) => {
                tracing::warn!(port = %self.name, error = %e, "no PACKET_FANOUT: the port keeps one receive queue");
                return Vec::new();
            }
        };
        if let Some(p) = &program {
            // The group keeps its own reference to the program.
            let fd = p.as_raw_fd();
            if let Err(e) = sys::setsockopt(s, sys::SOL_PACKET, sys::PACKET_FANOUT_DATA, &fd) {
                tracing::warn!(port = %self.name, error = %e, "cannot attach the steering program: every frame takes the first queue");
            }
        }
        let mut out: Vec<Box<dyn Port>> = Vec::with_capacity(want - 1);
        for q in 1..want {
            match self.open_fanout_part(group, kind, q) {
                Ok(p) => out.push(Box::new(p)),
                Err(e) => {
                    tracing::warn!(port = %self.name, error = %e, queues = q, "cannot open more receive queues");
                    break;
                }
            }
        }
        out
    }

    fn tx_handle(&self) -> io::Result<Box<dyn Port>> {
        // The same socket (sendmmsg from several threads is safe): same binding, same
        // virtio-net header setting.
        Ok(Box::new(AfPacketPort {
            name: self.name.clone(),
            rx_ring: None,
            fd: Arc::clone(&self.fd),
            ifindex: self.ifindex,
            mtu: self.mtu,
            vnet_hdr: self.vnet_hdr,
            tx_only: true,
            queues: 1,
            queue_id: 0,
            steering: Steering::Flow,
            steer_map: None,
        }))
    }

    fn offloads(&self) -> OffloadCaps {
        if self.vnet_hdr {
            OffloadCaps::ALL
        } else {
            OffloadCaps::NONE
        }
    }

    fn refresh(&mut self) {
        if let Ok(m) = sys::get_mtu(self.fd.as_raw_fd(), &self.name) {
            self.mtu = m;
        }
    }

    fn take_kernel_drops(&mut self) -> u64 {
        if self.tx_only {
            return 0;
        }
        ring::take_kernel_drops(self.fd.as_raw_fd()).unwrap_or(0)
    }
}

/// A raw AF_PACKET socket that hears nothing until it is bound with a protocol.
fn packet_socket() -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2); the fd is owned right away.
    let raw = cvt(unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        )
    })?;
    // SAFETY: fresh descriptor we own.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// Sets a socket buffer to [`SOCKET_BUFFER_BYTES`], past `net.core.*mem_max` when the
/// process may (`forced`), else as far as the limit allows (`plain`).
fn set_buffer(s: RawFd, forced: libc::c_int, plain: libc::c_int) -> io::Result<()> {
    if sys::setsockopt(s, libc::SOL_SOCKET, forced, &SOCKET_BUFFER_BYTES).is_err() {
        sys::setsockopt(s, libc::SOL_SOCKET, plain, &SOCKET_BUFFER_BYTES)?;
    }
    Ok(())
}

/// Binds `s` to interface `ifindex` for `protocol` (host order; 0: send only).
fn bind_to(s: RawFd, ifindex: u32, protocol: u16) -> io::Result<()> {
    // SAFETY: sockaddr_ll is plain old data.
    let mut sll: libc::sockaddr_ll = unsafe { zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = protocol.to_be();
    sll.sll_ifindex = ifindex as libc::c_int;
    // SAFETY: binds with a valid sockaddr_ll of the size passed.
    cvt(unsafe {
        libc::bind(
            s,
            (&sll as *const libc::sockaddr_ll).cast(),
            size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    })?;
    Ok(())
}

/// A classic BPF program that accepts nothing (`ret #0`), attached to a socket while it
/// joins a fanout group.
fn attach_drop_all(s: RawFd) -> io::Result<()> {
    let mut code = [libc::sock_filter {
        code: 0x06, // BPF_RET | BPF_K
        jt: 0,
        jf: 0,
        k: 0,
    }];
    let prog = libc::sock_fprog {
        len: 1,
        filter: code.as_mut_ptr(),
    };
    sys::setsockopt(s, libc::SOL_SOCKET, libc::SO_ATTACH_FILTER, &prog)
}
