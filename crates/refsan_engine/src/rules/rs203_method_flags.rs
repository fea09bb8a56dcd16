use super::{finding, ModuleCx};
use refsan_ir::{Event, Finding, Precision, RuleMeta, Severity, TypeClass};

pub static META: RuleMeta = RuleMeta {
    code: "RS203",
    name: "method-flags",
    severity: Severity::Error,
    summary: "PyMethodDef flags do not match the C function's signature",
    doc: r#"# RS203 method-flags

## What it does
Checks each `PyMethodDef` entry whose function is defined or declared in
the same file: the calling convention in the flags must match the
function's parameters.

| flags | signature |
|---|---|
| `METH_NOARGS` | `(PyObject *self, PyObject *unused)` |
| `METH_O` | `(PyObject *self, PyObject *arg)` |
| `METH_VARARGS` | `(PyObject *self, PyObject *args)` |
| `METH_VARARGS \| METH_KEYWORDS` | `(PyObject *self, PyObject *args, PyObject *kwargs)` |
| `METH_FASTCALL` | `(PyObject *self, PyObject *const *args, Py_ssize_t nargs)` |
| `METH_FASTCALL \| METH_KEYWORDS` | `(..., Py_ssize_t nargs, PyObject *kwnames)` |
| `METH_METHOD \| METH_FASTCALL \| METH_KEYWORDS` | `(self, PyTypeObject *cls, args, nargs, kwnames)` |

`METH_KEYWORDS` alone is not a valid calling convention.

A `METH_NOARGS` function that takes only `self` is a warning, not an
error: calling it with the unused second argument is undefined behaviour
by the C standard, but every mainstream ABI ignores the extra argument.
Control-flow integrity and WebAssembly trap on it.

## Why is this bad?
The interpreter calls the function through a pointer cast to the
signature the flags promise. With the wrong flags the function reads
arguments that were never passed (garbage pointers, a crash) or
misinterprets them; on WebAssembly and with control-flow integrity the
mismatched call itself traps.

## Example
```c
static PyObject *spam_get(PyObject *self, PyObject *args, PyObject *kwds);
static PyMethodDef methods[] = {
    {"get", (PyCFunction)spam_get, METH_VARARGS, NULL},   /* kwds is garbage */
    {NULL, NULL, 0, NULL}
};
```

Use instead: `METH_VARARGS | METH_KEYWORDS` (and cast through
`(PyCFunction)(void(*)(void))`).

## Known problems
A function cast to `PyCFunction` through a macro refsan cannot see is not checked.

## Options
None beyond rule selection.

## References
- https://docs.python.org/3/c-api/structures.html#c.PyMethodDef
"#,
    tags: &["api-usage", "undefined-behaviour"],
    precision: Precision::High,
};

/// The calling convention the flags select, as (name, parameter count).
fn convention(flags: &[String]) -> Result<(&'static str, usize), String> {
    let has = |f: &str| flags.iter().any(|x| x == f);
    let varargs = has("METH_VARARGS");
    let keywords = has("METH_KEYWORDS");
    let fast = has("METH_FASTCALL");
    let noargs = has("METH_NOARGS");
    let o = has("METH_O");
    let method = has("METH_METHOD");
    let count = [varargs, fast, noargs, o].iter().filter(|b| **b).count();
    if count > 1 {
        return Err("combines more than one calling convention".into());
    }
    Ok(match (varargs, fast, noargs, o, keywords, method) {
        (_, true, _, _, true, true) => ("METH_METHOD | METH_FASTCALL | METH_KEYWORDS", 5),
        (_, _, _, _, _, true) => return Err("METH_METHOD is only valid with METH_FASTCALL | METH_KEYWORDS".into()),
        (true, _, _, _, true, _) => ("METH_VARARGS | METH_KEYWORDS", 3),
        (true, _, _, _, false, _) => ("METH_VARARGS", 2),
        (_, true, _, _, true, _) => ("METH_FASTCALL | METH_KEYWORDS", 4),
        (_, true, _, _, false, _) => ("METH_FASTCALL", 3),
        (_, _, true, _, false, _) => ("METH_NOARGS", 2),
        (_, _, _, true, false, _) => ("METH_O", 2),
        (false, false, false, false, true, _) => return Err("METH_KEYWORDS alone is not a calling convention; combine it with METH_VARARGS or METH_FASTCALL".into()),
        (_, _, _, _, true, _) => return Err("METH_KEYWORDS cannot be combined with METH_NOARGS or METH_O".into()),
        // No convention flag at all: METH_VARARGS is 0 in CPython.
        _ => ("METH_VARARGS", 2),
    })
}

pub fn check(cx: &ModuleCx<'_>, out: &mut Vec<Finding>) {
    let module = cx.module;
    for table in &module.method_tables {
        for e in &table.entries {
            // Only entries whose flags are all known names.
            if e.flags.is_empty() || e.flags.iter().any(|f| !f.starts_with("METH_")) {
                continue;
            }
            let report = |out: &mut Vec<Finding>, msg: String| {
                out.push(finding(
                    &META,
                    e.span,
                    None,
                    msg.clone(),
                    vec![Event {
                        span: e.span,
                        message: msg,
                    }],
                    None,
                ));
            };
            let (conv, want) = match convention(&e.flags) {
                Ok(c) => c,
                Err(why) => {
                    report(
                        out,
                        format!(
                            "method `{}`: flags {}: {why}",
                            e.py_name,
                            e.flags.join(" | ")
                        ),
                    );
                    continue;
                }
            };
            let (params, types): (usize, Vec<TypeClass>) = if let Some(f) = module.function(&e.func)
            {
                (
                    f.params.len(),
                    f.params.iter().map(|p| f.var(*p).ty).collect(),
                )
            } else if let Some(d) = module
                .declarations
                .iter()
                // `f()` in C says nothing of the parameters.
                .find(|d| d.name == e.func && d.param_count > 0)
            {
                (d.param_count, Vec::new())
            } else {
                continue;
            };
            if conv.contains("METH_NOARGS") && params == 1 {
                // `f(PyObject *self)` for METH_NOARGS: undefined behaviour
                // by the C standard, but the unused second argument is
                // ignored on every mainstream ABI.
                report(
                    out,
                    format!(
                        "method `{}` is declared {conv}, which calls `{}` with 2 arguments, but it takes 1: undefined behaviour that mainstream ABIs tolerate",
                        e.py_name, e.func
                    ),
                );
                if let Some(f) = out.last_mut() {
                    f.severity = Severity::Warning;
                }
                continue;
            }
            if params != want {
                report(
                    out,
                    format!(
                        "method `{}` is declared {conv}, which calls `{}` with {want} arguments, but it takes {params}",
                        e.py_name, e.func
                    ),
                );
                continue;
            }
            // The second parameter's kind tells VARARGS/O from FASTCALL.
            if let Some(second) = types.get(1) {
                let fast = conv.contains("FASTCALL");
                if fast && *second == TypeClass::Object {
                    report(
                        out,
                        format!(
                            "method `{}` is declared {conv}, but `{}` takes `PyObject *` where the convention passes `PyObject *const *args`",
                            e.py_name, e.func
                        ),
                    );
                } else if !fast && !conv.contains("METHOD") && *second == TypeClass::ObjectPtrPtr {
                    report(
                        out,
                        format!(
                            "method `{}` is declared {conv}, but `{}` takes an argument array as with METH_FASTCALL",
                            e.py_name, e.func
                        ),
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(f: &[&str]) -> Vec<String> {
        f.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn conventions() {
        assert_eq!(
            convention(&flags(&["METH_VARARGS", "METH_KEYWORDS"]))
                .unwrap()
                .1,
            3
        );
        assert_eq!(convention(&flags(&["METH_FASTCALL"])).unwrap().1, 3);
        assert_eq!(
            convention(&flags(&["METH_NOARGS", "METH_CLASS"]))
                .unwrap()
                .1,
            2
        );
        assert_eq!(
            convention(&flags(&["METH_METHOD", "METH_FASTCALL", "METH_KEYWORDS"]))
                .unwrap()
                .1,
            5
        );
        assert!(convention(&flags(&["METH_KEYWORDS"])).is_err());
        assert!(convention(&flags(&["METH_O", "METH_NOARGS"])).is_err());
    }
}
