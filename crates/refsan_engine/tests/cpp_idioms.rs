//! C++ written the way extension code is: overloaded helpers that check a
//! result and hand it back (`Require(PyObject *)` next to `Require(int)`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failing test

use refsan_engine::{check_module, CheckOptions};
use refsan_ir::{Finding, Language};

fn findings(source: &str) -> Vec<Finding> {
    let module = refsan_c::lower_file("t.cpp", source.as_bytes(), Language::Cpp);
    check_module(
        &module,
        refsan_capi::KnowledgeBase::builtin(),
        &CheckOptions::default(),
    )
    .findings
}

/// greenlet's `Require`: one overload returns the object it checked, the
/// other checks a status.
const REQUIRE: &str = r#"#include <Python.h>
#include <stdexcept>
namespace g {
    class PyErrOccurred : public std::runtime_error {
    public:
        PyErrOccurred() : std::runtime_error("") {}
    };
    static inline PyObject*
    Require(PyObject* p)
    {
        if (!p) {
            throw PyErrOccurred();
        }
        return p;
    }

    static inline void
    Require(const int retval)
    {
        if (retval < 0) {
            throw PyErrOccurred();
        }
    }
}
using namespace g;

static PyObject *
make_pair(PyObject *self, PyObject *arg)
{
    PyObject *t = Require(PyTuple_New(2));
    Require(PyTuple_SetItem(t, 0, Py_NewRef(arg)));
    Require(PyTuple_SetItem(t, 1, Py_NewRef(arg)));
    BODY
}

static PyMethodDef methods[] = {
    {"make_pair", make_pair, METH_O, NULL},
    {NULL, NULL, 0, NULL}
};
"#;

#[test]
fn the_overload_returning_an_object_hands_back_its_argument() {
    let good = REQUIRE.replace("BODY", "return t;");
    let all = findings(&good);
    assert!(all.is_empty(), "{all:#?}");
}

#[test]
fn a_reference_checked_by_the_overload_still_leaks_when_dropped() {
    let bad = REQUIRE.replace("BODY", "Py_RETURN_NONE;");
    let all = findings(&bad);
    assert_eq!(
        all.iter().map(|f| f.code).collect::<Vec<_>>(),
        ["RS101"],
        "{all:#?}"
    );
}

/// greenlet's getters and setters: a handler of the exception C++ code
/// threw after a Python exception was set returns the error value; the
/// exception is whatever the thrower left, not "none set".
const CATCH: &str = r#"#include <Python.h>
class PyErrOccurred {};
extern PyObject *run_of(PyObject *self);

static PyObject *
getrun(PyObject *self, void *closure)
{
    try {
        PyObject *r = run_of(self);
        if (r == NULL)
            throw PyErrOccurred();
        return r;
    }
    catch (const PyErrOccurred &) {
        return nullptr;
    }
}

static PyGetSetDef getsets[] = {
    {"run", (getter)getrun, NULL, NULL, NULL},
    {NULL}
};
"#;

#[test]
fn a_catch_handler_may_return_the_error_value_the_thrower_set_up() {
    let found = findings(CATCH);
    assert!(
        found.iter().all(|f| f.code != "RS109"),
        "{:?}",
        found
            .iter()
            .map(|f| (f.code, f.span.line))
            .collect::<Vec<_>>()
    );
}

/// A getter returning NULL outside any handler, where no exception is set
/// (`PyDict_GetItemString` found nothing), is reported: the getter's
/// contract holds.
#[test]
fn a_getter_returning_null_without_an_exception_is_reported() {
    let bad = CATCH
        .replace(
            "PyObject *r = run_of(self);",
            "PyObject *r = PyDict_GetItemString(self, \"run\");",
        )
        .replace(
            "        if (r == NULL)\n            throw PyErrOccurred();\n        return r;",
            "        if (r == NULL)\n            return NULL;\n        return Py_NewRef(r);",
        );
    let found = findings(&bad);
    assert!(
        found.iter().any(|f| f.code == "RS109" && f.span.line == 11),
        "{:?}",
        found
            .iter()
            .map(|f| (f.code, f.span.line))
            .collect::<Vec<_>>()
    );
}
