use super::Verdict;
use crate::violation::{Kind, Release, Violation};
use refsan_ir::ApiFacts;
use refsan_ir::{RuleMeta, Severity};

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
"#,
};

pub fn judge(v: &Violation, _facts: &dyn ApiFacts) -> Option<Verdict> {
    let Kind::ReleasedBorrowed { value, why, by } = &v.kind else {
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
        format!("{value} is released but the function does not own it ({why})"),
        last,
        None,
    ))
}
