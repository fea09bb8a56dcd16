//! What the analysis of one function yields, as the summaries, the rules
//! and the module check read it. A leaf: it depends on no other part of the
//! engine's logic.

use crate::state::Exc;
use crate::violation::Violation;
use refsan_ir::Span;

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
    /// A new reference to an object made on this path (by a constructor):
    /// none of the objects that existed before the call.
    pub fresh: bool,
    /// What it takes for the path to this return to happen.
    pub demand: refsan_ir::Trigger,
    /// A parameter is NULL on this path (`if (x == NULL) return -1;`).
    pub null_param: bool,
    /// Parameters (bit i: the i-th, up to 64) the path established are not
    /// NULL.
    pub nonnull_params: u64,
    /// `PyObject **` parameters (bit i: the i-th, up to 64) through which
    /// the path stored a new reference that is still there (`*out = r;`).
    pub out_new: u64,
}

impl ReturnObs {
    /// The return reports a failure: NULL, or a negative int.
    pub fn fails(&self) -> bool {
        match self.kind {
            RetKind::Null => true,
            RetKind::Int(_, hi) => hi < 0,
            _ => false,
        }
    }

    /// The exception state the caller sees: an error value returned
    /// because a parameter was NULL passes on the failure that made the
    /// caller's NULL (`check_decoded(PyObject_Call(...))`).
    pub fn caller_exc(&self) -> Exc {
        match self.kind {
            RetKind::Int(_, hi) if hi < 0 && self.null_param && self.exc == Exc::Clear => Exc::Set,
            _ => self.exc,
        }
    }
}

/// The outcome of analysing one function.
#[derive(Default)]
pub struct FnResult {
    pub violations: Vec<Violation>,
    /// What the function does with a parameter it does not own (releases,
    /// steals or stores it): a bug, unless the summary decides the function
    /// takes the reference over.
    pub param_violations: Vec<(u32, Violation)>,
    /// Borrowed references returned while the contract is inferred: bugs
    /// when other paths return new references.
    pub borrowed_returns: Vec<Violation>,
    pub returns: Vec<ReturnObs>,
    pub approximate: Option<String>,
    /// Watched attributes (`Expect::watch_fields`) that are NULL or unset on
    /// an error exit, with the exit's span.
    pub risky_fields: Vec<(String, Span)>,
    /// Statements the CFG reaches that no explored path reached (see
    /// `Analyzer::count_unreached`), and the first of them.
    pub unreached: usize,
    pub first_unreached: Option<Span>,
}

/// One way a summarised non-object function returns: the values it returns
/// and what it leaves in the exception state (`Clear` = unchanged).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IntOutcome {
    pub lo: i64,
    pub hi: i64,
    pub exc: Exc,
}
