//! Single hosts for frame-level tests: a namespace behind a veth pair ([`VethHost`]) or
//! behind a tap that rvsd creates ([`TapHost`]), plugged into rvs by the test itself.
//!
//! Labs ([`crate::RunningLab`]) build whole topologies and add the rvs ports
//! themselves; these helpers are for tests that drive `rvs add-port` (or raw frames)
//! by hand and need one host at a time. They moved here from the end-to-end tests of
//! the `rvs` crate so every test crate can use them. Constructors panic with a clear
//! message when the system refuses (they are test helpers).
//!
//! Cleanup: every host owns its namespace (and veth pair); a [`TapHost`] also deletes
//! its tap device by name, wherever it is, so nothing is left behind even if rvsd is
//! still running or a test panics before the tap was moved. Declare hosts *before* the
//! [`RvsdProcess`](crate::RvsdProcess), so the daemon is dropped first.

use crate::{add_addr, link_mac, move_link, set_mtu, unique_name, Netns, RawSocket, VethPair};
use std::process::{Command, Stdio};
use std::time::Duration;

/// How long the first ping between two hosts may take (ARP, learning).
pub const WARMUP: Duration = Duration::from_secs(5);

/// A namespace with IPv6 off, so its links send no router solicitations,
/// MLD reports or DAD probes that would show up as unexpected traffic.
pub fn quiet_ns(prefix: &str) -> Netns {
    let ns = Netns::create(prefix).expect("create netns");
    ns.run(&[
        "sysctl",
        "-qw",
        "net.ipv6.conf.all.disable_ipv6=1",
        "net.ipv6.conf.default.disable_ipv6=1",
    ])
    .expect("disable IPv6 in the namespace");
    ns
}

/// A host behind a veth pair: end `a` stays in the test's namespace and
/// becomes an rvs `system` port, end `b` is the host's NIC in `ns`.
pub struct VethHost {
    // Fields drop in declaration order: the pair, then the namespace.
    pub veth: VethPair,
    pub ns: Netns,
}

impl VethHost {
    /// A host with `cidr` (e.g. `10.77.1.1/24`) on its NIC, or no address.
    pub fn new(prefix: &str, cidr: Option<&str>) -> VethHost {
        let ns = quiet_ns(prefix);
        let veth = VethPair::create(&unique_name(prefix), &unique_name(prefix)).expect("veth");
        veth.move_peer_to(&ns)
            .expect("move veth peer into the namespace");
        if let Some(cidr) = cidr {
            add_addr(Some(&ns), veth.b(), cidr).expect("address");
        }
        VethHost { veth, ns }
    }

    /// The rvs port name (the host end of the pair).
    pub fn port(&self) -> &str {
        self.veth.a()
    }

    /// The host's NIC inside its namespace.
    pub fn nic(&self) -> &str {
        self.veth.b()
    }

    pub fn mac(&self) -> [u8; 6] {
        link_mac(Some(&self.ns), self.nic()).expect("MAC of the host NIC")
    }

    /// A raw socket on the host's NIC that sees only arriving frames.
    pub fn sock(&self) -> RawSocket {
        RawSocket::open_rx_only(Some(&self.ns), self.nic()).expect("raw socket")
    }

    pub fn ping(&self, addr: &str) -> bool {
        self.ns.ping(addr, Duration::from_secs(1))
    }

    pub fn ping_until(&self, addr: &str) -> bool {
        self.ns.ping_until(addr, WARMUP)
    }
}

/// A host whose NIC is a tap device created by rvsd (`add-port --type tap`)
/// and then moved into the host's namespace ([`TapHost::plug`]).
pub struct TapHost {
    pub name: String,
    pub ns: Netns,
    cidr: Option<String>,
}

impl TapHost {
    /// Makes the namespace and picks the tap's name; rvsd creates the tap.
    pub fn new(prefix: &str, cidr: Option<&str>) -> TapHost {
        TapHost {
            name: unique_name(prefix),
            ns: quiet_ns(prefix),
            cidr: cidr.map(str::to_string),
        }
    }

    /// The rvs port name, which is also the tap's name.
    pub fn port(&self) -> &str {
        &self.name
    }

    pub fn nic(&self) -> &str {
        &self.name
    }

    /// Moves the tap rvsd created into the namespace, sets it up there and
    /// gives it its address.
    pub fn plug(&self) {
        move_link(&self.name, &self.ns).expect("move the tap into its namespace");
        if let Some(cidr) = &self.cidr {
            add_addr(Some(&self.ns), &self.name, cidr).expect("address on the tap");
        }
    }

    pub fn set_mtu(&self, mtu: u32) {
        set_mtu(Some(&self.ns), &self.name, mtu).expect("tap MTU");
    }

    pub fn mac(&self) -> [u8; 6] {
        link_mac(Some(&self.ns), self.nic()).expect("MAC of the tap")
    }

    pub fn sock(&self) -> RawSocket {
        RawSocket::open_rx_only(Some(&self.ns), self.nic()).expect("raw socket")
    }

    pub fn ping(&self, addr: &str) -> bool {
        self.ns.ping(addr, Duration::from_secs(1))
    }

    pub fn ping_until(&self, addr: &str) -> bool {
        self.ns.ping_until(addr, WARMUP)
    }
}

impl Drop for TapHost {
    fn drop(&mut self) {
        // The tap is persistent: it outlives rvsd. Delete it where it may be
        // (errors mean it is not there); the namespace goes afterwards.
        for argv in [
            vec!["ip", "link", "del", "dev", self.name.as_str()],
            vec!["ip", "-n", self.ns.name(), "link", "del", "dev", &self.name],
        ] {
            let _ = Command::new(argv[0])
                .args(&argv[1..])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}
