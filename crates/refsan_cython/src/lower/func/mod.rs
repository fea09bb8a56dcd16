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

mod assign;
mod exits;
mod stmt;

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
                    revive: false,
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
        // The cdef class of each parameter whose class this file knows
        // (`self`, `Foo x`): their typed attributes have C types.
        let mut param_types: HashMap<String, String> = HashMap::new();
        for (n, l) in &self.vars {
            let class = if Some(l.id) == self.self_var {
                self.class.clone()
            } else {
                let ct = self
                    .b
                    .var(l.id)
                    .c_type
                    .trim()
                    .trim_end_matches('?')
                    .trim()
                    .to_string();
                let last = ct.rsplit('.').next().unwrap_or(&ct).to_string();
                self.cx
                    .classes
                    .get(&last)
                    .filter(|c| c.cdef)
                    .map(|c| c.name.clone())
            };
            if let Some(c) = class {
                param_types.insert(n.clone(), c);
            }
        }
        let classes = resolve_classes(scope, self.cx, &params, &param_types);
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
}

struct Regions<'c> {
    handlers: Vec<HandlerCtx>,
    loops: Vec<LoopCtx>,
    finallies: Vec<FinallyCtx<'c>>,
    gil: Vec<bool>,
    held: Vec<Operand>,
    returning: Vec<Operand>,
}
