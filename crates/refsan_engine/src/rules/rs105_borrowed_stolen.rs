use super::Verdict;
use crate::violation::{Kind, Violation};
use refsan_ir::ApiFacts;
use refsan_ir::{Precision, RuleMeta, Severity};

pub static META: RuleMeta = RuleMeta {
    code: "RS105",
    name: "borrowed-stolen",
    severity: Severity::Error,
    summary: "a borrowed reference handed to a stealing API without Py_INCREF",
    doc: r#"# RS105 borrowed-stolen

## What it does
Finds borrowed references passed to functions that steal a reference:
`PyTuple_SET_ITEM`, `PyList_SET_ITEM`, `PyTuple_SetItem`, `PyList_SetItem`,
`PyModule_AddObject` (on success), `PyModule_Add`, `PyErr_Restore`,
`PyException_SetCause`, and your own functions that steal.

It is an error when the C API says the reference is borrowed (a
knowledge-base function returned it or steals it, the interpreter passed
it to a method or slot, a static object or a singleton), and a warning
when only the project's own code implies it (an object's field, a global
pointer, a helper's parameter or what refsan inferred of a helper): a
transfer refsan does not see (a pop, a replaced slot, a helper keeping a
pointer that owns nothing) makes such code correct.

## Why is this bad?
The stealing function takes over a reference the caller never owned. When
the container is destroyed it releases that reference, one more time than
the object was INCREF'd: the object is freed while its real owner still
uses it.

## Example
```c
static PyObject *
wrap(PyObject *self, PyObject *arg)
{
    PyObject *t = PyTuple_New(1);
    if (t == NULL)
        return NULL;
    PyTuple_SET_ITEM(t, 0, arg);     /* `arg` is borrowed */
    return t;
}
```

Use instead: `PyTuple_SET_ITEM(t, 0, Py_NewRef(arg));`

## Known problems
A helper that steals its argument is recognised when its body does; one defined in another file is taken to borrow.

## Options
Ownership of functions refsan cannot see (defined in another file or library) can be stated in `[tool.refsan.functions]` (`returns`, `steals`, `fails`); otherwise calls to them are taken to borrow their arguments.

## References
- https://docs.python.org/3/c-api/intro.html#reference-count-details
- https://docs.python.org/3/c-api/tuple.html#c.PyTuple_SetItem
"#,
    tags: &["reference-counting", "use-after-free"],
    precision: Precision::Medium,
};

/// Claims borrowed references given to a stealing call (RS202 takes those
/// given to `Py_BuildValue`'s "N").
pub fn judge(v: &Violation, _facts: &dyn ApiFacts) -> Option<Verdict> {
    let Kind::StolenBorrowed { value, callee, why, basis } = &v.kind else {
        return None;
    };
    Some(Verdict::new(
        format!(
            "`{callee}` steals a reference to {value}, which is borrowed ({})",
            super::why_on(why, *basis)
        ),
        format!("`{callee}` steals {value} here"),
        Some(new_reference_help(value)),
    ).on_basis(*basis))
}

/// The help line of a borrowed reference handed to a stealing call.
pub fn new_reference_help(value: &str) -> String {
    format!(
        "pass a new reference: `Py_NewRef({})`",
        value.trim_matches('`')
    )
}

#[cfg(test)]
mod tests {
    use crate::test_support::check_c;

    #[test]
    fn borrowed_argument_handed_to_a_stealing_call() {
        check_c(
            "RS105",
            r#"
static PyObject *
wrap(PyObject *self, PyObject *args)
{
    PyObject *value;
    if (!PyArg_ParseTuple(args, "O", &value))
        return NULL;
    PyObject *result = PyTuple_New(1);
    if (result == NULL)
        return NULL;
    PyTuple_SET_ITEM(result, 0, value);
 // ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^ RS105: `PyTuple_SET_ITEM` steals
    return result;
}

static PyMethodDef methods[] = {
    {"wrap", wrap, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL}
};
"#,
        );
    }

    #[test]
    fn a_reference_of_its_own_is_handed_over() {
        check_c(
            "RS105",
            r#"
static PyObject *
wrap(PyObject *self, PyObject *args)
{
    PyObject *value;
    if (!PyArg_ParseTuple(args, "O", &value))
        return NULL;
    PyObject *result = PyTuple_New(1);
    if (result == NULL)
        return NULL;
    PyTuple_SET_ITEM(result, 0, Py_NewRef(value));
    return result;
}

static PyMethodDef methods[] = {
    {"wrap", wrap, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL}
};
"#,
        );
    }
}
