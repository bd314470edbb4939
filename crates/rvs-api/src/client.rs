//! Blocking client for rvsd's control socket, used by the `rvs` CLI and by `rvs-lab`.
//!
//! One request is one JSON line ([`crate::Envelope`]); the answer is one JSON line
//! ([`crate::Reply`]). Every failure to talk to the daemon becomes a [`ClientError`]
//! whose `Display` is a single line meant for the user.

use crate::{Envelope, Reply, Request, SOCKET_NAME};
use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Largest reply accepted, in bytes (a full FDB of a million entries fits).
pub const MAX_REPLY_BYTES: u64 = 256 * 1024 * 1024;

/// Path of the control socket inside `run_dir`.
pub fn socket_path(run_dir: &Path) -> PathBuf {
    run_dir.join(SOCKET_NAME)
}

/// Why the daemon could not be asked, or its answer could not be used.
#[derive(Debug)]
pub enum ClientError {
    /// No socket file (or its directory is missing).
    NoSocket { socket: PathBuf, run_dir: PathBuf },
    /// The socket file exists but nothing listens on it (stale socket).
    Refused { socket: PathBuf, run_dir: PathBuf },
    /// The socket is not accessible to this user.
    PermissionDenied { socket: PathBuf },
    /// Any other failure to connect.
    Connect { socket: PathBuf, error: io::Error },
    /// Sending the request failed.
    Send { socket: PathBuf, error: io::Error },
    /// Receiving the reply failed.
    Receive { socket: PathBuf, error: io::Error },
    /// No reply within the timeout.
    Timeout { socket: PathBuf, secs: u64 },
    /// The daemon closed the connection before a full reply line.
    Closed { socket: PathBuf },
    /// The reply line is not a valid [`Reply`].
    Malformed { detail: String },
    /// The reply is valid but does not answer the request sent.
    Unexpected {
        expected: &'static str,
        got: &'static str,
    },
}

/// A path for a one-line message: control characters are escaped.
fn show(path: &Path) -> String {
    let s = path.display().to_string();
    s.chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

/// `path` as one word for a POSIX shell (used in the start hint).
fn shell_word(path: &Path) -> String {
    let s = show(path);
    let safe = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+=:,@%".contains(c));
    if safe {
        s
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hint =
            |run_dir: &Path| format!("start it with: rvsd --run-dir {}", shell_word(run_dir));
        match self {
            ClientError::NoSocket { socket, run_dir } => {
                write!(
                    f,
                    "rvsd is not running (no socket at {}); {}",
                    show(socket),
                    hint(run_dir)
                )
            }
            ClientError::Refused { socket, run_dir } => write!(
                f,
                "rvsd is not running (nothing listens on {}, a stale socket); {}",
                show(socket),
                hint(run_dir)
            ),
            ClientError::PermissionDenied { socket } => write!(
                f,
                "permission denied on {}: the control socket is owner-only; \
                 run rvs as root or as the user that runs rvsd",
                show(socket)
            ),
            ClientError::Connect { socket, error } => {
                write!(f, "cannot connect to rvsd at {}: {error}", show(socket))
            }
            ClientError::Send { socket, error } => {
                write!(
                    f,
                    "cannot send the request to rvsd at {}: {error}",
                    show(socket)
                )
            }
            ClientError::Receive { socket, error } => {
                write!(
                    f,
                    "cannot read the reply of rvsd at {}: {error}",
                    show(socket)
                )
            }
            ClientError::Timeout { socket, secs } => write!(
                f,
                "rvsd did not answer within {secs}s on {} (is it stuck? try a larger --timeout)",
                show(socket)
            ),
            ClientError::Closed { socket } => {
                write!(
                    f,
                    "rvsd closed the connection at {} without answering",
                    show(socket)
                )
            }
            ClientError::Malformed { detail } => write!(f, "malformed reply from rvsd: {detail}"),
            ClientError::Unexpected { expected, got } => {
                write!(
                    f,
                    "unexpected reply from rvsd: expected '{expected}', got '{got}'"
                )
            }
        }
    }
}

impl std::error::Error for ClientError {}

/// Maps an error of `connect()` to the user-facing error.
pub fn connect_error(run_dir: &Path, error: io::Error) -> ClientError {
    let socket = socket_path(run_dir);
    let run_dir = run_dir.to_path_buf();
    match error.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory => {
            ClientError::NoSocket { socket, run_dir }
        }
        io::ErrorKind::ConnectionRefused => ClientError::Refused { socket, run_dir },
        io::ErrorKind::PermissionDenied => ClientError::PermissionDenied { socket },
        _ => ClientError::Connect { socket, error },
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

fn is_hangup(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset | io::ErrorKind::UnexpectedEof
    )
}

/// Parses one reply line.
pub fn parse_reply(line: &[u8]) -> Result<Reply, ClientError> {
    let text = std::str::from_utf8(line).map_err(|e| ClientError::Malformed {
        detail: format!("not UTF-8: {e}"),
    })?;
    serde_json::from_str(text.trim_end()).map_err(|e| ClientError::Malformed {
        detail: e.to_string(),
    })
}

/// A connection to rvsd.
pub struct Client {
    socket: PathBuf,
    timeout_secs: u64,
    writer: UnixStream,
    reader: BufReader<UnixStream>,
}

impl Client {
    /// Connects to `run_dir/rvsd.sock`; reads and writes time out after `timeout_secs`.
    pub fn connect(run_dir: &Path, timeout_secs: u64) -> Result<Client, ClientError> {
        let socket = socket_path(run_dir);
        let stream = UnixStream::connect(&socket).map_err(|e| connect_error(run_dir, e))?;
        let timeout = Some(Duration::from_secs(timeout_secs.max(1)));
        let setup = stream
            .set_read_timeout(timeout)
            .and_then(|()| stream.set_write_timeout(timeout))
            .and_then(|()| stream.try_clone());
        let reader = setup.map_err(|error| ClientError::Connect {
            socket: socket.clone(),
            error,
        })?;
        Ok(Client {
            socket,
            timeout_secs,
            writer: stream,
            reader: BufReader::new(reader),
        })
    }

    /// Path of the socket this client is connected to.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Sends one request and waits for its reply.
    pub fn call(&mut self, request: Request) -> Result<Reply, ClientError> {
        let mut line =
            serde_json::to_string(&Envelope::new(request)).map_err(|e| ClientError::Malformed {
                detail: format!("cannot encode request: {e}"),
            })?;
        line.push('\n');
        if let Err(error) = self
            .writer
            .write_all(line.as_bytes())
            .and_then(|()| self.writer.flush())
        {
            let socket = self.socket.clone();
            return Err(if is_timeout(&error) {
                ClientError::Timeout {
                    socket,
                    secs: self.timeout_secs,
                }
            } else if is_hangup(&error) {
                ClientError::Closed { socket }
            } else {
                ClientError::Send { socket, error }
            });
        }

        let mut buf = Vec::new();
        let mut limited = (&mut self.reader).take(MAX_REPLY_BYTES + 1);
        match limited.read_until(b'\n', &mut buf) {
            Ok(_) => {}
            Err(error) => {
                let socket = self.socket.clone();
                return Err(if is_timeout(&error) {
                    ClientError::Timeout {
                        socket,
                        secs: self.timeout_secs,
                    }
                } else if is_hangup(&error) {
                    ClientError::Closed { socket }
                } else {
                    ClientError::Receive { socket, error }
                });
            }
        }
        if buf.len() as u64 > MAX_REPLY_BYTES {
            return Err(ClientError::Malformed {
                detail: format!("reply longer than {MAX_REPLY_BYTES} bytes"),
            });
        }
        if buf.last() != Some(&b'\n') {
            // EOF: nothing at all, or a truncated line.
            if buf.iter().all(u8::is_ascii_whitespace) {
                return Err(ClientError::Closed {
                    socket: self.socket.clone(),
                });
            }
            return Err(ClientError::Malformed {
                detail: "reply line cut short (no newline)".to_string(),
            });
        }
        parse_reply(&buf)
    }
}

/// Connects, sends `request` and returns the daemon's reply.
pub fn request(run_dir: &Path, timeout_secs: u64, request: Request) -> Result<Reply, ClientError> {
    Client::connect(run_dir, timeout_secs)?.call(request)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ApiError, ErrorKind, Response};
    use std::os::unix::net::UnixListener;

    #[test]
    fn connect_errors_map_to_clear_messages() {
        let dir = Path::new("/run/rvs");
        let e = connect_error(dir, io::Error::from(io::ErrorKind::NotFound));
        assert_eq!(
            e.to_string(),
            "rvsd is not running (no socket at /run/rvs/rvsd.sock); start it with: rvsd --run-dir /run/rvs"
        );
        let e = connect_error(dir, io::Error::from(io::ErrorKind::ConnectionRefused));
        assert!(e
            .to_string()
            .starts_with("rvsd is not running (nothing listens on /run/rvs/rvsd.sock"));
        assert!(e
            .to_string()
            .ends_with("start it with: rvsd --run-dir /run/rvs"));
        let e = connect_error(dir, io::Error::from(io::ErrorKind::PermissionDenied));
        assert_eq!(
            e.to_string(),
            "permission denied on /run/rvs/rvsd.sock: the control socket is owner-only; \
             run rvs as root or as the user that runs rvsd"
        );
        let e = connect_error(
            Path::new("/tmp/my dir"),
            io::Error::from(io::ErrorKind::NotFound),
        );
        assert!(
            e.to_string().ends_with("rvsd --run-dir '/tmp/my dir'"),
            "{e}"
        );
        let e = connect_error(dir, io::Error::other("odd"));
        assert_eq!(
            e.to_string(),
            "cannot connect to rvsd at /run/rvs/rvsd.sock: odd"
        );
    }

    #[test]
    fn replies_parse_or_give_one_line() {
        let ok = parse_reply(br#"{"ok":{"kind":"done"}}"#).unwrap();
        assert_eq!(ok, Reply::Ok(Response::Done));
        let err = serde_json::to_string(&Reply::Error(ApiError::new(
            ErrorKind::Protocol,
            "bad version",
        )))
        .unwrap();
        assert_eq!(
            parse_reply(err.as_bytes()).unwrap(),
            Reply::Error(ApiError::new(ErrorKind::Protocol, "bad version"))
        );
        let bad = parse_reply(b"hello\n").unwrap_err();
        let msg = bad.to_string();
        assert!(msg.starts_with("malformed reply from rvsd: "), "{msg}");
        assert!(!msg.contains('\n'));
        assert!(parse_reply(&[0xff, b'\n'])
            .unwrap_err()
            .to_string()
            .contains("not UTF-8"));
    }

    fn temp_dir(tag: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("rvs-client-unit-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn round_trip_and_timeout_against_a_local_listener() {
        let dir = temp_dir("rt");
        let listener = UnixListener::bind(socket_path(&dir)).unwrap();
        let server = std::thread::spawn(move || {
            // First connection: answer. Second: say nothing, so the client times out.
            let (s, _) = listener.accept().unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut line = String::new();
            BufReader::new(&s).read_line(&mut line).unwrap();
            let env: Envelope = serde_json::from_str(&line).unwrap();
            assert_eq!(env, Envelope::new(Request::ListBridges));
            (&s).write_all(b"{\"ok\":{\"kind\":\"bridges\",\"bridges\":[\"br0\"]}}\n")
                .unwrap();
            let (s2, _) = listener.accept().unwrap();
            std::thread::sleep(Duration::from_millis(1500));
            drop(s2);
        });
        let reply = request(&dir, 5, Request::ListBridges).unwrap();
        assert_eq!(
            reply,
            Reply::Ok(Response::Bridges {
                bridges: vec!["br0".into()]
            })
        );
        let err = request(&dir, 1, Request::Show).unwrap_err();
        assert!(matches!(err, ClientError::Timeout { secs: 1, .. }), "{err}");
        server.join().unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
