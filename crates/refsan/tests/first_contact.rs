//! What a new user does on a clean clone (tests/first_contact.sh): the
//! README's commands, the wheel installed into a fresh virtual environment,
//! the pre-commit hook, SARIF of a real run validated, bad input. A system
//! test: it builds refsan three times and downloads from PyPI.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failing test

use std::path::Path;
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

#[test]
fn a_new_user_on_a_clean_clone() {
    if !system_tests() {
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/first_contact.sh");
    let out = Command::new("bash")
        .arg(&script)
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .expect("run tests/first_contact.sh");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("first contact: all good"), "{text}");
}
