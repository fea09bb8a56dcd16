//! Every rule has a bad fixture (realistic code with the bug) and a good one
//! (the corrected code and the idioms that must stay quiet), in C under
//! tests/fixtures/c and, for the ownership and Cython rules, in Cython under
//! tests/fixtures/cython. The bad fixture must produce findings of its
//! rule, shown in a snapshot of the text report; the good fixture must
//! produce no finding at all. The Cython good fixtures hold the idioms that
//! are right (`object` return types, Py_INCREF before PyTuple_SET_ITEM,
//! Py_XDECREF/Py_CLEAR in `__dealloc__`, `<object>` on a borrowed pointer);
//! the Cython fixtures compile with Cython except where the mistake itself
//! is a compile error (noted in the file).

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

/// Where a language's fixtures live and how their snapshots are named.
#[derive(Clone, Copy)]
enum Lang {
    C,
    Cython,
}

impl Lang {
    fn path(self, stem: &str, kind: &str) -> String {
        match self {
            Lang::C => format!("tests/fixtures/c/{stem}_{kind}.c"),
            Lang::Cython => format!("tests/fixtures/cython/{stem}_{kind}.pyx"),
        }
    }

    fn snapshot(self, stem: &str) -> String {
        match self {
            Lang::C => format!("{stem}_bad"),
            Lang::Cython => format!("cython_{stem}_bad"),
        }
    }
}

fn check_bad(lang: Lang, stem: &str, code: &str) {
    let rel = lang.path(stem, "bad");
    let (status, json) = run_check(&rel, "json");
    let found = codes(&json);
    assert!(
        found.iter().any(|c| c == code),
        "{rel}: expected a {code} finding, got {found:?}"
    );
    assert_eq!(status, 1, "{rel}: exit status with findings");
    let (_, text) = run_check(&rel, "text");
    insta::assert_snapshot!(lang.snapshot(stem), text);
}

fn check_good(lang: Lang, stem: &str) {
    let rel = lang.path(stem, "good");
    let (status, json) = run_check(&rel, "json");
    let found = codes(&json);
    if !found.is_empty() {
        let (_, text) = run_check(&rel, "text");
        panic!("{rel}: expected no findings, got {found:?}\n{text}");
    }
    assert_eq!(status, 0, "{rel}: exit status without findings");
}

macro_rules! fixtures {
    ($lang:expr; $($stem:ident => $code:literal),* $(,)?) => {
        mod bad {
            $( #[test] fn $stem() { crate::check_bad($lang, stringify!($stem), $code); } )*
        }
        mod good {
            $( #[test] fn $stem() { crate::check_good($lang, stringify!($stem)); } )*
        }
    };
}

mod c {
    fixtures! {
        crate::Lang::C;
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
}

mod cython {
    fixtures! {
        crate::Lang::Cython;
        rs101 => "RS101",
        rs102 => "RS102",
        rs103 => "RS103",
        rs104 => "RS104",
        rs105 => "RS105",
        rs106 => "RS106",
        rs107 => "RS107",
        rs108 => "RS108",
        rs401 => "RS401",
        rs402 => "RS402",
        rs403 => "RS403",
        rs404 => "RS404",
        rs405 => "RS405",
        rs406 => "RS406",
        rs407 => "RS407",
        rs408 => "RS408",
    }
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
