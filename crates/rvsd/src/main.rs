//! `rvsd`: the rvs virtual switch daemon.
//!
//! ```text
//!  rvs CLI ──JSON line──► control socket (tokio) ──► State::handle ──► config DB (atomic)
//!                                                        │
//!                                                        └─ closures ─► datapath worker thread
//!                                                                        (epoll, ports, bridges)
//! ```

mod config;
mod server;
mod state;

use anyhow::Result;
use clap::Parser;
use std::path::PathBuf;

/// The rvs virtual switch daemon.
#[derive(Debug, Parser)]
#[command(name = "rvsd", version, about)]
struct Args {
    /// Directory for the control socket (rvsd.sock) and the lock file.
    #[arg(long, value_name = "DIR", default_value = rvs_api::DEFAULT_RUN_DIR)]
    run_dir: PathBuf,
    /// Configuration database, rewritten atomically after every change.
    #[arg(long, value_name = "FILE", default_value = rvs_api::DEFAULT_DB)]
    db: PathBuf,
    /// How datapath threads wait for traffic: `adaptive` sleeps in epoll but keeps polling
    /// briefly after traffic when the next frame looks near (request/response exchanges);
    /// `busy` never sleeps (one core per thread, lowest latency).
    #[arg(long, value_enum, default_value_t = PollModeArg::Adaptive)]
    poll_mode: PollModeArg,
    /// Longest adaptive polling window: after forwarding frames, a thread keeps polling
    /// for twice the gap since the previous frames when that is at most this (0: always
    /// sleep in epoll).
    #[arg(long, value_name = "USECS", default_value_t = 100, value_parser = clap::value_parser!(u32).range(0..=1_000_000))]
    busy_poll_us: u32,
    /// Datapath threads (default: one per CPU the process may run on). Each port receives
    /// on one thread (a multi-queue tap on up to one per queue), the least busy when it is
    /// attached; the others transmit to it directly. `rvs dp-threads` tells which.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=64))]
    dp_threads: Option<u32>,
    /// Pin datapath threads to CPUs: thread i runs on the i-th CPU of the list (cycling
    /// when there are more threads), e.g. `1` or `2-3,6`. Useful with `--poll-mode busy`.
    #[arg(long, value_name = "CPUS", value_parser = parse_cpu_list)]
    dp_cpus: Option<CpuList>,
    /// How ports share their frames between datapath threads. `flow`: a port receives on
    /// one thread (with `add-port --queues N`, on up to N threads by flow hash). `cpu`:
    /// each thread is pinned to its own CPU (of --dp-cpus, else every CPU rvsd may use; at
    /// most one thread per CPU) and every system and tap port receives on all threads (a
    /// tap gets a queue per thread): a burst of frames is switched on the CPU that sent
    /// it, without waking another CPU (lower latency without busy polling); a flow moves
    /// to another thread only once its old thread has read every frame it left there, so
    /// its frames stay in order.
    #[arg(long, value_enum, default_value_t = RxSteeringArg::Flow)]
    rx_steering: RxSteeringArg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum RxSteeringArg {
    Flow,
    Cpu,
}

/// Every port holds a few descriptors (sockets, queues, epoll sets): lift the soft limit
/// on open files to the hard one, as far as the process may.
fn raise_fd_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid rlimit struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                tracing::warn!(
                    "cannot raise the open-file limit: {}",
                    std::io::Error::last_os_error()
                );
            }
        }
    }
}

/// CPU numbers, in the order given.
#[derive(Debug, Clone)]
struct CpuList(Vec<usize>);

/// `0`, `1,3`, `2-5,8`: CPU numbers below 1024, no duplicates.
fn parse_cpu_list(s: &str) -> Result<CpuList, String> {
    let mut cpus = Vec::new();
    for part in s.split(',') {
        let num = |t: &str| -> Result<usize, String> {
            t.trim()
                .parse::<usize>()
                .ok()
                .filter(|n| *n < 1024)
                .ok_or_else(|| format!("'{t}' is not a CPU number (0-1023)"))
        };
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (num(a)?, num(b)?);
                if a > b {
                    return Err(format!("range '{part}' runs backwards"));
                }
                cpus.extend(a..=b);
            }
            None => cpus.push(num(part)?),
        }
    }
    let mut seen = cpus.clone();
    seen.sort_unstable();
    seen.dedup();
    if seen.len() != cpus.len() {
        return Err(format!("'{s}' names a CPU twice"));
    }
    Ok(CpuList(cpus))
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum PollModeArg {
    Adaptive,
    Busy,
}

fn main() {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RVS_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    if let Err(e) = run(args) {
        eprintln!("rvsd: {e:#}");
        std::process::exit(1);
    }
}

fn run(args: Args) -> Result<()> {
    // Everything rvsd creates (socket, database, lock) is for its owner only; this also
    // closes the window between bind() and chmod() on the control socket.
    // SAFETY: umask(2) cannot fail.
    unsafe { libc::umask(0o077) };
    raise_fd_limit();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(server::serve(
        args.run_dir,
        args.db,
        match args.poll_mode {
            PollModeArg::Adaptive => rvs_datapath::worker::PollMode::Adaptive {
                max: std::time::Duration::from_micros(u64::from(args.busy_poll_us)),
            },
            PollModeArg::Busy => rvs_datapath::worker::PollMode::Busy,
        },
        args.dp_threads.map(|n| n as usize),
        args.dp_cpus.map(|c| c.0),
        args.rx_steering == RxSteeringArg::Cpu,
    ))
}

#[cfg(test)]
mod tests {
    use super::parse_cpu_list;

    #[test]
    fn cpu_lists_parse_in_order_and_bad_ones_say_why() {
        assert_eq!(parse_cpu_list("1").map(|c| c.0), Ok(vec![1]));
        assert_eq!(parse_cpu_list("2-4,0").map(|c| c.0), Ok(vec![2, 3, 4, 0]));
        for (bad, says) in [
            ("", "not a CPU number"),
            ("a", "not a CPU number"),
            ("1024", "not a CPU number"),
            ("3-1", "runs backwards"),
            ("1,1", "twice"),
            ("0-2,2", "twice"),
        ] {
            let e = parse_cpu_list(bad).expect_err(bad);
            assert!(e.contains(says), "{bad}: {e}");
        }
    }
}
