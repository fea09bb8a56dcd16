//! The synthetic callees standing for Python-level operations
//! (`__pyx_call`, `__pyx_getattr`, `__pyx_truth`...): their contracts, as
//! the module declares them.

use refsan_ir::*;

/// The contract of a synthetic callee.
fn synthetic_contract(name: &str) -> Option<(Contract, TypeClass)> {
    let new = |failure| Contract {
        returns: Returns::New,
        failure,
        args: Vec::new(),
        exc: ExcEffect::OnFailure,
        noreturn: false,
    };
    let c_value = |failure| Contract {
        returns: Returns::NotObject,
        failure,
        args: Vec::new(),
        exc: ExcEffect::OnFailure,
        noreturn: false,
    };
    let void = |exc| Contract {
        returns: Returns::Void,
        failure: Failure::Never,
        args: Vec::new(),
        exc,
        noreturn: false,
    };
    Some(match name {
        "__pyx_call" | "__pyx_call_method" | "__pyx_getattr" | "__pyx_getitem" | "__pyx_binop"
        | "__pyx_richcmp" | "__pyx_build" | "__pyx_iter" | "__pyx_unpack" | "__pyx_import"
        | "__pyx_yield" => (new(Failure::Null), TypeClass::Object),
        "__pyx_iter_next" => (new(Failure::NullMaybeExc), TypeClass::Object),
        "__pyx_exc_fetch" => (
            Contract {
                exc: ExcEffect::Clears,
                ..new(Failure::Never)
            },
            TypeClass::Object,
        ),
        "__pyx_to_c" => (c_value(Failure::Ambiguous), TypeClass::Int),
        // Truth and comparisons of objects, isinstance(), hasattr()...: -1
        // with an exception, else 0 or 1 (PyObject_IsTrue,
        // PyObject_RichCompareBool, PyObject_IsInstance).
        "__pyx_truth" | "__pyx_compare" | "__pyx_cbuiltin" => {
            (c_value(Failure::TriState), TypeClass::Int)
        }
        // len(): a size from 0 up, -1 with an exception (PyObject_Size).
        "__pyx_len" => (c_value(Failure::Negative), TypeClass::Int),
        "__pyx_typecheck" | "__pyx_setattr" | "__pyx_setitem" | "__pyx_delattr"
        | "__pyx_delitem" | "__pyx_setglobal" => (c_value(Failure::NegOne), TypeClass::Int),
        "__pyx_raise" | "__pyx_exc_restore" | "__pyx_raise_unbound" => {
            (void(ExcEffect::Sets), TypeClass::Void)
        }
        "__pyx_exc_clear" | "__pyx_exc_save" | "__pyx_write_unraisable" => {
            (void(ExcEffect::Clears), TypeClass::Void)
        }
        _ => return None,
    })
}

/// The declaration the module makes for a synthetic callee it uses.
pub(crate) fn synthetic_declaration(name: &str) -> Option<Declaration> {
    let (c, ty) = synthetic_contract(name)?;
    Some(Declaration {
        name: name.to_string(),
        returns: ty,
        param_count: 0,
        contract: Some((c, ContractSource::Declaration)),
        noexcept: false,
        span: Span::default(),
    })
}

/// Every synthetic callee the front-end may emit.
pub const SYNTHETIC_CALLEES: &[&str] = &[
    "__pyx_call",
    "__pyx_call_method",
    "__pyx_getattr",
    "__pyx_getitem",
    "__pyx_binop",
    "__pyx_richcmp",
    "__pyx_build",
    "__pyx_iter",
    "__pyx_iter_next",
    "__pyx_unpack",
    "__pyx_import",
    "__pyx_yield",
    "__pyx_exc_fetch",
    "__pyx_to_c",
    "__pyx_truth",
    "__pyx_compare",
    "__pyx_len",
    "__pyx_cbuiltin",
    "__pyx_typecheck",
    "__pyx_setattr",
    "__pyx_setitem",
    "__pyx_delattr",
    "__pyx_delitem",
    "__pyx_setglobal",
    "__pyx_raise",
    "__pyx_raise_unbound",
    "__pyx_exc_restore",
    "__pyx_exc_clear",
    "__pyx_exc_save",
    "__pyx_write_unraisable",
];

pub(crate) fn static_name(name: &str) -> &'static str {
    SYNTHETIC_CALLEES
        .iter()
        .find(|s| **s == name)
        .copied()
        .unwrap_or("__pyx_call")
}
