//! `refsan server`: a Language Server Protocol server over standard input
//! and output. It checks the C, C++ and Cython documents an editor opens,
//! as the editor holds them (unsaved changes included), with the settings
//! `refsan check` would use for that file, and publishes the findings as
//! diagnostics: the path events as related information, the rule's page as
//! the code's description, and a quick fix that adds a suppression comment.
//!
//! The transport (JSON-RPC with `Content-Length` headers) is read by hand:
//! a malformed message is answered with a parse error and the server goes
//! on, where a generic reader would stop.

use crate::driver::{self, FileResult, Overrides};
use anyhow::Result;
use clap::Args;
use refsan_ir::{Finding, Language, Severity};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::{BufRead, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::{Duration, Instant};

#[derive(Args)]
pub struct ServerArgs {
    /// Milliseconds without a change before an edited document is checked
    /// again.
    #[arg(long, default_value_t = 300, value_name = "MS")]
    pub debounce: u64,
}

/// Documents larger than this are not checked as they are typed.
const MAX_DOCUMENT_BYTES: usize = 8 << 20;

/// Messages larger than this are read and dropped.
const MAX_MESSAGE_BYTES: usize = 256 << 20;

/// What the reader thread hands the main loop.
enum Incoming {
    Message(Value),
    /// A message that is not JSON-RPC: why.
    Malformed(String),
}

pub fn run(args: ServerArgs) -> Result<ExitCode> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || read_messages(std::io::stdin().lock(), &tx));
    let mut server = Server {
        out: std::io::stdout(),
        documents: HashMap::new(),
        pending: HashMap::new(),
        debounce: Duration::from_millis(args.debounce),
        shutdown: false,
        facts: refsan_capi::KnowledgeBase::builtin(),
    };
    loop {
        let wait = server
            .pending
            .values()
            .min()
            .map_or(Duration::from_secs(3600), |d| {
                d.saturating_duration_since(Instant::now())
            });
        match rx.recv_timeout(wait) {
            Ok(Incoming::Message(msg)) => {
                if let Some(code) = server.handle(&msg) {
                    return Ok(code);
                }
            }
            Ok(Incoming::Malformed(why)) => server.send(&json!({
                "jsonrpc": "2.0",
                "id": null,
                "error": {"code": -32700, "message": format!("refsan: {why}")},
            })),
            Err(mpsc::RecvTimeoutError::Timeout) => server.check_due(),
            // The client went away without `exit`.
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Ok(ExitCode::from(if server.shutdown { 0 } else { 1 }))
            }
        }
    }
}

/// Reads framed messages until the input ends.
fn read_messages(mut input: impl BufRead, tx: &mpsc::Sender<Incoming>) {
    loop {
        let mut length: Option<usize> = None;
        let mut bad_header = None;
        let mut any = false;
        loop {
            let mut line = String::new();
            match input.read_line(&mut line) {
                Ok(0) => return,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                    // Not UTF-8: the header is unreadable; resynchronise on
                    // the next blank line.
                    bad_header = Some("a header line is not text".to_string());
                    any = true;
                    continue;
                }
                Err(_) => return,
            }
            let line = line.trim_end_matches(['\r', '\n']);
            if line.is_empty() {
                if any {
                    break;
                }
                continue;
            }
            any = true;
            if let Some((name, value)) = line.split_once(':') {
                if name.trim().eq_ignore_ascii_case("content-length") {
                    match value.trim().parse::<usize>() {
                        Ok(n) => length = Some(n),
                        Err(_) => {
                            bad_header = Some(format!("bad Content-Length `{}`", value.trim()));
                        }
                    }
                }
            } else {
                bad_header = Some(format!("bad header line `{line}`"));
            }
        }
        let Some(n) = length else {
            let why = bad_header.unwrap_or_else(|| "a message without Content-Length".to_string());
            if tx.send(Incoming::Malformed(why)).is_err() {
                return;
            }
            continue;
        };
        if n > MAX_MESSAGE_BYTES {
            // Read and dropped, so that the next message is found.
            let mut sink = (&mut input).take(n as u64);
            if std::io::copy(&mut sink, &mut std::io::sink()).is_err() {
                return;
            }
            let why = format!("a message of {n} bytes (more than {MAX_MESSAGE_BYTES}) was dropped");
            if tx.send(Incoming::Malformed(why)).is_err() {
                return;
            }
            continue;
        }
        let mut body = vec![0u8; n];
        if input.read_exact(&mut body).is_err() {
            return;
        }
        let incoming = match serde_json::from_slice::<Value>(&body) {
            Ok(v) if v.is_object() => Incoming::Message(v),
            Ok(_) => Incoming::Malformed("a message that is not a JSON object".to_string()),
            Err(e) => Incoming::Malformed(format!("a message that is not JSON: {e}")),
        };
        if tx.send(incoming).is_err() {
            return;
        }
    }
}

/// An open document.
struct Document {
    /// The file it is checked as (its settings, project and language).
    path: PathBuf,
    text: String,
    version: Option<i64>,
    /// The findings last published, for quick fixes.
    findings: Vec<Finding>,
}

struct Server {
    out: std::io::Stdout,
    documents: HashMap<String, Document>,
    /// Documents to check again, and when.
    pending: HashMap<String, Instant>,
    debounce: Duration,
    shutdown: bool,
    facts: &'static refsan_capi::KnowledgeBase,
}

impl Server {
    fn send(&mut self, msg: &Value) {
        let body = msg.to_string();
        let mut out = self.out.lock();
        let _ = write!(out, "Content-Length: {}\r\n\r\n{body}", body.len());
        let _ = out.flush();
    }

    fn respond(&mut self, id: &Value, result: Value) {
        self.send(&json!({"jsonrpc": "2.0", "id": id, "result": result}));
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(&json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    fn log(&mut self, kind: u8, message: String) {
        self.notify(
            "window/logMessage",
            json!({"type": kind, "message": format!("refsan: {message}")}),
        );
    }

    /// Handles one message; `Some` when the server must exit.
    fn handle(&mut self, msg: &Value) -> Option<ExitCode> {
        let method = msg.get("method").and_then(Value::as_str);
        let id = msg.get("id");
        let params = msg.get("params").cloned().unwrap_or(Value::Null);
        match (method, id) {
            (Some(m), Some(id)) => {
                let id = id.clone();
                self.request(m, &id, &params);
                None
            }
            (Some("exit"), None) => Some(ExitCode::from(if self.shutdown { 0 } else { 1 })),
            (Some(m), None) => {
                self.notification(m, &params);
                None
            }
            // A response to a request the server never sends.
            (None, _) => None,
        }
    }

    fn request(&mut self, method: &str, id: &Value, params: &Value) {
        match method {
            "initialize" => self.respond(
                id,
                json!({
                    "capabilities": {
                        "textDocumentSync": {
                            "openClose": true,
                            "change": 1,
                            "save": {"includeText": true},
                        },
                        "codeActionProvider": {"codeActionKinds": ["quickfix"]},
                    },
                    "serverInfo": {"name": "refsan", "version": env!("CARGO_PKG_VERSION")},
                }),
            ),
            "shutdown" => {
                self.shutdown = true;
                self.respond(id, Value::Null);
            }
            "textDocument/codeAction" => {
                let actions = self.code_actions(params);
                self.respond(id, Value::Array(actions));
            }
            _ => self.send(&json!({
                "jsonrpc": "2.0",
                "id": id,
                "error": {"code": -32601, "message": format!("refsan: no method `{method}`")},
            })),
        }
    }

    fn notification(&mut self, method: &str, params: &Value) {
        let uri = params
            .pointer("/textDocument/uri")
            .and_then(Value::as_str)
            .map(str::to_string);
        let version = params
            .pointer("/textDocument/version")
            .and_then(Value::as_i64);
        match (method, uri) {
            ("textDocument/didOpen", Some(uri)) => {
                let text = params
                    .pointer("/textDocument/text")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                let language = params
                    .pointer("/textDocument/languageId")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let path = document_path(&uri, language);
                self.documents.insert(
                    uri.clone(),
                    Document {
                        path,
                        text,
                        version,
                        findings: Vec::new(),
                    },
                );
                self.check(&uri);
            }
            ("textDocument/didChange", Some(uri)) => {
                let changes = params
                    .get("contentChanges")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                if let Some(doc) = self.documents.get_mut(&uri) {
                    for change in &changes {
                        if let Some(text) = change.get("text").and_then(Value::as_str) {
                            match change.get("range") {
                                Some(range) => apply_edit(&mut doc.text, range, text),
                                None => doc.text = text.to_string(),
                            }
                        }
                    }
                    doc.version = version.or(doc.version);
                    self.pending.insert(uri, Instant::now() + self.debounce);
                }
            }
            ("textDocument/didSave", Some(uri)) => {
                if let Some(doc) = self.documents.get_mut(&uri) {
                    if let Some(text) = params.get("text").and_then(Value::as_str) {
                        doc.text = text.to_string();
                    }
                    self.check(&uri);
                }
            }
            ("textDocument/didClose", Some(uri)) => {
                self.documents.remove(&uri);
                self.pending.remove(&uri);
                self.notify(
                    "textDocument/publishDiagnostics",
                    json!({"uri": uri, "diagnostics": []}),
                );
            }
            _ => {}
        }
    }

    /// Checks the documents whose debounce time has come.
    fn check_due(&mut self) {
        let now = Instant::now();
        let due: Vec<String> = self
            .pending
            .iter()
            .filter(|(_, t)| **t <= now)
            .map(|(u, _)| u.clone())
            .collect();
        for uri in due {
            self.check(&uri);
        }
    }

    /// Checks a document and publishes its diagnostics.
    fn check(&mut self, uri: &str) {
        self.pending.remove(uri);
        let Some(doc) = self.documents.get(uri) else {
            return;
        };
        if driver::language_for(&doc.path).is_none() {
            return;
        }
        if doc.text.len() > MAX_DOCUMENT_BYTES {
            let message = format!(
                "{} is larger than {} MiB: not checked as it is edited (run `refsan check` on it)",
                doc.path.display(),
                MAX_DOCUMENT_BYTES >> 20
            );
            let version = doc.version;
            self.log(2, message);
            self.publish(uri, version, Vec::new());
            return;
        }
        let (path, text, version) = (doc.path.clone(), doc.text.clone(), doc.version);
        let facts = self.facts;
        let checked = std::panic::catch_unwind(|| {
            driver::check_stdin(text.as_bytes(), Some(&path), &Overrides::default(), facts)
        });
        let result: FileResult = match checked {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => {
                self.log(1, format!("{}: {e:#}", path.display()));
                return;
            }
            Err(_) => {
                self.log(
                    1,
                    format!("{}: internal error while checking", path.display()),
                );
                return;
            }
        };
        let lines = Lines::new(&text);
        let diagnostics: Vec<Value> = result
            .findings
            .iter()
            .map(|f| diagnostic(f, uri, &lines))
            .collect();
        if let Some(doc) = self.documents.get_mut(uri) {
            doc.findings = result.findings;
        }
        self.publish(uri, version, diagnostics);
    }

    fn publish(&mut self, uri: &str, version: Option<i64>, diagnostics: Vec<Value>) {
        let mut params = json!({"uri": uri, "diagnostics": diagnostics});
        if let Some(v) = version {
            params["version"] = json!(v);
        }
        self.notify("textDocument/publishDiagnostics", params);
    }

    /// A quick fix per refsan diagnostic in the request: the suppression
    /// comment `refsan check --add-ignore` would write.
    fn code_actions(&self, params: &Value) -> Vec<Value> {
        let Some(uri) = params.pointer("/textDocument/uri").and_then(Value::as_str) else {
            return Vec::new();
        };
        let Some(doc) = self.documents.get(uri) else {
            return Vec::new();
        };
        let language = driver::language_for(&doc.path).unwrap_or(Language::C);
        let wanted = params
            .pointer("/context/diagnostics")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut out = Vec::new();
        for d in &wanted {
            let (Some(code), Some(line)) = (
                d.get("code").and_then(Value::as_str),
                d.pointer("/range/start/line").and_then(Value::as_u64),
            ) else {
                continue;
            };
            let Some(finding) = doc
                .findings
                .iter()
                .find(|f| f.code == code && u64::from(f.span.line) == line + 1)
            else {
                continue;
            };
            let (new_text, n) =
                crate::add_ignore::rewrite(&doc.text, language, std::slice::from_ref(finding));
            if n == 0 {
                continue;
            }
            out.push(json!({
                "title": format!("Ignore {code} here (refsan: ignore[{code}])"),
                "kind": "quickfix",
                "diagnostics": [d],
                "edit": {"changes": {uri: [line_edit(&doc.text, &new_text)]}},
            }));
        }
        out
    }
}

/// The file a document is checked as: its path for a `file:` URI, else a
/// name of its language.
fn document_path(uri: &str, language: &str) -> PathBuf {
    if let Some(path) = uri.strip_prefix("file://") {
        return PathBuf::from(percent_decode(path));
    }
    PathBuf::from(match language {
        "cpp" | "c++" => "untitled.cpp",
        "cython" | "pyrex" => "untitled.pyx",
        _ => "untitled.c",
    })
}

fn percent_decode(s: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16);
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Line starts of a text, for LSP positions (UTF-16 columns).
struct Lines<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Lines<'a> {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Lines { text, starts }
    }

    /// The LSP position of a byte offset.
    fn position(&self, offset: usize) -> Value {
        let offset = offset.min(self.text.len());
        let line = self.starts.partition_point(|s| *s <= offset) - 1;
        let start = self.starts[line];
        let mut end = offset;
        while !self.text.is_char_boundary(end) {
            end -= 1;
        }
        let character: usize = self.text[start..end].chars().map(char::len_utf16).sum();
        json!({"line": line, "character": character})
    }

    /// The byte offset of an LSP position.
    fn offset(&self, line: usize, character: usize) -> usize {
        let Some(&start) = self.starts.get(line) else {
            return self.text.len();
        };
        let end = self
            .starts
            .get(line + 1)
            .copied()
            .unwrap_or(self.text.len());
        let mut units = 0;
        for (i, c) in self.text[start..end].char_indices() {
            if units >= character {
                return start + i;
            }
            units += c.len_utf16();
        }
        end
    }

    fn range(&self, start: usize, end: usize) -> Value {
        json!({"start": self.position(start), "end": self.position(end.max(start))})
    }
}

/// An incremental change (clients may send them even when told the server
/// wants whole documents).
fn apply_edit(text: &mut String, range: &Value, new: &str) {
    let at = |key: &str| {
        let p = range.get(key)?;
        Some((
            p.get("line")?.as_u64()? as usize,
            p.get("character")?.as_u64()? as usize,
        ))
    };
    let (Some(s), Some(e)) = (at("start"), at("end")) else {
        return;
    };
    let lines = Lines::new(text);
    let (a, b) = (lines.offset(s.0, s.1), lines.offset(e.0, e.1));
    if a <= b {
        text.replace_range(a..b, new);
    }
}

fn diagnostic(f: &Finding, uri: &str, lines: &Lines<'_>) -> Value {
    let range = |s: refsan_ir::Span| lines.range(s.start as usize, s.end as usize);
    let related: Vec<Value> = f
        .events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            json!({
                "location": {"uri": uri, "range": range(e.span)},
                "message": format!("{}. {}", i + 1, e.message),
            })
        })
        .chain(f.related.iter().map(|e| {
            json!({
                "location": {"uri": uri, "range": range(e.span)},
                "message": e.message,
            })
        }))
        .collect();
    let mut message = f.message.clone();
    if let Some(help) = &f.help {
        message.push_str("\nhelp: ");
        message.push_str(help);
    }
    json!({
        "range": range(f.span),
        "severity": match f.severity {
            Severity::Error => 1,
            Severity::Warning => 2,
            Severity::Info => 3,
        },
        "code": f.code,
        "codeDescription": {"href": format!("{}#{}", env!("CARGO_PKG_HOMEPAGE"), f.code.to_ascii_lowercase())},
        "source": "refsan",
        "message": message,
        "relatedInformation": related,
    })
}

/// One edit turning `old` into `new` (they differ in a run of lines).
fn line_edit(old: &str, new: &str) -> Value {
    let a: Vec<&str> = old.split_inclusive('\n').collect();
    let b: Vec<&str> = new.split_inclusive('\n').collect();
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let suffix = a[prefix..]
        .iter()
        .rev()
        .zip(b[prefix..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let removed_end = a.len() - suffix;
    let inserted: String = b[prefix..b.len() - suffix].concat();
    json!({
        "range": {
            "start": {"line": prefix, "character": 0},
            "end": {"line": removed_end, "character": 0},
        },
        "newText": inserted,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_utf16_units() {
        let text = "ab\né𝄞x\n";
        let lines = Lines::new(text);
        assert_eq!(lines.position(0), json!({"line": 0, "character": 0}));
        // é is 2 bytes / 1 unit, 𝄞 4 bytes / 2 units.
        let x = text.find('x').unwrap();
        assert_eq!(lines.position(x), json!({"line": 1, "character": 3}));
        assert_eq!(lines.offset(1, 3), x);
        assert_eq!(lines.offset(9, 0), text.len());
    }

    #[test]
    fn incremental_edits_and_line_edits() {
        let mut text = "int a;\nint b;\n".to_string();
        let range =
            json!({"start": {"line": 1, "character": 4}, "end": {"line": 1, "character": 5}});
        apply_edit(&mut text, &range, "bc");
        assert_eq!(text, "int a;\nint bc;\n");
        let edit = line_edit("a\nb\nc\n", "a\n/* x */\nb\nc\n");
        assert_eq!(edit["range"]["start"]["line"], 1);
        assert_eq!(edit["range"]["end"]["line"], 1);
        assert_eq!(edit["newText"], "/* x */\n");
    }

    #[test]
    fn uris_become_paths() {
        assert_eq!(
            document_path("file:///tmp/a%20b/m.c", "c"),
            PathBuf::from("/tmp/a b/m.c")
        );
        assert_eq!(
            document_path("untitled:1", "cython"),
            PathBuf::from("untitled.pyx")
        );
    }

    #[test]
    fn malformed_input_is_reported_and_reading_goes_on() {
        let input =
            b"Content-Length: 5\r\n\r\n{bad}Content-Length: x\r\n\r\nContent-Length: 2\r\n\r\n{}"
                .to_vec();
        let (tx, rx) = mpsc::channel();
        read_messages(std::io::Cursor::new(input), &tx);
        drop(tx);
        let got: Vec<Incoming> = rx.iter().collect();
        assert_eq!(got.len(), 3);
        assert!(matches!(got[0], Incoming::Malformed(_)));
        assert!(matches!(got[1], Incoming::Malformed(_)));
        assert!(matches!(got[2], Incoming::Message(_)));
    }
}
