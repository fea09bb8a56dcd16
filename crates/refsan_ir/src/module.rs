//! One source file after lowering: its functions plus the file-level facts
//! the rules need (method tables, type slots, object structs, declarations,
//! suppression comments, parse problems).

use crate::contract::{Contract, ContractSource};
use crate::func::{Function, TypeClass};
use crate::span::Span;
use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Language {
    C,
    Cpp,
    Cython,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldDef {
    pub name: String,
    pub c_type: String,
    pub ty: TypeClass,
    /// The language releases this field itself (a Cython `object`
    /// attribute): the type's dealloc need not.
    pub managed: bool,
    pub span: Span,
}

/// A struct definition. `is_object` when it starts with `PyObject_HEAD`
/// (or `PyObject ob_base`, or is a Cython `cdef class`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StructDef {
    /// Every name the struct is known by (tag and typedef names).
    pub names: Vec<String>,
    pub fields: Vec<FieldDef>,
    pub is_object: bool,
    pub span: Span,
}

/// One `{"name", (PyCFunction)func, FLAGS, doc}` entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MethodEntry {
    pub py_name: String,
    pub func: String,
    /// Flag names as written (`METH_VARARGS`, `METH_KEYWORDS`...).
    pub flags: Vec<String>,
    pub span: Span,
}

/// A `PyMethodDef[]` array.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MethodTable {
    pub name: String,
    pub entries: Vec<MethodEntry>,
    pub span: Span,
}

/// A slot filled with one of the file's functions: `tp_dealloc` in a static
/// `PyTypeObject`, `{Py_tp_dealloc, func}` in a `PyType_Slot[]`,
/// `m_traverse` in a `PyModuleDef`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SlotEntry {
    /// Normalised slot name: `tp_dealloc`, `tp_traverse`, `m_clear`...
    pub slot: String,
    /// The value as written (a function name, or a table name for
    /// `tp_methods`).
    pub value: String,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TypeDefKind {
    /// `static PyTypeObject Foo_Type = {...}`.
    Static,
    /// `PyType_Spec` + `PyType_Slot[]`: a heap type.
    Spec,
    /// A Cython `cdef class`.
    CythonClass,
}

/// A Python type defined in the file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TypeDef {
    pub name: String,
    pub kind: TypeDefKind,
    /// The instance struct, from `sizeof(X)` in tp_basicsize/basicsize.
    pub object_struct: Option<String>,
    /// `Py_TPFLAGS_*` names as written.
    pub flags: Vec<String>,
    pub slots: Vec<SlotEntry>,
    pub span: Span,
}

impl TypeDef {
    pub fn slot(&self, name: &str) -> Option<&SlotEntry> {
        self.slots.iter().find(|s| s.slot == name)
    }

    pub fn has_flag(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }
}

/// A `PyModuleDef`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ModuleDef {
    pub name: String,
    pub slots: Vec<SlotEntry>,
    pub span: Span,
}

/// A function declared (not defined) in the file, with what is known about
/// its ownership: a prototype with cpychecker macros, a Cython
/// `cdef extern` declaration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Declaration {
    pub name: String,
    pub returns: TypeClass,
    pub param_count: usize,
    pub contract: Option<(Contract, ContractSource)>,
    pub span: Span,
}

/// `refsan: ignore[RS101,RS102]` (or `ignore` for every rule) on `line`: it
/// silences findings on that line and on the line below.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Suppression {
    pub line: u32,
    /// Empty = every rule.
    pub codes: Vec<String>,
}

/// A variable defined at file scope (`static PyObject *cache;`,
/// `static PyTypeObject Foo_Type = {...};`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GlobalVar {
    pub name: String,
    pub ty: TypeClass,
    /// The type as written ("PyObject *", "PyTypeObject", "int").
    pub c_type: String,
    pub span: Span,
}

/// A region the front-end could not parse; reported as a note, the rest of
/// the file is analysed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub span: Span,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Module {
    pub path: String,
    pub language: Language,
    pub functions: Vec<Function>,
    pub structs: Vec<StructDef>,
    pub method_tables: Vec<MethodTable>,
    pub type_defs: Vec<TypeDef>,
    pub module_defs: Vec<ModuleDef>,
    pub declarations: Vec<Declaration>,
    /// File-scope variables.
    pub globals: Vec<GlobalVar>,
    pub suppressions: Vec<Suppression>,
    pub problems: Vec<Problem>,
    /// Module declares free-threading support (Py_mod_gil = Py_MOD_GIL_NOT_USED).
    pub free_threading: bool,
}

impl Module {
    pub fn new(path: impl Into<String>, language: Language) -> Module {
        Module {
            path: path.into(),
            language,
            functions: Vec::new(),
            structs: Vec::new(),
            method_tables: Vec::new(),
            type_defs: Vec::new(),
            module_defs: Vec::new(),
            declarations: Vec::new(),
            globals: Vec::new(),
            suppressions: Vec::new(),
            problems: Vec::new(),
            free_threading: false,
        }
    }

    pub fn function(&self, name: &str) -> Option<&Function> {
        self.functions.iter().find(|f| f.name == name)
    }

    /// The struct known by `name` (tag or typedef; a trailing `*` and
    /// `struct ` prefix are ignored).
    pub fn struct_named(&self, name: &str) -> Option<&StructDef> {
        let n = name
            .trim()
            .trim_end_matches('*')
            .trim()
            .trim_start_matches("const ")
            .trim_start_matches("struct ")
            .trim();
        self.structs.iter().find(|s| s.names.iter().any(|x| x == n))
    }

    pub fn dump(&self) -> String {
        let mut out = String::new();
        for f in &self.functions {
            out.push_str(&f.dump());
        }
        out
    }
}
