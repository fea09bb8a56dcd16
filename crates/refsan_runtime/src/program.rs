//! What the program to run is: where it lives, whether it is a Python
//! interpreter, whether it ignores PYTHON* variables.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The program as refsan will start it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedProgram {
    /// The file to execute.
    pub path: PathBuf,
    /// Set when `path` came from a pyenv shim: the directory `pyenv exec`
    /// puts first on PATH.
    pub pyenv_bin_dir: Option<PathBuf>,
    /// The program is a Python interpreter (its own arguments can carry -X).
    pub is_python: bool,
    /// `python -I` / `-E` (or a script whose shebang says so): PYTHON*
    /// environment variables are ignored.
    pub ignores_environment: bool,
}

/// Finds `program` on PATH (or as a path) and looks through pyenv shims.
pub fn resolve(program: &OsStr, args: &[OsString]) -> Option<ResolvedProgram> {
    let name = program.to_str()?;
    let found = crate::gdb::which(name)?;
    let (path, pyenv_bin_dir) = match pyenv_shim_target(&found, name) {
        Some(real) => {
            let dir = real.parent().map(Path::to_path_buf);
            (real, dir)
        }
        None => (found, None),
    };
    let is_python = is_python_name(&path) || is_python_name(Path::new(name));
    let ignores_environment = if is_python {
        python_args_ignore_environment(args)
    } else {
        shebang_ignores_environment(&path)
    };
    Some(ResolvedProgram {
        path,
        pyenv_bin_dir,
        is_python,
        ignores_environment,
    })
}

/// "python", "python3", "python3.11", "python3.11d", "python3-dbg",
/// "python3.11-dbg".
pub fn is_python_name(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    let Some(rest) = name.strip_prefix("python") else {
        return false;
    };
    let rest = rest.strip_suffix("-dbg").unwrap_or(rest);
    let rest = rest.strip_suffix('d').unwrap_or(rest);
    rest.chars().all(|c| c.is_ascii_digit() || c == '.')
}

/// True when the interpreter's own options include -I or -E (alone or
/// combined, as in `-IS`), before the script, `-c` or `-m`.
pub fn python_args_ignore_environment(args: &[OsString]) -> bool {
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let bytes = arg.as_bytes();
        if bytes == b"-c" || bytes == b"-m" || bytes == b"-" || !bytes.starts_with(b"-") {
            return false;
        }
        if bytes == b"--" {
            return false;
        }
        if bytes.starts_with(b"--") {
            continue;
        }
        let letters = &bytes[1..];
        for (i, letter) in letters.iter().enumerate() {
            match letter {
                b'I' | b'E' => return true,
                // Options with a value end the cluster; a bare -X/-W takes
                // the next argument.
                b'X' | b'W' | b'c' | b'm' => {
                    if i + 1 == letters.len() && (*letter == b'X' || *letter == b'W') {
                        iter.next();
                    }
                    if *letter == b'c' || *letter == b'm' {
                        return false;
                    }
                    break;
                }
                _ => {}
            }
        }
    }
    false
}

/// A `#!/usr/bin/python3 -I` (or `-E`, `-sE`...) script.
fn shebang_ignores_environment(path: &Path) -> bool {
    let Ok(bytes) = read_head(path, 256) else {
        return false;
    };
    let Some(first) = bytes.split(|b| *b == b'\n').next() else {
        return false;
    };
    let Some(rest) = first.strip_prefix(b"#!") else {
        return false;
    };
    let text = String::from_utf8_lossy(rest);
    let mut words = text.split_whitespace();
    let Some(interp) = words.next() else {
        return false;
    };
    let mut args: Vec<OsString> = words.map(OsString::from).collect();
    let mut interp_path = PathBuf::from(interp);
    if interp_path.file_name().and_then(|n| n.to_str()) == Some("env") {
        // env's own options (-S splits the rest into words) come first.
        while args.first().is_some_and(|a| a.as_bytes().starts_with(b"-")) {
            args.remove(0);
        }
        if args.is_empty() {
            return false;
        }
        interp_path = PathBuf::from(args.remove(0));
    }
    is_python_name(&interp_path) && python_args_ignore_environment(&args)
}

fn read_head(path: &Path, limit: usize) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut buf = Vec::with_capacity(limit);
    std::fs::File::open(path)?
        .take(limit as u64)
        .read_to_end(&mut buf)?;
    Ok(buf)
}

/// pyenv's shims are bash scripts that run `pyenv exec NAME`. Tracing or
/// Valgrind-ing bash and pyenv's helper processes would be slow and
/// pointless, so refsan asks pyenv which interpreter the shim means.
fn pyenv_shim_target(path: &Path, name: &str) -> Option<PathBuf> {
    let head = read_head(path, 4096).ok()?;
    if !head.starts_with(b"#!") {
        return None;
    }
    let text = String::from_utf8_lossy(&head);
    let line = text.lines().find(|l| l.contains("/libexec/pyenv\" exec"))?;
    let pyenv = line.split('"').nth(1)?;
    let command = Path::new(name).file_name()?.to_str()?;
    let output = Command::new(pyenv).args(["which", command]).output().ok()?;
    if !output.status.success() {
        return None;
    }
    let real = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    real.is_file().then_some(real)
}

/// A command line as a POSIX shell reads it back (for the commands the
/// reports tell users to run).
pub fn shell_words(words: &[String]) -> String {
    words
        .iter()
        .map(|w| {
            let plain = !w.is_empty()
                && w.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
            if plain {
                w.clone()
            } else {
                format!("'{}'", w.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_quoted_as_a_shell_reads_them() {
        let words = |w: &[&str]| w.iter().map(ToString::to_string).collect::<Vec<_>>();
        assert_eq!(
            shell_words(&words(&["python3", "-m", "pytest", "tests/x.py::t"])),
            "python3 -m pytest tests/x.py::t"
        );
        assert_eq!(
            shell_words(&words(&["python3", "-c", "import m; m.f('x')"])),
            "python3 -c 'import m; m.f('\\''x'\\'')'"
        );
        assert_eq!(shell_words(&words(&[""])), "''");
    }

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn python_names() {
        for name in [
            "python",
            "python3",
            "python3.11",
            "/usr/bin/python3.11d",
            "python3-dbg",
            "python3.11-dbg",
        ] {
            assert!(is_python_name(Path::new(name)), "{name}");
        }
        for name in [
            "pytest",
            "python-config",
            "bash",
            "python3-config",
            "ipython",
        ] {
            assert!(!is_python_name(Path::new(name)), "{name}");
        }
    }

    #[test]
    fn isolated_and_ignore_environment_flags() {
        assert!(python_args_ignore_environment(&args(&["-I", "x.py"])));
        assert!(python_args_ignore_environment(&args(&["-E", "-c", "pass"])));
        assert!(python_args_ignore_environment(&args(&["-sI", "x.py"])));
        assert!(python_args_ignore_environment(&args(&[
            "-X", "dev", "-I", "x.py"
        ])));
        assert!(!python_args_ignore_environment(&args(&["x.py", "-I"])));
        assert!(!python_args_ignore_environment(&args(&[
            "-c",
            "import sys",
            "-I"
        ])));
        assert!(!python_args_ignore_environment(&args(&["-cI"])));
        assert!(!python_args_ignore_environment(&args(&[
            "-m", "pytest", "-E"
        ])));
        assert!(!python_args_ignore_environment(&args(&[
            "-X",
            "importtime",
            "x.py"
        ])));
    }

    #[test]
    fn shebang_with_isolation() {
        let dir = std::env::temp_dir().join(format!("refsan-shebang-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let script = dir.join("tool");
        std::fs::write(&script, "#!/usr/bin/python3 -I\nprint(1)\n").unwrap();
        assert!(shebang_ignores_environment(&script));
        std::fs::write(&script, "#!/usr/bin/env python3\nprint(1)\n").unwrap();
        assert!(!shebang_ignores_environment(&script));
        std::fs::write(&script, "#!/usr/bin/env -S python3 -E\nprint(1)\n").unwrap();
        assert!(shebang_ignores_environment(&script));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
