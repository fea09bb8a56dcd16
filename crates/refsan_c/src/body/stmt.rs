//! Statements: control flow, declarations, labels, `#if` arms.

use super::cond::COND_TEXT_MAX;
use super::{declarators, declared_type, Dst, Lowerer, SwitchCtx, MAX_DEPTH};
use crate::syntax::{
    all_children, analyze_declarator, c_type_string, children, field, first_child, kind,
    strip_parens, Txt,
};
use refsan_ir::{
    BlockId, CmpOp, Cond, Operand, Place, Span, StmtKind, Terminator, TypeClass, VarId, VarKind,
};
use tree_sitter::Node;

/// The callee a C++ `catch` handler starts with: the C++ runtime's entry
/// into a handler, a function refsan knows nothing of (the exception state
/// is unknown after it).
pub const CATCH_ENTRY: &str = "__cxa_begin_catch";

impl Lowerer<'_> {
    /// The statements of a compound statement, in a new scope.
    pub(super) fn block_items(&mut self, t: Txt<'_>, block: Node<'_>) {
        self.scopes.push();
        let items = children(block);
        let mut i = 0;
        while i < items.len() {
            let item = items[i];
            match items
                .get(i + 1)
                .filter(|next| takes_dangling_body(item, **next))
            {
                Some(body) => {
                    // `if (c)` / `#ifdef X` / `stmt;` / `#else` / `stmt;` /
                    // `#endif`: the `#if` is the body.
                    self.stmt_with_body(t, item, *body);
                    i += 2;
                }
                None => {
                    self.stmt(t, item);
                    i += 1;
                }
            }
        }
        self.scopes.pop();
    }

    fn stmt_with_body(&mut self, t: Txt<'_>, n: Node<'_>, body: Node<'_>) {
        if self.depth >= MAX_DEPTH {
            self.too_deep(t, n);
            return;
        }
        self.depth += 1;
        match kind(n) {
            "if_statement" => self.if_statement(t, n, Some(body)),
            "while_statement" => self.while_statement(t, n, Some(body)),
            _ => self.for_statement(t, n, Some(body)),
        }
        self.depth -= 1;
    }

    pub(super) fn stmt(&mut self, t: Txt<'_>, n: Node<'_>) {
        if self.depth >= MAX_DEPTH {
            self.too_deep(t, n);
            return;
        }
        self.depth += 1;
        self.stmt_inner(t, n);
        self.depth -= 1;
    }

    fn stmt_inner(&mut self, t: Txt<'_>, n: Node<'_>) {
        match kind(n) {
            "compound_statement" => self.block_items(t, n),
            "expression_statement" => self.leaf(t, n, Self::expression_statement),
            "declaration" => self.leaf(t, n, Self::declaration),
            "return_statement" => self.leaf(t, n, Self::return_statement),
            "goto_statement" => self.leaf(t, n, Self::goto_statement),
            "break_statement" => self.jump(t, n, true),
            "continue_statement" => self.jump(t, n, false),
            "if_statement" => self.if_statement(t, n, None),
            "while_statement" => self.while_statement(t, n, None),
            "do_statement" => self.do_statement(t, n),
            "for_statement" => self.for_statement(t, n, None),
            "for_range_loop" => self.for_range_loop(t, n),
            "switch_statement" => self.switch_statement(t, n),
            "case_statement" => self.case_statement(t, n),
            "labeled_statement" => self.labeled_statement(t, n),
            "preproc_if" | "preproc_ifdef" => self.preproc_arms(t, n),
            "throw_statement" => self.throw_statement(t, n),
            "try_statement" => self.try_statement(t, n),
            "attributed_statement"
            | "seh_try_statement"
            | "seh_finally_clause"
            | "seh_except_clause" => {
                for c in children(n) {
                    if !matches!(kind(c), "attribute_declaration" | "attribute_specifier") {
                        self.stmt(t, c);
                    }
                }
            }
            "ERROR" => self.give_up(t, n, "could not parse"),
            // Declarations that execute nothing, and directives.
            "comment"
            | "type_definition"
            | "function_definition"
            | "preproc_def"
            | "preproc_function_def"
            | "preproc_include"
            | "preproc_call"
            | "struct_specifier"
            | "union_specifier"
            | "enum_specifier"
            | "class_specifier"
            | "linkage_specification"
            | "seh_leave_statement"
            | "using_declaration"
            | "alias_declaration"
            | "static_assert_declaration"
            | "namespace_alias_definition"
            | "template_declaration"
            | "empty_statement" => {}
            _ => {
                if n.has_error() {
                    self.give_up(t, n, "could not parse");
                } else {
                    // Anything else that appears in statement position is an
                    // expression tree-sitter wrapped oddly (macro soup).
                    self.discard(t, n);
                }
            }
        }
    }

    /// A statement without sub-statements: lowered when it parsed cleanly,
    /// skipped (approximately) otherwise.
    fn leaf(&mut self, t: Txt<'_>, n: Node<'_>, lower: fn(&mut Self, Txt<'_>, Node<'_>)) {
        if n.has_error() {
            self.give_up(t, n, "could not parse");
        } else {
            lower(self, t, n);
        }
    }

    /// ERROR children directly under a control statement (not inside the
    /// parts we lower) are skipped like statements.
    fn stray_errors(&mut self, t: Txt<'_>, n: Node<'_>) {
        if !n.has_error() {
            return;
        }
        for c in all_children(n) {
            if c.is_error() || c.is_missing() {
                self.give_up(t, c, "could not parse");
            }
        }
    }

    /// A labeled statement whose statement tree-sitter had to invent
    /// (`exit:` followed by `#if`) is just the label.
    fn is_invented(n: Node<'_>) -> bool {
        n.byte_range().is_empty() && n.has_error()
    }

    fn expression_statement(&mut self, t: Txt<'_>, n: Node<'_>) {
        let Some(e) = first_child(n) else {
            return;
        };
        let e = strip_parens(e);
        if kind(e) == "identifier" && self.identifier_statement(t, e) {
            return;
        }
        self.discard(t, e);
    }

    fn declaration(&mut self, t: Txt<'_>, n: Node<'_>) {
        let mut is_static = false;
        for c in children(n) {
            if kind(c) == "storage_class_specifier" {
                match t.bytes(c) {
                    b"static" => is_static = true,
                    // A block-scope `extern` names a global: nothing to bind.
                    b"extern" => return,
                    _ => {}
                }
            }
        }
        let ty = field(n, "type");
        for d in declarators(n) {
            let (decl, value) = if kind(d) == "init_declarator" {
                (field(d, "declarator"), field(d, "value"))
            } else {
                (Some(d), None)
            };
            let Some(decl) = decl else { continue };
            let info = analyze_declarator(decl);
            if info.function.is_some() {
                continue;
            }
            let Some(name) = info.name else { continue };
            let (base, shape) = declared_type(t, ty, info.shape);
            let is_auto = base == "auto" && shape.depth == 0 && !shape.reference;
            let class = match value {
                Some(v) if is_auto => self.guess_class(t, v),
                _ => self.ctx.types.classify(&base, shape),
            };
            let kind = if is_static {
                VarKind::Static
            } else {
                VarKind::Local
            };
            let var = self.declare(t, name, class, c_type_string(&base, shape), kind);
            // A static's initializer runs once, not on each call.
            if is_static {
                continue;
            }
            if let Some(value) = value {
                self.initialize(t, var, value, shape.array, is_auto);
            }
        }
    }

    /// `auto x = init;`: Object when the initializer obviously is one.
    fn guess_class(&self, t: Txt<'_>, init: Node<'_>) -> TypeClass {
        let init = strip_parens(init);
        if let Some(target) = cpp_cast_target(t, init) {
            return match target {
                (base, true) if self.ctx.types.is_objectish(&base) => TypeClass::Object,
                _ => TypeClass::Other,
            };
        }
        match kind(init) {
            "cast_expression" => {
                let ty = field(init, "type");
                let text = ty.map(|x| t.bytes(x)).unwrap_or_default();
                let base = ty
                    .and_then(|x| field(x, "type"))
                    .map(|x| t.str(x).into_owned())
                    .unwrap_or_default();
                if text.contains(&b'*') && self.ctx.types.is_objectish(&base) {
                    TypeClass::Object
                } else {
                    TypeClass::Other
                }
            }
            "identifier" => match self.scopes.lookup(t.bytes(init)) {
                Some(v) => self.b.var(v).ty,
                None => TypeClass::Other,
            },
            "call_expression" => field(init, "function")
                .and_then(|f| self.ctx.returns.get(&*t.str(f)).copied())
                .unwrap_or(TypeClass::Other),
            _ => TypeClass::Other,
        }
    }

    fn initialize(&mut self, t: Txt<'_>, var: VarId, value: Node<'_>, array: bool, is_auto: bool) {
        let span = t.span(value);
        let class = self.b.var(var).ty;
        match kind(value) {
            "initializer_list" => {
                for e in children(value) {
                    // `.name = value` of a struct: a store into its field.
                    let mut designated: Option<String> = None;
                    let e = if kind(e) == "initializer_pair" {
                        let designators: Vec<Node<'_>> = e
                            .children_by_field_name("designator", &mut e.walk())
                            .collect();
                        if let [d] = designators[..] {
                            if kind(d) == "field_designator" {
                                designated = d.named_child(0).map(|n| t.str(n).into_owned());
                            }
                        }
                        match field(e, "value") {
                            Some(v) => v,
                            None => continue,
                        }
                    } else {
                        e
                    };
                    let op = self.value(t, e);
                    if let (Some(name), false) = (designated, array) {
                        self.emit(
                            StmtKind::Store {
                                place: Place::Field(var, name),
                                value: op,
                            },
                            span,
                        );
                    } else if array && class == TypeClass::ObjectPtrPtr {
                        if !matches!(
                            op,
                            Operand::Null | Operand::Int(_) | Operand::Str(_) | Operand::Opaque
                        ) {
                            self.emit(
                                StmtKind::Store {
                                    place: Place::Index(var),
                                    value: op,
                                },
                                span,
                            );
                        }
                    } else {
                        // An aggregate (or a C++ object built with `{...}`)
                        // now holds whatever was put in it.
                        self.escape(op, span);
                    }
                }
            }
            "argument_list" => {
                // C++ `T x(args)`: a scalar initialised directly, or a
                // constructor that takes ownership we cannot model (RAII).
                let args = children(value);
                if args.len() == 1 && class != TypeClass::Other {
                    self.assign_to_var(t, args[0], var);
                } else {
                    for a in args {
                        let op = self.value(t, a);
                        self.escape(op, span);
                    }
                }
            }
            _ => {
                self.assign_to_var(t, value, var);
                if self.ctx.cpp && class == TypeClass::Other && !is_auto && !array {
                    // `Wrapper w = PyList_New(0);` is a constructor call too.
                    self.escape(Operand::Var(var), span);
                }
            }
        }
    }

    fn return_statement(&mut self, t: Txt<'_>, n: Node<'_>) {
        let span = t.span(n);
        let value = first_child(n).map(|e| self.value(t, e));
        let value = value.map(|v| self.pointer_zero(Some(self.returns), v));
        self.b.terminate(Terminator::Return(value), span);
    }

    fn goto_statement(&mut self, t: Txt<'_>, n: Node<'_>) {
        let Some(label) = field(n, "label") else {
            return;
        };
        let target = self.label_block(t.bytes(label));
        self.b.terminate(Terminator::Goto(target), t.span(n));
    }

    fn jump(&mut self, t: Txt<'_>, n: Node<'_>, is_break: bool) {
        let target = if is_break {
            self.breaks.last()
        } else {
            self.continues.last()
        };
        if let Some(target) = target.copied() {
            self.b.terminate(Terminator::Goto(target), t.span(n));
        }
    }

    fn throw_statement(&mut self, t: Txt<'_>, n: Node<'_>) {
        if let Some(e) = first_child(n) {
            self.discard(t, e);
        }
        self.b.terminate(Terminator::Unreachable, t.span(n));
    }

    /// `try { A } catch (...) { B }`: either the try block or a handler,
    /// which starts with a call of [`CATCH_ENTRY`].
    fn try_statement(&mut self, t: Txt<'_>, n: Node<'_>) {
        let span = t.span(n);
        let join = self.b.new_block();
        let mut arms = Vec::new();
        let mut bodies = Vec::new();
        if let Some(body) = field(n, "body") {
            bodies.push(body);
        }
        for c in children(n) {
            if kind(c) == "catch_clause" {
                if let Some(body) = field(c, "body") {
                    bodies.push(body);
                }
            }
        }
        let head = self.b.current();
        for (i, body) in bodies.into_iter().enumerate() {
            let bb = self.b.new_block();
            arms.push(bb);
            self.b.switch_to(bb);
            if i > 0 {
                // A handler runs after code refsan does not follow threw: it
                // may have set a Python exception (`catch (PyErrOccurred&)`).
                self.b.push_src(
                    StmtKind::Call {
                        dst: None,
                        callee: refsan_ir::Callee::Named(CATCH_ENTRY.to_string()),
                        args: Vec::new(),
                    },
                    t.span(body),
                );
            }
            self.stmt(t, body);
            self.goto_if_open(join, span);
        }
        self.b.switch_to(head);
        self.b.terminate(Terminator::Choose(arms), span);
        self.b.switch_to(join);
    }

    fn goto_if_open(&mut self, target: BlockId, span: Span) {
        if self.b.is_open() {
            self.b.terminate(Terminator::Goto(target), span);
        }
    }

    /// Enters a block reached by nothing but the jumps lowered into it.
    fn start_block(&mut self, bb: BlockId) {
        self.b.switch_to(bb);
    }

    fn if_statement(&mut self, t: Txt<'_>, n: Node<'_>, body: Option<Node<'_>>) {
        let span = t.span(n);
        self.stray_errors(t, n);
        self.scopes.push();
        let then_bb = self.b.new_block();
        let join = self.b.new_block();
        let alternative = field(n, "alternative").and_then(|e| {
            if kind(e) == "else_clause" {
                first_child(e)
            } else {
                Some(e)
            }
        });
        let else_bb = if alternative.is_some() {
            self.b.new_block()
        } else {
            join
        };
        match field(n, "condition") {
            Some(c) => self.cond(t, c, then_bb, else_bb),
            None => self
                .b
                .terminate(Terminator::Choose(vec![then_bb, else_bb]), span),
        }
        self.start_block(then_bb);
        if let Some(c) = body.or_else(|| field(n, "consequence")) {
            self.stmt(t, c);
        }
        self.goto_if_open(join, span);
        if let Some(alt) = alternative {
            self.start_block(else_bb);
            self.stmt(t, alt);
            self.goto_if_open(join, span);
        }
        self.b.switch_to(join);
        self.scopes.pop();
    }

    fn loop_body(&mut self, t: Txt<'_>, body: Option<Node<'_>>, brk: BlockId, cont: BlockId) {
        self.breaks.push(brk);
        self.continues.push(cont);
        if let Some(body) = body {
            self.stmt(t, body);
        }
        self.breaks.pop();
        self.continues.pop();
    }

    fn while_statement(&mut self, t: Txt<'_>, n: Node<'_>, body_override: Option<Node<'_>>) {
        let span = t.span(n);
        self.stray_errors(t, n);
        self.scopes.push();
        let head = self.b.new_block();
        let body = self.b.new_block();
        let exit = self.b.new_block();
        self.b.goto_and_switch(head, span);
        match field(n, "condition") {
            Some(c) => self.cond(t, c, body, exit),
            None => self.b.terminate(Terminator::Goto(body), span),
        }
        self.start_block(body);
        self.loop_body(t, body_override.or_else(|| field(n, "body")), exit, head);
        self.goto_if_open(head, span);
        self.b.switch_to(exit);
        self.scopes.pop();
    }

    fn do_statement(&mut self, t: Txt<'_>, n: Node<'_>) {
        let span = t.span(n);
        self.stray_errors(t, n);
        let body = self.b.new_block();
        let test = self.b.new_block();
        let exit = self.b.new_block();
        self.b.goto_and_switch(body, span);
        self.loop_body(t, field(n, "body"), exit, test);
        self.b.goto_and_switch(test, span);
        match field(n, "condition") {
            Some(c) => self.cond(t, c, body, exit),
            None => self.b.terminate(Terminator::Goto(exit), span),
        }
        self.b.switch_to(exit);
    }

    fn for_statement(&mut self, t: Txt<'_>, n: Node<'_>, body_override: Option<Node<'_>>) {
        let span = t.span(n);
        self.stray_errors(t, n);
        self.scopes.push();
        if let Some(init) = field(n, "initializer") {
            if kind(init) == "declaration" {
                self.declaration(t, init);
            } else {
                self.discard(t, init);
            }
        }
        let head = self.b.new_block();
        let body = self.b.new_block();
        let update = self.b.new_block();
        let exit = self.b.new_block();
        self.b.goto_and_switch(head, span);
        match field(n, "condition") {
            Some(c) => self.cond(t, c, body, exit),
            None => self.b.terminate(Terminator::Goto(body), span),
        }
        self.start_block(body);
        self.loop_body(t, body_override.or_else(|| field(n, "body")), exit, update);
        self.b.goto_and_switch(update, span);
        if let Some(u) = field(n, "update") {
            self.discard(t, u);
        }
        self.goto_if_open(head, span);
        self.b.switch_to(exit);
        self.scopes.pop();
    }

    /// C++ `for (T x : range)`: the body runs any number of times.
    fn for_range_loop(&mut self, t: Txt<'_>, n: Node<'_>) {
        let span = t.span(n);
        self.scopes.push();
        if let Some(r) = field(n, "right") {
            let op = self.value(t, r);
            self.consume(&op, span);
        }
        let head = self.b.new_block();
        let body = self.b.new_block();
        let exit = self.b.new_block();
        self.b.goto_and_switch(head, span);
        self.b.terminate(Terminator::Choose(vec![body, exit]), span);
        self.start_block(body);
        if let Some(d) = field(n, "declarator") {
            let info = analyze_declarator(d);
            if let Some(name) = info.name {
                let (base, shape) = declared_type(t, field(n, "type"), info.shape);
                let class = self.ctx.types.classify(&base, shape);
                let v = self.declare(t, name, class, c_type_string(&base, shape), VarKind::Local);
                self.emit(StmtKind::Havoc { var: v }, span);
            }
        }
        self.loop_body(t, field(n, "body"), exit, head);
        self.goto_if_open(head, span);
        self.b.switch_to(exit);
        self.scopes.pop();
    }

    fn switch_statement(&mut self, t: Txt<'_>, n: Node<'_>) {
        let span = t.span(n);
        self.stray_errors(t, n);
        self.scopes.push();
        // The value switched on, when it is one the engine can test.
        let mut on: Option<(Operand, String)> = None;
        if let Some(c) = field(n, "condition") {
            let c = if kind(c) == "condition_clause" {
                field(c, "value").unwrap_or(c)
            } else {
                c
            };
            if kind(c) == "declaration" {
                self.declaration(t, c);
            } else {
                let op = self.value(t, c);
                self.consume(&op, span);
                if matches!(op, Operand::Var(_)) && !self.is_pointerish(&op) {
                    on = Some((op, t.collapsed(strip_parens(c), COND_TEXT_MAX)));
                }
            }
        }
        let head = self.b.current();
        // Statements before the first `case` are unreachable.
        let before_cases = self.b.new_block();
        self.b.switch_to(before_cases);
        let exit = self.b.new_block();
        self.switches.push(SwitchCtx {
            targets: Vec::new(),
            has_default: false,
            names: Vec::new(),
            cases: Vec::new(),
            default: None,
        });
        self.breaks.push(exit);
        if let Some(body) = field(n, "body") {
            self.stmt(t, body);
        }
        self.breaks.pop();
        self.goto_if_open(exit, span);
        let Some(ctx) = self.switches.pop() else {
            self.b.switch_to(exit);
            self.scopes.pop();
            return;
        };
        // Without `default`, no case may match, unless the cases are the six
        // comparison operators a tp_richcompare receives, or every value of
        // an enum the file (or a header) defines.
        let covers_all = ctx.has_default
            || [b"Py_LT", b"Py_LE", b"Py_EQ", b"Py_NE", b"Py_GT", b"Py_GE"]
                .iter()
                .all(|op| ctx.names.iter().any(|n| n == op))
            || self.ctx.types.covers_an_enum(&ctx.names);
        self.b.switch_to(head);
        // Integer cases of a variable: tested one after the other, so the
        // engine follows only the cases its value allows (`switch (res)`
        // after `res = f(&out)` failed takes `case -1:`).
        let constant_cases = !ctx.cases.is_empty() && ctx.cases.iter().all(|c| c.1.is_some());
        if let (Some((op, text)), true) = (on, constant_cases) {
            let otherwise = ctx.default.unwrap_or(exit);
            let last = ctx.cases.len() - 1;
            for (i, (bb, k, case_text, case_span)) in ctx.cases.into_iter().enumerate() {
                let next = if i == last {
                    otherwise
                } else {
                    self.b.new_block()
                };
                self.b.terminate(
                    Terminator::Branch {
                        cond: Cond::Cmp(op.clone(), CmpOp::Eq, k.unwrap_or_default()),
                        then_bb: bb,
                        else_bb: next,
                        text: format!("{text} == {case_text}"),
                    },
                    case_span,
                );
                if i != last {
                    self.b.switch_to(next);
                }
            }
        } else {
            let mut targets = ctx.targets;
            if !covers_all {
                targets.push(exit);
            }
            self.b.terminate(Terminator::Choose(targets), span);
        }
        self.b.switch_to(exit);
        self.scopes.pop();
    }

    fn case_statement(&mut self, t: Txt<'_>, n: Node<'_>) {
        let span = t.span(n);
        let value = field(n, "value");
        if !self.switches.is_empty() {
            let bb = self.b.new_block();
            // Fall through from the previous case.
            self.b.goto_and_switch(bb, span);
            let case = value.map(|v| {
                (
                    super::cond::const_value(&t, v),
                    t.collapsed(v, COND_TEXT_MAX),
                )
            });
            if let Some(ctx) = self.switches.last_mut() {
                ctx.targets.push(bb);
                match value {
                    None => {
                        ctx.has_default = true;
                        ctx.default = Some(bb);
                    }
                    Some(v) => ctx.names.push(t.bytes(v).to_vec()),
                }
                if let Some((k, text)) = case {
                    ctx.cases.push((bb, k, text, span));
                }
            }
        }
        for c in children(n) {
            if Some(c) != value {
                self.stmt(t, c);
            }
        }
    }

    fn labeled_statement(&mut self, t: Txt<'_>, n: Node<'_>) {
        let label = field(n, "label");
        if let Some(label) = label {
            self.defined_labels.insert(t.bytes(label).to_vec());
            let bb = self.label_block(t.bytes(label));
            self.b.goto_and_switch(bb, t.span(n));
        }
        for c in children(n) {
            if Some(c) != label && !Self::is_invented(c) {
                self.stmt(t, c);
            }
        }
    }

    /// `#if A / #elif B / #else / #endif` in a body: each arm is a path.
    /// Arms share the enclosing scope (declarations in them stay visible).
    ///
    /// The arm taken is an unknown integer (one per distinct condition
    /// chain, `#if A` → `%pp < 1`, `#elif B` → `%pp < 2`...), so two `#if`
    /// blocks on the same condition in one function take corresponding arms
    /// on every path instead of being combined freely.
    fn preproc_arms(&mut self, t: Txt<'_>, n: Node<'_>) {
        let span = t.span(n);
        let arms = crate::syntax::preproc_arms(t, n);
        let head = self.b.current();
        let join = self.b.new_block();
        let mut targets = Vec::new();
        for (k, arm) in arms.arms.iter().enumerate() {
            let bb = self.b.new_block();
            targets.push(bb);
            self.b.switch_to(bb);
            // What the arm's conditions say of macros being defined: one
            // unknown per macro, so that arms of different `#if` blocks
            // that contradict each other (`#ifndef X` here, `#if
            // defined(X) && ...` later) are not combined on one path.
            for (m, defined) in arms.defined.get(k).map_or(&[][..], Vec::as_slice) {
                let var = self.pp_var(format!("defined {m}"), format!("#defined {m}"), span);
                let holds = self.b.new_block();
                let never = self.b.new_block();
                let (then_bb, else_bb) = if *defined {
                    (holds, never)
                } else {
                    (never, holds)
                };
                self.b.terminate(
                    Terminator::Branch {
                        cond: Cond::Cmp(Operand::Var(var), CmpOp::Ne, 0),
                        then_bb,
                        else_bb,
                        text: format!("defined({m})"),
                    },
                    span,
                );
                self.b.switch_to(never);
                self.b.terminate(Terminator::Unreachable, span);
                self.b.switch_to(holds);
            }
            for s in arm {
                self.stmt(t, *s);
            }
            // `#else` / `# error "unsupported"`: no build compiles this arm,
            // so no path goes through it.
            let error_arm = arm.iter().any(|s| {
                kind(*s) == "preproc_call"
                    && field(*s, "directive").is_some_and(|d| t.bytes(d).ends_with(b"error"))
            });
            if error_arm {
                self.b.terminate(Terminator::Unreachable, span);
            } else {
                self.goto_if_open(join, span);
            }
        }
        if !arms.exhaustive {
            targets.push(join);
        }
        self.b.switch_to(head);
        if targets.len() <= 1 {
            self.b.terminate(Terminator::Choose(targets), span);
            self.b.switch_to(join);
            return;
        }
        let name = format!("#{}", arms.first_condition);
        let var_for = |key: String, this: &mut Self| this.pp_var(key, name.clone(), span);
        // Whether the first condition holds is one fact for every chain
        // that starts with it (`#if X ... #else ... #endif` and a later
        // `#if X ... #endif`); which later arm applies, for chains that
        // agree on all their conditions.
        let first = if arms.first_kept {
            var_for(format!("first {}", arms.first_condition), self)
        } else {
            var_for(arms.key.clone(), self)
        };
        let rest = var_for(arms.key.clone(), self);
        let last = targets.len() - 1;
        for (i, target) in targets.iter().enumerate() {
            if i == last {
                self.b.terminate(Terminator::Goto(*target), span);
                break;
            }
            let var = if i == 0 { first } else { rest };
            let next = self.b.new_block();
            self.b.terminate(
                Terminator::Branch {
                    cond: Cond::Cmp(Operand::Var(var), CmpOp::Lt, i as i64 + 1),
                    then_bb: *target,
                    else_bb: next,
                    text: format!("#if arm {}", i + 1),
                },
                span,
            );
            self.b.switch_to(next);
        }
        self.b.switch_to(join);
    }

    /// The unknown integer standing for a preprocessor fact (`key`), one
    /// per function, named `name` (a `#` name, which the engine's messages
    /// recognise).
    fn pp_var(&mut self, key: String, name: String, span: Span) -> VarId {
        if let Some(v) = self.pp_vars.get(&key) {
            return *v;
        }
        let v = self
            .b
            .add_var(name, TypeClass::Int, "int", VarKind::Local, span);
        self.pp_vars.insert(key, v);
        v
    }

    /// Statement-like macros written as a bare identifier. Returns false
    /// for any other identifier.
    fn identifier_statement(&mut self, t: Txt<'_>, n: Node<'_>) -> bool {
        let span = t.span(n);
        let name = t.bytes(n);
        let singleton = match name {
            b"Py_RETURN_NONE" => Some("Py_None"),
            b"Py_RETURN_TRUE" => Some("Py_True"),
            b"Py_RETURN_FALSE" => Some("Py_False"),
            b"Py_RETURN_NOTIMPLEMENTED" => Some("Py_NotImplemented"),
            _ => None,
        };
        if let Some(g) = singleton {
            let macro_name = String::from_utf8_lossy(name).into_owned();
            self.return_singleton(g, span, &macro_name);
            return true;
        }
        match name {
            b"Py_BEGIN_ALLOW_THREADS" | b"Py_BEGIN_ALLOW_THREAD" => {
                self.emit_macro(StmtKind::ReleaseGil, span, "Py_BEGIN_ALLOW_THREADS");
            }
            b"Py_UNBLOCK_THREADS" | b"Py_UNBLOCK_THREAD" => {
                self.emit_macro(StmtKind::ReleaseGil, span, "Py_UNBLOCK_THREADS");
            }
            b"Py_END_ALLOW_THREADS" | b"Py_END_ALLOW_THREAD" => {
                self.emit_macro(StmtKind::AcquireGil, span, "Py_END_ALLOW_THREADS");
            }
            b"Py_BLOCK_THREADS" | b"Py_BLOCK_THREAD" => {
                self.emit_macro(StmtKind::AcquireGil, span, "Py_BLOCK_THREADS");
            }
            _ => {
                // An object-like macro of the file used as a statement.
                let is_statement_macro = std::str::from_utf8(name)
                    .ok()
                    .and_then(|n| self.ctx.macros.get(n))
                    .is_some_and(|m| m.object_like);
                if !is_statement_macro {
                    return false;
                }
                return self.expand_macro(t, n, name, &[], Dst::Discard).is_some();
            }
        }
        true
    }

    /// `Py_RETURN_NONE` and friends: a new reference to a singleton.
    pub(super) fn return_singleton(&mut self, global: &str, span: Span, macro_name: &str) {
        self.emit_macro(
            StmtKind::Incref {
                value: Operand::Global(global.to_string()),
                nullable: false,
                revive: false,
            },
            span,
            macro_name,
        );
        self.b.terminate(
            Terminator::Return(Some(Operand::Global(global.to_string()))),
            span,
        );
    }

    /// Lowers a value into `dst` as its own statement list (used by Dst).
    pub(super) fn value_to(&mut self, t: Txt<'_>, n: Node<'_>, dst: Dst) -> Operand {
        match dst {
            Dst::Discard => {
                self.discard(t, n);
                Operand::Opaque
            }
            Dst::Temp => self.value(t, n),
            Dst::Var(v) => {
                self.assign_to_var(t, n, v);
                Operand::Var(v)
            }
        }
    }
}

/// `if (c)` (or a loop header) whose body tree-sitter had to invent
/// because an `#if` follows: the `#if` is the body.
fn takes_dangling_body(stmt: Node<'_>, next: Node<'_>) -> bool {
    if !matches!(kind(next), "preproc_if" | "preproc_ifdef") {
        return false;
    }
    let body = match kind(stmt) {
        "if_statement" if field(stmt, "alternative").is_none() => field(stmt, "consequence"),
        "while_statement" | "for_statement" => field(stmt, "body"),
        _ => None,
    };
    body.is_some_and(|b| b.byte_range().is_empty() && b.has_error())
}

/// `static_cast<PyObject *>(x)`: the target's base type name and whether it
/// is a pointer.
fn cpp_cast_target(t: Txt<'_>, call: Node<'_>) -> Option<(String, bool)> {
    crate::syntax::cpp_cast_operand(&t, call)?;
    let func = field(call, "function")?;
    let targs = field(func, "arguments")?;
    let text = t.str(targs);
    let inner = text.trim_start_matches('<').trim_end_matches('>');
    let base = crate::types::base_name(inner)?.to_string();
    Some((base, inner.contains('*')))
}
