//! Which local process owns a connection (Linux, live capture), asked when the
//! connection's first packet is seen so a connection of a few milliseconds still gets
//! its process while that process exists.
//!
//! Two steps, as `ss -p` takes them. The kernel names the socket: one sock_diag netlink
//! request (`inet_diag`, an exact lookup by the connection's addresses and ports) gives
//! its inode and owner uid without reading all of `/proc/net/tcp`. Then the process
//! holding that inode in `/proc/PID/fd`: the owners of the last few connections first,
//! then processes started since the last look, then those of the socket's uid (or of hidden ownership), then the rest, until the
//! inode turns up; every socket seen on the way is remembered, so most connections of
//! a busy process need no scan, and a short-lived client is read first. After root
//! is dropped this reading needs the two capabilities `privilege` keeps.
//!
//! Best effort: a socket or process that is already gone, or one we may not read, is
//! simply unknown. Where netlink is refused, `/proc/net/tcp` and `tcp6` stand in.

use crate::flow::key::Endpoint;
use crate::report::model::ProcessInfo;
use netlink_packet_core::{NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_REQUEST};
use netlink_packet_sock_diag::constants::{AF_INET, AF_INET6, IPPROTO_TCP};
use netlink_packet_sock_diag::inet::{ExtensionFlags, InetRequest, SocketId, StateFlags};
use netlink_packet_sock_diag::SockDiagMessage;
use netlink_sys::{protocols::NETLINK_SOCK_DIAG, Socket, SocketAddr};
use std::collections::HashMap;
use std::net::IpAddr;

/// Remembered socket owners at most; past it the memory starts again from empty (a
/// socket's inode is not reused soon, so the entries of closed sockets are only waste).
const MAX_REMEMBERED: usize = 65_536;

/// The kernel's owner of one socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SocketOwner {
    pub inode: u64,
    pub uid: u32,
}

pub struct ProcessMap {
    diag: Option<SockDiag>,
    /// Netlink was tried and refused: use `/proc/net/tcp` from then on.
    diag_refused: bool,
    /// Socket inode → owner, from the scans so far.
    owners: HashMap<u64, ProcessInfo>,
    /// The pids that existed at the last look, sorted: a pid not among them is a new
    /// process, the likeliest owner of a new connection.
    known: Vec<i32>,
    /// Pids that owned a looked-up socket lately, most recent last (a few): a client
    /// that opened one connection will likely open the next.
    recent: Vec<i32>,
    /// Reused between scans: the pids to read, with the order to read them in.
    pids: Vec<(Likelihood, i32)>,
}

/// How many recent owners are read first.
const RECENT_OWNERS: usize = 8;

/// The order processes are read in when looking for a socket's owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Likelihood {
    /// Owned a connection looked up lately.
    Recent,
    /// Started since the last look: a short-lived client.
    New,
    /// Runs as the socket's uid, or hides its uid (not dumpable).
    SameUser,
    /// Anyone else: a daemon that changed uid after opening the socket.
    Other,
}

impl Default for ProcessMap {
    /// Notes which processes exist now, so that the first connection's owner, if it is
    /// a process started after this, is found first.
    fn default() -> Self {
        let mut map = ProcessMap {
            diag: None,
            diag_refused: false,
            owners: HashMap::new(),
            known: Vec::new(),
            recent: Vec::new(),
            pids: Vec::new(),
        };
        if let Ok(processes) = procfs::process::all_processes() {
            map.known.extend(processes.flatten().map(|p| p.pid));
            map.known.sort_unstable();
        }
        map
    }
}

impl ProcessMap {
    /// The process owning the socket `local` ↔ `remote`, if one can be found.
    pub fn lookup(&mut self, local: Endpoint, remote: Endpoint) -> Option<ProcessInfo> {
        let socket = self.socket_owner(local, remote)?;
        if let Some(owner) = self.owners.get(&socket.inode) {
            return Some(owner.clone());
        }
        self.scan_for(socket);
        self.owners.get(&socket.inode).cloned()
    }

    fn socket_owner(&mut self, local: Endpoint, remote: Endpoint) -> Option<SocketOwner> {
        if !self.diag_refused {
            if self.diag.is_none() {
                self.diag = SockDiag::open();
                self.diag_refused = self.diag.is_none();
            }
            if let Some(diag) = self.diag.as_mut() {
                return match diag.find(local, remote) {
                    Ok(found) => found,
                    Err(()) => {
                        self.diag = None;
                        self.diag_refused = true;
                        proc_net_owner(local, remote)
                    }
                };
            }
        }
        proc_net_owner(local, remote)
    }

    /// Reads the descriptors of the processes that may hold `socket`, newest first,
    /// until it is found, remembering every socket seen.
    fn scan_for(&mut self, socket: SocketOwner) {
        if self.owners.len() > MAX_REMEMBERED {
            self.owners.clear();
        }
        // The owners of the last connections first, before listing /proc at all: a
        // client's next connection may last only milliseconds.
        for index in (0..self.recent.len()).rev() {
            let pid = self.recent[index];
            if self.read_process(pid, socket.inode) {
                self.note_owner(pid);
                return;
            }
        }
        let Ok(processes) = procfs::process::all_processes() else {
            return;
        };
        self.pids.clear();
        for process in processes.flatten() {
            // A process's /proc directory belongs to its uid, or to root when the
            // process is not dumpable (setuid programs, connscope itself).
            let likelihood = if self.recent.contains(&process.pid) {
                Likelihood::Recent
            } else if self.known.binary_search(&process.pid).is_err() {
                Likelihood::New
            } else if process.uid().is_ok_and(|uid| uid == socket.uid || uid == 0) {
                Likelihood::SameUser
            } else {
                Likelihood::Other
            };
            self.pids.push((likelihood, process.pid));
        }
        self.known.clear();
        self.known.extend(self.pids.iter().map(|&(_, pid)| pid));
        self.known.sort_unstable();
        // Within a class, higher pids first: often younger, though pids wrap.
        self.pids
            .sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
        let pids = std::mem::take(&mut self.pids);
        let found = pids
            .iter()
            .filter(|(likelihood, _)| *likelihood != Likelihood::Recent)
            .find(|&&(_, pid)| self.read_process(pid, socket.inode));
        if let Some(&(_, pid)) = found {
            self.note_owner(pid);
        }
        self.pids = pids;
    }

    /// Remembers every socket of `pid`; whether `inode` is among them.
    fn read_process(&mut self, pid: i32, inode: u64) -> bool {
        let Ok(process) = procfs::process::Process::new(pid) else {
            return false;
        };
        let Ok(fds) = process.fd() else {
            return false;
        };
        let mut name = None;
        let mut found = false;
        for fd in fds.flatten() {
            if let procfs::process::FDTarget::Socket(socket) = fd.target {
                let name =
                    name.get_or_insert_with(|| process.stat().map(|s| s.comm).unwrap_or_default());
                found |= socket == inode;
                self.owners.entry(socket).or_insert_with(|| ProcessInfo {
                    pid: pid as u32,
                    name: name.clone(),
                });
            }
        }
        found
    }

    fn note_owner(&mut self, pid: i32) {
        self.recent.retain(|&p| p != pid);
        if self.recent.len() == RECENT_OWNERS {
            self.recent.remove(0);
        }
        self.recent.push(pid);
    }
}

/// A sock_diag netlink socket, opened once.
struct SockDiag {
    socket: Socket,
    sequence: u32,
    request: Vec<u8>,
    reply: Vec<u8>,
}

impl SockDiag {
    fn open() -> Option<SockDiag> {
        let mut socket = Socket::new(NETLINK_SOCK_DIAG).ok()?;
        socket.bind_auto().ok()?;
        socket.connect(&SocketAddr::new(0, 0)).ok()?;
        Some(SockDiag {
            socket,
            sequence: 0,
            request: Vec::new(),
            reply: vec![0; 8192],
        })
    }

    /// The socket whose local end is `local` and remote end `remote`: `Ok(None)` when the
    /// kernel has none (or it has no inode any more: closed, in TIME-WAIT), `Err` when
    /// netlink itself failed.
    fn find(&mut self, local: Endpoint, remote: Endpoint) -> Result<Option<SocketOwner>, ()> {
        self.sequence = self.sequence.wrapping_add(1);
        let request = exact_request(local, remote, self.sequence).ok_or(())?;
        self.request.resize(request.buffer_len(), 0);
        request.serialize(&mut self.request);
        self.socket.send(&self.request, 0).map_err(|_| ())?;
        loop {
            let size = self
                .socket
                .recv(&mut &mut self.reply[..], 0)
                .map_err(|_| ())?;
            let mut offset = 0;
            while offset < size {
                let bytes = self.reply.get(offset..size).ok_or(())?;
                let message =
                    NetlinkMessage::<SockDiagMessage>::deserialize(bytes).map_err(|_| ())?;
                let length = message.header.length as usize;
                if message.header.sequence_number == self.sequence {
                    return Ok(match message.payload {
                        NetlinkPayload::InnerMessage(SockDiagMessage::InetResponse(r)) => {
                            (r.header.inode != 0).then_some(SocketOwner {
                                inode: u64::from(r.header.inode),
                                uid: r.header.uid,
                            })
                        }
                        // ENOENT: no such socket; anything else: not ours to know.
                        _ => None,
                    });
                }
                if length == 0 {
                    break;
                }
                offset += length;
            }
        }
    }
}

/// One `inet_diag` request for exactly the TCP socket `local` ↔ `remote`.
fn exact_request(
    local: Endpoint,
    remote: Endpoint,
    sequence: u32,
) -> Option<NetlinkMessage<SockDiagMessage>> {
    let family = match (local.ip, remote.ip) {
        (IpAddr::V4(_), IpAddr::V4(_)) => AF_INET,
        (IpAddr::V6(_), IpAddr::V6(_)) => AF_INET6,
        _ => return None,
    };
    let mut header = NetlinkHeader::default();
    // Without NLM_F_DUMP the kernel looks the one socket up by its addresses.
    header.flags = NLM_F_REQUEST;
    header.sequence_number = sequence;
    let mut message = NetlinkMessage::new(
        header,
        SockDiagMessage::InetRequest(InetRequest {
            family,
            protocol: IPPROTO_TCP,
            extensions: ExtensionFlags::empty(),
            states: StateFlags::all(),
            socket_id: SocketId {
                source_port: local.port,
                destination_port: remote.port,
                source_address: local.ip,
                destination_address: remote.ip,
                interface_id: 0,
                // INET_DIAG_NOCOOKIE: any socket with these addresses.
                cookie: [0xff; 8],
            },
        })
        .into(),
    );
    message.finalize();
    Some(message)
}

/// The socket from `/proc/net/tcp` and `tcp6`, read whole: where netlink is refused.
fn proc_net_owner(local: Endpoint, remote: Endpoint) -> Option<SocketOwner> {
    let matches = |l: std::net::SocketAddr, r: std::net::SocketAddr| {
        Endpoint::from(l) == local && Endpoint::from(r) == remote
    };
    let v4 = procfs::net::tcp().ok().into_iter().flatten();
    let v6 = procfs::net::tcp6().ok().into_iter().flatten();
    v4.chain(v6)
        .find(|e| matches(e.local_address, e.remote_address) && e.inode != 0)
        .map(|e| SocketOwner {
            inode: e.inode,
            uid: e.uid,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};

    fn endpoint(addr: std::net::SocketAddr) -> Endpoint {
        Endpoint::from(addr)
    }

    /// The inode of one of this process's own sockets, read from /proc/self/fd.
    fn own_socket_inodes() -> Vec<u64> {
        procfs::process::Process::myself()
            .expect("myself")
            .fd()
            .expect("fds")
            .flatten()
            .filter_map(|fd| match fd.target {
                procfs::process::FDTarget::Socket(inode) => Some(inode),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn sock_diag_names_both_ends_of_a_loopback_connection() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let client = TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        let (server, _) = listener.accept().expect("accept");
        let (c, s) = (
            endpoint(client.local_addr().expect("addr")),
            endpoint(server.local_addr().expect("addr")),
        );
        let Some(mut diag) = SockDiag::open() else {
            eprintln!("process: no sock_diag netlink here; skipped");
            return;
        };
        let client_end = diag.find(c, s).expect("netlink").expect("client socket");
        let server_end = diag.find(s, c).expect("netlink").expect("server socket");
        assert_ne!(client_end.inode, server_end.inode);
        let mine = own_socket_inodes();
        assert!(mine.contains(&client_end.inode), "{client_end:?} {mine:?}");
        assert!(mine.contains(&server_end.inode), "{server_end:?} {mine:?}");
        assert_eq!(client_end.uid, nix::unistd::getuid().as_raw());
        // The same answer /proc/net/tcp gives.
        assert_eq!(proc_net_owner(c, s), Some(client_end));
        // A port nobody uses: no socket.
        let nowhere = Endpoint { ip: c.ip, port: 1 };
        assert_eq!(diag.find(nowhere, s).expect("netlink"), None);
    }

    #[test]
    fn a_connection_is_named_after_this_process() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let client = TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        let (c, s) = (
            endpoint(client.local_addr().expect("addr")),
            endpoint(listener.local_addr().expect("addr")),
        );
        let mut map = ProcessMap::default();
        let owner = map.lookup(c, s).expect("an owner");
        assert_eq!(owner.pid, std::process::id());
        let comm = procfs::process::Process::myself()
            .and_then(|p| p.stat())
            .map(|s| s.comm)
            .expect("comm");
        assert_eq!(owner.name, comm);
        // Mixed families never match a socket.
        let v6 = Endpoint {
            ip: "::1".parse().expect("ip"),
            port: s.port,
        };
        assert_eq!(map.lookup(c, v6), None);
    }
}
