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
