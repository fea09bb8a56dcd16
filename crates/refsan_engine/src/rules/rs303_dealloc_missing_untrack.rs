use super::{finding, slots, ModuleCx};
use refsan_ir::{
    BlockId, Callee, Event, Finding, Function, Operand, Precision, RuleMeta, Severity, Span, StmtKind,
};

pub static META: RuleMeta = RuleMeta {
    code: "RS303",
    name: "dealloc-missing-untrack",
    severity: Severity::Warning,
    summary: "GC type's tp_dealloc does not call PyObject_GC_UnTrack before releasing members",
    doc: r#"# RS303 dealloc-missing-untrack

## What it does
For each garbage-collected type, checks that `tp_dealloc` calls
`PyObject_GC_UnTrack(self)` before it releases any member.

## Why is this bad?
Releasing a member can run arbitrary code (a `__del__`, a weakref
callback) that triggers a garbage collection. If the half-destroyed object
is still tracked, the collector traverses it and follows dangling member
pointers: a crash that appears only under memory pressure.

## Example
```c
static void
Node_dealloc(NodeObject *self)
{
    Py_CLEAR(self->children);        /* still tracked by the GC */
    PyObject_GC_UnTrack(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}
```

Use instead: call `PyObject_GC_UnTrack(self)` first.

## Known problems
An untrack inside a helper in another file is not seen.

## Options
None beyond rule selection.

## References
- https://docs.python.org/3/c-api/gcsupport.html#c.PyObject_GC_UnTrack
"#,
    tags: &["type-slots", "garbage-collection"],
    precision: Precision::High,
};

fn releases_field(s: &StmtKind) -> bool {
    matches!(
        s,
        StmtKind::Decref {
            value: Operand::Field(..),
            ..
        }
    )
}

/// The first field release reachable from the entry without an untrack
/// call before it.
fn first_unprotected_release(cx: &ModuleCx<'_>, f: &Function) -> Option<Span> {
    let module = cx.module;
    let n = f.blocks.len();
    // must_untracked[b]: every path to b has untracked.
    let mut state: Vec<Option<bool>> = vec![None; n];
    state[0] = Some(false);
    let mut work = vec![BlockId::ENTRY];
    let mut found: Option<Span> = None;
    let mut steps = 0;
    while let Some(b) = work.pop() {
        steps += 1;
        if steps > 100_000 {
            break;
        }
        let Some(mut untracked) = state[b.index()] else {
            continue;
        };
        for s in &f.blocks[b.index()].stmts {
            match &s.kind {
                StmtKind::Call {
                    callee: Callee::Named(name),
                    ..
                } => {
                    if slots::is_untrack(cx, name) {
                        untracked = true;
                    } else if let Some(eff) =
                        module.function(name).and_then(|_| slots::effects(cx, name))
                    {
                        if eff.untracks {
                            untracked = true;
                        } else if !eff.released.is_empty() && !untracked && found.is_none() {
                            found = Some(s.span);
                        }
                    }
                }
                k if releases_field(k) && !untracked && found.is_none() => {
                    found = Some(s.span);
                }
                _ => {}
            }
        }
        for succ in f.blocks[b.index()].term.successors() {
            let cur = state[succ.index()];
            let new = match cur {
                None => Some(untracked),
                Some(c) => Some(c && untracked),
            };
            if new != cur {
                state[succ.index()] = new;
                work.push(succ);
            }
        }
    }
    found
}

pub fn check(cx: &ModuleCx<'_>, out: &mut Vec<Finding>) {
    let module = cx.module;
    for t in &module.type_defs {
        if !t.has_flag("Py_TPFLAGS_HAVE_GC") {
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
        if eff.released.is_empty() {
            continue;
        }
        if let Some(span) = first_unprotected_release(cx, f) {
            let msg = format!(
                "`{}` (tp_dealloc of GC type `{}`) releases members before calling PyObject_GC_UnTrack",
                f.name, t.name
            );
            out.push(finding(
                &META,
                span,
                Some(&f.name),
                msg,
                vec![
                    Event {
                        span: f.name_span,
                        message: "the object is still tracked by the garbage collector".to_string(),
                    },
                    Event {
                        span,
                        message: "a member is released here".to_string(),
                    },
                ],
                Some("call `PyObject_GC_UnTrack(self);` at the start of tp_dealloc".to_string()),
            ));
        }
    }
}
