//! The control socket, the run-directory lock, signals and periodic housekeeping.

use crate::config::Config;
use crate::state::{OfInput, State};
use anyhow::{bail, Context, Result};
use rvs_api::{ApiError, Envelope, ErrorKind, Reply, LOCK_NAME, PROTOCOL_VERSION, SOCKET_NAME};
use std::fs;
use std::io::{Read as _, Seek, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::signal::unix::{signal, SignalKind};

/// Longest request line accepted; anything longer is a protocol error.
const MAX_REQUEST_BYTES: usize = 1 << 20;
/// How often detached ports are retried and failures collected.
const RETRY_INTERVAL: Duration = Duration::from_secs(2);
/// Controller events and packet-ins waiting for the control thread; a full queue drops
/// packet-ins (counted on the ingress port as `controller_queue_full`).
const OF_QUEUE: usize = 4096;
/// Most inputs handled in one batch.
const OF_BATCH: usize = 256;
/// OpenFlow housekeeping: flow timeouts, counters, fail-open, log sync.
const OF_TICK: Duration = Duration::from_millis(250);

/// Holds the run directory's lock for the daemon's lifetime.
struct RunDirLock {
    _file: fs::File,
}

fn lock_run_dir(dir: &Path) -> Result<RunDirLock> {
    fs::create_dir_all(dir)
        .with_context(|| format!("cannot create run directory {}", dir.display()))?;
    let path = dir.join(LOCK_NAME);
    let mut file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .with_context(|| format!("cannot open lock file {}", path.display()))?;
    // SAFETY: flock on a descriptor we hold.
    let r = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if r != 0 {
        let mut pid = String::new();
        let _ = file.read_to_string(&mut pid);
        bail!(
            "another rvsd (pid {}) is already running with run directory {}",
            pid.trim(),
            dir.display()
        );
    }
    file.set_len(0)?;
    file.rewind()?;
    writeln!(file, "{}", std::process::id())?;
    Ok(RunDirLock { _file: file })
}

fn bind_socket(dir: &Path) -> Result<(UnixListener, PathBuf)> {
    let path = dir.join(SOCKET_NAME);
    // We hold the lock, so a socket file left here belongs to a dead daemon.
    match fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(e).with_context(|| format!("cannot remove stale socket {}", path.display()))
        }
    }
    let listener = UnixListener::bind(&path)
        .with_context(|| format!("cannot bind control socket {}", path.display()))?;
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600))?;
    Ok((listener, path))
}

pub async fn serve(
    run_dir: PathBuf,
    db: PathBuf,
    poll_mode: rvs_datapath::worker::PollMode,
    dp_threads: Option<usize>,
    dp_cpus: Option<Vec<usize>>,
    steer_by_cpu: bool,
) -> Result<()> {
    let lock = lock_run_dir(&run_dir)?;
    let config = Config::load(&db)?;
    let (dp_threads, pins) = thread_placement(dp_threads, dp_cpus, steer_by_cpu)?;
    let mut workers = Vec::with_capacity(dp_threads);
    for t in 0..dp_threads.max(1) {
        workers.push(
            rvs_datapath::worker::WorkerHandle::spawn_with(&format!("rvs-dp{t}"), poll_mode)
                .context("cannot start a datapath thread")?,
        );
    }
    if let Some(cpus) = &pins {
        for (t, w) in workers.iter().enumerate() {
            let cpu = cpus[t % cpus.len()];
            w.pin(cpu)
                .with_context(|| format!("cannot pin datapath thread rvs-dp{t} to CPU {cpu}"))?;
        }
    }
    let steer_cpus = if steer_by_cpu { pins } else { None };
    let n_bridges = config.bridges.len();
    tracing::info!(threads = workers.len(), "datapath threads started");
    let (of_tx, mut of_rx) = tokio::sync::mpsc::channel::<OfInput>(OF_QUEUE);
    let state =
        tokio::task::spawn_blocking(move || State::new(config, db, workers, of_tx, steer_cpus))
            .await?;
    let state = Arc::new(Mutex::new(Some(state)));
    let (listener, sock_path) = bind_socket(&run_dir)?;
    tracing::info!(socket = %sock_path.display(), bridges = n_bridges, "rvsd ready");

    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sigint = signal(SignalKind::interrupt())?;
    let mut retry = tokio::time::interval(RETRY_INTERVAL);
    retry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut of_tick = tokio::time::interval(OF_TICK);
    of_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            input = of_rx.recv() => {
                let Some(first) = input else { continue };
                // Everything already queued goes in one batch (one log write, one publish).
                let mut batch = vec![first];
                while batch.len() < OF_BATCH {
                    match of_rx.try_recv() {
                        Ok(i) => batch.push(i),
                        Err(_) => break,
                    }
                }
                let st = state.clone();
                let _ = tokio::task::spawn_blocking(move || {
                    if let Some(s) = lock_state(&st).as_mut() {
                        s.of_input(batch);
                    }
                }).await;
            }
            _ = of_tick.tick() => {
                let st = state.clone();
                let _ = tokio::task::spawn_blocking(move || {
                    if let Some(s) = lock_state(&st).as_mut() {
                        s.of_tick();
                    }
                }).await;
            }
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    tokio::spawn(serve_connection(stream, state.clone()));
                }
                Err(e) => tracing::warn!("accept failed: {e}"),
            },
            _ = retry.tick() => {
                let st = state.clone();
                let _ = tokio::task::spawn_blocking(move || {
                    if let Some(s) = lock_state(&st).as_mut() {
                        s.retry_ports();
                    }
                }).await;
            }
            _ = sigterm.recv() => { tracing::info!("SIGTERM: shutting down"); break; }
            _ = sigint.recv() => { tracing::info!("SIGINT: shutting down"); break; }
        }
    }
    drop(listener);
    let _ = fs::remove_file(&sock_path);
    let st = state.clone();
    tokio::task::spawn_blocking(move || {
        if let Some(s) = lock_state(&st).take() {
            s.shutdown();
        }
    })
    .await?;
    drop(lock);
    tracing::info!("rvsd stopped");
    Ok(())
}

/// How many datapath threads to run and the CPUs to pin them to (thread t on the t-th,
/// cycling). CPU steering pins one thread per CPU: of `dp_cpus`, else of every CPU the
/// process may use; more threads than CPUs is refused.
fn thread_placement(
    dp_threads: Option<usize>,
    dp_cpus: Option<Vec<usize>>,
    steer_by_cpu: bool,
) -> Result<(usize, Option<Vec<usize>>)> {
    let dp_cpus = dp_cpus.filter(|c| !c.is_empty());
    if !steer_by_cpu {
        let threads = dp_threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get().min(64)));
        return Ok((threads, dp_cpus));
    }
    let cpus = match dp_cpus {
        Some(c) => c,
        None => rvs_datapath::worker::allowed_cpus()
            .context("cannot read the CPUs rvsd may use")?
            .into_iter()
            .take(64)
            .collect(),
    };
    let threads = dp_threads.unwrap_or(cpus.len()).max(1);
    if threads > cpus.len() {
        anyhow::bail!(
            "--rx-steering cpu runs at most one datapath thread per CPU: {threads} threads, {} CPUs ({})",
            cpus.len(),
            cpus.iter().map(usize::to_string).collect::<Vec<_>>().join(",")
        );
    }
    Ok((threads, Some(cpus[..threads].to_vec())))
}

fn lock_state(st: &Mutex<Option<State>>) -> std::sync::MutexGuard<'_, Option<State>> {
    st.lock().unwrap_or_else(|e| e.into_inner())
}

async fn serve_connection(stream: UnixStream, state: Arc<Mutex<Option<State>>>) {
    let (rd, mut wr) = stream.into_split();
    let mut lines = BufReader::new(rd);
    loop {
        let mut line = Vec::new();
        let n = match (&mut lines)
            .take(MAX_REQUEST_BYTES as u64 + 1)
            .read_until(b'\n', &mut line)
            .await
        {
            Ok(n) => n,
            Err(_) => return,
        };
        if n == 0 {
            return;
        }
        let reply = if line.len() > MAX_REQUEST_BYTES {
            Reply::Error(ApiError::new(ErrorKind::Protocol, "request too long"))
        } else {
            let st = state.clone();
            match tokio::task::spawn_blocking(move || handle_line(&line, &st)).await {
                Ok(r) => r,
                Err(_) => Reply::Error(ApiError::new(
                    ErrorKind::System,
                    "internal error while handling the request",
                )),
            }
        };
        let mut out = serde_json::to_vec(&reply).unwrap_or_else(|_| {
            b"{\"error\":{\"kind\":\"system\",\"message\":\"cannot encode reply\"}}".to_vec()
        });
        out.push(b'\n');
        if wr.write_all(&out).await.is_err() {
            return;
        }
        if line_was_oversized(&reply) {
            return;
        }
    }
}

fn line_was_oversized(reply: &Reply) -> bool {
    matches!(reply, Reply::Error(e) if e.kind == ErrorKind::Protocol && e.message == "request too long")
}

fn handle_line(line: &[u8], state: &Mutex<Option<State>>) -> Reply {
    let env: Envelope = match serde_json::from_slice(line) {
        Ok(e) => e,
        Err(e) => {
            // Tell an old or new client apart from garbage.
            let version = serde_json::from_slice::<serde_json::Value>(line)
                .ok()
                .and_then(|v| v.get("version")?.as_u64());
            let msg = match version {
                Some(v) if v != u64::from(PROTOCOL_VERSION) => {
                    format!("protocol version {v} is not supported (rvsd speaks version {PROTOCOL_VERSION}); use an rvs CLI of the same release")
                }
                _ => format!("malformed request: {e}"),
            };
            return Reply::Error(ApiError::new(ErrorKind::Protocol, msg));
        }
    };
    if env.version != PROTOCOL_VERSION {
        return Reply::Error(ApiError::new(
            ErrorKind::Protocol,
            format!(
                "protocol version {} is not supported (rvsd speaks version {PROTOCOL_VERSION}); use an rvs CLI of the same release",
                env.version
            ),
        ));
    }
    let mut guard = lock_state(state);
    let Some(st) = guard.as_mut() else {
        return Reply::Error(ApiError::new(ErrorKind::System, "rvsd is shutting down"));
    };
    match st.handle(env.request) {
        Ok(r) => Reply::Ok(r),
        Err(e) => Reply::Error(e),
    }
}

#[cfg(test)]
mod tests {
    use super::thread_placement;

    #[test]
    fn cpu_steering_pins_one_thread_per_cpu() {
        let placed = |t, c: Option<Vec<usize>>, s| thread_placement(t, c, s).expect("placed");
        assert_eq!(placed(None, Some(vec![3, 1]), true), (2, Some(vec![3, 1])));
        assert_eq!(placed(Some(1), Some(vec![3, 1]), true), (1, Some(vec![3])));
        let (n, pins) = placed(None, None, true);
        assert_eq!(pins.map(|p| p.len()), Some(n), "every CPU rvsd may use");
        // Flow steering: threads and pins as given (pins cycle).
        assert_eq!(placed(Some(3), Some(vec![0]), false), (3, Some(vec![0])));
        assert_eq!(placed(Some(2), None, false), (2, None));
        let e = thread_placement(Some(3), Some(vec![3, 1]), true).expect_err("too many");
        assert!(e.to_string().contains("3 threads, 2 CPUs (3,1)"), "{e}");
    }
}
