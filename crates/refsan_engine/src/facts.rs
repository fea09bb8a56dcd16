//! Where contracts come from: the C-API knowledge base (behind the
//! [`ApiFacts`] trait, so the engine can be tested with small tables),
//! project annotations, declarations in the file, and summaries of the
//! file's own functions.

use refsan_ir::{Contract, ContractSource, Module};
use std::collections::HashMap;

/// What the knowledge base says about one C-API name.
#[derive(Clone, Debug)]
pub struct ApiInfo<'a> {
    pub contract: &'a Contract,
    pub is_macro: bool,
    pub added: Option<(u8, u8)>,
    pub removed: Option<(u8, u8)>,
    /// Argument positions that accept NULL besides their effect (a stealing
    /// argument of PyErr_Restore may be NULL).
    pub also_nullable: &'a [usize],
}

/// The C-API knowledge base as the engine sees it.
pub trait ApiFacts: Send + Sync {
    fn api(&self, name: &str) -> Option<ApiInfo<'_>>;
    /// For singleton objects (`Py_None`...): the version since which they
    /// are immortal.
    fn singleton_immortal_since(&self, name: &str) -> Option<(u8, u8)>;
}

/// A small in-memory table of contracts, for tests and embedders.
#[derive(Clone, Debug, Default)]
pub struct TableFacts {
    pub contracts: HashMap<String, Contract>,
}

impl TableFacts {
    pub fn with(mut self, name: &str, contract: Contract) -> TableFacts {
        self.contracts.insert(name.to_string(), contract);
        self
    }
}

impl ApiFacts for TableFacts {
    fn api(&self, name: &str) -> Option<ApiInfo<'_>> {
        self.contracts.get(name).map(|c| ApiInfo {
            contract: c,
            is_macro: false,
            added: None,
            removed: None,
            also_nullable: &[],
        })
    }

    fn singleton_immortal_since(&self, name: &str) -> Option<(u8, u8)> {
        is_singleton_name(name).then_some((3, 12))
    }
}

/// The names under which C code refers to the singletons.
pub fn is_singleton_name(name: &str) -> bool {
    matches!(
        name,
        "Py_None"
            | "Py_True"
            | "Py_False"
            | "Py_NotImplemented"
            | "Py_Ellipsis"
            | "_Py_NoneStruct"
            | "_Py_TrueStruct"
            | "_Py_FalseStruct"
            | "_Py_NotImplementedStruct"
            | "_Py_EllipsisObject"
            | "&_Py_NoneStruct"
            | "&_Py_TrueStruct"
            | "&_Py_FalseStruct"
    )
}

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
    config: &'a HashMap<String, Contract>,
    declared: HashMap<&'a str, (&'a Contract, ContractSource)>,
    summaries: HashMap<String, Contract>,
    /// For summarised functions: the values they return on success.
    success: HashMap<String, (i64, i64)>,
    /// Summarised functions that return one of their arguments.
    returns_arg: HashMap<String, usize>,
    /// Summarised non-object functions: how they return.
    int_outcomes: HashMap<String, Vec<crate::outcome::IntOutcome>>,
    /// File-scope variables that hold objects, and those that are objects.
    object_globals: HashMap<&'a str, GlobalKind>,
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
        let mut declared = HashMap::new();
        for d in &module.declarations {
            if let Some((c, src)) = &d.contract {
                declared.insert(d.name.as_str(), (c, *src));
            }
        }
        for f in &module.functions {
            if let Some((c, src)) = &f.declared {
                declared.insert(f.name.as_str(), (c, *src));
            }
        }
        let mut object_globals = HashMap::new();
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
        Resolver {
            facts,
            config,
            declared,
            summaries: HashMap::new(),
            success: HashMap::new(),
            returns_arg: HashMap::new(),
            int_outcomes: HashMap::new(),
            object_globals,
        }
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
        if is_singleton_name(name) || name.starts_with("PyExc_") {
            return Some(GlobalKind::HoldsObject);
        }
        if name.starts_with("Py") && name.ends_with("_Type")
            || name.starts_with("_Py") && name.ends_with("_Type")
        {
            return Some(GlobalKind::IsObject);
        }
        None
    }

    pub fn summary(&self, name: &str) -> Option<&Contract> {
        self.summaries.get(name)
    }
}
