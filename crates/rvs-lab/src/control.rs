//! The lab's view of rvsd: typed calls over the control socket, through the same client
//! as the `rvs` CLI ([`rvs_api::client`]).

use rvs_api::client::{self, ClientError};
use rvs_api::{ApiError, BridgeInfo, Reply, Request, Response};
use std::fmt;
use std::path::{Path, PathBuf};

/// Seconds a control request may take.
pub const CONTROL_TIMEOUT_SECS: u64 = 10;

/// Why a request to rvsd failed.
#[derive(Debug)]
pub enum ControlError {
    /// rvsd could not be asked (not running, stale socket, timeout, garbage reply).
    Unreachable(ClientError),
    /// rvsd refused the request; `what` says what the lab was doing.
    Refused { what: String, error: ApiError },
    /// rvsd answered with a reply of the wrong kind.
    Unexpected { expected: &'static str, got: String },
}

impl fmt::Display for ControlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ControlError::Unreachable(e) => write!(f, "{e}"),
            ControlError::Refused { what, error } => {
                write!(f, "rvsd refused to {what}: {}", error.message)
            }
            ControlError::Unexpected { expected, got } => write!(
                f,
                "unexpected reply from rvsd: expected '{expected}', got '{got}'"
            ),
        }
    }
}

impl std::error::Error for ControlError {}

/// Where rvsd is: its run directory (socket `RUN_DIR/rvsd.sock`), and the timeout.
#[derive(Debug, Clone)]
pub struct Control {
    run_dir: PathBuf,
    timeout_secs: u64,
}

impl Control {
    pub fn new(run_dir: impl Into<PathBuf>) -> Control {
        Control {
            run_dir: run_dir.into(),
            timeout_secs: CONTROL_TIMEOUT_SECS,
        }
    }

    /// The same, with another socket timeout (seconds, at least 1).
    pub fn with_timeout(mut self, secs: u64) -> Control {
        self.timeout_secs = secs.max(1);
        self
    }

    pub fn run_dir(&self) -> &Path {
        &self.run_dir
    }

    /// Sends `request`; `what` describes it for a refusal ("add bridge x").
    pub fn call(&self, what: &str, request: Request) -> Result<Response, ControlError> {
        match client::request(&self.run_dir, self.timeout_secs, request) {
            Ok(Reply::Ok(r)) => Ok(r),
            Ok(Reply::Error(error)) => Err(ControlError::Refused {
                what: what.to_string(),
                error,
            }),
            Err(e) => Err(ControlError::Unreachable(e)),
        }
    }

    /// Whether rvsd answers a ping; its pid if so.
    pub fn ping(&self) -> Result<u32, ControlError> {
        match self.call("answer a ping", Request::Ping)? {
            Response::Pong { pid, .. } => Ok(pid),
            other => Err(unexpected("pong", &other)),
        }
    }

    /// `show`: every bridge with its ports.
    pub fn show(&self) -> Result<Vec<BridgeInfo>, ControlError> {
        match self.call("show its configuration", Request::Show)? {
            Response::Show { bridges } => Ok(bridges),
            other => Err(unexpected("show", &other)),
        }
    }

    /// A change request that answers `done`.
    pub fn change(&self, what: &str, request: Request) -> Result<(), ControlError> {
        match self.call(what, request)? {
            Response::Done => Ok(()),
            other => Err(unexpected("done", &other)),
        }
    }
}

pub(crate) fn unexpected(expected: &'static str, got: &Response) -> ControlError {
    // The wire tag, without naming every variant (the protocol grows).
    let got = serde_json::to_value(got)
        .ok()
        .and_then(|v| v.get("kind").and_then(|k| k.as_str()).map(str::to_string))
        .unwrap_or_else(|| "?".to_string());
    ControlError::Unexpected { expected, got }
}
