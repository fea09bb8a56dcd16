//! `refsan leaks`: repeated-call leak detection in a real interpreter.

use anyhow::Context;
use clap::{Args, ValueEnum};
use refsan_leaks::{render, LeakMode, LeakRequest, MeasureOptions};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

const EXAMPLES: &str = "\
Examples:
  # call a C function 9 times (3 warm-up + 6 measured), report what grows
  refsan leaks --call mypkg._ext:parse --setup 'data = b\"x\" * 100' --args 'data'

  # its error path: pass an argument that makes it raise
  refsan leaks --call mypkg._ext:parse --args '42'

  # exact reference totals with Debian's debug interpreter (extension rebuilt for it)
  refsan leaks --python python3-dbg --call mypkg._ext:parse --args '[]'

  # a snippet
  refsan leaks --setup 'import mypkg' --code 'mypkg.Tree().insert(1)'

  # every test of a suite, each run repeatedly in a forked child
  refsan leaks -- pytest tests/ -q
  refsan leaks --format json --output leaks.json -- python3-dbg -m pytest tests/

Exit status: 0 no leak, 1 a leak, an over-release, a crash or a hang was found (in
pytest mode, pytest's own non-zero status passes through), 2 usage or set-up error
(an extension built for a release interpreter measured under a debug one).";

#[derive(Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct LeaksArgs {
    /// Function to call repeatedly, as MODULE:FUNCTION (attribute paths like
    /// pkg.mod:Class.method work). Repeat for several functions.
    #[arg(long = "call", value_name = "MODULE:FUNCTION")]
    pub calls: Vec<String>,

    /// Python code to run repeatedly instead of a function.
    #[arg(long, value_name = "CODE", conflicts_with = "calls")]
    pub code: Option<String>,

    /// Python code run once before measuring; its names are visible to --args
    /// and --code.
    #[arg(long, value_name = "CODE")]
    pub setup: Option<String>,

    /// Arguments of every call, written as inside the call's parentheses:
    /// 'x, [1, 2], key=3'. Evaluated once: the same objects are passed to
    /// every call, so their reference counts can be watched.
    #[arg(long, value_name = "EXPR")]
    pub args: Option<String>,

    /// Interpreter to run (a debug build such as python3-dbg gives exact
    /// reference totals).
    #[arg(long, value_name = "PY", default_value = "python3")]
    pub python: String,

    /// Warm-up runs, not measured.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub warmup: u32,

    /// Measured runs; a counter leaks only when it grows on every one, so a
    /// target is done as soon as none can any more.
    #[arg(long, value_name = "N", default_value_t = 6, value_parser = clap::value_parser!(u32).range(1..))]
    pub runs: u32,

    /// Calls of the target per run.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub calls_per_run: u32,

    /// Seconds allowed for all runs of one function or test; then it is
    /// reported as hanging.
    #[arg(long, value_name = "SECONDS", default_value_t = 60.0)]
    pub timeout: f64,

    /// Types and allocation sites shown per target.
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub top: u32,

    /// Do not trace allocations (no bytes, no allocation sites). By default
    /// a target that grows untraced is measured again, traced.
    #[arg(long)]
    pub no_tracemalloc: bool,

    /// Frames kept per tracemalloc trace.
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub tracemalloc_frames: u32,

    /// Report format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,

    /// Write the report to this file ('-' for stdout) instead of stderr.
    #[arg(short, long, value_name = "PATH")]
    pub output: Option<PathBuf>,

    /// A pytest command: `pytest ARGS` or `python -m pytest ARGS`.
    #[arg(last = true, value_name = "PYTEST COMMAND")]
    pub pytest: Vec<String>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ReportFormat {
    Text,
    Json,
}

pub fn run(args: LeaksArgs) -> anyhow::Result<ExitCode> {
    let request = request_from(&args)?;
    let hand_over = RunHandOver;
    let report = refsan_leaks::hunt(&request, Some(&hand_over))?;
    let rendered = match args.format {
        ReportFormat::Text => render::text(&report),
        ReportFormat::Json => render::json(&report) + "\n",
    };
    match &args.output {
        Some(path) if path.as_os_str() == "-" => {
            std::io::stdout()
                .write_all(rendered.as_bytes())
                .context("cannot write the report to stdout")?;
        }
        Some(path) => std::fs::write(path, &rendered)
            .with_context(|| format!("cannot write the report to {}", path.display()))?,
        None => eprint!("{rendered}"),
    }
    let status = report.exit_status().clamp(0, 255);
    Ok(ExitCode::from(u8::try_from(status).unwrap_or(1)))
}

fn request_from(args: &LeaksArgs) -> anyhow::Result<LeakRequest> {
    if !(args.timeout > 0.0 && args.timeout.is_finite()) {
        anyhow::bail!("--timeout must be a positive number of seconds");
    }
    let mut python = args.python.clone();
    let modes = [
        !args.calls.is_empty(),
        args.code.is_some(),
        !args.pytest.is_empty(),
    ];
    let mode = match modes {
        [true, false, false] => LeakMode::Call {
            targets: args.calls.clone(),
        },
        [false, true, false] => LeakMode::Code {
            code: args.code.clone().unwrap_or_default(),
        },
        [false, false, true] => {
            let (interpreter, pytest_args) = refsan_leaks::parse_pytest_command(&args.pytest)?;
            if let Some(interpreter) = interpreter {
                python = interpreter;
            }
            LeakMode::Pytest { args: pytest_args }
        }
        [false, false, false] => anyhow::bail!(
            "nothing to measure: give --call MODULE:FUNCTION, --code CODE or -- pytest ARGS (see refsan leaks --help)"
        ),
        _ => anyhow::bail!("give only one of --call, --code and a pytest command"),
    };
    Ok(LeakRequest {
        python,
        mode,
        setup: args.setup.clone(),
        args: args.args.clone(),
        options: MeasureOptions {
            warmup: args.warmup,
            runs: args.runs,
            calls_per_run: args.calls_per_run,
            top: args.top,
            tracemalloc: !args.no_tracemalloc,
            tracemalloc_frames: args.tracemalloc_frames.max(1),
        },
        timeout: Duration::from_secs_f64(args.timeout),
        working_dir: None,
    })
}

/// Re-runs a crashed target alone under `refsan run`'s instrumentation and
/// returns its crash report (classification, stacks, static findings), so a
/// crash found while hunting leaks is explained the same way.
struct RunHandOver;

impl refsan_leaks::CrashHandOver for RunHandOver {
    fn crash_report(
        &self,
        _target: &str,
        crash: &refsan_leaks::model::CrashReport,
    ) -> Option<String> {
        if crash.reproduce.is_empty() {
            return None;
        }
        let options = refsan_runtime::run::RunOptions {
            mode: refsan_runtime::report::Mode::Plain,
            dev: false,
            timeout: Some(Duration::from_secs(120)),
            use_gdb: true,
            gdb_timeout: Duration::from_secs(60),
            command: crash
                .reproduce
                .iter()
                .map(std::ffi::OsString::from)
                .collect(),
            quiet: true,
            error_exit_code: 0,
            full_stacks: false,
        };
        let checker = crate::driver::FunctionChecker::new();
        let outcome = refsan_runtime::run::run(&options, Some(&checker)).ok()?;
        if !outcome.report.has_findings() {
            return None;
        }
        Some(refsan_runtime::render::to_text(
            &outcome.report,
            refsan_runtime::render::Style { color: false },
        ))
    }
}
