use super::{finding, slots, ModuleCx};
use refsan_ir::{Event, Finding, Precision, RuleMeta, Severity};

pub static META: RuleMeta = RuleMeta {
    code: "RS302",
    name: "traverse-missing-visit",
    severity: Severity::Warning,
    summary: "tp_traverse of a GC type does not visit a PyObject* member",
    doc: r#"# RS302 traverse-missing-visit

## What it does
For each garbage-collected type (`Py_TPFLAGS_HAVE_GC`) defined in the
file, finds `PyObject *` members of the instance struct that its
`tp_traverse` never passes to `Py_VISIT`.

## Why is this bad?
The cycle collector only sees references that `tp_traverse` reports. A
reference cycle through an unvisited member is never collected (a leak);
worse, the collector may misjudge reachability and break a cycle that is
still referenced from the hidden member.

## Example
```c
static int
Node_traverse(NodeObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->children);        /* `parent` is not visited */
    return 0;
}
```

Use instead: `Py_VISIT(self->parent);` too. Heap types must also visit
`Py_TYPE(self)`.

## Known problems
Members that only ever hold objects the garbage collector does not track (exact `str`, `bytes`, `int`) are reported although visiting them is harmless.

## Options
None beyond rule selection.

## References
- https://docs.python.org/3/c-api/gcsupport.html
- https://docs.python.org/3/c-api/typeobj.html#c.PyTypeObject.tp_traverse
"#,
    tags: &["type-slots", "garbage-collection"],
    precision: Precision::High,
};

pub fn check(cx: &ModuleCx<'_>, out: &mut Vec<Finding>) {
    let module = cx.module;
    for t in &module.type_defs {
        if !t.has_flag("Py_TPFLAGS_HAVE_GC") {
            continue;
        }
        let Some((f, missing)) = slots::unhandled_members(cx, t, "tp_traverse", |e| &e.visited)
        else {
            continue;
        };
        for field in missing {
            let msg = format!(
                "`{}` (tp_traverse of `{}`) does not visit the `{}` member",
                f.name, t.name, field
            );
            out.push(finding(
                &META,
                f.name_span,
                Some(&f.name),
                msg,
                vec![Event {
                    span: f.name_span,
                    message: format!("`{field}` is never passed to Py_VISIT"),
                }],
                Some(format!("add `Py_VISIT(self->{field});`")),
            ));
        }
    }
}
