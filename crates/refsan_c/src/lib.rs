//! refsan's C/C++ front-end.
//!
//! Parses unpreprocessed C (tree-sitter-c) and C++ (tree-sitter-cpp)
//! sources of Python extensions and lowers them into the ownership IR: one
//! CFG per function plus the file-level facts (object structs, method
//! tables, type slots, module definitions, prototypes with annotations,
//! suppression comments). It knows nothing of the C-API's ownership rules
//! (the engine's knowledge base does) nor of output formats: it lowers
//! faithfully what the code does, and marks what it could not.
//!
//! Pipeline of [`lower_file`]:
//!
//! 1. `prepare`: one lexical pass that rewrites, without moving any byte,
//!    what tree-sitter cannot parse in unpreprocessed CPython code
//!    (semicolon-less `Py_BEGIN_ALLOW_THREADS`/`PyObject_HEAD`/clinic
//!    `*_METHODDEF`, `#if` inside initializers and argument lists, `#if`
//!    arms that leave braces open or split a statement, type arguments of
//!    `va_arg`/`PyMem_New`, big pure-data tables, `#define` lines) and
//!    collects function-like macros and `refsan: ignore` comments;
//! 2. tree-sitter parse (thread-local parsers, work and time budget);
//! 3. `items`: the file-level walk (through `#if` arms, `extern "C"`,
//!    namespaces, classes, parse errors) collecting types, signatures,
//!    structs, tables and prototypes, then lowering each definition;
//! 4. `body`: one recursive, depth-limited walk per function body.
//!
//! Conventions the engine relies on (beyond the IR's own docs):
//! - nested calls go into temporaries read by one later statement; a
//!   temporary whose value is otherwise unused gets a `Use(Read)`;
//! - field reads emit `Use(Deref)` of the base for `->`, then the operand
//!   `Field(base, "a.b")` (`.` chains are joined into one field path);
//!   a complex base goes into a temporary first; `p[i]` is `Field(p, "[]")`;
//! - statics are `Global` places and operands; `0` in pointer context is
//!   `Null`; casts are transparent;
//! - a truth test is `IsNull` for pointer-typed operands and `Cmp(x, Ne, 0)`
//!   otherwise (unknown types included);
//! - CPython macros get `Origin::Macro(name)`; statements from a same-file
//!   macro expansion get the outermost macro's name and the call site span;
//! - skipped constructs mark the function approximate and `Havoc` the
//!   locals named in the skipped text.

mod body;
mod ctx;
mod heads;
mod items;
mod parse;
mod prepare;
mod syntax;
mod tables;
mod types;

use refsan_ir::{Language, LineIndex, Module, Problem, Span, Suppression};
use std::path::Path;

/// The language of a source file, from its extension.
pub fn language_for_path(path: &Path) -> Option<Language> {
    let ext = path.extension()?.to_str()?;
    match ext.to_ascii_lowercase().as_str() {
        "c" | "h" => Some(Language::C),
        "cc" | "cpp" | "cxx" | "hpp" | "hh" | "hxx" | "c++" | "h++" => Some(Language::Cpp),
        _ => None,
    }
}

/// The language of a source file from its extension and, for `.h` files
/// (shared by C and C++), its content: a header with `namespace`,
/// `template <...>`, `std::` or access specifiers outside comments is C++.
pub fn detect_language(path: &Path, source: &[u8]) -> Option<Language> {
    let language = language_for_path(path)?;
    let is_h = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("h"));
    if language == Language::C && is_h && looks_like_cpp(source) {
        return Some(Language::Cpp);
    }
    Some(language)
}

/// C++-only constructs in code (not in comments or strings).
fn looks_like_cpp(source: &[u8]) -> bool {
    let mut previous: &[u8] = b"";
    let mut tokens = prepare::code_tokens(source);
    while let Some(token) = tokens.next() {
        let next = tokens.peek_byte();
        let cpp = match token {
            b"namespace" => next.is_some_and(|c| c == b'{' || c.is_ascii_alphabetic() || c == b'_'),
            b"template" => next == Some(b'<'),
            b"public" | b"private" | b"protected" => next == Some(b':'),
            b"::" => previous == b"std",
            _ => false,
        };
        if cpp {
            return true;
        }
        previous = token;
    }
    false
}

/// A header a file is read with (a local `#include "x.h"` of its project).
#[derive(Clone, Copy, Debug)]
pub struct ContextFile<'a> {
    pub path: &'a str,
    pub source: &'a [u8],
}

/// Lowers one C or C++ source file. Never panics: what cannot be parsed is
/// reported in `Module::problems` or as approximate regions of functions.
pub fn lower_file(path: &str, source: &[u8], language: Language) -> Module {
    lower_file_in_context(path, source, language, &[])
}

/// What the headers of a file's context declare: their macros (the file's
/// own override them), types (object structs, typedefs), return types,
/// and the structs, prototypes and globals the module gains.
struct HeaderFacts {
    macros: std::collections::HashMap<String, prepare::MacroDef>,
    types: types::TypeTable,
    returns: std::collections::HashMap<String, refsan_ir::TypeClass>,
    items: Module,
    /// Names declared differently by two headers.
    conflicting: std::collections::HashSet<String>,
}

/// The line of the first construct the parser could not make sense of.
fn first_error_line(root: tree_sitter::Node<'_>, lines: &LineIndex) -> Option<u32> {
    if !root.has_error() {
        return None;
    }
    let mut node = root;
    // Down the first child that holds an error, to the error itself.
    'down: for _ in 0..10_000 {
        if node.is_error() || node.is_missing() {
            break;
        }
        let mut cursor = node.walk();
        for child in node.children(&mut cursor) {
            if child.has_error() {
                node = child;
                continue 'down;
            }
        }
        break;
    }
    Some(lines.line_col(node.start_byte() as u32).0)
}

/// Reads `headers` in order, each seeing the ones before it.
fn read_headers(headers: &[ContextFile<'_>], language: Language) -> HeaderFacts {
    let mut facts = HeaderFacts {
        macros: Default::default(),
        types: types::TypeTable::default(),
        returns: Default::default(),
        items: Module::new("", language),
        conflicting: Default::default(),
    };
    for h in headers {
        if h.source.len() >= u32::MAX as usize {
            continue;
        }
        let mut prepared = prepare::prepare(h.source);
        let lines = LineIndex::new(h.source);
        let mut macros = facts.macros.clone();
        macros.extend(prepared.macros.iter().map(|(k, v)| (k.clone(), v.clone())));
        heads::rewrite(&mut prepared.text, &macros);
        let Some(tree) = parse::parse(language, &prepared.text) else {
            facts.items.problems.push(Problem {
                span: Span::default(),
                message: format!(
                    "the parser gave up on the header {}; its declarations are unknown",
                    h.path
                ),
            });
            facts.macros = macros;
            continue;
        };
        if let Some(line) = first_error_line(tree.root_node(), &lines) {
            facts.items.problems.push(Problem {
                span: Span::default(),
                message: format!(
                    "the header {} has text refsan cannot parse (line {line}); what it declares there is unknown",
                    h.path
                ),
            });
        }
        let mut ctx = items::FileCtx {
            txt: syntax::Txt {
                src: &prepared.text,
                lines: &lines,
                site: None,
            },
            orig: h.source,
            language,
            cpp: language == Language::Cpp,
            types: std::mem::take(&mut facts.types),
            macros: &macros,
            returns: std::mem::take(&mut facts.returns),
            expansions: Default::default(),
            expansion_bytes: Default::default(),
        };
        let mut scratch = Module::new(h.path, language);
        items::lower_items(&mut ctx, tree.root_node(), &mut scratch);
        facts.types = ctx.types;
        facts.returns = ctx.returns;
        facts.macros = macros;
        // Spans of another file have no place in this one.
        for mut s in scratch.structs {
            s.span = Span::default();
            for f in &mut s.fields {
                f.span = Span::default();
            }
            facts.items.structs.push(s);
        }
        for mut d in scratch.declarations {
            d.span = Span::default();
            // Headers of other platforms (included under `#if` arms, all
            // read) may declare the same name differently: what they say
            // is unknown.
            if let Some(prev) = facts
                .items
                .declarations
                .iter()
                .position(|p| p.name == d.name)
            {
                if facts.items.declarations[prev].param_count != d.param_count
                    || facts.items.declarations[prev].returns != d.returns
                {
                    facts.items.declarations.remove(prev);
                    facts.conflicting.insert(d.name);
                }
                continue;
            }
            if !facts.conflicting.contains(&d.name) {
                facts.items.declarations.push(d);
            }
        }
        for mut g in scratch.globals {
            g.span = Span::default();
            facts.items.globals.push(g);
        }
        // The header's `static` functions that return an object are its
        // includers' helpers (a pass-through like `Require(p)`); the first
        // definition of a name is kept (others are other platforms'). Those
        // returning a plain pointer or an int are not: their summary would
        // give their exception behaviour without the NULL-ness of their
        // result that callers test (`pysqlite_get_state`).
        for mut f in scratch.functions {
            if f.is_static
                && f.returns == refsan_ir::TypeClass::Object
                && !facts.items.functions.iter().any(|g| g.name == f.name)
            {
                f.header = Some(h.path.to_string());
                facts.items.functions.push(f);
            }
        }
    }
    facts
}

/// Lowers one C or C++ source file read with the headers of its project
/// it includes (their macros, types and prototypes, and their `static`
/// functions that return an object as helpers marked with
/// `Function::header`, which the file's own definitions override).
pub fn lower_file_in_context(
    path: &str,
    source: &[u8],
    language: Language,
    headers: &[ContextFile<'_>],
) -> Module {
    let mut module = Module::new(path, language);
    let language = match language {
        Language::Cpp => Language::Cpp,
        _ => Language::C,
    };
    let lines = LineIndex::new(source);
    if source.len() >= u32::MAX as usize {
        module.problems.push(Problem {
            span: Span::default(),
            message: "file too large to analyse (4 GiB or more)".to_string(),
        });
        return module;
    }
    let mut prepared = prepare::prepare(source);
    let headers = read_headers(headers, language);
    let mut macros = headers.macros;
    macros.extend(prepared.macros.iter().map(|(k, v)| (k.clone(), v.clone())));
    heads::rewrite(&mut prepared.text, &macros);
    for mark in &prepared.suppressions {
        let (line, _) = lines.line_col(mark.offset as u32);
        module.suppressions.push(Suppression {
            line,
            codes: mark.codes.clone(),
            scope: mark.scope,
            span: lines.span(mark.offset as u32, (mark.offset + mark.len) as u32),
        });
    }
    let Some(tree) = parse::parse(language, &prepared.text) else {
        module.problems.push(Problem {
            span: lines.span(0, source.len() as u32),
            message: "the parser gave up on this file (too complex to parse): not analysed"
                .to_string(),
        });
        return module;
    };
    let mut ctx = items::FileCtx {
        txt: syntax::Txt {
            src: &prepared.text,
            lines: &lines,
            site: None,
        },
        orig: source,
        language,
        cpp: language == Language::Cpp,
        types: headers.types,
        macros: &macros,
        returns: headers.returns,
        expansions: Default::default(),
        expansion_bytes: Default::default(),
    };
    items::lower_items(&mut ctx, tree.root_node(), &mut module);
    // The file's own definitions come first; the headers' complete them.
    let own_structs: std::collections::HashSet<String> = module
        .structs
        .iter()
        .flat_map(|s| s.names.iter().cloned())
        .collect();
    module.structs.extend(
        headers
            .items
            .structs
            .into_iter()
            .filter(|s| !s.names.iter().any(|n| own_structs.contains(n))),
    );
    let own_decls: std::collections::HashSet<String> = module
        .declarations
        .iter()
        .map(|d| d.name.clone())
        .chain(module.functions.iter().map(|f| f.name.clone()))
        .collect();
    module.declarations.extend(
        headers
            .items
            .declarations
            .into_iter()
            .filter(|d| !own_decls.contains(&d.name)),
    );
    module.globals.extend(headers.items.globals);
    module.problems.extend(headers.items.problems);
    let own_functions: std::collections::HashSet<&str> =
        module.functions.iter().map(|f| f.name.as_str()).collect();
    let helpers: Vec<refsan_ir::Function> = headers
        .items
        .functions
        .into_iter()
        .filter(|f| !own_functions.contains(f.name.as_str()))
        .collect();
    module.functions.extend(helpers);
    module
}

/// Prepares and parses `source` as [`lower_file`] does, without lowering:
/// benchmarks subtract it from `lower_file` to measure the lowering.
/// Returns false when the parser gave up.
#[doc(hidden)]
pub fn prepare_and_parse(source: &[u8], language: Language) -> bool {
    let prepared = prepare::prepare(source);
    parse::parse(language, &prepared.text).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_sniffed_for_cpp() {
        let h = Path::new("x.h");
        assert_eq!(detect_language(h, b"int f(void);\n"), Some(Language::C));
        assert_eq!(
            detect_language(
                h,
                b"#ifdef __cplusplus\nextern \"C\" {\n#endif\nint f(void);\n"
            ),
            Some(Language::C)
        );
        assert_eq!(
            detect_language(h, b"/* std::string */ char *namespace;"),
            Some(Language::C)
        );
        assert_eq!(
            detect_language(h, b"namespace py { int f(); }"),
            Some(Language::Cpp)
        );
        assert_eq!(
            detect_language(h, b"template <class T> T id(T x);"),
            Some(Language::Cpp)
        );
        assert_eq!(
            detect_language(h, b"class A {\npublic:\n int x;\n};"),
            Some(Language::Cpp)
        );
        assert_eq!(
            detect_language(Path::new("x.c"), b"namespace a {}"),
            Some(Language::C)
        );
        assert_eq!(detect_language(Path::new("x.cc"), b""), Some(Language::Cpp));
        assert_eq!(detect_language(Path::new("x.py"), b""), None);
    }
}
