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

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

pub const DEBUG_FLAGS: &str = "-g -O0 -fno-omit-frame-pointer";
pub const ASAN_FLAG: &str = "-fsanitize=address";

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("{0} is not a directory")]
    NotADirectory(PathBuf),
    #[error("no setup.py or pyproject.toml in {0}: not a Python extension project")]
    NotAProject(PathBuf),
    #[error("{0}")]
    NoInterpreter(String),
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
    let args: Vec<OsString> = if dir.join("setup.py").is_file() {
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
    })
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
        assert_eq!(
            plan.args[1..],
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
