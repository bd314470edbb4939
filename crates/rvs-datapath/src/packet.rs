//! Packet buffers and batches.
//!
//! A [`RxBatch`] owns `BATCH_SIZE` receive buffers allocated once, each with headroom in
//! front of the frame so a port can re-insert an 802.1Q tag that the kernel moved into
//! metadata without copying the frame. Buffers are reused for every batch: no allocation
//! per packet.
//!
//! Each frame carries its offload metadata, a [`VirtioNetHdr`]: ports with virtio-net
//! headers store what the kernel said (partial checksum, GSO), other ports leave it
//! [`VirtioNetHdr::NONE`]. Editing the frame's VLAN tags moves the offsets in it.
//!
//! A slot may instead *borrow* its frame from a port's receive ring ([`RxSlot::set_external`]):
//! the frame stays where the kernel wrote it, and tag insertion uses the ring's own headroom.
//! Such a slot is valid until the batch is cleared; the port keeps the ring block to itself
//! until then (see `ports::ring`).

use rvs_wire::VirtioNetHdr;

/// Frames per receive batch.
pub const BATCH_SIZE: usize = 32;
/// Bytes reserved in front of each received frame.
pub const HEADROOM: usize = 64;
/// Largest frame a buffer holds: a 64 KiB GSO frame (IP length up to 65535) with its
/// Ethernet header and two VLAN tags, rounded up.
pub const MAX_FRAME: usize = 65536 + 128;

/// One receive buffer.
pub struct RxSlot {
    buf: Box<[u8]>,
    /// Start of borrowed memory holding the frame (a port's receive ring), instead of
    /// `buf`; `start`/`len` then count from it.
    external: Option<std::ptr::NonNull<u8>>,
    start: usize,
    len: usize,
    /// Length of the frame on the wire; larger than `len` when it did not fit.
    wire_len: usize,
    /// Offload metadata (partial checksum, GSO) from the port's virtio-net header.
    vnet: VirtioNetHdr,
}

impl RxSlot {
    fn new() -> Self {
        RxSlot {
            buf: vec![0u8; HEADROOM + MAX_FRAME].into_boxed_slice(),
            external: None,
            start: HEADROOM,
            len: 0,
            wire_len: 0,
            vnet: VirtioNetHdr::NONE,
        }
    }

    /// The frame's offload metadata ([`VirtioNetHdr::NONE`]: a complete frame).
    #[inline]
    pub fn vnet(&self) -> &VirtioNetHdr {
        &self.vnet
    }

    /// Sets the offload metadata of the frame just received (after [`Self::set_received`],
    /// before [`Self::insert_tag`], which moves its offsets).
    #[inline]
    pub fn set_vnet(&mut self, h: VirtioNetHdr) {
        self.vnet = h;
    }

    /// The received frame.
    #[inline]
    pub fn frame(&self) -> &[u8] {
        match self.external {
            // SAFETY: `set_external`'s contract: `start + len` bytes are readable while the
            // slot is in use.
            Some(p) => unsafe { std::slice::from_raw_parts(p.as_ptr().add(self.start), self.len) },
            None => self
                .buf
                .get(self.start..self.start + self.len)
                .unwrap_or(&[]),
        }
    }

    /// Makes the slot refer to a frame in memory it does not own: `len` bytes at
    /// `base + headroom` (`wire_len` on the wire), with `headroom` writable bytes in front
    /// for a tag. The offload metadata is reset to none.
    ///
    /// # Safety
    /// `base..base + headroom + len` must stay valid for reads and writes, and untouched by
    /// anyone else, until the slot is filled again or its batch is cleared and refilled.
    #[inline]
    pub unsafe fn set_external(
        &mut self,
        base: std::ptr::NonNull<u8>,
        headroom: usize,
        len: usize,
        wire_len: usize,
    ) {
        self.external = Some(base);
        self.start = headroom;
        self.len = len;
        self.wire_len = wire_len.max(len);
        self.vnet = VirtioNetHdr::NONE;
    }

    /// Length on the wire (may exceed `frame().len()` if the frame was truncated).
    #[inline]
    pub fn wire_len(&self) -> usize {
        self.wire_len
    }

    /// The area a port receives into: everything after the headroom.
    #[inline]
    pub fn recv_area(&mut self) -> &mut [u8] {
        self.external = None;
        &mut self.buf[HEADROOM..]
    }

    /// Records a frame received into [`Self::recv_area`]: `len` bytes stored, `wire_len` on
    /// the wire. The offload metadata is reset to none.
    #[inline]
    pub fn set_received(&mut self, len: usize, wire_len: usize) {
        self.external = None;
        self.start = HEADROOM;
        self.len = len.min(MAX_FRAME);
        self.wire_len = wire_len.max(self.len);
        self.vnet = VirtioNetHdr::NONE;
    }

    /// Inserts a 4-byte tag after the MAC addresses, using the headroom (no frame copy).
    /// Frames shorter than the two MAC addresses are left alone. The offload offsets move
    /// with the headers (the kernel counts them from the frame without the tag).
    #[inline]
    pub fn insert_tag(&mut self, tag: [u8; 4]) {
        if self.len < 12 || self.start < 4 {
            return;
        }
        let s = self.start;
        match self.external {
            // SAFETY: `set_external`'s contract: the headroom in front of the frame and the
            // frame are ours to write; `ptr::copy` handles the overlap.
            Some(p) => unsafe {
                let at = p.as_ptr().add(s);
                std::ptr::copy(at, at.sub(4), 12);
                std::ptr::copy_nonoverlapping(tag.as_ptr(), at.add(8), 4);
            },
            None => {
                self.buf.copy_within(s..s + 12, s - 4);
                self.buf[s + 8..s + 12].copy_from_slice(&tag);
            }
        }
        self.start -= 4;
        self.len += 4;
        self.wire_len += 4;
        self.vnet = self.vnet.shifted(4);
    }

    /// Copies a complete frame in (for in-memory ports and tests).
    pub fn fill(&mut self, frame: &[u8]) {
        self.fill_with(frame, VirtioNetHdr::NONE);
    }

    /// Copies a frame in together with its offload metadata.
    pub fn fill_with(&mut self, frame: &[u8], vnet: VirtioNetHdr) {
        let n = frame.len().min(MAX_FRAME);
        self.external = None;
        self.buf[HEADROOM..HEADROOM + n].copy_from_slice(&frame[..n]);
        self.set_received(n, frame.len());
        self.vnet = vnet;
    }
}

/// A frame as the pipeline reads it: bytes, length on the wire, offload metadata. Points
/// either into a receive buffer or into a frame the OpenFlow actions rewrote ([`OwnedFrames`]).
#[derive(Debug, Clone, Copy)]
pub struct FrameRef<'a> {
    pub data: &'a [u8],
    pub wire_len: usize,
    pub vnet: VirtioNetHdr,
}

impl RxSlot {
    #[inline]
    pub fn as_frame(&self) -> FrameRef<'_> {
        FrameRef {
            data: self.frame(),
            wire_len: self.wire_len,
            vnet: self.vnet,
        }
    }
}

/// Bit of a transmit descriptor's slot number that marks a rewritten frame
/// (an index into [`OwnedFrames`]) rather than a receive slot.
pub const OWNED_BIT: u16 = 0x8000;

/// Frames rewritten by OpenFlow actions during one batch (set-field, push/pop, ...): the
/// receive buffer stays untouched because other outputs of the same packet may still send it
/// as received. Buffers are kept between batches, so steady state allocates nothing.
pub struct OwnedFrames {
    frames: Vec<(Vec<u8>, VirtioNetHdr)>,
    used: usize,
}

/// Most rewritten frames one batch may hold (beyond, the packet is dropped and counted).
pub const MAX_OWNED: usize = BATCH_SIZE * 8;

impl Default for OwnedFrames {
    fn default() -> Self {
        Self::new()
    }
}

impl OwnedFrames {
    pub fn new() -> Self {
        OwnedFrames {
            frames: Vec::new(),
            used: 0,
        }
    }

    /// Forgets every frame (after the batch was transmitted); keeps the buffers.
    #[inline]
    pub fn clear(&mut self) {
        self.used = 0;
    }

    /// Copies `f` into a new owned frame; returns its index, or `None` when full.
    pub fn push(&mut self, f: FrameRef<'_>) -> Option<u16> {
        if self.used >= MAX_OWNED {
            return None;
        }
        if self.frames.len() <= self.used {
            self.frames.push((Vec::new(), VirtioNetHdr::NONE));
        }
        let (buf, vnet) = self.frames.get_mut(self.used)?;
        buf.clear();
        buf.extend_from_slice(f.data);
        *vnet = f.vnet;
        self.used += 1;
        u16::try_from(self.used - 1).ok()
    }

    /// Copies owned frame `i` into a new one; returns the new index.
    pub fn dup(&mut self, i: u16) -> Option<u16> {
        let i = usize::from(i);
        if i >= self.used || self.used >= MAX_OWNED {
            return None;
        }
        if self.frames.len() <= self.used {
            self.frames.push((Vec::new(), VirtioNetHdr::NONE));
        }
        let (done, rest) = self.frames.split_at_mut(self.used);
        let (src, vnet) = done.get(i)?;
        let (dst, dvnet) = rest.first_mut()?;
        dst.clear();
        dst.extend_from_slice(src);
        *dvnet = *vnet;
        self.used += 1;
        u16::try_from(self.used - 1).ok()
    }

    /// The frame `i` for changing it.
    pub fn get_mut(&mut self, i: u16) -> Option<(&mut Vec<u8>, &mut VirtioNetHdr)> {
        let i = usize::from(i);
        if i >= self.used {
            return None;
        }
        self.frames.get_mut(i).map(|(b, v)| (b, v))
    }

    pub fn get(&self, i: u16) -> Option<FrameRef<'_>> {
        let i = usize::from(i);
        if i >= self.used {
            return None;
        }
        self.frames.get(i).map(|(b, v)| FrameRef {
            data: b,
            wire_len: b.len(),
            vnet: *v,
        })
    }
}

// SAFETY: the only non-Send part is `external`, which points into a receive ring owned by a
// port of the same datapath; they move between threads together.
unsafe impl Send for RxSlot {}

/// A fixed set of receive buffers, filled by one port at a time.
pub struct RxBatch {
    slots: Vec<RxSlot>,
    len: usize,
}

impl Default for RxBatch {
    fn default() -> Self {
        Self::new()
    }
}

impl RxBatch {
    pub fn new() -> Self {
        RxBatch {
            slots: (0..BATCH_SIZE).map(|_| RxSlot::new()).collect(),
            len: 0,
        }
    }
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    #[inline]
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }
    #[inline]
    pub fn clear(&mut self) {
        self.len = 0;
    }
    /// Slots not yet filled, for a port to receive into; call [`Self::commit`] after.
    #[inline]
    pub fn free_slots(&mut self) -> &mut [RxSlot] {
        let len = self.len;
        &mut self.slots[len..]
    }
    /// Marks `n` more slots as filled.
    #[inline]
    pub fn commit(&mut self, n: usize) {
        self.len = (self.len + n).min(self.slots.len());
    }
    #[inline]
    pub fn get(&self, i: usize) -> Option<&RxSlot> {
        self.slots[..self.len].get(i)
    }
    pub fn iter(&self) -> impl Iterator<Item = &RxSlot> {
        self.slots[..self.len].iter()
    }
}

/// A frame to transmit, described as pieces of a received frame so that adding, removing
/// or rewriting a VLAN tag needs no copy: `head` (the MAC addresses), an optional tag, `tail`;
/// plus its offload metadata, whose offsets count from the start of the frame as sent.
/// (The software offload fallback builds frames whose `head` is a rebuilt header in a
/// scratch area and whose `tail` is the rest of the received frame.)
#[derive(Debug, Clone, Copy)]
pub struct TxFrame<'a> {
    pub head: &'a [u8],
    pub tag: Option<[u8; 4]>,
    pub tail: &'a [u8],
    pub vnet: VirtioNetHdr,
}

impl<'a> TxFrame<'a> {
    /// A complete frame sent unchanged.
    pub fn whole(frame: &'a [u8]) -> Self {
        Self::with_vnet(frame, VirtioNetHdr::NONE)
    }
    /// A frame sent unchanged, with offload metadata.
    pub fn with_vnet(frame: &'a [u8], vnet: VirtioNetHdr) -> Self {
        TxFrame {
            head: frame,
            tag: None,
            tail: &[],
            vnet,
        }
    }
    #[inline]
    pub fn len(&self) -> usize {
        self.head.len() + self.tag_len() + self.tail.len()
    }
    #[inline]
    fn tag_len(&self) -> usize {
        if self.tag.is_some() {
            4
        } else {
            0
        }
    }
    /// The frame's bytes from offset `off` to the end, if they lie in one piece.
    pub fn suffix(&self, off: usize) -> Option<&'a [u8]> {
        let front = self.head.len() + self.tag_len();
        if off >= front {
            self.tail.get(off - front..)
        } else if self.tag.is_none() && self.tail.is_empty() {
            self.head.get(off..)
        } else {
            None
        }
    }
    /// Copies the frame's first `out.len()` bytes (or all of it, if shorter) into `out`;
    /// returns how many were copied.
    pub fn copy_prefix(&self, out: &mut [u8]) -> usize {
        let mut n = 0;
        let tag = self.tag.unwrap_or([0; 4]);
        let pieces: [&[u8]; 3] = [self.head, &tag[..self.tag_len()], self.tail];
        for p in pieces {
            let Some(dst) = out.get_mut(n..) else { break };
            let k = p.len().min(dst.len());
            dst[..k].copy_from_slice(&p[..k]);
            n += k;
        }
        n
    }
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Appends the frame's bytes to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.head);
        if let Some(t) = &self.tag {
            out.extend_from_slice(t);
        }
        out.extend_from_slice(self.tail);
    }
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.len());
        self.write_to(&mut v);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_insertion_uses_headroom() {
        let mut s = RxSlot::new();
        let frame: Vec<u8> = (0u8..20).collect();
        s.fill(&frame);
        s.insert_tag([0x81, 0x00, 0x00, 0x0a]);
        let mut want = frame[..12].to_vec();
        want.extend_from_slice(&[0x81, 0x00, 0x00, 0x0a]);
        want.extend_from_slice(&frame[12..]);
        assert_eq!(s.frame(), &want[..]);
        assert_eq!(s.wire_len(), 24);
    }

    #[test]
    fn oversized_fill_is_truncated_but_wire_len_kept() {
        let mut s = RxSlot::new();
        let big = vec![1u8; MAX_FRAME + 10];
        s.fill(&big);
        assert_eq!(s.frame().len(), MAX_FRAME);
        assert_eq!(s.wire_len(), MAX_FRAME + 10);
    }

    #[test]
    fn txframe_pieces_concatenate() {
        let f = TxFrame {
            head: &[1, 2],
            tag: Some([9, 9, 9, 9]),
            tail: &[3, 4],
            vnet: VirtioNetHdr::NONE,
        };
        assert_eq!(f.to_vec(), vec![1, 2, 9, 9, 9, 9, 3, 4]);
        assert_eq!(f.len(), 8);
        let mut out = [0u8; 5];
        assert_eq!(f.copy_prefix(&mut out), 5);
        assert_eq!(out, [1, 2, 9, 9, 9]);
        let mut big = [0u8; 20];
        assert_eq!(f.copy_prefix(&mut big), 8);
        assert_eq!(&big[..8], &f.to_vec()[..]);
        assert_eq!(f.suffix(6), Some(&[3u8, 4][..]));
        assert_eq!(f.suffix(7), Some(&[4u8][..]));
        assert_eq!(f.suffix(8), Some(&[][..]));
        assert_eq!(f.suffix(9), None);
        assert_eq!(f.suffix(1), None, "spans pieces");
        let w = TxFrame::whole(&[5, 6, 7]);
        assert_eq!(w.suffix(1), Some(&[6u8, 7][..]));
    }

    #[test]
    fn borrowed_frames_take_a_tag_in_their_own_headroom() {
        let mut ring = [0u8; 40];
        for (i, b) in ring[8..28].iter_mut().enumerate() {
            *b = i as u8;
        }
        let mut s = RxSlot::new();
        let base = std::ptr::NonNull::new(ring.as_mut_ptr()).expect("non-null");
        // SAFETY: `ring` outlives every use of the slot below.
        unsafe { s.set_external(base, 8, 20, 20) };
        assert_eq!(s.frame(), &(0u8..20).collect::<Vec<_>>()[..]);
        s.insert_tag([0x81, 0x00, 0x00, 0x07]);
        let mut want: Vec<u8> = (0u8..12).collect();
        want.extend_from_slice(&[0x81, 0x00, 0x00, 0x07]);
        want.extend(12u8..20);
        assert_eq!(s.frame(), &want[..]);
        assert_eq!(s.wire_len(), 24);
        s.fill(&[1, 2, 3]);
        assert_eq!(
            s.frame(),
            &[1, 2, 3],
            "filling makes the slot own its frame again"
        );
    }

    #[test]
    fn tag_insertion_moves_offload_offsets() {
        use rvs_wire::virtio_net::{VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4};
        let mut s = RxSlot::new();
        s.fill_with(
            &[0u8; 100],
            VirtioNetHdr {
                flags: VIRTIO_NET_HDR_F_NEEDS_CSUM,
                gso_type: VIRTIO_NET_HDR_GSO_TCPV4,
                hdr_len: 54,
                gso_size: 1448,
                csum_start: 34,
                csum_offset: 16,
            },
        );
        s.insert_tag([0x81, 0, 0, 5]);
        assert_eq!((s.vnet().csum_start, s.vnet().hdr_len), (38, 58));
        s.set_received(10, 10);
        assert_eq!(
            *s.vnet(),
            VirtioNetHdr::NONE,
            "a new frame starts without metadata"
        );
    }
}
