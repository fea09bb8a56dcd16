//! Every rule has a bad fixture (realistic code with the bug) and a good one
//! (the corrected code and the idioms that must stay quiet). The bad
//! fixture must produce findings of its rule, shown in a snapshot of the
//! text report; the good fixture must produce no finding at all.

use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn run_check(rel: &str, format: &str) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_refsan"))
        .current_dir(workspace_root())
        .args([
            "check",
            "--no-config",
            "--color",
            "never",
            "--quiet",
            "--format",
            format,
            rel,
        ])
        .output()
        .expect("run refsan");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.is_empty() || !stderr.contains("panicked"),
        "refsan panicked: {stderr}"
    );
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn codes(json: &str) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_str(json).expect("valid JSON report");
    v["findings"]
        .as_array()
        .expect("findings array")
        .iter()
        .map(|f| f["code"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn check_bad(stem: &str, code: &str) {
    let rel = format!("tests/fixtures/c/{stem}_bad.c");
    let (status, json) = run_check(&rel, "json");
    let found = codes(&json);
    assert!(
        found.iter().any(|c| c == code),
        "{rel}: expected a {code} finding, got {found:?}"
    );
    assert_eq!(status, 1, "{rel}: exit status with findings");
    let (_, text) = run_check(&rel, "text");
    insta::assert_snapshot!(format!("{stem}_bad"), text);
}

fn check_good(stem: &str) {
    let rel = format!("tests/fixtures/c/{stem}_good.c");
    let (status, json) = run_check(&rel, "json");
    let found = codes(&json);
    if !found.is_empty() {
        let (_, text) = run_check(&rel, "text");
        panic!("{rel}: expected no findings, got {found:?}\n{text}");
    }
    assert_eq!(status, 0, "{rel}: exit status without findings");
}

macro_rules! fixtures {
    ($($stem:ident => $code:literal),* $(,)?) => {
        mod bad {
            $( #[test] fn $stem() { super::check_bad(stringify!($stem), $code); } )*
        }
        mod good {
            $( #[test] fn $stem() { super::check_good(stringify!($stem)); } )*
        }
    };
}

fixtures! {
    rs101 => "RS101",
    rs102 => "RS102",
    rs103 => "RS103",
    rs104 => "RS104",
    rs105 => "RS105",
    rs106 => "RS106",
    rs107 => "RS107",
    rs108 => "RS108",
    rs109 => "RS109",
    rs110 => "RS110",
    rs201 => "RS201",
    rs202 => "RS202",
    rs203 => "RS203",
    rs204 => "RS204",
    rs205 => "RS205",
    rs301 => "RS301",
    rs302 => "RS302",
    rs303 => "RS303",
    rs304 => "RS304",
}
