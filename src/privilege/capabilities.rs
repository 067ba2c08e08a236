//! The two Linux capabilities connscope keeps after giving up root, and nothing else.
//!
//! Naming a connection's process means finding which process holds the socket's inode
//! in `/proc/PID/fd`. For another user's process the kernel asks two things: may we
//! list the directory (mode 0500, its owner's; `CAP_DAC_READ_SEARCH` passes the
//! permission check) and may we look inside the process at all (a ptrace "read" access
//! check on every `/proc/PID/fd/N` link; `CAP_SYS_PTRACE` passes it). Neither lets
//! connscope write a file, signal, trace or become anyone: `PTRACE_ATTACH` itself
//! needs a process connscope could then control, and connscope never calls it.
//!
//! Capabilities are per thread: this runs on the main thread before any other starts,
//! so threads started later inherit the trimmed sets.

use super::PrivilegeError;
use caps::{CapSet, Capability, CapsHashSet};

/// The capabilities kept, in the order they are named to the user.
pub const KEPT: [Capability; 2] = [Capability::CAP_SYS_PTRACE, Capability::CAP_DAC_READ_SEARCH];

fn kept_set() -> CapsHashSet {
    KEPT.into_iter().collect()
}

fn failed(step: &'static str) -> impl Fn(caps::errors::CapsError) -> PrivilegeError {
    move |e| PrivilegeError::Capabilities {
        step,
        message: e.to_string(),
    }
}

/// Before `setresuid`: trims the bounding set to the kept two (so no later exec can
/// regain more) and asks the kernel to keep the permitted set across the uid change
/// (`PR_SET_KEEPCAPS`), which otherwise empties it.
pub fn keep_across_setuid() -> Result<(), PrivilegeError> {
    let kept = kept_set();
    let bounding =
        caps::read(None, CapSet::Bounding).map_err(failed("reading the bounding set"))?;
    // In a fixed order, so a failure names the same capability every time.
    let mut extra: Vec<Capability> = bounding.difference(&kept).copied().collect();
    extra.sort_by_key(|c| c.index());
    for cap in extra {
        caps::drop(None, CapSet::Bounding, cap).map_err(failed("trimming the bounding set"))?;
    }
    nix::sys::prctl::set_keepcaps(true).map_err(|source| PrivilegeError::Drop {
        step: "prctl(PR_SET_KEEPCAPS)",
        source,
    })
}

/// After `setresuid`: permitted and effective hold only the kept capabilities the
/// process had; inheritable and ambient are empty; `PR_SET_KEEPCAPS` is off again.
/// Returns the names of those kept, and checks the kernel agrees.
pub fn raise_kept() -> Result<Vec<String>, PrivilegeError> {
    let permitted = caps::read(None, CapSet::Permitted).map_err(failed("reading capabilities"))?;
    let kept: CapsHashSet = permitted.intersection(&kept_set()).copied().collect();
    caps::set(None, CapSet::Permitted, &kept).map_err(failed("setting permitted"))?;
    caps::set(None, CapSet::Effective, &kept).map_err(failed("setting effective"))?;
    caps::clear(None, CapSet::Inheritable).map_err(failed("clearing inheritable"))?;
    // Ambient capabilities exist from Linux 4.3; an older kernel has none to clear.
    let _ = caps::clear(None, CapSet::Ambient);
    nix::sys::prctl::set_keepcaps(false).map_err(|source| PrivilegeError::Drop {
        step: "prctl(PR_SET_KEEPCAPS)",
        source,
    })?;
    for set in [CapSet::Permitted, CapSet::Effective] {
        let now = caps::read(None, set).map_err(failed("reading capabilities"))?;
        if now != kept {
            return Err(PrivilegeError::NotDropped(format!(
                "{set:?} capabilities are {}",
                names(&now).join(", ")
            )));
        }
    }
    Ok(names(&kept))
}

/// The capabilities in `set` by name, in `KEPT`'s order and then by number.
fn names(set: &CapsHashSet) -> Vec<String> {
    let mut caps: Vec<Capability> = set.iter().copied().collect();
    caps.sort_by_key(|c| {
        (
            KEPT.iter().position(|k| k == c).unwrap_or(KEPT.len()),
            c.index(),
        )
    });
    caps.into_iter().map(|c| c.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_in_a_fixed_order() {
        let set: CapsHashSet = [
            Capability::CAP_DAC_READ_SEARCH,
            Capability::CAP_SYS_PTRACE,
            Capability::CAP_NET_RAW,
        ]
        .into_iter()
        .collect();
        assert_eq!(
            names(&set),
            ["CAP_SYS_PTRACE", "CAP_DAC_READ_SEARCH", "CAP_NET_RAW"]
        );
    }
}
