//! The conventions of `refsan check` users rely on, through the binary:
//! formats, standard input, excludes, fail levels, statistics, baselines,
//! suppression comments written and unused, selection, configuration.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failing test

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const LEAKY: &str = r#"#include <Python.h>

static PyObject *
pair(PyObject *self, PyObject *args)
{
    PyObject *list = PyList_New(0);
    if (list == NULL)
        return NULL;
    if (PyList_Append(list, args) < 0)
        return NULL;
    return list;
}

static PyMethodDef methods[] = {
    {"pair", pair, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL}
};
"#;

/// Returns `Py_None` without a reference: an error for Python before 3.12
/// only.
const NONE: &str = r#"#include <Python.h>

static PyObject *
nothing(PyObject *self, PyObject *arg)
{
    return Py_None;
}

static PyMethodDef methods[] = {
    {"nothing", nothing, METH_O, NULL},
    {NULL, NULL, 0, NULL}
};
"#;

struct Run {
    status: i32,
    stdout: String,
    stderr: String,
}

fn refsan(dir: &Path, args: &[&str], stdin: Option<&[u8]>) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_refsan"))
        .current_dir(dir)
        .args(args)
        .env_remove("FORCE_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or_default()).unwrap();
    drop(input);
    let out = child.wait_with_output().unwrap();
    Run {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A project directory with the given files.
fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in files {
        let full = dir.path().join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, text).unwrap();
    }
    dir
}

fn codes(json: &str) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_str(json).expect("JSON report");
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!(
                "{}:{}",
                f["path"].as_str().unwrap(),
                f["code"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn concise_lines_for_editors() {
    let p = project(&[("m.c", LEAKY)]);
    let run = refsan(
        p.path(),
        &["check", "--format", "concise", "-q", "m.c"],
        None,
    );
    assert_eq!(run.status, 1);
    assert_eq!(
        run.stdout,
        "m.c:10:9: warning: `list` leaks: the function returns without releasing it [RS101]\n"
    );
}

/// LEAKY's leak happens only when `PyList_Append` runs out of memory: a
/// warning by default, an error or nothing on request, from the command
/// line or pyproject.toml.
#[test]
fn out_of_memory_findings_follow_the_oom_setting() {
    let p = project(&[("m.c", LEAKY)]);
    let concise = |extra: &[&str]| {
        let mut args = vec!["check", "--format", "concise", "-q", "m.c"];
        args.extend_from_slice(extra);
        refsan(p.path(), &args, None)
    };
    let run = concise(&["--oom", "error"]);
    assert_eq!(run.status, 1);
    assert!(
        run.stdout.contains(": error: `list` leaks"),
        "{}",
        run.stdout
    );
    let run = concise(&["--oom", "ignore"]);
    assert_eq!((run.status, run.stdout.as_str()), (0, ""), "{}", run.stderr);
    let run = concise(&["--fail-level", "error"]);
    assert_eq!(
        run.status, 0,
        "a warning does not fail `--fail-level error`"
    );
    std::fs::write(
        p.path().join("pyproject.toml"),
        "[tool.refsan]\noom = \"ignore\"\n",
    )
    .unwrap();
    assert_eq!(concise(&[]).stdout, "");
    let run = concise(&["--oom", "warning"]);
    assert!(
        run.stdout.contains(": warning: `list` leaks"),
        "{}",
        run.stdout
    );
    let json = refsan(
        p.path(),
        &["check", "--format", "json", "--oom", "error", "m.c"],
        None,
    );
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["findings"][0]["trigger"], "oom");
    assert_eq!(v["findings"][0]["failing_call"]["name"], "PyList_Append");
    assert_eq!(v["findings"][0]["failing_call"]["line"], 9);
}

#[test]
fn standard_input_with_a_file_name() {
    let p = project(&[]);
    let run = refsan(
        p.path(),
        &[
            "check",
            "-",
            "--stdin-filename",
            "src/m.c",
            "--format",
            "json",
        ],
        Some(LEAKY.as_bytes()),
    );
    assert_eq!(run.status, 1, "{}", run.stderr);
    assert_eq!(codes(&run.stdout), ["src/m.c:RS101"]);
}

#[test]
fn default_excludes_and_force_exclude() {
    let p = project(&[
        ("src/m.c", LEAKY),
        ("build/gen.c", LEAKY),
        (".venv/x.c", LEAKY),
    ]);
    let run = refsan(p.path(), &["check", "--format", "json", "."], None);
    assert_eq!(codes(&run.stdout), ["src/m.c:RS101"]);
    // A file named on the command line is checked anyway...
    let run = refsan(
        p.path(),
        &["check", "--format", "json", "build/gen.c"],
        None,
    );
    assert_eq!(codes(&run.stdout), ["build/gen.c:RS101"]);
    // ...unless the excludes are forced (pre-commit, editors).
    let run = refsan(
        p.path(),
        &[
            "check",
            "--format",
            "json",
            "--force-exclude",
            "build/gen.c",
        ],
        None,
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    // --exclude replaces the defaults, --extend-exclude adds to them.
    let run = refsan(
        p.path(),
        &["check", "--format", "json", "--exclude", "src", "."],
        None,
    );
    // (Hidden directories such as .venv are never walked.)
    assert_eq!(codes(&run.stdout), ["build/gen.c:RS101"]);
    let run = refsan(
        p.path(),
        &["check", "--format", "json", "--extend-exclude", "src", "."],
        None,
    );
    // Nothing left to check is a usage error, with nothing on stdout.
    assert_eq!((run.status, run.stdout.as_str()), (2, ""));
    assert!(
        run.stderr.contains("no C, C++ or Cython source files"),
        "{}",
        run.stderr
    );
}

#[test]
fn fail_level_statistics_and_silence() {
    let p = project(&[(
        "m.pyx",
        "from cpython.object cimport PyObject\n\ndef f(x):\n    cdef PyObject* p = <PyObject*>x\n    return p.ob_refcnt\n",
    )]);
    let run = refsan(p.path(), &["check", "--format", "json", "m.pyx"], None);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let severities: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["severity"].as_str().unwrap())
        .collect();
    assert!(!severities.is_empty());
    let worst = if severities.contains(&"error") {
        "error"
    } else if severities.contains(&"warning") {
        "warning"
    } else {
        "info"
    };
    let above = match worst {
        "info" => "warning",
        _ => "error",
    };
    if worst != "error" {
        let run = refsan(p.path(), &["check", "--fail-level", above, "m.pyx"], None);
        assert_eq!(run.status, 0, "findings below the fail level pass");
    }
    let run = refsan(p.path(), &["check", "--fail-level", "info", "m.pyx"], None);
    assert_eq!(run.status, 1);
    let run = refsan(
        p.path(),
        &["check", "--statistics", "--format", "json", "m.pyx"],
        None,
    );
    let stats: serde_json::Value = serde_json::from_str(&run.stdout).expect("only JSON");
    assert!(stats
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["count"].as_u64() >= Some(1)));
    let run = refsan(
        p.path(),
        &["check", "-s", "--fail-level", "info", "m.pyx"],
        None,
    );
    assert_eq!(
        (run.status, run.stdout.as_str(), run.stderr.as_str()),
        (1, "", "")
    );
}

#[test]
fn a_baseline_reports_only_new_findings() {
    let p = project(&[("m.c", LEAKY)]);
    let run = refsan(
        p.path(),
        &["check", "--baseline", "base.json", "--write-baseline", "."],
        None,
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    let run = refsan(p.path(), &["check", "--baseline", "base.json", "."], None);
    assert_eq!(run.status, 0, "{}", run.stdout);
    // Code moved down: same finding, same fingerprint.
    std::fs::write(p.path().join("m.c"), format!("/* moved */\n\n{LEAKY}")).unwrap();
    let run = refsan(p.path(), &["check", "--baseline", "base.json", "."], None);
    assert_eq!(run.status, 0, "{}", run.stdout);
    // A new bug is reported.
    std::fs::write(p.path().join("n.c"), NONE).unwrap();
    let run = refsan(
        p.path(),
        &[
            "check",
            "--baseline",
            "base.json",
            "--format",
            "json",
            "--target-version",
            "3.8",
            ".",
        ],
        None,
    );
    assert_eq!(codes(&run.stdout), ["n.c:RS104"]);
}

#[test]
fn add_ignore_then_nothing_left_and_nothing_unused() {
    let p = project(&[("m.c", LEAKY)]);
    let run = refsan(p.path(), &["check", "--add-ignore", "m.c"], None);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("added 1 suppression comment"),
        "{}",
        run.stderr
    );
    let text = std::fs::read_to_string(p.path().join("m.c")).unwrap();
    assert!(
        text.contains("return NULL;  /* refsan: ignore[RS101] */"),
        "{text}"
    );
    let run = refsan(p.path(), &["check", "--fail-level", "info", "m.c"], None);
    assert_eq!(run.status, 0, "{}", run.stdout);
    // Once the bug is fixed the comment is reported as unused.
    let fixed = text.replace(
        "        return NULL;  /* refsan: ignore[RS101] */",
        "        { Py_DECREF(list); return NULL; }  /* refsan: ignore[RS101] */",
    );
    std::fs::write(p.path().join("m.c"), fixed).unwrap();
    let run = refsan(p.path(), &["check", "--format", "json", "m.c"], None);
    assert_eq!(codes(&run.stdout), ["m.c:RS900"]);
}

#[test]
fn target_version_from_requires_python_and_selection() {
    let p = project(&[
        (
            "old/pyproject.toml",
            "[project]\nrequires-python = \">=3.9\"\n[tool.refsan]\n",
        ),
        ("old/n.c", NONE),
        (
            "new/pyproject.toml",
            "[project]\nrequires-python = \">=3.12\"\n[tool.refsan]\n",
        ),
        ("new/n.c", NONE),
    ]);
    let run = refsan(p.path(), &["check", "--format", "json", "."], None);
    assert_eq!(codes(&run.stdout), ["old/n.c:RS104"]);
    let run = refsan(
        p.path(),
        &[
            "check", "--format", "json", "--select", "RS104", "--ignore", "RS1", "old",
        ],
        None,
    );
    assert_eq!(
        codes(&run.stdout),
        ["old/n.c:RS104"],
        "the more specific wins"
    );
    let run = refsan(
        p.path(),
        &[
            "check", "--format", "json", "--select", "RS1", "--ignore", "RS104", "old",
        ],
        None,
    );
    assert!(codes(&run.stdout).is_empty());
}

#[test]
fn explain_completions_and_sarif_root() {
    let p = project(&[("pkg/m.c", LEAKY), ("pkg/.git/HEAD", "")]);
    let run = refsan(p.path(), &["explain", "RT01"], None);
    assert!(run.stdout.starts_with("# RT01 freed-object-use"));
    let run = refsan(p.path(), &["completions", "bash"], None);
    assert!(run.stdout.contains("refsan"), "{}", run.stdout);
    // SARIF paths are relative to the repository root, from a subdirectory.
    let sub: PathBuf = p.path().join("pkg");
    std::fs::create_dir_all(sub.join("deep")).unwrap();
    let run = refsan(
        &sub.join("deep"),
        &["check", "--format", "sarif", ".."],
        None,
    );
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let location =
        &v["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"];
    assert_eq!(location["uri"], "m.c");
    assert_eq!(location["uriBaseId"], "%SRCROOT%");
    assert!(v["runs"][0]["originalUriBaseIds"]["%SRCROOT%"]["uri"]
        .as_str()
        .unwrap()
        .ends_with("/pkg/"));
}

#[test]
fn generated_and_api_free_files_are_skipped_and_counted() {
    let generated = format!("/* Generated by Cython 3.0.11 */\n{LEAKY}");
    let vendored = "#include <zlib.h>\nint pack(z_stream *s) { return deflate(s, Z_FINISH); }\n";
    let template = "{{py:\nnames = ['a', 'b']\n}}\n{{for name in names}}\ndef get_{{name}}(d):\n    return d[{{name}}]\n{{endfor}}\n";
    let p = project(&[
        ("pkg/_mod.c", &generated),
        ("pkg/vendor/zpack.c", vendored),
        ("pkg/m.c", NONE),
        ("pkg/tmpl.pyx.in", template),
    ]);
    let run = refsan(p.path(), &["check", "--target-version", "3.8", "pkg"], None);
    assert_eq!(run.status, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("in 1 of 2 files."),
        "the template and m.c are checked: {}",
        run.stdout
    );
    assert!(run
        .stdout
        .contains("Skipped 1 generated file (--include-generated to check them)."));
    assert!(run
        .stdout
        .contains("Skipped 1 C file that never uses the Python C API."));
    assert!(!run.stdout.contains("_mod.c:"), "{}", run.stdout);

    let json = refsan(p.path(), &["check", "--format", "json", "pkg"], None);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["summary"]["skipped"]["generated"], 1);
    assert_eq!(v["summary"]["skipped"]["no_python_api"], 1);

    // Asked for, the generated file is checked like any other.
    let all = refsan(
        p.path(),
        &["check", "--include-generated", "--format", "json", "pkg"],
        None,
    );
    assert!(codes(&all.stdout).contains(&"pkg/_mod.c:RS101".to_string()));
}

#[test]
fn a_cython_project_is_read_with_its_declarations() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/projects/cython_pkg");
    // The whole project, and each file alone: the same findings.
    let all = refsan(&root, &["check", "--format", "json", "."], None);
    let mut found = codes(&all.stdout);
    found.sort();
    assert_eq!(
        found,
        [
            "pkg/_walk.pxi:RS101",
            "pkg/nodes.pyx:RS101",
            "pkg/report.pyx:RS101"
        ]
    );
    for f in ["pkg/_walk.pxi", "pkg/nodes.pyx", "pkg/report.pyx"] {
        let one = refsan(&root, &["check", "--format", "json", f], None);
        assert_eq!(codes(&one.stdout), [format!("{f}:RS101")], "{}", one.stderr);
    }
    // From a subdirectory too.
    let sub = refsan(
        &root.join("pkg"),
        &["check", "--format", "json", "report.pyx"],
        None,
    );
    assert_eq!(codes(&sub.stdout), ["report.pyx:RS101"]);
}

#[test]
fn a_c_extension_is_read_with_its_headers_and_sibling_sources() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/projects/c_ext");
    let lines = |json: &str| -> Vec<String> {
        let v: serde_json::Value = serde_json::from_str(json).expect("JSON report");
        let mut out: Vec<String> = v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                format!(
                    "{}:{}:{}",
                    f["path"].as_str().unwrap(),
                    f["line"],
                    f["code"].as_str().unwrap()
                )
            })
            .collect();
        out.sort();
        out
    };
    // The leak of make_pair()'s result (pairs.c), of an aliased API call
    // (boxes.h), the member of a struct declared in boxes.h, and a field
    // borrowed across describe_into() (labels.c), which runs Python code;
    // the correct twins (a steal-on-success helper, one whose caller then
    // keeps a pointer, a sentinel-returning helper, a reference held
    // across the call) stay silent. A `static inline` helper of boxes.h that
    // passes its argument through (`checked()`) is analysed for its
    // callers: the dict it hands back and `count_keys` forgets leaks
    // (line 211), the tuple `empty_pair` returns does not.
    let want = [
        "src/boxes/module.c:115:RS301",
        "src/boxes/module.c:155:RS110",
        "src/boxes/module.c:16:RS101",
        "src/boxes/module.c:211:RS101",
        "src/boxes/module.c:49:RS101",
    ];
    let all = refsan(
        &root,
        &["check", "--no-config", "--format", "json", "."],
        None,
    );
    assert_eq!(lines(&all.stdout), want, "{}", all.stderr);
    let one = refsan(
        &root,
        &[
            "check",
            "--no-config",
            "--format",
            "json",
            "src/boxes/module.c",
        ],
        None,
    );
    assert_eq!(lines(&one.stdout), want, "{}", one.stderr);
    // Alone, without its project, the file shows none of them.
    let alone = project(&[(
        "module.c",
        &std::fs::read_to_string(root.join("src/boxes/module.c")).unwrap(),
    )]);
    let run = refsan(
        alone.path(),
        &["check", "--no-config", "--format", "json", "module.c"],
        None,
    );
    let alone_lines = lines(&run.stdout);
    for w in want {
        let here = w.trim_start_matches("src/boxes/");
        assert!(
            !alone_lines.iter().any(|l| l == here),
            "{here}: {}",
            run.stderr
        );
    }
}

#[test]
fn bad_c_context_gets_notes_and_the_run_goes_on() {
    let p = project(&[
        ("setup.py", ""),
        // Headers that include each other, one that does not parse.
        ("ext/a.h", "#include \"b.h\"\n#define A_NEW PyLong_FromLong\n"),
        ("ext/b.h", "#include \"a.h\"\ntypedef struct { int x; } B;\n"),
        ("ext/broken.h", "struct {{{ ((( \x00\x01 #define\n"),
        (
            "ext/m.c",
            "#include <Python.h>\n#include \"a.h\"\n#include \"broken.h\"\n#include \"missing.h\"\nstatic PyObject *f(PyObject *s, PyObject *a) {\n    PyObject *n = A_NEW(1);\n    if (n == NULL) return NULL;\n    if (PyList_Append(a, n) < 0) return NULL;\n    return n;\n}\n",
        ),
    ]);
    let run = refsan(
        p.path(),
        &["check", "--no-config", "--format", "json", "ext"],
        None,
    );
    assert_eq!(run.status, 1, "{}{}", run.stdout, run.stderr);
    // The alias a.h defines (read through the include cycle) is followed.
    assert_eq!(codes(&run.stdout), ["ext/m.c:RS101"], "{}", run.stderr);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    // The header that does not parse is named; a missing one is taken to
    // come from the compiler's search path.
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let notes: Vec<&str> = v["notes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n["message"].as_str())
        .collect();
    assert!(
        notes.iter().any(|n| n
            .starts_with("the header ext/broken.h has text refsan cannot parse (line 1)")),
        "{notes:?}"
    );
}

#[test]
fn bad_context_gets_notes_and_the_run_goes_on() {
    let big = format!(
        "/* Generated by Cython 3.0.11 */\n{}",
        "static int x_unused = 0;\n".repeat(30 * 1024 * 1024 / 26)
    );
    let p = project(&[
        ("pyproject.toml", "[project]\nname = \"p\"\n"),
        ("pkg/__init__.py", ""),
        // Includes that include each other.
        ("pkg/a.pxi", "include \"b.pxi\"\ncdef int fa(): return 1\n"),
        ("pkg/b.pxi", "include \"a.pxi\"\ncdef int fb(): return 2\n"),
        // A .pxd the parser cannot make sense of.
        ("pkg/broken.pxd", "cdef class (((:\n  ]] cdef extern from\n\x00\x01\n"),
        (
            "pkg/m.pyx",
            "include \"a.pxi\"\nfrom pkg.broken cimport Thing\nfrom pkg.missing cimport gone\n\ndef f(x):\n    return fa() + fb()\n",
        ),
        ("pkg/_gen.c", &big),
    ]);
    let run = refsan(p.path(), &["check", "--show-notes", "pkg"], None);
    assert_eq!(run.status, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("cimported module `pkg.missing` (in pkg/m.pyx) not found in the project"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("Skipped 1 generated file"),
        "{}",
        run.stdout
    );
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
}

#[test]
fn the_cache_gives_the_cold_findings_and_rechecks_what_changed() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/projects/c_ext");
    let read = |p: &str| std::fs::read_to_string(src.join(p)).unwrap();
    let other = "#include <Python.h>\n\nstatic PyObject *\nleaky(PyObject *self, PyObject *arg)\n{\n    PyObject *l = PyList_New(0);\n    Py_RETURN_NONE;\n}\n";
    let p = project(&[
        ("pyproject.toml", &read("pyproject.toml")),
        ("src/boxes/boxes.h", &read("src/boxes/boxes.h")),
        ("src/boxes/module.c", &read("src/boxes/module.c")),
        ("src/boxes/pairs.c", &read("src/boxes/pairs.c")),
        ("src/boxes/labels.c", &read("src/boxes/labels.c")),
        ("src/other.c", other),
    ]);
    let cache = p.path().join("the-cache");
    let cache_arg = cache.to_str().unwrap();
    let warm = || {
        refsan(
            p.path(),
            &[
                "check",
                "--no-config",
                "--format",
                "json",
                "-v",
                "--cache-dir",
                cache_arg,
                ".",
            ],
            None,
        )
    };
    let cold = || {
        refsan(
            p.path(),
            &[
                "check",
                "--no-config",
                "--format",
                "json",
                "--no-cache",
                ".",
            ],
            None,
        )
    };
    let counts = |r: &Run| -> (usize, usize) {
        let line = r
            .stderr
            .lines()
            .find(|l| l.contains("files checked"))
            .unwrap_or_else(|| panic!("no cache counts in: {}", r.stderr));
        let n: Vec<usize> = line
            .split_whitespace()
            .filter_map(|w| w.parse().ok())
            .collect();
        (n[0], n[1])
    };
    let first = warm();
    assert_eq!(counts(&first), (5, 0), "{}", first.stderr);
    assert_eq!(first.stdout, cold().stdout);
    assert!(cache.join(".gitignore").is_file());
    let again = warm();
    assert_eq!(counts(&again), (0, 5), "{}", again.stderr);
    assert_eq!(again.stdout, first.stdout);

    // A header changes: the files that include it are checked again, the
    // one that does not is not.
    let header = p.path().join("src/boxes/boxes.h");
    let text = std::fs::read_to_string(&header).unwrap();
    std::fs::write(&header, format!("{text}/* edited */\n")).unwrap();
    let edited = warm();
    assert_eq!(counts(&edited), (4, 1), "{}", edited.stderr);
    assert_eq!(edited.stdout, cold().stdout);

    // make_pair() now returns a borrowed reference: module.c, its caller,
    // is checked again and its leak of the pair is gone.
    let pairs = p.path().join("src/boxes/pairs.c");
    let text = std::fs::read_to_string(&pairs).unwrap();
    std::fs::write(
        &pairs,
        text.replace(
            "    PyObject *t = PyTuple_New(2);",
            "    return a;\n    PyObject *t = PyTuple_New(2);",
        ),
    )
    .unwrap();
    let callee = warm();
    assert_eq!(counts(&callee), (2, 3), "{}", callee.stderr);
    assert_eq!(callee.stdout, cold().stdout);
    let leaks_of_module = |json: &str| {
        codes(json)
            .iter()
            .filter(|c| *c == "src/boxes/module.c:RS101")
            .count()
    };
    assert_eq!(
        leaks_of_module(&callee.stdout) + 1,
        leaks_of_module(&edited.stdout),
        "{}",
        callee.stdout
    );
    assert_ne!(callee.stdout, edited.stdout);

    // A cache file that cannot be read, or that another build of refsan
    // wrote, is ignored and rewritten.
    let results = cache.join("results-v1.json");
    let text = std::fs::read_to_string(&results).unwrap();
    let foreign = text.replacen("\"build\":\"", "\"build\":\"another-", 1);
    assert_ne!(foreign, text);
    for junk in [
        b"\x00\xff not json".to_vec(),
        b"{\"format\": 1}".to_vec(),
        Vec::new(),
        foreign.into_bytes(),
    ] {
        std::fs::write(&results, junk).unwrap();
        let corrupt = warm();
        assert_eq!(counts(&corrupt), (5, 0), "{}", corrupt.stderr);
        assert_eq!(corrupt.stdout, callee.stdout);
        assert_eq!(counts(&warm()), (0, 5));
    }

    let clean = refsan(p.path(), &["clean", "--cache-dir", cache_arg], None);
    assert_eq!(clean.status, 0, "{}", clean.stderr);
    assert!(!cache.exists());
}
