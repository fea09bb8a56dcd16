//! The whole static check of arbitrary bytes as C: lowering, then the engine
//! with the real C-API knowledge base. Must not panic, overflow the stack or
//! hang (every function's analysis is bounded by its budget).
//!
//! `cargo +nightly fuzz run check_pipeline` (from this directory's parent).

#![no_main]

use libfuzzer_sys::fuzz_target;
use refsan_engine::{ApiFacts, ApiInfo, CheckOptions};
use refsan_ir::Language;

struct Facts(&'static refsan_capi::KnowledgeBase);

impl ApiFacts for Facts {
    fn api(&self, name: &str) -> Option<ApiInfo<'_>> {
        self.0.get(name).map(|e| ApiInfo {
            contract: &e.contract,
            is_macro: e.is_macro,
            added: e.added,
            removed: e.removed,
            also_nullable: &e.also_nullable,
        })
    }
    fn singleton_immortal_since(&self, name: &str) -> Option<(u8, u8)> {
        refsan_capi::singleton(name).map(|s| s.immortal_since)
    }
}

fuzz_target!(|data: &[u8]| {
    let facts = Facts(refsan_capi::KnowledgeBase::builtin());
    let module = refsan_c::lower_file("fuzz.c", data, Language::C);
    let _ = refsan_engine::check_module(&module, &facts, &CheckOptions::default());
});
