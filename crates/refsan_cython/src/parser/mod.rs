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

mod stmt;

use decl::collect_fields;
use stmt::aug_op;
mod decl;
mod expr;

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
    /// The C name written after the name (`x "c_x"`).
    cname: Option<String>,
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
