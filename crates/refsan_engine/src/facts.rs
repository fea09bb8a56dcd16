//! Where contracts come from: the C-API knowledge base (behind the
//! [`ApiFacts`] trait), project annotations, declarations in the file, and
//! summaries of the file's own functions.

pub use refsan_ir::{ApiFacts, ApiInfo};
use refsan_ir::{
    Behaviour, Contract, ContractSource, Function, GlobalObject, Module, Operand, Place, StmtKind,
    VarId, VarKind,
};
use rustc_hash::{FxHashMap, FxHashSet};
use std::collections::HashMap;

/// A resolved contract for a callee and where it came from.
#[derive(Clone, Copy, Debug)]
pub struct Resolved<'a> {
    pub contract: &'a Contract,
    pub source: ContractSource,
    /// True when the knowledge base describes the callee: its arguments are
    /// known not to accept NULL unless marked `Nullable`.
    pub is_api: bool,
}

/// Contract lookup for one module, strongest source first: project
/// configuration, annotations in the file, the knowledge base, summaries of
/// the file's own functions.
pub struct Resolver<'a> {
    facts: &'a dyn ApiFacts,
    module: &'a Module,
    config: &'a HashMap<String, Contract>,
    declared: FxHashMap<&'a str, (&'a Contract, ContractSource)>,
    summaries: FxHashMap<String, Contract>,
    /// For summarised functions: the values they return on success.
    success: FxHashMap<String, (i64, i64)>,
    /// Summarised functions that return one of their arguments.
    returns_arg: FxHashMap<String, usize>,
    /// Summarised functions whose new references are to objects they made.
    fresh: FxHashSet<String>,
    /// Summarised functions that fail only when memory runs out.
    oom_only: FxHashSet<String>,
    /// Summarised functions: parameters not NULL when they succeed.
    nonnull_on_success: FxHashMap<String, u64>,
    /// Summarised non-object functions: how they return.
    int_outcomes: FxHashMap<String, Vec<crate::outcome::IntOutcome>>,
    /// File-scope variables that hold objects, and those that are objects.
    object_globals: FxHashMap<&'a str, GlobalKind>,
    /// Declared functions that never touch the exception state.
    noexcept: FxHashSet<&'a str>,
    /// Functions of the project that can run Python code, with the call of
    /// the knowledge base that does (`notify` -> `PyObject_CallObject`).
    runs_code: FxHashMap<String, String>,
    /// Object fields that a function Python can call writes: Python code
    /// run meanwhile can rebind them and free what they held.
    rebindable_fields: FxHashSet<&'a str>,
    /// Functions that run while Python code cannot reach the object or
    /// module they work on (constructors, deallocators, module set-up).
    unreachable_fns: FxHashSet<&'a str>,
    /// (struct, field) pairs some function of the module releases.
    released_fields: FxHashSet<(String, String)>,
    /// (instance struct, member) pairs whose type's deallocator releases
    /// the member: the object owns what they hold.
    owning_members: FxHashMap<(String, String), String>,
    /// (instance struct, member) pairs a method or setter sets to NULL,
    /// with that function and the line.
    cleared_members: FxHashMap<(String, String), (String, u32)>,
    /// (instance struct, member) pairs holding no object that a method or
    /// setter writes: state flags (`self->closed`).
    state_flags: FxHashSet<(String, String)>,
}

/// What a file-scope name refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GlobalKind {
    /// A pointer to an object (`static PyObject *cache`): reading it gives a
    /// reference the module owns.
    HoldsObject,
    /// A static object (`static PyTypeObject Foo_Type`): its address is an
    /// object that is never freed.
    IsObject,
}

/// Slots whose functions run while Python code cannot reach the object
/// (or the module) they work on.
const UNREACHABLE_SLOTS: &[&str] = &[
    "tp_new",
    "tp_alloc",
    "tp_dealloc",
    "tp_finalize",
    "tp_del",
    "tp_traverse",
    "tp_clear",
    "tp_free",
    "m_traverse",
    "m_clear",
    "m_free",
    "Py_mod_exec",
    "Py_mod_create",
];

/// The functions of the slots in [`UNREACHABLE_SLOTS`].
fn unreachable_fns(module: &Module) -> FxHashSet<&str> {
    module
        .type_defs
        .iter()
        .flat_map(|t| t.slots.iter())
        .chain(module.module_defs.iter().flat_map(|m| m.slots.iter()))
        .filter(|s| UNREACHABLE_SLOTS.contains(&s.slot.as_str()))
        .map(|s| s.value.as_str())
        .collect()
}

/// The fields some function of the module releases (`Py_DECREF(st->cb)`,
/// `Py_CLEAR(x.cb)`, or a local copied from the field and released), as
/// (struct, field); the struct is "" where the base's type is not known.
/// A struct field no function releases holds borrowed references by
/// design.
fn released_fields(module: &Module) -> FxHashSet<(String, String)> {
    let mut out = FxHashSet::default();
    for f in &module.functions {
        let key = |base: &VarId, name: &str| {
            let ty = f.vars.get(base.index()).map_or("", |v| v.c_type.as_str());
            (struct_key(module, ty), name.to_string())
        };
        let copied = field_copies(f);
        for stmt in f.blocks.iter().flat_map(|b| b.stmts.iter()) {
            if let StmtKind::Decref { value, .. } = &stmt.kind {
                match value {
                    Operand::Field(base, name) => {
                        out.insert(key(base, name));
                    }
                    Operand::Var(v) => {
                        if let Some(Some((base, name))) = copied.get(v.index()) {
                            out.insert(key(base, name));
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    out
}

/// Per variable of `f`, the field it was copied from (`x = self->x`),
/// as (base, field name): releasing the variable releases the field.
pub(crate) fn field_copies(f: &Function) -> Vec<Option<(VarId, &str)>> {
    let mut out = vec![None; f.vars.len()];
    for stmt in f.blocks.iter().flat_map(|b| b.stmts.iter()) {
        if let StmtKind::Assign {
            dst,
            src: Operand::Field(base, name),
        } = &stmt.kind
        {
            if let Some(c) = out.get_mut(dst.index()) {
                *c = Some((base.to_owned(), name.as_str()));
            }
        }
    }
    out
}

/// The name a struct is known by in `released_fields`: the first name of
/// its definition, or the C type's struct name ("" when unknown).
fn struct_key(module: &Module, c_type: &str) -> String {
    module
        .struct_named(c_type)
        .and_then(|s| s.names.first())
        .map_or_else(|| refsan_ir::struct_name(c_type).to_string(), Clone::clone)
}

/// The object fields written by the module's functions that Python can
/// call (see [`Resolver::field_rebindable`]).
fn rebindable_fields<'a>(module: &'a Module, unreachable: &FxHashSet<&str>) -> FxHashSet<&'a str> {
    let mut out = FxHashSet::default();
    for f in &module.functions {
        if unreachable.contains(f.name.as_str()) || f.name.starts_with("PyInit_") {
            continue;
        }
        // Writes through a parameter (or a local copied from one): the
        // object came from the caller. A function filling in an object it
        // just made (`self = PyObject_GC_New(...); self->x = x;`) is a
        // constructor by another name.
        let stmts = || f.blocks.iter().flat_map(|b| b.stmts.iter());
        let mut from_param: Vec<bool> = f
            .vars
            .iter()
            .map(|v| matches!(v.kind, VarKind::Param(_)))
            .collect();
        for _ in 0..2 {
            for stmt in stmts() {
                if let StmtKind::Assign {
                    dst,
                    src: Operand::Var(src),
                } = &stmt.kind
                {
                    if from_param.get(src.index()).copied().unwrap_or(false) {
                        if let Some(d) = from_param.get_mut(dst.index()) {
                            *d = true;
                        }
                    }
                }
            }
        }
        let mut write = |base: &VarId, field: &'a str| {
            if from_param.get(base.index()).copied().unwrap_or(false) {
                out.insert(field);
            }
        };
        for stmt in stmts() {
            match &stmt.kind {
                StmtKind::Store {
                    place: Place::Field(base, field),
                    ..
                }
                | StmtKind::Decref {
                    clears: Some(Place::Field(base, field)),
                    ..
                } => write(base, field),
                // `PyArg_ParseTuple(args, "O", &self->cb)`
                StmtKind::Call { args, .. } => {
                    for a in args {
                        if let Operand::AddrOf(Place::Field(base, field)) = a {
                            write(base, field);
                        }
                    }
                }
                _ => {}
            }
        }
    }
    out.remove("[]");
    out
}

/// Type names of static objects.
fn is_object_type_name(c_type: &str) -> bool {
    let t = c_type
        .trim()
        .trim_start_matches("static ")
        .trim_start_matches("const ")
        .trim();
    matches!(
        t,
        "PyTypeObject" | "PyObject" | "PyVarObject" | "PyModuleDef" | "struct PyModuleDef"
    ) || (t.ends_with("Object") && !t.contains('*'))
}

impl<'a> Resolver<'a> {
    pub fn new(
        facts: &'a dyn ApiFacts,
        config: &'a HashMap<String, Contract>,
        module: &'a Module,
    ) -> Resolver<'a> {
        let mut declared = FxHashMap::default();
        let mut noexcept = FxHashSet::default();
        for d in &module.declarations {
            if d.noexcept {
                noexcept.insert(d.name.as_str());
            }
            if let Some((c, src)) = &d.contract {
                declared.insert(d.name.as_str(), (c, *src));
            }
        }
        for f in &module.functions {
            if let Some((c, src)) = &f.declared {
                declared.insert(f.name.as_str(), (c, *src));
            }
        }
        let mut object_globals = FxHashMap::default();
        for g in &module.globals {
            if g.ty == refsan_ir::TypeClass::Object && g.c_type.contains('*') {
                object_globals.insert(g.name.as_str(), GlobalKind::HoldsObject);
            } else if is_object_type_name(&g.c_type)
                || module.struct_named(&g.c_type).is_some_and(|s| s.is_object)
            {
                object_globals.insert(g.name.as_str(), GlobalKind::IsObject);
            }
        }
        for t in &module.type_defs {
            object_globals
                .entry(t.name.as_str())
                .or_insert(GlobalKind::IsObject);
        }
        let unreachable_fns = unreachable_fns(module);
        Resolver {
            facts,
            module,
            config,
            declared,
            summaries: FxHashMap::default(),
            success: FxHashMap::default(),
            returns_arg: FxHashMap::default(),
            fresh: Default::default(),
            oom_only: Default::default(),
            nonnull_on_success: FxHashMap::default(),
            int_outcomes: FxHashMap::default(),
            object_globals,
            noexcept,
            runs_code: FxHashMap::default(),
            rebindable_fields: rebindable_fields(module, &unreachable_fns),
            released_fields: released_fields(module),
            unreachable_fns,
            owning_members: FxHashMap::default(),
            cleared_members: FxHashMap::default(),
            state_flags: FxHashSet::default(),
        }
    }

    pub fn set_owning_members(&mut self, members: Vec<(String, String, String)>) {
        self.owning_members = members.into_iter().map(|(s, f, by)| ((s, f), by)).collect();
    }

    pub fn set_cleared_members(
        &mut self,
        members: Vec<(String, String, String, u32)>,
        flags: Vec<(String, String)>,
    ) {
        self.cleared_members = members
            .into_iter()
            .map(|(s, f, by, line)| ((s, f), (by, line)))
            .collect();
        self.state_flags = flags.into_iter().collect();
    }

    /// Whether `field` of `object_struct` holds no object and a method or
    /// setter writes it: a state flag the methods test.
    pub fn is_state_flag(&self, object_struct: &str, field: &str) -> bool {
        self.state_flags
            .contains(&(object_struct.to_string(), field.to_string()))
    }

    /// The method or setter that sets `field` of `object_struct` to NULL,
    /// and the line where it does.
    pub fn member_cleared_by(&self, object_struct: &str, field: &str) -> Option<(&str, u32)> {
        self.cleared_members
            .get(&(object_struct.to_string(), field.to_string()))
            .map(|(by, line)| (by.as_str(), *line))
    }

    /// Whether `field` of the struct `object_struct` owns a reference: the
    /// function of its type (`tp_dealloc` or `tp_clear`) that releases it.
    pub fn member_owner(&self, object_struct: &str, field: &str) -> Option<&str> {
        self.owning_members
            .get(&(object_struct.to_string(), field.to_string()))
            .map(String::as_str)
    }

    pub fn set_runs_code(&mut self, name: &str, via: &str) {
        self.runs_code.insert(name.to_string(), via.to_string());
    }

    /// For a function of the project that can run Python code, the call of
    /// the knowledge base through which it does.
    pub fn runs_code(&self, name: &str) -> Option<&str> {
        self.runs_code.get(name).map(String::as_str)
    }

    /// Whether some function of the module may release `field` of the
    /// struct the C type `c_type` points to (a release through a base of
    /// unknown type counts for every struct).
    pub fn field_released(&self, c_type: &str, field: &str) -> bool {
        let key = struct_key(self.module, c_type);
        key.is_empty()
            || self.released_fields.contains(&(key, field.to_string()))
            || self
                .released_fields
                .contains(&(String::new(), field.to_string()))
    }

    /// Whether Python code can rebind `field` of the module's objects: some
    /// function Python can call writes it (constructors, deallocators and
    /// module initialisation do not count: Python cannot reach the object
    /// or call them again).
    pub fn field_rebindable(&self, field: &str) -> bool {
        self.rebindable_fields.contains(field)
    }

    /// `name` runs while Python code cannot reach the object or module it
    /// works on: a constructor, a deallocator, module initialisation.
    pub fn runs_unreachable(&self, name: &str) -> bool {
        self.unreachable_fns.contains(name) || name.starts_with("PyInit_")
    }

    /// `name` is declared never to set nor clear an exception.
    pub fn is_noexcept(&self, name: &str) -> bool {
        self.noexcept.contains(name)
    }

    pub fn facts(&self) -> &'a dyn ApiFacts {
        self.facts
    }

    /// The contract stated for `name` by something other than a summary.
    pub fn stated(&self, name: &str) -> Option<Resolved<'_>> {
        if let Some(c) = self.config.get(name) {
            return Some(Resolved {
                contract: c,
                source: ContractSource::ProjectConfig,
                is_api: false,
            });
        }
        let declared = self.declared.get(name).map(|(c, src)| Resolved {
            contract: c,
            source: *src,
            is_api: false,
        });
        // Words in a comment are the weakest source: the knowledge base wins
        // over them.
        if let Some(d) = declared {
            if d.source != ContractSource::CommentHeuristic {
                return Some(d);
            }
        }
        self.facts
            .api(name)
            .map(|info| Resolved {
                contract: info.contract,
                source: ContractSource::KnowledgeBase,
                is_api: true,
            })
            .or(declared)
    }

    pub fn resolve(&self, name: &str) -> Option<Resolved<'_>> {
        self.stated(name).or_else(|| {
            self.summaries.get(name).map(|c| Resolved {
                contract: c,
                source: ContractSource::Summary,
                is_api: false,
            })
        })
    }

    pub fn add_summary(&mut self, name: &str, contract: Contract) {
        self.summaries.insert(name.to_string(), contract);
    }

    pub fn set_success_range(&mut self, name: &str, range: (i64, i64)) {
        self.success.insert(name.to_string(), range);
    }

    /// The values a summarised function returns when it succeeds.
    pub fn success_range(&self, name: &str) -> Option<(i64, i64)> {
        self.success.get(name).copied()
    }

    pub fn set_int_outcomes(&mut self, name: &str, outcomes: Vec<crate::outcome::IntOutcome>) {
        self.int_outcomes.insert(name.to_string(), outcomes);
    }

    /// How a summarised non-object function returns.
    pub fn int_outcomes(&self, name: &str) -> Option<&[crate::outcome::IntOutcome]> {
        if self.stated(name).is_some() {
            return None;
        }
        self.int_outcomes.get(name).map(Vec::as_slice)
    }

    pub fn set_fresh(&mut self, name: &str) {
        self.fresh.insert(name.to_string());
    }

    /// A summarised function returning objects it made.
    pub fn is_fresh(&self, name: &str) -> bool {
        self.fresh.contains(name)
    }

    pub fn set_oom_only(&mut self, name: &str) {
        self.oom_only.insert(name.to_string());
    }

    /// A summarised function whose every failure needs memory to run out.
    pub fn is_oom_only(&self, name: &str) -> bool {
        self.oom_only.contains(name)
    }

    pub fn set_nonnull_on_success(&mut self, name: &str, mask: u64) {
        self.nonnull_on_success.insert(name.to_string(), mask);
    }

    /// The parameters (bit i: the i-th) a summarised function was not given
    /// NULL in when it succeeds.
    pub fn nonnull_on_success(&self, name: &str) -> u64 {
        self.nonnull_on_success.get(name).copied().unwrap_or(0)
    }

    pub fn set_returns_arg(&mut self, name: &str, arg: usize) {
        self.returns_arg.insert(name.to_string(), arg);
    }

    /// A summarised function that returns its `n`-th argument.
    pub fn returns_arg(&self, name: &str) -> Option<usize> {
        self.returns_arg.get(name).copied()
    }

    /// How a file-scope or external name relates to objects: `Py_None`,
    /// `PyExc_*` and `*_Type` names are known; file-scope variables come from
    /// their declarations.
    pub fn global_kind(&self, name: &str) -> Option<GlobalKind> {
        if let Some(k) = self.object_globals.get(name) {
            return Some(*k);
        }
        match self.facts.object(name)? {
            GlobalObject::Singleton { .. } | GlobalObject::Exception => {
                Some(GlobalKind::HoldsObject)
            }
            GlobalObject::Type => Some(GlobalKind::IsObject),
        }
    }

    /// What the knowledge base says `name` does beyond its contract.
    pub fn behaviour(&self, name: &str) -> Option<&'a Behaviour> {
        self.facts.api(name).map(|info| info.behaviour)
    }

    /// Whether `name` (or `&name`) is one of the interpreter's singletons.
    pub fn is_singleton(&self, name: &str) -> bool {
        matches!(
            self.facts.object(name.trim_start_matches('&')),
            Some(GlobalObject::Singleton { .. })
        )
    }

    pub fn summary(&self, name: &str) -> Option<&Contract> {
        self.summaries.get(name)
    }
}
