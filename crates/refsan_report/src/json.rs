//! The JSON format: one document, schema version 1, documented field by
//! field in `JSON_SCHEMA.md`. These structs are that schema: renaming or
//! removing a field is a breaking change and needs a new `version`.

use crate::columns::{ColumnUnit, Position};
use crate::prepared::{Prepared, PreparedFile, PreparedFinding};
use crate::summary::Summary;
use crate::RenderOptions;
use refsan_ir::{Event, Note, Severity, Span, Trigger};
use serde::Serialize;
use std::io::Write;

/// Bumped only when a field changes meaning or disappears; new fields may be
/// added within a version.
pub(crate) const SCHEMA_VERSION: u32 = 1;

#[derive(Serialize)]
struct Document<'a> {
    version: u32,
    tool: Tool<'a>,
    findings: Vec<JsonFinding<'a>>,
    notes: Vec<JsonNote<'a>>,
    errors: Vec<FileError<'a>>,
    summary: Summary,
}

#[derive(Serialize)]
struct Tool<'a> {
    name: &'static str,
    version: &'a str,
}

/// Where a span is, in 1-based lines and character columns (end exclusive);
/// all four `null` when the location is unknown.
#[derive(Serialize)]
struct Location {
    line: Option<u32>,
    column: Option<u32>,
    end_line: Option<u32>,
    end_column: Option<u32>,
}

impl Location {
    fn of(file: &PreparedFile<'_>, span: Span) -> Location {
        let position = file.position(span, ColumnUnit::Chars);
        Location {
            line: position.map(|at: Position| at.line),
            column: position.map(|at| at.column),
            end_line: position.map(|at| at.end_line),
            end_column: position.map(|at| at.end_column),
        }
    }
}

#[derive(Serialize)]
struct JsonFinding<'a> {
    code: &'static str,
    name: &'static str,
    severity: Severity,
    message: &'a str,
    path: &'a str,
    #[serde(flatten)]
    location: Location,
    function: Option<&'a str>,
    events: Vec<JsonEvent<'a>>,
    /// Other places of the same root cause; absent when there are none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    related: Vec<JsonEvent<'a>>,
    help: Option<&'a str>,
    /// What it takes for the path to happen.
    trigger: Trigger,
    /// The call whose failure the path needs.
    failing_call: Option<JsonCall<'a>>,
    fingerprint: &'a str,
}

#[derive(Serialize)]
struct JsonCall<'a> {
    name: &'a str,
    #[serde(flatten)]
    location: Location,
}

#[derive(Serialize)]
struct JsonEvent<'a> {
    path: &'a str,
    #[serde(flatten)]
    location: Location,
    message: &'a str,
}

#[derive(Serialize)]
struct JsonNote<'a> {
    path: &'a str,
    #[serde(flatten)]
    location: Location,
    function: Option<&'a str>,
    message: &'a str,
}

#[derive(Serialize)]
struct FileError<'a> {
    path: &'a str,
    message: &'a str,
}

fn finding<'a>(file: &'a PreparedFile<'a>, prepared: &'a PreparedFinding<'a>) -> JsonFinding<'a> {
    let finding = prepared.finding;
    JsonFinding {
        code: finding.code,
        name: finding.name,
        severity: finding.severity,
        message: &finding.message,
        path: file.path(),
        location: Location::of(file, finding.span),
        function: finding.function.as_deref(),
        events: json_events(file, &finding.events),
        related: json_events(file, &finding.related),
        help: finding.help.as_deref(),
        trigger: finding.trigger,
        failing_call: finding.failing_call.as_ref().map(|c| JsonCall {
            name: &c.name,
            location: Location::of(file, c.span),
        }),
        fingerprint: &prepared.fingerprint,
    }
}

fn json_events<'a>(file: &'a PreparedFile<'a>, events: &'a [Event]) -> Vec<JsonEvent<'a>> {
    events
        .iter()
        .map(|event| JsonEvent {
            path: file.path(),
            location: Location::of(file, event.span),
            message: &event.message,
        })
        .collect()
}

fn note<'a>(file: &'a PreparedFile<'a>, note: &'a Note) -> JsonNote<'a> {
    JsonNote {
        path: file.path(),
        location: Location::of(file, note.span),
        function: note.function.as_deref(),
        message: &note.message,
    }
}

pub(crate) fn render(
    out: &mut dyn Write,
    prepared: &Prepared<'_>,
    opts: &RenderOptions,
) -> std::io::Result<()> {
    let document = Document {
        version: SCHEMA_VERSION,
        tool: Tool {
            name: "refsan",
            version: &opts.tool_version,
        },
        findings: prepared
            .findings()
            .map(|(file, found)| finding(file, found))
            .collect(),
        notes: prepared
            .files
            .iter()
            .flat_map(|file| file.notes.iter().map(move |found| note(file, found)))
            .collect(),
        errors: prepared
            .files
            .iter()
            .filter_map(|file| {
                file.report.error.as_deref().map(|message| FileError {
                    path: file.path(),
                    message,
                })
            })
            .collect(),
        summary: prepared.summary,
    };
    serde_json::to_writer_pretty(&mut *out, &document)?;
    writeln!(out)
}
