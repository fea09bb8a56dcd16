//! Multi-file fixture projects (tests/projects): each bug is found only
//! when the file is read with the context the compiler sees (its `.pxd`,
//! cimported `.pxd` files, the module including a `.pxi`), and the
//! corrected twins stay clean. The command line assembles that context
//! itself (see crates/refsan/tests/cli.rs); here it is given explicitly.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failing test

use refsan_engine::{check_module, CheckOptions};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/projects/cython_pkg/pkg")
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(root().join(name)).expect("fixture")
}

/// `(function, line)` of every RS101 of `file` read with `context`.
fn leaks(file: &str, context: &[&str]) -> Vec<(String, u32)> {
    let sources: Vec<(String, Vec<u8>)> = context
        .iter()
        .map(|c| ((*c).to_string(), read(c)))
        .collect();
    let files: Vec<refsan_cython::ContextFile<'_>> = sources
        .iter()
        .map(|(p, s)| refsan_cython::ContextFile { path: p, source: s })
        .collect();
    let module = refsan_cython::lower_file_in_context(file, &read(file), &files);
    let report = check_module(
        &module,
        refsan_capi::KnowledgeBase::builtin(),
        &CheckOptions::default(),
    );
    let mut out: Vec<(String, u32)> = report
        .findings
        .iter()
        .map(|f| (f.function.clone().unwrap_or_default(), f.span.line))
        .collect();
    out.sort();
    out
}

#[test]
fn a_pyx_with_its_pxd_and_a_cimported_pxd() {
    assert_eq!(leaks("nodes.pyx", &[]), vec![]);
    assert_eq!(
        leaks("nodes.pyx", &["nodes.pxd", "capi.pxd", "_walk.pxi"]),
        vec![("Node.label_length".to_string(), 30)]
    );
}

#[test]
fn an_included_pxi_with_the_module_that_includes_it() {
    assert_eq!(leaks("_walk.pxi", &[]), vec![]);
    assert_eq!(
        leaks("_walk.pxi", &["nodes.pyx", "nodes.pxd", "capi.pxd"]),
        vec![("describe_node".to_string(), 13)]
    );
}

#[test]
fn another_module_cimporting_the_package() {
    assert_eq!(leaks("report.pyx", &[]), vec![]);
    assert_eq!(
        leaks("report.pyx", &["capi.pxd", "nodes.pxd"]),
        vec![("summary".to_string(), 16)]
    );
}
