//! The validated [`Config`]: every flag checked once, here, right after parsing (as
//! ripgrep's `HiArgs` is built from its low-level args), so the commands trust what they
//! get. What depends on the environment (is standard output a terminal, is `NO_COLOR`
//! set) comes in as an [`Env`], so the decisions are unit-tested.
//!
//! Not for reading captures or writing anything: building a `Config` only reads a
//! `check --suite` file.

use super::diff::DiffConfig;
use super::error::AppError;
use super::picture::PictureConfig;
use crate::check::expr::{self, Expectation};
use crate::cli::{
    self, CheckArgs, Cli, Command, CompletionsArgs, Format, InputArgs, ManArgs, PictureFormat,
    TimelineArgs, TrackingArgs, ViewFormat,
};
use crate::decrypt::KeyLog;
use crate::report::style::{colour, ColourEnv, Console, Paint};
use crate::report::table::Columns;
use std::path::PathBuf;
use std::sync::Arc;

/// What the flags' meaning depends on beside the flags.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Env {
    pub stdout_terminal: bool,
    /// The variables that bear on colour (`NO_COLOR`, `CLICOLOR_FORCE`, …).
    pub colour: ColourEnv,
    /// `SSLKEYLOGFILE`: the TLS key log to read when no `--keylog` is given.
    pub sslkeylogfile: Option<PathBuf>,
}

impl Env {
    pub fn of_process() -> Env {
        use std::io::IsTerminal;
        Env {
            stdout_terminal: std::io::stdout().is_terminal(),
            colour: ColourEnv::from_process(),
            sslkeylogfile: std::env::var_os("SSLKEYLOGFILE")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
        }
    }
}

/// The TLS key logs given for the run, parsed once and shared by every input.
#[derive(Clone, Debug, Default)]
pub struct KeyLogs {
    pub log: Arc<KeyLog>,
    /// One line per file with lines that were not understood, for standard error.
    pub warnings: Vec<String>,
}

impl PartialEq for KeyLogs {
    /// The same keys: the same shared log (or none).
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.log, &other.log) || self.log.is_empty() && other.log.is_empty()
    }
}

impl KeyLogs {
    /// `--keylog` files, or else the one `SSLKEYLOGFILE` names. A file that cannot be
    /// read is an input error; lines that are not key log lines only cost a warning.
    pub fn load(files: &[PathBuf], env: &Env) -> Result<KeyLogs, AppError> {
        let files: Vec<&PathBuf> = if files.is_empty() {
            env.sslkeylogfile.iter().collect()
        } else {
            files.iter().collect()
        };
        let mut log = KeyLog::new();
        let mut warnings = Vec::new();
        for path in files {
            let text = std::fs::read(path).map_err(|e| AppError::KeyLog {
                path: path.display().to_string(),
                cause: e,
            })?;
            let summary = log.add_text(&text);
            if let Some(first) = summary.first_garbage {
                warnings.push(format!(
                    "{}: {} lines not understood (first: line {}: {})",
                    path.display(),
                    summary.garbage,
                    first.line,
                    first.error
                ));
            }
        }
        Ok(KeyLogs {
            log: Arc::new(log),
            warnings,
        })
    }
}

/// The whole run, decided.
#[derive(Debug)]
pub struct Config {
    /// Threads for analysing several inputs at once (`--threads`, at least 1).
    pub threads: Option<usize>,
    pub task: Task,
}

/// The command, with its flags checked.
#[derive(Debug)]
pub enum Task {
    View(ViewConfig),
    Check(CheckConfig),
    Picture(PictureConfig),
    Diff(DiffConfig),
    #[cfg(feature = "live")]
    Live(super::live::LiveConfig),
    #[cfg(feature = "live")]
    Interfaces,
    Completions(CompletionsArgs),
    Man(ManArgs),
}

impl Task {
    /// How the command follows connections, when it reads captures.
    pub fn tracking(&self) -> Option<&Tracking> {
        match self {
            Task::View(view) => Some(&view.tracking),
            Task::Check(check) => Some(&check.tracking),
            Task::Picture(picture) => Some(&picture.tracking),
            Task::Diff(diff) => Some(&diff.tracking),
            #[cfg(feature = "live")]
            Task::Live(live) => Some(&live.tracking),
            _ => None,
        }
    }
}

/// How connections are followed and judged: the same for files, `check` and live.
#[derive(Clone, Debug, PartialEq)]
pub struct Tracking {
    /// No progress bar and no warnings on standard error.
    pub quiet: bool,
    /// `idle_open_connection`'s threshold, in seconds.
    pub idle_threshold: f64,
    /// Nanoseconds before an unanswered connection attempt is given up.
    pub syn_timeout_nanos: i64,
    /// TLS key logs (`--keylog`, `SSLKEYLOGFILE`).
    pub keys: KeyLogs,
}

impl Tracking {
    pub fn of(quiet: bool, args: &TrackingArgs, env: &Env) -> Result<Tracking, AppError> {
        Ok(Tracking {
            quiet,
            idle_threshold: args.idle_threshold,
            syn_timeout_nanos: cli::nanos(args.syn_timeout),
            keys: KeyLogs::load(&args.keylog, env)?,
        })
    }
}

/// `analyze`, `http`, `servers` and `timeline`: captures read, one view printed.
#[derive(Debug)]
pub struct ViewConfig {
    pub files: Vec<String>,
    pub tracking: Tracking,
    /// `analyze --filter`: a BPF expression, already known to compile.
    pub filter: Option<String>,
    pub view: View,
    /// `analyze --zeek-logs DIR`.
    pub zeek_logs: Option<PathBuf>,
    pub stdout_terminal: bool,
    /// Colour and paging of standard output, decided once.
    pub console: Console,
}

/// What a view command prints from the analysed inputs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum View {
    Connections(Format, Columns),
    Http(ViewFormat),
    Servers(ViewFormat),
    Timeline {
        format: ViewFormat,
        selection: Selection,
    },
}

/// Which connections `timeline` shows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selection {
    pub ids: Vec<u64>,
    /// (address or name, port); an empty address matches any.
    pub server: Option<(String, u16)>,
    pub host: Option<String>,
}

/// `check`: every expectation parsed, per capture, before any capture is read.
#[derive(Debug)]
pub struct CheckConfig {
    /// Captures in order, each with its expectations (text as written, parsed).
    pub plan: Vec<(String, Vec<(String, Expectation)>)>,
    pub junit: Option<String>,
    pub format: ViewFormat,
    pub tracking: Tracking,
    /// `--baseline BEFORE`: the capture `baseline.METRIC` expectations compare with.
    pub baseline: Option<String>,
}

impl Config {
    pub fn new(cli: Cli, env: Env) -> Result<Config, AppError> {
        let console = Console {
            terminal: env.stdout_terminal,
            paint: Paint::new(colour(cli.color, env.colour, env.stdout_terminal)),
            page: env.stdout_terminal && !cli.no_pager,
        };
        let task = match cli.command {
            Command::Analyze(args) if matches!(args.format, Format::Html | Format::Svg) => {
                Task::Picture(PictureConfig {
                    tracking: Tracking::of(args.input.quiet, &args.input.tracking, &env)?,
                    files: args.input.files,
                    format: match args.format {
                        Format::Svg => PictureFormat::Svg,
                        _ => PictureFormat::Html,
                    },
                    output: None,
                })
            }
            Command::Report(args) => Task::Picture(PictureConfig {
                tracking: Tracking::of(args.input.quiet, &args.input.tracking, &env)?,
                files: args.input.files,
                format: args.format,
                output: args.output,
            }),
            Command::Diff(args) => Task::Diff(DiffConfig {
                tracking: Tracking::of(args.quiet, &args.tracking, &env)?,
                before: args.before,
                after: args.after,
                format: args.format,
                stdout_terminal: env.stdout_terminal,
            }),
            Command::Analyze(args) => {
                let columns = match &args.columns {
                    None => Columns::for_stdout(env.stdout_terminal),
                    Some(text) => Columns::parse(text).map_err(AppError::Flag)?,
                };
                if let Some(expression) = &args.filter {
                    // A typo is a usage error before any file is read.
                    super::driver::PacketFilter::new(Some(expression))?;
                }
                Task::View(ViewConfig {
                    filter: args.filter,
                    zeek_logs: args.zeek_logs,
                    ..ViewConfig::of(
                        args.input,
                        View::Connections(args.format, columns),
                        &env,
                        console,
                    )?
                })
            }
            Command::Http(args) => Task::View(ViewConfig::of(
                args.input,
                View::Http(args.format),
                &env,
                console,
            )?),
            Command::Servers(args) => Task::View(ViewConfig::of(
                args.input,
                View::Servers(args.format),
                &env,
                console,
            )?),
            Command::Timeline(args) => {
                let view = View::Timeline {
                    format: args.format,
                    selection: Selection::of(&args)?,
                };
                Task::View(ViewConfig::of(args.input, view, &env, console)?)
            }
            Command::Check(args) => Task::Check(CheckConfig::of(&args, &env)?),
            #[cfg(feature = "live")]
            Command::Live(args) => {
                Task::Live(super::live::LiveConfig::of(args, &env, console.paint)?)
            }
            #[cfg(feature = "live")]
            Command::Interfaces => Task::Interfaces,
            #[cfg(not(feature = "live"))]
            Command::Live(_) | Command::Interfaces => return Err(AppError::NoLive),
            Command::Completions(args) => Task::Completions(args),
            Command::Man(args) => Task::Man(args),
        };
        Ok(Config {
            threads: cli.threads.map(|n| n.max(1)),
            task,
        })
    }
}

impl ViewConfig {
    fn of(
        input: InputArgs,
        view: View,
        env: &Env,
        console: Console,
    ) -> Result<ViewConfig, AppError> {
        Ok(ViewConfig {
            tracking: Tracking::of(input.quiet, &input.tracking, env)?,
            files: input.files,
            filter: None,
            view,
            zeek_logs: None,
            stdout_terminal: env.stdout_terminal,
            console,
        })
    }
}

impl Selection {
    fn of(args: &TimelineArgs) -> Result<Selection, AppError> {
        let server = match &args.server {
            None => None,
            Some(text) => {
                let (host, port) = crate::host::HostPort::parse_with_port(text)
                    .map_err(|e| AppError::Flag(format!("--server {text:?}: {e}")))?;
                Some((host.to_string(), port))
            }
        };
        Ok(Selection {
            ids: args.connections.clone(),
            server,
            host: args.host.clone(),
        })
    }
}

impl CheckConfig {
    fn of(args: &CheckArgs, env: &Env) -> Result<CheckConfig, AppError> {
        let plan: Vec<(String, Vec<String>)> = match &args.suite {
            Some(path) => {
                crate::check::suite::load(std::path::Path::new(path)).map_err(AppError::Suite)?
            }
            None if args.files.is_empty() || args.expect.is_empty() => {
                return Err(AppError::CheckWithoutPlan)
            }
            None => args
                .files
                .iter()
                .map(|f| (f.clone(), args.expect.clone()))
                .collect(),
        };
        let mut parsed = Vec::with_capacity(plan.len());
        for (file, texts) in plan {
            let mut expectations = Vec::with_capacity(texts.len());
            for text in texts {
                match expr::parse(&text) {
                    Ok(Expectation::Compare {
                        baseline: Some(_), ..
                    }) if args.baseline.is_none() => {
                        return Err(AppError::BaselineMissing { expectation: text })
                    }
                    Ok(exp) => expectations.push((text, exp)),
                    Err(e) => {
                        return Err(AppError::Expectation {
                            rendered: e.render(&text),
                            file,
                        })
                    }
                }
            }
            parsed.push((file, expectations));
        }
        Ok(CheckConfig {
            plan: parsed,
            junit: args.junit.clone(),
            format: args.format,
            tracking: Tracking::of(args.quiet, &args.tracking, env)?,
            baseline: args.baseline.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn config(args: &[&str], env: Env) -> Result<Config, AppError> {
        let cli = Cli::try_parse_from(std::iter::once("connscope").chain(args.iter().copied()))
            .expect("flags parse");
        Config::new(cli, env)
    }

    fn view(args: &[&str], env: Env) -> ViewConfig {
        match config(args, env) {
            Ok(Config {
                task: Task::View(view),
                ..
            }) => view,
            other => panic!("not a view: {other:?}"),
        }
    }

    const PIPE: Env = Env {
        stdout_terminal: false,
        colour: ColourEnv {
            no_color: false,
            clicolor_force: false,
            clicolor_off: false,
            dumb_terminal: false,
        },
        sslkeylogfile: None,
    };
    const TERMINAL: Env = Env {
        stdout_terminal: true,
        ..PIPE
    };

    #[test]
    fn a_pipe_gets_every_column_and_a_bad_column_is_a_usage_error() {
        let v = view(&["analyze", "a.pcap"], PIPE);
        assert_eq!(v.view, View::Connections(Format::Table, Columns::All));
        let v = view(&["analyze", "--columns", "server,id", "a.pcap"], TERMINAL);
        assert_eq!(
            v.view,
            View::Connections(Format::Table, Columns::Chosen(vec![0, 2]))
        );
        let e = config(&["analyze", "--columns", "nope", "a.pcap"], PIPE).unwrap_err();
        assert!(e.to_string().starts_with("--columns: no column \"nope\""));
    }

    #[test]
    fn tracking_flags_reach_the_config_in_nanoseconds() {
        let v = view(
            &[
                "http",
                "-q",
                "--syn-timeout",
                "2.5",
                "--idle-threshold",
                "3",
                "a.pcap",
            ],
            PIPE,
        );
        assert_eq!(
            v.tracking,
            Tracking {
                quiet: true,
                idle_threshold: 3.0,
                syn_timeout_nanos: 2_500_000_000,
                keys: KeyLogs::default(),
            }
        );
        assert_eq!(v.files, vec!["a.pcap".to_string()]);
    }

    #[test]
    fn colour_and_paging_follow_the_terminal_no_color_and_the_flags() {
        let color = |args: &[&str], env| view(args, env).console.paint != Paint::OFF;
        assert!(color(&["timeline", "a.pcap"], TERMINAL));
        assert!(!color(&["timeline", "a.pcap"], PIPE));
        assert!(view(&["analyze", "a.pcap"], TERMINAL).console.page);
        assert!(
            !view(&["analyze", "--no-pager", "a.pcap"], TERMINAL)
                .console
                .page
        );
        assert!(!view(&["analyze", "a.pcap"], PIPE).console.page);
        let no_color = Env {
            colour: ColourEnv {
                no_color: true,
                ..PIPE.colour
            },
            ..TERMINAL
        };
        assert!(!color(&["timeline", "a.pcap"], no_color));
        assert!(color(&["timeline", "--color", "always", "a.pcap"], PIPE));
    }

    #[test]
    fn timeline_server_takes_host_port_ipv6_and_bare_port() {
        let server = |text: &str| match view(&["timeline", "--server", text, "a.pcap"], PIPE).view {
            View::Timeline { selection, .. } => selection.server,
            other => panic!("{other:?}"),
        };
        assert_eq!(server("10.0.0.1:80"), Some(("10.0.0.1".into(), 80)));
        assert_eq!(server("[::1]:443"), Some(("::1".into(), 443)));
        assert_eq!(server(":8080"), Some((String::new(), 8080)));
        let e = config(&["timeline", "--server", "x", "a.pcap"], PIPE).unwrap_err();
        assert_eq!(
            e.to_string(),
            "--server \"x\": expected HOST:PORT, [IPv6]:PORT or :PORT"
        );
        let e = config(&["timeline", "--server", "x:http", "a.pcap"], PIPE).unwrap_err();
        assert_eq!(
            e.to_string(),
            "--server \"x:http\": \"http\" is not a port number"
        );
    }

    #[test]
    fn check_parses_every_expectation_before_reading_a_capture() {
        let Ok(Config {
            task: Task::Check(check),
            ..
        }) = config(
            &["check", "-e", "connections == 1", "a.pcap", "b.pcap"],
            PIPE,
        )
        else {
            panic!("not a check");
        };
        let files: Vec<&str> = check.plan.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(files, ["a.pcap", "b.pcap"]);
        assert_eq!(check.plan[1].1[0].0, "connections == 1");
        let e = config(&["check", "-e", "connections ==", "a.pcap"], PIPE).unwrap_err();
        assert!(matches!(e, AppError::Expectation { ref file, .. } if file == "a.pcap"));
        let e = config(&["check", "a.pcap"], PIPE).unwrap_err();
        assert!(matches!(e, AppError::CheckWithoutPlan));
    }

    #[test]
    fn threads_are_at_least_one() {
        let c = config(&["--threads", "0", "servers", "a.pcap"], PIPE).expect("config");
        assert_eq!(c.threads, Some(1));
    }
}
