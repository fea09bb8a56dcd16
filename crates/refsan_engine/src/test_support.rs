//! In-process harness for rule tests: a source text with its expected
//! findings written inline, under the line they are about, the way
//! rust-analyzer's diagnostics tests do it.
//!
//! ```text
//!     if (PyList_Append(list, item) < 0)
//!         return NULL;
//!      // ^^^^^^^^^^^^ RS101
//! ```
//!
//! An annotation is a comment line (`//` in C, `#` in Cython) holding a run
//! of carets and a rule code, optionally followed by `: text` that the
//! finding's message must contain. The carets start at the column where the
//! finding starts, on the nearest line above that is not an annotation.
//! [`check`] lowers the source with the real front-end, analyses it with
//! the real knowledge base, keeps the findings of the rules whose code
//! starts with the selected prefix and compares them with the annotations:
//! every annotation must be matched and every finding annotated. A good
//! case is a text without annotations.

use crate::{check_module, CheckOptions};
use refsan_ir::{Finding, Language};

/// One expected finding.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Expected {
    line: u32,
    col: u32,
    code: String,
    text: Option<String>,
}

fn annotation(line: &str, comment: &str) -> Option<(u32, String, Option<String>)> {
    let trimmed = line.trim_start();
    let rest = trimmed.strip_prefix(comment)?;
    let carets_at = rest.find('^')?;
    if !rest[..carets_at].trim().is_empty() {
        return None;
    }
    let after = rest[carets_at..].trim_start_matches('^');
    let (code, text) = match after.trim().split_once(':') {
        Some((code, text)) => (code.trim(), Some(text.trim().to_string())),
        None => (after.trim(), None),
    };
    if !code.starts_with("RS") {
        return None;
    }
    let col = (line.len() - rest.len() + carets_at + 1) as u32;
    Some((col, code.to_string(), text))
}

fn expectations(src: &str, comment: &str) -> Vec<Expected> {
    let mut out = Vec::new();
    let mut last_code_line = 0u32;
    for (i, line) in src.lines().enumerate() {
        let number = i as u32 + 1;
        match annotation(line, comment) {
            Some((col, code, text)) => out.push(Expected {
                line: last_code_line,
                col,
                code,
                text,
            }),
            None => last_code_line = number,
        }
    }
    out
}

fn matches(e: &Expected, f: &Finding) -> bool {
    f.code == e.code
        && f.span.line == e.line
        && f.span.col == e.col
        && e.text.as_ref().is_none_or(|t| f.message.contains(t))
}

/// Where a finding is, for the failure message.
fn render(f: &Finding) -> String {
    format!(
        "line {} column {} {}: {}",
        f.span.line, f.span.col, f.code, f.message
    )
}

/// Checks `src` (C or Cython, by `language`) against its annotations for
/// the rules whose code starts with `select`.
pub fn check(language: Language, select: &str, src: &str) {
    let (module, comment) = match language {
        Language::Cython => (refsan_cython::lower_file("case.pyx", src.as_bytes()), "#"),
        other => (refsan_c::lower_file("case.c", src.as_bytes(), other), "//"),
    };
    let report = check_module(
        &module,
        refsan_capi::KnowledgeBase::builtin(),
        &CheckOptions::default(),
    );
    let findings = crate::apply_suppressions(&module, report.findings);
    let found: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.code.starts_with(select))
        .collect();
    let expected = expectations(src, comment);
    let missing: Vec<&Expected> = expected
        .iter()
        .filter(|e| !found.iter().any(|f| matches(e, f)))
        .collect();
    let unexpected: Vec<&&Finding> = found
        .iter()
        .filter(|f| !expected.iter().any(|e| matches(e, f)))
        .collect();
    if missing.is_empty() && unexpected.is_empty() {
        return;
    }
    let mut msg = String::new();
    for e in &missing {
        msg.push_str(&format!(
            "missing: line {} column {} {}{}\n",
            e.line,
            e.col,
            e.code,
            e.text
                .as_ref()
                .map(|t| format!(" containing {t:?}"))
                .unwrap_or_default()
        ));
    }
    for f in &unexpected {
        msg.push_str(&format!("unexpected: {}\n", render(f)));
    }
    panic!("{msg}");
}

/// [`check`] for C.
pub fn check_c(select: &str, src: &str) {
    check(Language::C, select, src);
}

/// [`check`] for Cython.
pub fn check_pyx(select: &str, src: &str) {
    check(Language::Cython, select, src);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotations_point_at_the_line_above() {
        let src = "int f(void)\n{\n    return 1;\n    //     ^ RS109: exception\n}\n";
        let got = expectations(src, "//");
        assert_eq!(
            got,
            vec![Expected {
                line: 3,
                col: 12,
                code: "RS109".to_string(),
                text: Some("exception".to_string()),
            }]
        );
        assert!(expectations("// plain comment ^ not a code\n", "//").is_empty());
        assert_eq!(expectations("x\n# ^^ RS401\n", "#")[0].col, 3);
    }

    #[test]
    #[should_panic(expected = "missing: line 1 column 4 RS101")]
    fn a_missing_finding_fails() {
        check_c("RS101", "int x;\n// ^ RS101\n");
    }
}
