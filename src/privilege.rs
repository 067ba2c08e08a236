//! Root for as short a time as possible in `connscope live`: everything that needs it is
//! opened first — the capture handle (by the caller), then the `--write` file, created
//! by root and handed to the unprivileged user as dumpcap does — and then connscope
//! becomes the invoking sudo user (`SUDO_UID`), or `nobody`, with no supplementary
//! groups. On Linux it keeps exactly two capabilities, `CAP_SYS_PTRACE` and
//! `CAP_DAC_READ_SEARCH`, because naming the process behind a socket means reading
//! other users' `/proc/PID/fd` (see `capabilities` and docs/live.md).
//!
//! Not for capturing itself (`capture::live`) nor for finding processes (`process`).

#[cfg(target_os = "linux")]
mod capabilities;

use crate::capture::live::Live;
use nix::unistd::{geteuid, getgroups, getresgid, getresuid, setgid, setuid, Gid, Uid};
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io;

/// The uid and gid of `nobody` where the user database has no such entry.
const NOBODY: u32 = 65534;

/// The unprivileged account connscope runs as after the capture is open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    pub uid: u32,
    pub gid: u32,
    pub name: String,
}

/// What the drop left: who connscope is now, and the capabilities it kept.
#[derive(Clone, Debug)]
pub struct Dropped {
    pub account: Account,
    /// Capability names, in a fixed order; empty where none were kept.
    pub kept: Vec<String>,
}

impl fmt::Display for Dropped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (uid {})", self.account.name, self.account.uid)?;
        if !self.kept.is_empty() {
            write!(
                f,
                ", keeping only {} to name each connection's process",
                self.kept.join(" and ")
            )?;
        }
        Ok(())
    }
}

/// Why root could not be given up safely; every one stops the capture.
#[derive(Debug)]
pub enum PrivilegeError {
    /// The `--write` file could not be created or opened.
    Write { path: String, source: io::Error },
    /// The new `--write` file could not be handed to the unprivileged user.
    Chown {
        path: String,
        uid: u32,
        source: io::Error,
    },
    /// A step of the drop itself failed (`setgroups`, `setresuid`, …).
    Drop {
        step: &'static str,
        source: nix::Error,
    },
    /// Reading or setting capabilities failed.
    Capabilities { step: &'static str, message: String },
    /// The drop returned success but the process can still act as root.
    NotDropped(String),
}

impl fmt::Display for PrivilegeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const STAY: &str = "use --keep-privileges to stay root";
        match self {
            PrivilegeError::Write { path, source } => write!(f, "{path}: cannot write: {source}"),
            PrivilegeError::Chown { path, uid, source } => {
                write!(f, "{path}: cannot give the file to uid {uid}: {source}")
            }
            PrivilegeError::Drop { step, source } => {
                write!(f, "cannot drop privileges ({step}): {source}; {STAY}")
            }
            PrivilegeError::Capabilities { step, message } => {
                write!(f, "cannot drop privileges ({step}): {message}; {STAY}")
            }
            PrivilegeError::NotDropped(what) => {
                write!(f, "privileges were not dropped: {what}; {STAY}")
            }
        }
    }
}

impl std::error::Error for PrivilegeError {}

/// Opens the `--write` file (if any) for `live` while still privileged, then drops root
/// unless `keep_privileges` says not to. `None` when connscope was not root (nothing to
/// drop) or was told to stay root.
pub fn open_then_drop(
    live: &mut Live,
    write: Option<&str>,
    keep_privileges: bool,
) -> Result<Option<Dropped>, PrivilegeError> {
    let account = (geteuid().is_root() && !keep_privileges).then(|| unprivileged_account(env_var));
    if let Some(path) = write {
        live.write_to(create_savefile(path, account.as_ref())?);
    }
    account.map(drop_to).transpose()
}

fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Who to become: the user who ran `sudo` (`SUDO_UID`, `SUDO_GID`, `SUDO_USER`), as
/// tcpdump and Wireshark do, else `nobody`. A sudo user of uid 0 is root itself, so
/// it means `nobody` too.
pub fn unprivileged_account(env: impl Fn(&str) -> Option<String>) -> Account {
    let id = |name: &str| env(name).and_then(|v| v.trim().parse::<u32>().ok());
    if let (Some(uid), Some(gid)) = (id("SUDO_UID"), id("SUDO_GID")) {
        if uid != 0 {
            let name = env("SUDO_USER").unwrap_or_else(|| format!("uid {uid}"));
            return Account { uid, gid, name };
        }
    }
    match nix::unistd::User::from_name("nobody") {
        Ok(Some(user)) => Account {
            uid: user.uid.as_raw(),
            gid: user.gid.as_raw(),
            name: user.name,
        },
        _ => Account {
            uid: NOBODY,
            gid: NOBODY,
            name: "nobody".to_string(),
        },
    }
}

/// Creates the `--write` file as the current (privileged) user. A file root creates is
/// given to `owner`, so the user can read what they captured; an existing file is
/// truncated and keeps its owner. As root a symbolic link is not followed: a link
/// planted in a shared folder must not make root overwrite another file.
pub fn create_savefile(path: &str, owner: Option<&Account>) -> Result<File, PrivilegeError> {
    use std::os::unix::fs::OpenOptionsExt;
    let write_error = |source| PrivilegeError::Write {
        path: path.to_string(),
        source,
    };
    let Some(owner) = owner else {
        return File::create(path).map_err(write_error);
    };
    // O_CREAT|O_EXCL never follows a link, so the file made here is new and ours.
    match OpenOptions::new().write(true).create_new(true).open(path) {
        Ok(file) => {
            std::os::unix::fs::fchown(&file, Some(owner.uid), Some(owner.gid)).map_err(
                |source| PrivilegeError::Chown {
                    path: path.to_string(),
                    uid: owner.uid,
                    source,
                },
            )?;
            Ok(file)
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => OpenOptions::new()
            .write(true)
            .truncate(true)
            .custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits())
            .open(path)
            .map_err(write_error),
        Err(e) => Err(write_error(e)),
    }
}

/// Becomes `account` for good (real, effective and saved ids), with no supplementary
/// groups and, on Linux, only the capabilities process lookup needs; then checks that
/// root cannot be taken back.
fn drop_to(account: Account) -> Result<Dropped, PrivilegeError> {
    use nix::unistd::{setgroups, setresgid, setresuid};
    let (uid, gid) = (Uid::from_raw(account.uid), Gid::from_raw(account.gid));
    let step = |step| move |source| PrivilegeError::Drop { step, source };
    #[cfg(target_os = "linux")]
    capabilities::keep_across_setuid()?;
    setgroups(&[]).map_err(step("setgroups"))?;
    setresgid(gid, gid, gid).map_err(step("setresgid"))?;
    setresuid(uid, uid, uid).map_err(step("setresuid"))?;
    #[cfg(target_os = "linux")]
    let kept = capabilities::raise_kept()?;
    #[cfg(not(target_os = "linux"))]
    let kept = Vec::new();
    verify(&account)?;
    Ok(Dropped { account, kept })
}

/// The drop took: every id is the account's, no group is left, and asking for root
/// back fails.
fn verify(account: &Account) -> Result<(), PrivilegeError> {
    let not = |what: String| Err(PrivilegeError::NotDropped(what));
    let (uid, gid) = (Uid::from_raw(account.uid), Gid::from_raw(account.gid));
    match getresuid() {
        Ok(ids) if ids.real == uid && ids.effective == uid && ids.saved == uid => {}
        Ok(ids) => return not(format!("user ids are {ids:?}")),
        Err(e) => return not(format!("getresuid: {e}")),
    }
    match getresgid() {
        Ok(ids) if ids.real == gid && ids.effective == gid && ids.saved == gid => {}
        Ok(ids) => return not(format!("group ids are {ids:?}")),
        Err(e) => return not(format!("getresgid: {e}")),
    }
    match getgroups() {
        Ok(groups) if groups.iter().all(|g| *g == gid) => {}
        Ok(groups) => return not(format!("supplementary groups {groups:?} remain")),
        Err(e) => return not(format!("getgroups: {e}")),
    }
    if setuid(Uid::from_raw(0)).is_ok() {
        return not("setuid(0) succeeded".into());
    }
    if setgid(Gid::from_raw(0)).is_ok() {
        return not("setgid(0) succeeded".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env<'a>(vars: &'a [(&str, &str)]) -> impl Fn(&str) -> Option<String> + 'a {
        let map: HashMap<&str, &str> = vars.iter().copied().collect();
        move |name| map.get(name).map(|v| v.to_string())
    }

    #[test]
    fn under_sudo_the_invoking_user_is_the_account() {
        let vars = [
            ("SUDO_UID", "1000"),
            ("SUDO_GID", "1001"),
            ("SUDO_USER", "alice"),
        ];
        assert_eq!(
            unprivileged_account(env(&vars)),
            Account {
                uid: 1000,
                gid: 1001,
                name: "alice".into()
            }
        );
    }

    #[test]
    fn plain_root_or_sudo_from_root_becomes_nobody() {
        let nobody = nix::unistd::User::from_name("nobody")
            .ok()
            .flatten()
            .map_or((NOBODY, NOBODY), |u| (u.uid.as_raw(), u.gid.as_raw()));
        for vars in [
            &[][..],
            &[("SUDO_UID", "0"), ("SUDO_GID", "0"), ("SUDO_USER", "root")][..],
            &[("SUDO_UID", "x1000"), ("SUDO_GID", "1000")][..],
            &[("SUDO_UID", "1000")][..],
        ] {
            let account = unprivileged_account(env(vars));
            assert_eq!((account.uid, account.gid), nobody, "{vars:?}");
            assert_eq!(account.name, "nobody");
        }
    }

    #[test]
    fn a_new_savefile_is_given_to_the_account_and_an_old_one_keeps_its_owner() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("new.pcap");
        let path = path.to_str().expect("utf-8");
        let me = Account {
            uid: nix::unistd::getuid().as_raw(),
            gid: nix::unistd::getgid().as_raw(),
            name: "me".into(),
        };
        create_savefile(path, Some(&me)).expect("created");
        let meta = std::fs::metadata(path).expect("exists");
        assert_eq!((meta.uid(), meta.gid()), (me.uid, me.gid));
        std::fs::write(path, b"old bytes").expect("write");
        create_savefile(path, Some(&me)).expect("reopened");
        assert_eq!(std::fs::metadata(path).expect("exists").len(), 0);
    }

    #[test]
    fn a_symbolic_link_is_not_followed_when_privileged() {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("precious");
        std::fs::write(&target, b"keep me").expect("write");
        let link = dir.path().join("capture.pcap");
        std::os::unix::fs::symlink(&target, &link).expect("symlink");
        let me = unprivileged_account(|_| None);
        let err = create_savefile(link.to_str().expect("utf-8"), Some(&me))
            .expect_err("a link is refused");
        assert!(err.to_string().contains("cannot write"), "{err}");
        assert_eq!(std::fs::read(&target).expect("read"), b"keep me");
    }
}
