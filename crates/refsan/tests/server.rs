//! `refsan server` driven by a real LSP client over pipes: the handshake,
//! diagnostics on open and after an edit (the unsaved text, not the file),
//! the quick fix, and what must not stop the server (a malformed message,
//! a file that does not parse, a 30 MB document).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failing test

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const LEAKY: &str = "#include <Python.h>\n\nstatic PyObject *\nleaky(PyObject *self, PyObject *arg)\n{\n    PyObject *l = PyList_New(0);\n    if (l == NULL)\n        return NULL;\n    Py_RETURN_NONE;\n}\n";
const FIXED: &str = "#include <Python.h>\n\nstatic PyObject *\nleaky(PyObject *self, PyObject *arg)\n{\n    PyObject *l = PyList_New(0);\n    if (l == NULL)\n        return NULL;\n    Py_DECREF(l);\n    Py_RETURN_NONE;\n}\n";

struct Client {
    child: Child,
    stdin: ChildStdin,
    rx: mpsc::Receiver<Value>,
    next_id: i64,
}

impl Client {
    fn start(dir: &std::path::Path) -> Client {
        let mut child = Command::new(env!("CARGO_BIN_EXE_refsan"))
            .args(["server", "--debounce", "50"])
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut r = BufReader::new(stdout);
            loop {
                let mut len = 0usize;
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let line = line.trim_end();
                    if line.is_empty() {
                        break;
                    }
                    if let Some(v) = line.strip_prefix("Content-Length: ") {
                        len = v.parse().unwrap();
                    }
                }
                let mut body = vec![0; len];
                if r.read_exact(&mut body).is_err() {
                    return;
                }
                if tx.send(serde_json::from_slice(&body).unwrap()).is_err() {
                    return;
                }
            }
        });
        Client {
            child,
            stdin,
            rx,
            next_id: 0,
        }
    }

    fn raw(&mut self, body: &[u8]) {
        write!(self.stdin, "Content-Length: {}\r\n\r\n", body.len()).unwrap();
        self.stdin.write_all(body).unwrap();
        self.stdin.flush().unwrap();
    }

    fn notify(&mut self, method: &str, params: Value) {
        let msg = json!({"jsonrpc": "2.0", "method": method, "params": params});
        self.raw(msg.to_string().as_bytes());
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let msg = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        self.raw(msg.to_string().as_bytes());
        self.wait(|m| m["id"] == json!(id))
    }

    /// The first message from the server that `want` accepts (others are
    /// dropped).
    fn wait(&mut self, want: impl Fn(&Value) -> bool) -> Value {
        loop {
            let m = self
                .rx
                .recv_timeout(Duration::from_secs(60))
                .expect("the server answers");
            if want(&m) {
                return m;
            }
        }
    }

    fn diagnostics(&mut self, uri: &str) -> Vec<Value> {
        let m = self.wait(|m| {
            m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == uri
        });
        m["params"]["diagnostics"].as_array().unwrap().clone()
    }
}

#[test]
fn an_editor_session() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pyproject.toml"), "[tool.refsan]\n").unwrap();
    let file = dir.path().join("mod.c");
    // On disk the file is correct: what the server checks is the buffer.
    std::fs::write(&file, FIXED).unwrap();
    let uri = format!("file://{}", file.display());
    let mut c = Client::start(dir.path());

    let init = c.request(
        "initialize",
        json!({"processId": null, "rootUri": null, "capabilities": {}}),
    );
    assert_eq!(init["result"]["serverInfo"]["name"], "refsan");
    assert_eq!(
        init["result"]["capabilities"]["textDocumentSync"]["change"],
        1
    );
    c.notify("initialized", json!({}));

    c.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "c", "version": 1, "text": LEAKY}}),
    );
    let diags = c.diagnostics(&uri);
    assert_eq!(diags.len(), 1, "{diags:?}");
    let d = &diags[0];
    assert_eq!(d["code"], "RS101");
    assert_eq!(d["severity"], 1);
    assert_eq!(d["source"], "refsan");
    assert_eq!(d["range"]["start"]["line"], 8);
    assert!(d["codeDescription"]["href"]
        .as_str()
        .unwrap()
        .contains("rs101"));
    let related = d["relatedInformation"].as_array().unwrap();
    assert!(related.len() >= 2, "{related:?}");
    assert_eq!(related[0]["location"]["range"]["start"]["line"], 5);
    assert!(related[0]["message"].as_str().unwrap().starts_with("1. "));

    // The quick fix adds the suppression comment to the line.
    let actions = c.request(
        "textDocument/codeAction",
        json!({
            "textDocument": {"uri": uri},
            "range": d["range"],
            "context": {"diagnostics": [d]},
        }),
    );
    let action = &actions["result"][0];
    assert_eq!(action["kind"], "quickfix");
    let edit = &action["edit"]["changes"][&uri][0];
    assert_eq!(edit["range"]["start"]["line"], 8);
    assert_eq!(edit["range"]["end"]["line"], 9);
    assert_eq!(
        edit["newText"],
        "    Py_RETURN_NONE;  /* refsan: ignore[RS101] */\n"
    );

    // Malformed messages are answered, and the session goes on.
    c.raw(b"{this is not json");
    let err = c.wait(|m| m.get("error").is_some());
    assert_eq!(err["error"]["code"], -32700);
    let unknown = c.request("refsan/nothing", json!({}));
    assert_eq!(unknown["error"]["code"], -32601);

    // An edit: checked after the pause, the leak is gone.
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"text": FIXED}]}),
    );
    let after = c.diagnostics(&uri);
    assert!(after.is_empty(), "{after:?}");

    // A document that does not parse, and a 30 MB one.
    let junk_uri = format!("file://{}", dir.path().join("junk.c").display());
    c.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": junk_uri, "languageId": "c", "version": 1,
            "text": "PyObject *f( { ]] \u{0} #if\n}}}} Py_DECREF(;"}}),
    );
    c.diagnostics(&junk_uri);
    let big_uri = format!("file://{}", dir.path().join("big.c").display());
    let big = "/* PyObject */ int x;\n".repeat(30 * 1024 * 1024 / 22);
    c.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": big_uri, "languageId": "c", "version": 1, "text": big}}),
    );
    assert!(c.diagnostics(&big_uri).is_empty());

    // Still answering, then a clean exit.
    let shutdown = c.request("shutdown", Value::Null);
    assert!(shutdown["result"].is_null());
    c.notify("exit", Value::Null);
    let status = c.child.wait().unwrap();
    assert!(status.success());
}
