//! Bottom-up summaries of the module's own functions: the order to analyse
//! them in (callees first) and the contract a function's analysis implies
//! for its callers.

use crate::expect::{Expect, ExpectRet};
use crate::facts::Resolver;
use crate::outcome::{FnResult, IntOutcome, RetKind, ReturnObs};
use crate::state::Exc;
use refsan_ir::{
    ArgEffect, Callee, Contract, ExcEffect, Failure, Function, Module, Returns, StmtKind, TypeClass,
};
use std::collections::HashMap;

/// Function indices in an order where callees come before callers (cycles
/// broken arbitrarily), by Tarjan's SCC algorithm.
pub fn bottom_up_order(module: &Module) -> Vec<usize> {
    let n = module.functions.len();
    let edges = call_edges(module);

    // Iterative Tarjan.
    let mut index = vec![usize::MAX; n];
    let mut low = vec![0usize; n];
    let mut on_stack = vec![false; n];
    let mut stack: Vec<usize> = Vec::new();
    let mut order = Vec::with_capacity(n);
    let mut next = 0usize;
    for root in 0..n {
        if index[root] != usize::MAX {
            continue;
        }
        let mut call: Vec<(usize, usize)> = vec![(root, 0)];
        index[root] = next;
        low[root] = next;
        next += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some(&mut (v, ref mut ei)) = call.last_mut() {
            if *ei < edges[v].len() {
                let w = edges[v][*ei];
                *ei += 1;
                if index[w] == usize::MAX {
                    index[w] = next;
                    low[w] = next;
                    next += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    call.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
            } else {
                call.pop();
                if let Some(&(parent, _)) = call.last() {
                    low[parent] = low[parent].min(low[v]);
                }
                if low[v] == index[v] {
                    while let Some(w) = stack.pop() {
                        on_stack[w] = false;
                        order.push(w);
                        if w == v {
                            break;
                        }
                    }
                }
            }
        }
    }
    order
}

/// For each function of `module`, the functions of `module` it calls by
/// name.
fn call_edges(module: &Module) -> Vec<Vec<usize>> {
    let mut by_name: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, f) in module.functions.iter().enumerate() {
        by_name.entry(f.name.as_str()).or_default().push(i);
    }
    module
        .functions
        .iter()
        .map(|f| {
            let mut out = Vec::new();
            for b in &f.blocks {
                for s in &b.stmts {
                    if let StmtKind::Call {
                        callee: Callee::Named(name),
                        ..
                    } = &s.kind
                    {
                        if let Some(targets) = by_name.get(name.as_str()) {
                            for t in targets {
                                if !out.contains(t) {
                                    out.push(*t);
                                }
                            }
                        }
                    }
                }
            }
            out
        })
        .collect()
}

/// The functions `roots` call, directly or through others, the roots
/// included.
pub fn callee_closure(module: &Module, roots: impl IntoIterator<Item = usize>) -> Vec<bool> {
    let edges = call_edges(module);
    let mut seen = vec![false; module.functions.len()];
    let mut work: Vec<usize> = roots.into_iter().collect();
    while let Some(f) = work.pop() {
        if std::mem::replace(&mut seen[f], true) {
            continue;
        }
        work.extend(edges[f].iter().copied().filter(|g| !seen[*g]));
    }
    seen
}

/// The call through which `func` can run Python code: a knowledge-base
/// function that can (`PyObject_Call`, `PyObject_RichCompare`...), directly
/// or through a function of the project already summarised (callees come
/// first in bottom-up order). Returns the knowledge-base function's name.
pub fn runs_code_via(func: &Function, resolver: &Resolver<'_>) -> Option<String> {
    func.blocks
        .iter()
        .flat_map(|b| b.stmts.iter())
        .find_map(|stmt| match &stmt.kind {
            StmtKind::Call {
                callee: Callee::Named(n),
                ..
            } if n != &func.name => {
                if resolver.behaviour(n).is_some_and(|b| b.runs_code) {
                    Some(n.clone())
                } else {
                    resolver.runs_code(n).map(str::to_string)
                }
            }
            _ => None,
        })
}

/// What the analysis decided about a function whose contract is inferred.
pub struct Decision {
    pub contract: Contract,
    /// For functions not returning objects: how they return, by exception
    /// state (`-1` with an exception, `0` without...).
    pub int_outcomes: Option<Vec<IntOutcome>>,
    /// Values returned on success, for int-returning functions.
    pub success: Option<(i64, i64)>,
    /// The function returns its n-th argument (no new reference).
    pub returns_arg: Option<usize>,
    /// Every new reference it returns is to an object it made (a
    /// constructor of the module's own).
    pub fresh: bool,
    /// Parameters the function steals (their tentative RS102/RS105 findings
    /// are dropped).
    pub steals: Vec<u32>,
    /// The function returns new references: tentative RS104 findings stand.
    pub returns_new: bool,
    /// Every path to a failing return needs memory to run out (the
    /// analysis followed all of them).
    pub oom_only: bool,
    /// Parameters (bit i: the i-th) every succeeding return found not NULL
    /// (`check_decoded(x)` fails for a NULL `x`): a call that succeeds was
    /// not given NULL there.
    pub nonnull_on_success: u64,
}

/// `has_findings`: the analysis reported something about the function
/// (then a function without returns is not taken to never return).
pub fn summarize(
    func: &Function,
    expect: &Expect,
    result: &FnResult,
    has_findings: bool,
) -> Decision {
    let object_return = func.returns == TypeClass::Object;
    let kinds: Vec<RetKind> = result.returns.iter().map(|r| r.kind).collect();
    let any_new = kinds.contains(&RetKind::New);
    let any_borrowed = kinds.contains(&RetKind::Borrowed);
    let returns = if !object_return {
        if func.returns == TypeClass::Void {
            Returns::Void
        } else {
            Returns::NotObject
        }
    } else {
        // A sentinel pointer made from an integer (`return ERROR_STRICT;`,
        // `(PyObject *)1`) on some path: callers test for it before they
        // treat the result as an object they own.
        let sentinel = kinds
            .iter()
            .any(|k| matches!(k, RetKind::Int(lo, hi) if *lo != 0 || *hi != 0));
        match expect.returns {
            ExpectRet::New => Returns::New,
            ExpectRet::Borrowed => Returns::Borrowed,
            _ if sentinel => Returns::Unknown,
            _ if any_new => Returns::New,
            _ if any_borrowed => Returns::Borrowed,
            _ => Returns::Unknown,
        }
    };
    // How failure is reported.
    let failure = if object_return {
        let nulls: Vec<Exc> = result
            .returns
            .iter()
            // Handing back a NULL argument is not a failure of the function.
            .filter(|r| r.kind == RetKind::Null && r.returned_param.is_none())
            .map(|r| r.exc)
            .collect();
        let only_nulls = nulls.len() == result.returns.len() && result.approximate.is_none();
        if nulls.is_empty() {
            Failure::Never
        } else if only_nulls && !nulls.contains(&Exc::Clear) {
            // An error helper (`return set_error(...)`): it only ever
            // returns NULL, with an exception or after a callee that may
            // have set one.
            Failure::AlwaysNull
        } else if nulls.iter().all(|e| *e == Exc::Set) {
            if returns == Returns::Unknown {
                Failure::Null
            } else if result.returns.iter().all(|r| r.kind == RetKind::Null) {
                Failure::AlwaysNull
            } else {
                Failure::Null
            }
        } else if nulls.iter().all(|e| *e == Exc::Clear) {
            Failure::NullNoExc
        } else {
            Failure::NullMaybeExc
        }
    } else if func.returns == TypeClass::Int {
        let negs: Vec<Exc> = result
            .returns
            .iter()
            .filter_map(|r| match r.kind {
                RetKind::Int(_, hi) if hi < 0 => Some(r.caller_exc()),
                _ => None,
            })
            .collect();
        let all_known = result
            .returns
            .iter()
            .all(|r| matches!(r.kind, RetKind::Int(..)));
        if negs.is_empty() {
            Failure::Never
        } else if all_known && negs.iter().all(|e| *e == Exc::Set) {
            Failure::NegOne
        } else {
            Failure::Ambiguous
        }
    } else {
        Failure::Never
    };
    // Parameters consumed on every path are stolen.
    let mut steals = Vec::new();
    let mut args = Vec::new();
    // Over budget, some paths were not explored: no parameter effects are
    // inferred from the ones that were.
    if expect.params.is_none() && !expect.python_facing && result.approximate.is_none() {
        for (i, _) in func.params.iter().enumerate() {
            let owned: Vec<i16> = result
                .returns
                .iter()
                .map(|r| r.params_owned.get(i).copied().unwrap_or(0))
                .filter(|o| *o != i16::MIN)
                .collect();
            if owned.is_empty() {
                continue;
            }
            let consumed_all = owned.iter().all(|o| *o == -1);
            let consumed_somewhere = |want_failure: bool| {
                result.returns.iter().any(|r| {
                    r.fails() == want_failure && r.params_owned.get(i).copied().unwrap_or(0) == -1
                })
            };
            let consumed_on_success = consumed_somewhere(false)
                && result.returns.iter().all(|r| {
                    let o = r.params_owned.get(i).copied().unwrap_or(0);
                    o == i16::MIN || if r.fails() { o == 0 } else { o == -1 }
                });
            let consumed_on_failure = consumed_somewhere(true)
                && result.returns.iter().all(|r| {
                    let o = r.params_owned.get(i).copied().unwrap_or(0);
                    o == i16::MIN || if r.fails() { o == -1 } else { o == 0 }
                });
            let effect = if consumed_all {
                Some(ArgEffect::Steal)
            } else if consumed_on_success {
                Some(ArgEffect::StealOnSuccess)
            } else if consumed_on_failure {
                Some(ArgEffect::StealOnFailure)
            } else {
                None
            };
            if let Some(e) = effect {
                if args.len() <= i {
                    args.resize(i + 1, ArgEffect::Borrow);
                }
                args[i] = e;
                steals.push(i as u32);
            }
        }
    }
    // `PyObject **` parameters every succeeding return stored a new
    // reference through, and no failing one did (`*out = r; return 0;`).
    // Only when callers tell failure from success by the result as the
    // contract says (not a pointer to a C array, NULL on failure).
    if expect.params.is_none() && !expect.python_facing && result.approximate.is_none() {
        for (i, p) in func.params.iter().enumerate().take(64) {
            let var = &func.vars[p.index()];
            if var.c_type.matches('*').count() != 2
                || args.get(i).is_some_and(|e| *e != ArgEffect::Borrow)
            {
                continue;
            }
            let bit = 1u64 << i;
            let (fails, succeeds): (Vec<&ReturnObs>, Vec<&ReturnObs>) =
                result.returns.iter().partition(|r| r.fails());
            let told_apart =
                fails.is_empty() || !matches!(failure, Failure::Never | Failure::Ambiguous);
            if told_apart
                && !succeeds.is_empty()
                && succeeds.iter().all(|r| r.out_new & bit != 0)
                && fails.iter().all(|r| r.out_new & bit == 0)
            {
                if args.len() <= i {
                    args.resize(i + 1, ArgEffect::Borrow);
                }
                args[i] = ArgEffect::OutNew;
            }
        }
    }
    let success = if func.returns == TypeClass::Int {
        let mut lo = i64::MAX;
        let mut hi = i64::MIN;
        let mut all = true;
        for r in &result.returns {
            match r.kind {
                RetKind::Int(_, h) if h < 0 => {}
                RetKind::Int(l, h) => {
                    lo = lo.min(l.max(0));
                    hi = hi.max(h);
                }
                _ => all = false,
            }
        }
        (all && lo <= hi).then_some((lo, hi))
    } else {
        None
    };
    let object_returns: Vec<&ReturnObs> = result
        .returns
        .iter()
        .filter(|r| r.kind != RetKind::Null)
        .collect();
    let returns_arg = match object_returns.first().and_then(|r| r.returned_param) {
        Some(i) if object_returns.iter().all(|r| r.returned_param == Some(i)) => Some(i as usize),
        _ => None,
    };
    let int_outcomes = if object_return || result.returns.is_empty() {
        None
    } else {
        let mut groups: Vec<IntOutcome> = Vec::new();
        for r in &result.returns {
            let (lo, hi) = match r.kind {
                RetKind::Int(l, h) => (l, h),
                RetKind::Null => (0, 0),
                _ => (i64::MIN, i64::MAX),
            };
            let exc = r.caller_exc();
            // Negative values (error returns) apart from the others, also
            // where the exception state is not known on either.
            match groups
                .iter_mut()
                .find(|g| g.exc == exc && (g.hi < 0) == (hi < 0))
            {
                Some(g) => {
                    g.lo = g.lo.min(lo);
                    g.hi = g.hi.max(hi);
                }
                None => groups.push(IntOutcome { lo, hi, exc }),
            }
        }
        // A value returned both with and without an exception (the outcome
        // depends on an argument): callers cannot tell which.
        let set: Vec<(i64, i64)> = groups
            .iter()
            .filter(|g| g.exc == Exc::Set)
            .map(|g| (g.lo, g.hi))
            .collect();
        for g in &mut groups {
            if g.exc == Exc::Clear && set.iter().any(|(lo, hi)| g.lo <= *hi && *lo <= g.hi) {
                g.exc = Exc::Unknown;
            }
        }
        groups.sort_by_key(|g| (g.exc != Exc::Clear, g.lo));
        Some(groups)
    };
    Decision {
        int_outcomes,
        success,
        returns_arg,
        fresh: returns == Returns::New
            && result
                .returns
                .iter()
                .all(|r| r.kind != RetKind::New || r.fresh)
            && result.returns.iter().any(|r| r.kind == RetKind::New),
        contract: Contract {
            returns,
            failure,
            args,
            // A void helper that sets an exception on every path.
            exc: if func.returns == TypeClass::Void
                && !result.returns.is_empty()
                && result.approximate.is_none()
                && result.returns.iter().all(|r| r.exc == Exc::Set)
            {
                ExcEffect::Sets
            } else {
                ExcEffect::OnFailure
            },
            noreturn: result.returns.is_empty() && result.approximate.is_none() && !has_findings,
        },
        steals,
        returns_new: any_new || expect.returns == ExpectRet::New,
        oom_only: oom_only(func, result),
        nonnull_on_success: nonnull_on_success(func, result),
    }
}

/// A return that reports a failure: NULL for an object (not a NULL
/// argument handed back), NULL with an exception for a C pointer
/// (`newblock`: PyErr_NoMemory when PyMem_Malloc fails), a negative int.
fn failing_return(func: &Function, r: &ReturnObs) -> bool {
    match r.kind {
        RetKind::Null => match func.returns {
            TypeClass::Object => r.returned_param.is_none(),
            TypeClass::Pointer => r.exc == Exc::Set,
            _ => false,
        },
        RetKind::Int(_, hi) => func.returns == TypeClass::Int && hi < 0,
        _ => false,
    }
}

/// The parameters every succeeding return found not NULL.
fn nonnull_on_success(func: &Function, result: &FnResult) -> u64 {
    if result.approximate.is_some() || !matches!(func.returns, TypeClass::Object | TypeClass::Int) {
        return 0;
    }
    let succeeding = |r: &&ReturnObs| {
        !failing_return(func, r) && r.kind != RetKind::Null && r.caller_exc() != Exc::Set
    };
    let mut mask = u64::MAX;
    let mut any = false;
    for r in result.returns.iter().filter(succeeding) {
        mask &= r.nonnull_params;
        any = true;
    }
    if any {
        mask
    } else {
        0
    }
}

/// Whether every failing return of the function is on a path that needs
/// memory to run out.
fn oom_only(func: &Function, result: &FnResult) -> bool {
    if result.approximate.is_some() {
        return false;
    }
    let mut failures = result
        .returns
        .iter()
        .filter(|r| failing_return(func, r))
        .peekable();
    failures.peek().is_some() && failures.all(|r| r.demand == refsan_ir::Trigger::Oom)
}
