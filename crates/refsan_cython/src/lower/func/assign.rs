//! Assignments and deletions: what Cython does to the old and the new
//! value of a managed variable or attribute.

use super::*;

impl<'c, 'a> FnLower<'c, 'a> {
    pub(super) fn assign_stmt(&mut self, targets: &'c [Expr], value: &'c Expr, r: Rng) {
        // `a, b = x, y`: element-wise, after evaluating the right side.
        if let (ExprKind::Tuple(vals), [t]) = (&value.kind, targets) {
            if let ExprKind::Tuple(ts) | ExprKind::List(ts) = &t.kind {
                if ts.len() == vals.len()
                    && !ts.iter().any(|x| matches!(x.kind, ExprKind::Starred(_)))
                {
                    let vs: Vec<Val> = vals.iter().map(|v| self.expr(v)).collect();
                    for (t, v) in ts.iter().zip(vs) {
                        self.assign(t, v, r);
                    }
                    return;
                }
            }
        }
        let v = self.expr(value);
        for t in targets {
            self.assign(t, v.clone(), r);
        }
    }

    /// Binds `v` to a target, with Cython's reference handling.
    pub fn assign(&mut self, target: &'c Expr, v: Val, r: Rng) {
        match &target.kind {
            ExprKind::Name(n) => self.assign_name(n, v, target.rng),
            ExprKind::Attr { value, attr, .. } => self.assign_attr(value, attr, v, target.rng),
            ExprKind::Subscript { value, index } => {
                let base = self.expr(value);
                let idx: Vec<Operand> = index.iter().map(|i| self.expr(i).op).collect();
                match base.kind {
                    VK::Obj(_) => {
                        let mut args = vec![base.op];
                        args.extend(idx);
                        args.push(v.op);
                        self.c_op("__pyx_setitem", args, target.rng, "item assignment");
                    }
                    VK::C(TypeClass::ObjectPtrPtr) => {
                        // A `PyObject **` array: the pointer is stored there.
                        if let Operand::Var(p) = &base.op {
                            let place = Place::Index(*p);
                            self.emit(StmtKind::Store { place, value: v.op }, target.rng);
                        }
                    }
                    _ => {
                        // A C array, pointer or memoryview of C values: an
                        // object is converted, no reference is stored.
                        if v.is_obj() {
                            let _ = self.convert_to_c(v, target.rng);
                        }
                    }
                }
            }
            ExprKind::Tuple(items) | ExprKind::List(items) => {
                // Unpacking: each item is a new reference from the sequence.
                let src = v.op.clone();
                for it in items {
                    let inner = match &it.kind {
                        ExprKind::Starred(x) => &**x,
                        _ => it,
                    };
                    let item = self.py_op("__pyx_unpack", vec![src.clone()], it.rng, "unpacking");
                    self.assign(inner, item, r);
                }
            }
            ExprKind::Starred(x) => self.assign(x, v, r),
            _ => {
                self.approximate(r, "assignment to an unsupported target");
                if v.is_obj() {
                    self.emit(StmtKind::Escape { value: v.op }, target.rng);
                }
            }
        }
    }

    pub(super) fn assign_name(&mut self, n: &str, v: Val, r: Rng) {
        if let Some(l) = self.local(n) {
            match l.class {
                VClass::Managed => {
                    self.assign_managed_var(l.id, v, r);
                    if self.closure.contains(n) {
                        self.emit(
                            StmtKind::Escape {
                                value: Operand::Var(l.id),
                            },
                            r,
                        );
                    }
                }
                VClass::Raw | VClass::RawPtrPtr => {
                    if v.kind == VK::Obj(Own::Temp) {
                        // An object never converts to a pointer without a
                        // cast: this "Python call" is a C function this file
                        // does not declare (an included .pxi). Not tracked.
                        self.take(&v.op);
                        self.emit(
                            StmtKind::Escape {
                                value: v.op.clone(),
                            },
                            r,
                        );
                        self.emit(
                            StmtKind::Assign {
                                dst: l.id,
                                src: Operand::Opaque,
                            },
                            r,
                        );
                        return;
                    }
                    let op = match v.kind {
                        VK::C(_) if !matches!(v.op, Operand::Null | Operand::Var(_)) => {
                            Operand::Opaque
                        }
                        _ => v.op,
                    };
                    self.emit(StmtKind::Assign { dst: l.id, src: op }, r);
                }
                VClass::C(_) => {
                    let c = self.convert_to_c(v, r);
                    let src = match c.op {
                        Operand::Var(_) | Operand::Int(_) | Operand::Null => c.op,
                        _ => Operand::Opaque,
                    };
                    self.emit(StmtKind::Assign { dst: l.id, src }, r);
                }
            }
            return;
        }
        // Module-level names.
        match self.cx.cdef_globals.get(n).copied() {
            Some(VClass::Managed) => {
                let op = self.own_value(v, r);
                let old = self.temp(TypeClass::Object, r);
                self.emit_managed(
                    StmtKind::Assign {
                        dst: old,
                        src: Operand::Global(n.to_string()),
                    },
                    r,
                    ManagedOp::AssignRelease,
                );
                self.emit(
                    StmtKind::Store {
                        place: Place::Global(n.to_string()),
                        value: op,
                    },
                    r,
                );
                self.emit_managed(
                    StmtKind::Decref {
                        value: Operand::Var(old),
                        nullable: true,
                        clears: None,
                    },
                    r,
                    ManagedOp::AssignRelease,
                );
            }
            Some(VClass::Raw | VClass::RawPtrPtr) => {
                self.emit(
                    StmtKind::Store {
                        place: Place::Global(n.to_string()),
                        value: v.op,
                    },
                    r,
                );
            }
            Some(VClass::C(_)) => {
                if v.is_obj() {
                    let _ = self.convert_to_c(v, r);
                }
            }
            None => {
                // A Python global: the module dict takes its own reference.
                let op = match v.kind {
                    VK::Obj(_) => v.op,
                    _ => {
                        let b = self.py_op("__pyx_build", vec![v.op], r, "conversion to object");
                        b.op
                    }
                };
                self.c_op(
                    "__pyx_setglobal",
                    vec![Operand::Str(n.to_string()), op],
                    r,
                    &format!("global {n} = ..."),
                );
            }
        }
    }

    /// The value as a reference its receiver owns: a temporary's (or a
    /// cast's) reference is taken over, a borrowed one is INCREF'd, a C
    /// value is converted.
    pub fn own_value(&mut self, v: Val, r: Rng) -> Operand {
        if self.in_nogil() || v.op == Operand::Null {
            // NULL is never assigned to an object in Cython: the target is
            // a pointer of a type this file does not declare.
            return v.op;
        }
        match v.kind {
            VK::Obj(Own::Temp | Own::Cast) if self.take(&v.op) => v.op,
            VK::Obj(_) => {
                // An attribute is read once, before anything else changes
                // (`n = n.next` reads `n.next` before `n` is replaced).
                let op = match v.op {
                    Operand::Field(..) => match self.as_var(v.op, TypeClass::Object, r) {
                        Some(t) => Operand::Var(t),
                        None => Operand::Opaque,
                    },
                    other => other,
                };
                let nullable = !matches!(op, Operand::Global(_));
                self.emit_managed(
                    StmtKind::Incref {
                        value: op.clone(),
                        nullable,
                        revive: false,
                    },
                    r,
                    ManagedOp::AssignIncref,
                );
                op
            }
            VK::Raw => {
                // Assigning a raw pointer to an object: Cython needs a cast;
                // lowered as the `<object>` the author meant.
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
            // A number literal is one of Cython's cached constants.
            VK::C(_) if matches!(v.op, Operand::Int(_)) => v.op,
            VK::C(_) => {
                let b = self.py_op("__pyx_build", vec![v.op], r, "conversion to object");
                self.take(&b.op);
                b.op
            }
            VK::Unknown => v.op,
        }
    }

    /// `x = v` for a variable Cython manages: new reference in, old one
    /// released.
    pub fn assign_managed_var(&mut self, id: VarId, v: Val, r: Rng) {
        if self.in_nogil() {
            // Not an object after all (a C struct of an unknown type).
            let src = match v.op {
                Operand::Var(_) | Operand::Int(_) | Operand::Null => v.op,
                _ => Operand::Opaque,
            };
            self.emit(StmtKind::Assign { dst: id, src }, r);
            return;
        }
        let op = self.own_value(v, r);
        let old = self.temp(TypeClass::Object, r);
        self.emit_managed(
            StmtKind::Assign {
                dst: old,
                src: Operand::Var(id),
            },
            r,
            ManagedOp::AssignRelease,
        );
        self.emit(StmtKind::Assign { dst: id, src: op }, r);
        self.emit_managed(
            StmtKind::Decref {
                value: Operand::Var(old),
                nullable: true,
                clears: None,
            },
            r,
            ManagedOp::AssignRelease,
        );
    }

    pub(super) fn assign_attr(&mut self, base: &'c Expr, attr: &str, v: Val, r: Rng) {
        if attr == "ob_refcnt" {
            let b = self.expr(base);
            let bv = self.as_var(b.op, TypeClass::Object, r);
            if let Some(p) = bv {
                self.emit(
                    StmtKind::Use {
                        value: Operand::Field(p, "ob_refcnt".into()),
                        kind: UseKind::Read,
                    },
                    r,
                );
            }
            return;
        }
        let (b, class) = self.base_class(base);
        let Some(class) = class else {
            match b.kind {
                VK::Obj(_) => {
                    let op = match v.kind {
                        VK::Obj(_) => v.op,
                        _ => {
                            self.py_op("__pyx_build", vec![v.op], r, "conversion to object")
                                .op
                        }
                    };
                    self.c_op(
                        "__pyx_setattr",
                        vec![b.op, Operand::Str(attr.to_string()), op],
                        r,
                        &format!("setattr .{attr}"),
                    );
                }
                _ => {
                    // A field of a C struct: a reference stored there is
                    // out of sight.
                    if v.is_obj() || v.kind == VK::Raw {
                        self.emit(StmtKind::Escape { value: v.op }, r);
                    }
                }
            }
            return;
        };
        let Some(base_var) = self.as_var(b.op.clone(), TypeClass::Object, r) else {
            return;
        };
        match self.cx.attr(&class, attr).map(|a| a.class) {
            Some(VClass::Managed) => {
                let op = self.own_value(v, r);
                let old = self.temp(TypeClass::Object, r);
                self.emit_managed(
                    StmtKind::Assign {
                        dst: old,
                        src: Operand::Field(base_var, attr.to_string()),
                    },
                    r,
                    ManagedOp::AssignRelease,
                );
                self.emit(
                    StmtKind::Store {
                        place: Place::Field(base_var, attr.to_string()),
                        value: op,
                    },
                    r,
                );
                self.emit_managed(
                    StmtKind::Decref {
                        value: Operand::Var(old),
                        nullable: true,
                        clears: None,
                    },
                    r,
                    ManagedOp::AssignRelease,
                );
            }
            Some(VClass::Raw | VClass::RawPtrPtr) => {
                let op = match v.kind {
                    VK::C(_) | VK::Unknown if !matches!(v.op, Operand::Null | Operand::Var(_)) => {
                        Operand::Opaque
                    }
                    _ => v.op,
                };
                self.emit(
                    StmtKind::Store {
                        place: Place::Field(base_var, attr.to_string()),
                        value: op,
                    },
                    r,
                );
            }
            Some(VClass::C(_)) => {
                if v.is_obj() {
                    let _ = self.convert_to_c(v, r);
                }
            }
            None => {
                // An attribute declared elsewhere (a .pxd, a base class in
                // another module): whatever Cython does, it is balanced;
                // stop tracking the value.
                if v.is_obj() || v.kind == VK::Raw {
                    self.emit(StmtKind::Escape { value: v.op }, r);
                }
            }
        }
    }

    pub(super) fn aug_assign(&mut self, target: &'c Expr, op: BinOp, value: &'c Expr, r: Rng) {
        if let ExprKind::Attr { attr, .. } = &target.kind {
            if attr == "ob_refcnt" {
                // `p.ob_refcnt += 1`: the read below is the access.
                let _ = self.expr(target);
                let _ = self.expr(value);
                return;
            }
        }
        let cur = self.expr(target);
        let rhs = self.expr(value);
        let _ = op;
        if cur.is_obj() || rhs.is_obj() {
            let res = self.py_op("__pyx_binop", vec![cur.op, rhs.op], r, "in-place operation");
            self.assign(target, res, r);
        } else if let ExprKind::Attr {
            attr, value: base, ..
        } = &target.kind
        {
            if attr == "ob_refcnt" {
                let b = self.expr(base);
                if let Some(p) = self.as_var(b.op, TypeClass::Object, r) {
                    self.emit(
                        StmtKind::Use {
                            value: Operand::Field(p, "ob_refcnt".into()),
                            kind: UseKind::Read,
                        },
                        r,
                    );
                }
            }
        } else if let ExprKind::Name(n) = &target.kind {
            if let Some(l) = self.local(n) {
                if matches!(l.class, VClass::C(_) | VClass::Raw | VClass::RawPtrPtr) {
                    self.emit(
                        StmtKind::Assign {
                            dst: l.id,
                            src: Operand::Opaque,
                        },
                        r,
                    );
                }
            }
        }
    }

    pub(super) fn del_name(&mut self, n: &str, r: Rng) {
        if let Some(l) = self.local(n) {
            if l.class == VClass::Managed {
                let old = self.temp(TypeClass::Object, r);
                self.emit_managed(
                    StmtKind::Assign {
                        dst: old,
                        src: Operand::Var(l.id),
                    },
                    r,
                    ManagedOp::AssignRelease,
                );
                self.emit(
                    StmtKind::Assign {
                        dst: l.id,
                        src: Operand::Null,
                    },
                    r,
                );
                self.emit_managed(
                    StmtKind::Decref {
                        value: Operand::Var(old),
                        nullable: true,
                        clears: None,
                    },
                    r,
                    ManagedOp::AssignRelease,
                );
            }
        }
    }

    pub(super) fn del_target(&mut self, t: &'c Expr, r: Rng) {
        match &t.kind {
            ExprKind::Name(n) => self.del_name(n, r),
            ExprKind::Attr { value, attr, .. } => {
                let (b, class) = self.base_class(value);
                let managed_attr = class
                    .as_deref()
                    .and_then(|c| self.cx.attr(c, attr))
                    .is_some_and(|a| a.class == VClass::Managed);
                if managed_attr {
                    // `del self.x` sets the attribute to None.
                    let none = Val::borrowed(Operand::Global("Py_None".into()));
                    let target = t;
                    let _ = b;
                    self.assign(target, none, r);
                } else if b.is_obj() {
                    self.c_op(
                        "__pyx_delattr",
                        vec![b.op, Operand::Str(attr.clone())],
                        r,
                        &format!("del .{attr}"),
                    );
                }
            }
            ExprKind::Subscript { value, index } => {
                let b = self.expr(value);
                let is_obj = b.is_obj();
                let mut args = vec![b.op];
                for i in index {
                    args.push(self.expr(i).op);
                }
                if is_obj {
                    self.c_op("__pyx_delitem", args, r, "del [...]");
                }
            }
            ExprKind::Tuple(items) | ExprKind::List(items) => {
                for i in items {
                    self.del_target(i, r);
                }
            }
            _ => {}
        }
    }

    /// A variable holding `op` (a temp copy when `op` is not a variable).
    pub fn as_var(&mut self, op: Operand, t: TypeClass, r: Rng) -> Option<VarId> {
        match op {
            Operand::Var(v) => Some(v),
            Operand::Opaque => None,
            other => {
                let tmp = self.temp(t, r);
                self.emit(
                    StmtKind::Assign {
                        dst: tmp,
                        src: other,
                    },
                    r,
                );
                Some(tmp)
            }
        }
    }
}
