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

/// One `{"name", getter, setter, doc, closure}` entry of a `PyGetSetDef[]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GetSetEntry {
    pub py_name: String,
    pub getter: Option<String>,
    pub setter: Option<String>,
    pub span: Span,
}

/// A `PyGetSetDef[]` array.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GetSetTable {
    pub name: String,
    pub entries: Vec<GetSetEntry>,
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
    /// Calling it never sets nor clears a Python exception (a Cython
    /// `cdef extern` function without an `except` clause).
    pub noexcept: bool,
    pub span: Span,
}

/// A suppression comment, on `line`:
///
/// - `refsan: ignore[RS101, RS102]` (or `refsan: ignore` for every rule)
///   silences findings on its line and on the line below;
/// - `refsan: ignore-file[RS101]` silences them anywhere in the file;
/// - `refsan: ignore-begin[RS101]` ... `refsan: ignore-end` silences them on
///   the lines between (both included).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Suppression {
    pub line: u32,
    /// Empty = every rule.
    pub codes: Vec<String>,
    pub scope: SuppressionScope,
    /// The comment's marker (`refsan: ignore[...]`).
    pub span: Span,
}

/// What a suppression comment covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SuppressionScope {
    /// Its line and the line below.
    Line,
    /// The whole file.
    File,
    /// Opens a region closed by the next `End`.
    Begin,
    /// Closes the region the last `Begin` opened.
    End,
}

/// One suppression marker in a comment's text: its byte offset in the
/// comment, what it covers and the codes it names (upper-cased; empty =
/// every rule). The one reader of the syntax, for every front-end.
pub fn parse_suppressions(comment: &str) -> Vec<(usize, SuppressionScope, Vec<String>)> {
    const MARKER: &str = "refsan:";
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(p) = comment[from..].find(MARKER) {
        let at = from + p;
        from = at + MARKER.len();
        let rest = comment[from..].trim_start_matches([' ', '\t']);
        let word_len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            .unwrap_or(rest.len());
        let scope = match &rest[..word_len] {
            "ignore" => SuppressionScope::Line,
            "ignore-file" => SuppressionScope::File,
            "ignore-begin" => SuppressionScope::Begin,
            "ignore-end" => SuppressionScope::End,
            _ => continue,
        };
        let after = rest[word_len..].trim_start_matches([' ', '\t']);
        let mut codes = Vec::new();
        if let Some(inner) = after.strip_prefix('[') {
            if let Some(close) = inner.find(']') {
                codes = inner[..close]
                    .split([',', ' '])
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(str::to_ascii_uppercase)
                    .collect();
            }
        }
        out.push((at, scope, codes));
    }
    out
}

impl Suppression {
    /// Whether the comment names `code` (or every rule).
    pub fn names(&self, code: &str) -> bool {
        self.codes.is_empty() || self.codes.iter().any(|c| c.eq_ignore_ascii_case(code))
    }
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
    pub getset_tables: Vec<GetSetTable>,
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
    /// The suppression comment that silences a finding of `code` on `line`,
    /// if any (by its index in `suppressions`). For a region, the index of
    /// its `Begin`.
    pub fn suppression_for(&self, code: &str, line: u32) -> Option<usize> {
        let mut open: Option<usize> = None;
        for (i, s) in self.suppressions.iter().enumerate() {
            match s.scope {
                SuppressionScope::Line
                    if s.names(code) && (s.line == line || s.line + 1 == line) =>
                {
                    return Some(i);
                }
                SuppressionScope::File if s.names(code) => return Some(i),
                SuppressionScope::Begin => open = Some(i),
                SuppressionScope::End => {
                    if let Some(b) = open.take() {
                        let begin = &self.suppressions[b];
                        if begin.names(code) && (begin.line..=s.line).contains(&line) {
                            return Some(b);
                        }
                    }
                }
                _ => {}
            }
        }
        // A region left open runs to the end of the file.
        open.filter(|b| {
            let begin = &self.suppressions[*b];
            begin.names(code) && begin.line <= line
        })
    }

    pub fn new(path: impl Into<String>, language: Language) -> Module {
        Module {
            path: path.into(),
            language,
            functions: Vec::new(),
            structs: Vec::new(),
            method_tables: Vec::new(),
            getset_tables: Vec::new(),
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
        let n = struct_name(name);
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

/// The struct a C type names or points to: `const struct foo *` is `foo`.
pub fn struct_name(c_type: &str) -> &str {
    c_type
        .trim()
        .trim_end_matches('*')
        .trim()
        .trim_start_matches("const ")
        .trim_start_matches("struct ")
        .trim()
}

#[cfg(test)]
mod suppression_tests {
    use super::*;

    fn scopes(text: &str) -> Vec<(SuppressionScope, Vec<String>)> {
        parse_suppressions(text)
            .into_iter()
            .map(|(_, scope, codes)| (scope, codes))
            .collect()
    }

    #[test]
    fn the_comment_forms() {
        assert_eq!(
            scopes("# refsan: ignore"),
            vec![(SuppressionScope::Line, vec![])]
        );
        assert_eq!(
            scopes("/* refsan: ignore[RS101, rs402] */"),
            vec![(
                SuppressionScope::Line,
                vec!["RS101".to_string(), "RS402".to_string()]
            )]
        );
        assert_eq!(
            scopes("// refsan: ignore-file[RS110]"),
            vec![(SuppressionScope::File, vec!["RS110".to_string()])]
        );
        assert_eq!(scopes("refsan: ignore-begin")[0].0, SuppressionScope::Begin);
        assert_eq!(scopes("refsan: ignore-end")[0].0, SuppressionScope::End);
        assert!(scopes("# refsan: returns new").is_empty());
        assert!(scopes("# refsan: ignored").is_empty());
        assert!(scopes("# nothing").is_empty());
    }

    #[test]
    fn what_each_form_covers() {
        let mut m = Module::new("m.c", Language::C);
        let s = |line, scope, codes: &[&str]| Suppression {
            line,
            scope,
            span: Span::default(),
            codes: codes.iter().map(ToString::to_string).collect(),
        };
        m.suppressions = vec![
            s(3, SuppressionScope::Line, &["RS101"]),
            s(10, SuppressionScope::Begin, &[]),
            s(12, SuppressionScope::End, &[]),
            s(20, SuppressionScope::File, &["RS110"]),
            s(30, SuppressionScope::Begin, &["RS102"]),
        ];
        assert_eq!(m.suppression_for("RS101", 3), Some(0));
        assert_eq!(m.suppression_for("RS101", 4), Some(0));
        assert_eq!(m.suppression_for("RS101", 5), None);
        assert_eq!(m.suppression_for("RS102", 3), None);
        assert_eq!(m.suppression_for("RS103", 11), Some(1));
        assert_eq!(m.suppression_for("RS103", 13), None);
        assert_eq!(m.suppression_for("RS110", 1), Some(3));
        assert_eq!(m.suppression_for("RS102", 99), Some(4));
        assert_eq!(m.suppression_for("RS101", 99), None);
    }
}
