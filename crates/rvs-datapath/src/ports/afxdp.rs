//! `afxdp` ports: an existing interface through AF_XDP sockets, one per receive queue.
//!
//! Opening a port:
//! 1. counts the interface's receive queues (`ETHTOOL_GCHANNELS`; 1 when the driver does
//!    not say, as for most veths);
//! 2. looks at the XDP program already attached (netlink `IFLA_XDP`). A program rvs left
//!    behind is replaced; any other program is refused (see "Recognising our program");
//! 3. creates an `XSKMAP` and loads a five-instruction program that redirects every frame
//!    to the socket of its queue (`bpf_redirect_map(&map, rx_queue_index, XDP_PASS)`,
//!    assembled in [`bpf`]; loaded with raw `bpf(2)`, the verifier log goes into the error);
//! 4. opens one socket per queue ([`xsk`]: UMEM, four rings, `XDP_COPY`,
//!    `XDP_USE_NEED_WAKEUP`) and puts it in the map;
//! 5. attaches the program in native (driver) mode, or in generic (skb) mode when the
//!    driver refuses; [`AfxdpPort::mode`] says which, and the refusal is kept.
//!
//! Closing (drop) detaches the program if it is still ours; the sockets close and the
//! kernel removes them from the map.
//!
//! Recognising our program: it is named `rvs_xsk` and its map `rvs_xsk_<pid>`, after the
//! process that loaded it. A program of that name whose map's process is gone (rvsd was
//! killed) or is this process is stale and gets replaced; one whose process still runs
//! belongs to another rvsd and is refused, as is a program of any other name. A stale
//! program is harmless meanwhile: its map is empty (the kernel drops closed sockets from
//! it), so it passes every frame to the kernel stack.
//!
//! Receive copies each frame from the UMEM into the batch's buffer (no zero-copy into the
//! batch in this first version); transmit copies the frame's pieces into a free UMEM chunk.
//! All transmits go through the socket of queue 0. Frames larger than a chunk allows
//! ([`xsk::MAX_RX_FRAME`] on receive) are dropped by the kernel; [`Port::mtu`] reports the
//! smaller of the device's MTU and what a chunk carries.
//!
//! Readiness: [`Port::poll_fd`] is an epoll instance holding every queue's socket and an
//! eventfd. Its readiness is that of any socket, so the worker's wakeups cost no extra
//! system call, and [`Port::refresh`] can raise a fault through the eventfd when the
//! interface disappears or our program was detached from outside (an unbound AF_XDP
//! socket never becomes readable by itself).
//!
//! Kernel 6.18 on veth: native mode works with `XDP_COPY` only (no zero-copy). The native
//! attach is refused when the peer's MTU exceeds what one page holds after XDP headroom
//! and `skb_shared_info` (3506 for a 4 KiB page; "Peer MTU is too large to set XDP"), or
//! when this end has fewer receive queues than the peer has transmit queues; generic mode
//! is used then. While a native program is attached, the kernel turns GSO off on the peer.
//! The port declares no offloads: the datapath finishes checksums and segments before
//! handing frames over, and a namespace behind the veth needs `ethtool -K IF tx off` for
//! TCP (frames with a partial checksum lose that metadata on the way through XDP).

use super::bpf;
mod link;
mod ring;
mod xsk;

pub use link::XdpMode;
pub use xsk::{FrameAccounting, XskStats};

use super::sys::{self, Epoll};
use crate::packet::{RxBatch, TxFrame};
use crate::port::{Port, PortFault, TxOutcome};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

/// How to open an afxdp port.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AfxdpOptions {
    /// Force a mode instead of native-then-generic.
    pub mode: Option<XdpMode>,
}

pub struct AfxdpPort {
    name: String,
    ifindex: u32,
    mtu: usize,
    queues: Vec<xsk::Xsk>,
    group: Epoll,
    fault_event: OwnedFd,
    fault: Option<PortFault>,
    prog: OwnedFd,
    prog_id: u32,
    map: OwnedFd,
    mode: XdpMode,
    native_refusal: Option<String>,
    replaced_stale: bool,
    next_rx: usize,
    control: OwnedFd,
    /// The send-only AF_PACKET socket behind every transmit handle (opened on the first).
    tx_socket: std::sync::OnceLock<super::afpacket::AfPacketPort>,
}

fn not_found(name: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("interface '{name}' not found"),
    )
}

impl AfxdpPort {
    /// Opens interface `name` in this thread's namespace: native mode, else generic.
    pub fn open(name: &str) -> io::Result<Self> {
        Self::open_with(name, AfxdpOptions::default())
    }

    pub fn open_with(name: &str, opts: AfxdpOptions) -> io::Result<Self> {
        let ifindex = sys::if_index(name).map_err(|e| {
            if e.raw_os_error() == Some(libc::ENODEV) {
                not_found(name)
            } else {
                e
            }
        })?;
        let replaced_stale = clear_stale_program(name, ifindex)?;
        let nqueues = link::rx_queue_count(name)?;
        let map = bpf::create_xsk_map(nqueues)?;
        let prog = bpf::load_program(&map)?;
        let prog_id = bpf::prog_info(&prog)?.id;
        let mut queues = Vec::with_capacity(nqueues as usize);
        for q in 0..nqueues {
            let x = xsk::Xsk::open(ifindex, q)?;
            bpf::map_set_socket(&map, q, x.fd())?;
            queues.push(x);
        }
        let group = Epoll::new()?;
        let fault_event = sys::eventfd()?;
        group.add(fault_event.as_raw_fd(), u64::MAX)?;
        for x in &queues {
            group.add(x.fd(), u64::from(x.queue()))?;
        }
        let (mode, native_refusal) = attach(name, ifindex, &prog, opts.mode)?;
        let control = sys::control_socket()?;
        let mut port = AfxdpPort {
            name: name.to_string(),
            ifindex,
            mtu: 1500,
            queues,
            group,
            fault_event,
            fault: None,
            prog,
            prog_id,
            map,
            mode,
            native_refusal,
            replaced_stale,
            next_rx: 0,
            control,
            tx_socket: std::sync::OnceLock::new(),
        };
        port.mtu = port.read_mtu().unwrap_or(1500);
        tracing::info!(
            port = name,
            mode = mode.as_str(),
            queues = nqueues,
            replaced_stale,
            "afxdp port open"
        );
        Ok(port)
    }

    /// Where the XDP program runs.
    pub fn mode(&self) -> XdpMode {
        self.mode
    }

    /// Why native mode was refused, when the port fell back to generic.
    pub fn native_refusal(&self) -> Option<&str> {
        self.native_refusal.as_deref()
    }

    /// A stale rvs program was found and replaced on open.
    pub fn replaced_stale(&self) -> bool {
        self.replaced_stale
    }

    /// Receive queues, one AF_XDP socket each.
    pub fn queue_count(&self) -> usize {
        self.queues.len()
    }

    /// The id of our XDP program.
    pub fn prog_id(&self) -> u32 {
        self.prog_id
    }

    /// One line for `rvs show`: "afxdp native, copy, 1 queue".
    pub fn describe(&self) -> String {
        let n = self.queues.len();
        format!(
            "afxdp {}, copy, {n} queue{}",
            self.mode.as_str(),
            if n == 1 { "" } else { "s" }
        )
    }

    /// Per queue: where its UMEM frames are.
    pub fn frame_accounting(&mut self) -> Vec<FrameAccounting> {
        self.queues
            .iter_mut()
            .map(|q| {
                q.reap_completions();
                q.accounting()
            })
            .collect()
    }

    /// Per queue: the kernel's drop counters.
    pub fn xsk_stats(&self) -> io::Result<Vec<XskStats>> {
        self.queues.iter().map(|q| q.stats()).collect()
    }

    fn read_mtu(&self) -> io::Result<usize> {
        let dev = sys::get_mtu(self.control.as_raw_fd(), &self.name)?;
        // One VLAN tag plus the Ethernet header must fit a receive chunk.
        Ok(dev.min(xsk::MAX_RX_FRAME - 18))
    }

    fn raise(&mut self, fault: PortFault) {
        if self.fault.is_none() {
            self.fault = Some(fault);
            sys::eventfd_signal(self.fault_event.as_raw_fd());
        }
    }
}

/// Removes a stale rvs program from the interface; refuses any other. Returns whether one
/// was removed.
fn clear_stale_program(name: &str, ifindex: u32) -> io::Result<bool> {
    let Some(att) = link::query(ifindex)? else {
        return Ok(false);
    };
    let busy = |what: String| {
        io::Error::new(
            io::ErrorKind::ResourceBusy,
            format!(
                "interface '{name}' already has an XDP program attached ({what}, id {}, {} mode); \
                 rvs does not replace it: detach it first (ip link set dev {name} xdp off)",
                att.prog_id,
                att.mode.as_str()
            ),
        )
    };
    let info = bpf::prog_info_by_id(att.prog_id).map_err(|e| busy(format!("unreadable: {e}")))?;
    if !info.is_rvs() {
        return Err(busy(format!("program '{}'", info.name)));
    }
    let owner = info.map_ids.iter().find_map(|&id| {
        bpf::map_name_by_id(id)
            .ok()
            .and_then(|n| bpf::owner_pid(&n))
    });
    if let Some(pid) = owner {
        if pid != std::process::id() && process_alive(pid) {
            return Err(busy(format!("rvs program of the running process {pid}")));
        }
    }
    tracing::warn!(port = name, prog_id = att.prog_id, owner = ?owner, "replacing a stale rvs XDP program");
    link::detach(ifindex, att.mode)?;
    Ok(true)
}

fn process_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks that the process exists.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Attaches in the forced mode, or native then generic. Returns the mode and, after a
/// fallback, the driver's reason for refusing native mode.
fn attach(
    name: &str,
    ifindex: u32,
    prog: &OwnedFd,
    forced: Option<XdpMode>,
) -> io::Result<(XdpMode, Option<String>)> {
    let fd = prog.as_raw_fd();
    let hard = |e: link::NlError, mode: XdpMode| {
        let what = format!(
            "cannot attach the XDP program to '{name}' in {} mode",
            mode.as_str()
        );
        match e.errno {
            libc::EBUSY | libc::EEXIST => io::Error::new(
                io::ErrorKind::ResourceBusy,
                format!("{what}: another XDP program was attached meanwhile ({e})"),
            ),
            libc::EPERM | libc::EACCES => io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("{what}: {e} (needs CAP_NET_ADMIN)"),
            ),
            _ => e.into_io(&what),
        }
    };
    if let Some(mode) = forced {
        return link::attach(ifindex, fd, mode)?
            .map(|()| (mode, None))
            .map_err(|e| hard(e, mode));
    }
    match link::attach(ifindex, fd, XdpMode::Native)? {
        Ok(()) => Ok((XdpMode::Native, None)),
        Err(e)
            if matches!(
                e.errno,
                libc::EBUSY | libc::EEXIST | libc::EPERM | libc::EACCES
            ) =>
        {
            Err(hard(e, XdpMode::Native))
        }
        Err(native) => {
            let why = native.to_string();
            match link::attach(ifindex, fd, XdpMode::Generic)? {
                Ok(()) => {
                    tracing::info!(port = name, reason = %why, "native XDP refused; using generic mode");
                    Ok((XdpMode::Generic, Some(why)))
                }
                Err(e) => {
                    let err = hard(e, XdpMode::Generic);
                    Err(io::Error::new(
                        err.kind(),
                        format!("{err} (native mode was refused too: {why})"),
                    ))
                }
            }
        }
    }
}

impl Drop for AfxdpPort {
    fn drop(&mut self) {
        // Only our own program: never detach one somebody attached after us.
        if let Ok(Some(att)) = link::query(self.ifindex) {
            if att.prog_id == self.prog_id {
                if let Err(e) = link::detach(self.ifindex, att.mode) {
                    tracing::warn!(port = %self.name, "cannot detach the XDP program: {e}");
                }
            }
        }
        for q in &self.queues {
            bpf::map_clear(&self.map, q.queue());
        }
        let _ = &self.prog;
    }
}

impl Port for AfxdpPort {
    fn name(&self) -> &str {
        &self.name
    }

    fn recv_batch(&mut self, batch: &mut RxBatch) -> Result<usize, PortFault> {
        if let Some(f) = &self.fault {
            return Err(f.clone());
        }
        let slots = batch.free_slots();
        let mut filled = 0;
        let nq = self.queues.len();
        for k in 0..nq {
            let qi = (self.next_rx + k) % nq;
            let Some(q) = self.queues.get_mut(qi) else {
                continue;
            };
            let room = slots.len() - filled;
            if room == 0 {
                break;
            }
            q.receive(room, |frame| {
                if let Some(slot) = slots.get_mut(filled) {
                    let area = slot.recv_area();
                    let n = frame.len().min(area.len());
                    area[..n].copy_from_slice(&frame[..n]);
                    slot.set_received(n, frame.len());
                    filled += 1;
                }
            });
        }
        self.next_rx = (self.next_rx + 1) % nq.max(1);
        batch.commit(filled);
        Ok(filled)
    }

    fn send_batch(&mut self, frames: &[TxFrame<'_>]) -> TxOutcome {
        let max = self.mtu + 18;
        let Some(q) = self.queues.first_mut() else {
            return TxOutcome::default();
        };
        let (sent, bytes) = q.queue_tx(frames.len(), |i, buf| match frames.get(i) {
            Some(f) if f.len() <= max && f.len() <= buf.len() => f.copy_prefix(buf),
            _ => 0,
        });
        if let Err(e) = q.kick_tx() {
            match e.raw_os_error() {
                Some(libc::ENETDOWN) | Some(libc::ENXIO) => {}
                _ => tracing::debug!(port = %self.name, "AF_XDP transmit kick: {e}"),
            }
        }
        TxOutcome { sent, bytes }
    }

    fn poll_fd(&self) -> Option<RawFd> {
        Some(self.group.as_raw_fd())
    }

    fn rx_queues(&self) -> usize {
        self.queues.len()
    }

    fn tx_handle(&self) -> io::Result<Box<dyn Port>> {
        // The transmit ring has one producer (this port's thread); other threads send
        // through a plain AF_PACKET socket on the same interface, one for all of them.
        let sock = match self.tx_socket.get() {
            Some(s) => s,
            None => {
                let s = super::afpacket::AfPacketPort::open_tx_only(&self.name)?;
                self.tx_socket.get_or_init(|| s)
            }
        };
        sock.tx_handle()
    }

    fn mtu(&self) -> usize {
        self.mtu
    }

    fn refresh(&mut self) {
        if sys::if_index(&self.name).ok() != Some(self.ifindex) {
            self.raise(PortFault::InterfaceGone);
            return;
        }
        match link::query(self.ifindex) {
            Ok(Some(att)) if att.prog_id == self.prog_id => {}
            Ok(_) => self.raise(PortFault::Io(
                "the XDP program was detached from outside rvs".into(),
            )),
            Err(_) => {}
        }
        if let Ok(m) = self.read_mtu() {
            self.mtu = m;
        }
        // Transmit descriptors a busy device left in the ring.
        for q in &mut self.queues {
            let _ = q.kick_tx();
            q.reap_completions();
        }
    }
}
