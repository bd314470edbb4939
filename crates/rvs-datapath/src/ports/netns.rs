//! Running code inside another network namespace.
//!
//! A thread may switch its own network namespace with `setns(2)`; sockets and TAP file
//! descriptors opened there stay bound to that namespace after the thread ends. So each call
//! spawns a short-lived thread, switches it, runs the closure and returns the result. This is
//! control-path only (port attach), never per packet.

use super::sys::cvt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::path::{Path, PathBuf};

/// Where iproute2 keeps named namespaces.
pub const NETNS_RUN_DIR: &str = "/run/netns";

/// Runs `f` in the named namespace (`/run/netns/NAME`).
pub fn in_netns<R, F>(name: &str, f: F) -> io::Result<R>
where
    F: FnOnce() -> io::Result<R> + Send,
    R: Send,
{
    if name.is_empty() || name.contains('/') || name.starts_with('.') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("bad namespace name '{name}'"),
        ));
    }
    let path = Path::new(NETNS_RUN_DIR).join(name);
    let ns = std::fs::File::open(&path).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("cannot open namespace {}: {e}", path.display()),
        )
    })?;
    in_netns_fd(ns.as_fd(), f)
}

/// Runs `f` in the namespace that `ns` (a namespace file descriptor) refers to.
pub fn in_netns_fd<R, F>(ns: BorrowedFd<'_>, f: F) -> io::Result<R>
where
    F: FnOnce() -> io::Result<R> + Send,
    R: Send,
{
    std::thread::scope(|s| {
        s.spawn(move || {
            // SAFETY: setns on a namespace fd that outlives this thread; affects only this thread.
            cvt(unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) })?;
            f()
        })
        .join()
        .unwrap_or_else(|_| Err(io::Error::other("namespace thread panicked")))
    })
}

/// Identity of a namespace: device and inode of its nsfs file.
pub type NetnsId = (u64, u64);

fn stat_id(meta: std::fs::Metadata) -> NetnsId {
    use std::os::unix::fs::MetadataExt;
    (meta.dev(), meta.ino())
}

/// Identity of the namespace an fd refers to.
pub fn netns_id_of_fd(fd: BorrowedFd<'_>) -> io::Result<NetnsId> {
    let f = std::fs::File::from(fd.try_clone_to_owned()?);
    Ok(stat_id(f.metadata()?))
}

/// Identity of the calling thread's own namespace.
pub fn own_netns_id() -> io::Result<NetnsId> {
    Ok(stat_id(std::fs::metadata("/proc/thread-self/ns/net")?))
}

/// Where a namespace is, for display and as a re-attach hint: `None` for the caller's own,
/// the iproute2 name when it has one, else `net:[INODE]` as /proc shows it.
pub fn describe_netns(id: NetnsId) -> Option<String> {
    if own_netns_id().ok() == Some(id) {
        return None;
    }
    named_namespaces()
        .into_iter()
        .find(|n| std::fs::metadata(netns_path(n)).map(stat_id).ok() == Some(id))
        .or_else(|| Some(format!("net:[{}]", id.1)))
}

/// Names of the namespaces iproute2 knows about, sorted.
pub fn named_namespaces() -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(NETNS_RUN_DIR)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// Path of a named namespace.
pub fn netns_path(name: &str) -> PathBuf {
    Path::new(NETNS_RUN_DIR).join(name)
}

/// Namespaces in which an interface named `ifname` exists, own namespace (`None`) first,
/// then `hint`, then the other named namespaces in order.
pub fn namespaces_holding(ifname: &str, hint: Option<&str>) -> Vec<Option<String>> {
    let mut out = Vec::new();
    if super::sys::if_index(ifname).is_ok() {
        out.push(None);
    }
    let mut candidates = named_namespaces();
    if let Some(pos) = hint.and_then(|h| candidates.iter().position(|n| n == h)) {
        let n = candidates.remove(pos);
        candidates.insert(0, n);
    }
    out.extend(
        candidates
            .into_iter()
            .filter(|ns| in_netns(ns, || super::sys::if_index(ifname)).is_ok())
            .map(Some),
    );
    out
}
