//! `OFPT_HELLO` with hello elements, and version negotiation.

use crate::buf::{pad8, Put, Reader};
use crate::error::{ErrorMsg, HelloFailedCode, OfError};
use crate::header::OFP_VERSION;

/// `OFPHET_VERSIONBITMAP`.
pub const OFPHET_VERSIONBITMAP: u16 = 1;

/// One hello element.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HelloElement {
    /// Bitmap words: bit `n` of word `w` means version `32 * w + n` is supported.
    VersionBitmap(Vec<u32>),
    /// An element type this crate does not know (ignored by negotiation, kept for
    /// round-trips).
    Unknown { element_type: u16, data: Vec<u8> },
}

/// `OFPT_HELLO` body.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Hello {
    pub elements: Vec<HelloElement>,
}

impl Hello {
    /// A hello announcing exactly the given versions in a version bitmap.
    pub fn with_versions(versions: &[u8]) -> Self {
        let mut words = Vec::new();
        for &v in versions {
            let w = usize::from(v / 32);
            if words.len() <= w {
                words.resize(w + 1, 0u32);
            }
            words[w] |= 1 << (v % 32);
        }
        Hello {
            elements: vec![HelloElement::VersionBitmap(words)],
        }
    }

    /// The hello this crate sends: OpenFlow 1.3 only.
    pub fn of13() -> Self {
        Self::with_versions(&[OFP_VERSION])
    }

    /// Versions listed in the first version bitmap element, if there is one.
    pub fn bitmap_versions(&self) -> Option<Vec<u8>> {
        self.elements.iter().find_map(|e| match e {
            HelloElement::VersionBitmap(words) => Some(
                words
                    .iter()
                    .enumerate()
                    .flat_map(|(w, bits)| {
                        (0..32u32)
                            .filter(move |b| bits & (1 << b) != 0)
                            .filter_map(move |b| u8::try_from(w as u32 * 32 + b).ok())
                    })
                    .collect(),
            ),
            HelloElement::Unknown { .. } => None,
        })
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        for e in &self.elements {
            let start = out.len();
            match e {
                HelloElement::VersionBitmap(words) => {
                    out.put_u16(OFPHET_VERSIONBITMAP);
                    out.put_u16(0);
                    for w in words {
                        out.put_u32(*w);
                    }
                }
                HelloElement::Unknown { element_type, data } => {
                    out.put_u16(*element_type);
                    out.put_u16(0);
                    out.extend_from_slice(data);
                }
            }
            let len = out.len() - start;
            out.patch_u16(start + 2, len);
            out.pad8_from(start);
        }
    }

    /// Decodes the elements. A malformed element list is an error for OpenFlow 1.3+
    /// peers; earlier versions may put anything in the body, which the spec says to
    /// ignore, so `lenient` returns no elements instead.
    pub(crate) fn decode(r: &mut Reader<'_>, lenient: bool) -> Result<Self, OfError> {
        let body = r.rest();
        match Self::decode_elements(body, r.err()) {
            Ok(h) => Ok(h),
            Err(_) if lenient => Ok(Hello::default()),
            Err(e) => Err(e),
        }
    }

    fn decode_elements(body: &[u8], err: OfError) -> Result<Self, OfError> {
        let mut r = Reader::new(body, err);
        let mut elements = Vec::new();
        while !r.is_empty() {
            let element_type = r.u16()?;
            let len = usize::from(r.u16()?);
            if len < 4 {
                return Err(err);
            }
            let data = r.bytes(len - 4)?;
            // The last element's padding may be missing; tolerate that.
            let pad = (pad8(len) - len).min(r.remaining());
            r.skip(pad)?;
            elements.push(if element_type == OFPHET_VERSIONBITMAP {
                if data.len() % 4 != 0 {
                    return Err(err);
                }
                HelloElement::VersionBitmap(
                    data.chunks_exact(4)
                        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                        .collect(),
                )
            } else {
                HelloElement::Unknown {
                    element_type,
                    data: data.to_vec(),
                }
            });
        }
        Ok(Hello { elements })
    }
}

/// Negotiates the version with a peer whose hello carried `peer_version` in its header
/// and `hello` as body. This crate speaks only OpenFlow 1.3 (0x04).
///
/// With a version bitmap, the result is the highest version both sides list; without
/// one, it is the smaller of the two header versions. Anything but 0x04 fails with the
/// `OFPET_HELLO_FAILED/OFPHFC_INCOMPATIBLE` error to send before closing.
pub fn negotiate_version(peer_version: u8, hello: &Hello) -> Result<u8, ErrorMsg> {
    let ok = match hello.bitmap_versions() {
        Some(versions) => versions.contains(&OFP_VERSION),
        None => peer_version >= OFP_VERSION,
    };
    if ok {
        Ok(OFP_VERSION)
    } else {
        let text = match hello.bitmap_versions() {
            Some(v) => format!("rvs supports OpenFlow 1.3 (0x04) only; peer offers {v:02x?}"),
            None => format!(
                "rvs supports OpenFlow 1.3 (0x04) only; peer offers up to {peer_version:#04x}"
            ),
        };
        Err(ErrorMsg::hello_incompatible(&text))
    }
}

/// The `OfError` form of a failed negotiation, for callers that use `?`.
pub fn incompatible() -> OfError {
    OfError::new(HelloFailedCode::Incompatible, "no common OpenFlow version")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bitmap_versions() {
        let h = Hello::with_versions(&[1, 4, 6]);
        assert_eq!(h.elements, vec![HelloElement::VersionBitmap(vec![0x52])]);
        assert_eq!(h.bitmap_versions(), Some(vec![1, 4, 6]));
    }

    #[test]
    fn negotiation() {
        assert_eq!(
            negotiate_version(6, &Hello::with_versions(&[1, 4, 6])),
            Ok(4)
        );
        assert_eq!(negotiate_version(4, &Hello::default()), Ok(4));
        assert_eq!(negotiate_version(5, &Hello::default()), Ok(4));
        assert!(negotiate_version(1, &Hello::default()).is_err());
        assert!(negotiate_version(6, &Hello::with_versions(&[5, 6])).is_err());
        let e = negotiate_version(1, &Hello::with_versions(&[1])).err();
        assert_eq!(
            e.map(|e| e.code),
            Some(crate::error::ErrorCode::HelloFailed(
                HelloFailedCode::Incompatible
            ))
        );
    }
}
