//! The seed article's examples through the `refsan check` binary, and the
//! Cython declarations it reads. (The rule fixtures run in-process:
//! crates/refsan_engine/tests/rule_fixtures.rs.)

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failing test

use std::path::{Path, PathBuf};
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

/// The seed article's examples: each real mistake is reported, the
/// corrected versions and the correct examples are quiet.
#[test]
fn seed_examples() {
    let (status, json) = run_check("examples/seed", "json");
    assert_eq!(status, 1);
    let v: serde_json::Value = serde_json::from_str(&json).expect("valid JSON report");
    let found: Vec<(String, String, u64)> = v["findings"]
        .as_array()
        .expect("findings array")
        .iter()
        .map(|f| {
            (
                f["code"].as_str().unwrap_or_default().to_string(),
                f["path"].as_str().unwrap_or_default().to_string(),
                f["line"].as_u64().unwrap_or_default(),
            )
        })
        .collect();
    let has = |code: &str, file: &str| {
        found
            .iter()
            .any(|(c, p, _)| c == code && p.ends_with(&format!("seed/{file}")))
    };
    assert!(has("RS402", "c_interface.pyx"), "{found:?}");
    assert!(has("RS401", "c_interface.pyx"), "{found:?}");
    assert!(has("RS403", "c_interface.pyx"), "{found:?}");
    assert!(has("RS404", "dealloc_example.pyx"), "{found:?}");
    assert!(has("RS407", "casting_example.pyx"), "{found:?}");
    assert!(has("RS407", "printf_debug.pyx"), "{found:?}");
    for quiet in ["cython_example.pyx", "good_practice.pyx"] {
        assert!(
            !found.iter().any(|(_, p, _)| p.ends_with(quiet)),
            "{quiet} must be quiet: {found:?}"
        );
    }
    // The try/finally example is right about ownership; its only finding
    // is that `Py_DECREF(resource_ptr)` does not compile as written.
    let resource: Vec<&String> = found
        .iter()
        .filter(|(_, p, _)| p.ends_with("seed/exception_handling.pyx"))
        .map(|(c, _, _)| c)
        .collect();
    assert!(resource.iter().all(|c| *c == "RS408"), "{resource:?}");
    let (status, json) = run_check("examples/seed/fixed", "json");
    assert!(codes(&json).is_empty(), "fixed seed examples: {json}");
    assert_eq!(status, 0);
}

/// The declarations of the installed Cython (which CI installs) and the
/// table built into refsan give the same findings on the seed examples; a
/// run that asks for the installed ones where there are none says so.
#[test]
fn cython_declarations_installed_and_embedded_agree() {
    if !system_tests() {
        return;
    }
    let run = |decls: &str, path_env: Option<&str>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_refsan"));
        cmd.current_dir(workspace_root()).args([
            "check",
            "--no-config",
            "--quiet",
            "--format",
            "json",
            "--cython-decls",
            decls,
            "examples/seed",
        ]);
        if let Some(p) = path_env {
            cmd.env("PATH", p);
        }
        cmd.output().expect("run refsan")
    };
    let embedded = run("embedded", None);
    let installed = run("installed", None);
    assert_eq!(
        installed.status.code(),
        Some(1),
        "installed Cython declarations: {}",
        String::from_utf8_lossy(&installed.stderr)
    );
    assert_eq!(
        codes(&String::from_utf8_lossy(&embedded.stdout)),
        codes(&String::from_utf8_lossy(&installed.stdout))
    );
    let missing = run("installed", Some("/nonexistent"));
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("no Cython"),
        "{}",
        String::from_utf8_lossy(&missing.stderr)
    );
}
