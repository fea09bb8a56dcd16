//! Calls: the callee's contract, its outcomes (one state each), and its
//! effects on arguments (steals, out-pointers, replace-in-place) and result.

use super::*;

impl<'a> Analyzer<'a> {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn exec_call(
        &mut self,
        mut st: State,
        sref: StmtRef,
        span: Span,
        dst: Option<VarId>,
        callee: &'a Callee,
        args: &'a [Operand],
        out: &mut Vec<State>,
    ) {
        let name = callee.name().unwrap_or("");
        let mut vals: Vec<Binding> = Vec::with_capacity(args.len());
        for (i, a) in args.iter().enumerate() {
            let b = self.eval(&mut st, a, sref, i);
            vals.push(b);
        }
        // Local structs whose address the function stored somewhere (`alloc.ctx
        // = &hook`): any call may write their fields through it.
        for v in &self.address_stored {
            havoc_struct_fields(&mut st, *v);
        }

        // The result, out values and exception state are new: what the code
        // tested of the old ones no longer decides anything.
        st.forget_known(test_key(None, None));
        if let Some(d) = dst {
            st.forget_known(test_key(Some(d), None));
        }
        for a in args {
            if let Operand::AddrOf(Place::Var(v)) = a {
                st.forget_known(test_key(Some(*v), None));
            }
        }
        // A struct a helper gets a pointer to: the helper may set the
        // fields this function cleared (`tok->enc = NULL; check_bom(tok);
        // if (tok->enc)`) or only read (`old = f->flag; callback(f); if
        // (old != f->flag)`). References this function took or stored
        // there stay tracked.
        if self.resolver.facts().api(name).is_none() {
            let unknown_callee = name.is_empty() || self.resolver.resolve(name).is_none();
            for a in args {
                if let Operand::Var(v) = a {
                    st.forget_known_fields(*v);
                    let key = self.base_key(&st, *v);
                    let values = &st.values;
                    let read_only = |site: Site| {
                        values
                            .binary_search_by_key(&site, |x| x.site)
                            .ok()
                            .map(|i| &values[i])
                            .is_some_and(|x| {
                                matches!(x.origin, ValOrigin::Field(_))
                                    && x.owned <= 0
                                    && x.status == Status::Live
                                    && !x.shared
                                    && !x.kept
                            })
                    };
                    let mut changed = Vec::new();
                    for (i, f) in st.fields.iter().enumerate() {
                        if f.base != key {
                            continue;
                        }
                        match f.val {
                            FieldVal::Null(_) => changed.push(i),
                            // Only a callee nothing is known of (an
                            // indirect call, a callback) is assumed to
                            // change them.
                            FieldVal::Obj(site) if unknown_callee && read_only(site) => {
                                changed.push(i);
                            }
                            _ => {}
                        }
                    }
                    for i in changed {
                        st.fields[i].val = FieldVal::Unknown;
                    }
                }
            }
        }
        let behaviour = self.callee_behaviour(sref, name);
        // GIL state changes.
        if let Some(gil @ (Gil::Releases | Gil::Acquires)) = behaviour.map(|b| b.gil) {
            st.gil_released = gil == Gil::Releases;
            self.bind_unknown(&mut st, dst, sref, span);
            out.push(st);
            return;
        }
        if behaviour.is_some_and(|b| b.reports_exception) {
            self.err_occurred_value(st, sref, span, dst, out);
            return;
        }
        if behaviour.is_some_and(|b| b.matches_exception) {
            self.exception_matches(st, sref, span, dst, out);
            return;
        }
        st.exc_unseen = false;

        // The contract: format-driven APIs first.
        let format_contract;
        let resolved: Option<Resolved<'_>> =
            if let Some(c) = formats::call_contract(self.resolver.facts(), name, args) {
                format_contract = c;
                Some(Resolved {
                    contract: &format_contract.contract,
                    source: ContractSource::KnowledgeBase,
                    is_api: true,
                })
            } else {
                self.resolver.resolve(name)
            };
        // A summary that says nothing (a helper with conflicting
        // definitions) is an unknown callee.
        let resolved = resolved
            .filter(|r| {
                !(r.source == ContractSource::Summary
                    && r.contract.returns == Returns::Unknown
                    && r.contract.args.is_empty()
                    && self.resolver.int_outcomes(name).is_none()
                    && r.contract.failure == Failure::Never)
            })
            .map(|r| (r.contract.clone(), r.is_api, r.source));

        if st.gil_released {
            if let Some((_, true, _)) = &resolved {
                self.gil_violation(&st, name, span);
            }
        }

        let Some((contract, is_api, source)) = resolved else {
            // Unknown callee: borrows its arguments; out pointers get unknown
            // values; it may set an exception. An upper-case name is a macro
            // from a header refsan does not read (a `.h` included into the
            // file that defines `UNBIND(x)`): it may release or keep what it
            // is given, so those values are no longer tracked. So is a C++
            // qualified function (`OwnedObject::consuming(p)`,
            // `std::make_unique<Holder>(p)`): C++ code hands references to
            // objects whose destructors release them.
            let unknown_macro = looks_like_macro(name) || name.contains("::");
            for (i, a) in args.iter().enumerate() {
                if let Binding::Obj(site) = vals[i] {
                    let callee = if name.is_empty() {
                        "an indirect call"
                    } else {
                        name
                    };
                    self.dead_use(&mut st, site, Access::Pass(callee.to_string()), span);
                    if let Some(v) = st.value_mut(site) {
                        if v.owned > 0 || !v.origin.is_borrowed_kind() {
                            v.passed_unknown = true;
                        }
                        if unknown_macro
                            && !v.status.is_dead()
                            && !matches!(v.origin, ValOrigin::Global(_))
                        {
                            v.status = Status::Escaped;
                        }
                    }
                }
                self.havoc_out_arg(&mut st, a);
            }
            if !self.resolver.is_noexcept(name) {
                st.exc = Exc::Unknown;
            }
            self.bind_unknown(&mut st, dst, sref, span);
            out.push(st);
            return;
        };

        // Preconditions on arguments.
        let also_nullable: &[usize] = if is_api {
            self.resolver
                .facts()
                .api(name)
                .map_or(&[], |i| i.also_nullable)
        } else {
            &[]
        };
        for (i, b) in vals.iter().enumerate() {
            let effect = if also_nullable.contains(&i)
                || formats::fromformat_api(self.resolver.facts(), name)
                    .is_some_and(|f| formats::fromformat_arg_nullable(f, args, i))
            {
                ArgEffect::Nullable
            } else {
                contract.arg(i)
            };
            match *b {
                Binding::Obj(site) => {
                    let access = Access::Pass(name.to_string());
                    if self.dead_use(&mut st, site, access.clone(), span) {
                        continue;
                    }
                    self.check_exposed(&mut st, site, span);
                    if let Some(v) = st.value(site).copied() {
                        if let Nullness::MaybeOut(from) = v.null {
                            if is_api
                                && effect != ArgEffect::Nullable
                                && v.trackable()
                                && !is_out(effect)
                            {
                                self.maybe_null_use(&mut st, site, from, access, span);
                            }
                        }
                    }
                }
                // Py_BuildValue & co. accept NULL values ("an error occurred
                // while building the argument") and return NULL themselves.
                Binding::Null(why @ NullWhy::Failed(_))
                    if is_api
                        && effect != ArgEffect::Nullable
                        && !is_out(effect)
                        && formats::format_api(self.resolver.facts(), name).is_none() =>
                {
                    if matches!(args.get(i), Some(Operand::Var(_))) {
                        let name_text = self.null_name(self.op_text(&st, &args[i], *b));
                        if !self.null_use(
                            &mut st,
                            why,
                            Access::Pass(name.to_string()),
                            name_text,
                            span,
                        ) {
                            return;
                        }
                    }
                }
                _ => {}
            }
        }

        if contract.noreturn {
            return;
        }
        // Python code may run: through the knowledge base's API, or a
        // function of the project that calls one.
        if (is_api && behaviour.is_some_and(|b| b.runs_code))
            || (!is_api && self.resolver.runs_code(name).is_some())
        {
            self.expose_borrowed(&mut st, sref, &vals);
        }

        // A status (0) unless a summary says what the helper returns.
        let success = self.resolver.success_range(name).unwrap_or((0, 0));
        let summary_outcomes = self.resolver.int_outcomes(name);
        let outcomes: Vec<(Outcome, RetVal)> = match summary_outcomes {
            Some(list) => list
                .iter()
                .map(|o| {
                    // A negative value returned with or without an
                    // exception (a helper passing on what another one
                    // returned) is still its error return.
                    let outcome = if o.exc == Exc::Set || (o.exc == Exc::Unknown && o.hi < 0) {
                        Outcome::Failure
                    } else {
                        Outcome::Success
                    };
                    (outcome, RetVal::Int(o.lo, o.hi))
                })
                .collect(),
            None => {
                let mut list = outcomes_for(
                    &contract,
                    dst.map(|d| self.func.vars[d.index()].ty),
                    success,
                );
                // A declared function returning a C pointer (a Cython
                // `cdef xmlNode* f(...) noexcept`) may return NULL without
                // failing: only the knowledge base and summaries know more.
                if !is_api
                    && source != ContractSource::Summary
                    && contract.failure == Failure::Never
                {
                    for (_, r) in &mut list {
                        if *r == RetVal::Ptr {
                            *r = RetVal::Unknown;
                        }
                    }
                }
                list
            }
        };
        // `PyCallable_Check(NULL)` is 0.
        let outcomes = if is_api
            && behaviour.is_some_and(|b| b.zero_for_null)
            && matches!(vals.first(), Some(Binding::Null(_)))
        {
            vec![(Outcome::Only, RetVal::Int(0, 0))]
        } else if is_api && self.cannot_fail_here(&st, name, behaviour, args, &vals) {
            outcomes
                .into_iter()
                .filter(|(o, _)| *o != Outcome::Failure)
                .collect()
        } else {
            outcomes
        };
        // What the knowledge base says of a C-API call's result and out
        // values is a fact, not a guess: a test the code makes of them that
        // the facts decide is dead code (`if (type == NULL)` after
        // PyErr_Fetch with an exception set), not a path the model dropped.
        // So is a summary: the outcomes of the paths the analysis followed
        // through the helper (a helper with paths it did not reach says so
        // itself).
        if is_api || source == ContractSource::Summary {
            st.set_known(Known::trusted(test_key(None, None)));
            if let Some(d) = dst {
                st.set_known(Known::trusted(test_key(Some(d), None)));
            }
            for a in args {
                if let Operand::AddrOf(Place::Var(v)) = a {
                    st.set_known(Known::trusted(test_key(Some(*v), None)));
                }
            }
        }
        // A helper of the file that always fails (an abstract method that
        // raises): what follows its success is dead code, as after a call
        // that does not return, not a path the model ruled out.
        if !outcomes.is_empty() && outcomes.iter().all(|(o, _)| *o == Outcome::Failure) {
            st.set_known(Known::trusted(test_key(None, None)));
            if let Some(d) = dst {
                st.set_known(Known::trusted(test_key(Some(d), None)));
            }
        }
        // What it takes for the call to fail here: nothing for a call that
        // always fails (`PyErr_Format`), else what the knowledge base or the
        // helper's summary says.
        let demand = if outcomes.iter().all(|(o, _)| *o == Outcome::Failure) {
            // Raising MemoryError (`PyErr_NoMemory()`) marks the path as the
            // out-of-memory one the code handles.
            if is_api && behaviour.is_some_and(|b| b.fails_when == FailsWhen::Oom) {
                Trigger::Oom
            } else {
                Trigger::Always
            }
        } else if matches!(self.stmt_at(sref).map(|s| &s.origin), Some(Origin::Macro(m)) if m == Origin::ASSERT)
        {
            // Inside `assert()`: a failure the code asserts is what always
            // happens (`assert(PySet_New(Py_None) == NULL)`); one it rules
            // out aborts, so no path follows it.
            Trigger::Always
        } else {
            self.failure_demand(name, is_api, behaviour, args)
        };
        // A helper that fails when given NULL: where it succeeds, it was not.
        let nonnull = if is_api {
            0
        } else {
            self.resolver.nonnull_on_success(name)
        };
        for (k, (outcome, ret)) in outcomes.iter().enumerate() {
            let mut s = if k + 1 == outcomes.len() {
                std::mem::replace(&mut st, State::new(0))
            } else {
                st.clone()
            };
            if nonnull != 0 && outcome.succeeded() {
                let mut impossible = false;
                for (i, b) in vals.iter().enumerate().take(64) {
                    if nonnull & (1 << i) == 0 {
                        continue;
                    }
                    match *b {
                        Binding::Null(_) => impossible = true,
                        Binding::Obj(site) => {
                            if let Some(v) = s.value_mut(site) {
                                v.null = Nullness::NonNull;
                            }
                        }
                        _ => {}
                    }
                }
                if impossible {
                    continue;
                }
            }
            if *outcome == Outcome::Failure {
                s.push_event(Ev::CallFailed { stmt: sref, demand });
            } else if *outcome == Outcome::False {
                s.push_event(Ev::CallFalse { stmt: sref });
            }
            self.slot_overwrite(&mut s, name, args, &vals);
            self.apply_arg_effects(&mut s, &contract, name, args, &vals, *outcome, sref, span);
            if outcome.succeeded() {
                let container = vals.first().and_then(Binding::obj);
                for i in behaviour.map_or(&[][..], |b| &b.keeps[..]) {
                    if let Some(Binding::Obj(site)) = vals.get(*i) {
                        if let Some(v) = s.value_mut(*site) {
                            v.kept = true;
                            if v.owner.is_none() && container != Some(*site) {
                                v.owner = container;
                            }
                        }
                    }
                }
            }
            // Exception state.
            if let Some(list) = summary_outcomes {
                match list.get(k).map(|o| o.exc) {
                    Some(Exc::Set) => s.exc = Exc::Set,
                    Some(Exc::Unknown) => s.exc = Exc::Unknown,
                    _ => {}
                }
            } else {
                match contract.exc {
                    ExcEffect::Sets => s.exc = Exc::Set,
                    ExcEffect::Clears => s.exc = Exc::Clear,
                    ExcEffect::OnFailure => {
                        if *outcome == Outcome::Failure {
                            s.exc = match contract.failure {
                                Failure::NullNoExc => s.exc,
                                Failure::NullMaybeExc => Exc::Unknown,
                                _ => Exc::Set,
                            };
                        } else if contract.failure == Failure::Ambiguous
                            && *outcome == Outcome::Only
                            && s.exc == Exc::Clear
                        {
                            s.exc = Exc::Unknown;
                        }
                    }
                }
            }
            self.bind_result(&mut s, &contract, name, &vals, dst, *ret, sref, span);
            out.push(s);
        }
    }

    /// The knowledge base rules out the failure of this call of `name`:
    /// a constant first argument it always succeeds for (`PyTuple_New(0)`,
    /// `PyLong_FromLong(1)`), a first argument of a type it cannot fail on
    /// (`PyBytes_AsString` of a new bytes object), or a predicate that
    /// answered yes for the same arguments on this path
    /// (`PyCapsule_IsValid` before `PyCapsule_GetPointer`).
    fn cannot_fail_here(
        &self,
        st: &State,
        name: &str,
        behaviour: Option<&Behaviour>,
        args: &[Operand],
        vals: &[Binding],
    ) -> bool {
        let Some(b) = behaviour else { return false };
        if let (Some((lo, hi)), Some(Binding::Int(l, h))) = (b.succeeds_for, vals.first()) {
            if lo <= *l && *h <= hi {
                return true;
            }
        }
        if !b.succeeds_on_types.is_empty() {
            if let Some(t) = vals.first().and_then(|v| self.value_type(st, *v)) {
                if b.succeeds_on_types.iter().any(|x| x == t) {
                    return true;
                }
            }
        }
        // Only a function that asks a validating predicate has such facts.
        !self.validators.is_empty()
            && self
                .validation_key(st, name, args)
                .is_some_and(|k| st.known(k).is_some_and(|k| k.trusted))
    }

    /// The type of a tracked object (an instance of it), when the call that
    /// made it says (`PyBytes_FromStringAndSize` makes bytes).
    fn value_type(&self, st: &State, b: Binding) -> Option<&'a str> {
        let v = st.value(b.obj()?)?;
        let ValOrigin::New(made) = v.origin else {
            return None;
        };
        let StmtKind::Call {
            callee: Callee::Named(callee),
            ..
        } = &self.stmt_at(made)?.kind
        else {
            return None;
        };
        self.callee_behaviour(made, callee)?.result_type.as_deref()
    }

    /// What identifies a call of `target` with these arguments on a path:
    /// the objects by value, constants and globals by text. `None` when an
    /// argument has no identity (an expression refsan does not model).
    pub(super) fn validation_key(&self, st: &State, target: &str, args: &[Operand]) -> Option<u64> {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        ("validated", target).hash(&mut h);
        for a in args {
            match a {
                Operand::Var(v) => match st.binding(*v) {
                    Binding::Obj(site) => ("obj", site).hash(&mut h),
                    _ => ("var", v.0).hash(&mut h),
                },
                Operand::Null => "null".hash(&mut h),
                Operand::Int(i) => ("int", i).hash(&mut h),
                Operand::Str(s) => ("str", s).hash(&mut h),
                Operand::Global(g) => ("global", g).hash(&mut h),
                Operand::Field(v, f) => ("field", v.0, f).hash(&mut h),
                Operand::AddrOf(_) | Operand::Opaque => return None,
            }
        }
        Some(h.finish())
    }

    /// What it takes for a call of `name` with `args` to fail.
    fn failure_demand(
        &self,
        name: &str,
        is_api: bool,
        behaviour: Option<&Behaviour>,
        args: &[Operand],
    ) -> Trigger {
        if !is_api {
            return if self.resolver.is_oom_only(name) {
                Trigger::Oom
            } else {
                Trigger::Caller
            };
        }
        match behaviour.map_or(FailsWhen::Caller, |b| b.fails_when) {
            FailsWhen::Oom => Trigger::Oom,
            FailsWhen::OomIfLiteral if matches!(args.first(), Some(Operand::Str(_))) => {
                Trigger::Oom
            }
            FailsWhen::OomIfLiteral | FailsWhen::Caller => Trigger::Caller,
        }
    }

    pub(super) fn bind_unknown(
        &mut self,
        st: &mut State,
        dst: Option<VarId>,
        sref: StmtRef,
        span: Span,
    ) {
        if let Some(d) = dst {
            self.bind(st, d, Binding::Unknown, sref, span);
        }
    }

    /// `PyErr_ExceptionMatches(type)`: 0 or 1 with an exception set, 0
    /// without (so 1 means one is set).
    pub(super) fn exception_matches(
        &mut self,
        mut st: State,
        sref: StmtRef,
        span: Span,
        dst: Option<VarId>,
        out: &mut Vec<State>,
    ) {
        if st.exc_unseen && st.exc == Exc::Clear {
            st.exc = Exc::Unknown;
        }
        st.exc_unseen = false;
        let mut push = |this: &mut Self, mut s: State, exc: Exc, lo: i64, hi: i64| {
            s.exc = exc;
            if let Some(d) = dst {
                this.bind(&mut s, d, Binding::Int(lo, hi), sref, span);
            }
            out.push(s);
        };
        match st.exc {
            Exc::Set => push(self, st, Exc::Set, 0, 1),
            Exc::Clear => push(self, st, Exc::Clear, 0, 0),
            // A match says an exception is set; no match says nothing.
            Exc::Unknown => {
                push(self, st.clone(), Exc::Set, 1, 1);
                push(self, st, Exc::Unknown, 0, 0);
            }
        }
    }

    /// `PyErr_Occurred()` used as a value: non-NULL exactly when an exception
    /// is set.
    pub(super) fn err_occurred_value(
        &mut self,
        mut st: State,
        sref: StmtRef,
        span: Span,
        dst: Option<VarId>,
        out: &mut Vec<State>,
    ) {
        if st.exc_unseen && st.exc == Exc::Clear {
            st.exc = Exc::Unknown;
        }
        st.exc_unseen = false;
        let set = |this: &mut Self, mut s: State, out: &mut Vec<State>| {
            s.exc = Exc::Set;
            if let Some(d) = dst {
                this.bind(&mut s, d, Binding::Ptr, sref, span);
            }
            out.push(s);
        };
        match st.exc {
            Exc::Set => set(self, st, out),
            Exc::Clear => {
                if let Some(d) = dst {
                    self.bind(
                        &mut st,
                        d,
                        Binding::Null(NullWhy::Checked(sref)),
                        sref,
                        span,
                    );
                }
                out.push(st);
            }
            Exc::Unknown => {
                let mut clear = st.clone();
                clear.exc = Exc::Clear;
                if let Some(d) = dst {
                    self.bind(
                        &mut clear,
                        d,
                        Binding::Null(NullWhy::Checked(sref)),
                        sref,
                        span,
                    );
                }
                out.push(clear);
                set(self, st, out);
            }
        }
    }

    pub(super) fn havoc_out_arg(&mut self, st: &mut State, a: &Operand) {
        match a {
            Operand::AddrOf(Place::Var(v)) => {
                if let Binding::Obj(site) = st.binding(*v) {
                    if let Some(val) = st.value_mut(site) {
                        if val.owned > 0 {
                            val.status = Status::Escaped;
                        }
                    }
                }
                st.set_binding(*v, Binding::Unknown);
                // A struct passed by address (`split(..., &result)`) gets
                // new fields from the callee.
                havoc_struct_fields(st, *v);
            }
            Operand::AddrOf(Place::Field(base, f)) => {
                let key = self.base_key(st, *base);
                let fid = self.intern(&format!(".{f}"));
                st.clear_field(key, fid);
            }
            // A global passed by address: the callee may store to it.
            Operand::AddrOf(Place::Global(g)) => {
                let fid = self.intern(g);
                st.clear_field(FieldBase::GLOBALS, fid);
            }
            _ => {}
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn apply_arg_effects(
        &mut self,
        st: &mut State,
        contract: &Contract,
        name: &str,
        args: &[Operand],
        vals: &[Binding],
        outcome: Outcome,
        sref: StmtRef,
        span: Span,
    ) {
        let container = vals.iter().find_map(Binding::obj);
        let lent_to = matches!(args.first(), Some(Operand::Var(c)) if self.lending.contains(c));
        for (i, a) in args.iter().enumerate() {
            let effect = contract.arg(i);
            match effect {
                ArgEffect::Steal | ArgEffect::StealOnFailure | ArgEffect::StealOnSuccess
                    if lent_to =>
                {
                    // Lent to a scratch container (see `lending`).
                    if let Binding::Obj(site) = vals[i] {
                        self.escape_site(st, site);
                    }
                }
                ArgEffect::Steal => self.steal(st, vals[i], a, name, container, sref, span),
                ArgEffect::StealOnFailure => {
                    if !outcome.succeeded() {
                        self.steal(st, vals[i], a, name, container, sref, span);
                    }
                }
                ArgEffect::StealOnSuccess => {
                    if outcome.succeeded() {
                        self.steal(st, vals[i], a, name, container, sref, span);
                    } else if let Binding::Obj(site) = vals[i] {
                        if let Some(v) = st.value_mut(site) {
                            if v.owned > 0 {
                                v.steal_failed = Some(sref);
                            }
                        }
                        st.push_event(Ev::NotStolen { stmt: sref, site });
                    }
                }
                ArgEffect::OutNew | ArgEffect::OutNewMaybeNull | ArgEffect::OutBorrowed => {
                    self.write_out(st, a, i, effect, outcome, container, sref, span);
                }
                ArgEffect::ReplaceInPlace => self.replace_in_place(st, a, i, outcome, sref, span),
                ArgEffect::Borrow | ArgEffect::Nullable => {
                    if matches!(
                        a,
                        Operand::AddrOf(Place::Var(_) | Place::Field(..) | Place::Global(_))
                    ) {
                        self.havoc_out_arg(st, a);
                    }
                }
            }
        }
    }

    /// The statement right after `sref` (following plain gotos) is a
    /// Py_INCREF of `arg`: the old idiom `PyTuple_SetItem(t, i, x);
    /// Py_INCREF(x);` pays for the stolen reference at once.
    pub(super) fn incref_follows(&self, sref: StmtRef, arg: &Operand) -> bool {
        let (mut bi, i) = self.locate(sref);
        let mut next = i + 1;
        for _ in 0..4 {
            let Some(block) = self.func.blocks.get(bi) else {
                return false;
            };
            if let Some(s) = block.stmts.get(next) {
                return matches!(&s.kind, StmtKind::Incref { value, .. } if value == arg);
            }
            match block.term {
                Terminator::Goto(b) => {
                    bi = b.index();
                    next = 0;
                }
                _ => return false,
            }
        }
        false
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn steal(
        &mut self,
        st: &mut State,
        b: Binding,
        arg: &Operand,
        callee: &str,
        container: Option<Site>,
        sref: StmtRef,
        span: Span,
    ) {
        let Binding::Obj(site) = b else {
            return;
        };
        let Some(v) = st.value(site).copied() else {
            return;
        };
        if v.status.is_dead() {
            return; // reported as a dead use already
        }
        if v.owned > 0 {
            if let Some(v) = st.value_mut(site) {
                v.owned -= 1;
                if v.owned == 0 {
                    v.status = Status::Stolen(sref);
                    if container != Some(site) {
                        v.owner = container;
                    }
                }
            }
            st.push_event(Ev::Stolen { stmt: sref, site });
            return;
        }
        if !v.trackable() || self.is_immortal_global(&v) {
            return;
        }
        if v.owned == 0 && v.status == Status::Live && self.incref_follows(sref, arg) {
            // Stolen now, paid for by the Py_INCREF that follows.
            if let Some(v) = st.value_mut(site) {
                v.owned -= 1;
                v.status = Status::Stolen(sref);
            }
            st.push_event(Ev::Stolen { stmt: sref, site });
            return;
        }
        let name = self.describe(st, site);
        if matches!(v.status, Status::Stolen(_) | Status::Stored(_)) {
            // `Error = PyErr_NewException(...); PyModule_AddObject(m,
            // "Error", Error)`: the module takes the reference the file's
            // global held, which keeps a borrowed pointer.
            let global = match v.status {
                Status::Stored(s) => self.global_stored_at(s),
                _ => None,
            };
            let kind = Kind::StolenTwice {
                value: name,
                callee: callee.to_string(),
                global,
            };
            self.emit(st, kind, span, Some(site));
        } else if matches!(v.origin, ValOrigin::Field(_)) || self.module_global(&v) {
            // Handing over the reference a field (or a global of the
            // module) holds is a transfer when the field is cleared or
            // overwritten next (`PyErr_Restore(t, v, tb); t = v = tb =
            // NULL;`); checked at the return.
            if let ValOrigin::Global(n) = v.origin {
                // The global still points to it until the code stores there.
                st.set_field(FieldBase::GLOBALS, n, FieldVal::Obj(site));
            }
            if let Some(v) = st.value_mut(site) {
                v.status = Status::Stolen(sref);
                v.field_stolen = Some(sref);
            }
            return;
        } else if matches!(v.origin, ValOrigin::Param(_))
            && !self.expect.python_facing
            && self.expect.params.is_none()
        {
            // Maybe this function itself steals the parameter.
            if let ValOrigin::Param(i) = v.origin {
                let kind = Kind::StolenBorrowed {
                    value: name,
                    callee: callee.to_string(),
                    why: self.why_borrowed(&v),
                    basis: self.steal_basis(&v, callee),
                };
                self.tentative(st, site, i, kind, span);
            }
            return;
        } else {
            let kind = Kind::StolenBorrowed {
                value: name,
                callee: callee.to_string(),
                why: self.why_borrowed(&v),
                basis: self.steal_basis(&v, callee),
            };
            self.emit(st, kind, span, Some(site));
        }
        self.mark_reported(st, site);
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn write_out(
        &mut self,
        st: &mut State,
        a: &Operand,
        i: usize,
        effect: ArgEffect,
        outcome: Outcome,
        container: Option<Site>,
        sref: StmtRef,
        span: Span,
    ) {
        let var = match a {
            Operand::AddrOf(Place::Var(var)) => *var,
            Operand::AddrOf(Place::Field(base, f)) => {
                self.write_out_field(st, *base, f, i, effect, outcome, sref, span);
                return;
            }
            _ => {
                self.havoc_out_arg(st, a);
                return;
            }
        };
        let var = &var;
        // The end of an iteration writes nothing: the variable keeps what
        // it held (`Py_CLEAR(key)` in the loop leaves it NULL after it).
        if outcome == Outcome::False
            && self
                .resolver
                .resolve(&self.callee_at(sref))
                .is_some_and(|r| r.contract.failure == Failure::End)
        {
            return;
        }
        // A call that failed leaves NULL even in an output that may be
        // NULL either way (`PyContextVar_Get` returning -1).
        let written = match effect {
            ArgEffect::OutNewMaybeNull => outcome != Outcome::Failure,
            _ => outcome.succeeded(),
        };
        if !written {
            let nb = Binding::Null(NullWhy::Failed(sref));
            self.bind(st, *var, nb, sref, span);
            return;
        }
        let Some(site) = Site::of_stmt(sref, SubPos::Out(i)) else {
            self.bind(st, *var, Binding::Unknown, sref, span);
            return;
        };
        self.bind(st, *var, Binding::Unknown, sref, span);
        if st.value(site).is_some() {
            self.escape_site(st, site);
        }
        let mut v = match effect {
            ArgEffect::OutBorrowed => {
                // May stay NULL (optional PyArg_ParseTuple outputs); a
                // required one is written.
                let callee = self.callee_at(sref);
                let required = self.stmt_at(sref).is_some_and(|s| match &s.kind {
                    StmtKind::Call { args, .. } => {
                        formats::required_outputs(self.resolver.facts(), &callee, args).contains(&i)
                    }
                    _ => false,
                });
                let mut v = ValueState::new(
                    site,
                    ValOrigin::OutBorrowed(sref, i as u8),
                    0,
                    if required {
                        Nullness::NonNull
                    } else {
                        Nullness::Maybe
                    },
                );
                // PyArg_Parse* outputs come from args or kwargs, which
                // outlive the call: no container to watch.
                if formats::format_api(self.resolver.facts(), &callee).is_none() {
                    v.owner = container;
                }
                v.volatile = self.is_volatile_item(&callee);
                v
            }
            // With an exception set, PyErr_Fetch's type is not NULL.
            ArgEffect::OutNewMaybeNull
                if st.exc == Exc::Set
                    && self
                        .resolver
                        .behaviour(&self.callee_at(sref))
                        .is_some_and(|b| b.nonnull_with_exception.contains(&i)) =>
            {
                ValueState::new(site, ValOrigin::OutNew(sref, i as u8), 1, Nullness::NonNull)
            }
            ArgEffect::OutNewMaybeNull => ValueState::new(
                site,
                ValOrigin::OutNew(sref, i as u8),
                1,
                Nullness::MaybeOut(sref),
            ),
            _ => ValueState::new(site, ValOrigin::OutNew(sref, i as u8), 1, Nullness::NonNull),
        };
        if !self.is_temp(*var) {
            v.name = Some(*var);
        }
        st.put_new_value(v);
        st.push_event(Ev::Created { stmt: sref, site });
        st.set_binding(*var, Binding::Obj(site));
    }

    /// `PyArg_ParseTuple(args, "O", &self->cb)`: a borrowed argument
    /// written straight into an object's field is a store into it, which
    /// a `Py_INCREF` must pay for (RS108 otherwise). Other outputs written
    /// through a field's address are forgotten.
    #[allow(clippy::too_many_arguments)]
    fn write_out_field(
        &mut self,
        st: &mut State,
        base: VarId,
        field: &str,
        i: usize,
        effect: ArgEffect,
        outcome: Outcome,
        sref: StmtRef,
        span: Span,
    ) {
        let place = Place::Field(base, field.to_string());
        let callee = self.callee_at(sref);
        let into_object = self.func.vars[base.index()].ty == TypeClass::Object
            && self.known_object_field(base, field);
        if effect != ArgEffect::OutBorrowed
            || !outcome.succeeded()
            || !into_object
            || formats::format_api(self.resolver.facts(), &callee).is_none()
        {
            self.havoc_out_arg(st, &Operand::AddrOf(place));
            return;
        }
        let Some(site) = Site::of_stmt(sref, SubPos::Out(i)) else {
            self.havoc_out_arg(st, &Operand::AddrOf(place));
            return;
        };
        if st.value(site).is_some() {
            self.escape_site(st, site);
        }
        let required = self.stmt_at(sref).is_some_and(|s| match &s.kind {
            StmtKind::Call { args, .. } => {
                formats::required_outputs(self.resolver.facts(), &callee, args).contains(&i)
            }
            _ => false,
        });
        if !required {
            // An optional output keeps the field's old value when the
            // argument is absent: what the field holds is not known.
            self.havoc_out_arg(st, &Operand::AddrOf(place.clone()));
        }
        let v = ValueState::new(
            site,
            ValOrigin::OutBorrowed(sref, i as u8),
            0,
            if required {
                Nullness::NonNull
            } else {
                Nullness::Maybe
            },
        );
        st.put_new_value(v);
        st.push_event(Ev::Created { stmt: sref, site });
        self.store(st, &place, Binding::Obj(site), sref, span);
    }

    pub(super) fn replace_in_place(
        &mut self,
        st: &mut State,
        a: &Operand,
        i: usize,
        outcome: Outcome,
        sref: StmtRef,
        span: Span,
    ) {
        let Operand::AddrOf(Place::Var(var)) = a else {
            self.havoc_out_arg(st, a);
            return;
        };
        // The old reference is released by the call.
        if let Binding::Obj(old) = st.binding(*var) {
            if let Some(v) = st.value(old).copied() {
                if v.owned > 0 {
                    if let Some(v) = st.value_mut(old) {
                        v.owned -= 1;
                        if v.owned == 0 && v.origin.is_new_kind() {
                            v.status = Status::Released(sref);
                        }
                    }
                } else if v.status == Status::Live && self.is_slot_item(st, old) {
                    // A container slot's reference replaced in place
                    // (`v = PyTuple_GET_ITEM(t, i); PyUnicode_InternInPlace(&v);
                    // PyTuple_SET_ITEM(t, i, v)`): fine if the slot is
                    // overwritten before the function returns.
                    if let Some(v) = st.value_mut(old) {
                        v.slot_released = Some(sref);
                        v.status = Status::Released(sref);
                    }
                } else if v.trackable()
                    && v.origin.is_borrowed_kind()
                    && !self.is_immortal_global(&v)
                {
                    let kind = Kind::ReleasedBorrowed {
                        value: self.describe(st, old),
                        why: self.why_borrowed(&v),
                        basis: self.borrow_basis(&v),
                        by: Release::ReplacedBy {
                            callee: self.callee_at(sref),
                        },
                    };
                    self.emit(st, kind, span, Some(old));
                    self.mark_reported(st, old);
                }
            }
        }
        st.set_binding(*var, Binding::Unknown);
        if !outcome.succeeded() {
            st.set_binding(*var, Binding::Null(NullWhy::Failed(sref)));
            return;
        }
        if let Some(site) = Site::of_stmt(sref, SubPos::Out(i)) {
            if st.value(site).is_some() {
                self.escape_site(st, site);
            }
            let mut v =
                ValueState::new(site, ValOrigin::OutNew(sref, i as u8), 1, Nullness::NonNull);
            if !self.is_temp(*var) {
                v.name = Some(*var);
            }
            st.put_new_value(v);
            st.push_event(Ev::Created { stmt: sref, site });
            st.set_binding(*var, Binding::Obj(site));
        }
    }

    /// The global of the file `sref` stores into.
    fn global_stored_at(&self, sref: StmtRef) -> Option<String> {
        match self.stmt_at(sref).map(|s| &s.kind) {
            Some(StmtKind::Store {
                place: Place::Global(g),
                ..
            }) => Some(g.clone()),
            _ => None,
        }
    }

    /// An item read from a scratch container (see `lending`).
    fn reads_lent_item(&self, sref: StmtRef) -> bool {
        match self.stmt_at(sref).map(|s| &s.kind) {
            Some(StmtKind::Call {
                callee: Callee::Named(n),
                args,
                ..
            }) => {
                matches!(args.first(), Some(Operand::Var(c)) if self.lending.contains(c))
                    && self.is_slot_getter(n)
            }
            _ => false,
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn bind_result(
        &mut self,
        st: &mut State,
        contract: &Contract,
        callee: &str,
        vals: &[Binding],
        dst: Option<VarId>,
        ret: RetVal,
        sref: StmtRef,
        span: Span,
    ) {
        // A type test of an object whose exact type the call that made it
        // gives decides itself (`PyBytes_Check` of an encoder's result).
        let tested = self
            .resolver
            .behaviour(callee)
            .and_then(|b| b.tests_type.as_deref());
        let ret = match (ret, tested) {
            (RetVal::Int(..) | RetVal::Unknown, Some(t)) => {
                match vals.first().and_then(|v| self.value_type(st, *v)) {
                    Some(made) if made == t => RetVal::Int(1, 1),
                    Some(_) => RetVal::Int(0, 0),
                    None => ret,
                }
            }
            _ => ret,
        };
        let ret = match (ret, dst.map(|d| self.func.vars[d.index()].ty)) {
            // A summarised pointer-returning helper: 0 is NULL, >= 1 non-NULL.
            (RetVal::Int(0, 0), Some(TypeClass::Pointer)) => RetVal::Null,
            (RetVal::Int(lo, _), Some(TypeClass::Pointer)) if lo >= 1 => RetVal::Ptr,
            (RetVal::Int(..), Some(TypeClass::Pointer | TypeClass::Object)) => RetVal::Unknown,
            (r, _) => r,
        };
        // PyModuleDef_Init returns the static definition itself, which the
        // import machinery treats specially: not a reference to track.
        let behaviour = self.resolver.behaviour(callee);
        let returns_type = behaviour.is_some_and(|b| b.returns_type);
        let ret = if behaviour.is_some_and(|b| b.untracked_result) || self.reads_lent_item(sref) {
            RetVal::Unknown
        } else {
            ret
        };
        let b = match ret {
            RetVal::Null => Binding::Null(NullWhy::Failed(sref)),
            RetVal::Int(lo, hi) => Binding::Int(lo, hi),
            RetVal::Ptr => Binding::Ptr,
            RetVal::Unknown => Binding::Unknown,
                                    RetVal::BorrowedRef | RetVal::NewRef if self.resolver.returns_arg(callee).is_some() => {
                // A helper that returns one of its arguments: the same object
                // (or something untracked when the argument is), with one
                // more reference when the helper returns a new one.
                match self.resolver.returns_arg(callee).and_then(|i| vals.get(i)) {
                    Some(b @ Binding::Obj(site)) => {
                        if ret == RetVal::NewRef {
                            if let Some(v) = st.value_mut(*site) {
                                v.owned += 1;
                                if matches!(v.status, Status::Stolen(_) | Status::Stored(_)) {
                                    v.status = Status::Live;
                                }
                            }
                            st.push_event(Ev::Incref {
                                stmt: sref,
                                site: *site,
                            });
                        }
                        *b
                    }
                    _ => Binding::Unknown,
                }
            }
            RetVal::BorrowedRef if contract.failure == Failure::Never && self.accessor_key(st, vals, callee).is_some_and(|(base, key)| matches!(st.field(base, key), Some(FieldVal::Obj(s)) if st.value(s).is_some())) => {
                // The same accessor on the same object and index: the same
                // item (`Py_INCREF(PyTuple_GET_ITEM(t, 0))` then use it again;
                // `Py_INCREF(Py_TYPE(self)); return (PyObject *)Py_TYPE(self);`).
                match self.accessor_key(st, vals, callee).and_then(|(base, key)| st.field(base, key)) {
                    Some(FieldVal::Obj(s)) => Binding::Obj(s),
                    _ => Binding::Unknown,
                }
            }
            RetVal::NewRef | RetVal::BorrowedRef => {
                let Some(site) = Site::of_stmt(sref, SubPos::Result) else {
                    if let Some(d) = dst {
                        self.bind(st, d, Binding::Unknown, sref, span);
                    }
                    return;
                };
                if st.value(site).is_some() {
                    // The value this call made in a previous loop iteration.
                    if let Some(d) = dst {
                        if st.binding(d) == Binding::Obj(site) {
                            self.bind(st, d, Binding::Unknown, sref, span);
                        }
                    }
                    if st.value(site).is_some() {
                        self.escape_site(st, site);
                    }
                }
                let v = if ret == RetVal::NewRef {
                    ValueState::new(site, ValOrigin::New(sref), 1, Nullness::NonNull)
                } else if returns_type {
                    // The object's reference to its type: like a field (a
                    // heap type's tp_dealloc releases it).
                    ValueState::new(site, ValOrigin::Field(sref), 0, Nullness::NonNull)
                } else {
                    let mut v =
                        ValueState::new(site, ValOrigin::Borrowed(sref), 0, Nullness::NonNull);
                    // Borrowed from the first object argument (the container).
                    v.owner = vals.iter().find_map(Binding::obj);
                                        v.volatile = self.is_volatile_item(callee);
                    v
                };
                if ret == RetVal::BorrowedRef && contract.failure == Failure::Never {
                    if let Some((base, key)) = self.accessor_key(st, vals, callee) {
                        st.set_field(base, key, FieldVal::Obj(site));
                    }
                }
                st.put_new_value(v);
                st.push_event(Ev::Created { stmt: sref, site });
                if dst.is_none() && ret == RetVal::NewRef && contract.failure != Failure::AlwaysNull
                {
                    let kind = Kind::Discarded {
                        callee: callee.to_string(),
                    };
                    self.emit(st, kind, span, Some(site));
                    st.remove_value(site);
                    return;
                }
                Binding::Obj(site)
            }
        };
        if let Some(d) = dst {
            self.bind(st, d, b, sref, span);
        }
    }
}

/// `UNBIND`, `CLEAR_SLOT2`: an all-capitals name is a macro by convention.
pub(super) fn looks_like_macro(name: &str) -> bool {
    name.bytes().any(|b| b.is_ascii_uppercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

pub(super) fn is_out(e: ArgEffect) -> bool {
    matches!(
        e,
        ArgEffect::OutNew
            | ArgEffect::OutNewMaybeNull
            | ArgEffect::OutBorrowed
            | ArgEffect::ReplaceInPlace
    )
}

/// What the destination of a call receives in one outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum RetVal {
    NewRef,
    BorrowedRef,
    Null,
    Int(i64, i64),
    Ptr,
    Unknown,
}

pub(super) fn outcomes_for(
    c: &Contract,
    dst_ty: Option<TypeClass>,
    success: (i64, i64),
) -> Vec<(Outcome, RetVal)> {
    let success_obj = match c.returns {
        Returns::New => RetVal::NewRef,
        Returns::Borrowed => RetVal::BorrowedRef,
        Returns::NotObject => match dst_ty {
            Some(TypeClass::Int) => RetVal::Int(i64::MIN, i64::MAX),
            Some(TypeClass::Pointer | TypeClass::Object | TypeClass::ObjectPtrPtr) => RetVal::Ptr,
            _ => RetVal::Unknown,
        },
        Returns::Void | Returns::Unknown => RetVal::Unknown,
    };
    let is_int = matches!(c.returns, Returns::NotObject | Returns::Unknown)
        && dst_ty != Some(TypeClass::Pointer);
    match c.failure {
        Failure::Never => vec![(Outcome::Only, success_obj)],
        Failure::Null | Failure::NullNoExc | Failure::NullMaybeExc => {
            let success = if success_obj == RetVal::Unknown && c.returns == Returns::NotObject {
                RetVal::Ptr
            } else {
                success_obj
            };
            vec![
                (Outcome::Success, success),
                (Outcome::Failure, RetVal::Null),
            ]
        }
        Failure::AlwaysNull => vec![(Outcome::Failure, RetVal::Null)],
        Failure::Negative if is_int => vec![
            (Outcome::Success, RetVal::Int(0, i64::MAX)),
            (Outcome::Failure, RetVal::Int(-1, -1)),
        ],
        Failure::NegTwo if is_int => vec![
            (Outcome::Success, RetVal::Int(-1, i64::MAX)),
            (Outcome::Failure, RetVal::Int(-2, -2)),
        ],
        Failure::NegOne if is_int => vec![
            (Outcome::Success, RetVal::Int(success.0, success.1)),
            (Outcome::Failure, RetVal::Int(-1, -1)),
        ],
        Failure::Zero if is_int => vec![
            (Outcome::Success, RetVal::Int(1, i64::MAX)),
            (Outcome::Failure, RetVal::Int(0, 0)),
        ],
        Failure::TriState if is_int => vec![
            (Outcome::Success, RetVal::Int(1, 1)),
            (Outcome::False, RetVal::Int(0, 0)),
            (Outcome::Failure, RetVal::Int(-1, -1)),
        ],
        // -1 is both a value and the error: the error outcome is -1 with an
        // exception, the other any value without.
        Failure::Ambiguous if is_int => vec![
            (Outcome::Success, RetVal::Int(i64::MIN, i64::MAX)),
            (Outcome::Failure, RetVal::Int(-1, -1)),
        ],
        Failure::Ambiguous => vec![(Outcome::Only, success_obj)],
        // The result ignored: the code knows an item is there
        // (`if (PyDict_GET_SIZE(d) == 1) { PyDict_Next(d, &pos, &k, &v); ...`).
        Failure::End if dst_ty.is_none() => vec![(Outcome::Success, RetVal::Int(1, i64::MAX))],
        Failure::End if is_int => vec![
            (Outcome::Success, RetVal::Int(1, i64::MAX)),
            (Outcome::False, RetVal::Int(0, 0)),
        ],
        // Object-returning contracts with int-style failure: treat as unknown.
        _ => vec![(Outcome::Only, success_obj)],
    }
}

/// What a callee may have written into the fields of local struct `v`
/// (its address was passed or stored): what this function stored there
/// itself (references it took or handed over) stays known.
pub(super) fn havoc_struct_fields(st: &mut State, v: VarId) {
    let key = FieldBase::var(v);
    if !st.fields.iter().any(|f| f.base == key) {
        return;
    }
    let keep: Vec<bool> = st
        .fields
        .iter()
        .map(|f| {
            f.base != key
                || matches!(f.val, FieldVal::Obj(s)
                    if st.value(s).is_some_and(|x| x.owned > 0
                        || x.shared
                        || matches!(x.status, Status::Stored(_))))
        })
        .collect();
    let mut it = keep.into_iter();
    st.fields.retain(|_| it.next().unwrap_or(true));
}
