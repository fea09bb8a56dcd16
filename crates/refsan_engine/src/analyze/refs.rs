//! Reference operations: INCREF, DECREF, uses of a value, and the checks
//! that come with them (dead values, NULL, borrowed items exposed to Python
//! code, calls without the GIL).

use super::*;

impl<'a> Analyzer<'a> {
    /// A use of a value whose object may be gone; returns true when it was
    /// reported.
    pub(super) fn dead_use(
        &mut self,
        st: &mut State,
        site: Site,
        access: Access,
        span: Span,
    ) -> bool {
        let Some(v) = st.value(site).copied() else {
            return false;
        };
        if !v.trackable() || !v.status.is_dead() {
            return false;
        }
        let cause = match v.status {
            Status::OwnerGone(_) => Dead::OwnerGone {
                owner: match v.owner.filter(|o| st.value(*o).is_some()) {
                    Some(o) => self.describe(st, o),
                    None => "its container".to_string(),
                },
            },
            Status::Released(s)
                if matches!(
                    self.managed_op(s),
                    Some(ManagedOp::TempRelease | ManagedOp::AssignRelease | ManagedOp::ScopeExit)
                ) =>
            {
                Dead::ReleasedByLanguage
            }
            _ => Dead::Released,
        };
        let value = self.describe(st, site);
        self.emit(
            st,
            Kind::DeadUse {
                value,
                access,
                cause,
            },
            span,
            Some(site),
        );
        self.mark_reported(st, site);
        true
    }

    /// Python code may run: borrowed container items and fields may be
    /// freed (a field read before is read anew afterwards: see `eval`). A
    /// field read no variable holds is read anew where it is used next.
    pub(super) fn expose_borrowed(&self, st: &mut State, sref: StmtRef, args: &[Binding]) {
        // A container this function made and kept to itself (a copy it
        // walks): Python code cannot reach it, unless this call is given it.
        // (One a C struct holds may be the user's: a serializer's input.)
        let private = |owner: Option<Site>| {
            owner.is_some_and(|o| {
                !args.contains(&Binding::Obj(o))
                    && st.value(o).is_some_and(|c| {
                        self.made_here(c)
                            && c.status == Status::Live
                            && !c.passed_unknown
                            && !c.kept
                    })
            })
        };
        let mut exposed = Vec::new();
        for v in &st.values {
            if v.volatile
                && v.owned <= 0
                && v.status == Status::Live
                && v.exposed.is_none()
                && !private(v.owner)
                && (!matches!(v.origin, ValOrigin::Field(_))
                    || st
                        .vars_bound_to(Binding::Obj(v.site))
                        .any(|var| !self.is_temp(var)))
            {
                exposed.push(v.site);
            }
        }
        for site in exposed {
            if let Some(v) = st.value_mut(site) {
                v.exposed = Some(sref);
            }
            st.push_event(Ev::CodeRan { stmt: sref, site });
        }
    }

    /// RS110: a borrowed item used after Python code may have freed it.
    pub(super) fn check_exposed(&mut self, st: &mut State, site: Site, span: Span) {
        let Some(v) = st.value(site).copied() else {
            return;
        };
        let Some(at) = v.exposed else { return };
        if !v.volatile || v.owned > 0 || !v.trackable() {
            return;
        }
        let callee = self.callee_at(at);
        let source = match v.origin {
            ValOrigin::Field(s) => {
                BorrowSource::Field(self.field_text(s).unwrap_or_else(|| "a field".to_string()))
            }
            ValOrigin::Borrowed(s) | ValOrigin::OutBorrowed(s, _) => {
                BorrowSource::Api(self.callee_at(s))
            }
            _ => return,
        };
        let kind = Kind::UsedAfterCodeRan {
            value: self.describe(st, site),
            via: self.resolver.runs_code(&callee).map(str::to_string),
            callee,
            source,
        };
        self.emit(st, kind, span, Some(site));
        if let Some(v) = st.value_mut(site) {
            v.volatile = false;
        }
    }

    /// Reports a NULL value used where NULL crashes; returns false when the
    /// path ends there.
    pub(super) fn null_use(
        &mut self,
        st: &mut State,
        why: NullWhy,
        access: Access,
        value: String,
        span: Span,
    ) -> bool {
        let why = self.null_why_text(why);
        self.emit(st, Kind::NullUsed { value, access, why }, span, None);
        false
    }

    pub(super) fn maybe_null_use(
        &mut self,
        st: &mut State,
        site: Site,
        from: StmtRef,
        access: Access,
        span: Span,
    ) {
        let value = self.describe(st, site);
        // A field another method sets to NULL, read at `from`.
        let cleared = self
            .field_read_at(from)
            .and_then(|(b, f)| self.cleared_elsewhere(st, b, f).map(|c| (f, c)));
        let (why, basis) = match cleared {
            Some((f, (by, line))) => (
                format!("`{by}` sets the `{f}` field to NULL on line {line}"),
                Basis::Inferred,
            ),
            None => (
                format!(
                    "`{}` on line {} may leave it NULL",
                    self.callee_at(from),
                    self.span_at(from).line
                ),
                Basis::Stated,
            ),
        };
        self.emit(
            st,
            Kind::MaybeNullUsed {
                value,
                access,
                why,
                basis,
            },
            span,
            Some(site),
        );
        self.mark_reported(st, site);
    }

    pub(super) fn incref(
        &mut self,
        st: &mut State,
        b: Binding,
        nullable: bool,
        sref: StmtRef,
        span: Span,
    ) -> bool {
        if st.gil_released {
            self.gil_violation(st, "Py_INCREF", span);
        }
        match b {
            Binding::Obj(site) => {
                if self.dead_use(st, site, Access::Incref, span) {
                    return true;
                }
                self.check_exposed(st, site, span);
                let Some(v) = st.value(site).copied() else {
                    return true;
                };
                if let Nullness::MaybeOut(from) = v.null {
                    if !nullable && v.trackable() {
                        self.maybe_null_use(st, site, from, Access::Incref, span);
                    }
                }
                let op = self.managed_op(sref);
                if let Some(v) = st.value_mut(site) {
                    v.owned += 1;
                    // `self->cb = cb; Py_INCREF(cb);`: the reference paid
                    // for belongs to the field.
                    let paid = match v.store_debt {
                        Some(at) if v.owned >= 0 => {
                            v.store_debt = None;
                            (v.owned == 0 && v.status == Status::Live).then_some(at)
                        }
                        _ => None,
                    };
                    match op {
                        Some(ManagedOp::ObjectCast) => v.cast_incref = Some(sref),
                        None => v.user_incref = Some(sref),
                        Some(_) => {}
                    }
                    if matches!(v.status, Status::Stolen(_) | Status::Stored(_)) {
                        v.status = Status::Live;
                    }
                    if let Some(at) = paid {
                        v.status = Status::Stored(at);
                    }
                    if v.owned > MAX_OWNED {
                        v.status = Status::Escaped;
                    }
                }
                st.push_event(Ev::Incref { stmt: sref, site });
                true
            }
            Binding::Null(why) if !nullable => {
                let name = self.null_name(self.var_text(st, b));
                self.null_use(st, why, Access::Incref, name, span)
            }
            _ => true,
        }
    }

    pub(super) fn decref(
        &mut self,
        st: &mut State,
        b: Binding,
        nullable: bool,
        sref: StmtRef,
        span: Span,
        op: &Operand,
    ) -> bool {
        let macro_name = self.callee_at(sref);
        if st.gil_released {
            self.gil_violation(st, &macro_name, span);
        }
        match b {
            Binding::Obj(site) => {
                if self.dead_use(st, site, Access::Release, span) {
                    return true;
                }
                let Some(v) = st.value(site).copied() else {
                    return true;
                };
                if !v.trackable() {
                    if let Some(v) = st.value_mut(site) {
                        v.owned -= 1;
                    }
                    return true;
                }
                if let Nullness::MaybeOut(from) = v.null {
                    if !nullable {
                        self.maybe_null_use(st, site, from, Access::Release, span);
                    }
                }
                st.push_event(Ev::Decref { stmt: sref, site });
                if v.owned > 0 {
                    let now = v.owned - 1;
                    let was_new = v.origin.is_new_kind() && !v.kept;
                    if let Some(v) = st.value_mut(site) {
                        v.owned = now;
                        if now == 0 && was_new {
                            v.status = Status::Released(sref);
                        }
                    }
                    if now == 0 && was_new {
                        self.owner_released(st, site, sref);
                    }
                    return true;
                }
                // The function holds no reference of its own.
                let name = self.describe(st, site);
                match (v.status, v.origin) {
                    (Status::Stolen(s), _) => {
                        let kind = Kind::ReleasedAfterSteal {
                            value: name,
                            callee: self.callee_at(s),
                            by_language: self.managed_op(sref).is_some(),
                        };
                        self.emit(st, kind, span, Some(site));
                        self.mark_reported(st, site);
                    }
                    (Status::Stored(_), _) if self.managed_op(sref).is_some() => {
                        let kind = Kind::LanguageReleasedStored { value: name };
                        self.emit(st, kind, span, Some(site));
                        self.mark_reported(st, site);
                    }
                    (Status::Stored(_), _)
                        if matches!(op, Operand::Field(..) | Operand::Global(_)) =>
                    {
                        // The function stored its reference into this field
                        // (or global) and now releases it through the field:
                        // the stored reference comes back and is released.
                        if let Some(v) = st.value_mut(site) {
                            v.status = Status::Released(sref);
                            v.store_debt = None;
                        }
                        self.owner_released(st, site, sref);
                    }
                    (_, ValOrigin::Field(_)) => {
                        // Releasing the reference an object's field holds.
                        if let Some(v) = st.value_mut(site) {
                            v.status = Status::Released(sref);
                        }
                        self.owner_released(st, site, sref);
                    }
                    (_, ValOrigin::Global(_)) if !self.is_singleton_value(&v) => {
                        if let Some(v) = st.value_mut(site) {
                            v.status = Status::Released(sref);
                        }
                    }
                    (_, ValOrigin::Global(_)) if self.is_immortal_global(&v) => {}
                    (_, ValOrigin::Borrowed(_)) if self.dying_self_owns(st, &v) => {
                        // tp_dealloc releasing what the dying object holds,
                        // read through an accessor (`PyCell_GET(self)`).
                        if let Some(v) = st.value_mut(site) {
                            v.status = Status::Released(sref);
                        }
                        self.owner_released(st, site, sref);
                    }
                    (Status::Live, ValOrigin::Borrowed(_)) if self.is_slot_item(st, site) => {
                        // Releasing a container slot's reference: fine if the
                        // slot is overwritten before the function returns.
                        if let Some(v) = st.value_mut(site) {
                            v.slot_released = Some(sref);
                            v.status = Status::Released(sref);
                        }
                    }
                    (Status::Live, o) if o.is_new_kind() && v.kept => {
                        // A new reference already released once; a container
                        // kept the object alive, so this release takes the
                        // container's reference.
                        let kind = Kind::DeadUse {
                            value: name,
                            access: Access::Release,
                            cause: Dead::Released,
                        };
                        self.emit(st, kind, span, Some(site));
                        self.mark_reported(st, site);
                    }
                    (Status::Live, ValOrigin::Param(i))
                        if !self.expect.python_facing && self.expect.params.is_none() =>
                    {
                        // Maybe the function steals it: decided by the summary.
                        let kind = Kind::ReleasedBorrowed {
                            value: name,
                            why: self.why_borrowed(&v),
                            basis: self.borrow_basis(&v),
                            by: Release::Decref,
                        };
                        self.tentative(st, site, i, kind, span);
                    }
                    _ => {
                        let kind = Kind::ReleasedBorrowed {
                            value: name,
                            why: self.why_borrowed(&v),
                            basis: self.borrow_basis(&v),
                            by: Release::Decref,
                        };
                        self.emit(st, kind, span, Some(site));
                        self.mark_reported(st, site);
                    }
                }
                true
            }
            Binding::Null(why) if !nullable => {
                let name = self.null_name(self.var_text(st, b));
                self.null_use(st, why, Access::ReleaseBy(macro_name), name, span)
            }
            _ => true,
        }
    }

    /// A violation about parameter `param` of a helper that may take over
    /// its reference (release, store or hand it on): kept aside for the
    /// summary to decide, and the parameter's reference counted as given
    /// away.
    pub(super) fn tentative(
        &mut self,
        st: &mut State,
        site: Site,
        param: u32,
        kind: Kind,
        span: Span,
    ) {
        let v = self.violation(st, kind, span, site);
        self.result.param_violations.push((param, v));
        if let Some(v) = st.value_mut(site) {
            v.owned -= 1;
        }
    }

    /// Borrowed references taken from a released container die with it, when
    /// the container was made here (so the function held its only reference).
    pub(super) fn owner_released(&self, st: &mut State, owner: Site, sref: StmtRef) {
        let fresh = match st.value(owner).map(|v| v.origin) {
            Some(ValOrigin::New(s)) => {
                let callee = self.callee_at(s);
                // A constructor, or one of the module's own functions that
                // returns a new reference (it builds the object).
                self.is_constructor(&callee)
                    || self
                        .resolver
                        .summary(&callee)
                        .is_some_and(|c| c.returns == Returns::New)
            }
            _ => false,
        };
        if !fresh {
            return;
        }
        for v in &mut st.values {
            if v.owner == Some(owner)
                && v.owned <= 0
                && v.status == Status::Live
                && v.origin.is_borrowed_kind()
            {
                v.status = Status::OwnerGone(sref);
            }
        }
    }

    pub(super) fn use_value(
        &mut self,
        st: &mut State,
        b: Binding,
        kind: UseKind,
        _sref: StmtRef,
        span: Span,
    ) -> bool {
        if kind != UseKind::Deref {
            return true;
        }
        match b {
            Binding::Obj(site) => {
                self.dead_use(st, site, Access::Deref, span);
                self.check_exposed(st, site, span);
                if let Some(v) = st.value(site).copied() {
                    if let Nullness::MaybeOut(from) = v.null {
                        if v.trackable() {
                            self.maybe_null_use(st, site, from, Access::Deref, span);
                        }
                    }
                }
                // Past a dereference the pointer is not NULL: the code
                // would have crashed there.
                if let Some(v) = st.value_mut(site) {
                    if v.null == Nullness::Maybe {
                        v.null = Nullness::NonNull;
                    }
                }
                true
            }
            Binding::Null(why) => {
                let name = self.null_name(self.var_text(st, b));
                self.null_use(st, why, Access::Deref, name, span)
            }
            _ => true,
        }
    }

    pub(super) fn gil_violation(&mut self, st: &State, callee: &str, span: Span) {
        let kind = Kind::CallWithoutGil {
            callee: callee.to_string(),
        };
        self.emit(st, kind, span, None);
    }
}
