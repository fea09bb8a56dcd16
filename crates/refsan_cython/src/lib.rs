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
pub use lower::{ContextFile, LowerOptions};

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
    lower_file_in_context(path, source, &[])
}

/// Lowers one Cython file seeing the declarations of `context` (see
/// [`LowerOptions::context`]).
pub fn lower_file_in_context(path: &str, source: &[u8], context: &[ContextFile<'_>]) -> Module {
    let neutralised: Vec<Vec<u8>> = context
        .iter()
        .map(|c| {
            if tempita::is_template_path(c.path) {
                tempita::neutralise(c.source)
            } else {
                Vec::new()
            }
        })
        .collect();
    let context: Vec<ContextFile<'_>> = context
        .iter()
        .zip(&neutralised)
        .map(|(c, n)| ContextFile {
            path: c.path,
            source: if n.is_empty() { c.source } else { n },
        })
        .collect();
    let opts = LowerOptions {
        cpython: cpython_declarations(),
        context: &context,
    };
    lower_file_with(path, source, opts)
}

/// What a Cython file needs from other files: the modules it cimports
/// (`from pkg.mod cimport x`, `cimport pkg.mod`, relative `from . cimport
/// x` as `.`, `.x`), and the files it includes (`include "x.pxi"`), in
/// order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Dependencies {
    /// `(module, names)`: the names matter for `from pkg cimport mod`,
    /// where `mod` may itself be a module.
    pub cimports: Vec<(String, Vec<String>)>,
    pub includes: Vec<String>,
}

/// The [`Dependencies`] of a Cython source.
pub fn dependencies(source: &[u8]) -> Dependencies {
    let parsed = parser::parse(source);
    let mut deps = Dependencies::default();
    fn walk(stmts: &[ast::Stmt], deps: &mut Dependencies, depth: u32) {
        if depth > 8 {
            return;
        }
        for s in stmts {
            match &s.kind {
                ast::StmtKind::CImport { module, names, .. } => {
                    if module.is_empty() {
                        // `cimport a.b, c`: the names are modules.
                        for (m, _) in names {
                            deps.cimports.push((m.clone(), Vec::new()));
                        }
                    } else {
                        deps.cimports.push((
                            module.clone(),
                            names.iter().map(|(n, _)| n.clone()).collect(),
                        ));
                    }
                }
                ast::StmtKind::Include(f) => deps
                    .includes
                    .push(f.trim_matches(|c| c == '"' || c == '\'').to_string()),
                ast::StmtKind::If { branches, orelse } => {
                    for (_, b) in branches {
                        walk(b, deps, depth + 1);
                    }
                    walk(orelse, deps, depth + 1);
                }
                _ => {}
            }
        }
    }
    walk(&parsed.stmts, &mut deps, 0);
    deps
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
            context: &[],
        },
    )
}
