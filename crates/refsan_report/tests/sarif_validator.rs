//! Our SARIF, checked by an independent validator: Microsoft's SARIF
//! Multitool, with both its SARIF 2.1.0 rules (JSON schema and spec) and its
//! GitHub code scanning ingestion rules (`GH*`). `.ci/install-report.sh`
//! installs it; without it this test fails and says so.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failing test

mod common;

use common::{options, render_to_string, reports};
use refsan_report::{FileReport, Format};
use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

/// System tests need gdb, valgrind, Debian's python3-dbg, Cython, pytest or
/// the SARIF validator (`.ci/install.sh` installs them): they run when
/// `REFSAN_SYSTEM_TESTS=1`, as `.ci/run` sets it, and pass trivially
/// otherwise (`cargo test` alone is the fast, Rust-only tier).
fn system_tests() -> bool {
    let on = std::env::var_os("REFSAN_SYSTEM_TESTS").is_some_and(|v| v != "0" && !v.is_empty());
    if !on {
        eprintln!("system test skipped: set REFSAN_SYSTEM_TESTS=1 to run it");
    }
    on
}

const DEFAULT_TOOL: &str =
    "/opt/refsan-ci/sarif-multitool/node_modules/@microsoft/sarif-multitool-linux/Sarif.Multitool";

fn multitool() -> PathBuf {
    let tool = std::env::var_os("REFSAN_SARIF_MULTITOOL")
        .map_or_else(|| PathBuf::from(DEFAULT_TOOL), PathBuf::from);
    assert!(
        tool.is_file(),
        "SARIF Multitool not found at {}: run .ci/install-report.sh, or point REFSAN_SARIF_MULTITOOL at it",
        tool.display()
    );
    tool
}

/// Runs `validate` on `sarif` and returns its error- and warning-level
/// complaints as "RULE: location" lines.
fn complaints(name: &str, sarif: &str) -> Vec<String> {
    let dir = std::env::temp_dir().join(format!(
        "refsan-report-validate-{}-{name}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).expect("create a temporary directory");
    let input = dir.join("input.sarif");
    let verdict = dir.join("verdict.sarif");
    std::fs::write(&input, sarif).expect("write the SARIF under test");
    let output = Command::new(multitool())
        .arg("validate")
        .args([
            "--rule-kind",
            "Sarif;Gh",
            "--level",
            "Error;Warning",
            "--output",
        ])
        .arg(&verdict)
        .arg(&input)
        .env("DOTNET_SYSTEM_GLOBALIZATION_INVARIANT", "1")
        .output()
        .expect("run the SARIF Multitool");
    let report = std::fs::read_to_string(&verdict).unwrap_or_else(|err| {
        panic!(
            "the SARIF Multitool wrote no verdict ({err}); status {}, output:\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    let _ = std::fs::remove_dir_all(&dir);
    let verdict: Value = serde_json::from_str(&report).expect("the verdict is SARIF");
    verdict
        .pointer("/runs/0/results")
        .and_then(Value::as_array)
        .map(|results| {
            results
                .iter()
                .filter(|result| {
                    // SARIF's default level is warning.
                    matches!(
                        result.get("level").and_then(Value::as_str),
                        None | Some("error" | "warning")
                    )
                })
                .map(|result| format!("{} {}", result["ruleId"], result["message"]))
                .collect()
        })
        .unwrap_or_default()
}

fn assert_accepted(name: &str, reports: &[FileReport]) {
    let mut opts = options(false, true);
    // The validator warns when a tool names no home page; the CLI sets one.
    opts.information_uri = Some("https://example.org/refsan".to_string());
    let sarif = render_to_string(reports, Format::Sarif, &opts);
    let complaints = complaints(name, &sarif);
    assert!(
        complaints.is_empty(),
        "SARIF Multitool complaints:\n{}",
        complaints.join("\n")
    );
}

#[test]
fn fixture_sarif_passes_sarif_and_github_rules() {
    if !system_tests() {
        return;
    }
    assert_accepted("fixture", &reports());
}

#[test]
fn empty_sarif_passes_sarif_and_github_rules() {
    if !system_tests() {
        return;
    }
    assert_accepted("empty", &[]);
}

#[test]
fn the_validator_does_reject_bad_sarif() {
    if !system_tests() {
        return;
    }
    // Guards the test above against a validator that accepts anything.
    let complaints = complaints(
        "bad",
        r#"{"version": "2.1.0", "runs": [{"tool": {"driver": {}}}]}"#,
    );
    assert!(!complaints.is_empty());
}
