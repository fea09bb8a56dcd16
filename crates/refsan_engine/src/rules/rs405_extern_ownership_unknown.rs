use super::{finding, ModuleCx};
use refsan_ir::{Event, Finding, Language, Precision, RuleMeta, Severity, TypeClass};

pub static META: RuleMeta = RuleMeta {
    code: "RS405",
    name: "extern-ownership-unknown",
    severity: Severity::Warning,
    summary: "a `cdef extern` function returns `PyObject*` and nothing says whether the reference is new or borrowed",
    doc: r#"# RS405 extern-ownership-unknown

## What it does
Finds `cdef extern` declarations of functions returning `PyObject *` whose
ownership refsan cannot learn: not a C-API function it knows, no
`[tool.refsan]` annotation, no `# refsan: returns new|borrowed` comment,
no words such as "new reference" or "borrowed" in the declaration's
comment. A function declared under the C name of one refsan knows
(`PyObject* PtrIter_Next "PyIter_Next"(object o)`) is that function.

## Why is this bad?
Whether the caller must release the result decides whether the code leaks
or crashes, and nothing in the code says which it is. refsan does not
guess: code using such a function is not checked for that reference.

## Example
```cython
cdef extern from "lib.h":
    PyObject* lookup(const char* name)
```

Use instead: declare it `object lookup(const char* name)` when it returns a
new reference (Cython then manages it), or annotate it:
```cython
cdef extern from "lib.h":
    PyObject* lookup(const char* name)   # refsan: returns borrowed
```
or in pyproject.toml: `[tool.refsan.functions] lookup = { returns = "borrowed" }`.

## Known problems
Declarations in `.pxd` files another module cimports are reported where they are declared.

## Options
Annotate with `# refsan: returns new` or `# refsan: returns borrowed`, or declare the result `object`.

## References
- https://cython.readthedocs.io/en/latest/src/userguide/external_C_code.html
"#,
    tags: &["cython", "reference-counting"],
    precision: Precision::High,
};

pub fn check(cx: &ModuleCx<'_>, out: &mut Vec<Finding>) {
    let (module, resolver) = (cx.module, cx.resolver);
    if module.language != Language::Cython {
        return;
    }
    for d in &module.declarations {
        // Declarations of the file's context (a cimported `.pxd`) are
        // reported when that file is checked.
        if d.returns != TypeClass::Object
            || d.contract.is_some()
            || d.name.starts_with("__pyx_")
            || d.span == refsan_ir::Span::default()
        {
            continue;
        }
        if resolver.stated(&d.name).is_some() {
            continue;
        }
        let msg = format!(
            "`{}` returns `PyObject*`, but nothing says whether the reference is new or borrowed",
            d.name
        );
        out.push(finding(
            &META,
            d.span,
            None,
            msg.clone(),
            vec![Event {
                span: d.span,
                message: msg,
            }],
            Some("add `# refsan: returns new` or `# refsan: returns borrowed`, or declare it returning `object` if it returns a new reference".to_string()),
        ));
    }
}
