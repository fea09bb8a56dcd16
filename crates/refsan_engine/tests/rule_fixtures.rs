//! Every rule of the registry has a bad fixture (realistic code with the
//! bug) and a good one (the corrected code and the idioms that must stay
//! quiet), in C under tests/fixtures/c and, for the ownership and Cython
//! rules, in Cython under tests/fixtures/cython, named after the rule's
//! code (`rs101_bad.c`, `rs101_good.pyx`). Run in-process: the front-end
//! lowers the fixture, the engine checks it with the real knowledge base
//! (and Cython's declarations as built into refsan) and applies its
//! suppression comments, as `refsan check` does.
//!
//! A bad fixture must produce findings of its rule; they are shown in a
//! snapshot of the text report with only that rule selected. A good
//! fixture must produce no finding of any rule. The Cython fixtures
//! compile with Cython except where the mistake itself is a compile error
//! (noted in the file).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failing test

use refsan_engine::{check_module, rules::REGISTRY, CheckOptions};
use refsan_ir::{Finding, Language};
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A language's fixture directory, file extension and snapshot prefix.
const LANGUAGES: [(&str, &str, Language, &str); 2] = [
    ("tests/fixtures/c", "c", Language::C, ""),
    ("tests/fixtures/cython", "pyx", Language::Cython, "cython_"),
];

/// The findings of a fixture (path relative to the workspace root, as the
/// command line shows it when run there) and its source.
fn check(rel: &str, language: Language) -> (Vec<Finding>, String) {
    let source = std::fs::read_to_string(workspace_root().join(rel)).expect("fixture source");
    let module = match language {
        Language::Cython => refsan_cython::lower_file(rel, source.as_bytes()),
        other => refsan_c::lower_file(rel, source.as_bytes(), other),
    };
    let report = check_module(
        &module,
        refsan_capi::KnowledgeBase::builtin(),
        &CheckOptions::default(),
    );
    (
        refsan_engine::apply_suppressions(&module, report.findings),
        source,
    )
}

fn text_report(rel: &str, source: String, findings: Vec<Finding>) -> String {
    let report = refsan_report::FileReport {
        path: rel.to_string(),
        source: Some(Arc::from(source)),
        findings,
        notes: Vec::new(),
        error: None,
    };
    let rules: Vec<refsan_ir::RuleMeta> = refsan_engine::rules().into_iter().copied().collect();
    let opts = refsan_report::RenderOptions {
        color: false,
        show_notes: false,
        tool_version: "test".to_string(),
        information_uri: None,
        ..refsan_report::RenderOptions::default()
    };
    let mut out = Vec::new();
    refsan_report::render(
        &mut out,
        &[report],
        &rules,
        refsan_report::Format::Text,
        &opts,
    )
    .expect("render");
    String::from_utf8(out).expect("UTF-8 report")
}

#[test]
fn every_rule_has_fixtures_and_they_hold() {
    let mut problems = Vec::new();
    for rule in REGISTRY {
        let code = rule.meta.code;
        let stem = code.to_ascii_lowercase();
        let mut has_fixture = false;
        for (dir, ext, language, prefix) in LANGUAGES {
            let bad = format!("{dir}/{stem}_bad.{ext}");
            let good = format!("{dir}/{stem}_good.{ext}");
            let (has_bad, has_good) = (
                workspace_root().join(&bad).is_file(),
                workspace_root().join(&good).is_file(),
            );
            if has_bad != has_good {
                problems.push(format!("{code}: {bad} and {good} come in pairs"));
            }
            if !has_bad {
                continue;
            }
            has_fixture = true;
            let (findings, source) = check(&bad, language);
            let selected: Vec<Finding> = findings.into_iter().filter(|f| f.code == code).collect();
            if selected.is_empty() {
                problems.push(format!("{bad}: no {code} finding"));
            }
            insta::assert_snapshot!(
                format!("{prefix}{stem}_bad"),
                text_report(&bad, source, selected)
            );
            let (findings, source) = check(&good, language);
            if !findings.is_empty() {
                problems.push(format!(
                    "{good}: expected no findings, got\n{}",
                    text_report(&good, source, findings)
                ));
            }
        }
        if !has_fixture {
            problems.push(format!("{code}: no fixtures"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
