use super::Verdict;
use crate::violation::{Kind, ObjectCast, Violation};
use refsan_ir::ApiFacts;
use refsan_ir::{Precision, RuleMeta, Severity};

pub static META: RuleMeta = RuleMeta {
    code: "RS402",
    name: "incref-then-cast",
    severity: Severity::Error,
    summary: "Py_INCREF(p) followed by `<object>p` with no matching DECREF: counted twice, leaks",
    doc: r#"# RS402 incref-then-cast

## What it does
Finds Cython code that calls `Py_INCREF` on a borrowed `PyObject *` and
then casts it with `<object>`, without a matching `Py_DECREF`.

## Why is this bad?
`<object>p` already takes the reference the `object` variable needs. The
manual `Py_INCREF` adds a second one that nobody releases: the object (and
everything it refers to) leaks once per call.

## Example
```cython
cdef PyObject* p = get_global_item_borrowed()
if p != NULL:
    Py_XINCREF(p)                 # not needed
    obj = <object>p               # takes its own reference
```

Use instead: just `obj = <object>p` — the cast is the INCREF.

## Known problems
As RS401: the extern's ownership must be known.

## Options
Annotate extern declarations with `# refsan: returns new|borrowed`.

## References
- https://cython.readthedocs.io/en/latest/src/userguide/language_basics.html#type-casting
"#,
    tags: &["cython", "memory-leak"],
    precision: Precision::High,
};

/// Refines RS101: the lost reference is the user's `Py_INCREF` before an
/// `<object>` cast, which took its own.
pub fn judge(v: &Violation, _facts: &dyn ApiFacts) -> Option<Verdict> {
    let Kind::Lost {
        value,
        object_cast:
            Some(ObjectCast {
                new_from: None,
                after_incref: true,
            }),
        ..
    } = &v.kind
    else {
        return None;
    };
    let leak = super::rs101_leaked_reference::judge(v, _facts)?;
    Some(Verdict {
        message: format!("{value} is INCREF'd and then cast with `<object>`, which takes its own reference: the manual reference is never released"),
        ..leak
    })
}

#[cfg(test)]
mod tests {
    use crate::test_support::check_pyx;

    #[test]
    fn incref_then_cast_takes_two_references() {
        check_pyx(
            "RS402",
            r#"
from cpython.object cimport PyObject
from cpython.ref cimport Py_XINCREF

cdef extern from "items.h":
    PyObject* shared_item() nogil  # refsan: returns borrowed

def snapshot():
    cdef PyObject* raw = shared_item()
    if raw == NULL:
        return None
    Py_XINCREF(raw)
    item = <object>raw
    return repr(item)
  # ^^^^^^^^^^^^^^^^^ RS402: INCREF'd and then cast
"#,
        );
    }

    #[test]
    fn the_cast_alone_takes_the_reference() {
        check_pyx(
            "RS402",
            r#"
from cpython.object cimport PyObject

cdef extern from "items.h":
    PyObject* shared_item() nogil  # refsan: returns borrowed

def snapshot():
    cdef PyObject* raw = shared_item()
    if raw == NULL:
        return None
    item = <object>raw
    return repr(item)
"#,
        );
    }
}
