//! OpenFlow 1.3 (wire version 0x04) codec for rvs, written from the specification.
//!
//! # Design
//!
//! OpenFlow is rvs's control path: messages arrive at human or controller pace, not per
//! packet. So this crate decodes into **owned values** ([`Message`] and the structs it
//! holds) instead of zero-copy views: they can be stored in a flow table, cloned into
//! replies and compared in tests without lifetimes. The only bulk data are packet-in /
//! packet-out frames and echo payloads, copied once into a `Vec<u8>`.
//!
//! * **Encoding** ([`Message::encode`], [`Message::encode_into`]) never fails except
//!   when the result would exceed the 65535-byte message limit ([`EncodeError`]);
//!   multipart replies that are too big are split with
//!   [`multipart::MultipartReply::encode_split`].
//! * **Decoding** ([`Message::decode`]) never panics, on any input (fuzzed). Every
//!   failure is an [`OfError`] carrying the `OFPT_ERROR` type/code the specification
//!   names for it (`OFPBRC_BAD_LEN`, `OFPBMC_BAD_PREREQ`, `OFPBAC_BAD_OUT_PORT`, ...),
//!   ready to be sent back with [`OfError::to_error_msg`].
//! * Decoding is **strict about structure** (lengths, padding accounting, known types,
//!   OXM widths, masks, duplicate fields, prerequisites, reserved ids) and leaves
//!   **switch state** (does the port/group/meter exist, is the table full) to the
//!   switch.
//! * Decoded values are **canonical**: `decode(encode(decode(bytes)))` equals
//!   `decode(bytes)`, and bytes produced by this crate decode and re-encode to the same
//!   bytes. Match fields keep their wire order, so a flow's match is returned exactly as
//!   the controller sent it.
//! * Unknown-but-harmless values (reasons, error codes, hello elements, experimenter
//!   actions/instructions/messages) are kept rather than rejected, so they round-trip.
//!
//! # Modules
//!
//! | module | contents |
//! |---|---|
//! | [`header`] | `ofp_header`, message type numbers, version |
//! | [`framer`] | splitting a TCP stream into messages |
//! | [`hello`] | hello elements, version negotiation |
//! | [`error`] | error types/codes, [`OfError`], [`ErrorMsg`] |
//! | [`oxm`] | the 40 `OXM_OF_*` fields, masks, prerequisites |
//! | [`matching`] | `ofp_match` (OXM) |
//! | [`action`] | all OpenFlow 1.3 actions |
//! | [`instruction`] | all OpenFlow 1.3 instructions |
//! | [`port`] | port numbers, `ofp_port`, port-status, port-mod |
//! | [`group`] | group-mod, buckets, group multipart bodies |
//! | [`meter`] | meter-mod, bands, meter multipart bodies |
//! | [`multipart`] | multipart requests and replies, table features |
//! | [`message`] | [`Message`] and the remaining message bodies |
#![deny(clippy::unwrap_used, clippy::panic)]

mod buf;

pub mod action;
pub mod error;
pub mod framer;
pub mod group;
pub mod header;
pub mod hello;
pub mod instruction;
pub mod matching;
pub mod message;
pub mod meter;
pub mod multipart;
pub mod oxm;
pub mod port;

pub use action::{Action, ActionId};
pub use buf::FixedStr;
pub use error::{ErrorCode, ErrorMsg, OfError};
pub use framer::Framer;
pub use header::{Header, OFP_VERSION};
pub use hello::{negotiate_version, Hello, HelloElement};
pub use instruction::{Instruction, InstructionId};
pub use matching::Match;
pub use message::{EncodeError, FlowMod, FlowModCommand, Message};
pub use oxm::{Masked, OxmField, OxmFieldId};
pub use port::PortNo;
