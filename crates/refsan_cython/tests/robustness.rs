//! The front-end never panics, never overflows the stack, and always emits
//! valid IR: real Cython snippets mutated at random (bytes deleted,
//! inserted, lines duplicated, indentation broken), arbitrary bytes, and
//! pathologically nested input.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failing test

use proptest::prelude::*;

fn corpus() -> Vec<String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut out = Vec::new();
    for dir in [
        root.join("examples/seed"),
        root.join("examples/seed/fixed"),
        root.join("tests/fixtures/cython"),
    ] {
        if let Ok(rd) = std::fs::read_dir(&dir) {
            let mut files: Vec<_> = rd.flatten().map(|e| e.path()).collect();
            files.sort();
            for p in files {
                if refsan_cython::is_cython_path(&p) {
                    if let Ok(s) = std::fs::read_to_string(&p) {
                        out.push(s);
                    }
                }
            }
        }
    }
    assert!(out.len() > 20, "the snippets are missing");
    out
}

fn check(src: &[u8]) {
    let m = refsan_cython::lower_file_unguarded("m.pyx", src);
    for f in &m.functions {
        if let Err(e) = f.validate() {
            panic!("invalid IR: {e}");
        }
    }
}

/// Fragments that stress the grammar when spliced in anywhere.
const FRAGMENTS: &[&str] = &[
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ":",
    "\n",
    "\n    ",
    "\n        ",
    "\t",
    "\\\n",
    "'",
    "\"",
    "'''",
    "f\"{",
    "}\"",
    "<object>",
    "<PyObject*>",
    "<list?>",
    "cdef ",
    "cpdef ",
    "def ",
    "class ",
    "cdef class ",
    "cdef extern from \"h\":\n    ",
    "ctypedef ",
    "with nogil:\n",
    "with gil:\n",
    "try:\n",
    "except:\n",
    "finally:\n",
    "return ",
    "raise ",
    "lambda x: ",
    " for x in y",
    " if ",
    " else ",
    "yield ",
    "await ",
    "@dec\n",
    "Py_INCREF(",
    "Py_CLEAR(",
    ".ob_refcnt",
    "NULL",
    "&",
    "*",
    "**",
    "->",
    "=",
    ":=",
    ",",
    ";",
    "#",
    "# refsan: ignore",
    "except -1",
    "noexcept",
    "nogil",
    "\u{00e9}",
    "\u{0000}",
    "\r\n",
];

#[derive(Clone, Debug)]
enum Mutation {
    Delete(usize, usize),
    Insert(usize, usize),
    DuplicateLine(usize),
    Dedent(usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1usize..40).prop_map(|(a, n)| Mutation::Delete(a, n)),
        (any::<usize>(), 0..FRAGMENTS.len()).prop_map(|(a, f)| Mutation::Insert(a, f)),
        any::<usize>().prop_map(Mutation::DuplicateLine),
        any::<usize>().prop_map(Mutation::Dedent),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn apply(src: &str, muts: &[Mutation]) -> Vec<u8> {
    let mut s: Vec<u8> = src.as_bytes().to_vec();
    for m in muts {
        let len = s.len().max(1);
        match m {
            Mutation::Delete(a, n) => {
                let a = a % len;
                let b = (a + n).min(s.len());
                if a < b {
                    s.drain(a..b);
                }
            }
            Mutation::Insert(a, f) => {
                let a = a % (s.len() + 1);
                let frag = FRAGMENTS[*f].as_bytes();
                s.splice(a..a, frag.iter().copied());
            }
            Mutation::DuplicateLine(a) => {
                let text = String::from_utf8_lossy(&s).into_owned();
                let mut lines: Vec<&str> = text.lines().collect();
                if !lines.is_empty() {
                    let i = a % lines.len();
                    let l = lines[i];
                    lines.insert(i, l);
                }
                s = lines.join("\n").into_bytes();
            }
            Mutation::Dedent(a) => {
                let text = String::from_utf8_lossy(&s).into_owned();
                let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
                if !lines.is_empty() {
                    let i = a % lines.len();
                    lines[i] = lines[i].trim_start().to_string();
                }
                s = lines.join("\n").into_bytes();
            }
            Mutation::Truncate(a) => {
                let a = a % len;
                s.truncate(a);
            }
        }
    }
    s
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn mutated_snippets_lower_to_valid_ir(
        pick in any::<usize>(),
        muts in proptest::collection::vec(mutation(), 1..8),
    ) {
        let snippets = corpus();
        let src = &snippets[pick % snippets.len()];
        check(&apply(src, &muts));
    }

    #[test]
    fn arbitrary_bytes_lower_to_valid_ir(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        check(&bytes);
    }

    #[test]
    fn token_soup_lowers_to_valid_ir(picks in proptest::collection::vec(0..FRAGMENTS.len(), 0..120)) {
        let mut s = String::from("def f(x):\n    ");
        for p in picks {
            s.push_str(FRAGMENTS[p]);
        }
        check(s.as_bytes());
    }
}

/// Deeply nested input: an error (or an approximate function), never a
/// stack overflow, even on a thread with a small stack.
#[test]
fn deep_nesting_does_not_overflow_the_stack() {
    let inputs: Vec<String> = vec![
        format!("x = {}1{}\n", "(".repeat(20_000), ")".repeat(20_000)),
        format!(
            "def f():\n    return {}1{}\n",
            "[".repeat(5_000),
            "]".repeat(5_000)
        ),
        format!("def f(x):\n    return {}x\n", "-".repeat(50_000)),
        format!("def f(x):\n    return {}x\n", "not ".repeat(20_000)),
        format!("def f(p):\n    return {}p\n", "<object>".repeat(20_000)),
        format!("def f(x):\n    return x{}\n", ".a".repeat(50_000)),
        format!("def f(x):\n    return x{}\n", "(1)".repeat(20_000)),
        format!("def f(x):\n    return {}\n", vec!["x"; 20_000].join(" + ")),
        format!(
            "def f(x):\n    return {}\n",
            vec!["x"; 20_000].join(" and ")
        ),
        format!("def f(x):\n    return f\"{}\"\n", "{f'".repeat(2_000)),
        {
            let mut s = String::from("def f(x):\n");
            for i in 0..3_000 {
                s.push_str(&" ".repeat(i + 1));
                s.push_str("if x:\n");
            }
            s.push_str(&" ".repeat(3_001));
            s.push_str("pass\n");
            s
        },
        {
            let mut s = String::from("def f(x):\n");
            for i in 0..500 {
                s.push_str(&" ".repeat(i + 1));
                s.push_str("try:\n");
            }
            s
        },
        format!(
            "def f(x):\n{}",
            "    try:\n        x()\n    finally:\n        x()\n".repeat(2_000)
        ),
    ];
    let handle = std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(move || {
            for src in inputs {
                check(src.as_bytes());
            }
        })
        .expect("spawn");
    handle.join().expect("no stack overflow, no panic");
}

/// Nested `try/finally` duplicates the `finally` bodies; the function budget
/// keeps that bounded.
#[test]
fn nested_finally_is_bounded() {
    let mut s = String::from("def f(x):\n");
    for i in 0..24 {
        let pad = "    ".repeat(i + 1);
        s.push_str(&format!("{pad}try:\n{pad}    if x: return x\n"));
    }
    let pad = "    ".repeat(25);
    s.push_str(&format!("{pad}x()\n"));
    for i in (0..24).rev() {
        let pad = "    ".repeat(i + 1);
        s.push_str(&format!("{pad}finally:\n{pad}    x.close()\n"));
    }
    let start = std::time::Instant::now();
    let m = refsan_cython::lower_file_unguarded("m.pyx", s.as_bytes());
    // A hang guard, not a speed test: generous under load.
    assert!(
        start.elapsed().as_secs() < 300,
        "took {:?}",
        start.elapsed()
    );
    let f = &m.functions[0];
    f.validate().expect("valid");
    assert!(f.blocks.len() < 200_000, "{} blocks", f.blocks.len());
}
