//! The results cache: what `refsan check` found in a file, kept on disk and
//! used again while nothing the finding depends on has changed.
//!
//! The entries live in one file of the cache directory, written by one
//! build of refsan (the executable's own digest): another build's file is
//! not read. An entry is found by a key made of the effective settings, the
//! Cython declarations in use and the file's path. It is used only when, read again in this run, these are
//! what they were:
//! - the file's content;
//! - the context it is read in (the project headers, `.pxd` and `.pxi`
//!   files, by path and content);
//! - for each function it calls that another source of the project
//!   defines: which source defines it, and that source's content and
//!   context (its summary is computed from them).
//!
//! Everything else the check reads is in the key, so an entry never
//! outlives its inputs. The indexes of a project (which source defines
//! which function, which file includes a `.pxi`) are built afresh each run
//! and asked the same questions. An entry that cannot be read, was written
//! by another build, or answers another key is ignored and rewritten:
//! never trusted, never an error.

use crate::driver::{display_path, language_for, Reads};
use crate::project::Projects;
use refsan_ir::{Event, FailingCall, Finding, Note, Severity, Span, Trigger};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

/// The name of the default cache directory.
pub const DIR_NAME: &str = ".refsan_cache";

/// Bumped when the entry format changes.
const FORMAT: u32 = 1;

/// A digest of bytes: two independent 64-bit hashes.
pub fn digest(bytes: &[u8]) -> String {
    let mut a = std::hash::DefaultHasher::new();
    bytes.hash(&mut a);
    let mut b = std::hash::DefaultHasher::new();
    0xa5u8.hash(&mut b);
    bytes.hash(&mut b);
    format!("{:016x}{:016x}", a.finish(), b.finish())
}

/// The build of refsan that writes and reads entries: its version and the
/// digest of its executable (a rebuild with the same version number is
/// another build).
fn build_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        let exe = std::env::current_exe()
            .and_then(std::fs::read)
            .map(|b| digest(&b))
            .unwrap_or_else(|_| "unknown".to_string());
        format!("{}-{exe}", env!("CARGO_PKG_VERSION"))
    })
}

/// The cache directory when none is given: `.refsan_cache` in the project
/// the current directory belongs to (the nearest directory above it with
/// `pyproject.toml`, `setup.py`, `setup.cfg`, `meson.build` or `.git`),
/// else in the current directory.
pub fn default_dir() -> PathBuf {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let root = crate::project::enclosing_root(&cwd).unwrap_or(cwd);
    root.join(DIR_NAME)
}

/// The file of entries, one per cache directory: read once at the start of
/// a run, written once at its end.
#[derive(Serialize, Deserialize)]
struct Stored {
    format: u32,
    build: String,
    entries: HashMap<String, Entry>,
}

/// What checking one file found, and what it depended on.
#[derive(Clone, Serialize, Deserialize)]
struct Entry {
    /// The file (absolute): entries of files that are gone are dropped.
    path: PathBuf,
    content: String,
    /// The context files, in order: (path, digest).
    context: Vec<(String, String)>,
    /// The names the file calls that the project may define elsewhere.
    wanted: Vec<String>,
    /// (name, defining source, the source's fingerprint).
    definers: Vec<(String, String, String)>,
    findings: Vec<StoredFinding>,
    notes: Vec<Note>,
}

/// A finding as stored: the rule by its code.
#[derive(Clone, Serialize, Deserialize)]
struct StoredFinding {
    code: String,
    severity: Severity,
    message: String,
    span: Span,
    function: Option<String>,
    events: Vec<Event>,
    help: Option<String>,
    related: Vec<Event>,
    trigger: Trigger,
    failing_call: Option<FailingCall>,
}

impl StoredFinding {
    fn of(f: &Finding) -> StoredFinding {
        StoredFinding {
            code: f.code.to_string(),
            severity: f.severity,
            message: f.message.clone(),
            span: f.span,
            function: f.function.clone(),
            events: f.events.clone(),
            help: f.help.clone(),
            related: f.related.clone(),
            trigger: f.trigger,
            failing_call: f.failing_call.clone(),
        }
    }

    /// The finding, if its rule is one this build knows.
    fn finding(self) -> Option<Finding> {
        let rule = refsan_engine::rule(&self.code)?;
        Some(Finding {
            code: rule.code,
            name: rule.name,
            severity: self.severity,
            message: self.message,
            span: self.span,
            function: self.function,
            events: self.events,
            help: self.help,
            related: self.related,
            trigger: self.trigger,
            failing_call: self.failing_call,
        })
    }
}

/// What a run asks of the cache for one file.
pub struct Lookup {
    key: String,
    /// The file, absolute.
    path: PathBuf,
    content: String,
    context: Vec<(String, String)>,
}

/// A finding list and notes found in the cache.
pub struct Hit {
    pub findings: Vec<Finding>,
    pub notes: Vec<Note>,
}

/// The cache of one run.
pub struct Cache {
    dir: PathBuf,
    /// The digest of the Cython declarations of `cpython.*` in use.
    declarations: u64,
    /// The entries read at the start of the run.
    old: HashMap<String, Entry>,
    /// The entries written by this run.
    new: Mutex<HashMap<String, Entry>>,
    /// Fingerprints of defining sources, computed once per run.
    fingerprints: Mutex<HashMap<PathBuf, String>>,
    hits: AtomicUsize,
    /// The files not found in the cache, as shown.
    misses: Mutex<Vec<String>>,
}

impl Cache {
    /// The cache in `dir`, created if needed with a `.gitignore` of its own
    /// and a `CACHEDIR.TAG`. Entries that cannot be read, or were written
    /// by another build of refsan, are not used.
    pub fn open(dir: &Path) -> std::io::Result<Cache> {
        std::fs::create_dir_all(dir)?;
        let ignore = dir.join(".gitignore");
        if !ignore.exists() {
            std::fs::write(
                &ignore,
                "# Created by refsan: this directory is a cache.\n*\n",
            )?;
        }
        let tag = dir.join("CACHEDIR.TAG");
        if !tag.exists() {
            std::fs::write(
                &tag,
                "Signature: 8a477f597d28d172789f06886806bc55\n# This file is a cache directory tag created by refsan.\n",
            )?;
        }
        let old = std::fs::read(results_file(dir))
            .ok()
            .and_then(|text| serde_json::from_slice::<Stored>(&text).ok())
            .filter(|s| s.format == FORMAT && s.build == build_id())
            .map(|s| s.entries)
            .unwrap_or_default();
        Ok(Cache {
            dir: dir.to_path_buf(),
            declarations: refsan_cython::cpython_declarations().fingerprint(),
            old,
            new: Mutex::new(HashMap::new()),
            fingerprints: Mutex::new(HashMap::new()),
            hits: AtomicUsize::new(0),
            misses: Mutex::new(Vec::new()),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// How many files were found in the cache.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::Relaxed)
    }

    /// The files that were not (sorted).
    pub fn misses(&self) -> Vec<String> {
        let mut out = self.misses.lock().map(|m| m.clone()).unwrap_or_default();
        out.sort();
        out
    }

    /// What identifies the check of `file` (shown as `shown`, with
    /// `settings` described by `settings_key`) with content `bytes` read in
    /// `context`.
    pub fn lookup(
        &self,
        file: &Path,
        shown: &str,
        settings_key: &str,
        bytes: &[u8],
        context: &crate::project::Context,
    ) -> Lookup {
        let abs = std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf());
        let mut h = std::hash::DefaultHasher::new();
        settings_key.hash(&mut h);
        self.declarations.hash(&mut h);
        shown.hash(&mut h);
        abs.hash(&mut h);
        let k1 = h.finish();
        0x5au8.hash(&mut h);
        Lookup {
            key: format!("{k1:016x}{:016x}", h.finish()),
            path: abs,
            content: digest(bytes),
            context: context_digests(context),
        }
    }

    /// The findings kept for `lookup`, if what they depend on is unchanged.
    pub fn get(&self, lookup: &Lookup, file: &Path, projects: &Projects) -> Option<Hit> {
        let hit = self.valid(lookup, file, projects);
        if hit.is_some() {
            self.hits.fetch_add(1, Ordering::Relaxed);
        } else if let Ok(mut m) = self.misses.lock() {
            m.push(display_path(file));
        }
        hit
    }

    fn valid(&self, lookup: &Lookup, file: &Path, projects: &Projects) -> Option<Hit> {
        let entry = self.old.get(&lookup.key)?;
        if entry.path != lookup.path
            || entry.content != lookup.content
            || entry.context != lookup.context
        {
            return None;
        }
        let wanted: Vec<&str> = entry.wanted.iter().map(String::as_str).collect();
        let definers = projects.definitions_of(file, &wanted);
        if definers.len() != entry.definers.len() {
            return None;
        }
        for ((name, source), (n, s, fp)) in definers.iter().zip(&entry.definers) {
            if name != n || display_path(source) != *s || self.fingerprint(source, projects) != *fp
            {
                return None;
            }
        }
        let findings = entry
            .findings
            .iter()
            .cloned()
            .map(StoredFinding::finding)
            .collect::<Option<Vec<_>>>()?;
        Some(Hit {
            findings,
            notes: entry.notes.clone(),
        })
    }

    /// Keeps what checking the file found (written by [`Cache::save`]).
    pub fn put(
        &self,
        lookup: &Lookup,
        reads: &Reads,
        projects: &Projects,
        findings: &[Finding],
        notes: &[Note],
    ) {
        let entry = Entry {
            path: lookup.path.clone(),
            content: lookup.content.clone(),
            context: lookup.context.clone(),
            wanted: reads.wanted.clone(),
            definers: reads
                .definers
                .iter()
                .map(|(n, s)| (n.clone(), display_path(s), self.fingerprint(s, projects)))
                .collect(),
            findings: findings.iter().map(StoredFinding::of).collect(),
            notes: notes.to_vec(),
        };
        if let Ok(mut new) = self.new.lock() {
            new.insert(lookup.key.clone(), entry);
        }
    }

    /// Writes the entries of this run with the earlier ones still valid
    /// for files that exist (when this run wrote any). Written aside and
    /// renamed: a reader never sees half a file, and of two runs ending
    /// together the last one's entries are kept.
    pub fn save(self) -> std::io::Result<()> {
        let new = self.new.into_inner().unwrap_or_default();
        if new.is_empty() {
            return Ok(());
        }
        let mut entries = self.old;
        entries.retain(|k, e| !new.contains_key(k) && e.path.is_file());
        entries.extend(new);
        let stored = Stored {
            format: FORMAT,
            build: build_id().to_string(),
            entries,
        };
        let text = serde_json::to_vec(&stored).map_err(std::io::Error::other)?;
        let path = results_file(&self.dir);
        let tmp = path.with_extension(format!("{}.tmp", std::process::id()));
        let written = std::fs::File::create(&tmp)
            .and_then(|mut f| f.write_all(&text))
            .and_then(|()| std::fs::rename(&tmp, &path));
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written
    }

    /// What a defining source's summaries are computed from: its content
    /// and its context.
    fn fingerprint(&self, source: &Path, projects: &Projects) -> String {
        if let Some(fp) = self
            .fingerprints
            .lock()
            .ok()
            .and_then(|m| m.get(source).cloned())
        {
            return fp;
        }
        let fp = match (std::fs::read(source), language_for(source)) {
            (Ok(bytes), Some(lang)) => {
                let context = projects.context(source, lang, &bytes);
                let mut parts = digest(&bytes);
                for (p, d) in context_digests(&context) {
                    parts.push_str(&p);
                    parts.push_str(&d);
                }
                digest(parts.as_bytes())
            }
            _ => "unreadable".to_string(),
        };
        if let Ok(mut m) = self.fingerprints.lock() {
            m.insert(source.to_path_buf(), fp.clone());
        }
        fp
    }
}

/// The file of entries in the cache directory `dir`.
fn results_file(dir: &Path) -> PathBuf {
    dir.join(format!("results-v{FORMAT}.json"))
}

fn context_digests(context: &crate::project::Context) -> Vec<(String, String)> {
    context
        .files
        .iter()
        .map(|f| (f.path.display().to_string(), digest(&f.source)))
        .collect()
}

/// Removes the cache directory `dir` (only if it is one refsan made).
pub fn clean(dir: &Path) -> std::io::Result<bool> {
    if !dir.join("CACHEDIR.TAG").is_file() {
        return Ok(false);
    }
    std::fs::remove_dir_all(dir)?;
    Ok(true)
}
