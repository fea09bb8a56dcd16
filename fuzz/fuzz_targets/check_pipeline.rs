//! The whole static check of arbitrary bytes as C: lowering, then the engine
//! with the real C-API knowledge base. Must not panic, overflow the stack or
//! hang (every function's analysis is bounded by its budget).
//!
//! `cargo +nightly fuzz run check_pipeline` (from this directory's parent).

#![no_main]

use libfuzzer_sys::fuzz_target;
use refsan_engine::CheckOptions;
use refsan_ir::Language;

fuzz_target!(|data: &[u8]| {
    let facts = refsan_capi::KnowledgeBase::builtin();
    let module = refsan_c::lower_file("fuzz.c", data, Language::C);
    let _ = refsan_engine::check_module(&module, facts, &CheckOptions::default());
});
