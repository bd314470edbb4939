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
    /// Datapath threads (default: one per CPU the process may run on). Each bridge, with all
    /// its ports, is served by one thread (the one with the fewest bridges when it is
    /// created); `rvs show` tells which. Bridges on different threads forward in parallel.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=64))]
    dp_threads: Option<u32>,
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
        args.dp_threads.map_or_else(
            || std::thread::available_parallelism().map_or(1, |n| n.get().min(64)),
            |n| n as usize,
        ),
    ))
}
