//! `refsan run`: the program under crash instrumentation, one report per
//! crash. The program's output and exit status pass through; the report goes
//! to stderr (or `--report FILE`) and only when something went wrong.

use clap::{Args, ValueEnum};
use refsan_runtime::render::{self, Style};
use refsan_runtime::report::Mode;
use refsan_runtime::run::{self, RunError, RunOptions};
use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

#[derive(Args, Debug)]
#[command(after_help = "\
Without --asan/--valgrind the program runs with faulthandler and CPython's debug \
allocator (PYTHONMALLOC=debug); a crash is caught while the process is still alive \
and gdb reads its native stack. --asan needs an extension built with \
`refsan build --asan`; --valgrind works on any build but is 20-50x slower.

refsan exits with the program's own status (128+N when signal N killed it, 124 \
after --timeout; under --valgrind or --asan, --error-exitcode when the tool reported \
a memory error and the program still exited 0).

Examples:
  refsan run -- python3 -c 'import mymod; mymod.f()'
  refsan run --asan -- python3 -m pytest tests/test_mymod.py
  refsan run --valgrind --format json --report crash.json -- python3 script.py")]
pub struct RunArgs {
    /// Run under AddressSanitizer (libasan preloaded, PYTHONMALLOC=malloc).
    #[arg(long, conflicts_with = "valgrind")]
    pub asan: bool,

    /// Run under Valgrind memcheck (PYTHONMALLOC=malloc, XML output parsed).
    #[arg(long)]
    pub valgrind: bool,

    /// With --asan: unwind every malloc's and free's stack fully, through
    /// code built without frame pointers such as libpython, for complete
    /// "freed by" stacks (several times slower).
    #[arg(long, requires = "asan")]
    pub full_stacks: bool,

    /// Also run Python in development mode (-X dev).
    #[arg(long)]
    pub dev: bool,

    /// Report format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// Write the report to FILE (always, even when nothing crashed) instead
    /// of stderr.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,

    /// Stop the program after SECONDS, report where every thread was, exit 124.
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<f64>,

    /// Do not attach gdb to a crashed program (no native stack).
    #[arg(long)]
    pub no_gdb: bool,

    /// Exit status when memcheck or ASan reported a memory error and the
    /// program exited 0 (so that CI fails); 0 keeps the program's own.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub error_exitcode: i32,

    /// Give up on gdb after SECONDS.
    #[arg(long, value_name = "SECONDS", default_value_t = 60.0)]
    pub gdb_timeout: f64,

    /// Color the text report.
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    pub color: Color,

    /// The program to run and its arguments (put them after `--`).
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "PROGRAM"
    )]
    pub command: Vec<OsString>,
}

fn seconds(value: f64, what: &str) -> anyhow::Result<Duration> {
    if !value.is_finite() || value <= 0.0 {
        anyhow::bail!("{what} must be a positive number of seconds, not {value}");
    }
    Ok(Duration::from_secs_f64(value))
}

pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let options = RunOptions {
        mode: if args.asan {
            Mode::Asan
        } else if args.valgrind {
            Mode::Valgrind
        } else {
            Mode::Plain
        },
        dev: args.dev,
        timeout: args.timeout.map(|t| seconds(t, "--timeout")).transpose()?,
        use_gdb: !args.no_gdb,
        gdb_timeout: seconds(args.gdb_timeout, "--gdb-timeout")?,
        command: args.command,
        quiet: false,
        error_exit_code: args.error_exitcode,
        full_stacks: args.full_stacks,
    };
    let checker = crate::driver::FunctionChecker::new();
    let outcome = match run::run(&options, Some(&checker)) {
        Ok(o) => o,
        Err(RunError::NotFound(program)) => {
            eprintln!("refsan: {program}: command not found");
            return Ok(ExitCode::from(127));
        }
        Err(RunError::Supervise(e)) => {
            eprintln!("refsan: {e}");
            return Ok(ExitCode::from(126));
        }
        Err(e) => return Err(e.into()),
    };
    let report = &outcome.report;
    match &args.report {
        Some(path) => {
            let text = match args.format {
                Format::Json => render::to_json(report) + "\n",
                Format::Text => render::to_text(report, Style { color: false }),
            };
            std::fs::write(path, text)
                .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
            if report.has_findings() {
                eprintln!(
                    "refsan: {} crash report(s) written to {}",
                    report.crashes.len(),
                    path.display()
                );
            }
        }
        None => {
            let color = match args.color {
                Color::Always => true,
                Color::Never => false,
                Color::Auto => {
                    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
                }
            };
            let text = match args.format {
                Format::Json if report.has_findings() => render::to_json(report) + "\n",
                Format::Json => String::new(),
                Format::Text => render::to_text(report, Style { color }),
            };
            if !text.is_empty() {
                let mut err = std::io::stderr().lock();
                let _ = err.write_all(text.as_bytes());
                let _ = err.flush();
            }
        }
    }
    Ok(ExitCode::from(outcome.exit_status.clamp(0, 255) as u8))
}
