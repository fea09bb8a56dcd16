//! The guard against silently dropped paths: the engine counts statements
//! the front-end's control flow reaches but no explored path did, when what
//! ruled them out is a guess of the model (a declared contract, the entry
//! state) rather than the code's own tests, constants, or facts (the
//! knowledge base, a summary of a helper that was followed through).
//!
//! On every fixture and bundled example the count is zero; a contract that
//! contradicts the code makes it count.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failing test

use refsan_engine::{check_module, CheckOptions};
use refsan_ir::{ArgEffect, Contract, ExcEffect, Failure, Language, Returns};
use std::path::{Path, PathBuf};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            sources(&p, out);
        } else if matches!(
            p.extension().and_then(|x| x.to_str()),
            Some("c" | "pyx" | "pxi")
        ) {
            out.push(p);
        }
    }
}

fn lower(path: &Path, source: &[u8]) -> refsan_ir::Module {
    let rel = path.to_string_lossy();
    if path.extension().is_some_and(|x| x == "c") {
        refsan_c::lower_file(&rel, source, Language::C)
    } else {
        refsan_cython::lower_file(&rel, source)
    }
}

#[test]
fn no_fixture_or_example_has_unreached_statements() {
    let root = workspace_root();
    let mut files = Vec::new();
    for d in ["tests/fixtures", "examples"] {
        sources(&root.join(d), &mut files);
    }
    files.sort();
    assert!(files.len() > 40, "fixtures found: {}", files.len());
    let mut bad = Vec::new();
    for f in &files {
        let source = std::fs::read(f).expect("read fixture");
        let module = lower(f, &source);
        let report = check_module(
            &module,
            refsan_capi::KnowledgeBase::builtin(),
            &CheckOptions::default(),
        );
        for (func, n, span) in &report.unreached {
            bad.push(format!(
                "{}:{}: {n} statements of `{func}`",
                f.display(),
                span.line
            ));
        }
    }
    assert!(bad.is_empty(), "unreached statements:\n{}", bad.join("\n"));
}

const HELPER_USER: &str = r#"
#include <Python.h>

int refresh(PyObject *cache);

static PyObject *
update(PyObject *self, PyObject *cache)
{
    int r = refresh(cache);
    if (r < 0) {
        return NULL;
    }
    if (r == 1) {
        PyObject *note = PyUnicode_FromString("refreshed");
        if (note == NULL) {
            return NULL;
        }
        Py_DECREF(note);
    }
    Py_RETURN_NONE;
}
"#;

fn unreached_with(contract: Option<Contract>) -> usize {
    let module = refsan_c::lower_file("update.c", HELPER_USER.as_bytes(), Language::C);
    let mut opts = CheckOptions::default();
    if let Some(c) = contract {
        opts.annotations.insert("refresh".to_string(), c);
    }
    let report = check_module(&module, refsan_capi::KnowledgeBase::builtin(), &opts);
    report.unreached.iter().map(|(_, n, _)| n).sum()
}

fn status_contract(failure: Failure) -> Contract {
    Contract {
        returns: Returns::NotObject,
        failure,
        args: vec![ArgEffect::Borrow],
        exc: ExcEffect::OnFailure,
        noreturn: false,
    }
}

#[test]
fn a_contract_that_rules_out_a_tested_value_is_counted() {
    // Unknown helper: any value, every statement is reached.
    assert_eq!(unreached_with(None), 0);
    // "Negative means an exception; anything else is a success": 1 is one.
    assert_eq!(unreached_with(Some(status_contract(Failure::Negative))), 0);
    // "-1 or 0" contradicts the code's `r == 1`: its block is counted.
    assert_eq!(unreached_with(Some(status_contract(Failure::NegOne))), 2);
}

#[test]
fn the_code_s_own_dead_tests_are_not_counted() {
    // A constant the code set, a repeated test, and a C-API fact decide
    // these branches: dead code as written, not paths the model dropped.
    let src = r#"
#include <Python.h>

static PyObject *
f(PyObject *self, PyObject *arg)
{
    PyObject *type, *value, *tb;
    char *buf = NULL;
    if (arg == NULL) {
        return NULL;
    }
    if (arg == NULL) {
        PyErr_SetString(PyExc_ValueError, "again");
        return NULL;
    }
    if (buf != NULL) {
        PyMem_Free(buf);
    }
    if (!PyErr_Occurred()) {
        Py_RETURN_NONE;
    }
    PyErr_Fetch(&type, &value, &tb);
    if (type == NULL) {
        return NULL;
    }
    PyErr_Restore(type, value, tb);
    return NULL;
}
"#;
    let module = refsan_c::lower_file("dead.c", src.as_bytes(), Language::C);
    let report = check_module(
        &module,
        refsan_capi::KnowledgeBase::builtin(),
        &CheckOptions::default(),
    );
    assert!(report.unreached.is_empty(), "{:?}", report.unreached);
}
