//! Live capture and BPF through libpcap (the `pcap` crate, feature `live`): opening an
//! interface in immediate mode, listing interfaces, compiling filters, saving what
//! was captured. Errors are turned into the one-line advice a user needs — no
//! permission, no such interface (with the ones that exist), a BPF syntax error.
//!
//! Not for reading files (`file`, pure Rust), nor for what to do with packets (`live`).

mod savefile;

use super::file::{ReadSummary, Warning};
use super::{Event, LinkType, RawPacket};
use crate::time::Timestamp;
use pcap::{Active, Capture, Device, Error};
use savefile::Savefile;
use std::collections::HashMap;
use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use thiserror::Error as ThisError;

/// The longest wait for a packet on a quiet interface before the caller gets control
/// back (to refresh the display, notice Ctrl-C): short enough to feel immediate.
const IDLE_PAUSE: std::time::Duration = std::time::Duration::from_millis(5);

/// The kernel's capture buffer (tcpdump -B). libpcap's 2 MB holds only eight blocks of
/// the largest snapshot length, a few milliseconds of traffic in immediate mode, so a
/// short pause (naming a connection's process) would drop packets.
const KERNEL_BUFFER: i32 = 32 << 20;

/// What a live capture needs to start.
#[derive(Clone, Debug)]
pub struct LiveOptions {
    pub interface: Option<String>,
    pub filter: Option<String>,
    pub snaplen: i32,
    pub promisc: bool,
}

/// One interface, as `connscope interfaces` lists it.
#[derive(Clone, Debug)]
pub struct Interface {
    pub name: String,
    pub description: Option<String>,
    pub addresses: Vec<String>,
    pub up: bool,
    pub loopback: bool,
}

/// Why a live capture could not start or go on: each says what to do about it.
#[derive(Debug, ThisError)]
pub enum LiveError {
    #[error("cannot list interfaces: {0}")]
    List(Error),
    #[error("no default interface: {0}")]
    NoDefault(Error),
    #[error("no default interface; name one with -i")]
    NoInterface,
    #[error("{interface}: {PERMISSION_ADVICE} ({detail})")]
    Permission { interface: String, detail: String },
    #[error("{interface}: no such interface; the interfaces are: {known}")]
    NoSuchInterface { interface: String, known: String },
    #[error("{interface}: cannot capture: {detail}")]
    Open { interface: String, detail: String },
    #[error("invalid BPF filter {expression:?}: {detail}")]
    Filter { expression: String, detail: String },
    #[error("cannot flush the capture file: {0}")]
    Flush(std::io::Error),
    /// libpcap could not make a compiler for `analyze --filter`.
    #[error("{0}")]
    Compiler(Error),
}

pub fn interfaces() -> Result<Vec<Interface>, LiveError> {
    let devices = Device::list().map_err(LiveError::List)?;
    Ok(devices
        .into_iter()
        .map(|d| Interface {
            addresses: d.addresses.iter().map(|a| a.addr.to_string()).collect(),
            up: d.flags.is_up(),
            loopback: d.flags.is_loopback(),
            description: d.desc,
            name: d.name,
        })
        .collect())
}

const PERMISSION_ADVICE: &str =
    "capturing needs root or CAP_NET_RAW and CAP_NET_ADMIN: run with sudo, or grant the \
capabilities with `sudo setcap cap_net_raw,cap_net_admin=eip $(command -v connscope)`";

fn describe_open_error(interface: &str, e: &Error) -> LiveError {
    let text = e.to_string();
    let lower = text.to_lowercase();
    let interface = interface.to_string();
    if lower.contains("permission") || lower.contains("not permitted") {
        LiveError::Permission {
            interface,
            detail: text,
        }
    } else if lower.contains("no such device")
        || lower.contains("doesn't exist")
        || lower.contains("no such")
    {
        let known = interfaces()
            .map(|list| {
                list.into_iter()
                    .map(|i| i.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default();
        LiveError::NoSuchInterface { interface, known }
    } else {
        LiveError::Open {
            interface,
            detail: text,
        }
    }
}

/// An open live capture.
pub struct Live {
    capture: Capture<Active>,
    pub interface: String,
    pub link_type: LinkType,
    savefile: Option<Savefile>,
    snaplen: i32,
    /// The capture's socket again, to wait on while the capture itself is borrowed.
    readable: OwnedFd,
    number: u64,
    last_ts: Option<Timestamp>,
}

/// What the capture loop got.
enum Next<'a> {
    Packet(RawPacket<'a>),
    /// No packet waiting: a chance to refresh and check for stop (after a short pause).
    Idle,
    /// The capture ended: the interface went away, or another error.
    Ended(String),
}

impl Live {
    pub fn open(opts: &LiveOptions) -> Result<Live, LiveError> {
        let interface = match &opts.interface {
            Some(name) => name.clone(),
            None if cfg!(target_os = "linux") => "any".to_string(),
            None => Device::lookup()
                .map_err(LiveError::NoDefault)?
                .map(|d| d.name)
                .ok_or(LiveError::NoInterface)?,
        };
        let capture = Capture::from_device(interface.as_str())
            .map_err(|e| describe_open_error(&interface, &e))?
            .promisc(opts.promisc)
            .snaplen(opts.snaplen)
            .immediate_mode(true)
            .buffer_size(KERNEL_BUFFER)
            .open()
            .map_err(|e| describe_open_error(&interface, &e))?;
        // In immediate mode Linux ignores the read timeout, so a quiet interface would
        // block forever: read non-blocking and let the caller pause between polls.
        let mut capture = capture
            .setnonblock()
            .map_err(|e| describe_open_error(&interface, &e))?;
        if let Some(filter) = &opts.filter {
            capture
                .filter(filter, true)
                .map_err(|e| LiveError::Filter {
                    expression: filter.clone(),
                    detail: e.to_string(),
                })?;
        }
        let link_type = LinkType(capture.get_datalink().0 as u32);
        let readable = capture
            .as_fd()
            .try_clone_to_owned()
            .map_err(|e| LiveError::Open {
                interface: interface.clone(),
                detail: e.to_string(),
            })?;
        Ok(Live {
            readable,
            capture,
            interface,
            link_type,
            savefile: None,
            snaplen: opts.snaplen,
            number: 0,
            last_ts: None,
        })
    }

    /// Starts saving every packet to `file`, opened by the caller (`privilege` opens it
    /// before root is given up).
    pub fn write_to(&mut self, file: File) {
        self.savefile = Some(Savefile::new(file, self.link_type, self.snaplen));
    }

    fn next_packet(&mut self) -> Next<'_> {
        match self.capture.next_packet() {
            Ok(packet) => {
                self.number += 1;
                let h = packet.header;
                // time_t is i64 on this platform, not on every one.
                #[allow(clippy::useless_conversion)]
                let secs = i64::from(h.ts.tv_sec);
                if let Some(file) = self.savefile.as_mut() {
                    file.write(secs, h.ts.tv_usec as u32, packet.data, h.len);
                }
                let ts = Timestamp::from_parts(secs, h.ts.tv_usec as u64, 1_000_000);
                self.last_ts = Some(ts);
                Next::Packet(RawPacket {
                    number: self.number,
                    ts,
                    link_type: self.link_type,
                    data: packet.data,
                    orig_len: h.len,
                })
            }
            Err(Error::TimeoutExpired) | Err(Error::NoMorePackets) => {
                wait_for_packets(&self.readable);
                Next::Idle
            }
            Err(e) => Next::Ended(format!("{}: capture stopped: {e}", self.interface)),
        }
    }

    /// Reads until `visit` says stop or the capture ends (then a warning says why),
    /// giving `visit` a [`Event::Pause`] (with this capture, for its counts) before
    /// each read.
    pub fn for_each(
        &mut self,
        mut visit: impl FnMut(Event<'_, '_>) -> std::ops::ControlFlow<()>,
    ) -> ReadSummary {
        let mut summary = ReadSummary {
            format: "live".to_string(),
            link_types: std::iter::once(self.link_type).collect(),
            ..ReadSummary::default()
        };
        while visit(Event::Pause(self)).is_continue() {
            match self.next_packet() {
                Next::Packet(packet) => {
                    summary.first_ts.get_or_insert(packet.ts);
                    summary.last_ts = Some(packet.ts);
                    summary.packets = packet.number;
                    if visit(Event::Packet(&packet)).is_break() {
                        break;
                    }
                }
                Next::Idle => {}
                Next::Ended(message) => {
                    // The interface went down, or libpcap gave up: report what we have.
                    summary.warnings.push(Warning {
                        packet: None,
                        message,
                    });
                    break;
                }
            }
        }
        summary
    }

    pub fn packets(&self) -> u64 {
        self.number
    }

    /// The newest packet's time: "now" for expiring idle connections.
    pub fn last_ts(&self) -> Option<Timestamp> {
        self.last_ts
    }

    /// libpcap's counts: (received, dropped by the kernel buffer, dropped by the interface).
    pub fn stats(&mut self) -> Option<(u32, u32, u32)> {
        self.capture
            .stats()
            .ok()
            .map(|s| (s.received, s.dropped, s.if_dropped))
    }

    /// Flushes the savefile so it is complete and valid.
    pub fn flush(&mut self) -> Result<(), LiveError> {
        match self.savefile.as_mut() {
            Some(file) => file.flush().map_err(LiveError::Flush),
            None => Ok(()),
        }
    }
}

/// Waits until a packet is readable on `capture` (a duplicate of the capture's socket)
/// or `IDLE_PAUSE` has passed. Waking on the packet rather than sleeping the whole pause
/// means a SYN is handled within microseconds, while its (perhaps short-lived) process
/// and socket still exist.
fn wait_for_packets(capture: &OwnedFd) {
    use nix::poll::{poll, PollFd, PollFlags};
    let mut fds = [PollFd::new(capture.as_fd(), PollFlags::POLLIN)];
    // IDLE_PAUSE fits a u16 of milliseconds.
    if poll(&mut fds, IDLE_PAUSE.as_millis() as u16).is_err() {
        std::thread::sleep(IDLE_PAUSE);
    }
}

/// A BPF filter applied to packets from files (`analyze --filter`), compiled once per
/// link type with libpcap, as tcpdump -r does.
pub struct BpfFilter {
    expression: String,
    programs: HashMap<LinkType, Option<pcap::BpfProgram>>,
}

impl BpfFilter {
    /// Checks the expression once (against Ethernet) so a typo is a usage error.
    pub fn new(expression: &str) -> Result<BpfFilter, LiveError> {
        let dead = Capture::dead(pcap::Linktype::ETHERNET).map_err(LiveError::Compiler)?;
        dead.compile(expression, true)
            .map_err(|e| LiveError::Filter {
                expression: expression.to_string(),
                detail: e.to_string(),
            })?;
        Ok(BpfFilter {
            expression: expression.to_string(),
            programs: HashMap::new(),
        })
    }

    pub fn matches(&mut self, packet: &RawPacket<'_>) -> bool {
        let expression = &self.expression;
        let program = self.programs.entry(packet.link_type).or_insert_with(|| {
            Capture::dead(pcap::Linktype(packet.link_type.0 as i32))
                .ok()
                .and_then(|dead| dead.compile(expression, true).ok())
        });
        // A filter that cannot apply to this link type keeps nothing of it.
        program.as_ref().is_some_and(|p| p.filter(packet.data))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_errors_say_how_to_fix_them() {
        let e = Error::PcapError("socket: Operation not permitted".into());
        let message = describe_open_error("eth0", &e).to_string();
        assert!(message.starts_with(
            "eth0: capturing needs root or CAP_NET_RAW and CAP_NET_ADMIN: run with sudo"
        ));
        assert!(message.contains("setcap cap_net_raw,cap_net_admin=eip"));
        let e =
            Error::PcapError("eth0: You don't have permission to capture on that device".into());
        assert!(describe_open_error("eth0", &e)
            .to_string()
            .contains("run with sudo"));
    }

    #[test]
    fn other_errors_keep_libpcap_s_words() {
        let e = Error::PcapError("something odd".into());
        assert_eq!(
            describe_open_error("eth9", &e).to_string(),
            "eth9: cannot capture: libpcap error: something odd"
        );
    }
}
