//! OpenFlow 1.3 decoding of arbitrary bytes: never panics; whatever decodes re-encodes
//! to bytes that decode to the same message (and re-encode identically); the framer
//! splits any stream without panicking and agrees with the decoder on lengths.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rvs_openflow::framer::Framer;
use rvs_openflow::Message;

fn round_trip(bytes: &[u8]) {
    let Ok((hdr, msg)) = Message::decode(bytes) else {
        return;
    };
    let again = msg.encode(hdr.xid).expect("a decoded message fits when re-encoded");
    let (hdr2, msg2) = Message::decode(&again).expect("re-encoded bytes decode");
    assert_eq!(hdr2.xid, hdr.xid);
    assert_eq!(msg2, msg);
    assert_eq!(msg2.encode(hdr.xid).expect("encode"), again);
}

fuzz_target!(|data: &[u8]| {
    // The input as one message, as given.
    round_trip(data);
    // The input as one message with a consistent header (so body parsers are reached
    // more often): version 1.3, length = input size.
    if data.len() >= 8 && data.len() <= 65535 {
        let mut fixed = data.to_vec();
        fixed[0] = 4;
        fixed[2..4].copy_from_slice(&(data.len() as u16).to_be_bytes());
        round_trip(&fixed);
    }
    // The input as a stream.
    let mut framer = Framer::new();
    framer.push(data);
    while let Ok(Some(frame)) = framer.next_frame() {
        assert!(frame.len() >= 8);
        assert_eq!(usize::from(u16::from_be_bytes([frame[2], frame[3]])), frame.len());
        round_trip(frame);
    }
});
