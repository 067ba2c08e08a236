//! Standard output through a pager when it is taller than the terminal, as git and bat
//! do: the first screenful is held back; if the output ends within it, it is written
//! as is, else `$PAGER` (default `less`, with `LESS=FRX` unless `LESS` is set) is
//! started and everything goes through it. `CONNSCOPE_PAGER` beats `PAGER`; either
//! set to nothing or to `cat` turns paging off, as `--no-pager` does.
//!
//! A small `std::process` writer rather than a crate: `pager` forks and makes the
//! pager the parent of the process from the start (unsafe libc, no way to look at the
//! output's height first, last released 2020), and `minus` is an in-process pager with
//! its own keys instead of the user's `less`.

use std::io::{self, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use unicode_width::UnicodeWidthChar;

/// Output held back beyond this many bytes goes to the pager whatever its height: a
/// screenful is never this large, and the hold stays bounded.
const HOLD_MAX: usize = 1 << 20;

/// Standard output, or the pager's input once the output outgrew the terminal.
pub struct PagedStdout {
    state: State,
    /// The terminal's size: (columns, rows).
    screen: (usize, usize),
    /// The pager's shell command; `None`: never page.
    command: Option<String>,
}

enum State {
    /// Not yet a screenful: held.
    Holding(Vec<u8>),
    Direct(io::Stdout),
    Paging(Child, ChildStdin),
}

impl PagedStdout {
    /// Standard output, paged when `page` (a terminal, no `--no-pager`) and a pager is
    /// configured.
    pub fn new(page: bool) -> PagedStdout {
        let command = if page {
            pager_command(
                std::env::var("CONNSCOPE_PAGER").ok().as_deref(),
                std::env::var("PAGER").ok().as_deref(),
            )
        } else {
            None
        };
        let size = terminal_size::terminal_size_of(io::stdout());
        let screen = size.map_or((80, 24), |(w, h)| {
            (usize::from(w.0).max(1), usize::from(h.0).max(1))
        });
        PagedStdout {
            state: match command {
                Some(_) => State::Holding(Vec::new()),
                None => State::Direct(io::stdout()),
            },
            screen,
            command,
        }
    }

    /// Writes what is held and waits for the pager to be quit.
    fn finish(&mut self) -> io::Result<()> {
        match std::mem::replace(&mut self.state, State::Direct(io::stdout())) {
            State::Holding(held) => {
                let mut out = io::stdout();
                out.write_all(&held)?;
                out.flush()
            }
            State::Direct(mut out) => out.flush(),
            State::Paging(mut child, stdin) => {
                drop(stdin); // end of input: the pager shows the rest and waits for `q`
                child.wait().map(|_| ())
            }
        }
    }

    /// The held output has outgrown the screen: to the pager, or straight out when it
    /// cannot be started.
    fn start_pager(&mut self, held: Vec<u8>) -> io::Result<()> {
        if let Some(mut child) = self.command.as_deref().and_then(spawn) {
            if let Some(mut stdin) = child.stdin.take() {
                stdin.write_all(&held)?;
                self.state = State::Paging(child, stdin);
                return Ok(());
            }
        }
        let mut out = io::stdout();
        out.write_all(&held)?;
        self.state = State::Direct(out);
        Ok(())
    }
}

impl Write for PagedStdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.state {
            State::Direct(out) => out.write(buf),
            State::Paging(_, stdin) => stdin.write(buf),
            State::Holding(held) => {
                held.extend_from_slice(buf);
                if held.len() > HOLD_MAX || rows(held, self.screen.0) >= self.screen.1 {
                    let held = std::mem::take(held);
                    self.start_pager(held)?;
                }
                Ok(buf.len())
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.state {
            State::Direct(out) => out.flush(),
            State::Paging(_, stdin) => stdin.flush(),
            // Held until it is known whether it fits.
            State::Holding(_) => Ok(()),
        }
    }
}

impl Drop for PagedStdout {
    fn drop(&mut self) {
        // Errors were the writer's to report; a pager quit early is not one.
        let _ = self.finish();
    }
}

/// The pager to use: `CONNSCOPE_PAGER`, else `PAGER`, else `less`; `None` when the one
/// chosen is empty or `cat`.
fn pager_command(connscope_pager: Option<&str>, pager: Option<&str>) -> Option<String> {
    let command = connscope_pager.or(pager).unwrap_or("less").trim();
    match command {
        "" | "cat" => None,
        command => Some(command.to_string()),
    }
}

/// Starts `command` through the shell (so `PAGER="less -S"` works), with `LESS=FRX`
/// (quit if one screen, keep colour, leave the text on screen) unless `LESS` is set.
fn spawn(command: &str) -> Option<Child> {
    let mut shell = if cfg!(windows) {
        let mut c = Command::new("cmd");
        c.arg("/C").arg(command);
        c
    } else {
        let mut c = Command::new("sh");
        c.arg("-c").arg(command);
        c
    };
    if std::env::var_os("LESS").is_none() {
        shell.env("LESS", "FRX");
    }
    if std::env::var_os("LV").is_none() {
        shell.env("LV", "-c"); // lv, the other common pager: keep colour
    }
    shell.stdin(Stdio::piped()).spawn().ok()
}

/// The terminal rows `text` takes on a screen `columns` wide: each line at least one,
/// a long line as many as it wraps to; escape sequences take no room.
fn rows(text: &[u8], columns: usize) -> usize {
    let text = String::from_utf8_lossy(text);
    let mut rows = 0;
    for line in text.split_inclusive('\n') {
        let width = display_width(line.trim_end_matches('\n'));
        rows += width.div_ceil(columns).max(1);
    }
    rows
}

/// The width of `line` on a terminal, without its ANSI escape sequences (`ESC [ … m`).
fn display_width(line: &str) -> usize {
    let mut width = 0;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            // CSI: `[`, parameters, then a final byte in @..~.
            if chars.next() == Some('[') {
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            continue;
        }
        width += c.width().unwrap_or(0);
    }
    width
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pager_is_connscope_pager_then_pager_then_less_and_cat_or_empty_turn_it_off() {
        assert_eq!(pager_command(None, None).as_deref(), Some("less"));
        assert_eq!(
            pager_command(None, Some("less -S")).as_deref(),
            Some("less -S")
        );
        assert_eq!(
            pager_command(Some("most"), Some("less")).as_deref(),
            Some("most")
        );
        assert_eq!(pager_command(None, Some("")), None);
        assert_eq!(pager_command(None, Some("cat")), None);
        assert_eq!(pager_command(Some(""), Some("less")), None);
    }

    #[test]
    fn rows_count_wrapped_lines_and_skip_colour_codes() {
        assert_eq!(rows(b"", 80), 0);
        assert_eq!(rows(b"a\nb\n", 80), 2);
        assert_eq!(rows(b"a\n\nb", 80), 3);
        let long = "x".repeat(81);
        assert_eq!(rows(long.as_bytes(), 80), 2);
        // Box drawing is three bytes and one column; colour codes are none.
        let boxed = format!("│{}│", "─".repeat(78));
        assert_eq!(rows(boxed.as_bytes(), 80), 1);
        assert_eq!(rows(b"\x1b[31mrst\x1b[0m by server", 13), 1);
        assert_eq!(display_width("\x1b[1m\x1b[33m[warning]\x1b[0m"), 9);
    }
}
