//! The text format: rustc-style diagnostics with a source frame and the
//! numbered path of events, each with its own source line, so a finding can
//! be checked from the terminal alone.

use crate::columns::{ColumnUnit, Position};
use crate::frame::{excerpt, one_line, Frame};
use crate::prepared::{Prepared, PreparedFile};
use crate::style::{Palette, Role};
use crate::summary::Summary;
use crate::RenderOptions;
use refsan_ir::{Finding, Note};
use std::io::Write;
use unicode_width::UnicodeWidthStr;

/// Event messages are padded to a common width up to this many columns, so
/// their source excerpts line up; longer messages just push theirs right.
const EVENT_MESSAGE_ALIGN: usize = 48;
/// Display columns of an event's source excerpt.
const EXCERPT_WIDTH: usize = 72;

pub(crate) fn render(
    out: &mut dyn Write,
    prepared: &Prepared<'_>,
    opts: &RenderOptions,
) -> std::io::Result<()> {
    let palette = Palette::new(opts.color);
    for file in &prepared.files {
        if let Some(error) = &file.report.error {
            writeln!(
                out,
                "{}: {}: {}\n",
                palette.paint(Role::FileError, "error"),
                one_line(file.path()),
                one_line(error)
            )?;
        }
        for finding in &file.findings {
            out.write_all(finding_block(file, finding.finding, &palette).as_bytes())?;
            writeln!(out)?;
        }
        if opts.show_notes && !file.notes.is_empty() {
            for note in &file.notes {
                writeln!(out, "{}", note_line(file, note, &palette))?;
            }
            writeln!(out)?;
        }
    }
    if opts.summary {
        for line in summary_lines(&prepared.summary, opts.show_notes) {
            writeln!(out, "{}", palette.paint(Role::Summary, &line))?;
        }
    }
    Ok(())
}

/// `path:line:col`. The path is printed as given, except that control
/// characters in it are shown as symbols: a file name must not be able to
/// drive the terminal.
fn location(path: &str, position: Option<Position>) -> String {
    let path = one_line(path);
    match position {
        Some(at) => format!("{path}:{}:{}", at.line, at.column),
        None => path,
    }
}

fn finding_block(file: &PreparedFile<'_>, finding: &Finding, palette: &Palette) -> String {
    let severity = Role::Severity(finding.severity);
    let mut block = format!(
        "{}: {}\n",
        palette.paint(severity, &format!("{}[{}]", finding.severity, finding.code)),
        palette.paint(Role::Message, &one_line(&finding.message)),
    );

    let label = finding
        .events
        .last()
        .map_or("", |event| event.message.as_str());
    let frame = file
        .lines
        .as_ref()
        .and_then(|lines| Frame::build(lines, finding.span, label));
    let position = file.position(finding.span, ColumnUnit::Chars);
    let width = frame.as_ref().map_or_else(
        || position.map_or(1, |at| at.line.to_string().len()),
        |frame| frame.gutter_width,
    );
    let margin = " ".repeat(width);

    block.push_str(&format!(
        "{margin}{} {}\n",
        palette.paint(Role::Gutter, "-->"),
        location(file.path(), position)
    ));
    let extras = extra_lines(file, finding, palette, width);
    if let Some(frame) = &frame {
        block.push_str(&frame.render(palette, severity));
        if !extras.is_empty() {
            block.push_str(&palette.paint(Role::Gutter, &format!("{margin} |")));
            block.push('\n');
        }
    }
    for line in extras {
        block.push_str(&line);
        block.push('\n');
    }
    block
}

/// The `= ...` lines after the frame: the path of events, the help.
fn extra_lines(
    file: &PreparedFile<'_>,
    finding: &Finding,
    palette: &Palette,
    width: usize,
) -> Vec<String> {
    let equals = format!("{} {}", " ".repeat(width), palette.paint(Role::Gutter, "="));
    let mut lines = Vec::new();
    let function = finding.function.as_deref().map(|name| format!("`{name}`"));
    if !finding.events.is_empty() {
        let heading = match &function {
            Some(name) => format!("path (in {name}):"),
            None => "path:".to_string(),
        };
        lines.push(format!("{equals} {heading}"));
        // Events are indented under their heading.
        let indent = " ".repeat(width + 5);
        lines.extend(
            event_lines(file, finding, palette)
                .into_iter()
                .map(|line| format!("{indent}{line}")),
        );
    } else if let Some(name) = &function {
        lines.push(format!("{equals} in function {name}"));
    }
    if let Some(when) = crate::trigger_text(finding) {
        lines.push(format!("{equals} {when}"));
    }
    if let Some(help) = &finding.help {
        let lead = format!("{equals} help: ");
        let hanging = " ".repeat(width + " = help: ".len());
        for (i, line) in help.trim().lines().enumerate() {
            let prefix = if i == 0 {
                lead.as_str()
            } else {
                hanging.as_str()
            };
            lines.push(format!("{prefix}{}", one_line(line)).trim_end().to_string());
        }
    }
    lines
}

/// `1. 35:14  new reference from `PyList_New`  |  result = PyList_New(0);`
fn event_lines(file: &PreparedFile<'_>, finding: &Finding, palette: &Palette) -> Vec<String> {
    struct Row {
        number: String,
        at: String,
        message: String,
        source: Option<String>,
    }
    let rows: Vec<Row> = finding
        .events
        .iter()
        .enumerate()
        .map(|(i, event)| {
            let position = file.position(event.span, ColumnUnit::Chars);
            Row {
                number: format!("{}.", i + 1),
                at: position.map_or_else(
                    || "?".to_string(),
                    |at| format!("{}:{}", at.line, at.column),
                ),
                message: one_line(&event.message),
                source: position
                    .and_then(|at| file.line_text(at.line))
                    .map(|line| {
                        excerpt(
                            line,
                            event.span.col.saturating_sub(1) as usize,
                            EXCERPT_WIDTH,
                        )
                    })
                    .filter(|line| !line.is_empty()),
            }
        })
        .collect();
    let number_width = rows.iter().map(|row| row.number.len()).max().unwrap_or(0);
    let at_width = rows.iter().map(|row| row.at.len()).max().unwrap_or(0);
    let message_width = rows
        .iter()
        .filter(|row| row.source.is_some())
        .map(|row| row.message.width())
        .filter(|&width| width <= EVENT_MESSAGE_ALIGN)
        .max()
        .unwrap_or(0);
    rows.iter()
        .map(|row| {
            let number =
                palette.paint(Role::EventNumber, &format!("{:>number_width$}", row.number));
            let mut line = format!("{number} {:<at_width$}  {}", row.at, row.message);
            if let Some(source) = &row.source {
                let pad = message_width.saturating_sub(row.message.width());
                line.push_str(&" ".repeat(pad));
                line.push_str(&format!("  {}  {source}", palette.paint(Role::Gutter, "|")));
            }
            line
        })
        .collect()
}

fn note_line(file: &PreparedFile<'_>, note: &Note, palette: &Palette) -> String {
    format!(
        "{}: {}: {}",
        palette.paint(Role::Note, "note"),
        location(file.path(), file.position(note.span, ColumnUnit::Chars)),
        one_line(&note.message)
    )
}

fn plural(count: usize, singular: &str, plural: &str) -> String {
    if count == 1 {
        format!("{count} {singular}")
    } else {
        format!("{count} {plural}")
    }
}

pub(crate) fn summary_lines(summary: &Summary, show_notes: bool) -> Vec<String> {
    let files_word = if summary.files == 1 { "file" } else { "files" };
    let mut lines = vec![if summary.files == 0 {
        "No files were checked.".to_string()
    } else if summary.findings == 0 {
        format!("No findings in {}.", plural(summary.files, "file", "files"))
    } else {
        let by_severity: Vec<String> = [
            (summary.errors, "error", "errors"),
            (summary.warnings, "warning", "warnings"),
            (summary.infos, "info", "infos"),
        ]
        .into_iter()
        .filter(|(count, _, _)| *count > 0)
        .map(|(count, one, many)| plural(count, one, many))
        .collect();
        format!(
            "Found {} ({}) in {} of {} {files_word}.",
            plural(summary.findings, "finding", "findings"),
            by_severity.join(", "),
            summary.files_with_findings,
            summary.files,
        )
    }];
    if summary.files_with_errors > 0 {
        lines.push(format!(
            "{} could not be checked.",
            plural(summary.files_with_errors, "file", "files")
        ));
    }
    if summary.skipped.generated > 0 {
        lines.push(format!(
            "Skipped {} (--include-generated to check them).",
            plural(
                summary.skipped.generated,
                "generated file",
                "generated files"
            )
        ));
    }
    if summary.skipped.no_python_api > 0 {
        let n = summary.skipped.no_python_api;
        lines.push(format!(
            "Skipped {} that never {} the Python C API.",
            plural(n, "C file", "C files"),
            if n == 1 { "uses" } else { "use" }
        ));
    }
    if !show_notes && summary.notes > 0 {
        lines.push(format!(
            "{} not shown.",
            plural(summary.notes, "note", "notes")
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_cannot_drive_the_terminal() {
        let shown = location("evil\x1b[2J.c", None);
        assert!(!shown.contains('\x1b'), "{shown:?}");
        assert_eq!(location("a.c", None), "a.c");
    }

    #[test]
    fn summary_wording() {
        let none = Summary::default();
        assert_eq!(summary_lines(&none, false), ["No files were checked."]);
        let clean = Summary {
            files: 1,
            ..Summary::default()
        };
        assert_eq!(summary_lines(&clean, false), ["No findings in 1 file."]);
        let found = Summary {
            files: 10,
            findings: 3,
            errors: 2,
            warnings: 1,
            files_with_findings: 2,
            files_with_errors: 1,
            notes: 2,
            ..Summary::default()
        };
        assert_eq!(
            summary_lines(&found, false),
            [
                "Found 3 findings (2 errors, 1 warning) in 2 of 10 files.",
                "1 file could not be checked.",
                "2 notes not shown.",
            ]
        );
        assert_eq!(summary_lines(&found, true).len(), 2);
    }
}
