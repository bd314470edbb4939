//! A `TPACKET_V3` receive ring (`PACKET_RX_RING`) for AF_PACKET sockets.
//!
//! The kernel writes frames into blocks of a memory area shared with us and hands over a
//! whole block at once (its status word becomes `TP_STATUS_USER`) when the block is full
//! or its retire timer fires. We walk the frames of a handed-over block and give the block
//! back (`TP_STATUS_KERNEL`) when done. No system call per batch: the worker only sleeps
//! in epoll, which reports the socket readable once a block has been handed over.
//!
//! Frames are not copied: the receive batch borrows them ([`RxSlot::set_external`]), and a
//! block is returned to the kernel only at the next receive into an *empty* batch — by then
//! the datapath has forwarded and forgotten every frame of the previous batch. At most the
//! block being read and the ones already finished but still borrowed are held back.
//!
//! Sizing: blocks of [`BLOCK_SIZE`] (128 KiB) hold one 64 KB GSO frame and more, or several
//! hundred small frames; [`BLOCK_COUNT`] of them (8 MiB) absorb a burst as large as the old
//! 8 MiB socket buffer did. Many small blocks rather than a few large ones: at a low rate
//! the retire timer hands over a nearly empty block every millisecond, so the ring holds
//! `BLOCK_COUNT` ms of such traffic while the worker is not scheduled (with 8 blocks of
//! 1 MiB, a paced 50 kframe/s stream lost frames on the busy test VM; with 64, none). A
//! frame larger than a block's payload is truncated by the kernel and counted `oversized`
//! by the bridge.
//!
//! Retire timeout: a block that is not full is handed over after [`RETIRE_TIMEOUT_MS`]
//! (1 ms, the smallest the kernel takes). The kernel wakes readers only when a block is
//! handed over, so this bounds the extra latency a lone frame (a ping) sees per ring
//! crossing; under load blocks fill long before the timer.
//!
//! Per frame: `tpacket3_hdr` (lengths, status, VLAN TCI/TPID, offset of the MAC header),
//! then `sockaddr_ll` (packet type), then — with `PACKET_VNET_HDR` — the virtio-net header
//! right in front of the MAC header. The bytes between the `sockaddr_ll` and the frame are
//! the headroom a re-inserted 802.1Q tag uses.

use super::sys::{self, cvt};
use crate::packet::RxSlot;
use std::io;
use std::os::fd::RawFd;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};

/// Bytes per ring block (a multiple of the page size).
pub const BLOCK_SIZE: usize = 128 << 10;
/// Blocks per ring.
pub const BLOCK_COUNT: usize = 64;
/// Milliseconds after which the kernel hands over a block that is not full.
pub const RETIRE_TIMEOUT_MS: u32 = 1;
/// Nominal frame size the kernel wants in the request (V3 packs frames of any size).
const FRAME_SIZE: usize = 2048;

const TP_STATUS_KERNEL: u32 = 0;
const TP_STATUS_USER: u32 = 1;
/// `TPACKET_ALIGN(sizeof(struct tpacket3_hdr))`: where the `sockaddr_ll` starts.
const TPACKET3_HDR_LEN: usize = 48;
/// End of the `sockaddr_ll` after the frame header: the headroom starts here.
const FRAME_META_END: usize = TPACKET3_HDR_LEN + std::mem::size_of::<libc::sockaddr_ll>();

/// `struct tpacket_req3`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
struct TpacketReq3 {
    tp_block_size: u32,
    tp_block_nr: u32,
    tp_frame_size: u32,
    tp_frame_nr: u32,
    tp_retire_blk_tov: u32,
    tp_sizeof_priv: u32,
    tp_feature_req_word: u32,
}

/// Offsets in `struct tpacket_block_desc` (version, offset_to_priv, then `tpacket_hdr_v1`).
const BLOCK_STATUS: usize = 8;
const BLOCK_NUM_PKTS: usize = 12;
const BLOCK_FIRST_PKT: usize = 16;

/// Offsets in `struct tpacket3_hdr`.
const FRAME_NEXT: usize = 0;
const FRAME_SNAPLEN: usize = 12;
const FRAME_LEN: usize = 16;
const FRAME_STATUS: usize = 20;
const FRAME_MAC: usize = 24;
const FRAME_VLAN_TCI: usize = 32;
const FRAME_VLAN_TPID: usize = 36;
/// `sll_pkttype` in the `sockaddr_ll` that follows the header.
const FRAME_PKTTYPE: usize = TPACKET3_HDR_LEN + 10;

/// One received frame, as found in the ring.
#[derive(Debug, Clone, Copy)]
pub struct RingFrame {
    /// Start of the frame's slot in the ring (its `tpacket3_hdr`).
    pub base: NonNull<u8>,
    /// Offset of the MAC header from `base`.
    pub mac: usize,
    /// Bytes of the frame in the ring.
    pub snaplen: usize,
    /// Length on the wire.
    pub len: usize,
    /// `sll_pkttype`.
    pub pkttype: u8,
    /// The 802.1Q tag the kernel took out (TPID and TCI), if any.
    pub tag: Option<[u8; 4]>,
}

impl RingFrame {
    /// Writable bytes between the frame's metadata and the MAC header.
    pub fn headroom(&self) -> usize {
        self.mac.saturating_sub(FRAME_META_END)
    }

    /// The `len` bytes right in front of the MAC header (the virtio-net header), if they
    /// lie in the headroom.
    pub fn before_mac<const N: usize>(&self) -> Option<[u8; N]> {
        if self.headroom() < N {
            return None;
        }
        let mut out = [0u8; N];
        // SAFETY: the N bytes lie inside the frame's slot, in a block we hold.
        unsafe {
            std::ptr::copy_nonoverlapping(self.base.as_ptr().add(self.mac - N), out.as_mut_ptr(), N)
        };
        Some(out)
    }

    /// Points `slot` at this frame (no copy), with the headroom for a tag.
    ///
    /// # Safety
    /// The block holding the frame must stay with us while the slot is in use (see the
    /// module docs).
    pub unsafe fn lend_to(&self, slot: &mut RxSlot) {
        let start = FRAME_META_END;
        // SAFETY: `start` <= `mac` (checked by the walker), inside the frame's slot.
        let base = unsafe { NonNull::new_unchecked(self.base.as_ptr().add(start)) };
        // SAFETY: forwarded contract.
        unsafe { slot.set_external(base, self.mac - start, self.snaplen, self.len) };
    }
}

/// The mapped ring and our position in it.
pub struct RxRing {
    map: NonNull<u8>,
    map_len: usize,
    block_size: usize,
    block_count: usize,
    /// Block being read.
    block: usize,
    /// Next frame in `block` (index and byte offset), once it is ours.
    next_frame: u32,
    next_offset: usize,
    /// Blocks we finished reading but whose frames may still be borrowed, oldest first.
    finished: Vec<usize>,
}

// SAFETY: the mapping is owned by the ring and used from one thread at a time.
unsafe impl Send for RxRing {}

impl RxRing {
    /// Switches `fd` (not yet bound) to `TPACKET_V3` and maps a receive ring for it.
    pub fn setup(fd: RawFd) -> io::Result<RxRing> {
        Self::setup_with(fd, BLOCK_SIZE, BLOCK_COUNT, RETIRE_TIMEOUT_MS)
    }

    /// Like [`Self::setup`] with another geometry and retire timeout.
    pub fn setup_with(
        fd: RawFd,
        block_size: usize,
        block_count: usize,
        retire_ms: u32,
    ) -> io::Result<RxRing> {
        let version: libc::c_int = sys::TPACKET_V3;
        sys::setsockopt(fd, sys::SOL_PACKET, sys::PACKET_VERSION, &version)?;
        let bad = || io::Error::new(io::ErrorKind::InvalidInput, "ring size out of range");
        let req = TpacketReq3 {
            tp_block_size: u32::try_from(block_size).map_err(|_| bad())?,
            tp_block_nr: u32::try_from(block_count).map_err(|_| bad())?,
            tp_frame_size: FRAME_SIZE as u32,
            tp_frame_nr: u32::try_from(block_size / FRAME_SIZE * block_count).map_err(|_| bad())?,
            tp_retire_blk_tov: retire_ms,
            tp_sizeof_priv: 0,
            tp_feature_req_word: 0,
        };
        sys::setsockopt(fd, sys::SOL_PACKET, sys::PACKET_RX_RING, &req)?;
        let map_len = block_size * block_count;
        // SAFETY: maps the ring the kernel just allocated for this socket.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_POPULATE,
                fd,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let map = NonNull::new(p.cast::<u8>()).ok_or_else(bad)?;
        Ok(RxRing {
            map,
            map_len,
            block_size,
            block_count,
            block: 0,
            next_frame: 0,
            next_offset: 0,
            finished: Vec::with_capacity(block_count),
        })
    }

    fn block_ptr(&self, b: usize) -> *mut u8 {
        // SAFETY: b < block_count, so the offset lies inside the mapping.
        unsafe { self.map.as_ptr().add(b * self.block_size) }
    }

    fn status(&self, b: usize) -> &AtomicU32 {
        // SAFETY: the status word is a 4-byte aligned u32 inside the block descriptor, shared
        // with the kernel, which is what an atomic is for.
        unsafe { AtomicU32::from_ptr(self.block_ptr(b).add(BLOCK_STATUS).cast()) }
    }

    fn read_u32(&self, p: *const u8) -> u32 {
        // SAFETY: callers pass pointers inside a block we hold.
        unsafe { std::ptr::read_unaligned(p.cast::<u32>()) }
    }

    fn read_u16(&self, p: *const u8) -> u16 {
        // SAFETY: as above.
        unsafe { std::ptr::read_unaligned(p.cast::<u16>()) }
    }

    /// Gives back the blocks whose frames nobody borrows any more. Call only when no slot
    /// refers to the ring (the batch is empty).
    pub fn release_finished(&mut self) {
        let finished = std::mem::take(&mut self.finished);
        for &b in &finished {
            // Release: our reads of the block happen before the kernel owns it again.
            self.status(b).store(TP_STATUS_KERNEL, Ordering::Release);
        }
        self.finished = finished;
        self.finished.clear();
    }

    /// The next received frame, if the kernel has handed one over. Frames that do not fit
    /// the block's bounds (never from a sane kernel) end the block.
    pub fn next_frame(&mut self) -> Option<RingFrame> {
        // Bounded: each round either returns, or finishes a block; at most all blocks.
        for _ in 0..=self.block_count {
            if self.finished.len() >= self.block_count {
                return None;
            }
            let b = self.block;
            if self.status(b).load(Ordering::Acquire) & TP_STATUS_USER == 0 {
                return None;
            }
            let blk = self.block_ptr(b);
            // SAFETY: header fields of a block we hold.
            let num = self.read_u32(unsafe { blk.add(BLOCK_NUM_PKTS) });
            if self.next_frame == 0 {
                self.next_offset = self.read_u32(unsafe { blk.add(BLOCK_FIRST_PKT) }) as usize;
            }
            if self.next_frame < num {
                if let Some(f) = self.frame_at(b, self.next_offset) {
                    self.next_frame += 1;
                    // SAFETY: header field of a frame inside the block.
                    let next = self.read_u32(unsafe { blk.add(self.next_offset + FRAME_NEXT) });
                    self.next_offset += next as usize;
                    if next == 0 {
                        // The last frame (or a broken chain): the block ends after it.
                        self.next_frame = num;
                    }
                    return Some(f);
                }
            }
            self.finished.push(b);
            self.block = (b + 1) % self.block_count;
            self.next_frame = 0;
            self.next_offset = 0;
        }
        None
    }

    /// The frame whose header is at `off` in block `b`, if it lies wholly in the block.
    fn frame_at(&self, b: usize, off: usize) -> Option<RingFrame> {
        if off < BLOCK_FIRST_PKT || off + FRAME_META_END > self.block_size {
            return None;
        }
        // SAFETY: off + FRAME_META_END <= block_size: the header and sockaddr_ll are in the block.
        let h = unsafe { self.block_ptr(b).add(off) };
        let snaplen = self.read_u32(unsafe { h.add(FRAME_SNAPLEN) }) as usize;
        let len = self.read_u32(unsafe { h.add(FRAME_LEN) }) as usize;
        let status = self.read_u32(unsafe { h.add(FRAME_STATUS) });
        let mac = usize::from(self.read_u16(unsafe { h.add(FRAME_MAC) }));
        if mac < FRAME_META_END || off + mac + snaplen > self.block_size {
            return None;
        }
        // SAFETY: inside the header.
        let pkttype = unsafe { *h.add(FRAME_PKTTYPE) };
        let tag = (status & sys::TP_STATUS_VLAN_VALID != 0).then(|| {
            let tci = self.read_u32(unsafe { h.add(FRAME_VLAN_TCI) }) as u16;
            let tpid = if status & sys::TP_STATUS_VLAN_TPID_VALID != 0 {
                self.read_u16(unsafe { h.add(FRAME_VLAN_TPID) })
            } else {
                0x8100
            };
            let (t, c) = (tpid.to_be_bytes(), tci.to_be_bytes());
            [t[0], t[1], c[0], c[1]]
        });
        Some(RingFrame {
            base: NonNull::new(h)?,
            mac,
            snaplen,
            len,
            pkttype,
            tag,
        })
    }
}

impl Drop for RxRing {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `setup_with`; nothing borrows it now
        // (the datapath clears its batch after every use).
        unsafe { libc::munmap(self.map.as_ptr().cast(), self.map_len) };
    }
}

/// `struct tpacket_stats_v3`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
struct TpacketStatsV3 {
    tp_packets: u32,
    tp_drops: u32,
    tp_freeze_q_cnt: u32,
}

/// Frames the kernel dropped for this socket since the last call (`PACKET_STATISTICS`,
/// which resets the kernel's counters on every read). Works with and without a ring.
pub fn take_kernel_drops(fd: RawFd) -> io::Result<u64> {
    let mut st = TpacketStatsV3::default();
    let mut len = std::mem::size_of::<TpacketStatsV3>() as libc::socklen_t;
    // SAFETY: the kernel writes at most `len` bytes into `st`.
    cvt(unsafe {
        libc::getsockopt(
            fd,
            sys::SOL_PACKET,
            sys::PACKET_STATISTICS,
            (&mut st as *mut TpacketStatsV3).cast(),
            &mut len,
        )
    })?;
    Ok(u64::from(st.tp_drops))
}
