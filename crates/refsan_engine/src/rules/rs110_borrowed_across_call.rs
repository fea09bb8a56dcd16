use super::Verdict;
use crate::violation::{BorrowSource, Kind, Violation};
use refsan_ir::ApiFacts;
use refsan_ir::{Precision, RuleMeta, Severity};

pub static META: RuleMeta = RuleMeta {
    code: "RS110",
    name: "borrowed-across-call",
    severity: Severity::Warning,
    summary: "a borrowed reference used after a call that can run Python code able to free it",
    doc: r#"# RS110 borrowed-across-call

## What it does
Finds borrowed references that Python code can free, used after a call that
can run Python code, without a reference of their own:
- items of dicts and lists (`PyDict_GetItem`, `PyList_GET_ITEM`,
  `PyDict_Next`, `PySequence_Fast_GET_ITEM`...), unless the container is one
  the function made and kept to itself;
- `sys` attributes (`PySys_GetObject`) and weak references' referents
  (`PyWeakref_GetObject`);
- fields of the project's object structs (`cb = self->callback`) that a
  function Python can call writes (a setter, a method, `tp_init`, which can
  run twice): Python code can rebind the field and free its old object.
  Fields written only by constructors and deallocators cannot change.

A call can run Python code when the knowledge base says so (calls,
comparisons, attribute access, hashing, iteration, imports...) or when it is a
function of the project that makes such a call, directly or through other
functions, in any file of the project.

## Why is this bad?
Python code can mutate the container, rebind the field or the `sys`
attribute, or drop the referent's last reference: the object is freed and the
borrowed pointer dangles. This is how many historic CPython crashes worked,
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
A reference is reported when it is used after the call, not when it is only
passed to it. `Py_DECREF` of another object (which can run `__del__`) and calls
through function pointers are not taken to run Python code. A field that
Python code rebinds through a writable `PyMemberDef` entry, rather than a
function of the project, is not seen as changing.

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
    let Kind::UsedAfterCodeRan {
        value,
        callee,
        via,
        source,
    } = &v.kind
    else {
        return None;
    };
    let runs = match via {
        Some(api) => format!("`{callee}`, which can run Python code (through `{api}`)"),
        None => format!("`{callee}`, which can run Python code"),
    };
    let bare = value.trim_matches('`');
    let (from, how, help) = match source {
        BorrowSource::Field(field) => (
            format!(" from {field}"),
            format!("that code can rebind {field} and free the object"),
            format!(
                "take a reference before the call (`Py_INCREF({bare})`, released after the last use), or read {field} again after it"
            ),
        ),
        BorrowSource::Api(api) => (
            format!(" from `{api}`"),
            match api.as_str() {
                a if a.contains("PySys_Get") => {
                    "that code can rebind the `sys` attribute and free the object".to_string()
                }
                a if a.starts_with("PyWeakref_") => {
                    "that code can drop the referent's last strong reference".to_string()
                }
                _ => "that code can remove it from its container and free it".to_string(),
            },
            format!("take a reference right after the lookup (`Py_INCREF({bare})`) or use the *Ref API"),
        ),
    };
    Some(Verdict::new(
        format!("{value} is borrowed{from} and used after {runs}; {how}"),
        format!("{value} is used here"),
        Some(help),
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
