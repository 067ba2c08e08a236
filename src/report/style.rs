//! What standard output is and how it is dressed: whether it is a terminal, whether it
//! gets colour (`--color`, `NO_COLOR`, `CLICOLOR_FORCE`, `CLICOLOR`, `TERM=dumb`) and
//! whether long output goes through a pager (`--no-pager`; see `report::pager`), and
//! the palette every text renderer shares.
//!
//! Colour is never the only signal: every coloured word is also written out. With
//! colour off every style here is empty and prints nothing, so the bytes are those of
//! a pipe. Styles are `anstyle`'s (already in the tree through clap): plain values
//! that print their escape codes with `{style}` and `{style:#}`, nothing more.

use super::model::{PhaseKind, Severity};
use anstyle::{AnsiColor, Effects, Style};

/// `--color`: `auto` decides by the terminal and the environment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// The environment variables that bear on colour, as conventions define them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ColourEnv {
    /// `NO_COLOR` set to anything but the empty string (no-color.org).
    pub no_color: bool,
    /// `CLICOLOR_FORCE` set and not `0` (bixense.com/clicolors).
    pub clicolor_force: bool,
    /// `CLICOLOR=0`.
    pub clicolor_off: bool,
    /// `TERM=dumb`: a terminal that cannot show escape codes.
    pub dumb_terminal: bool,
}

impl ColourEnv {
    pub fn from_process() -> ColourEnv {
        let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        ColourEnv {
            no_color: var("NO_COLOR").is_some(),
            clicolor_force: var("CLICOLOR_FORCE").is_some_and(|v| v != "0"),
            clicolor_off: var("CLICOLOR").is_some_and(|v| v == "0"),
            dumb_terminal: var("TERM").is_some_and(|v| v == "dumb"),
        }
    }
}

/// Whether output gets colour. `--color always|never` beats everything; `auto` follows
/// the conventions in the order anstream (clap's) applies them: `NO_COLOR` off, else
/// `CLICOLOR_FORCE` on, else `CLICOLOR=0` off, else a terminal that is not dumb.
pub fn colour(choice: ColorChoice, env: ColourEnv, terminal: bool) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto if env.no_color => false,
        ColorChoice::Auto if env.clicolor_force => true,
        ColorChoice::Auto => terminal && !env.clicolor_off && !env.dumb_terminal,
    }
}

/// What standard output is and gets, decided once from the flags and the environment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Console {
    /// A terminal: tables fit its width.
    pub terminal: bool,
    pub paint: Paint,
    /// Output taller than the terminal goes through the pager.
    pub page: bool,
}

/// The palette, or nothing when colour is off.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Paint {
    on: bool,
}

impl Paint {
    pub const OFF: Paint = Paint { on: false };

    pub fn new(on: bool) -> Paint {
        Paint { on }
    }

    pub fn is_on(self) -> bool {
        self.on
    }

    fn pick(self, style: Style) -> Style {
        if self.on {
            style
        } else {
            Style::new()
        }
    }

    /// A finding's `[warning]` / `[info]` tag.
    pub fn severity(self, severity: Severity) -> Style {
        self.pick(match severity {
            Severity::Warning => AnsiColor::Yellow.on_default().effects(Effects::BOLD),
            Severity::Info => Style::new().effects(Effects::DIMMED),
        })
    }

    /// The connection table's `close` cell (`fin by client`, `rst by server`, `open`):
    /// a graceful close green, a reset red, still open cyan.
    pub fn close(self, cell: &str) -> Style {
        let colour = match cell.split(' ').next() {
            Some("fin") => AnsiColor::Green,
            Some("rst") => AnsiColor::Red,
            Some("open") => AnsiColor::Cyan,
            _ => return Style::new(),
        };
        self.pick(colour.on_default())
    }

    /// The connection table's `state` cell, by its Zeek `conn_state` (its first word):
    /// closed normally green; rejected or reset red; an attempt nobody answered or a
    /// one-sided conversation yellow; established and not closed cyan.
    pub fn conn_state(self, cell: &str) -> Style {
        let colour = match cell.split(' ').next() {
            Some("SF") => AnsiColor::Green,
            Some("REJ" | "RSTO" | "RSTR" | "RSTOS0" | "RSTRH") => AnsiColor::Red,
            Some("S0" | "SH" | "SHR" | "OTH") => AnsiColor::Yellow,
            Some("S1" | "S2" | "S3") => AnsiColor::Cyan,
            _ => return Style::new(),
        };
        self.pick(colour.on_default())
    }

    /// A timeline phase's colour, for comfy-table (which styles the cells it wraps);
    /// `None` when colour is off.
    pub fn phase(self, kind: PhaseKind) -> Option<comfy_table::Color> {
        use comfy_table::Color;
        self.on.then_some(match kind {
            PhaseKind::Handshake => Color::Cyan,
            PhaseKind::Exchange | PhaseKind::Data => Color::Green,
            PhaseKind::Idle => Color::DarkGrey,
            PhaseKind::Keepalive => Color::Yellow,
            PhaseKind::Retransmissions | PhaseKind::ZeroWindow | PhaseKind::Alert => Color::Red,
            PhaseKind::Tunnel => Color::Blue,
            PhaseKind::Close => Color::Magenta,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLEAN: ColourEnv = ColourEnv {
        no_color: false,
        clicolor_force: false,
        clicolor_off: false,
        dumb_terminal: false,
    };

    #[test]
    fn auto_colours_a_terminal_and_never_a_pipe() {
        assert!(colour(ColorChoice::Auto, CLEAN, true));
        assert!(!colour(ColorChoice::Auto, CLEAN, false));
    }

    #[test]
    fn the_flag_beats_the_terminal_and_every_variable() {
        let all_off = ColourEnv {
            no_color: true,
            clicolor_off: true,
            dumb_terminal: true,
            ..CLEAN
        };
        for terminal in [true, false] {
            for env in [CLEAN, all_off] {
                assert!(colour(ColorChoice::Always, env, terminal), "{env:?}");
            }
            let forced = ColourEnv {
                clicolor_force: true,
                ..CLEAN
            };
            assert!(!colour(ColorChoice::Never, forced, terminal));
            assert!(!colour(ColorChoice::Never, CLEAN, terminal));
        }
    }

    #[test]
    fn no_color_turns_auto_off_even_when_clicolor_force_asks_for_it() {
        let no_color = ColourEnv {
            no_color: true,
            ..CLEAN
        };
        assert!(!colour(ColorChoice::Auto, no_color, true));
        let both = ColourEnv {
            clicolor_force: true,
            ..no_color
        };
        assert!(!colour(ColorChoice::Auto, both, true));
    }

    #[test]
    fn clicolor_force_colours_a_pipe_and_clicolor_0_or_a_dumb_terminal_does_not() {
        let forced = ColourEnv {
            clicolor_force: true,
            ..CLEAN
        };
        assert!(colour(ColorChoice::Auto, forced, false));
        for env in [
            ColourEnv {
                clicolor_off: true,
                ..CLEAN
            },
            ColourEnv {
                dumb_terminal: true,
                ..CLEAN
            },
        ] {
            assert!(!colour(ColorChoice::Auto, env, true), "{env:?}");
        }
    }

    #[test]
    fn colour_off_prints_nothing_around_a_word() {
        let off = Paint::OFF;
        for style in [
            off.severity(Severity::Warning),
            off.close("rst by server"),
            off.conn_state("SF ShADadFf"),
        ] {
            assert_eq!(format!("{style}fin{style:#}"), "fin");
        }
        assert_eq!(off.phase(PhaseKind::Idle), None);
    }

    #[test]
    fn colour_on_marks_resets_red_and_graceful_closes_green() {
        let on = Paint::new(true);
        let rst = on.close("rst by server");
        assert_eq!(format!("{rst}rst{rst:#}"), "\x1b[31mrst\x1b[0m");
        let fin = on.close("fin by client");
        assert_eq!(format!("{fin}fin{fin:#}"), "\x1b[32mfin\x1b[0m");
        assert_ne!(on.close("open"), Style::new());
        assert_eq!(on.conn_state("REJ Sr"), rst);
        assert_eq!(on.conn_state("SF ShADadFf"), fin);
        // A cell it does not know stays plain.
        assert_eq!(on.close("-"), Style::new());
        let warning = on.severity(Severity::Warning);
        assert_eq!(
            format!("{warning}[warning]{warning:#}"),
            "\x1b[1m\x1b[33m[warning]\x1b[0m"
        );
    }
}
