//! The key log parser on arbitrary text, and the pcapng Decryption Secrets Block body
//! parser on the same bytes in both byte orders, checked against a reference reading
//! of the NSS key log format written independently here: every line is accounted for,
//! exactly the lines the reference accepts set a secret (the last one for a label and
//! client random wins), and the first unusable line is the one reported.
#![no_main]

use std::collections::BTreeMap;

use connscope::decrypt::keylog::{DsbError, MAX_LINE_LEN, SECRETS_TYPE_TLS_KEY_LOG};
use connscope::decrypt::{ClientRandom, KeyLog, Label, ParseSummary};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut log = KeyLog::new();
    let summary = log.add_text(data);
    check_text(&log, &summary, data);

    for big_endian in [false, true] {
        let mut log = KeyLog::new();
        let result = log.add_dsb_body(data, big_endian);
        let word = |at: usize| {
            let bytes: [u8; 4] = data.get(at..at + 4)?.try_into().ok()?;
            Some(if big_endian {
                u32::from_be_bytes(bytes)
            } else {
                u32::from_le_bytes(bytes)
            })
        };
        let expected_text = match (word(0), word(4)) {
            (Some(SECRETS_TYPE_TLS_KEY_LOG), Some(len)) => data
                .get(8..)
                .and_then(|rest| rest.get(..usize::try_from(len).ok()?))
                .ok_or(DsbError::Truncated),
            (Some(kind), Some(_)) => Err(DsbError::NotTlsKeyLog(kind)),
            _ => Err(DsbError::Truncated),
        };
        match (result, expected_text) {
            (Ok(summary), Ok(text)) => check_text(&log, &summary, text),
            (Err(got), Err(want)) => {
                assert_eq!(got, want);
                assert!(log.is_empty(), "a refused block added secrets");
            }
            (got, want) => panic!("DSB body read as {got:?}, expected {want:?}"),
        }
    }
});

/// Compares what the parser made of `text` with the reference reading.
fn check_text(log: &KeyLog, summary: &ParseSummary, text: &[u8]) {
    let reference = Reference::read(text);
    assert_eq!(
        summary.secrets + summary.skipped + summary.garbage,
        reference.lines,
        "every line is a secret, skipped or garbage: {summary:?}"
    );
    assert_eq!(summary.secrets, reference.accepted, "{summary:?}");
    assert_eq!(summary.skipped, reference.skipped, "{summary:?}");
    assert_eq!(
        summary.first_garbage.map(|bad| bad.line),
        reference.first_garbage,
        "{summary:?}"
    );
    assert_eq!(log.len(), reference.sessions.len());
    for (random, secrets) in &reference.sessions {
        let got = log.get(&ClientRandom(*random)).expect("session kept");
        for label in Label::ALL {
            assert_eq!(
                got.get(label).map(|s| s.as_bytes()),
                secrets.get(&label).map(Vec::as_slice),
                "{label}"
            );
        }
    }
}

/// The key log format read the plain way: lines split on LF with an optional CR, ASCII
/// whitespace around and between three fields, `#` comments.
struct Reference {
    lines: u64,
    accepted: u64,
    skipped: u64,
    first_garbage: Option<u64>,
    sessions: BTreeMap<[u8; 32], BTreeMap<Label, Vec<u8>>>,
}

impl Reference {
    fn read(text: &[u8]) -> Reference {
        let mut out = Reference {
            lines: 0,
            accepted: 0,
            skipped: 0,
            first_garbage: None,
            sessions: BTreeMap::new(),
        };
        let mut pieces: Vec<&[u8]> = text.split(|&b| b == b'\n').collect();
        // A final newline ends the last line; it does not start another.
        if pieces.last().is_some_and(|p| p.is_empty()) {
            pieces.pop();
        }
        for (index, piece) in pieces.into_iter().enumerate() {
            out.lines += 1;
            let line = trim(piece);
            if line.is_empty() || line[0] == b'#' {
                out.skipped += 1;
                continue;
            }
            match parse_line(line) {
                Some((label, random, secret)) => {
                    out.accepted += 1;
                    out.sessions
                        .entry(random)
                        .or_default()
                        .insert(label, secret);
                }
                None => {
                    out.first_garbage.get_or_insert(index as u64 + 1);
                }
            }
        }
        out
    }
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'\x0c')
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if !is_space(*first) {
            break;
        }
        s = rest;
    }
    while let [rest @ .., last] = s {
        if !is_space(*last) {
            break;
        }
        s = rest;
    }
    s
}

fn parse_line(line: &[u8]) -> Option<(Label, [u8; 32], Vec<u8>)> {
    if line.len() > MAX_LINE_LEN {
        return None;
    }
    let fields: Vec<&[u8]> = line
        .split(|&b| is_space(b))
        .filter(|f| !f.is_empty())
        .collect();
    let [label, random, secret] = fields.as_slice() else {
        return None;
    };
    let label = Label::ALL
        .into_iter()
        .find(|l| l.as_str().as_bytes() == *label)?;
    let random: [u8; 32] = unhex(random)?.try_into().ok()?;
    let secret = unhex(secret)?;
    let wanted: &[usize] = if label == Label::ClientRandom {
        &[48]
    } else {
        &[32, 48]
    };
    wanted
        .contains(&secret.len())
        .then_some((label, random, secret))
}

fn unhex(text: &[u8]) -> Option<Vec<u8>> {
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    if !text.len().is_multiple_of(2) {
        return None;
    }
    text.chunks(2)
        .map(|pair| Some(nibble(pair[0])? << 4 | nibble(pair[1])?))
        .collect()
}
