//! The JSON and SARIF documents parse back and carry every field their
//! consumers (scripts, GitHub code scanning) rely on.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failing test

mod common;

use common::{options, render_to_string, reports, reports_shifted};
use refsan_report::Format;
use serde_json::Value;

fn parse(format: Format, reports: &[refsan_report::FileReport]) -> Value {
    let rendered = render_to_string(reports, format, &options(false, false));
    serde_json::from_str(&rendered)
        .unwrap_or_else(|err| panic!("{format} output is not JSON: {err}\n{rendered}"))
}

fn field<'a>(value: &'a Value, pointer: &str) -> &'a Value {
    value
        .pointer(pointer)
        .unwrap_or_else(|| panic!("missing {pointer} in {value:#}"))
}

fn array<'a>(value: &'a Value, pointer: &str) -> &'a Vec<Value> {
    field(value, pointer)
        .as_array()
        .unwrap_or_else(|| panic!("{pointer} is not an array"))
}

fn uint(value: &Value, pointer: &str) -> u64 {
    field(value, pointer)
        .as_u64()
        .unwrap_or_else(|| panic!("{pointer} is not an unsigned integer in {value:#}"))
}

fn string<'a>(value: &'a Value, pointer: &str) -> &'a str {
    field(value, pointer)
        .as_str()
        .unwrap_or_else(|| panic!("{pointer} is not a string in {value:#}"))
}

#[test]
fn json_document_has_the_documented_fields() {
    let doc = parse(Format::Json, &reports());
    assert_eq!(uint(&doc, "/version"), 1);
    assert_eq!(string(&doc, "/tool/name"), "refsan");
    assert_eq!(string(&doc, "/tool/version"), "0.0.0-test");

    let findings = array(&doc, "/findings");
    assert_eq!(findings.len(), 5);
    for finding in findings {
        for key in ["code", "name", "severity", "message", "path", "fingerprint"] {
            assert!(
                field(finding, &format!("/{key}")).is_string(),
                "{key} in {finding:#}"
            );
        }
        assert!(["error", "warning", "info"].contains(&string(finding, "/severity")));
        for key in ["line", "column", "end_line", "end_column"] {
            assert!(uint(finding, &format!("/{key}")) >= 1);
        }
        for key in ["function", "help"] {
            let value = field(finding, &format!("/{key}"));
            assert!(value.is_string() || value.is_null(), "{key} in {finding:#}");
        }
        for event in array(finding, "/events") {
            assert_eq!(string(event, "/path"), string(finding, "/path"));
            assert!(uint(event, "/line") >= 1 && uint(event, "/column") >= 1);
            assert!(!string(event, "/message").is_empty());
        }
    }
    // Sorted by path, then position.
    let order: Vec<(&str, u64)> = findings
        .iter()
        .map(|finding| (string(finding, "/path"), uint(finding, "/line")))
        .collect();
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(order, sorted);

    let leak = &findings[1];
    assert_eq!(string(leak, "/code"), "RS101");
    assert_eq!(array(leak, "/events").len(), 3);

    let notes = array(&doc, "/notes");
    assert_eq!(notes.len(), 2, "notes are always in JSON");
    assert!(
        field(&notes[0], "/line").is_null(),
        "a note without location has null line"
    );
    assert_eq!(uint(&notes[1], "/line"), 26);

    let errors = array(&doc, "/errors");
    assert_eq!(errors.len(), 1);
    assert_eq!(string(&errors[0], "/path"), "src/broken.c");

    let summary = field(&doc, "/summary");
    let counts: Vec<u64> = [
        "files",
        "findings",
        "errors",
        "warnings",
        "infos",
        "files_with_findings",
        "files_with_errors",
        "notes",
    ]
    .iter()
    .map(|key| uint(summary, &format!("/{key}")))
    .collect();
    assert_eq!(counts, [6, 5, 3, 1, 1, 4, 1, 2]);
}

#[test]
fn json_columns_count_characters() {
    let doc = parse(Format::Json, &reports());
    let info = array(&doc, "/findings")
        .iter()
        .find(|finding| string(finding, "/code") == "RS407")
        .expect("the fixture has an RS407 finding");
    // Tab, 's = "', 'é' (2 bytes), '😀' (4 bytes), '"; return ': character 19, byte 23.
    assert_eq!(uint(info, "/column"), 19);
    assert_eq!(uint(info, "/end_column"), 30);
}

#[test]
fn sarif_log_has_what_github_code_scanning_requires() {
    let log = parse(Format::Sarif, &reports());
    assert_eq!(
        string(&log, "/$schema"),
        "https://json.schemastore.org/sarif-2.1.0.json"
    );
    assert_eq!(string(&log, "/version"), "2.1.0");
    assert_eq!(array(&log, "/runs").len(), 1);
    let run = field(&log, "/runs/0");
    assert_eq!(string(run, "/tool/driver/name"), "refsan");
    assert_eq!(string(run, "/tool/driver/version"), "0.0.0-test");

    let rules = array(run, "/tool/driver/rules");
    let ids: Vec<&str> = rules.iter().map(|rule| string(rule, "/id")).collect();
    assert_eq!(
        ids,
        ["RS101", "RS110", "RS407", "RS102", "RS103"],
        "described rules first, duplicates dropped"
    );
    for rule in rules {
        assert!(!string(rule, "/name").is_empty());
        assert!(!string(rule, "/shortDescription/text").is_empty());
        assert!(["error", "warning", "note"].contains(&string(rule, "/defaultConfiguration/level")));
    }
    assert!(string(&rules[0], "/help/markdown").starts_with("## What it does"));
    assert!(!string(&rules[0], "/help/text").is_empty());
    assert_eq!(
        string(&rules[0], "/fullDescription/text"),
        "Finds owned (new) references that are lost on some path."
    );

    let results = array(run, "/results");
    assert_eq!(results.len(), 5);
    for result in results {
        let rule_index = uint(result, "/ruleIndex") as usize;
        assert_eq!(string(&rules[rule_index], "/id"), string(result, "/ruleId"));
        assert!(["error", "warning", "note"].contains(&string(result, "/level")));
        assert!(!string(result, "/message/text").is_empty());
        let locations = array(result, "/locations");
        assert_eq!(locations.len(), 1);
        let physical = field(&locations[0], "/physicalLocation");
        let uri = string(physical, "/artifactLocation/uri");
        assert!(
            !uri.starts_with('/') && !uri.contains(':'),
            "uri {uri} must be relative"
        );
        assert_eq!(string(physical, "/artifactLocation/uriBaseId"), "%SRCROOT%");
        assert!(uint(physical, "/region/startLine") >= 1);
        assert!(uint(physical, "/region/startColumn") >= 1);
        assert!(uint(physical, "/region/endLine") >= uint(physical, "/region/startLine"));
        let fingerprint = string(result, "/partialFingerprints/refsanFindingHash~1v1");
        assert_eq!(fingerprint.len(), "0123456789abcdef:1".len());

        let related = result
            .get("relatedLocations")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let flow = result
            .pointer("/codeFlows/0/threadFlows/0/locations")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        // One related location per flow step, then the other places of
        // the same root cause (ids go on counting).
        assert!(
            related.len() >= flow.len(),
            "one related location per flow step"
        );
        for (i, extra) in related.iter().enumerate().skip(flow.len()) {
            assert_eq!(uint(extra, "/id"), i as u64 + 1);
            assert!(!string(extra, "/message/text").is_empty());
        }
        for (i, (related, step)) in related.iter().zip(&flow).enumerate() {
            assert_eq!(uint(related, "/id"), i as u64 + 1);
            assert!(!string(related, "/message/text").is_empty());
            assert_eq!(uint(step, "/executionOrder"), i as u64 + 1);
            assert!(!string(step, "/location/message/text").is_empty());
            assert!(uint(step, "/location/physicalLocation/region/startLine") >= 1);
        }
    }
    let leak = &results[1];
    assert_eq!(string(leak, "/ruleId"), "RS101");
    assert_eq!(array(leak, "/codeFlows/0/threadFlows/0/locations").len(), 3);
    assert_eq!(
        string(leak, "/locations/0/logicalLocations/0/name"),
        "spam_build"
    );

    let notifications = array(run, "/invocations/0/toolExecutionNotifications");
    let file_errors: Vec<&Value> = notifications
        .iter()
        .filter(|notification| string(notification, "/level") == "error")
        .collect();
    assert_eq!(file_errors.len(), 1);
    assert_eq!(
        string(
            file_errors[0],
            "/locations/0/physicalLocation/artifactLocation/uri"
        ),
        "src/broken.c"
    );
    assert!(field(run, "/invocations/0/executionSuccessful").is_boolean());
}

#[test]
fn sarif_columns_count_utf16_units() {
    let log = parse(Format::Sarif, &reports());
    let info = array(&log, "/runs/0/results")
        .iter()
        .find(|result| string(result, "/ruleId") == "RS407")
        .expect("the fixture has an RS407 finding");
    // '😀' is two UTF-16 code units: one more than in characters.
    assert_eq!(
        uint(info, "/locations/0/physicalLocation/region/startColumn"),
        20
    );
    assert_eq!(string(&log, "/runs/0/columnKind"), "utf16CodeUnits");
}

fn fingerprints(reports: &[refsan_report::FileReport]) -> Vec<(String, u64)> {
    let log = parse(Format::Sarif, reports);
    array(&log, "/runs/0/results")
        .iter()
        .map(|result| {
            (
                string(result, "/partialFingerprints/refsanFindingHash~1v1").to_string(),
                uint(result, "/locations/0/physicalLocation/region/startLine"),
            )
        })
        .collect()
}

#[test]
fn fingerprints_survive_lines_moving() {
    let before = fingerprints(&reports_shifted(0));
    let after = fingerprints(&reports_shifted(7));
    assert_eq!(before.len(), after.len());
    let mut moved = 0;
    for ((before_hash, before_line), (after_hash, after_line)) in before.iter().zip(&after) {
        assert_eq!(before_hash, after_hash);
        if after_line != before_line {
            assert_eq!(*after_line, before_line + 7);
            moved += 1;
        }
    }
    assert_eq!(moved, 2, "both spam.c findings moved");
    let mut unique: Vec<&String> = before.iter().map(|(hash, _)| hash).collect();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), before.len(), "fingerprints are distinct");
}

#[test]
fn github_commands_are_one_line_each() {
    let rendered = render_to_string(&reports(), Format::Github, &options(false, true));
    let commands: Vec<&str> = rendered
        .lines()
        .filter(|line| line.starts_with("::"))
        .collect();
    // 5 findings, 1 file error, 2 notes.
    assert_eq!(commands.len(), 8);
    let leak = commands
        .iter()
        .find(|line| line.contains("title=RS101 leaked-reference"))
        .expect("an RS101 annotation");
    assert!(leak.starts_with("::error file=examples/spam.c,line=16,col=9,endLine=16,endColumn=21,"));
    assert!(leak.contains("%0A  1. 8:14 new reference from `PyList_New`"));
    assert!(leak.contains("%0A  3. 16:9 `return NULL` leaks `result`"));
    assert!(commands.iter().any(|line| line.starts_with("::warning ")));
    assert!(commands
        .iter()
        .any(|line| line.starts_with("::notice file=src/counts.pyx")));
    let without_notes = render_to_string(&reports(), Format::Github, &options(false, false));
    assert_eq!(
        without_notes
            .lines()
            .filter(|line| line.starts_with("::"))
            .count(),
        6
    );
}

fn collect_keys(value: &Value, keys: &mut std::collections::BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                keys.insert(key.clone());
                collect_keys(child, keys);
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_keys(item, keys)),
        _ => {}
    }
}

#[test]
fn every_json_field_is_documented() {
    let documentation = include_str!("../JSON_SCHEMA.md");
    let mut keys = std::collections::BTreeSet::new();
    collect_keys(&parse(Format::Json, &reports()), &mut keys);
    let undocumented: Vec<&String> = keys
        .iter()
        .filter(|key| {
            !documentation.contains(&format!("| `{key}`"))
                && !documentation.contains(&format!(", `{key}`"))
        })
        .collect();
    assert!(
        undocumented.is_empty(),
        "JSON_SCHEMA.md lacks {undocumented:?}"
    );
}
