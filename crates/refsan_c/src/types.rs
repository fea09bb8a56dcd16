//! Classifying C types into the IR's ownership-relevant [`TypeClass`].

use refsan_ir::{FieldDef, TypeClass};
use std::collections::{HashMap, HashSet};

/// What the file itself says about type names: typedefs, object structs and
/// the fields of its structs.
#[derive(Default)]
pub(crate) struct TypeTable {
    /// Typedef name → class of the aliased type.
    typedefs: HashMap<String, TypeClass>,
    /// Struct tags and typedef names of structs that start with
    /// `PyObject_HEAD` (or `PyObject ob_base`).
    object_structs: HashSet<String>,
    /// Struct name (tag or typedef) → its fields.
    fields: HashMap<String, Vec<FieldDef>>,
    /// The enumerators of each enum defined, by name.
    enums: Vec<Vec<String>>,
}

/// A type as written, reduced to what classification needs.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Shape {
    /// Pointer levels (`*`), including one per array dimension of pointers.
    pub depth: u32,
    pub array: bool,
    /// A C++ reference (`T&`, `T&&`).
    pub reference: bool,
    /// A pointer to a function.
    pub function_pointer: bool,
}

const QUALIFIERS: &[&str] = &[
    "const",
    "volatile",
    "restrict",
    "__restrict",
    "__restrict__",
    "register",
    "static",
    "extern",
    "inline",
    "__inline",
    "__inline__",
    "_Atomic",
    "mutable",
    "constexpr",
    "thread_local",
    "_Thread_local",
    "__thread",
    "Py_ALWAYS_INLINE",
    "typename",
];

const INT_WORDS: &[&str] = &[
    "int", "long", "short", "char", "signed", "unsigned", "__int64", "__int128",
];

const INT_NAMES: &[&str] = &[
    "bool",
    "_Bool",
    "size_t",
    "ssize_t",
    "Py_ssize_t",
    "Py_hash_t",
    "Py_uhash_t",
    "Py_UCS1",
    "Py_UCS2",
    "Py_UCS4",
    "Py_UNICODE",
    "wchar_t",
    "char16_t",
    "char32_t",
    "intptr_t",
    "uintptr_t",
    "Py_intptr_t",
    "Py_uintptr_t",
    "ptrdiff_t",
    "off_t",
    "Py_off_t",
    "pid_t",
    "uid_t",
    "gid_t",
    "mode_t",
    "dev_t",
    "ino_t",
    "socklen_t",
    "time_t",
    "_PyTime_t",
    "PY_LONG_LONG",
    "digit",
    "sdigit",
    "twodigits",
    "stwodigits",
    "Py_UCS4_t",
    "byte",
    "uchar",
    "uint",
    "ulong",
    "ushort",
    "BOOL",
    "DWORD",
    "WORD",
    "BYTE",
    "Py_tss_t",
    "sig_atomic_t",
];

/// Object types of the C-API whose names do not end in `Object`.
const OBJECT_NAMES: &[&str] = &[
    "PyObject",
    "PyVarObject",
    "PyTypeObject",
    "_object",
    "_typeobject",
];

impl TypeTable {
    pub fn add_typedef(&mut self, name: &str, class: TypeClass) {
        self.typedefs.entry(name.to_string()).or_insert(class);
    }

    pub fn add_enum(&mut self, enumerators: Vec<String>) {
        if !enumerators.is_empty() && !self.enums.contains(&enumerators) {
            self.enums.push(enumerators);
        }
    }

    /// Whether `names` (a switch's case labels) name every enumerator of an
    /// enum: the switch covers the enum, as `-Wswitch` reads it.
    pub fn covers_an_enum(&self, names: &[Vec<u8>]) -> bool {
        self.enums.iter().any(|e| {
            e.iter()
                .all(|x| names.iter().any(|n| n.as_slice() == x.as_bytes()))
        })
    }

    pub fn add_object_struct(&mut self, name: &str) {
        self.object_structs.insert(name.to_string());
    }

    pub fn add_fields(&mut self, name: &str, fields: &[FieldDef]) {
        self.fields
            .entry(name.to_string())
            .or_insert_with(|| fields.to_vec());
    }

    /// The class of field `field` of the struct a `c_type` (like
    /// `FooObject *`) points to.
    pub fn field_class(&self, c_type: &str, field: &str) -> Option<TypeClass> {
        let name = base_name(c_type)?;
        self.fields
            .get(name)?
            .iter()
            .find(|f| f.name == field)
            .map(|f| f.ty)
    }

    /// True for `PyObject`, `FooObject` and the file's object structs.
    pub fn is_objectish(&self, base: &str) -> bool {
        /// CPython structs named like objects that are not Python objects.
        const NOT_OBJECTS: &[&str] =
            &["PyDictKeysObject", "PyDictValues", "PyDictSharedKeysObject"];
        if NOT_OBJECTS.contains(&base) {
            return false;
        }
        OBJECT_NAMES.contains(&base)
            || base.ends_with("Object")
            || self.object_structs.contains(base)
    }

    /// Classifies a declared type: `base` is the type specifier as written
    /// (`const char`, `struct foo`, `PyObject`), `shape` what the declarator
    /// adds.
    pub fn classify(&self, base: &str, shape: Shape) -> TypeClass {
        if shape.reference {
            return TypeClass::Other;
        }
        if shape.function_pointer {
            return TypeClass::Pointer;
        }
        let spec = Specifier::parse(base);
        let depth = shape.depth;
        match (depth, shape.array) {
            (0, true) => TypeClass::Other,
            (0, false) => self.value_class(&spec),
            (1, true) | (2, false) if self.spec_is_objectish(&spec) => TypeClass::ObjectPtrPtr,
            (1, false) if self.spec_is_objectish(&spec) => TypeClass::Object,
            (1, false) if self.typedef_class(&spec) == Some(TypeClass::Object) => {
                TypeClass::ObjectPtrPtr
            }
            _ => TypeClass::Pointer,
        }
    }

    fn spec_is_objectish(&self, spec: &Specifier<'_>) -> bool {
        match spec {
            Specifier::Named { name, .. } => self.is_objectish(name),
            _ => false,
        }
    }

    fn typedef_class(&self, spec: &Specifier<'_>) -> Option<TypeClass> {
        match spec {
            Specifier::Named {
                name,
                tagged: false,
            } => self.typedefs.get(*name).copied(),
            _ => None,
        }
    }

    /// The class of a non-pointer value of this type.
    fn value_class(&self, spec: &Specifier<'_>) -> TypeClass {
        match spec {
            Specifier::Int => TypeClass::Int,
            Specifier::Void => TypeClass::Void,
            Specifier::Other => TypeClass::Other,
            Specifier::Named { name, tagged } => {
                if *tagged {
                    return TypeClass::Other;
                }
                if *name == "PyMODINIT_FUNC" {
                    return TypeClass::Object;
                }
                if is_int_name(name) {
                    return TypeClass::Int;
                }
                self.typedefs
                    .get(*name)
                    .copied()
                    .unwrap_or(TypeClass::Other)
            }
        }
    }
}

/// The type specifier after dropping qualifiers.
enum Specifier<'a> {
    Int,
    Void,
    Other,
    /// A typedef or struct/union name (`tagged` for `struct X`).
    Named {
        name: &'a str,
        tagged: bool,
    },
}

impl<'a> Specifier<'a> {
    fn parse(text: &'a str) -> Specifier<'a> {
        let mut words = text
            .split(|c: char| c.is_whitespace() || c == '*' || c == '&')
            .filter(|w| !w.is_empty() && !QUALIFIERS.contains(w))
            .peekable();
        let Some(first) = words.next() else {
            // `unsigned`-less empty text: K&R implicit int.
            return Specifier::Int;
        };
        match first {
            "struct" | "union" | "class" => match words.next() {
                Some(name) => Specifier::Named {
                    name: strip_namespace(name),
                    tagged: true,
                },
                None => Specifier::Other,
            },
            "enum" => Specifier::Int,
            "void" => Specifier::Void,
            "float" | "double" | "_Complex" | "auto" => Specifier::Other,
            w if INT_WORDS.contains(&w) => {
                if words.any(|w| w == "double" || w == "float") {
                    Specifier::Other
                } else {
                    Specifier::Int
                }
            }
            name => Specifier::Named {
                name: strip_namespace(name),
                tagged: false,
            },
        }
    }
}

fn strip_namespace(name: &str) -> &str {
    match name.rfind("::") {
        Some(p) => &name[p + 2..],
        None => name,
    }
}

/// `intN_t`, `uint_fastN_t`, `Py_ssize_t`... and the fixed list above.
pub(crate) fn is_int_name(name: &str) -> bool {
    if INT_NAMES.contains(&name) || INT_WORDS.contains(&name) {
        return true;
    }
    let rest = name.strip_prefix('u').unwrap_or(name);
    if let Some(rest) = rest.strip_prefix("int") {
        let rest = rest
            .strip_prefix("_fast")
            .or_else(|| rest.strip_prefix("_least"))
            .unwrap_or(rest);
        if let Some(bits) = rest.strip_suffix("_t") {
            return bits == "max"
                || bits == "ptr"
                || (!bits.is_empty() && bits.bytes().all(|b| b.is_ascii_digit()));
        }
    }
    false
}

/// The struct or typedef name in a type like `const struct foo *`.
pub(crate) fn base_name(c_type: &str) -> Option<&str> {
    c_type
        .split(|c: char| c.is_whitespace() || c == '*' || c == '&' || c == '[' || c == ']')
        .find(|w| {
            !w.is_empty() && !QUALIFIERS.contains(w) && !matches!(*w, "struct" | "union" | "class")
        })
        .map(strip_namespace)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(depth: u32) -> Shape {
        Shape {
            depth,
            ..Shape::default()
        }
    }

    #[test]
    fn classifies_common_types() {
        let mut t = TypeTable::default();
        t.add_object_struct("Foo");
        t.add_typedef("myint", TypeClass::Int);
        let c = |b: &str, d: u32| t.classify(b, shape(d));
        assert_eq!(c("PyObject", 1), TypeClass::Object);
        assert_eq!(c("PyTypeObject", 1), TypeClass::Object);
        assert_eq!(c("struct _object", 1), TypeClass::Object);
        assert_eq!(c("PyListObject", 1), TypeClass::Object);
        assert_eq!(c("Foo", 1), TypeClass::Object);
        assert_eq!(c("PyObject", 2), TypeClass::ObjectPtrPtr);
        assert_eq!(c("const char", 1), TypeClass::Pointer);
        assert_eq!(c("unsigned long long", 0), TypeClass::Int);
        assert_eq!(c("Py_ssize_t", 0), TypeClass::Int);
        assert_eq!(c("uint8_t", 0), TypeClass::Int);
        assert_eq!(c("int_fast32_t", 0), TypeClass::Int);
        assert_eq!(c("enum color", 0), TypeClass::Int);
        assert_eq!(c("myint", 0), TypeClass::Int);
        assert_eq!(c("void", 0), TypeClass::Void);
        assert_eq!(c("void", 1), TypeClass::Pointer);
        assert_eq!(c("double", 0), TypeClass::Other);
        assert_eq!(c("Py_buffer", 0), TypeClass::Other);
        assert_eq!(c("PyObject", 0), TypeClass::Other);
        let arr = Shape {
            depth: 1,
            array: true,
            ..Shape::default()
        };
        assert_eq!(t.classify("PyObject", arr), TypeClass::ObjectPtrPtr);
        let refr = Shape {
            depth: 1,
            reference: true,
            ..Shape::default()
        };
        assert_eq!(t.classify("PyObject", refr), TypeClass::Other);
    }

    #[test]
    fn base_names() {
        assert_eq!(base_name("const struct foo *"), Some("foo"));
        assert_eq!(base_name("FooObject *"), Some("FooObject"));
    }
}
