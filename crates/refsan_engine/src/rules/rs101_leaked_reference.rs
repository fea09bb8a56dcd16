use super::Verdict;
use crate::violation::{plain_name, Kind, Lost, Violation};
use refsan_ir::ApiFacts;
use refsan_ir::{RuleMeta, Severity};

pub static META: RuleMeta = RuleMeta {
    code: "RS101",
    name: "leaked-reference",
    severity: Severity::Error,
    summary:
        "an owned (new) reference is neither returned, stored, stolen nor released on some path",
    doc: r#"# RS101 leaked-reference

## What it does
Finds new references that the function owns and then loses on some path:
it returns, jumps to an error label, overwrites the variable, or discards
a call's result without releasing the reference, returning it, storing it
or handing it to a stealing API. Error paths are the usual place: a
`goto error` that skips a `Py_DECREF`, an early `return NULL`.

## Why is this bad?
The object's reference count never drops to zero: it and everything it
refers to stay in memory forever. In a function called in a loop the leak
grows without bound.

## Example
```c
static PyObject *
pair(PyObject *self, PyObject *args)
{
    PyObject *list = PyList_New(0);
    if (list == NULL)
        return NULL;
    if (PyList_Append(list, args) < 0)
        return NULL;            /* `list` leaks here */
    return list;
}
```

Use instead:
```c
    if (PyList_Append(list, args) < 0) {
        Py_DECREF(list);
        return NULL;
    }
```

## References
- https://docs.python.org/3/c-api/intro.html#reference-counts
"#,
};

/// Claims every lost reference the refining rules (RS106, RS401, RS402)
/// leave, discarded results, and references returned once too often.
pub fn judge(v: &Violation, _facts: &dyn ApiFacts) -> Option<Verdict> {
    match &v.kind {
        Kind::Lost { value, how, .. } => {
            let (message, last) = match how {
                Lost::Return => (
                    format!("{value} leaks: the function returns without releasing it"),
                    format!("{value} leaks here"),
                ),
                Lost::Overwrite { var } => (
                    format!(
                        "{value} leaks: `{var}` is overwritten while it holds the only reference"
                    ),
                    format!("`{var}` is overwritten here"),
                ),
                Lost::Temp { callee } => (
                    format!("the new reference returned by `{callee}` is never released: it leaks"),
                    "the reference is lost here".to_string(),
                ),
            };
            Some(Verdict::new(message, last, release_help(value)))
        }
        Kind::Discarded { callee } => Some(Verdict::new(
            format!("the new reference returned by `{callee}` is discarded and leaks"),
            format!("the result of `{callee}` is discarded here"),
            Some("keep the result and release it with Py_DECREF".to_string()),
        )),
        Kind::ReturnedWithExtra { value, extra } => {
            let message = if *extra == 1 {
                format!("{value} leaks: it is returned with one reference too many")
            } else {
                format!("{value} leaks: it is returned with {extra} references too many")
            };
            Some(Verdict::new(
                message,
                format!("{value} is returned here"),
                None,
            ))
        }
        _ => None,
    }
}

/// The help line of a leak: release the variable, when it has a name.
pub fn release_help(value: &str) -> Option<String> {
    plain_name(value)
        .map(|v| format!("release it with `Py_DECREF({v})` (or `Py_XDECREF`) on this path"))
}
