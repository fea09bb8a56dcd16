//! Stores into fields, globals and through pointers: where a reference
//! moves to, and the borrowed references stored without one of their own.

use super::*;

impl<'a> Analyzer<'a> {
    pub(super) fn store(
        &mut self,
        st: &mut State,
        place: &Place,
        b: Binding,
        sref: StmtRef,
        span: Span,
    ) {
        // Update what we know the place holds.
        let (transfer, place_text) = match place {
            Place::Var(v) => {
                self.bind(st, *v, b, sref, span);
                return;
            }
            Place::Field(base, f) => {
                let key = self.base_key(st, *base);
                let fid = self.intern(&format!(".{f}"));
                let old = st.field(key, fid);
                let object_base = self.func.vars[base.index()].ty == TypeClass::Object;
                let known_object_field = self.known_object_field(*base, f);
                if let Some(FieldVal::Obj(old_site)) = old {
                    if let Some(v) = st.value_mut(old_site) {
                        if v.field_stolen.is_some() {
                            // The field's reference was handed to a stealing
                            // call before: the transfer is complete.
                            v.field_stolen = None;
                        } else if object_base
                            && b != Binding::Obj(old_site)
                            && matches!(v.status, Status::Live | Status::Stored(_))
                            && f != "[]"
                            && (!matches!(v.origin, ValOrigin::Field(_)) || known_object_field)
                        {
                            // The field's reference to its old value is ours
                            // now (`old = self->x; self->x = new; Py_DECREF(old)`).
                            v.owned += 1;
                            v.status = Status::Live;
                        }
                    }
                }
                if old.is_none() {
                    self.check_overwrite(st, *base, f, b, sref, span);
                }
                match b {
                    Binding::Obj(site) => st.set_field(key, fid, FieldVal::Obj(site)),
                    Binding::Null(_) => st.set_field(key, fid, FieldVal::Null(sref)),
                    Binding::Ptr => st.set_field(key, fid, FieldVal::Ptr),
                    _ => st.clear_field(key, fid),
                }
                let base_var = &self.func.vars[base.index()];
                if base_var.kind == VarKind::Local
                    && !self.is_temp(*base)
                    && !base_var.c_type.is_empty()
                    && !base_var.c_type.contains(['*', '['])
                    && base_var.ty != TypeClass::Object
                    && !matches!(b, Binding::Obj(s) if st.value(s).is_some_and(|v| v.owned > 0))
                {
                    // A field of a struct on the stack (`ctx.dict = args`)
                    // may lend a borrowed reference for the call's duration.
                    // (A new reference stored there is tracked as stored:
                    // the struct's address may be handed to helpers.)
                    return;
                }
                let text = if self.is_temp(*base) {
                    format!("the `{f}` field")
                } else {
                    format!("{}->{}", self.var_name(*base), f)
                };
                if !object_base {
                    // A C struct (module state, a helper struct): whether it
                    // owns the reference is not visible here.
                    if let Binding::Obj(site) = b {
                        if let Some(v) = st.value_mut(site) {
                            if v.owned > 0 {
                                v.shared = true;
                                return;
                            }
                        }
                    }
                }
                (true, text)
            }
            Place::Global(g) => {
                let gid = self.intern(g);
                // The global's reference was handed to a stealing call
                // before: the transfer is complete.
                if let Some(v) = st.value_mut(Site::global(gid)) {
                    v.field_stolen = None;
                }
                // The reference the global held to what this function stored
                // there is ours again (`old = cache; cache = new;
                // Py_XDECREF(old)`).
                if let Some(FieldVal::Obj(old_site)) = st.field(FieldBase::GLOBALS, gid) {
                    if b != Binding::Obj(old_site) {
                        if let Some(v) = st.value_mut(old_site) {
                            if matches!(v.status, Status::Stored(_)) {
                                v.owned += 1;
                                v.status = Status::Live;
                            }
                        }
                    }
                }
                match b {
                    Binding::Obj(site) => {
                        st.set_field(FieldBase::GLOBALS, gid, FieldVal::Obj(site));
                    }
                    Binding::Null(_) => st.set_field(FieldBase::GLOBALS, gid, FieldVal::Null(sref)),
                    Binding::Ptr => st.set_field(FieldBase::GLOBALS, gid, FieldVal::Ptr),
                    _ => st.clear_field(FieldBase::GLOBALS, gid),
                }
                (true, g.clone())
            }
            // Storing through a pointer or into an array moves the reference
            // there, unless the array is a local one (argument vectors).
            Place::Deref(p) | Place::Index(p) => {
                let var = &self.func.vars[p.index()];
                // A local buffer (`stack[i] = arg` where `stack` is a
                // local array or a local pointer to one) holds references
                // for the function's own use: nothing is taken over.
                let local_array = var.kind == VarKind::Local
                    && (var.c_type.contains('[') || matches!(place, Place::Index(_)));
                let text = if matches!(place, Place::Deref(_)) {
                    format!("*{}", self.var_name(*p))
                } else {
                    format!("{}[...]", self.var_name(*p))
                };
                (!local_array, text)
            }
            Place::Opaque => (false, String::new()),
        };
        let Binding::Obj(site) = b else {
            return;
        };
        if self.dead_use(st, site, Access::Store, span) {
            return;
        }
        let Some(v) = st.value(site).copied() else {
            return;
        };
        if !transfer {
            if let Some(v) = st.value_mut(site) {
                v.status = Status::Escaped;
            }
            return;
        }
        if v.owned > 0 {
            if let Some(v) = st.value_mut(site) {
                v.owned -= 1;
                if v.owned == 0 {
                    v.status = Status::Stored(sref);
                }
            }
            st.push_event(Ev::Stored { stmt: sref, site });
            return;
        }
        let to_field_or_global = matches!(place, Place::Field(..) | Place::Global(_));
        if to_field_or_global && v.owned == 0 && matches!(v.origin, ValOrigin::Field(_)) {
            // A field's value moved to another place (a free list's head
            // popped into the global): clearing the field next hands the
            // reference to that place, not to this function.
            if let Some(v) = st.value_mut(site) {
                v.shared = true;
            }
        }
        if let ValOrigin::Param(i) = v.origin {
            if v.owned < 0 && v.status == Status::Live && !self.expect.python_facing {
                // The caller's reference was already handed on (stolen by
                // `_PyArena_AddPyObject(arena, v)` when it succeeded): the
                // store keeps a pointer the new owner keeps alive.
                return;
            }
            if matches!(
                place,
                Place::Field(..) | Place::Global(_) | Place::Index(_) | Place::Deref(_)
            ) && v.status == Status::Live
                && !self.expect.python_facing
                && self.expect.params.is_none()
            {
                if let Place::Field(base, f) = place {
                    let base_var = &self.func.vars[base.index()];
                    if base_var.ty != TypeClass::Object
                        && !self.resolver.field_released(&base_var.c_type, f)
                        && !self.releases_param(i)
                    {
                        // A C struct's field no function of the module
                        // releases (a search state filled by a helper),
                        // stored by a function that never releases the
                        // parameter: it holds the caller's reference on
                        // loan.
                        return;
                    }
                }
                // Maybe this function takes over the parameter's reference:
                // decided by the summary.
                let kind = Kind::StoredBorrowed {
                    value: self.describe(st, site),
                    place: place_text,
                    why: self.why_borrowed(&v),
                    basis: self.borrow_basis(&v),
                };
                self.tentative(st, site, i, kind, span);
                return;
            }
        }
        let borrowed = v.origin.is_borrowed_kind()
            || matches!(v.status, Status::Stolen(_) | Status::Stored(_));
        let static_object =
            matches!(v.origin, ValOrigin::Global(id) if self.name_of(id).starts_with('&'));
        // A static type borrows its base (PyType_Ready gives a new
        // reference only to heap types, and those get it from
        // PyType_FromSpecWithBases).
        let type_base = matches!(place, Place::Field(_, f) if f == "tp_base");
        // A tp_dealloc linking its dying object into a free list.
        let into_dying_self = self.expect.dealloc
            && (matches!(place, Place::Field(base, _) if self.func.params.first() == Some(base))
                || v.origin == ValOrigin::Param(0));
        if to_field_or_global
            && !into_dying_self
            && !type_base
            && borrowed
            && v.trackable()
            && !self.is_immortal_global(&v)
            && !static_object
            && !matches!(v.origin, ValOrigin::Field(_))
        {
            // Owed until a Py_INCREF pays for it; reported at the return.
            if let Some(v) = st.value_mut(site) {
                v.owned -= 1;
                if v.store_debt.is_none() {
                    v.store_debt = Some(sref);
                }
            }
            let _ = place_text;
        } else if matches!(place, Place::Index(_) | Place::Deref(_))
            && borrowed
            && v.owned == 0
            && v.trackable()
            && !matches!(v.origin, ValOrigin::Field(_))
        {
            // An array that outlives the call holds it now: a Py_INCREF
            // that follows pays for it (`items[i] = x; Py_INCREF(x);`).
            // Whether the array owns its items is not visible, so none
            // following is no finding.
            if let Some(v) = st.value_mut(site) {
                v.owned -= 1;
            }
        }
    }

    /// Whether the function releases its parameter `index` anywhere
    /// (`Py_DECREF(val)` on a failure path): it takes the reference over.
    fn releases_param(&self, index: u32) -> bool {
        let Some(&param) = self.func.params.get(index as usize) else {
            return false;
        };
        self.func.blocks.iter().flat_map(|b| &b.stmts).any(
            |s| matches!(&s.kind, StmtKind::Decref { value: Operand::Var(v), .. } if *v == param),
        )
    }

    /// `self->cb = cb;` in a method or `tp_init` that never looked at
    /// `self->cb`: what the field held when the function started, which
    /// the type's deallocator says is a reference, leaks (RS101).
    fn check_overwrite(
        &mut self,
        st: &State,
        base: VarId,
        field: &str,
        b: Binding,
        sref: StmtRef,
        span: Span,
    ) {
        if !self.fresh_fields.untouched(base, field, self.locate(sref)) {
            return;
        }
        let c_type = &self.func.vars[base.index()].c_type;
        let Some(s) = self.module.and_then(|m| m.struct_named(c_type)) else {
            return;
        };
        let Some(by) = s
            .names
            .first()
            .and_then(|n| self.resolver.member_owner(n, field))
        else {
            return;
        };
        let place = format!("{}->{}", self.var_name(base), field);
        // One finding per function: the others are listed in it.
        let earlier = self
            .result
            .violations
            .iter_mut()
            .find_map(|v| match &mut v.kind {
                Kind::FieldOverwritten { place: p, also, .. } => Some((p.clone(), also)),
                _ => None,
            });
        if let Some((first, also)) = earlier {
            if first != place && !also.iter().any(|(p, _)| *p == place) {
                also.push((place, span.line));
            }
            return;
        }
        let kind = Kind::FieldOverwritten {
            place,
            released_by: by.to_string(),
            role: self.expect.reinit.clone().unwrap_or_default(),
            cleared: matches!(b, Binding::Null(_)),
            also: Vec::new(),
        };
        self.emit(st, kind, span, None);
    }
}
