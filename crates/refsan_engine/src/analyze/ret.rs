//! Returns: the function's contract at its exits (new or borrowed
//! reference, exception set), and everything still owned leaks.

use super::*;

impl<'a> Analyzer<'a> {
    pub(super) fn exec_return(
        &mut self,
        mut st: State,
        tref: StmtRef,
        span: Span,
        op: Option<&Operand>,
    ) {
        let b = match op {
            Some(op) => self.eval(&mut st, op, tref, 0),
            None => Binding::Unknown,
        };
        let exp = self.expect;
        let mut kind = match b {
            Binding::Null(_) => RetKind::Null,
            Binding::Int(lo, hi) => RetKind::Int(lo, hi),
            // A non-NULL C pointer, for the summary of pointer-returning helpers.
            Binding::Ptr if self.func.returns == TypeClass::Pointer => RetKind::Int(1, i64::MAX),
            Binding::Obj(_) => RetKind::Unknown,
            _ if op.is_none() => RetKind::Void,
            _ => RetKind::Unknown,
        };
        // Error returns need an exception.
        if st.exc == Exc::Clear {
            let why = exp
                .why
                .clone()
                .unwrap_or_else(|| "this function".to_string());
            if exp.null_needs_exc && kind == RetKind::Null {
                let kind = Kind::ErrorWithoutException {
                    returns: ErrorReturn::Null,
                    role: why.clone(),
                };
                self.emit(&st, kind, span, None);
            }
            if exp.neg_needs_exc {
                if let RetKind::Int(lo, hi) = kind {
                    if hi < 0 && lo >= -1 {
                        let kind = Kind::ErrorWithoutException {
                            returns: ErrorReturn::NegOne,
                            role: why,
                        };
                        self.emit(&st, kind, span, None);
                    }
                }
            }
        }
        // Attributes left NULL on an error exit (Cython __cinit__).
        let error_exit = match kind {
            RetKind::Null => true,
            RetKind::Int(_, hi) => hi < 0,
            _ => false,
        };
        if error_exit && !exp.watch_fields.is_empty() {
            if let Some(self_var) = self.func.params.first() {
                let key = self.base_key(&st, *self_var);
                for attr in &exp.watch_fields {
                    let fid = self.intern(&format!(".{attr}"));
                    let risky = match st.field(key, fid) {
                        None | Some(FieldVal::Null(_) | FieldVal::Unknown) => true,
                        Some(FieldVal::Ptr) => false,
                        Some(FieldVal::Obj(site)) => st.value(site).is_none_or(|v| {
                            matches!(v.origin, ValOrigin::Field(_)) && v.null != Nullness::NonNull
                        }),
                    };
                    if risky && !self.result.risky_fields.iter().any(|(a, _)| a == attr) {
                        self.result.risky_fields.push((attr.clone(), span));
                    }
                }
            }
        }
        // The returned reference.
        let mut returned: Option<Site> = None;
        let mut fresh = false;
        if let Binding::Obj(site) = b {
            self.check_exposed(&mut st, site, span);
            if self.borrowed_from_owner(&st, site) {
                // `code = PyFrame_GetCode(f); Py_DECREF(code); return code;`
                // (pythoncapi_compat's `*Borrow` helpers): the new
                // reference was to an object another owner keeps alive (the
                // frame's code), released to lend it.
                kind = RetKind::Borrowed;
            } else if self.dead_use(&mut st, site, Access::Return, span) {
                kind = RetKind::Unknown;
            } else if let Some(v) = st.value(site).copied() {
                returned = Some(site);
                let name = self.describe(&st, site);
                match exp.returns {
                    ExpectRet::New | ExpectRet::Infer => {
                        if v.shared && v.owned > 0 && exp.returns == ExpectRet::Infer {
                            // Also held by a C struct: whether the caller gets
                            // the reference is not visible.
                            kind = RetKind::Unknown;
                            if let Some(v) = st.value_mut(site) {
                                v.owned -= 1;
                            }
                        } else if v.owned > 0 {
                            kind = RetKind::New;
                            fresh = matches!(v.origin, ValOrigin::New(c) if self.is_constructor(&self.callee_at(c)));
                            if let Some(v) = st.value_mut(site) {
                                v.owned -= 1;
                            }
                        } else if v.status == Status::Escaped
                            || (v.shared && exp.returns == ExpectRet::Infer)
                            || v.reported
                            || self.is_immortal_global(&v)
                            || (exp.returns == ExpectRet::Infer
                                && (matches!(v.origin, ValOrigin::Field(_))
                                    || matches!(v.status, Status::Stored(_))
                                    || v.array_item))
                        {
                            // A helper returning what a struct holds may hand
                            // over the struct's reference (popping a stack)
                            // or lend it; one that stored its new reference
                            // and returns it may have kept only a weak back
                            // pointer: its summary stays unknown.
                            kind = RetKind::Unknown;
                        } else {
                            kind = RetKind::Borrowed;
                            let kind = Kind::ReturnedBorrowed {
                                value: name,
                                why: self.why_borrowed(&v),
                                basis: self.borrow_basis(&v),
                            };
                            if exp.returns == ExpectRet::New {
                                self.emit(&st, kind, span, Some(site));
                                self.mark_reported(&mut st, site);
                            } else {
                                let mut v = self.violation(&st, kind, span, site);
                                // A helper returning a bare `Py_None` among
                                // new references: its callers compare the
                                // result with it (`_ssl.c`'s
                                // `_get_peer_alt_names`).
                                if let Some(ValOrigin::Global(n)) = st.value(site).map(|v| v.origin)
                                {
                                    let name = self.name_of(n);
                                    if self.resolver.is_singleton(&name) {
                                        v.singleton = Some(name);
                                    }
                                }
                                self.result.borrowed_returns.push(v);
                            }
                        }
                    }
                    ExpectRet::Borrowed => {
                        kind = RetKind::Borrowed;
                    }
                    ExpectRet::Other => {
                        // Returned as something else (a pointer to a struct):
                        // ownership goes with it.
                        if let Some(v) = st.value_mut(site) {
                            v.status = Status::Escaped;
                        }
                    }
                }
                if let Some(v) = st.value(site).copied() {
                    if v.owned > 0
                        && v.status == Status::Live
                        && v.trackable()
                        && !v.passed_unknown
                        && !v.shared
                        && exp.returns != ExpectRet::Other
                    {
                        let kind = Kind::ReturnedWithExtra {
                            value: self.describe(&st, site),
                            extra: v.owned,
                        };
                        self.emit(&st, kind, span, Some(site));
                        self.mark_reported(&mut st, site);
                    }
                }
            }
        }
        // A field's reference handed to a stealing call while the field
        // still points to it: the field now dangles.
        let pending: Vec<(Site, StmtRef)> = st
            .values
            .iter()
            .filter_map(|v| v.field_stolen.map(|s| (v.site, s)))
            .filter(|(site, _)| st.fields.iter().any(|f| f.val == FieldVal::Obj(*site)))
            .collect();
        for (site, stolen_at) in pending {
            let global = st
                .value(site)
                .is_some_and(|v| matches!(v.origin, ValOrigin::Global(_)));
            let kind = Kind::StolenBorrowed {
                value: self.describe(&st, site),
                callee: self.callee_at(stolen_at),
                why: if global {
                    "the global still points to it".to_string()
                } else {
                    "it belongs to the object's field, which still points to it".to_string()
                },
                basis: Basis::Inferred,
            };
            self.emit(&st, kind, self.span_at(stolen_at), Some(site));
        }
        // Borrowed references stored without the Py_INCREF that pays for them.
        let debts: Vec<(Site, StmtRef)> = st
            .values
            .iter()
            .filter(|v| v.owned < 0 && v.trackable())
            .filter_map(|v| v.store_debt.map(|s| (v.site, s)))
            .collect();
        for (site, at) in debts {
            let Some(v) = st.value(site).copied() else {
                continue;
            };
            // Written into the field by the call that made it
            // (`PyArg_ParseTuple(args, "O", &self->cb)`).
            let value = match v.origin {
                ValOrigin::OutBorrowed(s, _) if s == at => {
                    format!("the argument parsed by `{}`", self.callee_at(s))
                }
                _ => self.describe(&st, site),
            };
            let kind = Kind::StoredBorrowed {
                value,
                place: self.store_place_text(at, &v),
                why: self.why_borrowed(&v),
                basis: self.borrow_basis(&v),
            };
            self.emit(&st, kind, self.span_at(at), Some(site));
        }
        // Container slots released but never overwritten.
        let pending_slots: Vec<(Site, StmtRef)> = st
            .values
            .iter()
            .filter_map(|v| v.slot_released.map(|s| (v.site, s)))
            .collect();
        for (site, released_at) in pending_slots {
            if !self.in_accessor_slot(&st, site) && st.value(site).is_none_or(|v| v.owner.is_none())
            {
                continue;
            }
            let Some(v) = st.value(site).copied() else {
                continue;
            };
            let kind = Kind::ReleasedBorrowed {
                value: self.describe(&st, site),
                why: self.why_borrowed(&v),
                basis: self.borrow_basis(&v),
                by: Release::SlotStillRefers,
            };
            self.emit(&st, kind, self.span_at(released_at), Some(site));
        }
        // Everything else the function still owns leaks here.
        let owned: Vec<Site> = st
            .values
            .iter()
            .filter(|v| {
                Some(v.site) != returned
                    && v.owned > 0
                    && v.status == Status::Live
                    && v.trackable()
                    // A global's extra reference is followed only once a
                    // stealing call that failed handed it back
                    // (`Py_INCREF(PyExc_OSError); PyModule_AddObject(m,
                    // "error", PyExc_OSError)`).
                    && (!matches!(v.origin, ValOrigin::Global(_)) || self.global_handed_back(&st, v))
                    && !v.shared
                    && !v.array_item
            })
            .map(|v| v.site)
            .collect();
        for site in owned {
            let Some(v) = st.value(site).copied() else {
                continue;
            };
            // A helper may take references for its caller; only functions
            // Python calls are held to borrowing their parameters.
            if let ValOrigin::Param(i) = v.origin {
                let its_own = self.expect.owns_stolen
                    && self
                        .expect
                        .params
                        .as_ref()
                        .and_then(|p| p.get(i as usize))
                        .is_some_and(|e| *e == ArgEffect::Steal);
                if !self.expect.python_facing && !its_own {
                    continue; // decided by the parameter summary
                }
            }
            self.leak_at_return(&mut st, site, span);
        }
        // Parameters: how many references the function still holds.
        let params_owned = self
            .func
            .params
            .iter()
            .enumerate()
            .map(|(i, _)| {
                st.value(Site::param(i as u32)).map_or(0, |v| {
                    // A parameter proven NULL (or handed to opaque code) on
                    // this path says nothing about what the function does
                    // with references it gets.
                    if v.status == Status::Escaped {
                        i16::MIN
                    } else {
                        v.owned
                    }
                })
            })
            .collect();
        let returned_param = match (kind, returned.and_then(|s| st.value(s))) {
            // The parameter itself, lent back or with a new reference
            // (`Py_INCREF(ob); return ob;`).
            (RetKind::Borrowed | RetKind::New, Some(v)) => match v.origin {
                ValOrigin::Param(i) => Some(i),
                _ => None,
            },
            // `return v;` with the parameter found NULL: the function fails
            // only when given NULL.
            (RetKind::Null, _) => match op {
                Some(Operand::Var(var)) => self
                    .func
                    .params
                    .iter()
                    .position(|p| p == var)
                    .map(|i| i as u32),
                _ => None,
            },
            _ => None,
        };
        self.result.returns.push(ReturnObs {
            kind,
            returned_param,
            exc: st.exc,
            params_owned,
            fresh,
            demand: path_demand(&st.path),
            null_param: self
                .func
                .params
                .iter()
                .any(|p| matches!(st.binding(*p), Binding::Null(_))),
            nonnull_params: self
                .func
                .params
                .iter()
                .enumerate()
                .take(64)
                .filter(|(_, p)| match st.binding(**p) {
                    Binding::Obj(s) => st.value(s).is_some_and(|v| v.null == Nullness::NonNull),
                    _ => false,
                })
                .fold(0u64, |m, (i, _)| m | (1 << i)),
            out_new: self.out_new(&st),
        });
    }

    /// The parameters through which the path stored a new reference that
    /// is still there (`*out = PyLong_FromLong(n);`), as bits.
    fn out_new(&self, st: &State) -> u64 {
        let mut bits = 0u64;
        for v in &st.values {
            let Status::Stored(at) = v.status else {
                continue;
            };
            let Some(StmtKind::Store {
                place: Place::Deref(p),
                ..
            }) = self.stmt_at(at).map(|s| &s.kind)
            else {
                continue;
            };
            if let Some(i) = self.func.params.iter().position(|x| x == p) {
                if i < 64 {
                    bits |= 1 << i;
                }
            }
        }
        bits
    }

    /// A value returned after the function released the new reference a
    /// getter gave it (not one a constructor made): the object is lent,
    /// kept alive by whatever the getter read it from. Not for functions
    /// that must return a new reference.
    fn borrowed_from_owner(&self, st: &State, site: Site) -> bool {
        let Some(v) = st.value(site) else {
            return false;
        };
        let ValOrigin::New(made) = v.origin else {
            return false;
        };
        let Status::Released(at) = v.status else {
            return false;
        };
        matches!(
            self.stmt_at(at).map(|s| &s.kind),
            Some(StmtKind::Decref { .. })
        ) && self.expect.returns != ExpectRet::New
            && self.func.returns == TypeClass::Object
            && !self.is_constructor(&self.callee_at(made))
    }

    /// A file-scope variable of the module holding an object (`static
    /// PyObject *ErrorObject`), not one of the interpreter's.
    pub(super) fn module_global(&self, v: &ValueState) -> bool {
        let ValOrigin::Global(n) = v.origin else {
            return false;
        };
        let name = self.name_of(n);
        self.resolver.facts().object(&name).is_none()
            && self.resolver.global_kind(&name) == Some(crate::facts::GlobalKind::HoldsObject)
    }

    pub(super) fn leak_at_return(&mut self, st: &mut State, site: Site, span: Span) {
        let Some(v) = st.value(site).copied() else {
            return;
        };
        let kind = self.lost(st, site, &v, Lost::Return);
        self.emit(st, kind, span, Some(site));
        self.mark_reported(st, site);
    }

    /// A global's extra reference that a stealing call handed back: the
    /// code tested that call's result on this path (`if
    /// (PyModule_AddObject(m, "error", PyExc_OSError) < 0)`), and the
    /// global is not a static type or an immortal singleton, whose extra
    /// reference is harmless.
    fn global_handed_back(&self, st: &State, v: &ValueState) -> bool {
        let Some(at) = v.steal_failed else {
            return false;
        };
        if self.is_immortal_global(v) || self.is_singleton_value(v) {
            return false;
        }
        if let ValOrigin::Global(id) = v.origin {
            if self.name_of(id).starts_with('&') {
                return false;
            }
        }
        match self.stmt_at(at).map(|s| &s.kind) {
            Some(StmtKind::Call { dst: Some(d), .. }) => {
                st.known(test_key(Some(*d), None)).is_some()
            }
            _ => false,
        }
    }
}
