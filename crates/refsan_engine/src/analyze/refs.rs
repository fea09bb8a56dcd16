//! Reference operations: INCREF, DECREF, uses of a value, and the checks
//! that come with them (dead values, NULL, borrowed items exposed to Python
//! code, calls without the GIL).

use super::*;

impl<'a> Analyzer<'a> {
    pub(super) fn dead_use(&mut self, st: &mut State, site: Site, what: &str, span: Span) -> bool {
        let Some(v) = st.value(site).copied() else {
            return false;
        };
        if !v.trackable() || !v.status.is_dead() {
            return false;
        }
        let name = self.describe(st, site);
        let (message, last) = match v.status {
            Status::OwnerGone(s) => {
                let owner = match v.owner.filter(|o| st.value(*o).is_some()) {
                    Some(o) => self.describe(st, o),
                    None => "its container".to_string(),
                };
                let _ = s;
                (
                    rs103_use_after_release::message_owner_gone(&name, &owner),
                    format!("{name} is {what} here"),
                )
            }
            Status::Released(s)
                if matches!(
                    self.managed_op(s),
                    Some(ManagedOp::TempRelease | ManagedOp::AssignRelease | ManagedOp::ScopeExit)
                ) =>
            {
                (
                    rs406_raw_pointer_outlives_object::message(&name, what),
                    format!("{name} is {what} here"),
                )
            }
            _ => {
                if what == "released" {
                    (
                        rs103_use_after_release::message_double(&name),
                        format!("{name} is released again here"),
                    )
                } else {
                    (
                        rs103_use_after_release::message_use(&name, what),
                        format!("{name} is {what} here"),
                    )
                }
            }
        };
        let meta = match v.status {
            Status::Released(s)
                if matches!(
                    self.managed_op(s),
                    Some(ManagedOp::TempRelease | ManagedOp::AssignRelease | ManagedOp::ScopeExit)
                ) =>
            {
                &rs406_raw_pointer_outlives_object::META
            }
            _ => &rs103_use_after_release::META,
        };
        self.report(st, meta, span, Some(site), message, last, None);
        self.mark_reported(st, site);
        true
    }

    /// Python code may run: borrowed container items may be freed.
    pub(super) fn expose_borrowed(&self, st: &mut State, sref: StmtRef) {
        for v in st.values.iter_mut() {
            if v.volatile && v.owned <= 0 && v.status == Status::Live && v.exposed.is_none() {
                v.exposed = Some(sref);
            }
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
        let name = self.describe(st, site);
        let callee = self.callee_at(at);
        self.report(
            st,
            &rs110_borrowed_across_call::META,
            span,
            Some(site),
            rs110_borrowed_across_call::message(&name, &callee),
            format!("{name} is used here"),
            Some(format!(
                "take a reference right after the lookup (`Py_INCREF({})`) or use the *Ref API",
                name.trim_matches('`')
            )),
        );
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
        how: &str,
        name: String,
        span: Span,
    ) -> bool {
        let message = rs107_unchecked_null::message_null(&name, how, &self.null_why_text(why));
        self.report(
            st,
            &rs107_unchecked_null::META,
            span,
            None,
            message,
            format!("{name} is {how} here"),
            Some("check for NULL first, or use the Py_X* variant".to_string()),
        );
        false
    }

    pub(super) fn maybe_null_use(
        &mut self,
        st: &mut State,
        site: Site,
        from: StmtRef,
        how: &str,
        span: Span,
    ) {
        let name = self.describe(st, site);
        let why = format!(
            "`{}` on line {} may leave it NULL",
            self.callee_at(from),
            self.span_at(from).line
        );
        let message = rs107_unchecked_null::message_maybe(&name, how, &why);
        self.report(
            st,
            &rs107_unchecked_null::META,
            span,
            Some(site),
            message,
            format!("{name} is {how} here"),
            Some("check for NULL first, or use the Py_X* variant".to_string()),
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
                if self.dead_use(st, site, "INCREF'd", span) {
                    return true;
                }
                self.check_exposed(st, site, span);
                let Some(v) = st.value(site).copied() else {
                    return true;
                };
                if let Nullness::MaybeOut(from) = v.null {
                    if !nullable && v.trackable() {
                        self.maybe_null_use(st, site, from, "INCREF'd", span);
                    }
                }
                let op = self.managed_op(sref);
                if let Some(v) = st.value_mut(site) {
                    v.owned += 1;
                    if v.owned >= 0 {
                        v.store_debt = None;
                    }
                    match op {
                        Some(ManagedOp::ObjectCast) => v.cast_incref = Some(sref),
                        None => v.user_incref = Some(sref),
                        Some(_) => {}
                    }
                    if matches!(v.status, Status::Stolen(_) | Status::Stored(_)) {
                        v.status = Status::Live;
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
                self.null_use(st, why, "INCREF'd", name, span)
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
                if self.dead_use(st, site, "released", span) {
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
                        self.maybe_null_use(st, site, from, "released", span);
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
                        let c = self.callee_at(s);
                        let (meta, message) = if self.managed_op(sref).is_some() {
                            (
                                &rs403_managed_to_stealing::META,
                                rs403_managed_to_stealing::message(&name, &c),
                            )
                        } else {
                            (
                                &rs106_steal_mishandled::META,
                                rs106_steal_mishandled::message_release_after_steal(&name, &c),
                            )
                        };
                        let help = self.managed_op(sref).map(|_| {
                            format!(
                                "`Py_INCREF({})` before passing it to `{c}`",
                                name.trim_matches('`')
                            )
                        });
                        self.report(
                            st,
                            meta,
                            span,
                            Some(site),
                            message,
                            format!("{name} is released here"),
                            help,
                        );
                        self.mark_reported(st, site);
                    }
                    (Status::Stored(_), _) if self.managed_op(sref).is_some() => {
                        self.report(
                            st,
                            &rs406_raw_pointer_outlives_object::META,
                            span,
                            Some(site),
                            rs406_raw_pointer_outlives_object::message_stored(&name),
                            format!("Cython releases {name} here"),
                            Some("keep a reference of your own (Py_INCREF) for the stored pointer, or store an `object`".to_string()),
                        );
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
                    (Status::Live, ValOrigin::Borrowed(b))
                        if self.in_accessor_slot(st, site)
                            || (v.owner.is_some() && is_item_getter(&self.callee_at(b))) =>
                    {
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
                        self.report(
                            st,
                            &rs103_use_after_release::META,
                            span,
                            Some(site),
                            rs103_use_after_release::message_double(&name),
                            format!("{name} is released again here"),
                            None,
                        );
                        self.mark_reported(st, site);
                    }
                    (Status::Live, ValOrigin::Param(i))
                        if !self.expect.python_facing && self.expect.params.is_none() =>
                    {
                        // Maybe the function steals it: decided by the summary.
                        let why = self.why_borrowed(&v);
                        self.tentative_param_finding(
                            st,
                            site,
                            i,
                            &rs102_decref_borrowed::META,
                            rs102_decref_borrowed::message(&name, &why),
                            (span, format!("{name} is released here")),
                            None,
                        );
                    }
                    _ => {
                        let why = self.why_borrowed(&v);
                        self.report(
                            st,
                            &rs102_decref_borrowed::META,
                            span,
                            Some(site),
                            rs102_decref_borrowed::message(&name, &why),
                            format!("{name} is released here"),
                            None,
                        );
                        self.mark_reported(st, site);
                    }
                }
                true
            }
            Binding::Null(why) if !nullable => {
                let name = self.null_name(self.var_text(st, b));
                self.null_use(st, why, &format!("passed to `{macro_name}`"), name, span)
            }
            _ => true,
        }
    }

    /// A finding about parameter `param` of a helper that may take over its
    /// reference (release, store or hand it on): kept aside for the summary
    /// to decide, and the parameter's reference counted as given away.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn tentative_param_finding(
        &mut self,
        st: &mut State,
        site: Site,
        param: u32,
        meta: &'static RuleMeta,
        message: String,
        (span, event): (Span, String),
        help: Option<String>,
    ) {
        let events = self.events(
            st,
            Some(site),
            Event {
                span,
                message: event,
            },
        );
        let f = rules::finding(meta, span, Some(&self.func.name), message, events, help);
        self.result.param_releases.push((param, f));
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
                is_constructor(&callee)
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
        for v in st.values.iter_mut() {
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
                self.dead_use(st, site, "used", span);
                self.check_exposed(st, site, span);
                if let Some(v) = st.value(site).copied() {
                    if let Nullness::MaybeOut(from) = v.null {
                        if v.trackable() {
                            self.maybe_null_use(st, site, from, "dereferenced", span);
                        }
                    }
                }
                true
            }
            Binding::Null(why) => {
                let name = self.null_name(self.var_text(st, b));
                self.null_use(st, why, "dereferenced", name, span)
            }
            _ => true,
        }
    }

    pub(super) fn gil_violation(&mut self, st: &State, what: &str, span: Span) {
        let message = rs204_api_without_gil::message(what);
        self.report(
            st,
            &rs204_api_without_gil::META,
            span,
            None,
            message,
            format!("`{what}` runs without the GIL here"),
            None,
        );
    }
}
