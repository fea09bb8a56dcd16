//! Parses AddressSanitizer reports (GCC's libasan and LLVM's compiler-rt
//! print the same format):
//!
//! ```text
//! ==16757==ERROR: AddressSanitizer: heap-use-after-free on address 0x603000045a08 at pc ...
//! READ of size 8 at 0x603000045a08 thread T0
//!     #0 0x7faa62514249 in Py_TYPE /usr/include/python3.11/object.h:133
//!     #1 0x7faa625144ac in double_decref /src/refbugs.c:27
//! freed by thread T0 here:
//!     #0 ...
//! previously allocated by thread T0 here:
//! SUMMARY: AddressSanitizer: heap-use-after-free /usr/include/python3.11/object.h:133 in Py_TYPE
//! ```

use crate::report::NativeFrame;

/// One AddressSanitizer error report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AsanReport {
    /// The process that printed it ("==16757==").
    pub pid: Option<i32>,
    /// The bug type of the SUMMARY line: "heap-use-after-free", "SEGV",
    /// "double-free", "heap-buffer-overflow"...
    pub kind: String,
    /// The ERROR line after "AddressSanitizer: ".
    pub headline: String,
    /// "READ of size 8 at 0x603000045a08 thread T0".
    pub access: Option<String>,
    /// The bad address from the headline.
    pub address: Option<u64>,
    /// "The signal is caused by a READ memory access.", "Hint: address points
    /// to the zero page." and the region description.
    pub details: Vec<String>,
    /// The error's own stack first ("error"), then "freed by thread T0",
    /// "previously allocated by thread T0"...
    pub stacks: Vec<(String, Vec<NativeFrame>)>,
    /// The whole report, verbatim.
    pub raw: String,
    /// What ASan's allocator said, just before this report, about the
    /// addresses refsan asked it about (`__asan_describe_address` on the
    /// crashing thread's registers).
    pub described: Vec<DescribedAddress>,
}

/// ASan's description of one address: "0x6060000000e0 is located 16 bytes
/// inside of 56-byte region [...)", with the "freed by" and "previously
/// allocated by" stacks when the block was freed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DescribedAddress {
    pub address: u64,
    pub description: String,
    pub stacks: Vec<(String, Vec<NativeFrame>)>,
    /// The register that held the address (filled in by the caller).
    pub register: Option<String>,
}

impl DescribedAddress {
    /// The block was freed: ASan kept the stack that freed it.
    pub fn freed(&self) -> bool {
        self.stacks.iter().any(|(l, _)| l.starts_with("freed by"))
    }
}

/// "0x6060000000e0 is located 16 bytes inside of 56-byte region ..." →
/// the address.
fn describe_line(text: &str) -> Option<u64> {
    let (token, rest) = text.split_once(' ')?;
    if !rest.starts_with("is located") && !rest.starts_with("is a wild pointer") {
        return None;
    }
    parse_hex(token)
}

impl AsanReport {
    pub fn stack(&self, label_prefix: &str) -> Option<&[NativeFrame]> {
        self.stacks
            .iter()
            .find(|(l, _)| l.starts_with(label_prefix))
            .map(|(_, f)| f.as_slice())
    }
}

/// Every report in `text`, in order.
pub fn parse_all(text: &str) -> Vec<AsanReport> {
    let lines: Vec<&str> = text.lines().collect();
    let mut reports = Vec::new();
    let mut described: Vec<DescribedAddress> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if let Some((pid, headline)) = error_line(lines[i]) {
            let (mut report, next) = parse_one(&lines, i, pid, headline);
            report.described = std::mem::take(&mut described);
            reports.push(report);
            i = next;
            continue;
        }
        let text = strip_pid_prefix(lines[i].trim());
        i += 1;
        if let Some(address) = describe_line(text) {
            described.push(DescribedAddress {
                address,
                description: text.to_string(),
                stacks: Vec::new(),
                register: None,
            });
            continue;
        }
        let Some(block) = described.last_mut() else {
            continue;
        };
        if text.ends_with(" here:") {
            block
                .stacks
                .push((text.trim_end_matches(" here:").to_string(), Vec::new()));
        } else if let Some(frame) = frame_line(text) {
            if let Some((_, frames)) = block.stacks.last_mut() {
                frames.push(frame);
            }
        }
    }
    reports
}

/// "==123==ERROR: AddressSanitizer: <headline>" → (pid, headline).
fn error_line(line: &str) -> Option<(Option<i32>, String)> {
    let pos = line.find("ERROR: AddressSanitizer: ")?;
    let pid = line[..pos].trim_matches('=').parse::<i32>().ok();
    let headline = line[pos + "ERROR: AddressSanitizer: ".len()..].trim();
    Some((pid, headline.to_string()))
}

fn parse_one(
    lines: &[&str],
    start: usize,
    pid: Option<i32>,
    headline: String,
) -> (AsanReport, usize) {
    let mut report = AsanReport {
        pid,
        kind: headline_kind(&headline),
        address: headline_address(&headline),
        headline,
        access: None,
        details: Vec::new(),
        stacks: vec![("error".to_string(), Vec::new())],
        raw: String::new(),
        described: Vec::new(),
    };
    let mut raw = vec![lines[start]];
    let mut i = start + 1;
    while i < lines.len() {
        let line = lines[i];
        let text = strip_pid_prefix(line.trim());
        if error_line(line).is_some() {
            break;
        }
        raw.push(line);
        i += 1;
        if let Some(rest) = text.strip_prefix("SUMMARY: AddressSanitizer: ") {
            if let Some(kind) = rest.split_whitespace().next() {
                report.kind = kind.to_string();
            }
            // The shadow-memory dump follows; it says nothing a user needs.
            break;
        }
        if let Some(frame) = frame_line(text) {
            if let Some((_, frames)) = report.stacks.last_mut() {
                frames.push(frame);
            }
            continue;
        }
        if text.ends_with(" here:") {
            let label = text.trim_end_matches(" here:").to_string();
            report.stacks.push((label, Vec::new()));
            continue;
        }
        if report.access.is_none()
            && (text.starts_with("READ of size") || text.starts_with("WRITE of size"))
        {
            report.access = Some(text.to_string());
            continue;
        }
        if text.starts_with("The signal is caused")
            || text.starts_with("Hint:")
            || text.contains(" is located ")
        {
            report.details.push(text.to_string());
        }
    }
    report.raw = raw.join("\n");
    (report, i)
}

fn strip_pid_prefix(text: &str) -> &str {
    if let Some(rest) = text.strip_prefix("==") {
        if let Some(pos) = rest.find("==") {
            if rest[..pos].chars().all(|c| c.is_ascii_digit()) {
                return &rest[pos + 2..];
            }
        }
    }
    text
}

/// "heap-use-after-free on address 0x..." → "heap-use-after-free";
/// "SEGV on unknown address ..." → "SEGV"; "attempting double-free on ..." →
/// "double-free".
fn headline_kind(headline: &str) -> String {
    let first = headline.split_whitespace().next().unwrap_or("");
    if first == "attempting" {
        return headline
            .split_whitespace()
            .nth(1)
            .unwrap_or("unknown")
            .to_string();
    }
    first.to_string()
}

fn headline_address(headline: &str) -> Option<u64> {
    let pos = headline.find("address ")?;
    let token = headline[pos + "address ".len()..]
        .split_whitespace()
        .next()?;
    parse_hex(token)
}

pub(crate) fn parse_hex(token: &str) -> Option<u64> {
    let digits = token.trim().strip_prefix("0x")?;
    u64::from_str_radix(digits, 16).ok()
}

/// "#1 0x7faa625144ac in double_decref /src/refbugs.c:27:5",
/// "#20 0x56493a93c080 in _start (/usr/bin/python3.11+0x1080)",
/// "#3 0x7f1 (/lib/x86_64-linux-gnu/libc.so.6+0x271ca)", and refsan's own
/// `stack_trace_format` "#1 0x7f in double_decref /src/refbugs.c:27 (/src/refbugs.so+0x14ac)".
fn frame_line(text: &str) -> Option<NativeFrame> {
    let rest = text.strip_prefix('#')?;
    let (index, rest) = rest.split_once(' ')?;
    if !index.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let rest = rest.trim_start();
    let (pc_text, rest) = rest.split_once(' ').unwrap_or((rest, ""));
    let pc = parse_hex(pc_text);
    pc?;
    let mut rest = rest.trim();
    let mut library = None;
    // A trailing "(module+0xoffset)" names the shared object.
    if rest.ends_with(')') {
        if let Some(open) = rest
            .rfind(" (")
            .map(|p| p + 1)
            .or(rest.starts_with('(').then_some(0))
        {
            let module = &rest[open + 1..rest.len() - 1];
            if module.contains("+0x") {
                library = Some(
                    module
                        .rsplit_once("+0x")
                        .map(|(m, _)| m)
                        .unwrap_or(module)
                        .to_string(),
                );
                rest = rest[..open].trim_end();
            }
        }
    }
    let (function, location) = match rest.strip_prefix("in ") {
        Some(body) => match body.rsplit_once(' ') {
            Some((f, loc)) if loc.contains(':') || loc == "<null>" => {
                (Some(f.trim().to_string()), loc)
            }
            _ => (Some(body.trim().to_string()), ""),
        },
        None => (None, rest),
    };
    let mut frame = NativeFrame {
        pc,
        function,
        library,
        ..NativeFrame::default()
    };
    if !location.is_empty() && location != "<null>" {
        let (file, line) = split_file_line(location);
        frame.file = Some(file);
        frame.line = line;
    }
    Some(frame)
}

/// "/src/refbugs.c:27:5" → ("/src/refbugs.c", Some(27)).
fn split_file_line(location: &str) -> (String, Option<u32>) {
    let mut parts = location.rsplitn(3, ':');
    let last = parts.next().unwrap_or("");
    let middle = parts.next();
    let first = parts.next();
    match (first, middle) {
        (Some(file), Some(line)) if line.parse::<u32>().is_ok() && last.parse::<u32>().is_ok() => {
            (file.to_string(), line.parse().ok())
        }
        (_, Some(before)) if last.parse::<u32>().is_ok() => {
            let file = match first {
                Some(f) => format!("{f}:{before}"),
                None => before.to_string(),
            };
            (file, last.parse().ok())
        }
        _ => (location.to_string(), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn described_addresses_before_a_report_belong_to_it() {
        let text = "\
0x7ffc1234 is located in stack of thread T0 at offset 32 in frame
0x606000000020 is located 32 bytes inside of 56-byte region [0x606000000000,0x606000000038)
freed by thread T0 here:
    #0 0x7f01 in free (/usr/lib/x86_64-linux-gnu/libasan.so.8+0xd7d8)
    #1 0x7f02 in Holder_dealloc /src/delayed.c:25 (/src/delayed.so+0x1234)

previously allocated by thread T0 here:
    #0 0x7f03 in malloc (/usr/lib/x86_64-linux-gnu/libasan.so.8+0xd9d8)
    #1 0x7f04 in PyType_GenericAlloc Objects/typeobject.c:1290 (/lib/libpython3.11.so+0x1)

==30392==ERROR: AddressSanitizer: SEGV on unknown address (pc 0x7fa6881ab3d3 bp 0x7fa688cad020 sp 0x7ffdb0e52820 T0)
==30392==The signal is caused by a READ memory access.
    #0 0x7fa6881ab3d3 in PyObject_GetAttr Objects/object.c:915 (/lib/libpython3.11.so+0x1ab3d3)
SUMMARY: AddressSanitizer: SEGV Objects/object.c:915 in PyObject_GetAttr
";
        let reports = parse_all(text);
        assert_eq!(reports.len(), 1);
        let r = &reports[0];
        assert_eq!(r.kind, "SEGV");
        assert_eq!(r.described.len(), 2);
        let freed = &r.described[1];
        assert_eq!(freed.address, 0x606000000020);
        assert!(freed.freed());
        assert!(!r.described[0].freed());
        assert_eq!(
            freed.stacks[0].1[1].function.as_deref(),
            Some("Holder_dealloc")
        );
        assert_eq!(freed.stacks[1].0, "previously allocated by thread T0");
    }

    #[test]
    fn heap_use_after_free_with_free_and_alloc_stacks() {
        let reports = parse_all(include_str!("../tests/data/asan_double_decref.txt"));
        assert_eq!(reports.len(), 1);
        let r = &reports[0];
        assert_eq!(r.kind, "heap-use-after-free");
        assert_eq!(r.address, Some(0x603000045ac8));
        assert_eq!(
            r.access.as_deref(),
            Some("READ of size 8 at 0x603000045ac8 thread T0")
        );
        let error = r.stack("error").unwrap();
        assert_eq!(error[0].function.as_deref(), Some("Py_TYPE"));
        assert_eq!(error[1].function.as_deref(), Some("double_decref"));
        assert_eq!(
            error[1].file.as_deref(),
            Some("/home/dev/refbugs/refbugs.c")
        );
        assert_eq!(error[1].line, Some(27));
        let freed = r.stack("freed by").unwrap();
        assert_eq!(freed[0].function.as_deref(), Some("__interceptor_free"));
        assert_eq!(freed[1].function.as_deref(), Some("Py_DECREF"));
        assert_eq!(freed[2].function.as_deref(), Some("double_decref"));
        assert_eq!(freed[2].line, Some(25));
        assert!(r.stack("previously allocated").is_some());
        assert!(r.raw.contains("SUMMARY: AddressSanitizer"));
        assert!(!r.raw.contains("Shadow byte legend"));
    }

    #[test]
    fn segv_on_the_zero_page() {
        let reports = parse_all(include_str!("../tests/data/asan_unchecked_null.txt"));
        let r = &reports[0];
        assert_eq!(r.kind, "SEGV");
        assert_eq!(r.address, Some(0));
        assert!(r.details.iter().any(|d| d.contains("zero page")));
        let error = r.stack("error").unwrap();
        assert_eq!(error[1].function.as_deref(), Some("unchecked_null"));
        assert_eq!(error[1].line, Some(50));
        let start = error.last().unwrap();
        assert_eq!(start.function.as_deref(), Some("_start"));
        assert_eq!(
            start.library.as_deref(),
            Some("/opt/python3.11/bin/python3.11")
        );
    }

    #[test]
    fn double_free() {
        let reports = parse_all(include_str!("../tests/data/asan_double_free.txt"));
        let r = &reports[0];
        assert_eq!(r.kind, "double-free");
        assert!(r.stack("freed by").is_some());
        let error = r.stack("error").unwrap();
        assert_eq!(error[1].function.as_deref(), Some("main"));
    }

    #[test]
    fn refsan_stack_trace_format_names_modules() {
        let reports = parse_all(include_str!(
            "../tests/data/asan_stolen_released_modules.txt"
        ));
        let r = &reports[0];
        assert_eq!(r.kind, "heap-use-after-free");
        let error = r.stack("error").unwrap();
        let ext = error
            .iter()
            .find(|f| f.function.as_deref() == Some("stolen_released"))
            .unwrap();
        assert_eq!(
            ext.library.as_deref(),
            Some("/home/dev/refbugs/refbugs.cpython-311-x86_64-linux-gnu.so")
        );
        assert_eq!(ext.file.as_deref(), Some("/home/dev/refbugs/refbugs.c"));
        assert!(ext.line.is_some());
        let start = error.last().unwrap();
        assert_eq!(start.function.as_deref(), Some("_start"));
        assert_eq!(start.file, None);
        assert_eq!(
            start.library.as_deref(),
            Some("/opt/python3.11/bin/python3.11")
        );
        let freed = r.stack("freed by").unwrap();
        assert_eq!(freed[0].function.as_deref(), Some("__interceptor_free"));
    }

    #[test]
    fn file_line_column_split() {
        assert_eq!(
            split_file_line("/a/b.c:27:5"),
            ("/a/b.c".to_string(), Some(27))
        );
        assert_eq!(split_file_line("b.c:3"), ("b.c".to_string(), Some(3)));
        assert_eq!(split_file_line("b.c"), ("b.c".to_string(), None));
    }

    #[test]
    fn no_report_in_ordinary_output() {
        assert!(parse_all("all good\n#1 not a frame\n").is_empty());
    }
}
