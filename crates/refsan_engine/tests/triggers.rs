//! What it takes for a finding's path to happen (`Trigger`): no failure, a
//! failure the caller can cause, or only running out of memory; and the
//! call whose failure the path needs. Written the way extension code is:
//! the failing call several statements after the reference is made, behind
//! a helper of the file, or one of several calls that can fail on the way
//! to the same exit.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failing test

use refsan_engine::{apply_oom, check_module, CheckOptions, OomFindings};
use refsan_ir::{Finding, Language, Severity, Trigger};

fn findings(source: &str) -> Vec<Finding> {
    let module = refsan_c::lower_file("t.c", source.as_bytes(), Language::C);
    check_module(
        &module,
        refsan_capi::KnowledgeBase::builtin(),
        &CheckOptions::default(),
    )
    .findings
}

/// The one finding of `code` in `function`.
fn only(source: &str, code: &str, function: &str) -> Finding {
    let all = findings(source);
    let mut of: Vec<Finding> = all
        .iter()
        .filter(|f| f.code == code && f.function.as_deref() == Some(function))
        .cloned()
        .collect();
    assert_eq!(of.len(), 1, "one {code} in {function}, got {all:#?}");
    of.remove(0)
}

fn failing(f: &Finding) -> Option<(&str, u32)> {
    f.failing_call
        .as_ref()
        .map(|c| (c.name.as_str(), c.span.line))
}

const APPEND: &str = r#"#include <Python.h>

static PyObject *
pair(PyObject *self, PyObject *arg)
{
    PyObject *list = PyList_New(0);
    if (list == NULL)
        return NULL;
    Py_INCREF(arg);
    if (PyList_Append(list, arg) < 0) {
        Py_DECREF(arg);
        return NULL;
    }
    Py_DECREF(arg);
    return list;
}
"#;

#[test]
fn a_leak_when_an_allocation_fails_needs_memory_to_run_out() {
    let f = only(APPEND, "RS101", "pair");
    assert_eq!(f.trigger, Trigger::Oom);
    assert_eq!(failing(&f), Some(("PyList_Append", 10)));
    assert_eq!(
        f.severity,
        Severity::Error,
        "the engine keeps the rule's severity"
    );
}

const AS_LONG: &str = r#"#include <Python.h>

static PyObject *
scaled(PyObject *self, PyObject *args)
{
    PyObject *factor;
    if (!PyArg_ParseTuple(args, "O", &factor))
        return NULL;
    PyObject *result = PyList_New(0);
    if (result == NULL)
        return NULL;
    long n = PyLong_AsLong(factor);
    if (n == -1 && PyErr_Occurred())
        return NULL;
    for (long i = 0; i < n; i++) {
        if (PyList_Append(result, Py_None) < 0) {
            Py_DECREF(result);
            return NULL;
        }
    }
    return result;
}
"#;

#[test]
fn a_leak_when_a_conversion_of_an_argument_fails_is_the_callers_doing() {
    let f = only(AS_LONG, "RS101", "scaled");
    assert_eq!(f.trigger, Trigger::Caller);
    assert_eq!(failing(&f), Some(("PyLong_AsLong", 12)));
}

/// The same exit is reached when the allocation of `name` fails and when
/// `PyObject_GetAttrString` fails: the finding tells the easier path.
const TWO_WAYS: &str = r#"#include <Python.h>

static PyObject *
describe(PyObject *self, PyObject *obj)
{
    PyObject *out = PyDict_New();
    if (out == NULL)
        return NULL;
    PyObject *name = PyUnicode_FromString("name");
    if (name == NULL)
        goto error;
    PyObject *value = PyObject_GetAttrString(obj, "name");
    if (value == NULL) {
        Py_DECREF(name);
        goto error;
    }
    if (PyDict_SetItem(out, name, value) < 0) {
        Py_DECREF(name);
        Py_DECREF(value);
        goto error;
    }
    Py_DECREF(name);
    Py_DECREF(value);
    return out;
error:
    return NULL;
}
"#;

#[test]
fn of_several_paths_to_one_leak_the_easiest_is_told() {
    let f = only(TWO_WAYS, "RS101", "describe");
    assert_eq!(f.trigger, Trigger::Caller);
    assert_eq!(failing(&f), Some(("PyObject_GetAttrString", 12)));
}

const NO_FAILURE: &str = r#"#include <Python.h>

static PyObject *
first_or_none(PyObject *self, PyObject *seq)
{
    PyObject *items = PySequence_List(seq);
    if (items == NULL)
        return NULL;
    if (PyList_GET_SIZE(items) == 0) {
        PyErr_SetString(PyExc_ValueError, "empty");
        return NULL;
    }
    PyObject *item = PyList_GET_ITEM(items, 0);
    Py_INCREF(item);
    Py_DECREF(items);
    return item;
}
"#;

#[test]
fn a_leak_on_an_input_the_code_is_written_for_needs_no_failure() {
    let f = only(NO_FAILURE, "RS101", "first_or_none");
    assert_eq!(f.trigger, Trigger::Always);
    assert_eq!(failing(&f), None);
}

/// A helper of the file that fails only when module set-up runs out of
/// memory: its failure in the caller is out of memory too. A helper that
/// fails on its argument is the caller's doing.
const HELPERS: &str = r#"#include <Python.h>

static int
add_constants(PyObject *m)
{
    if (PyModule_AddIntConstant(m, "ONE", 1) < 0)
        return -1;
    if (PyModule_AddStringConstant(m, "NAME", "x") < 0)
        return -1;
    return 0;
}

static int
check_positive(PyObject *n)
{
    if (!PyLong_Check(n)) {
        PyErr_SetString(PyExc_TypeError, "an int is required");
        return -1;
    }
    return 0;
}

static PyObject *
setup(PyObject *self, PyObject *m)
{
    PyObject *marker = PyList_New(0);
    if (marker == NULL)
        return NULL;
    if (add_constants(m) < 0)
        return NULL;
    return marker;
}

static PyObject *
checked(PyObject *self, PyObject *n)
{
    PyObject *marker = PyList_New(0);
    if (marker == NULL)
        return NULL;
    if (check_positive(n) < 0)
        return NULL;
    return marker;
}
"#;

#[test]
fn a_helper_failing_only_on_memory_passes_that_on() {
    let f = only(HELPERS, "RS101", "setup");
    assert_eq!(f.trigger, Trigger::Oom);
    assert_eq!(failing(&f), Some(("add_constants", 29)));
    let g = only(HELPERS, "RS101", "checked");
    assert_eq!(g.trigger, Trigger::Caller);
    assert_eq!(failing(&g), Some(("check_positive", 40)));
}

const DECODE: &str = r#"#include <Python.h>

static PyObject *
tagged(PyObject *self, PyObject *arg)
{
    const char *raw = PyBytes_AsString(arg);
    if (raw == NULL)
        return NULL;
    PyObject *pair = PyTuple_New(2);
    if (pair == NULL)
        return NULL;
    PyObject *tag = PyUnicode_FromString("tag");
    if (tag == NULL)
        return NULL;
    PyTuple_SET_ITEM(pair, 0, tag);
    PyObject *text = PyUnicode_FromString(raw);
    if (text == NULL)
        return NULL;
    PyTuple_SET_ITEM(pair, 1, text);
    return pair;
}
"#;

#[test]
fn decoding_a_literal_fails_only_on_memory_other_text_may_not_decode() {
    let f = only(DECODE, "RS101", "tagged");
    // Lost at lines 14 (the literal) and 18 (the caller's text): one
    // finding, at the first return, told by the easier path.
    assert_eq!(f.trigger, Trigger::Caller, "{f:#?}");
    assert_eq!(failing(&f), Some(("PyUnicode_FromString", 16)));
}

/// A call that always fails (`PyErr_Format`) is no condition of the path.
const RAISES: &str = r#"#include <Python.h>

static PyObject *
bounded(PyObject *self, PyObject *args)
{
    Py_ssize_t n;
    if (!PyArg_ParseTuple(args, "n", &n))
        return NULL;
    PyObject *out = PyList_New(n);
    if (out == NULL)
        return NULL;
    if (n > 10)
        return PyErr_Format(PyExc_ValueError, "too many: %zd", n);
    return out;
}
"#;

#[test]
fn raising_an_exception_is_no_failure_the_path_needs() {
    let f = only(RAISES, "RS101", "bounded");
    assert_eq!(f.trigger, Trigger::Always);
}

#[test]
fn out_of_memory_findings_are_warnings_by_default_or_dropped_on_request() {
    let all = findings(APPEND);
    let warned = apply_oom(all.clone(), OomFindings::default());
    assert!(warned
        .iter()
        .all(|f| f.trigger != Trigger::Oom || f.severity == Severity::Warning));
    assert_eq!(warned.len(), all.len());
    let kept = apply_oom(all.clone(), OomFindings::Error);
    assert_eq!(kept, all);
    let dropped = apply_oom(all.clone(), OomFindings::Ignore);
    assert!(dropped.iter().all(|f| f.trigger != Trigger::Oom));
    assert!(dropped.len() < all.len());
}

/// Modules/_io/iobase.c's `_PyIOBase_check_seekable`: once the code found
/// the result to be `Py_True`, releasing it and returning it is a hazard of
/// Python before 3.12 (True is never freed), not a use after free.
const SINGLETON: &str = r#"#include <Python.h>

static PyObject *
check_seekable(PyObject *self, PyObject *args)
{
    PyObject *res = PyObject_CallMethod(self, "seekable", NULL);
    if (res == NULL)
        return NULL;
    if (res != Py_True) {
        Py_CLEAR(res);
        PyErr_SetString(PyExc_OSError, "not seekable");
        return NULL;
    }
    if (args == Py_True) {
        Py_DECREF(res);
    }
    return res;
}

static PyObject *
released_then_returned(PyObject *self, PyObject *obj)
{
    PyObject *res = PyObject_Str(obj);
    if (res == NULL)
        return NULL;
    Py_DECREF(res);
    return res;
}

/* Modules/_ssl.c's _get_aia_uri: a helper lends Py_None as "nothing"
   and returns new references otherwise; its callers compare with Py_None. */
static PyObject *
uri_or_none(PyObject *names)
{
    if (PyList_GET_SIZE(names) == 0)
        return Py_None;
    return PyList_AsTuple(names);
}

static PyObject *
uris(PyObject *self, PyObject *names)
{
    PyObject *t = uri_or_none(names);
    if (t == NULL)
        return NULL;
    if (t == Py_None)
        Py_RETURN_NONE;
    return t;
}

static PyMethodDef methods[] = {
    {"uris", uris, METH_O, NULL},
    {"check_seekable", check_seekable, METH_O, NULL},
    {"released_then_returned", released_then_returned, METH_O, NULL},
    {NULL, NULL, 0, NULL}
};
"#;

#[test]
fn a_reference_to_a_value_found_to_be_a_singleton_is_a_hazard() {
    let f = only(SINGLETON, "RS103", "check_seekable");
    assert_eq!(f.severity, Severity::Warning);
    assert!(
        f.message.contains("`Py_True`, which is never freed"),
        "{}",
        f.message
    );
    let g = only(SINGLETON, "RS103", "released_then_returned");
    assert_eq!(g.severity, Severity::Error);
    let h = only(SINGLETON, "RS104", "uri_or_none");
    assert_eq!(h.severity, Severity::Warning, "{}", h.message);
}

/// Modules/_pickle.c's Pdata_push: the helper fails only where it raises
/// MemoryError (a size check, then PyErr_NoMemory), so a leak on its
/// failure needs memory to run out.
const NO_MEMORY: &str = r#"#include <Python.h>

typedef struct { PyObject **data; Py_ssize_t size, allocated; } Stack;

static int
stack_push(Stack *s, PyObject *obj)
{
    if (s->size == s->allocated) {
        if (s->allocated > PY_SSIZE_T_MAX / 2)
            goto nomemory;
        PyObject **data = PyMem_Realloc(s->data, 2 * s->allocated * sizeof(PyObject *));
        if (data == NULL)
            goto nomemory;
        s->data = data;
        s->allocated *= 2;
    }
    s->data[s->size++] = obj;
    return 0;
nomemory:
    PyErr_NoMemory();
    return -1;
}

static PyObject *
push_int(PyObject *self, PyObject *arg)
{
    Stack *s = (Stack *)PyCapsule_GetPointer(self, NULL);
    if (s == NULL)
        return NULL;
    PyObject *value = PyLong_FromLong(7);
    if (value == NULL)
        return NULL;
    if (stack_push(s, value) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyMethodDef stack_methods[] = {
    {"push_int", push_int, METH_O, NULL},
    {NULL, NULL, 0, NULL}
};
"#;

#[test]
fn a_path_that_raises_memory_error_is_out_of_memory() {
    let f = only(NO_MEMORY, "RS106", "push_int");
    assert_eq!(f.trigger, Trigger::Oom, "{f:#?}");
    assert_eq!(failing(&f), Some(("stack_push", 33)));
}

/// Objects/setobject.c's test_c_api: a failure the code asserts is what
/// always happens, so what follows is ranked by its own failures.
const ASSERTED_FAILURE: &str = r#"#include <Python.h>

static PyObject *
check_api(PyObject *ob, PyObject *Py_UNUSED(ignored))
{
    assert(PyFrozenSet_New(Py_None) == NULL);
    PyErr_Clear();
    assert(PyNumber_InPlaceOr(ob, ob) == ob);
    Py_DECREF(ob);
    PyObject *copy = PyList_New(0);
    Py_DECREF(copy);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"check_api", check_api, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL}
};
"#;

#[test]
fn a_failure_the_code_asserts_is_not_what_it_takes() {
    let all = findings(ASSERTED_FAILURE);
    assert_eq!(all.len(), 1, "{all:#?}");
    let f = only(ASSERTED_FAILURE, "RS107", "check_api");
    assert_eq!(f.trigger, Trigger::Oom, "{f:#?}");
    assert_eq!(failing(&f), Some(("PyList_New", 10)));
}
