//! The report: one model (`model`) that every renderer reads, so text and JSON never
//! disagree. Renderers: `table` (human), `json` (one document, or a line per
//! connection, streamed), `zeek_logs` (Zeek's TSV conn/http/ssl logs, streamed).
//! `servers` derives the per-server rollup into the model. `style` decides whether
//! standard output gets colour and holds the palette; `pager` pages long output.

pub mod exchange;
pub mod figures;
pub mod finding;
pub mod fit;
pub mod html;
pub mod json;
pub mod model;
pub mod pager;
pub mod servers;
pub mod spill;
pub mod style;
pub mod table;
pub mod timeline;
pub mod zeek_logs;
