use super::Verdict;
use crate::violation::{Kind, Violation};
use refsan_ir::ApiFacts;
use refsan_ir::{Precision, RuleMeta, Severity};

pub static META: RuleMeta = RuleMeta {
    code: "RS104",
    name: "borrowed-returned",
    severity: Severity::Error,
    summary: "a function that must return a new reference returns a borrowed one",
    doc: r#"# RS104 borrowed-returned

## What it does
Finds functions that must return a new reference — methods and slots
called by Python, Argument Clinic implementations, functions whose other
paths return new references — returning a borrowed one instead: a
parameter, a `PyTuple_GET_ITEM`/`PyDict_GetItem` result, a global, or
`Py_None`/`Py_True`/`Py_False` without `Py_INCREF` (for target versions
before 3.12, where those singletons are not immortal).

It is an error when the C API says the reference is borrowed (a
knowledge-base function returned it or steals it, the interpreter passed
it to a method or slot, a static object or a singleton), and a warning
when only the project's own code implies it (an object's field, a global
pointer, a helper's parameter or what refsan inferred of a helper): a
transfer refsan does not see (a pop, a replaced slot, a helper keeping a
pointer that owns nothing) makes such code correct.

## Why is this bad?
The caller releases the reference it believes it received. The real owner
releases it too: the object is freed one release early, a use-after-free.
For `Py_None` the interpreter eventually reports a negative reference count
or deallocates None.

## Example
```c
static PyObject *
get_default(PyObject *self, PyObject *args)
{
    return Py_None;              /* borrowed */
}
```

Use instead: `Py_RETURN_NONE;`, `return Py_NewRef(obj);`, or
`Py_INCREF(obj); return obj;`.

## Known problems
Internal functions that return a borrowed reference by design are only held to "new reference" when Python calls them (method tables, slots) or when other paths return new references.

## Options
`--target-version` (or `requires-python`): before 3.12, `Py_None`, `Py_True` and `Py_False` need their own reference when returned; from 3.12 they are immortal and the finding is not made. Ownership of functions refsan cannot see (defined in another file or library) can be stated in `[tool.refsan.functions]` (`returns`, `steals`, `fails`); otherwise calls to them are taken to borrow their arguments.

## References
- https://docs.python.org/3/c-api/intro.html#reference-count-details
- https://peps.python.org/pep-0683/
"#,
    tags: &["reference-counting", "use-after-free"],
    precision: Precision::Medium,
};

pub fn judge(v: &Violation, _facts: &dyn ApiFacts) -> Option<Verdict> {
    let Kind::ReturnedBorrowed { value, why, basis } = &v.kind else {
        return None;
    };
    Some(Verdict::new(
        format!(
            "{value} is returned as a new reference, but it is borrowed ({})",
            super::why_on(why, *basis)
        ),
        format!("{value} is returned here"),
        Some(format!(
            "return a new reference: `return Py_NewRef({});`",
            value.trim_matches('`')
        )),
    ).on_basis(*basis))
}

#[cfg(test)]
mod tests {
    use crate::test_support::check_c;

    #[test]
    fn borrowed_item_and_singleton_returned() {
        check_c(
            "RS104",
            r#"
static PyObject *
get_first(PyObject *self, PyObject *list)
{
    if (!PyList_Check(list) || PyList_GET_SIZE(list) == 0)
        return Py_None;
     // ^^^^^^^^^^^^^^ RS104: `Py_None`
    PyObject *first = PyList_GET_ITEM(list, 0);
    return first;
 // ^^^^^^^^^^^^^ RS104: `first`
}

static PyMethodDef methods[] = {
    {"get_first", get_first, METH_O, NULL},
    {NULL, NULL, 0, NULL}
};
"#,
        );
    }

    #[test]
    fn a_new_reference_of_the_item() {
        check_c(
            "RS104",
            r#"
static PyObject *
get_first(PyObject *self, PyObject *list)
{
    if (!PyList_Check(list) || PyList_GET_SIZE(list) == 0)
        Py_RETURN_NONE;
    PyObject *first = PyList_GET_ITEM(list, 0);
    return Py_NewRef(first);
}
"#,
        );
    }
}
