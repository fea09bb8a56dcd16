//! Snapshots of every format over the shared fixture, plus the properties
//! that hold across formats: determinism and colour only on request.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failing test

mod common;

use common::{options, render_to_string, reports, span_of};
use refsan_ir::{Event, Finding, Severity};
use refsan_report::{FileReport, Format};
use std::sync::Arc;

#[test]
fn text_with_notes() {
    insta::assert_snapshot!(render_to_string(
        &reports(),
        Format::Text,
        &options(false, true)
    ));
}

#[test]
fn text_without_notes() {
    insta::assert_snapshot!(render_to_string(
        &reports(),
        Format::Text,
        &options(false, false)
    ));
}

#[test]
fn json() {
    insta::assert_snapshot!(render_to_string(
        &reports(),
        Format::Json,
        &options(false, true)
    ));
}

#[test]
fn sarif() {
    insta::assert_snapshot!(render_to_string(
        &reports(),
        Format::Sarif,
        &options(false, true)
    ));
}

#[test]
fn github() {
    insta::assert_snapshot!(render_to_string(
        &reports(),
        Format::Github,
        &options(false, true)
    ));
}

#[test]
fn concise() {
    insta::assert_snapshot!(render_to_string(
        &reports(),
        Format::Concise,
        &options(false, true)
    ));
}

#[test]
fn junit() {
    insta::assert_snapshot!(render_to_string(
        &reports(),
        Format::Junit,
        &options(false, true)
    ));
}

#[test]
fn gitlab() {
    insta::assert_snapshot!(render_to_string(
        &reports(),
        Format::Gitlab,
        &options(false, true)
    ));
}

#[test]
fn empty_run_in_every_format() {
    let rendered: Vec<String> = Format::ALL
        .into_iter()
        .map(|format| {
            format!(
                "== {format}\n{}",
                render_to_string(&[], format, &options(false, true))
            )
        })
        .collect();
    insta::assert_snapshot!(rendered.join(""));
}

/// CRLF line ends, a line far wider than a terminal, a span over three
/// lines and a span at the very end of the text.
fn awkward_layout_report() -> FileReport {
    let long = format!(
        "    x = call({}target, {});\r\n",
        "aaaa, ".repeat(40),
        "bbbb, ".repeat(40)
    );
    let source =
        format!("int f(void)\r\n{{\r\n{long}    y = g(a,\r\n          b,\r\n          c);\r\n}}");
    let finding = |code, severity, message: &str, span, events| Finding {
        code,
        name: "test-rule",
        severity,
        message: message.to_string(),
        span,
        function: Some("f".to_string()),
        events,
        help: None,
        related: Vec::new(),
        trigger: refsan_ir::Trigger::Always,
        failing_call: None,
    };
    let end = source.len() as u32;
    let at_eof = refsan_ir::LineIndex::new(source.as_bytes()).span(end, end);
    FileReport {
        path: "src/awkward.c".to_string(),
        findings: vec![
            finding(
                "RS101",
                Severity::Error,
                "`target` on a long line",
                span_of(&source, "target", 0),
                vec![
                    Event {
                        span: span_of(&source, "y = g(a,", 0),
                        message: "an event message long enough that it is not padded to the others"
                            .to_string(),
                    },
                    Event {
                        span: span_of(&source, "target", 0),
                        message: "`target` used".to_string(),
                    },
                ],
            ),
            finding(
                "RS102",
                Severity::Warning,
                "a call over three lines",
                span_of(&source, "g(a,\r\n          b,\r\n          c)", 0),
                Vec::new(),
            ),
            finding(
                "RS103",
                Severity::Info,
                "the end of the file",
                at_eof,
                Vec::new(),
            ),
        ],
        source: Some(Arc::from(source.as_str())),
        ..FileReport::default()
    }
}

#[test]
fn text_awkward_layout() {
    insta::assert_snapshot!(render_to_string(
        &[awkward_layout_report()],
        Format::Text,
        &options(false, false)
    ));
}

/// Removes ANSI escape sequences (CSI ... final byte).
fn strip_ansi(text: &str) -> String {
    let mut plain = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            if chars.next() == Some('[') {
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
        } else {
            plain.push(c);
        }
    }
    plain
}

#[test]
fn colour_only_when_asked_and_only_as_decoration() {
    for show_notes in [false, true] {
        let coloured = render_to_string(&reports(), Format::Text, &options(true, show_notes));
        let plain = render_to_string(&reports(), Format::Text, &options(false, show_notes));
        let header = |word: &str| {
            coloured
                .lines()
                .find(|line| line.contains(word))
                .unwrap_or_else(|| panic!("no {word} header"))
                .to_string()
        };
        assert!(
            header("error[RS101]").contains("\x1b[31m"),
            "errors are red"
        );
        assert!(
            header("warning[RS110]").contains("\x1b[33m"),
            "warnings are yellow"
        );
        assert!(header("info[RS407]").contains("\x1b[36m"), "infos are cyan");
        assert!(!plain.contains('\x1b'), "colour off must not write escapes");
        assert_eq!(strip_ansi(&coloured), plain);
    }
}

#[test]
fn machine_formats_never_colour() {
    for format in [Format::Json, Format::Sarif, Format::Github] {
        let rendered = render_to_string(&reports(), format, &options(true, true));
        assert!(
            !rendered.contains('\x1b'),
            "{format} output has an escape byte"
        );
    }
}

#[test]
fn output_does_not_depend_on_input_order() {
    let mut reversed = reports();
    reversed.reverse();
    for report in &mut reversed {
        report.findings.reverse();
        report.notes.reverse();
    }
    for format in Format::ALL {
        assert_eq!(
            render_to_string(&reports(), format, &options(false, true)),
            render_to_string(&reversed, format, &options(false, true)),
            "{format} output depends on input order"
        );
    }
}

#[test]
fn github_says_when_annotations_are_capped() {
    let mut report = reports()
        .into_iter()
        .find(|r| r.findings.iter().any(|f| f.severity == Severity::Error))
        .unwrap();
    let first = report
        .findings
        .iter()
        .find(|f| f.severity == Severity::Error)
        .unwrap()
        .clone();
    report.findings = (0..12).map(|_| first.clone()).collect();
    let out = render_to_string(&[report], Format::Github, &options(false, false));
    assert_eq!(out.matches("::error ").count(), 12);
    assert!(
        out.contains("at most 10 annotations of each kind per step: 2 errors are only in this log"),
        "{out}"
    );
}
