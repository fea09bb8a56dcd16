use refsan_ir::{RuleMeta, Severity};

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
"#,
};

pub fn message_null(name: &str, how: &str, why: &str) -> String {
    format!("{name} is NULL here ({why}) and is {how}")
}

pub fn message_maybe(name: &str, how: &str, why: &str) -> String {
    format!("{name} may be NULL ({why}) and is {how} without a check")
}
