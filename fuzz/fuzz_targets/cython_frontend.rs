//! Lowers arbitrary bytes as Cython: must not panic, overflow the stack or
//! hang, and every function must be a valid CFG.
//!
//! `cargo +nightly fuzz run cython_frontend` (from this directory's parent).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let module = refsan_cython::lower_file_unguarded("fuzz.pyx", data);
    for f in &module.functions {
        if let Err(e) = f.validate() {
            panic!("invalid IR: {e}");
        }
    }
});
