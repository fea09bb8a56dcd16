use super::Verdict;
use crate::violation::{ErrorReturn, Kind, Violation};
use refsan_ir::ApiFacts;
use refsan_ir::{Precision, RuleMeta, Severity};

pub static META: RuleMeta = RuleMeta {
    code: "RS109",
    name: "error-without-exception",
    severity: Severity::Error,
    summary:
        "a Python-facing function returns NULL (or a slot returns -1) without an exception set",
    doc: r#"# RS109 error-without-exception

## What it does
Finds functions called by Python (methods, slots, module init) that
signal an error — return NULL, or -1 for int slots — on a path where no
exception is set: for example after `PyDict_GetItem` returned NULL, which
means "not found" and sets no exception.

## Why is this bad?
The interpreter expects an exception whenever a function reports failure.
Without one it raises `SystemError: error return without exception set`
(debug builds abort), and the real problem is lost.

## Example
```c
    PyObject *v = PyDict_GetItem(self->cache, key);
    if (v == NULL)
        return NULL;        /* no exception: PyDict_GetItem sets none */
```

Use instead: set an exception (`PyErr_SetObject(PyExc_KeyError, key)`)
before returning NULL, or use `PyDict_GetItemWithError` /
`PyDict_GetItemRef` and check `PyErr_Occurred()`.

## Known problems
An exception set by a helper defined in another file is not seen; such helpers are taken to set none.

## Options
Ownership of functions refsan cannot see (defined in another file or library) can be stated in `[tool.refsan.functions]` (`returns`, `steals`, `fails`); otherwise calls to them are taken to borrow their arguments.

## References
- https://docs.python.org/3/c-api/exceptions.html
- https://docs.python.org/3/c-api/intro.html#exceptions
"#,
    tags: &["exceptions"],
    precision: Precision::Medium,
};

pub fn judge(v: &Violation, _facts: &dyn ApiFacts) -> Option<Verdict> {
    let Kind::ErrorWithoutException { returns, role } = &v.kind else {
        return None;
    };
    Some(match returns {
        ErrorReturn::Null => Verdict::new(
            format!("returns NULL without an exception set ({role} must set one when it fails)"),
            "returns NULL here, no exception is set".to_string(),
            Some("set an exception (PyErr_SetString...) before returning NULL".to_string()),
        ),
        ErrorReturn::NegOne => Verdict::new(
            format!("returns -1 without an exception set ({role} must set one when it fails)"),
            "returns -1 here, no exception is set".to_string(),
            Some("set an exception before returning -1".to_string()),
        ),
    })
}

#[cfg(test)]
mod tests {
    use crate::test_support::check_c;

    #[test]
    fn null_returned_after_a_check_that_sets_nothing() {
        check_c(
            "RS109",
            r#"
static PyObject *
checked_len(PyObject *self, PyObject *obj)
{
    if (!PyUnicode_Check(obj))
        return NULL;
     // ^^^^^^^^^^^^ RS109: returns NULL without an exception
    return PyLong_FromSsize_t(PyUnicode_GET_LENGTH(obj));
}

static PyMethodDef methods[] = {
    {"checked_len", checked_len, METH_O, NULL},
    {NULL, NULL, 0, NULL}
};
"#,
        );
    }

    #[test]
    fn an_exception_is_set_first() {
        check_c(
            "RS109",
            r#"
static PyObject *
checked_len(PyObject *self, PyObject *obj)
{
    if (!PyUnicode_Check(obj)) {
        PyErr_SetString(PyExc_TypeError, "expected str");
        return NULL;
    }
    return PyLong_FromSsize_t(PyUnicode_GET_LENGTH(obj));
}

static PyMethodDef methods[] = {
    {"checked_len", checked_len, METH_O, NULL},
    {NULL, NULL, 0, NULL}
};
"#,
        );
    }
}
