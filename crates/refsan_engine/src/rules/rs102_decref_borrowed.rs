use super::Verdict;
use crate::violation::{Kind, Release, Violation};
use refsan_ir::ApiFacts;
use refsan_ir::{Precision, RuleMeta, Severity};

pub static META: RuleMeta = RuleMeta {
    code: "RS102",
    name: "decref-borrowed",
    severity: Severity::Error,
    summary: "Py_DECREF/XDECREF/CLEAR/SETREF of a reference the function does not own",
    doc: r#"# RS102 decref-borrowed

## What it does
Finds releases (`Py_DECREF`, `Py_XDECREF`, `Py_CLEAR`, `Py_SETREF`) of
references the function does not own: its parameters, borrowed results
(`PyList_GetItem`, `PyTuple_GET_ITEM`, `PyDict_GetItem`, `PyArg_ParseTuple`
"O" outputs), or a reference it already handed to a field or out pointer.

It is an error when the C API says the reference is borrowed (a
knowledge-base function returned it or steals it, the interpreter passed
it to a method or slot, a static object or a singleton), and a warning
when only the project's own code implies it (an object's field, a global
pointer, a helper's parameter or what refsan inferred of a helper): a
transfer refsan does not see (a pop, a replaced slot, a helper keeping a
pointer that owns nothing) makes such code correct.

## Why is this bad?
The owner of the reference will release it again later. The object is
freed while still in use: a use-after-free that usually crashes far from
the mistake (often in the garbage collector or at interpreter exit).

## Example
```c
static PyObject *
first(PyObject *self, PyObject *args)
{
    PyObject *item = PyTuple_GetItem(args, 0);   /* borrowed */
    if (item == NULL)
        return NULL;
    PyObject *r = PyObject_Repr(item);
    Py_DECREF(item);            /* not ours to release */
    return r;
}
```

Use instead: drop the `Py_DECREF(item)`; or `Py_INCREF(item)` first if
the function needs a reference of its own.

## Known problems
A release balanced by an increment in a macro from a header refsan does not read can be reported; such macros named in capitals stop the tracking of what they are given.

## Options
Ownership of functions refsan cannot see (defined in another file or library) can be stated in `[tool.refsan.functions]` (`returns`, `steals`, `fails`); otherwise calls to them are taken to borrow their arguments.

## References
- https://docs.python.org/3/c-api/intro.html#reference-count-details
- https://docs.python.org/3/c-api/refcounting.html
"#,
    tags: &["reference-counting", "use-after-free"],
    precision: Precision::Medium,
};

pub fn judge(v: &Violation, _facts: &dyn ApiFacts) -> Option<Verdict> {
    let Kind::ReleasedBorrowed { value, why, by, basis } = &v.kind else {
        return None;
    };
    let last = match by {
        Release::Decref => format!("{value} is released here"),
        Release::SlotStillRefers => {
            format!("{value} is released here, but its container still refers to it")
        }
        Release::ReplacedBy { callee } => format!("`{callee}` releases {value} here"),
    };
    Some(Verdict::new(
        format!(
            "{value} is released but the function does not own it ({})",
            super::why_on(why, *basis)
        ),
        last,
        None,
    ).on_basis(*basis))
}

#[cfg(test)]
mod tests {
    use crate::test_support::check_c;

    #[test]
    fn release_of_a_borrowed_item_and_of_a_parameter() {
        check_c(
            "RS102",
            r#"
static PyObject *
first_name(PyObject *self, PyObject *args)
{
    PyObject *item = PyTuple_GetItem(args, 0);
    if (item == NULL)
        return NULL;
    PyObject *name = PyObject_Str(item);
    Py_DECREF(item);
 // ^^^^^^^^^^^^^^^ RS102: borrowed reference, line 5
    return name;
}

static PyObject *
forget(PyObject *self, PyObject *arg)
{
    if (arg == Py_None)
        Py_RETURN_NONE;
    Py_DECREF(arg);
 // ^^^^^^^^^^^^^^ RS102: parameters are borrowed
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"first_name", first_name, METH_VARARGS, NULL},
    {"forget", forget, METH_O, NULL},
    {NULL, NULL, 0, NULL}
};
"#,
        );
    }

    #[test]
    fn a_reference_of_its_own_may_be_released() {
        check_c(
            "RS102",
            r#"
static PyObject *
first_name(PyObject *self, PyObject *args)
{
    PyObject *item = PyTuple_GetItem(args, 0);
    if (item == NULL)
        return NULL;
    Py_INCREF(item);
    PyObject *name = PyObject_Str(item);
    Py_DECREF(item);
    return name;
}
"#,
        );
    }
}
