//! refsan's engine: path-sensitive ownership analysis over the IR, bottom-up
//! summaries of a module's own functions, and the rule catalogue.
//!
//! The engine knows nothing of parsers or output formats: it takes a
//! [`Module`] and returns [`Finding`]s and [`Note`]s.

pub mod analyze;
pub mod expect;
pub mod facts;
pub mod formats;
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
}

/// Every rule the engine knows.
pub fn rules() -> &'static [&'static RuleMeta] {
    rules::RULES
}

pub fn rule(code: &str) -> Option<&'static RuleMeta> {
    rules::rule(code)
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
        let result = analyze::analyze_function(func, Some(module), &resolver, exp, &aopts);
        let decision = summary::summarize(func, exp, &result);
        if resolver.stated(&func.name).is_none() {
            resolver.add_summary(&func.name, decision.contract.clone());
            if let Some(range) = decision.success {
                resolver.set_success_range(&func.name, range);
            }
            if let Some(arg) = decision.returns_arg {
                resolver.set_returns_arg(&func.name, arg);
            }
        }
        if !result.risky_fields.is_empty() {
            risky.insert(func.name.clone(), result.risky_fields.clone());
        }
        report.findings.extend(result.findings);
        for (param, f) in result.param_releases {
            if !decision.steals.contains(&param) {
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
