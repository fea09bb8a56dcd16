//! SARIF 2.1.0, within the subset GitHub code scanning reads: relative
//! artifact URIs under `%SRCROOT%`, 1-based regions, rule descriptors with
//! help, the event path as `codeFlows` and `relatedLocations`, and
//! `partialFingerprints` that do not depend on line numbers.

use crate::columns::ColumnUnit;
use crate::fingerprint::canonical_path;
use crate::prepared::{Prepared, PreparedFile, PreparedFinding};
use crate::RenderOptions;
use refsan_ir::{Finding, RuleMeta, Severity, Span, Trigger};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Write;

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";
/// The base every relative URI is resolved against: the checkout root.
const SRCROOT: &str = "%SRCROOT%";
/// Versioned as SARIF asks, so a future change of what is hashed can use a
/// new key instead of silently re-identifying every alert.
const FINGERPRINT_KEY: &str = "refsanFindingHash/v1";

#[derive(Serialize)]
struct Log<'a> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: [Run<'a>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Run<'a> {
    tool: Tool<'a>,
    /// Where `%SRCROOT%` is: the repository root the paths are relative to.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    original_uri_base_ids: BTreeMap<&'static str, BaseUri>,
    invocations: [Invocation; 1],
    /// Stated although it is the default: GitHub and other viewers count
    /// columns this way, and our spans count bytes.
    column_kind: &'static str,
    results: Vec<SarifResult<'a>>,
}

#[derive(Serialize)]
struct BaseUri {
    uri: String,
}

#[derive(Serialize)]
struct Tool<'a> {
    driver: Driver<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Driver<'a> {
    name: &'static str,
    version: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    information_uri: Option<&'a str>,
    rules: Vec<Rule>,
}

#[derive(Serialize)]
struct Text {
    text: String,
}

impl Text {
    fn new(text: impl Into<String>) -> Text {
        Text { text: text.into() }
    }
}

#[derive(Serialize)]
struct Help {
    text: String,
    markdown: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    id: &'static str,
    name: &'static str,
    short_description: Text,
    full_description: Text,
    #[serde(skip_serializing_if = "Option::is_none")]
    help_uri: Option<String>,
    help: Help,
    default_configuration: Configuration,
    properties: RuleProperties,
}

/// What GitHub code scanning reads besides the level: categories, how far
/// to trust the rule, and how bad its findings are.
#[derive(Serialize)]
struct RuleProperties {
    tags: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    precision: Option<&'static str>,
    #[serde(rename = "problem.severity")]
    problem_severity: &'static str,
}

fn problem_severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "recommendation",
    }
}

#[derive(Serialize)]
struct Configuration {
    level: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Invocation {
    execution_successful: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_execution_notifications: Vec<Notification>,
}

#[derive(Serialize)]
struct Notification {
    level: &'static str,
    message: Text,
    locations: Vec<Location>,
    descriptor: DescriptorReference,
}

#[derive(Serialize)]
struct DescriptorReference {
    id: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult<'a> {
    rule_id: &'static str,
    rule_index: usize,
    level: &'static str,
    message: Text,
    locations: [Location; 1],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    code_flows: Vec<CodeFlow>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    related_locations: Vec<Location>,
    partial_fingerprints: BTreeMap<&'static str, &'a str>,
    /// How likely the path is: always 90, caller 60, out of memory 20.
    rank: f64,
    properties: ResultProperties<'a>,
}

/// refsan's own facts about a result.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ResultProperties<'a> {
    /// What it takes for the path to happen: always, caller, oom.
    trigger: Trigger,
    /// The call whose failure the path needs.
    #[serde(skip_serializing_if = "Option::is_none")]
    failing_call: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Location {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<usize>,
    physical_location: PhysicalLocation,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    logical_locations: Vec<LogicalLocation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<Text>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation {
    artifact_location: ArtifactLocation,
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<Region>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ArtifactLocation {
    uri: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    uri_base_id: Option<&'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Region {
    start_line: u32,
    start_column: u32,
    end_line: u32,
    end_column: u32,
}

#[derive(Serialize)]
struct LogicalLocation {
    name: String,
    kind: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CodeFlow {
    message: Text,
    thread_flows: [ThreadFlow; 1],
}

#[derive(Serialize)]
struct ThreadFlow {
    locations: Vec<ThreadFlowLocation>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ThreadFlowLocation {
    location: Location,
    execution_order: usize,
}

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

/// Turns the paths of the report into artifact locations: below the source
/// root they are relative to `%SRCROOT%` (which the log states), whatever
/// the directory refsan ran in; elsewhere absolute `file://` URIs.
struct Uris {
    root: Option<std::path::PathBuf>,
    cwd: Option<std::path::PathBuf>,
}

impl Uris {
    fn new(opts: &RenderOptions) -> Uris {
        Uris {
            root: opts.source_root.clone(),
            cwd: std::env::current_dir().ok(),
        }
    }

    fn base_ids(&self) -> BTreeMap<&'static str, BaseUri> {
        let mut ids = BTreeMap::new();
        if let Some(root) = &self.root {
            // A relative root is not a base: leave it unstated.
            let ArtifactLocation {
                mut uri,
                uri_base_id: None,
            } = artifact_location(&root.to_string_lossy())
            else {
                return ids;
            };
            if !uri.ends_with('/') {
                uri.push('/');
            }
            ids.insert(SRCROOT, BaseUri { uri });
        }
        ids
    }

    fn location(&self, path: &str) -> ArtifactLocation {
        let (Some(root), Some(cwd)) = (&self.root, &self.cwd) else {
            return artifact_location(path);
        };
        let given = std::path::Path::new(path);
        let joined = if given.is_absolute() {
            given.to_path_buf()
        } else {
            cwd.join(given)
        };
        // `..` resolved by the text (without following links), as the
        // path was meant.
        let mut absolute = std::path::PathBuf::new();
        for part in joined.components() {
            match part {
                std::path::Component::ParentDir => {
                    absolute.pop();
                }
                std::path::Component::CurDir => {}
                other => absolute.push(other),
            }
        }
        match absolute.strip_prefix(root) {
            Ok(rel) => artifact_location(&rel.to_string_lossy()),
            Err(_) => artifact_location(&absolute.to_string_lossy()),
        }
    }
}

/// The artifact URI of a path: relative paths stay relative to `%SRCROOT%`
/// (GitHub resolves them against the checkout), absolute ones become
/// `file://` URIs; both percent-encoded as RFC 3986 asks.
fn artifact_location(path: &str) -> ArtifactLocation {
    let path = canonical_path(path);
    let bytes = path.as_bytes();
    let windows_drive =
        bytes.len() >= 3 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' && bytes[2] == b'/';
    if path.starts_with('/') {
        ArtifactLocation {
            uri: format!("file://{}", percent_encode(&path)),
            uri_base_id: None,
        }
    } else if windows_drive {
        ArtifactLocation {
            uri: format!("file:///{}{}", &path[..2], percent_encode(&path[2..])),
            uri_base_id: None,
        }
    } else {
        ArtifactLocation {
            uri: percent_encode(&path),
            uri_base_id: Some(SRCROOT),
        }
    }
}

fn percent_encode(path: &str) -> String {
    let mut encoded = String::with_capacity(path.len());
    for byte in path.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'/') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

fn location(uris: &Uris, file: &PreparedFile<'_>, span: Span) -> Location {
    Location {
        id: None,
        physical_location: PhysicalLocation {
            artifact_location: uris.location(file.path()),
            region: file.position(span, ColumnUnit::Utf16).map(|at| Region {
                start_line: at.line,
                start_column: at.column,
                end_line: at.end_line,
                end_column: at.end_column,
            }),
        },
        logical_locations: Vec::new(),
        message: None,
    }
}

/// The first paragraph of prose in a rule's Markdown doc (headings and
/// code blocks skipped), for `fullDescription`.
fn first_paragraph(doc: &str) -> Option<String> {
    let mut words: Vec<&str> = Vec::new();
    let mut in_code = false;
    for line in doc.lines().map(str::trim) {
        let fence = line.starts_with("```");
        if fence {
            in_code = !in_code;
        }
        if fence || in_code || line.is_empty() || line.starts_with('#') {
            if !words.is_empty() {
                break;
            }
            continue;
        }
        words.extend(line.split_whitespace());
    }
    (!words.is_empty()).then(|| words.join(" "))
}

/// GitHub code scanning requires `fullDescription` and `help` on every
/// rule, so both fall back to the summary when a rule has no doc.
fn rule_descriptor(rule: &RuleMeta, help_uri: Option<&str>) -> Rule {
    let doc = rule.doc.trim();
    let help = if doc.is_empty() { rule.summary } else { doc };
    Rule {
        id: rule.code,
        name: rule.name,
        short_description: Text::new(rule.summary),
        full_description: Text::new(
            first_paragraph(doc).unwrap_or_else(|| rule.summary.to_string()),
        ),
        help_uri: help_uri.map(str::to_string),
        help: Help {
            text: help.to_string(),
            markdown: help.to_string(),
        },
        default_configuration: Configuration {
            level: level(rule.severity),
        },
        properties: RuleProperties {
            tags: rule.tags.to_vec(),
            precision: Some(rule.precision.as_str()),
            problem_severity: problem_severity(rule.severity),
        },
    }
}

/// A descriptor for a finding whose rule the caller did not describe, so
/// every result still has a valid `ruleIndex`.
fn fallback_descriptor(finding: &Finding) -> Rule {
    let description = format!("{} ({})", finding.name, finding.code);
    Rule {
        id: finding.code,
        name: finding.name,
        short_description: Text::new(description.clone()),
        full_description: Text::new(description.clone()),
        help_uri: None,
        help: Help {
            text: format!("See `refsan explain {}`.", finding.code),
            markdown: format!("See `refsan explain {}`.", finding.code),
        },
        default_configuration: Configuration {
            level: level(finding.severity),
        },
        properties: RuleProperties {
            tags: Vec::new(),
            precision: None,
            problem_severity: problem_severity(finding.severity),
        },
    }
}

/// The rules in the caller's order, duplicates dropped, then rules only
/// findings know of, by code.
fn descriptors(
    rules: &[RuleMeta],
    prepared: &Prepared<'_>,
    help_uri: Option<&str>,
) -> (Vec<Rule>, BTreeMap<&'static str, usize>) {
    let mut index = BTreeMap::new();
    let mut descriptors = Vec::new();
    for rule in rules {
        if !index.contains_key(rule.code) {
            index.insert(rule.code, descriptors.len());
            descriptors.push(rule_descriptor(rule, help_uri));
        }
    }
    let mut unknown: BTreeMap<&'static str, &Finding> = BTreeMap::new();
    for (_, found) in prepared.findings() {
        if !index.contains_key(found.finding.code) {
            unknown.entry(found.finding.code).or_insert(found.finding);
        }
    }
    for (code, finding) in unknown {
        index.insert(code, descriptors.len());
        descriptors.push(fallback_descriptor(finding));
    }
    (descriptors, index)
}

fn result<'a>(
    uris: &Uris,
    file: &PreparedFile<'_>,
    prepared: &'a PreparedFinding<'_>,
    rule_index: usize,
) -> SarifResult<'a> {
    let finding = prepared.finding;
    let mut primary = location(uris, file, finding.span);
    if let Some(function) = &finding.function {
        primary.logical_locations.push(LogicalLocation {
            name: function.clone(),
            kind: "function",
        });
    }
    let event_location = |i: usize, event: &refsan_ir::Event| Location {
        id: Some(i + 1),
        message: Some(Text::new(format!("{}. {}", i + 1, event.message))),
        ..location(uris, file, event.span)
    };
    let code_flows = if finding.events.is_empty() {
        Vec::new()
    } else {
        vec![CodeFlow {
            message: Text::new(finding.message.clone()),
            thread_flows: [ThreadFlow {
                locations: finding
                    .events
                    .iter()
                    .enumerate()
                    .map(|(i, event)| ThreadFlowLocation {
                        // Viewers number the steps of a flow themselves.
                        location: Location {
                            message: Some(Text::new(event.message.clone())),
                            ..location(uris, file, event.span)
                        },
                        execution_order: i + 1,
                    })
                    .collect(),
            }],
        }]
    };
    let mut message = finding.message.clone();
    if let Some(when) = crate::trigger_text(finding) {
        message = format!("{message}\n{when}");
    }
    if let Some(help) = &finding.help {
        message = format!("{message}\nhelp: {}", help.trim());
    }
    SarifResult {
        rule_id: finding.code,
        rule_index,
        level: level(finding.severity),
        message: Text::new(message),
        locations: [primary],
        code_flows,
        // The path's events, then the other places of the same root cause
        // (the later returns where the same reference is lost).
        related_locations: finding
            .events
            .iter()
            .enumerate()
            .map(|(i, event)| event_location(i, event))
            .chain(finding.related.iter().enumerate().map(|(i, r)| Location {
                id: Some(finding.events.len() + i + 1),
                message: Some(Text::new(r.message.clone())),
                ..location(uris, file, r.span)
            }))
            .collect(),
        partial_fingerprints: BTreeMap::from([(FINGERPRINT_KEY, prepared.fingerprint.as_str())]),
        rank: match finding.trigger {
            Trigger::Always => 90.0,
            Trigger::Caller => 60.0,
            Trigger::Oom => 20.0,
        },
        properties: ResultProperties {
            trigger: finding.trigger,
            failing_call: finding.failing_call.as_ref().map(|c| c.name.as_str()),
        },
    }
}

fn notifications(uris: &Uris, prepared: &Prepared<'_>) -> Vec<Notification> {
    let mut notifications = Vec::new();
    for file in &prepared.files {
        if let Some(error) = &file.report.error {
            notifications.push(Notification {
                level: "error",
                message: Text::new(error.clone()),
                locations: vec![location(uris, file, Span::default())],
                descriptor: DescriptorReference { id: "file-error" },
            });
        }
        for note in &file.notes {
            notifications.push(Notification {
                level: "note",
                message: Text::new(note.message.clone()),
                locations: vec![location(uris, file, note.span)],
                descriptor: DescriptorReference {
                    id: "analysis-note",
                },
            });
        }
    }
    notifications
}

pub(crate) fn render(
    out: &mut dyn Write,
    prepared: &Prepared<'_>,
    rules: &[RuleMeta],
    opts: &RenderOptions,
) -> std::io::Result<()> {
    let uris = Uris::new(opts);
    let (rules, rule_index) = descriptors(rules, prepared, opts.information_uri.as_deref());
    let results = prepared
        .findings()
        .map(|(file, found)| {
            let index = rule_index
                .get(found.finding.code)
                .copied()
                .unwrap_or_default();
            result(&uris, file, found, index)
        })
        .collect();
    let log = Log {
        schema: SCHEMA,
        version: "2.1.0",
        runs: [Run {
            original_uri_base_ids: uris.base_ids(),
            tool: Tool {
                driver: Driver {
                    name: "refsan",
                    version: &opts.tool_version,
                    information_uri: opts.information_uri.as_deref(),
                    rules,
                },
            },
            invocations: [Invocation {
                // The run finished; files it could not read are reported as
                // notifications, not as a failed run.
                execution_successful: true,
                tool_execution_notifications: notifications(&uris, prepared),
            }],
            column_kind: "utf16CodeUnits",
            results,
        }],
    };
    serde_json::to_writer_pretty(&mut *out, &log)?;
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_relative_to_the_source_root_whatever_the_directory() {
        let uris = Uris {
            root: Some("/repo".into()),
            cwd: Some("/repo/pkg".into()),
        };
        let loc = uris.location("src/mod.c");
        assert_eq!(loc.uri, "pkg/src/mod.c");
        assert_eq!(loc.uri_base_id, Some(SRCROOT));
        assert_eq!(uris.location("/repo/a.c").uri, "a.c");
        assert_eq!(uris.location("../b/./c.c").uri, "b/c.c");
        let outside = uris.location("/elsewhere/x.c");
        assert_eq!(outside.uri, "file:///elsewhere/x.c");
        assert_eq!(outside.uri_base_id, None);
        let ids = uris.base_ids();
        assert_eq!(ids[SRCROOT].uri, "file:///repo/");
    }

    #[test]
    fn relative_paths_stay_relative() {
        let relative = artifact_location("./src/spam module.c");
        assert_eq!(relative.uri, "src/spam%20module.c");
        assert_eq!(relative.uri_base_id, Some(SRCROOT));
        let windows = artifact_location("src\\a.c");
        assert_eq!(windows.uri, "src/a.c");
    }

    #[test]
    fn absolute_paths_become_file_uris() {
        let unix = artifact_location("/home/u/a.c");
        assert_eq!(unix.uri, "file:///home/u/a.c");
        assert_eq!(unix.uri_base_id, None);
        let windows = artifact_location("C:\\src\\a.c");
        assert_eq!(windows.uri, "file:///C:/src/a.c");
    }

    #[test]
    fn full_description_skips_headings() {
        let doc = "## What it does\nFinds leaks.\n\n## Why\n\nLeaks grow.";
        assert_eq!(first_paragraph(doc).as_deref(), Some("Finds leaks."));
        let doc = "## What it does\n\nFinds leaks\nof references.\n\n## Why";
        assert_eq!(
            first_paragraph(doc).as_deref(),
            Some("Finds leaks of references.")
        );
        assert_eq!(first_paragraph("```c\nx;\n```\n"), None);
    }
}
