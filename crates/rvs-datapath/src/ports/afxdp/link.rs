//! Netlink (`RTM_GETLINK`/`RTM_SETLINK` with `IFLA_XDP`) to see, attach and detach the XDP
//! program of an interface, and the ethtool ioctl that counts its queues.
//!
//! Requests ask for extended acks (`NETLINK_EXT_ACK`), so a driver's refusal carries its
//! reason ("Peer MTU is too large to set XDP") into our error message.

use crate::ports::sys::{self, cvt};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

const NETLINK_ROUTE: libc::c_int = 0;
const RTM_GETLINK: u16 = 18;
const RTM_SETLINK: u16 = 19;
const NLMSG_ERROR: u16 = 2;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_ACK_TLVS: u16 = 0x200;
const NETLINK_CAP_ACK: libc::c_int = 10;
const NETLINK_EXT_ACK: libc::c_int = 11;
const NLMSGERR_ATTR_MSG: u16 = 1;
const NLA_F_NESTED: u16 = 0x8000;
const NLA_TYPE_MASK: u16 = 0x3fff;
const IFLA_XDP: u16 = 43;
const IFLA_XDP_FD: u16 = 1;
const IFLA_XDP_ATTACHED: u16 = 2;
const IFLA_XDP_FLAGS: u16 = 3;
const IFLA_XDP_PROG_ID: u16 = 4;
const IFLA_XDP_DRV_PROG_ID: u16 = 5;
const IFLA_XDP_SKB_PROG_ID: u16 = 6;

pub const XDP_FLAGS_UPDATE_IF_NOEXIST: u32 = 1;
pub const XDP_FLAGS_SKB_MODE: u32 = 2;
pub const XDP_FLAGS_DRV_MODE: u32 = 4;

const XDP_ATTACHED_DRV: u8 = 1;
const XDP_ATTACHED_SKB: u8 = 2;

/// Where an XDP program runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XdpMode {
    /// In the driver (`XDP_FLAGS_DRV_MODE`).
    Native,
    /// On socket buffers in the generic receive path (`XDP_FLAGS_SKB_MODE`).
    Generic,
}

impl XdpMode {
    pub fn flag(self) -> u32 {
        match self {
            XdpMode::Native => XDP_FLAGS_DRV_MODE,
            XdpMode::Generic => XDP_FLAGS_SKB_MODE,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            XdpMode::Native => "native",
            XdpMode::Generic => "generic",
        }
    }
}

/// The program attached to an interface, if any (hardware offload is not considered).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attached {
    pub prog_id: u32,
    pub mode: XdpMode,
}

/// A netlink refusal: errno plus the kernel's extended-ack message, if any.
#[derive(Debug)]
pub struct NlError {
    pub errno: i32,
    pub message: Option<String>,
}

impl NlError {
    pub fn into_io(self, what: &str) -> io::Error {
        let base = io::Error::from_raw_os_error(self.errno);
        let text = match &self.message {
            Some(m) => format!("{what}: {m} ({base})"),
            None => format!("{what}: {base}"),
        };
        io::Error::new(base.kind(), text)
    }
}

impl std::fmt::Display for NlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let base = io::Error::from_raw_os_error(self.errno);
        match &self.message {
            Some(m) => write!(f, "{m} ({base})"),
            None => write!(f, "{base}"),
        }
    }
}

fn push_attr(buf: &mut Vec<u8>, kind: u16, payload: &[u8]) {
    let len = 4 + payload.len();
    buf.extend_from_slice(&(len as u16).to_ne_bytes());
    buf.extend_from_slice(&kind.to_ne_bytes());
    buf.extend_from_slice(payload);
    while !buf.len().is_multiple_of(4) {
        buf.push(0);
    }
}

/// An `RTM_*LINK` request for `ifindex` with `attrs` (already encoded).
fn link_request(kind: u16, flags: u16, ifindex: u32, attrs: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(32 + attrs.len());
    let total = 16 + 16 + attrs.len();
    m.extend_from_slice(&(total as u32).to_ne_bytes());
    m.extend_from_slice(&kind.to_ne_bytes());
    m.extend_from_slice(&(NLM_F_REQUEST | flags).to_ne_bytes());
    m.extend_from_slice(&1u32.to_ne_bytes()); // seq
    m.extend_from_slice(&0u32.to_ne_bytes()); // pid: the kernel
                                              // struct ifinfomsg: family, pad, type, index, flags, change.
    m.extend_from_slice(&[libc::AF_UNSPEC as u8, 0, 0, 0]);
    m.extend_from_slice(&(ifindex as i32).to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    m.extend_from_slice(attrs);
    m
}

/// Attributes in `buf` as (type without flags, payload); stops at the first malformed one.
fn attrs(mut buf: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        if buf.len() < 4 {
            return None;
        }
        let len = u16::from_ne_bytes([buf[0], buf[1]]) as usize;
        let kind = u16::from_ne_bytes([buf[2], buf[3]]) & NLA_TYPE_MASK;
        if len < 4 || len > buf.len() {
            return None;
        }
        let payload = &buf[4..len];
        buf = buf.get((len + 3) & !3..).unwrap_or(&[]);
        Some((kind, payload))
    })
}

fn u32_of(p: &[u8]) -> Option<u32> {
    Some(u32::from_ne_bytes(p.get(..4)?.try_into().ok()?))
}

/// A netlink reply message: type and payload.
type Reply = (u16, Vec<u8>);

struct Netlink(OwnedFd);

impl Netlink {
    fn open() -> io::Result<Netlink> {
        // SAFETY: plain socket(2); the fd is owned right away.
        let fd = cvt(unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                NETLINK_ROUTE,
            )
        })?;
        // SAFETY: fresh descriptor we own.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let one: libc::c_int = 1;
        let _ = sys::setsockopt(fd.as_raw_fd(), libc::SOL_NETLINK, NETLINK_EXT_ACK, &one);
        let _ = sys::setsockopt(fd.as_raw_fd(), libc::SOL_NETLINK, NETLINK_CAP_ACK, &one);
        let tv = libc::timeval {
            tv_sec: 2,
            tv_usec: 0,
        };
        sys::setsockopt(fd.as_raw_fd(), libc::SOL_SOCKET, libc::SO_RCVTIMEO, &tv)?;
        Ok(Netlink(fd))
    }

    /// Sends `req` and returns the reply messages (type, payload) up to the ack, or the
    /// kernel's refusal.
    fn transact(&self, req: &[u8]) -> io::Result<Result<Vec<Reply>, NlError>> {
        // SAFETY: sends from a live buffer of the given length.
        let n = unsafe { libc::send(self.0.as_raw_fd(), req.as_ptr().cast(), req.len(), 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut out = Vec::new();
        let mut buf = vec![0u8; 32 * 1024];
        for _ in 0..64 {
            // SAFETY: receives into a live buffer of the given length.
            let n =
                unsafe { libc::recv(self.0.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            let n = usize::try_from(n).map_err(|_| io::Error::last_os_error())?;
            let mut rest = &buf[..n.min(buf.len())];
            while rest.len() >= 16 {
                let len = u32::from_ne_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
                let kind = u16::from_ne_bytes([rest[4], rest[5]]);
                let flags = u16::from_ne_bytes([rest[6], rest[7]]);
                if len < 16 || len > rest.len() {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "malformed netlink reply",
                    ));
                }
                let payload = &rest[16..len];
                if kind == NLMSG_ERROR {
                    let errno = payload
                        .get(..4)
                        .map(|b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
                        .unwrap_or(-libc::EIO);
                    if errno == 0 {
                        return Ok(Ok(out));
                    }
                    // With NETLINK_CAP_ACK the echoed request is only its 16-byte header.
                    let message = if flags & NLM_F_ACK_TLVS != 0 {
                        attrs(payload.get(20..).unwrap_or(&[]))
                            .find(|(k, _)| *k == NLMSGERR_ATTR_MSG)
                            .map(|(_, p)| {
                                let end = p.iter().position(|&b| b == 0).unwrap_or(p.len());
                                String::from_utf8_lossy(&p[..end]).into_owned()
                            })
                    } else {
                        None
                    };
                    return Ok(Err(NlError {
                        errno: -errno,
                        message,
                    }));
                }
                out.push((kind, payload.to_vec()));
                rest = rest.get((len + 3) & !3..).unwrap_or(&[]);
            }
        }
        Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "no netlink acknowledgement",
        ))
    }
}

/// Parses the `IFLA_XDP` nest of an `RTM_NEWLINK` payload (ifinfomsg + attributes).
fn parse_xdp(link_payload: &[u8]) -> Option<Attached> {
    let (_, xdp) = attrs(link_payload.get(16..)?).find(|(k, _)| *k == IFLA_XDP)?;
    let mut mode = None;
    let (mut any, mut drv, mut skb) = (None, None, None);
    for (k, p) in attrs(xdp) {
        match k {
            IFLA_XDP_ATTACHED => mode = p.first().copied(),
            IFLA_XDP_PROG_ID => any = u32_of(p),
            IFLA_XDP_DRV_PROG_ID => drv = u32_of(p),
            IFLA_XDP_SKB_PROG_ID => skb = u32_of(p),
            _ => {}
        }
    }
    match mode? {
        XDP_ATTACHED_DRV => Some(Attached {
            prog_id: any.or(drv)?,
            mode: XdpMode::Native,
        }),
        XDP_ATTACHED_SKB => Some(Attached {
            prog_id: any.or(skb)?,
            mode: XdpMode::Generic,
        }),
        // Several programs (or hardware offload): report the one a driver or skb slot holds.
        _ => drv
            .map(|id| Attached {
                prog_id: id,
                mode: XdpMode::Native,
            })
            .or(skb.map(|id| Attached {
                prog_id: id,
                mode: XdpMode::Generic,
            })),
    }
}

/// The XDP program attached to `ifindex`, if any.
pub fn query(ifindex: u32) -> io::Result<Option<Attached>> {
    let nl = Netlink::open()?;
    let replies = nl
        .transact(&link_request(RTM_GETLINK, NLM_F_ACK, ifindex, &[]))?
        .map_err(|e| e.into_io("cannot read the interface's XDP state"))?;
    Ok(replies.iter().find_map(|(_, p)| parse_xdp(p)))
}

fn set_xdp(ifindex: u32, fd: RawFd, flags: u32) -> io::Result<Result<(), NlError>> {
    let mut nest = Vec::new();
    push_attr(&mut nest, IFLA_XDP_FD, &fd.to_ne_bytes());
    push_attr(&mut nest, IFLA_XDP_FLAGS, &flags.to_ne_bytes());
    let mut a = Vec::new();
    push_attr(&mut a, IFLA_XDP | NLA_F_NESTED, &nest);
    let nl = Netlink::open()?;
    Ok(nl
        .transact(&link_request(RTM_SETLINK, NLM_F_ACK, ifindex, &a))?
        .map(|_| ()))
}

/// Attaches `prog` in `mode`, refusing to replace any program (`XDP_FLAGS_UPDATE_IF_NOEXIST`).
pub fn attach(ifindex: u32, prog: RawFd, mode: XdpMode) -> io::Result<Result<(), NlError>> {
    set_xdp(ifindex, prog, XDP_FLAGS_UPDATE_IF_NOEXIST | mode.flag())
}

/// Detaches whatever program runs in `mode`.
pub fn detach(ifindex: u32, mode: XdpMode) -> io::Result<()> {
    set_xdp(ifindex, -1, mode.flag())?.map_err(|e| e.into_io("cannot detach the XDP program"))
}

const SIOCETHTOOL: libc::c_ulong = 0x8946;
const ETHTOOL_GCHANNELS: u32 = 0x3c;

/// `struct ethtool_channels`.
#[repr(C)]
#[derive(Default)]
struct EthtoolChannels {
    cmd: u32,
    max_rx: u32,
    max_tx: u32,
    max_other: u32,
    max_combined: u32,
    rx_count: u32,
    tx_count: u32,
    other_count: u32,
    combined_count: u32,
}

/// Receive queues of `name` (`ETHTOOL_GCHANNELS`: rx + combined channels); 1 when the driver
/// does not say.
pub fn rx_queue_count(name: &str) -> io::Result<u32> {
    let sock = sys::control_socket()?;
    let mut ch = EthtoolChannels {
        cmd: ETHTOOL_GCHANNELS,
        ..Default::default()
    };
    let mut req = sys::ifreq(name)?;
    req.ifr_ifru.ifru_data = (&mut ch as *mut EthtoolChannels).cast();
    // SAFETY: SIOCETHTOOL reads the command from and writes the answer into `ch`, which
    // outlives the call.
    let r = unsafe { libc::ioctl(sock.as_raw_fd(), SIOCETHTOOL as _, &mut req) };
    if r < 0 {
        let e = io::Error::last_os_error();
        return match e.raw_os_error() {
            Some(libc::EOPNOTSUPP) => Ok(1),
            _ => Err(e),
        };
    }
    Ok(queues_from_channels(ch.rx_count, ch.combined_count))
}

fn queues_from_channels(rx: u32, combined: u32) -> u32 {
    (rx + combined).clamp(1, 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setlink_request_layout() {
        let mut nest = Vec::new();
        push_attr(&mut nest, IFLA_XDP_FD, &5i32.to_ne_bytes());
        push_attr(&mut nest, IFLA_XDP_FLAGS, &6u32.to_ne_bytes());
        let mut a = Vec::new();
        push_attr(&mut a, IFLA_XDP | NLA_F_NESTED, &nest);
        let m = link_request(RTM_SETLINK, NLM_F_ACK, 9, &a);
        assert_eq!(m.len(), 16 + 16 + 4 + 8 + 8);
        assert_eq!(
            u32::from_ne_bytes(m[0..4].try_into().unwrap_or_default()),
            m.len() as u32
        );
        assert_eq!(u16::from_ne_bytes([m[4], m[5]]), RTM_SETLINK);
        assert_eq!(
            i32::from_ne_bytes(m[20..24].try_into().unwrap_or_default()),
            9
        );
        assert_eq!(u16::from_ne_bytes([m[32], m[33]]), 20);
        assert_eq!(u16::from_ne_bytes([m[34], m[35]]), IFLA_XDP | NLA_F_NESTED);
        let inner: Vec<_> = attrs(&m[36..]).collect();
        assert_eq!(
            inner,
            vec![
                (IFLA_XDP_FD, &5i32.to_ne_bytes()[..]),
                (IFLA_XDP_FLAGS, &6u32.to_ne_bytes()[..])
            ]
        );
    }

    #[test]
    fn xdp_nest_parsing() {
        let mut nest = Vec::new();
        push_attr(&mut nest, IFLA_XDP_ATTACHED, &[XDP_ATTACHED_SKB]);
        push_attr(&mut nest, IFLA_XDP_PROG_ID, &42u32.to_ne_bytes());
        let mut payload = vec![0u8; 16];
        push_attr(&mut payload, 3, b"eth0\0");
        push_attr(&mut payload, IFLA_XDP | NLA_F_NESTED, &nest);
        assert_eq!(
            parse_xdp(&payload),
            Some(Attached {
                prog_id: 42,
                mode: XdpMode::Generic
            })
        );
        let mut none = Vec::new();
        push_attr(&mut none, IFLA_XDP_ATTACHED, &[0]);
        let mut p2 = vec![0u8; 16];
        push_attr(&mut p2, IFLA_XDP, &none);
        assert_eq!(parse_xdp(&p2), None);
        // Truncated attribute: no panic, nothing found.
        assert_eq!(parse_xdp(&payload[..payload.len() - 6]), None);
    }

    #[test]
    fn queue_count_from_channels() {
        assert_eq!(queues_from_channels(0, 0), 1);
        assert_eq!(queues_from_channels(1, 0), 1);
        assert_eq!(queues_from_channels(0, 8), 8);
    }
}
