//! Unique names for interfaces and namespaces.

use std::sync::atomic::{AtomicU64, Ordering};

/// The longest interface name Linux accepts (`IFNAMSIZ` - 1).
pub const MAX_IFNAME_LEN: usize = 15;

/// How many bytes of the caller's prefix are kept.
const PREFIX_LEN: usize = 4;
/// The process id is written with exactly this many base-36 digits.
/// `pid_max` is at most 2^22 = 4194304, which is "2hwcg" in base 36.
const PID_DIGITS: usize = 5;
/// The counter gets what is left: up to 6 digits, so 36^6 names per process.
const COUNTER_DIGITS: usize = MAX_IFNAME_LEN - PREFIX_LEN - PID_DIGITS;

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Returns a fresh name that is valid as a Linux interface name and as a
/// network namespace name.
///
/// Format: `PREFIX` + `PID` + `COUNTER`, where
///
/// * `PREFIX` is `prefix` cut to its first 4 bytes (at a character
///   boundary),
/// * `PID` is this process's id in lowercase base 36, zero-padded to exactly
///   5 digits,
/// * `COUNTER` is a per-process atomic counter in lowercase base 36 (1 to 6
///   digits, no padding).
///
/// For example `unique_name("veth")` in process 4242 returns `veth0039u0`,
/// then `veth0039u1`, and so on. The result is at most 15 bytes.
///
/// Names with the same prefix never collide between threads (atomic
/// counter) nor between processes that run at the same time (different
/// pids). Use prefixes made of letters only: a prefix that ends in a digit
/// could produce the name of another prefix one character shorter. A
/// process that was killed without cleaning up can leave names behind that
/// a later process with the same pid would produce again; see
/// [`cleanup_stale`](crate::cleanup_stale).
///
/// # Panics
///
/// If one process asks for more than 36^6 (about 2.2 billion) names.
pub fn unique_name(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    assert!(
        n < 36u64.pow(COUNTER_DIGITS as u32),
        "unique_name: this process used up its {COUNTER_DIGITS}-digit counter"
    );
    let mut name = String::with_capacity(MAX_IFNAME_LEN);
    for c in prefix.chars() {
        if name.len() + c.len_utf8() > PREFIX_LEN {
            break;
        }
        name.push(c);
    }
    let pid = base36(u64::from(std::process::id()));
    for _ in pid.len()..PID_DIGITS {
        name.push('0');
    }
    name.push_str(&pid);
    name.push_str(&base36(n));
    debug_assert!(name.len() <= MAX_IFNAME_LEN, "{name}");
    name
}

/// `n` in lowercase base 36, without leading zeros ("0" for zero).
fn base36(mut n: u64) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::with_capacity(13);
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    out.into_iter().map(char::from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base36_digits() {
        assert_eq!(base36(0), "0");
        assert_eq!(base36(35), "z");
        assert_eq!(base36(36), "10");
        assert_eq!(base36(4_194_304), "2hwcg");
        assert_eq!(base36(36u64.pow(6) - 1), "zzzzzz");
    }

    #[test]
    fn pid_fits_in_five_digits() {
        assert!(base36(4_194_304).len() <= PID_DIGITS);
    }

    #[test]
    fn format_and_length() {
        let a = unique_name("abcdefgh");
        assert!(a.starts_with("abcd"));
        assert!(a.len() <= MAX_IFNAME_LEN);
        let pid = base36(u64::from(std::process::id()));
        assert_eq!(&a[4 + PID_DIGITS - pid.len()..4 + PID_DIGITS], pid);
        let b = unique_name("");
        assert!(b.len() <= MAX_IFNAME_LEN);
        // Multi-byte characters are never cut in half.
        let c = unique_name("äöü");
        assert!(c.starts_with("äö"));
        assert!(c.len() <= MAX_IFNAME_LEN);
    }
}
