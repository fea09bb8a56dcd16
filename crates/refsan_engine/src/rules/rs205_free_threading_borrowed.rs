use super::{finding, ModuleCx};
use refsan_ir::{Event, Finding, Precision, RuleMeta, Severity, StmtKind};

pub static META: RuleMeta = RuleMeta {
    code: "RS205",
    name: "free-threading-borrowed",
    severity: Severity::Warning,
    summary: "borrowed-reference API that is unsafe under free-threaded CPython in a module that declares free-threading support",
    doc: r#"# RS205 free-threading-borrowed

## What it does
In a module that declares free-threading support (`{Py_mod_gil,
Py_MOD_GIL_NOT_USED}`), finds calls of APIs that return borrowed
references to items of mutable containers: `PyDict_GetItem`,
`PyDict_GetItemWithError`, `PyDict_GetItemString`, `PyList_GetItem`,
`PyList_GET_ITEM`, `PyWeakref_GetObject`, `PyImport_AddModule`...

## Why is this bad?
In the free-threaded build (PEP 703) another thread can remove the item
and free it between the lookup and the use; the borrowed pointer dangles.
The `*Ref` replacements return a new (strong) reference.

## Example
```c
    PyObject *v = PyDict_GetItemWithError(d, key);
```

Use instead: `PyDict_GetItemRef(d, key, &v)` and `Py_DECREF(v)` when
done; `PyList_GetItemRef`, `PyWeakref_GetRef`, `PyImport_AddModuleRef`.

## Known problems
Only modules that declare free-threading support (`Py_mod_gil = Py_MOD_GIL_NOT_USED`) are checked.

## Options
None beyond rule selection.

## References
- https://peps.python.org/pep-0703/
- https://docs.python.org/3/howto/free-threading-extensions.html
"#,
    tags: &["free-threading", "concurrency"],
    precision: Precision::High,
};

pub fn check(cx: &ModuleCx<'_>, out: &mut Vec<Finding>) {
    let module = cx.module;
    if !module.free_threading {
        return;
    }
    for f in &module.functions {
        for b in &f.blocks {
            for s in &b.stmts {
                let StmtKind::Call { callee, .. } = &s.kind else {
                    continue;
                };
                let Some(name) = callee.name() else { continue };
                let Some(new) = cx
                    .resolver
                    .behaviour(name)
                    .and_then(|b| b.ref_variant.as_deref())
                else {
                    continue;
                };
                let msg = format!("`{name}` returns a borrowed reference, unsafe in a free-threaded module; use `{new}`");
                out.push(finding(
                    &META,
                    s.span,
                    Some(&f.name),
                    msg.clone(),
                    vec![Event {
                        span: s.span,
                        message: msg,
                    }],
                    Some(format!(
                        "`{new}` returns a new reference; release it when done"
                    )),
                ));
            }
        }
    }
}
