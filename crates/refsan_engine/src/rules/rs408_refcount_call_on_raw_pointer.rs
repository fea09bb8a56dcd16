use super::{finding, ModuleCx};
use refsan_ir::{Event, Finding, Origin, Precision, RuleMeta, Severity, StmtKind};

pub static META: RuleMeta = RuleMeta {
    code: "RS408",
    name: "refcount-call-on-raw-pointer",
    severity: Severity::Info,
    summary: "`Py_INCREF(p)`/`Py_DECREF(p)` on a raw `PyObject*` in Cython: `cpython.ref` declares them for `object`, so this does not compile",
    doc: r#"# RS408 refcount-call-on-raw-pointer

## What it does
Finds Cython calls of `Py_INCREF` or `Py_DECREF` (as cimported from
`cpython.ref`) with a raw `PyObject *` argument.

## Why is this bad?
`cpython.ref` declares `Py_INCREF(object o)` and `Py_DECREF(object o)`;
only the X variants and `Py_CLEAR` take `PyObject *`. Cython rejects the
call ("Cannot convert 'PyObject *' to Python object"). refsan analyses the
code as its author meant it — a reference count change on the pointer —
and says why it will not build.

## Example
```cython
from cpython.ref cimport Py_INCREF
cdef PyObject* p = get_item()
Py_INCREF(p)
```

Use instead: `Py_XINCREF(p)` (accepts `PyObject*`), `Py_INCREF(<object>p)`,
or declare your own `void Py_INCREF(PyObject*)` in a `cdef extern from
"Python.h"` block.

## Known problems
None known.

## Options
None beyond rule selection.

## References
- https://github.com/cython/cython/blob/master/Cython/Includes/cpython/ref.pxd
"#,
    tags: &["cython", "portability"],
    precision: Precision::VeryHigh,
};

pub fn check(cx: &ModuleCx<'_>, out: &mut Vec<Finding>) {
    let module = cx.module;
    for f in &module.functions {
        for b in &f.blocks {
            for s in &b.stmts {
                let is_marked =
                    matches!(&s.origin, Origin::Macro(m) if m == Origin::CYTHON_RAW_REFCOUNT);
                if !is_marked {
                    continue;
                }
                let (call, x) = match &s.kind {
                    StmtKind::Incref { .. } => ("Py_INCREF", "Py_XINCREF"),
                    StmtKind::Decref { .. } => ("Py_DECREF", "Py_XDECREF"),
                    _ => continue,
                };
                let msg = format!("`{call}` from `cpython.ref` takes an `object`; with a `PyObject*` argument this does not compile");
                out.push(finding(
                    &META,
                    s.span,
                    Some(&f.name),
                    msg.clone(),
                    vec![Event { span: s.span, message: msg }],
                    Some(format!("use `{x}(p)`, `{call}(<object>p)`, or declare `void {call}(PyObject*)` yourself")),
                ));
            }
        }
    }
}
