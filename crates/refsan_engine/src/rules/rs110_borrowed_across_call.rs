use super::Verdict;
use crate::violation::{Kind, Violation};
use refsan_ir::ApiFacts;
use refsan_ir::{Precision, RuleMeta, Severity};

pub static META: RuleMeta = RuleMeta {
    code: "RS110",
    name: "borrowed-across-call",
    severity: Severity::Warning,
    summary: "a borrowed dict/list item used after a call that can run arbitrary Python code",
    doc: r#"# RS110 borrowed-across-call

## What it does
Finds borrowed references taken from a dict or list (`PyDict_GetItem`,
`PyList_GET_ITEM`...) that are used after a call that can run arbitrary
Python code (calling an object, `Py_DECREF` of another object, attribute
access, comparison) without first taking a reference of their own.

## Why is this bad?
Python code can mutate the container and drop the item: the borrowed
pointer then dangles. This is how many historic CPython crashes worked,
and why Python 3.13 added `PyDict_GetItemRef` and `PyList_GetItemRef`.

## Example
```c
    PyObject *cb = PyDict_GetItemWithError(self->handlers, key);  /* borrowed */
    if (cb == NULL) return NULL;
    PyObject *r = PyObject_CallNoArgs(self->on_call);             /* may mutate handlers */
    PyObject *r2 = PyObject_CallNoArgs(cb);                      /* cb may be freed */
```

Use instead: `PyDict_GetItemRef(self->handlers, key, &cb)` (3.13+) or
`Py_INCREF(cb)` right after the lookup, with a matching `Py_DECREF`.

## Known problems
Only items of dicts and lists (and the other volatile sources the knowledge base lists) used after a C-API call that can run Python code are reported; calls of the project's own functions are not yet taken to run Python code.

## Options
Ownership of functions refsan cannot see (defined in another file or library) can be stated in `[tool.refsan.functions]` (`returns`, `steals`, `fails`); otherwise calls to them are taken to borrow their arguments.

## References
- https://docs.python.org/3/c-api/dict.html#c.PyDict_GetItemRef
- https://peps.python.org/pep-0703/
"#,
    tags: &["reference-counting", "use-after-free"],
    precision: Precision::Medium,
};

pub fn judge(v: &Violation, _facts: &dyn ApiFacts) -> Option<Verdict> {
    let Kind::UsedAfterCodeRan { value, callee } = &v.kind else {
        return None;
    };
    Some(Verdict::new(
        format!("{value} is borrowed and used after `{callee}`, which can run Python code that may free it"),
        format!("{value} is used here"),
        Some(format!(
            "take a reference right after the lookup (`Py_INCREF({})`) or use the *Ref API",
            value.trim_matches('`')
        )),
    ))
}

#[cfg(test)]
mod tests {
    use crate::test_support::check_c;

    #[test]
    fn dict_item_used_after_a_call_that_runs_python_code() {
        check_c(
            "RS110",
            r#"
static PyObject *
describe(PyObject *self, PyObject *args)
{
    PyObject *d, *key;
    if (!PyArg_ParseTuple(args, "OO", &d, &key))
        return NULL;
    PyObject *value = PyDict_GetItemWithError(d, key);
    if (value == NULL)
        return NULL;
    PyObject *r = PyObject_Repr(key);
    if (r == NULL)
        return NULL;
    Py_DECREF(r);
    return PyObject_Str(value);
     //    ^^^^^^^^^^^^^^^^^^^ RS110: `PyObject_Repr`
}

static PyMethodDef methods[] = {
    {"describe", describe, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL}
};
"#,
        );
    }

    #[test]
    fn a_strong_reference_taken_right_after_the_lookup() {
        check_c(
            "RS110",
            r#"
static PyObject *
describe(PyObject *self, PyObject *args)
{
    PyObject *d, *key;
    if (!PyArg_ParseTuple(args, "OO", &d, &key))
        return NULL;
    PyObject *value = PyDict_GetItemWithError(d, key);
    if (value == NULL)
        return NULL;
    Py_INCREF(value);
    PyObject *r = PyObject_Repr(key);
    if (r == NULL) {
        Py_DECREF(value);
        return NULL;
    }
    Py_DECREF(r);
    PyObject *s = PyObject_Str(value);
    Py_DECREF(value);
    return s;
}

static PyMethodDef methods[] = {
    {"describe", describe, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL}
};
"#,
        );
    }
}
