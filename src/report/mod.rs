//! The report: one model (`model`) that every renderer reads, so text and JSON never
//! disagree. Renderers: `table` (human), `json` (one document), `jsonl` (a line per
//! connection, streamed).

pub mod json;
pub mod model;
pub mod table;
