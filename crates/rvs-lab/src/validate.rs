//! Pass 3 of reading a topology: meaning.
//!
//! [`resolve`] walks the deserialized file once, in file order, and either returns the
//! resolved [`Topology`] or every [`Problem`] it found, each naming the key path it is
//! about (the caller turns paths into lines). Checks:
//!
//! * names: the lab name (it becomes the prefix `NAME-`), bridge, host, interface and
//!   sub-interface names; duplicates; every derived name (bridges and ports in rvsd,
//!   interfaces in the host namespace) must fit Linux's 15 bytes and be unique;
//! * references: interfaces and links name existing bridges; gateways and route next
//!   hops are on a connected network of the host;
//! * values: addresses (`ADDR/LEN`, no network, broadcast, multicast, loopback or
//!   link-local addresses, no duplicates), MACs (unicast, not zero, no duplicates),
//!   MTU, VLAN IDs and mode combinations (Open vSwitch's rules, as `rvs add-port`), the
//!   bridge's declared VLAN list, sub-interfaces only where their VLAN is carried tagged;
//! * links: two distinct bridges, and no loop (rvs has no spanning tree);
//! * OpenFlow: controller targets (`tcp:IP:PORT`, `ptcp:PORT[:IP]`), the fail mode, and
//!   every entry of `flows` (parsed with `rvs-ofctl`, an error shows the entry with a
//!   caret under the bad token);
//! * a per-bridge thread count (`datapath_threads` other than 1) is refused with a message
//!   that says why: threads belong to the daemon (`rvsd --dp-threads`) and every bridge
//!   spreads its ports over all of them.

use crate::topology::{
    Bridge, Cidr, FileBridge, FileHost, FileInterface, FileLink, FileTopology, Host, IfaceKind,
    Interface, Link, Problem, Route, Targets, Topology, TrunkItem, VlanInterface,
};
use rvs_api::{FailMode, VlanMode, VlanSpec, VID_MAX, VID_MIN};
use rvs_openflow::FlowModCommand;
use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;

/// Longest Linux interface name in bytes.
pub const IFNAME_MAX: usize = crate::MAX_IFNAME_LEN;
/// Longest lab name: the prefix `NAME-` must leave room for the object names.
pub const LAB_NAME_MAX: usize = 12;
/// Bounds of `mac_aging` (seconds), as `rvs add-br --mac-aging`.
pub const MAC_AGING_RANGE: (i64, i64) = (10, 1_000_000);
/// Bounds of `mac_table_size`, as `rvs add-br --mac-table-size`.
pub const MAC_TABLE_SIZE_RANGE: (i64, i64) = (1, 1_000_000);

struct Checker {
    problems: Vec<Problem>,
}

impl Checker {
    fn bad(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem {
            path: path.into(),
            message: message.into(),
            detail: None,
        });
    }

    fn bad_with_detail(&mut self, path: String, message: String, detail: String) {
        self.problems.push(Problem {
            path,
            message,
            detail: Some(detail),
        });
    }
}

/// Whether `name` is a valid lab name: 1-12 bytes, lowercase ASCII letters and digits,
/// starting with a letter. Without `-`, the part of an object name before its first `-`
/// is the lab name, so two labs can never produce the same object name.
pub fn valid_lab_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= LAB_NAME_MAX
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// Names in the file (bridges, hosts, interfaces): ASCII letters, digits, `_`, `-`,
/// starting with a letter or digit.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Like [`valid_name`], also allowing `.` (interface names inside a namespace).
fn valid_ifname(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= IFNAME_MAX
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
}

const NAME_RULE: &str =
    "names are ASCII letters, digits, '_' and '-', starting with a letter or digit";

fn vid(c: &mut Checker, path: &str, v: i64) -> Option<u16> {
    match u16::try_from(v) {
        Ok(v) if (VID_MIN..=VID_MAX).contains(&v) => Some(v),
        _ => {
            c.bad(path, format!("VLAN {v} is outside {VID_MIN}-{VID_MAX}"));
            None
        }
    }
}

/// A VLAN list (`[10, "20-30"]`), sorted and deduplicated.
fn vlan_list(c: &mut Checker, path: &str, items: &[TrunkItem]) -> Option<Vec<u16>> {
    let mut out = Vec::new();
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        let p = format!("{path}[{i}]");
        match item {
            TrunkItem::One(v) => match vid(c, &p, *v) {
                Some(v) => out.push(v),
                None => ok = false,
            },
            TrunkItem::Range(s) => match rvs_api::parse_trunks(s) {
                Ok(v) if s.contains('-') && !v.is_empty() => out.extend(v),
                Ok(_) => {
                    c.bad(
                        &p,
                        format!("'{s}' is not a VLAN range like \"20-30\" (write single VLANs as numbers)"),
                    );
                    ok = false;
                }
                Err(e) => {
                    c.bad(&p, format!("invalid VLAN range '{s}': {e}"));
                    ok = false;
                }
            },
        }
    }
    if items.is_empty() {
        c.bad(
            path,
            "empty VLAN list (leave the key out to carry every VLAN)",
        );
        return None;
    }
    out.sort_unstable();
    out.dedup();
    ok.then_some(out)
}

/// The VLAN settings of a port (`vlan`, `trunks`, `vlan_mode` under `path`).
fn vlan_spec(
    c: &mut Checker,
    path: &str,
    tag: Option<i64>,
    trunks: Option<&[TrunkItem]>,
    mode: Option<&str>,
) -> Option<VlanSpec> {
    let before = c.problems.len();
    let tag = tag.and_then(|v| vid(c, &format!("{path}.vlan"), v));
    let trunks = trunks
        .and_then(|t| vlan_list(c, &format!("{path}.trunks"), t))
        .unwrap_or_default();
    let mode = match mode {
        None => None,
        Some(m) => match m.parse::<VlanMode>() {
            Ok(m) => Some(m),
            Err(e) => {
                c.bad(format!("{path}.vlan_mode"), e);
                None
            }
        },
    };
    if c.problems.len() != before {
        return None;
    }
    let spec = VlanSpec { tag, trunks, mode };
    let mode = spec.effective_mode();
    let problem = match mode {
        VlanMode::Access if spec.tag.is_none() => {
            Some(("vlan_mode", "vlan_mode access needs `vlan`".to_string()))
        }
        VlanMode::Access if !spec.trunks.is_empty() => Some((
            "trunks",
            "`trunks` with `vlan` needs vlan_mode native-tagged or native-untagged (access ports carry one VLAN)"
                .to_string(),
        )),
        VlanMode::Trunk if spec.tag.is_some() => Some((
            "vlan",
            "vlan_mode trunk takes no `vlan` (use native-tagged or native-untagged for a native VLAN)"
                .to_string(),
        )),
        VlanMode::NativeTagged | VlanMode::NativeUntagged if spec.tag.is_none() => Some((
            "vlan_mode",
            format!("vlan_mode {mode} needs `vlan` (the native VLAN)"),
        )),
        _ => None,
    };
    if let Some((key, message)) = problem {
        c.bad(format!("{path}.{key}"), message);
        return None;
    }
    Some(spec)
}

/// VLANs a port uses, for the bridge's declared list (`None`: all VLANs).
fn used_vlans(spec: &VlanSpec) -> Option<Vec<u16>> {
    match spec.effective_mode() {
        VlanMode::Access => Some(spec.tag.into_iter().collect()),
        _ if spec.trunks.is_empty() => None,
        _ => Some(
            spec.tag
                .into_iter()
                .chain(spec.trunks.iter().copied())
                .collect(),
        ),
    }
}

fn check_declared(c: &mut Checker, path: &str, bridge: &Bridge, spec: &VlanSpec) {
    if bridge.vlans.is_empty() {
        return;
    }
    if let Some(used) = used_vlans(spec) {
        for v in used {
            if !bridge.vlans.contains(&v) {
                c.bad(
                    path,
                    format!(
                        "VLAN {v} is not among the VLANs of bridge '{}' ({})",
                        bridge.name,
                        rvs_api::format_trunks(&bridge.vlans)
                    ),
                );
            }
        }
    }
}

/// Whether a port with `spec` carries VLAN `vid` tagged (so a sub-interface works).
fn carries_tagged(spec: &VlanSpec, vid: u16) -> Result<(), String> {
    let mode = spec.effective_mode();
    let trunked = spec.trunks.is_empty() || spec.trunks.contains(&vid);
    match mode {
        VlanMode::Access => Err(format!(
            "an access port carries VLAN {} untagged only: give the interface `trunks` (or a native vlan_mode) to use VLAN sub-interfaces",
            spec.tag.map_or_else(|| "?".into(), |t| t.to_string())
        )),
        VlanMode::NativeUntagged if spec.tag == Some(vid) => Err(format!(
            "VLAN {vid} is this port's native VLAN, which arrives untagged: put its addresses on the interface itself"
        )),
        VlanMode::NativeTagged if spec.tag == Some(vid) => Ok(()),
        _ if trunked => Ok(()),
        _ => Err(format!(
            "the port does not carry VLAN {vid} (trunks {})",
            rvs_api::format_trunks(&spec.trunks)
        )),
    }
}

struct AddrBook {
    /// Address -> the key that used it first.
    seen: HashMap<IpAddr, String>,
}

fn address(c: &mut Checker, book: &mut AddrBook, path: &str, text: &str) -> Option<Cidr> {
    let cidr: Cidr = match text.parse() {
        Ok(c) => c,
        Err(e) => {
            c.bad(path, format!("bad address: {e}"));
            return None;
        }
    };
    let a = cidr.addr;
    let why = if a.is_unspecified() {
        Some("is the unspecified address")
    } else if a.is_loopback() {
        Some("is a loopback address")
    } else if a.is_multicast() {
        Some("is a multicast address")
    } else if matches!(a, IpAddr::V4(v4) if v4.is_broadcast()) {
        Some("is the broadcast address")
    } else if matches!(a, IpAddr::V6(v6) if v6.segments()[0] & 0xffc0 == 0xfe80) {
        Some("is link-local (the kernel adds link-local addresses by itself)")
    } else if cidr.prefix < Cidr::max_prefix(a) - 1 && a == cidr.network() && a.is_ipv4() {
        Some("is the network address of its prefix")
    } else if cidr.prefix < 31 && cidr.broadcast() == Some(a) {
        Some("is the broadcast address of its prefix")
    } else {
        None
    };
    if let Some(why) = why {
        c.bad(path, format!("bad address: '{text}' {why}"));
        return None;
    }
    if let Some(first) = book.seen.get(&a) {
        c.bad(
            path,
            format!("duplicate address {a}: `{first}` has it already"),
        );
        return None;
    }
    book.seen.insert(a, path.to_string());
    Some(cidr)
}

fn mac(
    c: &mut Checker,
    seen: &mut HashMap<[u8; 6], String>,
    path: &str,
    text: &str,
) -> Option<String> {
    let Some(bytes) = crate::frames::try_mac(text) else {
        c.bad(
            path,
            format!("bad MAC address '{text}': write six hex bytes like 02:00:00:00:00:01"),
        );
        return None;
    };
    if bytes[0] & 1 != 0 {
        c.bad(path, format!("bad MAC address '{text}': it is a multicast address (the lowest bit of the first byte is set)"));
        return None;
    }
    if bytes == [0; 6] {
        c.bad(path, format!("bad MAC address '{text}': all zero"));
        return None;
    }
    if let Some(first) = seen.get(&bytes) {
        c.bad(
            path,
            format!("duplicate MAC address {text}: `{first}` has it already"),
        );
        return None;
    }
    seen.insert(bytes, path.to_string());
    Some(
        bytes
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":"),
    )
}

/// Derived names: every name must fit and be unique (in rvsd and in the host namespace).
struct Derived {
    /// Derived name -> the key that made it.
    names: HashMap<String, String>,
}

impl Derived {
    fn claim(&mut self, c: &mut Checker, path: &str, name: &str, what: &str, hint: &str) -> bool {
        if name.len() > IFNAME_MAX {
            c.bad(
                path,
                format!(
                    "the {what} '{name}' would be {} bytes long (Linux interface names are at most {IFNAME_MAX}): {hint}",
                    name.len()
                ),
            );
            return false;
        }
        if let Some(first) = self.names.get(name) {
            c.bad(
                path,
                format!("the {what} '{name}' is also the name `{first}` gives an object of this lab; rename one of them"),
            );
            return false;
        }
        self.names.insert(name.to_string(), path.to_string());
        true
    }
}

/// Resolves a deserialized file into a [`Topology`], or returns every problem found.
pub(crate) fn resolve(file: FileTopology, source: &str) -> Result<Topology, Vec<Problem>> {
    let mut c = Checker {
        problems: Vec::new(),
    };
    if !valid_lab_name(&file.name) {
        c.bad(
            "name",
            format!(
                "bad lab name '{}': use 1-{LAB_NAME_MAX} lowercase letters and digits, starting with a letter (every object the lab creates is named '<name>-...')",
                file.name.escape_debug()
            ),
        );
        // Without a usable prefix, nothing else can be resolved meaningfully.
        return Err(c.problems);
    }
    let prefix = format!("{}-", file.name);
    let short_hint = "use a shorter lab or object name";
    let mut derived = Derived {
        names: HashMap::new(),
    };

    // Bridges.
    let mut bridges: Vec<Bridge> = Vec::new();
    for (i, b) in file.bridges.iter().enumerate() {
        if let Some(bridge) =
            resolve_bridge(&mut c, &mut derived, &prefix, i, b, &bridges, short_hint)
        {
            bridges.push(bridge);
        }
    }

    // Hosts.
    let mut addrs = AddrBook {
        seen: HashMap::new(),
    };
    let mut macs = HashMap::new();
    let mut hosts: Vec<Host> = Vec::new();
    let mut host_names = HashMap::new();
    for (i, h) in file.hosts.iter().enumerate() {
        let path = format!("hosts[{i}]");
        if !valid_name(&h.name) {
            c.bad(
                format!("{path}.name"),
                format!("bad host name '{}': {NAME_RULE}", h.name.escape_debug()),
            );
            continue;
        }
        if let Some(first) = host_names.insert(h.name.clone(), i) {
            c.bad(
                format!("{path}.name"),
                format!("duplicate host name '{}' (also hosts[{first}])", h.name),
            );
            continue;
        }
        if let Some(host) = resolve_host(
            &mut c,
            &mut derived,
            &mut addrs,
            &mut macs,
            &prefix,
            &path,
            h,
            &file.bridges,
            &bridges,
        ) {
            hosts.push(host);
        }
    }

    // Links.
    let mut links = Vec::new();
    let mut group: HashMap<String, String> = bridges
        .iter()
        .map(|b| (b.name.clone(), b.name.clone()))
        .collect();
    for (i, l) in file.links.iter().enumerate() {
        if let Some(link) = resolve_link(&mut c, &mut derived, &prefix, i, l, &bridges, &mut group)
        {
            links.push(link);
        }
    }

    if !c.problems.is_empty() {
        return Err(c.problems);
    }
    Ok(Topology {
        name: file.name,
        prefix,
        description: file.description,
        source: source.to_string(),
        bridges,
        hosts,
        links,
    })
}

fn resolve_bridge(
    c: &mut Checker,
    derived: &mut Derived,
    prefix: &str,
    i: usize,
    b: &FileBridge,
    earlier: &[Bridge],
    hint: &str,
) -> Option<Bridge> {
    let path = format!("bridges[{i}]");
    if !valid_name(&b.name) {
        c.bad(
            format!("{path}.name"),
            format!("bad bridge name '{}': {NAME_RULE}", b.name.escape_debug()),
        );
        return None;
    }
    if earlier.iter().any(|e| e.name == b.name) {
        c.bad(
            format!("{path}.name"),
            format!("duplicate bridge name '{}'", b.name),
        );
        return None;
    }
    let rvs_name = format!("{prefix}{}", b.name);
    derived.claim(c, &format!("{path}.name"), &rvs_name, "bridge name", hint);
    let bounded = |c: &mut Checker, key: &str, v: Option<i64>, (lo, hi): (i64, i64), unit: &str| {
        v.and_then(|v| {
            if (lo..=hi).contains(&v) {
                u32::try_from(v).ok()
            } else {
                c.bad(
                    format!("{path}.{key}"),
                    format!("{key} {v} is outside {lo}-{hi}{unit}"),
                );
                None
            }
        })
    };
    let mac_aging_secs = bounded(c, "mac_aging", b.mac_aging, MAC_AGING_RANGE, " seconds");
    let mac_table_size = bounded(
        c,
        "mac_table_size",
        b.mac_table_size,
        MAC_TABLE_SIZE_RANGE,
        "",
    );
    let fail_mode = match b.fail_mode.as_deref() {
        None => None,
        Some("standalone") => Some(FailMode::Standalone),
        Some("secure") => Some(FailMode::Secure),
        Some(other) => {
            c.bad(
                format!("{path}.fail_mode"),
                format!(
                    "unknown fail_mode '{}' (expected standalone or secure)",
                    other.escape_debug()
                ),
            );
            None
        }
    };
    let controllers = b.controller.as_ref().map(|t| {
        let (list, indexed) = match t {
            Targets::One(s) => (std::slice::from_ref(s), false),
            Targets::Many(v) => (v.as_slice(), true),
        };
        for (k, target) in list.iter().enumerate() {
            let key = if indexed {
                format!("{path}.controller[{k}]")
            } else {
                format!("{path}.controller")
            };
            if let Err(e) = check_controller_target(target) {
                c.bad(key, e);
            }
        }
        list.to_vec()
    });
    let flows = b.flows.as_ref().map(|flows| {
        for (k, text) in flows.iter().enumerate() {
            if let Err(e) = rvs_ofctl::parse_flow(text, FlowModCommand::Add, false) {
                let rendered = e.render(text);
                let detail = rendered
                    .split_once('\n')
                    .map_or_else(String::new, |(_, rest)| rest.to_string());
                c.bad_with_detail(
                    format!("{path}.flows[{k}]"),
                    format!("bridge '{}': {}", b.name, e.message),
                    detail,
                );
            }
        }
        flows.clone()
    });
    match b.datapath_threads {
        None | Some(1) => {}
        Some(n) if n < 1 => c.bad(
            format!("{path}.datapath_threads"),
            format!("datapath_threads {n} must be at least 1"),
        ),
        Some(n) => c.bad(
            format!("{path}.datapath_threads"),
            format!("datapath_threads {n} cannot be set per bridge: rvsd's threads (rvsd --dp-threads, one per CPU by default) serve every bridge, whose ports are spread over them; use 1 or remove the key"),
        ),
    }
    let vlans = match &b.vlans {
        None => Vec::new(),
        Some(items) => vlan_list(c, &format!("{path}.vlans"), items)?,
    };
    Some(Bridge {
        name: b.name.clone(),
        rvs_name,
        mac_aging_secs,
        mac_table_size,
        vlans,
        controllers,
        fail_mode,
        flows,
    })
}

/// An OpenFlow controller target: `tcp:IP:PORT` (connect to a controller) or
/// `ptcp:PORT[:IP]` (listen for controllers); a port is 1-65535.
pub fn check_controller_target(target: &str) -> Result<(), String> {
    let bad = |why: &str| {
        format!(
            "invalid controller target '{}': {why} (expected tcp:IP:PORT or ptcp:PORT[:IP])",
            target.escape_debug()
        )
    };
    let port = |p: &str| -> Result<(), String> {
        match p.parse::<u16>() {
            Ok(n) if n > 0 && !p.starts_with('+') => Ok(()),
            _ => Err(bad(&format!(
                "'{}' is not a port 1-65535",
                p.escape_debug()
            ))),
        }
    };
    let ip = |a: &str| -> Result<(), String> {
        let a = a
            .strip_prefix('[')
            .and_then(|x| x.strip_suffix(']'))
            .unwrap_or(a);
        a.parse::<IpAddr>()
            .map(|_| ())
            .map_err(|_| bad(&format!("'{}' is not an IP address", a.escape_debug())))
    };
    if let Some(rest) = target.strip_prefix("tcp:") {
        let Some((addr, p)) = rest.rsplit_once(':') else {
            return Err(bad("no port"));
        };
        ip(addr)?;
        port(p)
    } else if let Some(rest) = target.strip_prefix("ptcp:") {
        match rest.split_once(':') {
            None => port(rest),
            Some((p, addr)) => {
                port(p)?;
                ip(addr)
            }
        }
    } else {
        Err(bad("unknown kind"))
    }
}

#[allow(clippy::too_many_arguments)]
fn resolve_host(
    c: &mut Checker,
    derived: &mut Derived,
    addrs: &mut AddrBook,
    macs: &mut HashMap<[u8; 6], String>,
    prefix: &str,
    path: &str,
    h: &FileHost,
    file_bridges: &[FileBridge],
    bridges: &[Bridge],
) -> Option<Host> {
    let before = c.problems.len();
    if h.interfaces.is_empty() {
        c.bad(
            format!("{path}.interfaces"),
            format!(
                "host '{}' has no interfaces; give it at least one [[hosts.interfaces]]",
                h.name
            ),
        );
        return None;
    }
    // Names inside the namespace.
    let mut local: HashMap<String, String> = HashMap::new();
    local.insert("lo".into(), "(the loopback interface)".into());
    let mut claim_local = |c: &mut Checker, p: &str, name: &str| {
        if let Some(first) = local.get(name) {
            c.bad(
                p,
                format!(
                    "interface name '{name}' is used twice in host '{}' (also `{first}`)",
                    h.name
                ),
            );
            false
        } else {
            local.insert(name.to_string(), p.to_string());
            true
        }
    };
    let mut interfaces = Vec::new();
    for (j, f) in h.interfaces.iter().enumerate() {
        let ip = format!("{path}.interfaces[{j}]");
        if let Some(iface) = resolve_interface(
            c,
            derived,
            addrs,
            macs,
            &mut claim_local,
            prefix,
            &h.name,
            &ip,
            j,
            f,
            file_bridges,
            bridges,
        ) {
            interfaces.push(iface);
        }
    }
    // Gateways and routes are checked against the interfaces' addresses; with a broken
    // interface that would only add follow-up errors.
    if c.problems.len() != before {
        return None;
    }
    let nets: Vec<Cidr> = interfaces
        .iter()
        .flat_map(|i: &Interface| {
            i.addresses
                .iter()
                .chain(i.vlan_interfaces.iter().flat_map(|v| v.addresses.iter()))
                .copied()
                .collect::<Vec<_>>()
        })
        .collect();
    let on_link = |c: &mut Checker, p: &str, gw: IpAddr| -> bool {
        if nets.iter().any(|n| n.addr == gw) {
            c.bad(p, format!("{gw} is an address of this host itself"));
            return false;
        }
        if !nets.iter().any(|n| n.contains(gw)) {
            let family = if gw.is_ipv4() { "IPv4" } else { "IPv6" };
            c.bad(
                p,
                format!("{gw} is not on a network of host '{}' (no {family} address of its interfaces covers it)", h.name),
            );
            return false;
        }
        true
    };
    let gateway = h.gateway.as_deref().and_then(|g| {
        let p = format!("{path}.gateway");
        match g.parse::<std::net::Ipv4Addr>() {
            Ok(a) => on_link(c, &p, IpAddr::V4(a)).then_some(a),
            Err(_) => {
                c.bad(
                    p,
                    format!(
                        "bad gateway '{}': not an IPv4 address (IPv6 goes in gateway6)",
                        g.escape_debug()
                    ),
                );
                None
            }
        }
    });
    let gateway6 = h.gateway6.as_deref().and_then(|g| {
        let p = format!("{path}.gateway6");
        match g.parse::<std::net::Ipv6Addr>() {
            Ok(a) => on_link(c, &p, IpAddr::V6(a)).then_some(a),
            Err(_) => {
                c.bad(
                    p,
                    format!("bad gateway6 '{}': not an IPv6 address", g.escape_debug()),
                );
                None
            }
        }
    });
    let mut routes = Vec::new();
    for (k, r) in h.routes.iter().enumerate() {
        let rp = format!("{path}.routes[{k}]");
        let via: IpAddr = match r.via.parse() {
            Ok(v) => v,
            Err(_) => {
                c.bad(
                    format!("{rp}.via"),
                    format!("bad next hop '{}': not an IP address", r.via.escape_debug()),
                );
                continue;
            }
        };
        let to: Cidr = if r.to == "default" {
            if via.is_ipv4() { "0.0.0.0/0" } else { "::/0" }
                .parse()
                .expect("constant network")
        } else {
            match r.to.parse::<Cidr>() {
                Ok(t) => t,
                Err(e) => {
                    c.bad(format!("{rp}.to"), format!("bad destination: {e}"));
                    continue;
                }
            }
        };
        if to.addr != to.network() {
            c.bad(
                format!("{rp}.to"),
                format!(
                    "bad destination '{}': host bits are set (did you mean {}/{}?)",
                    r.to,
                    to.network(),
                    to.prefix
                ),
            );
            continue;
        }
        if to.addr.is_ipv4() != via.is_ipv4() {
            c.bad(
                format!("{rp}.via"),
                format!("next hop {via} and destination {to} are of different address families"),
            );
            continue;
        }
        if (to.prefix == 0 && to.addr.is_ipv4() && gateway.is_some())
            || (to.prefix == 0 && to.addr.is_ipv6() && gateway6.is_some())
        {
            c.bad(
                format!("{rp}.to"),
                "a default route is already given by gateway/gateway6",
            );
            continue;
        }
        if !on_link(c, &format!("{rp}.via"), via) {
            continue;
        }
        if routes.iter().any(|x: &Route| x.to == to) {
            c.bad(
                format!("{rp}.to"),
                format!("a route to {to} is given twice"),
            );
            continue;
        }
        routes.push(Route { to, via });
    }
    if c.problems.len() != before {
        return None;
    }
    Some(Host {
        name: h.name.clone(),
        netns: format!("{prefix}{}", h.name),
        interfaces,
        gateway,
        gateway6,
        routes,
        forwarding: h.forwarding,
    })
}

#[allow(clippy::too_many_arguments)]
fn resolve_interface(
    c: &mut Checker,
    derived: &mut Derived,
    addrs: &mut AddrBook,
    macs: &mut HashMap<[u8; 6], String>,
    claim_local: &mut dyn FnMut(&mut Checker, &str, &str) -> bool,
    prefix: &str,
    host: &str,
    path: &str,
    index: usize,
    f: &FileInterface,
    file_bridges: &[FileBridge],
    bridges: &[Bridge],
) -> Option<Interface> {
    let before = c.problems.len();
    let bridge = bridges.iter().find(|b| b.name == f.bridge);
    if bridge.is_none() && !file_bridges.iter().any(|b| b.name == f.bridge) {
        c.bad(
            format!("{path}.bridge"),
            format!("no bridge named '{}'", f.bridge.escape_debug()),
        );
    }
    let port = format!("{prefix}{host}-{index}");
    // The host's name is what the user can shorten.
    let host_key = path
        .rsplit_once(".interfaces")
        .map_or_else(|| path.to_string(), |(h, _)| format!("{h}.name"));
    derived.claim(
        c,
        &host_key,
        &port,
        "port (host-side interface)",
        "use a shorter lab or host name",
    );
    let nic = match (f.kind, &f.name) {
        (IfaceKind::Tap, Some(_)) => {
            c.bad(
                format!("{path}.name"),
                format!("a tap interface keeps the name rvsd gave it ('{port}'), so rvsd finds it again after a restart; remove `name`"),
            );
            port.clone()
        }
        (IfaceKind::Tap, None) => port.clone(),
        (IfaceKind::Veth, Some(n)) => {
            if !valid_ifname(n) {
                c.bad(
                    format!("{path}.name"),
                    format!("bad interface name '{}': 1-{IFNAME_MAX} bytes of ASCII letters, digits, '_', '-' and '.'", n.escape_debug()),
                );
            }
            n.clone()
        }
        (IfaceKind::Veth, None) => format!("eth{index}"),
    };
    claim_local(c, &format!("{path}.name"), &nic);
    let vlan = vlan_spec(c, path, f.vlan, f.trunks.as_deref(), f.vlan_mode.as_deref());
    if let (Some(spec), Some(b)) = (&vlan, bridge) {
        let key = if spec.effective_mode() == VlanMode::Access {
            format!("{path}.vlan")
        } else {
            format!("{path}.trunks")
        };
        check_declared(c, &key, b, spec);
    }
    let mac = f
        .mac
        .as_deref()
        .and_then(|m| mac(c, macs, &format!("{path}.mac"), m));
    let mut addresses = Vec::new();
    for (k, a) in f.addresses.iter().enumerate() {
        if let Some(a) = address(c, addrs, &format!("{path}.addresses[{k}]"), a) {
            addresses.push(a);
        }
    }
    let mut vlan_interfaces = Vec::new();
    for (k, v) in f.vlan_interfaces.iter().enumerate() {
        let vp = format!("{path}.vlan_interfaces[{k}]");
        let Some(vid) = vid(c, &format!("{vp}.vlan"), v.vlan) else {
            continue;
        };
        if let Some(spec) = &vlan {
            if let Err(e) = carries_tagged(spec, vid) {
                c.bad(format!("{vp}.vlan"), e);
            }
            if let Some(b) = bridge {
                if !b.vlans.is_empty() && !b.vlans.contains(&vid) {
                    c.bad(
                        format!("{vp}.vlan"),
                        format!(
                            "VLAN {vid} is not among the VLANs of bridge '{}' ({})",
                            b.name,
                            rvs_api::format_trunks(&b.vlans)
                        ),
                    );
                }
            }
        }
        if vlan_interfaces.iter().any(|x: &VlanInterface| x.vid == vid) {
            c.bad(
                format!("{vp}.vlan"),
                format!("VLAN {vid} has two sub-interfaces on this interface"),
            );
            continue;
        }
        let name = v.name.clone().unwrap_or_else(|| format!("vlan{vid}"));
        if !valid_ifname(&name) {
            c.bad(
                format!("{vp}.name"),
                format!("bad interface name '{}': 1-{IFNAME_MAX} bytes of ASCII letters, digits, '_', '-' and '.'", name.escape_debug()),
            );
            continue;
        }
        if !claim_local(c, &format!("{vp}.name"), &name) {
            continue;
        }
        let mut vaddrs = Vec::new();
        for (m, a) in v.addresses.iter().enumerate() {
            if let Some(a) = address(c, addrs, &format!("{vp}.addresses[{m}]"), a) {
                vaddrs.push(a);
            }
        }
        vlan_interfaces.push(VlanInterface {
            vid,
            name,
            addresses: vaddrs,
        });
    }
    let has_v6 = addresses
        .iter()
        .chain(vlan_interfaces.iter().flat_map(|v| v.addresses.iter()))
        .any(|a| a.addr.is_ipv6());
    let mtu = match f.mtu {
        None => None,
        Some(m) if !(68..=65535).contains(&m) => {
            c.bad(
                format!("{path}.mtu"),
                format!("MTU {m} is outside 68-65535"),
            );
            None
        }
        Some(m) if has_v6 && m < 1280 => {
            c.bad(
                format!("{path}.mtu"),
                format!("MTU {m} is below 1280, the minimum for IPv6 (this interface has IPv6 addresses)"),
            );
            None
        }
        Some(m) => u32::try_from(m).ok(),
    };
    if c.problems.len() != before {
        return None;
    }
    Some(Interface {
        kind: f.kind,
        bridge: f.bridge.clone(),
        port,
        nic,
        vlan: vlan?,
        mac,
        addresses,
        mtu,
        offloads: f.offloads.unwrap_or(true),
        vlan_interfaces,
    })
}

fn resolve_link(
    c: &mut Checker,
    derived: &mut Derived,
    prefix: &str,
    i: usize,
    l: &FileLink,
    bridges: &[Bridge],
    group: &mut HashMap<String, String>,
) -> Option<Link> {
    let path = format!("links[{i}]");
    let before = c.problems.len();
    if l.bridges.len() != 2 {
        c.bad(
            format!("{path}.bridges"),
            format!("a link joins exactly two bridges, not {}", l.bridges.len()),
        );
        return None;
    }
    let mut ends = Vec::new();
    for (k, name) in l.bridges.iter().enumerate() {
        match bridges.iter().find(|b| &b.name == name) {
            Some(b) => ends.push(b),
            None => c.bad(
                format!("{path}.bridges[{k}]"),
                format!("no bridge named '{}'", name.escape_debug()),
            ),
        }
    }
    if l.bridges[0] == l.bridges[1] {
        c.bad(
            format!("{path}.bridges[1]"),
            format!(
                "a link joins two different bridges, not '{}' with itself",
                l.bridges[0]
            ),
        );
        return None;
    }
    let ports = [format!("{prefix}l{i}-a"), format!("{prefix}l{i}-b")];
    for p in &ports {
        derived.claim(
            c,
            &format!("{path}.bridges"),
            p,
            "patch port name",
            "use a shorter lab name",
        );
    }
    let vlan = vlan_spec(
        c,
        &path,
        l.vlan,
        l.trunks.as_deref(),
        l.vlan_mode.as_deref(),
    );
    if let Some(spec) = &vlan {
        let key = if spec.effective_mode() == VlanMode::Access {
            format!("{path}.vlan")
        } else {
            format!("{path}.trunks")
        };
        for b in &ends {
            check_declared(c, &key, b, spec);
        }
    }
    if ends.len() == 2 {
        // Union-find on bridge names: a link between two bridges that are connected
        // already closes a loop.
        fn root(group: &HashMap<String, String>, mut b: String) -> String {
            for _ in 0..group.len() + 1 {
                match group.get(&b) {
                    Some(p) if *p != b => b = p.clone(),
                    _ => break,
                }
            }
            b
        }
        let (ra, rb) = (
            root(group, ends[0].name.clone()),
            root(group, ends[1].name.clone()),
        );
        if ra == rb {
            c.bad(
                format!("{path}.bridges"),
                format!(
                    "this link closes a loop: '{}' and '{}' are connected by other links already (rvs has no spanning tree, so a loop would circulate broadcasts forever)",
                    ends[0].name, ends[1].name
                ),
            );
        } else {
            group.insert(ra, rb);
        }
    }
    if c.problems.len() != before {
        return None;
    }
    Some(Link {
        bridges: [l.bridges[0].clone(), l.bridges[1].clone()],
        ports,
        vlan: vlan?,
    })
}

/// Every VLAN used anywhere in the topology (for the graph legend).
pub fn vlans_in_use(t: &Topology) -> BTreeSet<u16> {
    let mut out = BTreeSet::new();
    for h in &t.hosts {
        for i in &h.interfaces {
            out.extend(i.vlan.tag);
            out.extend(i.vlan.trunks.iter().copied());
            out.extend(i.vlan_interfaces.iter().map(|v| v.vid));
        }
    }
    for l in &t.links {
        out.extend(l.vlan.tag);
        out.extend(l.vlan.trunks.iter().copied());
    }
    out
}
