//! Snapshots of the IR each Cython construct lowers to: the shapes the
//! engine's rules rely on (managed variables, casts, exception edges,
//! `try`/`finally`, `with nogil`, raw refcount calls, `cdef class`
//! attributes and slots, extern declarations and their contracts).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failing test

use refsan_ir::Module;

fn lower(src: &str) -> Module {
    let m = refsan_cython::lower_file_unguarded("t.pyx", src.as_bytes());
    for f in &m.functions {
        if let Err(e) = f.validate() {
            panic!("invalid IR: {e}\n{}", f.dump());
        }
    }
    m
}

/// The module as text: declarations (synthetic callees left out), classes,
/// problems, approximations and every function's CFG.
fn show(m: &Module) -> String {
    let mut out = String::new();
    for d in &m.declarations {
        if d.name.starts_with("__pyx_") {
            continue;
        }
        out.push_str(&format!(
            "declare {} -> {:?} ({} params): {}\n",
            d.name,
            d.returns,
            d.param_count,
            match &d.contract {
                Some((c, src)) => format!(
                    "returns {:?}, failure {:?}, args {:?} [{:?}]",
                    c.returns, c.failure, c.args, src
                ),
                None => "no contract".to_string(),
            }
        ));
    }
    for s in &m.structs {
        let fields: Vec<String> = s
            .fields
            .iter()
            .map(|f| {
                format!(
                    "{}: {} ({:?}{})",
                    f.name,
                    f.c_type,
                    f.ty,
                    if f.managed { ", managed" } else { "" }
                )
            })
            .collect();
        out.push_str(&format!(
            "struct {} object={} {{ {} }}\n",
            s.names.join("/"),
            s.is_object,
            fields.join("; ")
        ));
    }
    for t in &m.type_defs {
        let slots: Vec<String> = t
            .slots
            .iter()
            .map(|s| format!("{} = {}", s.slot, s.value))
            .collect();
        out.push_str(&format!(
            "type {} {:?} struct={:?} [{}]\n",
            t.name,
            t.kind,
            t.object_struct,
            slots.join(", ")
        ));
    }
    for g in &m.globals {
        out.push_str(&format!("global {}: {} ({:?})\n", g.name, g.c_type, g.ty));
    }
    for s in &m.suppressions {
        out.push_str(&format!("suppress line {}: {:?}\n", s.line, s.codes));
    }
    for p in &m.problems {
        out.push_str(&format!("problem line {}: {}\n", p.span.line, p.message));
    }
    for f in &m.functions {
        if let Some((c, src)) = &f.declared {
            out.push_str(&format!(
                "declared {}: returns {:?}, failure {:?} [{:?}]\n",
                f.name, c.returns, c.failure, src
            ));
        }
        for (sp, why) in &f.approximate {
            out.push_str(&format!("approximate {} line {}: {why}\n", f.name, sp.line));
        }
        let managed: Vec<&str> = f
            .vars
            .iter()
            .filter(|v| v.managed)
            .map(|v| v.name.as_str())
            .collect();
        if !managed.is_empty() {
            out.push_str(&format!("managed in {}: {}\n", f.name, managed.join(", ")));
        }
    }
    out.push_str(&m.dump());
    out
}

macro_rules! snap {
    ($name:ident, $src:expr) => {
        #[test]
        fn $name() {
            let m = lower($src);
            insta::assert_snapshot!(show(&m));
        }
    };
}

snap!(
    managed_locals_assignment_and_scope_exit,
    "def f(a):\n    cdef object x = a\n    y = [a]\n    x = y\n    return x\n"
);

snap!(
    assigned_parameter_is_increfed_at_entry,
    "def f(a):\n    a = str(a)\n    return a\n"
);

snap!(
    object_cast_kept_and_temporary,
    "from cpython.object cimport PyObject\ncdef extern from \"h.h\":\n    PyObject* get() # refsan: returns borrowed\n\ndef f():\n    cdef PyObject* p = get()\n    cdef object kept = <object>p\n    return len(<object>p)\n"
);

snap!(
    pyobject_cast_alias_and_dangling_temporary,
    "from cpython.object cimport PyObject\ncdef extern from \"h.h\":\n    void use(PyObject* o)\n\ndef f(o):\n    cdef PyObject* alias = <PyObject*>o\n    cdef PyObject* dangling = <PyObject*>str(o)\n    use(alias)\n    use(dangling)\n"
);

snap!(
    return_increfs_borrowed_and_def_returns_none,
    "def f(a, flag):\n    if flag:\n        return a\n\ncdef object g(a):\n    return a\n"
);

snap!(
    cdef_functions_error_exits,
    "cdef object obj_fn(x):\n    return x.attr\n\ncdef int int_fn(x) except -1:\n    x.method()\n    return 0\n\ncdef void void_fn(x) noexcept:\n    x.method()\n\ncdef int maybe_fn(x):\n    return len(x)\n\ndef caller(x):\n    obj_fn(x)\n    int_fn(x)\n    void_fn(x)\n    return maybe_fn(x)\n"
);

snap!(
    extern_declarations_and_their_contracts,
    "from cpython.object cimport PyObject\ncdef extern from \"lib.h\":\n    PyObject* ann_new() # refsan: returns new\n    # refsan: returns borrowed\n    PyObject* ann_borrowed_above()\n    void ann_steal(PyObject* a, PyObject* b) # refsan: steals 2\n    object obj_ret(int n)\n    PyObject* words_new() # Returns a new reference\n    PyObject* words_borrowed() # borrowed ref\n    void words_steal(PyObject* item) # Consumes a reference (steals)\n    PyObject* unknown(int n)\n    int plain(int n) except -1\n"
);

snap!(
    cpython_cimports_object_results_are_declared,
    "from cpython.list cimport PyList_New, PyList_GetItem, PyList_SET_ITEM\nfrom cpython.ref cimport Py_INCREF\n\ndef f(x):\n    l = PyList_New(1)\n    Py_INCREF(x)\n    PyList_SET_ITEM(l, 0, x)\n    first = <object>PyList_GetItem(l, 0)\n    return first\n"
);

snap!(
    try_except_with_name_and_bare_raise,
    "def f(x):\n    try:\n        y = x.run()\n    except ValueError as e:\n        print(e)\n        raise\n    except:\n        y = None\n    else:\n        y = 1\n    return y\n"
);

snap!(
    try_finally_runs_on_both_paths_and_on_return,
    "def f(x):\n    try:\n        if x:\n            return x.a\n        x.b()\n    finally:\n        x.close()\n"
);

snap!(
    loops_over_objects_and_ranges,
    "def f(items, int n):\n    cdef int i\n    total = 0\n    for item in items:\n        if item is None:\n            continue\n        if item == 3:\n            break\n        total = total + item\n    else:\n        total = -1\n    for i in range(n):\n        pass\n    while n > 0:\n        n -= 1\n    return total\n"
);

snap!(
    with_statement_calls_enter_and_exit,
    "def f(path):\n    with open(path) as fh:\n        return fh.read()\n"
);

snap!(
    nogil_and_gil_regions,
    "cdef extern from \"h.h\":\n    int work(int n) nogil\n\ndef f(int n):\n    cdef int r\n    with nogil:\n        r = work(n)\n        with gil:\n            print(r)\n    return r\n"
);

snap!(
    raw_refcount_calls,
    "from cpython.object cimport PyObject\nfrom cpython.ref cimport Py_INCREF, Py_DECREF, Py_XINCREF, Py_XDECREF, Py_CLEAR\n\ncdef class C:\n    cdef PyObject* raw\n\n    def f(self, obj):\n        cdef PyObject* p = <PyObject*>obj\n        Py_INCREF(p)\n        Py_DECREF(p)\n        Py_XINCREF(p)\n        Py_XDECREF(p)\n        Py_INCREF(<object>p)\n        Py_DECREF(obj)\n        Py_CLEAR(self.raw)\n"
);

snap!(
    refcnt_field_reads_and_writes,
    "cdef extern from \"Python.h\":\n    ctypedef struct PyObject:\n        Py_ssize_t ob_refcnt\n\ndef f(o):\n    cdef PyObject* p = <PyObject*>o\n    n = p.ob_refcnt\n    p.ob_refcnt += 1\n    return n\n"
);

snap!(
    cdef_class_struct_slots_and_attributes,
    "from cpython.object cimport PyObject\ncdef extern from \"h.h\":\n    PyObject* acquire() # refsan: returns new\n\ncdef class Wrapper(Base):\n    cdef PyObject* raw\n    cdef public object name\n    cdef list items\n    cdef int count\n    cdef readonly double ratio\n\n    def __cinit__(self, name):\n        self.raw = acquire()\n        if self.raw == NULL:\n            raise MemoryError()\n        self.name = name\n        self.count = 0\n\n    def __dealloc__(self):\n        print(<object>self.raw)\n\n    cdef int bump(self) except -1:\n        self.count += 1\n        return self.count\n\n    def use(self):\n        self.bump()\n        return self.name\n"
);

snap!(
    raise_and_assert,
    "def f(x):\n    assert x, \"x is required\"\n    if x < 0:\n        raise ValueError(f\"negative: {x}\")\n    return x\n"
);

snap!(
    literals_fstrings_comprehensions_and_closures,
    "def f(xs, k):\n    d = {k: [x for x in xs if x], 'n': len(xs)}\n    s = f\"{k!r:>10} {d['n']}\"\n    g = lambda y: y + k\n    return (d, s, g)\n"
);

snap!(
    boolean_and_conditional_values,
    "def f(a, b, int n):\n    x = a or b\n    y = a if n > 0 else b\n    cdef int z = n > 0 and n < 10\n    return (x, y, z)\n"
);

snap!(
    suppressions_and_parse_errors,
    "def f(x):  # refsan: ignore[RS101]\n    y = (x +\n    return x  # refsan: ignore\n\ndef g(a):\n    b = a ===\n    return a\n\nthis is not, python =\n"
);

snap!(
    module_globals,
    "cdef object cache = None\ncdef int counter = 0\ncdef vint flag = 0\n\ndef f(x):\n    global cache, counter\n    cache = x\n    counter = 1\n"
);

#[test]
fn every_function_of_the_seed_examples_validates() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/seed");
    let mut n = 0;
    for sub in [dir.clone(), dir.join("fixed")] {
        for e in std::fs::read_dir(&sub).expect("seed dir").flatten() {
            let p = e.path();
            if refsan_cython::is_cython_path(&p) {
                let src = std::fs::read(&p).expect("read");
                let m = lower(&String::from_utf8_lossy(&src));
                assert!(m.problems.is_empty(), "{}: {:?}", p.display(), m.problems);
                n += m.functions.len();
            }
        }
    }
    assert!(n >= 14, "only {n} functions");
}

#[test]
fn path_predicate() {
    use std::path::Path;
    assert!(refsan_cython::is_cython_path(Path::new("a/b.pyx")));
    assert!(refsan_cython::is_cython_path(Path::new("b.pxd")));
    assert!(refsan_cython::is_cython_path(Path::new("b.pxi")));
    assert!(!refsan_cython::is_cython_path(Path::new("b.py")));
    assert!(!refsan_cython::is_cython_path(Path::new("b.c")));
}
