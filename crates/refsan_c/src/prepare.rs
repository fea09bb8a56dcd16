//! One lexical pass over the raw source before tree-sitter sees it.
//!
//! tree-sitter parses unpreprocessed C, so a few CPython macros that are
//! written without a trailing `;` or `,` (`Py_BEGIN_ALLOW_THREADS`,
//! `PyObject_HEAD`, `PyVarObject_HEAD_INIT(NULL, 0)`, clinic's
//! `FOO_METHODDEF`) derail the parse of everything around them. This pass
//! rewrites them in place **without changing any byte offset or line**, so
//! spans computed on the patched text are spans of the original file:
//!
//! - statement macros and struct heads: the last byte of the name becomes
//!   `;` (`Py_BEGIN_ALLOW_THREADS` → `Py_BEGIN_ALLOW_THREAD;`); the lowering
//!   recognises both spellings;
//! - `PyVarObject_HEAD_INIT(...)`/`PyObject_HEAD_INIT(...)` followed by the
//!   next initializer become `0,` padded with blanks (newlines kept);
//! - `FOO_METHODDEF` followed by another table entry: its last byte
//!   becomes `,`.
//!
//! The same pass collects function-like `#define`s (expanded by the
//! lowering at their call sites) and `refsan: ignore` suppression comments.

use std::collections::HashMap;

/// A function-like macro defined in the file.
#[derive(Debug, Clone)]
pub(crate) struct MacroDef {
    pub params: Vec<String>,
    /// The replacement text: continuation lines joined, comments blanked.
    pub body: String,
    /// Uses `#`, `##` or variadic arguments: not expanded.
    pub unsupported: bool,
    /// `#define NAME body` without parameters: expanded only where NAME is
    /// a whole statement (`CLEANUP;`, `RETURN_ERR_OCCURRED;`).
    pub object_like: bool,
}

/// A `refsan: ignore[...]` comment: byte offset of the marker and the codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SuppressionMark {
    pub offset: usize,
    /// Bytes of the marker (`refsan: ignore[RS101]`).
    pub len: usize,
    pub scope: refsan_ir::SuppressionScope,
    pub codes: Vec<String>,
}

pub(crate) struct Prepared {
    /// The source with the rewrites applied; same length and line structure.
    pub text: Vec<u8>,
    pub macros: HashMap<String, MacroDef>,
    pub suppressions: Vec<SuppressionMark>,
}

/// Statement macros that CPython code writes without a semicolon.
const STATEMENT_MACROS: &[&[u8]] = &[
    b"Py_BEGIN_ALLOW_THREADS",
    b"Py_END_ALLOW_THREADS",
    b"Py_BLOCK_THREADS",
    b"Py_UNBLOCK_THREADS",
    b"_Py_BEGIN_SUPPRESS_IPH",
    b"_Py_END_SUPPRESS_IPH",
    b"PyObject_HEAD",
    b"PyObject_VAR_HEAD",
    b"PyException_HEAD",
    b"_PyObject_HEAD_EXTRA",
    b"_Py_COMP_DIAG_PUSH",
    b"_Py_COMP_DIAG_POP",
    b"_Py_COMP_DIAG_IGNORE_DEPR_DECLS",
];

const HEAD_INIT_MACROS: &[&[u8]] = &[b"PyObject_HEAD_INIT", b"PyVarObject_HEAD_INIT"];

/// Longest `NAME(...)` of a HEAD_INIT macro we look through.
const HEAD_INIT_MAX_LEN: usize = 400;

struct Pending {
    macro_name: String,
    params: Vec<String>,
    unsupported: bool,
    object_like: bool,
    body_start: usize,
}

/// What an open bracket is, for deciding how to treat what is inside.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Open {
    Paren,
    /// `= { ... }` and nested braces of an initializer.
    Initializer,
    /// A function body, compound statement, struct body...
    Block,
}

/// Deepest bracket nesting tracked (deeper brackets are not classified).
const MAX_BRACKETS: usize = 4096;

pub(crate) fn prepare(src: &[u8]) -> Prepared {
    let mut text = src.to_vec();
    let mut macros: HashMap<String, MacroDef> = HashMap::new();
    let mut bodies: Vec<(Pending, usize)> = Vec::new();
    let mut suppressions = Vec::new();
    let mut pending: Option<Pending> = None;
    // `#define`/`#undef` lines: collected here, hidden from tree-sitter.
    let mut defines: Vec<(usize, usize)> = Vec::new();
    let mut define_start: Option<usize> = None;
    // True while only blanks were seen since the last (unescaped) newline.
    let mut line_start = true;
    // Inside a preprocessor directive (until its unescaped newline).
    let mut in_directive = false;
    // The identifier right after `#define`/`#undef`/`#ifdef`/`#ifndef` names
    // a macro and must not be rewritten.
    let mut directive_name_next = false;
    let mut brackets: Vec<Open> = Vec::new();
    let mut table = DataTable::default();
    let mut conditionals = Conditionals::default();
    // Last significant byte of code (outside directives), after rewrites.
    let mut last_sig = b';';
    // The statement being lexed started with `case`/`default`, so a `:`
    // ends a case label (after which tree-sitter accepts a directive).
    let mut statement_is_case = false;
    let mut colon_ends_case = false;
    let n = src.len();
    let mut i = 0;
    while i < n {
        let c = src[i];
        match c {
            b'\n' => {
                let continued = i > 0
                    && (src[i - 1] == b'\\'
                        || (src[i - 1] == b'\r' && i > 1 && src[i - 2] == b'\\'));
                if !continued {
                    line_start = true;
                    in_directive = false;
                    if let Some(start) = define_start.take() {
                        defines.push((start, i));
                    }
                    directive_name_next = false;
                    if let Some(p) = pending.take() {
                        bodies.push((p, i));
                    }
                }
                i += 1;
            }
            b' ' | b'\t' | b'\r' | b'\x0c' | b'\x0b' => i += 1,
            // Comments are blanked (line breaks kept): the suppression scan
            // reads them here, and what else reads comments (Argument
            // Clinic's markers, annotations) reads the original text; long
            // runs of blanks are left out of the parse (see `parse`). Not
            // in a directive: blanks before its line break are a syntax
            // error to tree-sitter.
            b'/' if matches!(src.get(i + 1), Some(b'/' | b'*')) => {
                let end = if src[i + 1] == b'/' {
                    memchr(b'\n', &src[i..]).map_or(n, |p| i + p)
                } else {
                    find(&src[i + 2..], b"*/").map_or(n, |p| i + 2 + p + 2)
                };
                scan_suppressions(&src[i..end], i, &mut suppressions);
                if !in_directive {
                    blank(src, &mut text, i, end);
                }
                i = end;
            }
            b'"' | b'\'' => {
                i = skip_quoted(src, i);
                line_start = false;
                if !in_directive {
                    table.impure();
                    last_sig = c;
                }
            }
            b'#' if line_start => {
                line_start = false;
                in_directive = true;
                table.impure();
                let line_end = memchr(b'\n', &src[i..]).map_or(n, |p| i + p);
                let (word_start, word_end) = word_after(src, i + 1);
                let word = &src[word_start..word_end];
                // After a goto label or a ternary's `:`, tree-sitter cannot
                // parse a directive; after a case label it can.
                let sig = if last_sig == b':' && !colon_ends_case {
                    b'?'
                } else {
                    last_sig
                };
                conditionals.directive(word, &mut brackets, sig, src, &mut text, i, line_end);
                if matches!(word, b"define" | b"undef") {
                    define_start = Some(i);
                }
                i = word_end;
                match word {
                    b"define" => {
                        if let Some((p, after)) = parse_define_head(src, word_end) {
                            if !conditionals.in_foreign_arm() {
                                pending = Some(p);
                            }
                            i = after;
                        } else {
                            directive_name_next = true;
                        }
                    }
                    b"undef" | b"ifndef" => directive_name_next = true,
                    b"ifdef" | b"if" => {
                        directive_name_next = word == b"ifdef";
                        if find(&src[word_end..line_end], b"__cplusplus").is_some() {
                            blank_cplusplus_linkage(src, &mut text, line_end);
                        }
                    }
                    _ => {}
                }
            }
            c if is_ident_start(c) => {
                let first_on_line = line_start;
                line_start = false;
                let start = i;
                while i < n && is_ident_char(src[i]) {
                    i += 1;
                }
                if directive_name_next {
                    directive_name_next = false;
                } else {
                    patch_identifier(src, &mut text, start, i);
                    if !in_directive
                        && first_on_line
                        && brackets.is_empty()
                        && matches!(last_sig, b';' | b'}')
                    {
                        if let Some(after) = blank_file_level_invocation(src, &mut text, start, i) {
                            i = after;
                            continue;
                        }
                    }
                    if !in_directive
                        && first_on_line
                        && brackets.last() == Some(&Open::Block)
                        && matches!(last_sig, b';' | b'{' | b'}')
                    {
                        if let Some(after) = patch_lone_statement_macro(src, &mut text, start, i) {
                            // Its arguments were moved: do not rewrite them.
                            i = after;
                            last_sig = b';';
                            continue;
                        }
                    }
                }
                if !in_directive {
                    if matches!(last_sig, b';' | b'{' | b'}' | b':') {
                        statement_is_case = matches!(&src[start..i], b"case" | b"default");
                    }
                    last_sig = text[i - 1];
                }
            }
            b'0'..=b'9' => {
                line_start = false;
                // A pp-number, so that `1'000` (C++14) is not a char literal.
                i += 1;
                while i < n && (is_ident_char(src[i]) || src[i] == b'.' || src[i] == b'\'') {
                    i += 1;
                }
                if !in_directive {
                    last_sig = b'0';
                }
            }
            _ => {
                line_start = false;
                if !in_directive {
                    match c {
                        b'(' => push_bracket(&mut brackets, Open::Paren),
                        b'{' => {
                            let kind = match (last_sig, brackets.last()) {
                                (b'=', _) => Open::Initializer,
                                (b',' | b'{' | b'(', Some(Open::Initializer | Open::Paren)) => {
                                    Open::Initializer
                                }
                                _ => Open::Block,
                            };
                            if kind == Open::Initializer && last_sig == b'=' {
                                table.open(i, brackets.len());
                            }
                            push_bracket(&mut brackets, kind);
                        }
                        b')' if brackets.last() == Some(&Open::Paren) => {
                            brackets.pop();
                        }
                        b'}' => {
                            while let Some(open) = brackets.pop() {
                                if open != Open::Paren {
                                    break;
                                }
                            }
                            table.close(i, brackets.len(), src, &mut text);
                        }
                        b':' => colon_ends_case = statement_is_case,
                        b',' | b'+' | b'-' => {}
                        _ => table.impure(),
                    }
                    last_sig = c;
                }
                i += 1;
            }
        }
    }
    if let Some(p) = pending.take() {
        bodies.push((p, n));
    }
    if let Some(start) = define_start.take() {
        defines.push((start, n));
    }
    for (p, end) in bodies {
        let body = clean_macro_body(&text[p.body_start.min(end)..end]);
        let unsupported = p.unsupported || body.contains('#') || body.contains("__VA_ARGS__");
        // Object-like macros matter when they are statements, aliases of
        // a function (`#define new_int PyLong_FromLong`), declaration
        // qualifiers (`#define MY_API static inline`) or constants
        // (`#define MV_COMPARE_NOT_IMPL -2`, a sentinel pointer).
        if p.object_like
            && !looks_like_statements(&body)
            && !is_alias_or_qualifiers(&body)
            && sentinel_value(&body).is_none()
            && int_value(&body).is_none()
        {
            continue;
        }
        macros.entry(p.macro_name).or_insert(MacroDef {
            params: p.params,
            body,
            unsupported,
            object_like: p.object_like,
        });
    }
    for (start, end) in defines {
        blank(src, &mut text, start, end);
    }
    Prepared {
        text,
        macros,
        suppressions,
    }
}

/// One identifier (an alias), or words and `(...)` groups only (storage
/// classes and attributes).
fn is_alias_or_qualifiers(body: &str) -> bool {
    let t = body.trim();
    if t.is_empty() {
        return true;
    }
    let mut depth = 0;
    let mut outside = String::new();
    for c in t.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ if depth == 0 => outside.push(c),
            _ => {}
        }
    }
    let words: Vec<&str> = outside.split_whitespace().collect();
    !words.is_empty()
        && words.iter().all(|w| {
            w.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !w.starts_with(|c: char| c.is_ascii_digit())
        })
}

/// Initializers larger than this made only of numbers, names, commas and
/// braces are blanked before parsing.
const DATA_TABLE_MIN_LEN: usize = 8 * 1024;

/// The outermost `= { ... }` being lexed, and whether it is pure data
/// (`static const unsigned char lexicon[] = {76, 69, ...}`): such tables
/// (Unicode databases, codec mappings) cost most of tree-sitter's time on
/// a large tree and hold nothing the analysis reads, so they are blanked.
/// Tables with strings, casts, `&` or directives (method tables, type
/// objects, slot arrays) are always kept.
#[derive(Default)]
struct DataTable {
    /// Offset of the `{` and the bracket depth outside it.
    open: Option<(usize, usize)>,
    pure: bool,
}

impl DataTable {
    fn open(&mut self, at: usize, depth: usize) {
        if self.open.is_none() {
            self.open = Some((at, depth));
            self.pure = true;
        }
    }

    fn impure(&mut self) {
        self.pure = false;
    }

    /// A `}` at offset `at` left the bracket stack at `depth`.
    fn close(&mut self, at: usize, depth: usize, src: &[u8], text: &mut [u8]) {
        let Some((start, outer)) = self.open else {
            return;
        };
        if depth > outer {
            return;
        }
        self.open = None;
        if self.pure && at - start > DATA_TABLE_MIN_LEN {
            blank(src, text, start + 1, at);
        }
    }
}

/// One `#if ... #endif` group being lexed.
struct CondGroup {
    /// Inside brackets: all its directives are blanked and tree-sitter sees
    /// the arms one after the other.
    blanked: bool,
    /// Brackets when the group opened; each arm starts from them.
    at_open: Vec<Open>,
    /// Brackets at the end of the first arm, kept after `#endif`.
    first_arm_end: Option<Vec<Open>>,
    /// Byte ranges of the group's directive lines (`#if`, `#else`...).
    directives: Vec<(usize, usize)>,
    /// Some arm opens or closes a bracket it does not close or open, or
    /// ends in the middle of a statement.
    unbalanced: bool,
    /// The current arm is for another platform (`#ifdef MS_WINDOWS`,
    /// `#if defined(__NetBSD__)`): macros it defines are not the ones the
    /// code is usually built with.
    foreign: bool,
}

/// Platforms whose arms are not the usual build (the analysis reads code as
/// built on Linux).
const FOREIGN_PLATFORMS: &[&str] = &[
    "MS_WINDOWS",
    "_WIN32",
    "_WIN64",
    "WIN32",
    "_MSC_VER",
    "__CYGWIN__",
    "__MINGW32__",
    "__VMS",
    "NetBSD",
    "__NetBSD__",
    "__OpenBSD__",
    "__FreeBSD__",
    "__DragonFly__",
    "__sun",
    "_AIX",
    "__hpux",
    "__QNX__",
    "__EMSCRIPTEN__",
    "__wasi__",
];

/// The directive `#if`/`#ifdef`/`#elif` on `line` tests positively for a
/// foreign platform (no negation, no `||` with something else).
fn tests_foreign_platform(word: &[u8], line: &[u8]) -> bool {
    if !matches!(word, b"if" | b"ifdef" | b"elif") {
        return false;
    }
    let text = String::from_utf8_lossy(line);
    let cond = text
        .trim_start()
        .trim_start_matches('#')
        .trim_start()
        .trim_start_matches(std::str::from_utf8(word).unwrap_or(""))
        .trim();
    if cond.contains('!') || cond.contains("||") || cond.contains("&&") {
        return false;
    }
    let ident = cond
        .trim_start_matches("defined")
        .trim_matches(|c: char| c == '(' || c == ')' || c.is_whitespace());
    let ident: String = ident
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    FOREIGN_PLATFORMS.contains(&ident.as_str())
}

/// Keeps the bracket stack consistent across `#if` arms (an arm may open a
/// brace another arm also opens) and decides which directives to blank.
#[derive(Default)]
struct Conditionals {
    groups: Vec<CondGroup>,
}

impl Conditionals {
    /// Some enclosing arm is for another platform.
    fn in_foreign_arm(&self) -> bool {
        self.groups.iter().any(|g| g.foreign)
    }
}

/// Deepest `#if` nesting tracked.
const MAX_CONDITIONALS: usize = 256;

impl Conditionals {
    /// Handles the directive `word` on `src[start..end]`; blanks in `text`
    /// what tree-sitter could not parse.
    #[allow(clippy::too_many_arguments)]
    fn directive(
        &mut self,
        word: &[u8],
        brackets: &mut Vec<Open>,
        last_sig: u8,
        src: &[u8],
        text: &mut [u8],
        start: usize,
        end: usize,
    ) {
        let inside = matches!(brackets.last(), Some(Open::Paren | Open::Initializer));
        // An arm that stops in the middle of a statement (`if (x)` whose body
        // follows the `#endif`).
        let incomplete = match brackets.last() {
            Some(Open::Block) => !matches!(last_sig, b';' | b'{' | b'}' | b':'),
            None => !matches!(last_sig, b';' | b'}'),
            _ => false,
        };
        // An arm that starts in the middle of a statement (`#ifdef X` /
        // `else if (...) {...}` / `#endif`).
        let starts_inside = !inside
            && src
                .get(end..)
                .is_some_and(|rest| starts_with_word(rest, b"else"));
        match word {
            b"if" | b"ifdef" | b"ifndef" => {
                if self.groups.len() < MAX_CONDITIONALS {
                    self.groups.push(CondGroup {
                        blanked: inside,
                        at_open: if inside { Vec::new() } else { brackets.clone() },
                        first_arm_end: None,
                        directives: vec![(start, end)],
                        // Also when it opens in the middle of a statement,
                        // except as the body of `if (...)`/`while (...)`,
                        // which the lowering handles arm by arm.
                        unbalanced: starts_inside || (!inside && incomplete && last_sig != b')'),
                        foreign: tests_foreign_platform(word, &src[start..end]),
                    });
                }
                if inside {
                    // `#ifdef` inside a table or an argument list: tree-sitter
                    // cannot parse it there; keep the entries of every arm.
                    blank(src, text, start, end);
                }
            }
            b"elif" | b"else" | b"elifdef" | b"elifndef" => match self.groups.last_mut() {
                Some(g) if g.blanked => blank(src, text, start, end),
                Some(g) => {
                    g.foreign = tests_foreign_platform(word, &src[start..end]);
                    g.unbalanced |= *brackets != g.at_open || incomplete || starts_inside;
                    if g.first_arm_end.is_none() {
                        g.first_arm_end = Some(brackets.clone());
                    }
                    *brackets = g.at_open.clone();
                    g.directives.push((start, end));
                }
                None => {}
            },
            b"endif" => match self.groups.pop() {
                Some(g) if g.blanked => blank(src, text, start, end),
                Some(mut g) => {
                    g.unbalanced |= *brackets != g.at_open || incomplete;
                    g.directives.push((start, end));
                    if let Some(first) = g.first_arm_end.take() {
                        *brackets = first;
                    }
                    if g.unbalanced {
                        keep_first_arm(src, text, &g.directives);
                    }
                }
                None => {}
            },
            b"define" | b"" => {}
            _ => {
                if inside {
                    blank(src, text, start, end);
                }
            }
        }
    }
}

/// True when the first significant token of `text` is the word `word`.
fn starts_with_word(text: &[u8], word: &[u8]) -> bool {
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b'/' if text.get(i + 1) == Some(&b'*') => {
                i = find(&text[i + 2..], b"*/").map_or(text.len(), |p| i + 2 + p + 2);
            }
            b'/' if text.get(i + 1) == Some(&b'/') => {
                i = memchr(b'\n', &text[i..]).map_or(text.len(), |p| i + p);
            }
            _ => {
                let rest = &text[i..];
                return rest.starts_with(word)
                    && !rest.get(word.len()).is_some_and(|c| is_ident_char(*c));
            }
        }
    }
    false
}

/// A conditional whose arms leave braces open (`#ifdef X` / `if (a) {` /
/// `#endif`) cannot be parsed arm by arm: keep the first arm as plain code
/// and blank the directives and the other arms, so tree-sitter sees one
/// real configuration.
fn keep_first_arm(src: &[u8], text: &mut [u8], directives: &[(usize, usize)]) {
    for (k, (start, end)) in directives.iter().enumerate() {
        blank(src, text, *start, *end);
        if k >= 1 && k + 1 < directives.len() {
            // The content of the arm this directive opens.
            blank(src, text, *end, directives[k + 1].0);
        }
    }
}

fn push_bracket(brackets: &mut Vec<Open>, open: Open) {
    if brackets.len() < MAX_BRACKETS {
        brackets.push(open);
    }
}

/// Replaces `src[start..end]` by blanks in `text`, keeping line breaks.
fn blank(src: &[u8], text: &mut [u8], start: usize, end: usize) {
    for k in start..end.min(src.len()) {
        if !matches!(src[k], b'\n' | b'\r') {
            text[k] = b' ';
        }
    }
}

/// `#ifdef __cplusplus` / `extern "C" {` / `#endif` (and the closing `}`):
/// braces split across preprocessor arms derail tree-sitter, and linkage
/// does not matter to the analysis. Blanks the lines between the directive
/// ending at `line_end` and its `#endif` when they contain nothing else.
fn blank_cplusplus_linkage(src: &[u8], text: &mut [u8], line_end: usize) {
    let mut pos = line_end + 1;
    let start = pos;
    while pos < src.len() {
        let end = memchr(b'\n', &src[pos..]).map_or(src.len(), |p| pos + p);
        let line = strip_comments(&src[pos..end]);
        let line = line.trim_ascii();
        if line.starts_with(b"#") {
            let directive: Vec<u8> = line[1..]
                .iter()
                .copied()
                .filter(|b| !b.is_ascii_whitespace())
                .collect();
            if directive.starts_with(b"endif") || directive.starts_with(b"else") {
                blank(src, text, start, pos);
            }
            return;
        }
        let compact: Vec<u8> = line
            .iter()
            .copied()
            .filter(|b| !b.is_ascii_whitespace())
            .collect();
        if !(compact.is_empty() || compact == b"extern\"C\"{" || compact == b"}") {
            return;
        }
        pos = end + 1;
    }
}

/// A line's text without `/* */` and `//` comments.
fn strip_comments(line: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(line.len());
    let mut i = 0;
    while i < line.len() {
        if line[i..].starts_with(b"/*") {
            i = find(&line[i + 2..], b"*/").map_or(line.len(), |p| i + 2 + p + 2);
        } else if line[i..].starts_with(b"//") {
            break;
        } else {
            out.push(line[i]);
            i += 1;
        }
    }
    out
}

/// An ALL-CAPS macro used as a statement without `;`, alone on its line(s)
/// inside a body (`ENTER_PYTHON`, `CHECK_INITIALIZED(self)`): gets a `;`
/// so the statements around it parse. The name or invocation `NAME(args)`
/// is moved one column left into its indentation (so that a macro of the
/// file can still be expanded by its name); a bare name at the start of
/// its line loses its last byte to the `;`. Returns the offset after the
/// name or invocation when it moved one.
fn patch_lone_statement_macro(
    src: &[u8],
    text: &mut [u8],
    start: usize,
    end: usize,
) -> Option<usize> {
    let ident = &src[start..end];
    if ident.len() < 3
        || !ident
            .iter()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || *b == b'_')
        || !ident.iter().any(u8::is_ascii_uppercase)
        || text[end - 1] == b';'
        || matches!(ident, b"NULL" | b"TRUE" | b"FALSE")
    {
        return None;
    }
    let mut last = end;
    let invocation = src.get(end) == Some(&b'(');
    if invocation {
        last = matching_paren(src, end, 2000)? + 1;
    }
    // Alone on its line: only blanks or a comment up to the newline.
    let line_end = memchr(b'\n', &src[last..]).map_or(src.len(), |p| last + p);
    let rest = strip_comments(&src[last..line_end]);
    if !rest.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    match next_significant(src, last) {
        Some(c) if is_ident_start(c) || matches!(c, b'{' | b'}' | b'#') => {}
        _ => return None,
    }
    let indented = start > 0 && matches!(src[start - 1], b' ' | b'\t');
    if !invocation && !indented {
        text[end - 1] = b';';
        return None;
    }
    if !indented {
        return None;
    }
    text[start - 1..last - 1].copy_from_slice(&src[start..last]);
    text[last - 1] = b';';
    Some(last)
}

/// `GENERATE_GETTER(prec)` alone on a line between declarations: a macro
/// that expands to definitions tree-sitter cannot see. Without `;` it
/// swallows the next definition, so it is blanked. Returns the offset
/// after it.
fn blank_file_level_invocation(
    src: &[u8],
    text: &mut [u8],
    start: usize,
    end: usize,
) -> Option<usize> {
    if src.get(end) != Some(&b'(') {
        return None;
    }
    let close = matching_paren(src, end, 2000)?;
    let line_end = memchr(b'\n', &src[close..]).map_or(src.len(), |p| close + p);
    if !strip_comments(&src[close + 1..line_end])
        .iter()
        .all(u8::is_ascii_whitespace)
    {
        return None;
    }
    let next = next_significant_at(src, close + 1);
    match next.map(|k| src[k]) {
        Some(c) if is_ident_start(c) || c == b'#' => {}
        None => {}
        _ => return None,
    }
    // `EXPORT(int)` / `foo(void)` / `{`: a macro standing for a return type.
    if let Some(k) = next.filter(|k| is_ident_start(src[*k])) {
        let mut e = k;
        while e < src.len() && is_ident_char(src[e]) {
            e += 1;
        }
        if src.get(e) == Some(&b'(') {
            if let Some(c) = matching_paren(src, e, 2000) {
                if next_significant(src, c + 1) == Some(b'{') {
                    return None;
                }
            }
        }
    }
    blank(src, text, start, close + 1);
    Some(close + 1)
}

/// The offset of the `)` matching the `(` at `open`, within `limit` bytes
/// and without crossing a `;` or a brace.
fn matching_paren(src: &[u8], open: usize, limit: usize) -> Option<usize> {
    let mut depth = 0usize;
    let end = (open + limit).min(src.len());
    let mut k = open;
    while k < end {
        match src[k] {
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(k);
                }
            }
            b'"' | b'\'' => {
                k = skip_quoted(src, k);
                continue;
            }
            b';' | b'{' | b'}' => return None,
            _ => {}
        }
        k += 1;
    }
    None
}

/// Macros whose argument at the given position is a type (`va_arg(ap,
/// PyObject **)`, `PyMem_New(char *, n)`): tree-sitter cannot parse a type
/// there, so a non-identifier type is replaced by `0`.
const TYPE_ARGUMENT_MACROS: &[(&[u8], &[usize])] = &[
    (b"va_arg", &[1]),
    (b"PyMem_New", &[0]),
    (b"PyMem_NEW", &[0]),
    (b"PyMem_Resize", &[1]),
    (b"PyMem_RESIZE", &[1]),
    (b"PyObject_New", &[0]),
    (b"PyObject_NEW", &[0]),
    (b"PyObject_NewVar", &[0]),
    (b"PyObject_NEW_VAR", &[0]),
    (b"PyObject_GC_New", &[0]),
    (b"PyObject_GC_NewVar", &[0]),
    (b"PyObject_GC_Resize", &[0]),
    (b"_Py_CAST", &[0]),
    (b"_Py_STATIC_CAST", &[0]),
    (b"Py_SAFE_DOWNCAST", &[1, 2]),
];

fn patch_type_arguments(src: &[u8], text: &mut [u8], end: usize, positions: &[usize]) {
    if src.get(end) != Some(&b'(') {
        return;
    }
    let Some(close) = matching_paren(src, end, 2000) else {
        return;
    };
    // Split the arguments at top-level commas.
    let mut bounds = vec![end + 1];
    let mut depth = 0usize;
    let mut k = end + 1;
    while k < close {
        match src[k] {
            b'(' | b'[' => depth += 1,
            b')' | b']' => depth = depth.saturating_sub(1),
            b',' if depth == 0 => bounds.push(k + 1),
            b'"' | b'\'' => {
                k = skip_quoted(src, k);
                continue;
            }
            _ => {}
        }
        k += 1;
    }
    bounds.push(close + 1);
    for &position in positions {
        if position + 1 >= bounds.len() {
            continue;
        }
        let (a, b) = (bounds[position], bounds[position + 1] - 1);
        let arg = src[a..b].trim_ascii();
        if arg.is_empty() || arg.iter().all(|c| is_ident_char(*c)) {
            continue;
        }
        blank(src, text, a, b);
        let first = (a..b).find(|k| !src[*k].is_ascii_whitespace()).unwrap_or(a);
        text[first] = b'0';
    }
}

fn patch_identifier(src: &[u8], text: &mut [u8], start: usize, end: usize) {
    let ident = &src[start..end];
    if STATEMENT_MACROS.contains(&ident) {
        if next_significant(src, end) != Some(b';') {
            text[end - 1] = b';';
        }
    } else if HEAD_INIT_MACROS.contains(&ident) {
        patch_head_init(src, text, start, end);
    } else if ident.starts_with(b"CPYCHECKER_") {
        // cpychecker's annotations are attributes tree-sitter cannot place;
        // the front-end reads them from the original text.
        let close = (src.get(end) == Some(&b'('))
            .then(|| matching_paren(src, end, 400))
            .flatten();
        blank(src, text, start, close.map_or(end, |c| c + 1));
    } else if ident == b"Py_GCC_ATTRIBUTE" {
        // `Py_GCC_ATTRIBUTE((format(printf, 1, 2)))` after a prototype.
        if let Some(close) = (src.get(end) == Some(&b'('))
            .then(|| matching_paren(src, end, 400))
            .flatten()
        {
            blank(src, text, start, close + 1);
        }
    } else if let Some((_, positions)) =
        TYPE_ARGUMENT_MACROS.iter().find(|(name, _)| *name == ident)
    {
        patch_type_arguments(src, text, end, positions);
    } else if ident.ends_with(b"_METHODDEF") {
        match next_significant(src, end) {
            Some(b'{' | b'#') => text[end - 1] = b',',
            Some(c) if is_ident_start(c) => text[end - 1] = b',',
            _ => {}
        }
    }
}

/// `PyVarObject_HEAD_INIT(NULL, 0) "name",` → `0,                   "name",`.
fn patch_head_init(src: &[u8], text: &mut [u8], start: usize, end: usize) {
    let mut j = end;
    while j < src.len() && matches!(src[j], b' ' | b'\t') {
        j += 1;
    }
    if src.get(j) != Some(&b'(') {
        return;
    }
    let mut depth = 0usize;
    let limit = (j + HEAD_INIT_MAX_LEN).min(src.len());
    let mut close = None;
    for (k, &b) in src.iter().enumerate().take(limit).skip(j) {
        match b {
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 {
                    close = Some(k);
                    break;
                }
            }
            b';' | b'{' | b'}' => return,
            _ => {}
        }
    }
    let Some(close) = close else { return };
    if matches!(
        next_significant(src, close + 1),
        Some(b',' | b'}' | b')') | None
    ) {
        return;
    }
    for (k, slot) in text.iter_mut().enumerate().take(close + 1).skip(start) {
        if !matches!(src[k], b'\n' | b'\r') {
            *slot = b' ';
        }
    }
    text[start] = b'0';
    text[start + 1] = b',';
}

/// The next byte that is not blank, a line continuation or a comment.
fn next_significant(src: &[u8], i: usize) -> Option<u8> {
    next_significant_at(src, i).map(|k| src[k])
}

/// The offset of the next byte that is not blank, a line continuation or a
/// comment.
pub(crate) fn next_significant_at(src: &[u8], mut i: usize) -> Option<usize> {
    let n = src.len();
    while i < n {
        match src[i] {
            b' ' | b'\t' | b'\r' | b'\n' | b'\\' => i += 1,
            b'/' if src.get(i + 1) == Some(&b'*') => {
                i = find(&src[i + 2..], b"*/").map_or(n, |p| i + 2 + p + 2);
            }
            b'/' if src.get(i + 1) == Some(&b'/') => {
                i = memchr(b'\n', &src[i..]).map_or(n, |p| i + p);
            }
            _ => return Some(i),
        }
    }
    None
}

pub(crate) fn skip_quoted(src: &[u8], start: usize) -> usize {
    let quote = src[start];
    let mut i = start + 1;
    while i < src.len() {
        match src[i] {
            b'\\' => i += 2,
            b'\n' => return i,
            c if c == quote => return i + 1,
            _ => i += 1,
        }
    }
    src.len()
}

/// The word after `#` and optional blanks: `(start, end)`.
fn word_after(src: &[u8], mut i: usize) -> (usize, usize) {
    while i < src.len() && matches!(src[i], b' ' | b'\t') {
        i += 1;
    }
    let start = i;
    while i < src.len() && is_ident_char(src[i]) {
        i += 1;
    }
    (start, i)
}

/// The value of a macro body that is an integer constant (`-2`, `(0x10)`,
/// `(-1L)`): `#define MV_COMPARE_NOT_IMPL -2` stands for the number.
pub(crate) fn int_value(body: &str) -> Option<i64> {
    let mut body = body.trim();
    while let Some(inner) = body.strip_prefix('(').and_then(|b| b.strip_suffix(')')) {
        body = inner.trim();
    }
    let (neg, digits) = match body.strip_prefix('-') {
        Some(d) => (true, d.trim_start()),
        None => (false, body.strip_prefix('+').map_or(body, str::trim_start)),
    };
    if !digits.bytes().next().is_some_and(|b| b.is_ascii_digit())
        || !digits.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return None;
    }
    let value = crate::syntax::parse_int(digits.as_bytes())?;
    Some(if neg { value.wrapping_neg() } else { value })
}

/// The value of a macro body that casts a non-zero integer to a pointer
/// (`(PyObject *)(1)`, `((void *)-1)`): a sentinel, not an object.
pub(crate) fn sentinel_value(body: &str) -> Option<i64> {
    let mut body = body.trim();
    let mut cast = false;
    for _ in 0..8 {
        let Some(inner) = body.strip_prefix('(') else {
            break;
        };
        // `(T *)rest` or `(rest)`.
        let close = inner.find(')')?;
        let head = &inner[..close];
        if head.trim_end().ends_with('*')
            && head
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b" _*".contains(&b))
        {
            cast = true;
            body = inner[close + 1..].trim();
        } else if body.ends_with(')') {
            body = body[1..body.len() - 1].trim();
        } else {
            return None;
        }
    }
    if !cast {
        return None;
    }
    let (neg, digits) = match body.strip_prefix('-') {
        Some(d) => (true, d.trim()),
        None => (false, body),
    };
    let digits = digits.trim_end_matches(['u', 'U', 'l', 'L']);
    let value = if let Some(hex) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        i64::from_str_radix(hex, 16).ok()?
    } else {
        digits.parse::<i64>().ok()?
    };
    let value = if neg { -value } else { value };
    (value != 0).then_some(value)
}

/// Parses `NAME(params)` after `#define`; `None` for object-like macros.
/// Returns the pending definition and the offset where its body starts.
fn parse_define_head(src: &[u8], i: usize) -> Option<(Pending, usize)> {
    let (name_start, name_end) = word_after(src, i);
    if name_start == name_end {
        return None;
    }
    if src.get(name_end) != Some(&b'(') {
        let name = std::str::from_utf8(&src[name_start..name_end])
            .ok()?
            .to_string();
        return Some((
            Pending {
                macro_name: name,
                params: Vec::new(),
                unsupported: false,
                object_like: true,
                body_start: name_end,
            },
            name_end,
        ));
    }
    let name = std::str::from_utf8(&src[name_start..name_end])
        .ok()?
        .to_string();
    let close = name_end + memchr(b')', &src[name_end..])?;
    let param_text = &src[name_end + 1..close];
    if param_text.contains(&b'\n') && !param_text.contains(&b'\\') {
        return None;
    }
    let mut params = Vec::new();
    let mut unsupported = false;
    let is_blank = |b: &u8| matches!(b, b' ' | b'\t' | b'\\' | b'\r' | b'\n');
    if !param_text.iter().all(is_blank) {
        for raw in param_text.split(|b| *b == b',') {
            let p: Vec<u8> = raw.iter().copied().filter(|b| !is_blank(b)).collect();
            if p.is_empty() || !p.iter().all(|b| is_ident_char(*b)) {
                unsupported = true;
            }
            params.push(String::from_utf8_lossy(&p).into_owned());
        }
    }
    Some((
        Pending {
            macro_name: name,
            params,
            unsupported,
            object_like: false,
            body_start: close + 1,
        },
        close + 1,
    ))
}

/// A macro body that does something as a statement: control flow or calls.
fn looks_like_statements(body: &str) -> bool {
    let b = body.trim();
    !b.is_empty()
        && (b.contains(';')
            || b.starts_with("return")
            || b.starts_with("goto")
            || b.starts_with("if")
            || b.starts_with("do"))
}

/// Joins continuation lines and blanks comments of a `#define` body.
fn clean_macro_body(raw: &[u8]) -> String {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'\\' if matches!(raw.get(i + 1), Some(b'\n' | b'\r')) => {
                out.push(b' ');
                i += 1;
                while i < raw.len() && matches!(raw[i], b'\n' | b'\r') {
                    i += 1;
                    if raw.get(i - 1) == Some(&b'\n') {
                        break;
                    }
                }
            }
            b'/' if raw.get(i + 1) == Some(&b'*') => {
                i = find(&raw[i + 2..], b"*/").map_or(raw.len(), |p| i + 2 + p + 2);
                out.push(b' ');
            }
            b'/' if raw.get(i + 1) == Some(&b'/') => break,
            b'"' | b'\'' => {
                let end = skip_quoted(raw, i);
                out.extend_from_slice(&raw[i..end]);
                i = end;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).trim().to_string()
}

/// Finds the suppression comments (`refsan: ignore[RS101]`,
/// `refsan: ignore-file`...) in a comment; the syntax is the IR's.
fn scan_suppressions(comment: &[u8], base: usize, out: &mut Vec<SuppressionMark>) {
    let mut from = 0;
    while let Some(p) = find(&comment[from..], b"refsan:") {
        let marker = from + p;
        from = marker + b"refsan:".len();
        let tail = String::from_utf8_lossy(&comment[marker..]);
        if let Some((0, scope, codes)) = refsan_ir::parse_suppressions(&tail).into_iter().next() {
            let len = tail
                .find([']', '*', '\n'])
                .map_or(tail.len(), |e| e + usize::from(tail[e..].starts_with(']')))
                .min(comment.len() - marker);
            out.push(SuppressionMark {
                offset: base + marker,
                len,
                scope,
                codes,
            });
        }
    }
}

pub(crate) fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

pub(crate) fn is_ident_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

pub(crate) fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|b| *b == needle)
}

/// The start of the last occurrence of `needle` in `hay`.
pub(crate) fn rfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || needle.len() > hay.len() {
        return None;
    }
    (0..=hay.len() - needle.len())
        .rev()
        .find(|&i| &hay[i..i + needle.len()] == needle)
}

pub(crate) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    let first = needle[0];
    let last_start = hay.len() - needle.len();
    let mut i = 0;
    while i <= last_start {
        match memchr(first, &hay[i..=last_start]) {
            Some(p) => {
                let at = i + p;
                if &hay[at..at + needle.len()] == needle {
                    return Some(at);
                }
                i = at + 1;
            }
            None => return None,
        }
    }
    None
}

/// Every identifier in `text` (skipping string and char literals).
pub(crate) fn identifiers(text: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < text.len() {
            let c = text[i];
            if c == b'"' || c == b'\'' {
                i = skip_quoted(text, i);
            } else if is_ident_start(c) {
                let start = i;
                while i < text.len() && is_ident_char(text[i]) {
                    i += 1;
                }
                return Some(&text[start..i]);
            } else if c.is_ascii_digit() {
                while i < text.len() && is_ident_char(text[i]) {
                    i += 1;
                }
            } else {
                i += 1;
            }
        }
        None
    })
}

/// Tokens of code (identifiers, `::`, single punctuation), skipping
/// comments, strings, character literals and directives. For sniffing the
/// language of a header; not a full lexer.
pub(crate) fn code_tokens(src: &[u8]) -> CodeTokens<'_> {
    CodeTokens {
        src,
        i: 0,
        line_start: true,
    }
}

pub(crate) struct CodeTokens<'a> {
    src: &'a [u8],
    i: usize,
    line_start: bool,
}

impl<'a> CodeTokens<'a> {
    /// The next significant byte after the current position (blanks and
    /// comments skipped).
    pub fn peek_byte(&self) -> Option<u8> {
        next_significant(self.src, self.i)
    }

    pub fn next(&mut self) -> Option<&'a [u8]> {
        let src = self.src;
        while self.i < src.len() {
            let c = src[self.i];
            match c {
                b'\n' => {
                    self.line_start = true;
                    self.i += 1;
                }
                b' ' | b'\t' | b'\r' => self.i += 1,
                b'/' if src.get(self.i + 1) == Some(&b'/') => {
                    self.i = memchr(b'\n', &src[self.i..]).map_or(src.len(), |p| self.i + p);
                }
                b'/' if src.get(self.i + 1) == Some(&b'*') => {
                    self.i =
                        find(&src[self.i + 2..], b"*/").map_or(src.len(), |p| self.i + 2 + p + 2);
                }
                b'"' | b'\'' => {
                    self.i = skip_quoted(src, self.i);
                    self.line_start = false;
                }
                b'#' if self.line_start => {
                    // Skip the directive (with continuation lines).
                    while self.i < src.len() && src[self.i] != b'\n' {
                        if src[self.i] == b'\\' {
                            self.i += 1;
                        }
                        self.i += 1;
                    }
                }
                c if is_ident_start(c) => {
                    self.line_start = false;
                    let start = self.i;
                    while self.i < src.len() && is_ident_char(src[self.i]) {
                        self.i += 1;
                    }
                    return Some(&src[start..self.i]);
                }
                b':' if src.get(self.i + 1) == Some(&b':') => {
                    self.line_start = false;
                    self.i += 2;
                    return Some(b"::");
                }
                _ => {
                    self.line_start = false;
                    self.i += 1;
                    return Some(&src[self.i - 1..self.i]);
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patched(src: &str) -> String {
        String::from_utf8(prepare(src.as_bytes()).text).unwrap()
    }

    #[test]
    fn statement_macros_get_a_semicolon_in_place() {
        let src = "f() {\n    Py_BEGIN_ALLOW_THREADS\n    x = 1;\n    Py_END_ALLOW_THREADS;\n}";
        let out = patched(src);
        assert_eq!(out.len(), src.len());
        assert!(out.contains("Py_BEGIN_ALLOW_THREAD;\n"));
        assert!(out.contains("Py_END_ALLOW_THREADS;"));
    }

    #[test]
    fn head_init_becomes_a_zero_element() {
        let src = "T t = {\n    PyVarObject_HEAD_INIT(&PyType_Type, 0)\n    \"x\",\n};";
        let out = patched(src);
        assert_eq!(out.len(), src.len());
        assert!(out.contains("    0,    "), "{out}");
        let with_comma = "T t = { PyVarObject_HEAD_INIT(NULL, 0), \"x\" };";
        assert_eq!(patched(with_comma), with_comma);
    }

    #[test]
    fn macro_names_in_directives_and_strings_are_left_alone() {
        let src = "#ifdef Py_BLOCK_THREADS\n#endif\nchar *s = \"Py_BLOCK_THREADS\";";
        let out = patched(src);
        assert!(out.contains("#ifdef Py_BLOCK_THREADS\n"));
        assert!(out.contains("\"Py_BLOCK_THREADS\""));
    }

    #[test]
    fn defines_are_hidden_from_the_parser() {
        let src = "#define PyObject_HEAD PyObject ob_base;\n#define F(x) \\\n  g(x)\nint y;";
        let out = patched(src);
        assert_eq!(out.len(), src.len());
        assert!(
            out.ends_with("\n\n  \nint y;") || out.trim_start().starts_with("int y;"),
            "{out:?}"
        );
        assert_eq!(prepare(src.as_bytes()).macros["F"].body, "g(x)");
    }

    #[test]
    fn directives_inside_initializers_are_blanked() {
        let src =
            "static PyMethodDef m[] = {\n#ifdef X\n    {\"a\", f, 0},\n#endif\n    {NULL}\n};";
        let out = patched(src);
        assert!(!out.contains("#ifdef") && !out.contains("#endif"), "{out}");
        let body = "int f(void) {\n#ifdef X\n    a();\n#endif\n}";
        assert_eq!(patched(body), body);
    }

    #[test]
    fn unbalanced_arms_keep_the_first_configuration() {
        let src = "int f(void) {\n#ifdef A\n    if (a) {\n#else\n    if (b) {\n#endif\n        x();\n    }\n}";
        let out = patched(src);
        assert!(out.contains("if (a) {"));
        assert!(!out.contains("if (b)") && !out.contains('#'), "{out}");
        let dangling = "int f(void) {\n#ifdef A\n    if (a)\n#endif\n        x();\n}";
        assert!(!patched(dangling).contains('#'));
    }

    #[test]
    fn lone_statement_macros_get_a_semicolon() {
        let src = "int f(void) {\n    ENTER_PYTHON\n    x();\n    CHECK_INITIALIZED(self)\n    return 0;\n}";
        let out = patched(src);
        assert_eq!(out.len(), src.len());
        assert!(out.contains("\n   ENTER_PYTHON;\n"), "{out}");
        assert!(out.contains("   CHECK_INITIALIZED(self);\n"), "{out}");
        // At the start of its line, a bare name gives its last byte.
        let out = patched("int f(void) {\nENTER_PYTHON\n    x();\n}");
        assert!(out.contains("\nENTER_PYTHO;\n"), "{out}");
    }

    #[test]
    fn type_arguments_become_zero() {
        let out = patched("p = va_arg(*ap, PyObject **); q = PyMem_New(char *, n);");
        assert!(out.contains("va_arg(*ap, 0          )"), "{out}");
        assert!(out.contains("PyMem_New(0     , n)"), "{out}");
    }

    #[test]
    fn clinic_methoddefs_get_a_comma() {
        let out =
            patched("static PyMethodDef m[] = {\n    A_METHODDEF\n    B_METHODDEF\n    {NULL}\n};");
        assert!(out.contains("A_METHODDE,\n    B_METHODDE,\n"), "{out}");
    }

    #[test]
    fn collects_function_like_macros() {
        let p = prepare(b"#define CHECK(x, y) \\\n    if (!(x)) /* c */ goto y\n#define OBJ 1\n  #  define CAT(a) a##b\n");
        let m = &p.macros["CHECK"];
        assert_eq!(m.params, vec!["x", "y"]);
        assert_eq!(m.body, "if (!(x))   goto y");
        assert!(!m.unsupported);
        assert!(p.macros["CAT"].unsupported);
        assert_eq!(int_value(&p.macros["OBJ"].body), Some(1));
        let empty = prepare(b"#define F() g()\n");
        assert!(empty.macros["F"].params.is_empty());
    }

    #[test]
    fn finds_suppressions() {
        let p = prepare(
            b"x; /* refsan: ignore[RS101, RS102] */\n// refsan: ignore\n// refsan: ignored\n",
        );
        assert_eq!(p.suppressions.len(), 2);
        assert_eq!(p.suppressions[0].codes, vec!["RS101", "RS102"]);
        assert!(p.suppressions[1].codes.is_empty());
    }
}
