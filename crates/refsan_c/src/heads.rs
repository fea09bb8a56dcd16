//! Two more rewrites of the prepared text, made once the macros of the file
//! and its headers are known, again without moving a line:
//!
//! - a project's declaration macro in front of a definition
//!   (`MYLIB_INTERNAL PyObject *f(...)`, `#define my_api
//!   __attribute__((visibility("hidden")))`) is blanked, so the return type
//!   is the one written after it;
//! - a statement macro written without a semicolon (`begin_critical(l)` or
//!   `end_critical` alone on its line, followed by the next statement) gets
//!   one: the statement is shifted one column left within its line and `;`
//!   put after it.

use crate::prepare::{is_ident_char, next_significant_at, skip_quoted, MacroDef};
use std::collections::HashMap;

/// Words a declaration macro may expand to.
const QUALIFIERS: &[&str] = &[
    "static",
    "inline",
    "__inline",
    "__inline__",
    "extern",
    "__forceinline",
    "__cdecl",
    "__stdcall",
    "__fastcall",
    "__attribute__",
    "__declspec",
    "__attribute",
    "noinline",
    "always_inline",
];

/// Words that start a type (after an unknown all-capitals word, that word
/// is a declaration macro).
const TYPE_STARTS: &[&[u8]] = &[
    b"static",
    b"inline",
    b"extern",
    b"const",
    b"volatile",
    b"unsigned",
    b"signed",
    b"int",
    b"long",
    b"short",
    b"char",
    b"void",
    b"double",
    b"float",
    b"struct",
    b"enum",
    b"union",
    b"bool",
    b"size_t",
    b"ssize_t",
];

/// C keywords that start statements (never a statement macro).
const KEYWORDS: &[&[u8]] = &[
    b"return",
    b"if",
    b"else",
    b"while",
    b"for",
    b"do",
    b"switch",
    b"case",
    b"default",
    b"break",
    b"continue",
    b"goto",
    b"sizeof",
    b"typedef",
    b"struct",
    b"union",
    b"enum",
];

/// The body expands to storage classes and attributes only.
fn is_qualifier_macro(def: &MacroDef) -> bool {
    if !def.object_like {
        return false;
    }
    // Drop parenthesised groups (attribute arguments).
    let mut depth = 0;
    let mut words = String::new();
    for c in def.body.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ if depth == 0 => words.push(c),
            _ => {}
        }
    }
    words
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .all(|w| QUALIFIERS.contains(&w))
}

fn all_capitals(w: &[u8]) -> bool {
    w.len() >= 3
        && w.iter().any(u8::is_ascii_uppercase)
        && w.iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == b'_')
}

/// A byte-level token of the prepared text.
struct Tok {
    start: usize,
    end: usize,
}

/// Tokens of code (comments, strings and directive lines skipped).
fn tokens(text: &[u8]) -> Vec<Tok> {
    let mut out = Vec::new();
    let mut i = 0;
    let mut line_start = true;
    while i < text.len() {
        let c = text[i];
        match c {
            b'\n' => {
                line_start = true;
                i += 1;
            }
            b' ' | b'\t' | b'\r' | b'\\' => i += 1,
            b'#' if line_start => {
                // A directive: to the end of its (continued) line.
                while i < text.len() && !(text[i] == b'\n' && text[i - 1] != b'\\') {
                    i += 1;
                }
            }
            b'/' if text.get(i + 1) == Some(&b'/') || text.get(i + 1) == Some(&b'*') => {
                i = next_significant_at(text, i).unwrap_or(text.len());
            }
            b'"' | b'\'' => {
                let end = skip_quoted(text, i);
                out.push(Tok { start: i, end });
                i = end.max(i + 1);
                line_start = false;
            }
            _ if is_ident_char(c) => {
                let start = i;
                while i < text.len() && is_ident_char(text[i]) {
                    i += 1;
                }
                out.push(Tok { start, end: i });
                line_start = false;
            }
            _ => {
                out.push(Tok {
                    start: i,
                    end: i + 1,
                });
                i += 1;
                line_start = false;
            }
        }
    }
    out
}

/// Applies both rewrites to `text` (same length, same lines).
pub(crate) fn rewrite(text: &mut [u8], macros: &HashMap<String, MacroDef>) {
    let toks = tokens(text);
    let word = |t: &Tok| &text[t.start..t.end];
    let is_ident =
        |t: &Tok, text: &[u8]| text[t.start].is_ascii_alphabetic() || text[t.start] == b'_';
    let mut blanks: Vec<(usize, usize)> = Vec::new();
    let mut shifts: Vec<(usize, usize)> = Vec::new();
    let mut depth = 0i32;
    // Per open brace: true for a block of statements (a function body and
    // the blocks in it), false for an initializer or a struct body.
    let mut braces: Vec<bool> = Vec::new();
    // At depth 0: inside the head of a declaration (before its `(`/`=`).
    let mut head = true;
    let mut k = 0;
    while k < toks.len() {
        let t = &toks[k];
        let w = word(t).to_vec();
        match w.as_slice() {
            b"{" | b"(" | b"[" => {
                if w == b"{" {
                    let prev = k.checked_sub(1).map(|p| word(&toks[p]));
                    let block = match prev {
                        // A function body, `if (...) {`, `else {`, `do {`.
                        Some(b")" | b"else" | b"do") => {
                            braces.is_empty() || braces.iter().all(|b| *b)
                        }
                        // A nested block.
                        Some(b"{" | b"}" | b";" | b":") => {
                            !braces.is_empty() && braces.iter().all(|b| *b)
                        }
                        _ => false,
                    };
                    braces.push(block);
                }
                if depth == 0 {
                    head = false;
                }
                depth += 1;
            }
            b"}" | b")" | b"]" => {
                if w == b"}" {
                    braces.pop();
                }
                depth = (depth - 1).max(0);
                if depth == 0 && w == b"}" {
                    head = true;
                }
            }
            b";" if depth == 0 => head = true,
            b"=" if depth == 0 => head = false,
            _ if depth == 0 && head && is_ident(t, text) => {
                let next = toks.get(k + 1).map(word);
                let next_is_word = toks.get(k + 1).is_some_and(|n| is_ident(n, text));
                let name = String::from_utf8_lossy(&w);
                let known = macros.get(name.as_ref());
                let blank = match known {
                    Some(def) => is_qualifier_macro(def) && next_is_word,
                    None => {
                        all_capitals(&w)
                            && next.is_some_and(|n| {
                                TYPE_STARTS.contains(&n)
                                    || n.starts_with(b"Py")
                                    || n.starts_with(b"_Py")
                            })
                    }
                };
                if blank {
                    blanks.push((t.start, t.end));
                }
            }
            _ if braces.last() == Some(&true)
                && is_ident(t, text)
                && !KEYWORDS.contains(&w.as_slice()) =>
            {
                // A statement macro without its semicolon: at a statement's
                // start, `name` or `name(...)` alone on its line, the next
                // statement on a later line.
                let prev = k.checked_sub(1).map(|p| word(&toks[p]));
                let at_start = matches!(prev, Some(b";" | b"{" | b"}"));
                if !at_start {
                    k += 1;
                    continue;
                }
                let mut end_tok = k;
                if toks.get(k + 1).is_some_and(|n| word(n) == b"(") {
                    let mut d = 0;
                    let mut j = k + 1;
                    while j < toks.len() {
                        match word(&toks[j]) {
                            b"(" => d += 1,
                            b")" => {
                                d -= 1;
                                if d == 0 {
                                    break;
                                }
                            }
                            b";" | b"{" | b"}" => break,
                            _ => {}
                        }
                        j += 1;
                    }
                    if j >= toks.len() || word(&toks[j]) != b")" {
                        k += 1;
                        continue;
                    }
                    end_tok = j;
                }
                let end = toks[end_tok].end;
                let Some(next) = toks.get(end_tok + 1) else {
                    k += 1;
                    continue;
                };
                let same_line = !text[end..next.start].contains(&b'\n');
                let line_start = text[..t.start]
                    .iter()
                    .rposition(|b| *b == b'\n')
                    .map_or(0, |p| p + 1);
                let alone = text[line_start..t.start]
                    .iter()
                    .all(|b| *b == b' ' || *b == b'\t');
                if !same_line && alone && is_ident(next, text) && t.start > line_start {
                    shifts.push((t.start, end));
                    k = end_tok;
                }
            }
            _ => {}
        }
        k += 1;
    }
    for (s, e) in blanks {
        for b in &mut text[s..e] {
            *b = b' ';
        }
    }
    for (s, e) in shifts {
        text.copy_within(s..e, s - 1);
        text[e - 1] = b';';
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(src: &str, defines: &[(&str, &str)]) -> String {
        let mut macros = HashMap::new();
        for (n, body) in defines {
            macros.insert(
                (*n).to_string(),
                MacroDef {
                    params: Vec::new(),
                    body: (*body).to_string(),
                    unsupported: false,
                    object_like: true,
                },
            );
        }
        let mut text = src.as_bytes().to_vec();
        rewrite(&mut text, &macros);
        assert_eq!(text.len(), src.len());
        String::from_utf8(text).unwrap()
    }

    #[test]
    fn declaration_macros_are_blanked() {
        let out = run(
            "MYLIB_INTERNAL PyObject *\nf(void) { return 0; }\nmy_api int g(void);\nstatic FILE *h(void);\n",
            &[("my_api", "__attribute__((visibility(\"hidden\")))")],
        );
        assert!(out.starts_with("               PyObject *\n"), "{out}");
        assert!(out.contains("\n       int g(void);"), "{out}");
        assert!(out.contains("static FILE *h"), "{out}");
    }

    #[test]
    fn tables_and_structs_are_left_alone() {
        let src = "static PyGetSetDef g[] = {\n    GETTER_DEF(a)\n    GETTER_DEF(b)\n    {NULL},\n};\nstruct s {\n    HEAD\n    int x;\n};\n";
        assert_eq!(run(src, &[]), src);
    }

    #[test]
    fn statement_macros_get_their_semicolon() {
        let src = "void f(void) {\n    begin_critical(l)\n    Py_DECREF(l);\n    end_critical\n    g();\n}\n";
        let out = run(src, &[]);
        assert!(out.contains("\n   begin_critical(l);\n"), "{out}");
        assert!(out.contains("\n   end_critical;\n"), "{out}");
        assert_eq!(out.lines().count(), src.lines().count());
    }

    #[test]
    fn statement_macro_before_a_return_macro() {
        let src = "static PyObject *b(PyObject *list) {\n    PyObject *chunk = f();\n    if (chunk == NULL) goto bail;\n    APPEND\n    Py_RETURN_NONE;\nbail:\n    return NULL;\n}\n";
        let out = run(
            src,
            &[("APPEND", "if (chunk != NULL) { Py_CLEAR(chunk); }")],
        );
        assert!(out.contains("\n   APPEND;\n"), "{out}");
    }
}
