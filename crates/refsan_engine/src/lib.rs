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
pub mod outcome;
pub mod rules;
pub mod state;
pub mod summary;
pub mod violation;
mod widen;

#[cfg(test)]
pub(crate) mod test_support;

pub use analyze::Limits;
pub use facts::{ApiFacts, ApiInfo};

use refsan_ir::{
    Contract, Finding, Function, Module, Note, RuleMeta, Severity, Span, Trigger, TypeClass,
};
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
    /// Functions with statements the CFG reaches but no explored path did:
    /// name, count, first statement. Zero everywhere unless the analysis
    /// prunes a feasible path (or the code has dead branches).
    pub unreached: Vec<(String, usize, Span)>,
    /// What callers in other files need to know of each function the
    /// module defines with external linkage.
    pub exports: Vec<(String, ExternalSummary)>,
}

/// A function's summary as its callers in other files of the project use
/// it: the contract, and for helpers returning an int or one of their
/// arguments, how they return.
#[derive(Clone, Debug)]
pub struct ExternalSummary {
    pub contract: Contract,
    success: Option<(i64, i64)>,
    returns_arg: Option<usize>,
    int_outcomes: Option<Vec<outcome::IntOutcome>>,
    fresh: bool,
    oom_only: bool,
    nonnull_on_success: u64,
    /// The knowledge-base call through which it can run Python code.
    runs_code: Option<String>,
}

impl ExternalSummary {
    /// What callers learn from a function's analysis.
    fn of(decision: &summary::Decision) -> ExternalSummary {
        ExternalSummary {
            contract: decision.contract.clone(),
            success: decision.success,
            returns_arg: decision.returns_arg,
            fresh: decision.fresh,
            oom_only: decision.oom_only,
            nonnull_on_success: decision.nonnull_on_success,
            int_outcomes: decision.int_outcomes.clone(),
            runs_code: None,
        }
    }
}

/// `func` has overloads (definitions of the same name with other
/// parameters) and exactly one of them returns an object.
fn object_overload(module: &Module, func: &Function) -> bool {
    let defs: Vec<&Function> = module
        .functions
        .iter()
        .filter(|f| f.name == func.name)
        .collect();
    defs.len() > 1
        && defs
            .iter()
            .filter(|f| f.returns == TypeClass::Object)
            .count()
            == 1
        && defs
            .iter()
            .any(|f| f.params.len() != func.params.len() || f.returns != func.returns)
}

/// Tells `resolver` what the summary of `name` says.
fn learn(resolver: &mut facts::Resolver<'_>, name: &str, s: &ExternalSummary) {
    resolver.add_summary(name, s.contract.clone());
    if let Some(range) = s.success {
        resolver.set_success_range(name, range);
    }
    if let Some(arg) = s.returns_arg {
        resolver.set_returns_arg(name, arg);
    }
    if s.fresh {
        resolver.set_fresh(name);
    }
    if s.oom_only {
        resolver.set_oom_only(name);
    }
    if s.nonnull_on_success != 0 {
        resolver.set_nonnull_on_success(name, s.nonnull_on_success);
    }
    if let Some(outcomes) = &s.int_outcomes {
        resolver.set_int_outcomes(name, outcomes.clone());
    }
    if let Some(via) = &s.runs_code {
        resolver.set_runs_code(name, via);
    }
}

/// Every rule the engine knows, in code order.
pub fn rules() -> Vec<&'static RuleMeta> {
    rules::metas().collect()
}

pub fn rule(code: &str) -> Option<&'static RuleMeta> {
    rules::rule(code)
}

/// One function of the module, with what its analysis reads.
struct FunctionCx<'a> {
    func: &'a Function,
    module: &'a Module,
    resolver: &'a facts::Resolver<'a>,
    options: &'a analyze::Options,
}

/// One analysis of a function: what it observed, the findings the rules
/// make of it, and the contract it implies for callers.
struct Analysed {
    result: outcome::FnResult,
    findings: Vec<Finding>,
    decision: summary::Decision,
}

impl FunctionCx<'_> {
    fn analyse(&self, exp: &expect::Expect) -> Analysed {
        let result = analyze::analyze_function(
            self.func,
            Some(self.module),
            self.resolver,
            exp,
            self.options,
        );
        let findings = rules::judge_all(&result.violations, &self.func.name, self.resolver.facts());
        let decision = summary::summarize(self.func, exp, &result, !findings.is_empty());
        Analysed {
            result,
            findings,
            decision,
        }
    }

    /// A helper whose parameter is released, stolen or stored on some paths
    /// and returned on the others takes over that reference on every path
    /// (`return unwrap(result)` consuming `result`). When treating the
    /// parameter as stolen explains every path — each return leaves the
    /// function holding no reference to it and nothing new is reported —
    /// that is its contract.
    fn steal_hypothesis(&self, exp: &expect::Expect, first: &Analysed) -> Option<Analysed> {
        if exp.params.is_some() || exp.python_facing {
            return None;
        }
        let mut candidates: Vec<u32> = first
            .result
            .param_violations
            .iter()
            .map(|(p, _)| *p)
            .filter(|p| !first.decision.steals.contains(p))
            .collect();
        candidates.sort_unstable();
        candidates.dedup();
        if candidates.is_empty() {
            return None;
        }
        let mut effects = vec![refsan_ir::ArgEffect::Borrow; self.func.params.len()];
        // The parameters the first analysis found stolen stay stolen.
        for p in first.decision.steals.iter().chain(&candidates) {
            if let Some(e) = effects.get_mut(*p as usize) {
                *e = refsan_ir::ArgEffect::Steal;
            }
        }
        let mut hyp = exp.clone();
        hyp.params = Some(effects.clone());
        let mut again = self.analyse(&hyp);
        let gave_up = |r: &outcome::ReturnObs| {
            candidates.iter().all(|p| {
                let o = r.params_owned.get(*p as usize).copied().unwrap_or(0);
                o == 0 || o == i16::MIN
            })
        };
        let returns = &again.result.returns;
        let no_new_findings = again.findings.len() <= first.findings.len();
        let consistent = !returns.is_empty() && returns.iter().all(gave_up) && no_new_findings;
        // Given up on every return that succeeds and on some that fail too
        // (`call()` releases `args` once it has called, and returns early
        // on a failed import still holding it): the helper takes over its
        // argument, and the failing returns that keep it are its own leaks,
        // reported here rather than at each caller.
        let taken_over = no_new_findings
            && returns.iter().any(|r| !r.fails())
            && returns.iter().filter(|r| !r.fails()).all(gave_up)
            && returns.iter().any(|r| r.fails() && gave_up(r));
        if !(consistent || taken_over) || again.result.approximate.is_some() {
            return None;
        }
        if !consistent {
            hyp.owns_stolen = true;
            again = self.analyse(&hyp);
        }
        // Summarised as the function it was analysed as, then the stolen
        // parameters on top.
        again.decision =
            summary::summarize(self.func, exp, &again.result, !again.findings.is_empty());
        for (i, e) in effects.iter().enumerate() {
            if *e == refsan_ir::ArgEffect::Steal {
                again.decision.contract.set_arg(i, *e);
                again.decision.steals.push(i as u32);
            }
        }
        Some(again)
    }
}

/// What to do with the findings whose path needs memory to run out
/// (`Trigger::Oom`): `[tool.refsan] oom`, `refsan check --oom`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OomFindings {
    /// Report them at their rule's severity.
    Error,
    /// Report errors among them as warnings (the default).
    #[default]
    Warning,
    /// Do not report them.
    Ignore,
}

impl OomFindings {
    pub fn parse(s: &str) -> Option<OomFindings> {
        match s {
            "error" => Some(OomFindings::Error),
            "warning" => Some(OomFindings::Warning),
            "ignore" => Some(OomFindings::Ignore),
            _ => None,
        }
    }
}

/// Applies `how` to the findings that happen only when memory runs out.
pub fn apply_oom(findings: Vec<Finding>, how: OomFindings) -> Vec<Finding> {
    findings
        .into_iter()
        .filter_map(|mut f| {
            if f.trigger != Trigger::Oom {
                return Some(f);
            }
            match how {
                OomFindings::Error => {}
                OomFindings::Warning => f.severity = f.severity.min(Severity::Warning),
                OomFindings::Ignore => return None,
            }
            Some(f)
        })
        .collect()
}

/// Applies the suppression comments of `module` to its findings: adds the
/// findings about the comments themselves (RS900: a comment that silences
/// nothing), then drops every finding a comment silences. A comment never
/// silences the finding about itself.
pub fn apply_suppressions(module: &Module, findings: Vec<Finding>) -> Vec<Finding> {
    let about_comments = rules::check_suppressions(module, &findings);
    let silenced = |f: &Finding| module.suppression_for(f.code, f.span.line).is_some();
    let mut out: Vec<Finding> = findings.into_iter().filter(|f| !silenced(f)).collect();
    out.extend(about_comments.into_iter().filter(|f| {
        module
            .suppression_for(f.code, f.span.line)
            .is_none_or(|i| module.suppressions[i].span == f.span)
    }));
    out
}

/// Checks one module: summaries bottom-up, then every function, then the
/// file-level rules.
pub fn check_module(module: &Module, facts: &dyn ApiFacts, opts: &CheckOptions) -> ModuleReport {
    check_module_with(module, facts, opts, &HashMap::new())
}

/// Checks one module knowing the summaries of functions other files of
/// its project define (`external`, by name; the module's own definitions
/// and the knowledge base take precedence).
pub fn check_module_with(
    module: &Module,
    facts: &dyn ApiFacts,
    opts: &CheckOptions,
    external: &HashMap<String, ExternalSummary>,
) -> ModuleReport {
    check_module_in(module, facts, opts, external, false)
}

/// What other files of the project learn of `module`: the summaries of its
/// exported functions, as `check_module` gives them in `exports`, from
/// the analysis of those functions and of the functions they call only.
pub fn summarise_module(
    module: &Module,
    facts: &dyn ApiFacts,
    opts: &CheckOptions,
) -> Vec<(String, ExternalSummary)> {
    check_module_in(module, facts, opts, &HashMap::new(), true).exports
}

fn check_module_in(
    module: &Module,
    facts: &dyn ApiFacts,
    opts: &CheckOptions,
    external: &HashMap<String, ExternalSummary>,
    exports_only: bool,
) -> ModuleReport {
    let mut resolver = facts::Resolver::new(facts, &opts.annotations, module);
    for (name, s) in external {
        if module.function(name).is_some() || resolver.stated(name).is_some() {
            continue;
        }
        learn(&mut resolver, name, s);
    }
    let owning = {
        let risky = rules::rs404_dealloc_decref_maybe_null::RiskyFields::new();
        let cx = rules::ModuleCx {
            module,
            resolver: &resolver,
            risky: &risky,
        };
        rules::slots::owning_members(&cx)
    };
    resolver.set_owning_members(owning);
    let (cleared, flags) = rules::slots::cleared_members(module);
    resolver.set_cleared_members(cleared, flags);
    let expects = expect::expectations(module, &resolver);
    let aopts = analyze::Options {
        target: opts.target,
        limits: opts.limits,
    };
    let mut report = ModuleReport::default();
    let mut risky = rules::rs404_dealloc_decref_maybe_null::RiskyFields::new();
    let exported = |func: &Function, exp: &expect::Expect| !func.is_static && !exp.python_facing;
    // Only the exported functions and their callees are needed for the
    // exports; the order among them is the whole module's.
    let wanted = exports_only.then(|| {
        summary::callee_closure(
            module,
            module.functions.iter().enumerate().filter_map(|(i, f)| {
                expects
                    .get(&f.name)
                    .is_some_and(|exp| exported(f, exp))
                    .then_some(i)
            }),
        )
    });
    // The `static` functions of the headers the file includes are analysed
    // when its own functions call them (directly or through each other),
    // for their summaries only, and never in place of what the knowledge
    // base or a declaration states about them.
    let has_helpers = module.functions.iter().any(|f| f.header.is_some());
    let helpers = has_helpers.then(|| {
        summary::callee_closure(
            module,
            module
                .functions
                .iter()
                .enumerate()
                .filter(|(_, f)| f.header.is_none())
                .map(|(i, _)| i),
        )
    });
    for idx in summary::bottom_up_order(module) {
        if wanted.as_ref().is_some_and(|w| !w[idx]) {
            continue;
        }
        let func = &module.functions[idx];
        if func.header.is_some()
            && (helpers.as_ref().is_some_and(|h| !h[idx]) || resolver.stated(&func.name).is_some())
        {
            continue;
        }
        let Some(exp) = expects.get(&func.name) else {
            continue;
        };
        if let Some(via) = summary::runs_code_via(func, &resolver) {
            resolver.set_runs_code(&func.name, &via);
        }
        let cx = FunctionCx {
            func,
            module,
            resolver: &resolver,
            options: &aopts,
        };
        let first = cx.analyse(exp);
        let Analysed {
            result,
            findings,
            decision,
        } = cx.steal_hypothesis(exp, &first).unwrap_or(first);
        report
            .summaries
            .push((func.name.clone(), decision.contract.clone()));
        // A function Python calls (a method, a slot) is summarised for the
        // way Python calls it; C callers in other files pass what Python
        // would not (`_PyIOBase_check_readable(raw, Py_True)`).
        let mut summary = ExternalSummary::of(&decision);
        summary.runs_code = resolver.runs_code(&func.name).map(str::to_string);
        if resolver.stated(&func.name).is_none() {
            match resolver.summary(&func.name) {
                None => learn(&mut resolver, &func.name, &summary),
                // C++ overloads of which one returns an object
                // (`Require(PyObject *)`, `Require(int)`): a call whose
                // result is used is a call of that one.
                Some(prev) if *prev != decision.contract && object_overload(module, func) => {
                    if func.returns == TypeClass::Object {
                        learn(&mut resolver, &func.name, &summary);
                    }
                }
                // A function defined in several `#if` arms: keep only what
                // all the definitions agree on.
                Some(prev) if *prev != decision.contract => {
                    resolver.add_summary(&func.name, Contract::unknown());
                }
                Some(_) => {}
            }
        }
        if exported(func, exp) {
            report.exports.push((func.name.clone(), summary));
        }
        // A header's function's findings are the header's.
        if exports_only || func.header.is_some() {
            continue;
        }
        if !result.risky_fields.is_empty() {
            risky.insert(func.name.clone(), result.risky_fields.clone());
        }
        report.findings.extend(findings);
        for (param, v) in result.param_violations {
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
                report.findings.extend(rules::judge(&v, &func.name, facts));
            }
        }
        if decision.returns_new {
            for v in &result.borrowed_returns {
                report.findings.extend(rules::judge(v, &func.name, facts));
            }
        }
        if let Some(first) = result.first_unreached {
            report
                .unreached
                .push((func.name.clone(), result.unreached, first));
            report.notes.push(Note {
                span: first,
                function: Some(func.name.clone()),
                message: format!(
                    "{} statement{} of `{}` {} reached by no path the analysis followed, from here",
                    result.unreached,
                    if result.unreached == 1 { "" } else { "s" },
                    func.name,
                    if result.unreached == 1 { "is" } else { "are" },
                ),
            });
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
    if exports_only {
        return report;
    }
    let cx = rules::ModuleCx {
        module,
        resolver: &resolver,
        risky: &risky,
    };
    rules::check_module(&cx, &mut report.findings);
    if has_helpers {
        report.findings.retain(|f| {
            f.function
                .as_ref()
                .is_none_or(|n| module.function(n).is_none_or(|g| g.header.is_none()))
        });
    }
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
