//! The datapath worker thread.
//!
//! One thread owns a [`Datapath`]: its replicas of the bridges, the ports it receives on,
//! and transmit handles for the ports other threads receive on (rvsd runs several). It
//! waits in `epoll_wait` on the ports' descriptors and an eventfd (sleeping, or polling as
//! [`PollMode`] says); the control plane never touches datapath state directly but sends
//! closures ([`WorkerHandle::call`]) that the thread runs between batches, so the packet
//! path takes no locks (the MAC table a bridge's replicas share is locked once per batch).
//! A ready port gets a few batches per wakeup, which keeps one busy port from starving the
//! others. About once a second the thread ages out MAC
//! entries and lets ports re-read their MTU.

use crate::datapath::{BridgeId, Datapath};
use crate::mac_table::Millis;
use crate::port::{Port, PortFault};
use crate::ports::sys::{eventfd, eventfd_drain, eventfd_signal, Epoll};
use crate::PortId;
use rvs_api::VlanSpec;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

type Job = Box<dyn FnOnce(&mut Worker) + Send>;

const WAKE_TOKEN: u64 = u64::MAX;
/// Batches a ready port may process per wakeup.
const BATCHES_PER_WAKEUP: usize = 4;
const HOUSEKEEPING: Duration = Duration::from_secs(1);
/// How a worker waits for traffic.
///
/// Waking a sleeping thread costs tens of microseconds on a VM (the wakeup's IPI and the
/// idle vCPU's halt exit: `perf sched` showed 28 µs of scheduling delay per wakeup on the
/// project VM), so the worker polls without sleeping for a short window after traffic when
/// the traffic suggests the next frame is near.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollMode {
    /// Sleep in epoll, but after forwarding frames keep polling for twice the gap seen
    /// between the last two bursts, when that is at most `max`: a request/response
    /// exchange keeps the thread awake between its turns, while sparse traffic (one ping a
    /// millisecond with the default) never makes it spin. `max` zero: always sleep.
    Adaptive { max: Duration },
    /// Never sleep: one core per thread, lowest latency (like a DPDK/AF_XDP PMD thread).
    /// The thread yields to other runnable threads on its CPU whenever a poll finds nothing.
    Busy,
}

/// Default adaptive window bound: covers a request/response turn over veths on the test VM
/// (30-60 µs), not a 1 ms ping interval.
pub const DEFAULT_ADAPTIVE_MAX: Duration = Duration::from_micros(100);

impl std::fmt::Display for PollMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PollMode::Adaptive { max } if max.is_zero() => f.write_str("event-driven"),
            PollMode::Adaptive { max } => write!(f, "adaptive (up to {} us)", max.as_micros()),
            PollMode::Busy => f.write_str("busy"),
        }
    }
}

impl Default for PollMode {
    fn default() -> Self {
        PollMode::Adaptive {
            max: DEFAULT_ADAPTIVE_MAX,
        }
    }
}

/// The adaptive poll window: how long to keep polling after the last frames.
#[derive(Debug, Clone, Copy)]
struct PollWindow {
    mode: PollMode,
    last_traffic: Option<Instant>,
    window: Duration,
}

impl PollWindow {
    fn new(mode: PollMode) -> Self {
        PollWindow {
            mode,
            last_traffic: None,
            window: Duration::ZERO,
        }
    }

    /// Frames were forwarded at `now`: adapt the window to the gap since the previous ones.
    fn traffic(&mut self, now: Instant) {
        if let (PollMode::Adaptive { max }, Some(prev)) = (self.mode, self.last_traffic) {
            let gap = now.saturating_duration_since(prev);
            self.window = if gap <= max {
                (gap * 2).min(max)
            } else {
                Duration::ZERO
            };
        }
        self.last_traffic = Some(now);
    }

    /// Whether the next wait must not sleep.
    fn polling(&self, now: Instant) -> bool {
        match self.mode {
            PollMode::Busy => true,
            PollMode::Adaptive { .. } => self
                .last_traffic
                .is_some_and(|t| now.saturating_duration_since(t) < self.window),
        }
    }
}

/// Time-in-state counters of one worker thread, read with [`WorkerHandle::call`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PollStats {
    /// Waits that slept in epoll.
    pub sleeps: u64,
    /// Polls that did not sleep.
    pub polls: u64,
    /// Polls that found frames (a wakeup saved).
    pub poll_hits: u64,
}

/// A port the worker had to drop because it failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortFailure {
    pub name: String,
    pub fault: PortFault,
}

/// The thread-side state, handed to closures sent by the control plane.
pub struct Worker {
    dp: Datapath,
    epoll: Epoll,
    failures: Vec<PortFailure>,
    poll_stats: PollStats,
    mode: PollMode,
    tid: u32,
    cpu: Option<usize>,
}

impl Worker {
    pub fn datapath(&mut self) -> &mut Datapath {
        &mut self.dp
    }

    /// Monotonic milliseconds (the clock of MAC aging and flow timeouts, shared with the
    /// control plane).
    pub fn now(&self) -> Millis {
        crate::openflow::mono_ms()
    }

    /// Adds a port under the first free id and watches its descriptor.
    pub fn add_port(
        &mut self,
        bridge: BridgeId,
        io: Box<dyn Port>,
        vlan: &VlanSpec,
    ) -> io::Result<PortId> {
        let id = self.dp.free_port_id();
        self.add_port_with_id(bridge, id, io, vlan)
    }

    /// Like [`Worker::add_port`] under an id the caller chose (the same id on every thread
    /// for one port: its transmit handles on the other threads use it too).
    pub fn add_port_with_id(
        &mut self,
        bridge: BridgeId,
        id: PortId,
        io: Box<dyn Port>,
        vlan: &VlanSpec,
    ) -> io::Result<PortId> {
        let fd = io.poll_fd();
        self.dp
            .add_port_with_id(bridge, id, io, vlan)
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    "no such bridge in the datapath, or the port id is taken",
                )
            })?;
        if let Some(fd) = fd {
            if let Err(e) = self.epoll.add(fd, u64::from(id)) {
                self.dp.del_port(id);
                return Err(e);
            }
        }
        Ok(id)
    }

    pub fn del_port(&mut self, id: PortId) -> Option<Box<dyn Port>> {
        let port = self.dp.del_port(id)?;
        if let Some(fd) = port.poll_fd() {
            self.epoll.delete(fd);
        }
        Some(port)
    }

    pub fn del_bridge(&mut self, id: BridgeId) -> Vec<Box<dyn Port>> {
        let ports = self.dp.del_bridge(id);
        for p in &ports {
            if let Some(fd) = p.poll_fd() {
                self.epoll.delete(fd);
            }
        }
        ports
    }

    /// The CPU the thread is pinned to ([`WorkerHandle::pin`]).
    pub fn pinned_cpu(&self) -> Option<usize> {
        self.cpu
    }

    fn pin_here(&mut self, cpu: usize) -> io::Result<()> {
        pin_current_thread(cpu)?;
        self.cpu = Some(cpu);
        Ok(())
    }

    /// How the thread waited so far.
    pub fn poll_stats(&self) -> PollStats {
        self.poll_stats
    }

    pub fn poll_mode(&self) -> PollMode {
        self.mode
    }

    /// The thread's kernel id.
    pub fn tid(&self) -> u32 {
        self.tid
    }

    /// Ports dropped since the last call because their interface vanished or failed.
    pub fn take_failures(&mut self) -> Vec<PortFailure> {
        std::mem::take(&mut self.failures)
    }

    /// Receives and forwards up to a few batches from a ready port; returns the frames seen.
    fn service_port(&mut self, id: PortId) -> usize {
        let mut total = 0;
        for _ in 0..BATCHES_PER_WAKEUP {
            let now = self.now();
            match self.dp.poll_port(id, now) {
                Ok(n) if n < crate::packet::BATCH_SIZE => {
                    total += n;
                    break;
                }
                Ok(n) => total += n,
                Err(fault) => {
                    if let Some(port) = self.del_port(id) {
                        tracing::warn!(
                            port = port.name(),
                            ?fault,
                            "port failed; detached from its bridge"
                        );
                        self.failures.push(PortFailure {
                            name: port.name().to_string(),
                            fault,
                        });
                    }
                    break;
                }
            }
        }
        total
    }
}

/// The control plane's end of a worker thread.
pub struct WorkerHandle {
    jobs: mpsc::Sender<Job>,
    wake: Arc<OwnedFd>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// The worker thread has exited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the datapath thread is not running")]
pub struct WorkerGone;

impl WorkerHandle {
    /// A worker with the default poll mode (adaptive).
    pub fn spawn(name: &str) -> io::Result<Self> {
        Self::spawn_with(name, PollMode::default())
    }

    /// A worker that waits for traffic as `mode` says.
    pub fn spawn_with(name: &str, mode: PollMode) -> io::Result<Self> {
        let epoll = Epoll::new()?;
        let wake = Arc::new(eventfd()?);
        epoll.add(wake.as_raw_fd(), WAKE_TOKEN)?;
        let (tx, rx) = mpsc::channel::<Job>();
        let stop = Arc::new(AtomicBool::new(false));
        let worker = Worker {
            dp: Datapath::new(),
            epoll,
            failures: Vec::new(),
            poll_stats: PollStats::default(),
            mode,
            tid: 0,
            cpu: None,
        };
        let (wake2, stop2) = (wake.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || run(worker, rx, wake2, stop2, mode))?;
        Ok(WorkerHandle {
            jobs: tx,
            wake,
            stop,
            thread: Some(thread),
        })
    }

    /// Runs `f` on the worker thread between batches and returns its result.
    pub fn call<R, F>(&self, f: F) -> Result<R, WorkerGone>
    where
        R: Send + 'static,
        F: FnOnce(&mut Worker) -> R + Send + 'static,
    {
        let (rtx, rrx) = mpsc::sync_channel(1);
        let job: Job = Box::new(move |w| {
            let _ = rtx.send(f(w));
        });
        self.jobs.send(job).map_err(|_| WorkerGone)?;
        eventfd_signal(self.wake.as_raw_fd());
        rrx.recv().map_err(|_| WorkerGone)
    }

    /// Runs the thread on `cpu` only. Refused (with the CPUs the process may use) when
    /// the CPU does not exist or is outside the process's affinity.
    pub fn pin(&self, cpu: usize) -> io::Result<()> {
        self.call(move |w| w.pin_here(cpu))
            .map_err(|_| io::Error::other("the datapath thread is not running"))?
    }

    /// Stops the thread and waits for it. Ports are closed, not destroyed.
    pub fn shutdown(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        eventfd_signal(self.wake.as_raw_fd());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for WorkerHandle {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

fn run(
    mut w: Worker,
    jobs: mpsc::Receiver<Job>,
    wake: Arc<OwnedFd>,
    stop: Arc<AtomicBool>,
    mode: PollMode,
) {
    // SAFETY: epoll_event is plain old data.
    let mut events: Vec<libc::epoll_event> = vec![libc::epoll_event { events: 0, u64: 0 }; 64];
    let mut ready: Vec<u64> = Vec::with_capacity(64);
    let mut last_housekeeping = Instant::now();
    // SAFETY: gettid(2) cannot fail.
    w.tid = u32::try_from(unsafe { libc::gettid() }).unwrap_or(0);
    let mut window = PollWindow::new(mode);
    while !stop.load(Ordering::SeqCst) {
        let polling = window.polling(Instant::now());
        if polling {
            w.poll_stats.polls += 1;
        } else {
            w.poll_stats.sleeps += 1;
        }
        ready.clear();
        ready.extend(
            w.epoll
                .wait(&mut events, if polling { 0 } else { 500 })
                .iter()
                .map(|e| e.u64),
        );
        let mut frames = 0;
        for &token in &ready {
            if token == WAKE_TOKEN {
                eventfd_drain(wake.as_raw_fd());
                while let Ok(job) = jobs.try_recv() {
                    job(&mut w);
                }
            } else if let Ok(id) = PortId::try_from(token) {
                frames += w.service_port(id);
            }
        }
        if frames > 0 {
            if polling {
                w.poll_stats.poll_hits += 1;
            }
            window.traffic(Instant::now());
        } else if polling {
            // Let whatever else is runnable on this CPU (often the very application the
            // next frame comes from) run before polling again.
            std::thread::yield_now();
        }
        if last_housekeeping.elapsed() >= HOUSEKEEPING {
            last_housekeeping = Instant::now();
            let now = w.now();
            w.dp.expire(now);
            w.dp.refresh_ports();
            w.dp.collect_kernel_drops();
        }
    }
    // Answer anything still queued so no caller waits forever.
    while let Ok(job) = jobs.try_recv() {
        job(&mut w);
    }
}

/// Runs the calling thread on `cpu` only. Refused (with the CPUs it may use) when the CPU
/// does not exist or is outside the thread's affinity.
pub fn pin_current_thread(cpu: usize) -> io::Result<()> {
    let allowed = allowed_cpus()?;
    if !allowed.contains(&cpu) {
        let list: Vec<String> = allowed.iter().map(usize::to_string).collect();
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "CPU {cpu} is not available to rvsd (it may use {})",
                list.join(",")
            ),
        ));
    }
    // SAFETY: cpu_set_t is plain old data; CPU_SET stays within it (cpu is below
    // CPU_SETSIZE, as every CPU allowed_cpus returns).
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        // pid 0: the calling thread.
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// The CPUs the calling thread may run on (its affinity), in increasing order.
pub fn allowed_cpus() -> io::Result<Vec<usize>> {
    // SAFETY: cpu_set_t is plain old data; the CPU_* helpers stay within it.
    unsafe {
        let mut allowed: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut allowed) != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok((0..libc::CPU_SETSIZE as usize)
            .filter(|c| libc::CPU_ISSET(*c, &allowed))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: Duration = Duration::from_micros(100);

    #[test]
    fn sparse_traffic_never_polls() {
        let mut w = PollWindow::new(PollMode::Adaptive { max: MAX });
        let t0 = Instant::now();
        assert!(!w.polling(t0));
        // One burst a millisecond: the gap is over the bound, so the thread always sleeps.
        for i in 0..5u32 {
            let t = t0 + Duration::from_millis(u64::from(i));
            w.traffic(t);
            assert!(!w.polling(t + Duration::from_micros(1)), "burst {i}");
        }
    }

    #[test]
    fn close_turns_poll_for_twice_the_gap_up_to_the_bound() {
        let mut w = PollWindow::new(PollMode::Adaptive { max: MAX });
        let t0 = Instant::now();
        w.traffic(t0);
        let t1 = t0 + Duration::from_micros(30);
        w.traffic(t1);
        assert!(w.polling(t1 + Duration::from_micros(59)));
        assert!(!w.polling(t1 + Duration::from_micros(61)));
        // A gap of 80 µs: the window is capped at the bound.
        let t2 = t1 + Duration::from_micros(80);
        w.traffic(t2);
        assert!(w.polling(t2 + Duration::from_micros(99)));
        assert!(!w.polling(t2 + Duration::from_micros(101)));
        // A long pause closes the window again.
        let t3 = t2 + Duration::from_millis(5);
        w.traffic(t3);
        assert!(!w.polling(t3 + Duration::from_micros(1)));
    }

    #[test]
    fn zero_bound_is_purely_event_driven_and_busy_always_polls() {
        let mut w = PollWindow::new(PollMode::Adaptive {
            max: Duration::ZERO,
        });
        let t0 = Instant::now();
        w.traffic(t0);
        w.traffic(t0 + Duration::from_micros(1));
        assert!(!w.polling(t0 + Duration::from_micros(1)));
        let b = PollWindow::new(PollMode::Busy);
        assert!(b.polling(t0));
        assert!(b.polling(t0 + Duration::from_secs(10)));
    }
}
