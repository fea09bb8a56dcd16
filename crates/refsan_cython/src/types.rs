//! What a declared type means for ownership: a Python object Cython
//! refcounts itself (`object`, `list`, a `cdef class`), a raw `PyObject *`
//! nobody refcounts for you, or a plain C value.

use crate::ast::CType;
use refsan_ir::TypeClass;
use std::collections::{HashMap, HashSet};

/// The ownership class of a variable, parameter, attribute or result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VClass {
    /// `object` or a Python type: Cython takes and releases references.
    Managed,
    /// `PyObject *` (or another object struct pointer): a borrowed-or-owned
    /// raw pointer the programmer manages.
    Raw,
    /// `PyObject **`.
    RawPtrPtr,
    /// Anything else.
    C(TypeClass),
}

impl VClass {
    pub fn type_class(self) -> TypeClass {
        match self {
            VClass::Managed | VClass::Raw => TypeClass::Object,
            VClass::RawPtrPtr => TypeClass::ObjectPtrPtr,
            VClass::C(t) => t,
        }
    }

    pub fn is_object(self) -> bool {
        matches!(self, VClass::Managed | VClass::Raw)
    }
}

/// Python types Cython refcounts when used as C-level types.
const PYTHON_TYPES: &[&str] = &[
    "object",
    "list",
    "dict",
    "tuple",
    "set",
    "frozenset",
    "str",
    "bytes",
    "unicode",
    "bytearray",
    "basestring",
    "type",
    "slice",
    "memoryview",
    "bool",
    "BaseException",
    "Exception",
    // cpython.datetime's extension types.
    "datetime",
    "date",
    "time",
    "timedelta",
    "tzinfo",
    // numpy's.
    "ndarray",
    "dtype",
    "broadcast",
    "flatiter",
];

const C_INT_TYPES: &[&str] = &[
    "char",
    "short",
    "int",
    "long",
    "long long",
    "unsigned",
    "signed",
    "bint",
    "size_t",
    "ssize_t",
    "Py_ssize_t",
    "Py_hash_t",
    "Py_UCS1",
    "Py_UCS2",
    "Py_UCS4",
    "Py_UNICODE",
    "Py_intptr_t",
    "Py_uintptr_t",
    "ptrdiff_t",
    "intptr_t",
    "uintptr_t",
    "off_t",
    "time_t",
    "wchar_t",
    "PyGILState_STATE",
    "PyLockStatus",
    "DEF",
];

const C_OTHER_TYPES: &[&str] = &[
    "float",
    "double",
    "long double",
    "float complex",
    "double complex",
    "long double complex",
    "Py_complex",
    "Py_buffer",
    "PyObject",
    "PyTypeObject",
    "va_list",
    "FILE",
    // Cython's built-in fused types.
    "floating",
    "integral",
    "numeric",
    "number",
];

/// What the file declares about type names.
#[derive(Clone, Debug, Default)]
pub struct TypeEnv {
    /// `cdef class` / `class` / `ctypedef class` names: Python objects.
    pub classes: HashSet<String>,
    /// `ctypedef`, `struct`, `enum`, `fused` names with their class.
    pub c_types: HashMap<String, VClass>,
    /// `from libcpp cimport bool`: `bool` is C++'s.
    pub cpp_bool: bool,
}

impl TypeEnv {
    /// The class of a declared type.
    pub fn classify(&self, ty: &CType) -> VClass {
        if ty.func_ptr {
            return VClass::C(TypeClass::Pointer);
        }
        if ty.array {
            return VClass::C(TypeClass::Other);
        }
        if ty.is_untyped() {
            return VClass::Managed;
        }
        if ty.is_memoryview() {
            return VClass::C(TypeClass::Other);
        }
        let base = ty.base.trim();
        let last = base.rsplit('.').next().unwrap_or(base);
        if ty.ptr > 0 {
            if is_object_struct(last) {
                return if ty.ptr >= 2 {
                    VClass::RawPtrPtr
                } else {
                    VClass::Raw
                };
            }
            // A typedef of `PyObject *` used as `T *`.
            let typedef = self.c_types.get(base).or_else(|| self.c_types.get(last));
            if typedef == Some(&VClass::Raw) {
                return VClass::RawPtrPtr;
            }
            return VClass::C(TypeClass::Pointer);
        }
        self.classify_name(base, last)
    }

    fn classify_name(&self, base: &str, last: &str) -> VClass {
        if let Some(c) = self.c_types.get(base).or_else(|| self.c_types.get(last)) {
            return *c;
        }
        if self.classes.contains(base) || self.classes.contains(last) {
            return VClass::Managed;
        }
        if base == "bool" && self.cpp_bool {
            return VClass::C(TypeClass::Int);
        }
        if base.starts_with('(') {
            // A C tuple.
            return VClass::C(TypeClass::Other);
        }
        // `cython.int` is C, `cython.unicode` a Python type.
        if base.starts_with("cython.") && !PYTHON_TYPES.contains(&last) {
            return VClass::C(c_name_class(last));
        }
        if PYTHON_TYPES.contains(&base) || PYTHON_TYPES.contains(&last) {
            return VClass::Managed;
        }
        if base == "void" {
            return VClass::C(TypeClass::Void);
        }
        if C_INT_TYPES.contains(&base) || C_OTHER_TYPES.contains(&base) {
            return VClass::C(c_name_class(base));
        }
        if is_int_words(base) {
            return VClass::C(TypeClass::Int);
        }
        if last.ends_with("_t") || last.starts_with("npy_") || last.starts_with("NPY_") {
            return VClass::C(c_name_class(last));
        }
        if base.contains("::") || base.contains('<') {
            // C++ nested types (`vector[int].iterator`).
            return VClass::C(TypeClass::Other);
        }
        if (last.starts_with("Py") || last.starts_with("_Py")) && !PYTHON_TYPES.contains(&last) {
            // Python.h's C types (`PyThread_type_lock`, `Py_buffer`): the
            // objects among them are used through pointers.
            return VClass::C(TypeClass::Other);
        }
        if is_constant_case(last) {
            // `DTYPE_C`, `SIZE_t`-style typedef names, never classes.
            return VClass::C(TypeClass::Other);
        }
        // An unknown name: most often an extension type cimported from
        // another module. Treating it as an object keeps Cython's own
        // reference handling explicit; treating a Python object as C would
        // invent leaks.
        VClass::Managed
    }
}

impl TypeEnv {
    /// True when the type is an object by what the file or Python says
    /// (`object`, a Python type, a class of the file), not by default.
    pub fn is_known_object(&self, ty: &CType) -> bool {
        if ty.ptr > 0 || ty.func_ptr || ty.array || ty.is_memoryview() {
            return false;
        }
        if ty.is_untyped() {
            return true;
        }
        let base = ty.base.trim();
        let last = base.rsplit('.').next().unwrap_or(base);
        self.classes.contains(base)
            || self.classes.contains(last)
            || PYTHON_TYPES.contains(&base)
            || PYTHON_TYPES.contains(&last)
    }
}

/// `ALL_CAPS` names (at least one letter, no lower case).
fn is_constant_case(name: &str) -> bool {
    name.len() >= 2
        && name.chars().any(|c| c.is_ascii_uppercase())
        && !name.chars().any(|c| c.is_ascii_lowercase())
}

/// `PyObject`, `PyTypeObject`, `PyListObject`...: structs whose pointers
/// are object references.
pub fn is_object_struct(name: &str) -> bool {
    let last = name.rsplit('.').next().unwrap_or(name);
    last == "PyObject"
        || last == "PyVarObject"
        || (last.starts_with("Py") && last.ends_with("Object") && last.len() > 8)
}

fn is_int_words(base: &str) -> bool {
    !base.is_empty()
        && base
            .split_whitespace()
            .all(|w| matches!(w, "unsigned" | "signed" | "short" | "long" | "int" | "char"))
}

fn c_name_class(name: &str) -> TypeClass {
    let n = name.to_ascii_lowercase();
    if n.contains("float")
        || n.contains("double")
        || n.contains("complex")
        || n == "floating"
        || n == "numeric"
        || n == "number"
        || n.contains("buffer")
        || n == "pyobject"
        || n == "pytypeobject"
        || n == "va_list"
        || n == "file"
    {
        TypeClass::Other
    } else if n == "void" {
        TypeClass::Void
    } else {
        TypeClass::Int
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ty(base: &str, ptr: u8) -> CType {
        CType {
            base: base.into(),
            ptr,
            text: base.into(),
            ..CType::default()
        }
    }

    #[test]
    fn objects_raw_pointers_and_c_values() {
        let mut env = TypeEnv::default();
        env.classes.insert("MyClass".into());
        env.c_types
            .insert("item_t".into(), VClass::C(TypeClass::Other));
        assert_eq!(env.classify(&ty("object", 0)), VClass::Managed);
        assert_eq!(env.classify(&ty("list", 0)), VClass::Managed);
        assert_eq!(env.classify(&ty("MyClass", 0)), VClass::Managed);
        assert_eq!(env.classify(&ty("np.ndarray", 0)), VClass::Managed);
        assert_eq!(env.classify(&ty("PyObject", 1)), VClass::Raw);
        assert_eq!(env.classify(&ty("PyTypeObject", 1)), VClass::Raw);
        assert_eq!(env.classify(&ty("PyObject", 2)), VClass::RawPtrPtr);
        assert_eq!(env.classify(&ty("int", 0)), VClass::C(TypeClass::Int));
        assert_eq!(
            env.classify(&ty("unsigned long long", 0)),
            VClass::C(TypeClass::Int)
        );
        assert_eq!(env.classify(&ty("double", 0)), VClass::C(TypeClass::Other));
        assert_eq!(env.classify(&ty("char", 1)), VClass::C(TypeClass::Pointer));
        assert_eq!(env.classify(&ty("item_t", 0)), VClass::C(TypeClass::Other));
        assert_eq!(
            env.classify(&ty("float64_t", 0)),
            VClass::C(TypeClass::Other)
        );
        assert_eq!(env.classify(&ty("intp_t", 0)), VClass::C(TypeClass::Int));
        assert_eq!(
            env.classify(&ty("cython.int", 0)),
            VClass::C(TypeClass::Int)
        );
        assert_eq!(env.classify(&ty("bool", 0)), VClass::Managed);
        env.cpp_bool = true;
        assert_eq!(env.classify(&ty("bool", 0)), VClass::C(TypeClass::Int));
        let mv = CType {
            base: "double".into(),
            brackets: Some(":, ::1".into()),
            ..CType::default()
        };
        assert_eq!(env.classify(&mv), VClass::C(TypeClass::Other));
        assert_eq!(env.classify(&CType::untyped()), VClass::Managed);
    }
}
