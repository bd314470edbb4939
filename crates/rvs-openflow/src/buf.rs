//! Bounds-checked big-endian reading and writing helpers shared by every module.
//!
//! [`Reader`] carries the error to report when the input runs out, so each structure
//! reports the length code the specification names for it (`OFPBMC_BAD_LEN` inside a
//! match, `OFPBAC_BAD_LEN` inside an action, ...). Writers append to a `Vec<u8>`; length
//! fields are back-patched once the structure is complete.

use crate::error::OfError;

/// A cursor over a byte slice; every read is bounds-checked and returns `Err(self.err)`
/// when the slice is too short.
#[derive(Clone)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    err: OfError,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8], err: OfError) -> Self {
        Reader { buf, pos: 0, err }
    }

    pub(crate) fn err(&self) -> OfError {
        self.err
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// Everything not yet read, consuming it.
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        let rest = self.buf.get(self.pos..).unwrap_or(&[]);
        self.pos = self.buf.len();
        rest
    }

    pub(crate) fn bytes(&mut self, n: usize) -> Result<&'a [u8], OfError> {
        let end = self.pos.checked_add(n).ok_or(self.err)?;
        let out = self.buf.get(self.pos..end).ok_or(self.err)?;
        self.pos = end;
        Ok(out)
    }

    pub(crate) fn skip(&mut self, n: usize) -> Result<(), OfError> {
        self.bytes(n).map(|_| ())
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], OfError> {
        let b = self.bytes(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(b);
        Ok(out)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, OfError> {
        Ok(self.array::<1>()?[0])
    }

    pub(crate) fn u16(&mut self) -> Result<u16, OfError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    pub(crate) fn u32(&mut self) -> Result<u32, OfError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    pub(crate) fn u64(&mut self) -> Result<u64, OfError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    /// Reads the big-endian `u16` at `offset` bytes ahead without consuming anything.
    pub(crate) fn peek_u16_at(&self, offset: usize) -> Result<u16, OfError> {
        let start = self.pos.checked_add(offset).ok_or(self.err)?;
        let end = start.checked_add(2).ok_or(self.err)?;
        let b = self.buf.get(start..end).ok_or(self.err)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
}

/// Big-endian append helpers for `Vec<u8>`.
pub(crate) trait Put {
    fn put_u8(&mut self, v: u8);
    fn put_u16(&mut self, v: u16);
    fn put_u32(&mut self, v: u32);
    fn put_u64(&mut self, v: u64);
    fn put_zeros(&mut self, n: usize);
    /// Appends zeros until the bytes written since `start` are a multiple of 8.
    fn pad8_from(&mut self, start: usize);
    /// Overwrites the big-endian `u16` at `at` (a length field written as a placeholder).
    /// Lengths beyond `u16::MAX` saturate; the top-level encoder refuses such messages.
    fn patch_u16(&mut self, at: usize, v: usize);
}

impl Put for Vec<u8> {
    fn put_u8(&mut self, v: u8) {
        self.push(v);
    }
    fn put_u16(&mut self, v: u16) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_u32(&mut self, v: u32) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_u64(&mut self, v: u64) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_zeros(&mut self, n: usize) {
        self.resize(self.len() + n, 0);
    }
    fn pad8_from(&mut self, start: usize) {
        let n = self.len().saturating_sub(start);
        self.put_zeros(pad8(n) - n);
    }
    fn patch_u16(&mut self, at: usize, v: usize) {
        let v = u16::try_from(v).unwrap_or(u16::MAX).to_be_bytes();
        if let Some(slot) = self.get_mut(at..at + 2) {
            slot.copy_from_slice(&v);
        }
    }
}

/// `n` rounded up to a multiple of 8.
pub(crate) const fn pad8(n: usize) -> usize {
    n.div_ceil(8) * 8
}

/// A NUL-padded fixed-width string field (port names, table names, description strings).
///
/// Stores the bytes before the first NUL exactly as received, so values that are not
/// UTF-8 still round-trip. Built from `&str` it keeps at most `N - 1` bytes (cut on a
/// character boundary) so the wire field stays NUL-terminated as the spec requires.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FixedStr(Vec<u8>);

impl FixedStr {
    /// Builds a field of wire width `width` from `s`, truncated to `width - 1` bytes.
    pub fn new(s: &str, width: usize) -> Self {
        let mut end = s.len().min(width.saturating_sub(1));
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        FixedStr(s.as_bytes()[..end].to_vec())
    }

    /// Builds from raw bytes (cut at the first NUL).
    pub fn from_bytes(b: &[u8]) -> Self {
        let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
        FixedStr(b[..end].to_vec())
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The text, with invalid UTF-8 replaced.
    pub fn to_string_lossy(&self) -> String {
        String::from_utf8_lossy(&self.0).into_owned()
    }

    pub(crate) fn read(r: &mut Reader<'_>, width: usize) -> Result<Self, OfError> {
        Ok(FixedStr::from_bytes(r.bytes(width)?))
    }

    pub(crate) fn write(&self, out: &mut Vec<u8>, width: usize) {
        let n = self.0.len().min(width);
        out.extend_from_slice(&self.0[..n]);
        out.put_zeros(width - n);
    }
}

impl core::fmt::Display for FixedStr {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.0))
    }
}

/// Reads a table-features id entry (`type`, `len`, and for the experimenter type its
/// experimenter id), as action and instruction ids share that layout.
pub(crate) fn decode_feature_id(
    r: &mut Reader<'_>,
    experimenter_type: u16,
) -> Result<(u16, Option<u32>), crate::error::OfError> {
    let id_type = r.u16()?;
    let len = r.u16()?;
    if id_type == experimenter_type {
        if len < 8 {
            return Err(r.err());
        }
        let experimenter = r.u32()?;
        r.skip(usize::from(len) - 8)?;
        Ok((id_type, Some(experimenter)))
    } else {
        if len != 4 {
            return Err(r.err());
        }
        Ok((id_type, None))
    }
}

/// Writes a table-features id entry (see [`decode_feature_id`]).
pub(crate) fn encode_feature_id(out: &mut Vec<u8>, id_type: u16, experimenter: Option<u32>) {
    out.put_u16(id_type);
    match experimenter {
        Some(e) => {
            out.put_u16(8);
            out.put_u32(e);
        }
        None => out.put_u16(4),
    }
}
