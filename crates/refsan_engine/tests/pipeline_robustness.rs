//! Mutated versions of the rule fixtures through the whole static check
//! (C front-end, then the engine with the real knowledge base): no panic,
//! and every finding points inside the file.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failing test

use proptest::prelude::*;
use refsan_engine::CheckOptions;
use refsan_ir::Language;
use std::path::Path;

fn fixtures() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/c");
    let mut out: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .expect("fixtures dir")
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "c"))
        .filter_map(|e| std::fs::read(e.path()).ok())
        .collect();
    out.sort();
    out
}

#[derive(Clone, Debug)]
enum Mutation {
    Delete(usize, usize),
    Insert(usize, Vec<u8>),
    Duplicate(usize, usize),
    Flip(usize, u8),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1usize..64).prop_map(|(a, n)| Mutation::Delete(a, n)),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(a, b)| Mutation::Insert(a, b)),
        (
            any::<usize>(),
            prop::sample::select(vec![
                b"{".to_vec(),
                b"}".to_vec(),
                b"Py_DECREF(x);".to_vec(),
                b"goto error;".to_vec(),
                b"#if X\n".to_vec(),
                b"#endif\n".to_vec(),
                b"return NULL;".to_vec(),
                b"((((((((".to_vec(),
            ])
        )
            .prop_map(|(a, b)| Mutation::Insert(a, b)),
        (any::<usize>(), 1usize..200).prop_map(|(a, n)| Mutation::Duplicate(a, n)),
        (any::<usize>(), any::<u8>()).prop_map(|(a, b)| Mutation::Flip(a, b)),
    ]
}

fn apply(src: &mut Vec<u8>, m: &Mutation) {
    if src.is_empty() {
        return;
    }
    match m {
        Mutation::Delete(at, n) => {
            let a = at % src.len();
            let b = (a + n).min(src.len());
            src.drain(a..b);
        }
        Mutation::Insert(at, bytes) => {
            let a = at % (src.len() + 1);
            src.splice(a..a, bytes.iter().copied());
        }
        Mutation::Duplicate(at, n) => {
            let a = at % src.len();
            let b = (a + n).min(src.len());
            let piece: Vec<u8> = src[a..b].to_vec();
            src.splice(b..b, piece);
        }
        Mutation::Flip(at, b) => {
            let a = at % src.len();
            src[a] ^= b;
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn mutated_fixtures_never_panic(which in any::<usize>(), muts in prop::collection::vec(mutation(), 1..6)) {
        let files = fixtures();
        let mut src = files[which % files.len()].clone();
        for m in &muts {
            apply(&mut src, m);
        }
        let facts = refsan_capi::KnowledgeBase::builtin();
        let module = refsan_c::lower_file("mutated.c", &src, Language::C);
        let report = refsan_engine::check_module(&module, facts, &CheckOptions::default());
        for f in &report.findings {
            prop_assert!(f.span.end as usize <= src.len().max(1) + 1, "finding past the end: {:?}", f.span);
            prop_assert!(!f.events.is_empty());
        }
    }
}
