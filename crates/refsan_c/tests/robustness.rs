//! The front-end must answer for any input: no panic, no stack overflow,
//! every function valid.
//!
//! - `corpus`: every C/C++ file under `$REFSAN_CORPUS` (skipped, with a
//!   message, when the variable is unset);
//! - deep nesting of every recursive construct, on a 2 MiB thread stack
//!   (what worker threads get);
//! - property test: real snippets with random mutations.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failing test

use proptest::prelude::*;
use refsan_ir::{Language, Module};
use std::path::{Path, PathBuf};
use std::time::Instant;

fn check(path: &str, src: &[u8], language: Language) -> Module {
    let module = refsan_c::lower_file(path, src, language);
    for f in &module.functions {
        if let Err(e) = f.validate() {
            panic!("{path}: invalid IR: {e}");
        }
    }
    module
}

fn check_both(src: &[u8]) {
    check("fuzz.c", src, Language::C);
    check("fuzz.cpp", src, Language::Cpp);
}

/// Runs `f` on a thread with the stack size worker threads get by default.
fn on_small_stack(f: impl FnOnce() + Send + 'static) {
    let handle = std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(f)
        .expect("spawn test thread");
    if let Err(panic) = handle.join() {
        std::panic::resume_unwind(panic);
    }
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, out);
        } else if refsan_c::language_for_path(&path).is_some() {
            out.push(path);
        }
    }
}

#[test]
fn corpus() {
    let Some(dir) = std::env::var_os("REFSAN_CORPUS") else {
        println!("REFSAN_CORPUS is not set: corpus robustness test skipped");
        return;
    };
    let mut files = Vec::new();
    collect(Path::new(&dir), &mut files);
    assert!(!files.is_empty(), "no C/C++ files under {dir:?}");
    files.sort();
    let start = Instant::now();
    let (mut lines, mut functions, mut approximate, mut problems) = (0, 0, 0, 0);
    for path in &files {
        let src = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        lines += src.iter().filter(|b| **b == b'\n').count();
        let language = refsan_c::detect_language(path, &src).unwrap_or(Language::C);
        let module = check(&path.display().to_string(), &src, language);
        functions += module.functions.len();
        approximate += module
            .functions
            .iter()
            .filter(|f| !f.approximate.is_empty())
            .count();
        problems += module.problems.len();
    }
    println!(
        "{} files, {lines} lines, {functions} functions ({approximate} approximate), {problems} problems in {:.1} s",
        files.len(),
        start.elapsed().as_secs_f64()
    );
}

fn nested(open: &str, middle: &str, close: &str, depth: usize) -> String {
    let mut s = String::with_capacity((open.len() + close.len()) * depth + middle.len());
    for _ in 0..depth {
        s.push_str(open);
    }
    s.push_str(middle);
    for _ in 0..depth {
        s.push_str(close);
    }
    s
}

#[test]
fn deep_nesting_of_every_construct() {
    on_small_stack(|| {
        let depth = 5000;
        let cases = [
            format!(
                "int f(int x) {{ return {}; }}",
                nested("(", "x", ")", depth)
            ),
            format!("int f(int x) {}", nested("{", "x = 1;", "}", depth)),
            format!(
                "int f(int x) {{ {} }}",
                nested("if (x) ", "x = 1;", "", depth)
            ),
            format!(
                "int f(int x) {{ {} return 0; }}",
                nested("if (x) {} else ", "x = 1;", "", depth)
            ),
            format!(
                "int f(int x) {{ while ({}) x--; }}",
                nested("x && ", "x", "", depth)
            ),
            format!(
                "int f(int x) {{ return {}; }}",
                nested("x ? 1 : ", "0", "", depth)
            ),
            format!("int f(int x) {{ x = {}; }}", nested("g(", "x", ")", depth)),
            format!("int f(int x) {{ x = {}; }}", nested("-", "x", "", depth)),
            format!("int f(int x) {{ x = {}; }}", nested("*", "p", "", depth)),
            format!("int f(int x) {{ x = p{}; }}", nested("->a", "", "", depth)),
            format!("int f(int x) {{ x = p{}; }}", nested(".a", "", "", depth)),
            format!("int f(int x) {{ x = p{}; }}", nested("[0]", "", "", depth)),
            format!("int f(int x) {{ x = {}; }}", nested("a = ", "0", "", depth)),
            format!(
                "int f(int x) {{ x = {}; }}",
                nested("(a, ", "0", ")", depth)
            ),
            format!(
                "int f(int x) {{ {} }}",
                nested("do { ", "x--;", " } while (x);", depth)
            ),
            format!(
                "int f(int x) {{ {} }}",
                nested("switch (x) { case 1: ", "x--;", " }", depth)
            ),
            format!("int f(int x) {{ {} }}", nested("l: ", "x--;", "", depth)),
            format!(
                "int f(int x) {{\n{}\n}}",
                nested("#ifdef A\n", "x--;", "\n#endif\n", 500)
            ),
            nested("#ifdef A\n", "int f(void) { return 0; }", "\n#endif\n", 500),
            nested(
                "extern \"C\" {\n",
                "int f(void) { return 0; }",
                "\n}\n",
                500,
            ),
            nested("namespace a {\n", "int f(void) { return 0; }", "\n}\n", 500),
            format!(
                "typedef struct {{ {} }} T;",
                nested("struct { ", "int a;", " } s;", depth)
            ),
            format!("static PyMethodDef m[] = {};", nested("{", "0", "}", depth)),
            format!(
                "{} f(void) {{ return 0; }}",
                nested("Py_LOCAL_INLINE(", "int", ")", 200)
            ),
            format!(
                "int f(void) {{ {}; }}",
                nested("Py_INCREF(", "x", ")", depth)
            ),
            format!(
                "int f(void) {{ {}; }}",
                nested("Py_CLEAR(", "x", ")", depth)
            ),
            format!(
                "int f(void) {{ {}; }}",
                nested("Py_NewRef(", "x", ")", depth)
            ),
            format!(
                "int f(void) {{ {}; }}",
                nested("static_cast<int>(", "x", ")", depth)
            ),
            format!("int f(void) {{ {}; }}", nested("(int)", "x", "", depth)),
            format!(
                "int f(void) {{ int x = {}; }}",
                nested("{", "0", "}", depth)
            ),
        ];
        for src in &cases {
            check_both(src.as_bytes());
        }
    });
}

#[test]
fn recursive_and_exploding_macros_terminate() {
    on_small_stack(|| {
        let src = r#"
#define A(x) B(x) + B(x)
#define B(x) C(x) + C(x)
#define C(x) D(x) + D(x)
#define D(x) E(x) + E(x)
#define E(x) F(x) + F(x)
#define F(x) G(x) + G(x)
#define G(x) H(x) + H(x)
#define H(x) I(x) + I(x)
#define I(x) J(x) + J(x)
#define J(x) A(x) + f(x)
#define SELF(x) SELF(x) + 1
int f(int y) { return A(y) + SELF(y); }
"#;
        let m = check("macros.c", src.as_bytes(), Language::C);
        assert_eq!(m.functions.len(), 1);
    });
}

#[test]
fn pathological_parses_are_abandoned() {
    // tree-sitter-cpp's error recovery on this takes minutes.
    let src = "a < b > c ".repeat(30_000);
    let start = Instant::now();
    let m = check("slow.cpp", src.as_bytes(), Language::Cpp);
    // A hang guard, not a speed test: generous under load.
    assert!(
        start.elapsed().as_secs() < 300,
        "took {:?}",
        start.elapsed()
    );
    assert!(
        m.problems.iter().any(|p| p.message.contains("gave up")),
        "{:?}",
        m.problems
    );
}

#[test]
fn binary_and_empty_inputs() {
    check_both(b"");
    check_both(b"\0\0\0\xff\xfe");
    let noise: Vec<u8> = (0..20_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    check_both(&noise);
    check_both("int f(void) { return \"é\u{1F600}\"; } /* \u{0} */".as_bytes());
}

const SEEDS: &[&str] = &[
    r#"
static PyObject *
nested(PyObject *self, PyObject *args)
{
    PyObject *x = PyList_New(0), *y;
    if (x == NULL)
        return NULL;
    y = PyObject_CallFunction(func, "O", PyLong_FromLong(3));
    if (PyList_Append(x, PyTuple_GET_ITEM(args, 0)) < 0) {
        Py_DECREF(x);
        return NULL;
    }
    if (!y || PyErr_Occurred())
        goto error;
    self->attr = y;
    Py_XSETREF(self->other, x);
    Py_CLEAR(self->cache);
    return Py_NewRef(self->attr);
error:
    Py_XDECREF(y);
    return NULL;
}
"#,
    r#"
#define CHECK(x) do { if ((x) == NULL) goto error; } while (0)
typedef struct { PyObject_HEAD PyObject *a; } FooObject;
static int
Foo_traverse(FooObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->a);
    return 0;
}
static PyObject *
f(PyObject *self, PyObject *arg)
{
    PyObject *a = NULL;
    int r;
    CHECK(a = PyObject_GetAttrString(arg, "x"));
#ifdef HAVE_FOO
    r = foo(a);
#else
    r = 0;
#endif
    Py_BEGIN_ALLOW_THREADS
    r = slow(r);
    Py_END_ALLOW_THREADS
    switch (r) { case 0: break; default: Py_RETURN_NONE; }
    for (;;) { if (r-- < 0) break; }
    return a;
error:
    return NULL;
}
static PyMethodDef methods[] = {
    {"f", (PyCFunction)f, METH_O, NULL},
    {NULL}
};
static PyTypeObject FooType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "m.Foo",
    .tp_basicsize = sizeof(FooObject),
    .tp_traverse = (traverseproc)Foo_traverse,
};
"#,
    r#"
extern "C" {
class Holder { public: Holder(PyObject *o) : o_(o) {} PyObject *o_; };
static PyObject *wrap(PyObject *self, PyObject *args) {
    auto r = static_cast<PyObject *>(PyList_New(0));
    if (r == nullptr) throw std::bad_alloc();
    try { Holder h(PyLong_FromLong(1)); } catch (...) { return NULL; }
    return r;
}
}
"#,
];

/// Applies one mutation chosen from `kind` to `src`.
fn mutate(src: &[u8], kind: u8, a: usize, b: usize, bytes: &[u8]) -> Vec<u8> {
    let len = src.len().max(1);
    let (a, b) = (a % len, b % len);
    let (lo, hi) = (a.min(b), a.max(b).min(src.len()));
    let lo = lo.min(src.len());
    let mut out = src.to_vec();
    match kind % 6 {
        0 => {
            out.drain(lo..hi);
        }
        1 => {
            out.splice(lo..lo, bytes.iter().copied());
        }
        2 => {
            let dup = src[lo..hi].to_vec();
            out.splice(hi..hi, dup);
        }
        3 => {
            for (i, byte) in bytes.iter().enumerate() {
                if let Some(slot) = out.get_mut(lo + i) {
                    *slot = *byte;
                }
            }
        }
        4 => {
            let opener: &[u8] = match bytes.first().copied().unwrap_or(0) % 4 {
                0 => b"(",
                1 => b"{",
                2 => b"#if X\n",
                _ => b"a ? ",
            };
            let deep: Vec<u8> = opener
                .iter()
                .copied()
                .cycle()
                .take(opener.len() * (1000 + b % 9000))
                .collect();
            out.splice(lo..lo, deep);
        }
        _ => {
            // Swap two ranges' order: moves braces and directives around.
            let tail = out.split_off(lo);
            out.splice(0..0, tail);
        }
    }
    out
}

/// 512 cases by default (a few seconds); `PROPTEST_CASES=N` for a soak.
fn config() -> ProptestConfig {
    let mut config = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = 512;
    }
    config.failure_persistence = None;
    config
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn mutated_snippets_are_lowered_without_panic(
        seed in 0..SEEDS.len(),
        mutations in proptest::collection::vec(
            (any::<u8>(), any::<usize>(), any::<usize>(), proptest::collection::vec(any::<u8>(), 0..16)),
            1..4,
        ),
    ) {
        let mut src = SEEDS[seed].as_bytes().to_vec();
        for (kind, a, b, bytes) in &mutations {
            src = mutate(&src, *kind, *a, *b, bytes);
        }
        on_small_stack(move || check_both(&src));
    }
}
