//! `refsan build`: rebuilds an extension project in place, with its own
//! build (setup.py's `build_ext --inplace`, or pip's editable install for a
//! pyproject-only project), and the flags that make crash reports exact:
//!
//! - `-g -O0 -fno-omit-frame-pointer`: every line and local in the stack,
//!   inlined `Py_DECREF` still visible as its own frame;
//! - with `--asan`, `-fsanitize=address` for compiling and linking;
//! - with `--debug`, the debug interpreter (`python3-dbg`) and its headers,
//!   so the extension's own `Py_INCREF`/`Py_DECREF` do the debug accounting,
//!   and `-UNDEBUG` so `assert()` is live.
//!
//! Cython's `/* "file.pyx":N */` markers, which refsan maps frames with, are
//! on by default in every Cython version; `--force` makes sure everything is
//! compiled again with the new flags.
//!
//! An ASan module cannot be imported without the ASan runtime preloaded, so
//! `--asan` leaves the in-place modules alone: it builds into
//! `build/refsan-asan/` ([`ASAN_DIR`]) and lists the modules it built, by
//! their full names, in its `manifest.json`; `refsan run --asan` imports
//! those instead of the in-place ones. A debug-interpreter build carries its
//! own ABI tag (`.cpython-311d-...so`), which only the debug interpreter
//! loads, so `--debug` builds in place.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

pub const DEBUG_FLAGS: &str = "-g -O0 -fno-omit-frame-pointer";
/// Where `--asan` builds, under the project.
pub const ASAN_DIR: &str = "build/refsan-asan";
/// The list of what an `--asan` build wrote: `{"modules": {name: path}}`.
pub const MANIFEST: &str = "manifest.json";
pub const ASAN_FLAG: &str = "-fsanitize=address";

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("{0} is not a directory")]
    NotADirectory(PathBuf),
    #[error("no setup.py or pyproject.toml in {0}: not a Python extension project")]
    NotAProject(PathBuf),
    #[error("{0}")]
    NoInterpreter(String),
    #[error("{}", missing_requirements_message(.python, .missing, *.externally_managed))]
    MissingRequirements {
        python: PathBuf,
        missing: Vec<String>,
        externally_managed: bool,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot run {program}: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
}

#[derive(Clone, Debug)]
pub struct BuildOptions {
    pub path: PathBuf,
    pub asan: bool,
    pub debug: bool,
    pub python: Option<PathBuf>,
}

/// The command refsan will run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildPlan {
    pub python: PathBuf,
    pub program: PathBuf,
    pub args: Vec<OsString>,
    pub env: Vec<(String, String)>,
    pub dir: PathBuf,
    /// Where the modules go when not in place (`--asan`).
    pub variant_dir: Option<PathBuf>,
}

impl BuildPlan {
    /// The command line as a shell would show it.
    pub fn display(&self) -> String {
        let mut parts: Vec<String> = self.env.iter().map(|(k, v)| format!("{k}='{v}'")).collect();
        parts.push(self.program.display().to_string());
        parts.extend(self.args.iter().map(|a| a.to_string_lossy().into_owned()));
        parts.join(" ")
    }
}

/// The build's result: the command's status and the extension modules it
/// (re)wrote.
#[derive(Clone, Debug)]
pub struct BuildOutcome {
    pub success: bool,
    pub exit_code: Option<i32>,
    pub built: Vec<PathBuf>,
}

/// Works out the interpreter, command and flags.
pub fn plan(options: &BuildOptions) -> Result<BuildPlan, BuildError> {
    let dir = &options.path;
    if !dir.is_dir() {
        return Err(BuildError::NotADirectory(dir.clone()));
    }
    let python = choose_python(options)?;
    let mut cflags = std::env::var("CFLAGS").unwrap_or_default();
    let mut ldflags = std::env::var("LDFLAGS").unwrap_or_default();
    // Ours go last: later flags win over the interpreter's -O2/-O3.
    append(&mut cflags, DEBUG_FLAGS);
    if options.debug {
        append(&mut cflags, "-UNDEBUG");
    }
    if options.asan {
        append(&mut cflags, ASAN_FLAG);
        append(&mut ldflags, ASAN_FLAG);
    }
    let mut env = vec![("CFLAGS".to_string(), cflags.clone())];
    // C++ extensions read CXXFLAGS in some setups, CFLAGS in others.
    env.push(("CXXFLAGS".to_string(), {
        let mut c = std::env::var("CXXFLAGS").unwrap_or_default();
        append(&mut c, &cflags);
        c
    }));
    if !ldflags.is_empty() {
        env.push(("LDFLAGS".to_string(), ldflags));
    }
    let variant_dir = options.asan.then(|| dir.join(ASAN_DIR));
    let args: Vec<OsString> = if let Some(variant) = &variant_dir {
        let lib = variant.join("lib").into_os_string();
        if dir.join("setup.py").is_file() {
            vec![
                "setup.py".into(),
                "build_ext".into(),
                "--build-lib".into(),
                lib,
                "--build-temp".into(),
                variant.join("temp").into_os_string(),
                "--force".into(),
            ]
        } else if dir.join("pyproject.toml").is_file() {
            // A whole (non-editable) install into the variant directory.
            let mut args: Vec<OsString> = [
                "-m",
                "pip",
                "install",
                "--no-deps",
                "--no-build-isolation",
                "--upgrade",
                "--target",
            ]
            .into_iter()
            .map(OsString::from)
            .collect();
            args.push(lib);
            args.push(".".into());
            args
        } else {
            return Err(BuildError::NotAProject(dir.clone()));
        }
    } else if dir.join("setup.py").is_file() {
        ["setup.py", "build_ext", "--inplace", "--force"]
            .into_iter()
            .map(OsString::from)
            .collect()
    } else if dir.join("pyproject.toml").is_file() {
        // The project's build backend, in this interpreter's environment (its
        // installed Cython and setuptools), editable so modules land in place.
        [
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-build-isolation",
            "--force-reinstall",
            "-e",
            ".",
        ]
        .into_iter()
        .map(OsString::from)
        .collect()
    } else {
        return Err(BuildError::NotAProject(dir.clone()));
    };
    Ok(BuildPlan {
        program: python.clone(),
        python,
        args,
        env,
        dir: dir.clone(),
        variant_dir,
    })
}

/// The requirements of `[build-system] requires` in `dir`'s pyproject.toml.
pub fn build_requirements(dir: &Path) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(dir.join("pyproject.toml")) else {
        return Vec::new();
    };
    let Ok(doc) = text.parse::<toml::Table>() else {
        return Vec::new();
    };
    doc.get("build-system")
        .and_then(|b| b.get("requires"))
        .and_then(|r| r.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Asks `python` which of `requirements` it does not satisfy (markers and
/// versions checked with the `packaging` that pip vendors), and whether pip
/// may install into it (PEP 668).
const REQUIREMENTS_PROBE: &str = r#"
import json, os, re, sys, sysconfig
from importlib import metadata
try:
    from packaging.requirements import Requirement
except ImportError:
    try:
        from pip._vendor.packaging.requirements import Requirement
    except ImportError:
        Requirement = None
missing = []
for text in json.loads(sys.argv[1]):
    name, spec = re.split(r"[\s<>=!~;\[(]", text.strip(), maxsplit=1)[0], None
    if Requirement is not None:
        try:
            req = Requirement(text)
        except Exception:
            req = None
        if req is not None:
            if req.marker is not None and not req.marker.evaluate():
                continue
            name, spec = req.name, req.specifier
    try:
        version = metadata.version(name)
    except metadata.PackageNotFoundError:
        missing.append(text)
        continue
    if spec is not None and not spec.contains(version, prereleases=True):
        missing.append("%s (%s is installed)" % (text, version))
marker = os.path.join(sysconfig.get_path("stdlib") or "", "EXTERNALLY-MANAGED")
managed = os.path.isfile(marker) and sys.prefix == getattr(sys, "base_prefix", sys.prefix)
print(json.dumps({"missing": missing, "externally_managed": managed}))
"#;

/// Fails with one clear error when `plan`'s interpreter lacks a build
/// requirement of the project (the build runs without isolation).
pub fn check_requirements(plan: &BuildPlan) -> Result<(), BuildError> {
    let requirements = build_requirements(&plan.dir);
    if requirements.is_empty() {
        return Ok(());
    }
    let list = serde_json::Value::from(requirements.clone()).to_string();
    let Ok(out) = Command::new(&plan.python)
        .args(["-c", REQUIREMENTS_PROBE, &list])
        .output()
    else {
        return Ok(()); // the build itself will say what is wrong
    };
    let Ok(answer) = serde_json::from_slice::<serde_json::Value>(&out.stdout) else {
        return Ok(());
    };
    let missing: Vec<String> = answer["missing"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    if missing.is_empty() {
        return Ok(());
    }
    Err(BuildError::MissingRequirements {
        python: plan.python.clone(),
        missing,
        externally_managed: answer["externally_managed"].as_bool().unwrap_or(false),
    })
}

fn missing_requirements_message(python: &Path, missing: &[String], managed: bool) -> String {
    // What to install: the requirement without the "(x is installed)" note.
    let specs: Vec<String> = missing
        .iter()
        .map(|m| m.split(" (").next().unwrap_or(m).to_string())
        .collect();
    let install = crate::doctor::pip_install(python, managed, &crate::program::shell_words(&specs));
    format!(
        "the project's build requirements (pyproject.toml [build-system] requires) are not installed for {}: {}; install them with: {install}",
        python.display(),
        missing.join(", ")
    )
}

fn append(flags: &mut String, more: &str) {
    if !flags.is_empty() {
        flags.push(' ');
    }
    flags.push_str(more);
}

fn choose_python(options: &BuildOptions) -> Result<PathBuf, BuildError> {
    if let Some(p) = &options.python {
        return crate::gdb::which(&p.to_string_lossy()).ok_or_else(|| {
            BuildError::NoInterpreter(format!("{}: interpreter not found", p.display()))
        });
    }
    let candidates: &[&str] = if options.debug {
        &["python3-dbg", "python3d"]
    } else {
        &["python3", "python"]
    };
    candidates
        .iter()
        .find_map(|c| crate::gdb::which(c))
        .ok_or_else(|| {
            BuildError::NoInterpreter(if options.debug {
                "--debug: no debug interpreter (python3-dbg) found; install it with `apt-get install python3-dbg` or pass --python".to_string()
            } else {
                "no python3 on PATH; pass --python".to_string()
            })
        })
}

/// Runs the plan; the build's own output goes to the terminal.
pub fn run(plan: &BuildPlan) -> Result<BuildOutcome, BuildError> {
    // What existed before: a module the build writes is new or changed
    // (setuptools keeps the build directory's mtime when it copies a module
    // in place, so comparing with the start time alone is not enough).
    let mut before = Vec::new();
    collect_new_extensions(&plan.dir, SystemTime::UNIX_EPOCH, 0, &mut before);
    let before: Vec<(PathBuf, Option<(SystemTime, u64)>)> = before
        .into_iter()
        .map(|p| {
            let stamp = std::fs::metadata(&p)
                .ok()
                .and_then(|m| m.modified().ok().map(|t| (t, m.len())));
            (p, stamp)
        })
        .collect();
    let status = Command::new(&plan.program)
        .args(&plan.args)
        .envs(plan.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&plan.dir)
        .status()
        .map_err(|source| BuildError::Spawn {
            program: plan.program.display().to_string(),
            source,
        })?;
    if let Some(variant) = &plan.variant_dir {
        let built = if status.success() {
            write_manifest(variant)?
        } else {
            Vec::new()
        };
        return Ok(BuildOutcome {
            success: status.success(),
            exit_code: status.code(),
            built,
        });
    }
    let mut after = Vec::new();
    collect_new_extensions(&plan.dir, SystemTime::UNIX_EPOCH, 0, &mut after);
    let mut built: Vec<PathBuf> = after
        .into_iter()
        .filter(|p| {
            let stamp = std::fs::metadata(p)
                .ok()
                .and_then(|m| m.modified().ok().map(|t| (t, m.len())));
            before.iter().all(|(q, old)| q != p || *old != stamp)
        })
        .collect();
    built.sort();
    Ok(BuildOutcome {
        success: status.success(),
        exit_code: status.code(),
        built,
    })
}

/// Lists the extension modules under `variant`/lib by their full names in
/// `variant`/manifest.json; returns them.
fn write_manifest(variant: &Path) -> Result<Vec<PathBuf>, BuildError> {
    let lib = variant.join("lib");
    let lib = std::fs::canonicalize(&lib).unwrap_or(lib);
    let mut found = Vec::new();
    collect_new_extensions(&lib, SystemTime::UNIX_EPOCH, 0, &mut found);
    found.sort();
    let mut modules = serde_json::Map::new();
    for so in &found {
        let Ok(relative) = so.strip_prefix(&lib) else {
            continue;
        };
        let mut parts: Vec<String> = relative
            .parent()
            .map(|p| {
                p.components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        let stem = so
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.split('.').next())
            .unwrap_or_default();
        parts.push(stem.to_string());
        modules.insert(
            parts.join("."),
            serde_json::Value::String(so.to_string_lossy().into_owned()),
        );
    }
    let manifest = serde_json::json!({ "modules": modules });
    let path = variant.join(MANIFEST);
    std::fs::write(&path, manifest.to_string() + "\n")
        .map_err(|source| BuildError::Write { path, source })?;
    Ok(found)
}

/// The project `refsan build` builds for a file under `dir`: the nearest
/// directory at or above it with a setup.py or pyproject.toml (`dir` when
/// there is none).
pub fn project_dir(dir: &Path) -> PathBuf {
    dir.ancestors()
        .find(|d| d.join("setup.py").is_file() || d.join("pyproject.toml").is_file())
        .unwrap_or(dir)
        .to_path_buf()
}

/// The manifests of `--asan` builds for a program run from `cwd`: the
/// project of `cwd` and of each directory above it.
pub fn asan_manifests(cwd: &Path) -> Vec<PathBuf> {
    cwd.ancestors()
        .take(8)
        .map(|d| d.join(ASAN_DIR).join(MANIFEST))
        .filter(|m| m.is_file())
        .collect()
}

fn collect_new_extensions(dir: &Path, since: SystemTime, depth: usize, out: &mut Vec<PathBuf>) {
    if depth > 6 {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let Ok(meta) = entry.metadata() else { continue };
        if meta.is_dir() {
            if !matches!(
                name.as_ref(),
                "build" | ".git" | "node_modules" | "__pycache__"
            ) && !name.starts_with('.')
                && !name.ends_with(".egg-info")
            {
                collect_new_extensions(&path, since, depth + 1, out);
            }
            continue;
        }
        let is_so = crate::run::is_extension_library(&path.to_string_lossy());
        let fresh = meta.modified().map(|m| m >= since).unwrap_or(false);
        if is_so && fresh {
            out.push(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(files: &[&str]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "refsan-build-{}-{}",
            std::process::id(),
            files.join("-").replace(['.', '/'], "_")
        ));
        std::fs::create_dir_all(&dir).unwrap();
        for f in files {
            std::fs::write(dir.join(f), "").unwrap();
        }
        dir
    }

    #[test]
    fn setup_py_project_uses_build_ext_inplace() {
        let dir = project(&["setup.py"]);
        let plan = plan(&BuildOptions {
            path: dir.clone(),
            asan: true,
            debug: false,
            python: None,
        })
        .unwrap();
        // ASan modules go to their own directory, the in-place ones stay.
        let variant = dir.join(ASAN_DIR);
        assert_eq!(plan.variant_dir.as_deref(), Some(variant.as_path()));
        assert_eq!(plan.args[1], "build_ext");
        assert!(!plan.args.contains(&OsString::from("--inplace")));
        assert_eq!(plan.args[3], variant.join("lib").into_os_string());
        let debug_info = super::plan(&BuildOptions {
            path: dir.clone(),
            asan: false,
            debug: false,
            python: None,
        })
        .unwrap();
        assert_eq!(
            debug_info.args[1..],
            ["build_ext", "--inplace", "--force"].map(OsString::from)
        );
        let cflags = &plan.env.iter().find(|(k, _)| k == "CFLAGS").unwrap().1;
        assert!(cflags.ends_with("-g -O0 -fno-omit-frame-pointer -fsanitize=address"));
        let ldflags = &plan.env.iter().find(|(k, _)| k == "LDFLAGS").unwrap().1;
        assert!(ldflags.ends_with("-fsanitize=address"));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn pyproject_only_project_uses_pip_editable() {
        let dir = project(&["pyproject.toml"]);
        let plan = plan(&BuildOptions {
            path: dir.clone(),
            asan: false,
            debug: false,
            python: None,
        })
        .unwrap();
        assert!(plan.args.contains(&OsString::from("-e")));
        assert!(plan.env.iter().all(|(k, _)| k != "LDFLAGS") || std::env::var("LDFLAGS").is_ok());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn build_requirements_come_from_pyproject() {
        let dir = project(&["setup.py"]);
        std::fs::write(
            dir.join("pyproject.toml"),
            "[build-system]\nrequires = [\"setuptools>=61\", \"cython>=3; python_version>'3'\"]\n",
        )
        .unwrap();
        assert_eq!(
            build_requirements(&dir),
            ["setuptools>=61", "cython>=3; python_version>'3'"]
        );
        let message = missing_requirements_message(
            Path::new("/usr/bin/python3"),
            &["cython>=3 (0.29 is installed)".into()],
            true,
        );
        assert!(
            message.contains("cython>=3 (0.29 is installed)"),
            "{message}"
        );
        assert!(message.contains("-m venv .venv"), "{message}");
        assert!(message.contains("pip install 'cython>=3'"), "{message}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn not_a_project() {
        let dir = project(&["README"]);
        let err = plan(&BuildOptions {
            path: dir.clone(),
            asan: false,
            debug: false,
            python: None,
        })
        .unwrap_err();
        assert!(matches!(err, BuildError::NotAProject(_)));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
