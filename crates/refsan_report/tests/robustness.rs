//! Random sources, spans and messages: rendering never panics, frames stay
//! narrow, colour stays off when off, and the machine formats stay valid.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failing test

mod common;

use common::{options, render_to_string};
use proptest::prelude::*;
use refsan_ir::{Event, Finding, LineIndex, Note, Severity, Span};
use refsan_report::{source_frame, FileReport, Format};
use std::sync::Arc;
use unicode_width::UnicodeWidthStr;

/// Source text mixing what makes columns hard: tabs, CRLF, multi-byte and
/// wide characters, control and bidi characters, and long lines.
fn source_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => "[a-z ]{1,12}",
        1 => Just("\t".to_string()),
        2 => Just("\n".to_string()),
        1 => Just("\r\n".to_string()),
        1 => Just("é".to_string()),
        1 => Just("😀".to_string()),
        1 => Just("漢字".to_string()),
        1 => Just("\u{202e}".to_string()),
        1 => Just("\u{0}\u{7f}".to_string()),
        1 => "[x]{100,300}",
    ];
    proptest::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
}

/// Mostly plausible numbers, sometimes anything at all.
fn coordinate() -> impl Strategy<Value = u32> {
    prop_oneof![4 => 0u32..40, 1 => any::<u32>()]
}

fn arbitrary_span() -> impl Strategy<Value = Span> {
    (coordinate(), coordinate(), coordinate(), coordinate()).prop_map(
        |(line, col, end_line, end_col)| Span {
            start: 0,
            end: 0,
            line,
            col,
            end_line,
            end_col,
        },
    )
}

/// A span computed from byte offsets into `source`, possibly inside a
/// multi-byte character, possibly past the end.
fn offset_span(source: &str, a: u32, b: u32) -> Span {
    let len = source.len() as u32 + 3;
    let (a, b) = (a % len, b % len);
    LineIndex::new(source.as_bytes()).span(a.min(b), a.max(b))
}

fn message() -> impl Strategy<Value = String> {
    "[a-z`%:,\n\r\t é😀]{0,30}"
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn frames_never_panic_and_stay_narrow(
        source in source_text(),
        span in arbitrary_span(),
        offsets in (any::<u32>(), any::<u32>()),
        label in message(),
        color in any::<bool>(),
    ) {
        let spans = [span, offset_span(&source, offsets.0, offsets.1)];
        for span in spans {
            let frame = source_frame(&source, span, &label, color);
            if !color {
                prop_assert!(!frame.contains('\x1b'));
                for line in frame.lines() {
                    // Gutter (at most 10 digits and " | "), 120 columns of
                    // source, a space and the label (at most 2 columns a char).
                    prop_assert!(line.width() <= 13 + 120 + 1 + 2 * 30, "too wide: {line:?}");
                }
            }
        }
    }

    #[test]
    fn every_format_renders_random_findings(
        source in proptest::option::of(source_text()),
        spans in proptest::collection::vec(arbitrary_span(), 1..6),
        offsets in proptest::collection::vec((any::<u32>(), any::<u32>()), 0..4),
        messages in proptest::collection::vec(message(), 3),
        path in "[a-z/:, %.]{1,16}",
        error in proptest::option::of(message()),
    ) {
        let text = source.clone().unwrap_or_default();
        let mut all_spans = spans.clone();
        all_spans.extend(offsets.iter().map(|&(a, b)| offset_span(&text, a, b)));
        let events: Vec<Event> = all_spans
            .iter()
            .map(|&span| Event { span, message: messages[1].clone() })
            .collect();
        let findings: Vec<Finding> = all_spans
            .iter()
            .zip([Severity::Error, Severity::Warning, Severity::Info].into_iter().cycle())
            .map(|(&span, severity)| Finding {
                code: "RS101",
                name: "leaked-reference",
                severity,
                message: messages[0].clone(),
                span,
                function: Some(messages[2].clone()),
                events: events.clone(),
                help: Some(messages[2].clone()),
                related: Vec::new(),
                trigger: refsan_ir::Trigger::Always,
                failing_call: None,
            })
            .collect();
        let finding_count = findings.len();
        let report = FileReport {
            path: path.clone(),
            source: source.as_deref().map(Arc::from),
            findings,
            notes: vec![Note { span: spans[0], function: None, message: messages[1].clone() }],
            error: error.clone(),
        };
        let reports = [report];

        for format in Format::ALL {
            let plain = render_to_string(&reports, format, &options(false, true));
            prop_assert!(!plain.contains('\x1b'), "{format} wrote an escape with colour off");
            render_to_string(&reports, format, &options(true, false));
        }

        let json: serde_json::Value = serde_json::from_str(&render_to_string(&reports, Format::Json, &options(false, true)))
            .map_err(|err| TestCaseError::fail(format!("JSON: {err}")))?;
        prop_assert_eq!(json["findings"].as_array().map(Vec::len), Some(finding_count));

        let sarif: serde_json::Value = serde_json::from_str(&render_to_string(&reports, Format::Sarif, &options(false, true)))
            .map_err(|err| TestCaseError::fail(format!("SARIF: {err}")))?;
        let results = sarif["runs"][0]["results"].as_array().cloned().unwrap_or_default();
        prop_assert_eq!(results.len(), finding_count);
        for result in &results {
            let region = &result["locations"][0]["physicalLocation"]["region"];
            if !region.is_null() {
                prop_assert!(region["startLine"].as_u64() >= Some(1));
                prop_assert!(region["startColumn"].as_u64() >= Some(1));
            }
        }

        // One workflow command per finding, error and note, each on one line.
        let github = render_to_string(&reports, Format::Github, &options(false, true));
        let commands = github.lines().filter(|line| line.starts_with("::")).count();
        prop_assert_eq!(commands, finding_count + 1 + usize::from(error.is_some()));
        for line in github.lines().filter(|line| !line.starts_with("::")) {
            prop_assert!(line.ends_with('.'), "stray line in GitHub output: {line:?}");
        }
    }
}
