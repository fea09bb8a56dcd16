//! Statements: suites and indentation, simple and compound statements.

use super::*;

impl<'a> Parser<'a> {
    pub(super) fn file(&mut self) -> Vec<Stmt> {
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
    pub(super) fn suite(&mut self) -> Vec<Stmt> {
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
    pub(super) fn block_body(&mut self, out: &mut Vec<Stmt>) {
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

    pub(super) fn statement(&mut self, out: &mut Vec<Stmt>) {
        let start = self.pos;
        if let Err(e) = self.statement_inner(out) {
            out.push(self.recover(start, e));
        }
    }

    pub(super) fn statement_inner(&mut self, out: &mut Vec<Stmt>) -> PResult<()> {
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
    pub(super) fn simple_stmts(&mut self, out: &mut Vec<Stmt>) -> PResult<()> {
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
    pub(super) fn end_simple(&mut self) -> PResult<()> {
        match self.kind() {
            Tok::Newline => {
                self.advance();
                Ok(())
            }
            Tok::Eof | Tok::Dedent => Ok(()),
            _ => self.err(format!("unexpected {}", self.describe())),
        }
    }

    pub(super) fn small_stmt(&mut self) -> PResult<Stmt> {
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
    pub(super) fn aliased_modules(&mut self) -> PResult<Vec<(String, Option<String>)>> {
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

    pub(super) fn dotted_name(&mut self) -> PResult<String> {
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

    pub(super) fn import_from(&mut self, start: u32) -> PResult<Stmt> {
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

    pub(super) fn if_stmt(&mut self, start: u32) -> PResult<Stmt> {
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

    pub(super) fn else_suite(&mut self) -> Vec<Stmt> {
        if self.at_kw("else") && self.peek_op(1, ":") {
            self.advance();
            self.advance();
            self.suite()
        } else {
            Vec::new()
        }
    }

    pub(super) fn while_stmt(&mut self, start: u32) -> PResult<Stmt> {
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

    pub(super) fn for_stmt(&mut self, start: u32) -> PResult<Stmt> {
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

    pub(super) fn try_stmt(&mut self, start: u32) -> PResult<Stmt> {
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

    pub(super) fn with_stmt(&mut self, start: u32) -> PResult<Stmt> {
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

    pub(super) fn try_paren_with_items(&mut self, items: &mut Vec<WithItem>) -> bool {
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

    pub(super) fn star_target(&mut self) -> PResult<Expr> {
        self.enter()?;
        let r = self.bitor();
        self.leave();
        r
    }
}

pub(super) fn aug_op(t: &[u8]) -> Option<BinOp> {
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
