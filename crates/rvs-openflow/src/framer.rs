//! Splitting a TCP byte stream into whole OpenFlow messages.
//!
//! [`frame_len`] is the stateless core: given the start of the stream it says whether
//! a whole message is there and how long it is. [`Framer`] adds the buffering a
//! connection task needs: push what `read()` returned, pop whole messages.
//!
//! A length field below 8 cannot be skipped over (the stream has lost sync), so it is
//! a fatal error: answer with the returned error (`OFPBRC_BAD_LEN`) and close. Lengths
//! above 65535 cannot be expressed by the 16-bit field; [`Framer::with_max_len`] can
//! lower the accepted maximum further.

use crate::error::{BadRequestCode, OfError};
use crate::header::{OFP_HEADER_LEN, OFP_MAX_MSG_LEN};

/// Looks at the start of `buf`: `Ok(Some(n))` when a whole message of `n` bytes is
/// available, `Ok(None)` when more bytes are needed, `Err` when the length field is
/// invalid (< 8 or > `max_len`).
pub fn frame_len(buf: &[u8], max_len: usize) -> Result<Option<usize>, OfError> {
    let Some(len_bytes) = buf.get(2..4) else {
        return Ok(None);
    };
    let len = usize::from(u16::from_be_bytes([len_bytes[0], len_bytes[1]]));
    if len < OFP_HEADER_LEN {
        return Err(OfError::new(
            BadRequestCode::BadLen,
            "message length below header size",
        ));
    }
    if len > max_len {
        return Err(OfError::new(
            BadRequestCode::BadLen,
            "message longer than accepted maximum",
        ));
    }
    Ok((buf.len() >= len).then_some(len))
}

/// Accumulates stream bytes and yields whole messages.
#[derive(Debug, Clone)]
pub struct Framer {
    buf: Vec<u8>,
    /// Start of the unconsumed bytes in `buf`.
    start: usize,
    max_len: usize,
    failed: Option<OfError>,
}

impl Default for Framer {
    fn default() -> Self {
        Self::new()
    }
}

impl Framer {
    pub fn new() -> Self {
        Self::with_max_len(OFP_MAX_MSG_LEN)
    }

    /// A framer refusing messages longer than `max_len` (clamped to 8..=65535).
    pub fn with_max_len(max_len: usize) -> Self {
        Framer {
            buf: Vec::new(),
            start: 0,
            max_len: max_len.clamp(OFP_HEADER_LEN, OFP_MAX_MSG_LEN),
            failed: None,
        }
    }

    /// Appends bytes read from the connection.
    pub fn push(&mut self, data: &[u8]) {
        // Compact before growing so the buffer stays bounded by one message plus one read.
        if self.start > 0 && self.start >= self.buf.len() / 2 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(data);
    }

    /// Bytes buffered but not yet returned.
    pub fn pending(&self) -> usize {
        self.buf.len() - self.start
    }

    /// The next whole message, if one is buffered. After an error the framer stays
    /// failed (the stream cannot be resynchronised) and returns the same error.
    pub fn next_frame(&mut self) -> Result<Option<&[u8]>, OfError> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        let avail = &self.buf[self.start..];
        match frame_len(avail, self.max_len) {
            Ok(Some(n)) => {
                let s = self.start;
                self.start += n;
                Ok(Some(&self.buf[s..s + n]))
            }
            Ok(None) => Ok(None),
            Err(e) => {
                self.failed = Some(e);
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_and_buffers() {
        let hello = [4u8, 0, 0, 8, 0, 0, 0, 1];
        let echo = [4u8, 2, 0, 10, 0, 0, 0, 2, 0xaa, 0xbb];
        let mut stream = hello.to_vec();
        stream.extend_from_slice(&echo);
        let mut f = Framer::new();
        // Feed one byte at a time.
        let mut got = Vec::new();
        for b in &stream {
            f.push(std::slice::from_ref(b));
            while let Ok(Some(m)) = f.next_frame() {
                got.push(m.to_vec());
            }
        }
        assert_eq!(got, vec![hello.to_vec(), echo.to_vec()]);
        assert_eq!(f.pending(), 0);
    }

    #[test]
    fn short_length_is_fatal() {
        let mut f = Framer::new();
        f.push(&[4, 0, 0, 4, 0, 0, 0, 1]);
        let e = f.next_frame().err();
        assert_eq!(
            e.map(|e| e.code),
            Some(crate::error::ErrorCode::BadRequest(BadRequestCode::BadLen))
        );
        assert!(f.next_frame().is_err());
    }

    #[test]
    fn max_len() {
        assert!(frame_len(&[4, 0, 0x10, 0, 0, 0, 0, 0], 1024).is_err());
        assert_eq!(frame_len(&[4, 0, 0x04, 0, 0, 0, 0, 0], 1024), Ok(None));
        assert_eq!(frame_len(&[4, 0], 1024), Ok(None));
    }
}
