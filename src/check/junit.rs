//! JUnit XML for CI dashboards: one `<testsuite>` per capture, one `<testcase>` per
//! expectation, a `<failure>` with the observed value, connections, packets and the
//! findings that explain it. (The de-facto schema Jenkins, GitLab and GitHub read.)

use super::Outcome;

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 forbids most control characters, even escaped.
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t') => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

pub fn render(outcomes: &[Outcome]) -> String {
    let failures = outcomes.iter().filter(|o| !o.passed).count();
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"connscope check\" tests=\"{}\" failures=\"{failures}\">\n",
        outcomes.len()
    );
    let mut captures: Vec<&str> = Vec::new();
    for o in outcomes {
        if !captures.contains(&o.capture.as_str()) {
            captures.push(&o.capture);
        }
    }
    for capture in captures {
        let cases: Vec<&Outcome> = outcomes.iter().filter(|o| o.capture == capture).collect();
        let failed = cases.iter().filter(|o| !o.passed).count();
        xml.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failed}\">\n",
            escape(capture),
            cases.len()
        ));
        for o in cases {
            xml.push_str(&format!(
                "    <testcase classname=\"{}\" name=\"{}\"",
                escape(capture),
                escape(&o.expectation)
            ));
            if o.passed {
                xml.push_str("/>\n");
                continue;
            }
            let mut detail = format!("observed {}", o.observed);
            if !o.connections.is_empty() {
                let ids: Vec<String> = o.connections.iter().map(u64::to_string).collect();
                detail.push_str(&format!("; connections {}", ids.join(", ")));
            }
            if !o.packets.is_empty() {
                let packets: Vec<String> = o.packets.iter().map(u64::to_string).collect();
                detail.push_str(&format!("; packets {}", packets.join(", ")));
            }
            let mut body = detail.clone();
            for why in &o.why {
                body.push_str(&format!("\nwhy: {why}"));
            }
            xml.push_str(&format!(
                ">\n      <failure message=\"{}\" type=\"expectation\">{}</failure>\n    </testcase>\n",
                escape(&detail),
                escape(&body)
            ));
        }
        xml.push_str("  </testsuite>\n");
    }
    xml.push_str("</testsuites>\n");
    xml
}
