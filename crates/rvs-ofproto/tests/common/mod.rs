//! Test glue: a bridge (`ControllerSet` + `OfSwitch` + a fake datapath) on its own
//! thread with a current-thread tokio runtime, as rvsd would run it, and a blocking
//! test controller.
#![allow(dead_code)]

use rvs_flow::classifier::Credit;
use rvs_flow::pipeline::DpAction;
use rvs_ofproto::conn::{ConnEvent, ConnOptions, ControllerSet};
use rvs_ofproto::{
    DpControl, OfSnapshot, OfSwitch, OfSwitchOptions, Outgoing, PacketInEvent, PortDesc,
};
use rvs_openflow::multipart::PortStats;
use rvs_openflow::{Framer, Hello, Message, OfError, PortNo};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{mpsc as smpsc, Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Default)]
pub struct DpState {
    pub publishes: u64,
    pub last: Option<Arc<OfSnapshot>>,
    pub packet_outs: Vec<(u32, Vec<DpAction>, Vec<u8>)>,
}

pub struct FakeDp {
    pub state: Arc<Mutex<DpState>>,
}

impl DpControl for FakeDp {
    fn publish(&mut self, snap: Arc<OfSnapshot>) {
        let mut s = self.state.lock().expect("dp lock");
        s.publishes += 1;
        s.last = Some(snap);
    }
    fn packet_out(
        &mut self,
        in_port: u32,
        actions: Vec<DpAction>,
        frame: Vec<u8>,
    ) -> Result<(), OfError> {
        self.state
            .lock()
            .expect("dp lock")
            .packet_outs
            .push((in_port, actions, frame));
        Ok(())
    }
    fn collect(&mut self) -> Vec<Credit> {
        Vec::new()
    }
    fn port_stats(&mut self) -> Vec<PortStats> {
        let s = self.state.lock().expect("dp lock");
        s.last
            .as_ref()
            .map(|snap| {
                snap.ports
                    .iter()
                    .map(|(n, _, _)| PortStats {
                        port_no: PortNo(*n),
                        rx_packets: u64::from(*n) * 10,
                        tx_packets: u64::from(*n) * 20,
                        ..Default::default()
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
    fn port_live(&self, _: u32) -> bool {
        true
    }
}

pub enum Cmd {
    PacketIn(PacketInEvent),
    Stop,
}

/// A running bridge.
pub struct Bridge {
    pub addrs: Vec<SocketAddr>,
    pub dp: Arc<Mutex<DpState>>,
    /// `up <id>` / `down <id>: <why>` lines.
    pub events: Arc<Mutex<Vec<String>>>,
    pub status: Arc<Mutex<Vec<rvs_api::ControllerInfo>>>,
    cmd: smpsc::Sender<Cmd>,
    thread: Option<std::thread::JoinHandle<()>>,
}

fn now_ms(start: Instant) -> u64 {
    start.elapsed().as_millis() as u64
}

impl Bridge {
    pub fn start(targets: &[&str], opts: ConnOptions, ports: &[(&str, u32)]) -> Bridge {
        let targets: Vec<String> = targets.iter().map(|s| s.to_string()).collect();
        let ports: Vec<(String, u32)> = ports.iter().map(|(n, p)| (n.to_string(), *p)).collect();
        let dp = Arc::new(Mutex::new(DpState::default()));
        let events = Arc::new(Mutex::new(Vec::new()));
        let status = Arc::new(Mutex::new(Vec::new()));
        let (cmd_tx, cmd_rx) = smpsc::channel();
        let (addr_tx, addr_rx) = smpsc::channel();
        let (dp2, ev2, st2) = (dp.clone(), events.clone(), status.clone());
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(run(targets, opts, ports, dp2, ev2, st2, cmd_rx, addr_tx));
        });
        let addrs = addr_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("bridge did not start");
        Bridge {
            addrs,
            dp,
            events,
            status,
            cmd: cmd_tx,
            thread: Some(thread),
        }
    }

    pub fn packet_in(&self, ev: PacketInEvent) {
        let _ = self.cmd.send(Cmd::PacketIn(ev));
    }

    pub fn events(&self) -> Vec<String> {
        self.events.lock().expect("lock").clone()
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = self.cmd.send(Cmd::Stop);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn run(
    targets: Vec<String>,
    opts: ConnOptions,
    ports: Vec<(String, u32)>,
    dp: Arc<Mutex<DpState>>,
    events: Arc<Mutex<Vec<String>>>,
    status: Arc<Mutex<Vec<rvs_api::ControllerInfo>>>,
    cmd_rx: smpsc::Receiver<Cmd>,
    addr_tx: smpsc::Sender<Vec<SocketAddr>>,
) {
    let start = Instant::now();
    let (mut set, mut rx) = ControllerSet::new("br0", opts);
    set.set_targets(&targets).expect("targets");
    let _ = addr_tx.send(set.listen_addrs());
    let mut sw = OfSwitch::new(OfSwitchOptions::new("br0", 0xabc), 0);
    sw.set_controllers_configured(true, 0);
    let mut dp = FakeDp { state: dp };
    for (i, (name, req)) in ports.iter().enumerate() {
        let desc = PortDesc {
            hw_addr: [2, 0, 0, 0, 0, i as u8 + 1],
            link_up: true,
            curr_speed: 10_000_000,
            max_speed: 10_000_000,
        };
        sw.port_added(name, Some(*req), desc, 0).expect("port");
    }
    sw.flush(&mut dp);
    let send = |set: &ControllerSet, out: Vec<Outgoing>| {
        for o in out {
            set.send(o.to, o.xid, &o.msg);
        }
    };
    let mut last_tick = 0;
    loop {
        if let Ok(Some(ev)) = tokio::time::timeout(Duration::from_millis(20), rx.recv()).await {
            let mut next = Some(ev);
            let mut n = 0;
            while let Some(ev) = next.take() {
                let now = now_ms(start);
                match ev {
                    ConnEvent::Up(id, _peer) => {
                        sw.conn_up(id, now);
                        events.lock().expect("lock").push(format!("up {id}"));
                    }
                    ConnEvent::Message(id, xid, m) => {
                        let out = sw.handle(id, xid, m, now, &mut dp);
                        send(&set, out);
                    }
                    ConnEvent::Down(id, why) => {
                        sw.conn_down(id, now);
                        events
                            .lock()
                            .expect("lock")
                            .push(format!("down {id}: {why}"));
                    }
                }
                n += 1;
                if n < 1000 {
                    next = rx.try_recv().ok();
                }
            }
            sw.end_batch(now_ms(start));
        }
        while let Ok(cmd) = cmd_rx.try_recv() {
            match cmd {
                Cmd::PacketIn(ev) => {
                    let out = sw.packet_in(ev, now_ms(start));
                    send(&set, out);
                }
                Cmd::Stop => return,
            }
        }
        let now = now_ms(start);
        if now >= last_tick + 100 {
            last_tick = now;
            let out = sw.tick(now, &mut dp);
            send(&set, out);
            *status.lock().expect("lock") = set.status();
        }
    }
}

/// A blocking OpenFlow 1.3 controller for tests.
pub struct TestController {
    pub stream: TcpStream,
    framer: Framer,
    next_xid: u32,
}

impl TestController {
    /// Connects and exchanges hellos.
    pub fn connect(addr: SocketAddr) -> TestController {
        let stream = TcpStream::connect(addr).expect("connect");
        Self::from_stream(stream)
    }

    pub fn from_stream(stream: TcpStream) -> TestController {
        stream
            .set_read_timeout(Some(Duration::from_millis(50)))
            .expect("timeout");
        let mut c = TestController {
            stream,
            framer: Framer::new(),
            next_xid: 100,
        };
        c.send_xid(1, &Message::Hello(Hello::of13()));
        match c.recv(Duration::from_secs(5)) {
            Some((_, Message::Hello(_))) => {}
            other => panic!("expected hello, got {other:?}"),
        }
        c
    }

    pub fn send_xid(&mut self, xid: u32, m: &Message) {
        let b = m.encode(xid).expect("encode");
        self.stream.write_all(&b).expect("write");
    }

    pub fn send(&mut self, m: &Message) -> u32 {
        self.next_xid += 1;
        let xid = self.next_xid;
        self.send_xid(xid, m);
        xid
    }

    pub fn send_raw(&mut self, b: &[u8]) {
        self.stream.write_all(b).expect("write");
    }

    /// The next message, or `None` on timeout. Panics when the connection closes.
    pub fn recv(&mut self, timeout: Duration) -> Option<(u32, Message)> {
        match self.recv_or_closed(timeout) {
            Ok(m) => m,
            Err(()) => panic!("connection closed"),
        }
    }

    /// `Err` when the peer closed the connection.
    pub fn recv_or_closed(&mut self, timeout: Duration) -> Result<Option<(u32, Message)>, ()> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(f)) = self.framer.next_frame() {
                let (h, m) = Message::decode(f).expect("decode");
                return Ok(Some((h.xid, m)));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            let mut buf = [0u8; 65536];
            match self.stream.read(&mut buf) {
                Ok(0) => return Err(()),
                Ok(n) => self.framer.push(&buf[..n]),
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(_) => return Err(()),
            }
        }
    }

    /// Waits for the reply with `xid`, skipping asynchronous messages.
    pub fn reply(&mut self, xid: u32) -> Message {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Some((x, m)) = self.recv(Duration::from_millis(100)) {
                if x == xid {
                    return m;
                }
            }
        }
        panic!("no reply to xid {xid}");
    }

    pub fn request(&mut self, m: &Message) -> Message {
        let xid = self.send(m);
        self.reply(xid)
    }
}
