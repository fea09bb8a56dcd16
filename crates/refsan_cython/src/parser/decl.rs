//! Definitions and declarations: `def`, `cdef`/`cpdef`, classes, `ctypedef`,
//! `cdef extern` blocks, C types, declarators and parameters.

use super::*;

impl<'a> Parser<'a> {
    pub(super) fn def_stmt(
        &mut self,
        start: u32,
        decorators: Vec<Expr>,
        is_async: bool,
    ) -> PResult<Stmt> {
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
                cname: None,
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

    pub(super) fn class_stmt(
        &mut self,
        start: u32,
        decorators: Vec<Expr>,
        cdef: bool,
    ) -> PResult<Stmt> {
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
    pub(super) fn cdef_stmt(
        &mut self,
        start: u32,
        decorators: Vec<Expr>,
        out: &mut Vec<Stmt>,
    ) -> PResult<()> {
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

    pub(super) fn modifiers(
        &mut self,
        visibility: &mut Option<String>,
        modifiers: &mut Vec<String>,
    ) {
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
    pub(super) fn type_decl(&mut self, start: u32, in_extern: bool) -> PResult<Option<Stmt>> {
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
    pub(super) fn type_body(&mut self, decl: &mut TypeDecl) -> PResult<()> {
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
    pub(super) fn type_body_line(&mut self, decl: &mut TypeDecl) {
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

    pub(super) fn ctypedef_stmt(&mut self, start: u32) -> PResult<Stmt> {
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

    pub(super) fn text_range(&self, start: u32, end: u32) -> String {
        let s = (start as usize).min(self.src.len());
        let e = (end as usize).clamp(s, self.src.len());
        String::from_utf8_lossy(&self.src[s..e]).trim().to_string()
    }

    pub(super) fn extern_block(&mut self, start: u32) -> PResult<Stmt> {
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

    pub(super) fn extern_item(&mut self, items: &mut Vec<Stmt>) -> PResult<()> {
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
    pub(super) fn decl_line(
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

    pub(super) fn c_declaration(
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
    pub(super) fn func_rest(
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
            cname: d.cname,
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
    pub(super) fn function_trailers(&mut self) -> PResult<()> {
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

    pub(super) fn except_value(&mut self) -> PResult<ExceptSpec> {
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
    pub(super) fn base_type(&mut self, ctx: DeclCtx) -> PResult<Option<CType>> {
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

    pub(super) fn tok_at(&self, i: usize) -> Token {
        self.toks[i.min(self.toks.len() - 1)]
    }

    /// The index after the bracket group opening at token `i`.
    pub(super) fn skip_group_at(&self, i: usize) -> Option<usize> {
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
    pub(super) fn declarator(&mut self, ctx: DeclCtx, typedef: bool) -> PResult<Declarator> {
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
                cname: None,
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
        let cname = if self.kind() == Tok::Str {
            // The C name: `int x "c_x"`.
            let t = self.advance();
            let text = self.string_of(t);
            let inner = text.trim_matches(|c| c == '"' || c == '\'');
            (!inner.is_empty()
                && inner
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_'))
            .then(|| inner.to_string())
        } else {
            None
        };
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
            cname,
        })
    }

    /// A parameter list in parentheses.
    pub(super) fn params(&mut self, ctx: DeclCtx) -> PResult<Vec<Param>> {
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

    pub(super) fn param(&mut self, pctx: DeclCtx, ctx: DeclCtx) -> PResult<Param> {
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
}

pub(super) fn base_start(_b: &CType, start: u32) -> u32 {
    start
}

/// Finds the replacement fields of an f-string body `src[start..end]` and
/// parses each field's expression (and the fields nested in its format
/// spec).
pub(super) fn collect_fields(
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
