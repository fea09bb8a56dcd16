//! Lowers arbitrary bytes as C and as C++: must not panic, overflow the
//! stack or hang, and every function must be a valid CFG.
//!
//! `cargo +nightly fuzz run c_frontend` (from this directory's parent).

#![no_main]

use libfuzzer_sys::fuzz_target;
use refsan_ir::Language;

fuzz_target!(|data: &[u8]| {
    for (path, language) in [("fuzz.c", Language::C), ("fuzz.cpp", Language::Cpp)] {
        let module = refsan_c::lower_file(path, data, language);
        for f in &module.functions {
            if let Err(e) = f.validate() {
                panic!("invalid IR: {e}");
            }
        }
    }
});
