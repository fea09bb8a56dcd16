//! The crash report's data model: what `refsan run` found, independent of how
//! it is printed. [`crate::render`] turns it into text; `serde_json` turns it
//! into the JSON documented in `docs/run-report.md` (schema `refsan.run/1`).

use refsan_ir::Finding;
use serde::Serialize;
use std::fmt;

/// The JSON schema identifier; bump the number on incompatible changes.
pub const SCHEMA: &str = "refsan.run/1";

/// Everything `refsan run` has to say about one run of the program.
#[derive(Clone, Debug, Serialize)]
pub struct RunReport {
    pub schema: &'static str,
    /// The program and its arguments, as given on the command line.
    pub program: Vec<String>,
    pub mode: Mode,
    pub exit: ProgramExit,
    /// One entry per crash (or sanitizer error, or timeout), in the order seen.
    pub crashes: Vec<CrashReport>,
    /// What refsan could not set up (debug allocator off under `python -I`,
    /// gdb missing...): these explain gaps in the crash reports.
    pub notes: Vec<String>,
}

impl RunReport {
    /// True when something went wrong that deserves a report.
    pub fn has_findings(&self) -> bool {
        !self.crashes.is_empty()
    }
}

/// Which instrumentation the program ran under.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// faulthandler + debug allocator, native stacks from gdb attached at the
    /// moment of the crash.
    Plain,
    /// AddressSanitizer runtime preloaded, `PYTHONMALLOC=malloc`.
    Asan,
    /// Valgrind memcheck, `PYTHONMALLOC=malloc`.
    Valgrind,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Plain => "plain",
            Mode::Asan => "asan",
            Mode::Valgrind => "valgrind",
        }
    }
}

/// How the program ended, and the exit status refsan itself returns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProgramExit {
    /// The status refsan exits with: the program's own code, 128 + signal
    /// number for a signal death (as a shell reports it), 124 for a timeout.
    pub status: i32,
    /// The program's exit code when it exited normally.
    pub code: Option<i32>,
    /// The signal that killed it ("SIGSEGV"), when one did.
    pub signal: Option<String>,
    pub timed_out: bool,
}

/// The RT codes of RULES.md: what kind of memory error the crash was.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Classification {
    /// RT01: the object had already been freed.
    #[serde(rename = "RT01")]
    FreedObjectUse,
    /// RT02: a debug build saw a negative reference count.
    #[serde(rename = "RT02")]
    NegativeRefcount,
    /// RT03: a block was freed twice.
    #[serde(rename = "RT03")]
    DoubleFree,
    /// RT04: a NULL object pointer was dereferenced.
    #[serde(rename = "RT04")]
    NullObject,
    /// RT05: a write past the end (or before the start) of a block.
    #[serde(rename = "RT05")]
    BufferOverflow,
    /// RT06: anything else.
    #[serde(rename = "RT06")]
    OtherCrash,
}

impl Classification {
    /// Every classification, in code order.
    pub const ALL: [Classification; 6] = [
        Classification::FreedObjectUse,
        Classification::NegativeRefcount,
        Classification::DoubleFree,
        Classification::NullObject,
        Classification::BufferOverflow,
        Classification::OtherCrash,
    ];

    /// The documentation `refsan explain RT01` prints.
    pub fn doc(self) -> &'static str {
        match self {
            Classification::FreedObjectUse => RT01_DOC,
            Classification::NegativeRefcount => RT02_DOC,
            Classification::DoubleFree => RT03_DOC,
            Classification::NullObject => RT04_DOC,
            Classification::BufferOverflow => RT05_DOC,
            Classification::OtherCrash => RT06_DOC,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Classification::FreedObjectUse => "RT01",
            Classification::NegativeRefcount => "RT02",
            Classification::DoubleFree => "RT03",
            Classification::NullObject => "RT04",
            Classification::BufferOverflow => "RT05",
            Classification::OtherCrash => "RT06",
        }
    }

    /// The static rules whose findings can cause this class of crash: the
    /// ones a crash report shows from the loaded extensions' sources.
    pub fn explained_by(self) -> &'static [&'static str] {
        match self {
            // Releases of references not owned, stores and returns of
            // borrowed ones, stolen ones used again, dealloc releases.
            Classification::FreedObjectUse => &[
                "RS102", "RS103", "RS104", "RS105", "RS106", "RS108", "RS110", "RS403", "RS406",
            ],
            Classification::NegativeRefcount | Classification::DoubleFree => {
                &["RS102", "RS103", "RS105", "RS106", "RS403"]
            }
            Classification::NullObject => &["RS107", "RS404"],
            Classification::BufferOverflow => &["RS201", "RS202"],
            Classification::OtherCrash => &[],
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Classification::FreedObjectUse => "freed-object-use",
            Classification::NegativeRefcount => "negative-refcount",
            Classification::DoubleFree => "double-free",
            Classification::NullObject => "null-object",
            Classification::BufferOverflow => "buffer-overflow",
            Classification::OtherCrash => "other-crash",
        }
    }

    /// What the classification means for the extension's author.
    pub fn summary(self) -> &'static str {
        match self {
            Classification::FreedObjectUse => {
                "an object was used after its last reference was released (one Py_DECREF too many, or a missing Py_INCREF)"
            }
            Classification::NegativeRefcount => {
                "an object's reference count went below zero: it was released more often than it was acquired"
            }
            Classification::DoubleFree => {
                "a block of memory was freed twice: an object was released again after it was deallocated"
            }
            Classification::NullObject => {
                "a NULL object pointer was used: a call that can fail returned NULL and it was not checked"
            }
            Classification::BufferOverflow => {
                "memory outside an allocated block was written or read"
            }
            Classification::OtherCrash => "the program crashed; no reference-counting pattern was recognised",
        }
    }
}

impl fmt::Display for Classification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code(), self.name())
    }
}

/// One fact that supports the classification, and where it came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Evidence {
    pub source: EvidenceSource,
    pub text: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EvidenceSource {
    /// The kernel's signal information (faulting address, fault kind).
    Signal,
    /// The crashing thread's registers.
    Registers,
    /// CPython's debug allocator (`PYTHONMALLOC=debug`) messages.
    DebugAllocator,
    /// A "Fatal Python error" message.
    FatalError,
    AddressSanitizer,
    Valgrind,
    /// glibc's own heap checks ("double free detected").
    Libc,
}

/// What made refsan write a report.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Trigger {
    /// A fatal signal.
    Signal {
        /// "SIGSEGV".
        signal: String,
        number: i32,
        /// The kernel's reason ("address not mapped", "non-canonical address
        /// (general protection fault)"), when known.
        reason: Option<String>,
        /// The faulting address the kernel reported, for faults.
        address: Option<u64>,
    },
    /// CPython's `Py_FatalError` (which then aborts).
    FatalError { message: String },
    /// A sanitizer's error report (the program may or may not have died).
    Sanitizer {
        tool: String,
        /// "heap-use-after-free", "InvalidRead"...
        kind: String,
        message: String,
    },
    /// The program ran past `--timeout` and was stopped.
    Timeout { seconds: f64 },
}

/// The process and thread the crash happened in.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ProcessInfo {
    pub pid: i32,
    /// Kernel thread id of the crashing thread, when known.
    pub thread_id: Option<i32>,
    /// The thread's name (`/proc/.../comm`), when known.
    pub thread_name: Option<String>,
    /// False for a thread other than the process's main thread.
    pub main_thread: bool,
    /// False for a child process of the program (e.g. started by subprocess).
    pub main_process: bool,
    pub command_line: Vec<String>,
}

/// A Python traceback, most recent call first (faulthandler's order).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PyTraceback {
    /// faulthandler's thread identifier ("0x00007f...").
    pub thread: Option<String>,
    pub current_thread: bool,
    pub frames: Vec<PyFrame>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PyFrame {
    pub file: String,
    pub line: Option<u32>,
    pub function: String,
}

/// Where a native stack came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StackSource {
    /// gdb attached to the process while it was stopped at the crash.
    Gdb,
    AddressSanitizer,
    Valgrind,
}

/// A native (C) call stack, innermost frame first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NativeStack {
    /// What this stack is: "crashing thread", "freed by", "allocated by",
    /// "thread 2"...
    pub label: String,
    pub source: StackSource,
    pub thread_id: Option<i32>,
    pub frames: Vec<NativeFrame>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct NativeFrame {
    pub pc: Option<u64>,
    pub function: Option<String>,
    pub file: Option<String>,
    pub line: Option<u32>,
    /// The shared object (or executable) the code belongs to.
    pub library: Option<String>,
    /// gdb's inline frame (e.g. Py_DECREF inlined into its caller).
    pub inlined: bool,
    /// The `.pyx` line this C line was generated from, for Cython modules.
    pub cython: Option<PyxLocation>,
}

impl NativeFrame {
    pub fn function_name(&self) -> &str {
        self.function.as_deref().unwrap_or("??")
    }
}

/// A Cython source position recovered from the generated C.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PyxLocation {
    pub file: String,
    pub line: u32,
    /// The enclosing def/cdef/cpdef, qualified by its class ("Wrapper.__dealloc__").
    pub function: Option<String>,
}

/// A place in the extension's own code: where it crashed, or where it freed
/// the object it later used.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CodeSite {
    /// The extension module ("refbugs"), from its shared object's file name.
    pub module: String,
    /// Its shared object.
    pub library: String,
    /// The C function.
    pub function: String,
    pub file: Option<String>,
    pub line: Option<u32>,
    /// The Cython position, for Cython modules.
    pub cython: Option<PyxLocation>,
}

impl CodeSite {
    /// The position to show the user: the `.pyx` line when there is one.
    pub fn display_location(&self) -> Option<(String, u32)> {
        if let Some(pyx) = &self.cython {
            return Some((pyx.file.clone(), pyx.line));
        }
        Some((self.file.clone()?, self.line?))
    }

    /// The function name to show: the Cython one when there is one.
    pub fn display_function(&self) -> &str {
        self.cython
            .as_ref()
            .and_then(|c| c.function.as_deref())
            .unwrap_or(&self.function)
    }
}

/// Static-checker findings for the function at fault.
#[derive(Clone, Debug, Serialize)]
pub struct StaticSection {
    /// The file that was checked.
    pub file: String,
    pub function: String,
    pub findings: Vec<Finding>,
}

/// An extension module loaded in the crashed process.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LoadedExtension {
    /// "delayed", from the shared object's file name.
    pub module: String,
    pub library: String,
}

/// The static checker's findings in the sources of a loaded extension that
/// can cause the class of crash seen (see [`Classification::explained_by`]).
#[derive(Clone, Debug, Serialize)]
pub struct ExtensionFindings {
    pub module: String,
    /// The project directory whose sources were checked.
    pub root: String,
    pub findings: Vec<SourceFinding>,
}

/// A finding and the source file it is in.
#[derive(Clone, Debug, Serialize)]
pub struct SourceFinding {
    pub file: String,
    #[serde(flatten)]
    pub finding: Finding,
}

/// A raw tool report kept verbatim (the ASan report, the fatal error text).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ToolOutput {
    pub tool: String,
    pub text: String,
}

/// One crash, explained.
#[derive(Clone, Debug, Serialize)]
pub struct CrashReport {
    /// None for a timeout, which is not a memory error.
    pub classification: Option<Classification>,
    pub evidence: Vec<Evidence>,
    pub trigger: Trigger,
    pub process: ProcessInfo,
    /// The extension code at fault (the innermost frame in an extension
    /// module), when one is on the stack.
    pub fault_site: Option<CodeSite>,
    /// Where the object was freed, when a sanitizer recorded it.
    pub free_site: Option<CodeSite>,
    /// The crashing thread's Python traceback (faulthandler).
    pub python_traceback: Option<PyTraceback>,
    /// Python tracebacks of the other threads (faulthandler).
    pub other_python_tracebacks: Vec<PyTraceback>,
    /// The crashing thread's native stack first, then the sanitizer's free
    /// and allocation stacks, then other threads.
    pub native_stacks: Vec<NativeStack>,
    pub static_findings: Option<StaticSection>,
    /// The extension modules loaded in the process (from its memory maps
    /// at the crash, and the libraries of the stacks).
    pub extensions: Vec<LoadedExtension>,
    /// Findings in those extensions' sources that can cause this crash.
    pub extension_findings: Vec<ExtensionFindings>,
    /// What to run next, as exact commands with what each shows.
    pub next_steps: Vec<String>,
    pub tool_output: Vec<ToolOutput>,
    /// How the data was obtained and what is missing.
    pub notes: Vec<String>,
}

const RT01_DOC: &str = r#"# RT01 freed-object-use

## What it means
`refsan run` saw the program crash on an object whose memory had already
been freed: its last reference was released while code still used it.

## Evidence
The faulting address, a register, or the memory a register points to is
filled with the debug allocator's dead byte `0xDD` (refsan runs the program
with `PYTHONMALLOC=debug` and reads the registers at the fault); under
`--asan`, AddressSanitizer's heap-use-after-free report, or, when the bad
read is in libpython (not instrumented), ASan's allocator's answer about
the block a register held at the fault, with the stacks that freed and
allocated it; under `--valgrind`, an invalid read or write in a freed
block, with the stack that freed it.

## Usual causes
One `Py_DECREF` too many (RS102, RS103), a borrowed reference stored or
returned without `Py_INCREF` (RS104, RS108), a stolen reference released
again (RS106), a Cython `__dealloc__` releasing what it does not own. The
crash often happens far from the bug, in pure Python code that touches the
freed object later.

## Next steps
`refsan check` on the extension's sources for those rules; `refsan run
--valgrind -- ...` (or `refsan build --asan` then `refsan run --asan --
...`) to see where the object was freed.
"#;

const RT02_DOC: &str = r#"# RT02 negative-refcount

## What it means
A debug build of CPython stopped the program because an object's
reference count went below zero: it was released more often than it was
acquired.

## Evidence
CPython's fatal error "negative reference count" (debug builds such as
Debian's `python3-dbg`, with the extension built against its headers:
`refsan build --debug --python python3-dbg`).

## Usual causes
An extra `Py_DECREF` or `Py_XDECREF` (RS102, RS103), a reference released
after a call stole it (RS106).

## Next steps
The stack of the report names the release; `refsan check` finds the same
mistakes statically.
"#;

const RT03_DOC: &str = r#"# RT03 double-free

## What it means
A block of memory was freed twice: an object was deallocated, then released
or freed again.

## Evidence
The debug allocator's "bad ID" or double-free diagnostics, AddressSanitizer's
`attempting double-free`, glibc's `free(): double free detected`.

## Usual causes
The same reference released on two paths (RS103), `tp_dealloc` and
`tp_clear` both freeing a member without clearing it, `PyMem_Free` of a
buffer a struct still points to.

## Next steps
`refsan run --asan` (after `refsan build --asan`) shows both frees.
"#;

const RT04_DOC: &str = r#"# RT04 null-object

## What it means
The program dereferenced a NULL object pointer: a call that can fail
returned NULL (with an exception set) and the code used the result without
checking.

## Evidence
A fault at an address near 0 inside a C-API call or a `Py_INCREF` /
`Py_DECREF` of the extension, and no dead-byte pattern around it.

## Usual causes
An unchecked result (RS107), `Py_DECREF` of a member that `__cinit__` left
NULL (RS404).

## Next steps
`refsan check` reports the unchecked calls; `refsan leaks`' reproducer
shows the arguments that make the call fail.
"#;

const RT05_DOC: &str = r#"# RT05 buffer-overflow

## What it means
Memory outside an allocated block was written (or read).

## Evidence
The debug allocator found its guard bytes (`0xFD`) around a block
overwritten when it was freed; AddressSanitizer's heap-buffer-overflow
report; Valgrind's invalid write.

## Usual causes
An index past the end of a tuple or list (`PyTuple_SET_ITEM` beyond its
size), a C buffer sized without the terminating NUL, a wrong `Py_ssize_t`
length in a format string (RS201).

## Next steps
`refsan run --asan` shows the faulting access and the block's allocation.
"#;

const RT06_DOC: &str = r#"# RT06 other-crash

## What it means
The program crashed (a signal, an abort, a fatal error) and refsan saw no
pattern of a reference-counting error in it.

## Evidence
The signal and address, the Python traceback, the native stacks of every
thread.

## Next steps
The report's stacks show where it happened; `refsan run --valgrind`
catches memory errors that did not crash yet.
"#;
