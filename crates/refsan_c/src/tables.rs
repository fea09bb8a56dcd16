//! File-level tables that tell which functions Python calls and how:
//! `PyMethodDef[]`, static `PyTypeObject`s, `PyType_Slot[]` +
//! `PyType_Spec`, `PyModuleDef` + `PyModuleDef_Slot[]`.

use crate::ctx::FileCtx;
use crate::prepare::identifiers;
use crate::syntax::{analyze_declarator, children, field, kind, string_value, strip_parens, Txt};
use refsan_ir::{
    GetSetEntry, GetSetTable, MethodEntry, MethodTable, Module, ModuleDef, SlotEntry, Span,
    TypeDef, TypeDefKind,
};
use std::collections::HashMap;
use tree_sitter::Node;

/// PyTypeObject fields after `ob_base`, in declaration order (3.11).
const TYPE_FIELDS: &[&str] = &[
    "tp_name",
    "tp_basicsize",
    "tp_itemsize",
    "tp_dealloc",
    "tp_vectorcall_offset",
    "tp_getattr",
    "tp_setattr",
    "tp_as_async",
    "tp_repr",
    "tp_as_number",
    "tp_as_sequence",
    "tp_as_mapping",
    "tp_hash",
    "tp_call",
    "tp_str",
    "tp_getattro",
    "tp_setattro",
    "tp_as_buffer",
    "tp_flags",
    "tp_doc",
    "tp_traverse",
    "tp_clear",
    "tp_richcompare",
    "tp_weaklistoffset",
    "tp_iter",
    "tp_iternext",
    "tp_methods",
    "tp_members",
    "tp_getset",
    "tp_base",
    "tp_dict",
    "tp_descr_get",
    "tp_descr_set",
    "tp_dictoffset",
    "tp_init",
    "tp_alloc",
    "tp_new",
    "tp_free",
    "tp_is_gc",
    "tp_bases",
    "tp_mro",
    "tp_cache",
    "tp_subclasses",
    "tp_weaklist",
    "tp_del",
    "tp_version_tag",
    "tp_finalize",
    "tp_vectorcall",
];

const MODULE_FIELDS: &[&str] = &[
    "m_base",
    "m_name",
    "m_doc",
    "m_size",
    "m_methods",
    "m_slots",
    "m_traverse",
    "m_clear",
    "m_free",
];

const SPEC_FIELDS: &[&str] = &["name", "basicsize", "itemsize", "flags", "slots"];

const METHOD_FIELDS: &[&str] = &["ml_name", "ml_meth", "ml_flags", "ml_doc"];
const GETSET_FIELDS: &[&str] = &["name", "get", "set", "doc", "closure"];

/// A `PyType_Spec`, resolved against slot arrays at the end of the file.
struct Spec {
    var: String,
    slots: Option<String>,
    object_struct: Option<String>,
    flags: Vec<String>,
    span: Span,
}

#[derive(Default)]
pub(crate) struct TableCollector {
    /// `PyType_Slot NAME[]` arrays, in order.
    type_slots: Vec<(String, Vec<SlotEntry>, Span)>,
    specs: Vec<Spec>,
    /// `PyModuleDef_Slot NAME[]` arrays.
    module_slots: HashMap<String, Vec<SlotEntry>>,
    /// Module defs with the slot array their `m_slots` names.
    modules: Vec<(ModuleDef, Option<String>)>,
}

/// What a table's element sits at: a designated field or a position.
enum Key {
    Field(String),
    Position(usize),
}

impl TableCollector {
    /// Records a table if `init` (an `init_declarator` of `decl`) is one.
    pub fn declaration(
        &mut self,
        ctx: &FileCtx<'_>,
        decl: Node<'_>,
        init: Node<'_>,
        module: &mut Module,
    ) {
        let t = ctx.txt;
        let Some(ty) = field(decl, "type") else {
            return;
        };
        let ty_text = t.bytes(ty);
        let table: &[u8] = match ty_text
            .strip_prefix(b"struct ")
            .unwrap_or(ty_text)
            .trim_ascii()
        {
            b"PyMethodDef" => b"methods",
            b"PyGetSetDef" => b"getset",
            b"PyTypeObject" => b"type",
            b"PyType_Slot" => b"type_slots",
            b"PyType_Spec" => b"spec",
            b"PyModuleDef" => b"module",
            b"PyModuleDef_Slot" => b"module_slots",
            _ => return,
        };
        let (Some(declarator), Some(value)) = (field(init, "declarator"), field(init, "value"))
        else {
            return;
        };
        if kind(value) != "initializer_list" {
            return;
        }
        let Some(name) = analyze_declarator(declarator).name else {
            return;
        };
        let var = t.str(name).into_owned();
        let span = t.span(decl);
        match table {
            b"methods" => module.method_tables.push(method_table(t, var, value, span)),
            b"getset" => module.getset_tables.push(getset_table(t, var, value, span)),
            b"type" => module.type_defs.push(static_type(ctx, var, value, span)),
            b"type_slots" => {
                let slots =
                    slot_array(t, value, |s| s.strip_prefix("Py_").unwrap_or(s).to_string());
                self.type_slots.push((var, slots, span));
            }
            b"spec" => self.specs.push(spec(t, var, value, span)),
            b"module" => self.modules.push(module_def(t, var, value, span)),
            _ => {
                let slots = slot_array(t, value, str::to_string);
                if slots
                    .iter()
                    .any(|s| s.slot == "Py_mod_gil" && s.value == "Py_MOD_GIL_NOT_USED")
                {
                    module.free_threading = true;
                }
                self.module_slots.insert(var, slots);
            }
        }
    }

    pub fn finish(self, module: &mut Module) {
        let mut used = vec![false; self.type_slots.len()];
        for spec in self.specs {
            let mut slots = Vec::new();
            if let Some(name) = &spec.slots {
                if let Some(i) = self.type_slots.iter().position(|(n, _, _)| n == name) {
                    used[i] = true;
                    slots = self.type_slots[i].1.clone();
                }
            }
            module.type_defs.push(TypeDef {
                name: spec.var,
                kind: TypeDefKind::Spec,
                object_struct: spec.object_struct,
                flags: spec.flags,
                slots,
                span: spec.span,
            });
        }
        // Slot arrays no spec in this file uses are still a type's slots.
        for ((name, slots, span), used) in self.type_slots.into_iter().zip(used) {
            if !used {
                module.type_defs.push(TypeDef {
                    name,
                    kind: TypeDefKind::Spec,
                    object_struct: None,
                    flags: Vec::new(),
                    slots,
                    span,
                });
            }
        }
        for (mut def, slots_ref) in self.modules {
            if let Some(entries) = slots_ref.and_then(|r| self.module_slots.get(&r)) {
                def.slots.extend(entries.iter().cloned());
            }
            module.module_defs.push(def);
        }
    }
}

/// Elements of an initializer list; `#if` lines inside it come out as
/// ERROR nodes, whose table entries are kept.
fn elements<'t>(list: Node<'t>) -> Vec<Node<'t>> {
    let mut out = Vec::new();
    for c in children(list) {
        if c.is_error() {
            out.extend(
                children(c)
                    .into_iter()
                    .filter(|x| matches!(kind(x), "initializer_list" | "initializer_pair")),
            );
        } else {
            out.push(c);
        }
    }
    out
}

/// Pairs each element with its field name (designated) or position.
fn keyed<'t>(t: Txt<'_>, list: Node<'t>) -> Vec<(Key, Node<'t>)> {
    let mut pos = 0;
    let mut out = Vec::new();
    for e in elements(list) {
        if kind(e) == "initializer_pair" {
            let designator = field(e, "designator");
            let name = designator.map(|d| {
                let text = t.str(d);
                text.trim_start_matches('.').trim().to_string()
            });
            if let (Some(name), Some(value)) = (name, field(e, "value")) {
                out.push((Key::Field(name), value));
            }
        } else {
            out.push((Key::Position(pos), e));
            pos += 1;
        }
    }
    out
}

/// The field a keyed element initialises, given the positional order.
fn field_name(key: &Key, order: &[&str]) -> Option<String> {
    match key {
        Key::Field(f) => Some(f.clone()),
        Key::Position(p) => order.get(*p).map(ToString::to_string),
    }
}

/// The function (or table) name an element refers to, through casts,
/// `&` and `_PyCFunction_CAST(f)`-style macros; `None` for NULL/0/literals.
fn referenced_name(t: Txt<'_>, mut n: Node<'_>) -> Option<String> {
    for _ in 0..32 {
        n = strip_parens(n);
        match kind(n) {
            "cast_expression" => n = field(n, "value")?,
            "pointer_expression" => n = field(n, "argument")?,
            "call_expression" => {
                let f = field(n, "function")?;
                if !t.bytes(f).ends_with(b"_CAST") {
                    return None;
                }
                n = *children(field(n, "arguments")?).last()?;
            }
            "identifier" | "qualified_identifier" => {
                let s = t.str(n);
                return if s == "NULL" {
                    None
                } else {
                    Some(s.into_owned())
                };
            }
            _ => return None,
        }
    }
    None
}

/// `sizeof(FooObject)` → `FooObject`.
fn sizeof_struct(t: Txt<'_>, n: Node<'_>) -> Option<String> {
    let n = strip_parens(n);
    if kind(n) != "sizeof_expression" {
        return None;
    }
    let inner = field(n, "type").or_else(|| field(n, "value"))?;
    let text = t.str(inner);
    let name = text
        .trim()
        .trim_start_matches('(')
        .trim_end_matches(')')
        .trim();
    let name = name.strip_prefix("struct ").unwrap_or(name).trim();
    if name.is_empty() {
        None
    } else {
        Some(name.to_string())
    }
}

fn flag_names(t: Txt<'_>, n: Node<'_>) -> Vec<String> {
    identifiers(t.bytes(n))
        .map(|id| String::from_utf8_lossy(id).into_owned())
        .collect()
}

fn getset_table(t: Txt<'_>, name: String, list: Node<'_>, span: Span) -> GetSetTable {
    let mut entries = Vec::new();
    for e in elements(list) {
        if kind(e) != "initializer_list" {
            continue;
        }
        let (mut py_name, mut getter, mut setter) = (None, None, None);
        for (key, value) in keyed(t, e) {
            match field_name(&key, GETSET_FIELDS).as_deref() {
                Some("name") => py_name = string_value(&t, value),
                Some("get") => getter = referenced_name(t, value),
                Some("set") => setter = referenced_name(t, value),
                _ => {}
            }
        }
        let null = |f: Option<String>| f.filter(|f| f != "NULL" && f != "0");
        if let Some(py_name) = py_name {
            entries.push(GetSetEntry {
                py_name,
                getter: null(getter),
                setter: null(setter),
                span: t.span(e),
            });
        }
    }
    GetSetTable {
        name,
        entries,
        span,
    }
}

fn method_table(t: Txt<'_>, name: String, list: Node<'_>, span: Span) -> MethodTable {
    let mut entries = Vec::new();
    for e in elements(list) {
        if kind(e) != "initializer_list" {
            // `FOO_METHODDEF`: a clinic macro, defined in a generated header.
            continue;
        }
        let mut py_name = None;
        let mut func = None;
        let mut flags = Vec::new();
        for (key, value) in keyed(t, e) {
            match field_name(&key, METHOD_FIELDS).as_deref() {
                Some("ml_name") => py_name = string_value(&t, value),
                Some("ml_meth") => func = referenced_name(t, value),
                Some("ml_flags") => flags = flag_names(t, value),
                _ => {}
            }
        }
        if let (Some(py_name), Some(func)) = (py_name, func) {
            entries.push(MethodEntry {
                py_name,
                func,
                flags,
                span: t.span(e),
            });
        }
    }
    MethodTable {
        name,
        entries,
        span,
    }
}

fn static_type(ctx: &FileCtx<'_>, name: String, list: Node<'_>, span: Span) -> TypeDef {
    let t = ctx.txt;
    let mut def = TypeDef {
        name,
        kind: TypeDefKind::Static,
        object_struct: None,
        flags: Vec::new(),
        slots: Vec::new(),
        span,
    };
    // Positional fields start after the object head.
    let all = keyed(t, list);
    let mut skip = 0;
    if let Some((Key::Position(0), first)) = all.first() {
        let head = ctx.orig.get(first.start_byte()..).unwrap_or_default();
        if head.starts_with(b"PyVarObject_HEAD_INIT") || kind(first) == "initializer_list" {
            skip = 1;
        } else if head.starts_with(b"PyObject_HEAD_INIT") {
            // Python 2 style: `PyObject_HEAD_INIT(NULL) 0, "name"`.
            skip = 2;
        }
    }
    for (key, value) in all {
        let key = match key {
            Key::Position(p) if p < skip => continue,
            Key::Position(p) => Key::Position(p - skip),
            k => k,
        };
        let Some(slot) = field_name(&key, TYPE_FIELDS) else {
            continue;
        };
        match slot.as_str() {
            "tp_name" | "tp_doc" | "tp_itemsize" => {}
            "tp_basicsize" => def.object_struct = sizeof_struct(t, value),
            "tp_flags" => def.flags = flag_names(t, value),
            _ => {
                if let Some(v) = referenced_name(t, value) {
                    def.slots.push(SlotEntry {
                        slot,
                        value: v,
                        span: t.span(value),
                    });
                }
            }
        }
    }
    def
}

/// `{{Py_tp_dealloc, f}, ..., {0, NULL}}` → slots named by `normalise`.
fn slot_array(t: Txt<'_>, list: Node<'_>, normalise: impl Fn(&str) -> String) -> Vec<SlotEntry> {
    let mut out = Vec::new();
    for e in elements(list) {
        if kind(e) != "initializer_list" {
            continue;
        }
        let mut slot_id = None;
        let mut value = None;
        for (key, v) in keyed(t, e) {
            match field_name(&key, &["slot", "value"]).as_deref() {
                Some("slot") => slot_id = referenced_name(t, v),
                Some("value") => value = referenced_name(t, v),
                _ => {}
            }
        }
        if let (Some(slot), Some(value)) = (slot_id, value) {
            out.push(SlotEntry {
                slot: normalise(&slot),
                value,
                span: t.span(e),
            });
        }
    }
    out
}

fn spec(t: Txt<'_>, var: String, list: Node<'_>, span: Span) -> Spec {
    let mut spec = Spec {
        var,
        slots: None,
        object_struct: None,
        flags: Vec::new(),
        span,
    };
    for (key, value) in keyed(t, list) {
        match field_name(&key, SPEC_FIELDS).as_deref() {
            Some("basicsize") => spec.object_struct = sizeof_struct(t, value),
            Some("flags") => spec.flags = flag_names(t, value),
            Some("slots") => spec.slots = referenced_name(t, value),
            _ => {}
        }
    }
    spec
}

fn module_def(t: Txt<'_>, name: String, list: Node<'_>, span: Span) -> (ModuleDef, Option<String>) {
    let mut def = ModuleDef {
        name,
        slots: Vec::new(),
        span,
    };
    let mut slots_ref = None;
    for (key, value) in keyed(t, list) {
        let Some(slot) = field_name(&key, MODULE_FIELDS) else {
            continue;
        };
        if !matches!(
            slot.as_str(),
            "m_methods" | "m_slots" | "m_traverse" | "m_clear" | "m_free"
        ) {
            continue;
        }
        if let Some(v) = referenced_name(t, value) {
            if slot == "m_slots" {
                slots_ref = Some(v.clone());
            }
            def.slots.push(SlotEntry {
                slot,
                value: v,
                span: t.span(value),
            });
        }
    }
    (def, slots_ref)
}
