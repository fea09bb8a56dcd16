use super::Verdict;
use crate::violation::{Kind, Violation};
use refsan_ir::ApiFacts;
use refsan_ir::{Precision, RuleMeta, Severity};

pub static META: RuleMeta = RuleMeta {
    code: "RS403",
    name: "managed-to-stealing",
    severity: Severity::Error,
    summary: "a Cython-managed object passed to a stealing function without Py_INCREF first: Cython will DECREF it again",
    doc: r#"# RS403 managed-to-stealing

## What it does
Finds Cython `object` variables (whose reference Cython manages) passed to
a function that steals a reference — `PyTuple_SET_ITEM`, `PyList_SET_ITEM`,
an extern declared or documented as stealing — without a `Py_INCREF`
first.

## Why is this bad?
The stealing function takes over the variable's reference, but Cython
still releases it when the variable goes out of scope: the object is
released once too often, a use-after-free that crashes later.

## Example
```cython
cdef extern from "lib.h":
    void process_item(PyObject* item)      # steals a reference

def send():
    data = {"key": "value"}
    process_item(<PyObject*>data)           # Cython DECREFs `data` again at exit
```

Use instead:
```cython
    Py_INCREF(data)
    process_item(<PyObject*>data)
```

## Known problems
Stealing functions declared in the project's own `.pxd` files are not read yet.

## Options
None beyond rule selection.

## References
- https://cython.readthedocs.io/en/latest/src/userguide/language_basics.html#python-objects-as-parameters-and-return-values
"#,
    tags: &["cython", "use-after-free"],
    precision: Precision::High,
};

pub fn judge(v: &Violation, _facts: &dyn ApiFacts) -> Option<Verdict> {
    let Kind::ReleasedAfterSteal {
        value,
        callee,
        by_language: true,
    } = &v.kind
    else {
        return None;
    };
    Some(Verdict::new(
        format!("{value} is managed by Cython, which releases it here, but `{callee}` already stole its reference"),
        format!("{value} is released here"),
        Some(format!(
            "`Py_INCREF({})` before passing it to `{callee}`",
            value.trim_matches('`')
        )),
    ))
}

#[cfg(test)]
mod tests {
    use crate::test_support::check_pyx;

    #[test]
    fn managed_object_given_to_a_stealing_call() {
        check_pyx(
            "RS403",
            r#"
from cpython.list cimport PyList_New, PyList_SET_ITEM

def singleton_list(x):
    value = [x]
    result = PyList_New(1)
    PyList_SET_ITEM(result, 0, value)
    return result
  # ^^^^^^^^^^^^^ RS403: `PyList_SET_ITEM` already stole
"#,
        );
    }

    #[test]
    fn incref_before_the_steal() {
        check_pyx(
            "RS403",
            r#"
from cpython.list cimport PyList_New, PyList_SET_ITEM
from cpython.ref cimport Py_INCREF

def singleton_list(x):
    value = [x]
    result = PyList_New(1)
    Py_INCREF(value)
    PyList_SET_ITEM(result, 0, value)
    return result
"#,
        );
    }
}
