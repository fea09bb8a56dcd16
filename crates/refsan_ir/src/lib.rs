//! refsan's ownership IR.
//!
//! Front-ends (C via tree-sitter, Cython via its own parser) lower source
//! files into [`Module`]s; the engine analyses them and produces
//! [`Finding`]s; the report layer renders those. This crate knows nothing
//! of parsers or output formats.

pub mod builder;
pub mod contract;
pub mod diag;
pub mod facts;
pub mod func;
pub mod module;
pub mod span;

pub use builder::FunctionBuilder;
pub use contract::{
    ArgEffect, Behaviour, Contract, ContractSource, ExcEffect, FailsWhen, Failure, FormatSpec,
    FormatStyle, Gil, GlobalObject, Returns,
};
pub use diag::{Event, FailingCall, Finding, Note, Precision, RuleMeta, Severity, Trigger};
pub use facts::{ApiFacts, ApiInfo};
pub use func::*;
pub use module::*;
pub use span::{LineIndex, Span};
