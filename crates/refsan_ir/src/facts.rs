//! The C-API knowledge base as the analysis sees it: a trait, so that the
//! engine depends on no particular store of facts (the knowledge base crate
//! implements it for its data).

use crate::contract::{Behaviour, Contract, GlobalObject};

/// What the knowledge base says about one C-API name.
#[derive(Clone, Copy, Debug)]
pub struct ApiInfo<'a> {
    pub contract: &'a Contract,
    pub is_macro: bool,
    pub added: Option<(u8, u8)>,
    pub removed: Option<(u8, u8)>,
    /// Argument positions that accept NULL besides their effect (a stealing
    /// argument of PyErr_Restore may be NULL).
    pub also_nullable: &'a [usize],
    /// What it does beyond its ownership contract.
    pub behaviour: &'a Behaviour,
}

/// Facts about the names of the C API.
pub trait ApiFacts: Send + Sync {
    /// The function or macro called `name`.
    fn api(&self, name: &str) -> Option<ApiInfo<'_>>;
    /// The interpreter object called `name` (`Py_None`, `PyExc_KeyError`,
    /// `PyList_Type`).
    fn object(&self, name: &str) -> Option<GlobalObject>;
    /// Whether `name` is in the interpreter's namespace (not the project's).
    fn is_interpreter_name(&self, name: &str) -> bool;
    /// Whether field `field` of the interpreter's struct `struct_name`
    /// (`PyTypeObject`) holds a Python object: `Some(true)` for `tp_dict`,
    /// `Some(false)` for `tp_repr` or `tp_flags`, `None` for a struct or a
    /// field it does not know.
    fn struct_field_is_object(&self, struct_name: &str, field: &str) -> Option<bool>;
}
