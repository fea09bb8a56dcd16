//! Expressions, calls and conditions. Python-level operations become calls
//! of synthetic callees (`__pyx_call`, `__pyx_getattr`, ...) whose
//! contracts the module declares; each is followed by Cython's exception
//! check.

use super::func::{FnLower, Own, Val, MAX_LOWER_DEPTH, VK};
use super::synthetic::static_name;
use super::{Check, FuncSig};
use crate::ast::{Arg, CType, CmpKind, ConstKind, Expr, ExprKind, FuncKind, Rng, UnOp};
use crate::types::VClass;
use refsan_ir::*;

#[derive(Clone, Copy, PartialEq, Eq)]
enum RefOp {
    Incref,
    XIncref,
    Decref,
    XDecref,
    Clear,
}

fn refcount_op(name: &str) -> Option<RefOp> {
    Some(match name {
        "Py_INCREF" => RefOp::Incref,
        "Py_XINCREF" => RefOp::XIncref,
        "Py_DECREF" => RefOp::Decref,
        "Py_XDECREF" => RefOp::XDecref,
        "Py_CLEAR" => RefOp::Clear,
        _ => return None,
    })
}

const C_BUILTINS: &[&str] = &["isinstance", "issubclass", "hasattr", "callable"];

impl<'c, 'a> FnLower<'c, 'a> {
    // ---- operations --------------------------------------------------------

    /// A Python-level operation: a new reference or NULL with an exception.
    pub fn py_op(&mut self, name: &str, args: Vec<Operand>, r: Rng, text: &str) -> Val {
        if self.in_nogil() {
            return Val::opaque();
        }
        let name = static_name(name);
        self.synth.insert(name);
        let t = self.temp(TypeClass::Object, r);
        self.emit(
            StmtKind::Call {
                dst: Some(t),
                callee: Callee::Named(name.to_string()),
                args,
            },
            r,
        );
        let src = self.cx.text(r);
        let shown = if src.is_empty() {
            text.to_string()
        } else {
            src
        };
        self.exc_branch(Cond::IsNull(Operand::Var(t)), format!("{shown} == NULL"), r);
        self.pending.push(Operand::Var(t));
        Val {
            op: Operand::Var(t),
            kind: VK::Obj(Own::Temp),
        }
    }

    /// A Python-level operation with a C result: -1 with an exception.
    pub fn c_op(&mut self, name: &str, args: Vec<Operand>, r: Rng, text: &str) -> Val {
        if self.in_nogil() {
            return Val::c(Operand::Opaque, TypeClass::Int);
        }
        let name = static_name(name);
        self.synth.insert(name);
        let t = self.temp(TypeClass::Int, r);
        self.emit(
            StmtKind::Call {
                dst: Some(t),
                callee: Callee::Named(name.to_string()),
                args,
            },
            r,
        );
        self.exc_branch(
            Cond::Cmp(Operand::Var(t), CmpOp::Eq, -1),
            format!("{text} == -1"),
            r,
        );
        Val::c(Operand::Var(t), TypeClass::Int)
    }

    /// Conversion of an object to a C value (`-1` and an exception on
    /// failure, `-1` also a valid value).
    pub fn convert_to_c(&mut self, v: Val, r: Rng) -> Val {
        if !v.is_obj() || self.in_nogil() {
            return v;
        }
        match &v.op {
            Operand::Global(g) if g == "Py_True" => return Val::c(Operand::Int(1), TypeClass::Int),
            Operand::Global(g) if g == "Py_False" || g == "Py_None" => {
                return Val::c(Operand::Int(0), TypeClass::Int)
            }
            _ => {}
        }
        self.synth.insert("__pyx_to_c");
        let t = self.temp(TypeClass::Int, r);
        self.emit(
            StmtKind::Call {
                dst: Some(t),
                callee: Callee::Named("__pyx_to_c".into()),
                args: vec![v.op],
            },
            r,
        );
        self.maybe_branch(
            Cond::Cmp(Operand::Var(t), CmpOp::Eq, -1),
            "conversion to C == -1".to_string(),
            r,
        );
        Val::c(Operand::Var(t), TypeClass::Int)
    }

    pub fn release_pending_from(&mut self, mark: usize, r: Rng) {
        if self.pending.len() <= mark {
            return;
        }
        let tail: Vec<Operand> = self.pending.split_off(mark);
        for op in tail {
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

    // ---- names ---------------------------------------------------------------

    fn name_val(&mut self, n: &str, r: Rng) -> Val {
        if let Some(l) = self.local(n) {
            let op = Operand::Var(l.id);
            return match l.class {
                VClass::Managed => Val::borrowed(op),
                VClass::Raw => Val { op, kind: VK::Raw },
                VClass::RawPtrPtr => Val::c(op, TypeClass::ObjectPtrPtr),
                VClass::C(t) => Val::c(op, t),
            };
        }
        let _ = r;
        if let Some(c) = self.cx.cdef_globals.get(n) {
            return match c {
                VClass::Managed => Val::borrowed(Operand::Global(n.to_string())),
                VClass::Raw => Val {
                    op: Operand::Global(n.to_string()),
                    kind: VK::Raw,
                },
                VClass::RawPtrPtr => Val::c(Operand::Opaque, TypeClass::ObjectPtrPtr),
                VClass::C(t) => Val::c(Operand::Opaque, *t),
            };
        }
        if self.cx.externs.contains_key(n) {
            return Val::c(Operand::Opaque, TypeClass::Pointer);
        }
        if let Some(s) = self.cx.funcs.get(n) {
            if s.kind == FuncKind::Cdef {
                return Val::c(Operand::Opaque, TypeClass::Pointer);
            }
        }
        if self.cx.c_consts.contains(n) {
            return Val::c(Operand::Opaque, TypeClass::Int);
        }
        if let Some((m, orig)) = self.cx.cimports.get(n) {
            if !self.cx.env.classes.contains(n) {
                if m.starts_with("cpython") && self.cx.cpython.get(orig).is_none() {
                    // A constant or type of a cpython .pxd (PyBUF_SIMPLE).
                    return Val::c(Operand::Opaque, TypeClass::Int);
                }
                if !m.starts_with("cpython") {
                    return Val::opaque();
                }
            }
        }
        Val::borrowed(Operand::Global(n.to_string()))
    }

    /// The class (a `cdef class` of this file) of an expression's value,
    /// when its declared type says so.
    pub fn base_class(&mut self, base: &'c Expr) -> (Val, Option<String>) {
        let v = self.expr(base);
        let cdef_class = |cx: &super::Cx, name: &str| -> Option<String> {
            let n = name.trim().trim_end_matches('?').trim();
            let last = n.rsplit('.').next().unwrap_or(n);
            cx.classes
                .get(last)
                .filter(|c| c.cdef)
                .map(|c| c.name.clone())
        };
        let class = match &base.kind {
            ExprKind::Name(n) => match self.local(n) {
                Some(l) if Some(l.id) == self.self_var => {
                    self.class.clone().and_then(|c| cdef_class(self.cx, &c))
                }
                Some(l) => {
                    let ct = self.b.var(l.id).c_type.clone();
                    cdef_class(self.cx, &ct)
                }
                None => None,
            },
            ExprKind::Cast { ty, .. } if ty.ptr == 0 => cdef_class(self.cx, &ty.base),
            _ => None,
        };
        (v, class)
    }

    // ---- expressions ---------------------------------------------------------

    pub fn expr(&mut self, e: &'c Expr) -> Val {
        if self.depth >= MAX_LOWER_DEPTH || self.stack.exceeded() {
            self.approximate(e.rng, "expression nested too deeply");
            return Val::opaque();
        }
        self.depth += 1;
        let v = self.expr_inner(e);
        self.depth -= 1;
        v
    }

    pub fn expr_stmt(&mut self, e: &'c Expr) {
        let _ = self.expr(e);
    }

    fn expr_inner(&mut self, e: &'c Expr) -> Val {
        let r = e.rng;
        match &e.kind {
            ExprKind::Name(n) => self.name_val(n, r),
            ExprKind::Int(Some(v)) => Val::c(Operand::Int(*v), TypeClass::Int),
            ExprKind::Int(None) => Val::c(Operand::Opaque, TypeClass::Int),
            ExprKind::Float => Val::c(Operand::Opaque, TypeClass::Other),
            ExprKind::Str { char_lit: true, .. } => Val::c(Operand::Opaque, TypeClass::Int),
            ExprKind::Str { .. } => {
                let text = self.cx.text(r);
                let inner: String = text
                    .trim_start_matches(|c: char| c.is_ascii_alphabetic())
                    .trim_matches(|c| c == '"' || c == '\'')
                    .chars()
                    .take(40)
                    .collect();
                Val::borrowed(Operand::Str(inner))
            }
            ExprKind::FString(fields) => {
                let mut args = Vec::new();
                for f in fields {
                    args.push(self.expr(f).op);
                }
                self.py_op("__pyx_build", args, r, "f-string")
            }
            ExprKind::Const(k) => match k {
                ConstKind::None => Val::borrowed(Operand::Global("Py_None".into())),
                ConstKind::True => Val::borrowed(Operand::Global("Py_True".into())),
                ConstKind::False => Val::borrowed(Operand::Global("Py_False".into())),
                ConstKind::Ellipsis => Val::borrowed(Operand::Global("Py_Ellipsis".into())),
                ConstKind::Null => Val {
                    op: Operand::Null,
                    kind: VK::Raw,
                },
            },
            ExprKind::Attr { value, attr, .. } => self.attr(value, attr, r),
            ExprKind::Call { func, args } => self.call(e, func, args),
            ExprKind::Subscript { value, index } => {
                let base = self.expr(value);
                let mut args = vec![base.op.clone()];
                for i in index {
                    args.push(self.expr(i).op);
                }
                match base.kind {
                    VK::Obj(_) => self.py_op("__pyx_getitem", args, r, &self.cx.text(r)),
                    VK::C(TypeClass::ObjectPtrPtr) => Val {
                        op: Operand::Opaque,
                        kind: VK::Raw,
                    },
                    _ => Val::opaque(),
                }
            }
            ExprKind::Slice(parts) => {
                for p in parts {
                    let _ = self.expr(p);
                }
                Val::c(Operand::Opaque, TypeClass::Other)
            }
            ExprKind::BinOp { left, right, .. } => {
                let l = self.expr(left);
                let rv = self.expr(right);
                if l.is_obj() || rv.is_obj() {
                    self.py_op("__pyx_binop", vec![l.op, rv.op], r, &self.cx.text(r))
                } else if matches!(l.kind, VK::Raw) || matches!(rv.kind, VK::Raw) {
                    Val::c(Operand::Opaque, TypeClass::Pointer)
                } else if matches!(l.kind, VK::C(TypeClass::Int))
                    && matches!(rv.kind, VK::C(TypeClass::Int))
                {
                    Val::c(Operand::Opaque, TypeClass::Int)
                } else {
                    Val::opaque()
                }
            }
            ExprKind::Unary { op, operand } => {
                let v = self.expr(operand);
                match (op, v.is_obj()) {
                    (UnOp::Not, true) => {
                        let text = self.cx.text(operand.rng);
                        self.c_op("__pyx_truth", vec![v.op], r, &text);
                        Val::c(Operand::Opaque, TypeClass::Int)
                    }
                    (UnOp::Not, false) => Val::c(Operand::Opaque, TypeClass::Int),
                    (_, true) => self.py_op("__pyx_binop", vec![v.op], r, &self.cx.text(r)),
                    (_, false) => match v.kind {
                        VK::C(t) => Val::c(Operand::Opaque, t),
                        _ => Val::opaque(),
                    },
                }
            }
            ExprKind::BoolOp { and, values } => self.boolop_value(*and, values, r),
            ExprKind::Compare { left, ops } => {
                let l = self.expr(left);
                let mut all = vec![l.op.clone()];
                let mut any_obj = l.is_obj();
                let identity = ops
                    .iter()
                    .all(|(k, _)| matches!(k, CmpKind::Is | CmpKind::IsNot));
                for (_, x) in ops {
                    let v = self.expr(x);
                    any_obj |= v.is_obj();
                    all.push(v.op);
                }
                if any_obj && !identity {
                    self.py_op("__pyx_richcmp", all, r, &self.cx.text(r))
                } else {
                    Val::c(Operand::Opaque, TypeClass::Int)
                }
            }
            ExprKind::IfExp { test, body, orelse } => self.ifexp_value(test, body, orelse, r),
            ExprKind::Cast { ty, checked, value } => self.cast(ty, *checked, value, r),
            ExprKind::AddrOf(x) => {
                let place = match &x.kind {
                    ExprKind::Name(n) => self.local(n).map(|l| Place::Var(l.id)),
                    ExprKind::Attr { value, attr, .. } => {
                        let (b, class) = self.base_class(value);
                        match class {
                            Some(c) if self.cx.attr(&c, attr).is_some() => self
                                .as_var(b.op, TypeClass::Object, r)
                                .map(|v| Place::Field(v, attr.clone())),
                            _ => None,
                        }
                    }
                    _ => {
                        let _ = self.expr(x);
                        None
                    }
                };
                match place {
                    Some(p) => Val::c(Operand::AddrOf(p), TypeClass::Pointer),
                    None => Val::c(Operand::Opaque, TypeClass::Pointer),
                }
            }
            ExprKind::Sizeof => Val::c(Operand::Opaque, TypeClass::Int),
            ExprKind::Tuple(items) | ExprKind::List(items) | ExprKind::Set(items) => {
                let mut args = Vec::new();
                for it in items {
                    args.push(self.expr(it).op);
                }
                self.py_op("__pyx_build", args, r, &self.cx.text(r))
            }
            ExprKind::Dict(items) => {
                let mut args = Vec::new();
                for (k, v) in items {
                    if let Some(k) = k {
                        args.push(self.expr(k).op);
                    }
                    args.push(self.expr(v).op);
                }
                self.py_op("__pyx_build", args, r, &self.cx.text(r))
            }
            ExprKind::Comp {
                elts, generators, ..
            } => {
                let mut args = Vec::new();
                if let Some(g) = generators.first() {
                    args.push(self.expr(&g.iter).op);
                }
                let mut names = std::collections::HashSet::new();
                for x in elts {
                    super::scope::names_in_expr(x, &mut names, 0);
                }
                for (k, g) in generators.iter().enumerate() {
                    if k > 0 {
                        super::scope::names_in_expr(&g.iter, &mut names, 0);
                    }
                    for c in &g.ifs {
                        super::scope::names_in_expr(c, &mut names, 0);
                    }
                }
                let mut bound = std::collections::HashSet::new();
                for g in generators {
                    super::scope::names_in_expr(&g.target, &mut bound, 0);
                }
                let mut names: Vec<String> = names.difference(&bound).cloned().collect();
                names.sort();
                for n in names {
                    if let Some(l) = self.local(&n) {
                        if l.class.is_object() {
                            args.push(Operand::Var(l.id));
                        }
                    }
                }
                self.py_op("__pyx_build", args, r, "comprehension")
            }
            ExprKind::Lambda { params, body } => {
                let mut args = Vec::new();
                for p in params {
                    if let Some(d) = &p.default {
                        args.push(self.expr(d).op);
                    }
                }
                let mut names = std::collections::HashSet::new();
                super::scope::names_in_expr(body, &mut names, 0);
                let mut names: Vec<String> = names.into_iter().collect();
                names.sort();
                for n in names {
                    if let Some(l) = self.local(&n) {
                        if l.class.is_object() {
                            args.push(Operand::Var(l.id));
                        }
                    }
                }
                self.py_op("__pyx_build", args, r, "lambda")
            }
            ExprKind::Yield(v) => {
                let args = match v {
                    Some(x) => vec![self.expr(x).op],
                    None => Vec::new(),
                };
                self.py_op("__pyx_yield", args, r, "yield")
            }
            ExprKind::YieldFrom(x) | ExprKind::Await(x) => {
                let v = self.expr(x);
                self.py_op("__pyx_yield", vec![v.op], r, &self.cx.text(r))
            }
            ExprKind::Starred(x) => self.expr(x),
            ExprKind::Walrus { target, value } => {
                let v = self.expr(value);
                let t = Expr::new(ExprKind::Name(target.clone()), r);
                self.assign_name_walrus(&t, v, r);
                self.name_val(target, r)
            }
            ExprKind::New(x) => {
                if let ExprKind::Call { args, .. } = &x.kind {
                    for a in args {
                        let _ = self.expr(a.expr());
                    }
                }
                Val::c(Operand::Opaque, TypeClass::Pointer)
            }
            ExprKind::Error => {
                self.approximate(r, "an expression could not be parsed");
                Val::opaque()
            }
        }
    }

    fn assign_name_walrus(&mut self, t: &Expr, v: Val, r: Rng) {
        // `assign` wants an expression living as long as the AST; a walrus
        // target is always a plain name.
        if let ExprKind::Name(n) = &t.kind {
            if let Some(l) = self.local(n) {
                if l.class == VClass::Managed {
                    self.assign_managed_var(l.id, v, r);
                } else {
                    let src = match v.op {
                        Operand::Var(_) | Operand::Int(_) | Operand::Null => v.op,
                        _ => Operand::Opaque,
                    };
                    self.emit(StmtKind::Assign { dst: l.id, src }, r);
                }
            }
        }
    }

    fn attr(&mut self, value: &'c Expr, attr: &str, r: Rng) -> Val {
        if attr == "ob_refcnt" {
            let b = self.expr(value);
            if let Some(p) = self.as_var(b.op, TypeClass::Object, r) {
                self.emit(
                    StmtKind::Use {
                        value: Operand::Field(p, "ob_refcnt".into()),
                        kind: UseKind::Read,
                    },
                    r,
                );
            }
            return Val::c(Operand::Opaque, TypeClass::Int);
        }
        if let Some(d) = value.dotted() {
            let first = d.split('.').next().unwrap_or(&d);
            if self.local(first).is_none()
                && self.cx.cimported_module(first).is_some()
                && !self.cx.py_imports.contains(first)
            {
                // A C-level name of a cimported module.
                return Val::opaque();
            }
        }
        let (b, class) = self.base_class(value);
        if let Some(class) = class {
            let Some(a) = self.cx.attr(&class, attr).cloned() else {
                // Declared elsewhere (a .pxd, a base class in another
                // module), or a method: unknown to this file.
                return Val::opaque();
            };
            let Some(base) = self.as_var(b.op, TypeClass::Object, r) else {
                return Val::opaque();
            };
            let field = Operand::Field(base, attr.to_string());
            return match a.class {
                VClass::Managed => Val::borrowed(field),
                VClass::Raw => Val {
                    op: field,
                    kind: VK::Raw,
                },
                VClass::RawPtrPtr => Val::c(Operand::Opaque, TypeClass::ObjectPtrPtr),
                VClass::C(t) => Val::c(Operand::Opaque, t),
            };
        }
        match b.kind {
            VK::Obj(_) => {
                let text = self.cx.text(r);
                self.py_op(
                    "__pyx_getattr",
                    vec![b.op, Operand::Str(attr.to_string())],
                    r,
                    &text,
                )
            }
            _ => Val::opaque(),
        }
    }

    /// `a and b` / `a or b` as a value: the result is one of the operands.
    fn boolop_value(&mut self, and: bool, values: &'c [Expr], r: Rng) -> Val {
        let all_c = self.in_nogil() || values.iter().all(|v| self.is_c_expr(v));
        let ty = if all_c {
            TypeClass::Int
        } else {
            TypeClass::Object
        };
        let result = self.temp(ty, r);
        let join = self.new_block();
        let n = values.len();
        for (i, v) in values.iter().enumerate() {
            let mark = self.pending.len();
            let val = self.expr(v);
            let last = i + 1 == n;
            if all_c {
                let src = match val.op {
                    Operand::Var(_) | Operand::Int(_) => val.op.clone(),
                    _ => Operand::Opaque,
                };
                self.emit(StmtKind::Assign { dst: result, src }, v.rng);
                self.release_pending_from(mark, v.rng);
                if !last {
                    let next = self.new_block();
                    let sp = self.span(v.rng);
                    let (t, f) = if and { (next, join) } else { (join, next) };
                    let text = self.cx.text(v.rng);
                    self.b.terminate(
                        Terminator::Branch {
                            cond: Cond::Cmp(Operand::Var(result), CmpOp::Ne, 0),
                            then_bb: t,
                            else_bb: f,
                            text,
                        },
                        sp,
                    );
                    self.b.switch_to(next);
                }
                continue;
            }
            let op = self.own_value(val, v.rng);
            self.emit(
                StmtKind::Assign {
                    dst: result,
                    src: op,
                },
                v.rng,
            );
            self.release_pending_from(mark, v.rng);
            if !last {
                // The result owns the operand while its truth is tested: an
                // exception there releases it.
                self.pending.push(Operand::Var(result));
                let text = self.cx.text(v.rng);
                let truth = self.c_op("__pyx_truth", vec![Operand::Var(result)], v.rng, &text);
                self.take(&Operand::Var(result));
                let next = self.new_block();
                let drop_bb = self.new_block();
                let sp = self.span(v.rng);
                let (t, f) = if and {
                    (drop_bb, join)
                } else {
                    (join, drop_bb)
                };
                let text = self.cx.text(v.rng);
                self.b.terminate(
                    Terminator::Branch {
                        cond: Cond::Cmp(truth.op, CmpOp::Ne, 0),
                        then_bb: t,
                        else_bb: f,
                        text,
                    },
                    sp,
                );
                // The operand is not the result: release it, go on.
                self.b.switch_to(drop_bb);
                self.emit_managed(
                    StmtKind::Decref {
                        value: Operand::Var(result),
                        nullable: false,
                        clears: None,
                    },
                    v.rng,
                    ManagedOp::TempRelease,
                );
                self.b.goto_and_switch(next, sp);
            }
        }
        let sp = self.span(r);
        self.b.goto_and_switch(join, sp);
        if all_c {
            Val::c(Operand::Var(result), TypeClass::Int)
        } else {
            self.pending.push(Operand::Var(result));
            Val {
                op: Operand::Var(result),
                kind: VK::Obj(Own::Temp),
            }
        }
    }

    fn ifexp_value(&mut self, test: &'c Expr, body: &'c Expr, orelse: &'c Expr, r: Rng) -> Val {
        // An arm that is a C value (a pointer, NULL) makes the whole
        // expression C: Cython does not mix pointers and objects.
        let all_c = self.in_nogil() || self.is_c_expr(body) || self.is_c_expr(orelse);
        let result = self.temp(
            if all_c {
                TypeClass::Int
            } else {
                TypeClass::Object
            },
            r,
        );
        let then_bb = self.new_block();
        let else_bb = self.new_block();
        let join = self.new_block();
        self.cond(test, then_bb, else_bb);
        for (bb, arm) in [(then_bb, body), (else_bb, orelse)] {
            self.b.switch_to(bb);
            let mark = self.pending.len();
            let v = self.expr(arm);
            let src = if all_c {
                if v.kind == VK::Obj(Own::Temp) {
                    // A "Python call" in a C expression: an undeclared C
                    // function.
                    self.take(&v.op);
                    self.emit(StmtKind::Escape { value: v.op }, arm.rng);
                    Operand::Opaque
                } else {
                    match v.op {
                        Operand::Var(_) | Operand::Int(_) | Operand::Null => v.op,
                        _ => Operand::Opaque,
                    }
                }
            } else {
                self.own_value(v, arm.rng)
            };
            self.emit(StmtKind::Assign { dst: result, src }, arm.rng);
            self.release_pending_from(mark, arm.rng);
            let sp = self.span(arm.rng);
            self.b.goto_and_switch(join, sp);
        }
        self.b.switch_to(join);
        if all_c {
            Val::c(Operand::Var(result), TypeClass::Int)
        } else {
            self.pending.push(Operand::Var(result));
            Val {
                op: Operand::Var(result),
                kind: VK::Obj(Own::Temp),
            }
        }
    }

    /// Whether an expression is statically a C value (no object involved).
    fn is_c_expr(&self, e: &Expr) -> bool {
        if self.stack.exceeded() {
            return false;
        }
        match &e.kind {
            ExprKind::Int(_) | ExprKind::Float | ExprKind::Sizeof => true,
            ExprKind::Str { char_lit, .. } => *char_lit,
            ExprKind::Const(ConstKind::Null) => true,
            ExprKind::Name(n) => self
                .local(n)
                .is_some_and(|l| matches!(l.class, VClass::C(_) | VClass::Raw)),
            ExprKind::Cast { ty, .. } => {
                !self.cx.env.classify(ty).is_object() || self.cx.env.classify(ty) == VClass::Raw
            }
            ExprKind::BinOp { left, right, .. } => self.is_c_expr(left) && self.is_c_expr(right),
            ExprKind::Unary { operand, .. } => self.is_c_expr(operand),
            ExprKind::Compare { left, ops } => {
                // Identity and NULL tests compare pointers.
                ops.iter().any(|(k, x)| {
                    matches!(k, CmpKind::Is | CmpKind::IsNot)
                        || matches!(x.kind, ExprKind::Const(ConstKind::Null))
                }) || (self.is_c_expr(left) && ops.iter().all(|(_, x)| self.is_c_expr(x)))
            }
            ExprKind::Attr { value, .. } | ExprKind::Subscript { value, .. } => {
                self.is_c_expr(value)
            }
            ExprKind::BoolOp { values, .. } => values.iter().all(|v| self.is_c_expr(v)),
            ExprKind::IfExp { body, orelse, .. } => self.is_c_expr(body) && self.is_c_expr(orelse),
            ExprKind::Call { func, .. } => match func.name() {
                Some(n) if self.local(n).is_none() => {
                    let ret = self
                        .cx
                        .externs
                        .get(n)
                        .or_else(|| self.cx.funcs.get(n).filter(|f| f.kind != FuncKind::Def))
                        .map(|f| f.ret)
                        .or_else(|| self.cx.cpython_func(n).map(|p| p.ret));
                    ret.is_some_and(|c| !c.is_object())
                }
                _ => false,
            },
            _ => false,
        }
    }

    fn cast(&mut self, ty: &CType, checked: bool, value: &'c Expr, r: Rng) -> Val {
        let target = self.cx.env.classify(ty);
        let v = self.expr(value);
        if self.in_nogil() && target == VClass::Managed {
            // No object casts without the GIL: an unknown C type.
            return v;
        }
        match target {
            VClass::Managed => match v.kind {
                VK::Raw | VK::C(TypeClass::Pointer) | VK::Unknown => {
                    // `<object>p`: Cython takes a new reference, owned by
                    // whoever receives the value.
                    let op = match v.op {
                        Operand::Var(_) | Operand::Null => v.op,
                        other => match self.as_var(other, TypeClass::Object, r) {
                            Some(t) => Operand::Var(t),
                            None => Operand::Opaque,
                        },
                    };
                    self.emit_managed(
                        StmtKind::Incref {
                            value: op.clone(),
                            nullable: false,
                            revive: false,
                        },
                        r,
                        ManagedOp::ObjectCast,
                    );
                    self.pending.push(op.clone());
                    Val {
                        op,
                        kind: VK::Obj(Own::Cast),
                    }
                }
                VK::Obj(_) => {
                    if checked {
                        let text = self.cx.text(r);
                        self.c_op("__pyx_typecheck", vec![v.op.clone()], r, &text);
                    }
                    v
                }
                VK::C(_) => self.py_op("__pyx_build", vec![v.op], r, "conversion to object"),
            },
            VClass::C(TypeClass::Pointer) if v.kind == VK::Obj(Own::Temp) => {
                // `<char*>f()` or `<char*>arr.data` of a temporary object
                // does not compile: the expression is C-level in a way this
                // file does not declare (a .pxd's attribute or function).
                // Not tracked.
                self.take(&v.op);
                self.emit(StmtKind::Escape { value: v.op }, r);
                Val::c(Operand::Opaque, TypeClass::Pointer)
            }
            VClass::Raw | VClass::RawPtrPtr | VClass::C(TypeClass::Pointer) => match v.kind {
                // `<PyObject*>o`: a raw alias, no reference taken. A
                // temporary's pointer dangles once Cython releases it.
                VK::Obj(_) => Val {
                    op: v.op,
                    kind: VK::Raw,
                },
                VK::Raw => v,
                _ => Val::c(v.op, TypeClass::Pointer),
            },
            VClass::C(t) => {
                if v.is_obj() {
                    self.convert_to_c(v, r)
                } else {
                    Val::c(v.op, t)
                }
            }
        }
    }

    // ---- calls ---------------------------------------------------------------

    fn call(&mut self, e: &'c Expr, func: &'c Expr, args: &'c [Arg]) -> Val {
        let r = e.rng;
        match &func.kind {
            ExprKind::Name(n) if self.local(n).is_none() => {
                if let Some(op) = refcount_op(n) {
                    if let Some(param) = self.refcount_param(n) {
                        return self.refcount_call(op, param, args, r);
                    }
                }
                // A cdef function of the module shadows an extern of the
                // same name that a cimported `.pxd` declares (reached as
                // `module.name`).
                if let Some(sig) = self.cx.funcs.get(n).filter(|s| s.kind != FuncKind::Def) {
                    if self.cx.externs.contains_key(n) {
                        return self.c_call(sig, None, args, r);
                    }
                }
                if let Some(sig) = self.cx.externs.get(n) {
                    return self.c_call(sig, None, args, r);
                }
                if let Some(p) = self.cx.cpython_func(n) {
                    self.pxd.insert(n.clone());
                    let sig = FuncSig::from_pxd(p);
                    return self.c_call(&sig, None, args, r);
                }
                if let Some((m, orig)) = self.cx.cimports.get(n) {
                    if !self.cx.env.classes.contains(n) && !m.starts_with("cpython") {
                        let qualified = format!("{m}.{orig}");
                        return self.unknown_c_call(n, &qualified, args, r);
                    }
                }
                if let Some(sig) = self.cx.funcs.get(n) {
                    if sig.kind != FuncKind::Def {
                        return self.c_call(sig, None, args, r);
                    }
                }
                if self.cx.undeclared(n) {
                    if let Some(p) = self.cx.cpython.get(n) {
                        // A C-API function cimported by the including file.
                        let sig = FuncSig::from_pxd(p);
                        return self.c_call(&sig, None, args, r);
                    }
                }
                if !self.cx.funcs.contains_key(n) && !self.cx.env.classes.contains(n) {
                    if n == "len" {
                        let ops = self.arg_ops(args);
                        return self.c_op("__pyx_len", ops, r, &self.cx.text(r));
                    }
                    if C_BUILTINS.contains(&n.as_str()) {
                        let mut ops = vec![Operand::Global(n.clone())];
                        ops.extend(self.arg_ops(args));
                        return self.c_op("__pyx_cbuiltin", ops, r, &self.cx.text(r));
                    }
                    if matches!(n.as_str(), "abs" | "min" | "max")
                        && args
                            .iter()
                            .all(|a| matches!(a, Arg::Pos(x) if self.is_c_expr(x)))
                    {
                        let _ = self.arg_ops(args);
                        return Val::c(Operand::Opaque, TypeClass::Other);
                    }
                }
                let callee = Val::borrowed(Operand::Global(n.clone()));
                self.py_call(callee, args, r)
            }
            ExprKind::Attr { value, attr, .. } => {
                if let Some(d) = value.dotted() {
                    let first = d.split('.').next().unwrap_or(&d).to_string();
                    if self.local(&first).is_none() {
                        if let Some(module) = self.cx.cimported_module(&first) {
                            let full = match d.split_once('.') {
                                Some((_, rest)) => format!("{module}.{rest}"),
                                None => module.clone(),
                            };
                            if full == "cpython" || full.starts_with("cpython.") {
                                if let Some(op) = refcount_op(attr) {
                                    let param = self
                                        .cx
                                        .cpython
                                        .get(attr)
                                        .and_then(|p| p.params.first().copied())
                                        .unwrap_or(VClass::Managed);
                                    return self.refcount_call(op, param, args, r);
                                }
                                if let Some(p) = self.cx.cpython.get(attr) {
                                    let sig = FuncSig::from_pxd(p);
                                    return self.c_call(&sig, None, args, r);
                                }
                            }
                            if !self.cx.py_imports.contains(&first) {
                                // A function the cimported module's `.pxd`
                                // declares (read as context).
                                if let Some(mut sig) = self
                                    .cx
                                    .externs
                                    .get(attr)
                                    .or_else(|| self.cx.funcs.get(attr))
                                    .filter(|s| s.kind != FuncKind::Def)
                                    .cloned()
                                {
                                    if self.cx.externs.contains_key(attr)
                                        && self.cx.funcs.contains_key(attr)
                                    {
                                        // This module defines a function of
                                        // the same name (Cython mangles its C
                                        // name): the call is the module's.
                                        sig.ir_name = format!("{full}.{attr}");
                                    }
                                    return self.c_call(&sig, None, args, r);
                                }
                                let qualified = format!("{full}.{attr}");
                                return self.unknown_c_call(attr, &qualified, args, r);
                            }
                        }
                    }
                }
                if let Some(head) = value.name() {
                    if self.local(head).is_none() && self.cx.undeclared(head) {
                        // `python.PyDict_GetItem(...)` in an included .pxi:
                        // a module the including file cimports.
                        if let Some(p) = self.cx.cpython.get(attr) {
                            let sig = FuncSig::from_pxd(p);
                            return self.c_call(&sig, None, args, r);
                        }
                    }
                }
                let (b, class) = self.base_class(value);
                if let Some(class) = class {
                    if let Some(sig) = self.cx.method_call_sig(&class, attr) {
                        return self.c_call(&sig, Some(b), args, r);
                    }
                }
                if b.is_obj() {
                    let mut ops = vec![b.op, Operand::Str(attr.to_string())];
                    ops.extend(self.arg_ops(args));
                    let text = self.cx.text(r);
                    self.py_op("__pyx_call_method", ops, r, &text)
                } else {
                    // A C++ method or a function pointer in a struct.
                    self.unknown_c_call(attr, attr, args, r)
                }
            }
            _ => {
                let f = self.expr(func);
                if f.is_obj() {
                    self.py_call(f, args, r)
                } else {
                    let _ = self.arg_ops(args);
                    Val::opaque()
                }
            }
        }
    }

    fn arg_ops(&mut self, args: &'c [Arg]) -> Vec<Operand> {
        args.iter().map(|a| self.expr(a.expr()).op).collect()
    }

    fn py_call(&mut self, callee: Val, args: &'c [Arg], r: Rng) -> Val {
        let mut ops = vec![callee.op];
        ops.extend(self.arg_ops(args));
        let text = self.cx.text(r);
        self.py_op("__pyx_call", ops, r, &text)
    }

    /// A C function whose declaration this file does not contain (it is in
    /// a cimported .pxd): a redeclared C-API function is taken with
    /// Cython's own declaration of it; anything else is opaque: what it
    /// does to its object arguments and what it returns are unknown, so
    /// they stop being tracked.
    /// A call of a function whose declaration was not read (a module
    /// outside the project: numpy's own `.pxd` may declare it `object`, or
    /// a C++ method). It is named `qualified` (`numpy.PyArray_IterNew`), so
    /// that what the knowledge base says of the C function of that name is
    /// not taken for what Cython was told.
    fn unknown_c_call(&mut self, name: &str, qualified: &str, args: &'c [Arg], r: Rng) -> Val {
        if let Some(p) = self.cx.cpython.get(name) {
            let sig = FuncSig::from_pxd(p);
            return self.c_call(&sig, None, args, r);
        }
        let ops = self.arg_ops(args);
        let escaped: Vec<Operand> = ops
            .iter()
            .filter(|o| matches!(o, Operand::Var(_) | Operand::Field(..)))
            .cloned()
            .collect();
        let t = self.temp(TypeClass::Other, r);
        self.emit(
            StmtKind::Call {
                dst: Some(t),
                callee: Callee::Named(qualified.to_string()),
                args: ops,
            },
            r,
        );
        for op in escaped {
            let is_object = match &op {
                Operand::Var(v) => matches!(
                    self.b.var(*v).ty,
                    TypeClass::Object | TypeClass::ObjectPtrPtr
                ),
                _ => true,
            };
            if is_object && !self.in_nogil() {
                self.emit(StmtKind::Escape { value: op }, r);
            }
        }
        self.emit(
            StmtKind::Escape {
                value: Operand::Var(t),
            },
            r,
        );
        Val {
            op: Operand::Var(t),
            kind: VK::Unknown,
        }
    }

    /// A call of a C-level function with a known signature (a `cdef`
    /// function or method of the file, an extern, a `cpython` function).
    fn c_call(&mut self, sig: &FuncSig, self_arg: Option<Val>, args: &'c [Arg], r: Rng) -> Val {
        let mut slots: Vec<Option<Operand>> = Vec::new();
        let mut extra: Vec<Operand> = Vec::new();
        let offset = usize::from(self_arg.is_some());
        if let Some(s) = self_arg {
            slots.push(Some(s.op));
        }
        let mut pos = offset;
        for a in args {
            match a {
                Arg::Pos(x) => {
                    let class = sig.params.get(pos).map(|p| p.1);
                    let op = self.convert_arg(x, class);
                    if pos < slots.len() {
                        slots[pos] = Some(op);
                    } else {
                        slots.resize(pos, None);
                        slots.push(Some(op));
                    }
                    pos += 1;
                }
                Arg::Kw(name, x) => {
                    let idx = sig.params.iter().position(|(n, _)| n == name);
                    let class = idx.map(|i| sig.params[i].1);
                    let op = self.convert_arg(x, class);
                    match idx {
                        Some(i) => {
                            if i >= slots.len() {
                                slots.resize(i + 1, None);
                            }
                            slots[i] = Some(op);
                        }
                        None => extra.push(op),
                    }
                }
                Arg::Star(x) | Arg::StarStar(x) => {
                    let v = self.expr(x);
                    extra.push(v.op);
                }
            }
        }
        let mut ops: Vec<Operand> = slots
            .into_iter()
            .map(|s| s.unwrap_or(Operand::Opaque))
            .collect();
        ops.extend(extra);
        let text = self.cx.text(r);
        let name = sig.ir_name.clone();
        let ret = if self.in_nogil() && sig.ret == VClass::Managed {
            // No object results without the GIL: a misread signature.
            VClass::C(TypeClass::Other)
        } else {
            sig.ret
        };
        match ret {
            VClass::Managed => {
                let t = self.temp(TypeClass::Object, r);
                self.emit(
                    StmtKind::Call {
                        dst: Some(t),
                        callee: Callee::Named(name),
                        args: ops,
                    },
                    r,
                );
                self.exc_branch(Cond::IsNull(Operand::Var(t)), format!("{text} == NULL"), r);
                self.pending.push(Operand::Var(t));
                Val {
                    op: Operand::Var(t),
                    kind: VK::Obj(Own::Temp),
                }
            }
            VClass::C(TypeClass::Void) => {
                self.emit(
                    StmtKind::Call {
                        dst: None,
                        callee: Callee::Named(name),
                        args: ops,
                    },
                    r,
                );
                if sig.check != Check::None {
                    self.check_result(Check::ErrOccurred, None, &text, r);
                }
                Val::c(Operand::Opaque, TypeClass::Void)
            }
            other => {
                let t = self.temp(other.type_class(), r);
                self.emit(
                    StmtKind::Call {
                        dst: Some(t),
                        callee: Callee::Named(name),
                        args: ops,
                    },
                    r,
                );
                self.check_result(sig.check, Some(t), &text, r);
                let kind = match other {
                    VClass::Raw => VK::Raw,
                    VClass::C(tc) => VK::C(tc),
                    _ => VK::C(TypeClass::ObjectPtrPtr),
                };
                Val {
                    op: Operand::Var(t),
                    kind,
                }
            }
        }
    }

    /// An argument converted to what the parameter expects.
    fn convert_arg(&mut self, x: &'c Expr, class: Option<VClass>) -> Operand {
        let v = self.expr(x);
        let r = x.rng;
        match class {
            Some(VClass::Managed) => match v.kind {
                VK::C(_) if !matches!(v.op, Operand::Null) => {
                    // Cython converts the C value to a temporary object.
                    self.py_op("__pyx_build", vec![v.op], r, "conversion to object")
                        .op
                }
                _ => v.op,
            },
            Some(VClass::C(t)) if t != TypeClass::Pointer && v.is_obj() => {
                if matches!(v.op, Operand::Str(_)) {
                    return v.op;
                }
                self.convert_to_c(v, r).op
            }
            _ => v.op,
        }
    }

    /// The declared parameter class of a refcount macro, when `name` is
    /// Cython's (`cpython.ref`) or the file's own declaration; `None` when
    /// the name is something else (a local function of that name).
    fn refcount_param(&self, name: &str) -> Option<VClass> {
        if let Some(sig) = self.cx.externs.get(name) {
            return sig.params.first().map(|p| p.1);
        }
        if let Some(p) = self.cx.cpython_func(name) {
            return p.params.first().copied();
        }
        if self.cx.funcs.contains_key(name) || self.cx.cimports.contains_key(name) {
            return None;
        }
        // Not declared at all (it would not compile): as cpython.ref has it.
        self.cx
            .cpython
            .get(name)
            .and_then(|p| p.params.first().copied())
    }

    fn refcount_call(&mut self, op: RefOp, param: VClass, args: &'c [Arg], r: Rng) -> Val {
        let Some(a) = args.first() else {
            return Val::c(Operand::Opaque, TypeClass::Void);
        };
        let v = self.expr(a.expr());
        let raw_arg = !v.is_obj();
        let origin = if param == VClass::Managed && raw_arg {
            Origin::Macro(Origin::CYTHON_RAW_REFCOUNT.to_string())
        } else {
            Origin::Source
        };
        let value = v.op.clone();
        let sp = self.span(r);
        match op {
            RefOp::Incref | RefOp::XIncref => self.b.push(
                StmtKind::Incref {
                    value,
                    nullable: op == RefOp::XIncref,
                    revive: false,
                },
                sp,
                origin,
            ),
            RefOp::Decref | RefOp::XDecref => self.b.push(
                StmtKind::Decref {
                    value,
                    nullable: op == RefOp::XDecref,
                    clears: None,
                },
                sp,
                origin,
            ),
            RefOp::Clear => {
                let place = match &value {
                    Operand::Var(v) => Some(Place::Var(*v)),
                    Operand::Field(b, f) => Some(Place::Field(*b, f.clone())),
                    Operand::Global(g) => Some(Place::Global(g.clone())),
                    _ => None,
                };
                self.b.push(
                    StmtKind::Decref {
                        value,
                        nullable: true,
                        clears: place.clone(),
                    },
                    sp,
                    origin,
                );
                match place {
                    Some(Place::Var(v)) => self.emit(
                        StmtKind::Assign {
                            dst: v,
                            src: Operand::Null,
                        },
                        r,
                    ),
                    Some(p) => self.emit(
                        StmtKind::Store {
                            place: p,
                            value: Operand::Null,
                        },
                        r,
                    ),
                    None => {}
                }
            }
        }
        Val::c(Operand::Opaque, TypeClass::Void)
    }

    // ---- conditions ----------------------------------------------------------

    /// Lowers `e` as a branch condition: jumps to `t` when true, `f` when
    /// false, releasing the condition's temporaries first.
    pub fn cond(&mut self, e: &'c Expr, t: BlockId, f: BlockId) {
        if self.depth >= MAX_LOWER_DEPTH || self.stack.exceeded() {
            self.approximate(e.rng, "condition nested too deeply");
            self.branch(Cond::Unknown, t, f, e.rng);
            return;
        }
        self.depth += 1;
        self.cond_inner(e, t, f);
        self.depth -= 1;
    }

    fn branch(&mut self, cond: Cond, t: BlockId, f: BlockId, r: Rng) {
        let sp = self.span(r);
        let text = self.cx.text(r);
        self.b.terminate(
            Terminator::Branch {
                cond,
                then_bb: t,
                else_bb: f,
                text,
            },
            sp,
        );
    }

    fn cond_inner(&mut self, e: &'c Expr, t: BlockId, f: BlockId) {
        let r = e.rng;
        let mark = self.pending.len();
        match &e.kind {
            ExprKind::Unary {
                op: UnOp::Not,
                operand,
            } => return self.cond(operand, f, t),
            ExprKind::BoolOp { and, values } => {
                let n = values.len();
                for (i, v) in values.iter().enumerate() {
                    if i + 1 == n {
                        return self.cond(v, t, f);
                    }
                    let mid = self.new_block();
                    if *and {
                        self.cond(v, mid, f);
                    } else {
                        self.cond(v, t, mid);
                    }
                    self.b.switch_to(mid);
                }
                return;
            }
            ExprKind::Const(ConstKind::True) => {
                let sp = self.span(r);
                self.b.terminate(Terminator::Goto(t), sp);
                return;
            }
            ExprKind::Const(ConstKind::False | ConstKind::None | ConstKind::Null) => {
                let sp = self.span(r);
                self.b.terminate(Terminator::Goto(f), sp);
                return;
            }
            ExprKind::Compare { left, ops } if ops.len() == 1 => {
                let (k, right) = &ops[0];
                let l = self.expr(left);
                let rv = self.expr(right);
                let is_null = |v: &Val| matches!(v.op, Operand::Null) && v.kind == VK::Raw;
                let pointer = |v: &Val| {
                    matches!(v.kind, VK::Raw | VK::C(TypeClass::Pointer) | VK::Unknown)
                        && matches!(
                            v.op,
                            Operand::Var(_) | Operand::Field(..) | Operand::Global(_)
                        )
                };
                let null_test = if is_null(&rv) && pointer(&l) {
                    Some(l.op.clone())
                } else if is_null(&l) && pointer(&rv) {
                    Some(rv.op.clone())
                } else {
                    None
                };
                if let Some(p) = null_test {
                    self.release_pending_from(mark, r);
                    match k {
                        CmpKind::Eq | CmpKind::Is => self.branch(Cond::IsNull(p), t, f, r),
                        CmpKind::Ne | CmpKind::IsNot => self.branch(Cond::IsNull(p), f, t, r),
                        _ => self.branch(Cond::Unknown, t, f, r),
                    }
                    return;
                }
                if matches!(k, CmpKind::Is | CmpKind::IsNot) {
                    self.release_pending_from(mark, r);
                    self.branch(Cond::Unknown, t, f, r);
                    return;
                }
                if !l.is_obj() && !rv.is_obj() {
                    self.release_pending_from(mark, r);
                    let cmp = match k {
                        CmpKind::Lt => Some(CmpOp::Lt),
                        CmpKind::Le => Some(CmpOp::Le),
                        CmpKind::Gt => Some(CmpOp::Gt),
                        CmpKind::Ge => Some(CmpOp::Ge),
                        CmpKind::Eq => Some(CmpOp::Eq),
                        CmpKind::Ne => Some(CmpOp::Ne),
                        _ => None,
                    };
                    let cond = match (cmp, &l.op, &rv.op) {
                        (Some(c), Operand::Var(_), Operand::Int(k)) => {
                            Cond::Cmp(l.op.clone(), c, *k)
                        }
                        (Some(c), Operand::Int(k), Operand::Var(_)) => {
                            Cond::Cmp(rv.op.clone(), c.swap(), *k)
                        }
                        _ => Cond::Unknown,
                    };
                    self.branch(cond, t, f, r);
                    return;
                }
                let text = self.cx.text(r);
                let c = self.c_op("__pyx_compare", vec![l.op, rv.op], r, &text);
                self.release_pending_from(mark, r);
                self.branch(Cond::Cmp(c.op, CmpOp::Ne, 0), t, f, r);
                return;
            }
            _ => {}
        }
        let v = self.expr(e);
        let cond = match v.kind {
            VK::Raw | VK::C(TypeClass::Pointer) => match &v.op {
                Operand::Var(_) | Operand::Field(..) | Operand::Null | Operand::Global(_) => {
                    self.release_pending_from(mark, r);
                    return self.branch(Cond::IsNull(v.op.clone()), f, t, r);
                }
                _ => Cond::Unknown,
            },
            VK::C(_) | VK::Unknown => match &v.op {
                Operand::Var(_) => Cond::Cmp(v.op.clone(), CmpOp::Ne, 0),
                Operand::Int(k) => {
                    self.release_pending_from(mark, r);
                    let target = if *k != 0 { t } else { f };
                    let sp = self.span(r);
                    self.b.terminate(Terminator::Goto(target), sp);
                    return;
                }
                _ => Cond::Unknown,
            },
            VK::Obj(_) => {
                let text = self.cx.text(r);
                let c = self.c_op("__pyx_truth", vec![v.op], r, &text);
                Cond::Cmp(c.op, CmpOp::Ne, 0)
            }
        };
        self.release_pending_from(mark, r);
        self.branch(cond, t, f, r);
    }
}
