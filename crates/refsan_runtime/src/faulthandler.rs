//! Parses what CPython writes to stderr when it dies: faulthandler's
//! tracebacks ("Current thread 0x... (most recent call first):"), the
//! "Fatal Python error: ..." line and the "Extension modules: ..." list.
//!
//! The formats are those of `Python/traceback.c` (`dump_frame`,
//! `write_thread_id`) and `Python/pylifecycle.c` (`fatal_error`), stable from
//! 3.8 to 3.13.

use crate::report::{PyFrame, PyTraceback};

/// What one crash left on stderr.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FatalOutput {
    /// The text after "Fatal Python error: ", e.g. "Segmentation fault" or
    /// "_PyObject_AssertFailed: _PyObject_AssertFailed".
    pub fatal_error: Option<String>,
    /// Lines printed just before the fatal error line (assertion messages,
    /// object dumps): the most specific part of a debug build's message.
    pub preamble: Vec<String>,
    /// Every thread's traceback, in the order printed.
    pub tracebacks: Vec<PyTraceback>,
    /// Modules listed under "Extension modules:" (third-party ones only;
    /// CPython lists those it does not ship).
    pub extension_modules: Vec<String>,
}

impl FatalOutput {
    /// The traceback of the thread that crashed.
    pub fn current_traceback(&self) -> Option<&PyTraceback> {
        self.tracebacks
            .iter()
            .find(|t| t.current_thread)
            .or_else(|| self.tracebacks.first())
    }

    pub fn is_empty(&self) -> bool {
        self.fatal_error.is_none() && self.tracebacks.is_empty()
    }
}

/// Parses the first fatal error report in `text` (a crash prints one; a
/// second one would come from another process and is left for its own
/// report).
pub fn parse(text: &str) -> FatalOutput {
    let mut out = FatalOutput::default();
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    let mut seen_fatal = false;
    while i < lines.len() {
        let line = lines[i];
        if let Some(rest) = line.strip_prefix("Fatal Python error: ") {
            if seen_fatal {
                break;
            }
            seen_fatal = true;
            out.fatal_error = Some(rest.trim_end().to_string());
            out.preamble = preamble_before(&lines, i);
            i += 1;
            continue;
        }
        if let Some((thread, current)) = traceback_header(line) {
            let (frames, next) = traceback_frames(&lines, i + 1);
            out.tracebacks.push(PyTraceback {
                thread,
                current_thread: current,
                frames,
            });
            i = next;
            continue;
        }
        if let Some(rest) = line.strip_prefix("Extension modules: ") {
            out.extension_modules = extension_modules(rest);
            if seen_fatal {
                // The module list closes faulthandler's report.
                break;
            }
        }
        i += 1;
    }
    out
}

/// Up to five non-empty lines right before the fatal error line, stopping at
/// a blank line: debug builds print their assertion there.
fn preamble_before(lines: &[&str], fatal_index: usize) -> Vec<String> {
    let mut pre = Vec::new();
    let mut j = fatal_index;
    while j > 0 && pre.len() < 5 {
        j -= 1;
        let l = lines[j].trim_end();
        if l.is_empty() {
            break;
        }
        pre.push(l.to_string());
    }
    pre.reverse();
    pre
}

/// "Current thread 0x00007f... (most recent call first):" → (Some(id), true);
/// "Thread 0x... (most recent call first):" → (Some(id), false);
/// "Stack (most recent call first):" → (None, true).
fn traceback_header(line: &str) -> Option<(Option<String>, bool)> {
    let line = line.trim_end();
    let body = line.strip_suffix("(most recent call first):")?.trim_end();
    if let Some(id) = body.strip_prefix("Current thread ") {
        return Some((Some(id.trim().to_string()), true));
    }
    if let Some(id) = body.strip_prefix("Thread ") {
        return Some((Some(id.trim().to_string()), false));
    }
    if body == "Stack" {
        return Some((None, true));
    }
    None
}

/// Frame lines ("  File \"x.py\", line 3 in f") until the block ends.
fn traceback_frames(lines: &[&str], mut i: usize) -> (Vec<PyFrame>, usize) {
    let mut frames = Vec::new();
    while i < lines.len() {
        let line = lines[i];
        if !line.starts_with("  ") {
            break;
        }
        if let Some(frame) = frame_line(line.trim()) {
            frames.push(frame);
        }
        // "<no Python frame>" and "..." (truncated stacks) carry no frame.
        i += 1;
    }
    (frames, i)
}

fn frame_line(line: &str) -> Option<PyFrame> {
    let rest = line.strip_prefix("File \"")?;
    let close = rest.rfind("\", line ")?;
    let file = rest[..close].to_string();
    let after = &rest[close + "\", line ".len()..];
    let (number, function) = match after.split_once(" in ") {
        Some((n, f)) => (n, f.trim().to_string()),
        None => (after, String::from("???")),
    };
    Some(PyFrame {
        file,
        line: number.trim().parse().ok(),
        function,
    })
}

/// "refbugs, numpy.core._multiarray_umath (total: 2)" → the names.
fn extension_modules(rest: &str) -> Vec<String> {
    let list = match rest.rfind(" (total: ") {
        Some(pos) => &rest[..pos],
        None => rest,
    };
    list.split(',')
        .map(|m| m.trim().to_string())
        .filter(|m| !m.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEGV: &str = r#"Fatal Python error: Segmentation fault

Thread 0x00007f3b2d7fe6c0 (most recent call first):
  File "/usr/lib/python3.11/threading.py", line 324 in wait
  <no Python frame>

Current thread 0x00007fbd71bc5b80 (most recent call first):
  File "/home/dev/crash.py", line 7 in trigger
  File "<string>", line 1 in <module>

Extension modules: refbugs, wrapper (total: 2)
"#;

    #[test]
    fn parses_faulthandler_segfault_report() {
        let out = parse(SEGV);
        assert_eq!(out.fatal_error.as_deref(), Some("Segmentation fault"));
        assert_eq!(out.tracebacks.len(), 2);
        let current = out.current_traceback().unwrap();
        assert_eq!(current.thread.as_deref(), Some("0x00007fbd71bc5b80"));
        assert_eq!(current.frames.len(), 2);
        assert_eq!(current.frames[0].file, "/home/dev/crash.py");
        assert_eq!(current.frames[0].line, Some(7));
        assert_eq!(current.frames[0].function, "trigger");
        assert_eq!(current.frames[1].function, "<module>");
        assert!(!out.tracebacks[0].current_thread);
        assert_eq!(out.extension_modules, vec!["refbugs", "wrapper"]);
    }

    #[test]
    fn keeps_debug_build_assertion_lines() {
        let text = include_str!("../tests/data/debugbuild_negative_refcount.txt");
        let out = parse(text);
        assert_eq!(
            out.fatal_error.as_deref(),
            Some("_PyObject_AssertFailed: _PyObject_AssertFailed")
        );
        assert!(out.preamble[0].contains("object has negative ref count"));
        assert!(out.preamble[1].contains("is freed"));
        let tb = out.current_traceback().unwrap();
        assert_eq!(tb.frames[0].line, Some(6));
    }

    #[test]
    fn stops_at_a_second_fatal_error() {
        let text = format!("{SEGV}Fatal Python error: Aborted\n\nCurrent thread 0x1 (most recent call first):\n  File \"b.py\", line 1 in <module>\n");
        let out = parse(&text);
        assert_eq!(out.fatal_error.as_deref(), Some("Segmentation fault"));
        assert_eq!(out.tracebacks.len(), 2);
    }

    #[test]
    fn no_report_in_ordinary_output() {
        let out =
            parse("hello\nTraceback (most recent call last):\n  File \"x\", line 1, in <module>\n");
        assert!(out.is_empty());
    }
}
