//! JUnit XML, for CI systems that show test reports: one test suite per
//! file, one failing test case per finding (named after the rule), one
//! passing case for a file without findings, an error case for a file that
//! could not be checked.

use crate::columns::ColumnUnit;
use crate::prepared::Prepared;
use crate::RenderOptions;
use std::io::Write;

/// Text as XML character data or attribute value; characters XML 1.0 cannot
/// hold are dropped.
fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

pub(crate) fn render(
    out: &mut dyn Write,
    prepared: &Prepared<'_>,
    _opts: &RenderOptions,
) -> std::io::Result<()> {
    let summary = &prepared.summary;
    let failures = summary.findings;
    let errors = summary.files_with_errors;
    let cases = |f: &crate::prepared::PreparedFile<'_>| match f.report.error {
        Some(_) => f.findings.len() + 1,
        None => f.findings.len().max(1),
    };
    let tests: usize = prepared.files.iter().map(cases).sum();
    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(
        out,
        r#"<testsuites name="refsan" tests="{tests}" failures="{failures}" errors="{errors}">"#
    )?;
    for file in &prepared.files {
        let path = xml(file.path());
        writeln!(
            out,
            r#"  <testsuite name="{path}" tests="{}" failures="{}" errors="{}">"#,
            cases(file),
            file.findings.len(),
            usize::from(file.report.error.is_some())
        )?;
        if let Some(error) = &file.report.error {
            writeln!(out, r#"    <testcase name="check" classname="{path}">"#)?;
            writeln!(
                out,
                r#"      <error message="{}">{}</error>"#,
                xml(error),
                xml(error)
            )?;
            writeln!(out, "    </testcase>")?;
        } else if file.findings.is_empty() {
            writeln!(out, r#"    <testcase name="refsan" classname="{path}"/>"#)?;
        }
        for finding in &file.findings {
            let f = finding.finding;
            let (line, column) = file
                .position(f.span, ColumnUnit::Chars)
                .map_or((1, 1), |p| (p.line, p.column));
            writeln!(
                out,
                r#"    <testcase name="{} {}" classname="{path}" file="{path}" line="{line}">"#,
                f.code, f.name
            )?;
            let mut body = format!("{}:{line}:{column}: {}", file.path(), f.message);
            for (i, e) in f.events.iter().enumerate() {
                body.push_str(&format!(
                    "\n  {}. {}:{} {}",
                    i + 1,
                    e.span.line,
                    e.span.col,
                    e.message
                ));
            }
            writeln!(
                out,
                r#"      <failure message="{}" type="{}">{}</failure>"#,
                xml(&f.message),
                f.code,
                xml(&body)
            )?;
            writeln!(out, "    </testcase>")?;
        }
        writeln!(out, "  </testsuite>")?;
    }
    writeln!(out, "</testsuites>")
}
