//! The swimlane chart, as SVG: one lane per connection, grouped by server, on one
//! time axis (see `axis`). Per lane: the handshake, each exchange as a bar (stacked
//! when they overlap, as HTTP/2 streams do), idle stretches hatched, keep-alive probes
//! as ticks (above the lane from the client, below from the server; a filled head when
//! answered, a cross when not), and the end: a bracket for a FIN, a cross for an RST,
//! an arrow for a connection still open, each with a word beside it so colour is never
//! the only signal. Every mark has a `<title>`: what it is and its packet numbers.
//!
//! Past [`LANE_LIMIT`] connections, the lanes drawn are those findings name, then the
//! first ones; each server's other connections fold into one aggregate lane showing
//! how many were open along the axis, so the file stays small.
//! Only draws what the report model says; derives no facts of its own.

use super::axis::TimeAxis;
use super::esc;
use crate::findings::secs;
use crate::flow::key::{Direction, Endpoint};
use crate::report::model::{CloseHow, ConnectionRecord, Exchange, Report};
use crate::time::Timestamp;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

/// Connections drawn one lane each; the rest are aggregated per server.
pub const LANE_LIMIT: usize = 400;
const LABEL_W: f64 = 200.0;
const PLOT_W: f64 = 880.0;
const END_W: f64 = 110.0;
const LANE_H: f64 = 26.0;
const GROUP_H: f64 = 24.0;
const AXIS_H: f64 = 40.0;
const LEGEND_H: f64 = 30.0;
/// Columns of an aggregate lane.
const BUCKETS: usize = 220;

/// The chart's own style: inside the SVG, so `--format svg` pastes anywhere.
pub const CHART_CSS: &str = include_str!("chart.css");

/// One input's chart, laid out: which connections get lanes, and the axis.
pub struct Chart<'a> {
    input: usize,
    groups: Vec<Group<'a>>,
    axis: TimeAxis,
}

struct Group<'a> {
    server: Endpoint,
    drawn: Vec<&'a ConnectionRecord>,
    folded: Vec<&'a ConnectionRecord>,
}

/// When an exchange starts and ends on the wire.
fn exchange_span(x: Exchange<'_>) -> Option<(Timestamp, Timestamp)> {
    let start = x.request_start().or(x.response_start())?;
    let end = x
        .response_end()
        .or(x.response_start())
        .or(x.request_end())
        .unwrap_or(start);
    Some((start, end.max(start)))
}

fn handshake_end(c: &ConnectionRecord) -> Option<Timestamp> {
    let h = c.handshake.as_ref()?;
    let ms = h.rtt_ms.or(h.syn_to_synack_ms)?;
    Some(Timestamp::from_nanos(
        c.start.as_nanos().saturating_add((ms * 1e6) as i64),
    ))
}

fn plus_secs(t: Timestamp, s: f64) -> Timestamp {
    Timestamp::from_nanos(t.as_nanos().saturating_add((s * 1e9) as i64))
}

impl<'a> Chart<'a> {
    pub fn new(report: &'a Report, input: usize) -> Chart<'a> {
        let conns: Vec<&ConnectionRecord> = report
            .connections
            .iter()
            .filter(|c| c.input == input)
            .collect();
        let mut keep: BTreeSet<u64> = BTreeSet::new();
        if conns.len() > LANE_LIMIT {
            // Those the findings talk about first, then the earliest.
            let named = report
                .findings
                .iter()
                .filter(|f| f.input == input)
                .flat_map(|f| f.connections.iter().copied());
            for id in named {
                if keep.len() >= LANE_LIMIT / 2 {
                    break;
                }
                keep.insert(id);
            }
            for c in &conns {
                if keep.len() >= LANE_LIMIT {
                    break;
                }
                keep.insert(c.id);
            }
        } else {
            keep.extend(conns.iter().map(|c| c.id));
        }
        // Servers in order of their first connection.
        let mut order: Vec<Endpoint> = Vec::new();
        let mut by_server: BTreeMap<Endpoint, Group<'a>> = BTreeMap::new();
        for c in &conns {
            let group = by_server.entry(c.server).or_insert_with(|| {
                order.push(c.server);
                Group {
                    server: c.server,
                    drawn: Vec::new(),
                    folded: Vec::new(),
                }
            });
            if keep.contains(&c.id) {
                group.drawn.push(c);
            } else {
                group.folded.push(c);
            }
        }
        let groups: Vec<Group<'a>> = order.iter().filter_map(|s| by_server.remove(s)).collect();
        let mut moments = Vec::new();
        // Folded connections only stretch the axis to cover them: were each of their
        // moments a point of the axis, ten thousand would leave the drawn lanes a
        // pixel wide.
        let folded = groups.iter().flat_map(|g| &g.folded);
        moments.extend(folded.clone().map(|c| c.start).min());
        moments.extend(folded.map(|c| c.end).max());
        for g in &groups {
            for c in &g.drawn {
                moments.extend([c.start, c.end]);
                moments.extend(handshake_end(c));
                for x in c.exchanges() {
                    if let Some((s, e)) = exchange_span(x) {
                        moments.extend([s, e]);
                    }
                }
                for p in c.idle.iter().flat_map(|i| &i.periods) {
                    moments.extend([p.start, plus_secs(p.start, p.duration_s)]);
                }
                moments.extend(c.keepalive.probes.iter().map(|p| p.time));
                moments.extend(c.http2.iter().flat_map(|h| h.pings.iter().map(|p| p.time)));
                moments.extend(c.close.time);
            }
        }
        Chart {
            input,
            groups,
            axis: TimeAxis::new(moments, PLOT_W),
        }
    }

    /// The element a finding about connection `id` links to: its lane, or the
    /// aggregate lane it was folded into.
    pub fn anchor(&self, id: u64) -> String {
        for (i, g) in self.groups.iter().enumerate() {
            if g.folded.iter().any(|c| c.id == id) {
                return format!("agg-{}-{i}", self.input);
            }
        }
        format!("conn-{id}")
    }

    pub fn lanes(&self) -> usize {
        self.groups.iter().map(|g| g.drawn.len()).sum()
    }

    pub fn folded(&self) -> usize {
        self.groups.iter().map(|g| g.folded.len()).sum()
    }

    /// The chart in words: what one glance at it should tell.
    pub fn caption(&self) -> String {
        let conns: Vec<&ConnectionRecord> = self
            .groups
            .iter()
            .flat_map(|g| g.drawn.iter().chain(&g.folded).copied())
            .collect();
        let plural =
            |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        let exchanges: usize = conns.iter().map(|c| c.exchanges().len()).sum();
        let idle: usize = conns
            .iter()
            .filter_map(|c| c.idle.as_ref())
            .map(|i| i.periods.len())
            .sum();
        let probes: Vec<_> = conns.iter().flat_map(|c| &c.keepalive.probes).collect();
        let answered = probes.iter().filter(|p| p.acked).count();
        let mut ends: BTreeMap<String, usize> = BTreeMap::new();
        for c in &conns {
            *ends.entry(end_words(c)).or_default() += 1;
        }
        let ends: Vec<String> = ends.iter().map(|(w, n)| format!("{n} {w}")).collect();
        let mut text = format!(
            "{} to {}; {}; {} of a second or more; {} ({answered} answered); ends: {}.",
            plural(conns.len(), "connection", "connections"),
            plural(self.groups.len(), "server", "servers"),
            plural(exchanges, "exchange", "exchanges"),
            plural(idle, "idle stretch", "idle stretches"),
            plural(probes.len(), "keep-alive probe", "keep-alive probes"),
            ends.join(", ")
        );
        if self.folded() > 0 {
            text.push_str(&format!(
                " {} connections are drawn one by one (those the findings name first); the other {} are summed up per server.",
                self.lanes(),
                self.folded()
            ));
        }
        text
    }

    /// Writes the `<svg>`; `standalone` adds the XML namespace and the style.
    pub fn write_svg(&self, out: &mut String, title: &str, standalone: bool) {
        let rows: usize = self
            .groups
            .iter()
            .map(|g| g.drawn.len() + usize::from(!g.folded.is_empty()))
            .sum();
        let width = LABEL_W + PLOT_W + END_W;
        let height = LEGEND_H + AXIS_H + GROUP_H * self.groups.len() as f64 + LANE_H * rows as f64;
        let n = self.input;
        let _ = write!(
            out,
            "<svg class=\"swimlanes\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\" aria-labelledby=\"chart-title-{n} chart-desc-{n}\" data-lanes=\"{}\" data-folded=\"{}\">\n<title id=\"chart-title-{n}\">{}</title><desc id=\"chart-desc-{n}\">{}</desc>\n",
            self.lanes(),
            self.folded(),
            esc(title),
            esc(&self.caption())
        );
        if standalone {
            let _ = writeln!(out, "<style>{CHART_CSS}</style>");
            let _ = writeln!(
                out,
                "<rect x=\"0\" y=\"0\" width=\"{width}\" height=\"{height}\" fill=\"#fff\"/>"
            );
        }
        let _ = writeln!(
            out,
            "<defs><pattern id=\"hatch-{n}\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" fill=\"#eceff3\"/><line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#8a94a3\" stroke-width=\"2\"/></pattern></defs>"
        );
        self.legend(out);
        self.write_axis(out, height);
        let mut y = LEGEND_H + AXIS_H;
        for (i, g) in self.groups.iter().enumerate() {
            self.group_header(out, g, y);
            y += GROUP_H;
            for c in &g.drawn {
                self.lane(out, c, y);
                y += LANE_H;
            }
            if !g.folded.is_empty() {
                self.aggregate(out, g, i, y);
                y += LANE_H;
            }
        }
        out.push_str("</svg>\n");
    }

    fn legend(&self, out: &mut String) {
        let n = self.input;
        let y = 18.0;
        out.push_str("<g class=\"legend\" aria-hidden=\"true\">");
        let items: [(&str, String); 8] = [
            ("handshake", "<rect class=\"handshake\" x=\"0\" y=\"-6\" width=\"12\" height=\"12\"/>".into()),
            ("exchange", "<rect class=\"exchange\" x=\"0\" y=\"-6\" width=\"20\" height=\"12\"/>".into()),
            ("idle", format!("<rect class=\"idle\" fill=\"url(#hatch-{n})\" x=\"0\" y=\"-6\" width=\"20\" height=\"12\"/>")),
            ("probe answered", "<path class=\"probe answered\" d=\"M6 6V-4\"/><circle class=\"probe-head answered\" cx=\"6\" cy=\"-5\" r=\"3\"/>".into()),
            ("probe unanswered", "<path class=\"probe unanswered\" d=\"M6 6V-4M3 -8l6 6M9 -8l-6 6\"/>".into()),
            ("FIN", "<path class=\"cap fin\" d=\"M2 -7h4v14h-4\"/>".into()),
            ("RST", "<path class=\"cap rst\" d=\"M0 -6l10 12M10 -6l-10 12\"/>".into()),
            ("still open", "<path class=\"cap open\" d=\"M0 -6l8 6l-8 6\"/>".into()),
        ];
        let mut x = 8.0;
        for (word, shape) in items {
            let _ = write!(
                out,
                "<g transform=\"translate({x},{y})\">{shape}<text x=\"26\" y=\"4\">{word}</text></g>"
            );
            x += 44.0 + 7.0 * word.len() as f64;
        }
        out.push_str("</g>\n");
    }

    fn write_axis(&self, out: &mut String, height: f64) {
        let top = LEGEND_H;
        let base = top + AXIS_H - 8.0;
        let _ = write!(
            out,
            "<g class=\"axis\"><line x1=\"{LABEL_W}\" y1=\"{base}\" x2=\"{}\" y2=\"{base}\"/>",
            LABEL_W + PLOT_W
        );
        for b in self.axis.breaks() {
            let (x0, x1) = (LABEL_W + b.x0, LABEL_W + b.x1);
            let mid = (x0 + x1) / 2.0;
            // A label needs room; a narrow break keeps its band and tooltip only.
            let label = if x1 - x0 >= 36.0 {
                format!("⋯ {} ⋯", secs(b.seconds))
            } else {
                String::new()
            };
            let _ = write!(
                out,
                "<g class=\"break\"><title>axis break: {} with nothing drawn is shown shortened</title><rect class=\"gap\" x=\"{x0:.1}\" y=\"{base}\" width=\"{:.1}\" height=\"{:.1}\"/><path d=\"M{:.1} {:.1}l4 -8M{:.1} {:.1}l4 -8\"/><text x=\"{mid:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{label}</text></g>",
                secs(b.seconds),
                (x1 - x0).max(0.0),
                height - base,
                mid - 4.0,
                base + 4.0,
                mid,
                base + 4.0,
                base - 4.0,
            );
        }
        if let Some(start) = self.axis.start() {
            for (x, t) in self.axis.ticks(6) {
                let _ = write!(
                    out,
                    "<g class=\"tick\"><line x1=\"{0:.1}\" y1=\"{base}\" x2=\"{0:.1}\" y2=\"{1}\"/><text x=\"{0:.1}\" y=\"{2}\">+{3:.3} s</text></g>",
                    LABEL_W + x,
                    base + 4.0,
                    top + 12.0,
                    t.secs_since(start)
                );
            }
            let _ = write!(
                out,
                "<text class=\"axis-start\" x=\"4\" y=\"{}\">from {}</text>",
                top + 12.0,
                start.time_of_day()
            );
        }
        out.push_str("</g>\n");
    }

    fn group_header(&self, out: &mut String, g: &Group<'_>, y: f64) {
        let conns = g.drawn.len() + g.folded.len();
        let requests: u64 = g.drawn.iter().chain(&g.folded).map(|c| c.requests).sum();
        let _ = writeln!(
            out,
            "<g class=\"group\" data-server=\"{0}\"><text x=\"4\" y=\"{1}\">{0} — {2} connection{3}, {4} request{5}</text></g>",
            esc(&g.server.to_string()),
            y + 16.0,
            conns,
            if conns == 1 { "" } else { "s" },
            requests,
            if requests == 1 { "" } else { "s" }
        );
    }

    fn x(&self, t: Timestamp) -> f64 {
        LABEL_W + self.axis.x(t)
    }

    fn lane(&self, out: &mut String, c: &ConnectionRecord, top: f64) {
        let cy = top + LANE_H / 2.0;
        let label = format!("#{} {}", c.id, c.client);
        let _ = write!(
            out,
            "<g class=\"lane\" id=\"conn-{0}\" data-conn=\"{0}\" data-label=\"{1} {2}\" tabindex=\"0\"><title>connection {0}: {1} → {2}, packets {3}–{4}, {5}, {6} request{7}</title>",
            c.id,
            esc(&c.client.to_string()),
            esc(&c.server.to_string()),
            c.first_packet,
            c.last_packet,
            secs(c.duration_s),
            c.requests,
            if c.requests == 1 { "" } else { "s" }
        );
        let _ = write!(
            out,
            "<rect class=\"lane-bg\" x=\"0\" y=\"{top}\" width=\"{}\" height=\"{LANE_H}\"/><text class=\"lane-label\" x=\"12\" y=\"{:.1}\">{}</text>",
            LABEL_W + PLOT_W + END_W,
            cy + 4.0,
            esc(&label)
        );
        let (x0, x1) = (self.x(c.start), self.x(c.end));
        let _ = write!(
            out,
            "<line class=\"span\" x1=\"{x0:.1}\" y1=\"{cy}\" x2=\"{x1:.1}\" y2=\"{cy}\"/>"
        );
        for p in c.idle.iter().flat_map(|i| &i.periods) {
            let (a, b) = (self.x(p.start), self.x(plus_secs(p.start, p.duration_s)));
            let _ = write!(
                out,
                "<rect class=\"idle\" fill=\"url(#hatch-{})\" x=\"{a:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"12\"><title>idle {}: no payload between packets {} and {}</title></rect>",
                self.input,
                cy - 6.0,
                (b - a).max(1.0),
                secs(p.duration_s),
                p.from_packet,
                p.to_packet
            );
        }
        self.handshake(out, c, cy);
        self.exchanges(out, c, cy);
        for p in &c.keepalive.probes {
            let x = self.x(p.time);
            let (tip, foot) = match p.from {
                Direction::Client => (cy - 12.0, cy - 2.0),
                Direction::Server => (cy + 12.0, cy + 2.0),
            };
            let answer = match p.ack_packet {
                Some(ack) => format!("answered by packet {ack}"),
                None if p.acked => "answered".into(),
                None => "not answered".into(),
            };
            let _ = write!(
                out,
                "<g class=\"probe {0}\"><title>keep-alive probe from the {1}, packet {2}, {3}</title><path d=\"M{x:.1} {foot:.1}V{tip:.1}",
                if p.acked { "answered" } else { "unanswered" },
                p.from.as_str(),
                p.packet,
                answer
            );
            if p.acked {
                let _ = write!(
                    out,
                    "\"/><circle class=\"probe-head\" cx=\"{x:.1}\" cy=\"{tip:.1}\" r=\"3\"/></g>"
                );
            } else {
                let _ = write!(
                    out,
                    "M{:.1} {:.1}l6 6M{:.1} {:.1}l-6 6\"/></g>",
                    x - 3.0,
                    tip - 3.0,
                    x + 3.0,
                    tip - 3.0
                );
            }
        }
        self.pings(out, c, cy);
        self.end(out, c, cy);
        out.push_str("</g>\n");
    }

    /// HTTP/2 PINGs, HTTP/2's own keep-alive, drawn as the probes are (a stem up from
    /// the client, down from the server) with a diamond head where answered.
    fn pings(&self, out: &mut String, c: &ConnectionRecord, cy: f64) {
        let Some(h2) = &c.http2 else { return };
        for p in &h2.pings {
            let x = self.x(p.time);
            let (tip, foot) = match p.from {
                Direction::Client => (cy - 12.0, cy - 2.0),
                Direction::Server => (cy + 12.0, cy + 2.0),
            };
            let answer = match (p.ack_packet, p.rtt_ms) {
                (Some(ack), Some(ms)) => {
                    format!("answered by packet {ack} in {}", secs(ms / 1000.0))
                }
                (Some(ack), None) => format!("answered by packet {ack}"),
                (None, _) => "not answered".into(),
            };
            let answered = p.ack_packet.is_some();
            let _ = write!(
                out,
                "<g class=\"probe ping {0}\"><title>HTTP/2 PING from the {1}, packet {2}, {3}</title><path d=\"M{x:.1} {foot:.1}V{tip:.1}",
                if answered { "answered" } else { "unanswered" },
                p.from.as_str(),
                p.packet,
                answer
            );
            if answered {
                let _ = write!(
                    out,
                    "\"/><path class=\"probe-head\" d=\"M{x:.1} {:.1}l3.5 3.5l-3.5 3.5l-3.5 -3.5z\"/></g>",
                    tip - 3.5
                );
            } else {
                let _ = write!(
                    out,
                    "M{:.1} {:.1}l6 6M{:.1} {:.1}l-6 6\"/></g>",
                    x - 3.0,
                    tip - 3.0,
                    x + 3.0,
                    tip - 3.0
                );
            }
        }
    }

    fn handshake(&self, out: &mut String, c: &ConnectionRecord, cy: f64) {
        let Some(h) = &c.handshake else {
            return;
        };
        let x0 = self.x(c.start);
        let x1 = handshake_end(c).map_or(x0, |t| self.x(t));
        let packets: Vec<String> = [
            ("SYN", h.syn_packet),
            ("SYN-ACK", h.synack_packet),
            ("ACK", h.ack_packet),
            ("RST", h.refused_packet),
        ]
        .iter()
        .filter_map(|(w, p)| p.map(|p| format!("{w} {p}")))
        .collect();
        let rtt = h
            .rtt_ms
            .map(|ms| format!(", round trip {ms:.3} ms"))
            .unwrap_or_default();
        let _ = write!(
            out,
            "<rect class=\"handshake\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"16\"><title>TCP handshake ({:?}): packets {}{rtt}</title></rect>",
            x0 - 1.0,
            cy - 8.0,
            (x1 - x0).max(3.0),
            h.outcome,
            packets.join(", ")
        );
    }

    fn exchanges(&self, out: &mut String, c: &ConnectionRecord, cy: f64) {
        let spans: Vec<(f64, f64)> = c
            .exchanges()
            .filter_map(exchange_span)
            .map(|(s, e)| (self.x(s), self.x(e)))
            .collect();
        let overlapping = spans.windows(2).any(|w| w[1].0 < w[0].1);
        // Overlapping exchanges (HTTP/2 streams) take turns in three thin rows.
        let mut row_end = [f64::MIN; 3];
        for x in c.exchanges() {
            let Some((s, e)) = exchange_span(x) else {
                continue;
            };
            let (a, b) = (self.x(s), self.x(e));
            let (y, h) = if overlapping {
                let row = row_end.iter().position(|end| *end <= a).unwrap_or(0);
                row_end[row] = b;
                (cy - 9.0 + 6.0 * row as f64, 5.0)
            } else {
                (cy - 6.0, 12.0)
            };
            let what = match (x.method(), x.target(), x.status()) {
                (Some(m), Some(t), Some(st)) => format!("{m} {t} → {st}"),
                (Some(m), Some(t), None) => format!("{m} {t} → no response"),
                (None, _, Some(st)) => format!("response {st}"),
                _ => "encrypted exchange".to_string(),
            };
            let packets = [
                x.request_packet().map(|p| format!("request packet {p}")),
                x.response_packet().map(|p| format!("response packet {p}")),
                x.response_end_packet().map(|p| format!("last packet {p}")),
            ];
            let packets: Vec<String> = packets.into_iter().flatten().collect();
            let idle = x
                .idle_before_s()
                .map(|s| format!(", after {} idle", secs(s)))
                .unwrap_or_default();
            let stream = x
                .stream_id()
                .map(|id| format!(" (HTTP/2 stream {id})"))
                .unwrap_or_default();
            let _ = write!(
                out,
                "<rect class=\"exchange\" x=\"{a:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{h}\"><title>exchange {}{stream}: {}; {}; {}{idle}</title></rect>",
                (b - a).max(3.0),
                x.index(),
                esc(&what),
                packets.join(", "),
                secs(e.secs_since(s))
            );
        }
    }

    fn end(&self, out: &mut String, c: &ConnectionRecord, cy: f64) {
        let words = end_words(c);
        let (shape, x) = match (c.close.how, c.close.time) {
            (CloseHow::Fin, Some(t)) => {
                let x = self.x(t);
                (
                    format!(
                        "<path class=\"cap fin\" d=\"M{:.1} {:.1}h4v16h-4\"/>",
                        x - 4.0,
                        cy - 8.0
                    ),
                    x,
                )
            }
            (CloseHow::Rst, Some(t)) => {
                let x = self.x(t);
                (
                    format!(
                        "<path class=\"cap rst\" d=\"M{:.1} {:.1}l10 12M{:.1} {:.1}l-10 12\"/>",
                        x - 5.0,
                        cy - 6.0,
                        x + 5.0,
                        cy - 6.0
                    ),
                    x,
                )
            }
            _ => {
                let x = self.x(c.end);
                (
                    format!(
                        "<line class=\"open-tail\" x1=\"{x:.1}\" y1=\"{cy}\" x2=\"{:.1}\" y2=\"{cy}\"/><path class=\"cap open\" d=\"M{:.1} {:.1}l8 6l-8 6\"/>",
                        LABEL_W + PLOT_W,
                        LABEL_W + PLOT_W - 8.0,
                        cy - 6.0
                    ),
                    x,
                )
            }
        };
        let packet = c
            .close
            .packet
            .map(|p| format!(", packet {p}"))
            .unwrap_or_else(|| format!(", last packet {}", c.last_packet));
        let _ = write!(
            out,
            "<g class=\"close {0}{1}\" data-x=\"{x:.1}\"><title>{2}{packet}</title>{shape}<text class=\"end-label\" x=\"{3}\" y=\"{4:.1}\">{2}</text></g>",
            c.close.how.as_str(),
            c.close
                .by
                .map(|by| format!(" by-{}", by.as_str()))
                .unwrap_or_default(),
            words,
            LABEL_W + PLOT_W + 12.0,
            cy + 4.0
        );
    }

    fn aggregate(&self, out: &mut String, g: &Group<'_>, index: usize, top: f64) {
        let mut open = vec![0u32; BUCKETS];
        let width = PLOT_W / BUCKETS as f64;
        for c in &g.folded {
            let a = (self.axis.x(c.start) / width) as usize;
            let b = (self.axis.x(c.end) / width) as usize;
            for slot in open.iter_mut().take(b.min(BUCKETS - 1) + 1).skip(a) {
                *slot += 1;
            }
        }
        let most = open.iter().copied().max().unwrap_or(0).max(1);
        let (first, last) = (
            g.folded.first().map_or(0, |c| c.id),
            g.folded.last().map_or(0, |c| c.id),
        );
        let _ = write!(
            out,
            "<g class=\"aggregate\" id=\"agg-{}-{index}\" data-connections=\"{}\" tabindex=\"0\"><title>{} more connections to {} (ids {first}–{last}), summed up: at most {most} open at once</title><rect class=\"lane-bg\" x=\"0\" y=\"{top}\" width=\"{}\" height=\"{LANE_H}\"/><text class=\"lane-label\" x=\"12\" y=\"{:.1}\">+{} connections</text>",
            self.input,
            g.folded.len(),
            g.folded.len(),
            esc(&g.server.to_string()),
            LABEL_W + PLOT_W + END_W,
            top + LANE_H / 2.0 + 4.0,
            g.folded.len()
        );
        for (i, n) in open.iter().enumerate().filter(|(_, n)| **n > 0) {
            let h = (LANE_H - 6.0) * f64::from(*n) / f64::from(most);
            let _ = write!(
                out,
                "<rect class=\"density\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\"/>",
                LABEL_W + i as f64 * width,
                top + LANE_H - 3.0 - h,
                width
            );
        }
        let _ = writeln!(
            out,
            "<text class=\"end-label\" x=\"{}\" y=\"{:.1}\">peak {most} open</text></g>",
            LABEL_W + PLOT_W + 12.0,
            top + LANE_H / 2.0 + 4.0
        );
    }
}

/// How a connection ended, in words: `FIN by client`, `RST by server`, `still open`.
fn end_words(c: &ConnectionRecord) -> String {
    match (c.close.how, c.close.by) {
        (CloseHow::Open, _) => "still open".into(),
        (how, Some(by)) => format!("{} by {}", how.as_str().to_uppercase(), by.as_str()),
        (how, None) => how.as_str().to_uppercase(),
    }
}

#[cfg(test)]
mod tests {
    //! Charts of connections tracked from packets built with etherparse.
    use super::*;
    use crate::flow::table::tests_support::{pkt, track};
    use crate::report::model::SCHEMA;

    fn report(connections: Vec<ConnectionRecord>) -> Report {
        Report {
            schema: SCHEMA,
            inputs: Vec::new(),
            connections,
            servers: Vec::new(),
            findings: Vec::new(),
        }
    }

    /// Handshake, one GET and its answer, 3 s idle, a second GET, then `end`.
    fn conversation(port: u16, at: f64, end: &str) -> Vec<crate::flow::table::tests_support::Pkt> {
        let (c, s) = (([10, 0, 0, 1], port), ([10, 0, 0, 2], 80));
        let get = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
        let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        let (g, o) = (get.len() as u32, ok.len() as u32);
        let mut p = vec![
            pkt(true, 100, at).syn(),
            pkt(false, 500, at + 0.001).syn().ack(101),
            pkt(true, 101, at + 0.002).ack(501),
            pkt(true, 101, at + 0.003).ack(501).data(get),
            pkt(false, 501, at + 0.004).ack(101 + g).data(ok),
            pkt(true, 101 + g, at + 3.004).ack(501 + o).data(get),
            pkt(false, 501 + o, at + 3.005).ack(101 + 2 * g).data(ok),
        ];
        let (cs, ss) = (101 + 2 * g, 501 + 2 * o);
        match end {
            "fin" => p.push(pkt(true, cs, at + 3.1).ack(ss).fin()),
            "rst" => p.push(pkt(false, ss, at + 3.1).rst()),
            _ => {}
        }
        p.into_iter().map(|x| x.between(c, s)).collect()
    }

    fn svg(report: &Report) -> String {
        let mut out = String::new();
        Chart::new(report, 0).write_svg(&mut out, "t", true);
        out
    }

    #[test]
    fn a_lane_shows_handshake_exchanges_idle_and_the_fin() {
        let r = report(track(&conversation(40000, 1.0, "fin")));
        let out = svg(&r);
        assert_eq!(out.matches("<g class=\"lane\"").count(), 1);
        // The legend has one of each too.
        assert_eq!(out.matches("<rect class=\"exchange\"").count(), 2 + 1);
        assert_eq!(out.matches("<rect class=\"handshake\"").count(), 1 + 1);
        assert_eq!(out.matches("<rect class=\"idle\"").count(), 1 + 1);
        assert!(out.contains("<g class=\"close fin by-client\""));
        assert!(out.contains(">FIN by client</text>"));
        assert!(out.contains("⋯ 3.0 s ⋯"), "the idle gap is an axis break");
        assert!(out.contains("exchange 2: GET / → 200; request packet 6"));
        roxmltree::Document::parse(&out).expect("well-formed SVG");
    }

    #[test]
    fn resets_and_open_ends_are_told_apart_in_words() {
        let mut conns = track(&conversation(40001, 1.0, "rst"));
        conns.extend(track(&conversation(40002, 2.0, "open")));
        for (i, c) in conns.iter_mut().enumerate() {
            c.id = i as u64 + 1;
        }
        let out = svg(&report(conns));
        assert!(out.contains(">RST by server</text>"), "{out}");
        assert!(out.contains(">still open</text>"));
        assert!(out.contains("<path class=\"cap open\""));
    }

    #[test]
    fn past_the_lane_limit_the_rest_fold_into_an_aggregate_lane() {
        let mut conns = Vec::new();
        for i in 0..(LANE_LIMIT as u16 + 3) {
            let mut c = track(&conversation(20000 + i, f64::from(i) * 0.01, "fin"));
            c[0].id = u64::from(i) + 1;
            conns.extend(c);
        }
        let mut r = report(conns);
        r.findings.push(crate::report::model::Finding {
            kind: crate::report::model::FindingKind::NoReuse,
            severity: crate::report::model::Severity::Warning,
            input: 0,
            connections: vec![LANE_LIMIT as u64 + 2],
            packets: Vec::new(),
            message: String::new(),
            figures: crate::report::figures::Figures::NoReuse(crate::report::figures::Count {
                count: 1,
            }),
        });
        let chart = Chart::new(&r, 0);
        assert_eq!((chart.lanes(), chart.folded()), (LANE_LIMIT, 3));
        // The connection a finding names keeps its lane; the last ones fold.
        assert_eq!(
            chart.anchor(LANE_LIMIT as u64 + 2),
            format!("conn-{}", LANE_LIMIT + 2)
        );
        assert_eq!(chart.anchor(LANE_LIMIT as u64 + 3), "agg-0-0");
        let out = svg(&r);
        assert!(out.contains("<g class=\"aggregate\" id=\"agg-0-0\" data-connections=\"3\""));
        assert!(out.contains(">+3 connections</text>"));
        assert!(chart
            .caption()
            .contains("the other 3 are summed up per server"));
    }

    /// HTTP/2 streams open at once are drawn in thin rows, none hiding another, each
    /// titled with its stream.
    #[test]
    fn overlapping_http2_streams_take_separate_rows_and_name_their_stream() {
        use crate::report::exchange::h2_support::{conv, records, Stream};
        let streams = [
            Stream(1, 1.0, 1.5),
            Stream(3, 1.1, 1.4),
            Stream(5, 1.2, 1.3),
        ];
        let a = conv(40000, 0.0, true, &streams, Some(2.0));
        let out = svg(&report(records(&[(&a, &streams)])));
        let rows: Vec<&str> = out
            .split("<rect class=\"exchange\"")
            .skip(1)
            .filter(|r| r.contains("HTTP/2 stream"))
            .filter_map(|r| r.split("y=\"").nth(1)?.split('"').next())
            .collect();
        assert_eq!(rows.len(), 3, "{out}");
        let mut distinct = rows.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(
            distinct.len(),
            3,
            "three streams at once, three rows: {rows:?}"
        );
        assert!(
            out.contains("exchange 2 (HTTP/2 stream 3): GET /item/3 → 200"),
            "{out}"
        );
        roxmltree::Document::parse(&out).expect("well-formed SVG");
        // PINGs are drawn beside where TCP's probes would be, answered or not.
        let mut recs = records(&[(&a, &streams)]);
        let c = &mut recs[0];
        crate::report::exchange::h2_support::ping(c, Direction::Client, 1.8, Some(0.4));
        crate::report::exchange::h2_support::ping(c, Direction::Server, 1.9, None);
        let out = svg(&report(recs));
        assert_eq!(
            out.matches("<g class=\"probe ping answered\">").count(),
            1,
            "{out}"
        );
        assert_eq!(
            out.matches("<g class=\"probe ping unanswered\">").count(),
            1,
            "{out}"
        );
        assert!(out.contains("HTTP/2 PING from the client, packet"), "{out}");
        assert!(out.contains(" in 0.4 ms</title>"), "{out}");
        roxmltree::Document::parse(&out).expect("well-formed SVG");
    }
}
