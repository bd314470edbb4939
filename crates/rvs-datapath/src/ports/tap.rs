//! TAP ports: persistent TAP devices that rvsd creates and holds.
//!
//! The device is created persistent (`TUNSETPERSIST`), so it outlives rvsd: a crash or restart
//! keeps the device, its namespace and its addresses, and the restarted rvsd attaches to it
//! again. The device's kernel side may have been moved into another network namespace (it is
//! then a container's or VM's NIC); attaching searches rvsd's own namespace, then the port's
//! last known namespace, then every named namespace under `/run/netns`. A TAP fd, once open,
//! works from any namespace.
//!
//! Queues: devices are created with multi-queue support (`IFF_MULTI_QUEUE`), and a port
//! opens 1 to [`MAX_QUEUES`] of them, each a `/dev/net/tun` descriptor attached with the
//! same `TUNSETIFF` flags. The kernel hands each frame the host sends to one queue, by the
//! frame's flow (and, once rvs has written a flow to a queue, replies of that flow to the
//! same queue), or, with [`TapPort::steer_by_cpu`], by the device's steering program to
//! the queue of the thread on the sending CPU ([`crate::ports::steer`]). With several
//! queues:
//! - [`Port::poll_fd`] is an epoll instance holding every queue, readable when any is;
//!   [`Port::recv_batch`] asks it which queues are ready (one `epoll_wait` without
//!   timeout), gives each ready queue an equal share of the batch, then fills what is left,
//!   starting one queue further on every call, so a busy queue cannot starve the others;
//! - [`Port::send_batch`] writes each frame to the queue picked by [`flow_hash`] (addresses,
//!   protocol and ports), so one flow always leaves through one queue and keeps its order;
//!   one `writev` per frame, as with one queue (TAP has no batched write); the hash reads
//!   a copy of the first 66 bytes on the stack, nothing is allocated;
//! - [`Port::queue_counters`] gives the frames each queue carried;
//! - [`Port::split_rx`] shares the queues between datapath threads: queue `q` is received
//!   by part `q % parts` (its own epoll set), every part transmits on every queue, and the
//!   per-queue counters are shared atomics, so any part reports the whole port.
//!
//! Attaching to an existing device opens the same number of queues. A device made without
//! multi-queue support (by another tool) has only one: asking it for more is refused with
//! [`io::ErrorKind::Unsupported`]. Other processes may hold further queues of a
//! multi-queue device; the kernel then shares the device's frames among all holders. A
//! device created for a port becomes persistent only once every queue is open, so a
//! refused open leaves nothing behind.
//!
//! Devices are created with a virtio-net header (`IFF_VNET_HDR`). Offloads are switched on
//! at every attach with `TUNSETOFFLOAD` (checksum, TSO4/6 with ECN, and USO where the kernel
//! has it — older kernels refuse the USO bits, and rvs asks again without them), so the
//! namespace or guest behind the tap sends 64 KB GSO frames with partial checksums, and rvs
//! hands it such frames too. The setting belongs to the device (set once, through queue 0)
//! and stays after rvsd lets go. Devices made by older rvs versions already have the vnet
//! header and get their offloads on the next attach; a device opened without the vnet header
//! (one of the fallback flag sets) has no offloads: the kernel then gives complete frames
//! and rvs sends complete frames to it.
//!
//! `internal` ports are the same device kind, kept in rvsd's namespace for the host itself.

use super::netns::{
    describe_netns, in_netns, in_netns_fd, namespaces_holding, netns_id_of_fd, NetnsId,
};
use super::steer::SteerMap;
use super::sys::{self, cvt, Epoll};
use crate::offload::OffloadCaps;
use crate::packet::{RxBatch, RxSlot, TxFrame};
use crate::port::{Port, PortFault, QueueCounters, TxOutcome};
use rvs_wire::VirtioNetHdr;
use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Size of `struct virtio_net_hdr`, the TAP default.
const VNET_HDR_LEN: usize = rvs_wire::VIRTIO_NET_HDR_LEN;

/// Flag sets tried in order when attaching: a device made by rvs matches the first one;
/// devices made by other tools may lack the vnet header or multi-queue.
const FLAG_SETS: [libc::c_int; 4] = [
    libc::IFF_TAP | libc::IFF_NO_PI | libc::IFF_VNET_HDR | libc::IFF_MULTI_QUEUE,
    libc::IFF_TAP | libc::IFF_NO_PI | libc::IFF_VNET_HDR,
    libc::IFF_TAP | libc::IFF_NO_PI | libc::IFF_MULTI_QUEUE,
    libc::IFF_TAP | libc::IFF_NO_PI,
];

/// Most queues a port opens (`--queues`).
pub const MAX_QUEUES: usize = rvs_api::MAX_TAP_QUEUES as usize;

/// One queue: a TAP descriptor and the frames it carried.
struct Queue {
    /// Shared by the parts of a split port and its transmit handles.
    fd: Arc<OwnedFd>,
    /// Both counts are shared by every part of a split port and its transmit handles.
    rx_packets: Arc<AtomicU64>,
    tx_packets: Arc<AtomicU64>,
}

impl Queue {
    /// The same queue (descriptor and counters), for another part of a split port.
    fn share(&self) -> Queue {
        Queue {
            fd: Arc::clone(&self.fd),
            rx_packets: self.rx_packets.clone(),
            tx_packets: self.tx_packets.clone(),
        }
    }
}

pub struct TapPort {
    name: String,
    /// At least one; queue 0 also serves the device ioctls. All of them transmit.
    queues: Vec<Queue>,
    /// Bit `q`: this port receives on queue `q` (all of them, unless the port was split
    /// over several threads with [`Port::split_rx`]).
    rx_mask: u32,
    /// Epoll instance holding the queues received on (only with more than one queue).
    group: Option<Epoll>,
    /// Buffer for the group's ready events.
    ready: [libc::epoll_event; MAX_QUEUES],
    /// Queue that is read first by the next receive (rotates, so no queue starves).
    next_rx: usize,
    /// Socket in the device's namespace, for MTU and flag ioctls.
    ctl: Arc<OwnedFd>,
    vnet_hdr: bool,
    /// Offloads enabled with `TUNSETOFFLOAD` (none without the vnet header).
    caps: OffloadCaps,
    mtu: usize,
    netns: Option<String>,
    /// Namespace `ctl` lives in; when the device moves, `ctl` is reopened where it went.
    ctl_netns: Option<NetnsId>,
    /// With CPU steering ([`TapPort::steer_by_cpu`]): the program's map, where each queue
    /// says how far it has read. Shared by the parts.
    steer: Option<Arc<SteerMap>>,
}

/// `TUNGETDEVNETNS`: a descriptor of the namespace the device currently lives in.
const TUNGETDEVNETNS: libc::c_ulong = 0x54e3;
/// `TUNSETSTEERINGEBPF` (`_IOR('T', 224, int)`): the program that picks the queue of each
/// frame the host sends (-1 detaches it).
const TUNSETSTEERINGEBPF: libc::c_ulong = 0x8004_54e0;

/// Sets (or with -1 detaches) the device's steering program.
fn set_steering_program(fd: &OwnedFd, prog: RawFd) -> io::Result<()> {
    let arg: libc::c_int = prog;
    // SAFETY: TUNSETSTEERINGEBPF reads an int through the pointer, which is live.
    cvt(unsafe {
        libc::ioctl(
            fd.as_raw_fd(),
            TUNSETSTEERINGEBPF,
            &arg as *const libc::c_int,
        )
    })?;
    Ok(())
}

fn device_netns(tun: &OwnedFd) -> io::Result<OwnedFd> {
    // SAFETY: the ioctl returns a new descriptor, owned right away.
    let fd = cvt(unsafe { libc::ioctl(tun.as_raw_fd(), TUNGETDEVNETNS as _) })?;
    // SAFETY: fresh descriptor we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Offload flag sets tried in order with `TUNSETOFFLOAD`, and what each means for rvs.
const OFFLOAD_SETS: [(libc::c_uint, OffloadCaps); 2] = [
    (
        libc::TUN_F_CSUM
            | libc::TUN_F_TSO4
            | libc::TUN_F_TSO6
            | libc::TUN_F_TSO_ECN
            | libc::TUN_F_USO4
            | libc::TUN_F_USO6,
        OffloadCaps::ALL,
    ),
    (
        libc::TUN_F_CSUM | libc::TUN_F_TSO4 | libc::TUN_F_TSO6 | libc::TUN_F_TSO_ECN,
        OffloadCaps::CSUM
            .union(OffloadCaps::TSO4)
            .union(OffloadCaps::TSO6)
            .union(OffloadCaps::TSO_ECN),
    ),
];

/// Lets the device hand us (and take from us) partial checksums and GSO frames.
fn enable_offloads(name: &str, tun: &OwnedFd) -> OffloadCaps {
    let mut last = None;
    for (flags, caps) in OFFLOAD_SETS {
        // SAFETY: TUNSETOFFLOAD takes an integer argument.
        match cvt(unsafe {
            libc::ioctl(
                tun.as_raw_fd(),
                libc::TUNSETOFFLOAD as _,
                libc::c_ulong::from(flags),
            )
        }) {
            Ok(_) => return caps,
            Err(e) => last = Some(e),
        }
    }
    if let Some(e) = last {
        tracing::warn!(port = name, error = %e, "TUNSETOFFLOAD refused; tap runs without offloads");
    }
    OffloadCaps::NONE
}

/// How an attach went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TapAttach {
    /// Namespace the device lives in (`None`: rvsd's own).
    pub netns: Option<String>,
    /// Whether the device was created now (it did not exist anywhere).
    pub created: bool,
}

fn open_tun(name: &str, flags: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: open(2) with a static path; the fd is owned right away.
    let fd = cvt(unsafe {
        libc::open(
            c"/dev/net/tun".as_ptr(),
            libc::O_RDWR | libc::O_NONBLOCK | libc::O_CLOEXEC,
        )
    })?;
    // SAFETY: fresh descriptor we own.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut req = sys::ifreq(name)?;
    req.ifr_ifru.ifru_flags = flags as libc::c_short;
    // SAFETY: TUNSETIFF reads a valid ifreq.
    cvt(unsafe { libc::ioctl(fd.as_raw_fd(), libc::TUNSETIFF, &mut req) })?;
    Ok(fd)
}

/// Attaches to an existing TAP device `name` in the calling thread's namespace: the first
/// queue finds the flags the device takes, the others use the same. Returns the queues and
/// whether they carry the vnet header.
fn attach_here(name: &str, queues: usize) -> io::Result<(Vec<OwnedFd>, bool)> {
    let mut last = io::Error::from_raw_os_error(libc::EINVAL);
    for flags in FLAG_SETS {
        match open_tun(name, flags) {
            Ok(fd) => {
                let fds = more_queues(name, flags, fd, queues)?;
                return Ok((fds, flags & libc::IFF_VNET_HDR != 0));
            }
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => last = e,
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                return Err(io::Error::new(
                    io::ErrorKind::ResourceBusy,
                    format!(
                    "tap '{name}' is held by another process; attach it with --type system instead"
                ),
                ))
            }
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("interface '{name}' exists but is not a tap device ({last}); use --type system for existing interfaces"),
    ))
}

/// Opens queues 1.. of a device whose queue 0 is `first` (opened with `flags`).
fn more_queues(
    name: &str,
    flags: libc::c_int,
    first: OwnedFd,
    queues: usize,
) -> io::Result<Vec<OwnedFd>> {
    if queues > 1 && flags & libc::IFF_MULTI_QUEUE == 0 {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!(
                "tap '{name}' was created without multi-queue support and has one queue; \
                 use --queues 1, or delete the device so rvs creates it with {queues} queues"
            ),
        ));
    }
    let mut fds = Vec::with_capacity(queues);
    fds.push(first);
    for q in 1..queues {
        let fd = open_tun(name, flags).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot open queue {q} of {queues} of tap '{name}': {e}"),
            )
        })?;
        fds.push(fd);
    }
    Ok(fds)
}

fn set_persist(fd: &OwnedFd, on: bool) -> io::Result<()> {
    // SAFETY: TUNSETPERSIST takes an integer argument.
    cvt(unsafe { libc::ioctl(fd.as_raw_fd(), libc::TUNSETPERSIST, libc::c_ulong::from(on)) })?;
    Ok(())
}

type Opening = (Vec<OwnedFd>, OwnedFd, bool);

fn open_in(ns: Option<&str>, name: &str, create: bool, queues: usize) -> io::Result<Opening> {
    let name = name.to_string();
    let work = move || -> io::Result<Opening> {
        let (fds, vnet) = if create {
            // Made persistent only once the port is complete: until then, closing the
            // queues deletes the device again.
            let fd = open_tun(&name, FLAG_SETS[0])?;
            (more_queues(&name, FLAG_SETS[0], fd, queues)?, true)
        } else {
            attach_here(&name, queues)?
        };
        Ok((fds, sys::control_socket()?, vnet))
    };
    match ns {
        None => work(),
        Some(ns) => in_netns(ns, work),
    }
}

fn check_queue_count(queues: usize) -> io::Result<()> {
    if (1..=MAX_QUEUES).contains(&queues) {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{queues} queues: a tap port has 1 to {MAX_QUEUES}"),
        ))
    }
}

impl TapPort {
    /// Attaches `queues` queues to the TAP device `name` wherever it lives, or creates it
    /// in rvsd's own namespace. `netns_hint` is where it was last seen.
    pub fn open_or_create(
        name: &str,
        netns_hint: Option<&str>,
        queues: usize,
    ) -> io::Result<(TapPort, TapAttach)> {
        sys::check_ifname(name)?;
        check_queue_count(queues)?;
        let mut refused: Option<io::Error> = None;
        for ns in namespaces_holding(name, netns_hint) {
            match open_in(ns.as_deref(), name, false, queues) {
                Ok((fds, ctl, vnet_hdr)) => {
                    let port = Self::finish(name, fds, ctl, vnet_hdr, ns.clone())?;
                    return Ok((
                        port,
                        TapAttach {
                            netns: ns,
                            created: false,
                        },
                    ));
                }
                // A same-named non-tap interface in some container is not ours; keep looking.
                Err(e) if e.kind() == io::ErrorKind::InvalidInput && ns.is_some() => {
                    refused = Some(e)
                }
                Err(e) => return Err(e),
            }
        }
        if let Some(e) = refused.filter(|_| sys::if_index(name).is_ok()) {
            return Err(e);
        }
        let (fds, ctl, vnet_hdr) = open_in(None, name, true, queues)?;
        let port = Self::finish(name, fds, ctl, vnet_hdr, None)?;
        if let Some(fd) = port.main_fd() {
            set_persist(fd, true)?;
        }
        Ok((
            port,
            TapAttach {
                netns: None,
                created: true,
            },
        ))
    }

    /// Attaches one queue to the device only if it exists somewhere (never creates it).
    pub fn open_existing(name: &str, netns_hint: Option<&str>) -> Option<TapPort> {
        namespaces_holding(name, netns_hint)
            .into_iter()
            .find_map(|ns| {
                open_in(ns.as_deref(), name, false, 1)
                    .ok()
                    .and_then(|(fds, ctl, vnet)| Self::finish(name, fds, ctl, vnet, ns).ok())
            })
    }

    fn finish(
        name: &str,
        fds: Vec<OwnedFd>,
        ctl: OwnedFd,
        vnet_hdr: bool,
        netns: Option<String>,
    ) -> io::Result<TapPort> {
        let first = fds.first().ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "a tap port needs a queue")
        })?;
        let mtu = sys::get_mtu(ctl.as_raw_fd(), name).unwrap_or(1500);
        let ctl_netns = device_netns(first)
            .and_then(|ns| netns_id_of_fd(ns.as_fd()))
            .ok();
        // Offloads are a property of the device: set once, through any queue.
        let caps = if vnet_hdr {
            enable_offloads(name, first)
        } else {
            OffloadCaps::NONE
        };
        let queues: Vec<Queue> = fds
            .into_iter()
            .map(|fd| Queue {
                fd: Arc::new(fd),
                rx_packets: Arc::new(AtomicU64::new(0)),
                tx_packets: Arc::new(AtomicU64::new(0)),
            })
            .collect();
        // The device is persistent: a steering program left by an earlier rvsd would
        // still pick queues. Until this port steers, the kernel picks by flow again
        // (kernels without steering programs refuse the call, which changes nothing).
        if let Some(q) = queues.first() {
            let _ = set_steering_program(&q.fd, -1);
        }
        let rx_mask = all_queues(queues.len());
        Ok(TapPort {
            name: name.to_string(),
            group: rx_group(&queues, rx_mask)?,
            rx_mask,
            queues,
            ready: [libc::epoll_event { events: 0, u64: 0 }; MAX_QUEUES],
            next_rx: 0,
            ctl: Arc::new(ctl),
            vnet_hdr,
            caps,
            mtu,
            netns,
            ctl_netns,
            steer: None,
        })
    }

    pub fn netns(&self) -> Option<&str> {
        self.netns.as_deref()
    }

    /// Queues the port reads and writes.
    pub fn queue_count(&self) -> usize {
        self.queues.len()
    }

    /// Brings the device up (for internal ports).
    pub fn set_up(&self) -> io::Result<()> {
        sys::set_link_up(self.ctl.as_raw_fd(), &self.name)
    }

    /// A port on the same device and queues (shared descriptors and counters) that
    /// receives on the queues of `rx_mask`.
    fn part(&self, rx_mask: u32) -> io::Result<TapPort> {
        let queues: Vec<Queue> = self.queues.iter().map(Queue::share).collect();
        Ok(TapPort {
            name: self.name.clone(),
            group: rx_group(&queues, rx_mask)?,
            rx_mask,
            queues,
            ready: [libc::epoll_event { events: 0, u64: 0 }; MAX_QUEUES],
            next_rx: 0,
            ctl: Arc::clone(&self.ctl),
            vnet_hdr: self.vnet_hdr,
            caps: self.caps,
            mtu: self.mtu,
            netns: self.netns.clone(),
            ctl_netns: self.ctl_netns,
            steer: self.steer.clone(),
        })
    }

    /// Steers each frame the host sends to the queue whose thread is pinned to the CPU
    /// that sent it (queue q's thread on `cpus[q]`; further queues get nothing), a flow
    /// moving only once its old queue is read ([`crate::ports::steer`]): the program is the
    /// device's `TUNSETSTEERINGEBPF`. Call before [`Port::split_rx`]. Needs at least as
    /// many queues as CPUs.
    pub fn steer_by_cpu(&mut self, cpus: &[usize]) -> io::Result<()> {
        if cpus.len() > self.queues.len() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "tap '{}' has {} queues, fewer than the {} CPUs to steer to",
                    self.name,
                    self.queues.len(),
                    cpus.len()
                ),
            ));
        }
        let (map, prog) = SteerMap::load(cpus)?;
        let fd = self.main_fd().ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "a tap port needs a queue")
        })?;
        set_steering_program(fd, prog.as_raw_fd()).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "cannot attach the steering program to tap '{}': {e}",
                    self.name
                ),
            )
        })?;
        self.steer = Some(Arc::new(map));
        Ok(())
    }

    /// Descriptor of queue 0 (device ioctls).
    fn main_fd(&self) -> Option<&OwnedFd> {
        self.queues.first().map(|q| q.fd.as_ref())
    }

    /// Bit `q` set for each queue received on with frames waiting.
    fn ready_queues(&mut self) -> u32 {
        let Some(group) = &self.group else {
            return self.rx_mask;
        };
        group
            .wait(&mut self.ready, 0)
            .iter()
            .filter_map(|ev| u32::try_from(ev.u64).ok())
            .filter(|&q| (q as usize) < MAX_QUEUES)
            .fold(0, |mask, q| mask | (1 << q))
    }

    /// Reads up to `limit` frames from queue `qi` into `slots`; returns how many, and
    /// whether the queue ran empty.
    fn read_queue(
        &mut self,
        qi: usize,
        slots: &mut [RxSlot],
        limit: usize,
    ) -> Result<(usize, bool), PortFault> {
        let vnet_hdr = self.vnet_hdr;
        // CPU steering: what was steered here before this read; all of it is read once the
        // queue runs empty.
        let steered = self.steer.as_ref().map(|m| m.steered(qi));
        let Some(q) = self.queues.get_mut(qi) else {
            return Ok((0, true));
        };
        let fd = q.fd.as_raw_fd();
        let mut hdr = [0u8; VNET_HDR_LEN];
        let mut n = 0;
        let mut empty = false;
        for slot in slots.iter_mut().take(limit) {
            let area = slot.recv_area();
            let mut iov = [
                libc::iovec {
                    iov_base: hdr.as_mut_ptr().cast(),
                    iov_len: VNET_HDR_LEN,
                },
                libc::iovec {
                    iov_base: area.as_mut_ptr().cast(),
                    iov_len: area.len(),
                },
            ];
            let (iov_ptr, iov_cnt) = if vnet_hdr {
                (iov.as_mut_ptr(), 2)
            } else {
                (iov[1..].as_mut_ptr(), 1)
            };
            // SAFETY: the iovecs point into live buffers of the stated lengths.
            let r = unsafe { libc::readv(fd, iov_ptr, iov_cnt) };
            if r < 0 {
                let e = io::Error::last_os_error();
                match e.raw_os_error() {
                    Some(libc::EAGAIN) | Some(libc::EINTR) => {
                        empty = true;
                        break;
                    }
                    Some(libc::EBADFD) | Some(libc::EIO) | Some(libc::ENODEV) => {
                        q.rx_packets.fetch_add(n as u64, Ordering::Relaxed);
                        return Err(PortFault::InterfaceGone);
                    }
                    _ => {
                        q.rx_packets.fetch_add(n as u64, Ordering::Relaxed);
                        return Err(PortFault::Io(e.to_string()));
                    }
                }
            }
            let got = usize::try_from(r).unwrap_or(0);
            let len = if vnet_hdr {
                got.saturating_sub(VNET_HDR_LEN)
            } else {
                got
            };
            slot.set_received(len, len);
            if vnet_hdr {
                slot.set_vnet(VirtioNetHdr::from_bytes(&hdr));
            }
            n += 1;
        }
        q.rx_packets.fetch_add(n as u64, Ordering::Relaxed);
        if let (true, Some(m), Some(v)) = (empty, &self.steer, steered) {
            m.read_up_to(qi, v);
        }
        Ok((n, empty || n < limit))
    }
}

/// Hash of the flow a frame belongs to: addresses, protocol and L4 ports of IPv4/IPv6
/// (ports only for unfragmented TCP, UDP, SCTP and UDP-Lite, and for IPv6 only when no
/// extension header comes first), else the MAC addresses and EtherType. Up to two VLAN
/// tags are skipped, so a tag edit does not move a flow.
pub fn flow_hash(frame: &TxFrame<'_>) -> u64 {
    // Ethernet, two tags, IPv6 and the ports: 14 + 8 + 40 + 4.
    let mut buf = [0u8; 66];
    let n = frame.copy_prefix(&mut buf);
    headers_hash(buf.get(..n).unwrap_or(&[]))
}

fn headers_hash(b: &[u8]) -> u64 {
    use rvs_flow::hash::{finish, mix, start};
    let bytes = |off: usize, len: usize| b.get(off..off + len);
    let word = |s: &[u8]| s.iter().fold(0u64, |w, &x| (w << 8) | u64::from(x));
    let be16 = |off: usize| bytes(off, 2).map(word);
    let has_ports = |proto: u8| matches!(proto, 6 | 17 | 132 | 136);
    let mut h = start();
    let mut off = 12;
    let mut ethertype = be16(off);
    for _ in 0..2 {
        if matches!(ethertype, Some(0x8100) | Some(0x88a8)) {
            off += 4;
            ethertype = be16(off);
        }
    }
    let l3 = off + 2;
    match ethertype {
        Some(0x0800) => {
            let ihl = usize::from(b.get(l3).copied().unwrap_or(0) & 0x0f) * 4;
            let proto = b.get(l3 + 9).copied().unwrap_or(0);
            let fragment = be16(l3 + 6).is_some_and(|f| f & 0x3fff != 0);
            if let Some(addrs) = bytes(l3 + 12, 8) {
                let ports = bytes(l3 + ihl, 4)
                    .filter(|_| ihl >= 20 && !fragment && has_ports(proto))
                    .map_or(0, word);
                return finish(mix(mix(h, word(addrs)), (u64::from(proto) << 32) | ports));
            }
        }
        Some(0x86dd) => {
            let next = b.get(l3 + 6).copied().unwrap_or(0);
            if let Some(addrs) = bytes(l3 + 8, 32) {
                for w in addrs.chunks(8) {
                    h = mix(h, word(w));
                }
                let ports = bytes(l3 + 40, 4)
                    .filter(|_| has_ports(next))
                    .map_or(0, word);
                return finish(mix(h, (u64::from(next) << 32) | ports));
            }
        }
        _ => {}
    }
    h = mix(h, bytes(0, 12).map_or(0, word));
    finish(mix(h, ethertype.unwrap_or(0)))
}

/// Bits for queues `0..n`.
fn all_queues(n: usize) -> u32 {
    (0..n.min(32)).fold(0, |m, q| m | (1 << q))
}

/// An epoll instance over the queues of `rx_mask` (none for a port with one queue, whose
/// descriptor is polled directly, and none for a transmit handle, which polls nothing).
fn rx_group(queues: &[Queue], rx_mask: u32) -> io::Result<Option<Epoll>> {
    if queues.len() <= 1 || rx_mask == 0 {
        return Ok(None);
    }
    let g = Epoll::new()?;
    for (q, queue) in queues.iter().enumerate() {
        if rx_mask & (1 << q) != 0 {
            g.add(queue.fd.as_raw_fd(), q as u64)?;
        }
    }
    Ok(Some(g))
}

/// The queue of `nq` that carries the flow with hash `h`.
fn queue_for(h: u64, nq: usize) -> usize {
    // Multiply-shift onto 0..nq (the high bits of a good hash are as good as the low ones).
    (((h >> 32) * nq as u64) >> 32) as usize
}

impl Port for TapPort {
    fn name(&self) -> &str {
        &self.name
    }

    fn recv_batch(&mut self, batch: &mut RxBatch) -> Result<usize, PortFault> {
        let nq = self.queues.len();
        let mut ready = self.ready_queues();
        let slots = batch.free_slots();
        let mut filled = 0;
        // First pass: each ready queue gets an equal share of the room; second pass: what
        // is left goes to queues that still have frames. The start rotates every call.
        let share = slots.len().div_ceil(ready.count_ones().max(1) as usize);
        for limit in [share, usize::MAX] {
            for k in 0..nq {
                let qi = (self.next_rx + k) % nq;
                if ready & (1 << qi) == 0 {
                    continue;
                }
                let rest = slots.get_mut(filled..).unwrap_or_default();
                if rest.is_empty() {
                    break;
                }
                match self.read_queue(qi, rest, limit) {
                    Ok((n, empty)) => {
                        filled += n;
                        if empty {
                            ready &= !(1 << qi);
                        }
                    }
                    Err(fault) => {
                        batch.commit(filled);
                        return Err(fault);
                    }
                }
            }
        }
        self.next_rx = (self.next_rx + 1) % nq.max(1);
        batch.commit(filled);
        Ok(filled)
    }

    fn send_batch(&mut self, frames: &[TxFrame<'_>]) -> TxOutcome {
        let mut out = TxOutcome::default();
        let nq = self.queues.len();
        for f in frames {
            let qi = if nq > 1 {
                queue_for(flow_hash(f), nq)
            } else {
                0
            };
            let Some(q) = self.queues.get_mut(qi) else {
                continue;
            };
            if write_frame(q.fd.as_raw_fd(), self.vnet_hdr, f) {
                q.tx_packets.fetch_add(1, Ordering::Relaxed);
                out.sent += 1;
                out.bytes += f.len() as u64;
            }
        }
        out
    }

    /// A part that receives on no queue: it transmits on every queue, per flow, like the
    /// port, and shares its descriptors and counters.
    fn tx_handle(&self) -> io::Result<Box<dyn Port>> {
        Ok(Box::new(self.part(0)?))
    }

    fn rx_queues(&self) -> usize {
        self.rx_mask.count_ones() as usize
    }

    fn rx_queue_ids(&self) -> Vec<usize> {
        (0..self.queues.len())
            .filter(|q| self.rx_mask & (1 << q) != 0)
            .collect()
    }

    /// Queue `q` goes to part `q % parts`; this port is part 0. Every part transmits on
    /// every queue, like the whole port.
    fn split_rx(&mut self, parts: usize) -> Vec<Box<dyn Port>> {
        let k = parts.min(self.queues.len());
        if k <= 1 {
            return Vec::new();
        }
        let mask_of = |i: usize| -> u32 {
            (0..self.queues.len())
                .filter(|q| q % k == i)
                .fold(0, |m, q| m | (1 << q))
        };
        let mut out: Vec<Box<dyn Port>> = Vec::with_capacity(k - 1);
        for i in 1..k {
            match self.part(mask_of(i)) {
                Ok(p) => out.push(Box::new(p)),
                Err(e) => {
                    tracing::warn!(port = %self.name, error = %e, "cannot split the queues over threads; one thread receives on all");
                    return Vec::new();
                }
            }
        }
        match rx_group(&self.queues, mask_of(0)) {
            Ok(g) => {
                self.group = g;
                self.rx_mask = mask_of(0);
                out
            }
            Err(e) => {
                tracing::warn!(port = %self.name, error = %e, "cannot split the queues over threads; one thread receives on all");
                Vec::new()
            }
        }
    }

    fn poll_fd(&self) -> Option<RawFd> {
        match &self.group {
            Some(g) => Some(g.as_raw_fd()),
            // A transmit handle receives on no queue.
            None if self.rx_mask == 0 => None,
            None => self.main_fd().map(AsRawFd::as_raw_fd),
        }
    }

    fn mtu(&self) -> usize {
        self.mtu
    }

    fn offloads(&self) -> OffloadCaps {
        self.caps
    }

    fn queue_counters(&self) -> Vec<QueueCounters> {
        if self.queues.len() < 2 {
            return Vec::new();
        }
        self.queues
            .iter()
            .map(|q| QueueCounters {
                rx_packets: q.rx_packets.load(Ordering::Relaxed),
                tx_packets: q.tx_packets.load(Ordering::Relaxed),
            })
            .collect()
    }

    fn refresh(&mut self) {
        // The device's kernel side may have moved to another namespace since the last look.
        if let Some(Ok(ns)) = self.main_fd().map(device_netns) {
            if let Ok(id) = netns_id_of_fd(ns.as_fd()) {
                if Some(id) != self.ctl_netns {
                    if let Ok(ctl) = in_netns_fd(ns.as_fd(), sys::control_socket) {
                        self.ctl = Arc::new(ctl);
                        self.ctl_netns = Some(id);
                        self.netns = describe_netns(id);
                    }
                }
            }
        }
        if let Ok(m) = sys::get_mtu(self.ctl.as_raw_fd(), &self.name) {
            self.mtu = m;
        }
    }

    fn netns(&self) -> Option<String> {
        self.netns.clone()
    }

    fn destroy(self: Box<Self>) -> io::Result<()> {
        // Closing every queue afterwards deletes the device.
        match self.main_fd() {
            Some(fd) => set_persist(fd, false),
            None => Ok(()),
        }
    }
}

/// Writes one frame (with its virtio-net header when the device has them) to a queue.
/// False when the kernel refused it: EAGAIN (the queue is full) or EIO (link down).
fn write_frame(fd: RawFd, vnet_hdr: bool, f: &TxFrame<'_>) -> bool {
    let hdr: [u8; VNET_HDR_LEN] = f.vnet.for_transmit().to_bytes();
    let tag = f.tag.unwrap_or([0; 4]);
    let mut iov: [libc::iovec; 4] = [libc::iovec {
        iov_base: std::ptr::null_mut(),
        iov_len: 0,
    }; 4];
    let mut cnt = 0;
    let mut push = |p: *const u8, l: usize| {
        if l > 0 {
            iov[cnt] = libc::iovec {
                iov_base: p as *mut libc::c_void,
                iov_len: l,
            };
            cnt += 1;
        }
    };
    if vnet_hdr {
        push(hdr.as_ptr(), VNET_HDR_LEN);
    }
    push(f.head.as_ptr(), f.head.len());
    if f.tag.is_some() {
        push(tag.as_ptr(), 4);
    }
    push(f.tail.as_ptr(), f.tail.len());
    // SAFETY: every iovec points into a live buffer of its stated length.
    let r = unsafe { libc::writev(fd, iov.as_ptr(), cnt as libc::c_int) };
    r >= 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ethernet + optional 802.1Q tag + IPv4 + UDP header.
    fn udp4(src_port: u16, dst_port: u16, tag: bool, frag: u16) -> Vec<u8> {
        let mut f = vec![0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2];
        if tag {
            f.extend_from_slice(&[0x81, 0x00, 0x00, 0x0a]);
        }
        f.extend_from_slice(&[0x08, 0x00]);
        f.extend_from_slice(&[0x45, 0, 0, 28, 0, 1]);
        f.extend_from_slice(&frag.to_be_bytes());
        f.extend_from_slice(&[64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
        f.extend_from_slice(&src_port.to_be_bytes());
        f.extend_from_slice(&dst_port.to_be_bytes());
        f.extend_from_slice(&[0, 8, 0, 0]);
        f
    }

    fn udp6(src_port: u16) -> Vec<u8> {
        let mut f = vec![0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x86, 0xdd];
        f.extend_from_slice(&[0x60, 0, 0, 0, 0, 8, 17, 64]);
        f.extend((0u8..32).map(|i| i / 16 + 1));
        f.extend_from_slice(&src_port.to_be_bytes());
        f.extend_from_slice(&[0x13, 0x88, 0, 8, 0, 0]);
        f
    }

    fn hash(frame: &[u8]) -> u64 {
        flow_hash(&TxFrame::whole(frame))
    }

    #[test]
    fn a_flow_keeps_its_hash_whatever_the_tag_or_payload() {
        let plain = udp4(4000, 5000, false, 0);
        let tagged = udp4(4000, 5000, true, 0);
        assert_eq!(hash(&plain), hash(&tagged));
        // The tag in its own piece, as the datapath hands it over.
        let split = TxFrame {
            head: &plain[..12],
            tag: Some([0x81, 0x00, 0x00, 0x14]),
            tail: &plain[12..],
            vnet: VirtioNetHdr::NONE,
        };
        assert_eq!(flow_hash(&split), hash(&plain));
        let mut longer = plain.clone();
        longer.extend_from_slice(&[0xab; 100]);
        assert_eq!(hash(&longer), hash(&plain));
        assert_ne!(hash(&plain), hash(&udp4(4001, 5000, false, 0)));
        assert_ne!(hash(&udp6(4000)), hash(&udp6(4001)));
    }

    #[test]
    fn fragments_hash_by_addresses_only() {
        // A later fragment has no ports: every fragment of a datagram takes one queue.
        assert_eq!(
            hash(&udp4(1, 2, false, 0x0010)),
            hash(&udp4(3, 4, false, 0x0020))
        );
    }

    #[test]
    fn flows_spread_over_every_queue() {
        for nq in [2usize, 4, 16] {
            let mut per_queue = vec![0u32; nq];
            for port in 0..(64 * nq as u16) {
                per_queue[queue_for(hash(&udp4(10_000 + port, 53, false, 0)), nq)] += 1;
            }
            let fair = 64;
            assert!(
                per_queue.iter().all(|&n| n > fair / 3 && n < fair * 3),
                "{nq} queues: {per_queue:?}"
            );
        }
    }

    #[test]
    fn short_and_odd_frames_hash_without_panicking() {
        let full = udp6(7);
        for len in 0..full.len() {
            let _ = hash(&full[..len]);
        }
        let full = udp4(1, 2, true, 0);
        for len in 0..full.len() {
            let _ = hash(&full[..len]);
        }
        // A bogus IHL below 20 must not take bytes of the IP header as ports.
        let mut f = udp4(1, 2, false, 0);
        f[14] = 0x41;
        let _ = hash(&f);
        for nq in 1..=MAX_QUEUES {
            assert!(queue_for(u64::MAX, nq) < nq);
            assert_eq!(queue_for(0, nq), 0);
        }
    }
}
