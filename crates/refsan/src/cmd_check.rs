//! `refsan check`: the static checker's command.

use crate::config::{check_code, parse_version};
use crate::driver::{self, FileResult, Overrides};
use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum OutputFormat {
    /// Human-readable, with source frames and the path of each finding.
    Text,
    /// One JSON document (schema in the report crate's JSON_SCHEMA.md).
    Json,
    /// SARIF 2.1.0, for GitHub code scanning and other viewers.
    Sarif,
    /// GitHub Actions workflow annotations.
    Github,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// Where the ownership of Cython's `cpython.*` declarations comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CythonDecls {
    /// The installed Cython's `cpython/*.pxd` when `python3` finds one,
    /// else the table built into refsan.
    Auto,
    /// The installed Cython's; an error when there is none.
    Installed,
    /// The table built into refsan (from Cython 3's `cpython/*.pxd`).
    Embedded,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  refsan check src/\n  refsan check --select RS1 --format sarif -o refsan.sarif .\n  refsan explain RS101\n\nExit status: 0 no findings, 1 findings, 2 usage or I/O error.\nSettings are read from [tool.refsan] in the nearest pyproject.toml."
)]
pub struct CheckArgs {
    /// Files or directories to check (directories are searched recursively,
    /// respecting .gitignore). Default: the current directory.
    pub paths: Vec<PathBuf>,

    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: OutputFormat,

    /// Only these rules (codes or prefixes, comma-separated: RS1,RS201).
    #[arg(long, value_delimiter = ',', value_name = "CODES")]
    pub select: Option<Vec<String>>,

    /// Skip these rules (codes or prefixes, comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "CODES")]
    pub ignore: Vec<String>,

    /// Oldest Python version the code supports (3.8 to 3.14); decides, for
    /// example, whether Py_None needs its own reference.
    #[arg(long, value_name = "VERSION")]
    pub target_version: Option<String>,

    /// Ignore pyproject.toml files.
    #[arg(long)]
    pub no_config: bool,

    /// Colour in text output.
    #[arg(long, value_enum, default_value = "auto")]
    pub color: ColorChoice,

    /// Also print notes (functions analysed approximately, parse problems).
    #[arg(long)]
    pub show_notes: bool,

    /// Write the report to a file instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Number of threads (default: one per CPU).
    #[arg(short = 'j', long)]
    pub jobs: Option<usize>,

    /// Exit with status 0 even when there are findings.
    #[arg(long)]
    pub exit_zero: bool,

    /// Print the number of findings per rule after the report.
    #[arg(long)]
    pub statistics: bool,

    /// No progress display.
    #[arg(short, long)]
    pub quiet: bool,

    /// Declarations of Cython's `cpython.*` modules for .pyx files.
    #[arg(long, value_enum, default_value = "auto", value_name = "FROM")]
    pub cython_decls: CythonDecls,
}

fn progress_printer(enabled: bool) -> impl Fn(usize, usize) + Sync {
    let last = Mutex::new(Instant::now());
    move |done: usize, total: usize| {
        if !enabled || total < 20 {
            return;
        }
        let Ok(mut l) = last.lock() else { return };
        if done == total || l.elapsed() >= Duration::from_millis(100) {
            *l = Instant::now();
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2Kchecking {done}/{total} files");
            if done == total {
                let _ = write!(err, "\r\x1b[2K");
            }
            let _ = err.flush();
        }
    }
}

pub fn run(args: CheckArgs) -> Result<ExitCode> {
    for code in args.select.iter().flatten().chain(args.ignore.iter()) {
        check_code(code)?;
    }
    let target = args
        .target_version
        .as_deref()
        .map(parse_version)
        .transpose()?;
    if let Some(j) = args.jobs {
        rayon::ThreadPoolBuilder::new()
            .num_threads(j.max(1))
            .build_global()
            .context("cannot start worker threads")?;
    }
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths.clone()
    };
    let overrides = Overrides {
        select: args.select.clone(),
        ignore: args.ignore.clone(),
        target,
        no_config: args.no_config,
    };
    let (files, mut results) = driver::discover(&paths);
    if args.cython_decls != CythonDecls::Embedded
        && files.iter().any(|f| refsan_cython::is_cython_path(f))
    {
        // Asks python3 once, only when there is Cython to check.
        let found = refsan_cython::prefer_installed_cython();
        if found.is_none() && args.cython_decls == CythonDecls::Installed {
            anyhow::bail!(
                "--cython-decls installed: no Cython with cpython/*.pxd found by python3 \
                 (pip install cython)"
            );
        }
    }
    let facts = refsan_capi::KnowledgeBase::builtin();
    let show_progress = !args.quiet && std::io::stderr().is_terminal();
    let progress = progress_printer(show_progress);
    results.extend(driver::check_files(&files, &overrides, facts, &progress)?);

    let to_terminal = args.output.is_none() && std::io::stdout().is_terminal();
    let color = match args.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => to_terminal && std::env::var_os("NO_COLOR").is_none(),
    };
    let format = match args.format {
        OutputFormat::Text => refsan_report::Format::Text,
        OutputFormat::Json => refsan_report::Format::Json,
        OutputFormat::Sarif => refsan_report::Format::Sarif,
        OutputFormat::Github => refsan_report::Format::Github,
    };
    let reports: Vec<refsan_report::FileReport> = results.iter().map(to_report).collect();
    let rules: Vec<refsan_ir::RuleMeta> = refsan_engine::rules().iter().map(|r| **r).collect();
    let opts = refsan_report::RenderOptions {
        color,
        show_notes: args.show_notes,
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        information_uri: None,
        ..RenderOptions::default()
    };
    let mut buf: Vec<u8> = Vec::new();
    refsan_report::render(&mut buf, &reports, &rules, format, &opts)
        .context("cannot render the report")?;
    if args.statistics {
        write_statistics(&mut buf, &results);
    }
    match &args.output {
        Some(path) => std::fs::write(path, &buf)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => {
            let mut out = std::io::stdout().lock();
            if let Err(e) = out.write_all(&buf).and_then(|_| out.flush()) {
                if e.kind() != std::io::ErrorKind::BrokenPipe {
                    return Err(e).context("cannot write the report");
                }
            }
        }
    }
    let errors = results.iter().any(|r| r.error.is_some());
    let findings = results.iter().any(|r| !r.findings.is_empty());
    Ok(if errors {
        ExitCode::from(2)
    } else if findings && !args.exit_zero {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn to_report(r: &FileResult) -> refsan_report::FileReport {
    refsan_report::FileReport {
        path: r.path.clone(),
        source: r.source.clone(),
        findings: r.findings.clone(),
        notes: r.notes.clone(),
        error: r.error.clone(),
    }
}

fn write_statistics(out: &mut Vec<u8>, results: &[FileResult]) {
    let mut counts: std::collections::BTreeMap<&str, (usize, &str)> = Default::default();
    for r in results {
        for f in &r.findings {
            counts.entry(f.code).or_insert((0, f.name)).0 += 1;
        }
    }
    let _ = writeln!(out);
    for (code, (n, name)) in counts {
        let _ = writeln!(out, "{n:6}  {code}  {name}");
    }
}
