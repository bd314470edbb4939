//! Packet buffers and batches.
//!
//! A [`RxBatch`] owns `BATCH_SIZE` receive buffers allocated once, each with headroom in
//! front of the frame so a port can re-insert an 802.1Q tag that the kernel moved into
//! metadata without copying the frame. Buffers are reused for every batch: no allocation
//! per packet.

/// Frames per receive batch.
pub const BATCH_SIZE: usize = 32;
/// Bytes reserved in front of each received frame.
pub const HEADROOM: usize = 64;
/// Largest frame a buffer holds (room for a 64 KiB GSO frame later).
pub const MAX_FRAME: usize = 65536;

/// One receive buffer.
pub struct RxSlot {
    buf: Box<[u8]>,
    start: usize,
    len: usize,
    /// Length of the frame on the wire; larger than `len` when it did not fit.
    wire_len: usize,
}

impl RxSlot {
    fn new() -> Self {
        RxSlot {
            buf: vec![0u8; HEADROOM + MAX_FRAME].into_boxed_slice(),
            start: HEADROOM,
            len: 0,
            wire_len: 0,
        }
    }

    /// The received frame.
    #[inline]
    pub fn frame(&self) -> &[u8] {
        self.buf
            .get(self.start..self.start + self.len)
            .unwrap_or(&[])
    }

    /// Length on the wire (may exceed `frame().len()` if the frame was truncated).
    #[inline]
    pub fn wire_len(&self) -> usize {
        self.wire_len
    }

    /// The area a port receives into: everything after the headroom.
    #[inline]
    pub fn recv_area(&mut self) -> &mut [u8] {
        &mut self.buf[HEADROOM..]
    }

    /// Records a frame received into [`Self::recv_area`]: `len` bytes stored, `wire_len` on the wire.
    #[inline]
    pub fn set_received(&mut self, len: usize, wire_len: usize) {
        self.start = HEADROOM;
        self.len = len.min(MAX_FRAME);
        self.wire_len = wire_len.max(self.len);
    }

    /// Inserts a 4-byte tag after the MAC addresses, using the headroom (no frame copy).
    /// Frames shorter than the two MAC addresses are left alone.
    #[inline]
    pub fn insert_tag(&mut self, tag: [u8; 4]) {
        if self.len < 12 || self.start < 4 {
            return;
        }
        let s = self.start;
        self.buf.copy_within(s..s + 12, s - 4);
        self.buf[s + 8..s + 12].copy_from_slice(&tag);
        self.start -= 4;
        self.len += 4;
        self.wire_len += 4;
    }

    /// Copies a frame in (for in-memory ports and tests).
    pub fn fill(&mut self, frame: &[u8]) {
        let n = frame.len().min(MAX_FRAME);
        self.buf[HEADROOM..HEADROOM + n].copy_from_slice(&frame[..n]);
        self.set_received(n, frame.len());
    }
}

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
/// or rewriting a VLAN tag needs no copy: `head` (the MAC addresses), an optional tag, `tail`.
#[derive(Debug, Clone, Copy)]
pub struct TxFrame<'a> {
    pub head: &'a [u8],
    pub tag: Option<[u8; 4]>,
    pub tail: &'a [u8],
}

impl<'a> TxFrame<'a> {
    /// A frame sent unchanged.
    pub fn whole(frame: &'a [u8]) -> Self {
        TxFrame {
            head: frame,
            tag: None,
            tail: &[],
        }
    }
    #[inline]
    pub fn len(&self) -> usize {
        self.head.len() + if self.tag.is_some() { 4 } else { 0 } + self.tail.len()
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
            tail: &[3],
        };
        assert_eq!(f.to_vec(), vec![1, 2, 9, 9, 9, 9, 3]);
        assert_eq!(f.len(), 7);
    }
}
