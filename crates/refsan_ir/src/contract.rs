//! Ownership contracts of functions: what a call does to reference counts.
//!
//! The same type describes a C-API function (knowledge base), a project
//! annotation (pyproject.toml, cpychecker macros, Cython comments) and a
//! summary the engine computed for one of the module's own functions.

use serde::Serialize;

/// What a function returns, from the caller's point of view.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Returns {
    /// A new (owned) reference: the caller must release it.
    New,
    /// A borrowed reference: valid while its owner keeps it.
    Borrowed,
    /// Not a Python object (int, pointer to non-object, ...).
    NotObject,
    /// Nothing.
    Void,
    /// A PyObject* whose ownership nobody has stated.
    Unknown,
}

/// How the function reports failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Failure {
    /// It cannot fail (macros like PyTuple_GET_ITEM, Py_NewRef).
    Never,
    /// NULL with an exception set.
    Null,
    /// NULL means "absent", without an exception (PyDict_GetItem).
    NullNoExc,
    /// NULL either for "absent" or with an exception (PyDict_GetItemWithError,
    /// PyIter_Next): the caller must check PyErr_Occurred.
    NullMaybeExc,
    /// Always returns NULL with an exception set (PyErr_Format, PyErr_NoMemory).
    AlwaysNull,
    /// -1 (negative) with an exception set; 0 on success (a status:
    /// `PyList_Append`, `PyModule_AddObject`).
    NegOne,
    /// -1 (negative) with an exception set; on success any value from 0 up
    /// (a size, an index, a count, a hash: `PyObject_Size`).
    Negative,
    /// -2 with an exception set; -1 and up are values (an index, -1 for
    /// "not found": PyUnicode_Find, PyUnicode_FindChar).
    NegTwo,
    /// 0 with an exception set; non-zero on success (PyArg_ParseTuple).
    Zero,
    /// -1 with an exception, 0 for false/absent, 1 for true/present
    /// (PyObject_IsTrue, PyDict_Contains, PyDict_GetItemRef).
    TriState,
    /// -1 is both an error and a valid value; the caller checks
    /// PyErr_Occurred (PyLong_AsLong).
    Ambiguous,
    /// An iteration step: non-zero with its out-pointers written, 0 at the
    /// end with nothing written and no exception; it cannot fail
    /// (PyDict_Next).
    End,
}

/// What the function does with one argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ArgEffect {
    /// Borrows it for the call (the default).
    Borrow,
    /// Steals the reference whatever happens.
    Steal,
    /// Steals the reference only when the call succeeds (PyModule_AddObject).
    StealOnSuccess,
    /// Steals the reference only when the call fails (helpers that release
    /// their argument on their error path).
    StealOnFailure,
    /// `PyObject **`: receives a new reference on success, NULL otherwise
    /// (PyDict_GetItemRef, PyWeakref_GetRef).
    OutNew,
    /// `PyObject **`: receives a new reference or NULL (PyErr_Fetch), and
    /// NULL when the call fails (PyContextVar_Get).
    OutNewMaybeNull,
    /// `PyObject **`: receives a borrowed reference on success (PyDict_Next).
    OutBorrowed,
    /// `PyObject **`: the pointed-to reference is released and replaced by a
    /// new one, or by NULL on failure (PyUnicode_Append, _PyTuple_Resize).
    ReplaceInPlace,
    /// Accepts NULL (Py_XDECREF, PyObject_Call's kwargs).
    Nullable,
}

/// Effect of a call on the thread's exception state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExcEffect {
    /// Sets an exception only when it fails (as `Failure` says).
    OnFailure,
    /// Always sets an exception (PyErr_SetString).
    Sets,
    /// Clears it (PyErr_Clear, PyErr_Fetch).
    Clears,
}

/// The ownership contract of one function.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Contract {
    pub returns: Returns,
    pub failure: Failure,
    /// Effects by parameter position; positions past the end borrow.
    pub args: Vec<ArgEffect>,
    pub exc: ExcEffect,
    /// Never returns (Py_FatalError, abort).
    pub noreturn: bool,
}

impl Contract {
    /// A function we know nothing about: borrows its arguments, returns
    /// something of unknown ownership, may fail in unknown ways.
    pub fn unknown() -> Contract {
        Contract {
            returns: Returns::Unknown,
            failure: Failure::Never,
            args: Vec::new(),
            exc: ExcEffect::OnFailure,
            noreturn: false,
        }
    }

    pub fn new_ref() -> Contract {
        Contract {
            returns: Returns::New,
            failure: Failure::Null,
            ..Contract::unknown()
        }
    }

    pub fn arg(&self, i: usize) -> ArgEffect {
        self.args.get(i).copied().unwrap_or(ArgEffect::Borrow)
    }

    /// Sets argument `i`'s effect, growing the list with `Borrow`.
    pub fn set_arg(&mut self, i: usize, effect: ArgEffect) {
        if self.args.len() <= i {
            self.args.resize(i + 1, ArgEffect::Borrow);
        }
        self.args[i] = effect;
    }

    pub fn steals_any(&self) -> bool {
        self.args.iter().any(|a| {
            matches!(
                a,
                ArgEffect::Steal | ArgEffect::StealOnSuccess | ArgEffect::StealOnFailure
            )
        })
    }
}

/// Where a contract came from, strongest first. Reported with findings that
/// depend on it, so users can see why refsan believes what it believes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ContractSource {
    /// `[tool.refsan]` in pyproject.toml.
    ProjectConfig,
    /// An explicit annotation in the source (cpychecker macro, `# refsan:`).
    Annotation,
    /// The C-API knowledge base.
    KnowledgeBase,
    /// Computed from the function's own body.
    Summary,
    /// A declaration's type (Cython `object` return).
    Declaration,
    /// Words in a comment ("new reference", "borrowed"): weakest.
    CommentHeuristic,
}

/// What a function needs of, or does to, the GIL.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Gil {
    /// Must be called with the GIL held (the C API's rule).
    #[default]
    Needed,
    /// Documented as safe without the GIL (`PyMem_RawMalloc`).
    NotNeeded,
    /// Releases it (`PyEval_SaveThread`).
    Releases,
    /// Takes it back (`PyEval_RestoreThread`, `PyGILState_Ensure`).
    Acquires,
}

/// What a C-API function does beyond its ownership [`Contract`]: the facts
/// the analysis and the rules need about it, from the knowledge base.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize)]
pub struct Behaviour {
    /// May run arbitrary Python code (`__eq__`, `__hash__`, `__del__`, a
    /// callback, an import), which can mutate any container.
    pub runs_code: bool,
    /// Returns a new object nobody else refers to yet.
    pub constructor: bool,
    /// Arguments the first argument (a container) keeps a reference of its
    /// own to (`PyList_Append`'s item).
    pub keeps: Vec<usize>,
    /// Its borrowed result is an item of a mutable container (dict, list)
    /// that Python code can remove and free.
    pub volatile_item: bool,
    /// Reads an item slot that a `*_SET_ITEM` can overwrite.
    pub slot_getter: bool,
    /// Overwrites the item slot these getters read (`PyList_SET_ITEM`:
    /// `PyList_GET_ITEM`, `PyList_GetItem`).
    pub overwrites_slot_of: Vec<String>,
    pub gil: Gil,
    /// Returns the pending exception: non-NULL exactly when one is set
    /// (`PyErr_Occurred`).
    pub reports_exception: bool,
    /// Tests the pending exception (`PyErr_ExceptionMatches`): it can
    /// return non-zero only when one is set.
    pub matches_exception: bool,
    /// Its result is no reference to track (`PyModuleDef_Init` returns the
    /// static definition it was given).
    pub untracked_result: bool,
    /// Its result is the object's own reference to its type (`Py_TYPE`).
    pub returns_type: bool,
    /// Out-pointer arguments written non-NULL when an exception is set
    /// (`PyErr_Fetch`'s type).
    pub nonnull_with_exception: Vec<usize>,
    /// Out-pointer arguments that, found NULL, mean every out-pointer
    /// argument was written NULL (`PyErr_Fetch`'s type: no exception).
    pub outputs_null_with: Vec<usize>,
    /// Untracks an object from the garbage collector.
    pub gc_untrack: bool,
    /// Returns a borrowed reference that is unsafe in a free-threaded
    /// build; the function to use instead.
    pub ref_variant: Option<String>,
    /// Driven by a format string (`PyArg_ParseTuple`, `Py_BuildValue`,
    /// `PyUnicode_FromFormat`).
    pub format: Option<FormatSpec>,
    /// What can make it fail.
    pub fails_when: FailsWhen,
    /// Returns 0 when its first argument is NULL, which it accepts
    /// (`PyCallable_Check`).
    pub zero_for_null: bool,
    /// Cannot fail when its first argument is a constant in this range
    /// (`PyTuple_New(0)` returns the empty tuple, `PyLong_FromLong(1)` a
    /// cached small int: both always exist).
    pub succeeds_for: Option<(i64, i64)>,
    /// Cannot fail when its first argument is an object of one of these
    /// exact types, named as in [`Behaviour::result_type`]
    /// (`PyBytes_AsString` of a bytes object).
    pub succeeds_on_types: Vec<String>,
    /// The exact type of the new object it returns (`"bytes"` for
    /// `PyBytes_FromStringAndSize`).
    pub result_type: Option<String>,
    /// A type test (`PyBytes_Check`): non-zero for an object of this type,
    /// named as in [`Behaviour::result_type`], zero for one of another of
    /// those exact built-in types.
    pub tests_type: Option<String>,
    /// A predicate: once it returned non-zero, the named function called
    /// with the same arguments cannot fail (`PyCapsule_IsValid` validates
    /// `PyCapsule_GetPointer`).
    pub validates: Option<String>,
}

/// What can make a C-API function fail (see [`crate::Trigger`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailsWhen {
    /// Something the caller can cause (a wrong argument, Python code it
    /// runs, a missing key or attribute, an import): the default.
    #[default]
    Caller,
    /// Only running out of memory or an interpreter-internal error
    /// (`PyList_New`, `PyModule_AddObject`).
    Oom,
    /// Only running out of memory when its first argument is a string
    /// literal; otherwise the text may not decode (`PyUnicode_FromString`).
    OomIfLiteral,
}

/// How a format-driven API reads its variable arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FormatStyle {
    /// `PyArg_Parse*`: the format's units write to the outputs.
    Parse,
    /// `Py_BuildValue`, `PyObject_CallFunction`: the units read the values
    /// ("N" steals one).
    Build,
    /// `PyArg_UnpackTuple`: every output receives a borrowed reference.
    Unpack,
    /// `PyUnicode_FromFormat`, `PyErr_Format`: printf-like.
    Printf,
}

/// Where a format-driven API's format string and variable arguments are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct FormatSpec {
    pub style: FormatStyle,
    /// The position of the format string (none for `Unpack`).
    pub format_arg: Option<usize>,
    /// The position of the first variable argument.
    pub varargs: usize,
}

/// An object of the interpreter that C code names directly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GlobalObject {
    /// `Py_None` and its kin: one object per interpreter, immortal since
    /// the given version (PEP 683).
    Singleton { immortal_since: (u8, u8) },
    /// `PyExc_TypeError`: a pointer to an exception class that lives as long
    /// as the interpreter, never NULL.
    Exception,
    /// `PyList_Type`: a static type object, never freed.
    Type,
}
