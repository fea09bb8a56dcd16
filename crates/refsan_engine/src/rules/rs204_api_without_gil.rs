use super::Verdict;
use crate::violation::{Kind, Violation};
use refsan_ir::{RuleMeta, Severity};

pub static META: RuleMeta = RuleMeta {
    code: "RS204",
    name: "api-without-gil",
    severity: Severity::Error,
    summary: "Python C-API call between Py_BEGIN_ALLOW_THREADS and Py_END_ALLOW_THREADS",
    doc: r#"# RS204 api-without-gil

## What it does
Finds Python C-API calls, and `Py_INCREF`/`Py_DECREF`, made while the
thread does not hold the GIL: between `Py_BEGIN_ALLOW_THREADS` and
`Py_END_ALLOW_THREADS` (or `PyEval_SaveThread`/`PyEval_RestoreThread`),
or inside a Cython `with nogil:` block.

## Why is this bad?
Without the GIL another thread runs Python code at the same time.
Reference counts are updated without synchronisation and objects are
modified concurrently: lost updates, objects freed under the caller,
crashes that depend on timing.

## Example
```c
    Py_BEGIN_ALLOW_THREADS
    n = read(fd, buf, size);
    result = PyBytes_FromStringAndSize(buf, n);   /* no GIL here */
    Py_END_ALLOW_THREADS
```

Use instead: do only C work in the released region; build Python
objects after `Py_END_ALLOW_THREADS`.
"#,
};

pub fn judge(v: &Violation) -> Option<Verdict> {
    let Kind::CallWithoutGil { callee } = &v.kind else {
        return None;
    };
    if allowed_without_gil(callee) {
        return None;
    }
    Some(Verdict::new(
        format!("`{callee}` is called without holding the GIL (inside Py_BEGIN_ALLOW_THREADS)"),
        format!("`{callee}` runs without the GIL here"),
        None,
    ))
}

/// C-API functions documented as safe without the GIL.
pub fn allowed_without_gil(name: &str) -> bool {
    name.starts_with("PyMem_Raw")
        || name.starts_with("PyGILState_")
        || name.starts_with("PyThread_")
        || name.starts_with("PyOS_")
        || matches!(
            name,
            "PyEval_SaveThread"
                | "PyEval_RestoreThread"
                | "PyEval_AcquireThread"
                | "PyEval_ReleaseThread"
                | "Py_FatalError"
                | "PyErr_SetInterrupt"
                | "PyErr_SetInterruptEx"
                | "Py_AddPendingCall"
                | "Py_IsInitialized"
                | "PyBuffer_IsContiguous"
                | "PyBuffer_GetPointer"
                | "PyBuffer_ToContiguous"
                | "PyBuffer_FromContiguous"
                | "PyBuffer_FillContiguousStrides"
                | "_PyTime_GetMonotonicClock"
                | "_PyTime_GetPerfCounter"
                | "PyUnicode_READ"
                | "PyUnicode_WRITE"
                | "PyUnicode_READ_CHAR"
                | "PyUnicode_DATA"
                | "PyUnicode_KIND"
                | "PyUnicode_GET_LENGTH"
                | "PyBytes_AS_STRING"
                | "PyBytes_GET_SIZE"
                | "PyByteArray_AS_STRING"
                | "PyByteArray_GET_SIZE"
                | "PyTuple_GET_SIZE"
                | "PyList_GET_SIZE"
                | "Py_UNREACHABLE"
        )
}
