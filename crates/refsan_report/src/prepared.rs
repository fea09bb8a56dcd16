//! The sorted view every format renders from: files by path, findings by
//! (line, column, code), notes by position; each finding with its
//! fingerprint and each file with its lines split once.

use crate::columns::{ColumnUnit, Position, SourceLines};
use crate::fingerprint::Fingerprinter;
use crate::summary::Summary;
use crate::FileReport;
use refsan_ir::{Finding, Note, Span};

pub(crate) struct Prepared<'a> {
    pub files: Vec<PreparedFile<'a>>,
    pub summary: Summary,
}

pub(crate) struct PreparedFile<'a> {
    pub report: &'a FileReport,
    pub lines: Option<SourceLines<'a>>,
    pub findings: Vec<PreparedFinding<'a>>,
    pub notes: Vec<&'a Note>,
}

pub(crate) struct PreparedFinding<'a> {
    pub finding: &'a Finding,
    pub fingerprint: String,
}

impl<'a> Prepared<'a> {
    pub(crate) fn new(reports: &'a [FileReport]) -> Prepared<'a> {
        let mut sorted: Vec<&FileReport> = reports.iter().collect();
        sorted.sort_by(|a, b| a.path.cmp(&b.path));
        let mut fingerprints = Fingerprinter::default();
        let files = sorted
            .into_iter()
            .map(|report| PreparedFile::new(report, &mut fingerprints))
            .collect();
        Prepared {
            files,
            summary: Summary::of(reports.iter()),
        }
    }

    /// Every finding with its file, in output order.
    pub(crate) fn findings(
        &self,
    ) -> impl Iterator<Item = (&PreparedFile<'a>, &PreparedFinding<'a>)> {
        self.files
            .iter()
            .flat_map(|file| file.findings.iter().map(move |finding| (file, finding)))
    }
}

impl<'a> PreparedFile<'a> {
    fn new(report: &'a FileReport, fingerprints: &mut Fingerprinter) -> PreparedFile<'a> {
        let mut findings: Vec<&Finding> = report.findings.iter().collect();
        findings.sort_by(|a, b| {
            (a.span.line, a.span.col, a.code, &a.message).cmp(&(
                b.span.line,
                b.span.col,
                b.code,
                &b.message,
            ))
        });
        let mut notes: Vec<&Note> = report.notes.iter().collect();
        notes.sort_by(|a, b| {
            (a.span.line, a.span.col, &a.message).cmp(&(b.span.line, b.span.col, &b.message))
        });
        PreparedFile {
            report,
            lines: report.source.as_deref().map(SourceLines::new),
            findings: findings
                .into_iter()
                .map(|finding| PreparedFinding {
                    finding,
                    fingerprint: fingerprints.next(finding, &report.path),
                })
                .collect(),
            notes,
        }
    }

    pub(crate) fn path(&self) -> &'a str {
        &self.report.path
    }

    pub(crate) fn position(&self, span: Span, unit: ColumnUnit) -> Option<Position> {
        Position::of(span, self.lines.as_ref(), unit)
    }

    /// The text of a 1-based line, when the source is known and has it.
    pub(crate) fn line_text(&self, line: u32) -> Option<&'a str> {
        self.lines.as_ref()?.line(line)
    }
}
