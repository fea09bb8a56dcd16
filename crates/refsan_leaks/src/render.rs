//! Text and JSON renderings of a [`LeakReport`].

use crate::model::{
    format_amount, LeakReport, Metric, MetricSeries, TargetReport, TargetStatus, Verdict,
};
use crate::noise::Trend;
use std::fmt::Write as _;

pub fn json(report: &LeakReport) -> String {
    // Serialising plain data with string keys cannot fail; fall back to an
    // explicit error object rather than panicking if it ever does.
    serde_json::to_string_pretty(report)
        .unwrap_or_else(|err| format!("{{\"error\": \"cannot serialise the report: {err}\"}}"))
}

pub fn text(report: &LeakReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", header(report));
    out.push('\n');
    out.push_str(&table(report));
    for target in &report.targets {
        details(&mut out, target);
    }
    if !report.warnings.is_empty() {
        out.push('\n');
        for warning in &report.warnings {
            let _ = writeln!(out, "warning: {warning}");
        }
    }
    if !report.setup_problems.is_empty() {
        out.push('\n');
        for problem in &report.setup_problems {
            let _ = writeln!(out, "error: set-up problem: {problem}");
        }
    }
    out.push('\n');
    let summary = &report.summary;
    let _ = write!(
        out,
        "{} target{}: {} leaking, ",
        summary.targets,
        if summary.targets == 1 { "" } else { "s" },
        summary.leaking,
    );
    if summary.over_releasing > 0 {
        let _ = write!(out, "{} over-releasing, ", summary.over_releasing);
    }
    let _ = write!(
        out,
        "{} crashed, {} timed out",
        summary.crashed, summary.timed_out
    );
    if !report.setup_problems.is_empty() {
        let _ = write!(out, " (not judged: set-up problem)");
    }
    if summary.not_run > 0 {
        let _ = write!(out, ", {} not run", summary.not_run);
    }
    if let Some(status) = report.pytest_exit_status {
        let _ = write!(out, "; pytest exit status {status}");
    }
    out.push('\n');
    out
}

fn header(report: &LeakReport) -> String {
    let options = &report.options;
    let runs = format!(
        "{} warm-up + up to {} measured runs x {} call{}",
        options.warmup,
        options.runs,
        options.calls_per_run,
        if options.calls_per_run == 1 { "" } else { "s" }
    );
    match &report.interpreter {
        Some(interpreter) => format!(
            "refsan leaks: {} {} {} build ({}), {}",
            interpreter.implementation,
            interpreter.version,
            if interpreter.debug_build {
                "debug"
            } else {
                "release"
            },
            interpreter.executable,
            runs
        ),
        None => format!("refsan leaks: {runs}"),
    }
}

fn result_word(target: &TargetReport) -> &'static str {
    match (target.status, target.verdict) {
        (TargetStatus::Crashed, _) => "CRASH",
        (TargetStatus::TimedOut, _) => "HANG",
        (TargetStatus::NotRun, _) => "not run",
        (TargetStatus::Skipped, _) => "skipped",
        (_, Verdict::Leak) => "LEAK",
        (_, Verdict::OverRelease) => "OVER-RELEASE",
        (_, Verdict::Clean) => "ok",
        (_, Verdict::NotMeasured) => "-",
    }
}

fn cell(series: Option<&MetricSeries>) -> String {
    match series {
        None => "-".into(),
        Some(series) if series.trend == Trend::Steady => "0".into(),
        Some(series) => signed(series.per_call),
    }
}

fn signed(value: f64) -> String {
    if value > 0.0 {
        format!("+{}", format_amount(value))
    } else if value < 0.0 {
        format!("-{}", format_amount(-value))
    } else {
        "0".into()
    }
}

fn argument_cell(target: &TargetReport) -> String {
    let changed: Vec<String> = target
        .arguments
        .iter()
        .filter(|argument| argument.trend != Trend::Steady)
        .map(|argument| format!("{} {}", argument.label, signed(argument.per_call)))
        .collect();
    if changed.is_empty() {
        if target.arguments.is_empty() {
            "-".into()
        } else {
            "0".into()
        }
    } else {
        changed.join(", ")
    }
}

fn table(report: &LeakReport) -> String {
    let headings = [
        "TARGET",
        "RESULT",
        "REFS/CALL",
        "BLOCKS/CALL",
        "BYTES/CALL",
        "ARG REFS/CALL",
    ];
    let rows: Vec<[String; 6]> = report
        .targets
        .iter()
        .map(|target| {
            let measured = target.status == TargetStatus::Measured;
            let metric = |metric| {
                if measured {
                    cell(target.metric(metric))
                } else {
                    "-".into()
                }
            };
            [
                target.name.clone(),
                result_word(target).to_string(),
                metric(Metric::Refs),
                metric(Metric::Blocks),
                metric(Metric::Bytes),
                if measured {
                    argument_cell(target)
                } else {
                    "-".into()
                },
            ]
        })
        .collect();
    let mut widths = headings.map(str::len);
    for row in &rows {
        for (width, value) in widths.iter_mut().zip(row) {
            *width = (*width).max(value.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |values: [&str; 6]| {
        let mut text = String::new();
        for (index, value) in values.iter().enumerate() {
            let width = widths[index];
            if index < 2 {
                let _ = write!(text, "{value:<width$}  ");
            } else {
                let _ = write!(text, "{value:>width$}  ");
            }
        }
        let _ = writeln!(out, "{}", text.trim_end());
    };
    line(headings);
    for row in &rows {
        line([&row[0], &row[1], &row[2], &row[3], &row[4], &row[5]]);
    }
    out
}

fn deltas_text(deltas: &[i64]) -> String {
    deltas
        .iter()
        .map(|delta| signed(*delta as f64))
        .collect::<Vec<_>>()
        .join(" ")
}

fn details(out: &mut String, target: &TargetReport) {
    let judged = matches!(target.verdict, Verdict::Leak | Verdict::OverRelease);
    let interesting = judged || target.crash.is_some() || !target.notes.is_empty();
    if !interesting {
        return;
    }
    out.push('\n');
    let _ = writeln!(out, "{} {}", result_word(target), target.name);
    for finding in &target.findings {
        let _ = writeln!(out, "  - {}", finding.message);
    }
    if judged {
        let series: Vec<String> = target
            .metrics
            .iter()
            .map(|series| format!("{} {}", series.metric.name(), deltas_text(&series.deltas)))
            .chain(
                target
                    .arguments
                    .iter()
                    .filter(|argument| argument.trend != Trend::Steady)
                    .map(|argument| {
                        format!("{} {}", argument.label, deltas_text(&argument.deltas))
                    }),
            )
            .collect();
        let _ = writeln!(out, "  deltas per measured run: {}", series.join(" | "));
        if !target.types.is_empty() {
            let types: Vec<String> = target
                .types
                .iter()
                .map(|growth| format!("{} {}/call", growth.type_name, signed(growth.per_call)))
                .collect();
            let _ = writeln!(out, "  live objects: {}", types.join(", "));
        }
        for site in &target.sites {
            let place = if site.native {
                site.file.clone()
            } else {
                format!("{}:{}", site.file, site.line)
            };
            let _ = writeln!(
                out,
                "  allocated at {place}: {} bytes/call ({} blocks over the measured runs)",
                signed(site.bytes_per_call),
                site.count_diff
            );
        }
    }
    if let Some(outcome) = &target.outcome {
        if judged || target.crash.is_some() {
            let _ = writeln!(out, "  test outcome: {outcome}");
        }
    }
    for note in &target.notes {
        let _ = writeln!(out, "  note: {note}");
    }
    if let Some(crash) = &target.crash {
        let _ = writeln!(out, "  {}", crash.detail);
        if let Some(report) = &crash.handed_over {
            let _ = writeln!(out, "{report}");
        } else if !crash.stderr_tail.trim().is_empty() {
            let _ = writeln!(out, "  stderr:");
            for line in crash_excerpt(&crash.stderr_tail) {
                let _ = writeln!(out, "    {line}");
            }
        }
        if !crash.reproduce.is_empty() {
            let _ = writeln!(
                out,
                "  run it alone: {}",
                refsan_runtime::program::shell_words(&crash.reproduce)
            );
        }
    }
}

/// The informative part of a crash's stderr: from faulthandler's header
/// (most recent frames first) when there is one, else the last lines.
fn crash_excerpt(tail: &str) -> Vec<&str> {
    const LINES: usize = 24;
    let lines: Vec<&str> = tail.trim_end().lines().collect();
    let start = lines
        .iter()
        .rposition(|line| line.starts_with("Fatal Python error") || line.starts_with("Timeout ("))
        .unwrap_or_else(|| lines.len().saturating_sub(LINES));
    lines[start..].iter().take(LINES).copied().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_amounts() {
        assert_eq!(signed(1.0), "+1");
        assert_eq!(signed(-0.5), "-0.5");
        assert_eq!(signed(0.0), "0");
    }
}
