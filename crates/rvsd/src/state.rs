//! The daemon's state machine: the configuration, the datapath workers, and the link
//! between them.
//!
//! Threads: every datapath thread holds a replica of every bridge under the same bridge id,
//! the replicas sharing one MAC table. A port receives on one thread (the one receiving on
//! the fewest ports) and is a transmit handle ([`rvs_datapath::Port::tx_handle`]) on the
//! others, under one port id everywhere, so learned entries, OpenFlow port maps and
//! packet-ins mean the same on every thread. Counters are per thread and summed here.
//!
//! Every change follows one order so that a refused change leaves nothing behind:
//! 1. validate the request against the current configuration;
//! 2. open whatever the change needs from the system (a socket, a TAP device);
//! 3. persist the new configuration atomically;
//! 4. apply it to the datapath (which cannot fail short of the worker being gone).
//!
//! If step 2 or 3 fails, what step 2 opened is closed again (a TAP device created for the
//! change is deleted) and the running and persisted state are as before.
//!
//! Ports whose interface is missing (at start, or deleted while running) stay configured
//! with an error status; [`State::retry_ports`] reattaches them when the interface returns.

use crate::config::{BridgeConfig, Config, PortConfig};
use rvs_api::{
    ApiError, BridgeInfo, BridgeSettings, ErrorKind, FdbEntry, FdbSummary, PortInfo, PortKind,
    PortStats, PortVlanChange, QueueStats, Request, Response, VlanSpec, MAX_TAP_QUEUES,
};
use rvs_datapath::ports::afpacket::AfPacketPort;
use rvs_datapath::ports::afxdp::AfxdpPort;
use rvs_datapath::ports::patch::PatchPort;
use rvs_datapath::ports::tap::TapPort;
use rvs_datapath::worker::WorkerHandle;
use rvs_datapath::{BridgeId, Port, PortId};
use std::collections::HashMap;
use std::path::PathBuf;

mod of;
pub use of::OfInput;

/// Bounds shared with the CLI.
pub const MAC_AGING_RANGE: std::ops::RangeInclusive<u32> = 10..=1_000_000;
pub const MAC_TABLE_SIZE_RANGE: std::ops::RangeInclusive<u32> = 1..=1_000_000;

type ApiResult = Result<Response, ApiError>;

/// What the daemon knows about a configured port at run time.
#[derive(Debug, Clone, Default)]
struct PortRun {
    id: Option<PortId>,
    /// Why the port is not attached (when `id` is None).
    error: Option<String>,
    netns: Option<String>,
    /// How the port runs, shown after `up` (afxdp: mode and queues).
    detail: Option<String>,
    /// The threads receiving on the port (when `id` is set): more than one when its
    /// queues are split; the first holds the port itself (device ioctls, destroy). Every
    /// other thread holds a transmit handle under the same id.
    rx_threads: Vec<usize>,
}

impl PortRun {
    /// The thread holding the port itself.
    fn thread(&self) -> usize {
        self.rx_threads.first().copied().unwrap_or(0)
    }
}

pub struct State {
    config: Config,
    db: PathBuf,
    /// Datapath threads. Every bridge has a replica on each (sharing one MAC table); each
    /// port receives on one thread and the others transmit to it through a handle.
    workers: Vec<WorkerHandle>,
    /// Bridge ids, the same on every thread.
    bridge_ids: HashMap<String, BridgeId>,
    ports: HashMap<String, PortRun>,
    /// OpenFlow side of each bridge.
    of: HashMap<String, of::OfBridge>,
    /// Where controller events and packet-ins go (the server loop).
    of_tx: tokio::sync::mpsc::Sender<OfInput>,
    /// With `--rx-steering cpu`: the CPU each thread is pinned to (thread t on `[t]`);
    /// system ports then receive on every thread, steered by CPU.
    steer_cpus: Option<Vec<usize>>,
}

fn worker_gone() -> ApiError {
    ApiError::new(
        ErrorKind::System,
        "the datapath thread has stopped; restart rvsd",
    )
}

fn no_bridge(name: &str) -> ApiError {
    ApiError::new(ErrorKind::NoSuchBridge, format!("no bridge named '{name}'"))
}

fn no_port(bridge: &str, name: &str) -> ApiError {
    ApiError::new(
        ErrorKind::NoSuchPort,
        format!("bridge '{bridge}' has no port named '{name}'"),
    )
}

/// Checks a bridge or port name (they follow Linux interface naming).
pub fn check_name(what: &str, name: &str) -> Result<(), ApiError> {
    let ok = !name.is_empty()
        && name.len() <= 15
        && name != "."
        && name != ".."
        && !name
            .chars()
            .any(|c| c == '/' || c == ':' || c.is_whitespace() || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(format!(
            "invalid {what} name '{name}': use 1-15 characters without '/', ':' or spaces"
        )))
    }
}

fn check_settings(s: &BridgeSettings) -> Result<(), ApiError> {
    if let Some(a) = s.mac_aging_secs {
        if !MAC_AGING_RANGE.contains(&a) {
            return Err(ApiError::invalid(format!(
                "mac aging {a}s is outside {}-{} seconds",
                MAC_AGING_RANGE.start(),
                MAC_AGING_RANGE.end()
            )));
        }
    }
    if let Some(n) = s.mac_table_size {
        if !MAC_TABLE_SIZE_RANGE.contains(&n) {
            return Err(ApiError::invalid(format!(
                "mac table size {n} is outside {}-{}",
                MAC_TABLE_SIZE_RANGE.start(),
                MAC_TABLE_SIZE_RANGE.end()
            )));
        }
    }
    Ok(())
}

/// The queue count of a new port: `--queues` only for tap, internal and system ports, 1
/// to [`MAX_TAP_QUEUES`]; 1 when not given.
fn check_queues(kind: PortKind, queues: Option<u16>) -> Result<u16, ApiError> {
    match queues {
        None => Ok(1),
        Some(_) if !matches!(kind, PortKind::Tap | PortKind::Internal | PortKind::System) => {
            Err(ApiError::invalid(format!(
                "--queues applies only to --type tap, internal and system, not {kind}"
            )))
        }
        Some(n) if (1..=MAX_TAP_QUEUES).contains(&n) => Ok(n),
        Some(n) => Err(ApiError::invalid(format!(
            "{n} queues is outside 1-{MAX_TAP_QUEUES}"
        ))),
    }
}

/// An opened port, with where it was found.
struct Opened {
    io: Box<dyn Port>,
    netns: Option<String>,
    /// rvsd created the device for this change (delete it if the change is refused).
    created: bool,
    detail: Option<String>,
}

/// `steer_cpus`: the CPU of each datapath thread, when system ports receive on every
/// thread steered by CPU (`--rx-steering cpu`); `queues` is then not used for them.
fn open_port(
    name: &str,
    kind: PortKind,
    netns_hint: Option<&str>,
    queues: u16,
    steer_cpus: Option<&[usize]>,
) -> Result<Opened, ApiError> {
    match kind {
        PortKind::System => match AfPacketPort::open(name) {
            Ok(mut p) => {
                // Receive queues: sockets of one fanout group, one per thread (at attach).
                let detail = match steer_cpus.filter(|c| c.len() > 1) {
                    Some(cpus) => {
                        p.steer_by_cpu(cpus.to_vec());
                        (!p.has_rx_ring()).then(|| format!("system, {} queues by CPU", cpus.len()))
                    }
                    None => {
                        p.set_queues(usize::from(queues));
                        (queues > 1 && !p.has_rx_ring()).then(|| format!("system, {queues} queues"))
                    }
                };
                Ok(Opened { io: Box::new(p), netns: None, created: false, detail })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(ApiError::new(
                ErrorKind::InterfaceNotFound,
                format!("interface '{name}' not found (a system port needs an existing interface; create it first, or use --type tap)"),
            )),
            Err(e) => Err(ApiError::new(ErrorKind::System, format!("cannot open interface '{name}': {e}"))),
        },
        PortKind::Patch => Err(ApiError::invalid(format!("patch port '{name}' is attached with its peer"))),
        PortKind::Afxdp => match AfxdpPort::open(name) {
            Ok(p) => {
                let mut detail = p.describe();
                if let Some(why) = p.native_refusal() {
                    detail.push_str(&format!("; native refused: {why}"));
                }
                Ok(Opened { io: Box::new(p), netns: None, created: false, detail: Some(detail) })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(ApiError::new(
                ErrorKind::InterfaceNotFound,
                format!("interface '{name}' not found (an afxdp port needs an existing interface in rvsd's namespace)"),
            )),
            Err(e) if e.kind() == std::io::ErrorKind::ResourceBusy => Err(ApiError::invalid(e.to_string())),
            Err(e) => Err(ApiError::new(ErrorKind::System, format!("cannot open AF_XDP port on '{name}': {e}"))),
        },
        PortKind::Tap | PortKind::Internal => match open_tap(name, netns_hint, usize::from(queues), steer_cpus) {
            Ok((mut p, attach)) => {
                let n = p.queue_count();
                // With CPU steering a tap with a queue per thread is steered like a system port.
                let by_cpu = match steer_cpus.filter(|c| c.len() > 1 && n >= c.len()) {
                    Some(cpus) => p
                        .steer_by_cpu(cpus)
                        .map_err(|e| tracing::warn!(port = name, error = %e, "tap queues by flow instead of by CPU"))
                        .is_ok(),
                    None => false,
                };
                let detail = match by_cpu {
                    true => Some(format!("{kind}, {n} queues by CPU")),
                    false => (n > 1).then(|| format!("{kind}, {n} queues")),
                };
                Ok(Opened { io: Box::new(p), netns: attach.netns, created: attach.created, detail })
            }
            Err(e) if matches!(
                e.kind(),
                std::io::ErrorKind::InvalidInput | std::io::ErrorKind::ResourceBusy | std::io::ErrorKind::Unsupported
            ) => {
                Err(ApiError::invalid(e.to_string()))
            }
            Err(e) => Err(ApiError::new(ErrorKind::System, format!("cannot open tap device '{name}': {e}"))),
        },
    }
}

/// Opens a tap with `queues` queues; with CPU steering, with at least one per thread when
/// the device can have them (a device made elsewhere without multi-queue support keeps
/// the count asked for).
fn open_tap(
    name: &str,
    netns_hint: Option<&str>,
    queues: usize,
    steer_cpus: Option<&[usize]>,
) -> std::io::Result<(TapPort, rvs_datapath::ports::tap::TapAttach)> {
    let want = steer_cpus
        .filter(|c| c.len() > 1 && c.len() <= rvs_datapath::ports::tap::MAX_QUEUES)
        .map_or(queues, |c| queues.max(c.len()));
    match TapPort::open_or_create(name, netns_hint, want) {
        Err(e) if want != queues && e.kind() == std::io::ErrorKind::Unsupported => {
            TapPort::open_or_create(name, netns_hint, queues)
        }
        r => r,
    }
}

/// Closes a port opened for a change that was refused, deleting a device made for it.
fn discard(opened: Opened) {
    if opened.created {
        if let Err(e) = opened.io.destroy() {
            tracing::warn!("could not delete device created for a refused change: {e}");
        }
    }
}

impl State {
    /// Loads nothing itself: `config` was read by the caller. Creates the bridges and
    /// attaches every port it can; the others are retried later.
    pub fn new(
        mut config: Config,
        db: PathBuf,
        workers: Vec<WorkerHandle>,
        of_tx: tokio::sync::mpsc::Sender<OfInput>,
        steer_cpus: Option<Vec<usize>>,
    ) -> State {
        for (t, worker) in workers.iter().enumerate() {
            let sink_tx = of_tx.clone();
            let _ = worker.call(move |w| {
                w.datapath().set_packet_in_sink(Some(Box::new(move |ev| {
                    sink_tx.try_send(OfInput::PacketIn(t, ev)).is_ok()
                })))
            });
        }
        // Databases from before OpenFlow numbers: give every port one, once.
        let mut numbered = false;
        for bc in config.bridges.values_mut() {
            let names: Vec<String> = bc
                .ports
                .iter()
                .filter(|(_, p)| p.ofport.is_none())
                .map(|(n, _)| n.clone())
                .collect();
            for n in names {
                let free = bc.free_ofport();
                if let Some(p) = bc.ports.get_mut(&n) {
                    p.ofport = Some(free);
                    numbered = true;
                }
            }
        }
        if numbered {
            if let Err(e) = config.save(&db) {
                tracing::warn!("cannot save OpenFlow port numbers: {e:#}");
            }
        }
        let mut st = State {
            config,
            db,
            workers,
            bridge_ids: HashMap::new(),
            ports: HashMap::new(),
            of: HashMap::new(),
            of_tx,
            steer_cpus,
        };
        let bridges: Vec<(String, BridgeConfig)> = st
            .config
            .bridges
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for (name, bc) in bridges {
            if let Err(e) = st.create_bridge(&name, &bc) {
                tracing::error!(bridge = %name, "cannot create bridge: {e}");
                continue;
            }
            for (pname, pc) in &bc.ports {
                st.ports.insert(pname.clone(), PortRun::default());
                st.attach_configured(&name, pname, pc);
            }
            st.of_start(&name);
        }
        st
    }

    fn create_bridge(&mut self, name: &str, bc: &BridgeConfig) -> Result<(), ApiError> {
        let id = (0..)
            .find(|i| !self.bridge_ids.values().any(|b| b == i))
            .unwrap_or(0);
        let mac =
            rvs_datapath::mac_table::shared_mac(bc.mac_table_size as usize, bc.mac_aging_secs);
        for w in &self.workers {
            let (nm, mac) = (name.to_string(), mac.clone());
            if !w
                .call(move |w| w.datapath().add_bridge_with(id, &nm, mac))
                .map_err(|_| worker_gone())?
            {
                return Err(ApiError::new(
                    ErrorKind::System,
                    format!("bridge id {id} is taken in the datapath"),
                ));
            }
        }
        self.bridge_ids.insert(name.to_string(), id);
        Ok(())
    }

    /// A datapath thread for bridge-wide work on shared state (the MAC table): every
    /// thread has a replica of every bridge.
    fn worker_of(&self, _bridge: &str) -> &WorkerHandle {
        &self.workers[0]
    }

    /// Opens a port with the queues it gets here ([`State::effective_queues`]).
    fn open(
        &self,
        name: &str,
        kind: PortKind,
        netns_hint: Option<&str>,
        queues: u16,
    ) -> Result<Opened, ApiError> {
        open_port(
            name,
            kind,
            netns_hint,
            self.effective_queues(kind, queues),
            self.steer_cpus.as_deref(),
        )
    }

    /// Queues a port gets: a system port's are sockets served by different threads, so at
    /// most one per thread (one per thread with CPU steering); a tap's are the device's
    /// (several may share a thread).
    fn effective_queues(&self, kind: PortKind, queues: u16) -> u16 {
        let threads = u16::try_from(self.workers.len()).unwrap_or(u16::MAX);
        match kind {
            PortKind::System if self.steer_cpus.is_some() => threads,
            PortKind::System => queues.min(threads).max(1),
            _ => queues,
        }
    }

    /// The threads, those receiving on the fewest ports (or port parts) first.
    fn threads_by_load(&self) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.workers.len()).collect();
        order.sort_by_key(|t| {
            self.ports
                .values()
                .filter(|r| r.id.is_some() && r.rx_threads.contains(t))
                .count()
        });
        order
    }

    /// The smallest port id no attached port uses.
    fn free_port_id(&self) -> PortId {
        let used: std::collections::HashSet<PortId> =
            self.ports.values().filter_map(|r| r.id).collect();
        (0..).find(|i| !used.contains(i)).unwrap_or(0)
    }

    /// Removes port `id` from every thread; returns what its receiving thread held.
    fn del_everywhere(&self, id: PortId, thread: usize) -> Option<Box<dyn Port>> {
        let mut io = None;
        for (t, w) in self.workers.iter().enumerate() {
            let got = w.call(move |w| w.del_port(id)).ok().flatten();
            if t == thread {
                io = got;
            }
        }
        io
    }

    /// Tries to attach a configured port that is not attached; records the outcome.
    fn attach_configured(&mut self, bridge: &str, name: &str, pc: &PortConfig) -> bool {
        if pc.kind == PortKind::Patch {
            return self.attach_patch(bridge, name, pc);
        }
        match self.open(name, pc.kind, pc.netns.as_deref(), pc.queues) {
            Ok(opened) => {
                let netns = opened.netns.clone();
                let detail = opened.detail.clone();
                match self.attach(bridge, opened.io, &pc.vlan) {
                    Ok((id, rx_threads)) => {
                        tracing::info!(bridge, port = name, kind = %pc.kind, netns = ?netns, threads = ?rx_threads, "port attached");
                        self.ports.insert(
                            name.to_string(),
                            PortRun {
                                id: Some(id),
                                error: None,
                                netns: netns.clone(),
                                detail,
                                rx_threads,
                            },
                        );
                        if pc.netns != netns && pc.kind == PortKind::Tap {
                            self.remember_netns(bridge, name, netns);
                        }
                        true
                    }
                    Err(e) => {
                        self.mark_down(name, e.message);
                        false
                    }
                }
            }
            Err(e) if e.kind == ErrorKind::InterfaceNotFound => {
                self.mark_down(
                    name,
                    format!("interface '{name}' not found; it is attached when it appears"),
                );
                false
            }
            Err(e) => {
                self.mark_down(name, e.message);
                false
            }
        }
    }

    /// Connects a configured patch port with its peer when the peer is configured and points
    /// back; both ends are attached together. Otherwise the port waits, with the reason.
    fn attach_patch(&mut self, bridge: &str, name: &str, pc: &PortConfig) -> bool {
        if self.ports.get(name).is_some_and(|r| r.id.is_some()) {
            return true;
        }
        let Some(peer) = pc.peer.clone() else {
            self.mark_down(name, "patch port without a peer".into());
            return false;
        };
        let Some((peer_bridge, peer_pc)) = self
            .config
            .find_port(&peer)
            .map(|(b, p)| (b.to_string(), p.clone()))
        else {
            self.mark_down(name, format!("peer '{peer}' is not configured yet"));
            return false;
        };
        if peer_pc.kind != PortKind::Patch || peer_pc.peer.as_deref() != Some(name) {
            self.mark_down(
                name,
                format!("port '{peer}' is not a patch port whose peer is '{name}'"),
            );
            return false;
        }
        self.detach(&peer);
        let (a, b) = match PatchPort::pair(name, &peer) {
            Ok(p) => p,
            Err(e) => {
                self.mark_down(name, format!("cannot create patch pair: {e}"));
                return false;
            }
        };
        let (ida, ta) = match self.attach(bridge, Box::new(a), &pc.vlan) {
            Ok(x) => x,
            Err(e) => {
                self.mark_down(name, e.message);
                return false;
            }
        };
        // Reserve the first end's id while the second one is attached.
        self.ports.insert(
            name.to_string(),
            PortRun {
                id: Some(ida),
                error: None,
                netns: None,
                detail: None,
                rx_threads: ta.clone(),
            },
        );
        match self.attach(&peer_bridge, Box::new(b), &peer_pc.vlan) {
            Ok((idb, tb)) => {
                self.ports.insert(
                    peer.clone(),
                    PortRun {
                        id: Some(idb),
                        error: None,
                        netns: None,
                        detail: None,
                        rx_threads: tb,
                    },
                );
                tracing::info!(a = name, b = %peer, "patch ports connected");
                true
            }
            Err(e) => {
                self.del_everywhere(ida, ta.first().copied().unwrap_or(0));
                self.mark_down(name, e.message);
                false
            }
        }
    }

    /// Takes a port out of the datapath (closing it) if it is attached.
    fn detach(&mut self, name: &str) {
        let Some(run) = self.ports.get_mut(name) else {
            return;
        };
        let (id, thread) = (run.id.take(), run.thread());
        if let Some(id) = id {
            self.del_everywhere(id, thread);
        }
    }

    /// After a patch port went away, its peer cannot forward any more.
    fn unpair_peer_of(&mut self, pc: &PortConfig) {
        if pc.kind != PortKind::Patch {
            return;
        }
        if let Some(peer) = pc.peer.as_deref() {
            if self.config.find_port(peer).is_some() {
                self.detach(peer);
                self.mark_down(peer, "its peer patch port was removed".to_string());
            }
        }
    }

    fn remember_netns(&mut self, bridge: &str, name: &str, netns: Option<String>) {
        let mut next = self.config.clone();
        if let Some(p) = next
            .bridges
            .get_mut(bridge)
            .and_then(|b| b.ports.get_mut(name))
        {
            p.netns = netns;
        }
        match next.save(&self.db) {
            Ok(()) => self.config = next,
            Err(e) => tracing::warn!("cannot record the namespace of tap '{name}': {e:#}"),
        }
    }

    fn mark_down(&mut self, name: &str, error: String) {
        let run = self.ports.entry(name.to_string()).or_default();
        if run.error.as_deref() != Some(error.as_str()) {
            tracing::warn!(port = name, "port not attached: {error}");
        }
        run.id = None;
        run.error = Some(error);
    }

    /// Puts a port on a bridge: it receives on the least busy thread (a port with several
    /// queues is split over up to one thread per queue, [`Port::split_rx`]), and every
    /// other thread gets a transmit handle under the same id. Returns the id and the
    /// receiving threads.
    fn attach(
        &self,
        bridge: &str,
        mut io: Box<dyn Port>,
        vlan: &VlanSpec,
    ) -> Result<(PortId, Vec<usize>), ApiError> {
        let bid = *self
            .bridge_ids
            .get(bridge)
            .ok_or_else(|| no_bridge(bridge))?;
        let id = self.free_port_id();
        let order = self.threads_by_load();
        let system = |what: &str, e: std::io::Error| {
            ApiError::new(
                ErrorKind::System,
                format!("cannot add port to the datapath: {what}: {e}"),
            )
        };
        let extra = io.split_rx(self.workers.len());
        // A port split over every thread takes them in order: queue q on thread q, which
        // CPU steering relies on (thread q is pinned to the CPU the program maps to q).
        let rx_threads: Vec<usize> = if 1 + extra.len() == self.workers.len() {
            (0..self.workers.len()).collect()
        } else {
            order.iter().copied().take(1 + extra.len()).collect()
        };
        let mut placed: Vec<(usize, Box<dyn Port>)> = Vec::with_capacity(self.workers.len());
        for &t in order.iter().filter(|t| !rx_threads.contains(t)) {
            placed.push((t, io.tx_handle().map_err(|e| system("transmit handle", e))?));
        }
        let primary = rx_threads.first().copied().unwrap_or(0);
        placed.insert(0, (primary, io));
        for (t, part) in rx_threads.iter().skip(1).copied().zip(extra) {
            placed.push((t, part));
        }
        for (t, port) in placed {
            let v = vlan.clone();
            let added = self
                .workers
                .get(t)
                .ok_or_else(worker_gone)?
                .call(move |w| w.add_port_with_id(bid, id, port, &v))
                .map_err(|_| worker_gone())
                .and_then(|r| r.map_err(|e| system("datapath thread", e)));
            if let Err(e) = added {
                // Whatever was added goes again, so no thread is left half-configured.
                drop(self.del_everywhere(id, primary));
                return Err(e);
            }
        }
        Ok((id, rx_threads))
    }

    /// Persists `next` and makes it current.
    fn commit(&mut self, next: Config) -> Result<(), ApiError> {
        next.save(&self.db)
            .map_err(|e| ApiError::new(ErrorKind::System, format!("{e:#}")))?;
        self.config = next;
        Ok(())
    }

    /// Collects ports the worker dropped and reattaches ports whose interface is back.
    pub fn retry_ports(&mut self) {
        self.refresh_locations();
        let failures: Vec<_> = self
            .workers
            .iter()
            .filter_map(|w| w.call(|w| w.take_failures()).ok())
            .flatten()
            .collect();
        {
            for f in failures {
                // The receiving thread dropped the port; the handles on the others go too.
                if let Some(run) = self.ports.get(&f.name) {
                    if let Some(id) = run.id {
                        self.del_everywhere(id, run.thread());
                    }
                }
                let why = match f.fault {
                    rvs_datapath::PortFault::InterfaceGone => {
                        format!("interface '{}' disappeared", f.name)
                    }
                    rvs_datapath::PortFault::Io(e) => format!("interface '{}' failed: {e}", f.name),
                };
                self.mark_down(&f.name, why);
            }
        }
        let down: Vec<(String, String, PortConfig)> = self
            .config
            .bridges
            .iter()
            .flat_map(|(b, bc)| {
                bc.ports
                    .iter()
                    .map(move |(p, pc)| (b.clone(), p.clone(), pc.clone()))
            })
            .filter(|(_, p, _)| self.ports.get(p).is_none_or(|r| r.id.is_none()))
            .collect();
        for (b, p, pc) in down {
            self.attach_configured(&b, &p, &pc);
        }
        self.of_reconcile();
    }

    pub fn handle(&mut self, req: Request) -> ApiResult {
        let changes_ports = matches!(
            req,
            Request::AddPort { .. } | Request::DelPort { .. } | Request::SetPort { .. }
        );
        let r = self.dispatch(req);
        if changes_ports {
            self.of_reconcile();
        }
        r
    }

    fn dispatch(&mut self, req: Request) -> ApiResult {
        match req {
            Request::Ping => Ok(Response::Pong {
                daemon_version: env!("CARGO_PKG_VERSION").to_string(),
                protocol: rvs_api::PROTOCOL_VERSION,
                pid: std::process::id(),
            }),
            Request::AddBridge {
                name,
                settings,
                may_exist,
            } => self.add_bridge(name, settings, may_exist),
            Request::DelBridge { name, if_exists } => self.del_bridge(name, if_exists),
            Request::SetBridge { name, settings } => self.set_bridge(name, settings),
            Request::ListBridges => Ok(Response::Bridges {
                bridges: self.config.bridges.keys().cloned().collect(),
            }),
            Request::AddPort {
                bridge,
                name,
                kind,
                vlan,
                may_exist,
                peer,
                ofport,
                queues,
            } => self.add_port(bridge, name, kind, vlan, may_exist, peer, ofport, queues),
            Request::SetPort {
                bridge,
                name,
                change,
            } => self.set_port(bridge, name, change),
            Request::DelPort {
                bridge,
                name,
                if_exists,
            } => self.del_port(bridge, name, if_exists),
            Request::ListPorts { bridge } => {
                let b = self
                    .config
                    .bridges
                    .get(&bridge)
                    .ok_or_else(|| no_bridge(&bridge))?;
                Ok(Response::Ports {
                    ports: b.ports.keys().cloned().collect(),
                })
            }
            Request::Show => {
                self.refresh_locations();
                Ok(self.show())
            }
            Request::FdbShow { bridge } => self.fdb_show(bridge),
            Request::FdbFlush { bridge } => {
                let bid = self.bridge_id(&bridge)?;
                self.worker_of(&bridge)
                    .call(move |w| w.datapath().fdb_flush(bid))
                    .map_err(|_| worker_gone())?;
                Ok(Response::Done)
            }
            Request::PortStats { bridge } => self.port_stats(bridge),
            Request::DpThreads => Ok(self.dp_threads()),
            Request::OpenFlow { bridge, messages } => self.of_handle_api(&bridge, messages),
            Request::SetController { bridge, targets } => self.set_controller(bridge, targets),
            Request::SetFailMode { bridge, mode } => self.set_fail_mode(bridge, mode),
            Request::SetDpid { bridge, dpid } => self.set_dpid(bridge, dpid),
            Request::OfShow { bridge } => self.of_show(bridge),
            Request::Trace {
                bridge,
                flow,
                packet,
                in_port,
            } => self.trace(bridge, flow, packet, in_port),
        }
    }

    fn bridge_id(&self, bridge: &str) -> Result<BridgeId, ApiError> {
        if !self.config.bridges.contains_key(bridge) {
            return Err(no_bridge(bridge));
        }
        self.bridge_ids
            .get(bridge)
            .copied()
            .ok_or_else(|| no_bridge(bridge))
    }

    fn add_bridge(&mut self, name: String, settings: BridgeSettings, may_exist: bool) -> ApiResult {
        check_name("bridge", &name)?;
        check_settings(&settings)?;
        if self.config.bridges.contains_key(&name) {
            return if may_exist {
                Ok(Response::Done)
            } else {
                Err(ApiError::new(
                    ErrorKind::AlreadyExists,
                    format!("bridge '{name}' already exists"),
                ))
            };
        }
        if self.config.bridge_of_port(&name).is_some() {
            return Err(ApiError::new(
                ErrorKind::AlreadyExists,
                format!("'{name}' is already the name of a port"),
            ));
        }
        let mut bc = BridgeConfig::default();
        if let Some(a) = settings.mac_aging_secs {
            bc.mac_aging_secs = a;
        }
        if let Some(n) = settings.mac_table_size {
            bc.mac_table_size = n;
        }
        let mut next = self.config.clone();
        next.bridges.insert(name.clone(), bc.clone());
        // A log left by an earlier bridge of this name is not this bridge's.
        self.of_stop(&name, true);
        self.commit(next)?;
        self.create_bridge(&name, &bc)?;
        self.of_start(&name);
        tracing::info!(bridge = %name, "bridge added");
        Ok(Response::Done)
    }

    fn del_bridge(&mut self, name: String, if_exists: bool) -> ApiResult {
        if !self.config.bridges.contains_key(&name) {
            return if if_exists {
                Ok(Response::Done)
            } else {
                Err(no_bridge(&name))
            };
        }
        let mut next = self.config.clone();
        let removed = next.bridges.remove(&name).unwrap_or_default();
        self.commit(next)?;
        self.of_stop(&name, true);
        if let Some(bid) = self.bridge_ids.get(&name).copied() {
            // Each thread gives back its replica's ports: the receiving ones and handles.
            let mut by_thread: Vec<Vec<Box<dyn Port>>> = Vec::with_capacity(self.workers.len());
            for w in &self.workers {
                by_thread.push(w.call(move |w| w.del_bridge(bid)).unwrap_or_default());
            }
            self.bridge_ids.remove(&name);
            for (pname, pc) in &removed.ports {
                let thread = self.ports.get(pname).map_or(0, |r| r.thread());
                let io = by_thread.get_mut(thread).and_then(|ports| {
                    ports
                        .iter()
                        .position(|p| p.name() == pname && p.poll_fd().is_some())
                        .map(|i| ports.swap_remove(i))
                });
                destroy_device(pname, pc, io);
            }
        }
        for (p, pc) in &removed.ports {
            self.ports.remove(p);
            self.unpair_peer_of(pc);
        }
        tracing::info!(bridge = %name, "bridge deleted");
        Ok(Response::Done)
    }

    fn set_bridge(&mut self, name: String, settings: BridgeSettings) -> ApiResult {
        check_settings(&settings)?;
        let bid = self.bridge_id(&name)?;
        let mut next = self.config.clone();
        let bc = next
            .bridges
            .get_mut(&name)
            .ok_or_else(|| no_bridge(&name))?;
        if let Some(a) = settings.mac_aging_secs {
            bc.mac_aging_secs = a;
        }
        if let Some(n) = settings.mac_table_size {
            bc.mac_table_size = n;
        }
        self.commit(next)?;
        let (n, a) = (
            settings.mac_table_size.map(|n| n as usize),
            settings.mac_aging_secs,
        );
        self.worker_of(&name)
            .call(move |w| w.datapath().set_bridge_params(bid, n, a))
            .map_err(|_| worker_gone())?;
        Ok(Response::Done)
    }

    // The fields of `Request::AddPort`, one by one.
    #[allow(clippy::too_many_arguments)]
    fn add_port(
        &mut self,
        bridge: String,
        name: String,
        kind: PortKind,
        vlan: VlanSpec,
        may_exist: bool,
        peer: Option<String>,
        ofport: Option<u32>,
        queues: Option<u16>,
    ) -> ApiResult {
        check_name("port", &name)?;
        let vlan = vlan.validated().map_err(ApiError::invalid)?;
        let queues = check_queues(kind, queues)?;
        if let Some(n) = ofport {
            if !(1..=0xfeff).contains(&n) {
                return Err(ApiError::invalid(format!(
                    "OpenFlow port number {n} is outside 1-65279"
                )));
            }
            if let Some((other, _)) = self
                .config
                .bridges
                .get(&bridge)
                .and_then(|b| b.ports.iter().find(|(_, p)| p.ofport == Some(n)))
            {
                if *other != name || !may_exist {
                    return Err(ApiError::new(
                        ErrorKind::AlreadyExists,
                        format!("OpenFlow port {n} of bridge '{bridge}' is already port '{other}'"),
                    ));
                }
            }
        }
        match (kind, &peer) {
            (PortKind::Patch, None) => {
                return Err(ApiError::invalid(
                    "a patch port needs a peer: give --peer PORT",
                ))
            }
            (PortKind::Patch, Some(p)) => {
                check_name("peer", p)?;
                if *p == name {
                    return Err(ApiError::invalid("a patch port cannot be its own peer"));
                }
            }
            (_, Some(_)) => return Err(ApiError::invalid("--peer applies only to --type patch")),
            (_, None) => {}
        }
        self.bridge_id(&bridge)?;
        if let Some(owner) = self.config.bridge_of_port(&name) {
            if owner == bridge && may_exist {
                return Ok(Response::Done);
            }
            return Err(ApiError::new(
                ErrorKind::AlreadyExists,
                format!("port '{name}' already exists on bridge '{owner}'"),
            ));
        }
        if self.config.bridges.contains_key(&name) {
            return Err(ApiError::new(
                ErrorKind::AlreadyExists,
                format!("'{name}' is already the name of a bridge"),
            ));
        }
        let ofport = match ofport {
            Some(n) => n,
            None => self
                .config
                .bridges
                .get(&bridge)
                .map_or(1, BridgeConfig::free_ofport),
        };
        if kind == PortKind::Patch {
            return self.add_patch_port(bridge, name, vlan, peer, ofport);
        }
        let opened = self.open(&name, kind, None, queues)?;
        let netns = opened.netns.clone();
        let detail = opened.detail.clone();
        let mut next = self.config.clone();
        let pc = PortConfig {
            kind,
            vlan: vlan.clone(),
            netns: if kind == PortKind::Tap {
                netns.clone()
            } else {
                None
            },
            peer: None,
            ofport: Some(ofport),
            queues,
        };
        if let Some(b) = next.bridges.get_mut(&bridge) {
            b.ports.insert(name.clone(), pc);
        }
        if let Err(e) = self.commit(next) {
            discard(opened);
            return Err(e);
        }
        match self.attach(&bridge, opened.io, &vlan) {
            Ok((id, rx_threads)) => {
                self.ports.insert(
                    name.clone(),
                    PortRun {
                        id: Some(id),
                        error: None,
                        netns,
                        detail,
                        rx_threads,
                    },
                );
                tracing::info!(bridge = %bridge, port = %name, %kind, vlan = %vlan.describe(), "port added");
                Ok(Response::Done)
            }
            Err(e) => {
                self.mark_down(&name, e.message.clone());
                Err(e)
            }
        }
    }

    fn add_patch_port(
        &mut self,
        bridge: String,
        name: String,
        vlan: VlanSpec,
        peer: Option<String>,
        ofport: u32,
    ) -> ApiResult {
        if let Some(p) = peer.as_deref() {
            if let Some((_, ppc)) = self.config.find_port(p) {
                if ppc.kind != PortKind::Patch || ppc.peer.as_deref() != Some(name.as_str()) {
                    return Err(ApiError::invalid(format!(
                        "port '{p}' exists and is not a patch port whose peer is '{name}'"
                    )));
                }
            }
        }
        let pc = PortConfig {
            kind: PortKind::Patch,
            vlan,
            netns: None,
            peer,
            ofport: Some(ofport),
            queues: 1,
        };
        let mut next = self.config.clone();
        if let Some(b) = next.bridges.get_mut(&bridge) {
            b.ports.insert(name.clone(), pc.clone());
        }
        self.commit(next)?;
        self.ports.insert(name.clone(), PortRun::default());
        self.attach_patch(&bridge, &name, &pc);
        tracing::info!(bridge = %bridge, port = %name, "patch port added");
        Ok(Response::Done)
    }

    fn set_port(&mut self, bridge: String, name: String, change: PortVlanChange) -> ApiResult {
        self.bridge_id(&bridge)?;
        let current = self
            .config
            .bridges
            .get(&bridge)
            .and_then(|b| b.ports.get(&name))
            .cloned()
            .ok_or_else(|| no_port(&bridge, &name))?;
        let mut spec = current.vlan.clone();
        if let Some(tag) = change.tag {
            spec.tag = tag;
        }
        if let Some(trunks) = change.trunks {
            spec.trunks = trunks;
        }
        if let Some(mode) = change.vlan_mode {
            spec.mode = mode;
        }
        let spec = spec.validated().map_err(ApiError::invalid)?;
        let mut next = self.config.clone();
        if let Some(p) = next
            .bridges
            .get_mut(&bridge)
            .and_then(|b| b.ports.get_mut(&name))
        {
            p.vlan = spec.clone();
        }
        self.commit(next)?;
        if let Some(id) = self.ports.get(&name).and_then(|r| r.id) {
            for w in &self.workers {
                let spec = spec.clone();
                w.call(move |w| w.datapath().set_port_vlan(id, &spec))
                    .map_err(|_| worker_gone())?;
            }
        }
        Ok(Response::Done)
    }

    fn del_port(&mut self, bridge: String, name: String, if_exists: bool) -> ApiResult {
        self.bridge_id(&bridge)?;
        let Some(pc) = self
            .config
            .bridges
            .get(&bridge)
            .and_then(|b| b.ports.get(&name))
            .cloned()
        else {
            return if if_exists {
                Ok(Response::Done)
            } else {
                Err(no_port(&bridge, &name))
            };
        };
        let mut next = self.config.clone();
        if let Some(b) = next.bridges.get_mut(&bridge) {
            b.ports.remove(&name);
        }
        self.commit(next)?;
        let run = self.ports.remove(&name).unwrap_or_default();
        let io = run.id.and_then(|id| self.del_everywhere(id, run.thread()));
        destroy_device(&name, &pc, io);
        self.unpair_peer_of(&pc);
        tracing::info!(bridge = %bridge, port = %name, "port deleted");
        Ok(Response::Done)
    }

    /// Asks the datapath where each attached tap lives now (a tap's kernel side can be moved
    /// to another namespace at any time) and records it, also as the re-attach hint.
    fn refresh_locations(&mut self) {
        let mut attached: Vec<(String, PortId)> = Vec::new();
        let mut locations: Vec<Option<String>> = Vec::new();
        for (t, worker) in self.workers.iter().enumerate() {
            let mine: Vec<(String, PortId)> = self
                .ports
                .iter()
                .filter(|(_, r)| r.thread() == t)
                .filter_map(|(n, r)| r.id.map(|id| (n.clone(), id)))
                .collect();
            let ids: Vec<PortId> = mine.iter().map(|(_, id)| *id).collect();
            let Ok(found) = worker.call(move |w| {
                ids.iter()
                    .map(|&id| w.datapath().refresh_port(id))
                    .collect::<Vec<_>>()
            }) else {
                continue;
            };
            attached.extend(mine);
            locations.extend(found);
        }
        for ((name, _), netns) in attached.into_iter().zip(locations) {
            if let Some(run) = self.ports.get_mut(&name) {
                run.netns = netns.clone();
            }
            let Some((bridge, pc)) = self.config.find_port(&name) else {
                continue;
            };
            if pc.kind == PortKind::Tap
                && pc.netns != netns
                && !netns.as_deref().is_some_and(|n| n.starts_with("net:["))
            {
                let bridge = bridge.to_string();
                self.remember_netns(&bridge, &name, netns);
            }
        }
    }

    fn show(&self) -> Response {
        let bridges = self
            .config
            .bridges
            .iter()
            .map(|(name, bc)| BridgeInfo {
                name: name.clone(),
                mac_aging_secs: bc.mac_aging_secs,
                mac_table_size: bc.mac_table_size,
                datapath_thread: None,
                ports: bc
                    .ports
                    .iter()
                    .map(|(pname, pc)| {
                        let run = self.ports.get(pname).cloned().unwrap_or_default();
                        let thread = run.id.map(|_| run.thread() as u32);
                        PortInfo {
                            name: pname.clone(),
                            kind: pc.kind,
                            vlan: pc.vlan.clone(),
                            vlan_mode: pc.vlan.effective_mode(),
                            status: match (run.id, run.error) {
                                (Some(_), _) => match &run.detail {
                                    Some(d) => format!("up ({d})"),
                                    None => "up".to_string(),
                                },
                                (None, Some(e)) => format!("error: {e}"),
                                (None, None) => "down".to_string(),
                            },
                            datapath_thread: thread,
                            datapath_threads: if run.id.is_some() && run.rx_threads.len() > 1 {
                                run.rx_threads.iter().map(|t| *t as u32).collect()
                            } else {
                                Vec::new()
                            },
                            netns: run.netns,
                            peer: pc.peer.clone(),
                        }
                    })
                    .collect(),
            })
            .collect();
        Response::Show { bridges }
    }

    /// Each datapath thread: poll mode and counters (asked of the thread), bridges and receive
    /// queues (from what rvsd placed there), CPU time (from procfs).
    fn dp_threads(&self) -> Response {
        let mut threads = Vec::with_capacity(self.workers.len());
        for (t, worker) in self.workers.iter().enumerate() {
            // (bridge, port, id, split over several threads)
            let mut mine: Vec<(String, String, PortId, bool)> = Vec::new();
            for (bridge, bc) in &self.config.bridges {
                for pname in bc.ports.keys() {
                    if let Some(run) = self.ports.get(pname).filter(|r| r.rx_threads.contains(&t)) {
                        if let Some(id) = run.id {
                            mine.push((
                                bridge.clone(),
                                pname.clone(),
                                id,
                                run.rx_threads.len() > 1,
                            ));
                        }
                    }
                }
            }
            let ids: Vec<PortId> = mine.iter().map(|(_, _, id, _)| *id).collect();
            let Ok((stats, mode, tid, cpu, queues, (rx, tx))) = worker.call(move |w| {
                let queues: Vec<Vec<usize>> = ids
                    .iter()
                    .map(|&id| {
                        w.datapath()
                            .port(id)
                            .map_or_else(Vec::new, |p| p.rx_queue_ids())
                    })
                    .collect();
                (
                    w.poll_stats(),
                    w.poll_mode(),
                    w.tid(),
                    w.pinned_cpu(),
                    queues,
                    w.datapath().totals(),
                )
            }) else {
                continue;
            };
            let mut rx_queues = Vec::new();
            for ((bridge, port, _, split), ids) in mine.iter().zip(queues) {
                if ids.len() <= 1 && !split {
                    rx_queues.push(format!("{bridge}/{port}"));
                } else {
                    rx_queues.extend(ids.iter().map(|q| format!("{bridge}/{port} q{q}")));
                }
            }
            let mut bridges: Vec<String> = mine.iter().map(|(b, _, _, _)| b.clone()).collect();
            bridges.sort();
            bridges.dedup();
            threads.push(rvs_api::DpThreadInfo {
                name: format!("rvs-dp{t}"),
                tid,
                poll_mode: mode.to_string(),
                bridges,
                rx_queues,
                sleeps: stats.sleeps,
                polls: stats.polls,
                poll_hits: stats.poll_hits,
                cpu_ms: thread_cpu_ms(tid).unwrap_or(0),
                cpu: cpu.and_then(|c| u32::try_from(c).ok()),
                rx_packets: rx,
                tx_packets: tx,
            });
        }
        Response::DpThreads { threads }
    }

    fn fdb_show(&self, bridge: String) -> ApiResult {
        let bid = self.bridge_id(&bridge)?;
        let (rows, stats) = self
            .worker_of(&bridge)
            .call(move |w| {
                let now = w.now();
                (w.datapath().fdb(bid, now), w.datapath().fdb_stats(bid, now))
            })
            .map_err(|_| worker_gone())?;
        let entries = rows
            .into_iter()
            .map(|r| FdbEntry {
                port: r.port,
                vlan: r.vlan,
                mac: r.mac.to_string(),
                age_secs: r.age_ms / 1000,
            })
            .collect();
        let summary = FdbSummary {
            entries: stats.entries as u64,
            limit: stats.limit as u64,
            aging_secs: stats.aging_secs,
            moves: stats.moves,
            evictions: stats.evictions,
        };
        Ok(Response::Fdb { entries, summary })
    }

    fn port_stats(&self, bridge: String) -> ApiResult {
        self.bridge_id(&bridge)?;
        let names: Vec<String> = self
            .config
            .bridges
            .get(&bridge)
            .map(|b| b.ports.keys().cloned().collect())
            .unwrap_or_default();
        let ids: Vec<(String, Option<PortId>)> = names
            .into_iter()
            .map(|n| (n.clone(), self.ports.get(&n).and_then(|r| r.id)))
            .collect();
        let wanted: Vec<PortId> = ids.iter().filter_map(|(_, id)| *id).collect();
        let mut summed = sum_counters(&self.workers, &wanted)?.into_iter();
        let counters: Vec<(
            Option<rvs_datapath::PortCounters>,
            Vec<rvs_datapath::QueueCounters>,
        )> = ids
            .iter()
            .map(|(_, id)| match id {
                Some(_) => match summed.next().flatten() {
                    Some((c, q)) => (Some(c), q),
                    None => (None, Vec::new()),
                },
                None => (None, Vec::new()),
            })
            .collect();
        let ports = ids
            .into_iter()
            .zip(counters)
            .map(|((port, _), (c, queues))| {
                let c = c.unwrap_or_default();
                PortStats {
                    port,
                    rx_packets: c.rx_packets,
                    rx_bytes: c.rx_bytes,
                    tx_packets: c.tx_packets,
                    tx_bytes: c.tx_bytes,
                    sw_csum: c.sw_csum,
                    sw_segments: c.sw_segments,
                    drops: c.drops_by_name().map(|(k, v)| (k.to_string(), v)).collect(),
                    queues: queues
                        .into_iter()
                        .map(|q| QueueStats {
                            rx_packets: q.rx_packets,
                            tx_packets: q.tx_packets,
                        })
                        .collect(),
                }
            })
            .collect();
        Ok(Response::PortStats { ports })
    }

    /// Stops the datapath thread (ports are closed; devices are kept).
    pub fn shutdown(mut self) {
        let names: Vec<String> = self.of.keys().cloned().collect();
        for n in names {
            self.of_stop(&n, false);
        }
        for w in self.workers {
            w.shutdown();
        }
    }
}

/// Deletes the device of a removed tap or internal port (rvsd owns those devices): through
/// the port if it was attached, else by attaching to the device wherever it is.
fn destroy_device(name: &str, pc: &PortConfig, io: Option<Box<dyn Port>>) {
    if !matches!(pc.kind, PortKind::Tap | PortKind::Internal) {
        return;
    }
    let io = io.or_else(|| {
        TapPort::open_existing(name, pc.netns.as_deref()).map(|p| Box::new(p) as Box<dyn Port>)
    });
    if let Some(io) = io {
        if let Err(e) = io.destroy() {
            tracing::warn!(port = %name, "cannot delete tap device: {e}");
        }
    }
}

/// User plus system CPU time of one of this process's threads, from procfs.
fn thread_cpu_ms(tid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the name.
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // SAFETY: sysconf(3) cannot fail for this name.
    let hz = u64::try_from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) })
        .ok()
        .filter(|h| *h > 0)?;
    Some(ticks * 1000 / hz)
}

/// Counters of ports `ids` summed over every datapath thread (each counts what it received
/// or sent on the port), with the per-queue counts of the receiving thread's port.
/// Kernel drops are collected first. `None` for a port no thread has; an error when a
/// thread is gone (its share would be missing).
fn sum_counters(
    workers: &[WorkerHandle],
    ids: &[PortId],
) -> Result<Vec<Option<PortSums>>, ApiError> {
    let mut out: Vec<Option<PortSums>> = vec![None; ids.len()];
    for w in workers {
        let ids = ids.to_vec();
        let got = w
            .call(move |w| {
                let dp = w.datapath();
                dp.collect_kernel_drops();
                ids.iter()
                    .map(|&id| dp.counters(id).map(|c| (c, dp.queue_counters(id))))
                    .collect::<Vec<_>>()
            })
            .map_err(|_| worker_gone())?;
        for (slot, got) in out.iter_mut().zip(got) {
            let Some((c, q)) = got else { continue };
            match slot {
                Some((sum, queues)) => {
                    sum.accumulate(&c);
                    if !q.is_empty() {
                        *queues = q;
                    }
                }
                None => *slot = Some((c, q)),
            }
        }
    }
    Ok(out)
}

/// A port's counters summed over the threads, and its per-queue counts.
type PortSums = (rvs_datapath::PortCounters, Vec<rvs_datapath::QueueCounters>);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queues_are_for_taps_and_internal_ports_within_bounds() {
        assert_eq!(check_queues(PortKind::System, None), Ok(1));
        assert_eq!(check_queues(PortKind::Tap, None), Ok(1));
        assert_eq!(check_queues(PortKind::Tap, Some(4)), Ok(4));
        assert_eq!(check_queues(PortKind::Internal, Some(16)), Ok(16));
        assert_eq!(check_queues(PortKind::System, Some(2)), Ok(2));
        for (kind, n, says) in [
            (PortKind::Tap, 0, "0 queues is outside 1-16"),
            (PortKind::Tap, 17, "17 queues is outside 1-16"),
            (PortKind::System, 0, "0 queues is outside 1-16"),
            (PortKind::Afxdp, 2, "not afxdp"),
            (PortKind::Patch, 2, "not patch"),
        ] {
            let e = check_queues(kind, Some(n)).expect_err("refused");
            assert_eq!(e.kind, ErrorKind::InvalidArgument, "{e:?}");
            assert!(e.message.contains(says), "{kind} {n}: {}", e.message);
        }
    }
}
