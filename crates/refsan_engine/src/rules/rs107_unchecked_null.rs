use super::Verdict;
use crate::violation::{Access, Basis, Kind, Violation};
use refsan_ir::ApiFacts;
use refsan_ir::{Precision, RuleMeta, Severity};

pub static META: RuleMeta = RuleMeta {
    code: "RS107",
    name: "unchecked-null",
    severity: Severity::Error,
    summary: "a result that can be NULL is dereferenced, INCREF/DECREF'd or passed to an API before a NULL check",
    doc: r#"# RS107 unchecked-null

## What it does
Finds values that are NULL on some path — the result of a call that
failed, a variable initialised to NULL and not yet assigned, an output of
`PyErr_Fetch` — being dereferenced, given to `Py_INCREF`/`Py_DECREF`
(rather than the X variants), or passed to a C-API function that does not
accept NULL.

A field of an object that one method or setter sets to NULL (`close()`
doing `Py_CLEAR(self->file)`) may be NULL in every other method: using it
there without a NULL check is a warning, unless the method tests a state
flag the type's methods write (`if (self->closed)`, `CHECK_INITIALIZED`).

## Why is this bad?
Most C-API functions return NULL when they fail (out of memory, a Python
exception). Using the result unchecked turns an ordinary Python exception
into a segmentation fault.

## Example
```c
    PyObject *key = PyUnicode_FromString(name);
    PyObject *value = PyDict_GetItemWithError(dict, key);   /* key may be NULL */
    Py_DECREF(key);
```

Use instead: check every result (`if (key == NULL) goto error;`) and use
`Py_XDECREF` on cleanup paths where the variable may still be NULL.

## Known problems
A call that fails only on an argument the function already validated is still reported when the knowledge base says it can fail; `PyTuple_GetItem` after a size check is a known false positive.

## Options
Ownership of functions refsan cannot see (defined in another file or library) can be stated in `[tool.refsan.functions]` (`returns`, `steals`, `fails`); otherwise calls to them are taken to borrow their arguments.

## References
- https://docs.python.org/3/c-api/exceptions.html
- https://docs.python.org/3/c-api/intro.html#exceptions
"#,
    tags: &["null-dereference"],
    precision: Precision::Medium,
};

pub fn judge(v: &Violation, _facts: &dyn ApiFacts) -> Option<Verdict> {
    let (message, value, access, basis) = match &v.kind {
        Kind::NullUsed { value, access, why } => {
            let how = access_text(access);
            (
                format!("{value} is NULL here ({why}) and is {how}"),
                value,
                access,
                Basis::Stated,
            )
        }
        Kind::MaybeNullUsed {
            value,
            access,
            why,
            basis,
        } => {
            let how = access_text(access);
            (
                format!("{value} may be NULL ({why}) and is {how} without a check"),
                value,
                access,
                *basis,
            )
        }
        _ => return None,
    };
    Some(
        Verdict::new(
            message,
            format!("{value} is {} here", access_text(access)),
            Some("check for NULL first, or use the Py_X* variant".to_string()),
        )
        .on_basis(basis),
    )
}

/// How a NULL value is accessed, as a past participle.
fn access_text(access: &Access) -> String {
    match access {
        Access::Incref => "INCREF'd".to_string(),
        Access::Release => "released".to_string(),
        Access::ReleaseBy(name) | Access::Pass(name) => format!("passed to `{name}`"),
        Access::Deref => "dereferenced".to_string(),
        Access::Store => "stored".to_string(),
        Access::Return => "returned".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use crate::test_support::check_c;

    #[test]
    fn a_failed_call_s_null_reaches_a_use() {
        check_c(
            "RS107",
            r#"
static PyObject *
length_of_repr(PyObject *self, PyObject *obj)
{
    PyObject *repr = PyObject_Repr(obj);
    Py_ssize_t n = PyUnicode_GetLength(repr);
    //             ^^^^^^^^^^^^^^^^^^^^^^^^^ RS107: `PyObject_Repr` returned NULL
    Py_XDECREF(repr);
    return PyLong_FromSsize_t(n);
}

static PyMethodDef methods[] = {
    {"length_of_repr", length_of_repr, METH_O, NULL},
    {NULL, NULL, 0, NULL}
};
"#,
        );
    }

    #[test]
    fn checked_first() {
        check_c(
            "RS107",
            r#"
static PyObject *
length_of_repr(PyObject *self, PyObject *obj)
{
    PyObject *repr = PyObject_Repr(obj);
    if (repr == NULL)
        return NULL;
    Py_ssize_t n = PyUnicode_GetLength(repr);
    Py_DECREF(repr);
    return PyLong_FromSsize_t(n);
}
"#,
        );
    }
}
