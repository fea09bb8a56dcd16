//! End-to-end tests of `refsan run` and `refsan build`: real extensions (C
//! and Cython) with deliberate reference-counting bugs are built with
//! `refsan build` and crashed under `refsan run` in each mode; the JSON
//! report must name the right classification, the extension function and
//! the source line (the `.pyx` line for Cython).
//!
//! These tests need python3 with setuptools and Cython, gdb, valgrind, the
//! ASan runtime and python3-dbg (`.ci/install-runtime.sh` installs them);
//! a missing tool fails the test that needs it, loudly.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failing test

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

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

const REFSAN: &str = env!("CARGO_BIN_EXE_refsan");

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/runtime")
}

fn scratch() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("refsan-run-e2e")
}

/// Fails the test when a tool is missing: these tests must not pass by
/// skipping.
fn require(tool: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        found,
        "{tool} is required by this test and is not installed (run .ci/install-runtime.sh)"
    );
}

fn require_asan_runtime() {
    let out = Command::new("gcc")
        .arg("-print-file-name=libasan.so")
        .output()
        .expect("gcc is required by this test (run .ci/install-runtime.sh)");
    let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        Path::new(&path).is_absolute() && Path::new(&path).exists(),
        "the ASan runtime (libasan.so) is required by this test and is not installed (run .ci/install-runtime.sh)"
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Copies a fixture project and builds it with `refsan build`.
fn build(fixture: &str, asan: bool) -> PathBuf {
    require("python3");
    require("gcc");
    // One directory per test process: test runners that run each test in a
    // process of its own (nextest) must not build into one directory at once.
    let dir = scratch().join(format!(
        "{fixture}-{}-{}",
        if asan { "asan" } else { "debug" },
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    copy_dir(&fixtures().join(fixture), &dir);
    let mut cmd = Command::new(REFSAN);
    cmd.arg("build");
    if asan {
        cmd.arg("--asan");
    }
    let out = cmd.arg(&dir).output().expect("run refsan build");
    assert!(
        out.status.success(),
        "refsan build {fixture} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("-g -O0 -fno-omit-frame-pointer"),
        "refsan build shows its flags: {stderr}"
    );
    assert!(
        stderr.contains("refsan: built "),
        "refsan build lists the module it built: {stderr}"
    );
    dir
}

fn refbugs_debug() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| build("refbugs", false))
}

fn refbugs_asan() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| build("refbugs", true))
}

fn wrapper_debug() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| build("wrapper", false))
}

fn wrapper_asan() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| build("wrapper", true))
}

fn delayed_asan() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| build("delayed", true))
}

fn delayed_debug() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| build("delayed", false))
}

/// Copies a fixture script next to the built module (a script's own
/// directory is where Python looks for imports) and returns its name.
fn script_in(dir: &Path, name: &str) -> String {
    std::fs::copy(fixtures().join("scripts").join(name), dir.join(name)).unwrap();
    name.to_string()
}

/// 1-based number of the only line of `file` containing `needle`.
fn line_of(file: &Path, needle: &str) -> u64 {
    let text = std::fs::read_to_string(file).unwrap();
    let hits: Vec<usize> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains(needle))
        .map(|(i, _)| i + 1)
        .collect();
    assert_eq!(
        hits.len(),
        1,
        "{needle:?} must occur once in {}",
        file.display()
    );
    hits[0] as u64
}

struct RunResult {
    output: Output,
    report: Value,
}

impl RunResult {
    fn crash(&self) -> &Value {
        let crashes = self.report["crashes"].as_array().expect("crashes array");
        assert_eq!(
            crashes.len(),
            1,
            "exactly one crash report expected:\n{}\nstderr:\n{}",
            serde_json::to_string_pretty(&self.report).unwrap(),
            String::from_utf8_lossy(&self.output.stderr)
        );
        &crashes[0]
    }

    fn status(&self) -> i32 {
        self.output.status.code().expect("refsan exited normally")
    }

    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }
}

/// `refsan run [mode...] --format json --report FILE -- python3 ARGS` in `dir`.
fn refsan_run(dir: &Path, mode: &[&str], program: &[&str]) -> RunResult {
    let report = dir.join(format!(
        "report-{}-{}.json",
        std::process::id(),
        REPORT_COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    ));
    let output = Command::new(REFSAN)
        .arg("run")
        .args(mode)
        .args(["--format", "json", "--report"])
        .arg(&report)
        .arg("--")
        .args(program)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("run refsan");
    let text = std::fs::read_to_string(&report).unwrap_or_else(|e| {
        panic!(
            "no report written ({e}); stderr:\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    let report: Value = serde_json::from_str(&text).expect("the report is JSON");
    assert_eq!(report["schema"], "refsan.run/1");
    RunResult { output, report }
}

static REPORT_COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// The crash report names the classification, the extension function and
/// its line.
fn assert_site(crash: &Value, code: &str, function: &str, file: &Path, line: u64) {
    let pretty = serde_json::to_string_pretty(crash).unwrap();
    assert_eq!(crash["classification"], code, "{pretty}");
    let site = &crash["fault_site"];
    let (shown_file, shown_line, shown_function) = match site["cython"].as_object() {
        Some(pyx) => (
            pyx["file"].as_str().unwrap_or(""),
            pyx["line"].as_u64(),
            pyx["function"].as_str().unwrap_or(""),
        ),
        None => (
            site["file"].as_str().unwrap_or(""),
            site["line"].as_u64(),
            site["function"].as_str().unwrap_or(""),
        ),
    };
    assert_eq!(shown_function, function, "{pretty}");
    assert!(
        Path::new(shown_file).ends_with(file.file_name().unwrap()),
        "fault file {shown_file} should be {}: {pretty}",
        file.display()
    );
    assert_eq!(shown_line, Some(line), "{pretty}");
}

fn assert_free_site(crash: &Value, file: &Path, line: u64) {
    let pretty = serde_json::to_string_pretty(crash).unwrap();
    let site = &crash["free_site"];
    assert!(
        Path::new(site["file"].as_str().unwrap_or("")).ends_with(file.file_name().unwrap()),
        "{pretty}"
    );
    assert_eq!(site["line"].as_u64(), Some(line), "{pretty}");
}

/// One bug of the C fixture: the call that triggers it, the classification
/// and the line the report must point at (found by its text).
struct CBug {
    call: &'static str,
    function: &'static str,
    code: &'static str,
    crash_line: &'static str,
    /// The rule the static checker reports for the bug, shown in the crash
    /// report next to the crash.
    rule: &'static str,
    /// The Py_DECREF that freed the object (reported by ASan and Valgrind).
    free_line: Option<&'static str>,
}

const C_BUGS: [CBug; 4] = [
    CBug {
        call: "refbugs.double_decref()",
        rule: "RS103",
        function: "double_decref",
        code: "RT01",
        crash_line: "Py_TYPE(first)->tp_name",
        free_line: Some("Py_DECREF(item); /* BUG: released twice"),
    },
    CBug {
        call: "refbugs.decref_borrowed([object()])",
        rule: "RS102",
        function: "decref_borrowed",
        code: "RT01",
        crash_line: "if (PyUnicode_Check(first))",
        free_line: Some("Py_DECREF(first); /* BUG"),
    },
    CBug {
        call: "refbugs.unchecked_null(1)",
        rule: "RS107",
        function: "unchecked_null",
        code: "RT04",
        crash_line: "Py_DECREF(attr); /* BUG",
        free_line: None,
    },
    CBug {
        call: "refbugs.stolen_released()",
        rule: "RS106",
        function: "stolen_released",
        code: "RT01",
        crash_line: "if (!PyUnicode_Check(first))",
        free_line: Some("Py_DECREF(item);               /* BUG"),
    },
];

fn check_c_bugs(dir: &Path, mode: &[&str], expect_free_site: bool) {
    let source = dir.join("refbugs.c");
    for bug in &C_BUGS {
        let program = format!("import refbugs; print({})", bug.call);
        let result = refsan_run(dir, mode, &["python3", "-c", &program]);
        let crash = result.crash();
        assert_site(
            crash,
            bug.code,
            bug.function,
            &source,
            line_of(&source, bug.crash_line),
        );
        assert_eq!(crash["process"]["main_process"], true);
        // The static checker's finding for the crashing function is part of
        // the report.
        let rules: Vec<&str> = crash["static_findings"]["findings"]
            .as_array()
            .map(|a| a.iter().filter_map(|f| f["code"].as_str()).collect())
            .unwrap_or_default();
        assert!(
            rules.contains(&bug.rule),
            "static findings for {} should include {}: {}",
            bug.call,
            bug.rule,
            serde_json::to_string_pretty(&crash["static_findings"]).unwrap()
        );
        if let (true, Some(free)) = (expect_free_site, bug.free_line) {
            assert_free_site(crash, &source, line_of(&source, free));
        }
        // A crash leaves faulthandler's traceback; under Valgrind the bad
        // read may be caught without the process dying.
        let crashed = !result.report["exit"]["signal"].is_null();
        let tb = &crash["python_traceback"]["frames"];
        assert!(
            !crashed || tb.as_array().is_some_and(|f| !f.is_empty()),
            "python traceback for {}: {}",
            bug.call,
            serde_json::to_string_pretty(crash).unwrap()
        );
    }
}

fn check_cython_dealloc(dir: &Path, mode: &[&str]) {
    let result = refsan_run(
        dir,
        mode,
        &["python3", "-c", "import wrapper; wrapper.MyDataWrapper(-1)"],
    );
    let pyx = dir.join("wrapper.pyx");
    let crash = result.crash();
    assert_site(
        crash,
        "RT04",
        "MyDataWrapper.__dealloc__",
        &pyx,
        line_of(&pyx, "Py_DECREF(self._c_owned_object)"),
    );
    // The generated C position is kept too.
    assert!(crash["fault_site"]["file"]
        .as_str()
        .unwrap_or("")
        .ends_with("wrapper.c"));
}

#[test]
fn plain_mode_reports_each_c_bug_with_gdb() {
    if !system_tests() {
        return;
    }
    require("gdb");
    let dir = refbugs_debug();
    check_c_bugs(dir, &[], false);
    // The plain mode's native stack comes from gdb, with the signal facts.
    let result = refsan_run(
        dir,
        &[],
        &["python3", "-c", "import refbugs; refbugs.unchecked_null(1)"],
    );
    assert_eq!(result.status(), 128 + 11, "exit status of a SIGSEGV death");
    let crash = result.crash();
    assert_eq!(crash["trigger"]["signal"], "SIGSEGV");
    assert_eq!(crash["trigger"]["address"], 0);
    assert_eq!(crash["native_stacks"][0]["source"], "gdb");
    assert!(crash["evidence"][0]["text"]
        .as_str()
        .unwrap()
        .contains("of NULL"));
}

#[test]
fn plain_mode_maps_cython_frames_to_pyx() {
    if !system_tests() {
        return;
    }
    require("gdb");
    check_cython_dealloc(wrapper_debug(), &[]);
}

#[test]
fn asan_mode_reports_use_and_free_sites() {
    if !system_tests() {
        return;
    }
    require_asan_runtime();
    check_c_bugs(refbugs_asan(), &["--asan"], true);
}

#[test]
fn asan_mode_maps_cython_frames_to_pyx() {
    if !system_tests() {
        return;
    }
    require_asan_runtime();
    check_cython_dealloc(wrapper_asan(), &["--asan"]);
}

#[test]
fn valgrind_mode_reports_use_and_free_sites() {
    if !system_tests() {
        return;
    }
    require("valgrind");
    check_c_bugs(refbugs_debug(), &["--valgrind"], true);
}

#[test]
fn valgrind_mode_maps_cython_frames_to_pyx() {
    if !system_tests() {
        return;
    }
    require("valgrind");
    check_cython_dealloc(wrapper_debug(), &["--valgrind"]);
}

/// The usual delayed use-after-free: a tp_dealloc releases a reference the
/// type never took, the extension returns, and pure Python code crashes on
/// the freed object later. No extension frame is on the crashing stack; the
/// report still names the extension, shows the static finding that explains
/// the crash (RS108 where the borrowed reference was stored) and gives the
/// command that shows the free site.
#[test]
fn a_delayed_crash_names_the_extension_its_finding_and_the_next_step() {
    if !system_tests() {
        return;
    }
    require("gdb");
    let dir = delayed_debug();
    let script = script_in(dir, "delayed_crash.py");
    let result = refsan_run(dir, &[], &["python3", &script]);
    let crash = result.crash();
    let pretty = serde_json::to_string_pretty(crash).unwrap();
    assert_eq!(crash["classification"], "RT01", "{pretty}");
    assert!(crash["fault_site"].is_null(), "{pretty}");
    let modules: Vec<&str> = crash["extensions"]
        .as_array()
        .map(|a| a.iter().filter_map(|e| e["module"].as_str()).collect())
        .unwrap_or_default();
    assert!(modules.contains(&"delayed"), "{pretty}");
    let source = dir.join("delayed.c");
    let stored = line_of(&source, "self->item = item; /* BUG");
    let found = crash["extension_findings"][0]["findings"]
        .as_array()
        .expect("findings of the extension's sources");
    assert!(
        found
            .iter()
            .any(|f| f["code"] == "RS108" && f["span"]["line"] == stored),
        "{pretty}"
    );
    let steps = crash["next_steps"].to_string();
    assert!(
        steps.contains(&format!("refsan run --valgrind -- python3 {script}")),
        "{pretty}"
    );
    // The text report says the same.
    let text = Command::new(REFSAN)
        .args(["run", "--", "python3", &script])
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("run refsan");
    let stderr = String::from_utf8_lossy(&text.stderr);
    for expected in [
        "extension modules loaded",
        "findings in delayed's sources",
        "RS108",
        "next step",
        "refsan run --valgrind -- python3 delayed_crash.py",
    ] {
        assert!(stderr.contains(expected), "{expected:?} in:\n{stderr}");
    }
}

/// The same delayed crash from a Cython `__dealloc__`: the report names the
/// module and shows RS108 at the `.pyx` line that kept the borrowed
/// reference (the generated C is not checked).
#[test]
fn a_delayed_crash_after_a_cython_dealloc_names_the_pyx_finding() {
    if !system_tests() {
        return;
    }
    require("gdb");
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    let dir = DIR.get_or_init(|| build("holder", false));
    let script = script_in(dir, "holder_crash.py");
    let result = refsan_run(dir, &[], &["python3", &script]);
    let crash = result.crash();
    let pretty = serde_json::to_string_pretty(crash).unwrap();
    assert_eq!(crash["classification"], "RT01", "{pretty}");
    assert!(
        crash["extensions"].to_string().contains("\"holder\""),
        "{pretty}"
    );
    let pyx = dir.join("holder.pyx");
    let kept = line_of(&pyx, "# BUG: kept without Py_INCREF");
    let found = crash["extension_findings"][0]["findings"]
        .as_array()
        .expect("findings of the extension's sources");
    assert!(
        found.iter().any(|f| f["code"] == "RS108"
            && f["span"]["line"] == kept
            && f["file"]
                .as_str()
                .is_some_and(|p| p.ends_with("holder.pyx"))),
        "{pretty}"
    );
    assert!(
        crash["next_steps"]
            .to_string()
            .contains(&format!("refsan run --valgrind -- python3 {script}")),
        "{pretty}"
    );
}

/// Under --valgrind the free site is the extension's tp_dealloc, its static
/// findings are attached, and a memory error in a program that exits 0
/// still fails the run (--error-exitcode, default 1).
#[test]
fn valgrind_memory_error_fails_the_run_and_names_the_free_site() {
    if !system_tests() {
        return;
    }
    require("valgrind");
    let dir = delayed_debug();
    let script = script_in(dir, "delayed_quiet.py");
    let result = refsan_run(dir, &["--valgrind"], &["python3", &script]);
    assert!(result.stdout().contains("done"), "{}", result.stdout());
    assert_eq!(result.report["exit"]["code"], 0);
    assert_eq!(result.status(), 1, "{:#}", result.report);
    let crash = result.crash();
    let pretty = serde_json::to_string_pretty(crash).unwrap();
    assert_eq!(crash["free_site"]["function"], "Holder_dealloc", "{pretty}");
    assert_eq!(
        crash["static_findings"]["function"], "Holder_dealloc",
        "{pretty}"
    );
    assert!(
        crash["extension_findings"].to_string().contains("RS108"),
        "{pretty}"
    );
    // 0 keeps the program's own status.
    let kept = refsan_run(
        dir,
        &["--valgrind", "--error-exitcode", "0"],
        &["python3", &script],
    );
    assert_eq!(kept.status(), 0);
}

/// Under --asan the bad read is in libpython, which ASan does not
/// instrument: refsan asks ASan's allocator about the crashing thread's
/// registers at the fault, so the report is RT01 (not RT06, not RT04) with
/// the stack that freed the object (the extension's tp_dealloc) and the one
/// that allocated it.
#[test]
fn asan_mode_names_the_free_site_of_a_read_in_libpython() {
    if !system_tests() {
        return;
    }
    require("gdb");
    require_asan_runtime();
    let dir = delayed_asan();
    let script = script_in(dir, "delayed_crash.py");
    // Without --full-stacks the free stack stops in libpython (no frame
    // pointers) and the report says how to get it whole.
    let fast = refsan_run(dir, &["--asan"], &["python3", &script]);
    let crash = fast.crash();
    let pretty = serde_json::to_string_pretty(crash).unwrap();
    assert_eq!(crash["classification"], "RT01", "{pretty}");
    if crash["free_site"].is_null() {
        assert!(
            crash["next_steps"].to_string().contains("--full-stacks"),
            "{pretty}"
        );
    }
    let result = refsan_run(dir, &["--asan", "--full-stacks"], &["python3", &script]);
    let crash = result.crash();
    let pretty = serde_json::to_string_pretty(crash).unwrap();
    assert_eq!(crash["classification"], "RT01", "{pretty}");
    assert!(
        crash["evidence"][0]["text"]
            .as_str()
            .is_some_and(|t| t.contains("freed") && t.contains("at the fault")),
        "{pretty}"
    );
    assert_free_site(
        crash,
        &dir.join("delayed.c"),
        line_of(
            &dir.join("delayed.c"),
            "Py_XDECREF(self->item); /* releases",
        ),
    );
    let labels: Vec<&str> = crash["native_stacks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["label"].as_str())
        .collect();
    assert!(
        labels
            .iter()
            .any(|l| l.starts_with("previously allocated by")),
        "{pretty}"
    );
}

/// `refsan build --asan` leaves the in-place module alone (it still imports
/// without the ASan runtime) and `refsan run --asan` imports the ASan build.
#[test]
fn asan_build_goes_to_its_own_directory_and_run_asan_imports_it() {
    if !system_tests() {
        return;
    }
    require_asan_runtime();
    let dir = scratch().join("delayed-both");
    let _ = std::fs::remove_dir_all(&dir);
    copy_dir(&fixtures().join("delayed"), &dir);
    let plain = Command::new(REFSAN)
        .arg("build")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(plain.status.success(), "{plain:?}");
    let asan = Command::new(REFSAN)
        .args(["build", "--asan"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(asan.status.success(), "{asan:?}");
    let manifest = dir.join("build/refsan-asan/manifest.json");
    let listed: Value = serde_json::from_str(&std::fs::read_to_string(&manifest).unwrap()).unwrap();
    let asan_so = listed["modules"]["delayed"]
        .as_str()
        .expect("delayed listed")
        .to_string();
    // The in-place module imports without the ASan runtime.
    let imported = Command::new("python3")
        .args(["-c", "import delayed; print(delayed.__file__)"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(imported.status.success(), "{imported:?}");
    let in_place = String::from_utf8_lossy(&imported.stdout).trim().to_string();
    assert_ne!(in_place, asan_so);
    // Under refsan run --asan, the ASan build is the one imported.
    let result = refsan_run(
        &dir,
        &["--asan"],
        &["python3", "-c", "import delayed; print(delayed.__file__)"],
    );
    assert_eq!(result.status(), 0, "{:#}", result.report);
    assert_eq!(result.stdout().trim(), asan_so);
}

/// A missing build requirement is one line naming it and the command that
/// installs it, exit 2, before anything is built.
#[test]
fn build_names_missing_build_requirements() {
    if !system_tests() {
        return;
    }
    let dir = scratch().join("delayed-requires");
    let _ = std::fs::remove_dir_all(&dir);
    copy_dir(&fixtures().join("delayed"), &dir);
    std::fs::write(
        dir.join("pyproject.toml"),
        "[build-system]\nrequires = [\"setuptools\", \"refsan-no-such-package>=1\"]\nbuild-backend = \"setuptools.build_meta\"\n",
    )
    .unwrap();
    let out = Command::new(REFSAN)
        .arg("build")
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("refsan-no-such-package>=1")
            && stderr.contains("-m pip install 'refsan-no-such-package>=1'")
            && !stderr.contains("Traceback"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn text_report_is_delimited_and_shows_the_source_line() {
    if !system_tests() {
        return;
    }
    require("gdb");
    let dir = refbugs_debug();
    let out = Command::new(REFSAN)
        .args([
            "run",
            "--color",
            "never",
            "--",
            "python3",
            "-c",
            "import refbugs; refbugs.unchecked_null(1)",
        ])
        .current_dir(dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("━━━ refsan: crash report "), "{stderr}");
    assert!(stderr.contains("━━━ end of refsan report "), "{stderr}");
    assert!(
        stderr.contains("RT04 null-object in refbugs.unchecked_null (refbugs.c:"),
        "{stderr}"
    );
    assert!(stderr.contains("Py_DECREF(attr); /* BUG"), "{stderr}");
    // faulthandler's own output still reaches the user.
    assert!(
        stderr.contains("Fatal Python error: Segmentation fault"),
        "{stderr}"
    );
}

#[test]
fn crash_in_a_thread_names_the_thread() {
    if !system_tests() {
        return;
    }
    require("gdb");
    let dir = refbugs_debug();
    let script = script_in(dir, "crash_in_thread.py");
    let result = refsan_run(dir, &[], &["python3", &script]);
    let crash = result.crash();
    let source = dir.join("refbugs.c");
    assert_site(
        crash,
        "RT04",
        "unchecked_null",
        &source,
        line_of(&source, "Py_DECREF(attr); /* BUG"),
    );
    assert_eq!(crash["process"]["main_thread"], false);
    assert_ne!(crash["process"]["thread_id"], crash["process"]["pid"]);
    assert_eq!(result.status(), 139);
}

#[test]
fn crash_in_a_child_process_is_reported_and_the_parent_status_kept() {
    if !system_tests() {
        return;
    }
    require("gdb");
    let dir = refbugs_debug();
    let script = script_in(dir, "crash_in_child.py");
    let result = refsan_run(dir, &[], &["python3", &script]);
    assert_eq!(result.status(), 0, "the parent's own exit status");
    assert!(
        result.stdout().contains("child returned -11"),
        "{}",
        result.stdout()
    );
    let crash = result.crash();
    assert_eq!(crash["process"]["main_process"], false);
    assert_ne!(crash["process"]["pid"], Value::Null);
    let source = dir.join("refbugs.c");
    assert_site(
        crash,
        "RT04",
        "unchecked_null",
        &source,
        line_of(&source, "Py_DECREF(attr); /* BUG"),
    );
}

#[test]
fn timeout_stops_the_program_and_shows_where_it_was() {
    if !system_tests() {
        return;
    }
    require("gdb");
    let dir = scratch().join("timeout");
    std::fs::create_dir_all(&dir).unwrap();
    let script = fixtures().join("scripts/sleeps.py");
    let started = Instant::now();
    let result = refsan_run(
        &dir,
        &["--timeout", "2"],
        &["python3", script.to_str().unwrap()],
    );
    // A hang guard, not a speed test: generous under load.
    assert!(started.elapsed() < Duration::from_secs(180), "no hang");
    assert_eq!(result.status(), 124);
    assert_eq!(result.report["exit"]["timed_out"], true);
    let crash = result.crash();
    assert_eq!(crash["trigger"]["type"], "timeout");
    assert_eq!(crash["classification"], Value::Null);
    let frames = crash["python_traceback"]["frames"].as_array().unwrap();
    assert!(
        frames
            .iter()
            .any(|f| f["file"].as_str().unwrap_or("").ends_with("sleeps.py")),
        "{}",
        serde_json::to_string_pretty(crash).unwrap()
    );
    // gdb saw both threads.
    assert!(crash["native_stacks"].as_array().unwrap().len() >= 2);
}

/// Runs `python3 ARGS` with and without refsan, same stdin; returns both.
fn run_both(dir: &Path, args: &[&str], stdin: &[u8]) -> (Output, Output) {
    let run = |cmd: &mut Command| -> Output {
        use std::io::Write;
        let mut child = cmd
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin).unwrap();
        child.wait_with_output().unwrap()
    };
    let plain = run(Command::new("python3").args(args));
    let wrapped = run(Command::new(REFSAN)
        .args(["run", "--"])
        .arg("python3")
        .args(args));
    (plain, wrapped)
}

#[test]
fn a_program_that_does_not_crash_runs_as_without_refsan() {
    if !system_tests() {
        return;
    }
    let dir = scratch().join("passthrough");
    std::fs::create_dir_all(&dir).unwrap();
    let script = fixtures().join("scripts/passthrough.py");
    let input = b"some input\nsecond line\n";
    let (plain, wrapped) = run_both(&dir, &[script.to_str().unwrap()], input);
    assert_eq!(plain.status.code(), Some(3));
    assert_eq!(wrapped.status.code(), plain.status.code());
    assert_eq!(wrapped.stdout, plain.stdout);
    assert_eq!(
        wrapped.stderr, plain.stderr,
        "stderr is byte-identical, nothing added"
    );
    assert!(String::from_utf8_lossy(&wrapped.stdout).contains("SOME INPUT"));
}

#[test]
fn a_signal_death_gives_128_plus_the_signal() {
    if !system_tests() {
        return;
    }
    let dir = scratch().join("signal");
    std::fs::create_dir_all(&dir).unwrap();
    let (plain, wrapped) = run_both(
        &dir,
        &[
            "-c",
            "import os, signal; os.kill(os.getpid(), signal.SIGTERM)",
        ],
        b"",
    );
    assert_eq!(plain.status.code(), None, "python dies of SIGTERM");
    assert_eq!(wrapped.status.code(), Some(128 + 15));
    assert!(
        wrapped.stderr.is_empty(),
        "SIGTERM is not a crash: no report"
    );
}

#[test]
fn sigint_sent_to_refsan_reaches_the_program() {
    if !system_tests() {
        return;
    }
    let dir = scratch().join("sigint");
    std::fs::create_dir_all(&dir).unwrap();
    let script = fixtures().join("scripts/wait_for_sigint.py");
    let mut child = Command::new(REFSAN)
        .args(["run", "--", "python3"])
        .arg(&script)
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 6];
    std::io::Read::read_exact(&mut stdout, &mut first).unwrap();
    assert_eq!(&first, b"ready\n");
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    let mut rest = Vec::new();
    std::io::Read::read_to_end(&mut stdout, &mut rest).unwrap();
    assert_eq!(String::from_utf8_lossy(&rest), "interrupted\n");
    assert_eq!(
        out.status.code(),
        Some(42),
        "refsan outlived SIGINT and kept the program's status"
    );
}

#[test]
fn debug_interpreter_negative_refcount_is_rt02() {
    if !system_tests() {
        return;
    }
    require("python3-dbg");
    require("gdb");
    let dir = scratch().join("negative");
    std::fs::create_dir_all(&dir).unwrap();
    let script = fixtures().join("scripts/negative_refcount.py");
    let result = refsan_run(&dir, &[], &["python3-dbg", script.to_str().unwrap()]);
    let crash = result.crash();
    assert_eq!(
        crash["classification"],
        "RT02",
        "{}",
        serde_json::to_string_pretty(crash).unwrap()
    );
    assert_eq!(crash["trigger"]["signal"], "SIGABRT");
    assert!(crash["evidence"][0]["text"]
        .as_str()
        .unwrap()
        .contains("negative ref count"));
    assert_eq!(result.status(), 128 + 6);
}

#[test]
fn missing_program_is_127() {
    if !system_tests() {
        return;
    }
    let out = Command::new(REFSAN)
        .args(["run", "--", "refsan-no-such-program"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(127));
    assert!(String::from_utf8_lossy(&out.stderr).contains("command not found"));
}

#[test]
fn doctor_lists_the_tools() {
    if !system_tests() {
        return;
    }
    let out = Command::new(REFSAN).arg("doctor").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for tool in ["python", "gdb", "asan", "valgrind", "c compiler"] {
        assert!(text.contains(tool), "doctor mentions {tool}: {text}");
    }
}
