//! Runs the user's interpreter with refsan's helpers and turns what they
//! report (and how the process ended) into a [`LeakReport`].

use crate::error::LeaksError;
use crate::helpers::{self, HelperDir};
use crate::model::{CrashReport, Interpreter, LeakReport, Summary, TargetReport, TargetStatus};
use crate::protocol::{
    self, Event, HarnessConfig, HarnessTarget, MeasureOptions, TargetKind, PROTOCOL_VERSION,
};
use std::collections::HashSet;
use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Bytes of the interpreter's stderr kept for crash reports.
const STDERR_TAIL_BYTES: usize = 16000;
/// Interpreter start-up and imports, on top of the per-target timeout.
const STARTUP_GRACE: Duration = Duration::from_secs(30);
const POLL_INTERVAL: Duration = Duration::from_millis(10);

/// What to measure.
#[derive(Debug, Clone)]
pub enum LeakMode {
    /// `--call module:function` (one or more).
    Call { targets: Vec<String> },
    /// `--code "..."`
    Code { code: String },
    /// `-- pytest ARGS`: every collected test.
    Pytest { args: Vec<String> },
}

#[derive(Debug, Clone)]
pub struct LeakRequest {
    /// The interpreter: `python3`, `python3-dbg`, a path.
    pub python: String,
    pub mode: LeakMode,
    /// Python code run once before the targets are resolved.
    pub setup: Option<String>,
    /// The arguments of every call, written as inside a call: `x, key=1`.
    pub args: Option<String>,
    pub options: MeasureOptions,
    /// Per target (per function, per test): all of its runs.
    pub timeout: Duration,
    /// Where the interpreter runs (default: the current directory).
    pub working_dir: Option<PathBuf>,
}

impl LeakRequest {
    fn validate(&self) -> Result<(), LeaksError> {
        if self.options.runs == 0 {
            return Err(LeaksError::Request("--runs must be at least 1".into()));
        }
        if self.options.calls_per_run == 0 {
            return Err(LeaksError::Request(
                "--calls-per-run must be at least 1".into(),
            ));
        }
        match &self.mode {
            LeakMode::Call { targets } if targets.is_empty() => {
                Err(LeaksError::Request("no --call target given".into()))
            }
            LeakMode::Call { targets } => {
                for target in targets {
                    let (module, attr) = split_call_target(target)?;
                    if module.is_empty() || attr.is_empty() {
                        return Err(LeaksError::Request(format!(
                            "--call expects MODULE:FUNCTION (for example pkg.mod:func), got `{target}`"
                        )));
                    }
                }
                Ok(())
            }
            LeakMode::Code { .. } => Ok(()),
            LeakMode::Pytest { .. } if self.args.is_some() => Err(LeaksError::Request(
                "--args applies to --call, not to a pytest run".into(),
            )),
            LeakMode::Pytest { .. } => Ok(()),
        }
    }
}

/// Turns the words after `--` into pytest's arguments: `pytest ARGS`,
/// `py.test ARGS` or `PYTHON -m pytest ARGS` (whose interpreter is returned
/// when it names one).
pub fn parse_pytest_command(words: &[String]) -> Result<(Option<String>, Vec<String>), LeaksError> {
    let not_pytest = || {
        LeaksError::Request(format!(
            "`refsan leaks -- ...` runs a pytest command (`pytest ARGS` or `python -m pytest ARGS`), got `{}`",
            words.join(" ")
        ))
    };
    let program = words.first().ok_or_else(not_pytest)?;
    let program_name = Path::new(program)
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    if program_name == "pytest" || program_name == "py.test" {
        return Ok((None, words[1..].to_vec()));
    }
    let module = words
        .get(1..3)
        .map(|pair| [pair[0].as_str(), pair[1].as_str()]);
    if program_name.starts_with("python") && module == Some(["-m", "pytest"]) {
        return Ok((Some(program.clone()), words[3..].to_vec()));
    }
    Err(not_pytest())
}

fn split_call_target(target: &str) -> Result<(&str, &str), LeaksError> {
    target.split_once(':').ok_or_else(|| {
        LeaksError::Request(format!(
            "--call expects MODULE:FUNCTION (for example pkg.mod:func), got `{target}`"
        ))
    })
}

/// Receives a crash, to produce a fuller report than the stderr tail, for
/// example by running `crash.reproduce` under `refsan run`.
pub trait CrashHandOver {
    fn crash_report(&self, target: &str, crash: &CrashReport) -> Option<String>;
}

/// Measures every target of the request.
pub fn hunt(
    request: &LeakRequest,
    hand_over: Option<&dyn CrashHandOver>,
) -> Result<LeakReport, LeaksError> {
    request.validate()?;
    let helpers = HelperDir::create()?;
    let mut report = LeakReport {
        interpreter: None,
        options: request.options.clone(),
        timeout_seconds: request.timeout.as_secs_f64(),
        targets: Vec::new(),
        warnings: Vec::new(),
        setup_problems: Vec::new(),
        pytest_exit_status: None,
        summary: Summary::default(),
    };
    match &request.mode {
        LeakMode::Pytest { args } => run_pytest(request, args, &helpers, &mut report)?,
        LeakMode::Call { .. } | LeakMode::Code { .. } => {
            run_harness(request, &helpers, &mut report)?;
        }
    }
    for target in &mut report.targets {
        let (name, kind) = (target.name.clone(), target.kind);
        if let Some(crash) = &mut target.crash {
            if crash.reproduce.is_empty() {
                crash.reproduce = reproduce_command(request, &name, kind);
            }
        }
    }
    if let Some(hand_over) = hand_over {
        for target in &mut report.targets {
            if let Some(crash) = &mut target.crash {
                crash.handed_over = hand_over.crash_report(&target.name, crash);
            }
        }
    }
    if report
        .interpreter
        .as_ref()
        .is_some_and(|interpreter| !interpreter.debug_build)
    {
        report.warnings.push(format!(
            "`{}` is a release build: total reference counts (refs) need a debug build such as Debian's python3-dbg (--python python3-dbg, with the extension rebuilt for it); blocks, bytes, types and argument reference counts are measured",
            request.python
        ));
    }
    report.withhold_verdicts();
    report.summarize();
    Ok(report)
}

fn harness_targets(request: &LeakRequest) -> Vec<HarnessTarget> {
    match &request.mode {
        LeakMode::Call { targets } => targets
            .iter()
            .map(|target| HarnessTarget {
                name: target.clone(),
                kind: TargetKind::Call,
                spec: Some(target.clone()),
                code: None,
            })
            .collect(),
        LeakMode::Code { code } => vec![HarnessTarget {
            name: "<code>".into(),
            kind: TargetKind::Code,
            spec: None,
            code: Some(code.clone()),
        }],
        LeakMode::Pytest { .. } => Vec::new(),
    }
}

/// `--call` / `--code`: the standalone harness, restarted after a crash or
/// a hang with the targets that remain.
fn run_harness(
    request: &LeakRequest,
    helpers: &HelperDir,
    report: &mut LeakReport,
) -> Result<(), LeaksError> {
    let mut remaining = harness_targets(request);
    let mut attempt = 0;
    while !remaining.is_empty() {
        attempt += 1;
        let events_path = helpers.file(&format!("events-{attempt}.jsonl"));
        let config_path = helpers.file(&format!("config-{attempt}.json"));
        let config = HarnessConfig {
            events: events_path.to_string_lossy().into_owned(),
            setup: request.setup.clone(),
            args: request.args.clone(),
            targets: remaining.clone(),
            options: request.options.clone(),
            timeout_seconds: request.timeout.as_secs_f64(),
        };
        write_json(&config_path, &config)?;
        let mut command = Command::new(&request.python);
        command
            .arg("-X")
            .arg("faulthandler")
            .arg("-m")
            .arg(helpers::HARNESS_MODULE)
            .arg(&config_path);
        prepare(&mut command, request, helpers);
        let deadline = request.timeout * remaining.len() as u32 + STARTUP_GRACE;
        let finished = run_child(command, &request.python, Some(deadline))?;
        let events = read_events(&events_path)?;
        let progress = absorb_events(events, report)?;
        if !progress.hello {
            return Err(LeaksError::NoHarness {
                program: request.python.clone(),
                status: describe_status(&finished),
                stderr: stderr_suffix(&finished.stderr_tail),
            });
        }
        for done in &progress.finished {
            remaining.retain(|target| &target.name != done);
        }
        match progress.running {
            Some((name, kind)) => {
                let crash = crash_of(&finished, request, &name, kind);
                let status = if is_timeout(&finished) {
                    TargetStatus::TimedOut
                } else {
                    TargetStatus::Crashed
                };
                let mut target = TargetReport::unmeasured(name.clone(), kind, status);
                target.crash = Some(crash);
                report.targets.push(target);
                remaining.retain(|target| target.name != name);
            }
            None if !progress.done => {
                return Err(LeaksError::Harness(format!(
                    "the harness stopped ({}) between targets{}",
                    describe_status(&finished),
                    stderr_suffix(&finished.stderr_tail)
                )));
            }
            None => {}
        }
    }
    Ok(())
}

fn run_pytest(
    request: &LeakRequest,
    args: &[String],
    helpers: &HelperDir,
    report: &mut LeakReport,
) -> Result<(), LeaksError> {
    let events_path = helpers.file("events-pytest.jsonl");
    let config_path = helpers.file("config-pytest.json");
    let config = HarnessConfig {
        events: events_path.to_string_lossy().into_owned(),
        setup: request.setup.clone(),
        args: None,
        targets: Vec::new(),
        options: request.options.clone(),
        timeout_seconds: request.timeout.as_secs_f64(),
    };
    write_json(&config_path, &config)?;
    let mut command = Command::new(&request.python);
    command
        .arg("-m")
        .arg("pytest")
        .arg("-p")
        .arg(helpers::PYTEST_PLUGIN)
        .args(args)
        .env(helpers::PYTEST_CONFIG_ENV, &config_path);
    prepare(&mut command, request, helpers);
    // Each test has its own timeout inside the plugin; the suite as a whole
    // runs as long as pytest does.
    let finished = run_child(command, &request.python, None)?;
    let events = read_events(&events_path)?;
    let progress = absorb_events(events, report)?;
    if !progress.hello {
        return Err(LeaksError::NoHarness {
            program: format!("{} -m pytest", request.python),
            status: describe_status(&finished),
            stderr: stderr_suffix(&finished.stderr_tail),
        });
    }
    if let Some((name, kind)) = progress.running {
        // pytest itself died inside a test (outside the forked measurement:
        // in a fixture, or the test's normal run).
        let mut target = TargetReport::unmeasured(name.clone(), kind, TargetStatus::Crashed);
        target.crash = Some(crash_of(&finished, request, &name, kind));
        report.targets.push(target);
    }
    // pytest's own exit status; none when it was killed by a signal.
    report.pytest_exit_status = finished.status.code().or(progress.exit_status);
    Ok(())
}

fn prepare(command: &mut Command, request: &LeakRequest, helpers: &HelperDir) {
    let mut python_path = OsString::from(helpers.path());
    if let Some(existing) = std::env::var_os("PYTHONPATH").filter(|value| !value.is_empty()) {
        python_path.push(":");
        python_path.push(existing);
    }
    command
        .env("PYTHONPATH", python_path)
        .stdin(Stdio::inherit())
        .stdout(Stdio::inherit())
        .stderr(Stdio::piped());
    if let Some(dir) = &request.working_dir {
        command.current_dir(dir);
    }
}

fn write_json(path: &Path, value: &impl serde::Serialize) -> Result<(), LeaksError> {
    let text = serde_json::to_string_pretty(value).map_err(|err| LeaksError::Write {
        path: path.to_path_buf(),
        source: std::io::Error::other(err),
    })?;
    std::fs::write(path, text).map_err(|source| LeaksError::Write {
        path: path.to_path_buf(),
        source,
    })
}

fn read_events(path: &Path) -> Result<Vec<Event>, LeaksError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(source) => {
            return Err(LeaksError::ReadEvents {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    protocol::parse_events(&text).map_err(|(line, message)| LeaksError::Protocol { line, message })
}

/// What one run of the helpers got through.
#[derive(Default)]
struct Progress {
    hello: bool,
    done: bool,
    finished: Vec<String>,
    /// Started and never finished: the target that was running at the end.
    running: Option<(String, TargetKind)>,
    exit_status: Option<i32>,
}

fn absorb_events(events: Vec<Event>, report: &mut LeakReport) -> Result<Progress, LeaksError> {
    let mut progress = Progress::default();
    let mut seen_warnings: HashSet<String> = report.warnings.iter().cloned().collect();
    for event in events {
        match event {
            Event::Hello {
                protocol,
                interpreter,
            } => {
                if protocol != PROTOCOL_VERSION {
                    return Err(LeaksError::Harness(format!(
                        "the helpers speak protocol {protocol}, this refsan speaks {PROTOCOL_VERSION}"
                    )));
                }
                progress.hello = true;
                report.interpreter = Some(Interpreter::from(interpreter));
            }
            Event::TargetStart { target, kind } => progress.running = Some((target, kind)),
            Event::TargetResult(raw) => {
                progress.running = None;
                progress.finished.push(raw.target.clone());
                report.targets.push(TargetReport::from_raw(*raw));
            }
            Event::Warning { message } => {
                if seen_warnings.insert(message.clone()) {
                    report.warnings.push(message);
                }
            }
            Event::SetupProblem { message } => {
                if !report.setup_problems.contains(&message) {
                    report.setup_problems.push(message);
                }
            }
            Event::Fatal { message } => return Err(LeaksError::Harness(message)),
            Event::SessionFinish { exit_status } => progress.exit_status = Some(exit_status),
            Event::Done => progress.done = true,
        }
    }
    Ok(progress)
}

/// How the interpreter process ended.
struct Finished {
    status: ExitStatus,
    killed_at_deadline: bool,
    stderr_tail: String,
}

fn run_child(
    mut command: Command,
    program: &str,
    deadline: Option<Duration>,
) -> Result<Finished, LeaksError> {
    let mut child = command.spawn().map_err(|source| LeaksError::Spawn {
        program: program.to_string(),
        source,
    })?;
    let tail = Arc::new(Mutex::new(Vec::<u8>::new()));
    let forwarder = child.stderr.take().map(|stderr| {
        let tail = Arc::clone(&tail);
        thread::spawn(move || forward_stderr(stderr, &tail))
    });
    let (status, killed_at_deadline) = wait_until(&mut child, program, deadline)?;
    if let Some(forwarder) = forwarder {
        // The reader ends at EOF; a grandchild holding the pipe open would
        // keep it alive, so it is not waited for beyond the process itself.
        let started = Instant::now();
        while !forwarder.is_finished() && started.elapsed() < Duration::from_secs(2) {
            thread::sleep(POLL_INTERVAL);
        }
        if forwarder.is_finished() {
            let _ = forwarder.join();
        }
    }
    let stderr_tail = tail
        .lock()
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default();
    Ok(Finished {
        status,
        killed_at_deadline,
        stderr_tail,
    })
}

fn wait_until(
    child: &mut Child,
    program: &str,
    deadline: Option<Duration>,
) -> Result<(ExitStatus, bool), LeaksError> {
    let started = Instant::now();
    let wait_error = |source| LeaksError::Wait {
        program: program.to_string(),
        source,
    };
    loop {
        if let Some(status) = child.try_wait().map_err(wait_error)? {
            return Ok((status, false));
        }
        if deadline.is_some_and(|deadline| started.elapsed() >= deadline) {
            // Already exited between the two calls is fine: kill then fails.
            let _ = child.kill();
            let status = child.wait().map_err(wait_error)?;
            return Ok((status, true));
        }
        thread::sleep(POLL_INTERVAL);
    }
}

/// Copies the child's stderr to ours as it comes, keeping the last bytes.
fn forward_stderr(mut stderr: impl Read, tail: &Mutex<Vec<u8>>) {
    let mut buffer = [0u8; 8192];
    let mut ours = std::io::stderr();
    loop {
        match stderr.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(count) => {
                let chunk = &buffer[..count];
                let _ = ours.write_all(chunk);
                let _ = ours.flush();
                if let Ok(mut kept) = tail.lock() {
                    kept.extend_from_slice(chunk);
                    if kept.len() > STDERR_TAIL_BYTES {
                        let excess = kept.len() - STDERR_TAIL_BYTES;
                        kept.drain(..excess);
                    }
                }
            }
        }
    }
}

fn is_timeout(finished: &Finished) -> bool {
    // faulthandler.dump_traceback_later(..., exit=True) writes "Timeout (".
    finished.killed_at_deadline
        || (finished.status.code() == Some(1) && finished.stderr_tail.contains("Timeout ("))
}

fn crash_of(
    finished: &Finished,
    request: &LeakRequest,
    target: &str,
    kind: TargetKind,
) -> CrashReport {
    let signal = exit_signal(&finished.status);
    let detail = if is_timeout(finished) {
        format!(
            "did not finish within --timeout {}s",
            request.timeout.as_secs_f64()
        )
    } else {
        match signal {
            Some(number) => format!("killed by {}", signal_name(number)),
            None => format!("the interpreter exited ({})", describe_status(finished)),
        }
    };
    CrashReport {
        signal,
        signal_name: signal.map(signal_name),
        exit_code: finished.status.code(),
        detail,
        stderr_tail: finished.stderr_tail.clone(),
        reproduce: reproduce_command(request, target, kind),
        handed_over: None,
    }
}

/// A command that runs just this target, the same way, to hand to a crash
/// reporter (`refsan run -- <command>`).
pub fn reproduce_command(request: &LeakRequest, target: &str, kind: TargetKind) -> Vec<String> {
    let calls = (request.options.warmup + request.options.runs) * request.options.calls_per_run;
    let setup = request.setup.clone().unwrap_or_default();
    let script = match kind {
        TargetKind::Call => {
            let (module, attr) = target.split_once(':').unwrap_or((target, ""));
            format!(
                "{setup}\nimport {module}\nfor _refsan_call in range({calls}):\n    {module}.{attr}({})\n",
                request.args.clone().unwrap_or_default()
            )
        }
        TargetKind::Code => {
            let code = match &request.mode {
                LeakMode::Code { code } => code.clone(),
                _ => String::new(),
            };
            let literal = serde_json::to_string(&code).unwrap_or_else(|_| "''".into());
            format!("{setup}\nfor _refsan_call in range({calls}):\n    exec({literal})\n")
        }
        TargetKind::Test => {
            return vec![
                request.python.clone(),
                "-m".into(),
                "pytest".into(),
                target.to_string(),
            ]
        }
    };
    vec![
        request.python.clone(),
        "-X".into(),
        "faulthandler".into(),
        "-c".into(),
        script.trim_start().to_string(),
    ]
}

fn describe_status(finished: &Finished) -> String {
    if finished.killed_at_deadline {
        return "killed after the timeout".into();
    }
    match (finished.status.code(), exit_signal(&finished.status)) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(number)) => format!("killed by {}", signal_name(number)),
        (None, None) => "unknown status".into(),
    }
}

fn stderr_suffix(tail: &str) -> String {
    let tail = tail.trim();
    if tail.is_empty() {
        String::new()
    } else {
        format!("; its stderr ends with:\n{tail}")
    }
}

#[cfg(unix)]
fn exit_signal(status: &ExitStatus) -> Option<i32> {
    use std::os::unix::process::ExitStatusExt;
    status.signal()
}

#[cfg(not(unix))]
fn exit_signal(_status: &ExitStatus) -> Option<i32> {
    None
}

/// Linux signal names of the usual ways an extension dies.
pub fn signal_name(number: i32) -> String {
    let name = match number {
        1 => "SIGHUP",
        2 => "SIGINT",
        4 => "SIGILL",
        5 => "SIGTRAP",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        15 => "SIGTERM",
        _ => return format!("signal {number}"),
    };
    name.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        text.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn recognises_pytest_commands() {
        assert_eq!(
            parse_pytest_command(&words("pytest -q tests")).unwrap(),
            (None, words("-q tests"))
        );
        assert_eq!(
            parse_pytest_command(&words("/usr/bin/python3-dbg -m pytest -x")).unwrap(),
            (Some("/usr/bin/python3-dbg".into()), words("-x"))
        );
        assert!(parse_pytest_command(&words("python script.py")).is_err());
        assert!(parse_pytest_command(&[]).is_err());
    }

    #[test]
    fn rejects_malformed_call_targets() {
        let request = LeakRequest {
            python: "python3".into(),
            mode: LeakMode::Call {
                targets: vec!["module_without_function".into()],
            },
            setup: None,
            args: None,
            options: MeasureOptions::default(),
            timeout: Duration::from_secs(1),
            working_dir: None,
        };
        assert!(matches!(request.validate(), Err(LeaksError::Request(_))));
    }

    #[test]
    fn reproduces_a_call_alone() {
        let request = LeakRequest {
            python: "python3-dbg".into(),
            mode: LeakMode::Call {
                targets: vec!["pkg.ext:func".into()],
            },
            setup: Some("x = []".into()),
            args: Some("x".into()),
            options: MeasureOptions::default(),
            timeout: Duration::from_secs(1),
            working_dir: None,
        };
        let command = reproduce_command(&request, "pkg.ext:func", TargetKind::Call);
        assert_eq!(command[..4], ["python3-dbg", "-X", "faulthandler", "-c"]);
        assert_eq!(
            command[4],
            "x = []\nimport pkg.ext\nfor _refsan_call in range(9):\n    pkg.ext.func(x)\n"
        );
    }
}
