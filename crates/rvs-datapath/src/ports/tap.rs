//! TAP ports: persistent TAP devices that rvsd creates and holds.
//!
//! The device is created persistent (`TUNSETPERSIST`), so it outlives rvsd: a crash or restart
//! keeps the device, its namespace and its addresses, and the restarted rvsd attaches to it
//! again. The device's kernel side may have been moved into another network namespace (it is
//! then a container's or VM's NIC); attaching searches rvsd's own namespace, then the port's
//! last known namespace, then every named namespace under `/run/netns`. A TAP fd, once open,
//! works from any namespace.
//!
//! Devices are created with a virtio-net header (`IFF_VNET_HDR`) and multi-queue support.
//! Offloads are switched on at every attach with `TUNSETOFFLOAD` (checksum, TSO4/6 with
//! ECN, and USO where the kernel has it — older kernels refuse the USO bits, and rvs asks
//! again without them), so the namespace or guest behind the tap sends 64 KB GSO frames with
//! partial checksums, and rvs hands it such frames too. The setting belongs to the device
//! and stays after rvsd lets go. Devices made by older rvs versions already have the vnet
//! header and get their offloads on the next attach; a device opened without the vnet header
//! (one of the fallback flag sets) has no offloads: the kernel then gives complete frames
//! and rvs sends complete frames to it.
//!
//! `internal` ports are the same device kind, kept in rvsd's namespace for the host itself.

use super::netns::{
    describe_netns, in_netns, in_netns_fd, namespaces_holding, netns_id_of_fd, NetnsId,
};
use super::sys::{self, cvt};
use crate::offload::OffloadCaps;
use crate::packet::{RxBatch, TxFrame};
use crate::port::{Port, PortFault, TxOutcome};
use rvs_wire::VirtioNetHdr;
use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};

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

pub struct TapPort {
    name: String,
    tun: OwnedFd,
    /// Socket in the device's namespace, for MTU and flag ioctls.
    ctl: OwnedFd,
    vnet_hdr: bool,
    /// Offloads enabled with `TUNSETOFFLOAD` (none without the vnet header).
    caps: OffloadCaps,
    mtu: usize,
    netns: Option<String>,
    /// Namespace `ctl` lives in; when the device moves, `ctl` is reopened where it went.
    ctl_netns: Option<NetnsId>,
}

/// `TUNGETDEVNETNS`: a descriptor of the namespace the device currently lives in.
const TUNGETDEVNETNS: libc::c_ulong = 0x54e3;

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

/// Attaches to an existing TAP device `name` in the calling thread's namespace.
fn attach_here(name: &str) -> io::Result<(OwnedFd, bool)> {
    let mut last = io::Error::from_raw_os_error(libc::EINVAL);
    for flags in FLAG_SETS {
        match open_tun(name, flags) {
            Ok(fd) => return Ok((fd, flags & libc::IFF_VNET_HDR != 0)),
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

fn open_in(ns: Option<&str>, name: &str, create: bool) -> io::Result<(OwnedFd, OwnedFd, bool)> {
    let name = name.to_string();
    let work = move || -> io::Result<(OwnedFd, OwnedFd, bool)> {
        let (tun, vnet) = if create {
            let fd = open_tun(&name, FLAG_SETS[0])?;
            // SAFETY: TUNSETPERSIST takes an integer argument.
            cvt(unsafe { libc::ioctl(fd.as_raw_fd(), libc::TUNSETPERSIST, 1 as libc::c_ulong) })?;
            (fd, true)
        } else {
            attach_here(&name)?
        };
        Ok((tun, sys::control_socket()?, vnet))
    };
    match ns {
        None => work(),
        Some(ns) => in_netns(ns, work),
    }
}

impl TapPort {
    /// Attaches to the TAP device `name` wherever it lives, or creates it in rvsd's own
    /// namespace. `netns_hint` is where it was last seen.
    pub fn open_or_create(
        name: &str,
        netns_hint: Option<&str>,
    ) -> io::Result<(TapPort, TapAttach)> {
        sys::check_ifname(name)?;
        let mut refused: Option<io::Error> = None;
        for ns in namespaces_holding(name, netns_hint) {
            match open_in(ns.as_deref(), name, false) {
                Ok((tun, ctl, vnet_hdr)) => {
                    let port = Self::finish(name, tun, ctl, vnet_hdr, ns.clone());
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
        let (tun, ctl, vnet_hdr) = open_in(None, name, true)?;
        Ok((
            Self::finish(name, tun, ctl, vnet_hdr, None),
            TapAttach {
                netns: None,
                created: true,
            },
        ))
    }

    /// Attaches to the device only if it exists somewhere (never creates it).
    pub fn open_existing(name: &str, netns_hint: Option<&str>) -> Option<TapPort> {
        namespaces_holding(name, netns_hint)
            .into_iter()
            .find_map(|ns| {
                open_in(ns.as_deref(), name, false)
                    .ok()
                    .map(|(tun, ctl, vnet)| Self::finish(name, tun, ctl, vnet, ns))
            })
    }

    fn finish(
        name: &str,
        tun: OwnedFd,
        ctl: OwnedFd,
        vnet_hdr: bool,
        netns: Option<String>,
    ) -> TapPort {
        let mtu = sys::get_mtu(ctl.as_raw_fd(), name).unwrap_or(1500);
        let ctl_netns = device_netns(&tun)
            .and_then(|ns| netns_id_of_fd(ns.as_fd()))
            .ok();
        let caps = if vnet_hdr {
            enable_offloads(name, &tun)
        } else {
            OffloadCaps::NONE
        };
        TapPort {
            name: name.to_string(),
            tun,
            ctl,
            vnet_hdr,
            caps,
            mtu,
            netns,
            ctl_netns,
        }
    }

    pub fn netns(&self) -> Option<&str> {
        self.netns.as_deref()
    }

    /// Brings the device up (for internal ports).
    pub fn set_up(&self) -> io::Result<()> {
        sys::set_link_up(self.ctl.as_raw_fd(), &self.name)
    }
}

impl Port for TapPort {
    fn name(&self) -> &str {
        &self.name
    }

    fn recv_batch(&mut self, batch: &mut RxBatch) -> Result<usize, PortFault> {
        let mut hdr = [0u8; VNET_HDR_LEN];
        let mut n = 0;
        let fd = self.tun.as_raw_fd();
        for slot in batch.free_slots() {
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
            let (iov_ptr, iov_cnt) = if self.vnet_hdr {
                (iov.as_mut_ptr(), 2)
            } else {
                (iov[1..].as_mut_ptr(), 1)
            };
            // SAFETY: the iovecs point into live buffers of the stated lengths.
            let r = unsafe { libc::readv(fd, iov_ptr, iov_cnt) };
            if r < 0 {
                let e = io::Error::last_os_error();
                match e.raw_os_error() {
                    Some(libc::EAGAIN) | Some(libc::EINTR) => break,
                    Some(libc::EBADFD) | Some(libc::EIO) | Some(libc::ENODEV) => {
                        batch.commit(n);
                        return Err(PortFault::InterfaceGone);
                    }
                    _ => {
                        batch.commit(n);
                        return Err(PortFault::Io(e.to_string()));
                    }
                }
            }
            let got = usize::try_from(r).unwrap_or(0);
            let len = if self.vnet_hdr {
                got.saturating_sub(VNET_HDR_LEN)
            } else {
                got
            };
            slot.set_received(len, len);
            if self.vnet_hdr {
                slot.set_vnet(VirtioNetHdr::from_bytes(&hdr));
            }
            n += 1;
        }
        batch.commit(n);
        Ok(n)
    }

    fn send_batch(&mut self, frames: &[TxFrame<'_>]) -> TxOutcome {
        let mut out = TxOutcome::default();
        for f in frames {
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
            if self.vnet_hdr {
                push(hdr.as_ptr(), VNET_HDR_LEN);
            }
            push(f.head.as_ptr(), f.head.len());
            if f.tag.is_some() {
                push(tag.as_ptr(), 4);
            }
            push(f.tail.as_ptr(), f.tail.len());
            // SAFETY: every iovec points into a live buffer of its stated length.
            let r = unsafe { libc::writev(self.tun.as_raw_fd(), iov.as_ptr(), cnt as libc::c_int) };
            if r < 0 {
                // EAGAIN: the device's queue is full; EIO: its link is down. Either way the frame is lost.
                continue;
            }
            out.sent += 1;
            out.bytes += f.len() as u64;
        }
        out
    }

    fn poll_fd(&self) -> Option<RawFd> {
        Some(self.tun.as_raw_fd())
    }

    fn mtu(&self) -> usize {
        self.mtu
    }

    fn offloads(&self) -> OffloadCaps {
        self.caps
    }

    fn refresh(&mut self) {
        // The device's kernel side may have moved to another namespace since the last look.
        if let Ok(ns) = device_netns(&self.tun) {
            if let Ok(id) = netns_id_of_fd(ns.as_fd()) {
                if Some(id) != self.ctl_netns {
                    if let Ok(ctl) = in_netns_fd(ns.as_fd(), sys::control_socket) {
                        self.ctl = ctl;
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
        // SAFETY: TUNSETPERSIST takes an integer argument; closing the fd then deletes the device.
        cvt(unsafe {
            libc::ioctl(
                self.tun.as_raw_fd(),
                libc::TUNSETPERSIST,
                0 as libc::c_ulong,
            )
        })?;
        Ok(())
    }
}
