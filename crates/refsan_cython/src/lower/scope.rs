//! A function's local names, found before its body is lowered (Cython's
//! locals are function-scoped): `cdef` declarations with their types,
//! untyped names bound by assignment, `for`, `with`, `except ... as`,
//! imports and nested definitions, the names nested closures capture,
//! and the names declared `global`.

use super::{annotation_class, Cx};
use crate::ast::*;
use crate::types::VClass;
use refsan_ir::TypeClass;
use std::collections::{HashMap, HashSet};

pub(crate) struct LocalDecl<'a> {
    pub name: String,
    pub rng: Rng,
    pub declared: Option<CType>,
    /// Right-hand sides of the assignments to an untyped name.
    pub rhs: Vec<&'a Expr>,
    /// Bound by something other than a plain assignment (`for`, `with`).
    pub other_binding: bool,
    /// Assigned where the GIL is released: it must be a C variable.
    pub nogil_assigned: bool,
    /// The bounds of the `for NAME in range(...)` loops it is the target
    /// of: Cython makes it a C integer when they are all C integers.
    pub range_bounds: Vec<&'a Expr>,
}

#[derive(Default)]
pub(crate) struct Scope<'a> {
    pub locals: Vec<LocalDecl<'a>>,
    pub index: HashMap<String, usize>,
    pub globals: HashSet<String>,
    /// Names assigned anywhere in the body (parameters among them become
    /// owned by the function).
    pub assigned: HashSet<String>,
    /// Names read inside nested functions, lambdas and generator
    /// expressions: Cython keeps them in a closure.
    pub captured: HashSet<String>,
    /// Annotated names (`x: cython.int = 0`) and their annotation.
    pub ann: Vec<(usize, &'a Expr)>,
    /// Entered `with nogil:` (true) / `with gil:` (false) blocks.
    nogil: Vec<bool>,
}

const MAX_SCAN_DEPTH: u32 = 256;

impl<'a> Scope<'a> {
    pub fn collect(body: &'a [Stmt], fn_nogil: bool) -> Scope<'a> {
        let mut sc = Scope::default();
        if fn_nogil {
            sc.nogil.push(true);
        }
        sc.stmts(body, 0);
        sc
    }

    fn in_nogil(&self) -> bool {
        self.nogil.last().copied().unwrap_or(false)
    }

    fn declare(&mut self, name: &str, rng: Rng) -> usize {
        if let Some(i) = self.index.get(name) {
            return *i;
        }
        let i = self.locals.len();
        self.locals.push(LocalDecl {
            name: name.to_string(),
            rng,
            declared: None,
            rhs: Vec::new(),
            other_binding: false,
            nogil_assigned: false,
            range_bounds: Vec::new(),
        });
        self.index.insert(name.to_string(), i);
        i
    }

    fn stmts(&mut self, stmts: &'a [Stmt], depth: u32) {
        if depth > MAX_SCAN_DEPTH {
            return;
        }
        for s in stmts {
            self.stmt(s, depth + 1);
        }
    }

    fn stmt(&mut self, s: &'a Stmt, depth: u32) {
        match &s.kind {
            StmtKind::CDecl(vars) => {
                for v in vars {
                    let i = self.declare(&v.name, v.rng);
                    if self.locals[i].declared.is_none() {
                        self.locals[i].declared = Some(v.ty.clone());
                    }
                    if let Some(e) = &v.value {
                        self.expr(e, depth);
                        self.locals[i].rhs.push(e);
                        self.assigned.insert(v.name.clone());
                    }
                }
            }
            StmtKind::Assign { targets, value } => {
                self.expr(value, depth);
                for t in targets {
                    self.bind(t, Some(value), depth);
                }
            }
            StmtKind::AugAssign { target, value, .. } => {
                self.expr(value, depth);
                self.bind(target, None, depth);
            }
            StmtKind::AnnAssign {
                target,
                annotation,
                value,
            } => {
                if let Some(v) = value {
                    self.expr(v, depth);
                }
                if let ExprKind::Name(n) = &target.kind {
                    let i = self.declare(n, target.rng);
                    // Resolved against the type environment later.
                    self.ann.push((i, annotation));
                    if value.is_some() {
                        self.assigned.insert(n.clone());
                    }
                } else {
                    self.expr(target, depth);
                }
            }
            StmtKind::Expr(e) => self.expr(e, depth),
            StmtKind::Return(Some(e)) => self.expr(e, depth),
            StmtKind::Raise { exc, cause } => {
                if let Some(e) = exc {
                    self.expr(e, depth);
                }
                if let Some(e) = cause {
                    self.expr(e, depth);
                }
            }
            StmtKind::Assert { test, msg } => {
                self.expr(test, depth);
                if let Some(m) = msg {
                    self.expr(m, depth);
                }
            }
            StmtKind::If { branches, orelse } => {
                for (t, b) in branches {
                    self.expr(t, depth);
                    self.stmts(b, depth);
                }
                self.stmts(orelse, depth);
            }
            StmtKind::While { test, body, orelse } => {
                self.expr(test, depth);
                self.stmts(body, depth);
                self.stmts(orelse, depth);
            }
            StmtKind::For {
                target,
                iter,
                body,
                orelse,
            } => {
                self.expr(iter, depth);
                match (range_bounds(iter), &target.kind) {
                    (Some(bounds), ExprKind::Name(n)) => {
                        let i = self.declare(n, target.rng);
                        self.locals[i].range_bounds.extend(bounds);
                        if self.in_nogil() {
                            self.locals[i].nogil_assigned = true;
                        }
                        self.assigned.insert(n.clone());
                    }
                    _ => self.bind(target, None, depth),
                }
                self.stmts(body, depth);
                self.stmts(orelse, depth);
            }
            StmtKind::ForFrom {
                target,
                bounds,
                body,
                orelse,
            } => {
                for b in bounds {
                    self.expr(b, depth);
                }
                self.bind(target, None, depth);
                self.stmts(body, depth);
                self.stmts(orelse, depth);
            }
            StmtKind::Try {
                body,
                handlers,
                orelse,
                finalbody,
            } => {
                self.stmts(body, depth);
                for h in handlers {
                    if let Some(t) = &h.types {
                        self.expr(t, depth);
                    }
                    if let Some((n, r)) = &h.name {
                        let i = self.declare(n, *r);
                        self.locals[i].other_binding = true;
                        self.assigned.insert(n.clone());
                    }
                    self.stmts(&h.body, depth);
                }
                self.stmts(orelse, depth);
                if let Some(f) = finalbody {
                    self.stmts(f, depth);
                }
            }
            StmtKind::With { items, body } => {
                for it in items {
                    self.expr(&it.ctx, depth);
                    if let Some(t) = &it.target {
                        self.bind(t, None, depth);
                    }
                }
                self.stmts(body, depth);
            }
            StmtKind::Gil { body, nogil } => {
                self.nogil.push(*nogil);
                self.stmts(body, depth);
                self.nogil.pop();
            }
            StmtKind::Property { body, .. } => self.stmts(body, depth),
            StmtKind::Del(targets) => {
                for t in targets {
                    self.expr(t, depth);
                }
            }
            StmtKind::Global(names) | StmtKind::Nonlocal(names) => {
                self.globals.extend(names.iter().cloned());
            }
            StmtKind::Func(f) => {
                let i = self.declare(&f.name, f.name_rng);
                self.locals[i].other_binding = true;
                self.assigned.insert(f.name.clone());
                for p in &f.params {
                    if let Some(d) = &p.default {
                        self.expr(d, depth);
                    }
                }
                for d in &f.decorators {
                    self.expr(d, depth);
                }
                if let Some(b) = &f.body {
                    let mut names = HashSet::new();
                    names_in_stmts(b, &mut names, depth);
                    self.captured.extend(names);
                }
            }
            StmtKind::Class(c) => {
                let i = self.declare(&c.name, c.name_rng);
                self.locals[i].other_binding = true;
                self.assigned.insert(c.name.clone());
                let mut names = HashSet::new();
                names_in_stmts(&c.body, &mut names, depth);
                self.captured.extend(names);
            }
            StmtKind::Import { names, .. } => {
                for (m, alias) in names {
                    let n = alias
                        .clone()
                        .unwrap_or_else(|| m.split('.').next().unwrap_or(m).to_string());
                    if n == "*" {
                        continue;
                    }
                    let i = self.declare(&n, s.rng);
                    self.locals[i].other_binding = true;
                    self.assigned.insert(n);
                }
            }
            StmtKind::Return(None)
            | StmtKind::Pass
            | StmtKind::Break
            | StmtKind::Continue
            | StmtKind::Extern(_)
            | StmtKind::TypeDecl(_)
            | StmtKind::CImport { .. }
            | StmtKind::Include(_)
            | StmtKind::Error { .. } => {}
        }
    }

    fn bind(&mut self, t: &'a Expr, rhs: Option<&'a Expr>, depth: u32) {
        if depth > MAX_SCAN_DEPTH {
            return;
        }
        match &t.kind {
            ExprKind::Name(n) => {
                let i = self.declare(n, t.rng);
                match rhs {
                    Some(r) => self.locals[i].rhs.push(r),
                    None => self.locals[i].other_binding = true,
                }
                if self.in_nogil() {
                    self.locals[i].nogil_assigned = true;
                }
                self.assigned.insert(n.clone());
            }
            ExprKind::Tuple(items) | ExprKind::List(items) => {
                for it in items {
                    self.bind(it, None, depth + 1);
                }
            }
            ExprKind::Starred(x) => self.bind(x, None, depth + 1),
            _ => self.expr(t, depth),
        }
    }

    /// Walrus targets, closures and generator expressions inside an
    /// expression.
    fn expr(&mut self, e: &'a Expr, depth: u32) {
        if depth > MAX_SCAN_DEPTH {
            return;
        }
        match &e.kind {
            ExprKind::Walrus { target, value } => {
                let i = self.declare(target, e.rng);
                self.locals[i].rhs.push(value);
                self.assigned.insert(target.clone());
                self.expr(value, depth + 1);
            }
            ExprKind::Lambda { params, body } => {
                for p in params {
                    if let Some(d) = &p.default {
                        self.expr(d, depth + 1);
                    }
                }
                let mut names = HashSet::new();
                names_in_expr(body, &mut names, depth);
                self.captured.extend(names);
            }
            ExprKind::Comp {
                kind: CompKind::Generator,
                elts,
                generators,
            } => {
                // The first iterable is evaluated here; the rest runs later
                // in a closure.
                if let Some(g) = generators.first() {
                    self.expr(&g.iter, depth + 1);
                }
                let mut names = HashSet::new();
                for x in elts {
                    names_in_expr(x, &mut names, depth);
                }
                for (k, g) in generators.iter().enumerate() {
                    if k > 0 {
                        names_in_expr(&g.iter, &mut names, depth);
                    }
                    for c in &g.ifs {
                        names_in_expr(c, &mut names, depth);
                    }
                }
                self.captured.extend(names);
            }
            _ => e.for_each_child(&mut |c| self.expr(c, depth + 1)),
        }
    }
}

/// Every name read in an expression (over-approximates the free names).
pub(crate) fn names_in_expr(e: &Expr, out: &mut HashSet<String>, depth: u32) {
    if depth > MAX_SCAN_DEPTH {
        return;
    }
    if let ExprKind::Name(n) = &e.kind {
        out.insert(n.clone());
    }
    e.for_each_child(&mut |c| names_in_expr(c, out, depth + 1));
}

fn names_in_stmts(stmts: &[Stmt], out: &mut HashSet<String>, depth: u32) {
    if depth > MAX_SCAN_DEPTH {
        return;
    }
    for s in stmts {
        let d = depth + 1;
        match &s.kind {
            StmtKind::Expr(e) | StmtKind::Return(Some(e)) => names_in_expr(e, out, d),
            StmtKind::Assign { targets, value } => {
                names_in_expr(value, out, d);
                for t in targets {
                    names_in_expr(t, out, d);
                }
            }
            StmtKind::AugAssign { target, value, .. } => {
                names_in_expr(target, out, d);
                names_in_expr(value, out, d);
            }
            StmtKind::AnnAssign { target, value, .. } => {
                names_in_expr(target, out, d);
                if let Some(v) = value {
                    names_in_expr(v, out, d);
                }
            }
            StmtKind::CDecl(vars) => {
                for v in vars {
                    if let Some(x) = &v.value {
                        names_in_expr(x, out, d);
                    }
                }
            }
            StmtKind::Raise { exc, cause } => {
                for x in [exc, cause].into_iter().flatten() {
                    names_in_expr(x, out, d);
                }
            }
            StmtKind::Assert { test, msg } => {
                names_in_expr(test, out, d);
                if let Some(m) = msg {
                    names_in_expr(m, out, d);
                }
            }
            StmtKind::If { branches, orelse } => {
                for (t, b) in branches {
                    names_in_expr(t, out, d);
                    names_in_stmts(b, out, d);
                }
                names_in_stmts(orelse, out, d);
            }
            StmtKind::While { test, body, orelse } => {
                names_in_expr(test, out, d);
                names_in_stmts(body, out, d);
                names_in_stmts(orelse, out, d);
            }
            StmtKind::For {
                target,
                iter,
                body,
                orelse,
            } => {
                names_in_expr(target, out, d);
                names_in_expr(iter, out, d);
                names_in_stmts(body, out, d);
                names_in_stmts(orelse, out, d);
            }
            StmtKind::ForFrom { body, orelse, .. } => {
                names_in_stmts(body, out, d);
                names_in_stmts(orelse, out, d);
            }
            StmtKind::Try {
                body,
                handlers,
                orelse,
                finalbody,
            } => {
                names_in_stmts(body, out, d);
                for h in handlers {
                    names_in_stmts(&h.body, out, d);
                }
                names_in_stmts(orelse, out, d);
                if let Some(f) = finalbody {
                    names_in_stmts(f, out, d);
                }
            }
            StmtKind::With { items, body } => {
                for it in items {
                    names_in_expr(&it.ctx, out, d);
                }
                names_in_stmts(body, out, d);
            }
            StmtKind::Gil { body, .. } | StmtKind::Property { body, .. } => {
                names_in_stmts(body, out, d);
            }
            StmtKind::Del(ts) => {
                for t in ts {
                    names_in_expr(t, out, d);
                }
            }
            StmtKind::Func(f) => {
                if let Some(b) = &f.body {
                    names_in_stmts(b, out, d);
                }
            }
            StmtKind::Class(c) => names_in_stmts(&c.body, out, d),
            StmtKind::Global(n) | StmtKind::Nonlocal(n) => out.extend(n.iter().cloned()),
            _ => {}
        }
    }
}

/// The class of every local: declared types as written; untyped names
/// from what is assigned to them (Cython's "safe" inference keeps pointers
/// and doubles as C values, everything else is an object).
pub(crate) fn resolve_classes(
    sc: &Scope,
    cx: &Cx,
    params: &HashMap<String, VClass>,
    param_types: &HashMap<String, String>,
) -> Vec<VClass> {
    let mut classes: Vec<Option<VClass>> = sc
        .locals
        .iter()
        .map(|l| {
            l.declared
                .as_ref()
                .map(|t| literal_refines(cx, t, cx.env.classify(t), &l.rhs))
        })
        .collect();
    for (i, ann) in &sc.ann {
        if classes[*i].is_none() {
            classes[*i] = Some(annotation_class(ann, &cx.env));
        }
    }
    // Untyped names: two rounds so `p = <PyObject*>o; q = p` settles.
    let mut inferred: Vec<Option<VClass>> = classes.clone();
    for _ in 0..2 {
        for (i, l) in sc.locals.iter().enumerate() {
            if classes[i].is_some() {
                continue;
            }
            if l.nogil_assigned {
                // Assigned without the GIL: Cython gives it a C type.
                let hint = l
                    .rhs
                    .iter()
                    .map(|r| infer(r, sc, cx, params, param_types, &inferred))
                    .find(|c| !matches!(c, VClass::Managed));
                inferred[i] = Some(hint.unwrap_or(VClass::C(TypeClass::Other)));
                continue;
            }
            if !l.range_bounds.is_empty() && !l.other_binding {
                // `for i in range(n)` with C integer bounds (and nothing
                // but C integers assigned to it otherwise): a C integer.
                let c_int = |e: &Expr| {
                    matches!(
                        bound_class(e, sc, cx, params, param_types, &inferred),
                        VClass::C(TypeClass::Int)
                    )
                };
                if l.range_bounds.iter().all(|e| c_int(e)) && l.rhs.iter().all(|e| c_int(e)) {
                    inferred[i] = Some(VClass::C(TypeClass::Int));
                    continue;
                }
                inferred[i] = Some(VClass::Managed);
                continue;
            }
            if l.other_binding || l.rhs.is_empty() {
                inferred[i] = Some(VClass::Managed);
                continue;
            }
            // Cython gives a name one type for all its assignments: a
            // pointer or C value assigned anywhere makes it that (mixing
            // with objects would not compile; the "object" assignments are
            // then calls this file cannot see the declaration of).
            let mut c = VClass::Managed;
            for r in &l.rhs {
                let k = infer(r, sc, cx, params, param_types, &inferred);
                if k != VClass::Managed {
                    c = k;
                    break;
                }
            }
            inferred[i] = Some(c);
        }
    }
    inferred
        .into_iter()
        .map(|c| c.unwrap_or(VClass::Managed))
        .collect()
}

/// `p.attr` for a parameter `p` of a known cdef class: the attribute.
fn param_attr<'x>(
    value: &Expr,
    attr: &str,
    sc: &Scope,
    cx: &'x Cx,
    param_types: &HashMap<String, String>,
) -> Option<&'x super::Attr> {
    let p = value.name().filter(|p| !sc.index.contains_key(*p))?;
    cx.attr(param_types.get(p)?, attr)
}

/// The C class of a loop bound as Cython types it (an integer stays an
/// integer here, unlike in the inference of assigned names).
fn bound_class(
    e: &Expr,
    sc: &Scope,
    cx: &Cx,
    params: &HashMap<String, VClass>,
    param_types: &HashMap<String, String>,
    known: &[Option<VClass>],
) -> VClass {
    match &e.kind {
        ExprKind::Name(n) => {
            if let Some(i) = sc.index.get(n) {
                return known[*i].unwrap_or(VClass::Managed);
            }
            params
                .get(n)
                .or_else(|| cx.cdef_globals.get(n))
                .copied()
                .unwrap_or(VClass::Managed)
        }
        ExprKind::Attr { value, attr, .. } => {
            param_attr(value, attr, sc, cx, param_types).map_or(VClass::Managed, |a| a.class)
        }
        ExprKind::Cast { ty, .. } => cx.env.classify(ty),
        _ => infer(e, sc, cx, params, param_types, known),
    }
}

/// The positional arguments of `range(...)`/`xrange(...)`/`prange(...)`.
fn range_bounds(iter: &Expr) -> Option<Vec<&Expr>> {
    let ExprKind::Call { func, args } = &iter.kind else {
        return None;
    };
    let name = func.dotted()?;
    let last = name.rsplit('.').next().unwrap_or(&name);
    if !matches!(last, "range" | "xrange" | "prange") {
        return None;
    }
    let bounds: Vec<&Expr> = args
        .iter()
        .filter_map(|a| match a {
            Arg::Pos(e) => Some(e),
            _ => None,
        })
        .collect();
    (!bounds.is_empty()).then_some(bounds)
}

/// A declaration of a type this file does not know, initialised with a
/// number (`cdef vint n = 0`): a C typedef, not an extension type.
pub(crate) fn literal_refines(cx: &Cx, t: &CType, c: VClass, init: &[&Expr]) -> VClass {
    let numeric = |e: &Expr| match &e.kind {
        ExprKind::Int(_) | ExprKind::Float => true,
        ExprKind::Unary { operand, .. } => {
            matches!(operand.kind, ExprKind::Int(_) | ExprKind::Float)
        }
        _ => false,
    };
    if c == VClass::Managed && !cx.env.is_known_object(t) && init.iter().any(|e| numeric(e)) {
        VClass::C(TypeClass::Other)
    } else {
        c
    }
}

fn narrow(c: VClass) -> VClass {
    match c {
        VClass::Raw | VClass::RawPtrPtr | VClass::C(TypeClass::Pointer | TypeClass::Other) => c,
        _ => VClass::Managed,
    }
}

fn infer(
    e: &Expr,
    sc: &Scope,
    cx: &Cx,
    params: &HashMap<String, VClass>,
    param_types: &HashMap<String, String>,
    known: &[Option<VClass>],
) -> VClass {
    match &e.kind {
        // `self.n`: a typed attribute of a parameter's cdef class.
        ExprKind::Attr { value, attr, .. } => param_attr(value, attr, sc, cx, param_types)
            .map_or(VClass::Managed, |a| narrow(a.class)),
        ExprKind::Cast { ty, .. } => narrow(cx.env.classify(ty)),
        ExprKind::AddrOf(_) => VClass::C(TypeClass::Pointer),
        ExprKind::Float => VClass::C(TypeClass::Other),
        ExprKind::Name(n) => {
            if let Some(i) = sc.index.get(n) {
                return known[*i].map(narrow).unwrap_or(VClass::Managed);
            }
            if let Some(c) = params.get(n) {
                return narrow(*c);
            }
            cx.cdef_globals
                .get(n)
                .copied()
                .map(narrow)
                .unwrap_or(VClass::Managed)
        }
        ExprKind::Call { func, .. } => {
            if let ExprKind::Attr { value, attr, .. } = &func.kind {
                // `python.PyDict_GetItem(...)`: a cimported (or, in a .pxi,
                // undeclared) module's C-API function.
                let head_is_module = value.name().is_some_and(|h| {
                    !sc.index.contains_key(h)
                        && !params.contains_key(h)
                        && (cx.cimported_module(h).is_some() || cx.undeclared(h))
                });
                if head_is_module {
                    if let Some(p) = cx.cpython.get(attr) {
                        return narrow(p.ret);
                    }
                }
                return VClass::Managed;
            }
            let Some(n) = func.name() else {
                return VClass::Managed;
            };
            if sc.index.contains_key(n) || params.contains_key(n) {
                return VClass::Managed;
            }
            if let Some(s) = cx.externs.get(n).or_else(|| cx.funcs.get(n)) {
                return narrow(s.ret);
            }
            if let Some(p) = cx.cpython_func(n) {
                return narrow(p.ret);
            }
            VClass::Managed
        }
        _ => VClass::Managed,
    }
}
