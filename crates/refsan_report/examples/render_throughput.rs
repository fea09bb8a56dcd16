//! Renders a large synthetic run (many files, many findings with event
//! paths over real-looking C text) in every format and prints the time each
//! takes. Driven by `bench/report_render.sh`.
//!
//! Usage: render_throughput [FILES] [FINDINGS_PER_FILE]

use refsan_ir::{Event, Finding, LineIndex, Note, Severity, Span};
use refsan_report::{render, FileReport, Format, RenderOptions};
use std::sync::Arc;
use std::time::Instant;

/// One C function per finding, 12 lines each, with a leak on its error path.
fn synthetic_source(functions: usize) -> String {
    (0..functions)
        .map(|i| {
            format!(
                "static PyObject *\nbuild_{i}(PyObject *self, PyObject *args)\n{{\n    PyObject *result = PyList_New(0);\n    \
                 if (result == NULL)\n        return NULL;\n    if (PyList_Append(result, item_{i}) < 0) {{\n        \
                 return NULL;\n    }}\n    return result;\n}}\n\n"
            )
        })
        .collect()
}

fn nth_span(index: &LineIndex, source: &str, needle: &str, nth: usize) -> Span {
    let start = source
        .match_indices(needle)
        .nth(nth)
        .map_or(0, |(at, _)| at);
    index.span(start as u32, (start + needle.len()) as u32)
}

fn file_report(file: usize, findings: usize) -> FileReport {
    let source = synthetic_source(findings);
    let index = LineIndex::new(source.as_bytes());
    let findings = (0..findings)
        .map(|i| {
            let leak = nth_span(&index, &source, "return NULL;", 2 * i + 1);
            Finding {
                code: "RS101",
                name: "leaked-reference",
                severity: Severity::Error,
                message: "`result` leaks when `PyList_Append` fails".to_string(),
                span: leak,
                function: Some(format!("build_{i}")),
                events: vec![
                    Event {
                        span: nth_span(&index, &source, "PyList_New(0)", i),
                        message: "new reference from `PyList_New`".to_string(),
                    },
                    Event {
                        span: nth_span(&index, &source, "PyList_Append(", i),
                        message: "`PyList_Append` fails (returns -1)".to_string(),
                    },
                    Event {
                        span: leak,
                        message: "`return NULL` leaks `result`".to_string(),
                    },
                ],
                help: Some("release it with Py_DECREF(result) before returning".to_string()),
                related: Vec::new(),
                trigger: refsan_ir::Trigger::Always,
                failing_call: None,
            }
        })
        .collect();
    FileReport {
        path: format!("src/module_{file:04}.c"),
        source: Some(Arc::from(source.as_str())),
        findings,
        notes: vec![Note {
            span: Span::default(),
            function: None,
            message: "analysed approximately".to_string(),
        }],
        error: None,
    }
}

fn main() {
    let mut args = std::env::args().skip(1).map(|arg| arg.parse::<usize>());
    let (Ok(files), Ok(per_file)) = (
        args.next().unwrap_or(Ok(200)),
        args.next().unwrap_or(Ok(50)),
    ) else {
        eprintln!("usage: render_throughput [FILES] [FINDINGS_PER_FILE]");
        std::process::exit(2);
    };
    let reports: Vec<FileReport> = (0..files).map(|file| file_report(file, per_file)).collect();
    let findings = files * per_file;
    let options = RenderOptions {
        color: true,
        show_notes: true,
        ..RenderOptions::default()
    };
    println!("{files} files, {findings} findings (3 events each)");
    println!(
        "{:<8} {:>10} {:>12} {:>16}",
        "format", "ms", "MiB written", "findings/s"
    );
    for format in Format::ALL {
        let mut out = Vec::new();
        let started = Instant::now();
        if let Err(err) = render(&mut out, &reports, &[], format, &options) {
            eprintln!("rendering {format} failed: {err}");
            std::process::exit(1);
        }
        let elapsed = started.elapsed().as_secs_f64();
        println!(
            "{:<8} {:>10.1} {:>12.2} {:>16.0}",
            format.as_str(),
            elapsed * 1e3,
            out.len() as f64 / (1024.0 * 1024.0),
            findings as f64 / elapsed.max(1e-9)
        );
    }
}
