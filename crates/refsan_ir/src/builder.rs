//! A small builder front-ends use to emit a CFG without juggling block ids.

use crate::contract::{Contract, ContractSource};
use crate::func::*;
use crate::span::Span;

pub struct FunctionBuilder {
    func: Function,
    /// The block statements are appended to; `None` after a terminator until
    /// the next `switch_to` (code after `return` is unreachable).
    current: Option<BlockId>,
    terminated: Vec<bool>,
}

impl FunctionBuilder {
    pub fn new(name: impl Into<String>, span: Span, name_span: Span) -> FunctionBuilder {
        let func = Function {
            name: name.into(),
            span,
            name_span,
            is_static: false,
            returns: TypeClass::Other,
            return_c_type: String::new(),
            params: Vec::new(),
            vars: Vec::new(),
            blocks: vec![Block {
                stmts: Vec::new(),
                term: Terminator::Unreachable,
                term_span: span,
            }],
            role: Role::Plain,
            declared: None,
            handed_over: Vec::new(),
            approximate: Vec::new(),
            header: None,
        };
        FunctionBuilder {
            func,
            current: Some(BlockId::ENTRY),
            terminated: vec![false],
        }
    }

    pub fn set_static(&mut self, is_static: bool) {
        self.func.is_static = is_static;
    }

    pub fn set_returns(&mut self, ty: TypeClass, c_type: impl Into<String>) {
        self.func.returns = ty;
        self.func.return_c_type = c_type.into();
    }

    pub fn set_role(&mut self, role: Role) {
        self.func.role = role;
    }

    pub fn set_declared(&mut self, contract: Contract, source: ContractSource) {
        self.func.declared = Some((contract, source));
    }

    pub fn mark_approximate(&mut self, span: Span, why: impl Into<String>) {
        self.func.approximate.push((span, why.into()));
    }

    pub fn name(&self) -> &str {
        &self.func.name
    }

    pub fn add_param(
        &mut self,
        name: impl Into<String>,
        ty: TypeClass,
        c_type: impl Into<String>,
        span: Span,
    ) -> VarId {
        let idx = self.func.params.len() as u32;
        let v = self.add_var(name, ty, c_type, VarKind::Param(idx), span);
        self.func.params.push(v);
        v
    }

    pub fn add_var(
        &mut self,
        name: impl Into<String>,
        ty: TypeClass,
        c_type: impl Into<String>,
        kind: VarKind,
        span: Span,
    ) -> VarId {
        let id = VarId(self.func.vars.len() as u32);
        self.func.vars.push(Var {
            name: name.into(),
            ty,
            c_type: c_type.into(),
            kind,
            managed: false,
            span,
        });
        id
    }

    pub fn set_managed(&mut self, v: VarId, managed: bool) {
        self.func.vars[v.index()].managed = managed;
    }

    /// A temporary whose type a cast states (`(state *)get(m)`).
    pub fn set_temp_type(&mut self, v: VarId, ty: TypeClass) {
        self.func.vars[v.index()].ty = ty;
    }

    pub fn new_temp(&mut self, ty: TypeClass, span: Span) -> VarId {
        let n = self.func.vars.len();
        self.add_var(format!("%t{n}"), ty, String::new(), VarKind::Temp, span)
    }

    pub fn var(&self, v: VarId) -> &Var {
        &self.func.vars[v.index()]
    }

    pub fn vars(&self) -> &[Var] {
        &self.func.vars
    }

    pub fn new_block(&mut self) -> BlockId {
        let id = BlockId(self.func.blocks.len() as u32);
        self.func.blocks.push(Block {
            stmts: Vec::new(),
            term: Terminator::Unreachable,
            term_span: Span::default(),
        });
        self.terminated.push(false);
        id
    }

    /// Continue emitting into `b`.
    pub fn switch_to(&mut self, b: BlockId) {
        self.current = Some(b);
    }

    /// The block being emitted into, creating a fresh (unreachable) one when
    /// the previous statement ended the path.
    pub fn current(&mut self) -> BlockId {
        match self.current {
            Some(b) => b,
            None => {
                let b = self.new_block();
                self.current = Some(b);
                b
            }
        }
    }

    /// True when the current position is reachable from some statement
    /// (i.e. the last statement did not end the path).
    /// Some path from the entry to the current point never assigns `var`
    /// (an assignment of NULL does not count): a local that may be unbound
    /// there.
    pub fn may_be_unassigned(&self, var: VarId) -> bool {
        let Some(cur) = self.current else {
            return false;
        };
        let assigns = |s: &Stmt| match &s.kind {
            StmtKind::Assign { dst, src } => *dst == var && *src != Operand::Null,
            StmtKind::Call { dst, .. } => *dst == Some(var),
            _ => false,
        };
        let n = self.func.blocks.len();
        let mut preds: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (i, b) in self.func.blocks.iter().enumerate() {
            if self.terminated.get(i).copied().unwrap_or(false) {
                for t in b.term.successors() {
                    if t.index() < n {
                        preds[t.index()].push(i);
                    }
                }
            }
        }
        if self.func.blocks[cur.index()].stmts.iter().any(assigns) {
            return false;
        }
        let mut seen = vec![false; n];
        let mut todo = vec![cur.index()];
        while let Some(b) = todo.pop() {
            if seen[b] {
                continue;
            }
            seen[b] = true;
            if b != cur.index() && self.func.blocks[b].stmts.iter().any(assigns) {
                continue;
            }
            if b == BlockId::ENTRY.index() {
                return true;
            }
            todo.extend(preds[b].iter().copied());
        }
        false
    }

    pub fn is_open(&self) -> bool {
        self.current.is_some()
    }

    pub fn push(&mut self, kind: StmtKind, span: Span, origin: Origin) {
        let b = self.current();
        self.func.blocks[b.index()]
            .stmts
            .push(Stmt { kind, span, origin });
    }

    pub fn push_src(&mut self, kind: StmtKind, span: Span) {
        self.push(kind, span, Origin::Source);
    }

    /// Ends the current block; following statements go to a new,
    /// unreachable block until `switch_to`.
    pub fn terminate(&mut self, term: Terminator, span: Span) {
        let b = self.current();
        let blk = &mut self.func.blocks[b.index()];
        blk.term = term;
        blk.term_span = span;
        self.terminated[b.index()] = true;
        self.current = None;
    }

    /// Jump to `target` from the current block (if reachable) and continue
    /// there.
    pub fn goto_and_switch(&mut self, target: BlockId, span: Span) {
        if self.current.is_some() {
            self.terminate(Terminator::Goto(target), span);
        }
        self.switch_to(target);
    }

    /// Finishes the function: blocks left open fall off the end, which is a
    /// `return` without value.
    pub fn finish(mut self, end_span: Span) -> Function {
        for (i, done) in self.terminated.iter().enumerate() {
            if !done {
                let blk = &mut self.func.blocks[i];
                blk.term = Terminator::Return(None);
                blk.term_span = end_span;
            }
        }
        self.func
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_a_valid_diamond() {
        let sp = Span::default();
        let mut b = FunctionBuilder::new("f", sp, sp);
        let x = b.add_param("x", TypeClass::Object, "PyObject *", sp);
        let t = b.new_block();
        let e = b.new_block();
        let j = b.new_block();
        b.terminate(
            Terminator::Branch {
                cond: Cond::IsNull(Operand::Var(x)),
                then_bb: t,
                else_bb: e,
                text: "x == NULL".into(),
            },
            sp,
        );
        b.switch_to(t);
        b.goto_and_switch(j, sp);
        b.switch_to(e);
        b.push_src(
            StmtKind::Incref {
                value: Operand::Var(x),
                nullable: false,
                revive: false,
            },
            sp,
        );
        b.goto_and_switch(j, sp);
        b.terminate(Terminator::Return(Some(Operand::Var(x))), sp);
        // Unreachable trailing code gets its own block.
        b.push_src(StmtKind::Havoc { var: x }, sp);
        let f = b.finish(sp);
        f.validate().unwrap();
        assert_eq!(f.blocks.len(), 5);
        assert!(f.dump().contains("if x == NULL then bb1 else bb2"));
    }
}
