use super::{finding, slots, ModuleCx};
use refsan_ir::{Event, Finding, Precision, RuleMeta, Severity, TypeDefKind};

pub static META: RuleMeta = RuleMeta {
    code: "RS304",
    name: "heaptype-dealloc-type-ref",
    severity: Severity::Error,
    summary: "heap type (PyType_FromSpec) tp_dealloc does not Py_DECREF(Py_TYPE(self))",
    doc: r#"# RS304 heaptype-dealloc-type-ref

## What it does
For each heap type created from a `PyType_Spec`, checks that its
`tp_dealloc` releases the reference every instance holds to its type:
`Py_DECREF(Py_TYPE(self))` after freeing the object.

## Why is this bad?
Instances of heap types own a reference to their type (taken by
`PyType_GenericAlloc`). A dealloc that does not release it leaks one
reference to the type per instance: the type, its module and its state
are never freed, and subinterpreters or module reloads leak.

## Example
```c
static void
Foo_dealloc(FooObject *self)
{
    Py_XDECREF(self->data);
    Py_TYPE(self)->tp_free((PyObject *)self);   /* the type reference leaks */
}
```

Use instead:
```c
    PyTypeObject *tp = Py_TYPE(self);
    Py_XDECREF(self->data);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
```

## Known problems
Only types created with `PyType_FromSpec` (and friends) in the same file are checked.

## Options
None beyond rule selection.

## References
- https://docs.python.org/3/c-api/typeobj.html#c.PyTypeObject.tp_dealloc
- https://docs.python.org/3/howto/isolating-extensions.html
"#,
    tags: &["type-slots", "memory-leak"],
    precision: Precision::High,
};

pub fn check(cx: &ModuleCx<'_>, out: &mut Vec<Finding>) {
    let module = cx.module;
    for t in &module.type_defs {
        if t.kind != TypeDefKind::Spec {
            continue;
        }
        let Some(slot) = t.slot("tp_dealloc") else {
            continue;
        };
        let Some(f) = module.function(&slot.value) else {
            continue;
        };
        let Some(eff) = slots::effects(cx, &slot.value) else {
            continue;
        };
        if eff.decrefs_type || eff.opaque_calls {
            continue;
        }
        let msg = format!(
            "`{}` (tp_dealloc of heap type `{}`) never releases the instance's reference to its type",
            f.name, t.name
        );
        out.push(finding(
            &META,
            f.name_span,
            Some(&f.name),
            msg,
            vec![Event {
                span: f.name_span,
                message: "no `Py_DECREF(Py_TYPE(self))` on any path".to_string(),
            }],
            Some(
                "save `PyTypeObject *tp = Py_TYPE(self);`, free the object, then `Py_DECREF(tp);`"
                    .to_string(),
            ),
        ));
    }
}
