//! What the path analysis observed, before a rule decides which finding it
//! is and words it.
//!
//! The analysis knows what happened to which value along which path: an
//! owned reference was lost, a value was used after its object may have
//! died, a borrowed reference was released, stolen, stored or returned,
//! NULL reached a use. It narrates the path (the numbered events) and the
//! value's history (why it is borrowed, why it is NULL) and emits one
//! [`Violation`]. The rule files (`rules/`) claim violations and word them:
//! the rule code, the message, the last event and the help line live there.

use crate::ids::Site;
use refsan_ir::{Event, FailingCall, Span, Trigger};

/// One observation of the path analysis.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub kind: Kind,
    /// Where it happens (for a leak: where the last reference is lost).
    pub span: Span,
    /// The events of the path that lead there, oldest first.
    pub path: Vec<Event>,
    /// The abstract value concerned: one finding per rule, place and value.
    pub site: Option<Site>,
    /// What it takes for the path to happen.
    pub trigger: Trigger,
    /// The call whose failure the path needs.
    pub failing: Option<FailingCall>,
    /// The value is this singleton on the path (`res == Py_True`).
    pub singleton: Option<String>,
}

/// How a value is accessed at the point of a violation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Access {
    Incref,
    Release,
    /// `Py_DECREF` and its variants, by the macro's name (for NULL checks).
    ReleaseBy(String),
    /// Dereferenced (a field read, a method call on it).
    Deref,
    /// Passed as an argument to a call.
    Pass(String),
    Store,
    Return,
}

/// How an owned reference was lost.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lost {
    /// At a return (or the end of the function).
    Return,
    /// A variable holding the only reference was assigned something else.
    Overwrite { var: String },
    /// A temporary holding a call's result died without being released.
    Temp { callee: String },
}

/// Where a reference that Python code can free was borrowed from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BorrowSource {
    /// A field Python code can rebind (`` `self->callback` ``).
    Field(String),
    /// The result of a knowledge-base call (an item of a container, a
    /// `sys` attribute, a weak reference's referent).
    Api(String),
}

/// Why a value may be gone when it is used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Dead {
    /// The function released its last reference (or released it twice).
    Released,
    /// Cython released it (a temporary, an overwritten or out-of-scope
    /// `object` variable) while a raw pointer still refers to it.
    ReleasedByLanguage,
    /// A borrowed reference whose owner, `owner`, was released.
    OwnerGone { owner: String },
}

/// How a reference the function does not own was released.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Release {
    /// By `Py_DECREF` and its variants.
    Decref,
    /// A container item released while its slot still points to it.
    SlotStillRefers,
    /// By a replace-in-place API (`PyUnicode_Append` on a borrowed `*p`).
    ReplacedBy { callee: String },
}

/// What says the function does not own a reference it treats as its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Basis {
    /// The C API or a stated contract: a knowledge-base function returned
    /// it borrowed or stole it, the interpreter lent it as a parameter of a
    /// Python-facing function, a declaration or `[tool.refsan]` says so.
    Stated,
    /// The project's own conventions as refsan inferred them: an object's
    /// field, a global, a parameter of a helper, a helper's summary, a
    /// store into a struct. A transfer refsan does not see (a pop, a
    /// replaced slot, a helper keeping a pointer that does not own) makes
    /// such code correct.
    Inferred,
}

/// Which error return lacks an exception.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorReturn {
    Null,
    NegOne,
}

/// What happened. Fields named `value` hold the value as the path names
/// it ("`list`", "the new reference from `PyList_New`"); fields named `why`
/// hold the value's history as a clause ("parameters are borrowed
/// references").
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// An owned reference is lost.
    Lost {
        value: String,
        how: Lost,
        /// A steal-on-success call that failed left the reference here.
        failed_steal_by: Option<String>,
        /// A Cython `<object>` cast took a reference of its own.
        object_cast: Option<ObjectCast>,
    },
    /// The new reference a call returned is not kept at all.
    Discarded { callee: String },
    /// Returned with more references than the caller receives.
    ReturnedWithExtra { value: String, extra: i16 },
    /// A value used after its object may have been freed.
    DeadUse {
        value: String,
        access: Access,
        cause: Dead,
    },
    /// A borrowed value used after a call that can run Python code.
    UsedAfterCodeRan {
        value: String,
        /// The call that can run Python code.
        callee: String,
        /// For a function of the project, the knowledge-base call through
        /// which it does.
        via: Option<String>,
        /// Where the reference was borrowed from.
        source: BorrowSource,
    },
    /// NULL reaches an access that does not accept it. `why` says where the
    /// NULL comes from ("`f` returned NULL on line 3").
    NullUsed {
        value: String,
        access: Access,
        why: String,
    },
    /// A value that may be NULL (an out-pointer result) reaches an access
    /// that does not accept it.
    MaybeNullUsed {
        value: String,
        access: Access,
        why: String,
        /// Only the project's code says it may be NULL (a field another
        /// method sets to NULL): a warning.
        basis: Basis,
    },
    /// A reference the function does not own is released.
    ReleasedBorrowed {
        value: String,
        why: String,
        basis: Basis,
        by: Release,
    },
    /// A reference released after a stealing call took it; `by_language`
    /// when Cython inserted the release.
    ReleasedAfterSteal {
        value: String,
        callee: String,
        by_language: bool,
    },
    /// Cython releases an object whose raw pointer was stored.
    LanguageReleasedStored { value: String },
    /// A stealing call given a reference the function does not own.
    StolenBorrowed {
        value: String,
        callee: String,
        why: String,
        basis: Basis,
    },
    /// A stealing call given a reference that was already given away.
    StolenTwice {
        value: String,
        callee: String,
        /// The reference was stored in this global of the file before:
        /// the global is left a borrowed pointer.
        global: Option<String>,
    },
    /// A borrowed reference stored into `place` without one of its own.
    StoredBorrowed {
        value: String,
        place: String,
        why: String,
        basis: Basis,
    },
    /// A borrowed reference returned where a new one is expected.
    ReturnedBorrowed {
        value: String,
        why: String,
        basis: Basis,
    },
    /// An error return without an exception; `role` is why the function
    /// must set one ("method `spam.foo`").
    ErrorWithoutException { returns: ErrorReturn, role: String },
    /// A C-API call (or `Py_INCREF`/`Py_DECREF`) while the GIL is released.
    CallWithoutGil { callee: String },
    /// An owning field of an object Python code already holds is
    /// overwritten (or set to NULL) without releasing what it may hold.
    FieldOverwritten {
        /// The field as written (`self->cb`).
        place: String,
        /// The function of the type that releases the field (its
        /// `tp_dealloc` or `tp_clear`).
        released_by: String,
        /// Why the field may hold a reference already ("`tp_init` of
        /// `Watcher`", "method `reset`").
        role: String,
        /// NULL is stored, not a value.
        cleared: bool,
        /// The other fields the function overwrites the same way, with
        /// the line of each: one finding per function.
        also: Vec<(String, u32)>,
    },
}

/// A Cython `<object>` cast that took a reference, in a value that leaks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectCast {
    /// The value was a new reference from this call before the cast.
    pub new_from: Option<String>,
    /// The user's own `Py_INCREF` came before the cast.
    pub after_incref: bool,
}

impl Violation {
    /// The value concerned, as the path names it.
    pub fn value(&self) -> Option<&str> {
        match &self.kind {
            Kind::Lost { value, .. }
            | Kind::ReturnedWithExtra { value, .. }
            | Kind::DeadUse { value, .. }
            | Kind::UsedAfterCodeRan { value, .. }
            | Kind::NullUsed { value, .. }
            | Kind::MaybeNullUsed { value, .. }
            | Kind::ReleasedBorrowed { value, .. }
            | Kind::ReleasedAfterSteal { value, .. }
            | Kind::LanguageReleasedStored { value }
            | Kind::StolenBorrowed { value, .. }
            | Kind::StolenTwice { value, .. }
            | Kind::StoredBorrowed { value, .. }
            | Kind::ReturnedBorrowed { value, .. } => Some(value),
            Kind::Discarded { .. }
            | Kind::FieldOverwritten { .. }
            | Kind::ErrorWithoutException { .. }
            | Kind::CallWithoutGil { .. } => None,
        }
    }
}

/// A name in backquotes without them ("`list`" → "list"), for help lines
/// that show code; `None` for a description ("the new reference from...").
pub fn plain_name(value: &str) -> Option<&str> {
    value.strip_prefix('`').and_then(|s| s.strip_suffix('`'))
}
