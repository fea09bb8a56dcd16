//! The project a file belongs to, and the other files of it the file is
//! read with: what the compiler would see.
//!
//! The project of a file is the nearest enclosing directory with
//! `pyproject.toml`, `setup.py`, `setup.cfg`, `meson.build` or `.git`.
//! A Cython file is read with its `.pxd` (same name), the project's `.pxd`
//! files it cimports (and theirs), the `.pxi` files it includes, and for a
//! `.pxi`, the module that includes it with that module's context.
//! Modules outside the project (`cpython`, `libc`, `numpy`...) are the
//! front-end's business; a project module that cannot be found is a note.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// Files marking a project's root.
const ROOT_MARKERS: &[&str] = &[
    "pyproject.toml",
    "setup.py",
    "setup.cfg",
    "meson.build",
    ".git",
];

/// Most context files read for one file, and most bytes.
const MAX_CONTEXT_FILES: usize = 256;
const MAX_CONTEXT_BYTES: usize = 32 << 20;

/// Modules Cython itself provides: never looked for in the project.
const EXTERNAL_MODULES: &[&str] = &[
    "cpython", "libc", "libcpp", "posix", "cython", "numpy", "openmp",
];

/// The project root of `file` (absolute): the nearest directory above it
/// with a root marker, else the file's directory.
pub fn project_root(file: &Path) -> PathBuf {
    let abs = std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf());
    let start = abs.parent().map(Path::to_path_buf).unwrap_or_default();
    enclosing_root(&start).unwrap_or(start)
}

/// The nearest directory at or above `dir` with a root marker.
pub fn enclosing_root(dir: &Path) -> Option<PathBuf> {
    let abs = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    abs.ancestors()
        .find(|d| ROOT_MARKERS.iter().any(|m| d.join(m).exists()))
        .map(Path::to_path_buf)
}

/// A file of the context, read.
pub struct ContextSource {
    pub path: PathBuf,
    pub source: Vec<u8>,
}

/// The context of one file: its sources, in the order they are seen, and
/// notes about what could not be found or read.
#[derive(Default)]
pub struct Context {
    pub files: Vec<ContextSource>,
    pub notes: Vec<String>,
}

/// What a run learns about projects once: for each project root, which
/// files include each `.pxi` (by file name).
/// For each included file name, the files that include it.
type IncludeIndex = HashMap<String, Vec<PathBuf>>;

#[derive(Default)]
pub struct Projects {
    includers: Mutex<HashMap<PathBuf, Arc<IncludeIndex>>>,
    headers: Mutex<HashMap<PathBuf, Arc<crate::c_context::HeaderIndex>>>,
    /// For each project root: its C/C++ sources by the functions they
    /// define with external linkage.
    definitions: Mutex<HashMap<PathBuf, Arc<DefinitionIndex>>>,
    /// The summaries of the functions each source defines (computed once
    /// per run, by the first file that calls one of them).
    summaries: Mutex<HashMap<PathBuf, Arc<OnceLock<Arc<FileSummaries>>>>>,
    /// The files this run checks (canonical paths).
    run_files: OnceLock<HashSet<PathBuf>>,
    /// For each project root: the files of the run that other files of the
    /// run may want the summaries of.
    wanted: Mutex<HashMap<PathBuf, Arc<HashSet<PathBuf>>>>,
    /// Files of the run already lowered for their summaries and not yet
    /// checked: each source is parsed and lowered once per run.
    lowered: Mutex<HashMap<PathBuf, Lowered>>,
}

/// A file of the run as its check finds it.
enum Lowered {
    /// Its check has begun.
    Checking,
    /// Lowered for its summaries before its check began.
    Kept(Box<refsan_ir::Module>),
}

/// What a project's C and C++ sources define and call.
#[derive(Default)]
struct DefinitionIndex {
    /// Exported function name -> the sources defining it.
    by_name: HashMap<String, Vec<PathBuf>>,
    /// Source -> the names it may call that some source defines.
    calls: HashMap<PathBuf, Vec<String>>,
}

/// The summaries of the exported functions of one source.
pub type FileSummaries = HashMap<String, refsan_engine::ExternalSummary>;

/// Sources larger than this are not read for their definitions.
const MAX_DEFINING_FILE_BYTES: u64 = 4 << 20;

impl Projects {
    /// The files of `root` that `include` a file named `name`.
    fn includers_of(&self, root: &Path, name: &str) -> Vec<PathBuf> {
        per_root(&self.includers, root, include_index)
            .and_then(|index| index.get(name).cloned())
            .unwrap_or_default()
    }

    /// The context a file of language `lang` is read in; `src` is its text.
    pub fn context(&self, file: &Path, lang: refsan_ir::Language, src: &[u8]) -> Context {
        match lang {
            refsan_ir::Language::Cython => self.cython_context(file),
            refsan_ir::Language::C | refsan_ir::Language::Cpp => self.c_context(file, src),
        }
    }

    /// The project headers a C or C++ file includes (and theirs).
    pub fn c_context(&self, file: &Path, src: &[u8]) -> Context {
        if crate::c_context::quoted_includes(src).is_empty() {
            return Context::default();
        }
        let (abs, root) = located(file);
        let Some(index) = per_root(&self.headers, &root, crate::c_context::header_index) else {
            return Context::default();
        };
        let mut g = crate::c_context::Gather::new(&root, &index, &abs);
        g.visit(&abs, src, 0);
        g.finish()
    }

    /// The sources of `file`'s project defining `name` (other than
    /// `file`).
    pub fn definitions_of(&self, file: &Path, names: &[&str]) -> Vec<(String, PathBuf)> {
        let (abs, root) = located(file);
        let Some(index) = per_root(&self.definitions, &root, definition_index) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for n in names {
            // A name defined by several sources (one per platform) has no
            // single contract.
            if let Some([one]) = index.by_name.get(*n).map(Vec::as_slice) {
                if *one != abs {
                    out.push(((*n).to_string(), one.clone()));
                }
            }
        }
        out
    }

    /// The summaries of `source`'s exported functions, computed with
    /// `compute` the first time they are asked for.
    pub fn summaries_of(
        &self,
        source: &Path,
        compute: impl FnOnce() -> FileSummaries,
    ) -> Arc<FileSummaries> {
        let cell = {
            let Ok(mut map) = self.summaries.lock() else {
                return Arc::default();
            };
            map.entry(source.to_path_buf()).or_default().clone()
        };
        cell.get_or_init(|| Arc::new(compute())).clone()
    }

    /// Tells which files this run checks.
    pub fn set_run_files(&self, files: &[PathBuf]) {
        let set = files
            .iter()
            .map(|f| std::fs::canonicalize(f).unwrap_or_else(|_| f.clone()))
            .collect();
        let _ = self.run_files.set(set);
    }

    /// `file`'s canonical path when another file of this run may ask for
    /// its summaries (it calls a name that only `file` defines and that
    /// `is_api` does not know): its check computes them from its own
    /// lowering.
    pub fn wanted_by_run(&self, file: &Path, is_api: impl Fn(&str) -> bool) -> Option<PathBuf> {
        let run = self.run_files.get().filter(|r| r.len() > 1)?;
        let (abs, root) = located(file);
        if !run.contains(&abs) {
            return None;
        }
        let index = per_root(&self.definitions, &root, definition_index)?;
        let wanted = per_root(&self.wanted, &root, |root| {
            let mut out = HashSet::new();
            for caller in run.iter().filter(|f| f.starts_with(root)) {
                for name in index.calls.get(caller).into_iter().flatten() {
                    if let Some([one]) = index.by_name.get(name).map(Vec::as_slice) {
                        if one != caller && !is_api(name) {
                            out.insert(one.clone());
                        }
                    }
                }
            }
            out
        });
        wanted.filter(|w| w.contains(&abs)).map(|_| abs)
    }

    /// Marks the check of `file` begun; the module lowered for its
    /// summaries before, if any.
    pub fn begin_check(&self, file: &Path) -> Option<refsan_ir::Module> {
        if self.run_files.get().is_none_or(|r| r.len() < 2) {
            return None;
        }
        let abs = located(file).0;
        let mut map = self.lowered.lock().ok()?;
        match map.insert(abs, Lowered::Checking) {
            Some(Lowered::Kept(m)) => Some(*m),
            _ => None,
        }
    }

    /// Keeps `module`, lowered from `source` for its summaries, for the
    /// check of `source` if this run checks it and has not begun to.
    pub fn keep_for_check(&self, source: &Path, module: refsan_ir::Module) {
        let Some(run) = self.run_files.get() else {
            return;
        };
        let abs = located(source).0;
        if !run.contains(&abs) {
            return;
        }
        if let Ok(mut map) = self.lowered.lock() {
            map.entry(abs)
                .or_insert_with(|| Lowered::Kept(Box::new(module)));
        }
    }

    /// The context a Cython file is read in.
    pub fn cython_context(&self, file: &Path) -> Context {
        let abs = std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf());
        let root = project_root(&abs);
        let mut cx = Gather::new(root.clone(), &abs);
        let name = abs
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        // Included by a module (a `.pxi`, or a `.pyx` uvloop-style): that
        // module, and what it sees.
        let mut includers = self.includers_of(&root, &name);
        includers.retain(|p| p != &abs);
        includers.sort();
        if let Some(module) = includers.first() {
            cx.add(module);
        }
        cx.visit_own(&abs);
        cx.run();
        Context {
            files: cx.files,
            notes: cx.notes,
        }
    }
}

/// A file `file` (absolute and canonical) and its project root (canonical).
fn located(file: &Path) -> (PathBuf, PathBuf) {
    let abs = std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf());
    let abs = std::fs::canonicalize(&abs).unwrap_or(abs);
    let root = project_root(&abs);
    let root = std::fs::canonicalize(&root).unwrap_or(root);
    (abs, root)
}

/// What a run learns of a project once: `build(root)` the first time, the
/// same value after.
fn per_root<T>(
    memo: &Mutex<HashMap<PathBuf, Arc<T>>>,
    root: &Path,
    build: impl FnOnce(&Path) -> T,
) -> Option<Arc<T>> {
    let mut map = memo.lock().ok()?;
    Some(
        map.entry(root.to_path_buf())
            .or_insert_with(|| Arc::new(build(root)))
            .clone(),
    )
}

/// Every file of the project under `root`, the .gitignore respected and
/// build and virtual-environment directories left out.
pub fn project_files(root: &Path) -> impl Iterator<Item = ignore::DirEntry> {
    ignore::WalkBuilder::new(root)
        .hidden(true)
        .git_ignore(true)
        .filter_entry(|e| {
            !matches!(
                e.file_name().to_str(),
                Some("build" | "dist" | ".tox" | ".venv" | "venv" | "node_modules")
            )
        })
        .build()
        .flatten()
}

/// The exported functions of the project's C and C++ sources (generated
/// files left out; files without Python C API use are in, so that a name
/// another platform's source also defines is seen to be ambiguous).
fn definition_index(root: &Path) -> DefinitionIndex {
    let mut out = DefinitionIndex::default();
    let mut calls = Vec::new();
    for e in project_files(root) {
        let p = e.path();
        let Some(lang @ (refsan_ir::Language::C | refsan_ir::Language::Cpp)) =
            refsan_c::language_for_path(p)
        else {
            continue;
        };
        if !e.file_type().is_some_and(|t| t.is_file())
            || e.metadata()
                .map_or(true, |m| m.len() > MAX_DEFINING_FILE_BYTES)
        {
            continue;
        }
        let Ok(text) = std::fs::read(p) else { continue };
        if matches!(
            crate::skip::skip_reason(&text, lang, false),
            Some(crate::skip::SkipReason::Generated(_))
        ) {
            continue;
        }
        let path = std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
        for name in crate::c_context::exported_definitions(&text) {
            let entry = out.by_name.entry(name).or_default();
            if !entry.contains(&path) {
                entry.push(path.clone());
            }
        }
        calls.push((
            path,
            crate::c_context::called_names(&text)
                .into_iter()
                .map(|n| String::from_utf8_lossy(n).into_owned())
                .collect::<Vec<_>>(),
        ));
    }
    for (path, names) in calls {
        let names = names
            .into_iter()
            .filter(|n| out.by_name.contains_key(n))
            .collect();
        out.calls.insert(path, names);
    }
    out
}

/// `include "name"` lines of the project's Cython files, by included file
/// name.
fn include_index(root: &Path) -> IncludeIndex {
    let mut out = IncludeIndex::new();
    for e in project_files(root) {
        let p = e.path();
        let is_cython = p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.ends_with(".pyx") || n.ends_with(".pxi") || n.ends_with(".pyx.in"));
        if !is_cython || !e.file_type().is_some_and(|t| t.is_file()) {
            continue;
        }
        let Ok(text) = std::fs::read(p) else { continue };
        if !text.windows(8).any(|w| w == b"include ") {
            continue;
        }
        for inc in refsan_cython::dependencies(&text).includes {
            let base = Path::new(&inc)
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or(inc);
            out.entry(base).or_default().push(p.to_path_buf());
        }
    }
    out
}

/// A breadth-first walk of a file's dependencies.
struct Gather {
    root: PathBuf,
    /// Directories module names are looked up from.
    search: Vec<PathBuf>,
    seen: HashSet<PathBuf>,
    queue: VecDeque<PathBuf>,
    files: Vec<ContextSource>,
    notes: Vec<String>,
    bytes: usize,
    /// Top-level package directories of the project (a cimport of one of
    /// them that cannot be found is worth a note).
    packages: HashSet<String>,
}

impl Gather {
    fn new(root: PathBuf, file: &Path) -> Gather {
        let mut search = vec![root.clone()];
        for sub in ["src", "lib"] {
            let d = root.join(sub);
            if d.is_dir() {
                search.push(d);
            }
        }
        // The directories between the file and the root: a package whose
        // parent is not the root.
        let mut d = file.parent();
        while let Some(dir) = d {
            if dir == root || !dir.starts_with(&root) {
                break;
            }
            if !dir.join("__init__.py").exists() && !dir.join("__init__.pxd").exists() {
                search.push(dir.to_path_buf());
            }
            d = dir.parent();
        }
        let mut packages = HashSet::new();
        for s in &search {
            if let Ok(rd) = std::fs::read_dir(s) {
                for e in rd.flatten() {
                    if e.path().is_dir() {
                        packages.insert(e.file_name().to_string_lossy().to_string());
                    }
                }
            }
        }
        let mut seen = HashSet::new();
        seen.insert(file.to_path_buf());
        Gather {
            root,
            search,
            seen,
            queue: VecDeque::new(),
            files: Vec::new(),
            notes: Vec::new(),
            bytes: 0,
            packages,
        }
    }

    /// Adds a file to read (once).
    fn add(&mut self, p: &Path) {
        let p = std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
        if self.seen.insert(p.clone()) {
            self.queue.push_back(p);
        }
    }

    /// The checked file's own `.pxd` and dependencies.
    fn visit_own(&mut self, file: &Path) {
        let name = file.to_string_lossy();
        for (ext, pxd) in [(".pyx.in", ".pxd"), (".pyx", ".pxd"), (".pxd.in", ".pxd")] {
            if let Some(stem) = name.strip_suffix(ext) {
                let own = PathBuf::from(format!("{stem}{pxd}"));
                if own.is_file() && own != file {
                    self.add(&own);
                }
                break;
            }
        }
        match std::fs::read(file) {
            Ok(src) => self.dependencies_of(file, &src),
            Err(e) => self
                .notes
                .push(format!("cannot read {}: {e}", file.display())),
        }
    }

    fn run(&mut self) {
        while let Some(p) = self.queue.pop_front() {
            if self.files.len() >= MAX_CONTEXT_FILES || self.bytes >= MAX_CONTEXT_BYTES {
                self.notes.push(format!(
                    "more than {MAX_CONTEXT_FILES} files or {} MiB of declarations around this file; the rest were not read",
                    MAX_CONTEXT_BYTES >> 20
                ));
                break;
            }
            match std::fs::read(&p) {
                Ok(src) => {
                    self.dependencies_of(&p, &src);
                    self.bytes += src.len();
                    self.files.push(ContextSource {
                        path: p,
                        source: src,
                    });
                }
                Err(e) => self.notes.push(format!(
                    "cannot read {}: {e}",
                    crate::driver::display_path(&p)
                )),
            }
        }
    }

    fn dependencies_of(&mut self, file: &Path, src: &[u8]) {
        let deps = refsan_cython::dependencies(src);
        let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
        for inc in deps.includes {
            // A `.pxi` generated from a Tempita template at build time is
            // read from the template.
            let candidates = [
                dir.join(&inc),
                self.root.join(&inc),
                dir.join(format!("{inc}.in")),
                self.root.join(format!("{inc}.in")),
                dir.join(format!("{inc}.tp")),
            ];
            match candidates.iter().find(|c| c.is_file()) {
                Some(found) => {
                    let found = found.clone();
                    self.add(&found);
                }
                None => self.notes.push(format!(
                    "included file `{inc}` not found next to {} or at the project root; its declarations are unknown",
                    crate::driver::display_path(file)
                )),
            }
        }
        for (module, names) in deps.cimports {
            self.cimport(&dir, file, &module, &names);
        }
    }

    fn cimport(&mut self, dir: &Path, file: &Path, module: &str, names: &[String]) {
        let first = module
            .trim_start_matches('.')
            .split('.')
            .next()
            .unwrap_or("");
        if !module.starts_with('.') && EXTERNAL_MODULES.contains(&first) {
            return;
        }
        // Directories the module's dotted path is relative to.
        let (bases, rest): (Vec<PathBuf>, &str) = if module.starts_with('.') {
            let ups = module.chars().take_while(|c| *c == '.').count();
            let mut base = dir.to_path_buf();
            for _ in 1..ups {
                base.pop();
            }
            (vec![base], &module[ups..])
        } else {
            (self.search.clone(), module)
        };
        let rel: PathBuf = rest.split('.').filter(|s| !s.is_empty()).collect();
        let mut found = false;
        for base in &bases {
            let m = base.join(&rel);
            let file = |ext: &str| {
                let mut s = m.clone().into_os_string();
                s.push(ext);
                PathBuf::from(s)
            };
            // A `.pxd` generated from a Tempita template: the template.
            for cand in [
                file(".pxd"),
                m.join("__init__.pxd"),
                file(".pxd.in"),
                file(".pxd.tp"),
            ] {
                if !rel.as_os_str().is_empty() && cand.is_file() {
                    self.add(&cand);
                    found = true;
                }
            }
            // `from pkg cimport mod`: each name may be a module.
            for n in names {
                let cand = m.join(format!("{n}.pxd"));
                if cand.is_file() {
                    self.add(&cand);
                    found = true;
                }
            }
            if found {
                break;
            }
        }
        let in_project = module.starts_with('.') || self.packages.contains(first);
        if !found && in_project {
            self.notes.push(format!(
                "cimported module `{module}` (in {}) not found in the project; its declarations are unknown",
                crate::driver::display_path(file)
            ));
        }
    }
}
