use super::{finding, slots, ModuleCx};
use refsan_ir::{Event, Finding, Precision, RuleMeta, Severity};

pub static META: RuleMeta = RuleMeta {
    code: "RS301",
    name: "dealloc-missing-release",
    severity: Severity::Error,
    summary: "tp_dealloc does not release a PyObject* member the type owns",
    doc: r#"# RS301 dealloc-missing-release

## What it does
For each type defined in the file (static `PyTypeObject`, `PyType_Spec`,
Cython `cdef class`), finds `PyObject *` members of the instance struct
that its `tp_dealloc` (or the helpers it calls, such as its `tp_clear`,
also when called through the type: `Py_TYPE(self)->tp_clear(self)`)
never releases. Weak-reference list fields are not owned and are skipped,
and so are members the module only ever fills with a borrowed reference
(a copy of another object's field or of a global, never INCREF'd:
`self->error = state->Error;`).

## Why is this bad?
Every instance leaks the objects its members refer to. For a type that is
created often (an iterator, a node) the leak is proportional to its use.

## Example
```c
typedef struct {
    PyObject_HEAD
    PyObject *name;
    PyObject *value;
} PairObject;

static void
Pair_dealloc(PairObject *self)
{
    Py_XDECREF(self->name);          /* `value` is never released */
    Py_TYPE(self)->tp_free((PyObject *)self);
}
```

Use instead: `Py_XDECREF(self->value);` as well (or `Py_CLEAR` in a
`tp_clear` that `tp_dealloc` calls).

## Known problems
Members released by a helper in another file are not seen: a `tp_dealloc` that only calls such helpers is not reported.

## Options
None beyond rule selection.

## References
- https://docs.python.org/3/c-api/typeobj.html#c.PyTypeObject.tp_dealloc
"#,
    tags: &["type-slots", "memory-leak"],
    precision: Precision::High,
};

pub fn check(cx: &ModuleCx<'_>, out: &mut Vec<Finding>) {
    let module = cx.module;
    for t in &module.type_defs {
        let Some((f, missing)) = slots::unhandled_members(cx, t, "tp_dealloc", |e| &e.released)
        else {
            continue;
        };
        for field in missing {
            let msg = format!(
                "`{}` (tp_dealloc of `{}`) never releases the `{}` member",
                f.name, t.name, field
            );
            out.push(finding(
                &META,
                f.name_span,
                Some(&f.name),
                msg,
                vec![Event {
                    span: f.name_span,
                    message: format!("`{field}` is not released on any path"),
                }],
                Some(format!(
                    "add `Py_XDECREF(self->{field});` (or Py_CLEAR in tp_clear)"
                )),
            ));
        }
    }
}
