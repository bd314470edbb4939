//! Links: veth pairs and helpers that configure interfaces.
//!
//! The helpers take `ns: Option<&Netns>`: `None` is the host namespace (the
//! one the test process runs in), `Some(ns)` a namespace made by the harness.

use crate::cmd;
use crate::frames;
use crate::names::MAX_IFNAME_LEN;
use crate::Netns;
use anyhow::{bail, Context, Result};
use std::sync::{Mutex, MutexGuard};

/// Checks that `name` is acceptable as a Linux interface name.
pub(crate) fn check_ifname(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > MAX_IFNAME_LEN {
        bail!("interface name {name:?} must be 1 to {MAX_IFNAME_LEN} bytes long");
    }
    if name == "." || name == ".." || name.contains(['/', ':', '\0']) {
        bail!("interface name {name:?} contains a character Linux does not accept");
    }
    if name.chars().any(char::is_whitespace) {
        bail!("interface name {name:?} contains whitespace");
    }
    Ok(())
}

/// `ip [-n NS] ARGS...`
fn ip_argv<'a>(ns: Option<&'a str>, args: &[&'a str]) -> Vec<&'a str> {
    let mut argv = vec!["ip"];
    if let Some(ns) = ns {
        argv.extend(["-n", ns]);
    }
    argv.extend_from_slice(args);
    argv
}

fn ip(ns: Option<&str>, args: &[&str]) -> Result<String> {
    cmd::run_argv(&ip_argv(ns, args))
}

/// Sets `ifname` up.
pub fn link_set_up(ns: Option<&Netns>, ifname: &str) -> Result<()> {
    ip(ns.map(Netns::name), &["link", "set", "dev", ifname, "up"])?;
    Ok(())
}

/// Adds the address `cidr` (for example `"192.0.2.1/24"`) to `ifname`.
pub fn add_addr(ns: Option<&Netns>, ifname: &str, cidr: &str) -> Result<()> {
    ip(ns.map(Netns::name), &["addr", "add", cidr, "dev", ifname])?;
    Ok(())
}

/// Sets the MTU of `ifname`.
pub fn set_mtu(ns: Option<&Netns>, ifname: &str, mtu: u32) -> Result<()> {
    let mtu = mtu.to_string();
    ip(
        ns.map(Netns::name),
        &["link", "set", "dev", ifname, "mtu", &mtu],
    )?;
    Ok(())
}

/// Turns off transmit checksum offload on `ifname` (`ethtool -K IF tx off`),
/// so frames leave with complete checksums (veth otherwise hands partial
/// checksums to a raw-socket reader or a switch).
pub fn disable_tx_offload(ns: Option<&Netns>, ifname: &str) -> Result<()> {
    cmd::run_in(ns, &["ethtool", "-K", ifname, "tx", "off"])?;
    Ok(())
}

/// Whether an interface `ifname` exists.
pub fn link_exists(ns: Option<&Netns>, ifname: &str) -> bool {
    cmd::output_argv(&ip_argv(
        ns.map(Netns::name),
        &["link", "show", "dev", ifname],
    ))
    .status
    .success()
}

/// Moves `ifname` from the host namespace into `ns` and sets it up there
/// (moving a link sets it down).
pub fn move_link(ifname: &str, ns: &Netns) -> Result<()> {
    move_between(None, ifname, ns.name())
}

/// Deletes `ifname` (for a veth, both ends).
pub fn delete_link(ns: Option<&Netns>, ifname: &str) -> Result<()> {
    ip(ns.map(Netns::name), &["link", "del", "dev", ifname])?;
    Ok(())
}

/// The MAC address of `ifname`.
pub fn link_mac(ns: Option<&Netns>, ifname: &str) -> Result<[u8; 6]> {
    link_mac_in(ns.map(Netns::name), ifname)
}

/// The MAC address of `ifname` in the namespace named `ns` (`None`: ours).
pub fn link_mac_in(ns: Option<&str>, ifname: &str) -> Result<[u8; 6]> {
    let out = ip(ns, &["-o", "link", "show", "dev", ifname])?;
    let mut words = out.split_whitespace();
    let found = words.by_ref().find(|w| *w == "link/ether").is_some();
    match words.next().and_then(frames::try_mac) {
        Some(mac) if found => Ok(mac),
        _ => bail!("no Ethernet address for {ifname} in: {}", out.trim_end()),
    }
}

fn move_between(from: Option<&str>, ifname: &str, to: &str) -> Result<()> {
    ip(from, &["link", "set", "dev", ifname, "netns", to])
        .with_context(|| format!("moving {ifname} into network namespace {to}"))?;
    ip(Some(to), &["link", "set", "dev", ifname, "up"])?;
    Ok(())
}

/// A veth pair `a` <-> `b`, deleted on drop.
///
/// Both ends start in the host namespace, up. Either end can be moved into a
/// [`Netns`]; the pair remembers where its ends are. Dropping it (also while
/// a panic unwinds) deletes `a` wherever it lives, which removes both ends;
/// errors are ignored (the pair is also gone once the namespace of either
/// end has been deleted).
#[derive(Debug)]
pub struct VethPair {
    a: String,
    b: String,
    /// Namespace of each end: `None` is the host namespace.
    a_ns: Mutex<Option<String>>,
    b_ns: Mutex<Option<String>>,
}

fn lock(m: &Mutex<Option<String>>) -> MutexGuard<'_, Option<String>> {
    // The data is a plain name, valid even if a holder panicked.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl VethPair {
    /// `ip link add A type veth peer name B`, then sets both ends up.
    ///
    /// Use [`unique_name`](crate::unique_name) for the names.
    pub fn create(a: &str, b: &str) -> Result<VethPair> {
        check_ifname(a)?;
        check_ifname(b)?;
        ip(None, &["link", "add", a, "type", "veth", "peer", "name", b])
            .with_context(|| format!("creating veth pair {a} <-> {b}"))?;
        // From here on, Drop deletes the pair if anything fails.
        let pair = VethPair {
            a: a.to_string(),
            b: b.to_string(),
            a_ns: Mutex::new(None),
            b_ns: Mutex::new(None),
        };
        link_set_up(None, a)?;
        link_set_up(None, b)?;
        Ok(pair)
    }

    /// Name of the first end.
    pub fn a(&self) -> &str {
        &self.a
    }

    /// Name of the second end (the peer).
    pub fn b(&self) -> &str {
        &self.b
    }

    /// Name of the namespace end `a` is in (`None`: the host namespace).
    pub fn a_netns(&self) -> Option<String> {
        lock(&self.a_ns).clone()
    }

    /// Name of the namespace end `b` is in (`None`: the host namespace).
    pub fn b_netns(&self) -> Option<String> {
        lock(&self.b_ns).clone()
    }

    /// Moves end `b` into `ns` and sets it up there.
    pub fn move_peer_to(&self, ns: &Netns) -> Result<()> {
        Self::move_end(&self.b, &self.b_ns, ns)
    }

    /// Moves end `a` into `ns` and sets it up there.
    pub fn move_a_to(&self, ns: &Netns) -> Result<()> {
        Self::move_end(&self.a, &self.a_ns, ns)
    }

    fn move_end(name: &str, place: &Mutex<Option<String>>, ns: &Netns) -> Result<()> {
        let mut place = lock(place);
        move_between(place.as_deref(), name, ns.name())?;
        *place = Some(ns.name().to_string());
        Ok(())
    }

    /// Sets the MTU of end `a`, wherever it is.
    pub fn set_mtu_a(&self, mtu: u32) -> Result<()> {
        let place = lock(&self.a_ns);
        let mtu = mtu.to_string();
        ip(
            place.as_deref(),
            &["link", "set", "dev", &self.a, "mtu", &mtu],
        )?;
        Ok(())
    }

    /// Sets the MTU of end `b`, wherever it is.
    pub fn set_mtu_b(&self, mtu: u32) -> Result<()> {
        let place = lock(&self.b_ns);
        let mtu = mtu.to_string();
        ip(
            place.as_deref(),
            &["link", "set", "dev", &self.b, "mtu", &mtu],
        )?;
        Ok(())
    }
}

impl Drop for VethPair {
    fn drop(&mut self) {
        let a_ns = lock(&self.a_ns).clone();
        let out = cmd::output_argv(&ip_argv(a_ns.as_deref(), &["link", "del", "dev", &self.a]));
        if !out.status.success() {
            // `a` may be gone with its namespace while `b` still exists
            // somewhere; deleting `b` then fails harmlessly if it is gone too.
            let b_ns = lock(&self.b_ns).clone();
            let _ = cmd::output_argv(&ip_argv(b_ns.as_deref(), &["link", "del", "dev", &self.b]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ifname_checks() {
        assert!(check_ifname("veth0").is_ok());
        assert!(check_ifname("abcdefghijklmno").is_ok());
        assert!(check_ifname("abcdefghijklmnop").is_err());
        assert!(check_ifname("").is_err());
        assert!(check_ifname("a/b").is_err());
        assert!(check_ifname("a b").is_err());
        assert!(check_ifname("..").is_err());
    }

    #[test]
    fn ip_argv_with_and_without_ns() {
        assert_eq!(ip_argv(None, &["link"]), vec!["ip", "link"]);
        assert_eq!(ip_argv(Some("x"), &["link"]), vec!["ip", "-n", "x", "link"]);
    }
}
