//! Stand-ins for the standard core systems, and the synthetic population they serve.
//!
//! - [`population`]: a deterministic synthetic population with the hard cases every consumer of
//!   the resident record must handle ([`population::HardCase`]).
//! - [`card_emulator`]: a My Number card and a driver's license for a synthetic resident, behind
//!   the vpcd virtual reader so pcscd sees them as real cards.
//! - [`change_sink`]: the receiving end of the change feed, as a core system that keeps a copy
//!   of the 宛名 offers it, recording each batch once per idempotency key.
//! - [`resident_record`]: a simulator of a standard resident-record core system's REST API
//!   (`docs/resident-record-api.md`), served on a loopback listener, with inspection of what it
//!   received.
//!
//! Tests, the demo and the conformance self-checks use this crate; renkei's serving path never
//! links it except through `renkei demo`.

pub mod card_emulator;
pub mod change_sink;
pub mod population;
pub mod resident_record;
