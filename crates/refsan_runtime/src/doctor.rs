//! `refsan doctor`: what this machine has for the runtime commands, and the
//! exact command that installs each missing piece.

use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Ok,
    /// Works, with a limitation.
    Partial,
    Missing,
}

/// One line of the diagnosis.
#[derive(Clone, Debug)]
pub struct Check {
    pub name: String,
    pub status: Status,
    pub detail: String,
    /// The command that fixes it, for this system.
    pub fix: Option<String>,
}

/// Facts about one interpreter, asked from the interpreter itself.
#[derive(Clone, Debug, Default)]
pub struct Interpreter {
    pub path: PathBuf,
    pub executable: PathBuf,
    pub version: String,
    pub debug_build: bool,
    pub headers: bool,
    pub setuptools: Option<String>,
    pub cython: Option<String>,
    pub libpython: Option<PathBuf>,
    /// pip refuses to install into it (PEP 668: a distribution's
    /// interpreter outside a virtual environment).
    pub externally_managed: bool,
}

const PROBE: &str = r#"
import sys, sysconfig, os, importlib.util
def version(mod):
    if importlib.util.find_spec(mod) is None:
        return ""
    try:
        return getattr(__import__(mod), "__version__", "?")
    except Exception:
        return "?"
inc = sysconfig.get_paths().get("include") or ""
lib = os.path.join(sysconfig.get_config_var("LIBDIR") or "", sysconfig.get_config_var("INSTSONAME") or "")
print(sys.executable)
print("%d.%d.%d" % sys.version_info[:3])
print(int(hasattr(sys, "gettotalrefcount")))
print(int(os.path.isfile(os.path.join(inc, "Python.h"))))
print(version("setuptools"))
print(version("Cython"))
print(lib if os.path.isfile(lib) else "")
marker = os.path.join(sysconfig.get_path("stdlib") or "", "EXTERNALLY-MANAGED")
print(int(os.path.isfile(marker) and sys.prefix == getattr(sys, "base_prefix", sys.prefix)))
"#;

/// Asks `path` about itself; None when it does not run.
pub fn probe_interpreter(path: &Path) -> Option<Interpreter> {
    let out = Command::new(path).args(["-c", PROBE]).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    if lines.len() < 8 {
        return None;
    }
    let some = |s: &str| (!s.is_empty()).then(|| s.to_string());
    Some(Interpreter {
        path: path.to_path_buf(),
        executable: PathBuf::from(lines[0]),
        version: lines[1].to_string(),
        debug_build: lines[2] == "1",
        headers: lines[3] == "1",
        setuptools: some(lines[4]),
        cython: some(lines[5]),
        libpython: some(lines[6]).map(PathBuf::from),
        externally_managed: lines[7] == "1",
    })
}

/// The system's package installer, for the fix commands.
fn installer() -> (String, &'static str) {
    let sudo = if unsafe { libc::geteuid() } == 0 {
        ""
    } else {
        "sudo "
    };
    let tool = if crate::gdb::which("apt-get").is_some() {
        "apt-get install -y"
    } else if crate::gdb::which("dnf").is_some() {
        "dnf install -y"
    } else if crate::gdb::which("pacman").is_some() {
        "pacman -S --noconfirm"
    } else if crate::gdb::which("apk").is_some() {
        "apk add"
    } else {
        "<your package manager> install"
    };
    (format!("{sudo}{tool}"), tool)
}

/// The command that installs setuptools and Cython for `i`, one that works
/// on this machine: pip, unless the interpreter is externally managed
/// (PEP 668); then the distribution's packages for its own interpreter, or
/// a virtual environment.
fn packages_fix(install: &str, i: &Interpreter) -> String {
    // [pip, apt, dnf] names of what is missing.
    let missing: Vec<[&str; 3]> = [
        (
            i.setuptools.is_none(),
            ["setuptools", "python3-setuptools", "python3-setuptools"],
        ),
        (i.cython.is_none(), ["cython", "cython3", "python3-Cython"]),
    ]
    .into_iter()
    .filter_map(|(missing, names)| missing.then_some(names))
    .collect();
    let names = |k: usize| missing.iter().map(|n| n[k]).collect::<Vec<_>>().join(" ");
    let system = i.executable.starts_with("/usr/bin") || i.executable.starts_with("/bin");
    if i.externally_managed && system && install.contains("apt-get") {
        return format!("{install} {}", names(1));
    }
    if i.externally_managed && system && install.contains("dnf") {
        return format!("{install} {}", names(2));
    }
    pip_install(&i.executable, i.externally_managed, &names(0))
}

/// The command that installs `packages` (as a shell reads them) for the
/// interpreter `exe`: pip, or where pip refuses to install into it (PEP 668,
/// `externally_managed`), a virtual environment made from it.
pub fn pip_install(exe: &Path, externally_managed: bool, packages: &str) -> String {
    let exe = exe.display();
    if externally_managed {
        format!(
            "{exe} -m venv .venv && .venv/bin/python -m pip install {packages} (pip refuses to install into {exe}: PEP 668), then use --python .venv/bin/python"
        )
    } else {
        format!("{exe} -m pip install {packages}")
    }
}

fn first_line(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    text.lines().next().map(|l| l.trim().to_string())
}

/// Every check, in the order shown.
pub fn diagnose() -> Vec<Check> {
    let (install, _) = installer();
    let mut checks = Vec::new();
    let mut interpreters: Vec<Interpreter> = Vec::new();
    for name in ["python3", "/usr/bin/python3", "python3-dbg"] {
        let Some(path) = crate::gdb::which(name) else {
            continue;
        };
        let resolved = crate::program::resolve(path.as_os_str(), &[])
            .map(|r| r.path)
            .unwrap_or(path);
        if let Some(i) = probe_interpreter(&resolved) {
            if !interpreters.iter().any(|k| k.executable == i.executable) {
                interpreters.push(i);
            }
        }
    }
    if interpreters.is_empty() {
        checks.push(Check {
            name: "python".into(),
            status: Status::Missing,
            detail: "no Python interpreter on PATH".into(),
            fix: Some(format!("{install} python3 python3-dev")),
        });
    }
    for i in &interpreters {
        let kind = if i.debug_build {
            "debug build"
        } else {
            "release build"
        };
        let mut missing = Vec::new();
        let mut fixes = Vec::new();
        if !i.headers {
            missing.push("C headers");
            fixes.push(format!("{install} python3-dev"));
        }
        if i.setuptools.is_none() {
            missing.push("setuptools");
        }
        if i.cython.is_none() {
            missing.push("Cython");
        }
        if i.setuptools.is_none() || i.cython.is_none() {
            fixes.push(packages_fix(&install, i));
        }
        let mut detail = format!("{} {} ({kind})", i.executable.display(), i.version);
        if let Some(c) = &i.cython {
            detail.push_str(&format!(", Cython {c}"));
        }
        if !missing.is_empty() {
            detail.push_str(&format!("; missing: {}", missing.join(", ")));
        }
        checks.push(Check {
            name: "python".into(),
            status: if missing.is_empty() {
                Status::Ok
            } else {
                Status::Partial
            },
            detail,
            fix: (!fixes.is_empty()).then(|| fixes.join(" && ")),
        });
    }
    if !interpreters.iter().any(|i| i.debug_build) {
        checks.push(Check {
            name: "debug python".into(),
            status: Status::Missing,
            detail: "no debug interpreter: negative reference counts (RT02) are only caught by a debug build".into(),
            fix: Some(format!("{install} python3-dbg")),
        });
    }
    checks.push(gdb_check(&install, &interpreters));
    checks.push(match crate::run::asan_runtime() {
        Some(p) => Check {
            name: "asan".into(),
            status: Status::Ok,
            detail: format!("AddressSanitizer runtime {}", p.display()),
            fix: None,
        },
        None => Check {
            name: "asan".into(),
            status: Status::Missing,
            detail: "no AddressSanitizer runtime (libasan.so): `refsan run --asan` unavailable"
                .into(),
            fix: Some(format!("{install} gcc libasan8")),
        },
    });
    checks.push(match first_line("valgrind", &["--version"]) {
        Some(v) if v.starts_with("valgrind") => Check {
            name: "valgrind".into(),
            status: Status::Ok,
            detail: v,
            fix: None,
        },
        _ => Check {
            name: "valgrind".into(),
            status: Status::Missing,
            detail: "valgrind not found: `refsan run --valgrind` unavailable".into(),
            fix: Some(format!("{install} valgrind")),
        },
    });
    let compiler = ["cc", "gcc", "clang"]
        .iter()
        .find_map(|c| first_line(c, &["--version"]).map(|v| (c, v)));
    checks.push(match compiler {
        Some((c, v)) => Check {
            name: "c compiler".into(),
            status: Status::Ok,
            detail: format!("{c}: {v}"),
            fix: None,
        },
        None => Check {
            name: "c compiler".into(),
            status: Status::Missing,
            detail: "no C compiler: `refsan build` cannot rebuild extensions".into(),
            fix: Some(format!("{install} gcc")),
        },
    });
    checks.push(ptrace_check());
    checks
}

fn gdb_check(install: &str, interpreters: &[Interpreter]) -> Check {
    let Some(version) = first_line("gdb", &["--version"]).filter(|v| v.contains("gdb")) else {
        return Check {
            name: "gdb".into(),
            status: Status::Missing,
            detail: "gdb not found: crash reports have no native stack".into(),
            fix: Some(format!("{install} gdb")),
        };
    };
    let python_ok = first_line(
        "gdb",
        &["--nx", "--batch", "-ex", "python print('refsan-ok')"],
    )
    .is_some_and(|l| l.contains("refsan-ok"));
    if !python_ok {
        return Check {
            name: "gdb".into(),
            status: Status::Partial,
            detail: format!("{version}, built without Python: refsan's stack script cannot run"),
            fix: Some(format!("{install} gdb")),
        };
    }
    let mut detail = version;
    let mut fixes = Vec::new();
    let mut all_helpers = true;
    for i in interpreters {
        let mapped: Vec<PathBuf> = i.libpython.iter().cloned().collect();
        match crate::gdb::find_python_helpers(&i.executable, &mapped) {
            Some(h) if helpers_load(&h) => {
                detail.push_str(&format!(
                    "; Python helpers for {}: {} (py-bt works)",
                    i.executable.display(),
                    h.display()
                ));
            }
            Some(h) => {
                all_helpers = false;
                detail.push_str(&format!(
                    "; Python helpers for {} at {} do not load",
                    i.executable.display(),
                    h.display()
                ));
            }
            None => {
                all_helpers = false;
                detail.push_str(&format!(
                    "; no Python helpers (libpython.py) for {}",
                    i.executable.display()
                ));
                fixes.push(helper_fix(install, i));
            }
        }
    }
    Check {
        name: "gdb".into(),
        status: if all_helpers {
            Status::Ok
        } else {
            Status::Partial
        },
        detail,
        fix: (!fixes.is_empty()).then(|| fixes.join(" && ")),
    }
}

/// Loads the helper in gdb and checks that `py-bt` exists.
fn helpers_load(helper: &Path) -> bool {
    let out = Command::new("gdb")
        .args(["--nx", "--batch", "-ex"])
        .arg(format!("source {}", helper.display()))
        .args(["-ex", "help py-bt"])
        .output();
    match out {
        Ok(o) => {
            let text = String::from_utf8_lossy(&o.stdout).into_owned()
                + &String::from_utf8_lossy(&o.stderr);
            !text.contains("Undefined command") && !text.contains("Error")
        }
        Err(_) => false,
    }
}

fn helper_fix(install: &str, i: &Interpreter) -> String {
    let exe = std::fs::canonicalize(&i.executable).unwrap_or(i.executable.clone());
    if exe.starts_with("/usr/") {
        let minor: String = i.version.split('.').take(2).collect::<Vec<_>>().join(".");
        return format!("{install} python{minor}-dbg");
    }
    format!(
        "curl -fsSL https://raw.githubusercontent.com/python/cpython/v{}/Tools/gdb/libpython.py -o {}-gdb.py",
        i.version,
        exe.display()
    )
}

fn ptrace_check() -> Check {
    let scope = std::fs::read_to_string("/proc/sys/kernel/yama/ptrace_scope")
        .ok()
        .map(|s| s.trim().to_string());
    match scope.as_deref() {
        None | Some("0" | "1") => Check {
            name: "ptrace".into(),
            status: Status::Ok,
            detail: match scope {
                Some(s) => {
                    format!("Yama ptrace_scope {s}: refsan can hold a crashed program for gdb")
                }
                None => "no Yama restrictions: refsan can hold a crashed program for gdb".into(),
            },
            fix: None,
        },
        Some(s) => Check {
            name: "ptrace".into(),
            status: Status::Partial,
            detail: format!(
                "Yama ptrace_scope {s}: tracing is restricted, native stacks need root"
            ),
            fix: Some("echo 1 | sudo tee /proc/sys/kernel/yama/ptrace_scope".into()),
        },
    }
}

/// The diagnosis as text.
pub fn render(checks: &[Check]) -> String {
    let mut out = String::new();
    for c in checks {
        let mark = match c.status {
            Status::Ok => "ok     ",
            Status::Partial => "partial",
            Status::Missing => "missing",
        };
        out.push_str(&format!("{mark}  {:<13} {}\n", c.name, c.detail));
        if let Some(fix) = &c.fix {
            out.push_str(&format!("         {:<13} fix: {fix}\n", ""));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_shows_fix_commands() {
        let text = render(&[
            Check {
                name: "gdb".into(),
                status: Status::Missing,
                detail: "gdb not found".into(),
                fix: Some("apt-get install -y gdb".into()),
            },
            Check {
                name: "valgrind".into(),
                status: Status::Ok,
                detail: "valgrind-3.19.0".into(),
                fix: None,
            },
        ]);
        assert!(text.contains("missing  gdb"));
        assert!(text.contains("fix: apt-get install -y gdb"));
        assert!(text.contains("ok       valgrind"));
    }

    #[test]
    fn package_fixes_work_where_pip_is_externally_managed() {
        let pyenv = Interpreter {
            executable: PathBuf::from("/root/.pyenv/versions/3.11.7/bin/python3.11"),
            ..Interpreter::default()
        };
        assert_eq!(
            packages_fix("apt-get install -y", &pyenv),
            "/root/.pyenv/versions/3.11.7/bin/python3.11 -m pip install setuptools cython"
        );
        let only_cython = Interpreter {
            setuptools: Some("66.1".into()),
            ..pyenv.clone()
        };
        assert!(packages_fix("apt-get install -y", &only_cython).ends_with("pip install cython"));
        let debian = Interpreter {
            executable: PathBuf::from("/usr/bin/python3-dbg"),
            externally_managed: true,
            ..Interpreter::default()
        };
        assert_eq!(
            packages_fix("apt-get install -y", &debian),
            "apt-get install -y python3-setuptools cython3"
        );
        let managed_elsewhere = Interpreter {
            executable: PathBuf::from("/opt/py/bin/python3"),
            externally_managed: true,
            ..Interpreter::default()
        };
        let fix = packages_fix("apt-get install -y", &managed_elsewhere);
        assert!(
            fix.starts_with("/opt/py/bin/python3 -m venv .venv"),
            "{fix}"
        );
        assert!(fix.contains("PEP 668"), "{fix}");
    }

    #[test]
    fn helper_fix_for_a_source_build_downloads_libpython() {
        let i = Interpreter {
            executable: PathBuf::from("/opt/py/bin/python3.11"),
            version: "3.11.7".into(),
            ..Interpreter::default()
        };
        let fix = helper_fix("apt-get install -y", &i);
        assert!(fix.contains("v3.11.7/Tools/gdb/libpython.py"));
        assert!(fix.ends_with("/opt/py/bin/python3.11-gdb.py"));
        let deb = Interpreter {
            executable: PathBuf::from("/usr/bin/python3.11"),
            version: "3.11.2".into(),
            ..Interpreter::default()
        };
        assert_eq!(
            helper_fix("apt-get install -y", &deb),
            "apt-get install -y python3.11-dbg"
        );
    }
}
