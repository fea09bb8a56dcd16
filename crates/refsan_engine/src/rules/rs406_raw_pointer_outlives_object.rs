use super::Verdict;
use crate::violation::{Dead, Kind, Violation};
use refsan_ir::ApiFacts;
use refsan_ir::{Precision, RuleMeta, Severity};

pub static META: RuleMeta = RuleMeta {
    code: "RS406",
    name: "raw-pointer-outlives-object",
    severity: Severity::Error,
    summary: "a `<PyObject*>` pointer kept (stored, returned, used) after the object it came from may be gone",
    doc: r#"# RS406 raw-pointer-outlives-object

## What it does
Finds raw `PyObject *` pointers taken with `<PyObject*>` from an object that
Cython releases before the pointer's last use: a temporary (the result of a
call or an expression), a variable that is reassigned, or a local variable
at the end of the function while the pointer was stored or returned.

## Why is this bad?
`<PyObject*>obj` does not take a reference. When Cython releases `obj`, the
object may be freed, and the raw pointer dangles: reading it is a
use-after-free, storing it in an attribute plants a crash for later.

## Example
```cython
cdef class Holder:
    cdef PyObject* _p
    def keep(self, name):
        self._p = <PyObject*>name.upper()     # the temporary dies here
```

Use instead: keep a reference (`cdef object` attribute), or take one
explicitly: `tmp = name.upper(); Py_INCREF(tmp); self._p = <PyObject*>tmp`
with a matching `Py_XDECREF` in `__dealloc__`.

## Known problems
A pointer kept alive by an object Cython cannot see (a C struct) may be reported.

## Options
None beyond rule selection.

## References
- https://cython.readthedocs.io/en/latest/src/userguide/language_basics.html#type-casting
"#,
    tags: &["cython", "use-after-free"],
    precision: Precision::Medium,
};

pub fn judge(v: &Violation, _facts: &dyn ApiFacts) -> Option<Verdict> {
    match &v.kind {
        Kind::DeadUse {
            value,
            access,
            cause: Dead::ReleasedByLanguage,
        } => {
            let what = super::rs103_use_after_release::use_text(access);
            Some(Verdict::new(
                format!("{value} is {what} after Cython released the object it points to"),
                format!("{value} is {what} here"),
                None,
            ))
        }
        Kind::LanguageReleasedStored { value } => Some(Verdict::new(
            format!("a raw pointer to {value} was stored, but Cython releases the object here: the stored pointer dangles"),
            format!("Cython releases {value} here"),
            Some("keep a reference of your own (Py_INCREF) for the stored pointer, or store an `object`".to_string()),
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use crate::test_support::check_pyx;

    #[test]
    fn pointer_kept_after_the_variable_is_reassigned() {
        check_pyx(
            "RS406",
            r#"
from cpython.object cimport PyObject

cdef extern from "items.h":
    void consume_raw(PyObject* o)

def keep_pointer_after_reassignment(obj):
    text = str(obj)
    cdef PyObject* p = <PyObject*>text
    text = None
    consume_raw(p)
  # ^^^^^^^^^^^^^^ RS406: after Cython released
"#,
        );
    }

    #[test]
    fn pointer_used_while_the_object_lives() {
        check_pyx(
            "RS406",
            r#"
from cpython.object cimport PyObject

cdef extern from "items.h":
    void consume_raw(PyObject* o)

def use_pointer(obj):
    text = str(obj)
    cdef PyObject* p = <PyObject*>text
    consume_raw(p)
    text = None
"#,
        );
    }
}
