//! The report layer: renders refsan's findings as text (for people), JSON
//! (for scripts, schema in `JSON_SCHEMA.md`), SARIF 2.1.0 (for GitHub code
//! scanning and other SARIF viewers) and GitHub Actions workflow commands
//! (inline annotations without an upload step).
//!
//! This crate knows the findings types of `refsan_ir` and nothing of parsers
//! or the engine. Every format starts from the same sorted view of the input
//! (files by path, findings by line, column and code), so output is
//! deterministic whatever order the files were checked in.

mod columns;
mod concise;
mod fingerprint;
mod frame;
mod github;
mod gitlab;
mod json;
mod junit;
mod prepared;
mod sarif;
mod style;
mod summary;
mod text;

use refsan_ir::{Finding, Note, RuleMeta, Trigger};
use std::fmt;
use std::io::Write;
use std::str::FromStr;
use std::sync::Arc;

pub use frame::source_frame;

/// What it takes for a finding's path to happen, in words; none when no
/// call has to fail.
pub(crate) fn trigger_text(finding: &Finding) -> Option<String> {
    let call = finding.failing_call.as_ref().map_or_else(
        || "a call fails".to_string(),
        |c| format!("`{}` fails on line {}", c.name, c.span.line),
    );
    match finding.trigger {
        Trigger::Always => None,
        Trigger::Caller => Some(format!(
            "happens when {call} (an error the caller can cause)"
        )),
        Trigger::Oom => Some(format!("happens only when {call} (out of memory)")),
    }
}

pub use summary::{Skipped, Summary};

/// Everything the checker has to say about one input file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileReport {
    /// The path as the user gave it (or relative to the checked directory);
    /// printed verbatim.
    pub path: String,
    /// The file's text when it could be read, for source frames and for the
    /// source line of each event.
    pub source: Option<Arc<str>>,
    pub findings: Vec<Finding>,
    /// Things that are not findings: a function analysed only approximately,
    /// a region the parser could not read.
    pub notes: Vec<Note>,
    /// Set when the file could not be read or parsed at all.
    pub error: Option<String>,
}

/// An output format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Format {
    /// rustc-like diagnostics with source frames and the numbered path.
    #[default]
    Text,
    /// One JSON document, see `JSON_SCHEMA.md`.
    Json,
    /// SARIF 2.1.0, as GitHub code scanning accepts it.
    Sarif,
    /// GitHub Actions workflow commands (`::error file=...::...`).
    Github,
    /// One line per finding: `path:line:col: severity: message [RS101]`.
    Concise,
    /// JUnit XML test report.
    Junit,
    /// GitLab Code Quality JSON.
    Gitlab,
}

impl Format {
    /// Every format, in the order `--help` should list them.
    pub const ALL: [Format; 7] = [
        Format::Text,
        Format::Concise,
        Format::Json,
        Format::Sarif,
        Format::Github,
        Format::Junit,
        Format::Gitlab,
    ];

    /// The name accepted on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Json => "json",
            Format::Sarif => "sarif",
            Format::Github => "github",
            Format::Concise => "concise",
            Format::Junit => "junit",
            Format::Gitlab => "gitlab",
        }
    }

    /// Formats read by programs: nothing but the report may go to their
    /// output.
    pub fn is_machine(self) -> bool {
        !matches!(self, Format::Text | Format::Concise)
    }

    /// The names accepted by [`Format::from_str`], for argument parsers that
    /// list possible values.
    pub fn names() -> [&'static str; 7] {
        Format::ALL.map(Format::as_str)
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The name given for `--format` is not one of ours.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown output format `{given}` (expected one of: text, concise, json, sarif, github, junit, gitlab)"
)]
pub struct UnknownFormat {
    pub given: String,
}

impl FromStr for Format {
    type Err = UnknownFormat;

    fn from_str(s: &str) -> Result<Format, UnknownFormat> {
        let wanted = s.trim();
        Format::ALL
            .into_iter()
            .find(|format| format.as_str().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| UnknownFormat {
                given: s.to_string(),
            })
    }
}

/// How to render.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenderOptions {
    /// ANSI colours in text output (the caller decides: terminal, NO_COLOR,
    /// `--color`). Other formats ignore it.
    pub color: bool,
    /// Print notes in text and GitHub output. JSON and SARIF always carry
    /// them: they are machine formats and consumers filter.
    pub show_notes: bool,
    /// The version reported in JSON and SARIF.
    pub tool_version: String,
    /// The tool's home page, reported as SARIF `informationUri` when set.
    pub information_uri: Option<String>,
    /// End text and concise output with the summary line ("Found 3
    /// findings..."); `--quiet` turns it off.
    pub summary: bool,
    /// The directory paths are made relative to in SARIF: the repository's
    /// root, stated as `originalUriBaseIds`.
    pub source_root: Option<std::path::PathBuf>,
    /// Files the run left out, counted in the summary.
    pub skipped: Skipped,
}

impl Default for RenderOptions {
    fn default() -> RenderOptions {
        RenderOptions {
            color: false,
            show_notes: false,
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            information_uri: None,
            summary: true,
            source_root: None,
            skipped: Skipped::default(),
        }
    }
}

/// Renders `reports` in `format`. `rules` describes every rule the run had
/// enabled (SARIF lists them as rule descriptors); findings of rules missing
/// from it are still rendered.
pub fn render(
    out: &mut dyn Write,
    reports: &[FileReport],
    rules: &[RuleMeta],
    format: Format,
    opts: &RenderOptions,
) -> std::io::Result<()> {
    let mut prepared = prepared::Prepared::new(reports);
    prepared.summary.skipped = opts.skipped;
    match format {
        Format::Text => text::render(out, &prepared, opts),
        Format::Json => json::render(out, &prepared, opts),
        Format::Sarif => sarif::render(out, &prepared, rules, opts),
        Format::Github => github::render(out, &prepared, opts),
        Format::Concise => concise::render(out, &prepared, opts),
        Format::Junit => junit::render(out, &prepared, opts),
        Format::Gitlab => gitlab::render(out, &prepared, opts),
    }
}

/// The fingerprint of every finding, as JSON, SARIF and GitLab output
/// carry it: `result[i][j]` is that of `reports[i].findings[j]`. It does
/// not depend on line numbers, so a baseline of them survives edits.
pub fn fingerprints(reports: &[FileReport]) -> Vec<Vec<String>> {
    let prepared = prepared::Prepared::new(reports);
    let mut out: Vec<Vec<String>> = reports
        .iter()
        .map(|r| vec![String::new(); r.findings.len()])
        .collect();
    let mut index = std::collections::HashMap::new();
    for (i, r) in reports.iter().enumerate() {
        for (j, f) in r.findings.iter().enumerate() {
            index.insert(std::ptr::from_ref(f) as usize, (i, j));
        }
    }
    for (_, finding) in prepared.findings() {
        if let Some(&(i, j)) = index.get(&(std::ptr::from_ref(finding.finding) as usize)) {
            out[i][j].clone_from(&finding.fingerprint);
        }
    }
    out
}

/// Counts over `reports`, for exit statuses and summaries.
pub fn summarize(reports: &[FileReport]) -> Summary {
    Summary::of(reports.iter())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_names_round_trip() {
        for format in Format::ALL {
            assert_eq!(format.as_str().parse::<Format>(), Ok(format));
            assert_eq!(format.to_string(), format.as_str());
        }
        assert_eq!("SARIF".parse::<Format>(), Ok(Format::Sarif));
        assert_eq!(
            Format::names(),
            ["text", "concise", "json", "sarif", "github", "junit", "gitlab"]
        );
    }

    #[test]
    fn unknown_format_names_the_choices() {
        let err = "xml".parse::<Format>().unwrap_err();
        assert_eq!(err.given, "xml");
        assert!(err
            .to_string()
            .contains("text, concise, json, sarif, github, junit, gitlab"));
    }
}
