//! Small readers for /proc/PID: what refsan needs to know about a process it
//! supervises (thread group, threads, state, command line, mapped objects).

use std::path::PathBuf;

/// The thread group (process) a thread belongs to.
pub fn tgid_of(tid: i32) -> Option<i32> {
    status_field(tid, "Tgid:")?.parse().ok()
}

/// The process that traces `pid`, 0 when none.
pub fn tracer_of(pid: i32) -> Option<i32> {
    status_field(pid, "TracerPid:")?.parse().ok()
}

fn status_field(pid: i32, field: &str) -> Option<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(field))
        .map(|v| v.trim().to_string())
}

/// The kernel's one-letter state: 'R' running, 'S' sleeping, 'T' stopped,
/// 't' traced, 'Z' zombie. None once the process is gone.
pub fn state_of(pid: i32) -> Option<char> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may contain anything.
    let after = &text[text.rfind(')')? + 1..];
    after.trim_start().chars().next()
}

/// True while the process exists and is not a zombie.
pub fn is_alive(pid: i32) -> bool {
    matches!(state_of(pid), Some(s) if s != 'Z' && s != 'X')
}

/// The threads of a process.
pub fn threads_of(pid: i32) -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    let mut tids: Vec<i32> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    tids.sort_unstable();
    tids
}

/// A thread's name.
pub fn thread_name(pid: i32, tid: i32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/comm"))
        .ok()
        .map(|s| s.trim_end().to_string())
}

/// The command line, one string per argument.
pub fn command_line(pid: i32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|bytes| {
            bytes
                .split(|b| *b == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The executable.
pub fn executable(pid: i32) -> Option<PathBuf> {
    std::fs::read_link(format!("/proc/{pid}/exe")).ok()
}

/// Files mapped into the process (executable, shared libraries), in order
/// of first appearance.
pub fn mapped_files(pid: i32) -> Vec<PathBuf> {
    let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/maps")) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = Vec::new();
    for line in text.lines() {
        // address perms offset dev inode pathname
        let path = line.split_whitespace().nth(5);
        if let Some(p) = path.filter(|p| p.starts_with('/')) {
            let p = PathBuf::from(p);
            if !files.contains(&p) {
                files.push(p);
            }
        }
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let me = std::process::id() as i32;
        assert_eq!(tgid_of(me), Some(me));
        assert!(is_alive(me));
        assert!(threads_of(me).contains(&me));
        assert!(!command_line(me).is_empty());
        assert!(executable(me).is_some());
        assert!(!mapped_files(me).is_empty());
        assert!(matches!(state_of(me), Some('R' | 'S')));
    }

    #[test]
    fn missing_process() {
        assert_eq!(state_of(i32::MAX), None);
        assert!(!is_alive(i32::MAX));
        assert!(threads_of(i32::MAX).is_empty());
    }
}
