//! What a type's slot functions do to the object's fields, shared by the
//! RS3xx rules. Looks through helper functions of the same file that the
//! slot calls with the object (e.g. `tp_dealloc` calling `foo_clear`).

use super::ModuleCx;
use refsan_ir::{
    Callee, Function, Module, Operand, StmtKind, StructDef, TypeClass, TypeDef, UseKind,
};
use std::collections::HashSet;

const MAX_DEPTH: usize = 4;

/// Fields of the instance struct that hold owned references.
pub fn owned_fields<'m>(module: &'m Module, t: &TypeDef) -> Option<(&'m StructDef, Vec<&'m str>)> {
    let s = module.struct_named(t.object_struct.as_deref()?)?;
    if !s.is_object {
        return None;
    }
    let fields = s
        .fields
        .iter()
        // Managed fields (Cython `object` attributes) are released by the
        // language itself.
        .filter(|f| f.ty == TypeClass::Object && !f.managed)
        .map(|f| f.name.as_str())
        .filter(|n| !n.contains("weakreflist") && !n.contains("weakrefs") && *n != "ob_base")
        .collect();
    Some((s, fields))
}

/// Field names read into each variable (`tmp = self->x`), so that releasing
/// `tmp` counts as releasing `x`.
fn field_aliases(f: &Function) -> Vec<Option<String>> {
    let mut alias = vec![None; f.vars.len()];
    for b in &f.blocks {
        for s in &b.stmts {
            if let StmtKind::Assign {
                dst,
                src: Operand::Field(_, name),
            } = &s.kind
            {
                alias[dst.index()] = Some(name.clone());
            }
        }
    }
    alias
}

fn operand_field(op: &Operand, alias: &[Option<String>]) -> Option<String> {
    match op {
        Operand::Field(_, name) => Some(name.clone()),
        Operand::Var(v) => alias.get(v.index()).cloned().flatten(),
        _ => None,
    }
}

/// What a slot function (and the helpers it calls) does.
#[derive(Default, Debug)]
pub struct SlotEffects {
    pub released: HashSet<String>,
    pub visited: HashSet<String>,
    /// Calls a function the analysis cannot see into (other than a free).
    pub opaque_calls: bool,
    pub untracks: bool,
    pub decrefs_type: bool,
}

pub fn effects(cx: &ModuleCx<'_>, fname: &str) -> Option<SlotEffects> {
    let f = cx.module.function(fname)?;
    let mut out = SlotEffects::default();
    let mut seen = HashSet::new();
    collect(cx, f, &mut out, &mut seen, 0);
    Some(out)
}

/// A call that untracks the object from the garbage collector.
pub fn is_untrack(cx: &ModuleCx<'_>, name: &str) -> bool {
    cx.resolver.behaviour(name).is_some_and(|b| b.gc_untrack)
}

fn collect<'m>(
    cx: &ModuleCx<'m>,
    f: &'m Function,
    out: &mut SlotEffects,
    seen: &mut HashSet<&'m str>,
    depth: usize,
) {
    if depth > MAX_DEPTH || !seen.insert(f.name.as_str()) {
        return;
    }
    let module = cx.module;
    let alias = field_aliases(f);
    // Variables holding Py_TYPE(self).
    let mut type_vars: HashSet<u32> = HashSet::new();
    for b in &f.blocks {
        for s in &b.stmts {
            match &s.kind {
                StmtKind::Call {
                    dst: Some(d),
                    callee: Callee::Named(n),
                    ..
                } if cx.resolver.behaviour(n).is_some_and(|b| b.returns_type) => {
                    type_vars.insert(d.0);
                }
                StmtKind::Assign {
                    dst,
                    src: Operand::Var(v),
                } if type_vars.contains(&v.0) => {
                    type_vars.insert(dst.0);
                }
                StmtKind::Assign {
                    dst,
                    src: Operand::Field(_, name),
                } if name == "ob_type" => {
                    type_vars.insert(dst.0);
                }
                _ => {}
            }
        }
    }
    for b in &f.blocks {
        for s in &b.stmts {
            match &s.kind {
                StmtKind::Decref { value, .. } => {
                    if let Some(name) = operand_field(value, &alias) {
                        out.released.insert(name);
                    }
                    if let Operand::Var(v) = value {
                        if type_vars.contains(&v.0) {
                            out.decrefs_type = true;
                        }
                    }
                }
                StmtKind::Use {
                    value,
                    kind: UseKind::Visit,
                } => {
                    if let Some(name) = operand_field(value, &alias) {
                        out.visited.insert(name);
                    }
                }
                StmtKind::Call { callee, args, .. } => match callee {
                    Callee::Named(n) => {
                        if is_untrack(cx, n) {
                            out.untracks = true;
                        }
                        if let Some(g) = module.function(n) {
                            collect(cx, g, out, seen, depth + 1);
                        } else if module.declarations.iter().any(|d| d.name == *n)
                            || !cx.resolver.facts().is_interpreter_name(n)
                        {
                            // A function of the project in another file.
                            if args.iter().any(|a| matches!(a, Operand::Var(_))) {
                                out.opaque_calls = true;
                            }
                        }
                    }
                    Callee::Indirect => {}
                },
                _ => {}
            }
        }
    }
}

/// The owned members of `t` that its slot function `slot` does not handle
/// (`handled` picks released or visited members from the slot's effects),
/// with that function; `None` when nothing can be said (no such slot, no
/// known struct, or a slot that only calls functions refsan cannot see).
pub fn unhandled_members<'m>(
    cx: &ModuleCx<'m>,
    t: &TypeDef,
    slot: &str,
    handled: fn(&SlotEffects) -> &HashSet<String>,
) -> Option<(&'m Function, Vec<&'m str>)> {
    let slot = t.slot(slot)?;
    let module = cx.module;
    let (_, fields) = owned_fields(module, t)?;
    let eff = effects(cx, &slot.value)?;
    if handled(&eff).is_empty() && eff.opaque_calls {
        return None;
    }
    let f = module.function(&slot.value)?;
    let missing = fields
        .into_iter()
        .filter(|field| !handled(&eff).contains(*field))
        .collect();
    Some((f, missing))
}
