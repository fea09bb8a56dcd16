//! The C-API knowledge base: for each Python C-API function and macro, what a
//! call does to reference counts, how it reports failure, and since when it
//! exists.
//!
//! # Where the facts come from
//!
//! `data/capi.toml` is generated, checked in, and embedded in the binary
//! ([`KnowledgeBase::builtin`]). The generator
//! (`cargo run -p refsan_capi --bin refsan-capi-gen`) merges three inputs from
//! `data/`:
//!
//! 1. `refcounts-3.11.dat`, CPython's `Doc/data/refcounts.dat`: return
//!    ownership (`+1` new, `0` borrowed, `null` always NULL) and parameter
//!    names. Its parameter column is unreliable (it says `0` for the item
//!    `PyList_SetItem` steals and `-1` for keys `PySet_Discard` only borrows),
//!    it says nothing about failure, and it stops at 3.11.
//! 2. `stable_abi-3.11.toml`, CPython's `Misc/stable_abi.toml`: membership of
//!    the Limited API.
//! 3. `overrides.toml`, curated: where correctness lives. Every entry states
//!    `why`.
//!
//! A unit test regenerates `capi.toml` in memory and fails when the checked-in
//! file is out of date.
//!
//! # `overrides.toml`
//!
//! Two kinds of tables; each must have a non-empty `why`:
//!
//! ```toml
//! [[group]]                          # one fact shared by several functions
//! why = "-1 with an exception set on failure"
//! names = ["PyList_Append", "PyList_Insert"]
//! failure = "neg_one"
//!
//! [function.PyList_SetItem]          # facts about one function
//! why = "steals item even when it fails; refcounts.dat says 0"
//! failure = "neg_one"
//! args = { item = "steal" }
//!
//! [function.PyDict_GetItemRef]       # a function refcounts.dat lacks
//! why = "3.13: 1 found (new ref in *result), 0 absent, -1 error"
//! returns = "not_object"
//! failure = "tri_state"
//! params = ["p", "key", "result"]
//! args = { result = "out_new" }
//! added = "3.13"
//! ```
//!
//! Fields (all optional except `why`):
//!
//! - `returns`: `new`, `borrowed`, `not_object`, `void`, `unknown`;
//! - `failure`: `never`, `null`, `null_no_exc`, `null_maybe_exc`,
//!   `always_null`, `neg_one`, `negative`, `neg_two`, `zero`, `tri_state`,
//!   `ambiguous`, `end`
//!   (see [`refsan_ir::Failure`]);
//! - `exc`: `on_failure` (default), `sets`, `clears`;
//! - `args`: effect by parameter name: `borrow`, `steal`,
//!   `steal_on_success`, `out_new`, `out_new_maybe_null`, `out_borrowed`,
//!   `replace_in_place`, `nullable`;
//! - `nullable`: names of parameters that accept NULL. A borrowed one becomes
//!   `nullable`; any other (a stolen reference, an optional out-pointer)
//!   keeps its effect and is listed in [`ApiEntry::also_nullable`];
//! - `noreturn`, `macro`, `limited`: booleans (`macro` defaults to "the name
//!   after its prefix is in capitals", `limited` to stable_abi.toml);
//! - `added`, `removed`: CPython versions, `"3.13"`;
//! - `params`: parameter names, only for functions refcounts.dat lacks
//!   (varargs are written `"..."`);
//! - `names`: only in a `[[group]]`;
//! - behaviour beyond ownership ([`refsan_ir::Behaviour`]): `runs_code`,
//!   `constructor`, `volatile_item`, `slot_getter`, `reports_exception`,
//!   `matches_exception`, `untracked_result`, `returns_type`, `gc_untrack`
//!   (booleans); `gil` (`needed`, `not_needed`, `releases`, `acquires`);
//!   `keeps`, `nonnull_with_exception` and `outputs_null_with` (parameter
//!   names);
//!   `overwrites_slot_of` (names of getters); `ref_variant` (a name);
//!   `fails_when` (`caller`, the default: something the caller can cause;
//!   `oom`: only running out of memory or an interpreter-internal error;
//!   `oom_if_literal`: `oom` when the first argument is a string literal);
//!   `zero_for_null` (boolean: returns 0 for a NULL first argument);
//!   `succeeds_for` (`[lo, hi]`: cannot fail when the first argument is a
//!   constant in that range); `result_type` (the exact type of the new
//!   object returned: `"bytes"`); `succeeds_on_types` (cannot fail when the
//!   first argument is known to be of one of these exact types);
//!   `tests_type` (a type test: non-zero for an object of that type, zero
//!   for one of another `result_type`);
//!   `validates` (the name of a function that cannot fail, called with the
//!   same arguments, once this predicate returned non-zero).
//!
//! Precedence, field by field: a `[function.NAME]` table wins over groups,
//! which win over what refcounts.dat implies. Two groups may not set the same
//! field of one function. A function absent from refcounts.dat must get
//! `returns` and `failure` from its overrides, which catches misspelt names.
//! Every `PyObject **` parameter in refcounts.dat must have its effect given.
//!
//! What refcounts.dat implies: return `+1` is `new` + `null`, `0` is
//! `borrowed` + `null`, `null` is `new` + `always_null` + `exc = "sets"`,
//! `void` is `void` + `never`, anything else `not_object` + `never`; a
//! parameter marked `-1` is stolen, every other one borrowed.
//!
//! # `capi.toml`
//!
//! One line per function, sorted by name, an inline table whose keys are the
//! merged facts; default values are left out:
//!
//! ```toml
//! PyList_SetItem = { returns = "not_object", failure = "neg_one", args = ["borrow", "borrow", "steal"], limited = true, params = ["list", "index", "item"] }
//! ```
//!
//! Keys: `returns`, `failure` (required), `exc` (default `on_failure`),
//! `args` (effects by position, trailing borrows left out), `also_nullable`
//! (positions), `noreturn`, `macro`, `limited` (default false), `added`,
//! `removed` (versions), `params` (names), and the behaviour keys of the
//! overrides with positions in place of parameter names.

mod generate;
mod overrides;
mod record;
pub mod refcounts;
mod stable_abi;

use std::collections::HashMap;
use std::sync::OnceLock;

use refsan_ir::{ApiFacts, ApiInfo, ArgEffect, Behaviour, Contract, GlobalObject};

pub use generate::{generate, merge, render, Sources, REGENERATE_COMMAND};
pub use stable_abi::limited_api_names;

/// What the knowledge base knows about one function or macro.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiEntry {
    pub name: String,
    pub contract: Contract,
    /// A function-like macro (`PyTuple_GET_ITEM`, `Py_INCREF`).
    pub is_macro: bool,
    /// First CPython version having it; `None`: 3.6 or earlier.
    pub added: Option<(u8, u8)>,
    /// First CPython version without it.
    pub removed: Option<(u8, u8)>,
    /// Part of the Limited API (stable_abi.toml, or overrides for newer ones).
    pub limited_api: bool,
    /// Parameter names, from refcounts.dat or the overrides; may be empty.
    pub param_names: Vec<String>,
    /// Positions that accept NULL although their effect is not
    /// [`ArgEffect::Nullable`]: a `Contract` holds one effect per position,
    /// so "steals, and NULL is fine" (`PyErr_Restore`, `Py_XDECREF`) or "an
    /// optional out-pointer" (`PyDict_Pop`'s `result`) keep their ownership
    /// effect there and their NULL-acceptance here.
    pub also_nullable: Vec<usize>,
    /// What the function does beyond its ownership contract.
    pub behaviour: Behaviour,
}

impl ApiEntry {
    /// Whether argument `position` may be NULL.
    pub fn accepts_null(&self, position: usize) -> bool {
        self.contract.arg(position) == ArgEffect::Nullable || self.also_nullable.contains(&position)
    }

    /// Whether the entry exists in CPython `version`.
    pub fn available_in(&self, version: (u8, u8)) -> bool {
        let added_by_then = !matches!(self.added, Some(added) if added > version);
        let not_yet_removed = !matches!(self.removed, Some(removed) if removed <= version);
        added_by_then && not_yet_removed
    }
}

/// Errors reading knowledge-base data.
#[derive(Debug, thiserror::Error)]
pub enum KbError {
    #[error("{file}: {message}")]
    Toml { file: &'static str, message: String },
    #[error("refcounts.dat line {line}: {message}")]
    Refcounts { line: usize, message: String },
    #[error("`{entry}`: {message}")]
    Invalid { entry: String, message: String },
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Several(Vec<KbError>),
}

/// All entries, with a hash index by name.
#[derive(Debug)]
pub struct KnowledgeBase {
    entries: Vec<ApiEntry>,
    /// Looked up for every call the engine follows: a fast hash.
    by_name: rustc_hash::FxHashMap<String, usize>,
}

impl KnowledgeBase {
    /// The knowledge base shipped in `data/capi.toml`, parsed on first use.
    pub fn builtin() -> &'static KnowledgeBase {
        static BUILTIN: OnceLock<KnowledgeBase> = OnceLock::new();
        BUILTIN.get_or_init(|| match KnowledgeBase::from_toml_str(BUILTIN_DATA) {
            Ok(kb) => kb,
            // The embedded file is checked by this crate's tests; reaching
            // this means the binary was built from a broken checkout.
            Err(error) => panic!("embedded data/capi.toml is invalid: {error}"),
        })
    }

    pub fn get(&self, name: &str) -> Option<&ApiEntry> {
        self.by_name.get(name).map(|&index| &self.entries[index])
    }

    /// Entries sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = &ApiEntry> {
        self.entries.iter()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Reads data in the `capi.toml` format.
    pub fn from_toml_str(text: &str) -> Result<KnowledgeBase, KbError> {
        let records: HashMap<String, record::EntryRecord> =
            toml::from_str(text).map_err(|error| KbError::Toml {
                file: "capi.toml",
                message: error.to_string(),
            })?;
        let entries = records
            .into_iter()
            .map(|(name, record)| entry_from_record(name, record))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(KnowledgeBase::from_entries(entries))
    }

    /// Builds a knowledge base from entries (later duplicates win).
    pub fn from_entries(mut entries: Vec<ApiEntry>) -> KnowledgeBase {
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        entries.dedup_by(|later, earlier| {
            if later.name == earlier.name {
                std::mem::swap(later, earlier);
                true
            } else {
                false
            }
        });
        let by_name = entries
            .iter()
            .enumerate()
            .map(|(index, entry)| (entry.name.clone(), index))
            .collect();
        KnowledgeBase { entries, by_name }
    }
}

const BUILTIN_DATA: &str = include_str!("../data/capi.toml");

impl ApiFacts for KnowledgeBase {
    fn api(&self, name: &str) -> Option<ApiInfo<'_>> {
        self.get(name).map(|e| ApiInfo {
            contract: &e.contract,
            is_macro: e.is_macro,
            added: e.added,
            removed: e.removed,
            also_nullable: &e.also_nullable,
            behaviour: &e.behaviour,
        })
    }

    fn object(&self, name: &str) -> Option<GlobalObject> {
        object(name)
    }

    fn is_interpreter_name(&self, name: &str) -> bool {
        is_interpreter_name(name)
    }

    fn struct_field_is_object(&self, struct_name: &str, field: &str) -> Option<bool> {
        struct_field_is_object(struct_name, field)
    }
}

fn entry_from_record(name: String, record: record::EntryRecord) -> Result<ApiEntry, KbError> {
    if !record::is_c_identifier(&name) {
        return Err(KbError::Invalid {
            entry: name,
            message: "not a C identifier".to_string(),
        });
    }
    let version = |text: &Option<String>| {
        text.as_deref()
            .map(|t| record::parse_version(&name, t))
            .transpose()
    };
    let added = version(&record.added)?;
    let removed = version(&record.removed)?;
    if let (Some(added), Some(removed)) = (added, removed) {
        if removed <= added {
            return Err(KbError::Invalid {
                entry: name,
                message: "`removed` must come after `added`".to_string(),
            });
        }
    }
    let behaviour = record.behaviour();
    Ok(ApiEntry {
        behaviour,
        contract: Contract {
            returns: record.returns.into(),
            failure: record.failure.into(),
            args: record.args.into_iter().map(ArgEffect::from).collect(),
            exc: record.exc.into(),
            noreturn: record.noreturn,
        },
        is_macro: record.is_macro,
        added,
        removed,
        limited_api: record.limited,
        param_names: record.params,
        also_nullable: record.also_nullable,
        name,
    })
}

/// An object that exists once per interpreter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Singleton {
    pub name: &'static str,
    /// Since this version its reference count is pinned (PEP 683), so a
    /// missing INCREF is harmless at run time, yet still a bug for older
    /// targets.
    pub immortal_since: (u8, u8),
}

const IMMORTAL_SINCE: (u8, u8) = (3, 12);

/// The singleton objects, by the names C code uses for them: the
/// `Py_None`-style macros and the structures they expand to.
const SINGLETONS: &[&str] = &[
    "Py_None",
    "Py_True",
    "Py_False",
    "Py_NotImplemented",
    "Py_Ellipsis",
    "_Py_NoneStruct",
    "_Py_TrueStruct",
    "_Py_FalseStruct",
    "_Py_NotImplementedStruct",
    "_Py_EllipsisObject",
];

/// The interpreter's structs whose fields extension code reads and writes,
/// by every name C code uses for them, with their fields (CPython 3.11's
/// `Include/object.h` and `Include/cpython/object.h`) and which of those
/// hold a Python object. Knowing that `type->tp_repr` is a function pointer
/// keeps the analysis from tracking it as an object that may be NULL.
const STRUCTS: &[(&[&str], &[&str], &[&str])] = &[
    (
        &[
            "PyTypeObject",
            "_typeobject",
            "PyHeapTypeObject",
            "_heaptypeobject",
        ],
        &[
            "ob_refcnt",
            "ob_type",
            "ob_size",
            "ob_base",
            "tp_name",
            "tp_basicsize",
            "tp_itemsize",
            "tp_dealloc",
            "tp_vectorcall_offset",
            "tp_getattr",
            "tp_setattr",
            "tp_as_async",
            "tp_repr",
            "tp_as_number",
            "tp_as_sequence",
            "tp_as_mapping",
            "tp_hash",
            "tp_call",
            "tp_str",
            "tp_getattro",
            "tp_setattro",
            "tp_as_buffer",
            "tp_flags",
            "tp_doc",
            "tp_traverse",
            "tp_clear",
            "tp_richcompare",
            "tp_weaklistoffset",
            "tp_iter",
            "tp_iternext",
            "tp_methods",
            "tp_members",
            "tp_getset",
            "tp_base",
            "tp_dict",
            "tp_descr_get",
            "tp_descr_set",
            "tp_dictoffset",
            "tp_init",
            "tp_alloc",
            "tp_new",
            "tp_free",
            "tp_is_gc",
            "tp_bases",
            "tp_mro",
            "tp_cache",
            "tp_subclasses",
            "tp_weaklist",
            "tp_del",
            "tp_version_tag",
            "tp_finalize",
            "tp_vectorcall",
        ],
        &[
            "ob_type",
            "tp_base",
            "tp_dict",
            "tp_bases",
            "tp_mro",
            "tp_cache",
            "tp_subclasses",
            "tp_weaklist",
        ],
    ),
    (
        &["PyObject", "_object", "PyVarObject"],
        &["ob_refcnt", "ob_type", "ob_size", "ob_base"],
        &["ob_type"],
    ),
];

/// Whether field `field` of the interpreter's struct `struct_name` holds a
/// Python object (see [`STRUCTS`]); `None` when either is unknown.
pub fn struct_field_is_object(struct_name: &str, field: &str) -> Option<bool> {
    let (_, fields, objects) = STRUCTS
        .iter()
        .find(|(names, ..)| names.contains(&struct_name))?;
    fields.contains(&field).then(|| objects.contains(&field))
}

/// The prefixes of every name `Python.h` defines ("All user visible names
/// defined by Python.h ... have one of the prefixes Py or _Py", the C API
/// documentation's introduction): a function so named is the
/// interpreter's, not the project's.
pub const RESERVED_PREFIXES: [&str; 2] = ["Py", "_Py"];

/// Whether `name` belongs to the interpreter's namespace.
pub fn is_interpreter_name(name: &str) -> bool {
    RESERVED_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// The interpreter object `name` denotes: a singleton; a standard exception
/// (documented as the globals `PyExc_` + the exception's name); a static
/// type object (the interpreter names them `Py..._Type` / `_Py..._Type`).
pub fn object(name: &str) -> Option<GlobalObject> {
    if let Some(s) = singleton(name) {
        return Some(GlobalObject::Singleton {
            immortal_since: s.immortal_since,
        });
    }
    if name.starts_with("PyExc_") {
        return Some(GlobalObject::Exception);
    }
    (is_interpreter_name(name) && name.ends_with("_Type")).then_some(GlobalObject::Type)
}

/// The singleton called `name`, if it is one.
pub fn singleton(name: &str) -> Option<Singleton> {
    SINGLETONS
        .iter()
        .find(|&&known| known == name)
        .map(|&name| Singleton {
            name,
            immortal_since: IMMORTAL_SINCE,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use refsan_ir::{ExcEffect, Failure, Returns};

    #[test]
    fn checked_in_capi_toml_is_up_to_date() {
        let generated = match generate(&Sources::shipped()) {
            Ok(text) => text,
            Err(error) => panic!("the shipped data does not merge:\n{error}"),
        };
        assert!(
            generated == BUILTIN_DATA,
            "data/capi.toml is out of date with overrides.toml or refcounts.dat; \
             run `{REGENERATE_COMMAND}` and commit data/capi.toml"
        );
    }

    #[test]
    fn loader_reads_back_what_the_generator_merged() {
        let merged = merge(&Sources::shipped()).expect("shipped data merges");
        let loaded = KnowledgeBase::from_toml_str(&render(&merged)).expect("rendered data loads");
        assert_eq!(loaded.len(), merged.len());
        for (loaded, merged) in loaded.iter().zip(&merged) {
            assert_eq!(loaded, merged);
        }
    }

    #[test]
    fn malformed_data_is_an_error_not_a_panic() {
        let cases = [
            ("PyFoo = {", "capi.toml"),
            ("PyFoo = { failure = \"null\" }", "missing field `returns`"),
            ("PyFoo = { returns = \"owned\", failure = \"null\" }", "unknown variant `owned`"),
            ("PyFoo = { returns = \"new\", failure = \"null\", args = [\"keep\"] }", "unknown variant `keep`"),
            ("PyFoo = { returns = \"new\", failure = \"null\", colour = 1 }", "unknown field `colour`"),
            ("PyFoo = { returns = \"new\", failure = \"null\", added = \"3.x\" }", "MAJOR.MINOR"),
            ("PyFoo = { returns = \"new\", failure = \"null\", added = \"3.13\", removed = \"3.12\" }", "after `added`"),
            ("\"Py Foo\" = { returns = \"new\", failure = \"null\" }", "not a C identifier"),
            ("PyFoo = 3", "capi.toml"),
            ("PyFoo = { returns = \"new\", failure = \"null\" }\nPyFoo = { returns = \"new\", failure = \"null\" }", "capi.toml"),
        ];
        for (text, needle) in cases {
            match KnowledgeBase::from_toml_str(text) {
                Ok(_) => panic!("{text:?} was accepted"),
                Err(error) => assert!(error.to_string().contains(needle), "{text:?}: {error}"),
            }
        }
    }

    #[test]
    fn custom_data_with_defaults() {
        let kb = KnowledgeBase::from_toml_str(
            "PyFoo_New = { returns = \"new\", failure = \"null\" }\n\
             PyFoo_Set = { returns = \"not_object\", failure = \"neg_one\", args = [\"borrow\", \"steal\"], \
             also_nullable = [1], removed = \"3.13\", macro = true, limited = true, params = [\"o\", \"v\"] }\n",
        )
        .expect("valid data");
        assert_eq!(kb.len(), 2);
        let new = kb.get("PyFoo_New").expect("present");
        assert_eq!(new.contract.returns, Returns::New);
        assert_eq!(new.contract.exc, ExcEffect::OnFailure);
        assert!(!new.is_macro && !new.limited_api && !new.contract.noreturn);
        assert_eq!((new.added, new.removed), (None, None));
        let set = kb.get("PyFoo_Set").expect("present");
        assert_eq!(set.contract.failure, Failure::NegOne);
        assert_eq!(set.contract.arg(1), ArgEffect::Steal);
        assert!(set.accepts_null(1) && !set.accepts_null(0));
        assert!(set.available_in((3, 12)) && !set.available_in((3, 13)));
        assert!(set.is_macro && set.limited_api);
        assert_eq!(set.param_names, ["o", "v"]);
        assert!(kb.get("PyFoo_Missing").is_none());
        let names: Vec<_> = kb.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["PyFoo_New", "PyFoo_Set"]);
    }

    #[test]
    fn singletons() {
        for name in [
            "Py_None",
            "Py_True",
            "Py_False",
            "Py_NotImplemented",
            "Py_Ellipsis",
            "_Py_NoneStruct",
        ] {
            let found = singleton(name).expect(name);
            assert_eq!(found.name, name);
            assert_eq!(found.immortal_since, (3, 12));
        }
        assert!(singleton("Py_Nothing").is_none());
        assert_eq!(object("PyExc_KeyError"), Some(GlobalObject::Exception));
        assert_eq!(object("PyList_Type"), Some(GlobalObject::Type));
        assert_eq!(object("_PyNone_Type"), Some(GlobalObject::Type));
        assert_eq!(object("Foo_Type"), None);
        assert!(matches!(
            object("Py_None"),
            Some(GlobalObject::Singleton { .. })
        ));
        assert!(singleton("PyList_New").is_none());
    }
}
