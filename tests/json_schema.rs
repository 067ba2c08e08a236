//! Every JSON document connscope prints is checked against the published schema,
//! `docs/connscope.report-1.schema.json`, and for keys written twice in one object
//! (serde_json keeps the last, so a parser would silently lose the first): over every
//! fixture, every wild capture and every Zeek trace in ../shared/captures when present.

mod common;

use common::{connscope, root, stderr};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

fn schema() -> Value {
    let path = root().join("docs/connscope.report-1.schema.json");
    let text = std::fs::read_to_string(&path).expect("read the schema");
    serde_json::from_str(&text).expect("the schema is JSON")
}

/// A validator for the whole document, or for one of its `$defs` (a JSONL line's item).
fn validator(def: Option<&str>) -> jsonschema::Validator {
    let mut schema = schema();
    if let Some(def) = def {
        let defs = schema["$defs"].clone();
        schema = serde_json::json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$ref": format!("#/$defs/{def}"),
            "$defs": defs,
        });
    }
    jsonschema::draft202012::new(&schema).expect("the schema compiles")
}

/// Walks a JSON text as serde_json parses it, failing at the first object that has a
/// key twice: the check must see the raw text, since `Value` keeps only one of them.
struct NoDuplicateKeys;

impl<'de> serde::Deserialize<'de> for NoDuplicateKeys {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NoDuplicateKeys)
    }
}

impl<'de> Visitor<'de> for NoDuplicateKeys {
    type Value = NoDuplicateKeys;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_str<E>(self, _: &str) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_unit<E>(self) -> Result<Self, E> {
        Ok(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self, A::Error> {
        while seq.next_element::<NoDuplicateKeys>()?.is_some() {}
        Ok(self)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self, A::Error> {
        let mut seen = BTreeSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(de::Error::custom(format!("key {key:?} appears twice")));
            }
            map.next_value::<NoDuplicateKeys>()?;
        }
        Ok(self)
    }
}

fn duplicate_keys(text: &str) -> Option<String> {
    serde_json::from_str::<NoDuplicateKeys>(text)
        .err()
        .map(|e| e.to_string())
}

/// The schema's complaints about `doc`, at most ten, each with where it is.
fn violations(v: &jsonschema::Validator, doc: &Value) -> Vec<String> {
    v.iter_errors(doc)
        .take(10)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

/// `analyze --format json` over `files` in one run: a valid document without duplicate
/// keys, or every problem found.
fn check_document(files: &[PathBuf]) -> Vec<String> {
    let mut args = vec!["analyze", "--quiet", "--format", "json"];
    let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    args.extend(names.iter().map(String::as_str));
    let out = connscope(&args);
    let text = String::from_utf8(out.stdout.clone()).expect("utf-8 JSON");
    let mut problems = Vec::new();
    if let Some(e) = duplicate_keys(&text) {
        problems.push(format!("duplicate key: {e}"));
    }
    match serde_json::from_str::<Value>(&text) {
        Ok(doc) => problems.extend(violations(&validator(None), &doc)),
        Err(e) => problems.push(format!("not JSON ({e}); stderr: {}", stderr(&out))),
    }
    problems
}

/// `analyze --format jsonl`: each line a connection or a finding of the schema, with
/// `type` and `file` besides.
fn check_lines(files: &[PathBuf]) -> Vec<String> {
    let mut args = vec!["analyze", "--quiet", "--format", "jsonl"];
    let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    args.extend(names.iter().map(String::as_str));
    let out = connscope(&args);
    let text = String::from_utf8(out.stdout.clone()).expect("utf-8 JSONL");
    let connection = validator(Some("connection"));
    let finding = validator(Some("finding"));
    let mut problems = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if let Some(e) = duplicate_keys(line) {
            problems.push(format!("line {}: duplicate key: {e}", n + 1));
        }
        let Ok(mut item) = serde_json::from_str::<Value>(line) else {
            problems.push(format!("line {}: not JSON", n + 1));
            continue;
        };
        let Some(object) = item.as_object_mut() else {
            problems.push(format!("line {}: not an object", n + 1));
            continue;
        };
        let kind = object.remove("type");
        if !object.remove("file").is_some_and(|f| f.is_string()) {
            problems.push(format!("line {}: no `file`", n + 1));
        }
        let v = match kind.as_ref().and_then(Value::as_str) {
            Some("connection") => &connection,
            Some("finding") => &finding,
            other => {
                problems.push(format!("line {}: type {other:?}", n + 1));
                continue;
            }
        };
        for p in violations(v, &item) {
            problems.push(format!("line {}: {p}", n + 1));
        }
    }
    problems
}

/// Capture files under `dir`, recursively, sorted.
fn captures(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if path.is_dir() {
                dirs.push(path);
            } else if [
                ".pcap",
                ".pcapng",
                ".pcap.gz",
                ".pcapng.gz",
                ".cap",
                ".trace",
            ]
            .iter()
            .any(|ext| name.ends_with(ext))
            {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

fn shared(set: &str) -> Option<Vec<PathBuf>> {
    let dir = root().join("../shared/captures").join(set);
    let files = captures(&dir);
    if files.is_empty() {
        eprintln!(
            "json_schema: {} absent: its captures were not checked",
            dir.display()
        );
        return None;
    }
    Some(files)
}

fn assert_none(what: &str, problems: Vec<String>) {
    assert!(
        problems.is_empty(),
        "{what}: the JSON breaks docs/connscope.report-1.schema.json:\n{}",
        problems.join("\n")
    );
}

#[test]
fn every_fixture_report_matches_the_schema() {
    let files = captures(&root().join("fixtures"));
    assert!(files.len() >= 19, "fixtures: {files:?}");
    for file in &files {
        assert_none(
            &file.display().to_string(),
            check_document(std::slice::from_ref(file)),
        );
    }
    assert_none("fixtures as JSONL", check_lines(&files));
}

#[test]
fn every_wild_capture_report_matches_the_schema() {
    let Some(files) = shared("wild") else { return };
    for file in &files {
        assert_none(
            &file.display().to_string(),
            check_document(std::slice::from_ref(file)),
        );
    }
    assert_none("wild captures as JSONL", check_lines(&files));
}

#[test]
fn every_zeek_trace_report_matches_the_schema() {
    let Some(files) = shared("zeek") else { return };
    // One document for them all: several inputs in one report is a case of its own.
    assert_none("Zeek traces", check_document(&files));
    assert_none("Zeek traces as JSONL", check_lines(&files));
}

/// The bug: `connection_churn` wrote its count under `connections`, the name of the ids
/// every finding has, so the object had that key twice.
#[test]
fn connection_churn_has_no_duplicate_connections_key() {
    let out = connscope(&["analyze", "--format", "json", "fixtures/curl-no-reuse.pcap"]);
    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert!(text.contains("\"kind\":\"connection_churn\""), "{text}");
    assert_eq!(duplicate_keys(&text), None);
    let doc: Value = serde_json::from_str(&text).expect("JSON");
    let churn = doc["findings"]
        .as_array()
        .and_then(|f| f.iter().find(|f| f["kind"] == "connection_churn"))
        .expect("a churn finding");
    assert!(churn["connections"].is_array(), "{churn}");
    assert_eq!(
        churn["count"].as_u64(),
        churn["connections"].as_array().map(|c| c.len() as u64)
    );
}

/// The checks must be able to fail: a key written twice, a missing field, a field the
/// model does not have, a wrong type, a figure another kind owns.
#[test]
fn the_schema_and_the_duplicate_check_catch_real_mistakes() {
    assert!(duplicate_keys(r#"{"a": 1, "b": {"c": 2, "c": 3}}"#).is_some());
    assert!(duplicate_keys(r#"{"a": [{"c": 2}, {"c": 3}]}"#).is_none());

    let out = connscope(&[
        "analyze",
        "--format",
        "json",
        "fixtures/go-keepalive-reuse.pcap",
    ]);
    let good: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let v = validator(None);
    assert_eq!(violations(&v, &good), Vec::<String>::new());
    let broken = |change: &dyn Fn(&mut Value)| {
        let mut doc = good.clone();
        change(&mut doc);
        !v.is_valid(&doc)
    };
    assert!(broken(&|d| {
        d["connections"][0]
            .as_object_mut()
            .map(|c| c.remove("close"));
    }));
    assert!(broken(&|d| d["connections"][0]["surprise"] = 1.into()));
    assert!(broken(&|d| d["connections"][0]["id"] = "1".into()));
    assert!(broken(
        &|d| d["connections"][0]["close"]["how"] = "closed".into()
    ));
    assert!(broken(
        &|d| d["inputs"][0]["first_time"] = "yesterday".into()
    ));
    assert!(broken(&|d| d["findings"][0]["kind"] = "made_up".into()));
    assert!(broken(&|d| d["findings"][0]["peak"] = 2.into()));
    assert!(broken(&|d| {
        d["findings"][0]
            .as_object_mut()
            .map(|f| f.remove("requests"));
    }));
}
