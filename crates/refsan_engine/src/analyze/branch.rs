//! Terminators and branches: splitting or pruning states on a condition.

use super::*;

impl<'a> Analyzer<'a> {
    pub(super) fn exec_term(
        &mut self,
        mut st: State,
        b: BlockId,
        tref: StmtRef,
        block: &'a Block,
    ) -> Vec<(BlockId, State)> {
        let span = block.term_span;
        match &block.term {
            Terminator::Goto(t) => vec![(*t, st)],
            Terminator::Choose(ts) => ts.iter().map(|t| (*t, st.clone())).collect(),
            Terminator::Unreachable => Vec::new(),
            Terminator::Return(op) => {
                self.exec_return(st, tref, span, op.as_ref());
                Vec::new()
            }
            Terminator::Branch {
                cond,
                then_bb,
                else_bb,
                ..
            } => {
                let key = match cond {
                    Cond::IsNull(op) | Cond::Cmp(op, _, _) | Cond::Same(op, _) => match op {
                        Operand::Var(v) => Some(test_key(Some(*v), None)),
                        Operand::Field(v, f) => {
                            Some(test_key(Some(*v), Some(self.intern(&format!(".{f}")))))
                        }
                        _ => None,
                    },
                    Cond::ErrOccurred => Some(test_key(None, None)),
                    Cond::Unknown => None,
                };
                // A field is read (and remembered) before its test is
                // classified, as the branch reads it.
                if let Cond::Cmp(op @ Operand::Field(..), ..) = cond {
                    let _ = self.eval(&mut st, op, tref, 0);
                }
                // What the edges leave of the tested value, as a range.
                let edges: Option<((i64, i64), (i64, i64))> = match cond {
                    Cond::IsNull(_) => Some(((0, 0), (1, i64::MAX))),
                    Cond::ErrOccurred => Some(((1, i64::MAX), (0, 0))),
                    // A pointer compared with 0 is a NULL test.
                    Cond::Cmp(op, CmpOp::Ne, 0) if self.pointer_like(&st, op) => {
                        Some(((1, i64::MAX), (0, 0)))
                    }
                    Cond::Cmp(op, CmpOp::Eq, 0) if self.pointer_like(&st, op) => {
                        Some(((0, 0), (1, i64::MAX)))
                    }
                    Cond::Cmp(_, cmp, k) => {
                        let t = refine(i64::MIN, i64::MAX, *cmp, *k);
                        let e = refine(i64::MIN, i64::MAX, cmp.negate(), *k);
                        t.zip(e)
                    }
                    _ => None,
                };
                let known = key.and_then(|k| st.known(k));
                let cmp_is_null_test = matches!(cond, Cond::Cmp(op, CmpOp::Eq | CmpOp::Ne, 0)
                    if self.pointer_like(&st, op));
                // Whether what the code established rules out an edge.
                let decided = |then: bool| -> bool {
                    let Some(k) = known else { return false };
                    if k.trusted {
                        return true;
                    }
                    match (cond, edges) {
                        (Cond::Cmp(_, cmp, c), _) if !cmp_is_null_test => {
                            let op = if then { *cmp } else { cmp.negate() };
                            refine(k.lo, k.hi, op, *c).is_none()
                        }
                        (_, Some((t, e))) => {
                            let (l, h) = if then { t } else { e };
                            k.hi < l || h < k.lo
                        }
                        // `a == b` of two objects: decided once tested.
                        _ => true,
                    }
                };
                let (mut t, mut e) = self.branch(&mut st, cond, tref);
                // An edge the model of the code (a call's contract, the entry
                // state) rules out, not the code's own tests and constants.
                if t.is_none() && !decided(true) {
                    self.model_pruned[then_bb.index()] = true;
                }
                if e.is_none() && !decided(false) {
                    self.model_pruned[else_bb.index()] = true;
                }
                if let Some(k) = key {
                    let base = known.unwrap_or(Known::range(k, i64::MIN, i64::MAX));
                    let narrow = |r: (i64, i64)| {
                        if base.trusted {
                            base
                        } else {
                            Known::range(k, base.lo.max(r.0), base.hi.min(r.1))
                        }
                    };
                    match edges {
                        Some((tr, er)) => {
                            if let Some(s) = t.as_mut() {
                                s.set_known(narrow(tr));
                            }
                            if let Some(s) = e.as_mut() {
                                s.set_known(narrow(er));
                            }
                        }
                        None => {
                            for s in t.iter_mut().chain(e.iter_mut()) {
                                s.set_known(base);
                            }
                        }
                    }
                }
                // A validating predicate answered yes on the edge where its
                // result is not 0: the call it validates, with the same
                // arguments, cannot fail from there on.
                if let Cond::Cmp(Operand::Var(v), cmp, c) = cond {
                    if let Some(k) = self.validated_key(&st, *v) {
                        // The edge where 0 fails the comparison.
                        let zero_passes = refine(0, 0, *cmp, *c).is_some();
                        if let Some(s) = if zero_passes { e.as_mut() } else { t.as_mut() } {
                            s.set_known(Known::trusted(k));
                        }
                    }
                }
                let mut out = Vec::new();
                if let Some(mut s) = t {
                    s.push_event(Ev::Branch {
                        block: b,
                        taken: true,
                    });
                    out.push((*then_bb, s));
                }
                if let Some(mut s) = e {
                    s.push_event(Ev::Branch {
                        block: b,
                        taken: false,
                    });
                    out.push((*else_bb, s));
                }
                out
            }
        }
    }

    /// The fact a yes from the validating predicate whose answer `v` holds
    /// establishes (see `validators`).
    fn validated_key(&self, st: &State, v: VarId) -> Option<u64> {
        let (_, sref) = self.validators.iter().find(|(d, _)| *d == v)?;
        let StmtKind::Call {
            callee: Callee::Named(name),
            args,
            ..
        } = &self.stmt_at(*sref)?.kind
        else {
            return None;
        };
        let target = self.resolver.behaviour(name)?.validates.as_deref()?;
        self.validation_key(st, target, args)
    }

    /// `op` holds a pointer or an object (compared with 0, it is tested
    /// for NULL).
    fn pointer_like(&self, st: &State, op: &Operand) -> bool {
        match op {
            Operand::Var(v) => matches!(
                self.func.vars[v.index()].ty,
                TypeClass::Object | TypeClass::Pointer | TypeClass::ObjectPtrPtr
            ),
            Operand::Field(base, f) => {
                let key = self.base_key(st, *base);
                st.field(key, self.intern(&format!(".{f}"))).is_some()
            }
            _ => false,
        }
    }

    /// The states of the true and false edges (None = infeasible).
    pub(super) fn branch(
        &mut self,
        st: &mut State,
        cond: &Cond,
        tref: StmtRef,
    ) -> (Option<State>, Option<State>) {
        match cond {
            Cond::Unknown => (Some(st.clone()), Some(st.clone())),
            Cond::Same(a, b) => {
                let x = self.eval(st, a, tref, 0);
                let y = self.eval(st, b, tref, 1);
                let non_null = |b: Binding, st: &State| match b {
                    Binding::Ptr => true,
                    Binding::Obj(s) => st.value(s).is_some_and(|v| v.null == Nullness::NonNull),
                    _ => false,
                };
                // A fresh object (PyList_New...) is none of the objects that
                // existed before it.
                let fresh = |b: Binding, st: &State| match b {
                    Binding::Obj(s) => {
                        matches!(st.value(s).map(|v| v.origin), Some(ValOrigin::New(c)) if self.is_constructor(&self.callee_at(c)))
                    }
                    _ => false,
                };
                // `if (unicode != empty) {...} return empty;`: on the equal
                // branch a variable holding an unowned value becomes the
                // parameter it equals (one the function holds a reference to,
                // as when it is tried as stolen), so returning it returns the
                // parameter.
                let is_param = |b: Binding, st: &State| match b {
                    Binding::Obj(s) => st.value(s).is_some_and(|v| {
                        matches!(v.origin, ValOrigin::Param(_))
                            && v.owned > 0
                            && v.status == Status::Live
                    }),
                    _ => false,
                };
                let unowned = |b: Binding, st: &State| match b {
                    Binding::Obj(s) => st
                        .value(s)
                        .is_some_and(|v| v.owned <= 0 && !matches!(v.origin, ValOrigin::Param(_))),
                    Binding::Unknown | Binding::Ptr => true,
                    _ => false,
                };
                let rebind = match (a, b) {
                    (_, Operand::Var(var)) if x != y && is_param(x, st) && unowned(y, st) => {
                        Some((*var, x))
                    }
                    (Operand::Var(var), _) if x != y && is_param(y, st) && unowned(x, st) => {
                        Some((*var, y))
                    }
                    _ => None,
                };
                if let Some((var, to)) = rebind {
                    let mut t = st.clone();
                    t.set_binding(var, to);
                    return (Some(t), Some(st.clone()));
                }
                // A field compared with what was read from it or stored in
                // it before: code run in between (a call, a finalizer the
                // allocator ran, a reentrant call through `type->mro()`) may
                // have changed it; the code tests exactly that.
                let on_field = matches!(a, Operand::Field(..)) || matches!(b, Operand::Field(..));
                let may_have_changed = |b: Binding, st: &State| match b {
                    Binding::Obj(s) => {
                        on_field
                            || matches!(st.value(s).map(|v| v.origin), Some(ValOrigin::Field(_)))
                    }
                    _ => false,
                };
                // `w = v; PyUnicode_InternInPlace(&v); if (w != v) ...`: on the
                // equal edge the call gave back the object it was given, so
                // its release of the old reference and the new one cancel.
                let replaced = |old: Binding, new: Binding, st: &State| -> Option<(Site, Site)> {
                    let (Binding::Obj(o), Binding::Obj(n)) = (old, new) else {
                        return None;
                    };
                    let (ov, nv) = (st.value(o)?, st.value(n)?);
                    match (ov.status, nv.origin) {
                        (Status::Released(s), ValOrigin::OutNew(t, _))
                            if s == t && nv.owned > 0 =>
                        {
                            Some((o, n))
                        }
                        _ => None,
                    }
                };
                if let Some((o, n)) = replaced(x, y, st).or_else(|| replaced(y, x, st)) {
                    let mut t = st.clone();
                    let was_borrowed = t
                        .value(o)
                        .is_some_and(|v| v.slot_released.is_some() || v.owned <= 0);
                    if let Some(v) = t.value_mut(o) {
                        v.status = Status::Live;
                        v.slot_released = None;
                        if !was_borrowed {
                            v.owned += 1;
                        }
                    }
                    // One object: the variables holding the new value hold
                    // the old one.
                    let holders: Vec<u32> = t
                        .vars
                        .iter()
                        .filter(|(_, b)| *b == Binding::Obj(n))
                        .map(|(k, _)| *k)
                        .collect();
                    for k in holders {
                        t.set_binding(VarId(k), Binding::Obj(o));
                    }
                    if let Some(v) = t.value_mut(n) {
                        v.owned -= 1;
                        v.status = Status::Escaped;
                    }
                    return (Some(t), Some(st.clone()));
                }
                // A value found identical to a singleton (`res == Py_True`)
                // is that singleton on the equal edge.
                let singleton_of = |op: &Operand, b: Binding, st: &State| -> Option<NameId> {
                    match (op, b) {
                        (Operand::Global(g), _) if self.resolver.is_singleton(g) => {
                            Some(self.intern(g))
                        }
                        (_, Binding::Obj(s)) => match st.value(s).map(|v| v.origin) {
                            Some(ValOrigin::Global(n))
                                if self.resolver.is_singleton(&self.name_of(n)) =>
                            {
                                Some(n)
                            }
                            _ => None,
                        },
                        _ => None,
                    }
                };
                let alias = match (x, y) {
                    (Binding::Obj(p), Binding::Obj(q)) if p != q => singleton_of(b, y, st)
                        .map(|n| (p, n))
                        .or_else(|| singleton_of(a, x, st).map(|n| (q, n))),
                    _ => None,
                };
                if let Some((site, name)) = alias {
                    let tracked = st
                        .value(site)
                        .is_some_and(|v| !matches!(v.origin, ValOrigin::Global(_)))
                        && !fresh(Binding::Obj(site), st);
                    if tracked {
                        let mut t = st.clone();
                        let mut owned = false;
                        if let Some(v) = t.value_mut(site) {
                            v.singleton = Some(name);
                            v.null = Nullness::NonNull;
                            owned = v.owned > 0;
                        }
                        // The singleton's name stands for the reference the
                        // value holds: `if (r == Py_False) Py_DECREF(Py_False);`
                        // releases it.
                        if owned {
                            t.set_field(FieldBase::GLOBALS, name, FieldVal::Obj(site));
                        }
                        return (Some(t), Some(st.clone()));
                    }
                }
                // `assert(PyNumber_InPlaceOr(ob, dup) == ob); Py_DECREF(ob);`:
                // on the equal edge the new reference only a temporary holds
                // is a reference to `ob`: `ob`'s to release.
                let temp_owned = |op: &Operand, b: Binding, st: &State| match (op, b) {
                    (Operand::Var(v), Binding::Obj(s)) if self.is_temp(*v) => {
                        st.ref_count(s) == 1
                            && st
                                .value(s)
                                .is_some_and(|v| v.owned > 0 && v.status == Status::Live)
                    }
                    _ => false,
                };
                let lent = |b: Binding, st: &State| match b {
                    Binding::Obj(s) => st.value(s).is_some_and(|v| v.owned <= 0),
                    _ => false,
                };
                let identity = match (x, y) {
                    (Binding::Obj(p), Binding::Obj(q))
                        if p != q && temp_owned(a, x, st) && lent(y, st) =>
                    {
                        Some((q, x))
                    }
                    (Binding::Obj(p), Binding::Obj(q))
                        if p != q && temp_owned(b, y, st) && lent(x, st) =>
                    {
                        Some((p, y))
                    }
                    _ => None,
                };
                if let Some((lent_site, Binding::Obj(owned))) = identity {
                    let mut t = st.clone();
                    if let Some(v) = t.value_mut(lent_site) {
                        v.owned += 1;
                    }
                    if let Some(v) = t.value_mut(owned) {
                        v.owned -= 1;
                        v.status = Status::Escaped;
                    }
                    return (Some(t), Some(st.clone()));
                }
                match (x, y) {
                    (Binding::Obj(p), Binding::Obj(q)) if p == q && may_have_changed(x, st) => {
                        // Where they differ, the field holds something else
                        // now: read it afresh.
                        let mut e = st.clone();
                        for op in [a, b] {
                            if let Operand::Field(base, f) = op {
                                let key = self.base_key(&e, *base);
                                let fid = self.intern(&format!(".{f}"));
                                e.clear_field(key, fid);
                            }
                        }
                        (Some(st.clone()), Some(e))
                    }
                    (Binding::Obj(p), Binding::Obj(q)) if p == q => (Some(st.clone()), None),
                    (Binding::Obj(p), Binding::Obj(q))
                        if p != q && (fresh(x, st) || fresh(y, st)) =>
                    {
                        (None, Some(st.clone()))
                    }
                    (Binding::Null(_), Binding::Null(_)) => (Some(st.clone()), None),
                    (Binding::Null(_), o) | (o, Binding::Null(_)) if non_null(o, st) => {
                        (None, Some(st.clone()))
                    }
                    _ => (Some(st.clone()), Some(st.clone())),
                }
            }
            Cond::ErrOccurred => match st.exc {
                Exc::Set => (Some(st.clone()), None),
                Exc::Clear if !st.exc_unseen => (None, Some(st.clone())),
                Exc::Clear | Exc::Unknown => {
                    st.exc_unseen = false;
                    let mut t = st.clone();
                    t.exc = Exc::Set;
                    let mut e = st.clone();
                    e.exc = Exc::Clear;
                    (Some(t), Some(e))
                }
            },
            Cond::IsNull(op) => {
                let b = self.eval(st, op, tref, 0);
                self.branch_null(st, op, b, tref)
            }
            Cond::Cmp(op, cmp, k) => {
                let mut b = self.eval(st, op, tref, 0);
                // An integer variable nothing is known about yet: refine it, so
                // a later test of the same variable follows this one.
                if let (Binding::Unknown, Operand::Var(v)) = (b, op) {
                    if self.func.vars[v.index()].ty == TypeClass::Int {
                        b = Binding::Int(i64::MIN, i64::MAX);
                    }
                }
                match b {
                    Binding::Int(lo, hi) => {
                        let t = refine(lo, hi, *cmp, *k);
                        let e = refine(lo, hi, cmp.negate(), *k);
                        let mk = |r: Option<(i64, i64)>| {
                            r.map(|(l, h)| {
                                let mut s = st.clone();
                                if let Operand::Var(v) = op {
                                    s.set_binding(*v, Binding::Int(l, h));
                                }
                                s
                            })
                        };
                        (mk(t), mk(e))
                    }
                    Binding::Obj(_) | Binding::Null(_) | Binding::Ptr
                        if *k == 0 && matches!(cmp, CmpOp::Eq | CmpOp::Ne) =>
                    {
                        let (isnull, notnull) = self.branch_null(st, op, b, tref);
                        if *cmp == CmpOp::Eq {
                            (isnull, notnull)
                        } else {
                            (notnull, isnull)
                        }
                    }
                    _ => (Some(st.clone()), Some(st.clone())),
                }
            }
        }
    }

    pub(super) fn branch_null(
        &mut self,
        st: &mut State,
        op: &Operand,
        b: Binding,
        tref: StmtRef,
    ) -> (Option<State>, Option<State>) {
        match b {
            Binding::Null(_) => (Some(st.clone()), None),
            Binding::Ptr => (None, Some(st.clone())),
            Binding::Int(lo, hi) => {
                let t = refine(lo, hi, CmpOp::Eq, 0).map(|_| st.clone());
                let e = refine(lo, hi, CmpOp::Ne, 0).map(|_| st.clone());
                (t, e)
            }
            Binding::Unknown => {
                let mut t = st.clone();
                let mut e = st.clone();
                if let Operand::Var(v) = op {
                    t.set_binding(*v, Binding::Null(NullWhy::Checked(tref)));
                    // A plain pointer (`PyObject **pdiv`) found not NULL: a
                    // later test of it, unchanged, follows this one.
                    if matches!(
                        self.func.vars[v.index()].ty,
                        TypeClass::Pointer | TypeClass::ObjectPtrPtr
                    ) {
                        e.set_binding(*v, Binding::Ptr);
                    }
                }
                // NULL from something refsan does not model: whether an
                // exception came with it is not known.
                if t.exc == Exc::Clear {
                    t.exc = Exc::Unknown;
                }
                (Some(t), Some(e))
            }
            Binding::Obj(site) => {
                let Some(v) = st.value(site).copied() else {
                    return (Some(st.clone()), Some(st.clone()));
                };
                if v.null == Nullness::NonNull {
                    return (None, Some(st.clone()));
                }
                let mut t = st.clone();
                t.replace_binding(site, Binding::Null(NullWhy::Checked(tref)));
                self.outputs_null_with(&mut t, v.origin, tref);
                // A field or parameter found NULL: it may carry an exception
                // from code refsan did not see.
                if matches!(v.origin, ValOrigin::Field(_)) && t.exc == Exc::Clear {
                    t.exc = Exc::Unknown;
                }
                for f in &mut t.fields {
                    if f.val == FieldVal::Obj(site) {
                        f.val = FieldVal::Null(tref);
                    }
                }
                if !matches!(v.origin, ValOrigin::Param(_)) {
                    t.remove_value(site);
                } else if let Some(pv) = t.value_mut(site) {
                    pv.owned = 0;
                    pv.null = Nullness::NonNull;
                    pv.status = Status::Escaped;
                }
                let mut e = st.clone();
                if let Some(v) = e.value_mut(site) {
                    v.null = Nullness::NonNull;
                }
                (Some(t), Some(e))
            }
        }
    }

    /// An output found NULL that means the call wrote NULL to every output
    /// (`PyErr_Fetch`'s type): its other outputs are NULL on this path.
    fn outputs_null_with(&self, st: &mut State, origin: ValOrigin, tref: StmtRef) {
        let ValOrigin::OutNew(call, i) = origin else {
            return;
        };
        let callee = self.callee_at(call);
        if !self
            .resolver
            .behaviour(&callee)
            .is_some_and(|b| b.outputs_null_with.contains(&usize::from(i)))
        {
            return;
        }
        let others: Vec<Site> = st
            .values
            .iter()
            .filter(|w| matches!(w.origin, ValOrigin::OutNew(c, j) if c == call && j != i))
            .filter(|w| w.null == Nullness::MaybeOut(call))
            .map(|w| w.site)
            .collect();
        for other in others {
            st.replace_binding(other, Binding::Null(NullWhy::Checked(tref)));
            st.remove_value(other);
        }
    }
}

pub(super) fn refine(lo: i64, hi: i64, cmp: CmpOp, k: i64) -> Option<(i64, i64)> {
    let (l, h) = match cmp {
        CmpOp::Eq => (lo.max(k), hi.min(k)),
        CmpOp::Ne => {
            if lo == k && hi == k {
                return None;
            } else if lo == k {
                (k.saturating_add(1), hi)
            } else if hi == k {
                (lo, k.saturating_sub(1))
            } else {
                (lo, hi)
            }
        }
        CmpOp::Lt => (lo, hi.min(k.saturating_sub(1))),
        CmpOp::Le => (lo, hi.min(k)),
        CmpOp::Gt => (lo.max(k.saturating_add(1)), hi),
        CmpOp::Ge => (lo.max(k), hi),
    };
    (l <= h).then_some((l, h))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refine_ranges() {
        assert_eq!(refine(-1, -1, CmpOp::Lt, 0), Some((-1, -1)));
        assert_eq!(refine(0, i64::MAX, CmpOp::Lt, 0), None);
        assert_eq!(refine(0, 1, CmpOp::Ne, 0), Some((1, 1)));
        assert_eq!(refine(0, 0, CmpOp::Ne, 0), None);
        assert_eq!(refine(i64::MIN, i64::MAX, CmpOp::Eq, -1), Some((-1, -1)));
    }
}
