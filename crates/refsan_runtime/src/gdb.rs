//! Collects native stacks with gdb in batch mode, attached to a process that
//! [`crate::supervise`] holds still at its crash.
//!
//! gdb runs `helpers/refsan_gdb.py` (embedded in the binary, written to the
//! run's temporary directory), which walks every thread with gdb's Python
//! API and prints JSON lines; the rest of gdb's output is ignored. CPython's
//! gdb helpers (`libpython.py`, shipped as `python3.X-gdb.py` next to the
//! interpreter by pyenv and CPython's `make install`, or under
//! `/usr/share/gdb/auto-load` by Debian's `python3.X-dbg`) are loaded when
//! found, adding each thread's Python stack (`py-bt`).

use crate::report::NativeFrame;
use serde::Deserialize;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The gdb script, embedded.
pub const GDB_SCRIPT: &str = include_str!("../helpers/refsan_gdb.py");

/// Where Debian (and most distributions) keep auto-loaded gdb scripts.
pub const SYSTEM_AUTO_LOAD_DIR: &str = "/usr/share/gdb/auto-load";

/// What gdb found in the frozen process.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GdbCapture {
    /// CPython's gdb helpers were loaded (py-bt worked).
    pub python_helpers: bool,
    pub threads: Vec<GdbThread>,
    /// The helper script refsan pointed gdb at, when one was found.
    pub helper_script: Option<PathBuf>,
    /// Registers of the crashing thread AddressSanitizer was asked about
    /// (`__asan_describe_address`; its answers are in ASan's log).
    pub described: Vec<(String, u64)>,
    /// Registers of the crashing thread that point to memory the debug
    /// allocator filled as freed.
    pub freed_pointers: Vec<(String, u64)>,
}

impl GdbCapture {
    pub fn thread(&self, lwp: i32) -> Option<&GdbThread> {
        self.threads.iter().find(|t| t.lwp == lwp)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GdbThread {
    /// gdb's thread number.
    pub num: u32,
    /// Kernel thread id.
    pub lwp: i32,
    pub name: Option<String>,
    /// Innermost first.
    pub frames: Vec<NativeFrame>,
    /// `py-bt` output, when the helpers are loaded.
    pub python_stack: Option<String>,
}

#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
enum Record {
    Helpers {
        python_helpers: bool,
    },
    Described {
        register: String,
        value: u64,
    },
    #[serde(rename = "freed_pointer")]
    FreedPointer {
        register: String,
        value: u64,
    },
    Thread {
        num: u32,
        lwp: i32,
        name: Option<String>,
        frames: Vec<FrameRecord>,
        python_stack: Option<String>,
    },
}

#[derive(Deserialize)]
struct FrameRecord {
    pc: Option<u64>,
    function: Option<String>,
    file: Option<String>,
    line: Option<u32>,
    library: Option<String>,
    inlined: bool,
}

/// Parses the script's output lines ("refsan-gdb: {...}").
pub fn parse_output(stdout: &str) -> GdbCapture {
    let mut capture = GdbCapture::default();
    for line in stdout.lines() {
        let Some(json) = line.strip_prefix("refsan-gdb: ") else {
            continue;
        };
        match serde_json::from_str::<Record>(json) {
            Ok(Record::Helpers { python_helpers }) => capture.python_helpers = python_helpers,
            Ok(Record::Described { register, value }) => {
                capture.described.push((register, value));
            }
            Ok(Record::FreedPointer { register, value }) => {
                capture.freed_pointers.push((register, value));
            }
            Ok(Record::Thread {
                num,
                lwp,
                name,
                frames,
                python_stack,
            }) => capture.threads.push(GdbThread {
                num,
                lwp,
                name,
                frames: frames
                    .into_iter()
                    .map(|f| NativeFrame {
                        pc: f.pc,
                        function: f.function,
                        file: f.file,
                        line: f.line,
                        library: f.library,
                        inlined: f.inlined,
                        cython: None,
                    })
                    .collect(),
                python_stack,
            }),
            Err(_) => continue,
        }
    }
    capture
}

/// CPython's gdb helper script for the interpreter a process runs, if
/// installed: `<exe>-gdb.py` or `<libpython>-gdb.py`, next to the file or
/// under the system auto-load directory.
pub fn find_python_helpers(executable: &Path, mapped: &[PathBuf]) -> Option<PathBuf> {
    let mut objfiles = vec![executable.to_path_buf()];
    objfiles.extend(
        mapped
            .iter()
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("libpython"))
            })
            .cloned(),
    );
    for objfile in objfiles {
        let real = std::fs::canonicalize(&objfile).unwrap_or(objfile);
        let mut beside = real.clone().into_os_string();
        beside.push("-gdb.py");
        let beside = PathBuf::from(beside);
        if beside.is_file() {
            return Some(beside);
        }
        let system = PathBuf::from(format!("{}{}-gdb.py", SYSTEM_AUTO_LOAD_DIR, real.display()));
        if system.is_file() {
            return Some(system);
        }
    }
    None
}

/// Runs gdb against `pid` and returns what the script printed.
pub fn capture(
    gdb: &Path,
    pid: i32,
    script: &Path,
    helpers: Option<&Path>,
    timeout: Duration,
    env: &[(&str, String)],
) -> Result<GdbCapture, String> {
    let mut command = Command::new(gdb);
    command.envs(env.iter().map(|(k, v)| (*k, v.as_str())));
    command
        .args(["--nx", "--batch", "--quiet"])
        .args(["-iex", "set debuginfod enabled off"])
        .args(["-iex", "set pagination off"])
        .args(["-iex", "set confirm off"])
        // A function called in the process (ASan's describe) that stops on
        // a signal leaves the process as it was before the call.
        .args(["-iex", "set unwindonsignal on"]);
    if let Some(h) = helpers {
        // Allow gdb to auto-load the helper when it loads the interpreter.
        command
            .arg("-iex")
            .arg(format!("add-auto-load-safe-path {}", h.display()));
    }
    command
        .arg("-p")
        .arg(pid.to_string())
        .arg("-x")
        .arg(script)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: only an async-signal-safe call between fork and exec.
    unsafe {
        use std::os::unix::process::CommandExt;
        command.pre_exec(|| {
            crate::supervise::reset_signal_mask();
            Ok(())
        });
    }
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", gdb.display()))?;
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let out_reader = std::thread::spawn(move || read_all(stdout));
    let err_reader = std::thread::spawn(move || read_all(stderr));
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Err(e) => return Err(format!("waiting for gdb: {e}")),
        }
    };
    let stdout = out_reader.join().unwrap_or_default();
    let stderr = err_reader.join().unwrap_or_default();
    let mut result = parse_output(&stdout);
    result.helper_script = helpers.map(Path::to_path_buf);
    let read_something = !result.threads.is_empty() || !result.described.is_empty();
    if status.is_none() {
        if !read_something {
            return Err(format!(
                "gdb did not finish within {} s; no native stack",
                timeout.as_secs()
            ));
        }
        return Ok(result);
    }
    if !read_something {
        let reason = stderr
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("no output")
            .to_string();
        return Err(format!("gdb could not read the process: {reason}"));
    }
    Ok(result)
}

fn read_all<R: Read>(source: Option<R>) -> String {
    let mut text = String::new();
    if let Some(mut s) = source {
        let mut bytes = Vec::new();
        let _ = s.read_to_end(&mut bytes);
        text = String::from_utf8_lossy(&bytes).into_owned();
    }
    text
}

/// Finds a program on PATH.
pub fn which(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        let p = PathBuf::from(name);
        return is_executable(&p).then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_script_lines_and_ignores_gdb_chatter() {
        let out = r#"[Thread debugging using libthread_db enabled]
refsan-gdb: {"kind": "helpers", "python_helpers": true}
0x00007f in __pthread_kill_implementation ()
refsan-gdb: {"kind": "thread", "num": 1, "lwp": 4242, "name": "python3", "frames": [{"pc": 140737337, "function": "Py_DECREF", "file": "/usr/include/python3.11/object.h", "line": 537, "library": "/src/refbugs.so", "inlined": true}, {"pc": 140737338, "function": "unchecked_null", "file": "/src/refbugs.c", "line": 50, "library": "/src/refbugs.so", "inlined": false}], "python_stack": "Traceback (most recent call first):\n  File \"<string>\", line 1, in <module>\n"}
refsan-gdb: not json
"#;
        let cap = parse_output(out);
        assert!(cap.python_helpers);
        assert_eq!(cap.threads.len(), 1);
        let t = cap.thread(4242).unwrap();
        assert_eq!(t.frames[0].function.as_deref(), Some("Py_DECREF"));
        assert!(t.frames[0].inlined);
        assert_eq!(t.frames[1].line, Some(50));
        assert!(t.python_stack.as_deref().unwrap().contains("<module>"));
    }

    #[test]
    fn which_finds_sh() {
        assert!(which("sh").is_some());
        assert!(which("refsan-no-such-program").is_none());
    }
}
