//! Lowering one function definition into a CFG.
//!
//! One recursive walk over the body. Expressions are lowered to
//! [`Operand`]s; nested calls go into temporaries; conditions become
//! branches. Every recursive entry point counts depth and gives up on a
//! subtree (marking the function approximate) past [`MAX_DEPTH`], so deep
//! input cannot overflow the stack.

mod cond;
mod cpython;
mod expand;
mod expr;
mod stmt;

use crate::ctx::FileCtx;
use crate::prepare::identifiers;
use crate::syntax::{
    self, analyze_declarator, c_type_string, children, field, fields, kind, py_unused_name, Txt,
};
use crate::types::Shape;
use refsan_ir::{
    BlockId, Contract, ContractSource, Function, FunctionBuilder, Operand, Origin, Role, Span,
    StmtKind, TypeClass, VarId, VarKind,
};
use std::collections::HashMap;
use tree_sitter::Node;

/// Deepest statement/expression nesting lowered faithfully.
pub(crate) const MAX_DEPTH: u32 = 160;

/// Where a lowered call (or expression) puts its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dst {
    /// The value is not used.
    Discard,
    /// A fresh temporary; its operand is returned.
    Temp,
    /// This local variable.
    Var(VarId),
}

/// What an identifier in a body refers to.
enum Resolved {
    Local(VarId),
    /// A function-level `static`: behaves as a global of that name.
    Static(VarId),
    Global,
    Null,
    Int(i64),
}

/// Lexical scopes of a function body: innermost binding wins.
#[derive(Default)]
struct Scopes {
    names: Vec<(Box<[u8]>, VarId)>,
    marks: Vec<usize>,
}

impl Scopes {
    fn push(&mut self) {
        self.marks.push(self.names.len());
    }

    fn pop(&mut self) {
        if let Some(m) = self.marks.pop() {
            self.names.truncate(m);
        }
    }

    fn lookup(&self, name: &[u8]) -> Option<VarId> {
        self.names
            .iter()
            .rev()
            .find(|(n, _)| &**n == name)
            .map(|(_, v)| *v)
    }

    /// A binding made in the innermost scope (a redeclaration there comes
    /// from the other arm of an `#if`).
    fn lookup_innermost(&self, name: &[u8]) -> Option<VarId> {
        let start = self.marks.last().copied().unwrap_or(0);
        self.names[start..]
            .iter()
            .rev()
            .find(|(n, _)| &**n == name)
            .map(|(_, v)| *v)
    }

    fn bind(&mut self, name: &[u8], v: VarId) {
        self.names.push((name.into(), v));
    }
}

/// The block a `switch` dispatches to, collected while lowering its body.
struct SwitchCtx {
    targets: Vec<BlockId>,
    has_default: bool,
    /// The constants the `case`s name: a switch without `default` over all
    /// six rich-comparison operators covers every value of `op`.
    names: Vec<Vec<u8>>,
    /// Each `case` (not `default`): its block, its value when it is an
    /// integer constant, its text and span.
    cases: Vec<(BlockId, Option<i64>, String, Span)>,
    /// The `default` block.
    default: Option<BlockId>,
}

pub(crate) struct Lowerer<'f> {
    ctx: &'f FileCtx<'f>,
    b: FunctionBuilder,
    scopes: Scopes,
    labels: HashMap<Vec<u8>, BlockId>,
    /// Labels whose statement was seen (a `goto` may name one that a parse
    /// error swallowed).
    defined_labels: std::collections::HashSet<Vec<u8>>,
    breaks: Vec<BlockId>,
    continues: Vec<BlockId>,
    switches: Vec<SwitchCtx>,
    depth: u32,
    /// Same-file macros being expanded (innermost last).
    expanding: Vec<String>,
    /// One arm variable per `#if` condition chain of the function.
    pub(super) pp_vars: HashMap<String, VarId>,
    /// Statements lowered from a same-file macro expansion get this origin.
    macro_origin: Option<String>,
    /// The function's return class (`return 0;` in a pointer function is
    /// `return NULL;`).
    returns: TypeClass,
}

/// The header of a function definition, as the item walk found it.
pub(crate) struct FunctionHeader<'t> {
    pub name: String,
    pub name_node: Node<'t>,
    pub function_declarator: Node<'t>,
    pub returns: TypeClass,
    pub return_c_type: String,
    pub is_static: bool,
    pub role: Role,
    pub declared: Option<Contract>,
}

pub(crate) fn lower_function(
    ctx: &FileCtx<'_>,
    def: Node<'_>,
    header: FunctionHeader<'_>,
) -> Function {
    let t = ctx.txt;
    let returns = header.returns;
    let mut b = FunctionBuilder::new(header.name, t.span(def), t.span(header.name_node));
    b.set_static(header.is_static);
    b.set_returns(header.returns, header.return_c_type);
    b.set_role(header.role);
    if let Some(c) = header.declared {
        b.set_declared(c, ContractSource::Annotation);
    }
    let mut l = Lowerer {
        ctx,
        b,
        scopes: Scopes::default(),
        labels: HashMap::new(),
        defined_labels: std::collections::HashSet::new(),
        breaks: Vec::new(),
        continues: Vec::new(),
        switches: Vec::new(),
        depth: 0,
        expanding: Vec::new(),
        pp_vars: HashMap::new(),
        macro_origin: None,
        returns,
    };
    l.scopes.push();
    l.params(t, header.function_declarator);
    l.member_initializers(t, def);
    let end = match field(def, "body") {
        Some(body) => {
            l.block_items(t, body);
            match body.child(body.child_count().saturating_sub(1)) {
                Some(close) => t.span(close),
                None => t.span(body),
            }
        }
        None => t.span(def),
    };
    l.undefined_labels(end);
    l.b.finish(end)
}

impl<'f> Lowerer<'f> {
    fn params(&mut self, t: Txt<'_>, function: Node<'_>) {
        let Some(list) = field(function, "parameters") else {
            return;
        };
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
            return;
        }
        for (i, p) in params.iter().enumerate() {
            let (name, shape, span) = match field(*p, "declarator") {
                Some(d) => {
                    let info = analyze_declarator(d);
                    let unused = info.function.and_then(|f| py_unused_name(&t, f));
                    let mut shape = info.shape;
                    if unused.is_some() {
                        shape.function_pointer = false;
                    }
                    let name: Vec<u8> = match (unused, info.name) {
                        (Some(u), _) => u.to_vec(),
                        (None, Some(n)) => t.bytes(n).to_vec(),
                        (None, None) => format!("_{i}").into_bytes(),
                    };
                    (name, shape, t.span(d))
                }
                None => (format!("_{i}").into_bytes(), Shape::default(), t.span(*p)),
            };
            let (base, shape) = declared_type(t, field(*p, "type"), shape);
            let class = self.ctx.types.classify(&base, shape);
            let v = self.b.add_param(
                String::from_utf8_lossy(&name).into_owned(),
                class,
                c_type_string(&base, shape),
                span,
            );
            self.scopes.bind(&name, v);
        }
    }

    /// C++ `Foo(PyObject *o) : obj(o) {}`: each member initialised from
    /// its arguments (a store into the object being built).
    fn member_initializers(&mut self, t: Txt<'_>, def: Node<'_>) {
        for list in children(def) {
            if kind(list) != "field_initializer_list" {
                continue;
            }
            for init in children(list) {
                let span = t.span(init);
                let Some(args) = children(init)
                    .into_iter()
                    .find(|c| matches!(kind(c), "argument_list" | "initializer_list"))
                else {
                    continue;
                };
                for a in children(args) {
                    let value = self.value(t, a);
                    self.emit(
                        StmtKind::Store {
                            place: refsan_ir::Place::Opaque,
                            value,
                        },
                        span,
                    );
                }
            }
        }
    }

    // ---- emission helpers ----

    fn origin(&self) -> Origin {
        match &self.macro_origin {
            Some(m) => Origin::Macro(m.clone()),
            None => Origin::Source,
        }
    }

    fn emit(&mut self, kind: StmtKind, span: Span) {
        let origin = self.origin();
        self.b.push(kind, span, origin);
    }

    /// A statement a CPython macro produced (unless an enclosing same-file
    /// macro expansion claims it).
    fn emit_macro(&mut self, kind: StmtKind, span: Span, name: &str) {
        let origin = match &self.macro_origin {
            Some(m) => Origin::Macro(m.clone()),
            None => Origin::Macro(name.to_string()),
        };
        self.b.push(kind, span, origin);
    }

    fn new_temp(&mut self, ty: TypeClass, span: Span) -> VarId {
        self.b.new_temp(ty, span)
    }

    /// Reads a temporary nobody else will read, so it is consumed.
    fn consume(&mut self, op: &Operand, span: Span) {
        if let Operand::Var(v) = op {
            if self.b.var(*v).kind == VarKind::Temp {
                self.emit(
                    StmtKind::Use {
                        value: op.clone(),
                        kind: refsan_ir::UseKind::Read,
                    },
                    span,
                );
            }
        }
    }

    /// The value moves somewhere the IR cannot follow.
    fn escape(&mut self, op: Operand, span: Span) {
        if matches!(op, Operand::Var(_) | Operand::Field(..)) {
            self.emit(StmtKind::Escape { value: op }, span);
        }
    }

    fn resolve(&self, name: &[u8]) -> Resolved {
        if let Some(v) = self.scopes.lookup(name) {
            return if self.b.var(v).kind == VarKind::Static {
                Resolved::Static(v)
            } else {
                Resolved::Local(v)
            };
        }
        if syntax::is_null_name(name) {
            return Resolved::Null;
        }
        match name {
            b"true" => Resolved::Int(1),
            b"false" => Resolved::Int(0),
            _ => match self.constant_macro(name) {
                Some(k) => Resolved::Int(k),
                None => Resolved::Global,
            },
        }
    }

    /// The value of an object-like macro that stands for a constant: an
    /// integer (`#define ERR -2`) or a sentinel pointer made from a non-zero
    /// integer (`#define ERROR_STRICT (PyObject *)(1)`), not an object.
    fn constant_macro(&self, name: &[u8]) -> Option<i64> {
        let body = self.object_macro_body(name)?;
        crate::prepare::sentinel_value(body).or_else(|| crate::prepare::int_value(body))
    }

    /// The value of an object-like macro that is an integer constant.
    pub(super) fn int_macro(&self, name: &[u8]) -> Option<i64> {
        crate::prepare::int_value(self.object_macro_body(name)?)
    }

    fn object_macro_body(&self, name: &[u8]) -> Option<&str> {
        let def = self.ctx.macros.get(std::str::from_utf8(name).ok()?)?;
        def.object_like.then_some(def.body.as_str())
    }

    fn class_of(&self, op: &Operand) -> Option<TypeClass> {
        match op {
            Operand::Var(v) => Some(self.b.var(*v).ty),
            Operand::Field(v, f) => self.ctx.types.field_class(&self.b.var(*v).c_type, f),
            Operand::Null | Operand::AddrOf(_) | Operand::Str(_) => Some(TypeClass::Pointer),
            Operand::Int(_) => Some(TypeClass::Int),
            Operand::Global(g) => match g.as_str() {
                "Py_None" | "Py_True" | "Py_False" | "Py_NotImplemented" | "Py_Ellipsis" => {
                    Some(TypeClass::Object)
                }
                _ => None,
            },
            Operand::Opaque => None,
        }
    }

    fn is_pointerish(&self, op: &Operand) -> bool {
        matches!(
            self.class_of(op),
            Some(TypeClass::Object | TypeClass::ObjectPtrPtr | TypeClass::Pointer)
        )
    }

    /// Declares a local (reusing a same-scope binding of the same name,
    /// which only happens across `#if` arms).
    fn declare(
        &mut self,
        t: Txt<'_>,
        name: Node<'_>,
        class: TypeClass,
        c_type: String,
        kind: VarKind,
    ) -> VarId {
        let bytes = t.bytes(name);
        if let Some(v) = self.scopes.lookup_innermost(bytes) {
            return v;
        }
        let v = self.b.add_var(
            String::from_utf8_lossy(bytes).into_owned(),
            class,
            c_type,
            kind,
            t.span(name),
        );
        self.scopes.bind(bytes, v);
        v
    }

    /// A `goto` to a label that never appeared (lost in a parse error, such
    /// as a macro used without the `;` its body carries): where it goes is
    /// unknown, so those paths end there instead of falling off the end.
    fn undefined_labels(&mut self, end: Span) {
        let mut missing: Vec<(Vec<u8>, BlockId)> = self
            .labels
            .iter()
            .filter(|(name, _)| !self.defined_labels.contains(*name))
            .map(|(name, b)| (name.clone(), *b))
            .collect();
        missing.sort();
        for (name, b) in missing {
            self.b.switch_to(b);
            self.b.terminate(refsan_ir::Terminator::Unreachable, end);
            self.b.mark_approximate(
                end,
                format!(
                    "`goto {}` names a label that was not parsed",
                    String::from_utf8_lossy(&name)
                ),
            );
        }
    }

    fn label_block(&mut self, name: &[u8]) -> BlockId {
        if let Some(b) = self.labels.get(name) {
            return *b;
        }
        let b = self.b.new_block();
        self.labels.insert(name.to_vec(), b);
        b
    }

    /// Gives up on a construct: the function becomes approximate and every
    /// local named in it gets an unknown value.
    fn give_up(&mut self, t: Txt<'_>, n: Node<'_>, why: &str) {
        let span = t.span(n);
        let snippet = t.collapsed(n, 60);
        self.b.mark_approximate(span, format!("{why}: `{snippet}`"));
        let mut seen: Vec<VarId> = Vec::new();
        for id in identifiers(t.bytes(n)) {
            if let Some(v) = self.scopes.lookup(id) {
                if matches!(self.b.var(v).kind, VarKind::Local | VarKind::Param(_))
                    && !seen.contains(&v)
                {
                    seen.push(v);
                    self.emit(StmtKind::Havoc { var: v }, span);
                }
            }
        }
    }

    fn too_deep(&mut self, t: Txt<'_>, n: Node<'_>) {
        self.give_up(t, n, "nesting too deep to analyse");
    }
}

/// The type specifier for classification, plus pointer levels it adds
/// itself: `PyObject` → ("PyObject", 0), `struct foo` → ("struct foo", 0),
/// `Py_LOCAL_INLINE(PyObject *)` → ("PyObject", 1).
pub(crate) fn type_base(t: Txt<'_>, ty: Node<'_>) -> (String, u32) {
    // `Py_LOCAL_INLINE(PyObject *)` wraps a type: unwrap iteratively.
    let mut ty = ty;
    let mut extra = 0;
    for _ in 0..32 {
        if kind(ty) != "macro_type_specifier" {
            break;
        }
        let Some(desc) = field(ty, "type") else {
            return (t.str(ty).into_owned(), extra);
        };
        extra += field(desc, "declarator")
            .map(|d| analyze_declarator(d).shape.depth)
            .unwrap_or(0);
        match field(desc, "type") {
            Some(inner) => ty = inner,
            None => return (String::new(), extra),
        }
    }
    let base = match kind(ty) {
        "struct_specifier" | "union_specifier" | "class_specifier" => {
            let kw = match kind(ty) {
                "union_specifier" => "union",
                "class_specifier" => "class",
                _ => "struct",
            };
            match field(ty, "name") {
                Some(n) => format!("{kw} {}", t.str(n)),
                None => kw.to_string(),
            }
        }
        "enum_specifier" => "enum".to_string(),
        _ => syntax::collapse(t.bytes(ty), 120),
    };
    (base, extra)
}

/// The base type and shape of a declared name: the declarator's shape plus
/// the pointers a macro type specifier adds.
pub(crate) fn declared_type(t: Txt<'_>, ty: Option<Node<'_>>, mut shape: Shape) -> (String, Shape) {
    let (base, extra) = ty.map(|ty| type_base(t, ty)).unwrap_or_default();
    shape.depth += extra;
    (base, shape)
}

/// The declarators of a declaration (`int a, *b = f();`).
pub(crate) fn declarators<'t>(n: Node<'t>) -> Vec<Node<'t>> {
    fields(n, "declarator")
}
