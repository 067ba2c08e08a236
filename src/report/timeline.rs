//! The timeline renderer: each selected connection's phases as an aligned table —
//! number, wall-clock time, offset from the connection's start, packet range, and
//! what happened — coloured by kind on a terminal. Reads only the model's `Timeline`.

use super::model::{InputReport, Timeline};
use super::style::Paint;
use comfy_table::presets::NOTHING;
use comfy_table::{Cell, CellAlignment, ContentArrangement, Table};
use std::io::{self, Write};

/// How the timeline is dressed.
#[derive(Clone, Copy, Debug)]
pub struct Style {
    /// Output is a terminal: fit its width.
    pub terminal: bool,
    /// The phases' colours (see `report::style`).
    pub paint: Paint,
}

fn packet_range(first: Option<u64>, last: Option<u64>) -> String {
    match (first, last) {
        (Some(a), Some(b)) if a != b => format!("{a}–{b}"),
        (Some(a), _) => a.to_string(),
        _ => "-".into(),
    }
}

/// `+1.500s`; a phase before the connection's first packet (the capture's clock went
/// backwards) is `-0.250s`, not `+-0.250s`.
fn offset(s: f64) -> String {
    if s < 0.0 {
        format!("-{:.3}s", -s)
    } else {
        format!("+{s:.3}s")
    }
}

pub fn write_timelines(
    out: &mut impl Write,
    inputs: &[InputReport],
    timelines: &[Timeline],
    style: Style,
) -> io::Result<()> {
    if timelines.is_empty() {
        return writeln!(
            out,
            "{}",
            if inputs.iter().all(|i| i.connections == 0) {
                "no TCP connections in the capture"
            } else {
                "no connection matches"
            }
        );
    }
    for (n, t) in timelines.iter().enumerate() {
        if n > 0 {
            writeln!(out)?;
        }
        let path = inputs.get(t.input).map_or("", |i| i.path.as_str());
        writeln!(
            out,
            "Connection {}: {} → {} ({path}, starts {})",
            t.connection,
            t.client,
            t.server,
            t.start.rfc3339()
        )?;
        let mut table = Table::new();
        table.load_style(NOTHING);
        if style.paint.is_on() {
            table.enforce_styling();
        } else {
            table.force_no_tty();
        }
        table.set_content_arrangement(if style.terminal {
            ContentArrangement::Dynamic
        } else {
            ContentArrangement::Disabled
        });
        table.set_header(vec!["#", "time", "offset", "packets", "what"]);
        for p in &t.phases {
            let mut what = Cell::new(&p.text);
            if let Some(colour) = style.paint.phase(p.kind) {
                what = what.fg(colour);
            }
            table.add_row(vec![
                Cell::new(p.index).set_alignment(CellAlignment::Right),
                Cell::new(p.time.time_of_day()),
                Cell::new(offset(p.offset_s)).set_alignment(CellAlignment::Right),
                Cell::new(packet_range(p.first_packet, p.last_packet))
                    .set_alignment(CellAlignment::Right),
                what,
            ]);
        }
        // The borderless table pads every cell; trailing blanks help no one.
        for line in table.lines() {
            writeln!(out, "{}", line.trim_end())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::offset;

    #[test]
    fn a_negative_offset_is_not_written_plus_minus() {
        assert_eq!(offset(1.5), "+1.500s");
        assert_eq!(offset(-0.25), "-0.250s");
        assert_eq!(offset(0.0), "+0.000s");
    }
}
