//! `refsan check`: the static checker's command.

use crate::config::{check_code, parse_version};
use crate::driver::{self, FileResult, Overrides};
use crate::skip::SkipReason;
use crate::{add_ignore, baseline};
use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use refsan_ir::Severity;
use refsan_report::Format;
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::{Duration, Instant};

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

/// What to do with findings that need memory to run out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OomLevel {
    Error,
    Warning,
    Ignore,
}

impl OomLevel {
    fn findings(self) -> refsan_engine::OomFindings {
        match self {
            OomLevel::Error => refsan_engine::OomFindings::Error,
            OomLevel::Warning => refsan_engine::OomFindings::Warning,
            OomLevel::Ignore => refsan_engine::OomFindings::Ignore,
        }
    }
}

/// The lowest severity that makes the run fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FailLevel {
    Error,
    Warning,
    Info,
}

impl FailLevel {
    fn severity(self) -> Severity {
        match self {
            FailLevel::Error => Severity::Error,
            FailLevel::Warning => Severity::Warning,
            FailLevel::Info => Severity::Info,
        }
    }
}

fn parse_format(s: &str) -> Result<Format, String> {
    s.parse::<Format>().map_err(|e| e.to_string())
}

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  refsan check src/\n  refsan check --select RS1 --format sarif -o refsan.sarif .\n  git show HEAD:src/mod.c | refsan check - --stdin-filename src/mod.c\n  refsan explain RS101\n\nExit status: 0 no findings at or above --fail-level, 1 findings, 2 usage or I/O error.\nSettings are read from [tool.refsan] in the nearest pyproject.toml."
)]
pub struct CheckArgs {
    /// Files or directories to check (directories are searched recursively,
    /// respecting .gitignore and the excludes); `-` reads standard input.
    /// Default: the current directory.
    pub paths: Vec<PathBuf>,

    /// Output format: text, concise (path:line:col: severity: message
    /// [code]), json, sarif, github (workflow annotations), junit, gitlab
    /// (Code Quality).
    #[arg(long, default_value = "text", value_parser = parse_format, value_name = "FORMAT")]
    pub format: Format,

    /// Only these rules (codes or prefixes, comma-separated: RS1,RS201).
    #[arg(long, value_delimiter = ',', value_name = "CODES")]
    pub select: Option<Vec<String>>,

    /// Rules to add to the selected ones.
    #[arg(long, value_delimiter = ',', value_name = "CODES")]
    pub extend_select: Vec<String>,

    /// Skip these rules (codes or prefixes). Where a code matches both
    /// --select and --ignore, the more specific one wins.
    #[arg(long, value_delimiter = ',', value_name = "CODES")]
    pub ignore: Vec<String>,

    /// Paths not to check, replacing the configured and default excludes
    /// (build, dist, .venv, .tox, node_modules, __pycache__...). A pattern
    /// without `/` matches a name anywhere.
    #[arg(long, value_delimiter = ',', value_name = "PATTERNS")]
    pub exclude: Option<Vec<String>>,

    /// Paths not to check, in addition to the excludes.
    #[arg(long, value_delimiter = ',', value_name = "PATTERNS")]
    pub extend_exclude: Vec<String>,

    /// Apply the excludes to files named on the command line too (for
    /// pre-commit and editors, which pass files one by one).
    #[arg(long)]
    pub force_exclude: bool,

    /// Check generated files too (Cython's C output, SWIG, cffi, files
    /// marked "DO NOT EDIT"), which are skipped by default.
    #[arg(long)]
    pub include_generated: bool,

    /// The file name of the source read from standard input (`-`): its
    /// language and the project settings that apply.
    #[arg(long, value_name = "PATH")]
    pub stdin_filename: Option<PathBuf>,

    /// Oldest Python version the code supports (3.8 to 3.14); decides, for
    /// example, whether Py_None needs its own reference. Default: from
    /// `requires-python` in pyproject.toml.
    #[arg(long, value_name = "VERSION")]
    pub target_version: Option<String>,

    /// Ignore pyproject.toml files.
    #[arg(long)]
    pub no_config: bool,

    /// Findings that happen only when memory runs out (an allocation or
    /// module set-up call fails): reported as errors, as warnings, or not at
    /// all. Default: `oom` in pyproject.toml, else warning.
    #[arg(long, value_enum, value_name = "LEVEL")]
    pub oom: Option<OomLevel>,

    /// Colour in text output (auto: on a terminal; FORCE_COLOR and
    /// CLICOLOR_FORCE turn it on, NO_COLOR off).
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

    /// The lowest severity of finding that makes the run fail (exit 1).
    #[arg(long, value_enum, default_value = "warning", value_name = "LEVEL")]
    pub fail_level: FailLevel,

    /// Print the number of findings per rule instead of the findings (as a
    /// table, or as JSON with --format json).
    #[arg(long)]
    pub statistics: bool,

    /// Print the findings and nothing else (no progress, no summary).
    #[arg(short, long)]
    pub quiet: bool,

    /// Print nothing; the exit status says whether there were findings.
    #[arg(short, long, conflicts_with = "quiet")]
    pub silent: bool,

    /// Known findings (written by --write-baseline): only findings not in
    /// it are reported.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,

    /// Write the current findings to the --baseline file and exit 0.
    #[arg(long, requires = "baseline")]
    pub write_baseline: bool,

    /// Add a `refsan: ignore[...]` comment for every finding, in the
    /// sources, and exit 0.
    #[arg(long, conflicts_with = "write_baseline")]
    pub add_ignore: bool,

    /// Neither read nor write the results cache: check every file afresh.
    #[arg(long)]
    pub no_cache: bool,

    /// The results cache directory. Default: `.refsan_cache` in the project
    /// of the current directory (the nearest directory above it with
    /// pyproject.toml, setup.py or .git), else in the current directory.
    #[arg(long, value_name = "DIR", env = "REFSAN_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,

    /// Print on standard error how many files were checked and how many
    /// were read from the cache, and which.
    #[arg(short, long)]
    pub verbose: bool,

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

/// Whether text output is coloured: `--color` when given; else
/// `FORCE_COLOR`/`CLICOLOR_FORCE` turn it on and `NO_COLOR` off; else a
/// terminal.
fn use_color(choice: ColorChoice, to_terminal: bool) -> bool {
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty() && v != "0");
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto if set("FORCE_COLOR") || set("CLICOLOR_FORCE") => true,
        ColorChoice::Auto => to_terminal && std::env::var_os("NO_COLOR").is_none(),
    }
}

fn validate(args: &CheckArgs) -> Result<()> {
    for code in args
        .select
        .iter()
        .flatten()
        .chain(&args.extend_select)
        .chain(&args.ignore)
    {
        check_code(code)?;
    }
    if args.statistics && !matches!(args.format, Format::Text | Format::Concise | Format::Json) {
        bail!(
            "--statistics prints a table or JSON: use it with --format text, concise or json, not {}",
            args.format
        );
    }
    let stdin = args.paths.iter().any(|p| p.as_os_str() == "-");
    if stdin && args.paths.len() > 1 {
        bail!("`-` (standard input) cannot be checked together with other paths");
    }
    if stdin && args.add_ignore {
        bail!("--add-ignore rewrites files; it cannot work on standard input");
    }
    Ok(())
}

/// Reads standard input as UTF-8 text.
fn read_stdin() -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    std::io::stdin()
        .read_to_end(&mut bytes)
        .context("cannot read standard input")?;
    if let Err(e) = std::str::from_utf8(&bytes) {
        bail!(
            "standard input is not UTF-8 text (invalid byte at offset {})",
            e.valid_up_to()
        );
    }
    Ok(bytes)
}

pub fn run(args: CheckArgs) -> Result<ExitCode> {
    validate(&args)?;
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
    let overrides = Overrides {
        select: args.select.clone(),
        extend_select: args.extend_select.clone(),
        ignore: args.ignore.clone(),
        target,
        no_config: args.no_config,
        exclude: args.exclude.clone(),
        extend_exclude: args.extend_exclude.clone(),
        force_exclude: args.force_exclude,
        include_generated: args.include_generated,
        oom: args.oom.map(OomLevel::findings),
    };
    let facts = refsan_capi::KnowledgeBase::builtin();
    let mut results: Vec<FileResult> = Vec::new();
    if args.paths.first().is_some_and(|p| p.as_os_str() == "-") {
        let bytes = read_stdin()?;
        let excluded = match (&args.stdin_filename, args.force_exclude) {
            (Some(name), true) => driver::ExcludeFinder::new(&overrides).excluded(name)?,
            _ => false,
        };
        if !excluded {
            prepare_cython(&args, args.stdin_filename.as_deref().map(Path::new))?;
            results.push(driver::check_stdin(
                &bytes,
                args.stdin_filename.as_deref(),
                &overrides,
                facts,
            )?);
        }
    } else {
        let paths = if args.paths.is_empty() {
            vec![PathBuf::from(".")]
        } else {
            args.paths.clone()
        };
        let (files, errors) = driver::discover(&paths, &overrides)?;
        if files.is_empty() && errors.is_empty() && !args.force_exclude {
            bail!(
                "no C, C++ or Cython source files under {}",
                paths
                    .iter()
                    .map(|p| format!("`{}`", p.display()))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        if let Some(cython) = files.iter().find(|f| refsan_cython::is_cython_path(f)) {
            prepare_cython(&args, Some(cython))?;
        }
        results.extend(errors);
        let show_progress = !args.quiet && !args.silent && std::io::stderr().is_terminal();
        let progress = progress_printer(show_progress);
        let cache = open_cache(&args);
        results.extend(driver::check_files(
            &files,
            &overrides,
            facts,
            cache.as_ref(),
            &progress,
        )?);
        if let Some(c) = cache {
            if args.verbose {
                let misses = c.misses();
                for m in &misses {
                    eprintln!("refsan: not in the cache, checked: {m}");
                }
                eprintln!(
                    "refsan: {} files checked, {} read from the cache in {}",
                    misses.len(),
                    c.hits(),
                    c.dir().display()
                );
            }
            let dir = c.dir().to_path_buf();
            if let Err(e) = c.save() {
                if !args.silent {
                    eprintln!(
                        "refsan: warning: cannot write the results cache in {}: {e}",
                        dir.display()
                    );
                }
            }
        }
    }

    // Skipped files are counted, not reported.
    let mut skipped = refsan_report::Skipped::default();
    results.retain(|r| match &r.skipped {
        Some(SkipReason::Generated(_)) => {
            skipped.generated += 1;
            false
        }
        Some(SkipReason::NoPythonApi) => {
            skipped.no_python_api += 1;
            false
        }
        None => true,
    });
    let mut reports: Vec<refsan_report::FileReport> = results.iter().map(to_report).collect();
    if args.add_ignore {
        return add_ignores(&results, &reports, args.silent);
    }
    if let Some(path) = &args.baseline {
        let prints = refsan_report::fingerprints(&reports);
        if args.write_baseline {
            let n = baseline::write(path, &reports, &prints)?;
            if !args.silent {
                eprintln!(
                    "refsan: wrote {n} findings to the baseline {}",
                    path.display()
                );
            }
            return Ok(ExitCode::SUCCESS);
        }
        let known = baseline::read(path)?;
        for (report, prints) in reports.iter_mut().zip(&prints) {
            let mut keep = prints.iter().map(|p| !known.contains(p));
            report.findings.retain(|_| keep.next().unwrap_or(true));
        }
    }

    let failed_files: Vec<&FileResult> = results.iter().filter(|r| r.error.is_some()).collect();
    for r in &failed_files {
        if !args.silent {
            eprintln!(
                "refsan: error: {}: {}",
                r.path,
                r.error.as_deref().unwrap_or_default()
            );
        }
    }
    // Nothing could be checked: the errors above are the whole story, and a
    // machine format gets no half-empty report.
    let nothing_checked = !results.is_empty() && failed_files.len() == results.len();
    let quiet_output = args.silent || (nothing_checked && args.format.is_machine());
    if !quiet_output {
        let buf = render(&args, &reports, skipped)?;
        write_output(&args, &buf)?;
    }
    let summary = refsan_report::summarize(&reports);
    Ok(if !failed_files.is_empty() {
        ExitCode::from(2)
    } else if summary.at_least(args.fail_level.severity()) > 0 && !args.exit_zero {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The results cache of this run, unless `--no-cache`; a cache directory
/// that cannot be made is a warning, and the run goes on without it.
fn open_cache(args: &CheckArgs) -> Option<crate::cache::Cache> {
    if args.no_cache {
        return None;
    }
    let dir = args
        .cache_dir
        .clone()
        .unwrap_or_else(crate::cache::default_dir);
    match crate::cache::Cache::open(&dir) {
        Ok(c) => Some(c),
        Err(e) => {
            if !args.silent {
                eprintln!(
                    "refsan: warning: cannot use the cache directory {}: {e}; checking without a cache",
                    dir.display()
                );
            }
            None
        }
    }
}

/// Cython files are checked: read the installed Cython's declarations
/// (once, only then) when asked to.
fn prepare_cython(args: &CheckArgs, cython_file: Option<&Path>) -> Result<()> {
    let is_cython = cython_file.is_some_and(refsan_cython::is_cython_path);
    if args.cython_decls == CythonDecls::Embedded || !is_cython {
        return Ok(());
    }
    let found = refsan_cython::prefer_installed_cython();
    if found.is_none() && args.cython_decls == CythonDecls::Installed {
        bail!("--cython-decls installed: no Cython with cpython/*.pxd found by python3 (pip install cython)");
    }
    Ok(())
}

fn render(
    args: &CheckArgs,
    reports: &[refsan_report::FileReport],
    skipped: refsan_report::Skipped,
) -> Result<Vec<u8>> {
    let mut buf: Vec<u8> = Vec::new();
    if args.statistics {
        write_statistics(&mut buf, reports, args.format)?;
        return Ok(buf);
    }
    let to_terminal = args.output.is_none() && std::io::stdout().is_terminal();
    let rules: Vec<refsan_ir::RuleMeta> = refsan_engine::rules().into_iter().copied().collect();
    let opts = refsan_report::RenderOptions {
        color: use_color(args.color, to_terminal),
        show_notes: args.show_notes,
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        information_uri: Some(env!("CARGO_PKG_HOMEPAGE").to_string()),
        summary: !args.quiet,
        source_root: source_root(),
        skipped,
    };
    refsan_report::render(&mut buf, reports, &rules, args.format, &opts)
        .context("cannot render the report")?;
    Ok(buf)
}

/// The repository (or project) root SARIF paths are relative to: the
/// nearest directory above the current one with `.git`, else the current
/// directory.
fn source_root() -> Option<PathBuf> {
    let cwd = std::env::current_dir().ok()?;
    let root = cwd
        .ancestors()
        .find(|d| d.join(".git").exists())
        .unwrap_or(&cwd);
    Some(root.to_path_buf())
}

fn write_output(args: &CheckArgs, buf: &[u8]) -> Result<()> {
    match &args.output {
        Some(path) => {
            std::fs::write(path, buf).with_context(|| format!("cannot write {}", path.display()))
        }
        None => {
            let mut out = std::io::stdout().lock();
            match out.write_all(buf).and_then(|()| out.flush()) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    Err(e).context("cannot write the report")
                }
                _ => Ok(()),
            }
        }
    }
}

fn add_ignores(
    results: &[FileResult],
    reports: &[refsan_report::FileReport],
    silent: bool,
) -> Result<ExitCode> {
    let mut added = add_ignore::Added::default();
    for (result, report) in results.iter().zip(reports) {
        if report.findings.is_empty() || result.error.is_some() {
            continue;
        }
        let path = Path::new(&result.path);
        let Some(language) = driver::language_for(path) else {
            continue;
        };
        let n = add_ignore::add(path, language, &report.findings)?;
        if n > 0 {
            added.comments += n;
            added.files += 1;
        }
    }
    if !silent {
        eprintln!(
            "refsan: added {} suppression comment{} to {} file{}",
            added.comments,
            if added.comments == 1 { "" } else { "s" },
            added.files,
            if added.files == 1 { "" } else { "s" }
        );
    }
    Ok(ExitCode::SUCCESS)
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

/// Findings per rule: a table, or a JSON array of `{code, name, count}`.
fn write_statistics(
    out: &mut Vec<u8>,
    reports: &[refsan_report::FileReport],
    format: Format,
) -> Result<()> {
    let mut counts: std::collections::BTreeMap<&str, (usize, &str)> = Default::default();
    for r in reports {
        for f in &r.findings {
            counts.entry(f.code).or_insert((0, f.name)).0 += 1;
        }
    }
    if format == Format::Json {
        let rows: Vec<serde_json::Value> = counts
            .iter()
            .map(|(code, (n, name))| serde_json::json!({"code": code, "name": name, "count": n}))
            .collect();
        serde_json::to_writer_pretty(&mut *out, &rows).context("cannot render statistics")?;
        writeln!(out)?;
        return Ok(());
    }
    for (code, (n, name)) in counts {
        writeln!(out, "{n:6}  {code}  {name}")?;
    }
    Ok(())
}
