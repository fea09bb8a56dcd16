//! The rule catalogue. One file per rule: its metadata and documentation
//! (what `refsan explain` prints) and the wording of its findings. The
//! ownership rules (RS1xx) are detected by the path analysis in
//! `analyze.rs`, which calls into these files to word what it found; the
//! API-usage and type-slot rules (RS2xx, RS3xx) carry their own detection.

use refsan_ir::{Event, Finding, RuleMeta, Span};

pub mod rs101_leaked_reference;
pub mod rs102_decref_borrowed;
pub mod rs103_use_after_release;
pub mod rs104_borrowed_returned;
pub mod rs105_borrowed_stolen;
pub mod rs106_steal_mishandled;
pub mod rs107_unchecked_null;
pub mod rs108_borrowed_stored;
pub mod rs109_error_without_exception;
pub mod rs110_borrowed_across_call;
pub mod rs201_parse_format;
pub mod rs202_build_format;
pub mod rs203_method_flags;
pub mod rs204_api_without_gil;
pub mod rs205_free_threading_borrowed;
pub mod rs301_dealloc_missing_release;
pub mod rs302_traverse_missing_visit;
pub mod rs303_dealloc_missing_untrack;
pub mod rs304_heaptype_dealloc_type_ref;
pub mod rs401_object_cast_of_new_ref;
pub mod rs402_incref_then_cast;
pub mod rs403_managed_to_stealing;
pub mod rs404_dealloc_decref_maybe_null;
pub mod rs405_extern_ownership_unknown;
pub mod rs406_raw_pointer_outlives_object;
pub mod rs407_refcount_field_access;
pub mod rs408_refcount_call_on_raw_pointer;
mod slots;

/// Every rule, in code order.
pub static RULES: &[&RuleMeta] = &[
    &rs101_leaked_reference::META,
    &rs102_decref_borrowed::META,
    &rs103_use_after_release::META,
    &rs104_borrowed_returned::META,
    &rs105_borrowed_stolen::META,
    &rs106_steal_mishandled::META,
    &rs107_unchecked_null::META,
    &rs108_borrowed_stored::META,
    &rs109_error_without_exception::META,
    &rs110_borrowed_across_call::META,
    &rs201_parse_format::META,
    &rs202_build_format::META,
    &rs203_method_flags::META,
    &rs204_api_without_gil::META,
    &rs205_free_threading_borrowed::META,
    &rs301_dealloc_missing_release::META,
    &rs302_traverse_missing_visit::META,
    &rs303_dealloc_missing_untrack::META,
    &rs304_heaptype_dealloc_type_ref::META,
    &rs401_object_cast_of_new_ref::META,
    &rs402_incref_then_cast::META,
    &rs403_managed_to_stealing::META,
    &rs404_dealloc_decref_maybe_null::META,
    &rs405_extern_ownership_unknown::META,
    &rs406_raw_pointer_outlives_object::META,
    &rs407_refcount_field_access::META,
    &rs408_refcount_call_on_raw_pointer::META,
];

pub fn rule(code: &str) -> Option<&'static RuleMeta> {
    RULES
        .iter()
        .copied()
        .find(|r| r.code.eq_ignore_ascii_case(code))
}

/// Builds a finding of `meta` at `span`.
pub fn finding(
    meta: &'static RuleMeta,
    span: Span,
    function: Option<&str>,
    message: String,
    events: Vec<Event>,
    help: Option<String>,
) -> Finding {
    Finding {
        code: meta.code,
        name: meta.name,
        severity: meta.severity,
        message,
        span,
        function: function.map(str::to_string),
        events,
        help,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_is_consistent() {
        let mut codes: Vec<&str> = RULES.iter().map(|r| r.code).collect();
        let sorted = {
            let mut c = codes.clone();
            c.sort();
            c
        };
        assert_eq!(codes, sorted, "RULES must be in code order");
        codes.dedup();
        assert_eq!(codes.len(), RULES.len(), "duplicate rule code");
        for r in RULES {
            assert!(
                r.doc.contains("## What it does"),
                "{} doc lacks What it does",
                r.code
            );
            assert!(
                r.doc.contains("## Why is this bad?"),
                "{} doc lacks Why",
                r.code
            );
            assert!(r.doc.contains("## Example"), "{} doc lacks Example", r.code);
            assert!(!r.summary.is_empty());
        }
        assert_eq!(rule("rs101").map(|r| r.name), Some("leaked-reference"));
    }
}
