use super::{finding, ModuleCx};
use refsan_ir::{Event, Finding, Language, Operand, Precision, RuleMeta, Severity, StmtKind};

pub static META: RuleMeta = RuleMeta {
    code: "RS407",
    name: "refcount-field-access",
    severity: Severity::Warning,
    summary: "code reads or writes `ob_refcnt` directly (wrong for immortal objects and free-threaded builds)",
    doc: r#"# RS407 refcount-field-access

## What it does
Finds Cython code that reads or writes the `ob_refcnt` field of an object
directly.

## Why is this bad?
Since Python 3.12 immortal objects have a pinned, meaningless reference
count; in the free-threaded build the count is split into two fields and
`ob_refcnt` does not exist. Code that prints or tests `ob_refcnt` gives
wrong answers or does not compile, and writing it corrupts the object.

## Example
```cython
print(f"refcount: {c_ptr.ob_refcnt}")
```

Use instead: `Py_REFCNT(<object>c_ptr)` from `cpython.ref`, or
`sys.getrefcount(obj)` (one higher: it counts its argument).

## Known problems
None known.

## Options
None beyond rule selection.

## References
- https://docs.python.org/3/c-api/refcounting.html#c.Py_REFCNT
- https://peps.python.org/pep-0683/
"#,
    tags: &["cython", "portability"],
    precision: Precision::VeryHigh,
};

fn refcnt(op: &Operand) -> bool {
    matches!(op, Operand::Field(_, f) if f == "ob_refcnt")
}

pub fn check(cx: &ModuleCx<'_>, out: &mut Vec<Finding>) {
    let module = cx.module;
    if module.language != Language::Cython {
        return;
    }
    for f in &module.functions {
        for b in &f.blocks {
            for s in &b.stmts {
                let hit = match &s.kind {
                    StmtKind::Use { value, .. } | StmtKind::Assign { src: value, .. } => {
                        refcnt(value)
                    }
                    StmtKind::Store {
                        place: refsan_ir::Place::Field(_, field),
                        ..
                    } => field == "ob_refcnt",
                    StmtKind::Call { args, .. } => args.iter().any(refcnt),
                    _ => false,
                };
                if hit {
                    let msg = "`ob_refcnt` is accessed directly".to_string();
                    out.push(finding(
                        &META,
                        s.span,
                        Some(&f.name),
                        msg.clone(),
                        vec![Event {
                            span: s.span,
                            message: msg,
                        }],
                        Some("use `Py_REFCNT(obj)` or `sys.getrefcount(obj)`".to_string()),
                    ));
                }
            }
        }
    }
}
