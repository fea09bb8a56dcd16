//! Counts over a set of file reports.

use crate::FileReport;
use refsan_ir::Severity;
use serde::Serialize;

/// How many files, findings (by severity), notes and unreadable files a run
/// produced. Serialized as the `summary` object of the JSON output.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Files in the run, including those that could not be checked.
    pub files: usize,
    pub findings: usize,
    /// Findings of severity error.
    pub errors: usize,
    pub warnings: usize,
    pub infos: usize,
    /// Files with at least one finding.
    pub files_with_findings: usize,
    /// Files that could not be read or parsed.
    pub files_with_errors: usize,
    pub notes: usize,
}

impl Summary {
    pub(crate) fn of<'a>(reports: impl Iterator<Item = &'a FileReport>) -> Summary {
        let mut summary = Summary::default();
        for report in reports {
            summary.files += 1;
            summary.findings += report.findings.len();
            summary.notes += report.notes.len();
            summary.files_with_findings += usize::from(!report.findings.is_empty());
            summary.files_with_errors += usize::from(report.error.is_some());
            for finding in &report.findings {
                match finding.severity {
                    Severity::Error => summary.errors += 1,
                    Severity::Warning => summary.warnings += 1,
                    Severity::Info => summary.infos += 1,
                }
            }
        }
        summary
    }

    /// Findings of `severity` or above: what a `--fail-on` threshold counts.
    pub fn at_least(&self, severity: Severity) -> usize {
        match severity {
            Severity::Error => self.errors,
            Severity::Warning => self.errors + self.warnings,
            Severity::Info => self.findings,
        }
    }
}
