//! Small helpers over tree-sitter nodes: text, spans, children, declarators.

use crate::types::Shape;
use refsan_ir::{LineIndex, Span};
use std::borrow::Cow;
use tree_sitter::Node;

/// The text a node was parsed from, and how to compute its spans. Nodes of a
/// macro expansion are parsed from the expanded text; all their spans are
/// the macro call site (`site`).
#[derive(Clone, Copy)]
pub(crate) struct Txt<'s> {
    pub src: &'s [u8],
    pub lines: &'s LineIndex,
    pub site: Option<Span>,
}

impl<'s> Txt<'s> {
    pub fn bytes(&self, n: Node<'_>) -> &'s [u8] {
        let r = n.byte_range();
        self.src.get(r).unwrap_or_default()
    }

    pub fn str(&self, n: Node<'_>) -> Cow<'s, str> {
        String::from_utf8_lossy(self.bytes(n))
    }

    pub fn span(&self, n: Node<'_>) -> Span {
        match self.site {
            Some(s) => s,
            // tree-sitter keeps rows and byte columns of every node; they
            // agree with `LineIndex` (rows counted on `\n`).
            None => {
                let (start, end) = (n.start_position(), n.end_position());
                Span {
                    start: n.start_byte() as u32,
                    end: n.end_byte() as u32,
                    line: start.row as u32 + 1,
                    col: start.column as u32 + 1,
                    end_line: end.row as u32 + 1,
                    end_col: end.column as u32 + 1,
                }
            }
        }
    }

    /// The node's text on one line, blanks collapsed, at most `max` chars.
    pub fn collapsed(&self, n: Node<'_>, max: usize) -> String {
        collapse(self.bytes(n), max)
    }
}

/// Collapses runs of whitespace and truncates to `max` characters (with `…`).
pub(crate) fn collapse(bytes: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::with_capacity(text.len().min(max + 4));
    let mut blank = false;
    let mut count = 0;
    for c in text.chars() {
        if c.is_whitespace() {
            blank = !out.is_empty();
            continue;
        }
        if blank {
            out.push(' ');
            count += 1;
            blank = false;
        }
        if count >= max {
            out.push('…');
            return out;
        }
        out.push(c);
        count += 1;
    }
    out
}

/// Nodes with more children than this are walked with a cursor; smaller
/// ones by index (cheaper than allocating a cursor).
const SMALL_NODE: usize = 8;

/// Named children, without comments (which tree-sitter puts anywhere).
pub(crate) fn children<'t>(n: Node<'t>) -> Vec<Node<'t>> {
    let count = n.named_child_count();
    if count <= SMALL_NODE {
        return (0..count)
            .filter_map(|i| n.named_child(i))
            .filter(|c| kind(c) != "comment")
            .collect();
    }
    let mut cursor = n.walk();
    n.named_children(&mut cursor)
        .filter(|c| kind(c) != "comment")
        .collect()
}

/// All children (named or not).
pub(crate) fn all_children<'t>(n: Node<'t>) -> Vec<Node<'t>> {
    let count = n.child_count();
    if count <= SMALL_NODE {
        return (0..count).filter_map(|i| n.child(i)).collect();
    }
    let mut cursor = n.walk();
    n.children(&mut cursor).collect()
}

/// Kind names of one grammar (identified by its node kind count), by id.
type KindNames = (usize, Vec<Option<&'static str>>);

thread_local! {
    /// Node kind names by (grammar, kind id): `Node::kind` measures and
    /// validates the C string on every call.
    static KIND_NAMES: std::cell::RefCell<Vec<KindNames>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The node's kind (`"call_expression"`...), cached per grammar.
pub(crate) fn kind<'t, N: std::borrow::Borrow<Node<'t>>>(n: N) -> &'static str {
    let n: Node<'t> = *n.borrow();
    let id = n.kind_id() as usize;
    let language = n.language();
    let grammar = language.node_kind_count();
    KIND_NAMES.with(|cache| {
        let Ok(mut cache) = cache.try_borrow_mut() else {
            return n.kind();
        };
        let pos = match cache.iter().position(|(g, _)| *g == grammar) {
            Some(p) => p,
            None => {
                cache.push((grammar, vec![None; grammar + 1]));
                cache.len() - 1
            }
        };
        let names = &mut cache[pos].1;
        match names.get(id).copied() {
            Some(Some(name)) => name,
            Some(None) => {
                let name = n.kind();
                names[id] = Some(name);
                name
            }
            None => n.kind(),
        }
    })
}

/// Direct-mapped cache of field ids: `child_by_field_name` looks the name
/// up with a linear `strncmp` scan on every call, which showed up as a
/// fifth of the lowering time.
const FIELD_CACHE_SLOTS: usize = 128;

#[derive(Clone, Copy)]
struct FieldSlot {
    /// Node kind count of the grammar (tells C from C++ apart).
    language: usize,
    name: &'static str,
    id: Option<std::num::NonZeroU16>,
}

thread_local! {
    static FIELD_IDS: std::cell::RefCell<Vec<Option<FieldSlot>>> =
        std::cell::RefCell::new(vec![None; FIELD_CACHE_SLOTS]);
}

fn field_id(n: Node<'_>, name: &'static str) -> Option<std::num::NonZeroU16> {
    let language = n.language();
    let kinds = language.node_kind_count();
    let slot = ((name.as_ptr() as usize / 8) ^ name.len() ^ kinds) % FIELD_CACHE_SLOTS;
    FIELD_IDS.with(|cache| {
        let Ok(mut cache) = cache.try_borrow_mut() else {
            return language.field_id_for_name(name);
        };
        if let Some(hit) = cache[slot] {
            if hit.language == kinds && std::ptr::eq(hit.name, name) {
                return hit.id;
            }
        }
        let id = language.field_id_for_name(name);
        cache[slot] = Some(FieldSlot {
            language: kinds,
            name,
            id,
        });
        id
    })
}

pub(crate) fn field<'t>(n: Node<'t>, name: &'static str) -> Option<Node<'t>> {
    n.child_by_field_id(field_id(n, name)?.get())
}

/// Every child stored under field `name` (declarations have several
/// `declarator`s).
pub(crate) fn fields<'t>(n: Node<'t>, name: &'static str) -> Vec<Node<'t>> {
    let Some(id) = field_id(n, name) else {
        return Vec::new();
    };
    let mut cursor = n.walk();
    let mut out = Vec::new();
    if cursor.goto_first_child() {
        loop {
            if cursor.field_id() == Some(id) {
                out.push(cursor.node());
            }
            if !cursor.goto_next_sibling() {
                break;
            }
        }
    }
    out
}

/// The first named, non-comment child.
pub(crate) fn first_child(n: Node<'_>) -> Option<Node<'_>> {
    let count = n.named_child_count();
    (0..count.min(SMALL_NODE))
        .filter_map(|i| n.named_child(i))
        .find(|c| kind(c) != "comment")
        .or_else(|| {
            if count <= SMALL_NODE {
                return None;
            }
            let mut cursor = n.walk();
            let found = n.named_children(&mut cursor).find(|c| kind(c) != "comment");
            found
        })
}

/// The operator token of a binary/unary/assignment expression.
pub(crate) fn operator<'s>(t: &Txt<'s>, n: Node<'_>) -> &'s [u8] {
    match field(n, "operator") {
        Some(op) => t.bytes(op),
        None => b"",
    }
}

/// Strips `( ... )` around an expression.
pub(crate) fn strip_parens(mut n: Node<'_>) -> Node<'_> {
    for _ in 0..64 {
        if kind(n) != "parenthesized_expression" {
            break;
        }
        match first_child(n) {
            Some(inner) if kind(inner) != "compound_statement" && n.named_child_count() == 1 => {
                n = inner;
            }
            _ => break,
        }
    }
    n
}

/// Strips parentheses and casts (C casts and C++ named casts).
pub(crate) fn strip_casts<'t>(t: &Txt<'_>, mut n: Node<'t>) -> Node<'t> {
    for _ in 0..64 {
        n = strip_parens(n);
        match kind(n) {
            "cast_expression" => match field(n, "value") {
                Some(v) => n = v,
                None => break,
            },
            "call_expression" => match cpp_cast_operand(t, n) {
                Some(v) => n = v,
                None => break,
            },
            _ => break,
        }
    }
    n
}

/// `static_cast<T>(x)` and friends: the operand `x`.
pub(crate) fn cpp_cast_operand<'t>(t: &Txt<'_>, call: Node<'t>) -> Option<Node<'t>> {
    let func = field(call, "function")?;
    if kind(func) != "template_function" {
        return None;
    }
    let name = field(func, "name")?;
    if !matches!(
        t.bytes(name),
        b"static_cast" | b"reinterpret_cast" | b"const_cast" | b"dynamic_cast"
    ) {
        return None;
    }
    let args = children(field(call, "arguments")?);
    if args.len() == 1 {
        Some(args[0])
    } else {
        None
    }
}

/// What a declarator says about the declared name.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Declarator<'t> {
    pub name: Option<Node<'t>>,
    pub shape: Shape,
    /// The `function_declarator` when this declares a function (not a
    /// pointer to one).
    pub function: Option<Node<'t>>,
    /// Pointer levels above the function declarator: the return type's.
    pub return_depth: u32,
}

/// Walks a declarator down to its name, counting pointers and arrays.
pub(crate) fn analyze_declarator(mut n: Node<'_>) -> Declarator<'_> {
    let mut d = Declarator::default();
    let mut seen_function = false;
    for _ in 0..64 {
        match kind(n) {
            "pointer_declarator" | "abstract_pointer_declarator" => {
                if seen_function {
                    // `(*f)(args)`: a pointer to a function.
                    d.shape.function_pointer = true;
                    d.function = None;
                }
                d.shape.depth += 1;
            }
            "array_declarator" | "abstract_array_declarator" => d.shape.array = true,
            "reference_declarator" | "abstract_reference_declarator" => d.shape.reference = true,
            "function_declarator" | "abstract_function_declarator" => {
                if !seen_function {
                    seen_function = true;
                    d.function = Some(n);
                    d.return_depth = d.shape.depth;
                } else {
                    d.shape.function_pointer = true;
                }
            }
            "identifier"
            | "field_identifier"
            | "type_identifier"
            | "qualified_identifier"
            | "destructor_name"
            | "operator_name"
            | "primitive_type" => {
                d.name = Some(n);
                break;
            }
            _ => {}
        }
        let next = field(n, "declarator").or_else(|| match kind(n) {
            "parenthesized_declarator"
            | "abstract_parenthesized_declarator"
            | "reference_declarator"
            | "attributed_declarator"
            | "abstract_reference_declarator" => first_child(n),
            _ => None,
        });
        match next {
            Some(next) => n = next,
            None => break,
        }
    }
    if d.function.is_some() {
        d.shape.depth = d.return_depth;
    }
    d
}

/// `Py_UNUSED(name)` in a parameter declarator is parsed as a function
/// declarator named `Py_UNUSED`: returns the inner name.
pub(crate) fn py_unused_name<'s>(t: &Txt<'s>, function: Node<'_>) -> Option<&'s [u8]> {
    let name = field(function, "declarator")?;
    if t.bytes(name) != b"Py_UNUSED" {
        return None;
    }
    let params = field(function, "parameters")?;
    let inner = first_child(params)?;
    let bytes = t.bytes(inner);
    Some(bytes.strip_prefix(b"(").unwrap_or(bytes))
}

/// A C type as written, normalised: `PyObject *`, `const char **`, `int`.
pub(crate) fn c_type_string(base: &str, shape: Shape) -> String {
    let base = collapse(base.as_bytes(), 120);
    let mut s = base;
    if shape.depth > 0 || shape.reference {
        s.push(' ');
    }
    for _ in 0..shape.depth {
        s.push('*');
    }
    if shape.reference {
        s.push('&');
    }
    if shape.array {
        s.push_str("[]");
    }
    s
}

/// Parses a C integer literal (decimal, hex, octal, binary, with suffixes).
pub(crate) fn parse_int(text: &[u8]) -> Option<i64> {
    // tree-sitter-c includes a leading sign in the literal.
    match text.first() {
        Some(b'-') => return parse_int(&text[1..]).map(i64::wrapping_neg),
        Some(b'+') => return parse_int(&text[1..]),
        _ => {}
    }
    let s: Vec<u8> = text.iter().copied().filter(|b| *b != b'\'').collect();
    let mut end = s.len();
    while end > 0 && matches!(s[end - 1], b'u' | b'U' | b'l' | b'L' | b'z' | b'Z') {
        end -= 1;
    }
    let s = std::str::from_utf8(&s[..end]).ok()?;
    let (digits, radix) = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        (h, 16)
    } else if let Some(b) = s.strip_prefix("0b").or_else(|| s.strip_prefix("0B")) {
        (b, 2)
    } else if s.len() > 1 && s.starts_with('0') {
        (&s[1..], 8)
    } else {
        (s, 10)
    };
    if digits.is_empty() {
        return None;
    }
    u64::from_str_radix(digits, radix).ok().map(|v| v as i64)
}

/// The value of a char literal like `'a'`, `'\n'`, `'\x41'`, `'\0'`.
pub(crate) fn parse_char(text: &[u8]) -> Option<i64> {
    let start = text.iter().position(|b| *b == b'\'')?;
    let inner = text.get(start + 1..text.len().checked_sub(1)?)?;
    match inner {
        [c] => Some(*c as i64),
        [b'\\', rest @ ..] => match rest {
            [b'n'] => Some(10),
            [b't'] => Some(9),
            [b'r'] => Some(13),
            [b'a'] => Some(7),
            [b'b'] => Some(8),
            [b'f'] => Some(12),
            [b'v'] => Some(11),
            [b'\\'] => Some(92),
            [b'\''] => Some(39),
            [b'"'] => Some(34),
            [b'?'] => Some(63),
            [b'x', hex @ ..] => i64::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok(),
            octal if octal.iter().all(|b| (b'0'..=b'7').contains(b)) && !octal.is_empty() => {
                i64::from_str_radix(std::str::from_utf8(octal).ok()?, 8).ok()
            }
            _ => None,
        },
        _ => None,
    }
}

/// The spellings of the null pointer: `_Py_NULL` is NULL in C and nullptr
/// in C++ (3.12+ headers, pythoncapi_compat).
pub(crate) fn is_null_name(name: &[u8]) -> bool {
    matches!(name, b"NULL" | b"nullptr" | b"_Py_NULL")
}

/// The contents of a string literal node with simple escapes decoded;
/// `None` when it is not a plain literal (e.g. contains a macro).
pub(crate) fn string_value(t: &Txt<'_>, n: Node<'_>) -> Option<String> {
    match kind(n) {
        "concatenated_string" => {
            let mut out = String::new();
            for part in children(n) {
                match kind(part) {
                    // A macro joined to the literal (`"iiN" _Py_PARSE_PID`).
                    "identifier" => {
                        if !out.ends_with(refsan_ir::UNKNOWN_TEXT) {
                            out.push(refsan_ir::UNKNOWN_TEXT);
                        }
                    }
                    _ => out.push_str(&string_value(t, part)?),
                }
            }
            Some(out)
        }
        "string_literal" => {
            let raw = t.bytes(n);
            let open = raw.iter().position(|b| *b == b'"')?;
            let inner = raw.get(open + 1..raw.len().checked_sub(1)?)?;
            Some(unescape(inner))
        }
        "raw_string_literal" => Some(t.str(n).into_owned()),
        _ => None,
    }
}

fn unescape(s: &[u8]) -> String {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'\\' && i + 1 < s.len() {
            let c = s[i + 1];
            let rep = match c {
                b'n' => Some(b'\n'),
                b't' => Some(b'\t'),
                b'r' => Some(b'\r'),
                b'0' => Some(0),
                b'\\' => Some(b'\\'),
                b'"' => Some(b'"'),
                b'\'' => Some(b'\''),
                b'\n' => None,
                _ => {
                    out.push(b'\\');
                    Some(c)
                }
            };
            if let Some(r) = rep {
                out.push(r);
            }
            i += 2;
        } else {
            out.push(s[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The arms of an `#if`/`#ifdef` chain.
pub(crate) struct PreprocArms<'t> {
    pub arms: Vec<Vec<Node<'t>>>,
    /// Ends with `#else` (or a constant-true arm): one arm always applies.
    pub exhaustive: bool,
    /// Identity of the condition chain (directives and condition texts).
    pub key: String,
    /// `if X` / `ifdef X`: for naming the arm variable.
    pub first_condition: String,
    /// The first arm is the first directive's (`#if X` was not decided).
    pub first_kept: bool,
    /// Per arm, the macros its conditions say are defined (`true`) or not
    /// (`false`): its own condition's `defined(X)` conjuncts, and the
    /// negation of the earlier arms' conditions where that is such a
    /// conjunction too (`#ifdef X ... #else`: X is not defined).
    pub defined: Vec<Vec<(String, bool)>>,
}

/// `defined(X)`, `defined X`, `!defined(X)`: the macro and whether the
/// condition says it is defined.
fn defined_literal(t: &Txt<'_>, n: Node<'_>) -> Option<(String, bool)> {
    defined_literal_at(t, n, 0)
}

/// Deeper conditions say nothing refsan keeps.
const MAX_CONDITION_DEPTH: u32 = 32;

fn defined_literal_at(t: &Txt<'_>, n: Node<'_>, depth: u32) -> Option<(String, bool)> {
    if depth > MAX_CONDITION_DEPTH {
        return None;
    }
    match kind(n) {
        "parenthesized_expression" => defined_literal_at(t, first_child(n)?, depth + 1),
        "preproc_defined" => {
            let id = children(n).into_iter().find(|c| kind(*c) == "identifier")?;
            Some((String::from_utf8_lossy(t.bytes(id)).into_owned(), true))
        }
        "unary_expression" if t.bytes(field(n, "operator")?) == b"!" => {
            defined_literal_at(t, field(n, "argument")?, depth + 1).map(|(m, d)| (m, !d))
        }
        _ => None,
    }
}

/// The `defined` literals a condition implies (its conjuncts that are
/// such literals; a disjunction implies none).
fn implied_defined(t: &Txt<'_>, n: Node<'_>, out: &mut Vec<(String, bool)>, depth: u32) {
    if depth > MAX_CONDITION_DEPTH {
        return;
    }
    if let Some(l) = defined_literal(t, n) {
        out.push(l);
        return;
    }
    match kind(n) {
        "parenthesized_expression" => {
            if let Some(c) = first_child(n) {
                implied_defined(t, c, out, depth + 1);
            }
        }
        "binary_expression" if field(n, "operator").is_some_and(|o| t.bytes(o) == b"&&") => {
            if let (Some(l), Some(r)) = (field(n, "left"), field(n, "right")) {
                implied_defined(t, l, out, depth + 1);
                implied_defined(t, r, out, depth + 1);
            }
        }
        _ => {}
    }
}

/// The negation of a condition as `defined` literals, when it is one (a
/// literal, or a disjunction of literals).
fn negated_defined(t: &Txt<'_>, n: Node<'_>, depth: u32) -> Option<Vec<(String, bool)>> {
    if depth > MAX_CONDITION_DEPTH {
        return None;
    }
    if let Some((m, d)) = defined_literal(t, n) {
        return Some(vec![(m, !d)]);
    }
    match kind(n) {
        "parenthesized_expression" => negated_defined(t, first_child(n)?, depth + 1),
        "binary_expression" if t.bytes(field(n, "operator")?) == b"||" => {
            let mut l = negated_defined(t, field(n, "left")?, depth + 1)?;
            l.extend(negated_defined(t, field(n, "right")?, depth + 1)?);
            Some(l)
        }
        _ => None,
    }
}

/// Splits `#if A ... #elif B ... #else ... #endif` into its arms. `#if 0`
/// arms are dropped (never compiled); an `#if 1` arm makes the chain
/// exhaustive.
/// The value of an `#if` condition that only tells Python 2 from Python 3
/// (`PY_MAJOR_VERSION >= 3`, `PY_VERSION_HEX < 0x03000000`): refsan checks
/// code for Python 3, so such arms are decided.
fn python2_condition(t: &Txt<'_>, n: Node<'_>) -> Option<bool> {
    match kind(n) {
        "parenthesized_expression" => python2_condition(t, first_child(n)?),
        "unary_expression" if t.bytes(field(n, "operator")?) == b"!" => {
            python2_condition(t, field(n, "argument")?).map(|v| !v)
        }
        "binary_expression" => {
            let op = t.bytes(field(n, "operator")?);
            let (left, right) = (field(n, "left")?, field(n, "right")?);
            match op {
                b"&&" | b"||" => {
                    let (l, r) = (python2_condition(t, left), python2_condition(t, right));
                    let and = op == b"&&";
                    return match (l, r) {
                        (Some(a), Some(b)) => Some(if and { a && b } else { a || b }),
                        (Some(v), None) | (None, Some(v)) if v != and => Some(v),
                        _ => None,
                    };
                }
                _ => {}
            }
            if kind(left) != "identifier" || kind(right) != "number_literal" {
                return None;
            }
            let k = parse_int(t.bytes(right))?;
            // A Python 3 value that compares with `k` as every Python 3
            // version does.
            let value = match t.bytes(left) {
                b"PY_MAJOR_VERSION" => 3,
                b"PY_VERSION_HEX" if k <= 0x0300_0000 => 0x0308_0000,
                _ => return None,
            };
            Some(match op {
                b"<" => value < k,
                b"<=" => value <= k,
                b">" => value > k,
                b">=" => value >= k,
                b"==" => value == k,
                b"!=" => value != k,
                _ => return None,
            })
        }
        _ => None,
    }
}

pub(crate) fn preproc_arms<'t>(t: Txt<'_>, n: Node<'t>) -> PreprocArms<'t> {
    let mut arms = Vec::new();
    let mut exhaustive = false;
    let mut key = String::new();
    let mut first_condition = String::new();
    let mut first_kept = false;
    let mut defined = Vec::new();
    // What the earlier arms' conditions being false says (None once one
    // of them says nothing expressible).
    let mut earlier: Option<Vec<(String, bool)>> = Some(Vec::new());
    let mut cur = Some(n);
    let mut guard = 0;
    while let Some(node) = cur {
        guard += 1;
        if guard > 1000 {
            break;
        }
        let condition = field(node, "condition");
        let name = field(node, "name");
        let alternative = field(node, "alternative");
        // The chain's identity: directive kinds and condition texts.
        let cond_text = condition
            .or(name)
            .map(|c| t.collapsed(c, 120))
            .unwrap_or_default();
        let head = match kind(node) {
            "preproc_ifdef" if t.bytes(node).starts_with(b"#ifndef") => "ifndef",
            k => k,
        };
        key.push_str(head);
        key.push(' ');
        key.push_str(&cond_text);
        key.push('|');
        if first_condition.is_empty() {
            first_condition = format!("{} {cond_text}", head.trim_start_matches("preproc_"));
        }
        let constant = condition.and_then(|c| match kind(c) {
            "number_literal" => parse_int(t.bytes(c)),
            _ => python2_condition(&t, c).map(i64::from),
        });
        let items: Vec<Node<'t>> = children(node)
            .into_iter()
            .filter(|c| Some(*c) != condition && Some(*c) != name && Some(*c) != alternative)
            .collect();
        // `#ifdef X` / `#ifndef X`, or the condition's literals.
        let mut own = Vec::new();
        let mut negated = None;
        if let Some(nm) = name {
            let m = String::from_utf8_lossy(t.bytes(nm)).into_owned();
            let d = head != "ifndef" && !t.bytes(node).starts_with(b"#elifndef");
            own.push((m.clone(), d));
            negated = Some(vec![(m, !d)]);
        } else if let Some(c) = condition {
            implied_defined(&t, c, &mut own, 0);
            negated = negated_defined(&t, c, 0);
        }
        let mut facts = earlier.clone().unwrap_or_default();
        facts.extend(own);
        match constant {
            Some(0) => {}
            Some(_) => {
                arms.push(items);
                defined.push(facts);
                exhaustive = true;
                break;
            }
            None => {
                if guard == 1 {
                    first_kept = true;
                }
                arms.push(items);
                defined.push(facts);
            }
        }
        if constant.is_none() {
            earlier = match (earlier, negated) {
                (Some(mut e), Some(n)) => {
                    e.extend(n);
                    Some(e)
                }
                _ => None,
            };
        }
        if kind(node) == "preproc_else" {
            exhaustive = true;
        }
        cur = alternative;
    }
    PreprocArms {
        arms,
        exhaustive,
        key,
        first_condition,
        first_kept,
        defined,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_spans_agree_with_the_line_index() {
        let src = b"int a;\r\n/* x */ int f(void)\n{\n  return 1;\n}\n";
        let mut parser = tree_sitter::Parser::new();
        parser
            .set_language(&tree_sitter_c::LANGUAGE.into())
            .unwrap();
        let tree = parser.parse(src, None).unwrap();
        let lines = LineIndex::new(src);
        let t = Txt {
            src,
            lines: &lines,
            site: None,
        };
        let mut cursor = tree.walk();
        let mut stack = vec![tree.root_node()];
        while let Some(n) = stack.pop() {
            assert_eq!(
                t.span(n),
                lines.span(n.start_byte() as u32, n.end_byte() as u32)
            );
            stack.extend(n.children(&mut cursor));
        }
    }

    #[test]
    fn integer_literals() {
        assert_eq!(parse_int(b"42"), Some(42));
        assert_eq!(parse_int(b"0x1F"), Some(31));
        assert_eq!(parse_int(b"010"), Some(8));
        assert_eq!(parse_int(b"0"), Some(0));
        assert_eq!(parse_int(b"10UL"), Some(10));
        assert_eq!(parse_int(b"0b101"), Some(5));
        assert_eq!(parse_int(b"1.5"), None);
        assert_eq!(parse_int(b"-1"), Some(-1));
        assert_eq!(parse_char(b"'a'"), Some(97));
        assert_eq!(parse_char(b"'\\n'"), Some(10));
        assert_eq!(parse_char(b"'\\0'"), Some(0));
        assert_eq!(parse_char(b"'\\x41'"), Some(65));
    }

    #[test]
    fn collapses_text() {
        assert_eq!(collapse(b"  a ==\n   NULL ", 80), "a == NULL");
        assert_eq!(collapse(b"abcdef", 3), "abc…");
    }
}
