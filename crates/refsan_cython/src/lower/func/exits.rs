//! Exits of a lowered function: the error block and exception targets, the
//! releases Cython makes on the way out (held references, `finally`
//! clauses, the GIL), returns.

use super::*;

impl<'c, 'a> FnLower<'c, 'a> {
    pub(super) fn err_value_operand(v: ErrValue) -> Option<Operand> {
        match v {
            ErrValue::Null => Some(Operand::Null),
            ErrValue::Int(i) => Some(Operand::Int(i)),
            ErrValue::None => None,
        }
    }

    /// The function's error exit: releases every managed variable and
    /// returns the error value.
    pub(super) fn error_block(&mut self) -> BlockId {
        if let Some(b) = self.err_bb {
            return b;
        }
        let saved = self.b.is_open().then(|| self.b.current());
        let bb = self.new_block();
        self.err_bb = Some(bb);
        self.b.switch_to(bb);
        let r = self.exit_rng;
        if let ErrExit::Unraisable(_) = self.err_exit {
            self.synth.insert("__pyx_write_unraisable");
            self.emit(
                StmtKind::Call {
                    dst: None,
                    callee: Callee::Named("__pyx_write_unraisable".into()),
                    args: Vec::new(),
                },
                r,
            );
        }
        // A nogil function takes the GIL back to handle the error.
        let gil_dance = self.fn_nogil && !self.managed.is_empty();
        if gil_dance {
            self.emit(StmtKind::AcquireGil, r);
        }
        self.scope_exit(r);
        if gil_dance {
            self.emit(StmtKind::ReleaseGil, r);
        }
        let v = match self.err_exit {
            ErrExit::Value(v) | ErrExit::Unraisable(v) => v,
        };
        let term = Terminator::Return(Self::err_value_operand(v));
        let sp = self.span(r);
        self.b.terminate(term, sp);
        // `terminate` left no current block; resume where we were.
        if let Some(c) = saved {
            self.b.switch_to(c);
        }
        bb
    }

    /// Releases of every managed variable (Cython's function exit).
    pub(super) fn scope_exit(&mut self, r: Rng) {
        for id in self.managed.clone() {
            self.emit_managed(
                StmtKind::Decref {
                    value: Operand::Var(id),
                    nullable: true,
                    clears: None,
                },
                r,
                ManagedOp::ScopeExit,
            );
        }
    }

    /// The block an exception raised here goes to: releases the
    /// statement's temporaries and the region's held values, restores the
    /// GIL state, then jumps to the innermost handler.
    pub fn exception_target(&mut self, r: Rng) -> BlockId {
        let h = self.handlers.last().copied().unwrap_or(HandlerCtx {
            block: None,
            held_len: 0,
            gil_len: 0,
            returning_len: 0,
        });
        let target = match h.block {
            Some(b) => b,
            None => self.error_block(),
        };
        // The statement's temporaries were made in the innermost region
        // (with its GIL state): released before the GIL regions are left.
        let first: Vec<Operand> = self.pending.clone();
        let mut releases: Vec<Operand> = Vec::new();
        releases.extend(
            self.held[h.held_len.min(self.held.len())..]
                .iter()
                .rev()
                .cloned(),
        );
        releases.extend(
            self.returning[h.returning_len.min(self.returning.len())..]
                .iter()
                .cloned(),
        );
        let gil: Vec<bool> = self.gil[h.gil_len.min(self.gil.len())..].to_vec();
        if first.is_empty() && releases.is_empty() && gil.is_empty() {
            return target;
        }
        let saved = self.b.is_open().then(|| self.b.current());
        let edge = self.new_block();
        self.b.switch_to(edge);
        for op in first {
            self.emit_managed(
                StmtKind::Decref {
                    value: op,
                    nullable: true,
                    clears: None,
                },
                r,
                ManagedOp::TempRelease,
            );
        }
        for nogil in gil.iter().rev() {
            let k = if *nogil {
                StmtKind::AcquireGil
            } else {
                StmtKind::ReleaseGil
            };
            self.emit(k, r);
        }
        for op in releases {
            self.emit_managed(
                StmtKind::Decref {
                    value: op,
                    nullable: true,
                    clears: None,
                },
                r,
                ManagedOp::TempRelease,
            );
        }
        let sp = self.span(r);
        self.b.terminate(Terminator::Goto(target), sp);
        if let Some(c) = saved {
            self.b.switch_to(c);
        }
        edge
    }

    /// `if cond: goto <exception>`; continues on the false edge.
    pub fn exc_branch(&mut self, cond: Cond, text: String, r: Rng) {
        let target = self.exception_target(r);
        let cont = self.new_block();
        let sp = self.span(r);
        self.b.terminate(
            Terminator::Branch {
                cond,
                then_bb: target,
                else_bb: cont,
                text,
            },
            sp,
        );
        self.b.switch_to(cont);
    }

    /// Cython's check of a call result.
    pub fn check_result(&mut self, check: Check, dst: Option<VarId>, text: &str, r: Rng) {
        match (check, dst) {
            (Check::None, _) => {}
            (Check::Null, Some(d)) => {
                self.exc_branch(Cond::IsNull(Operand::Var(d)), format!("{text} == NULL"), r);
            }
            (Check::NullMaybe, Some(d)) => {
                self.maybe_branch(Cond::IsNull(Operand::Var(d)), format!("{text} == NULL"), r);
            }
            (Check::Value(v), Some(d)) => self.exc_branch(
                Cond::Cmp(Operand::Var(d), CmpOp::Eq, v),
                format!("{text} == {v}"),
                r,
            ),
            (Check::ValueMaybe(v), Some(d)) => self.maybe_branch(
                Cond::Cmp(Operand::Var(d), CmpOp::Eq, v),
                format!("{text} == {v}"),
                r,
            ),
            _ => self.exc_branch(Cond::ErrOccurred, "PyErr_Occurred()".to_string(), r),
        }
    }

    /// `if cond and PyErr_Occurred(): goto <exception>` (`except? V`).
    pub fn maybe_branch(&mut self, cond: Cond, text: String, r: Rng) {
        let sp = self.span(r);
        let check = self.new_block();
        let cont = self.new_block();
        self.b.terminate(
            Terminator::Branch {
                cond,
                then_bb: check,
                else_bb: cont,
                text,
            },
            sp,
        );
        self.b.switch_to(check);
        let target = self.exception_target(r);
        self.b.terminate(
            Terminator::Branch {
                cond: Cond::ErrOccurred,
                then_bb: target,
                else_bb: cont,
                text: "PyErr_Occurred()".into(),
            },
            sp,
        );
        self.b.switch_to(cont);
    }

    /// Jumps to the current exception handler (after `raise`).
    pub fn goto_handler(&mut self, r: Rng) {
        let target = self.exception_target(r);
        let sp = self.span(r);
        self.b.terminate(Terminator::Goto(target), sp);
    }

    /// Leaves the GIL regions entered after `len`.
    pub(super) fn restore_gil(&mut self, len: usize, r: Rng) {
        let gil: Vec<bool> = self.gil[len.min(self.gil.len())..].to_vec();
        for nogil in gil.iter().rev() {
            let k = if *nogil {
                StmtKind::AcquireGil
            } else {
                StmtKind::ReleaseGil
            };
            self.emit(k, r);
        }
    }

    /// Releases held temporaries above `len` (normal path).
    pub(super) fn release_held(&mut self, len: usize, r: Rng) {
        let held: Vec<Operand> = self.held[len.min(self.held.len())..].to_vec();
        for op in held.into_iter().rev() {
            self.emit_managed(
                StmtKind::Decref {
                    value: op,
                    nullable: false,
                    clears: None,
                },
                r,
                ManagedOp::TempRelease,
            );
        }
    }

    /// Runs the `finally` blocks (and `with` exits) above `depth`, as a
    /// `return`, `break` or `continue` leaves their regions.
    pub(super) fn run_finallies(&mut self, depth: usize, r: Rng) {
        while self.finallies.len() > depth {
            let Some(f) = self.finallies.pop() else { break };
            if !self.b.is_open() {
                continue;
            }
            self.release_held(f.held_len, r);
            self.held.truncate(f.held_len);
            self.restore_gil(f.gil_len, r);
            self.gil.truncate(f.gil_len);
            self.handlers.truncate(f.handler_len.max(1));
            self.loops.truncate(f.loop_len);
            match f.body {
                FinBody::Stmts(body) => {
                    if self.over_budget() {
                        self.approximate(r, "finally block not duplicated: function too large");
                    } else {
                        self.stmts(body);
                    }
                }
                FinBody::WithExit(exit, wr) => self.call_exit(exit, wr),
            }
        }
    }

    /// Calls a `with` block's `__exit__` and releases it.
    pub fn call_exit(&mut self, exit: Operand, r: Rng) {
        let res = self.py_op("__pyx_call", vec![exit.clone()], r, "__exit__(...)");
        self.take(&res.op);
        self.emit_managed(
            StmtKind::Decref {
                value: res.op,
                nullable: false,
                clears: None,
            },
            r,
            ManagedOp::TempRelease,
        );
        self.emit_managed(
            StmtKind::Decref {
                value: exit.clone(),
                nullable: false,
                clears: None,
            },
            r,
            ManagedOp::TempRelease,
        );
        if let Some(i) = self.held.iter().rposition(|h| *h == exit) {
            self.held.remove(i);
        }
    }

    /// Saves the region stacks around code that leaves regions (return,
    /// break), so lowering continues with them intact afterwards.
    pub(super) fn save_regions(&self) -> Regions<'c> {
        Regions {
            handlers: self.handlers.clone(),
            loops: self.loops.clone(),
            finallies: self.finallies.clone(),
            gil: self.gil.clone(),
            held: self.held.clone(),
            returning: self.returning.clone(),
        }
    }

    pub(super) fn restore_regions(&mut self, r: Regions<'c>) {
        self.handlers = r.handlers;
        self.loops = r.loops;
        self.finallies = r.finallies;
        self.gil = r.gil;
        self.held = r.held;
        self.returning = r.returning;
    }

    /// Returns from the function: runs pending `finally` blocks, releases
    /// what is held, restores the GIL, releases the managed variables.
    pub fn emit_return(&mut self, value: Option<Operand>, owned_return: bool, r: Rng) {
        let saved = self.save_regions();
        if owned_return {
            if let Some(v) = &value {
                self.returning.push(v.clone());
            }
        }
        self.run_finallies(0, r);
        if self.b.is_open() {
            self.release_held(0, r);
            self.restore_gil(0, r);
            let gil_dance = self.fn_nogil && !self.managed.is_empty();
            if gil_dance {
                self.emit(StmtKind::AcquireGil, r);
            }
            self.scope_exit(r);
            if gil_dance {
                self.emit(StmtKind::ReleaseGil, r);
            }
            let sp = self.span(r);
            self.b.terminate(Terminator::Return(value), sp);
        }
        self.restore_regions(saved);
    }

    /// Falling off the end of the body.
    pub(super) fn implicit_return(&mut self, r: Rng) {
        match self.ret {
            RetKind::Object => {
                let none = Operand::Global("Py_None".into());
                self.emit_managed(
                    StmtKind::Incref {
                        value: none.clone(),
                        nullable: false,
                        revive: false,
                    },
                    r,
                    ManagedOp::ReturnIncref,
                );
                self.emit_return(Some(none), true, r);
            }
            RetKind::Raw | RetKind::C(TypeClass::Pointer | TypeClass::ObjectPtrPtr) => {
                self.emit_return(Some(Operand::Null), false, r);
            }
            RetKind::C(_) => self.emit_return(Some(Operand::Int(0)), false, r),
            RetKind::Void => self.emit_return(None, false, r),
        }
    }
}
