//! Expanding function-like macros defined in the same file.
//!
//! The parameters are replaced by the argument texts, the result is parsed
//! again (wrapped in a dummy function) and lowered in place, with the call
//! site's span and `Origin::Macro(NAME)`.

use super::{Dst, Lowerer};
use crate::prepare::{is_ident_char, is_ident_start};
use crate::syntax::{children, field, first_child, kind, Txt};
use refsan_ir::{BlockId, Operand};
use tree_sitter::Node;

/// Nested expansions followed before the call is left as a call.
const MAX_EXPANSION_DEPTH: usize = 8;
/// Longest expansion text lowered.
const MAX_EXPANSION_LEN: usize = 64 * 1024;

impl Lowerer<'_> {
    pub(super) fn expand_macro(
        &mut self,
        t: Txt<'_>,
        call: Node<'_>,
        name: &[u8],
        args: &[Node<'_>],
        dst: Dst,
    ) -> Option<Operand> {
        let statement = dst == Dst::Discard;
        self.expand_with(
            t,
            call,
            name,
            args,
            statement,
            |this, inner, block, value| match value {
                None => {
                    this.block_items(inner, block);
                    Operand::Opaque
                }
                Some(e) => this.value_to(inner, e, dst),
            },
        )
    }

    /// A same-file macro used as a condition (`if (UCD_Check(self) && ...)`):
    /// its expansion is lowered as a condition, so short-circuit operators
    /// inside it split paths. Returns false when it cannot be expanded.
    pub(super) fn expand_macro_cond(
        &mut self,
        t: Txt<'_>,
        call: Node<'_>,
        name: &[u8],
        args: &[Node<'_>],
        then_bb: BlockId,
        else_bb: BlockId,
    ) -> bool {
        self.expand_with(t, call, name, args, false, |this, inner, _block, value| {
            if let Some(e) = value {
                this.cond(inner, e, then_bb, else_bb);
            }
            Operand::Opaque
        })
        .is_some()
    }

    fn expand_with<F>(
        &mut self,
        t: Txt<'_>,
        call: Node<'_>,
        name: &[u8],
        args: &[Node<'_>],
        statement: bool,
        lower: F,
    ) -> Option<Operand>
    where
        F: for<'x> FnOnce(&mut Self, Txt<'x>, Node<'x>, Option<Node<'x>>) -> Operand,
    {
        let name = std::str::from_utf8(name).ok()?;
        let def = self.ctx.macros.get(name)?;
        // Object-like macros expand only as whole statements (an identifier).
        if def.object_like != (kind(call) == "identifier") {
            return None;
        }
        if def.unsupported
            || def.params.len() != args.len()
            || self.expanding.len() >= MAX_EXPANSION_DEPTH
            || self.expanding.iter().any(|m| m == name)
        {
            return None;
        }
        let arg_texts: Vec<&[u8]> = args.iter().map(|a| t.bytes(*a)).collect();
        let body = substitute(def.body.as_bytes(), &def.params, &arg_texts)?;
        let mut wrapped = Vec::with_capacity(body.len() + 48);
        wrapped.extend_from_slice(b"void __refsan_macro(void) {\n");
        if statement {
            wrapped.extend_from_slice(&body);
            wrapped.extend_from_slice(b"\n;\n}\n");
        } else {
            wrapped.push(b'(');
            wrapped.extend_from_slice(&body);
            wrapped.extend_from_slice(b"\n);\n}\n");
        }
        let tree = self.ctx.parse_expansion(&wrapped)?;
        let root = tree.root_node();
        if root.has_error() {
            return None;
        }
        let block = children(root)
            .into_iter()
            .find(|n| kind(n) == "function_definition")
            .and_then(|f| field(f, "body"))?;
        // `(BODY);` in value position: the parenthesised expression.
        let value_expr = if statement {
            None
        } else {
            Some(first_child(first_child(block)?)?)
        };
        let inner = Txt {
            src: &wrapped,
            lines: t.lines,
            site: Some(t.span(call)),
        };
        self.expanding.push(name.to_string());
        let claimed_origin = self.macro_origin.is_none();
        if claimed_origin {
            self.macro_origin = Some(name.to_string());
        }
        let result = lower(self, inner, block, value_expr);
        if claimed_origin {
            self.macro_origin = None;
        }
        self.expanding.pop();
        Some(result)
    }
}

/// Replaces each parameter token of `body` by its argument text. String
/// and character literals are copied verbatim.
fn substitute(body: &[u8], params: &[String], args: &[&[u8]]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(body.len() + args.iter().map(|a| a.len()).sum::<usize>());
    let mut i = 0;
    while i < body.len() {
        let c = body[i];
        if c == b'"' || c == b'\'' {
            let start = i;
            i += 1;
            while i < body.len() && body[i] != c {
                if body[i] == b'\\' {
                    i += 1;
                }
                i += 1;
            }
            i = (i + 1).min(body.len());
            out.extend_from_slice(&body[start..i]);
        } else if is_ident_start(c) {
            let start = i;
            while i < body.len() && is_ident_char(body[i]) {
                i += 1;
            }
            let word = &body[start..i];
            match params.iter().position(|p| p.as_bytes() == word) {
                Some(k) => out.extend_from_slice(args[k]),
                None => out.extend_from_slice(word),
            }
        } else if c.is_ascii_digit() {
            let start = i;
            while i < body.len() && (is_ident_char(body[i]) || body[i] == b'.') {
                i += 1;
            }
            out.extend_from_slice(&body[start..i]);
        } else {
            out.push(c);
            i += 1;
        }
        if out.len() > MAX_EXPANSION_LEN {
            return None;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::substitute;

    #[test]
    fn substitutes_whole_tokens_only() {
        let params = vec!["x".to_string(), "err".to_string()];
        let out = substitute(
            b"if (!(x)) goto err; xx = \"x\";",
            &params,
            &[b"f(a)", b"fail"],
        )
        .unwrap();
        assert_eq!(out, b"if (!(f(a))) goto fail; xx = \"x\";".to_vec());
    }
}
