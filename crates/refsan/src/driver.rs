//! The static check of a set of files: discovery (respecting .gitignore),
//! configuration per file, the front-end for the file's language, the
//! engine, then rule selection and suppression comments. Files are checked
//! in parallel; one file's failure never stops the others.

use crate::cache::Cache;
use crate::config::{ConfigFinder, Excludes, Selection, DEFAULT_EXCLUDES};
use crate::project::{Context as ProjectContext, Projects};
use crate::skip::{skip_reason, SkipReason};
use anyhow::{Context, Result};
use rayon::prelude::*;
use refsan_engine::{ApiFacts, CheckOptions};
use refsan_ir::{Finding, Language, Module, Note};
use std::collections::HashMap;
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
    pub extend_select: Vec<String>,
    pub ignore: Vec<String>,
    pub target: Option<(u8, u8)>,
    /// Do not read pyproject.toml files.
    pub no_config: bool,
    /// Replaces the configured (or default) excludes.
    pub exclude: Option<Vec<String>>,
    pub extend_exclude: Vec<String>,
    /// Apply the excludes to files named on the command line too.
    pub force_exclude: bool,
    /// Check generated files too.
    pub include_generated: bool,
    /// What to do with findings that need memory to run out.
    pub oom: Option<refsan_engine::OomFindings>,
}

/// One checked file.
#[derive(Debug)]
pub struct FileResult {
    pub path: String,
    pub source: Option<Arc<str>>,
    pub findings: Vec<Finding>,
    pub notes: Vec<Note>,
    pub error: Option<String>,
    /// Not checked, on purpose (generated, no Python C API).
    pub skipped: Option<SkipReason>,
}

impl FileResult {
    fn error(path: String, message: String) -> FileResult {
        FileResult {
            path,
            source: None,
            findings: Vec::new(),
            notes: Vec::new(),
            error: Some(message),
            skipped: None,
        }
    }

    fn skipped(path: String, reason: SkipReason) -> FileResult {
        FileResult {
            path,
            source: None,
            findings: Vec::new(),
            notes: Vec::new(),
            error: None,
            skipped: Some(reason),
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

/// The excludes that apply where each configuration applies, built once
/// per configuration root.
pub struct ExcludeFinder {
    configs: ConfigFinder,
    overrides: Overrides,
    built: HashMap<PathBuf, Arc<Excludes>>,
}

impl ExcludeFinder {
    pub fn new(overrides: &Overrides) -> ExcludeFinder {
        ExcludeFinder {
            configs: ConfigFinder::default(),
            overrides: overrides.clone(),
            built: HashMap::new(),
        }
    }

    /// Whether `path` is excluded by the settings of the project it is in.
    pub fn excluded(&mut self, path: &Path) -> Result<bool> {
        let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        let config = if self.overrides.no_config {
            None
        } else {
            self.configs.for_file(&abs)?
        };
        let root = match &config {
            Some(c) => c.root.clone(),
            None => std::env::current_dir().unwrap_or_default(),
        };
        if let Some(ex) = self.built.get(&root) {
            return Ok(ex.matches(&abs));
        }
        let ov = &self.overrides;
        let mut patterns: Vec<String> =
            match (&ov.exclude, config.as_ref().and_then(|c| c.exclude.clone())) {
                (Some(cli), _) => cli.clone(),
                (None, Some(configured)) => configured,
                (None, None) => DEFAULT_EXCLUDES.iter().map(ToString::to_string).collect(),
            };
        if let Some(c) = &config {
            patterns.extend(c.extend_exclude.iter().cloned());
        }
        patterns.extend(ov.extend_exclude.iter().cloned());
        let ex = Arc::new(Excludes::new(&root, &patterns)?);
        let matched = ex.matches(&abs);
        self.built.insert(root, ex);
        Ok(matched)
    }
}

/// Expands directories (respecting .gitignore and the excludes) into
/// checkable files. Files named on the command line are checked even when
/// excluded, unless `force_exclude`. Returns the files and per-path errors.
pub fn discover(paths: &[PathBuf], ov: &Overrides) -> Result<(Vec<PathBuf>, Vec<FileResult>)> {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    let excludes = Arc::new(std::sync::Mutex::new(ExcludeFinder::new(ov)));
    let config_error: Arc<std::sync::Mutex<Option<anyhow::Error>>> = Arc::default();
    let excluded = |path: &Path| -> Result<bool> {
        match excludes.lock() {
            Ok(mut ex) => ex.excluded(path),
            Err(_) => Ok(false),
        }
    };
    for p in paths {
        if p.is_file() {
            if ov.force_exclude && excluded(p)? {
                continue;
            }
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
        let (walk_excludes, walk_error) = (Arc::clone(&excludes), Arc::clone(&config_error));
        let walker = ignore::WalkBuilder::new(p)
            .hidden(true)
            .git_ignore(true)
            .filter_entry(move |e| {
                // The directory given is walked even when it is excluded.
                if e.depth() == 0 {
                    return true;
                }
                let Ok(mut ex) = walk_excludes.lock() else {
                    return true;
                };
                match ex.excluded(e.path()) {
                    Ok(skip) => !skip,
                    Err(err) => {
                        if let Ok(mut slot) = walk_error.lock() {
                            slot.get_or_insert(err);
                        }
                        true
                    }
                }
            })
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
    if let Some(err) = config_error.lock().ok().and_then(|mut e| e.take()) {
        return Err(err);
    }
    files.sort();
    files.dedup();
    Ok((files, errors))
}

/// Per-file settings after configuration and overrides.
struct FileSettings {
    selection: Selection,
    options: CheckOptions,
    include_generated: bool,
    oom: refsan_engine::OomFindings,
}

impl FileSettings {
    /// The settings as the results cache keys them (the same settings give
    /// the same text in every run).
    fn key(&self) -> String {
        let mut annotations: Vec<String> = self
            .options
            .annotations
            .iter()
            .map(|(name, contract)| format!("{name}={contract:?}"))
            .collect();
        annotations.sort();
        format!(
            "{:?}|{:?}|{:?}|{}|{:?}|{:?}",
            self.selection,
            self.options.target,
            self.options.limits,
            self.include_generated,
            self.oom,
            annotations
        )
    }
}

fn settings_for(file: &Path, finder: &mut ConfigFinder, ov: &Overrides) -> Result<FileSettings> {
    let cfg = if ov.no_config {
        None
    } else {
        finder.for_file(file)?
    };
    let mut selection = Selection::default();
    let mut options = CheckOptions::default();
    let mut oom = refsan_engine::OomFindings::default();
    if let Some(c) = &cfg {
        if let Some(o) = c.oom {
            oom = o;
        }
        let abs = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
        selection.select = c.select.clone();
        selection.extend_select = c.extend_select.clone();
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
    selection
        .extend_select
        .extend(ov.extend_select.iter().cloned());
    selection.ignore.extend(ov.ignore.iter().cloned());
    if let Some(t) = ov.target {
        options.target = t;
    }
    if let Some(o) = ov.oom {
        oom = o;
    }
    Ok(FileSettings {
        selection,
        options,
        include_generated: ov.include_generated,
        oom,
    })
}

/// Lowers a file seeing the declarations of its project context.
pub fn lower_in_context(
    path: &str,
    source: &[u8],
    lang: Language,
    context: &ProjectContext,
) -> Module {
    // The context files as they are shown, with their text.
    let shown: Vec<String> = context
        .files
        .iter()
        .map(|f| display_path(&f.path))
        .collect();
    let files = context.files.iter().zip(&shown);
    match lang {
        Language::C | Language::Cpp => {
            let files: Vec<refsan_c::ContextFile<'_>> = files
                .map(|(f, p)| refsan_c::ContextFile {
                    path: p,
                    source: &f.source,
                })
                .collect();
            refsan_c::lower_file_in_context(path, source, lang, &files)
        }
        Language::Cython => {
            let files: Vec<refsan_cython::ContextFile<'_>> = files
                .map(|(f, p)| refsan_cython::ContextFile {
                    path: p,
                    source: &f.source,
                })
                .collect();
            refsan_cython::lower_file_in_context(path, source, &files)
        }
    }
}

fn check_one(
    file: &Path,
    settings: &FileSettings,
    facts: &dyn ApiFacts,
    projects: &Projects,
    cache: Option<&Cache>,
) -> FileResult {
    let shown = display_path(file);
    let kept = projects.begin_check(file);
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
    if let Some(reason) = skip_reason(&bytes, lang, settings.include_generated) {
        return FileResult::skipped(shown, reason);
    }
    let context = projects.context(file, lang, &bytes);
    let lookup = cache.map(|c| c.lookup(file, &shown, &settings.key(), &bytes, &context));
    if let (Some(c), Some(l)) = (cache, &lookup) {
        if let Some(hit) = c.get(l, file, projects) {
            return FileResult {
                path: shown,
                source: Some(Arc::from(String::from_utf8_lossy(&bytes).as_ref())),
                findings: hit.findings,
                notes: hit.notes,
                error: None,
                skipped: None,
            };
        }
    }
    let mut reads = Reads::default();
    let mut result = check_source(
        shown,
        &bytes,
        lang,
        settings,
        facts,
        &context,
        Some((projects, file, kept)),
        &mut reads,
    );
    result
        .notes
        .extend(context.notes.into_iter().map(|message| Note {
            span: refsan_ir::Span::default(),
            function: None,
            message,
        }));
    if let (Some(c), Some(l)) = (cache, &lookup) {
        c.put(l, &reads, projects, &result.findings, &result.notes);
    }
    result
}

/// The summaries of the functions `module` calls that another C source of
/// its project defines (and that the knowledge base does not know): a
/// helper in `util.c` is known as it would be in the file itself. The
/// other source is read with its headers, but without the summaries of its
/// own callees in further files.
pub fn project_summaries(
    module: &Module,
    file: &Path,
    projects: &Projects,
    facts: &dyn ApiFacts,
    reads: &mut Reads,
) -> HashMap<String, refsan_engine::ExternalSummary> {
    let mut out = HashMap::new();
    if !matches!(module.language, Language::C | Language::Cpp) {
        return out;
    }
    let defined: std::collections::HashSet<&str> =
        module.functions.iter().map(|f| f.name.as_str()).collect();
    let mut wanted: Vec<&str> = Vec::new();
    for f in &module.functions {
        for b in &f.blocks {
            for st in &b.stmts {
                if let refsan_ir::StmtKind::Call {
                    callee: refsan_ir::Callee::Named(n),
                    ..
                } = &st.kind
                {
                    if !defined.contains(n.as_str())
                        && !wanted.contains(&n.as_str())
                        && facts.api(n).is_none()
                    {
                        wanted.push(n);
                    }
                }
            }
        }
    }
    reads.wanted = wanted.iter().map(ToString::to_string).collect();
    if wanted.is_empty() {
        return out;
    }
    for (name, source) in projects.definitions_of(file, &wanted) {
        reads.definers.push((name.clone(), source.clone()));
        let summaries =
            projects.summaries_of(&source, || summarise_source(&source, projects, facts));
        if let Some(s) = summaries.get(&name) {
            out.insert(name, s.clone());
        }
    }
    out
}

/// The summaries of the exported functions `source` defines.
fn summarise_source(
    source: &Path,
    projects: &Projects,
    facts: &dyn ApiFacts,
) -> crate::project::FileSummaries {
    let Some(lang) = language_for(source) else {
        return Default::default();
    };
    let Ok(bytes) = std::fs::read(source) else {
        return Default::default();
    };
    let context = projects.context(source, lang, &bytes);
    let module = lower_in_context(&display_path(source), &bytes, lang, &context);
    let out = summaries_of_module(&module, facts);
    projects.keep_for_check(source, module);
    out
}

/// The summaries of the exported functions of `module`, computed without
/// the summaries of its own callees in further files: what a file is told
/// does not depend on which files a run checks first.
fn summaries_of_module(module: &Module, facts: &dyn ApiFacts) -> crate::project::FileSummaries {
    let exports = refsan_engine::summarise_module(module, facts, &CheckOptions::default());
    let mut out = crate::project::FileSummaries::new();
    // A function defined differently in several `#if` arms: no summary.
    let mut conflicting = std::collections::HashSet::new();
    for (name, s) in exports {
        if s.contract == refsan_ir::Contract::unknown() || conflicting.contains(&name) {
            continue;
        }
        if let Some(prev) = out.get(&name) {
            if prev.contract != s.contract {
                out.remove(&name);
                conflicting.insert(name);
            }
            continue;
        }
        out.insert(name, s);
    }
    out
}

/// What checking a file read besides the file and its context: the names
/// it calls that another source of its project may define, and the
/// sources that do.
#[derive(Default)]
pub struct Reads {
    pub wanted: Vec<String>,
    pub definers: Vec<(String, PathBuf)>,
}

/// Checks one source text, shown as `shown`.
#[allow(clippy::too_many_arguments)]
fn check_source(
    shown: String,
    bytes: &[u8],
    lang: Language,
    settings: &FileSettings,
    facts: &dyn ApiFacts,
    context: &ProjectContext,
    project: Option<(&Projects, &Path, Option<Module>)>,
    reads: &mut Reads,
) -> FileResult {
    let (module, external) = match project {
        Some((projects, file, kept)) => {
            let module = match kept {
                Some(mut m) => {
                    m.path.clone_from(&shown);
                    m
                }
                None => lower_in_context(&shown, bytes, lang, context),
            };
            // Another file of the run will ask for this one's summaries:
            // they come from this lowering, not from a second one.
            if let Some(canonical) = projects.wanted_by_run(file, |n| facts.api(n).is_some()) {
                projects.summaries_of(&canonical, || summaries_of_module(&module, facts));
            }
            let external = project_summaries(&module, file, projects, facts, reads);
            (module, external)
        }
        None => (
            lower_in_context(&shown, bytes, lang, context),
            HashMap::new(),
        ),
    };
    let report = refsan_engine::check_module_with(&module, facts, &settings.options, &external);
    let findings = refsan_engine::apply_suppressions(&module, report.findings)
        .into_iter()
        .filter(|f| settings.selection.enabled(f.code))
        .collect();
    let findings = refsan_engine::apply_oom(findings, settings.oom);
    FileResult {
        path: shown,
        source: Some(Arc::from(String::from_utf8_lossy(bytes).as_ref())),
        findings,
        notes: report.notes,
        error: None,
        skipped: None,
    }
}

/// Checks a text read from standard input as the file `name` would be
/// checked (its language, its project's settings); `-` without a name is C.
pub fn check_stdin(
    bytes: &[u8],
    name: Option<&Path>,
    ov: &Overrides,
    facts: &dyn ApiFacts,
) -> Result<FileResult> {
    let (shown, lang, settings_path) = match name {
        Some(n) => {
            let lang = language_for(n).with_context(|| {
                format!(
                    "--stdin-filename {}: not a C, C++ or Cython file name",
                    n.display()
                )
            })?;
            (display_path(n), lang, n.to_path_buf())
        }
        None => ("-".to_string(), Language::C, PathBuf::from("stdin.c")),
    };
    let mut finder = ConfigFinder::default();
    let settings = settings_for(&settings_path, &mut finder, ov)?;
    let projects = Projects::default();
    let context = match name {
        Some(n) => projects.context(n, lang, bytes),
        None => ProjectContext::default(),
    };
    Ok(check_source(
        shown,
        bytes,
        lang,
        &settings,
        facts,
        &context,
        name.map(|n| (&projects, n, None)),
        &mut Reads::default(),
    ))
}

/// Checks files in parallel. `progress` is called with (done, total) from
/// worker threads.
pub fn check_files(
    files: &[PathBuf],
    ov: &Overrides,
    facts: &dyn ApiFacts,
    cache: Option<&Cache>,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Vec<FileResult>> {
    let mut finder = ConfigFinder::default();
    let mut jobs = Vec::with_capacity(files.len());
    for f in files {
        jobs.push((f, settings_for(f, &mut finder, ov)?));
    }
    let done = AtomicUsize::new(0);
    let total = jobs.len();
    let projects = Projects::default();
    projects.set_run_files(files);
    let results = jobs
        .par_iter()
        .map(|(f, s)| {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                check_one(f, s, facts, &projects, cache)
            }))
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

/// Sources of one project checked whole for a crash report at most; a larger
/// project has only the sources named after the module checked.
const MAX_EXTENSION_SOURCES: usize = 400;

impl refsan_runtime::StaticFindings for FunctionChecker {
    fn for_extension(
        &self,
        library: &Path,
        module: &str,
    ) -> Option<refsan_runtime::ExtensionSources> {
        let dir = library.parent()?;
        let installed = dir.components().any(|c| {
            matches!(
                c.as_os_str().to_str(),
                Some("site-packages" | "dist-packages")
            )
        });
        let root = crate::project::enclosing_root(dir);
        if installed && root.is_none() {
            // An installed wheel: its sources are not here.
            return None;
        }
        let root = root.unwrap_or_else(|| dir.to_path_buf());
        let mut sources: Vec<PathBuf> = crate::project::project_files(&root)
            .filter(|e| e.file_type().is_some_and(|t| t.is_file()))
            .map(ignore::DirEntry::into_path)
            .filter(|p| language_for(p).is_some())
            .collect();
        if sources.len() > MAX_EXTENSION_SOURCES {
            sources.retain(|p| p.file_stem().and_then(|s| s.to_str()) == Some(module));
        }
        if sources.is_empty() {
            return None;
        }
        let results = check_files(&sources, &self.overrides, self.facts, None, &|_, _| {}).ok()?;
        let findings = sources
            .iter()
            .zip(results)
            .flat_map(|(source, result)| {
                result
                    .findings
                    .into_iter()
                    .map(|finding| refsan_runtime::report::SourceFinding {
                        file: source.to_string_lossy().into_owned(),
                        finding,
                    })
            })
            .collect();
        Some(refsan_runtime::ExtensionSources { root, findings })
    }

    fn for_function(&self, source_file: &Path, function: &str) -> Vec<Finding> {
        if language_for(source_file).is_none() || !source_file.is_file() {
            return Vec::new();
        }
        let mut finder = ConfigFinder::default();
        let Ok(settings) = settings_for(source_file, &mut finder, &self.overrides) else {
            return Vec::new();
        };
        let result = check_one(
            source_file,
            &settings,
            self.facts,
            &Projects::default(),
            None,
        );
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
