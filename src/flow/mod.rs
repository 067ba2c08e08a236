//! TCP connection tracking: one entry per connection, keyed by its 4-tuple, in one
//! streaming pass. `table` holds the live connections and hands finished ones on at
//! once; `tcp` follows one connection, `handshake` its three-way handshake; `roles`
//! decides who is client; `zeek` keeps Zeek's state and history codes. TCP only: a connection hands its payload to the
//! analyzer it was given through `payload` (which the later analyzers stage
//! implements) and copies in the `AppRecord` it ends with, never reading a
//! protocol's internals.

pub mod community_id;
mod handshake;
pub mod key;
pub mod payload;
pub mod roles;
pub mod seq;
pub mod table;
pub mod tcp;
pub mod zeek;
