//! Expressions: values, assignments, calls, places.

use super::{declared_type, Dst, Lowerer, Resolved, MAX_DEPTH};
use crate::syntax::{
    analyze_declarator, children, cpp_cast_operand, field, first_child, kind, operator, parse_char,
    parse_int, string_value, strip_casts, strip_parens, Txt,
};
use refsan_ir::{Callee, Operand, Place, StmtKind, Terminator, TypeClass, UseKind, VarId, VarKind};
use tree_sitter::Node;

/// A place assigned to or cleared, and how to read its current value.
pub(super) struct LValue {
    pub place: Place,
    pub read: Operand,
    /// Reading the place dereferences this variable (`base->f`, `*p`).
    pub deref: Option<VarId>,
}

/// Type slots called through a type whose contract the knowledge base
/// states (a new reference or NULL with an exception).
const TYPE_SLOT_CALLS: &[&str] = &["tp_alloc", "tp_new"];

impl Lowerer<'_> {
    /// The value of an expression, with its side effects emitted.
    pub(super) fn value(&mut self, t: Txt<'_>, n: Node<'_>) -> Operand {
        if self.depth >= MAX_DEPTH {
            self.too_deep(t, n);
            return Operand::Opaque;
        }
        self.depth += 1;
        let op = self.value_inner(t, n);
        self.depth -= 1;
        op
    }

    fn value_inner(&mut self, t: Txt<'_>, n: Node<'_>) -> Operand {
        match kind(n) {
            "parenthesized_expression" => self.parenthesized(t, n),
            "identifier" => self.identifier(t, n),
            "null" | "nullptr" => Operand::Null,
            "true" => Operand::Int(1),
            "false" => Operand::Int(0),
            "number_literal" => parse_int(t.bytes(n)).map_or(Operand::Opaque, Operand::Int),
            "char_literal" => parse_char(t.bytes(n)).map_or(Operand::Opaque, Operand::Int),
            "string_literal" | "concatenated_string" | "raw_string_literal" => {
                string_value(&t, n).map_or(Operand::Opaque, Operand::Str)
            }
            "cast_expression" => self.cast(t, n),
            "call_expression" => self.call(t, n, Dst::Temp),
            "field_expression" => self.field_read(t, n),
            "subscript_expression" => self.index_read(t, n),
            "pointer_expression" => self.pointer_expression(t, n),
            "unary_expression" => self.unary(t, n),
            "binary_expression" => self.binary(t, n),
            "assignment_expression" => self.assign(t, n),
            "update_expression" => {
                let span = t.span(n);
                if let Some(arg) = field(n, "argument") {
                    self.overwrite(t, arg, span);
                }
                Operand::Opaque
            }
            "conditional_expression" => self.ternary_value(t, n),
            "comma_expression" => {
                if let Some(l) = field(n, "left") {
                    self.discard(t, l);
                }
                match field(n, "right") {
                    Some(r) => self.value(t, r),
                    None => Operand::Opaque,
                }
            }
            "extension_expression" => match first_child(n) {
                Some(e) => self.value(t, e),
                None => Operand::Opaque,
            },
            // Not evaluated at run time.
            "sizeof_expression"
            | "alignof_expression"
            | "offsetof_expression"
            | "generic_expression"
            | "requires_expression"
            | "type_descriptor"
            | "ERROR" => Operand::Opaque,
            // Code the IR does not follow: the locals it names escape (a
            // lambda may release them later) or get unknown values (asm
            // outputs).
            "lambda_expression" => {
                self.locals_in(t, n, |v| StmtKind::Escape {
                    value: Operand::Var(v),
                });
                Operand::Opaque
            }
            "gnu_asm_expression" => {
                self.locals_in(t, n, |v| StmtKind::Havoc { var: v });
                Operand::Opaque
            }
            "qualified_identifier" | "template_function" | "this" | "user_defined_literal" => {
                Operand::Global(t.collapsed(n, 200))
            }
            "initializer_list"
            | "compound_literal_expression"
            | "new_expression"
            | "delete_expression" => self.escaping_aggregate(t, n),
            _ => {
                // Unknown expression: its calls still happen.
                let span = t.span(n);
                for c in children(n) {
                    let op = self.value(t, c);
                    self.consume(&op, span);
                }
                Operand::Opaque
            }
        }
    }

    /// Emits `stmt(v)` once for each local or parameter named in `n`.
    fn locals_in(&mut self, t: Txt<'_>, n: Node<'_>, stmt: impl Fn(VarId) -> StmtKind) {
        let span = t.span(n);
        let mut seen: Vec<VarId> = Vec::new();
        for id in crate::prepare::identifiers(t.bytes(n)) {
            if let Resolved::Local(v) = self.resolve(id) {
                if !seen.contains(&v) {
                    seen.push(v);
                    self.emit(stmt(v), span);
                }
            }
        }
    }

    fn parenthesized(&mut self, t: Txt<'_>, n: Node<'_>) -> Operand {
        let Some(inner) = first_child(n) else {
            return Operand::Opaque;
        };
        if kind(inner) == "compound_statement" {
            return self.statement_expression(t, inner);
        }
        self.value(t, inner)
    }

    /// GNU `({ stmts; value; })`.
    fn statement_expression(&mut self, t: Txt<'_>, block: Node<'_>) -> Operand {
        let items = children(block);
        self.scopes.push();
        let mut result = Operand::Opaque;
        for (i, item) in items.iter().enumerate() {
            if i + 1 == items.len() && kind(item) == "expression_statement" && !item.has_error() {
                if let Some(e) = first_child(*item) {
                    result = self.value(t, e);
                }
            } else {
                self.stmt(t, *item);
            }
        }
        self.scopes.pop();
        result
    }

    fn identifier(&mut self, t: Txt<'_>, n: Node<'_>) -> Operand {
        let name = t.bytes(n);
        match self.resolve(name) {
            Resolved::Local(v) => Operand::Var(v),
            Resolved::Static(v) => Operand::Global(self.b.var(v).name.clone()),
            Resolved::Null => Operand::Null,
            Resolved::Int(k) => Operand::Int(k),
            Resolved::Global => Operand::Global(String::from_utf8_lossy(name).into_owned()),
        }
    }

    /// Casts are transparent, except that `(T *)0` is NULL.
    fn cast(&mut self, t: Txt<'_>, n: Node<'_>) -> Operand {
        let Some(v) = field(n, "value") else {
            return Operand::Opaque;
        };
        let op = self.value(t, v);
        // `(state *)get_state(m)`: a call whose return type is not known
        // here returns what the cast says, a C pointer.
        if let (Operand::Var(tmp), Some(ty), "call_expression") = (&op, field(n, "type"), kind(v)) {
            let var = self.b.var(*tmp);
            if var.kind == VarKind::Temp && var.ty == TypeClass::Other {
                let shape = field(ty, "declarator")
                    .map(|d| analyze_declarator(d).shape)
                    .unwrap_or_default();
                let (base, shape) = declared_type(t, field(ty, "type"), shape);
                if self.ctx.types.classify(&base, shape) == TypeClass::Pointer {
                    self.b.set_temp_type(*tmp, TypeClass::Pointer);
                }
            }
        }
        let pointer_type = field(n, "type").is_some_and(|ty| t.bytes(ty).contains(&b'*'));
        if pointer_type && op == Operand::Int(0) {
            Operand::Null
        } else {
            op
        }
    }

    fn unary(&mut self, t: Txt<'_>, n: Node<'_>) -> Operand {
        let span = t.span(n);
        let op = operator(&t, n);
        let Some(arg) = field(n, "argument") else {
            return Operand::Opaque;
        };
        let v = self.value(t, arg);
        match (op, &v) {
            (b"-", Operand::Int(k)) => Operand::Int(k.wrapping_neg()),
            (b"+", Operand::Int(k)) => Operand::Int(*k),
            _ => {
                self.consume(&v, span);
                Operand::Opaque
            }
        }
    }

    fn binary(&mut self, t: Txt<'_>, n: Node<'_>) -> Operand {
        if matches!(
            operator(&t, n),
            b"&&" | b"||" | b"==" | b"!=" | b"<" | b"<=" | b">" | b">="
        ) {
            // The right operand of && and || runs only on some paths.
            return self.truth_value(t, n);
        }
        let span = t.span(n);
        for side in ["left", "right"] {
            if let Some(s) = field(n, side) {
                let op = self.value(t, s);
                self.consume(&op, span);
            }
        }
        Operand::Opaque
    }

    /// A condition used as a value (`cmp = y != NULL`): 1 on the paths where
    /// it holds, 0 on the others, so a later test of the result follows it.
    fn truth_value(&mut self, t: Txt<'_>, n: Node<'_>) -> Operand {
        let span = t.span(n);
        let then_bb = self.b.new_block();
        let else_bb = self.b.new_block();
        let join = self.b.new_block();
        let tmp = self.new_temp(TypeClass::Int, span);
        self.cond(t, n, then_bb, else_bb);
        for (bb, k) in [(then_bb, 1), (else_bb, 0)] {
            self.b.switch_to(bb);
            self.emit(
                StmtKind::Assign {
                    dst: tmp,
                    src: Operand::Int(k),
                },
                span,
            );
            self.b.terminate(Terminator::Goto(join), span);
        }
        self.b.switch_to(join);
        Operand::Var(tmp)
    }

    /// `c ? a : b` as a value: both arms assign one temporary.
    fn ternary_value(&mut self, t: Txt<'_>, n: Node<'_>) -> Operand {
        let span = t.span(n);
        let then_bb = self.b.new_block();
        let else_bb = self.b.new_block();
        let join = self.b.new_block();
        let consequence = field(n, "consequence");
        let alternative = field(n, "alternative");
        let class = consequence
            .or(alternative)
            .map(strip_parens)
            .and_then(|e| match kind(e) {
                "identifier" => self.scopes.lookup(t.bytes(e)).map(|v| self.b.var(v).ty),
                _ => None,
            })
            .unwrap_or(TypeClass::Other);
        let tmp = self.new_temp(class, span);
        match field(n, "condition") {
            Some(c) => self.cond(t, c, then_bb, else_bb),
            None => self
                .b
                .terminate(Terminator::Choose(vec![then_bb, else_bb]), span),
        }
        for (bb, arm) in [(then_bb, consequence), (else_bb, alternative)] {
            self.b.switch_to(bb);
            match arm {
                Some(arm) => self.assign_to_var(t, arm, tmp),
                // GNU `c ?: b`: the condition's value, evaluated once.
                None => self.emit(
                    StmtKind::Assign {
                        dst: tmp,
                        src: Operand::Opaque,
                    },
                    span,
                ),
            }
            if self.b.is_open() {
                self.b.terminate(Terminator::Goto(join), span);
            }
        }
        self.b.switch_to(join);
        Operand::Var(tmp)
    }

    /// `{...}`, compound literals, `new T(args)`: the values end up inside
    /// an object the IR does not model.
    fn escaping_aggregate(&mut self, t: Txt<'_>, n: Node<'_>) -> Operand {
        let span = t.span(n);
        let mut stack = vec![n];
        let mut steps = 0;
        while let Some(cur) = stack.pop() {
            steps += 1;
            if steps > 10_000 {
                break;
            }
            for c in children(cur) {
                match kind(c) {
                    "initializer_list" | "argument_list" => stack.push(c),
                    "initializer_pair" => {
                        if let Some(v) = field(c, "value") {
                            if kind(v) == "initializer_list" {
                                stack.push(v);
                            } else {
                                let op = self.value(t, v);
                                self.escape(op, span);
                            }
                        }
                    }
                    "type_descriptor"
                    | "primitive_type"
                    | "type_identifier"
                    | "qualified_identifier"
                    | "template_type"
                    | "new_declarator" => {}
                    _ => {
                        let op = self.value(t, c);
                        self.escape(op, span);
                    }
                }
            }
        }
        Operand::Opaque
    }

    /// An expression whose value is not used.
    pub(super) fn discard(&mut self, t: Txt<'_>, n: Node<'_>) {
        if self.depth >= MAX_DEPTH {
            self.too_deep(t, n);
            return;
        }
        self.depth += 1;
        self.discard_inner(t, n);
        self.depth -= 1;
    }

    fn discard_inner(&mut self, t: Txt<'_>, n: Node<'_>) {
        let span = t.span(n);
        match kind(n) {
            "parenthesized_expression" => match first_child(n) {
                Some(inner) if kind(inner) != "compound_statement" => self.discard(t, inner),
                _ => {
                    let op = self.value(t, n);
                    self.consume(&op, span);
                }
            },
            "cast_expression" => {
                if let Some(v) = field(n, "value") {
                    self.discard(t, v);
                }
            }
            "call_expression" => {
                self.call(t, n, Dst::Discard);
            }
            "assignment_expression" => {
                self.assign(t, n);
            }
            "comma_expression" => {
                for side in ["left", "right"] {
                    if let Some(s) = field(n, side) {
                        self.discard(t, s);
                    }
                }
            }
            "conditional_expression" => {
                let then_bb = self.b.new_block();
                let else_bb = self.b.new_block();
                let join = self.b.new_block();
                match field(n, "condition") {
                    Some(c) => self.cond(t, c, then_bb, else_bb),
                    None => self
                        .b
                        .terminate(Terminator::Choose(vec![then_bb, else_bb]), span),
                }
                for (bb, arm) in [(then_bb, "consequence"), (else_bb, "alternative")] {
                    self.b.switch_to(bb);
                    if let Some(a) = field(n, arm) {
                        self.discard(t, a);
                    }
                    if self.b.is_open() {
                        self.b.terminate(Terminator::Goto(join), span);
                    }
                }
                self.b.switch_to(join);
            }
            "identifier" => {
                // A bare macro used as a statement inside an expression
                // (`x ? Py_RETURN_NONE : ...` does not exist); nothing runs.
            }
            _ => {
                let op = self.value(t, n);
                self.consume(&op, span);
            }
        }
    }

    /// Lowers `n` so that its value ends up in the local `dst`.
    pub(super) fn assign_to_var(&mut self, t: Txt<'_>, n: Node<'_>, dst: VarId) {
        if self.depth >= MAX_DEPTH {
            self.too_deep(t, n);
            return;
        }
        self.depth += 1;
        self.assign_to_var_inner(t, n, dst);
        self.depth -= 1;
    }

    fn assign_to_var_inner(&mut self, t: Txt<'_>, n: Node<'_>, dst: VarId) {
        let span = t.span(n);
        let stripped = strip_parens(n);
        match kind(stripped) {
            "call_expression" => {
                self.call(t, stripped, Dst::Var(dst));
            }
            "cast_expression" => {
                let inner = field(stripped, "value");
                let pointer_type =
                    field(stripped, "type").is_some_and(|ty| t.bytes(ty).contains(&b'*'));
                match inner {
                    Some(inner) if !(pointer_type && is_zero(&t, inner)) => {
                        self.assign_to_var(t, inner, dst);
                    }
                    _ => {
                        let op = self.value(t, stripped);
                        self.assign_local(dst, op, span);
                    }
                }
            }
            "conditional_expression" => {
                let then_bb = self.b.new_block();
                let else_bb = self.b.new_block();
                let join = self.b.new_block();
                match field(stripped, "condition") {
                    Some(c) => self.cond(t, c, then_bb, else_bb),
                    None => self
                        .b
                        .terminate(Terminator::Choose(vec![then_bb, else_bb]), span),
                }
                for (bb, arm) in [(then_bb, "consequence"), (else_bb, "alternative")] {
                    self.b.switch_to(bb);
                    match field(stripped, arm) {
                        Some(a) => self.assign_to_var(t, a, dst),
                        None => self.emit(
                            StmtKind::Assign {
                                dst,
                                src: Operand::Opaque,
                            },
                            span,
                        ),
                    }
                    if self.b.is_open() {
                        self.b.terminate(Terminator::Goto(join), span);
                    }
                }
                self.b.switch_to(join);
            }
            "comma_expression" => {
                if let Some(l) = field(stripped, "left") {
                    self.discard(t, l);
                }
                if let Some(r) = field(stripped, "right") {
                    self.assign_to_var(t, r, dst);
                }
            }
            _ => {
                let op = self.value(t, stripped);
                self.assign_local(dst, op, span);
            }
        }
    }

    /// An assignment expression; its value is the assigned place's.
    pub(super) fn assign(&mut self, t: Txt<'_>, n: Node<'_>) -> Operand {
        let span = t.span(n);
        let (Some(left), Some(right)) = (field(n, "left"), field(n, "right")) else {
            return Operand::Opaque;
        };
        if operator(&t, n) != b"=" {
            // `x += k`: the old value is gone, the new one is unknown.
            let op = self.value(t, right);
            self.consume(&op, span);
            return self.overwrite(t, left, span);
        }
        let target = strip_parens(left);
        if kind(target) == "identifier" {
            if let Resolved::Local(v) = self.resolve(t.bytes(target)) {
                self.assign_to_var(t, right, v);
                return Operand::Var(v);
            }
        }
        let value = self.value(t, right);
        let lv = self.lvalue(t, left);
        // `(*out = f()) == NULL` tests the value just stored.
        let result = match (&lv.place, &value) {
            (Place::Deref(_) | Place::Opaque, Operand::Var(_)) => value.clone(),
            _ => lv.read,
        };
        let value = self.pointer_zero(self.place_class(&lv.place), value);
        self.emit(
            StmtKind::Store {
                place: lv.place,
                value,
            },
            span,
        );
        result
    }

    /// `dst = src` for a local; a literal 0 stored in a pointer is NULL.
    pub(super) fn assign_local(&mut self, dst: VarId, src: Operand, span: refsan_ir::Span) {
        let src = self.pointer_zero(Some(self.b.var(dst).ty), src);
        self.emit(StmtKind::Assign { dst, src }, span);
    }

    /// `0` in pointer context is NULL.
    pub(super) fn pointer_zero(&self, class: Option<TypeClass>, op: Operand) -> Operand {
        match (class, op) {
            (
                Some(TypeClass::Object | TypeClass::ObjectPtrPtr | TypeClass::Pointer),
                Operand::Int(0),
            ) => Operand::Null,
            (_, op) => op,
        }
    }

    /// The class of what a place holds, when known.
    fn place_class(&self, place: &Place) -> Option<TypeClass> {
        match place {
            Place::Var(v) => Some(self.b.var(*v).ty),
            Place::Field(v, f) => self.ctx.types.field_class(&self.b.var(*v).c_type, f),
            Place::Deref(v) | Place::Index(v) => match self.b.var(*v).ty {
                TypeClass::ObjectPtrPtr => Some(TypeClass::Object),
                _ => None,
            },
            Place::Global(_) | Place::Opaque => None,
        }
    }

    /// The place gets a value the IR does not know (`x++`, `x |= f`).
    fn overwrite(&mut self, t: Txt<'_>, target: Node<'_>, span: refsan_ir::Span) -> Operand {
        let lv = self.lvalue(t, target);
        match lv.place {
            Place::Var(v) => self.emit(StmtKind::Havoc { var: v }, span),
            place => self.emit(
                StmtKind::Store {
                    place,
                    value: Operand::Opaque,
                },
                span,
            ),
        }
        lv.read
    }

    /// A place: local, static/global, `base->f`, `p[i]`, `*p`.
    pub(super) fn lvalue(&mut self, t: Txt<'_>, n: Node<'_>) -> LValue {
        if self.depth >= MAX_DEPTH {
            self.too_deep(t, n);
            return LValue {
                place: Place::Opaque,
                read: Operand::Opaque,
                deref: None,
            };
        }
        self.depth += 1;
        let lv = self.lvalue_inner(t, n);
        self.depth -= 1;
        lv
    }

    fn lvalue_inner(&mut self, t: Txt<'_>, n: Node<'_>) -> LValue {
        let span = t.span(n);
        let n = strip_casts(&t, n);
        match kind(n) {
            "identifier" => match self.resolve(t.bytes(n)) {
                Resolved::Local(v) => LValue {
                    place: Place::Var(v),
                    read: Operand::Var(v),
                    deref: None,
                },
                Resolved::Static(v) => {
                    let name = self.b.var(v).name.clone();
                    LValue {
                        place: Place::Global(name.clone()),
                        read: Operand::Global(name),
                        deref: None,
                    }
                }
                Resolved::Global => {
                    let name = t.str(n).into_owned();
                    LValue {
                        place: Place::Global(name.clone()),
                        read: Operand::Global(name),
                        deref: None,
                    }
                }
                Resolved::Null | Resolved::Int(_) => LValue {
                    place: Place::Opaque,
                    read: Operand::Opaque,
                    deref: None,
                },
            },
            "field_expression" => {
                let (base, path, arrow) = self.field_access(t, n);
                LValue {
                    place: Place::Field(base, path.clone()),
                    read: Operand::Field(base, path),
                    deref: arrow.then_some(base),
                }
            }
            "subscript_expression" => {
                let base = self.subscript_base(t, n);
                LValue {
                    place: Place::Index(base),
                    read: Operand::Field(base, "[]".to_string()),
                    deref: None,
                }
            }
            "pointer_expression" if operator(&t, n) == b"*" => {
                let base = match field(n, "argument") {
                    Some(a) => self.base_var(t, a),
                    None => self.new_temp(TypeClass::Other, span),
                };
                LValue {
                    place: Place::Deref(base),
                    read: Operand::Opaque,
                    deref: Some(base),
                }
            }
            _ => {
                let op = self.value(t, n);
                self.consume(&op, span);
                LValue {
                    place: Place::Opaque,
                    read: Operand::Opaque,
                    deref: None,
                }
            }
        }
    }

    /// `base->a.b` → (base, "a.b", true). The base is a variable (a
    /// temporary when it is not a plain local).
    pub(super) fn field_access(&mut self, t: Txt<'_>, n: Node<'_>) -> (VarId, String, bool) {
        let mut path: Vec<String> = Vec::new();
        let mut cur = n;
        let mut arrow = false;
        let mut base_expr = None;
        for _ in 0..256 {
            if let Some(f) = field(cur, "field") {
                path.push(t.str(f).into_owned());
            }
            arrow = operator(&t, cur) == b"->";
            let Some(arg) = field(cur, "argument") else {
                break;
            };
            let arg = strip_casts(&t, arg);
            if !arrow && kind(arg) == "field_expression" {
                cur = arg;
                continue;
            }
            base_expr = Some(arg);
            break;
        }
        path.reverse();
        let span = t.span(n);
        let base = match base_expr {
            Some(e) => self.base_var(t, e),
            None => self.new_temp(TypeClass::Other, span),
        };
        (base, path.join("."), arrow)
    }

    /// A variable holding the value of `n`: the local itself, or a
    /// temporary assigned from it.
    pub(super) fn base_var(&mut self, t: Txt<'_>, n: Node<'_>) -> VarId {
        let span = t.span(n);
        let stripped = strip_casts(&t, n);
        if kind(stripped) == "identifier" {
            if let Resolved::Local(v) = self.resolve(t.bytes(stripped)) {
                return v;
            }
        }
        let op = self.value(t, stripped);
        if let Operand::Var(v) = op {
            return v;
        }
        let class = self.class_of(&op).unwrap_or(TypeClass::Other);
        let tmp = self.new_temp(class, span);
        self.emit(StmtKind::Assign { dst: tmp, src: op }, span);
        tmp
    }

    fn field_read(&mut self, t: Txt<'_>, n: Node<'_>) -> Operand {
        let span = t.span(n);
        let (base, path, arrow) = self.field_access(t, n);
        if arrow {
            self.emit(
                StmtKind::Use {
                    value: Operand::Var(base),
                    kind: UseKind::Deref,
                },
                span,
            );
        }
        Operand::Field(base, path)
    }

    fn subscript_base(&mut self, t: Txt<'_>, n: Node<'_>) -> VarId {
        let span = t.span(n);
        let base = match field(n, "argument") {
            Some(a) => self.base_var(t, a),
            None => self.new_temp(TypeClass::Other, span),
        };
        if let Some(i) = field(n, "index") {
            let op = self.value(t, i);
            self.consume(&op, span);
        }
        base
    }

    fn index_read(&mut self, t: Txt<'_>, n: Node<'_>) -> Operand {
        let base = self.subscript_base(t, n);
        Operand::Field(base, "[]".to_string())
    }

    fn pointer_expression(&mut self, t: Txt<'_>, n: Node<'_>) -> Operand {
        let span = t.span(n);
        let Some(arg) = field(n, "argument") else {
            return Operand::Opaque;
        };
        if operator(&t, n) == b"*" {
            let base = self.base_var(t, arg);
            self.emit(
                StmtKind::Use {
                    value: Operand::Var(base),
                    kind: UseKind::Deref,
                },
                span,
            );
            return Operand::Opaque;
        }
        let target = strip_parens(arg);
        match kind(target) {
            "identifier" => match self.resolve(t.bytes(target)) {
                Resolved::Local(v) => Operand::AddrOf(Place::Var(v)),
                Resolved::Static(v) => Operand::AddrOf(Place::Global(self.b.var(v).name.clone())),
                _ => Operand::AddrOf(Place::Global(t.str(target).into_owned())),
            },
            "field_expression" => {
                let (base, path, _) = self.field_access(t, target);
                Operand::AddrOf(Place::Field(base, path))
            }
            "subscript_expression" => {
                let base = self.subscript_base(t, target);
                Operand::AddrOf(Place::Index(base))
            }
            "pointer_expression" if operator(&t, target) == b"*" => match field(target, "argument")
            {
                // `&*p` is `p`.
                Some(inner) => self.value(t, inner),
                None => Operand::Opaque,
            },
            _ => {
                let op = self.value(t, target);
                self.consume(&op, span);
                Operand::Opaque
            }
        }
    }

    /// A call (or a macro invocation that looks like one).
    /// The function an object-like macro names (`#define new_int
    /// PyLong_FromLong`, through a few levels), if `name` is one.
    fn alias_of(&self, name: &[u8]) -> Option<Vec<u8>> {
        let mut cur = std::str::from_utf8(name).ok()?.to_string();
        let mut found = None;
        for _ in 0..4 {
            let Some(def) = self.ctx.macros.get(&cur) else {
                break;
            };
            if !def.object_like {
                break;
            }
            let body = def
                .body
                .trim()
                .trim_start_matches('(')
                .trim_end_matches(')')
                .trim();
            let is_ident = !body.is_empty()
                && !body.as_bytes()[0].is_ascii_digit()
                && body.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
            if !is_ident || body == cur {
                break;
            }
            cur = body.to_string();
            found = Some(cur.clone());
        }
        found.map(String::into_bytes)
    }

    pub(super) fn call(&mut self, t: Txt<'_>, n: Node<'_>, dst: Dst) -> Operand {
        if self.depth >= MAX_DEPTH {
            self.too_deep(t, n);
            return Operand::Opaque;
        }
        self.depth += 1;
        let op = self.call_inner(t, n, dst);
        self.depth -= 1;
        op
    }

    fn call_inner(&mut self, t: Txt<'_>, n: Node<'_>, dst: Dst) -> Operand {
        let span = t.span(n);
        if let Some(inner) = cpp_cast_operand(&t, n) {
            return self.value_to(t, inner, dst);
        }
        if let Some(inner) = super::cond::expect_hint_argument(&t, n) {
            return self.value_to(t, inner, dst);
        }
        let args: Vec<Node<'_>> = field(n, "arguments").map(children).unwrap_or_default();
        let Some(function) = field(n, "function") else {
            return Operand::Opaque;
        };
        let function = strip_parens(function);
        let mut escapes_args = false;
        let callee = match kind(function) {
            "identifier"
                if args.len() == 1
                    && matches!(
                        t.bytes(function),
                        b"long"
                            | b"short"
                            | b"unsigned"
                            | b"signed"
                            | b"char"
                            | b"int"
                            | b"bool"
                            | b"double"
                    ) =>
            {
                return self.value_to(t, args[0], dst);
            }
            "identifier" => {
                let written = t.bytes(function);
                // `#define new_int PyLong_FromLong`: the call is of the alias.
                let alias = self.alias_of(written);
                let name: &[u8] = alias.as_deref().unwrap_or(written);
                if self.scopes.lookup(written).is_some() {
                    // A local function pointer.
                    Callee::Indirect
                } else {
                    if let Some(op) = self.cpython_macro(t, n, name, &args, dst) {
                        return op;
                    }
                    if let Some(op) = self.expand_macro(t, n, name, &args, dst) {
                        return op;
                    }
                    Callee::Named(String::from_utf8_lossy(name).into_owned())
                }
            }
            // C++ functional casts: `int(x)`, `unsigned long(x)`.
            "primitive_type" | "sized_type_specifier" if args.len() == 1 => {
                return self.value_to(t, args[0], dst);
            }
            "qualified_identifier" => Callee::Named(t.collapsed(function, 200)),
            "template_function" => {
                // `reinterpret_steal<object>(p)`, `make_unique<T>(p)`: C++
                // wrappers whose ownership the IR cannot follow.
                escapes_args = true;
                Callee::Named(t.collapsed(function, 200))
            }
            "field_expression" => {
                let (base, path, arrow) = self.field_access(t, function);
                if arrow {
                    self.emit(
                        StmtKind::Use {
                            value: Operand::Var(base),
                            kind: UseKind::Deref,
                        },
                        span,
                    );
                }
                // A type's allocation slots called through the type
                // (`type->tp_alloc(type, 0)`): the knowledge base
                // describes them under the slot's name.
                let slot = path.rsplit('.').next().unwrap_or("");
                if TYPE_SLOT_CALLS.contains(&slot) {
                    Callee::Named(slot.to_string())
                } else {
                    Callee::Indirect
                }
            }
            _ => {
                let op = self.value(t, function);
                self.consume(&op, span);
                Callee::Indirect
            }
        };
        let mut ops = Vec::with_capacity(args.len());
        for a in &args {
            let op = self.value(t, *a);
            if escapes_args && matches!(op, Operand::Var(_) | Operand::Field(..)) {
                self.escape(op, span);
                ops.push(Operand::Opaque);
            } else {
                ops.push(op);
            }
        }
        self.emit_call(span, callee, ops, dst)
    }

    pub(super) fn emit_call(
        &mut self,
        span: refsan_ir::Span,
        callee: Callee,
        args: Vec<Operand>,
        dst: Dst,
    ) -> Operand {
        let (target, result) = match dst {
            Dst::Discard => (None, Operand::Opaque),
            Dst::Var(v) => (Some(v), Operand::Var(v)),
            Dst::Temp => {
                let class = callee
                    .name()
                    .and_then(|n| self.ctx.returns.get(n).copied())
                    .unwrap_or(TypeClass::Other);
                let tmp = self.new_temp(class, span);
                (Some(tmp), Operand::Var(tmp))
            }
        };
        self.emit(
            StmtKind::Call {
                dst: target,
                callee,
                args,
            },
            span,
        );
        result
    }
}

/// `0` (possibly parenthesised).
pub(super) fn is_zero(t: &Txt<'_>, n: Node<'_>) -> bool {
    let n = strip_parens(n);
    kind(n) == "number_literal" && parse_int(t.bytes(n)) == Some(0)
}
