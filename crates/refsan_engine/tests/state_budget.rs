//! Facts that cannot matter any more do not keep states apart: what dead
//! temporaries held (the NULL of each failed call on the way to the error
//! exit), or why a variable is NULL. A function made of many statements
//! that may raise stays within the state budget, and its bug is found.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failing test

use refsan_engine::{check_module, CheckOptions};

/// Checks the module, asserts that every function was analysed in full (no
/// function over budget, no statement left unreached) and returns the
/// messages of its RS101 findings.
fn complete_analysis_leaks(module: &refsan_ir::Module) -> Vec<String> {
    let report = check_module(
        module,
        refsan_capi::KnowledgeBase::builtin(),
        &CheckOptions::default(),
    );
    let notes: Vec<_> = report
        .notes
        .iter()
        .filter(|n| n.message.contains("approximately") || n.message.contains("no path"))
        .collect();
    assert!(notes.is_empty(), "{notes:?}");
    report
        .findings
        .iter()
        .filter(|f| f.code == "RS101")
        .map(|f| f.message.clone())
        .collect()
}

/// `n` statements that may each raise (an attribute read, an addition, an
/// append: Cython tests each result for NULL and goes to the function's
/// error exit), with a raw reference held across them that only the
/// normal path releases.
fn long_pyx(n: usize) -> String {
    let mut src = String::from(
        "from cpython.object cimport PyObject\nfrom cpython.ref cimport Py_XDECREF\n\n\
         cdef extern from \"Python.h\":\n    PyObject* PyObject_Repr(object o)  # refsan: returns new\n\n\
         def setup(obj, list lst):\n    cdef PyObject* r = PyObject_Repr(obj)\n    if r == NULL:\n        raise ValueError(\"no repr\")\n",
    );
    for i in 0..n {
        src.push_str(&format!("    lst.append(obj.a{i} + obj.b{i})\n"));
    }
    src.push_str("    Py_XDECREF(r)\n");
    src
}

#[test]
fn a_long_chain_of_fallible_statements_stays_within_budget() {
    let src = long_pyx(40);
    let module = refsan_cython::lower_file("setup.pyx", src.as_bytes());
    let leaks = complete_analysis_leaks(&module);
    assert!(
        !leaks.is_empty(),
        "the raw reference leaks when a statement raises"
    );
    assert!(leaks.iter().all(|m| m.contains("`r`")), "{leaks:?}");
}

/// `n` steps that each make a new reference in the same variable and may
/// fail on the way to one error exit, which releases it: each failing step
/// reaches the exit with the reference from another call, and lazily made
/// static strings stored on the first call only. The function holds a
/// borrowed-then-owned `acc` that the error exit forgets.
fn long_c(n: usize) -> String {
    let mut src = String::from(
        "#include <Python.h>\n\nstatic PyObject *\nbuild(PyObject *self, PyObject *args)\n{\n\
         static PyObject *open = NULL, *close = NULL;\n\
         PyObject *obj, *list, *x = NULL, *acc;\n\
         if (!PyArg_ParseTuple(args, \"OO\", &obj, &list))\n        return NULL;\n\
         if (open == NULL || close == NULL) {\n        open = PyUnicode_InternFromString(\"[\");\n\
         close = PyUnicode_InternFromString(\"]\");\n        if (open == NULL || close == NULL)\n            return NULL;\n    }\n\
         acc = PyList_New(0);\n    if (acc == NULL)\n        return NULL;\n",
    );
    for i in 0..n {
        src.push_str(&format!(
            "    x = PyObject_GetAttrString(obj, \"a{i}\");\n    if (x == NULL)\n        goto error;\n\
             \x20   if (PyList_Append(list, x) < 0)\n        goto error;\n    Py_CLEAR(x);\n"
        ));
    }
    src.push_str("    return acc;\nerror:\n    Py_XDECREF(x);\n    return NULL;\n}\n");
    src
}

#[test]
fn paths_that_differ_only_in_which_call_made_a_reference_share_a_state() {
    let src = long_c(40);
    let module = refsan_c::lower_file("build.c", src.as_bytes(), refsan_ir::Language::C);
    let leaks = complete_analysis_leaks(&module);
    assert!(!leaks.is_empty(), "`acc` leaks at the error exit");
    assert!(leaks.iter().all(|m| m.contains("`acc`")), "{leaks:?}");
}
