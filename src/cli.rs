//! Command-line flags, all in one place (clap derive). Raw flags only: no I/O here.
//! Each flag's `///` doc is its `--help` text.

pub use crate::report::style::ColorChoice;
use clap::{Parser, Subcommand, ValueEnum};

const EXAMPLES: &str = "\
Examples:
  connscope analyze capture.pcap              table of every TCP connection
  connscope analyze --format json a.pcapng    the same as one JSON document
  connscope analyze --format jsonl big.pcap   one JSON line per connection, streamed
  tcpdump -i lo -w - | connscope analyze -    read a capture from standard input
  connscope analyze a.pcap b.pcap.gz          several files, each analysed on its own
  connscope http capture.pcap                 every HTTP exchange, on its connection
  connscope servers capture.pcap              per server: connections, requests, reuse
  connscope timeline capture.pcap --conn 3    the story of connection 3, phase by phase
  connscope check reuse.pcap --expect 'connections == 1' --expect 'no new_connection_while_idle'
  connscope check --suite connscope.toml --junit results.xml";

/// How many TCP connections a capture holds, which requests rode on which, when each
/// idled, who probed it and who closed it.
#[derive(Debug, Parser)]
#[command(name = "connscope", version, about, after_help = EXAMPLES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// Threads for analysing several files at once (default: all cores). One file is
    /// always read by one thread.
    #[arg(long, global = true, value_name = "N")]
    pub threads: Option<usize>,

    /// Colour on standard output: `auto` colours a terminal unless NO_COLOR is set
    /// (CLICOLOR_FORCE colours a pipe too); `always` and `never` beat both. Colour marks
    /// findings by severity, how connections closed and the timeline's phases; the
    /// words are always there too.
    #[arg(long, global = true, value_enum, value_name = "WHEN", default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,

    /// Never page. By default output taller than the terminal goes through $PAGER
    /// (`less` with LESS=FRX when LESS is unset); PAGER=cat or an empty PAGER also
    /// turns paging off. A pipe or file is never paged.
    #[arg(long, global = true)]
    pub no_pager: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Analyse capture files: one row (or JSON object) per TCP connection.
    #[command(after_help = EXAMPLES)]
    Analyze(AnalyzeArgs),
    /// List every HTTP exchange: which request rode on which connection, status,
    /// time to first byte, sizes, and how long the connection idled before it.
    #[command(after_help = EXAMPLES)]
    Http(ViewArgs),
    /// Per server endpoint: connections opened, requests carried, requests per
    /// connection — connection reuse at a glance.
    #[command(after_help = EXAMPLES)]
    Servers(ViewArgs),
    /// The story of each connection: handshake, exchanges and how long after each other
    /// they reused it, idle periods, keep-alive probes, retransmissions and the close.
    #[command(after_help = EXAMPLES)]
    Timeline(TimelineArgs),
    /// Capture live from an interface (needs the `live` feature and root or
    /// CAP_NET_RAW+CAP_NET_ADMIN): connections as they happen; the same report at the end.
    #[command(after_help = LIVE_HELP)]
    Live(LiveArgs),
    /// List the interfaces live capture can use (needs the `live` feature).
    Interfaces,
    /// Check expectations about captures, for CI: exit 0 when all pass, 1 when any
    /// fails, 2 on a usage or input error. The language is in docs/ci.md.
    #[command(after_help = CHECK_HELP)]
    Check(CheckArgs),
    /// Write one self-contained HTML page: a swimlane chart of every connection (by
    /// server, on one time axis), the findings linked to their lanes, the server rollup.
    #[command(after_help = REPORT_HELP)]
    Report(ReportArgs),
    /// Compare two captures (or two `analyze --format json` reports) of the same
    /// program: connections, requests, reuse and handshakes per server, and findings
    /// that appeared or disappeared.
    #[command(after_help = DIFF_HELP)]
    Diff(DiffArgs),
    /// Print a shell completion script on standard output.
    #[command(after_help = COMPLETIONS_HELP)]
    Completions(CompletionsArgs),
    /// Print the manual page (roff) on standard output, or write every page to a directory.
    #[command(after_help = MAN_HELP)]
    Man(ManArgs),
}

const CHECK_HELP: &str = "\
Expectations:
  METRIC[(SELECTORS)] OP NUMBER      connections == 1, requests(host=api.example.com) >= 3
  [no] FINDING[(SELECTORS)]          connection_reused, no new_connection_while_idle
Metrics: connections requests requests_per_connection reused_connections keepalive_probes
  unanswered_probes resets retransmissions max_idle_s max_request_gap_s handshake_failures findings
Selectors: server=IP:PORT port=N host=NAME client=IP from=client|server
Operators: == != < <= > >=
With --baseline BEFORE, the right side may be baseline.METRIC: connections <= baseline.connections

Examples:
  connscope check reuse.pcap --expect 'connections == 1' --expect 'requests_per_connection >= 3'
  connscope check --suite connscope.toml --junit results.xml";

const REPORT_HELP: &str = "\
Examples:
  connscope report capture.pcap -o report.html     open report.html in any browser
  connscope report --format svg capture.pcap -o chart.svg   the chart alone
  connscope analyze --format html a.pcap > a.html  the same page from analyze";

const DIFF_HELP: &str = "\
Examples:
  connscope diff before.pcap after.pcap           what changed, in words and a table
  connscope diff before.json after.pcap -f json   JSON reports work as inputs too
  connscope check after.pcap --baseline before.pcap --expect 'connections <= baseline.connections'";

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub input: InputArgs,

    /// Write the page to this file instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,

    /// `html`: the whole page; `svg`: the chart alone, to paste into an issue or wiki.
    #[arg(long, short = 'f', value_enum, default_value_t = PictureFormat::Html)]
    pub format: PictureFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PictureFormat {
    Html,
    Svg,
}

#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// The capture (or JSON report) from before the change.
    #[arg(value_name = "BEFORE")]
    pub before: String,

    /// The capture (or JSON report) from after it.
    #[arg(value_name = "AFTER")]
    pub after: String,

    /// Output format: a paragraph and a table, or JSON.
    #[arg(long, short = 'f', value_enum, default_value_t = ViewFormat::Table)]
    pub format: ViewFormat,

    /// No warnings on standard error (errors still print).
    #[arg(long, short = 'q')]
    pub quiet: bool,

    #[command(flatten)]
    pub tracking: TrackingArgs,
}

const LIVE_HELP: &str = "\
Examples:
  sudo connscope live -i eth0 tcp port 443            refreshing table; Ctrl-C for the final report
  sudo connscope live -i lo --duration 30 -w out.pcap port 8080
  sudo connscope live -i any --format jsonl | jq .   connections as they finish, then findings
Built without the `live` feature, this explains how to get it.";

#[derive(Debug, clap::Args)]
pub struct LiveArgs {
    /// Interface to capture on (default: `any` on Linux, else libpcap's default device).
    #[arg(long, short = 'i', value_name = "IFACE")]
    pub interface: Option<String>,

    /// A BPF capture filter, as tcpdump takes it (`tcp port 443`).
    #[arg(value_name = "FILTER", trailing_var_arg = true)]
    pub filter: Vec<String>,

    /// Bytes captured per packet.
    #[arg(long, value_name = "BYTES", default_value_t = 262_144)]
    pub snaplen: i32,

    /// Put the interface in promiscuous mode.
    #[arg(long)]
    pub promisc: bool,

    /// Stop after this many seconds.
    #[arg(long, value_name = "SECONDS")]
    pub duration: Option<f64>,

    /// Stop after this many packets.
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,

    /// Save the raw packets to this pcap file as they arrive.
    #[arg(long, short = 'w', value_name = "FILE.pcap")]
    pub write: Option<String>,

    /// Output: a refreshing table on a terminal, else `jsonl`; `json` and `table` print
    /// the final report as `analyze` does.
    #[arg(long, short = 'f', value_enum)]
    pub format: Option<LiveFormat>,

    /// Keep only this process's connections (Linux).
    #[arg(long, value_name = "PID")]
    pub pid: Option<u32>,

    /// Keep only connections of processes with this name (Linux).
    #[arg(long, value_name = "NAME")]
    pub process: Option<String>,

    /// Stop tracking a connection after this many seconds without packets, reporting
    /// it as timed out (Zeek's `tcp_inactivity_timeout`): a long capture's memory stays
    /// bounded.
    #[arg(long, value_name = "SECONDS", default_value_t = 300.0, value_parser = seconds)]
    pub idle_timeout: f64,

    /// Stay root after opening the capture (by default connscope drops to the sudo
    /// user, or nobody, as tcpdump -Z does).
    #[arg(long)]
    pub keep_privileges: bool,

    /// No status line and no warnings on standard error.
    #[arg(long, short = 'q')]
    pub quiet: bool,

    #[command(flatten)]
    pub tracking: TrackingArgs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LiveFormat {
    /// The final report as a table (no refreshing display).
    Table,
    /// The final report as one JSON document.
    Json,
    /// Each connection as it finishes, then the findings.
    Jsonl,
}

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Capture files to check against every --expect (not with --suite).
    #[arg(value_name = "FILE")]
    pub files: Vec<String>,

    /// An expectation; repeat for several.
    #[arg(long = "expect", short = 'e', value_name = "EXPR")]
    pub expect: Vec<String>,

    /// A suite file (connscope.toml) naming captures and their expectations.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["files", "expect"])]
    pub suite: Option<String>,

    /// A capture from before a change: expectations may compare with its figures,
    /// `connections <= baseline.connections` (not with --suite).
    #[arg(long, value_name = "FILE", conflicts_with = "suite")]
    pub baseline: Option<String>,

    /// Also write the results as JUnit XML to this file.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<String>,

    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = ViewFormat::Table)]
    pub format: ViewFormat,

    /// No warnings on standard error (errors still print).
    #[arg(long, short = 'q')]
    pub quiet: bool,

    #[command(flatten)]
    pub tracking: TrackingArgs,
}

#[derive(Debug, clap::Args)]
pub struct TimelineArgs {
    #[command(flatten)]
    pub input: InputArgs,

    /// Only this connection (its id in `analyze`); repeat for several.
    #[arg(long = "conn", value_name = "ID")]
    pub connections: Vec<u64>,

    /// Only connections to this server: `IP:PORT`, `[IPv6]:PORT`, `:PORT`, or
    /// `NAME:PORT` matched against HTTP Host.
    #[arg(long, value_name = "HOST:PORT")]
    pub server: Option<String>,

    /// Only connections whose HTTP requests name this Host.
    #[arg(long, value_name = "NAME")]
    pub host: Option<String>,

    /// Output format: a table per connection, or the phases as JSON.
    #[arg(long, short = 'f', value_enum, default_value_t = ViewFormat::Table)]
    pub format: ViewFormat,
}

/// The inputs and what every command does with standard error.
#[derive(Debug, clap::Args)]
pub struct InputArgs {
    /// Capture files (pcap or pcapng, optionally gzip-compressed); `-` reads standard input.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<String>,

    /// No progress bar and no warnings on standard error (errors still print).
    #[arg(long, short = 'q')]
    pub quiet: bool,

    #[command(flatten)]
    pub tracking: TrackingArgs,
}

/// How connections are followed and judged: the same flags for files, `check` and
/// live capture.
#[derive(Clone, Debug, clap::Args)]
pub struct TrackingArgs {
    /// A TLS key log (NSS format, as SSLKEYLOGFILE makes curl, browsers, Python, Node
    /// and Go write): HTTPS is decrypted and its real requests read. Repeat for several
    /// files. Without it, the file SSLKEYLOGFILE names is read; keys a pcapng file
    /// embeds (`editcap --inject-secrets`) are always used.
    #[arg(long = "keylog", value_name = "FILE")]
    pub keylog: Vec<std::path::PathBuf>,

    /// Seconds without payload after which a connection still open at the end of the
    /// capture is reported as an idle open connection (`idle_open_connection`).
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    pub idle_threshold: f64,

    /// Seconds of capture time after which a connection attempt nobody answered (SYNs,
    /// nothing back: `S0`) is reported and forgotten, like Zeek's `tcp_SYN_timeout`
    /// (longer while the client retries: twice its last retry gap). Bounds memory under
    /// a SYN flood; a SYN retried after that starts a new connection.
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0, value_parser = seconds)]
    pub syn_timeout: f64,
}

/// A non-negative, finite number of seconds.
fn seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(s) if s.is_finite() && s >= 0.0 => Ok(s),
        _ => Err(format!("expected seconds (a number ≥ 0), not `{text}`")),
    }
}

/// Seconds as capture-time nanoseconds.
pub fn nanos(seconds: f64) -> i64 {
    (seconds * 1e9).min(i64::MAX as f64) as i64
}

#[derive(Debug, clap::Args)]
pub struct AnalyzeArgs {
    #[command(flatten)]
    pub input: InputArgs,

    /// Keep only packets that match this BPF filter (`tcp port 443`); needs the `live`
    /// feature, which brings libpcap's filter compiler.
    #[arg(long, value_name = "BPF")]
    pub filter: Option<String>,

    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = Format::Table)]
    pub format: Format,

    /// The table's columns, comma-separated, or `all`: id, client, server, start,
    /// duration, packets, bytes, rtt, proto, host, requests, keep-alive, close, state.
    /// By default a terminal gets those that fit its width; a pipe or file gets all.
    #[arg(long, value_name = "LIST")]
    pub columns: Option<String>,

    /// Also write Zeek-format conn.log, http.log and ssl.log into DIR, as connections
    /// finish (docs/zeek-logs.md).
    #[arg(long, value_name = "DIR")]
    pub zeek_logs: Option<std::path::PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct ViewArgs {
    #[command(flatten)]
    pub input: InputArgs,

    /// Output format: a table, or the same rows as JSON.
    #[arg(long, short = 'f', value_enum, default_value_t = ViewFormat::Table)]
    pub format: ViewFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ViewFormat {
    Table,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A table per input, for people.
    Table,
    /// One JSON document (schema `connscope.report/1`, see docs/json.md).
    Json,
    /// One JSON object per connection and line, written as each connection finishes.
    Jsonl,
    /// One self-contained HTML page with the swimlane chart (as `connscope report`).
    Html,
    /// The swimlane chart alone, as SVG.
    Svg,
}

const COMPLETIONS_HELP: &str = "\
Install:
  bash  connscope completions bash > ~/.local/share/bash-completion/completions/connscope
  zsh   connscope completions zsh > ~/.zfunc/_connscope   (with fpath+=~/.zfunc before compinit)
  fish  connscope completions fish > ~/.config/fish/completions/connscope.fish";

const MAN_HELP: &str = "\
One page per command, as git and cargo ship them: connscope(1) lists the commands,
connscope-analyze(1) and the others describe each one.

Examples:
  connscope man | man -l -                        read the top page now
  connscope man analyze | man -l -                the page of one command
  connscope man > ~/.local/share/man/man1/connscope.1
  connscope man --dir ~/.local/share/man/man1     every page: connscope.1, connscope-analyze.1, …";

#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// The command whose page to print (`analyze`, `check`, …); without it, the top page.
    #[arg(value_name = "COMMAND")]
    pub command: Option<String>,

    /// Write every page (connscope.1 and connscope-COMMAND.1 for each command) into this
    /// directory, creating it if missing, instead of printing one; prints the paths written.
    #[arg(long, value_name = "DIR", conflicts_with = "command")]
    pub dir: Option<std::path::PathBuf>,
}
