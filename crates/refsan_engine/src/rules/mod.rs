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
use crate::ids::Site;
use crate::violation::{Basis, Kind, Lost, Violation};
use refsan_ir::{ApiFacts, Event, Finding, Module, RuleMeta, Severity, Span, Trigger};

pub(crate) mod slots;

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
/// A check of the suppression comments against every finding of the file.
pub type SuppressionCheck = fn(&Module, &[Finding]) -> Vec<Finding>;

/// A rule's wording of a violation it claims: the finding's message, the
/// path's last event (at the finding's place) and the help line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub message: String,
    pub last: String,
    pub help: Option<String>,
    /// The rule's severity for this finding when it is not the rule's own
    /// (an ownership the project's code only implies is a warning).
    pub severity: Option<Severity>,
}

impl Verdict {
    pub fn new(message: String, last: String, help: Option<String>) -> Verdict {
        Verdict {
            message,
            last,
            help,
            severity: None,
        }
    }

    /// A borrowed reference treated as owned is a warning when only the
    /// project's conventions say it is borrowed (see [`why_on`]).
    pub fn on_basis(mut self, basis: Basis) -> Verdict {
        if basis == Basis::Inferred {
            self.severity = Some(Severity::Warning);
        }
        self
    }
}

/// Why a reference is borrowed, saying so when only the project's code,
/// not the C API, implies it.
pub fn why_on(why: &str, basis: Basis) -> String {
    match basis {
        Basis::Stated => why.to_string(),
        Basis::Inferred => format!(
            "{why}; inferred from this project's code, so a transfer refsan does not see would make it correct"
        ),
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
    /// Checks the suppression comments, where they are applied (after every
    /// other rule).
    pub suppressions: Option<SuppressionCheck>,
}

impl Rule {
    const fn path(meta: &'static RuleMeta, judge: Judge) -> Rule {
        Rule {
            meta,
            judge: Some(judge),
            refines: false,
            check: None,
            suppressions: None,
        }
    }

    const fn refining(meta: &'static RuleMeta, judge: Judge) -> Rule {
        Rule {
            meta,
            judge: Some(judge),
            refines: true,
            check: None,
            suppressions: None,
        }
    }

    const fn module(meta: &'static RuleMeta, check: Check) -> Rule {
        Rule {
            meta,
            judge: None,
            refines: false,
            check: Some(check),
            suppressions: None,
        }
    }

    const fn suppressions(meta: &'static RuleMeta, check: SuppressionCheck) -> Rule {
        Rule {
            meta,
            judge: None,
            refines: false,
            check: None,
            suppressions: Some(check),
        }
    }
}

/// The rule of one registry line: how it is found.
macro_rules! rule {
    ($m:ident, path) => {
        Rule::path(&$m::META, $m::judge)
    };
    ($m:ident, refining) => {
        Rule::refining(&$m::META, $m::judge)
    };
    ($m:ident, module) => {
        Rule::module(&$m::META, $m::check)
    };
    ($m:ident, refining_and_module) => {
        Rule {
            meta: &$m::META,
            judge: Some($m::judge),
            refines: true,
            check: Some($m::check),
            suppressions: None,
        }
    };
    ($m:ident, suppressions) => {
        Rule::suppressions(&$m::META, $m::check)
    };
}

/// Declares each rule's module and lists it in [`REGISTRY`]: adding a rule
/// is its file and one line here (`path`: judges violations of the path
/// analysis; `refining`: judges before the general rules; `module`: checks
/// the module as a whole; `suppressions`: checks the suppression comments
/// against the file's findings).
macro_rules! registry {
    ($($m:ident: $how:ident),* $(,)?) => {
        $(pub mod $m;)*

        /// Every rule, in code order.
        pub static REGISTRY: &[Rule] = &[$(rule!($m, $how)),*];
    };
}

registry! {
    rs101_leaked_reference: path,
    rs102_decref_borrowed: path,
    rs103_use_after_release: path,
    rs104_borrowed_returned: path,
    rs105_borrowed_stolen: path,
    rs106_steal_mishandled: refining,
    rs107_unchecked_null: path,
    rs108_borrowed_stored: path,
    rs109_error_without_exception: path,
    rs110_borrowed_across_call: path,
    rs201_parse_format: module,
    rs202_build_format: refining_and_module,
    rs203_method_flags: module,
    rs204_api_without_gil: path,
    rs205_free_threading_borrowed: module,
    rs301_dealloc_missing_release: module,
    rs302_traverse_missing_visit: module,
    rs303_dealloc_missing_untrack: module,
    rs304_heaptype_dealloc_type_ref: module,
    rs401_object_cast_of_new_ref: refining,
    rs402_incref_then_cast: refining,
    rs403_managed_to_stealing: path,
    rs404_dealloc_decref_maybe_null: module,
    rs405_extern_ownership_unknown: module,
    rs406_raw_pointer_outlives_object: path,
    rs407_refcount_field_access: module,
    rs408_refcount_call_on_raw_pointer: module,
    rs900_unused_suppression: suppressions,
}

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
        let mut f = finding(
            rule.meta,
            v.span,
            Some(function),
            verdict.message,
            events,
            verdict.help,
        );
        f.trigger = v.trigger;
        f.failing_call = v.failing.clone();
        if let Some(severity) = verdict.severity {
            f.severity = severity;
        }
        // The code established that the value is a singleton, which is
        // never freed (immortal from Python 3.12): a reference too few or
        // too many is a hazard of older versions, not a crash or a leak.
        if let Some(name) = &v.singleton {
            if f.severity == Severity::Error {
                f.severity = Severity::Warning;
                f.message = format!(
                    "{} (here it is `{name}`, which is never freed: a hazard before Python 3.12)",
                    f.message
                );
            }
        }
        Some(f)
    })
}

/// Keeps in `kept` what it takes the easier of two paths of one root cause
/// to happen.
fn take_easier(kept: &mut Finding, other: &Finding) {
    if other.trigger < kept.trigger {
        kept.trigger = other.trigger;
        kept.failing_call = other.failing_call.clone();
    }
}

/// Judges the violations of one function in order; the same rule at the
/// same place about the same value is reported once (the first path, with
/// what it takes the easiest of them to happen).
pub fn judge_all(violations: &[Violation], function: &str, facts: &dyn ApiFacts) -> Vec<Finding> {
    let key_of = |f: &Finding, v: &Violation| (f.code, f.span.start, f.span.end, v.site);
    let mut seen = std::collections::HashMap::new();
    let mut out: Vec<Finding> = Vec::new();
    // One finding per lost reference: a value lost at several returns (or
    // overwritten in a loop, then lost at a return) is reported at the
    // first of them, which names the others.
    let mut lost_at: Vec<((&'static str, Site), usize)> = Vec::new();
    let mut overwritten: Vec<usize> = Vec::new();
    for v in violations {
        let Some(f) = judge(v, function, facts) else {
            continue;
        };
        if let Some(&i) = seen.get(&key_of(&f, v)) {
            take_easier(&mut out[i], &f);
            continue;
        }
        let (at_exit, overwrite) = match &v.kind {
            Kind::Lost { how, .. } => (
                matches!(how, Lost::Return | Lost::Overwrite { .. }),
                matches!(how, Lost::Overwrite { .. }),
            ),
            _ => (false, false),
        };
        if let (true, Some(site)) = (at_exit, v.site) {
            let key = (f.code, site);
            if let Some((_, first)) = lost_at.iter().find(|(k, _)| *k == key) {
                if overwrite {
                    overwritten.push(*first);
                }
                seen.insert(key_of(&f, v), *first);
                let kept = &mut out[*first];
                let (earlier, later) = if f.span.start < kept.span.start {
                    let old = std::mem::replace(kept, f);
                    (kept, old)
                } else {
                    (kept, f)
                };
                take_easier(earlier, &later);
                earlier.related.extend(later.related);
                earlier.related.push(Event {
                    span: later.span,
                    message: later
                        .events
                        .last()
                        .map_or_else(|| later.message.clone(), |e| e.message.clone()),
                });
                continue;
            }
            if overwrite {
                overwritten.push(out.len());
            }
            lost_at.push((key, out.len()));
        }
        seen.insert(key_of(&f, v), out.len());
        out.push(f);
    }
    for (_, first) in lost_at {
        let f = &mut out[first];
        f.related.sort_by_key(|e| e.span.start);
        f.related.dedup_by_key(|e| e.span.line);
        let line = f.span.line;
        f.related.retain(|e| e.span.line != line);
        if f.related.is_empty() {
            continue;
        }
        let n = f.related.len();
        let lines: Vec<String> = f.related.iter().map(|e| e.span.line.to_string()).collect();
        let plural = if n == 1 { "" } else { "s" };
        f.message = if overwritten.contains(&first) {
            // Returns and overwrites: "exits" would not fit both.
            format!(
                "{} (also lost on line{plural} {})",
                f.message,
                lines.join(", ")
            )
        } else {
            format!(
                "{} (also lost at {n} later return{plural}: line{plural} {})",
                f.message,
                lines.join(", ")
            )
        };
    }
    out
}

/// The findings about the suppression comments of `module`, given every
/// finding the file has (before rule selection and suppression).
pub fn check_suppressions(module: &Module, findings: &[Finding]) -> Vec<Finding> {
    REGISTRY
        .iter()
        .filter_map(|r| r.suppressions)
        .flat_map(|check| check(module, findings))
        .collect()
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
        related: Vec::new(),
        trigger: Trigger::Always,
        failing_call: None,
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
