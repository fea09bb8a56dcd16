//! `refsan run`: sets up the instrumentation for the chosen mode, supervises
//! the program (see [`crate::supervise`] for how output, signals and native
//! stacks are handled) and turns what it saw into [`RunReport`]s.
//!
//! | mode | environment | native stack from |
//! |---|---|---|
//! | plain | `PYTHONFAULTHANDLER=1`, `PYTHONMALLOC=debug` (`PYTHONDEVMODE=1` with `--dev`) | gdb, attached while the crashed process is held stopped |
//! | `--asan` | libasan preloaded, `PYTHONMALLOC=malloc`, `ASAN_OPTIONS` below | the ASan report (error, free and allocation stacks) |
//! | `--valgrind` | `valgrind --tool=memcheck --xml=yes ...`, `PYTHONMALLOC=malloc` | memcheck's XML (error, free and allocation stacks) |
//!
//! `python -I`/`-E` ignore PYTHON* variables: refsan then adds
//! `-X faulthandler` (and `-X dev` with `--dev`) to the interpreter's
//! arguments and says that the debug allocator could not be enabled.

use crate::asan::{self, AsanReport};
use crate::classify::{self, Observations};
use crate::cython::CythonMapper;
use crate::faulthandler::{self, FatalOutput};
use crate::gdb::{self, GdbCapture};
use crate::heapcheck::{self, HeapMessages};
use crate::program::{self, shell_words, ResolvedProgram};
use crate::report::*;
use crate::supervise::{self, CrashEvent, Launch, ProgramEnd, Supervised, TimeoutEvent};
use crate::valgrind::{self, ValgrindLog};
use crate::{ExtensionSources, StaticFindings};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// ASan settings that keep the interpreter's own noise out and make the
/// report end in a SIGABRT that faulthandler turns into a Python traceback.
/// - `detect_leaks=0`: CPython does not free everything at exit.
/// - `allow_user_segv_handler=0`: keep ASan's SEGV handler (faulthandler's
///   would otherwise run first and leave ASan a broken stack).
/// - `abort_on_error=1`: end with abort(), so faulthandler prints the Python
///   stack after the ASan report.
/// - `free_fill_byte=221:max_free_fill_size=4096`: fill freed memory with 0xDD
///   like the debug allocator, so uninstrumented interpreter code that
///   follows a dangling pointer crashes recognisably.
/// - `stack_trace_format`: add each frame's shared object, so refsan can
///   tell the extension's frames from the interpreter's.
pub const ASAN_OPTIONS: &str = "detect_leaks=0:allow_user_segv_handler=0:abort_on_error=1:free_fill_byte=221:max_free_fill_size=4096:print_summary=1:stack_trace_format='    #%n %p in %f %S (%m+%o)'";

/// Suppressions for CPython's known memcheck noise, embedded.
pub const VALGRIND_SUPPRESSIONS: &str = include_str!("../helpers/valgrind-python.supp");

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("no program given")]
    NoProgram,
    #[error("{0}: command not found")]
    NotFound(String),
    #[error("{0}")]
    Missing(String),
    #[error("cannot create a temporary directory: {0}")]
    TempDir(std::io::Error),
    #[error(transparent)]
    Supervise(#[from] supervise::SuperviseError),
}

/// What `refsan run` was asked to do.
#[derive(Clone, Debug)]
pub struct RunOptions {
    pub mode: Mode,
    /// Run Python in development mode (`-X dev`).
    pub dev: bool,
    pub timeout: Option<Duration>,
    /// Collect native stacks with gdb in the plain mode.
    pub use_gdb: bool,
    pub gdb_timeout: Duration,
    /// The program and its arguments.
    pub command: Vec<OsString>,
    /// Discard the program's stdout and do not forward its stderr.
    pub quiet: bool,
    /// The exit status when a sanitizer (memcheck, ASan) reported an error
    /// and the program still exited 0.
    pub error_exit_code: i32,
    /// Under ASan, unwind the stacks of every malloc and free fully (through
    /// code without frame pointers, such as libpython): complete "freed by"
    /// stacks, several times slower.
    pub full_stacks: bool,
}

/// The report and the exit status refsan should return.
#[derive(Debug)]
pub struct RunOutcome {
    pub report: RunReport,
    pub exit_status: i32,
}

/// Runs the program under instrumentation and reports what went wrong.
pub fn run(
    options: &RunOptions,
    static_findings: Option<&dyn StaticFindings>,
) -> Result<RunOutcome, RunError> {
    let (program_name, program_args) = options.command.split_first().ok_or(RunError::NoProgram)?;
    let resolved = program::resolve(program_name, program_args)
        .ok_or_else(|| RunError::NotFound(program_name.to_string_lossy().into_owned()))?;
    let workdir = TempDir::create()?;
    let mut notes = Vec::new();
    let plan = plan_launch(
        options,
        &resolved,
        program_name,
        program_args,
        workdir.path(),
        &mut notes,
    )?;
    // Plain mode: gdb reads the stacks. ASan mode: gdb asks ASan's
    // allocator about the crashing thread's registers before ASan's own
    // SEGV handler runs (a bad read inside libpython is not instrumented).
    let gdb_path = if options.mode != Mode::Valgrind && options.use_gdb {
        let found = gdb::which("gdb");
        if found.is_none() {
            notes.push("gdb not found: crash reports have no native stack (install gdb; see `refsan doctor`)".to_string());
        }
        found
    } else {
        None
    };
    let script = workdir.path().join("refsan_gdb.py");
    if gdb_path.is_some() {
        std::fs::write(&script, gdb::GDB_SCRIPT).map_err(RunError::TempDir)?;
    }
    let gdb_timeout = options.gdb_timeout;
    let mode = options.mode;
    let capture_fn = gdb_path.as_ref().map(|gdb_bin| {
        let script = script.clone();
        let mut described_pids: Vec<i32> = Vec::new();
        move |frozen: supervise::Frozen| -> Result<GdbCapture, String> {
            let exe = crate::procfs::executable(frozen.pid).unwrap_or_default();
            let maps = crate::procfs::mapped_files(frozen.pid);
            let helpers = gdb::find_python_helpers(&exe, &maps);
            let gdb_mode = if mode == Mode::Asan {
                // Once per process: ASan's handler aborts after its report.
                if described_pids.contains(&frozen.pid) {
                    return Err("AddressSanitizer was already asked about this process".into());
                }
                described_pids.push(frozen.pid);
                "asan"
            } else {
                "plain"
            };
            gdb::capture(
                gdb_bin,
                frozen.pid,
                &script,
                helpers.as_deref(),
                gdb_timeout,
                &[
                    ("REFSAN_GDB_MODE", gdb_mode.to_string()),
                    ("REFSAN_GDB_TID", frozen.tid.to_string()),
                ],
            )
        }
    });
    let supervised = supervise::run(&plan, capture_fn)?;
    if let Some(note) = &supervised.trace_note {
        notes.push(note.clone());
    }

    let mut crashes = Vec::new();
    let mut mapper = CythonMapper::default();
    match options.mode {
        Mode::Plain => {
            for event in &supervised.crashes {
                if event.death.is_none() {
                    continue;
                }
                crashes.push(crash_from_event(event, &mut mapper));
            }
        }
        Mode::Asan => {
            let described: Vec<(String, u64)> = supervised
                .crashes
                .iter()
                .filter_map(|e| e.capture.as_ref())
                .flat_map(|c| c.described.iter().cloned())
                .collect();
            crashes.extend(asan_crashes(
                workdir.path(),
                &supervised,
                &described,
                &mut mapper,
            ));
        }
        Mode::Valgrind => {
            crashes.extend(valgrind_crashes(workdir.path(), &supervised, &mut mapper));
        }
    }
    if crashes.is_empty() {
        if let Some(report) = crash_from_exit_only(&supervised, &mut mapper) {
            crashes.push(report);
        }
    }
    if let Some(timeout) = &supervised.timeout {
        crashes.push(crash_from_timeout(timeout, &mut mapper));
    }
    let command: Vec<String> = options
        .command
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let mut checked: Vec<(String, Option<ExtensionSources>)> = Vec::new();
    for crash in &mut crashes {
        add_stack_extensions(crash);
        if let Some(provider) = static_findings {
            crash.static_findings = static_section_for(crash, provider);
            crash.extension_findings = extension_findings_for(crash, provider, &mut checked);
        }
        crash.next_steps = next_steps(crash, options, &command);
    }
    let mut exit = program_exit(supervised.end);
    let sanitizer_error = crashes
        .iter()
        .any(|c| matches!(c.trigger, Trigger::Sanitizer { .. }));
    if sanitizer_error && exit.code == Some(0) && options.error_exit_code != 0 {
        exit.status = options.error_exit_code;
        notes.push(format!(
            "the program exited 0, but {} reported a memory error: refsan exits {} (--error-exitcode)",
            if options.mode == Mode::Asan { "AddressSanitizer" } else { "memcheck" },
            options.error_exit_code
        ));
    }
    let report = RunReport {
        schema: SCHEMA,
        program: options
            .command
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect(),
        mode: options.mode,
        exit: exit.clone(),
        crashes,
        notes,
    };
    Ok(RunOutcome {
        exit_status: exit.status,
        report,
    })
}

/// The program, arguments and environment for the chosen mode.
fn plan_launch(
    options: &RunOptions,
    resolved: &ResolvedProgram,
    program_name: &OsString,
    program_args: &[OsString],
    workdir: &Path,
    notes: &mut Vec<String>,
) -> Result<Launch, RunError> {
    let mut env: Vec<(OsString, OsString)> = Vec::new();
    let mut args: Vec<OsString> = program_args.to_vec();
    if let Some(dir) = &resolved.pyenv_bin_dir {
        let mut path = dir.clone().into_os_string();
        if let Some(old) = std::env::var_os("PATH") {
            path.push(":");
            path.push(old);
        }
        env.push(("PATH".into(), path));
    }
    env.push(("PYTHONFAULTHANDLER".into(), "1".into()));
    let allocator = match options.mode {
        Mode::Plain => "debug",
        Mode::Asan | Mode::Valgrind => "malloc",
    };
    match std::env::var("PYTHONMALLOC") {
        Ok(user) if user != allocator => notes.push(format!(
            "PYTHONMALLOC={user} from the environment overrides refsan's {allocator}"
        )),
        Ok(_) => {}
        Err(_) => env.push(("PYTHONMALLOC".into(), allocator.into())),
    }
    if options.dev {
        env.push(("PYTHONDEVMODE".into(), "1".into()));
    }
    if resolved.ignores_environment {
        if resolved.is_python {
            let mut extra: Vec<OsString> = vec!["-X".into(), "faulthandler".into()];
            if options.dev {
                extra.extend(["-X".into(), "dev".into()]);
            }
            extra.append(&mut args);
            args = extra;
        }
        let mut note = String::from(
            "the interpreter runs with -I or -E, which ignore PYTHON* variables: PYTHONMALLOC could not be set",
        );
        if resolved.is_python {
            note.push_str("; faulthandler was enabled with -X faulthandler");
            if !options.dev {
                note.push_str(" (pass --dev to get the debug allocator through -X dev)");
            }
        } else {
            note.push_str(" and faulthandler is off (run the interpreter directly so refsan can add -X options)");
        }
        notes.push(note);
    }
    let mut program = resolved.path.clone();
    let mut argv0 = program_name.clone();
    if resolved.pyenv_bin_dir.is_some() {
        argv0 = resolved.path.clone().into_os_string();
    }
    let mut trace = false;
    match options.mode {
        Mode::Plain => trace = true,
        Mode::Asan => {
            // Held at the fault for gdb to question ASan's allocator.
            trace = options.use_gdb;
            let runtime = asan_runtime().ok_or_else(|| {
                RunError::Missing(
                    "--asan: the AddressSanitizer runtime (libasan.so) was not found; install it with `apt-get install libasan8` (or gcc), or set REFSAN_ASAN_RUNTIME".to_string(),
                )
            })?;
            let mut preload = runtime.into_os_string();
            if let Some(old) = std::env::var_os("LD_PRELOAD") {
                preload.push(":");
                preload.push(old);
            }
            env.push(("LD_PRELOAD".into(), preload));
            let mut asan_options =
                format!("{ASAN_OPTIONS}:log_path={}", workdir.join("asan").display());
            if options.full_stacks {
                asan_options.push_str(":fast_unwind_on_malloc=0");
            }
            if let Ok(user) = std::env::var("ASAN_OPTIONS") {
                // Later options win: the user's settings come last.
                asan_options.push(':');
                asan_options.push_str(&user);
            }
            env.push(("ASAN_OPTIONS".into(), asan_options.into()));
            let cwd = std::env::current_dir().unwrap_or_default();
            let manifests = crate::build::asan_manifests(&cwd);
            if manifests.is_empty() {
                notes.push(format!(
                    "no `refsan build --asan` build found ({}/{} in this directory or above): extension modules are imported as they are, instrumented only if they were compiled with -fsanitize=address",
                    crate::build::ASAN_DIR,
                    crate::build::MANIFEST
                ));
            } else {
                let site = workdir.join("asan-site");
                std::fs::create_dir_all(&site).map_err(RunError::TempDir)?;
                std::fs::write(site.join("sitecustomize.py"), ASAN_SITECUSTOMIZE)
                    .map_err(RunError::TempDir)?;
                let mut path = site.into_os_string();
                if let Some(old) = std::env::var_os("PYTHONPATH") {
                    path.push(":");
                    path.push(old);
                }
                env.push(("PYTHONPATH".into(), path));
                let joined = std::env::join_paths(&manifests).unwrap_or_default();
                env.push(("REFSAN_ASAN_MANIFESTS".into(), joined));
                notes.push(format!(
                    "extension modules imported from their ASan build: {}",
                    manifests
                        .iter()
                        .map(|m| m.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
        Mode::Valgrind => {
            let valgrind = gdb::which("valgrind").ok_or_else(|| {
                RunError::Missing(
                    "--valgrind: valgrind was not found; install it with `apt-get install valgrind`".to_string(),
                )
            })?;
            let supp = workdir.join("python.supp");
            std::fs::write(&supp, VALGRIND_SUPPRESSIONS).map_err(RunError::TempDir)?;
            let mut vg_args: Vec<OsString> = [
                "--tool=memcheck",
                "--xml=yes",
                "--trace-children=yes",
                "--undef-value-errors=no",
                "--leak-check=no",
                "--show-leak-kinds=none",
                "--num-callers=40",
                "--child-silent-after-fork=yes",
            ]
            .into_iter()
            .map(OsString::from)
            .collect();
            vg_args.push(format!("--xml-file={}", workdir.join("vg.%p.xml").display()).into());
            vg_args.push(format!("--log-file={}", workdir.join("vg.%p.log").display()).into());
            vg_args.push(format!("--suppressions={}", supp.display()).into());
            vg_args.push(resolved.path.clone().into_os_string());
            vg_args.append(&mut args);
            args = vg_args;
            argv0 = valgrind.clone().into_os_string();
            program = valgrind;
        }
    }
    Ok(Launch {
        program,
        argv0,
        args,
        env,
        trace,
        timeout: options.timeout,
        quiet: options.quiet,
    })
}

/// The `sitecustomize` that imports the modules of `refsan build --asan`
/// from their build directory.
const ASAN_SITECUSTOMIZE: &str = include_str!("../helpers/asan_sitecustomize.py");

/// The ASan runtime the compiler links: `$REFSAN_ASAN_RUNTIME`, else what
/// `cc -print-file-name=libasan.so` (or gcc's) names.
pub fn asan_runtime() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("REFSAN_ASAN_RUNTIME") {
        let p = PathBuf::from(p);
        return p.is_file().then_some(p);
    }
    let compilers: Vec<String> = std::env::var("CC")
        .ok()
        .into_iter()
        .chain(["gcc".to_string(), "cc".to_string()])
        .collect();
    for cc in compilers {
        let Ok(out) = std::process::Command::new(&cc)
            .arg("-print-file-name=libasan.so")
            .output()
        else {
            continue;
        };
        let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let path = PathBuf::from(&text);
        if path.is_absolute() && path.exists() {
            return Some(std::fs::canonicalize(&path).unwrap_or(path));
        }
    }
    None
}

fn program_exit(end: ProgramEnd) -> ProgramExit {
    match end {
        ProgramEnd::Exited(code) => ProgramExit {
            status: code,
            code: Some(code),
            signal: None,
            timed_out: false,
        },
        ProgramEnd::Signaled(sig) => ProgramExit {
            status: 128 + sig,
            code: None,
            signal: Some(supervise::signal_name(sig)),
            timed_out: false,
        },
        ProgramEnd::TimedOut => ProgramExit {
            status: 124,
            code: None,
            signal: None,
            timed_out: true,
        },
    }
}

/// A crash caught alive in the plain mode.
fn crash_from_event(event: &CrashEvent<GdbCapture>, mapper: &mut CythonMapper) -> CrashReport {
    let text = String::from_utf8_lossy(&event.stderr);
    let fatal = faulthandler::parse(&text);
    let heap = heapcheck::parse(&event.stderr);
    let freed_pointers: &[(String, u64)] = event
        .capture
        .as_ref()
        .map(|c| c.freed_pointers.as_slice())
        .unwrap_or_default();
    let obs = Observations {
        signal: Some(event.signal),
        registers: &event.registers,
        fatal: Some(&fatal),
        heap: Some(&heap),
        freed_pointers,
        ..Default::default()
    };
    let (classification, evidence) = classify::classify(&obs);
    let mut notes = Vec::new();
    let mut native_stacks = Vec::new();
    let mut gdb_python: Option<PyTraceback> = None;
    match &event.capture {
        Some(cap) => {
            notes.push("native stack: gdb attached while the crashed process was held stopped at the fault (nothing was re-run)".to_string());
            if let Some(thread) = cap.thread(event.tid) {
                let mut frames = thread.frames.clone();
                drop_signal_handler_frames(&mut frames);
                map_cython(&mut frames, mapper);
                native_stacks.push(NativeStack {
                    label: "crashing thread".to_string(),
                    source: StackSource::Gdb,
                    thread_id: Some(thread.lwp),
                    frames,
                });
                gdb_python = thread.python_stack.as_deref().and_then(parse_py_bt);
            }
            if !cap.python_helpers {
                notes.push("CPython's gdb helpers (libpython.py) were not found for this interpreter: the Python stack comes from faulthandler only (see `refsan doctor`)".to_string());
            }
        }
        None => {
            if let Some(note) = &event.capture_note {
                notes.push(note.clone());
            }
        }
    }
    let python_traceback = fatal.current_traceback().cloned().or(gdb_python);
    let fault_site = native_stacks
        .first()
        .and_then(|s| extension_site(&s.frames));
    let tool_output = tool_output_of(&fatal, &heap, &text);
    CrashReport {
        classification: Some(classification),
        evidence,
        trigger: Trigger::Signal {
            signal: supervise::signal_name(event.signal.signo),
            number: event.signal.signo,
            reason: event.signal.reason(),
            address: event.signal.address,
        },
        process: ProcessInfo {
            pid: event.pid,
            thread_id: Some(event.tid),
            thread_name: event.thread_name.clone(),
            main_thread: event.tid == event.pid,
            main_process: event.main_process,
            command_line: event.command_line.clone(),
        },
        fault_site,
        free_site: None,
        python_traceback,
        other_python_tracebacks: other_tracebacks(&fatal),
        native_stacks,
        static_findings: None,
        extensions: loaded_extensions(&event.mapped_files),
        extension_findings: Vec::new(),
        next_steps: Vec::new(),
        tool_output,
        notes,
    }
}

/// The program died of a crash signal that was not caught alive (tracing
/// unavailable, or a sanitizer mode without a sanitizer report): report what
/// stderr says.
fn crash_from_exit_only(
    sup: &Supervised<GdbCapture>,
    mapper: &mut CythonMapper,
) -> Option<CrashReport> {
    let ProgramEnd::Signaled(sig) = sup.end else {
        return None;
    };
    if !supervise::CRASH_SIGNALS.contains(&sig) {
        return None;
    }
    let text = String::from_utf8_lossy(&sup.stderr_tail);
    let fatal = faulthandler::parse(&text);
    let heap = heapcheck::parse(&sup.stderr_tail);
    let (classification, evidence) = classify::classify(&Observations {
        fatal: Some(&fatal),
        heap: Some(&heap),
        ..Default::default()
    });
    let _ = mapper;
    Some(CrashReport {
        classification: Some(classification),
        evidence,
        trigger: Trigger::Signal {
            signal: supervise::signal_name(sig),
            number: sig,
            reason: None,
            address: None,
        },
        process: ProcessInfo {
            pid: sup.main_pid,
            main_thread: true,
            main_process: true,
            ..ProcessInfo::default()
        },
        fault_site: None,
        free_site: None,
        python_traceback: fatal.current_traceback().cloned(),
        other_python_tracebacks: other_tracebacks(&fatal),
        native_stacks: Vec::new(),
        static_findings: None,
        extensions: Vec::new(),
        extension_findings: Vec::new(),
        next_steps: Vec::new(),
        tool_output: tool_output_of(&fatal, &heap, &text),
        notes: vec!["the crash was not caught while the process was alive: no faulting address and no native stack".to_string()],
    })
}

fn crash_from_timeout(t: &TimeoutEvent<GdbCapture>, mapper: &mut CythonMapper) -> CrashReport {
    let text = String::from_utf8_lossy(&t.stderr);
    let fatal = faulthandler::parse(&text);
    let mut native_stacks = Vec::new();
    let mut notes = vec![format!(
        "the program was still running after {:.1} s: its stacks were taken, then it was sent SIGABRT (faulthandler prints every thread's Python stack) and killed if still alive",
        t.after.as_secs_f64()
    )];
    if let Some(cap) = &t.capture {
        for thread in &cap.threads {
            let mut frames = thread.frames.clone();
            map_cython(&mut frames, mapper);
            native_stacks.push(NativeStack {
                label: match &thread.name {
                    Some(n) => format!("thread {} ({n})", thread.lwp),
                    None => format!("thread {}", thread.lwp),
                },
                source: StackSource::Gdb,
                thread_id: Some(thread.lwp),
                frames,
            });
        }
    } else if let Some(note) = &t.capture_note {
        notes.push(note.clone());
    }
    CrashReport {
        classification: None,
        evidence: Vec::new(),
        trigger: Trigger::Timeout {
            seconds: t.after.as_secs_f64(),
        },
        process: ProcessInfo {
            pid: t.pid,
            thread_id: Some(t.pid),
            thread_name: None,
            main_thread: true,
            main_process: true,
            command_line: t.command_line.clone(),
        },
        fault_site: native_stacks
            .first()
            .and_then(|s| extension_site(&s.frames)),
        free_site: None,
        python_traceback: fatal.current_traceback().cloned(),
        other_python_tracebacks: other_tracebacks(&fatal),
        native_stacks,
        static_findings: None,
        extensions: Vec::new(),
        extension_findings: Vec::new(),
        next_steps: Vec::new(),
        tool_output: Vec::new(),
        notes,
    }
}

fn asan_crashes(
    workdir: &Path,
    sup: &Supervised<GdbCapture>,
    described: &[(String, u64)],
    mapper: &mut CythonMapper,
) -> Vec<CrashReport> {
    let mut reports: Vec<AsanReport> = Vec::new();
    for file in files_with_prefix(workdir, "asan.") {
        if let Ok(text) = std::fs::read_to_string(&file) {
            let pid = file
                .extension()
                .and_then(|e| e.to_str())
                .and_then(|e| e.parse().ok());
            for mut r in asan::parse_all(&text) {
                r.pid = r.pid.or(pid);
                for d in &mut r.described {
                    d.register = described
                        .iter()
                        .find(|(_, v)| *v == d.address)
                        .map(|(name, _)| name.clone());
                }
                reports.push(r);
            }
        }
    }
    let text = String::from_utf8_lossy(&sup.stderr_tail);
    let fatal = faulthandler::parse(&text);
    reports
        .iter()
        .map(|r| {
            let (classification, evidence) = classify::classify(&Observations {
                asan: Some(r),
                fatal: Some(&fatal),
                ..Default::default()
            });
            let mut native_stacks: Vec<NativeStack> = r
                .stacks
                .iter()
                .map(|(label, frames)| {
                    let mut frames = frames.clone();
                    map_cython(&mut frames, mapper);
                    NativeStack {
                        label: if label == "error" {
                            "error".to_string()
                        } else {
                            label.clone()
                        },
                        source: StackSource::AddressSanitizer,
                        thread_id: None,
                        frames,
                    }
                })
                .collect();
            // A bad read the instrumentation did not see (in libpython):
            // the freed block a register pointed to, as ASan's allocator
            // described it at the fault.
            if let Some(d) = r.described.iter().find(|d| d.freed()) {
                if r.stack("freed by").is_none() {
                    for (label, frames) in &d.stacks {
                        let mut frames = frames.clone();
                        map_cython(&mut frames, mapper);
                        native_stacks.push(NativeStack {
                            label: label.clone(),
                            source: StackSource::AddressSanitizer,
                            thread_id: None,
                            frames,
                        });
                    }
                }
            }
            native_stacks.retain(|s| !s.frames.is_empty());
            let fault_site = r
                .stack("error")
                .and_then(|_| native_stacks.iter().find(|s| s.label == "error"))
                .and_then(|s| extension_site(&s.frames));
            let free_site = native_stacks
                .iter()
                .find(|s| s.label.starts_with("freed by"))
                .and_then(|s| extension_site(&s.frames));
            let pid = r.pid.unwrap_or(sup.main_pid);
            CrashReport {
                classification: Some(classification),
                evidence,
                trigger: Trigger::Sanitizer {
                    tool: "AddressSanitizer".to_string(),
                    kind: r.kind.clone(),
                    // The registers after " at pc" / " (pc" say nothing to a user.
                    message: r
                        .headline
                        .split(" at pc ")
                        .next()
                        .unwrap_or(&r.headline)
                        .split(" (pc ")
                        .next()
                        .unwrap_or(&r.headline)
                        .to_string(),
                },
                process: ProcessInfo {
                    pid,
                    main_process: pid == sup.main_pid,
                    main_thread: r.access.as_deref().is_none_or(|a| a.ends_with("thread T0")),
                    ..ProcessInfo::default()
                },
                fault_site,
                free_site,
                python_traceback: fatal.current_traceback().cloned(),
                other_python_tracebacks: other_tracebacks(&fatal),
                native_stacks,
                static_findings: None,
                extensions: Vec::new(),
                extension_findings: Vec::new(),
                next_steps: Vec::new(),
                tool_output: vec![ToolOutput {
                    tool: "AddressSanitizer".to_string(),
                    text: r.raw.clone(),
                }],
                notes: Vec::new(),
            }
        })
        .collect()
}

fn valgrind_crashes(
    workdir: &Path,
    sup: &Supervised<GdbCapture>,
    mapper: &mut CythonMapper,
) -> Vec<CrashReport> {
    let mut logs: Vec<ValgrindLog> = files_with_prefix(workdir, "vg.")
        .into_iter()
        .filter(|f| f.extension().and_then(|e| e.to_str()) == Some("xml"))
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .map(|text| valgrind::parse(&text))
        .collect();
    logs.sort_by_key(|l| l.pid);
    let text = String::from_utf8_lossy(&sup.stderr_tail);
    let fatal = faulthandler::parse(&text);
    let mut out = Vec::new();
    for log in &logs {
        let first = log.errors.iter().find(|e| !e.is_leak());
        if first.is_none() && log.fatal_signal.is_none() {
            continue;
        }
        let (classification, evidence) = classify::classify(&Observations {
            valgrind: first,
            fatal: Some(&fatal),
            ..Default::default()
        });
        let mut native_stacks = Vec::new();
        if let Some(e) = first {
            let mut frames = e.stack.clone();
            map_cython(&mut frames, mapper);
            native_stacks.push(NativeStack {
                label: e.what.clone(),
                source: StackSource::Valgrind,
                thread_id: None,
                frames,
            });
            for (aux, frames) in &e.aux {
                if frames.is_empty() {
                    continue;
                }
                let mut frames = frames.clone();
                map_cython(&mut frames, mapper);
                native_stacks.push(NativeStack {
                    label: aux.clone(),
                    source: StackSource::Valgrind,
                    thread_id: None,
                    frames,
                });
            }
        }
        if let Some(sig) = &log.fatal_signal {
            let mut frames = sig.stack.clone();
            map_cython(&mut frames, mapper);
            native_stacks.push(NativeStack {
                label: format!("terminated by {}", sig.signame),
                source: StackSource::Valgrind,
                thread_id: None,
                frames,
            });
        }
        let fault_site = native_stacks
            .first()
            .and_then(|s| extension_site(&s.frames));
        let freed = native_stacks
            .iter()
            .position(|s| s.label.ends_with("free'd") && s.label.contains("a block of size"));
        let free_site = freed.and_then(|i| extension_site(&native_stacks[i].frames));
        let free_list_note = freed.and_then(|i| free_list_note(&native_stacks[i..]));
        let trigger = match (first, &log.fatal_signal) {
            (Some(e), _) => Trigger::Sanitizer {
                tool: "Valgrind".to_string(),
                kind: e.kind.clone(),
                message: e.what.clone(),
            },
            (None, Some(sig)) => Trigger::Signal {
                signal: sig.signame.clone(),
                number: sig.signo,
                reason: None,
                address: None,
            },
            (None, None) => continue,
        };
        let pid = log.pid.unwrap_or(sup.main_pid);
        let mut notes = Vec::new();
        let other_errors = log
            .errors
            .iter()
            .filter(|e| !e.is_leak())
            .count()
            .saturating_sub(1);
        if other_errors > 0 {
            notes.push(format!("memcheck reported {other_errors} more error(s) in this process after the first; the first is shown"));
        }
        if log.fatal_signal.is_none() {
            notes.push(
                "the process did not crash: memcheck caught the error before it could".to_string(),
            );
        }
        notes.extend(free_list_note);
        out.push(CrashReport {
            classification: Some(classification),
            evidence,
            trigger,
            process: ProcessInfo {
                pid,
                main_process: pid == sup.main_pid,
                main_thread: first.and_then(|e| e.tid).is_none_or(|t| t == 1),
                command_line: log.argv.clone(),
                ..ProcessInfo::default()
            },
            fault_site,
            free_site,
            python_traceback: fatal.current_traceback().cloned(),
            other_python_tracebacks: other_tracebacks(&fatal),
            native_stacks,
            static_findings: None,
            extensions: Vec::new(),
            extension_findings: Vec::new(),
            next_steps: Vec::new(),
            tool_output: Vec::new(),
            notes,
        });
    }
    out
}

fn files_with_prefix(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix))
        })
        .collect();
    files.sort();
    files
}

fn other_tracebacks(fatal: &FatalOutput) -> Vec<PyTraceback> {
    fatal
        .tracebacks
        .iter()
        .filter(|t| !t.current_thread)
        .cloned()
        .collect()
}

fn tool_output_of(fatal: &FatalOutput, heap: &HeapMessages, _text: &str) -> Vec<ToolOutput> {
    let mut out = Vec::new();
    let mut lines: Vec<String> = fatal.preamble.clone();
    if let Some(msg) = &fatal.fatal_error {
        lines.push(format!("Fatal Python error: {msg}"));
    }
    if let Some(e) = &heap.allocator_error {
        if !lines.iter().any(|l| l.contains(e.as_str())) {
            lines.push(e.clone());
        }
    }
    if !lines.is_empty() {
        out.push(ToolOutput {
            tool: "CPython".to_string(),
            text: lines.join("\n"),
        });
    }
    out
}

/// gdb stops the crashing thread before the signal handler runs, but a
/// capture taken later (a re-raised signal) has faulthandler's frames on
/// top: keep what is below `<signal handler called>`.
fn drop_signal_handler_frames(frames: &mut Vec<NativeFrame>) {
    if let Some(pos) = frames
        .iter()
        .position(|f| f.function.as_deref() == Some("<signal handler called>"))
    {
        frames.drain(..=pos);
    }
}

fn map_cython(frames: &mut [NativeFrame], mapper: &mut CythonMapper) {
    for frame in frames {
        if let (Some(file), Some(line)) = (&frame.file, frame.line) {
            frame.cython = mapper.map(Path::new(file), line);
        }
    }
}

/// Parses `py-bt` output into frames: `File "x.py", line 3, in f` lines and
/// `<built-in method NAME of ...>` lines (the extension function).
fn parse_py_bt(text: &str) -> Option<PyTraceback> {
    let mut frames = Vec::new();
    for line in text.lines() {
        let t = line.trim();
        if let Some(rest) = t.strip_prefix("File \"") {
            let Some((file, after)) = rest.split_once("\", line ") else {
                continue;
            };
            let (number, function) = after.split_once(", in ").unwrap_or((after, "???"));
            frames.push(PyFrame {
                file: file.to_string(),
                line: number.trim().parse().ok(),
                function: function.trim().to_string(),
            });
        } else if let Some(rest) = t.strip_prefix("<built-in method ") {
            let name = rest.split_whitespace().next().unwrap_or("?");
            frames.push(PyFrame {
                file: "<built-in>".to_string(),
                line: None,
                function: name.to_string(),
            });
        }
    }
    (!frames.is_empty()).then_some(PyTraceback {
        thread: None,
        current_thread: true,
        frames,
    })
}

/// A frame's shared object is an extension module: `name.cpython-311-...so`,
/// `name.abi3.so` or `name.so`, not a `lib*.so` and not CPython's own
/// `lib-dynload` modules.
pub fn is_extension_library(library: &str) -> bool {
    let path = Path::new(library);
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    name.ends_with(".so")
        && !name.starts_with("lib")
        && !name.starts_with("vgpreload_")
        && !name.starts_with("ld-linux")
        && !library.contains("/lib-dynload/")
}

/// A C header of CPython (inlined Py_DECREF and friends).
fn is_python_header(file: &str) -> bool {
    file.ends_with(".h")
        && (file.contains("/include/python")
            || file.contains("/Include/")
            || file.contains("/python3.")
            || file.starts_with("Include/"))
}

/// The module an extension's shared object is: "delayed" for
/// `delayed.cpython-311-x86_64-linux-gnu.so`.
pub fn module_of_library(library: &str) -> String {
    Path::new(library)
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.split('.').next())
        .unwrap_or("?")
        .to_string()
}

/// The innermost frame in an extension module, skipping inlined CPython
/// header functions (Py_DECREF, Py_TYPE) in favour of the extension's own
/// line that called them.
pub fn extension_site(frames: &[NativeFrame]) -> Option<CodeSite> {
    let in_extension = |f: &&NativeFrame| f.library.as_deref().is_some_and(is_extension_library);
    let chosen = frames
        .iter()
        .filter(in_extension)
        .find(|f| !f.file.as_deref().is_some_and(is_python_header))
        .or_else(|| frames.iter().find(in_extension))?;
    let library = chosen.library.clone().unwrap_or_default();
    Some(CodeSite {
        module: module_of_library(&library),
        library,
        function: chosen.function.clone().unwrap_or_else(|| "??".to_string()),
        file: chosen.file.clone(),
        line: chosen.line,
        cython: chosen.cython.clone(),
    })
}

/// CPython functions that allocate objects of the types it keeps free
/// lists for (3.8 to 3.13), or that empty those lists.
const FREE_LIST_FUNCTIONS: &[&str] = &[
    "PyFloat_FromDouble",
    "float_dealloc",
    "PyTuple_New",
    "tuple_alloc",
    "tupledealloc",
    "PyList_New",
    "list_dealloc",
    "new_dict",
    "new_keys_object",
    "dict_dealloc",
    "free_keys_object",
    "async_gen_wrapped_val",
    "PyContext_New",
    "PySlice_New",
    "_PyFloat_ClearFreeList",
    "_PyTuple_ClearFreeList",
    "_PyList_ClearFreeList",
    "_PyDict_ClearFreeList",
    "_PyObject_ClearFreeLists",
    "_PyGC_ClearAllFreeLists",
];

/// A warning when the freed block (`stacks[0]` its free stack, then its
/// allocation stack) is an object of a type with a free list: its memory
/// is reused or freed when the list is trimmed, so the stack that freed it
/// may be unrelated to the release that was one too many.
fn free_list_note(stacks: &[NativeStack]) -> Option<String> {
    let freed_by_extension = stacks.first().is_some_and(|s| {
        s.frames
            .iter()
            .any(|f| f.library.as_deref().is_some_and(is_extension_library))
    });
    let trimmed = stacks.first().is_some_and(|s| {
        s.frames
            .iter()
            .filter_map(|f| f.function.as_deref())
            .any(|name| name.contains("ClearFreeList"))
    });
    // An extension's release that freed the block is the lead, unless the
    // block was freed by the trimming of a free list.
    if freed_by_extension && !trimmed {
        return None;
    }
    let function = stacks
        .iter()
        .take(2)
        .flat_map(|s| s.frames.iter())
        .filter_map(|f| f.function.as_deref())
        .find(|name| FREE_LIST_FUNCTIONS.contains(name))?;
    Some(format!(
        "the freed block was handled by `{function}`: CPython keeps a free list for that type (float, tuple, list, dict...), whose objects' memory is reused or freed when the list is trimmed, so the stack that freed it may be unrelated to the release that was one too many; the allocation stack and the static findings are the better lead"
    ))
}

/// The extension modules among `mapped` (a process's mapped files).
fn loaded_extensions(mapped: &[PathBuf]) -> Vec<LoadedExtension> {
    let mut out = Vec::new();
    for path in mapped {
        let library = path.to_string_lossy().into_owned();
        push_extension(&mut out, &library);
    }
    out
}

fn push_extension(out: &mut Vec<LoadedExtension>, library: &str) {
    if !is_extension_library(library) || out.iter().any(|e| e.library == library) {
        return;
    }
    out.push(LoadedExtension {
        module: module_of_library(library),
        library: library.to_string(),
    });
}

/// The extensions on the crash's stacks (the only ones known when the
/// process's maps were not read: sanitizer modes).
fn add_stack_extensions(crash: &mut CrashReport) {
    let libraries: Vec<String> = crash
        .native_stacks
        .iter()
        .flat_map(|s| s.frames.iter())
        .filter_map(|f| f.library.clone())
        .chain(crash.fault_site.iter().map(|s| s.library.clone()))
        .chain(crash.free_site.iter().map(|s| s.library.clone()))
        .collect();
    for library in libraries {
        push_extension(&mut crash.extensions, &library);
    }
}

/// The findings of the loaded extensions' sources that can cause this
/// crash, each project checked once per run (`checked`), the findings the
/// report already shows for the function at fault left out.
fn extension_findings_for(
    crash: &CrashReport,
    provider: &dyn StaticFindings,
    checked: &mut Vec<(String, Option<ExtensionSources>)>,
) -> Vec<ExtensionFindings> {
    let Some(class) = crash.classification else {
        return Vec::new();
    };
    let rules = class.explained_by();
    if rules.is_empty() {
        return Vec::new();
    }
    let mut out: Vec<ExtensionFindings> = Vec::new();
    for ext in &crash.extensions {
        let found = match checked.iter().find(|(lib, _)| *lib == ext.library) {
            Some((_, found)) => found.clone(),
            None => {
                let found = provider.for_extension(Path::new(&ext.library), &ext.module);
                checked.push((ext.library.clone(), found.clone()));
                found
            }
        };
        let Some(ExtensionSources { root, findings }) = found else {
            continue;
        };
        let root = root.to_string_lossy().into_owned();
        // Two modules of one project: their findings are the project's.
        if out.iter().any(|e| e.root == root) {
            continue;
        }
        let shown = crash.static_findings.as_ref();
        let findings: Vec<SourceFinding> = findings
            .into_iter()
            .filter(|f| rules.contains(&f.finding.code))
            .filter(|f| {
                !shown.is_some_and(|s| {
                    Path::new(&s.file) == Path::new(&f.file)
                        && s.findings
                            .iter()
                            .any(|g| g.code == f.finding.code && g.span == f.finding.span)
                })
            })
            .collect();
        if !findings.is_empty() {
            out.push(ExtensionFindings {
                module: ext.module.clone(),
                root,
                findings,
            });
        }
    }
    out
}

/// What to run next to see more of this crash.
fn next_steps(crash: &CrashReport, options: &RunOptions, command: &[String]) -> Vec<String> {
    let mode = options.mode;
    let mut steps = Vec::new();
    let Some(class) = crash.classification else {
        return steps;
    };
    let program = shell_words(command);
    let freed = matches!(
        class,
        Classification::FreedObjectUse
            | Classification::NegativeRefcount
            | Classification::DoubleFree
    );
    if freed && crash.free_site.is_none() && mode == Mode::Plain {
        steps.push(format!(
            "refsan run --valgrind -- {program}    (shows the stack that freed the object)"
        ));
        if let Some(site) = &crash.fault_site {
            let dir = Path::new(&site.library)
                .parent()
                .map(|d| crate::build::project_dir(d).to_string_lossy().into_owned())
                .unwrap_or_else(|| ".".into());
            steps.push(format!(
                "refsan build --asan {} && refsan run --asan -- {program}    (the extension's own bad access, with the free and allocation stacks)",
                shell_words(&[dir])
            ));
        }
    }
    let freed_stack = crash
        .native_stacks
        .iter()
        .any(|s| s.label.starts_with("freed by"));
    if freed && crash.free_site.is_none() && mode == Mode::Asan && !options.full_stacks {
        let why = if freed_stack {
            "the stack that freed the object stops in code without frame pointers"
        } else {
            "the stack that freed the object"
        };
        steps.push(format!(
            "refsan run --asan --full-stacks -- {program}    ({why}; complete, several times slower)"
        ));
    }
    if class == Classification::BufferOverflow && mode == Mode::Plain {
        steps.push(format!(
            "refsan run --valgrind -- {program}    (the faulting access and the block's allocation)"
        ));
    }
    for ext in &crash.extension_findings {
        steps.push(format!(
            "refsan check {}    (every finding of {}'s sources)",
            shell_words(std::slice::from_ref(&ext.root)),
            ext.module
        ));
    }
    steps
}

pub fn static_section_for(
    crash: &CrashReport,
    provider: &dyn StaticFindings,
) -> Option<StaticSection> {
    // The function at fault; else the one that freed the object.
    let site = crash.fault_site.as_ref().or(crash.free_site.as_ref())?;
    let (file, _) = site.display_location()?;
    let path = PathBuf::from(&file);
    if !path.is_file() {
        return None;
    }
    let function = site.display_function().to_string();
    let findings = provider.for_function(&path, &function);
    Some(StaticSection {
        file,
        function,
        findings,
    })
}

/// A private temporary directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn create() -> Result<TempDir, RunError> {
        let base = std::env::temp_dir();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        for attempt in 0..100u32 {
            let dir = base.join(format!(
                "refsan-run-{}-{:x}-{attempt}",
                std::process::id(),
                nanos
            ));
            match std::fs::create_dir(&dir) {
                Ok(()) => {
                    use std::os::unix::fs::PermissionsExt;
                    let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
                    return Ok(TempDir(dir));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(RunError::TempDir(e)),
            }
        }
        Err(RunError::TempDir(std::io::Error::other(
            "too many refsan temporary directories",
        )))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(function: &str, file: &str, line: u32, library: &str) -> NativeFrame {
        NativeFrame {
            function: Some(function.to_string()),
            file: Some(file.to_string()),
            line: Some(line),
            library: Some(library.to_string()),
            ..NativeFrame::default()
        }
    }

    #[test]
    fn free_list_caveat_only_when_no_extension_release_freed_the_block() {
        let so = "/src/ext.cpython-311-x86_64-linux-gnu.so";
        let py = "/usr/lib/libpython3.11.so.1.0";
        let stack = |frames: Vec<NativeFrame>| NativeStack {
            label: "freed".into(),
            source: StackSource::Valgrind,
            thread_id: None,
            frames,
        };
        let by_extension = stack(vec![
            frame("free", "vg_replace_malloc.c", 1, "vgpreload_memcheck.so"),
            frame("list_dealloc", "Objects/listobject.c", 1, py),
            frame("Holder_dealloc", "/src/ext.c", 25, so),
        ]);
        assert_eq!(free_list_note(&[by_extension]), None);
        let elsewhere = stack(vec![
            frame("free", "vg_replace_malloc.c", 1, "vgpreload_memcheck.so"),
            frame("tupledealloc", "Objects/tupleobject.c", 1, py),
            frame("_PyEval_EvalFrameDefault", "Python/ceval.c", 1, py),
        ]);
        assert!(free_list_note(&[elsewhere]).is_some_and(|n| n.contains("tupledealloc")));
        let trimmed = stack(vec![
            frame("free", "vg_replace_malloc.c", 1, "vgpreload_memcheck.so"),
            frame("_PyFloat_ClearFreeList", "Objects/floatobject.c", 1, py),
            frame("Holder_dealloc", "/src/ext.c", 25, so),
        ]);
        assert!(free_list_note(&[trimmed]).is_some());
    }

    #[test]
    fn extensions_come_from_the_maps_without_the_interpreters_own() {
        let mapped: Vec<PathBuf> = [
            "/usr/bin/python3.11",
            "/usr/lib/x86_64-linux-gnu/libc.so.6",
            "/usr/lib/python3.11/lib-dynload/_ssl.cpython-311-x86_64-linux-gnu.so",
            "/src/delayed.cpython-311-x86_64-linux-gnu.so",
            "/venv/lib/python3.11/site-packages/numpy/core/_multiarray_umath.cpython-311-x86_64-linux-gnu.so",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        let modules: Vec<String> = loaded_extensions(&mapped)
            .into_iter()
            .map(|e| e.module)
            .collect();
        assert_eq!(modules, ["delayed", "_multiarray_umath"]);
    }

    #[test]
    fn extension_site_skips_inlined_header_functions() {
        let so = "/src/refbugs.cpython-311-x86_64-linux-gnu.so";
        let frames = vec![
            frame(
                "PyObject_Repr",
                "Objects/object.c",
                415,
                "/usr/lib/libpython3.11.so.1.0",
            ),
            frame("Py_DECREF", "/usr/include/python3.11/object.h", 537, so),
            frame("unchecked_null", "/src/refbugs.c", 50, so),
            frame(
                "cfunction_vectorcall_O",
                "Objects/methodobject.c",
                514,
                "/usr/lib/libpython3.11.so.1.0",
            ),
        ];
        let site = extension_site(&frames).unwrap();
        assert_eq!(site.module, "refbugs");
        assert_eq!(site.function, "unchecked_null");
        assert_eq!(site.line, Some(50));
    }

    #[test]
    fn extension_libraries() {
        assert!(is_extension_library(
            "/x/refbugs.cpython-311-x86_64-linux-gnu.so"
        ));
        assert!(is_extension_library("/x/mod.abi3.so"));
        assert!(!is_extension_library("/usr/lib/libpython3.11.so.1.0"));
        assert!(!is_extension_library("/usr/lib/x86_64-linux-gnu/libc.so.6"));
        assert!(!is_extension_library(
            "/usr/lib/python3.11/lib-dynload/_ctypes.cpython-311-x86_64-linux-gnu.so"
        ));
        assert!(!is_extension_library("/usr/bin/python3.11"));
        assert!(!is_extension_library(
            "/usr/libexec/valgrind/vgpreload_memcheck-amd64-linux.so"
        ));
    }

    #[test]
    fn py_bt_output() {
        let tb = parse_py_bt("Traceback (most recent call first):\n  <built-in method double_decref of module object at remote 0x7ffff70cacf0>\n  File \"<string>\", line 1, in <module>\n").unwrap();
        assert_eq!(tb.frames[0].function, "double_decref");
        assert_eq!(tb.frames[1].line, Some(1));
        assert_eq!(tb.frames[1].function, "<module>");
    }

    #[test]
    fn exit_status_like_a_shell() {
        assert_eq!(program_exit(ProgramEnd::Exited(3)).status, 3);
        assert_eq!(program_exit(ProgramEnd::Signaled(11)).status, 139);
        assert_eq!(program_exit(ProgramEnd::TimedOut).status, 124);
    }
}
