//! The file level: which top-level items exist (through `#if` arms,
//! `extern "C"`, namespaces, classes and parse errors), the types they
//! declare, and lowering each function, prototype, struct and table.

use crate::body::{self, declared_type, FunctionHeader};
pub(crate) use crate::ctx::FileCtx;
use crate::prepare::find;
use crate::syntax::preproc_arms;
use crate::syntax::{
    analyze_declarator, c_type_string, children, collapse, field, fields, kind, Txt,
};
use crate::tables::TableCollector;
use refsan_ir::{
    ArgEffect, Contract, ContractSource, Declaration, ExcEffect, Failure, FieldDef, Module,
    Problem, Returns, Role, StructDef, TypeClass,
};
use tree_sitter::Node;

/// Nesting of containers (`#if` in `extern "C"` in a namespace...) walked.
const MAX_ITEM_DEPTH: u32 = 64;

/// A top-level item, with the C++ class it is a member of.
#[derive(Clone)]
struct Item<'t> {
    node: Node<'t>,
    class: Option<String>,
}

/// Collects items and the file's types, then lowers everything.
pub(crate) fn lower_items(ctx: &mut FileCtx<'_>, root: Node<'_>, module: &mut Module) {
    if root.is_error() {
        // tree-sitter could not fit the file into one translation unit;
        // what it recovered is still lowered.
        module.problems.push(Problem {
            span: ctx.txt.span(root),
            message: "the file's structure could not be parsed as a whole (unbalanced braces or macro-generated \
                      code?): some definitions may be missing"
                .to_string(),
        });
    }
    let mut items = Vec::new();
    collect_items(ctx, root, None, 0, &mut items, module);
    for item in &items {
        collect_types(ctx, item, module);
    }
    for item in &items {
        collect_signature(ctx, item.node);
    }
    let mut tables = TableCollector::default();
    for item in &items {
        lower_item(ctx, item, module, &mut tables);
    }
    tables.finish(module);
}

fn collect_items<'t>(
    ctx: &FileCtx<'_>,
    n: Node<'t>,
    class: Option<&str>,
    depth: u32,
    out: &mut Vec<Item<'t>>,
    module: &mut Module,
) {
    let t = ctx.txt;
    if depth > MAX_ITEM_DEPTH {
        module.problems.push(Problem {
            span: t.span(n),
            message: "declarations nested too deeply: skipped".to_string(),
        });
        return;
    }
    for c in children(n) {
        collect_one(ctx, c, class, depth, out, module);
    }
}

fn collect_one<'t>(
    ctx: &FileCtx<'_>,
    c: Node<'t>,
    class: Option<&str>,
    depth: u32,
    out: &mut Vec<Item<'t>>,
    module: &mut Module,
) {
    let t = ctx.txt;
    match kind(c) {
        "preproc_if" | "preproc_ifdef" => {
            for arm in preproc_arms(t, c).arms {
                for item in arm {
                    collect_one(ctx, item, class, depth + 1, out, module);
                }
            }
        }
        "linkage_specification" => {
            if let Some(body) = field(c, "body") {
                if kind(body) == "declaration_list" {
                    collect_items(ctx, body, class, depth + 1, out, module);
                } else {
                    collect_one(ctx, body, class, depth + 1, out, module);
                }
            }
        }
        "namespace_definition" => {
            if let Some(body) = field(c, "body") {
                collect_items(ctx, body, class, depth + 1, out, module);
            }
        }
        "declaration_list" => collect_items(ctx, c, class, depth + 1, out, module),
        "ERROR" => {
            report_error_region(ctx, c, module);
            collect_items(ctx, c, class, depth + 1, out, module);
        }
        "function_definition"
        | "declaration"
        | "type_definition"
        | "struct_specifier"
        | "union_specifier"
        | "class_specifier"
        | "enum_specifier" => {
            out.push(Item {
                node: c,
                class: class.map(str::to_string),
            });
            if ctx.cpp {
                collect_members(ctx, c, depth, out, module);
            }
        }
        _ => {}
    }
}

/// C++ member functions defined inside a class body.
fn collect_members<'t>(
    ctx: &FileCtx<'_>,
    item: Node<'t>,
    depth: u32,
    out: &mut Vec<Item<'t>>,
    module: &mut Module,
) {
    let spec = match kind(item) {
        "class_specifier" | "struct_specifier" => Some(item),
        _ => field(item, "type")
            .filter(|ty| matches!(kind(ty), "class_specifier" | "struct_specifier")),
    };
    let Some(spec) = spec else { return };
    let (Some(name), Some(body)) = (field(spec, "name"), field(spec, "body")) else {
        return;
    };
    if depth > MAX_ITEM_DEPTH {
        module.problems.push(Problem {
            span: ctx.txt.span(spec),
            message: "class nested too deeply: skipped".to_string(),
        });
        return;
    }
    let class = ctx.txt.str(name).into_owned();
    let mut members = Vec::new();
    for m in children(body) {
        match kind(m) {
            "preproc_if" | "preproc_ifdef" => {
                for arm in preproc_arms(ctx.txt, m).arms {
                    members.extend(arm);
                }
            }
            _ => members.push(m),
        }
    }
    for m in members {
        if kind(m) == "function_definition" {
            out.push(Item {
                node: m,
                class: Some(class.clone()),
            });
        }
    }
}

/// A top-level region tree-sitter could not parse.
fn report_error_region(ctx: &FileCtx<'_>, n: Node<'_>, module: &mut Module) {
    let t = ctx.txt;
    // Initializer lists with `#if` inside come out as ERROR nodes holding
    // only directives: nothing is lost there.
    let text = t.bytes(n);
    if text.iter().all(u8::is_ascii_whitespace) {
        return;
    }
    module.problems.push(Problem {
        span: t.span(n),
        message: format!("could not parse `{}`: skipped", collapse(text, 60)),
    });
}

// ---- types ----

/// The enumerators of the enums an item defines (walked with a stack of
/// its own: nesting is unbounded in hostile input).
fn collect_enums(ctx: &mut FileCtx<'_>, n: Node<'_>) {
    let mut todo = vec![n];
    while let Some(n) = todo.pop() {
        match kind(n) {
            "enumerator_list" => {
                let names: Vec<String> = children(n)
                    .into_iter()
                    .filter(|c| kind(*c) == "enumerator")
                    .filter_map(|c| field(c, "name"))
                    .map(|name| ctx.txt.str(name).into_owned())
                    .collect();
                ctx.types.add_enum(names);
            }
            "compound_statement" | "initializer_list" => {}
            _ => todo.extend(children(n)),
        }
    }
}

fn collect_types(ctx: &mut FileCtx<'_>, item: &Item<'_>, module: &mut Module) {
    let n = item.node;
    if matches!(
        kind(n),
        "type_definition" | "declaration" | "enum_specifier"
    ) {
        collect_enums(ctx, n);
    }
    match kind(n) {
        "type_definition" => {
            let ty = field(n, "type");
            let mut names = Vec::new();
            for d in fields(n, "declarator") {
                let info = analyze_declarator(d);
                let Some(name) = info.name else { continue };
                let name = ctx.txt.str(name).into_owned();
                let (base, shape) = declared_type(ctx.txt, ty, info.shape);
                let mut class = ctx.types.classify(&base, shape);
                if info.function.is_some() {
                    class = TypeClass::Pointer;
                }
                if shape.depth == 0 && !shape.array && info.function.is_none() {
                    names.push(name.clone());
                }
                ctx.types.add_typedef(&name, class);
            }
            if let Some(ty) = ty {
                if let Some(s) = struct_def(ctx, ty, names) {
                    module.structs.push(s);
                }
            }
        }
        "declaration" | "field_declaration" => {
            if let Some(ty) = field(n, "type") {
                if let Some(s) = struct_def(ctx, ty, Vec::new()) {
                    module.structs.push(s);
                }
            }
        }
        "struct_specifier" | "union_specifier" | "class_specifier" => {
            if let Some(s) = struct_def(ctx, n, Vec::new()) {
                module.structs.push(s);
            }
        }
        _ => {}
    }
}

/// Text a struct's object head is recognised by (in the unpatched source).
const OBJECT_HEADS: &[&[u8]] = &[b"PyObject_HEAD", b"PyObject_VAR_HEAD", b"PyException_HEAD"];

/// A struct definition with a body; registers its names with the type
/// table. `typedef_names` are the names a surrounding typedef gives it.
fn struct_def(ctx: &mut FileCtx<'_>, spec: Node<'_>, mut names: Vec<String>) -> Option<StructDef> {
    if !matches!(
        kind(spec),
        "struct_specifier" | "class_specifier" | "union_specifier"
    ) {
        return None;
    }
    let body = field(spec, "body")?;
    let t = ctx.txt;
    if let Some(tag) = field(spec, "name") {
        names.insert(0, t.str(tag).into_owned());
    }
    if names.is_empty() {
        return None;
    }
    let mut fields_out = Vec::new();
    let mut is_object = false;
    let mut first = true;
    let mut decls = Vec::new();
    flatten_fields(t, body, &mut decls, 0);
    for fd in decls {
        let head = ctx.orig.get(fd.byte_range()).unwrap_or_default();
        if first && OBJECT_HEADS.iter().any(|h| head.starts_with(h)) {
            is_object = true;
        }
        let ty = field(fd, "type");
        let declarators = fields(fd, "declarator");
        for d in &declarators {
            let info = analyze_declarator(*d);
            let Some(name) = info.name else { continue };
            let (base, shape) = declared_type(t, ty, info.shape);
            let class = if info.function.is_some() {
                TypeClass::Pointer
            } else {
                ctx.types.classify(&base, shape)
            };
            if first && shape.depth == 0 && !shape.array {
                let fname = t.bytes(name);
                let base_name = crate::types::base_name(&base).unwrap_or("");
                if (fname == b"ob_base" && matches!(base_name, "PyObject" | "PyVarObject"))
                    || (ctx.types.is_objectish(base_name) && !base.starts_with("union"))
                {
                    is_object = true;
                }
            }
            fields_out.push(FieldDef {
                managed: false,
                name: t.str(name).into_owned(),
                c_type: c_type_string(&base, shape),
                ty: class,
                span: t.span(*d),
            });
        }
        first = false;
    }
    // C++ `struct Foo : PyObject { ... }`.
    for c in children(spec) {
        if kind(c) == "base_class_clause" {
            for b in children(c) {
                if matches!(kind(b), "type_identifier" | "qualified_identifier")
                    && ctx
                        .types
                        .is_objectish(crate::types::base_name(&t.str(b)).unwrap_or(""))
                {
                    is_object = true;
                }
            }
        }
    }
    for name in &names {
        if is_object {
            ctx.types.add_object_struct(name);
        }
        ctx.types.add_fields(name, &fields_out);
    }
    Some(StructDef {
        names,
        fields: fields_out,
        is_object,
        span: t.span(spec),
    })
}

/// Field declarations of a struct body, including those inside `#if` arms.
fn flatten_fields<'t>(t: Txt<'_>, body: Node<'t>, out: &mut Vec<Node<'t>>, depth: u32) {
    if depth > MAX_ITEM_DEPTH {
        return;
    }
    for c in children(body) {
        match kind(c) {
            "field_declaration" => out.push(c),
            "preproc_if" | "preproc_ifdef" => {
                for arm in preproc_arms(t, c).arms {
                    for x in arm {
                        if kind(x) == "field_declaration" {
                            out.push(x);
                        } else if matches!(kind(x), "preproc_if" | "preproc_ifdef") {
                            flatten_fields(t, x, out, depth + 1);
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

// ---- signatures ----

/// The function a definition or prototype declares: name node, declarator
/// info and return class.
struct Signature<'t> {
    name: Node<'t>,
    function: Node<'t>,
    returns: TypeClass,
    return_c_type: String,
}

fn signature<'t>(ctx: &FileCtx<'_>, n: Node<'t>, declarator: Node<'t>) -> Option<Signature<'t>> {
    let decl = if kind(declarator) == "init_declarator" {
        field(declarator, "declarator")?
    } else {
        declarator
    };
    let info = analyze_declarator(decl);
    let function = info.function?;
    let name = info.name?;
    let mut shape = info.shape;
    shape.array = false;
    let Some(ty) = field(n, "type") else {
        // A C++ constructor or destructor.
        return Some(Signature {
            name,
            function,
            returns: TypeClass::Void,
            return_c_type: String::new(),
        });
    };
    let (base, shape) = declared_type(ctx.txt, Some(ty), shape);
    Some(Signature {
        name,
        function,
        returns: ctx.types.classify(&base, shape),
        return_c_type: c_type_string(&base, shape),
    })
}

fn collect_signature(ctx: &mut FileCtx<'_>, n: Node<'_>) {
    let decls = match kind(n) {
        "function_definition" => field(n, "declarator").into_iter().collect(),
        "declaration" => fields(n, "declarator"),
        _ => return,
    };
    for d in decls {
        if let Some(sig) = signature(ctx, n, d) {
            let name = ctx.txt.str(sig.name).into_owned();
            // The first declaration wins, except that of C++ overloads
            // (`Require(PyObject *)`, `Require(int)`) the one returning an
            // object does: its calls are the ones whose result is used.
            let class = ctx.returns.entry(name).or_insert(sig.returns);
            if sig.returns == TypeClass::Object && ctx.cpp {
                *class = TypeClass::Object;
            }
        }
    }
}

// ---- lowering ----

fn lower_item(
    ctx: &FileCtx<'_>,
    item: &Item<'_>,
    module: &mut Module,
    tables: &mut TableCollector,
) {
    let n = item.node;
    match kind(n) {
        "function_definition" => {
            if let Some(f) = lower_definition(ctx, n, item.class.as_deref()) {
                module.functions.push(f);
            }
        }
        "declaration" => {
            for d in fields(n, "declarator") {
                if kind(d) == "init_declarator" {
                    tables.declaration(ctx, n, d, module);
                } else if let Some(sig) = signature(ctx, n, d) {
                    module.declarations.push(declaration(ctx, n, &sig));
                    continue;
                }
                global_variable(ctx, n, d, module);
            }
        }
        _ => {}
    }
}

/// A file-scope variable (`static PyObject *cache;`, `static PyTypeObject
/// Foo_Type = {...};`): the engine needs to know which names are objects.
fn global_variable(ctx: &FileCtx<'_>, n: Node<'_>, declarator: Node<'_>, module: &mut Module) {
    let t = ctx.txt;
    let is_extern = children(n)
        .iter()
        .any(|c| kind(c) == "storage_class_specifier" && t.bytes(*c) == b"extern");
    let decl = if kind(declarator) == "init_declarator" {
        field(declarator, "declarator")
    } else {
        Some(declarator)
    };
    let Some(info) = decl.map(analyze_declarator) else {
        return;
    };
    let (false, None, Some(name)) = (is_extern, info.function, info.name) else {
        return;
    };
    let (base, shape) = declared_type(t, field(n, "type"), info.shape);
    module.globals.push(refsan_ir::GlobalVar {
        name: t.str(name).into_owned(),
        ty: ctx.types.classify(&base, shape),
        c_type: c_type_string(&base, shape),
        span: t.span(declarator),
    });
}

fn lower_definition(
    ctx: &FileCtx<'_>,
    n: Node<'_>,
    class: Option<&str>,
) -> Option<refsan_ir::Function> {
    let t = ctx.txt;
    let sig = signature(ctx, n, field(n, "declarator")?)?;
    let mut name = t.collapsed(sig.name, 200);
    if let Some(class) = class {
        name = format!("{class}::{name}");
    }
    let is_static = children(n)
        .iter()
        .any(|c| kind(c) == "storage_class_specifier" && t.bytes(*c) == b"static");
    let body_start = field(n, "body").map_or(n.end_byte(), |b| b.start_byte());
    let declarator_end = field(n, "declarator").map_or(n.start_byte(), |d| d.end_byte());
    let between = ctx.orig.get(declarator_end..body_start).unwrap_or_default();
    let role = if find(between, b"[clinic end generated code:").is_some() {
        Role::PythonFacing
    } else {
        Role::Plain
    };
    let header_text = ctx.orig.get(n.start_byte()..body_start).unwrap_or_default();
    let declared = annotation_contract(header_text, sig.returns);
    let header = FunctionHeader {
        name,
        name_node: sig.name,
        function_declarator: sig.function,
        returns: sig.returns,
        return_c_type: sig.return_c_type,
        is_static,
        role,
        declared,
    };
    let mut function = body::lower_function(ctx, n, header);
    if role == Role::PythonFacing {
        // The clinic input block ends right above the definition.
        let from = n.start_byte().saturating_sub(32 << 10);
        let before = ctx.orig.get(from..n.start_byte()).unwrap_or_default();
        let converted = clinic_new_reference_params(before);
        function.handed_over = function
            .params
            .iter()
            .enumerate()
            .filter(|(_, p)| {
                converted
                    .iter()
                    .any(|c| *c == function.vars[p.index()].name)
            })
            .map(|(i, _)| i)
            .collect();
    }
    Some(function)
}

/// Converters Argument Clinic calls that store a new object in the
/// parameter; the generated wrapper does not release it, so the `_impl`
/// owns it (`PyUnicode_FSConverter` makes bytes, `PyUnicode_FSDecoder` a
/// str).
const CLINIC_NEW_REFERENCE_CONVERTERS: &[&str] = &["PyUnicode_FSConverter", "PyUnicode_FSDecoder"];

/// The parameters the clinic input block right before an `_impl` (the text
/// up to its definition) declares with such a converter:
/// `    path: object(converter="PyUnicode_FSConverter")`.
fn clinic_new_reference_params(before: &[u8]) -> Vec<String> {
    let Some(end) = crate::prepare::rfind(before, b"[clinic start generated code]") else {
        return Vec::new();
    };
    let Some(start) = crate::prepare::rfind(&before[..end], b"[clinic input]") else {
        return Vec::new();
    };
    let block = String::from_utf8_lossy(&before[start..end]);
    let mut out = Vec::new();
    for line in block.lines() {
        let Some((name, spec)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim();
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            continue;
        }
        let spec: String = spec.chars().filter(|c| !c.is_whitespace()).collect();
        if CLINIC_NEW_REFERENCE_CONVERTERS.iter().any(|c| {
            spec.contains(&format!("converter=\"{c}\""))
                || spec.contains(&format!("converter='{c}'"))
        }) {
            out.push(name.to_string());
        }
    }
    out
}

fn declaration(ctx: &FileCtx<'_>, n: Node<'_>, sig: &Signature<'_>) -> Declaration {
    let t = ctx.txt;
    let param_count = field(sig.function, "parameters")
        .map(|list| {
            let params: Vec<Node<'_>> = children(list)
                .into_iter()
                .filter(|p| {
                    matches!(
                        kind(p),
                        "parameter_declaration" | "optional_parameter_declaration"
                    )
                })
                .collect();
            if params.len() == 1
                && field(params[0], "declarator").is_none()
                && t.bytes(params[0]) == b"void"
            {
                0
            } else {
                params.len()
            }
        })
        .unwrap_or(0);
    let contract = annotation_contract(
        ctx.orig.get(n.byte_range()).unwrap_or_default(),
        sig.returns,
    )
    .map(|c| (c, ContractSource::Annotation));
    Declaration {
        name: t.collapsed(sig.name, 200),
        returns: sig.returns,
        param_count,
        contract,
        noexcept: false,
        span: t.span(n),
    }
}

/// The contract stated by cpychecker's annotation macros in `text`, if any.
pub(crate) fn annotation_contract(text: &[u8], returns: TypeClass) -> Option<Contract> {
    let mut at = 0;
    let mut contract: Option<Contract> = None;
    while let Some(p) = find(&text[at..], b"CPYCHECKER_") {
        let start = at + p;
        let mut end = start;
        while end < text.len() && crate::prepare::is_ident_char(text[end]) {
            end += 1;
        }
        at = end;
        let word = &text[start..end];
        let c = contract.get_or_insert_with(|| Contract {
            returns: match returns {
                TypeClass::Object => Returns::Unknown,
                TypeClass::Void => Returns::Void,
                _ => Returns::NotObject,
            },
            ..Contract::unknown()
        });
        match word {
            b"CPYCHECKER_RETURNS_BORROWED_REF" => c.returns = Returns::Borrowed,
            b"CPYCHECKER_NEGATIVE_RESULT_SETS_EXCEPTION" => c.failure = Failure::Negative,
            b"CPYCHECKER_SETS_EXCEPTION" => c.exc = ExcEffect::Sets,
            b"CPYCHECKER_STEALS_REFERENCE_TO_ARG" => {
                let rest = &text[end..];
                let open = rest.iter().position(|b| !b.is_ascii_whitespace());
                if let Some(open) = open.filter(|o| rest[*o] == b'(') {
                    let close = rest[open..]
                        .iter()
                        .position(|b| *b == b')')
                        .map(|c| open + c);
                    if let Some(close) = close {
                        let num = String::from_utf8_lossy(&rest[open + 1..close])
                            .trim()
                            .to_string();
                        if let Ok(k) = num.parse::<usize>() {
                            if k >= 1 {
                                c.set_arg(k - 1, ArgEffect::Steal);
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
    contract
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpychecker_annotations() {
        let c = annotation_contract(
            b"PyObject *f(PyObject *a, PyObject *b) CPYCHECKER_STEALS_REFERENCE_TO_ARG(2) CPYCHECKER_RETURNS_BORROWED_REF",
            TypeClass::Object,
        )
        .unwrap();
        assert_eq!(c.returns, Returns::Borrowed);
        assert_eq!(c.arg(1), ArgEffect::Steal);
        assert_eq!(c.arg(0), ArgEffect::Borrow);
        let n = annotation_contract(
            b"int g(void) CPYCHECKER_NEGATIVE_RESULT_SETS_EXCEPTION;",
            TypeClass::Int,
        )
        .unwrap();
        assert_eq!(n.failure, Failure::Negative);
        assert_eq!(n.returns, Returns::NotObject);
        assert!(annotation_contract(b"int h(void);", TypeClass::Int).is_none());
    }
}
