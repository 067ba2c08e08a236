//! TCP connection tracking: one entry per connection, keyed by its 4-tuple, in one
//! streaming pass. `table` holds the live connections and hands finished ones on at
//! once; `tcp` follows one connection; `zeek` keeps Zeek's state and history codes.

pub mod community_id;
pub mod key;
pub mod seq;
pub mod table;
pub mod tcp;
pub mod zeek;
