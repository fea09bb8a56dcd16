//! GitLab's Code Quality report: a JSON array of issues with a
//! `fingerprint`, which merge requests show as new or fixed.

use crate::columns::ColumnUnit;
use crate::fingerprint::canonical_path;
use crate::prepared::Prepared;
use crate::RenderOptions;
use refsan_ir::Severity;
use serde::Serialize;
use std::io::Write;

#[derive(Serialize)]
struct Issue<'a> {
    description: String,
    check_name: &'static str,
    fingerprint: &'a str,
    severity: &'static str,
    location: Location,
}

#[derive(Serialize)]
struct Location {
    path: String,
    lines: Lines,
}

#[derive(Serialize)]
struct Lines {
    begin: u32,
    end: u32,
}

fn severity(s: Severity) -> &'static str {
    match s {
        Severity::Error => "major",
        Severity::Warning => "minor",
        Severity::Info => "info",
    }
}

pub(crate) fn render(
    out: &mut dyn Write,
    prepared: &Prepared<'_>,
    _opts: &RenderOptions,
) -> std::io::Result<()> {
    let issues: Vec<Issue<'_>> = prepared
        .findings()
        .map(|(file, finding)| {
            let f = finding.finding;
            let (begin, end) = file
                .position(f.span, ColumnUnit::Chars)
                .map_or((1, 1), |p| (p.line, p.end_line.max(p.line)));
            Issue {
                description: format!("{} [{}]", f.message, f.code),
                check_name: f.code,
                fingerprint: &finding.fingerprint,
                severity: severity(f.severity),
                location: Location {
                    path: canonical_path(file.path()),
                    lines: Lines { begin, end },
                },
            }
        })
        .collect();
    serde_json::to_writer_pretty(&mut *out, &issues).map_err(std::io::Error::other)?;
    writeln!(out)
}
