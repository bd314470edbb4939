//! `ofp_match` of type `OFPMT_OXM`: a list of OXM TLVs, padded to a multiple of 8.

use crate::buf::{pad8, Put, Reader};
use crate::error::{BadMatchCode, OfError};
use crate::oxm::{check_prereqs, OxmContext, OxmField, OxmFieldId};

/// `OFPMT_STANDARD` (OpenFlow 1.1 match; refused with `OFPBMC_BAD_TYPE`).
pub const OFPMT_STANDARD: u16 = 0;
/// `OFPMT_OXM`.
pub const OFPMT_OXM: u16 = 1;

/// An OpenFlow 1.3 match.
///
/// Fields keep the order they had on the wire (or were added in), so a flow table that
/// stores a `Match` returns it byte-for-byte in flow stats. Use [`Match::same_fields`]
/// for an order-insensitive comparison (strict flow-mod matching).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Match {
    pub fields: Vec<OxmField>,
}

impl Match {
    /// The empty match (matches every packet).
    pub const fn new() -> Self {
        Match { fields: Vec::new() }
    }

    /// Builder: appends a field.
    pub fn with(mut self, f: OxmField) -> Self {
        self.fields.push(f);
        self
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The field with this id, if matched.
    pub fn get(&self, id: OxmFieldId) -> Option<&OxmField> {
        self.fields.iter().find(|f| f.id() == id)
    }

    /// Same set of fields regardless of order.
    pub fn same_fields(&self, other: &Match) -> bool {
        self.fields.len() == other.fields.len()
            && self.fields.iter().all(|f| other.fields.contains(f))
    }

    /// Value of the `length` field: header plus TLVs, without padding.
    pub fn wire_len(&self) -> usize {
        4 + self.fields.iter().map(OxmField::wire_len).sum::<usize>()
    }

    /// Bytes the match occupies including padding.
    pub fn padded_len(&self) -> usize {
        pad8(self.wire_len())
    }

    /// Appends the match with its padding.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.put_u16(OFPMT_OXM);
        out.put_u16(0);
        for f in &self.fields {
            f.encode(out);
        }
        let len = out.len() - start;
        out.patch_u16(start + 2, len);
        out.put_zeros(pad8(len) - len);
    }

    /// Checks the match as the decoder does: per-field validity, duplicates and
    /// prerequisites.
    pub fn validate(&self) -> Result<(), OfError> {
        let mut seen = 0u64;
        for f in &self.fields {
            f.validate()?;
            let bit = 1u64 << (f.id() as u8);
            if seen & bit != 0 {
                return Err(OfError::new(BadMatchCode::DupField, "field repeated"));
            }
            seen |= bit;
        }
        check_prereqs(&self.fields)
    }

    /// Decodes a match occupying all of `buf` (padding included).
    pub fn from_bytes(buf: &[u8]) -> Result<Self, OfError> {
        let bad_len = OfError::new(BadMatchCode::BadLen, "match length");
        let mut r = Reader::new(buf, bad_len);
        let m = Match::decode(&mut r)?;
        if r.is_empty() {
            Ok(m)
        } else {
            Err(bad_len)
        }
    }

    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, OfError> {
        let bad_len = OfError::new(BadMatchCode::BadLen, "match length");
        let mut r = Reader::new(r_take_match(r, bad_len)?, bad_len);
        let _type = r.u16()?;
        let _len = r.u16()?;
        let mut fields = Vec::new();
        let mut seen = 0u64;
        while !r.is_empty() {
            let f = OxmField::decode(&mut r, OxmContext::Match)?;
            let bit = 1u64 << (f.id() as u8);
            if seen & bit != 0 {
                return Err(OfError::new(BadMatchCode::DupField, "field repeated"));
            }
            seen |= bit;
            fields.push(f);
        }
        check_prereqs(&fields)?;
        Ok(Match { fields })
    }
}

/// Consumes the whole match (with padding) from `r` and returns the unpadded bytes,
/// after checking the type and the length field.
fn r_take_match<'a>(r: &mut Reader<'a>, bad_len: OfError) -> Result<&'a [u8], OfError> {
    let mtype = r.peek_u16_at(0).map_err(|_| bad_len)?;
    let len = usize::from(r.peek_u16_at(2).map_err(|_| bad_len)?);
    if mtype != OFPMT_OXM {
        return Err(OfError::new(BadMatchCode::BadType, "match type is not OXM"));
    }
    if len < 4 {
        return Err(bad_len);
    }
    let padded = r.bytes(pad8(len)).map_err(|_| bad_len)?;
    Ok(&padded[..len])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oxm::Masked;

    #[test]
    fn empty_match_is_8_bytes() {
        let mut v = Vec::new();
        Match::new().encode(&mut v);
        assert_eq!(v, [0, 1, 0, 4, 0, 0, 0, 0]);
    }

    #[test]
    fn round_trip() {
        let m = Match::new()
            .with(OxmField::EthType(0x0800))
            .with(OxmField::Ipv4Src(Masked::new(
                [10, 0, 0, 0].into(),
                [255, 0, 0, 0].into(),
            )));
        let mut v = Vec::new();
        m.encode(&mut v);
        assert_eq!(v.len(), m.padded_len());
        let mut r = Reader::new(&v, OfError::new(BadMatchCode::BadLen, ""));
        assert_eq!(Match::decode(&mut r).ok(), Some(m));
        assert!(r.is_empty());
    }
}
