//! Renders a [`RunReport`] as text (for a terminal, delimited so it stands
//! out from the program's own output) or JSON (schema `refsan.run/1`,
//! documented in `docs/run-report.md`).
//!
//! The source excerpts use [`source_frame`], shaped like the report layer's
//! helper of the same name so the two can be merged.

use crate::report::*;
use refsan_ir::{Finding, Span};
use std::fmt::Write;
use std::path::Path;

/// How many native frames to show before eliding (JSON has them all).
const MAX_FRAMES_SHOWN: usize = 14;

/// Text styling: ANSI colors or none.
#[derive(Clone, Copy, Debug)]
pub struct Style {
    pub color: bool,
}

impl Style {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
    fn bold(&self, t: &str) -> String {
        self.paint("1", t)
    }
    fn red(&self, t: &str) -> String {
        self.paint("1;31", t)
    }
    fn yellow(&self, t: &str) -> String {
        self.paint("33", t)
    }
    fn dim(&self, t: &str) -> String {
        self.paint("2", t)
    }
    fn cyan(&self, t: &str) -> String {
        self.paint("36", t)
    }
}

/// The report as pretty-printed JSON.
pub fn to_json(report: &RunReport) -> String {
    serde_json::to_string_pretty(report).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

/// The report as text; empty when there is nothing to report.
pub fn to_text(report: &RunReport, style: Style) -> String {
    let mut out = String::new();
    let total = report.crashes.len();
    for (i, crash) in report.crashes.iter().enumerate() {
        let title = if total > 1 {
            format!(" refsan: crash report {} of {total} ", i + 1)
        } else {
            " refsan: crash report ".to_string()
        };
        let _ = writeln!(out, "{}", style.bold(&rule(&title)));
        render_crash(&mut out, crash, report, style);
        let _ = writeln!(out, "{}", style.bold(&rule(" end of refsan report ")));
    }
    if total == 0 && !report.notes.is_empty() && report.exit.status != 0 {
        // Nothing crashed, but the run failed and refsan had caveats.
        let _ = writeln!(out, "{}", style.bold(&rule(" refsan: notes ")));
        for n in &report.notes {
            let _ = writeln!(out, "  - {n}");
        }
        let _ = writeln!(out, "{}", style.bold(&rule(" end of refsan report ")));
    }
    out
}

fn rule(title: &str) -> String {
    let width: usize = 78;
    let left = 3;
    let right = width.saturating_sub(left + title.chars().count());
    format!("{}{}{}", "━".repeat(left), title, "━".repeat(right))
}

fn render_crash(out: &mut String, crash: &CrashReport, report: &RunReport, style: Style) {
    headline(out, crash, style);
    facts(out, crash, style);
    if !crash.evidence.is_empty() {
        let _ = writeln!(out, "\n{}", style.bold("evidence"));
        for e in &crash.evidence {
            let _ = writeln!(
                out,
                "  - {} {}",
                style.dim(&format!("[{}]", source_label(e.source))),
                e.text
            );
        }
    }
    if let Some(site) = &crash.fault_site {
        let label = match crash.trigger {
            Trigger::Timeout { .. } => "was running here",
            _ => "crashed here",
        };
        site_section(out, "at fault", site, label, style);
    }
    if let Some(site) = &crash.free_site {
        site_section(out, "freed at", site, "the object was freed here", style);
    }
    if let Some(tb) = &crash.python_traceback {
        let _ = writeln!(
            out,
            "\n{}",
            style.bold("python traceback (most recent call first)")
        );
        python_frames(out, tb);
    }
    for (i, stack) in crash.native_stacks.iter().enumerate() {
        let title = format!(
            "native stack: {} ({})",
            stack.label,
            stack_source(stack.source)
        );
        let _ = writeln!(out, "\n{}", style.bold(&title));
        let highlight = if i == 0 {
            crash.fault_site.as_ref()
        } else {
            None
        };
        native_frames(out, &stack.frames, highlight, style);
    }
    if !crash.other_python_tracebacks.is_empty() {
        let _ = writeln!(out, "\n{}", style.bold("other threads (python)"));
        for tb in &crash.other_python_tracebacks {
            let _ = writeln!(out, "  thread {}", tb.thread.as_deref().unwrap_or("?"));
            python_frames(out, tb);
        }
    }
    if let Some(section) = &crash.static_findings {
        static_section(out, section, style);
    }
    if !crash.extensions.is_empty() {
        let _ = writeln!(out, "\n{}", style.bold("extension modules loaded"));
        for ext in &crash.extensions {
            let _ = writeln!(
                out,
                "  {}  {}",
                ext.module,
                style.dim(&short_path(&ext.library))
            );
        }
    }
    if let Some(class) = crash.classification {
        for ext in &crash.extension_findings {
            let _ = writeln!(
                out,
                "\n{}",
                style.bold(&format!(
                    "findings in {}'s sources ({}) that can cause {}",
                    ext.module,
                    short_path(&ext.root),
                    class.code()
                ))
            );
            const SHOWN: usize = 10;
            let mut sources: Vec<(String, Option<String>)> = Vec::new();
            for f in ext.findings.iter().take(SHOWN) {
                if !sources.iter().any(|(file, _)| *file == f.file) {
                    sources.push((f.file.clone(), std::fs::read_to_string(&f.file).ok()));
                }
                let source = sources
                    .iter()
                    .find(|(file, _)| *file == f.file)
                    .and_then(|(_, text)| text.as_deref());
                render_finding(out, &f.finding, &f.file, source, style);
            }
            if ext.findings.len() > SHOWN {
                let _ = writeln!(
                    out,
                    "  ... {} more (--format json has them all)",
                    ext.findings.len() - SHOWN
                );
            }
        }
    }
    if !crash.next_steps.is_empty() {
        let _ = writeln!(out, "\n{}", style.bold("next step"));
        for step in &crash.next_steps {
            let _ = writeln!(out, "  {step}");
        }
    }
    let notes: Vec<&String> = crash.notes.iter().chain(report.notes.iter()).collect();
    if !notes.is_empty() {
        let _ = writeln!(out, "\n{}", style.bold("notes"));
        for n in notes {
            let _ = writeln!(out, "  - {n}");
        }
    }
}

fn headline(out: &mut String, crash: &CrashReport, style: Style) {
    let place = crash.fault_site.as_ref().map(|s| {
        let location = s
            .display_location()
            .map(|(f, l)| format!(" ({}:{l})", short_path(&f)))
            .unwrap_or_default();
        format!(" in {}.{}{}", s.module, s.display_function(), location)
    });
    match crash.classification {
        Some(c) => {
            let _ = writeln!(
                out,
                "{}{}",
                style.red(&format!("{} {}", c.code(), c.name())),
                style.bold(&place.unwrap_or_default())
            );
            let _ = writeln!(out, "  {}", c.summary());
        }
        None => {
            let _ = writeln!(
                out,
                "{}{}",
                style.yellow("timeout"),
                style.bold(&place.unwrap_or_default())
            );
        }
    }
}

fn facts(out: &mut String, crash: &CrashReport, style: Style) {
    let _ = writeln!(out);
    let what = match &crash.trigger {
        Trigger::Signal {
            signal,
            reason,
            address,
            ..
        } => {
            let mut t = signal.clone();
            if let Some(r) = reason {
                t.push_str(&format!(" ({r})"));
            }
            if let Some(a) = address {
                t.push_str(&format!(" at address {a:#x}"));
            }
            t
        }
        Trigger::FatalError { message } => format!("Fatal Python error: {message}"),
        Trigger::Sanitizer { tool, message, .. } => format!("{tool}: {message}"),
        Trigger::Timeout { seconds } => format!("still running after {seconds:.1} s"),
    };
    let _ = writeln!(out, "  {}  {what}", style.dim("what   "));
    let p = &crash.process;
    let mut who = format!("pid {}", p.pid);
    match (p.thread_id, p.main_thread) {
        (Some(tid), true) => who.push_str(&format!(", main thread (tid {tid})")),
        (Some(tid), false) => who.push_str(&format!(", thread {tid} (not the main thread)")),
        (None, true) => who.push_str(", main thread"),
        (None, false) => who.push_str(", a thread other than the main thread"),
    }
    if let Some(name) = &p.thread_name {
        who.push_str(&format!(" \"{name}\""));
    }
    who.push_str(if p.main_process {
        "; the program itself"
    } else {
        "; a child process of the program"
    });
    let _ = writeln!(out, "  {}  {who}", style.dim("process"));
    if !p.command_line.is_empty() {
        let _ = writeln!(
            out,
            "  {}  {}",
            style.dim("command"),
            p.command_line.join(" ")
        );
    }
}

fn source_label(s: EvidenceSource) -> &'static str {
    match s {
        EvidenceSource::Signal => "signal",
        EvidenceSource::Registers => "registers",
        EvidenceSource::DebugAllocator => "debug allocator",
        EvidenceSource::FatalError => "CPython",
        EvidenceSource::AddressSanitizer => "ASan",
        EvidenceSource::Valgrind => "valgrind",
        EvidenceSource::Libc => "glibc",
    }
}

fn stack_source(s: StackSource) -> &'static str {
    match s {
        StackSource::Gdb => "gdb",
        StackSource::AddressSanitizer => "AddressSanitizer",
        StackSource::Valgrind => "valgrind",
    }
}

fn site_section(out: &mut String, title: &str, site: &CodeSite, label: &str, style: Style) {
    let location = match site.display_location() {
        Some((f, l)) => format!("{}:{l}", short_path(&f)),
        None => "(no line information; rebuild with `refsan build`)".to_string(),
    };
    let _ = writeln!(
        out,
        "\n{} {} in {} {}",
        style.bold(&format!("{title}:")),
        location,
        style.cyan(site.display_function()),
        style.dim(&format!("[{}]", file_name(&site.library)))
    );
    if site.cython.is_some() {
        if let (Some(f), Some(l)) = (&site.file, site.line) {
            let _ = writeln!(
                out,
                "  {}",
                style.dim(&format!(
                    "generated C: {}:{l} in {}",
                    short_path(f),
                    site.function
                ))
            );
        }
    }
    if let Some((file, line)) = site.display_location() {
        if let Ok(text) = std::fs::read_to_string(&file) {
            let span = line_span(&text, line);
            out.push_str(&source_frame(&text, span, label, style.color));
        }
    }
}

/// A span covering the non-blank text of 1-based `line`.
pub fn line_span(text: &str, line: u32) -> Span {
    let Some(content) = text.lines().nth(line.saturating_sub(1) as usize) else {
        return Span::default();
    };
    let col = (content.len() - content.trim_start().len()) as u32 + 1;
    let end_col = content.trim_end().len() as u32 + 1;
    Span {
        start: 0,
        end: 0,
        line,
        col,
        end_line: line,
        end_col: end_col.max(col + 1),
    }
}

/// A few lines of `source` around `span`, the spanned text underlined and
/// labelled: the same shape as the report layer's `source_frame`.
pub fn source_frame(source: &str, span: Span, label: &str, color: bool) -> String {
    let style = Style { color };
    let lines: Vec<&str> = source.lines().collect();
    if span.is_dummy() || span.line as usize > lines.len() {
        return String::new();
    }
    let first = span.line.saturating_sub(2).max(1);
    let last = (span.line + 1).min(lines.len() as u32);
    let width = last.to_string().len();
    let mut out = String::new();
    for n in first..=last {
        let text = lines[(n - 1) as usize];
        let gutter = format!("{n:>width$} |");
        if n == span.line {
            let _ = writeln!(out, "  {} {}", style.bold(&gutter), text);
            let start = span.col.saturating_sub(1) as usize;
            let len = (span.end_col.saturating_sub(span.col) as usize).max(1);
            let _ = writeln!(
                out,
                "  {} {}{} {}",
                " ".repeat(width + 1) + "|",
                " ".repeat(start),
                style.red(&"^".repeat(len)),
                style.red(label)
            );
        } else {
            let _ = writeln!(out, "  {} {}", style.dim(&gutter), text);
        }
    }
    out
}

fn python_frames(out: &mut String, tb: &PyTraceback) {
    if tb.frames.is_empty() {
        let _ = writeln!(out, "  <no Python frame>");
    }
    for f in &tb.frames {
        match f.line {
            Some(l) => {
                let _ = writeln!(out, "  File \"{}\", line {l}, in {}", f.file, f.function);
            }
            None => {
                let _ = writeln!(out, "  {} ({})", f.function, f.file);
            }
        }
    }
}

fn native_frames(
    out: &mut String,
    frames: &[NativeFrame],
    highlight: Option<&CodeSite>,
    style: Style,
) {
    let fault_index = highlight.and_then(|site| {
        frames.iter().position(|f| {
            f.function.as_deref() == Some(site.function.as_str())
                && f.line == site.line
                && f.library.as_deref() == Some(site.library.as_str())
        })
    });
    let shown = match fault_index {
        Some(i) => (i + 4)
            .max(MAX_FRAMES_SHOWN.min(frames.len()))
            .min(frames.len()),
        None => MAX_FRAMES_SHOWN.min(frames.len()),
    };
    for (i, f) in frames.iter().take(shown).enumerate() {
        let marker = if Some(i) == fault_index { "→" } else { " " };
        let location = match (&f.file, f.line) {
            (Some(file), Some(line)) => format!("{}:{line}", short_path(file)),
            (Some(file), None) => short_path(file),
            _ => String::new(),
        };
        let library = f.library.as_deref().map(file_name).unwrap_or_default();
        let mut line = format!(
            "{marker} #{i:<3} {:<32} {:<40} {}",
            f.function_name(),
            location,
            style.dim(&library)
        );
        if f.inlined {
            line.push_str(&style.dim(" (inlined)"));
        }
        let line = if Some(i) == fault_index {
            style.bold(&line)
        } else {
            line
        };
        let _ = writeln!(out, "  {}", line.trim_end());
        if let Some(pyx) = &f.cython {
            let func = pyx.function.as_deref().unwrap_or("?");
            let _ = writeln!(
                out,
                "         {}",
                style.cyan(&format!(
                    "↳ {}:{} in {func}",
                    short_path(&pyx.file),
                    pyx.line
                ))
            );
        }
    }
    if frames.len() > shown {
        let _ = writeln!(
            out,
            "  {}",
            style.dim(&format!(
                "  ... {} more frames (--format json has them all)",
                frames.len() - shown
            ))
        );
    }
}

fn static_section(out: &mut String, section: &StaticSection, style: Style) {
    let _ = writeln!(
        out,
        "\n{}",
        style.bold(&format!(
            "static findings for {} ({})",
            section.function,
            short_path(&section.file)
        ))
    );
    if section.findings.is_empty() {
        let _ = writeln!(
            out,
            "  none: the static checker found nothing in this function"
        );
        return;
    }
    let source = std::fs::read_to_string(&section.file).ok();
    for f in &section.findings {
        render_finding(out, f, &section.file, source.as_deref(), style);
    }
}

/// One static finding: code, message, location, the numbered events.
pub fn render_finding(
    out: &mut String,
    f: &Finding,
    file: &str,
    source: Option<&str>,
    style: Style,
) {
    let _ = writeln!(
        out,
        "  {} {} {}: {}",
        style.red(f.code),
        f.name,
        style.dim(&format!("[{}]", f.severity)),
        f.message
    );
    let _ = writeln!(
        out,
        "    at {}:{}:{}",
        short_path(file),
        f.span.line,
        f.span.col
    );
    if let Some(src) = source {
        let mut frame = source_frame(src, f.span, "here", style.color);
        frame = frame
            .lines()
            .map(|l| format!("  {l}\n"))
            .collect::<String>();
        out.push_str(&frame);
    }
    for (i, e) in f.events.iter().enumerate() {
        let _ = writeln!(out, "    {}. line {}: {}", i + 1, e.span.line, e.message);
    }
    if let Some(help) = &f.help {
        let _ = writeln!(out, "    help: {help}");
    }
}

fn file_name(path: &str) -> String {
    Path::new(path)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(path)
        .to_string()
}

/// A path relative to the current directory when it is under it; for a
/// file that is not on this machine (the interpreter's build tree), its last
/// two components.
fn short_path(path: &str) -> String {
    let p = Path::new(path);
    if let Ok(cwd) = std::env::current_dir() {
        if let Ok(rel) = p.strip_prefix(&cwd) {
            if rel.as_os_str().is_empty() {
                return ".".to_string();
            }
            return rel.display().to_string();
        }
    }
    if p.is_absolute() && !p.exists() {
        let parts: Vec<&str> = path.rsplit('/').take(2).collect();
        if parts.len() == 2 {
            return format!("{}/{}", parts[1], parts[0]);
        }
    }
    path.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use refsan_ir::{Event, Severity};

    /// A stand-in for the static checker, returning real findings.
    struct FixedFindings(Vec<Finding>);

    impl crate::StaticFindings for FixedFindings {
        fn for_function(&self, _file: &Path, function: &str) -> Vec<Finding> {
            self.0
                .iter()
                .filter(|f| f.function.as_deref() == Some(function))
                .cloned()
                .collect()
        }
    }

    fn span(line: u32, col: u32, end_col: u32) -> Span {
        Span {
            start: 0,
            end: 0,
            line,
            col,
            end_line: line,
            end_col,
        }
    }

    fn sample_crash(file: &str) -> CrashReport {
        CrashReport {
            classification: Some(Classification::NullObject),
            evidence: vec![Evidence {
                source: EvidenceSource::Signal,
                text: "faulting address 0x0 is within 0x10000 bytes of NULL".into(),
            }],
            trigger: Trigger::Signal {
                signal: "SIGSEGV".into(),
                number: 11,
                reason: Some("address not mapped".into()),
                address: Some(0),
            },
            process: ProcessInfo {
                pid: 42,
                thread_id: Some(42),
                thread_name: Some("python3".into()),
                main_thread: true,
                main_process: true,
                command_line: vec!["python3".into(), "t.py".into()],
            },
            fault_site: Some(CodeSite {
                module: "refbugs".into(),
                library: "/x/refbugs.cpython-311-x86_64-linux-gnu.so".into(),
                function: "unchecked_null".into(),
                file: Some(file.into()),
                line: Some(4),
                cython: None,
            }),
            free_site: None,
            python_traceback: Some(PyTraceback {
                thread: Some("0x1".into()),
                current_thread: true,
                frames: vec![PyFrame {
                    file: "t.py".into(),
                    line: Some(3),
                    function: "<module>".into(),
                }],
            }),
            other_python_tracebacks: vec![],
            native_stacks: vec![NativeStack {
                label: "crashing thread".into(),
                source: StackSource::Gdb,
                thread_id: Some(42),
                frames: vec![NativeFrame {
                    function: Some("unchecked_null".into()),
                    file: Some(file.into()),
                    line: Some(4),
                    library: Some("/x/refbugs.cpython-311-x86_64-linux-gnu.so".into()),
                    ..NativeFrame::default()
                }],
            }],
            static_findings: None,
            extensions: Vec::new(),
            extension_findings: Vec::new(),
            next_steps: Vec::new(),
            tool_output: vec![],
            notes: vec![],
        }
    }

    #[test]
    fn static_findings_section_shows_code_message_line_and_events() {
        let dir = std::env::temp_dir().join(format!("refsan-render-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("refbugs.c");
        std::fs::write(
            &file,
            "static PyObject *\nunchecked_null(PyObject *self, PyObject *obj) {\n    PyObject *attr = PyObject_GetAttrString(obj, \"x\");\n    Py_DECREF(attr);\n    Py_RETURN_NONE;\n}\n",
        )
        .unwrap();
        let finding = Finding {
            code: "RS107",
            name: "unchecked-null",
            severity: Severity::Error,
            message:
                "`attr` may be NULL when `PyObject_GetAttrString` fails and is passed to Py_DECREF"
                    .into(),
            span: span(4, 5, 20),
            function: Some("unchecked_null".into()),
            events: vec![
                Event {
                    span: span(3, 22, 50),
                    message: "`attr` is NULL when `PyObject_GetAttrString` fails".into(),
                },
                Event {
                    span: span(4, 5, 20),
                    message: "Py_DECREF(attr) dereferences NULL".into(),
                },
            ],
            help: Some("check `attr` for NULL and return NULL".into()),
            related: Vec::new(),
            trigger: refsan_ir::Trigger::Always,
            failing_call: None,
        };
        let other = Finding {
            function: Some("another_function".into()),
            code: "RS101",
            name: "leaked-reference",
            ..finding.clone()
        };
        let provider = FixedFindings(vec![finding, other]);
        let mut crash = sample_crash(&file.display().to_string());
        crash.static_findings = crate::run::static_section_for(&crash, &provider);
        let report = RunReport {
            schema: SCHEMA,
            program: vec!["python3".into(), "t.py".into()],
            mode: Mode::Plain,
            exit: ProgramExit {
                status: 139,
                code: None,
                signal: Some("SIGSEGV".into()),
                timed_out: false,
            },
            crashes: vec![crash],
            notes: vec![],
        };
        let text = to_text(&report, Style { color: false });
        assert!(
            text.contains("static findings for unchecked_null"),
            "{text}"
        );
        assert!(text.contains("RS107 unchecked-null [error]: `attr` may be NULL"));
        assert!(text.contains("1. line 3: `attr` is NULL when `PyObject_GetAttrString` fails"));
        assert!(text.contains("2. line 4: Py_DECREF(attr) dereferences NULL"));
        assert!(text.contains("help: check `attr` for NULL"));
        assert!(
            !text.contains("RS101"),
            "findings of other functions are not shown"
        );
        assert!(text.contains("RT04 null-object in refbugs.unchecked_null"));
        assert!(text.contains("4 |     Py_DECREF(attr);"));
        let json: serde_json::Value = serde_json::from_str(&to_json(&report)).unwrap();
        let findings = &json["crashes"][0]["static_findings"]["findings"];
        assert_eq!(findings[0]["code"], "RS107");
        assert_eq!(findings[0]["events"].as_array().unwrap().len(), 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn no_crash_no_text() {
        let report = RunReport {
            schema: SCHEMA,
            program: vec![],
            mode: Mode::Plain,
            exit: ProgramExit {
                status: 0,
                code: Some(0),
                signal: None,
                timed_out: false,
            },
            crashes: vec![],
            notes: vec!["something".into()],
        };
        assert_eq!(to_text(&report, Style { color: false }), "");
    }

    #[test]
    fn source_frame_underlines_the_span() {
        let text = "a\nb\n    Py_DECREF(x);\nd\n";
        let frame = source_frame(text, line_span(text, 3), "crashed here", false);
        assert!(frame.contains("3 |     Py_DECREF(x);"));
        assert!(
            frame.contains("|     ^^^^^^^^^^^^^ crashed here"),
            "{frame}"
        );
        assert!(frame.contains("1 | a"));
        assert!(frame.contains("4 | d"));
    }
}
