//! Which local process owns a connection (Linux, live capture): the socket's inode from
//! `/proc/net/tcp` and `tcp6`, then the process whose `/proc/PID/fd` holds that inode —
//! what `lsof -p PID` and `ss -p` do, through the `procfs` crate. Best effort: a socket
//! or process that is already gone, or one we may not read, is simply unknown.

use crate::flow::key::Endpoint;
use crate::report::model::ProcessInfo;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Rescanning every process's descriptors costs milliseconds; not more often than this.
const RESCAN_AFTER: Duration = Duration::from_millis(200);

#[derive(Default)]
pub struct ProcessMap {
    /// Socket inode → owner, from the last scan.
    owners: HashMap<u64, ProcessInfo>,
    scanned: Option<Instant>,
}

impl ProcessMap {
    /// The process owning the socket `local` ↔ `remote`, if one can be found.
    pub fn lookup(&mut self, local: Endpoint, remote: Endpoint) -> Option<ProcessInfo> {
        let inode = socket_inode(local, remote)?;
        if let Some(owner) = self.owners.get(&inode) {
            return Some(owner.clone());
        }
        if self.scanned.is_some_and(|t| t.elapsed() < RESCAN_AFTER) {
            return None;
        }
        self.rescan();
        self.owners.get(&inode).cloned()
    }

    fn rescan(&mut self) {
        self.scanned = Some(Instant::now());
        self.owners.clear();
        let Ok(processes) = procfs::process::all_processes() else {
            return;
        };
        for process in processes.flatten() {
            let Ok(fds) = process.fd() else { continue };
            let name = process.stat().map(|s| s.comm).unwrap_or_default();
            for fd in fds.flatten() {
                if let procfs::process::FDTarget::Socket(inode) = fd.target {
                    self.owners.entry(inode).or_insert_with(|| ProcessInfo {
                        pid: process.pid as u32,
                        name: name.clone(),
                    });
                }
            }
        }
    }
}

fn socket_inode(local: Endpoint, remote: Endpoint) -> Option<u64> {
    let matches = |l: std::net::SocketAddr, r: std::net::SocketAddr| {
        Endpoint::from(l) == local && Endpoint::from(r) == remote
    };
    let v4 = procfs::net::tcp().ok().into_iter().flatten();
    let v6 = procfs::net::tcp6().ok().into_iter().flatten();
    v4.chain(v6)
        .find(|e| matches(e.local_address, e.remote_address) && e.inode != 0)
        .map(|e| e.inode)
}
