//! Zeek-format logs (`analyze --zeek-logs DIR`): `conn.log`, `http.log` and `ssl.log`
//! in Zeek's ASCII (TSV) format, so `zeek-cut`, RITA and other Zeek log pipelines
//! read connscope's output.
//!
//! The format is Zeek's ASCII writer's (`base/frameworks/logging/writers/ascii.zeek`):
//! `#`-headers, tab-separated fields, `-` for unset, `(empty)` for an empty set. Field
//! names, types and order follow `base/protocols/conn/main.zeek` (plus `community_id`,
//! appended as Zeek's community-id package does), `base/protocols/http/main.zeek` and
//! `base/protocols/ssl/main.zeek`. Everything printed comes from the report model
//! (`model::ConnectionRecord`): facts connscope does not have (IP bytes, user agents,
//! certificates) are unset, never guessed.
//!
//! Lines are written as each connection finishes (the order Zeek writes conn.log: by
//! connection end), through fixed-size buffers: memory does not grow with the capture.
//! Determinism: `#open`/`#close` are the first and last packet's capture times, never
//! the wall clock, and `uid`s are derived from the input's file name, the connection id
//! and its first packet's time (see [`uid`]).

use super::model::{ConnectionRecord, HttpExchange, TlsInfo};
use crate::flow::key::Endpoint;
use crate::time::Timestamp;
use sha1::{Digest, Sha1};
use std::fmt;
use std::fs::File;
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Why the logs could not be written.
#[derive(Debug)]
pub enum ZeekLogError {
    /// The directory could not be created.
    CreateDir { dir: PathBuf, source: io::Error },
    /// A log file could not be created.
    Create { path: PathBuf, source: io::Error },
    /// Writing a log file's header or its `#close` failed.
    Write { path: PathBuf, source: io::Error },
}

impl fmt::Display for ZeekLogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ZeekLogError::CreateDir { dir, source } => {
                write!(f, "cannot create {}: {source}", dir.display())
            }
            ZeekLogError::Create { path, source } => {
                write!(f, "cannot create {}: {source}", path.display())
            }
            ZeekLogError::Write { path, source } => {
                write!(f, "cannot write {}: {source}", path.display())
            }
        }
    }
}

impl std::error::Error for ZeekLogError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ZeekLogError::CreateDir { source, .. }
            | ZeekLogError::Create { source, .. }
            | ZeekLogError::Write { source, .. } => Some(source),
        }
    }
}

/// `conn.log`'s fields and Zeek types (`Conn::Info`), `community_id` appended by the
/// community-id package.
pub const CONN_FIELDS: [(&str, &str); 22] = [
    ("ts", "time"),
    ("uid", "string"),
    ("id.orig_h", "addr"),
    ("id.orig_p", "port"),
    ("id.resp_h", "addr"),
    ("id.resp_p", "port"),
    ("proto", "enum"),
    ("service", "string"),
    ("duration", "interval"),
    ("orig_bytes", "count"),
    ("resp_bytes", "count"),
    ("conn_state", "string"),
    ("local_orig", "bool"),
    ("local_resp", "bool"),
    ("missed_bytes", "count"),
    ("history", "string"),
    ("orig_pkts", "count"),
    ("orig_ip_bytes", "count"),
    ("resp_pkts", "count"),
    ("resp_ip_bytes", "count"),
    ("tunnel_parents", "set[string]"),
    ("community_id", "string"),
];

/// `http.log`'s fields and Zeek types (`HTTP::Info`).
pub const HTTP_FIELDS: [(&str, &str); 30] = [
    ("ts", "time"),
    ("uid", "string"),
    ("id.orig_h", "addr"),
    ("id.orig_p", "port"),
    ("id.resp_h", "addr"),
    ("id.resp_p", "port"),
    ("trans_depth", "count"),
    ("method", "string"),
    ("host", "string"),
    ("uri", "string"),
    ("referrer", "string"),
    ("version", "string"),
    ("user_agent", "string"),
    ("origin", "string"),
    ("request_body_len", "count"),
    ("response_body_len", "count"),
    ("status_code", "count"),
    ("status_msg", "string"),
    ("info_code", "count"),
    ("info_msg", "string"),
    ("tags", "set[enum]"),
    ("username", "string"),
    ("password", "string"),
    ("proxied", "set[string]"),
    ("orig_fuids", "vector[string]"),
    ("orig_filenames", "vector[string]"),
    ("orig_mime_types", "vector[string]"),
    ("resp_fuids", "vector[string]"),
    ("resp_filenames", "vector[string]"),
    ("resp_mime_types", "vector[string]"),
];

/// `ssl.log`'s fields and Zeek types (`SSL::Info`, with the certificate fields the
/// x509 and validation policy scripts add).
pub const SSL_FIELDS: [(&str, &str); 23] = [
    ("ts", "time"),
    ("uid", "string"),
    ("id.orig_h", "addr"),
    ("id.orig_p", "port"),
    ("id.resp_h", "addr"),
    ("id.resp_p", "port"),
    ("version", "string"),
    ("cipher", "string"),
    ("curve", "string"),
    ("server_name", "string"),
    ("resumed", "bool"),
    ("last_alert", "string"),
    ("next_protocol", "string"),
    ("established", "bool"),
    ("ssl_history", "string"),
    ("cert_chain_fps", "vector[string]"),
    ("client_cert_chain_fps", "vector[string]"),
    ("subject", "string"),
    ("issuer", "string"),
    ("client_subject", "string"),
    ("client_issuer", "string"),
    ("sni_matches_cert", "bool"),
    ("validation_status", "string"),
];

/// Zeek's unset and empty-set markers.
const UNSET: &str = "-";
const EMPTY: &str = "(empty)";

/// Buffer per log file: lines go out in 64 KiB writes, whatever the capture's size.
const BUFFER: usize = 64 << 10;

/// `#open`'s time until the first packet's is known: Zeek's `%Y-%m-%d-%H-%M-%S`,
/// always 19 bytes, so the real time overwrites it in place.
const OPEN_PLACEHOLDER: &str = "1970-01-01-00-00-00";

/// One log file being written.
#[derive(Debug)]
struct LogFile {
    path: PathBuf,
    out: BufWriter<File>,
    /// Byte offset of `#open`'s value, patched in [`ZeekLogs::finish`].
    open_at: u64,
}

impl LogFile {
    fn create(dir: &Path, name: &str, fields: &[(&str, &str)]) -> Result<LogFile, ZeekLogError> {
        let path = dir.join(format!("{name}.log"));
        let file = File::create(&path).map_err(|source| ZeekLogError::Create {
            path: path.clone(),
            source,
        })?;
        let mut head = String::new();
        head.push_str("#separator \\x09\n");
        head.push_str("#set_separator\t,\n");
        head.push_str("#empty_field\t(empty)\n");
        head.push_str("#unset_field\t-\n");
        head.push_str(&format!("#path\t{name}\n"));
        head.push_str("#open\t");
        let open_at = head.len() as u64;
        head.push_str(OPEN_PLACEHOLDER);
        head.push('\n');
        head.push_str("#fields");
        for (field, _) in fields {
            head.push('\t');
            head.push_str(field);
        }
        head.push_str("\n#types");
        for (_, ty) in fields {
            head.push('\t');
            head.push_str(ty);
        }
        head.push('\n');
        let mut out = BufWriter::with_capacity(BUFFER, file);
        out.write_all(head.as_bytes())
            .map_err(|source| ZeekLogError::Write {
                path: path.clone(),
                source,
            })?;
        Ok(LogFile { path, out, open_at })
    }

    /// Writes a line; a failure names the file (the error's kind is kept, so a full
    /// disk still reads as one).
    fn put(&mut self, line: &[u8]) -> io::Result<()> {
        self.out
            .write_all(line)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", self.path.display())))
    }

    /// Writes `#close` and patches `#open`.
    fn finish(mut self, open: &str, close: &str) -> Result<(), ZeekLogError> {
        let path = self.path.clone();
        let done = (|| {
            self.out
                .write_all(format!("#close\t{close}\n").as_bytes())?;
            self.out.flush()?;
            let file = self.out.get_mut();
            file.seek(SeekFrom::Start(self.open_at))?;
            file.write_all(open.as_bytes())?;
            file.flush()
        })();
        done.map_err(|source| ZeekLogError::Write { path, source })
    }
}

/// The three logs of one run.
#[derive(Debug)]
pub struct ZeekLogs {
    conn: LogFile,
    http: LogFile,
    ssl: LogFile,
    line: Line,
}

impl ZeekLogs {
    /// Creates `dir` (and its parents) and the three logs in it, headers written.
    /// Existing logs there are replaced.
    pub fn create(dir: &Path) -> Result<ZeekLogs, ZeekLogError> {
        std::fs::create_dir_all(dir).map_err(|source| ZeekLogError::CreateDir {
            dir: dir.to_path_buf(),
            source,
        })?;
        Ok(ZeekLogs {
            conn: LogFile::create(dir, "conn", &CONN_FIELDS)?,
            http: LogFile::create(dir, "http", &HTTP_FIELDS)?,
            ssl: LogFile::create(dir, "ssl", &SSL_FIELDS)?,
            line: Line::default(),
        })
    }

    /// Writes one finished connection: its conn.log line, an http.log line per HTTP
    /// exchange, and an ssl.log line when it was TLS. `input` is the capture's path as
    /// given (only its file name goes into the uid).
    pub fn write(&mut self, input: &str, record: &ConnectionRecord) -> io::Result<()> {
        let uid = uid(input, record.id, record.start);
        self.line.clear();
        conn_line(&mut self.line, &uid, record);
        self.conn.put(&self.line.buf)?;
        for exchange in &record.http {
            self.line.clear();
            http_line(&mut self.line, &uid, record, exchange);
            self.http.put(&self.line.buf)?;
        }
        if let Some(tls) = &record.tls {
            self.line.clear();
            ssl_line(&mut self.line, &uid, record, tls);
            self.ssl.put(&self.line.buf)?;
        }
        Ok(())
    }

    /// Closes the logs: `#close` with the last packet's time, `#open` set to the first
    /// packet's (the Unix epoch for a run without packets).
    pub fn finish(
        self,
        first_packet: Option<Timestamp>,
        last_packet: Option<Timestamp>,
    ) -> Result<(), ZeekLogError> {
        let open = first_packet.map_or(OPEN_PLACEHOLDER.to_string(), log_time);
        let close = last_packet.map_or(OPEN_PLACEHOLDER.to_string(), log_time);
        self.conn.finish(&open, &close)?;
        self.http.finish(&open, &close)?;
        self.ssl.finish(&open, &close)
    }
}

/// Zeek's `#open`/`#close` format, `%Y-%m-%d-%H-%M-%S` (in UTC here). Times outside
/// years 0000–9999 fall back to the epoch, keeping the 19 bytes `#open` is patched in.
pub fn log_time(ts: Timestamp) -> String {
    ts.with_rfc3339(|text| match text.get(..19) {
        Some(civil) if text.as_bytes().get(10) == Some(&b'T') => civil.replace([':', 'T'], "-"),
        _ => OPEN_PLACEHOLDER.to_string(),
    })
}

/// Zeek's base-62 alphabet (`util::uitoa_n`).
const BASE62: &[u8; 62] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

fn push_base62(out: &mut String, mut v: u64) {
    let mut digits = [0u8; 11]; // 62^11 > 2^64
    let mut n = 0;
    loop {
        digits[n] = BASE62[(v % 62) as usize];
        n += 1;
        v /= 62;
        if v == 0 || n == digits.len() {
            break;
        }
    }
    // Zeek writes the least significant digit first, as here.
    out.extend(digits[..n].iter().map(|d| char::from(*d)));
}

/// A connection's Zeek uid: `C` and 96 bits in base 62, as Zeek writes them (two
/// words, each in base 62). Zeek draws the bits at random; here they are the first 96
/// bits of SHA-1 over the input's file name, the connection id and its first packet's
/// time (nanoseconds), so the same capture always gives the same uids, and the same
/// connection in two captures with different names does not collide.
pub fn uid(input: &str, id: u64, start: Timestamp) -> String {
    let name = Path::new(input)
        .file_name()
        .map_or(input.into(), |n| n.to_string_lossy());
    let mut hash = Sha1::new();
    hash.update(name.as_bytes());
    hash.update([0]);
    hash.update(id.to_le_bytes());
    hash.update(start.as_nanos().to_le_bytes());
    let digest = hash.finalize();
    let mut high = [0u8; 8];
    let mut low = [0u8; 4];
    high.copy_from_slice(&digest[..8]);
    low.copy_from_slice(&digest[8..12]);
    let mut out = String::with_capacity(20);
    out.push('C');
    push_base62(&mut out, u64::from_le_bytes(high));
    push_base62(&mut out, u64::from(u32::from_le_bytes(low)));
    out
}

/// One log line being built, fields separated by tabs.
#[derive(Debug, Default)]
struct Line {
    buf: Vec<u8>,
    fields: usize,
}

impl Line {
    fn clear(&mut self) {
        self.buf.clear();
        self.fields = 0;
    }

    fn sep(&mut self) {
        if self.fields > 0 {
            self.buf.push(b'\t');
        }
        self.fields += 1;
    }

    /// A field that needs no escaping (numbers, addresses, markers).
    fn raw(&mut self, text: &str) {
        self.sep();
        self.buf.extend_from_slice(text.as_bytes());
    }

    fn unset(&mut self) {
        self.raw(UNSET);
    }

    fn unset_n(&mut self, n: usize) {
        for _ in 0..n {
            self.unset();
        }
    }

    fn string(&mut self, value: Option<&str>) {
        match value {
            None => self.unset(),
            Some(v) => {
                self.sep();
                escape_into(&mut self.buf, v);
            }
        }
    }

    fn bytes(&mut self, value: &[u8]) {
        self.sep();
        escape_bytes_into(&mut self.buf, value);
    }

    /// A value formatted straight into the line, no String in between. Writing to a
    /// `Vec` cannot fail, so the `io::Result` carries nothing.
    fn display(&mut self, value: impl fmt::Display) {
        self.sep();
        let _ = write!(self.buf, "{value}");
    }

    fn count(&mut self, value: Option<u64>) {
        match value {
            None => self.unset(),
            Some(v) => self.display(v),
        }
    }

    fn boolean(&mut self, value: bool) {
        self.raw(if value { "T" } else { "F" });
    }

    fn time(&mut self, ts: Timestamp) {
        self.display(EpochSeconds(ts));
    }

    fn interval(&mut self, secs: f64) {
        if secs.is_finite() {
            self.display(format_args!("{secs:.6}"));
        } else {
            self.unset();
        }
    }

    fn id(&mut self, client: &Endpoint, server: &Endpoint) {
        self.display(client.ip);
        self.display(client.port);
        self.display(server.ip);
        self.display(server.port);
    }

    fn end(&mut self) {
        self.buf.push(b'\n');
    }
}

/// Epoch seconds with six decimals, rounded to the microsecond (Zeek's `%.6f`).
pub fn epoch_seconds(ts: Timestamp) -> String {
    EpochSeconds(ts).to_string()
}

/// [`epoch_seconds`] without the String.
struct EpochSeconds(Timestamp);

impl fmt::Display for EpochSeconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let micros = self.0.as_nanos().saturating_add(500).div_euclid(1000);
        let sign = if micros < 0 { "-" } else { "" };
        let abs = micros.unsigned_abs();
        write!(f, "{sign}{}.{:06}", abs / 1_000_000, abs % 1_000_000)
    }
}

/// A string value escaped as Zeek's ASCII writer does (`ODesc::AddBytes` with UTF-8
/// on): non-printable ASCII (which includes the tab separator and newlines) as `\xNN`,
/// `\` doubled; printable UTF-8 kept. An empty string is `(empty)`, and a value that reads
/// as a marker (`-`, `(empty)`) has its first byte escaped so no reader mistakes it.
pub fn escape_into(out: &mut Vec<u8>, value: &str) {
    escape_bytes_into(out, value.as_bytes());
}

/// [`escape_into`] for bytes that need not be UTF-8 (a percent-decoded URI): bytes
/// outside valid UTF-8 are escaped too, as Zeek does.
pub fn escape_bytes_into(out: &mut Vec<u8>, value: &[u8]) {
    if value.is_empty() {
        out.extend_from_slice(EMPTY.as_bytes());
        return;
    }
    let marker = value == UNSET.as_bytes() || value == EMPTY.as_bytes();
    let hex = |out: &mut Vec<u8>, b: u8| {
        let _ = write!(out, "\\x{b:02x}"); // a Vec cannot fail
    };
    let mut first = true;
    for chunk in value.utf8_chunks() {
        for b in chunk.valid().bytes() {
            if b == b'\\' {
                // Newer Zeek (`util::get_escaped_string`) doubles a backslash.
                out.extend_from_slice(b"\\\\");
            } else if b.is_ascii_control() || (marker && first) {
                hex(out, b);
            } else {
                out.push(b);
            }
            first = false;
        }
        for b in chunk.invalid() {
            hex(out, *b);
            first = false;
        }
    }
}

/// The request target with `%XX` decoded, as Zeek logs `uri` (its `unescaped_URI`):
/// a `%` not followed by two hex digits stays as it is.
pub fn unescape_uri(target: &str) -> Vec<u8> {
    let bytes = target.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = |at: usize| bytes.get(at).and_then(|d| char::from(*d).to_digit(16));
        match (b, hex(i + 1), hex(i + 2)) {
            (b'%', Some(high), Some(low)) => {
                // Two hex digits: at most 0xff, so the cast keeps every bit.
                out.push((high * 16 + low) as u8);
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

fn conn_line(line: &mut Line, uid: &str, c: &ConnectionRecord) {
    line.time(c.start);
    line.raw(uid);
    line.id(&c.client, &c.server);
    line.raw("tcp");
    let service = match (c.tls.is_some(), c.http.is_empty()) {
        (true, true) => Some("ssl"),
        (true, false) => Some("ssl,http"),
        (false, false) => Some("http"),
        (false, true) => None,
    };
    line.string(service);
    line.interval(c.duration_s);
    line.count(Some(c.payload_bytes.client));
    line.count(Some(c.payload_bytes.server));
    line.string(Some(c.conn_state));
    // local_orig, local_resp: Zeek sets them only with Site::local_nets configured.
    line.unset_n(2);
    line.count(Some(
        c.missed_bytes.client.saturating_add(c.missed_bytes.server),
    ));
    line.string(Some(&c.history));
    line.count(Some(c.packets.client));
    line.unset(); // orig_ip_bytes: not in the report model
    line.count(Some(c.packets.server));
    line.unset(); // resp_ip_bytes
                  // tunnel_parents would name tunnel.log's uids; connscope writes no tunnel.log.
    line.unset();
    line.string(Some(&c.community_id));
    line.end();
}

fn http_line(line: &mut Line, uid: &str, c: &ConnectionRecord, x: &HttpExchange) {
    line.time(x.request_start.or(x.response_start).unwrap_or(c.start));
    line.raw(uid);
    line.id(&c.client, &c.server);
    line.count(Some(x.index));
    line.string(x.method.as_deref());
    line.string(x.host.as_deref());
    match &x.target {
        Some(target) => line.bytes(&unescape_uri(target)),
        None => line.unset(),
    }
    line.unset(); // referrer
                  // Zeek logs the version without its `HTTP/` prefix: `1.1`.
    let version = x.version.as_deref().or(x.response_version.as_deref());
    line.string(version.map(|v| v.strip_prefix("HTTP/").unwrap_or(v)));
    line.unset_n(2); // user_agent, origin
    line.count(Some(x.request_body_bytes));
    line.count(Some(x.response_body_bytes));
    line.count(x.status.map(u64::from));
    line.string(x.reason.as_deref());
    line.count(x.interim.last().copied().map(u64::from));
    line.unset(); // info_msg
    line.raw(EMPTY); // tags: an empty set, as Zeek logs it
    line.unset_n(9); // username … resp_mime_types
    line.end();
}

/// Zeek's names for the versions (`SSL::version_strings`): `TLSv12`, and the TLS 1.3
/// drafts as `TLSv13-draft23`.
fn zeek_version(v: &str) -> std::borrow::Cow<'_, str> {
    let name = match v {
        "SSL 3.0" => "SSLv3",
        "TLS 1.0" => "TLSv10",
        "TLS 1.1" => "TLSv11",
        "TLS 1.2" => "TLSv12",
        "TLS 1.3" => "TLSv13",
        other => match other.strip_prefix("TLS 1.3 draft ") {
            Some(draft) => return format!("TLSv13-draft{draft}").into(),
            None => other,
        },
    };
    name.into()
}

fn ssl_line(line: &mut Line, uid: &str, c: &ConnectionRecord, tls: &TlsInfo) {
    line.time(tls.handshake_start.unwrap_or(c.start));
    line.raw(uid);
    line.id(&c.client, &c.server);
    line.string(tls.version.as_deref().map(zeek_version).as_deref());
    line.string(tls.cipher.as_deref());
    line.unset(); // curve
    line.string(tls.sni.as_deref());
    line.boolean(tls.resumed.unwrap_or(false));
    // An encrypted alert's description is a guess: Zeek logs only alerts it can read.
    let alert = tls.alert.as_ref().filter(|a| a.level != "encrypted");
    line.string(alert.map(|a| a.description.as_str()));
    line.string(tls.alpn.as_deref());
    line.boolean(tls.handshake_complete);
    line.unset_n(9); // ssl_history … validation_status: certificates are not parsed
    line.end();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escaped(v: &str) -> String {
        let mut out = Vec::new();
        escape_into(&mut out, v);
        String::from_utf8(out).unwrap_or_default()
    }

    #[test]
    fn escaping_follows_zeeks_ascii_writer() {
        assert_eq!(escaped("GET /a b"), "GET /a b");
        assert_eq!(escaped("a\tb\nc"), "a\\x09b\\x0ac");
        assert_eq!(escaped("C:\\dir"), "C:\\\\dir");
        assert_eq!(escaped("\u{7f}"), "\\x7f");
        assert_eq!(escaped("héllo"), "héllo");
        assert_eq!(escaped(""), "(empty)");
        assert_eq!(escaped("-"), "\\x2d");
        assert_eq!(escaped("(empty)"), "\\x28empty)");
        assert_eq!(escaped("a-b"), "a-b");
    }

    #[test]
    fn uris_are_unescaped_then_escaped_as_zeek_logs_them() {
        // The four requests of Zeek's http-non-printable-characters.pcap.
        let uri = |t: &str| {
            let mut out = Vec::new();
            escape_bytes_into(&mut out, &unescape_uri(t));
            String::from_utf8(out).unwrap_or_default()
        };
        assert_eq!(uri("/regular_file.html"), "/regular_file.html");
        assert_eq!(uri("/printable_%F0%9F%98%84"), "/printable_\u{1f604}");
        assert_eq!(uri("/non_printable_%07"), "/non_printable_\\x07");
        assert_eq!(
            uri("/non_printable_literal_%5Cx07"),
            "/non_printable_literal_\\\\x07"
        );
        // Invalid UTF-8 after decoding, and a `%` without two hex digits.
        assert_eq!(uri("/a%ff%zz%4"), "/a\\xff%zz%4");
    }

    #[test]
    fn times_are_epoch_seconds_rounded_to_the_microsecond() {
        let ts = Timestamp::from_nanos(1_300_475_168_892_936_499);
        assert_eq!(epoch_seconds(ts), "1300475168.892936");
        let ts = Timestamp::from_nanos(1_300_475_168_892_936_500);
        assert_eq!(epoch_seconds(ts), "1300475168.892937");
        assert_eq!(
            epoch_seconds(Timestamp::from_nanos(-500_000_000)),
            "-0.500000"
        );
    }

    #[test]
    fn open_and_close_use_zeeks_civil_format() {
        // 2011-03-18T19:06:08Z, the #open of Zeek's own wikipedia.trace baseline.
        let ts = Timestamp::from_nanos(1_300_475_168_000_000_000);
        assert_eq!(log_time(ts), "2011-03-18-19-06-08");
        assert_eq!(log_time(ts).len(), OPEN_PLACEHOLDER.len());
    }

    #[test]
    fn uids_are_deterministic_distinct_and_zeek_shaped() {
        let t = Timestamp::from_nanos(1_300_475_168_000_000_000);
        let a = uid("fixtures/a.pcap", 1, t);
        assert_eq!(
            a,
            uid("/elsewhere/a.pcap", 1, t),
            "only the file name counts"
        );
        assert_ne!(a, uid("a.pcap", 2, t));
        assert_ne!(a, uid("b.pcap", 1, t));
        assert_ne!(a, uid("a.pcap", 1, Timestamp::from_nanos(1)));
        assert!(a.starts_with('C'));
        // Two base-62 words of up to 64 and 32 bits: at most 1 + 11 + 6 characters.
        assert!((3..=18).contains(&a.len()), "{a}");
        assert!(a[1..].bytes().all(|b| b.is_ascii_alphanumeric()));
    }

    #[test]
    fn versions_use_zeeks_names() {
        assert_eq!(zeek_version("TLS 1.2"), "TLSv12");
        assert_eq!(zeek_version("SSL 3.0"), "SSLv3");
        assert_eq!(zeek_version("TLS 1.3 draft 23"), "TLSv13-draft23");
        assert_eq!(zeek_version("0x7a7a"), "0x7a7a");
    }

    #[test]
    fn base62_matches_zeeks_digit_order() {
        let mut s = String::new();
        push_base62(&mut s, 62 + 1);
        assert_eq!(s, "11");
        s.clear();
        push_base62(&mut s, 61);
        assert_eq!(s, "Z");
        s.clear();
        push_base62(&mut s, 0);
        assert_eq!(s, "0");
        s.clear();
        push_base62(&mut s, 62 * 2 + 5);
        assert_eq!(s, "52", "least significant digit first");
    }

    #[test]
    fn headers_fields_and_close_are_written_in_place() {
        let dir = tempfile::tempdir().expect("temp dir");
        let logs = ZeekLogs::create(dir.path()).expect("create");
        let first = Timestamp::from_nanos(1_300_475_168_000_000_000);
        let last = Timestamp::from_nanos(1_300_475_173_000_000_000);
        logs.finish(Some(first), Some(last)).expect("finish");
        let conn = std::fs::read_to_string(dir.path().join("conn.log")).expect("conn.log");
        let lines: Vec<&str> = conn.lines().collect();
        assert_eq!(lines.first().copied(), Some("#separator \\x09"));
        assert_eq!(lines.get(1).copied(), Some("#set_separator\t,"));
        assert_eq!(lines.get(4).copied(), Some("#path\tconn"));
        assert_eq!(lines.get(5).copied(), Some("#open\t2011-03-18-19-06-08"));
        let fields = lines.get(6).copied().unwrap_or_default();
        assert!(fields.starts_with("#fields\tts\tuid\tid.orig_h\tid.orig_p"));
        assert!(fields.ends_with("\ttunnel_parents\tcommunity_id"));
        let types = lines.get(7).copied().unwrap_or_default();
        assert_eq!(types.split('\t').count(), CONN_FIELDS.len() + 1);
        assert_eq!(lines.last().copied(), Some("#close\t2011-03-18-19-06-13"));
        let ssl = std::fs::read_to_string(dir.path().join("ssl.log")).expect("ssl.log");
        assert!(
            ssl.contains("\tvalidation_status\n#types"),
            "no stray field"
        );
    }

    /// HTTP/2 streams are http.log rows like HTTP/1.x ones, in Zeek's columns (no
    /// stream id), with version `2` as Zeek's HTTP/2 analyzer logs it; ssl.log is as
    /// without keys.
    #[test]
    fn http2_streams_are_http_log_rows_with_version_2() {
        use crate::report::exchange::h2_support::{conv, records, Stream};
        let streams = [Stream(1, 1.0, 1.5), Stream(3, 1.1, 1.2)];
        let a = conv(40000, 0.0, true, &streams, Some(4.0));
        let recs = records(&[(&a, &streams)]);
        let dir = tempfile::tempdir().expect("temp dir");
        let mut logs = ZeekLogs::create(dir.path()).expect("create");
        logs.write("h2.pcap", &recs[0]).expect("write");
        logs.finish(Some(recs[0].start), Some(recs[0].end))
            .expect("finish");
        let http = std::fs::read_to_string(dir.path().join("http.log")).expect("http.log");
        let rows: Vec<Vec<&str>> = http
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| l.split('\t').collect())
            .collect();
        assert_eq!(rows.len(), 2, "{http}");
        let fields: Vec<&str> = HTTP_FIELDS.iter().map(|(name, _)| *name).collect();
        let column = |name: &str| fields.iter().position(|f| *f == name).expect(name);
        assert_eq!(rows[0].len(), fields.len(), "{http}");
        let picked: Vec<(&str, &str, &str, &str)> = rows
            .iter()
            .map(|r| {
                (
                    r[column("trans_depth")],
                    r[column("uri")],
                    r[column("version")],
                    r[column("status_code")],
                )
            })
            .collect();
        assert_eq!(
            picked,
            [("1", "/item/1", "2", "200"), ("2", "/item/3", "2", "200")]
        );
        let ssl = std::fs::read_to_string(dir.path().join("ssl.log")).expect("ssl.log");
        assert_eq!(ssl.lines().filter(|l| !l.starts_with('#')).count(), 1);
    }
}
