//! The virtio-net header (`struct virtio_net_hdr`, 10 bytes) that carries offload
//! metadata next to a frame: TAP devices with `IFF_VNET_HDR` and AF_PACKET sockets with
//! `PACKET_VNET_HDR` prepend it to every frame read and expect it on every frame written.
//!
//! ```text
//!  0      1         2        4         6           8            10
//!  flags  gso_type  hdr_len  gso_size  csum_start  csum_offset
//! ```
//!
//! - `NEEDS_CSUM`: the L4 checksum is still to be computed: sum everything from
//!   `csum_start` to the end of the frame (the checksum field holds the pseudo-header sum)
//!   and store the complement at `csum_start + csum_offset`.
//! - `DATA_VALID` (receive only): the checksum was already verified.
//! - `gso_type` != NONE: the frame is a GSO "super-frame" to be cut into segments of
//!   `gso_size` payload bytes; `hdr_len` is a hint for the header length (Linux guests
//!   may put more than the headers there, so segmentation parses the headers itself).
//!
//! The 16-bit fields are in the host's byte order — the legacy virtio convention that TAP
//! (without `TUNSETVNETBE`/`TUNSETVNETLE`) and AF_PACKET use: little-endian on x86 and arm64.

use crate::{Result, WireError};

/// Length of `struct virtio_net_hdr`.
pub const VIRTIO_NET_HDR_LEN: usize = 10;

/// `flags`: the checksum must be completed (partial checksum offload).
pub const VIRTIO_NET_HDR_F_NEEDS_CSUM: u8 = 1;
/// `flags`: the checksum was verified (device to driver only).
pub const VIRTIO_NET_HDR_F_DATA_VALID: u8 = 2;

/// `gso_type` values.
pub const VIRTIO_NET_HDR_GSO_NONE: u8 = 0;
pub const VIRTIO_NET_HDR_GSO_TCPV4: u8 = 1;
/// UDP fragmentation offload (UFO): IP fragments, not UDP segments. Not produced by
/// AF_PACKET; rvs does not accept it.
pub const VIRTIO_NET_HDR_GSO_UDP: u8 = 3;
pub const VIRTIO_NET_HDR_GSO_TCPV6: u8 = 4;
/// UDP segmentation offload (USO): each segment is a UDP datagram of its own.
pub const VIRTIO_NET_HDR_GSO_UDP_L4: u8 = 5;
/// Bit or-ed into `gso_type`: the TCP stream uses ECN (CWR goes on the first segment only).
pub const VIRTIO_NET_HDR_GSO_ECN: u8 = 0x80;

/// The kind of segmentation a GSO frame asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GsoType {
    None,
    TcpV4,
    TcpV6,
    /// UDP segmentation (IPv4 or IPv6: the header does not say).
    UdpL4,
    /// UDP fragmentation (UFO), kept so it can be recognised and refused.
    Ufo,
    Unknown(u8),
}

impl GsoType {
    pub const fn from_raw(v: u8) -> Self {
        match v & !VIRTIO_NET_HDR_GSO_ECN {
            VIRTIO_NET_HDR_GSO_NONE => GsoType::None,
            VIRTIO_NET_HDR_GSO_TCPV4 => GsoType::TcpV4,
            VIRTIO_NET_HDR_GSO_TCPV6 => GsoType::TcpV6,
            VIRTIO_NET_HDR_GSO_UDP_L4 => GsoType::UdpL4,
            VIRTIO_NET_HDR_GSO_UDP => GsoType::Ufo,
            other => GsoType::Unknown(other),
        }
    }
}

/// A parsed virtio-net header. `Default` is "no offload": a complete frame.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct VirtioNetHdr {
    pub flags: u8,
    /// Raw `gso_type`, ECN bit included.
    pub gso_type: u8,
    pub hdr_len: u16,
    pub gso_size: u16,
    pub csum_start: u16,
    pub csum_offset: u16,
}

impl VirtioNetHdr {
    /// A complete frame: no checksum to finish, no segmentation.
    pub const NONE: VirtioNetHdr = VirtioNetHdr {
        flags: 0,
        gso_type: 0,
        hdr_len: 0,
        gso_size: 0,
        csum_start: 0,
        csum_offset: 0,
    };

    /// Reads the first [`VIRTIO_NET_HDR_LEN`] bytes of `buf`.
    pub fn parse(buf: &[u8]) -> Result<Self> {
        let b: &[u8; VIRTIO_NET_HDR_LEN] = buf
            .get(..VIRTIO_NET_HDR_LEN)
            .and_then(|s| s.try_into().ok())
            .ok_or(WireError::Truncated)?;
        Ok(Self::from_bytes(b))
    }

    /// Reads a header from exactly ten bytes (cannot fail).
    #[inline]
    pub const fn from_bytes(b: &[u8; VIRTIO_NET_HDR_LEN]) -> Self {
        VirtioNetHdr {
            flags: b[0],
            gso_type: b[1],
            hdr_len: u16::from_ne_bytes([b[2], b[3]]),
            gso_size: u16::from_ne_bytes([b[4], b[5]]),
            csum_start: u16::from_ne_bytes([b[6], b[7]]),
            csum_offset: u16::from_ne_bytes([b[8], b[9]]),
        }
    }

    /// The ten bytes of the header.
    #[inline]
    pub const fn to_bytes(&self) -> [u8; VIRTIO_NET_HDR_LEN] {
        let h = self.hdr_len.to_ne_bytes();
        let g = self.gso_size.to_ne_bytes();
        let s = self.csum_start.to_ne_bytes();
        let o = self.csum_offset.to_ne_bytes();
        [
            self.flags,
            self.gso_type,
            h[0],
            h[1],
            g[0],
            g[1],
            s[0],
            s[1],
            o[0],
            o[1],
        ]
    }

    /// Writes the header into the first ten bytes of `buf`.
    pub fn emit(&self, buf: &mut [u8]) -> Result<()> {
        let out = buf
            .get_mut(..VIRTIO_NET_HDR_LEN)
            .ok_or(WireError::Truncated)?;
        out.copy_from_slice(&self.to_bytes());
        Ok(())
    }

    #[inline]
    pub const fn needs_csum(&self) -> bool {
        self.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM != 0
    }

    #[inline]
    pub const fn data_valid(&self) -> bool {
        self.flags & VIRTIO_NET_HDR_F_DATA_VALID != 0
    }

    #[inline]
    pub const fn gso(&self) -> GsoType {
        GsoType::from_raw(self.gso_type)
    }

    #[inline]
    pub const fn is_gso(&self) -> bool {
        self.gso_type & !VIRTIO_NET_HDR_GSO_ECN != VIRTIO_NET_HDR_GSO_NONE
    }

    #[inline]
    pub const fn ecn(&self) -> bool {
        self.gso_type & VIRTIO_NET_HDR_GSO_ECN != 0
    }

    /// Whether the frame needs any work before it is a plain, correct frame.
    #[inline]
    pub const fn needs_offload(&self) -> bool {
        self.needs_csum() || self.is_gso()
    }

    /// The header after `delta` bytes were inserted (positive) or removed (negative) in
    /// front of the L3 header — a VLAN tag pushed or stripped. Offsets that are not in use
    /// (no `NEEDS_CSUM`; `hdr_len` 0) stay as they are.
    #[inline]
    pub fn shifted(mut self, delta: i16) -> Self {
        if self.needs_csum() {
            self.csum_start = self.csum_start.saturating_add_signed(delta);
        }
        if self.hdr_len != 0 {
            self.hdr_len = self.hdr_len.saturating_add_signed(delta);
        }
        self
    }

    /// The header to transmit: receive-only flags (`DATA_VALID`) removed.
    #[inline]
    pub const fn for_transmit(mut self) -> Self {
        self.flags &= VIRTIO_NET_HDR_F_NEEDS_CSUM;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A header as Linux writes it for a 64 KB TCP/IPv4 GSO frame (little-endian host):
    /// NEEDS_CSUM, TCPV4, hdr_len 66, gso_size 1448, csum_start 34, csum_offset 16.
    #[cfg(target_endian = "little")]
    const TSO4: [u8; 10] = [0x01, 0x01, 66, 0, 0xa8, 0x05, 34, 0, 16, 0];

    #[cfg(target_endian = "little")]
    #[test]
    fn parse_and_emit_little_endian_bytes() {
        let h = VirtioNetHdr::parse(&TSO4).expect("10 bytes");
        assert_eq!(
            h,
            VirtioNetHdr {
                flags: VIRTIO_NET_HDR_F_NEEDS_CSUM,
                gso_type: VIRTIO_NET_HDR_GSO_TCPV4,
                hdr_len: 66,
                gso_size: 1448,
                csum_start: 34,
                csum_offset: 16,
            }
        );
        assert!(h.needs_csum() && h.is_gso() && !h.ecn() && !h.data_valid());
        assert_eq!(h.gso(), GsoType::TcpV4);
        let mut out = [0xeeu8; 12];
        h.emit(&mut out).expect("room");
        assert_eq!(&out[..10], &TSO4);
        assert_eq!(&out[10..], &[0xee, 0xee], "nothing written past the header");
    }

    #[test]
    fn roundtrip_and_short_buffers() {
        let h = VirtioNetHdr {
            flags: 3,
            gso_type: VIRTIO_NET_HDR_GSO_TCPV6 | VIRTIO_NET_HDR_GSO_ECN,
            hdr_len: 0x1234,
            gso_size: 0xabcd,
            csum_start: 54,
            csum_offset: 16,
        };
        assert_eq!(VirtioNetHdr::from_bytes(&h.to_bytes()), h);
        assert_eq!(h.gso(), GsoType::TcpV6);
        assert!(h.ecn());
        for n in 0..VIRTIO_NET_HDR_LEN {
            assert_eq!(
                VirtioNetHdr::parse(&[0u8; 10][..n]),
                Err(WireError::Truncated)
            );
            assert_eq!(
                VirtioNetHdr::NONE.emit(&mut [0u8; 10][..n]),
                Err(WireError::Truncated)
            );
        }
        assert_eq!(
            VirtioNetHdr::parse(&[0u8; 10]).expect("zeros"),
            VirtioNetHdr::NONE
        );
        assert!(!VirtioNetHdr::NONE.needs_offload());
    }

    #[test]
    fn gso_types() {
        assert_eq!(GsoType::from_raw(0), GsoType::None);
        assert_eq!(GsoType::from_raw(0x80 | 4), GsoType::TcpV6);
        assert_eq!(GsoType::from_raw(5), GsoType::UdpL4);
        assert_eq!(GsoType::from_raw(3), GsoType::Ufo);
        assert_eq!(GsoType::from_raw(9), GsoType::Unknown(9));
        let ecn_only = VirtioNetHdr {
            gso_type: VIRTIO_NET_HDR_GSO_ECN,
            ..VirtioNetHdr::NONE
        };
        assert!(!ecn_only.is_gso());
    }

    #[test]
    fn vlan_shift_moves_offsets_in_use() {
        let h = VirtioNetHdr {
            flags: VIRTIO_NET_HDR_F_NEEDS_CSUM,
            gso_type: VIRTIO_NET_HDR_GSO_TCPV4,
            hdr_len: 66,
            gso_size: 1448,
            csum_start: 34,
            csum_offset: 16,
        };
        let pushed = h.shifted(4);
        assert_eq!((pushed.csum_start, pushed.hdr_len), (38, 70));
        assert_eq!((pushed.csum_offset, pushed.gso_size), (16, 1448));
        assert_eq!(pushed.shifted(-4), h);
        // Offsets not in use are left alone.
        let plain = VirtioNetHdr {
            flags: VIRTIO_NET_HDR_F_DATA_VALID,
            ..VirtioNetHdr::NONE
        };
        assert_eq!(plain.shifted(-4), plain);
        assert_eq!(plain.for_transmit().flags, 0);
        assert_eq!(h.for_transmit(), h);
    }
}
