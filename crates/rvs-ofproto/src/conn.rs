//! Controller connections of one bridge, on tokio.
//!
//! A [`ControllerSet`] is configured with targets ([`parse_target`]): `tcp:IP:PORT`
//! connects out and reconnects with exponential backoff (1 s doubling to 8 s, back to
//! 1 s after a connection that stayed up for [`ConnOptions::stable_after`]);
//! `ptcp:PORT[:IP]` listens (127.0.0.1 by default) and takes any number of clients.
//!
//! Every connection runs two tasks. The reader sends `OFPT_HELLO` (OpenFlow 1.3 only in
//! the version bitmap), negotiates (`OFPET_HELLO_FAILED/OFPHFC_INCOMPATIBLE` and close
//! otherwise), splits the stream with [`rvs_openflow::Framer`], answers echo requests
//! itself, answers undecodable messages with the error the decoder names (the
//! connection stays up; only a broken length field closes it), and probes an idle
//! controller: an echo request after [`ConnOptions::probe_interval`] without input, and
//! a disconnect after another interval without anything. The writer drains the
//! connection's outbound queue, several messages per `write(2)`.
//!
//! The outbound queue is bounded: when it holds [`ConnOptions::queue_len`] messages, a
//! new packet-in is dropped (counted), and another message first evicts the oldest
//! queued packet-in; a controller that lets four times as many replies pile up is
//! disconnected.
//!
//! The owner receives [`ConnEvent`]s on the channel [`ControllerSet::new`] returns and
//! answers with [`ControllerSet::send`]. Tasks use only `Send` state, so they run on
//! rvsd's current-thread runtime or any other.

use crate::switch::ConnId;
use rvs_openflow::header::msg_type;
use rvs_openflow::{negotiate_version, Framer, Header, Hello, Message};
use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Notify};
use tokio::task::JoinHandle;

/// A controller target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    /// `tcp:IP:PORT`: connect to a controller.
    Active(SocketAddr),
    /// `ptcp:PORT[:IP]`: accept controllers.
    Passive(SocketAddr),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Active(a) => match a.ip() {
                IpAddr::V4(ip) => write!(f, "tcp:{ip}:{}", a.port()),
                IpAddr::V6(ip) => write!(f, "tcp:[{ip}]:{}", a.port()),
            },
            Target::Passive(a) => match a.ip() {
                IpAddr::V4(ip) => write!(f, "ptcp:{}:{ip}", a.port()),
                IpAddr::V6(ip) => write!(f, "ptcp:{}:[{ip}]", a.port()),
            },
        }
    }
}

fn parse_ip(s: &str) -> Result<IpAddr, String> {
    let s = s
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or(s);
    s.parse()
        .map_err(|_| format!("'{s}' is not an IP address (host names are not resolved)"))
}

fn parse_port(s: &str, what: &str) -> Result<u16, String> {
    s.parse::<u16>()
        .map_err(|_| format!("'{s}' is not a {what} port number (0-65535)"))
}

/// Parses `tcp:IP:PORT` or `ptcp:PORT[:IP]` (IPv6 addresses in brackets).
pub fn parse_target(s: &str) -> Result<Target, String> {
    let s = s.trim();
    if let Some(rest) = s.strip_prefix("tcp:") {
        let (ip, port) = rest
            .rsplit_once(':')
            .ok_or_else(|| format!("'{s}': expected tcp:IP:PORT"))?;
        let port = parse_port(port, "TCP")?;
        if port == 0 {
            return Err(format!("'{s}': port 0 cannot be connected to"));
        }
        Ok(Target::Active(SocketAddr::new(parse_ip(ip)?, port)))
    } else if let Some(rest) = s.strip_prefix("ptcp:") {
        let (port, ip) = match rest.split_once(':') {
            Some((p, ip)) => (p, parse_ip(ip)?),
            None => (rest, IpAddr::V4(Ipv4Addr::LOCALHOST)),
        };
        Ok(Target::Passive(SocketAddr::new(
            ip,
            parse_port(port, "TCP")?,
        )))
    } else {
        Err(format!(
            "'{s}': unknown controller target (expected tcp:IP:PORT or ptcp:PORT[:IP])"
        ))
    }
}

/// What happens on the connections, for the owner.
#[derive(Debug, Clone, PartialEq)]
pub enum ConnEvent {
    /// Hello exchanged; the connection speaks OpenFlow 1.3.
    Up(ConnId, SocketAddr),
    /// A decoded message other than hello and echo.
    Message(ConnId, u32, Message),
    Down(ConnId, String),
}

/// Connection tuning.
#[derive(Debug, Clone, Copy)]
pub struct ConnOptions {
    /// Idle time before an echo request, and then before disconnecting.
    pub probe_interval: Duration,
    /// Outbound messages queued before packet-ins are dropped.
    pub queue_len: usize,
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// A connection up this long resets the backoff.
    pub stable_after: Duration,
}

impl Default for ConnOptions {
    fn default() -> Self {
        ConnOptions {
            probe_interval: Duration::from_secs(5),
            queue_len: 1024,
            backoff_min: Duration::from_secs(1),
            backoff_max: Duration::from_secs(8),
            stable_after: Duration::from_secs(10),
        }
    }
}

static NEXT_CONN: AtomicU64 = AtomicU64::new(1);

/// The outbound side of one connection.
struct OutQueue {
    inner: Mutex<OutInner>,
    notify: Notify,
}

#[derive(Default)]
struct OutInner {
    /// `(is_packet_in, encoded message)`.
    q: VecDeque<(bool, Vec<u8>)>,
    closed: Option<String>,
    dropped_packet_ins: u64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl OutQueue {
    fn new() -> Arc<Self> {
        Arc::new(OutQueue {
            inner: Mutex::new(OutInner::default()),
            notify: Notify::new(),
        })
    }

    /// Queues `bytes`; `false` when the connection had to be closed.
    fn push(&self, is_packet_in: bool, bytes: Vec<u8>, limit: usize) -> bool {
        let mut g = lock(&self.inner);
        if g.closed.is_some() {
            return false;
        }
        if g.q.len() >= limit {
            if is_packet_in {
                g.dropped_packet_ins += 1;
                return true;
            }
            if let Some(i) = g.q.iter().position(|(p, _)| *p) {
                g.q.remove(i);
                g.dropped_packet_ins += 1;
            } else if g.q.len() >= limit.saturating_mul(4) {
                g.closed = Some("controller too slow: outbound queue full".into());
                drop(g);
                self.notify.notify_one();
                return false;
            }
        }
        g.q.push_back((is_packet_in, bytes));
        drop(g);
        self.notify.notify_one();
        true
    }

    fn close(&self, why: &str) {
        let mut g = lock(&self.inner);
        if g.closed.is_none() {
            g.closed = Some(why.to_string());
        }
        drop(g);
        self.notify.notify_one();
    }

    fn closed(&self) -> Option<String> {
        lock(&self.inner).closed.clone()
    }
}

struct ConnEntry {
    target: Target,
    peer: SocketAddr,
    out: Arc<OutQueue>,
}

#[derive(Default)]
struct Shared {
    conns: BTreeMap<ConnId, ConnEntry>,
    /// Display state per target.
    state: BTreeMap<String, String>,
    /// Bound address of each passive target (port 0 resolved).
    listening: BTreeMap<Target, SocketAddr>,
    dropped_packet_ins: u64,
}

/// Counters for display.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConnCounters {
    /// Packet-ins dropped because a controller's queue was full (all connections,
    /// including closed ones).
    pub dropped_packet_ins: u64,
}

/// The controller connections of one bridge.
pub struct ControllerSet {
    bridge: String,
    opts: ConnOptions,
    events: mpsc::Sender<ConnEvent>,
    shared: Arc<Mutex<Shared>>,
    targets: BTreeMap<Target, TargetTask>,
}

struct TargetTask {
    task: JoinHandle<()>,
    stop: Arc<AtomicBool>,
}

impl ControllerSet {
    /// A set without targets, and the channel its events arrive on.
    pub fn new(bridge: &str, opts: ConnOptions) -> (Self, mpsc::Receiver<ConnEvent>) {
        let (tx, rx) = mpsc::channel(1024);
        (
            ControllerSet {
                bridge: bridge.to_string(),
                opts,
                events: tx,
                shared: Arc::new(Mutex::new(Shared::default())),
                targets: BTreeMap::new(),
            },
            rx,
        )
    }

    /// Replaces the targets: removed ones are closed (their connections reported
    /// down), new ones started. Must run inside a tokio runtime. Fails without changing
    /// anything when a target does not parse, or when a passive target cannot listen.
    pub fn set_targets(&mut self, targets: &[String]) -> Result<(), String> {
        let parsed: Vec<Target> = targets
            .iter()
            .map(|t| parse_target(t))
            .collect::<Result<_, _>>()?;
        let mut listeners = BTreeMap::new();
        for t in &parsed {
            if let Target::Passive(addr) = t {
                if !self.targets.contains_key(t) {
                    let l = std::net::TcpListener::bind(addr)
                        .and_then(|l| l.set_nonblocking(true).map(|()| l))
                        .and_then(TcpListener::from_std)
                        .map_err(|e| format!("{t}: cannot listen: {e}"))?;
                    listeners.insert(*t, l);
                }
            }
        }
        let old: Vec<Target> = self
            .targets
            .keys()
            .filter(|t| !parsed.contains(t))
            .copied()
            .collect();
        for t in old {
            self.stop_target(t);
        }
        for t in parsed {
            if self.targets.contains_key(&t) {
                continue;
            }
            let stop = Arc::new(AtomicBool::new(false));
            let ctx = Ctx {
                target: t,
                opts: self.opts,
                events: self.events.clone(),
                shared: self.shared.clone(),
                stop: stop.clone(),
            };
            let h = match t {
                Target::Active(addr) => {
                    ctx.set_state("connecting");
                    tokio::spawn(active(ctx, addr))
                }
                Target::Passive(_) => match listeners.remove(&t) {
                    Some(l) => {
                        if let Ok(a) = l.local_addr() {
                            lock(&self.shared).listening.insert(t, a);
                        }
                        ctx.set_state("listening");
                        tokio::spawn(passive(ctx, l))
                    }
                    None => continue,
                },
            };
            self.targets.insert(t, TargetTask { task: h, stop });
        }
        Ok(())
    }

    /// Stops a target: the listener or the reconnect loop ends, and its connections
    /// close (each reported down by its own task).
    fn stop_target(&mut self, t: Target) {
        if let Some(tt) = self.targets.remove(&t) {
            tt.stop.store(true, Ordering::Relaxed);
            if matches!(t, Target::Passive(_)) {
                tt.task.abort();
            }
        }
        let mut sh = lock(&self.shared);
        sh.state.remove(&t.to_string());
        sh.listening.remove(&t);
        for c in sh.conns.values().filter(|c| c.target == t) {
            c.out.close("controller target removed");
        }
    }

    /// The configured targets.
    pub fn targets(&self) -> Vec<Target> {
        self.targets.keys().copied().collect()
    }

    /// Queues `msg` for connection `conn`; `false` if the connection is gone.
    pub fn send(&self, conn: ConnId, xid: u32, msg: &Message) -> bool {
        let out = {
            let sh = lock(&self.shared);
            match sh.conns.get(&conn) {
                Some(c) => c.out.clone(),
                None => return false,
            }
        };
        let bytes = match msg.encode(xid) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!("{}: cannot encode reply for conn {conn}: {e}", self.bridge);
                return true;
            }
        };
        let is_pin = msg.msg_type() == msg_type::PACKET_IN;
        out.push(is_pin, bytes, self.opts.queue_len)
    }

    /// Addresses the passive targets listen on (`ptcp:0` gets a free port).
    pub fn listen_addrs(&self) -> Vec<SocketAddr> {
        lock(&self.shared).listening.values().copied().collect()
    }

    /// Connected peers.
    pub fn connections(&self) -> Vec<(ConnId, Target, SocketAddr)> {
        lock(&self.shared)
            .conns
            .iter()
            .map(|(id, c)| (*id, c.target, c.peer))
            .collect()
    }

    pub fn counters(&self) -> ConnCounters {
        let sh = lock(&self.shared);
        let live: u64 = sh
            .conns
            .values()
            .map(|c| lock(&c.out.inner).dropped_packet_ins)
            .sum();
        ConnCounters {
            dropped_packet_ins: sh.dropped_packet_ins + live,
        }
    }

    /// Per-target state for display: `connected`, `listening`, `connecting`,
    /// `backoff 4s: <reason>`; connections as `peer` strings.
    pub fn status(&self) -> Vec<rvs_api::ControllerInfo> {
        let sh = lock(&self.shared);
        self.targets
            .keys()
            .map(|t| {
                let name = t.to_string();
                rvs_api::ControllerInfo {
                    connections: sh
                        .conns
                        .iter()
                        .filter(|(_, c)| c.target == *t)
                        .map(|(id, c)| format!("{} conn={id}", c.peer))
                        .collect(),
                    state: sh.state.get(&name).cloned().unwrap_or_default(),
                    target: name,
                }
            })
            .collect()
    }
}

impl Drop for ControllerSet {
    fn drop(&mut self) {
        for t in self.targets.keys().copied().collect::<Vec<_>>() {
            self.stop_target(t);
        }
    }
}

/// What a target's tasks share.
#[derive(Clone)]
struct Ctx {
    target: Target,
    opts: ConnOptions,
    events: mpsc::Sender<ConnEvent>,
    shared: Arc<Mutex<Shared>>,
    stop: Arc<AtomicBool>,
}

impl Ctx {
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    fn set_state(&self, s: &str) {
        lock(&self.shared)
            .state
            .insert(self.target.to_string(), s.to_string());
    }
}

async fn passive(ctx: Ctx, listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let ctx = ctx.clone();
                tokio::spawn(async move {
                    let _ = run_conn(&ctx, stream, peer).await;
                });
            }
            Err(e) => {
                tracing::warn!("{}: accept failed: {e}", ctx.target);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

async fn active(ctx: Ctx, addr: SocketAddr) {
    let mut backoff = ctx.opts.backoff_min;
    while !ctx.stopped() {
        ctx.set_state("connecting");
        let res = tokio::time::timeout(ctx.opts.backoff_max, TcpStream::connect(addr)).await;
        if ctx.stopped() {
            return;
        }
        let why = match res {
            Ok(Ok(stream)) => {
                let _ = stream.set_nodelay(true);
                let (up_for, why) = run_conn(&ctx, stream, addr).await;
                if up_for >= ctx.opts.stable_after {
                    backoff = ctx.opts.backoff_min;
                }
                why
            }
            Ok(Err(e)) => e.to_string(),
            Err(_) => "connect timed out".to_string(),
        };
        ctx.set_state(&format!("backoff {}s: {why}", backoff.as_secs()));
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(ctx.opts.backoff_max);
    }
}

/// Runs one connection to its end; returns how long it was up (after the hello) and
/// why it ended.
async fn run_conn(ctx: &Ctx, stream: TcpStream, peer: SocketAddr) -> (Duration, String) {
    let id = NEXT_CONN.fetch_add(1, Ordering::Relaxed);
    let _ = stream.set_nodelay(true);
    let (mut rd, mut wr) = stream.into_split();
    let mut framer = Framer::new();
    let hello = match Message::Hello(Hello::of13()).encode(0) {
        Ok(b) => b,
        Err(e) => return (Duration::ZERO, e.to_string()),
    };
    if let Err(e) = wr.write_all(&hello).await {
        return (Duration::ZERO, e.to_string());
    }
    // The peer's hello, within two probe intervals.
    let deadline = Instant::now() + ctx.opts.probe_interval * 2;
    let first = loop {
        match framer.next_frame() {
            Ok(Some(f)) => break f.to_vec(),
            Ok(None) => {}
            Err(e) => return (Duration::ZERO, format!("bad first message: {e}")),
        }
        let left = deadline.saturating_duration_since(Instant::now());
        let mut buf = [0u8; 4096];
        match tokio::time::timeout(left, rd.read(&mut buf)).await {
            Ok(Ok(0)) => return (Duration::ZERO, "closed before hello".into()),
            Ok(Ok(n)) => framer.push(&buf[..n]),
            Ok(Err(e)) => return (Duration::ZERO, e.to_string()),
            Err(_) => return (Duration::ZERO, "no hello from peer".into()),
        }
    };
    let negotiated = match Message::decode(&first) {
        Ok((h, Message::Hello(body))) => negotiate_version(h.version, &body),
        Ok((h, other)) => {
            let e = rvs_openflow::error::ErrorMsg::hello_incompatible(&format!(
                "expected OFPT_HELLO, got {}",
                msg_type::name(other.msg_type())
            ));
            let _ = write_msg(&mut wr, h.xid, Message::Error(e)).await;
            return (Duration::ZERO, "first message was not a hello".into());
        }
        Err(e) => Err(rvs_openflow::error::ErrorMsg::hello_incompatible(&format!(
            "undecodable hello: {e}"
        ))),
    };
    if let Err(e) = negotiated {
        let xid = Header::parse(&first).map(|h| h.xid).unwrap_or(0);
        let _ = write_msg(&mut wr, xid, Message::Error(e)).await;
        let _ = wr.shutdown().await;
        return (Duration::ZERO, "no common OpenFlow version".into());
    }
    let up_at = Instant::now();
    let out = OutQueue::new();
    tokio::spawn(writer(wr, out.clone()));
    {
        let mut sh = lock(&ctx.shared);
        sh.conns.insert(
            id,
            ConnEntry {
                target: ctx.target,
                peer,
                out: out.clone(),
            },
        );
        if matches!(ctx.target, Target::Active(_)) {
            sh.state.insert(ctx.target.to_string(), "connected".into());
        }
    }
    tracing::info!("{}: controller {peer} connected (conn {id})", ctx.target);
    let why = if ctx.events.send(ConnEvent::Up(id, peer)).await.is_err() {
        "switch gone".to_string()
    } else {
        read_loop(ctx, id, &mut rd, &mut framer, &out).await
    };
    out.close(&why);
    {
        let mut sh = lock(&ctx.shared);
        if let Some(c) = sh.conns.remove(&id) {
            sh.dropped_packet_ins += lock(&c.out.inner).dropped_packet_ins;
        }
    }
    let _ = ctx.events.send(ConnEvent::Down(id, why.clone())).await;
    tracing::info!("{}: controller {peer} disconnected: {why}", ctx.target);
    (up_at.elapsed(), why)
}

async fn write_msg(wr: &mut OwnedWriteHalf, xid: u32, m: Message) -> std::io::Result<()> {
    match m.encode(xid) {
        Ok(b) => wr.write_all(&b).await,
        Err(e) => Err(std::io::Error::other(e)),
    }
}

async fn writer(mut wr: OwnedWriteHalf, out: Arc<OutQueue>) {
    let mut batch = Vec::with_capacity(64 * 1024);
    loop {
        let closed = {
            let mut g = lock(&out.inner);
            while let Some((_, m)) = g.q.pop_front() {
                batch.extend_from_slice(&m);
                if batch.len() >= 256 * 1024 {
                    break;
                }
            }
            g.closed.is_some() && g.q.is_empty()
        };
        if !batch.is_empty() {
            if let Err(e) = wr.write_all(&batch).await {
                out.close(&format!("write failed: {e}"));
                return;
            }
            batch.clear();
            continue;
        }
        if closed {
            let _ = wr.shutdown().await;
            return;
        }
        out.notify.notified().await;
    }
}

async fn read_loop(
    ctx: &Ctx,
    id: ConnId,
    rd: &mut OwnedReadHalf,
    framer: &mut Framer,
    out: &Arc<OutQueue>,
) -> String {
    let probe = ctx.opts.probe_interval;
    // Wake up at least this often to notice a writer that closed the connection.
    let slice = probe.min(Duration::from_millis(500));
    let mut last_rx = Instant::now();
    let mut probe_sent: Option<Instant> = None;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        // Whole messages already buffered (the hello may have come with more).
        loop {
            let frame = match framer.next_frame() {
                Ok(Some(f)) => f.to_vec(),
                Ok(None) => break,
                Err(e) => {
                    let xid = 0;
                    if let Ok(b) = Message::Error(e.to_error_msg(&[])).encode(xid) {
                        out.push(false, b, usize::MAX);
                    }
                    return format!("stream out of sync: {e}");
                }
            };
            match Message::decode(&frame) {
                Ok((h, Message::EchoRequest(d))) => {
                    if let Ok(b) = Message::EchoReply(d).encode(h.xid) {
                        out.push(false, b, usize::MAX);
                    }
                }
                Ok((_, Message::EchoReply(_))) | Ok((_, Message::Hello(_))) => {}
                Ok((h, m)) => {
                    if ctx
                        .events
                        .send(ConnEvent::Message(id, h.xid, m))
                        .await
                        .is_err()
                    {
                        return "switch gone".into();
                    }
                }
                Err(e) => {
                    let xid = Header::parse(&frame).map(|h| h.xid).unwrap_or(0);
                    tracing::debug!("conn {id}: undecodable message: {e}");
                    if let Ok(b) = Message::Error(e.to_error_msg(&frame)).encode(xid) {
                        out.push(false, b, usize::MAX);
                    }
                }
            }
        }
        if let Some(why) = out.closed() {
            return why;
        }
        match tokio::time::timeout(slice, rd.read(&mut buf)).await {
            Ok(Ok(0)) => return "connection closed by peer".into(),
            Ok(Ok(n)) => {
                framer.push(&buf[..n]);
                last_rx = Instant::now();
                probe_sent = None;
            }
            Ok(Err(e)) => return format!("read failed: {e}"),
            Err(_) => {
                let now = Instant::now();
                match probe_sent {
                    None if now.duration_since(last_rx) >= probe => {
                        if let Ok(b) = Message::EchoRequest(Vec::new()).encode(0) {
                            out.push(false, b, usize::MAX);
                        }
                        probe_sent = Some(now);
                    }
                    Some(at) if now.duration_since(at) >= probe => {
                        return format!("inactivity probe: no answer in {} s", probe.as_secs_f32());
                    }
                    _ => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse() {
        assert_eq!(
            parse_target("tcp:127.0.0.1:6653"),
            Ok(Target::Active("127.0.0.1:6653".parse().expect("addr")))
        );
        assert_eq!(
            parse_target("ptcp:6653"),
            Ok(Target::Passive("127.0.0.1:6653".parse().expect("addr")))
        );
        assert_eq!(
            parse_target("ptcp:6653:0.0.0.0"),
            Ok(Target::Passive("0.0.0.0:6653".parse().expect("addr")))
        );
        assert_eq!(
            parse_target("tcp:[::1]:6653"),
            Ok(Target::Active("[::1]:6653".parse().expect("addr")))
        );
        for bad in [
            "tcp:localhost:6653",
            "tcp:127.0.0.1",
            "tcp:127.0.0.1:0",
            "tcp:127.0.0.1:70000",
            "ptcp:x",
            "unix:/tmp/x",
            "",
        ] {
            assert!(parse_target(bad).is_err(), "{bad} should not parse");
        }
        for s in ["tcp:127.0.0.1:6653", "ptcp:6653:127.0.0.1", "tcp:[::1]:1"] {
            assert_eq!(parse_target(s).map(|t| t.to_string()), Ok(s.to_string()));
        }
    }

    #[test]
    fn queue_drops_packet_ins_first() {
        let q = OutQueue::new();
        assert!(q.push(true, vec![1], 2));
        assert!(q.push(false, vec![2], 2));
        // Full: a packet-in is dropped.
        assert!(q.push(true, vec![3], 2));
        // Full: a reply evicts the queued packet-in.
        assert!(q.push(false, vec![4], 2));
        let g = lock(&q.inner);
        let left: Vec<u8> = g.q.iter().map(|(_, b)| b[0]).collect();
        assert_eq!(left, vec![2, 4]);
        assert_eq!(g.dropped_packet_ins, 2);
    }
}
