//! `rvs`: the command-line client of the rvs virtual switch daemon `rvsd`.
//!
//! * [`cli`]: clap definitions and conversion of parsed arguments into requests;
//! * [`client`]: the blocking control-socket client;
//! * [`format`]: text and JSON rendering of responses;
//! * [`lab`]: `rvs lab`, whole virtual networks from a topology file (on `rvs-lab`);
//! * [`openflow`]: the OpenFlow verbs (`add-flow`, `dump-flows`, groups, meters,
//!   controllers, `trace`) in ovs-ofctl syntax (on `rvs-ofctl`).
//!
//! [`run`] ties them together; `main` only calls it.

pub mod cli;
pub mod client;
pub mod format;
pub mod lab;
pub mod openflow;

use clap::{CommandFactory, Parser};
use cli::{Cli, Command};
use client::ClientError;
use format::DaemonVersion;
use rvs_api::{ApiError, Reply, Request, Response};
use std::ffi::OsString;
use std::fmt;
use std::io::Write;

/// Success.
pub const EXIT_OK: i32 = 0;
/// rvsd refused the request (its message is printed).
pub const EXIT_REFUSED: i32 = 1;
/// Usage error: bad arguments or values, detected before contacting rvsd.
pub const EXIT_USAGE: i32 = 2;
/// rvsd is not reachable, or its answer could not be used.
pub const EXIT_UNREACHABLE: i32 = 3;

/// Why a command failed; `Display` is the one line printed after `rvs: `.
#[derive(Debug)]
pub enum Failure {
    /// Invalid arguments (exit 2).
    Usage(String),
    /// The daemon refused (exit 1).
    Refused(ApiError),
    /// The daemon could not be asked or answered nonsense (exit 3).
    Daemon(ClientError),
    /// `rvs lab` failed; `code` is its exit code (see [`lab`]).
    Lab { code: i32, message: String },
    /// `rvs lab exec`: the command exited with this status (nothing more to print).
    Exit(i32),
    /// The switch answered an OpenFlow message with `OFPT_ERROR` (exit 1):
    /// `BAD_MATCH/BAD_PREREQ: refused: ...`.
    OpenFlow(String),
}

impl Failure {
    pub fn exit_code(&self) -> i32 {
        match self {
            Failure::Usage(_) => EXIT_USAGE,
            Failure::Refused(_) | Failure::OpenFlow(_) => EXIT_REFUSED,
            Failure::Daemon(_) => EXIT_UNREACHABLE,
            Failure::Lab { code, .. } => *code,
            Failure::Exit(code) => *code,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Usage(m) => f.write_str(m),
            // The daemon's message is printed as is, kept on one line.
            Failure::Refused(e) => f.write_str(&e.message.replace(['\n', '\r'], " ")),
            Failure::Daemon(e) => write!(f, "{e}"),
            Failure::Lab { message, .. } => f.write_str(message),
            Failure::Exit(code) => write!(f, "the command exited with status {code}"),
            Failure::OpenFlow(m) => write!(f, "OpenFlow error: {m}"),
        }
    }
}

impl std::error::Error for Failure {}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Self {
        Failure::Daemon(e)
    }
}

/// Runs a parsed command line and returns what to print on stdout.
pub fn execute(cli: &Cli) -> Result<String, Failure> {
    if let Command::Lab(args) = &cli.command {
        return lab::execute(&cli.run_dir, cli.format, cli.timeout, args);
    }
    if let Some(plan) = openflow::plan(&cli.command).map_err(Failure::Usage)? {
        // Large `add-flows` files go in several requests (each under rvsd's request size
        // limit, each ending with the barrier), in order; the first error stops the rest.
        let mut out = String::new();
        for part in openflow::split_plan(&plan) {
            match client::request(&cli.run_dir, cli.timeout, part.request.clone())? {
                Reply::Ok(response) => {
                    out += &openflow::render(&cli.command, &part, &response, cli.format)?
                }
                Reply::Error(e) => return Err(Failure::Refused(e)),
            }
        }
        return Ok(out);
    }
    let request = cli::to_request(&cli.command).map_err(Failure::Usage)?;
    if cli.command == Command::Version {
        return Ok(format::version(cli.format, &ask_version(cli)));
    }
    match client::request(&cli.run_dir, cli.timeout, request)? {
        Reply::Ok(response) => Ok(format::render(&cli.command, &response, cli.format)?),
        Reply::Error(e) => Err(Failure::Refused(e)),
    }
}

fn ask_version(cli: &Cli) -> DaemonVersion {
    match client::request(&cli.run_dir, cli.timeout, Request::Ping) {
        Ok(Reply::Ok(Response::Pong {
            daemon_version,
            protocol,
            pid,
        })) => DaemonVersion::Answered {
            daemon_version,
            protocol,
            pid,
        },
        Ok(Reply::Ok(other)) => DaemonVersion::Unreachable(
            ClientError::Unexpected {
                expected: "pong",
                got: format::response_kind(&other),
            }
            .to_string(),
        ),
        Ok(Reply::Error(e)) => DaemonVersion::Refused(e),
        Err(e) => DaemonVersion::Unreachable(e.to_string()),
    }
}

/// The verb the user typed, if any: the first argument naming a subcommand.
fn typed_verb(args: &[OsString]) -> Option<String> {
    let cmd = Cli::command();
    args.iter()
        .skip(1)
        .filter_map(|a| a.to_str())
        .find_map(|a| {
            cmd.get_subcommands()
                .find(|s| s.get_name() == a)
                .map(|s| s.get_name().to_string())
        })
}

/// Parses `args` (including the program name), runs the command, prints its output
/// and returns the process exit code. Errors are one line on stderr: `rvs: ...`.
pub fn run<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind as K;
            return match e.kind() {
                K::DisplayHelp
                | K::DisplayVersion
                | K::DisplayHelpOnMissingArgumentOrSubcommand => {
                    let _ = e.print();
                    e.exit_code()
                }
                _ => {
                    eprintln!(
                        "rvs: {}",
                        cli::clap_error_line(&e, typed_verb(&args).as_deref())
                    );
                    EXIT_USAGE
                }
            };
        }
    };
    match execute(&cli) {
        Ok(out) => {
            let mut stdout = std::io::stdout().lock();
            // A closed pipe (`rvs show | head -1`) is not an error worth reporting.
            let _ = stdout
                .write_all(out.as_bytes())
                .and_then(|()| stdout.flush());
            EXIT_OK
        }
        Err(Failure::Exit(code)) => code,
        Err(f) => {
            eprintln!("rvs: {f}");
            f.exit_code()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rvs_api::ErrorKind;

    #[test]
    fn failures_map_to_exit_codes_and_lines() {
        let f = Failure::Refused(ApiError::new(
            ErrorKind::NoSuchBridge,
            "no bridge named 'br9'",
        ));
        assert_eq!(f.exit_code(), EXIT_REFUSED);
        assert_eq!(f.to_string(), "no bridge named 'br9'");
        let f = Failure::Refused(ApiError::new(ErrorKind::System, "two\nlines"));
        assert_eq!(f.to_string(), "two lines");
        assert_eq!(Failure::Usage("x".into()).exit_code(), EXIT_USAGE);
        let f = Failure::OpenFlow("BAD_MATCH/BAD_PREREQ: refused: tp_dst=80,actions=drop".into());
        assert_eq!(f.exit_code(), EXIT_REFUSED);
        assert_eq!(
            f.to_string(),
            "OpenFlow error: BAD_MATCH/BAD_PREREQ: refused: tp_dst=80,actions=drop"
        );
        let f = Failure::from(ClientError::Closed {
            socket: "/s".into(),
        });
        assert_eq!(f.exit_code(), EXIT_UNREACHABLE);
    }

    #[test]
    fn usage_errors_are_detected_before_connecting() {
        // The run dir does not exist: were the daemon contacted, this would be exit 3.
        let cli = Cli::try_parse_from([
            "rvs",
            "--run-dir",
            "/nonexistent/rvs-test",
            "add-port",
            "br0",
            "p",
            "--tag",
            "0",
        ])
        .unwrap();
        let f = execute(&cli).unwrap_err();
        assert_eq!(f.exit_code(), EXIT_USAGE);
        assert_eq!(f.to_string(), "invalid VLAN 0: outside 1-4094");
        // OpenFlow syntax errors too, with the caret.
        let cli = Cli::try_parse_from([
            "rvs",
            "--run-dir",
            "/nonexistent/rvs-test",
            "add-flow",
            "br0",
            "ip,nw_src=10.0.0.300,actions=drop",
        ])
        .unwrap();
        let f = execute(&cli).unwrap_err();
        assert_eq!(f.exit_code(), EXIT_USAGE);
        assert_eq!(
            f.to_string(),
            "'10.0.0.300' is not an IPv4 address\n  ip,nw_src=10.0.0.300,actions=drop\n            ^^^^^^^^^^"
        );
        // A valid flow gets as far as connecting.
        let cli = Cli::try_parse_from([
            "rvs",
            "--run-dir",
            "/nonexistent/rvs-test",
            "add-flow",
            "br0",
            "ip,actions=drop",
        ])
        .unwrap();
        assert_eq!(execute(&cli).unwrap_err().exit_code(), EXIT_UNREACHABLE);
    }

    #[test]
    fn typed_verb_is_found() {
        let args: Vec<OsString> = ["rvs", "--format", "json", "set-port", "br0"]
            .iter()
            .map(OsString::from)
            .collect();
        assert_eq!(typed_verb(&args).as_deref(), Some("set-port"));
        let args: Vec<OsString> = ["rvs", "--bogus"].iter().map(OsString::from).collect();
        assert_eq!(typed_verb(&args), None);
    }
}
