use super::{finding, ModuleCx, Verdict};
use crate::formats::{self, ArgKind, FormatApi};
use crate::violation::{Kind, Violation};
use refsan_ir::ApiFacts;
use refsan_ir::{Event, Finding, Operand, Precision, RuleMeta, Severity, StmtKind, TypeClass};

pub static META: RuleMeta = RuleMeta {
    code: "RS202",
    name: "build-format",
    severity: Severity::Error,
    summary: "Py_BuildValue/PyObject_CallFunction/CallMethod format does not match its arguments; \"N\" vs \"O\" ownership",
    doc: r#"# RS202 build-format

## What it does
Checks calls of `Py_BuildValue`, `PyObject_CallFunction` and
`PyObject_CallMethod` with a literal format: the number of arguments must
match the format units, objects must be passed to object units, and "N"
(which steals a reference) must receive a new reference, not a borrowed
one. A trailing `NULL` after the arguments (a habit from
`PyObject_CallFunctionObjArgs`) is never read and is not reported.

It is an error when the C API says the reference is borrowed (a
knowledge-base function returned it or steals it, the interpreter passed
it to a method or slot, a static object or a singleton), and a warning
when only the project's own code implies it (an object's field, a global
pointer, a helper's parameter or what refsan inferred of a helper): a
transfer refsan does not see (a pop, a replaced slot, a helper keeping a
pointer that owns nothing) makes such code correct.

## Why is this bad?
These functions read their variadic arguments blindly: a missing or
misplaced argument is read from garbage. "N" releases the reference it is
given when the built object dies; passing a borrowed reference frees an
object its owner still uses. Conversely, "O" with a new reference that is
never released leaks it (reported as RS101).

## Example
```c
    return Py_BuildValue("(NO)", self->name, count);   /* "N" steals a borrowed field */
```

Use instead: `Py_BuildValue("(OO)", self->name, count)`, or "N" only for
references you own and no longer need.

## Known problems
As RS201: only literal formats are checked.

## Options
None beyond rule selection.

## References
- https://docs.python.org/3/c-api/arg.html#building-values
"#,
    tags: &["api-usage", "format-string", "reference-counting"],
    precision: Precision::High,
};

/// Refines RS105: a borrowed reference given to the "N" unit of a
/// value-building API.
pub fn judge(v: &Violation, facts: &dyn ApiFacts) -> Option<Verdict> {
    let Kind::StolenBorrowed { value, callee, why, basis } = &v.kind else {
        return None;
    };
    if !formats::is_build_value(facts, callee) {
        return None;
    }
    Some(Verdict::new(
        format!(
            "format unit \"N\" of `{callee}` steals a reference to {value}, which is borrowed ({})",
            super::why_on(why, *basis)
        ),
        format!("`{callee}` steals {value} here"),
        Some(super::rs105_borrowed_stolen::new_reference_help(value)),
    ).on_basis(*basis))
}

pub fn check(cx: &ModuleCx<'_>, out: &mut Vec<Finding>) {
    let module = cx.module;
    for f in &module.functions {
        for b in &f.blocks {
            for s in &b.stmts {
                let StmtKind::Call { callee, args, .. } = &s.kind else {
                    continue;
                };
                let Some(name) = callee.name() else { continue };
                let Some(api @ FormatApi::Build { first, .. }) =
                    formats::format_api(cx.resolver.facts(), name)
                else {
                    continue;
                };
                let Some(fmt) = formats::literal_format(api, args) else {
                    continue;
                };
                let mut report = |msg: String| {
                    out.push(finding(
                        &META,
                        s.span,
                        Some(&f.name),
                        msg.clone(),
                        vec![Event {
                            span: s.span,
                            message: msg,
                        }],
                        None,
                    ));
                };
                let units = match formats::build_format(fmt) {
                    Ok(u) => u,
                    Err(e) => {
                        report(format!("`{name}` format \"{fmt}\" is invalid: {}", e.0));
                        continue;
                    }
                };
                let mut values = &args[first.min(args.len())..];
                let kinds: Vec<(&str, ArgKind)> = units
                    .iter()
                    .flat_map(|u| u.args.iter().map(move |k| (u.code.as_str(), *k)))
                    .collect();
                // A trailing NULL after the format's arguments (a habit from
                // `PyObject_CallFunctionObjArgs`) is never read: harmless.
                if values.len() == kinds.len() + 1
                    && values.last().is_some_and(|op| {
                        matches!(op, Operand::Null | Operand::Int(0))
                            || matches!(op, Operand::Global(g) if g == "NULL")
                    })
                {
                    values = &values[..kinds.len()];
                }
                if kinds.len() != values.len() {
                    report(format!(
                        "`{name}` format \"{fmt}\" needs {} argument{}, but {} {} given",
                        kinds.len(),
                        if kinds.len() == 1 { "" } else { "s" },
                        values.len(),
                        if values.len() == 1 { "is" } else { "are" }
                    ));
                    continue;
                }
                for ((code, kind), op) in kinds.iter().zip(values) {
                    let is_object_unit = matches!(kind, ArgKind::Object | ArgKind::StolenObject);
                    match op {
                        Operand::Int(v) if is_object_unit && *v != 0 => {
                            report(format!("format unit \"{code}\" of `{name}` expects an object, but gets the integer {v}"));
                        }
                        Operand::Str(_) if is_object_unit => {
                            report(format!("format unit \"{code}\" of `{name}` expects an object, but gets a C string"));
                        }
                        Operand::Var(v)
                            if matches!(kind, ArgKind::Scalar(_))
                                && f.var(*v).ty == TypeClass::Object =>
                        {
                            report(format!(
                                "format unit \"{code}\" of `{name}` expects a C number, but gets `{}`, a Python object",
                                f.var(*v).name
                            ));
                        }
                        _ => {}
                    }
                }
            }
        }
    }
}
