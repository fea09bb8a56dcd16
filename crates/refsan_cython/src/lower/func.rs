//! Lowering of one function: its variables, Cython's own reference
//! handling made explicit (`Origin::Managed`), statements, exception
//! edges, `try`/`finally`, loops and `with nogil`.

use super::scope::{resolve_classes, Scope};
use super::{param_class, param_class_in, special_return, Check, Cx, FuncSig};
use crate::ast::{
    Arg, BinOp, ConstKind, Expr, ExprKind, FuncDef, FuncKind, Handler, Rng, Stmt as AStmt,
    StmtKind as AK, WithItem,
};
use crate::stack::{StackGuard, LOWER_STACK};
use crate::types::VClass;
use refsan_ir::*;
use std::collections::{HashMap, HashSet};

/// How ownership of a lowered value stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Own {
    /// A new reference held by a temporary Cython releases after the
    /// statement (it is in `pending`).
    Temp,
    /// `<object>p`: the cast took a reference for whoever receives it
    /// (it is in `pending` until someone does).
    Cast,
    /// Somebody else's reference (a variable, parameter, attribute,
    /// global or constant).
    Borrowed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum VK {
    Obj(Own),
    Raw,
    C(TypeClass),
    /// A value the front-end cannot classify (results of unknown C
    /// functions): never tracked.
    Unknown,
}

#[derive(Clone, Debug)]
pub(crate) struct Val {
    pub op: Operand,
    pub kind: VK,
}

impl Val {
    pub fn c(op: Operand, t: TypeClass) -> Val {
        Val { op, kind: VK::C(t) }
    }
    pub fn opaque() -> Val {
        Val {
            op: Operand::Opaque,
            kind: VK::Unknown,
        }
    }
    pub fn borrowed(op: Operand) -> Val {
        Val {
            op,
            kind: VK::Obj(Own::Borrowed),
        }
    }
    pub fn is_obj(&self) -> bool {
        matches!(self.kind, VK::Obj(_))
    }
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Local {
    pub id: VarId,
    pub class: VClass,
}

/// Where an exception goes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct HandlerCtx {
    /// `None` for the function's own error exit, created on first use.
    pub block: Option<BlockId>,
    pub held_len: usize,
    pub gil_len: usize,
    pub returning_len: usize,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct LoopCtx {
    pub break_bb: BlockId,
    pub continue_bb: BlockId,
    pub held_len: usize,
    pub gil_len: usize,
    pub finally_len: usize,
}

/// Code that runs when a region is left by `return`/`break`/`continue`.
#[derive(Clone, Debug)]
pub(crate) enum FinBody<'a> {
    Stmts(&'a [AStmt]),
    /// A `with` block's `__exit__` (the bound method's operand).
    WithExit(Operand, Rng),
}

#[derive(Clone, Debug)]
pub(crate) struct FinallyCtx<'a> {
    pub body: FinBody<'a>,
    pub handler_len: usize,
    pub loop_len: usize,
    pub held_len: usize,
    pub gil_len: usize,
}

/// What the function returns, and how it reports an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RetKind {
    Object,
    Raw,
    C(TypeClass),
    Void,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ErrExit {
    /// Return this value (NULL, -1...).
    Value(ErrValue),
    /// The function cannot raise: Cython writes the exception as
    /// unraisable and returns this.
    Unraisable(ErrValue),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ErrValue {
    Null,
    Int(i64),
    None,
}

pub(crate) struct Lowered {
    pub func: Function,
    pub synth: HashSet<&'static str>,
    pub pxd: HashSet<String>,
}

/// Limits that keep one pathological function from costing the file.
const MAX_BLOCKS: usize = 40_000;
pub(crate) const MAX_LOWER_DEPTH: u32 = 160;

pub(crate) struct FnLower<'c, 'a> {
    pub cx: &'c Cx<'a>,
    pub b: FunctionBuilder,
    pub class: Option<String>,
    pub vars: HashMap<String, Local>,
    pub managed: Vec<VarId>,
    pub closure: HashSet<String>,
    pub globals: HashSet<String>,
    pub ret: RetKind,
    pub err_exit: ErrExit,
    pub err_bb: Option<BlockId>,
    pub handlers: Vec<HandlerCtx>,
    pub loops: Vec<LoopCtx>,
    pub finallies: Vec<FinallyCtx<'c>>,
    /// Entered `with nogil` (true) / `with gil` (false) regions.
    pub gil: Vec<bool>,
    /// Temporaries that live across statements (iterators, `__exit__`).
    pub held: Vec<Operand>,
    /// Return values waiting for `finally` blocks to run.
    pub returning: Vec<Operand>,
    /// References owned by the current statement's temporaries.
    pub pending: Vec<Operand>,
    pub depth: u32,
    pub synth: HashSet<&'static str>,
    pub pxd: HashSet<String>,
    pub self_var: Option<VarId>,
    pub too_big: bool,
    pub nblocks: usize,
    /// Where the function exits when it falls off its end or raises: the
    /// last statement of its body (findings about leaks at exit point
    /// there).
    pub exit_rng: Rng,
    /// A `cdef ... nogil` function: its body may run without the GIL.
    pub fn_nogil: bool,
    pub stack: StackGuard,
}

pub(crate) fn lower_function<'c, 'a>(
    cx: &'c Cx<'a>,
    f: &'c FuncDef,
    class: Option<&str>,
    ir_name: String,
) -> Lowered {
    let mut b = FunctionBuilder::new(ir_name.clone(), cx.span(f.rng), cx.span(f.name_rng));
    let in_cdef_class = class.is_some_and(|c| cx.classes.get(c).is_some_and(|i| i.cdef));
    let sig = match class {
        Some(c) => cx
            .classes
            .get(c)
            .and_then(|i| i.methods.get(&f.name))
            .cloned()
            .unwrap_or_else(|| FuncSig::from_def(f, &cx.env, ir_name.clone(), false)),
        None => cx
            .funcs
            .get(&f.name)
            .cloned()
            .unwrap_or_else(|| FuncSig::from_def(f, &cx.env, ir_name.clone(), false)),
    };
    let special = if in_cdef_class {
        special_return(&f.name)
    } else {
        None
    };
    let ret_class = match f.kind {
        FuncKind::Def => special.unwrap_or(VClass::Managed),
        _ => sig.ret,
    };
    let ret = match ret_class {
        VClass::Managed => RetKind::Object,
        VClass::Raw => RetKind::Raw,
        VClass::RawPtrPtr => RetKind::C(TypeClass::ObjectPtrPtr),
        VClass::C(TypeClass::Void) => RetKind::Void,
        VClass::C(t) => RetKind::C(t),
    };
    let ret_text = match (&f.ret, ret) {
        (Some(t), _) if !t.text.is_empty() => t.text.clone(),
        (_, RetKind::Object) => "object".to_string(),
        (_, RetKind::Void) => "void".to_string(),
        (_, RetKind::C(_)) => "int".to_string(),
        _ => String::new(),
    };
    b.set_returns(ret_class.type_class(), ret_text);
    let python_facing = matches!(f.kind, FuncKind::Def | FuncKind::Cpdef)
        && !(in_cdef_class && matches!(f.name.as_str(), "__dealloc__" | "__releasebuffer__"));
    b.set_role(if python_facing {
        Role::PythonFacing
    } else {
        Role::Plain
    });
    b.set_static(
        f.kind == FuncKind::Cdef && !f.modifiers.iter().any(|m| m == "public" || m == "api"),
    );
    let err_exit = error_exit(f, ret, in_cdef_class, &sig);
    let body = f.body.as_deref().unwrap_or(&[]);
    let scope = Scope::collect(body, f.nogil && !f.with_gil);

    let mut lw = FnLower {
        cx,
        b,
        class: class.map(str::to_string),
        vars: HashMap::new(),
        managed: Vec::new(),
        closure: HashSet::new(),
        globals: scope.globals.clone(),
        ret,
        err_exit,
        err_bb: None,
        handlers: vec![HandlerCtx {
            block: None,
            held_len: 0,
            gil_len: 0,
            returning_len: 0,
        }],
        loops: Vec::new(),
        finallies: Vec::new(),
        gil: Vec::new(),
        held: Vec::new(),
        returning: Vec::new(),
        pending: Vec::new(),
        depth: 0,
        synth: HashSet::new(),
        pxd: HashSet::new(),
        self_var: None,
        too_big: false,
        nblocks: 1,
        exit_rng: body.last().map_or(f.name_rng, last_line),
        fn_nogil: f.nogil && !f.with_gil,
        stack: StackGuard::here(LOWER_STACK),
    };
    if ret == RetKind::Object && f.kind == FuncKind::Cdef && !has_raw_param(f, cx) {
        lw.b.set_declared(
            Contract {
                returns: Returns::New,
                failure: Failure::Null,
                args: Vec::new(),
                exc: ExcEffect::OnFailure,
                noreturn: false,
            },
            ContractSource::Declaration,
        );
    }
    lw.declare_params(f, class, &scope);
    lw.declare_locals(&scope);
    lw.stmts(body);
    if lw.b.is_open() {
        let end = lw.exit_rng;
        lw.implicit_return(end);
    }
    if lw.too_big {
        let sp = cx.span(f.rng);
        lw.b.mark_approximate(
            sp,
            "the function is too large to lower completely; some paths were cut",
        );
    }
    let end_span = cx.span(Rng {
        start: f.rng.end,
        end: f.rng.end,
    });
    let mut func = lw.b.finish(end_span);
    if func.declared.is_some() && releases_a_parameter(&func) {
        // `Py_DECREF(self)` and the like: an ownership protocol across
        // functions; let the engine infer what this one does.
        func.declared = None;
    }
    Lowered {
        func,
        synth: lw.synth,
        pxd: lw.pxd,
    }
}

/// The last simple statement of `s` (the last line that runs when the
/// function falls off its end).
fn last_line(s: &AStmt) -> Rng {
    let inner: Option<&AStmt> = match &s.kind {
        AK::If { branches, orelse } => orelse
            .last()
            .or_else(|| branches.last().and_then(|(_, b)| b.last())),
        AK::While { body, orelse, .. }
        | AK::For { body, orelse, .. }
        | AK::ForFrom { body, orelse, .. } => orelse.last().or(body.last()),
        AK::Try {
            body,
            handlers,
            orelse,
            finalbody,
        } => finalbody
            .as_ref()
            .and_then(|f| f.last())
            .or(orelse.last())
            .or_else(|| handlers.last().and_then(|h| h.body.last()))
            .or(body.last()),
        AK::With { body, .. } | AK::Gil { body, .. } => body.last(),
        _ => None,
    };
    match inner {
        Some(i) => last_line(i),
        None => s.rng,
    }
}

/// True when the author's code releases one of the parameters.
fn releases_a_parameter(f: &Function) -> bool {
    f.blocks.iter().flat_map(|b| &b.stmts).any(|s| {
        matches!(
            (&s.kind, &s.origin),
            (
                StmtKind::Decref {
                    value: Operand::Var(v),
                    ..
                },
                Origin::Source | Origin::Macro(_),
            ) if matches!(f.vars[v.index()].kind, VarKind::Param(_))
        )
    })
}

fn has_raw_param(f: &FuncDef, cx: &Cx) -> bool {
    f.params
        .iter()
        .any(|p| matches!(param_class(p, &cx.env), VClass::Raw | VClass::RawPtrPtr))
}

fn error_exit(f: &FuncDef, ret: RetKind, in_cdef_class: bool, sig: &FuncSig) -> ErrExit {
    let default = match ret {
        RetKind::Object | RetKind::Raw => ErrValue::Null,
        RetKind::C(TypeClass::Pointer | TypeClass::ObjectPtrPtr) => ErrValue::Null,
        RetKind::C(_) => ErrValue::Int(0),
        RetKind::Void => ErrValue::None,
    };
    if in_cdef_class && matches!(f.name.as_str(), "__dealloc__" | "__releasebuffer__") {
        return ErrExit::Unraisable(ErrValue::None);
    }
    if f.kind == FuncKind::Def {
        return ErrExit::Value(match ret {
            RetKind::Object => ErrValue::Null,
            RetKind::C(_) => ErrValue::Int(-1),
            _ => ErrValue::None,
        });
    }
    match sig.check {
        Check::None => ErrExit::Unraisable(default),
        Check::Null | Check::NullMaybe => ErrExit::Value(ErrValue::Null),
        Check::Value(v) | Check::ValueMaybe(v) => ErrExit::Value(ErrValue::Int(v)),
        Check::ErrOccurred => ErrExit::Value(default),
    }
}

impl<'c, 'a> FnLower<'c, 'a> {
    // ---- small helpers ---------------------------------------------------

    pub fn span(&self, r: Rng) -> Span {
        self.cx.span(r)
    }

    pub fn emit(&mut self, kind: StmtKind, r: Rng) {
        let sp = self.span(r);
        self.b.push(kind, sp, Origin::Source);
    }

    pub fn emit_managed(&mut self, kind: StmtKind, r: Rng, op: ManagedOp) {
        let sp = self.span(r);
        self.b.push(kind, sp, Origin::Managed(op));
    }

    pub fn temp(&mut self, ty: TypeClass, r: Rng) -> VarId {
        let sp = self.span(r);
        self.b.new_temp(ty, sp)
    }

    pub fn approximate(&mut self, r: Rng, why: &str) {
        let sp = self.span(r);
        self.b.mark_approximate(sp, why);
    }

    fn over_budget(&mut self) -> bool {
        if self.nblocks > MAX_BLOCKS {
            self.too_big = true;
        }
        self.too_big
    }

    pub fn new_block(&mut self) -> BlockId {
        self.nblocks += 1;
        self.b.new_block()
    }

    /// Removes `op` from the references the statement still owns: its
    /// ownership moves to whoever takes it.
    pub fn take(&mut self, op: &Operand) -> bool {
        if let Some(i) = self.pending.iter().rposition(|p| p == op) {
            self.pending.remove(i);
            true
        } else {
            false
        }
    }

    /// Cython releases the statement's temporaries.
    pub fn release_pending(&mut self, r: Rng) {
        let pending = std::mem::take(&mut self.pending);
        for op in pending {
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

    // ---- variables -----------------------------------------------------

    fn declare_params(&mut self, f: &FuncDef, class: Option<&str>, scope: &Scope) {
        let mut first = true;
        let static_like = f
            .decorators
            .iter()
            .any(|d| matches!(d.dotted().as_deref(), Some("staticmethod" | "classmethod")));
        let mut to_incref = Vec::new();
        for p in &f.params {
            if p.star == 3 || (p.star == 1 && p.name.is_empty()) || p.name == "..." {
                continue;
            }
            let is_self = first && class.is_some() && !static_like;
            first = false;
            let class_v = if is_self {
                VClass::Managed
            } else {
                param_class_in(p, &self.cx.env, self.fn_nogil)
            };
            let c_type = if is_self {
                class.unwrap_or("object").to_string()
            } else {
                match &p.ty {
                    Some(t) if !t.text.is_empty() => t.text.clone(),
                    _ => "object".to_string(),
                }
            };
            let name = if p.name.is_empty() {
                format!("arg{}", self.b.vars().len())
            } else {
                p.name.clone()
            };
            let sp = self.span(p.rng);
            let id = self
                .b
                .add_param(name.clone(), class_v.type_class(), c_type, sp);
            if is_self {
                self.self_var = Some(id);
            }
            self.vars.insert(name.clone(), Local { id, class: class_v });
            if class_v == VClass::Managed && scope.assigned.contains(&name) {
                to_incref.push((id, p.rng));
            }
            if scope.captured.contains(&name) {
                self.closure.insert(name);
            }
        }
        // A parameter the body assigns to: Cython takes its own reference
        // at entry and manages it like a local from then on.
        for (id, r) in to_incref {
            self.emit_managed(
                StmtKind::Incref {
                    value: Operand::Var(id),
                    nullable: false,
                },
                r,
                ManagedOp::AssignIncref,
            );
            self.b.set_managed(id, true);
            self.managed.push(id);
        }
        let closure_params: Vec<VarId> = self
            .vars
            .iter()
            .filter(|(n, _)| self.closure.contains(*n))
            .map(|(_, l)| l.id)
            .collect();
        for id in closure_params {
            self.emit(
                StmtKind::Escape {
                    value: Operand::Var(id),
                },
                f.name_rng,
            );
        }
    }

    fn declare_locals(&mut self, scope: &Scope) {
        let params: HashMap<String, VClass> = self
            .vars
            .iter()
            .map(|(n, l)| (n.clone(), l.class))
            .collect();
        let classes = resolve_classes(scope, self.cx, &params);
        for (i, l) in scope.locals.iter().enumerate() {
            if self.vars.contains_key(&l.name) || self.globals.contains(&l.name) {
                continue;
            }
            let class = classes[i];
            let c_type = match &l.declared {
                Some(t) if !t.text.is_empty() => t.text.clone(),
                _ => match class {
                    VClass::Managed => "object".to_string(),
                    VClass::Raw => "PyObject *".to_string(),
                    VClass::RawPtrPtr => "PyObject **".to_string(),
                    VClass::C(_) => String::new(),
                },
            };
            let sp = self.span(l.rng);
            let id = self.b.add_var(
                l.name.clone(),
                class.type_class(),
                c_type,
                VarKind::Local,
                sp,
            );
            self.vars.insert(l.name.clone(), Local { id, class });
            if scope.captured.contains(&l.name) {
                self.closure.insert(l.name.clone());
            }
            if class == VClass::Managed {
                self.b.set_managed(id, true);
                self.managed.push(id);
                self.emit(
                    StmtKind::Assign {
                        dst: id,
                        src: Operand::Null,
                    },
                    l.rng,
                );
            }
        }
    }

    /// Without the GIL no Python operation can run: what looks like one is
    /// C code whose names this file does not declare (an included `.pxi`
    /// whose cimports are in the including file).
    pub fn in_nogil(&self) -> bool {
        match self.gil.last() {
            Some(nogil) => *nogil,
            None => self.fn_nogil,
        }
    }

    pub fn local(&self, name: &str) -> Option<Local> {
        if self.globals.contains(name) {
            return None;
        }
        self.vars.get(name).copied()
    }

    // ---- exits -----------------------------------------------------------

    fn err_value_operand(v: ErrValue) -> Option<Operand> {
        match v {
            ErrValue::Null => Some(Operand::Null),
            ErrValue::Int(i) => Some(Operand::Int(i)),
            ErrValue::None => None,
        }
    }

    /// The function's error exit: releases every managed variable and
    /// returns the error value.
    fn error_block(&mut self) -> BlockId {
        if let Some(b) = self.err_bb {
            return b;
        }
        let saved = self.b.is_open().then(|| self.b.current());
        let bb = self.new_block();
        self.err_bb = Some(bb);
        self.b.switch_to(bb);
        let r = self.exit_rng;
        if let ErrExit::Unraisable(_) = self.err_exit {
            self.synth.insert("__pyx_write_unraisable");
            self.emit(
                StmtKind::Call {
                    dst: None,
                    callee: Callee::Named("__pyx_write_unraisable".into()),
                    args: Vec::new(),
                },
                r,
            );
        }
        // A nogil function takes the GIL back to handle the error.
        let gil_dance = self.fn_nogil && !self.managed.is_empty();
        if gil_dance {
            self.emit(StmtKind::AcquireGil, r);
        }
        self.scope_exit(r);
        if gil_dance {
            self.emit(StmtKind::ReleaseGil, r);
        }
        let v = match self.err_exit {
            ErrExit::Value(v) | ErrExit::Unraisable(v) => v,
        };
        let term = Terminator::Return(Self::err_value_operand(v));
        let sp = self.span(r);
        self.b.terminate(term, sp);
        // `terminate` left no current block; resume where we were.
        if let Some(c) = saved {
            self.b.switch_to(c);
        }
        bb
    }

    /// Releases of every managed variable (Cython's function exit).
    fn scope_exit(&mut self, r: Rng) {
        for id in self.managed.clone() {
            self.emit_managed(
                StmtKind::Decref {
                    value: Operand::Var(id),
                    nullable: true,
                    clears: None,
                },
                r,
                ManagedOp::ScopeExit,
            );
        }
    }

    /// The block an exception raised here goes to: releases the
    /// statement's temporaries and the region's held values, restores the
    /// GIL state, then jumps to the innermost handler.
    pub fn exception_target(&mut self, r: Rng) -> BlockId {
        let h = self.handlers.last().copied().unwrap_or(HandlerCtx {
            block: None,
            held_len: 0,
            gil_len: 0,
            returning_len: 0,
        });
        let target = match h.block {
            Some(b) => b,
            None => self.error_block(),
        };
        // The statement's temporaries were made in the innermost region
        // (with its GIL state): released before the GIL regions are left.
        let first: Vec<Operand> = self.pending.clone();
        let mut releases: Vec<Operand> = Vec::new();
        releases.extend(
            self.held[h.held_len.min(self.held.len())..]
                .iter()
                .rev()
                .cloned(),
        );
        releases.extend(
            self.returning[h.returning_len.min(self.returning.len())..]
                .iter()
                .cloned(),
        );
        let gil: Vec<bool> = self.gil[h.gil_len.min(self.gil.len())..].to_vec();
        if first.is_empty() && releases.is_empty() && gil.is_empty() {
            return target;
        }
        let saved = self.b.is_open().then(|| self.b.current());
        let edge = self.new_block();
        self.b.switch_to(edge);
        for op in first {
            self.emit_managed(
                StmtKind::Decref {
                    value: op,
                    nullable: true,
                    clears: None,
                },
                r,
                ManagedOp::TempRelease,
            );
        }
        for nogil in gil.iter().rev() {
            let k = if *nogil {
                StmtKind::AcquireGil
            } else {
                StmtKind::ReleaseGil
            };
            self.emit(k, r);
        }
        for op in releases {
            self.emit_managed(
                StmtKind::Decref {
                    value: op,
                    nullable: true,
                    clears: None,
                },
                r,
                ManagedOp::TempRelease,
            );
        }
        let sp = self.span(r);
        self.b.terminate(Terminator::Goto(target), sp);
        if let Some(c) = saved {
            self.b.switch_to(c);
        }
        edge
    }

    /// `if cond: goto <exception>`; continues on the false edge.
    pub fn exc_branch(&mut self, cond: Cond, text: String, r: Rng) {
        let target = self.exception_target(r);
        let cont = self.new_block();
        let sp = self.span(r);
        self.b.terminate(
            Terminator::Branch {
                cond,
                then_bb: target,
                else_bb: cont,
                text,
            },
            sp,
        );
        self.b.switch_to(cont);
    }

    /// Cython's check of a call result.
    pub fn check_result(&mut self, check: Check, dst: Option<VarId>, text: &str, r: Rng) {
        match (check, dst) {
            (Check::None, _) => {}
            (Check::Null, Some(d)) => {
                self.exc_branch(Cond::IsNull(Operand::Var(d)), format!("{text} == NULL"), r);
            }
            (Check::NullMaybe, Some(d)) => {
                self.maybe_branch(Cond::IsNull(Operand::Var(d)), format!("{text} == NULL"), r);
            }
            (Check::Value(v), Some(d)) => self.exc_branch(
                Cond::Cmp(Operand::Var(d), CmpOp::Eq, v),
                format!("{text} == {v}"),
                r,
            ),
            (Check::ValueMaybe(v), Some(d)) => self.maybe_branch(
                Cond::Cmp(Operand::Var(d), CmpOp::Eq, v),
                format!("{text} == {v}"),
                r,
            ),
            _ => self.exc_branch(Cond::ErrOccurred, "PyErr_Occurred()".to_string(), r),
        }
    }

    /// `if cond and PyErr_Occurred(): goto <exception>` (`except? V`).
    pub fn maybe_branch(&mut self, cond: Cond, text: String, r: Rng) {
        let sp = self.span(r);
        let check = self.new_block();
        let cont = self.new_block();
        self.b.terminate(
            Terminator::Branch {
                cond,
                then_bb: check,
                else_bb: cont,
                text,
            },
            sp,
        );
        self.b.switch_to(check);
        let target = self.exception_target(r);
        self.b.terminate(
            Terminator::Branch {
                cond: Cond::ErrOccurred,
                then_bb: target,
                else_bb: cont,
                text: "PyErr_Occurred()".into(),
            },
            sp,
        );
        self.b.switch_to(cont);
    }

    /// Jumps to the current exception handler (after `raise`).
    pub fn goto_handler(&mut self, r: Rng) {
        let target = self.exception_target(r);
        let sp = self.span(r);
        self.b.terminate(Terminator::Goto(target), sp);
    }

    /// Leaves the GIL regions entered after `len`.
    fn restore_gil(&mut self, len: usize, r: Rng) {
        let gil: Vec<bool> = self.gil[len.min(self.gil.len())..].to_vec();
        for nogil in gil.iter().rev() {
            let k = if *nogil {
                StmtKind::AcquireGil
            } else {
                StmtKind::ReleaseGil
            };
            self.emit(k, r);
        }
    }

    /// Releases held temporaries above `len` (normal path).
    fn release_held(&mut self, len: usize, r: Rng) {
        let held: Vec<Operand> = self.held[len.min(self.held.len())..].to_vec();
        for op in held.into_iter().rev() {
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

    /// Runs the `finally` blocks (and `with` exits) above `depth`, as a
    /// `return`, `break` or `continue` leaves their regions.
    fn run_finallies(&mut self, depth: usize, r: Rng) {
        while self.finallies.len() > depth {
            let Some(f) = self.finallies.pop() else { break };
            if !self.b.is_open() {
                continue;
            }
            self.release_held(f.held_len, r);
            self.held.truncate(f.held_len);
            self.restore_gil(f.gil_len, r);
            self.gil.truncate(f.gil_len);
            self.handlers.truncate(f.handler_len.max(1));
            self.loops.truncate(f.loop_len);
            match f.body {
                FinBody::Stmts(body) => {
                    if self.over_budget() {
                        self.approximate(r, "finally block not duplicated: function too large");
                    } else {
                        self.stmts(body);
                    }
                }
                FinBody::WithExit(exit, wr) => self.call_exit(exit, wr),
            }
        }
    }

    /// Calls a `with` block's `__exit__` and releases it.
    pub fn call_exit(&mut self, exit: Operand, r: Rng) {
        let res = self.py_op("__pyx_call", vec![exit.clone()], r, "__exit__(...)");
        self.take(&res.op);
        self.emit_managed(
            StmtKind::Decref {
                value: res.op,
                nullable: false,
                clears: None,
            },
            r,
            ManagedOp::TempRelease,
        );
        self.emit_managed(
            StmtKind::Decref {
                value: exit.clone(),
                nullable: false,
                clears: None,
            },
            r,
            ManagedOp::TempRelease,
        );
        if let Some(i) = self.held.iter().rposition(|h| *h == exit) {
            self.held.remove(i);
        }
    }

    /// Saves the region stacks around code that leaves regions (return,
    /// break), so lowering continues with them intact afterwards.
    fn save_regions(&self) -> Regions<'c> {
        Regions {
            handlers: self.handlers.clone(),
            loops: self.loops.clone(),
            finallies: self.finallies.clone(),
            gil: self.gil.clone(),
            held: self.held.clone(),
            returning: self.returning.clone(),
        }
    }

    fn restore_regions(&mut self, r: Regions<'c>) {
        self.handlers = r.handlers;
        self.loops = r.loops;
        self.finallies = r.finallies;
        self.gil = r.gil;
        self.held = r.held;
        self.returning = r.returning;
    }

    /// Returns from the function: runs pending `finally` blocks, releases
    /// what is held, restores the GIL, releases the managed variables.
    pub fn emit_return(&mut self, value: Option<Operand>, owned_return: bool, r: Rng) {
        let saved = self.save_regions();
        if owned_return {
            if let Some(v) = &value {
                self.returning.push(v.clone());
            }
        }
        self.run_finallies(0, r);
        if self.b.is_open() {
            self.release_held(0, r);
            self.restore_gil(0, r);
            let gil_dance = self.fn_nogil && !self.managed.is_empty();
            if gil_dance {
                self.emit(StmtKind::AcquireGil, r);
            }
            self.scope_exit(r);
            if gil_dance {
                self.emit(StmtKind::ReleaseGil, r);
            }
            let sp = self.span(r);
            self.b.terminate(Terminator::Return(value), sp);
        }
        self.restore_regions(saved);
    }

    /// Falling off the end of the body.
    fn implicit_return(&mut self, r: Rng) {
        match self.ret {
            RetKind::Object => {
                let none = Operand::Global("Py_None".into());
                self.emit_managed(
                    StmtKind::Incref {
                        value: none.clone(),
                        nullable: false,
                    },
                    r,
                    ManagedOp::ReturnIncref,
                );
                self.emit_return(Some(none), true, r);
            }
            RetKind::Raw | RetKind::C(TypeClass::Pointer | TypeClass::ObjectPtrPtr) => {
                self.emit_return(Some(Operand::Null), false, r);
            }
            RetKind::C(_) => self.emit_return(Some(Operand::Int(0)), false, r),
            RetKind::Void => self.emit_return(None, false, r),
        }
    }

    // ---- statements --------------------------------------------------------

    pub fn stmts(&mut self, stmts: &'c [AStmt]) {
        for s in stmts {
            if self.over_budget() {
                return;
            }
            self.stmt(s);
            if !self.pending.is_empty() {
                // Every statement releases its temporaries; this only
                // guards against a path that forgot to.
                self.release_pending(s.rng);
            }
        }
    }

    fn stmt(&mut self, s: &'c AStmt) {
        let r = s.rng;
        if self.stack.exceeded() {
            self.approximate(r, "statements nested too deeply");
            return;
        }
        match &s.kind {
            AK::Expr(e) => {
                self.expr_stmt(e);
                self.release_pending(r);
            }
            AK::Assign { targets, value } => {
                self.assign_stmt(targets, value, r);
                self.release_pending(r);
            }
            AK::AugAssign { target, op, value } => {
                self.aug_assign(target, *op, value, r);
                self.release_pending(r);
            }
            AK::AnnAssign { target, value, .. } => {
                if let Some(v) = value {
                    let val = self.expr(v);
                    self.assign(target, val, r);
                }
                self.release_pending(r);
            }
            AK::CDecl(vars) => {
                for v in vars {
                    if let Some(e) = &v.value {
                        let val = self.expr(e);
                        self.assign_name(&v.name, val, v.rng);
                        self.release_pending(r);
                    }
                }
            }
            AK::Return(value) => self.return_stmt(value.as_ref(), r),
            AK::Raise { exc, cause } => {
                let mut args = Vec::new();
                for e in [exc, cause].into_iter().flatten() {
                    let v = self.expr(e);
                    args.push(v.op);
                }
                self.synth.insert("__pyx_raise");
                self.emit(
                    StmtKind::Call {
                        dst: None,
                        callee: Callee::Named("__pyx_raise".into()),
                        args,
                    },
                    r,
                );
                self.release_pending(r);
                self.goto_handler(r);
            }
            AK::Pass => {}
            AK::Break | AK::Continue => {
                let Some(l) = self.loops.last().copied() else {
                    self.approximate(r, "`break`/`continue` outside a loop");
                    return;
                };
                let target = if matches!(s.kind, AK::Break) {
                    l.break_bb
                } else {
                    l.continue_bb
                };
                let saved = self.save_regions();
                self.run_finallies(l.finally_len, r);
                if self.b.is_open() {
                    self.release_held(l.held_len, r);
                    self.restore_gil(l.gil_len, r);
                    let sp = self.span(r);
                    self.b.terminate(Terminator::Goto(target), sp);
                }
                self.restore_regions(saved);
            }
            AK::If { branches, orelse } => self.if_stmt(branches, orelse),
            AK::While { test, body, orelse } => self.while_stmt(test, body, orelse, r),
            AK::For {
                target,
                iter,
                body,
                orelse,
            } => self.for_stmt(target, iter, body, orelse, r),
            AK::ForFrom {
                target,
                bounds,
                body,
                orelse,
            } => {
                for b in bounds {
                    if b.name() != target.name() || target.name().is_none() {
                        let _ = self.expr(b);
                    }
                }
                self.release_pending(r);
                self.c_loop(target, body, orelse, r, false);
            }
            AK::Try {
                body,
                handlers,
                orelse,
                finalbody,
            } => self.try_stmt(body, handlers, orelse, finalbody.as_deref(), r),
            AK::With { items, body } => self.with_stmt(items, body, r),
            AK::Gil { nogil, body } => {
                let (enter, leave) = if *nogil {
                    (StmtKind::ReleaseGil, StmtKind::AcquireGil)
                } else {
                    (StmtKind::AcquireGil, StmtKind::ReleaseGil)
                };
                self.emit(enter, r);
                self.gil.push(*nogil);
                self.stmts(body);
                self.gil.pop();
                if self.b.is_open() {
                    let end = Rng {
                        start: r.end,
                        end: r.end,
                    };
                    self.emit(leave, end);
                }
            }
            AK::Del(targets) => {
                for t in targets {
                    self.del_target(t, r);
                }
                self.release_pending(r);
            }
            AK::Assert { test, msg } => {
                let fail = self.new_block();
                let ok = self.new_block();
                self.cond(test, ok, fail);
                self.b.switch_to(fail);
                let mut args = Vec::new();
                if let Some(m) = msg {
                    args.push(self.expr(m).op);
                }
                self.synth.insert("__pyx_raise");
                self.emit(
                    StmtKind::Call {
                        dst: None,
                        callee: Callee::Named("__pyx_raise".into()),
                        args,
                    },
                    r,
                );
                self.release_pending(r);
                self.goto_handler(r);
                self.b.switch_to(ok);
            }
            AK::Func(f) => {
                // A nested function: a closure object; what it captures
                // is kept in Cython's closure scope.
                let mut args = Vec::new();
                for p in &f.params {
                    if let Some(d) = &p.default {
                        args.push(self.expr(d).op);
                    }
                }
                let v = self.py_op("__pyx_build", args, f.name_rng, &format!("def {}", f.name));
                self.assign_name(&f.name, v, f.name_rng);
                self.release_pending(r);
            }
            AK::Class(c) => {
                let v = self.py_op(
                    "__pyx_build",
                    Vec::new(),
                    c.name_rng,
                    &format!("class {}", c.name),
                );
                self.assign_name(&c.name, v, c.name_rng);
                self.release_pending(r);
            }
            AK::Import { module, names } => {
                for (m, alias) in names {
                    if m == "*" {
                        continue;
                    }
                    let full = if module.is_empty() {
                        m.clone()
                    } else {
                        format!("{module}.{m}")
                    };
                    let v = self.py_op(
                        "__pyx_import",
                        vec![Operand::Str(full.clone())],
                        r,
                        &format!("import {full}"),
                    );
                    let local = alias
                        .clone()
                        .unwrap_or_else(|| m.split('.').next().unwrap_or(m).to_string());
                    self.assign_name(&local, v, r);
                    self.release_pending(r);
                }
            }
            AK::Error { names, message } => {
                self.approximate(r, &format!("could not parse: {message}"));
                for (n, _) in names {
                    if let Some(l) = self.local(n) {
                        self.emit(StmtKind::Havoc { var: l.id }, r);
                    }
                }
            }
            AK::Global(_)
            | AK::Nonlocal(_)
            | AK::Extern(_)
            | AK::TypeDecl(_)
            | AK::Property { .. }
            | AK::CImport { .. }
            | AK::Include(_) => {}
        }
    }

    fn return_stmt(&mut self, value: Option<&'c Expr>, r: Rng) {
        match self.ret {
            RetKind::Object => {
                let v = match value {
                    Some(e) => self.expr(e),
                    None => Val::borrowed(Operand::Global("Py_None".into())),
                };
                let op = self.own_for_return(v, r);
                self.release_pending(r);
                self.emit_return(Some(op), true, r);
            }
            RetKind::Void => {
                if let Some(e) = value {
                    let _ = self.expr(e);
                }
                self.release_pending(r);
                self.emit_return(None, false, r);
            }
            RetKind::Raw => {
                let op = match value {
                    Some(e) => {
                        let v = self.expr(e);
                        v.op
                    }
                    None => Operand::Null,
                };
                let op = self.keep_operand(op, TypeClass::Object, r);
                self.release_pending(r);
                self.emit_return(Some(op), false, r);
            }
            RetKind::C(t) => {
                let op = match value {
                    Some(e) => {
                        let v = self.expr(e);
                        self.convert_to_c(v, r).op
                    }
                    None => Operand::Int(0),
                };
                let op = self.keep_operand(op, t, r);
                self.release_pending(r);
                self.emit_return(Some(op), false, r);
            }
        }
    }

    /// A value read after the statement's temporaries are released must not
    /// be a field read (it would be re-read): copy it to a temp.
    fn keep_operand(&mut self, op: Operand, t: TypeClass, r: Rng) -> Operand {
        match op {
            Operand::Field(..) if !self.finallies.is_empty() => {
                let tmp = self.temp(t, r);
                self.emit(StmtKind::Assign { dst: tmp, src: op }, r);
                Operand::Var(tmp)
            }
            other => other,
        }
    }

    /// The returned value as a new reference: Cython INCREFs borrowed ones.
    fn own_for_return(&mut self, v: Val, r: Rng) -> Operand {
        match v.kind {
            VK::Obj(Own::Temp | Own::Cast) if self.take(&v.op) => v.op,
            VK::Obj(_) => {
                let op = self.keep_operand(v.op, TypeClass::Object, r);
                let nullable = !matches!(op, Operand::Global(_));
                self.emit_managed(
                    StmtKind::Incref {
                        value: op.clone(),
                        nullable,
                    },
                    r,
                    ManagedOp::ReturnIncref,
                );
                op
            }
            VK::Raw => {
                // `return p` of a raw pointer from an object function:
                // Cython converts it like `<object>p`.
                self.emit_managed(
                    StmtKind::Incref {
                        value: v.op.clone(),
                        nullable: false,
                    },
                    r,
                    ManagedOp::ObjectCast,
                );
                v.op
            }
            VK::C(_) if matches!(v.op, Operand::Int(_)) => v.op,
            VK::C(_) | VK::Unknown => {
                let b = self.py_op("__pyx_build", vec![v.op], r, "conversion to object");
                self.take(&b.op);
                b.op
            }
        }
    }

    fn if_stmt(&mut self, branches: &'c [(Expr, Vec<AStmt>)], orelse: &'c [AStmt]) {
        let after = self.new_block();
        for (test, body) in branches {
            let then_bb = self.new_block();
            let next = self.new_block();
            self.cond(test, then_bb, next);
            self.b.switch_to(then_bb);
            self.stmts(body);
            let sp = self.span(test.rng);
            self.b.goto_and_switch(after, sp);
            self.b.switch_to(next);
        }
        self.stmts(orelse);
        let sp = Span::default();
        self.b.goto_and_switch(after, sp);
    }

    fn while_stmt(&mut self, test: &'c Expr, body: &'c [AStmt], orelse: &'c [AStmt], r: Rng) {
        let header = self.new_block();
        let body_bb = self.new_block();
        let else_bb = self.new_block();
        let after = self.new_block();
        let sp = self.span(r);
        self.b.goto_and_switch(header, sp);
        self.cond(test, body_bb, else_bb);
        self.b.switch_to(body_bb);
        self.loops.push(LoopCtx {
            break_bb: after,
            continue_bb: header,
            held_len: self.held.len(),
            gil_len: self.gil.len(),
            finally_len: self.finallies.len(),
        });
        self.stmts(body);
        self.loops.pop();
        self.b.goto_and_switch(header, sp);
        self.b.switch_to(else_bb);
        self.stmts(orelse);
        self.b.goto_and_switch(after, sp);
    }

    /// A loop over C values (`range`, `prange`, `for ... from`).
    pub fn c_loop(
        &mut self,
        target: &'c Expr,
        body: &'c [AStmt],
        orelse: &'c [AStmt],
        r: Rng,
        nogil: bool,
    ) {
        if nogil {
            self.emit(StmtKind::ReleaseGil, r);
            self.gil.push(true);
        }
        let header = self.new_block();
        let body_bb = self.new_block();
        let else_bb = self.new_block();
        let after = self.new_block();
        let sp = self.span(r);
        self.b.goto_and_switch(header, sp);
        self.b.terminate(
            Terminator::Branch {
                cond: Cond::Unknown,
                then_bb: body_bb,
                else_bb,
                text: "the loop continues".to_string(),
            },
            sp,
        );
        self.b.switch_to(body_bb);
        self.assign(target, Val::opaque(), target.rng);
        self.release_pending(r);
        self.loops.push(LoopCtx {
            break_bb: after,
            continue_bb: header,
            held_len: self.held.len(),
            gil_len: self.gil.len(),
            finally_len: self.finallies.len(),
        });
        self.stmts(body);
        self.loops.pop();
        self.b.goto_and_switch(header, sp);
        self.b.switch_to(else_bb);
        self.stmts(orelse);
        self.b.goto_and_switch(after, sp);
        if nogil {
            self.gil.pop();
            if self.b.is_open() {
                self.emit(StmtKind::AcquireGil, r);
            }
        }
    }

    fn for_stmt(
        &mut self,
        target: &'c Expr,
        iter: &'c Expr,
        body: &'c [AStmt],
        orelse: &'c [AStmt],
        r: Rng,
    ) {
        if let ExprKind::Call { func, args } = &iter.kind {
            let name = func.dotted().unwrap_or_default();
            let last = name.rsplit('.').next().unwrap_or(&name);
            let shadowed = func.name().is_some_and(|n| self.local(n).is_some());
            if matches!(last, "range" | "xrange" | "prange") && !shadowed {
                let mut nogil = false;
                for a in args {
                    match a {
                        Arg::Kw(k, v) if k == "nogil" => {
                            nogil = matches!(v.kind, ExprKind::Const(ConstKind::True));
                        }
                        _ => {
                            let _ = self.expr(a.expr());
                        }
                    }
                }
                self.release_pending(r);
                self.c_loop(target, body, orelse, r, nogil);
                return;
            }
        }
        let src = self.expr(iter);
        if !src.is_obj() {
            // Iterating a C array or pointer slice: a C loop.
            self.release_pending(r);
            self.c_loop(target, body, orelse, r, false);
            return;
        }
        let it = self.py_op("__pyx_iter", vec![src.op], iter.rng, "iter(...)");
        self.take(&it.op);
        self.release_pending(r);
        self.held.push(it.op.clone());
        let held_len = self.held.len();
        let header = self.new_block();
        let body_bb = self.new_block();
        let end_bb = self.new_block();
        let else_bb = self.new_block();
        let exit_bb = self.new_block();
        let after = self.new_block();
        let sp = self.span(r);
        self.b.goto_and_switch(header, sp);
        self.synth.insert("__pyx_iter_next");
        let next = self.temp(TypeClass::Object, iter.rng);
        self.emit(
            StmtKind::Call {
                dst: Some(next),
                callee: Callee::Named("__pyx_iter_next".into()),
                args: vec![it.op.clone()],
            },
            iter.rng,
        );
        self.b.terminate(
            Terminator::Branch {
                cond: Cond::IsNull(Operand::Var(next)),
                then_bb: end_bb,
                else_bb: body_bb,
                text: "next(...) == NULL".to_string(),
            },
            sp,
        );
        // End of iteration, or an error.
        self.b.switch_to(end_bb);
        let exc = self.exception_target(iter.rng);
        self.b.terminate(
            Terminator::Branch {
                cond: Cond::ErrOccurred,
                then_bb: exc,
                else_bb,
                text: "PyErr_Occurred()".to_string(),
            },
            sp,
        );
        self.b.switch_to(body_bb);
        self.pending.push(Operand::Var(next));
        let item = Val {
            op: Operand::Var(next),
            kind: VK::Obj(Own::Temp),
        };
        self.assign(target, item, target.rng);
        self.release_pending(r);
        self.loops.push(LoopCtx {
            break_bb: exit_bb,
            continue_bb: header,
            held_len,
            gil_len: self.gil.len(),
            finally_len: self.finallies.len(),
        });
        self.stmts(body);
        self.loops.pop();
        self.b.goto_and_switch(header, sp);
        // Normal end: release the iterator, run `else`.
        self.b.switch_to(else_bb);
        self.emit_managed(
            StmtKind::Decref {
                value: it.op.clone(),
                nullable: false,
                clears: None,
            },
            r,
            ManagedOp::TempRelease,
        );
        self.held.pop();
        self.stmts(orelse);
        self.b.goto_and_switch(after, sp);
        // `break`: release the iterator.
        self.b.switch_to(exit_bb);
        self.emit_managed(
            StmtKind::Decref {
                value: it.op,
                nullable: false,
                clears: None,
            },
            r,
            ManagedOp::TempRelease,
        );
        self.b.goto_and_switch(after, sp);
    }

    fn try_stmt(
        &mut self,
        body: &'c [AStmt],
        handlers: &'c [Handler],
        orelse: &'c [AStmt],
        finalbody: Option<&'c [AStmt]>,
        r: Rng,
    ) {
        let Some(fin) = finalbody else {
            self.try_except(body, handlers, orelse, r);
            return;
        };
        let exc_fin = self.new_block();
        self.finallies.push(FinallyCtx {
            body: FinBody::Stmts(fin),
            handler_len: self.handlers.len(),
            loop_len: self.loops.len(),
            held_len: self.held.len(),
            gil_len: self.gil.len(),
        });
        self.handlers.push(HandlerCtx {
            block: Some(exc_fin),
            held_len: self.held.len(),
            gil_len: self.gil.len(),
            returning_len: self.returning.len(),
        });
        if handlers.is_empty() {
            self.stmts(body);
            self.stmts(orelse);
        } else {
            self.try_except(body, handlers, orelse, r);
        }
        self.handlers.pop();
        self.finallies.pop();
        let after = self.new_block();
        // Normal path.
        if self.b.is_open() {
            self.stmts(fin);
        }
        let sp = self.span(r);
        self.b.goto_and_switch(after, sp);
        // Exception path: the exception is saved while `finally` runs.
        self.b.switch_to(exc_fin);
        self.synth.insert("__pyx_exc_save");
        self.synth.insert("__pyx_exc_restore");
        self.emit(
            StmtKind::Call {
                dst: None,
                callee: Callee::Named("__pyx_exc_save".into()),
                args: Vec::new(),
            },
            r,
        );
        if self.over_budget() {
            self.approximate(r, "finally block not duplicated: function too large");
        } else {
            self.stmts(fin);
        }
        if self.b.is_open() {
            self.emit(
                StmtKind::Call {
                    dst: None,
                    callee: Callee::Named("__pyx_exc_restore".into()),
                    args: Vec::new(),
                },
                r,
            );
            self.goto_handler(r);
        }
        self.b.switch_to(after);
    }

    fn try_except(
        &mut self,
        body: &'c [AStmt],
        handlers: &'c [Handler],
        orelse: &'c [AStmt],
        r: Rng,
    ) {
        let exc_bb = self.new_block();
        self.handlers.push(HandlerCtx {
            block: Some(exc_bb),
            held_len: self.held.len(),
            gil_len: self.gil.len(),
            returning_len: self.returning.len(),
        });
        self.stmts(body);
        self.handlers.pop();
        let after = self.new_block();
        let sp = self.span(r);
        if self.b.is_open() {
            self.stmts(orelse);
        }
        self.b.goto_and_switch(after, sp);
        // The handler: Cython tests the clauses in order; either may match.
        self.b.switch_to(exc_bb);
        let mut targets = Vec::new();
        for _ in handlers {
            targets.push(self.new_block());
        }
        let bare = handlers.iter().any(|h| h.types.is_none());
        let reraise = if bare { None } else { Some(self.new_block()) };
        if let Some(rr) = reraise {
            targets.push(rr);
        }
        self.b.terminate(Terminator::Choose(targets.clone()), sp);
        for (h, bb) in handlers.iter().zip(targets.iter()) {
            self.b.switch_to(*bb);
            match &h.name {
                Some((n, nr)) => {
                    self.synth.insert("__pyx_exc_fetch");
                    let t = self.temp(TypeClass::Object, *nr);
                    self.emit(
                        StmtKind::Call {
                            dst: Some(t),
                            callee: Callee::Named("__pyx_exc_fetch".into()),
                            args: Vec::new(),
                        },
                        h.rng,
                    );
                    self.pending.push(Operand::Var(t));
                    self.assign_name(
                        n,
                        Val {
                            op: Operand::Var(t),
                            kind: VK::Obj(Own::Temp),
                        },
                        *nr,
                    );
                    self.release_pending(h.rng);
                }
                None => {
                    self.synth.insert("__pyx_exc_clear");
                    self.emit(
                        StmtKind::Call {
                            dst: None,
                            callee: Callee::Named("__pyx_exc_clear".into()),
                            args: Vec::new(),
                        },
                        h.rng,
                    );
                }
            }
            self.stmts(&h.body);
            if let Some((n, nr)) = &h.name {
                if self.b.is_open() {
                    // Python 3 deletes the name at the end of the clause.
                    self.del_name(n, *nr);
                }
            }
            self.b.goto_and_switch(after, sp);
        }
        if let Some(rr) = reraise {
            self.b.switch_to(rr);
            self.goto_handler(r);
        }
        self.b.switch_to(after);
    }

    fn with_stmt(&mut self, items: &'c [WithItem], body: &'c [AStmt], r: Rng) {
        let Some((first, rest)) = items.split_first() else {
            self.stmts(body);
            return;
        };
        let mgr = self.expr(&first.ctx);
        if !mgr.is_obj() {
            // A C++ or C-level context (cython.parallel): just the body.
            self.release_pending(r);
            if rest.is_empty() {
                self.stmts(body);
            } else {
                self.with_stmt(rest, body, r);
            }
            return;
        }
        let cr = first.ctx.rng;
        let exit = self.py_op(
            "__pyx_getattr",
            vec![mgr.op.clone(), Operand::Str("__exit__".into())],
            cr,
            "__exit__",
        );
        self.take(&exit.op);
        self.held.push(exit.op.clone());
        let entered = self.py_op(
            "__pyx_call_method",
            vec![mgr.op, Operand::Str("__enter__".into())],
            cr,
            "__enter__()",
        );
        if let Some(t) = &first.target {
            self.assign(t, entered, cr);
        }
        self.release_pending(cr);
        let exc_bb = self.new_block();
        self.finallies.push(FinallyCtx {
            body: FinBody::WithExit(exit.op.clone(), cr),
            handler_len: self.handlers.len(),
            loop_len: self.loops.len(),
            held_len: self.held.len(),
            gil_len: self.gil.len(),
        });
        self.handlers.push(HandlerCtx {
            block: Some(exc_bb),
            held_len: self.held.len(),
            gil_len: self.gil.len(),
            returning_len: self.returning.len(),
        });
        if rest.is_empty() {
            self.stmts(body);
        } else {
            self.with_stmt(rest, body, r);
        }
        self.handlers.pop();
        self.finallies.pop();
        let after = self.new_block();
        let sp = self.span(r);
        if self.b.is_open() {
            self.call_exit(exit.op.clone(), cr);
            self.held.push(exit.op.clone());
        }
        self.b.goto_and_switch(after, sp);
        // Exception path: `__exit__` runs with the exception saved; it may
        // swallow the exception.
        self.b.switch_to(exc_bb);
        self.synth.insert("__pyx_exc_save");
        self.synth.insert("__pyx_exc_restore");
        self.emit(
            StmtKind::Call {
                dst: None,
                callee: Callee::Named("__pyx_exc_save".into()),
                args: Vec::new(),
            },
            cr,
        );
        self.call_exit(exit.op.clone(), cr);
        let swallow = self.new_block();
        let reraise = self.new_block();
        self.b
            .terminate(Terminator::Choose(vec![swallow, reraise]), sp);
        self.b.switch_to(reraise);
        self.emit(
            StmtKind::Call {
                dst: None,
                callee: Callee::Named("__pyx_exc_restore".into()),
                args: Vec::new(),
            },
            cr,
        );
        self.goto_handler(r);
        self.b.switch_to(swallow);
        self.b.goto_and_switch(after, sp);
        if let Some(i) = self.held.iter().rposition(|h| *h == exit.op) {
            self.held.remove(i);
        }
    }

    // ---- assignments ---------------------------------------------------------

    fn assign_stmt(&mut self, targets: &'c [Expr], value: &'c Expr, r: Rng) {
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

    fn assign_name(&mut self, n: &str, v: Val, r: Rng) {
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

    fn assign_attr(&mut self, base: &'c Expr, attr: &str, v: Val, r: Rng) {
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

    fn aug_assign(&mut self, target: &'c Expr, op: BinOp, value: &'c Expr, r: Rng) {
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

    fn del_name(&mut self, n: &str, r: Rng) {
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

    fn del_target(&mut self, t: &'c Expr, r: Rng) {
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

struct Regions<'c> {
    handlers: Vec<HandlerCtx>,
    loops: Vec<LoopCtx>,
    finallies: Vec<FinallyCtx<'c>>,
    gil: Vec<bool>,
    held: Vec<Operand>,
    returning: Vec<Operand>,
}
