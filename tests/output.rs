//! What people see: the connection table on a real terminal (run inside tmux at 80 and
//! 200 columns), `--columns`, asking the timeline for a connection that is not there,
//! singular words for one thing, colour on a terminal (and off with NO_COLOR or
//! `--color never`) and the pager for output taller than the terminal.

mod common;

use common::{connscope, root, stderr, stdout};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// A detached tmux session of our own (its own server, so no user's tmux is touched),
/// killed when dropped.
struct Pane {
    socket: String,
}

impl Pane {
    /// `shell_command` in a pane `width` × `height`, run from the repository root; None
    /// when tmux is not installed.
    fn start(width: u16, height: u16, shell_command: &str) -> Option<Pane> {
        if Command::new("tmux").arg("-V").output().is_err() {
            eprintln!("output: tmux is not installed: the terminal tests were skipped");
            return None;
        }
        static SESSIONS: AtomicUsize = AtomicUsize::new(0);
        let pane = Pane {
            socket: format!(
                "connscope-test-{}-{}",
                std::process::id(),
                SESSIONS.fetch_add(1, Ordering::Relaxed)
            ),
        };
        let started = pane.tmux(&[
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-x",
            &width.to_string(),
            "-y",
            &height.to_string(),
            "-c",
            &root().display().to_string(),
            shell_command,
        ]);
        assert!(started.status.success(), "tmux: {}", stderr(&started));
        Some(pane)
    }

    fn tmux(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("run tmux")
    }

    /// The pane's text, history included; with `escapes`, its colours as escape codes.
    fn shot(&self, escapes: bool) -> String {
        let mut args = vec!["capture-pane", "-p", "-S", "-2000"];
        if escapes {
            args.push("-e");
        }
        stdout(&self.tmux(&args))
    }

    /// The pane once `done` holds for it (or after 30 s).
    fn wait_for(&self, escapes: bool, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let shot = self.shot(escapes);
            if done(&shot) || Instant::now() > deadline {
                return shot;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn keys(&self, keys: &str) {
        self.tmux(&["send-keys", keys]);
    }
}

impl Drop for Pane {
    fn drop(&mut self) {
        self.tmux(&["kill-server"]);
    }
}

/// `ENV… connscope ARGS…` in a pane `width` × `height` with the colour and pager
/// variables of the test's own environment taken away; the pane (escape codes
/// included when `escapes`) once it finished.
fn run_in_tmux(width: u16, height: u16, env: &str, args: &[&str], escapes: bool) -> Option<String> {
    let command = format!(
        "env -u NO_COLOR -u CLICOLOR_FORCE -u CLICOLOR -u PAGER -u CONNSCOPE_PAGER -u LESS {env} \
         {} {}; echo __done__; sleep 60",
        env!("CARGO_BIN_EXE_connscope"),
        args.join(" ")
    );
    let pane = Pane::start(width, height, &command)?;
    let shot = pane.wait_for(escapes, |s| s.contains("__done__"));
    assert!(
        shot.contains("__done__"),
        "connscope did not finish:\n{shot}"
    );
    Some(shot)
}

/// `connscope ARGS…` inside a detached tmux session `width` columns wide; the pane's
/// text (history included) once it finished, or None when tmux is not installed.
fn in_tmux(width: u16, args: &[&str]) -> Option<String> {
    run_in_tmux(width, 50, "", args, false)
}

/// The connection table's lines in a pane: from its top rule to its bottom rule.
fn table_lines(pane: &str) -> Vec<&str> {
    pane.lines()
        .skip_while(|l| !l.starts_with('┌'))
        .take_while(|l| !l.starts_with('└'))
        .collect()
}

/// The bug: at 80 columns every cell wrapped (a 170-line table became 1 178 lines).
/// Now each connection is one line, with the columns that fit.
#[test]
fn table_fits_an_80_column_terminal_one_line_per_connection() {
    let Some(pane) = in_tmux(80, &["analyze", "fixtures/go-two-servers.pcap"]) else {
        return;
    };
    let lines = table_lines(&pane);
    // Top rule, header, header rule, then one line per connection.
    let piped = stdout(&connscope(&["analyze", "fixtures/go-two-servers.pcap"]));
    let connections = table_lines(&piped).len() - 3;
    assert!(connections >= 2, "{piped}");
    assert_eq!(lines.len(), connections + 3, "wrapped rows:\n{pane}");
    for line in &lines {
        assert!(
            line.ends_with('│') || line.ends_with('┐') || line.ends_with('╡'),
            "a row wrapped: {line:?}\n{pane}"
        );
        assert!(line.chars().count() <= 80, "{line:?}");
    }
    let header = lines[1];
    for column in ["id", "client", "server", "requests", "close"] {
        assert!(header.contains(column), "{column} missing: {header}");
    }
    assert!(!header.contains("packets c/s"), "{header}");
    assert!(
        pane.contains("(to fit 80 columns, not shown: ") && pane.contains("--columns all"),
        "{pane}"
    );
}

#[test]
fn table_shows_every_column_on_a_200_column_terminal() {
    let Some(pane) = in_tmux(200, &["analyze", "fixtures/go-two-servers.pcap"]) else {
        return;
    };
    let lines = table_lines(&pane);
    let header = lines[1];
    for column in [
        "id",
        "client",
        "server",
        "start",
        "duration",
        "packets c/s",
        "bytes c/s",
        "rtt ms",
        "proto",
        "host / sni",
        "requests",
        "keep-alive",
        "close",
        "state",
    ] {
        assert!(header.contains(column), "{column} missing: {header}");
    }
    assert!(!pane.contains("not shown"), "{pane}");
    // The same table as through a pipe.
    let piped = stdout(&connscope(&["analyze", "fixtures/go-two-servers.pcap"]));
    assert_eq!(
        lines.iter().map(|l| l.trim_end()).collect::<Vec<_>>(),
        table_lines(&piped)
            .iter()
            .map(|l| l.trim_end())
            .collect::<Vec<_>>()
    );
}

#[test]
fn columns_picks_the_columns_in_table_order() {
    let out = connscope(&[
        "analyze",
        "--columns",
        "close,id,requests,client,server",
        "fixtures/go-parallel.pcap",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let lines = table_lines(&text);
    assert_eq!(
        lines[1]
            .split('┆')
            .map(|c| c.trim_matches(|ch| ch == ' ' || ch == '│'))
            .collect::<Vec<_>>(),
        ["id", "client", "server", "requests", "close"]
    );
    assert_eq!(
        lines[3],
        "│  1 ┆ 127.0.0.1:50748 ┆ 127.0.0.1:8080 ┆        1 ┆ fin by client │"
    );
    let all = connscope(&["analyze", "--columns", "all", "fixtures/go-parallel.pcap"]);
    let plain = connscope(&["analyze", "fixtures/go-parallel.pcap"]);
    assert_eq!(stdout(&all), stdout(&plain));
}

#[test]
fn an_unknown_column_is_a_usage_error_naming_the_columns() {
    let out = connscope(&[
        "analyze",
        "--columns",
        "id,colour",
        "fixtures/go-parallel.pcap",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stdout(&out), "");
    assert_eq!(
        stderr(&out),
        "connscope: error: --columns: no column \"colour\"; the columns are \
         id,client,server,start,duration,packets,bytes,rtt,proto,host,requests,keep-alive,\
         close,state (or `all`)\n"
    );
}

/// The bug: `timeline --conn 99` on a capture without connection 99 printed nothing
/// useful and exited 0.
#[test]
fn timeline_for_a_connection_that_does_not_exist_exits_2() {
    let out = connscope(&["timeline", "fixtures/go-parallel.pcap", "--conn", "99"]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert_eq!(
        stderr(&out),
        "connscope: error: --conn 99: no such connection in the capture (its connections are 1 to 2)\n"
    );
    // One that exists still gets its timeline, and the missing one still fails.
    let out = connscope(&[
        "timeline",
        "fixtures/go-parallel.pcap",
        "--conn",
        "2",
        "--conn",
        "3",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stdout(&out).starts_with("Connection 2:"),
        "{}",
        stdout(&out)
    );
    assert!(stderr(&out).contains("--conn 3: no such connection"));
}

/// A classic pcap of link type `link_type` holding one Ethernet frame with a TCP SYN,
/// written where the test can read it.
fn one_packet_capture(link_type: u32) -> PathBuf {
    let mut frame = Vec::new();
    etherparse::PacketBuilder::ethernet2([1; 6], [2; 6])
        .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        .tcp(40000, 80, 1, 1000)
        .syn()
        .write(&mut frame, &[])
        .expect("build the SYN");
    let mut file = Vec::new();
    file.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    file.extend_from_slice(&2u16.to_le_bytes());
    file.extend_from_slice(&4u16.to_le_bytes());
    file.extend_from_slice(&[0; 8]);
    file.extend_from_slice(&65535u32.to_le_bytes());
    file.extend_from_slice(&link_type.to_le_bytes());
    file.extend_from_slice(&1_700_000_000u32.to_le_bytes());
    file.extend_from_slice(&0u32.to_le_bytes());
    let len = frame.len() as u32;
    file.extend_from_slice(&len.to_le_bytes());
    file.extend_from_slice(&len.to_le_bytes());
    file.extend_from_slice(&frame);
    let path = std::env::temp_dir().join(format!(
        "connscope-one-{link_type}-{}.pcap",
        std::process::id()
    ));
    std::fs::write(&path, file).expect("write the capture");
    path
}

/// The bug: "1 packets" in the summary line.
#[test]
fn one_packet_is_singular() {
    let path = one_packet_capture(1);
    let out = connscope(&["analyze", &path.display().to_string()]);
    let _ = std::fs::remove_file(&path);
    let first = stdout(&out).lines().next().unwrap_or("").to_string();
    assert!(
        first.ends_with(": pcap EN10MB, 1 packet, 1 TCP, 1 connection"),
        "{first}"
    );
}

/// The bug: "its 1 packets were skipped".
#[test]
fn one_skipped_packet_is_singular() {
    let path = one_packet_capture(147);
    let out = connscope(&["analyze", &path.display().to_string()]);
    let _ = std::fs::remove_file(&path);
    assert!(
        stderr(&out)
            .contains("link type 147 is not one connscope decodes; its 1 packet was skipped"),
        "{}",
        stderr(&out)
    );
}

/// The lines of a pane that hold `word`.
fn lines_with<'a>(pane: &'a str, word: &str) -> Vec<&'a str> {
    pane.lines().filter(|l| l.contains(word)).collect()
}

#[test]
fn a_terminal_gets_colour_on_how_connections_closed() {
    let args = ["analyze", "fixtures/go-two-servers.pcap"];
    let Some(pane) = run_in_tmux(200, 50, "", &args, true) else {
        return;
    };
    let closed = lines_with(&pane, "fin by");
    assert!(!closed.is_empty(), "{pane}");
    for line in closed {
        assert!(line.contains("\x1b["), "no colour on {line:?}");
    }
    // The words stay: without the escape codes, the table a pipe gets.
    let piped = stdout(&connscope(&args));
    let plain = run_in_tmux(200, 50, "", &args, false).unwrap_or_default();
    let trimmed = |text: &str| -> Vec<String> {
        table_lines(text)
            .iter()
            .map(|l| l.trim_end().to_string())
            .collect()
    };
    assert_eq!(trimmed(&plain), trimmed(&piped));
}

#[test]
fn no_color_and_color_never_turn_colour_off_and_color_always_beats_no_color() {
    let args = ["analyze", "fixtures/go-two-servers.pcap"];
    let Some(no_color) = run_in_tmux(200, 50, "NO_COLOR=1", &args, true) else {
        return;
    };
    assert!(!no_color.contains('\x1b'), "{no_color:?}");
    let never = run_in_tmux(200, 50, "", &["--color", "never", args[0], args[1]], true);
    assert!(!never.unwrap_or_default().contains('\x1b'));
    let always = run_in_tmux(
        200,
        50,
        "NO_COLOR=1",
        &["--color", "always", args[0], args[1]],
        true,
    );
    assert!(always.unwrap_or_default().contains("\x1b["));
    // A pipe gets colour only when asked for.
    assert!(!stdout(&connscope(&args)).contains('\x1b'));
    let asked = connscope(&["analyze", "--color", "always", args[1]]);
    assert!(
        stdout(&asked).contains("\x1b[32mfin by client\x1b[0m"),
        "{}",
        stdout(&asked)
    );
}

#[test]
fn the_timeline_colours_its_phases_on_a_terminal() {
    let args = ["timeline", "fixtures/go-parallel.pcap", "--conn", "1"];
    let Some(pane) = run_in_tmux(120, 50, "", &args, true) else {
        return;
    };
    let handshake = lines_with(&pane, "handshake");
    assert!(
        !handshake.is_empty() && handshake.iter().all(|l| l.contains("\x1b[")),
        "{pane}"
    );
    let plain = run_in_tmux(120, 50, "NO_COLOR=1", &args, true).unwrap_or_default();
    assert!(
        plain.contains("handshake") && !plain.contains('\x1b'),
        "{plain}"
    );
}

/// Output taller than the terminal opens `less`; `q` quits it and connscope ends.
#[test]
fn output_taller_than_the_terminal_opens_the_pager_and_q_quits_it() {
    if Command::new("less").arg("--version").output().is_err() {
        eprintln!("output: less is not installed: the pager test was skipped");
        return;
    }
    let command = format!(
        "env -u PAGER -u CONNSCOPE_PAGER -u LESS {} analyze fixtures/go-two-servers.pcap; \
         echo __done__; sleep 60",
        env!("CARGO_BIN_EXE_connscope")
    );
    let Some(pane) = Pane::start(200, 8, &command) else {
        return;
    };
    // less shows the first screenful and waits at its `:` prompt.
    let paged = pane.wait_for(false, |s| s.lines().any(|l| l.trim_end() == ":"));
    assert!(!paged.contains("__done__"), "not paged:\n{paged}");
    assert!(
        paged.contains("fixtures/go-two-servers.pcap: pcap"),
        "{paged}"
    );
    pane.keys("q");
    let done = pane.wait_for(false, |s| s.contains("__done__"));
    assert!(
        done.contains("__done__"),
        "q did not quit the pager:\n{done}"
    );
    // Short enough, or --no-pager, or PAGER=cat: written straight out.
    for (env, flag) in [("", "--no-pager"), ("PAGER=cat", ""), ("", "")] {
        let height = if flag.is_empty() && env.is_empty() {
            50
        } else {
            8
        };
        let args = ["analyze", "fixtures/go-two-servers.pcap", flag];
        let pane = run_in_tmux(200, height, env, &args, false);
        assert!(pane.is_some_and(|p| p.contains("__done__")));
    }
}
