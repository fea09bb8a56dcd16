use super::Verdict;
use crate::violation::{Kind, Violation};
use refsan_ir::{ApiFacts, Gil};
use refsan_ir::{Precision, RuleMeta, Severity};

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

## Known problems
Calls inside helpers called while the GIL is released are not followed; the knowledge base lists the C-API functions documented as safe without the GIL.

## Options
None beyond rule selection.

## References
- https://docs.python.org/3/c-api/init.html#releasing-the-gil-from-extension-code
"#,
    tags: &["gil", "concurrency"],
    precision: Precision::High,
};

pub fn judge(v: &Violation, facts: &dyn ApiFacts) -> Option<Verdict> {
    let Kind::CallWithoutGil { callee } = &v.kind else {
        return None;
    };
    // Only calls that need the GIL (the knowledge base lists those that
    // are documented as safe without it).
    if facts
        .api(callee)
        .is_some_and(|info| info.behaviour.gil != Gil::Needed)
    {
        return None;
    }
    Some(Verdict::new(
        format!("`{callee}` is called without holding the GIL (inside Py_BEGIN_ALLOW_THREADS)"),
        format!("`{callee}` runs without the GIL here"),
        None,
    ))
}

#[cfg(test)]
mod tests {
    use crate::test_support::check_c;

    #[test]
    fn object_built_without_the_gil() {
        check_c(
            "RS204",
            r#"
static PyObject *
read_some(PyObject *self, PyObject *arg)
{
    char buf[64];
    Py_ssize_t n;
    PyObject *result;
    int fd = (int)PyLong_AsLong(arg);
    if (fd == -1 && PyErr_Occurred())
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    n = read(fd, buf, sizeof buf);
    result = PyBytes_FromStringAndSize(buf, n);
    //       ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^ RS204: `PyBytes_FromStringAndSize`
    Py_END_ALLOW_THREADS
    return result;
}
"#,
        );
    }

    #[test]
    fn only_c_work_and_raw_memory_without_the_gil() {
        check_c(
            "RS204",
            r#"
static PyObject *
read_some(PyObject *self, PyObject *arg)
{
    Py_ssize_t n;
    int fd = (int)PyLong_AsLong(arg);
    if (fd == -1 && PyErr_Occurred())
        return NULL;
    char *buf = PyMem_Malloc(64);
    if (buf == NULL)
        return PyErr_NoMemory();
    Py_BEGIN_ALLOW_THREADS
    n = read(fd, buf, 64);
    PyMem_RawFree(PyMem_RawMalloc(1));
    Py_END_ALLOW_THREADS
    PyObject *result = PyBytes_FromStringAndSize(buf, n);
    PyMem_Free(buf);
    return result;
}
"#,
        );
    }
}
