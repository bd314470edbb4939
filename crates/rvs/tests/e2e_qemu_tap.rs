//! A QEMU-style guest: a TAP device whose file descriptor another process holds (here the
//! test, as QEMU would) joins the bridge as a `system` port, as libvirt does it with Open
//! vSwitch. Frames the "guest" writes reach a namespace host, frames for the guest's MAC come
//! out of the fd, and rvs never receives its own transmissions back.

use rvs_lab::frames::{ethernet, ethertype, src};
use rvs_lab::{require_root, unique_name, Netns, RawSocket, RvsdProcess, VethPair};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

const ETHERTYPE: u16 = 0x88b5;
const GUEST_MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];

/// A non-persistent TAP held open by this process (deleted when the fd closes).
struct HeldTap {
    fd: OwnedFd,
    name: String,
}

impl HeldTap {
    fn create(name: &str) -> HeldTap {
        // SAFETY: open(2) with a static path; the fd is owned right away.
        let raw = unsafe {
            libc::open(
                c"/dev/net/tun".as_ptr(),
                libc::O_RDWR | libc::O_NONBLOCK | libc::O_CLOEXEC,
            )
        };
        assert!(
            raw >= 0,
            "open /dev/net/tun: {}",
            std::io::Error::last_os_error()
        );
        // SAFETY: fresh descriptor we own.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: ifreq is plain old data.
        let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
        for (d, s) in req.ifr_name.iter_mut().zip(name.as_bytes()) {
            *d = *s as libc::c_char;
        }
        req.ifr_ifru.ifru_flags = (libc::IFF_TAP | libc::IFF_NO_PI) as libc::c_short;
        // SAFETY: TUNSETIFF with a valid ifreq.
        let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TUNSETIFF, &mut req) };
        assert_eq!(r, 0, "TUNSETIFF: {}", std::io::Error::last_os_error());
        rvs_lab::link_set_up(None, name).expect("tap up");
        HeldTap {
            fd,
            name: name.to_string(),
        }
    }

    fn write(&self, frame: &[u8]) {
        // SAFETY: writes from a live buffer of the given length.
        let n = unsafe { libc::write(self.fd.as_raw_fd(), frame.as_ptr().cast(), frame.len()) };
        assert_eq!(
            n,
            frame.len() as isize,
            "write to tap: {}",
            std::io::Error::last_os_error()
        );
    }

    /// Frames the switch sent to the guest within `window`.
    fn read_for(&self, window: Duration) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let deadline = Instant::now() + window;
        while Instant::now() < deadline && out.len() < 1000 {
            let mut buf = vec![0u8; 65536];
            // SAFETY: reads into a live buffer of the given length.
            let n = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n > 0 {
                buf.truncate(n as usize);
                out.push(buf);
            } else {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        out
    }
}

fn ours(frames: Vec<Vec<u8>>, marker: &[u8]) -> Vec<Vec<u8>> {
    frames
        .into_iter()
        .filter(|f| ethertype(f) == Some(ETHERTYPE) && f.windows(marker.len()).any(|w| w == marker))
        .collect()
}

#[test]
fn tap_held_by_another_process_joins_as_system_port() {
    require_root();
    let rvsd = RvsdProcess::start(rvs_lab::workspace_bin("rvsd"), env!("CARGO_BIN_EXE_rvs"))
        .expect("rvsd starts");
    let ns = Netns::create("eq").expect("netns");
    let veth = VethPair::create(&unique_name("eqv"), &unique_name("eqp")).expect("veth");
    veth.move_peer_to(&ns).expect("move peer");
    let tap = HeldTap::create(&unique_name("eqt"));
    let br = unique_name("eqb");

    rvsd.rvs_ok(&["add-br", &br]).expect("add-br");
    rvsd.rvs_ok(&["add-port", &br, veth.a(), "--tag", "7"])
        .expect("veth port");
    rvsd.rvs_ok(&["add-port", &br, &tap.name, "--type", "system", "--tag", "7"])
        .expect("a tap held by another process joins as a system port");

    let host = RawSocket::open(Some(&ns), veth.b()).expect("host socket");
    let host_mac = rvs_lab::link_mac(Some(&ns), veth.b()).expect("mac");

    // Guest -> host: a broadcast written into the fd comes out at the host.
    let marker = b"guest-to-host";
    tap.write(&ethernet([0xff; 6], GUEST_MAC, ETHERTYPE, marker));
    let got = ours(host.recv_for(Duration::from_millis(500)), marker);
    assert_eq!(got.len(), 1, "the host got the guest's frame once");
    assert_eq!(src(&got[0]), Some(GUEST_MAC));

    // Host -> guest: unicast to the learned guest MAC comes out of the fd, 10 of 10.
    let marker = b"host-to-guest";
    for _ in 0..10 {
        host.send(&ethernet(GUEST_MAC, host_mac, ETHERTYPE, marker))
            .expect("send");
    }
    let got = ours(tap.read_for(Duration::from_millis(500)), marker);
    assert_eq!(got.len(), 10, "every unicast frame reached the guest");

    // The switch never took its own transmissions on the tap back in: nothing came back to
    // the host, and the tap port received exactly the one frame the guest wrote.
    assert!(ours(host.recv_for(Duration::from_millis(200)), marker).is_empty());
    let stats = rvsd
        .rvs_ok(&["--format", "json", "port-stats", &br])
        .expect("stats");
    let v: serde_json::Value = serde_json::from_str(&stats).expect("json");
    let tap_stats = v["ports"]
        .as_array()
        .and_then(|a| a.iter().find(|p| p["port"] == tap.name.as_str()))
        .expect("tap port listed")
        .clone();
    // The kernel's own IPv6 multicast from the host may be flooded to the tap as well.
    assert!(
        tap_stats["tx_packets"].as_u64().unwrap_or(0) >= 10,
        "{tap_stats}"
    );
    // IPv6 router/neighbour solicitations from the kernel may also arrive; our own 10
    // transmissions must not, so rx stays far below them.
    assert!(
        tap_stats["rx_packets"].as_u64().unwrap_or(99) < 5,
        "{tap_stats}"
    );

    rvsd.rvs_ok(&["del-br", &br]).expect("del-br");
}
