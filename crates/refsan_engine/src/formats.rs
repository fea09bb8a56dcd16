//! Format strings of `PyArg_ParseTuple` and `Py_BuildValue` families: which
//! arguments they read or write, and what that means for ownership ("O"
//! outputs are borrowed, "N" inputs are stolen).

use refsan_ir::{ApiFacts, ArgEffect, Contract, ExcEffect, Failure, FormatStyle, Operand, Returns};

/// The kind of C argument a format unit consumes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgKind {
    /// A pointer to a C scalar of this type ("int", "Py_ssize_t"...).
    Scalar(&'static str),
    /// `PyObject **` receiving a borrowed reference (parse) or a `PyObject *`
    /// (build).
    Object,
    /// A `PyObject *` whose reference is stolen (build "N").
    StolenObject,
    /// `PyTypeObject *` of "O!".
    TypeObject,
    /// A converter function of "O&".
    Converter,
    /// `void *` / `Py_buffer *` / string pointers: any pointer.
    AnyPointer,
    /// A string (char * or const char **).
    Str,
    /// A length (`Py_ssize_t` or `Py_ssize_t *`) of a "#" unit.
    Length,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unit {
    pub code: String,
    pub args: Vec<ArgKind>,
    /// After '|' in a parse format.
    pub optional: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FormatError(pub String);

/// Parses a `PyArg_ParseTuple` format (the part before ':' or ';').
pub fn parse_format(fmt: &str) -> Result<Vec<Unit>, FormatError> {
    let mut units = Vec::new();
    let chars: Vec<char> = fmt.chars().collect();
    let mut i = 0;
    let mut optional = false;
    let mut depth = 0i32;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        let mut unit = |code: String, args: Vec<ArgKind>| {
            units.push(Unit {
                code,
                args,
                optional,
            });
        };
        match c {
            ':' | ';' => break,
            '|' => optional = true,
            '$' => {}
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth < 0 {
                    return Err(FormatError("unbalanced ')'".into()));
                }
            }
            'b' | 'B' => unit(c.to_string(), vec![ArgKind::Scalar("unsigned char")]),
            'h' => unit(c.to_string(), vec![ArgKind::Scalar("short")]),
            'H' => unit(c.to_string(), vec![ArgKind::Scalar("unsigned short")]),
            'i' => unit(c.to_string(), vec![ArgKind::Scalar("int")]),
            'I' => unit(c.to_string(), vec![ArgKind::Scalar("unsigned int")]),
            'l' => unit(c.to_string(), vec![ArgKind::Scalar("long")]),
            'k' => unit(c.to_string(), vec![ArgKind::Scalar("unsigned long")]),
            'L' => unit(c.to_string(), vec![ArgKind::Scalar("long long")]),
            'K' => unit(c.to_string(), vec![ArgKind::Scalar("unsigned long long")]),
            'n' => unit(c.to_string(), vec![ArgKind::Scalar("Py_ssize_t")]),
            'c' => unit(c.to_string(), vec![ArgKind::Scalar("char")]),
            'C' => unit(c.to_string(), vec![ArgKind::Scalar("int")]),
            'f' => unit(c.to_string(), vec![ArgKind::Scalar("float")]),
            'd' => unit(c.to_string(), vec![ArgKind::Scalar("double")]),
            'D' => unit(c.to_string(), vec![ArgKind::AnyPointer]),
            'p' => unit(c.to_string(), vec![ArgKind::Scalar("int")]),
            'O' | 'S' | 'U' | 'Y' => {
                if c == 'O' && chars.get(i) == Some(&'!') {
                    i += 1;
                    unit("O!".into(), vec![ArgKind::TypeObject, ArgKind::Object]);
                } else if c == 'O' && chars.get(i) == Some(&'&') {
                    i += 1;
                    unit("O&".into(), vec![ArgKind::Converter, ArgKind::AnyPointer]);
                } else {
                    unit(c.to_string(), vec![ArgKind::Object]);
                }
            }
            's' | 'z' | 'y' | 'u' | 'Z' | 'w' => {
                let mut code = c.to_string();
                let mut args = vec![ArgKind::Str];
                match chars.get(i) {
                    Some('#') => {
                        i += 1;
                        code.push('#');
                        args.push(ArgKind::Length);
                    }
                    Some('*') => {
                        i += 1;
                        code.push('*');
                        args = vec![ArgKind::AnyPointer];
                    }
                    _ => {}
                }
                unit(code, args);
            }
            'e' => {
                // es, et, es#, et#: encoding, char **buffer [, Py_ssize_t *]
                let Some(kind @ ('s' | 't')) = chars.get(i).copied() else {
                    return Err(FormatError("'e' must be followed by 's' or 't'".into()));
                };
                i += 1;
                let mut code = format!("e{kind}");
                let mut args = vec![ArgKind::Str, ArgKind::AnyPointer];
                if chars.get(i) == Some(&'#') {
                    i += 1;
                    code.push('#');
                    args.push(ArgKind::Length);
                }
                unit(code, args);
            }
            ' ' | '\t' | '\n' => {}
            other => return Err(FormatError(format!("unknown format unit '{other}'"))),
        }
    }
    if depth != 0 {
        return Err(FormatError("unbalanced '('".into()));
    }
    Ok(units)
}

/// Parses a `Py_BuildValue` format.
pub fn build_format(fmt: &str) -> Result<Vec<Unit>, FormatError> {
    let mut units = Vec::new();
    let chars: Vec<char> = fmt.chars().collect();
    let mut i = 0;
    let mut stack: Vec<char> = Vec::new();
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        let mut unit = |code: String, args: Vec<ArgKind>| {
            units.push(Unit {
                code,
                args,
                optional: false,
            });
        };
        match c {
            '(' | '[' | '{' => stack.push(c),
            ')' | ']' | '}' => {
                let open = match c {
                    ')' => '(',
                    ']' => '[',
                    _ => '{',
                };
                if stack.pop() != Some(open) {
                    return Err(FormatError(format!("unbalanced '{c}'")));
                }
            }
            ' ' | '\t' | ',' | ':' | '\n' => {}
            'b' | 'B' | 'h' | 'H' | 'i' | 'I' | 'c' | 'C' => {
                unit(c.to_string(), vec![ArgKind::Scalar("int")]);
            }
            'l' => unit(c.to_string(), vec![ArgKind::Scalar("long")]),
            'k' => unit(c.to_string(), vec![ArgKind::Scalar("unsigned long")]),
            'L' => unit(c.to_string(), vec![ArgKind::Scalar("long long")]),
            'K' => unit(c.to_string(), vec![ArgKind::Scalar("unsigned long long")]),
            'n' => unit(c.to_string(), vec![ArgKind::Scalar("Py_ssize_t")]),
            'f' | 'd' => unit(c.to_string(), vec![ArgKind::Scalar("double")]),
            'D' => unit(c.to_string(), vec![ArgKind::AnyPointer]),
            'p' => unit(c.to_string(), vec![ArgKind::Scalar("int")]),
            'O' | 'S' => {
                if c == 'O' && chars.get(i) == Some(&'&') {
                    i += 1;
                    unit("O&".into(), vec![ArgKind::Converter, ArgKind::AnyPointer]);
                } else {
                    unit(c.to_string(), vec![ArgKind::Object]);
                }
            }
            'N' => unit("N".into(), vec![ArgKind::StolenObject]),
            's' | 'z' | 'y' | 'u' | 'U' => {
                let mut code = c.to_string();
                let mut args = vec![ArgKind::Str];
                if chars.get(i) == Some(&'#') {
                    i += 1;
                    code.push('#');
                    args.push(ArgKind::Length);
                }
                unit(code, args);
            }
            other => return Err(FormatError(format!("unknown format unit '{other}'"))),
        }
    }
    if !stack.is_empty() {
        return Err(FormatError("unbalanced brackets".into()));
    }
    Ok(units)
}

/// Where the format string and the variable arguments are for a
/// format-driven API.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FormatApi {
    /// Parse: (format index, first output index).
    Parse { fmt: usize, first: usize },
    /// Build: (format index, first value index).
    Build { fmt: usize, first: usize },
    /// `PyArg_UnpackTuple(args, name, min, max, ...)`: every output borrows.
    Unpack { first: usize },
}

/// The format-driven API `name` is, from the knowledge base.
pub fn format_api(facts: &dyn ApiFacts, name: &str) -> Option<FormatApi> {
    let spec = facts.api(name)?.behaviour.format?;
    Some(match spec.style {
        FormatStyle::Parse => FormatApi::Parse {
            fmt: spec.format_arg?,
            first: spec.varargs,
        },
        FormatStyle::Build => FormatApi::Build {
            fmt: spec.format_arg?,
            first: spec.varargs,
        },
        FormatStyle::Unpack => FormatApi::Unpack {
            first: spec.varargs,
        },
        FormatStyle::Printf => return None,
    })
}

pub fn is_build_value(facts: &dyn ApiFacts, name: &str) -> bool {
    matches!(format_api(facts, name), Some(FormatApi::Build { .. }))
}

/// The format string argument, if it is a literal all of whose text is
/// known.
pub fn literal_format(api: FormatApi, args: &[Operand]) -> Option<&str> {
    known_prefix(api, args)
        .filter(|(_, whole)| *whole)
        .map(|(s, _)| s)
}

/// The text of a literal format string up to the first macro joined to it,
/// and whether that is all of it.
fn known_prefix(api: FormatApi, args: &[Operand]) -> Option<(&str, bool)> {
    let idx = match api {
        FormatApi::Parse { fmt, .. } | FormatApi::Build { fmt, .. } => fmt,
        FormatApi::Unpack { .. } => return None,
    };
    match args.get(idx)? {
        Operand::Str(s) => Some(match s.find(refsan_ir::UNKNOWN_TEXT) {
            Some(at) => (&s[..at], false),
            None => (s.as_str(), true),
        }),
        _ => None,
    }
}

/// The units of a format whose text may end in a macro's: the units of the
/// known text (brackets it leaves open are closed by the rest).
fn units_of(
    api: FormatApi,
    args: &[Operand],
    parse: fn(&str) -> Result<Vec<Unit>, FormatError>,
) -> Option<Vec<Unit>> {
    let (text, whole) = known_prefix(api, args)?;
    if whole {
        return parse(text).ok();
    }
    let mut closed = text.to_string();
    let mut open = Vec::new();
    for c in text.chars() {
        match c {
            '(' | '[' | '{' => open.push(c),
            ')' | ']' | '}' => {
                open.pop();
            }
            _ => {}
        }
    }
    for c in open.iter().rev() {
        closed.push(match c {
            '(' => ')',
            '[' => ']',
            _ => '}',
        });
    }
    parse(&closed).ok()
}

pub struct FormatContract {
    pub contract: Contract,
}

/// The contract a format-driven call has given its literal format.
pub fn call_contract(facts: &dyn ApiFacts, name: &str, args: &[Operand]) -> Option<FormatContract> {
    let api = format_api(facts, name)?;
    let mut contract = match api {
        FormatApi::Parse { .. } | FormatApi::Unpack { .. } => Contract {
            returns: Returns::NotObject,
            failure: Failure::Zero,
            args: Vec::new(),
            exc: ExcEffect::OnFailure,
            noreturn: false,
        },
        FormatApi::Build { .. } => Contract {
            returns: Returns::New,
            failure: Failure::Null,
            args: Vec::new(),
            exc: ExcEffect::OnFailure,
            noreturn: false,
        },
    };
    match api {
        FormatApi::Unpack { first } => {
            for i in first..args.len() {
                contract.set_arg(i, ArgEffect::OutBorrowed);
            }
        }
        FormatApi::Parse { first, .. } => {
            let units = units_of(api, args, parse_format)?;
            let mut i = first;
            for u in &units {
                for k in &u.args {
                    if *k == ArgKind::Object {
                        contract.set_arg(i, ArgEffect::OutBorrowed);
                    }
                    i += 1;
                }
            }
        }
        FormatApi::Build { first, .. } => {
            let units = units_of(api, args, build_format)?;
            let mut i = first;
            for u in &units {
                for k in &u.args {
                    if *k == ArgKind::StolenObject {
                        contract.set_arg(i, ArgEffect::Steal);
                    }
                    i += 1;
                }
            }
        }
    }
    Some(FormatContract { contract })
}

/// The object outputs of a parse call that every successful call writes:
/// the units before `|` of a `PyArg_ParseTuple` format, the first `min` of
/// `PyArg_UnpackTuple(args, name, min, max, ...)`. They are not NULL
/// where the call succeeded.
pub fn required_outputs(facts: &dyn ApiFacts, name: &str, args: &[Operand]) -> Vec<usize> {
    let mut out = Vec::new();
    match format_api(facts, name) {
        Some(FormatApi::Unpack { first }) => {
            if let Some(Operand::Int(min)) = args.get(2) {
                let min = usize::try_from(*min).unwrap_or(0);
                out.extend((first..args.len()).take(min));
            }
        }
        Some(api @ FormatApi::Parse { first, .. }) => {
            let Some(units) = units_of(api, args, parse_format) else {
                return out;
            };
            let mut i = first;
            for u in &units {
                for k in &u.args {
                    if *k == ArgKind::Object && !u.optional {
                        out.push(i);
                    }
                    i += 1;
                }
            }
        }
        _ => {}
    }
    out
}

/// Normalises a C type name for comparison ("const  int" → "int",
/// "signed int" → "int").
pub fn normalize_c_type(t: &str) -> String {
    let words: Vec<&str> = t
        .split_whitespace()
        .filter(|w| !matches!(*w, "const" | "volatile" | "register" | "static"))
        .collect();
    let joined = words.join(" ");
    match joined.as_str() {
        "signed int" | "signed" => "int".to_string(),
        "unsigned" => "unsigned int".to_string(),
        "long int" | "signed long" | "signed long int" => "long".to_string(),
        "unsigned long int" => "unsigned long".to_string(),
        "long long int" | "signed long long" => "long long".to_string(),
        "unsigned long long int" => "unsigned long long".to_string(),
        "short int" | "signed short" => "short".to_string(),
        "unsigned short int" => "unsigned short".to_string(),
        "ssize_t" => "Py_ssize_t".to_string(),
        _ => joined,
    }
}

/// C types whose size we know for sure, so a mismatch is certain.
pub fn is_known_scalar(t: &str) -> bool {
    matches!(
        t,
        "int"
            | "unsigned int"
            | "long"
            | "unsigned long"
            | "long long"
            | "unsigned long long"
            | "short"
            | "unsigned short"
            | "char"
            | "unsigned char"
            | "signed char"
            | "float"
            | "double"
            | "Py_ssize_t"
            | "size_t"
    )
}

/// The `PyUnicode_FromFormat` family: the index of the format argument.
pub fn fromformat_api(facts: &dyn ApiFacts, name: &str) -> Option<usize> {
    let spec = facts.api(name)?.behaviour.format?;
    match spec.style {
        FormatStyle::Printf => spec.format_arg,
        _ => None,
    }
}

/// For a `PyUnicode_FromFormat`-style call, whether argument `idx` (of the
/// whole call) may be NULL. `%S`, `%R` and `%A` print "<NULL>" for NULL,
/// `%V` falls back to its string, and C values are not objects; only `%U`
/// requires an object. Unknown formats allow NULL (nothing to check).
pub fn fromformat_arg_nullable(fmt_idx: usize, args: &[Operand], idx: usize) -> bool {
    if idx <= fmt_idx {
        return false;
    }
    let Some(Operand::Str(fmt)) = args.get(fmt_idx) else {
        return true;
    };
    let mut next = fmt_idx + 1;
    let mut chars = fmt.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            continue;
        }
        // Flags, width, precision ('*' consumes an int argument), length.
        loop {
            match chars.peek() {
                Some('*') => {
                    next += 1;
                    chars.next();
                }
                Some('-' | '0'..='9' | '.' | 'l' | 'z' | 't' | 'j' | 'h') => {
                    chars.next();
                }
                _ => break,
            }
        }
        let Some(conv) = chars.next() else { break };
        let consumed = match conv {
            '%' => 0,
            'V' => 2,
            _ => 1,
        };
        if consumed > 0 && next == idx {
            return conv != 'U';
        }
        next += consumed;
        if next > idx {
            return true;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_units() {
        let u = parse_format("O!|is#:name").unwrap();
        let codes: Vec<&str> = u.iter().map(|u| u.code.as_str()).collect();
        assert_eq!(codes, vec!["O!", "i", "s#"]);
        assert_eq!(u[0].args, vec![ArgKind::TypeObject, ArgKind::Object]);
        assert!(u[1].optional && !u[0].optional);
        assert_eq!(parse_format("(ii)O").unwrap().len(), 3);
        assert!(parse_format("(ii").is_err());
        assert!(parse_format("q").is_err());
        assert_eq!(parse_format("es#|$O;message with :").unwrap().len(), 2);
    }

    #[test]
    fn build_units() {
        let u = build_format("(OiN)").unwrap();
        assert_eq!(u.len(), 3);
        assert_eq!(u[2].args, vec![ArgKind::StolenObject]);
        assert_eq!(build_format("{s:O,s:i}").unwrap().len(), 4);
        assert!(build_format("(O]").is_err());
    }

    #[test]
    fn types_normalise() {
        assert_eq!(normalize_c_type("const  int"), "int");
        assert_eq!(normalize_c_type("long int"), "long");
        assert_eq!(normalize_c_type("ssize_t"), "Py_ssize_t");
    }

    #[test]
    fn fromformat_nullability() {
        let args = |f: &str| {
            vec![
                Operand::Global("PyExc_TypeError".into()),
                Operand::Str(f.into()),
                Operand::Null,
                Operand::Null,
                Operand::Null,
            ]
        };
        let a = args("descriptor '%V' of '%.100s' needs %U");
        assert!(fromformat_arg_nullable(1, &a, 2)); // %V object
        assert!(fromformat_arg_nullable(1, &a, 3)); // %V fallback string
        assert!(fromformat_arg_nullable(1, &a, 4)); // %.100s: not an object
        let a = args("%*d %U %S");
        assert!(!fromformat_arg_nullable(1, &a, 4)); // '*' takes an argument
        let a = args("100%% %U");
        assert!(!fromformat_arg_nullable(1, &a, 2));
        assert!(!fromformat_arg_nullable(1, &a, 1)); // the format itself
    }
}
