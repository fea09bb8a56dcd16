//! The static check of a set of files: discovery (respecting .gitignore),
//! configuration per file, the front-end for the file's language, the
//! engine, then rule selection and suppression comments. Files are checked
//! in parallel; one file's failure never stops the others.

use crate::config::{ConfigFinder, Selection};
use anyhow::Result;
use rayon::prelude::*;
use refsan_engine::{ApiFacts, CheckOptions};
use refsan_ir::{Finding, Language, Module, Note};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Files larger than this are reported, not parsed.
const MAX_FILE_BYTES: u64 = 32 * 1024 * 1024;

pub fn language_for(path: &Path) -> Option<Language> {
    refsan_c::language_for_path(path)
        .or_else(|| refsan_cython::is_cython_path(path).then_some(Language::Cython))
}

/// What the command line says, overriding the configuration files.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub select: Option<Vec<String>>,
    pub ignore: Vec<String>,
    pub target: Option<(u8, u8)>,
    /// Do not read pyproject.toml files.
    pub no_config: bool,
}

/// One checked file.
#[derive(Debug)]
pub struct FileResult {
    pub path: String,
    pub source: Option<Arc<str>>,
    pub findings: Vec<Finding>,
    pub notes: Vec<Note>,
    pub error: Option<String>,
}

impl FileResult {
    fn error(path: String, message: String) -> FileResult {
        FileResult {
            path,
            source: None,
            findings: Vec::new(),
            notes: Vec::new(),
            error: Some(message),
        }
    }
}

/// How a path is shown: relative to the current directory when below it.
pub fn display_path(p: &Path) -> String {
    let cwd = std::env::current_dir().ok();
    let shown = cwd
        .as_ref()
        .and_then(|c| p.strip_prefix(c).ok())
        .unwrap_or(p);
    let s = shown.to_string_lossy().to_string();
    s.strip_prefix("./").map(str::to_string).unwrap_or(s)
}

/// Expands directories (respecting .gitignore) into checkable files.
/// Returns the files and per-path errors.
pub fn discover(paths: &[PathBuf]) -> (Vec<PathBuf>, Vec<FileResult>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for p in paths {
        if p.is_file() {
            if language_for(p).is_some() {
                files.push(p.clone());
            } else {
                errors.push(FileResult::error(
                    display_path(p),
                    "not a C, C++ or Cython source file (.c .h .cc .cpp .cxx .hpp .pyx .pxd .pxi)"
                        .to_string(),
                ));
            }
            continue;
        }
        if !p.exists() {
            errors.push(FileResult::error(
                display_path(p),
                "no such file or directory".to_string(),
            ));
            continue;
        }
        let walker = ignore::WalkBuilder::new(p)
            .hidden(true)
            .git_ignore(true)
            .build();
        for entry in walker {
            match entry {
                Ok(e) => {
                    if e.file_type().is_some_and(|t| t.is_file())
                        && language_for(e.path()).is_some()
                    {
                        files.push(e.into_path());
                    }
                }
                Err(err) => errors.push(FileResult::error(
                    display_path(p),
                    format!("cannot walk directory: {err}"),
                )),
            }
        }
    }
    files.sort();
    files.dedup();
    (files, errors)
}

/// Per-file settings after configuration and overrides.
struct FileSettings {
    selection: Selection,
    options: CheckOptions,
}

fn settings_for(
    file: &Path,
    finder: &mut ConfigFinder,
    ov: &Overrides,
) -> Result<Option<FileSettings>> {
    let cfg = if ov.no_config {
        None
    } else {
        finder.for_file(file)?
    };
    let mut selection = Selection::default();
    let mut options = CheckOptions::default();
    if let Some(c) = &cfg {
        let abs = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
        if c.excludes(&abs) {
            return Ok(None);
        }
        selection.select = c.select.clone();
        selection.ignore = c.ignore.clone();
        selection.ignore.extend(c.file_ignores(&abs));
        if let Some(t) = c.target {
            options.target = t;
        }
        options.annotations = c.functions.clone();
    }
    if let Some(s) = &ov.select {
        selection.select = Some(s.clone());
    }
    selection.ignore.extend(ov.ignore.iter().cloned());
    if let Some(t) = ov.target {
        options.target = t;
    }
    Ok(Some(FileSettings { selection, options }))
}

/// Lowers a file with the front-end for its language.
pub fn lower(path: &str, source: &[u8], lang: Language) -> Module {
    match lang {
        Language::C | Language::Cpp => refsan_c::lower_file(path, source, lang),
        Language::Cython => refsan_cython::lower_file(path, source),
    }
}

fn suppressed(module: &Module, f: &Finding) -> bool {
    module.suppressions.iter().any(|s| {
        (s.line == f.span.line || s.line + 1 == f.span.line)
            && (s.codes.is_empty() || s.codes.iter().any(|c| c.eq_ignore_ascii_case(f.code)))
    })
}

fn check_one(file: &Path, settings: &FileSettings, facts: &dyn ApiFacts) -> FileResult {
    let shown = display_path(file);
    let Some(lang) = language_for(file) else {
        return FileResult::error(shown, "unsupported file type".to_string());
    };
    match std::fs::metadata(file) {
        Ok(m) if m.len() > MAX_FILE_BYTES => {
            return FileResult::error(
                shown,
                format!(
                    "file is larger than {} MiB; not checked",
                    MAX_FILE_BYTES >> 20
                ),
            );
        }
        Err(e) => return FileResult::error(shown, format!("cannot read: {e}")),
        _ => {}
    }
    let bytes = match std::fs::read(file) {
        Ok(b) => b,
        Err(e) => return FileResult::error(shown, format!("cannot read: {e}")),
    };
    let module = lower(&shown, &bytes, lang);
    let report = refsan_engine::check_module(&module, facts, &settings.options);
    let findings = report
        .findings
        .into_iter()
        .filter(|f| settings.selection.enabled(f.code) && !suppressed(&module, f))
        .collect();
    FileResult {
        path: shown,
        source: Some(Arc::from(String::from_utf8_lossy(&bytes).as_ref())),
        findings,
        notes: report.notes,
        error: None,
    }
}

/// Checks files in parallel. `progress` is called with (done, total) from
/// worker threads.
pub fn check_files(
    files: &[PathBuf],
    ov: &Overrides,
    facts: &dyn ApiFacts,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Vec<FileResult>> {
    let mut finder = ConfigFinder::default();
    let mut jobs = Vec::with_capacity(files.len());
    for f in files {
        if let Some(s) = settings_for(f, &mut finder, ov)? {
            jobs.push((f, s));
        }
    }
    let done = AtomicUsize::new(0);
    let total = jobs.len();
    let results = jobs
        .par_iter()
        .map(|(f, s)| {
            let r =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check_one(f, s, facts)))
                    .unwrap_or_else(|panic| {
                        let what = panic
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| panic.downcast_ref::<&str>().map(ToString::to_string))
                            .unwrap_or_default();
                        FileResult::error(
                            display_path(f),
                            format!("internal error while checking this file: {what}"),
                        )
                    });
            progress(done.fetch_add(1, Ordering::Relaxed) + 1, total);
            r
        })
        .collect();
    Ok(results)
}

/// The static checker as `refsan run` asks it: the findings of one function
/// of one file, with the file's configuration applied.
pub struct FunctionChecker {
    facts: &'static refsan_capi::KnowledgeBase,
    overrides: Overrides,
}

impl FunctionChecker {
    pub fn new() -> FunctionChecker {
        FunctionChecker {
            facts: refsan_capi::KnowledgeBase::builtin(),
            overrides: Overrides::default(),
        }
    }
}

impl refsan_runtime::StaticFindings for FunctionChecker {
    fn for_function(&self, source_file: &Path, function: &str) -> Vec<Finding> {
        if language_for(source_file).is_none() || !source_file.is_file() {
            return Vec::new();
        }
        let mut finder = ConfigFinder::default();
        let Ok(Some(settings)) = settings_for(source_file, &mut finder, &self.overrides) else {
            return Vec::new();
        };
        let result = check_one(source_file, &settings, self.facts);
        // C++ methods are `Class::method`, Cython's `Class.method`.
        let matches = |name: &str| {
            name == function
                || name.rsplit(['.', ':']).next() == Some(function)
                || function.rsplit(['.', ':']).next() == Some(name)
        };
        result
            .findings
            .into_iter()
            .filter(|f| f.function.as_deref().is_some_and(matches))
            .collect()
    }
}
