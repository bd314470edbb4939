//! Raw `AF_PACKET` sockets that send and receive whole Ethernet frames.

use crate::link::check_ifname;
use crate::Netns;
use anyhow::{bail, Context, Result};
use std::ffi::CString;
use std::io;
use std::mem;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

/// Size of the receive buffer: the largest frame a receive returns.
pub const RECV_BUF_LEN: usize = 65536;

// Linux UAPI values from <linux/if_packet.h>, spelled out here so the code
// does not depend on which of them a given `libc` release exports.
const PACKET_AUXDATA: libc::c_int = 8;
const PACKET_IGNORE_OUTGOING: libc::c_int = 23;
const TP_STATUS_VLAN_VALID: u32 = 1 << 4;
const TP_STATUS_VLAN_TPID_VALID: u32 = 1 << 6;
const ETH_P_8021Q: u16 = 0x8100;

/// `struct tpacket_auxdata` from <linux/if_packet.h>: what the kernel
/// attaches to each received packet when `PACKET_AUXDATA` is on.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
struct TpacketAuxdata {
    tp_status: u32,
    tp_len: u32,
    tp_snaplen: u32,
    tp_mac: u16,
    tp_net: u16,
    tp_vlan_tci: u16,
    tp_vlan_tpid: u16,
}

/// An `AF_PACKET`/`SOCK_RAW` socket bound to one interface.
///
/// It sends whole Ethernet frames (without FCS) and receives every frame of
/// the interface, of all protocols. Received frames come back as they were
/// on the wire: Linux takes the 802.1Q/802.1ad tag out of a received frame
/// and keeps it in metadata, and this socket puts it back (after the two MAC
/// addresses), with the TPID the kernel reports (0x8100 if it reports none).
///
/// A socket made with [`RawSocket::open`] also receives the frames sent on
/// the interface (by itself or anyone else); one made with
/// [`RawSocket::open_rx_only`] receives only frames that arrive.
#[derive(Debug)]
pub struct RawSocket {
    fd: OwnedFd,
    ifname: String,
    ifindex: u32,
}

impl RawSocket {
    /// Opens a socket on `ifname` in `ns` (`None`: the host namespace) that
    /// sees frames in both directions.
    pub fn open(ns: Option<&Netns>, ifname: &str) -> Result<RawSocket> {
        Self::open_impl(ns, ifname, false)
    }

    /// Opens a socket on `ifname` in `ns` that sees only frames arriving on
    /// the interface, not those sent on it (`PACKET_IGNORE_OUTGOING`, Linux
    /// 4.20 or newer). Sending through it works as usual.
    pub fn open_rx_only(ns: Option<&Netns>, ifname: &str) -> Result<RawSocket> {
        Self::open_impl(ns, ifname, true)
    }

    fn open_impl(ns: Option<&Netns>, ifname: &str, rx_only: bool) -> Result<RawSocket> {
        check_ifname(ifname)?;
        let c_name = CString::new(ifname).context("interface name contains NUL")?;
        let make = move || open_bound(&c_name, rx_only);
        let where_ = ns.map_or("the host namespace".to_string(), |ns| {
            format!("network namespace {}", ns.name())
        });
        let (fd, ifindex) = match ns {
            Some(ns) => ns.try_enter(make)?,
            None => make(),
        }
        .with_context(|| format!("opening a raw socket on {ifname} in {where_}"))?;
        Ok(RawSocket {
            fd,
            ifname: ifname.to_string(),
            ifindex,
        })
    }

    /// The interface the socket is bound to.
    pub fn ifname(&self) -> &str {
        &self.ifname
    }

    /// The interface index inside its namespace.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// Sends one whole Ethernet frame; an error if the kernel refuses it or
    /// takes less than all of it.
    pub fn send(&self, frame: &[u8]) -> Result<()> {
        // SAFETY: the pointer and length describe `frame`, which outlives
        // the call; the kernel only reads from it.
        let n = unsafe { libc::send(self.fd.as_raw_fd(), frame.as_ptr().cast(), frame.len(), 0) };
        if n < 0 {
            let err = io::Error::last_os_error();
            bail!(
                "sending a {}-byte frame on {}: {err}",
                frame.len(),
                self.ifname
            );
        }
        if n as usize != frame.len() {
            bail!(
                "short send on {}: {n} of {} bytes",
                self.ifname,
                frame.len()
            );
        }
        Ok(())
    }

    /// Waits up to `timeout` for a frame and returns it (with its VLAN tag
    /// re-inserted); `None` if none came.
    ///
    /// # Panics
    ///
    /// On a socket error, which means the harness is broken; see
    /// [`RawSocket::try_recv_timeout`].
    pub fn recv_timeout(&self, timeout: Duration) -> Option<Vec<u8>> {
        match self.try_recv_timeout(timeout) {
            Ok(frame) => frame,
            Err(e) => panic!("receiving on raw socket {}: {e}", self.ifname),
        }
    }

    /// Like [`RawSocket::recv_timeout`], returning socket errors.
    pub fn try_recv_timeout(&self, timeout: Duration) -> io::Result<Option<Vec<u8>>> {
        let deadline = Instant::now() + timeout;
        // Bounded by the deadline; the count cap guards against a socket that
        // keeps reporting readiness without data.
        for _ in 0..100_000 {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if self.poll_readable(remaining)? {
                if let Some(frame) = self.recv_nonblocking()? {
                    return Ok(Some(frame));
                }
            }
            if Instant::now() >= deadline {
                break;
            }
        }
        Ok(None)
    }

    /// Every frame received until `window` has passed (at most 100 000).
    ///
    /// # Panics
    ///
    /// On a socket error, like [`RawSocket::recv_timeout`].
    pub fn recv_for(&self, window: Duration) -> Vec<Vec<u8>> {
        let deadline = Instant::now() + window;
        let mut frames = Vec::new();
        while frames.len() < 100_000 {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                break;
            }
            match self.recv_timeout(remaining) {
                Some(frame) => frames.push(frame),
                None => break,
            }
        }
        frames
    }

    /// Discards the frames queued on the socket; returns how many (at most
    /// 100 000 per call).
    pub fn drain(&self) -> usize {
        let mut n = 0;
        while n < 100_000 {
            match self.recv_nonblocking() {
                Ok(Some(_)) => n += 1,
                Ok(None) | Err(_) => break,
            }
        }
        n
    }

    /// `poll(2)` for input, up to `timeout` (rounded up to milliseconds).
    /// `Ok(false)` on timeout or interruption by a signal.
    fn poll_readable(&self, timeout: Duration) -> io::Result<bool> {
        let ms = timeout.as_nanos().div_ceil(1_000_000);
        let ms = libc::c_int::try_from(ms).unwrap_or(libc::c_int::MAX);
        let mut pfd = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: `pfd` is one valid pollfd and we pass a count of 1.
        let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
        if rc < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                return Ok(false);
            }
            return Err(err);
        }
        Ok(rc > 0)
    }

    /// Receives one queued frame without blocking (`None` if there is none),
    /// re-inserting its VLAN tag.
    fn recv_nonblocking(&self) -> io::Result<Option<Vec<u8>>> {
        let mut buf = vec![0u8; RECV_BUF_LEN];
        // Room for a few control messages; u64 elements give cmsghdr the
        // alignment it needs.
        let mut control = [0u64; 32];
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        // SAFETY: msghdr is plain old data; all-zero is a valid empty value.
        let mut msg: libc::msghdr = unsafe { mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = mem::size_of_val(&control) as _;

        // SAFETY: `msg` points at `iov` (describing `buf`) and at `control`;
        // all three live until the call returns and the kernel writes only
        // within the lengths given.
        let n = unsafe { libc::recvmsg(self.fd.as_raw_fd(), &mut msg, libc::MSG_DONTWAIT) };
        if n < 0 {
            let err = io::Error::last_os_error();
            return match err.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(None),
                _ => Err(err),
            };
        }
        buf.truncate(n as usize);
        if let Some(aux) = find_auxdata(&msg) {
            reinsert_vlan_tag(&mut buf, &aux);
        }
        Ok(Some(buf))
    }
}

impl AsFd for RawSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for RawSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// Creates the socket in the calling thread's namespace, looks up `ifname`
/// there and binds to it. Returns the socket and the interface index.
fn open_bound(ifname: &CString, rx_only: bool) -> io::Result<(OwnedFd, u32)> {
    // Protocol 0 at creation: the socket receives nothing until it is bound
    // below, so no frame of another interface can slip into its queue.
    // SAFETY: plain system call with constant arguments.
    let raw = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` is a fresh descriptor that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };

    // SAFETY: `ifname` is a NUL-terminated string that outlives the call.
    let ifindex = unsafe { libc::if_nametoindex(ifname.as_ptr()) };
    if ifindex == 0 {
        let err = io::Error::last_os_error();
        return Err(io::Error::new(
            err.kind(),
            format!("no interface {ifname:?} here: {err}"),
        ));
    }

    set_int_opt(&fd, libc::SOL_PACKET, PACKET_AUXDATA, 1)?;
    if rx_only {
        set_int_opt(&fd, libc::SOL_PACKET, PACKET_IGNORE_OUTGOING, 1).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("PACKET_IGNORE_OUTGOING (needs Linux 4.20 or newer): {e}"),
            )
        })?;
    }
    // A larger queue so bursts in tests are not dropped; best effort.
    let _ = set_int_opt(&fd, libc::SOL_SOCKET, libc::SO_RCVBUF, 1 << 20);

    // SAFETY: sockaddr_ll is plain old data; all-zero is a valid value.
    let mut addr: libc::sockaddr_ll = unsafe { mem::zeroed() };
    addr.sll_family = libc::AF_PACKET as libc::c_ushort;
    addr.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
    addr.sll_ifindex = ifindex as libc::c_int;
    // SAFETY: the pointer and length describe `addr`, a sockaddr_ll that
    // outlives the call.
    let rc = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&addr as *const libc::sockaddr_ll).cast(),
            mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((fd, ifindex))
}

fn set_int_opt(
    fd: &OwnedFd,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    // SAFETY: the pointer and length describe `value`, a c_int that outlives
    // the call.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&value as *const libc::c_int).cast(),
            mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The `PACKET_AUXDATA` control message of a received packet, if any.
fn find_auxdata(msg: &libc::msghdr) -> Option<TpacketAuxdata> {
    // SAFETY: `msg` was filled in by recvmsg, so its control pointer and
    // length describe valid control messages; CMSG_FIRSTHDR/CMSG_NXTHDR stay
    // within them and return null at the end.
    let mut cmsg = unsafe { libc::CMSG_FIRSTHDR(msg) };
    // A packet carries one or two control messages; the cap bounds the walk.
    for _ in 0..16 {
        if cmsg.is_null() {
            return None;
        }
        // SAFETY: `cmsg` is non-null and points at a cmsghdr inside the
        // control buffer (see above).
        let hdr = unsafe { &*cmsg };
        let need = mem::size_of::<TpacketAuxdata>() as u32;
        // SAFETY: CMSG_LEN is arithmetic only.
        let need_len = unsafe { libc::CMSG_LEN(need) } as usize;
        if hdr.cmsg_level == libc::SOL_PACKET
            && hdr.cmsg_type == PACKET_AUXDATA
            && hdr.cmsg_len as usize >= need_len
        {
            // SAFETY: the message is long enough to hold a tpacket_auxdata
            // after its header (checked just above); the data may be
            // unaligned, hence read_unaligned.
            let aux = unsafe {
                libc::CMSG_DATA(cmsg)
                    .cast::<TpacketAuxdata>()
                    .read_unaligned()
            };
            return Some(aux);
        }
        // SAFETY: as for CMSG_FIRSTHDR above.
        cmsg = unsafe { libc::CMSG_NXTHDR(msg, cmsg) };
    }
    None
}

/// Puts back the VLAN tag that the kernel moved into `aux`, right after the
/// destination and source MAC addresses.
fn reinsert_vlan_tag(frame: &mut Vec<u8>, aux: &TpacketAuxdata) {
    // Old kernels set no VLAN_VALID flag and report a TCI of 0 for "none";
    // a TCI of 0 with the flag set is a real priority tag (VID 0, PCP 0).
    let has_tag = aux.tp_status & TP_STATUS_VLAN_VALID != 0 || aux.tp_vlan_tci != 0;
    if !has_tag || frame.len() < 12 {
        return;
    }
    let tpid = if aux.tp_status & TP_STATUS_VLAN_TPID_VALID != 0 {
        aux.tp_vlan_tpid
    } else {
        ETH_P_8021Q
    };
    let mut tag = [0u8; 4];
    tag[..2].copy_from_slice(&tpid.to_be_bytes());
    tag[2..].copy_from_slice(&aux.tp_vlan_tci.to_be_bytes());
    frame.splice(12..12, tag);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn untagged() -> Vec<u8> {
        let mut f = vec![1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2];
        f.extend_from_slice(&[0x88, 0xb5, 0xaa, 0xbb]);
        f
    }

    #[test]
    fn auxdata_layout_matches_kernel() {
        assert_eq!(mem::size_of::<TpacketAuxdata>(), 20);
    }

    #[test]
    fn reinserts_tag_with_reported_tpid() {
        let mut f = untagged();
        let aux = TpacketAuxdata {
            tp_status: TP_STATUS_VLAN_VALID | TP_STATUS_VLAN_TPID_VALID,
            tp_vlan_tci: (5 << 13) | 100,
            tp_vlan_tpid: 0x88a8,
            ..Default::default()
        };
        reinsert_vlan_tag(&mut f, &aux);
        assert_eq!(&f[12..18], &[0x88, 0xa8, 0xa0, 0x64, 0x88, 0xb5]);
        assert_eq!(f.len(), untagged().len() + 4);
    }

    #[test]
    fn defaults_to_8021q_without_tpid() {
        let mut f = untagged();
        let aux = TpacketAuxdata {
            tp_status: TP_STATUS_VLAN_VALID,
            tp_vlan_tci: 7,
            ..Default::default()
        };
        reinsert_vlan_tag(&mut f, &aux);
        assert_eq!(&f[12..16], &[0x81, 0x00, 0x00, 0x07]);
    }

    #[test]
    fn priority_tag_with_zero_tci_is_kept() {
        let mut f = untagged();
        let aux = TpacketAuxdata {
            tp_status: TP_STATUS_VLAN_VALID,
            ..Default::default()
        };
        reinsert_vlan_tag(&mut f, &aux);
        assert_eq!(&f[12..16], &[0x81, 0x00, 0x00, 0x00]);
    }

    #[test]
    fn no_tag_leaves_frame_alone() {
        let mut f = untagged();
        reinsert_vlan_tag(&mut f, &TpacketAuxdata::default());
        assert_eq!(f, untagged());
    }
}
