//! Parses Valgrind memcheck's XML output (`--xml=yes`, protocol version 4).
//!
//! Each `<error>` carries a kind (`InvalidRead`, `InvalidFree`...), the
//! error's stack, and `<auxwhat>` lines each followed by their own stack
//! ("Address 0x... is 8 bytes inside a block of size 32 free'd" → the free
//! stack, "Block was alloc'd at" → the allocation stack). `<fatal_signal>`
//! says which signal killed the process.
//!
//! A process killed in the middle of writing leaves a truncated file, so
//! elements are cut out one by one and parsed separately: everything that
//! was written completely is used.

use crate::report::NativeFrame;

/// One memcheck error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValgrindError {
    /// Valgrind's thread number (1 = main thread).
    pub tid: Option<u32>,
    /// "InvalidRead", "InvalidWrite", "InvalidFree", "Leak_DefinitelyLost"...
    pub kind: String,
    /// "Invalid read of size 8".
    pub what: String,
    pub stack: Vec<NativeFrame>,
    /// (auxwhat, its stack): "Address 0x4a8 is 8 bytes inside a block of
    /// size 32 free'd" with the stack that freed it, and so on.
    pub aux: Vec<(String, Vec<NativeFrame>)>,
}

impl ValgrindError {
    /// Leak records are not crashes; refsan run leaves them to `refsan leaks`.
    pub fn is_leak(&self) -> bool {
        self.kind.starts_with("Leak_")
    }

    /// The address the error is about, from the first auxwhat.
    pub fn address(&self) -> Option<u64> {
        let aux = &self.aux.first()?.0;
        let token = aux.strip_prefix("Address ")?.split_whitespace().next()?;
        crate::asan::parse_hex(token)
    }
}

/// The signal that ended the process under Valgrind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValgrindFatalSignal {
    pub tid: Option<u32>,
    pub signo: i32,
    pub signame: String,
    pub sicode: Option<i32>,
    pub stack: Vec<NativeFrame>,
}

/// The content of one process's XML file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ValgrindLog {
    pub pid: Option<i32>,
    /// The program's command line (from `<argv>`).
    pub argv: Vec<String>,
    pub errors: Vec<ValgrindError>,
    pub fatal_signal: Option<ValgrindFatalSignal>,
}

/// Parses one `--xml-file` output, complete or truncated.
pub fn parse(xml: &str) -> ValgrindLog {
    let mut log = ValgrindLog {
        pid: element_text_between(xml, "pid").and_then(|p| p.trim().parse().ok()),
        ..ValgrindLog::default()
    };
    if let Some(argv) = elements(xml, "argv").next() {
        if let Ok(doc) = roxmltree::Document::parse(argv) {
            for child in doc
                .root_element()
                .children()
                .filter(roxmltree::Node::is_element)
            {
                if let Some(t) = child.text() {
                    log.argv.push(t.to_string());
                }
            }
        }
    }
    for chunk in elements(xml, "error") {
        if let Ok(doc) = roxmltree::Document::parse(chunk) {
            log.errors.push(error_from(doc.root_element()));
        }
    }
    if let Some(chunk) = elements(xml, "fatal_signal").next() {
        if let Ok(doc) = roxmltree::Document::parse(chunk) {
            let node = doc.root_element();
            log.fatal_signal = Some(ValgrindFatalSignal {
                tid: child_text(node, "tid").and_then(|t| t.parse().ok()),
                signo: child_text(node, "signo")
                    .and_then(|t| t.parse().ok())
                    .unwrap_or(0),
                signame: child_text(node, "signame").unwrap_or_default(),
                sicode: child_text(node, "sicode").and_then(|t| t.parse().ok()),
                stack: node
                    .children()
                    .find(|c| c.has_tag_name("stack"))
                    .map(stack_from)
                    .unwrap_or_default(),
            });
        }
    }
    log
}

fn error_from(node: roxmltree::Node) -> ValgrindError {
    let mut error = ValgrindError {
        tid: child_text(node, "tid").and_then(|t| t.parse().ok()),
        kind: child_text(node, "kind").unwrap_or_default(),
        what: child_text(node, "what")
            .or_else(|| {
                node.children()
                    .find(|c| c.has_tag_name("xwhat"))
                    .and_then(|x| child_text(x, "text"))
            })
            .unwrap_or_default(),
        stack: Vec::new(),
        aux: Vec::new(),
    };
    let mut pending_aux: Option<String> = None;
    for child in node.children().filter(roxmltree::Node::is_element) {
        match child.tag_name().name() {
            "stack" => {
                let frames = stack_from(child);
                match pending_aux.take() {
                    Some(label) => error.aux.push((label, frames)),
                    None if error.stack.is_empty() => error.stack = frames,
                    None => error.aux.push((String::new(), frames)),
                }
            }
            "auxwhat" => {
                if let Some(label) = pending_aux.take() {
                    // An auxwhat without its own stack (pure information).
                    error.aux.push((label, Vec::new()));
                }
                pending_aux = child.text().map(str::to_string);
            }
            _ => {}
        }
    }
    if let Some(label) = pending_aux {
        error.aux.push((label, Vec::new()));
    }
    error
}

fn stack_from(node: roxmltree::Node) -> Vec<NativeFrame> {
    node.children()
        .filter(|c| c.has_tag_name("frame"))
        .map(|f| {
            let dir = child_text(f, "dir");
            let file = child_text(f, "file").map(|file| match &dir {
                Some(d) if !file.starts_with('/') => format!("{d}/{file}"),
                _ => file,
            });
            NativeFrame {
                pc: child_text(f, "ip").and_then(|ip| crate::asan::parse_hex(&ip.to_lowercase())),
                function: child_text(f, "fn"),
                file,
                line: child_text(f, "line").and_then(|l| l.parse().ok()),
                library: child_text(f, "obj"),
                inlined: false,
                cython: None,
            }
        })
        .collect()
}

fn child_text(node: roxmltree::Node, tag: &str) -> Option<String> {
    node.children()
        .find(|c| c.has_tag_name(tag))
        .and_then(|c| c.text())
        .map(|t| t.trim().to_string())
}

/// Complete `<tag>...</tag>` substrings, in order; a truncated last element
/// is skipped.
fn elements<'a>(xml: &'a str, tag: &str) -> impl Iterator<Item = &'a str> + 'a {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let mut rest = xml;
    std::iter::from_fn(move || {
        let start = rest.find(&open)?;
        let after = &rest[start..];
        let end = after.find(&close)? + close.len();
        let chunk = &after[..end];
        rest = &after[end..];
        Some(chunk)
    })
}

fn element_text_between<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let chunk = elements(xml, tag).next()?;
    let inner = chunk.strip_prefix(&format!("<{tag}>"))?;
    inner.strip_suffix(&format!("</{tag}>"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_read_in_freed_block_with_free_stack() {
        let log = parse(include_str!("../tests/data/valgrind_double_decref.xml"));
        let real: Vec<_> = log.errors.iter().filter(|e| !e.is_leak()).collect();
        assert!(log.errors.iter().any(ValgrindError::is_leak));
        let first = real[0];
        assert_eq!(first.kind, "InvalidRead");
        assert_eq!(first.what, "Invalid read of size 8");
        assert!(first.aux[0].0.contains("free'd"));
        assert!(first.address().is_some());
        let free_stack = &first.aux[0].1;
        assert!(free_stack
            .iter()
            .any(|f| f.function.as_deref() == Some("free")));
        assert!(free_stack
            .iter()
            .any(|f| f.function.as_deref() == Some("double_decref")));
        assert_eq!(first.aux[1].0, "Block was alloc'd at");
        let use_frame = first
            .stack
            .iter()
            .find(|f| f.function.as_deref() == Some("double_decref"))
            .unwrap();
        assert_eq!(
            use_frame.file.as_deref(),
            Some("/home/dev/refbugs/refbugs.c")
        );
        assert!(use_frame.line.is_some());
    }

    #[test]
    fn null_read_and_fatal_signal() {
        let log = parse(include_str!("../tests/data/valgrind_unchecked_null.xml"));
        assert!(log.argv[0].ends_with("python3.11"));
        assert_eq!(log.argv[1], "-c");
        let e = &log.errors[0];
        assert_eq!(e.kind, "InvalidRead");
        assert_eq!(e.address(), Some(0));
        assert_eq!(e.stack[0].function.as_deref(), Some("Py_DECREF"));
        assert_eq!(e.stack[1].function.as_deref(), Some("unchecked_null"));
        assert_eq!(e.stack[1].line, Some(50));
        let fatal = log.fatal_signal.unwrap();
        assert_eq!(fatal.signo, 11);
        assert_eq!(fatal.signame, "SIGSEGV");
    }

    #[test]
    fn truncated_file_keeps_complete_errors() {
        let text = include_str!("../tests/data/valgrind_unchecked_null.xml");
        let cut = text.find("<fatal_signal>").unwrap() + 40;
        let log = parse(&text[..cut]);
        assert_eq!(log.errors.len(), 1);
        assert!(log.fatal_signal.is_none());
    }
}
