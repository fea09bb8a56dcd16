//! refsan's engine: path-sensitive ownership analysis over the IR, bottom-up
//! summaries of a module's own functions, and the rule catalogue.
//!
//! The engine knows nothing of parsers or output formats: it takes a
//! [`Module`] and returns [`Finding`]s and [`Note`]s.

pub mod analyze;
pub mod expect;
pub mod facts;
pub mod formats;
mod ids;
pub mod rules;
pub mod state;
pub mod summary;

pub use analyze::Limits;
pub use facts::{ApiFacts, ApiInfo, TableFacts};

use refsan_ir::{Contract, Finding, Module, Note, RuleMeta};
use std::collections::HashMap;

/// Settings of one check run.
#[derive(Clone, Debug)]
pub struct CheckOptions {
    /// The oldest Python version the code must work on.
    pub target: (u8, u8),
    pub limits: Limits,
    /// Contracts the project states for functions (`[tool.refsan]`).
    pub annotations: HashMap<String, Contract>,
}

impl Default for CheckOptions {
    fn default() -> CheckOptions {
        CheckOptions {
            target: (3, 8),
            limits: Limits::default(),
            annotations: HashMap::new(),
        }
    }
}

#[derive(Debug, Default)]
pub struct ModuleReport {
    pub findings: Vec<Finding>,
    pub notes: Vec<Note>,
    /// The contract computed for each of the module's functions (for
    /// `refsan debug-ir --summaries`).
    pub summaries: Vec<(String, Contract)>,
}

/// Every rule the engine knows.
pub fn rules() -> &'static [&'static RuleMeta] {
    rules::RULES
}

pub fn rule(code: &str) -> Option<&'static RuleMeta> {
    rules::rule(code)
}

/// A helper whose parameter is released, stolen or stored on some paths and
/// returned on the others takes over that reference on every path
/// (`return unwrap(result)` consuming `result`). When treating the parameter
/// as stolen explains every path — each return leaves the function holding
/// no reference to it and nothing new is reported — that is its contract.
fn steal_hypothesis(
    func: &refsan_ir::Function,
    module: &Module,
    resolver: &facts::Resolver<'_>,
    exp: &expect::Expect,
    aopts: &analyze::Options,
    result: &analyze::FnResult,
    decision: &summary::Decision,
) -> Option<(analyze::FnResult, summary::Decision)> {
    if exp.params.is_some() || exp.python_facing {
        return None;
    }
    let mut candidates: Vec<u32> = result
        .param_releases
        .iter()
        .map(|(p, _)| *p)
        .filter(|p| !decision.steals.contains(p))
        .collect();
    candidates.sort_unstable();
    candidates.dedup();
    if candidates.is_empty() {
        return None;
    }
    let mut effects = vec![refsan_ir::ArgEffect::Borrow; func.params.len()];
    for p in &candidates {
        if let Some(e) = effects.get_mut(*p as usize) {
            *e = refsan_ir::ArgEffect::Steal;
        }
    }
    let mut hyp = exp.clone();
    hyp.params = Some(effects.clone());
    let again = analyze::analyze_function(func, Some(module), resolver, &hyp, aopts);
    let consistent = !again.returns.is_empty()
        && again.returns.iter().all(|r| {
            candidates.iter().all(|p| {
                let o = r.params_owned.get(*p as usize).copied().unwrap_or(0);
                o == 0 || o == i16::MIN
            })
        })
        && again.findings.len() <= result.findings.len()
        && again.approximate.is_none();
    if !consistent {
        return None;
    }
    let mut d = summary::summarize(func, exp, &again);
    for (i, e) in effects.iter().enumerate() {
        if *e == refsan_ir::ArgEffect::Steal {
            d.contract.set_arg(i, *e);
            d.steals.push(i as u32);
        }
    }
    Some((again, d))
}

/// Checks one module: summaries bottom-up, then every function, then the
/// file-level rules.
pub fn check_module(module: &Module, facts: &dyn ApiFacts, opts: &CheckOptions) -> ModuleReport {
    let mut resolver = facts::Resolver::new(facts, &opts.annotations, module);
    let expects = expect::expectations(module, &resolver);
    let aopts = analyze::Options {
        target: opts.target,
        limits: opts.limits,
    };
    let mut report = ModuleReport::default();
    let mut risky = rules::rs404_dealloc_decref_maybe_null::RiskyFields::new();
    for idx in summary::bottom_up_order(module) {
        let func = &module.functions[idx];
        let Some(exp) = expects.get(&func.name) else {
            continue;
        };
        let mut result = analyze::analyze_function(func, Some(module), &resolver, exp, &aopts);
        let mut decision = summary::summarize(func, exp, &result);

        if let Some((r, d)) =
            steal_hypothesis(func, module, &resolver, exp, &aopts, &result, &decision)
        {
            result = r;
            decision = d;
        }
        report
            .summaries
            .push((func.name.clone(), decision.contract.clone()));
        if resolver.stated(&func.name).is_none() {
            // A function defined in several `#if` arms: keep only what all
            // the definitions agree on.
            let first = resolver.summary(&func.name).is_none();
            let contract = match resolver.summary(&func.name) {
                Some(prev) if *prev != decision.contract => refsan_ir::Contract::unknown(),
                _ => decision.contract.clone(),
            };
            resolver.add_summary(&func.name, contract);
            if let (true, Some(range)) = (first, decision.success) {
                resolver.set_success_range(&func.name, range);
            }
            if let (true, Some(arg)) = (first, decision.returns_arg) {
                resolver.set_returns_arg(&func.name, arg);
            }
            if let (true, Some(outcomes)) = (first, decision.int_outcomes.clone()) {
                resolver.set_int_outcomes(&func.name, outcomes);
            }
        }
        if !result.risky_fields.is_empty() {
            risky.insert(func.name.clone(), result.risky_fields.clone());
        }
        report.findings.extend(result.findings);
        for (param, f) in result.param_releases {
            // Only when some return leaves the parameter under-owned: a later
            // Py_INCREF (`self->x = x; Py_INCREF(x);`) settles it.
            let under = result
                .returns
                .iter()
                .any(|r| matches!(r.params_owned.get(param as usize), Some(o) if *o < 0 && *o != i16::MIN));
            // A helper may take over references its caller gives it; only
            // functions Python calls are held to borrowing parameters.
            if exp.python_facing
                && !decision.steals.contains(&param)
                && (under || result.returns.is_empty())
            {
                report.findings.push(f);
            }
        }
        if decision.returns_new {
            report.findings.extend(result.borrowed_returns);
        }
        if let Some(why) = result.approximate {
            report.notes.push(Note {
                span: func.name_span,
                function: Some(func.name.clone()),
                message: format!("`{}` was analysed approximately: {why}", func.name),
            });
        }
        for (span, why) in &func.approximate {
            report.notes.push(Note {
                span: *span,
                function: Some(func.name.clone()),
                message: format!("part of `{}` could not be analysed: {why}", func.name),
            });
        }
    }
    rules::rs201_parse_format::check(module, &mut report.findings);
    rules::rs202_build_format::check(module, &mut report.findings);
    rules::rs203_method_flags::check(module, &mut report.findings);
    rules::rs205_free_threading_borrowed::check(module, &mut report.findings);
    rules::rs301_dealloc_missing_release::check(module, &mut report.findings);
    rules::rs302_traverse_missing_visit::check(module, &mut report.findings);
    rules::rs303_dealloc_missing_untrack::check(module, &mut report.findings);
    rules::rs304_heaptype_dealloc_type_ref::check(module, &mut report.findings);
    rules::rs404_dealloc_decref_maybe_null::check(module, &risky, &mut report.findings);
    rules::rs405_extern_ownership_unknown::check(module, &resolver, &mut report.findings);
    rules::rs407_refcount_field_access::check(module, &mut report.findings);
    rules::rs408_refcount_call_on_raw_pointer::check(module, &mut report.findings);
    for p in &module.problems {
        report.notes.push(Note {
            span: p.span,
            function: None,
            message: p.message.clone(),
        });
    }
    report.findings.sort_by(|a, b| {
        (a.span.start, a.code, &a.message).cmp(&(b.span.start, b.code, &b.message))
    });
    report
        .findings
        .dedup_by(|a, b| a.span == b.span && a.code == b.code && a.message == b.message);
    report
}
