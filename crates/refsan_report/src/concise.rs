//! The concise format: one line per finding,
//! `path:line:col: severity: message [RS101]`, the shape editors, `grep`
//! and reviewdog's `%f:%l:%c: %m` error formats read. A file that could not
//! be checked is one `path: error: why` line.

use crate::columns::ColumnUnit;
use crate::frame::one_line;
use crate::prepared::Prepared;
use crate::text::summary_lines;
use crate::RenderOptions;
use refsan_ir::Severity;
use std::io::Write;

fn severity(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "info",
    }
}

pub(crate) fn render(
    out: &mut dyn Write,
    prepared: &Prepared<'_>,
    opts: &RenderOptions,
) -> std::io::Result<()> {
    for file in &prepared.files {
        let path = one_line(file.path());
        if let Some(error) = &file.report.error {
            writeln!(out, "{path}: error: {}", one_line(error))?;
        }
        for finding in &file.findings {
            let f = finding.finding;
            let (line, column) = file
                .position(f.span, ColumnUnit::Chars)
                .map_or((1, 1), |p| (p.line, p.column));
            writeln!(
                out,
                "{path}:{line}:{column}: {}: {} [{}]",
                severity(f.severity),
                one_line(&f.message),
                f.code
            )?;
        }
        if opts.show_notes {
            for note in &file.notes {
                let (line, column) = file
                    .position(note.span, ColumnUnit::Chars)
                    .map_or((1, 1), |p| (p.line, p.column));
                writeln!(
                    out,
                    "{path}:{line}:{column}: note: {}",
                    one_line(&note.message)
                )?;
            }
        }
    }
    if opts.summary {
        for line in summary_lines(&prepared.summary, opts.show_notes) {
            writeln!(out, "{line}")?;
        }
    }
    Ok(())
}
