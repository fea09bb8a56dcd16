//! `--baseline FILE`: the findings an existing codebase already has, by
//! fingerprint, so that only new ones fail a run. `--write-baseline`
//! writes the current findings to FILE.
//!
//! A fingerprint is a hash of the rule, the file, the function and the
//! message, numbered among equal hashes (see the report crate): it does not
//! change when code above the finding moves.

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::path::Path;

const VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct BaselineFile {
    version: u32,
    tool: String,
    findings: Vec<Entry>,
}

/// One known finding; all but the fingerprint are for people reading the
/// file.
#[derive(Serialize, Deserialize)]
struct Entry {
    fingerprint: String,
    code: String,
    path: String,
    line: u32,
    message: String,
}

/// The fingerprints of a baseline file.
pub fn read(path: &Path) -> Result<HashSet<String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the baseline {}", path.display()))?;
    let file: BaselineFile = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a refsan baseline", path.display()))?;
    if file.version != VERSION {
        bail!(
            "{}: baseline version {} (this refsan reads version {VERSION}; write it again with --write-baseline)",
            path.display(),
            file.version
        );
    }
    Ok(file.findings.into_iter().map(|e| e.fingerprint).collect())
}

/// Writes the findings of `reports` (with their fingerprints) as a baseline.
pub fn write(
    path: &Path,
    reports: &[refsan_report::FileReport],
    fingerprints: &[Vec<String>],
) -> Result<usize> {
    let mut findings = Vec::new();
    for (report, prints) in reports.iter().zip(fingerprints) {
        for (f, print) in report.findings.iter().zip(prints) {
            findings.push(Entry {
                fingerprint: print.clone(),
                code: f.code.to_string(),
                path: report.path.clone(),
                line: f.span.line,
                message: f.message.clone(),
            });
        }
    }
    findings.sort_by(|a, b| (&a.path, a.line, &a.code).cmp(&(&b.path, b.line, &b.code)));
    let count = findings.len();
    let file = BaselineFile {
        version: VERSION,
        tool: format!("refsan {}", env!("CARGO_PKG_VERSION")),
        findings,
    };
    let text = serde_json::to_string_pretty(&file).context("cannot write the baseline")?;
    std::fs::write(path, text + "\n")
        .with_context(|| format!("cannot write the baseline {}", path.display()))?;
    Ok(count)
}
