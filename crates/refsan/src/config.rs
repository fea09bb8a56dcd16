//! `[tool.refsan]` in the nearest pyproject.toml.
//!
//! ```toml
//! [tool.refsan]
//! select = ["RS1", "RS201"]        # rule codes or prefixes (default: all)
//! extend-select = ["RS4"]           # added to `select`
//! ignore = ["RS110"]                # the more specific of select/ignore wins
//! target-version = "3.9"            # default: from [project] requires-python
//! exclude = ["build", "vendor/*"]   # replaces the default excludes
//! extend-exclude = ["third_party"]  # added to them
//! oom = "warning"                   # findings that need memory to run out:
//!                                   # "error", "warning" (default) or "ignore"
//!
//! [tool.refsan.per-file-ignores]
//! "legacy/*.c" = ["RS101"]
//!
//! [tool.refsan.functions]            # ownership of functions refsan cannot see
//! my_lookup = { returns = "borrowed" }
//! my_consume = { steals = [2] }      # 1-based argument positions
//! my_make = { returns = "new", fails = "null" }
//! ```

use anyhow::{bail, Context, Result};
use globset::{Glob, GlobSet, GlobSetBuilder};
use refsan_ir::{ArgEffect, Contract, ExcEffect, Failure, Returns};
use serde::Deserialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct RawConfig {
    select: Option<Vec<String>>,
    extend_select: Option<Vec<String>>,
    ignore: Option<Vec<String>>,
    target_version: Option<String>,
    exclude: Option<Vec<String>>,
    extend_exclude: Option<Vec<String>>,
    per_file_ignores: Option<HashMap<String, Vec<String>>>,
    functions: Option<HashMap<String, RawFunction>>,
    oom: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFunction {
    returns: Option<String>,
    steals: Option<Vec<usize>>,
    steals_on_success: Option<Vec<usize>>,
    fails: Option<String>,
}

#[derive(Deserialize)]
struct PyProject {
    tool: Option<Tool>,
    project: Option<Project>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct Project {
    requires_python: Option<String>,
}

#[derive(Deserialize)]
struct Tool {
    refsan: Option<toml::Value>,
}

/// The settings one pyproject.toml gives.
#[derive(Debug, Default)]
pub struct Config {
    /// Directory of the pyproject.toml: globs are relative to it.
    pub root: PathBuf,
    pub select: Option<Vec<String>>,
    pub extend_select: Vec<String>,
    pub ignore: Vec<String>,
    pub target: Option<(u8, u8)>,
    /// `exclude`, when the file replaces the default list.
    pub exclude: Option<Vec<String>>,
    pub extend_exclude: Vec<String>,
    pub per_file_ignores: Vec<(GlobSet, Vec<String>)>,
    pub functions: HashMap<String, Contract>,
    /// What to do with findings that need memory to run out.
    pub oom: Option<refsan_engine::OomFindings>,
}

pub fn parse_version(s: &str) -> Result<(u8, u8)> {
    let t = s.trim().trim_start_matches("py").trim_start_matches("cp");
    let (maj, min) = if let Some((a, b)) = t.split_once('.') {
        (a, b)
    } else if t.len() >= 2 && t.starts_with('3') {
        t.split_at(1)
    } else {
        bail!("invalid Python version `{s}` (expected e.g. 3.9)");
    };
    let maj: u8 = maj
        .parse()
        .with_context(|| format!("invalid Python version `{s}`"))?;
    let min: u8 = min
        .parse()
        .with_context(|| format!("invalid Python version `{s}`"))?;
    if maj != 3 || !(8..=14).contains(&min) {
        bail!("unsupported Python version `{s}` (refsan supports 3.8 to 3.14)");
    }
    Ok((maj, min))
}

fn glob_set(patterns: &[String]) -> Result<GlobSet> {
    let mut b = GlobSetBuilder::new();
    for p in patterns {
        b.add(Glob::new(p).with_context(|| format!("invalid glob `{p}`"))?);
        // A bare directory name also matches everything below it.
        if !p.contains('*') {
            b.add(Glob::new(&format!("{}/**", p.trim_end_matches('/')))?);
        }
    }
    Ok(b.build()?)
}

fn function_contract(name: &str, f: &RawFunction) -> Result<Contract> {
    let mut c = Contract::unknown();
    match f.returns.as_deref() {
        None => {}
        Some("new") => {
            c.returns = Returns::New;
            c.failure = Failure::Null;
        }
        Some("borrowed") => c.returns = Returns::Borrowed,
        Some("none" | "void") => c.returns = Returns::Void,
        Some("int" | "other") => c.returns = Returns::NotObject,
        Some(other) => {
            bail!("function `{name}`: returns = \"{other}\" (expected new, borrowed, int or void)")
        }
    }
    if let Some(fails) = f.fails.as_deref() {
        c.failure = match fails {
            "null" => Failure::Null,
            "null-no-exception" => Failure::NullNoExc,
            "negative" | "-1" => Failure::NegOne,
            "zero" => Failure::Zero,
            "never" => Failure::Never,
            other => bail!("function `{name}`: fails = \"{other}\" (expected null, null-no-exception, negative, zero or never)"),
        };
    }
    for (list, effect) in [
        (&f.steals, ArgEffect::Steal),
        (&f.steals_on_success, ArgEffect::StealOnSuccess),
    ] {
        for n in list.iter().flatten() {
            if *n == 0 {
                bail!("function `{name}`: argument positions are 1-based");
            }
            c.set_arg(n - 1, effect);
        }
    }
    c.exc = ExcEffect::OnFailure;
    Ok(c)
}

impl Config {
    /// Reads `[tool.refsan]` from a pyproject.toml; `Ok(None)` when the file
    /// has no such table.
    pub fn load(path: &Path) -> Result<Option<Config>> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let doc: PyProject = toml::from_str(&text)
            .with_context(|| format!("{} is not valid TOML", path.display()))?;
        let requires_python = doc.project.and_then(|p| p.requires_python);
        let Some(value) = doc.tool.and_then(|t| t.refsan) else {
            return Ok(None);
        };
        let raw: RawConfig = value
            .try_into()
            .with_context(|| format!("invalid [tool.refsan] in {}", path.display()))?;
        let root = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut cfg = Config {
            root,
            select: raw.select,
            extend_select: raw.extend_select.unwrap_or_default(),
            ignore: raw.ignore.unwrap_or_default(),
            exclude: raw.exclude,
            extend_exclude: raw.extend_exclude.unwrap_or_default(),
            ..Config::default()
        };
        if let Some(v) = raw.target_version {
            cfg.target = Some(parse_version(&v).with_context(|| format!("in {}", path.display()))?);
        } else if let Some(spec) = requires_python {
            cfg.target = oldest_python(&spec);
        }
        for pattern in cfg.exclude.iter().flatten().chain(&cfg.extend_exclude) {
            Glob::new(pattern).with_context(|| {
                format!("invalid exclude pattern `{pattern}` in {}", path.display())
            })?;
        }
        if let Some(v) = &raw.oom {
            cfg.oom = Some(refsan_engine::OomFindings::parse(v).with_context(|| {
                format!(
                    "invalid `oom = \"{v}\"` in {}: expected \"error\", \"warning\" or \"ignore\"",
                    path.display()
                )
            })?);
        }
        for (pattern, codes) in raw.per_file_ignores.unwrap_or_default() {
            cfg.per_file_ignores.push((glob_set(&[pattern])?, codes));
        }
        for (name, f) in raw.functions.unwrap_or_default() {
            let c =
                function_contract(&name, &f).with_context(|| format!("in {}", path.display()))?;
            cfg.functions.insert(name, c);
        }
        for code in cfg
            .select
            .iter()
            .flatten()
            .chain(&cfg.extend_select)
            .chain(&cfg.ignore)
        {
            check_code(code).with_context(|| format!("in {}", path.display()))?;
        }
        Ok(Some(cfg))
    }

    fn relative<'p>(&self, file: &'p Path) -> &'p Path {
        file.strip_prefix(&self.root).unwrap_or(file)
    }

    /// Codes ignored for this file by per-file-ignores.
    pub fn file_ignores(&self, file: &Path) -> Vec<String> {
        let rel = self.relative(file);
        self.per_file_ignores
            .iter()
            .filter(|(g, _)| g.is_match(rel))
            .flat_map(|(_, c)| c.iter().cloned())
            .collect()
    }
}

/// A rule code or prefix must name at least one rule.
pub fn check_code(code: &str) -> Result<()> {
    let upper = code.to_ascii_uppercase();
    if upper == "ALL"
        || refsan_engine::rules()
            .iter()
            .any(|r| r.code.starts_with(&upper))
    {
        Ok(())
    } else {
        bail!("unknown rule code or prefix `{code}` (see `refsan explain --list`)")
    }
}

/// Which rules run: `select` (default: every rule) plus `extend_select`,
/// minus `ignore`. When a code matches both sides, the more specific
/// selector wins (`--select RS101 --ignore RS1` keeps RS101; `--select RS1
/// --ignore RS101` drops it); at equal length `ignore` wins.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    pub select: Option<Vec<String>>,
    pub extend_select: Vec<String>,
    pub ignore: Vec<String>,
}

impl Selection {
    pub fn enabled(&self, code: &str) -> bool {
        // How specific the longest selector matching `code` is (ALL: 0).
        let best = |list: &mut dyn Iterator<Item = &String>| {
            list.filter_map(|p| {
                let p = p.to_ascii_uppercase();
                if p == "ALL" {
                    Some(0)
                } else {
                    code.starts_with(&p).then_some(p.len())
                }
            })
            .max()
        };
        let all = [String::from("ALL")];
        let selected = self.select.as_deref().unwrap_or(&all);
        let positive = best(&mut selected.iter().chain(&self.extend_select));
        let negative = best(&mut self.ignore.iter());
        match (positive, negative) {
            (None, _) => false,
            (Some(p), Some(n)) => p > n,
            (Some(_), None) => true,
        }
    }
}

/// Directory and file names never checked unless `exclude` replaces this
/// list: virtual environments, build output, caches, version control.
pub const DEFAULT_EXCLUDES: &[&str] = &[
    ".bzr",
    ".direnv",
    ".eggs",
    ".git",
    ".hg",
    ".mypy_cache",
    ".nox",
    ".pytest_cache",
    ".ruff_cache",
    ".svn",
    ".tox",
    ".venv",
    "__pycache__",
    "__pypackages__",
    "_build",
    "build",
    "dist",
    "node_modules",
    "site-packages",
    "venv",
];

/// Paths not to check. A pattern without `/` matches a file or directory
/// name anywhere (`build`, `*_pb2.c`); one with `/` matches the path from
/// the root it is relative to (`vendor/*`, `src/gen/**`).
#[derive(Clone, Debug)]
pub struct Excludes {
    root: PathBuf,
    names: GlobSet,
    paths: GlobSet,
}

impl Excludes {
    pub fn new(root: &Path, patterns: &[String]) -> Result<Excludes> {
        let mut names = GlobSetBuilder::new();
        let mut paths = GlobSetBuilder::new();
        for p in patterns {
            let glob = |text: &str| {
                Glob::new(text).with_context(|| format!("invalid exclude pattern `{p}`"))
            };
            let trimmed = p.trim_end_matches('/');
            if trimmed.contains('/') {
                let rel = trimmed.trim_start_matches("./");
                paths.add(glob(rel)?);
                paths.add(glob(&format!("{rel}/**"))?);
            } else {
                names.add(glob(trimmed)?);
            }
        }
        Ok(Excludes {
            root: root.to_path_buf(),
            names: names.build()?,
            paths: paths.build()?,
        })
    }

    /// Whether `path` (absolute, or relative to the current directory) or
    /// one of its directories below the root is excluded.
    pub fn matches(&self, path: &Path) -> bool {
        let rel = path.strip_prefix(&self.root).unwrap_or(path);
        if self.paths.is_match(rel) {
            return true;
        }
        rel.components()
            .any(|c| self.names.is_match(Path::new(c.as_os_str())))
    }
}

/// The oldest Python a `requires-python` specifier allows (`>=3.9`,
/// `~=3.10`, `>=3.8,<4`), within the versions refsan knows.
pub fn oldest_python(spec: &str) -> Option<(u8, u8)> {
    let mut oldest: Option<(u8, u8)> = None;
    for clause in spec.split(',') {
        let clause = clause.trim();
        let version = ["~=", ">=", "==", ">"]
            .iter()
            .find_map(|op| clause.strip_prefix(op))
            .map(str::trim);
        let Some(version) = version else { continue };
        let mut parts = version.split('.');
        let (Some(Ok(major)), Some(Ok(minor))) = (
            parts.next().map(str::parse::<u8>),
            parts.next().map(|m| m.trim_end_matches('*').parse::<u8>()),
        ) else {
            continue;
        };
        if major != 3 {
            continue;
        }
        let v = (3, minor.clamp(8, 14));
        oldest = Some(oldest.map_or(v, |o: (u8, u8)| o.min(v)));
    }
    oldest
}

/// Finds and caches the nearest pyproject.toml with a `[tool.refsan]`
/// table for each directory.
#[derive(Default)]
pub struct ConfigFinder {
    cache: HashMap<PathBuf, Option<std::sync::Arc<Config>>>,
}

impl ConfigFinder {
    pub fn for_file(&mut self, file: &Path) -> Result<Option<std::sync::Arc<Config>>> {
        let dir = file
            .parent()
            .map(|d| {
                if d.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    d
                }
            })
            .unwrap_or(Path::new("."));
        let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
        self.for_dir(&dir)
    }

    fn for_dir(&mut self, dir: &Path) -> Result<Option<std::sync::Arc<Config>>> {
        if let Some(c) = self.cache.get(dir) {
            return Ok(c.clone());
        }
        let candidate = dir.join("pyproject.toml");
        let found = if candidate.is_file() {
            match Config::load(&candidate)? {
                Some(c) => Some(std::sync::Arc::new(c)),
                None => self.parent(dir)?,
            }
        } else {
            self.parent(dir)?
        };
        self.cache.insert(dir.to_path_buf(), found.clone());
        Ok(found)
    }

    fn parent(&mut self, dir: &Path) -> Result<Option<std::sync::Arc<Config>>> {
        match dir.parent() {
            Some(p) if p != dir => self.for_dir(p),
            _ => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(parse_version("3.9").unwrap(), (3, 9));
        assert_eq!(parse_version("py312").unwrap(), (3, 12));
        assert!(parse_version("2.7").is_err());
        assert!(parse_version("3.x").is_err());
    }

    #[test]
    fn selection_prefixes() {
        let s = Selection {
            select: Some(vec!["RS1".into()]),
            ignore: vec!["RS110".into()],
            ..Selection::default()
        };
        assert!(s.enabled("RS101"));
        assert!(!s.enabled("RS110"));
        assert!(!s.enabled("RS201"));
        assert!(Selection::default().enabled("RS304"));
    }

    #[test]
    fn the_more_specific_selector_wins() {
        let s = Selection {
            select: Some(vec!["RS101".into()]),
            ignore: vec!["RS1".into()],
            ..Selection::default()
        };
        assert!(s.enabled("RS101"));
        assert!(!s.enabled("RS102"));
        let s = Selection {
            select: None,
            extend_select: vec![],
            ignore: vec!["RS1".into()],
        };
        assert!(!s.enabled("RS101"));
        assert!(s.enabled("RS201"));
        let s = Selection {
            select: Some(vec!["RS2".into()]),
            extend_select: vec!["RS101".into()],
            ignore: vec![],
        };
        assert!(s.enabled("RS101") && s.enabled("RS203") && !s.enabled("RS102"));
        let tie = Selection {
            select: Some(vec!["RS101".into()]),
            extend_select: vec![],
            ignore: vec!["rs101".into()],
        };
        assert!(!tie.enabled("RS101"));
    }

    #[test]
    fn requires_python() {
        assert_eq!(oldest_python(">=3.9"), Some((3, 9)));
        assert_eq!(oldest_python(">=3.8, <4"), Some((3, 8)));
        assert_eq!(oldest_python("~=3.10"), Some((3, 10)));
        assert_eq!(oldest_python("==3.11.*"), Some((3, 11)));
        assert_eq!(oldest_python(">=3.6"), Some((3, 8)));
        assert_eq!(oldest_python(">=2.7,!=3.0.*"), None);
        assert_eq!(oldest_python("bogus"), None);
    }

    #[test]
    fn excludes_match_names_anywhere_and_paths_from_the_root() {
        let root = Path::new("/p");
        let ex = Excludes::new(
            root,
            &["build".into(), "vendor/zlib".into(), "*_gen.c".into()],
        )
        .unwrap();
        assert!(ex.matches(Path::new("/p/build/x.c")));
        assert!(ex.matches(Path::new("/p/src/build/x.c")));
        assert!(ex.matches(Path::new("/p/vendor/zlib/inflate.c")));
        assert!(!ex.matches(Path::new("/p/src/vendor/zlib/inflate.c")));
        assert!(ex.matches(Path::new("/p/src/table_gen.c")));
        assert!(!ex.matches(Path::new("/p/src/builder.c")));
    }

    #[test]
    fn loads_tool_table() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pyproject.toml");
        std::fs::write(
            &p,
            r#"
[project]
name = "x"
[tool.refsan]
select = ["RS1"]
target-version = "3.12"
exclude = ["build"]
oom = "ignore"
[tool.refsan.per-file-ignores]
"legacy/*.c" = ["RS101"]
[tool.refsan.functions]
get = { returns = "borrowed" }
eat = { steals = [2] }
"#,
        )
        .unwrap();
        let c = Config::load(&p).unwrap().unwrap();
        assert_eq!(c.target, Some((3, 12)));
        assert_eq!(c.exclude, Some(vec!["build".to_string()]));
        assert_eq!(
            c.file_ignores(&dir.path().join("legacy/a.c")),
            vec!["RS101".to_string()]
        );
        assert_eq!(c.functions["get"].returns, Returns::Borrowed);
        assert_eq!(c.functions["eat"].arg(1), ArgEffect::Steal);
        assert_eq!(c.oom, Some(refsan_engine::OomFindings::Ignore));
        std::fs::write(&p, "[tool.refsan]\nbogus = 1\n").unwrap();
        assert!(Config::load(&p).is_err());
        std::fs::write(&p, "[tool.refsan]\noom = \"never\"\n").unwrap();
        let err = format!("{:#}", Config::load(&p).unwrap_err());
        assert!(
            err.contains("\"error\", \"warning\" or \"ignore\""),
            "{err}"
        );
        std::fs::write(&p, "[tool.refsan]\nselect = [\"XX9\"]\n").unwrap();
        assert!(Config::load(&p).is_err());
    }
}
