use super::{finding, ModuleCx};
use crate::formats::{self, ArgKind, FormatApi};
use refsan_ir::{
    Event, Finding, Function, Operand, Place, Precision, RuleMeta, Severity, StmtKind, TypeClass,
};

pub static META: RuleMeta = RuleMeta {
    code: "RS201",
    name: "parse-format",
    severity: Severity::Error,
    summary: "PyArg_ParseTuple(AndKeywords)/PyArg_Parse format does not match its output arguments",
    doc: r#"# RS201 parse-format

## What it does
Checks calls of `PyArg_ParseTuple`, `PyArg_ParseTupleAndKeywords`,
`PyArg_Parse` and `PyArg_UnpackTuple` with a literal format: the number of
output arguments must match the format units, and each output must point
to the C type its unit writes ("i" → `int`, "n" → `Py_ssize_t`, "d" →
`double`, "O" → `PyObject *`...).

## Why is this bad?
The parser writes through the pointers without knowing their types. A
missing argument makes it write through whatever is on the stack; a
`Py_ssize_t` unit writing into an `int` overwrites the neighbouring
variable. Both corrupt memory, often silently.

## Example
```c
    int n;
    PyObject *obj;
    if (!PyArg_ParseTuple(args, "nO", &n, &obj))   /* "n" writes a Py_ssize_t */
        return NULL;
```

Use instead: `Py_ssize_t n;` (or the "i" unit for an `int`).

## Known problems
Formats built at run time are not checked. Units refsan does not know are reported as unknown rather than guessed.

## Options
None beyond rule selection.

## References
- https://docs.python.org/3/c-api/arg.html
"#,
    tags: &["api-usage", "format-string"],
    precision: Precision::High,
};

fn scalar_size(t: &str) -> Option<(u8, bool)> {
    // (size in bytes on LP64, is floating point)
    Some(match t {
        "char" | "unsigned char" | "signed char" => (1, false),
        "short" | "unsigned short" => (2, false),
        "int" | "unsigned int" => (4, false),
        "long" | "unsigned long" | "long long" | "unsigned long long" | "Py_ssize_t" | "size_t" => {
            (8, false)
        }
        "float" => (4, true),
        "double" => (8, true),
        _ => return None,
    })
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
                let Some(api) = formats::format_api(cx.resolver.facts(), name) else {
                    continue;
                };
                let FormatApi::Parse { first, .. } = api else {
                    continue;
                };
                let Some(fmt) = formats::literal_format(api, args) else {
                    continue;
                };
                check_call(f, name, fmt, &args[first.min(args.len())..], s.span, out);
            }
        }
    }
}

fn check_call(
    f: &Function,
    name: &str,
    fmt: &str,
    outputs: &[Operand],
    span: refsan_ir::Span,
    out: &mut Vec<Finding>,
) {
    let report = |out: &mut Vec<Finding>, msg: String, help: Option<String>| {
        out.push(finding(
            &META,
            span,
            Some(&f.name),
            msg.clone(),
            vec![Event { span, message: msg }],
            help,
        ));
    };
    let units = match formats::parse_format(fmt) {
        Ok(u) => u,
        Err(e) => {
            report(
                out,
                format!("`{name}` format \"{fmt}\" is invalid: {}", e.0),
                None,
            );
            return;
        }
    };
    let kinds: Vec<(&str, ArgKind)> = units
        .iter()
        .flat_map(|u| u.args.iter().map(move |k| (u.code.as_str(), *k)))
        .collect();
    if kinds.len() != outputs.len() {
        report(
            out,
            format!(
                "`{name}` format \"{fmt}\" needs {} output argument{}, but {} {} given",
                kinds.len(),
                if kinds.len() == 1 { "" } else { "s" },
                outputs.len(),
                if outputs.len() == 1 { "is" } else { "are" }
            ),
            None,
        );
        return;
    }
    for ((code, kind), op) in kinds.iter().zip(outputs) {
        let Operand::AddrOf(Place::Var(v)) = op else {
            continue;
        };
        let var = f.var(*v);
        let have = formats::normalize_c_type(&var.c_type);
        match kind {
            ArgKind::Scalar(want) => {
                let (Some(ws), Some(hs)) = (scalar_size(want), scalar_size(&have)) else {
                    if var.ty == TypeClass::Object {
                        report(
                            out,
                            format!("format unit \"{code}\" of `{name}` writes a C `{want}`, but `{}` is a `PyObject *`", var.name),
                            None,
                        );
                    }
                    continue;
                };
                if ws != hs {
                    report(
                        out,
                        format!(
                            "format unit \"{code}\" of `{name}` writes a `{want}` ({} bytes) into `{}`, a `{have}` ({} bytes)",
                            ws.0, var.name, hs.0
                        ),
                        Some(format!("declare `{}` as `{want}`", var.name)),
                    );
                }
            }
            ArgKind::Object
                if matches!(var.ty, TypeClass::Int | TypeClass::Other)
                    && scalar_size(&have).is_some() =>
            {
                report(
                    out,
                    format!("format unit \"{code}\" of `{name}` writes a `PyObject *` into `{}`, a `{have}`", var.name),
                    Some(format!("declare `{}` as `PyObject *`", var.name)),
                );
            }
            _ => {}
        }
    }
}
