use super::{finding, ModuleCx};
use refsan_ir::{Event, Finding, Operand, Precision, RuleMeta, Severity, Span, StmtKind, TypeDefKind};
use std::collections::HashMap;

pub static META: RuleMeta = RuleMeta {
    code: "RS404",
    name: "dealloc-decref-maybe-null",
    severity: Severity::Error,
    summary: "Py_DECREF on a PyObject* attribute in `__dealloc__` that can be NULL (e.g. when `__cinit__` raised first)",
    doc: r#"# RS404 dealloc-decref-maybe-null

## What it does
Finds `Py_DECREF(self.attr)` in a Cython `__dealloc__` where `attr` is a
raw `PyObject *` attribute that can still be NULL: `__cinit__` can raise
before assigning it (or assigns it NULL and then raises), or no `__cinit__`
assigns it at all.

## Why is this bad?
Cython zero-fills a new object, and `__dealloc__` runs even when
`__cinit__` raised. `Py_DECREF(NULL)` dereferences NULL: the failed
construction turns into a segmentation fault.

## Example
```cython
cdef class Wrapper:
    cdef PyObject* _obj
    def __cinit__(self):
        self._obj = get_new_ref()
        if self._obj == NULL:
            raise MemoryError()
    def __dealloc__(self):
        Py_DECREF(self._obj)       # NULL when __cinit__ raised
```

Use instead: `Py_XDECREF(self._obj)` or `Py_CLEAR(self._obj)`.

## Known problems
Attributes assigned in a method `__cinit__` calls are not followed.

## Options
None beyond rule selection.

## References
- https://cython.readthedocs.io/en/latest/src/userguide/special_methods.html#finalization-methods-dealloc-and-del
"#,
    tags: &["cython", "null-dereference"],
    precision: Precision::High,
};

/// Attributes of each class that `__cinit__` can leave NULL on an error
/// exit, with the exit's span. Filled by the engine while analysing the
/// `__cinit__` functions.
pub type RiskyFields = HashMap<String, Vec<(String, Span)>>;

pub fn check(cx: &ModuleCx<'_>, out: &mut Vec<Finding>) {
    let (module, risky) = (cx.module, cx.risky);
    for t in &module.type_defs {
        if t.kind != TypeDefKind::CythonClass {
            continue;
        }
        let Some(dealloc) = t.slot("tp_dealloc").and_then(|s| module.function(&s.value)) else {
            continue;
        };
        let Some(st) = t
            .object_struct
            .as_deref()
            .and_then(|s| module.struct_named(s))
        else {
            continue;
        };
        let cinit = t.slot("__cinit__").map(|s| s.value.clone());
        let self_var = dealloc.params.first().copied();
        for b in &dealloc.blocks {
            for s in &b.stmts {
                let StmtKind::Decref {
                    value: Operand::Field(base, attr),
                    nullable: false,
                    ..
                } = &s.kind
                else {
                    continue;
                };
                if Some(*base) != self_var {
                    continue;
                }
                let Some(field) = st.fields.iter().find(|f| &f.name == attr) else {
                    continue;
                };
                if field.managed || field.ty != refsan_ir::TypeClass::Object {
                    continue;
                }
                let why: Option<(String, Span)> = match &cinit {
                    None => Some((
                        format!(
                            "`{}` has no `__cinit__` that assigns `{attr}`, so it starts as NULL",
                            t.name
                        ),
                        t.span,
                    )),
                    Some(name) => risky
                        .get(name)
                        .and_then(|v| v.iter().find(|(a, _)| a == attr))
                        .map(|(_, span)| {
                            (
                                format!("`__cinit__` can raise here while `self.{attr}` is NULL"),
                                *span,
                            )
                        }),
                };
                let Some((why, why_span)) = why else { continue };
                out.push(finding(
                    &META,
                    s.span,
                    Some(&dealloc.name),
                    format!("`self.{attr}` may be NULL in `__dealloc__` and `Py_DECREF` does not accept NULL"),
                    vec![
                        Event {
                            span: why_span,
                            message: why,
                        },
                        Event {
                            span: s.span,
                            message: format!("`__dealloc__` still runs and releases `self.{attr}` here"),
                        },
                    ],
                    Some(format!("use `Py_XDECREF(self.{attr})` or `Py_CLEAR(self.{attr})`")),
                ));
            }
        }
    }
}
