use refsan_ir::{RuleMeta, Severity};

pub static META: RuleMeta = RuleMeta {
    code: "RS103",
    name: "use-after-release",
    severity: Severity::Error,
    summary:
        "a reference used or released again after the function dropped its last owned reference",
    doc: r#"# RS103 use-after-release

## What it does
Finds uses of an object after the function released its last reference to
it: dereferencing it, passing it to a function, returning it, or releasing
it a second time (double `Py_DECREF`). Also finds uses of a borrowed
reference after the container it was borrowed from was released.

## Why is this bad?
Once the last reference is gone the object is freed; its memory is reused.
Reading it returns garbage, writing it corrupts another object, and
releasing it twice corrupts the allocator. Debug builds fill freed memory
with 0xDD; release builds crash later, somewhere else.

## Example
```c
    PyObject *s = PyObject_Str(obj);
    if (s == NULL)
        return NULL;
    Py_DECREF(s);
    return PyUnicode_Concat(s, suffix);   /* `s` may already be freed */
```

Use instead: release the reference after its last use.
"#,
};

pub fn message_use(name: &str, what: &str) -> String {
    format!("{name} is {what} after it was released")
}

pub fn message_double(name: &str) -> String {
    format!("{name} is released twice")
}

pub fn message_owner_gone(name: &str, owner: &str) -> String {
    format!("{name} is used after {owner}, which it was borrowed from, was released")
}
