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
        Resolver {
            facts,
            config,
            declared,
            summaries: HashMap::new(),
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

    pub fn summary(&self, name: &str) -> Option<&Contract> {
        self.summaries.get(name)
    }
}
