//! The suite file (`connscope.toml`): many captures, each with its expectations, so a
//! project checks all its fixtures with `connscope check --suite connscope.toml`.
//!
//! ```toml
//! # Expectations for every capture below (optional).
//! expect = ["resets == 0"]
//!
//! [[capture]]
//! file = "fixtures/go-keepalive-reuse.pcap"   # relative to this file
//! expect = ["connections == 1", "connection_reused"]
//! ```

use serde::Deserialize;
use std::path::Path;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Suite {
    #[serde(default)]
    pub expect: Vec<String>,
    #[serde(default)]
    pub capture: Vec<Capture>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Capture {
    pub file: String,
    #[serde(default)]
    pub expect: Vec<String>,
}

/// Reads a suite; capture paths come back resolved against the suite's folder.
pub fn load(path: &Path) -> Result<Vec<(String, Vec<String>)>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    let suite: Suite = toml::from_str(&text)
        .map_err(|e| format!("{}: {}", path.display(), e.to_string().trim_end()))?;
    if suite.capture.is_empty() {
        return Err(format!("{}: no [[capture]] entries", path.display()));
    }
    let base = path.parent().unwrap_or(Path::new(""));
    suite
        .capture
        .into_iter()
        .map(|c| {
            let mut expect = suite.expect.clone();
            expect.extend(c.expect);
            if expect.is_empty() {
                return Err(format!(
                    "{}: capture {:?} has no expectations",
                    path.display(),
                    c.file
                ));
            }
            let file = if Path::new(&c.file).is_absolute() || c.file == "-" {
                c.file
            } else {
                base.join(&c.file).to_string_lossy().into_owned()
            };
            Ok((file, expect))
        })
        .collect()
}
