//! Thin, checked wrappers over the Linux system calls the ports use.
//!
//! Kernel constants and structure layouts that the `libc` crate does not export on every
//! target are declared here from the Linux UAPI headers (`linux/if_packet.h`).

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

pub const ETH_P_ALL: u16 = 0x0003;
pub const SOL_PACKET: libc::c_int = 263;
pub const PACKET_ADD_MEMBERSHIP: libc::c_int = 1;
pub const PACKET_MR_PROMISC: u16 = 1;
pub const PACKET_RX_RING: libc::c_int = 5;
pub const PACKET_STATISTICS: libc::c_int = 6;
pub const PACKET_AUXDATA: libc::c_int = 8;
pub const PACKET_VERSION: libc::c_int = 10;
pub const PACKET_TX_RING: libc::c_int = 13;
pub const PACKET_QDISC_BYPASS: libc::c_int = 20;
pub const TPACKET_V2: libc::c_int = 1;
pub const TPACKET_V3: libc::c_int = 2;
pub const PACKET_VNET_HDR: libc::c_int = 15;
pub const PACKET_IGNORE_OUTGOING: libc::c_int = 23;
pub const PACKET_OUTGOING: u8 = 4;
pub const PACKET_FANOUT: libc::c_int = 18;
pub const PACKET_FANOUT_HASH: u32 = 0;
pub const PACKET_FANOUT_CPU: u32 = 2;
pub const PACKET_FANOUT_EBPF: u32 = 7;
pub const PACKET_FANOUT_DATA: libc::c_int = 22;
pub const PACKET_FANOUT_FLAG_UNIQUEID: u32 = 0x2000;
pub const PACKET_FANOUT_FLAG_IGNORE_OUTGOING: u32 = 0x4000;
pub const PACKET_FANOUT_FLAG_DEFRAG: u32 = 0x8000;
pub const TP_STATUS_VLAN_VALID: u32 = 1 << 4;
pub const TP_STATUS_VLAN_TPID_VALID: u32 = 1 << 6;

/// `struct tpacket_auxdata`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct TpacketAuxdata {
    pub tp_status: u32,
    pub tp_len: u32,
    pub tp_snaplen: u32,
    pub tp_mac: u16,
    pub tp_net: u16,
    pub tp_vlan_tci: u16,
    pub tp_vlan_tpid: u16,
}

/// `struct packet_mreq`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct PacketMreq {
    pub mr_ifindex: libc::c_int,
    pub mr_type: u16,
    pub mr_alen: u16,
    pub mr_address: [u8; 8],
}

/// Turns a -1 return into the thread's `errno`.
#[inline]
pub fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Checks that `name` fits a Linux interface name.
pub fn check_ifname(name: &str) -> io::Result<CString> {
    if name.is_empty()
        || name.len() >= libc::IFNAMSIZ
        || name.contains(['/', ' ', '\0'])
        || name == "."
        || name == ".."
    {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("'{name}' is not a valid interface name"),
        ));
    }
    CString::new(name).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "interface name holds a NUL byte",
        )
    })
}

/// Index of the interface `name` in the calling thread's network namespace.
pub fn if_index(name: &str) -> io::Result<u32> {
    let c = check_ifname(name)?;
    // SAFETY: `c` is a valid NUL-terminated string.
    let idx = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if idx == 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(idx)
    }
}

pub fn ifreq(name: &str) -> io::Result<libc::ifreq> {
    let c = check_ifname(name)?;
    // SAFETY: ifreq is plain old data; all-zero is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(c.as_bytes()) {
        *dst = *src as libc::c_char;
    }
    Ok(req)
}

/// MTU of `name`, asked through any socket of the interface's namespace.
pub fn get_mtu(sock: RawFd, name: &str) -> io::Result<usize> {
    let mut req = ifreq(name)?;
    // SAFETY: SIOCGIFMTU reads ifr_name and writes ifr_mtu of a valid ifreq.
    cvt(unsafe { libc::ioctl(sock, libc::SIOCGIFMTU, &mut req) })?;
    // SAFETY: the kernel filled the mtu member of the union.
    let mtu = unsafe { req.ifr_ifru.ifru_mtu };
    Ok(usize::try_from(mtu).unwrap_or(1500))
}

/// Brings `name` administratively up.
pub fn set_link_up(sock: RawFd, name: &str) -> io::Result<()> {
    let mut req = ifreq(name)?;
    // SAFETY: SIOCGIFFLAGS/SIOCSIFFLAGS read and write the flags member of a valid ifreq.
    unsafe {
        cvt(libc::ioctl(sock, libc::SIOCGIFFLAGS, &mut req))?;
        req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        cvt(libc::ioctl(sock, libc::SIOCSIFFLAGS, &mut req))?;
    }
    Ok(())
}

pub fn setsockopt<T>(
    fd: RawFd,
    level: libc::c_int,
    name: libc::c_int,
    value: &T,
) -> io::Result<()> {
    // SAFETY: `value` points to a live T of the size passed.
    cvt(unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (value as *const T).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    })?;
    Ok(())
}

pub fn getsockopt_u32(fd: RawFd, level: libc::c_int, name: libc::c_int) -> io::Result<u32> {
    let mut v: u32 = 0;
    let mut len = std::mem::size_of::<u32>() as libc::socklen_t;
    // SAFETY: `v` is a live u32 of the size passed.
    cvt(unsafe { libc::getsockopt(fd, level, name, (&mut v as *mut u32).cast(), &mut len) })?;
    Ok(v)
}

/// A datagram socket for interface ioctls in the calling thread's namespace.
pub fn control_socket() -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2); the fd is owned right away.
    let fd = cvt(unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) })?;
    // SAFETY: fd is a fresh descriptor we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// A non-blocking eventfd, used to wake a worker thread.
pub fn eventfd() -> io::Result<OwnedFd> {
    // SAFETY: plain eventfd(2).
    let fd = cvt(unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) })?;
    // SAFETY: fd is a fresh descriptor we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

pub fn eventfd_signal(fd: RawFd) {
    let one: u64 = 1;
    // SAFETY: writes 8 bytes from a live u64. A full counter (EAGAIN) still leaves it readable.
    unsafe { libc::write(fd, (&one as *const u64).cast(), 8) };
}

pub fn eventfd_drain(fd: RawFd) {
    let mut v: u64 = 0;
    // SAFETY: reads 8 bytes into a live u64; EAGAIN is fine.
    unsafe { libc::read(fd, (&mut v as *mut u64).cast(), 8) };
}

/// An epoll instance whose events carry a u64 token.
pub struct Epoll {
    fd: OwnedFd,
}

impl AsRawFd for Epoll {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl Epoll {
    pub fn new() -> io::Result<Self> {
        // SAFETY: plain epoll_create1(2).
        let fd = cvt(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
        // SAFETY: fd is a fresh descriptor we own.
        Ok(Epoll {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    pub fn add(&self, fd: RawFd, token: u64) -> io::Result<()> {
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: token,
        };
        // SAFETY: ev is a valid epoll_event.
        cvt(unsafe { libc::epoll_ctl(self.fd.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) })?;
        Ok(())
    }

    pub fn delete(&self, fd: RawFd) {
        let mut ev = libc::epoll_event { events: 0, u64: 0 };
        // SAFETY: ev is valid; a descriptor that is not registered just yields ENOENT.
        unsafe { libc::epoll_ctl(self.fd.as_raw_fd(), libc::EPOLL_CTL_DEL, fd, &mut ev) };
    }

    /// Waits up to `timeout_ms`; returns the ready events (EINTR yields none).
    pub fn wait<'a>(
        &self,
        events: &'a mut [libc::epoll_event],
        timeout_ms: i32,
    ) -> &'a [libc::epoll_event] {
        let max = i32::try_from(events.len()).unwrap_or(i32::MAX);
        // SAFETY: the buffer holds `max` events.
        let n =
            unsafe { libc::epoll_wait(self.fd.as_raw_fd(), events.as_mut_ptr(), max, timeout_ms) };
        let n = usize::try_from(n).unwrap_or(0);
        &events[..n.min(events.len())]
    }
}
