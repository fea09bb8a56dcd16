//! Parser for CPython's `Doc/data/refcounts.dat`.
//!
//! Each line is `function:type:param:refcount:comment`. The first line of a
//! block describes the return value (empty `param`), the following lines the
//! parameters in prototype order. The file has a few irregular lines that the
//! parser accepts on purpose:
//!
//! - the declaration written in the name slot with an empty type slot
//!   (`PyComplex_FromDoubles::double real::`,
//!   `PyCapsule_New::void (* destructor)(PyObject* )::`, `PyCell_Check::ob::`);
//! - `void` in the name slot, meaning "no parameters" (`PyFloat_GetInfo`);
//! - `...` for varargs and pseudo-parameters of macros (`TYPE`, `macro`);
//! - a stray `*` before a name (`PyUnicode_AsWideChar:PyObject*:*unicode:0:`);
//! - colons inside the comment (`PyTimeZone_FromOffset`);
//! - an empty return type (`PyUnicode_MAX_CHAR_VALUE::::`).

use crate::KbError;

/// What refcounts.dat says happens to a reference count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefcountEffect {
    /// Empty field: not a `PyObject*`.
    NotObject,
    /// `0`: no change.
    Unchanged,
    /// `+1`: incremented (a new reference for a return value).
    Incremented,
    /// `-1`: decremented (a stolen reference for a parameter).
    Decremented,
    /// `null`: the function always returns NULL.
    AlwaysNull,
}

impl RefcountEffect {
    fn parse(field: &str) -> Option<RefcountEffect> {
        match field.trim() {
            "" => Some(RefcountEffect::NotObject),
            "0" => Some(RefcountEffect::Unchanged),
            "+1" => Some(RefcountEffect::Incremented),
            "-1" => Some(RefcountEffect::Decremented),
            "null" => Some(RefcountEffect::AlwaysNull),
            _ => None,
        }
    }
}

/// One parameter line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefcountsParam {
    pub name: String,
    /// C type with whitespace normalised (`const char*`), empty for macro
    /// pseudo-parameters and varargs.
    pub c_type: String,
    pub effect: RefcountEffect,
}

/// One function block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefcountsFunction {
    pub name: String,
    /// 1-based line of the block's first line, for messages.
    pub line: usize,
    pub return_type: String,
    pub return_effect: RefcountEffect,
    pub params: Vec<RefcountsParam>,
}

/// Parses the whole file. Blocks come back in file order.
pub fn parse_refcounts(text: &str) -> Result<Vec<RefcountsFunction>, KbError> {
    let mut functions: Vec<RefcountsFunction> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut in_block = false;
    for (index, raw) in text.lines().enumerate() {
        let line_no = index + 1;
        let line = raw.trim_end();
        if line.trim().is_empty() {
            in_block = false;
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.splitn(5, ':').collect();
        if fields.len() < 4 {
            return Err(refcounts_error(
                line_no,
                "expected `function:type:param:refcount[:comment]`",
            ));
        }
        let name = fields[0].trim();
        if !crate::record::is_c_identifier(name) {
            return Err(refcounts_error(
                line_no,
                &format!("`{name}` is not a function name"),
            ));
        }
        let effect = RefcountEffect::parse(fields[3]).ok_or_else(|| {
            refcounts_error(
                line_no,
                &format!(
                    "refcount effect `{}` is none of 0, +1, -1, null or empty",
                    fields[3]
                ),
            )
        })?;
        let continues_block = in_block && functions.last().is_some_and(|f| f.name == name);
        if continues_block {
            if let Some(param) = parse_param(fields[1], fields[2], effect) {
                if let Some(function) = functions.last_mut() {
                    function.params.push(param);
                }
            }
        } else {
            if !fields[2].trim().is_empty() {
                return Err(refcounts_error(
                    line_no,
                    &format!("block of `{name}` must start with its return value (empty param)"),
                ));
            }
            if !seen.insert(name.to_string()) {
                return Err(refcounts_error(
                    line_no,
                    &format!("`{name}` has a second block"),
                ));
            }
            functions.push(RefcountsFunction {
                name: name.to_string(),
                line: line_no,
                return_type: normalize_type(fields[1]),
                return_effect: effect,
                params: Vec::new(),
            });
        }
        in_block = true;
    }
    Ok(functions)
}

fn refcounts_error(line: usize, message: &str) -> KbError {
    KbError::Refcounts {
        line,
        message: message.to_string(),
    }
}

/// Reads one parameter line; `None` when it declares "no parameters".
fn parse_param(
    type_field: &str,
    name_field: &str,
    effect: RefcountEffect,
) -> Option<RefcountsParam> {
    let type_field = type_field.trim();
    let name_field = name_field.trim();
    if type_field.is_empty() {
        // The whole declaration sits in the name slot.
        return match name_field {
            "void" => None,
            "..." | "TYPE" | "macro" => Some(RefcountsParam {
                name: name_field.to_string(),
                c_type: String::new(),
                effect,
            }),
            declaration => {
                let (c_type, name) = split_declaration(declaration);
                Some(RefcountsParam {
                    name,
                    c_type,
                    effect,
                })
            }
        };
    }
    // `*unicode` (PyUnicode_AsWideChar) is a typo for `unicode`: the type
    // slot already says `PyObject*`.
    let name = name_field.trim_start_matches('*').to_string();
    let c_type = normalize_type(type_field);
    Some(RefcountsParam {
        name,
        c_type,
        effect,
    })
}

/// Splits `double real` into (`double`, `real`) and
/// `void (* destructor)(PyObject* )` into (`void (*)(PyObject*)`, `destructor`).
fn split_declaration(declaration: &str) -> (String, String) {
    if let Some(open) = declaration.find("(*") {
        let after = &declaration[open + 2..];
        let (name, rest) = after.split_once(')').unwrap_or((after, ""));
        let c_type = format!("{}(*){rest}", &declaration[..open]);
        return (normalize_type(&c_type), name.trim().to_string());
    }
    let split_at = declaration
        .rfind(|c: char| !(c == '_' || c.is_ascii_alphanumeric()))
        .map_or(0, |i| i + 1);
    let (c_type, name) = declaration.split_at(split_at);
    if c_type.trim().is_empty() {
        // A bare name (`PyCell_Check::ob::`): the type is unknown.
        return (String::new(), name.to_string());
    }
    (normalize_type(c_type), name.to_string())
}

/// `const char *` and `const char*` are the same type.
fn normalize_type(c_type: &str) -> String {
    let collapsed = c_type.split_whitespace().collect::<Vec<_>>().join(" ");
    collapsed
        .replace(" *", "*")
        .replace("( ", "(")
        .replace(" )", ")")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_one(text: &str) -> RefcountsFunction {
        let mut functions = parse_refcounts(text).expect("valid test data");
        assert_eq!(functions.len(), 1);
        functions.remove(0)
    }

    #[test]
    fn reads_return_and_params_in_order() {
        let f = parse_one(
            "# comment\n\nPyList_SetItem:int:::\nPyList_SetItem:PyObject*:list:0:\n\
             PyList_SetItem:Py_ssize_t:index::\nPyList_SetItem:PyObject*:item:0:\n",
        );
        assert_eq!(f.name, "PyList_SetItem");
        assert_eq!(f.line, 3);
        assert_eq!(f.return_type, "int");
        assert_eq!(f.return_effect, RefcountEffect::NotObject);
        let names: Vec<_> = f.params.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["list", "index", "item"]);
        assert_eq!(f.params[0].effect, RefcountEffect::Unchanged);
        assert_eq!(f.params[1].effect, RefcountEffect::NotObject);
    }

    #[test]
    fn declaration_in_the_name_slot() {
        let f = parse_one(
            "PyComplex_FromDoubles:PyObject*::+1:\nPyComplex_FromDoubles::double real::\n\
             PyComplex_FromDoubles::double imag::\n",
        );
        assert_eq!(f.return_effect, RefcountEffect::Incremented);
        assert_eq!(f.params[0].name, "real");
        assert_eq!(f.params[0].c_type, "double");
        assert_eq!(f.params[1].name, "imag");
    }

    #[test]
    fn function_pointer_parameter() {
        let f = parse_one(
            "PyCapsule_New:PyObject*::+1:\nPyCapsule_New:void*:pointer::\n\
             PyCapsule_New:const char *:name::\nPyCapsule_New::void (* destructor)(PyObject* )::\n",
        );
        assert_eq!(f.params[1].c_type, "const char*");
        assert_eq!(f.params[2].name, "destructor");
        assert_eq!(f.params[2].c_type, "void (*)(PyObject*)");
    }

    #[test]
    fn void_means_no_parameter_and_varargs_are_kept() {
        let text = "PyFloat_GetInfo:PyObject*::+1:\nPyFloat_GetInfo::void::\n\n\
                    PyErr_Format:PyObject*::null:\nPyErr_Format:PyObject*:exception:+1:\n\
                    PyErr_Format:const char*:format::\nPyErr_Format::...::\n";
        let functions = parse_refcounts(text).expect("valid test data");
        assert!(functions[0].params.is_empty());
        assert_eq!(functions[1].return_effect, RefcountEffect::AlwaysNull);
        assert_eq!(functions[1].params[2].name, "...");
    }

    #[test]
    fn bare_name_star_prefix_colon_in_comment_and_empty_return_type() {
        let text = "PyCell_Check:int:::\nPyCell_Check::ob::\n\n\
                    PyUnicode_AsWideChar:Py_ssize_t:::\nPyUnicode_AsWideChar:PyObject*:*unicode:0:\n\n\
                    PyTimeZone_FromOffset:PyObject*::+1:\n\
                    PyTimeZone_FromOffset:PyObject*:offset:+1:not increased if offset is +00:00\n\n\
                    PyUnicode_MAX_CHAR_VALUE::::\nPyUnicode_MAX_CHAR_VALUE:PyObject*:o:0:\n";
        let functions = parse_refcounts(text).expect("valid test data");
        assert_eq!(functions[0].params[0].name, "ob");
        assert_eq!(functions[0].params[0].c_type, "");
        assert_eq!(functions[1].params[0].name, "unicode");
        assert_eq!(functions[1].params[0].c_type, "PyObject*");
        assert_eq!(functions[2].params[0].effect, RefcountEffect::Incremented);
        assert_eq!(functions[3].return_type, "");
        assert_eq!(functions[3].params.len(), 1);
    }

    #[test]
    fn malformed_lines_are_errors_with_line_numbers() {
        let cases = [
            ("Py_Foo:int\n", 1, "expected"),
            (
                "Py_Foo:int:::\nPy_Foo:PyObject*:o:2:\n",
                2,
                "refcount effect `2`",
            ),
            (
                "Py_Foo:PyObject*:o:0:\n",
                1,
                "must start with its return value",
            ),
            ("Py_Foo:int:::\n\nPy_Foo:int:::\n", 3, "second block"),
            ("bad name:int:::\n", 1, "not a function name"),
        ];
        for (text, line, needle) in cases {
            match parse_refcounts(text) {
                Err(KbError::Refcounts { line: got, message }) => {
                    assert_eq!(got, line, "{text:?}");
                    assert!(message.contains(needle), "{message}");
                }
                other => panic!("{text:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn the_shipped_file_parses() {
        let functions = parse_refcounts(include_str!("../data/refcounts-3.11.dat"))
            .expect("shipped refcounts.dat parses");
        assert!(functions.len() > 700, "{}", functions.len());
        let set_item = functions
            .iter()
            .find(|f| f.name == "PyList_SetItem")
            .expect("PyList_SetItem is documented");
        // The documented mistake that the overrides correct.
        assert_eq!(set_item.params[2].effect, RefcountEffect::Unchanged);
    }
}
