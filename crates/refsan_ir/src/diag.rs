//! What the analysis tells the user: findings with their event path, and
//! per-file notes. Shared by the engine (producer) and the report layer
//! (renderer); neither front-end nor engine knows how these are printed.

use crate::span::Span;
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Style or portability: the code works today.
    Info,
    /// A hazard: wrong under some conditions or on some Python versions.
    Warning,
    /// A crash or a leak on a reachable path.
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }

    pub fn parse(s: &str) -> Option<Severity> {
        match s.to_ascii_lowercase().as_str() {
            "info" => Some(Severity::Info),
            "warning" => Some(Severity::Warning),
            "error" => Some(Severity::Error),
            _ => None,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What it takes for a finding's path to happen, from the most to the
/// least likely: the failures of calls the path goes through.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    /// No call has to fail: the inputs the code is written for lead there.
    #[default]
    Always,
    /// A call fails in a way the caller can cause: a wrong argument type, a
    /// failing callback, a missing key, a user `__eq__`, an import error.
    Caller,
    /// Only an allocation or an interpreter-internal failure leads there
    /// (`PyList_New`, `PyModule_AddObject`, `PyType_Ready` of a static type).
    Oom,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Always => "always",
            Trigger::Caller => "caller",
            Trigger::Oom => "oom",
        }
    }
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The call whose failure a finding's path needs (the first of its kind on
/// the path).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FailingCall {
    /// The callee as written.
    pub name: String,
    pub span: Span,
}

/// One step of the path that leads to a finding, e.g. "new reference from
/// `PyList_New`" or "taking the error branch of `if (r < 0)`".
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Event {
    pub span: Span,
    pub message: String,
}

/// A finding of one rule at one place.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Finding {
    /// Rule code, e.g. "RS101".
    pub code: &'static str,
    /// Rule name, e.g. "leaked-reference".
    pub name: &'static str,
    pub severity: Severity,
    /// One sentence naming the things involved.
    pub message: String,
    /// Where the bug happens (for a leak: where the last reference is lost).
    pub span: Span,
    /// The function the finding is in, when there is one.
    pub function: Option<String>,
    /// The numbered path: what created the reference, which branches were
    /// taken, where it went wrong. The last event is at `span`.
    pub events: Vec<Event>,
    /// How to fix it, when the rule can say.
    pub help: Option<String>,
    /// Other places of the same root cause (the later returns where the
    /// same reference is lost), each with what happens there.
    pub related: Vec<Event>,
    /// What it takes for the path to happen.
    pub trigger: Trigger,
    /// The call whose failure the path needs (none for `Always`).
    pub failing_call: Option<FailingCall>,
}

/// Something the user should know about a file that is not a finding: a
/// function the engine analysed only approximately, a region the parser could
/// not read.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Note {
    pub span: Span,
    pub function: Option<String>,
    pub message: String,
}

/// What a renderer needs to know about a rule (SARIF rule descriptors,
/// `refsan explain`). The rules themselves live in the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct RuleMeta {
    /// "RS101".
    pub code: &'static str,
    /// "leaked-reference".
    pub name: &'static str,
    pub severity: Severity,
    /// One line: what the rule finds.
    pub summary: &'static str,
    /// The full documentation in Markdown: what it does, why it is bad, an
    /// example, the fix.
    pub doc: &'static str,
    /// Categories for viewers (SARIF `properties.tags`): "memory-leak",
    /// "use-after-free", "cython"...
    pub tags: &'static [&'static str],
    /// How often a finding of the rule is a real problem, as measured on
    /// real code (BENCHMARKS.md).
    pub precision: Precision,
}

/// How often a rule's findings are real problems (SARIF's
/// `properties.precision`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Precision {
    VeryHigh,
    High,
    Medium,
    Low,
}

impl Precision {
    pub fn as_str(self) -> &'static str {
        match self {
            Precision::VeryHigh => "very-high",
            Precision::High => "high",
            Precision::Medium => "medium",
            Precision::Low => "low",
        }
    }
}
