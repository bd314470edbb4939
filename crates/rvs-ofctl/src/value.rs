//! Values of the ovs-ofctl syntax: integers, MAC and IP addresses with masks, ports.

use rvs_openflow::oxm::MacAddr;
use rvs_openflow::PortNo;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Decimal or `0x` hexadecimal.
pub(crate) fn parse_u64(s: &str) -> Result<u64, String> {
    let bad = || format!("'{s}' is not a number");
    if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        u64::from_str_radix(hex, 16).map_err(|_| format!("'{s}' is too large"))
    } else {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        s.parse::<u64>().map_err(|_| format!("'{s}' is too large"))
    }
}

/// A number of at most `bits` bits.
pub(crate) fn parse_bits(s: &str, bits: u32) -> Result<u64, String> {
    let v = parse_u64(s)?;
    if bits < 64 && v >> bits != 0 {
        return Err(format!(
            "{s} does not fit in {bits} bits (largest {})",
            (1u64 << bits) - 1
        ));
    }
    Ok(v)
}

pub(crate) fn parse_u32(s: &str) -> Result<u32, String> {
    parse_bits(s, 32).map(|v| v as u32)
}

pub(crate) fn parse_u16(s: &str) -> Result<u16, String> {
    parse_bits(s, 16).map(|v| v as u16)
}

pub(crate) fn parse_u8(s: &str) -> Result<u8, String> {
    parse_bits(s, 8).map(|v| v as u8)
}

pub(crate) fn parse_mac(s: &str) -> Result<MacAddr, String> {
    let mut out = [0u8; 6];
    let mut parts = s.split(':');
    for b in out.iter_mut() {
        let p = parts.next().unwrap_or("");
        if p.is_empty() || p.len() > 2 || !p.bytes().all(|c| c.is_ascii_hexdigit()) {
            return Err(format!("'{s}' is not a MAC address (xx:xx:xx:xx:xx:xx)"));
        }
        *b = u8::from_str_radix(p, 16).map_err(|_| format!("'{s}' is not a MAC address"))?;
    }
    if parts.next().is_some() {
        return Err(format!("'{s}' is not a MAC address (xx:xx:xx:xx:xx:xx)"));
    }
    Ok(out)
}

pub(crate) fn parse_ipv4(s: &str) -> Result<Ipv4Addr, String> {
    s.parse()
        .map_err(|_| format!("'{s}' is not an IPv4 address"))
}

pub(crate) fn parse_ipv6(s: &str) -> Result<Ipv6Addr, String> {
    s.parse()
        .map_err(|_| format!("'{s}' is not an IPv6 address"))
}

/// `ADDR`, `ADDR/PREFIX` or `ADDR/MASK`; a full-length mask is no mask.
pub(crate) fn parse_ipv4_masked(s: &str) -> Result<(Ipv4Addr, Option<Ipv4Addr>), String> {
    let Some((a, m)) = s.split_once('/') else {
        return Ok((parse_ipv4(s)?, None));
    };
    let addr = parse_ipv4(a)?;
    let mask = if m.contains('.') {
        parse_ipv4(m)?
    } else {
        let n = parse_bits(m, 8)
            .ok()
            .filter(|&n| n <= 32)
            .ok_or_else(|| format!("'/{m}' is not a prefix length (0-32) or a dotted mask"))?;
        Ipv4Addr::from(u32::MAX.checked_shl(32 - n as u32).unwrap_or(0))
    };
    Ok((addr, Some(mask)))
}

pub(crate) fn parse_ipv6_masked(s: &str) -> Result<(Ipv6Addr, Option<Ipv6Addr>), String> {
    let Some((a, m)) = s.split_once('/') else {
        return Ok((parse_ipv6(s)?, None));
    };
    let addr = parse_ipv6(a)?;
    let mask = if m.contains(':') {
        parse_ipv6(m)?
    } else {
        let n = parse_bits(m, 8)
            .ok()
            .filter(|&n| n <= 128)
            .ok_or_else(|| format!("'/{m}' is not a prefix length (0-128) or a mask"))?;
        Ipv6Addr::from(u128::MAX.checked_shl(128 - n as u32).unwrap_or(0))
    };
    Ok((addr, Some(mask)))
}

/// Reserved port names as ovs-ofctl accepts them (case-insensitive).
const PORT_NAMES: &[(&str, PortNo)] = &[
    ("in_port", PortNo::IN_PORT),
    ("table", PortNo::TABLE),
    ("normal", PortNo::NORMAL),
    ("flood", PortNo::FLOOD),
    ("all", PortNo::ALL),
    ("controller", PortNo::CONTROLLER),
    ("local", PortNo::LOCAL),
    ("any", PortNo::ANY),
    ("none", PortNo::ANY),
];

/// Largest port number rvs (and Open vSwitch) gives a port: ports are numbered as in
/// OpenFlow 1.0, below 0xff00.
pub(crate) const PORT_MAX: u32 = 0xfeff;

/// A port number (1-65279), a reserved port's number or a reserved name.
pub(crate) fn parse_port(s: &str) -> Result<PortNo, String> {
    if let Some((_, p)) = PORT_NAMES.iter().find(|(n, _)| n.eq_ignore_ascii_case(s)) {
        return Ok(*p);
    }
    let v = parse_u32(s).map_err(|_| {
        format!("'{s}' is not a port (a number, or LOCAL, CONTROLLER, IN_PORT, NORMAL, FLOOD, ALL, TABLE, ANY)")
    })?;
    if v == 0 || (v > PORT_MAX && !PortNo(v).is_reserved()) {
        return Err(format!(
            "port {v} is out of range (1-{PORT_MAX}, or a reserved port)"
        ));
    }
    Ok(PortNo(v))
}

/// The name ovs-ofctl prints for a port.
pub(crate) fn port_name(p: PortNo) -> String {
    match p {
        PortNo::IN_PORT => "IN_PORT".into(),
        PortNo::TABLE => "TABLE".into(),
        PortNo::NORMAL => "NORMAL".into(),
        PortNo::FLOOD => "FLOOD".into(),
        PortNo::ALL => "ALL".into(),
        PortNo::CONTROLLER => "CONTROLLER".into(),
        PortNo::LOCAL => "LOCAL".into(),
        PortNo::ANY => "ANY".into(),
        PortNo(n) => n.to_string(),
    }
}

pub(crate) fn fmt_mac(m: &MacAddr) -> String {
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        m[0], m[1], m[2], m[3], m[4], m[5]
    )
}

/// `ADDR`, `ADDR/PREFIX` for a CIDR mask, else `ADDR/MASK`.
pub(crate) fn fmt_ipv4_masked(a: Ipv4Addr, m: Option<Ipv4Addr>) -> String {
    match m {
        None => a.to_string(),
        Some(m) => {
            let bits = u32::from(m);
            if bits.leading_ones() + bits.trailing_zeros() == 32 {
                format!("{a}/{}", bits.leading_ones())
            } else {
                format!("{a}/{m}")
            }
        }
    }
}

pub(crate) fn fmt_ipv6_masked(a: Ipv6Addr, m: Option<Ipv6Addr>) -> String {
    match m {
        None => a.to_string(),
        Some(m) => {
            let bits = u128::from(m);
            if bits.leading_ones() + bits.trailing_zeros() == 128 {
                format!("{a}/{}", bits.leading_ones())
            } else {
                format!("{a}/{m}")
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(parse_u64("0x1f"), Ok(31));
        assert_eq!(parse_u64("12"), Ok(12));
        assert!(parse_u64("").is_err());
        assert!(parse_u64("0x").is_err());
        assert!(parse_u64("-1").is_err());
        assert!(parse_u64("99999999999999999999").is_err());
        assert!(parse_bits("8", 3).is_err());
        assert_eq!(parse_bits("7", 3), Ok(7));
    }

    #[test]
    fn addresses() {
        assert_eq!(parse_mac("0:1:2:3:4:ff"), Ok([0, 1, 2, 3, 4, 255]));
        assert!(parse_mac("00:11:22:33:44").is_err());
        assert!(parse_mac("00:11:22:33:44:55:66").is_err());
        assert_eq!(
            parse_ipv4_masked("10.0.0.0/8"),
            Ok(([10, 0, 0, 0].into(), Some([255, 0, 0, 0].into())))
        );
        assert_eq!(
            parse_ipv4_masked("10.0.0.0/0"),
            Ok(([10, 0, 0, 0].into(), Some([0, 0, 0, 0].into())))
        );
        assert!(parse_ipv4_masked("10.0.0.0/33").is_err());
        assert_eq!(
            fmt_ipv4_masked([10, 0, 0, 0].into(), Some([255, 0, 255, 0].into())),
            "10.0.0.0/255.0.255.0"
        );
        let (a, m) = parse_ipv6_masked("2001:db8::/32").unwrap();
        assert_eq!(fmt_ipv6_masked(a, m), "2001:db8::/32");
    }

    #[test]
    fn ports() {
        assert_eq!(parse_port("LOCAL"), Ok(PortNo::LOCAL));
        assert_eq!(parse_port("7"), Ok(PortNo(7)));
        assert!(parse_port("0").is_err());
        assert!(parse_port("eth0").is_err());
        assert_eq!(port_name(PortNo::CONTROLLER), "CONTROLLER");
    }
}
