use super::Verdict;
use crate::violation::{Access, Dead, Kind, Violation};
use refsan_ir::ApiFacts;
use refsan_ir::{Precision, RuleMeta, Severity};

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

## Known problems
A value kept alive by a container the function cannot see (a cache in module state) may be reported as used after its release.

## Options
Ownership of functions refsan cannot see (defined in another file or library) can be stated in `[tool.refsan.functions]` (`returns`, `steals`, `fails`); otherwise calls to them are taken to borrow their arguments.

## References
- https://docs.python.org/3/c-api/refcounting.html
"#,
    tags: &["reference-counting", "use-after-free"],
    precision: Precision::Medium,
};

/// Claims uses of a value whose object the function (or its container's
/// release) may have freed; RS406 takes those Cython released.
pub fn judge(v: &Violation, _facts: &dyn ApiFacts) -> Option<Verdict> {
    let Kind::DeadUse {
        value,
        access,
        cause,
    } = &v.kind
    else {
        return None;
    };
    let what = use_text(access);
    let (message, last) = match cause {
        Dead::OwnerGone { owner } => (
            format!("{value} is used after {owner}, which it was borrowed from, was released"),
            format!("{value} is {what} here"),
        ),
        Dead::Released if *access == Access::Release => (
            format!("{value} is released twice"),
            format!("{value} is released again here"),
        ),
        Dead::Released => (
            format!("{value} is {what} after it was released"),
            format!("{value} is {what} here"),
        ),
        Dead::ReleasedByLanguage => return None,
    };
    Some(Verdict::new(message, last, None))
}

/// How a dead value is used, as a past participle ("passed to `f`").
pub fn use_text(access: &Access) -> String {
    match access {
        Access::Incref => "INCREF'd".to_string(),
        Access::Release | Access::ReleaseBy(_) => "released".to_string(),
        Access::Deref => "used".to_string(),
        Access::Pass(callee) => format!("passed to `{callee}`"),
        Access::Store => "stored".to_string(),
        Access::Return => "returned".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use crate::test_support::check_c;

    #[test]
    fn use_and_second_release_after_the_last_reference_went() {
        check_c(
            "RS103",
            r#"
static PyObject *
describe(PyObject *self, PyObject *obj)
{
    PyObject *repr = PyObject_Repr(obj);
    if (repr == NULL)
        return NULL;
    Py_DECREF(repr);
    Py_ssize_t n = PyUnicode_GetLength(repr);
    //             ^^^^^^^^^^^^^^^^^^^^^^^^^^ RS103: passed to `PyUnicode_GetLength` after it was released
    return PyLong_FromSsize_t(n);
}

static PyObject *
twice(PyObject *self, PyObject *obj)
{
    PyObject *s = PyObject_Str(obj);
    if (s == NULL)
        return NULL;
    if (PyUnicode_GetLength(s) == 0) {
        Py_DECREF(s);
    }
    Py_DECREF(s);
 // ^^^^^^^^^^^^ RS103: released twice
    Py_RETURN_NONE;
}
"#,
        );
    }

    #[test]
    fn released_once_on_each_path() {
        check_c(
            "RS103",
            r#"
static PyObject *
once(PyObject *self, PyObject *obj)
{
    PyObject *s = PyObject_Str(obj);
    if (s == NULL)
        return NULL;
    if (PyUnicode_GetLength(s) == 0) {
        Py_DECREF(s);
        Py_RETURN_NONE;
    }
    Py_ssize_t n = PyUnicode_GetLength(s);
    Py_DECREF(s);
    return PyLong_FromSsize_t(n);
}
"#,
        );
    }
}
