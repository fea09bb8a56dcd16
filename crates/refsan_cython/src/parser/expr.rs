//! Expressions: all of Python's, plus Cython's casts (`<T>x`, `<T?>x`),
//! address-of and `sizeof`.

use super::*;

impl<'a> Parser<'a> {
    /// `a, b, *c` (a tuple when there are commas).
    pub(super) fn testlist_star(&mut self) -> PResult<Expr> {
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

    pub(super) fn testlist_star_or_yield(&mut self) -> PResult<Expr> {
        if self.at_kw("yield") {
            return self.yield_expr();
        }
        self.testlist_star()
    }

    pub(super) fn yield_expr(&mut self) -> PResult<Expr> {
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

    pub(super) fn star_or_test(&mut self) -> PResult<Expr> {
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
    pub(super) fn exprlist(&mut self) -> PResult<Expr> {
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

    pub(super) fn star_or_bitor(&mut self) -> PResult<Expr> {
        if self.at_op("*") {
            let r = self.rng();
            self.advance();
            let v = self.star_target()?;
            let rng = r.to(v.rng);
            return Ok(Expr::new(ExprKind::Starred(Box::new(v)), rng));
        }
        self.star_target()
    }

    pub(super) fn namedexpr_test(&mut self) -> PResult<Expr> {
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

    pub(super) fn test(&mut self) -> PResult<Expr> {
        self.enter()?;
        let r = self.test_inner();
        self.leave();
        r
    }

    pub(super) fn test_inner(&mut self) -> PResult<Expr> {
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

    pub(super) fn lambda(&mut self) -> PResult<Expr> {
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

    pub(super) fn or_test(&mut self) -> PResult<Expr> {
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

    pub(super) fn and_test(&mut self) -> PResult<Expr> {
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

    pub(super) fn not_test(&mut self) -> PResult<Expr> {
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

    pub(super) fn cmp_op(&mut self) -> Option<CmpKind> {
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

    pub(super) fn comparison(&mut self) -> PResult<Expr> {
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

    pub(super) fn bitor(&mut self) -> PResult<Expr> {
        self.binary(0)
    }

    pub(super) fn binop_here(&self) -> Option<(BinOp, u8)> {
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
    pub(super) fn binary(&mut self, min_prec: u8) -> PResult<Expr> {
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

    pub(super) fn unary(&mut self) -> PResult<Expr> {
        self.enter()?;
        let r = self.unary_inner();
        self.leave();
        r
    }

    pub(super) fn unary_inner(&mut self) -> PResult<Expr> {
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

    pub(super) fn cast(&mut self) -> PResult<Expr> {
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

    pub(super) fn power(&mut self) -> PResult<Expr> {
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

    pub(super) fn primary(&mut self) -> PResult<Expr> {
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

    pub(super) fn call_args(&mut self) -> PResult<Vec<Arg>> {
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

    pub(super) fn argument(&mut self) -> PResult<Arg> {
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

    pub(super) fn subscript_list(&mut self) -> PResult<Vec<Expr>> {
        let mut out = Vec::new();
        while !self.at_op("]") {
            out.push(self.subscript()?);
            if !self.eat_op(",") {
                break;
            }
        }
        Ok(out)
    }

    pub(super) fn subscript(&mut self) -> PResult<Expr> {
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

    pub(super) fn atom(&mut self) -> PResult<Expr> {
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

    pub(super) fn strings(&mut self) -> PResult<Expr> {
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
    pub(super) fn fstring_fields(&mut self, t: Token, plen: usize, out: &mut Vec<Expr>) {
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

    pub(super) fn paren(&mut self) -> PResult<Expr> {
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

    pub(super) fn list_display(&mut self) -> PResult<Expr> {
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

    pub(super) fn brace_display(&mut self) -> PResult<Expr> {
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

    pub(super) fn dict_rest(&mut self, items: &mut Vec<(Option<Expr>, Expr)>) -> PResult<()> {
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
    pub(super) fn comprehension(&mut self, kind: CompKind, elts: Vec<Expr>) -> PResult<Expr> {
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

pub(super) fn number_kind(t: &[u8]) -> ExprKind {
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
