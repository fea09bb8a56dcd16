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

/// `name` is a description like "`list`" or "the new reference from `PyLong_FromLong`".
pub fn message_return(name: &str) -> String {
    format!("{name} leaks: the function returns without releasing it")
}

pub fn message_overwrite(name: &str, var: &str) -> String {
    format!("{name} leaks: `{var}` is overwritten while it holds the only reference")
}

pub fn message_discarded(callee: &str) -> String {
    format!("the new reference returned by `{callee}` is discarded and leaks")
}

pub fn message_temp(callee: &str) -> String {
    format!("the new reference returned by `{callee}` is never released: it leaks")
}

pub fn message_extra_on_return(name: &str, extra: i16) -> String {
    if extra == 1 {
        format!("{name} leaks: it is returned with one reference too many")
    } else {
        format!("{name} leaks: it is returned with {extra} references too many")
    }
}

pub fn help(var: Option<&str>) -> Option<String> {
    var.map(|v| format!("release it with `Py_DECREF({v})` (or `Py_XDECREF`) on this path"))
}
