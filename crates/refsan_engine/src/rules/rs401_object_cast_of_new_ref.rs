use super::Verdict;
use crate::violation::{Kind, ObjectCast, Violation};
use refsan_ir::ApiFacts;
use refsan_ir::{Precision, RuleMeta, Severity};

pub static META: RuleMeta = RuleMeta {
    code: "RS401",
    name: "object-cast-of-new-ref",
    severity: Severity::Error,
    summary: "`<object>p` where p is a new reference that is never released: the cast takes its own reference, so one leaks",
    doc: r#"# RS401 object-cast-of-new-ref

## What it does
Finds Cython code that casts a raw `PyObject *` holding a *new* reference
to `object` (`<object>p`) and never releases the raw reference.

## Why is this bad?
`<object>p` does not take over the reference `p` holds: Cython INCREFs the
object for the `object` variable and releases only that reference when the
variable goes away. The new reference `p` came with is never released, so
every call leaks the object.

## Example
```cython
cdef extern from "lib.h":
    PyObject* create_new_item()        # returns a new reference

def make():
    cdef PyObject* p = create_new_item()
    if p == NULL:
        raise MemoryError()
    cdef object item = <object>p       # a second reference; `p`'s leaks
    return item
```

Use instead: declare the function as returning `object` (Cython then owns
the new reference and checks for NULL itself):
```cython
cdef extern from "lib.h":
    object create_new_item()
```
or release the raw reference after the cast with `Py_XDECREF(p)`.

## Known problems
The ownership of a `cdef extern` function's `PyObject*` result must be stated (`# refsan: returns new`), or refsan cannot tell a new reference from a borrowed one (see RS405).

## Options
Annotate extern declarations with `# refsan: returns new|borrowed`.

## References
- https://cython.readthedocs.io/en/latest/src/userguide/external_C_code.html
"#,
    tags: &["cython", "memory-leak"],
    precision: Precision::High,
};

/// Refines RS101: the lost reference is the one an `<object>` cast of a new
/// reference took.
pub fn judge(v: &Violation, _facts: &dyn ApiFacts) -> Option<Verdict> {
    let Kind::Lost {
        value,
        object_cast: Some(ObjectCast {
            new_from: Some(callee),
            ..
        }),
        ..
    } = &v.kind
    else {
        return None;
    };
    let leak = super::rs101_leaked_reference::judge(v, _facts)?;
    Some(Verdict {
        message: format!("{value} holds a new reference from `{callee}`; `<object>` takes a second one and only that one is released: the first leaks"),
        ..leak
    })
}

#[cfg(test)]
mod tests {
    use crate::test_support::check_pyx;

    #[test]
    fn cast_of_a_new_reference_leaks_it() {
        check_pyx(
            "RS4",
            r#"
from cpython.object cimport PyObject

cdef extern from "items.h":
    PyObject* make_item() nogil  # refsan: returns new

def use_item():
    cdef PyObject* raw = make_item()
    if raw == NULL:
        raise MemoryError()
    item = <object>raw
    return len(item)
  # ^^^^^^^^^^^^^^^^ RS401: `raw` holds a new reference from `make_item`
"#,
        );
    }

    #[test]
    fn declared_as_returning_object() {
        check_pyx(
            "RS4",
            r#"
cdef extern from "items.h":
    object make_item()

def use_item():
    item = make_item()
    return len(item)
"#,
        );
    }
}
