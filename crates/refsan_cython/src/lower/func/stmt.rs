//! Statements: control flow (`if`, loops, `try`, `with`) and returns.

use super::*;

impl<'c, 'a> FnLower<'c, 'a> {
    pub fn stmts(&mut self, stmts: &'c [AStmt]) {
        for s in stmts {
            if self.over_budget() {
                return;
            }
            self.stmt(s);
            if !self.pending.is_empty() {
                // Every statement releases its temporaries; this only
                // guards against a path that forgot to.
                self.release_pending(s.rng);
            }
        }
    }

    pub(super) fn stmt(&mut self, s: &'c AStmt) {
        let r = s.rng;
        if self.stack.exceeded() {
            self.approximate(r, "statements nested too deeply");
            return;
        }
        match &s.kind {
            AK::Expr(e) => {
                self.expr_stmt(e);
                self.release_pending(r);
            }
            AK::Assign { targets, value } => {
                self.assign_stmt(targets, value, r);
                self.release_pending(r);
            }
            AK::AugAssign { target, op, value } => {
                self.aug_assign(target, *op, value, r);
                self.release_pending(r);
            }
            AK::AnnAssign { target, value, .. } => {
                if let Some(v) = value {
                    let val = self.expr(v);
                    self.assign(target, val, r);
                }
                self.release_pending(r);
            }
            AK::CDecl(vars) => {
                for v in vars {
                    if let Some(e) = &v.value {
                        let val = self.expr(e);
                        self.assign_name(&v.name, val, v.rng);
                        self.release_pending(r);
                    }
                }
            }
            AK::Return(value) => self.return_stmt(value.as_ref(), r),
            AK::Raise { exc, cause } => {
                let mut args = Vec::new();
                for e in [exc, cause].into_iter().flatten() {
                    let v = self.expr(e);
                    args.push(v.op);
                }
                self.synth.insert("__pyx_raise");
                self.emit(
                    StmtKind::Call {
                        dst: None,
                        callee: Callee::Named("__pyx_raise".into()),
                        args,
                    },
                    r,
                );
                self.release_pending(r);
                self.goto_handler(r);
            }
            AK::Pass => {}
            AK::Break | AK::Continue => {
                let Some(l) = self.loops.last().copied() else {
                    self.approximate(r, "`break`/`continue` outside a loop");
                    return;
                };
                let target = if matches!(s.kind, AK::Break) {
                    l.break_bb
                } else {
                    l.continue_bb
                };
                let saved = self.save_regions();
                self.run_finallies(l.finally_len, r);
                if self.b.is_open() {
                    self.release_held(l.held_len, r);
                    self.restore_gil(l.gil_len, r);
                    let sp = self.span(r);
                    self.b.terminate(Terminator::Goto(target), sp);
                }
                self.restore_regions(saved);
            }
            AK::If { branches, orelse } => self.if_stmt(branches, orelse),
            AK::While { test, body, orelse } => self.while_stmt(test, body, orelse, r),
            AK::For {
                target,
                iter,
                body,
                orelse,
            } => self.for_stmt(target, iter, body, orelse, r),
            AK::ForFrom {
                target,
                bounds,
                body,
                orelse,
            } => {
                for b in bounds {
                    if b.name() != target.name() || target.name().is_none() {
                        let _ = self.expr(b);
                    }
                }
                self.release_pending(r);
                self.c_loop(target, body, orelse, r, false);
            }
            AK::Try {
                body,
                handlers,
                orelse,
                finalbody,
            } => self.try_stmt(body, handlers, orelse, finalbody.as_deref(), r),
            AK::With { items, body } => self.with_stmt(items, body, r),
            AK::Gil { nogil, body } => {
                let (enter, leave) = if *nogil {
                    (StmtKind::ReleaseGil, StmtKind::AcquireGil)
                } else {
                    (StmtKind::AcquireGil, StmtKind::ReleaseGil)
                };
                self.emit(enter, r);
                self.gil.push(*nogil);
                self.stmts(body);
                self.gil.pop();
                if self.b.is_open() {
                    let end = Rng {
                        start: r.end,
                        end: r.end,
                    };
                    self.emit(leave, end);
                }
            }
            AK::Del(targets) => {
                for t in targets {
                    self.del_target(t, r);
                }
                self.release_pending(r);
            }
            AK::Assert { test, msg } => {
                let fail = self.new_block();
                let ok = self.new_block();
                self.cond(test, ok, fail);
                self.b.switch_to(fail);
                let mut args = Vec::new();
                if let Some(m) = msg {
                    args.push(self.expr(m).op);
                }
                self.synth.insert("__pyx_raise");
                self.emit(
                    StmtKind::Call {
                        dst: None,
                        callee: Callee::Named("__pyx_raise".into()),
                        args,
                    },
                    r,
                );
                self.release_pending(r);
                self.goto_handler(r);
                self.b.switch_to(ok);
            }
            AK::Func(f) => {
                // A nested function: a closure object; what it captures
                // is kept in Cython's closure scope.
                let mut args = Vec::new();
                for p in &f.params {
                    if let Some(d) = &p.default {
                        args.push(self.expr(d).op);
                    }
                }
                let v = self.py_op("__pyx_build", args, f.name_rng, &format!("def {}", f.name));
                self.assign_name(&f.name, v, f.name_rng);
                self.release_pending(r);
            }
            AK::Class(c) => {
                let v = self.py_op(
                    "__pyx_build",
                    Vec::new(),
                    c.name_rng,
                    &format!("class {}", c.name),
                );
                self.assign_name(&c.name, v, c.name_rng);
                self.release_pending(r);
            }
            AK::Import { module, names } => {
                for (m, alias) in names {
                    if m == "*" {
                        continue;
                    }
                    let full = if module.is_empty() {
                        m.clone()
                    } else {
                        format!("{module}.{m}")
                    };
                    let v = self.py_op(
                        "__pyx_import",
                        vec![Operand::Str(full.clone())],
                        r,
                        &format!("import {full}"),
                    );
                    let local = alias
                        .clone()
                        .unwrap_or_else(|| m.split('.').next().unwrap_or(m).to_string());
                    self.assign_name(&local, v, r);
                    self.release_pending(r);
                }
            }
            AK::Error { names, message } => {
                self.approximate(r, &format!("could not parse: {message}"));
                for (n, _) in names {
                    if let Some(l) = self.local(n) {
                        self.emit(StmtKind::Havoc { var: l.id }, r);
                    }
                }
            }
            AK::Global(_)
            | AK::Nonlocal(_)
            | AK::Extern(_)
            | AK::TypeDecl(_)
            | AK::Property { .. }
            | AK::CImport { .. }
            | AK::Include(_) => {}
        }
    }

    pub(super) fn return_stmt(&mut self, value: Option<&'c Expr>, r: Rng) {
        match self.ret {
            RetKind::Object => {
                if let Some(Expr {
                    kind: ExprKind::Name(n),
                    ..
                }) = value
                {
                    self.check_bound(n, r);
                }
                let v = match value {
                    Some(e) => self.expr(e),
                    None => Val::borrowed(Operand::Global("Py_None".into())),
                };
                let op = self.own_for_return(v, r);
                self.release_pending(r);
                self.emit_return(Some(op), true, r);
            }
            RetKind::Void => {
                if let Some(e) = value {
                    let _ = self.expr(e);
                }
                self.release_pending(r);
                self.emit_return(None, false, r);
            }
            RetKind::Raw => {
                let op = match value {
                    Some(e) => {
                        let v = self.expr(e);
                        v.op
                    }
                    None => Operand::Null,
                };
                let op = self.keep_operand(op, TypeClass::Object, r);
                self.release_pending(r);
                self.emit_return(Some(op), false, r);
            }
            RetKind::C(t) => {
                let op = match value {
                    Some(e) => {
                        let v = self.expr(e);
                        self.convert_to_c(v, r).op
                    }
                    None => Operand::Int(0),
                };
                let op = self.keep_operand(op, t, r);
                self.release_pending(r);
                self.emit_return(Some(op), false, r);
            }
        }
    }

    /// Cython raises UnboundLocalError when a local read here may not have
    /// been assigned on some path (a `with` block that swallowed the
    /// exception before the assignment, a loop that ran no iteration).
    fn check_bound(&mut self, name: &str, r: Rng) {
        let Some(l) = self.local(name) else {
            return;
        };
        if l.class != VClass::Managed
            || self.b.var(l.id).kind != VarKind::Local
            || !self.b.may_be_unassigned(l.id)
        {
            return;
        }
        let raise = self.new_block();
        let cont = self.new_block();
        let sp = self.span(r);
        self.b.terminate(
            Terminator::Branch {
                cond: Cond::IsNull(Operand::Var(l.id)),
                then_bb: raise,
                else_bb: cont,
                text: format!("`{name}` is unbound"),
            },
            sp,
        );
        self.b.switch_to(raise);
        self.synth.insert("__pyx_raise_unbound");
        self.emit(
            StmtKind::Call {
                dst: None,
                callee: Callee::Named("__pyx_raise_unbound".into()),
                args: vec![Operand::Str(name.to_string())],
            },
            r,
        );
        self.goto_handler(r);
        self.b.switch_to(cont);
    }

    /// A value read after the statement's temporaries are released must not
    /// be a field read (it would be re-read): copy it to a temp.
    pub(super) fn keep_operand(&mut self, op: Operand, t: TypeClass, r: Rng) -> Operand {
        match op {
            Operand::Field(..) if !self.finallies.is_empty() => {
                let tmp = self.temp(t, r);
                self.emit(StmtKind::Assign { dst: tmp, src: op }, r);
                Operand::Var(tmp)
            }
            other => other,
        }
    }

    /// The returned value as a new reference: Cython INCREFs borrowed ones.
    pub(super) fn own_for_return(&mut self, v: Val, r: Rng) -> Operand {
        match v.kind {
            VK::Obj(Own::Temp | Own::Cast) if self.take(&v.op) => v.op,
            VK::Obj(_) => {
                let op = self.keep_operand(v.op, TypeClass::Object, r);
                let nullable = !matches!(op, Operand::Global(_));
                self.emit_managed(
                    StmtKind::Incref {
                        value: op.clone(),
                        nullable,
                        revive: false,
                    },
                    r,
                    ManagedOp::ReturnIncref,
                );
                op
            }
            VK::Raw => {
                // `return p` of a raw pointer from an object function:
                // Cython converts it like `<object>p`.
                self.emit_managed(
                    StmtKind::Incref {
                        value: v.op.clone(),
                        nullable: false,
                        revive: false,
                    },
                    r,
                    ManagedOp::ObjectCast,
                );
                v.op
            }
            VK::C(_) if matches!(v.op, Operand::Int(_)) => v.op,
            VK::C(_) | VK::Unknown => {
                let b = self.py_op("__pyx_build", vec![v.op], r, "conversion to object");
                self.take(&b.op);
                b.op
            }
        }
    }

    pub(super) fn if_stmt(&mut self, branches: &'c [(Expr, Vec<AStmt>)], orelse: &'c [AStmt]) {
        let after = self.new_block();
        for (test, body) in branches {
            // `IF UVLOOP_DEBUG:` on a DEF constant: Cython keeps one arm.
            match self.cx.const_truth(test) {
                Some(false) => continue,
                Some(true) => {
                    self.stmts(body);
                    let sp = self.span(test.rng);
                    self.b.goto_and_switch(after, sp);
                    return;
                }
                None => {}
            }
            let then_bb = self.new_block();
            let next = self.new_block();
            self.cond(test, then_bb, next);
            self.b.switch_to(then_bb);
            self.stmts(body);
            let sp = self.span(test.rng);
            self.b.goto_and_switch(after, sp);
            self.b.switch_to(next);
        }
        self.stmts(orelse);
        let sp = Span::default();
        self.b.goto_and_switch(after, sp);
    }

    pub(super) fn while_stmt(
        &mut self,
        test: &'c Expr,
        body: &'c [AStmt],
        orelse: &'c [AStmt],
        r: Rng,
    ) {
        let header = self.new_block();
        let body_bb = self.new_block();
        let else_bb = self.new_block();
        let after = self.new_block();
        let sp = self.span(r);
        self.b.goto_and_switch(header, sp);
        self.cond(test, body_bb, else_bb);
        self.b.switch_to(body_bb);
        self.loops.push(LoopCtx {
            break_bb: after,
            continue_bb: header,
            held_len: self.held.len(),
            gil_len: self.gil.len(),
            finally_len: self.finallies.len(),
        });
        self.stmts(body);
        self.loops.pop();
        self.b.goto_and_switch(header, sp);
        self.b.switch_to(else_bb);
        self.stmts(orelse);
        self.b.goto_and_switch(after, sp);
    }

    /// A loop over C values (`range`, `prange`, `for ... from`).
    pub fn c_loop(
        &mut self,
        target: &'c Expr,
        body: &'c [AStmt],
        orelse: &'c [AStmt],
        r: Rng,
        nogil: bool,
    ) {
        if nogil {
            self.emit(StmtKind::ReleaseGil, r);
            self.gil.push(true);
        }
        let header = self.new_block();
        let body_bb = self.new_block();
        let else_bb = self.new_block();
        let after = self.new_block();
        let sp = self.span(r);
        self.b.goto_and_switch(header, sp);
        self.b.terminate(
            Terminator::Branch {
                cond: Cond::Unknown,
                then_bb: body_bb,
                else_bb,
                text: "the loop continues".to_string(),
            },
            sp,
        );
        self.b.switch_to(body_bb);
        self.assign(target, Val::opaque(), target.rng);
        self.release_pending(r);
        self.loops.push(LoopCtx {
            break_bb: after,
            continue_bb: header,
            held_len: self.held.len(),
            gil_len: self.gil.len(),
            finally_len: self.finallies.len(),
        });
        self.stmts(body);
        self.loops.pop();
        self.b.goto_and_switch(header, sp);
        self.b.switch_to(else_bb);
        self.stmts(orelse);
        self.b.goto_and_switch(after, sp);
        if nogil {
            self.gil.pop();
            if self.b.is_open() {
                self.emit(StmtKind::AcquireGil, r);
            }
        }
    }

    pub(super) fn for_stmt(
        &mut self,
        target: &'c Expr,
        iter: &'c Expr,
        body: &'c [AStmt],
        orelse: &'c [AStmt],
        r: Rng,
    ) {
        if let ExprKind::Call { func, args } = &iter.kind {
            let name = func.dotted().unwrap_or_default();
            let last = name.rsplit('.').next().unwrap_or(&name);
            let shadowed = func.name().is_some_and(|n| self.local(n).is_some());
            if matches!(last, "range" | "xrange" | "prange") && !shadowed {
                let mut nogil = false;
                for a in args {
                    match a {
                        Arg::Kw(k, v) if k == "nogil" => {
                            nogil = matches!(v.kind, ExprKind::Const(ConstKind::True));
                        }
                        _ => {
                            let _ = self.expr(a.expr());
                        }
                    }
                }
                self.release_pending(r);
                self.c_loop(target, body, orelse, r, nogil);
                return;
            }
        }
        let src = self.expr(iter);
        if !src.is_obj() {
            // Iterating a C array or pointer slice: a C loop.
            self.release_pending(r);
            self.c_loop(target, body, orelse, r, false);
            return;
        }
        let it = self.py_op("__pyx_iter", vec![src.op], iter.rng, "iter(...)");
        self.take(&it.op);
        self.release_pending(r);
        self.held.push(it.op.clone());
        let held_len = self.held.len();
        let header = self.new_block();
        let body_bb = self.new_block();
        let end_bb = self.new_block();
        let else_bb = self.new_block();
        let exit_bb = self.new_block();
        let after = self.new_block();
        let sp = self.span(r);
        self.b.goto_and_switch(header, sp);
        self.synth.insert("__pyx_iter_next");
        let next = self.temp(TypeClass::Object, iter.rng);
        self.emit(
            StmtKind::Call {
                dst: Some(next),
                callee: Callee::Named("__pyx_iter_next".into()),
                args: vec![it.op.clone()],
            },
            iter.rng,
        );
        self.b.terminate(
            Terminator::Branch {
                cond: Cond::IsNull(Operand::Var(next)),
                then_bb: end_bb,
                else_bb: body_bb,
                text: "next(...) == NULL".to_string(),
            },
            sp,
        );
        // End of iteration, or an error.
        self.b.switch_to(end_bb);
        let exc = self.exception_target(iter.rng);
        self.b.terminate(
            Terminator::Branch {
                cond: Cond::ErrOccurred,
                then_bb: exc,
                else_bb,
                text: "PyErr_Occurred()".to_string(),
            },
            sp,
        );
        self.b.switch_to(body_bb);
        self.pending.push(Operand::Var(next));
        let item = Val {
            op: Operand::Var(next),
            kind: VK::Obj(Own::Temp),
        };
        self.assign(target, item, target.rng);
        self.release_pending(r);
        self.loops.push(LoopCtx {
            break_bb: exit_bb,
            continue_bb: header,
            held_len,
            gil_len: self.gil.len(),
            finally_len: self.finallies.len(),
        });
        self.stmts(body);
        self.loops.pop();
        self.b.goto_and_switch(header, sp);
        // Normal end: release the iterator, run `else`.
        self.b.switch_to(else_bb);
        self.emit_managed(
            StmtKind::Decref {
                value: it.op.clone(),
                nullable: false,
                clears: None,
            },
            r,
            ManagedOp::TempRelease,
        );
        self.held.pop();
        self.stmts(orelse);
        self.b.goto_and_switch(after, sp);
        // `break`: release the iterator.
        self.b.switch_to(exit_bb);
        self.emit_managed(
            StmtKind::Decref {
                value: it.op,
                nullable: false,
                clears: None,
            },
            r,
            ManagedOp::TempRelease,
        );
        self.b.goto_and_switch(after, sp);
    }

    pub(super) fn try_stmt(
        &mut self,
        body: &'c [AStmt],
        handlers: &'c [Handler],
        orelse: &'c [AStmt],
        finalbody: Option<&'c [AStmt]>,
        r: Rng,
    ) {
        let Some(fin) = finalbody else {
            self.try_except(body, handlers, orelse, r);
            return;
        };
        let exc_fin = self.new_block();
        self.finallies.push(FinallyCtx {
            body: FinBody::Stmts(fin),
            handler_len: self.handlers.len(),
            loop_len: self.loops.len(),
            held_len: self.held.len(),
            gil_len: self.gil.len(),
        });
        self.handlers.push(HandlerCtx {
            block: Some(exc_fin),
            held_len: self.held.len(),
            gil_len: self.gil.len(),
            returning_len: self.returning.len(),
        });
        if handlers.is_empty() {
            self.stmts(body);
            self.stmts(orelse);
        } else {
            self.try_except(body, handlers, orelse, r);
        }
        self.handlers.pop();
        self.finallies.pop();
        let after = self.new_block();
        // Normal path.
        if self.b.is_open() {
            self.stmts(fin);
        }
        let sp = self.span(r);
        self.b.goto_and_switch(after, sp);
        // Exception path: the exception is saved while `finally` runs.
        self.b.switch_to(exc_fin);
        self.synth.insert("__pyx_exc_save");
        self.synth.insert("__pyx_exc_restore");
        self.emit(
            StmtKind::Call {
                dst: None,
                callee: Callee::Named("__pyx_exc_save".into()),
                args: Vec::new(),
            },
            r,
        );
        if self.over_budget() {
            self.approximate(r, "finally block not duplicated: function too large");
        } else {
            self.stmts(fin);
        }
        if self.b.is_open() {
            self.emit(
                StmtKind::Call {
                    dst: None,
                    callee: Callee::Named("__pyx_exc_restore".into()),
                    args: Vec::new(),
                },
                r,
            );
            self.goto_handler(r);
        }
        self.b.switch_to(after);
    }

    pub(super) fn try_except(
        &mut self,
        body: &'c [AStmt],
        handlers: &'c [Handler],
        orelse: &'c [AStmt],
        r: Rng,
    ) {
        let exc_bb = self.new_block();
        self.handlers.push(HandlerCtx {
            block: Some(exc_bb),
            held_len: self.held.len(),
            gil_len: self.gil.len(),
            returning_len: self.returning.len(),
        });
        self.stmts(body);
        self.handlers.pop();
        let after = self.new_block();
        let sp = self.span(r);
        if self.b.is_open() {
            self.stmts(orelse);
        }
        self.b.goto_and_switch(after, sp);
        // The handler: Cython tests the clauses in order; either may match.
        self.b.switch_to(exc_bb);
        let mut targets = Vec::new();
        for _ in handlers {
            targets.push(self.new_block());
        }
        let bare = handlers.iter().any(|h| h.types.is_none());
        let reraise = if bare { None } else { Some(self.new_block()) };
        if let Some(rr) = reraise {
            targets.push(rr);
        }
        self.b.terminate(Terminator::Choose(targets.clone()), sp);
        for (h, bb) in handlers.iter().zip(targets.iter()) {
            self.b.switch_to(*bb);
            match &h.name {
                Some((n, nr)) => {
                    self.synth.insert("__pyx_exc_fetch");
                    let t = self.temp(TypeClass::Object, *nr);
                    self.emit(
                        StmtKind::Call {
                            dst: Some(t),
                            callee: Callee::Named("__pyx_exc_fetch".into()),
                            args: Vec::new(),
                        },
                        h.rng,
                    );
                    self.pending.push(Operand::Var(t));
                    self.assign_name(
                        n,
                        Val {
                            op: Operand::Var(t),
                            kind: VK::Obj(Own::Temp),
                        },
                        *nr,
                    );
                    self.release_pending(h.rng);
                }
                None => {
                    self.synth.insert("__pyx_exc_clear");
                    self.emit(
                        StmtKind::Call {
                            dst: None,
                            callee: Callee::Named("__pyx_exc_clear".into()),
                            args: Vec::new(),
                        },
                        h.rng,
                    );
                }
            }
            self.stmts(&h.body);
            if let Some((n, nr)) = &h.name {
                if self.b.is_open() {
                    // Python 3 deletes the name at the end of the clause.
                    self.del_name(n, *nr);
                }
            }
            self.b.goto_and_switch(after, sp);
        }
        if let Some(rr) = reraise {
            self.b.switch_to(rr);
            self.goto_handler(r);
        }
        self.b.switch_to(after);
    }

    pub(super) fn with_stmt(&mut self, items: &'c [WithItem], body: &'c [AStmt], r: Rng) {
        let Some((first, rest)) = items.split_first() else {
            self.stmts(body);
            return;
        };
        let mgr = self.expr(&first.ctx);
        if !mgr.is_obj() {
            // A C++ or C-level context (cython.parallel): just the body.
            self.release_pending(r);
            if rest.is_empty() {
                self.stmts(body);
            } else {
                self.with_stmt(rest, body, r);
            }
            return;
        }
        let cr = first.ctx.rng;
        let exit = self.py_op(
            "__pyx_getattr",
            vec![mgr.op.clone(), Operand::Str("__exit__".into())],
            cr,
            "__exit__",
        );
        self.take(&exit.op);
        self.held.push(exit.op.clone());
        let entered = self.py_op(
            "__pyx_call_method",
            vec![mgr.op, Operand::Str("__enter__".into())],
            cr,
            "__enter__()",
        );
        if let Some(t) = &first.target {
            self.assign(t, entered, cr);
        }
        self.release_pending(cr);
        let exc_bb = self.new_block();
        self.finallies.push(FinallyCtx {
            body: FinBody::WithExit(exit.op.clone(), cr),
            handler_len: self.handlers.len(),
            loop_len: self.loops.len(),
            held_len: self.held.len(),
            gil_len: self.gil.len(),
        });
        self.handlers.push(HandlerCtx {
            block: Some(exc_bb),
            held_len: self.held.len(),
            gil_len: self.gil.len(),
            returning_len: self.returning.len(),
        });
        if rest.is_empty() {
            self.stmts(body);
        } else {
            self.with_stmt(rest, body, r);
        }
        self.handlers.pop();
        self.finallies.pop();
        let after = self.new_block();
        let sp = self.span(r);
        if self.b.is_open() {
            self.call_exit(exit.op.clone(), cr);
            self.held.push(exit.op.clone());
        }
        self.b.goto_and_switch(after, sp);
        // Exception path: `__exit__` runs with the exception saved; it may
        // swallow the exception.
        self.b.switch_to(exc_bb);
        self.synth.insert("__pyx_exc_save");
        self.synth.insert("__pyx_exc_restore");
        self.emit(
            StmtKind::Call {
                dst: None,
                callee: Callee::Named("__pyx_exc_save".into()),
                args: Vec::new(),
            },
            cr,
        );
        self.call_exit(exit.op.clone(), cr);
        let swallow = self.new_block();
        let reraise = self.new_block();
        self.b
            .terminate(Terminator::Choose(vec![swallow, reraise]), sp);
        self.b.switch_to(reraise);
        self.emit(
            StmtKind::Call {
                dst: None,
                callee: Callee::Named("__pyx_exc_restore".into()),
                args: Vec::new(),
            },
            cr,
        );
        self.goto_handler(r);
        self.b.switch_to(swallow);
        self.b.goto_and_switch(after, sp);
        if let Some(i) = self.held.iter().rposition(|h| *h == exit.op) {
            self.held.remove(i);
        }
    }
}
