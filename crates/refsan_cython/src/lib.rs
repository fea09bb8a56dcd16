//! refsan's Cython front-end: an error-tolerant parser for `.pyx`, `.pxd`
//! and `.pxi` files and their lowering into refsan's ownership IR.
//!
//! The lowering makes Cython's own reference handling explicit with
//! `Origin::Managed` statements, so the engine sees what Cython's generated
//! C would do:
//!
//! - `object`-typed (and Python-typed) locals are managed: `x = NULL` at
//!   entry, on assignment `incref v` (unless v is a new reference held by a
//!   temporary), `%old = x; x = v; xdecref %old`, and `xdecref x` on every
//!   exit (`ScopeExit`).
//! - `<object>p` is `incref p` (`ObjectCast`); the reference belongs to
//!   whoever receives the value, or is released after the statement
//!   (`TempRelease`). `<PyObject*>o` is a plain alias.
//! - Python-level operations are calls of synthetic callees (`__pyx_call`,
//!   `__pyx_getattr`, `__pyx_binop`, `__pyx_build`, `__pyx_iter_next`,
//!   `__pyx_to_c`...) declared in `Module::declarations`; each is followed
//!   by Cython's exception check, whose true edge releases the statement's
//!   temporaries and goes to the current handler.
//! - Returning from an `object` function INCREFs a borrowed value
//!   (`ReturnIncref`); falling off a `def` returns `None`.
//! - `try/except/finally`, `with`, `with nogil`/`with gil`, loops and
//!   `break`/`continue` are lowered with their real control flow.
//! - `Py_INCREF(p)`/`Py_DECREF(p)` on a raw `PyObject*` (which does not
//!   compile with `cpython.ref`'s declarations) keep the author's intent
//!   with `Origin::Macro(Origin::CYTHON_RAW_REFCOUNT)`.
//! - `p.ob_refcnt` is `use p->ob_refcnt` (read).
//! - `cdef class` attributes become a `StructDef` (object attributes are
//!   `managed`), the class a `TypeDef` whose slots name `__dealloc__`,
//!   `__cinit__` and `__init__`.
//! - `cdef extern` functions become `Declaration`s with a contract from a
//!   `# refsan:` annotation, an `object` return type, or the words of their
//!   comment (weakest).

pub mod ast;
pub mod comments;
pub mod cpython_pxd;
pub mod lexer;
mod lower;
pub mod parser;
mod stack;
mod tempita;
pub mod types;

pub use cpython_pxd::{find_installed_cython_includes, CpythonPxd};
pub use lower::LowerOptions;

use refsan_ir::{Language, Module, Problem, Span};
use std::path::Path;
use std::sync::OnceLock;

/// True for `.pyx`, `.pxd` and `.pxi` files.
pub fn is_cython_path(p: &Path) -> bool {
    matches!(
        p.extension().and_then(|e| e.to_str()),
        Some("pyx" | "pxd" | "pxi")
    ) || tempita::is_template_path(&p.to_string_lossy())
}

static PREFERRED: OnceLock<CpythonPxd> = OnceLock::new();

/// Makes `lower_file` use the `cpython/*.pxd` of the installed Cython
/// instead of the embedded table. Asks `python3` once; call it once per
/// run. Returns where the declarations come from.
pub fn prefer_installed_cython() -> Option<&'static str> {
    if let Some(t) = PREFERRED.get() {
        return Some(&t.origin);
    }
    let dir = find_installed_cython_includes()?;
    let table = CpythonPxd::from_includes_dir(&dir).ok()?;
    if table.is_empty() {
        return None;
    }
    let t = PREFERRED.get_or_init(|| table);
    Some(&t.origin)
}

/// The `cpython/*.pxd` declarations `lower_file` uses.
pub fn cpython_declarations() -> &'static CpythonPxd {
    PREFERRED.get().unwrap_or_else(|| CpythonPxd::embedded())
}

/// Lowers one Cython file. Never panics; a syntax error costs the
/// statement (or function) it is in, not the file.
pub fn lower_file(path: &str, source: &[u8]) -> Module {
    let opts = LowerOptions {
        cpython: cpython_declarations(),
    };
    lower_file_with(path, source, opts)
}

/// [`lower_file`] with explicit options.
pub fn lower_file_with(path: &str, source: &[u8], opts: LowerOptions<'_>) -> Module {
    let neutralised;
    let source = if tempita::is_template_path(path) {
        neutralised = tempita::neutralise(source);
        &neutralised[..]
    } else {
        source
    };
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        lower::lower(path, source, opts)
    })) {
        Ok(m) => m,
        Err(_) => {
            // A bug in the front-end must not cost the rest of the run.
            let mut m = Module::new(path, Language::Cython);
            m.problems.push(Problem {
                span: Span::default(),
                message: "internal error in the Cython front-end; file not analysed".to_string(),
            });
            m
        }
    }
}

/// Lowers without the panic guard (for tests that must see panics).
#[doc(hidden)]
pub fn lower_file_unguarded(path: &str, source: &[u8]) -> Module {
    lower::lower(
        path,
        source,
        LowerOptions {
            cpython: CpythonPxd::embedded(),
        },
    )
}
