use super::finding;
use refsan_ir::{Event, Finding, Module, Precision, RuleMeta, Severity, SuppressionScope};

pub static META: RuleMeta = RuleMeta {
    code: "RS900",
    name: "unused-suppression",
    severity: Severity::Info,
    summary: "a `refsan: ignore` comment silences no finding",
    doc: r#"# RS900 unused-suppression

## What it does
Finds suppression comments (`refsan: ignore[...]`, `refsan: ignore-file`,
`refsan: ignore-begin`) that silence no finding: the bug was fixed, the
code moved, or the comment names the wrong rule.

## Why is this bad?
A stale suppression hides the next real finding on that line. Removing it
keeps the suppressions that remain meaningful.

## Example
```c
    Py_DECREF(item);  /* refsan: ignore[RS102] */   /* item is ours now */
```

Use instead: delete the comment (or name the rule that fires there).

## Known problems
A comment that silences a rule disabled for the file (`--ignore`,
`per-file-ignores`) still counts as used: the finding exists, it is only
not shown.

## Options
Like every rule: `--ignore RS900` or `ignore = ["RS900"]` turns it off;
`refsan: ignore-file[RS900]` in a file.

## References
- `refsan check --add-ignore` writes suppression comments for every
  finding of an existing codebase.
"#,
    tags: &["maintenance"],
    precision: Precision::VeryHigh,
};

/// The suppression comments of `module` that silence none of `findings`
/// (every finding of the file, before rule selection).
pub fn check(module: &Module, findings: &[Finding]) -> Vec<Finding> {
    let mut out = Vec::new();
    for (i, s) in module.suppressions.iter().enumerate() {
        if s.scope == SuppressionScope::End {
            continue;
        }
        let used = findings
            .iter()
            .any(|f| module.suppression_for(f.code, f.span.line) == Some(i));
        if used {
            continue;
        }
        let what = if s.codes.is_empty() {
            "finding".to_string()
        } else {
            format!("{} finding", s.codes.join(" or "))
        };
        let place = match s.scope {
            SuppressionScope::File => "in this file",
            SuppressionScope::Begin => "in its region",
            _ => "on this line or the next",
        };
        let message = format!("this suppression comment silences nothing: no {what} {place}");
        out.push(finding(
            &META,
            s.span,
            None,
            message,
            vec![Event {
                span: s.span,
                message: "unused suppression".to_string(),
            }],
            Some("remove the comment".to_string()),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::test_support::check_c;

    #[test]
    fn a_comment_that_silences_nothing() {
        check_c(
            "RS900",
            r#"
static PyObject *
f(PyObject *self, PyObject *arg)
{
    Py_INCREF(arg);
    return arg; /* refsan: ignore[RS104] */
    //             ^^^^^^^^^^^^^^^^^^^^^ RS900: no RS104 finding on this line or the next
}
"#,
        );
    }

    #[test]
    fn a_comment_that_silences_a_finding() {
        check_c(
            "RS900",
            r#"
static PyObject *
f(PyObject *self, PyObject *arg)
{
    return arg; /* refsan: ignore[RS104] */
}

static PyMethodDef methods[] = {
    {"f", f, METH_O, NULL},
    {NULL, NULL, 0, NULL}
};
"#,
        );
    }
}
