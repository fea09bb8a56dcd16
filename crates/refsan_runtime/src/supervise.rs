//! Runs the program and watches it die.
//!
//! # Design
//!
//! **Output.** The program inherits refsan's stdin and stdout untouched.
//! Its stderr is a pipe that a thread copies, byte for byte and as soon as it
//! arrives, to refsan's own stderr while keeping the last few megabytes: the
//! Python traceback that faulthandler prints on a crash, "Fatal Python
//! error" messages and the debug allocator's dumps all go to fd 2 and there is
//! no other place to get them from. The price is that `isatty(2)` is false in
//! the program.
//!
//! **Native stacks without re-running.** In the plain mode the program runs
//! under `ptrace`, traced by refsan itself (`PTRACE_TRACEME`, following
//! threads, forks and execs), but refsan only looks at signals: no syscall
//! tracing, so a program that does not crash runs at full speed. When a
//! thread stops on its way to receive SIGSEGV, SIGBUS, SIGILL, SIGFPE or
//! SIGABRT, refsan reads the faulting address and the registers, detaches
//! every thread of that process leaving it in a job-control stop with the
//! crashing thread still at the faulting instruction, and lets the caller
//! attach gdb (see [`crate::gdb`]). Then the signal is let through: the
//! program's faulthandler prints the Python traceback and the process dies
//! exactly as it would have without refsan. No core file, no second run, and
//! the stack is the one of the crash, not of a hopefully identical re-run.
//! Under ASan or Valgrind the tool itself reports stacks and the program is
//! not traced.
//!
//! **Signals and exit status.** refsan blocks SIGINT, SIGTERM, SIGHUP,
//! SIGQUIT, SIGUSR1 and SIGUSR2 and reads them from a signalfd: one that the
//! terminal sent to the whole foreground process group (Ctrl-C) has already
//! reached the program and is not sent twice; one sent to refsan alone
//! (`kill`) is forwarded. refsan never dies of them before the program does.
//! Job control works at the process-group level (Ctrl-Z stops both, `fg`
//! resumes both); a SIGSTOP sent to the traced program alone does not keep it
//! stopped.
//!
//! **Timeouts.** With a timeout, a program still running at the deadline is
//! frozen and captured like a crash (all threads), then sent SIGABRT so that
//! faulthandler prints every thread's Python stack, and killed (with every
//! traced descendant) if it is still alive three seconds later.

use crate::classify::SignalFacts;
use crate::procfs;
use std::collections::HashSet;
use std::ffi::OsString;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Signals that end a process with a crash.
pub const CRASH_SIGNALS: [i32; 5] = [
    libc::SIGSEGV,
    libc::SIGBUS,
    libc::SIGILL,
    libc::SIGFPE,
    libc::SIGABRT,
];

/// Signals refsan passes on to the program when they were sent to refsan
/// alone.
const FORWARDED: [i32; 6] = [
    libc::SIGINT,
    libc::SIGTERM,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
];

/// How long a process may take to die after its crash signal was let
/// through, and after a timeout's SIGABRT.
const DEATH_GRACE: Duration = Duration::from_secs(3);

#[derive(Debug, thiserror::Error)]
pub enum SuperviseError {
    #[error("cannot start {program}: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error("{what}: {source}")]
    Os {
        what: &'static str,
        source: std::io::Error,
    },
}

fn os_error(what: &'static str) -> SuperviseError {
    SuperviseError::Os {
        what,
        source: std::io::Error::last_os_error(),
    }
}

/// What to start and how.
#[derive(Clone, Debug)]
pub struct Launch {
    /// The executable to run (already resolved).
    pub program: PathBuf,
    /// `argv[0]` as the user typed it.
    pub argv0: OsString,
    pub args: Vec<OsString>,
    /// Environment variables to set on top of refsan's own environment.
    pub env: Vec<(OsString, OsString)>,
    /// Trace the program to catch crashes alive (the plain mode).
    pub trace: bool,
    pub timeout: Option<Duration>,
    /// Keep the program's output to refsan (stdout discarded, stderr only
    /// captured): for re-running a crash found by another command.
    pub quiet: bool,
}

/// A crashed (or timed-out) process held still for inspection: stopped, and
/// no longer traced by refsan, so a debugger can attach.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frozen {
    pub pid: i32,
    /// The thread that received the signal (for a timeout, the main thread).
    pub tid: i32,
}

/// How a process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Death {
    Exited(i32),
    Signaled(i32),
    /// Gone, status unknown (a descendant refsan no longer traced).
    Gone,
}

/// One crash seen alive.
#[derive(Debug)]
pub struct CrashEvent<C> {
    pub pid: i32,
    pub tid: i32,
    pub main_process: bool,
    pub signal: SignalFacts,
    /// General-purpose registers of the crashing thread (x86-64 and aarch64).
    pub registers: Vec<(String, u64)>,
    pub command_line: Vec<String>,
    pub thread_name: Option<String>,
    /// The files mapped into the process at the crash (its shared
    /// libraries and extension modules).
    pub mapped_files: Vec<PathBuf>,
    /// What the capture callback returned (gdb's stacks).
    pub capture: Option<C>,
    /// Why there is no capture, when there is none.
    pub capture_note: Option<String>,
    pub death: Option<Death>,
    /// The part of the program's stderr that belongs to this crash.
    pub stderr: Vec<u8>,
}

/// How the program ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProgramEnd {
    Exited(i32),
    Signaled(i32),
    TimedOut,
}

/// A timeout, with the state of the program when it ran out of time.
#[derive(Debug)]
pub struct TimeoutEvent<C> {
    pub pid: i32,
    pub after: Duration,
    pub capture: Option<C>,
    pub capture_note: Option<String>,
    pub command_line: Vec<String>,
    pub stderr: Vec<u8>,
}

/// The outcome of a supervised run.
#[derive(Debug)]
pub struct Supervised<C> {
    pub end: ProgramEnd,
    pub main_pid: i32,
    pub crashes: Vec<CrashEvent<C>>,
    pub timeout: Option<TimeoutEvent<C>>,
    /// Set when tracing was asked for but could not be set up.
    pub trace_note: Option<String>,
    /// The program's stderr from the start (bounded to the last few MiB).
    pub stderr_tail: Vec<u8>,
}

/// Runs `launch` to completion. `capture` is called with each crashed
/// process held still (plain mode only) and may return whatever it learnt.
pub fn run<C, F>(launch: &Launch, capture: Option<F>) -> Result<Supervised<C>, SuperviseError>
where
    F: FnMut(Frozen) -> Result<C, String>,
{
    let signals = SignalGuard::block(&FORWARDED)?;
    let (tee, stderr_write) = StderrTee::start(!launch.quiet)?;
    let refsan_pid = std::process::id() as i32;
    let trace = launch.trace;

    let mut command = Command::new(&launch.program);
    command
        .arg0(&launch.argv0)
        .args(&launch.args)
        .envs(launch.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::inherit())
        .stdout(if launch.quiet {
            Stdio::null()
        } else {
            Stdio::inherit()
        })
        .stderr(Stdio::from(stderr_write));
    // SAFETY: only async-signal-safe system calls run between fork and exec.
    unsafe {
        command.pre_exec(move || {
            // refsan blocks the signals it forwards; the program must start
            // with none blocked (a blocked SIGINT or SIGTERM would silently
            // never arrive).
            reset_signal_mask();
            if trace {
                // Let refsan's children (gdb) attach under Yama's ptrace
                // scope 1; harmless where Yama is absent.
                libc::prctl(libc::PR_SET_PTRACER, refsan_pid as libc::c_ulong, 0, 0, 0);
                libc::ptrace(libc::PTRACE_TRACEME, 0, 0, 0);
            }
            Ok(())
        });
    }
    let child = command.spawn().map_err(|source| SuperviseError::Spawn {
        program: launch.program.display().to_string(),
        source,
    })?;
    drop(command);
    let main_pid = child.id() as i32;
    // The Child handle is not used for waiting: the loop below reaps with
    // waitpid, which must see traced threads and descendants too.
    drop(child);

    let mut sup = Supervisor {
        main_pid,
        tracing: false,
        known: HashSet::new(),
        initial_stop_expected: HashSet::new(),
        pending: Vec::new(),
        done: Vec::new(),
        main_end: None,
        tee,
        stderr_cut: 0,
        capture,
        trace_note: None,
        started: Instant::now(),
    };
    if trace {
        sup.start_tracing();
    }
    let end = sup.main_loop(&signals, launch.timeout)?;
    let stderr_tail = sup.tee.settle_and_take_all();
    Ok(Supervised {
        end: match end {
            LoopEnd::Program(e) => e,
            LoopEnd::Timeout(_) => ProgramEnd::TimedOut,
        },
        main_pid,
        crashes: sup.done,
        timeout: match end {
            LoopEnd::Timeout(t) => Some(t),
            LoopEnd::Program(_) => None,
        },
        trace_note: sup.trace_note,
        stderr_tail,
    })
}

enum LoopEnd<C> {
    Program(ProgramEnd),
    Timeout(TimeoutEvent<C>),
}

struct Pending<C> {
    event: CrashEvent<C>,
    /// Still traced by refsan (its death comes through waitpid).
    traced: bool,
    since: Instant,
}

struct Supervisor<C, F> {
    main_pid: i32,
    tracing: bool,
    /// Traced threads and processes seen so far.
    known: HashSet<i32>,
    /// New tracees whose first stop is the SIGSTOP of auto-attachment.
    initial_stop_expected: HashSet<i32>,
    pending: Vec<Pending<C>>,
    done: Vec<CrashEvent<C>>,
    main_end: Option<ProgramEnd>,
    tee: StderrTee,
    /// Where the last finished crash's stderr ended.
    stderr_cut: u64,
    capture: Option<F>,
    trace_note: Option<String>,
    started: Instant,
}

impl<C, F> Supervisor<C, F>
where
    F: FnMut(Frozen) -> Result<C, String>,
{
    /// The child stops at its exec with SIGTRAP when PTRACE_TRACEME worked.
    fn start_tracing(&mut self) {
        let pid = self.main_pid;
        if procfs::tracer_of(pid) != Some(std::process::id() as i32) {
            self.trace_note = Some(
                "the program could not be traced (ptrace not permitted here?): no native stack at the moment of the crash".to_string(),
            );
            return;
        }
        let mut status = 0;
        // SAFETY: plain system calls on our own child.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::__WALL) };
        if r != pid || !libc::WIFSTOPPED(status) {
            if r == pid {
                self.record_wait(pid, status);
            }
            self.trace_note =
                Some("the program did not stop at its start under ptrace".to_string());
            return;
        }
        let options = libc::PTRACE_O_TRACECLONE
            | libc::PTRACE_O_TRACEFORK
            | libc::PTRACE_O_TRACEVFORK
            | libc::PTRACE_O_TRACEEXEC;
        // SAFETY: the tracee is stopped.
        unsafe {
            libc::ptrace(libc::PTRACE_SETOPTIONS, pid, 0, options as libc::c_ulong);
        }
        self.tracing = true;
        self.known.insert(pid);
        ptrace_cont(pid, 0);
    }

    fn main_loop(
        &mut self,
        signals: &SignalGuard,
        timeout: Option<Duration>,
    ) -> Result<LoopEnd<C>, SuperviseError> {
        let deadline = timeout.map(|t| self.started + t);
        loop {
            self.reap();
            self.check_untraced_pending();
            if let Some(end) = self.main_end {
                self.finish_pending(end);
                return Ok(LoopEnd::Program(end));
            }
            let now = Instant::now();
            if let Some(d) = deadline {
                if now >= d {
                    return Ok(LoopEnd::Timeout(self.time_out(timeout.unwrap_or_default())));
                }
            }
            let mut wait_ms: i32 = -1;
            if let Some(d) = deadline {
                wait_ms = d
                    .saturating_duration_since(now)
                    .as_millis()
                    .min(i32::MAX as u128) as i32
                    + 1;
            }
            if self.pending.iter().any(|p| !p.traced) {
                wait_ms = if wait_ms < 0 { 20 } else { wait_ms.min(20) };
            }
            for info in signals.wait(wait_ms)? {
                self.on_refsan_signal(&info);
            }
        }
    }

    /// Collects every state change waiting to be collected.
    fn reap(&mut self) {
        loop {
            let mut status = 0;
            // SAFETY: plain system call.
            let pid = unsafe { libc::waitpid(-1, &mut status, libc::__WALL | libc::WNOHANG) };
            if pid == 0 {
                return;
            }
            if pid < 0 {
                let err = std::io::Error::last_os_error();
                if err.raw_os_error() == Some(libc::EINTR) {
                    continue;
                }
                // ECHILD: nothing left to wait for; the main process is gone.
                if self.main_end.is_none() {
                    self.main_end = Some(ProgramEnd::Exited(0));
                }
                return;
            }
            self.record_wait(pid, status);
        }
    }

    fn record_wait(&mut self, pid: i32, status: i32) {
        if libc::WIFEXITED(status) || libc::WIFSIGNALED(status) {
            let death = if libc::WIFEXITED(status) {
                Death::Exited(libc::WEXITSTATUS(status))
            } else {
                Death::Signaled(libc::WTERMSIG(status))
            };
            self.known.remove(&pid);
            if pid == self.main_pid {
                self.main_end = Some(match death {
                    Death::Exited(c) => ProgramEnd::Exited(c),
                    Death::Signaled(s) => ProgramEnd::Signaled(s),
                    Death::Gone => ProgramEnd::Exited(0),
                });
            }
            self.on_death(pid, death);
            return;
        }
        if libc::WIFSTOPPED(status) {
            self.on_stop(pid, status);
        }
    }

    fn on_stop(&mut self, pid: i32, status: i32) {
        let sig = libc::WSTOPSIG(status);
        let event = (status >> 16) & 0xff;
        if event != 0 {
            if matches!(
                event,
                libc::PTRACE_EVENT_FORK | libc::PTRACE_EVENT_VFORK | libc::PTRACE_EVENT_CLONE
            ) {
                let mut new_pid: libc::c_ulong = 0;
                // SAFETY: the tracee is in an event stop.
                unsafe {
                    libc::ptrace(libc::PTRACE_GETEVENTMSG, pid, 0, &mut new_pid);
                }
                let new_pid = new_pid as i32;
                if !self.known.contains(&new_pid) {
                    self.initial_stop_expected.insert(new_pid);
                }
            }
            ptrace_cont(pid, 0);
            return;
        }
        let first_stop = self.initial_stop_expected.remove(&pid) || !self.known.contains(&pid);
        self.known.insert(pid);
        if first_stop && sig == libc::SIGSTOP {
            // The stop every auto-attached thread or child starts with.
            ptrace_cont(pid, 0);
            return;
        }
        if matches!(
            sig,
            libc::SIGSTOP | libc::SIGTSTP | libc::SIGTTIN | libc::SIGTTOU
        ) && get_siginfo(pid).is_none()
        {
            // A group-stop (the signal was already delivered): resume it, or
            // the tracee would stay stopped forever once SIGCONT has passed.
            ptrace_cont(pid, 0);
            return;
        }
        if CRASH_SIGNALS.contains(&sig) {
            self.on_crash_signal(pid, sig);
            return;
        }
        ptrace_cont(pid, sig);
    }

    fn on_crash_signal(&mut self, tid: i32, sig: i32) {
        let pid = procfs::tgid_of(tid).unwrap_or(tid);
        let info = get_siginfo(tid);
        let signal = SignalFacts {
            signo: sig,
            code: info.map(|i| i.si_code).unwrap_or(0),
            address: info.and_then(|i| {
                if i.si_code > 0
                    && i.si_code != libc::SI_KERNEL
                    && CRASH_SIGNALS[..4].contains(&sig)
                {
                    // SAFETY: si_addr is the active field for kernel-raised
                    // SIGSEGV/SIGBUS/SIGILL/SIGFPE.
                    Some(unsafe { i.si_addr() } as u64)
                } else {
                    None
                }
            }),
        };
        let mut event = CrashEvent {
            pid,
            tid,
            main_process: pid == self.main_pid,
            signal,
            registers: read_registers(tid),
            command_line: procfs::command_line(pid),
            thread_name: procfs::thread_name(pid, tid),
            mapped_files: procfs::mapped_files(pid),
            capture: None,
            capture_note: None,
            death: None,
            stderr: Vec::new(),
        };
        let traced = match self.capture.is_some() {
            false => {
                ptrace_cont(tid, sig);
                true
            }
            true => match self.freeze(pid, Some(tid)) {
                Ok(()) => {
                    let frozen = Frozen { pid, tid };
                    if let Some(cap) = self.capture.as_mut() {
                        match cap(frozen) {
                            Ok(c) => event.capture = Some(c),
                            Err(e) => event.capture_note = Some(e),
                        }
                    }
                    // Let the signal through: a fault re-executes and faults
                    // again; a sent signal (abort()) is sent again.
                    // SAFETY: plain system calls.
                    unsafe {
                        if !signal.is_fault() {
                            libc::syscall(libc::SYS_tgkill, pid, tid, sig);
                        }
                        libc::kill(pid, libc::SIGCONT);
                    }
                    false
                }
                Err(note) => {
                    event.capture_note = Some(note);
                    // The crashing thread is still ours and stopped.
                    ptrace_cont(tid, sig);
                    true
                }
            },
        };
        self.pending.push(Pending {
            event,
            traced,
            since: Instant::now(),
        });
    }

    /// Stops every thread of `pid` and detaches from all of them, leaving the
    /// process in a job-control stop (crashing thread `tid` still at its
    /// faulting instruction). With `tid` None every thread is running.
    fn freeze(&mut self, pid: i32, tid: Option<i32>) -> Result<(), String> {
        let mut detached: HashSet<i32> = HashSet::new();
        for _round in 0..5 {
            let others: Vec<i32> = procfs::threads_of(pid)
                .into_iter()
                .filter(|t| Some(*t) != tid && !detached.contains(t))
                .collect();
            if others.is_empty() {
                break;
            }
            for t in &others {
                // SAFETY: plain system call.
                unsafe {
                    libc::syscall(libc::SYS_tgkill, pid, *t, libc::SIGSTOP);
                }
            }
            for t in others {
                if self.stop_and_detach(t) {
                    detached.insert(t);
                } else if procfs::state_of(t).is_some() && procfs::is_alive(pid) {
                    return Err(format!(
                        "thread {t} of process {pid} did not stop; native stacks not collected"
                    ));
                }
            }
        }
        match tid {
            Some(t) => {
                // SAFETY: `t` is in a signal-delivery stop; the SIGSTOP stays
                // pending and stops the whole (now untraced) process before
                // the faulting instruction runs again.
                unsafe {
                    libc::syscall(libc::SYS_tgkill, pid, t, libc::SIGSTOP);
                    libc::ptrace(libc::PTRACE_DETACH, t, 0, 0);
                }
                self.known.remove(&t);
            }
            None => {
                // SAFETY: plain system call.
                unsafe {
                    libc::kill(pid, libc::SIGSTOP);
                }
            }
        }
        for t in &detached {
            self.known.remove(t);
        }
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            match procfs::state_of(pid) {
                Some('T') => return Ok(()),
                None | Some('Z') => return Err("the process ended while being stopped".into()),
                _ => std::thread::sleep(Duration::from_millis(2)),
            }
        }
        Err(format!("process {pid} did not stop for inspection"))
    }

    /// Waits for traced thread `t` to stop on the SIGSTOP just sent, then
    /// detaches it; other stops on the way are passed on.
    fn stop_and_detach(&mut self, t: i32) -> bool {
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            let mut status = 0;
            // SAFETY: plain system call.
            let r = unsafe { libc::waitpid(t, &mut status, libc::__WALL | libc::WNOHANG) };
            if r == 0 {
                std::thread::sleep(Duration::from_micros(200));
                continue;
            }
            if r < 0 {
                return false;
            }
            if libc::WIFEXITED(status) || libc::WIFSIGNALED(status) {
                self.record_wait(t, status);
                return false;
            }
            let sig = libc::WSTOPSIG(status);
            let event = (status >> 16) & 0xff;
            if event != 0 {
                ptrace_cont(t, 0);
                continue;
            }
            if sig == libc::SIGSTOP {
                // SAFETY: `t` is stopped; detaching drops the SIGSTOP.
                unsafe {
                    libc::ptrace(libc::PTRACE_DETACH, t, 0, 0);
                }
                self.initial_stop_expected.remove(&t);
                return true;
            }
            ptrace_cont(t, sig);
        }
        false
    }

    fn on_death(&mut self, pid: i32, death: Death) {
        if let Some(pos) = self.pending.iter().position(|p| p.event.pid == pid) {
            let mut p = self.pending.remove(pos);
            p.event.death = Some(death);
            p.event.stderr = self.crash_stderr();
            self.done.push(p.event);
        }
    }

    /// The stderr written since the previous crash finished, once the tee
    /// has caught up.
    fn crash_stderr(&mut self) -> Vec<u8> {
        self.tee.settle();
        let end = self.tee.end();
        let start = self.stderr_cut.max(end.saturating_sub(256 * 1024));
        self.stderr_cut = end;
        self.tee.slice(start, end)
    }

    /// Processes refsan no longer traces die without telling it.
    fn check_untraced_pending(&mut self) {
        let gone: Vec<i32> = self
            .pending
            .iter()
            .filter(|p| !p.traced && p.event.pid != self.main_pid && !procfs::is_alive(p.event.pid))
            .map(|p| p.event.pid)
            .collect();
        for pid in gone {
            self.on_death(pid, Death::Gone);
        }
    }

    /// The program has ended: crashes of descendants still dying get a short
    /// grace; those that survived their signal were not crashes.
    fn finish_pending(&mut self, _end: ProgramEnd) {
        let deadline = Instant::now() + DEATH_GRACE;
        while !self.pending.is_empty() && Instant::now() < deadline {
            self.reap();
            self.check_untraced_pending();
            let oldest_alive = self.pending.iter().all(|p| p.since.elapsed() > DEATH_GRACE);
            if oldest_alive {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        self.pending.clear();
    }

    fn on_refsan_signal(&mut self, info: &libc::signalfd_siginfo) {
        let signo = info.ssi_signo as i32;
        if signo == libc::SIGCHLD {
            return;
        }
        // The terminal signals the whole foreground process group: the
        // program got it too.
        if info.ssi_code == libc::SI_KERNEL {
            return;
        }
        // SAFETY: plain system call.
        unsafe {
            libc::kill(self.main_pid, signo);
        }
    }

    fn time_out(&mut self, after: Duration) -> TimeoutEvent<C> {
        let pid = self.main_pid;
        let command_line = procfs::command_line(pid);
        let mut capture = None;
        let mut capture_note = None;
        if self.tracing && self.capture.is_some() && procfs::is_alive(pid) {
            match self.freeze(pid, None) {
                Ok(()) => {
                    if let Some(cap) = self.capture.as_mut() {
                        match cap(Frozen { pid, tid: pid }) {
                            Ok(c) => capture = Some(c),
                            Err(e) => capture_note = Some(e),
                        }
                    }
                }
                Err(e) => capture_note = Some(e),
            }
        }
        // faulthandler prints every thread's Python stack on SIGABRT; sent
        // to the main thread, whose stack it prints first.
        // SAFETY: plain system calls.
        unsafe {
            libc::syscall(libc::SYS_tgkill, pid, pid, libc::SIGABRT);
            libc::kill(pid, libc::SIGCONT);
        }
        let deadline = Instant::now() + DEATH_GRACE;
        while self.main_end.is_none() && Instant::now() < deadline {
            self.reap();
            std::thread::sleep(Duration::from_millis(10));
        }
        if self.main_end.is_none() {
            // SAFETY: plain system call.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
        // Descendants still traced would outlive the run: end them too.
        let leftovers: Vec<i32> = self.known.iter().copied().collect();
        for p in leftovers {
            // SAFETY: plain system call.
            unsafe {
                libc::kill(p, libc::SIGKILL);
            }
        }
        let deadline = Instant::now() + DEATH_GRACE;
        while self.main_end.is_none() && Instant::now() < deadline {
            self.reap();
            std::thread::sleep(Duration::from_millis(10));
        }
        self.pending.clear();
        TimeoutEvent {
            pid,
            after,
            capture,
            capture_note,
            command_line,
            stderr: self.crash_stderr(),
        }
    }
}

/// Unblocks every signal in the calling thread; for children about to exec,
/// which inherit refsan's mask otherwise.
pub fn reset_signal_mask() {
    // SAFETY: sigemptyset/pthread_sigmask on a local set; async-signal-safe.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::pthread_sigmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
    }
}

fn ptrace_cont(pid: i32, sig: i32) {
    // SAFETY: fails harmlessly (ESRCH) when the tracee is gone.
    unsafe {
        libc::ptrace(libc::PTRACE_CONT, pid, 0, sig as libc::c_ulong);
    }
}

fn get_siginfo(pid: i32) -> Option<libc::siginfo_t> {
    // SAFETY: siginfo_t is plain data; the kernel fills it.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        let r = libc::ptrace(libc::PTRACE_GETSIGINFO, pid, 0, &mut info);
        (r == 0).then_some(info)
    }
}

#[cfg(target_arch = "x86_64")]
fn read_registers(tid: i32) -> Vec<(String, u64)> {
    // SAFETY: user_regs_struct is plain data; the kernel fills it.
    let regs = unsafe {
        let mut regs: libc::user_regs_struct = std::mem::zeroed();
        if libc::ptrace(libc::PTRACE_GETREGS, tid, 0, &mut regs) != 0 {
            return Vec::new();
        }
        regs
    };
    [
        ("rip", regs.rip),
        ("rax", regs.rax),
        ("rbx", regs.rbx),
        ("rcx", regs.rcx),
        ("rdx", regs.rdx),
        ("rsi", regs.rsi),
        ("rdi", regs.rdi),
        ("rbp", regs.rbp),
        ("rsp", regs.rsp),
        ("r8", regs.r8),
        ("r9", regs.r9),
        ("r10", regs.r10),
        ("r11", regs.r11),
        ("r12", regs.r12),
        ("r13", regs.r13),
        ("r14", regs.r14),
        ("r15", regs.r15),
    ]
    .into_iter()
    .map(|(n, v)| (n.to_string(), v))
    .collect()
}

#[cfg(target_arch = "aarch64")]
fn read_registers(tid: i32) -> Vec<(String, u64)> {
    // SAFETY: user_regs_struct is plain data; the kernel fills it through
    // the iovec.
    let regs = unsafe {
        let mut regs: libc::user_regs_struct = std::mem::zeroed();
        let mut iov = libc::iovec {
            iov_base: &mut regs as *mut _ as *mut libc::c_void,
            iov_len: std::mem::size_of::<libc::user_regs_struct>(),
        };
        if libc::ptrace(libc::PTRACE_GETREGSET, tid, libc::NT_PRSTATUS, &mut iov) != 0 {
            return Vec::new();
        }
        regs
    };
    let mut out = vec![("pc".to_string(), regs.pc), ("sp".to_string(), regs.sp)];
    out.extend(
        regs.regs
            .iter()
            .enumerate()
            .map(|(i, v)| (format!("x{i}"), *v)),
    );
    out
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn read_registers(_tid: i32) -> Vec<(String, u64)> {
    Vec::new()
}

/// Blocks the forwarded signals (and SIGCHLD) in refsan and reads them from
/// a signalfd; restores the mask when dropped. Threads started later inherit
/// the mask; the program gets an empty mask from `Command`.
struct SignalGuard {
    fd: OwnedFd,
    old_mask: libc::sigset_t,
}

impl SignalGuard {
    fn block(signals: &[i32]) -> Result<SignalGuard, SuperviseError> {
        // SAFETY: sigset manipulation on local values; signalfd returns a
        // new descriptor we own.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGCHLD);
            for s in signals {
                libc::sigaddset(&mut set, *s);
            }
            let mut old_mask: libc::sigset_t = std::mem::zeroed();
            if libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old_mask) != 0 {
                return Err(os_error("blocking signals"));
            }
            let fd = libc::signalfd(-1, &set, libc::SFD_CLOEXEC);
            if fd < 0 {
                libc::pthread_sigmask(libc::SIG_SETMASK, &old_mask, std::ptr::null_mut());
                return Err(os_error("signalfd"));
            }
            Ok(SignalGuard {
                fd: OwnedFd::from_raw_fd(fd),
                old_mask,
            })
        }
    }

    /// Waits up to `timeout_ms` (-1: forever) for signals and returns them.
    fn wait(&self, timeout_ms: i32) -> Result<Vec<libc::signalfd_siginfo>, SuperviseError> {
        let mut pfd = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let r = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
        if r < 0 {
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() == Some(libc::EINTR) {
                return Ok(Vec::new());
            }
            return Err(SuperviseError::Os {
                what: "poll",
                source: err,
            });
        }
        if r == 0 {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        loop {
            // SAFETY: reading whole signalfd_siginfo records into a zeroed
            // value of the right size.
            let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
            let size = size_of::<libc::signalfd_siginfo>();
            let n = unsafe {
                libc::read(
                    self.fd.as_raw_fd(),
                    &mut info as *mut _ as *mut libc::c_void,
                    size,
                )
            };
            if n as usize != size {
                break;
            }
            out.push(info);
            let mut again = libc::pollfd {
                fd: self.fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            if unsafe { libc::poll(&mut again, 1, 0) } <= 0 {
                break;
            }
        }
        Ok(out)
    }
}

impl Drop for SignalGuard {
    fn drop(&mut self) {
        // SAFETY: restores the mask saved in `block`.
        unsafe {
            libc::pthread_sigmask(libc::SIG_SETMASK, &self.old_mask, std::ptr::null_mut());
        }
    }
}

/// Keeps at most this much of the program's stderr.
const STDERR_KEEP: usize = 4 << 20;

#[derive(Default)]
struct StderrLog {
    data: Vec<u8>,
    /// Bytes dropped from the front.
    dropped: u64,
    closed: bool,
}

/// Copies the program's stderr to refsan's and remembers the tail.
struct StderrTee {
    log: Arc<Mutex<StderrLog>>,
}

impl StderrTee {
    fn start(forward: bool) -> Result<(StderrTee, OwnedFd), SuperviseError> {
        let mut fds = [0 as RawFd; 2];
        // SAFETY: pipe2 fills two descriptors we then own.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return Err(os_error("creating the stderr pipe"));
        }
        // SAFETY: both descriptors were just created and are owned here.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        let log = Arc::new(Mutex::new(StderrLog::default()));
        let thread_log = Arc::clone(&log);
        std::thread::Builder::new()
            .name("refsan-stderr".into())
            .spawn(move || copy_stderr(read, thread_log, forward))
            .map_err(|source| SuperviseError::Os {
                what: "starting the stderr thread",
                source,
            })?;
        Ok((StderrTee { log }, write))
    }

    fn end(&self) -> u64 {
        match self.log.lock() {
            Ok(l) => l.dropped + l.data.len() as u64,
            Err(_) => 0,
        }
    }

    fn slice(&self, from: u64, to: u64) -> Vec<u8> {
        let Ok(l) = self.log.lock() else {
            return Vec::new();
        };
        let start = from.saturating_sub(l.dropped) as usize;
        let end = (to.saturating_sub(l.dropped) as usize).min(l.data.len());
        l.data
            .get(start..end)
            .map(<[u8]>::to_vec)
            .unwrap_or_default()
    }

    /// Waits until nothing new arrived for a moment (or the pipe closed), so
    /// that what a dying process wrote has been read.
    fn settle(&self) {
        let deadline = Instant::now() + Duration::from_millis(1000);
        let mut last = self.end();
        let mut quiet_since = Instant::now();
        while Instant::now() < deadline {
            if self.log.lock().map(|l| l.closed).unwrap_or(true) {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
            let now_end = self.end();
            if now_end != last {
                last = now_end;
                quiet_since = Instant::now();
            } else if quiet_since.elapsed() >= Duration::from_millis(40) {
                return;
            }
        }
    }

    fn settle_and_take_all(&self) -> Vec<u8> {
        self.settle();
        match self.log.lock() {
            Ok(l) => l.data.clone(),
            Err(_) => Vec::new(),
        }
    }
}

fn copy_stderr(read: OwnedFd, log: Arc<Mutex<StderrLog>>, forward: bool) {
    let mut buf = vec![0u8; 64 * 1024];
    // SAFETY: fd 2 stays open for the life of refsan; ManuallyDrop keeps
    // this File from closing it.
    let mut out = std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(2) });
    loop {
        // SAFETY: reading into our own buffer.
        let n = unsafe {
            libc::read(
                read.as_raw_fd(),
                buf.as_mut_ptr() as *mut libc::c_void,
                buf.len(),
            )
        };
        if n < 0 {
            if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            break;
        }
        if n == 0 {
            break;
        }
        let chunk = &buf[..n as usize];
        // The user's stderr comes first; a closed stderr must not stop the
        // draining (the program would block on a full pipe).
        if forward {
            let _ = out.write_all(chunk);
        }
        if let Ok(mut l) = log.lock() {
            l.data.extend_from_slice(chunk);
            if l.data.len() > 2 * STDERR_KEEP {
                let excess = l.data.len() - STDERR_KEEP;
                l.data.drain(..excess);
                l.dropped += excess as u64;
            }
        }
    }
    if let Ok(mut l) = log.lock() {
        l.closed = true;
    }
}

/// Maps the kernel's signal numbers to names ("SIGSEGV").
pub fn signal_name(signo: i32) -> String {
    let name = match signo {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGUSR2 => "SIGUSR2",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        libc::SIGSYS => "SIGSYS",
        libc::SIGXCPU => "SIGXCPU",
        libc::SIGXFSZ => "SIGXFSZ",
        _ => return format!("signal {signo}"),
    };
    name.to_string()
}
