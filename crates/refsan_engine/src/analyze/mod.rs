//! Path-sensitive ownership analysis of one function (ESP style).
//!
//! States (see `state.rs`) flow over the CFG. Calls that can fail split the
//! state into one successor per outcome (success, failure...), so a later
//! `if (r < 0)` or `if (x == NULL)` resolves against what really happened;
//! branches on tracked values split or prune. At block entry, states with
//! the same ownership facts are joined (their integer facts widened), and a
//! per-block and per-function budget bounds the work: over budget, further
//! states are dropped (never guessed) and the function is marked
//! approximate.
//!
//! Findings are made where the bug happens: a leak where the last owned
//! reference is lost, a use-after-release at the use, a bad release at the
//! release. Each carries the events of its path.

mod branch;
mod call;
mod eval;
mod liveness;
mod narrate;
mod refs;
mod ret;
mod store;

use crate::expect::{Expect, ExpectRet};
use crate::facts::{Resolved, Resolver};
use crate::formats;
use crate::outcome::*;
use crate::state::*;
use crate::violation::*;
use crate::widen;
use liveness::temp_deaths;
use refsan_ir::*;
use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};

/// Bounds on the work spent on one function.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Distinct states kept at one block entry.
    pub max_states_per_block: usize,
    /// Block visits per function.
    pub max_steps: usize,
    /// States kept at block entries, all blocks together: bounds the
    /// memory one function takes.
    pub max_kept: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_states_per_block: 32,
            max_steps: 20_000,
            max_kept: 10_240,
        }
    }
}

pub struct Options {
    pub target: (u8, u8),
    pub limits: Limits,
}

struct Analyzer<'a> {
    func: &'a Function,
    module: Option<&'a Module>,
    resolver: &'a Resolver<'a>,
    expect: &'a Expect,
    opts: &'a Options,
    /// First global statement index of each block.
    block_base: Vec<u32>,
    /// Temps that die after each statement (index = global stmt ref).
    deaths: Vec<Vec<VarId>>,
    /// Which temps are live when each block is entered.
    liveness: liveness::TempLiveness,
    names: RefCell<HashMap<String, NameId>>,
    callee_cache: RefCell<Vec<Option<Option<&'a Behaviour>>>>,
    /// Blocks an edge leads to that the model ruled out (see `exec_term`).
    model_pruned: Vec<bool>,
    name_list: RefCell<Vec<String>>,
    /// Local variables whose address is stored (not only passed to a call).
    address_stored: Vec<VarId>,
    /// Scratch containers the function lends items to (see `lending`).
    lending: Vec<VarId>,
    /// Variables that receive the result of a call that steals only when
    /// it succeeds: whether the code tested it is still asked at the exits
    /// (see `global_handed_back`), after the variable died.
    steal_results: Vec<VarId>,
    /// Variables that hold the answer of a predicate the knowledge base
    /// says validates another call (`PyCapsule_IsValid`), with that call.
    validators: Vec<(VarId, StmtRef)>,
    /// Fields of the first parameter the function may overwrite before
    /// anything looked at them (see `fresh_fields`).
    fresh_fields: FreshFields,
    /// The function reads a field of its first parameter that holds no
    /// object (a state flag: `if (self->closed)`, `CHECK_INITIALIZED`):
    /// a field another method clears is taken to be guarded by it.
    state_tested: bool,
    result: FnResult,
    approximate: Option<String>,
}

pub fn analyze_function(
    func: &Function,
    module: Option<&Module>,
    resolver: &Resolver<'_>,
    expect: &Expect,
    opts: &Options,
) -> FnResult {
    let mut block_base = Vec::with_capacity(func.blocks.len());
    let mut n = 0u32;
    for b in &func.blocks {
        block_base.push(n);
        n += b.stmts.len() as u32 + 1;
    }
    let mut liveness = temp_deaths(func, &block_base, n as usize);
    let deaths = std::mem::take(&mut liveness.deaths);
    let mut a = Analyzer {
        func,
        module,
        resolver,
        expect,
        opts,
        block_base,
        deaths,
        liveness,
        names: RefCell::new(HashMap::new()),
        callee_cache: RefCell::new(Vec::new()),
        model_pruned: vec![false; func.blocks.len()],
        name_list: RefCell::new(Vec::new()),
        address_stored: address_stored(func),
        lending: lending(func, resolver),
        steal_results: steal_results(func, resolver),
        validators: Vec::new(),
        fresh_fields: fresh_fields(func, module, resolver, expect),
        state_tested: expect.live_self && reads_state_flag(func, module, resolver),
        result: FnResult::default(),
        approximate: None,
    };
    a.validators = a.validators();
    a.run();
    let mut result = a.result;
    result.approximate = a.approximate;
    result
}

/// The kept states waiting to run, first in first out. The list holds
/// which kept state, not a copy: one that changes while it waits (another
/// path joined it) runs once, as it is then.
#[derive(Default)]
pub(super) struct Work {
    queue: VecDeque<(u32, u32)>,
    /// States kept so far, all blocks together.
    kept: usize,
}

impl Work {
    /// Queues kept state `k` of block `b` unless it is queued already.
    fn push(&mut self, b: BlockId, k: usize, kept: &mut Kept) {
        if !kept.queued {
            kept.queued = true;
            self.queue.push_back((b.index() as u32, k as u32));
        }
    }

    fn pop(&mut self, seen: &mut [Vec<Kept>]) -> Option<(BlockId, State)> {
        let (b, k) = self.queue.pop_front()?;
        let kept = &mut seen[b as usize][k as usize];
        kept.queued = false;
        Some((BlockId(b), kept.state.clone()))
    }
}

/// A state kept at a block's entry, with what comparing it needs.
struct Kept {
    hash: u64,
    state: State,
    /// Waiting in the work list.
    queued: bool,
    /// Its shape and loosened shape (see `widen`), once the block is full.
    shapes: Option<(widen::Shape, widen::Shape)>,
}

impl Kept {
    fn new(state: State) -> Kept {
        Kept {
            hash: state.prop_hash(),
            state,
            queued: false,
            shapes: None,
        }
    }

    /// Replaces the state, keeping its place in the work list.
    fn replace(&mut self, state: State) {
        self.hash = state.prop_hash();
        self.state = state;
        self.shapes = None;
    }

    fn shapes(&mut self) -> &(widen::Shape, widen::Shape) {
        let state = &self.state;
        self.shapes.get_or_insert_with(|| {
            let mut s = state.clone();
            widen::forget_stored_globals(&mut s);
            let loose = widen::shape(&widen::loosened(&s));
            (widen::shape(&s), loose)
        })
    }
}

/// Variables assigned the result of a call that steals an argument only
/// when it succeeds (`PyModule_AddObject`).
fn steal_results(func: &Function, resolver: &Resolver<'_>) -> Vec<VarId> {
    let mut out: Vec<VarId> = Vec::new();
    for s in func.blocks.iter().flat_map(|b| &b.stmts) {
        if let StmtKind::Call {
            dst: Some(d),
            callee: Callee::Named(n),
            args,
        } = &s.kind
        {
            let steals = resolver.resolve(n).is_some_and(|r| {
                (0..args.len()).any(|i| r.contract.arg(i) == ArgEffect::StealOnSuccess)
            });
            if steals && !out.contains(d) {
                out.push(*d);
            }
        }
    }
    out
}

/// The fields of its first parameter a function may overwrite while they
/// still hold what they held when it started (see `fresh_fields`).
#[derive(Default)]
pub(super) struct FreshFields {
    /// The variables that hold the object: the parameter and its casts.
    holders: Vec<VarId>,
    /// Per field stored into: the blocks a statement that looks at the
    /// field (reads, releases or takes the address of a field of that
    /// name, or hands the object to a call that may) can reach, and those
    /// statements (block, index) for the statements after them in their
    /// own block.
    fields: Vec<FieldLooks>,
}

/// A field stored into, the blocks the statements that look at it reach,
/// and those statements (block, index).
type FieldLooks = (String, Vec<bool>, Vec<(usize, usize)>);

impl FreshFields {
    /// A store into `field` of `base` at statement `at` (block, index)
    /// that nothing looked at the field before, on any path.
    pub(super) fn untouched(&self, base: VarId, field: &str, at: (usize, usize)) -> bool {
        if !self.holders.contains(&base) {
            return false;
        }
        self.fields.iter().any(|(f, reached, own)| {
            f == field
                && !reached.get(at.0).copied().unwrap_or(true)
                && !own.iter().any(|&(b, i)| b == at.0 && i < at.1)
        })
    }
}

/// In a function that may run again on an object whose fields are set
/// (`tp_init`, a setter), where the fields of that object
/// it stores into may still hold their first value (see `FreshFields`).
/// A call that is not a C-API function running no code and is handed the
/// object looks at every field: a helper may release them.
fn fresh_fields(
    func: &Function,
    module: Option<&Module>,
    resolver: &Resolver<'_>,
    expect: &Expect,
) -> FreshFields {
    let Some(&param) = func.params.first() else {
        return FreshFields::default();
    };
    if expect.reinit.is_none() || module.is_none_or(|m| m.language == Language::Cython) {
        return FreshFields::default();
    }
    let stmts = || {
        func.blocks
            .iter()
            .enumerate()
            .flat_map(|(bi, b)| b.stmts.iter().enumerate().map(move |(i, s)| (bi, i, s)))
    };
    // The variables only ever assigned the object.
    let mut holders = vec![param];
    loop {
        let before = holders.len();
        for (_, _, s) in stmts() {
            let StmtKind::Assign {
                dst,
                src: Operand::Var(v),
            } = &s.kind
            else {
                continue;
            };
            if !holders.contains(v)
                || holders.contains(dst)
                || func.vars[dst.index()].kind != VarKind::Local
            {
                continue;
            }
            let only = stmts().all(|(_, _, t)| match &t.kind {
                StmtKind::Assign { dst: d, src } if d == dst => {
                    matches!(src, Operand::Var(x) if holders.contains(x))
                }
                StmtKind::Call { dst: Some(d), .. } | StmtKind::Havoc { var: d } => d != dst,
                _ => true,
            });
            if only {
                holders.push(*dst);
            }
        }
        if holders.len() == before {
            break;
        }
    }
    fn field_of(o: &Operand) -> Option<&str> {
        match o {
            Operand::Field(_, f) | Operand::AddrOf(Place::Field(_, f)) => Some(f),
            _ => None,
        }
    }
    // (field, or every field, block, index) of each look.
    let mut looks: Vec<(Option<&str>, usize, usize)> = Vec::new();
    let mut written: Vec<&str> = Vec::new();
    for (bi, i, s) in stmts() {
        let mut here: Vec<Option<&str>> = Vec::new();
        match &s.kind {
            StmtKind::Assign { src, .. } => here.extend(field_of(src).map(Some)),
            StmtKind::Call { callee, args, .. } => {
                let passes_object = args
                    .iter()
                    .any(|a| matches!(a, Operand::Var(v) if holders.contains(v)));
                let harmless = callee
                    .name()
                    .and_then(|n| resolver.behaviour(n))
                    .is_some_and(|b| !b.runs_code);
                if passes_object && !harmless {
                    here.push(None);
                }
                here.extend(args.iter().filter_map(field_of).map(Some));
            }
            StmtKind::Store { place, value } => {
                here.extend(field_of(value).map(Some));
                if let Place::Field(b, f) = place {
                    if holders.contains(b) {
                        written.push(f);
                    }
                }
            }
            StmtKind::Incref { value, .. }
            | StmtKind::Use { value, .. }
            | StmtKind::Escape { value } => here.extend(field_of(value).map(Some)),
            StmtKind::Decref { value, clears, .. } => {
                here.extend(field_of(value).map(Some));
                if let Some(Place::Field(_, f)) = clears {
                    here.push(Some(f));
                }
            }
            StmtKind::Havoc { .. } | StmtKind::ReleaseGil | StmtKind::AcquireGil => {}
        }
        looks.extend(here.into_iter().map(|f| (f, bi, i)));
    }
    written.sort_unstable();
    written.dedup();
    if written.is_empty() {
        return FreshFields::default();
    }
    // The blocks each look's block reaches through one edge or more.
    let n = func.blocks.len();
    let mut reach_cache: HashMap<usize, Vec<bool>> = HashMap::new();
    let mut reach = |from: usize| -> Vec<bool> {
        reach_cache
            .entry(from)
            .or_insert_with(|| {
                let mut seen = vec![false; n];
                let mut stack: Vec<usize> = func.blocks[from]
                    .term
                    .successors()
                    .iter()
                    .map(|b| b.index())
                    .collect();
                while let Some(b) = stack.pop() {
                    if b < n && !seen[b] {
                        seen[b] = true;
                        stack.extend(func.blocks[b].term.successors().iter().map(|x| x.index()));
                    }
                }
                seen
            })
            .clone()
    };
    let mut fields = Vec::new();
    for f in written {
        let mut reached = vec![false; n];
        let mut own = Vec::new();
        for &(g, bi, i) in &looks {
            if g.is_some_and(|g| g != f) {
                continue;
            }
            own.push((bi, i));
            for (r, x) in reached.iter_mut().zip(reach(bi)) {
                *r |= x;
            }
        }
        fields.push((f.to_string(), reached, own));
    }
    FreshFields { holders, fields }
}

/// Whether the function reads a state flag of its first parameter's
/// object (see `Analyzer::state_tested`).
fn reads_state_flag(func: &Function, module: Option<&Module>, resolver: &Resolver<'_>) -> bool {
    let Some(&p0) = func.params.first() else {
        return false;
    };
    let Some(s) = module.and_then(|m| m.struct_named(&func.vars[p0.index()].c_type)) else {
        return false;
    };
    let Some(sname) = s.names.first() else {
        return false;
    };
    let flag = |o: &Operand| match o {
        Operand::Field(b, f) => {
            module
                .and_then(|m| m.struct_named(&func.vars[b.index()].c_type))
                .is_some_and(|x| std::ptr::eq(x, s))
                && resolver.is_state_flag(sname, f)
        }
        _ => false,
    };
    func.blocks.iter().any(|b| {
        let in_cond = match &b.term {
            Terminator::Branch { cond, .. } => match cond {
                Cond::IsNull(o) | Cond::Cmp(o, _, _) => flag(o),
                Cond::Same(a, c) => flag(a) || flag(c),
                _ => false,
            },
            _ => false,
        };
        in_cond
            || b.stmts.iter().any(|st| match &st.kind {
                StmtKind::Assign { src, .. } => flag(src),
                StmtKind::Use { value, .. } => flag(value),
                StmtKind::Call { args, .. } => args.iter().any(flag),
                _ => false,
            })
    })
}

/// Local variables whose address an assignment or a store keeps.
fn address_stored(func: &Function) -> Vec<VarId> {
    let mut out: Vec<VarId> = Vec::new();
    for b in &func.blocks {
        for s in &b.stmts {
            let kept = match &s.kind {
                StmtKind::Assign { src, .. } => src,
                StmtKind::Store { value, .. } => value,
                _ => continue,
            };
            if let Operand::AddrOf(Place::Var(v)) = kept {
                if !out.contains(v) {
                    out.push(*v);
                }
            }
        }
    }
    out
}

/// Containers the function gives every item a reference of its own before
/// releasing (`for (i = 0; i < n; i++) Py_XINCREF(PyTuple_GET_ITEM(args, i));
/// Py_DECREF(args);`, Modules/_testbuffer.c) and fills with stealing
/// setters (`PyTuple_SET_ITEM`): it filled them with items it
/// lends, borrowed or owned, slot by slot. Which slot is paid for by which
/// reference is not followed: the items handed to them and read from them
/// are not tracked.
fn lending(func: &Function, resolver: &Resolver<'_>) -> Vec<VarId> {
    fn call(k: &StmtKind) -> Option<(Option<VarId>, &str, &[Operand])> {
        match k {
            StmtKind::Call {
                dst,
                callee: Callee::Named(n),
                args,
            } => Some((*dst, n.as_str(), args.as_slice())),
            _ => None,
        }
    }
    // Containers the function fills with stealing setters.
    let mut filled: Vec<VarId> = Vec::new();
    for (_, n, args) in func
        .blocks
        .iter()
        .flat_map(|b| &b.stmts)
        .filter_map(|s| call(&s.kind))
    {
        if let Some(Operand::Var(c)) = args.first() {
            let steals = resolver
                .resolve(n)
                .is_some_and(|r| (1..args.len()).any(|i| r.contract.arg(i) == ArgEffect::Steal));
            if steals && !filled.contains(c) {
                filled.push(*c);
            }
        }
    }
    // An item at a computed index given a reference right where it is read.
    let mut out: Vec<VarId> = Vec::new();
    for pair in func.blocks.iter().flat_map(|b| b.stmts.windows(2)) {
        let (Some((Some(d), n, [Operand::Var(c), index, ..])), StmtKind::Incref { value, .. }) =
            (call(&pair[0].kind), &pair[1].kind)
        else {
            continue;
        };
        if *value == Operand::Var(d)
            && !matches!(index, Operand::Int(_))
            && resolver.behaviour(n).is_some_and(|b| b.slot_getter)
            && filled.contains(c)
            && !out.contains(c)
        {
            out.push(*c);
        }
    }
    out
}

/// How a call can turn out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    /// The only outcome (cannot fail, or failure is not observable).
    Only,
    Success,
    Failure,
    /// Tri-state "false / absent" (returns 0, no exception).
    False,
}

impl Outcome {
    fn succeeded(self) -> bool {
        matches!(self, Outcome::Only | Outcome::Success)
    }
}

const MAX_OWNED: i16 = 8;

impl<'a> Analyzer<'a> {
    pub(super) fn intern(&self, name: &str) -> NameId {
        if let Some(id) = self.names.borrow().get(name) {
            return *id;
        }
        let mut list = self.name_list.borrow_mut();
        let id = NameId(list.len() as u32);
        list.push(name.to_string());
        self.names.borrow_mut().insert(name.to_string(), id);
        id
    }

    pub(super) fn name_of(&self, id: NameId) -> String {
        self.name_list
            .borrow()
            .get(id.0 as usize)
            .cloned()
            .unwrap_or_default()
    }

    /// The variables that receive a validating predicate's answer (see
    /// `validators`).
    fn validators(&self) -> Vec<(VarId, StmtRef)> {
        let mut out = Vec::new();
        for (bi, b) in self.func.blocks.iter().enumerate() {
            for (i, s) in b.stmts.iter().enumerate() {
                if let StmtKind::Call {
                    dst: Some(d),
                    callee: Callee::Named(name),
                    ..
                } = &s.kind
                {
                    if self
                        .resolver
                        .behaviour(name)
                        .is_some_and(|b| b.validates.is_some())
                    {
                        out.push((*d, self.stmt_ref(BlockId(bi as u32), i)));
                    }
                }
            }
        }
        out
    }

    pub(super) fn stmt_ref(&self, b: BlockId, i: usize) -> StmtRef {
        StmtRef::new(self.block_base[b.index()] + i as u32)
    }

    /// The statement (or terminator) at a global index.
    pub(super) fn locate(&self, sref: StmtRef) -> (usize, usize) {
        let sref = sref.raw();
        let bi = match self.block_base.binary_search(&sref) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        // Empty blocks share a base with their successor: take the last one
        // whose base is <= sref and that contains it.
        let mut bi = bi;
        while bi + 1 < self.block_base.len() && self.block_base[bi + 1] == self.block_base[bi] {
            bi += 1;
        }
        (bi, (sref - self.block_base[bi]) as usize)
    }

    pub(super) fn stmt_at(&self, sref: StmtRef) -> Option<&'a Stmt> {
        let (bi, i) = self.locate(sref);
        self.func.blocks.get(bi)?.stmts.get(i)
    }

    pub(super) fn span_at(&self, sref: StmtRef) -> Span {
        let (bi, i) = self.locate(sref);
        match self.func.blocks.get(bi) {
            Some(b) if i < b.stmts.len() => b.stmts[i].span,
            Some(b) => b.term_span,
            None => self.func.span,
        }
    }

    pub(super) fn callee_at(&self, sref: StmtRef) -> String {
        match self.stmt_at(sref).map(|s| &s.kind) {
            Some(StmtKind::Call {
                callee: Callee::Named(n),
                ..
            }) => n.clone(),
            Some(StmtKind::Call {
                callee: Callee::Indirect,
                ..
            }) => "an indirect call".to_string(),
            Some(StmtKind::Incref { .. }) => "Py_INCREF".to_string(),
            Some(StmtKind::Decref {
                nullable, clears, ..
            }) => {
                if clears.is_some() {
                    "Py_CLEAR".to_string()
                } else if *nullable {
                    "Py_XDECREF".to_string()
                } else {
                    "Py_DECREF".to_string()
                }
            }
            _ => "the call".to_string(),
        }
    }

    /// What the knowledge base says the callee of call statement `sref`
    /// does beyond its contract, looked up once per statement.
    pub(super) fn callee_behaviour(&self, sref: StmtRef, name: &str) -> Option<&'a Behaviour> {
        if let Some(Some(b)) = self.callee_cache.borrow().get(sref.index()) {
            return *b;
        }
        let b = self.resolver.behaviour(name);
        let mut cache = self.callee_cache.borrow_mut();
        if cache.len() <= sref.index() {
            cache.resize(sref.index() + 1, None);
        }
        cache[sref.index()] = Some(b);
        b
    }

    /// An API that makes a new object nobody else refers to yet.
    pub(super) fn is_constructor(&self, name: &str) -> bool {
        self.resolver.behaviour(name).is_some_and(|b| b.constructor) || self.resolver.is_fresh(name)
    }

    /// A new object a constructor made in this function (no one else refers
    /// to it unless the function handed it out).
    pub(super) fn made_here(&self, v: &ValueState) -> bool {
        matches!(v.origin, ValOrigin::New(s) if self.is_constructor(&self.callee_at(s)))
    }

    /// An API reading an item slot that a `*_SET_ITEM` can overwrite.
    pub(super) fn is_slot_getter(&self, name: &str) -> bool {
        self.resolver.behaviour(name).is_some_and(|b| b.slot_getter)
    }

    /// An API whose borrowed result is an item of a mutable container.
    pub(super) fn is_volatile_item(&self, name: &str) -> bool {
        self.resolver
            .behaviour(name)
            .is_some_and(|b| b.volatile_item)
    }

    /// The managed operation a statement performs, if the language inserted it.
    pub(super) fn managed_op(&self, sref: StmtRef) -> Option<ManagedOp> {
        match self.stmt_at(sref).map(|s| &s.origin) {
            Some(Origin::Managed(op)) => Some(*op),
            _ => None,
        }
    }

    pub(super) fn var_name(&self, v: VarId) -> &'a str {
        &self.func.vars[v.index()].name
    }

    pub(super) fn is_temp(&self, v: VarId) -> bool {
        self.func.vars[v.index()].kind == VarKind::Temp
    }

    pub(super) fn entry_state(&mut self) -> State {
        let func = self.func;
        let mut st = State::new(func.vars.len());
        for (i, p) in func.params.iter().enumerate() {
            let var = &func.vars[p.index()];
            if var.ty != TypeClass::Object {
                continue;
            }
            let site = Site::param(i as u32);
            let owned = match &self.expect.params {
                Some(effects)
                    if matches!(
                        effects.get(i),
                        Some(
                            ArgEffect::Steal
                                | ArgEffect::StealOnSuccess
                                | ArgEffect::StealOnFailure
                        )
                    ) =>
                {
                    1
                }
                _ => 0,
            };
            let null = if self.expect.python_facing && i == 0 {
                Nullness::NonNull
            } else {
                Nullness::Maybe
            };
            let mut v = ValueState::new(site, ValOrigin::Param(i as u32), owned, null);
            v.name = Some(*p);
            st.put_new_value(v);
            st.set_binding(*p, Binding::Obj(site));
        }
        st.exc_unseen = !self.expect.python_facing;
        // The interpreter never calls a method with a NULL `self`: a test of
        // it is dead code, decided by the calling convention.
        if self.expect.python_facing {
            if let Some(p) = func.params.first() {
                st.set_known(Known::trusted(test_key(Some(*p), None)));
            }
        }
        st
    }

    pub(super) fn run(&mut self) {
        let func = self.func;
        if func.blocks.is_empty() {
            return;
        }
        let nb = func.blocks.len();
        let mut seen: Vec<Vec<Kept>> = (0..nb).map(|_| Vec::new()).collect();
        let mut work = Work::default();
        let entry = self.entry_state();
        seen[0].push(Kept::new(entry));
        work.push(BlockId::ENTRY, 0, &mut seen[0][0]);
        let mut steps = 0usize;
        while let Some((b, st)) = work.pop(&mut seen) {
            steps += 1;
            if steps > self.opts.limits.max_steps {
                self.approximate = Some(format!(
                    "analysis budget of {} steps exhausted; some paths were not explored",
                    self.opts.limits.max_steps
                ));
                break;
            }
            if work.kept > self.opts.limits.max_kept {
                self.approximate = Some(format!(
                    "more than {} states kept; some paths were not explored",
                    self.opts.limits.max_kept
                ));
                break;
            }
            let block = &func.blocks[b.index()];
            let mut states = vec![st];
            for (i, stmt) in block.stmts.iter().enumerate() {
                let sref = self.stmt_ref(b, i);
                let mut next = Vec::with_capacity(states.len());
                for s in states {
                    self.exec_stmt(s, sref, stmt, &mut next);
                }
                states = self.normalize(next);
                if states.is_empty() {
                    break;
                }
            }
            let tref = self.stmt_ref(b, block.stmts.len());
            for s in states {
                for (succ, mut s2) in self.exec_term(s, b, tref, block) {
                    let next = &func.blocks[succ.index()];
                    if next.stmts.is_empty() && matches!(next.term, Terminator::Unreachable) {
                        // The failing edge of an `assert()`: nothing happens
                        // there, not even the loss of a temporary.
                        continue;
                    }
                    self.kill_temps(&mut s2, tref);
                    s2.collect_garbage();
                    self.add_state(&mut seen, &mut work, succ, s2);
                }
            }
        }
        if self.approximate.is_none() {
            self.count_unreached(&seen);
        }
    }

    /// Statements no explored path reached although the CFG reaches them
    /// behind an edge the model ruled out: a call's contract or summary,
    /// the state at entry. (Edges ruled out by a test the code made before
    /// on the same path are dead code the author wrote, not counted.) A
    /// modelling mistake that prunes a feasible edge shows here.
    fn count_unreached(&mut self, seen: &[Vec<Kept>]) {
        let func = self.func;
        let n = func.blocks.len();
        let mut counted = vec![false; n];
        let mut todo: Vec<usize> = (0..n).filter(|b| self.model_pruned[*b]).collect();
        while let Some(b) = todo.pop() {
            if counted[b] || !seen[b].is_empty() {
                continue;
            }
            counted[b] = true;
            let block = &func.blocks[b];
            if let Some(first) = block.stmts.first() {
                self.result.unreached += block.stmts.len();
                if self
                    .result
                    .first_unreached
                    .is_none_or(|f| first.span.start < f.start)
                {
                    self.result.first_unreached = Some(first.span);
                }
            }
            todo.extend(
                block
                    .term
                    .successors()
                    .iter()
                    .map(|s| s.index())
                    .filter(|s| *s < n),
            );
        }
    }

    /// Removes duplicates and joins states with equal ownership facts.
    pub(super) fn normalize(&mut self, states: Vec<State>) -> Vec<State> {
        if states.len() <= 1 {
            return states;
        }
        let mut out: Vec<State> = Vec::with_capacity(states.len());
        let mut hashes: Vec<u64> = Vec::with_capacity(states.len());
        'next: for s in states {
            let h = s.prop_hash();
            for (o, oh) in out.iter_mut().zip(hashes.iter()) {
                if *oh == h && o.same_property(&s) {
                    o.join_from(&s);
                    continue 'next;
                }
            }
            hashes.push(h);
            out.push(s);
        }
        let cap = self.opts.limits.max_states_per_block;
        if out.len() > cap {
            out.truncate(cap);
            self.note_budget();
        }
        out
    }

    pub(super) fn note_budget(&mut self) {
        if self.approximate.is_none() {
            self.approximate = Some(format!(
                "more than {} distinct states at one point; some paths were not explored",
                self.opts.limits.max_states_per_block
            ));
        }
    }

    pub(super) fn add_state(
        &mut self,
        seen: &mut [Vec<Kept>],
        work: &mut Work,
        b: BlockId,
        mut st: State,
    ) {
        // What dead variables held that is no object (a NULL, an integer, a
        // C pointer) would only keep apart states that lead to the same
        // place: the NULL of each failed call on the way to an error exit.
        // A dead variable bound to an object the function holds no
        // reference to (released, stolen, stored, borrowed) says nothing
        // either: no later statement reads it, and the object itself stays
        // known while anything else refers to it.
        let dead: Vec<VarId> = st
            .vars
            .iter()
            .filter(|(k, v)| {
                let inert = match v {
                    Binding::Obj(site) => {
                        !self.address_stored.contains(&VarId(*k))
                            && st.value(*site).is_none_or(ValueState::holds_nothing)
                    }
                    _ => true,
                };
                inert && self.liveness.dead_on_entry(b.index(), VarId(*k))
            })
            .map(|(k, _)| VarId(*k))
            .collect();
        // Nor do the fields of a C struct a dead variable points to.
        let stale = |st: &State, f: &FieldSlot| {
            f.base.as_var().is_some_and(|v| {
                !self.address_stored.contains(&v)
                    && self.liveness.dead_on_entry(b.index(), v)
                    && inert_field(st, f)
            })
        };
        let fields_before = st.fields.len();
        st.retain_fields(|st, f| !stale(st, f));
        let stale_fields = st.fields.len() != fields_before;
        // What the code established about a dead variable decides no later
        // test.
        let stale_known = |key: u64| {
            test_key_var(key).is_some_and(|v| {
                !self.address_stored.contains(&v)
                    && !self.steal_results.contains(&v)
                    && self.liveness.dead_on_entry(b.index(), v)
            })
        };
        if st.known.iter().any(|k| stale_known(k.key)) {
            st.known.retain(|k| !stale_known(k.key));
        }
        if !dead.is_empty() || stale_fields {
            for t in dead {
                st.set_binding(t, Binding::Unknown);
            }
            st.collect_garbage();
        }
        let hash = st.prop_hash();
        let slot = &mut seen[b.index()];
        for (k, kept) in slot.iter_mut().enumerate() {
            if kept.hash == hash && kept.state.same_property(&st) {
                // Equal states join without change: nothing new to explore,
                // unless the new path takes less to happen (no failed call
                // where the kept one needs one): findings then tell it.
                let easier = kept.state.take_path_if_easier(&st);
                if kept.state.join_from(&st) || easier {
                    kept.shapes = None;
                    work.push(b, k, kept);
                }
                return;
            }
        }
        if slot.len() >= self.opts.limits.max_states_per_block {
            // Full: fold the state into a kept one of its shape, or failing
            // that of its loosened shape (see `widen`).
            let mut st = st;
            widen::forget_stored_globals(&mut st);
            let shape = widen::shape(&st);
            let loose = widen::shape(&widen::loosened(&st));
            for strict in [true, false] {
                for (k, kept) in slot.iter_mut().enumerate() {
                    let (ks, kl) = kept.shapes();
                    if (strict && *ks != shape) || (!strict && *kl != loose) {
                        continue;
                    }
                    let mut merged = kept.state.clone();
                    widen::forget_stored_globals(&mut merged);
                    let easier = merged.take_path_if_easier(&st);
                    let changed = if strict {
                        widen::fold(&mut merged, &st)
                    } else {
                        widen::fold_loose(&mut merged, &st)
                    };
                    if changed || easier || merged != kept.state {
                        kept.replace(merged);
                        work.push(b, k, kept);
                    }
                    return;
                }
            }
            self.note_budget();
            return;
        }
        slot.push(Kept::new(st));
        work.kept += 1;
        let k = slot.len() - 1;
        work.push(b, k, &mut slot[k]);
    }

    pub(super) fn exec_stmt(
        &mut self,
        mut st: State,
        sref: StmtRef,
        stmt: &'a Stmt,
        out: &mut Vec<State>,
    ) {
        let span = stmt.span;
        match &stmt.kind {
            StmtKind::Assign { dst, src } => {
                // A constant the code assigns, or a copy of what it
                // established, decides later tests as the code wrote them.
                let key = test_key(Some(*dst), None);
                let known = match src {
                    Operand::Null => Some(Known::range(key, 0, 0)),
                    Operand::Global(g) if g == "NULL" => Some(Known::range(key, 0, 0)),
                    Operand::Int(k) => Some(Known::range(key, *k, *k)),
                    Operand::Str(_) => Some(Known::range(key, 1, i64::MAX)),
                    Operand::Var(v) => st
                        .known(test_key(Some(*v), None))
                        .map(|k| Known { key, ..k }),
                    _ => None,
                };
                match known {
                    Some(k) => st.set_known(k),
                    None => st.forget_known(key),
                }
                st.forget_known_fields(*dst);
                let b = self.eval(&mut st, src, sref, 0);
                self.bind(&mut st, *dst, b, sref, span);
                self.finish(st, sref, out);
            }
            StmtKind::Call { dst, callee, args } => {
                let mut results = Vec::new();
                self.exec_call(st, sref, span, *dst, callee, args, &mut results);
                for s in results {
                    self.finish(s, sref, out);
                }
            }
            StmtKind::Store { place, value } => {
                let field_key = match place {
                    Place::Field(v, f) => {
                        let key = test_key(Some(*v), Some(self.intern(&format!(".{f}"))));
                        st.forget_known(key);
                        Some(key)
                    }
                    _ => None,
                };
                let b = self.eval(&mut st, value, sref, 0);
                // An integer outcome kept in a field (`s->strict =
                // PyObject_IsTrue(o)`) decides the tests of that field as
                // the variable it came from would.
                if let (Some(key), Binding::Int(lo, hi)) = (field_key, b) {
                    st.set_known(Known::range(key, lo, hi));
                }
                self.store(&mut st, place, b, sref, span);
                self.finish(st, sref, out);
            }
            StmtKind::Incref {
                value,
                nullable,
                revive,
            } => {
                let b = self.eval(&mut st, value, sref, 0);
                // A count set to one: a reference already held is that one.
                if *revive {
                    if let Binding::Obj(site) = b {
                        if st
                            .value(site)
                            .is_some_and(|v| v.owned > 0 && v.status == Status::Live)
                        {
                            self.finish(st, sref, out);
                            return;
                        }
                    }
                }
                let on_field = matches!(value, Operand::Field(..));
                if self.incref(&mut st, b, *nullable, sref, span) {
                    if let (true, Binding::Obj(site)) = (on_field, b) {
                        // `Py_INCREF(obj->field)` often fixes the count of a
                        // copied struct; the reference may stay with it.
                        if let Some(v) = st.value_mut(site) {
                            if matches!(v.origin, ValOrigin::Field(_)) {
                                v.shared = true;
                            }
                        }
                    }
                    self.finish(st, sref, out);
                }
            }
            StmtKind::Decref {
                value, nullable, ..
            } => {
                let b = self.eval(&mut st, value, sref, 0);
                if self.decref(&mut st, b, *nullable, sref, span, value) {
                    self.finish(st, sref, out);
                }
            }
            StmtKind::Use { value, kind } => {
                let b = self.eval(&mut st, value, sref, 0);
                if let (UseKind::Deref, Operand::Var(v)) = (kind, value) {
                    // The code itself established that the pointer is not
                    // NULL (it would have crashed here): a later test of it
                    // that finds NULL is dead code as written.
                    let key = test_key(Some(*v), None);
                    match st.known(key) {
                        None => st.set_known(Known::range(key, 1, i64::MAX)),
                        Some(k) if !k.trusted && k.lo < 1 && k.hi >= 1 => {
                            st.set_known(Known::range(key, 1, k.hi));
                        }
                        Some(_) => {}
                    }
                }
                if self.use_value(&mut st, b, *kind, sref, span) {
                    self.finish(st, sref, out);
                }
            }
            StmtKind::Escape { value } => {
                let b = self.eval(&mut st, value, sref, 0);
                if let Binding::Obj(site) = b {
                    if let Some(v) = st.value_mut(site) {
                        v.status = Status::Escaped;
                    }
                }
                self.finish(st, sref, out);
            }
            StmtKind::Havoc { var } => {
                forget_var_fields(&mut st, *var);
                if let Binding::Obj(site) = st.binding(*var) {
                    if let Some(v) = st.value_mut(site) {
                        v.status = Status::Escaped;
                    }
                }
                st.set_binding(*var, Binding::Unknown);
                st.exc = Exc::Unknown;
                self.finish(st, sref, out);
            }
            StmtKind::ReleaseGil => {
                st.gil_released = true;
                self.finish(st, sref, out);
            }
            StmtKind::AcquireGil => {
                st.gil_released = false;
                self.finish(st, sref, out);
            }
        }
    }

    /// Kills the statement's dying temps and keeps the state.
    pub(super) fn finish(&mut self, mut st: State, sref: StmtRef, out: &mut Vec<State>) {
        self.kill_temps(&mut st, sref);
        // Dead values are dropped at block ends (before states are compared);
        // within a block only when they pile up.
        if st.values.len() > 16 {
            st.collect_garbage();
        }
        out.push(st);
    }

    pub(super) fn kill_temps(&mut self, st: &mut State, sref: StmtRef) {
        let Some(dying) = self.deaths.get(sref.index()) else {
            return;
        };
        if dying.is_empty() {
            return;
        }
        let dying = dying.clone();
        let span = self.span_at(sref);
        for t in dying {
            let old = st.binding(t);
            st.set_binding(t, Binding::Unknown);
            if !self.steal_results.contains(&t)
                && st.known.iter().any(|k| test_key_var(k.key) == Some(t))
            {
                st.known.retain(|k| test_key_var(k.key) != Some(t));
            }
            // What the code found in the fields of the struct a dead
            // temporary pointed to (`type->tp_as_async->am_await`) is read
            // through it no more.
            let base = FieldBase::var(t);
            st.retain_fields(|st, f| f.base != base || !inert_field(st, f));
            if let Binding::Obj(site) = old {
                self.check_lost(st, site, span, LostHow::Temp);
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LostHow {
    Temp,
    Overwrite(VarId),
}

/// A remembered field that nothing depends on but later reads of it: not
/// one whose reference was handed to a stealing call or stored without one
/// of its own, which the function's exit still checks.
fn inert_field(st: &State, f: &FieldSlot) -> bool {
    match f.val {
        FieldVal::Obj(site) => st
            .value(site)
            .is_none_or(|v| v.field_stolen.is_none() && v.store_debt.is_none()),
        _ => true,
    }
}

fn forget_var_fields(st: &mut State, v: VarId) {
    let key = FieldBase::var(v);
    if st.fields.iter().any(|f| f.base == key) {
        st.fields.retain(|f| f.base != key);
    }
}
