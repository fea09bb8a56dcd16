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

use crate::expect::{Expect, ExpectRet};
use crate::facts::{is_singleton_name, Resolved, Resolver};
use crate::formats;
use crate::rules::{self, *};
use crate::state::*;
use refsan_ir::*;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet, VecDeque};

/// Bounds on the work spent on one function.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Distinct states kept at one block entry.
    pub max_states_per_block: usize,
    /// Block visits per function.
    pub max_steps: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_states_per_block: 24,
            max_steps: 20_000,
        }
    }
}

/// What a return statement returned, for summaries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetKind {
    Null,
    New,
    Borrowed,
    Int(i64, i64),
    Unknown,
    Void,
}

#[derive(Clone, Debug)]
pub struct ReturnObs {
    pub kind: RetKind,
    /// The parameter whose own value (without a new reference) is returned.
    pub returned_param: Option<u32>,
    pub exc: Exc,
    /// For each parameter: references owned at the return (-1 = consumed).
    pub params_owned: Vec<i16>,
}

/// The outcome of analysing one function.
#[derive(Default)]
pub struct FnResult {
    pub findings: Vec<Finding>,
    /// Releases of a parameter the function does not own; they become RS102
    /// findings unless the summary decides the function steals it.
    pub param_releases: Vec<(u32, Finding)>,
    /// Borrowed references returned while the contract is inferred; they
    /// become RS104 findings when other paths return new references.
    pub borrowed_returns: Vec<Finding>,
    pub returns: Vec<ReturnObs>,
    pub approximate: Option<String>,
    /// Watched attributes (`Expect::watch_fields`) that are NULL or unset on
    /// an error exit, with the exit's span.
    pub risky_fields: Vec<(String, Span)>,
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
    names: RefCell<HashMap<String, u32>>,
    callee_cache: RefCell<Vec<Option<CalleeFacts>>>,
    name_list: RefCell<Vec<String>>,
    result: FnResult,
    seen_findings: HashSet<(&'static str, u32, u32, Site)>,
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
    let deaths = temp_deaths(func, &block_base, n as usize);
    let mut a = Analyzer {
        func,
        module,
        resolver,
        expect,
        opts,
        block_base,
        deaths,
        names: RefCell::new(HashMap::new()),
        callee_cache: RefCell::new(Vec::new()),
        name_list: RefCell::new(Vec::new()),
        result: FnResult::default(),
        seen_findings: HashSet::new(),
        approximate: None,
    };
    a.run();
    let mut result = a.result;
    result.approximate = a.approximate;
    result
}

// ---------------------------------------------------------------------------
// Temp liveness: a temp's value dies after the last statement that reads it.

fn operand_vars(op: &Operand, out: &mut Vec<VarId>) {
    match op {
        Operand::Var(v) | Operand::Field(v, _) => out.push(*v),
        Operand::AddrOf(p) => place_vars(p, out),
        _ => {}
    }
}

fn place_vars(p: &Place, out: &mut Vec<VarId>) {
    match p {
        Place::Field(v, _) | Place::Deref(v) | Place::Index(v) => out.push(*v),
        Place::Var(_) | Place::Global(_) | Place::Opaque => {}
    }
}

fn stmt_reads(s: &StmtKind, out: &mut Vec<VarId>) {
    match s {
        StmtKind::Assign { src, .. } => operand_vars(src, out),
        StmtKind::Call { args, .. } => args.iter().for_each(|a| operand_vars(a, out)),
        StmtKind::Store { place, value } => {
            place_vars(place, out);
            operand_vars(value, out);
        }
        StmtKind::Incref { value, .. }
        | StmtKind::Use { value, .. }
        | StmtKind::Escape { value } => operand_vars(value, out),
        StmtKind::Decref { value, clears, .. } => {
            operand_vars(value, out);
            if let Some(p) = clears {
                place_vars(p, out);
            }
        }
        StmtKind::Havoc { .. } | StmtKind::ReleaseGil | StmtKind::AcquireGil => {}
    }
}

fn stmt_def(s: &StmtKind) -> Option<VarId> {
    match s {
        StmtKind::Assign { dst, .. } => Some(*dst),
        StmtKind::Call { dst, .. } => *dst,
        _ => None,
    }
}

/// `UNBIND`, `CLEAR_SLOT2`: an all-capitals name is a macro by convention.
fn looks_like_macro(name: &str) -> bool {
    name.bytes().any(|b| b.is_ascii_uppercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

fn term_reads(t: &Terminator, out: &mut Vec<VarId>) {
    match t {
        Terminator::Branch {
            cond: Cond::IsNull(op) | Cond::Cmp(op, _, _),
            ..
        }
        | Terminator::Return(Some(op)) => operand_vars(op, out),
        Terminator::Branch {
            cond: Cond::Same(a, b),
            ..
        } => {
            operand_vars(a, out);
            operand_vars(b, out);
        }
        _ => {}
    }
}

fn temp_deaths(func: &Function, block_base: &[u32], nstmts: usize) -> Vec<Vec<VarId>> {
    let mut deaths = vec![Vec::new(); nstmts];
    let temp_index: Vec<Option<usize>> = {
        let mut n = 0;
        func.vars
            .iter()
            .map(|v| {
                if v.kind == VarKind::Temp {
                    n += 1;
                    Some(n - 1)
                } else {
                    None
                }
            })
            .collect()
    };
    let ntemps = temp_index.iter().flatten().count();
    if ntemps == 0 {
        return deaths;
    }
    let words = ntemps.div_ceil(64);
    let nb = func.blocks.len();
    type Bits = Vec<u64>;
    let set = |bits: &mut Bits, v: VarId| {
        if let Some(Some(i)) = temp_index.get(v.index()) {
            bits[i / 64] |= 1 << (i % 64);
        }
    };
    let has = |bits: &Bits, v: VarId| -> bool {
        match temp_index.get(v.index()) {
            Some(Some(i)) => bits[i / 64] & (1 << (i % 64)) != 0,
            _ => false,
        }
    };
    // use/def per block (upward-exposed uses).
    let mut gen = vec![vec![0u64; words]; nb];
    let mut kill = vec![vec![0u64; words]; nb];
    let mut tmp = Vec::new();
    for (bi, b) in func.blocks.iter().enumerate() {
        let (g, k) = (&mut gen[bi], &mut kill[bi]);
        let mut gk: Bits = vec![0; words];
        let mut kk: Bits = vec![0; words];
        for s in &b.stmts {
            tmp.clear();
            stmt_reads(&s.kind, &mut tmp);
            for v in &tmp {
                if !has(&kk, *v) {
                    set(&mut gk, *v);
                }
            }
            if let Some(d) = stmt_def(&s.kind) {
                set(&mut kk, d);
            }
        }
        tmp.clear();
        term_reads(&b.term, &mut tmp);
        for v in &tmp {
            if !has(&kk, *v) {
                set(&mut gk, *v);
            }
        }
        *g = gk;
        *k = kk;
    }
    let succs: Vec<Vec<BlockId>> = func.blocks.iter().map(|b| b.term.successors()).collect();
    let mut live_in = vec![vec![0u64; words]; nb];
    let mut live_out = vec![vec![0u64; words]; nb];
    let mut changed = true;
    let mut rounds = 0;
    while changed && rounds < 1000 {
        changed = false;
        rounds += 1;
        for bi in (0..nb).rev() {
            let mut out: Bits = vec![0; words];
            for s in &succs[bi] {
                for (o, i) in out.iter_mut().zip(live_in[s.index()].iter()) {
                    *o |= *i;
                }
            }
            let inn: Bits = (0..words)
                .map(|w| gen[bi][w] | (out[w] & !kill[bi][w]))
                .collect();
            if inn != live_in[bi] || out != live_out[bi] {
                live_in[bi] = inn;
                live_out[bi] = out;
                changed = true;
            }
        }
    }
    for (bi, b) in func.blocks.iter().enumerate() {
        let base = block_base[bi] as usize;
        let mut live = live_out[bi].clone();
        tmp.clear();
        term_reads(&b.term, &mut tmp);
        let term_ref = base + b.stmts.len();
        let is_temp = |v: &VarId| matches!(temp_index.get(v.index()), Some(Some(_)));
        for v in &tmp {
            if is_temp(v) && !has(&live, *v) && !deaths[term_ref].contains(v) {
                deaths[term_ref].push(*v);
            }
        }
        for v in &tmp {
            set(&mut live, *v);
        }
        for (i, s) in b.stmts.iter().enumerate().rev() {
            tmp.clear();
            stmt_reads(&s.kind, &mut tmp);
            let mut d = Vec::new();
            for v in &tmp {
                if is_temp(v) && !has(&live, *v) && !d.contains(v) {
                    d.push(*v);
                }
            }
            if let Some(def) = stmt_def(&s.kind) {
                if func.vars[def.index()].kind == VarKind::Temp
                    && !has(&live, def)
                    && !d.contains(&def)
                {
                    d.push(def);
                }
                if let Some(Some(ti)) = temp_index.get(def.index()) {
                    live[ti / 64] &= !(1 << (ti % 64));
                }
            }
            for v in &tmp {
                set(&mut live, *v);
            }
            deaths[base + i] = d;
        }
    }
    deaths
}

// ---------------------------------------------------------------------------

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

/// The field-map base of file-scope variables.
const GLOBAL_BASE: u32 = 0xC000_0000;

impl<'a> Analyzer<'a> {
    // ---- bookkeeping -----------------------------------------------------

    fn intern(&self, name: &str) -> u32 {
        if let Some(id) = self.names.borrow().get(name) {
            return *id;
        }
        let mut list = self.name_list.borrow_mut();
        let id = list.len() as u32;
        list.push(name.to_string());
        self.names.borrow_mut().insert(name.to_string(), id);
        id
    }

    fn name_of(&self, id: u32) -> String {
        self.name_list
            .borrow()
            .get(id as usize)
            .cloned()
            .unwrap_or_default()
    }

    fn stmt_ref(&self, b: BlockId, i: usize) -> StmtRef {
        self.block_base[b.index()] + i as u32
    }

    /// The statement (or terminator) at a global index.
    fn locate(&self, sref: StmtRef) -> (usize, usize) {
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

    fn stmt_at(&self, sref: StmtRef) -> Option<&'a Stmt> {
        let (bi, i) = self.locate(sref);
        self.func.blocks.get(bi)?.stmts.get(i)
    }

    fn span_at(&self, sref: StmtRef) -> Span {
        let (bi, i) = self.locate(sref);
        match self.func.blocks.get(bi) {
            Some(b) if i < b.stmts.len() => b.stmts[i].span,
            Some(b) => b.term_span,
            None => self.func.span,
        }
    }

    fn callee_at(&self, sref: StmtRef) -> String {
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

    /// Name-derived facts about the callee of call statement `sref`,
    /// computed once per statement.
    fn callee_facts(&self, sref: StmtRef, name: &str) -> CalleeFacts {
        if let Some(Some(f)) = self.callee_cache.borrow().get(sref as usize) {
            return *f;
        }
        let f = CalleeFacts {
            runs_code: runs_python_code(name),
            success: status_success(name),
            kept: kept_arguments(name),
        };
        let mut cache = self.callee_cache.borrow_mut();
        if cache.len() <= sref as usize {
            cache.resize(sref as usize + 1, None);
        }
        cache[sref as usize] = Some(f);
        f
    }

    /// The managed operation a statement performs, if the language inserted it.
    fn managed_op(&self, sref: StmtRef) -> Option<ManagedOp> {
        match self.stmt_at(sref).map(|s| &s.origin) {
            Some(Origin::Managed(op)) => Some(*op),
            _ => None,
        }
    }

    /// The rule and message for a leak of `v`.
    fn leak_rule(
        &self,
        st: &State,
        site: Site,
        v: &ValueState,
        default: String,
    ) -> (&'static RuleMeta, String) {
        let name = self.describe(st, site);
        if let Some(s) = v.steal_failed {
            return (
                &rs106_steal_mishandled::META,
                rs106_steal_mishandled::message_leak_after_failed_steal(&name, &self.callee_at(s)),
            );
        }
        if v.cast_incref.is_some() {
            if let ValOrigin::New(s) | ValOrigin::OutNew(s, _) = v.origin {
                return (
                    &rs401_object_cast_of_new_ref::META,
                    rs401_object_cast_of_new_ref::message(&name, &self.callee_at(s)),
                );
            }
            if v.user_incref.is_some() {
                return (
                    &rs402_incref_then_cast::META,
                    rs402_incref_then_cast::message(&name),
                );
            }
        }
        (&rs101_leaked_reference::META, default)
    }

    fn var_name(&self, v: VarId) -> &'a str {
        &self.func.vars[v.index()].name
    }

    fn is_temp(&self, v: VarId) -> bool {
        self.func.vars[v.index()].kind == VarKind::Temp
    }

    /// "`name`" or a description of where the value came from.
    fn describe(&self, st: &State, site: Site) -> String {
        let Some(v) = st.value(site) else {
            return "the object".to_string();
        };
        if let Some(name) = v.name {
            return format!("`{}`", self.var_name(name));
        }
        if let Some(var) = st
            .vars_bound_to(Binding::Obj(site))
            .find(|v| !self.is_temp(*v))
            .map(|v| (v.0 as usize, ()))
        {
            return format!("`{}`", self.var_name(VarId(var.0 as u32)));
        }
        match v.origin {
            ValOrigin::New(s) => format!("the new reference from `{}`", self.callee_at(s)),
            ValOrigin::Borrowed(s) => {
                format!("the borrowed reference from `{}`", self.callee_at(s))
            }
            ValOrigin::OutNew(s, _) => format!("the new reference from `{}`", self.callee_at(s)),
            ValOrigin::OutBorrowed(s, _) => {
                format!("the borrowed reference from `{}`", self.callee_at(s))
            }
            ValOrigin::Param(i) => match self.func.params.get(i as usize) {
                Some(p) => format!("`{}`", self.var_name(*p)),
                None => "a parameter".to_string(),
            },
            ValOrigin::Global(id) => format!("`{}`", self.name_of(id).trim_start_matches('&')),
            ValOrigin::Field(s) => self
                .field_text(s)
                .unwrap_or_else(|| "the field".to_string()),
        }
    }

    fn plain_name(&self, st: &State, site: Site) -> Option<String> {
        let d = self.describe(st, site);
        d.strip_prefix('`')
            .and_then(|s| s.strip_suffix('`'))
            .map(str::to_string)
    }

    fn field_text(&self, sref: StmtRef) -> Option<String> {
        let stmt = self.stmt_at(sref)?;
        let mut found = None;
        let mut look = |op: &Operand| {
            if let Operand::Field(b, f) = op {
                if found.is_none() {
                    found = Some(if self.is_temp(*b) {
                        if f == "[]" {
                            "an array element".to_string()
                        } else {
                            format!("the `{f}` field")
                        }
                    } else if f == "[]" {
                        format!("`{}[...]`", self.var_name(*b))
                    } else {
                        format!("`{}->{}`", self.var_name(*b), f)
                    });
                }
            }
        };
        match &stmt.kind {
            StmtKind::Assign { src, .. } => look(src),
            StmtKind::Call { args, .. } => args.iter().for_each(look),
            StmtKind::Incref { value, .. }
            | StmtKind::Decref { value, .. }
            | StmtKind::Use { value, .. }
            | StmtKind::Store { value, .. } => look(value),
            _ => {}
        }
        found
    }

    /// Why the function does not own a value (for RS102/RS104/RS105/RS108).
    fn why_borrowed(&self, v: &ValueState) -> String {
        match v.status {
            Status::Stolen(s) => {
                return format!(
                    "its reference was stolen by `{}` on line {}",
                    self.callee_at(s),
                    self.span_at(s).line
                )
            }
            Status::Stored(s) => {
                return format!(
                    "its reference was stored away on line {}",
                    self.span_at(s).line
                )
            }
            _ => {}
        }
        match v.origin {
            ValOrigin::Param(_) => "parameters are borrowed references".to_string(),
            ValOrigin::Borrowed(s) | ValOrigin::OutBorrowed(s, _) => {
                format!(
                    "`{}` returns a borrowed reference, line {}",
                    self.callee_at(s),
                    self.span_at(s).line
                )
            }
            ValOrigin::Global(id) => {
                let n = self.name_of(id);
                if is_singleton_name(&n) {
                    format!(
                        "`{}` is a global singleton and needs its own reference before Python 3.12",
                        n.trim_start_matches('&')
                    )
                } else {
                    format!("`{}` is a global", n.trim_start_matches('&'))
                }
            }
            ValOrigin::Field(_) => "it belongs to the object's field".to_string(),
            ValOrigin::New(s) | ValOrigin::OutNew(s, _) => {
                format!(
                    "its reference from `{}` was already given up",
                    self.callee_at(s)
                )
            }
        }
    }

    fn is_immortal_global(&self, v: &ValueState) -> bool {
        if let ValOrigin::Global(id) = v.origin {
            let n = self.name_of(id);
            if let Some(since) = self
                .resolver
                .facts()
                .singleton_immortal_since(n.trim_start_matches('&'))
            {
                return self.opts.target >= since;
            }
            if is_singleton_name(&n) {
                return self.opts.target >= (3, 12);
            }
        }
        false
    }

    // ---- findings -------------------------------------------------------

    fn creation_event(&self, v: &ValueState) -> Option<Event> {
        let (span, message) = match v.origin {
            ValOrigin::New(s) => (
                self.span_at(s),
                format!("new reference from `{}`", self.callee_at(s)),
            ),
            ValOrigin::Borrowed(s) => (
                self.span_at(s),
                format!("borrowed reference from `{}`", self.callee_at(s)),
            ),
            ValOrigin::OutNew(s, _) => (
                self.span_at(s),
                format!(
                    "`{}` writes a new reference{}",
                    self.callee_at(s),
                    self.out_target(s, v)
                ),
            ),
            ValOrigin::OutBorrowed(s, _) => (
                self.span_at(s),
                format!(
                    "`{}` writes a borrowed reference{}",
                    self.callee_at(s),
                    self.out_target(s, v)
                ),
            ),
            ValOrigin::Param(i) => {
                let p = *self.func.params.get(i as usize)?;
                (
                    self.func.vars[p.index()].span,
                    format!(
                        "`{}` is a parameter: a borrowed reference",
                        self.var_name(p)
                    ),
                )
            }
            ValOrigin::Field(s) => (
                self.span_at(s),
                format!(
                    "{} read here",
                    self.field_text(s).unwrap_or_else(|| "the field".into())
                ),
            ),
            ValOrigin::Global(_) => return None,
        };
        Some(Event { span, message })
    }

    fn out_target(&self, _s: StmtRef, v: &ValueState) -> String {
        match v.name {
            Some(n) => format!(" to `{}`", self.var_name(n)),
            None => String::new(),
        }
    }

    fn render_event(&self, st: &State, ev: &Ev) -> Option<Event> {
        let ev = match *ev {
            Ev::Branch { block, taken } => {
                let b = self.func.blocks.get(block.index())?;
                let (cond, text) = match &b.term {
                    Terminator::Branch { cond, text, .. } => (cond, text),
                    _ => return None,
                };
                Event {
                    span: b.term_span,
                    message: self.branch_text(cond, text, taken),
                }
            }
            Ev::CallFailed { stmt } => {
                let name = self.callee_at(stmt);
                let how = self.failure_text(&name);
                Event {
                    span: self.span_at(stmt),
                    message: format!("`{name}` fails{how}"),
                }
            }
            Ev::CallFalse { stmt } => Event {
                span: self.span_at(stmt),
                message: format!("`{}` returns 0", self.callee_at(stmt)),
            },
            Ev::Incref { stmt, site } => Event {
                span: self.span_at(stmt),
                message: format!("{} gets a new reference", self.describe(st, site)),
            },
            Ev::Decref { stmt, site } => Event {
                span: self.span_at(stmt),
                message: format!(
                    "{} is released by `{}`",
                    self.describe(st, site),
                    self.callee_at(stmt)
                ),
            },
            Ev::Stolen { stmt, site } => Event {
                span: self.span_at(stmt),
                message: format!(
                    "`{}` steals the reference to {}",
                    self.callee_at(stmt),
                    self.describe(st, site)
                ),
            },
            Ev::Stored { stmt, site } => Event {
                span: self.span_at(stmt),
                message: format!(
                    "the reference to {} is stored away",
                    self.describe(st, site)
                ),
            },
            Ev::NotStolen { stmt, site } => Event {
                span: self.span_at(stmt),
                message: format!(
                    "`{}` fails: it does not steal {}, the caller still owns it",
                    self.callee_at(stmt),
                    self.describe(st, site)
                ),
            },
            Ev::Assigned { .. } | Ev::Created { .. } => return None,
        };
        Some(ev)
    }

    /// The callee whose result a temporary holds.
    fn temp_callee(&self, t: VarId) -> Option<&'a str> {
        self.func
            .blocks
            .iter()
            .flat_map(|b| b.stmts.iter())
            .find_map(|s| match &s.kind {
                StmtKind::Call {
                    dst: Some(d),
                    callee: Callee::Named(n),
                    ..
                } if *d == t => Some(n.as_str()),
                _ => None,
            })
    }

    /// What taking one edge of a branch means, worded from the condition the
    /// engine split on (so it is right whatever the source's negations).
    fn branch_text(&self, cond: &Cond, text: &str, taken: bool) -> String {
        let operand = |op: &Operand| -> Option<String> {
            match op {
                Operand::Var(v) if !self.is_temp(*v) => Some(format!("`{}`", self.var_name(*v))),
                Operand::Global(g) => Some(format!("`{g}`")),
                Operand::Field(v, f) if !self.is_temp(*v) => {
                    Some(format!("`{}->{}`", self.var_name(*v), f))
                }
                Operand::Var(v) => self.temp_callee(*v).map(|c| format!("the result of `{c}`")),
                _ => None,
            }
        };
        match cond {
            Cond::IsNull(op) => match operand(op) {
                Some(o) => format!("{o} is {}", if taken { "NULL" } else { "not NULL" }),
                None => format!("`{text}` is {}", if taken { "NULL" } else { "not NULL" }),
            },
            Cond::Cmp(Operand::Var(v), CmpOp::Lt, k) if self.var_name(*v).starts_with('#') => {
                // A preprocessor arm choice (see the C front-end).
                format!(
                    "`{}`: arm {k} is {}compiled",
                    self.var_name(*v),
                    if taken { "" } else { "not " }
                )
            }
            Cond::Cmp(op, cmp, k) => {
                let cmp = if taken { *cmp } else { cmp.negate() };
                match (operand(op), op) {
                    (Some(o), Operand::Var(v)) if self.is_temp(*v) => {
                        let what = match (cmp, *k) {
                            (CmpOp::Eq, k) => format!("is {k}"),
                            (CmpOp::Ne, 0) => "is not 0".to_string(),
                            (CmpOp::Lt, 0) => "is negative".to_string(),
                            (CmpOp::Ge, 0) => "is not negative".to_string(),
                            (c, k) => format!("is {} {k}", c.as_str()),
                        };
                        format!("{o} {what}")
                    }
                    (Some(o), _) => {
                        format!(
                            "{} {} {k}",
                            o.trim_end_matches('`').to_string() + "",
                            cmp.as_str()
                        ) + "`"
                    }
                    (None, _) => format!("`{text}` is {}", if taken { "true" } else { "false" }),
                }
            }
            Cond::ErrOccurred => if taken {
                "an exception is set"
            } else {
                "no exception is set"
            }
            .to_string(),
            Cond::Same(a, b) => {
                let name = |op: &Operand| match op {
                    Operand::Var(v) if !self.is_temp(*v) => self.var_name(*v).to_string(),
                    Operand::Global(g) => g.clone(),
                    Operand::Field(v, f) if !self.is_temp(*v) => {
                        format!("{}->{}", self.var_name(*v), f)
                    }
                    Operand::AddrOf(Place::Global(g)) => format!("&{g}"),
                    _ => "the value".to_string(),
                };
                format!(
                    "`{}` is {}`{}`",
                    name(a),
                    if taken { "" } else { "not " },
                    name(b)
                )
            }
            Cond::Unknown => format!("`{text}` is {}", if taken { "true" } else { "false" }),
        }
    }

    fn failure_text(&self, name: &str) -> &'static str {
        match self.resolver.resolve(name).map(|r| r.contract.failure) {
            Some(
                Failure::Null | Failure::NullNoExc | Failure::NullMaybeExc | Failure::AlwaysNull,
            ) => " (returns NULL)",
            Some(Failure::NegOne | Failure::TriState) => " (returns -1)",
            Some(Failure::Zero) => " (returns 0)",
            _ => "",
        }
    }

    /// The numbered path of a finding about `site` (or about the path as a
    /// whole when `site` is None), ending with the finding itself.
    fn events(&self, st: &State, site: Option<Site>, last: Event) -> Vec<Event> {
        const MAX_EVENTS: usize = 12;
        let all = path_events(&st.path);
        let start = match site {
            Some(s) => all
                .iter()
                .rposition(|e| matches!(e, Ev::Created { site, .. } if *site == s))
                .map_or(0, |i| i + 1),
            None => 0,
        };
        let mut picked: Vec<(bool, Event)> = Vec::new();
        if let Some(v) = site.and_then(|s| st.value(s)) {
            if let Some(e) = self.creation_event(v) {
                picked.push((true, e));
            }
        }
        for ev in &all[start..] {
            let related = match ev.site() {
                Some(s) => Some(s) == site,
                None => true,
            };
            let strong = ev.site().is_some();
            if !related {
                continue;
            }
            if let Some(e) = self.render_event(st, ev) {
                picked.push((strong, e));
            }
        }
        // Keep the story short: drop the oldest branch events first.
        while picked.len() + 1 > MAX_EVENTS {
            match picked.iter().skip(1).position(|(strong, _)| !strong) {
                Some(i) => {
                    picked.remove(i + 1);
                }
                None => {
                    picked.remove(1.min(picked.len() - 1));
                }
            }
        }
        // Several events of one statement ("`f` fails", "the result of `f`
        // is negative") say one thing: keep the one about the value.
        let mut merged: Vec<(bool, Event)> = Vec::with_capacity(picked.len());
        for (strong, e) in picked {
            match merged.last_mut() {
                Some((prev_strong, prev))
                    if (prev.span.line, prev.span.col) == (e.span.line, e.span.col) =>
                {
                    if strong && !*prev_strong {
                        *prev = e;
                        *prev_strong = true;
                    }
                }
                _ => merged.push((strong, e)),
            }
        }
        let mut out: Vec<Event> = merged
            .into_iter()
            .map(|(_, e)| e)
            .filter(|e| (e.span.line, e.span.col) != (last.span.line, last.span.col))
            .collect();
        out.dedup();
        out.push(last);
        out
    }

    #[allow(clippy::too_many_arguments)]
    fn report(
        &mut self,
        st: &State,
        meta: &'static RuleMeta,
        span: Span,
        site: Option<Site>,
        message: String,
        last: String,
        help: Option<String>,
    ) {
        let key = (meta.code, span.start, span.end, site.unwrap_or(0));
        if !self.seen_findings.insert(key) {
            return;
        }
        let events = self.events(
            st,
            site,
            Event {
                span,
                message: last,
            },
        );
        let f = rules::finding(meta, span, Some(&self.func.name), message, events, help);
        self.result.findings.push(f);
    }

    fn mark_reported(&self, st: &mut State, site: Site) {
        if let Some(v) = st.value_mut(site) {
            v.reported = true;
        }
    }

    // ---- the worklist --------------------------------------------------------

    fn entry_state(&mut self) -> State {
        let func = self.func;
        let mut st = State::new(func.vars.len());
        for (i, p) in func.params.iter().enumerate() {
            let var = &func.vars[p.index()];
            if var.ty != TypeClass::Object {
                continue;
            }
            let site = PARAM_SITE | i as u32;
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
        st
    }

    fn run(&mut self) {
        let func = self.func;
        if func.blocks.is_empty() {
            return;
        }
        let nb = func.blocks.len();
        let mut seen: Vec<Vec<(u64, State)>> = vec![Vec::new(); nb];
        let mut work: VecDeque<(BlockId, State)> = VecDeque::new();
        let entry = self.entry_state();
        seen[0].push((entry.prop_hash(), entry.clone()));
        work.push_back((BlockId::ENTRY, entry));
        let mut steps = 0usize;
        while let Some((b, st)) = work.pop_front() {
            steps += 1;
            if steps > self.opts.limits.max_steps {
                self.approximate = Some(format!(
                    "analysis budget of {} steps exhausted; some paths were not explored",
                    self.opts.limits.max_steps
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
                    self.kill_temps(&mut s2, tref);
                    s2.collect_garbage();
                    self.add_state(&mut seen, &mut work, succ, s2);
                }
            }
        }
    }

    /// Removes duplicates and joins states with equal ownership facts.
    fn normalize(&mut self, states: Vec<State>) -> Vec<State> {
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
        let cap = self.opts.limits.max_states_per_block * 4;
        if out.len() > cap {
            out.truncate(cap);
            self.note_budget();
        }
        out
    }

    fn note_budget(&mut self) {
        if self.approximate.is_none() {
            self.approximate = Some(format!(
                "more than {} distinct states at one point; some paths were not explored",
                self.opts.limits.max_states_per_block
            ));
        }
    }

    fn add_state(
        &mut self,
        seen: &mut [Vec<(u64, State)>],
        work: &mut VecDeque<(BlockId, State)>,
        b: BlockId,
        st: State,
    ) {
        let hash = st.prop_hash();
        let slot = &mut seen[b.index()];
        for (h, existing) in slot.iter_mut() {
            if *h == hash && existing.same_property(&st) {
                // Equal states join without change: nothing new to explore.
                if existing.join_from(&st) {
                    work.push_back((b, existing.clone()));
                }
                return;
            }
        }
        if slot.len() >= self.opts.limits.max_states_per_block {
            self.note_budget();
            return;
        }
        slot.push((hash, st.clone()));
        work.push_back((b, st));
    }

    // ---- operands ---------------------------------------------------------

    fn base_key(&self, st: &State, base: VarId) -> u32 {
        match st.binding(base) {
            Binding::Obj(site) => site,
            _ => var_key(base),
        }
    }

    fn global_value(&self, st: &mut State, name: &str) -> Binding {
        // A global this function stored to: what it stored.
        if !name.starts_with('&') {
            match st.field(GLOBAL_BASE, self.intern(name)) {
                Some(FieldVal::Obj(s)) if st.value(s).is_some() => return Binding::Obj(s),
                Some(FieldVal::Null(s)) => return Binding::Null(NullWhy::Literal(s)),
                Some(FieldVal::Ptr) => return Binding::Ptr,
                _ => {}
            }
        }
        let bare = name.trim_start_matches('&');
        let kind = self.resolver.global_kind(bare);
        let is_object = match kind {
            Some(crate::facts::GlobalKind::HoldsObject) => !name.starts_with('&'),
            Some(crate::facts::GlobalKind::IsObject) => {
                name.starts_with('&') || is_singleton_name(bare)
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
        let site = GLOBAL_SITE | (id & 0x0FFF_FFFF);
        if st.value(site).is_none() {
            let bare = name.trim_start_matches('&');
            let nonnull =
                name.starts_with('&') || is_singleton_name(bare) || bare.starts_with("PyExc_");
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
    fn eval(&self, st: &mut State, op: &Operand, sref: StmtRef, idx: usize) -> Binding {
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
                if self.known_non_object_field(*base, field) {
                    return Binding::Unknown;
                }
                let key = self.base_key(st, *base);
                let fid = self.intern(&format!(".{field}"));
                if field != "[]" {
                    match st.field(key, fid) {
                        Some(FieldVal::Obj(site)) if st.value(site).is_some() => {
                            return Binding::Obj(site)
                        }
                        Some(FieldVal::Null(s)) => return Binding::Null(NullWhy::Literal(s)),
                        Some(FieldVal::Ptr) => return Binding::Ptr,
                        _ => {}
                    }
                }
                let sub = SUB_FIELD_FIRST + idx as u32;
                if sub > SUB_FIELD_LAST {
                    return Binding::Unknown;
                }
                let Some(site) = stmt_site(sref, sub) else {
                    return Binding::Unknown;
                };
                let existing = st.value(site).copied();
                if let Some(v) = existing {
                    if st.ref_count(site) > 0 || v.owned > 0 {
                        // A previous loop iteration's value: it is another
                        // object now; stop tracking the old one.
                        self.escape_site(st, site);
                    }
                }
                let mut v = ValueState::new(site, ValOrigin::Field(sref), 0, Nullness::Maybe);
                if let Binding::Obj(bsite) = st.binding(*base) {
                    v.owner = bsite;
                }
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
    fn accessor_key(&self, _st: &State, vals: &[Binding], callee: &str) -> Option<(u32, u32)> {
        let base = vals.first()?.obj()?;
        let mut key = format!("#{callee}");
        for b in &vals[1..] {
            match b {
                Binding::Int(lo, hi) if lo == hi => key.push_str(&format!(",{lo}")),
                Binding::Obj(s) => key.push_str(&format!(",o{s}")),
                _ => return None,
            }
        }
        Some((base, self.intern(&key)))
    }

    /// `PyList_SET_ITEM(l, i, v)` overwrites the slot `PyList_GET_ITEM(l, i)`
    /// read before: the slot's reference to the old item is the caller's
    /// now (it must release it), and a release made earlier is justified.
    fn slot_overwrite(&self, st: &mut State, callee: &str, vals: &[Binding]) {
        let getter = match callee {
            "PyList_SET_ITEM" => "PyList_GET_ITEM",
            "PyTuple_SET_ITEM" => "PyTuple_GET_ITEM",
            "PyStructSequence_SET_ITEM" => "PyStructSequence_GET_ITEM",
            "PyStructSequence_SetItem" => "PyStructSequence_GetItem",
            _ => return,
        };
        if vals.len() < 3 {
            return;
        }
        let mut found = false;
        for get in [getter, getter.replace("_GET_ITEM", "_GetItem").as_str()] {
            let Some((base, key)) = self.accessor_key(st, &vals[..2], get) else {
                continue;
            };
            if let Some(FieldVal::Obj(old)) = st.field(base, key) {
                found = true;
                if let Some(v) = st.value_mut(old) {
                    if v.slot_released.is_some() {
                        v.slot_released = None;
                    } else if v.status == Status::Live && vals[2] != Binding::Obj(old) {
                        v.owned += 1;
                    }
                }
                st.clear_field(base, key);
            }
        }
        // The index is not a known constant (`PyTuple_SET_ITEM(t, i, x)` in
        // a loop): the slot is the one item read from this container, if
        // there is exactly one.
        let Some(container) = vals[0].obj() else {
            return;
        };
        if found {
            return;
        }
        let candidates: Vec<Site> = st
            .values
            .iter()
            .filter(|v| v.owner == container && v.owned <= 0 && v.site != vals[2].obj().unwrap_or(0))
            .filter(|v| matches!(v.origin, ValOrigin::Borrowed(s) if is_item_getter(&self.callee_at(s))))
            .filter(|v| v.status == Status::Live || v.slot_released.is_some())
            .map(|v| v.site)
            .collect();
        if let [old] = candidates[..] {
            if let Some(v) = st.value_mut(old) {
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
    fn in_accessor_slot(&self, st: &State, site: Site) -> bool {
        st.fields
            .iter()
            .any(|f| f.val == FieldVal::Obj(site) && self.name_of(f.field).starts_with('#'))
    }

    /// The place a Store statement writes, as the user wrote it.
    fn store_place_text(&self, sref: StmtRef) -> String {
        match self.stmt_at(sref).map(|s| &s.kind) {
            Some(StmtKind::Store { place, .. }) => match place {
                Place::Field(b, f) if !self.is_temp(*b) => format!("{}->{}", self.var_name(*b), f),
                Place::Field(_, f) => format!("the `{f}` field"),
                Place::Global(g) => g.clone(),
                Place::Deref(p) => format!("*{}", self.var_name(*p)),
                Place::Index(p) => format!("{}[...]", self.var_name(*p)),
                Place::Var(v) => self.var_name(*v).to_string(),
                Place::Opaque => "the place".to_string(),
            },
            _ => "the place".to_string(),
        }
    }

    /// `base->field` where the struct is defined in the file and the field
    /// is a `PyObject *`.
    fn known_object_field(&self, base: VarId, field: &str) -> bool {
        let c_type = &self.func.vars[base.index()].c_type;
        match self.module.and_then(|m| m.struct_named(c_type)) {
            Some(s) => s
                .fields
                .iter()
                .any(|f| f.name == field && f.ty == TypeClass::Object),
            None => false,
        }
    }

    /// `base->field` where the struct is defined in the file and the field
    /// is not a `PyObject *`.
    fn known_non_object_field(&self, base: VarId, field: &str) -> bool {
        if field == "[]" {
            return false;
        }
        let c_type = &self.func.vars[base.index()].c_type;
        match self.module.and_then(|m| m.struct_named(c_type)) {
            Some(s) => s
                .fields
                .iter()
                .any(|f| f.name == field && f.ty != TypeClass::Object),
            None => false,
        }
    }

    fn escape_site(&self, st: &mut State, site: Site) {
        st.replace_binding(site, Binding::Unknown);
        st.fields.retain(|f| f.val != FieldVal::Obj(site));
        st.remove_value(site);
    }

    // ---- statements ----------------------------------------------------------

    fn exec_stmt(&mut self, mut st: State, sref: StmtRef, stmt: &'a Stmt, out: &mut Vec<State>) {
        let span = stmt.span;
        match &stmt.kind {
            StmtKind::Assign { dst, src } => {
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
                let b = self.eval(&mut st, value, sref, 0);
                self.store(&mut st, place, b, sref, span);
                self.finish(st, sref, out);
            }
            StmtKind::Incref { value, nullable } => {
                let b = self.eval(&mut st, value, sref, 0);
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
    fn finish(&mut self, mut st: State, sref: StmtRef, out: &mut Vec<State>) {
        self.kill_temps(&mut st, sref);
        // Dead values are dropped at block ends (before states are compared);
        // within a block only when they pile up.
        if st.values.len() > 16 {
            st.collect_garbage();
        }
        out.push(st);
    }

    fn kill_temps(&mut self, st: &mut State, sref: StmtRef) {
        let Some(dying) = self.deaths.get(sref as usize) else {
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
            if let Binding::Obj(site) = old {
                self.check_lost(st, site, span, LostHow::Temp);
            }
        }
    }

    /// Binds `dst`, reporting a leak when its old value was the last owner.
    fn bind(&mut self, st: &mut State, dst: VarId, b: Binding, sref: StmtRef, span: Span) {
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
    fn check_lost(&mut self, st: &mut State, site: Site, span: Span, how: LostHow) {
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
        let name = self.describe(st, site);
        let callee = match v.origin {
            ValOrigin::New(s) | ValOrigin::OutNew(s, _) => self.callee_at(s),
            _ => "the call".to_string(),
        };
        let (default, last) = match how {
            LostHow::Temp => (
                rs101_leaked_reference::message_temp(&callee),
                "the reference is lost here".to_string(),
            ),
            LostHow::Overwrite(var) => (
                rs101_leaked_reference::message_overwrite(&name, self.var_name(var)),
                format!("`{}` is overwritten here", self.var_name(var)),
            ),
        };
        let (meta, message) = self.leak_rule(st, site, &v, default);
        let help = rs101_leaked_reference::help(self.plain_name(st, site).as_deref());
        self.report(st, meta, span, Some(site), message, last, help);
        if let Some(v) = st.value_mut(site) {
            v.reported = true;
            v.owned = 0;
        }
    }

    fn dead_use(&mut self, st: &mut State, site: Site, what: &str, span: Span) -> bool {
        let Some(v) = st.value(site).copied() else {
            return false;
        };
        if !v.trackable() || !v.status.is_dead() {
            return false;
        }
        let name = self.describe(st, site);
        let (message, last) = match v.status {
            Status::OwnerGone(s) => {
                let owner = if v.owner != 0 && st.value(v.owner).is_some() {
                    self.describe(st, v.owner)
                } else {
                    "its container".to_string()
                };
                let _ = s;
                (
                    rs103_use_after_release::message_owner_gone(&name, &owner),
                    format!("{name} is {what} here"),
                )
            }
            Status::Released(s)
                if matches!(
                    self.managed_op(s),
                    Some(ManagedOp::TempRelease | ManagedOp::AssignRelease | ManagedOp::ScopeExit)
                ) =>
            {
                (
                    rs406_raw_pointer_outlives_object::message(&name, what),
                    format!("{name} is {what} here"),
                )
            }
            _ => {
                if what == "released" {
                    (
                        rs103_use_after_release::message_double(&name),
                        format!("{name} is released again here"),
                    )
                } else {
                    (
                        rs103_use_after_release::message_use(&name, what),
                        format!("{name} is {what} here"),
                    )
                }
            }
        };
        let meta = match v.status {
            Status::Released(s)
                if matches!(
                    self.managed_op(s),
                    Some(ManagedOp::TempRelease | ManagedOp::AssignRelease | ManagedOp::ScopeExit)
                ) =>
            {
                &rs406_raw_pointer_outlives_object::META
            }
            _ => &rs103_use_after_release::META,
        };
        self.report(st, meta, span, Some(site), message, last, None);
        self.mark_reported(st, site);
        true
    }

    /// Python code may run: borrowed container items may be freed.
    fn expose_borrowed(&self, st: &mut State, sref: StmtRef) {
        for v in st.values.iter_mut() {
            if v.volatile && v.owned <= 0 && v.status == Status::Live && v.exposed.is_none() {
                v.exposed = Some(sref);
            }
        }
    }

    /// RS110: a borrowed item used after Python code may have freed it.
    fn check_exposed(&mut self, st: &mut State, site: Site, span: Span) {
        let Some(v) = st.value(site).copied() else {
            return;
        };
        let Some(at) = v.exposed else { return };
        if !v.volatile || v.owned > 0 || !v.trackable() {
            return;
        }
        let name = self.describe(st, site);
        let callee = self.callee_at(at);
        self.report(
            st,
            &rs110_borrowed_across_call::META,
            span,
            Some(site),
            rs110_borrowed_across_call::message(&name, &callee),
            format!("{name} is used here"),
            Some(format!(
                "take a reference right after the lookup (`Py_INCREF({})`) or use the *Ref API",
                name.trim_matches('`')
            )),
        );
        if let Some(v) = st.value_mut(site) {
            v.volatile = false;
        }
    }

    fn null_why_text(&self, why: NullWhy) -> String {
        match why {
            NullWhy::Literal(s) => format!("set to NULL on line {}", self.span_at(s).line),
            NullWhy::Failed(s) => format!(
                "`{}` returned NULL on line {}",
                self.callee_at(s),
                self.span_at(s).line
            ),
            NullWhy::Checked(s) => format!("checked on line {}", self.span_at(s).line),
        }
    }

    fn null_name(&self, op_text: Option<String>) -> String {
        op_text
            .map(|n| format!("`{n}`"))
            .unwrap_or_else(|| "the value".to_string())
    }

    /// Reports a NULL value used where NULL crashes; returns false when the
    /// path ends there.
    fn null_use(
        &mut self,
        st: &mut State,
        why: NullWhy,
        how: &str,
        name: String,
        span: Span,
    ) -> bool {
        let message = rs107_unchecked_null::message_null(&name, how, &self.null_why_text(why));
        self.report(
            st,
            &rs107_unchecked_null::META,
            span,
            None,
            message,
            format!("{name} is {how} here"),
            Some("check for NULL first, or use the Py_X* variant".to_string()),
        );
        false
    }

    fn maybe_null_use(&mut self, st: &mut State, site: Site, from: StmtRef, how: &str, span: Span) {
        let name = self.describe(st, site);
        let why = format!(
            "`{}` on line {} may leave it NULL",
            self.callee_at(from),
            self.span_at(from).line
        );
        let message = rs107_unchecked_null::message_maybe(&name, how, &why);
        self.report(
            st,
            &rs107_unchecked_null::META,
            span,
            Some(site),
            message,
            format!("{name} is {how} here"),
            Some("check for NULL first, or use the Py_X* variant".to_string()),
        );
        self.mark_reported(st, site);
    }

    fn var_text(&self, st: &State, b: Binding) -> Option<String> {
        st.vars_bound_to(b)
            .find(|v| !self.is_temp(*v))
            .map(|v| self.var_name(v).to_string())
    }

    fn op_text(&self, st: &State, op: &Operand, b: Binding) -> Option<String> {
        match op {
            Operand::Var(v) if !self.is_temp(*v) => Some(self.var_name(*v).to_string()),
            Operand::Field(v, f) if !self.is_temp(*v) && f != "[]" => {
                Some(format!("{}->{}", self.var_name(*v), f))
            }
            _ => self.var_text(st, b),
        }
    }

    fn incref(
        &mut self,
        st: &mut State,
        b: Binding,
        nullable: bool,
        sref: StmtRef,
        span: Span,
    ) -> bool {
        if st.gil_released {
            self.gil_violation(st, "Py_INCREF", span);
        }
        match b {
            Binding::Obj(site) => {
                if self.dead_use(st, site, "INCREF'd", span) {
                    return true;
                }
                self.check_exposed(st, site, span);
                let Some(v) = st.value(site).copied() else {
                    return true;
                };
                if let Nullness::MaybeOut(from) = v.null {
                    if !nullable && v.trackable() {
                        self.maybe_null_use(st, site, from, "INCREF'd", span);
                    }
                }
                let op = self.managed_op(sref);
                if let Some(v) = st.value_mut(site) {
                    v.owned += 1;
                    if v.owned >= 0 {
                        v.store_debt = None;
                    }
                    match op {
                        Some(ManagedOp::ObjectCast) => v.cast_incref = Some(sref),
                        None => v.user_incref = Some(sref),
                        Some(_) => {}
                    }
                    if matches!(v.status, Status::Stolen(_) | Status::Stored(_)) {
                        v.status = Status::Live;
                    }
                    if v.owned > MAX_OWNED {
                        v.status = Status::Escaped;
                    }
                }
                st.push_event(Ev::Incref { stmt: sref, site });
                true
            }
            Binding::Null(why) if !nullable => {
                let name = self.null_name(self.var_text(st, b));
                self.null_use(st, why, "INCREF'd", name, span)
            }
            _ => true,
        }
    }

    fn decref(
        &mut self,
        st: &mut State,
        b: Binding,
        nullable: bool,
        sref: StmtRef,
        span: Span,
        op: &Operand,
    ) -> bool {
        let macro_name = self.callee_at(sref);
        if st.gil_released {
            self.gil_violation(st, &macro_name, span);
        }
        match b {
            Binding::Obj(site) => {
                if self.dead_use(st, site, "released", span) {
                    return true;
                }
                let Some(v) = st.value(site).copied() else {
                    return true;
                };
                if !v.trackable() {
                    if let Some(v) = st.value_mut(site) {
                        v.owned -= 1;
                    }
                    return true;
                }
                if let Nullness::MaybeOut(from) = v.null {
                    if !nullable {
                        self.maybe_null_use(st, site, from, "released", span);
                    }
                }
                st.push_event(Ev::Decref { stmt: sref, site });
                if v.owned > 0 {
                    let now = v.owned - 1;
                    let was_new = v.origin.is_new_kind() && !v.kept;
                    if let Some(v) = st.value_mut(site) {
                        v.owned = now;
                        if now == 0 && was_new {
                            v.status = Status::Released(sref);
                        }
                    }
                    if now == 0 && was_new {
                        self.owner_released(st, site, sref);
                    }
                    return true;
                }
                // The function holds no reference of its own.
                let name = self.describe(st, site);
                match (v.status, v.origin) {
                    (Status::Stolen(s), _) => {
                        let c = self.callee_at(s);
                        let (meta, message) = if self.managed_op(sref).is_some() {
                            (
                                &rs403_managed_to_stealing::META,
                                rs403_managed_to_stealing::message(&name, &c),
                            )
                        } else {
                            (
                                &rs106_steal_mishandled::META,
                                rs106_steal_mishandled::message_release_after_steal(&name, &c),
                            )
                        };
                        let help = self.managed_op(sref).map(|_| {
                            format!(
                                "`Py_INCREF({})` before passing it to `{c}`",
                                name.trim_matches('`')
                            )
                        });
                        self.report(
                            st,
                            meta,
                            span,
                            Some(site),
                            message,
                            format!("{name} is released here"),
                            help,
                        );
                        self.mark_reported(st, site);
                    }
                    (Status::Stored(_), _) if self.managed_op(sref).is_some() => {
                        self.report(
                            st,
                            &rs406_raw_pointer_outlives_object::META,
                            span,
                            Some(site),
                            rs406_raw_pointer_outlives_object::message_stored(&name),
                            format!("Cython releases {name} here"),
                            Some("keep a reference of your own (Py_INCREF) for the stored pointer, or store an `object`".to_string()),
                        );
                        self.mark_reported(st, site);
                    }
                    (Status::Stored(_), _)
                        if matches!(op, Operand::Field(..) | Operand::Global(_)) =>
                    {
                        // The function stored its reference into this field
                        // (or global) and now releases it through the field:
                        // the stored reference comes back and is released.
                        if let Some(v) = st.value_mut(site) {
                            v.status = Status::Released(sref);
                            v.store_debt = None;
                        }
                        self.owner_released(st, site, sref);
                    }
                    (_, ValOrigin::Field(_)) => {
                        // Releasing the reference an object's field holds.
                        if let Some(v) = st.value_mut(site) {
                            v.status = Status::Released(sref);
                        }
                        self.owner_released(st, site, sref);
                    }
                    (_, ValOrigin::Global(_)) if !self.is_singleton_value(&v) => {
                        if let Some(v) = st.value_mut(site) {
                            v.status = Status::Released(sref);
                        }
                    }
                    (_, ValOrigin::Global(_)) if self.is_immortal_global(&v) => {}
                    (Status::Live, ValOrigin::Borrowed(b))
                        if self.in_accessor_slot(st, site)
                            || (v.owner != 0 && is_item_getter(&self.callee_at(b))) =>
                    {
                        // Releasing a container slot's reference: fine if the
                        // slot is overwritten before the function returns.
                        if let Some(v) = st.value_mut(site) {
                            v.slot_released = Some(sref);
                            v.status = Status::Released(sref);
                        }
                    }
                    (Status::Live, o) if o.is_new_kind() && v.kept => {
                        // A new reference already released once; a container
                        // kept the object alive, so this release takes the
                        // container's reference.
                        self.report(
                            st,
                            &rs103_use_after_release::META,
                            span,
                            Some(site),
                            rs103_use_after_release::message_double(&name),
                            format!("{name} is released again here"),
                            None,
                        );
                        self.mark_reported(st, site);
                    }
                    (Status::Live, ValOrigin::Param(i))
                        if !self.expect.python_facing && self.expect.params.is_none() =>
                    {
                        // Maybe the function steals it: decided by the summary.
                        let why = self.why_borrowed(&v);
                        self.tentative_param_finding(
                            st,
                            site,
                            i,
                            &rs102_decref_borrowed::META,
                            rs102_decref_borrowed::message(&name, &why),
                            (span, format!("{name} is released here")),
                            None,
                        );
                    }
                    _ => {
                        let why = self.why_borrowed(&v);
                        self.report(
                            st,
                            &rs102_decref_borrowed::META,
                            span,
                            Some(site),
                            rs102_decref_borrowed::message(&name, &why),
                            format!("{name} is released here"),
                            None,
                        );
                        self.mark_reported(st, site);
                    }
                }
                true
            }
            Binding::Null(why) if !nullable => {
                let name = self.null_name(self.var_text(st, b));
                self.null_use(st, why, &format!("passed to `{macro_name}`"), name, span)
            }
            _ => true,
        }
    }

    /// A finding about parameter `param` of a helper that may take over its
    /// reference (release, store or hand it on): kept aside for the summary
    /// to decide, and the parameter's reference counted as given away.
    #[allow(clippy::too_many_arguments)]
    fn tentative_param_finding(
        &mut self,
        st: &mut State,
        site: Site,
        param: u32,
        meta: &'static RuleMeta,
        message: String,
        (span, event): (Span, String),
        help: Option<String>,
    ) {
        let events = self.events(
            st,
            Some(site),
            Event {
                span,
                message: event,
            },
        );
        let f = rules::finding(meta, span, Some(&self.func.name), message, events, help);
        self.result.param_releases.push((param, f));
        if let Some(v) = st.value_mut(site) {
            v.owned -= 1;
        }
    }

    fn is_singleton_value(&self, v: &ValueState) -> bool {
        match v.origin {
            ValOrigin::Global(id) => is_singleton_name(&self.name_of(id)),
            _ => false,
        }
    }

    /// Borrowed references taken from a released container die with it, when
    /// the container was made here (so the function held its only reference).
    fn owner_released(&self, st: &mut State, owner: Site, sref: StmtRef) {
        if owner == 0 {
            return;
        }
        let fresh = match st.value(owner).map(|v| v.origin) {
            Some(ValOrigin::New(s)) => {
                let callee = self.callee_at(s);
                // A constructor, or one of the module's own functions that
                // returns a new reference (it builds the object).
                is_constructor(&callee)
                    || self
                        .resolver
                        .summary(&callee)
                        .is_some_and(|c| c.returns == Returns::New)
            }
            _ => false,
        };
        if !fresh {
            return;
        }
        for v in st.values.iter_mut() {
            if v.owner == owner
                && v.owned <= 0
                && v.status == Status::Live
                && v.origin.is_borrowed_kind()
            {
                v.status = Status::OwnerGone(sref);
            }
        }
    }

    fn use_value(
        &mut self,
        st: &mut State,
        b: Binding,
        kind: UseKind,
        _sref: StmtRef,
        span: Span,
    ) -> bool {
        if kind != UseKind::Deref {
            return true;
        }
        match b {
            Binding::Obj(site) => {
                self.dead_use(st, site, "used", span);
                self.check_exposed(st, site, span);
                if let Some(v) = st.value(site).copied() {
                    if let Nullness::MaybeOut(from) = v.null {
                        if v.trackable() {
                            self.maybe_null_use(st, site, from, "dereferenced", span);
                        }
                    }
                }
                true
            }
            Binding::Null(why) => {
                let name = self.null_name(self.var_text(st, b));
                self.null_use(st, why, "dereferenced", name, span)
            }
            _ => true,
        }
    }

    fn store(&mut self, st: &mut State, place: &Place, b: Binding, sref: StmtRef, span: Span) {
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
                match b {
                    Binding::Obj(site) => st.set_field(GLOBAL_BASE, gid, FieldVal::Obj(site)),
                    Binding::Null(_) => st.set_field(GLOBAL_BASE, gid, FieldVal::Null(sref)),
                    Binding::Ptr => st.set_field(GLOBAL_BASE, gid, FieldVal::Ptr),
                    _ => st.clear_field(GLOBAL_BASE, gid),
                }
                (true, g.clone())
            }
            // Storing through a pointer or into an array moves the reference
            // there, unless the array is a local one (argument vectors).
            Place::Deref(p) | Place::Index(p) => {
                let var = &self.func.vars[p.index()];
                let local_array = var.kind == VarKind::Local && var.c_type.contains('[');
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
        if self.dead_use(st, site, "stored", span) {
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
            if matches!(
                place,
                Place::Field(..) | Place::Global(_) | Place::Index(_) | Place::Deref(_)
            ) && v.status == Status::Live
                && !self.expect.python_facing
                && self.expect.params.is_none()
            {
                // Maybe this function takes over the parameter's reference:
                // decided by the summary.
                let name = self.describe(st, site);
                let why = self.why_borrowed(&v);
                self.tentative_param_finding(
                    st,
                    site,
                    i,
                    &rs108_borrowed_stored::META,
                    rs108_borrowed_stored::message(&name, &place_text, &why),
                    (span, format!("{name} is stored here")),
                    Some(format!(
                        "store a new reference: `{place_text} = Py_NewRef(...)`"
                    )),
                );
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
        }
    }

    fn gil_violation(&mut self, st: &State, what: &str, span: Span) {
        let message = rs204_api_without_gil::message(what);
        self.report(
            st,
            &rs204_api_without_gil::META,
            span,
            None,
            message,
            format!("`{what}` runs without the GIL here"),
            None,
        );
    }

    // ---- calls --------------------------------------------------------------

    #[allow(clippy::too_many_arguments)]
    fn exec_call(
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

        // GIL state changes.
        match name {
            "PyEval_SaveThread" => {
                st.gil_released = true;
                self.bind_unknown(&mut st, dst, sref, span);
                out.push(st);
                return;
            }
            "PyEval_RestoreThread" | "PyGILState_Ensure" => {
                st.gil_released = false;
                self.bind_unknown(&mut st, dst, sref, span);
                out.push(st);
                return;
            }
            "PyErr_Occurred" => {
                self.err_occurred_value(st, sref, span, dst, out);
                return;
            }
            _ => {}
        }

        // The contract: format-driven APIs first.
        let format_contract;
        let resolved: Option<Resolved<'_>> =
            if let Some(c) = formats::call_contract(name, args, self.func) {
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
                if !rs204_api_without_gil::allowed_without_gil(name) {
                    self.gil_violation(&st, name, span);
                }
            }
        }

        let Some((contract, is_api, _source)) = resolved else {
            // Unknown callee: borrows its arguments; out pointers get unknown
            // values; it may set an exception. An upper-case name is a macro
            // from a header refsan does not read (a `.h` included into the
            // file that defines `UNBIND(x)`): it may release or keep what it
            // is given, so those values are no longer tracked.
            let unknown_macro = looks_like_macro(name);
            for (i, a) in args.iter().enumerate() {
                if let Binding::Obj(site) = vals[i] {
                    let what = format!(
                        "passed to `{}`",
                        if name.is_empty() {
                            "an indirect call"
                        } else {
                            name
                        }
                    );
                    self.dead_use(&mut st, site, &what, span);
                    if let Some(v) = st.value_mut(site) {
                        v.passed_unknown = true;
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
            st.exc = Exc::Unknown;
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
                || formats::fromformat_api(name)
                    .is_some_and(|f| formats::fromformat_arg_nullable(f, args, i))
            {
                ArgEffect::Nullable
            } else {
                contract.arg(i)
            };
            match *b {
                Binding::Obj(site) => {
                    let what = format!("passed to `{name}`");
                    if self.dead_use(&mut st, site, &what, span) {
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
                                self.maybe_null_use(&mut st, site, from, &what, span);
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
                        && formats::format_api(name).is_none() =>
                {
                    if matches!(args.get(i), Some(Operand::Var(_))) {
                        let name_text = self.null_name(self.op_text(&st, &args[i], *b));
                        if !self.null_use(
                            &mut st,
                            why,
                            &format!("passed to `{name}`"),
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
        if is_api && self.callee_facts(sref, name).runs_code {
            self.expose_borrowed(&mut st, sref);
        }

        let success = self
            .resolver
            .success_range(name)
            .unwrap_or_else(|| self.callee_facts(sref, name).success);
        let summary_outcomes = self.resolver.int_outcomes(name);
        let outcomes: Vec<(Outcome, RetVal)> = match summary_outcomes {
            Some(list) => list
                .iter()
                .map(|o| {
                    let outcome = if o.exc == Exc::Set {
                        Outcome::Failure
                    } else {
                        Outcome::Success
                    };
                    (outcome, RetVal::Int(o.lo, o.hi))
                })
                .collect(),
            None => outcomes_for(
                &contract,
                dst.map(|d| self.func.vars[d.index()].ty),
                success,
            ),
        };
        for (k, (outcome, ret)) in outcomes.iter().enumerate() {
            let mut s = if k + 1 == outcomes.len() {
                std::mem::replace(&mut st, State::new(0))
            } else {
                st.clone()
            };
            if *outcome == Outcome::Failure {
                s.push_event(Ev::CallFailed { stmt: sref });
            } else if *outcome == Outcome::False {
                s.push_event(Ev::CallFalse { stmt: sref });
            }
            self.slot_overwrite(&mut s, name, &vals);
            self.apply_arg_effects(&mut s, &contract, name, args, &vals, *outcome, sref, span);
            if outcome.succeeded() {
                let container = vals.first().and_then(|b| b.obj()).unwrap_or(0);
                for i in self.callee_facts(sref, name).kept {
                    if let Some(Binding::Obj(site)) = vals.get(*i) {
                        if let Some(v) = s.value_mut(*site) {
                            v.kept = true;
                            if v.owner == 0 && container != *site {
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

    fn bind_unknown(&mut self, st: &mut State, dst: Option<VarId>, sref: StmtRef, span: Span) {
        if let Some(d) = dst {
            self.bind(st, d, Binding::Unknown, sref, span);
        }
    }

    /// `PyErr_Occurred()` used as a value: non-NULL exactly when an exception
    /// is set.
    fn err_occurred_value(
        &mut self,
        mut st: State,
        sref: StmtRef,
        span: Span,
        dst: Option<VarId>,
        out: &mut Vec<State>,
    ) {
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

    fn havoc_out_arg(&mut self, st: &mut State, a: &Operand) {
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
                // new fields from the callee; what this function stored
                // there itself stays known.
                let key = var_key(*v);
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
            Operand::AddrOf(Place::Field(base, f)) => {
                let key = self.base_key(st, *base);
                let fid = self.intern(&format!(".{f}"));
                st.clear_field(key, fid);
            }
            _ => {}
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn apply_arg_effects(
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
        let container = vals.iter().find_map(|b| b.obj()).unwrap_or(0);
        for (i, a) in args.iter().enumerate() {
            let effect = contract.arg(i);
            match effect {
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
                        Operand::AddrOf(Place::Var(_)) | Operand::AddrOf(Place::Field(..))
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
    fn incref_follows(&self, sref: StmtRef, arg: &Operand) -> bool {
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
    fn steal(
        &mut self,
        st: &mut State,
        b: Binding,
        arg: &Operand,
        callee: &str,
        container: Site,
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
                    if container != site {
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
            self.report(
                st,
                &rs106_steal_mishandled::META,
                span,
                Some(site),
                rs106_steal_mishandled::message_steal_twice(&name, callee),
                format!("`{callee}` steals {name} here"),
                None,
            );
        } else if matches!(v.origin, ValOrigin::Field(_)) {
            // Handing over the reference a field holds is a transfer when the
            // field is cleared or overwritten next; checked at the return.
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
                let why = self.why_borrowed(&v);
                self.tentative_param_finding(
                    st,
                    site,
                    i,
                    &rs105_borrowed_stolen::META,
                    rs105_borrowed_stolen::message(&name, callee, &why),
                    (span, format!("`{callee}` steals {name} here")),
                    Some(format!(
                        "pass a new reference: `Py_NewRef({})`",
                        name.trim_matches('`')
                    )),
                );
            }
            return;
        } else {
            let why = self.why_borrowed(&v);
            let (meta, message) = if formats::is_build_value(callee) {
                (
                    &rs202_build_format::META,
                    rs202_build_format::message_n_borrowed(&name, callee, &why),
                )
            } else {
                (
                    &rs105_borrowed_stolen::META,
                    rs105_borrowed_stolen::message(&name, callee, &why),
                )
            };
            let help = Some(format!(
                "pass a new reference: `Py_NewRef({})`",
                name.trim_matches('`')
            ));
            self.report(
                st,
                meta,
                span,
                Some(site),
                message,
                format!("`{callee}` steals {name} here"),
                help,
            );
        }
        self.mark_reported(st, site);
    }

    #[allow(clippy::too_many_arguments)]
    fn write_out(
        &mut self,
        st: &mut State,
        a: &Operand,
        i: usize,
        effect: ArgEffect,
        outcome: Outcome,
        container: Site,
        sref: StmtRef,
        span: Span,
    ) {
        let Operand::AddrOf(Place::Var(var)) = a else {
            self.havoc_out_arg(st, a);
            return;
        };
        let written = match effect {
            ArgEffect::OutNewMaybeNull => true,
            _ => outcome.succeeded(),
        };
        if !written {
            let nb = Binding::Null(NullWhy::Failed(sref));
            self.bind(st, *var, nb, sref, span);
            return;
        }
        let sub = SUB_OUT_FIRST + i as u32;
        let site = match (sub <= SUB_OUT_LAST)
            .then(|| stmt_site(sref, sub))
            .flatten()
        {
            Some(s) => s,
            None => {
                self.bind(st, *var, Binding::Unknown, sref, span);
                return;
            }
        };
        self.bind(st, *var, Binding::Unknown, sref, span);
        if st.value(site).is_some() {
            self.escape_site(st, site);
        }
        let mut v = match effect {
            ArgEffect::OutBorrowed => {
                // May stay NULL (optional PyArg_ParseTuple outputs).
                let mut v = ValueState::new(
                    site,
                    ValOrigin::OutBorrowed(sref, i as u8),
                    0,
                    Nullness::Maybe,
                );
                let callee = self.callee_at(sref);
                // PyArg_Parse* outputs come from args or kwargs, which
                // outlive the call: no container to watch.
                if formats::format_api(&callee).is_none() {
                    v.owner = container;
                }
                v.volatile = borrows_volatile_item(&callee);
                v
            }
            // With an exception set, PyErr_Fetch's type is not NULL.
            ArgEffect::OutNewMaybeNull
                if i == 0 && st.exc == Exc::Set && self.callee_at(sref) == "PyErr_Fetch" =>
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

    fn replace_in_place(
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
                } else if v.trackable()
                    && v.origin.is_borrowed_kind()
                    && !self.is_immortal_global(&v)
                {
                    let name = self.describe(st, old);
                    let why = self.why_borrowed(&v);
                    let callee = self.callee_at(sref);
                    self.report(
                        st,
                        &rs102_decref_borrowed::META,
                        span,
                        Some(old),
                        rs102_decref_borrowed::message(&name, &why),
                        format!("`{callee}` releases {name} here"),
                        None,
                    );
                    self.mark_reported(st, old);
                }
            }
        }
        st.set_binding(*var, Binding::Unknown);
        if !outcome.succeeded() {
            st.set_binding(*var, Binding::Null(NullWhy::Failed(sref)));
            return;
        }
        let sub = SUB_OUT_FIRST + i as u32;
        if let Some(site) = (sub <= SUB_OUT_LAST)
            .then(|| stmt_site(sref, sub))
            .flatten()
        {
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

    #[allow(clippy::too_many_arguments)]
    fn bind_result(
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
        let ret = match (ret, dst.map(|d| self.func.vars[d.index()].ty)) {
            // A summarised pointer-returning helper: 0 is NULL, >= 1 non-NULL.
            (RetVal::Int(0, 0), Some(TypeClass::Pointer)) => RetVal::Null,
            (RetVal::Int(lo, _), Some(TypeClass::Pointer)) if lo >= 1 => RetVal::Ptr,
            (RetVal::Int(..), Some(TypeClass::Pointer | TypeClass::Object)) => RetVal::Unknown,
            (r, _) => r,
        };
        // PyModuleDef_Init returns the static definition itself, which the
        // import machinery treats specially: not a reference to track.
        let ret = if callee == "PyModuleDef_Init" {
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
            RetVal::BorrowedRef if contract.failure == Failure::Never && callee != "Py_TYPE" && self.accessor_key(st, vals, callee).is_some_and(|(base, key)| matches!(st.field(base, key), Some(FieldVal::Obj(s)) if st.value(s).is_some())) => {
                // The same accessor on the same object and index: the same
                // item (`Py_INCREF(PyTuple_GET_ITEM(t, 0))` then use it again).
                match self.accessor_key(st, vals, callee).and_then(|(base, key)| st.field(base, key)) {
                    Some(FieldVal::Obj(s)) => Binding::Obj(s),
                    _ => Binding::Unknown,
                }
            }
            RetVal::NewRef | RetVal::BorrowedRef => {
                let Some(site) = stmt_site(sref, SUB_RESULT) else {
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
                } else if callee == "Py_TYPE" {
                    // The object's reference to its type: like a field (a
                    // heap type's tp_dealloc releases it).
                    ValueState::new(site, ValOrigin::Field(sref), 0, Nullness::NonNull)
                } else {
                    let mut v =
                        ValueState::new(site, ValOrigin::Borrowed(sref), 0, Nullness::NonNull);
                    // Borrowed from the first object argument (the container).
                    v.owner = vals.iter().find_map(|b| b.obj()).unwrap_or(0);
                                        v.volatile = borrows_volatile_item(callee);
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
                    let message = rs101_leaked_reference::message_discarded(callee);
                    self.report(
                        st,
                        &rs101_leaked_reference::META,
                        span,
                        Some(site),
                        message,
                        format!("the result of `{callee}` is discarded here"),
                        Some("keep the result and release it with Py_DECREF".to_string()),
                    );
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

    // ---- terminators ------------------------------------------------------------

    fn exec_term(
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
                let (t, e) = self.branch(&mut st, cond, tref);
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

    /// The states of the true and false edges (None = infeasible).
    fn branch(
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
                        matches!(st.value(s).map(|v| v.origin), Some(ValOrigin::New(c)) if is_constructor(&self.callee_at(c)))
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
                match (x, y) {
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
                Exc::Clear => (None, Some(st.clone())),
                Exc::Unknown => {
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

    fn branch_null(
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
                let e = st.clone();
                if let Operand::Var(v) = op {
                    t.set_binding(*v, Binding::Null(NullWhy::Checked(tref)));
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
                // A field or parameter found NULL: it may carry an exception
                // from code refsan did not see.
                if matches!(v.origin, ValOrigin::Field(_)) && t.exc == Exc::Clear {
                    t.exc = Exc::Unknown;
                }
                for f in t.fields.iter_mut() {
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

    fn exec_return(&mut self, mut st: State, tref: StmtRef, span: Span, op: Option<&Operand>) {
        let b = match op {
            Some(op) => self.eval(&mut st, op, tref, 0),
            None => Binding::Unknown,
        };
        let exp = self.expect;
        let mut kind = match b {
            Binding::Null(_) => RetKind::Null,
            Binding::Int(lo, hi) => RetKind::Int(lo, hi),
            // A non-NULL C pointer, for the summary of pointer-returning helpers.
            Binding::Ptr if self.func.returns == TypeClass::Pointer => RetKind::Int(1, i64::MAX),
            Binding::Obj(_) => RetKind::Unknown,
            _ if op.is_none() => RetKind::Void,
            _ => RetKind::Unknown,
        };
        // Error returns need an exception.
        if st.exc == Exc::Clear {
            let why = exp
                .why
                .clone()
                .unwrap_or_else(|| "this function".to_string());
            if exp.null_needs_exc && kind == RetKind::Null {
                self.report(
                    &st,
                    &rs109_error_without_exception::META,
                    span,
                    None,
                    rs109_error_without_exception::message_null(&why),
                    "returns NULL here, no exception is set".to_string(),
                    Some("set an exception (PyErr_SetString...) before returning NULL".to_string()),
                );
            }
            if exp.neg_needs_exc {
                if let RetKind::Int(lo, hi) = kind {
                    if hi < 0 && lo >= -1 {
                        self.report(
                            &st,
                            &rs109_error_without_exception::META,
                            span,
                            None,
                            rs109_error_without_exception::message_neg(&why),
                            "returns -1 here, no exception is set".to_string(),
                            Some("set an exception before returning -1".to_string()),
                        );
                    }
                }
            }
        }
        // Attributes left NULL on an error exit (Cython __cinit__).
        let error_exit = match kind {
            RetKind::Null => true,
            RetKind::Int(_, hi) => hi < 0,
            _ => false,
        };
        if error_exit && !exp.watch_fields.is_empty() {
            if let Some(self_var) = self.func.params.first() {
                let key = self.base_key(&st, *self_var);
                for attr in &exp.watch_fields {
                    let fid = self.intern(&format!(".{attr}"));
                    let risky = match st.field(key, fid) {
                        None | Some(FieldVal::Null(_)) => true,
                        Some(FieldVal::Ptr) => false,
                        Some(FieldVal::Obj(site)) => st.value(site).is_none_or(|v| {
                            matches!(v.origin, ValOrigin::Field(_)) && v.null != Nullness::NonNull
                        }),
                    };
                    if risky && !self.result.risky_fields.iter().any(|(a, _)| a == attr) {
                        self.result.risky_fields.push((attr.clone(), span));
                    }
                }
            }
        }
        // The returned reference.
        let mut returned: Option<Site> = None;
        if let Binding::Obj(site) = b {
            self.check_exposed(&mut st, site, span);
            if self.dead_use(&mut st, site, "returned", span) {
                kind = RetKind::Unknown;
            } else if let Some(v) = st.value(site).copied() {
                returned = Some(site);
                let name = self.describe(&st, site);
                match exp.returns {
                    ExpectRet::New | ExpectRet::Infer => {
                        if v.shared && v.owned > 0 && exp.returns == ExpectRet::Infer {
                            // Also held by a C struct: whether the caller gets
                            // the reference is not visible.
                            kind = RetKind::Unknown;
                            if let Some(v) = st.value_mut(site) {
                                v.owned -= 1;
                            }
                        } else if v.owned > 0 {
                            kind = RetKind::New;
                            if let Some(v) = st.value_mut(site) {
                                v.owned -= 1;
                            }
                        } else if v.status == Status::Escaped
                            || (v.shared && exp.returns == ExpectRet::Infer)
                            || v.reported
                            || self.is_immortal_global(&v)
                            || (exp.returns == ExpectRet::Infer
                                && (matches!(v.origin, ValOrigin::Field(_))
                                    || matches!(v.status, Status::Stored(_))
                                    || v.array_item))
                        {
                            // A helper returning what a struct holds may hand
                            // over the struct's reference (popping a stack)
                            // or lend it; one that stored its new reference
                            // and returns it may have kept only a weak back
                            // pointer: its summary stays unknown.
                            kind = RetKind::Unknown;
                        } else {
                            kind = RetKind::Borrowed;
                            let why = self.why_borrowed(&v);
                            let message = rs104_borrowed_returned::message(&name, &why);
                            let help = Some(format!(
                                "return a new reference: `return Py_NewRef({});`",
                                name.trim_matches('`')
                            ));
                            if exp.returns == ExpectRet::New {
                                self.report(
                                    &st,
                                    &rs104_borrowed_returned::META,
                                    span,
                                    Some(site),
                                    message,
                                    format!("{name} is returned here"),
                                    help,
                                );
                                self.mark_reported(&mut st, site);
                            } else {
                                let events = self.events(
                                    &st,
                                    Some(site),
                                    Event {
                                        span,
                                        message: format!("{name} is returned here"),
                                    },
                                );
                                let f = rules::finding(
                                    &rs104_borrowed_returned::META,
                                    span,
                                    Some(&self.func.name),
                                    message,
                                    events,
                                    help,
                                );
                                self.result.borrowed_returns.push(f);
                            }
                        }
                    }
                    ExpectRet::Borrowed => {
                        kind = RetKind::Borrowed;
                    }
                    ExpectRet::Other => {
                        // Returned as something else (a pointer to a struct):
                        // ownership goes with it.
                        if let Some(v) = st.value_mut(site) {
                            v.status = Status::Escaped;
                        }
                    }
                }
                if let Some(v) = st.value(site).copied() {
                    if v.owned > 0
                        && v.status == Status::Live
                        && v.trackable()
                        && !v.passed_unknown
                        && !v.shared
                        && exp.returns != ExpectRet::Other
                    {
                        let name = self.describe(&st, site);
                        self.report(
                            &st,
                            &rs101_leaked_reference::META,
                            span,
                            Some(site),
                            rs101_leaked_reference::message_extra_on_return(&name, v.owned),
                            format!("{name} is returned here"),
                            None,
                        );
                        self.mark_reported(&mut st, site);
                    }
                }
            }
        }
        // A field's reference handed to a stealing call while the field
        // still points to it: the field now dangles.
        let pending: Vec<(Site, StmtRef)> = st
            .values
            .iter()
            .filter_map(|v| v.field_stolen.map(|s| (v.site, s)))
            .filter(|(site, _)| st.fields.iter().any(|f| f.val == FieldVal::Obj(*site)))
            .collect();
        for (site, stolen_at) in pending {
            let name = self.describe(&st, site);
            let callee = self.callee_at(stolen_at);
            let why = "it belongs to the object's field, which still points to it".to_string();
            let (meta, message) = if formats::is_build_value(&callee) {
                (
                    &rs202_build_format::META,
                    rs202_build_format::message_n_borrowed(&name, &callee, &why),
                )
            } else {
                (
                    &rs105_borrowed_stolen::META,
                    rs105_borrowed_stolen::message(&name, &callee, &why),
                )
            };
            let span_steal = self.span_at(stolen_at);
            self.report(
                &st,
                meta,
                span_steal,
                Some(site),
                message,
                format!("`{callee}` steals {name} here"),
                Some(format!(
                    "pass a new reference: `Py_NewRef({})`",
                    name.trim_matches('`')
                )),
            );
        }
        // Borrowed references stored without the Py_INCREF that pays for them.
        let debts: Vec<(Site, StmtRef)> = st
            .values
            .iter()
            .filter(|v| v.owned < 0 && v.trackable())
            .filter_map(|v| v.store_debt.map(|s| (v.site, s)))
            .collect();
        for (site, at) in debts {
            let Some(v) = st.value(site).copied() else {
                continue;
            };
            let name = self.describe(&st, site);
            let why = self.why_borrowed(&v);
            let place = self.store_place_text(at);
            self.report(
                &st,
                &rs108_borrowed_stored::META,
                self.span_at(at),
                Some(site),
                rs108_borrowed_stored::message(&name, &place, &why),
                format!("{name} is stored here"),
                Some(format!("store a new reference: `{place} = Py_NewRef(...)`")),
            );
        }
        // Container slots released but never overwritten.
        let pending_slots: Vec<(Site, StmtRef)> = st
            .values
            .iter()
            .filter_map(|v| v.slot_released.map(|s| (v.site, s)))
            .collect();
        for (site, released_at) in pending_slots {
            if !self.in_accessor_slot(&st, site) && st.value(site).is_none_or(|v| v.owner == 0) {
                continue;
            }
            let Some(v) = st.value(site).copied() else {
                continue;
            };
            let name = self.describe(&st, site);
            let why = self.why_borrowed(&v);
            let rspan = self.span_at(released_at);
            self.report(
                &st,
                &rs102_decref_borrowed::META,
                rspan,
                Some(site),
                rs102_decref_borrowed::message(&name, &why),
                format!("{name} is released here, but its container still refers to it"),
                None,
            );
        }
        // Everything else the function still owns leaks here.
        let owned: Vec<Site> = st
            .values
            .iter()
            .filter(|v| {
                Some(v.site) != returned
                    && v.owned > 0
                    && v.status == Status::Live
                    && v.trackable()
                    && !matches!(v.origin, ValOrigin::Global(_))
                    && !v.shared
                    && !v.array_item
            })
            .map(|v| v.site)
            .collect();
        for site in owned {
            let Some(v) = st.value(site).copied() else {
                continue;
            };
            // A helper may take references for its caller; only functions
            // Python calls are held to borrowing their parameters.
            if matches!(v.origin, ValOrigin::Param(_)) && !self.expect.python_facing {
                continue; // decided by the parameter summary
            }
            self.leak_at_return(&mut st, site, span);
        }
        // Parameters: how many references the function still holds.
        let params_owned = self
            .func
            .params
            .iter()
            .enumerate()
            .map(|(i, _)| {
                st.value(PARAM_SITE | i as u32).map_or(0, |v| {
                    // A parameter proven NULL (or handed to opaque code) on
                    // this path says nothing about what the function does
                    // with references it gets.
                    if v.status == Status::Escaped {
                        i16::MIN
                    } else {
                        v.owned
                    }
                })
            })
            .collect();
        let returned_param = match (kind, returned.and_then(|s| st.value(s))) {
            // The parameter itself, lent back or with a new reference
            // (`Py_INCREF(ob); return ob;`).
            (RetKind::Borrowed | RetKind::New, Some(v)) => match v.origin {
                ValOrigin::Param(i) => Some(i),
                _ => None,
            },
            // `return v;` with the parameter found NULL: the function fails
            // only when given NULL.
            (RetKind::Null, _) => match op {
                Some(Operand::Var(var)) => self
                    .func
                    .params
                    .iter()
                    .position(|p| p == var)
                    .map(|i| i as u32),
                _ => None,
            },
            _ => None,
        };
        self.result.returns.push(ReturnObs {
            kind,
            returned_param,
            exc: st.exc,
            params_owned,
        });
    }

    fn leak_at_return(&mut self, st: &mut State, site: Site, span: Span) {
        let Some(v) = st.value(site).copied() else {
            return;
        };
        let name = self.describe(st, site);
        let (meta, message) =
            self.leak_rule(st, site, &v, rs101_leaked_reference::message_return(&name));
        let help = rs101_leaked_reference::help(self.plain_name(st, site).as_deref());
        self.report(
            st,
            meta,
            span,
            Some(site),
            message,
            format!("{name} leaks here"),
            help,
        );
        self.mark_reported(st, site);
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LostHow {
    Temp,
    Overwrite(VarId),
}

/// Arguments a C-API function stores (taking its own reference) in the
/// container it gets as first argument.
fn kept_arguments(callee: &str) -> &'static [usize] {
    match callee {
        "PyDict_SetItem" | "PyObject_SetItem" | "_PyDict_SetItem_KnownHash" => &[1, 2],
        "_PyDict_SetItemId" | "_PyObject_SetAttrId" => &[2],
        "PyDict_SetItemString"
        | "PyObject_SetAttr"
        | "PyObject_SetAttrString"
        | "PyModule_AddObjectRef"
        | "PyList_Insert"
        | "PyObject_GenericSetAttr"
        | "PyDict_SetDefault" => &[2],
        "PyList_Append" | "PySet_Add" | "_PyList_AppendTakeRef" => &[1],
        _ => &[],
    }
}

/// APIs that make a new object nobody else refers to yet.
fn is_constructor(callee: &str) -> bool {
    callee.ends_with("_New")
        || callee.contains("_New")
        || callee.contains("Copy")
        || callee.ends_with("_Pack")
        || matches!(
            callee,
            "PySequence_List"
                | "PySequence_Tuple"
                | "PySequence_Fast"
                | "PyDict_Items"
                | "PyDict_Keys"
                | "PyDict_Values"
                | "PyMapping_Items"
                | "PyMapping_Keys"
                | "PyMapping_Values"
                | "PyObject_Dir"
                | "PyList_GetSlice"
                | "PyTuple_GetSlice"
                | "PyUnicode_Split"
                | "Py_BuildValue"
        )
}

#[derive(Clone, Copy, Debug)]
struct CalleeFacts {
    runs_code: bool,
    success: (i64, i64),
    kept: &'static [usize],
}

/// The field-map key of a variable that holds nothing tracked.
fn var_key(v: VarId) -> u32 {
    0xD000_0000 | v.0
}

fn forget_var_fields(st: &mut State, v: VarId) {
    let key = var_key(v);
    if st.fields.iter().any(|f| f.base == key) {
        st.fields.retain(|f| f.base != key);
    }
}

/// Macros reading an item slot that a *_SET_ITEM can overwrite.
fn is_item_getter(callee: &str) -> bool {
    matches!(
        callee,
        "PyTuple_GET_ITEM"
            | "PyList_GET_ITEM"
            | "PyStructSequence_GET_ITEM"
            | "PyStructSequence_GetItem"
    )
}

/// APIs that return a borrowed item of a mutable container.
fn borrows_volatile_item(callee: &str) -> bool {
    callee.starts_with("PyDict_GetItem")
        || callee.starts_with("_PyDict_GetItem")
        || matches!(
            callee,
            "PyDict_Next" | "PyList_GetItem" | "PyList_GET_ITEM" | "PySequence_Fast_GET_ITEM"
        )
}

/// C-API calls that can run arbitrary Python code (and so mutate any
/// container).
fn runs_python_code(callee: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "PyObject_Call",
        "PyObject_Vectorcall",
        "PyObject_GetAttr",
        "PyObject_SetAttr",
        "PyObject_DelAttr",
        "PyObject_GetItem",
        "PyObject_SetItem",
        "PyObject_DelItem",
        "PyObject_RichCompare",
        "PyObject_Repr",
        "PyObject_Str",
        "PyObject_Hash",
        "PyObject_IsTrue",
        "PyObject_GetIter",
        "PyObject_Format",
        "PyNumber_",
        "PySequence_GetItem",
        "PySequence_SetItem",
        "PySequence_Contains",
        "PyMapping_",
        "PyIter_Next",
        "PyDict_SetItem",
        "PyDict_DelItem",
        "PyDict_Contains",
        "PyEval_Call",
        "PyImport_",
        "PyErr_Print",
        "PyErr_WriteUnraisable",
    ];
    PREFIXES.iter().any(|p| callee.starts_with(p))
}

fn is_out(e: ArgEffect) -> bool {
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
enum RetVal {
    NewRef,
    BorrowedRef,
    Null,
    Int(i64, i64),
    Ptr,
    Unknown,
}

/// The outcomes of a call with this contract.
/// What a NegOne API returns on success: 0 for status functions
/// (PyList_Append, PyModule_AddObject), any non-negative value for sizes,
/// indexes, hashes and comparisons.
fn status_success(name: &str) -> (i64, i64) {
    const VALUED: &[&str] = &[
        "Size",
        "Length",
        "Count",
        "Index",
        "Hash",
        "Find",
        "Tailmatch",
        "Compare",
        "AsSsize",
        "GetLength",
        "Fileno",
        "AsFileDescriptor",
        "Read",
        "Write",
        "ToInt",
        "Merge",
        "_GET_",
        "Check",
    ];
    if VALUED.iter().any(|v| name.contains(v)) {
        (0, i64::MAX)
    } else {
        (0, 0)
    }
}

fn outcomes_for(
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
            // -1 for most (PyLong_AsLong), -2 for PyUnicode_Find.
            (Outcome::Failure, RetVal::Int(-2, -1)),
        ],
        Failure::Ambiguous => vec![(Outcome::Only, success_obj)],
        // Object-returning contracts with int-style failure: treat as unknown.
        _ => vec![(Outcome::Only, success_obj)],
    }
}

/// The part of [lo, hi] where `x cmp k` holds.
fn refine(lo: i64, hi: i64, cmp: CmpOp, k: i64) -> Option<(i64, i64)> {
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
