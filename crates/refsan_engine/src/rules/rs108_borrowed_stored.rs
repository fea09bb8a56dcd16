use super::Verdict;
use crate::violation::{Kind, Violation};
use refsan_ir::ApiFacts;
use refsan_ir::{Precision, RuleMeta, Severity};

pub static META: RuleMeta = RuleMeta {
    code: "RS108",
    name: "borrowed-stored",
    severity: Severity::Warning,
    summary: "a borrowed reference stored into a struct field, global or static without Py_INCREF",
    doc: r#"# RS108 borrowed-stored

## What it does
Finds borrowed references (parameters, borrowed results, globals) stored
into an object's field, a global or a static variable without taking a
reference first.

It is an error when the C API says the reference is borrowed (a
knowledge-base function returned it or steals it, the interpreter passed
it to a method or slot, a static object or a singleton), and a warning
when only the project's own code implies it (an object's field, a global
pointer, a helper's parameter or what refsan inferred of a helper): a
transfer refsan does not see (a pop, a replaced slot, a helper keeping a
pointer that owns nothing) makes such code correct.

## Why is this bad?
The stored pointer outlives the reference it was borrowed from. When the
real owner releases the object, the field dangles; the next access, or the
`Py_DECREF` in `tp_dealloc`, touches freed memory.

## Example
```c
static int
Foo_init(FooObject *self, PyObject *args, PyObject *kwds)
{
    PyObject *name;
    if (!PyArg_ParseTuple(args, "O", &name))
        return -1;
    self->name = name;           /* borrowed from args */
    return 0;
}
```

Use instead: `Py_XSETREF(self->name, Py_NewRef(name));`

## Known problems
A struct that lends a borrowed reference for a call's duration (a context on the stack) is recognised; one on the heap is not.

## Options
Ownership of functions refsan cannot see (defined in another file or library) can be stated in `[tool.refsan.functions]` (`returns`, `steals`, `fails`); otherwise calls to them are taken to borrow their arguments.

## References
- https://docs.python.org/3/c-api/intro.html#reference-count-details
"#,
    tags: &["reference-counting", "use-after-free"],
    precision: Precision::Medium,
};

pub fn judge(v: &Violation, _facts: &dyn ApiFacts) -> Option<Verdict> {
    let Kind::StoredBorrowed { value, place, why, basis } = &v.kind else {
        return None;
    };
    Some(Verdict::new(
        format!(
            "{value} is stored into `{place}` without Py_INCREF, but it is borrowed ({})",
            super::why_on(why, *basis)
        ),
        format!("{value} is stored here"),
        Some(format!("store a new reference: `{place} = Py_NewRef(...)`")),
    ).on_basis(*basis))
}

#[cfg(test)]
mod tests {
    use crate::test_support::check_c;

    #[test]
    fn borrowed_argument_kept_in_a_field() {
        check_c(
            "RS108",
            r#"
typedef struct {
    PyObject_HEAD
    PyObject *callback;
} Watcher;

static PyObject *
Watcher_set(Watcher *self, PyObject *args)
{
    PyObject *cb;
    if (!PyArg_ParseTuple(args, "O", &cb))
        return NULL;
    PyObject *old = self->callback;
    self->callback = cb;
 // ^^^^^^^^^^^^^^^^^^^ RS108: stored into `self->callback`
    Py_XDECREF(old);
    Py_RETURN_NONE;
}

static PyMethodDef Watcher_methods[] = {
    {"set", (PyCFunction)Watcher_set, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL}
};
"#,
        );
    }

    #[test]
    fn a_reference_of_its_own_is_stored() {
        check_c(
            "RS108",
            r#"
typedef struct {
    PyObject_HEAD
    PyObject *callback;
} Watcher;

static PyObject *
Watcher_set(Watcher *self, PyObject *args)
{
    PyObject *cb;
    if (!PyArg_ParseTuple(args, "O", &cb))
        return NULL;
    PyObject *old = self->callback;
    self->callback = cb;
    Py_INCREF(cb);
    Py_XDECREF(old);
    Py_RETURN_NONE;
}

static PyMethodDef Watcher_methods[] = {
    {"set", (PyCFunction)Watcher_set, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL}
};
"#,
        );
    }
}
