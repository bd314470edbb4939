//! Network-namespace labs for rvs: `rvs lab`, and the end-to-end test harness.
//!
//! Two layers live here.
//!
//! **Labs** (`rvs lab` and [`RunningLab`]): a whole virtual network — bridges, hosts in
//! network namespaces, veth and tap interfaces, VLANs, links between bridges — described
//! by one TOML file and brought up, checked and removed as a unit:
//!
//! * [`topology`]: the file format, parsed with spans so that every error names the file,
//!   the line and the key ([`TopologyError`]); [`Topology`] is the validated result;
//! * `validate`: the checks behind it (names, references, addresses, VLANs, derived
//!   interface names, loops);
//! * [`runtime`]: [`up`] (an idempotent plan with an undo log: a failed `up` rolls back
//!   what it created), [`down`] (by prefix, works without rvsd or state), [`status_of`],
//!   [`ping_matrix`], and [`RunningLab`] for tests;
//! * [`ping`]: the who-reaches-whom matrix; [`graph`]: Graphviz DOT and SVG;
//! * [`state`]: `RUN_DIR/labs/NAME.json` and the per-lab lock; [`control`]: typed calls
//!   to rvsd over [`rvs_api::client`]; [`daemon`]: starting rvsd when none runs.
//!
//! Every object a lab creates is named `NAME-...` (see the crate README for the rule),
//! and lab names contain no `-`, so two labs never collide and `down` finds everything
//! by prefix.
//!
//! **The harness** below it, used by the labs and directly by tests that need frames
//! rather than topologies ([`hosts`]: one namespace host at a time).
//!
//! # The pieces
//!
//! * [`require_root`] and [`require_tool`] make a test fail loudly (never skip)
//!   when the machine cannot run it.
//! * [`unique_name`] makes interface and namespace names that do not collide
//!   between threads and concurrently running test processes.
//! * [`Netns`] is a network namespace (`ip netns add`), with helpers to run
//!   commands in it ([`Netns::run`]), ping from it ([`Netns::ping`],
//!   [`Netns::ping_until`]) and run Rust code in it ([`Netns::enter`]).
//! * [`VethPair`] is a veth pair; free functions such as [`add_addr`],
//!   [`set_mtu`] and [`move_link`] configure links in the host namespace
//!   (`None`) or in a [`Netns`] (`Some(&ns)`).
//! * [`RawSocket`] is an `AF_PACKET` socket bound to one interface, which sends
//!   whole Ethernet frames and receives them with their 802.1Q tag put back
//!   (Linux strips received VLAN tags into packet metadata).
//! * [`RvsdProcess`] runs `rvsd` with a private run directory and database and
//!   runs the `rvs` command line against it; [`workspace_bin`] finds binaries
//!   that cargo built.
//! * [`frames`] builds and parses the Ethernet frames the tests send.
//!
//! ```no_run
//! use rvs_lab::{require_root, unique_name, Netns, VethPair};
//! use std::time::Duration;
//!
//! # fn main() -> anyhow::Result<()> {
//! require_root();
//! let left = Netns::create("ex")?;
//! let right = Netns::create("ex")?;
//! let veth = VethPair::create(&unique_name("exa"), &unique_name("exb"))?;
//! veth.move_a_to(&left)?;
//! veth.move_peer_to(&right)?;
//! left.run(&["ip", "addr", "add", "192.0.2.1/24", "dev", veth.a()])?;
//! right.run(&["ip", "addr", "add", "192.0.2.2/24", "dev", veth.b()])?;
//! assert!(left.ping_until("192.0.2.2", Duration::from_secs(5)));
//! # Ok(())
//! # }
//! ```
//!
//! # Cleanup guarantees
//!
//! Every resource is owned by a value whose `Drop` removes it: a [`Netns`]
//! kills the processes left inside it and deletes the namespace, a
//! [`VethPair`] deletes the pair, an [`RvsdProcess`] kills the daemon and
//! removes its temporary directory. `Drop` also runs while a panic unwinds,
//! so a failing assertion cleans up after itself. `Drop` never panics; it
//! ignores errors (for example a link that already went away together with
//! its namespace).
//!
//! What `Drop` cannot cover is a process that dies without unwinding:
//! `SIGKILL`, a timeout that kills the test binary, `panic = "abort"`.
//! Such a run leaves namespaces and links behind. [`cleanup_stale`] deletes
//! every namespace and host link whose name starts with a prefix. Call it
//! only with a prefix that is specific to your tests (for example the one
//! you pass to [`unique_name`]): it deletes whatever matches, including
//! things that belong to a test that is still running.
//!
//! Deleting a namespace also destroys the virtual links inside it; a veth
//! pair disappears as soon as either end is destroyed. The kernel frees a
//! namespace asynchronously, so a link whose other end lived in a deleted
//! namespace can be visible for a few milliseconds after the `Drop`.
//!
//! # Network safety
//!
//! The harness only creates namespaces and links; it never adds addresses
//! or routes to the host namespace by itself. Tests should keep all their
//! traffic between namespaces they created.
//!
//! # Requirements
//!
//! Root (`CAP_NET_ADMIN` and `CAP_SYS_ADMIN`), Linux ≥ 4.20 for
//! [`RawSocket::open_rx_only`], and the tools `ip` (iproute2), `ping`
//! (iputils-ping) and `ethtool` (ethtool, only for [`disable_tx_offload`]).

#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod alloc_count;
mod cmd;
pub mod control;
pub mod daemon;
pub mod frames;
pub mod graph;
pub mod hosts;
mod link;
mod names;
mod netns;
mod openflow;
pub mod ping;
mod rawsock;
pub mod runtime;
mod rvsd;
pub mod state;
pub mod topology;
pub mod validate;

pub use cmd::{cmdline, run_host, run_in};
pub use control::{Control, ControlError};
pub use link::{
    add_addr, delete_link, disable_tx_offload, link_exists, link_mac, link_mac_in, link_set_up,
    move_link, set_mtu, VethPair,
};
pub use names::{unique_name, MAX_IFNAME_LEN};
pub use netns::Netns;
pub use ping::PingMatrix;
pub use rawsock::{RawSocket, RECV_BUF_LEN};
pub use runtime::{
    down, ping_matrix, status_of, up, DownReport, Outcome, Progress, Quiet, RunningLab,
    StderrProgress, UpFailure, UpOptions, UpReport,
};
pub use rvsd::{try_workspace_bin, workspace_bin, RvsdProcess, READY_TIMEOUT};
pub use topology::{Topology, TopologyError};

use anyhow::{bail, Result};

/// Panics unless the process runs as root.
///
/// End-to-end tests call this first: they need network namespaces, and a
/// test that cannot run must fail loudly instead of passing without having
/// tested anything.
pub fn require_root() {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    if euid != 0 {
        panic!(
            "this end-to-end test needs root (network namespaces); run as root (euid is {euid})"
        );
    }
}

/// Panics unless the program `name` is found on `PATH`, naming the Debian
/// package that provides it.
pub fn require_tool(name: &str) {
    if find_on_path(name).is_none() {
        let package = match name {
            "ping" => "iputils-ping",
            "ethtool" => "ethtool",
            "ip" | "bridge" | "tc" | "ss" => "iproute2",
            "tcpdump" => "tcpdump",
            _ => "the package that provides it",
        };
        panic!(
            "this end-to-end test needs the tool `{name}`, which is not on PATH; \
             install it (Debian package: {package})"
        );
    }
}

/// Finds an executable file called `name` in the directories of `PATH`.
fn find_on_path(name: &str) -> Option<std::path::PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| {
            std::fs::metadata(p)
                .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        })
}

/// Deletes every network namespace, and every link of the host namespace,
/// whose name starts with `prefix`; returns how many it deleted.
///
/// This is for leftovers of test runs that were killed without unwinding
/// (see the crate documentation). **Only call it with a prefix that belongs
/// to your tests**: it deletes everything that matches, including
/// namespaces and links of tests that are running right now. Processes
/// still inside a matching namespace are killed with `SIGKILL`.
///
/// Prefixes shorter than two characters are refused, as a guard against
/// deleting unrelated namespaces and links.
pub fn cleanup_stale(prefix: &str) -> Result<usize> {
    if prefix.chars().count() < 2 {
        bail!("cleanup_stale: refusing the prefix {prefix:?}; use a test-specific prefix of at least two characters");
    }
    let mut removed = 0;

    let list = run_host(&["ip", "netns", "list"])?;
    for name in parse_netns_list(&list) {
        if name.starts_with(prefix) {
            netns::kill_pids_in(name);
            if run_host(&["ip", "netns", "del", name]).is_ok() {
                removed += 1;
            }
        }
    }

    let links = run_host(&["ip", "-o", "link", "show"])?;
    for name in parse_link_list(&links) {
        // A veth whose peer was deleted just before is already gone, so a
        // failure here is expected and not an error.
        if name.starts_with(prefix) && link_exists(None, name) && delete_link(None, name).is_ok() {
            removed += 1;
        }
    }
    Ok(removed)
}

/// Names from `ip netns list` output (`NAME` or `NAME (id: N)` per line).
fn parse_netns_list(out: &str) -> Vec<&str> {
    out.lines()
        .filter_map(|line| line.split_whitespace().next())
        .collect()
}

/// Interface names from `ip -o link show` output
/// (`IDX: NAME[@PEER]: <FLAGS> ...` per line).
fn parse_link_list(out: &str) -> Vec<&str> {
    out.lines()
        .filter_map(|line| {
            let mut fields = line.splitn(3, ": ");
            let _index = fields.next()?;
            let name = fields.next()?;
            Some(name.split('@').next().unwrap_or(name))
        })
        .filter(|name| !name.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_netns_list() {
        let out = "lhab12c1 (id: 3)\nfoo\n\n";
        assert_eq!(parse_netns_list(out), vec!["lhab12c1", "foo"]);
    }

    #[test]
    fn parses_link_list() {
        let out = "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue\n\
                   7: lha0001@lhb0001: <BROADCAST,MULTICAST> mtu 1500\n\
                   9: eth0@if10: <BROADCAST> mtu 1500\n";
        assert_eq!(parse_link_list(out), vec!["lo", "lha0001", "eth0"]);
    }

    #[test]
    fn short_cleanup_prefix_is_refused() {
        assert!(cleanup_stale("").is_err());
        assert!(cleanup_stale("l").is_err());
    }

    #[test]
    fn finds_sh_on_path() {
        assert!(find_on_path("sh").is_some());
        assert!(find_on_path("no-such-tool-rvs-lab").is_none());
    }

    #[test]
    #[should_panic(expected = "Debian package")]
    fn missing_tool_panics_with_package_hint() {
        require_tool("no-such-tool-rvs-lab");
    }
}
