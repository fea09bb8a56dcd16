//! Synthetic findings over real source text, shared by the snapshot,
//! schema and property tests. Spans are computed from the text the way a
//! front-end does (byte offsets through `LineIndex`), so they are exact.

#![allow(dead_code)] // each test binary uses its own part of the fixture

use refsan_ir::{Event, Finding, LineIndex, Note, RuleMeta, Severity, Span};
use refsan_report::{FileReport, RenderOptions};
use std::sync::Arc;

pub const SPAM_C: &str = r#"#include <Python.h>

static PyObject *
spam_build(PyObject *self, PyObject *args)
{
    PyObject *result, *item;

    result = PyList_New(0);
    if (result == NULL)
        return NULL;
    item = PyLong_FromLong(42);
    if (item == NULL)
        goto error;
    if (PyList_Append(result, item) < 0) {
        Py_DECREF(item);
        return NULL;
    }
    Py_DECREF(item);
    return result;
error:
    Py_DECREF(result);
    return NULL;
}

static PyObject *
spam_first(PyObject *self, PyObject *list)
{
    PyObject *first = PyList_GetItem(list, 0);
    PyObject_Print(list, stdout, 0);
    return Py_NewRef(first);
}
"#;

/// Tabs for indentation, non-ASCII text before the span (two bytes, one
/// character; four bytes, two UTF-16 units) and no newline at the end.
pub const COUNTS_PYX: &str = "# cython: language_level=3\n\
# Grüße — 漢字\n\
cdef extern from \"Python.h\":\n\
\tctypedef struct PyObject:\n\
\t\tPy_ssize_t ob_refcnt\n\
\n\
def count(obj):\n\
\tcdef PyObject* p = <PyObject*>obj\n\
\ts = \"é😀\"; return p.ob_refcnt";

/// A header that has shrunk since it was analysed: the finding points past
/// its end.
pub const SHRUNK_H: &str = "#pragma once\n#include <Python.h>\n";

/// The span of the `nth` (0-based) occurrence of `needle` in `source`.
pub fn span_of(source: &str, needle: &str, nth: usize) -> Span {
    let start = source
        .match_indices(needle)
        .nth(nth)
        .map(|(at, _)| at)
        .unwrap_or_else(|| panic!("fixture text lacks occurrence {nth} of {needle:?}"));
    LineIndex::new(source.as_bytes()).span(start as u32, (start + needle.len()) as u32)
}

fn event(source: &str, needle: &str, nth: usize, message: &str) -> Event {
    Event {
        span: span_of(source, needle, nth),
        message: message.to_string(),
    }
}

/// `spam.c` with `shift` comment lines inserted at the top, for checking
/// that fingerprints survive code moving.
pub fn spam_source(shift: usize) -> String {
    format!("{}{SPAM_C}", "/* moved */\n".repeat(shift))
}

fn spam_report(shift: usize) -> FileReport {
    let source = spam_source(shift);
    let leak = Finding {
        code: "RS101",
        name: "leaked-reference",
        severity: Severity::Error,
        message: "`result` leaks when `PyList_Append` fails".to_string(),
        span: span_of(&source, "return NULL;", 1),
        function: Some("spam_build".to_string()),
        events: vec![
            event(
                &source,
                "PyList_New(0)",
                0,
                "new reference from `PyList_New`",
            ),
            event(
                &source,
                "PyList_Append(result, item) < 0",
                0,
                "`PyList_Append` fails (returns -1)",
            ),
            event(&source, "return NULL;", 1, "`return NULL` leaks `result`"),
        ],
        help: Some("release it with Py_DECREF(result) before returning".to_string()),
        related: vec![event(&source, "return NULL;", 2, "`result` leaks here")],
        trigger: refsan_ir::Trigger::Oom,
        failing_call: Some(refsan_ir::FailingCall {
            name: "PyList_Append".to_string(),
            span: span_of(&source, "PyList_Append(result, item)", 0),
        }),
    };
    let borrowed = Finding {
        code: "RS110",
        name: "borrowed-across-call",
        severity: Severity::Warning,
        message: "borrowed `first` is used after `PyObject_Print`, which can run Python code"
            .to_string(),
        span: span_of(&source, "first", 2),
        function: Some("spam_first".to_string()),
        events: Vec::new(),
        help: Some("take a strong reference with `PyList_GetItemRef`".to_string()),
        related: Vec::new(),
        trigger: refsan_ir::Trigger::Always,
        failing_call: None,
    };
    let approximate = Note {
        span: span_of(&source, "spam_first", 0),
        function: Some("spam_first".to_string()),
        message: "function `spam_first` analysed approximately: over budget".to_string(),
    };
    let whole_file = Note {
        span: Span::default(),
        function: None,
        message: "macro `Py_NewRef` expanded from the built-in contract table".to_string(),
    };
    FileReport {
        path: "examples/spam.c".to_string(),
        source: Some(Arc::from(source.as_str())),
        // Deliberately out of order: `render` sorts.
        findings: vec![borrowed, leak],
        notes: vec![whole_file, approximate],
        error: None,
    }
}

fn counts_report() -> FileReport {
    FileReport {
        path: "src/counts.pyx".to_string(),
        source: Some(Arc::from(COUNTS_PYX)),
        findings: vec![Finding {
            code: "RS407",
            name: "refcount-field-access",
            severity: Severity::Info,
            message: "`p.ob_refcnt` reads the reference count field directly".to_string(),
            span: span_of(COUNTS_PYX, "p.ob_refcnt", 0),
            function: Some("count".to_string()),
            events: Vec::new(),
            help: Some("use `Py_REFCNT(p)`; the field is wrong for immortal objects".to_string()),
            related: Vec::new(),
            trigger: refsan_ir::Trigger::Always,
            failing_call: None,
        }],
        notes: Vec::new(),
        error: None,
    }
}

fn shrunk_report() -> FileReport {
    let past_end = Span {
        start: 900,
        end: 912,
        line: 40,
        col: 5,
        end_line: 40,
        end_col: 17,
    };
    FileReport {
        path: "include/shrunk.h".to_string(),
        source: Some(Arc::from(SHRUNK_H)),
        findings: vec![Finding {
            code: "RS102",
            name: "decref-borrowed",
            severity: Severity::Error,
            message: "`Py_DECREF(arg)` releases a reference this function does not own".to_string(),
            span: past_end,
            function: None,
            events: vec![Event {
                span: Span {
                    line: 38,
                    end_line: 38,
                    ..past_end
                },
                message: "`arg` is a borrowed parameter".to_string(),
            }],
            help: None,
            related: Vec::new(),
            trigger: refsan_ir::Trigger::Always,
            failing_call: None,
        }],
        notes: Vec::new(),
        error: None,
    }
}

/// A generated file whose text is not available: locations only.
fn unreadable_source_report() -> FileReport {
    let at = |line: u32, col: u32, len: u32| Span {
        start: 0,
        end: 0,
        line,
        col,
        end_line: line,
        end_col: col + len,
    };
    FileReport {
        path: "build/gen_module.c".to_string(),
        source: None,
        findings: vec![Finding {
            code: "RS103",
            name: "use-after-release",
            severity: Severity::Error,
            message: "`tmp` is used after its last reference was released".to_string(),
            span: at(120, 12, 3),
            function: Some("gen_call".to_string()),
            events: vec![
                Event {
                    span: at(110, 5, 14),
                    message: "`tmp` released".to_string(),
                },
                Event {
                    span: at(120, 12, 3),
                    message: "`tmp` used".to_string(),
                },
            ],
            help: None,
            related: Vec::new(),
            trigger: refsan_ir::Trigger::Always,
            failing_call: None,
        }],
        notes: Vec::new(),
        error: None,
    }
}

fn broken_report() -> FileReport {
    FileReport {
        path: "src/broken.c".to_string(),
        source: None,
        findings: Vec::new(),
        notes: Vec::new(),
        error: Some("not UTF-8 text (invalid byte 0xff at offset 17)".to_string()),
    }
}

fn clean_report() -> FileReport {
    FileReport {
        path: "src/clean.c".to_string(),
        source: Some(Arc::from("int x;\n")),
        ..FileReport::default()
    }
}

/// The whole fixture, in a deliberately unsorted order.
pub fn reports() -> Vec<FileReport> {
    reports_shifted(0)
}

pub fn reports_shifted(shift: usize) -> Vec<FileReport> {
    vec![
        unreadable_source_report(),
        spam_report(shift),
        clean_report(),
        broken_report(),
        counts_report(),
        shrunk_report(),
    ]
}

/// Rule descriptors for some of the codes; RS102 and RS103 are left out on
/// purpose (renderers must cope with findings of undescribed rules).
pub fn rules() -> Vec<RuleMeta> {
    vec![
        RuleMeta {
            code: "RS101",
            name: "leaked-reference",
            severity: Severity::Error,
            summary: "An owned reference is neither returned, stored, stolen nor released on some path",
            doc: "## What it does\n\nFinds owned (new) references that are lost on some path.\n\n\
                  ## Why is this bad?\n\nEach call leaks an object.\n\n## Example\n\n```c\n\
                  result = PyList_New(0);\nif (PyList_Append(result, item) < 0)\n    return NULL;\n```\n",
            tags: &["reference-counting"],
            precision: refsan_ir::Precision::High,
        },
        RuleMeta {
            code: "RS110",
            name: "borrowed-across-call",
            severity: Severity::Warning,
            summary: "A borrowed reference is used after a call that can run arbitrary Python code",
            doc: "## What it does\n\nFinds borrowed references used after a call that may free them.\n",
            tags: &["reference-counting"],
            precision: refsan_ir::Precision::High,
        },
        RuleMeta {
            code: "RS407",
            name: "refcount-field-access",
            severity: Severity::Info,
            summary: "Code reads or writes `ob_refcnt` directly",
            doc: "",
            tags: &["reference-counting"],
            precision: refsan_ir::Precision::High,
        },
        // A duplicate descriptor must not produce a second rule.
        RuleMeta {
            code: "RS101",
            name: "leaked-reference",
            severity: Severity::Error,
            summary: "duplicate",
            doc: "",
            tags: &["reference-counting"],
            precision: refsan_ir::Precision::High,
        },
    ]
}

pub fn options(color: bool, show_notes: bool) -> RenderOptions {
    RenderOptions {
        color,
        show_notes,
        tool_version: "0.0.0-test".to_string(),
        ..RenderOptions::default()
    }
}

pub fn render_to_string(
    reports: &[FileReport],
    format: refsan_report::Format,
    opts: &RenderOptions,
) -> String {
    let mut out = Vec::new();
    refsan_report::render(&mut out, reports, &rules(), format, opts)
        .expect("writing to a Vec cannot fail");
    String::from_utf8(out).expect("renderers write UTF-8")
}
