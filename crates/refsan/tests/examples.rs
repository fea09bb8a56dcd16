//! The bundled examples carry `BUG (RSxxx)` comments next to each mistake.
//! `refsan check` must report every marked bug (within a few lines below
//! its comment) and nothing anywhere else: the correct code next to the
//! bugs stays quiet.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failing test

use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// (line, code) of every `BUG (RSxxx)` marker.
fn markers(text: &str) -> Vec<(u64, String)> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let mut rest = line;
        while let Some(p) = rest.find("BUG (RS") {
            let code: String = rest[p + 5..]
                .chars()
                .take_while(char::is_ascii_alphanumeric)
                .collect();
            out.push((i as u64 + 1, code));
            rest = &rest[p + 5..];
        }
    }
    out
}

fn check_example(rel: &str) {
    let root = workspace_root();
    let text = std::fs::read_to_string(root.join(rel)).expect("example source");
    let out = Command::new(env!("CARGO_BIN_EXE_refsan"))
        .current_dir(&root)
        .args(["check", "--no-config", "--quiet", "--format", "json", rel])
        .output()
        .expect("run refsan");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    let findings: Vec<(u64, String, String)> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["line"].as_u64().unwrap_or(0),
                f["code"].as_str().unwrap_or_default().to_string(),
                f["message"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let marks = markers(&text);
    assert!(!marks.is_empty(), "{rel} has no BUG markers");
    const WINDOW: u64 = 8;
    for (line, code) in &marks {
        assert!(
            findings
                .iter()
                .any(|(l, c, _)| c == code && *l >= *line && *l <= line + WINDOW),
            "{rel}:{line}: the {code} marked here is not reported; findings: {findings:#?}"
        );
    }
    for (l, c, m) in &findings {
        assert!(
            marks
                .iter()
                .any(|(line, _)| *l >= *line && *l <= line + WINDOW),
            "{rel}:{l}: {c} {m} is reported where no bug is marked"
        );
    }
}

#[test]
fn wordstats_findings_match_its_bug_markers() {
    check_example("examples/wordstats/wordstats.c");
}
