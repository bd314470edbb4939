//! The datapath worker thread.
//!
//! One thread owns the [`Datapath`] and every port in it. It sleeps in `epoll_wait` on the
//! ports' descriptors and an eventfd; the control plane never touches datapath state
//! directly but sends closures ([`WorkerHandle::call`]) that the thread runs between batches,
//! so the packet path takes no locks. A ready port gets a few batches per wakeup, which keeps
//! one busy port from starving the others. About once a second the thread ages out MAC
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
/// Default time the worker keeps polling without sleeping after the last frame it forwarded:
/// none (purely event-driven). A window only helps when it is longer than the gap between
/// frames: with ping every 1 ms through veths, 100 µs gave nothing (the reply is already
/// queued when `sendmmsg` returns, since the receiver runs in our softirq), while 2000 µs
/// kept the thread polling and cut RTT p50 from about 110-230 µs to 35 µs, at the price of
/// a core spinning while any traffic flows (see benches/README.md).
pub const DEFAULT_BUSY_POLL: Duration = Duration::ZERO;

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

    pub fn add_port(
        &mut self,
        bridge: BridgeId,
        io: Box<dyn Port>,
        vlan: &VlanSpec,
    ) -> io::Result<PortId> {
        let fd = io.poll_fd();
        let id = self.dp.add_port(bridge, io, vlan).ok_or_else(|| {
            io::Error::new(io::ErrorKind::NotFound, "no such bridge in the datapath")
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
    /// A worker with the default adaptive busy-poll window.
    pub fn spawn(name: &str) -> io::Result<Self> {
        Self::spawn_with(name, DEFAULT_BUSY_POLL)
    }

    /// A worker that, after forwarding traffic, keeps polling for `busy_poll` before it goes
    /// back to sleeping in epoll (zero: always sleep).
    pub fn spawn_with(name: &str, busy_poll: Duration) -> io::Result<Self> {
        let epoll = Epoll::new()?;
        let wake = Arc::new(eventfd()?);
        epoll.add(wake.as_raw_fd(), WAKE_TOKEN)?;
        let (tx, rx) = mpsc::channel::<Job>();
        let stop = Arc::new(AtomicBool::new(false));
        let worker = Worker {
            dp: Datapath::new(),
            epoll,
            failures: Vec::new(),
        };
        let (wake2, stop2) = (wake.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || run(worker, rx, wake2, stop2, busy_poll))?;
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
    busy_poll: Duration,
) {
    // SAFETY: epoll_event is plain old data.
    let mut events: Vec<libc::epoll_event> = vec![libc::epoll_event { events: 0, u64: 0 }; 64];
    let mut ready: Vec<u64> = Vec::with_capacity(64);
    let mut last_housekeeping = Instant::now();
    // Adaptive busy polling: right after traffic, poll without sleeping for a short window,
    // so the reply to what was just forwarded is picked up without a wakeup's latency.
    let mut last_traffic: Option<Instant> = None;
    while !stop.load(Ordering::SeqCst) {
        let spinning = last_traffic.is_some_and(|t| t.elapsed() < busy_poll);
        ready.clear();
        ready.extend(
            w.epoll
                .wait(&mut events, if spinning { 0 } else { 500 })
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
            last_traffic = Some(Instant::now());
        } else if !spinning {
            last_traffic = None;
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
