use super::Verdict;
use crate::violation::{Kind, Violation};
use refsan_ir::ApiFacts;
use refsan_ir::{RuleMeta, Severity};

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
"#,
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
