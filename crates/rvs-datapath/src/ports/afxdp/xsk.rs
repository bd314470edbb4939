//! One AF_XDP socket bound to one queue, with its own UMEM and four rings.
//!
//! UMEM: `FRAMES` chunks of `FRAME_SIZE` bytes in one anonymous mapping. Frames are split
//! once and never change sides:
//! - the first `RX_FRAMES` belong to receive: they sit in the fill ring, come back through
//!   the rx ring, are copied out and go straight back to the fill ring;
//! - the others belong to transmit: a free stack, popped to copy a frame in and push a tx
//!   descriptor, pushed back when the completion ring returns the address.
//!
//! So `rx_in_kernel + rx_pending == RX_FRAMES` and `free_tx + tx_in_flight == TX_FRAMES`
//! ([`Xsk::accounting`], counted as frames move, not assumed); rings are sized so that
//! neither side can find its ring full of its own frames (a chunk that did not fit in the
//! fill ring would wait in `rx_pending`). Frames are copied out of and into the UMEM (no zero-copy into the
//! batch buffers in this first version; the copy is one `memcpy` per frame).
//!
//! Bound with `XDP_COPY` (veth has no zero-copy) and `XDP_USE_NEED_WAKEUP` when the kernel
//! has it. In copy mode the kernel transmits inside `sendto`, at most 32 descriptors per
//! call, so a batch is kicked until the ring is drained or the kernel says it is busy.

use super::ring::Ring;
use crate::ports::sys::{self, cvt};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::AtomicU32;

pub const FRAME_SIZE: u32 = 4096;
pub const FRAMES: u32 = 4096;
pub const RX_FRAMES: u32 = FRAMES / 2;
pub const TX_FRAMES: u32 = FRAMES - RX_FRAMES;
/// Ring sizes (entries; powers of two).
pub const FILL_RING: u32 = RX_FRAMES;
pub const RX_RING: u32 = RX_FRAMES;
pub const TX_RING: u32 = TX_FRAMES;
pub const COMP_RING: u32 = TX_FRAMES;
/// Space the kernel keeps in front of a received frame in its chunk (copy mode).
pub const XDP_PACKET_HEADROOM: u32 = 256;
/// Largest frame (Ethernet header included) a receive chunk holds.
pub const MAX_RX_FRAME: usize = (FRAME_SIZE - XDP_PACKET_HEADROOM) as usize;
/// `sendto` kicks per transmit call: each moves up to 32 descriptors.
/// Binds retried while the queue is still held by a socket being released (20 ms apart).
const BIND_BUSY_RETRIES: u32 = 100;
const MAX_KICKS: usize = (TX_RING as usize / 32) + 2;

const AF_XDP: libc::c_int = 44;
const SOL_XDP: libc::c_int = 283;
const XDP_MMAP_OFFSETS: libc::c_int = 1;
const XDP_RX_RING: libc::c_int = 2;
const XDP_TX_RING: libc::c_int = 3;
const XDP_UMEM_REG: libc::c_int = 4;
const XDP_UMEM_FILL_RING: libc::c_int = 5;
const XDP_UMEM_COMPLETION_RING: libc::c_int = 6;
const XDP_STATISTICS: libc::c_int = 7;
const XDP_COPY: u16 = 1 << 1;
const XDP_USE_NEED_WAKEUP: u16 = 1 << 3;
const XDP_RING_NEED_WAKEUP: u32 = 1;
const XDP_PGOFF_RX_RING: libc::off_t = 0;
const XDP_PGOFF_TX_RING: libc::off_t = 0x8000_0000;
const XDP_UMEM_PGOFF_FILL_RING: libc::off_t = 0x1_0000_0000;
const XDP_UMEM_PGOFF_COMPLETION_RING: libc::off_t = 0x1_8000_0000;

/// `struct xdp_desc`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct XdpDesc {
    pub addr: u64,
    pub len: u32,
    pub options: u32,
}

/// `struct xdp_umem_reg` (with `flags` and `tx_metadata_len`).
#[repr(C)]
struct UmemReg {
    addr: u64,
    len: u64,
    chunk_size: u32,
    headroom: u32,
    flags: u32,
    tx_metadata_len: u32,
}

/// `struct xdp_ring_offset`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
struct RingOffset {
    producer: u64,
    consumer: u64,
    desc: u64,
    flags: u64,
}

/// `struct xdp_mmap_offsets`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
struct MmapOffsets {
    rx: RingOffset,
    tx: RingOffset,
    fr: RingOffset,
    cr: RingOffset,
}

/// `struct sockaddr_xdp`.
#[repr(C)]
struct SockaddrXdp {
    family: u16,
    flags: u16,
    ifindex: u32,
    queue_id: u32,
    shared_umem_fd: u32,
}

/// `struct xdp_statistics`: the kernel's drop counters for one socket.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct XskStats {
    pub rx_dropped: u64,
    pub rx_invalid_descs: u64,
    pub tx_invalid_descs: u64,
    pub rx_ring_full: u64,
    pub rx_fill_ring_empty_descs: u64,
    pub tx_ring_empty_descs: u64,
}

/// Where the frames of one socket are (see the module docs for the invariant).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameAccounting {
    pub total: u32,
    /// In the fill or rx ring.
    pub rx_in_kernel: u32,
    /// Received, waiting for room in the fill ring.
    pub rx_pending: u32,
    pub free_tx: u32,
    pub tx_in_flight: u32,
}

impl FrameAccounting {
    /// True when no frame is lost or counted twice.
    pub fn balanced(&self) -> bool {
        self.rx_in_kernel + self.rx_pending == RX_FRAMES
            && self.free_tx + self.tx_in_flight == TX_FRAMES
            && RX_FRAMES + TX_FRAMES == self.total
    }
}

/// An anonymous or socket mapping, unmapped on drop.
struct Mmap {
    ptr: *mut u8,
    len: usize,
}

// SAFETY: a plain memory mapping; see `Ring`'s Send.
unsafe impl Send for Mmap {}

impl Mmap {
    fn new(fd: Option<RawFd>, len: usize, offset: libc::off_t) -> io::Result<Mmap> {
        let (flags, fd) = match fd {
            Some(fd) => (libc::MAP_SHARED | libc::MAP_POPULATE, fd),
            None => (libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1),
        };
        // SAFETY: a fresh mapping; the kernel picks the address.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                flags,
                fd,
                offset,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Mmap { ptr: p.cast(), len })
    }
    fn at<T>(&self, off: u64) -> *mut T {
        // SAFETY: offsets come from the kernel's XDP_MMAP_OFFSETS, inside the mapping.
        unsafe { self.ptr.add(off as usize).cast() }
    }
}

impl Drop for Mmap {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly what `new` mapped.
        unsafe { libc::munmap(self.ptr.cast(), self.len) };
    }
}

/// One socket. Field order matters for drop: rings and socket go before the UMEM.
pub struct Xsk {
    fill: Ring<u64>,
    comp: Ring<u64>,
    rx: Ring<XdpDesc>,
    tx: Ring<XdpDesc>,
    _ring_maps: [Mmap; 4],
    fd: OwnedFd,
    umem: Mmap,
    queue: u32,
    need_wakeup: bool,
    free_tx: Vec<u64>,
    tx_in_flight: u32,
    rx_in_kernel: u32,
    rx_pending: Vec<u64>,
}

fn ring_map(
    fd: RawFd,
    off: &RingOffset,
    entries: u32,
    entry_size: usize,
    pgoff: libc::off_t,
) -> io::Result<Mmap> {
    Mmap::new(
        Some(fd),
        off.desc as usize + entries as usize * entry_size,
        pgoff,
    )
}

impl Xsk {
    /// Creates the socket and UMEM for `queue` of `ifindex`, fills the fill ring and binds.
    pub fn open(ifindex: u32, queue: u32) -> io::Result<Xsk> {
        // SAFETY: plain socket(2).
        let raw = unsafe { libc::socket(AF_XDP, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
        let raw = cvt(raw).map_err(|e| match e.raw_os_error() {
            Some(libc::EPERM) | Some(libc::EACCES) => io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("cannot create an AF_XDP socket: {e} (needs CAP_NET_RAW)"),
            ),
            Some(libc::EAFNOSUPPORT) => io::Error::new(
                io::ErrorKind::Unsupported,
                "this kernel has no AF_XDP sockets (CONFIG_XDP_SOCKETS)",
            ),
            _ => e,
        })?;
        // SAFETY: fresh descriptor we own.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let s = fd.as_raw_fd();
        let umem = Mmap::new(None, (FRAMES * FRAME_SIZE) as usize, 0)
            .map_err(|e| io::Error::new(e.kind(), format!("cannot map the UMEM: {e}")))?;
        let reg = UmemReg {
            addr: umem.ptr as u64,
            len: umem.len as u64,
            chunk_size: FRAME_SIZE,
            headroom: 0,
            flags: 0,
            tx_metadata_len: 0,
        };
        sys::setsockopt(s, SOL_XDP, XDP_UMEM_REG, &reg)
            .map_err(|e| io::Error::new(e.kind(), format!("XDP_UMEM_REG: {e}")))?;
        for (opt, n) in [
            (XDP_UMEM_FILL_RING, FILL_RING),
            (XDP_UMEM_COMPLETION_RING, COMP_RING),
            (XDP_RX_RING, RX_RING),
            (XDP_TX_RING, TX_RING),
        ] {
            sys::setsockopt(s, SOL_XDP, opt, &n).map_err(|e| {
                io::Error::new(e.kind(), format!("cannot size AF_XDP ring {opt}: {e}"))
            })?;
        }
        let mut off = MmapOffsets::default();
        let mut len = std::mem::size_of::<MmapOffsets>() as libc::socklen_t;
        // SAFETY: getsockopt writes at most `len` bytes into `off`.
        cvt(unsafe {
            libc::getsockopt(
                s,
                SOL_XDP,
                XDP_MMAP_OFFSETS,
                (&mut off as *mut MmapOffsets).cast(),
                &mut len,
            )
        })?;
        if (len as usize) < std::mem::size_of::<MmapOffsets>() {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "kernel too old: no ring flags in XDP_MMAP_OFFSETS",
            ));
        }
        let fill_map = ring_map(s, &off.fr, FILL_RING, 8, XDP_UMEM_PGOFF_FILL_RING)?;
        let comp_map = ring_map(s, &off.cr, COMP_RING, 8, XDP_UMEM_PGOFF_COMPLETION_RING)?;
        let rx_map = ring_map(s, &off.rx, RX_RING, 16, XDP_PGOFF_RX_RING)?;
        let tx_map = ring_map(s, &off.tx, TX_RING, 16, XDP_PGOFF_TX_RING)?;
        // SAFETY: each ring's counters, flags and entries lie in its live mapping, at the
        // offsets the kernel gave, with the entry counts we configured.
        let (mut fill, comp, rx, tx) = unsafe {
            let ring = |m: &Mmap,
                        o: &RingOffset|
             -> (*const AtomicU32, *const AtomicU32, *const AtomicU32) {
                (m.at(o.producer), m.at(o.consumer), m.at(o.flags))
            };
            let (fp, fc, ff) = ring(&fill_map, &off.fr);
            let (cp, cc, cf) = ring(&comp_map, &off.cr);
            let (rp, rc, rf) = ring(&rx_map, &off.rx);
            let (tp, tc, tf) = ring(&tx_map, &off.tx);
            (
                Ring::new(fp, fc, ff, fill_map.at(off.fr.desc), FILL_RING, true),
                Ring::new(cp, cc, cf, comp_map.at(off.cr.desc), COMP_RING, false),
                Ring::new(rp, rc, rf, rx_map.at(off.rx.desc), RX_RING, false),
                Ring::new(tp, tc, tf, tx_map.at(off.tx.desc), TX_RING, true),
            )
        };
        if fill.free(RX_FRAMES) < RX_FRAMES {
            return Err(io::Error::other("fresh fill ring is not empty"));
        }
        for i in 0..RX_FRAMES {
            fill.write(i, u64::from(i) * u64::from(FRAME_SIZE));
        }
        fill.submit(RX_FRAMES);
        let free_tx = (RX_FRAMES..FRAMES)
            .rev()
            .map(|i| u64::from(i) * u64::from(FRAME_SIZE))
            .collect();
        let bind = |flags: u16| {
            let sa = SockaddrXdp {
                family: AF_XDP as u16,
                flags,
                ifindex,
                queue_id: queue,
                shared_umem_fd: 0,
            };
            // SAFETY: binds with a valid sockaddr_xdp of the size passed.
            cvt(unsafe {
                libc::bind(
                    s,
                    (&sa as *const SockaddrXdp).cast(),
                    std::mem::size_of::<SockaddrXdp>() as libc::socklen_t,
                )
            })
        };
        // A socket closed just before (the port removed and added again) releases its queue
        // in deferred kernel work: bind says EBUSY until then, so retry for a bounded time.
        let bind = |flags: u16| {
            let mut tries = 0;
            loop {
                match bind(flags) {
                    Err(e)
                        if e.raw_os_error() == Some(libc::EBUSY) && tries < BIND_BUSY_RETRIES =>
                    {
                        tries += 1;
                        std::thread::sleep(std::time::Duration::from_millis(20));
                    }
                    other => return other,
                }
            }
        };
        let need_wakeup = match bind(XDP_COPY | XDP_USE_NEED_WAKEUP) {
            Ok(_) => true,
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                bind(XDP_COPY).map_err(|e| {
                    io::Error::new(
                        e.kind(),
                        format!("cannot bind the AF_XDP socket to queue {queue}: {e}"),
                    )
                })?;
                false
            }
            Err(e) => {
                return Err(io::Error::new(
                    e.kind(),
                    format!("cannot bind the AF_XDP socket to queue {queue}: {e}"),
                ));
            }
        };
        Ok(Xsk {
            fill,
            comp,
            rx,
            tx,
            _ring_maps: [fill_map, comp_map, rx_map, tx_map],
            fd,
            umem,
            queue,
            need_wakeup,
            free_tx,
            tx_in_flight: 0,
            rx_in_kernel: RX_FRAMES,
            rx_pending: Vec::with_capacity(RX_FRAMES as usize),
        })
    }

    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    pub fn queue(&self) -> u32 {
        self.queue
    }

    /// The chunk that holds UMEM address `addr`, if it is a valid one.
    fn chunk(&self, addr: u64) -> Option<u64> {
        let base = addr & !u64::from(FRAME_SIZE - 1);
        (base < u64::from(FRAMES) * u64::from(FRAME_SIZE)).then_some(base)
    }

    fn umem_slice(&self, addr: u64, len: usize) -> Option<&[u8]> {
        let start = usize::try_from(addr).ok()?;
        let end = start.checked_add(len)?;
        let chunk_end = usize::try_from(self.chunk(addr)?).ok()? + FRAME_SIZE as usize;
        if end > chunk_end || end > self.umem.len {
            return None;
        }
        // SAFETY: the range lies in the UMEM mapping, in a chunk the kernel handed back.
        Some(unsafe { std::slice::from_raw_parts(self.umem.ptr.add(start), len) })
    }

    /// Calls `f` for up to `max` received frames, then recycles their chunks into the fill
    /// ring. Returns how many frames were seen.
    pub fn receive(&mut self, max: usize, mut f: impl FnMut(&[u8])) -> usize {
        let want = u32::try_from(max).unwrap_or(u32::MAX);
        let n = self.rx.available(want).min(want);
        if n == 0 {
            return 0;
        }
        let mut seen = 0;
        for i in 0..n {
            let d = self.rx.read(i);
            if let Some(frame) = self.umem_slice(d.addr, d.len as usize) {
                f(frame);
                seen += 1;
            }
            self.rx_in_kernel = self.rx_in_kernel.saturating_sub(1);
            // An address outside the UMEM cannot come from the kernel; such a chunk is not
            // handed back (and `accounting` shows the loss).
            if let Some(c) = self.chunk(d.addr) {
                self.rx_pending.push(c);
            }
        }
        self.rx.release(n);
        self.refill();
        seen
    }

    /// Moves received chunks back into the fill ring, as far as it has room.
    fn refill(&mut self) {
        let n = u32::try_from(self.rx_pending.len()).unwrap_or(u32::MAX);
        let room = self.fill.free(n).min(n);
        for i in 0..room {
            if let Some(c) = self.rx_pending.pop() {
                self.fill.write(i, c);
            }
        }
        self.fill.submit(room);
        self.rx_in_kernel += room;
        if self.need_wakeup && self.fill.flags() & XDP_RING_NEED_WAKEUP != 0 {
            // SAFETY: a zero-length, non-blocking receive that only wakes the driver.
            unsafe {
                libc::recvfrom(
                    self.fd.as_raw_fd(),
                    std::ptr::null_mut(),
                    0,
                    libc::MSG_DONTWAIT,
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                )
            };
        }
    }

    /// Takes completed transmit chunks back into the free stack.
    pub fn reap_completions(&mut self) -> usize {
        let n = self.comp.available(COMP_RING);
        for i in 0..n {
            let addr = self.comp.read(i);
            if let Some(c) = self.chunk(addr) {
                if self.tx_in_flight > 0 && self.free_tx.len() < TX_FRAMES as usize {
                    self.free_tx.push(c);
                    self.tx_in_flight -= 1;
                }
            }
        }
        self.comp.release(n);
        n as usize
    }

    /// Queues frames for transmit: `fill(i, chunk)` writes frame `i` into a chunk and
    /// returns its length (0: skip that frame). Stops at the first frame for which no chunk
    /// or ring slot is free. Returns (frames queued, their bytes).
    pub fn queue_tx(
        &mut self,
        count: usize,
        mut fill: impl FnMut(usize, &mut [u8]) -> usize,
    ) -> (usize, u64) {
        if self.free_tx.len() < count {
            self.reap_completions();
        }
        let room = self.tx.free(u32::try_from(count).unwrap_or(u32::MAX)) as usize;
        let (mut n, mut bytes) = (0u32, 0u64);
        for i in 0..count {
            if n as usize >= room {
                break;
            }
            let Some(addr) = self.free_tx.pop() else {
                break;
            };
            let Ok(start) = usize::try_from(addr) else {
                break;
            };
            // SAFETY: the chunk is ours (from the free stack) and inside the UMEM mapping.
            let buf = unsafe {
                std::slice::from_raw_parts_mut(self.umem.ptr.add(start), FRAME_SIZE as usize)
            };
            let len = fill(i, buf);
            if len == 0 || len > FRAME_SIZE as usize {
                self.free_tx.push(addr);
                continue;
            }
            self.tx.write(
                n,
                XdpDesc {
                    addr,
                    len: len as u32,
                    options: 0,
                },
            );
            n += 1;
            bytes += len as u64;
        }
        if n > 0 {
            self.tx.submit(n);
            self.tx_in_flight += n;
        }
        (n as usize, bytes)
    }

    /// Tells the kernel to transmit what the tx ring holds. Returns the last hard error.
    pub fn kick_tx(&mut self) -> io::Result<()> {
        for _ in 0..MAX_KICKS {
            if self.tx.outstanding() == 0 {
                return Ok(());
            }
            if self.need_wakeup && self.tx.flags() & XDP_RING_NEED_WAKEUP == 0 {
                return Ok(());
            }
            // SAFETY: a zero-length, non-blocking send that only triggers transmission.
            let r = unsafe {
                libc::sendto(
                    self.fd.as_raw_fd(),
                    std::ptr::null(),
                    0,
                    libc::MSG_DONTWAIT,
                    std::ptr::null(),
                    0,
                )
            };
            if r < 0 {
                let e = io::Error::last_os_error();
                match e.raw_os_error() {
                    // More than one kick's worth: go again.
                    Some(libc::EAGAIN) | Some(libc::EINTR) => continue,
                    // The device is busy or its queue full: the rest goes on the next kick.
                    Some(libc::EBUSY) | Some(libc::ENOBUFS) => return Ok(()),
                    _ => return Err(e),
                }
            }
        }
        Ok(())
    }

    pub fn accounting(&self) -> FrameAccounting {
        FrameAccounting {
            total: FRAMES,
            rx_in_kernel: self.rx_in_kernel,
            rx_pending: self.rx_pending.len() as u32,
            free_tx: self.free_tx.len() as u32,
            tx_in_flight: self.tx_in_flight,
        }
    }

    /// The kernel's counters for this socket.
    pub fn stats(&self) -> io::Result<XskStats> {
        let mut st = XskStats::default();
        let mut len = std::mem::size_of::<XskStats>() as libc::socklen_t;
        // SAFETY: getsockopt writes at most `len` bytes into `st`.
        cvt(unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                SOL_XDP,
                XDP_STATISTICS,
                (&mut st as *mut XskStats).cast(),
                &mut len,
            )
        })?;
        Ok(st)
    }
}
