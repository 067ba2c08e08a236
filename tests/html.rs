//! The HTML report, opened in a real browser: headless Chromium (Debian's `chromium`,
//! installed by .ci/run) loads the page, runs its script, and `--dump-dom` gives back
//! the document it built; a screenshot is decoded and checked for a picture. Without
//! Chromium the browser tests say so on stderr and pass; the file checks still run.
//!
//! $ connscope report fixtures/go-keepalive-reuse.pcap -o r.html

mod common;

use common::{connscope, json, root, stderr};
use std::path::{Path, PathBuf};
use std::process::Command;

fn chromium() -> Option<PathBuf> {
    let candidates = ["chromium", "chromium-browser", "google-chrome"];
    let found = std::env::var_os("CHROMIUM").map(PathBuf::from).or_else(|| {
        candidates.iter().find_map(|name| {
            let out = Command::new("which").arg(name).output().ok()?;
            let path = String::from_utf8(out.stdout).ok()?;
            (out.status.success() && !path.trim().is_empty()).then(|| PathBuf::from(path.trim()))
        })
    });
    if found.is_none() {
        eprintln!(
            "html: chromium is not installed (apt-get install chromium): browser tests skipped"
        );
    }
    found
}

/// Chromium, headless, with the flags that work in a container, on `page`.
fn browse(browser: &Path, page: &Path, extra: &[&str]) -> std::process::Output {
    let profile = tempfile::tempdir().expect("profile dir");
    Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("run chromium")
}

/// `connscope report ARGS… -o DIR/name`, checked for success; the page's path.
fn report(dir: &Path, name: &str, args: &[&str]) -> PathBuf {
    let page = dir.join(name);
    let mut all = vec!["report", "-q", "-o", page.to_str().expect("utf-8 path")];
    all.extend_from_slice(args);
    let out = connscope(&all);
    assert!(out.status.success(), "report failed: {}", stderr(&out));
    page
}

/// The `<g class="lane" …>…</g>` blocks of a document, one string each.
fn lanes(doc: &str) -> Vec<&str> {
    doc.match_indices("<g class=\"lane")
        .map(|(at, _)| {
            let rest = &doc[at..];
            // A lane holds nested groups (probes, close); it ends where the next
            // lane, aggregate or group header starts, or the chart ends.
            let end = [
                "<g class=\"lane",
                "<g class=\"group",
                "<g class=\"aggregate",
                "</svg>",
            ]
            .iter()
            .filter_map(|m| rest[1..].find(m).map(|i| i + 1))
            .min()
            .unwrap_or(rest.len());
            &rest[..end]
        })
        .collect()
}

fn count(text: &str, needle: &str) -> usize {
    text.matches(needle).count()
}

#[test]
fn the_page_is_self_contained() {
    let dir = tempfile::tempdir().expect("tmp");
    let page = report(dir.path(), "r.html", &["fixtures/go-keepalive-reuse.pcap"]);
    let html = std::fs::read_to_string(page).expect("page");
    assert!(html.starts_with("<!DOCTYPE html>"));
    // The only URL is the SVG namespace: nothing is fetched.
    let urls: Vec<&str> = html
        .match_indices("http")
        .map(|(at, _)| &html[at..(at + 30).min(html.len())])
        .filter(|u| u.starts_with("http://") || u.starts_with("https://"))
        .filter(|u| !u.starts_with("http://www.w3.org/2000/svg"))
        .collect();
    assert!(urls.is_empty(), "{urls:?}");
    for tag in ["<script src", "<link", "<img", "@import", "url(http"] {
        assert!(!html.contains(tag), "{tag}");
    }
    assert!(html.contains("@media print"));
}

#[test]
fn one_glance_at_the_keepalive_fixture_in_chromium() {
    let Some(browser) = chromium() else { return };
    let dir = tempfile::tempdir().expect("tmp");
    let page = report(dir.path(), "r.html", &["fixtures/go-keepalive-reuse.pcap"]);
    let out = browse(&browser, &page, &["--dump-dom"]);
    let dom = String::from_utf8_lossy(&out.stdout);
    // The script ran: it counts the lanes into the body.
    assert!(
        dom.contains("<body data-ready=\"1\""),
        "script did not run: {}",
        &dom[..dom.len().min(400)]
    );
    let lanes = lanes(&dom);
    assert_eq!(lanes.len(), 1, "one connection");
    let lane = lanes[0];
    assert_eq!(
        count(lane, "<rect class=\"exchange\""),
        3,
        "three exchanges"
    );
    assert_eq!(count(lane, "<rect class=\"idle\""), 2, "two idle stretches");
    assert_eq!(
        count(lane, "<g class=\"probe answered\""),
        6,
        "six answered probe ticks"
    );
    assert_eq!(count(lane, "<g class=\"probe unanswered\""), 0);
    assert_eq!(
        count(lane, "<g class=\"close fin by-client\""),
        1,
        "FIN by the client"
    );
    assert!(
        lane.contains(">FIN by client</text>"),
        "the end says it in words"
    );
    assert_eq!(count(lane, "<rect class=\"handshake\""), 1);
    // Hover text carries packet numbers (go-keepalive-reuse: requests in 4, 14, 23).
    assert!(lane.contains("request packet 4"), "{lane}");
    assert!(lane.contains("request packet 23"));
    assert!(dom.contains(
        "1 connection to 1 server; 3 exchanges; 2 idle stretches of a second or more; 6 keep-alive probes (6 answered); ends: 1 FIN by client."
    ));
    // The one finding links to the lane.
    assert_eq!(count(&dom, "<li class=\"finding "), 1);
    assert!(dom.contains("<a class=\"finding-link\" href=\"#conn-1\""));
}

#[test]
fn every_fixture_in_one_page_in_chromium() {
    let Some(browser) = chromium() else { return };
    let mut fixtures: Vec<String> = std::fs::read_dir(root().join("fixtures"))
        .expect("fixtures")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".pcap") || n.ends_with(".pcapng"))
        .map(|n| format!("fixtures/{n}"))
        .collect();
    fixtures.sort();
    let args: Vec<&str> = fixtures.iter().map(String::as_str).collect();
    let mut json_args = vec!["analyze", "-q", "-f", "json"];
    json_args.extend_from_slice(&args);
    let truth = json(&connscope(&json_args));
    let dir = tempfile::tempdir().expect("tmp");
    let page = report(dir.path(), "all.html", &args);
    let out = browse(&browser, &page, &["--dump-dom"]);
    let dom = String::from_utf8_lossy(&out.stdout);
    let connections = truth["connections"].as_array().expect("connections").len();
    assert!(connections > 30);
    assert!(dom.contains(&format!("<body data-ready=\"{connections}\"")));
    let sections: Vec<&str> = dom.split("<section class=\"input\"").skip(1).collect();
    assert_eq!(sections.len(), fixtures.len());
    for (n, section) in sections.iter().enumerate() {
        let of_input = |key: &str| {
            truth[key]
                .as_array()
                .expect(key)
                .iter()
                .filter(|v| v["input"].as_u64() == Some(n as u64))
                .count()
        };
        let name = &fixtures[n];
        assert_eq!(
            lanes(section).len(),
            of_input("connections"),
            "{name}: lanes"
        );
        assert_eq!(
            count(section, "<li class=\"finding "),
            of_input("findings"),
            "{name}: findings"
        );
        let exchanges: usize = truth["connections"]
            .as_array()
            .expect("connections")
            .iter()
            .filter(|c| c["input"].as_u64() == Some(n as u64))
            .map(|c| {
                let http = c["http"].as_array().map_or(0, Vec::len);
                let tls = c["tls"]["exchanges"].as_array().map_or(0, Vec::len);
                if http > 0 {
                    http
                } else {
                    tls
                }
            })
            .sum();
        let bars: usize = lanes(section)
            .iter()
            .map(|l| count(l, "<rect class=\"exchange\""))
            .sum();
        assert_eq!(bars, exchanges, "{name}: exchange bars");
        let probes: usize = truth["connections"]
            .as_array()
            .expect("connections")
            .iter()
            .filter(|c| c["input"].as_u64() == Some(n as u64))
            .map(|c| c["keepalive"]["probes"].as_array().map_or(0, Vec::len))
            .sum();
        let pings: usize = truth["connections"]
            .as_array()
            .expect("connections")
            .iter()
            .filter(|c| c["input"].as_u64() == Some(n as u64))
            .map(|c| c["http2"]["pings"].as_array().map_or(0, Vec::len))
            .sum();
        let ticks: usize = lanes(section)
            .iter()
            .map(|l| count(l, "<g class=\"probe "))
            .sum();
        let ping_ticks: usize = lanes(section)
            .iter()
            .map(|l| count(l, "<g class=\"probe ping "))
            .sum();
        // HTTP/2 PINGs are drawn beside the TCP probes, as probes with a diamond head.
        assert_eq!(ticks - ping_ticks, probes, "{name}: probe ticks");
        assert_eq!(ping_ticks, pings, "{name}: HTTP/2 PING ticks");
        // Every finding link lands on an element of the page.
        for (at, _) in section.match_indices("class=\"finding-link\" href=\"#") {
            let rest = &section[at + "class=\"finding-link\" href=\"#".len()..];
            let target = &rest[..rest.find('"').expect("quote")];
            assert!(
                dom.contains(&format!("id=\"{target}\"")),
                "{name}: link to {target}"
            );
        }
    }
}

#[test]
fn the_screenshot_is_a_picture_not_a_blank_page() {
    let Some(browser) = chromium() else { return };
    let dir = tempfile::tempdir().expect("tmp");
    let page = report(dir.path(), "r.html", &["fixtures/go-diff-before.pcap"]);
    let shot = dir.path().join("shot.png");
    let out = browse(
        &browser,
        &page,
        &[
            "--window-size=1280,800",
            &format!("--screenshot={}", shot.display()),
        ],
    );
    assert!(
        shot.exists(),
        "no screenshot: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(&shot).expect("png"),
    ));
    let mut reader = decoder.read_info().expect("png header");
    let mut pixels = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut pixels).expect("png frame");
    assert_eq!((info.width, info.height), (1280, 800));
    let step = info.color_type.samples();
    let mut colours = std::collections::BTreeSet::new();
    let mut inked = 0usize;
    for px in pixels[..info.buffer_size()].chunks(step) {
        let rgb = (px[0], px[1], px[2]);
        colours.insert(rgb);
        if rgb != (255, 255, 255) {
            inked += 1;
        }
    }
    let total = (info.width * info.height) as usize;
    assert!(colours.len() >= 32, "{} colours", colours.len());
    assert!(
        inked * 20 > total,
        "only {inked} of {total} pixels are not white"
    );
}

#[test]
fn svg_alone_has_its_style_and_the_same_lanes() {
    let out = connscope(&["analyze", "-q", "-f", "svg", "fixtures/go-diff-before.pcap"]);
    assert!(out.status.success());
    let svg = String::from_utf8(out.stdout).expect("utf-8");
    assert!(svg.starts_with("<?xml"));
    assert!(svg.contains("<style>"));
    assert_eq!(lanes(&svg).len(), 7);
    assert_eq!(
        count(&svg, "<rect class=\"exchange\""),
        7 + 1,
        "7 bars and the legend's"
    );
    // Well-formed XML: it pastes into an issue or a wiki.
    roxmltree::Document::parse(&svg).expect("well-formed SVG");
}
