//! Branch conditions: short-circuit operators become control flow, NULL
//! tests and integer comparisons become conditions the engine splits on.

use super::expr::is_zero;
use super::{Lowerer, MAX_DEPTH};
use crate::syntax::{
    children, field, first_child, is_null_name, kind, operator, parse_char, parse_int, strip_casts,
    strip_parens, Txt,
};
use refsan_ir::{BlockId, CmpOp, Cond, Operand, Terminator};
use tree_sitter::Node;

/// Longest condition text kept for path events.
pub(super) const COND_TEXT_MAX: usize = 80;

/// The constant a comparison is made against.
enum Constant {
    /// `NULL`, `nullptr`, `(void *)0`.
    Null,
    Int(i64),
}

impl Lowerer<'_> {
    /// Lowers condition `n`: control continues at `then_bb` when it holds,
    /// at `else_bb` otherwise. Terminates the current block.
    pub(super) fn cond(&mut self, t: Txt<'_>, n: Node<'_>, then_bb: BlockId, else_bb: BlockId) {
        if self.depth >= MAX_DEPTH {
            self.too_deep(t, n);
            self.branch(t, n, Cond::Unknown, then_bb, else_bb);
            return;
        }
        self.depth += 1;
        self.cond_inner(t, n, then_bb, else_bb);
        self.depth -= 1;
    }

    fn cond_inner(&mut self, t: Txt<'_>, n: Node<'_>, then_bb: BlockId, else_bb: BlockId) {
        if n.has_error() {
            self.give_up(t, n, "could not parse condition");
            self.branch(t, n, Cond::Unknown, then_bb, else_bb);
            return;
        }
        if let Some(k) = const_value(&t, n) {
            let target = if k != 0 { then_bb } else { else_bb };
            self.b.terminate(Terminator::Goto(target), t.span(n));
            return;
        }
        match kind(n) {
            "parenthesized_expression" => match first_child(n) {
                Some(inner) if kind(inner) != "compound_statement" => {
                    self.cond(t, inner, then_bb, else_bb);
                }
                _ => self.truthiness(t, n, then_bb, else_bb),
            },
            "condition_clause" => self.condition_clause(t, n, then_bb, else_bb),
            "cast_expression" => match field(n, "value") {
                Some(v) => self.cond(t, v, then_bb, else_bb),
                None => self.branch(t, n, Cond::Unknown, then_bb, else_bb),
            },
            "unary_expression" if operator(&t, n) == b"!" => match field(n, "argument") {
                Some(a) => self.cond(t, a, else_bb, then_bb),
                None => self.branch(t, n, Cond::Unknown, then_bb, else_bb),
            },
            "binary_expression" => self.binary_cond(t, n, then_bb, else_bb),
            "comma_expression" => {
                if let Some(l) = field(n, "left") {
                    self.discard(t, l);
                }
                match field(n, "right") {
                    Some(r) => self.cond(t, r, then_bb, else_bb),
                    None => self.branch(t, n, Cond::Unknown, then_bb, else_bb),
                }
            }
            "conditional_expression" => {
                let yes = self.b.new_block();
                let no = self.b.new_block();
                match field(n, "condition") {
                    Some(c) => self.cond(t, c, yes, no),
                    None => self.branch(t, n, Cond::Unknown, yes, no),
                }
                for (bb, arm) in [(yes, "consequence"), (no, "alternative")] {
                    self.b.switch_to(bb);
                    match field(n, arm) {
                        Some(a) => self.cond(t, a, then_bb, else_bb),
                        None => self.branch(t, n, Cond::Unknown, then_bb, else_bb),
                    }
                }
            }
            "call_expression" if is_err_occurred(&t, n) => {
                self.branch(t, n, Cond::ErrOccurred, then_bb, else_bb);
            }
            // `__builtin_expect(x, 0)`, `unlikely(x)`: a hint, the test is x.
            "call_expression" if expect_hint_argument(&t, n).is_some() => {
                match expect_hint_argument(&t, n) {
                    Some(a) => self.cond(t, a, then_bb, else_bb),
                    None => self.branch(t, n, Cond::Unknown, then_bb, else_bb),
                }
            }
            "call_expression" if self.macro_cond(t, n, then_bb, else_bb) => {}
            _ => self.truthiness(t, n, then_bb, else_bb),
        }
    }

    /// A call of a same-file function-like macro in a condition, expanded
    /// as a condition. False (nothing lowered) for anything else.
    fn macro_cond(&mut self, t: Txt<'_>, n: Node<'_>, then_bb: BlockId, else_bb: BlockId) -> bool {
        let Some(function) = field(n, "function").map(strip_parens) else {
            return false;
        };
        if kind(function) != "identifier" {
            return false;
        }
        let name = t.bytes(function);
        if self.scopes.lookup(name).is_some()
            || !self
                .ctx
                .macros
                .contains_key(std::str::from_utf8(name).unwrap_or(""))
        {
            return false;
        }
        let args: Vec<Node<'_>> = field(n, "arguments").map(children).unwrap_or_default();
        self.expand_macro_cond(t, n, name, &args, then_bb, else_bb)
    }

    /// A constant operand of a comparison: a literal, or a macro of the
    /// file or its headers that stands for one (`MV_COMPARE_NOT_IMPL`).
    fn constant(&self, t: &Txt<'_>, n: Node<'_>) -> Option<Constant> {
        constant(t, n).or_else(|| {
            let id = strip_casts(t, n);
            if kind(id) != "identifier" || self.scopes.lookup(t.bytes(id)).is_some() {
                return None;
            }
            self.int_macro(t.bytes(id)).map(Constant::Int)
        })
    }

    /// C++ `if (init; value)` and `if (T x = f())`.
    fn condition_clause(&mut self, t: Txt<'_>, n: Node<'_>, then_bb: BlockId, else_bb: BlockId) {
        if let Some(init) = field(n, "initializer") {
            self.stmt(t, init);
        }
        let Some(value) = field(n, "value") else {
            self.branch(t, n, Cond::Unknown, then_bb, else_bb);
            return;
        };
        if kind(value) == "declaration" {
            self.stmt(t, value);
            let declared = crate::body::declarators(value)
                .first()
                .map(|d| field(*d, "declarator").unwrap_or(*d))
                .and_then(|d| crate::syntax::analyze_declarator(d).name)
                .and_then(|name| self.scopes.lookup(t.bytes(name)));
            match declared {
                Some(v) => self.test_operand(t, value, Operand::Var(v), then_bb, else_bb),
                None => self.branch(t, value, Cond::Unknown, then_bb, else_bb),
            }
        } else {
            self.cond(t, value, then_bb, else_bb);
        }
    }

    fn binary_cond(&mut self, t: Txt<'_>, n: Node<'_>, then_bb: BlockId, else_bb: BlockId) {
        let op = operator(&t, n);
        let (Some(left), Some(right)) = (field(n, "left"), field(n, "right")) else {
            self.branch(t, n, Cond::Unknown, then_bb, else_bb);
            return;
        };
        match op {
            b"&&" => {
                let mid = self.b.new_block();
                self.cond(t, left, mid, else_bb);
                self.b.switch_to(mid);
                self.cond(t, right, then_bb, else_bb);
            }
            b"||" => {
                let mid = self.b.new_block();
                self.cond(t, left, then_bb, mid);
                self.b.switch_to(mid);
                self.cond(t, right, then_bb, else_bb);
            }
            _ => match cmp_op(op) {
                Some(cmp) => self.compare(t, n, left, cmp, right, then_bb, else_bb),
                None => self.truthiness(t, n, then_bb, else_bb),
            },
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn compare(
        &mut self,
        t: Txt<'_>,
        n: Node<'_>,
        left: Node<'_>,
        cmp: CmpOp,
        right: Node<'_>,
        then_bb: BlockId,
        else_bb: BlockId,
    ) {
        let span = t.span(n);
        let (subject, constant, cmp) = match (self.constant(&t, left), self.constant(&t, right)) {
            (_, Some(k)) => (left, k, cmp),
            (Some(k), None) => (right, k, cmp.swap()),
            (None, None) => {
                let a = self.value(t, left);
                let b = self.value(t, right);
                let simple = |op: &Operand| {
                    matches!(
                        op,
                        Operand::Var(_)
                            | Operand::Global(_)
                            | Operand::Field(..)
                            | Operand::AddrOf(_)
                    )
                };
                // Pointer identity (`x == Py_None`, `a != b`): the engine can
                // tell a NULL from a non-NULL object.
                if simple(&a) && simple(&b) && matches!(cmp, CmpOp::Eq | CmpOp::Ne) {
                    let (yes, no) = if cmp == CmpOp::Eq {
                        (then_bb, else_bb)
                    } else {
                        (else_bb, then_bb)
                    };
                    self.branch(t, n, Cond::Same(a, b), yes, no);
                    return;
                }
                for op in [a, b] {
                    self.consume(&op, span);
                }
                self.branch(t, n, Cond::Unknown, then_bb, else_bb);
                return;
            }
        };
        if is_err_occurred(&t, strip_casts(&t, subject))
            && matches!(constant, Constant::Null | Constant::Int(0))
        {
            match cmp {
                CmpOp::Ne => return self.branch(t, n, Cond::ErrOccurred, then_bb, else_bb),
                CmpOp::Eq => return self.branch(t, n, Cond::ErrOccurred, else_bb, then_bb),
                _ => {}
            }
        }
        let op = self.value(t, subject);
        if !matches!(
            op,
            Operand::Var(_) | Operand::Field(..) | Operand::Global(_)
        ) {
            self.consume(&op, span);
            return self.branch(t, n, Cond::Unknown, then_bb, else_bb);
        }
        let null_test = match constant {
            Constant::Null => true,
            Constant::Int(0) => self.is_pointerish(&op),
            Constant::Int(_) => false,
        };
        match (null_test, constant, cmp) {
            (true, _, CmpOp::Eq) => self.branch(t, n, Cond::IsNull(op), then_bb, else_bb),
            (true, _, CmpOp::Ne) => self.branch(t, n, Cond::IsNull(op), else_bb, then_bb),
            (false, Constant::Int(k), _) => {
                self.branch(t, n, Cond::Cmp(op, cmp, k), then_bb, else_bb);
            }
            _ => {
                self.consume(&op, span);
                self.branch(t, n, Cond::Unknown, then_bb, else_bb);
            }
        }
    }

    /// `if (x)`: NULL test for pointers, `!= 0` otherwise.
    fn truthiness(&mut self, t: Txt<'_>, n: Node<'_>, then_bb: BlockId, else_bb: BlockId) {
        let op = self.value(t, n);
        self.test_operand(t, n, op, then_bb, else_bb);
    }

    fn test_operand(
        &mut self,
        t: Txt<'_>,
        n: Node<'_>,
        op: Operand,
        then_bb: BlockId,
        else_bb: BlockId,
    ) {
        let span = t.span(n);
        match op {
            Operand::Null => self.b.terminate(Terminator::Goto(else_bb), span),
            Operand::Int(k) => self.b.terminate(
                Terminator::Goto(if k != 0 { then_bb } else { else_bb }),
                span,
            ),
            Operand::Str(_) | Operand::AddrOf(_) => {
                self.b.terminate(Terminator::Goto(then_bb), span);
            }
            Operand::Opaque => self.branch(t, n, Cond::Unknown, then_bb, else_bb),
            op => {
                if self.is_pointerish(&op) {
                    self.branch(t, n, Cond::IsNull(op), else_bb, then_bb);
                } else {
                    self.branch(t, n, Cond::Cmp(op, CmpOp::Ne, 0), then_bb, else_bb);
                }
            }
        }
    }

    pub(super) fn branch(
        &mut self,
        t: Txt<'_>,
        n: Node<'_>,
        cond: Cond,
        then_bb: BlockId,
        else_bb: BlockId,
    ) {
        let text = t.collapsed(strip_parens(n), COND_TEXT_MAX);
        self.b.terminate(
            Terminator::Branch {
                cond,
                then_bb,
                else_bb,
                text,
            },
            t.span(n),
        );
    }
}

fn cmp_op(op: &[u8]) -> Option<CmpOp> {
    Some(match op {
        b"==" => CmpOp::Eq,
        b"!=" => CmpOp::Ne,
        b"<" => CmpOp::Lt,
        b"<=" => CmpOp::Le,
        b">" => CmpOp::Gt,
        b">=" => CmpOp::Ge,
        _ => return None,
    })
}

/// `PyErr_Occurred()`.
fn is_err_occurred(t: &Txt<'_>, n: Node<'_>) -> bool {
    kind(n) == "call_expression"
        && field(n, "function").is_some_and(|f| t.bytes(f) == b"PyErr_Occurred")
        && field(n, "arguments").is_some_and(|a| children(a).is_empty())
}

/// A constant operand of a comparison.
fn constant(t: &Txt<'_>, n: Node<'_>) -> Option<Constant> {
    let stripped = strip_casts(t, n);
    match kind(stripped) {
        "null" | "nullptr" => return Some(Constant::Null),
        "identifier" if is_null_name(t.bytes(stripped)) => return Some(Constant::Null),
        _ => {}
    }
    // `(void *)0`: a cast to a pointer type of the literal 0.
    let outer = strip_parens(n);
    if kind(outer) == "cast_expression"
        && field(outer, "type").is_some_and(|ty| t.bytes(ty).contains(&b'*'))
        && field(outer, "value").is_some_and(|v| is_zero(t, v))
    {
        return Some(Constant::Null);
    }
    const_value(t, n).map(Constant::Int)
}

/// The value of an integer constant expression made of literals, parens,
/// casts and unary operators.
pub(super) fn const_value(t: &Txt<'_>, n: Node<'_>) -> Option<i64> {
    let mut n = n;
    // Unary operators from the outside in.
    let mut unary: Vec<u8> = Vec::new();
    let mut value = None;
    for _ in 0..32 {
        match kind(n) {
            "parenthesized_expression" => {
                n = first_child(n).filter(|c| kind(c) != "compound_statement")?;
            }
            "cast_expression" => n = field(n, "value")?,
            // `(Py_uhash_t)-1`, parsed as a subtraction because the parser
            // cannot know `Py_uhash_t` names a type: a `_t` name in
            // parentheses is one.
            "binary_expression"
                if operator(t, n) == b"-"
                    && field(n, "left").is_some_and(|l| {
                        kind(l) == "parenthesized_expression"
                            && first_child(l).is_some_and(|id| {
                                kind(id) == "identifier" && t.bytes(id).ends_with(b"_t")
                            })
                    }) =>
            {
                unary.push(b'-');
                n = field(n, "right")?;
            }
            "unary_expression" => {
                match operator(t, n) {
                    b"-" => unary.push(b'-'),
                    b"!" => unary.push(b'!'),
                    b"~" => unary.push(b'~'),
                    b"+" => {}
                    _ => return None,
                }
                n = field(n, "argument")?;
            }
            "number_literal" => {
                value = Some(parse_int(t.bytes(n))?);
                break;
            }
            "char_literal" => {
                value = Some(parse_char(t.bytes(n))?);
                break;
            }
            "true" => {
                value = Some(1);
                break;
            }
            "false" => {
                value = Some(0);
                break;
            }
            _ => return None,
        }
    }
    let mut v = value?;
    for op in unary.iter().rev() {
        v = match op {
            b'-' => v.wrapping_neg(),
            b'!' => (v == 0) as i64,
            _ => !v,
        };
    }
    Some(v)
}

/// Branch-prediction hints: the value is their first argument.
pub(super) const EXPECT_HINTS: &[&[u8]] = &[
    b"__builtin_expect",
    b"__builtin_expect_with_probability",
    b"likely",
    b"unlikely",
    b"LIKELY",
    b"UNLIKELY",
    b"Py_LIKELY",
    b"Py_UNLIKELY",
    b"_Py_LIKELY",
    b"_Py_UNLIKELY",
];

/// The tested argument of a branch-prediction hint call.
pub(super) fn expect_hint_argument<'t>(t: &Txt<'_>, n: Node<'t>) -> Option<Node<'t>> {
    let function = field(n, "function").map(strip_parens)?;
    if kind(function) != "identifier" || !EXPECT_HINTS.contains(&t.bytes(function)) {
        return None;
    }
    field(n, "arguments")
        .map(children)
        .and_then(|a| a.first().copied())
}
