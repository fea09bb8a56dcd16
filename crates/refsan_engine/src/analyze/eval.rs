//! Operands and bindings: what an operand evaluates to in a state, fields
//! and globals, and the leak check when a variable loses its value.

use super::*;

impl<'a> Analyzer<'a> {
    pub(super) fn base_key(&self, st: &State, base: VarId) -> FieldBase {
        match st.binding(base) {
            Binding::Obj(site) => FieldBase::value(site),
            _ => FieldBase::var(base),
        }
    }

    pub(super) fn global_value(&self, st: &mut State, name: &str) -> Binding {
        // A global this function stored to: what it stored.
        if !name.starts_with('&') {
            match st.field(FieldBase::GLOBALS, self.intern(name)) {
                // A singleton's name stands for a value found to be it only
                // while that reference is held.
                Some(FieldVal::Obj(s))
                    if st
                        .value(s)
                        .is_some_and(|v| v.singleton.is_none() || v.status == Status::Live) =>
                {
                    return Binding::Obj(s)
                }
                Some(FieldVal::Null(s)) => return Binding::Null(NullWhy::Literal(s)),
                Some(FieldVal::Ptr) => return Binding::Ptr,
                Some(FieldVal::Unknown) => return Binding::Unknown,
                _ => {}
            }
        }
        let bare = name.trim_start_matches('&');
        let kind = self.resolver.global_kind(bare);
        let is_object = match kind {
            Some(crate::facts::GlobalKind::HoldsObject) => !name.starts_with('&'),
            Some(crate::facts::GlobalKind::IsObject) => {
                name.starts_with('&') || self.resolver.is_singleton(bare)
            }
            None => false,
        };
        if !is_object {
            return if name.starts_with('&') {
                Binding::Ptr
            } else {
                Binding::Unknown
            };
        }
        let id = self.intern(name);
        let site = Site::global(id);
        if st.value(site).is_none() {
            let bare = name.trim_start_matches('&');
            let nonnull = name.starts_with('&')
                || matches!(
                    self.resolver.facts().object(bare),
                    Some(GlobalObject::Singleton { .. } | GlobalObject::Exception)
                );
            let null = if nonnull {
                Nullness::NonNull
            } else {
                Nullness::Maybe
            };
            st.put_value(ValueState::new(site, ValOrigin::Global(id), 0, null));
        }
        Binding::Obj(site)
    }

    /// Evaluates an operand; `idx` distinguishes field reads of one statement.
    pub(super) fn eval(&self, st: &mut State, op: &Operand, sref: StmtRef, idx: usize) -> Binding {
        match op {
            Operand::Var(v) => st.binding(*v),
            Operand::Null => Binding::Null(NullWhy::Literal(sref)),
            Operand::Int(k) => Binding::Int(*k, *k),
            Operand::Str(_) => Binding::Ptr,
            Operand::Global(name) => {
                if name == "NULL" {
                    Binding::Null(NullWhy::Literal(sref))
                } else {
                    self.global_value(st, name)
                }
            }
            Operand::AddrOf(Place::Global(name)) => self.global_value(st, &format!("&{name}")),
            Operand::AddrOf(_) => Binding::Ptr,
            Operand::Opaque => Binding::Unknown,
            Operand::Field(base, field) => {
                let key = self.base_key(st, *base);
                let fid = self.intern(&format!(".{field}"));
                if self.known_non_object_field(*base, field) {
                    // No object, but a NULL or a pointer this function
                    // stored there, or the integer range the code
                    // established, still decides the tests of it.
                    return match st.field(key, fid) {
                        Some(FieldVal::Null(s)) => Binding::Null(NullWhy::Literal(s)),
                        Some(FieldVal::Ptr) => Binding::Ptr,
                        _ => match st.known(test_key(Some(*base), Some(fid))) {
                            Some(k) if !k.trusted => Binding::Int(k.lo, k.hi),
                            _ => Binding::Unknown,
                        },
                    };
                }
                if field != "[]" {
                    match st.field(key, fid) {
                        // Unless Python code may have rebound the field since
                        // it was read (RS110): then it is read anew.
                        Some(FieldVal::Obj(site))
                            if st.value(site).is_some_and(|v| {
                                !(v.volatile
                                    && v.exposed.is_some()
                                    && v.owned <= 0
                                    && matches!(v.origin, ValOrigin::Field(_)))
                            }) =>
                        {
                            return Binding::Obj(site)
                        }
                        Some(FieldVal::Null(s)) => return Binding::Null(NullWhy::Literal(s)),
                        Some(FieldVal::Ptr) => return Binding::Ptr,
                        Some(FieldVal::Unknown) => return Binding::Unknown,
                        _ => {}
                    }
                }
                // A field of a struct the function holds by value (`Result
                // r = read(...); return r.chunk;`) belongs to no object: what
                // it holds is whatever the struct was given, owned or not.
                let var = &self.func.vars[base.index()];
                if var.kind == VarKind::Local
                    && var.ty == TypeClass::Other
                    && !var.c_type.contains(['*', '['])
                {
                    return Binding::Unknown;
                }
                let Some(site) = Site::of_stmt(sref, SubPos::Field(idx)) else {
                    return Binding::Unknown;
                };
                let existing = st.value(site).copied();
                let mut key = key;
                if let Some(v) = existing {
                    if st.ref_count(site) > 0 || v.owned > 0 {
                        // A previous loop iteration's value: it is another
                        // object now; stop tracking the old one (the base
                        // may have been it: `obj = obj->next` in a loop).
                        self.escape_site(st, site);
                        key = self.base_key(st, *base);
                    }
                }
                let mut v = ValueState::new(site, ValOrigin::Field(sref), 0, Nullness::Maybe);
                if self.cleared_elsewhere(st, *base, field).is_some() {
                    // Another method may have set it to NULL (`close()`).
                    v.null = Nullness::MaybeOut(sref);
                }
                if let Binding::Obj(bsite) = st.binding(*base) {
                    v.owner = Some(bsite);
                }
                v.volatile = field != "[]" && self.field_can_change(st, *base, field);
                st.put_new_value(v);
                st.push_event(Ev::Created { stmt: sref, site });
                if field == "[]" {
                    if let Some(v) = st.value_mut(site) {
                        v.array_item = true;
                    }
                } else {
                    st.set_field(key, fid, FieldVal::Obj(site));
                }
                Binding::Obj(site)
            }
        }
    }

    /// The memo slot of a borrowed accessor call (`PyTuple_GET_ITEM(t, 0)`):
    /// the container's site and the callee with its constant arguments.
    pub(super) fn accessor_key(
        &self,
        _st: &State,
        vals: &[Binding],
        callee: &str,
    ) -> Option<(FieldBase, NameId)> {
        let base = vals.first()?.obj()?;
        let mut key = format!("#{callee}");
        for b in &vals[1..] {
            match b {
                Binding::Int(lo, hi) if lo == hi => key.push_str(&format!(",{lo}")),
                Binding::Obj(s) => key.push_str(&format!(",o{}", s.raw())),
                _ => return None,
            }
        }
        Some((FieldBase::value(base), self.intern(&key)))
    }

    /// `PyList_SET_ITEM(l, i, v)` overwrites the slot `PyList_GET_ITEM(l, i)`
    /// read before: the slot's reference to the old item is the caller's
    /// now (it must release it), and a release made earlier is justified.
    pub(super) fn slot_overwrite(
        &self,
        st: &mut State,
        callee: &str,
        args: &[Operand],
        vals: &[Binding],
    ) {
        let Some(getters) = self
            .resolver
            .behaviour(callee)
            .map(|b| &b.overwrites_slot_of)
            .filter(|g| !g.is_empty())
        else {
            return;
        };
        // The slot is named by every argument but the last, the new item.
        let Some((new_item, slot)) = vals.split_last().filter(|(_, s)| !s.is_empty()) else {
            return;
        };
        let new_item = new_item.obj();
        let mut found = false;
        for get in getters {
            let Some((base, key)) = self.accessor_key(st, slot, get) else {
                continue;
            };
            if let Some(FieldVal::Obj(old)) = st.field(base, key) {
                found = true;
                if let Some(v) = st.value_mut(old) {
                    v.left_slot = true;
                    if v.slot_released.is_some() {
                        v.slot_released = None;
                    } else if v.status == Status::Live && new_item != Some(old) {
                        v.owned += 1;
                    }
                }
                st.clear_field(base, key);
            }
        }
        // The index is not a known constant (`PyTuple_SET_ITEM(t, i, x)` in
        // a loop): the slot is the one item read from this container, if
        // there is exactly one.
        if found {
            return;
        }
        // A container the analysis does not track (made by a function it
        // does not know): the item read with the same container and index
        // expressions.
        let same_operands = |s: StmtRef| match self.stmt_at(s).map(|s| &s.kind) {
            Some(StmtKind::Call { args: got, .. }) => {
                got.len() == slot.len() && args.get(..slot.len()) == Some(got)
            }
            _ => false,
        };
        let container = vals[0].obj();
        let candidates: Vec<Site> = st
            .values
            .iter()
            .filter(|v| v.owned <= 0 && !v.left_slot && Some(v.site) != new_item)
            .filter(|v| match (container, v.origin) {
                (Some(c), _) => v.owner == Some(c),
                (None, ValOrigin::Borrowed(s)) => v.owner.is_none() && same_operands(s),
                (None, _) => false,
            })
            .filter(|v| matches!(v.origin, ValOrigin::Borrowed(s) if self.is_slot_getter(&self.callee_at(s))))
            .filter(|v| v.status == Status::Live || v.slot_released.is_some())
            .map(|v| v.site)
            .collect();
        // Several items read from it (one per branch or loop iteration):
        // the one read with the same expressions.
        let read_alike = |site: &&Site| {
            st.value(**site)
                .is_some_and(|v| matches!(v.origin, ValOrigin::Borrowed(s) if same_operands(s)))
        };
        let alike: Vec<Site> = match candidates[..] {
            [_, _, ..] => candidates.iter().filter(read_alike).copied().collect(),
            _ => candidates,
        };
        if let [old] = alike[..] {
            if let Some(v) = st.value_mut(old) {
                v.left_slot = true;
                if v.slot_released.is_some() {
                    v.slot_released = None;
                } else {
                    v.owned += 1;
                }
            }
        }
    }

    /// A borrowed accessor result (`PyTuple_GET_ITEM(t, i)`) still in its
    /// container's slot.
    /// A borrowed item a container slot still holds (`PyTuple_GET_ITEM(t,
    /// i)`): releasing it is fine if the slot is overwritten later.
    pub(super) fn is_slot_item(&self, st: &State, site: Site) -> bool {
        let Some(v) = st.value(site) else {
            return false;
        };
        matches!(v.origin, ValOrigin::Borrowed(b)
            if self.in_accessor_slot(st, site)
                || (v.owner.is_some() && self.is_slot_getter(&self.callee_at(b))))
    }

    /// In a tp_dealloc, a borrowed reference read from the dying object
    /// itself (`PyInstanceMethod_GET_FUNCTION(self)`): the object's own
    /// reference, which the dealloc releases.
    pub(super) fn dying_self_owns(&self, st: &State, v: &ValueState) -> bool {
        self.expect.dealloc
            && v.owner
                .and_then(|o| st.value(o))
                .is_some_and(|o| o.origin == ValOrigin::Param(0))
    }

    pub(super) fn in_accessor_slot(&self, st: &State, site: Site) -> bool {
        st.fields
            .iter()
            .any(|f| f.val == FieldVal::Obj(site) && self.name_of(f.field).starts_with('#'))
    }

    /// `base->field` holds an object that Python code run by a call can
    /// replace (and free): a field of one of the project's object structs
    /// that functions Python can call write, of an object Python can reach
    /// (not one this function just made, not in a constructor or
    /// deallocator).
    fn field_can_change(&self, st: &State, base: VarId, field: &str) -> bool {
        if !self.resolver.field_rebindable(field) || self.resolver.runs_unreachable(&self.func.name)
        {
            return false;
        }
        let c_type = &self.func.vars[base.index()].c_type;
        let own_object_field = self
            .module
            .and_then(|m| m.struct_named(c_type))
            .is_some_and(|s| {
                s.is_object
                    && s.fields
                        .iter()
                        .any(|f| f.name == field && f.ty == TypeClass::Object)
            });
        if !own_object_field {
            return false;
        }
        match st.binding(base) {
            Binding::Obj(site) => st.value(site).is_none_or(|v| !self.made_here(v)),
            _ => true,
        }
    }

    /// In a method, getter or setter, a field of `self` that another
    /// method or setter of the type sets to NULL: that function and line.
    pub(super) fn cleared_elsewhere(
        &self,
        st: &State,
        base: VarId,
        field: &str,
    ) -> Option<(&'a str, u32)> {
        if !self.expect.live_self {
            return None;
        }
        let p0 = *self.func.params.first()?;
        let is_self = base == p0
            || matches!(st.binding(base), Binding::Obj(s) if st.binding(p0) == Binding::Obj(s));
        if !is_self {
            return None;
        }
        if self.state_tested {
            return None;
        }
        let s = self
            .module?
            .struct_named(&self.func.vars[base.index()].c_type)?;
        let (by, line) = self.resolver.member_cleared_by(s.names.first()?, field)?;
        (by != self.func.name).then_some((by, line))
    }

    /// `base->field` where the struct is defined in the file, or is one of
    /// the interpreter's, and the field is a `PyObject *`.
    pub(super) fn known_object_field(&self, base: VarId, field: &str) -> bool {
        let c_type = &self.func.vars[base.index()].c_type;
        match self.module.and_then(|m| m.struct_named(c_type)) {
            Some(s) => s
                .fields
                .iter()
                .any(|f| f.name == field && f.ty == TypeClass::Object),
            None => self.api_field_is_object(c_type, field) == Some(true),
        }
    }

    /// `base->field` where the struct is defined in the file, or is one of
    /// the interpreter's, and the field is not a `PyObject *`.
    pub(super) fn known_non_object_field(&self, base: VarId, field: &str) -> bool {
        if field == "[]" {
            return false;
        }
        let c_type = &self.func.vars[base.index()].c_type;
        match self.module.and_then(|m| m.struct_named(c_type)) {
            Some(s) => s
                .fields
                .iter()
                .any(|f| f.name == field && f.ty != TypeClass::Object),
            None => self.api_field_is_object(c_type, field) == Some(false),
        }
    }

    /// What the knowledge base says of `field` of the interpreter's struct
    /// that `c_type` points to (`PyTypeObject *`).
    fn api_field_is_object(&self, c_type: &str, field: &str) -> Option<bool> {
        self.resolver
            .facts()
            .struct_field_is_object(struct_name(c_type), field)
    }

    pub(super) fn escape_site(&self, st: &mut State, site: Site) {
        st.replace_binding(site, Binding::Unknown);
        st.fields.retain(|f| f.val != FieldVal::Obj(site));
        st.remove_value(site);
    }

    pub(super) fn is_immortal_global(&self, v: &ValueState) -> bool {
        if let ValOrigin::Global(id) = v.origin {
            let n = self.name_of(id);
            if let Some(GlobalObject::Singleton { immortal_since }) =
                self.resolver.facts().object(n.trim_start_matches('&'))
            {
                return self.opts.target >= immortal_since;
            }
        }
        false
    }

    pub(super) fn is_singleton_value(&self, v: &ValueState) -> bool {
        match v.origin {
            ValOrigin::Global(id) => self.resolver.is_singleton(&self.name_of(id)),
            _ => false,
        }
    }

    /// Binds `dst`, reporting a leak when its old value was the last owner.
    pub(super) fn bind(
        &mut self,
        st: &mut State,
        dst: VarId,
        b: Binding,
        sref: StmtRef,
        span: Span,
    ) {
        let old = st.binding(dst);
        // Fields read through this variable while it held something untracked
        // belong to that old pointer (a loop's `p = *pp`): an unknown pointer
        // assigned again may be another one.
        if old != b || !matches!(b, Binding::Obj(_)) {
            forget_var_fields(st, dst);
        }
        if old == b {
            return;
        }
        st.set_binding(dst, b);
        if let Binding::Obj(site) = old {
            self.check_lost(st, site, span, LostHow::Overwrite(dst));
        }
        if let Binding::Obj(site) = b {
            if !self.is_temp(dst) {
                if let Some(v) = st.value_mut(site) {
                    if v.name.is_none() {
                        v.name = Some(dst);
                    }
                }
                let _ = sref;
            }
        }
    }

    /// Reports a leak when `site` is owned and nothing refers to it any more.
    pub(super) fn check_lost(&mut self, st: &mut State, site: Site, span: Span, how: LostHow) {
        let Some(v) = st.value(site).copied() else {
            return;
        };
        if v.owned <= 0 || v.status != Status::Live || !v.trackable() || st.ref_count(site) > 0 {
            return;
        }
        // A module-level object stays alive anyway: an extra reference to it
        // is never a leak worth reporting.
        if matches!(v.origin, ValOrigin::Global(_)) || v.shared || v.array_item {
            return;
        }
        if matches!(v.origin, ValOrigin::Param(_)) {
            // A parameter the function was given ownership of: leak too.
        }
        let how = match how {
            LostHow::Temp => Lost::Temp {
                callee: match v.origin {
                    ValOrigin::New(s) | ValOrigin::OutNew(s, _) => self.callee_at(s),
                    _ => "the call".to_string(),
                },
            },
            LostHow::Overwrite(var) => Lost::Overwrite {
                var: self.var_name(var).to_string(),
            },
        };
        let kind = self.lost(st, site, &v, how);
        self.emit(st, kind, span, Some(site));
        if let Some(v) = st.value_mut(site) {
            v.reported = true;
            v.owned = 0;
        }
    }
}
