//! The rule catalogue. One file per rule: its metadata and documentation
//! (what `refsan explain` prints), its detection decision and the wording
//! of its findings.
//!
//! Rules are found two ways. The ownership rules (RS1xx, RS204, RS4xx on
//! paths) judge the [`Violation`]s the path analysis emits: a rule claims
//! the violations it is about and words them ([`Verdict`]). The API-usage,
//! type-slot and Cython declaration rules check the module as a whole.
//! [`REGISTRY`] lists every rule once, with how it is found; `explain`,
//! SARIF's rule table and the fixture harness read it.

use crate::facts::Resolver;
use crate::violation::Violation;
use refsan_ir::{ApiFacts, Event, Finding, Module, RuleMeta, Span};

pub mod rs101_leaked_reference;
pub mod rs102_decref_borrowed;
pub mod rs103_use_after_release;
pub mod rs104_borrowed_returned;
pub mod rs105_borrowed_stolen;
pub mod rs106_steal_mishandled;
pub mod rs107_unchecked_null;
pub mod rs108_borrowed_stored;
pub mod rs109_error_without_exception;
pub mod rs110_borrowed_across_call;
pub mod rs201_parse_format;
pub mod rs202_build_format;
pub mod rs203_method_flags;
pub mod rs204_api_without_gil;
pub mod rs205_free_threading_borrowed;
pub mod rs301_dealloc_missing_release;
pub mod rs302_traverse_missing_visit;
pub mod rs303_dealloc_missing_untrack;
pub mod rs304_heaptype_dealloc_type_ref;
pub mod rs401_object_cast_of_new_ref;
pub mod rs402_incref_then_cast;
pub mod rs403_managed_to_stealing;
pub mod rs404_dealloc_decref_maybe_null;
pub mod rs405_extern_ownership_unknown;
pub mod rs406_raw_pointer_outlives_object;
pub mod rs407_refcount_field_access;
pub mod rs408_refcount_call_on_raw_pointer;
mod slots;

/// What a module-level check reads besides the module.
pub struct ModuleCx<'a> {
    pub module: &'a Module,
    pub resolver: &'a Resolver<'a>,
    /// What the path analysis of `__cinit__` functions found (RS404).
    pub risky: &'a rs404_dealloc_decref_maybe_null::RiskyFields,
}

/// How a rule claims a violation of the path analysis.
pub type Judge = fn(&Violation, &dyn ApiFacts) -> Option<Verdict>;
/// A check over the whole module.
pub type Check = fn(&ModuleCx<'_>, &mut Vec<Finding>);

/// A rule's wording of a violation it claims: the finding's message, the
/// path's last event (at the finding's place) and the help line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub message: String,
    pub last: String,
    pub help: Option<String>,
}

impl Verdict {
    pub fn new(message: String, last: String, help: Option<String>) -> Verdict {
        Verdict {
            message,
            last,
            help,
        }
    }
}

/// One rule and how it is found.
pub struct Rule {
    pub meta: &'static RuleMeta,
    /// Claims violations of the path analysis.
    pub judge: Option<Judge>,
    /// Refines a more general rule's claim (RS401 on a leak RS101 would
    /// claim): refining rules judge first.
    pub refines: bool,
    /// Checks the module as a whole.
    pub check: Option<Check>,
}

impl Rule {
    const fn path(meta: &'static RuleMeta, judge: Judge) -> Rule {
        Rule {
            meta,
            judge: Some(judge),
            refines: false,
            check: None,
        }
    }

    const fn refining(meta: &'static RuleMeta, judge: Judge) -> Rule {
        Rule {
            meta,
            judge: Some(judge),
            refines: true,
            check: None,
        }
    }

    const fn module(meta: &'static RuleMeta, check: Check) -> Rule {
        Rule {
            meta,
            judge: None,
            refines: false,
            check: Some(check),
        }
    }
}

/// Every rule, in code order.
pub static REGISTRY: &[Rule] = &[
    Rule::path(&rs101_leaked_reference::META, rs101_leaked_reference::judge),
    Rule::path(&rs102_decref_borrowed::META, rs102_decref_borrowed::judge),
    Rule::path(
        &rs103_use_after_release::META,
        rs103_use_after_release::judge,
    ),
    Rule::path(
        &rs104_borrowed_returned::META,
        rs104_borrowed_returned::judge,
    ),
    Rule::path(&rs105_borrowed_stolen::META, rs105_borrowed_stolen::judge),
    Rule::refining(&rs106_steal_mishandled::META, rs106_steal_mishandled::judge),
    Rule::path(&rs107_unchecked_null::META, rs107_unchecked_null::judge),
    Rule::path(&rs108_borrowed_stored::META, rs108_borrowed_stored::judge),
    Rule::path(
        &rs109_error_without_exception::META,
        rs109_error_without_exception::judge,
    ),
    Rule::path(
        &rs110_borrowed_across_call::META,
        rs110_borrowed_across_call::judge,
    ),
    Rule::module(&rs201_parse_format::META, rs201_parse_format::check),
    Rule {
        meta: &rs202_build_format::META,
        judge: Some(rs202_build_format::judge),
        refines: true,
        check: Some(rs202_build_format::check),
    },
    Rule::module(&rs203_method_flags::META, rs203_method_flags::check),
    Rule::path(&rs204_api_without_gil::META, rs204_api_without_gil::judge),
    Rule::module(
        &rs205_free_threading_borrowed::META,
        rs205_free_threading_borrowed::check,
    ),
    Rule::module(
        &rs301_dealloc_missing_release::META,
        rs301_dealloc_missing_release::check,
    ),
    Rule::module(
        &rs302_traverse_missing_visit::META,
        rs302_traverse_missing_visit::check,
    ),
    Rule::module(
        &rs303_dealloc_missing_untrack::META,
        rs303_dealloc_missing_untrack::check,
    ),
    Rule::module(
        &rs304_heaptype_dealloc_type_ref::META,
        rs304_heaptype_dealloc_type_ref::check,
    ),
    Rule::refining(
        &rs401_object_cast_of_new_ref::META,
        rs401_object_cast_of_new_ref::judge,
    ),
    Rule::refining(&rs402_incref_then_cast::META, rs402_incref_then_cast::judge),
    Rule::path(
        &rs403_managed_to_stealing::META,
        rs403_managed_to_stealing::judge,
    ),
    Rule::module(
        &rs404_dealloc_decref_maybe_null::META,
        rs404_dealloc_decref_maybe_null::check,
    ),
    Rule::module(
        &rs405_extern_ownership_unknown::META,
        rs405_extern_ownership_unknown::check,
    ),
    Rule::path(
        &rs406_raw_pointer_outlives_object::META,
        rs406_raw_pointer_outlives_object::judge,
    ),
    Rule::module(
        &rs407_refcount_field_access::META,
        rs407_refcount_field_access::check,
    ),
    Rule::module(
        &rs408_refcount_call_on_raw_pointer::META,
        rs408_refcount_call_on_raw_pointer::check,
    ),
];

/// Every rule's metadata, in code order.
pub fn metas() -> impl Iterator<Item = &'static RuleMeta> {
    REGISTRY.iter().map(|r| r.meta)
}

/// The finding a violation of function `function` is: the first refining
/// rule that claims it, else the first other rule that does; `None` when no
/// rule claims it (a call the GIL is not needed for).
pub fn judge(v: &Violation, function: &str, facts: &dyn ApiFacts) -> Option<Finding> {
    let refining = REGISTRY.iter().filter(|r| r.refines);
    let general = REGISTRY.iter().filter(|r| !r.refines);
    refining.chain(general).find_map(|rule| {
        let verdict = (rule.judge?)(v, facts)?;
        let mut events = v.path.clone();
        events.push(Event {
            span: v.span,
            message: verdict.last,
        });
        Some(finding(
            rule.meta,
            v.span,
            Some(function),
            verdict.message,
            events,
            verdict.help,
        ))
    })
}

/// Judges the violations of one function in order; the same rule at the
/// same place about the same value is reported once (the first path).
pub fn judge_all(violations: &[Violation], function: &str, facts: &dyn ApiFacts) -> Vec<Finding> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for v in violations {
        if let Some(f) = judge(v, function, facts) {
            if seen.insert((f.code, f.span.start, f.span.end, v.site)) {
                out.push(f);
            }
        }
    }
    out
}

/// Runs every module-level check.
pub fn check_module(cx: &ModuleCx<'_>, out: &mut Vec<Finding>) {
    for rule in REGISTRY {
        if let Some(check) = rule.check {
            check(cx, out);
        }
    }
}

pub fn rule(code: &str) -> Option<&'static RuleMeta> {
    metas().find(|r| r.code.eq_ignore_ascii_case(code))
}

/// Builds a finding of `meta` at `span`.
pub fn finding(
    meta: &'static RuleMeta,
    span: Span,
    function: Option<&str>,
    message: String,
    events: Vec<Event>,
    help: Option<String>,
) -> Finding {
    Finding {
        code: meta.code,
        name: meta.name,
        severity: meta.severity,
        message,
        span,
        function: function.map(str::to_string),
        events,
        help,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_is_consistent() {
        let mut codes: Vec<&str> = metas().map(|r| r.code).collect();
        let sorted = {
            let mut c = codes.clone();
            c.sort();
            c
        };
        assert_eq!(codes, sorted, "REGISTRY must be in code order");
        codes.dedup();
        assert_eq!(codes.len(), REGISTRY.len(), "duplicate rule code");
        for r in metas() {
            assert!(
                r.doc.contains("## What it does"),
                "{} doc lacks What it does",
                r.code
            );
            assert!(
                r.doc.contains("## Why is this bad?"),
                "{} doc lacks Why",
                r.code
            );
            assert!(r.doc.contains("## Example"), "{} doc lacks Example", r.code);
            assert!(!r.summary.is_empty());
        }
        assert_eq!(rule("rs101").map(|r| r.name), Some("leaked-reference"));
    }
}
