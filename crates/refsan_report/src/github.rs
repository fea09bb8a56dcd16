//! GitHub Actions workflow commands: one `::error`/`::warning`/`::notice`
//! per finding, which the runner turns into annotations on the changed
//! lines of a pull request, with no upload step.

use crate::columns::{ColumnUnit, Position};
use crate::prepared::{Prepared, PreparedFile};
use crate::text::summary_lines;
use crate::RenderOptions;
use refsan_ir::{Finding, Severity};
use std::fmt::Write as _;
use std::io::Write;

fn command(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "notice",
    }
}

/// Escapes a command's message, as the runner's parser expects.
fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a property value: as data, plus the `:` and `,` that delimit
/// properties.
fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// `file=...,line=...` for a span. GitHub only honours columns on one-line
/// annotations, so multi-line spans give lines alone.
fn properties(path: &str, position: Option<Position>, title: &str) -> String {
    let mut props = format!("file={}", escape_property(path));
    if let Some(at) = position {
        let _ = write!(props, ",line={}", at.line);
        if at.line == at.end_line {
            let _ = write!(props, ",col={}", at.column);
        }
        let _ = write!(props, ",endLine={}", at.end_line);
        if at.line == at.end_line {
            let _ = write!(props, ",endColumn={}", at.end_column.max(at.column));
        }
    }
    let _ = write!(props, ",title={}", escape_property(title));
    props
}

/// The annotation body: the message, then the numbered events and the help
/// on their own lines.
fn body(file: &PreparedFile<'_>, finding: &Finding) -> String {
    let mut body = finding.message.clone();
    if !finding.events.is_empty() {
        match &finding.function {
            Some(function) => {
                let _ = write!(body, "\npath (in `{function}`):");
            }
            None => body.push_str("\npath:"),
        }
        for (i, event) in finding.events.iter().enumerate() {
            let at = file.position(event.span, ColumnUnit::Chars).map_or_else(
                || "?".to_string(),
                |at| format!("{}:{}", at.line, at.column),
            );
            let _ = write!(body, "\n  {}. {at} {}", i + 1, event.message);
        }
    }
    if let Some(when) = crate::trigger_text(finding) {
        let _ = write!(body, "\n{when}");
    }
    if let Some(help) = &finding.help {
        let _ = write!(body, "\nhelp: {}", help.trim());
    }
    body
}

/// GitHub shows at most this many annotations of each kind (error,
/// warning, notice) per step; the rest only appear in the log.
const ANNOTATIONS_PER_KIND: usize = 10;

pub(crate) fn render(
    out: &mut dyn Write,
    prepared: &Prepared<'_>,
    opts: &RenderOptions,
) -> std::io::Result<()> {
    // Files that could not be checked, then findings from the most severe
    // down: the annotations GitHub keeps are the ones that matter most.
    for file in &prepared.files {
        if let Some(error) = &file.report.error {
            writeln!(
                out,
                "::error {}::{}",
                properties(file.path(), None, "refsan could not check this file"),
                escape_data(error)
            )?;
        }
    }
    let mut emitted = [0usize; 3];
    for severity in [Severity::Error, Severity::Warning, Severity::Info] {
        for (file, found) in prepared.findings() {
            let finding = found.finding;
            if finding.severity != severity {
                continue;
            }
            emitted[severity as usize] += 1;
            let title = format!("{} {}", finding.code, finding.name);
            writeln!(
                out,
                "::{} {}::{}",
                command(finding.severity),
                properties(
                    file.path(),
                    file.position(finding.span, ColumnUnit::Utf16),
                    &title
                ),
                escape_data(&body(file, finding))
            )?;
        }
    }
    if opts.show_notes {
        for file in &prepared.files {
            for note in &file.notes {
                emitted[Severity::Info as usize] += 1;
                writeln!(
                    out,
                    "::notice {}::{}",
                    properties(
                        file.path(),
                        file.position(note.span, ColumnUnit::Utf16),
                        "refsan note"
                    ),
                    escape_data(&note.message)
                )?;
            }
        }
    }
    let dropped: Vec<String> = [
        (Severity::Error, "errors"),
        (Severity::Warning, "warnings"),
        (Severity::Info, "notices"),
    ]
    .into_iter()
    .filter(|(s, _)| emitted[*s as usize] > ANNOTATIONS_PER_KIND)
    .map(|(s, name)| format!("{} {name}", emitted[s as usize] - ANNOTATIONS_PER_KIND))
    .collect();
    if !dropped.is_empty() {
        writeln!(
            out,
            "::warning title=refsan::GitHub shows at most {ANNOTATIONS_PER_KIND} annotations of each kind per step: {} are only in this log (upload --format sarif to code scanning to see every finding)",
            dropped.join(", ")
        )?;
    }
    for line in summary_lines(&prepared.summary, opts.show_notes) {
        writeln!(out, "{line}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_follows_the_runner() {
        assert_eq!(
            escape_data("50% done\r\nnext: a,b"),
            "50%25 done%0D%0Anext: a,b"
        );
        assert_eq!(escape_property("C:\\a,b.c"), "C%3A\\a%2Cb.c");
    }

    #[test]
    fn multi_line_spans_drop_columns() {
        let one = Position {
            line: 3,
            column: 5,
            end_line: 3,
            end_column: 9,
        };
        assert_eq!(
            properties("a.c", Some(one), "RS101 leaked-reference"),
            "file=a.c,line=3,col=5,endLine=3,endColumn=9,title=RS101 leaked-reference"
        );
        let many = Position { end_line: 4, ..one };
        assert_eq!(
            properties("a.c", Some(many), "t"),
            "file=a.c,line=3,endLine=4,title=t"
        );
    }
}
