//! `refsan leaks` end to end: real C and Cython extensions, built in temp
//! dirs for each interpreter (pyenv's release python3 and Debian's debug
//! python3-dbg), measured by the refsan binary; assertions on its JSON.
//!
//! Needs gcc, python3 with Cython and pytest, and python3-dbg with pytest:
//! `.ci/install-leaks.sh` installs them. A missing tool fails the test.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failing test

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/leaks_fixtures");
/// How often the corrected functions are measured again: none may ever be
/// reported.
const CLEAN_REPEATS: usize = 5;

struct Interpreter {
    program: String,
    debug: bool,
}

fn release_python() -> Interpreter {
    Interpreter {
        program: "python3".into(),
        debug: false,
    }
}

fn debug_python() -> Interpreter {
    let found = Command::new("python3-dbg")
        .args(["-c", "import sys; print(hasattr(sys, 'gettotalrefcount'))"])
        .output();
    match found {
        Ok(output) if String::from_utf8_lossy(&output.stdout).trim() == "True" => {}
        _ => {
            panic!("python3-dbg (Debian's debug interpreter) is missing: run .ci/install-leaks.sh")
        }
    }
    Interpreter {
        program: "python3-dbg".into(),
        debug: true,
    }
}

fn interpreters() -> Vec<Interpreter> {
    vec![release_python(), debug_python()]
}

fn run(command: &mut Command) -> Output {
    let output = command
        .output()
        .unwrap_or_else(|err| panic!("cannot run {command:?}: {err}"));
    assert!(
        output.status.success(),
        "{command:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn python_value(python: &str, expression: &str) -> String {
    let output =
        run(Command::new(python).args(["-c", &format!("import sysconfig; print({expression})")]));
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// Compiles C sources into an extension module for `python`.
fn compile_extension(python: &str, dir: &Path, module: &str, sources: &[&str]) {
    let include = python_value(python, "sysconfig.get_paths()['include']");
    let suffix = python_value(python, "sysconfig.get_config_var('EXT_SUFFIX')");
    let mut gcc = Command::new("gcc");
    gcc.current_dir(dir)
        .args(["-shared", "-fPIC", "-O0", "-g", "-Wall"])
        .arg(format!("-I{include}"))
        .arg(format!("-I{}", dir.display()))
        .args(sources)
        .arg("-o")
        .arg(format!("{module}{suffix}"));
    run(&mut gcc);
}

/// Translates a .pyx with pyenv's Cython (the .c is interpreter-neutral).
fn cythonize(dir: &Path, pyx: &str) {
    let check = Command::new("python3")
        .args(["-c", "import Cython"])
        .output();
    assert!(
        check.is_ok_and(|output| output.status.success()),
        "Cython is missing for python3: run .ci/install-leaks.sh"
    );
    run(Command::new("python3")
        .current_dir(dir)
        .args(["-m", "cython", "-3", pyx]));
}

/// A temp dir with leakcheck and the seed article's Cython scenario (as
/// printed and corrected), built for `python`.
fn build_extensions(python: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for file in [
        "leakcheck.c",
        "seed_items.c",
        "seed_items.h",
        "seed_new_ref.pyx",
        "seed_new_ref_fixed.pyx",
    ] {
        std::fs::copy(Path::new(FIXTURES).join(file), dir.path().join(file)).expect("copy fixture");
    }
    compile_extension(python, dir.path(), "leakcheck", &["leakcheck.c"]);
    for module in ["seed_new_ref", "seed_new_ref_fixed"] {
        cythonize(dir.path(), &format!("{module}.pyx"));
        compile_extension(
            python,
            dir.path(),
            module,
            &[&format!("{module}.c"), "seed_items.c"],
        );
    }
    dir
}

struct LeaksRun {
    status: i32,
    report: Value,
    stdout: String,
    stderr: String,
}

fn refsan_leaks(dir: &Path, args: &[&str]) -> LeaksRun {
    let report_path = dir.join("report.json");
    let _ = std::fs::remove_file(&report_path);
    let output = Command::new(env!("CARGO_BIN_EXE_refsan"))
        .current_dir(dir)
        .arg("leaks")
        .args(["--format", "json", "--output"])
        .arg(&report_path)
        .args(args)
        .output()
        .expect("run refsan");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let text = std::fs::read_to_string(&report_path)
        .unwrap_or_else(|err| panic!("no report ({err}); stderr:\n{stderr}"));
    LeaksRun {
        status: output.status.code().unwrap_or(-1),
        report: serde_json::from_str(&text).expect("valid JSON report"),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr,
    }
}

fn target<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["targets"]
        .as_array()
        .and_then(|targets| targets.iter().find(|target| target["name"] == name))
        .unwrap_or_else(|| panic!("no target {name} in {report:#}"))
}

fn per_call(target: &Value, metric: &str) -> Option<f64> {
    target["metrics"]
        .as_array()?
        .iter()
        .find(|series| series["metric"] == metric)
        .and_then(|series| {
            if series["trend"] == "steady" {
                Some(0.0)
            } else {
                series["per_call"].as_f64()
            }
        })
}

fn finding_kinds(target: &Value) -> Vec<String> {
    target["findings"]
        .as_array()
        .map(|findings| {
            findings
                .iter()
                .filter_map(|finding| finding["kind"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn assert_clean(report: &Value, name: &str) {
    let measured = target(report, name);
    assert_eq!(measured["status"], "measured", "{measured:#}");
    assert_eq!(
        measured["verdict"], "clean",
        "{name} reported:\n{measured:#}"
    );
}

fn assert_memory_leak(python: &Interpreter, measured: &Value, context: &str) {
    assert_eq!(measured["verdict"], "leak", "{context}: {measured:#}");
    assert_eq!(
        per_call(measured, "blocks"),
        Some(1.0),
        "{context}: {measured:#}"
    );
    let kinds = finding_kinds(measured);
    assert!(
        kinds.contains(&"memory_leak".into()),
        "{context}: {kinds:?}"
    );
    if python.debug {
        assert_eq!(
            per_call(measured, "refs"),
            Some(1.0),
            "{context}: {measured:#}"
        );
        assert!(
            kinds.contains(&"reference_leak".into()),
            "{context}: {kinds:?}"
        );
    } else {
        assert!(per_call(measured, "refs").is_none());
    }
}

#[test]
fn reports_a_new_list_leaked_per_call_and_not_its_fix() {
    if !system_tests() {
        return;
    }
    for python in interpreters() {
        let dir = build_extensions(&python.program);
        let run = refsan_leaks(
            dir.path(),
            &[
                "--python",
                &python.program,
                "--call",
                "leakcheck:leak_new_list",
                "--call",
                "leakcheck:new_list_fixed",
            ],
        );
        assert_eq!(run.status, 1, "{}", run.stderr);
        assert_eq!(run.report["interpreter"]["debug_build"], python.debug);
        let leaking = target(&run.report, "leakcheck:leak_new_list");
        assert_memory_leak(&python, leaking, &python.program);
        assert_eq!(leaking["types"][0]["type"], "builtins.list");
        assert_eq!(leaking["types"][0]["per_call"], 1.0);
        let site = &leaking["sites"][0];
        assert_eq!(site["native"], true, "{leaking:#}");
        assert_eq!(site["file"], "<native code of leakcheck:leak_new_list>");
        assert_eq!(site["count_diff"], 6);
        assert_clean(&run.report, "leakcheck:new_list_fixed");
        assert_eq!(run.report["summary"]["leaking"], 1);
    }
}

#[test]
fn reports_a_leak_on_the_error_path_only_when_it_is_taken() {
    if !system_tests() {
        return;
    }
    for python in interpreters() {
        let dir = build_extensions(&python.program);
        let targets = [
            "--call",
            "leakcheck:leak_on_error",
            "--call",
            "leakcheck:on_error_fixed",
        ];
        let mut args = vec![
            "--python",
            python.program.as_str(),
            "--args",
            "'not a list'",
        ];
        args.extend(targets);
        let error_path = refsan_leaks(dir.path(), &args);
        assert_eq!(error_path.status, 1);
        let leaking = target(&error_path.report, "leakcheck:leak_on_error");
        assert_memory_leak(&python, leaking, "error path");
        assert_eq!(leaking["raised"]["type"], "builtins.TypeError");
        assert_eq!(leaking["raised"]["calls"], 9);
        assert_clean(&error_path.report, "leakcheck:on_error_fixed");

        // The success path of the same function does not leak.
        let mut args = vec!["--python", python.program.as_str(), "--args", "[1, 2]"];
        args.extend(targets);
        let success_path = refsan_leaks(dir.path(), &args);
        assert_eq!(success_path.status, 0, "{:#}", success_path.report);
        assert_clean(&success_path.report, "leakcheck:leak_on_error");
    }
}

#[test]
fn reports_argument_refcounts_in_both_directions() {
    if !system_tests() {
        return;
    }
    for python in interpreters() {
        let dir = build_extensions(&python.program);
        let run = refsan_leaks(
            dir.path(),
            &[
                "--python",
                &python.program,
                "--setup",
                "payload = ['borrowed']",
                "--args",
                "payload",
                "--call",
                "leakcheck:argument_fixed",
                "--call",
                "leakcheck:borrowed_fixed",
                "--call",
                "leakcheck:incref_argument",
                "--call",
                "leakcheck:decref_borrowed",
            ],
        );
        assert_eq!(run.status, 1);
        let increfs = target(&run.report, "leakcheck:incref_argument");
        let kinds = finding_kinds(increfs);
        assert!(
            kinds.contains(&"argument_gains_references".into()),
            "{kinds:?}"
        );
        assert!(!kinds.contains(&"memory_leak".into()), "{kinds:?}");
        assert_eq!(
            kinds.contains(&"reference_leak".into()),
            python.debug,
            "{kinds:?}"
        );
        // No memory grows: only the argument's count does.
        assert_eq!(per_call(increfs, "blocks"), Some(0.0));
        assert_eq!(per_call(increfs, "bytes"), Some(0.0));
        assert_eq!(increfs["arguments"][0]["per_call"], 1.0);
        assert_eq!(increfs["arguments"][0]["trend"], "grows");

        let decrefs = target(&run.report, "leakcheck:decref_borrowed");
        assert_eq!(decrefs["status"], "measured", "reported before it crashed");
        assert_eq!(decrefs["arguments"][0]["per_call"], -1.0);
        assert_eq!(decrefs["arguments"][0]["trend"], "shrinks");
        assert!(finding_kinds(decrefs).contains(&"argument_loses_references".into()));
        // Its own verdict: an extra Py_DECREF, not a leak.
        assert_eq!(decrefs["verdict"], "over_release", "{decrefs:#}");
        assert_eq!(increfs["verdict"], "leak", "{increfs:#}");
        assert_eq!(run.report["summary"]["over_releasing"], 1);
        assert_eq!(run.report["summary"]["leaking"], 1);
        if python.debug {
            assert_eq!(per_call(decrefs, "refs"), Some(-1.0));
            assert!(finding_kinds(decrefs).contains(&"references_released_twice".into()));
        }
        assert_clean(&run.report, "leakcheck:argument_fixed");
        assert_clean(&run.report, "leakcheck:borrowed_fixed");
    }
}

#[test]
fn reports_the_seed_articles_cython_new_reference_scenario() {
    if !system_tests() {
        return;
    }
    for python in interpreters() {
        let dir = build_extensions(&python.program);
        let run = refsan_leaks(
            dir.path(),
            &[
                "--python",
                &python.program,
                "--call",
                "seed_new_ref:interact_with_c_lib",
                "--call",
                "seed_new_ref_fixed:interact_with_c_lib",
            ],
        );
        assert_eq!(run.status, 1);
        let leaking = target(&run.report, "seed_new_ref:interact_with_c_lib");
        assert_memory_leak(&python, leaking, "seed scenario 2");
        assert_eq!(leaking["types"][0]["type"], "builtins.list", "{leaking:#}");
        assert_clean(&run.report, "seed_new_ref_fixed:interact_with_c_lib");
    }
}

#[test]
fn never_reports_the_corrected_functions() {
    if !system_tests() {
        return;
    }
    for python in interpreters() {
        let dir = build_extensions(&python.program);
        for repeat in 0..CLEAN_REPEATS {
            let plain = refsan_leaks(
                dir.path(),
                &[
                    "--python",
                    &python.program,
                    "--call",
                    "leakcheck:new_list_fixed",
                    "--call",
                    "seed_new_ref_fixed:interact_with_c_lib",
                ],
            );
            let with_argument = refsan_leaks(
                dir.path(),
                &[
                    "--python",
                    &python.program,
                    "--setup",
                    "payload = [1, 2, 3]",
                    "--args",
                    "payload",
                    "--call",
                    "leakcheck:argument_fixed",
                    "--call",
                    "leakcheck:borrowed_fixed",
                    "--call",
                    "leakcheck:on_error_fixed",
                ],
            );
            let error_path = refsan_leaks(
                dir.path(),
                &[
                    "--python",
                    &python.program,
                    "--args",
                    "'not a list'",
                    "--call",
                    "leakcheck:on_error_fixed",
                ],
            );
            for run in [&plain, &with_argument, &error_path] {
                assert_eq!(
                    run.status, 0,
                    "{} repeat {repeat}: {:#}",
                    python.program, run.report
                );
                assert_eq!(run.report["summary"]["leaking"], 0);
            }
        }
    }
}

/// `refsan leaks` arguments for a pytest run of `files` under `python`
/// (quiet, no cache directory), `options` given to pytest first.
fn pytest_under<'a>(python: &'a str, options: &[&'a str], files: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["--", python, "-m", "pytest", "-q", "-p", "no:cacheprovider"];
    args.extend_from_slice(options);
    args.extend_from_slice(files);
    args
}

fn copy_suite(dir: &Path, suite: &str) {
    let source = Path::new(FIXTURES).join(suite);
    for entry in std::fs::read_dir(&source).expect("suite dir") {
        let path: PathBuf = entry.expect("entry").path();
        if path.extension().is_some_and(|ext| ext == "py") {
            std::fs::copy(&path, dir.join(path.file_name().expect("name"))).expect("copy");
        }
    }
}

#[test]
fn pytest_mode_finds_the_leaking_test_and_keeps_the_outcome() {
    if !system_tests() {
        return;
    }
    for python in interpreters() {
        let dir = build_extensions(&python.program);
        copy_suite(dir.path(), "suite");
        let plain = Command::new(&python.program)
            .current_dir(dir.path())
            .args([
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "test_mixed.py",
            ])
            .output()
            .expect("run pytest");
        let run = refsan_leaks(
            dir.path(),
            &pytest_under(&python.program, &[], &["test_mixed.py"]),
        );
        // pytest's outcome is unchanged: one failure, three passes.
        assert_eq!(plain.status.code(), Some(1));
        assert_eq!(run.status, 1);
        assert_eq!(run.report["pytest_exit_status"], 1);
        assert!(
            run.stdout.contains("1 failed, 3 passed"),
            "pytest's own output must pass through:\n{}",
            run.stdout
        );
        let report = &run.report;
        assert_eq!(report["summary"]["targets"], 4);
        assert_eq!(report["summary"]["leaking"], 1, "{report:#}");
        let leaking = target(report, "test_mixed.py::test_leaks_on_error_path");
        assert_memory_leak(&python, leaking, "pytest");
        assert_eq!(leaking["outcome"], "passed");
        let site = &leaking["sites"][0];
        assert!(
            site["file"]
                .as_str()
                .is_some_and(|file| file.ends_with("test_mixed.py")),
            "{site:#}"
        );
        assert_eq!(site["line"], 21);
        for name in [
            "test_mixed.py::test_fixed_functions",
            "test_mixed.py::test_prints_and_passes",
        ] {
            assert_clean(report, name);
            assert_eq!(target(report, name)["outcome"], "passed");
        }
        let failing = target(report, "test_mixed.py::test_fails_on_purpose");
        assert_eq!(failing["verdict"], "clean");
        assert_eq!(failing["outcome"], "failed");
    }
}

/// pytest's fixtures of every scope are pytest's bookkeeping, not leaks: 20
/// runs in a row of a suite using tmp_path, tmp_path_factory, a session and
/// a module fixture report only the test that does leak (pytest 7 under
/// python3-dbg, the newest pytest under python3).
#[test]
fn pytest_fixtures_of_every_scope_are_not_leaks() {
    if !system_tests() {
        return;
    }
    for python in interpreters() {
        let dir = build_extensions(&python.program);
        copy_suite(dir.path(), "fixture_suite");
        for round in 1..=20 {
            // pytest's watchdog thread is armed around each test: the
            // forked measurement must not wait on its lock.
            let run = refsan_leaks(
                dir.path(),
                &pytest_under(
                    &python.program,
                    &["-o", "faulthandler_timeout=30"],
                    &["test_fixtures.py"],
                ),
            );
            let report = &run.report;
            let context = format!("{} round {round}", python.program);
            assert_eq!(report["summary"]["targets"], 6, "{context}: {report:#}");
            assert_eq!(report["summary"]["leaking"], 1, "{context}: {report:#}");
            let leaking = target(report, "test_fixtures.py::test_leaks_with_tmp_path");
            assert_memory_leak(&python, leaking, &context);
            assert_eq!(run.status, 1, "{context}");
        }
    }
}

/// Live objects are counted by type name: the instances of a class defined
/// anew on every run add up to one row, and the objects of tracemalloc's own
/// snapshots are in no count (a leaked tuple shows).
#[test]
fn live_objects_are_counted_by_type_name() {
    if !system_tests() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let run = refsan_leaks(
        dir.path(),
        &[
            "--top",
            "10",
            "--setup",
            "kept = []",
            "--code",
            "class Leaky:\n    pass\nkept.append((Leaky(), []))",
        ],
    );
    let leaking = target(&run.report, "<code>");
    let types: Vec<(&str, f64)> = leaking["types"]
        .as_array()
        .expect("types")
        .iter()
        .filter_map(|t| Some((t["type"].as_str()?, t["per_call"].as_f64()?)))
        .collect();
    for expected in ["__refsan_leaks__.Leaky", "builtins.tuple", "builtins.list"] {
        assert!(
            types
                .iter()
                .any(|(name, per_call)| *name == expected && *per_call >= 1.0),
            "{expected} in {types:?}"
        );
    }
}

#[test]
fn crashes_and_hangs_are_reported_and_the_rest_still_runs() {
    if !system_tests() {
        return;
    }
    let python = release_python();
    let dir = build_extensions(&python.program);
    // The hang gets a short timeout of its own; the other targets keep the
    // default, so a loaded machine cannot time them out.
    let hang = refsan_leaks(
        dir.path(),
        &["--timeout", "3", "--call", "leakcheck:spin_forever"],
    );
    let hung = target(&hang.report, "leakcheck:spin_forever");
    assert_eq!(hung["status"], "timed_out", "{hung:#}");
    let run = refsan_leaks(
        dir.path(),
        &[
            "--call",
            "leakcheck:crash_now",
            "--call",
            "leakcheck:new_list_fixed",
        ],
    );
    assert_eq!(run.status, 1);
    let crashed = target(&run.report, "leakcheck:crash_now");
    assert_eq!(crashed["status"], "crashed");
    assert_eq!(crashed["crash"]["signal_name"], "SIGSEGV");
    assert!(crashed["crash"]["stderr_tail"]
        .as_str()
        .is_some_and(|tail| tail.contains("Segmentation fault")));
    let reproduce = crashed["crash"]["reproduce"].as_array().expect("reproduce");
    assert!(reproduce
        .last()
        .and_then(Value::as_str)
        .is_some_and(|script| script.contains("leakcheck.crash_now()")));
    // The crash is handed to `refsan run`, whose report classifies it and
    // names the extension function.
    let handed = crashed["crash"]["handed_over"].as_str().unwrap_or_default();
    assert!(
        handed.contains("RT0") && handed.contains("crash_now"),
        "crash report from refsan run: {handed}"
    );
    assert_clean(&run.report, "leakcheck:new_list_fixed");

    // In a pytest run the crashing test fails; the others run and pass.
    copy_suite(dir.path(), "crash_suite");
    let suite = refsan_leaks(
        dir.path(),
        &[
            "--",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "test_crash.py",
        ],
    );
    assert_eq!(suite.status, 1);
    assert!(
        suite.stdout.contains("1 failed, 2 passed"),
        "{}",
        suite.stdout
    );
    let crashed = target(&suite.report, "test_crash.py::test_crashes");
    assert_eq!(crashed["status"], "crashed");
    assert_eq!(crashed["outcome"], "failed");
    assert_eq!(crashed["crash"]["signal_name"], "SIGSEGV");
    assert_clean(&suite.report, "test_crash.py::test_before");
    assert_clean(&suite.report, "test_crash.py::test_after");
}

#[test]
fn text_report_is_a_readable_table() {
    if !system_tests() {
        return;
    }
    let python = debug_python();
    let dir = build_extensions(&python.program);
    let output = Command::new(env!("CARGO_BIN_EXE_refsan"))
        .current_dir(dir.path())
        .args([
            "leaks",
            "--python",
            &python.program,
            "--output",
            "-",
            "--call",
            "leakcheck:leak_new_list",
            "--call",
            "leakcheck:new_list_fixed",
        ])
        .output()
        .expect("run refsan");
    assert_eq!(output.status.code(), Some(1));
    let text = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("refsan leaks: cpython 3."), "{text}");
    assert!(lines[0].contains("debug build"), "{text}");
    let header = lines
        .iter()
        .position(|line| line.starts_with("TARGET"))
        .expect("table header");
    let columns: Vec<&str> = lines[header].split_whitespace().collect();
    assert_eq!(
        columns,
        [
            "TARGET",
            "RESULT",
            "REFS/CALL",
            "BLOCKS/CALL",
            "BYTES/CALL",
            "ARG",
            "REFS/CALL"
        ]
    );
    let leak_row: Vec<&str> = lines[header + 1].split_whitespace().collect();
    assert_eq!(
        leak_row[..4],
        ["leakcheck:leak_new_list", "LEAK", "+1", "+1"]
    );
    let fixed_row: Vec<&str> = lines[header + 2].split_whitespace().collect();
    assert_eq!(fixed_row[..4], ["leakcheck:new_list_fixed", "ok", "0", "0"]);
    assert!(text.contains("allocated at <native code of leakcheck:leak_new_list>"));
    assert!(text.contains("live objects: builtins.list +1/call"));
}

/// leakcheck compiled with `python`'s headers under the generic name
/// `leakcheck.so`, which any interpreter tries to load.
fn leakcheck_with_headers_of(python: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::copy(
        Path::new(FIXTURES).join("leakcheck.c"),
        dir.path().join("leakcheck.c"),
    )
    .expect("copy");
    let include = python_value(python, "sysconfig.get_paths()['include']");
    run(Command::new("gcc")
        .current_dir(dir.path())
        .args(["-shared", "-fPIC", "-O0", "-g"])
        .arg(format!("-I{include}"))
        .args(["leakcheck.c", "-o", "leakcheck.so"]));
    dir
}

#[test]
fn an_extension_built_for_a_release_interpreter_is_a_setup_problem_under_a_debug_one() {
    if !system_tests() {
        return;
    }
    // Release headers, generic suffix: the debug interpreter loads it.
    let dir = leakcheck_with_headers_of("python3");
    let python = debug_python();
    let run = refsan_leaks(
        dir.path(),
        &[
            "--python",
            &python.program,
            "--call",
            "leakcheck:leak_new_list",
            "--call",
            "leakcheck:borrowed_fixed",
            "--args",
            "[]",
        ],
    );
    // A set-up problem, with the command that fixes it, and exit status 2:
    // never a leak verdict from counts the extension skewed.
    let problems = run.report["setup_problems"].to_string();
    assert!(
        problems.contains("built for a release interpreter")
            && problems.contains("refsan build --debug --python"),
        "{problems}"
    );
    assert_eq!(run.status, 2, "{:#}", run.report);
    for name in ["leakcheck:leak_new_list", "leakcheck:borrowed_fixed"] {
        assert_eq!(
            target(&run.report, name)["verdict"],
            "not_measured",
            "{:#}",
            run.report
        );
    }
    assert_eq!(run.report["summary"]["leaking"], 0);
    // The same extension rebuilt for the debug interpreter is measured.
    compile_extension(&python.program, dir.path(), "leakcheck", &["leakcheck.c"]);
    std::fs::remove_file(dir.path().join("leakcheck.so")).expect("remove");
    let rebuilt = refsan_leaks(
        dir.path(),
        &[
            "--python",
            &python.program,
            "--call",
            "leakcheck:leak_new_list",
        ],
    );
    assert_eq!(rebuilt.report["setup_problems"], serde_json::json!([]));
    assert_memory_leak(
        &python,
        target(&rebuilt.report, "leakcheck:leak_new_list"),
        "rebuilt",
    );
}

/// The reverse mismatch: an extension built with the debug interpreter's
/// headers does not import under the release one; that is a set-up problem
/// naming both ways out, exit 2, for --call and for a pytest suite.
#[test]
fn an_extension_built_for_a_debug_interpreter_is_a_setup_problem_under_a_release_one() {
    if !system_tests() {
        return;
    }
    let dir = leakcheck_with_headers_of("python3-dbg");
    copy_suite(dir.path(), "suite");
    let call = Command::new(env!("CARGO_BIN_EXE_refsan"))
        .current_dir(dir.path())
        .args(["leaks", "--call", "leakcheck:new_list_fixed"])
        .output()
        .expect("run refsan");
    let stderr = String::from_utf8_lossy(&call.stderr);
    assert_eq!(call.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("built for a debug interpreter") && stderr.contains("--python python3-dbg"),
        "{stderr}"
    );
    let suite = refsan_leaks(
        dir.path(),
        &pytest_under("python3", &[], &["test_mixed.py"]),
    );
    assert_eq!(suite.status, 2, "{:#}", suite.report);
    assert!(
        suite.report["setup_problems"]
            .to_string()
            .contains("built for a debug interpreter"),
        "{:#}",
        suite.report
    );
}

/// The harness itself on the oldest and newest supported interpreters.
#[test]
fn harness_works_on_python_3_8_to_3_13() {
    if !system_tests() {
        return;
    }
    let root = Command::new("pyenv").arg("root").output();
    let root = match root {
        Ok(output) if output.status.success() => {
            PathBuf::from(String::from_utf8_lossy(&output.stdout).trim())
        }
        _ => panic!("pyenv is missing: the harness must be tested on Python 3.8, 3.12 and 3.13"),
    };
    for minor in ["3.8", "3.12", "3.13"] {
        let version_dir = std::fs::read_dir(root.join("versions"))
            .expect("pyenv versions")
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .find(|path| {
                path.file_name()
                    .and_then(|name| name.to_str())
                    .is_some_and(|name| name.starts_with(&format!("{minor}.")))
            })
            .unwrap_or_else(|| panic!("pyenv has no Python {minor}: pyenv install {minor}"));
        let program = version_dir
            .join("bin")
            .join(format!("python{minor}"))
            .to_string_lossy()
            .into_owned();
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::copy(
            Path::new(FIXTURES).join("leakcheck.c"),
            dir.path().join("leakcheck.c"),
        )
        .expect("copy");
        compile_extension(&program, dir.path(), "leakcheck", &["leakcheck.c"]);
        let python = Interpreter {
            program: program.clone(),
            debug: false,
        };
        let calls = refsan_leaks(
            dir.path(),
            &[
                "--python",
                &program,
                "--call",
                "leakcheck:leak_new_list",
                "--call",
                "leakcheck:new_list_fixed",
            ],
        );
        assert_memory_leak(
            &python,
            target(&calls.report, "leakcheck:leak_new_list"),
            minor,
        );
        assert_clean(&calls.report, "leakcheck:new_list_fixed");
        let arguments = refsan_leaks(
            dir.path(),
            &[
                "--python",
                &program,
                "--args",
                "[]",
                "--call",
                "leakcheck:incref_argument",
                "--call",
                "leakcheck:decref_borrowed",
            ],
        );
        let increfs = target(&arguments.report, "leakcheck:incref_argument");
        assert_eq!(
            increfs["arguments"][0]["per_call"], 1.0,
            "{minor}: {increfs:#}"
        );
        let decrefs = target(&arguments.report, "leakcheck:decref_borrowed");
        assert_eq!(
            decrefs["arguments"][0]["per_call"], -1.0,
            "{minor}: {decrefs:#}"
        );

        // None is immortal from 3.12 on: mistakes on it cannot be seen.
        let immortal = refsan_leaks(
            dir.path(),
            &[
                "--python",
                &program,
                "--args",
                "None",
                "--call",
                "leakcheck:incref_argument",
            ],
        );
        let on_none = target(&immortal.report, "leakcheck:incref_argument");
        let pinned = minor != "3.8";
        assert_eq!(
            on_none["arguments"][0]["immortal"], pinned,
            "{minor}: {on_none:#}"
        );
        if pinned {
            assert_eq!(on_none["verdict"], "clean");
            assert!(on_none["notes"].to_string().contains("immortal"));
        } else {
            assert_eq!(on_none["verdict"], "leak");
        }
    }
}
