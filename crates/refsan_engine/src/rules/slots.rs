//! What a type's slot functions do to the object's fields, shared by the
//! RS3xx rules. Looks through helper functions of the same file that the
//! slot calls with the object (e.g. `tp_dealloc` calling `foo_clear`).

use super::ModuleCx;
use refsan_ir::{
    Callee, Function, Module, Operand, Place, StmtKind, StructDef, TypeClass, TypeDef, UseKind,
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
        .filter(|n| {
            !["weakreflist", "weaklist", "weakref_list", "weakrefs"]
                .iter()
                .any(|w| n.contains(w))
                && *n != "ob_base"
        })
        .collect();
    Some((s, fields))
}

/// Field names read into each variable (`tmp = self->x`), so that releasing
/// `tmp` counts as releasing `x`.
fn field_aliases(f: &Function) -> Vec<Option<String>> {
    crate::facts::field_copies(f)
        .into_iter()
        .map(|c| c.map(|(_, name)| name.to_string()))
        .collect()
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
    /// Calls through a function pointer with a variable argument
    /// (`tp->tp_clear((PyObject *)self)`).
    pub indirect_calls: bool,
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
                    Callee::Indirect => {
                        if args.iter().any(|a| matches!(a, Operand::Var(_))) {
                            out.indirect_calls = true;
                        }
                    }
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
    let slot_name = slot;
    let slot = t.slot(slot)?;
    let module = cx.module;
    let (_, fields) = owned_fields(module, t)?;
    let mut eff = effects(cx, &slot.value)?;
    // A dealloc calling a slot through the type (`tp->tp_clear(self)`,
    // `Py_TYPE(self)->tp_clear(self)`) runs the type's own tp_clear.
    if eff.indirect_calls && slot_name == "tp_dealloc" {
        if let Some(clear) = t.slot("tp_clear").and_then(|c| effects(cx, &c.value)) {
            eff.released.extend(clear.released);
            eff.opaque_calls |= clear.opaque_calls;
        }
    }
    if handled(&eff).is_empty() && (eff.opaque_calls || eff.indirect_calls) {
        return None;
    }
    let f = module.function(&slot.value)?;
    let borrowed = borrowed_fields(cx);
    let missing = fields
        .into_iter()
        .filter(|field| !handled(&eff).contains(*field) && !borrowed.contains(*field))
        .collect();
    Some((f, missing))
}

/// The members each type of the module owns by its own account: those its
/// `tp_dealloc` or `tp_clear` releases, as (instance struct, member, the
/// function that releases it). A function that overwrites one must release
/// what it held first.
pub fn owning_members(cx: &ModuleCx<'_>) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for t in &cx.module.type_defs {
        let Some((s, fields)) = owned_fields(cx.module, t) else {
            continue;
        };
        let Some(name) = s.names.first() else {
            continue;
        };
        let mut done = HashSet::new();
        for slot in ["tp_dealloc", "tp_clear"] {
            let Some(c) = t.slot(slot) else {
                continue;
            };
            let Some(eff) = effects(cx, &c.value) else {
                continue;
            };
            for f in &fields {
                if eff.released.contains(*f) && done.insert(f.to_string()) {
                    out.push((name.clone(), f.to_string(), c.value.clone()));
                }
            }
        }
    }
    out
}

/// The object fields a method or a setter of the module sets to NULL
/// (`Py_CLEAR(self->file)` in `close()`): other methods may find them NULL.
/// As (instance struct, field, the function, its line), the first of each;
/// and the fields holding no object that methods or setters write (state
/// flags: `self->closed = 1`), as (instance struct, field).
pub type ClearedMembers = (Vec<(String, String, String, u32)>, Vec<(String, String)>);

pub fn cleared_members(module: &Module) -> ClearedMembers {
    let methods = module
        .method_tables
        .iter()
        .flat_map(|t| t.entries.iter().map(|e| e.func.as_str()));
    let setters = module
        .getset_tables
        .iter()
        .flat_map(|t| t.entries.iter().filter_map(|e| e.setter.as_deref()));
    let mut out: Vec<(String, String, String, u32)> = Vec::new();
    let mut flags: Vec<(String, String)> = Vec::new();
    for name in methods.chain(setters) {
        let Some(f) = module.function(name) else {
            continue;
        };
        let Some(&p0) = f.params.first() else {
            continue;
        };
        let Some(s) = module
            .struct_named(&f.vars[p0.index()].c_type)
            .filter(|s| s.is_object)
        else {
            continue;
        };
        let Some(sname) = s.names.first() else {
            continue;
        };
        let of_self = |b: &refsan_ir::VarId| {
            module
                .struct_named(&f.vars[b.index()].c_type)
                .is_some_and(|x| std::ptr::eq(x, s))
        };
        for stmt in f.blocks.iter().flat_map(|b| b.stmts.iter()) {
            if let StmtKind::Store {
                place: Place::Field(b, fld),
                ..
            } = &stmt.kind
            {
                let flag = s
                    .fields
                    .iter()
                    .any(|x| x.name == *fld && x.ty != TypeClass::Object);
                if of_self(b) && flag && !flags.iter().any(|(a, b)| a == sname && b == fld) {
                    flags.push((sname.clone(), fld.clone()));
                }
            }
            let cleared = match &stmt.kind {
                StmtKind::Decref {
                    clears: Some(Place::Field(b, fld)),
                    ..
                } if of_self(b) => Some(fld),
                StmtKind::Store {
                    place: Place::Field(b, fld),
                    value,
                } if of_self(b)
                    && (*value == Operand::Null
                        || matches!(value, Operand::Global(g) if g == "NULL")) =>
                {
                    Some(fld)
                }
                _ => None,
            };
            let Some(fld) = cleared else {
                continue;
            };
            let object_field = s
                .fields
                .iter()
                .any(|x| x.name == *fld && x.ty == TypeClass::Object);
            if object_field && !out.iter().any(|(a, b, _, _)| a == sname && b == fld) {
                out.push((sname.clone(), fld.clone(), f.name.clone(), stmt.span.line));
            }
        }
    }
    (out, flags)
}

/// Fields the module only ever fills with a reference it does not own: a
/// copy of another object's field or of a global (`self->Error =
/// state->Error;`), never INCREF'd where it is stored. Such members are
/// borrowed by design; nothing releases or visits them.
fn borrowed_fields(cx: &ModuleCx<'_>) -> HashSet<String> {
    let module = cx.module;
    let mut borrowed_stores: HashSet<String> = HashSet::new();
    let mut owned_stores: HashSet<String> = HashSet::new();
    for f in &module.functions {
        // Variables copied from a field or a global, and what is INCREF'd.
        let mut copied: HashSet<u32> = HashSet::new();
        let mut increfed_vars: HashSet<u32> = HashSet::new();
        let mut increfed_fields: HashSet<&str> = HashSet::new();
        let mut increfed_globals: HashSet<&str> = HashSet::new();
        for b in &f.blocks {
            for s in &b.stmts {
                match &s.kind {
                    StmtKind::Assign {
                        dst,
                        src: Operand::Field(..) | Operand::Global(_),
                    } => {
                        copied.insert(dst.0);
                    }
                    // A borrowed reference from a call (`Py_TYPE(self)`).
                    StmtKind::Call {
                        dst: Some(dst),
                        callee: Callee::Named(n),
                        ..
                    } if cx.resolver.behaviour(n).is_some_and(|b| b.returns_type)
                        || cx.resolver.resolve(n).is_some_and(|r| {
                            r.contract.returns == refsan_ir::Returns::Borrowed
                        }) =>
                    {
                        copied.insert(dst.0);
                    }
                    StmtKind::Incref { value, .. } => match value {
                        Operand::Var(v) => {
                            increfed_vars.insert(v.0);
                        }
                        Operand::Field(_, n) => {
                            increfed_fields.insert(n.as_str());
                        }
                        Operand::Global(g) => {
                            increfed_globals.insert(g.as_str());
                        }
                        _ => {}
                    },
                    _ => {}
                }
            }
        }
        for b in &f.blocks {
            for s in &b.stmts {
                let StmtKind::Store {
                    place: Place::Field(_, name),
                    value,
                } = &s.kind
                else {
                    continue;
                };
                let plain_copy = match value {
                    Operand::Field(..) => true,
                    Operand::Global(g) => !increfed_globals.contains(g.as_str()),
                    Operand::Var(v) => copied.contains(&v.0) && !increfed_vars.contains(&v.0),
                    // NULL and other constants say nothing.
                    _ => continue,
                };
                if plain_copy && !increfed_fields.contains(name.as_str()) {
                    borrowed_stores.insert(name.clone());
                } else {
                    owned_stores.insert(name.clone());
                }
            }
        }
    }
    borrowed_stores
        .into_iter()
        .filter(|n| !owned_stores.contains(n))
        .collect()
}
