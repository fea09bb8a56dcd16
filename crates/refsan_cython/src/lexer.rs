//! Tokens of Cython source: Python's indentation rules (INDENT/DEDENT,
//! implicit line joining inside brackets, backslash continuations), every
//! kind of string literal (prefixes r/b/u/f/c in any case, triple quotes,
//! f-strings with nested quotes), and the comments, which carry
//! `# refsan:` annotations and suppressions.
//!
//! The lexer never fails: bytes it does not understand become `Error`
//! tokens, an unterminated string ends at the end of its line (or of the
//! file for triple quotes), and an unclosed bracket is given up when a line
//! at column 0 starts a new top-level definition, so one typo cannot swallow
//! the rest of the file.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tok {
    Name,
    Number,
    Str,
    Op,
    Newline,
    Indent,
    Dedent,
    /// A byte sequence that is no token, or an unterminated string.
    Error,
    Eof,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Token {
    pub kind: Tok,
    pub start: u32,
    pub end: u32,
}

/// A `#` comment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Comment {
    /// 1-based line.
    pub line: u32,
    /// Byte range, `#` included.
    pub start: u32,
    pub end: u32,
    /// Nothing but blanks precede it on its line.
    pub own_line: bool,
}

pub struct Lexed {
    pub tokens: Vec<Token>,
    pub comments: Vec<Comment>,
}

/// Words that start a top-level definition: a line at column 0 starting
/// with one of them ends any bracket left open above it.
const TOP_LEVEL_STARTERS: &[&[u8]] = &[
    b"def ",
    b"cdef ",
    b"cdef:",
    b"cpdef ",
    b"class ",
    b"@",
    b"ctypedef ",
    b"cimport ",
    b"from ",
    b"import ",
    b"async def ",
    b"include ",
];

/// Words that never continue an expression: an indented line starting with
/// one of them inside an open bracket means the bracket was never closed.
const STATEMENT_STARTERS: &[&[u8]] = &[
    b"return",
    b"cdef",
    b"cpdef",
    b"raise",
    b"pass",
    b"del",
    b"elif",
    b"except",
    b"finally",
    b"try",
    b"with",
    b"while",
    b"def",
    b"class",
    b"ctypedef",
];

const OPS3: &[&[u8]] = &[b"**=", b"//=", b">>=", b"<<=", b"..."];
const OPS2: &[&[u8]] = &[
    b"->", b"**", b"//", b"==", b"!=", b"<=", b">=", b"<<", b">>", b"+=", b"-=", b"*=", b"/=",
    b"%=", b"&=", b"|=", b"^=", b"@=", b":=",
];
const OPS1: &[u8] = b"+-*/%@&|^~<>()[]{},:.;=!?`$";

pub fn is_name_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b >= 0x80
}

pub fn is_name_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

/// True when `prefix` is a valid string prefix (r, b, u, f, c in any case
/// and combination, at most three letters).
pub fn is_string_prefix(prefix: &[u8]) -> bool {
    !prefix.is_empty()
        && prefix.len() <= 3
        && prefix
            .iter()
            .all(|c| matches!(c.to_ascii_lowercase(), b'r' | b'b' | b'u' | b'f' | b'c'))
}

struct Lexer<'a> {
    src: &'a [u8],
    pos: usize,
    line: u32,
    tokens: Vec<Token>,
    comments: Vec<Comment>,
    indents: Vec<u32>,
    /// Open brackets.
    depth: u32,
    /// Tokens emitted on the current logical line.
    line_has_tokens: bool,
}

pub fn lex(src: &[u8]) -> Lexed {
    let mut lx = Lexer {
        src,
        pos: 0,
        line: 1,
        tokens: Vec::with_capacity(src.len() / 4 + 16),
        comments: Vec::new(),
        indents: vec![0],
        depth: 0,
        line_has_tokens: false,
    };
    lx.run();
    Lexed {
        tokens: lx.tokens,
        comments: lx.comments,
    }
}

impl<'a> Lexer<'a> {
    fn peek(&self, off: usize) -> u8 {
        self.src.get(self.pos + off).copied().unwrap_or(0)
    }

    fn push(&mut self, kind: Tok, start: usize, end: usize) {
        self.tokens.push(Token {
            kind,
            start: start as u32,
            end: end as u32,
        });
        if !matches!(kind, Tok::Newline | Tok::Indent | Tok::Dedent) {
            self.line_has_tokens = true;
        }
    }

    fn newline_token(&mut self, at: usize) {
        if self.line_has_tokens {
            self.push(Tok::Newline, at, at);
            self.line_has_tokens = false;
        }
    }

    fn run(&mut self) {
        let n = self.src.len();
        let mut at_line_start = true;
        while self.pos < n {
            if at_line_start && self.depth == 0 {
                at_line_start = false;
                if self.line_start() {
                    // Blank or comment-only line: handled entirely.
                    at_line_start = true;
                    continue;
                }
            }
            let c = self.src[self.pos];
            match c {
                b' ' | b'\t' | b'\x0c' | b'\r' => self.pos += 1,
                b'\n' => {
                    let at = self.pos;
                    self.pos += 1;
                    self.line += 1;
                    if self.depth > 0 && self.starts_top_level() {
                        // An unclosed bracket above: give it up here.
                        self.depth = 0;
                    }
                    if self.depth == 0 {
                        self.newline_token(at);
                        at_line_start = true;
                    }
                }
                b'#' => self.comment(),
                b'\\' => {
                    if self.peek(1) == b'\n' {
                        self.pos += 2;
                        self.line += 1;
                    } else if self.peek(1) == b'\r' && self.peek(2) == b'\n' {
                        self.pos += 3;
                        self.line += 1;
                    } else {
                        self.push(Tok::Error, self.pos, self.pos + 1);
                        self.pos += 1;
                    }
                }
                b'"' | b'\'' => self.string(self.pos, 0),
                b'0'..=b'9' => self.number(),
                b'.' if self.peek(1).is_ascii_digit() => self.number(),
                _ if is_name_start(c) => self.name_or_string(),
                _ => self.op(),
            }
        }
        self.newline_token(n);
        while self.indents.len() > 1 {
            self.indents.pop();
            self.push(Tok::Dedent, n, n);
        }
        self.push(Tok::Eof, n, n);
    }

    /// At the start of a physical line outside brackets: measures the
    /// indentation and emits INDENT/DEDENT. Returns true when the line is
    /// blank or holds only a comment (then it has been consumed).
    fn line_start(&mut self) -> bool {
        let n = self.src.len();
        let mut col: u32 = 0;
        let mut p = self.pos;
        while p < n {
            match self.src[p] {
                b' ' => col += 1,
                b'\t' => col = (col / 8 + 1) * 8,
                b'\x0c' => col = 0,
                b'\r' => {}
                _ => break,
            }
            p += 1;
        }
        if p >= n {
            self.pos = p;
            return true;
        }
        match self.src[p] {
            b'\n' => {
                self.pos = p + 1;
                self.line += 1;
                return true;
            }
            b'#' => {
                self.pos = p;
                self.comment();
                if self.pos < n && self.src[self.pos] == b'\n' {
                    self.pos += 1;
                    self.line += 1;
                }
                return true;
            }
            b'\\' if matches!(self.src.get(p + 1), Some(b'\n')) => {
                // A continuation right at the start of a line: the logical
                // line goes on; no indentation change.
                self.pos = p;
                return false;
            }
            _ => {}
        }
        self.pos = p;
        let top = *self.indents.last().unwrap_or(&0);
        if col > top {
            self.indents.push(col);
            self.push(Tok::Indent, p, p);
        } else if col < top {
            while self.indents.len() > 1 && *self.indents.last().unwrap_or(&0) > col {
                self.indents.pop();
                self.push(Tok::Dedent, p, p);
            }
            // Dedenting to a column never used: Python rejects it; we keep
            // the enclosing level so the statement still parses.
        }
        false
    }

    fn starts_top_level(&self) -> bool {
        let rest = &self.src[self.pos..];
        if TOP_LEVEL_STARTERS.iter().any(|s| rest.starts_with(s)) {
            return true;
        }
        // Indented lines that can only start a statement.
        let blank = rest
            .iter()
            .take_while(|b| matches!(b, b' ' | b'\t'))
            .count();
        let rest = &rest[blank..];
        STATEMENT_STARTERS
            .iter()
            .any(|s| rest.starts_with(s) && rest.get(s.len()).is_none_or(|b| !is_name_char(*b)))
    }

    fn comment(&mut self) {
        let start = self.pos;
        let n = self.src.len();
        let mut p = self.pos;
        while p < n && self.src[p] != b'\n' {
            p += 1;
        }
        let mut end = p;
        if end > start && self.src[end - 1] == b'\r' {
            end -= 1;
        }
        let line_begin = self.src[..start]
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |i| i + 1);
        let own_line = self.src[line_begin..start]
            .iter()
            .all(|b| matches!(b, b' ' | b'\t' | b'\x0c' | b'\r'));
        self.comments.push(Comment {
            line: self.line,
            start: start as u32,
            end: end as u32,
            own_line,
        });
        self.pos = p;
    }

    fn name_or_string(&mut self) {
        let start = self.pos;
        let n = self.src.len();
        let mut p = self.pos;
        while p < n && is_name_char(self.src[p]) {
            p += 1;
        }
        if p < n && matches!(self.src[p], b'"' | b'\'') && is_string_prefix(&self.src[start..p]) {
            self.pos = p;
            self.string(start, p - start);
            return;
        }
        self.pos = p;
        self.push(Tok::Name, start, p);
    }

    fn number(&mut self) {
        let start = self.pos;
        let n = self.src.len();
        let mut p = self.pos;
        let hex = self.src[p] == b'0' && matches!(self.src.get(p + 1), Some(b'x' | b'X'));
        while p < n {
            let c = self.src[p];
            if c.is_ascii_alphanumeric() || c == b'_' {
                p += 1;
                if !hex && matches!(c, b'e' | b'E') && matches!(self.src.get(p), Some(b'+' | b'-'))
                {
                    p += 1;
                }
            } else if c == b'.' && !matches!(self.src.get(p + 1), Some(b'.')) {
                p += 1;
            } else {
                break;
            }
        }
        self.pos = p;
        self.push(Tok::Number, start, p);
    }

    /// A string literal; `self.pos` is at the opening quote, `start` at the
    /// prefix.
    fn string(&mut self, start: usize, prefix_len: usize) {
        let prefix = &self.src[start..start + prefix_len];
        let fstr = prefix.iter().any(|c| c.eq_ignore_ascii_case(&b'f'));
        let (end, ok) = scan_string(self.src, self.pos, fstr, 0);
        let lines = self.src[self.pos..end]
            .iter()
            .filter(|b| **b == b'\n')
            .count();
        self.line += lines as u32;
        self.pos = end;
        self.push(if ok { Tok::Str } else { Tok::Error }, start, end);
    }

    fn op(&mut self) {
        let rest = &self.src[self.pos..];
        let start = self.pos;
        for ops in [OPS3, OPS2] {
            if let Some(op) = ops.iter().find(|op| rest.starts_with(op)) {
                self.pos += op.len();
                self.push(Tok::Op, start, self.pos);
                return;
            }
        }
        let c = rest[0];
        if OPS1.contains(&c) {
            match c {
                b'(' | b'[' | b'{' => self.depth += 1,
                b')' | b']' | b'}' => self.depth = self.depth.saturating_sub(1),
                _ => {}
            }
            self.pos += 1;
            self.push(Tok::Op, start, self.pos);
            return;
        }
        // Anything else: one UTF-8 character (or byte) of garbage.
        let mut len = 1;
        if c >= 0xC0 {
            while len < 4 && rest.get(len).is_some_and(|b| (0x80..0xC0).contains(b)) {
                len += 1;
            }
        }
        self.pos += len;
        self.push(Tok::Error, start, self.pos);
    }
}

/// Scans a string literal whose opening quote is at `q`. Returns the end
/// offset (after the closing quote) and whether it was terminated.
/// `nest` bounds recursion through nested f-strings.
pub fn scan_string(src: &[u8], q: usize, fstr: bool, nest: u32) -> (usize, bool) {
    let n = src.len();
    let quote = src[q];
    let triple = src.get(q + 1) == Some(&quote) && src.get(q + 2) == Some(&quote);
    let mut p = if triple { q + 3 } else { q + 1 };
    let mut brace = 0u32;
    while p < n {
        let c = src[p];
        if c == b'\\' {
            // Escapes (also in raw strings, a backslash keeps the quote).
            p += 2;
            continue;
        }
        if fstr && brace > 0 && (c == b'"' || c == b'\'') && nest < 8 {
            // A string nested in an f-string's replacement field.
            let (end, _) = scan_string(src, p, false, nest + 1);
            p = end.max(p + 1);
            continue;
        }
        if c == quote {
            if !triple {
                return (p + 1, true);
            }
            if src.get(p + 1) == Some(&quote) && src.get(p + 2) == Some(&quote) {
                return (p + 3, true);
            }
        }
        if c == b'\n' && !triple {
            return (p, false);
        }
        if fstr {
            if c == b'{' {
                if brace == 0 && src.get(p + 1) == Some(&b'{') {
                    p += 2;
                    continue;
                }
                brace += 1;
            } else if c == b'}' && brace > 0 {
                brace -= 1;
            }
        }
        p += 1;
    }
    (n, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<(Tok, String)> {
        let l = lex(src.as_bytes());
        l.tokens
            .iter()
            .map(|t| {
                (
                    t.kind,
                    String::from_utf8_lossy(&src.as_bytes()[t.start as usize..t.end as usize])
                        .to_string(),
                )
            })
            .collect()
    }

    fn shape(src: &str) -> String {
        kinds(src)
            .iter()
            .map(|(k, t)| match k {
                Tok::Newline => "NL".to_string(),
                Tok::Indent => "IN".to_string(),
                Tok::Dedent => "DE".to_string(),
                Tok::Eof => "EOF".to_string(),
                Tok::Error => format!("ERR({t})"),
                _ => t.clone(),
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn indentation_blocks() {
        let s = "def f(x):\n    if x:\n        return 1\n\n    # c\n    return 2\ny = 3\n";
        assert_eq!(
            shape(s),
            "def f ( x ) : NL IN if x : NL IN return 1 NL DE return 2 NL DE y = 3 NL EOF"
        );
    }

    #[test]
    fn brackets_join_lines_and_backslash_continues() {
        let s = "x = f(a,\n      b)\ny = 1 + \\\n    2\n";
        assert_eq!(shape(s), "x = f ( a , b ) NL y = 1 + 2 NL EOF");
    }

    #[test]
    fn tabs_count_to_multiples_of_eight() {
        let s = "if x:\n\tpass\n        pass\n";
        assert_eq!(shape(s), "if x : NL IN pass NL pass NL DE EOF");
    }

    #[test]
    fn strings_of_every_kind() {
        let s =
            "a = r'\\'' + b\"x\" + u'''t\n''' + f\"{x!r:>{w}}\" + c'z' + F'{d[\"k\"]}' + Rb'q'\n";
        let toks = kinds(s);
        let strs: Vec<&String> = toks
            .iter()
            .filter(|(k, _)| *k == Tok::Str)
            .map(|(_, t)| t)
            .collect();
        assert_eq!(
            strs,
            vec![
                "r'\\''",
                "b\"x\"",
                "u'''t\n'''",
                "f\"{x!r:>{w}}\"",
                "c'z'",
                "F'{d[\"k\"]}'",
                "Rb'q'"
            ]
        );
        assert!(toks.iter().all(|(k, _)| *k != Tok::Error));
    }

    #[test]
    fn fstring_with_doubled_braces_and_nested_same_quotes() {
        let s = "x = f\"{{lit}} {a[\"k\"]} }}\"\n";
        let toks = kinds(s);
        assert_eq!(
            toks[2],
            (Tok::Str, "f\"{{lit}} {a[\"k\"]} }}\"".to_string())
        );
    }

    #[test]
    fn unterminated_string_ends_at_line_end() {
        let s = "x = 'abc\ny = 2\n";
        assert_eq!(shape(s), "x = ERR('abc) NL y = 2 NL EOF");
    }

    #[test]
    fn unclosed_bracket_is_given_up_at_next_definition() {
        let s = "x = f(a,\ndef g():\n    pass\n";
        assert_eq!(shape(s), "x = f ( a , NL def g ( ) : NL IN pass NL DE EOF");
    }

    #[test]
    fn comments_are_collected_with_lines() {
        let s = "x = 1  # refsan: ignore\n# own line\n";
        let l = lex(s.as_bytes());
        assert_eq!(l.comments.len(), 2);
        assert_eq!((l.comments[0].line, l.comments[0].own_line), (1, false));
        assert_eq!((l.comments[1].line, l.comments[1].own_line), (2, true));
    }

    #[test]
    fn operators_and_casts() {
        assert_eq!(
            shape("p = <PyObject*>o\nq **= 2\n"),
            "p = < PyObject * > o NL q **= 2 NL EOF"
        );
    }

    #[test]
    fn numbers() {
        assert_eq!(
            shape("x = 0x1F + 1e-5 + 3.5j + .5 + 10L + 1_000\n"),
            "x = 0x1F + 1e-5 + 3.5j + .5 + 10L + 1_000 NL EOF"
        );
    }

    #[test]
    fn garbage_bytes_become_error_tokens() {
        let src = b"x = 1 \x01\x02\n";
        let l = lex(src);
        assert!(l.tokens.iter().any(|t| t.kind == Tok::Error));
        assert_eq!(l.tokens.last().map(|t| t.kind), Some(Tok::Eof));
    }
}
