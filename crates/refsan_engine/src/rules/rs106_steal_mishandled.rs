use super::Verdict;
use crate::violation::{Kind, Violation};
use refsan_ir::ApiFacts;
use refsan_ir::{Precision, RuleMeta, Severity};

pub static META: RuleMeta = RuleMeta {
    code: "RS106",
    name: "steal-mishandled",
    severity: Severity::Error,
    summary: "a reference used or released after it was stolen; PyModule_AddObject's contract handled wrongly",
    doc: r#"# RS106 steal-mishandled

## What it does
Finds references released (or stolen again) after a stealing API took
them, and mistakes with `PyModule_AddObject`, which steals the value only
when it succeeds: releasing the value after success, or forgetting to
release it after failure.

## Why is this bad?
After a steal, the container owns the reference. Releasing it again frees
the object while the container still points to it. `PyModule_AddObject`
is a classic trap: on failure the caller still owns the value and must
release it; on success it must not.

## Example
```c
    PyObject *v = PyLong_FromLong(42);
    if (PyModule_AddObject(m, "answer", v) < 0)
        return -1;               /* `v` leaks: not stolen on failure */
```

Use instead:
```c
    if (PyModule_AddObject(m, "answer", v) < 0) {
        Py_XDECREF(v);
        return -1;
    }
```
or, since Python 3.10, `PyModule_AddObjectRef` (never steals) followed by
`Py_DECREF(v)`, or since 3.13 `PyModule_Add` (always steals).

A reference kept in a global of the file and then handed to a stealing
call (`Error = PyErr_NewException(...); PyModule_AddObject(m, "Error",
Error)`) is a warning: nothing is released twice, but the global is left
a borrowed pointer that dangles once the module attribute is deleted or
replaced; give the call a reference of its own (`PyModule_AddObjectRef`).

## Known problems
`PyModule_AddObject`'s contract changed: its failure leaves the reference with the caller. Code written for `PyModule_AddObjectRef` or `PyModule_Add` (3.13) is read by their own contracts.

## Options
Ownership of functions refsan cannot see (defined in another file or library) can be stated in `[tool.refsan.functions]` (`returns`, `steals`, `fails`); otherwise calls to them are taken to borrow their arguments.

## References
- https://docs.python.org/3/c-api/module.html#c.PyModule_AddObject
- https://docs.python.org/3/c-api/module.html#c.PyModule_Add
"#,
    tags: &["reference-counting", "use-after-free", "memory-leak"],
    precision: Precision::Medium,
};

/// Claims releases after a steal (unless Cython inserted the release:
/// RS403), second steals, and leaks left by a steal-on-success call that
/// failed (refining RS101).
pub fn judge(v: &Violation, _facts: &dyn ApiFacts) -> Option<Verdict> {
    match &v.kind {
        Kind::ReleasedAfterSteal {
            value,
            callee,
            by_language: false,
        } => Some(Verdict::new(
            format!("{value} is released after `{callee}` stole its reference"),
            format!("{value} is released here"),
            None,
        )),
        Kind::StolenTwice {
            value,
            callee,
            global: Some(global),
        } => {
            // A hazard, not a double release: the object lives as long as
            // whoever took the reference keeps it.
            let mut verdict = Verdict::new(
                format!("`{callee}` takes the reference global `{global}` held ({value}): `{global}` is left a borrowed pointer, which dangles once the object's new owner lets it go (the module attribute is deleted or replaced)"),
                format!("`{callee}` takes {value} here"),
                Some(format!("give `{callee}` a reference of its own (`Py_NewRef({global})`, or `PyModule_AddObjectRef`)")),
            );
            verdict.severity = Some(Severity::Warning);
            Some(verdict)
        }
        Kind::StolenTwice { value, callee, .. } => Some(Verdict::new(
            format!("`{callee}` steals {value} again, but its reference was already given away"),
            format!("`{callee}` steals {value} here"),
            None,
        )),
        Kind::Lost {
            value,
            failed_steal_by: Some(callee),
            ..
        } => {
            // The leak's last event and help are RS101's.
            let leak = super::rs101_leaked_reference::judge(v, _facts)?;
            Some(Verdict {
                message: format!("{value} leaks: `{callee}` failed, so it did not steal the reference, and the caller still owns it"),
                ..leak
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use crate::test_support::check_c;

    #[test]
    fn add_object_steals_only_on_success() {
        check_c(
            "RS106",
            r#"
static int
exec_module(PyObject *m)
{
    PyObject *version = PyUnicode_FromString("1.0");
    if (version == NULL)
        return -1;
    if (PyModule_AddObject(m, "__version__", version) < 0)
        return -1;
     // ^^^^^^^^^^ RS106: did not steal
    PyObject *errors = PyDict_New();
    if (errors == NULL)
        return -1;
    if (PyModule_AddObject(m, "errors", errors) < 0) {
        Py_DECREF(errors);
        return -1;
    }
    Py_DECREF(errors);
 // ^^^^^^^^^^^^^^^^^ RS106: released after `PyModule_AddObject` stole
    return 0;
}

static PyModuleDef_Slot slots[] = {
    {Py_mod_exec, exec_module},
    {0, NULL}
};
"#,
        );
    }

    #[test]
    fn released_only_where_the_call_failed() {
        check_c(
            "RS106",
            r#"
static int
exec_module(PyObject *m)
{
    PyObject *version = PyUnicode_FromString("1.0");
    if (version == NULL)
        return -1;
    if (PyModule_AddObject(m, "__version__", version) < 0) {
        Py_DECREF(version);
        return -1;
    }
    return 0;
}

static PyModuleDef_Slot slots[] = {
    {Py_mod_exec, exec_module},
    {0, NULL}
};
"#,
        );
    }
}
