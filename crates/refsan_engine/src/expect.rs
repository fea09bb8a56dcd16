//! What the rest of the program expects of a function: Python-facing
//! functions (method tables, type slots, module slots, Argument Clinic
//! impls) have fixed contracts; functions with a stated contract are
//! checked against it; the rest get a summary inferred from their body.

use crate::facts::Resolver;
use refsan_ir::{ArgEffect, Contract, Function, Module, Returns, Role, TypeClass, TypeDefKind};
use std::collections::HashMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpectRet {
    /// Must return a new reference (or NULL).
    New,
    /// Returns a borrowed reference by contract.
    Borrowed,
    /// Decide from the body (summary inference).
    Infer,
    /// Not an object.
    Other,
}

#[derive(Clone, Debug)]
pub struct Expect {
    pub returns: ExpectRet,
    /// Returning NULL requires an exception (Python-facing, except
    /// tp_iternext).
    pub null_needs_exc: bool,
    /// Returning a negative int requires an exception (tp_init, setters,
    /// Py_mod_exec...).
    pub neg_needs_exc: bool,
    /// Declared effects on parameters (a stated contract); `None` = infer.
    pub params: Option<Vec<ArgEffect>>,
    /// Called by the interpreter: the parameters are strictly borrowed.
    pub python_facing: bool,
    /// Why: "method `spam.foo`", "tp_dealloc of `Foo`", for messages.
    pub why: Option<String>,
    /// Raw `PyObject*` attributes of `self` that must not be left NULL when
    /// the function fails (a Cython `__cinit__`: `__dealloc__` still runs).
    pub watch_fields: Vec<String>,
    /// A tp_dealloc: the object in the first parameter is being destroyed,
    /// so what its fields hold afterwards (a free list link) owns nothing.
    pub dealloc: bool,
    /// The function may run again on an object whose fields are set
    /// (`tp_init`: `__init__` can be called again; a setter), and what it
    /// is ("the setter of `name`"): the owning fields of its first
    /// parameter may hold references when it starts.
    pub reinit: Option<String>,
    /// The first parameter is an initialised object Python code holds (a
    /// method, a getter or a setter): another method may have set its
    /// fields to NULL.
    pub live_self: bool,
    /// The parameters `params` says it steals are its own to release: one
    /// it still holds at a return leaks there (a helper found to take over
    /// its argument, which some failing returns keep).
    pub owns_stolen: bool,
}

impl Expect {
    fn infer(f: &Function) -> Expect {
        Expect {
            returns: if f.returns == TypeClass::Object {
                ExpectRet::Infer
            } else {
                ExpectRet::Other
            },
            null_needs_exc: false,
            neg_needs_exc: false,
            params: None,
            python_facing: false,
            why: None,
            watch_fields: Vec::new(),
            dealloc: false,
            reinit: None,
            live_self: false,
            owns_stolen: false,
        }
    }

    fn python(
        returns: ExpectRet,
        null_needs_exc: bool,
        neg_needs_exc: bool,
        why: String,
    ) -> Expect {
        Expect {
            returns,
            null_needs_exc,
            neg_needs_exc,
            params: Some(Vec::new()),
            python_facing: true,
            why: Some(why),
            watch_fields: Vec::new(),
            dealloc: false,
            reinit: None,
            live_self: false,
            owns_stolen: false,
        }
    }

    fn stated(c: &Contract, f: &Function) -> Expect {
        Expect {
            returns: match c.returns {
                Returns::New => ExpectRet::New,
                Returns::Borrowed => ExpectRet::Borrowed,
                Returns::Unknown if f.returns == TypeClass::Object => ExpectRet::Infer,
                _ => ExpectRet::Other,
            },
            null_needs_exc: false,
            neg_needs_exc: false,
            params: Some(c.args.clone()),
            python_facing: false,
            why: None,
            watch_fields: Vec::new(),
            dealloc: false,
            reinit: None,
            live_self: false,
            owns_stolen: false,
        }
    }
}

/// Slots whose function returns a new reference, or NULL with an exception.
const OBJECT_SLOTS: &[&str] = &[
    "tp_repr",
    "tp_str",
    "tp_call",
    "tp_getattro",
    "tp_getattr",
    "tp_richcompare",
    "tp_iter",
    "tp_new",
    "tp_descr_get",
    "mp_subscript",
    "sq_item",
    "sq_concat",
    "sq_repeat",
    "sq_inplace_concat",
    "sq_inplace_repeat",
    "am_await",
    "am_aiter",
    "am_anext",
    "m_create",
    "Py_mod_create",
];

/// Slots returning an int where -1 means "exception set".
const INT_SLOTS: &[&str] = &[
    "tp_init",
    "tp_setattro",
    "tp_setattr",
    "tp_descr_set",
    "mp_ass_subscript",
    "mp_length",
    "sq_length",
    "sq_ass_item",
    "sq_contains",
    "nb_bool",
    "tp_hash",
    "Py_mod_exec",
    "m_exec",
];

/// Expected contracts for every function of the module that has one.
pub fn expectations(module: &Module, resolver: &Resolver<'_>) -> HashMap<String, Expect> {
    let mut out: HashMap<String, Expect> = HashMap::new();
    let by_name: HashMap<&str, &Function> = module
        .functions
        .iter()
        .map(|f| (f.name.as_str(), f))
        .collect();
    let mut python = |name: &str, exp: Expect| {
        if by_name.contains_key(name) {
            out.entry(name.to_string()).or_insert(exp);
        }
    };
    for table in &module.method_tables {
        for e in &table.entries {
            let mut exp = Expect::python(
                ExpectRet::New,
                true,
                false,
                format!("method `{}`", e.py_name),
            );
            exp.live_self = true;
            python(&e.func, exp);
        }
    }
    // A getter returns a new reference or NULL with an exception. (Setters
    // are not held to their contract yet: a setter handing its value to
    // the object through a macro refsan does not model, `Py_SET_TYPE`,
    // would read as a leak.)
    for table in &module.getset_tables {
        for e in &table.entries {
            if let Some(get) = &e.getter {
                let mut exp = Expect::python(
                    ExpectRet::New,
                    true,
                    false,
                    format!("getter of `{}`", e.py_name),
                );
                exp.live_self = true;
                python(get, exp);
            }
        }
    }
    for t in &module.type_defs {
        for s in &t.slots {
            let slot = s.slot.as_str();
            let why = format!("{} of `{}`", slot, t.name);
            if OBJECT_SLOTS.contains(&slot) || slot.starts_with("nb_") && slot != "nb_bool" {
                python(&s.value, Expect::python(ExpectRet::New, true, false, why));
            } else if slot == "tp_iternext" {
                python(&s.value, Expect::python(ExpectRet::New, false, false, why));
            } else if INT_SLOTS.contains(&slot) || slot == "nb_bool" {
                let mut exp = Expect::python(ExpectRet::Other, false, true, why.clone());
                if slot == "tp_init" {
                    exp.reinit = Some(format!("`__init__` ({why})"));
                }
                python(&s.value, exp);
            } else if matches!(
                slot,
                "tp_dealloc" | "tp_finalize" | "tp_traverse" | "tp_clear" | "tp_free"
            ) {
                let mut e = Expect::python(ExpectRet::Other, false, false, why);
                e.dealloc = slot == "tp_dealloc";
                python(&s.value, e);
            }
        }
    }
    for m in &module.module_defs {
        for s in &m.slots {
            let slot = s.slot.as_str();
            let why = format!("{} of module `{}`", slot, m.name);
            if INT_SLOTS.contains(&slot) {
                python(&s.value, Expect::python(ExpectRet::Other, false, true, why));
            } else if OBJECT_SLOTS.contains(&slot) {
                python(&s.value, Expect::python(ExpectRet::New, true, false, why));
            } else if matches!(slot, "m_traverse" | "m_clear" | "m_free") {
                python(
                    &s.value,
                    Expect::python(ExpectRet::Other, false, false, why),
                );
            }
        }
    }
    for t in &module.type_defs {
        if t.kind != TypeDefKind::CythonClass {
            continue;
        }
        let Some(cinit) = t.slot("__cinit__") else {
            continue;
        };
        let fields: Vec<String> = t
            .object_struct
            .as_deref()
            .and_then(|s| module.struct_named(s))
            .map(|s| {
                s.fields
                    .iter()
                    .filter(|f| f.ty == TypeClass::Object && !f.managed)
                    .map(|f| f.name.clone())
                    .collect()
            })
            .unwrap_or_default();
        if by_name.contains_key(cinit.value.as_str()) {
            let mut exp = Expect::python(
                ExpectRet::Other,
                false,
                false,
                format!("__cinit__ of `{}`", t.name),
            );
            exp.returns = if by_name[cinit.value.as_str()].returns == TypeClass::Object {
                ExpectRet::New
            } else {
                ExpectRet::Other
            };
            exp.watch_fields = fields;
            out.insert(cinit.value.clone(), exp);
        }
    }
    for f in &module.functions {
        if out.contains_key(&f.name) {
            continue;
        }
        let exp = if let Some(r) = resolver.stated(&f.name) {
            Expect::stated(r.contract, f)
        } else if f.role == Role::PythonFacing {
            let mut exp = Expect::python(
                if f.returns == TypeClass::Object {
                    ExpectRet::New
                } else {
                    ExpectRet::Other
                },
                f.returns == TypeClass::Object,
                false,
                format!("Argument Clinic implementation `{}`", f.name),
            );
            if f.name.ends_with("___init___impl") {
                exp.reinit = Some(format!("`__init__` (`{}`)", f.name));
            }
            if let Some(&last) = f.handed_over.iter().max() {
                let mut params = vec![ArgEffect::Borrow; last + 1];
                for i in &f.handed_over {
                    params[*i] = ArgEffect::Steal;
                }
                exp.params = Some(params);
            }
            exp
        } else if f.name.starts_with("PyInit_") && f.returns == TypeClass::Object {
            Expect::python(
                ExpectRet::New,
                true,
                false,
                format!("module init `{}`", f.name),
            )
        } else {
            Expect::infer(f)
        };
        out.insert(f.name.clone(), exp);
    }
    // Setters run again and again on the same object (they are not held
    // to their contract yet: see above).
    for e in module.getset_tables.iter().flat_map(|t| t.entries.iter()) {
        if let Some(exp) = e.setter.as_deref().and_then(|n| out.get_mut(n)) {
            exp.reinit = Some(format!("the setter of `{}`", e.py_name));
            exp.live_self = true;
        }
    }
    out
}
