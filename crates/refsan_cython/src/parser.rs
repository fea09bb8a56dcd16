//! A hand-written, error-tolerant recursive-descent parser for Cython.
//!
//! Error tolerance: a statement that does not parse becomes
//! [`StmtKind::Error`] (with the names it mentions) and parsing resumes at
//! the next logical line; an indented block under a broken header is
//! skipped with it. Nothing is ever fatal. Recursion is bounded: expressions
//! nest at most [`MAX_EXPR_DEPTH`] levels and blocks [`MAX_BLOCK_DEPTH`];
//! deeper input becomes an error statement instead of a stack overflow.

use crate::ast::*;
use crate::lexer::{self, Comment, Tok, Token};
use crate::stack::{StackGuard, PARSE_STACK};

/// Nesting bound of expressions (parentheses, unary operators, casts...).
pub const MAX_EXPR_DEPTH: u32 = 96;
/// Length bound of an operator chain (`a + b + ...`), a tree as deep.
pub const MAX_CHAIN: u32 = 1000;
/// Nesting bound of indented blocks.
pub const MAX_BLOCK_DEPTH: u32 = 64;

pub struct ParsedFile {
    pub stmts: Vec<Stmt>,
    pub comments: Vec<Comment>,
}

#[derive(Debug)]
pub struct PErr {
    pub rng: Rng,
    pub msg: String,
}

type PResult<T> = Result<T, PErr>;

const KEYWORDS: &[&str] = &[
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
    "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import",
    "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while",
    "with", "yield", "cdef", "cpdef", "ctypedef", "cimport", "NULL",
];

/// C type names that are types even without a following declarator
/// (`void f(int, char*)`).
pub const BASIC_C_TYPES: &[&str] = &[
    "void",
    "char",
    "short",
    "int",
    "long",
    "float",
    "double",
    "bint",
    "size_t",
    "ssize_t",
    "Py_ssize_t",
    "Py_hash_t",
    "Py_UCS4",
    "Py_UNICODE",
    "object",
    "unsigned",
    "signed",
    "PyObject",
];

const SIZE_WORDS: &[&str] = &["unsigned", "signed", "short", "long"];
const QUALIFIERS: &[&str] = &["const", "volatile"];
const CDEF_MODIFIERS: &[&str] = &[
    "public", "api", "readonly", "inline", "static", "packed", "nogil", "noexcept",
];

pub fn parse(src: &[u8]) -> ParsedFile {
    let lexed = lexer::lex(src);
    let mut p = Parser {
        src,
        toks: lexed.tokens,
        pos: 0,
        depth: 0,
        block_depth: 0,
        stack: StackGuard::here(PARSE_STACK),
    };
    let stmts = p.file();
    ParsedFile {
        stmts,
        comments: lexed.comments,
    }
}

/// Parses an expression that starts at byte `base` of `src` (an f-string
/// replacement field). `depth` is the nesting depth it starts at.
fn parse_sub_expr(src: &[u8], base: u32, len: u32, depth: u32, stack: StackGuard) -> Expr {
    let end = (base + len) as usize;
    let slice = &src[base as usize..end.min(src.len())];
    let lexed = lexer::lex(slice);
    let mut toks: Vec<Token> = lexed
        .tokens
        .into_iter()
        .filter(|t| !matches!(t.kind, Tok::Newline | Tok::Indent | Tok::Dedent))
        .map(|t| Token {
            kind: t.kind,
            start: t.start + base,
            end: t.end + base,
        })
        .collect();
    if toks.last().map(|t| t.kind) != Some(Tok::Eof) {
        toks.push(Token {
            kind: Tok::Eof,
            start: base + len,
            end: base + len,
        });
    }
    let mut p = Parser {
        src,
        toks,
        pos: 0,
        depth,
        block_depth: 0,
        stack,
    };
    let rng = Rng {
        start: base,
        end: base + len,
    };
    match p.testlist_star() {
        Ok(e) if p.kind() == Tok::Eof => e,
        _ => Expr::new(ExprKind::Error, rng),
    }
}

/// What a C declaration turned out to be.
enum CDeclared {
    Func(Box<FuncDef>),
    Vars(Vec<VarDecl>),
}

/// Where a C declaration appears.
#[derive(Clone, Copy, PartialEq, Eq)]
enum DeclCtx {
    /// `cdef`/`cpdef` statements in a module, class or function.
    Cdef(FuncKind),
    /// Inside `cdef extern from` or a struct body.
    Extern,
}

struct Parser<'a> {
    src: &'a [u8],
    toks: Vec<Token>,
    pos: usize,
    depth: u32,
    block_depth: u32,
    stack: StackGuard,
}

impl<'a> Parser<'a> {
    // ---- token helpers ---------------------------------------------------

    fn tok(&self) -> Token {
        self.toks[self.pos.min(self.toks.len() - 1)]
    }

    fn peek_tok(&self, n: usize) -> Token {
        self.toks[(self.pos + n).min(self.toks.len() - 1)]
    }

    fn kind(&self) -> Tok {
        self.tok().kind
    }

    fn text_of(&self, t: Token) -> &'a [u8] {
        &self.src[t.start as usize..t.end as usize]
    }

    fn text(&self) -> &'a [u8] {
        self.text_of(self.tok())
    }

    fn string_of(&self, t: Token) -> String {
        String::from_utf8_lossy(self.text_of(t)).into_owned()
    }

    fn take_string(&mut self) -> String {
        let t = self.advance();
        self.string_of(t)
    }

    fn rng(&self) -> Rng {
        let t = self.tok();
        Rng {
            start: t.start,
            end: t.end,
        }
    }

    /// The end of the last token consumed, layout tokens (end of line,
    /// indentation) skipped, so a block's range ends on its last line.
    fn prev_end(&self) -> u32 {
        let mut i = self.pos;
        while i > 0 {
            i -= 1;
            let t = self.toks[i];
            if !matches!(t.kind, Tok::Newline | Tok::Indent | Tok::Dedent) {
                return t.end;
            }
        }
        0
    }

    fn advance(&mut self) -> Token {
        let t = self.tok();
        if self.pos < self.toks.len() - 1 {
            self.pos += 1;
        }
        t
    }

    fn at_op(&self, op: &str) -> bool {
        self.kind() == Tok::Op && self.text() == op.as_bytes()
    }

    fn peek_op(&self, n: usize, op: &str) -> bool {
        let t = self.peek_tok(n);
        t.kind == Tok::Op && self.text_of(t) == op.as_bytes()
    }

    fn at_kw(&self, kw: &str) -> bool {
        self.kind() == Tok::Name && self.text() == kw.as_bytes()
    }

    fn peek_kw(&self, n: usize, kw: &str) -> bool {
        let t = self.peek_tok(n);
        t.kind == Tok::Name && self.text_of(t) == kw.as_bytes()
    }

    fn eat_op(&mut self, op: &str) -> bool {
        if self.at_op(op) {
            self.advance();
            true
        } else {
            false
        }
    }

    fn eat_kw(&mut self, kw: &str) -> bool {
        if self.at_kw(kw) {
            self.advance();
            true
        } else {
            false
        }
    }

    fn err<T>(&self, msg: impl Into<String>) -> PResult<T> {
        Err(PErr {
            rng: self.rng(),
            msg: msg.into(),
        })
    }

    fn expect_op(&mut self, op: &str) -> PResult<()> {
        if self.eat_op(op) {
            Ok(())
        } else {
            self.err(format!("expected `{op}`, found {}", self.describe()))
        }
    }

    fn expect_kw(&mut self, kw: &str) -> PResult<()> {
        if self.eat_kw(kw) {
            Ok(())
        } else {
            self.err(format!("expected `{kw}`, found {}", self.describe()))
        }
    }

    fn describe(&self) -> String {
        match self.kind() {
            Tok::Newline => "end of line".to_string(),
            Tok::Indent => "indent".to_string(),
            Tok::Dedent => "dedent".to_string(),
            Tok::Eof => "end of file".to_string(),
            _ => {
                let t = self.text();
                let t = &t[..t.len().min(40)];
                format!("`{}`", String::from_utf8_lossy(t))
            }
        }
    }

    fn is_keyword(&self, t: Token) -> bool {
        t.kind == Tok::Name && KEYWORDS.iter().any(|k| k.as_bytes() == self.text_of(t))
    }

    /// A name that is not a keyword.
    fn at_ident(&self) -> bool {
        self.kind() == Tok::Name && !self.is_keyword(self.tok())
    }

    fn ident(&mut self) -> PResult<(String, Rng)> {
        if self.at_ident() {
            let r = self.rng();
            let t = self.advance();
            Ok((self.string_of(t), r))
        } else {
            self.err(format!("expected a name, found {}", self.describe()))
        }
    }

    fn at_line_end(&self) -> bool {
        matches!(self.kind(), Tok::Newline | Tok::Eof | Tok::Dedent) || self.at_op(";")
    }

    fn enter(&mut self) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_EXPR_DEPTH || self.stack.exceeded() {
            self.depth -= 1;
            return self.err("expression nested too deeply");
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    /// Skips a bracketed group starting at the current opening bracket;
    /// returns the text between the brackets.
    fn skip_group(&mut self) -> PResult<String> {
        let open = self.advance();
        let start = open.end;
        let mut depth = 1u32;
        let end;
        loop {
            match self.kind() {
                Tok::Eof | Tok::Newline => return self.err("unclosed bracket"),
                Tok::Op => match self.text() {
                    b"(" | b"[" | b"{" => depth += 1,
                    b")" | b"]" | b"}" => {
                        depth -= 1;
                        if depth == 0 {
                            end = self.tok().start;
                            self.advance();
                            break;
                        }
                    }
                    _ => {}
                },
                _ => {}
            }
            self.advance();
        }
        Ok(
            String::from_utf8_lossy(&self.src[start as usize..end as usize])
                .trim()
                .to_string(),
        )
    }

    // ---- recovery ----------------------------------------------------------

    /// Skips the rest of the logical line (and an indented block under it)
    /// after a syntax error; the statement becomes an `Error`.
    fn recover(&mut self, start_tok: usize, err: PErr) -> Stmt {
        let mut names: Vec<(String, Rng)> = Vec::new();
        let start = self.toks[start_tok.min(self.toks.len() - 1)].start;
        let collect = |p: &Parser, t: Token, names: &mut Vec<(String, Rng)>| {
            if t.kind == Tok::Name && !p.is_keyword(t) {
                names.push((
                    p.string_of(t),
                    Rng {
                        start: t.start,
                        end: t.end,
                    },
                ));
            }
        };
        for i in start_tok..self.pos.min(self.toks.len()) {
            collect(self, self.toks[i], &mut names);
        }
        while !matches!(self.kind(), Tok::Newline | Tok::Eof | Tok::Dedent) {
            let t = self.advance();
            collect(self, t, &mut names);
        }
        self.eat_newline();
        if self.kind() == Tok::Indent {
            self.advance();
            let mut depth = 1u32;
            while depth > 0 && self.kind() != Tok::Eof {
                match self.kind() {
                    Tok::Indent => depth += 1,
                    Tok::Dedent => depth -= 1,
                    _ => {}
                }
                let t = self.advance();
                collect(self, t, &mut names);
            }
        }
        let end = self.prev_end().max(start);
        Stmt {
            kind: StmtKind::Error {
                names,
                message: err.msg,
            },
            rng: Rng { start, end },
        }
    }

    fn eat_newline(&mut self) {
        if self.kind() == Tok::Newline {
            self.advance();
        }
    }

    // ---- statements -------------------------------------------------------

    fn file(&mut self) -> Vec<Stmt> {
        let mut out = Vec::new();
        while self.kind() != Tok::Eof {
            match self.kind() {
                // Stray indentation at top level: read what is inside.
                Tok::Newline | Tok::Indent | Tok::Dedent => {
                    self.advance();
                }
                _ => self.statement(&mut out),
            }
        }
        out
    }

    /// An indented block (or simple statements on the header's line) after
    /// a `:`. Never fails once the header is complete.
    fn suite(&mut self) -> Vec<Stmt> {
        let mut out = Vec::new();
        if self.kind() != Tok::Newline {
            let start = self.pos;
            if let Err(e) = self.simple_stmts(&mut out) {
                out.push(self.recover(start, e));
            }
            return out;
        }
        self.advance();
        if self.kind() != Tok::Indent {
            // `if x:` followed by nothing indented: an empty body.
            return out;
        }
        if self.block_depth >= MAX_BLOCK_DEPTH || self.stack.exceeded() {
            let start = self.pos;
            let e = PErr {
                rng: self.rng(),
                msg: "blocks nested too deeply".to_string(),
            };
            // Recovery from an Indent skips the whole block.
            self.pos = start;
            let mut names = Vec::new();
            let from = self.tok().start;
            self.advance();
            let mut depth = 1u32;
            while depth > 0 && self.kind() != Tok::Eof {
                match self.kind() {
                    Tok::Indent => depth += 1,
                    Tok::Dedent => depth -= 1,
                    Tok::Name if !self.is_keyword(self.tok()) => {
                        names.push((self.string_of(self.tok()), self.rng()));
                    }
                    _ => {}
                }
                self.advance();
            }
            out.push(Stmt {
                kind: StmtKind::Error {
                    names,
                    message: e.msg,
                },
                rng: Rng {
                    start: from,
                    end: self.prev_end(),
                },
            });
            return out;
        }
        self.advance();
        self.block_depth += 1;
        self.block_body(&mut out);
        self.block_depth -= 1;
        out
    }

    /// Statements up to the matching Dedent (consumed).
    fn block_body(&mut self, out: &mut Vec<Stmt>) {
        loop {
            match self.kind() {
                Tok::Dedent => {
                    self.advance();
                    return;
                }
                Tok::Eof => return,
                Tok::Newline => {
                    self.advance();
                }
                Tok::Indent => {
                    // Unexpected deeper indentation: keep its statements.
                    self.advance();
                    if self.block_depth >= MAX_BLOCK_DEPTH || self.stack.exceeded() {
                        let start = self.pos;
                        let e = PErr {
                            rng: self.rng(),
                            msg: "blocks nested too deeply".to_string(),
                        };
                        self.pos -= 1;
                        out.push(self.recover(start, e));
                        continue;
                    }
                    self.block_depth += 1;
                    self.block_body(out);
                    self.block_depth -= 1;
                }
                _ => self.statement(out),
            }
        }
    }

    fn statement(&mut self, out: &mut Vec<Stmt>) {
        let start = self.pos;
        if let Err(e) = self.statement_inner(out) {
            out.push(self.recover(start, e));
        }
    }

    fn statement_inner(&mut self, out: &mut Vec<Stmt>) -> PResult<()> {
        let start = self.tok().start;
        let mut decorators = Vec::new();
        while self.at_op("@") {
            self.advance();
            decorators.push(self.test()?);
            if self.kind() != Tok::Newline {
                return self.err("expected end of line after decorator");
            }
            self.advance();
        }
        if self.kind() != Tok::Name {
            if !decorators.is_empty() {
                return self.err("expected a definition after decorators");
            }
            return self.simple_stmts(out);
        }
        let word = self.text();
        let stmt = match word {
            b"def" => self.def_stmt(start, decorators, false)?,
            b"async" if self.peek_kw(1, "def") => {
                self.advance();
                self.def_stmt(start, decorators, true)?
            }
            b"async" if self.peek_kw(1, "for") || self.peek_kw(1, "with") => {
                self.advance();
                return self.statement_inner(out);
            }
            b"class" => self.class_stmt(start, decorators, false)?,
            b"cdef" | b"cpdef" => return self.cdef_stmt(start, decorators, out),
            _ if !decorators.is_empty() => {
                return self.err("expected a definition after decorators")
            }
            b"ctypedef" => self.ctypedef_stmt(start)?,
            b"if" | b"IF" => self.if_stmt(start)?,
            b"while" => self.while_stmt(start)?,
            b"for" => self.for_stmt(start)?,
            b"try" => self.try_stmt(start)?,
            b"with" => self.with_stmt(start)?,
            b"include" if self.peek_tok(1).kind == Tok::Str => {
                self.advance();
                let t = self.advance();
                let s = self.string_of(t);
                self.end_simple()?;
                Stmt {
                    kind: StmtKind::Include(s),
                    rng: Rng { start, end: t.end },
                }
            }
            b"DEF" if self.peek_tok(1).kind == Tok::Name && self.peek_op(2, "=") => {
                self.advance();
                let (name, nrng) = self.ident()?;
                self.advance();
                let value = self.test()?;
                self.end_simple()?;
                Stmt {
                    kind: StmtKind::CDecl(vec![VarDecl {
                        name,
                        rng: nrng,
                        ty: CType {
                            base: "DEF".into(),
                            text: "DEF".into(),
                            ..CType::default()
                        },
                        value: Some(value),
                        visibility: None,
                    }]),
                    rng: Rng {
                        start,
                        end: self.prev_end(),
                    },
                }
            }
            b"property"
                if self.peek_tok(1).kind == Tok::Name
                    && self.peek_op(2, ":")
                    && self.peek_tok(3).kind == Tok::Newline =>
            {
                self.advance();
                let (name, _) = self.ident()?;
                self.advance();
                let body = self.suite();
                Stmt {
                    kind: StmtKind::Property { name, body },
                    rng: Rng {
                        start,
                        end: self.prev_end(),
                    },
                }
            }
            b"match"
                if (self.peek_tok(1).kind == Tok::Name
                    || self.peek_tok(1).kind == Tok::Number
                    || self.peek_tok(1).kind == Tok::Str)
                    && !self.is_keyword(self.peek_tok(1)) =>
            {
                return self.err("`match` statements are not analysed");
            }
            _ => return self.simple_stmts(out),
        };
        out.push(stmt);
        Ok(())
    }

    /// Simple statements separated by `;` up to the end of the line.
    fn simple_stmts(&mut self, out: &mut Vec<Stmt>) -> PResult<()> {
        loop {
            let s = self.small_stmt()?;
            out.push(s);
            if self.eat_op(";") {
                if matches!(self.kind(), Tok::Newline | Tok::Eof) {
                    break;
                }
                continue;
            }
            break;
        }
        match self.kind() {
            Tok::Newline => {
                self.advance();
                Ok(())
            }
            Tok::Eof | Tok::Dedent => Ok(()),
            _ => self.err(format!("unexpected {}", self.describe())),
        }
    }

    /// The end of a simple statement that must not be followed by more.
    fn end_simple(&mut self) -> PResult<()> {
        match self.kind() {
            Tok::Newline => {
                self.advance();
                Ok(())
            }
            Tok::Eof | Tok::Dedent => Ok(()),
            _ => self.err(format!("unexpected {}", self.describe())),
        }
    }

    fn small_stmt(&mut self) -> PResult<Stmt> {
        let start = self.tok().start;
        let mk = |p: &Parser, kind| Stmt {
            kind,
            rng: Rng {
                start,
                end: p.prev_end().max(start),
            },
        };
        if self.kind() == Tok::Name {
            match self.text() {
                b"pass" => {
                    self.advance();
                    return Ok(mk(self, StmtKind::Pass));
                }
                b"break" => {
                    self.advance();
                    return Ok(mk(self, StmtKind::Break));
                }
                b"continue" => {
                    self.advance();
                    return Ok(mk(self, StmtKind::Continue));
                }
                b"return" => {
                    self.advance();
                    let v = if self.at_line_end() {
                        None
                    } else {
                        Some(self.testlist_star()?)
                    };
                    return Ok(mk(self, StmtKind::Return(v)));
                }
                b"raise" => {
                    self.advance();
                    let mut exc = None;
                    let mut cause = None;
                    if !self.at_line_end() {
                        exc = Some(self.testlist_star()?);
                        if self.eat_kw("from") {
                            cause = Some(self.test()?);
                        }
                    }
                    return Ok(mk(self, StmtKind::Raise { exc, cause }));
                }
                b"global" | b"nonlocal" => {
                    let global = self.text() == b"global";
                    self.advance();
                    let mut names = vec![self.ident()?.0];
                    while self.eat_op(",") {
                        names.push(self.ident()?.0);
                    }
                    let k = if global {
                        StmtKind::Global(names)
                    } else {
                        StmtKind::Nonlocal(names)
                    };
                    return Ok(mk(self, k));
                }
                b"del" => {
                    self.advance();
                    let e = self.exprlist()?;
                    let targets = match e.kind {
                        ExprKind::Tuple(v) => v,
                        _ => vec![e],
                    };
                    return Ok(mk(self, StmtKind::Del(targets)));
                }
                b"assert" => {
                    self.advance();
                    let test = self.test()?;
                    let msg = if self.eat_op(",") {
                        Some(self.test()?)
                    } else {
                        None
                    };
                    return Ok(mk(self, StmtKind::Assert { test, msg }));
                }
                b"import" => {
                    self.advance();
                    let names = self.aliased_modules()?;
                    return Ok(mk(
                        self,
                        StmtKind::Import {
                            module: String::new(),
                            names,
                        },
                    ));
                }
                b"cimport" => {
                    self.advance();
                    let names = self.aliased_modules()?;
                    return Ok(mk(
                        self,
                        StmtKind::CImport {
                            module: String::new(),
                            names,
                            whole_module: true,
                        },
                    ));
                }
                b"from" => return self.import_from(start),
                b"print"
                    if !matches!(self.peek_tok(1).kind, Tok::Newline | Tok::Eof)
                        && !self.peek_op(1, "(")
                        && !self.peek_op(1, "=")
                        && !self.peek_op(1, ".")
                        && !self.peek_op(1, ",")
                        && !self.peek_op(1, "[") =>
                {
                    // Python 2's print statement (language_level=2 files).
                    let name_rng = self.rng();
                    self.advance();
                    if self.eat_op(">>") {
                        self.test()?;
                        self.eat_op(",");
                    }
                    let mut args = Vec::new();
                    while !self.at_line_end() {
                        args.push(Arg::Pos(self.test()?));
                        if !self.eat_op(",") {
                            break;
                        }
                    }
                    let call = Expr::new(
                        ExprKind::Call {
                            func: Box::new(Expr::new(ExprKind::Name("print".into()), name_rng)),
                            args,
                        },
                        Rng {
                            start,
                            end: self.prev_end(),
                        },
                    );
                    return Ok(mk(self, StmtKind::Expr(call)));
                }
                _ => {}
            }
        }
        // Expression statement or assignment.
        let first = self.testlist_star_or_yield()?;
        if self.at_op("=") {
            let mut targets = vec![first];
            let mut value;
            loop {
                self.advance();
                value = self.testlist_star_or_yield()?;
                if self.at_op("=") {
                    targets.push(value);
                    continue;
                }
                break;
            }
            return Ok(mk(self, StmtKind::Assign { targets, value }));
        }
        if self.kind() == Tok::Op {
            if let Some(op) = aug_op(self.text()) {
                self.advance();
                let value = self.testlist_star_or_yield()?;
                return Ok(mk(
                    self,
                    StmtKind::AugAssign {
                        target: first,
                        op,
                        value,
                    },
                ));
            }
            if self.at_op(":") {
                self.advance();
                let annotation = self.test()?;
                let value = if self.eat_op("=") {
                    Some(self.testlist_star_or_yield()?)
                } else {
                    None
                };
                return Ok(mk(
                    self,
                    StmtKind::AnnAssign {
                        target: first,
                        annotation,
                        value,
                    },
                ));
            }
        }
        Ok(mk(self, StmtKind::Expr(first)))
    }

    /// `a.b as c, d` after `import` / `cimport`.
    fn aliased_modules(&mut self) -> PResult<Vec<(String, Option<String>)>> {
        let mut names = Vec::new();
        loop {
            let m = self.dotted_name()?;
            let alias = if self.eat_kw("as") {
                Some(self.ident()?.0)
            } else {
                None
            };
            names.push((m, alias));
            if !self.eat_op(",") {
                return Ok(names);
            }
        }
    }

    fn dotted_name(&mut self) -> PResult<String> {
        let mut s = String::new();
        while self.at_op(".") || self.at_op("...") {
            s.push_str(&self.take_string());
        }
        if !s.is_empty() && (self.at_kw("import") || self.at_kw("cimport")) {
            return Ok(s);
        }
        if self.kind() == Tok::Name {
            s.push_str(&self.ident()?.0);
            while self.at_op(".") {
                self.advance();
                s.push('.');
                s.push_str(&self.ident()?.0);
            }
        } else if s.is_empty() {
            return self.err("expected a module name");
        }
        Ok(s)
    }

    fn import_from(&mut self, start: u32) -> PResult<Stmt> {
        self.advance();
        let module = self.dotted_name()?;
        let cimport = if self.eat_kw("cimport") {
            true
        } else {
            self.expect_kw("import")?;
            false
        };
        let mut names = Vec::new();
        if self.eat_op("*") {
            names.push(("*".to_string(), None));
        } else {
            let paren = self.eat_op("(");
            loop {
                if paren && self.at_op(")") {
                    break;
                }
                let (n, _) = self.ident()?;
                let alias = if self.eat_kw("as") {
                    Some(self.ident()?.0)
                } else {
                    None
                };
                names.push((n, alias));
                if !self.eat_op(",") {
                    break;
                }
            }
            if paren {
                self.expect_op(")")?;
            }
        }
        let kind = if cimport {
            StmtKind::CImport {
                module,
                names,
                whole_module: false,
            }
        } else {
            StmtKind::Import { module, names }
        };
        Ok(Stmt {
            kind,
            rng: Rng {
                start,
                end: self.prev_end(),
            },
        })
    }

    fn if_stmt(&mut self, start: u32) -> PResult<Stmt> {
        self.advance();
        let test = self.namedexpr_test()?;
        self.expect_op(":")?;
        let body = self.suite();
        let mut branches = vec![(test, body)];
        let mut orelse = Vec::new();
        loop {
            if self.at_kw("elif") || self.at_kw("ELIF") {
                let save = self.pos;
                self.advance();
                match self.namedexpr_test().and_then(|t| {
                    self.expect_op(":")?;
                    Ok(t)
                }) {
                    Ok(t) => {
                        let b = self.suite();
                        branches.push((t, b));
                    }
                    Err(e) => {
                        orelse.push(self.recover(save, e));
                        break;
                    }
                }
            } else if (self.at_kw("else") || self.at_kw("ELSE")) && self.peek_op(1, ":") {
                self.advance();
                self.advance();
                orelse = self.suite();
                break;
            } else {
                break;
            }
        }
        Ok(Stmt {
            kind: StmtKind::If { branches, orelse },
            rng: Rng {
                start,
                end: self.prev_end(),
            },
        })
    }

    fn else_suite(&mut self) -> Vec<Stmt> {
        if self.at_kw("else") && self.peek_op(1, ":") {
            self.advance();
            self.advance();
            self.suite()
        } else {
            Vec::new()
        }
    }

    fn while_stmt(&mut self, start: u32) -> PResult<Stmt> {
        self.advance();
        let test = self.namedexpr_test()?;
        self.expect_op(":")?;
        let body = self.suite();
        let orelse = self.else_suite();
        Ok(Stmt {
            kind: StmtKind::While { test, body, orelse },
            rng: Rng {
                start,
                end: self.prev_end(),
            },
        })
    }

    fn for_stmt(&mut self, start: u32) -> PResult<Stmt> {
        self.advance();
        let target = self.exprlist()?;
        if self.eat_kw("from") {
            // for i from 0 <= i < n [by step]:
            let mut bounds = Vec::new();
            let cmp = self.comparison()?;
            if let ExprKind::Compare { left, ops } = cmp.kind {
                bounds.push(*left);
                for (_, e) in ops {
                    bounds.push(e);
                }
            } else {
                bounds.push(cmp);
            }
            if self.eat_kw("by") {
                bounds.push(self.test()?);
            }
            self.expect_op(":")?;
            let body = self.suite();
            let orelse = self.else_suite();
            return Ok(Stmt {
                kind: StmtKind::ForFrom {
                    target,
                    bounds,
                    body,
                    orelse,
                },
                rng: Rng {
                    start,
                    end: self.prev_end(),
                },
            });
        }
        self.expect_kw("in")?;
        let iter = self.testlist_star()?;
        self.expect_op(":")?;
        let body = self.suite();
        let orelse = self.else_suite();
        Ok(Stmt {
            kind: StmtKind::For {
                target,
                iter,
                body,
                orelse,
            },
            rng: Rng {
                start,
                end: self.prev_end(),
            },
        })
    }

    fn try_stmt(&mut self, start: u32) -> PResult<Stmt> {
        self.advance();
        self.expect_op(":")?;
        let body = self.suite();
        let mut handlers = Vec::new();
        while self.at_kw("except") {
            let hstart = self.tok().start;
            let save = self.pos;
            self.advance();
            self.eat_op("*");
            let header = (|| -> PResult<ExceptHeader> {
                let mut types = None;
                let mut name = None;
                if !self.at_op(":") {
                    types = Some(self.test()?);
                    if self.eat_kw("as") || self.eat_op(",") {
                        name = Some(self.ident()?);
                    }
                }
                self.expect_op(":")?;
                Ok((types, name))
            })();
            match header {
                Ok((types, name)) => {
                    let hbody = self.suite();
                    handlers.push(Handler {
                        types,
                        name,
                        body: hbody,
                        rng: Rng {
                            start: hstart,
                            end: self.prev_end(),
                        },
                    });
                }
                Err(e) => {
                    // A broken except header: its body is unknown code.
                    let err = self.recover(save, e);
                    handlers.push(Handler {
                        types: None,
                        name: None,
                        rng: err.rng,
                        body: vec![err],
                    });
                }
            }
        }
        let orelse = self.else_suite();
        let finalbody = if self.at_kw("finally") && self.peek_op(1, ":") {
            self.advance();
            self.advance();
            Some(self.suite())
        } else {
            None
        };
        if handlers.is_empty() && finalbody.is_none() {
            return self.err("`try` without `except` or `finally`");
        }
        Ok(Stmt {
            kind: StmtKind::Try {
                body,
                handlers,
                orelse,
                finalbody,
            },
            rng: Rng {
                start,
                end: self.prev_end(),
            },
        })
    }

    fn with_stmt(&mut self, start: u32) -> PResult<Stmt> {
        self.advance();
        let mut items = Vec::new();
        let mut gil: Option<bool> = None;
        // Parenthesized context managers: `with (a as b, c):`.
        let parened = self.at_op("(") && {
            let save = self.pos;
            let ok = self.try_paren_with_items(&mut items);
            if !ok {
                self.pos = save;
                items.clear();
            }
            ok
        };
        if !parened {
            loop {
                let ctx = self.test()?;
                let target = if self.eat_kw("as") {
                    Some(self.star_target()?)
                } else {
                    None
                };
                items.push(WithItem { ctx, target });
                if !self.eat_op(",") {
                    break;
                }
            }
        }
        self.expect_op(":")?;
        let mut conditional = false;
        for it in &items {
            if it.target.is_some() {
                continue;
            }
            let name = match &it.ctx.kind {
                ExprKind::Call { func, args } => {
                    // `with nogil(flag):` (fused code): whether the GIL is
                    // released depends on the specialisation.
                    conditional |= !args.is_empty();
                    func.dotted()
                }
                _ => it.ctx.dotted(),
            };
            match name.as_deref() {
                Some("nogil" | "cython.nogil") => gil = Some(true),
                Some("gil" | "cython.gil") => gil = Some(false),
                _ => {}
            }
        }
        let body = self.suite();
        let rng = Rng {
            start,
            end: self.prev_end(),
        };
        if gil.is_some() && conditional {
            return Ok(Stmt {
                kind: StmtKind::With {
                    items: Vec::new(),
                    body,
                },
                rng,
            });
        }
        if let Some(nogil) = gil {
            // `with nogil, parallel():` — the other items are C-level.
            return Ok(Stmt {
                kind: StmtKind::Gil { nogil, body },
                rng,
            });
        }
        Ok(Stmt {
            kind: StmtKind::With { items, body },
            rng,
        })
    }

    fn try_paren_with_items(&mut self, items: &mut Vec<WithItem>) -> bool {
        self.advance();
        loop {
            let Ok(ctx) = self.test() else { return false };
            let target = if self.eat_kw("as") {
                match self.star_target() {
                    Ok(t) => Some(t),
                    Err(_) => return false,
                }
            } else {
                None
            };
            items.push(WithItem { ctx, target });
            if self.eat_op(",") {
                if self.at_op(")") {
                    break;
                }
                continue;
            }
            break;
        }
        self.eat_op(")") && self.at_op(":")
    }

    fn star_target(&mut self) -> PResult<Expr> {
        self.enter()?;
        let r = self.bitor();
        self.leave();
        r
    }

    // ---- definitions ---------------------------------------------------------

    fn def_stmt(&mut self, start: u32, decorators: Vec<Expr>, is_async: bool) -> PResult<Stmt> {
        self.advance();
        let (name, name_rng) = self.ident()?;
        let params = self.params(DeclCtx::Cdef(FuncKind::Def))?;
        let ret_annotation = if self.eat_op("->") {
            Some(self.test()?)
        } else {
            None
        };
        self.expect_op(":")?;
        let body = self.suite();
        Ok(Stmt {
            kind: StmtKind::Func(Box::new(FuncDef {
                kind: FuncKind::Def,
                is_async,
                name,
                name_rng,
                rng: Rng {
                    start,
                    end: self.prev_end(),
                },
                ret: None,
                ret_annotation,
                params,
                except: ExceptSpec::Default,
                nogil: false,
                with_gil: false,
                modifiers: Vec::new(),
                body: Some(body),
                decorators,
            })),
            rng: Rng {
                start,
                end: self.prev_end(),
            },
        })
    }

    fn class_stmt(&mut self, start: u32, decorators: Vec<Expr>, cdef: bool) -> PResult<Stmt> {
        self.advance(); // `class`
        let (mut name, name_rng) = self.ident()?;
        // `cdef class module.Name`: the last component names the class.
        while self.eat_op(".") {
            name = self.ident()?.0;
        }
        if self.at_op("[") {
            // `[object FooObject, type FooType]`
            self.skip_group()?;
        }
        let mut bases = Vec::new();
        if self.at_op("(") {
            self.advance();
            while !self.at_op(")") {
                let a = self.argument()?;
                bases.push(a.expr().clone());
                if !self.eat_op(",") {
                    break;
                }
            }
            self.expect_op(")")?;
        }
        if self.at_op("[") {
            self.skip_group()?;
        }
        let body = if cdef && matches!(self.kind(), Tok::Newline | Tok::Eof) {
            // A forward declaration: `cdef class Foo`.
            self.eat_newline();
            Vec::new()
        } else {
            self.expect_op(":")?;
            self.suite()
        };
        Ok(Stmt {
            kind: StmtKind::Class(Box::new(ClassDef {
                cdef,
                name,
                name_rng,
                rng: Rng {
                    start,
                    end: self.prev_end(),
                },
                bases,
                body,
                decorators,
            })),
            rng: Rng {
                start,
                end: self.prev_end(),
            },
        })
    }

    /// Everything that starts with `cdef` or `cpdef`.
    fn cdef_stmt(&mut self, start: u32, decorators: Vec<Expr>, out: &mut Vec<Stmt>) -> PResult<()> {
        let kind = if self.at_kw("cpdef") {
            FuncKind::Cpdef
        } else {
            FuncKind::Cdef
        };
        self.advance();
        let mut block_vis = None;
        if matches!(self.text(), b"public" | b"readonly") && self.peek_op(1, ":") {
            block_vis = Some(self.take_string());
        }
        if self.at_op(":") {
            // `cdef:` block of declarations.
            self.advance();
            if self.kind() != Tok::Newline {
                let s = self.decl_line(start, DeclCtx::Cdef(kind), None, Vec::new())?;
                out.push(s);
                return Ok(());
            }
            self.advance();
            if self.kind() != Tok::Indent {
                return Ok(());
            }
            self.advance();
            loop {
                match self.kind() {
                    Tok::Dedent => {
                        self.advance();
                        break;
                    }
                    Tok::Eof => break,
                    Tok::Newline | Tok::Indent => {
                        self.advance();
                    }
                    _ => {
                        let s0 = self.pos;
                        let lstart = self.tok().start;
                        let r = (|| -> PResult<Stmt> {
                            if self.at_kw("cdef") || self.at_kw("cpdef") {
                                self.advance();
                            }
                            let mut vis = block_vis.clone();
                            let mut mods = Vec::new();
                            self.modifiers(&mut vis, &mut mods);
                            if let Some(s) = self.type_decl(lstart, false)? {
                                return Ok(s);
                            }
                            self.decl_line(lstart, DeclCtx::Cdef(kind), vis, mods)
                        })();
                        match r {
                            Ok(s) => out.push(s),
                            Err(e) => out.push(self.recover(s0, e)),
                        }
                    }
                }
            }
            return Ok(());
        }
        let mut visibility = None;
        let mut modifiers = Vec::new();
        self.modifiers(&mut visibility, &mut modifiers);
        if self.at_kw("extern") {
            self.advance();
            if self.at_kw("from") {
                let s = self.extern_block(start)?;
                out.push(s);
                return Ok(());
            }
            if self.at_kw("class") {
                out.push(self.class_stmt(start, decorators, true)?);
                return Ok(());
            }
            // `cdef extern int f(int)`: one declaration.
            let lstart = self.tok().start;
            let item = self.decl_line(lstart, DeclCtx::Extern, None, Vec::new())?;
            let rng = Rng {
                start,
                end: self.prev_end(),
            };
            out.push(Stmt {
                kind: StmtKind::Extern(Box::new(ExternBlock {
                    header: None,
                    nogil: false,
                    rng,
                    items: vec![item],
                })),
                rng,
            });
            return Ok(());
        }
        if self.at_kw("class") {
            out.push(self.class_stmt(start, decorators, true)?);
            return Ok(());
        }
        if let Some(s) = self.type_decl(start, false)? {
            out.push(s);
            return Ok(());
        }
        let mut s = self.decl_line(start, DeclCtx::Cdef(kind), visibility, modifiers)?;
        if let StmtKind::Func(f) = &mut s.kind {
            f.decorators = decorators;
        }
        out.push(s);
        Ok(())
    }

    fn modifiers(&mut self, visibility: &mut Option<String>, modifiers: &mut Vec<String>) {
        while self.kind() == Tok::Name {
            let w = self.text();
            if !CDEF_MODIFIERS.iter().any(|m| m.as_bytes() == w) {
                break;
            }
            // `cdef inline x`? A modifier followed by `=`/`,`/`(` is a name.
            let next = self.peek_tok(1);
            if next.kind != Tok::Name {
                break;
            }
            let w = self.take_string();
            if w == "public" || w == "readonly" {
                *visibility = Some(w.clone());
            }
            modifiers.push(w);
        }
    }

    /// `struct/union/enum/cppclass/fused` definitions after `cdef` (or in
    /// an extern block). Returns `None` when the statement is something
    /// else (a variable of type `struct X`).
    fn type_decl(&mut self, start: u32, in_extern: bool) -> PResult<Option<Stmt>> {
        let _ = in_extern;
        if self.kind() != Tok::Name {
            return Ok(None);
        }
        let w = self.text();
        let kind = match w {
            b"struct" => TypeDeclKind::Struct,
            b"union" => TypeDeclKind::Union,
            b"enum" => TypeDeclKind::Enum,
            b"cppclass" => TypeDeclKind::CppClass,
            b"fused" => TypeDeclKind::Fused,
            b"packed" if self.peek_kw(1, "struct") => {
                self.advance();
                TypeDeclKind::Struct
            }
            _ => return Ok(None),
        };
        // `cdef struct Foo f`: a variable; `cdef struct Foo:`/`cdef struct
        // Foo` alone: a definition.
        let mut t1 = self.peek_tok(1);
        let mut skip = 1;
        if kind == TypeDeclKind::Enum && matches!(self.text_of(t1), b"class" | b"struct") {
            skip = 2;
            t1 = self.peek_tok(2);
        }
        let t1_next = self.peek_tok(skip + 1);
        let is_def = match (t1.kind, self.text_of(t1)) {
            (Tok::Op, b":") => true,
            (Tok::Name, _) => {
                let t2 = t1_next;
                t2.kind == Tok::Newline
                    || t2.kind == Tok::Eof
                    || (t2.kind == Tok::Op && matches!(self.text_of(t2), b":" | b"[" | b"("))
                    || (t2.kind == Tok::Str)
            }
            _ => false,
        };
        if !is_def {
            return Ok(None);
        }
        self.advance();
        if kind == TypeDeclKind::Enum && (self.at_kw("class") || self.at_kw("struct")) {
            // C++ scoped enum.
            self.advance();
        }
        let mut name = None;
        if self.at_ident() {
            name = Some(self.ident()?.0);
            if self.kind() == Tok::Str {
                self.advance();
            }
            while self.at_op("[") || self.at_op("(") {
                // C++ template parameters or base classes.
                self.skip_group()?;
            }
        }
        let mut decl = TypeDecl {
            kind,
            name,
            rng: Rng {
                start,
                end: self.prev_end(),
            },
            fields: Vec::new(),
            underlying: None,
            members: Vec::new(),
        };
        if self.eat_op(":") {
            self.type_body(&mut decl)?;
        } else {
            self.end_simple()?;
        }
        decl.rng.end = self.prev_end();
        let rng = decl.rng;
        Ok(Some(Stmt {
            kind: StmtKind::TypeDecl(Box::new(decl)),
            rng,
        }))
    }

    /// The body of a struct/union (fields), enum (members), fused type or
    /// C++ class (skipped: only the name matters).
    fn type_body(&mut self, decl: &mut TypeDecl) -> PResult<()> {
        if self.kind() != Tok::Newline {
            // `cdef enum: A, B` on one line / `struct X: pass`.
            self.type_body_line(decl);
            return Ok(());
        }
        self.advance();
        if self.kind() != Tok::Indent {
            return Ok(());
        }
        self.advance();
        let mut depth = 1u32;
        if matches!(decl.kind, TypeDeclKind::CppClass | TypeDeclKind::Fused) {
            while depth > 0 && self.kind() != Tok::Eof {
                match self.kind() {
                    Tok::Indent => depth += 1,
                    Tok::Dedent => depth -= 1,
                    _ => {}
                }
                self.advance();
            }
            return Ok(());
        }
        loop {
            match self.kind() {
                Tok::Dedent => {
                    self.advance();
                    break;
                }
                Tok::Eof => break,
                Tok::Newline => {
                    self.advance();
                }
                Tok::Indent => {
                    // Nested union/struct bodies: read their lines too.
                    self.advance();
                    depth += 1;
                    let _ = depth;
                    let mut inner = TypeDecl {
                        kind: decl.kind,
                        name: None,
                        rng: decl.rng,
                        fields: Vec::new(),
                        underlying: None,
                        members: Vec::new(),
                    };
                    loop {
                        match self.kind() {
                            Tok::Dedent => {
                                self.advance();
                                break;
                            }
                            Tok::Eof => break,
                            Tok::Newline | Tok::Indent => {
                                self.advance();
                            }
                            _ => self.type_body_line(&mut inner),
                        }
                    }
                    decl.fields.extend(inner.fields);
                    decl.members.extend(inner.members);
                }
                _ => self.type_body_line(decl),
            }
        }
        Ok(())
    }

    /// One line of a struct or enum body; errors skip the line silently
    /// (the body only tells which names exist).
    fn type_body_line(&mut self, decl: &mut TypeDecl) {
        let save = self.pos;
        let r: PResult<()> = (|| {
            if self.at_kw("pass") {
                self.advance();
                return self.end_simple();
            }
            if self.kind() == Tok::Str {
                self.advance();
                return self.end_simple();
            }
            if decl.kind == TypeDeclKind::Enum {
                loop {
                    if self.at_kw("cpdef") || self.at_kw("cdef") {
                        self.advance();
                    }
                    let (n, _) = self.ident()?;
                    decl.members.push(n);
                    if self.kind() == Tok::Str {
                        self.advance();
                    }
                    if self.eat_op("=") {
                        self.test()?;
                    }
                    if !self.eat_op(",") || self.at_line_end() {
                        break;
                    }
                }
                return self.end_simple();
            }
            if (self.at_kw("union") || self.at_kw("struct")) && self.peek_op(1, ":") {
                // Anonymous nested union: its fields come in the block.
                self.advance();
                self.advance();
                self.eat_newline();
                return Ok(());
            }
            if self.at_kw("cdef") {
                self.advance();
            }
            let start = self.tok().start;
            let s = self.decl_line(start, DeclCtx::Extern, None, Vec::new())?;
            if let StmtKind::CDecl(vars) = s.kind {
                decl.fields.extend(vars);
            }
            Ok(())
        })();
        if r.is_err() {
            self.pos = save;
            // Skip the line (and any block under it).
            let _ = self.recover(
                save,
                PErr {
                    rng: Rng::default(),
                    msg: String::new(),
                },
            );
        }
    }

    fn ctypedef_stmt(&mut self, start: u32) -> PResult<Stmt> {
        self.advance();
        let mut vis = None;
        let mut mods = Vec::new();
        self.modifiers(&mut vis, &mut mods);
        if self.at_kw("class") {
            return self.class_stmt(start, Vec::new(), true);
        }
        if self.at_kw("extern") && self.peek_kw(1, "class") {
            self.advance();
            return self.class_stmt(start, Vec::new(), true);
        }
        // `ctypedef struct X:` / `ctypedef enum X:` / `ctypedef fused X:`
        if let Some(s) = self.type_decl(start, true)? {
            return Ok(s);
        }
        // `ctypedef <type> <declarator>`
        let Some(base) = self.base_type(DeclCtx::Extern)? else {
            // `ctypedef Foo Bar` where Foo is an unknown name followed by a
            // name: base_type handles that; anything else is broken.
            return self.err("expected a type after `ctypedef`");
        };
        let d = self.declarator(DeclCtx::Extern, true)?;
        self.function_trailers()?;
        let mut ty = base.clone();
        ty.ptr = d.ptr;
        ty.func_ptr = d.func_ptr;
        ty.array = d.array;
        ty.text = self.text_range(base_start(&base, start), self.prev_end());
        self.end_simple()?;
        let rng = Rng {
            start,
            end: self.prev_end(),
        };
        Ok(Stmt {
            kind: StmtKind::TypeDecl(Box::new(TypeDecl {
                kind: TypeDeclKind::Typedef,
                name: Some(d.name),
                rng,
                fields: Vec::new(),
                underlying: Some(ty),
                members: Vec::new(),
            })),
            rng,
        })
    }

    fn text_range(&self, start: u32, end: u32) -> String {
        let s = (start as usize).min(self.src.len());
        let e = (end as usize).clamp(s, self.src.len());
        String::from_utf8_lossy(&self.src[s..e]).trim().to_string()
    }

    fn extern_block(&mut self, start: u32) -> PResult<Stmt> {
        self.expect_kw("from")?;
        let header = if self.eat_op("*") {
            Some("*".to_string())
        } else if self.kind() == Tok::Str {
            let t = self.advance();
            Some(
                self.string_of(t)
                    .trim_matches(|c| c == '"' || c == '\'')
                    .to_string(),
            )
        } else {
            return self.err("expected a header name after `cdef extern from`");
        };
        let mut nogil = false;
        loop {
            if self.eat_kw("nogil") {
                nogil = true;
            } else if self.at_kw("namespace") {
                self.advance();
                if self.kind() == Tok::Str {
                    self.advance();
                }
            } else {
                break;
            }
        }
        self.expect_op(":")?;
        let mut items = Vec::new();
        if self.kind() == Tok::Newline {
            self.advance();
            if self.kind() == Tok::Indent {
                self.advance();
                loop {
                    match self.kind() {
                        Tok::Dedent => {
                            self.advance();
                            break;
                        }
                        Tok::Eof => break,
                        Tok::Newline | Tok::Indent => {
                            self.advance();
                        }
                        _ => {
                            let s0 = self.pos;
                            match self.extern_item(&mut items) {
                                Ok(()) => {}
                                Err(e) => items.push(self.recover(s0, e)),
                            }
                        }
                    }
                }
            }
        } else {
            self.extern_item(&mut items)?;
        }
        let rng = Rng {
            start,
            end: self.prev_end(),
        };
        Ok(Stmt {
            kind: StmtKind::Extern(Box::new(ExternBlock {
                header,
                nogil,
                rng,
                items,
            })),
            rng,
        })
    }

    fn extern_item(&mut self, items: &mut Vec<Stmt>) -> PResult<()> {
        let start = self.tok().start;
        if self.kind() == Tok::Str {
            // Verbatim C code (`cdef extern from *: """..."""`).
            self.advance();
            return self.end_simple();
        }
        if self.at_kw("pass") {
            self.advance();
            return self.end_simple();
        }
        if self.at_kw("ctypedef") {
            items.push(self.ctypedef_stmt(start)?);
            return Ok(());
        }
        if self.at_kw("cdef") || self.at_kw("cpdef") {
            self.advance();
        }
        let mut vis = None;
        let mut mods = Vec::new();
        self.modifiers(&mut vis, &mut mods);
        if self.at_kw("extern") && self.peek_tok(1).kind == Tok::Name {
            self.advance();
        }
        if self.at_kw("class") {
            items.push(self.class_stmt(start, Vec::new(), true)?);
            return Ok(());
        }
        if let Some(s) = self.type_decl(start, true)? {
            items.push(s);
            return Ok(());
        }
        let s = self.decl_line(start, DeclCtx::Extern, vis, mods)?;
        items.push(s);
        Ok(())
    }

    /// One C declaration statement: variables (`int a, *b = NULL`) or a
    /// function (declaration or definition with body).
    fn decl_line(
        &mut self,
        start: u32,
        ctx: DeclCtx,
        visibility: Option<String>,
        modifiers: Vec<String>,
    ) -> PResult<Stmt> {
        match self.c_declaration(start, ctx, visibility, modifiers)? {
            CDeclared::Func(f) => {
                let rng = f.rng;
                Ok(Stmt {
                    kind: StmtKind::Func(f),
                    rng,
                })
            }
            CDeclared::Vars(v) => Ok(Stmt {
                kind: StmtKind::CDecl(v),
                rng: Rng {
                    start,
                    end: self.prev_end(),
                },
            }),
        }
    }

    fn c_declaration(
        &mut self,
        start: u32,
        ctx: DeclCtx,
        visibility: Option<String>,
        modifiers: Vec<String>,
    ) -> PResult<CDeclared> {
        let base_from = self.tok().start;
        let base = self.base_type(ctx)?;
        let mut vars = Vec::new();
        let mut first = true;
        loop {
            let mut d = self.declarator(ctx, false)?;
            let mut ty = base.clone().unwrap_or_default();
            if base.is_some() || d.ptr > 0 || d.func_ptr {
                ty.ptr += d.ptr;
                ty.func_ptr = d.func_ptr;
                ty.array = d.array;
                let text_end = d.type_end.max(base_from);
                ty.text = self.text_range(base_from, text_end);
                if ty.base.is_empty() && ty.text.starts_with('*') {
                    // `cdef *p`: not valid Cython; keep what was written.
                }
            } else {
                ty.array = d.array;
            }
            if let Some(params) = d.params.take() {
                if first && !d.func_ptr {
                    return self.func_rest(start, ctx, ty, base.is_some(), d, params, modifiers);
                }
            }
            let value = if self.eat_op("=") {
                Some(self.test()?)
            } else {
                None
            };
            vars.push(VarDecl {
                name: d.name,
                rng: d.rng,
                ty,
                value,
                visibility: visibility.clone(),
            });
            first = false;
            if !self.eat_op(",") || self.at_line_end() {
                break;
            }
            // Later declarators share only the base type.
        }
        self.end_simple()?;
        Ok(CDeclared::Vars(vars))
    }

    #[allow(clippy::too_many_arguments)]
    fn func_rest(
        &mut self,
        start: u32,
        ctx: DeclCtx,
        ret: CType,
        typed: bool,
        d: Declarator,
        params: Vec<Param>,
        modifiers: Vec<String>,
    ) -> PResult<CDeclared> {
        let mut except = ExceptSpec::Default;
        let mut nogil = false;
        let mut with_gil = false;
        loop {
            if self.eat_kw("nogil") {
                nogil = true;
            } else if self.eat_kw("noexcept") {
                except = ExceptSpec::NoExcept;
            } else if self.at_kw("with") && self.peek_kw(1, "gil") {
                self.advance();
                self.advance();
                with_gil = true;
            } else if self.at_kw("except") {
                self.advance();
                except = self.except_value()?;
            } else if self.eat_kw("const") {
            } else if self.at_op("->") {
                // Cython 3 allows a return annotation on cdef functions.
                self.advance();
                self.test()?;
            } else {
                break;
            }
        }
        let kind = match ctx {
            DeclCtx::Cdef(k) => k,
            DeclCtx::Extern => FuncKind::Cdef,
        };
        let body = if self.eat_op(":") {
            Some(self.suite())
        } else {
            self.end_simple()?;
            None
        };
        Ok(CDeclared::Func(Box::new(FuncDef {
            kind,
            is_async: false,
            name: d.name,
            name_rng: d.rng,
            rng: Rng {
                start,
                end: self.prev_end(),
            },
            ret: if typed || ret.ptr > 0 {
                Some(ret)
            } else {
                None
            },
            ret_annotation: None,
            params,
            except,
            nogil,
            with_gil,
            modifiers,
            body,
            decorators: Vec::new(),
        })))
    }

    /// `nogil`, `noexcept`, `except ...`, `with gil` after a function type
    /// that is not a definition (function pointers, typedefs).
    fn function_trailers(&mut self) -> PResult<()> {
        loop {
            if self.eat_kw("nogil") || self.eat_kw("noexcept") || self.eat_kw("const") {
            } else if self.at_kw("except") {
                self.advance();
                self.except_value()?;
            } else if self.at_kw("with") && self.peek_kw(1, "gil") {
                self.advance();
                self.advance();
            } else {
                return Ok(());
            }
        }
    }

    fn except_value(&mut self) -> PResult<ExceptSpec> {
        if self.eat_op("*") {
            return Ok(ExceptSpec::Star);
        }
        if self.eat_op("+") {
            // `except +`, `except +MemoryError`, `except +handler`.
            if self.at_ident() {
                self.dotted_name()?;
            } else if self.at_op("*") {
                self.advance();
            }
            return Ok(ExceptSpec::Cpp);
        }
        let maybe = self.eat_op("?");
        if self.at_op("*") {
            self.advance();
            return Ok(ExceptSpec::Star);
        }
        let e = self.test()?;
        let value = match &e.kind {
            ExprKind::Int(Some(v)) => ExcValue::Int(*v),
            ExprKind::Const(ConstKind::Null) => ExcValue::Null,
            ExprKind::Unary {
                op: UnOp::Neg,
                operand,
            } => match operand.kind {
                ExprKind::Int(Some(v)) => ExcValue::Int(-v),
                _ => ExcValue::Other,
            },
            _ => ExcValue::Other,
        };
        Ok(ExceptSpec::Value { value, maybe })
    }

    /// The base type of a declaration, or `None` when the declaration has
    /// no type (`cdef x = 1`, `cdef f(x):`, a parameter `x`).
    fn base_type(&mut self, ctx: DeclCtx) -> PResult<Option<CType>> {
        let save = self.pos;
        let start = self.tok().start;
        let mut words: Vec<String> = Vec::new();
        let mut sized = false;
        // Qualifiers and size words.
        while self.kind() == Tok::Name {
            let w = self.text();
            if QUALIFIERS.iter().any(|q| q.as_bytes() == w) {
                self.advance();
                continue;
            }
            if SIZE_WORDS.iter().any(|q| q.as_bytes() == w) {
                // `long x`: `long` is the type, x the name.
                words.push(self.take_string());
                sized = true;
                continue;
            }
            break;
        }
        let finish = |p: &mut Parser, base: String| -> PResult<Option<CType>> {
            let mut base = base;
            if p.at_kw("complex") && matches!(base.as_str(), "float" | "double" | "long double") {
                p.advance();
                base.push_str(" complex");
            }
            let mut brackets = None;
            if p.at_op("[") {
                brackets = Some(p.skip_group()?);
                // `cpp_map[K, V].iterator`
                while p.at_op(".") && p.peek_tok(1).kind == Tok::Name {
                    p.advance();
                    base.push_str("::");
                    base.push_str(&p.take_string());
                }
            }
            let text = p.text_range(start, p.prev_end());
            Ok(Some(CType {
                base,
                brackets,
                text,
                ..CType::default()
            }))
        };
        if sized {
            if self.kind() == Tok::Name
                && matches!(self.text(), b"int" | b"char" | b"double" | b"float")
            {
                words.push(self.take_string());
            }
            return finish(self, words.join(" "));
        }
        if self.kind() == Tok::Name && matches!(self.text(), b"struct" | b"union" | b"enum") {
            self.advance();
            let (n, _) = self.ident()?;
            return finish(self, n);
        }
        if self.at_op("(") {
            // A C tuple type: `cdef (int, double) f()`.
            if let Some(after) = self.skip_group_at(self.pos) {
                let t = self.tok_at(after);
                if t.kind == Tok::Name && !self.is_keyword(t) {
                    let inner = self.skip_group()?;
                    return finish(self, format!("({inner})"));
                }
            }
            self.pos = save;
            return Ok(None);
        }
        if self.kind() != Tok::Name || self.is_keyword(self.tok()) {
            self.pos = save;
            return Ok(None);
        }
        // A dotted name, maybe with brackets, then the declarator decides.
        let mut k = self.pos + 1;
        while self.tok_at(k).kind == Tok::Op
            && self.text_of(self.tok_at(k)) == b"."
            && self.tok_at(k + 1).kind == Tok::Name
        {
            k += 2;
        }
        let dotted = k > self.pos + 1;
        let mut after = k;
        if self.tok_at(after).kind == Tok::Op && self.text_of(self.tok_at(after)) == b"[" {
            after = self.skip_group_at(after).unwrap_or(after);
            while self.tok_at(after).kind == Tok::Op
                && self.text_of(self.tok_at(after)) == b"."
                && self.tok_at(after + 1).kind == Tok::Name
            {
                after += 2;
            }
        }
        let next = self.tok_at(after);
        let first_word = self.text();
        let basic = BASIC_C_TYPES.iter().any(|b| b.as_bytes() == first_word);
        let lone_type = (basic || dotted) && ctx == DeclCtx::Extern;
        let is_type = match next.kind {
            Tok::Name => {
                let w = self.text_of(next);
                if w == b"complex" && matches!(first_word, b"double" | b"float") {
                    true
                } else {
                    !matches!(w, b"not" | b"or" | b"if" | b"else" | b"and" | b"in" | b"is")
                }
            }
            Tok::Op => match self.text_of(next) {
                b"*" | b"**" | b"&" => true,
                b"(" => {
                    let t = self.tok_at(after + 1);
                    t.kind == Tok::Op && matches!(self.text_of(t), b"*" | b"&" | b"**")
                }
                b"," | b")" | b"=" => lone_type,
                _ => false,
            },
            Tok::Newline | Tok::Eof => lone_type,
            _ => false,
        };
        if !is_type {
            self.pos = save;
            return Ok(None);
        }
        let mut base = String::new();
        while self.pos < k {
            base.push_str(&self.take_string());
        }
        finish(self, base)
    }

    fn tok_at(&self, i: usize) -> Token {
        self.toks[i.min(self.toks.len() - 1)]
    }

    /// The index after the bracket group opening at token `i`.
    fn skip_group_at(&self, i: usize) -> Option<usize> {
        let mut depth = 0i32;
        let mut j = i;
        loop {
            let t = self.tok_at(j);
            match t.kind {
                Tok::Eof | Tok::Newline => return None,
                Tok::Op => match self.text_of(t) {
                    b"(" | b"[" | b"{" => depth += 1,
                    b")" | b"]" | b"}" => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                },
                _ => {}
            }
            j += 1;
        }
    }

    /// `*name[10]`, `(*name)(params)`, `name(params)`; `optional_name` for
    /// abstract declarators (unnamed parameters, casts).
    fn declarator(&mut self, ctx: DeclCtx, typedef: bool) -> PResult<Declarator> {
        let _ = typedef;
        let mut ptr = 0u8;
        loop {
            if self.eat_op("*") || self.eat_op("&") {
                ptr = ptr.saturating_add(1);
            } else if self.eat_op("**") {
                ptr = ptr.saturating_add(2);
            } else if self.at_kw("const")
                && (self.peek_tok(1).kind == Tok::Name
                    || self.peek_op(1, "*")
                    || self.peek_op(1, "&"))
            {
                // `int * const p` (but `cdef double const` names a variable).
                self.advance();
            } else {
                break;
            }
        }
        let type_end = self.prev_end();
        if self.at_op("(")
            && (self.peek_op(1, "*") || self.peek_op(1, "&") || self.peek_op(1, "**"))
        {
            // Function pointer: `(*name)(params)`.
            self.advance();
            let inner = self.declarator(ctx, false)?;
            self.expect_op(")")?;
            let mut params = None;
            if self.at_op("(") {
                params = Some(self.params(DeclCtx::Extern)?);
            }
            while self.at_op("[") {
                self.skip_group()?;
            }
            let _ = params;
            self.function_trailers()?;
            return Ok(Declarator {
                name: inner.name,
                rng: inner.rng,
                ptr,
                func_ptr: true,
                array: false,
                params: None,
                type_end,
            });
        }
        let (name, rng) = if self.at_ident() || self.at_kw("NULL") {
            let r = self.rng();
            (self.take_string(), r)
        } else if ctx == DeclCtx::Extern && (self.at_op(",") || self.at_op(")") || self.at_op("["))
        {
            // An unnamed parameter.
            (String::new(), self.rng())
        } else {
            return self.err(format!("expected a name, found {}", self.describe()));
        };
        if self.kind() == Tok::Str {
            // The C name: `int x "c_x"`.
            self.advance();
        }
        let mut array = false;
        let mut params = None;
        loop {
            if self.at_op("[") {
                // An array dimension, or template parameters of a function.
                self.skip_group()?;
                array = true;
            } else if self.at_op("(") && params.is_none() {
                params = Some(self.params(ctx)?);
                array = false;
            } else {
                break;
            }
        }
        Ok(Declarator {
            name,
            rng,
            ptr,
            func_ptr: false,
            array: array && params.is_none(),
            params,
            type_end,
        })
    }

    /// A parameter list in parentheses.
    fn params(&mut self, ctx: DeclCtx) -> PResult<Vec<Param>> {
        self.expect_op("(")?;
        let mut out = Vec::new();
        let pctx = match ctx {
            DeclCtx::Cdef(FuncKind::Def) => ctx,
            // In cdef prototypes an unnamed `int` is a type.
            _ => DeclCtx::Extern,
        };
        while !self.at_op(")") {
            if self.kind() == Tok::Newline || self.kind() == Tok::Eof {
                return self.err("unclosed parameter list");
            }
            out.push(self.param(pctx, ctx)?);
            if !self.eat_op(",") {
                break;
            }
        }
        self.expect_op(")")?;
        Ok(out)
    }

    fn param(&mut self, pctx: DeclCtx, ctx: DeclCtx) -> PResult<Param> {
        let r0 = self.rng();
        if self.at_op("*") || self.at_op("**") {
            let star = if self.at_op("*") { 1 } else { 2 };
            self.advance();
            let (name, rng) = if self.at_ident() {
                self.ident()?
            } else {
                (String::new(), r0)
            };
            let annotation = if self.eat_op(":") {
                Some(self.test()?)
            } else {
                None
            };
            return Ok(Param {
                name,
                rng,
                ty: None,
                annotation,
                default: None,
                star,
                not_none: false,
            });
        }
        if self.at_op("/") {
            self.advance();
            return Ok(Param {
                name: String::new(),
                rng: r0,
                ty: None,
                annotation: None,
                default: None,
                star: 3,
                not_none: false,
            });
        }
        if self.at_op("...") {
            self.advance();
            return Ok(Param {
                name: "...".into(),
                rng: r0,
                ty: None,
                annotation: None,
                default: None,
                star: 1,
                not_none: false,
            });
        }
        let base_from = self.tok().start;
        let base = self.base_type(pctx)?;
        let d = self.declarator(if base.is_some() { DeclCtx::Extern } else { ctx }, false)?;
        let ty = base.map(|mut b| {
            b.ptr += d.ptr;
            b.func_ptr = d.func_ptr;
            b.array = d.array;
            b.text = self.text_range(base_from, d.type_end.max(base_from));
            b
        });
        let ty = match ty {
            Some(t) => Some(t),
            None if d.ptr > 0 || d.func_ptr => Some(CType {
                ptr: d.ptr,
                func_ptr: d.func_ptr,
                text: "*".repeat(d.ptr as usize),
                ..CType::default()
            }),
            None => None,
        };
        let mut not_none = false;
        if self.at_kw("not") && self.peek_kw(1, "None") {
            self.advance();
            self.advance();
            not_none = true;
        } else if self.at_kw("or") && self.peek_kw(1, "None") {
            self.advance();
            self.advance();
        }
        let annotation = if matches!(ctx, DeclCtx::Cdef(_)) && self.eat_op(":") {
            Some(self.test()?)
        } else {
            None
        };
        let default = if self.eat_op("=") {
            if self.eat_op("*") || self.eat_op("?") {
                None
            } else {
                Some(self.test()?)
            }
        } else {
            None
        };
        Ok(Param {
            name: d.name,
            rng: d.rng,
            ty,
            annotation,
            default,
            star: 0,
            not_none,
        })
    }

    // ---- expressions ---------------------------------------------------------

    /// `a, b, *c` (a tuple when there are commas).
    fn testlist_star(&mut self) -> PResult<Expr> {
        let first = self.star_or_test()?;
        if !self.at_op(",") {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.eat_op(",") {
            if self.at_line_end()
                || self.at_op("=")
                || self.at_op(")")
                || self.at_op(":")
                || self.kind() == Tok::Op && aug_op(self.text()).is_some()
            {
                break;
            }
            items.push(self.star_or_test()?);
        }
        let rng = items[0].rng.to(items[items.len() - 1].rng);
        Ok(Expr::new(ExprKind::Tuple(items), rng))
    }

    fn testlist_star_or_yield(&mut self) -> PResult<Expr> {
        if self.at_kw("yield") {
            return self.yield_expr();
        }
        self.testlist_star()
    }

    fn yield_expr(&mut self) -> PResult<Expr> {
        let r = self.rng();
        self.advance();
        if self.eat_kw("from") {
            let v = self.test()?;
            let rng = r.to(v.rng);
            return Ok(Expr::new(ExprKind::YieldFrom(Box::new(v)), rng));
        }
        if self.at_line_end() || self.at_op(")") || self.at_op("=") {
            return Ok(Expr::new(ExprKind::Yield(None), r));
        }
        let v = self.testlist_star()?;
        let rng = r.to(v.rng);
        Ok(Expr::new(ExprKind::Yield(Some(Box::new(v))), rng))
    }

    fn star_or_test(&mut self) -> PResult<Expr> {
        if self.at_op("*") {
            let r = self.rng();
            self.advance();
            let v = self.star_target()?;
            let rng = r.to(v.rng);
            return Ok(Expr::new(ExprKind::Starred(Box::new(v)), rng));
        }
        self.namedexpr_test()
    }

    /// Targets of `for` and `del`: `a, (b, c), d.e`.
    fn exprlist(&mut self) -> PResult<Expr> {
        let first = self.star_or_bitor()?;
        if !self.at_op(",") {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.eat_op(",") {
            if self.at_kw("in") || self.at_line_end() || self.at_op("=") {
                break;
            }
            items.push(self.star_or_bitor()?);
        }
        let rng = items[0].rng.to(items[items.len() - 1].rng);
        Ok(Expr::new(ExprKind::Tuple(items), rng))
    }

    fn star_or_bitor(&mut self) -> PResult<Expr> {
        if self.at_op("*") {
            let r = self.rng();
            self.advance();
            let v = self.star_target()?;
            let rng = r.to(v.rng);
            return Ok(Expr::new(ExprKind::Starred(Box::new(v)), rng));
        }
        self.star_target()
    }

    fn namedexpr_test(&mut self) -> PResult<Expr> {
        let e = self.test()?;
        if self.at_op(":=") {
            if let ExprKind::Name(n) = &e.kind {
                let target = n.clone();
                self.advance();
                let v = self.test()?;
                let rng = e.rng.to(v.rng);
                return Ok(Expr::new(
                    ExprKind::Walrus {
                        target,
                        value: Box::new(v),
                    },
                    rng,
                ));
            }
        }
        Ok(e)
    }

    fn test(&mut self) -> PResult<Expr> {
        self.enter()?;
        let r = self.test_inner();
        self.leave();
        r
    }

    fn test_inner(&mut self) -> PResult<Expr> {
        if self.at_kw("lambda") {
            return self.lambda();
        }
        let e = self.or_test()?;
        if self.at_kw("if") {
            // Only a conditional expression when `else` follows (a
            // comprehension's `if` is handled by the caller).
            let save = self.pos;
            self.advance();
            let test = self.or_test()?;
            if !self.eat_kw("else") {
                self.pos = save;
                return Ok(e);
            }
            let orelse = self.test()?;
            let rng = e.rng.to(orelse.rng);
            return Ok(Expr::new(
                ExprKind::IfExp {
                    test: Box::new(test),
                    body: Box::new(e),
                    orelse: Box::new(orelse),
                },
                rng,
            ));
        }
        Ok(e)
    }

    fn lambda(&mut self) -> PResult<Expr> {
        let r = self.rng();
        self.advance();
        let mut params = Vec::new();
        while !self.at_op(":") {
            let pr = self.rng();
            let star = if self.eat_op("**") {
                2
            } else if self.eat_op("*") {
                1
            } else {
                0
            };
            let (name, rng) = if self.at_ident() {
                self.ident()?
            } else {
                (String::new(), pr)
            };
            let default = if self.eat_op("=") {
                Some(self.test()?)
            } else {
                None
            };
            params.push(Param {
                name,
                rng,
                ty: None,
                annotation: None,
                default,
                star,
                not_none: false,
            });
            if !self.eat_op(",") {
                break;
            }
        }
        self.expect_op(":")?;
        let body = self.test()?;
        let rng = r.to(body.rng);
        Ok(Expr::new(
            ExprKind::Lambda {
                params,
                body: Box::new(body),
            },
            rng,
        ))
    }

    fn or_test(&mut self) -> PResult<Expr> {
        let first = self.and_test()?;
        if !self.at_kw("or") {
            return Ok(first);
        }
        let mut values = vec![first];
        while self.eat_kw("or") {
            values.push(self.and_test()?);
        }
        let rng = values[0].rng.to(values[values.len() - 1].rng);
        Ok(Expr::new(ExprKind::BoolOp { and: false, values }, rng))
    }

    fn and_test(&mut self) -> PResult<Expr> {
        let first = self.not_test()?;
        if !self.at_kw("and") {
            return Ok(first);
        }
        let mut values = vec![first];
        while self.eat_kw("and") {
            values.push(self.not_test()?);
        }
        let rng = values[0].rng.to(values[values.len() - 1].rng);
        Ok(Expr::new(ExprKind::BoolOp { and: true, values }, rng))
    }

    fn not_test(&mut self) -> PResult<Expr> {
        if self.at_kw("not") {
            let r = self.rng();
            self.advance();
            self.enter()?;
            let v = self.not_test();
            self.leave();
            let v = v?;
            let rng = r.to(v.rng);
            return Ok(Expr::new(
                ExprKind::Unary {
                    op: UnOp::Not,
                    operand: Box::new(v),
                },
                rng,
            ));
        }
        self.comparison()
    }

    fn cmp_op(&mut self) -> Option<CmpKind> {
        let t = self.tok();
        let k = match (t.kind, self.text_of(t)) {
            (Tok::Op, b"<") => CmpKind::Lt,
            (Tok::Op, b"<=") => CmpKind::Le,
            (Tok::Op, b">") => CmpKind::Gt,
            (Tok::Op, b">=") => CmpKind::Ge,
            (Tok::Op, b"==") => CmpKind::Eq,
            (Tok::Op, b"!=") => CmpKind::Ne,
            (Tok::Name, b"in") => CmpKind::In,
            (Tok::Name, b"not") if self.peek_kw(1, "in") => {
                self.advance();
                CmpKind::NotIn
            }
            (Tok::Name, b"is") => {
                if self.peek_kw(1, "not") {
                    self.advance();
                    CmpKind::IsNot
                } else {
                    CmpKind::Is
                }
            }
            _ => return None,
        };
        self.advance();
        Some(k)
    }

    fn comparison(&mut self) -> PResult<Expr> {
        let left = self.bitor()?;
        let mut ops = Vec::new();
        while let Some(op) = self.cmp_op() {
            ops.push((op, self.bitor()?));
        }
        if ops.is_empty() {
            return Ok(left);
        }
        let rng = left.rng.to(ops[ops.len() - 1].1.rng);
        Ok(Expr::new(
            ExprKind::Compare {
                left: Box::new(left),
                ops,
            },
            rng,
        ))
    }

    fn bitor(&mut self) -> PResult<Expr> {
        self.binary(0)
    }

    fn binop_here(&self) -> Option<(BinOp, u8)> {
        if self.kind() != Tok::Op {
            return None;
        }
        Some(match self.text() {
            b"|" => (BinOp::BitOr, 0),
            b"^" => (BinOp::BitXor, 1),
            b"&" => (BinOp::BitAnd, 2),
            b"<<" => (BinOp::LShift, 3),
            b">>" => (BinOp::RShift, 3),
            b"+" => (BinOp::Add, 4),
            b"-" => (BinOp::Sub, 4),
            b"*" => (BinOp::Mul, 5),
            b"/" => (BinOp::Div, 5),
            b"//" => (BinOp::FloorDiv, 5),
            b"%" => (BinOp::Mod, 5),
            b"@" => (BinOp::MatMul, 5),
            _ => return None,
        })
    }

    /// Precedence climbing over the binary operators from `|` to `*`.
    fn binary(&mut self, min_prec: u8) -> PResult<Expr> {
        let mut left = self.unary()?;
        let mut chain = 0u32;
        while let Some((op, prec)) = self.binop_here() {
            if prec < min_prec {
                break;
            }
            // `a + b + c ...` builds a left-deep tree: bound its depth.
            chain += 1;
            if chain > MAX_CHAIN {
                return self.err("expression too long");
            }
            self.advance();
            self.enter()?;
            let right = self.binary(prec + 1);
            self.leave();
            let right = right?;
            let rng = left.rng.to(right.rng);
            left = Expr::new(
                ExprKind::BinOp {
                    op,
                    left: Box::new(left),
                    right: Box::new(right),
                },
                rng,
            );
        }
        Ok(left)
    }

    fn unary(&mut self) -> PResult<Expr> {
        self.enter()?;
        let r = self.unary_inner();
        self.leave();
        r
    }

    fn unary_inner(&mut self) -> PResult<Expr> {
        let r = self.rng();
        let op = if self.at_op("-") {
            Some(UnOp::Neg)
        } else if self.at_op("+") {
            Some(UnOp::Pos)
        } else if self.at_op("~") {
            Some(UnOp::Invert)
        } else {
            None
        };
        if let Some(op) = op {
            self.advance();
            let v = self.unary()?;
            let rng = r.to(v.rng);
            if op == UnOp::Neg {
                if let ExprKind::Int(Some(i)) = v.kind {
                    return Ok(Expr::new(ExprKind::Int(Some(-i)), rng));
                }
            }
            return Ok(Expr::new(
                ExprKind::Unary {
                    op,
                    operand: Box::new(v),
                },
                rng,
            ));
        }
        if self.at_op("<") {
            return self.cast();
        }
        if self.at_op("&") {
            self.advance();
            let v = self.unary()?;
            let rng = r.to(v.rng);
            return Ok(Expr::new(ExprKind::AddrOf(Box::new(v)), rng));
        }
        self.power()
    }

    fn cast(&mut self) -> PResult<Expr> {
        let r = self.rng();
        self.advance();
        let ty_start = self.tok().start;
        let base = match self.base_type(DeclCtx::Extern)? {
            Some(b) => b,
            None => {
                // A lone name: `<object>`, `<MyClass>`, `<list>`.
                let (n, _) = self.ident()?;
                let mut n = n;
                while self.at_op(".") {
                    self.advance();
                    n.push('.');
                    n.push_str(&self.ident()?.0);
                }
                let mut t = CType {
                    base: n,
                    ..CType::default()
                };
                if self.at_op("[") {
                    t.brackets = Some(self.skip_group()?);
                }
                t
            }
        };
        let mut ty = base;
        loop {
            if self.eat_op("*") || self.eat_op("&") {
                ty.ptr = ty.ptr.saturating_add(1);
            } else if self.eat_op("**") {
                ty.ptr = ty.ptr.saturating_add(2);
            } else if self.eat_kw("const") {
            } else {
                break;
            }
        }
        if self.at_op("(") && self.peek_op(1, "*") {
            // A function pointer type: `<int (*)(int)>`.
            self.skip_group()?;
            if self.at_op("(") {
                self.skip_group()?;
            }
            ty.func_ptr = true;
        }
        ty.text = self.text_range(ty_start, self.prev_end());
        let checked = self.eat_op("?");
        self.expect_op(">")?;
        let v = self.unary()?;
        let rng = r.to(v.rng);
        Ok(Expr::new(
            ExprKind::Cast {
                ty,
                checked,
                value: Box::new(v),
            },
            rng,
        ))
    }

    fn power(&mut self) -> PResult<Expr> {
        let base = if self.at_kw("await") {
            let r = self.rng();
            self.advance();
            let v = self.primary()?;
            let rng = r.to(v.rng);
            Expr::new(ExprKind::Await(Box::new(v)), rng)
        } else {
            self.primary()?
        };
        if self.eat_op("**") {
            let right = self.unary()?;
            let rng = base.rng.to(right.rng);
            return Ok(Expr::new(
                ExprKind::BinOp {
                    op: BinOp::Pow,
                    left: Box::new(base),
                    right: Box::new(right),
                },
                rng,
            ));
        }
        Ok(base)
    }

    fn primary(&mut self) -> PResult<Expr> {
        let mut e = self.atom()?;
        let mut trailers = 0u32;
        loop {
            if self.at_op("(") {
                self.advance();
                let args = self.call_args()?;
                self.expect_op(")")?;
                let rng = Rng {
                    start: e.rng.start,
                    end: self.prev_end(),
                };
                e = Expr::new(
                    ExprKind::Call {
                        func: Box::new(e),
                        args,
                    },
                    rng,
                );
            } else if self.at_op("[") {
                self.advance();
                let index = self.subscript_list()?;
                self.expect_op("]")?;
                let rng = Rng {
                    start: e.rng.start,
                    end: self.prev_end(),
                };
                e = Expr::new(
                    ExprKind::Subscript {
                        value: Box::new(e),
                        index,
                    },
                    rng,
                );
            } else if self.at_op(".") || self.at_op("->") {
                self.advance();
                let attr_rng = self.rng();
                // Attribute names may be keywords in C structs? Not in Cython,
                // but `.None` etc. never appear; require a name token.
                if self.kind() != Tok::Name {
                    return self.err(format!(
                        "expected an attribute name, found {}",
                        self.describe()
                    ));
                }
                let attr = self.take_string();
                let rng = Rng {
                    start: e.rng.start,
                    end: self.prev_end(),
                };
                e = Expr::new(
                    ExprKind::Attr {
                        value: Box::new(e),
                        attr,
                        attr_rng,
                    },
                    rng,
                );
            } else {
                break;
            }
            trailers += 1;
            if trailers > MAX_CHAIN {
                return self.err("expression too long");
            }
        }
        Ok(e)
    }

    fn call_args(&mut self) -> PResult<Vec<Arg>> {
        let mut args = Vec::new();
        while !self.at_op(")") {
            let a = self.argument()?;
            // A generator expression as the only argument: `f(x for x in y)`.
            if self.at_kw("for") || (self.at_kw("async") && self.peek_kw(1, "for")) {
                if let Arg::Pos(elt) = a {
                    let g = self.comprehension(CompKind::Generator, vec![elt])?;
                    args.push(Arg::Pos(g));
                    continue;
                }
            }
            args.push(a);
            if !self.eat_op(",") {
                break;
            }
        }
        Ok(args)
    }

    fn argument(&mut self) -> PResult<Arg> {
        if self.eat_op("*") {
            return Ok(Arg::Star(self.test()?));
        }
        if self.eat_op("**") {
            return Ok(Arg::StarStar(self.test()?));
        }
        if self.kind() == Tok::Name && self.peek_op(1, "=") {
            let name = self.take_string();
            self.advance();
            return Ok(Arg::Kw(name, self.test()?));
        }
        Ok(Arg::Pos(self.namedexpr_test()?))
    }

    fn subscript_list(&mut self) -> PResult<Vec<Expr>> {
        let mut out = Vec::new();
        while !self.at_op("]") {
            out.push(self.subscript()?);
            if !self.eat_op(",") {
                break;
            }
        }
        Ok(out)
    }

    fn subscript(&mut self) -> PResult<Expr> {
        let r = self.rng();
        let mut parts = Vec::new();
        let mut is_slice = false;
        if !self.at_op(":") {
            let e = self.star_or_test()?;
            if !self.at_op(":") {
                return Ok(e);
            }
            parts.push(e);
        }
        while self.eat_op(":") {
            is_slice = true;
            if !self.at_op(":") && !self.at_op("]") && !self.at_op(",") {
                parts.push(self.test()?);
            }
        }
        let _ = is_slice;
        Ok(Expr::new(
            ExprKind::Slice(parts),
            Rng {
                start: r.start,
                end: self.prev_end(),
            },
        ))
    }

    fn atom(&mut self) -> PResult<Expr> {
        let r = self.rng();
        let t = self.tok();
        match t.kind {
            Tok::Name => {
                let w = self.text();
                let kind = match w {
                    b"None" => ExprKind::Const(ConstKind::None),
                    b"True" => ExprKind::Const(ConstKind::True),
                    b"False" => ExprKind::Const(ConstKind::False),
                    b"NULL" => ExprKind::Const(ConstKind::Null),
                    b"sizeof" | b"typeid" if self.peek_op(1, "(") => {
                        self.advance();
                        self.skip_group()?;
                        return Ok(Expr::new(
                            ExprKind::Sizeof,
                            Rng {
                                start: r.start,
                                end: self.prev_end(),
                            },
                        ));
                    }
                    b"new" if self.peek_tok(1).kind == Tok::Name => {
                        self.advance();
                        let v = self.primary()?;
                        let rng = r.to(v.rng);
                        return Ok(Expr::new(ExprKind::New(Box::new(v)), rng));
                    }
                    b"yield" => return self.yield_expr(),
                    b"lambda" => return self.lambda(),
                    b"await" => {
                        self.advance();
                        let v = self.primary()?;
                        let rng = r.to(v.rng);
                        return Ok(Expr::new(ExprKind::Await(Box::new(v)), rng));
                    }
                    _ if self.is_keyword(t) => {
                        return self.err(format!("unexpected keyword {}", self.describe()))
                    }
                    _ => ExprKind::Name(self.string_of(t)),
                };
                self.advance();
                Ok(Expr::new(kind, r))
            }
            Tok::Number => {
                self.advance();
                Ok(Expr::new(number_kind(self.text_of(t)), r))
            }
            Tok::Str => self.strings(),
            Tok::Op => match self.text() {
                b"(" => self.paren(),
                b"[" => self.list_display(),
                b"{" => self.brace_display(),
                b"..." => {
                    self.advance();
                    Ok(Expr::new(ExprKind::Const(ConstKind::Ellipsis), r))
                }
                b"`" => self.err("backquote repr is not supported"),
                _ => self.err(format!("unexpected {}", self.describe())),
            },
            Tok::Error => self.err(format!("cannot read {}", self.describe())),
            _ => self.err(format!("unexpected {}", self.describe())),
        }
    }

    fn strings(&mut self) -> PResult<Expr> {
        let r = self.rng();
        let mut fields = Vec::new();
        let mut any_f = false;
        let mut bytes = false;
        let mut char_lit = false;
        let mut end = r.end;
        while self.kind() == Tok::Str {
            let t = self.advance();
            end = t.end;
            let text = self.text_of(t);
            let plen = text
                .iter()
                .position(|c| *c == b'"' || *c == b'\'')
                .unwrap_or(0);
            let prefix = &text[..plen];
            let lower: Vec<u8> = prefix.iter().map(u8::to_ascii_lowercase).collect();
            if lower.contains(&b'b') {
                bytes = true;
            }
            if lower.contains(&b'c') {
                char_lit = true;
            }
            if lower.contains(&b'f') {
                any_f = true;
                self.fstring_fields(t, plen, &mut fields);
            }
        }
        let rng = Rng {
            start: r.start,
            end,
        };
        if any_f {
            return Ok(Expr::new(ExprKind::FString(fields), rng));
        }
        Ok(Expr::new(ExprKind::Str { bytes, char_lit }, rng))
    }

    /// Parses the replacement fields of an f-string token.
    fn fstring_fields(&mut self, t: Token, plen: usize, out: &mut Vec<Expr>) {
        let text = self.text_of(t);
        let q = plen;
        if q >= text.len() {
            return;
        }
        let quote = text[q];
        let triple = text.get(q + 1) == Some(&quote) && text.get(q + 2) == Some(&quote);
        let open = if triple { 3 } else { 1 };
        let body_start = q + open;
        let body_end = text.len().saturating_sub(open).max(body_start);
        let base = t.start as usize;
        collect_fields(
            self.src,
            base + body_start,
            base + body_end,
            self.depth + 1,
            self.stack,
            out,
        );
    }

    fn paren(&mut self) -> PResult<Expr> {
        let r = self.rng();
        self.advance();
        if self.at_op(")") {
            self.advance();
            return Ok(Expr::new(
                ExprKind::Tuple(Vec::new()),
                Rng {
                    start: r.start,
                    end: self.prev_end(),
                },
            ));
        }
        if self.at_kw("yield") {
            let y = self.yield_expr()?;
            self.expect_op(")")?;
            return Ok(y);
        }
        let first = self.star_or_test()?;
        if self.at_kw("for") || (self.at_kw("async") && self.peek_kw(1, "for")) {
            let g = self.comprehension(CompKind::Generator, vec![first])?;
            self.expect_op(")")?;
            return Ok(Expr::new(
                g.kind,
                Rng {
                    start: r.start,
                    end: self.prev_end(),
                },
            ));
        }
        if self.eat_op(")") {
            // Parentheses keep the expression (not a tuple), but widen its
            // range so casts and conditions point at the whole text.
            return Ok(first);
        }
        let mut items = vec![first];
        while self.eat_op(",") {
            if self.at_op(")") {
                break;
            }
            items.push(self.star_or_test()?);
        }
        self.expect_op(")")?;
        Ok(Expr::new(
            ExprKind::Tuple(items),
            Rng {
                start: r.start,
                end: self.prev_end(),
            },
        ))
    }

    fn list_display(&mut self) -> PResult<Expr> {
        let r = self.rng();
        self.advance();
        let mut items = Vec::new();
        if !self.at_op("]") {
            let first = self.star_or_test()?;
            if self.at_kw("for") || (self.at_kw("async") && self.peek_kw(1, "for")) {
                let c = self.comprehension(CompKind::List, vec![first])?;
                self.expect_op("]")?;
                return Ok(Expr::new(
                    c.kind,
                    Rng {
                        start: r.start,
                        end: self.prev_end(),
                    },
                ));
            }
            items.push(first);
            while self.eat_op(",") {
                if self.at_op("]") {
                    break;
                }
                items.push(self.star_or_test()?);
            }
        }
        self.expect_op("]")?;
        Ok(Expr::new(
            ExprKind::List(items),
            Rng {
                start: r.start,
                end: self.prev_end(),
            },
        ))
    }

    fn brace_display(&mut self) -> PResult<Expr> {
        let r = self.rng();
        self.advance();
        let done = |p: &Parser, kind| {
            Ok(Expr::new(
                kind,
                Rng {
                    start: r.start,
                    end: p.prev_end(),
                },
            ))
        };
        if self.eat_op("}") {
            return done(self, ExprKind::Dict(Vec::new()));
        }
        // First item decides: dict (`k: v` / `**m`) or set.
        if self.eat_op("**") {
            let m = self.bitor()?;
            let mut items = vec![(None, m)];
            self.dict_rest(&mut items)?;
            self.expect_op("}")?;
            return done(self, ExprKind::Dict(items));
        }
        let first = self.star_or_test()?;
        if self.eat_op(":") {
            let v = self.test()?;
            if self.at_kw("for") || (self.at_kw("async") && self.peek_kw(1, "for")) {
                let c = self.comprehension(CompKind::Dict, vec![first, v])?;
                self.expect_op("}")?;
                return done(self, c.kind);
            }
            let mut items = vec![(Some(first), v)];
            self.dict_rest(&mut items)?;
            self.expect_op("}")?;
            return done(self, ExprKind::Dict(items));
        }
        if self.at_kw("for") || (self.at_kw("async") && self.peek_kw(1, "for")) {
            let c = self.comprehension(CompKind::Set, vec![first])?;
            self.expect_op("}")?;
            return done(self, c.kind);
        }
        let mut items = vec![first];
        while self.eat_op(",") {
            if self.at_op("}") {
                break;
            }
            items.push(self.star_or_test()?);
        }
        self.expect_op("}")?;
        done(self, ExprKind::Set(items))
    }

    fn dict_rest(&mut self, items: &mut Vec<(Option<Expr>, Expr)>) -> PResult<()> {
        while self.eat_op(",") {
            if self.at_op("}") {
                break;
            }
            if self.eat_op("**") {
                let m = self.bitor()?;
                items.push((None, m));
                continue;
            }
            let k = self.test()?;
            self.expect_op(":")?;
            let v = self.test()?;
            items.push((Some(k), v));
        }
        Ok(())
    }

    /// `for target in iter [if cond]...` clauses after a comprehension's
    /// element(s).
    fn comprehension(&mut self, kind: CompKind, elts: Vec<Expr>) -> PResult<Expr> {
        let start = elts.first().map_or(self.tok().start, |e| e.rng.start);
        let mut generators = Vec::new();
        loop {
            if self.at_kw("async") && self.peek_kw(1, "for") {
                self.advance();
            }
            if !self.eat_kw("for") {
                break;
            }
            let target = self.exprlist()?;
            self.expect_kw("in")?;
            let iter = self.or_test()?;
            let mut ifs = Vec::new();
            while self.eat_kw("if") {
                ifs.push(self.or_test()?);
            }
            generators.push(CompFor { target, iter, ifs });
        }
        Ok(Expr::new(
            ExprKind::Comp {
                kind,
                elts,
                generators,
            },
            Rng {
                start,
                end: self.prev_end(),
            },
        ))
    }
}

/// An `except` clause's exception types and `as` name.
type ExceptHeader = (Option<Expr>, Option<(String, Rng)>);

struct Declarator {
    name: String,
    rng: Rng,
    ptr: u8,
    func_ptr: bool,
    array: bool,
    params: Option<Vec<Param>>,
    /// End of the type part (after the stars).
    type_end: u32,
}

fn base_start(_b: &CType, start: u32) -> u32 {
    start
}

fn aug_op(t: &[u8]) -> Option<BinOp> {
    Some(match t {
        b"+=" => BinOp::Add,
        b"-=" => BinOp::Sub,
        b"*=" => BinOp::Mul,
        b"/=" => BinOp::Div,
        b"//=" => BinOp::FloorDiv,
        b"%=" => BinOp::Mod,
        b"**=" => BinOp::Pow,
        b"@=" => BinOp::MatMul,
        b"<<=" => BinOp::LShift,
        b">>=" => BinOp::RShift,
        b"&=" => BinOp::BitAnd,
        b"|=" => BinOp::BitOr,
        b"^=" => BinOp::BitXor,
        _ => return None,
    })
}

fn number_kind(t: &[u8]) -> ExprKind {
    let s: String = String::from_utf8_lossy(t)
        .chars()
        .filter(|c| *c != '_')
        .collect();
    let lower = s.to_ascii_lowercase();
    let trimmed = lower.trim_end_matches(['l', 'u']);
    let parsed = if let Some(h) = trimmed.strip_prefix("0x") {
        i64::from_str_radix(h, 16).ok()
    } else if let Some(o) = trimmed.strip_prefix("0o") {
        i64::from_str_radix(o, 8).ok()
    } else if let Some(b) = trimmed.strip_prefix("0b") {
        i64::from_str_radix(b, 2).ok()
    } else if trimmed.contains(['.', 'e', 'j']) {
        return ExprKind::Float;
    } else {
        trimmed.parse::<i64>().ok()
    };
    ExprKind::Int(parsed)
}

/// Finds the replacement fields of an f-string body `src[start..end]` and
/// parses each field's expression (and the fields nested in its format
/// spec).
fn collect_fields(
    src: &[u8],
    start: usize,
    end: usize,
    depth: u32,
    stack: StackGuard,
    out: &mut Vec<Expr>,
) {
    if depth > MAX_EXPR_DEPTH || stack.exceeded() {
        return;
    }
    let mut p = start;
    while p < end {
        let c = src[p];
        if c == b'\\' {
            p += 2;
            continue;
        }
        if c == b'{' {
            if src.get(p + 1) == Some(&b'{') {
                p += 2;
                continue;
            }
            // Find the end of the expression part and of the field.
            let expr_start = p + 1;
            let mut q = expr_start;
            let mut nest = 0i32;
            let mut expr_end = None;
            while q < end {
                let d = src[q];
                match d {
                    b'\'' | b'"' => {
                        let (e, _) = lexer::scan_string(src, q, false, 1);
                        q = e.min(end);
                        continue;
                    }
                    b'(' | b'[' | b'{' => nest += 1,
                    b')' | b']' => nest -= 1,
                    b'}' if nest > 0 => nest -= 1,
                    b'}' => break,
                    b'!' if nest == 0 && expr_end.is_none() && src.get(q + 1) != Some(&b'=') => {
                        expr_end = Some(q);
                    }
                    b':' if nest == 0 && expr_end.is_none() => expr_end = Some(q),
                    b'=' if nest == 0
                        && expr_end.is_none()
                        && !matches!(src.get(q + 1), Some(b'='))
                        && !matches!(
                            src.get(q.wrapping_sub(1)),
                            Some(b'=' | b'!' | b'<' | b'>')
                        ) =>
                    {
                        // The `{x=}` debugging specifier.
                        expr_end = Some(q);
                    }
                    _ => {}
                }
                q += 1;
            }
            let field_end = q.min(end);
            let e_end = expr_end.unwrap_or(field_end);
            if e_end > expr_start {
                out.push(parse_sub_expr(
                    src,
                    expr_start as u32,
                    (e_end - expr_start) as u32,
                    depth,
                    stack,
                ));
            }
            // Nested fields in the format spec: `{x:{width}}`.
            if e_end < field_end {
                collect_fields(src, e_end + 1, field_end, depth + 1, stack, out);
            }
            p = field_end + 1;
            continue;
        }
        p += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(s: &str) -> Vec<Stmt> {
        parse(s.as_bytes()).stmts
    }

    fn errors(stmts: &[Stmt]) -> Vec<String> {
        let mut out = Vec::new();
        fn walk(stmts: &[Stmt], out: &mut Vec<String>) {
            for s in stmts {
                match &s.kind {
                    StmtKind::Error { message, .. } => out.push(message.clone()),
                    StmtKind::Func(f) => {
                        if let Some(b) = &f.body {
                            walk(b, out);
                        }
                    }
                    StmtKind::Class(c) => walk(&c.body, out),
                    StmtKind::Extern(e) => walk(&e.items, out),
                    StmtKind::If { branches, orelse } => {
                        for (_, b) in branches {
                            walk(b, out);
                        }
                        walk(orelse, out);
                    }
                    StmtKind::While { body, orelse, .. }
                    | StmtKind::For { body, orelse, .. }
                    | StmtKind::ForFrom { body, orelse, .. } => {
                        walk(body, out);
                        walk(orelse, out);
                    }
                    StmtKind::Try {
                        body,
                        handlers,
                        orelse,
                        finalbody,
                    } => {
                        walk(body, out);
                        for h in handlers {
                            walk(&h.body, out);
                        }
                        walk(orelse, out);
                        if let Some(f) = finalbody {
                            walk(f, out);
                        }
                    }
                    StmtKind::With { body, .. }
                    | StmtKind::Gil { body, .. }
                    | StmtKind::Property { body, .. } => walk(body, out),
                    _ => {}
                }
            }
        }
        walk(stmts, &mut out);
        out
    }

    fn func(s: &Stmt) -> &FuncDef {
        match &s.kind {
            StmtKind::Func(f) => f,
            other => panic!("not a function: {other:?}"),
        }
    }

    #[test]
    fn cdef_function_with_typed_params_and_except() {
        let st = parse_str(
            "cdef inline int f(PyObject* p, object o, int n=0, *args) except -1 nogil:\n    return 0\n",
        );
        assert!(errors(&st).is_empty(), "{:?}", errors(&st));
        let f = func(&st[0]);
        assert_eq!(f.name, "f");
        assert_eq!(f.kind, FuncKind::Cdef);
        assert_eq!(f.ret.as_ref().map(|t| t.base.as_str()), Some("int"));
        assert_eq!(f.params.len(), 4);
        assert_eq!(
            f.params[0].ty.as_ref().map(|t| (t.base.as_str(), t.ptr)),
            Some(("PyObject", 1))
        );
        assert_eq!(
            f.params[1].ty.as_ref().map(|t| t.base.as_str()),
            Some("object")
        );
        assert_eq!(f.params[3].star, 1);
        assert_eq!(
            f.except,
            ExceptSpec::Value {
                value: ExcValue::Int(-1),
                maybe: false
            }
        );
        assert!(f.nogil);
        assert!(f.modifiers.contains(&"inline".to_string()));
    }

    #[test]
    fn untyped_cdef_function_and_variables() {
        let st =
            parse_str("cdef f(x, y):\n    cdef a = 1, b\n    cdef list l = []\n    return x\n");
        assert!(errors(&st).is_empty(), "{:?}", errors(&st));
        let f = func(&st[0]);
        assert!(f.ret.is_none());
        assert!(f.params.iter().all(|p| p.ty.is_none()));
        let body = f.body.as_ref().unwrap();
        match &body[0].kind {
            StmtKind::CDecl(v) => {
                assert_eq!(v.len(), 2);
                assert!(v[0].ty.is_untyped());
            }
            k => panic!("{k:?}"),
        }
        match &body[1].kind {
            StmtKind::CDecl(v) => assert_eq!(v[0].ty.base, "list"),
            k => panic!("{k:?}"),
        }
    }

    #[test]
    fn cdef_block_and_class_attributes() {
        let src = "cdef class Foo(Base):\n    cdef PyObject* raw\n    cdef public object obj\n    cdef:\n        int a, b\n        list items\n    def __cinit__(self, int n):\n        self.a = n\n    cdef int meth(self) except -1:\n        return 0\n";
        let st = parse_str(src);
        assert!(errors(&st).is_empty(), "{:?}", errors(&st));
        let StmtKind::Class(c) = &st[0].kind else {
            panic!()
        };
        assert!(c.cdef);
        assert_eq!(c.name, "Foo");
        let decls: Vec<(String, String, u8, Option<String>)> = c
            .body
            .iter()
            .filter_map(|s| match &s.kind {
                StmtKind::CDecl(v) => Some(v.clone()),
                _ => None,
            })
            .flatten()
            .map(|v| (v.name, v.ty.base, v.ty.ptr, v.visibility))
            .collect();
        assert_eq!(
            decls,
            vec![
                ("raw".into(), "PyObject".into(), 1, None),
                ("obj".into(), "object".into(), 0, Some("public".into())),
                ("a".into(), "int".into(), 0, None),
                ("b".into(), "int".into(), 0, None),
                ("items".into(), "list".into(), 0, None),
            ]
        );
        let methods: Vec<&str> = c
            .body
            .iter()
            .filter_map(|s| match &s.kind {
                StmtKind::Func(f) => Some(f.name.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(methods, vec!["__cinit__", "meth"]);
    }

    #[test]
    fn extern_block_declarations() {
        let src = "cdef extern from \"lib.h\" nogil:\n    \"\"\"\n    verbatim\n    \"\"\"\n    ctypedef struct item_t:\n        int n\n        PyObject* obj\n    ctypedef int (*cb_t)(int, void*)\n    enum: A, B = 2\n    PyObject* get_item(int) # borrowed\n    object make(char *name, ...)\n    void take(PyObject* o)  # steals\n    int check(object o) except -1\n    const char* VERSION\n    int PyX_Thing \"PyX_RealThing\" (object, Py_ssize_t)\n";
        let st = parse_str(src);
        assert!(errors(&st).is_empty(), "{:?}", errors(&st));
        let StmtKind::Extern(e) = &st[0].kind else {
            panic!()
        };
        assert_eq!(e.header.as_deref(), Some("lib.h"));
        assert!(e.nogil);
        let funcs: Vec<(String, usize)> = e
            .items
            .iter()
            .filter_map(|s| match &s.kind {
                StmtKind::Func(f) => Some((f.name.clone(), f.params.len())),
                _ => None,
            })
            .collect();
        assert_eq!(
            funcs,
            vec![
                ("get_item".into(), 1),
                ("make".into(), 2),
                ("take".into(), 1),
                ("check".into(), 1),
                ("PyX_Thing".into(), 2)
            ]
        );
    }

    #[test]
    fn casts_and_refcnt_access() {
        let st = parse_str("x = <object>p\ny = <PyObject*>x\nz = <list?>y\nn = (<PyObject*>x).ob_refcnt\nw = <void*>self\n");
        assert!(errors(&st).is_empty(), "{:?}", errors(&st));
        let StmtKind::Assign { value, .. } = &st[1].kind else {
            panic!()
        };
        match &value.kind {
            ExprKind::Cast { ty, checked, .. } => {
                assert_eq!((ty.base.as_str(), ty.ptr, *checked), ("PyObject", 1, false));
            }
            k => panic!("{k:?}"),
        }
        let StmtKind::Assign { value, .. } = &st[2].kind else {
            panic!()
        };
        assert!(matches!(value.kind, ExprKind::Cast { checked: true, .. }));
    }

    #[test]
    fn fstrings_yield_their_fields() {
        let st = parse_str("print(f\"a {x!r} b {<object>p:>{w}} {{c}} {d['k']}\")\n");
        assert!(errors(&st).is_empty(), "{:?}", errors(&st));
        let StmtKind::Expr(e) = &st[0].kind else {
            panic!()
        };
        let ExprKind::Call { args, .. } = &e.kind else {
            panic!()
        };
        let ExprKind::FString(fields) = &args[0].expr().kind else {
            panic!()
        };
        assert_eq!(fields.len(), 4);
        assert!(matches!(fields[1].kind, ExprKind::Cast { .. }));
        assert_eq!(fields[2].name(), Some("w"));
    }

    #[test]
    fn try_with_decorators_and_python_syntax() {
        let src = "@cython.boundscheck(False)\n@decorator\ndef f(a, *, b=1, **kw) -> int:\n    with nogil:\n        pass\n    with open(a) as fh, lock:\n        pass\n    try:\n        x = [i * 2 for i in a if i]\n    except (ValueError, TypeError) as e:\n        raise\n    except:\n        pass\n    else:\n        y = {k: v for k, v in kw.items()}\n    finally:\n        z = lambda q, r=2: q + r\n    for i from 0 <= i < 10 by 2:\n        pass\n    async def g():\n        await h()\n    return (yield x)\n";
        let st = parse_str(src);
        assert!(errors(&st).is_empty(), "{:?}", errors(&st));
        let f = func(&st[0]);
        assert_eq!(f.decorators.len(), 2);
        assert_eq!(f.params.len(), 4);
        let body = f.body.as_ref().unwrap();
        assert!(matches!(body[0].kind, StmtKind::Gil { nogil: true, .. }));
        assert!(matches!(body[1].kind, StmtKind::With { .. }));
        assert!(matches!(body[2].kind, StmtKind::Try { .. }));
        assert!(matches!(body[3].kind, StmtKind::ForFrom { .. }));
    }

    #[test]
    fn syntax_error_costs_one_statement() {
        let src = "def f():\n    x = (1 +\n    y = 2\n    return y\n\ndef g():\n    return 1\n";
        let st = parse_str(src);
        assert_eq!(st.len(), 2);
        let f = func(&st[0]);
        let body = f.body.as_ref().unwrap();
        assert!(matches!(body[0].kind, StmtKind::Error { .. }));
        assert!(matches!(body.last().unwrap().kind, StmtKind::Return(_)));
        assert_eq!(func(&st[1]).name, "g");
    }

    #[test]
    fn broken_header_skips_its_block() {
        let src = "def f():\n    if x ==:\n        y = 1\n        z = 2\n    return 3\n";
        let st = parse_str(src);
        let body = func(&st[0]).body.clone().unwrap();
        assert_eq!(body.len(), 2);
        match &body[0].kind {
            StmtKind::Error { names, .. } => {
                let n: Vec<&str> = names.iter().map(|(n, _)| n.as_str()).collect();
                assert_eq!(n, vec!["x", "y", "z"]);
            }
            k => panic!("{k:?}"),
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = format!("x = {}1{}\n", "(".repeat(5000), ")".repeat(5000));
        let st = parse_str(&deep);
        assert!(matches!(st[0].kind, StmtKind::Error { .. }));
        let mut blocks = String::new();
        for i in 0..200 {
            blocks.push_str(&" ".repeat(i));
            blocks.push_str("if x:\n");
        }
        blocks.push_str(&" ".repeat(200));
        blocks.push_str("pass\n");
        let st = parse_str(&blocks);
        assert!(!st.is_empty());
        let unary = format!("x = {}1\n", "-".repeat(5000));
        let st = parse_str(&unary);
        assert!(matches!(st[0].kind, StmtKind::Error { .. }));
    }

    #[test]
    fn templates_fused_and_memoryviews_stay_opaque() {
        let src = "ctypedef fused number:\n    int\n    double\ncdef vector[int] v\ncdef double[:, ::1] view\ncdef np.ndarray[np.float64_t, ndim=2] arr\ncdef extern from \"<vector>\" namespace \"std\":\n    cdef cppclass vector[T]:\n        void push_back(T&) except +\n        T& operator[](size_t)\ncdef number add(number a, number b):\n    return a + b\n";
        let st = parse_str(src);
        assert!(errors(&st).is_empty(), "{:?}", errors(&st));
        let kinds: Vec<String> = st
            .iter()
            .map(|s| match &s.kind {
                StmtKind::CDecl(v) => format!("decl {} {:?}", v[0].ty.base, v[0].ty.brackets),
                StmtKind::TypeDecl(t) => format!("type {:?}", t.kind),
                StmtKind::Extern(_) => "extern".into(),
                StmtKind::Func(f) => format!("func {}", f.name),
                k => format!("{k:?}"),
            })
            .collect();
        assert_eq!(
            kinds,
            vec![
                "type Fused",
                "decl vector Some(\"int\")",
                "decl double Some(\":, ::1\")",
                "decl np.ndarray Some(\"np.float64_t, ndim=2\")",
                "extern",
                "func add"
            ]
        );
    }

    #[test]
    fn pxd_declarations_without_bodies() {
        let src = "cdef class Tree:\n    cdef public Py_ssize_t n\n    cdef object nodes\n    cdef int _resize(self, Py_ssize_t cap) except -1 nogil\n    cpdef object predict(self, object X)\ncdef int helper(int x) noexcept\n";
        let st = parse_str(src);
        assert!(errors(&st).is_empty(), "{:?}", errors(&st));
        let StmtKind::Class(c) = &st[0].kind else {
            panic!()
        };
        let f: Vec<&FuncDef> = c
            .body
            .iter()
            .filter_map(|s| match &s.kind {
                StmtKind::Func(f) => Some(&**f),
                _ => None,
            })
            .collect();
        assert_eq!(f.len(), 2);
        assert!(f.iter().all(|f| f.body.is_none()));
        assert_eq!(func(&st[1]).except, ExceptSpec::NoExcept);
    }

    #[test]
    fn python2_print_and_old_syntax() {
        let st = parse_str("print x, y\nprint\nexec_ = 1\n");
        assert!(errors(&st).is_empty(), "{:?}", errors(&st));
        assert_eq!(st.len(), 3);
    }

    #[test]
    fn function_pointers_and_arrays() {
        let src = "cdef void (*callback)(int, void*) nogil\ncdef int arr[10][20]\ncdef char *names[4]\ncdef object (*getter)(object)\n";
        let st = parse_str(src);
        assert!(errors(&st).is_empty(), "{:?}", errors(&st));
        match &st[0].kind {
            StmtKind::CDecl(v) => assert!(v[0].ty.func_ptr),
            k => panic!("{k:?}"),
        }
        match &st[1].kind {
            StmtKind::CDecl(v) => assert!(v[0].ty.array),
            k => panic!("{k:?}"),
        }
    }
}
