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

/// CPython's `inherit_slots` (Objects/typeobject.c): a type inherits each
/// slot its base defines and it does not. The slots are function pointers
/// and integers, in the type and in the method suites reached through it
/// (`type->tp_as_number->nb_add`, read through a temporary): which of them
/// the type had decides nothing about references. A new reference made
/// before them leaks at the end.
fn slot_inheritance(n: usize) -> String {
    let mut src = String::from(
        "#include <Python.h>\n\n\
         #define SLOTDEFINED(SLOT) (base->SLOT != 0 && (basebase == NULL || base->SLOT != basebase->SLOT))\n\
         #define COPYSLOT(SLOT) if (!type->SLOT && SLOTDEFINED(SLOT)) type->SLOT = base->SLOT\n\
         #define COPYNUM(SLOT) COPYSLOT(tp_as_number->SLOT)\n\n\
         static int\ninherit(PyTypeObject *type, PyTypeObject *base)\n{\n\
         \x20   PyTypeObject *basebase;\n\
         \x20   PyObject *doc = PyUnicode_FromString(type->tp_name);\n\
         \x20   if (doc == NULL)\n        return -1;\n\
         \x20   if (type->tp_as_number != NULL && base->tp_as_number != NULL) {\n\
         \x20       basebase = base->tp_base;\n\
         \x20       if (basebase->tp_as_number == NULL)\n            basebase = NULL;\n",
    );
    for i in 0..n {
        src.push_str(&format!("        COPYNUM(nb_slot{i});\n"));
    }
    src.push_str("    }\n    basebase = base->tp_base;\n");
    for slot in [
        "tp_repr",
        "tp_str",
        "tp_hash",
        "tp_call",
        "tp_getattro",
        "tp_setattro",
        "tp_iter",
        "tp_iternext",
        "tp_descr_get",
        "tp_descr_set",
        "tp_init",
        "tp_alloc",
        "tp_new",
        "tp_free",
        "tp_is_gc",
        "tp_finalize",
        "tp_richcompare",
        "tp_dictoffset",
    ] {
        src.push_str(&format!("    COPYSLOT({slot});\n"));
    }
    src.push_str("    return 0;\n}\n");
    src
}

#[test]
fn type_slots_that_are_no_objects_keep_no_states_apart() {
    let src = slot_inheritance(30);
    let module = refsan_c::lower_file("inherit.c", src.as_bytes(), refsan_ir::Language::C);
    let leaks = complete_analysis_leaks(&module);
    assert!(!leaks.is_empty(), "`doc` leaks at the end");
    assert!(leaks.iter().all(|m| m.contains("`doc`")), "{leaks:?}");
}
